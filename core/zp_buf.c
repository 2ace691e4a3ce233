/*
 * zp_buf.c: buffers and chains.
 */
#include <zp_config.h>
#include <zp_core.h>


static zp_buf_t *
zp_buf_wrap(zp_pool_t *pool, u_char *p, size_t size)
{
    zp_buf_t *b;

    if (p == NULL) {
        return NULL;
    }

    b = zp_calloc_buf(pool);
    if (b == NULL) {
        return NULL;
    }

    b->start     = p;
    b->pos       = p;
    b->last      = p;
    b->end       = p + size;
    b->temporary = 1;

    return b;
}


zp_buf_t *
zp_create_temp_buf(zp_pool_t *pool, size_t size)
{
    return zp_buf_wrap(pool, zp_palloc(pool, size), size);
}


zp_buf_t *
zp_create_cached_buf(zp_pool_t *pool, zp_mem_cache_t *cache, size_t size)
{
    return zp_buf_wrap(pool, zp_pcache_alloc(pool, cache, size), size);
}


zp_chain_t *
zp_alloc_chain_link(zp_pool_t *pool)
{
    zp_chain_t *cl;

    cl = pool->chain;

    if (cl) {
        pool->chain = cl->next;
        return cl;
    }

    return zp_palloc(pool, sizeof(zp_chain_t));
}


zp_chain_t *
zp_create_chain_of_bufs(zp_pool_t *pool, zp_bufs_t *bufs)
{
    u_char     *p;
    zp_int_t    i;
    zp_buf_t   *b;
    zp_chain_t *chain, *cl, **ll;

    if (bufs->num <= 0 || bufs->size == 0 || (size_t)bufs->num > SIZE_MAX / bufs->size) {
        return NULL;
    }

    p = zp_palloc(pool, (size_t)bufs->num * bufs->size);
    if (p == NULL) {
        return NULL;
    }

    chain = NULL;
    ll    = &chain;

    for (i = 0; i < bufs->num; i++) {

        b = zp_calloc_buf(pool);
        if (b == NULL) {
            return NULL;
        }

        b->pos       = p;
        b->last      = p;
        b->temporary = 1;
        b->start     = p;
        p += bufs->size;
        b->end = p;

        cl = zp_alloc_chain_link(pool);
        if (cl == NULL) {
            return NULL;
        }

        cl->buf = b;
        *ll     = cl;
        ll      = &cl->next;
    }

    *ll = NULL;

    return chain;
}


zp_int_t
zp_chain_add_copy(zp_pool_t *pool, zp_chain_t **chain, zp_chain_t *in)
{
    zp_chain_t *cl, **ll;

    ll = chain;

    for (cl = *chain; cl; cl = cl->next) {
        ll = &cl->next;
    }

    while (in) {
        cl = zp_alloc_chain_link(pool);
        if (cl == NULL) {
            *ll = NULL;
            return ZP_ERROR;
        }

        cl->buf = in->buf;
        *ll     = cl;
        ll      = &cl->next;
        in      = in->next;
    }

    *ll = NULL;

    return ZP_OK;
}


void
zp_chain_update_chains(zp_pool_t *p, zp_chain_t **free, zp_chain_t **busy, zp_chain_t **out,
                       zp_buf_tag_t tag)
{
    zp_chain_t *cl;

    if (*out) {
        if (*busy == NULL) {
            *busy = *out;

        } else {
            for (cl = *busy; cl->next; cl = cl->next) {
                /* void */
            }

            cl->next = *out;
        }

        *out = NULL;
    }

    while (*busy) {
        cl = *busy;

        /* someone else's buffer: drop our link, the owner recycles it */
        if (cl->buf->tag != tag) {
            *busy = cl->next;
            zp_free_chain(p, cl);
            continue;
        }

        /* buffers go out in order, so the rest are still busy too */
        if (zp_buf_size(cl->buf) != 0) {
            break;
        }

        cl->buf->pos  = cl->buf->start;
        cl->buf->last = cl->buf->start;

        *busy    = cl->next;
        cl->next = *free;
        *free    = cl;
    }
}


zp_chain_t *
zp_chain_update_sent(zp_chain_t *in, off_t sent)
{
    off_t size;

    for (/* void */; in; in = in->next) {

        if (zp_buf_special(in->buf)) {
            continue;
        }

        if (sent == 0) {
            break;
        }

        size = zp_buf_size(in->buf);

        if (sent >= size) {
            sent -= size;

            if (zp_buf_in_memory(in->buf)) {
                in->buf->pos = in->buf->last;
            }

            if (in->buf->in_file) {
                in->buf->file_pos = in->buf->file_last;
            }

            continue;
        }

        if (zp_buf_in_memory(in->buf)) {
            in->buf->pos += (size_t)sent;
        }

        if (in->buf->in_file) {
            in->buf->file_pos += sent;
        }

        break;
    }

    return in;
}
