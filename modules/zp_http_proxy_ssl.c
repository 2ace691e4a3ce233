/*
 * zp_http_proxy_ssl.c: proxy_pass https://: the proxy_ssl_* directives,
 * an SSL_CTX per distinct setting, the handshake after connect, per-peer
 * session reuse, and TLS reads and writes on the upstream connection.
 */
#include <zp_http_proxy.h>


#if (ZP_HAVE_HTTP_SSL_MODULE)
static zp_conf_bitmask_t zp_http_proxy_ssl_protocols[] = {
    {zp_string("TLSv1"), ZP_HTTP_PROXY_SSL_TLSv1},
    {zp_string("TLSv1.1"), ZP_HTTP_PROXY_SSL_TLSv1_1},
    {zp_string("TLSv1.2"), ZP_HTTP_PROXY_SSL_TLSv1_2},
    {zp_string("TLSv1.3"), ZP_HTTP_PROXY_SSL_TLSv1_3},
    {zp_null_string, 0},
};
#endif


/* ---- upstream TLS (proxy_pass https://) ------------------------------------------ */

/*
 * The TCP connection to the peer is up. For https:// the TLS handshake
 * comes first (zp_http_proxy_ssl_handshake(); its end sends the request),
 * still under the connect's timer: proxy_connect_timeout bounds connect
 * and handshake together, as in nginx. A connection from the pool has
 * done both already and never comes here.
 */
void
zp_http_proxy_connected(zp_http_proxy_ctx_t *u)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->conf->https && u->pc->ssl == NULL) {
        zp_http_proxy_ssl_handshake(u);
        return;
    }
#endif

    if (u->pc->write->timer_set) {
        zp_event_del_timer(u->pc->write);
    }

    u->connected = 1;
    zp_http_proxy_send(u);
}


/* What a pooled connection is kept under besides its peer. */
void *
zp_http_proxy_ssl_key(zp_http_proxy_ctx_t *u)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->conf->https) {
        return u->conf->ssl;
    }
#endif
    return NULL;
}


/* May this connection serve another request? A TLS one must not hold
 * bytes that OpenSSL read past the response. */
zp_uint_t
zp_http_proxy_reusable(zp_connection_t *c)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    zp_ssl_connection_t *sc = c->ssl;

    if (sc) {
        return sc->ssl && sc->handshaked && !sc->no_send_shutdown && !c->read->error
               && !c->write->error && !SSL_has_pending(sc->ssl);
    }
#else
    (void) c;
#endif
    return 1;
}


#if (ZP_HAVE_HTTP_SSL_MODULE)

#define ZP_HTTP_PROXY_SSL_POOL 1024 /* the SSL's pool: its state and writev buffer */


void
zp_http_proxy_ssl_create_conf(zp_http_proxy_ssl_conf_t *sc)
{
    /* zp_pcalloc: files, name, ciphers and protocols unset */
    sc->verify        = ZP_CONF_UNSET;
    sc->verify_depth  = ZP_CONF_UNSET;
    sc->server_name   = ZP_CONF_UNSET;
    sc->session_reuse = ZP_CONF_UNSET;
}


/* proxy_ssl_trusted_certificate, proxy_ssl_certificate(_key) file; */
char *
zp_http_proxy_ssl_file_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t                 *value = cf->args->elts;
    zp_http_proxy_ssl_file_t *f;

    f = (zp_http_proxy_ssl_file_t *) ((char *) conf + cmd->offset);
    if (f->name.data) {
        return "is duplicate";
    }

    f->name      = value[1];
    f->file_name = cf->conf_file->file.name;
    f->line      = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_ssl_verify on|off; its line is where a missing CA is reported */
char *
zp_http_proxy_ssl_verify_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char                     *rv;
    zp_http_proxy_rte_conf_t *plcf = conf;

    rv = zp_conf_set_flag_slot(cf, cmd, conf);
    if (rv != ZP_CONF_OK) {
        return rv;
    }

    plcf->ssl_conf.verify_file = cf->conf_file->file.name;
    plcf->ssl_conf.verify_line = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_ssl_protocols TLSv1.2 TLSv1.3; */
char *
zp_http_proxy_ssl_protocols_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_uint_t *mask  = (zp_uint_t *) ((char *) conf + cmd->offset);
    zp_str_t  *value = cf->args->elts;
    zp_uint_t  i, m;

    if (*mask) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; zp_http_proxy_ssl_protocols[m].name.len; m++) {
            if (zp_str_eq(&value[i], &zp_http_proxy_ssl_protocols[m].name)) {
                *mask |= zp_http_proxy_ssl_protocols[m].mask;
                break;
            }
        }
        if (zp_http_proxy_ssl_protocols[m].name.len == 0) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    return ZP_CONF_OK;
}


/* Logs a configuration error at file:line (a directive read earlier). */
static void
zp_http_proxy_ssl_conf_error(zp_conf_t *cf, zp_str_t *file, zp_uint_t line, const char *fmt,
                             const char *a, const char *b)
{
    zp_conf_file_t where, *saved = cf->conf_file;

    zp_memzero(&where, sizeof(where));
    where.file.name = *file;
    where.line      = line;
    cf->conf_file   = &where;
    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, fmt, a, b);
    cf->conf_file = saved;
}


static void
zp_http_proxy_ssl_cleanup(void *data)
{
    zp_uint_t                    i;
    zp_http_proxy_ssl_t         *ssl = data;
    zp_http_proxy_ssl_session_t *s   = ssl->sessions.elts;

    for (i = 0; i < ssl->sessions.nelts; i++) {
        if (s[i].session) {
            SSL_SESSION_free(s[i].session);
            s[i].session = NULL;
        }
    }

    SSL_CTX_free(ssl->ctx);
    ssl->ctx = NULL;
}


/* A readable file, resolved against the conf prefix, NUL-terminated. */
static zp_int_t
zp_http_proxy_ssl_path(zp_conf_t *cf, zp_http_proxy_ssl_file_t *f, const char *what,
                       zp_str_t *path)
{
    char msg[256];

    *path = f->name;
    if (zp_conf_full_name(cf->cycle, path, 1) != ZP_OK) {
        return ZP_ERROR;
    }

    if (access((char *) path->data, R_OK) == -1) {
        snprintf(msg, sizeof(msg), "cannot read %s \"%%s\": %%s", what);
        zp_http_proxy_ssl_conf_error(cf, &f->file_name, f->line, msg, (char *) path->data,
                                     strerror(errno));
        return ZP_ERROR;
    }

    return ZP_OK;
}


/* The SSL_CTX of a set of settings, with its files read now. */
static SSL_CTX *
zp_http_proxy_ssl_create_ctx(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *sc, zp_str_t *file,
                             zp_uint_t line)
{
    int       min = 0, max = 0;
    char      err[1024];
    SSL_CTX  *ctx;
    zp_str_t  path, kpath;
    zp_uint_t i;
    static const struct {
        zp_uint_t bit;
        int       version;
        uint64_t  op;
    } vers[] = {
        {ZP_HTTP_PROXY_SSL_TLSv1, TLS1_VERSION, SSL_OP_NO_TLSv1},
        {ZP_HTTP_PROXY_SSL_TLSv1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
        {ZP_HTTP_PROXY_SSL_TLSv1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
        {ZP_HTTP_PROXY_SSL_TLSv1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
    };

    ERR_clear_error();

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || zp_ssl_client_ctx_init(ctx, sc->session_reuse) != ZP_OK) {
        zp_http_proxy_ssl_conf_error(cf, file, line, "SSL_CTX_new() failed: %s%s",
                                     zp_ssl_error_string(err, sizeof(err)), "");
        SSL_CTX_free(ctx);
        return NULL;
    }

    /* the range from the lowest to the highest one named, the ones
     * between that are not named switched off, as for ssl_protocols */
    for (i = 0; i < zp_nelems(vers); i++) {
        if (sc->protocols & vers[i].bit) {
            min = min ? min : vers[i].version;
            max = vers[i].version;
        }
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    for (i = 0; i < zp_nelems(vers); i++) {
        if (!(sc->protocols & vers[i].bit)) {
            SSL_CTX_set_options(ctx, vers[i].op);
        }
    }

    if (SSL_CTX_set_cipher_list(ctx, (char *) sc->ciphers.data) != 1) {
        zp_http_proxy_ssl_conf_error(cf, file, line, "proxy_ssl_ciphers \"%s\" is invalid: %s",
                                     (char *) sc->ciphers.data,
                                     zp_ssl_error_string(err, sizeof(err)));
        goto failed;
    }

    if (sc->certificate.name.data) {
        if (zp_http_proxy_ssl_path(cf, &sc->certificate, "certificate", &path) != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, (char *) path.data) != 1) {
            zp_http_proxy_ssl_conf_error(cf, &sc->certificate.file_name, sc->certificate.line,
                                         "cannot load certificate \"%s\": %s", (char *) path.data,
                                         zp_ssl_error_string(err, sizeof(err)));
            goto failed;
        }
        if (zp_http_proxy_ssl_path(cf, &sc->certificate_key, "certificate key", &kpath)
            != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, (char *) kpath.data, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1) {
            zp_ssl_error_string(err, sizeof(err));
            if (strstr(err, "key values mismatch") || err[0] == '\0') {
                zp_http_proxy_ssl_conf_error(cf, &sc->certificate_key.file_name,
                                             sc->certificate_key.line,
                                             "certificate key \"%s\" does not match certificate "
                                             "\"%s\"",
                                             (char *) kpath.data, (char *) path.data);
            } else {
                zp_http_proxy_ssl_conf_error(cf, &sc->certificate_key.file_name,
                                             sc->certificate_key.line,
                                             "cannot load certificate key \"%s\": %s",
                                             (char *) kpath.data, err);
            }
            goto failed;
        }
    }

    if (sc->verify) {
        if (zp_http_proxy_ssl_path(cf, &sc->trusted_certificate, "trusted certificate", &path)
            != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_load_verify_locations(ctx, (char *) path.data, NULL) != 1) {
            zp_http_proxy_ssl_conf_error(cf, &sc->trusted_certificate.file_name,
                                         sc->trusted_certificate.line,
                                         "cannot load trusted certificate \"%s\": %s",
                                         (char *) path.data,
                                         zp_ssl_error_string(err, sizeof(err)));
            goto failed;
        }
        /* a failed check ends the handshake: no request goes to a peer
         * that is not the one named */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, (int) sc->verify_depth);

    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }

    ERR_clear_error();
    return ctx;

failed:
    SSL_CTX_free(ctx);
    return NULL;
}


/* The settings of conf: what it sets, else its parent's, else defaults. */
static char *
zp_http_proxy_ssl_merge_conf(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *prev,
                             zp_http_proxy_ssl_conf_t *conf)
{
    zp_conf_merge_value(conf->verify, prev->verify, 0);
    zp_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    zp_conf_merge_value(conf->server_name, prev->server_name, 0);
    zp_conf_merge_value(conf->session_reuse, prev->session_reuse, 1);

    if (conf->trusted_certificate.name.data == NULL) {
        conf->trusted_certificate = prev->trusted_certificate;
    }
    if (conf->certificate.name.data == NULL && conf->certificate_key.name.data == NULL) {
        conf->certificate     = prev->certificate;
        conf->certificate_key = prev->certificate_key;
    }
    if (conf->name.data == NULL) {
        conf->name = prev->name;
    }
    if (conf->verify_file.data == NULL) {
        conf->verify_file = prev->verify_file;
        conf->verify_line = prev->verify_line;
    }
    if (conf->protocols == 0) {
        conf->protocols = prev->protocols ? prev->protocols
                                          : (ZP_HTTP_PROXY_SSL_TLSv1_2 | ZP_HTTP_PROXY_SSL_TLSv1_3);
    }
    zp_conf_merge_str_value(conf->ciphers, prev->ciphers, "DEFAULT");

    if (conf->verify_depth < 0 || conf->verify_depth > 100) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_ssl_verify_depth\" must be 0..100");
        return ZP_CONF_ERROR;
    }

    if ((conf->certificate.name.data == NULL) != (conf->certificate_key.name.data == NULL)) {
        if (conf->certificate.name.data) {
            zp_http_proxy_ssl_conf_error(cf, &conf->certificate.file_name, conf->certificate.line,
                                         "no \"proxy_ssl_certificate_key\" is defined for "
                                         "certificate \"%s\"%s",
                                         (char *) conf->certificate.name.data, "");
        } else {
            zp_http_proxy_ssl_conf_error(cf, &conf->certificate_key.file_name,
                                         conf->certificate_key.line,
                                         "no \"proxy_ssl_certificate\" is defined for "
                                         "certificate key \"%s\"%s",
                                         (char *) conf->certificate_key.name.data, "");
        }
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


/* Does this level set any proxy_ssl_* directive? */
static zp_uint_t
zp_http_proxy_ssl_sets_any(zp_http_proxy_ssl_conf_t *sc)
{
    return sc->verify != ZP_CONF_UNSET || sc->verify_depth != ZP_CONF_UNSET
           || sc->server_name != ZP_CONF_UNSET || sc->session_reuse != ZP_CONF_UNSET
           || sc->trusted_certificate.name.data || sc->certificate.name.data
           || sc->certificate_key.name.data || sc->name.data || sc->protocols
           || sc->ciphers.data;
}


static zp_http_proxy_ssl_t *
zp_http_proxy_ssl_new(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *merged)
{
    zp_pool_cleanup_t   *cln;
    zp_http_proxy_ssl_t *ssl;

    ssl = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_ssl_t));
    if (ssl == NULL
        || zp_array_init(&ssl->sessions, cf->pool, 4, sizeof(zp_http_proxy_ssl_session_t))
               != ZP_OK) {
        return NULL;
    }

    cln = zp_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }
    cln->handler = zp_http_proxy_ssl_cleanup;
    cln->data    = ssl;

    ssl->conf = *merged;
    return ssl;
}


/* The name for SNI and the certificate check: proxy_ssl_name, else the
 * host of proxy_pass (the upstream's name), without a port either way, as
 * nginx does. */
static zp_int_t
zp_http_proxy_ssl_host(zp_conf_t *cf, zp_http_proxy_rte_conf_t *conf)
{
    u_char          *p, *last;
    zp_str_t         name;
    struct in6_addr  a6;
    struct in_addr   a4;

    name = conf->ssl->conf.name.data ? conf->ssl->conf.name : conf->host;
    last = name.data + name.len;

    if (name.len && name.data[0] == '[') {
        p = memchr(name.data, ']', name.len);
        if (p) {
            name.data++;
            last = p;
        }
    } else {
        p = memchr(name.data, ':', name.len);
        if (p && memchr(p + 1, ':', last - p - 1) == NULL) {
            last = p; /* host:port, not a bare IPv6 address */
        }
    }
    name.len = last - name.data;

    if (name.len == 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_ssl_name\" is empty for upstream \"%V\"",
                          &conf->host);
        return ZP_ERROR;
    }

    conf->ssl_host = zp_pnalloc(cf->pool, name.len + 1);
    if (conf->ssl_host == NULL) {
        return ZP_ERROR;
    }
    zp_memcpy(conf->ssl_host, name.data, name.len);
    conf->ssl_host[name.len] = '\0';

    /* an address is checked as one, and never goes as SNI (RFC 6066) */
    conf->ssl_host_is_ip = inet_pton(AF_INET, conf->ssl_host, &a4) == 1
                           || inet_pton(AF_INET6, conf->ssl_host, &a6) == 1;
    return ZP_OK;
}


/* Gives an https:// level its SSL_CTX (shared with the parent when it
 * sets nothing of its own) and the session slots of its peers. */
char *
zp_http_proxy_ssl_merge(zp_conf_t *cf, zp_http_proxy_rte_conf_t *prev,
                        zp_http_proxy_rte_conf_t *conf)
{
    zp_uint_t                    i, j, k, n;
    zp_array_t                  *peers[2];
    zp_str_t                    *file;
    zp_uint_t                    line;
    zp_http_upstream_peer_t     *p;
    zp_http_proxy_ssl_session_t *s;
    zp_http_proxy_ssl_conf_t     merged;
    zp_http_proxy_ssl_t         *ssl;

    merged = conf->ssl_conf;
    if (zp_http_proxy_ssl_merge_conf(cf, &prev->ssl_conf, &merged) != ZP_CONF_OK) {
        return ZP_CONF_ERROR;
    }

    if (!zp_http_proxy_ssl_sets_any(&conf->ssl_conf)) {
        if (prev->ssl == NULL) {
            prev->ssl = zp_http_proxy_ssl_new(cf, &merged);
            if (prev->ssl == NULL) {
                return ZP_CONF_ERROR;
            }
        }
        conf->ssl = prev->ssl;
    } else {
        conf->ssl = zp_http_proxy_ssl_new(cf, &merged);
        if (conf->ssl == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    /* what the children inherit */
    conf->ssl_conf = merged;

    if (!conf->https || conf->upstream == NULL) {
        return ZP_CONF_OK;
    }

    ssl = conf->ssl;

    if (ssl->ctx == NULL) {
        file = &conf->pass_file;
        line = conf->pass_line;

        if (ssl->conf.verify && ssl->conf.trusted_certificate.name.data == NULL) {
            if (ssl->conf.verify_file.data) {
                file = &ssl->conf.verify_file;
                line = ssl->conf.verify_line;
            }
            zp_http_proxy_ssl_conf_error(cf, file, line,
                                         "no \"proxy_ssl_trusted_certificate\" for "
                                         "\"proxy_ssl_verify on\"%s%s",
                                         "", "");
            return ZP_CONF_ERROR;
        }

        ssl->ctx = zp_http_proxy_ssl_create_ctx(cf, &ssl->conf, file, line);
        if (ssl->ctx == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    if (zp_http_proxy_ssl_host(cf, conf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    /* a slot per peer: filled per worker, looked up by the peer */
    peers[0] = &conf->upstream->group.peers;
    peers[1] = &conf->upstream->group.backups;

    for (k = 0; k < 2; k++) {
        p = peers[k]->elts;
        n = peers[k]->nalloc ? peers[k]->nelts : 0;

        for (i = 0; i < n; i++) {
            s = ssl->sessions.elts;
            for (j = 0; j < ssl->sessions.nelts; j++) {
                if (s[j].peer == &p[i]) {
                    break;
                }
            }
            if (j < ssl->sessions.nelts) {
                continue;
            }
            s = zp_array_push(&ssl->sessions);
            if (s == NULL) {
                return ZP_CONF_ERROR;
            }
            s->peer    = &p[i];
            s->session = NULL;
        }
    }

    return ZP_CONF_OK;
}


static SSL_SESSION **
zp_http_proxy_ssl_slot(zp_http_proxy_ssl_t *ssl, zp_http_upstream_peer_t *peer)
{
    zp_uint_t                    i;
    zp_http_proxy_ssl_session_t *s = ssl->sessions.elts;

    for (i = 0; i < ssl->sessions.nelts; i++) {
        if (s[i].peer == peer) {
            return &s[i].session;
        }
    }
    return NULL;
}


static void zp_http_proxy_ssl_handshake_done(zp_connection_t *c);


/* Starts the TLS handshake on a new connection, under what is left of
 * proxy_connect_timeout (the connect's timer, or a new one when connect()
 * succeeded at once). */
void
zp_http_proxy_ssl_handshake(zp_http_proxy_ctx_t *u)
{
    zp_int_t                  rc;
    zp_connection_t          *c    = u->pc;
    zp_http_proxy_rte_conf_t *conf = u->conf;
    zp_http_proxy_ssl_t      *ssl  = conf->ssl;
    zp_ssl_connection_t      *sc;

    u->action = "SSL handshaking to upstream";

    c->pool = zp_create_pool(ZP_HTTP_PROXY_SSL_POOL, c->log);
    if (c->pool == NULL
        || zp_ssl_client_create_connection(
               ssl->ctx, c, ssl->conf.server_name && !conf->ssl_host_is_ip ? conf->ssl_host : NULL,
               ssl->conf.verify ? conf->ssl_host : NULL, conf->ssl_host_is_ip,
               ssl->conf.session_reuse ? zp_http_proxy_ssl_slot(ssl, u->peer) : NULL)
               != ZP_OK) {
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    sc          = c->ssl;
    sc->handler = zp_http_proxy_ssl_handshake_done;

    rc = zp_ssl_connect(c);

    if (rc == ZP_AGAIN) {
        if (!c->write->timer_set) {
            zp_event_add_timer(c->write, conf->connect_timeout);
        }
        return;
    }

    zp_http_proxy_ssl_handshake_done(c);
}


/* The handshake ended: a failure counts against the peer like a failed
 * connect (next upstream, passive health). */
static void
zp_http_proxy_ssl_handshake_done(zp_connection_t *c)
{
    zp_http_proxy_ctx_t *u  = c->data;
    zp_ssl_connection_t *sc = c->ssl;

    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }
    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    if (c->timedout) {
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!sc->handshaked) {
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
        return;
    }

    zp_log_debug(ZP_LOG_DEBUG_HTTP, &u->log, 0, "upstream SSL handshake done, session reused: %ui",
                 zp_ssl_session_reused(c));

    c->read->handler  = zp_http_proxy_read_handler;
    c->write->handler = zp_http_proxy_write_handler;
    u->connected      = 1;

    zp_http_proxy_send(u);
}


/* zp_http_proxy_recv() over TLS: the same results. */
ssize_t
zp_http_proxy_ssl_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b)
{
    ssize_t          n;
    zp_connection_t *c = u->pc;

    n = c->recv(c, b->last, b->end - b->last);

    if (n > 0) {
        b->last += n;
        u->got_any = 1;
    }

    return n;
}


/* zp_http_proxy_write() over TLS. OpenSSL wants a write that must be
 * retried to be retried with the same leading bytes: so it is, since the
 * head and the body buffer only move forward until all of them is out. */
zp_int_t
zp_http_proxy_ssl_write(zp_http_proxy_ctx_t *u)
{
    int              n;
    size_t           k;
    ssize_t          sent;
    struct iovec     iov[2];
    zp_buf_t        *h = u->head, *b = u->body;
    zp_connection_t *c = u->pc;

    for (;;) {
        n = 0;
        if (h->pos < h->last) {
            iov[n].iov_base = h->pos;
            iov[n].iov_len  = h->last - h->pos;
            n++;
        }
        if (b && b->pos < b->last) {
            iov[n].iov_base = b->pos;
            iov[n].iov_len  = b->last - b->pos;
            n++;
        }
        if (n == 0) {
            return ZP_OK;
        }

        sent = c->writev(c, iov, n);

        if (sent == ZP_AGAIN) {
            return ZP_AGAIN;
        }
        if (sent <= 0) {
            return ZP_ERROR;
        }

        u->sent_any = 1;
        c->sent += sent;

        k = zp_min((size_t) sent, (size_t) (h->last - h->pos));
        h->pos += k;
        if (b) {
            b->pos += (size_t) sent - k;
        }
    }
}

#endif /* ZP_HAVE_HTTP_SSL_MODULE */
