/*
 * The built-in variables, each read back through `return 200 "$var"` (and
 * the response-side ones through the access log), over real sockets:
 * connection addresses and ports, the request line and its parts, $uri in
 * normalized form, $arg_*, $http_* (dashes, repeats joined by ", "),
 * $param_*, $1..$9, counters, times, $request_id (generated or the
 * client's sane X-Request-ID); a redirect's text is its Location; an
 * unknown variable fails `zproxy -t` at file:line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <ctype.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "zpt_client.h"
#include "zpt_harness.h"

static const char *simple_vars[] = {
    "remote_addr", "remote_port", "server_addr", "server_port", "host", "request_method",
    "request_uri", "uri", "args", "request", "server_protocol", "scheme", "request_length",
    "pid", "connection", "connection_requests", "request_time", "time_local", "time_iso8601",
    "msec", "request_id", "http_user_agent", "http_x_custom_header", "http_x_multi",
    "arg_x", "arg_xx", "arg_missing", NULL};


/* One exact route per variable: GET /v/<name> answers its value between brackets. */
static pid_t
start_vars(zpt_srv_t *s, pid_t *w)
{
    char   conf[32768];
    int    off, i;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    off = snprintf(conf, sizeof(conf),
                   "worker_processes 2;\n"
                   "daemon off;\n"
                   "pid logs/zproxy.pid;\n"
                   "error_log logs/error.log info;\n"
                   "events { worker_connections 1024; }\n"
                   "http {\n"
                   "    log_format vars '$request_uri status=$status body=$body_bytes_sent "
                   "sent=$bytes_sent len=$request_length id=$request_id';\n"
                   "    access_log logs/access.log vars;\n"
                   "    server {\n"
                   "        listen 127.0.0.1:%d;\n",
                   s->port);
    for (i = 0; simple_vars[i]; i++) {
        off += snprintf(conf + off, sizeof(conf) - (size_t) off,
                        "        route = /v/%s { return 200 \"[$%s]\"; }\n", simple_vars[i],
                        simple_vars[i]);
    }
    snprintf(conf + off, sizeof(conf) - (size_t) off,
             "        route /u/ { return 200 \"[$uri|$request_uri|$args|$arg_x|$arg_xx|$arg_q]\"; }\n"
             "        route /users/:id/orders/:oid { return 200 \"[$param_id|$param_oid|$param_nope]\"; }\n"
             "        route /files/* { return 200 \"[${param_id}x$uri]\"; }\n"
             "        route ~ \"^/re/([a-z]+)/(\\d+)(/x)?$\" { return 200 \"[$1|$2|$3|$4|$9]\"; }\n"
             "        route = /twice { return 200 \"[$request_id $request_id]\"; }\n"
             "        route = /conn { return 200 \"[$connection $connection_requests]\"; }\n"
             "        route /r/:id { return 302 \"http://x/$param_id?from=$uri\"; }\n"
             "        route = /moved { return 301 \"https://example.com/new\"; }\n"
             "        route = /temp { return 307 \"/elsewhere/$arg_to\"; }\n"
             "    }\n}\n");
    return zpt_start_conf(s, conf, w);
}


/*
 * GET /v/<name> (raw request built from extra, query) on conn c or a fresh
 * connection; the value between the brackets goes to out.
 */
static void
get_var_on(zpt_conn_t *c, const char *name, const char *query, const char *extra, char *out,
           size_t size, zpt_resp_t *r)
{
    char buf[4096];
    size_t n;

    snprintf(buf, sizeof(buf), "GET /v/%s%s%s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", name,
             query ? "?" : "", query ? query : "", extra ? extra : "");
    zpt_conn_send(c, buf);
    zpt_must_read(c, r, 0, buf);
    ck_assert_msg(r->status == 200, "%s: status %d", buf, r->status);
    n = strlen(r->body);
    ck_assert_msg(n >= 2 && r->body[0] == '[' && r->body[n - 1] == ']', "%s: body \"%s\"", buf,
                  r->body);
    snprintf(out, size, "%.*s", (int) n - 2, r->body + 1);
}


static void
get_var(int port, const char *name, const char *query, const char *extra, char *out, size_t size)
{
    zpt_conn_t *c = zpt_conn_open(port);
    zpt_resp_t  r;

    get_var_on(c, name, query, extra, out, size, &r);
    zpt_conn_close(c);
}


static int
matches(const char *s, const char *re)
{
    regex_t rx;
    int     rc;

    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&rx, s, 0, NULL, 0);
    regfree(&rx);
    return rc == 0;
}


#define VAR_IS(port, name, query, extra, want)                                                     \
    do {                                                                                           \
        char v_[4096];                                                                             \
        get_var(port, name, query, extra, v_, sizeof(v_));                                         \
        ck_assert_msg(strcmp(v_, want) == 0, "$%s = \"%s\", expected \"%s\"", name, v_, want);     \
    } while (0)

#define VAR_RE(port, name, re)                                                                     \
    do {                                                                                           \
        char v_[4096];                                                                             \
        get_var(port, name, NULL, NULL, v_, sizeof(v_));                                           \
        ck_assert_msg(matches(v_, re), "$%s = \"%s\", does not match %s", name, v_, re);           \
    } while (0)


START_TEST(test_connection_vars)
{
    zpt_srv_t          s;
    pid_t              master, w0[2];
    zpt_conn_t        *c;
    zpt_resp_t         r;
    char               v[256], want[64];
    struct sockaddr_in sin;
    socklen_t          len = sizeof(sin);
    pid_t              pid;
    long               conn1, conn2, n1, n2;

    master = start_vars(&s, w0);

    VAR_IS(s.port, "remote_addr", NULL, NULL, "127.0.0.1");
    VAR_IS(s.port, "server_addr", NULL, NULL, "127.0.0.1");
    snprintf(want, sizeof(want), "%d", s.port);
    VAR_IS(s.port, "server_port", NULL, NULL, want);
    VAR_IS(s.port, "scheme", NULL, NULL, "http");

    /* $remote_port: the client's own port */
    c = zpt_conn_open(s.port);
    ck_assert_int_eq(getsockname(c->fd, (struct sockaddr *) &sin, &len), 0);
    get_var_on(c, "remote_port", NULL, NULL, v, sizeof(v), &r);
    snprintf(want, sizeof(want), "%d", ntohs(sin.sin_port));
    ck_assert_msg(strcmp(v, want) == 0, "$remote_port = \"%s\", the client port is %s", v, want);
    zpt_conn_close(c);

    /* $pid: the worker that answered */
    get_var(s.port, "pid", NULL, NULL, v, sizeof(v));
    pid = (pid_t) strtol(v, NULL, 10);
    ck_assert_msg(zpt_pid_in(pid, w0, 2), "$pid = \"%s\", workers are %d %d", v, w0[0], w0[1]);

    /* $connection stays, $connection_requests counts on a keep-alive connection */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /conn HTTP/1.1\r\nHost: x\r\n\r\nGET /conn HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "first /conn");
    ck_assert_msg(sscanf(r.body, "[%ld %ld]", &conn1, &n1) == 2, "/conn: \"%s\"", r.body);
    zpt_must_read(c, &r, 0, "second /conn");
    ck_assert_msg(sscanf(r.body, "[%ld %ld]", &conn2, &n2) == 2, "/conn: \"%s\"", r.body);
    ck_assert_msg(conn1 == conn2 && n1 == 1 && n2 == 2,
                  "keep-alive: $connection %ld then %ld, $connection_requests %ld then %ld", conn1,
                  conn2, n1, n2);
    zpt_conn_close(c);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_request_vars)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_resp_t  r;
    char        v[512], want[512];
    const char *raw;

    master = start_vars(&s, w0);

    VAR_IS(s.port, "request_method", NULL, NULL, "GET");
    VAR_IS(s.port, "request_uri", "a=1&b=%20x", NULL, "/v/request_uri?a=1&b=%20x");
    VAR_IS(s.port, "uri", "a=1", NULL, "/v/uri");
    VAR_IS(s.port, "args", "a=1&b=2", NULL, "a=1&b=2");
    VAR_IS(s.port, "args", NULL, NULL, "");
    VAR_IS(s.port, "request", "q=1", NULL, "GET /v/request?q=1 HTTP/1.1");
    VAR_IS(s.port, "server_protocol", NULL, NULL, "HTTP/1.1");
    VAR_IS(s.port, "host", NULL, NULL, "localhost");

    /* other methods, HTTP/1.0, a Host with case and port */
    zpt_one(s.port, "DELETE /v/request_method HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r,
            0, "DELETE");
    ck_assert_msg(strcmp(r.body, "[DELETE]") == 0, "$request_method of DELETE: %s", r.body);
    zpt_one(s.port, "GET /v/server_protocol HTTP/1.0\r\n\r\n", &r, 0, "HTTP/1.0");
    ck_assert_msg(strcmp(r.body, "[HTTP/1.0]") == 0, "$server_protocol of 1.0: %s", r.body);
    zpt_one(s.port,
            "GET /v/host HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\nConnection: close\r\n\r\n", &r,
            0, "Host with case and port");
    ck_assert_msg(strcmp(r.body, "[www.example.com]") == 0, "$host: %s", r.body);
    zpt_one(s.port,
            "GET http://Abs.Example/v/host HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n",
            &r, 0, "absolute-form");
    ck_assert_msg(strcmp(r.body, "[abs.example]") == 0, "$host of an absolute-form target: %s",
                  r.body);

    /* $uri normalized, $request_uri as sent */
    zpt_one(s.port,
            "GET /u/a/../%62//c/./d?x=1&xx=2&q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            &r, 0, "/u/ normalized");
    ck_assert_msg(strcmp(r.body, "[/u/b/c/d|/u/a/../%62//c/./d?x=1&xx=2&q|x=1&xx=2&q|1|2|]") == 0,
                  "$uri|$request_uri|$args|$arg_x|$arg_xx|$arg_q: %s", r.body);
    zpt_one(s.port, "GET /u/a/b/.. HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "/u/a/b/..");
    ck_assert_msg(strcmp(r.body, "[/u/a/|/u/a/b/..||||]") == 0, "/u/a/b/..: %s", r.body);

    /* $arg_*: by exact name, the first one, as sent */
    VAR_IS(s.port, "arg_x", "xx=2&x=1&x=3", NULL, "1");
    VAR_IS(s.port, "arg_xx", "x=1&xx=a%20b", NULL, "a%20b");
    VAR_IS(s.port, "arg_x", "x=", NULL, "");
    VAR_IS(s.port, "arg_missing", "x=1", NULL, "");

    /* $request_length: the whole request head */
    raw = "GET /v/request_length?pad=12345 HTTP/1.1\r\nHost: x\r\nX-Pad: abcdef\r\n"
          "Connection: close\r\n\r\n";
    zpt_one(s.port, raw, &r, 0, "request_length");
    snprintf(want, sizeof(want), "[%zu]", strlen(raw));
    ck_assert_msg(strcmp(r.body, want) == 0, "$request_length: %s, the request has %zu bytes",
                  r.body, strlen(raw));

    /* headers */
    VAR_IS(s.port, "http_user_agent", NULL, "User-Agent: zpt/1.0 (test)\r\n", "zpt/1.0 (test)");
    VAR_IS(s.port, "http_x_custom_header", NULL, "X-Custom-Header: v-1\r\n", "v-1");
    VAR_IS(s.port, "http_x_custom_header", NULL, "x-cUSTOM-header: lower\r\n", "lower");
    VAR_IS(s.port, "http_x_custom_header", NULL, "X-Custom_Header: underscore\r\n", "");
    VAR_IS(s.port, "http_x_multi", NULL, "X-Multi: a\r\nX-Other: o\r\nx-multi: b c\r\n", "a, b c");
    VAR_IS(s.port, "http_user_agent", NULL, NULL, "");

    /* $param_*, splat-only route without the param, ${name} */
    zpt_one(s.port, "GET /users/12/orders/a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            &r, 0, "params");
    ck_assert_msg(strcmp(r.body, "[12|a b|]") == 0, "$param_id|$param_oid|$param_nope: %s",
                  r.body);
    zpt_one(s.port, "GET /files/a/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "splat");
    ck_assert_msg(strcmp(r.body, "[x/files/a/b]") == 0, "${param_id}x$uri: %s", r.body);

    /* $1..$9 */
    zpt_one(s.port, "GET /re/abc/42 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0, "$1");
    ck_assert_msg(strcmp(r.body, "[abc|42|||]") == 0, "$1|$2|$3|$4|$9: %s", r.body);
    zpt_one(s.port, "GET /re/%61bc/7/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "$3");
    ck_assert_msg(strcmp(r.body, "[abc|7|/x||]") == 0, "$1|$2|$3|$4|$9: %s", r.body);

    (void) v;
    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_time_vars)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      v[256];
    time_t    before, after;
    long      sec;

    master = start_vars(&s, w0);

    VAR_RE(s.port, "request_time", "^[0-9]+\\.[0-9]{3}$");
    VAR_RE(s.port, "time_local",
           "^[0-3][0-9]/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/[0-9]{4}:"
           "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}$");
    VAR_RE(s.port, "time_iso8601",
           "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9][+-][0-9]{2}:[0-9]{2}$");

    before = time(NULL);
    get_var(s.port, "msec", NULL, NULL, v, sizeof(v));
    after = time(NULL);
    ck_assert_msg(matches(v, "^[0-9]+\\.[0-9]{3}$"), "$msec = \"%s\"", v);
    /* a sanity bound on the clock, not a timing measurement */
    sec = strtol(v, NULL, 10);
    ck_assert_msg(sec >= (long) before - 60 && sec <= (long) after + 1,
                  "$msec = %s, the clock says %ld..%ld", v, (long) before, (long) after);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


static int
is_hex32(const char *s)
{
    int i;

    for (i = 0; i < 32; i++) {
        if (!isxdigit((unsigned char) s[i])) {
            return 0;
        }
    }
    return s[32] == '\0';
}


START_TEST(test_request_id)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    zpt_resp_t r;
    char       a[256], b[256], id1[64], id2[64], line[512], longid[260];

    master = start_vars(&s, w0);

    get_var(s.port, "request_id", NULL, NULL, a, sizeof(a));
    get_var(s.port, "request_id", NULL, NULL, b, sizeof(b));
    ck_assert_msg(is_hex32(a) && is_hex32(b), "$request_id: \"%s\", \"%s\"", a, b);
    ck_assert_msg(strcmp(a, b) != 0, "two requests got the same $request_id %s", a);

    /* stable within a request: twice in the body, and in the access log */
    zpt_one(s.port, "GET /twice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0, "twice");
    ck_assert_msg(sscanf(r.body, "[%63s %63[^]]]", id1, id2) == 2 && strcmp(id1, id2) == 0
                      && is_hex32(id1),
                  "$request_id twice: %s", r.body);
    snprintf(line, sizeof(line), "id=%s", id1);
    ck_assert_msg(zpt_wait_file_line(s.access_log, "/twice ", line, zpt_wait_ms()),
                  "no access log line for /twice with %s", line);

    /* the client's X-Request-ID when it is sane */
    VAR_IS(s.port, "request_id", NULL, "X-Request-ID: abc-123_x.y:z\r\n", "abc-123_x.y:z");
    get_var(s.port, "request_id", NULL, "X-Request-ID: bad id\r\n", a, sizeof(a));
    ck_assert_msg(is_hex32(a), "X-Request-ID with a space: $request_id = \"%s\"", a);
    get_var(s.port, "request_id", NULL, "X-Request-ID: a\"b<script>\r\n", a, sizeof(a));
    ck_assert_msg(is_hex32(a), "X-Request-ID with quotes: $request_id = \"%s\"", a);
    memset(longid, 'a', 201);
    snprintf(line, sizeof(line), "X-Request-ID: %.201s\r\n", longid);
    get_var(s.port, "request_id", NULL, line, a, sizeof(a));
    ck_assert_msg(is_hex32(a), "X-Request-ID of 201 bytes: $request_id = \"%s\"", a);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_response_vars_in_log)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    zpt_resp_t  r;
    char        want[256], idl[128];
    const char *raw = "GET /v/scheme?log=1 HTTP/1.1\r\nHost: x\r\n\r\n";

    master = start_vars(&s, w0);

    /* the first response of a fresh connection: $bytes_sent is all we received */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, raw);
    zpt_must_read(c, &r, 0, "GET /v/scheme?log=1");
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof(want), "/v/scheme?log=1 status=200 body=%zu sent=%zu len=%zu ",
             r.body_len, r.received, strlen(raw));
    ck_assert_msg(zpt_wait_file_line(s.access_log, want, NULL, zpt_wait_ms()),
                  "no access log line \"%s\"", want);
    zpt_conn_close(c);

    /* a 404 (no route) and a 302 */
    zpt_one(s.port, "GET /nothing/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "404");
    ck_assert_int_eq(r.status, 404);
    snprintf(want, sizeof(want), "/nothing/here status=404 body=%zu ", r.body_len);
    ck_assert_msg(zpt_wait_file_line(s.access_log, want, NULL, zpt_wait_ms()),
                  "no access log line \"%s\"", want);
    zpt_one(s.port, "GET /r/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0, "302");
    ck_assert_msg(zpt_wait_file_line(s.access_log, "/r/5 status=302 body=0 ", NULL, zpt_wait_ms()),
                  "no access log line for the 302");

    (void) idl;
    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_redirects)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    zpt_resp_t r;
    char       loc[512];

    master = start_vars(&s, w0);

    zpt_one(s.port, "GET /r/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0, "302");
    ck_assert_msg(r.status == 302, "return 302: status %d", r.status);
    ck_assert_msg(zpt_hdr_value(r.headers, "Location", loc, sizeof(loc)),
                  "302 without Location:\n%s", r.headers);
    ck_assert_msg(strcmp(loc, "http://x/7?from=/r/7") == 0, "Location: %s", loc);

    zpt_one(s.port, "GET /moved HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0, "301");
    ck_assert_msg(r.status == 301 && zpt_hdr_value(r.headers, "Location", loc, sizeof(loc))
                      && strcmp(loc, "https://example.com/new") == 0,
                  "return 301:\n%s", r.headers);

    zpt_one(s.port, "GET /temp?to=abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r, 0,
            "307");
    ck_assert_msg(r.status == 307 && zpt_hdr_value(r.headers, "Location", loc, sizeof(loc))
                      && strcmp(loc, "/elsewhere/abc") == 0,
                  "return 307:\n%s", r.headers);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_unknown_variable)
{
    zpt_srv_t s;
    char      err[16384];
    int       rc;

    ck_assert_int_eq(zpt_srv_init(&s), 0);

    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 1;\n"                              /* 1 */
                                  "events { worker_connections 64; }\n"                /* 2 */
                                  "http {\n"                                           /* 3 */
                                  "    server {\n"                                     /* 4 */
                                  "        listen 127.0.0.1:%d;\n"                     /* 5 */
                                  "        route /a/ { return 200 \"$uri\"; }\n"       /* 6 */
                                  "        route /b/ { return 200 \"x $nope y\"; }\n"  /* 7 */
                                  "    }\n"                                            /* 8 */
                                  "}\n",
                                  s.port),
                     0);
    zpt_conftest_error(&s, 7, "unknown variable \"$nope\"", NULL);

    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 1;\n"                                  /* 1 */
                                  "events { worker_connections 64; }\n"                    /* 2 */
                                  "http {\n"                                               /* 3 */
                                  "    log_format f '$remote_addr'\n"                      /* 4 */
                                  "                 ' $nope_either';\n"                    /* 5 */
                                  "    server {\n"                                         /* 6 */
                                  "        listen 127.0.0.1:%d;\n"                         /* 7 */
                                  "    }\n"                                                /* 8 */
                                  "}\n",
                                  s.port),
                     0);
    rc = zpt_conftest(&s, err, sizeof(err));
    ck_assert_msg(rc == 1 && strstr(err, "unknown variable \"$nope_either\"") != NULL,
                  "log_format with an unknown variable: -t %d:\n%s", rc, err);

    /* prefixes need a name after them; known names pass */
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 1;\n"
                                  "events { worker_connections 64; }\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d;\n"
                                  "        route /a/ { return 200 \"$http_x_y $arg_z $param_q $1\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s.port),
                     0);
    rc = zpt_conftest(&s, err, sizeof(err));
    ck_assert_msg(rc == 0, "known prefixed variables fail -t (%d):\n%s", rc, err);

    zpt_teardown();
}
END_TEST


static Suite *
variables_suite(void)
{
    Suite *s  = suite_create("variables");
    TCase *tc = tcase_create("variables");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_connection_vars);
    tcase_add_test(tc, test_request_vars);
    tcase_add_test(tc, test_time_vars);
    tcase_add_test(tc, test_request_id);
    tcase_add_test(tc, test_response_vars_in_log);
    tcase_add_test(tc, test_redirects);
    tcase_add_test(tc, test_unknown_variable);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(variables_suite)
