"""fastconv.set_precision / get_precision (C: fc_set_precision / fc_get_precision):
"high" (the default) lets algorithm="auto" pick Winograd, "highest" keeps "auto" and
the autotuner off it; an explicit Winograd algorithm runs either way."""
import json

import numpy as np
import pytest

import fastconv
from fastconv import _C

# ResNet-18 layer 1 at batch 16: "auto" picks F(4x4) by default
XS, WS, PADS = (16, 64, 56, 56), (64, 64, 3, 3), (1, 1, 1, 1)


def _select(pass_, xs=XS, ws=WS, pads=PADS):
    return _C.conv2d_select_algorithm(xs, ws[0], ws[2], ws[3], (1, 1), pads, (1, 1), 1, pass_)


@pytest.fixture
def restore_precision():
    before = fastconv.get_precision()
    yield
    fastconv.set_precision(before)


def test_default_is_high():
    assert fastconv.get_precision() == "high"
    assert fastconv.info(measure=False)["precision"] == "high"


def test_highest_keeps_auto_off_winograd(restore_precision):
    assert _select(0) == "winograd_f43"
    assert _select(1, xs=(16, 256, 14, 14), ws=(256, 256, 3, 3)) == "winograd_f23"
    fastconv.set_precision("highest")
    assert fastconv.get_precision() == "highest"
    assert fastconv.info(measure=False)["precision"] == "highest"
    for pass_ in (0, 1, 2):
        assert not _select(pass_).startswith("winograd")
        assert not _select(pass_, xs=(16, 256, 14, 14), ws=(256, 256, 3, 3)).startswith("winograd")
    # the rest of the choice is unchanged
    assert _select(0, xs=(1, 16, 10, 10), ws=(4, 16, 5, 5)) == "direct"
    fastconv.set_precision("high")
    assert _select(0) == "winograd_f43"


def test_results_follow_the_setting(restore_precision, rng):
    # small enough to be quick, large enough that "auto" picks F(4x4) under "high"
    xs, ws = (2, 16, 56, 56), (16, 16, 3, 3)
    assert _select(0, xs, ws) == "winograd_f43"
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    y_wino = fastconv.conv2d(x, w, padding=1, algorithm="winograd_f43")
    y_im2col = fastconv.conv2d(x, w, padding=1, algorithm="im2col")
    assert not np.array_equal(y_wino, y_im2col)
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=1), y_wino)
    fastconv.set_precision("highest")
    assert _select(0, xs, ws) == "im2col"
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=1), y_im2col)
    # an explicit Winograd algorithm still runs Winograd
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=1, algorithm="winograd_f43"),
                                  y_wino)


def test_autotune_times_no_winograd_under_highest(restore_precision, rng, tmp_path):
    before = fastconv.autotune(True)
    fastconv.autotune_clear()
    try:
        x = rng.standard_normal((2, 16, 10, 11)).astype(np.float32)
        w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
        fastconv.set_precision("highest")
        fastconv.conv2d(x, w, padding=1)
        (e,) = fastconv.autotune_table()
        assert e["precision"] == "highest"
        assert "direct" in e["times"] and not any(k.startswith("winograd") for k in e["times"])
        # a choice made under "high" is kept apart from it
        fastconv.set_precision("high")
        fastconv.conv2d(x, w, padding=1)
        table = {t["precision"]: t for t in fastconv.autotune_table()}
        assert set(table) == {"highest", "high"}
        assert "winograd_f43" in table["high"]["times"]
        # saved and loaded with the setting; older files without it load as "high"
        path = tmp_path / "tune.json"
        fastconv.autotune_save(str(path))
        fastconv.autotune_clear()
        assert fastconv.autotune_load(str(path)) == 2
        data = json.loads(path.read_text())
        for ent in data["entries"]:
            del ent["precision"]
        data["entries"] = [ent for ent in data["entries"] if "winograd_f43" in ent["times"]]
        path.write_text(json.dumps(data))
        fastconv.autotune_clear()
        assert fastconv.autotune_load(str(path)) == 1
        assert fastconv.autotune_table()[0]["precision"] == "high"
        # a Winograd choice recorded under "highest" is refused
        data["entries"][0].update(precision="highest", algorithm="winograd_f43")
        path.write_text(json.dumps(data))
        with pytest.raises(ValueError, match="precision 'highest'"):
            fastconv.autotune_load(str(path))
    finally:
        fastconv.autotune(before)
        fastconv.autotune_clear()


@pytest.mark.parametrize("bad", ["Highest", "medium", "", "high "])
def test_bad_values_raise_value_error(restore_precision, bad):
    fastconv.set_precision("highest")
    with pytest.raises(ValueError, match=r"set_precision: precision must be one of"):
        fastconv.set_precision(bad)
    assert fastconv.get_precision() == "highest"


@pytest.mark.parametrize("bad", [None, 1, 0, b"high", ["high"]])
def test_bad_types_raise_type_error(bad):
    with pytest.raises(TypeError, match=r"set_precision: precision must be a str"):
        fastconv.set_precision(bad)
    assert fastconv.get_precision() == "high"


def test_crossing_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown precision"):
        _C.set_precision("fast")
