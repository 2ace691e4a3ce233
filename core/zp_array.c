/*
 * zp_array.c: growable arrays in pool memory.
 */
#include <zp_config.h>
#include <zp_core.h>


zp_array_t *
zp_array_create(zp_pool_t *p, zp_uint_t n, size_t size)
{
    zp_array_t *a;

    a = zp_palloc(p, sizeof(zp_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (zp_array_init(a, p, n, size) != ZP_OK) {
        return NULL;
    }

    return a;
}


void
zp_array_destroy(zp_array_t *a)
{
    zp_pool_t *p;

    p = a->pool;

    if ((u_char *)a->elts + a->size * a->nalloc == p->d.last) {
        p->d.last -= a->size * a->nalloc;
    }

    if ((u_char *)a + sizeof(zp_array_t) == p->d.last) {
        p->d.last = (u_char *)a;
    }
}


/* Makes room for n more elements; ZP_ERROR on overflow or no memory. */
static zp_int_t
zp_array_grow(zp_array_t *a, zp_uint_t n)
{
    void *new;
    size_t     size, extra;
    zp_uint_t  nalloc;
    zp_pool_t *p;

    p = a->pool;

    if (n > (SIZE_MAX / 2) / (a->size ? a->size : 1) - a->nalloc) {
        return ZP_ERROR;
    }

    size  = a->size * a->nalloc;
    extra = a->size * n;

    /* the array ends where the pool's first block is free: extend in place */
    if ((u_char *)a->elts + size == p->d.last && (size_t)(p->d.end - p->d.last) >= extra) {
        p->d.last += extra;
        a->nalloc += n;
        return ZP_OK;
    }

    nalloc = 2 * ((n >= a->nalloc) ? n : a->nalloc);

    new = zp_palloc(p, nalloc * a->size);
    if (new == NULL) {
        return ZP_ERROR;
    }

    if (size) {
        zp_memcpy(new, a->elts, size);
    }

    a->elts   = new;
    a->nalloc = nalloc;

    return ZP_OK;
}


void *
zp_array_push(zp_array_t *a)
{
    return zp_array_push_n(a, 1);
}


void *
zp_array_push_n(zp_array_t *a, zp_uint_t n)
{
    void *elt;

    /* written so that a huge n cannot wrap the sum */
    if (n > a->nalloc - a->nelts) {
        if (zp_array_grow(a, n - (a->nalloc - a->nelts)) != ZP_OK) {
            return NULL;
        }
    }

    elt = (u_char *)a->elts + a->size * a->nelts;
    a->nelts += n;

    return elt;
}
