/*
 * Faulty backends (issue #6): what a client of the proxy sees, and what the
 * error log says, when the upstream misbehaves. tests/backend/zpt_backend
 * covers refused connections, /reset, /truncate and /hang; the rest comes
 * from a raw-socket origin in a thread of this test (raw_srv_t), scripted
 * per connection: half a head then RST, a whole head then RST, a malformed
 * status line or header, more bytes than Content-Length, a kept-alive
 * connection closed just as it is reused, a request read and never
 * answered. Each case checks the status or the close the client gets, the
 * log line naming the upstream, and whether the request was retried
 * (the raw origin counts connections and requests).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_client.h"



/* ---- tests/backend/zpt_backend ------------------------------------------------- */

/* the backend's port; it is cleaned up with every other child */
static int
backend_start(const char *id)
{
    zpt_backend_t b;

    return zpt_backend_start(&b, id, 0);
}






/* ---- a raw-socket origin in a thread ------------------------------------------- */

typedef enum {
    RAW_HALF_HEAD_RST, /* "HTTP/1.1 200 OK\r\nContent-Le" then RST */
    RAW_HEAD_RST,      /* a whole head (Content-Length 100000), 100 bytes, then RST */
    RAW_BAD_STATUS,    /* "HTTP/1.1 2x0 OK" */
    RAW_BAD_HDR_SPACE, /* "X Bad: 1" (space in a header name) */
    RAW_BAD_HDR_NOCOLON,
    RAW_BAD_HDR_NUL,  /* a NUL in a header value */
    RAW_BAD_HDR_CTL,  /* a \x01 in a header value: taken from a client, not from an upstream */
    RAW_OVERLONG,     /* first request of a connection: Content-Length 5, 10 bytes */
    RAW_KA_CLOSE,     /* connection 1: answer once (keep-alive), read the next request, close */
    RAW_NEVER_ANSWER, /* read the request, close without answering */
    RAW_PART_HANG,    /* a head (Content-Length 100), 10 bytes, then silence */
} raw_mode_t;

typedef struct {
    int              lfd;
    int              port;
    raw_mode_t       mode;
    atomic_int       stop;
    atomic_int       accepts;
    atomic_int       requests;
    atomic_int       posts;
    atomic_int       active; /* connection threads running */
    pthread_t        thr;
} raw_srv_t;

typedef struct {
    raw_srv_t *s;
    int        fd;
    int        index; /* 1-based accept order */
    char       buf[65536];
    size_t     len;
} raw_conn_t;


static void
raw_send(int fd, const char *p, size_t n)
{
    ssize_t k;

    while (n) {
        k = send(fd, p, n, MSG_NOSIGNAL);
        if (k == -1 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return;
        }
        p += k;
        n -= (size_t) k;
    }
}


static void
raw_rst(int fd)
{
    struct linger lg = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}


/*
 * Reads one request (head and Content-Length body) from c; its method into
 * method. Returns 1, or 0 on EOF, error or timeout.
 */
static int
raw_read_request(raw_conn_t *c, char *method, size_t msize)
{
    char   *end, *cl;
    size_t  hlen, need;
    long    clen = 0;
    ssize_t n;

    for (;;) {
        c->buf[c->len] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (end) {
            hlen = (size_t) (end - c->buf) + 4;
            cl   = strcasestr(c->buf, "\r\ncontent-length:");
            if (cl && cl < end) {
                clen = strtol(cl + 17, NULL, 10);
            }
            need = hlen + (size_t) clen;
            if (c->len >= need) {
                snprintf(method, msize, "%.*s", (int) strcspn(c->buf, " "), c->buf);
                memmove(c->buf, c->buf + need, c->len - need);
                c->len -= need;
                atomic_fetch_add(&c->s->requests, 1);
                if (strcmp(method, "POST") == 0) {
                    atomic_fetch_add(&c->s->posts, 1);
                }
                return 1;
            }
        }
        if (c->len >= sizeof(c->buf) - 1) {
            return 0;
        }
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        c->len += (size_t) n;
    }
}


#define RAW_OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


static void *
raw_conn_main(void *arg)
{
    raw_conn_t *c = arg;
    char        method[32], body[256];
    const char *resp = NULL;

    switch (c->s->mode) {
    case RAW_HALF_HEAD_RST:
        if (raw_read_request(c, method, sizeof(method))) {
            raw_send(c->fd, "HTTP/1.1 200 OK\r\nContent-Le", 27);
            zpt_msleep(50);
        }
        raw_rst(c->fd);
        goto done;

    case RAW_HEAD_RST:
        if (raw_read_request(c, method, sizeof(method))) {
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
            raw_send(c->fd, head, sizeof(head) - 1);
            memset(body, 'x', 100);
            raw_send(c->fd, body, 100);
            zpt_msleep(200);
        }
        raw_rst(c->fd);
        goto done;

    case RAW_BAD_STATUS:
        resp = "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok";
        break;
    case RAW_BAD_HDR_SPACE:
        resp = "HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok";
        break;
    case RAW_BAD_HDR_NOCOLON:
        resp = "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 2\r\n\r\nok";
        break;
    case RAW_BAD_HDR_CTL:
        resp = "HTTP/1.1 200 OK\r\nX-A: a\x01" "b\r\nContent-Length: 2\r\n\r\nok";
        break;
    case RAW_BAD_HDR_NUL:
        if (raw_read_request(c, method, sizeof(method))) {
            static const char r[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok";
            raw_send(c->fd, r, sizeof(r) - 1);
            zpt_msleep(200);
        }
        close(c->fd);
        goto done;

    case RAW_OVERLONG:
        /* the first request of each connection gets 10 bytes for a length of 5,
         * the next ones a normal answer */
        if (raw_read_request(c, method, sizeof(method))) {
            raw_send(c->fd,
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n"
                     "0123456789",
                     72);
            while (raw_read_request(c, method, sizeof(method))) {
                raw_send(c->fd, RAW_OK, strlen(RAW_OK));
            }
        }
        close(c->fd);
        goto done;

    case RAW_KA_CLOSE:
        if (c->index == 1) {
            if (raw_read_request(c, method, sizeof(method))) {
                raw_send(c->fd, RAW_OK, strlen(RAW_OK));
                /* the next request on this connection: closed unanswered */
                raw_read_request(c, method, sizeof(method));
            }
            close(c->fd);
            goto done;
        }
        while (raw_read_request(c, method, sizeof(method))) {
            snprintf(body, sizeof(body), "served %s", method);
            char head[256];
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                     strlen(body));
            raw_send(c->fd, head, strlen(head));
            raw_send(c->fd, body, strlen(body));
        }
        close(c->fd);
        goto done;

    case RAW_PART_HANG:
        if (raw_read_request(c, method, sizeof(method))) {
            static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
            struct pollfd     p   = {c->fd, POLLIN, 0};
            raw_send(c->fd, r, sizeof(r) - 1);
            poll(&p, 1, 10000); /* until the proxy closes, at most 10 s */
        }
        close(c->fd);
        goto done;

    case RAW_NEVER_ANSWER:
        raw_read_request(c, method, sizeof(method));
        close(c->fd);
        goto done;
    }

    if (raw_read_request(c, method, sizeof(method))) {
        raw_send(c->fd, resp, strlen(resp));
        zpt_msleep(200);
    }
    close(c->fd);

done:
    atomic_fetch_sub(&c->s->active, 1);
    free(c);
    return NULL;
}


static void *
raw_accept_main(void *arg)
{
    raw_srv_t     *s = arg;
    struct pollfd  pfd;
    struct timeval tv = {10, 0};
    pthread_t      t;
    raw_conn_t    *c;
    int            fd;

    while (!atomic_load(&s->stop)) {
        pfd.fd     = s->lfd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->s     = s;
        c->fd    = fd;
        c->index = atomic_fetch_add(&s->accepts, 1) + 1;
        atomic_fetch_add(&s->active, 1);
        if (pthread_create(&t, NULL, raw_conn_main, c) != 0) {
            atomic_fetch_sub(&s->active, 1);
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}


static void
raw_start(raw_srv_t *s, raw_mode_t mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->lfd  = zpt_listen_any(128, &s->port);
    ck_assert(s->lfd >= 0);
    ck_assert(pthread_create(&s->thr, NULL, raw_accept_main, s) == 0);
}


static void
raw_stop(raw_srv_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thr, NULL);
    close(s->lfd);
}


/* ---- zproxy ------------------------------------------------------------------- */

#define CONF_FMT                                                                                   \
    "worker_processes 1;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    upstream up { server 127.0.0.1:%d max_fails=0; %s }\n"                                                \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                               \
    "        %s\n"                                                                                 \
    "        route / { proxy_pass http://up; }\n"                                                  \
    "    }\n"                                                                                      \
    "}\n"

static zpt_srv_t srv;
static pid_t     worker;


/* Starts zproxy with one worker, upstream "up" = 127.0.0.1:port. */
static void
proxy_start(int port, const char *upstream_extra, const char *server_extra)
{
    ck_assert(zpt_srv_init(&srv) == 0);
    ck_assert(zpt_srv_conf(&srv, CONF_FMT, port, upstream_extra, srv.port, server_extra) == 0);
    ck_assert_msg(zpt_srv_start(&srv) > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(srv.pid, 1, NULL, 0, &worker, zpt_wait_ms()) == 1,
                  "no worker");
}


/* The worker still runs (same pid) and nothing crashed. */
static void
assert_worker_ok(void)
{
    pid_t w;

    ck_assert_msg(zpt_workers(srv.pid, &w, 1) == 1 && w == worker, "the worker changed");
    ck_assert_msg(!zpt_file_has_line(srv.error_log, "exited on signal", NULL),
                  "a worker crashed (see error.log)");
}


/* Everything a request gets until the server closes: head, body, how it ended. */
typedef struct {
    int    status;
    char   head[4096];
    long   clen;       /* Content-Length, -1 if none */
    int    chunked;
    size_t body_len;   /* bytes after the head */
    char   body[4096]; /* their start */
    int    end;        /* 1 EOF, -1 reset, 0 still open at the bound */
} full_t;


static void
request_full(int port, const char *req, full_t *f)
{
    char    buf[65536], v[64];
    size_t  got = 0, hlen = 0;
    ssize_t n;
    int     fd;

    memset(f, 0, sizeof(*f));
    f->clen = -1;
    fd      = zpt_connect(port);
    ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
    ck_assert(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t) strlen(req));
    for (;;) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            f->end = n == 0 ? 1 : (errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1);
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (!hlen) {
                if (got < sizeof(f->head) - 1) {
                    f->head[got] = buf[i];
                }
                got++;
                if (got >= 4 && got < sizeof(f->head) && memcmp(f->head + got - 4, "\r\n\r\n", 4) == 0) {
                    hlen = got;
                }
            } else {
                if (f->body_len < sizeof(f->body)) {
                    f->body[f->body_len] = buf[i];
                }
                f->body_len++;
            }
        }
    }
    close(fd);
    if (strncmp(f->head, "HTTP/1.", 7) == 0) {
        f->status = atoi(f->head + 9);
    }
    if (zpt_hdr_value(f->head, "Content-Length", v, sizeof(v))) {
        f->clen = atol(v);
    }
    if (zpt_hdr_value(f->head, "Transfer-Encoding", v, sizeof(v))) {
        f->chunked = strcasecmp(v, "chunked") == 0;
    }
}


/* The body as received is not a complete response. */
static int
incomplete(const full_t *f)
{
    if (f->clen >= 0) {
        return f->body_len < (size_t) f->clen;
    }
    if (f->chunked) {
        size_t n = f->body_len < sizeof(f->body) ? f->body_len : sizeof(f->body);
        return !(n >= 5 && memcmp(f->body + n - 5, "0\r\n\r\n", 5) == 0);
    }
    return 0; /* close-delimited: indistinguishable, the caller fails it */
}


#define GET_CLOSE(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

/* The error log has a line with a, b and c (any may be NULL) within a bound. */
static int
log_has3(const char *a, const char *b, const char *c)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    char     *text, *line, *save;
    int       found = 0;

    do {
        text = zpt_read_file(srv.error_log, NULL);
        if (text) {
            for (line = strtok_r(text, "\n", &save); line && !found;
                 line = strtok_r(NULL, "\n", &save)) {
                found = (!a || strstr(line, a)) && (!b || strstr(line, b)) && (!c || strstr(line, c));
            }
            free(text);
        }
        if (!found) {
            zpt_msleep(50);
        }
    } while (!found && zpt_now_ms() < end);
    return found;
}


/* A normal proxied request works (to a backend at bport, or the raw server). */
static void
assert_serving(const char *path, int status)
{
    full_t *f = malloc(sizeof(*f));
    char    req[256];

    ck_assert(f != NULL);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             path);
    request_full(srv.port, req, f);
    ck_assert_msg(f->status == status, "%s: status %d, expected %d", path, f->status, status);
    free(f);
}


/* ---- tests ------------------------------------------------------------------------ */

/* Nothing listens on the upstream port: 502, logged with the address. */
START_TEST(test_faulty_refused)
{
    char   up[64];
    int    port = zpt_free_port();
    full_t f;

    proxy_start(port, "", "");
    request_full(srv.port, GET_CLOSE("/x"), &f);
    ck_assert_int_eq(f.status, 502);
    snprintf(up, sizeof(up), "127.0.0.1:%d", port);
    ck_assert_msg(log_has3("connect() failed", "Connection refused", up),
                  "no log line for the refused connect to %s", up);
    assert_worker_ok();
    zpt_teardown();
}
END_TEST


/* The backend resets before any response byte (/reset): 502. */
START_TEST(test_faulty_reset_before_head)
{
    char   up[64];
    int    port = backend_start("A");
    full_t f;

    proxy_start(port, "", "");
    request_full(srv.port, GET_CLOSE("/reset"), &f);
    ck_assert_int_eq(f.status, 502);
    snprintf(up, sizeof(up), "127.0.0.1:%d", port);
    ck_assert_msg(log_has3("upstream", up, NULL), "no log line naming %s", up);
    assert_serving("/size/13", 200);
    assert_worker_ok();
    zpt_teardown();
}
END_TEST


/* Half a head, then RST: 502 (GET and POST). */
START_TEST(test_faulty_half_head_rst)
{
    raw_srv_t rs;
    full_t    f;
    char      up[64];

    raw_start(&rs, RAW_HALF_HEAD_RST);
    proxy_start(rs.port, "", "");
    request_full(srv.port, GET_CLOSE("/x"), &f);
    ck_assert_msg(f.status == 502, "half a head then RST: status %d\n%s", f.status, f.head);
    request_full(srv.port,
                 "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                 "Connection: close\r\n\r\nabc",
                 &f);
    ck_assert_msg(f.status == 502, "POST, half a head then RST: status %d", f.status);
    snprintf(up, sizeof(up), "127.0.0.1:%d", rs.port);
    ck_assert_msg(log_has3("upstream", up, NULL), "no log line naming %s", up);
    assert_worker_ok();
    raw_stop(&rs);
    zpt_teardown();
}
END_TEST


/* A whole head, part of the body, then RST: the head went out, so the
 * client connection is closed before the announced length. */
START_TEST(test_faulty_rst_after_head)
{
    raw_srv_t rs;
    full_t    f;

    raw_start(&rs, RAW_HEAD_RST);
    proxy_start(rs.port, "", "");
    request_full(srv.port, GET_CLOSE("/x"), &f);
    ck_assert_int_eq(f.status, 200);
    ck_assert_msg(f.end != 0, "the client connection was not closed");
    ck_assert_msg(incomplete(&f) && (f.clen >= 0 || f.chunked),
                  "a complete-looking response after an upstream RST: %zu body bytes\n%s",
                  f.body_len, f.head);
    assert_worker_ok();
    raw_stop(&rs);
    zpt_teardown();
}
END_TEST


/* /truncate: Content-Length 100, 10 bytes, close: never a complete-looking
 * response, and the client connection is closed. */
START_TEST(test_faulty_truncated_body)
{
    int    port = backend_start("A");
    full_t f;

    proxy_start(port, "keepalive 4;", "");
    request_full(srv.port, GET_CLOSE("/truncate"), &f);
    ck_assert_int_eq(f.status, 200);
    ck_assert_msg(f.end != 0, "the client connection was not closed");
    ck_assert_msg(f.clen >= 0 || f.chunked, "close-delimited relay of a truncated body:\n%s",
                  f.head);
    ck_assert_msg(incomplete(&f), "a complete-looking response: %zu bytes\n%s", f.body_len,
                  f.head);

    /* also on a keep-alive client connection: no next response on it */
    zpt_conn_t *c = zpt_conn_open(srv.port);
    zpt_resp_t  r;
    int         rc;
    zpt_conn_send(c, "GET /truncate HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ck_assert_msg(zpt_conn_read(c, &r, 0) == -1, "keep-alive: a complete response:\n%s",
                  r.headers);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1 || c->eof, "keep-alive: %s", zpt_close_text(rc));
    zpt_conn_close(c);

    assert_serving("/size/13", 200);
    assert_worker_ok();
    zpt_teardown();
}
END_TEST


/* A malformed status line or header from the upstream: 502, logged. */
START_TEST(test_faulty_malformed_head)
{
    static const struct {
        raw_mode_t  mode;
        const char *what;
    } cases[] = {
        {RAW_BAD_STATUS, "status line \"HTTP/1.1 2x0 OK\""},
        {RAW_BAD_HDR_SPACE, "header \"X Bad: 1\""},
        {RAW_BAD_HDR_NOCOLON, "header line without a colon"},
        {RAW_BAD_HDR_NUL, "NUL in a header value"},
        {RAW_BAD_HDR_CTL, "\\x01 in a header value"},
    };
    char      up[64], fails[1024] = "";
    raw_srv_t rs;
    full_t    f;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        raw_start(&rs, cases[i].mode);
        proxy_start(rs.port, "", "");
        request_full(srv.port, GET_CLOSE("/x"), &f);
        snprintf(up, sizeof(up), "127.0.0.1:%d", rs.port);
        if (f.status != 502) {
            snprintf(fails + strlen(fails), sizeof(fails) - strlen(fails),
                     "%s: status %d, expected 502; ", cases[i].what, f.status);
        } else if (!log_has3("upstream sent", up, NULL)) {
            snprintf(fails + strlen(fails), sizeof(fails) - strlen(fails),
                     "%s: no \"upstream sent\" log line naming %s; ", cases[i].what, up);
        }
        assert_worker_ok();
        raw_stop(&rs);
        zpt_teardown();
    }
    ck_assert_msg(fails[0] == '\0', "%s", fails);
}
END_TEST


/* A head and 10 of 100 body bytes, then silence, proxy_read_timeout 1s:
 * the client gets the head and the 10 bytes, then a close; the log says
 * "timed out" and names the upstream. */
START_TEST(test_faulty_hang_after_partial_body)
{
    raw_srv_t rs;
    char      up[64];
    full_t    f;

    raw_start(&rs, RAW_PART_HANG);
    proxy_start(rs.port, "", "proxy_read_timeout 1s;");
    request_full(srv.port, GET_CLOSE("/x"), &f);
    ck_assert_int_eq(f.status, 200);
    ck_assert_msg(f.end != 0, "the client connection was not closed after the read timeout");
    ck_assert_msg(incomplete(&f) && (f.clen >= 0 || f.chunked),
                  "a complete-looking response:\n%s", f.head);
    snprintf(up, sizeof(up), "127.0.0.1:%d", rs.port);
    ck_assert_msg(log_has3("timed out", up, NULL), "no \"timed out\" log line naming %s", up);
    assert_worker_ok();
    raw_stop(&rs);
    zpt_teardown();
}
END_TEST


/* /hang: head then nothing, proxy_read_timeout 1s: the client connection
 * is closed after the head, and the log says "timed out" with the upstream. */
START_TEST(test_faulty_hang_after_head)
{
    int    port = backend_start("A");
    char   up[64];
    full_t f;

    proxy_start(port, "", "proxy_read_timeout 1s;");
    request_full(srv.port, GET_CLOSE("/hang"), &f);
    ck_assert_msg(f.status == 200,
                  "GET /hang: status %d (%zu head bytes, %zu body bytes, %s): the head the "
                  "upstream sent never reached the client, and no 504 either",
                  f.status, strlen(f.head), f.body_len,
                  f.end == 1 ? "closed" : f.end == -1 ? "reset" : "still open");
    ck_assert_msg(f.end != 0, "the client connection was not closed after the read timeout");
    ck_assert_msg(incomplete(&f), "a complete-looking response:\n%s", f.head);
    snprintf(up, sizeof(up), "127.0.0.1:%d", port);
    ck_assert_msg(log_has3("timed out", up, NULL), "no \"timed out\" log line naming %s", up);
    assert_serving("/size/13", 200);
    assert_worker_ok();
    zpt_teardown();
}
END_TEST


/* Content-Length 5 then 10 bytes: the client gets exactly 5, and the
 * upstream connection is not reused for the next request. */
START_TEST(test_faulty_more_than_content_length)
{
    raw_srv_t   rs;
    zpt_conn_t *c;
    zpt_resp_t  r;

    raw_start(&rs, RAW_OVERLONG);
    proxy_start(rs.port, "keepalive 8;", "");

    c = zpt_conn_open(srv.port);
    zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n");
    zpt_must_read(c, &r, 0, "overlong response");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq((int) r.body_len, 5);
    ck_assert_msg(memcmp(r.body, "01234", 5) == 0, "body \"%.5s\"", r.body);
    /* nothing more on the client connection: the next response is a clean one */
    if (!r.conn_close) {
        zpt_conn_send(c, "GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        zpt_must_read(c, &r, 0, "the next request on the client connection");
        ck_assert_msg(strncmp(r.headers, "HTTP/1.1 200", 12) == 0, "next: %s", r.headers);
        ck_assert_msg(r.body_len == 5 || r.body_len == 2, "next body %zu bytes", r.body_len);
    } else {
        zpt_conn_close(c);
        c = zpt_conn_open(srv.port);
        zpt_conn_send(c, "GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        zpt_must_read(c, &r, 0, "the next request");
        ck_assert_int_eq(r.status, 200);
    }
    zpt_conn_close(c);
    /* the second request went to a fresh upstream connection */
    ck_assert_msg(atomic_load(&rs.accepts) == 2,
                  "the upstream connection that sent too many bytes was reused "
                  "(%d connections for 2 requests)",
                  atomic_load(&rs.accepts));
    assert_worker_ok();
    raw_stop(&rs);
    zpt_teardown();
}
END_TEST


/* A pooled connection closed by the backend just as it is reused: GET and
 * a small POST are retried on a new connection (200), and the log says so. */
START_TEST(test_faulty_stale_pooled_connection)
{
    static const char *second[] = {
        "GET /again HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "POST /again HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
        "Connection: close\r\n\r\nhello world",
    };
    static const char *served[] = {"served GET", "served POST"};
    raw_srv_t          rs;
    full_t             f;

    for (int i = 0; i < 2; i++) {
        raw_start(&rs, RAW_KA_CLOSE);
        proxy_start(rs.port, "keepalive 8;", "");
        request_full(srv.port, GET_CLOSE("/first"), &f);
        ck_assert_int_eq(f.status, 200);
        ck_assert_int_eq(atomic_load(&rs.accepts), 1);

        request_full(srv.port, second[i], &f);
        ck_assert_msg(f.status == 200, "%s on a stale pooled connection: status %d",
                      served[i] + 7, f.status);
        ck_assert_msg(f.body_len >= strlen(served[i]) &&
                          memcmp(f.body, served[i], strlen(served[i])) == 0,
                      "body \"%.*s\"", (int) f.body_len, f.body);
        ck_assert_int_eq(atomic_load(&rs.accepts), 2);
        ck_assert_msg(log_has3("kept-alive upstream connection was closed", "retrying", NULL),
                      "no log line about the retry");
        assert_worker_ok();
        raw_stop(&rs);
        zpt_teardown();
    }
}
END_TEST


/* A POST sent on a fresh connection to a live server that closes without
 * answering is not retried: 502, the server saw it once. A GET is retried
 * per proxy_next_upstream (one peer here: one try), also 502. */
START_TEST(test_faulty_post_not_retried)
{
    raw_srv_t rs, rs2;
    full_t    f;
    char      up[200];

    raw_start(&rs, RAW_NEVER_ANSWER);
    raw_start(&rs2, RAW_NEVER_ANSWER);
    /* two peers: a retry would go to the other one */
    snprintf(up, sizeof(up), "server 127.0.0.1:%d; keepalive 8;", rs2.port);
    proxy_start(rs.port, up, "");
    request_full(srv.port,
                 "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n"
                 "Connection: close\r\n\r\nhello world",
                 &f);
    ck_assert_int_eq(f.status, 502);
    ck_assert_msg(atomic_load(&rs.posts) + atomic_load(&rs2.posts) == 1,
                  "the POST reached the upstreams %d times",
                  atomic_load(&rs.posts) + atomic_load(&rs2.posts));
    ck_assert_msg(log_has3("upstream prematurely closed connection", NULL, NULL),
                  "no log line for the unanswered POST");
    assert_worker_ok();
    raw_stop(&rs);
    raw_stop(&rs2);
    zpt_teardown();
}
END_TEST


static Suite *
faulty_suite(void)
{
    Suite *s  = suite_create("faulty_backend");
    TCase *tc = tcase_create("faulty");

    zpt_backend_build();
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_faulty_refused);
    tcase_add_test(tc, test_faulty_reset_before_head);
    tcase_add_test(tc, test_faulty_half_head_rst);
    tcase_add_test(tc, test_faulty_rst_after_head);
    tcase_add_test(tc, test_faulty_truncated_body);
    tcase_add_test(tc, test_faulty_malformed_head);
    tcase_add_test(tc, test_faulty_hang_after_partial_body);
    tcase_add_test(tc, test_faulty_hang_after_head);
    tcase_add_test(tc, test_faulty_more_than_content_length);
    tcase_add_test(tc, test_faulty_stale_pooled_connection);
    tcase_add_test(tc, test_faulty_post_not_retried);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(faulty_suite)
