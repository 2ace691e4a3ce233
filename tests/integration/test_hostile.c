/*
 * Hostile input (issue #6): slow and abusive clients and malformed
 * requests. Each case checks the answer (status, close), then that the two
 * workers still run (same pids, no crash in error.log), that a normal GET
 * is served, and that the workers' descriptor count returns to its
 * baseline (waited for boundedly, as lingering closes take a moment).
 * Proxied cases go to tests/backend/zpt_backend; its /stats "active" count
 * must settle too (a released upstream connection is closed: the upstream
 * group keeps none).
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






/* The backend's open connections, our own /stats connection excluded. */
static int
backend_active(int port)
{
    zpt_resp_t r;
    char      *p;

    if (zpt_http_get_once(port, "/stats", &r) != 0) {
        return -1;
    }
    p = strstr(r.body, "active=");
    return p ? atoi(p + 7) - 1 : -1;
}


/* Waits (bounded) until the backend has no connection but ours. */
static int
backend_settle(int port)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       n;

    while ((n = backend_active(port)) != 0 && zpt_now_ms() < end) {
        zpt_msleep(100);
    }
    return n;
}


/* ---- the server ------------------------------------------------------------------ */

static zpt_srv_t srv;
static pid_t     master, workers[2];
static int       bport;
static int       fd_base;

#define CONF_FMT                                                                                   \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections %d; }\n"                                                          \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    client_header_timeout 2s;\n"                                                              \
    "    client_body_timeout 2s;\n"                                                                \
    "    client_max_body_size 1g;\n"                                                               \
    "    upstream up { server 127.0.0.1:%d max_fails=0; }\n"                                       \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                               \
    "        server_name localhost;\n"                                                             \
    "        route /upload { proxy_pass http://up; }\n"                                            \
    "        route /size/ { proxy_pass http://up; }\n"                                             \
    "        route /hang { proxy_pass http://up; }\n"                                              \
    "        route /echo { proxy_pass http://up; }\n"                                              \
    "        route / { return 200 \"hello\\n\"; }\n"                                               \
    "    }\n"                                                                                      \
    "    server { listen 127.0.0.1:%d; server_name a.example; route / { return 200 \"A\\n\"; } }\n" \
    "    server { listen 127.0.0.1:%d; server_name b.example; route / { return 200 \"B\\n\"; } }\n" \
    "}\n"


static int
fd_sum(void)
{
    return zpt_fd_count(workers[0]) + zpt_fd_count(workers[1]);
}


/* Waits (bounded) until the workers' descriptors are back at the baseline. */
static int
fd_settle(void)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       n;

    while ((n = fd_sum()) > fd_base && zpt_now_ms() < end) {
        zpt_msleep(100);
    }
    return n;
}


static long
rss_kb(pid_t pid)
{
    char buf[64];

    return zpt_proc_status(pid, "VmRSS", buf, sizeof(buf)) == 0 ? strtol(buf, NULL, 10) : -1;
}


/* Starts the backend and zproxy (2 workers), records the fd baseline. */
static void
start(int worker_connections)
{
    char       conf[4096];
    zpt_resp_t r;

    bport = backend_start("A");
    ck_assert(zpt_srv_init(&srv) == 0);
    snprintf(conf, sizeof(conf), CONF_FMT, worker_connections, bport, srv.port, srv.port,
             srv.port);
    master = zpt_start_conf(&srv, conf, workers);
    fd_base = fd_sum();
    ck_assert_msg(zpt_http_get_once(srv.port, "/", &r) == 0 && r.status == 200, "first GET: %s",
                  r.error);
    ck_assert_msg(fd_settle() <= fd_base, "descriptors after one GET: %d, baseline %d", fd_sum(),
                  fd_base);
}


/* A normal GET is served, directly and through the proxy. */
static void
assert_serving(const char *what)
{
    zpt_resp_t r;

    ck_assert_msg(zpt_http_get_once(srv.port, "/", &r) == 0 && r.status == 200,
                  "%s: a normal GET failed: %s (status %d)", what, r.error, r.status);
    ck_assert_msg(zpt_http_get_once(srv.port, "/size/13", &r) == 0 && r.status == 200,
                  "%s: a proxied GET failed: %s (status %d)", what, r.error, r.status);
}


/* The end of every case: same workers, serving, no descriptor leak. */
static void
assert_healthy(const char *what)
{
    int n;

    zpt_assert_same_workers(&srv, master, workers);
    assert_serving(what);
    n = fd_settle();
    ck_assert_msg(n <= fd_base, "%s: the workers hold %d descriptors, baseline %d", what, n,
                  fd_base);
    n = backend_settle(bport);
    ck_assert_msg(n == 0, "%s: the backend still has %d connections from the proxy", what, n);
}


static void
rst_close(int fd)
{
    struct linger lg = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}


/* ---- slow clients ------------------------------------------------------------------ */

/* 200 connections sending a header byte every 200 ms, client_header_timeout
 * 2s: all are closed by the server within a bound; a normal client is
 * served meanwhile. */
START_TEST(test_hostile_slowloris)
{
    enum { N = 200 };
    static const char head[] = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    int               fds[N], sent[N], open_n = N, served = 0, answered408 = 0, i;
    long long         end;
    char              buf[4096], c;
    ssize_t           k;
    zpt_resp_t        r;

    start(1024);
    for (i = 0; i < N; i++) {
        fds[i] = zpt_connect(srv.port);
        ck_assert_msg(fds[i] >= 0, "connect %d: %s", i, strerror(errno));
        sent[i] = 0;
    }

    end = zpt_now_ms() + zpt_wait_ms() + 2000;
    while (open_n > 0 && zpt_now_ms() < end) {
        for (i = 0; i < N; i++) {
            if (fds[i] < 0) {
                continue;
            }
            c = sent[i] < (int) sizeof(head) - 1 ? head[sent[i]] : 'a';
            if (send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
                sent[i]++;
            }
            struct pollfd p = {fds[i], POLLIN, 0};
            if (poll(&p, 1, 0) == 1) {
                k = recv(fds[i], buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (k > 0) {
                    buf[k] = '\0';
                    answered408 += strncmp(buf, "HTTP/1.1 408", 12) == 0;
                    k = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
                }
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    close(fds[i]);
                    fds[i] = -1;
                    open_n--;
                }
            }
        }
        /* a normal client meanwhile */
        ck_assert_msg(zpt_http_get_once(srv.port, "/", &r) == 0 && r.status == 200,
                      "a normal client was not served during the slowloris: %s", r.error);
        served++;
        zpt_msleep(200);
    }
    for (i = 0; i < N; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    ck_assert_msg(open_n == 0, "%d of %d slowloris connections still open after the bound",
                  open_n, N);
    fprintf(stderr, "slowloris: %d closed (%d with a 408 first), %d normal GETs served\n", N,
            answered408, served);
    assert_healthy("slowloris");
    zpt_teardown();
}
END_TEST


/* A POST through the proxy, Content-Length 1000, a byte every 500 ms,
 * client_body_timeout 2s: 408 and closed. */
START_TEST(test_hostile_slow_body)
{
    zpt_conn_t *c;
    zpt_resp_t  r;
    long long   end;
    int         bytes = 0, answered = 0, rc;
    struct pollfd p;

    start(1024);
    c = zpt_conn_open(srv.port);
    zpt_conn_send(c, "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n");
    /* trickle for at most the wait bound plus the timeout: far less than the
     * 500 s the whole body would take */
    end = zpt_now_ms() + zpt_wait_ms() + 2000;
    while (bytes < 1000 && zpt_now_ms() < end) {
        p.fd     = c->fd;
        p.events = POLLIN;
        if (poll(&p, 1, 500) == 1) {
            answered = 1;
            break;
        }
        if (send(c->fd, "x", 1, MSG_NOSIGNAL) != 1) {
            answered = 1;
            break;
        }
        bytes++;
    }
    ck_assert_msg(answered, "no answer after %d body bytes sent a byte every 500 ms "
                  "(client_body_timeout 2s)", bytes);
    zpt_must_read(c, &r, 0, "slow body");
    ck_assert_msg(r.status == 408, "slow body: status %d, expected 408", r.status);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "slow body: after the 408: %s", zpt_close_text(rc));
    zpt_conn_close(c);
    assert_healthy("slow body");
    zpt_teardown();
}
END_TEST


/* ---- a flood beyond worker_connections ------------------------------------------------- */

START_TEST(test_hostile_flood)
{
    enum { N = 300 };
    int       fds[N], state[N]; /* 0 waiting, 1 served, 2 closed, 3 garbage */
    char      bufs[N][512], buf[4096];
    size_t    lens[N];
    int       i, pending, served = 0, closed = 0, waiting = 0, garbage = 0, progress;
    long      rss, max_rss = 0;
    long long end;
    ssize_t   k;
    zpt_resp_t r;
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    start(64);
    for (i = 0; i < N; i++) {
        fds[i]  = zpt_connect(srv.port);
        state[i] = fds[i] < 0 ? 2 : 0;
        lens[i] = 0;
        if (fds[i] >= 0 && send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1) {
            close(fds[i]);
            fds[i]   = -1;
            state[i] = 2;
        }
    }

    /* read until every connection is resolved or nothing happens for 2 s */
    end = zpt_now_ms() + zpt_wait_ms();
    do {
        progress = 0;
        pending  = 0;
        for (i = 0; i < N; i++) {
            if (fds[i] < 0) {
                continue;
            }
            k = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
            if (k > 0) {
                progress = 1;
                size_t m = (size_t) k < sizeof(bufs[i]) - lens[i] ? (size_t) k
                                                                 : sizeof(bufs[i]) - lens[i];
                memcpy(bufs[i] + lens[i], buf, m);
                lens[i] += m;
                if (lens[i] >= 12 && memcmp(bufs[i], "HTTP/1.1 ", 9) != 0) {
                    state[i] = 3;
                } else if (memmem(bufs[i], lens[i], "\r\n\r\nhello\n", 10)) {
                    state[i] = 1;
                }
            } else if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                progress = 1;
                if (state[i] == 0) {
                    state[i] = 2;
                }
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            pending += state[i] == 0;
        }
        for (int w = 0; w < 2; w++) {
            rss     = rss_kb(workers[w]);
            max_rss = rss > max_rss ? rss : max_rss;
        }
        if (pending) {
            long long quiet = zpt_now_ms() + 2000;
            while (!progress && zpt_now_ms() < quiet) {
                /* wait for any byte or close on a waiting connection */
                struct pollfd pf[N];
                int           np = 0;
                for (i = 0; i < N; i++) {
                    if (fds[i] >= 0 && state[i] == 0) {
                        pf[np].fd = fds[i], pf[np].events = POLLIN, pf[np].revents = 0, np++;
                    }
                }
                if (poll(pf, (nfds_t) np, 200) > 0) {
                    progress = 1;
                }
            }
        }
    } while (pending && progress && zpt_now_ms() < end);

    for (i = 0; i < N; i++) {
        served += state[i] == 1;
        closed += state[i] == 2;
        garbage += state[i] == 3;
        waiting += state[i] == 0;
    }
    fprintf(stderr,
            "flood (worker_connections 64, 2 workers): %d connections: %d served, %d closed, "
            "%d never answered (accept backlog), %d garbage; max worker RSS %ld kB; "
            "log has \"worker_connections\": %d\n",
            N, served, closed, waiting, garbage, max_rss,
            zpt_file_has_line(srv.error_log, "worker_connections", NULL));
    ck_assert_msg(garbage == 0, "%d connections got something other than a response", garbage);
    ck_assert_msg(served > 0, "no connection of the flood was served");
    ck_assert_msg(max_rss > 0 && max_rss < 64 * 1024, "worker RSS reached %ld kB", max_rss);
    zpt_assert_same_workers(&srv, master, workers);

    /* they go: normal service resumes */
    for (i = 0; i < N; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    end = zpt_now_ms() + zpt_wait_ms();
    while (!(zpt_http_get_once(srv.port, "/", &r) == 0 && r.status == 200) && zpt_now_ms() < end) {
        zpt_msleep(100);
    }
    assert_healthy("after the flood");
    zpt_teardown();
}
END_TEST


/* ---- clients that disappear ------------------------------------------------------------ */

START_TEST(test_hostile_client_gone)
{
    static const char *heads[] = {
        "GET / HTTP/1.1\r\nHost: loc",
        "GET /size/100 HTTP/1.1\r\nHost: localhost\r\nX-A: b",
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Len",
    };
    char     buf[65536], head[256];
    int      fd, i, rst, n;
    size_t   got;
    ssize_t  k;

    start(1024);

    /* mid-request-head, FIN and RST */
    for (rst = 0; rst < 2; rst++) {
        for (i = 0; i < 3; i++) {
            fd = zpt_connect(srv.port);
            ck_assert(fd >= 0);
            ck_assert(send(fd, heads[i], strlen(heads[i]), MSG_NOSIGNAL) > 0);
            zpt_msleep(50);
            rst ? rst_close(fd) : (void) close(fd);
        }
    }
    assert_healthy("client gone mid-head");

    /* mid-body through the proxy: 50 kB of 100 kB sent */
    memset(buf, 'b', sizeof(buf));
    for (rst = 0; rst < 2; rst++) {
        fd = zpt_connect(srv.port);
        ck_assert(fd >= 0);
        snprintf(head, sizeof(head),
                 "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n");
        ck_assert(send(fd, head, strlen(head), MSG_NOSIGNAL) > 0);
        ck_assert(send(fd, buf, 50000, MSG_NOSIGNAL) == 50000);
        zpt_msleep(200);
        ck_assert_msg(backend_active(bport) >= 1, "the upload did not reach the backend");
        rst ? rst_close(fd) : (void) close(fd);
        n = backend_settle(bport);
        ck_assert_msg(n == 0, "mid-body (%s): the backend still has %d connections",
                      rst ? "RST" : "FIN", n);
    }
    assert_healthy("client gone mid-body");

    /* mid-response, upstream data pending: 100 MB, closed after 1 MB */
    for (rst = 0; rst < 2; rst++) {
        fd = zpt_connect(srv.port);
        ck_assert(fd >= 0);
        snprintf(head, sizeof(head),
                 "GET /size/104857600 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert(send(fd, head, strlen(head), MSG_NOSIGNAL) > 0);
        for (got = 0; got < 1024 * 1024; got += (size_t) k) {
            k = recv(fd, buf, sizeof(buf), 0);
            ck_assert_msg(k > 0, "download ended after %zu bytes", got);
        }
        rst ? rst_close(fd) : (void) close(fd);
        n = backend_settle(bport);
        ck_assert_msg(n == 0, "mid-response (%s, data pending): the backend still has %d "
                      "connections", rst ? "RST" : "FIN", n);
    }
    assert_healthy("client gone mid-response, data pending");

    /* mid-response, nothing pending: /hang sent its head and waits (the
     * default proxy_read_timeout is 60 s, so only the client's close can
     * release the upstream connection within the bound) */
    for (rst = 0; rst < 2; rst++) {
        fd = zpt_connect(srv.port);
        ck_assert(fd >= 0);
        snprintf(head, sizeof(head), "GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ck_assert(send(fd, head, strlen(head), MSG_NOSIGNAL) > 0);
        long long end = zpt_now_ms() + zpt_wait_ms();
        while (backend_active(bport) < 1 && zpt_now_ms() < end) {
            zpt_msleep(50);
        }
        zpt_msleep(200);
        rst ? rst_close(fd) : (void) close(fd);
        n = backend_settle(bport);
        ck_assert_msg(n == 0, "mid-response (%s, upstream idle): the backend still has %d "
                      "connections", rst ? "RST" : "FIN", n);
    }
    assert_healthy("client gone mid-response, upstream idle");
    zpt_teardown();
}
END_TEST


/* ---- malformed requests ----------------------------------------------------------------- */

typedef struct {
    const char *what;
    const char *data;
    size_t      len;    /* 0: strlen(data) */
    int         status; /* expected; -1: no 2xx (none or an error status) */
    int         closed; /* the connection must be closed after it */
} bad_case_t;

#define CHUNKED_POST "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"

static char big_ext[6000];

START_TEST(test_hostile_malformed)
{
    static const char nul_name[]  = "GET / HTTP/1.1\r\nHost: localhost\r\nX-A\0b: 1\r\n\r\n";
    static const char nul_value[] = "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n";
    bad_case_t        cases[] = {
        {"tab in the request line", "GET\t/ HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 400, 1},
        {"tab before the version", "GET /\tHTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 400, 1},
        {"tab after the version", "GET / HTTP/1.1\t\r\nHost: localhost\r\n\r\n", 0, 400, 1},
        {"a second version", "GET / HTTP/1.1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 400, 1},
        {"LF in the target", "GET /a\nHTTP/1.1 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, 400, 1},
        {"NUL in a header name", nul_name, sizeof(nul_name) - 1, 400, 1},
        {"NUL in a header value", nul_value, sizeof(nul_value) - 1, 400, 1},
        {"\\x01 in a framing header name",
         "POST /upload HTTP/1.1\r\nHost: localhost\r\n\x01" "Content-Length: 5\r\n\r\nhello", 0,
         400, 1},
        {"\\x01 in Content-Length",
         "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\x01\r\n\r\nhello", 0,
         400, 1},
        {"\\x01 in Host", "GET / HTTP/1.1\r\nHost: local\x01host\r\n\r\n", 0, 400, 1},
        {"DEL in Transfer-Encoding",
         "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\x7f\r\n\r\n"
         "5\r\nhello\r\n0\r\n\r\n",
         0, 400, 1},
        {"Transfer-Encoding : chunked",
         "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n"
         "5\r\nhello\r\n0\r\n\r\n",
         0, 400, 1},
        {"Transfer-Encoding: chunked, identity",
         "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
         "5\r\nhello\r\n0\r\n\r\n",
         0, 400, 1},
        {"chunk size of 17 hex digits (2^64)", CHUNKED_POST "10000000000000000\r\nhello\r\n0\r\n\r\n",
         0, -1, 1},
        {"chunk size of 18 hex digits", CHUNKED_POST "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 0,
         -1, 1},
        {"chunk size 16 f's (2^64-1)", CHUNKED_POST "ffffffffffffffff\r\nhello\r\n0\r\n\r\n", 0, -1,
         1},
        {"chunk extension over 4 KiB", big_ext, 0, -1, 1},
        /* controls that must pass */
        {"tab in a header value (allowed)", "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\tb\r\n\r\n",
         0, 200, 0},
        {"two spaces after the method (allowed)", "GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n", 0,
         200, 0},
        {"two spaces before the version (allowed)", "GET /  HTTP/1.1\r\nHost: localhost\r\n\r\n",
         0, 200, 0},
        {"\\x01 in a header name (dropped)",
         "GET / HTTP/1.1\r\nHost: localhost\r\nX-\x01: 1\r\n\r\n", 0, 200, 0},
        {"\\x01 in a header value (kept)",
         "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x01\r\n\r\n", 0, 200, 0},
        {"\\x1f in a header value (kept)",
         "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x1f\r\n\r\n", 0, 200, 0},
        {"DEL in a header value (kept)",
         "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x7f\r\n\r\n", 0, 200, 0},
        {"small chunk extension (allowed)", CHUNKED_POST "5;x=y\r\nhello\r\n0\r\n\r\n", 0, 200, 0},
    };
    char        fails[4096] = "", line[512];
    zpt_conn_t *c;
    zpt_resp_t  r;
    int         rc, closed;
    size_t      i, off;

    off = (size_t) snprintf(big_ext, sizeof(big_ext), "%s5;x=", CHUNKED_POST);
    memset(big_ext + off, 'e', 5000);
    off += 5000;
    snprintf(big_ext + off, sizeof(big_ext) - off, "\r\nhello\r\n0\r\n\r\n");

    start(1024);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = zpt_conn_open(srv.port);
        zpt_conn_send_n(c, cases[i].data, cases[i].len ? cases[i].len : strlen(cases[i].data));
        memset(&r, 0, sizeof(r));
        if (zpt_conn_read(c, &r, 0) != 0) {
            r.status = 0;
        }
        if (cases[i].closed) {
            rc     = c->eof ? 1 : zpt_conn_wait_close(c, zpt_wait_ms());
            closed = rc == 1 || rc == -1;
        } else {
            closed = r.conn_close || c->eof;
        }
        fprintf(stderr, "malformed: %-40s -> status %d, %s\n", cases[i].what, r.status,
                closed ? "closed" : "kept open");
        if ((cases[i].status == -1 && r.status >= 200 && r.status < 300) ||
            (cases[i].status != -1 && r.status != cases[i].status) || closed != cases[i].closed) {
            snprintf(line, sizeof(line), "%s: status %d, %s (expected %s%d, %s); ", cases[i].what,
                     r.status, closed ? "closed" : "kept open",
                     cases[i].status == -1 ? "no 2xx, e.g. " : "",
                     cases[i].status == -1 ? 400 : cases[i].status,
                     cases[i].closed ? "closed" : "kept open");
            strncat(fails, line, sizeof(fails) - strlen(fails) - 1);
        }
        zpt_conn_close(c);
        assert_serving(cases[i].what);
    }

    /* absolute-form with a conflicting Host: the target's authority wins */
    c = zpt_conn_open(srv.port);
    zpt_conn_send(c, "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n");
    zpt_must_read(c, &r, 0, "absolute-form");
    fprintf(stderr, "malformed: %-40s -> status %d, body %.*s", "absolute-form a, Host b",
            r.status, (int) r.body_len, r.body);
    if (r.status != 200 || strcmp(r.body, "A\n") != 0) {
        snprintf(line, sizeof(line), "absolute-form http://a.example/x with Host b.example: status "
                 "%d body \"%.*s\" (expected 200 from server a.example); ",
                 r.status, (int) r.body_len, r.body);
        strncat(fails, line, sizeof(fails) - strlen(fails) - 1);
    }
    if (r.conn_close) {
        strncat(fails, "absolute-form: Connection: close; ", sizeof(fails) - strlen(fails) - 1);
    }
    zpt_conn_send(c, "GET http://b.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "absolute-form b");
    if (r.status != 200 || strcmp(r.body, "B\n") != 0) {
        snprintf(line, sizeof(line), "absolute-form http://b.example/x with Host a.example: "
                 "body \"%.*s\"; ", (int) r.body_len, r.body);
        strncat(fails, line, sizeof(fails) - strlen(fails) - 1);
    }
    zpt_conn_close(c);

    assert_healthy("malformed requests");
    ck_assert_msg(fails[0] == '\0', "%s", fails);
    zpt_teardown();
}
END_TEST


static Suite *
hostile_suite(void)
{
    Suite *s  = suite_create("hostile");
    TCase *tc = tcase_create("hostile");

    zpt_backend_build();
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_hostile_slowloris);
    tcase_add_test(tc, test_hostile_slow_body);
    tcase_add_test(tc, test_hostile_flood);
    tcase_add_test(tc, test_hostile_client_gone);
    tcase_add_test(tc, test_hostile_malformed);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(hostile_suite)
