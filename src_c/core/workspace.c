/* Workspaces: a caller's buffer, or a per-thread cache kept between calls so that
 * hot loops never pay for freshly mapped pages.
 *
 * The rules that keep it safe:
 * - the cache is lent to one open arena at a time; an arena opened while it is lent
 *   (a call made inside another call) gets a block of its own, freed on close. So no
 *   call can grow or free memory that another one still points into;
 * - at the end of the outermost call a cache larger than the limit
 *   (fc_set_workspace_cache_limit) is freed, so one huge call does not pin its peak;
 * - fc_release_workspace frees every thread's cache that is not lent out. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

typedef struct cache {
    void *p;
    size_t size;
    int lent;
    struct cache *prev, *next; /* every thread's cache, for fc_release_workspace */
} cache;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the list and p/size */
static cache *g_head;
static size_t g_limit = (size_t)256 << 20;
/* Bytes of this thread's last failed allocation (0: none), so that the crossing can
 * name the size in its MemoryError. */
static _Thread_local size_t g_failed_bytes;

size_t fc_last_failed_alloc(void) { return g_failed_bytes; }

static void unlink_cache(cache *c) {
    if (c->prev) c->prev->next = c->next;
    else g_head = c->next;
    if (c->next) c->next->prev = c->prev;
}

static void cache_free(void *v) { /* thread exit */
    cache *c = (cache *)v;
    if (!c) return;
    pthread_mutex_lock(&g_lock);
    unlink_cache(c);
    pthread_mutex_unlock(&g_lock);
    free(c->p);
    free(c);
}

static void make_key(void) { pthread_key_create(&g_key, cache_free); }

static cache *thread_cache(int create) {
    pthread_once(&g_once, make_key);
    cache *c = (cache *)pthread_getspecific(g_key);
    if (!c && create) {
        c = (cache *)calloc(1, sizeof *c);
        if (c && pthread_setspecific(g_key, c) != 0) {
            free(c);
            return NULL;
        }
        if (c) {
            pthread_mutex_lock(&g_lock);
            c->next = g_head;
            if (g_head) g_head->prev = c;
            g_head = c;
            pthread_mutex_unlock(&g_lock);
        }
    }
    return c;
}

void *fc_arena_alloc(fc_arena *a, size_t bytes) {
    uintptr_t start = ((uintptr_t)(a->base + a->used) + FC_ALIGN - 1) & ~(uintptr_t)(FC_ALIGN - 1);
    size_t off = (size_t)(start - (uintptr_t)a->base);
    if (off > a->size || a->size - off < bytes) return NULL;
    a->used = off + bytes;
    return (void *)start;
}

static void *alloc_block(size_t need, size_t *bytes) {
    *bytes = ((need + FC_ALIGN - 1) / FC_ALIGN) * FC_ALIGN;
    if (*bytes < need) { /* rounding up wrapped around */
        g_failed_bytes = need;
        return NULL;
    }
    void *p = aligned_alloc(FC_ALIGN, *bytes);
    if (!p) g_failed_bytes = *bytes;
    return p;
}

fc_status fc_workspace_open(void *user, size_t user_size, size_t need, fc_arena *out) {
    out->used = 0;
    out->owner = 0;
    g_failed_bytes = 0;
    if (user) {
        if (user_size < need) return FC_INVALID_WORKSPACE;
        out->base = (char *)user;
        out->size = user_size;
        return FC_SUCCESS;
    }
    out->base = NULL;
    out->size = 0;
    if (need == 0) return FC_SUCCESS;
    cache *c = thread_cache(1);
    if (!c) {
        g_failed_bytes = sizeof(cache);
        return FC_OUT_OF_MEMORY;
    }
    size_t bytes;
    pthread_mutex_lock(&g_lock);
    int nested = c->lent;
    c->lent = 1; /* from here on only this thread touches p and size */
    pthread_mutex_unlock(&g_lock);
    if (nested) { /* a call inside a call: a block of its own */
        void *p = alloc_block(need, &bytes);
        if (!p) return FC_OUT_OF_MEMORY;
        out->base = (char *)p;
        out->size = bytes;
        out->owner = 2;
        return FC_SUCCESS;
    }
    if (c->size < need) {
        void *p = alloc_block(need, &bytes);
        pthread_mutex_lock(&g_lock);
        if (p) {
            free(c->p);
            c->p = p;
            c->size = bytes;
        } else {
            c->lent = 0;
        }
        pthread_mutex_unlock(&g_lock);
        if (!p) return FC_OUT_OF_MEMORY;
    }
    out->base = (char *)c->p;
    out->size = c->size;
    out->owner = 1;
    return FC_SUCCESS;
}

void fc_workspace_close(fc_arena *a) {
    if (a->owner == 2) free(a->base);
    else if (a->owner == 1) {
        cache *c = thread_cache(0);
        pthread_mutex_lock(&g_lock);
        if (c) c->lent = 0;
        pthread_mutex_unlock(&g_lock);
    }
    a->owner = 0;
    a->base = NULL;
    a->size = a->used = 0;
}

static void free_cache(cache *c) { /* with g_lock held */
    free(c->p);
    c->p = NULL;
    c->size = 0;
}

void fc_workspace_trim(void) {
    cache *c = thread_cache(0);
    if (!c) return;
    pthread_mutex_lock(&g_lock);
    if (!c->lent && c->size > __atomic_load_n(&g_limit, __ATOMIC_RELAXED)) free_cache(c);
    pthread_mutex_unlock(&g_lock);
}

void fc_release_workspace(void) {
    pthread_mutex_lock(&g_lock);
    for (cache *c = g_head; c; c = c->next)
        if (!c->lent) free_cache(c);
    pthread_mutex_unlock(&g_lock);
}

void fc_set_workspace_cache_limit(size_t bytes) {
    __atomic_store_n(&g_limit, bytes, __ATOMIC_RELAXED);
}

size_t fc_get_workspace_cache_limit(void) { return __atomic_load_n(&g_limit, __ATOMIC_RELAXED); }

size_t fc_workspace_cache_bytes(void) {
    size_t total = 0;
    pthread_mutex_lock(&g_lock);
    for (cache *c = g_head; c; c = c->next) total += c->size;
    pthread_mutex_unlock(&g_lock);
    return total;
}

void fc_workspace_before_fork(void) { pthread_mutex_lock(&g_lock); }
void fc_workspace_after_fork_parent(void) { pthread_mutex_unlock(&g_lock); }
void fc_workspace_after_fork(void) {
    /* The lock was taken before the fork; the child's only thread owns its copy. */
    pthread_mutex_unlock(&g_lock);
}
