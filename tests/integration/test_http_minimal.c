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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zpt_client.h"
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


/*
 * A timed-out request: the server closes the connection, silently or
 * after a 408 (both are fine), within the wait bound. Returns the
 * zpt_close_text() code of the end.
 */
static int
timed_out(zpt_conn_t *c, const char *what)
{
    zpt_resp_t r;
    int        rc;

    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    if (rc == 2) {
        zpt_must_read(c, &r, 0, what);
        ck_assert_msg(r.status == 408, "%s: answered %d instead of closing", what, r.status);
        rc = zpt_conn_wait_close(c, zpt_wait_ms());
    }
    return rc;
}


static pid_t
start(zpt_srv_t *s, pid_t *w)
{
    char conf[4096];

    ck_assert_int_eq(zpt_srv_init(s), 0);
    snprintf(conf, sizeof(conf), HTTP_CONF, s->port);
    return zpt_start_conf(s, conf, w);
}


/* The same two workers still run, and they serve. */
static void
assert_same_workers(zpt_srv_t *s, pid_t master, const pid_t *w0)
{
    zpt_resp_t r;
    int        i;

    zpt_assert_same_workers(s, master, w0);
    for (i = 0; i < 4; i++) {
        zpt_one(s->port, "GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
                "GET /api afterwards");
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "api\n");
    }
}


START_TEST(test_routes)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, w0[2];
    char        ct[128];
    zpt_conn_t *c;

    master = start(&s, w0);

    /* all on one keep-alive connection: a 404 keeps it open too */
    c = zpt_conn_open(s.port);

    zpt_conn_send(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/health");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "exact\n");
    ck_assert(!r.conn_close);

    zpt_conn_send(c, "GET /health?probe=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/health?probe=1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strcmp(r.body, "exact\n") == 0, "/health?probe=1 answered \"%s\"", r.body);

    zpt_conn_send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");

    zpt_conn_send(c, "GET /health/deep HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/health/deep");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");

    /* longest prefix wins, whatever the order in the config */
    zpt_conn_send(c, "GET /api/v2/users HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/api/v2/users");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api-v2\n");

    zpt_conn_send(c, "GET /api/v1/users HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/api/v1/users");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");

    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/api");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");

    /* no route: 404 with the HTML error page */
    zpt_conn_send(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/nothing");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(strstr(r.body, "<html>") != NULL && strstr(r.body, "404") != NULL,
                  "404 body: %s", r.body);
    ck_assert_msg(zpt_hdr_value(r.headers, "Content-Type", ct, sizeof(ct))
                      && strncmp(ct, "text/html", 9) == 0,
                  "404 Content-Type: %s", r.headers);
    ck_assert_int_eq(r.content_length, (long) r.body_len);
    ck_assert_msg(!r.conn_close, "a 404 closed the keep-alive connection");

    zpt_conn_send(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "/");
    ck_assert_int_eq(r.status, 404);

    /* the connection still works after the 404s */
    zpt_conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "/api/v2 after 404");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api-v2\n");
    ck_assert(r.conn_close);
    zpt_conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_head_and_http10)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    int         rc;

    master = start(&s, w0);

    /* HEAD: Content-Length of the GET body, no body; the next answer is intact */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "HEAD /api HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 1, "HEAD /api");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.content_length, 4);
    ck_assert(!r.conn_close);

    zpt_conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET after HEAD");
    ck_assert_msg(r.status == 200, "GET after HEAD: status %d (HEAD sent a body?)", r.status);
    ck_assert_str_eq(r.body, "api-v2\n");
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after Connection: close: %s", zpt_close_text(rc));
    zpt_conn_close(c);

    /* HEAD of a 404: headers only too */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "HEAD /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 1, "HEAD /none");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(r.content_length > 0, "HEAD 404 without Content-Length:\n%s", r.headers);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "HEAD 404: %s (a body was sent?)", zpt_close_text(rc));
    zpt_conn_close(c);

    /* HTTP/1.0 without keep-alive: close, then EOF; no Host needed */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.0\r\n\r\n");
    zpt_must_read(c, &r, 0, "HTTP/1.0");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    ck_assert_msg(r.conn_close, "HTTP/1.0 answer without Connection: close:\n%s", r.headers);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "HTTP/1.0: %s instead of EOF", zpt_close_text(rc));
    zpt_conn_close(c);

    /* HTTP/1.0 with keep-alive stays open */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    zpt_must_read(c, &r, 0, "HTTP/1.0 keep-alive");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);
    zpt_conn_send(c, "GET /api/v2 HTTP/1.0\r\n\r\n");
    zpt_must_read(c, &r, 0, "HTTP/1.0 second request");
    ck_assert_str_eq(r.body, "api-v2\n");
    ck_assert(r.conn_close);
    zpt_conn_close(c);

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

    zpt_refused(s.port, "GET /api HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 400,
                "HTTP/1.1 without Host");
    zpt_refused(s.port, "G(T /api HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad method byte");
    zpt_refused(s.port, "GET /api HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 400,
                "obs-fold");
    zpt_refused(s.port,
                "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                400, "Content-Length with Transfer-Encoding");
    zpt_refused(s.port,
                "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                400, "a transfer coding list not ending in chunked");
    zpt_refused(s.port,
                "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;x=1, gzip\r\n\r\n",
                400, "chunked not last");
    zpt_refused(s.port,
                "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400, "conflicting Content-Length");

    /* a chunked body (with a trailer) is read past, and the connection
     * serves the next request */
    {
        zpt_conn_t *c = zpt_conn_open(s.port);
        zpt_resp_t  r;

        zpt_conn_send(c, "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
                         "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
        zpt_must_read(c, &r, 0, "chunked POST");
        ck_assert_int_eq(r.status, 200);
        ck_assert(!r.conn_close);
        zpt_must_read(c, &r, 0, "GET after a chunked POST");
        ck_assert_int_eq(r.status, 200);
        zpt_conn_close(c);
    }

    /* a head of ~4 KiB against client_header_buffer_size 1k */
    off = snprintf(big, sizeof(big), "GET /api HTTP/1.1\r\nHost: x\r\n");
    while (off < 4096) {
        off += snprintf(big + off, sizeof(big) - (size_t) off, "X-Filler-%04d: %s\r\n", off,
                        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    }
    snprintf(big + off, sizeof(big) - (size_t) off, "\r\n");
    zpt_refused(s.port, big, 431, "header block over client_header_buffer_size");

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_pipelining)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    int         rc;

    master = start(&s, w0);

    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "pipelined 1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    ck_assert(!r.conn_close);
    zpt_must_read(c, &r, 0, "pipelined 2");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "exact\n");
    ck_assert(!r.conn_close);

    /* three at once, the last one closing */
    zpt_conn_send(c, "GET /api/v2 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "pipelined 3");
    ck_assert_str_eq(r.body, "api-v2\n");
    zpt_must_read(c, &r, 0, "pipelined 4");
    ck_assert_int_eq(r.status, 404);
    zpt_must_read(c, &r, 0, "pipelined 5");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "health-prefix\n");
    ck_assert(r.conn_close);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after the pipelined close: %s", zpt_close_text(rc));
    zpt_conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_keepalive_limits)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    int         i, rc;

    master = start(&s, w0);

    /* keepalive_requests 3: the third answer closes */
    c = zpt_conn_open(s.port);
    for (i = 1; i <= 3; i++) {
        zpt_conn_send(c, "GET /ka3 HTTP/1.1\r\nHost: x\r\n\r\n");
        zpt_must_read(c, &r, 0, "GET /ka3");
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "ka3\n");
        ck_assert_msg(r.conn_close == (i == 3), "response %d: Connection: %s", i,
                      r.conn_close ? "close" : "keep-alive");
    }
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after keepalive_requests: %s instead of EOF", zpt_close_text(rc));
    zpt_conn_close(c);

    /* keepalive_timeout 1s: the server ends the idle connection */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /kat HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /kat");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "idle keep-alive past keepalive_timeout: %s", zpt_close_text(rc));
    zpt_conn_close(c);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_client_header_timeout)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    int         rc;

    master = start(&s, w0);

    /* a partial head on a fresh connection */
    c  = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHo");
    rc = timed_out(c, "partial head");
    ck_assert_msg(rc == 1 || rc == -1, "partial head past client_header_timeout (1s): %s",
                  zpt_close_text(rc));
    zpt_conn_close(c);

    /* a connection that never sends anything */
    c  = zpt_conn_open(s.port);
    rc = timed_out(c, "silent connection");
    ck_assert_msg(rc == 1 || rc == -1, "silent connection past client_header_timeout (1s): %s",
                  zpt_close_text(rc));
    zpt_conn_close(c);

    /* a partial head of a second request on a keep-alive connection */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "first request");
    ck_assert_int_eq(r.status, 200);
    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHo");
    rc = timed_out(c, "partial second head");
    ck_assert_msg(rc == 1 || rc == -1, "partial second head past client_header_timeout (1s): %s",
                  zpt_close_text(rc));
    zpt_conn_close(c);

    /* a partial head pipelined behind a complete request */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /api HTTP/1.1\r\nHost: x\r\n\r\nGET /api HTTP/1.1\r\nHo");
    zpt_must_read(c, &r, 0, "request before the partial pipelined head");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "api\n");
    rc = timed_out(c, "partial pipelined head");
    ck_assert_msg(rc == 1 || rc == -1,
                  "partial head pipelined behind a request, past client_header_timeout (1s): "
                  "%s after %d ms",
                  zpt_close_text(rc), zpt_wait_ms());
    zpt_conn_close(c);

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
