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
