/* Internal helpers shared by every op family. Not installed. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fastconv.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FC_ALIGN 64

static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t fc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Overflow-checked size arithmetic: return 0 on success, 1 on overflow. */
static inline int fc_mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
/* *out = a*b*c*d as int64, with every step checked; 1 on success. */
static inline int fc_prod4(int64_t a, int64_t b, int64_t c, int64_t d, int64_t *out) {
    int64_t t;
    return fc_mul_ok(a, b, &t) && fc_mul_ok(t, c, &t) && fc_mul_ok(t, d, out);
}

/* ------------------------------------------------------------ call scope */

/* Every public entry point that computes or sizes opens a call scope first:
 *     FC_CALL_SCOPE();
 * It snapshots the settings (ISA kernel table, threads, precision) for the whole call, keeps fc_set_isa and
 * fc_set_num_threads from changing them under the call's worker threads, and on the
 * way out trims the calling thread's workspace cache (see core/call.c). */
int fc_call_enter(void);
void fc_call_leave(int *unused);
#define FC_CALL_SCOPE() \
    int fc_call_scope_ __attribute__((cleanup(fc_call_leave), unused)) = fc_call_enter()
/* Nesting depth of the calling thread's scopes (0: outside any call). */
int fc_call_depth(void);

/* The threads kernels use: the call's snapshot (fc_set_num_threads / OMP_NUM_THREADS;
 * 1 in a child forked after the pool started). */
int fc_threads(void);
/* The settings themselves, read when a scope opens. */
int fc_threads_setting(void);
/* The calling thread's index in its OpenMP team and the team's size (0 and 1 outside
 * a parallel region, or in a build without OpenMP). */
static inline void fc_team(int *t, int *nt) {
#ifdef _OPENMP
    *t = omp_get_thread_num();
    *nt = omp_get_num_threads();
#else
    *t = 0;
    *nt = 1;
#endif
}
fc_precision fc_precision_setting(void);
/* The call's snapshot of fc_set_precision. */
fc_precision fc_precision_active(void);
/* fc_set_isa / fc_set_num_threads change a setting between the two. */
void fc_settings_write_begin(void);
void fc_settings_write_end(void);
/* 1 in a child forked after a multi-threaded call: OpenMP's pool is gone. */
int fc_forked_single_thread(void);

/* ------------------------------------------------------------ workspace */

/* A bump allocator over one workspace block. Pieces are FC_ALIGN-aligned. */
typedef struct fc_arena {
    char *base;
    size_t size, used;
    int owner; /* 0: caller's or none, 1: the thread's cache (lent), 2: its own block */
} fc_arena;

/* Bytes an arena needs for a piece of `bytes` (alignment slack included). */
static inline size_t fc_arena_piece(size_t bytes) {
    return ((bytes + FC_ALIGN - 1) / FC_ALIGN) * FC_ALIGN + FC_ALIGN;
}
/* Returns NULL when the arena is too small (a sizing bug, reported as FC_INVALID_WORKSPACE). */
void *fc_arena_alloc(fc_arena *a, size_t bytes);

/* Opens an arena of `need` bytes: the caller's buffer when given (it must hold
 * `need`), else the calling thread's cached buffer, grown when too small. The cache is
 * lent to one open arena at a time: an arena opened while it is lent (a nested call)
 * gets a block of its own, so no call can grow or free memory another still points
 * into. Every successful open is paired with fc_workspace_close. */
fc_status fc_workspace_open(void *user, size_t user_size, size_t need, fc_arena *out);
void fc_workspace_close(fc_arena *a);
/* An arena closed automatically when it goes out of scope, on every return path. */
#define FC_ARENA(name) fc_arena name __attribute__((cleanup(fc_workspace_close))) = {0}
/* At the end of the outermost call: returns a cache above the limit to the system. */
void fc_workspace_trim(void);
/* pthread_atfork handlers for the cache list's lock. */
void fc_workspace_before_fork(void);
void fc_workspace_after_fork_parent(void);
void fc_workspace_after_fork(void);
/* Bytes of the calling thread's last allocation that failed with FC_OUT_OF_MEMORY in
 * fc_workspace_open (0 when the last open succeeded). Not in fastconv.h, but exported
 * from the shared library: the crossing names the size in its MemoryError. */
FC_API size_t fc_last_failed_alloc(void);

/* Test hooks (not in fastconv.h; ctypes and the C tests call them). FC_TEST_MODE
 * defines setter(mode), which forces a path (1), forbids it (0) or leaves it to AUTO's
 * rule (-1), and getter(), the setting the planner obeys; not thread-safe.
 * FC_TEST_COUNTER(name) defines name(), how many calls took a path, which
 * FC_TEST_COUNT(name) adds one to (atomically: calls may run on several threads). */
#define FC_TEST_MODE(setter, getter)                                              \
    static int g_##getter = -1;                                                   \
    FC_API void setter(int mode) { g_##getter = mode < 0 ? -1 : mode > 0; }       \
    int getter(void) { return g_##getter; }
#define FC_TEST_COUNTER(name)                                                     \
    static int64_t g_##name = 0;                                                  \
    FC_API int64_t name(void) { return __atomic_load_n(&g_##name, __ATOMIC_RELAXED); }
#define FC_TEST_COUNT(name) __atomic_add_fetch(&g_##name, 1, __ATOMIC_RELAXED)

/* A size_t sum of piece sizes with overflow detection: adds fc_arena_piece(bytes). */
static inline int fc_ws_add(size_t *total, int64_t elems, size_t elem_size) {
    size_t bytes;
    if (elems < 0 || __builtin_mul_overflow((size_t)elems, elem_size, &bytes)) return 0;
    size_t piece = fc_arena_piece(bytes);
    if (piece < bytes) return 0;
    return !__builtin_add_overflow(*total, piece, total);
}

/* The call's kernel table: fc_kernels_active() in core/registry.h. */

#endif
