/*
 * zp_epoll_module.c: the epoll backend.
 *
 * Connections are added once, edge-triggered, for both directions; only
 * listening sockets are level-triggered (with EPOLLEXCLUSIVE when they are
 * shared by all workers), so a pending connection keeps waking someone
 * until it is accepted. The low bit of the user pointer carries the
 * event's instance, to drop events that were queued for a descriptor that
 * was closed and reused within the same epoll_wait batch.
 */
#include <zp_config.h>
#include <zp_core.h>

typedef struct {
    zp_uint_t events;
} zp_epoll_conf_t;

static int                 zp_epoll_fd = -1;
static struct epoll_event *zp_epoll_list;
static zp_uint_t           zp_epoll_nevents;

static zp_int_t zp_epoll_init(zp_cycle_t *cycle, zp_msec_t timer);
static void     zp_epoll_done(zp_cycle_t *cycle);
static zp_int_t zp_epoll_add_event(zp_event_t *ev, zp_int_t event, zp_uint_t flags);
static zp_int_t zp_epoll_del_event(zp_event_t *ev, zp_int_t event, zp_uint_t flags);
static zp_int_t zp_epoll_add_connection(zp_connection_t *c);
static zp_int_t zp_epoll_del_connection(zp_connection_t *c, zp_uint_t flags);
static zp_int_t zp_epoll_process_events(zp_cycle_t *cycle, zp_msec_t timer, zp_uint_t flags);
static void    *zp_epoll_create_conf(zp_cycle_t *cycle);
static char    *zp_epoll_init_conf(zp_cycle_t *cycle, void *conf);

static zp_str_t zp_epoll_name = zp_string("epoll");

static zp_command_t zp_epoll_commands[] = {
    {zp_string("epoll_events"), ZP_EVENT_CONF | ZP_CONF_TAKE1, zp_conf_set_num_slot, 0,
     offsetof(zp_epoll_conf_t, events), NULL},
    ZP_COMMAND_END};

static zp_event_module_t zp_epoll_module_ctx = {
    &zp_epoll_name,
    zp_epoll_create_conf,
    zp_epoll_init_conf,
    {zp_epoll_add_event, zp_epoll_del_event, zp_epoll_add_connection, zp_epoll_del_connection,
     zp_epoll_process_events, zp_epoll_init, zp_epoll_done},
};

zp_module_t zp_epoll_module = {
    .name     = "epoll",
    .ctx      = &zp_epoll_module_ctx,
    .commands = zp_epoll_commands,
    .type     = ZP_EVENT_MODULE,
};


static zp_int_t
zp_epoll_init(zp_cycle_t *cycle, zp_msec_t timer)
{
    zp_epoll_conf_t *epcf;

    (void) timer;
    epcf = zp_event_get_conf(cycle->conf_ctx, zp_epoll_module);

    if (zp_epoll_fd == -1) {
        zp_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (zp_epoll_fd == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "epoll_create1() failed");
            return ZP_ERROR;
        }
    }

    if (zp_epoll_nevents < epcf->events) {
        free(zp_epoll_list);
        zp_epoll_list = zp_alloc(sizeof(struct epoll_event) * epcf->events, cycle->log);
        if (zp_epoll_list == NULL) {
            return ZP_ERROR;
        }
    }

    zp_epoll_nevents  = epcf->events;
    zp_event_actions  = zp_epoll_module_ctx.actions;
    return ZP_OK;
}


static void
zp_epoll_done(zp_cycle_t *cycle)
{
    (void) cycle;
    if (zp_epoll_fd != -1) {
        close(zp_epoll_fd);
    }
    zp_epoll_fd = -1;
    free(zp_epoll_list);
    zp_epoll_list    = NULL;
    zp_epoll_nevents = 0;
}


/* For listening sockets only: level-triggered. */
static zp_int_t
zp_epoll_add_event(zp_event_t *ev, zp_int_t event, zp_uint_t flags)
{
    zp_connection_t   *c = ev->data;
    struct epoll_event ee;

    ee.events = (uint32_t) event;
#ifdef EPOLLEXCLUSIVE
    if (flags & ZP_EXCLUSIVE_EVENT) {
        ee.events |= EPOLLEXCLUSIVE;
    }
#endif
    ee.data.ptr = (void *) ((uintptr_t) c | ev->instance);

    if (epoll_ctl(zp_epoll_fd, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        zp_log_error(ZP_LOG_ALERT, ev->log, errno, "epoll_ctl(ADD, %d) failed", c->fd);
        return ZP_ERROR;
    }

    ev->active = 1;
    return ZP_OK;
}


static zp_int_t
zp_epoll_del_event(zp_event_t *ev, zp_int_t event, zp_uint_t flags)
{
    zp_connection_t   *c = ev->data;
    struct epoll_event ee;

    (void) event;

    if (flags & ZP_CLOSE_EVENT) {
        ev->active = 0;
        return ZP_OK;
    }

    ee.events   = 0;
    ee.data.ptr = NULL;

    if (epoll_ctl(zp_epoll_fd, EPOLL_CTL_DEL, c->fd, &ee) == -1) {
        zp_log_error(ZP_LOG_ALERT, ev->log, errno, "epoll_ctl(DEL, %d) failed", c->fd);
        return ZP_ERROR;
    }

    ev->active = 0;
    return ZP_OK;
}


static zp_int_t
zp_epoll_add_connection(zp_connection_t *c)
{
    struct epoll_event ee;

    ee.events   = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ee.data.ptr = (void *) ((uintptr_t) c | c->read->instance);

    if (epoll_ctl(zp_epoll_fd, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        zp_log_error(ZP_LOG_ALERT, c->log, errno, "epoll_ctl(ADD, %d) failed", c->fd);
        return ZP_ERROR;
    }

    c->read->active  = 1;
    c->write->active = 1;
    return ZP_OK;
}


static zp_int_t
zp_epoll_del_connection(zp_connection_t *c, zp_uint_t flags)
{
    struct epoll_event ee;

    /* close() removes the descriptor from the epoll set by itself */
    if (!(flags & ZP_CLOSE_EVENT)) {
        ee.events   = 0;
        ee.data.ptr = NULL;
        if (epoll_ctl(zp_epoll_fd, EPOLL_CTL_DEL, c->fd, &ee) == -1) {
            zp_log_error(ZP_LOG_ALERT, c->log, errno, "epoll_ctl(DEL, %d) failed", c->fd);
            return ZP_ERROR;
        }
    }

    c->read->active  = 0;
    c->write->active = 0;
    return ZP_OK;
}


static zp_int_t
zp_epoll_process_events(zp_cycle_t *cycle, zp_msec_t timer, zp_uint_t flags)
{
    int              events, i, err;
    uint32_t         revents;
    zp_uint_t        instance;
    zp_event_t      *rev, *wev;
    zp_connection_t *c;
    sigset_t         set;

    (void) flags;

    /* signals stay blocked except inside the wait, so none is lost
     * between checking the flags and sleeping */
    sigemptyset(&set);

    events = epoll_pwait(zp_epoll_fd, zp_epoll_list, (int) zp_epoll_nevents,
                         timer == ZP_TIMER_INFINITE ? -1 : (int) zp_min(timer, INT_MAX), &set);
    err = (events == -1) ? errno : 0;

    zp_time_update();

    if (err) {
        if (err == EINTR) {
            return ZP_OK;
        }
        zp_log_error(ZP_LOG_ALERT, cycle->log, err, "epoll_pwait() failed");
        return ZP_ERROR;
    }

    for (i = 0; i < events; i++) {
        c        = zp_epoll_list[i].data.ptr;
        instance = (uintptr_t) c & 1;
        c        = (zp_connection_t *) ((uintptr_t) c & (uintptr_t) ~1);

        rev = c->read;

        if (c->fd == -1 || rev->instance != instance) {
            /* stale: the connection was closed earlier in this batch */
            continue;
        }

        revents = zp_epoll_list[i].events;

        if (revents & (EPOLLERR | EPOLLHUP)) {
            revents |= EPOLLIN | EPOLLOUT;
        }

        if ((revents & EPOLLIN) && rev->active) {
            if (revents & EPOLLRDHUP) {
                rev->pending_eof = 1;
            }
            rev->ready = 1;
            rev->handler(rev);
        }

        wev = c->write;

        if ((revents & EPOLLOUT) && wev->active) {
            if (c->fd == -1 || wev->instance != instance) {
                continue;
            }
            wev->ready = 1;
            wev->handler(wev);
        }
    }

    return ZP_OK;
}


static void *
zp_epoll_create_conf(zp_cycle_t *cycle)
{
    zp_epoll_conf_t *epcf = zp_palloc(cycle->pool, sizeof(zp_epoll_conf_t));

    if (epcf == NULL) {
        return NULL;
    }
    epcf->events = ZP_CONF_UNSET_UINT;
    return epcf;
}


static char *
zp_epoll_init_conf(zp_cycle_t *cycle, void *conf)
{
    zp_epoll_conf_t *epcf = conf;

    (void) cycle;
    zp_conf_init_uint_value(epcf->events, 512);
    return ZP_CONF_OK;
}
