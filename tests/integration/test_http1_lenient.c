/*
 * The requests zproxy takes although the grammar refuses them, or that it
 * used to refuse (docs/http1.md, "Lenient readings"), each through a real
 * zproxy with a real client, and the strict cases next to them:
 *
 *   - Transfer-Encoding codings before chunked are passed on: the backend
 *     gets "Transfer-Encoding: gzip, chunked" and the decoded bytes in
 *     zproxy's own chunks; a list not ending in chunked is still 400;
 *   - ignore_invalid_headers on (the default) drops a field name with a
 *     byte outside tchar and logs it escaped, off refuses it; a name that
 *     could be a field zproxy acts on is 400 either way;
 *   - a CTL in a field value is forwarded as received, and escaped in the
 *     access log; in a field zproxy acts on it is 400;
 *   - runs of SP in the request line; a SP in the target goes on as %20,
 *     routing is on the decoded path; an empty target is "/";
 *   - HTTP/0.9 with http09 on: the body alone, then the close (plain and
 *     TLS, proxied and answered by zproxy, errors too); off: 400 / 505;
 *   - zproxy -t for the two directives.
 *
 * The backend is a thread of the test: it reads one request per upstream
 * connection (head, then the body by Content-Length or chunked), records
 * it and answers 200 "ok" with Connection: close.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zpt_client.h"
#include "zpt_harness.h"
#include "zpt_tls.h"

#define LN_REC_MAX 65536


/* ---- the recording backend ------------------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    pthread_t       tid;
    int             lfd, port, stop, nrecs;
    char            rec[LN_REC_MAX + 1]; /* the last request, NUL-terminated */
    size_t          len;
} be = {.lock = PTHREAD_MUTEX_INITIALIZER};


/* The length of the request at the start of p, 0 if not whole yet. */
static size_t
ln_request_len(const char *p, size_t len)
{
    const char *head_end, *q;
    size_t      pos;
    long        cl = 0, size;

    head_end = memmem(p, len, "\r\n\r\n", 4);
    if (head_end == NULL) {
        return 0;
    }
    pos = head_end + 4 - p;

    if (memmem(p, pos, "\r\nTransfer-Encoding:", 20) == NULL) {
        q = memmem(p, pos, "\r\nContent-Length: ", 18);
        if (q) {
            cl = strtol(q + 18, NULL, 10);
        }
        return len - pos >= (size_t) cl ? pos + cl : 0;
    }

    for (;;) {
        q = memmem(p + pos, len - pos, "\r\n", 2);
        if (q == NULL) {
            return 0;
        }
        size = strtol(p + pos, NULL, 16);
        pos  = q + 2 - p;
        if (size == 0) {
            return len - pos >= 2 ? pos + 2 : 0;
        }
        if (len - pos < (size_t) size + 2) {
            return 0;
        }
        pos += size + 2;
    }
}


static void *
ln_backend_loop(void *arg)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    char             *buf;
    size_t            len, rl;
    ssize_t           n;
    int               fd, stop;
    struct pollfd     pfd;

    (void) arg;
    buf = malloc(LN_REC_MAX);
    if (buf == NULL) {
        return NULL;
    }

    for (;;) {
        pthread_mutex_lock(&be.lock);
        stop = be.stop;
        pthread_mutex_unlock(&be.lock);
        if (stop) {
            break;
        }

        pfd.fd     = be.lfd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        fd = accept(be.lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }

        len = 0;
        rl  = 0;
        pfd.fd = fd;
        while (rl == 0 && len < LN_REC_MAX && poll(&pfd, 1, 5000) > 0) {
            n = recv(fd, buf + len, LN_REC_MAX - len, 0);
            if (n <= 0) {
                break;
            }
            len += (size_t) n;
            rl = ln_request_len(buf, len);
        }

        pthread_mutex_lock(&be.lock);
        memcpy(be.rec, buf, len);
        be.rec[len] = '\0';
        be.len      = len;
        be.nrecs++;
        pthread_mutex_unlock(&be.lock);

        if (rl) {
            (void) !send(fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL);
        }
        close(fd);
    }

    free(buf);
    return NULL;
}


static void
ln_backend_run(void)
{
    be.lfd = zpt_listen_any(64, &be.port);
    ck_assert(be.lfd >= 0);
    ck_assert(pthread_create(&be.tid, NULL, ln_backend_loop, NULL) == 0);
}


static void
ln_backend_halt(void)
{
    pthread_mutex_lock(&be.lock);
    be.stop = 1;
    pthread_mutex_unlock(&be.lock);
    pthread_join(be.tid, NULL);
    close(be.lfd);
}


/* Forgets what the backend got. */
static void
ln_clear(void)
{
    pthread_mutex_lock(&be.lock);
    be.nrecs  = 0;
    be.len    = 0;
    be.rec[0] = '\0';
    pthread_mutex_unlock(&be.lock);
}


/* The number of requests the backend got since ln_clear(), the last one
 * into out (NUL-terminated, its length in *len). */
static int
ln_got(char *out, size_t size, size_t *len)
{
    int n;

    pthread_mutex_lock(&be.lock);
    n = be.nrecs;
    if (out) {
        *len = be.len < size - 1 ? be.len : size - 1;
        memcpy(out, be.rec, *len);
        out[*len] = '\0';
    }
    pthread_mutex_unlock(&be.lock);
    return n;
}


/* The request line and head the backend got: must contain want. */
static void
ln_backend_has(const char *want, const char *what)
{
    static char got[LN_REC_MAX + 1];
    size_t      len;

    ck_assert_msg(ln_got(got, sizeof(got), &len) == 1, "%s: the backend got %d requests", what,
                  ln_got(NULL, 0, NULL));
    ck_assert_msg(memmem(got, len, want, strlen(want)) != NULL,
                  "%s: the backend did not get \"%s\" in:\n%s", what, want, got);
}


static void
ln_backend_lacks(const char *unwanted, const char *what)
{
    static char got[LN_REC_MAX + 1];
    size_t      len;

    (void) ln_got(got, sizeof(got), &len);
    ck_assert_msg(memmem(got, len, unwanted, strlen(unwanted)) == NULL,
                  "%s: the backend got \"%s\" in:\n%s", what, unwanted, got);
}


/* ---- the server ---------------------------------------------------------------------- */

/*
 * Three servers: port (defaults: ignore_invalid_headers on, http09 on),
 * port2 (both off), and with tls a third one over TLS (defaults) at port3.
 */
static pid_t
ln_start(zpt_srv_t *s, int *port2, int *port3, pid_t *w)
{
    char conf[8192], tls[1024], err[4096];

    ck_assert_int_eq(zpt_srv_init(s), 0);
    *port2 = zpt_free_port();
    *port3 = zpt_free_port();
    ck_assert(*port2 > 0 && *port3 > 0 && *port2 != s->port && *port3 != *port2);
    ck_assert_msg(zpt_tls_pki(s->prefix, err, sizeof(err)) == 0, "test PKI: %s", err);

    snprintf(tls, sizeof(tls),
             "    server {\n"
             "        listen 127.0.0.1:%d ssl;\n"
             "        server_name a.test;\n"
             "        ssl_certificate a.crt;\n"
             "        ssl_certificate_key a.key;\n"
             "        route /r/ { return 200 \"tls $request_uri\\n\"; }\n"
             "        route / { proxy_pass http://127.0.0.1:%d; }\n"
             "    }\n",
             *port3, be.port);

    snprintf(conf, sizeof(conf),
             "worker_processes 2;\n"
             "daemon off;\n"
             "pid logs/zproxy.pid;\n"
             "error_log logs/error.log info;\n"
             "events { worker_connections 256; }\n"
             "http {\n"
             "    log_format ctl '\"$request\" $status \"$server_protocol\" \"$http_x_ctl\"';\n"
             "    access_log logs/access.log ctl;\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        route /r/ { return 200 \"uri=$uri req=$request_uri args=$args\\n\"; }\n"
             "        route = /404 { return 404; }\n"
             "        route / { proxy_pass http://127.0.0.1:%d; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        ignore_invalid_headers off;\n"
             "        http09 off;\n"
             "        route / { proxy_pass http://127.0.0.1:%d; }\n"
             "    }\n"
             "%s"
             "}\n",
             s->port, be.port, *port2, be.port, tls);

    return zpt_start_conf(s, conf, w);
}


/* A request that must be refused with status and a close, and never reach
 * the backend. */
static void
ln_refused(int port, const char *request, size_t len, int status, const char *what)
{
    zpt_conn_t *c;
    zpt_resp_t  r;
    int         rc;

    ln_clear();
    c = zpt_conn_open(port);
    zpt_conn_send_n(c, request, len ? len : strlen(request));
    zpt_must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(r.conn_close, "%s: no Connection: close:\n%s", what, r.headers);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "%s: %s instead of a close", what, zpt_close_text(rc));
    zpt_conn_close(c);
    ck_assert_msg(ln_got(NULL, 0, NULL) == 0, "%s: the backend got the request", what);
}


/* A request proxied as one: 200 "ok" from the backend, the client's
 * connection still open (or closed, for close). */
static void
ln_forwarded(int port, const char *request, size_t len, const char *what)
{
    zpt_conn_t *c;
    zpt_resp_t  r;

    ln_clear();
    c = zpt_conn_open(port);
    zpt_conn_send_n(c, request, len ? len : strlen(request));
    zpt_must_read(c, &r, 0, what);
    ck_assert_msg(r.status == 200 && strcmp(r.body, "ok") == 0, "%s: %d \"%s\"", what, r.status,
                  r.body);
    zpt_conn_close(c);
}


/* The body of a chunked message at the start of p: decoded into out
 * (NUL-terminated); 1 if the framing is whole and plain (no extensions, no
 * trailers), with nothing after it. */
static int
ln_dechunk(const char *p, size_t len, char *out, size_t size, size_t *olen)
{
    const char *q, *end = p + len;
    char       *e;
    long        n;

    *olen = 0;
    for (;;) {
        q = memmem(p, end - p, "\r\n", 2);
        if (q == NULL) {
            return 0;
        }
        n = strtol(p, &e, 16);
        if (e != q || n < 0) {
            return 0;
        }
        p = q + 2;
        if (n == 0) {
            return end - p == 2 && memcmp(p, "\r\n", 2) == 0;
        }
        if (end - p < n + 2 || *olen + n >= size || memcmp(p + n, "\r\n", 2) != 0) {
            return 0;
        }
        memcpy(out + *olen, p, n);
        *olen += n;
        out[*olen] = '\0';
        p += n + 2;
    }
}


/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(test_codings)
{
    static char got[LN_REC_MAX + 1], body[LN_REC_MAX];
    zpt_srv_t   s;
    pid_t       master, w[2];
    int         port2, port3;
    size_t      len, blen;
    char       *head_end;
    zpt_conn_t *c;
    zpt_resp_t  r;

    ln_backend_run();
    master = ln_start(&s, &port2, &port3, w);

    /* codings before chunked are passed on, the chunks are zproxy's own */
    ln_forwarded(s.port,
                 "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                 "5;ext=1\r\nhello\r\n7\r\n, world\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n",
                 0, "gzip, chunked");
    ck_assert_int_eq(ln_got(got, sizeof(got), &len), 1);
    ck_assert_msg(strstr(got, "\r\nTransfer-Encoding: gzip, chunked\r\n") != NULL, "%s", got);
    ck_assert_msg(strstr(got, "Content-Length") == NULL, "%s", got);
    head_end = strstr(got, "\r\n\r\n");
    ck_assert(head_end != NULL);
    ck_assert_msg(ln_dechunk(head_end + 4, len - (head_end + 4 - got), body, sizeof(body), &blen),
                  "not one chunked body: %s", head_end + 4);
    ck_assert_str_eq(body, "hello, world!");

    /* several lines are one list; identity and chunked's parameters go */
    ln_forwarded(s.port,
                 "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                 "Transfer-Encoding: deflate;x=\"1, 2\" , identity\r\n"
                 "Transfer-Encoding: chunked;p\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                 0, "three Transfer-Encoding lines");
    ln_backend_has("\r\nTransfer-Encoding: gzip, deflate;x=\"1, 2\", chunked\r\n", "three lines");
    (void) ln_got(got, sizeof(got), &len);
    ck_assert_msg(strstr(got, "identity") == NULL, "%s", got);
    ck_assert_msg(strstr(got, "\r\n\r\n3\r\nabc\r\n0\r\n\r\n") != NULL, "%s", got);

    /* answered by zproxy: the body is read by its chunks and dropped */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "POST /r/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br, chunked\r\n\r\n"
                     "4\r\nbody\r\n0\r\n\r\n"
                     "GET /r/next HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "return with codings");
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);
    zpt_must_read(c, &r, 0, "the request after it");
    ck_assert_msg(r.status == 200 && strstr(r.body, "uri=/r/next") != NULL, "%d %s", r.status,
                  r.body);
    zpt_conn_close(c);

    /* still refused */
    ln_refused(s.port, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 0, 400,
               "a list not ending in chunked");
    ln_refused(s.port,
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
               "0\r\n\r\n",
               0, 400, "chunked not last");
    ln_refused(s.port,
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               0, 400, "chunked twice");
    ln_refused(s.port,
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
               "Content-Length: 5\r\n\r\n0\r\n\r\n",
               0, 400, "codings and Content-Length");
    ln_refused(s.port,
               "POST /up HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0, 400,
               "codings in HTTP/1.0");
    ln_refused(s.port,
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , ,\r\n\r\n0\r\n\r\n", 0, 400,
               "a line of no coding");
    ln_refused(s.port,
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip;q=\"1, chunked\r\n\r\n"
               "0\r\n\r\n",
               0, 400, "an unterminated quoted parameter");

    zpt_assert_same_workers(&s, master, w);
    ln_backend_halt();
    zpt_teardown();
}
END_TEST


START_TEST(test_invalid_names)
{
    static const char nul_name[] = "GET /a HTTP/1.1\r\nHost: x\r\nX\0Y: 1\r\n\r\n";
    zpt_srv_t         s;
    pid_t             master, w[2];
    int               port2, port3;

    ln_backend_run();
    master = ln_start(&s, &port2, &port3, w);

    /* on (the default): dropped, logged with the name escaped */
    ln_forwarded(s.port,
                 "GET /a HTTP/1.1\r\nHost: x\r\nx-my-custom-header : v1\r\n\x01X-Ctl-Name: v2\r\n"
                 "X\x80Y: v3\r\nX(Y): v4\r\nX-Kept: v5\r\n\r\n",
                 0, "bad names, on");
    ln_backend_has("\r\nX-Kept: v5\r\n", "bad names, on");
    ln_backend_lacks("v1", "bad names, on");
    ln_backend_lacks("v2", "bad names, on");
    ln_backend_lacks("v3", "bad names, on");
    ln_backend_lacks("v4", "bad names, on");
    ck_assert(zpt_wait_file_line(s.error_log, "[info]",
                                 "client sent invalid header name \"\\x01X-Ctl-Name\", ignored",
                                 zpt_wait_ms()));
    ck_assert(zpt_wait_file_line(s.error_log, "[info]",
                                 "client sent invalid header name \"X\\x80Y\", ignored",
                                 zpt_wait_ms()));

    /* off: refused */
    ln_refused(port2, "GET /a HTTP/1.1\r\nHost: x\r\nx-my-custom-header : v1\r\n\r\n", 0, 400,
               "a SP before the colon, off");
    ln_refused(port2, "GET /a HTTP/1.1\r\nHost: x\r\n\x01X: 1\r\n\r\n", 0, 400, "\\x01, off");
    ln_forwarded(port2, "GET /a HTTP/1.1\r\nHost: x\r\nX-Fine: 1\r\n\r\n", 0, "a good name, off");

    /* a name that could be one zproxy acts on: refused either way */
    ln_refused(s.port,
               "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 0,
               400, "Transfer-Encoding SP colon");
    ln_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length\t: 3\r\n\r\nabc", 0, 400,
               "Content-Length HT colon");
    ln_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\n\x01" "Content-Length: 3\r\n\r\nabc", 0,
               400, "\\x01Content-Length");
    ln_refused(s.port,
               "POST /a HTTP/1.1\r\nHost: x\r\nTransfer\xe2\x80\x95" "Encoding: chunked\r\n\r\n"
               "0\r\n\r\n",
               0, 400, "Transfer-Encoding with a UTF-8 dash");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nHo st: y\r\n\r\n", 0, 400, "Ho st");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nConnection\x7f: close\r\n\r\n", 0, 400,
               "Connection DEL");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nUp grade: websocket\r\n\r\n", 0, 400,
               "Up grade");
    ln_refused(port2, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
               "0\r\n\r\n", 0, 400, "Transfer-Encoding SP colon, off");

    /* always refused */
    ln_refused(s.port, nul_name, sizeof(nul_name) - 1, 400, "NUL in a name");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\n X: 1\r\n\r\n", 0, 400, "a leading SP");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 0, 400, "an empty name");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\n:X: 1\r\n\r\n", 0, 400, "a name after ':'");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", 0, 400,
               "obs-fold");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nX \rY: 1\r\n\r\n", 0, 400, "CR in a name");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nX \nY: 1\r\n\r\n", 0, 400,
               "LF in a name");

    /* underscores: dropped as before (underscores_in_headers off) */
    ln_forwarded(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nX_Under: u1\r\n\r\n", 0, "underscore");
    ln_backend_lacks("u1", "underscore");

    zpt_assert_same_workers(&s, master, w);
    ln_backend_halt();
    zpt_teardown();
}
END_TEST


START_TEST(test_ctl_values)
{
    zpt_srv_t s;
    pid_t     master, w[2];
    int       port2, port3;

    ln_backend_run();
    master = ln_start(&s, &port2, &port3, w);

    /* forwarded as received */
    ln_forwarded(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x01" "b\x1f\x7f" "c\r\n\r\n", 0,
                 "CTLs in a value");
    ln_backend_has("\r\nX-Ctl: a\x01" "b\x1f\x7f" "c\r\n", "CTLs in a value");
    ln_forwarded(port2, "GET /a HTTP/1.1\r\nHost: x\r\nX-Other: \x0b\r\n\r\n", 0, "VT, off");
    ln_backend_has("\r\nX-Other: \x0b\r\n", "VT, off");

    /* and escaped in the access log */
    ck_assert(zpt_wait_file_line(s.access_log, "\"GET /a HTTP/1.1\" 200",
                                 "\"a\\x01b\\x1F\\x7Fc\"", zpt_wait_ms()));

    /* refused in a field zproxy acts on */
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\x01\r\n\r\n", 0, 400, "Host");
    ln_refused(s.port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\x01\r\n\r\nabc", 0, 400,
               "Content-Length");
    ln_refused(s.port,
               "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n", 0,
               400, "Transfer-Encoding");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\x7f\r\n\r\n", 0, 400,
               "Connection");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nExpect: \x01\r\n\r\n", 0, 400, "Expect");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nTE: \x01trailers\r\n\r\n", 0, 400, "TE");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: a\x01\r\n\r\n", 0, 400, "Upgrade");
    ln_refused(s.port, "GET /a HTTP/1.1\r\nHost: x\r\nContent_Length: 1\x01\r\n\r\n", 0, 400,
               "Content_Length");

    zpt_assert_same_workers(&s, master, w);
    ln_backend_halt();
    zpt_teardown();
}
END_TEST


START_TEST(test_request_line)
{
    zpt_srv_t  s;
    pid_t      master, w[2];
    int        port2, port3;
    zpt_resp_t r;

    ln_backend_run();
    master = ln_start(&s, &port2, &port3, w);

    /* runs of SP, SP after the version */
    ln_forwarded(s.port, "GET   /sp?q=1   HTTP/1.1  \r\nHost: x\r\n\r\n", 0, "runs of SP");
    ln_backend_has("GET /sp?q=1 HTTP/1.1\r\n", "runs of SP");

    /* a SP in the target: %20 upstream, routing on the decoded path */
    ln_forwarded(s.port, "GET /endpoint_a?param=not escaped spaces HTTP/1.1\r\nHost: x\r\n\r\n",
                 0, "SP in the query");
    ln_backend_has("GET /endpoint_a?param=not%20escaped%20spaces HTTP/1.1\r\n", "SP in the query");
    ln_forwarded(port2, "GET /a b  c HTTP/1.1\r\nHost: x\r\n\r\n", 0, "SP in the path");
    ln_backend_has("GET /a%20b%20%20c HTTP/1.1\r\n", "SP in the path");

    zpt_one(s.port, "GET /r/a b/../c d?e f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r,
            0, "SP, return");
    ck_assert_msg(r.status == 200
                      && strcmp(r.body, "uri=/r/c d req=/r/a%20b/../c%20d?e%20f args=e%20f\n") == 0,
                  "%d \"%s\"", r.status, r.body);

    /* an empty target is "/" */
    ln_forwarded(s.port, "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 0, "an empty target");
    ln_backend_has("GET / HTTP/1.1\r\n", "an empty target");

    /* still refused */
    ln_refused(s.port, "GET /a HTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "two versions");
    ln_refused(s.port, "GET /a\tHTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "HT before the version");
    ln_refused(s.port, "GET\t/a HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "HT after the method");
    ln_refused(s.port, "GET /a HTTP/1.1\t\r\nHost: x\r\n\r\n", 0, 400, "HT after the version");
    ln_refused(s.port, " GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "a leading SP");
    ln_refused(s.port, "GET http://x/a b HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400,
               "SP in an absolute-form target");
    ln_refused(s.port, "GET /a HTTP/1.1x HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400,
               "a target word starting HTTP/");
    ln_refused(s.port, "GET /a\nHTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "LF in the target");
    ln_refused(s.port, "GET /a\rHTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400, "CR in the target");

    zpt_assert_same_workers(&s, master, w);
    ln_backend_halt();
    zpt_teardown();
}
END_TEST


/* An HTTP/0.9 exchange: the request, then everything up to the close. */
static void
ln_http09(int port, const char *request, char *out, size_t size, const char *what)
{
    zpt_conn_t *c;
    ssize_t     n;

    c = zpt_conn_open(port);
    zpt_conn_send(c, request);
    n = zpt_conn_read_all(c, out, size);
    ck_assert_msg(n >= 0, "%s: the connection was not closed", what);
    zpt_conn_close(c);
}


START_TEST(test_http09)
{
    zpt_srv_t  s;
    pid_t      master, w[2];
    int        port2, port3;
    char       out[4096];
    zpt_resp_t r;

    ln_backend_run();
    master = ln_start(&s, &port2, &port3, w);

    /* proxied: a well-formed HTTP/1.1 request without the client's
     * headers; the answer is the body alone, then the close */
    ln_clear();
    ln_http09(s.port, "GET /p09?x\r\nX-Secret: s\r\nHost: evil\r\n\r\n", out, sizeof(out),
              "0.9 proxied");
    ck_assert_msg(strcmp(out, "ok") == 0, "0.9 proxied: \"%s\"", out);
    ln_backend_has("GET /p09?x HTTP/1.1\r\n", "0.9 proxied");
    ln_backend_lacks("X-Secret", "0.9 proxied");
    ln_backend_lacks("evil", "0.9 proxied");

    ln_clear();
    ln_http09(s.port, "GET /p09 HTTP/0.9\r\n", out, sizeof(out), "HTTP/0.9 proxied");
    ck_assert_msg(strcmp(out, "ok") == 0, "HTTP/0.9 proxied: \"%s\"", out);
    ln_backend_has("GET /p09 HTTP/1.1\r\n", "HTTP/0.9 proxied");

    /* answered by zproxy, errors too: no status line, no headers */
    ln_http09(s.port, "GET /r/a b\r\n", out, sizeof(out), "0.9 return");
    ck_assert_msg(strcmp(out, "uri=/r/a b req=/r/a%20b args=\n") == 0, "0.9 return: \"%s\"", out);
    ln_http09(s.port, "GET /404\r\n", out, sizeof(out), "0.9 404");
    ck_assert_msg(strncmp(out, "<html><head><title>404 Not Found", 32) == 0, "0.9 404: \"%s\"",
                  out);

    /* logged as the line it was, the status that would have been sent */
    ck_assert(zpt_wait_file_line(s.access_log, "\"GET /p09?x\" 200 \"-\"", NULL, zpt_wait_ms()));
    ck_assert(zpt_wait_file_line(s.access_log, "\"GET /p09 HTTP/0.9\" 200 \"HTTP/0.9\"", NULL,
                                 zpt_wait_ms()));
    ck_assert(zpt_wait_file_line(s.access_log, "\"GET /404\" 404", NULL, zpt_wait_ms()));

    /* only GET; a bare LF after the target is a LF in it */
    ln_refused(s.port, "POST /p09\r\n\r\n", 0, 400, "0.9 POST");
    ln_refused(s.port, "HEAD /p09 HTTP/0.9\r\n\r\n", 0, 400, "HTTP/0.9 HEAD");
    ln_refused(s.port, "GET /p09\nHost: x\r\n\r\n", 0, 400, "0.9 with a bare LF");

    /* http09 off: as HTTP/1.x treats them */
    ln_refused(port2, "GET /p09\r\n\r\n", 0, 400, "0.9, off");
    ln_refused(port2, "GET /p09 HTTP/0.9\r\n\r\n", 0, 505, "HTTP/0.9, off");

    /* over TLS: the same */
    ck_assert_int_eq(zpt_sh(out, sizeof(out),
                            "cd %s/conf && printf 'GET /r/tls\\r\\n' | timeout 10 openssl s_client"
                            " -connect 127.0.0.1:%d -servername a.test -CAfile ca.crt -quiet"
                            " -ign_eof 2>/dev/null",
                            s.prefix, port3),
                     0);
    ck_assert_msg(strcmp(out, "tls /r/tls\n") == 0, "0.9 over TLS: \"%s\"", out);

    /* the workers still serve HTTP/1.1 */
    zpt_one(s.port, "GET /r/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "after");
    ck_assert_int_eq(r.status, 200);

    zpt_assert_same_workers(&s, master, w);
    ln_backend_halt();
    zpt_teardown();
}
END_TEST


static Suite *
http1_lenient_suite(void)
{
    Suite *s  = suite_create("http1_lenient");
    TCase *tc = tcase_create("http1_lenient");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_codings);
    tcase_add_test(tc, test_invalid_names);
    tcase_add_test(tc, test_ctl_values);
    tcase_add_test(tc, test_request_line);
    tcase_add_test(tc, test_http09);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(http1_lenient_suite)
