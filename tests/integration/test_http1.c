/*
 * HTTP/1.1 request rules over real sockets, each with its status and
 * whether the connection is closed after it: Content-Length with
 * Transfer-Encoding, duplicate Host, conflicting Content-Length, codings
 * that do not end in chunked (those that do are read by the chunks),
 * Transfer-Encoding on HTTP/1.0, Expect, a request line or head
 * over client_header_buffer_size, a body over client_max_body_size;
 * chunked bodies (extensions and trailers skipped, bad or overflowing
 * sizes closing the connection), Expect: 100-continue, keep-alive after a
 * 404, 50 pipelined requests in one write. The workers survive it all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "zpt_client.h"
#include "zpt_harness.h"

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
    return zpt_start_conf(s, conf, w);
}


/* A request the server must answer with status and keep the connection for the next. */
static void
kept(int port, const char *request, int status, const char *what)
{
    zpt_conn_t *c = zpt_conn_open(port);
    zpt_resp_t  r;

    zpt_conn_send(c, request);
    zpt_must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(!r.conn_close, "%s: the connection closes:\n%s", what, r.headers);
    zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /a after it");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "%s: then GET /a got %d \"%s\"",
                  what, r.status, r.body);
    zpt_conn_close(c);
}


/*
 * A request whose body is broken: the connection must end, at most one
 * response (to the broken request itself) comes first, and the request
 * pipelined behind it is never answered.
 */
static void
cut(int port, const char *request, const char *what)
{
    zpt_conn_t *c = zpt_conn_open(port);
    zpt_resp_t  r;
    int         n = 0, rc;

    zpt_conn_send(c, request);
    while (zpt_conn_read(c, &r, 0) == 0) {
        n++;
        ck_assert_msg(n == 1, "%s: a response to the pipelined request (%d \"%s\")", what,
                      r.status, r.body);
        ck_assert_msg(r.status == 200 || r.status == 400 || r.status == 413,
                      "%s: answered %d", what, r.status);
    }
    rc = c->eof;
    ck_assert_msg(rc == 1 || rc == -1, "%s: the connection was not closed: %s", what, r.error);
    zpt_conn_close(c);
}


START_TEST(test_request_rules)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    char       big[4096];
    int        off;
    zpt_resp_t r;

    master = start_h1(&s, w0);

    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n",
                400, "Content-Length with Transfer-Encoding");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n",
                400, "Transfer-Encoding with Content-Length");
    zpt_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "duplicate Host");
    zpt_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", 400,
                "duplicate Host, same");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                400, "conflicting Content-Length");
    zpt_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
                "invalid Content-Length");
    zpt_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
                "negative Content-Length");
    zpt_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
                "unknown Transfer-Encoding");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
                400, "Transfer-Encoding chunked, gzip (chunked not last)");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400, "chunked twice in a list of Transfer-Encoding lines");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\n\r\n0\r\n\r\n", 400,
                "Transfer-Encoding of no coding");
    zpt_refused(s.port,
                "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                400, "Transfer-Encoding twice");
    zpt_refused(s.port, "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                "HTTP/1.0 with Transfer-Encoding");
    zpt_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\n\r\n", 417,
                "Expect other than 100-continue");
    zpt_refused(s.port, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 413,
                "Content-Length over client_max_body_size");

    /* a request line longer than client_header_buffer_size (1k) */
    off = snprintf(big, sizeof(big), "GET /");
    memset(big + off, 'a', 2000);
    off += 2000;
    snprintf(big + off, sizeof(big) - (size_t) off, " HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_refused(s.port, big, 414, "request line over client_header_buffer_size");

    /* a short line, then headers past the buffer */
    off = snprintf(big, sizeof(big), "GET /a HTTP/1.1\r\nHost: x\r\n");
    while (off < 2048) {
        off += snprintf(big + off, sizeof(big) - (size_t) off, "X-Filler-%04d: %s\r\n", off,
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    }
    snprintf(big + off, sizeof(big) - (size_t) off, "\r\n");
    zpt_refused(s.port, big, 431, "header block over client_header_buffer_size");

    /* accepted: the same Content-Length twice; a body within the limit */
    kept(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
         200, "the same Content-Length twice");
    kept(s.port, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 200,
         "a body of client_max_body_size");
    kept(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 200,
         "Transfer-Encoding: Chunked (any case)");
    /* codings before chunked: the body is read by its chunks (and dropped
     * here, return answers) */
    kept(s.port,
         "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "3\r\nabc\r\n0\r\n\r\n",
         200, "Transfer-Encoding: gzip, chunked");
    kept(s.port,
         "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked;x=1\r\n"
         "\r\n3\r\nabc\r\n0\r\n\r\n",
         200, "Transfer-Encoding: gzip, then chunked;x=1 on another line");

    /* absolute-form: its host wins over Host */
    zpt_one(s.port,
            "GET http://Abs.Example:8080/host HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
            &r, 0, "absolute-form");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "abs.example\n") == 0,
                  "absolute-form target: %d \"%s\"", r.status, r.body);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_chunked)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    zpt_resp_t  r;

    master = start_h1(&s, w0);

    /* extensions and trailers are skipped; the pipelined request is answered */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;ext=1;name=\"quoted value\"\r\nhello\r\n"
                     "6 ; e\r\n world\r\n"
                     "0;last\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n"
                     "GET /p/next HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "chunked POST");
    ck_assert_msg(r.status == 200 && !r.conn_close, "chunked POST: %d\n%s", r.status, r.headers);
    zpt_must_read(c, &r, 0, "GET after the chunked POST");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "pnext\n") == 0,
                  "GET after the chunked POST: %d \"%s\"", r.status, r.body);
    zpt_conn_close(c);

    /* the same, the body trickling in after the response */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    zpt_must_read(c, &r, 0, "chunked POST, head only");
    ck_assert_int_eq(r.status, 200);
    if (!r.conn_close) {
        zpt_conn_send(c, "3;x=y\r\nabc\r\n");
        zpt_conn_send(c, "0\r\nT: v\r\n\r\nGET /p/later HTTP/1.1\r\nHost: x\r\n\r\n");
        zpt_must_read(c, &r, 0, "GET after a late chunked body");
        ck_assert_msg(r.status == 200 && strcmp(r.body, "plater\n") == 0,
                      "GET after a late chunked body: %d \"%s\"", r.status, r.body);
    }
    zpt_conn_close(c);

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

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_expect_continue)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    zpt_resp_t  r;
    int         rc;

    master = start_h1(&s, w0);

    /* the head alone: a 100 Continue (then the body) or the final answer */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n");
    zpt_must_read(c, &r, 0, "Expect: 100-continue, head only");
    if (r.status == 100) {
        zpt_conn_send(c, "hello");
        zpt_must_read(c, &r, 0, "after 100 Continue");
    }
    ck_assert_msg(r.status == 200 && strcmp(r.body, "small\n") == 0,
                  "Expect: 100-continue: %d \"%s\"", r.status, r.body);
    if (r.conn_close) {
        rc = zpt_conn_wait_close(c, zpt_wait_ms());
        ck_assert_msg(rc == 1 || rc == -1, "after Connection: close: %s", zpt_close_text(rc));
    } else {
        /* the server kept the connection: it expects the body, then more */
        zpt_conn_send(c, "hello");
        zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
        zpt_must_read(c, &r, 0, "GET after the 100-continue request");
        ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0,
                      "GET after the 100-continue request: %d \"%s\"", r.status, r.body);
    }
    zpt_conn_close(c);

    /* head and body together: answered, and the connection goes on */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "POST /small/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     "Expect: 100-Continue\r\n\r\nhello"
                     "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "Expect with its body");
    if (r.status == 100) {
        zpt_must_read(c, &r, 0, "final after 100");
    }
    ck_assert_msg(r.status == 200 && strcmp(r.body, "small\n") == 0, "Expect with its body: %d",
                  r.status);
    ck_assert_msg(!r.conn_close, "Expect with the body already sent closes:\n%s", r.headers);
    zpt_must_read(c, &r, 0, "GET after");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "GET after: %d \"%s\"", r.status,
                  r.body);
    zpt_conn_close(c);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_keepalive_and_pipelining)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    zpt_resp_t  r;
    char        buf[8192], want[32];
    int         off = 0, i, rc;

    master = start_h1(&s, w0);

    /* a 404 keeps the connection */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /nothing");
    ck_assert_int_eq(r.status, 404);
    ck_assert_msg(!r.conn_close, "a 404 closes the connection:\n%s", r.headers);
    zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /a after the 404");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "a\n") == 0, "after the 404: %d", r.status);
    ck_assert(!r.conn_close);

    /* 50 requests in one write (more than the 1k buffer holds): 50 answers in order */
    for (i = 0; i < 50; i++) {
        off += snprintf(buf + off, sizeof(buf) - (size_t) off,
                        "GET /p/%d HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n\r\n", i, i);
    }
    zpt_conn_send(c, buf);
    for (i = 0; i < 50; i++) {
        char what[64];

        snprintf(what, sizeof(what), "pipelined response %d", i);
        zpt_must_read(c, &r, 0, what);
        snprintf(want, sizeof(want), "p%d\n", i);
        ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0,
                      "pipelined response %d: %d \"%s\"", i, r.status, r.body);
        ck_assert_msg(!r.conn_close, "pipelined response %d closes", i);
    }

    /* and the connection still serves, then closes on request */
    zpt_conn_send(c, "GET /p/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "after the pipeline");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "plast\n") == 0 && r.conn_close,
                  "after the pipeline: %d \"%s\"", r.status, r.body);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after Connection: close: %s", zpt_close_text(rc));
    zpt_conn_close(c);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/*
 * GET /a with Connection: close on a new connection: a 200, then EOF.
 * cport, when given, gets the client's port.
 */
static void
get_a_close(int port, int *cport)
{
    int                rc;
    zpt_conn_t        *c;
    zpt_resp_t         r;
    struct sockaddr_in sin;
    socklen_t          sl = sizeof(sin);

    c = zpt_conn_open(port);
    if (cport != NULL) {
        ck_assert_int_eq(getsockname(c->fd, (struct sockaddr *) &sin, &sl), 0);
        *cport = ntohs(sin.sin_port);
    }
    zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET with Connection: close");
    ck_assert_int_eq(r.status, 200);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after Connection: close: %s, expected EOF", zpt_close_text(rc));
    zpt_conn_close(c);
}


/*
 * Connection: close. After a whole request and nothing more the server
 * closes at once (a clean FIN); when more input may follow it lingers, so
 * its close cannot turn into a reset that destroys the response: a
 * pipelined request after the closing one, and a large body the route
 * never reads, still leave the client a whole response and an EOF.
 */
START_TEST(test_close_after_response)
{
    int         i, n, rc;
    char        body[49152];
    pid_t       w[2], master;
    zpt_srv_t   s;
    zpt_conn_t *c;
    zpt_resp_t  r;

    master = start_h1(&s, w);

    get_a_close(s.port, NULL);

    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "Connection: close with a request pipelined after it");
    ck_assert_int_eq(r.status, 200);
    rc = zpt_conn_wait_close(c, 4 * zpt_wait_ms());
    ck_assert_msg(rc == 1, "pipelined after close: %s, expected EOF", zpt_close_text(rc));
    zpt_conn_close(c);

    /*
     * A body the route never reads, announced as 1,000,000 bytes (answered
     * 200) and as 4 MB (over client_max_body_size: 413). 48 KiB of it go
     * with the head in one send(), which loopback delivers at once, so the
     * bytes are unread when the response is written: the server must read
     * and drop them and end with a FIN. A plain close() would reset, and
     * the client would see that reset after the response.
     */
    for (rc = 0; rc < 2; rc++) {
        n = snprintf(body, sizeof(body), "POST /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %d\r\n\r\n", rc == 0 ? 1000000 : 4194304);
        memset(body + n, 'b', sizeof(body) - n);
        c = zpt_conn_open(s.port);
        zpt_conn_send_n(c, body, sizeof(body));
        zpt_must_read(c, &r, 0, "POST with an unread body and Connection: close");
        ck_assert_int_eq(r.status, rc == 0 ? 200 : 413);
        i = zpt_conn_wait_close(c, 4 * zpt_wait_ms());
        ck_assert_msg(i == 1, "unread body, status %d: %s, expected EOF", r.status,
                      zpt_close_text(i));
        zpt_conn_close(c);
    }

    zpt_assert_same_workers(&s, master, w);
    zpt_teardown();
}
END_TEST


/*
 * A response that ends the connection ends it in its last segment: the
 * FIN rides with the data (zproxy holds the tail with MSG_MORE until the
 * close), so the client gets one segment less, and no stall either: the
 * response and the EOF both arrive.
 *
 * The request's ACK rides on the response too: the listener hands its
 * connections delayed ACKs, where Linux would ACK a new connection's first
 * data at once. The kernel's delayed-ACK timer (40 ms at least) could
 * still fire if the worker were held up that long, so a bare ACK is only
 * a failure when every one of three connections shows one; with quick
 * ACKs every one of them does.
 */
START_TEST(test_close_fin_with_response)
{
    int        pfd, try, cport, acked = 0;
    pid_t      w[2], master;
    zpt_srv_t  s;
    zpt_segs_t n;

    pfd = zpt_lo_packets_open();
    if (pfd == -1) {
        fprintf(stderr, "test_close_fin_with_response: no packet socket (not root?), skipped\n");
        return;
    }

    master = start_h1(&s, w);

    for (try = 0; try < 3; try++) {
        get_a_close(s.port, &cport);

        memset(&n, 0, sizeof(n));
        zpt_lo_packets_count(pfd, s.port, cport, &n);
        ck_assert_msg(n.data == 1 && n.fin == 1 && n.data_fin == 1,
                      "server segments: %d with data, %d with FIN, %d with both; expected "
                      "the response and the FIN in one", n.data, n.fin, n.data_fin);
        acked += n.ack_before_data > 0;
    }
    close(pfd);
    ck_assert_msg(acked < 3, "each of 3 requests got a bare ACK before its response");

    zpt_assert_same_workers(&s, master, w);
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
    tcase_add_test(tc, test_close_after_response);
    tcase_add_test(tc, test_close_fin_with_response);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(http1_suite)
