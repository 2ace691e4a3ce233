/*
 * zp_http_core_module.c: server, route and listen, and the connection
 * limits and timeouts every request needs.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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
static char *zp_http_core_methods(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_http_core_match_header(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t zp_http_core_preconfiguration(zp_conf_t *cf);
static zp_int_t zp_http_core_build_router(zp_conf_t *cf, zp_http_core_srv_conf_t *cscf);
static zp_int_t zp_http_core_keep_regex(zp_conf_t *cf, pcre2_code *re);

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
    {zp_string("merge_slashes"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_core_srv_conf_t, merge_slashes), NULL},
    {zp_string("underscores_in_headers"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_core_srv_conf_t, underscores_in_headers), NULL},
    {zp_string("ignore_invalid_headers"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_core_srv_conf_t, ignore_invalid_headers), NULL},
    {zp_string("http09"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET, offsetof(zp_http_core_srv_conf_t, http09),
     NULL},
    {zp_string("methods"), ZP_HTTP_RTE_CONF | ZP_CONF_1MORE, zp_http_core_methods,
     ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("match_header"), ZP_HTTP_RTE_CONF | ZP_CONF_TAKE12, zp_http_core_match_header,
     ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("client_max_body_size"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_conf_set_off_slot, ZP_HTTP_RTE_CONF_OFFSET,
     offsetof(zp_http_core_rte_conf_t, client_max_body_size), NULL},
    {zp_string("client_body_timeout"),
     ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET,
     offsetof(zp_http_core_rte_conf_t, client_body_timeout), NULL},
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
    zp_http_core_preconfiguration,
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
    cscf->merge_slashes             = ZP_CONF_UNSET;
    cscf->underscores_in_headers    = ZP_CONF_UNSET;
    cscf->ignore_invalid_headers    = ZP_CONF_UNSET;
    cscf->http09                    = ZP_CONF_UNSET;

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
    zp_conf_merge_value(conf->merge_slashes, prev->merge_slashes, 1);
    zp_conf_merge_value(conf->underscores_in_headers, prev->underscores_in_headers, 0);
    zp_conf_merge_value(conf->ignore_invalid_headers, prev->ignore_invalid_headers, 1);
    zp_conf_merge_value(conf->http09, prev->http09, 1);

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

    if (conf->ctx && zp_http_core_build_router(cf, conf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


/* The server's routes, in the order written, into its route table; an
 * error points at the route directive. */
static zp_int_t
zp_http_core_build_router(zp_conf_t *cf, zp_http_core_srv_conf_t *cscf)
{
    char                      err[256];
    zp_uint_t                 i;
    zp_conf_file_t            where, *saved;
    zp_http_core_rte_conf_t **rtes;

    cscf->router = zp_http_router_create(cf->pool, cf->log);
    if (cscf->router == NULL) {
        return ZP_ERROR;
    }

    saved = cf->conf_file;
    rtes  = cscf->routes.elts;

    for (i = 0; i < cscf->routes.nelts; i++) {
        if (zp_http_router_add(cscf->router, &rtes[i]->def, err, sizeof(err)) != ZP_OK) {
            zp_memzero(&where, sizeof(where));
            where.file.name = rtes[i]->file_name;
            where.line      = rtes[i]->line;
            cf->conf_file   = &where;
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "%s", err);
            cf->conf_file = saved;
            return ZP_ERROR;
        }
    }

    if (zp_http_router_compile(cscf->router) != ZP_OK) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "could not build the route table");
        return ZP_ERROR;
    }

    return ZP_OK;
}


static void *
zp_http_core_create_rte_conf(zp_conf_t *cf)
{
    zp_http_core_rte_conf_t *rcf = zp_pcalloc(cf->pool, sizeof(zp_http_core_rte_conf_t));

    if (rcf == NULL) {
        return NULL;
    }

    rcf->keepalive_timeout    = ZP_CONF_UNSET_MSEC;
    rcf->keepalive_requests   = ZP_CONF_UNSET_UINT;
    rcf->send_timeout         = ZP_CONF_UNSET_MSEC;
    rcf->client_body_timeout  = ZP_CONF_UNSET_MSEC;
    rcf->client_max_body_size = ZP_CONF_UNSET;

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
    zp_conf_merge_msec_value(conf->client_body_timeout, prev->client_body_timeout, 60000);
    zp_conf_merge_value(conf->client_max_body_size, prev->client_max_body_size, 1024 * 1024);

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
    zp_http_core_rte_conf_t  *rcf, **rcfp;
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
    rcf->def.data = rcf;
    rcf->file_name = cf->conf_file->file.name;
    rcf->line      = cf->conf_file->line;

    if (cf->args->nelts == 3) {
        if (value[1].len == 1 && value[1].data[0] == '=') {
            rcf->def.type = ZP_HTTP_ROUTE_EXACT;
        } else if (value[1].len == 1 && value[1].data[0] == '~') {
            rcf->def.type = ZP_HTTP_ROUTE_REGEX;
        } else if (value[1].len == 2 && value[1].data[0] == '~' && value[1].data[1] == '*') {
            rcf->def.type = ZP_HTTP_ROUTE_REGEX_CASELESS;
        } else {
            return zp_conf_invalid_value(cf, 1);
        }
        path = &value[2];
    } else {
        /* the router tells a pattern (":param", "*") from a plain prefix */
        rcf->def.type = ZP_HTTP_ROUTE_PREFIX;
        path          = &value[1];
    }

    rcf->def.pattern = *path;

    cscf = pctx->srv_conf[zp_http_core_module.ctx_index];

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

        } else if (zp_strcmp(opt.data, "ssl") == 0) {
            lo->ssl = 1;

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
    int                       errcode;
    PCRE2_SIZE                erroff;
    pcre2_code               *re, **rep;
    zp_http_core_srv_conf_t  *cscf = conf;
    zp_str_t                 *value, *name;
    zp_uint_t                 i;
    u_char                    msg[256];

    (void) cmd;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len > 1 && value[i].data[0] == '~') {
            /* "~^api\d+\.example\.com$": host names are lower-case,
             * so the pattern is matched caselessly */
            re = pcre2_compile(value[i].data + 1, value[i].len - 1, PCRE2_CASELESS, &errcode,
                               &erroff, NULL);
            if (re == NULL) {
                pcre2_get_error_message(errcode, msg, sizeof(msg));
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                  "server_name \"%V\" does not compile: %s at offset %uz",
                                  &value[i], msg, (size_t) erroff);
                return ZP_CONF_ERROR;
            }
            (void) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);

            if (zp_http_core_keep_regex(cf, re) != ZP_OK) {
                return ZP_CONF_ERROR;
            }

            if (cscf->server_regexes == NULL) {
                cscf->server_regexes = zp_array_create(cf->pool, 2, sizeof(pcre2_code *));
                if (cscf->server_regexes == NULL) {
                    return ZP_CONF_ERROR;
                }
            }
            rep = zp_array_push(cscf->server_regexes);
            if (rep == NULL) {
                return ZP_CONF_ERROR;
            }
            *rep = re;
            continue;
        }

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


static void
zp_http_core_free_regex(void *data)
{
    pcre2_code_free(data);
}


/* compiled patterns live as long as the cycle's pool */
static zp_int_t
zp_http_core_keep_regex(zp_conf_t *cf, pcre2_code *re)
{
    zp_pool_cleanup_t *cln = zp_pool_cleanup_add(cf->pool, 0);

    if (cln == NULL) {
        pcre2_code_free(re);
        return ZP_ERROR;
    }
    cln->handler = zp_http_core_free_regex;
    cln->data    = re;
    return ZP_OK;
}


static const struct {
    const char *name;
    zp_uint_t   method;
} zp_http_core_method_names[] = {
    {"GET", ZP_HTTP_GET},         {"HEAD", ZP_HTTP_HEAD},   {"POST", ZP_HTTP_POST},
    {"PUT", ZP_HTTP_PUT},         {"DELETE", ZP_HTTP_DELETE}, {"OPTIONS", ZP_HTTP_OPTIONS},
    {"PATCH", ZP_HTTP_PATCH},     {"TRACE", ZP_HTTP_TRACE}, {"CONNECT", ZP_HTTP_CONNECT},
};


/* methods GET PUT ...; a route answers other methods with 405 (unless a
 * less specific route takes them: see docs/routing.md) */
static char *
zp_http_core_methods(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_core_rte_conf_t *rcf   = conf;
    zp_str_t                *value = cf->args->elts;
    zp_uint_t                i, m;

    (void) cmd;

    if (rcf->def.methods) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; m < zp_nelems(zp_http_core_method_names); m++) {
            if (zp_strcmp(value[i].data, zp_http_core_method_names[m].name) == 0) {
                rcf->def.methods |= zp_http_core_method_names[m].method;
                break;
            }
        }
        if (m == zp_nelems(zp_http_core_method_names)) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    /* as everywhere in HTTP, a route that serves GET serves HEAD */
    if (rcf->def.methods & ZP_HTTP_GET) {
        rcf->def.methods |= ZP_HTTP_HEAD;
    }

    return ZP_CONF_OK;
}


/* match_header Name;            the header is present
 * match_header Name value;      equal to value
 * match_header Name "~re";      matches re (~* caseless)
 * Name may be a $variable ($ssl_client_s_dn, $remote_addr...): then its
 * value is tested, and an empty or unset one counts as absent. */
static char *
zp_http_core_match_header(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_core_rte_conf_t *rcf   = conf;
    zp_str_t                *value = cf->args->elts;
    zp_http_route_header_t  *h;
    zp_uint_t                i;

    (void) cmd;

    if (rcf->def.headers == NULL) {
        rcf->def.headers = zp_array_create(cf->pool, 2, sizeof(zp_http_route_header_t));
        if (rcf->def.headers == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    h = zp_array_push(rcf->def.headers);
    if (h == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_memzero(h, sizeof(zp_http_route_header_t));

    /* names compare lower-case, as headers arrive in any case */
    h->name.len  = value[1].len;
    h->name.data = zp_pnalloc(cf->pool, value[1].len + 1);
    if (h->name.data == NULL) {
        return ZP_CONF_ERROR;
    }
    for (i = 0; i < value[1].len; i++) {
        h->name.data[i] = zp_tolower(value[1].data[i]);
    }
    h->name.data[h->name.len] = '\0';

    if (h->name.len && h->name.data[0] == '$') {
        zp_str_t var;
        zp_int_t index;

        /* known now, or an error at this line; the router hands the index
         * back to zp_http_route_header(), which reads the variable */
        var.data = h->name.data + 1;
        var.len  = h->name.len - 1;
        index    = zp_http_get_variable_index(cf, &var);
        if (index == ZP_ERROR) {
            return ZP_CONF_ERROR;
        }
        h->data = (uintptr_t) index + 1;
    }

    if (cf->args->nelts == 2) {
        h->type = ZP_HTTP_ROUTE_HEADER_PRESENT;
        return ZP_CONF_OK;
    }

    if (value[2].len > 1 && value[2].data[0] == '~') {
        if (value[2].len > 2 && value[2].data[1] == '*') {
            h->type       = ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS;
            h->value.data = value[2].data + 2;
            h->value.len  = value[2].len - 2;
        } else {
            h->type       = ZP_HTTP_ROUTE_HEADER_REGEX;
            h->value.data = value[2].data + 1;
            h->value.len  = value[2].len - 1;
        }
        return ZP_CONF_OK;
    }

    h->type  = ZP_HTTP_ROUTE_HEADER_EXACT;
    h->value = value[2];
    return ZP_CONF_OK;
}


static zp_int_t
zp_http_core_preconfiguration(zp_conf_t *cf)
{
    if (zp_http_headers_in_init(cf) != ZP_OK) {
        return ZP_ERROR;
    }
    return zp_http_variables_add_core_vars(cf);
}
