/*
 * Binary upgrade on the fly (USR2, WINCH, QUIT) and its rollback, under
 * keep-alive load: not one request may fail.
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

#define CONNS 8


typedef struct {
    zpt_srv_t   s;
    zpt_load_t *load;
    pid_t       old_master, old_workers[2];
    pid_t       new_master, new_workers[2];
} up_t;


static void
up_assert_master_title(pid_t pid)
{
    char cmd[256];
    int  ok;

    ok = zpt_wait_title(pid, "master process", zpt_wait_ms());
    zpt_cmdline(pid, cmd, sizeof(cmd));
    ck_assert_msg(ok, "pid %d title \"%s\"", pid, cmd);
}


/* Starts the server and the load, sends USR2, waits for the new master. */
static void
up_start_and_usr2(up_t *u)
{
    pid_t oldbin;

    ck_assert_int_eq(zpt_srv_init(&u->s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&u->s), 0);
    u->old_master = zpt_srv_start_detached(&u->s);
    ck_assert_msg(u->old_master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(u->old_master, 2, NULL, 0, u->old_workers, zpt_wait_ms()),
                  "master %d does not have 2 workers", u->old_master);

    u->load = zpt_load_start(u->s.port, CONNS, 200);
    ck_assert(u->load != NULL);
    ck_assert_msg(zpt_load_wait_ok(u->load, 100, zpt_wait_ms()), "no traffic before USR2");

    ck_assert_int_eq(zpt_kill(u->old_master, SIGUSR2), 0);

    /* the pid file moves to .oldbin, the new master writes its own */
    oldbin = zpt_wait_pidfile(u->s.oldbin, 0, zpt_wait_ms());
    ck_assert_msg(oldbin == u->old_master, "%s holds %d, expected the old master %d", u->s.oldbin,
                  oldbin, u->old_master);

    u->new_master = zpt_wait_pidfile(u->s.pidfile, u->old_master, zpt_wait_ms());
    ck_assert_msg(u->new_master > 0, "no new master pid in %s", u->s.pidfile);
    ck_assert(zpt_alive(u->new_master));
    up_assert_master_title(u->new_master);

    ck_assert_msg(
        zpt_wait_workers(u->new_master, 2, u->old_workers, 2, u->new_workers, zpt_wait_ms()),
        "new master %d does not have 2 workers of its own", u->new_master);

    /* both generations are up; the old one still has its workers */
    ck_assert(zpt_alive(u->old_master));
    ck_assert_int_eq(zpt_workers(u->old_master, u->old_workers, 2), 2);

    ck_assert_msg(zpt_load_wait_ok(u->load, 100, zpt_wait_ms()), "no traffic after USR2");
}


static void
up_finish(up_t *u, const char *what)
{
    zpt_load_stats_t st;
    char             severe[512];

    ck_assert_msg(zpt_load_wait_ok(u->load, 100, zpt_wait_ms()), "no traffic at the end");
    zpt_load_stop(u->load, &st);
    u->load = NULL;

    fprintf(stderr, "%s: ok %ld, failed %ld, reconnects %ld\n", what, st.ok, st.fail,
            st.reconnects);
    ck_assert_msg(st.fail == 0, "%s: %ld failed requests (ok %ld): %s", what, st.fail, st.ok,
                  st.first_errors);
    ck_assert(st.ok > 0);
    ck_assert_msg(zpt_log_severe(u->s.error_log, severe, sizeof(severe)) == 0, "%s: error.log: %s",
                  what, severe);
}


START_TEST(test_upgrade)
{
    up_t  u;
    pid_t w[2], third;

    up_start_and_usr2(&u);

    /* WINCH: the old master stops its workers gracefully, keeps running */
    ck_assert_int_eq(zpt_kill(u.old_master, SIGWINCH), 0);
    ck_assert_msg(zpt_wait_workers(u.old_master, 0, NULL, 0, NULL, zpt_wait_ms()),
                  "old workers still running after WINCH");
    ck_assert(zpt_alive(u.old_master));
    ck_assert(zpt_alive(u.new_master));
    ck_assert_msg(zpt_load_wait_ok(u.load, 100, zpt_wait_ms()), "no traffic after WINCH");

    /* QUIT: the old master exits; the new one owns the pid file */
    ck_assert_int_eq(zpt_kill(u.old_master, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(u.old_master, zpt_wait_ms(), NULL), "old master did not exit");
    ck_assert_msg(zpt_wait_exists(u.s.oldbin, 0, zpt_wait_ms()), "%s left behind", u.s.oldbin);
    ck_assert_int_eq(zpt_read_pid(u.s.pidfile), u.new_master);
    ck_assert(zpt_alive(u.new_master));
    ck_assert_int_eq(zpt_workers(u.new_master, w, 2), 2);

    up_finish(&u, "test_upgrade");

    /* the new master can be upgraded in turn */
    ck_assert_int_eq(zpt_kill(u.new_master, SIGUSR2), 0);
    ck_assert_msg(zpt_wait_pidfile(u.s.oldbin, 0, zpt_wait_ms()) == u.new_master,
                  "USR2 to the upgraded master did not move the pid file to .oldbin");
    third = zpt_wait_pidfile(u.s.pidfile, u.new_master, zpt_wait_ms());
    ck_assert_msg(third > 0 && third != u.old_master, "no third master after the second USR2");
    ck_assert_msg(zpt_wait_workers(third, 2, w, 2, NULL, zpt_wait_ms()),
                  "third master %d has no workers", third);

    zpt_teardown();
}
END_TEST


START_TEST(test_upgrade_rollback)
{
    up_t  u;
    pid_t w[2];

    up_start_and_usr2(&u);

    /* the new binary is no good: stop it gracefully, the old one stays */
    ck_assert_int_eq(zpt_kill(u.new_master, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(u.new_master, zpt_wait_ms(), NULL), "new master did not exit");

    ck_assert_msg(zpt_wait_pidfile(u.s.pidfile, u.new_master, zpt_wait_ms()) == u.old_master,
                  "pid file not restored to the old master %d (holds %d)", u.old_master,
                  zpt_read_pid(u.s.pidfile));
    ck_assert_msg(zpt_wait_exists(u.s.oldbin, 0, zpt_wait_ms()), "%s left behind", u.s.oldbin);
    ck_assert(zpt_alive(u.old_master));
    ck_assert_int_eq(zpt_workers(u.old_master, w, 2), 2);
    ck_assert(zpt_pid_in(w[0], u.old_workers, 2) && zpt_pid_in(w[1], u.old_workers, 2));

    up_finish(&u, "test_upgrade_rollback");

    /* and a second upgrade is possible afterwards */
    ck_assert_int_eq(zpt_kill(u.old_master, SIGUSR2), 0);
    ck_assert_msg(zpt_wait_pidfile(u.s.oldbin, 0, zpt_wait_ms()) == u.old_master,
                  "second USR2 did not move the pid file");
    ck_assert_msg(zpt_wait_pidfile(u.s.pidfile, u.old_master, zpt_wait_ms()) > 0,
                  "second USR2 started no new master");

    zpt_teardown();
}
END_TEST


static Suite *
upgrade_suite(void)
{
    Suite *s  = suite_create("upgrade");
    TCase *tc = tcase_create("upgrade");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_upgrade);
    tcase_add_test(tc, test_upgrade_rollback);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(upgrade_suite)
