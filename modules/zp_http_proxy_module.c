/*
 * zp_http_proxy_module.c: the reverse proxy: "upstream" groups, proxy_pass
 * and the proxy_* directives, per-worker keep-alive pools of upstream
 * connections, streaming of request and response bodies with bounded
 * memory and back-pressure in both directions, retries (proxy_next_upstream)
 * and the $upstream_* variables.
 *
 * One request, one zp_http_proxy_ctx_t (r->upstream). The flow:
 *
 *   handler -> read the first buffer of the request body (if any)
 *           -> connect (a pooled connection to the chosen peer, or a new
 *              one) -> send head + body (zp_http_proxy_send: reads the
 *              client only when the body buffer is drained)
 *           -> read the response head (status line, headers) into a
 *              proxy_buffer_size buffer -> zp_http_send_header
 *           -> stream the body through zp_http_output; while it returns
 *              ZP_AGAIN the upstream is not read, r->write_event_handler
 *              resumes it -> keep the connection for the next request or
 *              close it -> zp_http_finalize_request.
 *
 * Request target: the client's target as sent (r->unparsed_uri), or, when
 * proxy_pass has a URI part ("proxy_pass http://127.0.0.1:5000/v2/;" in
 * "route /v1/"), the route's literal prefix at the start of the target
 * replaced by that URI ("/v1/a?b" -> "/v2/a?b"). A target that does not
 * start with the prefix byte for byte (it was percent-encoded) is rebuilt
 * from the normalized path: URI part + rest of r->uri + "?" + r->args.
 */
#include <zp_http_proxy.h>


static zp_int_t zp_http_proxy_preconfiguration(zp_conf_t *cf);
static zp_int_t zp_http_proxy_postconfiguration(zp_conf_t *cf);
static void    *zp_http_proxy_create_main_conf(zp_conf_t *cf);
static void    *zp_http_proxy_create_rte_conf(zp_conf_t *cf);
static char    *zp_http_proxy_merge_rte_conf(zp_conf_t *cf, void *parent, void *child);
static char    *zp_http_proxy_upstream_block(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_pass(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_next_upstream(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_header_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_hide_header(zp_conf_t *cf, zp_command_t *cmd, void *conf);

static zp_conf_enum_t zp_http_proxy_next_upstream_masks[] = {
    {zp_string("error"), ZP_HTTP_PROXY_FT_ERROR},
    {zp_string("timeout"), ZP_HTTP_PROXY_FT_TIMEOUT},
    {zp_string("http_502"), ZP_HTTP_PROXY_FT_HTTP_502},
    {zp_string("http_503"), ZP_HTTP_PROXY_FT_HTTP_503},
    {zp_string("http_504"), ZP_HTTP_PROXY_FT_HTTP_504},
    {zp_string("off"), ZP_HTTP_PROXY_FT_OFF},
    {zp_null_string, 0}};

#define ZP_HTTP_PROXY_ALL_LEVELS (ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF)
#define zp_http_proxy_off(field) offsetof(zp_http_proxy_rte_conf_t, field)

static zp_command_t zp_http_proxy_commands[] = {
    {zp_string("upstream"), ZP_HTTP_MAIN_CONF | ZP_CONF_BLOCK | ZP_CONF_TAKE1,
     zp_http_proxy_upstream_block, ZP_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_pass"), ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_http_proxy_pass, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_connect_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(connect_timeout), NULL},
    {zp_string("proxy_send_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(send_timeout), NULL},
    {zp_string("proxy_read_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(read_timeout), NULL},
    {zp_string("proxy_next_upstream"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_1MORE,
     zp_http_proxy_next_upstream, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_next_upstream_tries"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(next_upstream_tries), NULL},
    {zp_string("proxy_buffer_size"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_size_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(buffer_size), NULL},
    {zp_string("proxy_set_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE2,
     zp_http_proxy_header_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(set_headers), NULL},
    {zp_string("proxy_hide_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_hide_header, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("add_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE2,
     zp_http_proxy_header_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(add_headers), NULL},
#if (ZP_HAVE_HTTP_SSL_MODULE)
    /* upstream TLS (proxy_pass https://): docs/proxy.md */
    {zp_string("proxy_ssl_verify"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_http_proxy_ssl_verify_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.verify),
     NULL},
    {zp_string("proxy_ssl_verify_depth"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.verify_depth),
     NULL},
    {zp_string("proxy_ssl_trusted_certificate"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.trusted_certificate), NULL},
    {zp_string("proxy_ssl_server_name"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.server_name),
     NULL},
    {zp_string("proxy_ssl_name"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.name), NULL},
    {zp_string("proxy_ssl_certificate"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.certificate), NULL},
    {zp_string("proxy_ssl_certificate_key"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.certificate_key), NULL},
    {zp_string("proxy_ssl_protocols"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_1MORE,
     zp_http_proxy_ssl_protocols_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.protocols), NULL},
    {zp_string("proxy_ssl_ciphers"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.ciphers), NULL},
    {zp_string("proxy_ssl_session_reuse"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.session_reuse),
     NULL},
#endif
    ZP_COMMAND_END};

static zp_http_module_t zp_http_proxy_module_ctx = {
    zp_http_proxy_preconfiguration,
    zp_http_proxy_postconfiguration,
    zp_http_proxy_create_main_conf,
    NULL,
    NULL,
    NULL,
    zp_http_proxy_create_rte_conf,
    zp_http_proxy_merge_rte_conf,
};

zp_module_t zp_http_proxy_module = {
    .name     = "http_proxy",
    .ctx      = &zp_http_proxy_module_ctx,
    .commands = zp_http_proxy_commands,
    .type     = ZP_HTTP_MODULE,
};


/* ---- configuration ------------------------------------------------------ */

static void *
zp_http_proxy_create_main_conf(zp_conf_t *cf)
{
    zp_http_proxy_main_conf_t *pmcf;

    pmcf = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_main_conf_t));
    if (pmcf == NULL
        || zp_array_init(&pmcf->upstreams, cf->pool, 4, sizeof(zp_http_proxy_upstream_t *))
               != ZP_OK) {
        return NULL;
    }
    pmcf->scheme_index = ZP_ERROR;
    pmcf->host_index   = ZP_ERROR;
    return pmcf;
}


static void *
zp_http_proxy_create_rte_conf(zp_conf_t *cf)
{
    zp_http_proxy_rte_conf_t *conf;

    conf = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_rte_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->connect_timeout     = ZP_CONF_UNSET_MSEC;
    conf->send_timeout        = ZP_CONF_UNSET_MSEC;
    conf->read_timeout        = ZP_CONF_UNSET_MSEC;
    conf->next_upstream       = 0;
    conf->next_upstream_tries = ZP_CONF_UNSET_UINT;
    conf->buffer_size         = ZP_CONF_UNSET_SIZE;
    conf->set_headers         = ZP_CONF_UNSET_PTR;
    conf->hide_headers        = ZP_CONF_UNSET_PTR;
    conf->add_headers         = ZP_CONF_UNSET_PTR;
#if (ZP_HAVE_HTTP_SSL_MODULE)
    zp_http_proxy_ssl_create_conf(&conf->ssl_conf);
#endif
    return conf;
}


static zp_http_proxy_upstream_t *
zp_http_proxy_find_upstream(zp_http_proxy_main_conf_t *pmcf, zp_str_t *name)
{
    zp_uint_t                  i;
    zp_http_proxy_upstream_t **us = pmcf->upstreams.elts;

    for (i = 0; i < pmcf->upstreams.nelts; i++) {
        if (us[i]->group.name.len == name->len
            && zp_strncasecmp(us[i]->group.name.data, name->data, name->len) == 0) {
            return us[i];
        }
    }
    return NULL;
}


/* The per-worker pool: the idle items, allocated once. */
static zp_int_t
zp_http_proxy_upstream_done(zp_conf_t *cf, zp_http_proxy_upstream_t *us)
{
    zp_uint_t i;

    zp_queue_init(&us->cache);
    zp_queue_init(&us->free);

    if (us->keepalive_timeout == ZP_CONF_UNSET_MSEC) {
        us->keepalive_timeout = 60000;
    }
    if (us->keepalive_requests == ZP_CONF_UNSET_UINT) {
        us->keepalive_requests = 1000;
    }

    if (us->keepalive) {
        us->items = zp_pcalloc(cf->pool, us->keepalive * sizeof(zp_http_proxy_cached_t));
        if (us->items == NULL) {
            return ZP_ERROR;
        }
        for (i = 0; i < us->keepalive; i++) {
            us->items[i].us = us;
            zp_queue_insert_tail(&us->free, &us->items[i].queue);
        }
    }

    /* the cycle's own log: cf->cycle->log is still the previous cycle's */
    return zp_http_upstream_init(cf->pool, &us->group, &cf->cycle->new_log);
}


static char *
zp_http_proxy_upstream_server(zp_conf_t *cf, zp_http_proxy_upstream_t *us)
{
    zp_str_t                *value = cf->args->elts, s;
    zp_uint_t                i, backup = 0, down = 0;
    zp_int_t                 weight = 1, max_fails = -1, n;
    zp_msec_t                fail_timeout = ZP_CONF_UNSET_MSEC;
    zp_sockaddr_t            sa;
    socklen_t                socklen;
    const char              *err;
    zp_http_upstream_peer_t *p;

    if (cf->args->nelts < 2) {
        return "invalid number of arguments in \"server\" directive";
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (value[i].len > 7 && zp_strncmp(value[i].data, "weight=", 7) == 0) {
            weight = zp_atoi(value[i].data + 7, value[i].len - 7);
            if (weight == ZP_ERROR || weight < 1 || weight > 1000) {
                goto invalid;
            }
        } else if (value[i].len > 10 && zp_strncmp(value[i].data, "max_fails=", 10) == 0) {
            max_fails = zp_atoi(value[i].data + 10, value[i].len - 10);
            if (max_fails == ZP_ERROR) {
                goto invalid;
            }
        } else if (value[i].len > 13 && zp_strncmp(value[i].data, "fail_timeout=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len  = value[i].len - 13;
            n      = zp_parse_time(&s, 0);
            if (n == ZP_ERROR) {
                goto invalid;
            }
            fail_timeout = (zp_msec_t) n;
        } else if (value[i].len == 6 && zp_strncmp(value[i].data, "backup", 6) == 0) {
            backup = 1;
        } else if (value[i].len == 4 && zp_strncmp(value[i].data, "down", 4) == 0) {
            down = 1;
        } else {
            goto invalid;
        }
    }

    /* numeric addresses only: no resolver at configuration time */
    if (zp_parse_addr_port(&value[1], 80, &sa, &socklen, &err) != ZP_OK) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "%s in upstream server \"%V\"", err, &value[1]);
        return ZP_CONF_ERROR;
    }

    p = zp_http_upstream_add_peer(cf->pool, &us->group, &value[1], backup, cf->log);
    if (p == NULL) {
        return ZP_CONF_ERROR;
    }

    p->weight           = weight;
    p->effective_weight = weight;
    p->down             = down;
    if (max_fails >= 0) {
        p->max_fails = (zp_uint_t) max_fails;
    }
    if (fail_timeout != ZP_CONF_UNSET_MSEC) {
        p->fail_timeout = fail_timeout;
    }
    return ZP_CONF_OK;

invalid:
    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid parameter \"%V\" in \"server\" directive",
                      &value[i]);
    return ZP_CONF_ERROR;
}


/* cf->handler inside upstream { }: its own small directive set. */
static char *
zp_http_proxy_upstream_directive(zp_conf_t *cf, zp_command_t *dummy, void *conf)
{
    zp_http_proxy_upstream_t *us    = conf;
    zp_str_t                 *value = cf->args->elts;
    zp_str_t                 *name  = &value[0];
    zp_uint_t                 nargs = cf->args->nelts;
    zp_int_t                  n;

    (void) dummy;

#define zp_http_proxy_is(s) (name->len == sizeof(s) - 1 && zp_strncmp(name->data, s, name->len) == 0)

    if (zp_http_proxy_is("server")) {
        return zp_http_proxy_upstream_server(cf, us);
    }

    if (zp_http_proxy_is("include")) {
        return zp_conf_include(cf, NULL, NULL);
    }

    if (zp_http_proxy_is("least_conn") || zp_http_proxy_is("hash")) {
        if (us->group.method != ZP_HTTP_UPSTREAM_RR) {
            return "load balancing method redefined";
        }
        if (zp_http_proxy_is("least_conn")) {
            if (nargs != 1) {
                return "invalid number of arguments in \"least_conn\" directive";
            }
            us->group.method = ZP_HTTP_UPSTREAM_LEAST_CONN;
            return ZP_CONF_OK;
        }
        if (nargs != 2 && nargs != 3) {
            return "invalid number of arguments in \"hash\" directive";
        }
        if (nargs == 3) {
            if (value[2].len != 10 || zp_strncmp(value[2].data, "consistent", 10) != 0) {
                return zp_conf_invalid_value(cf, 2);
            }
        }
        us->group.method = nargs == 3 ? ZP_HTTP_UPSTREAM_HASH_CONSISTENT : ZP_HTTP_UPSTREAM_HASH;
        if (zp_http_compile_complex_value(cf, &value[1], &us->hash_key) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
        us->has_hash = 1;
        return ZP_CONF_OK;
    }

    if (zp_http_proxy_is("keepalive") || zp_http_proxy_is("keepalive_requests")) {
        if (nargs != 2) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid number of arguments in \"%V\" directive",
                              name);
            return ZP_CONF_ERROR;
        }
        n = zp_atoi(value[1].data, value[1].len);
        if (n == ZP_ERROR || n < (zp_http_proxy_is("keepalive") ? 0 : 1)) {
            return zp_conf_invalid_value(cf, 1);
        }
        if (zp_http_proxy_is("keepalive")) {
            us->keepalive = (zp_uint_t) n;
        } else {
            us->keepalive_requests = (zp_uint_t) n;
        }
        return ZP_CONF_OK;
    }

    if (zp_http_proxy_is("keepalive_timeout")) {
        if (nargs != 2) {
            return "invalid number of arguments in \"keepalive_timeout\" directive";
        }
        n = zp_parse_time(&value[1], 0);
        if (n == ZP_ERROR) {
            return zp_conf_invalid_value(cf, 1);
        }
        us->keepalive_timeout = (zp_msec_t) n;
        return ZP_CONF_OK;
    }

#undef zp_http_proxy_is

    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown directive \"%V\" in upstream", name);
    return ZP_CONF_ERROR;
}


static char *
zp_http_proxy_upstream_block(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char                      *rv;
    zp_str_t                  *value = cf->args->elts;
    zp_conf_t                  save;
    zp_uint_t                  line;
    zp_http_proxy_main_conf_t *pmcf = conf;
    zp_http_proxy_upstream_t  *us, **usp;

    (void) cmd;

    if (zp_http_proxy_find_upstream(pmcf, &value[1])) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate upstream \"%V\"", &value[1]);
        return ZP_CONF_ERROR;
    }

    us = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_upstream_t));
    if (us == NULL) {
        return ZP_CONF_ERROR;
    }
    us->group.name          = value[1];
    us->group.method        = ZP_HTTP_UPSTREAM_RR;
    us->keepalive_timeout   = ZP_CONF_UNSET_MSEC;
    us->keepalive_requests  = ZP_CONF_UNSET_UINT;
    us->file_name           = cf->conf_file->file.name;
    us->line                = cf->conf_file->line;

    usp = zp_array_push(&pmcf->upstreams);
    if (usp == NULL) {
        return ZP_CONF_ERROR;
    }
    *usp = us;

    save             = *cf;
    cf->handler      = zp_http_proxy_upstream_directive;
    cf->handler_conf = us;
    rv               = zp_conf_parse(cf, NULL);
    line             = cf->conf_file->line;
    *cf              = save;

    if (rv != ZP_CONF_OK) {
        return rv;
    }

    if (us->group.peers.nelts == 0) {
        /* reported at the upstream line, as nginx does */
        cf->conf_file->line = us->line;
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "no servers are inside upstream \"%V\"",
                          &us->group.name);
        cf->conf_file->line = line;
        return ZP_CONF_ERROR;
    }

    if (zp_http_proxy_upstream_done(cf, us) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


static char *
zp_http_proxy_pass(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts;

    (void) cmd;

    if (plcf->pass.data) {
        return "is duplicate";
    }

    if (value[1].len > 8 && zp_strncasecmp(value[1].data, (u_char *) "https://", 8) == 0) {
#if (ZP_HAVE_HTTP_SSL_MODULE)
        plcf->https = 1;
#else
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "\"%V\": https:// needs the http_ssl module (zproxy was built with "
                          "--without-http_ssl)",
                          &value[1]);
        return ZP_CONF_ERROR;
#endif

    } else if (value[1].len <= 7
               || zp_strncasecmp(value[1].data, (u_char *) "http://", 7) != 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid URL prefix in \"%V\"", &value[1]);
        return ZP_CONF_ERROR;
    }

    /* resolved when merging: an upstream block may come later */
    plcf->pass      = value[1];
    plcf->pass_file = cf->conf_file->file.name;
    plcf->pass_line = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_pass http://name[/uri]: name is an upstream block, else a literal
 * numeric host:port that gets a one-server group of its own. */
static char *
zp_http_proxy_resolve_pass(zp_conf_t *cf, zp_http_proxy_rte_conf_t *conf)
{
    u_char                    *p, *last, *slash;
    zp_str_t                   name;
    zp_sockaddr_t              sa;
    socklen_t                  socklen;
    const char                *err;
    zp_conf_file_t             where, *saved;
    zp_http_proxy_upstream_t  *us, **usp;
    zp_http_proxy_main_conf_t *pmcf;
    zp_http_core_rte_conf_t   *rcf;
    zp_http_upstream_peer_t   *peer;

    pmcf = zp_http_conf_get_module_main_conf(cf, zp_http_proxy_module);
    rcf  = zp_http_conf_get_module_rte_conf(cf, zp_http_core_module);

    zp_memzero(&where, sizeof(where));
    where.file.name = conf->pass_file;
    where.line      = conf->pass_line;
    saved           = cf->conf_file;
    cf->conf_file   = &where;

    p     = conf->pass.data + (conf->https ? 8 : 7);
    last  = conf->pass.data + conf->pass.len;
    slash = memchr(p, '/', last - p);

    name.data = p;
    name.len  = (slash ? slash : last) - p;

    if (slash) {
        conf->uri.data = slash;
        conf->uri.len  = last - slash;
    }

    if (name.len == 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "no host in \"%V\"", &conf->pass);
        goto failed;
    }

    conf->host = name;
    us         = zp_http_proxy_find_upstream(pmcf, &name);

    if (us && us->implicit) {
        /* "http://host" and "https://host" are different ports */
        peer = us->group.peers.elts;
        zp_memzero(&sa, sizeof(sa));
        if (zp_parse_addr_port(&name, conf->https ? 443 : 80, &sa, &socklen, &err) != ZP_OK
            || socklen != peer->socklen || zp_memcmp(&sa, &peer->sockaddr, socklen) != 0) {
            us = NULL;
        }
    }

    if (us == NULL) {
        if (zp_parse_addr_port(&name, conf->https ? 443 : 80, &sa, &socklen, &err) != ZP_OK) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "host not found in upstream \"%V\": no upstream block of that name "
                              "and not a numeric address (%s)",
                              &name, err);
            goto failed;
        }

        us = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_upstream_t));
        usp = zp_array_push(&pmcf->upstreams);
        if (us == NULL || usp == NULL) {
            goto failed;
        }
        *usp                   = us;
        us->group.name         = name;
        us->group.method       = ZP_HTTP_UPSTREAM_RR;
        us->implicit           = 1;
        us->keepalive_timeout  = ZP_CONF_UNSET_MSEC;
        us->keepalive_requests = ZP_CONF_UNSET_UINT;
        us->file_name          = conf->pass_file;
        us->line               = conf->pass_line;

        peer = zp_http_upstream_add_peer(cf->pool, &us->group, &name, 0, cf->log);
        if (peer == NULL) {
            goto failed;
        }
        /* the scheme's port when none is given */
        peer->sockaddr = sa;
        peer->socklen  = socklen;

        if (zp_http_proxy_upstream_done(cf, us) != ZP_OK) {
            goto failed;
        }
    }

    if (conf->uri.len) {
        if (rcf->def.pattern.len == 0
            || (rcf->def.type != ZP_HTTP_ROUTE_PREFIX && rcf->def.type != ZP_HTTP_ROUTE_EXACT)
            || memchr(rcf->def.pattern.data, ':', rcf->def.pattern.len)
            || memchr(rcf->def.pattern.data, '*', rcf->def.pattern.len)) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "\"proxy_pass\" with a URI part needs a route with a literal prefix");
            goto failed;
        }
        conf->prefix = rcf->def.pattern;
    }

    conf->upstream = us;
    cf->conf_file  = saved;
    return ZP_CONF_OK;

failed:
    cf->conf_file = saved;
    return ZP_CONF_ERROR;
}


static char *
zp_http_proxy_merge_rte_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_proxy_rte_conf_t *prev = parent, *conf = child;
    zp_http_core_rte_conf_t  *rcf;

    zp_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout, 60000);
    zp_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 60000);
    zp_conf_merge_msec_value(conf->read_timeout, prev->read_timeout, 60000);
    zp_conf_merge_uint_value(conf->next_upstream_tries, prev->next_upstream_tries, 0);
    zp_conf_merge_size_value(conf->buffer_size, prev->buffer_size, 8192);

    if (conf->next_upstream == 0) {
        conf->next_upstream = prev->next_upstream
                                  ? prev->next_upstream
                                  : (ZP_HTTP_PROXY_FT_ERROR | ZP_HTTP_PROXY_FT_TIMEOUT);
    }

    /* arrays: a level that sets any inherits none (as nginx) */
    zp_conf_merge_ptr_value(conf->set_headers, prev->set_headers, NULL);
    zp_conf_merge_ptr_value(conf->hide_headers, prev->hide_headers, NULL);
    zp_conf_merge_ptr_value(conf->add_headers, prev->add_headers, NULL);

    if (conf->buffer_size < 1024) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_buffer_size\" must be at least 1k");
        return ZP_CONF_ERROR;
    }

    rcf = zp_http_conf_get_module_rte_conf(cf, zp_http_core_module);

    if (conf->pass.data) {
        if (conf->upstream == NULL && zp_http_proxy_resolve_pass(cf, conf) != ZP_CONF_OK) {
            return ZP_CONF_ERROR;
        }
        /* proxy_pass at this very level wins over an inherited return */
        rcf->handler = zp_http_proxy_handler;

    } else if (prev->upstream) {
        conf->upstream = prev->upstream;
        conf->host     = prev->host;
        conf->uri      = prev->uri;
        conf->prefix   = prev->prefix;
        conf->https    = prev->https;
        if (rcf->handler == NULL) {
            rcf->handler = zp_http_proxy_handler;
        }
    }

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (zp_http_proxy_ssl_merge(cf, prev, conf) != ZP_CONF_OK) {
        return ZP_CONF_ERROR;
    }
#endif

    return ZP_CONF_OK;
}


static char *
zp_http_proxy_next_upstream(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts;
    zp_uint_t                 i, m, mask = 0;

    (void) cmd;

    if (plcf->next_upstream) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; zp_http_proxy_next_upstream_masks[m].name.len; m++) {
            if (zp_http_proxy_next_upstream_masks[m].name.len == value[i].len
                && zp_strncmp(zp_http_proxy_next_upstream_masks[m].name.data, value[i].data,
                              value[i].len) == 0) {
                mask |= zp_http_proxy_next_upstream_masks[m].value;
                break;
            }
        }
        if (zp_http_proxy_next_upstream_masks[m].name.len == 0) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    if ((mask & ZP_HTTP_PROXY_FT_OFF) && mask != ZP_HTTP_PROXY_FT_OFF) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"off\" goes alone in \"proxy_next_upstream\"");
        return ZP_CONF_ERROR;
    }

    plcf->next_upstream = mask;
    return ZP_CONF_OK;
}


/* proxy_set_header and add_header: name value (value may hold $vars). */
static char *
zp_http_proxy_header_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t               *value = cf->args->elts;
    zp_array_t            **a     = (zp_array_t **) ((char *) conf + cmd->offset);
    zp_uint_t               i;
    zp_http_proxy_header_t *h;

    if (*a == ZP_CONF_UNSET_PTR || *a == NULL) {
        *a = zp_array_create(cf->pool, 4, sizeof(zp_http_proxy_header_t));
        if (*a == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    for (i = 0; i < value[1].len; i++) {
        u_char ch = value[1].data[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == ':') {
            return zp_conf_invalid_value(cf, 1);
        }
    }
    if (value[1].len == 0) {
        return zp_conf_invalid_value(cf, 1);
    }

    h = zp_array_push(*a);
    if (h == NULL) {
        return ZP_CONF_ERROR;
    }
    h->name     = value[1];
    h->key.len  = value[1].len;
    h->key.data = zp_pnalloc(cf->pool, value[1].len);
    if (h->key.data == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_strlow(h->key.data, value[1].data, value[1].len);

    if (zp_http_compile_complex_value(cf, &value[2], &h->value) != ZP_OK) {
        return ZP_CONF_ERROR;
    }
    return ZP_CONF_OK;
}


static char *
zp_http_proxy_hide_header(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts, *s;

    (void) cmd;

    if (plcf->hide_headers == ZP_CONF_UNSET_PTR || plcf->hide_headers == NULL) {
        plcf->hide_headers = zp_array_create(cf->pool, 4, sizeof(zp_str_t));
        if (plcf->hide_headers == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    s = zp_array_push(plcf->hide_headers);
    if (s == NULL) {
        return ZP_CONF_ERROR;
    }
    s->len  = value[1].len;
    s->data = zp_pnalloc(cf->pool, value[1].len);
    if (s->data == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_strlow(s->data, value[1].data, value[1].len);
    return ZP_CONF_OK;
}


/* ---- variables ------------------------------------------------------------ */

/* $upstream_addr, $upstream_status, $upstream_response_time: one value per
 * attempt, ", "-separated. */
static zp_int_t
zp_http_proxy_var(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    zp_uint_t              i;
    zp_http_proxy_ctx_t   *u = r->upstream;
    zp_http_proxy_state_t *st;

    if (u == NULL || u->states.nelts == 0) {
        v->not_found = 1;
        return ZP_OK;
    }

    st = u->states.elts;
    p  = zp_pnalloc(r->pool, u->states.nelts * (ZP_SOCKADDR_STRLEN + 64));
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->data = p;

    for (i = 0; i < u->states.nelts; i++) {
        if (i) {
            p = zp_cpymem(p, ", ", 2);
        }
        switch (data) {
        case 0:
            p = zp_sprintf(p, "%V", st[i].peer);
            break;
        case 1:
            p = st[i].status ? zp_sprintf(p, "%ui", st[i].status) : zp_cpymem(p, "-", 1);
            break;
        default:
            p = zp_sprintf(p, "%M.%03M", st[i].time / 1000, st[i].time % 1000);
        }
    }

    v->len          = p - v->data;
    v->valid        = 1;
    v->no_cacheable = 1;
    return ZP_OK;
}


static zp_int_t
zp_http_proxy_preconfiguration(zp_conf_t *cf)
{
    zp_uint_t           i;
    zp_http_variable_t *v;
    static zp_str_t     names[] = {zp_string("upstream_addr"), zp_string("upstream_status"),
                                   zp_string("upstream_response_time")};

    for (i = 0; i < zp_nelems(names); i++) {
        v = zp_http_add_variable(cf, &names[i], ZP_HTTP_VAR_NOCACHEABLE);
        if (v == NULL) {
            return ZP_ERROR;
        }
        v->get_handler = zp_http_proxy_var;
        v->data        = i;
    }
    return ZP_OK;
}


static zp_int_t
zp_http_proxy_postconfiguration(zp_conf_t *cf)
{
    zp_str_t                   scheme = zp_string("scheme");
    zp_http_proxy_main_conf_t *pmcf;

    pmcf               = zp_http_conf_get_module_main_conf(cf, zp_http_proxy_module);
    pmcf->scheme_index = zp_http_get_variable_index(cf, &scheme);
    return pmcf->scheme_index == ZP_ERROR ? ZP_ERROR : ZP_OK;
}
