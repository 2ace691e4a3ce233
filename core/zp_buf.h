/*
 * zp_buf.h: buffers and chains.
 *
 * A zp_buf_t describes bytes in memory ([pos, last) inside [start, end))
 * and/or a file range ([file_pos, file_last)). Bodies move through the
 * filters as zp_chain_t lists. The producer owns a buffer until the
 * consumer has moved pos to last; zp_chain_update_chains() then recycles
 * it through the producer's free list.
 */
#ifndef ZP_BUF_H
#define ZP_BUF_H

#include <zp_config.h>
#include <zp_core.h>
#include <zp_palloc.h>

typedef void *zp_buf_tag_t;

typedef struct zp_buf_s zp_buf_t;

struct zp_buf_s {
    u_char *pos;
    u_char *last;
    off_t   file_pos;
    off_t   file_last;

    u_char      *start; /* start of the memory */
    u_char      *end;   /* end of the memory */
    zp_buf_tag_t tag;   /* the owner, for zp_chain_update_chains() */
    zp_file_t   *file;
    zp_buf_t    *shadow; /* the buffer this one was copied from */

    /* the memory may be written to */
    unsigned temporary : 1;
    /* read-only memory (static strings, cached responses) */
    unsigned memory : 1;
    /* the memory is an mmap()ed file region */
    unsigned mmap : 1;

    unsigned recycled : 1;
    unsigned in_file : 1;
    unsigned flush : 1;
    unsigned sync : 1;
    unsigned last_buf : 1;      /* end of the whole body */
    unsigned last_in_chain : 1; /* end of this (sub)request's part */
    unsigned last_shadow : 1;
    unsigned temp_file : 1;
    /* the bytes wait in a pipe (fd pipe), file_last - file_pos of them:
     * the HTTP/1 writer splices them to the socket without a copy */
    unsigned in_pipe : 1;

    int num;
    int pipe;
};

struct zp_chain_s {
    zp_buf_t   *buf;
    zp_chain_t *next;
};

typedef struct {
    zp_int_t num;
    size_t   size;
} zp_bufs_t;

#define zp_buf_in_memory(b)      ((b)->temporary || (b)->memory || (b)->mmap)
#define zp_buf_in_memory_only(b) (zp_buf_in_memory(b) && !(b)->in_file)

/* A buffer that carries only a flag (flush, last_buf, sync), no data. */
#define zp_buf_special(b)                                                                          \
    (((b)->flush || (b)->last_buf || (b)->sync) && !zp_buf_in_memory(b) && !(b)->in_file)

#define zp_buf_sync_only(b)                                                                        \
    ((b)->sync && !zp_buf_in_memory(b) && !(b)->in_file && !(b)->flush && !(b)->last_buf)

#define zp_buf_size(b)                                                                             \
    (zp_buf_in_memory(b) ? (off_t)((b)->last - (b)->pos) : ((b)->file_last - (b)->file_pos))

#define zp_alloc_buf(pool)  zp_palloc(pool, sizeof(zp_buf_t))
#define zp_calloc_buf(pool) zp_pcalloc(pool, sizeof(zp_buf_t))

/* Returns a link to the pool's free list; the pool keeps it until it goes. */
#define zp_free_chain(pool, cl)                                                                    \
    do {                                                                                           \
        (cl)->next    = (pool)->chain;                                                             \
        (pool)->chain = (cl);                                                                      \
    } while (0)

/* A zeroed buffer with size bytes of writable memory; NULL on failure. */
zp_buf_t *zp_create_temp_buf(zp_pool_t *pool, size_t size);

/* The same, with the memory taken from cache for the pool's lifetime (see
 * zp_pcache_alloc()): for the buffers every request needs. */
zp_buf_t *zp_create_cached_buf(zp_pool_t *pool, zp_mem_cache_t *cache, size_t size);

/* bufs->num temporary buffers of bufs->size bytes in one allocation, chained
 * in order; NULL on failure. */
zp_chain_t *zp_create_chain_of_bufs(zp_pool_t *pool, zp_bufs_t *bufs);

/* A chain link, from the pool's free list if it has one; NULL on failure.
 * ->buf and ->next are not set. */
zp_chain_t *zp_alloc_chain_link(zp_pool_t *pool);

/* Appends links for the buffers of in to *chain (the buffers are shared,
 * not copied). ZP_OK or ZP_ERROR. */
zp_int_t zp_chain_add_copy(zp_pool_t *pool, zp_chain_t **chain, zp_chain_t *in);

/*
 * After a write: appends *out to *busy and clears *out, then moves the
 * fully sent buffers at the head of *busy to *free (rewound, when tagged
 * with tag) or back to the pool (other owners' links). Stops at the first
 * buffer with data left.
 */
void zp_chain_update_chains(zp_pool_t *p, zp_chain_t **free, zp_chain_t **busy, zp_chain_t **out,
                            zp_buf_tag_t tag);

/* Advances pos/file_pos over sent bytes of in after a partial write and
 * returns the first link with data left (NULL if all went). */
zp_chain_t *zp_chain_update_sent(zp_chain_t *in, off_t sent);

#endif /* ZP_BUF_H */
