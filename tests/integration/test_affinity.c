/*
 * worker_cpu_affinity: `auto` and explicit masks pin each worker to one
 * CPU, different CPUs for different workers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"


/* The CPU number if list (a Cpus_allowed_list value) is one CPU, else -1. */
static int
single_cpu(const char *list)
{
    char *end;
    long  v;

    if (*list == '\0') {
        return -1;
    }
    v = strtol(list, &end, 10);
    return (end != list && *end == '\0') ? (int)v : -1;
}


/*
 * Starts 2 workers with the given worker_cpu_affinity arguments and waits
 * (bounded) until both are pinned to a single CPU; cpu[] gets the CPUs.
 */
static void
start_pinned(const char *affinity, int cpu[2])
{
    zpt_srv_t s;
    pid_t     master, workers[2];
    char      list[2][256];
    long long end;
    int       i;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "worker_processes 2;\n"
                                  "worker_cpu_affinity %s;\n"
                                  "daemon off;\n"
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
                                  affinity, s.port),
                     0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, workers, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);

    /* a worker pins itself right after the fork: poll, bounded */
    end = zpt_now_ms() + zpt_wait_ms();
    for (;;) {
        for (i = 0; i < 2; i++) {
            if (zpt_proc_status(workers[i], "Cpus_allowed_list", list[i], sizeof(list[i])) != 0) {
                list[i][0] = '\0';
            }
            cpu[i] = single_cpu(list[i]);
        }
        if ((cpu[0] >= 0 && cpu[1] >= 0) || zpt_now_ms() >= end) {
            break;
        }
        zpt_msleep(50);
    }

    for (i = 0; i < 2; i++) {
        ck_assert_msg(cpu[i] >= 0, "worker_cpu_affinity %s: worker %d Cpus_allowed_list is \"%s\"",
                      affinity, workers[i], list[i]);
    }

    zpt_teardown();
}


START_TEST(test_affinity_auto)
{
    int cpu[2];

    start_pinned("auto", cpu);

    if (zpt_ncpus() < 2) {
        fprintf(stderr, "test_affinity_auto: 1 CPU available, not checking they differ\n");
        return;
    }
    ck_assert_msg(cpu[0] != cpu[1], "both workers pinned to CPU %d", cpu[0]);
}
END_TEST


START_TEST(test_affinity_masks)
{
    cpu_set_t set;
    int       cpu[2];

    /* "01 10" names CPUs 0 and 1: both must be ours to use */
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || !CPU_ISSET(0, &set) ||
        !CPU_ISSET(1, &set)) {
        fprintf(stderr, "test_affinity_masks: CPUs 0 and 1 not both available, skipped\n");
        return;
    }

    start_pinned("01 10", cpu);
    ck_assert_msg((cpu[0] == 0 && cpu[1] == 1) || (cpu[0] == 1 && cpu[1] == 0),
                  "worker_cpu_affinity 01 10: workers on CPUs %d and %d", cpu[0], cpu[1]);
}
END_TEST


static Suite *
affinity_suite(void)
{
    Suite *s  = suite_create("affinity");
    TCase *tc = tcase_create("affinity");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_affinity_auto);
    tcase_add_test(tc, test_affinity_masks);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(affinity_suite)
