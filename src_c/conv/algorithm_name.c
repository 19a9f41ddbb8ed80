/* The name of a convolution algorithm: the same spelling as Python's algorithm= argument. */
#include "fastconv.h"

const char *fc_conv_algorithm_name(fc_conv_algorithm algo) {
    switch (algo) {
    case FC_CONV_AUTO: return "auto";
    case FC_CONV_DIRECT: return "direct";
    case FC_CONV_IM2COL: return "im2col";
    case FC_CONV_WINOGRAD_F23: return "winograd_f23";
    case FC_CONV_WINOGRAD_F43: return "winograd_f43";
    case FC_CONV_DEPTHWISE: return "depthwise";
    }
    return "unknown";   /* never NULL: safe to print */
}
