"""fastconv.onnx refuses malformed models and feeds with clear errors: external data
outside the model's directory, graphs that cannot run, empty files, and inputs of the
wrong dtype, rank or shape. Each case is also checked against onnxruntime where it is
installed, in spirit (both refuse, or both accept), not by the text of the message."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
fo = pytest.importorskip("fastconv.onnx")
from onnx import TensorProto, helper  # noqa: E402

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape=None, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def _ort_error(model, feeds=None):
    """onnxruntime's exception on loading model (a path, bytes or ModelProto) and, when
    feeds are given, running it; None when it accepts. Skips without onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.log_severity_level = 4           # the refusals are the point: keep stderr quiet
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    try:
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        if feeds is not None:
            sess.run(None, feeds)
    except Exception as e:              # noqa: BLE001 - any refusal counts
        return e
    return None


# ------------------------------------------------------------------ external data

SECRET = np.arange(4, dtype=np.float32)


def _external(location, offset=None, length=None, name="w"):
    """A float tensor [4] whose data lives in an external file."""
    t = TensorProto(name=name, data_type=F, dims=[4], data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            e = t.external_data.add()
            e.key, e.value = key, str(value)
    return t


def _identity_of_external(location, **kw):
    return _model([helper.make_node("Identity", ["w"], ["y"], name="id")], [],
                  [_vi("y")], [_external(location, **kw)])


def _constant_of_external(location):
    node = helper.make_node("Constant", [], ["y"], name="const",
                            value=_external(location, name="value"))
    return _model([node], [], [_vi("y")])


@pytest.mark.parametrize("build", [_identity_of_external, _constant_of_external],
                         ids=["initializer", "constant"])
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "modelproto"])
def test_external_data_without_a_model_directory_is_refused(tmp_path, monkeypatch,
                                                            build, as_bytes):
    # Today's crafted-model attack: the location resolves against the working
    # directory, and the file's bytes come back as the output.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.bin").write_bytes(SECRET.tobytes())
    model = build("secret.bin")
    blob = model.SerializeToString() if as_bytes else model
    with pytest.raises(ValueError, match="base_dir"):
        fo.InferenceSession(blob)
    if build is _identity_of_external:
        assert _ort_error(model.SerializeToString(), {}) is not None
    # (onnxruntime 1.32 refuses the initializer but reads the Constant's value from the
    # working directory; fastconv refuses both.)


def test_external_data_with_base_dir(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"\0" * 8 + SECRET.tobytes())
    model = _identity_of_external("w.bin", offset=8, length=16)
    (y,) = fo.InferenceSession(model, base_dir=tmp_path).run(None, {})
    np.testing.assert_array_equal(y, SECRET)
    (y,) = fo.InferenceSession(model.SerializeToString(), base_dir=str(tmp_path)).run(None, {})
    np.testing.assert_array_equal(y, SECRET)
    # The caller's ModelProto still describes external data.
    assert model.graph.initializer[0].data_location == TensorProto.EXTERNAL
    (tmp_path / "c.bin").write_bytes(SECRET.tobytes())
    (y,) = fo.InferenceSession(_constant_of_external("c.bin"), base_dir=tmp_path).run(None, {})
    np.testing.assert_array_equal(y, SECRET)


def test_path_loaded_model_reads_external_data_from_its_directory(tmp_path, monkeypatch):
    d = tmp_path / "model"
    d.mkdir()
    (d / "w.bin").write_bytes(SECRET.tobytes())
    onnx.save(_identity_of_external("w.bin"), str(d / "m.onnx"))
    monkeypatch.chdir(tmp_path)                 # not the model's directory
    (y,) = fo.InferenceSession(str(d / "m.onnx")).run(None, {})
    np.testing.assert_array_equal(y, SECRET)
    assert _ort_error(str(d / "m.onnx"), {}) is None


def _escapes(tmp_path):
    """Locations that leave tmp_path/model, where the model lives, for tmp_path/secret.bin."""
    (tmp_path / "secret.bin").write_bytes(SECRET.tobytes())
    d = tmp_path / "model"
    (d / "sub").mkdir(parents=True)
    os.symlink(tmp_path / "secret.bin", d / "link.bin")
    os.symlink(tmp_path, d / "sub" / "up")
    return d, {"absolute": str(tmp_path / "secret.bin"), "dotdot": "../secret.bin",
               "dotdot_inside_first": "sub/../../secret.bin", "symlink": "link.bin",
               "symlinked_dir": "sub/up/secret.bin"}


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "dotdot_inside_first", "symlink",
                                  "symlinked_dir"])
def test_external_data_outside_the_model_directory_is_refused(tmp_path, kind):
    d, locations = _escapes(tmp_path)
    model = _identity_of_external(locations[kind])
    with pytest.raises(ValueError, match="'w'.*outside|outside.*'w'|absolute"):
        fo.InferenceSession(model, base_dir=d)
    onnx.save(model, str(d / "m.onnx"))
    with pytest.raises(ValueError, match="outside|absolute"):
        fo.InferenceSession(str(d / "m.onnx"))
    if kind in ("absolute", "dotdot", "dotdot_inside_first"):
        # onnxruntime checks the location's text; it follows symlinks.
        assert _ort_error(str(d / "m.onnx"), {}) is not None


def test_external_data_inside_via_dotdot_is_allowed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "w.bin").write_bytes(SECRET.tobytes())
    (y,) = fo.InferenceSession(_identity_of_external("sub/../w.bin"), base_dir=tmp_path).run(
        None, {})
    np.testing.assert_array_equal(y, SECRET)


@pytest.mark.parametrize("offset,length,match", [
    (17, None, "offset"), (8, 16, "length"), (-4, None, "offset"), (0, -16, "length"),
    (0, 12, "12 bytes"),
])
def test_external_data_offsets_and_lengths_outside_the_file_are_refused(
        tmp_path, offset, length, match):
    (tmp_path / "w.bin").write_bytes(SECRET.tobytes())          # 16 bytes
    model = _identity_of_external("w.bin", offset=offset, length=length)
    with pytest.raises(ValueError, match=match):
        fo.InferenceSession(model, base_dir=tmp_path)
    onnx.save(model, str(tmp_path / "m.onnx"))
    assert _ort_error(str(tmp_path / "m.onnx"), {}) is not None


def test_external_data_file_missing_or_not_a_file(tmp_path):
    (tmp_path / "dir.bin").mkdir()
    with pytest.raises(ValueError, match="'w'.*nothere.bin"):
        fo.InferenceSession(_identity_of_external("nothere.bin"), base_dir=tmp_path)
    with pytest.raises(ValueError, match="'w'.*dir.bin"):
        fo.InferenceSession(_identity_of_external("dir.bin"), base_dir=tmp_path)


# ------------------------------------------------------------------ graph validation

X = _vi("x", [1, 2, 4, 4])


def _relu(src, dst, name):
    return helper.make_node("Relu", [src], [dst], name=name)


def test_node_input_nothing_produces_is_refused_at_load():
    model = _model([_relu("x", "t", "first"), _relu("nowhere", "y", "second")], [X],
                   [_vi("y")])
    with pytest.raises(ValueError, match=r"'second' \(Relu\).*'nowhere'"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


def test_cycle_is_refused_at_load():
    model = _model([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                    _relu("a", "b", "n2")], [X], [_vi("b")])
    with pytest.raises(ValueError, match=r"cycle.*'n[12]' \((Add|Relu)\)"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


def test_nodes_out_of_topological_order_run_sorted():
    # onnxruntime 1.32 sorts such a graph and runs it; so does fastconv.
    model = _model([helper.make_node("Add", ["t", "x"], ["y"], name="add"),
                    _relu("x", "t", "relu")], [X], [_vi("y")])
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4), dtype=np.float32)
    (y,) = fo.InferenceSession(model).run(None, {"x": x})
    np.testing.assert_array_equal(y, np.maximum(x, 0) + x)
    assert _ort_error(model, {"x": x}) is None


def test_graph_output_nothing_produces_is_refused_at_load():
    model = _model([_relu("x", "t", "r")], [X], [_vi("y")])
    with pytest.raises(ValueError, match="output 'y'"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


def test_tensor_defined_twice_is_refused_at_load():
    model = _model([_relu("x", "y", "a"), _relu("x", "y", "b")], [X], [_vi("y")])
    with pytest.raises(ValueError, match=r"'y'.*'b' \(Relu\)"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


W = helper.make_tensor("w", F, [3, 2, 3, 3], np.zeros(54, np.float32))


@pytest.mark.parametrize("op,inputs,attrs,match", [
    ("Conv", ["x"], {}, "'W'"),
    ("Reshape", ["x"], {}, "'shape'"),
    ("Gemm", ["x"], {}, "'B'"),
    ("BatchNormalization", ["x", "w", "w"], {}, "'input_mean'"),
    ("MaxPool", ["x"], {}, "attribute 'kernel_shape'"),
    ("AveragePool", ["x"], {}, "attribute 'kernel_shape'"),
    ("Concat", ["x", "x"], {}, "attribute 'axis'"),
    ("Conv", ["x", ""], {}, "'W'"),                      # present but empty
    ("Relu", ["x", "x"], {}, "at most 1"),
])
def test_missing_required_input_or_attribute_is_refused_at_load(op, inputs, attrs, match):
    node = helper.make_node(op, inputs, ["y"], name="thenode", **attrs)
    model = _model([node], [X], [_vi("y")], [W])
    with pytest.raises(ValueError, match=rf"'thenode' \({op}\).*{match}"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


def test_constant_without_a_value_is_refused_at_load():
    model = _model([helper.make_node("Constant", [], ["y"], name="c")], [], [_vi("y")])
    with pytest.raises(ValueError, match=r"'c' \(Constant\)"):
        fo.InferenceSession(model)
    assert _ort_error(model) is not None


# ------------------------------------------------------------------ empty models

def test_empty_file_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.onnx.*empty"):
        fo.InferenceSession(str(path))
    with pytest.raises(ValueError, match="empty.onnx.*empty"):
        fo.InferenceSession(path)                       # a pathlib.Path too
    assert _ort_error(str(path)) is not None


def test_empty_bytes_and_a_model_without_a_graph_are_refused():
    with pytest.raises(ValueError, match="empty"):
        fo.InferenceSession(b"")
    with pytest.raises(ValueError, match="no graph"):
        fo.InferenceSession(onnx.ModelProto(ir_version=8))
    assert _ort_error(b"") is not None


def test_file_that_is_not_a_model_is_refused_naming_the_path(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(ValueError, match="junk.onnx"):
        fo.InferenceSession(str(path))
    assert _ort_error(str(path)) is not None


# ------------------------------------------------------------------ feeds at run()

def _relu_model(shape, elem=F):
    return _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [_vi("x", shape, elem)],
                  [_vi("y")])


def test_input_dtype_must_match():
    model = _relu_model([1, 2, 4, 4])
    x = np.zeros((1, 2, 4, 4))                          # float64
    with pytest.raises(TypeError, match="'x'.*float64.*float32"):
        fo.InferenceSession(model).run(None, {"x": x})
    assert "data type" in str(_ort_error(model, {"x": x}))
    model = _relu_model([3], TensorProto.INT64)
    with pytest.raises(TypeError, match="'x'.*int32.*int64"):
        fo.InferenceSession(model).run(None, {"x": np.zeros(3, np.int32)})


def test_input_rank_must_match():
    model = _relu_model([1, 2, 4, 4])
    x = np.zeros((2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="rank.*'x'.*3.*4"):
        fo.InferenceSession(model).run(None, {"x": x})
    assert "rank" in str(_ort_error(model, {"x": x}))


def test_fixed_input_dimensions_must_match():
    model = _relu_model([1, 2, 4, 4])
    x = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="'x'.*dimension 1.*3.*2"):
        fo.InferenceSession(model).run(None, {"x": x})
    assert "dimensions" in str(_ort_error(model, {"x": x}))


def test_symbolic_and_unknown_dimensions_accept_any_size():
    x = np.ones((7, 2, 9, 4), np.float32)
    for shape in (["N", 2, None, 4], None):           # None: no shape at all, any rank
        model = _relu_model(shape)
        (y,) = fo.InferenceSession(model).run(None, {"x": x})
        np.testing.assert_array_equal(y, x)
        assert _ort_error(model, {"x": x}) is None


def test_unknown_and_missing_feeds_are_refused():
    model = _relu_model([1, 2, 4, 4])
    x = np.zeros((1, 2, 4, 4), np.float32)
    sess = fo.InferenceSession(model)
    with pytest.raises(ValueError, match="input name 'zz'.*'x'"):
        sess.run(None, {"x": x, "zz": x})
    assert "input name" in str(_ort_error(model, {"x": x, "zz": x}))
    with pytest.raises(ValueError, match="missing.*'x'"):
        sess.run(None, {})
    assert _ort_error(model, {}) is not None
    with pytest.raises(ValueError, match="output name 'nope'.*'y'"):
        sess.run(["nope"], {"x": x})


def test_feeding_an_initializer_that_is_also_a_graph_input_is_allowed():
    # IR >= 4: an initializer listed among the inputs is a default the caller may override.
    b = helper.make_tensor("b", F, [1], [1.0])
    model = _model([helper.make_node("Add", ["x", "b"], ["y"], name="add")],
                   [_vi("x", [2]), _vi("b", [1])], [_vi("y")], [b])
    sess = fo.InferenceSession(model)
    x = np.zeros(2, np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], [1, 1])
    np.testing.assert_array_equal(sess.run(None, {"x": x, "b": np.full(1, 5, np.float32)})[0],
                                  [5, 5])
    with pytest.raises(TypeError, match="'b'"):
        sess.run(None, {"x": x, "b": np.ones(1)})
