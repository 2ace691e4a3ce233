/*
 * zp_array.h: growable arrays in pool memory.
 *
 * Elements are stored contiguously; growing copies them to a block twice
 * the size (the old block stays in the pool), unless the array is the last
 * thing allocated from the pool and there is room to extend it in place.
 * Pointers into elts are therefore invalidated by a push.
 */
#ifndef ZP_ARRAY_H
#define ZP_ARRAY_H

#include <zp_config.h>
#include <zp_core.h>
#include <zp_palloc.h>

typedef struct {
    void      *elts;
    zp_uint_t  nelts;
    size_t     size; /* of one element */
    zp_uint_t  nalloc;
    zp_pool_t *pool;
} zp_array_t;

/* Allocates the header and room for n elements of size bytes from p.
 * NULL on failure. */
zp_array_t *zp_array_create(zp_pool_t *p, zp_uint_t n, size_t size);

/* Gives the memory back to the pool when it is the pool's last allocation;
 * otherwise the memory simply stays until the pool goes. */
void zp_array_destroy(zp_array_t *a);

/* Room for one (or n) more elements, uninitialised; NULL on failure. */
void *zp_array_push(zp_array_t *a);
void *zp_array_push_n(zp_array_t *a, zp_uint_t n);

/* Sets up an array embedded in another struct: ZP_OK or ZP_ERROR. */
static inline zp_int_t
zp_array_init(zp_array_t *array, zp_pool_t *pool, zp_uint_t n, size_t size)
{
    /* set everything first: a failed init must leave a valid empty array */
    array->nelts  = 0;
    array->size   = size;
    array->nalloc = n;
    array->pool   = pool;

    array->elts = zp_palloc(pool, n * size);
    if (array->elts == NULL) {
        array->nalloc = 0;
        return ZP_ERROR;
    }

    return ZP_OK;
}

#endif /* ZP_ARRAY_H */
