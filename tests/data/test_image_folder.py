"""fastconv.data.ImageFolder: torchvision's folder layout, class order and sample order,
pixels as written, transforms, and a clear error without Pillow."""
import builtins
import os

import numpy as np
import pytest

from fastconv.data import DataLoader, ImageFolder

Image = pytest.importorskip("PIL.Image")


def _tree(root, rng):
    """root/<class>/... PNGs (lossless) with known pixels; returns {path: pixels}."""
    files = {"zebra/b.png": (5, 7), "zebra/a.PNG": (5, 7), "ant/x/deep.png": (5, 7),
             "ant/c.png": (5, 7), "Bee/only.bmp": (5, 7)}
    pixels = {}
    for rel, (h, w) in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(a).save(path)
        pixels[path] = a
    os.makedirs(os.path.join(root, "empty_class"))
    with open(os.path.join(root, "ant", "notes.txt"), "w") as f:
        f.write("not an image")
    return pixels


def test_layout_order_and_pixels(tmp_path, rng):
    pixels = _tree(str(tmp_path), rng)
    ds = ImageFolder(tmp_path)
    # sorted by name (uppercase first, as torchvision's sorted()); an empty folder is a class
    assert ds.classes == ["Bee", "ant", "empty_class", "zebra"]
    assert ds.class_to_idx == {"Bee": 0, "ant": 1, "empty_class": 2, "zebra": 3}
    rel = [(os.path.relpath(p, tmp_path), t) for p, t in ds.samples]
    assert rel == [("Bee/only.bmp", 0), ("ant/c.png", 1), ("ant/x/deep.png", 1),
                   ("zebra/a.PNG", 3), ("zebra/b.png", 3)]
    assert ds.targets == [0, 1, 1, 3, 3] and len(ds) == 5
    for i, (path, target) in enumerate(ds.samples):
        img, t = ds[i]
        assert t == target and img.dtype == np.float32 and img.shape == (3, 5, 7)
        np.testing.assert_allclose(img, pixels[path].transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_transforms_grayscale_and_loader(tmp_path, rng):
    _tree(str(tmp_path), rng)
    ds = ImageFolder(tmp_path, transform=lambda im: im.resize((4, 3)),
                     target_transform=lambda t: t * 10)
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 3, 3, 4) and y.tolist() == [0, 10, 10, 30, 30]
    gray = ImageFolder(tmp_path, mode="L")
    assert gray[0][0].shape == (1, 5, 7)
    arr = ImageFolder(tmp_path, transform=lambda im: np.asarray(im)[0, 0])
    assert arr[0][0].shape == (3,)                    # a non-image result is kept as it is


def test_workers_read_images(tmp_path, rng):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    _tree(str(tmp_path), rng)
    ds = ImageFolder(tmp_path)
    want = [b[0] for b in DataLoader(ds, batch_size=2)]
    got = [b[0] for b in DataLoader(ds, batch_size=2, num_workers=2)]
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageFolder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no class folders"):
        ImageFolder(tmp_path)
    os.makedirs(tmp_path / "cls")
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolder(tmp_path)


def test_without_pillow_the_error_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match="pip install Pillow"):
        ImageFolder(tmp_path)
