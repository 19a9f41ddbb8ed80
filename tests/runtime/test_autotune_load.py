"""fastconv.autotune_load on hostile files: every malformed file is a ValueError (never
TypeError, AttributeError, RecursionError or UnicodeDecodeError), an entry naming an
algorithm that cannot serve its shape is refused at load (naming the entry), loading
is all or nothing, and what autotune_save writes loads back unchanged."""
import json

import numpy as np
import pytest

import fastconv
from fastconv import _C
from fastconv.functional import tuning


@pytest.fixture(autouse=True)
def clean_table():
    before = fastconv.autotune(False)
    fastconv.autotune_clear()
    yield
    fastconv.autotune(before)
    fastconv.autotune_clear()


def _entry(**over):
    e = {"pass": "forward", "x_shape": [2, 16, 10, 11], "w_shape": [16, 16, 3, 3],
         "stride": [1, 1], "pads": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1,
         "isa": _C.get_isa(), "threads": _C.get_num_threads(), "precision": "high",
         "algorithm": "direct", "times": {"direct": 0.001, "im2col": 0.002}}
    e.update(over)
    return e


def _doc(*entries):
    return {"fastconv_autotune": 1, "entries": list(entries)}


def _write(tmp_path, content):
    p = tmp_path / "tune.json"
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif isinstance(content, str):
        p.write_text(content)
    else:
        p.write_text(json.dumps(content))
    return str(p)


def test_good_file_loads(tmp_path):
    assert fastconv.autotune_load(_write(tmp_path, _doc(_entry()))) == 1
    (e,) = fastconv.autotune_table()
    assert e == _entry()


BAD_DOCUMENTS = {
    "top-level list": [1, 2],
    "top-level string": "fastconv_autotune",
    "top-level null": None,
    "version true": {"fastconv_autotune": True, "entries": []},
    "version 1.0": {"fastconv_autotune": 1.0, "entries": []},
    "version 2": {"fastconv_autotune": 2, "entries": []},
    "entries missing": {"fastconv_autotune": 1},
    "entries a dict": {"fastconv_autotune": 1, "entries": {"a": 1}},
    "entries a string": {"fastconv_autotune": 1, "entries": "abc"},
    "entries null": {"fastconv_autotune": 1, "entries": None},
    "entry a list": _doc([1, 2, 3]),
    "entry a string": _doc("forward"),
    "entry an int": _doc(7),
}


@pytest.mark.parametrize("doc", list(BAD_DOCUMENTS.values()), ids=list(BAD_DOCUMENTS))
def test_bad_document_is_value_error(tmp_path, doc):
    with pytest.raises(ValueError, match="autotune_load: "):
        fastconv.autotune_load(_write(tmp_path, doc))


def _without(key):
    e = _entry()
    del e[key]
    return e


BAD_ENTRIES = {
    **{f"{k} missing": _without(k) for k in
       ("pass", "x_shape", "w_shape", "stride", "pads", "dilation", "groups", "isa",
        "threads", "algorithm")},
    "pass an int": _entry(**{"pass": 0}),
    "pass unknown": _entry(**{"pass": "sideways"}),
    "pass a list": _entry(**{"pass": ["forward"]}),
    "x_shape an int": _entry(x_shape=3),
    "x_shape a dict": _entry(x_shape={"a": 1}),
    "x_shape 3 long": _entry(x_shape=[2, 16, 10]),
    "x_shape strings": _entry(x_shape=["2", "16", "10", "11"]),
    "x_shape float": _entry(x_shape=[2.0, 16, 10, 11]),
    "x_shape bool": _entry(x_shape=[True, 16, 10, 11]),
    "x_shape null": _entry(x_shape=[None, 16, 10, 11]),
    "x_shape nested": _entry(x_shape=[[2], 16, 10, 11]),
    "x_shape negative": _entry(x_shape=[2, -16, 10, 11]),
    "x_shape zero": _entry(x_shape=[2, 16, 0, 11]),
    "w_shape channels mismatch": _entry(w_shape=[16, 8, 3, 3]),
    "stride 1.0": _entry(stride=[1.0, 1]),
    "stride 3.5": _entry(stride=[3.5, 1]),
    "stride zero": _entry(stride=[0, 1]),
    "stride an int": _entry(stride=1),
    "stride bool": _entry(stride=[True, True]),
    "pads 2 long": _entry(pads=[1, 1]),
    "pads negative": _entry(pads=[-1, 1, 1, 1]),
    "dilation string": _entry(dilation="11"),
    "groups float": _entry(groups=1.0),
    "groups string": _entry(groups="1"),
    "groups bool": _entry(groups=True),
    "groups zero": _entry(groups=0),
    "groups not dividing": _entry(groups=3),
    "isa an int": _entry(isa=2),
    "isa unknown": _entry(isa="sse9"),
    "threads float": _entry(threads=4.0),
    "threads zero": _entry(threads=0),
    "threads null": _entry(threads=None),
    "threads huge": _entry(threads=10**30),
    "algorithm unknown": _entry(algorithm="fft"),
    "algorithm an int": _entry(algorithm=1),
    "algorithm auto": _entry(algorithm="auto"),
    "algorithm a list": _entry(algorithm=["direct"]),
    "times a list": _entry(times=[0.1]),
    "times value string": _entry(times={"direct": "fast"}),
    "times value bool": _entry(times={"direct": True}),
    "times value negative": _entry(times={"direct": -1.0}),
    "times unknown algorithm": _entry(times={"fft": 0.1}),
    "kernel larger than input": _entry(w_shape=[16, 16, 30, 30]),
    "unknown field": _entry(colour="blue"),
}


@pytest.mark.parametrize("entry", list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES))
def test_bad_entry_is_value_error_naming_it(tmp_path, entry):
    path = _write(tmp_path, _doc(_entry(), entry))
    with pytest.raises(ValueError, match=r"autotune_load: entry 1 of "):
        fastconv.autotune_load(path)
    assert fastconv.autotune_table() == []


@pytest.mark.parametrize("text", [
    '{"fastconv_autotune": NaN, "entries": []}',
    '{"fastconv_autotune": 1, "entries": [], "x": Infinity}',
    '{"fastconv_autotune": 1, "entries": [], "x": -Infinity}',
    '{"fastconv_autotune": 1, "entries": [], "x": 1e999}',
    '{"fastconv_autotune": 1, "fastconv_autotune": 1, "entries": []}',
    '{"fastconv_autotune": 1, "entries": []} trailing',
    '{"fastconv_autotune": 1, "entries": [], "x": ' + "9" * 5000 + "}",
    "",
    "   ",
    "{not json",
], ids=["nan", "inf", "-inf", "overflowing float", "duplicate key", "trailing text",
        "5000-digit int", "empty", "blank", "broken"])
def test_bad_json_text_is_value_error(tmp_path, text):
    with pytest.raises(ValueError, match="autotune_load: "):
        fastconv.autotune_load(_write(tmp_path, text))


def test_nan_and_infinite_times_are_value_error(tmp_path):
    for v in ("NaN", "Infinity", "1e400"):
        text = json.dumps(_doc(_entry())).replace("0.001", v)
        with pytest.raises(ValueError, match="autotune_load: "):
            fastconv.autotune_load(_write(tmp_path, text))


def test_deep_nesting_is_value_error(tmp_path):
    depth = 100000
    for text in ("[" * depth + "]" * depth,
                 '{"fastconv_autotune": 1, "entries": ' + "[" * depth + "]" * depth + "}",
                 '{"a": ' * depth + "1" + "}" * depth):
        with pytest.raises(ValueError, match="autotune_load: "):
            fastconv.autotune_load(_write(tmp_path, text))


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00{",
    b'{"fastconv_autotune": 1, "entries": [], "x": "\xc3\x28"}',
    b"\x80" * 10,
    bytes(range(256)),
], ids=["bom-ish", "bad continuation", "lone continuation", "all bytes"])
def test_invalid_utf8_is_value_error(tmp_path, data):
    with pytest.raises(ValueError, match="autotune_load: .*UTF-8"):
        fastconv.autotune_load(_write(tmp_path, data))


def test_oversized_file_is_value_error(tmp_path):
    p = tmp_path / "huge.json"
    with open(p, "wb") as f:       # sparse: nothing is written but the size
        f.truncate(tuning.MAX_FILE_BYTES + 1)
    with pytest.raises(ValueError, match="autotune_load: .*larger than"):
        fastconv.autotune_load(str(p))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastconv.autotune_load(str(tmp_path / "nope.json"))


@pytest.mark.parametrize("over, why", [
    (dict(algorithm="winograd_f43", w_shape=[16, 16, 5, 5], pads=[2, 2, 2, 2]), "5x5 kernel"),
    (dict(algorithm="winograd_f23", stride=[2, 2]), "stride 2"),
    (dict(algorithm="winograd", stride=[1, 1]), "the alias is no candidate"),
    (dict(algorithm="winograd_f43", dilation=[2, 2], pads=[2, 2, 2, 2]), "dilation 2"),
    (dict(algorithm="winograd_f23", **{"pass": "backward_weights"}), "no winograd weights"),
    (dict(algorithm="depthwise"), "not depthwise"),
    (dict(algorithm="depthwise", x_shape=[2, 1, 10, 11], w_shape=[4, 1, 3, 3]),
     "groups == C == 1"),
])
def test_algorithm_that_cannot_serve_is_refused_at_load(tmp_path, over, why):
    path = _write(tmp_path, _doc(_entry(), _entry(**over)))
    with pytest.raises(ValueError, match=r"autotune_load: entry 1 of .*algorithm"):
        fastconv.autotune_load(path)
    assert fastconv.autotune_table() == []


def test_serving_algorithms_load(tmp_path):
    entries = [
        _entry(algorithm="winograd_f43"),
        _entry(algorithm="winograd_f23", **{"pass": "backward_data"}),
        _entry(algorithm="im2col", **{"pass": "backward_weights"}),
        _entry(algorithm="depthwise", x_shape=[2, 16, 10, 11], w_shape=[32, 1, 5, 5],
               groups=16, pads=[2, 2, 2, 2], stride=[2, 2]),
    ]
    assert fastconv.autotune_load(_write(tmp_path, _doc(*entries))) == 4


def test_duplicate_keys_are_value_error(tmp_path):
    path = _write(tmp_path, _doc(_entry(), _entry(algorithm="im2col")))
    with pytest.raises(ValueError, match="entry 1 of .*entry 0"):
        fastconv.autotune_load(path)


def test_bad_file_leaves_table_untouched(tmp_path, rng):
    good = _write(tmp_path, _doc(_entry()))
    fastconv.autotune_load(good)
    before = fastconv.autotune_table()
    other = _entry(x_shape=[4, 16, 10, 11], algorithm="im2col")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_doc(other, _entry(stride=[1.5, 1]))))
    with pytest.raises(ValueError):
        fastconv.autotune_load(str(bad))
    assert fastconv.autotune_table() == before


def test_loaded_choice_is_used_by_auto(tmp_path, rng, monkeypatch):
    x = rng.standard_normal((2, 16, 10, 11)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    fastconv.autotune_load(_write(tmp_path, _doc(_entry(algorithm="winograd_f23"))))
    fastconv.autotune(True)
    monkeypatch.setattr(tuning, "_time", lambda *a: pytest.fail("timed again"))
    y = fastconv.conv2d(x, w, padding=1)
    np.testing.assert_array_equal(y, fastconv.conv2d(x, w, padding=1, algorithm="winograd_f23"))


def test_save_load_round_trip(tmp_path, rng):
    fastconv.autotune(True)
    x = rng.standard_normal((2, 16, 10, 11)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1)
    fastconv.conv2d_backward(np.ones_like(y), x, w, padding=1)
    xd = rng.standard_normal((1, 8, 9, 9)).astype(np.float32)
    fastconv.conv2d(xd, rng.standard_normal((8, 1, 3, 3)).astype(np.float32), groups=8,
                    stride=2)
    saved = fastconv.autotune_table()
    assert len(saved) == 4
    path = tmp_path / "tune.json"
    fastconv.autotune_save(str(path))
    raw = path.read_bytes()
    raw.decode("ascii")                     # plain ASCII JSON, no NaN or Infinity
    data = json.loads(raw, parse_constant=lambda c: pytest.fail(c))
    assert data["fastconv_autotune"] == 1 and data["entries"] == saved
    fastconv.autotune_clear()
    assert fastconv.autotune_load(str(path)) == 4
    assert fastconv.autotune_table() == saved
    # saving what was loaded writes the same file again
    path2 = tmp_path / "tune2.json"
    fastconv.autotune_save(str(path2))
    assert path2.read_bytes() == raw


def test_empty_table_round_trips(tmp_path):
    path = tmp_path / "empty.json"
    fastconv.autotune_save(str(path))
    assert fastconv.autotune_load(str(path)) == 0
    assert fastconv.autotune_table() == []


def test_file_without_precision_loads_as_high(tmp_path):
    # files written before set_precision existed
    e = _entry()
    del e["precision"]
    assert fastconv.autotune_load(_write(tmp_path, _doc(e))) == 1
    (got,) = fastconv.autotune_table()
    assert got["precision"] == "high"


def test_winograd_under_highest_refused(tmp_path):
    path = _write(tmp_path, _doc(_entry(algorithm="winograd_f43", precision="highest")))
    with pytest.raises(ValueError, match="highest"):
        fastconv.autotune_load(path)
