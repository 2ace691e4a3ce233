/*
 * zp_palloc.c: memory pools and the malloc() wrappers.
 */
#include <zp_config.h>
#include <zp_core.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

static void *zp_palloc_small(zp_pool_t *pool, size_t size, zp_uint_t align);
static void *zp_palloc_block(zp_pool_t *pool, size_t size);
static void *zp_palloc_large(zp_pool_t *pool, size_t size);
static void  zp_pool_run_cleanups(zp_pool_t *pool);


void *
zp_alloc(size_t size, zp_log_t *log)
{
    void *p;

    p = malloc(size);
    if (p == NULL) {
        zp_log_error(ZP_LOG_EMERG, log, zp_errno, "malloc(%uz) failed", size);
    }

    return p;
}


void *
zp_calloc(size_t size, zp_log_t *log)
{
    void *p;

    p = zp_alloc(size, log);
    if (p) {
        zp_memzero(p, size);
    }

    return p;
}


void *
zp_memalign(size_t alignment, size_t size, zp_log_t *log)
{
    void *p;
    int   err;

    /* posix_memalign() reports through its return value, not errno */
    err = posix_memalign(&p, alignment, size);
    if (err) {
        zp_log_error(ZP_LOG_EMERG, log, err, "posix_memalign(%uz, %uz) failed", alignment, size);
        return NULL;
    }

    return p;
}


zp_pool_t *
zp_create_pool(size_t size, zp_log_t *log)
{
    zp_pool_t *p;

    if (size < ZP_MIN_POOL_SIZE) {
        size = ZP_MIN_POOL_SIZE;
    }

    p = zp_memalign(ZP_POOL_ALIGNMENT, size, log);
    if (p == NULL) {
        return NULL;
    }

    p->d.last   = (u_char *)p + sizeof(zp_pool_t);
    p->d.end    = (u_char *)p + size;
    p->d.next   = NULL;
    p->d.failed = 0;

    size   = size - sizeof(zp_pool_t);
    p->max = (size < ZP_MAX_ALLOC_FROM_POOL) ? size : ZP_MAX_ALLOC_FROM_POOL;

    p->current = p;
    p->chain   = NULL;
    p->large   = NULL;
    p->cleanup = NULL;
    p->log     = log;

    return p;
}


static void
zp_pool_run_cleanups(zp_pool_t *pool)
{
    zp_pool_cleanup_t *c;
    zp_pool_cleanup_pt handler;

    /* clearing the handler before the call makes each one run once, even
     * if a handler resets this pool */
    for (c = pool->cleanup; c; c = c->next) {
        if (c->handler) {
            handler    = c->handler;
            c->handler = NULL;
            handler(c->data);
        }
    }
}


void
zp_destroy_pool(zp_pool_t *pool)
{
    zp_pool_t       *p, *n;
    zp_pool_large_t *l;

    zp_pool_run_cleanups(pool);

    for (l = pool->large; l; l = l->next) {
        if (l->alloc) {
            zp_free(l->alloc);
        }
    }

    /* the large records live in the blocks, so the blocks go last */
    for (p = pool; p; p = n) {
        n = p->d.next;
        zp_free(p);
    }
}


void
zp_reset_pool(zp_pool_t *pool)
{
    zp_pool_t       *p;
    zp_pool_large_t *l;

    /* cleanup records live in the memory being rewound: run them now
     * rather than leave the list pointing into reused space */
    zp_pool_run_cleanups(pool);
    pool->cleanup = NULL;

    for (l = pool->large; l; l = l->next) {
        if (l->alloc) {
            zp_free(l->alloc);
        }
    }

    pool->d.last   = (u_char *)pool + sizeof(zp_pool_t);
    pool->d.failed = 0;

    for (p = pool->d.next; p; p = p->d.next) {
        p->d.last   = (u_char *)p + sizeof(zp_pool_data_t);
        p->d.failed = 0;
    }

    pool->current = pool;
    pool->chain   = NULL;
    pool->large   = NULL;
}


void *
zp_palloc(zp_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return zp_palloc_small(pool, size, 1);
    }

    return zp_palloc_large(pool, size);
}


void *
zp_pnalloc(zp_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return zp_palloc_small(pool, size, 0);
    }

    return zp_palloc_large(pool, size);
}


void *
zp_pcalloc(zp_pool_t *pool, size_t size)
{
    void *p;

    p = zp_palloc(pool, size);
    if (p) {
        zp_memzero(p, size);
    }

    return p;
}


static void *
zp_palloc_small(zp_pool_t *pool, size_t size, zp_uint_t align)
{
    u_char    *m;
    zp_pool_t *p;

    for (p = pool->current; p; p = p->d.next) {
        m = p->d.last;

        if (align) {
            m = zp_align_ptr(m, ZP_ALIGNMENT);
        }

        /* aligning may step past end in a nearly full block */
        if (m <= p->d.end && (size_t)(p->d.end - m) >= size) {
            p->d.last = m + size;
            return m;
        }
    }

    return zp_palloc_block(pool, size);
}


static void *
zp_palloc_block(zp_pool_t *pool, size_t size)
{
    u_char    *m;
    size_t     psize;
    zp_pool_t *p, *new;

    /* every block has the first one's size */
    psize = (size_t)(pool->d.end - (u_char *)pool);

    m = zp_memalign(ZP_POOL_ALIGNMENT, psize, pool->log);
    if (m == NULL) {
        return NULL;
    }

    new = (zp_pool_t *)m;

    new->d.end    = m + psize;
    new->d.next   = NULL;
    new->d.failed = 0;

    m           = zp_align_ptr(m + sizeof(zp_pool_data_t), ZP_ALIGNMENT);
    new->d.last = m + size;

    /*
     * A block that missed a few requests is nearly full: stop searching
     * it, so that allocation stays O(1) in long-lived pools.
     */
    for (p = pool->current; p->d.next; p = p->d.next) {
        if (p->d.failed++ > 4) {
            pool->current = p->d.next;
        }
    }

    p->d.next = new;

    return m;
}


static void *
zp_palloc_large(zp_pool_t *pool, size_t size)
{
    void            *p;
    zp_uint_t        n;
    zp_pool_large_t *large;

    p = zp_alloc(size, pool->log);
    if (p == NULL) {
        return NULL;
    }

    /* reuse a slot freed by zp_pfree(), looking only near the head */
    n = 0;

    for (large = pool->large; large; large = large->next) {
        if (large->alloc == NULL) {
            large->alloc = p;
            return p;
        }

        if (n++ > 3) {
            break;
        }
    }

    large = zp_palloc_small(pool, sizeof(zp_pool_large_t), 1);
    if (large == NULL) {
        zp_free(p);
        return NULL;
    }

    large->alloc = p;
    large->next  = pool->large;
    pool->large  = large;

    return p;
}


void *
zp_pmemalign(zp_pool_t *pool, size_t size, size_t alignment)
{
    void            *p;
    zp_pool_large_t *large;

    p = zp_memalign(alignment, size, pool->log);
    if (p == NULL) {
        return NULL;
    }

    large = zp_palloc_small(pool, sizeof(zp_pool_large_t), 1);
    if (large == NULL) {
        zp_free(p);
        return NULL;
    }

    large->alloc = p;
    large->next  = pool->large;
    pool->large  = large;

    return p;
}


zp_int_t
zp_pfree(zp_pool_t *pool, void *p)
{
    zp_pool_large_t *l;

    for (l = pool->large; l; l = l->next) {
        if (p == l->alloc) {
            zp_free(l->alloc);
            l->alloc = NULL;

            return ZP_OK;
        }
    }

    return ZP_DECLINED;
}


zp_pool_cleanup_t *
zp_pool_cleanup_add(zp_pool_t *p, size_t size)
{
    zp_pool_cleanup_t *c;

    c = zp_palloc(p, sizeof(zp_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = zp_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }

    } else {
        c->data = NULL;
    }

    c->handler = NULL;
    c->next    = p->cleanup;

    p->cleanup = c;

    return c;
}


void
zp_pool_run_cleanup_file(zp_pool_t *p, zp_fd_t fd)
{
    zp_pool_cleanup_t      *c;
    zp_pool_cleanup_file_t *cf;

    for (c = p->cleanup; c; c = c->next) {
        if (c->handler == zp_pool_cleanup_file) {
            cf = c->data;

            if (cf->fd == fd) {
                c->handler = NULL;
                zp_pool_cleanup_file(cf);
                return;
            }
        }
    }
}


void
zp_pool_cleanup_file(void *data)
{
    zp_pool_cleanup_file_t *c = data;

    if (close(c->fd) == -1) {
        zp_log_error(ZP_LOG_ALERT, c->log, zp_errno, "close() \"%s\" failed", c->name);
    }
}


void
zp_pool_delete_file(void *data)
{
    zp_pool_cleanup_file_t *c = data;
    zp_err_t                err;

    if (unlink((const char *)c->name) == -1) {
        err = zp_errno;

        /* already gone is what we wanted */
        if (err != ENOENT) {
            zp_log_error(ZP_LOG_CRIT, c->log, err, "unlink() \"%s\" failed", c->name);
        }
    }

    if (close(c->fd) == -1) {
        zp_log_error(ZP_LOG_ALERT, c->log, zp_errno, "close() \"%s\" failed", c->name);
    }
}


zp_pool_t *
zp_pool_cache_get(zp_pool_cache_t *cache, size_t size, zp_log_t *log)
{
    zp_pool_t *pool;

    if (cache->n && cache->size == size) {
        pool      = cache->pools[--cache->n];
        pool->log = log;
        return pool;
    }

    return zp_create_pool(size, log);
}


void
zp_pool_cache_put(zp_pool_cache_t *cache, zp_pool_t *pool)
{
    size_t size = pool->d.end - (u_char *) pool;

    zp_reset_pool(pool);

    if (cache->size == 0) {
        cache->size = size;
    }

    if (pool->d.next == NULL && cache->n < ZP_CACHE_MAX && cache->size == size) {
        cache->pools[cache->n++] = pool;
        return;
    }

    zp_destroy_pool(pool);
    zp_heap_trim_later();
}


void *
zp_mem_cache_get(zp_mem_cache_t *cache, size_t size, zp_log_t *log)
{
    if (cache->n && cache->size == size) {
        return cache->blocks[--cache->n];
    }

    return zp_alloc(size, log);
}


void
zp_mem_cache_put(zp_mem_cache_t *cache, void *p, size_t size)
{
    if (cache->size == 0) {
        cache->size = size;
    }

    if (cache->n < ZP_CACHE_MAX && cache->size == size) {
        cache->blocks[cache->n++] = p;
        return;
    }

    zp_free(p);
    zp_heap_trim_later();
}


typedef struct {
    zp_mem_cache_t *cache;
    void           *p;
    size_t          size;
} zp_pcache_block_t;


static void
zp_pcache_release(void *data)
{
    zp_pcache_block_t *b = data;

    zp_mem_cache_put(b->cache, b->p, b->size);
}


void *
zp_pcache_alloc(zp_pool_t *pool, zp_mem_cache_t *cache, size_t size)
{
    zp_pool_cleanup_t *cln;
    zp_pcache_block_t *b;

    cln = zp_pool_cleanup_add(pool, sizeof(zp_pcache_block_t));
    if (cln == NULL) {
        return NULL;
    }

    b = cln->data;
    b->p = zp_mem_cache_get(cache, size, pool->log);
    if (b->p == NULL) {
        return NULL; /* the cleanup's handler is still NULL: skipped */
    }

    b->cache     = cache;
    b->size      = size;
    cln->handler = zp_pcache_release;

    return b->p;
}


#if defined(__GLIBC__)

static void
zp_heap_trim_handler(zp_event_t *ev)
{
    struct mallinfo2 mi = mallinfo2();

    if (mi.fordblks >= ZP_HEAP_TRIM_MIN) {
        malloc_trim(0);
        zp_log_debug(ZP_LOG_DEBUG, ev->log, 0, "heap trimmed: %uz bytes were free",
                     (size_t) mi.fordblks);
    }
}

#endif


void
zp_heap_trim_later(void)
{
#if defined(__GLIBC__)
    static zp_event_t ev;

    if (zp_process != ZP_PROCESS_WORKER || ev.timer_set) {
        return;
    }

    ev.handler    = zp_heap_trim_handler;
    ev.log        = zp_cycle->log;
    ev.cancelable = 1;
    zp_event_add_timer(&ev, 1000);
#endif
}
