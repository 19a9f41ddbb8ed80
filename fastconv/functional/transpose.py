"""Transposed convolution: fastconv.conv_transpose2d and its backward.

The adjoint of conv2d (the C library computes it through convolution's own passes):
conv_transpose2d(y, w) is the gradient that conv2d_backward gives x for grad_out=y,
with PyTorch's arguments and weight layout (C, K/groups, R, S).
"""

from fastconv import _C
from fastconv.functional import _args


class TransposeParams:
    """Normalized arguments of one transposed convolution (all ints, all checked)."""

    __slots__ = ("x_shape", "w_shape", "stride", "pads", "output_padding", "dilation",
                 "groups", "out_shape")

    def __init__(self, fn, x_shape, w_shape, stride, padding, output_padding, dilation, groups):
        N, C, H, W = x_shape
        Cw, Kg, R, S = w_shape
        self.groups = _args.as_int(groups, "groups", fn)
        if self.groups < 1:
            raise ValueError(f"{fn}: groups must be >= 1, got groups={groups!r}")
        if Cw != C:
            raise ValueError(f"{fn}: weight of shape {tuple(w_shape)} (C, K/groups, R, S) "
                             f"expects C={Cw} input channels, but x of shape {tuple(x_shape)} "
                             f"has C={C}")
        if C % self.groups:
            raise ValueError(f"{fn}: groups={self.groups} must divide the input channels C={C}")
        if min(x_shape) < 1 and N != 0:
            raise ValueError(f"{fn}: x of shape {tuple(x_shape)} has an empty dimension")
        if min(w_shape) < 1:
            raise ValueError(f"{fn}: weight of shape {tuple(w_shape)} has an empty dimension")
        self.stride = _args.pair(stride, "stride", fn, 1)
        self.dilation = _args.pair(dilation, "dilation", fn, 1)
        ph, pw = _args.pair(padding, "padding", fn, 0)
        self.pads = (ph, ph, pw, pw)
        self.output_padding = _args.pair(output_padding, "output_padding", fn, 0)
        for a, name in enumerate(("height", "width")):
            lim = max(self.stride[a], self.dilation[a])
            if self.output_padding[a] >= lim:
                raise ValueError(f"{fn}: output_padding must be smaller than stride or dilation "
                                 f"along the {name} (< {lim}), got output_padding="
                                 f"{output_padding!r}")
        K = Kg * self.groups
        OH = ((H - 1) * self.stride[0] - 2 * ph + self.dilation[0] * (R - 1)
              + self.output_padding[0] + 1)
        OW = ((W - 1) * self.stride[1] - 2 * pw + self.dilation[1] * (S - 1)
              + self.output_padding[1] + 1)
        if OH < 1 or OW < 1:
            raise ValueError(f"{fn}: padding={padding!r} is too large: the output would be "
                             f"{OH} x {OW}")
        self.x_shape = (N, C, H, W)
        self.w_shape = (Cw, Kg, R, S)
        self.out_shape = (N, K, OH, OW)
        for shape, name in ((self.x_shape, "x"), (self.w_shape, "weight"),
                            (self.out_shape, "output"),
                            ((N, K, OH + 2 * ph, OW + 2 * pw + self.stride[1]), "padded output")):
            _args.check_elements(shape, name, fn)

    def c_args(self):
        return self.stride, self.pads, self.output_padding, self.dilation, self.groups


def _inputs(fn, x, weight):
    """x and weight as arrays, not yet converted (see _args.as_array)."""
    x = _args.as_array(x, "x", fn, 4, "(N, C, H, W)")
    weight = _args.as_array(weight, "weight", fn, 4, "(C, K/groups, R, S)")
    return x, weight


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution of x (N, C, H, W) with weight (C, K/groups, R, S), plus
    bias (K,), as torch.nn.functional.conv_transpose2d. Returns (N, K, OH, OW) float32,
    OH = (H - 1)*stride - 2*padding + dilation*(R - 1) + output_padding + 1."""
    fn = "conv_transpose2d"
    x, weight = _inputs(fn, x, weight)
    p = TransposeParams(fn, x.shape, weight.shape, stride, padding, output_padding, dilation,
                        groups)
    return _args.weighted_forward(
        fn, x, weight, bias, p.out_shape[1], p.out_shape,
        lambda x, w, b, y: _C.conv_transpose2d_forward(x, w, b, y, *p.c_args()))


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, input_grad=True, weight_grad=True):
    """Gradients of conv_transpose2d: (grad_x, grad_weight, grad_bias) with the shapes
    of x, weight and (K,); input_grad / weight_grad False skip a pass as in
    conv2d_backward (None in its place)."""
    fn = "conv_transpose2d_backward"
    x, weight = _inputs(fn, x, weight)
    grad_out = _args.as_array(grad_out, "grad_out", fn, 4, "(N, K, OH, OW)")
    p = TransposeParams(fn, x.shape, weight.shape, stride, padding, output_padding, dilation,
                        groups)
    _args.check_grad_out(grad_out, p.out_shape, fn, "conv_transpose2d")
    input_grad, weight_grad = _args.grad_flags(input_grad, weight_grad, fn)
    gx, gw, gb = _args.gradient_buffers(x.shape, weight.shape, p.out_shape[1], fn,
                                        input_grad, weight_grad)
    if x.shape[0] == 0:
        return gx, gw, gb
    grad_out, x, weight = _args.to_float32s(fn, grad_out=grad_out, x=x, weight=weight)
    if input_grad:
        _C.conv_transpose2d_backward_data(grad_out, weight, gx, *p.c_args())
    if weight_grad:
        _C.conv_transpose2d_backward_weights(grad_out, x, gw, gb, *p.c_args())
    return gx, gw, gb
