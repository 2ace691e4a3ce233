/*
 * The chassis' minimal HTTP/1.x answer over real sockets: route matching
 * (exact, prefix, longest prefix, none -> 404), HEAD, HTTP/1.0, the strict
 * parser's refusals (no Host, bad method byte, obs-fold, CL with TE, a head
 * over client_header_buffer_size), pipelining, keepalive_requests,
 * keepalive_timeout and client_header_timeout. The workers that served
 * all of it are still the same and still serve.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zpt_harness.h"

#define HTTP_CONF                                                                                  \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                           \
    "        client_header_buffer_size 1k;\n"                                                      \
    "        client_header_timeout 1s;\n"                                                          \
    "        route = /health { return 200 \"exact\\n\"; }\n"                                      \
    "        route /health { return 200 \"health-prefix\\n\"; }\n"                                \
    "        route /api { return 200 \"api\\n\"; }\n"                                             \
    "        route /api/v2 { return 200 \"api-v2\\n\"; }\n"                                       \
    "        route /ka3 { keepalive_requests 3; return 200 \"ka3\\n\"; }\n"                       \
    "        route /kat { keepalive_timeout 1s; return 200 \"kat\\n\"; }\n"                       \
    "    }\n"                                                                                      \
    "}\n"


/* ---- a buffered client: responses may arrive together (pipelining) ------ */

typedef struct {
    int    fd;
    char   buf[131072];
    size_t len;
    int    eof;   /* the peer closed (1) or reset (-1) */
} conn_t;

typedef struct {
    int    status;
    int    conn_close;
    long   content_length;
    char   headers[4096];
    char   body[8192];
    size_t body_len;
} resp_t;


static conn_t *
conn_open(int port)
{
    conn_t *c = calloc(1, sizeof(conn_t));

    ck_assert(c != NULL);
    c->fd = zpt_connect(port);
    ck_assert_msg(c->fd >= 0, "connect to %d: %s", port, strerror(errno));
    return c;
}


static void
conn_close(conn_t *c)
{
    close(c->fd);
    free(c);
}


static void
conn_send(conn_t *c, const char *data)
{
    size_t  len = strlen(data), off = 0;
    ssize_t n;

    while (off < len) {
        n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        off += (size_t) n;
    }
}


/* Reads more into c->buf (bounded by the socket's receive timeout). 1 if data came. */
static int
conn_fill(conn_t *c)
{
    ssize_t n;

    if (c->eof || c->len == sizeof(c->buf)) {
        return 0;
    }
    do {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    } while (n == -1 && errno == EINTR);

    if (n > 0) {
        c->len += (size_t) n;
        return 1;
    }
    c->eof = (n == 0) ? 1 : -1;
    return 0;
}


static void
conn_consume(conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}


static int
hdr_value(const char *headers, const char *name, char *out, size_t size)
{
    size_t      nl = strlen(name);
    const char *p  = strstr(headers, "\r\n");
    const char *e;

    while (p != NULL && p[2] != '\r') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') {
                p++;
            }
            e = strstr(p, "\r\n");
            snprintf(out, size, "%.*s", (int) (e - p), p);
            return 1;
        }
        p = strstr(p, "\r\n");
    }
    return 0;
}


/*
 * Reads one response from c. head_only: the answer to HEAD, no body
 * whatever Content-Length says. Returns 0, or -1 with why in err.
 */
static int
conn_read(conn_t *c, resp_t *r, int head_only, char *err, size_t errsize)
{
    char  *eoh;
    size_t hlen, need;
    char   v[64];

    memset(r, 0, sizeof(*r));
    r->content_length = -1;

    for (;;) {
        eoh = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (eoh != NULL) {
            break;
        }
        if (!conn_fill(c)) {
            snprintf(err, errsize, "%s after %zu bytes of a response head",
                     c->eof == 1 ? "EOF" : (c->eof == -1 ? strerror(errno) : "buffer full"),
                     c->len);
            return -1;
        }
    }

    hlen = (size_t) (eoh - c->buf) + 4;
    snprintf(r->headers, sizeof(r->headers), "%.*s", (int) hlen, c->buf);
    if (sscanf(r->headers, "HTTP/1.%*d %d", &r->status) != 1) {
        snprintf(err, errsize, "bad status line: %.60s", r->headers);
        return -1;
    }
    if (hdr_value(r->headers, "Connection", v, sizeof(v))) {
        r->conn_close = strcasecmp(v, "close") == 0;
    }
    if (hdr_value(r->headers, "Content-Length", v, sizeof(v))) {
        r->content_length = strtol(v, NULL, 10);
    }
    conn_consume(c, hlen);

    if (head_only) {
        return 0;
    }
    if (r->content_length < 0) {
        snprintf(err, errsize, "no Content-Length in:\n%s", r->headers);
        return -1;
    }

    need = (size_t) r->content_length;
    while (c->len < need) {
        if (!conn_fill(c)) {
            snprintf(err, errsize, "body: %zu of %zu bytes, then %s", c->len, need,
                     c->eof == 1 ? "EOF" : strerror(errno));
            return -1;
        }
    }
    r->body_len = need;
    snprintf(r->body, sizeof(r->body), "%.*s", (int) need, c->buf);
    conn_consume(c, need);
    return 0;
}


/* conn_read() that must succeed. */
static void
must_read(conn_t *c, resp_t *r, int head_only, const char *what)
{
    char err[4300];

    ck_assert_msg(conn_read(c, r, head_only, err, sizeof(err)) == 0, "%s: %s", what, err);
}


/*
 * Waits (bounded by ms) until the server closes c: 1 on EOF, -1 on a
 * reset, 0 on timeout, 2 if more data came instead (left unread).
 */
static int
conn_wait_close(conn_t *c, int ms)
{
    long long     end = zpt_now_ms() + ms;
    struct pollfd pfd;
    char          ch;
    ssize_t       n;
    int           left;

    if (c->len) {
        return 2;
    }
    if (c->eof) {
        return c->eof;
    }
    for (;;) {
        left = (int) (end - zpt_now_ms());
        if (left <= 0) {
            return 0;
        }
        pfd.fd      = c->fd;
        pfd.events  = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }
        n = recv(c->fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK);
        if (n == 0) {
            return 1;
        }
        if (n > 0) {
            return 2;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
}


static const char *
close_text(int rc)
{
    switch (rc) {
    case 1: return "EOF";
    case -1: return "a reset";
    case 2: return "more data";
    default: return "a timeout (still open)";
    }
}


/*
 * A timed-out request: the server closes the connection, silently or
 * after a 408 (both are fine), within the wait bound. Returns the
 * close_text() code of the end.
 */
static int
timed_out(conn_t *c, const char *what)
{
    resp_t r;
    int    rc;

    rc = conn_wait_close(c, zpt_wait_ms());
    if (rc == 2) {
        must_read(c, &r, 0, what);
        ck_assert_msg(r.status == 408, "%s: answered %d instead of closing", what, r.status);
        rc = conn_wait_close(c, zpt_wait_ms());
    }
    return rc;
}


/* One request on a fresh connection; the response is read and returned. */
static void
one(int port, const char *req, resp_t *r, const char *what)
{
    conn_t *c = conn_open(port);

    conn_send(c, req);
    must_read(c, r, 0, what);
    conn_close(c);
}


/* A request the server must refuse with status and then close. */
static void
refused(int port, const char *req, int status, const char *what)
{
    conn_t *c = conn_open(port);
    resp_t  r;
    int     rc;

    conn_send(c, req);
    must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(r.conn_close, "%s: %d without Connection: close:\n%s", what, status,
                  r.headers);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "%s: after the %d: %s", what, status, close_text(rc));
    conn_close(c);
}


static pid_t
start(zpt_srv_t *s, pid_t *w)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_int_eq(zpt_srv_conf(s, HTTP_CONF, s->port), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start (see the logs above)");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);
    return master;
}


/* The same two workers still run, and they serve. */
static void
assert_same_workers(zpt_srv_t *s, pid_t master, const pid_t *w0)
{
    pid_t  w[4];
    resp_t r;
    int    n, i;

    n = zpt_workers(master, w, 4);
    ck_assert_msg(n == 2 && zpt_pid_in(w[0], w0, 2) && zpt_pid_in(w[1], w0, 2),
                  "workers changed: %d %d -> %d of them (%d %d)", w0[0], w0[1], n, w[0], w[1]);
    ck_assert_msg(!zpt_file_has_line(s->error_log, "exited on signal", NULL),
                  "a worker crashed (see error.log)");

    for (i = 0; i < 4; i++) {
        one(s->port, "GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r,
            "GET /api afterwards");
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "api\n");
    }
}


START_TEST(test_routes)
{
    zpt_srv_t s;
    resp_t    r;
    pid_t     master, w0[2];
    char      ct[128];
    conn_t   *c;

    master = start(&s, w0);

    /* all on one keep-alive connection: a 404 keeps it open too */
    c = conn_open(s.port);

    conn_send(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/health");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "exact\n");
    ck_assert(!r.conn_close);

    conn_send(c, "GET /health?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/health?probe=1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strcmp(r.body, "exact\n") == 0, "/health?probe=1 answered \"%s\"", r.body);

    conn_send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");

    conn_send(c, "GET /health/deep HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/health/deep");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");

    /* longest prefix wins, whatever the order in the config */
    conn_send(c, "GET /api/v2/users HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/api/v2/users");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api-v2\n");

    conn_send(c, "GET /api/v1/users HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/api/v1/users");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");

    conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/api");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");

    /* no route: 404 with the HTML error page */
    conn_send(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/nothing");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(strstr(r.body, "<html>") != NULL && strstr(r.body, "404") != NULL,
                  "404 body: %s", r.body);
    ck_assert_msg(hdr_value(r.headers, "Content-Type", ct, sizeof(ct))
                      && strncmp(ct, "text/html", 9) == 0,
                  "404 Content-Type: %s", r.headers);
    ck_assert_int_eq(r.content_length, (long) r.body_len);
    ck_assert_msg(!r.conn_close, "a 404 closed the keep-alive connection");

    conn_send(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "/");
    ck_assert_int_eq(r.status, 404);

    /* the connection still works after the 404s */
    conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    must_read(c, &r, 0, "/api/v2 after 404");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api-v2\n");
    ck_assert(r.conn_close);
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_head_and_http10)
{
    zpt_srv_t s;
    resp_t    r;
    pid_t     master, w0[2];
    conn_t   *c;
    int       rc;

    master = start(&s, w0);

    /* HEAD: Content-Length of the GET body, no body; the next answer is intact */
    c = conn_open(s.port);
    conn_send(c, "HEAD /api HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 1, "HEAD /api");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.content_length, 4);
    ck_assert(!r.conn_close);

    conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    must_read(c, &r, 0, "GET after HEAD");
    ck_assert_msg(r.status == 200, "GET after HEAD: status %d (HEAD sent a body?)", r.status);
    ck_assert_str_eq(r.body, "api-v2\n");
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after Connection: close: %s", close_text(rc));
    conn_close(c);

    /* HEAD of a 404: headers only too */
    c = conn_open(s.port);
    conn_send(c, "HEAD /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    must_read(c, &r, 1, "HEAD /none");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(r.content_length > 0, "HEAD 404 without Content-Length:\n%s", r.headers);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "HEAD 404: %s (a body was sent?)", close_text(rc));
    conn_close(c);

    /* HTTP/1.0 without keep-alive: close, then EOF; no Host needed */
    c = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.0\r\n\r\n");
    must_read(c, &r, 0, "HTTP/1.0");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    ck_assert_msg(r.conn_close, "HTTP/1.0 answer without Connection: close:\n%s", r.headers);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "HTTP/1.0: %s instead of EOF", close_text(rc));
    conn_close(c);

    /* HTTP/1.0 with keep-alive stays open */
    c = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    must_read(c, &r, 0, "HTTP/1.0 keep-alive");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);
    conn_send(c, "GET /api/v2 HTTP/1.0\r\n\r\n");
    must_read(c, &r, 0, "HTTP/1.0 second request");
    ck_assert_str_eq(r.body, "api-v2\n");
    ck_assert(r.conn_close);
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_bad_requests)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      big[4096 + 256];
    int       off;

    master = start(&s, w0);

    refused(s.port, "GET /api HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 400,
            "HTTP/1.1 without Host");
    refused(s.port, "G(T /api HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad method byte");
    refused(s.port, "GET /api HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400,
            "obs-fold");
    refused(s.port,
            "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            400, "Content-Length with Transfer-Encoding");
    refused(s.port,
            "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            400, "unknown transfer coding");
    refused(s.port,
            "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            400, "conflicting Content-Length");

    /* a chunked body (with a trailer) is read past, and the connection
     * serves the next request */
    {
        conn_t *c = conn_open(s.port);
        resp_t  r;

        conn_send(c, "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
                     "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
        must_read(c, &r, 0, "chunked POST");
        ck_assert_int_eq(r.status, 200);
        ck_assert(!r.conn_close);
        must_read(c, &r, 0, "GET after a chunked POST");
        ck_assert_int_eq(r.status, 200);
        conn_close(c);
    }

    /* a head of ~4 KiB against client_header_buffer_size 1k */
    off = snprintf(big, sizeof(big), "GET /api HTTP/1.1\r\nHost: x\r\n");
    while (off < 4096) {
        off += snprintf(big + off, sizeof(big) - (size_t) off, "X-Filler-%04d: %s\r\n", off,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    }
    snprintf(big + off, sizeof(big) - (size_t) off, "\r\n");
    refused(s.port, big, 431, "header block over client_header_buffer_size");

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_pipelining)
{
    zpt_srv_t s;
    resp_t    r;
    pid_t     master, w0[2];
    conn_t   *c;
    int       rc;

    master = start(&s, w0);

    c = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "pipelined 1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    ck_assert(!r.conn_close);
    must_read(c, &r, 0, "pipelined 2");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "exact\n");
    ck_assert(!r.conn_close);

    /* three at once, the last one closing */
    conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    must_read(c, &r, 0, "pipelined 3");
    ck_assert_str_eq(r.body, "api-v2\n");
    must_read(c, &r, 0, "pipelined 4");
    ck_assert_int_eq(r.status, 404);
    must_read(c, &r, 0, "pipelined 5");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");
    ck_assert(r.conn_close);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after the pipelined close: %s", close_text(rc));
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_keepalive_limits)
{
    zpt_srv_t s;
    resp_t    r;
    pid_t     master, w0[2];
    conn_t   *c;
    int       i, rc;

    master = start(&s, w0);

    /* keepalive_requests 3: the third answer closes */
    c = conn_open(s.port);
    for (i = 1; i <= 3; i++) {
        conn_send(c, "GET /ka3 HTTP/1.1\r\nHost: x\r\n\r\n");
        must_read(c, &r, 0, "GET /ka3");
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ka3\n");
        ck_assert_msg(r.conn_close == (i == 3), "response %d: Connection: %s", i,
                      r.conn_close ? "close" : "keep-alive");
    }
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after keepalive_requests: %s instead of EOF", close_text(rc));
    conn_close(c);

    /* keepalive_timeout 1s: the server ends the idle connection */
    c = conn_open(s.port);
    conn_send(c, "GET /kat HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /kat");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "idle keep-alive past keepalive_timeout: %s", close_text(rc));
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_client_header_timeout)
{
    zpt_srv_t s;
    resp_t    r;
    pid_t     master, w0[2];
    conn_t   *c;
    int       rc;

    master = start(&s, w0);

    /* a partial head on a fresh connection */
    c  = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.1\r\nHo");
    rc = timed_out(c, "partial head");
    ck_assert_msg(rc == 1 || rc == -1, "partial head past client_header_timeout (1s): %s",
                  close_text(rc));
    conn_close(c);

    /* a connection that never sends anything */
    c  = conn_open(s.port);
    rc = timed_out(c, "silent connection");
    ck_assert_msg(rc == 1 || rc == -1, "silent connection past client_header_timeout (1s): %s",
                  close_text(rc));
    conn_close(c);

    /* a partial head of a second request on a keep-alive connection */
    c = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "first request");
    ck_assert_int_eq(r.status, 200);
    conn_send(c, "GET /api HTTP/1.1\r\nHo");
    rc = timed_out(c, "partial second head");
    ck_assert_msg(rc == 1 || rc == -1, "partial second head past client_header_timeout (1s): %s",
                  close_text(rc));
    conn_close(c);

    /* a partial head pipelined behind a complete request */
    c = conn_open(s.port);
    conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\r\nHo");
    must_read(c, &r, 0, "request before the partial pipelined head");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    rc = timed_out(c, "partial pipelined head");
    ck_assert_msg(rc == 1 || rc == -1,
                  "partial head pipelined behind a request, past client_header_timeout (1s): "
                  "%s after %d ms",
                  close_text(rc), zpt_wait_ms());
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


static Suite *
http_minimal_suite(void)
{
    Suite *s  = suite_create("http_minimal");
    TCase *tc = tcase_create("http_minimal");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_routes);
    tcase_add_test(tc, test_head_and_http10);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_pipelining);
    tcase_add_test(tc, test_keepalive_limits);
    tcase_add_test(tc, test_client_header_timeout);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(http_minimal_suite)
