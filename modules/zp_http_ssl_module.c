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
#include <zp_http_ssl_module.h>

#include <openssl/ocsp.h>

#define ZP_SSL_TLSv1   0x0004
#define ZP_SSL_TLSv1_1 0x0008
#define ZP_SSL_TLSv1_2 0x0010
#define ZP_SSL_TLSv1_3 0x0020


static void    *zp_http_ssl_create_main_conf(zp_conf_t *cf);
static zp_int_t zp_http_ssl_init_module(zp_cycle_t *cycle);
static char    *zp_http_ssl_session_cache(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_ssl_verify_client(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_ssl_one_file(zp_conf_t *cf, zp_command_t *cmd, void *conf);
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
    {zp_string("ssl_session_cache"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_session_cache, ZP_HTTP_SRV_CONF_OFFSET, 0, NULL},
    {zp_string("ssl_session_timeout"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_sec_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, session_timeout), NULL},
    {zp_string("ssl_session_tickets"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, session_tickets), NULL},
    {zp_string("ssl_session_ticket_key"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_file, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, ticket_key_files), NULL},
    {zp_string("ssl_verify_client"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_verify_client, ZP_HTTP_SRV_CONF_OFFSET, 0, NULL},
    {zp_string("ssl_client_certificate"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_one_file, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, client_certificate), NULL},
    {zp_string("ssl_verify_depth"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, verify_depth), NULL},
    {zp_string("ssl_stapling_file"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_CONF_TAKE1,
     zp_http_ssl_one_file, ZP_HTTP_SRV_CONF_OFFSET,
     offsetof(zp_http_ssl_srv_conf_t, stapling_file), NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_ssl_module_ctx = {
    zp_http_ssl_preconfiguration,
    zp_http_ssl_postconfiguration,
    zp_http_ssl_create_main_conf,
    NULL,
    zp_http_ssl_create_srv_conf,
    zp_http_ssl_merge_srv_conf,
    NULL,
    NULL,
};

zp_module_t zp_http_ssl_module = {
    .name        = "http_ssl",
    .type        = ZP_HTTP_MODULE,
    .ctx         = &zp_http_ssl_module_ctx,
    .commands    = zp_http_ssl_commands,
    .init_module = zp_http_ssl_init_module,
};

/*
 * The random ticket key that encrypts in the running configuration. It is
 * master memory: a reload makes a new key and keeps this one to decrypt,
 * so tickets issued before one reload still resume after it. It becomes
 * the new configuration's key only once that configuration is in place
 * (init_module), so a failed reload changes nothing.
 */
static zp_ssl_ticket_key_t zp_http_ssl_live_key;
static zp_ssl_ticket_key_t zp_http_ssl_next_key;
static zp_uint_t           zp_http_ssl_live_key_set;
static zp_uint_t           zp_http_ssl_next_key_set;


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
zp_http_ssl_select_server(SSL *ssl, const u_char *name, size_t len)
{
    u_char                   low[256];
    zp_str_t                 host;
    zp_connection_t         *c;
    zp_http_addr_t          *addr;
    zp_http_ssl_srv_conf_t  *sscf;
    zp_http_core_srv_conf_t *cscf;

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

        /* SSL_set_SSL_CTX() takes the certificates and the session id
         * context but not the verify settings: the client certificate
         * rules are the named server's */
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(sscf->ctx),
                       SSL_CTX_get_verify_callback(sscf->ctx));
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(sscf->ctx));
    }

    return SSL_TLSEXT_ERR_OK;
}


/*
 * The server is chosen from the ClientHello, before OpenSSL looks up the
 * offered session: a TLS 1.2 session (or ticket) is then checked against
 * the session id context of the named server, so a session made for one
 * server never resumes on another one with other certificates or client
 * certificate rules. (The servername callback alone runs after the
 * lookup, against the default server's context.)
 */
static int
zp_http_ssl_client_hello(SSL *ssl, int *al, void *arg)
{
    size_t         len, list, n;
    const u_char  *p;

    (void) al;
    (void) arg;

    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 2) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    /* ServerNameList: a 2-byte length, then (1-byte type, 2-byte length,
     * name) entries; a malformed one is OpenSSL's to refuse later */
    list = (size_t) p[0] << 8 | p[1];
    p += 2;
    len -= 2;
    if (list != len) {
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    while (len >= 3) {
        n = (size_t) p[1] << 8 | p[2];
        if (n > len - 3) {
            break;
        }
        if (p[0] == TLSEXT_NAMETYPE_host_name) {
            if (zp_http_ssl_select_server(ssl, p + 3, n) == SSL_TLSEXT_ERR_ALERT_FATAL) {
                *al = SSL_AD_INTERNAL_ERROR;
                return SSL_CLIENT_HELLO_ERROR;
            }
            break;
        }
        p += 3 + n;
        len -= 3 + n;
    }

    return SSL_CLIENT_HELLO_SUCCESS;
}


/* The servername callback: nothing left to do when the ClientHello
 * callback switched already, but it tells OpenSSL the name was taken. */
static int
zp_http_ssl_servername(SSL *ssl, int *ad, void *arg)
{
    const char *name;

    (void) ad;
    (void) arg;

    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    return zp_http_ssl_select_server(ssl, (const u_char *) name, strlen(name));
}


static void *
zp_http_ssl_create_srv_conf(zp_conf_t *cf)
{
    zp_http_ssl_srv_conf_t *sscf = zp_pcalloc(cf->pool, sizeof(zp_http_ssl_srv_conf_t));

    if (sscf == NULL) {
        return NULL;
    }

    /* zp_pcalloc: certificates, certificate_keys, protocols, ciphers,
     * ecdh_curve, shm_zone, ticket_key_files, client_certificate and
     * stapling_file unset */
    sscf->prefer_server_ciphers = ZP_CONF_UNSET;
    sscf->handshake_timeout     = ZP_CONF_UNSET_MSEC;
    sscf->session_cache         = ZP_CONF_UNSET;
    sscf->session_timeout       = ZP_CONF_UNSET;
    sscf->session_tickets       = ZP_CONF_UNSET;
    sscf->verify                = ZP_CONF_UNSET_UINT;
    sscf->verify_depth          = ZP_CONF_UNSET;
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


/* ssl_session_cache off | shared:NAME:SIZE; */
static char *
zp_http_ssl_session_cache(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    u_char                 *colon;
    ssize_t                 size;
    zp_str_t               *value = cf->args->elts, name, s;
    zp_http_ssl_srv_conf_t *sscf  = conf;

    (void) cmd;

    if (sscf->session_cache != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    if (zp_strcmp(value[1].data, "off") == 0) {
        sscf->session_cache = 0;
        return ZP_CONF_OK;
    }

    if (value[1].len <= sizeof("shared:") - 1
        || zp_strncmp(value[1].data, "shared:", sizeof("shared:") - 1) != 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "invalid session cache \"%V\": use \"off\" or \"shared:NAME:SIZE\"",
                          &value[1]);
        return ZP_CONF_ERROR;
    }

    name.data = value[1].data + sizeof("shared:") - 1;
    colon     = (u_char *) strchr((char *) name.data, ':');
    if (colon == NULL || colon == name.data || colon[1] == '\0') {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "invalid session cache \"%V\": use \"shared:NAME:SIZE\"", &value[1]);
        return ZP_CONF_ERROR;
    }
    name.len = (size_t) (colon - name.data);

    s.data = colon + 1;
    s.len  = value[1].len - (size_t) (s.data - value[1].data);
    size   = zp_parse_size(&s);

    if (size == ZP_ERROR || size < ZP_HTTP_SSL_CACHE_MIN) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "invalid session cache size \"%V\" in \"%V\": 32k at least", &s,
                          &value[1]);
        return ZP_CONF_ERROR;
    }

    sscf->shm_zone = zp_shared_memory_add(cf, &name, (size_t) size, &zp_http_ssl_module);
    if (sscf->shm_zone == NULL) {
        return ZP_CONF_ERROR;
    }

    sscf->shm_zone->init = zp_ssl_session_cache_init;
    sscf->session_cache  = 1;
    return ZP_CONF_OK;
}


/* ssl_verify_client on | optional | off; */
static char *
zp_http_ssl_verify_client(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t               *value = cf->args->elts;
    zp_http_ssl_srv_conf_t *sscf  = conf;

    (void) cmd;

    if (sscf->verify != ZP_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (zp_strcmp(value[1].data, "on") == 0) {
        sscf->verify = ZP_HTTP_SSL_VERIFY_ON;
    } else if (zp_strcmp(value[1].data, "optional") == 0) {
        sscf->verify = ZP_HTTP_SSL_VERIFY_OPTIONAL;
    } else if (zp_strcmp(value[1].data, "off") == 0) {
        sscf->verify = ZP_HTTP_SSL_VERIFY_OFF;
    } else {
        return zp_conf_invalid_value(cf, 1);
    }

    sscf->verify_where.name      = value[1];
    sscf->verify_where.file_name = cf->conf_file->file.name;
    sscf->verify_where.line      = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* A directive naming one file (ssl_client_certificate, ssl_stapling_file):
 * the name and where it was written, read at merge time. */
static char *
zp_http_ssl_one_file(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t           *value = cf->args->elts;
    zp_http_ssl_file_t *f     = (zp_http_ssl_file_t *) ((char *) conf + cmd->offset);

    if (f->name.data) {
        return "is duplicate";
    }

    f->name      = value[1];
    f->file_name = cf->conf_file->file.name;
    f->line      = cf->conf_file->line;
    return ZP_CONF_OK;
}


static zp_int_t
zp_http_ssl_init_module(zp_cycle_t *cycle)
{
    (void) cycle;

    /* the configuration is in place: its key is the one that encrypts,
     * and the next reload keeps it for decrypting */
    /* only a key this configuration made: a configuration without http{}
     * must not turn the unset (all-zero, hence known) key into one that
     * decrypts forged tickets */
    if (zp_http_ssl_next_key_set) {
        zp_http_ssl_live_key     = zp_http_ssl_next_key;
        zp_http_ssl_live_key_set = 1;
        zp_http_ssl_next_key_set = 0;
    }
    return ZP_OK;
}


static void *
zp_http_ssl_create_main_conf(zp_conf_t *cf)
{
    return zp_pcalloc(cf->pool, sizeof(zp_http_ssl_main_conf_t));
}


/* The random ticket keys, made in the master before any worker forks,
 * so that every worker has them; made only when a TLS server wants them
 * (the first RAND_bytes() sets up OpenSSL's generator: 2 MB of RSS that
 * a configuration without TLS need not pay). */
static zp_int_t
zp_http_ssl_auto_keys(zp_conf_t *cf, zp_http_ssl_main_conf_t *smcf)
{
    zp_ssl_ticket_key_t *k;

    smcf->auto_keys = zp_array_create(cf->pool, 2, sizeof(zp_ssl_ticket_key_t));
    if (smcf->auto_keys == NULL) {
        return ZP_ERROR;
    }

    k = zp_array_push(smcf->auto_keys);
    if (k == NULL) {
        return ZP_ERROR;
    }
    if (zp_ssl_ticket_key_random(k) != ZP_OK) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "RAND_bytes() failed for a session ticket key");
        return ZP_ERROR;
    }
    zp_http_ssl_next_key     = *k;
    zp_http_ssl_next_key_set = 1;

    if (zp_http_ssl_live_key_set) {
        k = zp_array_push(smcf->auto_keys);
        if (k == NULL) {
            return ZP_ERROR;
        }
        *k = zp_http_ssl_live_key;
    }

    return ZP_OK;
}


/* Reads a whole small file into the cycle pool; a message for the caller
 * in err on failure. */
static u_char *
zp_http_ssl_read_file(zp_conf_t *cf, zp_str_t *path, size_t max, size_t *len, char *err,
                      size_t errsize)
{
    int         fd;
    u_char     *buf;
    ssize_t     n;
    struct stat st;

    fd = open((char *) path->data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errsize, "%s", strerror(errno));
        return NULL;
    }

    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (size_t) st.st_size > max) {
        snprintf(err, errsize, "%s",
                 S_ISREG(st.st_mode) ? "the file is too large" : "not a regular file");
        close(fd);
        return NULL;
    }

    buf = zp_pnalloc(cf->pool, (size_t) st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errsize, "no memory");
        close(fd);
        return NULL;
    }

    n = read(fd, buf, (size_t) st.st_size + 1);
    close(fd);

    if (n < 0 || n != st.st_size) {
        snprintf(err, errsize, "%s", n < 0 ? strerror(errno) : "the file changed while read");
        return NULL;
    }

    *len = (size_t) n;
    return buf;
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

    SSL_CTX_set_client_hello_cb(ctx, zp_http_ssl_client_hello, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, zp_http_ssl_servername);
    SSL_CTX_set_alpn_select_cb(ctx, zp_http_ssl_alpn_select, NULL);

    return ctx;
}


/* Always accepts: the handshake completes whatever the client sent, and
 * the request is then answered 400 (zp_http_ssl_check_client), as nginx
 * does, so the client learns why instead of seeing an alert. */
static int
zp_http_ssl_verify_cb(int ok, X509_STORE_CTX *x509)
{
    (void) ok;
    (void) x509;
    return 1;
}


static zp_int_t
zp_http_ssl_client_certs(zp_conf_t *cf, zp_http_ssl_srv_conf_t *sscf)
{
    char                    err[1024];
    zp_str_t                path;
    STACK_OF(X509_NAME)    *names;

    if (sscf->verify == ZP_HTTP_SSL_VERIFY_OFF) {
        return ZP_OK;
    }

    if (sscf->client_certificate.name.data == NULL) {
        zp_http_ssl_conf_error(cf, &sscf->verify_where,
                               "\"ssl_verify_client %s\" needs \"ssl_client_certificate\"%s",
                               (char *) sscf->verify_where.name.data, "");
        return ZP_ERROR;
    }

    path = sscf->client_certificate.name;
    if (zp_conf_full_name(cf->cycle, &path, 1) != ZP_OK) {
        return ZP_ERROR;
    }

    if (access((char *) path.data, R_OK) == -1) {
        zp_http_ssl_conf_error(cf, &sscf->client_certificate,
                               "cannot read client certificate CA \"%s\": %s", (char *) path.data,
                               strerror(errno));
        return ZP_ERROR;
    }

    ERR_clear_error();

    if (SSL_CTX_load_verify_locations(sscf->ctx, (char *) path.data, NULL) != 1) {
        zp_http_ssl_conf_error(cf, &sscf->client_certificate,
                               "cannot load client certificate CA \"%s\": %s", (char *) path.data,
                               zp_ssl_error_string(err, sizeof(err)));
        return ZP_ERROR;
    }

    /* the CA names go in the CertificateRequest: clients with several
     * certificates pick the right one */
    names = SSL_load_client_CA_file((char *) path.data);
    if (names == NULL) {
        zp_http_ssl_conf_error(cf, &sscf->client_certificate,
                               "no certificate in client certificate CA \"%s\": %s",
                               (char *) path.data, zp_ssl_error_string(err, sizeof(err)));
        return ZP_ERROR;
    }
    SSL_CTX_set_client_CA_list(sscf->ctx, names);

    SSL_CTX_set_verify(sscf->ctx, SSL_VERIFY_PEER, zp_http_ssl_verify_cb);
    SSL_CTX_set_verify_depth(sscf->ctx, (int) sscf->verify_depth);
    return ZP_OK;
}


/* OCSP stapling: the response of ssl_stapling_file goes to any client
 * that asks (status_request); the file is read with the configuration. */
static int
zp_http_ssl_status_cb(SSL *ssl, void *arg)
{
    u_char                 *p;
    zp_http_ssl_srv_conf_t *sscf = arg;

    if (sscf->ocsp == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }

    /* OpenSSL frees the copy with the connection */
    p = OPENSSL_malloc(sscf->ocsp_len);
    if (p == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    zp_memcpy(p, sscf->ocsp, sscf->ocsp_len);

    if (SSL_set_tlsext_status_ocsp_resp(ssl, p, (long) sscf->ocsp_len) != 1) {
        OPENSSL_free(p);
        return SSL_TLSEXT_ERR_NOACK;
    }

    return SSL_TLSEXT_ERR_OK;
}


static zp_int_t
zp_http_ssl_stapling(zp_conf_t *cf, zp_http_ssl_srv_conf_t *sscf)
{
    int            status;
    char           err[1024];
    size_t         len;
    u_char        *buf;
    zp_str_t       path;
    OCSP_RESPONSE *resp;
    const u_char  *p;

    if (sscf->stapling_file.name.data == NULL) {
        return ZP_OK;
    }

    path = sscf->stapling_file.name;
    if (zp_conf_full_name(cf->cycle, &path, 1) != ZP_OK) {
        return ZP_ERROR;
    }

    /* a stapled response must fit in one handshake message with room to
     * spare; real ones are a few KiB */
    buf = zp_http_ssl_read_file(cf, &path, 64 * 1024, &len, err, sizeof(err));
    if (buf == NULL) {
        zp_http_ssl_conf_error(cf, &sscf->stapling_file, "cannot read stapling file \"%s\": %s",
                               (char *) path.data, err);
        return ZP_ERROR;
    }

    ERR_clear_error();
    p    = buf;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long) len);
    if (resp == NULL || p != buf + len) {
        OCSP_RESPONSE_free(resp);
        ERR_clear_error();
        zp_http_ssl_conf_error(cf, &sscf->stapling_file,
                               "stapling file \"%s\" is not a DER OCSP response%s",
                               (char *) path.data, "");
        return ZP_ERROR;
    }

    status = OCSP_response_status(resp);
    OCSP_RESPONSE_free(resp);

    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        zp_http_ssl_conf_error(cf, &sscf->stapling_file,
                               "stapling file \"%s\" holds an unsuccessful OCSP response (%s)",
                               (char *) path.data, OCSP_response_status_str(status));
        return ZP_ERROR;
    }

    sscf->ocsp     = buf;
    sscf->ocsp_len = len;

    SSL_CTX_set_tlsext_status_cb(sscf->ctx, zp_http_ssl_status_cb);
    SSL_CTX_set_tlsext_status_arg(sscf->ctx, sscf);
    return ZP_OK;
}


/* ssl_session_ticket_key files, or the configuration's random keys. */
static zp_int_t
zp_http_ssl_tickets(zp_conf_t *cf, zp_http_ssl_srv_conf_t *sscf)
{
    char                     err[1024];
    size_t                   len;
    u_char                  *buf;
    zp_str_t                 path;
    zp_uint_t                i;
    zp_http_ssl_file_t      *f;
    zp_ssl_ticket_key_t     *k;
    zp_http_ssl_main_conf_t *smcf;

    if (!sscf->session_tickets) {
        return zp_ssl_session_tickets(sscf->ctx, NULL, cf->pool);
    }

    if (sscf->ticket_key_files == NULL) {
        smcf = zp_http_conf_get_module_main_conf(cf, zp_http_ssl_module);
        if (smcf->auto_keys == NULL && zp_http_ssl_auto_keys(cf, smcf) != ZP_OK) {
            return ZP_ERROR;
        }
        sscf->ticket_keys = smcf->auto_keys;
        return zp_ssl_session_tickets(sscf->ctx, sscf->ticket_keys, cf->pool);
    }

    sscf->ticket_keys =
        zp_array_create(cf->pool, sscf->ticket_key_files->nelts, sizeof(zp_ssl_ticket_key_t));
    if (sscf->ticket_keys == NULL) {
        return ZP_ERROR;
    }

    f = sscf->ticket_key_files->elts;
    for (i = 0; i < sscf->ticket_key_files->nelts; i++) {
        path = f[i].name;
        if (zp_conf_full_name(cf->cycle, &path, 1) != ZP_OK) {
            return ZP_ERROR;
        }

        buf = zp_http_ssl_read_file(cf, &path, 4096, &len, err, sizeof(err));
        if (buf == NULL) {
            zp_http_ssl_conf_error(cf, &f[i], "cannot read session ticket key \"%s\": %s",
                                   (char *) path.data, err);
            return ZP_ERROR;
        }

        k = zp_array_push(sscf->ticket_keys);
        if (k == NULL) {
            return ZP_ERROR;
        }

        if (zp_ssl_ticket_key_set(k, buf, len) != ZP_OK) {
            snprintf(err, sizeof(err), "%zu", len);
            zp_http_ssl_conf_error(cf, &f[i],
                                   "session ticket key \"%s\" must be 48 or 80 bytes, not %s",
                                   (char *) path.data, err);
            return ZP_ERROR;
        }

        /* the key bytes are secret: do not leave a copy in the pool */
        OPENSSL_cleanse(buf, len);
    }

    return zp_ssl_session_tickets(sscf->ctx, sscf->ticket_keys, cf->pool);
}


/*
 * The session id context: a session resumes only on a server with the
 * same certificates and the same client certificate rules, whichever
 * server block it is (two blocks with the same certificates share
 * sessions; a session made for a.test never resumes as b.test, and one
 * made without client verification never skips it).
 */
static zp_int_t
zp_http_ssl_session_id_context(zp_http_ssl_srv_conf_t *sscf)
{
    int                  n, ok, len;
    u_char              *der, *p;
    u_char               md[EVP_MAX_MD_SIZE];
    unsigned int         mdlen;
    X509                *x;
    X509_NAME           *name;
    EVP_MD_CTX          *md_ctx;
    STACK_OF(X509_NAME) *names;
    zp_int_t             rc = ZP_ERROR;

    md_ctx = EVP_MD_CTX_new();
    if (md_ctx == NULL || EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1) {
        goto done;
    }

    for (n = SSL_CTX_set_current_cert(sscf->ctx, SSL_CERT_SET_FIRST); n == 1;
         n = SSL_CTX_set_current_cert(sscf->ctx, SSL_CERT_SET_NEXT)) {
        x = SSL_CTX_get0_certificate(sscf->ctx);
        if (x == NULL) {
            continue;
        }
        len = i2d_X509(x, NULL);
        if (len <= 0 || (der = OPENSSL_malloc((size_t) len)) == NULL) {
            goto done;
        }
        p = der;
        (void) i2d_X509(x, &p);
        ok = EVP_DigestUpdate(md_ctx, der, (size_t) len);
        OPENSSL_free(der);
        if (ok != 1) {
            goto done;
        }
    }

    if (EVP_DigestUpdate(md_ctx, &sscf->verify, sizeof(sscf->verify)) != 1) {
        goto done;
    }

    names = SSL_CTX_get_client_CA_list(sscf->ctx);
    for (n = 0; names && n < sk_X509_NAME_num(names); n++) {
        name = sk_X509_NAME_value(names, n);
        der  = NULL;
        len  = i2d_X509_NAME(name, &der);
        if (len <= 0) {
            goto done;
        }
        if (EVP_DigestUpdate(md_ctx, der, (size_t) len) != 1) {
            OPENSSL_free(der);
            goto done;
        }
        OPENSSL_free(der);
    }

    if (EVP_DigestFinal_ex(md_ctx, md, &mdlen) != 1
        || SSL_CTX_set_session_id_context(sscf->ctx, md,
                                          zp_min(mdlen, (unsigned) SSL_MAX_SID_CTX_LENGTH))
               != 1) {
        goto done;
    }

    rc = ZP_OK;

done:
    EVP_MD_CTX_free(md_ctx);
    (void) SSL_CTX_set_current_cert(sscf->ctx, SSL_CERT_SET_FIRST);
    return rc;
}


/* Sessions, tickets, client certificates and stapling for a new ctx. */
static zp_int_t
zp_http_ssl_configure(zp_conf_t *cf, zp_http_ssl_srv_conf_t *sscf)
{
    char                     err[1024];
    zp_str_t                 name = zp_string(ZP_HTTP_SSL_CACHE_NAME);
    zp_http_ssl_main_conf_t *smcf = zp_http_conf_get_module_main_conf(cf, zp_http_ssl_module);

    if (sscf->session_cache == ZP_CONF_UNSET) {
        /* the default, shared:SSL:1m unless a server names SSL with
         * another size: the size is settled in postconfiguration */
        sscf->session_cache = 1;
        sscf->shm_zone      = zp_shared_memory_add(cf, &name, 0, &zp_http_ssl_module);
        if (sscf->shm_zone == NULL) {
            return ZP_ERROR;
        }
        sscf->shm_zone->init = zp_ssl_session_cache_init;
        smcf->default_zone   = sscf->shm_zone;
    }

    if (zp_ssl_session_cache(sscf->ctx, sscf->session_cache ? sscf->shm_zone : NULL,
                             sscf->session_timeout, cf->pool)
            != ZP_OK
        || zp_http_ssl_tickets(cf, sscf) != ZP_OK || zp_http_ssl_client_certs(cf, sscf) != ZP_OK
        || zp_http_ssl_stapling(cf, sscf) != ZP_OK) {
        return ZP_ERROR;
    }

    if (zp_http_ssl_session_id_context(sscf) != ZP_OK) {
        zp_http_ssl_conf_error(cf, sscf->certificates->elts,
                               "cannot set the session id context: %s%s",
                               zp_ssl_error_string(err, sizeof(err)), "");
        return ZP_ERROR;
    }

    zp_ssl_ctx_conf(sscf->ctx, cf->pool)->data = sscf;
    return ZP_OK;
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

    if (conf->session_cache == ZP_CONF_UNSET) {
        conf->session_cache = prev->session_cache;
        conf->shm_zone      = prev->shm_zone;
    }
    zp_conf_merge_value(conf->session_timeout, prev->session_timeout, 300);
    zp_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    if (conf->ticket_key_files == NULL) {
        conf->ticket_key_files = prev->ticket_key_files;
    }
    if (conf->verify == ZP_CONF_UNSET_UINT) {
        conf->verify       = prev->verify;
        conf->verify_where = prev->verify_where;
    }
    zp_conf_merge_uint_value(conf->verify, prev->verify, ZP_HTTP_SSL_VERIFY_OFF);
    if (conf->client_certificate.name.data == NULL) {
        conf->client_certificate = prev->client_certificate;
    }
    zp_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    if (conf->stapling_file.name.data == NULL) {
        conf->stapling_file = prev->stapling_file;
    }

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
    if (conf->ctx == NULL || zp_http_ssl_configure(cf, conf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


static zp_int_t
zp_http_ssl_postconfiguration(zp_conf_t *cf)
{
    zp_http_core_main_conf_t *cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);
    zp_http_ssl_main_conf_t  *smcf = zp_http_conf_get_module_main_conf(cf, zp_http_ssl_module);

    cmcf->ssl_init_connection = zp_http_ssl_init_connection;

    /* the implicit cache: 1m unless a server gave SSL a size */
    if (smcf->default_zone && smcf->default_zone->shm.size == 0) {
        smcf->default_zone->shm.size = ZP_HTTP_SSL_CACHE_SIZE;
    }

    return zp_http_add_handler(cf, ZP_HTTP_POST_READ_PHASE, zp_http_ssl_check_client);
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

    /* the request may have come with the handshake's last flight, and
     * epoll will not report it again: the first read goes at once */
    c->read->ready = 1;
    zp_http_init_connection(c);
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
