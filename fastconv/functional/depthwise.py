"""Depthwise convolution: fastconv.depthwise_conv2d and its backward.

Each input channel c is convolved with its own `multiplier` filters, output channel
c*m + j from filter j of channel c: the same as conv2d(..., groups=C) with a weight
of shape (C*m, 1, R, S), computed by a dedicated kernel (conv2d with algorithm="auto"
dispatches such calls here).
"""

from fastconv import _C
from fastconv.functional import _args
from fastconv.functional.conv import epilogue_args, epilogue_float32


class DepthwiseParams:
    """Normalized arguments of one depthwise convolution (all ints, all checked)."""

    __slots__ = ("x_shape", "w_shape", "stride", "pads", "dilation", "out_shape")

    def __init__(self, fn, x_shape, w_shape, stride, padding, dilation):
        N, C, H, W = x_shape
        K, one, R, S = w_shape
        if min(x_shape) < 1 and N != 0:
            raise ValueError(f"{fn}: x of shape {tuple(x_shape)} has an empty dimension")
        if min(w_shape) < 1 or one != 1 or K % C:
            raise ValueError(f"{fn}: expected weight of shape (C*multiplier, 1, R, S) with C={C} "
                             f"(the channels of x), got {tuple(w_shape)}")
        self.stride, self.dilation, self.pads, (OH, OW) = _args.conv_geometry(
            fn, (H, W), (R, S), stride, padding, dilation)
        t, b, l, r = self.pads
        self.x_shape = (N, C, H, W)
        self.w_shape = (K, 1, R, S)
        self.out_shape = (N, K, OH, OW)
        # The backward pass pads by the effective kernel size: bound that plane too.
        eh, ew = self.dilation[0] * (R - 1), self.dilation[1] * (S - 1)
        for shape, name in ((self.x_shape, "x"), (self.w_shape, "weight"),
                            (self.out_shape, "output"),
                            ((K // C, H + t + b + eh + 1, W + l + r + ew + self.stride[1] + 1),
                             "padded x")):
            _args.check_elements(shape, name, fn)

    def c_args(self):
        return self.stride, self.pads, self.dilation


def _inputs(fn, x, weight):
    """x and weight as arrays, not yet converted (see _args.as_array)."""
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    weight = _args.as_array(weight, "weight", fn, 4, "(C*multiplier, 1, R, S)")
    return x, weight


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, scale=None,
                     residual=None, relu=False):
    """Depthwise 2-D convolution of x (N, C, H, W) with weight (C*m, 1, R, S), plus bias
    (C*m,). Returns (N, C*m, OH, OW) float32; equals conv2d(x, weight, bias, stride,
    padding, dilation, groups=C). padding as in conv2d (int, pair,
    ((top, bottom), (left, right)), "same", "valid"). scale, residual and relu: the
    fused epilogue, as in conv2d."""
    fn = "depthwise_conv2d"
    x, weight = _inputs(fn, x, weight)
    p = DepthwiseParams(fn, x.shape, weight.shape, stride, padding, dilation)
    K = p.w_shape[0]
    scale, residual, relu, fused = epilogue_args(fn, scale, residual, relu, K, p.out_shape)
    if fused:
        # conv2d's depthwise algorithm runs the same kernels, with the epilogue
        bias = _args.bias_vector(bias, K, fn)
        y = _args.empty(p.out_shape, "output", fn)
        if y.size == 0:
            return y
        x, weight = _args.to_float32s(fn, x=x, weight=weight)
        scale, residual = epilogue_float32(fn, scale, residual)
        C = p.x_shape[1]
        algo = _C.ALGORITHMS["depthwise" if C > 1 else "direct"]
        _C.conv2d_forward_ex(x, weight, scale, bias, residual, relu, y, p.stride, p.pads,
                             p.dilation, C, algo)
        return y
    return _args.weighted_forward(
        fn, x, weight, bias, p.w_shape[0], p.out_shape,
        lambda x, w, b, y: _C.depthwise_conv2d_forward(x, w, b, y, *p.c_args()))


def depthwise_conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, *,
                              input_grad=True, weight_grad=True):
    """Gradients of depthwise_conv2d: (grad_x, grad_weight, grad_bias) with the shapes
    of x, weight and (C*m,); input_grad / weight_grad False skip a pass as in
    conv2d_backward (None in its place)."""
    fn = "depthwise_conv2d_backward"
    x, weight = _inputs(fn, x, weight)
    grad_out = _args.as_array(grad_out, "grad_out", fn, 4, "(N, C*multiplier, OH, OW)")
    p = DepthwiseParams(fn, x.shape, weight.shape, stride, padding, dilation)
    _args.check_grad_out(grad_out, p.out_shape, fn, "depthwise_conv2d")
    return _backward(fn, grad_out, x, weight, p.c_args(), input_grad, weight_grad)


def _backward(fn, grad_out, x, weight, c_args, input_grad=True, weight_grad=True):
    input_grad, weight_grad = _args.grad_flags(input_grad, weight_grad, fn)
    gx, gw, gb = _args.gradient_buffers(x.shape, weight.shape, weight.shape[0], fn,
                                        input_grad, weight_grad)
    if x.shape[0] == 0:
        return gx, gw, gb
    grad_out, x, weight = _args.to_float32s(fn, grad_out=grad_out, x=x, weight=weight)
    if input_grad:
        _C.depthwise_conv2d_backward_data(grad_out, weight, gx, *c_args)
    if weight_grad:
        _C.depthwise_conv2d_backward_weights(grad_out, x, gw, gb, *c_args)
    return gx, gw, gb
