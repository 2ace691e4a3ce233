/*
 * Worker respawn: a worker killed with SIGKILL is replaced, the master
 * logs why, and the server keeps answering.
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


START_TEST(test_respawn_after_kill9)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, workers[2], now[2], victim;
    char       msg[128], cmd[256];
    int        i, ok;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);

    victim = workers[0];
    ck_assert_int_eq(zpt_kill(victim, SIGKILL), 0);

    /* two workers again, the victim not among them */
    ck_assert_msg(zpt_wait_workers(master, 2, &victim, 1, now, zpt_wait_ms()),
                  "no replacement for worker %d", victim);
    ck_assert_msg(zpt_pid_in(workers[1], now, 2), "the surviving worker %d was replaced too",
                  workers[1]);

    for (i = 0; i < 2; i++) {
        ok = zpt_wait_title(now[i], "worker process", zpt_wait_ms());
        zpt_cmdline(now[i], cmd, sizeof(cmd));
        ck_assert_msg(ok, "title \"%s\"", cmd);
    }

    snprintf(msg, sizeof(msg), "worker process %d exited on signal 9", (int)victim);
    ck_assert_msg(zpt_wait_file_line(s.error_log, msg, NULL, zpt_wait_ms()),
                  "error.log lacks \"%s\"", msg);

    /* the master is unaffected and the server answers, several times */
    ck_assert_int_eq(zpt_read_pid(s.pidfile), master);
    ck_assert(zpt_alive(master));
    for (i = 0; i < 10; i++) {
        ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "request %d: %s", i, r.error);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "hello\n");
    }

    zpt_teardown();
}
END_TEST


START_TEST(test_respawn_both_under_load)
{
    zpt_srv_t        s;
    zpt_load_t      *l;
    zpt_load_stats_t st;
    pid_t            master, workers[2], now[2];
    zpt_resp_t       r;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    /* connections on killed workers fail: only recovery is checked here */
    l = zpt_load_start(s.port, 4, 200);
    ck_assert(l != NULL);
    ck_assert_msg(zpt_load_wait_ok(l, 50, zpt_wait_ms()), "no traffic before the kill");

    ck_assert_int_eq(zpt_kill(workers[0], SIGKILL), 0);
    ck_assert_int_eq(zpt_kill(workers[1], SIGKILL), 0);

    ck_assert_msg(zpt_wait_workers(master, 2, workers, 2, now, zpt_wait_ms()),
                  "workers not replaced");
    ck_assert_msg(zpt_load_wait_ok(l, 200, zpt_wait_ms()), "no traffic after the respawn");
    zpt_load_stop(l, &st);

    ck_assert(st.ok > 0);
    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);

    zpt_teardown();
}
END_TEST


START_TEST(test_respawn_after_exit)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, workers[2], now[2], victim;
    char       msg[128];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()));

    /* a worker told to stop by someone else than its master exits normally */
    victim = workers[1];
    ck_assert_int_eq(zpt_kill(victim, SIGTERM), 0);

    ck_assert_msg(zpt_wait_workers(master, 2, &victim, 1, now, zpt_wait_ms()),
                  "no replacement for worker %d", victim);
    snprintf(msg, sizeof(msg), "worker process %d exited with code", (int)victim);
    ck_assert_msg(zpt_wait_file_line(s.error_log, msg, NULL, zpt_wait_ms()),
                  "error.log lacks \"%s\"", msg);

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);

    zpt_teardown();
}
END_TEST


static Suite *
respawn_suite(void)
{
    Suite *s  = suite_create("respawn");
    TCase *tc = tcase_create("respawn");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_respawn_after_kill9);
    tcase_add_test(tc, test_respawn_both_under_load);
    tcase_add_test(tc, test_respawn_after_exit);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(respawn_suite)
