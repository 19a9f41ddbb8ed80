/* The one thread pool: OpenMP, sized by a process-wide count that every kernel reads. */
#include "internal.h"

/* 0 = not yet set: use OpenMP's default (OMP_NUM_THREADS or the core count). A
 * global rather than omp_set_num_threads(), whose setting is per calling thread. */
static int g_threads = 0;

fc_status fc_set_num_threads(int n) {
    if (n < 1) return FC_INVALID_ARGUMENT;
    __atomic_store_n(&g_threads, n, __ATOMIC_RELAXED);
    return FC_SUCCESS;
}

int fc_threads(void) {
    int n = __atomic_load_n(&g_threads, __ATOMIC_RELAXED);
    if (n > 0) return n;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int fc_get_num_threads(void) { return fc_threads(); }

int fc_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
