import numpy as np
import pytest

import fastconv as fc

from ._cases import SHAPES


def _keep(mask, n):
    return np.unpackbits(mask, bitorder="little")[:n].astype(bool)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1.0])
def test_dropout_forward(isa, rng, shape, p):
    x = rng.standard_normal(shape).astype(np.float32)
    y, mask = fc.dropout(x, p, seed=42)
    assert y.shape == x.shape and mask.dtype == np.uint8 and mask.shape == ((x.size + 7) // 8,)
    keep = _keep(mask, x.size).reshape(shape)
    assert not np.unpackbits(mask, bitorder="little")[x.size:].any()
    scale = np.float32(0) if p == 1 else np.float32(1) / np.float32(1 - p)
    np.testing.assert_array_equal(y, x * np.where(keep, scale, np.float32(0)))
    if x.size > 100000:
        assert abs(keep.mean() - (1 - p)) < 0.01
    torch = pytest.importorskip("torch")
    # torch's scaling of the same mask: x * (mask / (1 - p))
    if p < 1:
        noise = torch.from_numpy(keep.astype(np.float32)).div_(1 - p)
        np.testing.assert_array_equal(y, (torch.from_numpy(x) * noise).numpy())
    # the same statistics as torch
    if x.size > 100000:
        kt = (torch.nn.functional.dropout(torch.ones(x.size), p) != 0).float().mean().item()
        assert abs(kt - keep.mean()) < 0.01


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_backward(isa, rng, shape, p):
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    y, mask = fc.dropout(x, p, seed=7)
    gx = fc.dropout_backward(g, mask, p)
    keep = _keep(mask, x.size).reshape(shape)
    scale = np.float32(0) if p == 1 else np.float32(1) / np.float32(1 - p)
    np.testing.assert_array_equal(gx, g * np.where(keep, scale, np.float32(0)))
    torch = pytest.importorskip("torch")
    if p < 1:
        xt = torch.from_numpy(x).requires_grad_(True)
        noise = torch.from_numpy(keep.astype(np.float32)).div_(1 - p)
        (xt * noise).backward(torch.from_numpy(g))
        np.testing.assert_array_equal(gx, xt.grad.numpy())


def test_dropout_mask_independent_of_threads_isa_and_seeded(rng):
    x = rng.standard_normal(200003).astype(np.float32)
    before_t, before_i = fc.get_num_threads(), fc.get_isa()
    results = []
    try:
        for isa in fc.available_isas():
            fc.set_isa(isa)
            for t in (1, 2):
                fc.set_num_threads(t)
                results.append(fc.dropout(x, 0.5, seed=3))
    finally:
        fc.set_num_threads(before_t)
        fc.set_isa(before_i)
    for y, m in results[1:]:
        np.testing.assert_array_equal(m, results[0][1])
        np.testing.assert_array_equal(y, results[0][0])
    assert (fc.dropout(x, 0.5, seed=4)[1] != results[0][1]).mean() > 0.4
    # neighbouring elements and bits are uncorrelated
    k = _keep(results[0][1], x.size).astype(np.float64)
    assert abs(np.corrcoef(k[:-1], k[1:])[0, 1]) < 0.01


def test_dropout_eval_is_identity(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y, mask = fc.dropout(x, 0.5, seed=1, training=False)
    assert mask is None
    np.testing.assert_array_equal(y, x)
