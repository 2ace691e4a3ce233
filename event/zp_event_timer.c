/*
 * zp_event_timer.c: timers.
 */
#include <zp_config.h>
#include <zp_core.h>

zp_rbtree_t             zp_event_timer_rbtree;
static zp_rbtree_node_t zp_event_timer_sentinel;


zp_int_t
zp_event_timer_init(zp_log_t *log)
{
    (void) log;
    zp_rbtree_init(&zp_event_timer_rbtree, &zp_event_timer_sentinel,
                   zp_rbtree_insert_timer_value);
    return ZP_OK;
}


zp_msec_t
zp_event_find_timer(void)
{
    zp_msec_int_t     timer;
    zp_rbtree_node_t *node, *root, *sentinel;

    if (zp_event_timer_rbtree.root == &zp_event_timer_sentinel) {
        return ZP_TIMER_INFINITE;
    }

    root     = zp_event_timer_rbtree.root;
    sentinel = zp_event_timer_rbtree.sentinel;
    node     = zp_rbtree_min(root, sentinel);

    timer = (zp_msec_int_t) (node->key - zp_current_msec);
    return (zp_msec_t) (timer > 0 ? timer : 0);
}


void
zp_event_expire_timers(void)
{
    zp_event_t       *ev;
    zp_rbtree_node_t *node, *root, *sentinel;

    sentinel = zp_event_timer_rbtree.sentinel;

    for (;;) {
        root = zp_event_timer_rbtree.root;
        if (root == sentinel) {
            return;
        }

        node = zp_rbtree_min(root, sentinel);

        if ((zp_msec_int_t) (node->key - zp_current_msec) > 0) {
            return;
        }

        ev = (zp_event_t *) ((char *) node - offsetof(zp_event_t, timer));

        zp_rbtree_delete(&zp_event_timer_rbtree, &ev->timer);
        ev->timer_set = 0;
        ev->timedout  = 1;
        ev->handler(ev);
    }
}


zp_int_t
zp_event_no_timers_left(void)
{
    zp_event_t       *ev;
    zp_rbtree_node_t *node, *root, *sentinel;

    sentinel = zp_event_timer_rbtree.sentinel;
    root     = zp_event_timer_rbtree.root;

    if (root == sentinel) {
        return ZP_OK;
    }

    for (node = zp_rbtree_min(root, sentinel); node;
         node = zp_rbtree_next(&zp_event_timer_rbtree, node)) {
        ev = (zp_event_t *) ((char *) node - offsetof(zp_event_t, timer));
        if (!ev->cancelable) {
            return ZP_AGAIN;
        }
    }

    return ZP_OK;
}
