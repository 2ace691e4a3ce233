/*
 * zp_http_return_module.c: "return <code> ["text"];" in a route: answers
 * from the gateway itself (health checks, fixed replies, the chassis'
 * end-to-end driver).
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

typedef struct {
    zp_uint_t               status;   /* 0: not set */
    zp_http_complex_value_t text;     /* the body, or the Location of a redirect */
    zp_flag_t               has_text;
} zp_http_return_conf_t;

static void     *zp_http_return_create_conf(zp_conf_t *cf);
static char     *zp_http_return_merge_conf(zp_conf_t *cf, void *parent, void *child);
static char     *zp_http_return(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t  zp_http_return_handler(zp_http_request_t *r);

static zp_command_t zp_http_return_commands[] = {
    {zp_string("return"), ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE12, zp_http_return,
     ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_return_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, zp_http_return_create_conf, zp_http_return_merge_conf,
};

zp_module_t zp_http_return_module = {
    .name     = "http_return",
    .ctx      = &zp_http_return_module_ctx,
    .commands = zp_http_return_commands,
    .type     = ZP_HTTP_MODULE,
};


static void *
zp_http_return_create_conf(zp_conf_t *cf)
{
    return zp_pcalloc(cf->pool, sizeof(zp_http_return_conf_t));
}


static char *
zp_http_return_merge_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_return_conf_t   *prev = parent, *conf = child;
    zp_http_core_rte_conf_t *rcf;

    if (conf->status == 0 && prev->status) {
        *conf = *prev;
    }

    if (conf->status) {
        rcf = zp_http_conf_get_module_rte_conf(cf, zp_http_core_module);
        if (rcf->handler == NULL) {
            rcf->handler = zp_http_return_handler;
        }
    }

    return ZP_CONF_OK;
}


static char *
zp_http_return(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_return_conf_t *rc    = conf;
    zp_str_t              *value = cf->args->elts;
    zp_int_t               status;

    (void) cmd;

    if (rc->status) {
        return "is duplicate";
    }

    status = zp_atoi(value[1].data, value[1].len);
    if (status == ZP_ERROR || status < 200 || status > 599) {
        return zp_conf_invalid_value(cf, 1);
    }

    rc->status = (zp_uint_t) status;

    if (cf->args->nelts == 3) {
        if (zp_http_compile_complex_value(cf, &value[2], &rc->text) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
        rc->has_text = 1;
    }

    return ZP_CONF_OK;
}


static zp_int_t
zp_http_return_handler(zp_http_request_t *r)
{
    zp_str_t               text;
    zp_http_return_conf_t *rc;

    rc = zp_http_get_module_rte_conf(r, zp_http_return_module);

    if (rc->status == 0) {
        return ZP_HTTP_NOT_FOUND;
    }

    if (!rc->has_text) {
        zp_http_send_response(r, rc->status, NULL, NULL);
        return ZP_DONE;
    }

    if (zp_http_complex_value(r, &rc->text, &text) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* return 301 URL; as in nginx, the text of a redirect is its target */
    if (rc->status == 301 || rc->status == 302 || rc->status == 303 || rc->status == 307
        || rc->status == 308) {
        if (zp_http_add_header_out(r, "Location", &text) == NULL) {
            return ZP_HTTP_INTERNAL_SERVER_ERROR;
        }
        zp_http_send_response(r, rc->status, NULL, NULL);
        return ZP_DONE;
    }

    zp_http_send_response(r, rc->status, NULL, &text);
    return ZP_DONE;
}
