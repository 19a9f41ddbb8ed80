/* The machine's own FMA throughput, measured on the ISA path in use: the
 * denominator of "percent of peak" in the benchmark tables and fastconv.info(). */
#include <time.h>

#include "internal.h"

double fc_peak_fma__portable(int64_t iters, float seed);
double fc_peak_fma__avx2(int64_t iters, float seed);
double fc_peak_fma__avx512(int64_t iters, float seed);
int fc_peak_lanes__portable(void);
int fc_peak_lanes__avx2(void);
int fc_peak_lanes__avx512(void);

typedef double (*peak_fn)(int64_t, float);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds for `threads` threads to each run fn(iters) (0 on the sink is never
 * reached in practice; the sink only keeps the results alive). */
static double run_once(peak_fn fn, int threads, int64_t iters, volatile double *sink) {
    double t0 = now_s();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        double r = fn(iters, 1.0f + (float)omp_get_thread_num());
        if (r == 0.0) *sink += r;
    }
#else
    (void)threads;
    double r = fn(iters, 1.0f);
    if (r == 0.0) *sink += r;
#endif
    return now_s() - t0;
}

fc_status fc_measure_fma_gflops(int threads, double seconds, double *gflops) {
    if (gflops == NULL || threads < 1 || threads > 4096 || !(seconds > 0.0) || seconds > 60.0)
        return FC_INVALID_ARGUMENT;
#ifndef _OPENMP
    threads = 1; /* a serial build has one thread to measure */
#endif
    peak_fn fn;
    int lanes;
    switch (fc_isa_active()) {
    case FC_ISA_AVX512: fn = fc_peak_fma__avx512; lanes = fc_peak_lanes__avx512(); break;
    case FC_ISA_AVX2: fn = fc_peak_fma__avx2; lanes = fc_peak_lanes__avx2(); break;
    default: fn = fc_peak_fma__portable; lanes = fc_peak_lanes__portable(); break;
    }
    volatile double sink = 0.0;
    /* Calibrate to rounds of about 2 ms (also warms up the clocks and the wide units),
     * then keep the best of as many rounds as `seconds` allows: the best is the peak,
     * anything slower is interference from other processes. */
    int64_t iters = 1024;
    double t = run_once(fn, threads, iters, &sink);
    while (t < 2e-3 && iters < ((int64_t)1 << 40)) {
        iters *= 2;
        t = run_once(fn, threads, iters, &sink);
    }
    double best = t, start = now_s();
    for (int rep = 0; rep < 1000 && now_s() - start < seconds; rep++) {
        t = run_once(fn, threads, iters, &sink);
        if (t < best) best = t;
    }
    double flops = 2.0 * (double)lanes * (double)iters * (double)threads;
    *gflops = flops / best / 1e9;
    return FC_SUCCESS;
}
