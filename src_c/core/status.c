/* Status strings and the version. */
#include "internal.h"

const char *fc_status_string(fc_status status) {
    switch (status) {
    case FC_SUCCESS: return "success";
    case FC_INVALID_ARGUMENT: return "invalid argument (NULL pointer or unknown enum value)";
    case FC_INVALID_SHAPE: return "invalid shape";
    case FC_INVALID_STRIDE: return "invalid stride (must be >= 1)";
    case FC_INVALID_PADDING: return "invalid padding";
    case FC_INVALID_DILATION: return "invalid dilation (must be >= 1)";
    case FC_INVALID_GROUPS: return "invalid groups (must divide the channel counts)";
    case FC_INVALID_WORKSPACE: return "workspace smaller than the size query reported";
    case FC_SIZE_OVERFLOW: return "a size or offset overflows 64-bit indexing";
    case FC_UNSUPPORTED_ALGORITHM: return "the algorithm cannot serve these arguments";
    case FC_UNSUPPORTED_HARDWARE: return "the CPU lacks the requested instruction set";
    case FC_OUT_OF_MEMORY: return "out of memory";
    }
    return "unknown status";
}

const char *fc_version(void) { return FASTCONV_VERSION; }
