/*
 * HTTP/1.1 request rules over real sockets, each with its status and
 * whether the connection is closed after it: Content-Length with
 * Transfer-Encoding, duplicate Host, conflicting Content-Length, unknown
 * codings, Transfer-Encoding on HTTP/1.0, Expect, a request line or head
 * over client_header_buffer_size, a body over client_max_body_size;
 * chunked bodies (extensions and trailers skipped, bad or overflowing
 * sizes closing the connection), Expect: 100-continue, keep-alive after a
 * 404, 50 pipelined requests in one write. The workers survive it all.
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

/* ---- a buffered HTTP/1.1 client over a real socket ------------------------ */

typedef struct {
    int    fd;
    char   buf[262144];
    size_t len;
    int    eof; /* the peer closed (1) or reset (-1) */
} conn_t;

typedef struct {
    int    status;
    int    conn_close;
    long   content_length;
    char   headers[4096];
    char   body[16384];
    size_t body_len;
    size_t total; /* bytes of head + body */
} resp_t;


static __attribute__((unused)) conn_t *
conn_open(int port)
{
    conn_t *c = calloc(1, sizeof(conn_t));

    ck_assert(c != NULL);
    c->fd = zpt_connect(port);
    ck_assert_msg(c->fd >= 0, "connect to %d: %s", port, strerror(errno));
    return c;
}


static __attribute__((unused)) void
conn_close(conn_t *c)
{
    close(c->fd);
    free(c);
}


static __attribute__((unused)) void
conn_send_n(conn_t *c, const char *data, size_t len)
{
    size_t  off = 0;
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


static __attribute__((unused)) void
conn_send(conn_t *c, const char *data)
{
    conn_send_n(c, data, strlen(data));
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


/* Value of the first header `name` in a response head; 1 if found. */
static __attribute__((unused)) int
hdr_value(const char *headers, const char *name, char *out, size_t size)
{
    size_t      nl = strlen(name);
    const char *p  = strstr(headers, "\r\n");
    const char *e;

    while (p != NULL && p[2] != '\r' && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') {
                p++;
            }
            e = strstr(p, "\r\n");
            snprintf(out, size, "%.*s", (int) (e ? e - p : (long) strlen(p)), p);
            return 1;
        }
        p = strstr(p, "\r\n");
    }
    return 0;
}


/*
 * Reads one response from c. head_only: the answer to HEAD (or a 1xx), no
 * body whatever Content-Length says. Returns 0, or -1 with why in err.
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
    r->total = hlen;

    if (head_only || (r->status >= 100 && r->status < 200)) {
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
    r->total += need;
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
static __attribute__((unused)) int
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


static __attribute__((unused)) const char *
close_text(int rc)
{
    switch (rc) {
    case 1: return "EOF";
    case -1: return "a reset";
    case 2: return "more data";
    default: return "a timeout (still open)";
    }
}


/* One request on a fresh connection; the response is read and returned. */
static __attribute__((unused)) void
one(int port, const char *req, resp_t *r, int head_only, const char *what)
{
    conn_t *c = conn_open(port);

    conn_send(c, req);
    must_read(c, r, head_only, what);
    conn_close(c);
}


/* `METHOD path` with Host host and extra header lines, on a fresh connection. */
static __attribute__((unused)) void
req(int port, const char *method, const char *host, const char *path, const char *extra,
    resp_t *r)
{
    char buf[8192];

    snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n",
             method, path, host, extra ? extra : "");
    one(port, buf, r, strcmp(method, "HEAD") == 0, buf);
}


/* A request the server must refuse with status and then close. */
static __attribute__((unused)) void
refused(int port, const char *request, int status, const char *what)
{
    conn_t *c = conn_open(port);
    resp_t  r;
    int     rc;

    conn_send(c, request);
    must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(r.conn_close, "%s: %d without Connection: close:\n%s", what, status,
                  r.headers);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "%s: after the %d: %s", what, status, close_text(rc));
    conn_close(c);
}


/* Starts s with the config text (already formatted) and its 2 workers. */
static __attribute__((unused)) pid_t
start_conf(zpt_srv_t *s, const char *conf, pid_t *w)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_conf(s, "%s", conf), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start (see the logs above)");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);
    return master;
}


/* The same two workers still run and none crashed. */
static __attribute__((unused)) void
assert_same_workers(zpt_srv_t *s, pid_t master, const pid_t *w0)
{
    pid_t w[4];
    int   n;

    n = zpt_workers(master, w, 4);
    ck_assert_msg(n == 2 && zpt_pid_in(w[0], w0, 2) && zpt_pid_in(w[1], w0, 2),
                  "workers changed: %d %d -> %d of them (%d %d)", w0[0], w0[1], n, w[0], w[1]);
    ck_assert_msg(!zpt_file_has_line(s->error_log, "exited on signal", NULL),
                  "a worker crashed (see error.log)");
}


/* Runs `zproxy -p <prefix> -t -c <conf>`; returns the exit code, stderr in err. */
static __attribute__((unused)) int
conftest(zpt_srv_t *s, char *err, size_t size)
{
    const char *args[] = {"-p", s->prefix, "-t", "-c", s->conf, NULL};

    return zpt_run(args, NULL, 0, err, size);
}


/* -t must fail with a line "zproxy: <conf>:<line>: ...a..." (b too if not NULL). */
static __attribute__((unused)) void
conftest_error(zpt_srv_t *s, int line, const char *a, const char *b)
{
    char        err[16384], prefix[1024], l[2048];
    const char *p, *nl;
    int         rc, found = 0;

    rc = conftest(s, err, sizeof(err));
    ck_assert_msg(rc == 1, "zproxy -t exited %d (expected 1) for \"%s\", stderr:\n%s", rc, a, err);

    snprintf(prefix, sizeof(prefix), "zproxy: %s:%d: ", s->conf, line);
    for (p = err; *p && !found; p = nl + 1) {
        nl = strchr(p, '\n');
        snprintf(l, sizeof(l), "%.*s", (int) (nl ? nl - p : (long) strlen(p)), p);
        found = strncmp(l, prefix, strlen(prefix)) == 0 && strstr(l, a) != NULL
                && (b == NULL || strstr(l, b) != NULL);
        if (nl == NULL) {
            break;
        }
    }
    ck_assert_msg(found, "expected a line \"%s...%s...%s\", stderr:\n%s", prefix, a, b ? b : "",
                  err);
}

static pid_t
start_h1(zpt_srv_t *s, pid_t *w)
{
    char conf[4096];

    ck_assert_int_eq(zpt_srv_init(s), 0);
    snprintf(conf, sizeof(conf),
             "worker_processes 2;\n"
             "daemon off;\n"
             "pid logs/zproxy.pid;\n"
             "error_log logs/error.log info;\n"
             "events { worker_connections 1024; }\n"
             "http {\n"
             "    access_log logs/access.log;\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        client_header_buffer_size 1k;\n"
             "        route = /a { return 200 \"a\\n\"; }\n"
             "        route /p/:n { return 200 \"p$param_n\\n\"; }\n"
             "        route /small/ { client_max_body_size 10; return 200 \"small\\n\"; }\n"
             "        route = /host { return 200 \"$host\\n\"; }\n"
             "    }\n"
             "}\n",
             s->port);
    return start_conf(s, conf, w);
}


/* A request the server must answer with status and keep the connection for the next. */
static void
kept(int port, const char *request, int status, const char *what)
{
    conn_t *c = conn_open(port);
    resp_t  r;

    conn_send(c, request);
    must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(!r.conn_close, "%s: the connection closes:\n%s", what, r.headers);
    conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /a after it");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "%s: then GET /a got %d \"%s\"",
                  what, r.status, r.body);
    conn_close(c);
}


/*
 * A request whose body is broken: the connection must end, at most one
 * response (to the broken request itself) comes first, and the request
 * pipelined behind it is never answered.
 */
static void
cut(int port, const char *request, const char *what)
{
    conn_t *c = conn_open(port);
    resp_t  r;
    char    err[4300];
    int     n = 0, rc;

    conn_send(c, request);
    while (conn_read(c, &r, 0, err, sizeof(err)) == 0) {
        n++;
        ck_assert_msg(n == 1, "%s: a response to the pipelined request (%d \"%s\")", what,
                      r.status, r.body);
        ck_assert_msg(r.status == 200 || r.status == 400 || r.status == 413,
                      "%s: answered %d", what, r.status);
    }
    rc = c->eof;
    ck_assert_msg(rc == 1 || rc == -1, "%s: the connection was not closed: %s", what, err);
    conn_close(c);
}


START_TEST(test_request_rules)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      big[4096];
    int       off;
    resp_t    r;

    master = start_h1(&s, w0);

    refused(s.port,
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n0\r\n\r\n",
            400, "Content-Length with Transfer-Encoding");
    refused(s.port,
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
            "5\r\nhello\r\n0\r\n\r\n",
            400, "Transfer-Encoding with Content-Length");
    refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "duplicate Host");
    refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", 400, "duplicate Host, same");
    refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400, "conflicting Content-Length");
    refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
            "invalid Content-Length");
    refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
            "negative Content-Length");
    refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
            "unknown Transfer-Encoding");
    refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
            "Transfer-Encoding gzip, chunked");
    refused(s.port,
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400, "Transfer-Encoding twice");
    refused(s.port, "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            "HTTP/1.0 with Transfer-Encoding");
    refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\n\r\n", 417,
            "Expect other than 100-continue");
    refused(s.port, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 413,
            "Content-Length over client_max_body_size");

    /* a request line longer than client_header_buffer_size (1k) */
    off = snprintf(big, sizeof(big), "GET /");
    memset(big + off, 'a', 2000);
    off += 2000;
    snprintf(big + off, sizeof(big) - (size_t) off, " HTTP/1.1\r\nHost: x\r\n\r\n");
    refused(s.port, big, 414, "request line over client_header_buffer_size");

    /* a short line, then headers past the buffer */
    off = snprintf(big, sizeof(big), "GET /a HTTP/1.1\r\nHost: x\r\n");
    while (off < 2048) {
        off += snprintf(big + off, sizeof(big) - (size_t) off, "X-Filler-%04d: %s\r\n", off,
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    }
    snprintf(big + off, sizeof(big) - (size_t) off, "\r\n");
    refused(s.port, big, 431, "header block over client_header_buffer_size");

    /* accepted: the same Content-Length twice; a body within the limit */
    kept(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
         200, "the same Content-Length twice");
    kept(s.port, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 200,
         "a body of client_max_body_size");
    kept(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 200,
         "Transfer-Encoding: Chunked (any case)");

    /* absolute-form: its host wins over Host */
    one(s.port, "GET http://Abs.Example:8080/host HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
        &r, 0, "absolute-form");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "abs.example\n") == 0,
                  "absolute-form target: %d \"%s\"", r.status, r.body);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_chunked)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    conn_t   *c;
    resp_t    r;

    master = start_h1(&s, w0);

    /* extensions and trailers are skipped; the pipelined request is answered */
    c = conn_open(s.port);
    conn_send(c, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5;ext=1;name=\"quoted value\"\r\nhello\r\n"
                 "6 ; e\r\n world\r\n"
                 "0;last\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n"
                 "GET /p/next HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "chunked POST");
    ck_assert_msg(r.status == 200 && !r.conn_close, "chunked POST: %d\n%s", r.status, r.headers);
    must_read(c, &r, 0, "GET after the chunked POST");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "pnext\n") == 0,
                  "GET after the chunked POST: %d \"%s\"", r.status, r.body);
    conn_close(c);

    /* the same, the body trickling in after the response */
    c = conn_open(s.port);
    conn_send(c, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    must_read(c, &r, 0, "chunked POST, head only");
    ck_assert_int_eq(r.status, 200);
    if (!r.conn_close) {
        conn_send(c, "3;x=y\r\nabc\r\n");
        conn_send(c, "0\r\nT: v\r\n\r\nGET /p/later HTTP/1.1\r\nHost: x\r\n\r\n");
        must_read(c, &r, 0, "GET after a late chunked body");
        ck_assert_msg(r.status == 200 && strcmp(r.body, "plater\n") == 0,
                      "GET after a late chunked body: %d \"%s\"", r.status, r.body);
    }
    conn_close(c);

    cut(s.port,
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "zz\r\nhello\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunk size \"zz\"");
    cut(s.port,
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "10000000000000000\r\nhello\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunk size of 17 hex digits");
    cut(s.port,
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhelloXX\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunk longer than its size");
    cut(s.port,
        "POST /small/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "b\r\nhello world\r\n0\r\n\r\nGET /p/smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunked body over client_max_body_size");

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_expect_continue)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    conn_t   *c;
    resp_t    r;
    int       rc;

    master = start_h1(&s, w0);

    /* the head alone: a 100 Continue (then the body) or the final answer */
    c = conn_open(s.port);
    conn_send(c, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Expect: 100-continue\r\n\r\n");
    must_read(c, &r, 0, "Expect: 100-continue, head only");
    if (r.status == 100) {
        conn_send(c, "hello");
        must_read(c, &r, 0, "after 100 Continue");
    }
    ck_assert_msg(r.status == 200 && strcmp(r.body, "small\n") == 0,
                  "Expect: 100-continue: %d \"%s\"", r.status, r.body);
    if (r.conn_close) {
        rc = conn_wait_close(c, zpt_wait_ms());
        ck_assert_msg(rc == 1 || rc == -1, "after Connection: close: %s", close_text(rc));
    } else {
        /* the server kept the connection: it expects the body, then more */
        conn_send(c, "hello");
        conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        must_read(c, &r, 0, "GET after the 100-continue request");
        ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0,
                      "GET after the 100-continue request: %d \"%s\"", r.status, r.body);
    }
    conn_close(c);

    /* head and body together: answered, and the connection goes on */
    c = conn_open(s.port);
    conn_send(c, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Expect: 100-Continue\r\n\r\nhello"
                 "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "Expect with its body");
    if (r.status == 100) {
        must_read(c, &r, 0, "final after 100");
    }
    ck_assert_msg(r.status == 200 && strcmp(r.body, "small\n") == 0, "Expect with its body: %d",
                  r.status);
    ck_assert_msg(!r.conn_close, "Expect with the body already sent closes:\n%s", r.headers);
    must_read(c, &r, 0, "GET after");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "GET after: %d \"%s\"", r.status,
                  r.body);
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_keepalive_and_pipelining)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    conn_t   *c;
    resp_t    r;
    char      buf[8192], want[32];
    int       off = 0, i, rc;

    master = start_h1(&s, w0);

    /* a 404 keeps the connection */
    c = conn_open(s.port);
    conn_send(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /nothing");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(!r.conn_close, "a 404 closes the connection:\n%s", r.headers);
    conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /a after the 404");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "after the 404: %d", r.status);
    ck_assert(!r.conn_close);

    /* 50 requests in one write (more than the 1k buffer holds): 50 answers in order */
    for (i = 0; i < 50; i++) {
        off += snprintf(buf + off, sizeof(buf) - (size_t) off,
                        "GET /p/%d HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n\r\n", i, i);
    }
    conn_send(c, buf);
    for (i = 0; i < 50; i++) {
        char what[64];

        snprintf(what, sizeof(what), "pipelined response %d", i);
        must_read(c, &r, 0, what);
        snprintf(want, sizeof(want), "p%d\n", i);
        ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0,
                      "pipelined response %d: %d \"%s\"", i, r.status, r.body);
        ck_assert_msg(!r.conn_close, "pipelined response %d closes", i);
    }

    /* and the connection still serves, then closes on request */
    conn_send(c, "GET /p/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    must_read(c, &r, 0, "after the pipeline");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "plast\n") == 0 && r.conn_close,
                  "after the pipeline: %d \"%s\"", r.status, r.body);
    rc = conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after Connection: close: %s", close_text(rc));
    conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


static Suite *
http1_suite(void)
{
    Suite *s  = suite_create("http1");
    TCase *tc = tcase_create("http1");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_request_rules);
    tcase_add_test(tc, test_chunked);
    tcase_add_test(tc, test_expect_continue);
    tcase_add_test(tc, test_keepalive_and_pipelining);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(http1_suite)
