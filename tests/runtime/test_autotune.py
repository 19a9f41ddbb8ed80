"""fastconv.autotune: choices recorded per key and pass, persisted and reloaded, and
results equal to those of the chosen algorithm."""
import json

import numpy as np
import pytest

import fastconv


@pytest.fixture
def tuner():
    before = fastconv.autotune(True)
    fastconv.autotune_clear()
    yield
    fastconv.autotune(before)
    fastconv.autotune_clear()


def _data(rng, xs=(2, 16, 10, 11), ws=(16, 16, 3, 3)):
    return (rng.standard_normal(xs).astype(np.float32),
            rng.standard_normal(ws).astype(np.float32))


def test_choices_recorded_and_results_match(tuner, rng):
    x, w = _data(rng)
    y = fastconv.conv2d(x, w, padding=1)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = fastconv.conv2d_backward(gy, x, w, padding=1)
    table = {e["pass"]: e for e in fastconv.autotune_table()}
    assert set(table) == {"forward", "backward_data", "backward_weights"}
    for e in table.values():
        assert e["x_shape"] == [2, 16, 10, 11] and e["pads"] == [1, 1, 1, 1]
        assert e["algorithm"] in e["times"]
        assert e["algorithm"] == min(e["times"], key=e["times"].get)
        assert "im2col" not in e["times"] or e["times"]["im2col"] > 0
    # every serving algorithm was timed for the forward pass
    assert {"direct", "winograd_f23", "winograd_f43"} <= set(table["forward"]["times"])
    # Winograd's weight gradient is direct's: no separate candidate
    assert not any(k.startswith("winograd") for k in table["backward_weights"]["times"])
    fwd = table["forward"]["algorithm"]
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, padding=1, algorithm=fwd))
    gx2, _, _ = fastconv.conv2d_backward(gy, x, w, padding=1,
                                         algorithm=table["backward_data"]["algorithm"])
    np.testing.assert_array_equal(gx, gx2)
    assert fastconv.info()["autotune"]["enabled"] is True
    assert len(fastconv.info()["autotune"]["choices"]) == 3


def test_non_winograd_shape_has_no_winograd_candidate(tuner, rng):
    x, w = _data(rng, ws=(4, 16, 5, 5))
    fastconv.conv2d(x, w, stride=2)
    (e,) = fastconv.autotune_table()
    assert "direct" in e["times"]
    assert not any(k.startswith("winograd") for k in e["times"])


def test_recorded_choice_is_reused(tuner, rng, monkeypatch):
    x, w = _data(rng)
    fastconv.conv2d(x, w, padding=1)
    from fastconv.functional import tuning
    monkeypatch.setattr(tuning, "_time", lambda *a: pytest.fail("timed again"))
    fastconv.conv2d(x, w, padding=1)


def test_save_and_load(tuner, rng, tmp_path):
    x, w = _data(rng)
    fastconv.conv2d(x, w, padding=1)
    path = tmp_path / "tune.json"
    fastconv.autotune_save(str(path))
    saved = fastconv.autotune_table()
    # force a known choice through the file, reload, and check it is used
    data = json.loads(path.read_text())
    data["entries"][0]["algorithm"] = "winograd_f23"
    path.write_text(json.dumps(data))
    fastconv.autotune_clear()
    assert fastconv.autotune_table() == []
    assert fastconv.autotune_load(str(path)) == 1
    (e,) = fastconv.autotune_table()
    assert e["algorithm"] == "winograd_f23" and e["times"] == saved[0]["times"]
    np.testing.assert_array_equal(fastconv.conv2d(x, w, padding=1),
                                  fastconv.conv2d(x, w, padding=1, algorithm="winograd_f23"))


def test_load_rejects_bad_files(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        fastconv.autotune_load(str(p))
    p.write_text(json.dumps({"entries": []}))
    with pytest.raises(ValueError, match="not a fastconv autotune file"):
        fastconv.autotune_load(str(p))
    p.write_text(json.dumps({"fastconv_autotune": 1, "entries": [{"pass": "forward"}]}))
    with pytest.raises(ValueError, match="malformed"):
        fastconv.autotune_load(str(p))


def test_disabled_by_default_and_type_checked():
    assert fastconv.autotune_enabled() is False
    with pytest.raises(TypeError, match="enabled must be a bool"):
        fastconv.autotune(1)
