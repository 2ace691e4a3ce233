/*
 * Start and stop: serving over keep-alive, pid file, master/worker layout
 * and titles, fast stop (TERM), graceful stop (QUIT), `-s stop|quit`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"


static pid_t
start_default(zpt_srv_t *s)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(s), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start (see the logs above)");
    return master;
}


/* Master gone (reaped, with exit status 0), workers gone, pid file gone. */
static void
assert_stopped(zpt_srv_t *s, const pid_t *workers, int nworkers)
{
    int st, i;

    ck_assert_msg(zpt_wait_exit(s->pid, zpt_wait_ms(), &st), "master %d did not exit", s->pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "master did not exit with status 0 (wait status 0x%x)", st);

    for (i = 0; i < nworkers; i++) {
        ck_assert_msg(zpt_wait_exit(workers[i], zpt_wait_ms(), NULL), "worker %d still alive",
                      workers[i]);
    }

    ck_assert_msg(zpt_wait_exists(s->pidfile, 0, zpt_wait_ms()), "pid file %s not removed",
                  s->pidfile);

    i = zpt_connect(s->port);
    if (i >= 0) {
        close(i);
    }
    ck_assert_msg(i < 0, "port %d still accepts after stop", s->port);
}


START_TEST(test_keepalive_get)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    int        fd, i;

    start_default(&s);

    fd = zpt_connect(s.port);
    ck_assert_msg(fd >= 0, "connect to %d failed", s.port);

    for (i = 0; i < 2; i++) {
        ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "request %d: %s", i + 1, r.error);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.content_length, 6);
        ck_assert_str_eq(r.body, "hello\n");
        ck_assert_msg(!r.conn_close, "request %d: server closed the keep-alive connection", i + 1);
    }

    close(fd);

    /* Connection: close is honoured */
    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello\n");

    zpt_teardown();
}
END_TEST


START_TEST(test_layout_and_titles)
{
    zpt_srv_t s;
    pid_t     master, workers[8], kids[8];
    char      cmd[256];
    int       i, n, ok;

    master = start_default(&s);

    ck_assert_int_eq(zpt_read_pid(s.pidfile), master);

    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);

    /* exactly the 2 workers: no other children */
    n = zpt_children(master, kids, 8);
    ck_assert_int_eq(n, 2);

    ok = zpt_wait_title(master, "master process", zpt_wait_ms());
    zpt_cmdline(master, cmd, sizeof(cmd));
    ck_assert_msg(ok, "master title \"%s\"", cmd);

    for (i = 0; i < 2; i++) {
        ok = zpt_wait_title(workers[i], "worker process", zpt_wait_ms());
        zpt_cmdline(workers[i], cmd, sizeof(cmd));
        ck_assert_msg(ok, "worker title \"%s\"", cmd);
    }

    ck_assert_msg(zpt_wait_file_line(s.error_log, "start worker process", NULL, zpt_wait_ms()),
                  "no \"start worker process\" in error.log");

    zpt_teardown();
}
END_TEST


START_TEST(test_term_fast_stop)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, workers[2];
    int        fd;

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    /* an open keep-alive connection must not hold up a fast stop */
    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);

    ck_assert_int_eq(zpt_kill(master, SIGTERM), 0);
    assert_stopped(&s, workers, 2);
    ck_assert_msg(zpt_wait_closed(fd, zpt_wait_ms()), "connection left open after TERM");
    close(fd);

    zpt_teardown();
}
END_TEST


START_TEST(test_quit_graceful_idle_keepalive)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, workers[2];
    int        fd;

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.conn_close);

    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);

    /* the idle keep-alive connection is closed by the draining worker */
    ck_assert_msg(zpt_wait_closed(fd, zpt_wait_ms()),
                  "idle keep-alive connection not closed after QUIT");
    close(fd);

    assert_stopped(&s, workers, 2);
    ck_assert_msg(zpt_file_has_line(s.error_log, "gracefully shutting down", NULL),
                  "no \"gracefully shutting down\" in error.log");

    zpt_teardown();
}
END_TEST


static void
signal_via_cli(const char *sig)
{
    zpt_srv_t   s;
    pid_t       master, workers[2];
    char        out[4096], err[4096];
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", "-s", sig, NULL};
    int         rc;

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    args[1] = s.prefix;
    rc      = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -s %s exited %d, stderr: %s", sig, rc, err);

    assert_stopped(&s, workers, 2);

    zpt_teardown();
}


START_TEST(test_cli_stop)
{
    signal_via_cli("stop");
}
END_TEST


START_TEST(test_cli_quit)
{
    signal_via_cli("quit");
}
END_TEST


START_TEST(test_cli_signal_without_server)
{
    zpt_srv_t   s;
    char        out[4096], err[4096];
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", "-s", "reload", NULL};
    int         rc;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);

    /* no pid file: an error, not a crash or a hang */
    args[1] = s.prefix;
    rc      = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc > 0 && rc < 128, "zproxy -s reload without a server exited %d, stderr: %s", rc,
                  err);
    ck_assert_msg(strstr(err, "zproxy.pid") != NULL, "stderr does not name the pid file: %s", err);

    zpt_teardown();
}
END_TEST


START_TEST(test_quit_under_load)
{
    zpt_srv_t        s;
    zpt_load_t      *l;
    zpt_load_stats_t st;
    pid_t            master, workers[2];
    char             severe[512];

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    l = zpt_load_start(s.port, 8, 200);
    ck_assert(l != NULL);
    ck_assert_msg(zpt_load_wait_ok(l, 100, zpt_wait_ms()), "no traffic before QUIT");

    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(master, zpt_wait_ms(), NULL), "master did not exit after QUIT");
    zpt_load_stop(l, &st);

    /*
     * New connections are refused once the listeners close: expected. But a
     * request on a connection that already had a keep-alive response must
     * get an answer (with Connection: close), not an EOF or a reset.
     */
    fprintf(stderr, "test_quit_under_load: ok %ld, failed %ld (on reused connections %ld)\n", st.ok,
            st.fail, st.fail_reused);
    ck_assert_msg(st.fail_reused == 0,
                  "%ld requests on kept-alive connections dropped by a graceful stop: %s",
                  st.fail_reused, st.first_errors);
    ck_assert(st.ok > 0);
    ck_assert_msg(zpt_log_severe(s.error_log, severe, sizeof(severe)) == 0, "error.log: %s",
                  severe);

    ck_assert(zpt_wait_exit(workers[0], zpt_wait_ms(), NULL));
    ck_assert(zpt_wait_exit(workers[1], zpt_wait_ms(), NULL));
    ck_assert(zpt_wait_exists(s.pidfile, 0, zpt_wait_ms()));

    zpt_teardown();
}
END_TEST


START_TEST(test_quit_request_in_flight)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    pid_t       master, workers[2];
    const char *rest = "Connection: keep-alive\r\n\r\n";
    int         fd;

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    fd = zpt_connect(s.port);
    ck_assert(fd >= 0);
    ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);

    /*
     * Half a request, then QUIT, then the other half. The pause only orders
     * the events (the worker reads the first half before it learns about
     * the QUIT); nothing is measured.
     */
    ck_assert_int_eq(send(fd, "GET / HTTP/1.1\r\nHost: localhost\r\n", 33, MSG_NOSIGNAL), 33);
    zpt_msleep(1000);
    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);
    zpt_msleep(300);
    ck_assert_int_eq(send(fd, rest, strlen(rest), MSG_NOSIGNAL), (ssize_t)strlen(rest));

    ck_assert_msg(zpt_http_read(fd, &r) == 0, "request in flight at QUIT lost: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello\n");
    ck_assert_msg(r.conn_close, "a draining worker kept the connection alive");
    ck_assert(zpt_wait_closed(fd, zpt_wait_ms()));
    close(fd);

    assert_stopped(&s, workers, 2);
    zpt_teardown();
}
END_TEST


START_TEST(test_cli_reload_reopen)
{
    zpt_srv_t   s;
    pid_t       master, w0[2];
    char        out[4096], err[4096];
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", "-s", NULL, NULL};
    int         rc;

    master = start_default(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()));
    args[1] = s.prefix;

    args[5] = "reopen";
    rc      = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -s reopen exited %d, stderr: %s", rc, err);
    ck_assert_msg(zpt_wait_file_line(s.error_log, "reopening logs", NULL, zpt_wait_ms()),
                  "no \"reopening logs\" after -s reopen");

    args[5] = "reload";
    rc      = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -s reload exited %d, stderr: %s", rc, err);
    ck_assert_msg(zpt_wait_file_line(s.error_log, "reconfiguring", NULL, zpt_wait_ms()),
                  "no \"reconfiguring\" after -s reload");
    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, NULL, zpt_wait_ms()),
                  "workers not replaced after -s reload");
    ck_assert(zpt_alive(master));

    zpt_teardown();
}
END_TEST


START_TEST(test_version)
{
    char        out[4096], err[4096];
    const char *v[]  = {"-v", NULL};
    const char *vv[] = {"-V", NULL};
    int         rc;

    rc = zpt_run(v, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -v exited %d", rc);
    ck_assert_msg(strstr(err, "zproxy version: zproxy/") != NULL, "-v printed: %s%s", out, err);

    rc = zpt_run(vv, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -V exited %d", rc);
    ck_assert_msg(strstr(err, "configure arguments") != NULL, "-V printed: %s%s", out, err);

    zpt_teardown();
}
END_TEST


START_TEST(test_port_in_use)
{
    zpt_srv_t          s;
    struct sockaddr_in sin;
    const char        *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", NULL};
    pid_t              pid;
    int                fd, one = 1, st;
    char              *log;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);

    /* someone else holds the port */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port        = htons((unsigned short)s.port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);

    args[1] = s.prefix;
    pid     = zpt_spawn(args, s.stderr_log);
    ck_assert(pid > 0);

    /* nginx-style servers retry bind() a few times: allow for that */
    ck_assert_msg(zpt_wait_exit(pid, 3 * zpt_wait_ms(), &st),
                  "zproxy kept running without its port");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 0x%x, expected code 1", st);

    log = zpt_read_file(s.stderr_log, NULL);
    ck_assert_msg((log && strstr(log, "Address already in use")) ||
                      zpt_file_has_line(s.error_log, "Address already in use", NULL),
                  "no \"Address already in use\" in stderr or error.log; stderr: %s",
                  log ? log : "");
    free(log);
    ck_assert_msg(!zpt_exists(s.pidfile), "pid file left by a failed start");

    close(fd);
    zpt_teardown();
}
END_TEST


START_TEST(test_daemon_mode)
{
    zpt_srv_t   s;
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", NULL};
    zpt_resp_t  r;
    pid_t       launcher, master, workers[2];
    int         st;

    /* as systemd's Type=forking sees it: the started process exits 0 once
       the daemon is up and its pid file written */
    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 2;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 1024; }\n"
                                  "http {\n"
                                  "    access_log logs/access.log;\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d;\n"
                                  "        route / { return 200 \"hello\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s.port),
                     0);

    args[1]  = s.prefix;
    launcher = zpt_spawn(args, s.stderr_log);
    ck_assert(launcher > 0);
    ck_assert_msg(zpt_wait_exit(launcher, zpt_wait_ms(), &st), "zproxy did not detach");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "launcher exit status 0x%x", st);

    master = zpt_wait_pidfile(s.pidfile, launcher, zpt_wait_ms());
    ck_assert_msg(master > 0, "no daemon pid in the pid file");
    ck_assert(zpt_alive(master));
    ck_assert(zpt_wait_title(master, "master process", zpt_wait_ms()));
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()),
                  "daemon master %d has no 2 workers", master);
    ck_assert_msg(zpt_wait_port(s.port, zpt_wait_ms()), "daemon does not listen");
    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);

    ck_assert_int_eq(zpt_kill(master, SIGTERM), 0);
    ck_assert_msg(zpt_wait_exit(master, zpt_wait_ms(), NULL), "daemon did not stop on TERM");
    ck_assert(zpt_wait_exit(workers[0], zpt_wait_ms(), NULL));
    ck_assert(zpt_wait_exit(workers[1], zpt_wait_ms(), NULL));
    ck_assert(zpt_wait_exists(s.pidfile, 0, zpt_wait_ms()));

    zpt_teardown();
}
END_TEST


static Suite *
startstop_suite(void)
{
    Suite *s  = suite_create("startstop");
    TCase *tc = tcase_create("startstop");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_keepalive_get);
    tcase_add_test(tc, test_layout_and_titles);
    tcase_add_test(tc, test_term_fast_stop);
    tcase_add_test(tc, test_quit_graceful_idle_keepalive);
    tcase_add_test(tc, test_cli_stop);
    tcase_add_test(tc, test_cli_quit);
    tcase_add_test(tc, test_cli_signal_without_server);
    tcase_add_test(tc, test_quit_under_load);
    tcase_add_test(tc, test_quit_request_in_flight);
    tcase_add_test(tc, test_cli_reload_reopen);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_port_in_use);
    tcase_add_test(tc, test_daemon_mode);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(startstop_suite)
