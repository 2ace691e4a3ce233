/*
 * zp_http_request.c: HTTP/1.x connections: reading a request head,
 * choosing server and route, running the phases, writing the response,
 * keep-alive and draining.
 *
 * This is the chassis' small parser; the full incremental state machine
 * (chunked bodies, pipelining limits, smuggling rules) replaces
 * zp_http_parse_head() in the HTTP/1.1 engine work.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#define ZP_HTTP_LINGERING_TIME 2000

static void     zp_http_wait_request_handler(zp_event_t *rev);
static void     zp_http_process_request(zp_connection_t *c);
static zp_int_t zp_http_parse_head(zp_http_request_t *r, u_char *end);
static void     zp_http_find_route(zp_http_request_t *r, zp_http_addr_t *addr);
static void     zp_http_run_phases(zp_http_request_t *r);
static void     zp_http_writer(zp_event_t *wev);
static void     zp_http_finalize(zp_http_request_t *r);
static void     zp_http_set_keepalive(zp_http_request_t *r);
static void     zp_http_lingering_close(zp_connection_t *c);
static void     zp_http_lingering_handler(zp_event_t *rev);
static void     zp_http_empty_handler(zp_event_t *ev);
static void     zp_http_close_request(zp_http_request_t *r);


static zp_http_core_srv_conf_t *
zp_http_default_server(zp_connection_t *c)
{
    zp_http_addr_t *addr = c->listening->servers;

    return addr->default_server;
}


void
zp_http_init_connection(zp_connection_t *c)
{
    zp_http_core_srv_conf_t *cscf = zp_http_default_server(c);

    c->read->handler  = zp_http_wait_request_handler;
    c->write->handler = zp_http_empty_handler;

    /* a connection without a request yet counts as idle for draining */
    zp_reusable_connection(c, 1);
    zp_event_add_timer(c->read, cscf->client_header_timeout);
}


static void
zp_http_empty_handler(zp_event_t *ev)
{
    (void) ev;
}


/*
 * Reads what the client sent into the connection's buffer; the buffer
 * outlives requests, so a pipelined request is already there when the
 * previous one ends.
 */
static void
zp_http_wait_request_handler(zp_event_t *rev)
{
    ssize_t                   n;
    size_t                    size;
    zp_buf_t                 *b;
    zp_connection_t          *c = rev->data;
    zp_http_core_srv_conf_t  *cscf;

    if (rev->timedout || c->close) {
        zp_close_connection(c);
        return;
    }

    cscf = zp_http_default_server(c);
    size = cscf->client_header_buffer_size;
    b    = c->buffer;

    if (b == NULL) {
        b = zp_create_temp_buf(c->pool, size);
        if (b == NULL) {
            zp_close_connection(c);
            return;
        }
        c->buffer = b;
    }

    for (;;) {
        if (b->last == b->end) {
            if (b->pos == b->start) {
                break; /* full: the request head is too large */
            }
            b->last = zp_movemem(b->start, b->pos, b->last - b->pos);
            b->pos  = b->start;
        }

        n = recv(c->fd, b->last, b->end - b->last, 0);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                rev->ready = 0;
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECONNRESET) {
                zp_log_error(ZP_LOG_INFO, c->log, errno, "recv() failed");
            }
            zp_close_connection(c);
            return;
        }

        if (n == 0) {
            /* the client closed: normal between requests */
            zp_close_connection(c);
            return;
        }

        b->last += n;

        if ((size_t) n < size) {
            /* probably drained; edge-triggered epoll tells us if not */
            break;
        }
    }

    if (b->last == b->pos) {
        return;
    }

    if (c->reusable) {
        /* the first bytes of a request: from now on the head must arrive
         * within client_header_timeout, however slowly it trickles in */
        zp_reusable_connection(c, 0);
        zp_event_add_timer(rev, cscf->client_header_timeout);
    }

    zp_http_process_request(c);
}


static void
zp_http_process_request(zp_connection_t *c)
{
    u_char                  *end;
    zp_int_t                 rc;
    zp_pool_t               *pool;
    zp_buf_t                *b = c->buffer;
    zp_http_request_t       *r;
    zp_http_core_srv_conf_t *cscf;

    /* a whole head is needed: find the blank line */
    end = NULL;
    for (u_char *p = b->pos; p + 1 < b->last; p++) {
        if (p[0] == LF && p[1] == LF) {
            end = p + 2;
            break;
        }
        if (p[0] == LF && p[1] == CR && p + 2 < b->last && p[2] == LF) {
            end = p + 3;
            break;
        }
    }

    if (end == NULL) {
        if (b->last == b->end && b->pos == b->start) {
            cscf = zp_http_default_server(c);
            rc   = memchr(b->pos, LF, b->last - b->pos) ? ZP_HTTP_HEADER_TOO_LARGE
                                                          : ZP_HTTP_REQUEST_URI_TOO_LARGE;
            (void) cscf;
            goto early_error;
        }
        /* wait for the rest; the header timer runs from the head's first
         * byte, which for a pipelined head is now */
        if (!c->read->timer_set) {
            cscf = zp_http_default_server(c);
            zp_event_add_timer(c->read, cscf->client_header_timeout);
        }
        c->read->handler = zp_http_wait_request_handler;
        return;
    }

    rc = ZP_OK;

early_error:

    pool = zp_create_pool(4096, c->log);
    if (pool == NULL) {
        zp_close_connection(c);
        return;
    }

    r = zp_pcalloc(pool, sizeof(zp_http_request_t));
    if (r == NULL) {
        zp_destroy_pool(pool);
        zp_close_connection(c);
        return;
    }

    r->pool       = pool;
    r->connection = c;
    r->header_in  = b;
    r->start_msec = zp_current_msec;
    r->start_sec  = zp_time();
    r->keepalive  = 0;
    c->data       = r;
    c->requests++;

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    c->read->handler = zp_http_empty_handler;

    cscf        = zp_http_default_server(c);
    r->main_conf = cscf->ctx->main_conf;
    r->srv_conf  = cscf->ctx->srv_conf;
    r->rte_conf  = cscf->ctx->rte_conf;

    if (rc != ZP_OK) {
        b->pos = b->last;
        zp_http_send_response(r, (zp_uint_t) rc, NULL, NULL);
        return;
    }

    rc = zp_http_parse_head(r, end);

    if (rc != ZP_OK) {
        b->pos = b->last;
        r->keepalive = 0;
        zp_http_send_response(r, (zp_uint_t) rc, NULL, NULL);
        return;
    }

    b->pos = end;

    /* the body is not read by this chassis: a body already in the buffer
     * is skipped, a longer one ends the connection after the answer */
    if (r->content_length_n > 0) {
        if (r->content_length_n <= b->last - b->pos) {
            b->pos += r->content_length_n;
        } else {
            b->pos = b->last;
            r->keepalive = 0;
            r->lingering_close = 1;
        }
    }

    zp_http_find_route(r, c->listening->servers);
    zp_http_run_phases(r);
}


static zp_uint_t
zp_http_token_char(u_char ch)
{
    /* RFC 9110 tchar */
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
        return 1;
    }
    return strchr("!#$%&'*+-.^_`|~", ch) != NULL && ch != '\0';
}


/*
 * Parses the request line and headers in [pos, end). Strict: a bare CR,
 * obs-fold, a bad header name, Transfer-Encoding (no request bodies in
 * this chassis) or conflicting Content-Length get 400/501.
 */
static zp_int_t
zp_http_parse_head(zp_http_request_t *r, u_char *end)
{
    u_char  *p, *line, *eol, *colon, *v, *ve, *sp1, *sp2;
    zp_str_t name, value;
    off_t    cl;

    p = r->header_in->pos;

    /* tolerate empty lines before the request line (RFC 9112 2.2) */
    while (p < end && (*p == CR || *p == LF)) {
        p++;
    }

    r->content_length_n = -1;
    r->http_version     = ZP_HTTP_VERSION_11;

    for (line = p; line < end; line = eol + 1) {
        eol = memchr(line, LF, end - line);
        if (eol == NULL) {
            return ZP_HTTP_BAD_REQUEST;
        }

        ve = eol;
        if (ve > line && ve[-1] == CR) {
            ve--;
        }

        if (memchr(line, CR, ve - line) || memchr(line, '\0', ve - line)) {
            return ZP_HTTP_BAD_REQUEST;
        }

        if (line == p) {
            /* METHOD SP request-target SP HTTP/1.x */
            r->request_line.data = line;
            r->request_line.len  = ve - line;

            sp1 = memchr(line, ' ', ve - line);
            if (sp1 == NULL || sp1 == line) {
                return ZP_HTTP_BAD_REQUEST;
            }
            sp2 = memchr(sp1 + 1, ' ', ve - sp1 - 1);
            if (sp2 == NULL || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', ve - sp2 - 1)) {
                return ZP_HTTP_BAD_REQUEST;
            }

            for (v = line; v < sp1; v++) {
                if (!zp_http_token_char(*v)) {
                    return ZP_HTTP_BAD_REQUEST;
                }
            }
            for (v = sp1 + 1; v < sp2; v++) {
                if (*v <= 0x20 || *v == 0x7f) {
                    return ZP_HTTP_BAD_REQUEST;
                }
            }

            r->method_name.data   = line;
            r->method_name.len    = sp1 - line;
            r->uri.data           = sp1 + 1;
            r->uri.len            = sp2 - sp1 - 1;
            r->http_protocol.data = sp2 + 1;
            r->http_protocol.len  = ve - sp2 - 1;

            if (r->http_protocol.len != 8
                || zp_strncmp(r->http_protocol.data, "HTTP/1.", 7) != 0) {
                if (r->http_protocol.len >= 5
                    && zp_strncmp(r->http_protocol.data, "HTTP/", 5) == 0) {
                    return ZP_HTTP_VERSION_NOT_SUPPORTED;
                }
                return ZP_HTTP_BAD_REQUEST;
            }

            switch (r->http_protocol.data[7]) {
            case '0': r->http_version = ZP_HTTP_VERSION_10; break;
            case '1': r->http_version = ZP_HTTP_VERSION_11; break;
            default: return ZP_HTTP_VERSION_NOT_SUPPORTED;
            }

            r->keepalive = (r->http_version == ZP_HTTP_VERSION_11);

            v = memchr(r->uri.data, '?', r->uri.len);
            if (v) {
                r->args.data = v + 1;
                r->args.len  = r->uri.data + r->uri.len - v - 1;
                r->uri.len   = v - r->uri.data;
            }
            continue;
        }

        if (ve == line) {
            break; /* the blank line */
        }

        if (*line == ' ' || *line == '\t') {
            return ZP_HTTP_BAD_REQUEST; /* obs-fold */
        }

        colon = memchr(line, ':', ve - line);
        if (colon == NULL || colon == line) {
            return ZP_HTTP_BAD_REQUEST;
        }

        for (v = line; v < colon; v++) {
            if (!zp_http_token_char(*v)) {
                return ZP_HTTP_BAD_REQUEST; /* includes "Name :" */
            }
        }

        name.data = line;
        name.len  = colon - line;

        v = colon + 1;
        while (v < ve && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        value.data = v;
        value.len  = ve - v;

        if (name.len == 4 && zp_strncasecmp(name.data, (u_char *) "host", 4) == 0) {
            if (r->host.data) {
                return ZP_HTTP_BAD_REQUEST;
            }
            r->host = value;

        } else if (name.len == 10 && zp_strncasecmp(name.data, (u_char *) "connection", 10) == 0) {
            if (zp_strlcasestrn(value.data, value.data + value.len, (u_char *) "close", 5)) {
                r->keepalive = 0;
            } else if (zp_strlcasestrn(value.data, value.data + value.len,
                                       (u_char *) "keep-alive", 10)) {
                r->keepalive = 1;
            }

        } else if (name.len == 14
                   && zp_strncasecmp(name.data, (u_char *) "content-length", 14) == 0) {
            cl = zp_atoof(value.data, value.len);
            if (cl == ZP_ERROR || (r->content_length_n != -1 && r->content_length_n != cl)) {
                return ZP_HTTP_BAD_REQUEST;
            }
            r->content_length_n = cl;

        } else if (name.len == 17
                   && zp_strncasecmp(name.data, (u_char *) "transfer-encoding", 17) == 0) {
            /* request bodies come with the HTTP/1.1 engine; refusing
             * beats guessing where this request ends */
            r->keepalive = 0;
            return ZP_HTTP_NOT_IMPLEMENTED;

        } else if (name.len == 10 && zp_strncasecmp(name.data, (u_char *) "user-agent", 10) == 0) {
            r->user_agent = value;

        } else if (name.len == 7 && zp_strncasecmp(name.data, (u_char *) "referer", 7) == 0) {
            r->referer = value;
        }
    }

    if (r->request_line.len == 0) {
        return ZP_HTTP_BAD_REQUEST;
    }

    if (r->http_version == ZP_HTTP_VERSION_11 && r->host.data == NULL) {
        return ZP_HTTP_BAD_REQUEST;
    }

    return ZP_OK;
}


/* The server by Host among those on the address, then the route with the
 * longest matching prefix (an exact route wins over any prefix). */
static void
zp_http_find_route(zp_http_request_t *r, zp_http_addr_t *addr)
{
    size_t                    hlen;
    u_char                   *colon;
    zp_uint_t                 i, j;
    zp_str_t                 *names;
    zp_http_core_srv_conf_t **srvs, *cscf;
    zp_http_core_rte_conf_t **rtes, *best;

    cscf = addr->default_server;

    if (r->host.len && addr->servers.nelts > 1) {
        colon = memchr(r->host.data, ':', r->host.len);
        hlen  = colon ? (size_t) (colon - r->host.data) : r->host.len;
        srvs  = addr->servers.elts;

        for (i = 0; i < addr->servers.nelts; i++) {
            names = srvs[i]->server_names.elts;
            for (j = 0; j < srvs[i]->server_names.nelts; j++) {
                if (names[j].len == hlen
                    && zp_strncasecmp(names[j].data, r->host.data, hlen) == 0) {
                    cscf = srvs[i];
                    goto found;
                }
            }
        }
    }

found:

    r->srv_conf = cscf->ctx->srv_conf;
    r->rte_conf = cscf->ctx->rte_conf;

    best = NULL;
    rtes = cscf->routes.elts;

    for (i = 0; i < cscf->routes.nelts; i++) {
        if (rtes[i]->exact) {
            if (rtes[i]->name.len == r->uri.len
                && zp_strncmp(rtes[i]->name.data, r->uri.data, r->uri.len) == 0) {
                best = rtes[i];
                break;
            }
            continue;
        }

        if (rtes[i]->name.len <= r->uri.len
            && zp_strncmp(rtes[i]->name.data, r->uri.data, rtes[i]->name.len) == 0
            && (best == NULL || best->exact == 0) && (best == NULL || rtes[i]->name.len > best->name.len)) {
            best = rtes[i];
        }
    }

    if (best) {
        r->rte_conf = best->rte_conf;
    }
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
            if (rc == ZP_DONE) {
                return;
            }
            if (rc >= 100) {
                zp_http_send_response(r, (zp_uint_t) rc, NULL, NULL);
                return;
            }
            if (rc == ZP_ERROR) {
                zp_http_send_response(r, ZP_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
                return;
            }
            break; /* ZP_OK: on to the next phase */
        }
    }

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);

    rc = rcf->handler ? rcf->handler(r) : ZP_HTTP_NOT_FOUND;

    if (rc == ZP_DONE) {
        return;
    }

    zp_http_send_response(r, rc >= 100 ? (zp_uint_t) rc : ZP_HTTP_INTERNAL_SERVER_ERROR, NULL,
                          NULL);
}


const char *
zp_http_status_line(zp_uint_t status, size_t *len)
{
    const char *s;

    switch (status) {
    case 200: s = "200 OK"; break;
    case 201: s = "201 Created"; break;
    case 202: s = "202 Accepted"; break;
    case 204: s = "204 No Content"; break;
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


/*
 * Builds the whole response in one buffer and writes it. A draining
 * worker (zp_exiting) says "Connection: close" and closes after it: the
 * client learns before it sends another request on this connection.
 */
void
zp_http_send_response(zp_http_request_t *r, zp_uint_t status, zp_str_t *content_type,
                      zp_str_t *body)
{
    u_char                  *p, *last;
    size_t                   len, slen;
    zp_buf_t                *b;
    const char              *sline;
    zp_str_t                 text = zp_null_string;
    zp_str_t                 plain = zp_string("text/plain");
    zp_str_t                 html = zp_string("text/html");
    u_char                   deflt[128];
    zp_connection_t         *c = r->connection;
    zp_http_core_rte_conf_t *rcf;

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);

    r->status = status;

    if (r->keepalive
        && (zp_exiting || c->requests >= rcf->keepalive_requests || c->close)) {
        r->keepalive = 0;
        r->lingering_close = 1;
    }

    if (!r->keepalive && !r->lingering_close && status < 400) {
        r->lingering_close = 1;
    }

    sline = zp_http_status_line(status, &slen);

    if (body == NULL && status >= 400) {
        /* the customary small HTML error page */
        p = zp_snprintf(deflt, sizeof(deflt),
                        "<html><head><title>%s</title></head><body><h1>%s</h1></body></html>\n",
                        sline ? sline : "Error", sline ? sline : "Error");
        text.data    = deflt;
        text.len     = p - deflt;
        body         = &text;
        content_type = &html;
    }

    if (body && content_type == NULL) {
        content_type = &plain;
    }

    len = sizeof("HTTP/1.1 ") - 1 + (sline ? slen : 3) + 2 + sizeof("Server: zproxy\r\n") - 1
          + sizeof("Date: ") - 1 + zp_cached_http_time.len + 2
          + sizeof("Content-Type: ") - 1 + (content_type ? content_type->len : 0) + 2
          + sizeof("Content-Length: ") - 1 + ZP_OFF_T_LEN + 2
          + sizeof("Connection: keep-alive\r\n") - 1 + 2 + (body ? body->len : 0);

    b = zp_create_temp_buf(r->pool, len);
    if (b == NULL) {
        zp_http_close_request(r);
        return;
    }

    p    = b->last;
    last = b->end;

    if (sline) {
        p = zp_slprintf(p, last, "HTTP/1.1 %s\r\n", sline);
    } else {
        p = zp_slprintf(p, last, "HTTP/1.1 %ui \r\n", status);
    }

    p = zp_slprintf(p, last, "Server: zproxy\r\nDate: %V\r\n", &zp_cached_http_time);

    if (content_type) {
        p = zp_slprintf(p, last, "Content-Type: %V\r\n", content_type);
    }

    if (status >= 200 && status != 204 && status != 304) {
        p = zp_slprintf(p, last, "Content-Length: %uz\r\n", body ? body->len : 0);
    }

    p = zp_slprintf(p, last, r->keepalive ? "Connection: keep-alive\r\n\r\n"
                                          : "Connection: close\r\n\r\n");

    if (body && !r->header_only
        && !(r->method_name.len == 4 && zp_strncmp(r->method_name.data, "HEAD", 4) == 0)) {
        p = zp_cpymem(p, body->data, body->len);
        r->body_bytes_sent = body->len;
    }

    b->last = p;

    r->out = zp_alloc_chain_link(r->pool);
    if (r->out == NULL) {
        zp_http_close_request(r);
        return;
    }
    r->out->buf  = b;
    r->out->next = NULL;

    c->write->handler = zp_http_writer;
    zp_http_writer(c->write);
}


static void
zp_http_writer(zp_event_t *wev)
{
    ssize_t                  n;
    zp_buf_t                *b;
    zp_connection_t         *c = wev->data;
    zp_http_request_t       *r = c->data;
    zp_http_core_rte_conf_t *rcf;

    if (wev->timedout) {
        zp_log_error(ZP_LOG_INFO, c->log, ETIMEDOUT, "client timed out");
        zp_http_close_request(r);
        return;
    }

    b = r->out->buf;

    while (b->pos < b->last) {
        n = send(c->fd, b->pos, b->last - b->pos, MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wev->ready = 0;
                rcf        = zp_http_get_module_rte_conf(r, zp_http_core_module);
                zp_event_add_timer(wev, rcf->send_timeout);
                return;
            }
            zp_log_error(ZP_LOG_INFO, c->log, errno, "send() failed");
            zp_http_close_request(r);
            return;
        }

        b->pos += n;
        c->sent += n;
    }

    if (wev->timer_set) {
        zp_event_del_timer(wev);
    }

    wev->handler = zp_http_empty_handler;
    zp_http_finalize(r);
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


static void
zp_http_finalize(zp_http_request_t *r)
{
    zp_connection_t *c = r->connection;

    zp_http_log_request(r);

    if (r->keepalive) {
        zp_http_set_keepalive(r);
        return;
    }

    if (r->lingering_close) {
        zp_destroy_pool(r->pool);
        c->data = NULL;
        zp_http_lingering_close(c);
        return;
    }

    zp_http_close_request(r);
}


static void
zp_http_close_request(zp_http_request_t *r)
{
    zp_connection_t *c = r->connection;

    if (r->status) {
        zp_http_log_request(r);
    }

    zp_destroy_pool(r->pool);
    c->data = NULL;
    zp_close_connection(c);
}


static void
zp_http_set_keepalive(zp_http_request_t *r)
{
    zp_connection_t         *c = r->connection;
    zp_buf_t                *b = c->buffer;
    zp_http_core_rte_conf_t *rcf;

    rcf = zp_http_get_module_rte_conf(r, zp_http_core_module);

    zp_destroy_pool(r->pool);
    c->data = NULL;

    c->read->handler = zp_http_wait_request_handler;

    if (b->pos < b->last) {
        /* a pipelined request is already here */
        zp_http_process_request(c);
        return;
    }

    b->pos = b->last = b->start;

    zp_reusable_connection(c, 1);
    zp_event_add_timer(c->read, rcf->keepalive_timeout);

    if (c->read->ready) {
        zp_http_wait_request_handler(c->read);
    }
}


/*
 * Closing right after the last response could reset the connection while
 * the client still has data in flight (and a reset can destroy the
 * response in the client's buffers). So: shut down our side, read and
 * drop what still comes for a short while, then close.
 */
static void
zp_http_lingering_close(zp_connection_t *c)
{
    if (shutdown(c->fd, SHUT_WR) == -1) {
        zp_close_connection(c);
        return;
    }

    c->read->handler  = zp_http_lingering_handler;
    c->write->handler = zp_http_empty_handler;
    c->idle_since     = zp_current_msec;
    zp_event_add_timer(c->read, ZP_HTTP_LINGERING_TIME);

    zp_http_lingering_handler(c->read);
}


static void
zp_http_lingering_handler(zp_event_t *rev)
{
    ssize_t          n;
    u_char           buf[4096];
    zp_connection_t *c = rev->data;

    if (rev->timedout || zp_current_msec - c->idle_since >= ZP_HTTP_LINGERING_TIME) {
        zp_close_connection(c);
        return;
    }

    for (;;) {
        n = recv(c->fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rev->ready = 0;
            return;
        }
        if (n <= 0) {
            zp_close_connection(c);
            return;
        }
    }
}
