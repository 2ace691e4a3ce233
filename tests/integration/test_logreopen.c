/*
 * Log reopening (USR1): after a rename, no access log line is lost, the
 * new file gets the new lines; error.log is recreated as well. Also the
 * default access log format (nginx "combined").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"


static pid_t
start_default(zpt_srv_t *s)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(s), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start");
    return master;
}


static void
get_n(int port, int n)
{
    zpt_resp_t r;
    int        i;

    for (i = 0; i < n; i++) {
        ck_assert_msg(zpt_http_get_once(port, "/", &r) == 0, "request: %s", r.error);
        ck_assert_int_eq(r.status, 200);
    }
}


/* Waits (bounded) until the lines of the given files add up to want. */
static int
wait_total(const char *a, const char *b, int want)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       n;

    for (;;) {
        n = zpt_count_lines(a, NULL) + (b ? zpt_count_lines(b, NULL) : 0);
        if (n >= want || zpt_now_ms() >= end) {
            if (n >= want) {
                zpt_msleep(200); /* and no extra line shows up */
                n = zpt_count_lines(a, NULL) + (b ? zpt_count_lines(b, NULL) : 0);
            }
            return n;
        }
        zpt_msleep(20);
    }
}


START_TEST(test_reopen_access_log)
{
    zpt_srv_t s;
    pid_t     master;
    char      rotated[600];
    int       k = 20, m = 20, n;
    long long end;

    master = start_default(&s);
    snprintf(rotated, sizeof(rotated), "%s.1", s.access_log);

    get_n(s.port, k);
    n = wait_total(s.access_log, NULL, k);
    ck_assert_msg(n == k, "access.log has %d lines after %d requests", n, k);

    ck_assert_int_eq(rename(s.access_log, rotated), 0);
    ck_assert_int_eq(zpt_kill(master, SIGUSR1), 0);
    ck_assert_msg(zpt_wait_exists(s.access_log, 1, zpt_wait_ms()),
                  "access.log not recreated after USR1");

    get_n(s.port, m);

    /* the workers reopen asynchronously: go on until a line lands in the new file */
    end = zpt_now_ms() + zpt_wait_ms();
    while (zpt_count_lines(s.access_log, NULL) == 0 && zpt_now_ms() < end) {
        wait_total(s.access_log, rotated, k + m); /* let the sent ones land first */
        if (zpt_count_lines(s.access_log, NULL) == 0) {
            get_n(s.port, 1);
            m++;
            zpt_msleep(50);
        }
    }

    n = wait_total(s.access_log, rotated, k + m);
    ck_assert_msg(n == k + m, "%d lines in access.log.1 + access.log, expected %d (%d + %d)", n,
                  k + m, zpt_count_lines(rotated, NULL), zpt_count_lines(s.access_log, NULL));
    ck_assert_msg(zpt_count_lines(s.access_log, NULL) >= 1,
                  "nothing written to the new access.log");
    ck_assert_int_ge(zpt_count_lines(rotated, NULL), k);

    ck_assert_msg(zpt_wait_file_line(s.error_log, "reopening logs", NULL, zpt_wait_ms()),
                  "no \"reopening logs\" in error.log");

    zpt_teardown();
}
END_TEST


START_TEST(test_reopen_error_log)
{
    zpt_srv_t s;
    pid_t     master;
    char      rotated[600];
    long long end;

    master = start_default(&s);
    snprintf(rotated, sizeof(rotated), "%s.1", s.error_log);

    ck_assert_msg(zpt_wait_exists(s.error_log, 1, zpt_wait_ms()), "no error.log");
    ck_assert_int_eq(rename(s.error_log, rotated), 0);
    ck_assert_int_eq(zpt_kill(master, SIGUSR1), 0);

    ck_assert_msg(zpt_wait_exists(s.error_log, 1, zpt_wait_ms()),
                  "error.log not recreated after USR1");
    /* logged by the master either before (old file) or after reopening */
    end = zpt_now_ms() + zpt_wait_ms();
    while (!zpt_file_has_line(rotated, "reopening logs", NULL) &&
           !zpt_file_has_line(s.error_log, "reopening logs", NULL) && zpt_now_ms() < end) {
        zpt_msleep(50);
    }
    ck_assert_msg(zpt_file_has_line(rotated, "reopening logs", NULL) ||
                      zpt_file_has_line(s.error_log, "reopening logs", NULL),
                  "no \"reopening logs\" logged");

    /* the new error.log is the live one: a reload is logged there */
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
    ck_assert_msg(zpt_wait_file_line(s.error_log, "reconfiguring", NULL, zpt_wait_ms()),
                  "\"reconfiguring\" not written to the new error.log");

    zpt_teardown();
}
END_TEST


START_TEST(test_access_log_format)
{
    zpt_srv_t s;
    char     *log, *nl;

    start_default(&s);
    get_n(s.port, 1);
    ck_assert_int_eq(wait_total(s.access_log, NULL, 1), 1);

    log = zpt_read_file(s.access_log, NULL);
    ck_assert(log != NULL);
    nl = strchr(log, '\n');
    if (nl) {
        *nl = '\0';
    }

    /* combined: $remote_addr - $remote_user [$time_local] "$request" $status
       $body_bytes_sent "$http_referer" "$http_user_agent" */
    ck_assert_msg(strncmp(log, "127.0.0.1 - - [", 15) == 0, "access log line: %s", log);
    ck_assert_msg(strstr(log, "] \"GET / HTTP/1.1\" 200 6 \"-\" \"-\"") != NULL,
                  "access log line: %s", log);
    free(log);

    zpt_teardown();
}
END_TEST


static Suite *
logreopen_suite(void)
{
    Suite *s  = suite_create("logreopen");
    TCase *tc = tcase_create("logreopen");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reopen_access_log);
    tcase_add_test(tc, test_reopen_error_log);
    tcase_add_test(tc, test_access_log_format);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(logreopen_suite)
