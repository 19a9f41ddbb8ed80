/* The machine's own FMA throughput, measured on the ISA path in use: the
 * denominator of "percent of peak" in the benchmark tables and fastconv.info(). */
#include <time.h>

#include "internal.h"
#include "core/registry.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: on a shared machine a thread is preempted now and
 * then, and wall time would measure the other processes, not the FMA units. */
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rounds per CPU-second summed over `threads` threads each running fn(iters) at once
 * (the sink only keeps the results alive). */
static double run_once(fc_peak_fma_fn fn, int threads, int64_t iters, volatile double *sink) {
    double rate = 0.0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : rate)
    {
        double t0 = thread_cpu_s();
        double r = fn(iters, 1.0f + (float)omp_get_thread_num());
        double t = thread_cpu_s() - t0;
        if (r == 0.0) *sink += r;
        rate += 1.0 / (t > 1e-9 ? t : 1e-9);
    }
#else
    (void)threads;
    double t0 = thread_cpu_s();
    double r = fn(iters, 1.0f);
    double t = thread_cpu_s() - t0;
    if (r == 0.0) *sink += r;
    rate = 1.0 / (t > 1e-9 ? t : 1e-9);
#endif
    return rate;
}

fc_status fc_measure_fma_gflops(int threads, double seconds, double *gflops) {
    FC_CALL_SCOPE();
    if (gflops == NULL || threads < 1 || threads > 4096 || !(seconds > 0.0) || seconds > 60.0)
        return FC_INVALID_ARGUMENT;
#ifndef _OPENMP
    threads = 1; /* a serial build has one thread to measure */
#endif
    /* a child forked after the pool started has no pool: a team would wait forever */
    if (fc_forked_single_thread()) threads = 1;
    fc_peak_fma_fn fn = fc_kernels_active()->peak.fma;
    int lanes = fc_kernels_active()->peak.lanes;
    volatile double sink = 0.0;
    /* Calibrate to rounds of about 5 ms of CPU time (the first rounds also wake the wide
     * units and the clocks). */
    int64_t iters = 1024;
    double t = 0.0;
    for (;;) {
        double t0 = thread_cpu_s();
        double r = fn(iters, 1.0f);
        t = thread_cpu_s() - t0;
        if (r == 0.0) sink += r;
        if (t >= 1e-3 || iters >= ((int64_t)1 << 40)) break;
        iters *= 2;
    }
    iters = (int64_t)((double)iters * 5e-3 / (t > 1e-9 ? t : 1e-9)) + 1;
    /* Then the best of as many rounds as `seconds` allows (at least 5). Threads that
     * share a core (SMT) each see the other's slowdown in their own CPU time, so the
     * sum stays honest. */
    double best = 0.0, start = now_s();
    for (int rep = 0; rep < 10000 && (rep < 5 || now_s() - start < seconds); rep++) {
        double rate = run_once(fn, threads, iters, &sink);
        if (rate > best) best = rate;
    }
    double flops = 2.0 * (double)lanes * (double)iters;
    *gflops = flops * best / 1e9;
    return FC_SUCCESS;
}
