/*
 * `zproxy -t`: a good config passes; every error class exits 1 and prints
 * `zproxy: <file>:<line>: <message>` naming the right file and line; and a
 * test never starts a server.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zpt_harness.h"

#define CT_OUT 16384


typedef struct {
    zpt_srv_t s;
    char      out[CT_OUT];
    char      err[CT_OUT];
    int       rc;
} ct_t;


static void
ct_init(ct_t *t)
{
    ck_assert_int_eq(zpt_srv_init(&t->s), 0);
}


/* Runs `zproxy -p <prefix> -t [-q] -c <abs conf>`. */
static void
ct_run(ct_t *t, int quiet)
{
    const char *args[8];
    int         n = 0;

    args[n++] = "-p";
    args[n++] = t->s.prefix;
    args[n++] = "-t";
    if (quiet) {
        args[n++] = "-q";
    }
    args[n++] = "-c";
    args[n++] = t->s.conf;
    args[n]   = NULL;

    t->rc = zpt_run(args, t->out, sizeof(t->out), t->err, sizeof(t->err));
}


/* 1 if a line of text starts with prefix and contains a and b (NULL = any). */
static int
has_line(const char *text, const char *prefix, const char *a, const char *b)
{
    const char *p = text, *nl;
    char        line[2048];
    size_t      len;

    while (*p) {
        nl  = strchr(p, '\n');
        len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof(line), "%.*s", (int)len, p);

        if (strncmp(line, prefix, strlen(prefix)) == 0 && (a == NULL || strstr(line, a)) &&
            (b == NULL || strstr(line, b))) {
            return 1;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return 0;
}


/* Nothing was started: no pid file, no process left. */
static void
ct_nothing_started(ct_t *t)
{
    pid_t kids[8] = {0};

    ck_assert_msg(!zpt_exists(t->s.pidfile), "zproxy -t created the pid file %s", t->s.pidfile);
    ck_assert_msg(zpt_children(getpid(), kids, 8) == 0, "zproxy -t left process %d running",
                  kids[0]);
}


/*
 * Runs -t on t->s.conf and expects failure reported at file:line with a
 * message containing a and b (NULL = unchecked).
 */
static void
ct_expect_error(ct_t *t, const char *file, int line, const char *a, const char *b)
{
    char prefix[1024], failed[1024];

    ct_run(t, 0);

    snprintf(prefix, sizeof(prefix), "zproxy: %s:%d: ", file, line);
    snprintf(failed, sizeof(failed), "zproxy: configuration file %s test failed", t->s.conf);

    ck_assert_msg(t->rc == 1, "zproxy -t exited %d (expected 1), stderr:\n%s", t->rc, t->err);
    ck_assert_msg(has_line(t->err, prefix, a, b),
                  "expected a line \"%s...\" containing \"%s\"%s%s%s, stderr:\n%s", prefix,
                  a ? a : "", b ? " and \"" : "", b ? b : "", b ? "\"" : "", t->err);
    ck_assert_msg(has_line(t->err, failed, NULL, NULL), "expected \"%s\", stderr:\n%s", failed,
                  t->err);
    ck_assert_msg(!has_line(t->err, "zproxy: configuration file", "test is successful", NULL),
                  "a failed test also claims success:\n%s", t->err);
    ct_nothing_started(t);
}


START_TEST(test_good_config)
{
    ct_t t;
    char ok[1024], succ[1024];

    ct_init(&t);
    ck_assert_int_eq(zpt_srv_default_conf(&t.s), 0);

    ct_run(&t, 0);
    snprintf(ok, sizeof(ok), "zproxy: the configuration file %s syntax is ok", t.s.conf);
    snprintf(succ, sizeof(succ), "zproxy: configuration file %s test is successful", t.s.conf);

    ck_assert_msg(t.rc == 0, "zproxy -t exited %d, stderr:\n%s", t.rc, t.err);
    ck_assert_msg(has_line(t.err, ok, NULL, NULL), "expected \"%s\", stderr:\n%s", ok, t.err);
    ck_assert_msg(has_line(t.err, succ, NULL, NULL), "expected \"%s\", stderr:\n%s", succ, t.err);
    ct_nothing_started(&t);

    /* -q: quiet on success */
    ct_run(&t, 1);
    ck_assert_msg(t.rc == 0, "zproxy -t -q exited %d, stderr:\n%s", t.rc, t.err);
    ck_assert_msg(strstr(t.err, "syntax is ok") == NULL, "-q still prints: %s", t.err);
    ct_nothing_started(&t);

    zpt_teardown();
}
END_TEST


START_TEST(test_unknown_directive)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "worker_processes 2;\n"
                       "daemon off;\n"
                       "pid logs/zproxy.pid;\n"
                       "foo bar;\n"
                       "events { worker_connections 64; }\n");
    ct_expect_error(&t, t.s.conf, 4, "unknown directive \"foo\"", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_wrong_context)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "listen 127.0.0.1:%d;\n"
                 "events { worker_connections 64; }\n",
                 t.s.port);
    ct_expect_error(&t, t.s.conf, 2, "\"listen\" directive is not allowed here", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_wrong_arg_count)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "worker_processes 1 2;\n"
                       "events { worker_connections 64; }\n");
    ct_expect_error(&t, t.s.conf, 2,
                    "invalid number of arguments in \"worker_processes\" directive", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_bad_value_main)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "worker_processes abc;\n"
                       "events { worker_connections 64; }\n");
    ct_expect_error(&t, t.s.conf, 2, "invalid value \"abc\" in \"worker_processes\" directive",
                    NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_bad_value_events)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "events {\n"
                       "    worker_connections 10q;\n"
                       "}\n");
    ct_expect_error(&t, t.s.conf, 3, "invalid value \"10q\" in \"worker_connections\" directive",
                    NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_extra_brace)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "events {\n"
                       "    worker_connections 64;\n"
                       "}\n"
                       "}\n"
                       "http { }\n");
    ct_expect_error(&t, t.s.conf, 5, "unexpected \"}\"", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_missing_brace)
{
    ct_t t;

    ct_init(&t);
    /* no newline at the end: EOF is on line 3 however lines are counted */
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "events {\n"
                       "    worker_connections 64;");
    ct_expect_error(&t, t.s.conf, 3, "unexpected end of file, expecting \"}\"", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_unterminated_string)
{
    ct_t t;

    ct_init(&t);
    /* the quote opens on the last line, no newline after it */
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    server {\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        route / { return 200 \"hello;",
                 t.s.port);
    ct_expect_error(&t, t.s.conf, 6, NULL, NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_missing_include)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s, "daemon off;\n"
                       "include missing.conf;\n"
                       "events { worker_connections 64; }\n");
    ct_expect_error(&t, t.s.conf, 2, "missing.conf", "No such file or directory");
    zpt_teardown();
}
END_TEST


START_TEST(test_include_glob_no_match)
{
    ct_t t;
    char dir[1024];

    ct_init(&t);
    snprintf(dir, sizeof(dir), "%s/conf/empty.d", t.s.prefix);
    ck_assert_int_eq(mkdir(dir, 0755), 0);

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "include %s/*.conf;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    include %s/*.conf;\n"
                 "    server {\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        route / { return 200 \"hello\\n\"; }\n"
                 "    }\n"
                 "}\n",
                 dir, dir, t.s.port);

    ct_run(&t, 0);
    ck_assert_msg(t.rc == 0, "a glob include matching nothing failed (%d):\n%s", t.rc, t.err);
    ck_assert_msg(strstr(t.err, "test is successful") != NULL, "stderr:\n%s", t.err);
    ct_nothing_started(&t);
    zpt_teardown();
}
END_TEST


START_TEST(test_error_in_included_file)
{
    ct_t t;
    char inc[1024];

    ct_init(&t);
    snprintf(inc, sizeof(inc), "%s/conf/inc.conf", t.s.prefix);
    ck_assert_int_eq(zpt_write_file(inc, "worker_processes 2;\n"
                                         "foo;\n"),
                     0);
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "include %s;\n"
                 "events { worker_connections 64; }\n",
                 inc);
    ct_expect_error(&t, inc, 2, "unknown directive \"foo\"", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_line_after_include)
{
    ct_t t;
    char inc[1024];

    /* the included file must not disturb the line count of the includer */
    ct_init(&t);
    snprintf(inc, sizeof(inc), "%s/conf/inc.conf", t.s.prefix);
    ck_assert_int_eq(zpt_write_file(inc, "worker_processes 2;\n"
                                         "\n"
                                         "\n"
                                         "pid logs/zproxy.pid;\n"),
                     0);
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "include %s;\n"
                 "events { worker_connections 64; }\n"
                 "bar;\n",
                 inc);
    ct_expect_error(&t, t.s.conf, 4, "unknown directive \"bar\"", NULL);
    zpt_teardown();
}
END_TEST


START_TEST(test_duplicate_listen)
{
    ct_t t;
    char msg[128];

    ct_init(&t);
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    server {\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        route / { return 200 \"hello\\n\"; }\n"
                 "    }\n"
                 "}\n",
                 t.s.port, t.s.port);
    snprintf(msg, sizeof(msg), "duplicate listen 127.0.0.1:%d", t.s.port);
    ct_expect_error(&t, t.s.conf, 6, msg, NULL);
    zpt_teardown();
}
END_TEST


/* ignore_invalid_headers and http09: flags at http and server level */
START_TEST(test_http1_lenient_directives)
{
    ct_t t;

    ct_init(&t);
    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    ignore_invalid_headers off;\n"
                 "    http09 on;\n"
                 "    server {\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        ignore_invalid_headers on;\n"
                 "        http09 OFF;\n"
                 "    }\n"
                 "}\n",
                 t.s.port);
    ct_run(&t, 1);
    ck_assert_msg(t.rc == 0, "zproxy -t exited %d, stderr:\n%s", t.rc, t.err);

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    http09 maybe;\n"
                 "}\n");
    ct_expect_error(&t, t.s.conf, 4, "invalid value \"maybe\" in \"http09\" directive",
                    "it must be \"on\" or \"off\"");

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    server {\n"
                 "        listen 127.0.0.1:%d;\n"
                 "        route / {\n"
                 "            ignore_invalid_headers off;\n"
                 "        }\n"
                 "    }\n"
                 "}\n",
                 t.s.port);
    ct_expect_error(&t, t.s.conf, 7, "\"ignore_invalid_headers\" directive is not allowed here",
                    NULL);

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    ignore_invalid_headers on off;\n"
                 "}\n");
    ct_expect_error(&t, t.s.conf, 4,
                    "invalid number of arguments in \"ignore_invalid_headers\" directive", NULL);

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "events { worker_connections 64; }\n"
                 "http {\n"
                 "    http09 off;\n"
                 "    http09 on;\n"
                 "}\n");
    ct_expect_error(&t, t.s.conf, 5, "\"http09\" directive is duplicate", NULL);

    zpt_srv_conf(&t.s,
                 "daemon off;\n"
                 "http09 off;\n"
                 "events { worker_connections 64; }\n");
    ct_expect_error(&t, t.s.conf, 2, "\"http09\" directive is not allowed here", NULL);

    zpt_teardown();
}
END_TEST


static Suite *
conftest_suite(void)
{
    Suite *s  = suite_create("conftest");
    TCase *tc = tcase_create("conftest");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_good_config);
    tcase_add_test(tc, test_unknown_directive);
    tcase_add_test(tc, test_wrong_context);
    tcase_add_test(tc, test_wrong_arg_count);
    tcase_add_test(tc, test_bad_value_main);
    tcase_add_test(tc, test_bad_value_events);
    tcase_add_test(tc, test_extra_brace);
    tcase_add_test(tc, test_missing_brace);
    tcase_add_test(tc, test_unterminated_string);
    tcase_add_test(tc, test_missing_include);
    tcase_add_test(tc, test_include_glob_no_match);
    tcase_add_test(tc, test_error_in_included_file);
    tcase_add_test(tc, test_line_after_include);
    tcase_add_test(tc, test_duplicate_listen);
    tcase_add_test(tc, test_http1_lenient_directives);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(conftest_suite)
