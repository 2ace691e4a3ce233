/*
 * zp_palloc.h: memory pools.
 *
 * A pool hands out memory for one lifetime (cycle, connection, request)
 * and frees it all at once. Small requests are bumped out of a chain of
 * blocks; requests above pool->max go to malloc() and are listed, so that
 * zp_pfree() can give them back early. Cleanup handlers attached with
 * zp_pool_cleanup_add() run, newest first, when the pool is destroyed.
 */
#ifndef ZP_PALLOC_H
#define ZP_PALLOC_H

#include <zp_config.h>
#include <zp_core.h>

/* Larger requests bypass the blocks: one page minus one, as in nginx. */
#define ZP_MAX_ALLOC_FROM_POOL 4095

#define ZP_DEFAULT_POOL_SIZE (16 * 1024)

#define ZP_POOL_ALIGNMENT 16
#define ZP_MIN_POOL_SIZE                                                                           \
    zp_align((sizeof(zp_pool_t) + 2 * sizeof(zp_pool_large_t)), ZP_POOL_ALIGNMENT)

typedef void (*zp_pool_cleanup_pt)(void *data);

typedef struct zp_pool_cleanup_s zp_pool_cleanup_t;

struct zp_pool_cleanup_s {
    zp_pool_cleanup_pt handler; /* NULL: skipped (not set yet, or already run) */
    void              *data;
    zp_pool_cleanup_t *next;
};

typedef struct zp_pool_large_s zp_pool_large_t;

struct zp_pool_large_s {
    zp_pool_large_t *next;
    void            *alloc; /* NULL once zp_pfree()d; the slot is reused */
};

/* The head of every block; the first block also carries the rest of zp_pool_t. */
typedef struct {
    u_char    *last; /* first free byte */
    u_char    *end;
    zp_pool_t *next;
    zp_uint_t  failed; /* times this block was too full */
} zp_pool_data_t;

struct zp_pool_s {
    zp_pool_data_t     d;
    size_t             max;     /* largest request served from blocks */
    zp_pool_t         *current; /* first block worth searching */
    zp_chain_t        *chain;   /* free chain links, see zp_alloc_chain_link() */
    zp_pool_large_t   *large;
    zp_pool_cleanup_t *cleanup;
    zp_log_t          *log;
};

typedef struct {
    zp_fd_t   fd;
    u_char   *name; /* NUL-terminated, for the log */
    zp_log_t *log;
} zp_pool_cleanup_file_t;

/* malloc() wrappers that log failures at "emerg" on log. */
void *zp_alloc(size_t size, zp_log_t *log);
void *zp_calloc(size_t size, zp_log_t *log);
void *zp_memalign(size_t alignment, size_t size, zp_log_t *log);
#define zp_free free

/*
 * Creates a pool whose blocks are size bytes (raised to ZP_MIN_POOL_SIZE).
 * log is kept in pool->log for allocation failures and may be changed
 * later. Returns NULL on failure.
 */
zp_pool_t *zp_create_pool(size_t size, zp_log_t *log);

/* Runs the cleanup handlers, then frees every block and large allocation. */
void zp_destroy_pool(zp_pool_t *pool);

/* Makes the pool empty again for reuse: runs and forgets the cleanup
 * handlers, frees large allocations and rewinds every block. */
void zp_reset_pool(zp_pool_t *pool);

/* Allocation. NULL on failure (already logged). zp_palloc() aligns to
 * ZP_ALIGNMENT; zp_pnalloc() does not (strings); zp_pcalloc() zeroes. */
void *zp_palloc(zp_pool_t *pool, size_t size);
void *zp_pnalloc(zp_pool_t *pool, size_t size);
void *zp_pcalloc(zp_pool_t *pool, size_t size);

/* Always a large allocation, aligned to alignment (a power of two). */
void *zp_pmemalign(zp_pool_t *pool, size_t size, size_t alignment);

/* Frees p early if it is a large allocation of pool: ZP_OK. Small
 * allocations stay until the pool goes: ZP_DECLINED. */
zp_int_t zp_pfree(zp_pool_t *pool, void *p);

/*
 * Adds a cleanup record. When size > 0, c->data points to size bytes of
 * uninitialised pool memory for the handler's state; otherwise it is NULL.
 * The caller sets c->handler (and fills c->data). NULL on failure.
 */
zp_pool_cleanup_t *zp_pool_cleanup_add(zp_pool_t *p, size_t size);

/*
 * Per-process caches of free pools and of free memory blocks of one size,
 * for what every connection or request needs: taking one back costs no
 * malloc() and no page fault, in the steady state. ZP_CACHE_MAX entries
 * each; what does not fit is freed (and zp_heap_trim_later() is asked).
 *
 * A cache holds pools, or blocks, of one size: the size of the first one
 * ever put into it; others simply go to malloc()/free(). A
 * pool is reset when put (its cleanups run) and kept only if it did not
 * grow beyond its first block.
 */
#define ZP_CACHE_MAX 64

typedef struct {
    zp_pool_t *pools[ZP_CACHE_MAX];
    zp_uint_t  n;
    size_t     size;
} zp_pool_cache_t;

typedef struct {
    void      *blocks[ZP_CACHE_MAX];
    zp_uint_t  n;
    size_t     size;
} zp_mem_cache_t;

zp_pool_t *zp_pool_cache_get(zp_pool_cache_t *cache, size_t size, zp_log_t *log);
void       zp_pool_cache_put(zp_pool_cache_t *cache, zp_pool_t *pool);
void      *zp_mem_cache_get(zp_mem_cache_t *cache, size_t size, zp_log_t *log);
void       zp_mem_cache_put(zp_mem_cache_t *cache, void *p, size_t size);

/*
 * Allocates a size-byte block from cache for the lifetime of pool: the
 * block goes back to the cache when the pool is reset or destroyed.
 * NULL on failure.
 */
void *zp_pcache_alloc(zp_pool_t *pool, zp_mem_cache_t *cache, size_t size);

/*
 * A burst leaves the pools and buffers it used free in the heap, and glibc
 * keeps free memory below the top of the heap for good: a worker would
 * keep the RSS of its busiest second. Code that frees memory its caches
 * could not keep calls zp_heap_trim_later(): a second later (a cancelable
 * worker timer, armed once), if at least ZP_HEAP_TRIM_MIN bytes of the
 * heap are free, malloc_trim() gives the whole free pages back to the
 * kernel. Does nothing outside a worker or without glibc.
 */
#define ZP_HEAP_TRIM_MIN (1024 * 1024)

void zp_heap_trim_later(void);

/* Runs now the zp_pool_cleanup_file() record for fd, if any, and disarms it. */
void zp_pool_run_cleanup_file(zp_pool_t *p, zp_fd_t fd);

/* Cleanup handlers taking a zp_pool_cleanup_file_t: close the fd, or
 * unlink the file by name and close it. */
void zp_pool_cleanup_file(void *data);
void zp_pool_delete_file(void *data);

#endif /* ZP_PALLOC_H */
