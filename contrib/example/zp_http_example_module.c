/*
 * zp_http_example_module.c: the example module of docs/modules.md.
 *
 *   example_header_log on | off;     http, server, route; default off
 *
 * When on, a LOG phase handler writes one error-log line per request at
 * level info:
 *
 *   example: "<method> <uri>" <status>
 *
 * It shows the whole module API in one file: a directive table with a
 * generic setter, a per-route configuration created unset and merged
 * http -> server -> route, and a phase handler added in postconfiguration.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

typedef struct {
    zp_flag_t enable;
} zp_http_example_conf_t;

static void    *zp_http_example_create_conf(zp_conf_t *cf);
static char    *zp_http_example_merge_conf(zp_conf_t *cf, void *parent, void *child);
static zp_int_t zp_http_example_init(zp_conf_t *cf);
static zp_int_t zp_http_example_log_handler(zp_http_request_t *r);

static zp_command_t zp_http_example_commands[] = {
    {zp_string("example_header_log"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_RTE_CONF_OFFSET, offsetof(zp_http_example_conf_t, enable),
     NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_example_module_ctx = {
    .preconfiguration  = NULL,
    .postconfiguration = zp_http_example_init,
    .create_main_conf  = NULL,
    .init_main_conf    = NULL,
    .create_srv_conf   = NULL,
    .merge_srv_conf    = NULL,
    .create_rte_conf   = zp_http_example_create_conf,
    .merge_rte_conf    = zp_http_example_merge_conf,
};

zp_module_t zp_http_example_module = {
    .name     = "http_example",
    .type     = ZP_HTTP_MODULE,
    .ctx      = &zp_http_example_module_ctx,
    .commands = zp_http_example_commands,
};


/* Called for http{}, for every server{} and for every route{}: each level
 * gets its own structure, with every field unset. */
static void *
zp_http_example_create_conf(zp_conf_t *cf)
{
    zp_http_example_conf_t *conf;

    conf = zp_pcalloc(cf->pool, sizeof(zp_http_example_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = ZP_CONF_UNSET;

    return conf;
}


/* server{} from http{}, then route{} from server{}: a level that did not
 * set the directive inherits it; the default (off) is applied here only. */
static char *
zp_http_example_merge_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_example_conf_t *prev = parent;
    zp_http_example_conf_t *conf = child;

    (void) cf;

    zp_conf_merge_value(conf->enable, prev->enable, 0);

    return ZP_CONF_OK;
}


/* postconfiguration: the phase arrays exist now, so handlers go in here. */
static zp_int_t
zp_http_example_init(zp_conf_t *cf)
{
    return zp_http_add_handler(cf, ZP_HTTP_LOG_PHASE, zp_http_example_log_handler);
}


/* Runs once per request, after the response was written (or the request
 * failed). The connection's log adds ", client: ..., server: ...". */
static zp_int_t
zp_http_example_log_handler(zp_http_request_t *r)
{
    zp_http_example_conf_t *conf;

    conf = zp_http_get_module_rte_conf(r, zp_http_example_module);

    if (conf == NULL || conf->enable != 1) {
        return ZP_DECLINED;
    }

    zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "example: \"%V %V\" %ui", &r->method_name,
                 &r->uri, r->status);

    return ZP_OK;
}
