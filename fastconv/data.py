"""Small real data for training demos, a batch iterator and data augmentation.

`load_digits()` returns the UCI handwritten digits that ship inside scikit-learn
(1,797 real 8x8 scans, no download; the optional extra `pip install fastconv[data]`),
upsampled to 32x32 for LeNet-5. The transforms are the lecture's augmentation (random
shifts, small rotations, zoom, horizontal flip where it makes sense), each a callable
`t(images, rng) -> images` on (N, C, H, W) float32 batches, composable with Compose.

`DataLoader` batches any dataset (`ArrayDataset(*arrays)` over arrays, `ImageFolder` over
a folder of images, or anything with `__len__` and `__getitem__`) as torch's does, with
optional worker processes (fastconv/_loader.py holds the loader, fastconv/_datasets.py
the datasets).
"""
import numpy as np

from fastconv._datasets import IMG_EXTENSIONS, ArrayDataset, ImageFolder, to_array
from fastconv._loader import DataLoader, default_collate, get_worker_info
from fastconv.functional._args import as_float32

__all__ = ["load_digits", "resize", "batches", "Compose", "RandomShift", "RandomRotation",
           "RandomZoom", "RandomHorizontalFlip", "RandomAffine", "affine",
           "ArrayDataset", "ImageFolder", "IMG_EXTENSIONS", "to_array", "DataLoader", "default_collate",
           "get_worker_info"]


def _linear_weights(size_in, size_out):
    """(size_out, size_in) matrix of bilinear resizing (half-pixel centres, as
    torch.nn.functional.interpolate(mode="bilinear", align_corners=False))."""
    scale = size_in / size_out
    src = np.maximum((np.arange(size_out) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(int), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    w1 = src - i0
    m = np.zeros((size_out, size_in))
    np.add.at(m, (np.arange(size_out), i0), 1.0 - w1)
    np.add.at(m, (np.arange(size_out), i1), w1)
    return m


def resize(images, size):
    """Bilinear resize of (N, C, H, W) images to (N, C, size, size) (or size=(h, w))."""
    x = as_float32(images, "images", "resize")
    if x.ndim != 4:
        raise ValueError(f"resize: expected images of shape (N, C, H, W), got {x.shape}")
    oh, ow = (size, size) if np.isscalar(size) else size
    mh = _linear_weights(x.shape[2], oh).astype(np.float32)
    mw = _linear_weights(x.shape[3], ow).astype(np.float32)
    return np.ascontiguousarray(np.einsum("ph,nchw,qw->ncpq", mh, x, mw, optimize=True))


def load_digits(size=32, test_fraction=0.25, seed=0):
    """The scikit-learn digits as ((x_train, y_train), (x_test, y_test)): x float32
    (N, 1, size, size) scaled to [0, 1] then standardized with the training set's mean
    and standard deviation, y int64 in 0..9; a stratified-by-shuffle split."""
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:
        raise ImportError("fastconv.data.load_digits needs scikit-learn, which ships the "
                          "digits: pip install 'fastconv[data]' (or scikit-learn)") from None
    d = _sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    y = d.target.astype(np.int64)
    if size != 8:
        x = resize(x, size)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return (x[train], y[train]), (x[test], y[test])


def batches(x, y, batch_size, shuffle=True, rng=None, transform=None, drop_last=False):
    """Yields (x_batch, y_batch) over the data once (an epoch), shuffled by rng
    (a numpy Generator or a seed), each x batch passed through transform(x, rng)."""
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"batches: x has {len(x)} samples, y has {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(rng)
    order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
    stop = len(x) - (len(x) % batch_size if drop_last else 0)
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        xb = as_float32(x[idx], "x", "batches")
        if transform is not None:
            xb = transform(xb, rng)
        yield xb, y[idx]


def affine(images, matrices, fill=None):
    """Resamples each image through its 2x3 matrix, which maps output pixel coordinates
    (col, row, 1), relative to the image centre, to input coordinates; bilinear, pixels
    outside filled with `fill` (default: each image's minimum, the background)."""
    x = as_float32(images, "images", "affine")
    N, C, H, W = x.shape
    A = np.asarray(matrices, dtype=np.float32).reshape(N, 2, 3)
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float32)
    pts = np.stack([cols.ravel() - cx, rows.ravel() - cy, np.ones(H * W, np.float32)])
    src = A @ pts                                   # (N, 2, H*W)
    sx, sy = src[:, 0] + cx, src[:, 1] + cy
    x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
    wx, wy = sx - x0, sy - y0
    bg = x.reshape(N, C, -1).min(axis=2) if fill is None else np.full((N, C), fill, np.float32)
    out = np.zeros((N, C, H * W), np.float32)
    n = np.arange(N)[:, None]
    for dy, dx, w in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                      (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        vals = x[n, :, np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)]   # (N, HW, C)
        vals = np.where(inside[..., None], vals, bg[:, None, :])
        out += np.moveaxis(vals, 2, 1) * w[:, None, :]
    return out.reshape(N, C, H, W)


class RandomAffine:
    """Random rotation (degrees, +-), zoom (scale range) and shift (pixels, +-) in one
    resampling."""

    def __init__(self, degrees=0.0, zoom=(1.0, 1.0), shift=0.0):
        self.degrees = float(degrees)
        self.zoom = (float(zoom[0]), float(zoom[1]))
        self.shift = float(shift)

    def __call__(self, images, rng):
        N = len(images)
        rng = np.random.default_rng(rng)
        theta = np.deg2rad(rng.uniform(-self.degrees, self.degrees, N))
        s = rng.uniform(*self.zoom, N)
        t = rng.uniform(-self.shift, self.shift, (N, 2))
        c, sn = np.cos(theta) / s, np.sin(theta) / s    # inverse map: output -> input
        L = np.stack([np.stack([c, sn], 1), np.stack([-sn, c], 1)], 1)   # (N, 2, 2)
        A = np.concatenate([L, -np.einsum("nij,nj->ni", L, t)[:, :, None]], axis=2)
        return affine(images, A)


class RandomShift:
    """Shifts each image by up to `pixels` whole pixels in each direction, repeating
    the border."""

    def __init__(self, pixels):
        self.pixels = int(pixels)

    def __call__(self, images, rng):
        x = as_float32(images, "images", "RandomShift")
        rng = np.random.default_rng(rng)
        p = self.pixels
        out = np.empty_like(x)
        H, W = x.shape[2:]
        for i, (dy, dx) in enumerate(rng.integers(-p, p + 1, (len(x), 2))):
            padded = np.pad(x[i], ((0, 0), (p, p), (p, p)), mode="edge")
            out[i] = padded[:, p - dy:p - dy + H, p - dx:p - dx + W]
        return out


class RandomRotation(RandomAffine):
    def __init__(self, degrees):
        super().__init__(degrees=degrees)


class RandomZoom(RandomAffine):
    def __init__(self, low=0.9, high=1.1):
        super().__init__(zoom=(low, high))


class RandomHorizontalFlip:
    """Mirrors each image left-right with probability p (not for digits: a mirrored 2
    is no 2)."""

    def __init__(self, p=0.5):
        self.p = float(p)

    def __call__(self, images, rng):
        x = np.array(images, dtype=np.float32, copy=True)
        flip = np.random.default_rng(rng).random(len(x)) < self.p
        x[flip] = x[flip][..., ::-1]
        return x


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images, rng):
        for t in self.transforms:
            images = t(images, rng)
        return images
