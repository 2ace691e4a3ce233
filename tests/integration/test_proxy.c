/*
 * The reverse proxy end to end: zproxy in front of tests/backend/zpt_backend
 * (built once per test binary with cc): upstream groups and balancing,
 * the headers both ways, failures and retries (dead servers, timeouts, a
 * truncated response), keep-alive pools (reuse, a restarted backend),
 * streamed bodies both ways (10 MB uploads, a 100 MB download under a
 * memory bound, chunked relay to 1.1 and 1.0 clients), proxy_pass with a
 * URI part, $upstream_* variables and the configuration errors.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_client.h"

#define PATTERN     "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
#define PATTERN_LEN 63



/* ---- the backend ------------------------------------------------------------ */



typedef zpt_backend_t backend_t;






/* ---- a client: one request on a new connection, the response to EOF ---------- */

typedef struct {
    int      status;
    char     headers[8192];
    char     body[262144]; /* the first bytes of the body as received */
    size_t   stored;
    size_t   received;     /* body bytes received (framing included when chunked) */
    uint64_t hash;         /* fnv1a64 of the received body bytes */
    int      complete;     /* the peer closed after the whole head */
    long     max_rss_kb;   /* of rss_pid while reading, if set */
} resp_t;

static pid_t rss_pid[4];


static uint64_t
fnv1a64(uint64_t h, const unsigned char *p, size_t n)
{
    while (n--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL


static long
rss_kb(pid_t pid)
{
    char buf[64];

    if (zpt_proc_status(pid, "VmRSS", buf, sizeof(buf)) != 0) {
        return 0;
    }
    return strtol(buf, NULL, 10);
}


static void
send_all(int fd, const char *data, size_t len)
{
    ssize_t n;

    while (len) {
        n = send(fd, data, len, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        data += n;
        len -= (size_t) n;
    }
}


/* Reads a response to EOF from fd into r. */
static void
read_resp(int fd, resp_t *r)
{
    char    buf[65536], *end;
    size_t  hlen = 0, i;
    ssize_t n;
    int     in_head = 1;
    long    since = 0, kb;

    memset(r, 0, sizeof(*r));
    r->hash = FNV_INIT;

    for (;;) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r->complete = (n == 0);
            break;
        }

        i = 0;
        if (in_head) {
            for (; i < (size_t) n && hlen < sizeof(r->headers) - 1; i++) {
                r->headers[hlen++] = buf[i];
                if (hlen >= 4 && memcmp(r->headers + hlen - 4, "\r\n\r\n", 4) == 0) {
                    in_head = 0;
                    i++;
                    break;
                }
            }
            r->headers[hlen] = '\0';
        }
        if (!in_head && i < (size_t) n) {
            size_t k = (size_t) n - i;
            if (r->stored < sizeof(r->body)) {
                size_t m = k < sizeof(r->body) - r->stored ? k : sizeof(r->body) - r->stored;
                memcpy(r->body + r->stored, buf + i, m);
                r->stored += m;
            }
            r->received += k;
            r->hash = fnv1a64(r->hash, (unsigned char *) buf + i, k);
            since += (long) k;
            if (rss_pid[0] && since >= 4 * 1024 * 1024) {
                since = 0;
                for (int p = 0; p < 4 && rss_pid[p]; p++) {
                    kb = rss_kb(rss_pid[p]);
                    if (kb > r->max_rss_kb) {
                        r->max_rss_kb = kb;
                    }
                }
            }
        }
    }

    if (strncmp(r->headers, "HTTP/1.", 7) == 0) {
        r->status = (int) strtol(r->headers + 9, &end, 10);
    }
}


/* One request (the text as given) on a new connection. */
static void
request(int port, const char *req, resp_t *r)
{
    int fd = zpt_connect(port);

    ck_assert_msg(fd >= 0, "connect %d: %s", port, strerror(errno));
    send_all(fd, req, strlen(req));
    read_resp(fd, r);
    close(fd);
}


static void
get(int port, const char *path, resp_t *r)
{
    char req[1024];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             path);
    request(port, req, r);
}


/* The value of header name in the response head ("" if absent). */
static const char *
header(resp_t *r, const char *name, char *buf, size_t size)
{
    char  *p = r->headers, *eol;
    size_t len = strlen(name);

    buf[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            p += len + 1;
            while (*p == ' ') {
                p++;
            }
            eol = strstr(p, "\r\n");
            snprintf(buf, size, "%.*s", (int) (eol ? eol - p : (long) strlen(p)), p);
            return buf;
        }
    }
    return buf;
}


/* The echo endpoint lists the headers it got: "name: value" lines. */
static int
echo_has(resp_t *r, const char *line)
{
    char  *p = r->body;
    size_t len = strlen(line);

    r->body[r->stored < sizeof(r->body) ? r->stored : sizeof(r->body) - 1] = '\0';
    while (p && *p) {
        if (strncasecmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\r')) {
            return 1;
        }
        p = strchr(p, '\n');
        if (p) {
            p++;
        }
    }
    return 0;
}


static int
echo_has_name(resp_t *r, const char *name)
{
    char  *p = r->body;
    size_t len = strlen(name);

    r->body[r->stored < sizeof(r->body) ? r->stored : sizeof(r->body) - 1] = '\0';
    while (p && *p) {
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            return 1;
        }
        p = strchr(p, '\n');
        if (p) {
            p++;
        }
    }
    return 0;
}


/* Decodes a chunked body in place; the decoded length, or -1. */
static long
dechunk(char *p, size_t len)
{
    size_t in = 0, out = 0, size;
    char  *end;

    for (;;) {
        if (in >= len) {
            return -1;
        }
        size = strtoul(p + in, &end, 16);
        end  = strstr(end, "\r\n");
        if (end == NULL) {
            return -1;
        }
        in = (size_t) (end - p) + 2;
        if (size == 0) {
            return (long) out;
        }
        if (in + size + 2 > len) {
            return -1;
        }
        memmove(p + out, p + in, size);
        out += size;
        in += size + 2;
    }
}


static int
is_pattern(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != PATTERN[i % PATTERN_LEN]) {
            return 0;
        }
    }
    return 1;
}


/* ---- zproxy ------------------------------------------------------------------- */

#define CONF_HEAD                                                                                  \
    "worker_processes %d;\n"                                                                       \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    client_max_body_size 1g;\n"

static zpt_srv_t srv;


/* Starts zproxy: CONF_HEAD, the upstream blocks, then one server with routes. */
static void
proxy_start2(int workers, const char *upstreams, const char *routes)
{
    ck_assert(zpt_srv_init(&srv) == 0);
    ck_assert(zpt_srv_conf(&srv, CONF_HEAD "%s\n    server {\n        listen 127.0.0.1:%d;\n"
                                            "        %s\n    }\n}\n",
                           workers, upstreams, srv.port, routes) == 0);
    ck_assert_msg(zpt_srv_start(&srv) > 0, "zproxy did not start");
}


/* One worker in front of backend a as "upstream users" (keepalive 4). */
static void
proxy_to_users(backend_t *a, const char *routes)
{
    char up[128];

    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d; keepalive 4; }", a->port);
    proxy_start2(1, up, routes);
}


static int
backend_connections(backend_t *b)
{
    resp_t *r = malloc(sizeof(resp_t));
    char   *p;
    int     n = -1;

    ck_assert(r != NULL);
    get(b->port, "/stats", r);
    r->body[r->stored < sizeof(r->body) ? r->stored : 0] = '\0';
    p = strstr(r->body, "connections=");
    if (p) {
        n = atoi(p + 12);
    }
    free(r);
    return n;
}


/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_proxy_basic_get_and_request_headers)
{
    char      buf[256];
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a,
                   "route /echo/orders/:oid/items/* { proxy_pass http://users;"
                   " proxy_set_header X-Order $param_oid; proxy_set_header User-Agent \"\"; }\n"
                   "        route / { proxy_pass http://users; }");

    request(srv.port,
            "GET /echo/x?a=1 HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 1.2.3.4\r\n"
            "Connection: close, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
            "TE: trailers\r\nProxy-Connection: keep-alive\r\nX-Custom: kept\r\n\r\n",
            r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "X-Backend", buf, sizeof(buf)), "A");
    ck_assert_msg(strstr(r->body, "\"target\":\"/echo/x?a=1\"") != NULL, "%s", r->body);
    ck_assert_msg(echo_has(r, "host: users"), "%s", r->body);
    ck_assert_msg(echo_has(r, "x-forwarded-for: 1.2.3.4, 127.0.0.1"), "%s", r->body);
    ck_assert_msg(echo_has(r, "x-forwarded-proto: http"), "%s", r->body);
    ck_assert_msg(echo_has(r, "x-forwarded-host: localhost"), "%s", r->body);
    ck_assert_msg(echo_has(r, "x-custom: kept"), "%s", r->body);
    ck_assert_msg(echo_has(r, "connection: keep-alive"), "%s", r->body);
    ck_assert_msg(echo_has_name(r, "x-request-id"), "%s", r->body);
    ck_assert_msg(!echo_has_name(r, "x-hop"), "header named in Connection passed: %s", r->body);
    ck_assert_msg(!echo_has_name(r, "keep-alive"), "%s", r->body);
    ck_assert_msg(!echo_has_name(r, "te"), "%s", r->body);
    ck_assert_msg(!echo_has_name(r, "proxy-connection"), "%s", r->body);

    /* the client's request id is kept; route params in proxy_set_header;
     * an empty value removes a header */
    request(srv.port,
            "GET /echo/orders/42/items/a/b HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t/1\r\n"
            "X-Request-ID: abc-123\r\nConnection: close\r\n\r\n",
            r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(echo_has(r, "x-order: 42"), "%s", r->body);
    ck_assert_msg(echo_has(r, "x-request-id: abc-123"), "%s", r->body);
    ck_assert_msg(!echo_has_name(r, "user-agent"), "%s", r->body);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_response_headers)
{
    char      up[512], buf[256];
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d; }", a.port);
    proxy_start2(1, up,
                 "add_header X-Served-By zproxy; proxy_hide_header X-Backend;\n"
                 "        route / { proxy_pass http://users; }");

    get(srv.port, "/echo", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "X-Served-By", buf, sizeof(buf)), "zproxy");
    ck_assert_str_eq(header(r, "X-Backend", buf, sizeof(buf)), "");
    ck_assert_str_eq(header(r, "Server", buf, sizeof(buf)), "zproxy");

    get(srv.port, "/status/404", r);
    ck_assert_int_eq(r->status, 404);
    ck_assert_msg(strstr(r->body, "status 404") != NULL, "%s", r->body);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_round_robin_weights)
{
    char      up[512], buf[256];
    int       i, na = 0, nb = 0;
    backend_t a, b;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    zpt_backend_start(&b, "B", 0);
    snprintf(up, sizeof(up),
             "upstream users { server 127.0.0.1:%d weight=2 max_fails=3 fail_timeout=10s;"
             " server 127.0.0.1:%d; keepalive 8; }",
             a.port, b.port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 30; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
        header(r, "X-Backend", buf, sizeof(buf));
        na += strcmp(buf, "A") == 0;
        nb += strcmp(buf, "B") == 0;
    }
    ck_assert_int_eq(na, 20);
    ck_assert_int_eq(nb, 10);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_backup)
{
    char      up[512], buf[256];
    int       i;
    backend_t a, b, c;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    zpt_backend_start(&b, "B", 0);
    zpt_backend_start(&c, "C", 0);
    snprintf(up, sizeof(up),
             "upstream users { server 127.0.0.1:%d; server 127.0.0.1:%d down;"
             " server 127.0.0.1:%d backup; }",
             a.port, b.port, c.port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 6; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(header(r, "X-Backend", buf, sizeof(buf)), "A");
    }

    zpt_backend_stop(&a);

    for (i = 0; i < 6; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(header(r, "X-Backend", buf, sizeof(buf)), "C");
    }

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_dead_server_skipped)
{
    char      up[512], buf[256];
    int       i, dead = zpt_free_port();
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d; server 127.0.0.1:%d; }",
             dead, a.port);
    proxy_start2(2, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 10; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(header(r, "X-Backend", buf, sizeof(buf)), "A");
    }

    free(r);
    zpt_teardown();
}
END_TEST


/* Passive health: a peer that failed max_fails times is left alone for
 * fail_timeout (not even tried), then gets one trial request. */
START_TEST(test_proxy_passive_health)
{
    char      up[512], routes[512], deadaddr[64], logp[ZPT_PATH_MAX + 32];
    int       i, dead = zpt_free_port();
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up),
             "log_format ups '$upstream_addr';\n"
             "    upstream users { server 127.0.0.1:%d max_fails=1 fail_timeout=2s; "
             "server 127.0.0.1:%d; }",
             dead, a.port);
    snprintf(routes, sizeof(routes),
             "route / { access_log logs/ups.log ups; proxy_pass http://users; }");
    proxy_start2(1, up, routes);
    snprintf(deadaddr, sizeof(deadaddr), "127.0.0.1:%d", dead);
    snprintf(logp, sizeof(logp), "%s/logs/ups.log", srv.prefix);

    for (i = 0; i < 10; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
    }
    ck_assert_msg(zpt_wait_file_line(logp, "127.0.0.1", NULL, zpt_wait_ms()), "no log");
    /* the first request found it dead; the next nine did not try it */
    ck_assert_int_eq(zpt_count_lines(logp, deadaddr), 1);

    /* after fail_timeout, one trial (which fails again), then left alone */
    zpt_msleep(2500);
    for (i = 0; i < 5; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);
    }
    {
        long long end = zpt_now_ms() + zpt_wait_ms();
        while (zpt_count_lines(logp, "127.0.0.1") < 15 && zpt_now_ms() < end) {
            zpt_msleep(20);
        }
    }
    ck_assert_int_eq(zpt_count_lines(logp, deadaddr), 2);

    free(r);
    zpt_teardown();
}
END_TEST


/* A lone server is never taken out (as nginx): once it is back, the very
 * next request reaches it, not a 502 for fail_timeout. */
START_TEST(test_proxy_single_server_kept)
{
    char      up[256];
    int       i, port = zpt_free_port();
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    snprintf(up, sizeof(up),
             "upstream users { server 127.0.0.1:%d max_fails=1 fail_timeout=60s; }", port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 3; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 502);
    }

    ck_assert_int_eq(zpt_backend_start(&a, "A", port), port);
    get(srv.port, "/", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(zpt_count_lines(srv.error_log, "temporarily disabled"), 0);

    free(r);
    zpt_teardown();
}
END_TEST


/* hash $arg_user consistent: a user sticks to one peer; users spread. */
START_TEST(test_proxy_hash_sticky)
{
    char      up[512], path[64], buf[256], first[256];
    int       u, i, seen_a = 0, seen_b = 0;
    backend_t a, b;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    zpt_backend_start(&b, "B", 0);
    snprintf(up, sizeof(up),
             "upstream users { hash $arg_user consistent; server 127.0.0.1:%d; "
             "server 127.0.0.1:%d; keepalive 4; }",
             a.port, b.port);
    proxy_start2(2, up, "route / { proxy_pass http://users; }");

    for (u = 0; u < 40; u++) {
        first[0] = '\0';
        for (i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "/x?user=u%d", u);
            get(srv.port, path, r);
            ck_assert_int_eq(r->status, 200);
            header(r, "X-Backend", buf, sizeof(buf));
            if (i == 0) {
                snprintf(first, sizeof(first), "%s", buf);
            } else {
                ck_assert_msg(strcmp(first, buf) == 0, "user u%d went to %s then %s", u, first,
                              buf);
            }
        }
        seen_a += strcmp(first, "A") == 0;
        seen_b += strcmp(first, "B") == 0;
    }

    ck_assert_msg(seen_a > 0 && seen_b > 0, "40 users all on one peer (A %d, B %d)", seen_a,
                  seen_b);

    free(r);
    zpt_teardown();
}
END_TEST


/* proxy_next_upstream http_503 with proxy_next_upstream_tries 2: two
 * peers are tried, not three; without http_503 the 503 is final at once. */
START_TEST(test_proxy_next_upstream_status)
{
    char      up[1024], logp[ZPT_PATH_MAX + 32];
    backend_t a, b, c;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    zpt_backend_start(&b, "B", 0);
    zpt_backend_start(&c, "C", 0);
    snprintf(up, sizeof(up),
             "log_format ups '$upstream_status|$upstream_addr';\n"
             "    upstream users { server 127.0.0.1:%d max_fails=0; server 127.0.0.1:%d "
             "max_fails=0; server 127.0.0.1:%d max_fails=0; }",
             a.port, b.port, c.port);
    proxy_start2(1, up,
                 "route /retry/ { access_log logs/ups.log ups; proxy_next_upstream http_503; "
                 "proxy_next_upstream_tries 2; proxy_pass http://users/status/; }\n"
                 "        route / { access_log logs/ups.log ups; proxy_pass http://users; }");
    snprintf(logp, sizeof(logp), "%s/logs/ups.log", srv.prefix);

    get(srv.port, "/retry/503", r);
    ck_assert_int_eq(r->status, 503);
    get(srv.port, "/status/503", r);
    ck_assert_int_eq(r->status, 503);

    ck_assert(zpt_wait_file_line(logp, "503", NULL, zpt_wait_ms()));
    {
        long long end = zpt_now_ms() + zpt_wait_ms();
        while (zpt_count_lines(logp, "503") < 2 && zpt_now_ms() < end) {
            zpt_msleep(20);
        }
    }
    ck_assert_int_eq(zpt_count_lines(logp, "503, 503|"), 1);
    ck_assert_int_eq(zpt_count_lines(logp, "503, 503, 503|"), 0);
    ck_assert_int_eq(zpt_count_lines(logp, "503|"), 2);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_all_dead_502)
{
    char    up[512], want[128];
    int     d1 = zpt_free_port(), d2 = zpt_free_port();
    resp_t *r = malloc(sizeof(resp_t));

    snprintf(up, sizeof(up), "upstream dead { server 127.0.0.1:%d; server 127.0.0.1:%d; }", d1,
             d2);
    proxy_start2(1, up, "route / { proxy_pass http://dead; }");

    get(srv.port, "/x", r);
    ck_assert_int_eq(r->status, 502);
    ck_assert_msg(strstr(r->body, "502 Bad Gateway") != NULL, "%s", r->body);

    snprintf(want, sizeof(want), "upstream: \"http://127.0.0.1:%d/x\"", d1);
    ck_assert_msg(zpt_wait_file_line(srv.error_log, "connect() failed (111", want, zpt_wait_ms()),
                  "no error log line naming the upstream");
    ck_assert(zpt_file_has_line(srv.error_log, "while connecting to upstream", "client: "));

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_read_timeout_504)
{
    char      up[512];
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d; }", a.port);
    proxy_start2(1, up, "proxy_read_timeout 300ms;\n        route / { proxy_pass http://users; }");

    get(srv.port, "/slow/3000", r);
    ck_assert_int_eq(r->status, 504);
    ck_assert(zpt_file_has_line(srv.error_log, "upstream timed out", "reading response header"));

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_keepalive_reuse)
{
    char      up[512];
    int       i, n;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up),
             "upstream users { server 127.0.0.1:%d; keepalive 8; keepalive_timeout 30s;"
             " keepalive_requests 1000; }",
             a.port);
    proxy_start2(2, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 50; i++) {
        get(srv.port, "/size/1000", r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_uint_eq(r->received, 1000);
    }

    /* our own /stats connection counts too */
    n = backend_connections(&a) - 1;
    ck_assert_msg(n >= 1 && n <= 4, "the backend accepted %d connections for 50 requests", n);

    free(r);
    zpt_teardown();
}
END_TEST


/* keepalive_requests caps reuse; keepalive_timeout closes idle ones. */
START_TEST(test_proxy_keepalive_limits)
{
    char       up[512], *p;
    int        i, n, active = -1;
    long long  end;
    backend_t  a;
    resp_t    *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up),
             "upstream users { server 127.0.0.1:%d; keepalive 8; keepalive_timeout 1s;"
             " keepalive_requests 5; }",
             a.port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 20; i++) {
        get(srv.port, "/size/10", r);
        ck_assert_int_eq(r->status, 200);
    }

    /* 20 requests, at most 5 per connection: at least 4 connections */
    n = backend_connections(&a) - 1;
    ck_assert_msg(n >= 4, "the backend accepted %d connections for 20 requests", n);

    /* after keepalive_timeout the proxy has closed its idle connection:
     * only our own /stats connection is open at the backend */
    end = zpt_now_ms() + zpt_wait_ms();
    while (zpt_now_ms() < end) {
        get(a.port, "/stats", r);
        r->body[r->stored < sizeof(r->body) ? r->stored : 0] = '\0';
        p      = strstr(r->body, "active=");
        active = p ? atoi(p + 7) : -1;
        if (active == 1) {
            break;
        }
        zpt_msleep(200);
    }
    ck_assert_msg(active == 1, "%d connections still open at the backend", active);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_keepalive_backend_restart)
{
    char      up[512];
    int       i, port;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    port = a.port;
    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d; keepalive 8; }", port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    for (i = 0; i < 3; i++) {
        get(srv.port, "/", r);
        ck_assert_int_eq(r->status, 200);

        /* the pooled connection dies with the backend */
        zpt_backend_stop(&a);
        zpt_backend_start(&a, "A", port);

        get(srv.port, "/", r);
        ck_assert_msg(r->status == 200, "after a backend restart: %d", r->status);
    }

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_upload_10mb)
{
    char          head[512], expect[128], cl[32];
    size_t        len = 10 * 1024 * 1024, off, n;
    unsigned char *body = malloc(len);
    uint64_t      h;
    int           fd;
    backend_t     a;
    resp_t       *r = malloc(sizeof(resp_t));

    ck_assert(body != NULL);
    for (off = 0; off < len; off++) {
        body[off] = (unsigned char) ((off * 2654435761u) >> 13);
    }
    h = fnv1a64(FNV_INIT, body, len);
    snprintf(expect, sizeof(expect), "length=%zu fnv1a64=%016" PRIx64, len, h);

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");

    /* Content-Length */
    snprintf(head, sizeof(head),
             "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             len);
    fd = zpt_connect(srv.port);
    ck_assert(fd >= 0);
    send_all(fd, head, strlen(head));
    send_all(fd, (char *) body, len);
    read_resp(fd, r);
    close(fd);
    ck_assert_int_eq(r->status, 200);
    r->body[r->stored] = '\0';
    ck_assert_msg(strstr(r->body, expect) != NULL, "got %s, want %s", r->body, expect);

    /* chunked, chunks of odd sizes */
    fd = zpt_connect(srv.port);
    ck_assert(fd >= 0);
    snprintf(head, sizeof(head),
             "POST /upload HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
             "Connection: close\r\n\r\n");
    send_all(fd, head, strlen(head));
    for (off = 0; off < len; off += n) {
        n = 1 + (off * 7919) % 50000;
        if (n > len - off) {
            n = len - off;
        }
        snprintf(cl, sizeof(cl), "%zx\r\n", n);
        send_all(fd, cl, strlen(cl));
        send_all(fd, (char *) body + off, n);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    read_resp(fd, r);
    close(fd);
    ck_assert_int_eq(r->status, 200);
    r->body[r->stored] = '\0';
    ck_assert_msg(strstr(r->body, expect) != NULL, "chunked: got %s, want %s", r->body, expect);

    free(body);
    free(r);
    zpt_teardown();
}
END_TEST


/* fnv1a64 of the backend's /size/<len> body: PATTERN repeated. */
static uint64_t
pattern_hash(size_t len)
{
    size_t        i;
    uint64_t      h = FNV_INIT;
    unsigned char chunk[PATTERN_LEN * 1024];

    for (i = 0; i < sizeof(chunk); i++) {
        chunk[i] = PATTERN[i % PATTERN_LEN];
    }
    for (i = 0; i + sizeof(chunk) <= len; i += sizeof(chunk)) {
        h = fnv1a64(h, chunk, sizeof(chunk));
    }
    return fnv1a64(h, chunk, len - i);
}


START_TEST(test_proxy_download_100mb_bounded_memory)
{
    size_t    len = 104857600, i;
    uint64_t  h;
    pid_t     workers[4];
    int       nw;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    h = pattern_hash(len);

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");

    nw = zpt_wait_workers(srv.pid, 1, NULL, 0, workers, zpt_wait_ms());
    ck_assert_int_ge(nw, 1);
    memset(rss_pid, 0, sizeof(rss_pid));
    for (i = 0; i < (size_t) nw; i++) {
        rss_pid[i] = workers[i];
    }

    get(srv.port, "/size/104857600", r);
    rss_pid[0] = 0;

    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->received, len);
    ck_assert_msg(r->hash == h, "the body differs");
    ck_assert_msg(r->max_rss_kb > 0, "no RSS sample");
    ck_assert_msg(r->max_rss_kb < 64 * 1024, "worker RSS reached %ld kB", r->max_rss_kb);

    free(r);
    zpt_teardown();
}
END_TEST


/* The pipe ends a process holds (/proc/<pid>/fd links to "pipe:[...]"). */
static int
pipe_count(pid_t pid)
{
    int            n = 0;
    char           path[64], link[ZPT_PATH_MAX], target[64];
    ssize_t        len;
    DIR           *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
    d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strncmp(target, "pipe:", 5) == 0;
        }
    }
    closedir(d);
    return n;
}


/*
 * A large Content-Length body between plain sockets goes through a pipe
 * (splice): seen as one more pipe in the worker while a slow client reads,
 * whole and byte for byte, and gone with the response. A chunked body is
 * copied as before: no pipe.
 */
START_TEST(test_proxy_splice_body)
{
    char      req[128];
    size_t    len = 104857600, i;
    uint64_t  h;
    int       fd, base, n = 0;
    long long end;
    pid_t     w[1];
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    h = pattern_hash(len);

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");
    ck_assert(zpt_wait_workers(srv.pid, 1, NULL, 0, w, zpt_wait_ms()));
    base = pipe_count(w[0]);
    ck_assert_int_ge(base, 0);

    for (i = 0; i < 2; i++) {
        /* 100 MB: more than the socket buffers on both sides hold */
        fd = zpt_connect(srv.port);
        ck_assert(fd >= 0);
        snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                 i == 0 ? "size/104857600" : "chunked/10000000");
        send_all(fd, req, strlen(req));

        /* not reading yet: the worker waits for the client, mid-body */
        end = zpt_now_ms() + zpt_wait_ms();
        do {
            zpt_msleep(50);
            n = pipe_count(w[0]) - base;
        } while (i == 0 && n < 2 && zpt_now_ms() < end);
        ck_assert_msg(n == (i == 0 ? 2 : 0), "%s: the worker holds %d more pipe ends",
                      i == 0 ? "Content-Length body" : "chunked body", n);

        read_resp(fd, r);
        close(fd);
        ck_assert_int_eq(r->status, 200);
        if (i == 0) {
            ck_assert_uint_eq(r->received, len);
            ck_assert_msg(r->hash == h, "the spliced body differs");
        } else {
            ck_assert_uint_ge(r->received, 10000000); /* with its framing */
        }
    }

    end = zpt_now_ms() + zpt_wait_ms();
    while ((n = pipe_count(w[0]) - base) > 0 && zpt_now_ms() < end) {
        zpt_msleep(50);
    }
    ck_assert_msg(n == 0, "%d pipe ends left after the responses", n);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_chunked_relay)
{
    char      buf[256];
    long      n;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");

    /* HTTP/1.1: chunked again */
    get(srv.port, "/chunked/100000", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Transfer-Encoding", buf, sizeof(buf)), "chunked");
    n = dechunk(r->body, r->stored);
    ck_assert_int_eq(n, 100000);
    ck_assert(is_pattern(r->body, (size_t) n));

    /* HTTP/1.0: delimited by the close */
    request(srv.port, "GET /chunked/100000 HTTP/1.0\r\nHost: localhost\r\n\r\n", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Transfer-Encoding", buf, sizeof(buf)), "");
    ck_assert_str_eq(header(r, "Content-Length", buf, sizeof(buf)), "");
    ck_assert_str_eq(header(r, "Connection", buf, sizeof(buf)), "close");
    ck_assert_uint_eq(r->received, 100000);
    ck_assert(is_pattern(r->body, r->stored));

    /* HEAD: no body expected */
    request(srv.port, "HEAD /size/5000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Length", buf, sizeof(buf)), "5000");
    ck_assert_uint_eq(r->received, 0);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_truncated_response)
{
    char      up[512], buf[256];
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up), "upstream users { server 127.0.0.1:%d max_fails=0; }", a.port);
    proxy_start2(1, up, "route / { proxy_pass http://users; }");

    /* Content-Length: 100, 10 bytes, close: the client sees a cut */
    request(srv.port,
            "GET /truncate HTTP/1.1\r\nHost: localhost\r\n\r\n", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Length", buf, sizeof(buf)), "100");
    ck_assert_uint_lt(r->received, 100);

    /* a reset before any answer: 502 */
    get(srv.port, "/reset", r);
    ck_assert_int_eq(r->status, 502);

    /* the worker is fine */
    get(srv.port, "/", r);
    ck_assert_int_eq(r->status, 200);

    free(r);
    zpt_teardown();
}
END_TEST


START_TEST(test_proxy_uri_prefix_and_variables)
{
    char      up[512], *log;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));
    int       dead = zpt_free_port();

    zpt_backend_start(&a, "A", 0);
    snprintf(up, sizeof(up),
             "log_format up \"$upstream_addr|$upstream_status|$upstream_response_time\";\n"
             "    upstream users { server 127.0.0.1:%d; server 127.0.0.1:%d; }",
             dead, a.port);
    {
        char routes[512];
        snprintf(routes, sizeof(routes),
                 "access_log logs/up.log up;\n"
                 "        route /v1/ { proxy_pass http://127.0.0.1:%d/echo/; }\n"
                 "        route / { proxy_pass http://users; }",
                 a.port);
        proxy_start2(1, up, routes);
    }

    get(srv.port, "/v1/abc?x=1", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strstr(r->body, "\"target\":\"/echo/abc?x=1\"") != NULL, "%s", r->body);

    /* a target that does not start with the prefix as sent is rebuilt
     * from the decoded path, encoded again: a decoded CR LF, SP, '?' or
     * '%' must not split or change the upstream's request line */
    get(srv.port, "/x/../v1/a%0d%0aEvil:%20x%3fq%25?x=1", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strstr(r->body, "\"target\":\"/echo/a%0D%0AEvil:%20x%3Fq%25?x=1\"") != NULL,
                  "%s", r->body);
    ck_assert_msg(strcasestr(r->body, "\nevil:") == NULL, "%s", r->body);
    char host[64];
    snprintf(host, sizeof(host), "host: 127.0.0.1:%d", a.port);
    ck_assert_msg(echo_has(r, host), "%s", r->body);

    /* the dead server first, then the live one */
    get(srv.port, "/", r);
    ck_assert_int_eq(r->status, 200);

    {
        char path[ZPT_PATH_MAX], want[128];
        snprintf(path, sizeof(path), "%s/logs/up.log", srv.prefix);
        snprintf(want, sizeof(want), "127.0.0.1:%d, 127.0.0.1:%d|502, 200|", dead, a.port);
        ck_assert_msg(zpt_wait_file_line(path, want, NULL, zpt_wait_ms()), "%s",
                      (log = zpt_read_file(path, NULL)) ? log : "no log");
    }

    free(r);
    zpt_teardown();
}
END_TEST


/* zproxy -t on a config; the exit code, stderr in err. */
static int
conftest(const char *http_body, char *err, size_t size)
{
    const char *args[8];

    ck_assert(zpt_srv_init(&srv) == 0);
    ck_assert(zpt_srv_conf(&srv, CONF_HEAD "%s\n}\n", 1, http_body) == 0);
    args[0] = "-p";
    args[1] = srv.prefix;
    args[2] = "-t";
    args[3] = "-c";
    args[4] = srv.conf;
    args[5] = NULL;
    return zpt_run(args, NULL, 0, err, size);
}


START_TEST(test_proxy_config_errors)
{
    char err[4096];

    /* line 9 is the first line of the http body */
    ck_assert_int_eq(conftest("upstream u {\n server 127.0.0.1:1;\n retries 3;\n}", err,
                              sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:11: unknown directive \"retries\" in upstream"), "%s",
                  err);

    ck_assert_int_eq(conftest("upstream u {\n server 127.0.0.1:1 weight=0;\n}", err,
                              sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:10: invalid parameter \"weight=0\""), "%s", err);

    ck_assert_int_eq(conftest("upstream u {\n keepalive 4;\n}", err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:9: no servers are inside upstream \"u\""), "%s", err);

    ck_assert_int_eq(conftest("upstream u { server 127.0.0.1:1; }\nupstream u { server 127.0.0.1:2; }",
                              err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:10: duplicate upstream \"u\""), "%s", err);

    ck_assert_int_eq(conftest("upstream u { server backend.example:80; }", err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:9:"), "%s", err);

    ck_assert_int_eq(conftest("server {\n listen 127.0.0.1:1;\n route / {\n"
                              "  proxy_pass http://nosuch;\n }\n}", err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "zproxy.conf:12: host not found in upstream \"nosuch\""), "%s",
                  err);

    /* a good one, the upstream after its use */
    ck_assert_int_eq(conftest("server {\n listen 127.0.0.1:1;\n route /api/ { proxy_pass http://users; }\n"
                              " route /v1/ { proxy_pass http://[::1]:5000/v2/; }\n}\n"
                              "upstream users { least_conn; server 127.0.0.1:3001 weight=2 "
                              "max_fails=3 fail_timeout=10s; server localhost:3002; "
                              "server 127.0.0.1:3003 backup; keepalive 64; keepalive_timeout 60s;"
                              " keepalive_requests 1000; }\n"
                              "upstream sticky { hash $arg_user consistent; server 127.0.0.1:1; }\n"
                              "proxy_connect_timeout 5s; proxy_send_timeout 60s; proxy_read_timeout 60s;\n"
                              "proxy_next_upstream error timeout http_502 http_503 http_504; "
                              "proxy_next_upstream_tries 3;\n"
                              "proxy_set_header X-Order $param_oid; proxy_hide_header X-Internal;"
                              " add_header X-Served-By zproxy;",
                              err, sizeof(err)), 0);

    zpt_teardown();
}
END_TEST


/* 1 GiB each way through the proxy: the body streams, the worker's memory
 * stays bounded (a memory bound, not a timing one). */
START_TEST(test_proxy_gib_both_ways)
{
    char           head[512], expect[128];
    size_t         len = (size_t) 1 << 30, off, n, i;
    uint64_t       h = FNV_INIT;
    pid_t          workers[4];
    long           rss, max_rss = 0;
    int            fd, nw;
    backend_t      a;
    resp_t        *r = malloc(sizeof(resp_t));
    static unsigned char chunk[PATTERN_LEN * 4096];

    ck_assert(r != NULL);
    for (i = 0; i < sizeof(chunk); i++) {
        chunk[i] = PATTERN[i % PATTERN_LEN];
    }

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");

    nw = zpt_wait_workers(srv.pid, 1, NULL, 0, workers, zpt_wait_ms());
    ck_assert_int_eq(nw, 1);

    /* upload: Content-Length 1 GiB, the backend answers its length and hash */
    snprintf(head, sizeof(head),
             "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             len);
    fd = zpt_connect(srv.port);
    ck_assert(fd >= 0);
    send_all(fd, head, strlen(head));
    for (off = 0; off < len; off += n) {
        n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
        h = fnv1a64(h, chunk, n);
        send_all(fd, (char *) chunk, n);
        if ((off / sizeof(chunk)) % 256 == 0) {
            rss = rss_kb(workers[0]);
            max_rss = rss > max_rss ? rss : max_rss;
        }
    }
    read_resp(fd, r);
    close(fd);
    snprintf(expect, sizeof(expect), "length=%zu fnv1a64=%016" PRIx64, len, h);
    ck_assert_int_eq(r->status, 200);
    r->body[r->stored] = '\0';
    ck_assert_msg(strstr(r->body, expect) != NULL, "got %s, want %s", r->body, expect);
    ck_assert_msg(max_rss > 0 && max_rss < 64 * 1024, "worker RSS reached %ld kB uploading",
                  max_rss);

    /* download: /size/1 GiB, RSS sampled while reading */
    memset(rss_pid, 0, sizeof(rss_pid));
    rss_pid[0] = workers[0];
    get(srv.port, "/size/1073741824", r);
    rss_pid[0] = 0;
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->received, len);
    ck_assert_msg(r->max_rss_kb > 0 && r->max_rss_kb < 64 * 1024,
                  "worker RSS reached %ld kB downloading", r->max_rss_kb);

    free(r);
    zpt_teardown();
}
END_TEST


/* An independent HTTP/1.0 server behind the proxy: Python's http.server. */
START_TEST(test_proxy_python_http_server)
{
    char         dir[] = "/tmp/zpt-py.XXXXXX", path[512], up[512], port_s[16];
    size_t       len = 1000003, i;
    uint64_t     h = FNV_INIT;
    int          port;
    pid_t        py;
    FILE        *f;
    resp_t      *r = malloc(sizeof(resp_t));
    unsigned char c;

    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("test_proxy_python_http_server: no /usr/bin/python3, skipped\n");
        free(r);
        return;
    }

    ck_assert(r != NULL);
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/file.bin", dir);
    f = fopen(path, "w");
    ck_assert(f != NULL);
    for (i = 0; i < len; i++) {
        c = (unsigned char) ((i * 2654435761u) >> 11);
        h = fnv1a64(h, &c, 1);
        fputc(c, f);
    }
    fclose(f);

    port = zpt_free_port();
    snprintf(port_s, sizeof(port_s), "%d", port);
    py = fork();
    ck_assert(py >= 0);
    if (py == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl("/usr/bin/python3", "python3", "-m", "http.server", port_s, "--bind", "127.0.0.1",
              "--directory", dir, (char *) NULL);
        _exit(127);
    }
    ck_assert_msg(zpt_wait_port(port, zpt_wait_ms()), "python http.server did not start");

    snprintf(up, sizeof(up), "upstream py { server 127.0.0.1:%d; keepalive 4; }", port);
    proxy_start2(1, up, "route / { proxy_pass http://py; }");

    get(srv.port, "/file.bin", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->received, len);
    ck_assert_msg(r->hash == h, "the file differs through the proxy");

    /* twice: the upstream closed its HTTP/1.0 connection, a new one is used */
    get(srv.port, "/file.bin", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->received, len);

    get(srv.port, "/missing", r);
    ck_assert_int_eq(r->status, 404);

    zpt_kill(py, SIGKILL);
    waitpid(py, NULL, 0);
    unlink(path);
    rmdir(dir);
    free(r);
    zpt_teardown();
}
END_TEST


/* Pipelined requests through the proxy come back in order on one
 * connection. */
START_TEST(test_proxy_pipelined)
{
    char      req[8192], want[64], *p;
    int       fd, i, off = 0;
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { proxy_pass http://users; }");

    for (i = 0; i < 10; i++) {
        off += snprintf(req + off, sizeof(req) - (size_t) off,
                        "GET /echo?i=%d HTTP/1.1\r\nHost: localhost\r\n%s\r\n", i,
                        i == 9 ? "Connection: close\r\n" : "");
    }

    fd = zpt_connect(srv.port);
    ck_assert(fd >= 0);
    send_all(fd, req, (size_t) off);
    read_resp(fd, r);
    close(fd);

    ck_assert_int_eq(r->status, 200);
    r->body[r->stored < sizeof(r->body) ? r->stored : sizeof(r->body) - 1] = '\0';

    /* the first response's head was parsed; the others follow in the body */
    p = r->body;
    for (i = 1; i < 10; i++) {
        snprintf(want, sizeof(want), "/echo?i=%d", i);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "response %d missing or out of order", i);
    }

    free(r);
    zpt_teardown();
}
END_TEST


/* client_body_timeout: a body that stops coming gets 408 and a close. */
START_TEST(test_proxy_client_body_timeout)
{
    const char *req = "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n"
                      "0123456789";
    backend_t a;
    resp_t   *r = malloc(sizeof(resp_t));

    ck_assert(r != NULL);
    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { client_body_timeout 1s; proxy_pass http://users; }");

    request(srv.port, req, r);
    ck_assert_int_eq(r->status, 408);
    ck_assert_msg(zpt_wait_file_line(srv.error_log, "client timed out sending the request body",
                                     NULL, zpt_wait_ms()),
                  "no log line for the body timeout");

    free(r);
    zpt_teardown();
}
END_TEST


/* send_timeout: a client that stops reading is dropped, and the upstream
 * connection and descriptors with it. */
START_TEST(test_proxy_send_timeout)
{
    char      req[256];
    int       fd, rcvbuf = 4096, base, now = -1;
    long long end;
    pid_t     w[4];
    backend_t a;

    zpt_backend_start(&a, "A", 0);
    proxy_to_users(&a, "route / { send_timeout 1s; proxy_pass http://users; }");
    ck_assert(zpt_wait_workers(srv.pid, 1, NULL, 0, w, zpt_wait_ms()));

    base = zpt_fd_count(w[0]);
    ck_assert_int_gt(base, 0);

    fd = zpt_connect(srv.port);
    ck_assert(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    snprintf(req, sizeof(req), "GET /size/1073741824 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    send_all(fd, req, strlen(req));

    /* never read: the worker must give up on us and release everything */
    end = zpt_now_ms() + 4 * zpt_wait_ms();
    while (zpt_now_ms() < end) {
        now = zpt_fd_count(w[0]);
        if (now <= base && zpt_file_has_line(srv.error_log, "timed out", NULL)) {
            break;
        }
        zpt_msleep(100);
    }
    ck_assert_msg(now <= base, "worker holds %d descriptors, %d before the request", now, base);
    ck_assert(zpt_alive(w[0]));

    close(fd);
    zpt_teardown();
}
END_TEST


static Suite *
proxy_suite(void)
{
    Suite *s  = suite_create("proxy");
    TCase *tc = tcase_create("proxy");

    zpt_backend_build();

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_proxy_basic_get_and_request_headers);
    tcase_add_test(tc, test_proxy_response_headers);
    tcase_add_test(tc, test_proxy_round_robin_weights);
    tcase_add_test(tc, test_proxy_backup);
    tcase_add_test(tc, test_proxy_dead_server_skipped);
    tcase_add_test(tc, test_proxy_passive_health);
    tcase_add_test(tc, test_proxy_single_server_kept);
    tcase_add_test(tc, test_proxy_splice_body);
    tcase_add_test(tc, test_proxy_hash_sticky);
    tcase_add_test(tc, test_proxy_next_upstream_status);
    tcase_add_test(tc, test_proxy_all_dead_502);
    tcase_add_test(tc, test_proxy_read_timeout_504);
    tcase_add_test(tc, test_proxy_keepalive_reuse);
    tcase_add_test(tc, test_proxy_keepalive_limits);
    tcase_add_test(tc, test_proxy_keepalive_backend_restart);
    tcase_add_test(tc, test_proxy_upload_10mb);
    tcase_add_test(tc, test_proxy_download_100mb_bounded_memory);
    tcase_add_test(tc, test_proxy_chunked_relay);
    tcase_add_test(tc, test_proxy_truncated_response);
    tcase_add_test(tc, test_proxy_uri_prefix_and_variables);
    tcase_add_test(tc, test_proxy_config_errors);
    tcase_add_test(tc, test_proxy_gib_both_ways);
    tcase_add_test(tc, test_proxy_python_http_server);
    tcase_add_test(tc, test_proxy_pipelined);
    tcase_add_test(tc, test_proxy_client_body_timeout);
    tcase_add_test(tc, test_proxy_send_timeout);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(proxy_suite)
