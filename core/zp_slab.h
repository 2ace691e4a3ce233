/*
 * zp_slab.h: a slab allocator inside a shared memory zone.
 *
 * The zone is cut into pages of zp_pagesize. Requests up to half a page
 * are rounded up to a power of two (8 bytes at least) and served from
 * pages holding chunks of one size; larger requests take whole pages.
 * Freed pages are merged with free neighbours, so a zone that was full of
 * small chunks can hold a large object again once they are freed.
 *
 * Everything here, including the list heads, lives inside the zone and
 * holds only pointers into the zone: the zone is mapped before fork() at
 * the same address in every process.
 */
#ifndef ZP_SLAB_H
#define ZP_SLAB_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct zp_slab_page_s zp_slab_page_t;

struct zp_slab_page_s {
    uintptr_t       slab; /* run length, chunk bitmap or chunk shift, see zp_slab.c */
    zp_slab_page_t *next;
    uintptr_t       prev; /* previous page, with the page type in the low 2 bits */
};

typedef struct {
    zp_uint_t total; /* chunks in pages of this size */
    zp_uint_t used;
    zp_uint_t reqs;
    zp_uint_t fails;
} zp_slab_stat_t;

typedef struct {
    zp_shmtx_sh_t   lock;
    zp_shmtx_t      mutex;

    size_t          min_size;
    size_t          min_shift; /* set by the caller before zp_slab_init(); 0 means 3 */

    zp_slab_page_t *pages;  /* one descriptor per page */
    zp_slab_page_t *last;   /* one past the last descriptor */
    zp_slab_page_t  free;   /* head of the list of free page runs */

    zp_slab_stat_t *stats;  /* one per size class */
    zp_uint_t       pfree;  /* free pages */

    u_char         *start;  /* first page */
    u_char         *end;    /* end of the zone; set by the caller */

    u_char         *log_ctx; /* appended to messages, e.g. " in zone \"one\"";
                               * must point into the zone (allocate it here) */
    u_char          zero;

    unsigned        log_nomem : 1; /* log the next "no memory" */

    void           *data;   /* the module's root object, inside the zone */
    void           *addr;   /* where the zone was mapped, to detect a move */
} zp_slab_pool_t;

/* Process-local log for slab messages; zp_slab_init_zone() sets it, the
 * cycle code may repoint it on reload. NULL means zp_log_stderr_log. */
extern zp_log_t *zp_slab_log;

/* Computes the size classes from zp_pagesize (reading it first if
 * zp_os_init_sizes() has not run). Call once before any zone exists. */
void zp_slab_sizes_init(void);

/* Lays out pool->end - pool pool bytes starting at pool: the header, the
 * size class lists, page descriptors and the pages. pool->end (and
 * optionally min_shift) must be set; the mutex is not touched. Returns
 * ZP_ERROR when the zone cannot hold a single page. */
zp_int_t zp_slab_init(zp_slab_pool_t *pool);

/* Puts a zp_slab_pool_t at the start of zone->shm.addr, creates its mutex
 * and initialises it. For a zone inherited on reload (shm.exists) it only
 * checks that it is mapped at the same address. ZP_OK or ZP_ERROR. */
zp_int_t zp_slab_init_zone(zp_shm_zone_t *zone, zp_log_t *log);

/* Allocation: NULL when the zone is full (logged once per zone until
 * log_nomem is set again). Size 0 gets the smallest chunk. Memory is
 * aligned to the chunk size (the power of two at or above size) for
 * small requests and to a page for large ones. The _locked variants
 * expect the caller to hold pool->mutex. */
void *zp_slab_alloc(zp_slab_pool_t *pool, size_t size);
void *zp_slab_alloc_locked(zp_slab_pool_t *pool, size_t size);
void *zp_slab_calloc(zp_slab_pool_t *pool, size_t size);
void *zp_slab_calloc_locked(zp_slab_pool_t *pool, size_t size);

/* Frees p. A pointer outside the zone, into the middle of a chunk or a
 * chunk already free is logged at ZP_LOG_ALERT and ignored. */
void zp_slab_free(zp_slab_pool_t *pool, void *p);
void zp_slab_free_locked(zp_slab_pool_t *pool, void *p);

#endif /* ZP_SLAB_H */
