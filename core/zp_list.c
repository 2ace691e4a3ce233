/*
 * zp_list.c: append-only lists of fixed-size elements in pool memory.
 */
#include <zp_config.h>
#include <zp_core.h>


zp_list_t *
zp_list_create(zp_pool_t *pool, zp_uint_t n, size_t size)
{
    zp_list_t *list;

    list = zp_palloc(pool, sizeof(zp_list_t));
    if (list == NULL) {
        return NULL;
    }

    if (zp_list_init(list, pool, n, size) != ZP_OK) {
        return NULL;
    }

    return list;
}


void *
zp_list_push(zp_list_t *l)
{
    void           *elt;
    zp_list_part_t *last;

    last = l->last;

    if (last->nelts == l->nalloc) {

        /* the part is full: chain a new one, leaving the old elements put */
        last = zp_palloc(l->pool, sizeof(zp_list_part_t));
        if (last == NULL) {
            return NULL;
        }

        last->elts = zp_palloc(l->pool, l->nalloc * l->size);
        if (last->elts == NULL) {
            return NULL;
        }

        last->nelts = 0;
        last->next  = NULL;

        l->last->next = last;
        l->last       = last;
    }

    elt = (u_char *)last->elts + l->size * last->nelts;
    last->nelts++;

    return elt;
}
