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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zpt_client.h"
#include "zpt_harness.h"

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
    return zpt_start_conf(s, conf, w);
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
    char       buf[256];
    zpt_resp_t r;
    int        i;

    for (i = first; i < first + n; i++) {
        snprintf(buf, sizeof(buf), "GET %s?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 path, i);
        zpt_one(port, buf, &r, 0, buf);
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
    zpt_resp_t  r;
    char        want[1024];
    const char *raw = "GET /c/42?a=1&b=2 HTTP/1.1\r\nHost: x\r\nUser-Agent: zpt/2.0\r\n"
                      "Connection: close\r\n\r\n";

    master = start_log(&s, w0);

    zpt_one(s.port, raw, &r, 0, "GET /c/42");
    ck_assert_int_eq(r.status, 200);
    snprintf(want, sizeof(want),
             "127.0.0.1|GET|/c/42|a=1&b=2|200|2|%zu|zpt/2.0|42|HTTP/1.1|GET /c/42?a=1&b=2 HTTP/1.1",
             strlen(raw));
    ck_assert_msg(zpt_wait_file_line(s.access_log, want, NULL, zpt_wait_ms()),
                  "no line \"%s\" in access.log", want);

    /* empty values are "-" by default; a 404 from a return; a HEAD */
    zpt_one(s.port, "HEAD /c/%37/../8 HTTP/1.0\r\n\r\n", &r, 1, "HEAD /c/8");
    ck_assert_msg(zpt_wait_file_line(s.access_log, "127.0.0.1|HEAD|/c/8|-|200|0|", "|-|8|HTTP/1.0|",
                                     zpt_wait_ms()),
                  "no line for the HEAD in access.log");
    zpt_one(s.port,
            "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", &r,
            0, "POST /nope");
    ck_assert_msg(zpt_wait_file_line(s.access_log, "127.0.0.1|POST|/nope|-|404|5|", NULL,
                                     zpt_wait_ms()),
                  "no line for the 404 in access.log");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_escaping)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    zpt_resp_t r;
    char       path[ZPT_PATH_MAX];
    char      *text;
    /* a '"', a '\', a TAB (control byte), and UTF-8 "é" */
    const char *hdr = "X-Data: say \"hi\"\\\tnow \xc3\xa9\r\nUser-Agent: ua\r\n";

    master = start_log(&s, w0);

    zpt_req(s.port, "GET", "x", "/json/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    zpt_req(s.port, "GET", "x", "/json/2", NULL, &r);
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

    zpt_req(s.port, "GET", "x", "/def/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    log_path(&s, "def.log", path, sizeof(path));
    ck_assert_msg(wait_lines(path, 1) == 1, "def.log has %d lines", zpt_count_lines(path, NULL));
    text = zpt_read_file(path, NULL);
    ck_assert(text != NULL);
    ck_assert_msg(strcmp(text, "<say \\x22hi\\x22\\x5C\\x09now \\xC3\\xA9> <ua>\n") == 0,
                  "escape=default line:\n%s", text);
    free(text);

    zpt_req(s.port, "GET", "x", "/raw/1", hdr, &r);
    ck_assert_int_eq(r.status, 200);
    log_path(&s, "raw.log", path, sizeof(path));
    ck_assert_msg(wait_lines(path, 1) == 1, "raw.log has %d lines", zpt_count_lines(path, NULL));
    text = zpt_read_file(path, NULL);
    ck_assert(text != NULL);
    ck_assert_msg(strcmp(text, "<say \"hi\"\\\tnow \xc3\xa9>\n") == 0, "escape=none line:\n%s", text);
    free(text);

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


START_TEST(test_access_log_off)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    zpt_conn_t *c;
    zpt_resp_t  r;

    master = start_log(&s, w0);

    /* one connection, one worker: the marker is logged after the /off/ request */
    c = zpt_conn_open(s.port);
    zpt_conn_send(c, "GET /off/x HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /off/x");
    ck_assert_msg(r.status == 200 && strcmp(r.body, "off\n") == 0, "/off/x: %d", r.status);
    zpt_conn_send(c, "GET /c/marker HTTP/1.1\r\nHost: x\r\n\r\n");
    zpt_must_read(c, &r, 0, "GET /c/marker");
    zpt_conn_close(c);

    ck_assert_msg(zpt_wait_file_line(s.access_log, "|/c/marker|", NULL, zpt_wait_ms()),
                  "no line for /c/marker");
    ck_assert_msg(zpt_count_lines(s.access_log, "/off/") == 0, "/off/ was logged despite access_log off");
    ck_assert_msg(zpt_count_lines(s.access_log, NULL) == 1, "access.log has %d lines, expected 1",
                  zpt_count_lines(s.access_log, NULL));

    zpt_assert_same_workers(&s, master, w0);
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

    zpt_assert_same_workers(&s, master, w0);
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
