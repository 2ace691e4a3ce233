/*
 * Daemon mode: with `daemon on;` the command returns at once (exit 0) and
 * a detached master (not the process we started) serves and writes its
 * pid file; `-s reload|reopen|quit|stop` drive it through that pid file;
 * `-s` without a pid file fails with a message.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"

#define DAEMON_CONF                                                                                \
    "worker_processes 2;\n"                                                                        \
    "daemon on;\n"                                                                                 \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                           \
    "        route / { return 200 \"daemon\\n\"; }\n"                                             \
    "    }\n"                                                                                      \
    "}\n"


/*
 * Starts the daemon: the process we spawn must exit 0 on its own, and a
 * different process (the master) must write the pid file and serve.
 */
static pid_t
start_daemon(zpt_srv_t *s)
{
    const char *args[] = {"-p", s->prefix, "-c", "conf/zproxy.conf", NULL};
    pid_t       child, master;
    char        cmd[256];
    int         st, fd, ok;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_int_eq(zpt_srv_conf(s, DAEMON_CONF, s->port), 0);

    child = zpt_spawn(args, s->stderr_log);
    ck_assert(child > 0);

    if (!zpt_wait_exit(child, zpt_wait_ms(), &st)) {
        zpt_srv_dump(s);
        ck_abort_msg("zproxy with daemon on did not return (pid %d still runs)", child);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        zpt_srv_dump(s);
        ck_abort_msg("zproxy with daemon on: wait status 0x%x", st);
    }

    master = zpt_wait_pidfile(s->pidfile, 0, zpt_wait_ms());
    if (master <= 0) {
        zpt_srv_dump(s);
        ck_abort_msg("no pid in %s after daemonizing", s->pidfile);
    }
    ck_assert_msg(master != child, "pid file holds the pid of the process we started (%d)",
                  child);
    ck_assert_msg(zpt_alive(master), "daemon master %d is not running", master);

    ok = zpt_wait_title(master, "master process", zpt_wait_ms());
    zpt_cmdline(master, cmd, sizeof(cmd));
    ck_assert_msg(ok, "pid %d from the pid file has title \"%s\"", master, cmd);

    ck_assert_msg(zpt_wait_port(s->port, zpt_wait_ms()), "daemon does not accept on %d", s->port);
    fd = zpt_connect(s->port);
    ck_assert(fd >= 0);
    close(fd);

    s->pid = master;
    return master;
}


static void
cli(zpt_srv_t *s, const char *sig)
{
    const char *args[] = {"-p", s->prefix, "-c", "conf/zproxy.conf", "-s", sig, NULL};
    char        out[4096], err[4096];
    int         rc;

    rc = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -s %s exited %d, stderr: %s", sig, rc, err);
}


static void
assert_gone(zpt_srv_t *s, pid_t master, const pid_t *w, int n)
{
    int i, fd;

    ck_assert_msg(zpt_wait_exit(master, zpt_wait_ms(), NULL), "master %d did not exit", master);
    for (i = 0; i < n; i++) {
        ck_assert_msg(zpt_wait_exit(w[i], zpt_wait_ms(), NULL), "worker %d still alive", w[i]);
    }
    ck_assert_msg(zpt_wait_exists(s->pidfile, 0, zpt_wait_ms()), "pid file %s not removed",
                  s->pidfile);

    fd = zpt_connect(s->port);
    if (fd >= 0) {
        close(fd);
    }
    ck_assert_msg(fd < 0, "port %d still accepts after the daemon stopped", s->port);
}


static void
get_ok(int port)
{
    zpt_resp_t r;

    ck_assert_msg(zpt_http_get_once(port, "/", &r) == 0, "GET /: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "daemon\n");
}


START_TEST(test_daemon_lifecycle)
{
    zpt_srv_t s;
    pid_t     master, w0[2], w1[2];
    char      rotated[ZPT_PATH_MAX + 8];
    int       n;

    master = start_daemon(&s);
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()),
                  "daemon master %d does not have 2 workers", master);

    get_ok(s.port);

    /* reload through the pid file: new workers, same master */
    cli(&s, "reload");
    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, w1, zpt_wait_ms()),
                  "workers not replaced after -s reload (were %d %d)", w0[0], w0[1]);
    ck_assert_int_eq(zpt_read_pid(s.pidfile), master);
    get_ok(s.port);

    /* reopen: a rotated access log is recreated and gets new lines */
    ck_assert_msg(zpt_wait_file_line(s.access_log, "GET /", NULL, zpt_wait_ms()),
                  "no request in the access log");
    snprintf(rotated, sizeof(rotated), "%s.1", s.access_log);
    ck_assert_int_eq(rename(s.access_log, rotated), 0);
    n = zpt_count_lines(s.error_log, "reopening logs");
    cli(&s, "reopen");
    ck_assert_msg(zpt_wait_exists(s.access_log, 1, zpt_wait_ms()),
                  "%s not recreated after -s reopen", s.access_log);
    {
        long long end = zpt_now_ms() + zpt_wait_ms();
        while (zpt_count_lines(s.error_log, "reopening logs") <= n && zpt_now_ms() < end) {
            zpt_msleep(20);
        }
    }
    ck_assert_msg(zpt_count_lines(s.error_log, "reopening logs") > n,
                  "no \"reopening logs\" in error.log after -s reopen");
    /* a worker logs into the new file once it has reopened it */
    {
        long long end = zpt_now_ms() + zpt_wait_ms();
        do {
            get_ok(s.port);
            if (zpt_file_has_line(s.access_log, "GET /", NULL)) {
                break;
            }
            zpt_msleep(50);
        } while (zpt_now_ms() < end);
    }
    ck_assert_msg(zpt_file_has_line(s.access_log, "GET /", NULL),
                  "requests after reopen not logged in the new %s", s.access_log);
    ck_assert(zpt_alive(master));

    /* quit: graceful stop, everything gone */
    cli(&s, "quit");
    assert_gone(&s, master, w1, 2);

    zpt_teardown();
}
END_TEST


START_TEST(test_daemon_stop)
{
    zpt_srv_t s;
    pid_t     master, w[2];

    master = start_daemon(&s);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()));
    get_ok(s.port);

    cli(&s, "stop");
    assert_gone(&s, master, w, 2);

    zpt_teardown();
}
END_TEST


/*
 * Binary upgrade of a daemon under load: USR2 starts the new master (a
 * child of the old one, not daemonized again), WINCH retires the old
 * workers, QUIT the old master; no request fails on the way.
 */
START_TEST(test_daemon_upgrade)
{
    zpt_srv_t        s;
    zpt_load_t      *l;
    zpt_load_stats_t st;
    pid_t            old, fresh, w[2];

    old = start_daemon(&s);
    ck_assert(zpt_wait_workers(old, 2, NULL, 0, w, zpt_wait_ms()));

    l = zpt_load_start(s.port, 8, 200);
    ck_assert(l != NULL);
    ck_assert_msg(zpt_load_wait_ok(l, 200, zpt_wait_ms()), "no traffic before the upgrade");

    ck_assert_int_eq(zpt_kill(old, SIGUSR2), 0);
    ck_assert_msg(zpt_wait_pidfile(s.oldbin, 0, zpt_wait_ms()) == old,
                  "USR2: %s does not hold the old master %d", s.oldbin, old);
    fresh = zpt_wait_pidfile(s.pidfile, old, zpt_wait_ms());
    ck_assert_msg(fresh > 0 && fresh != old, "USR2: no new master in %s", s.pidfile);
    ck_assert_msg(zpt_wait_title(fresh, "master process", zpt_wait_ms()), "new master title");
    ck_assert_msg(zpt_wait_workers(fresh, 2, NULL, 0, NULL, zpt_wait_ms()),
                  "new master %d has no workers", fresh);

    ck_assert_int_eq(zpt_kill(old, SIGWINCH), 0);
    ck_assert_msg(zpt_wait_workers(old, 0, NULL, 0, NULL, zpt_wait_ms()),
                  "old workers still running after WINCH");
    ck_assert_msg(zpt_load_wait_ok(l, 200, zpt_wait_ms()), "no traffic after WINCH");

    ck_assert_int_eq(zpt_kill(old, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(old, zpt_wait_ms(), NULL), "old master did not exit");
    ck_assert_msg(zpt_wait_exists(s.oldbin, 0, zpt_wait_ms()), "%s left behind", s.oldbin);
    ck_assert_int_eq(zpt_read_pid(s.pidfile), fresh);
    ck_assert_msg(zpt_load_wait_ok(l, 200, zpt_wait_ms()), "no traffic after the upgrade");

    zpt_load_stop(l, &st);
    printf("test_daemon_upgrade: ok %ld, failed %ld, reconnects %ld\n", st.ok, st.fail,
           st.reconnects);
    ck_assert_msg(st.fail == 0, "%ld requests failed during the upgrade: %s", st.fail,
                  st.first_errors);
    get_ok(s.port);

    cli(&s, "quit");
    ck_assert_msg(zpt_wait_exit(fresh, zpt_wait_ms(), NULL), "new master did not exit");
    zpt_teardown();
}
END_TEST


START_TEST(test_signal_without_pidfile)
{
    zpt_srv_t   s;
    char        out[4096], err[4096];
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", "-s", "reload", NULL};
    int         rc;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s, DAEMON_CONF, s.port), 0);
    ck_assert(!zpt_exists(s.pidfile));

    args[1] = s.prefix;
    rc      = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc > 0 && rc < 128, "-s reload without a pid file exited %d, stderr: %s", rc,
                  err);
    ck_assert_msg(err[0] != '\0', "-s reload without a pid file printed nothing on stderr");
    ck_assert_msg(strstr(err, "zproxy.pid") != NULL, "stderr does not name the pid file: %s",
                  err);

    /* nothing was started by it */
    ck_assert_msg(!zpt_wait_port(s.port, 300), "something listens on %d", s.port);
    ck_assert(!zpt_exists(s.pidfile));

    zpt_teardown();
}
END_TEST


static Suite *
daemon_suite(void)
{
    Suite *s  = suite_create("daemon");
    TCase *tc = tcase_create("daemon");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_daemon_lifecycle);
    tcase_add_test(tc, test_daemon_stop);
    tcase_add_test(tc, test_daemon_upgrade);
    tcase_add_test(tc, test_signal_without_pidfile);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(daemon_suite)
