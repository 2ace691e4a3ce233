/*
 * zp_http_core_module.c: server, route and listen, and the connection
 * limits and timeouts every request needs.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

static void *zp_http_core_create_main_conf(zp_conf_t *cf);
static void *zp_http_core_create_srv_conf(zp_conf_t *cf);
static char *zp_http_core_merge_srv_conf(zp_conf_t *cf, void *parent, void *child);
static void *zp_http_core_create_rte_conf(zp_conf_t *cf);
static char *zp_http_core_merge_rte_conf(zp_conf_t *cf, void *parent, void *child);
static char *zp_http_core_server(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_http_core_route(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_http_core_listen(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_http_core_server_name(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_http_core_keepalive_requests(zp_conf_t *cf, void *post, void *data);

static zp_conf_post_t zp_http_core_keepalive_requests_post = {zp_http_core_keepalive_requests};

static zp_command_t zp_http_core_commands[] = {
    {zp_string("server"), ZP_HTTP_MAIN_CONF | ZP_CONF_BLOCK | ZP_CONF_NOARGS, zp_http_core_server,
     0, 0, NULL},
    {zp_string("route"), ZP_HTTP_SRV_CONF | ZP_CONF_BLOCK | ZP_CONF_TAKE12, zp_http_core_route,
     ZP_HTTP_SRV_CONF_OFFSET, 0, NULL},
    {zp_string("listen"), ZP_HTTP_SRV_CONF | ZP_CONF_1MORE, zp_http_core_listen,
     ZP_HTTP_SRV_CONF_OFFSET, 0, NULL},
    {zp_string("server_name"), ZP_HTTP_SRV_CONF | ZP_CONF_1MORE, zp_http_core_server_name,
     ZP_HTTP_SRV_CONF_OFFSET, 0, NULL},
    {zp_string("client_header_buffer_size"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_size_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_core_srv_conf_t, client_header_buffer_size), NULL},
    {zp_string("client_header_timeout"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_core_srv_conf_t, client_header_timeout), NULL},
    {zp_string("keepalive_timeout"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET,
     offsetof(zp_http_core_rte_conf_t, keepalive_timeout), NULL},
    {zp_string("keepalive_requests"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_RTE_CONF_OFFSET,
     offsetof(zp_http_core_rte_conf_t, keepalive_requests), &zp_http_core_keepalive_requests_post},
    {zp_string("send_timeout"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET,
     offsetof(zp_http_core_rte_conf_t, send_timeout), NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_core_module_ctx = {
    NULL,
    NULL,
    zp_http_core_create_main_conf,
    NULL,
    zp_http_core_create_srv_conf,
    zp_http_core_merge_srv_conf,
    zp_http_core_create_rte_conf,
    zp_http_core_merge_rte_conf,
};

zp_module_t zp_http_core_module = {
    .name     = "http_core",
    .ctx      = &zp_http_core_module_ctx,
    .commands = zp_http_core_commands,
    .type     = ZP_HTTP_MODULE,
};


static void *
zp_http_core_create_main_conf(zp_conf_t *cf)
{
    zp_http_core_main_conf_t *cmcf = zp_pcalloc(cf->pool, sizeof(zp_http_core_main_conf_t));

    if (cmcf == NULL) {
        return NULL;
    }
    if (zp_array_init(&cmcf->servers, cf->pool, 4, sizeof(void *)) != ZP_OK) {
        return NULL;
    }
    return cmcf;
}


static void *
zp_http_core_create_srv_conf(zp_conf_t *cf)
{
    zp_http_core_srv_conf_t *cscf = zp_pcalloc(cf->pool, sizeof(zp_http_core_srv_conf_t));

    if (cscf == NULL) {
        return NULL;
    }

    if (zp_array_init(&cscf->listen, cf->pool, 2, sizeof(zp_http_listen_opt_t)) != ZP_OK
        || zp_array_init(&cscf->server_names, cf->pool, 2, sizeof(zp_str_t)) != ZP_OK
        || zp_array_init(&cscf->routes, cf->pool, 4, sizeof(void *)) != ZP_OK) {
        return NULL;
    }

    cscf->client_header_buffer_size = ZP_CONF_UNSET_SIZE;
    cscf->client_header_timeout     = ZP_CONF_UNSET_MSEC;

    if (cf->conf_file) {
        cscf->file_name = cf->conf_file->file.name;
        cscf->line      = cf->conf_file->line;
    }

    return cscf;
}


static char *
zp_http_core_merge_srv_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_core_srv_conf_t *prev = parent;
    zp_http_core_srv_conf_t *conf = child;
    zp_http_listen_opt_t    *lo;
    zp_str_t                 text = zp_string("*:80");
    const char              *err;

    zp_conf_merge_size_value(conf->client_header_buffer_size, prev->client_header_buffer_size,
                             8192);
    zp_conf_merge_msec_value(conf->client_header_timeout, prev->client_header_timeout, 60000);

    if (conf->client_header_buffer_size < 256) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "client_header_buffer_size must be at least 256 bytes");
        return ZP_CONF_ERROR;
    }

    /* a server without listen listens on *:80, as in nginx */
    if (conf->listen.nelts == 0) {
        lo = zp_array_push(&conf->listen);
        if (lo == NULL) {
            return ZP_CONF_ERROR;
        }
        zp_memzero(lo, sizeof(zp_http_listen_opt_t));
        if (zp_parse_addr_port(&text, 80, &lo->sockaddr, &lo->socklen, &err) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
        lo->addr_text = text;
        lo->backlog   = 511;
        lo->rcvbuf    = -1;
        lo->sndbuf    = -1;
        lo->fastopen  = -1;
        lo->file_name = conf->file_name;
        lo->line      = conf->line;
    }

    return ZP_CONF_OK;
}


static void *
zp_http_core_create_rte_conf(zp_conf_t *cf)
{
    zp_http_core_rte_conf_t *rcf = zp_pcalloc(cf->pool, sizeof(zp_http_core_rte_conf_t));

    if (rcf == NULL) {
        return NULL;
    }

    rcf->keepalive_timeout  = ZP_CONF_UNSET_MSEC;
    rcf->keepalive_requests = ZP_CONF_UNSET_UINT;
    rcf->send_timeout       = ZP_CONF_UNSET_MSEC;

    return rcf;
}


static char *
zp_http_core_merge_rte_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_core_rte_conf_t *prev = parent;
    zp_http_core_rte_conf_t *conf = child;

    (void) cf;

    zp_conf_merge_msec_value(conf->keepalive_timeout, prev->keepalive_timeout, 75000);
    zp_conf_merge_uint_value(conf->keepalive_requests, prev->keepalive_requests, 1000);
    zp_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 60000);

    if (conf->handler == NULL) {
        conf->handler = prev->handler;
    }

    return ZP_CONF_OK;
}


static char *
zp_http_core_keepalive_requests(zp_conf_t *cf, void *post, void *data)
{
    zp_int_t *np = data;

    (void) post;

    if (*np < 0) {
        return zp_conf_invalid_value(cf, 1);
    }
    return ZP_CONF_OK;
}


static char *
zp_http_core_server(zp_conf_t *cf, zp_command_t *cmd, void *dummy)
{
    char                      *rv;
    void                      *mconf;
    zp_uint_t                  i;
    zp_conf_t                  pcf;
    zp_http_module_t          *module;
    zp_http_conf_ctx_t        *ctx, *http_ctx;
    zp_http_core_srv_conf_t   *cscf, **cscfp;
    zp_http_core_main_conf_t  *cmcf;

    (void) cmd;
    (void) dummy;

    ctx = zp_pcalloc(cf->pool, sizeof(zp_http_conf_ctx_t));
    if (ctx == NULL) {
        return ZP_CONF_ERROR;
    }

    http_ctx       = cf->ctx;
    ctx->main_conf = http_ctx->main_conf;
    ctx->srv_conf  = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    ctx->rte_conf  = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    if (ctx->srv_conf == NULL || ctx->rte_conf == NULL) {
        return ZP_CONF_ERROR;
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = cf->cycle->modules[i]->ctx;

        if (module->create_srv_conf) {
            mconf = module->create_srv_conf(cf);
            if (mconf == NULL) {
                return ZP_CONF_ERROR;
            }
            ctx->srv_conf[cf->cycle->modules[i]->ctx_index] = mconf;
        }

        if (module->create_rte_conf) {
            mconf = module->create_rte_conf(cf);
            if (mconf == NULL) {
                return ZP_CONF_ERROR;
            }
            ctx->rte_conf[cf->cycle->modules[i]->ctx_index] = mconf;
        }
    }

    cscf      = ctx->srv_conf[zp_http_core_module.ctx_index];
    cscf->ctx = ctx;

    cmcf  = ctx->main_conf[zp_http_core_module.ctx_index];
    cscfp = zp_array_push(&cmcf->servers);
    if (cscfp == NULL) {
        return ZP_CONF_ERROR;
    }
    *cscfp = cscf;

    pcf          = *cf;
    cf->ctx      = ctx;
    cf->cmd_type = ZP_HTTP_SRV_CONF;

    rv = zp_conf_parse(cf, NULL);

    *cf = pcf;
    return rv;
}


static char *
zp_http_core_route(zp_conf_t *cf, zp_command_t *cmd, void *dummy)
{
    char                     *rv;
    void                     *mconf;
    zp_str_t                 *value, *path;
    zp_uint_t                 i;
    zp_conf_t                 pcf;
    zp_http_module_t         *module;
    zp_http_conf_ctx_t       *ctx, *pctx;
    zp_http_core_rte_conf_t  *rcf, **rcfp, **all;
    zp_http_core_srv_conf_t  *cscf;

    (void) cmd;
    (void) dummy;

    value = cf->args->elts;
    pctx  = cf->ctx;

    ctx = zp_pcalloc(cf->pool, sizeof(zp_http_conf_ctx_t));
    if (ctx == NULL) {
        return ZP_CONF_ERROR;
    }

    ctx->main_conf = pctx->main_conf;
    ctx->srv_conf  = pctx->srv_conf;
    ctx->rte_conf  = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    if (ctx->rte_conf == NULL) {
        return ZP_CONF_ERROR;
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = cf->cycle->modules[i]->ctx;
        if (module->create_rte_conf) {
            mconf = module->create_rte_conf(cf);
            if (mconf == NULL) {
                return ZP_CONF_ERROR;
            }
            ctx->rte_conf[cf->cycle->modules[i]->ctx_index] = mconf;
        }
    }

    rcf           = ctx->rte_conf[zp_http_core_module.ctx_index];
    rcf->rte_conf = ctx->rte_conf;

    if (cf->args->nelts == 3) {
        if (value[1].len != 1 || value[1].data[0] != '=') {
            return zp_conf_invalid_value(cf, 1);
        }
        rcf->exact = 1;
        path       = &value[2];
    } else {
        path = &value[1];
    }

    if (path->len == 0 || path->data[0] != '/') {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "route \"%V\" must start with \"/\"", path);
        return ZP_CONF_ERROR;
    }

    rcf->name = *path;

    cscf = pctx->srv_conf[zp_http_core_module.ctx_index];
    all  = cscf->routes.elts;

    for (i = 0; i < cscf->routes.nelts; i++) {
        if (all[i]->exact == rcf->exact && all[i]->name.len == rcf->name.len
            && zp_strncmp(all[i]->name.data, rcf->name.data, rcf->name.len) == 0) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate route \"%V\"", &rcf->name);
            return ZP_CONF_ERROR;
        }
    }

    rcfp = zp_array_push(&cscf->routes);
    if (rcfp == NULL) {
        return ZP_CONF_ERROR;
    }
    *rcfp = rcf;

    pcf          = *cf;
    cf->ctx      = ctx;
    cf->cmd_type = ZP_HTTP_RTE_CONF;

    rv = zp_conf_parse(cf, NULL);

    *cf = pcf;
    return rv;
}


static char *
zp_http_core_listen(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_core_srv_conf_t *cscf = conf;
    zp_http_listen_opt_t    *lo;
    zp_str_t                *value, opt;
    zp_uint_t                i;
    zp_int_t                 n;
    const char              *err;

    (void) cmd;

    value = cf->args->elts;

    lo = zp_array_push(&cscf->listen);
    if (lo == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_memzero(lo, sizeof(zp_http_listen_opt_t));

    if (zp_parse_addr_port(&value[1], 80, &lo->sockaddr, &lo->socklen, &err) != ZP_OK) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "%s in \"%V\" of the \"listen\" directive", err,
                          &value[1]);
        return ZP_CONF_ERROR;
    }

    lo->addr_text.data = zp_pnalloc(cf->pool, ZP_SOCKADDR_STRLEN);
    if (lo->addr_text.data == NULL) {
        return ZP_CONF_ERROR;
    }
    lo->addr_text.len = zp_sock_ntop(&lo->sockaddr.sa, lo->socklen, lo->addr_text.data,
                                     ZP_SOCKADDR_STRLEN, 1);
    lo->backlog   = 511;
    lo->rcvbuf    = -1;
    lo->sndbuf    = -1;
    lo->fastopen  = -1;
    lo->ipv6only  = 1;
    lo->file_name = cf->conf_file->file.name;
    lo->line      = cf->conf_file->line;

    for (i = 2; i < cf->args->nelts; i++) {
        opt = value[i];

        if (zp_strcmp(opt.data, "default_server") == 0 || zp_strcmp(opt.data, "default") == 0) {
            lo->default_server = 1;

        } else if (zp_strcmp(opt.data, "reuseport") == 0) {
            lo->reuseport = 1;

        } else if (zp_strcmp(opt.data, "deferred") == 0) {
            lo->deferred_accept = 1;

        } else if (zp_strncmp(opt.data, "backlog=", 8) == 0) {
            n = zp_atoi(opt.data + 8, opt.len - 8);
            if (n == ZP_ERROR || n == 0) {
                return zp_conf_invalid_value(cf, i);
            }
            lo->backlog = (int) n;

        } else if (zp_strncmp(opt.data, "fastopen=", 9) == 0) {
            n = zp_atoi(opt.data + 9, opt.len - 9);
            if (n == ZP_ERROR) {
                return zp_conf_invalid_value(cf, i);
            }
            lo->fastopen = (int) n;

        } else if (zp_strncmp(opt.data, "rcvbuf=", 7) == 0) {
            zp_str_t sz = {opt.len - 7, opt.data + 7};
            ssize_t  s  = zp_parse_size(&sz);
            if (s == ZP_ERROR) {
                return zp_conf_invalid_value(cf, i);
            }
            lo->rcvbuf = (int) s;

        } else if (zp_strncmp(opt.data, "sndbuf=", 7) == 0) {
            zp_str_t sz = {opt.len - 7, opt.data + 7};
            ssize_t  s  = zp_parse_size(&sz);
            if (s == ZP_ERROR) {
                return zp_conf_invalid_value(cf, i);
            }
            lo->sndbuf = (int) s;

        } else if (zp_strcmp(opt.data, "ipv6only=on") == 0) {
            lo->ipv6only = 1;

        } else if (zp_strcmp(opt.data, "ipv6only=off") == 0) {
            lo->ipv6only = 0;

        } else {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid parameter \"%V\"", &opt);
            return ZP_CONF_ERROR;
        }
    }

    return ZP_CONF_OK;
}


static char *
zp_http_core_server_name(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_core_srv_conf_t *cscf = conf;
    zp_str_t                *value, *name;
    zp_uint_t                i;

    (void) cmd;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = zp_array_push(&cscf->server_names);
        if (name == NULL) {
            return ZP_CONF_ERROR;
        }
        name->len  = value[i].len;
        name->data = zp_pnalloc(cf->pool, value[i].len + 1);
        if (name->data == NULL) {
            return ZP_CONF_ERROR;
        }
        zp_strlow(name->data, value[i].data, value[i].len);
        name->data[name->len] = '\0';
    }

    return ZP_CONF_OK;
}
