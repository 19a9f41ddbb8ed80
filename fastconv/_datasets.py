"""Datasets for fastconv.data.DataLoader: arrays (torch's TensorDataset) and a folder of
images with one subfolder per class (torchvision's ImageFolder)."""
import os

import numpy as np

__all__ = ["ArrayDataset", "ImageFolder", "IMG_EXTENSIONS"]


class ArrayDataset:
    """Samples of several arrays of equal length, indexed together: item i is
    `tuple(a[i] for a in arrays)`, as torch.utils.data.TensorDataset. NumPy arrays, or
    anything np.asarray takes (lists, CPU torch tensors), kept without a copy where
    possible."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"ArrayDataset: array {i} is a scalar, not a sequence of "
                                 f"samples")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"ArrayDataset: arrays must have the same length (first "
                             f"dimension), got {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def _batch(self, indices):
        # What default_collate makes of the samples at `indices`, in one fancy index per
        # array instead of a Python loop over samples (the DataLoader's fast path).
        return tuple(a[indices] for a in self.arrays)


IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("fastconv.data.ImageFolder reads images with Pillow, which is not "
                          "installed: pip install Pillow (or 'fastconv[data]')") from None
    return Image


def to_array(image):
    """A Pillow image as a float32 (C, H, W) array in [0, 1] (torchvision's ToTensor)."""
    a = np.asarray(image, dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = a[:, :, None]
    return np.ascontiguousarray(a.transpose(2, 0, 1))


class ImageFolder:
    """Images in `root/<class name>/**/<file>` as (image, class index) samples, in the
    layout and order of torchvision.datasets.ImageFolder: class names are the
    subfolders' names sorted, `classes[i]` the name of class i, `class_to_idx` the
    inverse; samples sorted by class then path; files with an extension in
    IMG_EXTENSIONS (any case).

    Each image is opened with Pillow and converted to RGB (`mode="L"` for grayscale).
    `transform(pil_image)` may then resize or crop it; a Pillow image (the default with
    no transform, or what the transform returns) becomes a float32 (C, H, W) array in
    [0, 1], as torchvision's ToTensor; anything else the transform returns is kept as
    it is. `target_transform(index)` maps the class index."""

    def __init__(self, root, transform=None, target_transform=None, mode="RGB"):
        self._image = _pillow()
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"ImageFolder: {root!r} is not a directory")
        self.root = root
        self.transform = transform
        self.target_transform = target_transform
        self.mode = mode
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: no class folders in {root!r} (expected "
                                    f"one subfolder of images per class)")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            found = []
            for dirpath, _, files in os.walk(os.path.join(root, c), followlinks=True):
                found += [os.path.join(dirpath, f) for f in files
                          if f.lower().endswith(IMG_EXTENSIONS)]
            self.samples += [(p, self.class_to_idx[c]) for p in sorted(found)]
        if not self.samples:
            raise FileNotFoundError(f"ImageFolder: no images ({', '.join(IMG_EXTENSIONS)}) "
                                    f"under {root!r}")
        self.targets = [t for _, t in self.samples]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        with open(path, "rb") as f:
            img = self._image.open(f).convert(self.mode)
        if self.transform is not None:
            img = self.transform(img)
        if isinstance(img, self._image.Image):
            img = to_array(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __getstate__(self):
        # The Pillow module is not picklable: spawn/forkserver workers import it again.
        state = dict(self.__dict__)
        del state["_image"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._image = _pillow()
