/*
 * Reload (HUP): repeated reloads under keep-alive load lose no request and
 * replace the workers; a broken config is rejected, logged with its
 * file:line, and the old workers keep serving.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"

#define RELOADS 5
#define CONNS   8


/* Line count of path once it reaches want, or after the bounded wait. */
static int
access_lines_settled(const char *path, long want)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       n;

    for (;;) {
        n = zpt_count_lines(path, NULL);
        if (n >= want || zpt_now_ms() >= end) {
            return n;
        }
        zpt_msleep(100);
    }
}


START_TEST(test_reload_under_load)
{
    zpt_srv_t        s;
    zpt_load_t      *l;
    zpt_load_stats_t st;
    pid_t            master, w0[2], w1[2], w2[2];
    zpt_resp_t       r;
    char             where[64], severe[512];
    long long        next;
    int              i, n, bad_line;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);

    l = zpt_load_start(s.port, CONNS, 200);
    ck_assert(l != NULL);
    ck_assert_msg(zpt_load_wait_ok(l, 100, zpt_wait_ms()), "no traffic before the reloads");

    /*
     * One HUP about every second, each only after the previous reload was
     * logged: signals sent while one is pending would merge into one.
     */
    for (i = 1; i <= RELOADS; i++) {
        next = zpt_now_ms() + 1000;
        ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);

        while (zpt_count_lines(s.error_log, "reconfiguring") < i && zpt_now_ms() < next + 9000) {
            zpt_msleep(20);
        }
        n = zpt_count_lines(s.error_log, "reconfiguring");
        ck_assert_msg(n >= i, "reload %d: %d \"reconfiguring\" lines in error.log", i, n);

        while (zpt_now_ms() < next) {
            zpt_msleep(20);
        }
    }

    ck_assert_msg(zpt_load_wait_ok(l, 100, zpt_wait_ms()), "no traffic after the reloads");
    zpt_load_stop(l, &st);

    fprintf(stderr, "test_reload_under_load: ok %ld, failed %ld, reconnects %ld\n", st.ok, st.fail,
            st.reconnects);
    ck_assert_msg(st.fail == 0, "%ld failed requests during reloads (ok %ld): %s", st.fail, st.ok,
                  st.first_errors);
    ck_assert(st.ok > 0);

    ck_assert_int_ge(zpt_count_lines(s.error_log, "reconfiguring"), RELOADS);
    ck_assert(zpt_alive(master));
    ck_assert_int_eq(zpt_read_pid(s.pidfile), master);

    /* the old workers drain and exit: 2 workers, none of the first ones */
    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, w1, zpt_wait_ms()),
                  "the workers were not replaced (initial %d %d)", w0[0], w0[1]);

    /* every answered request was logged once, by old and new workers alike */
    n = access_lines_settled(s.access_log, st.ok);
    ck_assert_msg(n == st.ok, "access.log has %d lines for %ld answered requests", n, st.ok);

    ck_assert_msg(zpt_log_severe(s.error_log, severe, sizeof(severe)) == 0,
                  "error.log after clean reloads: %s", severe);

    /* a broken config: rejected, logged at file:line, old workers stay */
    bad_line = 7;
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 2;\n"
                                  "worker_cpu_affinity auto;\n"
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 4096; }\n"
                                  "foo;\n"
                                  "http {\n"
                                  "    access_log logs/access.log;\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d;\n"
                                  "        route / { return 200 \"hello\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s.port),
                     0);

    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);

    snprintf(where, sizeof(where), "zproxy.conf:%d", bad_line);
    ck_assert_msg(
        zpt_wait_file_line(s.error_log, where, "unknown directive \"foo\"", zpt_wait_ms()),
        "error.log lacks the config error at %s", where);

    ck_assert(zpt_alive(master));
    for (i = 0; i < 5; i++) {
        ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "after bad reload: %s", r.error);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello\n");
    }

    n = zpt_workers(master, w2, 2);
    ck_assert_int_eq(n, 2);
    ck_assert_msg(zpt_pid_in(w2[0], w1, 2) && zpt_pid_in(w2[1], w1, 2),
                  "workers changed after a failed reload: %d %d -> %d %d", w1[0], w1[1], w2[0],
                  w2[1]);

    zpt_teardown();
}
END_TEST


START_TEST(test_reload_applies_new_config)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w0[2];
    long long  end;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()));

    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 2;\n"
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 4096; }\n"
                                  "http {\n"
                                  "    access_log logs/access.log;\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d;\n"
                                  "        route / { return 200 \"reloaded\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s.port),
                     0);
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);

    /* new connections reach the new workers once the old ones are gone */
    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, NULL, zpt_wait_ms()),
                  "workers not replaced after HUP");
    end = zpt_now_ms() + zpt_wait_ms();
    do {
        ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
        ck_assert_int_eq(r.status, 200);
        if (strcmp(r.body, "reloaded\n") == 0) {
            break;
        }
        zpt_msleep(50);
    } while (zpt_now_ms() < end);
    ck_assert_str_eq(r.body, "reloaded\n");

    zpt_teardown();
}
END_TEST


START_TEST(test_reload_no_fd_leak)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w[2];
    int        fds0, fds = -1, i;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()));
    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);

    fds0 = zpt_fd_count(master);
    ck_assert(fds0 > 0);

    /* reloads, one at a time, each done when its old workers are gone */
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
        ck_assert_msg(zpt_wait_workers(master, 2, w, 2, w, zpt_wait_ms()),
                      "reload %d: workers not replaced", i + 1);
    }

    /* a reopen and a rejected config must not leak either */
    ck_assert_int_eq(zpt_kill(master, SIGUSR1), 0);
    ck_assert(zpt_wait_file_line(s.error_log, "reopening logs", NULL, zpt_wait_ms()));

    ck_assert_int_eq(zpt_srv_conf(&s, "foo;\n"), 0);
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
    ck_assert(zpt_wait_file_line(s.error_log, "unknown directive \"foo\"", NULL, zpt_wait_ms()));

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);

    /* the count settles back (bounded wait: teardown of old workers is async) */
    for (i = 0; i < zpt_wait_ms() / 100; i++) {
        fds = zpt_fd_count(master);
        if (fds == fds0) {
            break;
        }
        zpt_msleep(100);
    }
    ck_assert_msg(fds == fds0, "master had %d open fds at start, %d after reloads", fds0, fds);

    zpt_teardown();
}
END_TEST


START_TEST(test_reload_new_port_and_workers)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, w0[2], w1[3];
    int        port2, fd, i;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()));

    port2 = zpt_free_port();
    ck_assert(port2 > 0 && port2 != s.port);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 3;\n"
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 4096; }\n"
                                  "http {\n"
                                  "    access_log logs/access.log;\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d;\n"
                                  "        route / { return 200 \"moved\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  port2),
                     0);
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);

    ck_assert_msg(zpt_wait_workers(master, 3, w0, 2, w1, zpt_wait_ms()),
                  "not 3 new workers after a reload to worker_processes 3");
    ck_assert_msg(zpt_http_get_once(port2, "/", &r) == 0, "new port %d: %s", port2, r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "moved\n");

    /* the old listener is closed */
    for (i = 0; i < zpt_wait_ms() / 50; i++) {
        fd = zpt_connect(s.port);
        if (fd < 0) {
            break;
        }
        close(fd);
        zpt_msleep(50);
    }
    ck_assert_msg(fd < 0, "old port %d still accepts after the reload", s.port);

    zpt_teardown();
}
END_TEST


static Suite *
reload_suite(void)
{
    Suite *s  = suite_create("reload");
    TCase *tc = tcase_create("reload");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_reload_under_load);
    tcase_add_test(tc, test_reload_applies_new_config);
    tcase_add_test(tc, test_reload_no_fd_leak);
    tcase_add_test(tc, test_reload_new_port_and_workers);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(reload_suite)
