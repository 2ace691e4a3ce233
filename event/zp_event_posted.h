/*
 * zp_event_posted.h: events queued to run after the current I/O pass.
 */
#ifndef ZP_EVENT_POSTED_H
#define ZP_EVENT_POSTED_H

#include <zp_config.h>
#include <zp_core.h>

#define zp_post_event(ev, q)                                                                      \
    if (!(ev)->posted) {                                                                           \
        (ev)->posted = 1;                                                                          \
        zp_queue_insert_tail(q, &(ev)->queue);                                                     \
    }

#define zp_delete_posted_event(ev)                                                                \
    do {                                                                                           \
        (ev)->posted = 0;                                                                          \
        zp_queue_remove(&(ev)->queue);                                                             \
    } while (0)

void zp_event_process_posted(zp_cycle_t *cycle, zp_queue_t *posted);

extern zp_queue_t zp_posted_accept_events;
extern zp_queue_t zp_posted_events;

#endif /* ZP_EVENT_POSTED_H */
