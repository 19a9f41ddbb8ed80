/* The process-wide precision setting (fc_set_precision): whether FC_CONV_AUTO may pick
 * the Winograd algorithms, in the spirit of torch.set_float32_matmul_precision. */
#include "internal.h"

static int g_precision = FC_PRECISION_HIGH;

fc_status fc_set_precision(fc_precision precision) {
    if (precision != FC_PRECISION_HIGHEST && precision != FC_PRECISION_HIGH)
        return FC_INVALID_ARGUMENT;
    if (fc_call_depth()) return FC_INVALID_ARGUMENT; /* never from inside a call */
    fc_settings_write_begin(); /* waits for calls in flight (see core/call.c) */
    __atomic_store_n(&g_precision, (int)precision, __ATOMIC_RELAXED);
    fc_settings_write_end();
    return FC_SUCCESS;
}

fc_precision fc_precision_setting(void) {
    return (fc_precision)__atomic_load_n(&g_precision, __ATOMIC_RELAXED);
}

fc_precision fc_get_precision(void) { return fc_precision_setting(); }
