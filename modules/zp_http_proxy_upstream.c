/*
 * zp_http_proxy_upstream.c: one proxied request, from the handler to the
 * end: the per-worker keep-alive pools, connecting, sending the head and
 * body, reading the response head and streaming its body, retries
 * (proxy_next_upstream) and finalizing. See zp_http_proxy_module.c for
 * the flow.
 */
#include <zp_http_proxy.h>

/* per-worker caches of the buffers above and of the response head's
 * (proxy_buffer_size): no malloc per proxied request */
static zp_mem_cache_t zp_http_proxy_body_bufs;
static zp_mem_cache_t zp_http_proxy_resp_bufs;
static zp_mem_cache_t zp_http_proxy_head_bufs;

static void zp_http_proxy_splice_body(zp_http_proxy_ctx_t *u);
static void zp_http_proxy_pipe_release(zp_http_proxy_ctx_t *u);


/* ---- logging ---------------------------------------------------------------- */

static u_char *
zp_http_proxy_log_handler(zp_log_t *log, u_char *buf, size_t len)
{
    u_char              *p = buf, *last = buf + len;
    zp_log_t             clog;
    zp_http_proxy_ctx_t *u = log->data;
    zp_http_request_t   *r = u->r;

    if (u->action) {
        p = zp_slprintf(p, last, " while %s", u->action);
    }

    clog      = *r->connection->log;
    clog.data = r->connection;
    p         = zp_http_log_error(&clog, p, last - p);

    if (u->peer) {
        p = zp_slprintf(p, last, ", upstream: \"%s://%V%V\"", u->conf->https ? "https" : "http",
                        &u->peer->name, &r->unparsed_uri);
    } else {
        p = zp_slprintf(p, last, ", upstream: \"%V\"", &u->us->group.name);
    }
    return p;
}


/* ---- keep-alive pool ---------------------------------------------------------- */

static void
zp_http_proxy_empty_handler(zp_event_t *ev)
{
    (void) ev;
}


static void
zp_http_proxy_cache_drop(zp_http_proxy_cached_t *item)
{
    zp_queue_remove(&item->queue);
    zp_queue_insert_head(&item->us->free, &item->queue);
    zp_close_connection(item->connection);
    item->connection = NULL;
}


/* An idle pooled connection: anything but "nothing to read" ends it. */
static void
zp_http_proxy_idle_handler(zp_event_t *ev)
{
    char                    ch;
    ssize_t                 n;
    zp_connection_t        *c    = ev->data;
    zp_http_proxy_cached_t *item = c->data;

    if (!ev->timedout && !c->close) {
        n = recv(c->fd, &ch, 1, MSG_PEEK);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev->ready = 0;
            return;
        }
    }

    zp_http_proxy_cache_drop(item);
}


static zp_connection_t *
zp_http_proxy_cache_get(zp_http_proxy_upstream_t *us, zp_http_upstream_peer_t *peer, void *ssl)
{
    zp_queue_t             *q;
    zp_connection_t        *c;
    zp_http_proxy_cached_t *item;

    for (q = zp_queue_head(&us->cache); q != zp_queue_sentinel(&us->cache); q = zp_queue_next(q)) {
        item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
        /* a TLS connection serves only the settings it was made with */
        if (item->peer != peer || item->ssl != ssl) {
            continue;
        }

        c = item->connection;
        zp_queue_remove(&item->queue);
        zp_queue_insert_head(&us->free, &item->queue);
        item->connection = NULL;

        zp_reusable_connection(c, 0);
        if (c->read->timer_set) {
            zp_event_del_timer(c->read);
        }
        c->read->cancelable = 0;
        return c;
    }

    return NULL;
}


/* Keeps pc for the next request to the same peer; closes the oldest idle
 * one when the pool is full. */
static void
zp_http_proxy_cache_put(zp_http_proxy_ctx_t *u)
{
    zp_queue_t               *q;
    zp_connection_t          *c  = u->pc;
    zp_http_proxy_upstream_t *us = u->us;
    zp_http_proxy_cached_t   *item;

    u->pc = NULL;

    if (zp_queue_empty(&us->free)) {
        q    = zp_queue_last(&us->cache);
        item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
        zp_http_proxy_cache_drop(item);
    }

    q    = zp_queue_head(&us->free);
    item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
    zp_queue_remove(q);
    zp_queue_insert_head(&us->cache, q);

    item->connection = c;
    item->peer       = u->peer;
    item->ssl        = zp_http_proxy_ssl_key(u);

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }
    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }

    c->data           = item;
    c->log            = zp_cycle->log;
    c->read->log      = c->log;
    c->write->log     = c->log;
    c->read->handler  = zp_http_proxy_idle_handler;
    c->write->handler = zp_http_proxy_empty_handler;
    c->read->cancelable = 1;
    zp_event_add_timer(c->read, us->keepalive_timeout);
    /* a draining worker or a worker out of connections closes it */
    zp_reusable_connection(c, 1);

    if (c->read->ready) {
        zp_http_proxy_idle_handler(c->read);
    }
}


/* ---- request ------------------------------------------------------------------ */

static zp_uint_t
zp_http_proxy_list_has(zp_str_t *value, u_char *token, size_t len)
{
    u_char *p = value->data, *last = p + value->len, *start, *end;

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
        if ((size_t) (end - start) == len && zp_strncasecmp(start, token, len) == 0) {
            return 1;
        }
    }
    return 0;
}


static zp_uint_t
zp_http_proxy_name_is(zp_str_t *lowcase, const char *name)
{
    size_t len = strlen(name);

    return lowcase->len == len && zp_strncmp(lowcase->data, name, len) == 0;
}


/* Hop-by-hop (RFC 9110 7.6.1) and the headers this proxy sets itself. */
static zp_uint_t
zp_http_proxy_skip_in(zp_http_request_t *r, zp_str_t *lc)
{
    static const char *skip[] = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                 "transfer-encoding", "upgrade", "content-length", "expect",
                                 "host", "x-forwarded-for", "x-forwarded-proto",
                                 "x-forwarded-host", "x-request-id"};
    zp_uint_t       i;
    zp_table_elt_t *h;

    for (i = 0; i < zp_nelems(skip); i++) {
        if (zp_http_proxy_name_is(lc, skip[i])) {
            return 1;
        }
    }

    for (h = r->headers_in.connection; h; h = h->next) {
        if (zp_http_proxy_list_has(&h->value, lc->data, lc->len)) {
            return 1;
        }
    }
    return 0;
}


typedef struct {
    zp_str_t name;
    zp_str_t value;
} zp_http_proxy_pair_t;


static zp_int_t
zp_http_proxy_pair(zp_array_t *a, zp_http_proxy_rte_conf_t *conf, const char *lcname,
                   const char *name, zp_str_t *value)
{
    zp_uint_t               i;
    zp_str_t                lc;
    zp_http_proxy_pair_t   *pr;
    zp_http_proxy_header_t *sh;

    /* a proxy_set_header of the same name replaces (or removes) it */
    if (conf->set_headers) {
        lc.data = (u_char *) lcname;
        lc.len  = strlen(lcname);
        sh      = conf->set_headers->elts;
        for (i = 0; i < conf->set_headers->nelts; i++) {
            if (sh[i].key.len == lc.len && zp_strncmp(sh[i].key.data, lc.data, lc.len) == 0) {
                return ZP_OK;
            }
        }
    }

    pr = zp_array_push(a);
    if (pr == NULL) {
        return ZP_ERROR;
    }
    pr->name.data = (u_char *) name;
    pr->name.len  = strlen(name);
    pr->value     = *value;
    return ZP_OK;
}


/*
 * The decoded path as a request-target again: a byte that would end the
 * target or change what it means (CTLs, SP, DEL, '#', '%', '?', bytes >=
 * 0x80) as %XX, as nginx's ngx_escape_uri() does. Without it a "%0d%0a"
 * or a SP the client sent would split the upstream's request line.
 */
static u_char *
zp_http_proxy_escape_path(u_char *dst, u_char *src, size_t len)
{
    static const u_char hex[] = "0123456789ABCDEF";
    u_char              ch;

    while (len--) {
        ch = *src++;

        if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '%' || ch == '?') {
            *dst++ = '%';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 0xf];
        } else {
            *dst++ = ch;
        }
    }

    return dst;
}


static zp_int_t
zp_http_proxy_target(zp_http_proxy_ctx_t *u, zp_str_t *target)
{
    u_char                   *p;
    zp_http_request_t        *r    = u->r;
    zp_http_proxy_rte_conf_t *conf = u->conf;
    zp_str_t                 *pre  = &conf->prefix;

    if (conf->uri.len == 0) {
        *target = r->unparsed_uri;
        return ZP_OK;
    }

    if (r->unparsed_uri.len >= pre->len
        && zp_strncmp(r->unparsed_uri.data, pre->data, pre->len) == 0) {
        target->len  = conf->uri.len + r->unparsed_uri.len - pre->len;
        target->data = zp_pnalloc(r->pool, target->len);
        if (target->data == NULL) {
            return ZP_ERROR;
        }
        p = zp_cpymem(target->data, conf->uri.data, conf->uri.len);
        zp_memcpy(p, r->unparsed_uri.data + pre->len, r->unparsed_uri.len - pre->len);
        return ZP_OK;
    }

    /* the target was encoded: rebuild it from the normalized path,
     * encoded again */
    target->data = zp_pnalloc(r->pool, conf->uri.len + 3 * r->uri.len + 1 + r->args.len);
    if (target->data == NULL) {
        return ZP_ERROR;
    }
    p = zp_cpymem(target->data, conf->uri.data, conf->uri.len);
    if (r->uri.len >= pre->len) {
        p = zp_http_proxy_escape_path(p, r->uri.data + pre->len, r->uri.len - pre->len);
    }
    if (r->args.len) {
        *p++ = '?';
        p    = zp_cpymem(p, r->args.data, r->args.len);
    }
    target->len = p - target->data;
    return ZP_OK;
}


/* Serializes the request head into u->head. */
static zp_int_t
zp_http_proxy_create_request(zp_http_proxy_ctx_t *u)
{
    u_char                    *p, addr[ZP_SOCKADDR_STRLEN];
    size_t                     len, alen, i;
    zp_str_t                   target, lc, v, xff, id;
    zp_array_t                 pairs;
    zp_list_iter_t             it = {NULL, 0};
    zp_table_elt_t            *h;
    zp_http_request_t         *r    = u->r;
    zp_http_proxy_rte_conf_t  *conf = u->conf;
    zp_http_proxy_pair_t      *pr;
    zp_http_proxy_header_t    *sh;
    zp_http_variable_value_t  *vv;
    zp_http_proxy_main_conf_t *pmcf;
    zp_connection_t           *c = r->connection;

    pmcf = zp_http_get_module_main_conf(r, zp_http_proxy_module);

    if (zp_http_proxy_target(u, &target) != ZP_OK
        || zp_array_init(&pairs, r->pool, 16, sizeof(zp_http_proxy_pair_t)) != ZP_OK) {
        return ZP_ERROR;
    }

    /* Host: the upstream's name, as nginx's $proxy_host */
    if (zp_http_proxy_pair(&pairs, conf, "host", "Host", &conf->host) != ZP_OK) {
        return ZP_ERROR;
    }

    while ((h = zp_list_next(&r->headers_in.headers, &it))) {
        if (h->hash == 0) {
            continue;
        }
        lc.data = h->lowcase_key;
        lc.len  = h->key.len;
        if (zp_http_proxy_skip_in(r, &lc)) {
            continue;
        }
        if (conf->set_headers) {
            sh = conf->set_headers->elts;
            for (i = 0; i < conf->set_headers->nelts; i++) {
                if (sh[i].key.len == lc.len && zp_strncmp(sh[i].key.data, lc.data, lc.len) == 0) {
                    break;
                }
            }
            if (i < conf->set_headers->nelts) {
                continue;
            }
        }
        pr = zp_array_push(&pairs);
        if (pr == NULL) {
            return ZP_ERROR;
        }
        pr->name  = h->key;
        pr->value = h->value;
    }

    /* X-Forwarded-For: what the client sent, then the client */
    alen = zp_sock_ntop(&c->sockaddr.sa, c->socklen, addr, sizeof(addr), 0);
    len  = alen;
    for (h = r->headers_in.x_forwarded_for; h; h = h->next) {
        len += h->value.len + 2;
    }
    xff.data = zp_pnalloc(r->pool, len);
    if (xff.data == NULL) {
        return ZP_ERROR;
    }
    p = xff.data;
    for (h = r->headers_in.x_forwarded_for; h; h = h->next) {
        p = zp_cpymem(p, h->value.data, h->value.len);
        p = zp_cpymem(p, ", ", 2);
    }
    p        = zp_cpymem(p, addr, alen);
    xff.len  = p - xff.data;

    if (zp_http_proxy_pair(&pairs, conf, "x-forwarded-for", "X-Forwarded-For", &xff) != ZP_OK) {
        return ZP_ERROR;
    }

    vv = zp_http_get_indexed_variable(r, (zp_uint_t) pmcf->scheme_index);
    if (vv == NULL) {
        return ZP_ERROR;
    }
    v.data = vv->data;
    v.len  = vv->len;
    if (zp_http_proxy_pair(&pairs, conf, "x-forwarded-proto", "X-Forwarded-Proto", &v) != ZP_OK) {
        return ZP_ERROR;
    }

    if (r->headers_in.server.len
        && zp_http_proxy_pair(&pairs, conf, "x-forwarded-host", "X-Forwarded-Host",
                              &r->headers_in.server) != ZP_OK) {
        return ZP_ERROR;
    }

    /* the client's id when it is a sane token, else a new one */
    if (zp_http_request_id(r, &id) != ZP_OK
        || zp_http_proxy_pair(&pairs, conf, "x-request-id", "X-Request-ID", &id) != ZP_OK) {
        return ZP_ERROR;
    }

    if (conf->set_headers) {
        sh = conf->set_headers->elts;
        for (i = 0; i < conf->set_headers->nelts; i++) {
            if (zp_http_complex_value(r, &sh[i].value, &v) != ZP_OK) {
                return ZP_ERROR;
            }
            if (v.len == 0) {
                continue; /* an empty value removes the header */
            }
            pr = zp_array_push(&pairs);
            if (pr == NULL) {
                return ZP_ERROR;
            }
            pr->name  = sh[i].name;
            pr->value = v;
        }
    }

    len = r->method_name.len + 1 + target.len + sizeof(" HTTP/1.1\r\n") - 1
          + sizeof("Content-Length: \r\n") - 1 + ZP_OFF_T_LEN
          + sizeof("Transfer-Encoding: , chunked\r\n") - 1 + r->headers_in.transfer_codings.len
          + sizeof("Connection: keep-alive\r\n") - 1 + 2;

    pr = pairs.elts;
    for (i = 0; i < pairs.nelts; i++) {
        len += pr[i].name.len + 2 + pr[i].value.len + 2;
    }

    u->head = zp_create_temp_buf(r->pool, len);
    if (u->head == NULL) {
        return ZP_ERROR;
    }

    /* copies rather than zp_sprintf(): this runs for every request */
    p = u->head->last;
    p = zp_cpymem(p, r->method_name.data, r->method_name.len);
    *p++ = ' ';
    p = zp_cpymem(p, target.data, target.len);
    p = zp_cpymem(p, " HTTP/1.1\r\n", 11);
    for (i = 0; i < pairs.nelts; i++) {
        p = zp_cpymem(p, pr[i].name.data, pr[i].name.len);
        *p++ = ':';
        *p++ = ' ';
        p = zp_cpymem(p, pr[i].value.data, pr[i].value.len);
        *p++ = '\r';
        *p++ = '\n';
    }

    if (r->headers_in.chunked && r->headers_in.transfer_codings.len) {
        /* the client's codings, passed on as HAProxy does: the body is
         * still framed by our own chunked encoding, never decoded */
        p = zp_sprintf(p, "Transfer-Encoding: %V, chunked\r\n", &r->headers_in.transfer_codings);
    } else if (r->headers_in.chunked) {
        p = zp_cpymem(p, "Transfer-Encoding: chunked\r\n", 28);
    } else if (r->headers_in.content_length_n > 0 || r->headers_in.content_length) {
        p = zp_sprintf(p, "Content-Length: %O\r\n", r->headers_in.content_length_n);
    }

    p = u->us->keepalive ? zp_cpymem(p, "Connection: keep-alive\r\n\r\n", 26)
                         : zp_cpymem(p, "Connection: close\r\n\r\n", 21);

    u->head->last = p;
    return ZP_OK;
}


static void
zp_http_proxy_cleanup(void *data)
{
    zp_http_proxy_ctx_t *u = data;

    zp_http_proxy_pipe_release(u);

    /* the client went away, or the request ended: not the peer's fault */
    if (u->pc) {
        zp_close_connection(u->pc);
        u->pc = NULL;
    }
    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
        u->peer = NULL;
    }
    u->finished = 1;
}


zp_int_t
zp_http_proxy_handler(zp_http_request_t *r)
{
    zp_pool_cleanup_t        *cln;
    zp_http_proxy_ctx_t      *u;
    zp_http_proxy_rte_conf_t *conf;

    conf = zp_http_get_module_rte_conf(r, zp_http_proxy_module);
    if (conf->upstream == NULL) {
        return ZP_HTTP_NOT_FOUND;
    }

    u = zp_pcalloc(r->pool, sizeof(zp_http_proxy_ctx_t));
    if (u == NULL
        || zp_array_init(&u->states, r->pool, 2, sizeof(zp_http_proxy_state_t)) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    u->r          = r;
    u->conf       = conf;
    u->us         = conf->upstream;
    u->log        = *r->connection->log;
    u->log.handler = zp_http_proxy_log_handler;
    u->log.data   = u;
    u->length     = -1;
    r->upstream   = u;

    if (zp_http_upstream_tried_init(r->pool, &u->us->group, &u->tried) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (u->us->has_hash && zp_http_complex_value(r, &u->us->hash_key, &u->key) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (zp_http_proxy_create_request(u) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = zp_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = zp_http_proxy_cleanup;
    cln->data    = u;

    u->has_body     = r->headers_in.chunked || r->headers_in.content_length_n > 0;
    u->body_chunked = r->headers_in.chunked;
    u->body_done    = !u->has_body;
    u->body_replay  = 1;

    if (u->has_body) {
        u->body = zp_create_cached_buf(r->pool, &zp_http_proxy_body_bufs, ZP_HTTP_PROXY_BODY_BUF);
        if (u->body == NULL) {
            return ZP_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->read_event_handler  = u->has_body ? zp_http_proxy_client_body_handler
                                         : zp_http_proxy_check_client;
    r->write_event_handler = NULL;

    /* the first buffer of the body (all of a small one) is read before
     * connecting, so a failed attempt can be repeated with it */
    zp_http_proxy_send(u);
    return ZP_DONE;
}


/* ---- connecting -------------------------------------------------------------- */



static void
zp_http_proxy_close_peer_connection(zp_http_proxy_ctx_t *u)
{
    if (u->pc) {
        zp_close_connection(u->pc);
        u->pc = NULL;
    }
    u->connected = 0;
}


/* Rewinds the request for another attempt; 0 when it cannot be repeated. */
static zp_uint_t
zp_http_proxy_rewind(zp_http_proxy_ctx_t *u)
{
    if (u->has_body && !u->body_replay) {
        return 0;
    }

    u->head->pos = u->head->start;
    if (u->body) {
        u->body->pos = u->body->start;
    }
    u->sent_any     = 0;
    u->request_sent = 0;
    u->got_any      = 0;
    u->phase        = ZP_HTTP_PROXY_ST_STATUS;
    u->st.state     = 0;
    u->resp_chunked = 0;
    u->resp_eof     = 0;
    u->has_cl       = 0;
    u->length       = -1;
    if (u->buffer) {
        u->buffer->pos = u->buffer->last = u->buffer->start;
    }
    zp_memzero(&u->parse, sizeof(zp_http_parse_t));
    zp_memzero(&u->chunked, sizeof(zp_http_chunked_t));

    /* what the failed attempt's head put there */
    if (zp_list_init(&u->r->headers_out.headers, u->r->pool, 8, sizeof(zp_table_elt_t))
        != ZP_OK) {
        return 0;
    }
    u->r->headers_out.content_type.len  = 0;
    u->r->headers_out.content_type.data = NULL;
    u->r->read_event_handler = u->body_done ? zp_http_proxy_check_client
                                            : zp_http_proxy_client_body_handler;
    return 1;
}


static zp_uint_t
zp_http_proxy_new_state(zp_http_proxy_ctx_t *u)
{
    u->state = zp_array_push(&u->states);
    if (u->state == NULL) {
        return 0;
    }
    u->state->peer   = &u->peer->name;
    u->state->status = 0;
    u->state->start  = zp_current_msec;
    u->state->time   = 0;
    return 1;
}


/* Opens (or takes from the pool) a connection to u->peer. */
static void
zp_http_proxy_connect_peer(zp_http_proxy_ctx_t *u, zp_uint_t fresh)
{
    int                       s, rc, one = 1;
    zp_connection_t          *c;
    zp_http_upstream_peer_t  *peer = u->peer;

    u->action    = "connecting to upstream";
    u->reused    = 0;
    u->connected = 0;

    if (!fresh && u->us->keepalive) {
        c = zp_http_proxy_cache_get(u->us, peer, zp_http_proxy_ssl_key(u));
        if (c) {
            u->pc             = c;
            u->reused         = 1;
            u->connected      = 1;
            c->data           = u;
            c->log            = &u->log;
            c->read->log      = &u->log;
            c->write->log     = &u->log;
            c->read->handler  = zp_http_proxy_read_handler;
            c->write->handler = zp_http_proxy_write_handler;
            c->requests++;

            if (c->read->pending_eof) {
                /* the peer already closed it: a fresh one, silently */
                zp_http_proxy_close_peer_connection(u);
                zp_http_proxy_connect_peer(u, 1);
                return;
            }
            zp_http_proxy_send(u);
            return;
        }
    }

    s = socket(peer->sockaddr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == -1) {
        zp_log_error(ZP_LOG_ALERT, &u->log, errno, "socket() failed");
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    c = zp_get_connection(s, &u->log);
    if (c == NULL) {
        close(s);
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    c->data           = u;
    c->read->handler  = zp_http_proxy_read_handler;
    c->write->handler = zp_http_proxy_write_handler;
    c->requests       = 1;
    c->number         = zp_connection_counter++;
    u->pc             = c;

    if (zp_add_conn(c) != ZP_OK) {
        zp_http_proxy_close_peer_connection(u);
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    do {
        rc = connect(s, &peer->sockaddr.sa, peer->socklen);
    } while (rc == -1 && errno == EINTR);

    if (rc == -1 && errno != EINPROGRESS) {
        zp_log_error(ZP_LOG_ERR, &u->log, errno, "connect() failed");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
        return;
    }

    if (rc == 0) {
        zp_http_proxy_connected(u);
        return;
    }

    zp_event_add_timer(c->write, u->conf->connect_timeout);
}


/* Picks the next peer and connects; 502 when none is left. */
void
zp_http_proxy_connect(zp_http_proxy_ctx_t *u)
{
    u->action = "connecting to upstream";
    u->peer = zp_http_upstream_get_peer(&u->us->group, &u->tried, u->us->has_hash ? &u->key : NULL);

    if (u->peer == NULL) {
        zp_log_error(ZP_LOG_ERR, &u->log, 0, "no live upstreams");
        zp_http_proxy_finalize(u, u->last_timeout ? 504 : 502);
        return;
    }

    u->tries++;
    if (!zp_http_proxy_new_state(u)) {
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    zp_http_proxy_connect_peer(u, 0);
}


static zp_uint_t
zp_http_proxy_idempotent(zp_http_request_t *r)
{
    return (r->method
            & (ZP_HTTP_GET | ZP_HTTP_HEAD | ZP_HTTP_PUT | ZP_HTTP_DELETE | ZP_HTTP_OPTIONS
               | ZP_HTTP_TRACE))
           != 0;
}


/*
 * An attempt failed. stale: a pooled connection turned out closed before
 * any of the response: close it and repeat on a fresh connection to the
 * same peer, without counting a failure. Otherwise the peer failed: try
 * the next one when proxy_next_upstream, the tries and the request allow,
 * else answer 502 (504 after a timeout; the upstream's status for http_50x).
 */
void
zp_http_proxy_next(zp_http_proxy_ctx_t *u, zp_uint_t ft, zp_uint_t stale)
{
    zp_uint_t          status;
    zp_http_request_t *r = u->r;

    if (u->pc) {
        if (u->pc->read->timer_set) {
            zp_event_del_timer(u->pc->read);
        }
        if (u->pc->write->timer_set) {
            zp_event_del_timer(u->pc->write);
        }
    }

    if (stale && u->reused && !r->header_sent && zp_http_proxy_rewind(u)) {
        zp_log_error(ZP_LOG_INFO, &u->log, 0, "a kept-alive upstream connection was closed, "
                     "retrying on a new one");
        zp_http_proxy_close_peer_connection(u);
        zp_http_proxy_connect_peer(u, 1);
        return;
    }

    switch (ft) {
    case ZP_HTTP_PROXY_FT_TIMEOUT:
        status = 504;
        break;
    case ZP_HTTP_PROXY_FT_HTTP_503:
        status = 503;
        break;
    case ZP_HTTP_PROXY_FT_HTTP_504:
        status = 504;
        break;
    default:
        status = 502;
    }

    u->last_timeout = (ft == ZP_HTTP_PROXY_FT_TIMEOUT);

    if (u->state && u->state->status == 0) {
        u->state->status = status;
    }
    if (u->state) {
        u->state->time = zp_current_msec - u->state->start;
    }

    zp_http_proxy_close_peer_connection(u);

    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, ft != ZP_HTTP_PROXY_FT_INVALID);
        u->peer = NULL;
    }

    if (r->header_sent) {
        zp_http_proxy_finalize(u, ZP_ERROR);
        return;
    }

    if ((u->conf->next_upstream & ft) && !(u->conf->next_upstream & ZP_HTTP_PROXY_FT_OFF)
        && (u->conf->next_upstream_tries == 0 || u->tries < u->conf->next_upstream_tries)
        && (zp_http_proxy_idempotent(r) || !u->sent_any) && zp_http_proxy_rewind(u)) {
        zp_http_proxy_connect(u);
        return;
    }

    zp_http_proxy_finalize(u, status);
}


/* ---- sending the request --------------------------------------------------------- */

/* Reads the client's body into the free part of u->body, framing chunks
 * when the body goes out chunked. ZP_OK: read something; ZP_DECLINED: the
 * buffer is full; ZP_AGAIN; ZP_DONE at the end; ZP_ERROR. */
static zp_int_t
zp_http_proxy_read_body(zp_http_proxy_ctx_t *u)
{
    u_char            *data, hdr[ZP_HTTP_PROXY_CHUNK_HDR + 1];
    size_t             size, hlen;
    ssize_t            n;
    zp_buf_t          *b = u->body;
    zp_http_request_t *r = u->r;

    size = b->end - b->last;
    if (u->body_chunked) {
        if (size <= ZP_HTTP_PROXY_CHUNK_RESERVE) {
            return ZP_DECLINED;
        }
        size -= ZP_HTTP_PROXY_CHUNK_RESERVE;
        data = b->last + ZP_HTTP_PROXY_CHUNK_HDR;
    } else {
        if (size == 0) {
            return ZP_DECLINED;
        }
        data = b->last;
    }

    n = r->proto->read_body(r, data, size);

    if (n == ZP_AGAIN) {
        return ZP_AGAIN;
    }
    if (n == ZP_ERROR) {
        return ZP_ERROR;
    }

    if (n == 0) {
        u->body_done = 1;
        if (u->body_chunked) {
            b->last = zp_cpymem(b->last, "0\r\n\r\n", 5);
        }
        return ZP_DONE;
    }

    u->body_read += n;

    if (u->body_chunked) {
        hlen = zp_sprintf(hdr, "%xz\r\n", (size_t) n) - hdr;
        zp_memmove(b->last + hlen, data, (size_t) n);
        zp_memcpy(b->last, hdr, hlen);
        b->last += hlen + n;
        b->last = zp_cpymem(b->last, "\r\n", 2);
    } else {
        b->last += n;
    }
    return ZP_OK;
}


/* Writes what is pending to pc: ZP_OK all out, ZP_AGAIN, ZP_ERROR. */
static zp_int_t
zp_http_proxy_write(zp_http_proxy_ctx_t *u)
{
    int             n;
    ssize_t         sent;
    struct iovec    iov[2];
    zp_buf_t       *h = u->head, *b = u->body;
    zp_connection_t *c = u->pc;

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (c->ssl) {
        return zp_http_proxy_ssl_write(u);
    }
#endif

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

        sent = writev(c->fd, iov, n);

        if (sent == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->write->ready = 0;
                return ZP_AGAIN;
            }
            return ZP_ERROR;
        }

        u->sent_any = 1;
        c->sent += sent;

        if (h->pos < h->last) {
            size_t k = zp_min((size_t) sent, (size_t) (h->last - h->pos));
            h->pos += k;
            sent -= k;
        }
        if (b) {
            b->pos += sent;
        }
    }
}


/* Room for one more read in the body buffer? */
static zp_uint_t
zp_http_proxy_body_room(zp_http_proxy_ctx_t *u)
{
    size_t room = u->body->end - u->body->last;

    return room > (u->body_chunked ? ZP_HTTP_PROXY_CHUNK_RESERVE : 0);
}


/*
 * The request pump: writes the head and the body buffer to the upstream
 * and reads the client only while the buffer has room: a slow upstream
 * holds the client back. The buffer is appended to until it is full and
 * reset only then, so a body that fits in it can be sent again on a retry.
 */
void
zp_http_proxy_send(zp_http_proxy_ctx_t *u)
{
    zp_int_t                 rc;
    zp_err_t                 err;
    zp_http_request_t       *r  = u->r;
    zp_connection_t         *cc = r->connection;

    for (;;) {
        if (u->pc && u->connected && !u->request_sent) {
            u->action = "sending request to upstream";
            rc        = zp_http_proxy_write(u);

            if (rc == ZP_ERROR) {
                err = errno;
                zp_log_error(u->reused ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, err,
                             "writev() failed");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR,
                                   u->reused && !u->got_any
                                       && (err == EPIPE || err == ECONNRESET));
                return;
            }

            if (rc == ZP_AGAIN) {
                zp_event_add_timer(u->pc->write, u->conf->send_timeout);
                if (cc->read->timer_set) {
                    zp_event_del_timer(cc->read);
                }
                return;
            }

            if (u->pc->write->timer_set) {
                zp_event_del_timer(u->pc->write);
            }

            if (u->body_done) {
                u->request_sent = 1;
                u->action       = "reading response header from upstream";
                r->read_event_handler = zp_http_proxy_check_client;
                if (cc->read->timer_set) {
                    zp_event_del_timer(cc->read);
                }
                if (u->phase < ZP_HTTP_PROXY_ST_BODY) {
                    zp_event_add_timer(u->pc->read, u->conf->read_timeout);
                    if (u->pc->read->ready) {
                        zp_http_proxy_process_header(u);
                    }
                }
                return;
            }

            if (!zp_http_proxy_body_room(u)) {
                /* all of a full buffer is out: reuse it (from now on a
                 * retry cannot repeat the body) */
                u->body->pos = u->body->last = u->body->start;
                u->body_replay = 0;
            }
        }

        if (u->body_done) {
            if (u->pc == NULL) {
                zp_http_proxy_connect(u);
            }
            return; /* else connecting: the write handler goes on */
        }

        rc = zp_http_proxy_read_body(u);

        if (rc == ZP_ERROR) {
            r->keepalive = 0;
            zp_http_proxy_finalize(u, r->status >= 400 && !r->header_sent ? (zp_int_t) r->status
                                                                         : ZP_ERROR);
            return;
        }

        if (rc == ZP_DECLINED) {
            /* full: the upstream must take some first */
            if (u->pc == NULL) {
                zp_http_proxy_connect(u);
            }
            return;
        }

        if (rc == ZP_AGAIN) {
            if (u->pc == NULL) {
                /* connect meanwhile; what was read stays for a retry */
                zp_http_proxy_body_timer(u);
                zp_http_proxy_connect(u);
                return;
            }
            if (u->connected && u->body->pos < u->body->last) {
                continue; /* send what came */
            }
            zp_http_proxy_body_timer(u);
            return;
        }

        /* ZP_OK or ZP_DONE: go on (write if connected, else read more) */
    }
}


/*
 * client_body_timeout: the longest wait for the next ZP_HTTP_PROXY_BODY_STEP
 * bytes of body, not for the next byte: a body trickled a byte at a time
 * (a slow-body attack) cannot hold the connection, while any upload
 * faster than 8 KiB per timeout goes through, however long it takes.
 */
#define ZP_HTTP_PROXY_BODY_STEP 8192

void
zp_http_proxy_body_timer(zp_http_proxy_ctx_t *u)
{
    zp_event_t              *rev = u->r->connection->read;
    zp_http_core_rte_conf_t *rcf;

    if (rev->timer_set && u->body_read - u->body_armed < ZP_HTTP_PROXY_BODY_STEP) {
        return;
    }

    rcf            = zp_http_get_module_rte_conf(u->r, zp_http_core_module);
    u->body_armed  = u->body_read;
    if (rev->timer_set) {
        zp_event_del_timer(rev);
    }
    zp_event_add_timer(rev, rcf->client_body_timeout);
}


void
zp_http_proxy_client_body_handler(zp_http_request_t *r)
{
    zp_http_proxy_ctx_t *u = r->upstream;

    if (r->connection->read->timedout) {
        r->connection->read->timedout = 0;
        zp_log_error(ZP_LOG_INFO, r->connection->log, ETIMEDOUT,
                     "client timed out sending the request body");
        r->keepalive = 0;
        zp_http_proxy_finalize(u, r->header_sent ? ZP_ERROR : ZP_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (u->pc && u->connected && !u->request_sent
        && ((u->head->pos < u->head->last) || (u->body->pos < u->body->last))) {
        /* the upstream is full: the client waits */
        return;
    }

    zp_http_proxy_send(u);
}


/* While the upstream works: notices a client that closed. */
void
zp_http_proxy_check_client(zp_http_request_t *r)
{
    char                 ch;
    ssize_t              n;
    zp_connection_t     *c = r->connection;
    zp_http_proxy_ctx_t *u = r->upstream;

    if (c->read->timedout) {
        c->read->timedout = 0;
        return;
    }

    n = recv(c->fd, &ch, 1, MSG_PEEK);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->read->ready = 0;
        return;
    }

    if (n > 0) {
        return; /* a pipelined request: later */
    }

    zp_log_error(ZP_LOG_INFO, &u->log, n == 0 ? 0 : errno,
                 "client prematurely closed connection");
    c->error = 1;
    zp_http_proxy_finalize(u, ZP_ERROR);
}


void
zp_http_proxy_write_handler(zp_event_t *wev)
{
    int                  err = 0;
    socklen_t            len = sizeof(err);
    zp_connection_t     *c   = wev->data;
    zp_http_proxy_ctx_t *u   = c->data;

    if (wev->timedout) {
        wev->timedout = 0;
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!u->connected) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
            err = errno;
        }
        if (err) {
            zp_log_error(ZP_LOG_ERR, &u->log, err, "connect() failed");
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
            return;
        }
        zp_http_proxy_connected(u);
        return;
    }

    if (u->request_sent) {
        return;
    }

    zp_http_proxy_send(u);
}


/* ---- the response head ---------------------------------------------------------- */

/* Reads from pc into b: > 0, 0 at EOF, ZP_AGAIN, ZP_ERROR (errno set). */
static ssize_t
zp_http_proxy_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b)
{
    ssize_t n;

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->pc->ssl) {
        return zp_http_proxy_ssl_recv(u, b);
    }
#endif

    for (;;) {
        n = recv(u->pc->fd, b->last, b->end - b->last, 0);
        if (n > 0) {
            /* a short read drained the socket: no probing recv() after it
             * (the pool's idle check looks at this flag) */
            if (n < b->end - b->last) {
                u->pc->read->ready = 0;
            }
            b->last += n;
            u->got_any = 1;
            return n;
        }
        if (n == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            u->pc->read->ready = 0;
            return ZP_AGAIN;
        }
        return ZP_ERROR;
    }
}


static zp_uint_t
zp_http_proxy_hidden(zp_http_proxy_ctx_t *u, zp_str_t *lc)
{
    static const char *hop[] = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                "transfer-encoding", "upgrade", "content-length", "content-type",
                                "date", "server"};
    zp_uint_t i;
    zp_str_t *hide;

    for (i = 0; i < zp_nelems(hop); i++) {
        if (zp_http_proxy_name_is(lc, hop[i])) {
            return 1;
        }
    }

    if (u->conf->hide_headers) {
        hide = u->conf->hide_headers->elts;
        for (i = 0; i < u->conf->hide_headers->nelts; i++) {
            if (hide[i].len == lc->len && zp_strncmp(hide[i].data, lc->data, lc->len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}


/* One upstream header line: framing headers are noted, the rest copied. */
static zp_int_t
zp_http_proxy_header(zp_http_proxy_ctx_t *u, zp_str_t *name, zp_str_t *value)
{
    off_t              n;
    zp_str_t           lc;
    zp_table_elt_t    *h;
    zp_http_request_t *r = u->r;

    lc.len  = name->len;
    lc.data = zp_pnalloc(r->pool, name->len);
    if (lc.data == NULL) {
        return ZP_ERROR;
    }
    zp_strlow(lc.data, name->data, name->len);

    if (zp_http_proxy_name_is(&lc, "content-length")) {
        n = zp_atoof(value->data, value->len);
        if (n == ZP_ERROR || (u->has_cl && n != u->length)) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid \"Content-Length\": \"%V\"",
                         value);
            return ZP_DECLINED;
        }
        u->has_cl = 1;
        u->length = n;
        return ZP_OK;
    }

    if (zp_http_proxy_name_is(&lc, "transfer-encoding")) {
        if (u->resp_chunked || value->len != 7
            || zp_strncasecmp(value->data, (u_char *) "chunked", 7) != 0) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0,
                         "upstream sent unknown \"Transfer-Encoding\": \"%V\"", value);
            return ZP_DECLINED;
        }
        u->resp_chunked = 1;
        return ZP_OK;
    }

    if (zp_http_proxy_name_is(&lc, "connection")) {
        if (zp_http_proxy_list_has(value, (u_char *) "close", 5)) {
            u->resp_keepalive = 0;
        }
    }

    if (zp_http_proxy_name_is(&lc, "content-type")) {
        r->headers_out.content_type = *value;
        return ZP_OK;
    }

    h = zp_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return ZP_ERROR;
    }
    h->hash        = zp_http_proxy_hidden(u, &lc) ? 0 : 1;
    h->key         = *name;
    h->value       = *value;
    h->lowcase_key = lc.data;
    h->next        = NULL;
    return ZP_OK;
}


/* The head is in: drop what Connection names, add add_header, send. */
static void
zp_http_proxy_send_header(zp_http_proxy_ctx_t *u)
{
    zp_uint_t               i;
    zp_str_t                v, lc;
    zp_list_iter_t          it = {NULL, 0};
    zp_table_elt_t         *h, *conn;
    zp_http_request_t      *r = u->r;
    zp_http_proxy_header_t *ah;

    while ((conn = zp_list_next(&r->headers_out.headers, &it))) {
        if (conn->lowcase_key == NULL || conn->key.len != 10
            || zp_strncmp(conn->lowcase_key, "connection", 10) != 0) {
            continue;
        }
        zp_list_iter_t it2 = {NULL, 0};
        while ((h = zp_list_next(&r->headers_out.headers, &it2))) {
            if (h->lowcase_key
                && zp_http_proxy_list_has(&conn->value, h->lowcase_key, h->key.len)) {
                h->hash = 0;
            }
        }
    }

    if (u->conf->add_headers) {
        ah = u->conf->add_headers->elts;
        for (i = 0; i < u->conf->add_headers->nelts; i++) {
            if (zp_http_complex_value(r, &ah[i].value, &v) != ZP_OK) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            if (v.len == 0) {
                continue;
            }
            lc = ah[i].key;
            h  = zp_list_push(&r->headers_out.headers);
            if (h == NULL) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            h->hash        = 1;
            h->key         = ah[i].name;
            h->value       = v;
            h->lowcase_key = lc.data;
            h->next        = NULL;
        }
    }

    r->headers_out.status = u->st.status;

    if (zp_http_send_header(r) == ZP_ERROR) {
        zp_http_proxy_finalize(u, ZP_ERROR);
        return;
    }

    u->phase  = ZP_HTTP_PROXY_ST_BODY;
    u->action = "reading upstream";
    zp_http_proxy_process_body(u);
}


/* Status line and headers are parsed: decide on the body framing. */
static void
zp_http_proxy_head_done(zp_http_proxy_ctx_t *u)
{
    zp_uint_t          ft = 0;
    zp_http_request_t *r  = u->r;

    if (u->st.status == 502) {
        ft = ZP_HTTP_PROXY_FT_HTTP_502;
    } else if (u->st.status == 503) {
        ft = ZP_HTTP_PROXY_FT_HTTP_503;
    } else if (u->st.status == 504) {
        ft = ZP_HTTP_PROXY_FT_HTTP_504;
    }

    if (u->state) {
        u->state->status = u->st.status;
    }

    if (ft && (u->conf->next_upstream & ft)) {
        zp_http_proxy_next(u, ft, 0);
        return;
    }

    if (u->resp_chunked && u->has_cl) {
        zp_log_error(ZP_LOG_ERR, &u->log, 0,
                     "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
        return;
    }

    if (r->method == ZP_HTTP_HEAD || u->st.status == 204 || u->st.status == 304) {
        /* no body, whatever the headers say */
        r->headers_out.content_length_n = u->has_cl ? u->length : -1;
        u->rest                         = 0;
        u->resp_chunked                 = 0;
    } else if (u->resp_chunked) {
        r->headers_out.content_length_n = -1;
    } else if (u->has_cl) {
        r->headers_out.content_length_n = u->length;
        u->rest                         = u->length;
    } else {
        r->headers_out.content_length_n = -1;
        u->resp_eof                     = 1;
        u->resp_keepalive               = 0;
    }

    if (u->st.http_minor == 0) {
        u->resp_keepalive = 0;
    }

    zp_http_proxy_send_header(u);
}


void
zp_http_proxy_process_header(zp_http_proxy_ctx_t *u)
{
    ssize_t            n;
    zp_int_t           rc;
    zp_str_t           name, value;
    zp_buf_t          *b;
    zp_http_request_t *r = u->r;

    if (u->buffer == NULL) {
        u->buffer = zp_create_cached_buf(r->pool, &zp_http_proxy_head_bufs, u->conf->buffer_size);
        if (u->buffer == NULL) {
            zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    b = u->buffer;

    for (;;) {
        if (b->pos == b->last) {
            if (b->last == b->end) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent too big header");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }

            n = zp_http_proxy_recv(u, b);

            if (n == ZP_AGAIN) {
                zp_event_add_timer(u->pc->read, u->conf->read_timeout);
                return;
            }

            if (n == 0 || n == ZP_ERROR) {
                zp_uint_t stale = u->reused && b->last == b->start
                                  && (n == 0 || errno == ECONNRESET);
                if (n == 0) {
                    zp_log_error(stale ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, 0,
                                 "upstream prematurely closed connection");
                } else {
                    zp_log_error(stale ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, errno,
                                 "recv() failed");
                }
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, stale);
                return;
            }
        }

        if (u->phase == ZP_HTTP_PROXY_ST_STATUS) {
            rc = zp_http_parse_status_line(&u->st, b);
            if (rc == ZP_AGAIN) {
                continue;
            }
            if (rc == ZP_ERROR) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent no valid HTTP/1.x header");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            u->phase          = ZP_HTTP_PROXY_ST_HEADERS;
            u->resp_keepalive = 1;
            u->has_cl         = 0;
            u->resp_chunked   = 0;
            u->length         = -1;
            zp_memzero(&u->parse, sizeof(zp_http_parse_t));
        }

        rc = zp_http_parse_header_line(&u->parse, b);

        if (rc == ZP_AGAIN) {
            continue;
        }

        if (rc == ZP_OK) {
            name.data  = u->parse.header_name_start;
            name.len   = u->parse.header_name_end - u->parse.header_name_start;
            value.data = u->parse.header_start;
            value.len  = u->parse.header_end - u->parse.header_start;

            rc = zp_http_proxy_header(u, &name, &value);
            if (rc == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            if (rc == ZP_DECLINED) {
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            continue;
        }

        /* a line the parser flags (a bad name byte, a CTL in a value) is
         * refused too: what http_v1 lets through is for clients, an
         * upstream's response head stays strict */
        if (rc != ZP_HTTP_PARSE_HEADER_DONE) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid header");
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
            return;
        }

        if (u->st.status >= 100 && u->st.status < 200) {
            if (u->st.status == 101) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream switched protocols unasked");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            /* an interim response: wait for the final one */
            if (zp_list_init(&r->headers_out.headers, r->pool, 8, sizeof(zp_table_elt_t))
                != ZP_OK) {
                zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            r->headers_out.content_type.len = 0;
            u->phase    = ZP_HTTP_PROXY_ST_STATUS;
            u->st.state = 0;
            continue;
        }

        if (u->pc->read->timer_set) {
            zp_event_del_timer(u->pc->read);
        }
        zp_http_proxy_head_done(u);
        return;
    }
}


/* ---- the response body -------------------------------------------------------- */

static void
zp_http_proxy_drained(zp_http_request_t *r)
{
    zp_http_proxy_ctx_t *u = r->upstream;

    if (!u->blocked) {
        return;
    }
    u->blocked             = 0;
    r->write_event_handler = NULL;
    u->rbuf->pos = u->rbuf->last = u->rbuf->start;
    zp_http_proxy_process_body(u);
}


/* The body is over: keep the connection if it can serve another request. */
static void
zp_http_proxy_done(zp_http_proxy_ctx_t *u)
{
    zp_connection_t   *c = u->pc;
    zp_http_request_t *r = u->r;

    u->phase = ZP_HTTP_PROXY_ST_DONE;

    if (u->state) {
        u->state->time = zp_current_msec - u->state->start;
    }

    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
    }

    if (c) {
        if (c->read->timer_set) {
            zp_event_del_timer(c->read);
        }
        /* after an ambiguous request (docs/http1.md) the upstream may
         * have framed it otherwise: its connection is not reused */
        if (u->us->keepalive && u->resp_keepalive && !u->extra && !u->resp_eof
            && u->request_sent && c->requests < u->us->keepalive_requests && !c->read->pending_eof
            && !c->error && !r->headers_in.ambiguous && zp_http_proxy_reusable(c)) {
            zp_http_proxy_cache_put(u);
        } else {
            zp_http_proxy_close_peer_connection(u);
        }
    }

    u->peer = NULL;
    zp_http_proxy_finalize(u, ZP_DONE);
    (void) r;
}


/*
 * Sends u->out_buf on to the client. ZP_OK: the caller may read more.
 * Anything else: the caller returns, because the body is over (the
 * upstream is released before the last bytes go out), the client is slow
 * (reading the upstream stops until zp_http_proxy_drained), or an error
 * ended the request.
 */
static zp_int_t
zp_http_proxy_output(zp_http_proxy_ctx_t *u, zp_uint_t done)
{
    zp_int_t           rc;
    zp_http_request_t *r = u->r;

    u->out_buf.last_buf = done ? 1 : 0;
    u->out_cl.buf       = &u->out_buf;
    u->out_cl.next      = NULL;

    rc = zp_http_output(r, &u->out_cl);

    if (rc == ZP_ERROR) {
        zp_http_proxy_finalize(u, ZP_ERROR);
        return ZP_ERROR;
    }

    if (done) {
        zp_http_proxy_done(u);
        return ZP_DONE;
    }

    if (rc == ZP_AGAIN) {
        u->blocked             = 1;
        r->write_event_handler = zp_http_proxy_drained;
        if (u->pc->read->timer_set) {
            zp_event_del_timer(u->pc->read);
        }
        return ZP_AGAIN;
    }

    return ZP_OK;
}


/*
 * Splice: a large Content-Length body between two plain sockets goes
 * upstream socket -> pipe -> client socket, and its bytes never enter user
 * space (two copies of every byte less). Not for TLS on either side, a
 * chunked or close-delimited body, or when a body filter wants the bytes.
 */
static zp_uint_t
zp_http_proxy_can_splice(zp_http_proxy_ctx_t *u)
{
    int                fds[2], size;
    zp_http_request_t *r = u->r;

    if (u->resp_chunked || u->resp_eof || u->rest < ZP_HTTP_PROXY_SPLICE_MIN
        || u->pc->ssl || r->connection->ssl || !r->proto->splice
        || zp_http_top_body_filter != zp_http_write_body_filter || r->header_only)
    {
        return 0;
    }

    /*
     * A pipe per body, closed with the request: a cache of empty pipes
     * would save three calls per body but hold two descriptors per entry
     * that no request owns.
     */
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
        /* out of descriptors: the body is copied as any other */
        zp_log_error(ZP_LOG_INFO, &u->log, errno, "pipe2() failed, body not spliced");
        return 0;
    }

    u->pipe[0] = fds[0];
    u->pipe[1] = fds[1];

    /*
     * 256 KiB: a 100 KiB body in one splice each way (the pipe holds page
     * references, not copies). Refused (a user over pipe-user-pages-soft
     * gets small pipes): whatever this one holds. The size must be exact:
     * a splice that returns less than it is taken for a drained socket.
     */
    size = fcntl(fds[1], F_SETPIPE_SZ, 262144);
    if (size == -1) {
        size = fcntl(fds[1], F_GETPIPE_SZ);
    }
    if (size <= 0) {
        zp_log_error(ZP_LOG_INFO, &u->log, errno, "fcntl(F_GETPIPE_SZ) failed, body not spliced");
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    u->pipe_size = (size_t) size;

    u->splice = 1;
    return 1;
}


/* Called when the request's pool goes: the writer is done with the pipe
 * by then. */
static void
zp_http_proxy_pipe_release(zp_http_proxy_ctx_t *u)
{
    if (u->splice) {
        u->splice = 0;
        close(u->pipe[0]);
        close(u->pipe[1]);
    }
}


/* The rest of a Content-Length body through the pipe, as much as the
 * pipe takes at a time (64 KiB by default). */
static void
zp_http_proxy_splice_body(zp_http_proxy_ctx_t *u)
{
    ssize_t n;
    size_t  want;

    for (;;) {
        if (u->blocked) {
            return;
        }

        want = (size_t) zp_min(u->rest, (off_t) u->pipe_size);
        n    = splice(u->pc->fd, NULL, u->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            u->pc->read->ready = 0;
            zp_event_add_timer(u->pc->read, u->conf->read_timeout);
            return;
        }

        if (n <= 0) {
            zp_log_error(ZP_LOG_ERR, &u->log, n == 0 ? 0 : errno,
                         n == 0 ? "upstream prematurely closed connection"
                                : "splice() from upstream failed");
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
            return;
        }

        u->got_any = 1;
        u->rest -= n;

        /* the pipe was empty: less than asked means the socket is
         * drained, and edge-triggered epoll reports what comes next */
        if ((size_t) n < want) {
            u->pc->read->ready = 0;
        }

        zp_memzero(&u->out_buf, sizeof(zp_buf_t));
        u->out_buf.in_pipe   = 1;
        u->out_buf.pipe      = u->pipe[0];
        u->out_buf.file_last = n;

        /* not ZP_OK: the pipe still holds bytes the client drains first,
         * or the body is over */
        if (zp_http_proxy_output(u, u->rest == 0) != ZP_OK) {
            return;
        }

        if (!u->pc->read->ready) {
            zp_event_add_timer(u->pc->read, u->conf->read_timeout);
            return;
        }
    }
}


void
zp_http_proxy_process_body(zp_http_proxy_ctx_t *u)
{
    u_char            *dst;
    off_t              k;
    ssize_t            n;
    zp_int_t           rc, done;
    zp_buf_t          *b;
    zp_http_request_t *r = u->r;

    if (u->rbuf == NULL) {
        u->rbuf = zp_create_cached_buf(r->pool, &zp_http_proxy_resp_bufs,
                                       zp_max(ZP_HTTP_PROXY_RESP_BUF, u->conf->buffer_size));
        if (u->rbuf == NULL) {
            zp_http_proxy_finalize(u, ZP_ERROR);
            return;
        }
        /* body bytes that came with the head */
        n = u->buffer->last - u->buffer->pos;
        u->rbuf->last = zp_cpymem(u->rbuf->last, u->buffer->pos, n);
        u->buffer->pos = u->buffer->last;
    }

    b = u->rbuf;

    for (;;) {
        if (u->blocked) {
            return;
        }

        done = 0;
        dst  = b->pos;

        /* turn what is in the buffer into body bytes at [b->pos, dst) */
        if (u->resp_chunked) {
            u_char *start = b->pos;

            for (;;) {
                rc = zp_http_parse_chunked(&u->chunked, b);
                if (rc == ZP_OK) {
                    k = zp_min(u->chunked.size, b->last - b->pos);
                    zp_memmove(dst, b->pos, (size_t) k);
                    dst += k;
                    b->pos += k;
                    u->chunked.size -= k;
                    continue;
                }
                if (rc == ZP_DONE) {
                    done = 1;
                    if (b->pos < b->last) {
                        u->extra = 1;
                    }
                    break;
                }
                if (rc == ZP_AGAIN) {
                    break;
                }
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid chunked response");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            u->out_buf.pos = start;
            u->out_buf.last = dst;

        } else if (u->resp_eof) {
            u->out_buf.pos  = b->pos;
            u->out_buf.last = b->last;
            b->pos          = b->last;

        } else {
            k = zp_min(u->rest, b->last - b->pos);
            u->out_buf.pos  = b->pos;
            u->out_buf.last = b->pos + k;
            u->rest -= k;
            if (b->pos + k < b->last) {
                u->extra = 1;
            }
            b->pos = b->last;
            done   = (u->rest == 0);
        }

        if (u->out_buf.pos < u->out_buf.last || done) {
            u->out_buf.start    = u->out_buf.pos;
            u->out_buf.end      = u->out_buf.last;
            u->out_buf.memory   = 1;
            u->out_buf.in_pipe  = 0;
            if (zp_http_proxy_output(u, done) != ZP_OK) {
                return;
            }
        }

        b->pos = b->last = b->start;

        if (u->splice || zp_http_proxy_can_splice(u)) {
            zp_http_proxy_splice_body(u);
            return;
        }

        n = zp_http_proxy_recv(u, b);

        if (n == ZP_AGAIN) {
            /* the upstream pauses: what is ready (the head at least) goes
             * to the client now rather than with the next body bytes */
            if (zp_http_output(r, NULL) == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            zp_event_add_timer(u->pc->read, u->conf->read_timeout);
            return;
        }

        if (n == 0 && u->resp_eof) {
            u->out_buf.pos = u->out_buf.last = b->start;
            u->out_buf.start = u->out_buf.end = b->start;
            u->out_buf.in_pipe  = 0;
            (void) zp_http_proxy_output(u, 1);
            return;
        }

        if (n == 0 || n == ZP_ERROR) {
            zp_log_error(ZP_LOG_ERR, &u->log, n == 0 ? 0 : errno,
                         n == 0 ? "upstream prematurely closed connection"
                                : "recv() failed");
            /* the head is out: the client must see a broken response */
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
            return;
        }
    }
}


void
zp_http_proxy_read_handler(zp_event_t *rev)
{
    zp_connection_t     *c = rev->data;
    zp_http_proxy_ctx_t *u = c->data;

    if (rev->timedout) {
        rev->timedout = 0;
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!u->connected) {
        /* a failed connect wakes the read side first */
        zp_http_proxy_write_handler(c->write);
        return;
    }

    if (u->phase < ZP_HTTP_PROXY_ST_BODY) {
        zp_http_proxy_process_header(u);
        return;
    }

    if (u->phase == ZP_HTTP_PROXY_ST_BODY && !u->blocked) {
        zp_http_proxy_process_body(u);
    }
}


/* ---- the end -------------------------------------------------------------------- */

/* Ends the request: rc is ZP_DONE, ZP_ERROR or a status to answer with. */
void
zp_http_proxy_finalize(zp_http_proxy_ctx_t *u, zp_int_t rc)
{
    zp_http_request_t *r  = u->r;
    zp_connection_t   *cc = r->connection;

    if (u->finished) {
        return;
    }
    u->finished = 1;

    if (u->pc) {
        zp_http_proxy_close_peer_connection(u);
    }
    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
        u->peer = NULL;
    }

    r->read_event_handler  = NULL;
    r->write_event_handler = NULL;

    if (cc->read->timer_set) {
        zp_event_del_timer(cc->read);
    }

    if (rc >= 400 && !r->header_sent) {
        zp_http_finalize_request(r, rc);
        return;
    }

    zp_http_finalize_request(r, rc == ZP_DONE ? ZP_DONE : ZP_ERROR);
}
