"""Convolution: validation, shape math and algorithm choice for fastconv.conv2d."""

from fastconv import _C
from fastconv.errors import UnsupportedError
from fastconv.functional import _args, tuning

ALGORITHMS = ("auto", "direct", "im2col", "winograd", "winograd_f23", "winograd_f43",
              "depthwise")
_PASS = {"forward": 0, "backward_data": 1, "backward_weights": 2}


class ConvParams:
    """Normalized arguments of one convolution (all ints, all checked)."""

    __slots__ = ("x_shape", "w_shape", "stride", "pads", "dilation", "groups", "out_shape")

    def __init__(self, fn, x_shape, w_shape, stride, padding, dilation, groups):
        N, C, H, W = x_shape
        K, Cg, R, S = w_shape
        self.groups = _args.as_int(groups, "groups", fn)
        if self.groups < 1:
            raise ValueError(f"{fn}: groups must be >= 1, got groups={groups!r}")
        if C % self.groups or K % self.groups:
            raise ValueError(f"{fn}: groups={self.groups} must divide both the input channels "
                             f"C={C} and the output channels K={K}")
        if Cg * self.groups != C:
            raise ValueError(f"{fn}: weight of shape {tuple(w_shape)} expects "
                             f"{Cg * self.groups} input channels (C/groups={Cg}, groups="
                             f"{self.groups}), but x of shape {tuple(x_shape)} has C={C}")
        if min(x_shape) < 1 and N != 0:
            raise ValueError(f"{fn}: x of shape {tuple(x_shape)} has an empty dimension")
        if min(w_shape) < 1:
            raise ValueError(f"{fn}: weight of shape {tuple(w_shape)} has an empty dimension")
        self.stride, self.dilation, self.pads, (OH, OW) = _args.conv_geometry(
            fn, (H, W), (R, S), stride, padding, dilation)
        t, b, l, r = self.pads
        self.x_shape = (N, C, H, W)
        self.w_shape = (K, Cg, R, S)
        self.out_shape = (N, K, OH, OW)
        for shape, name in ((self.x_shape, "x"), (self.w_shape, "weight"),
                            (self.out_shape, "output"), ((N, C, H + t + b, W + l + r), "padded x")):
            _args.check_elements(shape, name, fn)

    def c_args(self):
        return self.stride, self.pads, self.dilation, self.groups


def winograd_serves(p):
    """Whether Winograd can run these parameters: a 3x3 kernel, stride 1, dilation 1."""
    return p.w_shape[2:] == (3, 3) and p.stride == (1, 1) and p.dilation == (1, 1)


def depthwise_serves(p):
    """Whether the depthwise kernels can run these parameters: groups == C > 1."""
    return p.groups == p.x_shape[1] > 1


def _algorithm(algorithm, fn, p):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(f"{fn}: algorithm must be one of {ALGORITHMS}, got algorithm={algorithm!r}")
    if algorithm == "winograd":
        algorithm = "winograd_f43"
    if algorithm.startswith("winograd") and not winograd_serves(p):
        R, S = p.w_shape[2:]
        raise UnsupportedError(
            f"{fn}: algorithm={algorithm!r} serves only 3x3 kernels with stride 1 and "
            f"dilation 1, got a {R}x{S} kernel, stride={p.stride}, dilation={p.dilation}; "
            f"use algorithm='auto', 'direct' or 'im2col'")
    if algorithm == "depthwise" and not depthwise_serves(p):
        raise UnsupportedError(
            f"{fn}: algorithm='depthwise' serves only groups == C > 1 (weight "
            f"(C*m, 1, R, S)), got groups={p.groups} with C={p.x_shape[1]}")
    return _C.ALGORITHMS[algorithm]


def candidate_serves(name, pass_, p, precision=None):
    """Whether the autotuner candidate `name` can run this pass with these parameters
    under `precision` (default: the current setting); the rule autotune_load checks a
    file's entries by."""
    # Winograd's weight gradient is im2col's: no separate candidate. Precision
    # "highest" keeps "auto" off Winograd, timed or not.
    if name.startswith("winograd"):
        precision = _C.get_precision() if precision is None else precision
        return winograd_serves(p) and pass_ != "backward_weights" and precision != "highest"
    if name == "depthwise":
        return depthwise_serves(p)
    return True


def _tuned(algo, pass_, p, run):
    """algo, or for "auto" with autotuning on, the autotuner's choice for this pass."""
    if algo != _C.ALGORITHMS["auto"] or not tuning.autotune_enabled():
        return algo
    return tuning.choose(pass_, p, run, lambda name: candidate_serves(name, pass_, p))


def _inputs(fn, x, weight):
    """x and weight as arrays, not yet converted (see _args.as_array)."""
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    weight = _args.as_array(weight, "weight", fn, 4, "(K, C/groups, R, S)")
    return x, weight


def epilogue_args(fn, scale, residual, relu, K, out_shape):
    """The fused epilogue's arguments checked (shapes, types), not yet converted:
    (scale, residual, relu, fused) with fused False when there is nothing beyond a bias."""
    relu = _args.flag(relu, "relu", fn)
    if scale is not None:
        scale = _args.as_array(scale, "scale", fn)
        if scale.shape != (K,):
            raise ValueError(f"{fn}: expected scale of shape ({K},) (one per output channel), "
                             f"got {tuple(scale.shape)}")
    if residual is not None:
        residual = _args.as_array(residual, "residual", fn)
        if residual.shape != tuple(out_shape):
            raise ValueError(f"{fn}: expected residual of the output's shape "
                             f"{tuple(out_shape)}, got {tuple(residual.shape)}")
    relu = bool(relu)
    return scale, residual, relu, scale is not None or residual is not None or relu


def epilogue_float32(fn, scale, residual):
    """scale and residual (checked by epilogue_args) as C-contiguous float32 (copies only
    when needed)."""
    if scale is not None:
        scale = _args.to_float32(scale, "scale", fn)
    if residual is not None:
        residual = _args.to_float32(residual, "residual", fn)
    return scale, residual


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, algorithm="auto",
           *, scale=None, residual=None, relu=False):
    """2-D convolution (cross-correlation, as in PyTorch) of x (N, C, H, W) with weight
    (K, C/groups, R, S), plus bias (K,). Returns (N, K, OH, OW) float32.

    Fused epilogue (keyword-only), applied to each output tile while it is in cache:
        y = act(scale[k] * conv(x, weight)[n, k] + bias[k] + residual[n, k])
    scale: (K,) or None (1); residual: an array of the output's shape or None; relu:
    act = max(., 0) (NaN stays NaN) when True. Every algorithm applies it; it costs
    less than conv2d followed by add_relu (no extra pass over the output).

    padding: int, (ph, pw), ((top, bottom), (left, right)), "valid", or "same" (Keras:
    output = ceil(input / stride), the odd pixel padded at the bottom/right).
    algorithm: "auto" | "direct" | "im2col" | "winograd" (= "winograd_f43") |
    "winograd_f23" | "depthwise" (groups == C > 1). An algorithm that cannot serve
    the arguments raises fastconv.UnsupportedError (a ValueError and a
    NotImplementedError), never a silent fallback.

    "auto" runs the C library's heuristic choice, or with fastconv.autotune(True) the
    fastest algorithm measured on the first call with these shapes and arguments
    (see fastconv.autotune_save / autotune_load). Under fastconv.set_precision("highest")
    neither picks Winograd (the default "high" allows it).

    Winograd ("winograd_f23": F(2x2,3x3); "winograd_f43": F(4x4,3x3), points 0, 1, -1,
    1/2, -2) serves 3x3 kernels with stride 1 and dilation 1 only (any padding,
    groups, batch). Its backward-data is Winograd too; its weight gradient is computed
    by the direct algorithm. It is accurate in norm, not per element: with
    terms = 9*C/groups and A = conv2d of |x| and |weight| (the magnitudes summed),
        max|y - exact| <= f * eps32 * sqrt(terms) * max(A),
    f = 4 for F(2x2) and f = 16 for F(4x4) (tested; measured worst 0.34 and 3.1 over
    1..512 channels and input magnitudes 1e-3..1e3, vs 0.19 for "direct"). Outputs much
    smaller than their neighbours (e.g. near wide zero padding) carry an absolute error
    of that size, larger relative to themselves than direct's. A NaN or an infinity
    spoils exactly the outputs whose receptive field holds it, as in "direct" and torch,
    and the transforms do not overflow where the direct sum does not (the outputs that
    come out non-finite are recomputed directly).
    """
    fn = "conv2d"
    x, weight = _inputs(fn, x, weight)
    p = ConvParams(fn, x.shape, weight.shape, stride, padding, dilation, groups)
    algo = _algorithm(algorithm, fn, p)
    bias = _args.bias_vector(bias, p.w_shape[0], fn)
    scale, residual, relu, fused = epilogue_args(fn, scale, residual, relu, p.w_shape[0],
                                                 p.out_shape)
    y = _args.empty(p.out_shape, "output", fn)
    if y.size == 0:
        return y
    x, weight = _args.to_float32s(fn, x=x, weight=weight)
    if fused:
        scale, residual = epilogue_float32(fn, scale, residual)

        def run(a):
            _C.conv2d_forward_ex(x, weight, scale, bias, residual, relu, y, *p.c_args(), a)
    else:
        def run(a):
            _C.conv2d_forward(x, weight, bias, y, *p.c_args(), a)
    run(_tuned(algo, "forward", p, run))
    return y


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    algorithm="auto", *, input_grad=True, weight_grad=True):
    """Gradients of conv2d: returns (grad_x, grad_weight, grad_bias) with the shapes
    of x, weight and (K,), for grad_out of the shape conv2d(x, weight, ...) returns.
    input_grad=False skips the backward-data pass (grad_x is None: a network's input
    needs no gradient); weight_grad=False skips the backward-weights pass (grad_weight
    and grad_bias are None: a frozen layer)."""
    fn = "conv2d_backward"
    x, weight = _inputs(fn, x, weight)
    grad_out = _args.as_array(grad_out, "grad_out", fn, 4, "(N, K, OH, OW)")
    p = ConvParams(fn, x.shape, weight.shape, stride, padding, dilation, groups)
    _args.check_grad_out(grad_out, p.out_shape, fn, "conv2d")
    algo = _algorithm(algorithm, fn, p)
    input_grad, weight_grad = _args.grad_flags(input_grad, weight_grad, fn)
    gx, gw, gb = _args.gradient_buffers(x.shape, weight.shape, weight.shape[0], fn,
                                        input_grad, weight_grad)
    if x.shape[0] == 0:
        return gx, gw, gb
    grad_out, x, weight = _args.to_float32s(fn, grad_out=grad_out, x=x, weight=weight)
    if input_grad:
        a = _tuned(algo, "backward_data", p,
                   lambda a: _C.conv2d_backward_data(grad_out, weight, gx, *p.c_args(), a))
        _C.conv2d_backward_data(grad_out, weight, gx, *p.c_args(), a)
    if weight_grad:
        a = _tuned(algo, "backward_weights", p,
                   lambda a: _C.conv2d_backward_weights(grad_out, x, gw, gb, *p.c_args(), a))
        _C.conv2d_backward_weights(grad_out, x, gw, gb, *p.c_args(), a)
    return gx, gw, gb


def conv2d_output_shape(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """The output shape conv2d gives for these shapes and arguments."""
    return ConvParams("conv2d", tuple(x_shape), tuple(weight_shape), stride, padding,
                      dilation, groups).out_shape
