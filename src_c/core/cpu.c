/* CPU feature detection, once, and the FASTCONV_ISA override. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int g_isa = -1; /* active path; -1 until first use */

fc_isa fc_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* libgcc also checks that the OS saves the wide registers (XCR0). */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma"))
        return FC_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FC_ISA_AVX2;
#endif
    return FC_ISA_PORTABLE;
}

static fc_isa isa_from_env(fc_isa best) {
    const char *s = getenv("FASTCONV_ISA");
    if (!s || !*s) return best;
    fc_isa want = best;
    if (!strcmp(s, "portable")) want = FC_ISA_PORTABLE;
    else if (!strcmp(s, "avx2")) want = FC_ISA_AVX2;
    else if (!strcmp(s, "avx512")) want = FC_ISA_AVX512;
    /* Never above what the CPU has; unknown names keep the best. */
    return want < best ? want : best;
}

fc_isa fc_isa_setting(void) {
    int isa = __atomic_load_n(&g_isa, __ATOMIC_ACQUIRE);
    if (isa < 0) {
        isa = (int)isa_from_env(fc_cpu_isa());
        __atomic_store_n(&g_isa, isa, __ATOMIC_RELEASE);
    }
    return (fc_isa)isa;
}

fc_isa fc_get_isa(void) { return fc_isa_setting(); }

fc_status fc_set_isa(fc_isa isa) {
    if (isa != FC_ISA_PORTABLE && isa != FC_ISA_AVX2 && isa != FC_ISA_AVX512)
        return FC_INVALID_ARGUMENT;
    if (isa > fc_cpu_isa()) return FC_UNSUPPORTED_HARDWARE;
    if (fc_call_depth()) return FC_INVALID_ARGUMENT; /* never from inside a call */
    fc_settings_write_begin(); /* waits for calls in flight */
    __atomic_store_n(&g_isa, (int)isa, __ATOMIC_RELEASE);
    fc_settings_write_end();
    return FC_SUCCESS;
}

const char *fc_isa_name(fc_isa isa) {
    switch (isa) {
    case FC_ISA_PORTABLE: return "portable";
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_AVX512: return "avx512";
    }
    return "unknown";
}
