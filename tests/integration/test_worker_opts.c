/*
 * Worker options: user, worker_rlimit_nofile, more workers than affinity
 * masks, and worker_processes auto.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"

#define ZPT_CONF_HEAD                                                                             \
    "daemon off;\n"                                                                               \
    "pid logs/zproxy.pid;\n"                                                                      \
    "error_log logs/error.log info;\n"                                                            \
    "events { worker_connections 256; }\n"                                                        \
    "http {\n"                                                                                    \
    "    access_log off;\n"                                                                       \
    "    server {\n"                                                                              \
    "        listen 127.0.0.1:%d;\n"                                                              \
    "        route / { return 200 \"hello\\n\"; }\n"                                              \
    "    }\n"                                                                                     \
    "}\n"


/* The "Max open files" soft limit from /proc/<pid>/limits, or -1. */
static long
zpt_max_open_files(pid_t pid)
{
    char  path[64], *text, *line;
    long  soft = -1;

    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    text = zpt_read_file(path, NULL);
    if (text == NULL) {
        return -1;
    }
    line = strstr(text, "Max open files");
    if (line) {
        soft = strtol(line + strlen("Max open files"), NULL, 10);
    }
    free(text);
    return soft;
}


START_TEST(test_user_and_rlimit)
{
    zpt_srv_t      s;
    zpt_resp_t     r;
    pid_t          master, workers[1];
    char           uid[128], want[64];
    struct passwd *pw;

    if (geteuid() != 0) {
        printf("test_user_and_rlimit: not root, skipped\n");
        return;
    }

    pw = getpwnam("nobody");
    ck_assert_msg(pw != NULL, "no user \"nobody\" on this machine");

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "user nobody;\n"
                                  "worker_processes 1;\n"
                                  "worker_rlimit_nofile 4321;\n" ZPT_CONF_HEAD,
                                  s.port),
                     0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 1, NULL, 0, workers, zpt_wait_ms()));
    ck_assert(zpt_wait_title(workers[0], "worker process", zpt_wait_ms()));

    /* the worker runs as nobody, the master stays root */
    ck_assert_int_eq(zpt_proc_status(workers[0], "Uid", uid, sizeof(uid)), 0);
    snprintf(want, sizeof(want), "%d", (int)pw->pw_uid);
    ck_assert_msg(strncmp(uid, want, strlen(want)) == 0, "worker Uid: %s, want %s", uid, want);
    ck_assert_int_eq(zpt_proc_status(master, "Uid", uid, sizeof(uid)), 0);
    ck_assert_msg(uid[0] == '0', "master Uid: %s", uid);

    ck_assert_int_eq(zpt_max_open_files(workers[0]), 4321);

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);

    zpt_teardown();
}
END_TEST


START_TEST(test_more_workers_than_masks)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    pid_t      master, workers[3];
    char       cpus[3][64];
    int        i;

    if (zpt_ncpus() < 2) {
        printf("test_more_workers_than_masks: fewer than 2 CPUs, skipped\n");
        return;
    }

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 3;\n"
                                  "worker_cpu_affinity 01 10;\n" ZPT_CONF_HEAD,
                                  s.port),
                     0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 3, NULL, 0, workers, zpt_wait_ms()));

    for (i = 0; i < 3; i++) {
        ck_assert(zpt_wait_title(workers[i], "worker process", zpt_wait_ms()));
        ck_assert_int_eq(zpt_proc_status(workers[i], "Cpus_allowed_list", cpus[i], 64), 0);
        ck_assert_msg(strcmp(cpus[i], "0") == 0 || strcmp(cpus[i], "1") == 0,
                      "worker %d on CPUs %s", (int)workers[i], cpus[i]);
    }

    /* the masks are used in order and the last one repeats: two workers
     * share CPU 1, one has CPU 0 */
    {
        int on0 = 0, on1 = 0;
        for (i = 0; i < 3; i++) {
            on0 += strcmp(cpus[i], "0") == 0;
            on1 += strcmp(cpus[i], "1") == 0;
        }
        ck_assert_int_eq(on0, 1);
        ck_assert_int_eq(on1, 2);
    }

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);

    zpt_teardown();
}
END_TEST


START_TEST(test_worker_processes_auto)
{
    zpt_srv_t s;
    pid_t     master, workers[64];
    int       n = zpt_ncpus();

    ck_assert_int_ge(n, 1);
    ck_assert_int_le(n, 64);

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s, "worker_processes auto;\n" ZPT_CONF_HEAD, s.port), 0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(master, n, NULL, 0, workers, zpt_wait_ms()),
                  "not %d workers", n);
    zpt_msleep(300);
    ck_assert_int_eq(zpt_workers(master, workers, 64), n);

    zpt_teardown();
}
END_TEST


static Suite *
worker_opts_suite(void)
{
    Suite *s  = suite_create("worker_opts");
    TCase *tc = tcase_create("worker_opts");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_user_and_rlimit);
    tcase_add_test(tc, test_more_workers_than_masks);
    tcase_add_test(tc, test_worker_processes_auto);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(worker_opts_suite)
