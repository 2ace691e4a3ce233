/*
 * zp_http.c: the "http" block: contexts, merging, phases and the
 * listening sockets of the http servers.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

zp_uint_t zp_http_max_module;

zp_http_header_filter_pt zp_http_top_header_filter;
zp_http_body_filter_pt   zp_http_top_body_filter;

typedef struct {
    zp_uint_t  order;
    void      *handler;
    void     **next;
} zp_http_filter_reg_t;

static char    *zp_http_block(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_merge_servers(zp_conf_t *cf, zp_http_core_main_conf_t *cmcf,
                                      zp_http_module_t *module, zp_uint_t ctx_index);
static zp_int_t zp_http_add_listens(zp_conf_t *cf, zp_http_core_main_conf_t *cmcf);

static zp_command_t zp_http_commands[] = {
    {zp_string("http"), ZP_MAIN_CONF | ZP_CONF_BLOCK | ZP_CONF_NOARGS, zp_http_block, 0, 0, NULL},
    ZP_COMMAND_END};

static zp_core_module_t zp_http_module_ctx = {zp_string("http"), NULL, NULL};

zp_module_t zp_http_module = {
    .name     = "http",
    .ctx      = &zp_http_module_ctx,
    .commands = zp_http_commands,
    .type     = ZP_CORE_MODULE,
};


static char *
zp_http_block(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char                     *rv;
    zp_uint_t                 m, mi, i;
    zp_conf_t                 pcf;
    zp_module_t             **modules;
    zp_http_module_t         *module;
    zp_http_conf_ctx_t       *ctx;
    zp_http_core_main_conf_t *cmcf;

    (void) cmd;

    if (*(zp_http_conf_ctx_t **) conf) {
        return "is duplicate";
    }

    ctx = zp_pcalloc(cf->pool, sizeof(zp_http_conf_ctx_t));
    if (ctx == NULL) {
        return ZP_CONF_ERROR;
    }
    *(zp_http_conf_ctx_t **) conf = ctx;

    zp_http_max_module = zp_count_modules(cf->cycle, ZP_HTTP_MODULE);

    ctx->main_conf = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    ctx->srv_conf  = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    ctx->rte_conf  = zp_pcalloc(cf->pool, sizeof(void *) * zp_http_max_module);
    if (ctx->main_conf == NULL || ctx->srv_conf == NULL || ctx->rte_conf == NULL) {
        return ZP_CONF_ERROR;
    }

    modules = cf->cycle->modules;

    for (m = 0; modules[m]; m++) {
        if (modules[m]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = modules[m]->ctx;
        mi     = modules[m]->ctx_index;

        if (module->create_main_conf
            && (ctx->main_conf[mi] = module->create_main_conf(cf)) == NULL) {
            return ZP_CONF_ERROR;
        }
        if (module->create_srv_conf
            && (ctx->srv_conf[mi] = module->create_srv_conf(cf)) == NULL) {
            return ZP_CONF_ERROR;
        }
        if (module->create_rte_conf
            && (ctx->rte_conf[mi] = module->create_rte_conf(cf)) == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    pcf     = *cf;
    cf->ctx = ctx;

    for (m = 0; modules[m]; m++) {
        if (modules[m]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = modules[m]->ctx;
        if (module->preconfiguration && module->preconfiguration(cf) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
    }

    cf->module_type = ZP_HTTP_MODULE;
    cf->cmd_type    = ZP_HTTP_MAIN_CONF;
    rv              = zp_conf_parse(cf, NULL);

    if (rv != ZP_CONF_OK) {
        goto failed;
    }

    cmcf = ctx->main_conf[zp_http_core_module.ctx_index];

    for (m = 0; modules[m]; m++) {
        if (modules[m]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = modules[m]->ctx;
        mi     = modules[m]->ctx_index;

        if (module->init_main_conf) {
            rv = module->init_main_conf(cf, ctx->main_conf[mi]);
            if (rv != ZP_CONF_OK) {
                goto failed;
            }
        }

        rv = zp_http_merge_servers(cf, cmcf, module, mi);
        if (rv != ZP_CONF_OK) {
            goto failed;
        }
    }

    for (i = 0; i < ZP_HTTP_PHASES; i++) {
        if (zp_array_init(&cmcf->phases[i].handlers, cf->pool, 2, sizeof(zp_http_handler_pt))
            != ZP_OK) {
            return ZP_CONF_ERROR;
        }
    }

    if (zp_array_init(&cmcf->header_filters, cf->pool, 4, sizeof(zp_http_filter_reg_t)) != ZP_OK
        || zp_array_init(&cmcf->body_filters, cf->pool, 4, sizeof(zp_http_filter_reg_t))
               != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    for (m = 0; modules[m]; m++) {
        if (modules[m]->type != ZP_HTTP_MODULE) {
            continue;
        }
        module = modules[m]->ctx;
        if (module->postconfiguration && module->postconfiguration(cf) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
    }

    if (zp_http_link_filters(cf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    *cf = pcf;

    if (zp_http_add_listens(cf, cmcf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;

failed:
    *cf = pcf;
    return rv;
}


static char *
zp_http_merge_servers(zp_conf_t *cf, zp_http_core_main_conf_t *cmcf, zp_http_module_t *module,
                      zp_uint_t ctx_index)
{
    char                      *rv;
    zp_uint_t                  s, r;
    zp_http_conf_ctx_t        *ctx, saved;
    zp_http_core_srv_conf_t  **cscfp;
    zp_http_core_rte_conf_t  **rtes;

    cscfp = cmcf->servers.elts;
    ctx   = (zp_http_conf_ctx_t *) cf->ctx;
    saved = *ctx;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        /* server{} inherits from http{} */
        ctx->srv_conf = cscfp[s]->ctx->srv_conf;

        if (module->merge_srv_conf) {
            rv = module->merge_srv_conf(cf, saved.srv_conf[ctx_index],
                                        cscfp[s]->ctx->srv_conf[ctx_index]);
            if (rv != ZP_CONF_OK) {
                goto failed;
            }
        }

        if (module->merge_rte_conf) {
            /* the server-level route conf inherits from http{} ... */
            ctx->rte_conf = cscfp[s]->ctx->rte_conf;
            rv = module->merge_rte_conf(cf, saved.rte_conf[ctx_index],
                                        cscfp[s]->ctx->rte_conf[ctx_index]);
            if (rv != ZP_CONF_OK) {
                goto failed;
            }

            /* ... and every route{} from its server */
            rtes = cscfp[s]->routes.elts;
            for (r = 0; r < cscfp[s]->routes.nelts; r++) {
                ctx->rte_conf = rtes[r]->rte_conf;
                rv = module->merge_rte_conf(cf, cscfp[s]->ctx->rte_conf[ctx_index],
                                            rtes[r]->rte_conf[ctx_index]);
                if (rv != ZP_CONF_OK) {
                    goto failed;
                }
            }
        }
    }

    *ctx = saved;
    return ZP_CONF_OK;

failed:
    *ctx = saved;
    return rv;
}


/* Appends the connection's context to error-log lines about it. */
u_char *
zp_http_log_error(zp_log_t *log, u_char *buf, size_t len)
{
    u_char           addr[ZP_SOCKADDR_STRLEN];
    size_t           n;
    zp_connection_t *c = log->data;

    if (c == NULL) {
        return buf;
    }

    n = zp_sock_ntop(&c->sockaddr.sa, c->socklen, addr, sizeof(addr), 0);

    return zp_slprintf(buf, buf + len, ", client: %*s, server: %V", n, addr,
                       &c->listening->addr_text);
}


zp_int_t
zp_http_add_handler(zp_conf_t *cf, zp_http_phases_e phase, zp_http_handler_pt h)
{
    zp_http_handler_pt       *hp;
    zp_http_core_main_conf_t *cmcf;

    cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);
    hp   = zp_array_push(&cmcf->phases[phase].handlers);
    if (hp == NULL) {
        return ZP_ERROR;
    }
    *hp = h;
    return ZP_OK;
}


static zp_int_t
zp_http_server_names_clash(zp_http_core_srv_conf_t *a, zp_http_core_srv_conf_t *b,
                           zp_str_t **name)
{
    zp_uint_t i, j;
    zp_str_t *na = a->server_names.elts, *nb = b->server_names.elts;
    static zp_str_t empty = zp_string("");

    if (a->server_names.nelts == 0 && a->server_regexes == NULL && b->server_names.nelts == 0
        && b->server_regexes == NULL) {
        *name = &empty;
        return 1;
    }

    for (i = 0; i < a->server_names.nelts; i++) {
        for (j = 0; j < b->server_names.nelts; j++) {
            if (na[i].len == nb[j].len && zp_strncmp(na[i].data, nb[j].data, na[i].len) == 0) {
                *name = &na[i];
                return 1;
            }
        }
    }

    return 0;
}


/*
 * Every listen address gets one listening socket; the servers listening
 * there are kept with it, the default one first. The same address twice
 * in one server, two default servers, or two servers answering the same
 * name there are configuration errors.
 */
static zp_int_t
zp_http_add_listens(zp_conf_t *cf, zp_http_core_main_conf_t *cmcf)
{
    zp_uint_t                 s, l, a, k;
    zp_str_t                 *clash;
    zp_conf_file_t            where, *saved;
    zp_http_addr_t           *addr;
    zp_listening_t           *ls;
    zp_http_listen_opt_t     *lo;
    zp_http_core_srv_conf_t **cscfp, **srvs;

    if (zp_array_init(&cmcf->addrs, cf->pool, 4, sizeof(zp_http_addr_t)) != ZP_OK) {
        return ZP_ERROR;
    }

    cscfp = cmcf->servers.elts;
    saved = cf->conf_file;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        lo = cscfp[s]->listen.elts;

        for (l = 0; l < cscfp[s]->listen.nelts; l++) {
            /* errors point at the listen directive */
            zp_memzero(&where, sizeof(where));
            where.file.name = lo[l].file_name;
            where.line      = lo[l].line;
            cf->conf_file   = &where;

            for (k = 0; k < l; k++) {
                if (zp_cmp_sockaddr(&lo[k].sockaddr.sa, lo[k].socklen, &lo[l].sockaddr.sa,
                                    lo[l].socklen) == ZP_OK) {
                    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate listen %V",
                                      &lo[l].addr_text);
                    goto failed;
                }
            }

            addr = cmcf->addrs.elts;
            for (a = 0; a < cmcf->addrs.nelts; a++) {
                if (zp_cmp_sockaddr(&addr[a].sockaddr.sa, addr[a].socklen, &lo[l].sockaddr.sa,
                                    lo[l].socklen) == ZP_OK) {
                    break;
                }
            }

            if (a == cmcf->addrs.nelts) {
                addr = zp_array_push(&cmcf->addrs);
                if (addr == NULL) {
                    goto failed;
                }
                zp_memzero(addr, sizeof(zp_http_addr_t));
                addr->sockaddr = lo[l].sockaddr;
                addr->socklen  = lo[l].socklen;
                if (zp_array_init(&addr->servers, cf->pool, 2, sizeof(void *)) != ZP_OK) {
                    goto failed;
                }

                ls = zp_create_listening(cf, &lo[l].sockaddr.sa, lo[l].socklen);
                if (ls == NULL) {
                    goto failed;
                }
                if (lo[l].ssl) {
                    if (cmcf->ssl_init_connection == NULL) {
                        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                          "the \"ssl\" parameter needs the http_ssl module");
                        goto failed;
                    }
                    addr->ssl   = 1;
                    ls->handler = cmcf->ssl_init_connection;
                } else {
                    ls->handler = zp_http_init_connection;
                }
                ls->log.handler     = zp_http_log_error;
                ls->servers         = addr;
                ls->backlog         = lo[l].backlog;
                ls->rcvbuf          = lo[l].rcvbuf;
                ls->sndbuf          = lo[l].sndbuf;
                ls->fastopen        = lo[l].fastopen;
                ls->reuseport       = lo[l].reuseport;
                ls->deferred_accept = lo[l].deferred_accept;
                ls->delay_ack       = !lo[l].ssl;
                ls->ipv6only        = lo[l].ipv6only;
                addr->listening     = ls;

                if (zp_clone_listening(cf->cycle, ls) != ZP_OK) {
                    goto failed;
                }

            } else {
                addr = &addr[a];
                srvs = addr->servers.elts;

                /* one socket, one protocol: every listen of it must agree */
                if (addr->ssl != lo[l].ssl) {
                    zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                      "listen %V: \"ssl\" is set on some \"listen\" of this "
                                      "address but not on all",
                                      &lo[l].addr_text);
                    goto failed;
                }

                for (k = 0; k < addr->servers.nelts; k++) {
                    if (zp_http_server_names_clash(srvs[k], cscfp[s], &clash)) {
                        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                          "duplicate listen %V for server name \"%V\"",
                                          &lo[l].addr_text, clash);
                        goto failed;
                    }
                }
            }

            if (lo[l].default_server) {
                if (addr->default_server) {
                    zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                      "a duplicate default server for %V", &lo[l].addr_text);
                    goto failed;
                }
                addr->default_server = cscfp[s];
            }

            srvs = zp_array_push(&addr->servers);
            if (srvs == NULL) {
                goto failed;
            }
            *srvs = cscfp[s];
        }
    }

    addr = cmcf->addrs.elts;
    for (a = 0; a < cmcf->addrs.nelts; a++) {
        if (addr[a].default_server == NULL) {
            addr[a].default_server = ((void **) addr[a].servers.elts)[0];
        }
    }

    cf->conf_file = saved;
    return ZP_OK;

failed:
    cf->conf_file = saved;
    return ZP_ERROR;
}


static zp_int_t
zp_http_add_filter(zp_array_t *filters, zp_uint_t order, void *h, void **next)
{
    zp_http_filter_reg_t *f = zp_array_push(filters);

    if (f == NULL) {
        return ZP_ERROR;
    }
    f->order   = order;
    f->handler = h;
    f->next    = next;
    return ZP_OK;
}


zp_int_t
zp_http_add_header_filter(zp_conf_t *cf, zp_uint_t order, zp_http_header_filter_pt h,
                          zp_http_header_filter_pt *next)
{
    zp_http_core_main_conf_t *cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    return zp_http_add_filter(&cmcf->header_filters, order, (void *) h, (void **) next);
}


zp_int_t
zp_http_add_body_filter(zp_conf_t *cf, zp_uint_t order, zp_http_body_filter_pt h,
                        zp_http_body_filter_pt *next)
{
    zp_http_core_main_conf_t *cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    return zp_http_add_filter(&cmcf->body_filters, order, (void *) h, (void **) next);
}


/* Sorts one chain by order (stable: registration order breaks ties) and
 * links it; returns the head, or last when nothing is registered. */
static void *
zp_http_link_chain(zp_array_t *filters, void *last)
{
    zp_uint_t             i, j;
    zp_http_filter_reg_t *f = filters->elts, t;

    for (i = 1; i < filters->nelts; i++) {
        for (j = i; j > 0 && f[j - 1].order > f[j].order; j--) {
            t        = f[j];
            f[j]     = f[j - 1];
            f[j - 1] = t;
        }
    }

    for (i = 0; i < filters->nelts; i++) {
        *f[i].next = (i + 1 < filters->nelts) ? f[i + 1].handler : last;
    }

    return filters->nelts ? f[0].handler : last;
}


zp_int_t
zp_http_link_filters(zp_conf_t *cf)
{
    zp_http_core_main_conf_t *cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    zp_http_top_header_filter =
        (zp_http_header_filter_pt) zp_http_link_chain(&cmcf->header_filters,
                                                      (void *) zp_http_write_header_filter);
    zp_http_top_body_filter =
        (zp_http_body_filter_pt) zp_http_link_chain(&cmcf->body_filters,
                                                    (void *) zp_http_write_body_filter);
    return ZP_OK;
}
