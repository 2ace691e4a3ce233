/*
 * The access log over real sockets: a custom log_format with several
 * variables, escape=json / default / none on a header holding '"', a
 * control byte and non-ASCII bytes, `access_log off` in one route only, and
 * buffer=64k: lines reach the file after flush=, at a USR1 reopen and at
 * graceful stop, none lost (lines == requests).
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
start_log(zpt_srv_t *s, pid_t *w)
{
    char conf[8192];

    ck_assert_int_eq(zpt_srv_init(s), 0);
    snprintf(conf, sizeof(conf),
             "worker_processes 2;\n"
             "daemon off;\n"
             "pid logs/zproxy.pid;\n"
             "error_log logs/error.log info;\n"
             "events { worker_connections 1024; }\n"
             "http {\n"
             "    log_format custom '$remote_addr|$request_method|$uri|$args|$status|'\n"
             "                      '$body_bytes_sent|$request_length|$http_user_agent|'\n"
             "                      '$param_id|$server_protocol|$request';\n"
             "    log_format js escape=json '{\"x\":\"$http_x_data\",\"ua\":\"$http_user_agent\","
             "\"s\":$status}';\n"
             "    log_format def escape=default '<$http_x_data> <$http_user_agent>';\n"
             "    log_format raw escape=none '<$http_x_data>';\n"
             "    log_format tag '$uri $arg_n';\n"
             "    access_log logs/access.log custom;\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        route /c/:id { return 200 \"c\\n\"; }\n"
             "        route /json/ { access_log logs/json.log js; return 200 \"j\\n\"; }\n"
             "        route /def/ { access_log logs/def.log def; return 200 \"d\\n\"; }\n"
             "        route /raw/ { access_log logs/raw.log raw; return 200 \"r\\n\"; }\n"
             "        route /off/ { access_log off; return 200 \"off\\n\"; }\n"
             "        route /buf/ { access_log logs/buf.log tag buffer=64k flush=1s; return 200 \"b\\n\"; }\n"
             "        route /hold/ { access_log logs/hold.log tag buffer=64k flush=10m; return 200 \"h\\n\"; }\n"
             "        route / { return 404 \"none\\n\"; }\n"
             "    }\n"
             "}\n",
             s->port);
    return start_conf(s, conf, w);
}


static void
log_path(const zpt_srv_t *s, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/logs/%s", s->prefix, name);
}


/* Sends n GET path?n=<i> requests, each on its own connection, expecting 200. */
static void
send_n(int port, const char *path, int first, int n)
{
    char   buf[256];
    resp_t r;
    int    i;

    for (i = first; i < first + n; i++) {
        snprintf(buf, sizeof(buf), "GET %s?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 path, i);
        one(port, buf, &r, 0, buf);
        ck_assert_msg(r.status == 200, "%s: %d", buf, r.status);
    }
}


/* Waits (bounded) until path has exactly n lines; returns the last count. */
static int
wait_lines(const char *path, int n)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       got;

    for (;;) {
        got = zpt_count_lines(path, NULL);
        if (got >= n || zpt_now_ms() > end) {
            return got;
        }
        zpt_msleep(20);
    }
}


START_TEST(test_custom_format)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    resp_t      r;
    char        want[1024];
    const char *raw = "GET /c/42?a=1&b=2 HTTP/1.1\r\nHost: x\r\nUser-Agent: zpt/2.0\r\n"
                      "Connection: close\r\n\r\n";

    master = start_log(&s, w0);

    one(s.port, raw, &r, 0, "GET /c/42");
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof(want),
             "127.0.0.1|GET|/c/42|a=1&b=2|200|2|%zu|zpt/2.0|42|HTTP/1.1|GET /c/42?a=1&b=2 HTTP/1.1",
             strlen(raw));
    ck_assert_msg(zpt_wait_file_line(s.access_log, want, NULL, zpt_wait_ms()),
                  "no line \"%s\" in access.log", want);

    /* empty values are "-" by default; a 404 from a return; a HEAD */
    one(s.port, "HEAD /c/%37/../8 HTTP/1.0\r\n\r\n", &r, 1, "HEAD /c/8");
    ck_assert_msg(zpt_wait_file_line(s.access_log, "127.0.0.1|HEAD|/c/8|-|200|0|", "|-|8|HTTP/1.0|",
                                     zpt_wait_ms()),
                  "no line for the HEAD in access.log");
    one(s.port, "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        &r, 0, "POST /nope");
    ck_assert_msg(zpt_wait_file_line(s.access_log, "127.0.0.1|POST|/nope|-|404|5|", NULL,
                                     zpt_wait_ms()),
                  "no line for the 404 in access.log");

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_escaping)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    resp_t    r;
    char      path[ZPT_PATH_MAX];
    char     *text;
    /* a '"', a '\', a TAB (control byte), and UTF-8 "é" */
    const char *hdr = "X-Data: say \"hi\"\\\tnow \xc3\xa9\r\nUser-Agent: ua\r\n";

    master = start_log(&s, w0);

    req(s.port, "GET", "x", "/json/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    req(s.port, "GET", "x", "/json/2", NULL, &r);
    log_path(&s, "json.log", path, sizeof(path));
    ck_assert_msg(wait_lines(path, 2) == 2, "json.log has %d lines", zpt_count_lines(path, NULL));
    text = zpt_read_file(path, NULL);
    ck_assert(text != NULL);
    ck_assert_msg(strstr(text, "{\"x\":\"say \\\"hi\\\"\\\\\\u0009now \xc3\xa9\",\"ua\":\"ua\",\"s\":200}\n")
                      != NULL,
                  "escape=json line:\n%s", text);
    /* empty values are empty in JSON, not "-" */
    ck_assert_msg(strstr(text, "{\"x\":\"\",\"ua\":\"\",\"s\":200}\n") != NULL,
                  "escape=json with empty values:\n%s", text);
    free(text);

    req(s.port, "GET", "x", "/def/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    log_path(&s, "def.log", path, sizeof(path));
    ck_assert_msg(wait_lines(path, 1) == 1, "def.log has %d lines", zpt_count_lines(path, NULL));
    text = zpt_read_file(path, NULL);
    ck_assert(text != NULL);
    ck_assert_msg(strcmp(text, "<say \\x22hi\\x22\\x5C\\x09now \\xC3\\xA9> <ua>\n") == 0,
                  "escape=default line:\n%s", text);
    free(text);

    req(s.port, "GET", "x", "/raw/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    log_path(&s, "raw.log", path, sizeof(path));
    ck_assert_msg(wait_lines(path, 1) == 1, "raw.log has %d lines", zpt_count_lines(path, NULL));
    text = zpt_read_file(path, NULL);
    ck_assert(text != NULL);
    ck_assert_msg(strcmp(text, "<say \"hi\"\\\tnow \xc3\xa9>\n") == 0, "escape=none line:\n%s", text);
    free(text);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_access_log_off)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    conn_t   *c;
    resp_t    r;

    master = start_log(&s, w0);

    /* one connection, one worker: the marker is logged after the /off/ request */
    c = conn_open(s.port);
    conn_send(c, "GET /off/x HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /off/x");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "off\n") == 0, "/off/x: %d", r.status);
    conn_send(c, "GET /c/marker HTTP/1.1\r\nHost: x\r\n\r\n");
    must_read(c, &r, 0, "GET /c/marker");
    conn_close(c);

    ck_assert_msg(zpt_wait_file_line(s.access_log, "|/c/marker|", NULL, zpt_wait_ms()),
                  "no line for /c/marker");
    ck_assert_msg(zpt_count_lines(s.access_log, "/off/") == 0, "/off/ was logged despite access_log off");
    ck_assert_msg(zpt_count_lines(s.access_log, NULL) == 1, "access.log has %d lines, expected 1",
                  zpt_count_lines(s.access_log, NULL));

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_buffered_flush_interval)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      path[ZPT_PATH_MAX];
    int       got;

    master = start_log(&s, w0);
    log_path(&s, "buf.log", path, sizeof(path));

    /* flush=1s: the lines come without anything else happening */
    send_n(s.port, "/buf/a", 0, 5);
    got = wait_lines(path, 5);
    ck_assert_msg(got == 5, "buf.log: %d of 5 lines after flush=1s", got);

    /* and the timer is armed again for the next lines */
    send_n(s.port, "/buf/b", 5, 7);
    got = wait_lines(path, 12);
    ck_assert_msg(got == 12, "buf.log: %d of 12 lines after a second flush", got);
    ck_assert_int_eq(zpt_count_lines(path, "/buf/b "), 7);

    assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_buffered_reopen_and_stop)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      path[ZPT_PATH_MAX], rotated[ZPT_PATH_MAX + 8];
    int       got, old, status;

    master = start_log(&s, w0);
    log_path(&s, "hold.log", path, sizeof(path));
    snprintf(rotated, sizeof(rotated), "%s.1", path);

    /* flush=10m, 64k: nothing is written yet */
    send_n(s.port, "/hold/a", 0, 10);
    ck_assert_msg(zpt_count_lines(path, NULL) == 0,
                  "hold.log has %d lines before any flush (buffer=64k flush=10m)",
                  zpt_count_lines(path, NULL));

    /* logrotate: rename, USR1; the buffered lines land in the old file */
    ck_assert_int_eq(rename(path, rotated), 0);
    ck_assert_int_eq(zpt_kill(master, SIGUSR1), 0);
    ck_assert_msg(zpt_wait_exists(path, 1, zpt_wait_ms()), "USR1 did not reopen hold.log");
    got = wait_lines(rotated, 10);
    ck_assert_msg(got == 10, "after USR1: %d of 10 lines in the rotated file", got);
    ck_assert_int_eq(zpt_count_lines(rotated, "/hold/a "), 10);

    /* more lines, then a graceful stop: they are written at exit */
    send_n(s.port, "/hold/b", 10, 15);
    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(master, zpt_wait_ms(), &status), "master did not stop on QUIT");
    ck_assert_msg(!zpt_file_has_line(s.error_log, "exited on signal", NULL),
                  "a worker crashed (see error.log)");

    old = zpt_count_lines(rotated, NULL);
    got = zpt_count_lines(path, NULL);
    ck_assert_msg(old == 10 && got == 15,
                  "after QUIT: %d lines in the rotated file (10 expected), %d in the new one (15 "
                  "expected)",
                  old, got);
    ck_assert_int_eq(zpt_count_lines(path, "/hold/b "), 15);

    zpt_teardown();
}
END_TEST


static Suite *
access_log_suite(void)
{
    Suite *s  = suite_create("access_log");
    TCase *tc = tcase_create("access_log");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_custom_format);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_access_log_off);
    tcase_add_test(tc, test_buffered_flush_interval);
    tcase_add_test(tc, test_buffered_reopen_and_stop);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(access_log_suite)
