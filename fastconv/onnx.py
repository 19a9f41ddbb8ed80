"""Run ONNX CNN graphs on fastconv's kernels (inference).

    import fastconv.onnx
    sess = fastconv.onnx.InferenceSession("resnet18.onnx")   # path, bytes or ModelProto
    (logits,) = sess.run(None, {"input": x})                 # onnxruntime's calling style

Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (1-D
and 2-D, with ONNX's auto_pad, asymmetric pads, ceil_mode, count_include_pad,
dilations and group) and Gemm/MatMul run on fastconv's C kernels; Relu,
BatchNormalization (inference), Flatten, Reshape, Add, Concat, Softmax and a few
glue ops (Constant, Identity, Dropout, Shape, Gather, Unsqueeze, Squeeze, Mul, Sub,
Div, Sigmoid, Tanh, Clip, Transpose) in NumPy. Anything else raises
fastconv.UnsupportedError when the session is created, naming the op. Needs the
`onnx` package (pip install "fastconv[onnx]"); importing fastconv does not import it.

A float32 graph of one input and one output made of Conv, BatchNormalization, Relu,
Sigmoid, Tanh, Add, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm/MatMul
(constant weights), Concat, Identity and Dropout (a CNN as torch.onnx.export writes
it) runs on the inference plan of fastconv.nn.inference: BatchNormalization folded
into the convolution, Add and Relu fused into its epilogue, activations in one
planned arena (`session.planned` tells). Other graphs run node by node.
get_inputs() / get_outputs() describe the graph as onnxruntime's do.

The session checks what onnxruntime checks: the graph when it is created (every
tensor defined once, no cycles, required inputs and attributes present; nodes out of
order are sorted) and the feeds at run() (dtype, rank, fixed dimensions, names).
External data comes only from the model's directory (a model loaded by path) or
base_dir=, and never from outside it.
"""
import heapq
import os

import numpy as np
try:
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import TensorProto, numpy_helper
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("fastconv.onnx needs the onnx package: pip install 'fastconv[onnx]'") from e

from fastconv.functional import (avg_pool2d, conv2d, conv_transpose2d, depthwise_conv2d,
                                 global_avg_pool2d, global_max_pool2d, matmul, max_pool2d)
from fastconv.errors import UnsupportedError

__all__ = ["InferenceSession", "NodeArg", "run", "SUPPORTED_OPS"]


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decode(v):
    return v.decode() if isinstance(v, bytes) else v


# ------------------------------------------------------------- padding helpers

def _spatial(x, op):
    """x as 4-D (N, C, H, W) plus a function undoing the reshape: 1-D inputs (N, C, L)
    run as (N, C, 1, L)."""
    if x.ndim == 4:
        return x, lambda y: y
    if x.ndim == 3:
        return x[:, :, None, :], lambda y: y[:, :, 0, :]
    raise UnsupportedError(f"fastconv.onnx: {op} on a {x.ndim}-D input (1-D and 2-D "
                           f"spatial inputs are supported)")


def _per_axis(a, key, nsp, default):
    v = a.get(key)
    v = [default] * nsp if v is None or len(v) == 0 else list(v)
    return [1] + v if nsp == 1 else v          # the dummy height axis of 1-D input


def _pads(a, in_hw, k_hw, stride, dilation, nsp, op):
    """ONNX pads / auto_pad -> ((top, bottom), (left, right)) for a 1-D or 2-D op."""
    mode = _decode(a.get("auto_pad", "NOTSET"))
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        out = []
        for size, k, s, d in zip(in_hw, k_hw, stride, dilation):
            o = -(-size // s)
            total = max((o - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            out.append((small, big) if mode == "SAME_UPPER" else (big, small))
        return tuple(out)
    if mode == "VALID":
        return ((0, 0), (0, 0))
    if mode != "NOTSET":
        raise ValueError(f"fastconv.onnx: {op}: unknown auto_pad {mode!r}")
    p = list(a.get("pads") or [0] * (2 * nsp))
    if min(p) < 0:
        raise UnsupportedError(f"fastconv.onnx: {op}: negative pads {p}")
    if nsp == 1:
        return ((0, 0), (p[0], p[1]))
    return ((p[0], p[2]), (p[1], p[3]))


# ------------------------------------------------------------------------- ops

def _conv_inputs(ins, a, op):
    """x, bias, x and weight as 2-D ops take them, the way back to x's rank, and the
    spatial rank, strides and dilations: what Conv and ConvTranspose share."""
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    x4, back = _spatial(x, op)
    nsp = x.ndim - 2
    w4 = w[:, :, None, :] if nsp == 1 else w
    return (x, b, x4, w4, back, nsp, _per_axis(a, "strides", nsp, 1),
            _per_axis(a, "dilations", nsp, 1))


def _conv(ins, a, node):
    x, b, x4, w4, back, nsp, stride, dil = _conv_inputs(ins, a, "Conv")
    pads = _pads(a, x4.shape[2:], w4.shape[2:], stride, dil, nsp, "Conv")
    y = conv2d(x4, w4, b, tuple(stride), pads, tuple(dil), a.get("group", 1))
    return [back(y).astype(x.dtype, copy=False)]


def _conv_transpose(ins, a, node):
    x, b, x4, w4, back, nsp, stride, dil = _conv_inputs(ins, a, "ConvTranspose")
    opad = _per_axis(a, "output_padding", nsp, 0)
    k = w4.shape[2:]
    in_hw = x4.shape[2:]
    full = [s * (n - 1) + (kk - 1) * d + 1 for s, n, kk, d in zip(stride, in_hw, k, dil)]
    mode = _decode(a.get("auto_pad", "NOTSET"))
    out_shape = a.get("output_shape")
    if out_shape or mode in ("SAME_UPPER", "SAME_LOWER"):
        if out_shape:
            target = ([1] + list(out_shape)) if nsp == 1 else list(out_shape[-2:])
        else:
            target = [n * s for n, s in zip(in_hw, stride)]
        pads = []
        for f, op, t in zip(full, opad, target):
            total = f + op - t
            small, big = total // 2, total - total // 2
            pads.append((small, big) if mode == "SAME_UPPER" else (big, small))
    elif mode == "VALID":
        pads = [(0, 0), (0, 0)]
    else:
        pads = list(_pads(a, in_hw, k, stride, dil, nsp, "ConvTranspose"))
    groups = a.get("group", 1)
    (t, bo), (l, r) = pads
    fast = (t == bo and l == r and min(t, l) >= 0
            and all(o < max(s, d) for o, s, d in zip(opad, stride, dil)))
    if fast:
        y = conv_transpose2d(x4, w4, b, tuple(stride), (t, l), tuple(opad), groups,
                             tuple(dil))
        return [back(y).astype(x.dtype, copy=False)]
    # Asymmetric (or negative) padding, or output_padding the C descriptor refuses:
    # the unpadded result, cropped / zero-extended to ONNX's output window.
    y_full = conv_transpose2d(x4, w4, None, tuple(stride), 0, 0, groups, tuple(dil))
    oh = full[0] + opad[0] - t - bo
    ow = full[1] + opad[1] - l - r
    if oh < 1 or ow < 1:
        raise ValueError(f"fastconv.onnx: ConvTranspose output would be {oh} x {ow}")
    y = np.zeros(y_full.shape[:2] + (oh, ow), dtype=np.float32)
    src_h0, src_w0 = max(t, 0), max(l, 0)
    dst_h0, dst_w0 = max(-t, 0), max(-l, 0)
    hh = min(full[0] - src_h0, oh - dst_h0)
    ww = min(full[1] - src_w0, ow - dst_w0)
    if hh > 0 and ww > 0:
        y[:, :, dst_h0:dst_h0 + hh, dst_w0:dst_w0 + ww] = \
            y_full[:, :, src_h0:src_h0 + hh, src_w0:src_w0 + ww]
    if b is not None:
        y += np.asarray(b, np.float32).reshape(1, -1, 1, 1)
    return [back(y).astype(x.dtype, copy=False)]


def _pool_args(x4, a, nsp, op):
    k = _per_axis(a, "kernel_shape", nsp, None)
    stride = _per_axis(a, "strides", nsp, 1)
    dil = _per_axis(a, "dilations", nsp, 1)
    pads = _pads(a, x4.shape[2:], k, stride, dil, nsp, op)
    return tuple(k), tuple(stride), pads, tuple(dil), bool(a.get("ceil_mode", 0))


def _max_pool(ins, a, node):
    x4, back = _spatial(ins[0], "MaxPool")
    nsp = ins[0].ndim - 2
    k, stride, pads, dil, ceil = _pool_args(x4, a, nsp, "MaxPool")
    want_idx = len(node.output) > 1 and node.output[1] != ""
    y, idx = max_pool2d(x4, k, stride, pads, dil, ceil, return_indices=True)
    outs = [back(y).astype(ins[0].dtype, copy=False)]  # exact for 8/16-bit ints
    if want_idx:
        N, C, H, W = x4.shape
        if a.get("storage_order", 0) == 1:      # column-major positions within the plane
            idx = (idx % W) * H + idx // W
        base = (np.arange(N * C, dtype=np.int64) * (H * W)).reshape(N, C, 1, 1)
        outs.append(back(idx + base))
    return outs


def _avg_pool(ins, a, node):
    x4, back = _spatial(ins[0], "AveragePool")
    nsp = ins[0].ndim - 2
    k, stride, pads, dil, ceil = _pool_args(x4, a, nsp, "AveragePool")
    cip = bool(a.get("count_include_pad", 0))
    if dil != (1, 1):
        return [back(_dilated_avg_pool(x4, k, stride, pads, dil, ceil, cip))
                .astype(ins[0].dtype, copy=False)]
    return [back(avg_pool2d(x4, k, stride, pads, ceil, cip)).astype(ins[0].dtype, copy=False)]


def _dilated_avg_pool(x, k, stride, pads, dil, ceil, cip):
    """Dilated average pooling (which the pooling kernels do not serve) as two depthwise
    convolutions with a kernel of ones: the window sums, and the divisors (the taps on
    real input, or on the padded input with count_include_pad). ceil_mode's extra
    window becomes extra zero padding at the end, outside what the divisor counts."""
    N, C, H, W = x.shape
    ends = []
    for size, (p0, p1), kk, s, d in zip((H, W), pads, k, stride, dil):
        eff = d * (kk - 1) + 1
        span = size + p0 + p1 - eff
        out = (-(-span // s) if ceil else span // s) + 1
        if ceil and (out - 1) * s >= size + p0:   # a last window starting in the padding
            out -= 1
        ends.append(max(p1, (out - 1) * s + eff - size - p0))
    (t, _), (l, _) = pads
    full = ((t, ends[0]), (l, ends[1]))
    ones = np.ones((C, 1) + tuple(k), np.float32)
    sums = depthwise_conv2d(x, ones, None, stride, full, dil)
    if cip:   # ones over the padded input (pads included), zeros in the ceil extension
        (p0h, p1h), (p0w, p1w) = pads
        plane = np.ones((1, 1, H + p0h + p1h, W + p0w + p1w), np.float32)
        extra = ((0, ends[0] - p1h), (0, ends[1] - p1w))
        count = conv2d(plane, ones[:1], None, stride, extra, dil)
    else:
        count = conv2d(np.ones((1, 1, H, W), np.float32), ones[:1], None, stride, full, dil)
    return sums / count


def _global(f, op):
    def run(ins, a, node):
        x = ins[0]
        if x.ndim < 3:
            raise ValueError(f"fastconv.onnx: {op} needs (N, C, ...) input, got {x.shape}")
        x4 = x.reshape(x.shape[0], x.shape[1], 1, -1)
        return [f(x4).reshape(x.shape[:2] + (1,) * (x.ndim - 2)).astype(x.dtype, copy=False)]
    return run


def _matmul2(a, b):
    return matmul(a, b)


def _gemm(ins, a, node):
    A, B = ins[0], ins[1]
    if a.get("transA", 0):
        A = A.T
    if a.get("transB", 0):
        B = B.T
    y = _matmul2(A, B)
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    if alpha != 1.0:
        y *= np.float32(alpha)
    if len(ins) > 2 and ins[2] is not None:
        y += np.float32(beta) * ins[2]
    return [y]


def _matmul(ins, a, node):
    A, B = ins
    if A.dtype.kind != "f" or B.dtype.kind != "f" or A.ndim < 2 or B.ndim != 2:
        return [np.matmul(A, B)]
    y = _matmul2(A.reshape(-1, A.shape[-1]), B)
    return [y.reshape(A.shape[:-1] + (B.shape[1],))]


def _batchnorm(ins, a, node):
    if a.get("training_mode", 0):
        raise UnsupportedError("fastconv.onnx: BatchNormalization with training_mode=1")
    x, scale, bias, mean, var = ins[:5]
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv = scale / np.sqrt(var.astype(np.float32) + np.float32(a.get("epsilon", 1e-5)))
    return [((x - mean.reshape(shape)) * inv.reshape(shape) + bias.reshape(shape))
            .astype(np.float32, copy=False)]


def _flatten(ins, a, node):
    x = ins[0]
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return [x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1)
            if x.size else x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))]


def _reshape(ins, a, node):
    x, shape = ins[0], [int(s) for s in ins[1]]
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def _softmax(ins, a, node, opset):
    x = ins[0]
    if opset < 13:                  # the old rule: coerce to 2-D at axis (default 1)
        axis = a.get("axis", 1)
        axis = axis + x.ndim if axis < 0 else axis
        x2 = x.reshape(int(np.prod(x.shape[:axis])), -1)
        return [_softmax_axis(x2, 1).reshape(x.shape)]
    return [_softmax_axis(x, a.get("axis", -1))]


def _softmax_axis(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _constant(ins, a, node):
    if "value" in a:
        return [numpy_helper.to_array(a["value"])]
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                    ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return [np.array(a[key], dtype=dt)]
    raise UnsupportedError(f"fastconv.onnx: Constant with attributes {sorted(a)}")


def _axes(ins, a):
    axes = a.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = ins[1]
    return None if axes is None else [int(v) for v in axes]


def _unsqueeze(ins, a, node):
    x = ins[0]
    axes = _axes(ins, a)
    nd = x.ndim + len(axes)
    for ax in sorted(v + nd if v < 0 else v for v in axes):
        x = np.expand_dims(x, ax)
    return [x]


def _squeeze(ins, a, node):
    axes = _axes(ins, a)
    return [np.squeeze(ins[0], axis=None if axes is None else tuple(axes))]


def _clip(ins, a, node):
    lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
    hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
    return [np.clip(ins[0], lo, hi).astype(ins[0].dtype, copy=False)]


def _relu(ins, a, node):
    return [np.maximum(ins[0], 0).astype(ins[0].dtype, copy=False)]


def _binary(f):
    return lambda ins, a, node: [f(ins[0], ins[1]).astype(np.result_type(ins[0], ins[1]),
                                                          copy=False)]


_OPS = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool,
    "AveragePool": _avg_pool,
    "GlobalAveragePool": _global(global_avg_pool2d, "GlobalAveragePool"),
    "GlobalMaxPool": _global(global_max_pool2d, "GlobalMaxPool"),
    "Relu": _relu,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "BatchNormalization": _batchnorm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(np.divide),
    "Concat": lambda ins, a, node: [np.concatenate(ins, axis=a["axis"])],
    "Softmax": None,                # needs the opset: bound per session
    "Constant": _constant,
    "Identity": lambda ins, a, node: [ins[0]],
    "Dropout": lambda ins, a, node: [ins[0], np.ones(ins[0].shape, bool)][:len(node.output)],
    "Shape": lambda ins, a, node: [np.array(ins[0].shape[a.get("start", 0):a.get("end")],
                                            dtype=np.int64)],
    "Gather": lambda ins, a, node: [np.take(ins[0], ins[1], axis=a.get("axis", 0))],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Transpose": lambda ins, a, node: [np.transpose(ins[0], a.get("perm"))],
    "Sigmoid": lambda ins, a, node: [(1 / (1 + np.exp(-ins[0]))).astype(ins[0].dtype)],
    "Clip": _clip,
    "Tanh": lambda ins, a, node: [np.tanh(ins[0]).astype(ins[0].dtype, copy=False)],
}
SUPPORTED_OPS = frozenset(_OPS)


# ---------------------------------------------------------------- loading a model

def _load(model):
    """(ModelProto, its directory or None) for a path, serialized bytes, a binary file
    object or a ModelProto. External data stays unread (see _resolve_external_data)."""
    if isinstance(model, onnx.ModelProto):
        proto, home = model, None
    elif isinstance(model, (bytes, bytearray, memoryview)):
        proto, home = _parse_bytes(bytes(model), "the serialized model"), None
    elif isinstance(model, (str, os.PathLike)):
        path = os.fsdecode(model)
        if os.path.getsize(path) == 0:
            raise ValueError(f"fastconv.onnx: {path!r} is empty (0 bytes), not an ONNX model")
        try:
            proto = onnx.load(path, load_external_data=False)
        except DecodeError as e:
            raise ValueError(f"fastconv.onnx: {path!r} is not an ONNX model: {e}") from e
        home = os.path.dirname(os.path.abspath(path))
    elif hasattr(model, "read"):
        proto, home = _parse_bytes(model.read(), "the model file object"), None
    else:
        raise TypeError(f"fastconv.onnx: a model is a path, bytes, a file object or an "
                        f"onnx.ModelProto, not {type(model).__name__}")
    if not proto.HasField("graph"):
        raise ValueError("fastconv.onnx: the model has no graph")
    return proto, home


def _parse_bytes(data, what):
    if len(data) == 0:
        raise ValueError(f"fastconv.onnx: {what} is empty (0 bytes), not an ONNX model")
    try:
        return onnx.load_from_string(data)
    except DecodeError as e:
        raise ValueError(f"fastconv.onnx: {what} is not an ONNX model: {e}") from e


# ------------------------------------------------------------------ external data
# A tensor may keep its bytes in a file next to the model. The rules are
# onnxruntime's: the location is relative to the model's directory and stays inside
# it (symlinks resolved), and offset / length lie within the file. A model given as
# bytes or a ModelProto has no directory unless the caller names one (base_dir).

_SUB_BYTE = {getattr(TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2")
             if hasattr(TensorProto, n)}


def _tensors(graph):
    """The TensorProtos a graph holds: initializers and node attributes, subgraphs
    included."""
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from _tensors(g)


def _resolve_external_data(model, base_dir):
    """model with every external tensor's bytes read into it from base_dir; a copy when
    there are any (the caller's ModelProto is never changed), else model itself."""
    if not any(t.data_location == TensorProto.EXTERNAL for t in _tensors(model.graph)):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for t in _tensors(copy.graph):
        if t.data_location == TensorProto.EXTERNAL:
            t.raw_data = _read_external(t, base_dir)
            t.data_location = TensorProto.DEFAULT
            del t.external_data[:]
    return copy


def _external_path(tensor, location, base_dir):
    """The real path of tensor's data file, refused unless it lies inside base_dir."""
    if base_dir is None:
        raise ValueError(
            f"fastconv.onnx: tensor {tensor!r} keeps its data in an external file "
            f"({location!r}), but the model came as bytes, a file object or a "
            f"ModelProto, so there is no model directory to look in; pass base_dir= (the "
            f"directory holding the model's data files), or load the model from its path")
    if not location:
        raise ValueError(f"fastconv.onnx: external tensor {tensor!r} names no location")
    if os.path.isabs(location) or os.path.splitdrive(location)[0]:
        raise ValueError(f"fastconv.onnx: tensor {tensor!r}: external data location "
                         f"{location!r} is an absolute path; it must be relative to the "
                         f"model's directory")
    root = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"fastconv.onnx: tensor {tensor!r}: external data location "
                         f"{location!r} resolves to {path!r}, outside the model's "
                         f"directory {root!r}")
    if not os.path.isfile(path):
        raise ValueError(f"fastconv.onnx: tensor {tensor!r}: external data file "
                         f"{location!r} ({path!r}) does not exist or is not a regular file")
    return path


def _external_int(info, key, tensor):
    if key not in info:
        return None
    try:
        v = int(info[key])
    except ValueError:
        v = -1
    if v < 0:
        raise ValueError(f"fastconv.onnx: tensor {tensor!r}: external data {key} "
                         f"{info[key]!r} is not a non-negative integer")
    return v


def _read_external(t, base_dir):
    """The bytes of external tensor t, checked against the file's size and t's shape."""
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    path = _external_path(t.name, location, base_dir)
    offset = _external_int(info, "offset", t.name) or 0
    length = _external_int(info, "length", t.name)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if offset > size:
            raise ValueError(f"fastconv.onnx: tensor {t.name!r}: external data offset "
                             f"{offset} is past the end of {location!r} ({size} bytes)")
        if length is not None and length > size - offset:
            raise ValueError(f"fastconv.onnx: tensor {t.name!r}: external data length "
                             f"{length} at offset {offset} runs past the end of "
                             f"{location!r} ({size} bytes)")
        f.seek(offset)
        data = f.read(size - offset if length is None else length)
    if t.data_type not in _SUB_BYTE and t.data_type != TensorProto.STRING:
        want = int(np.prod(t.dims, dtype=np.int64)) * np.dtype(
            onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        if len(data) != want:
            raise ValueError(f"fastconv.onnx: tensor {t.name!r}: external data has "
                             f"{len(data)} bytes; its shape {list(t.dims)} needs {want}")
    return data


# ------------------------------------------------------------- graph validation
# What onnxruntime checks when it creates a session, so that a malformed graph is a
# ValueError naming the node and tensor then, not a KeyError inside run().

def _where(node):
    return (f"node {node.name!r} ({node.op_type})" if node.name
            else f"unnamed {node.op_type} node with outputs {list(node.output)}")


def _check_signature(node, attrs, opset):
    """Input and output counts and required attributes as the op's schema for opset
    states them, plus the forms of Reshape and Constant this runner serves."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, "")
    except onnx.defs.SchemaError as e:
        raise ValueError(f"fastconv.onnx: {_where(node)}: no {node.op_type} in opset "
                         f"{opset}") from e
    op = f"{node.op_type}-{schema.since_version}"
    n = len(node.input)
    if n > schema.max_input:
        raise ValueError(f"fastconv.onnx: {_where(node)} has {n} inputs; {op} takes at "
                         f"most {schema.max_input}")
    for i, formal in enumerate(schema.inputs):
        single = formal.option == onnx.defs.OpSchema.FormalParameterOption.Single
        if single and (i >= n or not node.input[i]):
            raise ValueError(f"fastconv.onnx: {_where(node)}: required input {i} "
                             f"{formal.name!r} of {op} is missing")
    if n < schema.min_input:
        raise ValueError(f"fastconv.onnx: {_where(node)} has {n} inputs; {op} takes at "
                         f"least {schema.min_input}")
    if not schema.min_output <= len(node.output) <= schema.max_output:
        raise ValueError(f"fastconv.onnx: {_where(node)} has {len(node.output)} outputs; "
                         f"{op} has {schema.min_output} to {schema.max_output}")
    for name, attr in schema.attributes.items():
        if attr.required and name not in attrs:
            raise ValueError(f"fastconv.onnx: {_where(node)}: required attribute "
                             f"{name!r} of {op} is missing")
    if node.op_type == "Reshape" and n < 2:
        raise UnsupportedError(f"fastconv.onnx: {_where(node)}: {op} with the shape as "
                               f"an attribute (export with opset 5 or later)")
    if node.op_type == "Constant":
        if not attrs:
            raise ValueError(f"fastconv.onnx: {_where(node)} has no value attribute")
        if not {"value", "value_float", "value_floats", "value_int", "value_ints"} & set(attrs):
            raise UnsupportedError(f"fastconv.onnx: {_where(node)} with attributes "
                                   f"{sorted(attrs)}")


def _producers(graph, defined):
    """{tensor name: the node producing it}; a name defined twice (by two nodes, or by
    a node and as a graph input or initializer) is refused."""
    producer = {}
    for node in graph.node:
        for out in filter(None, node.output):
            if out in defined:
                raise ValueError(f"fastconv.onnx: tensor {out!r} is defined twice: by "
                                 f"{_where(node)} and as a graph input or initializer")
            if out in producer:
                raise ValueError(f"fastconv.onnx: tensor {out!r} is defined twice: by "
                                 f"{_where(producer[out])} and by {_where(node)}")
            producer[out] = node
    return producer


def _check_references(graph, defined, producer):
    """Every node input and graph output is a graph input, initializer or node output."""
    for node in graph.node:
        for name in filter(None, node.input):
            if name not in defined and name not in producer:
                raise ValueError(f"fastconv.onnx: {_where(node)} reads tensor {name!r}, "
                                 f"which is not a graph input, an initializer or the "
                                 f"output of any node")
    for o in graph.output:
        if o.name not in defined and o.name not in producer:
            raise ValueError(f"fastconv.onnx: graph output {o.name!r} is not a graph "
                             f"input, an initializer or the output of any node")


def _topological_order(nodes, producer):
    """nodes in an order that computes every tensor before it is read, the given order
    where it already does (onnxruntime sorts the same way); a cycle is refused, naming
    the nodes and tensors on it."""
    nodes = list(nodes)
    index = {id(n): i for i, n in enumerate(nodes)}
    deps = [{index[id(producer[t])] for t in n.input if t in producer} for n in nodes]
    users = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) < len(nodes):
        # Walk back from a node never ready through inputs never ready: a cycle.
        i, path = next(i for i, w in enumerate(waiting) if w), []
        while i not in path:
            path.append(i)
            i = min(j for j in deps[i] if waiting[j])
        cycle = path[path.index(i):][::-1]           # in data-flow order
        steps = [_where(nodes[cycle[0]])]
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            t = next(t for t in nodes[b].input if t in producer and producer[t] is nodes[a])
            steps.append(f"-[{t!r}]-> {_where(nodes[b])}")
        raise ValueError(f"fastconv.onnx: the graph has a cycle: {' '.join(steps)}")
    return order


def _checked_nodes(graph, consts):
    """graph's nodes in an order they can run in, after checking that every tensor
    they read is defined exactly once and that nothing depends on itself."""
    defined = {i.name for i in graph.input} | set(consts)
    producer = _producers(graph, defined)
    _check_references(graph, defined, producer)
    return _topological_order(graph.node, producer)


# ------------------------------------------------------------- feeds at run()
# onnxruntime's checks: the element type exactly, the rank when the model declares a
# shape, and every fixed dimension; a symbolic or unknown dimension takes any size.

def _input_spec(value_info):
    """(dtype or None, dims or None) a graph input declares; within dims, None marks a
    symbolic or unknown dimension. (None, None) for a non-tensor input."""
    if value_info.type.WhichOneof("value") != "tensor_type":
        return None, None
    tt = value_info.type.tensor_type
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)) \
            if tt.elem_type else None
    except (KeyError, TypeError, ValueError):
        dtype = None
    dims = ([d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if tt.HasField("shape") else None)
    return dtype, dims


def _check_feed(name, x, spec):
    dtype, dims = spec
    strings = dtype == object and x.dtype.kind in "OSU"      # tensor(string)
    if dtype is not None and x.dtype != dtype and not strings:
        raise TypeError(f"fastconv.onnx: input {name!r} has dtype {x.dtype}; the model "
                        f"takes {dtype} (no conversion is made)")
    if dims is None:
        return
    if x.ndim != len(dims):
        raise ValueError(f"fastconv.onnx: invalid rank for input {name!r}: got {x.ndim}, "
                         f"expected {len(dims)} (the model declares shape "
                         f"{_shape_text(dims)}, got {tuple(x.shape)})")
    wrong = [f"dimension {i} is {got}, expected {want}"
             for i, (got, want) in enumerate(zip(x.shape, dims))
             if want is not None and got != want]
    if wrong:
        raise ValueError(f"fastconv.onnx: input {name!r}: {'; '.join(wrong)} (the model "
                         f"declares shape {_shape_text(dims)}, got {tuple(x.shape)})")


def _shape_text(dims):
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


# ------------------------------------------------- the graph as an inference plan
# A float32 CNN graph (one input, one output, weights constant) runs on the same plan
# as fastconv.nn.inference: Conv + BatchNormalization folded, Add and Relu fused into
# the convolution, activations in one planned arena. Anything the plan does not
# cover keeps the node-by-node interpreter below.

class _NotPlanned(Exception):
    pass


def _plan_pads(a, op):
    mode = _decode(a.get("auto_pad", "NOTSET"))
    if mode == "VALID":
        return 0
    if mode == "SAME_UPPER" and op == "Conv":
        return "same"                      # the odd pixel at the end: ONNX's SAME_UPPER
    if mode != "NOTSET":
        raise _NotPlanned(mode)
    p = list(a.get("pads") or [0, 0, 0, 0])
    if len(p) != 4 or min(p) < 0:
        raise _NotPlanned("pads")
    return ((p[0], p[2]), (p[1], p[3]))


def _pair2(a, key, default):
    v = a.get(key)
    v = [default, default] if v is None or len(v) == 0 else list(v)
    if len(v) != 2:
        raise _NotPlanned(key)
    return tuple(int(i) for i in v)


def _owned(a):
    """A float32 copy of a weight: aligned, writable, not a view into the protobuf."""
    return np.array(a, dtype=np.float32, order="C", copy=True)


def _plan_graph(g, consts, nodes, input_name, output_name):
    """The plan graph of an ONNX graph's nodes (in run order), or _NotPlanned."""
    from fastconv.nn._plan_graph import Graph, optimize
    consts = dict(consts)
    pg = Graph()
    val = {input_name: 0}

    def value(name):
        if name not in val:
            raise _NotPlanned(name)
        return val[name]

    def const(name, ndim=None):
        if name not in consts:
            raise _NotPlanned(name)
        c = consts[name]
        if c.dtype.kind != "f" or (ndim is not None and c.ndim != ndim):
            raise _NotPlanned(name)
        return c

    for node, _, a in nodes:
        op, ins, out = node.op_type, [i for i in node.input], node.output
        if op == "Constant":
            consts[out[0]] = _constant([], a, node)[0]
            continue
        if op in ("Identity", "Dropout"):
            if len(out) > 1 and out[1]:
                raise _NotPlanned(op)
            if ins[0] in consts:              # torch shares equal initializers this way
                consts[out[0]] = consts[ins[0]]
            else:
                val[out[0]] = value(ins[0])
            continue
        if op == "Conv":
            w = const(ins[1], 4)
            b = const(ins[2], 1) if len(ins) > 2 and ins[2] else None
            v = pg.add("conv", [value(ins[0])], w=_owned(w),
                       b=None if b is None else b.astype(np.float32),
                       stride=_pair2(a, "strides", 1), padding=_plan_pads(a, op),
                       dilation=_pair2(a, "dilations", 1), groups=int(a.get("group", 1)),
                       algorithm="auto", relu=False, residual=None)
        elif op == "BatchNormalization":
            if a.get("training_mode", 0) or len([o for o in out if o]) > 1:
                raise _NotPlanned(op)
            scale, bias, mean, var = (const(n, 1).astype(np.float64) for n in ins[1:5])
            s = scale / np.sqrt(var + float(a.get("epsilon", 1e-5)))
            v = pg.add("affine", [value(ins[0])], scale=s, shift=bias - mean * s)
        elif op in ("Relu", "Sigmoid", "Tanh"):
            v = pg.add("act", [value(ins[0])], kind=op.lower())
        elif op == "Add":
            v = pg.add("add", [value(ins[0]), value(ins[1])], relu=False)
        elif op in ("MaxPool", "AveragePool"):
            if len(out) > 1 and out[1]:
                raise _NotPlanned(op)
            kw = dict(kernel=_pair2(a, "kernel_shape", None), stride=_pair2(a, "strides", 1),
                      padding=_plan_pads(a, op), ceil_mode=bool(a.get("ceil_mode", 0)))
            if op == "MaxPool":
                v = pg.add("maxpool", [value(ins[0])], dilation=_pair2(a, "dilations", 1), **kw)
            else:
                if _pair2(a, "dilations", 1) != (1, 1):
                    raise _NotPlanned("dilated AveragePool")
                v = pg.add("avgpool", [value(ins[0])],
                           count_include_pad=bool(a.get("count_include_pad", 0)), **kw)
        elif op == "GlobalAveragePool":
            v = pg.add("adaptive", [value(ins[0])], output_size=(1, 1))
        elif op == "Flatten" and a.get("axis", 1) == 1:
            v = pg.add("flatten", [value(ins[0])], start_dim=1)
        elif op in ("Gemm", "MatMul"):
            if op == "Gemm" and (a.get("transA", 0) or a.get("alpha", 1.0) != 1.0
                                 or a.get("beta", 1.0) != 1.0):
                raise _NotPlanned(op)
            B = const(ins[1], 2)
            w = B if op == "Gemm" and a.get("transB", 0) else B.T
            c = const(ins[2]) if op == "Gemm" and len(ins) > 2 and ins[2] else None
            if c is not None:
                if c.size != w.shape[0] or (c.ndim == 2 and c.shape[0] != 1):
                    raise _NotPlanned("Gemm C")
                c = c.reshape(-1).astype(np.float32)
            v = pg.add("linear", [value(ins[0])], w=_owned(w),
                       b=c, relu=False)
        elif op == "Concat" and a.get("axis") == 1:
            v = pg.add("concat", [value(i) for i in ins], axis=1)
        else:
            raise _NotPlanned(op)
        val[out[0]] = v
    pg.output = value(output_name)
    return optimize(pg)


def _session_plan(g, consts, nodes):
    """An InferencePlan for the graph, or None where it does not fit the plan."""
    from fastconv.nn.inference import InferencePlan
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        return None
    for vi in (inputs[0], g.output[0]):
        dtype, dims = _input_spec(vi)
        if dtype != np.float32:
            return None
    try:
        graph = _plan_graph(g, consts, nodes, inputs[0].name, g.output[0].name)
    except _NotPlanned:
        return None
    return InferencePlan(graph, g.name or "onnx")


class NodeArg:
    """A graph input or output as onnxruntime describes it: name, shape (ints, the
    symbolic names of symbolic dimensions, None for unknown ones) and type (e.g.
    'tensor(float)')."""

    __slots__ = ("name", "shape", "type")

    def __init__(self, value_info):
        self.name = value_info.name
        self.shape, self.type = [], None
        if value_info.type.WhichOneof("value") == "tensor_type":
            tt = value_info.type.tensor_type
            self.type = f"tensor({TensorProto.DataType.Name(tt.elem_type).lower()})"
            self.shape = [d.dim_value if d.HasField("dim_value")
                          else (d.dim_param if d.HasField("dim_param") else None)
                          for d in tt.shape.dim]

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class InferenceSession:
    """An ONNX model (path, serialized bytes, binary file object or onnx.ModelProto)
    ready to run on fastconv. run(output_names, feeds) mirrors
    onnxruntime.InferenceSession.run.

    Tensors stored in external data files are read from base_dir, by default the
    directory of a model given by path; a model given any other way that has external
    data needs base_dir. Locations must stay inside that directory."""

    def __init__(self, model, base_dir=None):
        model, home = _load(model)
        model = _resolve_external_data(model, home if base_dir is None
                                       else os.fsdecode(base_dir))
        self.model = model
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=1)
        g = model.graph
        self._consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self._nodes = []
        for node in g.node:
            if node.domain not in ("", "ai.onnx"):
                raise UnsupportedError(f"fastconv.onnx: op {node.domain}::{node.op_type}")
            if node.op_type not in _OPS:
                raise UnsupportedError(f"fastconv.onnx: op {node.op_type} (node "
                                       f"{node.name!r}) is not supported; supported: "
                                       f"{', '.join(sorted(_OPS))}")
            _check_signature(node, _attrs(node), self.opset)
        for node in _checked_nodes(g, self._consts):
            f = _OPS[node.op_type]
            if node.op_type == "Softmax":
                f = (lambda opset: lambda ins, a, n: _softmax(ins, a, n, opset))(self.opset)
            self._nodes.append((node, f, _attrs(node)))
        self.input_names = [i.name for i in g.input if i.name not in self._consts]
        self.output_names = [o.name for o in g.output]
        # Every graph input may be fed (an initializer among them is a default).
        self._input_specs = {i.name: _input_spec(i) for i in g.input}
        self._tensors = (set(self._input_specs) | set(self._consts)
                         | {o for n in g.node for o in n.output if o})
        self._plan = _session_plan(g, self._consts, self._nodes)

    def get_inputs(self):
        """The inputs to feed (initializers excluded), as onnxruntime's get_inputs()."""
        return [NodeArg(i) for i in self.model.graph.input if i.name not in self._consts]

    def get_outputs(self):
        return [NodeArg(o) for o in self.model.graph.output]

    @property
    def planned(self):
        """Whether run() executes the graph as a fastconv inference plan (folded,
        fused, arena-planned) rather than node by node."""
        return self._plan is not None

    def run(self, output_names, feeds):
        """Runs the graph on feeds {input name: array}; returns the outputs named (all
        when output_names is None) as NumPy arrays."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise ValueError(f"fastconv.onnx: missing inputs {missing}; the model takes "
                             f"{self.input_names}")
        for name in feeds:
            if name not in self._input_specs:
                raise ValueError(f"fastconv.onnx: invalid input name {name!r}; the "
                                 f"model's inputs are {list(self._input_specs)}")
        for name in output_names or ():
            if name not in self._tensors:
                raise ValueError(f"fastconv.onnx: invalid output name {name!r}; the "
                                 f"model's outputs are {self.output_names}")
        env = dict(self._consts)
        for name, v in feeds.items():
            env[name] = np.asarray(v)
            _check_feed(name, env[name], self._input_specs[name])
        if (self._plan is not None and list(feeds) == self.input_names
                and list(output_names or self.output_names) == self.output_names):
            return [self._plan(env[self.input_names[0]])]
        for node, f, a in self._nodes:
            ins = [env[i] if i else None for i in node.input]
            while ins and ins[-1] is None:
                ins.pop()
            outs = f(ins, a, node)
            for name, v in zip(node.output, outs):
                if name:
                    env[name] = v
        return [env[n] for n in (output_names or self.output_names)]


def run(model, feeds, output_names=None, base_dir=None):
    """One-shot: InferenceSession(model, base_dir).run(output_names, feeds)."""
    return InferenceSession(model, base_dir).run(output_names, feeds)
