/*
 * contrib/logrotate/zproxy against a running server: the rotated file
 * holds every line written before the rotation, the new file gets the
 * following ones. Skipped (with a note) without /usr/sbin/logrotate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zpt_harness.h"

#define LOGROTATE "/usr/sbin/logrotate"


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


/* Waits (bounded) until the lines of a and b add up to want; the total. */
static int
wait_total(const char *a, const char *b, int want)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       n;

    for (;;) {
        n = zpt_count_lines(a, NULL) + zpt_count_lines(b, NULL);
        if (n >= want) {
            zpt_msleep(200); /* and no extra line shows up */
            return zpt_count_lines(a, NULL) + zpt_count_lines(b, NULL);
        }
        if (zpt_now_ms() >= end) {
            return n;
        }
        zpt_msleep(20);
    }
}


/* Copies contrib/logrotate/zproxy with /usr/local/zproxy -> prefix. */
static void
write_logrotate_conf(const char *prefix, const char *dst)
{
    char  src[1024];
    char *in, *p, *hit;
    FILE *f;

    snprintf(src, sizeof(src), "%s/contrib/logrotate/zproxy", zpt_src());
    in = zpt_read_file(src, NULL);
    ck_assert_msg(in != NULL, "cannot read %s", src);
    ck_assert_msg(strstr(in, "/usr/local/zproxy/logs/") != NULL, "%s: no default paths", src);

    f = fopen(dst, "w");
    ck_assert(f != NULL);
    for (p = in; (hit = strstr(p, "/usr/local/zproxy")) != NULL; p = hit + 17) {
        fprintf(f, "%.*s%s", (int)(hit - p), p, prefix);
    }
    fputs(p, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(dst, 0644), 0); /* logrotate ignores writable configs */
    free(in);
}


START_TEST(test_logrotate)
{
    zpt_srv_t   s;
    pid_t       master;
    char        conf[600], state[600], rotated[600], out[8192], err[8192];
    const char *argv[] = {LOGROTATE, "-f", "-s", state, conf, NULL};
    int         k = 15, m = 15, n, rc;
    long long   end;

    if (access(LOGROTATE, X_OK) != 0) {
        fprintf(stderr, "test_logrotate: %s not installed, skipped\n", LOGROTATE);
        return;
    }

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    snprintf(conf, sizeof(conf), "%s/conf/logrotate.conf", s.prefix);
    snprintf(state, sizeof(state), "%s/logrotate.state", s.prefix);
    snprintf(rotated, sizeof(rotated), "%s.1", s.access_log);
    write_logrotate_conf(s.prefix, conf);

    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");

    get_n(s.port, k);
    n = wait_total(s.access_log, rotated, k);
    ck_assert_msg(n == k, "access.log has %d lines after %d requests", n, k);

    rc = zpt_run_argv(argv, out, sizeof(out), err, sizeof(err));
    ck_assert_msg(rc == 0, "logrotate exited %d:\n%s%s", rc, out, err);

    /* delaycompress: the first rotation leaves access.log.1 plain */
    ck_assert_msg(zpt_exists(rotated), "no %s after logrotate:\n%s", rotated, err);
    ck_assert_msg(zpt_exists(s.access_log), "logrotate did not create a new access.log");

    get_n(s.port, m);

    /* USR1 is handled asynchronously: go on until a line lands in the new file */
    end = zpt_now_ms() + zpt_wait_ms();
    while (zpt_count_lines(s.access_log, NULL) == 0 && zpt_now_ms() < end) {
        wait_total(s.access_log, rotated, k + m);
        if (zpt_count_lines(s.access_log, NULL) == 0) {
            get_n(s.port, 1);
            m++;
            zpt_msleep(50);
        }
    }

    n = wait_total(s.access_log, rotated, k + m);
    ck_assert_msg(n == k + m, "%d lines in access.log.1 + access.log, expected %d", n, k + m);
    ck_assert_msg(zpt_count_lines(s.access_log, NULL) >= 1,
                  "nothing written to the new access.log");
    /* every line from before the rotation is in the rotated file */
    ck_assert_int_ge(zpt_count_lines(rotated, NULL), k);
    ck_assert(zpt_alive(master));

    zpt_teardown();
}
END_TEST


static Suite *
logrotate_suite(void)
{
    Suite *s  = suite_create("logrotate");
    TCase *tc = tcase_create("logrotate");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_logrotate);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(logrotate_suite)
