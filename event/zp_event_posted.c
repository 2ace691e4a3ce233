/*
 * zp_event_posted.c: events deferred to the end of a loop iteration.
 */
#include <zp_config.h>
#include <zp_core.h>

zp_queue_t zp_posted_accept_events;
zp_queue_t zp_posted_events;


void
zp_event_process_posted(zp_cycle_t *cycle, zp_queue_t *posted)
{
    zp_queue_t *q;
    zp_event_t *ev;

    (void) cycle;

    while (!zp_queue_empty(posted)) {
        q  = zp_queue_head(posted);
        ev = zp_queue_data(q, zp_event_t, queue);
        zp_delete_posted_event(ev);
        ev->handler(ev);
    }
}
