/*
 * zp_event.h: the event layer.
 *
 * A zp_event_t is one direction (read or write) of a connection, or a
 * timer. The I/O backend sits behind zp_event_actions_t so that another
 * one (io_uring) can replace epoll without touching the protocol code.
 *
 * epoll is used edge-triggered: a connection is registered once for both
 * directions when it is accepted, and handlers read or write until EAGAIN
 * (ev->ready drops to 0) before they return.
 */
#ifndef ZP_EVENT_H
#define ZP_EVENT_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_INVALID_INDEX 0xd0d0d0d0

struct zp_event_s {
    void                *data;          /* the connection, or the timer's owner */

    unsigned             write:1;
    unsigned             accept:1;
    unsigned             instance:1;    /* detects stale events after fd reuse */
    unsigned             active:1;      /* registered with the backend */
    unsigned             ready:1;
    unsigned             eof:1;
    unsigned             error:1;
    unsigned             timedout:1;
    unsigned             timer_set:1;
    unsigned             delayed:1;
    unsigned             posted:1;
    unsigned             closed:1;
    unsigned             pending_eof:1;
    unsigned             cancelable:1;  /* a graceful exit need not wait for this timer */

    zp_event_handler_pt  handler;
    zp_log_t            *log;
    zp_rbtree_node_t     timer;
    zp_queue_t           queue;         /* in a posted queue */
};

struct zp_event_actions_s {
    zp_int_t (*add)(zp_event_t *ev, zp_int_t event, zp_uint_t flags);
    zp_int_t (*del)(zp_event_t *ev, zp_int_t event, zp_uint_t flags);
    zp_int_t (*add_conn)(zp_connection_t *c);
    zp_int_t (*del_conn)(zp_connection_t *c, zp_uint_t flags);
    zp_int_t (*process_events)(zp_cycle_t *cycle, zp_msec_t timer, zp_uint_t flags);
    zp_int_t (*init)(zp_cycle_t *cycle, zp_msec_t timer);
    void     (*done)(zp_cycle_t *cycle);
};

extern zp_event_actions_t zp_event_actions;

#define ZP_READ_EVENT  (EPOLLIN | EPOLLRDHUP)
#define ZP_WRITE_EVENT EPOLLOUT

#define ZP_CLOSE_EVENT     1  /* the fd is about to be closed: skip epoll_ctl */
#define ZP_EXCLUSIVE_EVENT 2  /* EPOLLEXCLUSIVE for shared listening sockets */

#define ZP_UPDATE_TIME    1
#define ZP_POST_EVENTS    2

#define zp_add_event      zp_event_actions.add
#define zp_del_event      zp_event_actions.del
#define zp_add_conn       zp_event_actions.add_conn
#define zp_del_conn       zp_event_actions.del_conn
#define zp_process_events zp_event_actions.process_events
#define zp_done_events    zp_event_actions.done

typedef struct {
    zp_uint_t  connections;
    zp_uint_t  use;           /* index of the backend module */
    zp_flag_t  multi_accept;
    zp_flag_t  exclusive;     /* EPOLLEXCLUSIVE on shared listening sockets */
    const char *name;
} zp_event_conf_t;

typedef struct {
    zp_str_t  *name;
    void     *(*create_conf)(zp_cycle_t *cycle);
    char     *(*init_conf)(zp_cycle_t *cycle, void *conf);
    zp_event_actions_t actions;
} zp_event_module_t;

#define ZP_EVENT_MODULE 0x544e5645 /* "EVNT" */
#define ZP_EVENT_CONF   0x02000000

#define zp_event_get_conf(conf_ctx, module)                                                       \
    (*(zp_get_conf(conf_ctx, zp_events_module)))[module.ctx_index]

extern zp_module_t zp_events_module;
extern zp_module_t zp_event_core_module;
extern zp_uint_t   zp_event_flags;
extern zp_uint_t   zp_accept_disabled;

/* Drives one loop iteration: waits for I/O or the nearest timer, then runs
 * expired timers and posted events. */
void zp_process_events_and_timers(zp_cycle_t *cycle);

/* Accept handler for listening sockets. */
void zp_event_accept(zp_event_t *ev);

/* Stops accepting: removes and closes this worker's listening sockets
 * (other processes keep their copies, so nothing queued is lost). */
void zp_event_close_listening(zp_cycle_t *cycle);
void zp_event_disable_accept(zp_cycle_t *cycle);

/* Registers read interest for ev when it is not ready; handlers call
 * this after a read returned EAGAIN. With edge-triggered epoll this is
 * usually a no-op, kept so that a level-triggered backend fits. */
zp_int_t zp_handle_read_event(zp_event_t *rev, zp_uint_t flags);
zp_int_t zp_handle_write_event(zp_event_t *wev, size_t lowat);

#endif /* ZP_EVENT_H */
