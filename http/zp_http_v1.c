/*
 * zp_http_v1.c: the HTTP/1.x wire protocol.
 *
 * Turns bytes into requests (zp_http_parse.c's state machines) and
 * responses back into bytes, and owns the connection between requests:
 * keep-alive, pipelining, discarding unread request bodies, draining and
 * lingering close.
 *
 * Buffer rule: a request head is parsed in place in the connection's
 * buffer and the request's strings point into it, so the buffer is never
 * compacted while a head is being read or a request is live; it is
 * compacted only between requests. A head larger than the buffer is
 * answered with 414 (request line) or 431 (headers).
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_event_openssl.h>

#define ZP_HTTP_LINGERING_TIME 2000
#define ZP_HTTP_V1_IOVS        64

typedef struct {
    zp_http_parse_t     parse;
    zp_http_chunked_t   chunked;
    zp_http_request_t  *r;

    zp_chain_t         *out;           /* response bytes not yet written */
    zp_chain_t         *free;          /* written links, reused (request pool) */
    zp_msec_t           send_timeout;

    /* the request body to drop after the response */
    off_t               body_rest;     /* Content-Length bytes still to come */
    off_t               body_max;      /* client_max_body_size, for chunked */
    off_t               body_seen;
    u_char             *head_end;      /* the body's bytes go after the head */
    zp_msec_t           body_timeout;
    zp_msec_t           keepalive_timeout;

    unsigned            line_done:1;
    unsigned            chunked_body:1;
    unsigned            finalize_pending:1;
    unsigned            keepalive:1;
    unsigned            chunked_out:1;
    unsigned            continue_sent:1;
    unsigned            body_ack_pushed:1;
} zp_http_v1_ctx_t;

static void     zp_http_v1_read_handler(zp_event_t *rev);
static void     zp_http_v1_parse_head(zp_connection_t *c);
static void     zp_http_v1_head_error(zp_connection_t *c, zp_uint_t status);
static zp_int_t zp_http_v1_send_header(zp_http_request_t *r);
static zp_int_t zp_http_v1_send_body(zp_http_request_t *r, zp_chain_t *in);
static void     zp_http_v1_finalize(zp_http_request_t *r, zp_int_t rc);
static zp_int_t zp_http_v1_discard_body(zp_http_request_t *r);
static ssize_t  zp_http_v1_read_body(zp_http_request_t *r, u_char *buf, size_t size);
static void     zp_http_v1_request_read(zp_event_t *rev);
static zp_int_t zp_http_v1_flush(zp_connection_t *c);
static void     zp_http_v1_writer(zp_event_t *wev);
static void     zp_http_v1_request_done(zp_connection_t *c);
static void     zp_http_v1_discard_handler(zp_event_t *rev);
static void     zp_http_v1_keepalive(zp_connection_t *c);
static void     zp_http_v1_lingering_close(zp_connection_t *c);
static void     zp_http_v1_lingering_handler(zp_event_t *rev);
static void     zp_http_v1_empty_handler(zp_event_t *ev);
static void     zp_http_v1_idle_handler(zp_event_t *rev);
static zp_chain_t *zp_http_v1_link(zp_http_request_t *r, zp_http_v1_ctx_t *ctx);

/* http1 is a module of the compile-time list like any other; it has no
 * directives yet, listening sockets of http servers call into it. */
zp_module_t zp_http_v1_module = {
    .name = "http_v1",
    .type = ZP_HTTP_MODULE,
    .ctx  = &(zp_http_module_t){NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

static zp_http_proto_t zp_http_v1_proto = {
    zp_http_v1_send_header,
    zp_http_v1_send_body,
    zp_http_v1_finalize,
    zp_http_v1_discard_body,
    zp_http_v1_read_body,
    1,
};


/*
 * Request pools and read buffers come from per-worker caches (see
 * zp_palloc.h), so a request costs no malloc in the steady state. The
 * read buffer is taken when bytes are expected and given back when the
 * connection goes idle: an idle keep-alive connection holds no buffer.
 * Idle connections give their own pool back too (zp_http_v1_set_idle).
 */
#define ZP_HTTP_V1_POOL_SIZE 8192

static zp_pool_cache_t zp_http_v1_request_pools;
static zp_mem_cache_t  zp_http_v1_bufs;


static void
zp_http_v1_buf_release(void *data)
{
    zp_connection_t *c = data;
    zp_buf_t        *b = c->buffer;

    if (b == NULL || b->start == NULL) {
        return;
    }

    zp_mem_cache_put(&zp_http_v1_bufs, b->start, b->end - b->start);
    b->start = b->pos = b->last = b->end = NULL;
}


static zp_int_t
zp_http_v1_buf_attach(zp_connection_t *c, size_t size)
{
    u_char            *p;
    zp_buf_t          *b = c->buffer;
    zp_pool_cleanup_t *cln;

    if (b == NULL) {
        b = zp_calloc_buf(c->pool);
        cln = zp_pool_cleanup_add(c->pool, 0);
        if (b == NULL || cln == NULL) {
            return ZP_ERROR;
        }
        cln->handler = zp_http_v1_buf_release;
        cln->data    = c;
        b->temporary = 1;
        c->buffer    = b;
    }

    if (b->start) {
        return ZP_OK;
    }

    p = zp_mem_cache_get(&zp_http_v1_bufs, size, c->log);
    if (p == NULL) {
        return ZP_ERROR;
    }

    b->start = b->pos = b->last = p;
    b->end   = p + size;
    return ZP_OK;
}


static zp_http_core_srv_conf_t *
zp_http_v1_default_server(zp_connection_t *c)
{
    return ((zp_http_addr_t *) c->listening->servers)->default_server;
}


void
zp_http_init_connection(zp_connection_t *c)
{
    zp_http_v1_ctx_t        *ctx;
    zp_http_core_srv_conf_t *cscf = zp_http_v1_default_server(c);

    ctx = zp_pcalloc(c->pool, sizeof(zp_http_v1_ctx_t));
    if (ctx == NULL) {
        zp_close_connection(c);
        return;
    }

    c->data           = ctx;
    c->read->handler  = zp_http_v1_read_handler;
    c->write->handler = zp_http_v1_empty_handler;

    /* a connection without a request yet counts as idle for draining */
    zp_reusable_connection(c, 1);
    zp_event_add_timer(c->read, cscf->client_header_timeout);

    /* bytes already in (deferred accept, or after a TLS handshake): read
     * now, an edge-triggered epoll would not report them again */
    if (c->read->ready) {
        zp_http_v1_read_handler(c->read);
    }
}


/*
 * An idle plain connection keeps nothing but its slot in the connections
 * array: its pool (the v1 context, the buffer header) goes back to the
 * per-worker cache until the next request's bytes arrive. A TLS
 * connection keeps its pool, the SSL state lives there.
 */
static void
zp_http_v1_set_idle(zp_connection_t *c)
{
    if (c->ssl) {
        return;
    }

    zp_pool_cache_put(&zp_connection_pools, c->pool);

    c->pool          = NULL;
    c->data          = NULL;
    c->buffer        = NULL;
    c->read->handler = zp_http_v1_idle_handler;
}


static void
zp_http_v1_idle_handler(zp_event_t *rev)
{
    zp_connection_t *c = rev->data;

    if (rev->timedout || c->close) {
        zp_close_connection(c);
        return;
    }

    c->pool = zp_pool_cache_get(&zp_connection_pools, c->listening->pool_size, c->log);
    if (c->pool == NULL) {
        zp_close_connection(c);
        return;
    }

    c->data = zp_pcalloc(c->pool, sizeof(zp_http_v1_ctx_t));
    if (c->data == NULL) {
        zp_close_connection(c);
        return;
    }

    rev->handler = zp_http_v1_read_handler;
    zp_http_v1_read_handler(rev);
}


static void
zp_http_v1_empty_handler(zp_event_t *ev)
{
    (void) ev;
}


/* Reads what is there into the connection's buffer; -1: close. */
static ssize_t
zp_http_v1_recv(zp_connection_t *c, zp_buf_t *b)
{
    ssize_t n;

    if (b->last == b->end) {
        return 0;
    }

    n = c->recv(c, b->last, b->end - b->last);

    if (n > 0) {
        b->last += n;
        return n;
    }

    return n == ZP_AGAIN ? 0 : -1;
}


static void
zp_http_v1_close(zp_connection_t *c)
{
    zp_http_v1_ctx_t *ctx = c->data;

    if (ctx && ctx->r) {
        zp_pool_cache_put(&zp_http_v1_request_pools, ctx->r->pool);
        ctx->r = NULL;
    }
    zp_close_connection(c);
}


static void
zp_http_v1_read_handler(zp_event_t *rev)
{
    ssize_t                  n;
    zp_buf_t                *b;
    zp_connection_t         *c   = rev->data;
    zp_http_v1_ctx_t        *ctx = c->data;
    zp_http_core_srv_conf_t *cscf;

    if (rev->timedout || c->close) {
        if (rev->timedout && ctx->r) {
            zp_log_error(ZP_LOG_INFO, c->log, ETIMEDOUT, "client timed out sending the request");
        }
        zp_http_v1_close(c);
        return;
    }

    cscf = zp_http_v1_default_server(c);

    if (zp_http_v1_buf_attach(c, cscf->client_header_buffer_size) != ZP_OK) {
        zp_close_connection(c);
        return;
    }

    b = c->buffer;

    if (ctx->r == NULL && b->pos != b->start) {
        /* between requests: make room, nothing points into the buffer */
        b->last = zp_movemem(b->start, b->pos, b->last - b->pos);
        b->pos  = b->start;
    }

    n = zp_http_v1_recv(c, b);

    if (n == -1) {
        /* the client closed: normal between requests */
        zp_http_v1_close(c);
        return;
    }

    if (b->pos == b->last) {
        if (c->reusable && ctx->r == NULL) {
            /* woken without a byte: idle again, and as light */
            zp_http_v1_buf_release(c);
            zp_http_v1_set_idle(c);
        }
        return;
    }

    if (!c->reusable) {
        zp_http_v1_parse_head(c);
        return;
    }

    /*
     * The first bytes of a request: from now on its head must arrive
     * within client_header_timeout, however slowly it trickles in. Most
     * heads come whole in this read, and then the timer would only be
     * set to be deleted: it is set after parsing, if the head is still
     * incomplete (the handler is still this one, on a live connection).
     */
    zp_reusable_connection(c, 0);
    zp_http_v1_parse_head(c);

    if (c->fd != -1 && rev->handler == zp_http_v1_read_handler) {
        zp_event_add_timer(rev, cscf->client_header_timeout);
        zp_tcp_push_ack(c);
    }
}


static zp_http_request_t *
zp_http_v1_create_request(zp_connection_t *c)
{
    zp_pool_t               *pool;
    zp_http_request_t       *r;
    zp_http_core_srv_conf_t *cscf = zp_http_v1_default_server(c);

    pool = zp_pool_cache_get(&zp_http_v1_request_pools, ZP_HTTP_V1_POOL_SIZE, c->log);
    if (pool == NULL) {
        return NULL;
    }

    r = zp_pcalloc(pool, sizeof(zp_http_request_t));
    if (r == NULL
        || zp_list_init(&r->headers_in.headers, pool, 16, sizeof(zp_table_elt_t)) != ZP_OK
        || zp_list_init(&r->headers_out.headers, pool, 8, sizeof(zp_table_elt_t)) != ZP_OK) {
        zp_pool_cache_put(&zp_http_v1_request_pools, pool);
        return NULL;
    }

    r->pool        = pool;
    r->connection  = c;
    r->proto       = &zp_http_v1_proto;
    r->proto_ctx   = c->data;
    r->main_conf   = cscf->ctx->main_conf;
    r->srv_conf    = cscf->ctx->srv_conf;
    r->rte_conf    = cscf->ctx->rte_conf;
    r->start_msec  = zp_current_msec;
    r->start_sec   = zp_time();
    r->http_version = ZP_HTTP_VERSION_11;

    r->headers_in.content_length_n  = -1;
    r->headers_out.content_length_n = -1;

    c->requests++;
    return r;
}


/*
 * A target with raw SP (p->space_in_uri) goes on with each SP as %20, the
 * form every next hop reads the same way; $request_uri and $args show it
 * so. The path for routing is still read from the raw bytes (a SP there
 * is what %20 decodes to).
 */
static zp_int_t
zp_http_v1_escape_spaces(zp_http_request_t *r)
{
    u_char *p, *src, *last, *q;
    size_t  n;

    src  = r->unparsed_uri.data;
    last = src + r->unparsed_uri.len;

    for (n = 0, p = src; p < last; p++) {
        n += *p == ' ';
    }

    q = zp_pnalloc(r->pool, r->unparsed_uri.len + 2 * n);
    if (q == NULL) {
        return ZP_ERROR;
    }

    r->unparsed_uri.data = q;
    r->unparsed_uri.len += 2 * n;

    for (p = src; p < last; p++) {
        if (*p == ' ') {
            q = zp_cpymem(q, "%20", 3);
        } else {
            *q++ = *p;
        }
    }

    if (r->args.data) {
        p            = memchr(r->unparsed_uri.data, '?', r->unparsed_uri.len);
        r->args.data = p + 1;
        r->args.len  = r->unparsed_uri.data + r->unparsed_uri.len - (p + 1);
    }

    return ZP_OK;
}


/* The request line's parts into the request. */
static zp_int_t
zp_http_v1_process_request_line(zp_http_request_t *r, zp_http_parse_t *p)
{
    r->method               = p->method;
    r->method_name.data     = p->request_start;
    r->method_name.len      = p->method_end - p->request_start;
    r->request_line.data    = p->request_start;
    r->request_line.len     = p->request_end - p->request_start;
    r->unparsed_uri.data    = p->uri_start;
    r->unparsed_uri.len     = p->uri_end - p->uri_start;
    r->http_protocol.data   = p->request_end - 8;
    r->http_protocol.len    = 8;
    /* HTTP/1.2 and later 1.x speak 1.1 to us (RFC 9110 2.5) */
    r->http_version         = p->http_minor >= 1 ? ZP_HTTP_VERSION_11 : ZP_HTTP_VERSION_10;

    if (p->args_start) {
        r->args.data = p->args_start;
        r->args.len  = p->uri_end - p->args_start;
    }

    if (p->http_major == 0) {
        /* HTTP/0.9 (zp_http_v1_parse_head took it): "GET /x" has no
         * protocol to show, "GET /x HTTP/0.9" has */
        r->http_version = ZP_HTTP_VERSION_9;
        if (p->no_version) {
            r->http_protocol.len = 0;
        }
    }

    if (p->empty_uri) {
        /* "GET HTTP/1.1": an empty path is "/" (RFC 9112 3.2.1) */
        r->unparsed_uri.data = (u_char *) "/";
        r->unparsed_uri.len  = 1;
    }

    if (p->space_in_uri) {
        return zp_http_v1_escape_spaces(r);
    }

    return ZP_OK;
}


/* The path for routing: decoded and normalized when it needs it, the
 * target as sent otherwise (the original goes upstream either way). */
static zp_int_t
zp_http_v1_process_uri(zp_http_request_t *r, zp_http_parse_t *p)
{
    u_char                  *start, *end;
    size_t                   len;
    zp_http_core_srv_conf_t *cscf = zp_http_v1_default_server(r->connection);

    start = p->uri_start;
    end   = p->args_start ? p->args_start - 1 : p->uri_end;

    if (p->asterisk_uri) {
        r->uri.data = start;
        r->uri.len  = 1;
        return ZP_OK;
    }

    if (p->absolute_uri) {
        /* RFC 9112 3.2.2: the target's authority wins over Host */
        zp_str_t host;

        host.data = p->host_start;
        host.len  = (p->port_end ? p->port_end : p->host_end) - p->host_start;
        if (host.len && zp_http_validate_host(r, &host) != ZP_OK) {
            zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "client sent invalid host in "
                         "the request target");
            return ZP_HTTP_BAD_REQUEST;
        }
    }

    if (p->path_start == NULL) {
        /* CONNECT's authority-form, or no target at all: nothing to
         * route by */
        r->uri.data = (u_char *) "/";
        r->uri.len  = 1;
        return ZP_OK;
    }

    start = p->path_start;
    if (start >= end) {
        r->uri.data = (u_char *) "/";
        r->uri.len  = 1;
        return ZP_OK;
    }

    if (!p->complex_uri && !(cscf->merge_slashes && memmem(start, end - start, "//", 2))) {
        r->uri.data = start;
        r->uri.len  = end - start;
        return ZP_OK;
    }

    r->uri.data = zp_pnalloc(r->pool, end - start);
    if (r->uri.data == NULL) {
        return ZP_ERROR;
    }

    if (zp_http_normalize_uri(start, end - start, r->uri.data, &len, cscf->merge_slashes)
        != ZP_OK) {
        zp_log_error(ZP_LOG_INFO, r->connection->log, 0, "client sent invalid request target");
        return ZP_HTTP_BAD_REQUEST;
    }

    r->uri.len = len;
    return ZP_OK;
}


/*
 * A field line the parser flagged (zp_http_parse.h). A name with a byte
 * outside tchar is dropped, as nginx's ignore_invalid_headers does, or
 * refused with the directive off; a CTL in a value is kept (RFC 9110 5.5).
 * Either is refused when the field could be one the core acts on
 * ("Transfer-Encoding ", "Host: a\x01"): a next hop may read it as that
 * field. Returns ZP_OK (keep it), ZP_DECLINED (drop it) or ZP_ERROR (400).
 */
static zp_int_t
zp_http_v1_flagged_field(zp_connection_t *c, zp_http_core_srv_conf_t *cscf, zp_int_t rc,
                         zp_http_parse_t *p)
{
    u_char      buf[256];
    zp_str_t    name;
    const char *what;

    name.data = buf;
    name.len  = zp_escape_text(buf, buf + sizeof(buf), p->header_name_start,
                              p->header_name_end - p->header_name_start)
               - buf;

    if (zp_http_field_acted_on(p->header_name_start, p->header_name_end - p->header_name_start)) {
        what = rc == ZP_HTTP_PARSE_CTL_VALUE ? "a control character in the value of header"
                                             : "invalid header name";
        zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent %s \"%V\"", what, &name);
        return ZP_ERROR;
    }

    if (rc == ZP_HTTP_PARSE_CTL_VALUE) {
        return ZP_OK;
    }

    zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid header name \"%V\"%s", &name,
                 cscf->ignore_invalid_headers ? ", ignored" : "");

    return cscf->ignore_invalid_headers ? ZP_DECLINED : ZP_ERROR;
}


static void
zp_http_v1_parse_head(zp_connection_t *c)
{
    u_char            *lowcase;
    size_t             i;
    zp_int_t           rc;
    zp_str_t           name, value;
    zp_buf_t          *b   = c->buffer;
    zp_http_v1_ctx_t  *ctx = c->data;
    zp_http_parse_t   *p   = &ctx->parse;
    zp_http_request_t *r;
    zp_http_core_srv_conf_t *cscf = zp_http_v1_default_server(c);

    if (ctx->r == NULL) {
        ctx->r = zp_http_v1_create_request(c);
        if (ctx->r == NULL) {
            zp_close_connection(c);
            return;
        }
        zp_memzero(p, sizeof(zp_http_parse_t));
        ctx->line_done = 0;
    }

    r = ctx->r;

    if (!ctx->line_done) {
        rc = zp_http_parse_request_line(p, b);

        if (rc == ZP_AGAIN) {
            if (b->last == b->end) {
                zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent too long URI");
                zp_http_v1_head_error(c, ZP_HTTP_REQUEST_URI_TOO_LARGE);
            }
            return;
        }

        if (rc == ZP_HTTP_PARSE_HTTP09 && (!cscf->http09 || p->method != ZP_HTTP_GET)) {
            /* answered as HTTP/1.x: 0.9 has GET only; with http09 off, a
             * line without version is malformed and "HTTP/0.9" a version
             * this server does not speak */
            zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent HTTP/0.9 request%s",
                         cscf->http09 ? " with a method other than GET" : ", http09 is off");
            zp_http_v1_head_error(c, !cscf->http09 && !p->no_version
                                         ? ZP_HTTP_VERSION_NOT_SUPPORTED
                                         : ZP_HTTP_BAD_REQUEST);
            return;
        }

        if (rc != ZP_OK && rc != ZP_HTTP_PARSE_HTTP09) {
            zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid request line");
            zp_http_v1_head_error(c, rc == ZP_HTTP_PARSE_INVALID_VERSION
                                         ? ZP_HTTP_VERSION_NOT_SUPPORTED
                                         : ZP_HTTP_BAD_REQUEST);
            return;
        }

        if (zp_http_v1_process_request_line(r, p) != ZP_OK) {
            zp_http_v1_close(c);
            return;
        }

        ctx->line_done = 1;

        if (rc == ZP_HTTP_PARSE_HTTP09) {
            /* an HTTP/0.9 request is its line: nothing after it is read
             * as headers or as another request, the connection closes
             * after the answer */
            goto head_done;
        }
    }

    for (;;) {
        rc = zp_http_parse_header_line(p, b);

        if (rc == ZP_HTTP_PARSE_INVALID_NAME || rc == ZP_HTTP_PARSE_CTL_VALUE) {
            rc = zp_http_v1_flagged_field(c, cscf, rc, p);

            if (rc == ZP_DECLINED) {
                continue; /* dropped */
            }

            if (rc != ZP_OK) {
                zp_http_v1_head_error(c, ZP_HTTP_BAD_REQUEST);
                return;
            }
        }

        if (rc == ZP_OK) {
            name.data  = p->header_name_start;
            name.len   = p->header_name_end - p->header_name_start;
            value.data = p->header_start;
            value.len  = p->header_end - p->header_start;

            if (!cscf->underscores_in_headers && memchr(name.data, '_', name.len)) {
                /* as nginx: "X_Forwarded_For" is dropped, so no hop
                 * behind us can read it as X-Forwarded-For */
                zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid header line: \"%V\"",
                             &name);
                continue;
            }

            lowcase = zp_pnalloc(r->pool, name.len);
            if (lowcase == NULL) {
                zp_http_v1_close(c);
                return;
            }
            for (i = 0; i < name.len; i++) {
                lowcase[i] = zp_tolower(name.data[i]);
            }

            rc = zp_http_add_header_in(r, &name, lowcase, p->header_hash, &value);
            if (rc != ZP_OK) {
                zp_http_v1_head_error(c, (zp_uint_t) rc);
                return;
            }
            continue;
        }

        if (rc == ZP_HTTP_PARSE_HEADER_DONE) {
            break;
        }

        if (rc == ZP_AGAIN) {
            if (b->last == b->end) {
                zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent too large request head");
                zp_http_v1_head_error(c, ZP_HTTP_HEADER_TOO_LARGE);
            }
            return;
        }

        zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid header line");
        zp_http_v1_head_error(c, ZP_HTTP_BAD_REQUEST);
        return;
    }

head_done:

    /* the whole head is in */

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    c->read->handler   = zp_http_v1_request_read;
    c->write->handler  = zp_http_v1_writer;
    r->request_length  = b->pos - p->request_start;
    ctx->head_end      = b->pos;

    rc = zp_http_v1_process_uri(r, p);
    if (rc == ZP_OK) {
        rc = zp_http_process_request_headers(r);
    }

    if (rc != ZP_OK) {
        zp_http_v1_head_error(c, rc == ZP_ERROR ? ZP_HTTP_INTERNAL_SERVER_ERROR : (zp_uint_t) rc);
        return;
    }

    ctx->chunked_body    = r->headers_in.chunked;
    ctx->body_rest       = r->headers_in.chunked ? 0 : r->headers_in.content_length_n;
    ctx->body_seen       = 0;
    ctx->continue_sent   = 0;
    ctx->body_ack_pushed = 0;
    zp_memzero(&ctx->chunked, sizeof(zp_http_chunked_t));

    zp_http_process_request(r);
}


/* A head that cannot be read to its end: answer and close. */
static void
zp_http_v1_head_error(zp_connection_t *c, zp_uint_t status)
{
    zp_http_v1_ctx_t *ctx = c->data;
    zp_buf_t         *b   = c->buffer;

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    c->read->handler = zp_http_v1_empty_handler;
    ctx->r->keepalive = 0;
    ctx->body_rest    = 0;
    ctx->chunked_body = 0;
    b->pos            = b->last;

    zp_http_finalize_request(ctx->r, (zp_int_t) status);
}


static zp_int_t
zp_http_v1_send_header(zp_http_request_t *r)
{
    u_char                  *p;
    size_t                   len, slen;
    zp_buf_t                *b;
    zp_chain_t              *cl;
    const char              *sline;
    zp_list_iter_t           it = {NULL, 0};
    zp_table_elt_t          *h;
    zp_connection_t         *c   = r->connection;
    zp_http_v1_ctx_t        *ctx = c->data;
    zp_http_core_rte_conf_t *rcf;
    zp_http_headers_out_t   *hout = &r->headers_out;

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);

    ctx->send_timeout      = rcf->send_timeout;
    ctx->keepalive_timeout = rcf->keepalive_timeout;
    ctx->body_timeout      = rcf->client_body_timeout;
    ctx->body_max          = rcf->client_max_body_size;

    /* a draining worker says so on the next response and closes after */
    if (r->keepalive
        && (zp_exiting || c->requests >= rcf->keepalive_requests || c->close
            || (r->headers_in.expect_continue && !ctx->continue_sent
                && c->buffer->pos == c->buffer->last && (ctx->body_rest || ctx->chunked_body)))) {
        r->keepalive = 0;
    }

    ctx->chunked_out = 0;

    if (r->http_version == ZP_HTTP_VERSION_9) {
        /* HTTP/0.9 has no status line and no headers: the body alone,
         * ended by the close */
        r->keepalive = 0;
        return ZP_OK;
    }

    /* a body of unknown length: chunked on 1.1, close-delimited on 1.0 */
    if (hout->content_length_n < 0 && !r->header_only && hout->status >= 200
        && hout->status != 204 && hout->status != 304) {
        if (r->http_version >= ZP_HTTP_VERSION_11) {
            ctx->chunked_out = 1;
        } else {
            r->keepalive = 0;
        }
    }

    sline = zp_http_status_line(hout->status, &slen);

    len = sizeof("HTTP/1.1 ") - 1 + (sline ? slen : ZP_INT_T_LEN + 1) + 2
          + sizeof("Server: zproxy\r\n") - 1 + sizeof("Date: \r\n") - 1 + zp_cached_http_time.len
          + sizeof("Content-Type: \r\n") - 1 + hout->content_type.len
          + sizeof("Content-Length: \r\n") - 1 + ZP_OFF_T_LEN
          + sizeof("Transfer-Encoding: chunked\r\n") - 1
          + sizeof("Connection: keep-alive\r\n") - 1 + 2;

    while ((h = zp_list_next(&hout->headers, &it))) {
        if (h->hash) {
            len += h->key.len + 2 + h->value.len + 2;
        }
    }

    b = zp_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return ZP_ERROR;
    }

    p = b->last;

    /* copies rather than zp_sprintf(): this runs for every response */
    p = zp_cpymem(p, "HTTP/1.1 ", 9);
    if (sline) {
        p = zp_cpymem(p, sline, slen);
    } else {
        p = zp_sprintf(p, "%ui ", hout->status);
    }

    p = zp_cpymem(p, "\r\nServer: zproxy\r\nDate: ", 24);
    p = zp_cpymem(p, zp_cached_http_time.data, zp_cached_http_time.len);
    *p++ = '\r';
    *p++ = '\n';

    if (hout->content_type.len) {
        p = zp_cpymem(p, "Content-Type: ", 14);
        p = zp_cpymem(p, hout->content_type.data, hout->content_type.len);
        *p++ = '\r';
        *p++ = '\n';
    }

    if (hout->content_length_n >= 0 && hout->status != 204 && hout->status != 304
        && hout->status >= 200) {
        p = zp_sprintf(p, "Content-Length: %O\r\n", hout->content_length_n);
    } else if (ctx->chunked_out) {
        p = zp_cpymem(p, "Transfer-Encoding: chunked\r\n", 28);
    }

    it.part = NULL;
    while ((h = zp_list_next(&hout->headers, &it))) {
        if (h->hash) {
            p    = zp_cpymem(p, h->key.data, h->key.len);
            *p++ = ':';
            *p++ = ' ';
            p    = zp_cpymem(p, h->value.data, h->value.len);
            *p++ = '\r';
            *p++ = '\n';
        }
    }

    p = r->keepalive ? zp_cpymem(p, "Connection: keep-alive\r\n\r\n", 26)
                     : zp_cpymem(p, "Connection: close\r\n\r\n", 21);

    b->last = p;

    cl = zp_http_v1_link(r, ctx);
    if (cl == NULL) {
        return ZP_ERROR;
    }
    cl->buf->pos = cl->buf->start = b->pos;
    cl->buf->last = cl->buf->end = b->last;

    /* written together with the first body bytes: one syscall for a small
     * response */
    ctx->out = cl;
    return ZP_OK;
}


/* An output link with its buf and room for a chunk-size line: written
 * links go back to ctx->free, so a long streamed body costs a few links,
 * not a few per piece. */
typedef struct {
    zp_chain_t cl;
    zp_buf_t   b;
    u_char     size[20];
} zp_http_v1_link_t;


static zp_chain_t *
zp_http_v1_link(zp_http_request_t *r, zp_http_v1_ctx_t *ctx)
{
    zp_chain_t        *cl;
    zp_http_v1_link_t *l;

    if (ctx->free) {
        cl        = ctx->free;
        ctx->free = cl->next;
    } else {
        l = zp_palloc(r->pool, sizeof(zp_http_v1_link_t));
        if (l == NULL) {
            return NULL;
        }
        cl      = &l->cl;
        cl->buf = &l->b;
    }

    zp_memzero(cl->buf, sizeof(zp_buf_t));
    cl->buf->memory = 1;
    cl->next        = NULL;
    return cl;
}


/* Appends a link for data (a chunk-size line when data is NULL); the
 * link, or NULL when out of memory. */
static zp_chain_t *
zp_http_v1_append(zp_http_request_t *r, zp_chain_t ***last, u_char *data, size_t len)
{
    zp_chain_t *cl;

    cl = zp_http_v1_link(r, r->connection->data);
    if (cl == NULL) {
        return NULL;
    }

    if (data == NULL) {
        /* a chunk-size line, written into the link itself */
        data = ((zp_http_v1_link_t *) cl)->size;
        len  = zp_sprintf(data, "%xz\r\n", len) - data;
    }

    cl->buf->pos = cl->buf->start = data;
    cl->buf->last = cl->buf->end = data + len;
    **last = cl;
    *last  = &cl->next;
    return cl;
}


static zp_int_t
zp_http_v1_send_body(zp_http_request_t *r, zp_chain_t *in)
{
    zp_chain_t       **last, *cl, *link;
    zp_http_v1_ctx_t  *ctx = r->connection->data;
    zp_uint_t          last_buf = 0;

    for (last = &ctx->out; *last; last = &(*last)->next) { /* void */ }

    for (cl = in; cl; cl = cl->next) {
        size_t n = cl->buf->in_pipe ? (size_t) (cl->buf->file_last - cl->buf->file_pos)
                                    : (size_t) (cl->buf->last - cl->buf->pos);

        if (cl->buf->last_buf) {
            last_buf = 1;
        }

        if (n == 0) {
            continue;
        }

        if (ctx->chunked_out && zp_http_v1_append(r, &last, NULL, n) == NULL) {
            return ZP_ERROR;
        }

        if (cl->buf->in_pipe) {
            link = zp_http_v1_append(r, &last, (u_char *) "", 0);
            if (link == NULL) {
                return ZP_ERROR;
            }
            link->buf->memory    = 0;
            link->buf->in_pipe   = 1;
            link->buf->pipe      = cl->buf->pipe;
            link->buf->file_last = (off_t) n;
            cl->buf->file_pos    = cl->buf->file_last;

        } else {
            if (zp_http_v1_append(r, &last, cl->buf->pos, n) == NULL) {
                return ZP_ERROR;
            }
            cl->buf->pos = cl->buf->last;
        }

        if (ctx->chunked_out && zp_http_v1_append(r, &last, (u_char *) CRLF, 2) == NULL) {
            return ZP_ERROR;
        }
    }

    if (last_buf && ctx->chunked_out
        && zp_http_v1_append(r, &last, (u_char *) "0\r\n\r\n", 5) == NULL) {
        return ZP_ERROR;
    }

    if (last_buf && !r->keepalive) {
        r->connection->fin_follows = 1;
    }

    if (!last_buf && ctx->out && !r->connection->tcp_nodelay) {
        /* the response goes out in more than one write: without
         * TCP_NODELAY, Nagle would hold its last segment until the client
         * ACKs the one before, and clients delay ACKs by up to 40 ms */
        zp_tcp_nodelay(r->connection);
    }

    return zp_http_v1_flush(r->connection);
}


/*
 * Moves a pipe's bytes to the socket: the pages go from the pipe into
 * the socket's queue, no copy through user space (the proxy fills the
 * pipe from the upstream socket the same way). Bytes written, ZP_AGAIN
 * or ZP_ERROR, as c->writev.
 */
static ssize_t
zp_http_v1_splice(zp_connection_t *c, zp_buf_t *b)
{
    ssize_t  n;
    unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

    if (c->fin_follows) {
        flags |= SPLICE_F_MORE; /* as MSG_MORE in zp_unix_writev() */
    }

    for (;;) {
        n = splice(b->pipe, NULL, c->fd, NULL, (size_t) (b->file_last - b->file_pos), flags);

        if (n > 0) {
            return n;
        }

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->write->ready = 0;
            return ZP_AGAIN;
        }

        c->write->error = 1;
        if (n == -1 && errno != EPIPE && errno != ECONNRESET) {
            zp_log_error(ZP_LOG_INFO, c->log, errno, "splice() to the client failed");
        }
        return ZP_ERROR;
    }
}


/* Writes ctx->out with writev (and splice for in_pipe links); ZP_OK when
 * all is out, ZP_AGAIN when the socket is full (the writer continues),
 * ZP_ERROR. */
static zp_int_t
zp_http_v1_flush(zp_connection_t *c)
{
    int               n;
    ssize_t           sent;
    zp_uint_t         piped;
    zp_chain_t       *cl;
    struct iovec      iov[ZP_HTTP_V1_IOVS];
    zp_http_v1_ctx_t *ctx = c->data;

    while (ctx->out) {
        n = 0;
        for (cl = ctx->out; cl && n < ZP_HTTP_V1_IOVS; cl = cl->next) {
            if (cl->buf->in_pipe) {
                break;
            }
            if (cl->buf->last == cl->buf->pos) {
                continue;
            }
            iov[n].iov_base = cl->buf->pos;
            iov[n].iov_len  = cl->buf->last - cl->buf->pos;
            n++;
        }

        if (n == 0 && cl == NULL) {
            ctx->out = NULL;
            break;
        }

        /* memory first; a pipe's bytes when they are next in line */
        piped = (n == 0);
        sent  = piped ? zp_http_v1_splice(c, cl->buf) : c->writev(c, iov, n);

        if (sent == ZP_AGAIN) {
            c->write->handler = zp_http_v1_writer;
            zp_event_add_timer(c->write, ctx->send_timeout);
            return ZP_AGAIN;
        }

        if (sent == ZP_ERROR) {
            c->error = 1;
            return ZP_ERROR;
        }

        c->sent += sent;

        /* written links go to the free list, a partly written one stays */
        while (ctx->out) {
            cl = ctx->out;

            if (cl->buf->in_pipe) {
                if (!piped) {
                    break; /* the writev stopped before it */
                }
                cl->buf->file_pos += sent;
                if (cl->buf->file_pos < cl->buf->file_last) {
                    break;
                }
                sent  = 0;
                piped = 0;

            } else {
                n = (int) zp_min((size_t) sent, (size_t) (cl->buf->last - cl->buf->pos));
                cl->buf->pos += n;
                sent -= n;

                if (cl->buf->pos < cl->buf->last) {
                    break;
                }
            }

            ctx->out  = cl->next;
            cl->next  = ctx->free;
            ctx->free = cl;
        }
    }

    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }

    return ZP_OK;
}


static void
zp_http_v1_writer(zp_event_t *wev)
{
    zp_int_t          rc;
    zp_connection_t  *c   = wev->data;
    zp_http_v1_ctx_t *ctx = c->data;

    if (wev->timedout) {
        zp_log_error(ZP_LOG_INFO, c->log, ETIMEDOUT, "client timed out reading the response");
        zp_http_v1_close(c);
        return;
    }

    rc = zp_http_v1_flush(c);

    if (rc == ZP_AGAIN) {
        return;
    }

    if (rc == ZP_ERROR) {
        zp_http_v1_close(c);
        return;
    }

    if (ctx->finalize_pending) {
        ctx->finalize_pending = 0;
        wev->handler = zp_http_v1_empty_handler;
        zp_http_v1_request_done(c);
        return;
    }

    /* all out: a streaming content handler may produce more */
    if (ctx->r && ctx->r->write_event_handler) {
        ctx->r->write_event_handler(ctx->r);
    }
}


/* While a request is live, the client's bytes are its body (or the next
 * pipelined request): the content handler reads them when it wants. */
static void
zp_http_v1_request_read(zp_event_t *rev)
{
    zp_connection_t  *c   = rev->data;
    zp_http_v1_ctx_t *ctx = c->data;

    if (c->close && c->error && ctx->r) {
        /* worker_shutdown_timeout: the request is cut short */
        zp_http_finalize_request(ctx->r, ZP_ERROR);
        return;
    }

    if (ctx->r && ctx->r->read_event_handler) {
        ctx->r->read_event_handler(ctx->r);
    }
}


static ssize_t
zp_http_v1_read_body(zp_http_request_t *r, u_char *buf, size_t size)
{
    off_t             n;
    ssize_t           got;
    zp_int_t          rc;
    zp_connection_t  *c   = r->connection;
    zp_http_v1_ctx_t *ctx = c->data;
    zp_buf_t         *b   = c->buffer;

    ctx->body_max = ((zp_http_core_rte_conf_t *) zp_http_get_module_rte_conf(
                         r, zp_http_core_module))->client_max_body_size;

    if (r->headers_in.expect_continue && !ctx->continue_sent && !r->header_sent
        && (ctx->body_rest || ctx->chunked_body)) {
        /* the handler wants the body: tell the client to send it; the
         * socket is empty at this point, so the line goes out whole */
        ctx->continue_sent = 1;
        if (c->send(c, (u_char *) "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25) {
            zp_log_error(ZP_LOG_INFO, c->log, errno, "send() of \"100 Continue\" failed");
            c->error = 1;
            return ZP_ERROR;
        }
    }

    for (;;) {
        if (!ctx->chunked_body && ctx->body_rest == 0) {
            return 0;
        }

        if (b->pos < b->last) {
            r->body_started = 1;

            if (!ctx->chunked_body) {
                n = zp_min(ctx->body_rest, zp_min((off_t) size, b->last - b->pos));
                zp_memcpy(buf, b->pos, n);
                b->pos += n;
                ctx->body_rest -= n;
                return (ssize_t) n;
            }

            rc = zp_http_parse_chunked(&ctx->chunked, b);

            if (rc == ZP_OK) {
                n = zp_min(ctx->chunked.size, zp_min((off_t) size, b->last - b->pos));
                if (n == 0) {
                    goto more;
                }
                zp_memcpy(buf, b->pos, n);
                b->pos += n;
                ctx->chunked.size -= n;
                ctx->body_seen += n;
                if (ctx->body_seen > ctx->body_max) {
                    zp_log_error(ZP_LOG_ERR, c->log, 0,
                                 "client sent too large chunked body: more than %O bytes",
                                 ctx->body_max);
                    r->status = ZP_HTTP_REQUEST_ENTITY_TOO_LARGE;
                    return ZP_ERROR;
                }
                return (ssize_t) n;
            }

            if (rc == ZP_DONE) {
                ctx->chunked_body = 0;
                return 0;
            }

            if (rc == ZP_ERROR) {
                zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid chunked body");
                r->status = ZP_HTTP_BAD_REQUEST;
                return ZP_ERROR;
            }
        }

    more:
        /* a Content-Length body goes straight into the caller's buffer:
         * it cannot overrun into the next request */
        if (!ctx->chunked_body && b->pos == b->last) {
            got = c->recv(c, buf, (size_t) zp_min((off_t) size, ctx->body_rest));
            if (got > 0) {
                r->body_started = 1;
                ctx->body_rest -= got;
                return got;
            }
        } else {
            /* chunked: framing is parsed in the buffer, after the head */
            if (b->pos == b->last) {
                b->pos = b->last = ctx->head_end;
            } else if (b->last == b->end && b->pos > ctx->head_end) {
                b->last = zp_movemem(ctx->head_end, b->pos, b->last - b->pos);
                b->pos  = ctx->head_end;
            }

            if (b->last == b->end) {
                zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent too long chunk header");
                r->status = ZP_HTTP_BAD_REQUEST;
                return ZP_ERROR;
            }

            got = c->recv(c, b->last, b->end - b->last);
            if (got > 0) {
                b->last += got;
                continue;
            }
        }

        if (got == 0) {
            zp_log_error(ZP_LOG_INFO, c->log, 0, "client closed the connection mid-body");
            c->error = 1;
            return ZP_ERROR;
        }

        if (got == ZP_AGAIN) {
            if (!ctx->body_ack_pushed) {
                ctx->body_ack_pushed = 1;
                zp_tcp_push_ack(c);
            }
            return ZP_AGAIN;
        }

        c->error = 1;
        return ZP_ERROR;
    }
}


static zp_int_t
zp_http_v1_discard_body(zp_http_request_t *r)
{
    /* bodies are dropped after the response, in zp_http_v1_request_done */
    (void) r;
    return ZP_OK;
}


static void
zp_http_v1_finalize(zp_http_request_t *r, zp_int_t rc)
{
    zp_connection_t  *c   = r->connection;
    zp_http_v1_ctx_t *ctx = c->data;

    ctx->keepalive = r->keepalive && rc != ZP_ERROR && !c->error;

    if (rc == ZP_ERROR || c->error) {
        zp_http_v1_close(c);
        return;
    }

    if (ctx->out) {
        /* the response still lives in the request's pool: the writer
         * calls zp_http_v1_request_done when all of it is out */
        ctx->finalize_pending = 1;
        return;
    }

    zp_http_v1_request_done(c);
}


/* Consumes the body bytes in the buffer; ZP_OK when the body is over,
 * ZP_AGAIN when more must be read, ZP_ERROR on a bad chunk or too much. */
static zp_int_t
zp_http_v1_skip_body(zp_connection_t *c)
{
    off_t             n;
    zp_int_t          rc;
    zp_buf_t         *b   = c->buffer;
    zp_http_v1_ctx_t *ctx = c->data;

    if (!ctx->chunked_body) {
        n = zp_min(ctx->body_rest, b->last - b->pos);
        b->pos += n;
        ctx->body_rest -= n;
        return ctx->body_rest ? ZP_AGAIN : ZP_OK;
    }

    for (;;) {
        rc = zp_http_parse_chunked(&ctx->chunked, b);

        if (rc == ZP_OK) {
            n = zp_min(ctx->chunked.size, b->last - b->pos);
            b->pos += n;
            ctx->chunked.size -= n;
            ctx->body_seen += n;
            if (ctx->body_seen > ctx->body_max) {
                zp_log_error(ZP_LOG_ERR, c->log, 0,
                             "client sent too large chunked body: more than %O bytes",
                             ctx->body_max);
                return ZP_ERROR;
            }
            if (b->pos == b->last) {
                return ZP_AGAIN;
            }
            continue;
        }

        if (rc == ZP_DONE) {
            ctx->chunked_body = 0;
            return ZP_OK;
        }

        if (rc == ZP_AGAIN) {
            return ZP_AGAIN;
        }

        zp_log_error(ZP_LOG_INFO, c->log, 0, "client sent invalid chunked body");
        return ZP_ERROR;
    }
}


/* The response is out: drop an unread body, then keep alive or close. */
static void
zp_http_v1_request_done(zp_connection_t *c)
{
    zp_int_t          rc;
    zp_http_v1_ctx_t *ctx = c->data;

    if (ctx->r) {
        zp_pool_cache_put(&zp_http_v1_request_pools, ctx->r->pool);
        ctx->r = NULL;
    }

    /* the links lived in the request's pool */
    ctx->free = NULL;
    ctx->out  = NULL;

    if (!ctx->keepalive) {
        /*
         * Linger only when more input may still come or is already here
         * (an unread body, pipelined bytes, a socket not drained): only
         * then could a close() turn into a reset that destroys the
         * response. After a whole request and nothing else, close now,
         * as nginx does: two syscalls and a wake-up less per connection.
         */
        if (ctx->body_rest || ctx->chunked_body || c->read->ready
            || (c->buffer && c->buffer->pos < c->buffer->last))
        {
            ctx->body_rest    = 0;
            ctx->chunked_body = 0;
            zp_http_v1_lingering_close(c);
            return;
        }

        zp_close_connection(c);
        return;
    }

    if (ctx->body_rest || ctx->chunked_body) {
        rc = zp_http_v1_skip_body(c);

        if (rc == ZP_ERROR) {
            zp_close_connection(c);
            return;
        }

        if (rc == ZP_AGAIN) {
            c->read->handler = zp_http_v1_discard_handler;
            zp_event_add_timer(c->read, ctx->body_timeout);
            if (c->read->ready) {
                zp_http_v1_discard_handler(c->read);
            }
            return;
        }
    }

    zp_http_v1_keepalive(c);
}


static void
zp_http_v1_discard_handler(zp_event_t *rev)
{
    ssize_t           n;
    zp_int_t          rc;
    zp_buf_t         *b;
    zp_connection_t  *c   = rev->data;

    if (rev->timedout || c->close) {
        zp_close_connection(c);
        return;
    }

    b = c->buffer;

    for (;;) {
        /* no request lives in the buffer now: reuse all of it */
        if (b->pos == b->last) {
            b->pos = b->last = b->start;
        } else if (b->last == b->end) {
            b->last = zp_movemem(b->start, b->pos, b->last - b->pos);
            b->pos  = b->start;
        }

        n = zp_http_v1_recv(c, b);
        if (n == -1) {
            zp_close_connection(c);
            return;
        }

        rc = zp_http_v1_skip_body(c);

        if (rc == ZP_ERROR) {
            zp_close_connection(c);
            return;
        }

        if (rc == ZP_OK) {
            if (rev->timer_set) {
                zp_event_del_timer(rev);
            }
            zp_http_v1_keepalive(c);
            return;
        }

        if (n == 0) {
            return; /* wait for more */
        }
    }
}


static void
zp_http_v1_keepalive(zp_connection_t *c)
{
    zp_buf_t         *b   = c->buffer;
    zp_http_v1_ctx_t *ctx = c->data;

    c->read->handler  = zp_http_v1_read_handler;
    c->write->handler = zp_http_v1_empty_handler;

    if (b->pos < b->last) {
        /* a pipelined request is already here; a posted event keeps the
         * stack flat however many of them the buffer holds */
        zp_post_event(c->read, &zp_posted_events);
        c->read->ready = 1;
        zp_event_add_timer(c->read, zp_http_v1_default_server(c)->client_header_timeout);
        return;
    }

    zp_http_v1_buf_release(c);

    if (!c->tcp_nodelay) {
        /* responses on a kept-alive connection must not wait for the
         * client's ACK of the previous one (Nagle) */
        zp_tcp_nodelay(c);
    }

    zp_reusable_connection(c, 1);
    zp_event_add_timer(c->read, ctx->keepalive_timeout);

    zp_http_v1_set_idle(c);

    if (c->read->ready) {
        c->read->handler(c->read);
    }
}


/*
 * Closing right after the last response could reset the connection while
 * the client still has data in flight (and a reset can destroy the
 * response in the client's buffers). So: shut down our side, read and
 * drop what still comes for a short while, then close.
 */
static void
zp_http_v1_lingering_close(zp_connection_t *c)
{
    /* TLS: close_notify must go before our side of TCP is shut */
    zp_ssl_shutdown(c);

    if (shutdown(c->fd, SHUT_WR) == -1) {
        zp_close_connection(c);
        return;
    }

    c->read->handler  = zp_http_v1_lingering_handler;
    c->write->handler = zp_http_v1_empty_handler;
    c->idle_since     = zp_current_msec;
    zp_event_add_timer(c->read, ZP_HTTP_LINGERING_TIME);

    zp_http_v1_lingering_handler(c->read);
}


static void
zp_http_v1_lingering_handler(zp_event_t *rev)
{
    ssize_t          n;
    u_char           buf[4096];
    zp_connection_t *c = rev->data;

    if (rev->timedout || zp_current_msec - c->idle_since >= ZP_HTTP_LINGERING_TIME) {
        zp_close_connection(c);
        return;
    }

    for (;;) {
        n = c->recv(c, buf, sizeof(buf));
        if (n == ZP_AGAIN) {
            return;
        }
        if (n <= 0) {
            zp_close_connection(c);
            return;
        }
    }
}
