/*
 * zp_list.h: append-only lists of fixed-size elements in pool memory.
 *
 * Unlike zp_array_t, elements never move: a full part is kept and a new
 * part of the same capacity is chained after it, so pointers to elements
 * stay valid (request headers rely on this). Iterate with:
 *
 *     part = &list->part;
 *     elts = part->elts;
 *     for (i = 0; ; i++) {
 *         if (i >= part->nelts) {
 *             if (part->next == NULL) {
 *                 break;
 *             }
 *             part = part->next;
 *             elts = part->elts;
 *             i    = 0;
 *         }
 *         ... elts[i] ...
 *     }
 */
#ifndef ZP_LIST_H
#define ZP_LIST_H

#include <zp_config.h>
#include <zp_core.h>
#include <zp_palloc.h>

typedef struct zp_list_part_s zp_list_part_t;

struct zp_list_part_s {
    void           *elts;
    zp_uint_t       nelts;
    zp_list_part_t *next;
};

typedef struct {
    zp_list_part_t *last;
    zp_list_part_t  part;   /* the first part is embedded */
    size_t          size;   /* of one element */
    zp_uint_t       nalloc; /* elements per part */
    zp_pool_t      *pool;
} zp_list_t;

/* Allocates a list with parts of n elements of size bytes; NULL on failure. */
zp_list_t *zp_list_create(zp_pool_t *pool, zp_uint_t n, size_t size);

/* Room for one more element, uninitialised; NULL on failure. */
void *zp_list_push(zp_list_t *list);

/* Sets up a list embedded in another struct: ZP_OK or ZP_ERROR. */
static inline zp_int_t
zp_list_init(zp_list_t *list, zp_pool_t *pool, zp_uint_t n, size_t size)
{
    /* a part with no room would make every push chain an unusable part */
    if (n == 0) {
        n = 1;
    }

    list->part.nelts = 0;
    list->part.next  = NULL;
    list->last       = &list->part;
    list->size       = size;
    list->nalloc     = n;
    list->pool       = pool;

    list->part.elts = zp_palloc(pool, n * size);
    if (list->part.elts == NULL) {
        return ZP_ERROR;
    }

    return ZP_OK;
}

/* Walks a list:
 *     zp_list_iter_t it = {NULL, 0};
 *     while ((e = zp_list_next(list, &it))) { ... }
 * A zeroed (never initialised) list has no elements. */
typedef struct {
    zp_list_part_t *part;
    zp_uint_t       i;
} zp_list_iter_t;

static inline void *
zp_list_next(zp_list_t *list, zp_list_iter_t *it)
{
    if (it->part == NULL) {
        it->part = &list->part;
        it->i    = 0;
    }

    while (it->i >= it->part->nelts) {
        if (it->part->next == NULL) {
            return NULL;
        }
        it->part = it->part->next;
        it->i    = 0;
    }

    return (u_char *) it->part->elts + list->size * it->i++;
}

#endif /* ZP_LIST_H */
