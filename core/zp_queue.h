/*
 * zp_queue.h: intrusive circular doubly-linked queue.
 *
 * A zp_queue_t is embedded in the linked struct, and a sentinel zp_queue_t
 * heads the queue, so insert and remove never allocate and never fail.
 * zp_queue_data() gets back from the link to the containing struct.
 */
#ifndef ZP_QUEUE_H
#define ZP_QUEUE_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct zp_queue_s zp_queue_t;

struct zp_queue_s {
    zp_queue_t *prev;
    zp_queue_t *next;
};

#define zp_queue_init(q)                                                                           \
    do {                                                                                           \
        (q)->prev = q;                                                                             \
        (q)->next = q;                                                                             \
    } while (0)

#define zp_queue_empty(h) ((h) == (h)->prev)

#define zp_queue_insert_head(h, x)                                                                 \
    do {                                                                                           \
        (x)->next       = (h)->next;                                                               \
        (x)->next->prev = x;                                                                       \
        (x)->prev       = h;                                                                       \
        (h)->next       = x;                                                                       \
    } while (0)

#define zp_queue_insert_after zp_queue_insert_head

#define zp_queue_insert_tail(h, x)                                                                 \
    do {                                                                                           \
        (x)->prev       = (h)->prev;                                                               \
        (x)->prev->next = x;                                                                       \
        (x)->next       = h;                                                                       \
        (h)->prev       = x;                                                                       \
    } while (0)

#define zp_queue_insert_before zp_queue_insert_tail

#define zp_queue_head(h)     (h)->next
#define zp_queue_last(h)     (h)->prev
#define zp_queue_sentinel(h) (h)
#define zp_queue_next(q)     (q)->next
#define zp_queue_prev(q)     (q)->prev

/* The removed link is pointed at itself, so a second remove is harmless
 * and zp_queue_empty() on it is true. */
#define zp_queue_remove(x)                                                                         \
    do {                                                                                           \
        (x)->next->prev = (x)->prev;                                                               \
        (x)->prev->next = (x)->next;                                                               \
        (x)->prev       = x;                                                                       \
        (x)->next       = x;                                                                       \
    } while (0)

/* Moves q and everything after it from h to the empty queue n. */
#define zp_queue_split(h, q, n)                                                                    \
    do {                                                                                           \
        (n)->prev       = (h)->prev;                                                               \
        (n)->prev->next = n;                                                                       \
        (n)->next       = q;                                                                       \
        (h)->prev       = (q)->prev;                                                               \
        (h)->prev->next = h;                                                                       \
        (q)->prev       = n;                                                                       \
    } while (0)

/* Appends all of n to h; n is left dangling and must be re-initialised.
 * An empty n is skipped: linking its sentinel into h would corrupt h. */
#define zp_queue_add(h, n)                                                                         \
    do {                                                                                           \
        if (!zp_queue_empty(n)) {                                                                  \
            (h)->prev->next = (n)->next;                                                           \
            (n)->next->prev = (h)->prev;                                                           \
            (h)->prev       = (n)->prev;                                                           \
            (h)->prev->next = h;                                                                   \
        }                                                                                          \
    } while (0)

#define zp_queue_data(q, type, link) ((type *)((u_char *)(q)-offsetof(type, link)))

#endif /* ZP_QUEUE_H */
