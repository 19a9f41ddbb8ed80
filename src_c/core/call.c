/* Call scopes: what every public entry point that computes holds for its duration.
 *
 * - A snapshot of the settings (the ISA's kernel table, thread count, precision) taken once
 *   when the outermost scope opens; fc_kernels_active() and fc_threads() return it for the
 *   whole call, so
 *   planning, workspace sizing and running can never disagree.
 * - A read lock on those settings: fc_set_isa / fc_set_num_threads take the write
 *   lock, so they wait for calls in flight to finish and never change the settings
 *   under the OpenMP worker threads of another call (which read the globals).
 * - After fork: libgomp's thread pool does not survive fork (a parallel region in the
 *   child waits forever for the parent's threads). A child of a process that has run
 *   a multi-threaded call therefore runs every call on the calling thread alone.
 *
 * Nested scopes (a public entry point used by another, such as transposed convolution
 * through convolution) only count depth: the snapshot and the lock are the outermost's. */
#include <pthread.h>

#include "internal.h"
#include "core/registry.h"

/* Writers wait for readers in flight, and new readers wait behind a waiting writer
 * (so a stream of calls cannot starve fc_set_isa); only the outermost scope locks,
 * so a nested scope never re-enters the lock. */
static pthread_rwlock_t g_settings;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static _Thread_local int tl_depth;
static _Thread_local const fc_kernels *tl_kernels;
static _Thread_local int tl_threads;
static _Thread_local fc_precision tl_precision;

/* 1 once a call has run with more than one thread (libgomp's pool then exists);
 * 2 in a child forked after that: every call runs on one thread. */
static int g_pool_state;

static void init_lock(void) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&g_settings, &a);
    pthread_rwlockattr_destroy(&a);
}

static void after_fork_child(void) {
    /* The child has one thread: no call is in flight and no lock is held, whatever
     * the parent's other threads were doing at the fork. */
    init_lock();
    tl_depth = 0;
    if (__atomic_load_n(&g_pool_state, __ATOMIC_RELAXED) != 0)
        __atomic_store_n(&g_pool_state, 2, __ATOMIC_RELAXED);
    fc_workspace_after_fork();
}

static void once(void) {
    init_lock();
    pthread_atfork(fc_workspace_before_fork, fc_workspace_after_fork_parent, after_fork_child);
}

/* At load, so that a fork at any time finds the handlers registered. */
__attribute__((constructor)) static void register_fork_handlers(void) {
    pthread_once(&g_once, once);
}

static void settings_lock(int write) {
    pthread_once(&g_once, once);
    if (write) pthread_rwlock_wrlock(&g_settings);
    else pthread_rwlock_rdlock(&g_settings);
}

static void settings_unlock(void) { pthread_rwlock_unlock(&g_settings); }

void fc_settings_write_begin(void) { settings_lock(1); }
void fc_settings_write_end(void) { settings_unlock(); }

int fc_forked_single_thread(void) {
    return __atomic_load_n(&g_pool_state, __ATOMIC_RELAXED) == 2;
}

int fc_call_enter(void) {
    if (tl_depth++ == 0) {
        settings_lock(0);
        tl_kernels = fc_kernels_setting();
        tl_threads = fc_threads_setting();
        tl_precision = fc_precision_setting();
        if (tl_threads > 1 && __atomic_load_n(&g_pool_state, __ATOMIC_RELAXED) == 0)
            __atomic_store_n(&g_pool_state, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

void fc_call_leave(int *unused) {
    (void)unused;
    if (--tl_depth == 0) {
        settings_unlock();
        fc_workspace_trim();
    }
}

int fc_call_depth(void) { return tl_depth; }

/* Inside a call, the snapshot; outside one (an OpenMP worker thread of a call, or a
 * query such as fc_get_isa) the current setting, which no call can see change. */
const fc_kernels *fc_kernels_active(void) { return tl_depth ? tl_kernels : fc_kernels_setting(); }

int fc_threads(void) { return tl_depth ? tl_threads : fc_threads_setting(); }

fc_precision fc_precision_active(void) {
    return tl_depth ? tl_precision : fc_precision_setting();
}
