/*
 * Graceful shutdown and reload seen from a client: a request whose head is
 * still arriving survives QUIT and gets a complete answer with
 * "Connection: close"; an idle keep-alive connection is closed cleanly
 * (EOF, not a reset); a request sent on an idle keep-alive connection
 * right after a reload is answered by the draining worker and the
 * connection then closed; worker_shutdown_timeout bounds the wait for a
 * client that never finishes its request.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"

/* one %s: extra main-context directives; one %d: the port */
#define GRACEFUL_CONF                                                                              \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "%s"                                                                                           \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                           \
    "        route / { return 200 \"hello\\n\"; }\n"                                              \
    "    }\n"                                                                                      \
    "}\n"


static pid_t
start(zpt_srv_t *s, const char *extra, pid_t *w)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_int_eq(zpt_srv_conf(s, GRACEFUL_CONF, extra, s->port), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start (see the logs above)");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);
    return master;
}


static void
send_str(int fd, const char *str)
{
    size_t  len = strlen(str), off = 0;
    ssize_t n;

    while (off < len) {
        n = send(fd, str + off, len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        off += (size_t) n;
    }
}


/*
 * Waits (bounded by ms) for the peer to close fd: 1 on EOF, -1 on a reset
 * (or another error), 0 on timeout, 2 if data arrived instead.
 */
static int
wait_eof(int fd, int ms)
{
    long long     end = zpt_now_ms() + ms;
    struct pollfd pfd;
    char          c;
    ssize_t       n;
    int           left;

    for (;;) {
        left = (int) (end - zpt_now_ms());
        if (left <= 0) {
            return 0;
        }
        pfd.fd      = fd;
        pfd.events  = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }
        n = recv(fd, &c, 1, MSG_DONTWAIT);
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


static const char *
eof_text(int rc)
{
    switch (rc) {
    case 1: return "EOF";
    case -1: return "a reset/error";
    case 2: return "unexpected data";
    default: return "a timeout (connection left open)";
    }
}


/* Master exits with status 0 and every worker is gone. */
static void
assert_exited(zpt_srv_t *s, const pid_t *w, int n)
{
    int st, i;

    ck_assert_msg(zpt_wait_exit(s->pid, zpt_wait_ms(), &st), "master %d did not exit", s->pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x", st);
    for (i = 0; i < n; i++) {
        ck_assert_msg(zpt_wait_exit(w[i], zpt_wait_ms(), NULL), "worker %d still alive", w[i]);
    }
}


/* (a) half a request head before QUIT, the rest after: a full answer. */
START_TEST(test_quit_request_in_flight)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w[2];
    int        fd, rc;

    master = start(&s, "", w);

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    send_str(fd, "GET / HTTP/1.1\r\nHo");

    /* let the worker read the first half before the signal */
    zpt_msleep(200);
    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);
    zpt_msleep(500);

    ck_assert_msg(zpt_alive(master), "master exited with a request in flight");
    send_str(fd, "st: x\r\n\r\n");

    ck_assert_msg(zpt_http_read(fd, &r) == 0, "request in flight during QUIT: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello\n");
    ck_assert_msg(r.conn_close, "draining worker answered without Connection: close:\n%s",
                  r.headers);

    rc = wait_eof(fd, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after the answer: %s instead of EOF", eof_text(rc));
    close(fd);

    assert_exited(&s, w, 2);
    zpt_teardown();
}
END_TEST


/* (b) an idle keep-alive connection is closed with a FIN, then exit */
START_TEST(test_quit_idle_keepalive_eof)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w[2];
    int        fd, rc;

    master = start(&s, "", w);

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);

    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);

    rc = wait_eof(fd, zpt_wait_ms());
    ck_assert_msg(rc == 1, "idle keep-alive connection after QUIT: %s instead of EOF",
                  eof_text(rc));
    close(fd);

    assert_exited(&s, w, 2);
    zpt_teardown();
}
END_TEST


/* 1 when every pid of w is gone or titled "worker process is shutting down" */
static int
all_draining(const pid_t *w, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (zpt_alive(w[i]) && !zpt_title_is(w[i], "worker process is shutting down")) {
            return 0;
        }
    }
    return 1;
}


/*
 * (c) reload: the idle keep-alive connection to an old worker is not cut
 * at once; a request on it is answered (then the connection closes).
 * worker_drain_idle is raised so that a slow machine cannot push the
 * request past the moment the draining worker closes idle connections.
 */
START_TEST(test_reload_idle_keepalive_answered)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w0[2];
    long long  end;
    int        fd, rc;

    master = start(&s, "worker_drain_idle 5s;\n", w0);

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);

    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);

    /* the old workers got their QUIT */
    end = zpt_now_ms() + zpt_wait_ms();
    while (!all_draining(w0, 2) && zpt_now_ms() < end) {
        zpt_msleep(5);
    }
    ck_assert_msg(all_draining(w0, 2), "old workers %d %d not shutting down after HUP", w0[0],
                  w0[1]);

    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0,
                  "request on the idle keep-alive connection after HUP: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello\n");
    ck_assert_msg(r.conn_close, "the draining worker kept the connection alive:\n%s", r.headers);

    rc = wait_eof(fd, zpt_wait_ms());
    ck_assert_msg(rc == 1, "after the draining answer: %s instead of EOF", eof_text(rc));
    close(fd);

    /* the old workers finish, the master stays with new ones */
    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, NULL, zpt_wait_ms()),
                  "old workers still there after the reload");
    ck_assert(zpt_alive(master));

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "after reload: %s", r.error);
    ck_assert_int_eq(r.status, 200);

    zpt_teardown();
}
END_TEST


/* (d) a client that never finishes its head cannot hold a worker forever */
START_TEST(test_shutdown_timeout)
{
    zpt_srv_t s;
    pid_t     master, w[2];
    int       fd, rc;

    /* client_header_timeout keeps its default, 60 s, far past the wait
     * bound below: only the shutdown timeout can end the connection */
    master = start(&s, "worker_shutdown_timeout 1s;\n", w);
    (void) master;

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    send_str(fd, "GET / HTTP/1.1\r\nHo");
    zpt_msleep(200);

    ck_assert_int_eq(zpt_kill(s.pid, SIGQUIT), 0);

    rc = wait_eof(fd, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "half-sent request after QUIT + shutdown timeout: %s",
                  eof_text(rc));
    close(fd);

    assert_exited(&s, w, 2);
    ck_assert_msg(zpt_file_has_line(s.error_log, "worker_shutdown_timeout expired", NULL),
                  "no \"worker_shutdown_timeout expired\" in error.log");

    zpt_teardown();
}
END_TEST


static Suite *
graceful_suite(void)
{
    Suite *s  = suite_create("graceful");
    TCase *tc = tcase_create("graceful");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_quit_request_in_flight);
    tcase_add_test(tc, test_quit_idle_keepalive_eof);
    tcase_add_test(tc, test_reload_idle_keepalive_answered);
    tcase_add_test(tc, test_shutdown_timeout);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(graceful_suite)
