/*
 * zp_event_timer.h: timers in a red-black tree keyed by expiry msec.
 */
#ifndef ZP_EVENT_TIMER_H
#define ZP_EVENT_TIMER_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_TIMER_INFINITE (zp_msec_t) -1
#define ZP_TIMER_LAZY_DELAY 300

zp_int_t  zp_event_timer_init(zp_log_t *log);
zp_msec_t zp_event_find_timer(void);
void      zp_event_expire_timers(void);
/* ZP_OK when only cancelable timers are left, so a graceful exit may go. */
zp_int_t  zp_event_no_timers_left(void);

extern zp_rbtree_t zp_event_timer_rbtree;

static inline void
zp_event_del_timer(zp_event_t *ev)
{
    zp_rbtree_delete(&zp_event_timer_rbtree, &ev->timer);
    ev->timer_set = 0;
}

static inline void
zp_event_add_timer(zp_event_t *ev, zp_msec_t timer)
{
    zp_msec_t key = zp_current_msec + timer;

    if (ev->timer_set) {
        /* a timer reset within ZP_TIMER_LAZY_DELAY ms keeps its place: most
         * resets are on every read and would churn the tree otherwise */
        zp_msec_int_t diff = (zp_msec_int_t) (key - ev->timer.key);
        if (zp_abs(diff) < ZP_TIMER_LAZY_DELAY) {
            return;
        }
        zp_event_del_timer(ev);
    }

    ev->timer.key = key;
    zp_rbtree_insert(&zp_event_timer_rbtree, &ev->timer);
    ev->timer_set = 1;
}

#endif /* ZP_EVENT_TIMER_H */
