/*
 * The shipped configuration and the installation: conf/zproxy.conf passes
 * `-t` from the tree and serves (on a free port) from a copy of it; `make
 * install DESTDIR=...` lays out binary, configuration, logs/ and man page,
 * and the installed binary accepts its installed prefix.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"

/* make install may have to rebuild objs/zproxy: a generous bound */
#define MAKE_WAIT_MS 300000


/*
 * Starts ZP_BIN with args and waits (bounded) until s->port accepts and the
 * pid file holds a pid; fails early if the child exits. Returns the pid.
 */
static pid_t
start_args(zpt_srv_t *s, const char *const *args)
{
    long long end;
    int       st, fd;

    s->pid = zpt_spawn(args, s->stderr_log);
    ck_assert_msg(s->pid > 0, "cannot spawn %s", zpt_bin());

    end = zpt_now_ms() + zpt_wait_ms();
    for (;;) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            zpt_srv_dump(s);
            ck_abort_msg("zproxy exited early (wait status 0x%x)", st);
        }
        fd = zpt_connect(s->port);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (zpt_now_ms() >= end) {
            zpt_srv_dump(s);
            ck_abort_msg("port %d never accepted", s->port);
        }
        zpt_msleep(20);
    }

    ck_assert_msg(zpt_wait_pidfile(s->pidfile, 0, zpt_wait_ms()) > 0, "no pid in %s",
                  s->pidfile);
    return s->pid;
}


/* Runs argv (argv[0] a path) with output into log, bounded by ms. Exit code or -1. */
static int
run_logged(const char *const *argv, const char *log, int ms)
{
    pid_t pid;
    int   fd, st;

    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "cannot open %s", log);

    pid = fork();
    ck_assert(pid != -1);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        fd = open("/dev/null", O_RDONLY);
        dup2(fd, 0);
        execvp(argv[0], (char *const *) argv);
        dprintf(2, "execvp %s failed\n", argv[0]);
        _exit(127);
    }
    close(fd);

    if (!zpt_wait_exit(pid, ms, &st)) {
        kill(pid, SIGKILL);
        zpt_wait_exit(pid, 1000, NULL);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}


static int
is_dir(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}


START_TEST(test_shipped_conf_syntax)
{
    char        out[4096], err[4096], path[ZPT_PATH_MAX];
    const char *args[] = {"-t", "-p", zpt_src(), "-c", "conf/zproxy.conf", NULL};
    int         rc;

    rc = zpt_run(args, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "zproxy -t on the shipped config exited %d: %s%s", rc, out, err);
    ck_assert_msg(strstr(err, "syntax is ok") != NULL, "no \"syntax is ok\": %s", err);
    ck_assert_msg(strstr(err, "test is successful") != NULL, "no \"test is successful\": %s",
                  err);

    snprintf(path, sizeof(path), "%s/conf/zproxy.conf", zpt_src());
    ck_assert_msg(strstr(err, path) != NULL, "the message does not name %s: %s", path, err);

    zpt_teardown();
}
END_TEST


START_TEST(test_shipped_conf_serves)
{
    zpt_srv_t   s;
    zpt_resp_t  r;
    char        src[ZPT_PATH_MAX];
    char       *text, *p;
    pid_t       master, w[64];
    long long   end;
    int         st;
    const char *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", "-g", "daemon off;", NULL};

    ck_assert_int_eq(zpt_srv_init(&s), 0);

    snprintf(src, sizeof(src), "%s/conf/zproxy.conf", zpt_src());
    text = zpt_read_file(src, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", src);

    /* exactly one 8080 to replace; nothing else changes */
    p = strstr(text, "8080");
    ck_assert_msg(p != NULL, "no port 8080 in the shipped config");
    ck_assert_msg(strstr(p + 4, "8080") == NULL, "8080 occurs twice in the shipped config");
    ck_assert_int_eq(zpt_write_file(s.conf, "%.*s%d%s", (int) (p - text), text, s.port, p + 4), 0);
    free(text);

    args[1] = s.prefix;
    master  = start_args(&s, args);

    /* the master we forked stays in the foreground and writes its own pid */
    ck_assert_int_eq(zpt_read_pid(s.pidfile), master);
    ck_assert_msg(zpt_wait_title(master, "master process", zpt_wait_ms()), "no master title");
    end = zpt_now_ms() + zpt_wait_ms();
    while (zpt_workers(master, w, 64) < 1 && zpt_now_ms() < end) {
        zpt_msleep(20);
    }
    ck_assert_msg(zpt_workers(master, w, 64) >= 1, "master %d has no workers", master);

    ck_assert_msg(zpt_http_get_once(s.port, "/health", &r) == 0, "/health: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok\n");

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "/: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "hello") != NULL, "/ answered \"%s\"", r.body);

    /* "= /health" is exact: /health/x falls back to the "/" route */
    ck_assert_msg(zpt_http_get_once(s.port, "/health/x", &r) == 0, "/health/x: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "hello") != NULL, "/health/x answered \"%s\"", r.body);

    /* the relative log paths resolve in the prefix */
    ck_assert_msg(zpt_wait_file_line(s.access_log, "/health", NULL, zpt_wait_ms()),
                  "no /health line in %s", s.access_log);
    ck_assert(zpt_exists(s.error_log));

    ck_assert_int_eq(zpt_kill(master, SIGQUIT), 0);
    ck_assert_msg(zpt_wait_exit(master, zpt_wait_ms(), &st), "master did not exit on QUIT");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "master wait status 0x%x", st);
    ck_assert_msg(zpt_wait_exists(s.pidfile, 0, zpt_wait_ms()), "pid file left behind");

    zpt_teardown();
}
END_TEST


START_TEST(test_make_install)
{
    char        dest[256], logdir[256], log[ZPT_PATH_MAX], root[ZPT_PATH_MAX];
    char        path[ZPT_PATH_MAX + 64], destarg[300], src[ZPT_PATH_MAX];
    char        out[4096], err[4096];
    char       *a, *b, *mk;
    const char *make[] = {"make", "--no-print-directory", "-C", zpt_src(), "-f", "objs/Makefile",
                          "install", destarg, NULL};
    const char *t[]    = {path, "-t", "-p", root, NULL};
    int         rc;

    ck_assert_int_eq(zpt_prefix_make(dest, sizeof(dest)), 0);
    ck_assert_int_eq(zpt_prefix_make(logdir, sizeof(logdir)), 0);
    snprintf(log, sizeof(log), "%s/logs/make.log", logdir);
    snprintf(destarg, sizeof(destarg), "DESTDIR=%s", dest);
    snprintf(root, sizeof(root), "%s/usr/local/zproxy", dest);

    rc = run_logged(make, log, MAKE_WAIT_MS);
    if (rc != 0) {
        zpt_dump_tail(log, 40);
    }
    ck_assert_msg(rc == 0, "make install DESTDIR=%s exited %d", dest, rc);

    snprintf(path, sizeof(path), "%s/sbin/zproxy", root);
    ck_assert_msg(access(path, X_OK) == 0, "%s missing or not executable", path);

    snprintf(path, sizeof(path), "%s/conf/zproxy.conf", root);
    ck_assert_msg(zpt_exists(path), "%s missing", path);
    snprintf(src, sizeof(src), "%s/conf/zproxy.conf", zpt_src());
    a = zpt_read_file(path, NULL);
    b = zpt_read_file(src, NULL);
    ck_assert(a != NULL && b != NULL);
    ck_assert_msg(strcmp(a, b) == 0, "installed %s differs from %s", path, src);
    free(a);

    snprintf(path, sizeof(path), "%s/conf/zproxy.conf.default", root);
    ck_assert_msg(zpt_exists(path), "%s missing", path);

    snprintf(path, sizeof(path), "%s/logs", root);
    ck_assert_msg(is_dir(path), "%s is not a directory", path);

    snprintf(path, sizeof(path), "%s/share/man/man8/zproxy.8", root);
    ck_assert_msg(zpt_exists(path), "%s missing", path);

    /* the installed binary finds its configuration below -p */
    snprintf(path, sizeof(path), "%s/sbin/zproxy", root);
    rc = zpt_run_argv(t, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "%s -t -p %s exited %d: %s%s", path, root, rc, out, err);
    ck_assert_msg(strstr(err, "test is successful") != NULL, "no \"test is successful\": %s",
                  err);
    snprintf(path, sizeof(path), "%s/conf/zproxy.conf", root);
    ck_assert_msg(strstr(err, path) != NULL, "-t did not test %s: %s", path, err);

    /* a second install keeps an edited configuration, refreshes .default */
    ck_assert_int_eq(zpt_write_file(path, "# edited\n%s", b), 0);
    snprintf(path, sizeof(path), "%s/conf/zproxy.conf.default", root);
    ck_assert_int_eq(zpt_write_file(path, "# stale\n"), 0);

    rc = run_logged(make, log, MAKE_WAIT_MS);
    if (rc != 0) {
        zpt_dump_tail(log, 40);
    }
    ck_assert_msg(rc == 0, "second make install exited %d", rc);

    mk = zpt_read_file(path, NULL);
    ck_assert(mk != NULL);
    ck_assert_msg(strcmp(mk, b) == 0, "%s not refreshed by the second install", path);
    free(mk);

    snprintf(path, sizeof(path), "%s/conf/zproxy.conf", root);
    a = zpt_read_file(path, NULL);
    ck_assert(a != NULL);
    ck_assert_msg(strncmp(a, "# edited\n", 9) == 0, "the second install replaced %s", path);
    free(a);
    free(b);

    zpt_teardown();
}
END_TEST


static Suite *
shipped_conf_suite(void)
{
    Suite *s  = suite_create("shipped_conf");
    TCase *tc = tcase_create("shipped_conf");

    tcase_set_timeout(tc, 700);
    tcase_add_test(tc, test_shipped_conf_syntax);
    tcase_add_test(tc, test_shipped_conf_serves);
    tcase_add_test(tc, test_make_install);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(shipped_conf_suite)
