/*
 * zp_http_request.c: the protocol-independent request core: request
 * headers and their rules, server and route selection, the phases,
 * responses and finalization.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

typedef zp_int_t (*zp_http_header_handler_pt)(zp_http_request_t *r, zp_table_elt_t *h,
                                              zp_uint_t offset);

typedef struct {
    zp_str_t                  name;
    zp_uint_t                 offset;
    zp_http_header_handler_pt handler;
} zp_http_header_t;

static zp_int_t zp_http_header_first(zp_http_request_t *r, zp_table_elt_t *h, zp_uint_t offset);
static zp_int_t zp_http_header_unique(zp_http_request_t *r, zp_table_elt_t *h, zp_uint_t offset);
static zp_int_t zp_http_header_content_length(zp_http_request_t *r, zp_table_elt_t *h,
                                              zp_uint_t offset);

#define zp_http_hin(field) offsetof(zp_http_headers_in_t, field)

/*
 * Headers the core looks at. A second Host is an error (a proxy must not
 * guess which one the next hop will believe); a second Content-Length is
 * accepted only with the same value (RFC 9112 6.3); Transfer-Encoding
 * lines form one list (RFC 9110 5.3), checked as a whole once the head is
 * in. Any other header may repeat and is chained.
 */
static zp_http_header_t zp_http_headers_in[] = {
    {zp_string("host"), zp_http_hin(host), zp_http_header_unique},
    {zp_string("connection"), zp_http_hin(connection), zp_http_header_first},
    {zp_string("content-length"), zp_http_hin(content_length), zp_http_header_content_length},
    {zp_string("transfer-encoding"), zp_http_hin(transfer_encoding), zp_http_header_first},
    {zp_string("te"), zp_http_hin(te), zp_http_header_first},
    {zp_string("expect"), zp_http_hin(expect), zp_http_header_unique},
    {zp_string("upgrade"), zp_http_hin(upgrade), zp_http_header_first},
    {zp_string("user-agent"), zp_http_hin(user_agent), zp_http_header_first},
    {zp_string("referer"), zp_http_hin(referer), zp_http_header_first},
    {zp_string("authorization"), zp_http_hin(authorization), zp_http_header_unique},
    {zp_string("x-forwarded-for"), zp_http_hin(x_forwarded_for), zp_http_header_first},
    {zp_string("x-request-id"), zp_http_hin(x_request_id), zp_http_header_first},
};


zp_int_t
zp_http_headers_in_init(zp_conf_t *cf)
{
    zp_uint_t                 i;
    zp_hash_key_t             keys[zp_nelems(zp_http_headers_in)];
    zp_hash_init_t            hinit;
    zp_http_core_main_conf_t *cmcf;

    cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    for (i = 0; i < zp_nelems(zp_http_headers_in); i++) {
        keys[i].key      = zp_http_headers_in[i].name;
        keys[i].key_hash = zp_hash_key_lc(keys[i].key.data, keys[i].key.len);
        keys[i].value    = &zp_http_headers_in[i];
    }

    hinit.hash        = &cmcf->headers_in_hash;
    hinit.key         = NULL;
    hinit.max_size    = 512;
    hinit.bucket_size = 64;
    hinit.name        = "headers_in_hash";
    hinit.pool        = cf->pool;
    hinit.temp_pool   = NULL;

    return zp_hash_init(&hinit, keys, zp_nelems(zp_http_headers_in));
}


/*
 * A name that is "content-length" or "transfer-encoding" once '-' and '_'
 * are left out, but is not that name: a server that folds such names
 * would frame the message by it.
 */
static zp_uint_t
zp_http_framing_lookalike(u_char *lowcase, size_t len)
{
    static const char *names[] = {"contentlength", "transferencoding"};
    u_char             folded[32];
    size_t             i, n;

    if (len < 13) {
        return 0;
    }

    for (i = 0, n = 0; i < len; i++) {
        if (lowcase[i] == '-' || lowcase[i] == '_') {
            continue;
        }
        if (n == sizeof(folded)) {
            return 0;
        }
        folded[n++] = lowcase[i];
    }

    for (i = 0; i < zp_nelems(names); i++) {
        if (n == strlen(names[i]) && zp_memcmp(folded, names[i], n) == 0) {
            return 1;
        }
    }

    return 0;
}


zp_int_t
zp_http_add_header_in(zp_http_request_t *r, zp_str_t *name, u_char *lowcase, zp_uint_t hash,
                      zp_str_t *value)
{
    zp_table_elt_t           *h;
    zp_http_header_t         *hh;
    zp_http_core_main_conf_t *cmcf;

    h = zp_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash        = hash;
    h->key         = *name;
    h->value       = *value;
    h->lowcase_key = lowcase;
    h->next        = NULL;

    cmcf = zp_http_get_module_main_conf(r, zp_http_core_module);
    hh   = zp_hash_find(&cmcf->headers_in_hash, hash, lowcase, name->len);

    if (hh) {
        return hh->handler(r, h, hh->offset);
    }

    if (zp_http_framing_lookalike(lowcase, name->len)) {
        r->headers_in.ambiguous = 1;
    }

    return ZP_OK;
}


static zp_int_t
zp_http_header_first(zp_http_request_t *r, zp_table_elt_t *h, zp_uint_t offset)
{
    zp_table_elt_t **ph = (zp_table_elt_t **) ((char *) &r->headers_in + offset);

    while (*ph) {
        ph = &(*ph)->next;
    }
    *ph = h;
    return ZP_OK;
}


static zp_int_t
zp_http_header_unique(zp_http_request_t *r, zp_table_elt_t *h, zp_uint_t offset)
{
    zp_table_elt_t **ph = (zp_table_elt_t **) ((char *) &r->headers_in + offset);

    if (*ph) {
        u_char   buf[2][256];
        zp_str_t v, prev;

        /* a value may hold CTLs (RFC 9110 5.5): not raw into the log */
        v.data    = buf[0];
        v.len     = zp_escape_text(buf[0], buf[0] + 256, h->value.data, h->value.len) - buf[0];
        prev.data = buf[1];
        prev.len  = zp_escape_text(buf[1], buf[1] + 256, (*ph)->value.data, (*ph)->value.len)
                    - buf[1];

        zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                     "client sent duplicate header line: \"%V: %V\", previous value: \"%V\"",
                     &h->key, &v, &prev);
        return ZP_HTTP_BAD_REQUEST;
    }

    *ph = h;
    return ZP_OK;
}


static zp_int_t
zp_http_header_content_length(zp_http_request_t *r, zp_table_elt_t *h, zp_uint_t offset)
{
    off_t n;

    (void) offset;

    n = zp_atoof(h->value.data, h->value.len);

    if (n == ZP_ERROR) {
        u_char   buf[256];
        zp_str_t v;

        v.data = buf;
        v.len  = zp_escape_text(buf, buf + sizeof(buf), h->value.data, h->value.len) - buf;
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                     "client sent invalid \"Content-Length\" header: \"%V\"", &v);
        return ZP_HTTP_BAD_REQUEST;
    }

    if (r->headers_in.content_length) {
        if (n != r->headers_in.content_length_n) {
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                         "client sent conflicting \"Content-Length\" headers");
            return ZP_HTTP_BAD_REQUEST;
        }
        return ZP_OK;
    }

    r->headers_in.content_length   = h;
    r->headers_in.content_length_n = n;
    return ZP_OK;
}


zp_table_elt_t *
zp_http_find_header_in(zp_http_request_t *r, zp_str_t *lowcase_name)
{
    zp_list_iter_t  it = {NULL, 0};
    zp_table_elt_t *h;

    while ((h = zp_list_next(&r->headers_in.headers, &it))) {
        if (h->hash && h->key.len == lowcase_name->len
            && zp_strncmp(h->lowcase_key, lowcase_name->data, lowcase_name->len) == 0) {
            return h;
        }
    }

    return NULL;
}


/* Does the comma-separated list in value hold token (case-insensitive)? */
static zp_uint_t
zp_http_list_has(zp_str_t *value, const char *token, size_t len)
{
    u_char *p, *last, *start, *end;

    p    = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        start = p;
        while (p < last && *p != ',') {
            p++;
        }
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t) (end - start) == len && zp_strncasecmp(start, (u_char *) token, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* RFC 9110 7.2 host = uri-host [ ":" port ]; lower-cased, the port and a
 * trailing dot dropped. */
zp_int_t
zp_http_validate_host(zp_http_request_t *r, zp_str_t *host)
{
    u_char    ch, *p, *dst;
    size_t    i, dot_pos, host_len;
    zp_uint_t in_brackets;

    in_brackets = 0;
    dot_pos     = host->len;
    host_len    = host->len;

    for (i = 0; i < host->len; i++) {
        ch = host->data[i];

        switch (ch) {
        case '.':
            if (dot_pos == i - 1) {
                return ZP_ERROR;
            }
            dot_pos = i;
            break;
        case ':':
            if (!in_brackets) {
                host_len = i;
                i        = host->len;
            }
            break;
        case '[':
            if (i != 0) {
                return ZP_ERROR;
            }
            in_brackets = 1;
            break;
        case ']':
            in_brackets = 0;
            break;
        default:
            if (ch <= 0x20 || ch == 0x7f || ch == '/' || ch == '\\' || ch == '"' || ch == '<'
                || ch == '>' || ch == '@') {
                return ZP_ERROR;
            }
        }
    }

    if (in_brackets) {
        return ZP_ERROR;
    }

    if (dot_pos == host_len - 1 && host_len > 0) {
        host_len--;
    }

    if (host_len == 0) {
        return ZP_ERROR;
    }

    dst = zp_pnalloc(r->pool, host_len);
    if (dst == NULL) {
        return ZP_ERROR;
    }
    for (p = host->data, i = 0; i < host_len; i++) {
        dst[i] = zp_tolower(p[i]);
    }

    r->headers_in.server.data = dst;
    r->headers_in.server.len  = host_len;
    return ZP_OK;
}


/*
 * The Transfer-Encoding lines as one list (RFC 9110 5.3): it must end in
 * chunked, which zproxy decodes; the codings before it are passed on as
 * they are (RFC 9112 6.1 lets a proxy forward codings it does not know),
 * in r->headers_in.transfer_codings. Returns ZP_OK or the status.
 */
static zp_int_t
zp_http_process_transfer_encoding(zp_http_request_t *r)
{
    size_t                room;
    zp_http_te_t          te;
    zp_table_elt_t       *h;
    zp_http_headers_in_t *hin = &r->headers_in;

    room = 0;
    for (h = hin->transfer_encoding; h; h = h->next) {
        room += 2 * h->value.len + 2;
    }

    zp_memzero(&te, sizeof(zp_http_te_t));
    te.out = zp_pnalloc(r->pool, room);
    if (te.out == NULL) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (h = hin->transfer_encoding; h; h = h->next) {
        if (zp_http_parse_te(&te, h->value.data, h->value.len) != ZP_OK) {
            u_char   buf[256];
            zp_str_t v;

            v.data = buf;
            v.len  = zp_escape_text(buf, buf + sizeof(buf), h->value.data, h->value.len) - buf;
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                         "client sent invalid \"Transfer-Encoding\": \"%V\"", &v);
            return ZP_HTTP_BAD_REQUEST;
        }
    }

    if (!te.chunked) {
        /* the length cannot be determined: RFC 9112 6.3 says 400 */
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                     "client sent \"Transfer-Encoding\" not ending in \"chunked\"");
        return ZP_HTTP_BAD_REQUEST;
    }

    hin->transfer_codings.data = te.out;
    hin->transfer_codings.len  = te.out_len;
    hin->chunked               = 1;

    return ZP_OK;
}


zp_int_t
zp_http_process_request_headers(zp_http_request_t *r)
{
    zp_int_t              rc;
    zp_http_headers_in_t *hin = &r->headers_in;
    zp_table_elt_t       *h;

    if (hin->host) {
        /* an absolute-form target already named the server (RFC 9112
         * 3.2.2); Host must still be valid */
        zp_str_t saved = r->headers_in.server;

        if (zp_http_validate_host(r, &hin->host->value) != ZP_OK) {
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "client sent invalid host header");
            return ZP_HTTP_BAD_REQUEST;
        }
        if (saved.len) {
            r->headers_in.server = saved;
        }
    } else if (r->http_version >= ZP_HTTP_VERSION_11) {
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "client sent HTTP/1.1 request without "
                     "\"Host\" header");
        return ZP_HTTP_BAD_REQUEST;
    }

    if (hin->transfer_encoding) {
        if (r->http_version < ZP_HTTP_VERSION_11) {
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                         "client sent HTTP/1.0 request with \"Transfer-Encoding\" header");
            return ZP_HTTP_BAD_REQUEST;
        }

        if (hin->content_length) {
            /* the classic desync: each hop could pick a different one */
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0,
                         "client sent \"Content-Length\" and \"Transfer-Encoding\" headers");
            return ZP_HTTP_BAD_REQUEST;
        }

        rc = zp_http_process_transfer_encoding(r);
        if (rc != ZP_OK) {
            return rc;
        }
    }

    if (!hin->content_length) {
        hin->content_length_n = hin->chunked ? -1 : 0;
    }

    /* a body where many servers expect none: one that ignores it would
     * read the body as the next request */
    if ((r->method & (ZP_HTTP_GET | ZP_HTTP_HEAD))
        && (hin->chunked || hin->content_length_n > 0)) {
        hin->ambiguous = 1;
    }

    for (h = hin->connection; h; h = h->next) {
        if (zp_http_list_has(&h->value, "close", 5)) {
            hin->connection_close = 1;
        }
        if (zp_http_list_has(&h->value, "keep-alive", 10)) {
            hin->connection_keep_alive = 1;
        }
    }

    if (hin->expect && r->http_version >= ZP_HTTP_VERSION_11) {
        if (hin->expect->value.len == 12
            && zp_strncasecmp(hin->expect->value.data, (u_char *) "100-continue", 12) == 0) {
            hin->expect_continue = 1;
        } else {
            return 417;
        }
    }

    r->keepalive = r->http_version >= ZP_HTTP_VERSION_11 ? !hin->connection_close
                                                          : hin->connection_keep_alive
                                                                && !hin->connection_close;

    return ZP_OK;
}


static pcre2_match_data *zp_http_match_data;


static zp_int_t
zp_http_regex_match(pcre2_code *re, zp_str_t *s)
{
    int rc;

    /* one match data for the worker: requests are served one at a time */
    if (zp_http_match_data == NULL) {
        zp_http_match_data = pcre2_match_data_create(1, NULL);
        if (zp_http_match_data == NULL) {
            return ZP_ERROR;
        }
    }

    rc = pcre2_match(re, s->data, s->len, 0, 0, zp_http_match_data, NULL);
    return rc >= 0 ? ZP_OK : ZP_DECLINED;
}


/* Names: exact first, then the longest "*.example.com" wildcard, then
 * "~regex" names in the order written; host is lower-case. The TLS layer
 * uses it for SNI, the request for Host. */
zp_http_core_srv_conf_t *
zp_http_find_server_by_name(zp_http_addr_t *addr, zp_str_t *host)
{
    zp_str_t                 *names;
    zp_uint_t                 i, j;
    size_t                    best_len;
    zp_http_core_srv_conf_t **srvs, *best;

    if (host->len == 0 || addr->servers.nelts == 1) {
        return addr->default_server;
    }

    srvs     = addr->servers.elts;
    best     = NULL;
    best_len = 0;

    for (i = 0; i < addr->servers.nelts; i++) {
        names = srvs[i]->server_names.elts;

        for (j = 0; j < srvs[i]->server_names.nelts; j++) {
            if (names[j].len == host->len
                && zp_strncmp(names[j].data, host->data, host->len) == 0) {
                return srvs[i];
            }

            /* "*.example.com" matches "a.example.com" and "a.b.example.com" */
            if (names[j].len > 2 && names[j].data[0] == '*' && names[j].data[1] == '.'
                && host->len > names[j].len - 1 && names[j].len > best_len
                && zp_strncmp(host->data + host->len - (names[j].len - 1), names[j].data + 1,
                              names[j].len - 1) == 0) {
                best     = srvs[i];
                best_len = names[j].len;
            }
        }
    }

    if (best) {
        return best;
    }

    /* then the "~regex" names, in the order written */
    for (i = 0; i < addr->servers.nelts; i++) {
        pcre2_code **re;

        if (srvs[i]->server_regexes == NULL) {
            continue;
        }

        re = srvs[i]->server_regexes->elts;
        for (j = 0; j < srvs[i]->server_regexes->nelts; j++) {
            if (zp_http_regex_match(re[j], host) == ZP_OK) {
                return srvs[i];
            }
        }
    }

    return addr->default_server;
}


/* A match_header condition: a request header, or (data: index + 1) a
 * variable, where an empty or unset value counts as absent. */
static zp_str_t *
zp_http_route_header(void *ctx, zp_str_t *lowcase_name, uintptr_t data)
{
    zp_str_t                 *value;
    zp_table_elt_t           *h;
    zp_http_variable_value_t *vv;
    zp_http_request_t        *r = ctx;

    if (data == 0) {
        h = zp_http_find_header_in(r, lowcase_name);
        return h ? &h->value : NULL;
    }

    vv = zp_http_get_indexed_variable(r, data - 1);
    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NULL;
    }

    value = zp_palloc(r->pool, sizeof(zp_str_t));
    if (value == NULL) {
        return NULL;
    }
    value->data = vv->data;
    value->len  = vv->len;

    return value;
}


static zp_uint_t
zp_http_allow_header(zp_http_request_t *r, zp_uint_t methods)
{
    u_char    *p, buf[128];
    zp_uint_t  m;
    zp_str_t   allow;

    p = buf;
    for (m = ZP_HTTP_GET; m <= ZP_HTTP_CONNECT; m <<= 1) {
        if (methods & m) {
            p = zp_slprintf(p, buf + sizeof(buf), "%s%s", p == buf ? "" : ", ",
                            zp_http_method_name(m));
        }
    }

    allow.len  = p - buf;
    allow.data = zp_pnalloc(r->pool, allow.len);
    if (allow.data == NULL) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }
    zp_memcpy(allow.data, buf, allow.len);

    return zp_http_add_header_out(r, "Allow", &allow) ? ZP_HTTP_NOT_ALLOWED
                                                       : ZP_HTTP_INTERNAL_SERVER_ERROR;
}


static void zp_http_run_phases(zp_http_request_t *r);


void
zp_http_process_request(zp_http_request_t *r)
{
    zp_int_t                  rc;
    zp_http_route_match_t    *m;
    zp_http_core_srv_conf_t  *cscf;
    zp_http_core_rte_conf_t  *rcf;

    cscf        = zp_http_find_server_by_name(r->connection->listening->servers,
                                              &r->headers_in.server);
    r->srv_conf = cscf->ctx->srv_conf;
    r->rte_conf = cscf->ctx->rte_conf;

    m = zp_palloc(r->pool, sizeof(zp_http_route_match_t));
    if (m == NULL) {
        zp_http_finalize_request(r, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = zp_http_router_find(cscf->router, &r->uri, r->method, zp_http_route_header, r, m);

    if (rc == ZP_OK) {
        rcf             = m->data;
        r->rte_conf     = rcf->rte_conf;
        r->nparams      = m->nparams;
        r->param_names  = m->param_names;
        r->param_values = m->param_values;
        r->ncaptures    = m->ncaptures;
        zp_memcpy(r->captures, m->captures, sizeof(r->captures));

    } else if (rc == ZP_HTTP_NOT_ALLOWED) {
        zp_http_finalize_request(r, zp_http_allow_header(r, m->allowed));
        return;
    }

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);

    if (r->headers_in.content_length_n > rcf->client_max_body_size) {
        zp_log_error(ZP_LOG_ERR, r->connection->log, 0,
                     "client intended to send too large body: %O bytes",
                     r->headers_in.content_length_n);
        r->keepalive = 0;
        zp_http_finalize_request(r, ZP_HTTP_REQUEST_ENTITY_TOO_LARGE);
        return;
    }

    zp_http_run_phases(r);
}


static void
zp_http_run_phases(zp_http_request_t *r)
{
    zp_int_t                  rc;
    zp_uint_t                 ph, i;
    zp_http_handler_pt       *h;
    zp_http_core_main_conf_t *cmcf;
    zp_http_core_rte_conf_t  *rcf;

    cmcf = zp_http_get_module_main_conf(r, zp_http_core_module);

    for (ph = ZP_HTTP_POST_READ_PHASE; ph < ZP_HTTP_CONTENT_PHASE; ph++) {
        h = cmcf->phases[ph].handlers.elts;
        for (i = 0; i < cmcf->phases[ph].handlers.nelts; i++) {
            rc = h[i](r);
            if (rc == ZP_DECLINED) {
                continue;
            }
            if (rc == ZP_OK) {
                break; /* on to the next phase */
            }
            /* ZP_DONE: the handler answered (or will); a status: answer it */
            if (rc != ZP_DONE) {
                zp_http_finalize_request(r, rc == ZP_ERROR ? ZP_HTTP_INTERNAL_SERVER_ERROR : rc);
            }
            return;
        }
    }

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);
    rc  = rcf->handler ? rcf->handler(r) : ZP_HTTP_NOT_FOUND;

    if (rc != ZP_DONE) {
        zp_http_finalize_request(r, rc >= 100 ? rc : ZP_HTTP_INTERNAL_SERVER_ERROR);
    }
}


const char *
zp_http_status_line(zp_uint_t status, size_t *len)
{
    const char *s;

    switch (status) {
    case 100: s = "100 Continue"; break;
    case 200: s = "200 OK"; break;
    case 201: s = "201 Created"; break;
    case 202: s = "202 Accepted"; break;
    case 204: s = "204 No Content"; break;
    case 206: s = "206 Partial Content"; break;
    case 301: s = "301 Moved Permanently"; break;
    case 302: s = "302 Found"; break;
    case 303: s = "303 See Other"; break;
    case 304: s = "304 Not Modified"; break;
    case 307: s = "307 Temporary Redirect"; break;
    case 308: s = "308 Permanent Redirect"; break;
    case 400: s = "400 Bad Request"; break;
    case 401: s = "401 Unauthorized"; break;
    case 403: s = "403 Forbidden"; break;
    case 404: s = "404 Not Found"; break;
    case 405: s = "405 Method Not Allowed"; break;
    case 408: s = "408 Request Timeout"; break;
    case 411: s = "411 Length Required"; break;
    case 413: s = "413 Content Too Large"; break;
    case 414: s = "414 URI Too Long"; break;
    case 417: s = "417 Expectation Failed"; break;
    case 421: s = "421 Misdirected Request"; break;
    case 429: s = "429 Too Many Requests"; break;
    case 431: s = "431 Request Header Fields Too Large"; break;
    case 500: s = "500 Internal Server Error"; break;
    case 501: s = "501 Not Implemented"; break;
    case 502: s = "502 Bad Gateway"; break;
    case 503: s = "503 Service Unavailable"; break;
    case 504: s = "504 Gateway Timeout"; break;
    case 505: s = "505 HTTP Version Not Supported"; break;
    default: s = NULL;
    }

    *len = s ? strlen(s) : 0;
    return s;
}


zp_table_elt_t *
zp_http_add_header_out(zp_http_request_t *r, const char *name, zp_str_t *value)
{
    zp_table_elt_t *h;

    h = zp_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash        = 1;
    h->key.data    = (u_char *) name;
    h->key.len     = strlen(name);
    h->value       = *value;
    h->lowcase_key = NULL;
    h->next        = NULL;

    return h;
}


zp_int_t
zp_http_send_header(zp_http_request_t *r)
{
    if (r->header_sent) {
        zp_log_error(ZP_LOG_ALERT, r->connection->log, 0, "header already sent");
        return ZP_ERROR;
    }

    r->header_sent = 1;
    r->status      = r->headers_out.status;

    if (r->method == ZP_HTTP_HEAD || r->status == 204 || r->status == 304) {
        r->header_only = 1;
    }

    return zp_http_top_header_filter(r);
}


/* The ends of the filter chains: the protocol writes. */
zp_int_t
zp_http_write_header_filter(zp_http_request_t *r)
{
    return r->proto->send_header(r);
}


zp_int_t
zp_http_write_body_filter(zp_http_request_t *r, zp_chain_t *in)
{
    zp_chain_t *cl;

    if (r->header_only) {
        /* nothing of the body goes out, but what is pending (the head) does */
        return r->proto->send_body(r, NULL);
    }

    for (cl = in; cl; cl = cl->next) {
        r->body_bytes_sent += cl->buf->in_pipe ? cl->buf->file_last - cl->buf->file_pos
                                               : cl->buf->last - cl->buf->pos;
    }

    return r->proto->send_body(r, in);
}


zp_int_t
zp_http_output(zp_http_request_t *r, zp_chain_t *in)
{
    return zp_http_top_body_filter(r, in);
}


/*
 * Builds the whole response from a small in-memory body, which is what
 * return and every error answer need.
 */
void
zp_http_send_response(zp_http_request_t *r, zp_uint_t status, zp_str_t *content_type,
                      zp_str_t *body)
{
    u_char     *p;
    size_t      slen;
    zp_buf_t   *b;
    zp_chain_t  out;
    const char *sline;
    zp_str_t    plain = zp_string("text/plain");
    zp_str_t    html  = zp_string("text/html");
    zp_str_t    page;

    if (r->header_sent) {
        /* too late to answer: the client must see a broken response */
        zp_http_finalize_request(r, ZP_ERROR);
        return;
    }

    if (status >= 400 && body == NULL) {
        sline     = zp_http_status_line(status, &slen);
        page.data = zp_pnalloc(r->pool, 2 * slen + 80);
        if (page.data == NULL) {
            zp_http_finalize_request(r, ZP_ERROR);
            return;
        }
        p = zp_sprintf(page.data,
                       "<html><head><title>%s</title></head><body><h1>%s</h1></body></html>\n",
                       sline ? sline : "Error", sline ? sline : "Error");
        page.len     = p - page.data;
        body         = &page;
        content_type = &html;
    }

    r->headers_out.status           = status;
    r->headers_out.content_length_n = body ? (off_t) body->len : 0;

    if (body) {
        r->headers_out.content_type = content_type ? *content_type : plain;
    }

    switch (status) {
    case ZP_HTTP_BAD_REQUEST:
    case ZP_HTTP_REQUEST_TIME_OUT:
    case ZP_HTTP_REQUEST_ENTITY_TOO_LARGE:
    case ZP_HTTP_REQUEST_URI_TOO_LARGE:
    case 417:
    case ZP_HTTP_HEADER_TOO_LARGE:
    case ZP_HTTP_NOT_IMPLEMENTED:
    case ZP_HTTP_VERSION_NOT_SUPPORTED:
        /* the request itself was wrong: the rest of the stream cannot be
         * trusted to start where this request ends */
        r->keepalive = 0;
        break;
    }

    if (zp_http_send_header(r) == ZP_ERROR) {
        zp_http_finalize_request(r, ZP_ERROR);
        return;
    }

    if (body && body->len && !r->header_only) {
        b = zp_calloc_buf(r->pool);
        if (b == NULL) {
            zp_http_finalize_request(r, ZP_ERROR);
            return;
        }
        b->pos = b->start = body->data;
        b->last = b->end = body->data + body->len;
        b->memory   = 1;
        b->last_buf = 1;
        out.buf     = b;
        out.next    = NULL;

        if (zp_http_output(r, &out) == ZP_ERROR) {
            zp_http_finalize_request(r, ZP_ERROR);
            return;
        }
    } else if (zp_http_output(r, NULL) == ZP_ERROR) {
        zp_http_finalize_request(r, ZP_ERROR);
        return;
    }

    zp_http_finalize_request(r, ZP_DONE);
}


static void
zp_http_log_request(zp_http_request_t *r)
{
    zp_uint_t                 i;
    zp_http_handler_pt       *h;
    zp_http_core_main_conf_t *cmcf;

    if (r->logged) {
        return;
    }
    r->logged = 1;

    cmcf = zp_http_get_module_main_conf(r, zp_http_core_module);
    h    = cmcf->phases[ZP_HTTP_LOG_PHASE].handlers.elts;

    for (i = 0; i < cmcf->phases[ZP_HTTP_LOG_PHASE].handlers.nelts; i++) {
        h[i](r);
    }
}


void
zp_http_finalize_request(zp_http_request_t *r, zp_int_t rc)
{
    if (rc >= 100) {
        /* answering consumes the request; the answer finalizes again */
        zp_http_send_response(r, (zp_uint_t) rc, NULL, NULL);
        return;
    }

    if (rc == ZP_ERROR) {
        r->keepalive = 0;
        if (r->status == 0) {
            r->status = 499; /* as nginx logs a request the client or an error cut short */
        }
    }

    if (r->status) {
        zp_http_log_request(r);
    }

    r->proto->finalize(r, rc);
}
