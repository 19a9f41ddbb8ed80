"""fastconv.onnx on the inference plan: torch twins exported to ONNX run planned
(Conv+BatchNormalization folded, Add and Relu fused) and agree with onnxruntime and
with the node-by-node interpreter; get_inputs / get_outputs as onnxruntime's."""
import io
import warnings

import numpy as np
import pytest
from reference import rel_err
from torch_batchnorm import randomize_bn
from torch_twins_loader import load_torch_twins

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
fo = pytest.importorskip("fastconv.onnx")


def _export(model, x, dynamic=True, **kw):
    f = io.BytesIO()
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.from_numpy(x),), f, dynamo=False,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes=axes, **kw)
    return f.getvalue()


NETS = {
    "lenet5": (lambda t: t.LeNet5(), (1, 32, 32)),
    "alexnet": (lambda t: t.AlexNet(num_classes=10), (3, 227, 227)),   # 6x6 at the pool
    "resnet18": (lambda t: t.resnet(18, 10), (3, 40, 40)),
    "resnet50": (lambda t: t.resnet(50, 10), (3, 32, 32)),
}


@pytest.mark.parametrize("name,folding", [("lenet5", True), ("alexnet", True),
                                          ("resnet18", True), ("resnet18", False),
                                          ("resnet50", False)])
def test_planned_session_matches_onnxruntime(name, folding):
    ort = pytest.importorskip("onnxruntime")
    make, shape = NETS[name]
    torch.manual_seed(0)
    model = randomize_bn(make(load_torch_twins()), 1).eval()
    x = np.random.default_rng(0).standard_normal((2,) + shape).astype(np.float32)
    # do_constant_folding=False keeps BatchNormalization nodes for the plan to fold
    blob = _export(model, x, do_constant_folding=folding)
    sess = fo.InferenceSession(blob)
    assert sess.planned
    steps = [s.op for s in sess._plan.steps()]
    assert "affine" not in steps and "add" not in steps
    ref = ort.InferenceSession(blob, providers=["CPUExecutionProvider"]).run(
        None, {"input": x})[0]
    for batch in (1, 2):
        (y,) = sess.run(None, {"input": x[:batch]})
        assert y.dtype == np.float32 and y.shape == ref[:batch].shape
        assert rel_err(y, ref[:batch]) <= 1e-4
    with torch.no_grad():
        t = model.double()(torch.tensor(x, dtype=torch.float64)).numpy()
    assert rel_err(sess.run(None, {"input": x})[0], t) <= 1e-4


def test_planned_equals_interpreted():
    make, shape = NETS["resnet18"]
    model = randomize_bn(make(load_torch_twins()), 2).eval()
    x = np.random.default_rng(1).standard_normal((1,) + shape).astype(np.float32)
    blob = _export(model, x, do_constant_folding=False)
    planned = fo.InferenceSession(blob)
    interpreted = fo.InferenceSession(blob)
    interpreted._plan = None
    assert not interpreted.planned
    assert rel_err(planned.run(None, {"input": x})[0],
                   interpreted.run(None, {"input": x})[0]) <= 1e-5


def test_unplannable_graph_is_interpreted():
    """A graph with an op outside the plan (Softmax) still runs, node by node."""
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(),
                                torch.nn.Softmax(dim=1)).eval()
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    sess = fo.InferenceSession(_export(model, x))
    assert not sess.planned
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert rel_err(sess.run(None, {"input": x})[0], ref) <= 1e-5


def test_feeds_are_still_checked_when_planned():
    make, shape = NETS["lenet5"]
    x = np.zeros((1,) + shape, np.float32)
    sess = fo.InferenceSession(_export(make(load_torch_twins()).eval(), x))
    assert sess.planned
    with pytest.raises(TypeError, match="dtype"):
        sess.run(None, {"input": x.astype(np.float64)})
    with pytest.raises(ValueError, match="dimension"):
        sess.run(None, {"input": np.zeros((1, 1, 31, 32), np.float32)})


@pytest.mark.parametrize("dynamic", [True, False])
def test_get_inputs_outputs_as_onnxruntime(dynamic):
    ort = pytest.importorskip("onnxruntime")
    make, shape = NETS["lenet5"]
    x = np.zeros((1,) + shape, np.float32)
    blob = _export(make(load_torch_twins()).eval(), x, dynamic=dynamic)
    ours = fo.InferenceSession(blob)
    theirs = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    for a, b in ((ours.get_inputs(), theirs.get_inputs()),
                 (ours.get_outputs(), theirs.get_outputs())):
        assert [(n.name, n.shape, n.type) for n in a] == [(n.name, n.shape, n.type) for n in b]
    assert ours.get_inputs()[0].type == "tensor(float)"


def test_tanh_planned_and_interpreted():
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Tanh", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4, 5])])
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32) * 3
    sess = fo.InferenceSession(helper.make_model(g))
    assert sess.planned
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], np.tanh(x), rtol=1e-6, atol=1e-6)
    sess._plan = None
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], np.tanh(x), rtol=1e-6, atol=1e-6)
