/* Workspaces: a caller's buffer, or a per-thread cache kept between calls so that
 * hot loops never pay for freshly mapped pages. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

typedef struct cache {
    void *p;
    size_t size;
} cache;

static pthread_key_t g_key;
/* Bytes of this thread's last failed allocation (0: none), so that the crossing can
 * name the size in its MemoryError. */
static _Thread_local size_t g_failed_bytes;

size_t fc_last_failed_alloc(void) { return g_failed_bytes; }
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void cache_free(void *v) {
    cache *c = (cache *)v;
    if (c) {
        free(c->p);
        free(c);
    }
}

static void make_key(void) { pthread_key_create(&g_key, cache_free); }

static cache *thread_cache(void) {
    pthread_once(&g_once, make_key);
    cache *c = (cache *)pthread_getspecific(g_key);
    if (!c) {
        c = (cache *)calloc(1, sizeof *c);
        if (c && pthread_setspecific(g_key, c) != 0) {
            free(c);
            c = NULL;
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

fc_status fc_workspace_open(void *user, size_t user_size, size_t need, fc_arena *out) {
    out->used = 0;
    g_failed_bytes = 0;
    if (user) {
        if (user_size < need) return FC_INVALID_WORKSPACE;
        out->base = (char *)user;
        out->size = user_size;
        return FC_SUCCESS;
    }
    if (need == 0) {
        out->base = NULL;
        out->size = 0;
        return FC_SUCCESS;
    }
    cache *c = thread_cache();
    if (!c) {
        g_failed_bytes = sizeof(cache);
        return FC_OUT_OF_MEMORY;
    }
    if (c->size < need) {
        size_t bytes = ((need + FC_ALIGN - 1) / FC_ALIGN) * FC_ALIGN;
        if (bytes < need) { /* rounding up wrapped around */
            g_failed_bytes = need;
            return FC_OUT_OF_MEMORY;
        }
        void *p = aligned_alloc(FC_ALIGN, bytes);
        if (!p) {
            g_failed_bytes = bytes;
            return FC_OUT_OF_MEMORY;
        }
        free(c->p);
        c->p = p;
        c->size = bytes;
    }
    out->base = (char *)c->p;
    out->size = c->size;
    return FC_SUCCESS;
}

void fc_release_workspace(void) {
    pthread_once(&g_once, make_key);
    cache *c = (cache *)pthread_getspecific(g_key);
    if (c) {
        free(c->p);
        c->p = NULL;
        c->size = 0;
    }
}
