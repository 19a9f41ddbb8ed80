/* CPU capability detection, once; the kernel table in use and the FASTCONV_ISA
 * override. The tables themselves are in core/registry.c. */
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

static uint32_t detect_caps(void) {
    uint32_t caps = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* libgcc also checks that the OS saves the wide registers (XCR0). */
    if (__builtin_cpu_supports("avx2")) caps |= FC_CAP_AVX2;
    if (__builtin_cpu_supports("fma")) caps |= FC_CAP_FMA;
    if (__builtin_cpu_supports("avx512f")) caps |= FC_CAP_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) caps |= FC_CAP_AVX512BW;
    if (__builtin_cpu_supports("avx512dq")) caps |= FC_CAP_AVX512DQ;
    if (__builtin_cpu_supports("avx512vl")) caps |= FC_CAP_AVX512VL;
    if (__builtin_cpu_supports("avx512bf16")) caps |= FC_CAP_AVX512_BF16;
    if (__builtin_cpu_supports("f16c")) caps |= FC_CAP_F16C;
#elif defined(__aarch64__)
    caps |= FC_CAP_NEON; /* part of ARMv8-A */
#endif
    return caps;
}

/* Bit 31 marks "detected": the capabilities never use it. */
static uint32_t g_caps;

uint32_t fc_cpu_caps(void) {
    uint32_t c = __atomic_load_n(&g_caps, __ATOMIC_ACQUIRE);
    if (!(c & 0x80000000u)) {
        c = detect_caps() | 0x80000000u;
        __atomic_store_n(&g_caps, c, __ATOMIC_RELEASE);
    }
    return c & 0x7fffffffu;
}

fc_isa fc_cpu_isa(void) { return fc_kernels_best()->isa; }

static const fc_kernels *from_env(const fc_kernels *best) {
    const char *s = getenv("FASTCONV_ISA");
    if (!s || !*s) return best;
    /* Never one the CPU cannot run; unknown names keep the best. */
    const fc_kernels *k = fc_kernels_named(s);
    return fc_kernels_runnable(k) ? k : best;
}

static const fc_kernels *g_setting; /* NULL until first use */

const fc_kernels *fc_kernels_setting(void) {
    const fc_kernels *k = __atomic_load_n(&g_setting, __ATOMIC_ACQUIRE);
    if (!k) {
        k = from_env(fc_kernels_best());
        __atomic_store_n(&g_setting, k, __ATOMIC_RELEASE);
    }
    return k;
}

fc_isa fc_get_isa(void) { return fc_kernels_setting()->isa; }

fc_status fc_set_isa(fc_isa isa) {
    const fc_kernels *k = fc_kernels_for_isa(isa);
    if (!k) return FC_INVALID_ARGUMENT;
    if (!fc_kernels_runnable(k)) return FC_UNSUPPORTED_HARDWARE;
    if (fc_call_depth()) return FC_INVALID_ARGUMENT; /* never from inside a call */
    fc_settings_write_begin(); /* waits for calls in flight */
    __atomic_store_n(&g_setting, k, __ATOMIC_RELEASE);
    fc_settings_write_end();
    return FC_SUCCESS;
}

const char *fc_isa_name(fc_isa isa) {
    const fc_kernels *k = fc_kernels_for_isa(isa);
    return k ? k->name : "unknown";
}
