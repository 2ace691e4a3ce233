/*
 * Start and stop: serving over keep-alive, pid file, master/worker layout
 * and titles, fast stop (TERM), graceful stop (QUIT), `-s stop|quit`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
        ck_assert_msg(!r.conn_close, "request %d: server closed the keep-alive connection",
                      i + 1);
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
        ck_assert_msg(ok, "worker title \"%s\"",
                      cmd);
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
    ck_assert_msg(rc > 0 && rc < 128, "zproxy -s reload without a server exited %d, stderr: %s",
                  rc, err);
    ck_assert_msg(strstr(err, "zproxy.pid") != NULL, "stderr does not name the pid file: %s",
                  err);

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
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(startstop_suite)
