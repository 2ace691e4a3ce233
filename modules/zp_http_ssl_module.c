/*
 * zp_http_ssl_module.c: HTTPS for http servers ("listen ... ssl").
 *
 * Each server with ssl_certificate gets its own SSL_CTX, built while the
 * configuration is read: a reload (HUP) builds a new cycle and so reads
 * the certificates again, and a certificate that does not load fails the
 * new configuration while the old one keeps serving. On an ssl address
 * the default server's SSL_CTX starts every handshake; the client's
 * server name (SNI) then picks a server by the rules of Host and switches
 * to that server's SSL_CTX. See docs/tls.md.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_event_openssl.h>

#define ZP_SSL_TLSv1   0x0004
#define ZP_SSL_TLSv1_1 0x0008
#define ZP_SSL_TLSv1_2 0x0010
#define ZP_SSL_TLSv1_3 0x0020

typedef struct {
    zp_str_t   name;            /* as written */
    zp_str_t   file_name;       /* where the directive is, for errors */
    zp_uint_t  line;
} zp_http_ssl_file_t;

typedef struct {
    SSL_CTX     *ctx;

    zp_array_t  *certificates;      /* zp_http_ssl_file_t */
    zp_array_t  *certificate_keys;  /* zp_http_ssl_file_t */

    zp_uint_t    protocols;
    zp_str_t     ciphers;
    zp_str_t     ecdh_curve;
    zp_flag_t    prefer_server_ciphers;
    zp_msec_t    handshake_timeout;
} zp_http_ssl_srv_conf_t;

static void    *zp_http_ssl_create_srv_conf(zp_conf_t *cf);
static char    *zp_http_ssl_merge_srv_conf(zp_conf_t *cf, void *parent, void *child);
static char    *zp_http_ssl_file(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_ssl_set_protocols(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t zp_http_ssl_postconfiguration(zp_conf_t *cf);
static void     zp_http_ssl_init_connection(zp_connection_t *c);

static zp_conf_bitmask_t zp_http_ssl_protocols[] = {
    {zp_string("TLSv1"), ZP_SSL_TLSv1},
    {zp_string("TLSv1.1"), ZP_SSL_TLSv1_1},
    {zp_string("TLSv1.2"), ZP_SSL_TLSv1_2},
    {zp_string("TLSv1.3"), ZP_SSL_TLSv1_3},
    {zp_null_string, 0},
};

static zp_command_t zp_http_ssl_commands[] = {
    {zp_string("ssl_certificate"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_file, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, certificates), NULL},
    {zp_string("ssl_certificate_key"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_file, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, certificate_keys), NULL},
    {zp_string("ssl_protocols"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_1MORE,
     zp_http_ssl_set_protocols, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, protocols), NULL},
    {zp_string("ssl_ciphers"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_SRV_CONF_OFFSET, offsetof(zp_http_ssl_srv_conf_t, ciphers),
     NULL},
    {zp_string("ssl_ecdh_curve"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_SRV_CONF_OFFSET, offsetof(zp_http_ssl_srv_conf_t, ecdh_curve),
     NULL},
    {zp_string("ssl_prefer_server_ciphers"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, prefer_server_ciphers), NULL},
    {zp_string("ssl_handshake_timeout"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, handshake_timeout), NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_ssl_module_ctx = {
    NULL,
    zp_http_ssl_postconfiguration,
    NULL,
    NULL,
    zp_http_ssl_create_srv_conf,
    zp_http_ssl_merge_srv_conf,
    NULL,
    NULL,
};

zp_module_t zp_http_ssl_module = {
    .name     = "http_ssl",
    .type     = ZP_HTTP_MODULE,
    .ctx      = &zp_http_ssl_module_ctx,
    .commands = zp_http_ssl_commands,
};


/*
 * ALPN: the protocols this build speaks, most preferred first, as the
 * wire format (length-prefixed names). The HTTP/2 module adds "h2" in
 * front with zp_http_ssl_alpn_add() from its preconfiguration; a client
 * that offers none of them gets no ALPN answer and may fall back.
 */
static u_char zp_http_ssl_alpn[64] = "\x08http/1.1";
static size_t zp_http_ssl_alpn_len = 9;


zp_int_t
zp_http_ssl_alpn_add(const char *proto)
{
    size_t len = strlen(proto);

    if (len == 0 || len > 255 || zp_http_ssl_alpn_len + len + 1 > sizeof(zp_http_ssl_alpn)) {
        return ZP_ERROR;
    }

    zp_memmove(zp_http_ssl_alpn + len + 1, zp_http_ssl_alpn, zp_http_ssl_alpn_len);
    zp_http_ssl_alpn[0] = (u_char) len;
    zp_memcpy(zp_http_ssl_alpn + 1, proto, len);
    zp_http_ssl_alpn_len += len + 1;
    return ZP_OK;
}


static int
zp_http_ssl_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                        const unsigned char *in, unsigned int inlen, void *arg)
{
    unsigned char *sel;

    (void) ssl;
    (void) arg;

    /* our order wins (SSL_select_next_proto walks its first list) */
    if (SSL_select_next_proto(&sel, outlen, zp_http_ssl_alpn, (unsigned int) zp_http_ssl_alpn_len,
                              in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}


/* SNI: the server for the name, by the rules of Host; its SSL_CTX (and so
 * its certificate) replaces the default server's. An unknown name keeps
 * the default server's certificate. */
static int
zp_http_ssl_servername(SSL *ssl, int *ad, void *arg)
{
    size_t                   len;
    u_char                   low[256];
    zp_str_t                 host;
    const char              *name;
    zp_connection_t         *c;
    zp_http_addr_t          *addr;
    zp_http_ssl_srv_conf_t  *sscf;
    zp_http_core_srv_conf_t *cscf;

    (void) ad;
    (void) arg;

    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    len = strlen(name);
    if (len == 0 || len >= sizeof(low)) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    zp_strlow(low, (u_char *) name, len);
    if (low[len - 1] == '.') {
        len--; /* "example.com." is "example.com" */
    }
    host.data = low;
    host.len  = len;

    c    = zp_ssl_get_connection(ssl);
    addr = c->listening->servers;
    cscf = zp_http_find_server_by_name(addr, &host);
    sscf = cscf->ctx->srv_conf[zp_http_ssl_module.ctx_index];

    if (sscf->ctx && sscf->ctx != SSL_get_SSL_CTX(ssl)) {
        if (SSL_set_SSL_CTX(ssl, sscf->ctx) == NULL) {
            zp_ssl_error(ZP_LOG_ERR, c->log, 0, "SSL_set_SSL_CTX() failed");
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
    }

    return SSL_TLSEXT_ERR_OK;
}


static void *
zp_http_ssl_create_srv_conf(zp_conf_t *cf)
{
    zp_http_ssl_srv_conf_t *sscf = zp_pcalloc(cf->pool, sizeof(zp_http_ssl_srv_conf_t));

    if (sscf == NULL) {
        return NULL;
    }

    /* zp_pcalloc: certificates, certificate_keys, protocols, ciphers and
     * ecdh_curve unset */
    sscf->prefer_server_ciphers = ZP_CONF_UNSET;
    sscf->handshake_timeout     = ZP_CONF_UNSET_MSEC;
    return sscf;
}


/* ssl_certificate file; ssl_certificate_key file; (each may be given more
 * than once: an RSA and an ECDSA pair, say) */
static char *
zp_http_ssl_file(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_array_t        **a     = (zp_array_t **) ((char *) conf + cmd->offset);
    zp_str_t           *value = cf->args->elts;
    zp_http_ssl_file_t *f;

    if (*a == NULL) {
        *a = zp_array_create(cf->pool, 2, sizeof(zp_http_ssl_file_t));
        if (*a == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    f = zp_array_push(*a);
    if (f == NULL) {
        return ZP_CONF_ERROR;
    }

    f->name      = value[1];
    f->file_name = cf->conf_file->file.name;
    f->line      = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* ssl_protocols TLSv1.2 TLSv1.3; */
static char *
zp_http_ssl_set_protocols(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_ssl_srv_conf_t *sscf  = conf;
    zp_str_t               *value = cf->args->elts;
    zp_uint_t               i, m;

    (void) cmd;

    if (sscf->protocols) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; zp_http_ssl_protocols[m].name.len; m++) {
            if (value[i].len == zp_http_ssl_protocols[m].name.len
                && zp_strncmp(value[i].data, zp_http_ssl_protocols[m].name.data, value[i].len)
                       == 0) {
                sscf->protocols |= zp_http_ssl_protocols[m].mask;
                break;
            }
        }
        if (zp_http_ssl_protocols[m].name.len == 0) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    return ZP_CONF_OK;
}


static void
zp_http_ssl_free_ctx(void *data)
{
    SSL_CTX_free(data);
}


/* Logs a configuration error at the directive of f. */
static void
zp_http_ssl_conf_error(zp_conf_t *cf, zp_http_ssl_file_t *f, const char *fmt, const char *a,
                       const char *b)
{
    zp_conf_file_t where, *saved = cf->conf_file;

    zp_memzero(&where, sizeof(where));
    where.file.name = f->file_name;
    where.line      = f->line;
    cf->conf_file   = &where;
    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, fmt, a, b);
    cf->conf_file = saved;
}


/* Loads one certificate (with its chain) and its key into ctx. */
static zp_int_t
zp_http_ssl_load_pair(zp_conf_t *cf, SSL_CTX *ctx, zp_http_ssl_file_t *cert,
                      zp_http_ssl_file_t *key)
{
    char     err[1024];
    zp_str_t cpath = cert->name, kpath = key->name;

    if (zp_conf_full_name(cf->cycle, &cpath, 1) != ZP_OK
        || zp_conf_full_name(cf->cycle, &kpath, 1) != ZP_OK) {
        return ZP_ERROR;
    }

    if (access((char *) cpath.data, R_OK) == -1) {
        zp_http_ssl_conf_error(cf, cert, "cannot read certificate \"%s\": %s",
                               (char *) cpath.data, strerror(errno));
        return ZP_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_use_certificate_chain_file(ctx, (char *) cpath.data) != 1) {
        zp_http_ssl_conf_error(cf, cert, "cannot load certificate \"%s\": %s", (char *) cpath.data,
                               zp_ssl_error_string(err, sizeof(err)));
        return ZP_ERROR;
    }

    if (access((char *) kpath.data, R_OK) == -1) {
        zp_http_ssl_conf_error(cf, key, "cannot read certificate key \"%s\": %s",
                               (char *) kpath.data, strerror(errno));
        return ZP_ERROR;
    }

    if (SSL_CTX_use_PrivateKey_file(ctx, (char *) kpath.data, SSL_FILETYPE_PEM) != 1) {
        zp_ssl_error_string(err, sizeof(err));
        if (strstr(err, "key values mismatch")) {
            zp_http_ssl_conf_error(cf, key, "certificate key \"%s\" does not match certificate \"%s\"",
                                   (char *) kpath.data, (char *) cpath.data);
        } else {
            zp_http_ssl_conf_error(cf, key, "cannot load certificate key \"%s\": %s",
                                   (char *) kpath.data, err);
        }
        return ZP_ERROR;
    }

    /* the key goes to the slot of its type: it must match the
     * certificate of that slot, the one just loaded */
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        zp_http_ssl_conf_error(cf, key, "certificate key \"%s\" does not match certificate \"%s\"",
                               (char *) kpath.data, (char *) cpath.data);
        return ZP_ERROR;
    }

    return ZP_OK;
}


static SSL_CTX *
zp_http_ssl_create_ctx(zp_conf_t *cf, zp_http_ssl_srv_conf_t *sscf, zp_http_ssl_file_t *where)
{
    char               err[1024];
    int                min = 0, max = 0, v;
    zp_uint_t          i;
    SSL_CTX           *ctx;
    zp_pool_cleanup_t *cln;
    zp_http_ssl_file_t *certs, *keys;
    static const struct {
        zp_uint_t bit;
        int       version;
        uint64_t  op;
    } vers[] = {
        {ZP_SSL_TLSv1, TLS1_VERSION, SSL_OP_NO_TLSv1},
        {ZP_SSL_TLSv1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
        {ZP_SSL_TLSv1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
        {ZP_SSL_TLSv1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
    };

    ERR_clear_error();

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        zp_http_ssl_conf_error(cf, where, "SSL_CTX_new() failed: %s%s",
                               zp_ssl_error_string(err, sizeof(err)), "");
        return NULL;
    }

    cln = zp_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    cln->handler = zp_http_ssl_free_ctx;
    cln->data    = ctx;

    /* protocols: the range from the lowest to the highest one named,
     * with the ones between that are not named switched off */
    for (i = 0; i < zp_nelems(vers); i++) {
        if (sscf->protocols & vers[i].bit) {
            v   = vers[i].version;
            min = min ? min : v;
            max = v;
        }
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    for (i = 0; i < zp_nelems(vers); i++) {
        if (!(sscf->protocols & vers[i].bit)) {
            SSL_CTX_set_options(ctx, vers[i].op);
        }
    }

    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (sscf->prefer_server_ciphers) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }

    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS);

    /* no per-worker session cache (a shared one is still to do); TLS 1.3
     * tickets work, their key being made before the workers fork */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

    if (SSL_CTX_set_cipher_list(ctx, (char *) sscf->ciphers.data) != 1) {
        zp_http_ssl_conf_error(cf, where, "ssl_ciphers \"%s\" is invalid: %s",
                               (char *) sscf->ciphers.data, zp_ssl_error_string(err, sizeof(err)));
        return NULL;
    }

    if (zp_strcmp(sscf->ecdh_curve.data, "auto") != 0
        && SSL_CTX_set1_groups_list(ctx, (char *) sscf->ecdh_curve.data) != 1) {
        zp_http_ssl_conf_error(cf, where, "ssl_ecdh_curve \"%s\" is invalid: %s",
                               (char *) sscf->ecdh_curve.data,
                               zp_ssl_error_string(err, sizeof(err)));
        return NULL;
    }

    certs = sscf->certificates->elts;
    keys  = sscf->certificate_keys->elts;
    for (i = 0; i < sscf->certificates->nelts; i++) {
        if (zp_http_ssl_load_pair(cf, ctx, &certs[i], &keys[i]) != ZP_OK) {
            return NULL;
        }
    }

    SSL_CTX_set_tlsext_servername_callback(ctx, zp_http_ssl_servername);
    SSL_CTX_set_alpn_select_cb(ctx, zp_http_ssl_alpn_select, NULL);

    return ctx;
}


static char *
zp_http_ssl_merge_srv_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_uint_t                i;
    zp_http_ssl_srv_conf_t  *prev = parent;
    zp_http_ssl_srv_conf_t  *conf = child;
    zp_http_core_srv_conf_t *cscf;
    zp_http_listen_opt_t    *lo;
    zp_http_ssl_file_t       where, *f;

    if (conf->certificates == NULL && conf->certificate_keys == NULL) {
        conf->certificates     = prev->certificates;
        conf->certificate_keys = prev->certificate_keys;
    }
    if (conf->protocols == 0) {
        conf->protocols = prev->protocols ? prev->protocols : (ZP_SSL_TLSv1_2 | ZP_SSL_TLSv1_3);
    }
    if (conf->ciphers.data == NULL) {
        conf->ciphers = prev->ciphers;
        if (conf->ciphers.data == NULL) {
            zp_str_set(&conf->ciphers, "HIGH:!aNULL:!MD5");
        }
    }
    if (conf->ecdh_curve.data == NULL) {
        conf->ecdh_curve = prev->ecdh_curve;
        if (conf->ecdh_curve.data == NULL) {
            zp_str_set(&conf->ecdh_curve, "auto");
        }
    }
    zp_conf_merge_value(conf->prefer_server_ciphers, prev->prefer_server_ciphers, 0);
    zp_conf_merge_msec_value(conf->handshake_timeout, prev->handshake_timeout, 60000);

    cscf = zp_http_conf_get_module_srv_conf(cf, zp_http_core_module);
    lo   = cscf->listen.elts;

    for (i = 0; i < cscf->listen.nelts; i++) {
        if (lo[i].ssl) {
            break;
        }
    }

    if (conf->certificates == NULL && conf->certificate_keys == NULL) {
        if (i < cscf->listen.nelts) {
            where.file_name = lo[i].file_name;
            where.line      = lo[i].line;
            zp_http_ssl_conf_error(cf, &where,
                                   "no \"ssl_certificate\" is defined for the \"listen %s ... "
                                   "ssl\" directive%s",
                                   (char *) lo[i].addr_text.data, "");
            return ZP_CONF_ERROR;
        }
        return ZP_CONF_OK;
    }

    if (conf->certificates == NULL || conf->certificate_keys == NULL
        || conf->certificates->nelts != conf->certificate_keys->nelts) {
        f = conf->certificates ? conf->certificates->elts : conf->certificate_keys->elts;
        zp_http_ssl_conf_error(cf, f,
                               "every \"ssl_certificate\" needs its \"ssl_certificate_key\"%s%s",
                               "", "");
        return ZP_CONF_ERROR;
    }

    conf->ctx = zp_http_ssl_create_ctx(cf, conf, conf->certificates->elts);
    if (conf->ctx == NULL) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


static zp_int_t
zp_http_ssl_postconfiguration(zp_conf_t *cf)
{
    zp_http_core_main_conf_t *cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    cmcf->ssl_init_connection = zp_http_ssl_init_connection;
    return ZP_OK;
}


/* ---- connections ----------------------------------------------------------- */

#define ZP_HTTP_SSL_LINGERING_TIME 2000

static void zp_http_ssl_peek(zp_event_t *rev);
static void zp_http_ssl_handshake_done(zp_connection_t *c);
static void zp_http_ssl_plain_request(zp_connection_t *c);
static void zp_http_ssl_lingering(zp_event_t *rev);
static void zp_http_ssl_empty(zp_event_t *ev);


static zp_http_core_srv_conf_t *
zp_http_ssl_default_cscf(zp_connection_t *c)
{
    return ((zp_http_addr_t *) c->listening->servers)->default_server;
}


static zp_http_ssl_srv_conf_t *
zp_http_ssl_default_sscf(zp_connection_t *c)
{
    return zp_http_ssl_default_cscf(c)->ctx->srv_conf[zp_http_ssl_module.ctx_index];
}


static void
zp_http_ssl_empty(zp_event_t *ev)
{
    (void) ev;
}


/* The listening handler of "listen ... ssl": the handshake must end
 * within ssl_handshake_timeout (and client_header_timeout); then the
 * connection is an HTTP/1 one like any other. */
static void
zp_http_ssl_init_connection(zp_connection_t *c)
{
    zp_msec_t               t;
    zp_http_ssl_srv_conf_t *sscf = zp_http_ssl_default_sscf(c);

    t = zp_min(sscf->handshake_timeout, zp_http_ssl_default_cscf(c)->client_header_timeout);

    c->read->handler  = zp_http_ssl_peek;
    c->write->handler = zp_http_ssl_empty;

    /* not reusable: a handshake in progress is not an idle connection */
    zp_event_add_timer(c->read, t);

    zp_http_ssl_peek(c->read);
}


/* The first byte tells a TLS record (0x16, a handshake) from a plain HTTP
 * request sent to the TLS port by mistake. */
static void
zp_http_ssl_peek(zp_event_t *rev)
{
    u_char                  b;
    ssize_t                 n;
    zp_int_t                rc;
    zp_connection_t        *c = rev->data;
    zp_ssl_connection_t    *sc;

    if (rev->timedout) {
        zp_log_error(ZP_LOG_INFO, c->log, ETIMEDOUT, "client timed out in SSL handshake");
        zp_close_connection(c);
        return;
    }

    if (c->close) {
        zp_close_connection(c);
        return;
    }

    n = recv(c->fd, &b, 1, MSG_PEEK);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        rev->ready = 0;
        return;
    }

    if (n <= 0) {
        zp_close_connection(c);
        return;
    }

    if (b >= 'A' && b <= 'Z') {
        zp_http_ssl_plain_request(c);
        return;
    }

    if (zp_ssl_create_connection(zp_http_ssl_default_sscf(c)->ctx, c) != ZP_OK) {
        zp_close_connection(c);
        return;
    }

    sc          = c->ssl;
    sc->handler = zp_http_ssl_handshake_done;

    rc = zp_ssl_handshake(c);

    if (rc == ZP_AGAIN) {
        return;
    }

    zp_http_ssl_handshake_done(c);
}


static void
zp_http_ssl_handshake_done(zp_connection_t *c)
{
    zp_ssl_connection_t *sc = c->ssl;

    if (!sc->handshaked) {
        zp_close_connection(c);
        return;
    }

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    zp_http_init_connection(c);

    if (c->fd != -1) {
        /* the request may have come with the handshake's last flight,
         * and epoll will not report it again */
        c->read->ready = 1;
        c->read->handler(c->read);
    }
}


/*
 * A plain HTTP request on the TLS port: answer 400 in plain text, as nginx
 * does, instead of leaving the client waiting for a handshake. What the
 * client sent is read and dropped first, and for a short while after our
 * side is shut down, so that closing does not reset the connection under
 * the answer.
 */
static void
zp_http_ssl_plain_request(zp_connection_t *c)
{
    u_char      buf[4096];
    ssize_t     n;
    static char page[] = "<html>\r\n"
                         "<head><title>400 The plain HTTP request was sent to HTTPS port"
                         "</title></head>\r\n"
                         "<body>\r\n"
                         "<center><h1>400 Bad Request</h1></center>\r\n"
                         "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
                         "<hr><center>zproxy</center>\r\n"
                         "</body>\r\n"
                         "</html>\r\n";
    u_char      head[256], *p;

    zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent plain HTTP request to HTTPS port");

    do {
        n = recv(c->fd, buf, sizeof(buf), 0);
    } while (n > 0);

    p = zp_snprintf(head, sizeof(head),
                    "HTTP/1.1 400 Bad Request\r\n"
                    "Server: zproxy\r\n"
                    "Content-Type: text/html\r\n"
                    "Content-Length: %uz\r\n"
                    "Connection: close\r\n\r\n",
                    sizeof(page) - 1);

    /* a fresh socket takes a few hundred bytes: a short write is not
     * worth a writer, the client gets the close either way */
    if (zp_unix_send(c, head, p - head) != p - head
        || zp_unix_send(c, (u_char *) page, sizeof(page) - 1) != (ssize_t) sizeof(page) - 1
        || shutdown(c->fd, SHUT_WR) == -1) {
        zp_close_connection(c);
        return;
    }

    c->read->handler  = zp_http_ssl_lingering;
    c->write->handler = zp_http_ssl_empty;
    c->idle_since     = zp_current_msec;
    zp_event_add_timer(c->read, ZP_HTTP_SSL_LINGERING_TIME);

    zp_http_ssl_lingering(c->read);
}


static void
zp_http_ssl_lingering(zp_event_t *rev)
{
    u_char           buf[4096];
    ssize_t          n;
    zp_connection_t *c = rev->data;

    if (rev->timedout || c->close
        || zp_current_msec - c->idle_since >= ZP_HTTP_SSL_LINGERING_TIME) {
        zp_close_connection(c);
        return;
    }

    for (;;) {
        n = zp_unix_recv(c, buf, sizeof(buf));
        if (n == ZP_AGAIN) {
            return;
        }
        if (n <= 0) {
            zp_close_connection(c);
            return;
        }
    }
}
