/* The one thread pool: OpenMP, sized by a process-wide count that every kernel reads. */
#include "internal.h"

/* 0 = not yet set: use OpenMP's default (OMP_NUM_THREADS or the core count). A
 * global rather than omp_set_num_threads(), whose setting is per calling thread. */
static int g_threads = 0;

fc_status fc_set_num_threads(int n) {
    if (n < 1) return FC_INVALID_ARGUMENT;
    if (fc_call_depth()) return FC_INVALID_ARGUMENT; /* never from inside a call */
    fc_settings_write_begin(); /* waits for calls in flight (see core/call.c) */
    __atomic_store_n(&g_threads, n, __ATOMIC_RELAXED);
    fc_settings_write_end();
    return FC_SUCCESS;
}

int fc_threads_setting(void) {
#ifdef _OPENMP
    /* A child forked after the pool started: OpenMP's threads did not come along. */
    if (fc_forked_single_thread()) return 1;
    int n = __atomic_load_n(&g_threads, __ATOMIC_RELAXED);
    return n > 0 ? n : omp_get_max_threads();
#else
    /* A serial build runs every kernel in the calling thread, whatever was asked: the
     * kernels size per-thread buffers and reductions by this count. */
    return 1;
#endif
}

int fc_get_num_threads(void) { return fc_threads_setting(); }

int fc_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
