/*
 * test_proctitle.c: process titles. Needs the real argv, so it has its
 * own main() that records it before the suite runs.
 */
#include <zp_config.h>
#include <zp_core.h>

#include <check.h>

/* normally defined by zproxy.c and zp_process.c */


static size_t
zpt_read_file(const char *path, char *buf, size_t size)
{
    int     fd;
    ssize_t n;

    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    n = read(fd, buf, size);
    ck_assert_int_ge(n, 0);
    close(fd);

    return (size_t) n;
}


START_TEST(test_proctitle_set)
{
    char   *path, *last;
    char    buf[65536], comm[32];
    size_t  n, area, i;

    path = strdup(getenv("PATH") ? getenv("PATH") : "");

    /* the argv area before the environment is moved away */
    last = zp_os_argv[0];
    for (i = 0; zp_os_argv[i]; i++) {
        last = zp_os_argv[i] + strlen(zp_os_argv[i]) + 1;
    }
    area = (size_t) (last - zp_os_argv[0]);

    ck_assert_int_eq(zp_init_setproctitle(&zp_log_stderr_log), ZP_OK);

    /* the environment still reads the same from its new place */
    ck_assert_str_eq(getenv("PATH") ? getenv("PATH") : "", path);
    ck_assert_int_eq(setenv("ZPT_AFTER", "1", 1), 0);
    ck_assert_str_eq(getenv("ZPT_AFTER"), "1");

    zp_setproctitle("worker process");

    n = zpt_read_file("/proc/self/cmdline", buf, sizeof(buf));
    ck_assert_uint_ge(n, sizeof("zproxy: worker process"));
    ck_assert_str_eq(buf, "zproxy: worker process");
    /* the rest of the area is NUL padding, not old arguments */
    for (i = sizeof("zproxy: worker process"); i < n; i++) {
        ck_assert_msg(buf[i] == '\0', "byte %zu is 0x%02x", i, (u_char) buf[i]);
    }

    n = zpt_read_file("/proc/self/comm", comm, sizeof(comm) - 1);
    comm[n] = '\0';
    ck_assert_str_eq(comm, "zproxy-worker\n");

    /* a title longer than argv + environ is cut, not overflowed */
    char *longt = malloc(200000);
    memset(longt, 'x', 199999);
    longt[199999] = '\0';
    zp_setproctitle(longt);
    n = zpt_read_file("/proc/self/cmdline", buf, sizeof(buf));
    ck_assert_uint_ge(strlen(buf), area - 1);
    ck_assert_uint_lt(strlen(buf), 200000);
    ck_assert(strncmp(buf, "zproxy: xxx", 11) == 0);

    n = zpt_read_file("/proc/self/comm", comm, sizeof(comm) - 1);
    comm[n] = '\0';
    ck_assert_str_eq(comm, "zproxy-xxxxxxxx\n");

    free(longt);
    free(path);
}
END_TEST


int
main(int argc, char **argv)
{
    Suite   *s;
    TCase   *tc;
    SRunner *sr;
    int      failed;

    zp_argc    = argc;
    zp_argv    = argv;
    zp_os_argv = argv;
    zp_pid     = getpid();

    s  = suite_create("zp_proctitle");
    tc = tcase_create("proctitle");
    tcase_add_test(tc, test_proctitle_set);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
