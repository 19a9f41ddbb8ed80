"""fastconv.data: resizing, batches, augmentation transforms, and the digits loader
(when scikit-learn is installed)."""
import numpy as np
import pytest

from fastconv import data


def test_resize_matches_torch_bilinear(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    ref = torch.nn.functional.interpolate(torch.tensor(x), size=(32, 32), mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(data.resize(x, 32), ref, atol=1e-5)


def test_resize_constant_and_errors():
    x = np.full((1, 2, 5, 7), 3.0, np.float32)
    np.testing.assert_allclose(data.resize(x, (9, 4)), 3.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        data.resize(np.zeros((5, 5)), 4)


def test_batches_cover_the_epoch_once():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10)
    seen = []
    for xb, yb in data.batches(x, y, 4, rng=0):
        assert len(xb) <= 4 and xb.dtype == np.float32
        np.testing.assert_array_equal(xb.ravel(), yb)      # pairs stay together
        seen += list(yb)
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    assert [len(b) for b, _ in data.batches(x, y, 4, shuffle=False, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="samples"):
        next(data.batches(x, y[:3], 2))


def test_shift_moves_a_pixel():
    x = np.zeros((1, 1, 9, 9), np.float32)
    x[0, 0, 4, 4] = 1.0
    y = data.RandomShift(2)(x, np.random.default_rng(5))
    r, c = np.argwhere(y[0, 0] == 1.0)[0]
    assert abs(r - 4) <= 2 and abs(c - 4) <= 2 and y.sum() == 1.0


def test_affine_identity_and_quarter_turn():
    x = np.random.default_rng(0).random((2, 1, 5, 5)).astype(np.float32)
    eye = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (2, 1, 1))
    np.testing.assert_allclose(data.affine(x, eye), x, atol=1e-6)
    # output (col, row) samples input (col, row) = (-row, col): a counterclockwise turn
    quarter = np.tile(np.array([[0, -1, 0], [1, 0, 0]], np.float32), (2, 1, 1))
    np.testing.assert_allclose(data.affine(x, quarter), np.rot90(x, 1, axes=(2, 3)), atol=1e-5)


def test_rotation_zoom_flip_compose():
    rng = np.random.default_rng(1)
    x = rng.random((4, 1, 12, 12)).astype(np.float32)
    t = data.Compose([data.RandomRotation(10), data.RandomZoom(0.9, 1.1),
                      data.RandomShift(1), data.RandomHorizontalFlip(1.0)])
    y = t(x, rng)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    np.testing.assert_array_equal(data.RandomHorizontalFlip(1.0)(x, rng), x[..., ::-1])
    np.testing.assert_array_equal(data.RandomHorizontalFlip(0.0)(x, rng), x)
    small = data.RandomAffine(degrees=0, zoom=(1, 1), shift=0)(x, rng)
    np.testing.assert_allclose(small, x, atol=1e-6)


def test_load_digits():
    pytest.importorskip("sklearn")
    (xtr, ytr), (xte, yte) = data.load_digits()
    assert xtr.shape[1:] == (1, 32, 32) and xtr.dtype == np.float32
    assert len(xtr) + len(xte) == 1797 and set(ytr) == set(range(10))
    assert abs(xtr.mean()) < 1e-3

