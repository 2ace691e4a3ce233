/*
 * zp_event.c: the "events" block, the event core module and the loop.
 */
#include <zp_config.h>
#include <zp_core.h>

#define ZP_DEFAULT_CONNECTIONS 1024

zp_event_actions_t zp_event_actions;
zp_uint_t          zp_event_flags;
zp_uint_t          zp_accept_disabled;

static zp_uint_t   zp_event_max_module;

static char     *zp_events_block(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char     *zp_event_connections(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char     *zp_event_use(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static void     *zp_event_core_create_conf(zp_cycle_t *cycle);
static char     *zp_event_core_init_conf(zp_cycle_t *cycle, void *conf);
static zp_int_t  zp_event_process_init(zp_cycle_t *cycle);
static char     *zp_event_init_conf(zp_cycle_t *cycle, void *conf);

static zp_command_t zp_events_commands[] = {
    {zp_string("events"), ZP_MAIN_CONF | ZP_CONF_BLOCK | ZP_CONF_NOARGS, zp_events_block, 0, 0,
     NULL},
    ZP_COMMAND_END};

static zp_core_module_t zp_events_module_ctx = {
    zp_string("events"),
    NULL,
    zp_event_init_conf,
};

zp_module_t zp_events_module = {
    .name     = "events",
    .ctx      = &zp_events_module_ctx,
    .commands = zp_events_commands,
    .type     = ZP_CORE_MODULE,
};

static zp_str_t zp_event_core_name = zp_string("event_core");

static zp_command_t zp_event_core_commands[] = {
    {zp_string("worker_connections"), ZP_EVENT_CONF | ZP_CONF_TAKE1, zp_event_connections, 0, 0,
     NULL},
    {zp_string("use"), ZP_EVENT_CONF | ZP_CONF_TAKE1, zp_event_use, 0, 0, NULL},
    {zp_string("multi_accept"), ZP_EVENT_CONF | ZP_CONF_FLAG, zp_conf_set_flag_slot, 0,
     offsetof(zp_event_conf_t, multi_accept), NULL},
    {zp_string("accept_exclusive"), ZP_EVENT_CONF | ZP_CONF_FLAG, zp_conf_set_flag_slot, 0,
     offsetof(zp_event_conf_t, exclusive), NULL},
    ZP_COMMAND_END};

static zp_event_module_t zp_event_core_module_ctx = {
    &zp_event_core_name,
    zp_event_core_create_conf,
    zp_event_core_init_conf,
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

zp_module_t zp_event_core_module = {
    .name         = "event_core",
    .ctx          = &zp_event_core_module_ctx,
    .commands     = zp_event_core_commands,
    .type         = ZP_EVENT_MODULE,
    .init_process = zp_event_process_init,
};


void
zp_process_events_and_timers(zp_cycle_t *cycle)
{
    zp_msec_t timer, delta;

    timer = zp_event_find_timer();
    delta = zp_current_msec;

    (void) zp_process_events(cycle, timer, ZP_UPDATE_TIME);

    delta = zp_current_msec - delta;

    zp_event_process_posted(cycle, &zp_posted_accept_events);

    if (delta || timer == 0) {
        zp_event_expire_timers();
    }

    zp_event_process_posted(cycle, &zp_posted_events);
}


zp_int_t
zp_handle_read_event(zp_event_t *rev, zp_uint_t flags)
{
    /* edge-triggered and registered for the connection's lifetime */
    (void) rev;
    (void) flags;
    return ZP_OK;
}


zp_int_t
zp_handle_write_event(zp_event_t *wev, size_t lowat)
{
    (void) wev;
    (void) lowat;
    return ZP_OK;
}


/*
 * Each worker registers the shared listening sockets with EPOLLEXCLUSIVE,
 * so the kernel wakes one waiter per connection instead of all of them;
 * with reuseport each worker has its own socket and registers only that.
 */
static zp_int_t
zp_event_process_init(zp_cycle_t *cycle)
{
    zp_uint_t         i;
    zp_event_t       *rev, *wev;
    zp_listening_t   *ls;
    zp_connection_t  *c, *next;
    zp_event_conf_t  *ecf;
    zp_event_module_t *module;

    ecf = zp_event_get_conf(cycle->conf_ctx, zp_event_core_module);

    zp_queue_init(&zp_posted_accept_events);
    zp_queue_init(&zp_posted_events);

    if (zp_event_timer_init(cycle->log) != ZP_OK) {
        return ZP_ERROR;
    }

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->type != ZP_EVENT_MODULE
            || cycle->modules[i]->ctx_index != ecf->use) {
            continue;
        }
        module = cycle->modules[i]->ctx;
        if (module->actions.init(cycle, ZP_TIMER_INFINITE) != ZP_OK) {
            return ZP_ERROR;
        }
        break;
    }

    cycle->connection_n = ecf->connections;
    cycle->connections  = zp_alloc(sizeof(zp_connection_t) * cycle->connection_n, cycle->log);
    cycle->read_events  = zp_alloc(sizeof(zp_event_t) * cycle->connection_n, cycle->log);
    cycle->write_events = zp_alloc(sizeof(zp_event_t) * cycle->connection_n, cycle->log);

    if (cycle->connections == NULL || cycle->read_events == NULL
        || cycle->write_events == NULL) {
        return ZP_ERROR;
    }

    zp_memzero(cycle->connections, sizeof(zp_connection_t) * cycle->connection_n);
    zp_memzero(cycle->read_events, sizeof(zp_event_t) * cycle->connection_n);
    zp_memzero(cycle->write_events, sizeof(zp_event_t) * cycle->connection_n);

    rev = cycle->read_events;
    wev = cycle->write_events;

    for (i = 0; i < cycle->connection_n; i++) {
        rev[i].closed   = 1;
        rev[i].instance = 1;
        wev[i].closed   = 1;
        wev[i].write    = 1;
    }

    c    = cycle->connections;
    next = NULL;
    i    = cycle->connection_n;

    do {
        i--;
        c[i].data  = next;
        c[i].read  = &cycle->read_events[i];
        c[i].write = &cycle->write_events[i];
        c[i].fd    = -1;
        next       = &c[i];
    } while (i);

    cycle->free_connections  = next;
    cycle->free_connection_n = cycle->connection_n;
    zp_queue_init(&cycle->reusable_connections_queue);

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].reuseport && ls[i].worker != zp_worker) {
            continue;
        }

        c = zp_get_connection(ls[i].fd, cycle->log);
        if (c == NULL) {
            return ZP_ERROR;
        }

        c->log            = &ls[i].log;
        c->listening      = &ls[i];
        ls[i].connection  = c;

        rev          = c->read;
        rev->log     = c->log;
        rev->accept  = 1;
        rev->handler = zp_event_accept;

        if (zp_add_event(rev, EPOLLIN, (ls[i].reuseport || !ecf->exclusive) ? 0
                                                                             : ZP_EXCLUSIVE_EVENT)
            != ZP_OK) {
            return ZP_ERROR;
        }
    }

    return ZP_OK;
}


static char *
zp_events_block(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char             *rv;
    void           ***ctx;
    zp_uint_t         i;
    zp_conf_t         pcf;
    zp_event_module_t *m;

    if (*(void **) conf) {
        return "is duplicate";
    }

    zp_event_max_module = zp_count_modules(cf->cycle, ZP_EVENT_MODULE);

    ctx = zp_pcalloc(cf->pool, sizeof(void *));
    if (ctx == NULL) {
        return ZP_CONF_ERROR;
    }

    *ctx = zp_pcalloc(cf->pool, zp_event_max_module * sizeof(void *));
    if (*ctx == NULL) {
        return ZP_CONF_ERROR;
    }

    *(void **) conf = ctx;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != ZP_EVENT_MODULE) {
            continue;
        }
        m = cf->cycle->modules[i]->ctx;
        if (m->create_conf) {
            (*ctx)[cf->cycle->modules[i]->ctx_index] = m->create_conf(cf->cycle);
            if ((*ctx)[cf->cycle->modules[i]->ctx_index] == NULL) {
                return ZP_CONF_ERROR;
            }
        }
    }

    pcf             = *cf;
    cf->ctx         = ctx;
    cf->module_type = ZP_EVENT_MODULE;
    cf->cmd_type    = ZP_EVENT_CONF;

    rv = zp_conf_parse(cf, NULL);

    *cf = pcf;

    if (rv != ZP_CONF_OK) {
        return rv;
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != ZP_EVENT_MODULE) {
            continue;
        }
        m = cf->cycle->modules[i]->ctx;
        if (m->init_conf) {
            rv = m->init_conf(cf->cycle, (*ctx)[cf->cycle->modules[i]->ctx_index]);
            if (rv != ZP_CONF_OK) {
                return rv;
            }
        }
    }

    return ZP_CONF_OK;
}


/* Without an "events" block every event module still needs its defaults. */
static char *
zp_event_init_conf(zp_cycle_t *cycle, void *conf)
{
    (void) conf;

    if (zp_get_conf(cycle->conf_ctx, zp_events_module) == NULL) {
        zp_log_error(ZP_LOG_EMERG, cycle->log, 0, "no \"events\" section in configuration");
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


static char *
zp_event_connections(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_event_conf_t *ecf   = conf;
    zp_str_t        *value = cf->args->elts;
    zp_int_t         n;

    (void) cmd;

    if (ecf->connections != ZP_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    n = zp_atoi(value[1].data, value[1].len);
    if (n == ZP_ERROR || n < 2 || n > 10000000) {
        return zp_conf_invalid_value(cf, 1);
    }

    ecf->connections = (zp_uint_t) n;
    return ZP_CONF_OK;
}


static char *
zp_event_use(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_event_conf_t   *ecf   = conf;
    zp_str_t          *value = cf->args->elts;
    zp_uint_t          i;
    zp_event_module_t *m;

    (void) cmd;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != ZP_EVENT_MODULE) {
            continue;
        }
        m = cf->cycle->modules[i]->ctx;
        if (m->actions.init && m->name->len == value[1].len
            && zp_strcmp(m->name->data, value[1].data) == 0) {
            ecf->use  = cf->cycle->modules[i]->ctx_index;
            ecf->name = (const char *) m->name->data;
            return ZP_CONF_OK;
        }
    }

    return zp_conf_invalid_value(cf, 1);
}


static void *
zp_event_core_create_conf(zp_cycle_t *cycle)
{
    zp_event_conf_t *ecf = zp_palloc(cycle->pool, sizeof(zp_event_conf_t));

    if (ecf == NULL) {
        return NULL;
    }

    ecf->connections  = ZP_CONF_UNSET_UINT;
    ecf->use          = ZP_CONF_UNSET_UINT;
    ecf->multi_accept = ZP_CONF_UNSET;
    ecf->exclusive    = ZP_CONF_UNSET;
    ecf->name         = NULL;
    return ecf;
}


static char *
zp_event_core_init_conf(zp_cycle_t *cycle, void *conf)
{
    zp_event_conf_t *ecf = conf;
    zp_uint_t        i;

    zp_conf_init_uint_value(ecf->connections, ZP_DEFAULT_CONNECTIONS);
    zp_conf_init_value(ecf->multi_accept, 1);
    zp_conf_init_value(ecf->exclusive, 1);

    if (ecf->use == ZP_CONF_UNSET_UINT) {
        for (i = 0; cycle->modules[i]; i++) {
            if (cycle->modules[i]->type == ZP_EVENT_MODULE
                && ((zp_event_module_t *) cycle->modules[i]->ctx)->actions.init) {
                ecf->use  = cycle->modules[i]->ctx_index;
                ecf->name = (const char *) ((zp_event_module_t *) cycle->modules[i]->ctx)->name->data;
                break;
            }
        }
    }

    if (ecf->use == ZP_CONF_UNSET_UINT) {
        zp_log_error(ZP_LOG_EMERG, cycle->log, 0, "no event backend module is built in");
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}
