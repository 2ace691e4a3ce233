/*
 * test_http1_differential.c: runs the differential check of the HTTP/1.1
 * request parser (tests/differential/http1_diff.py: zproxy's parser,
 * through objs/tests/differential/zp_parse_dump, against the independent
 * tests/differential/http1_ref.py) and fails when they disagree outside
 * the differences documented in docs/http1.md.
 *
 * Python: /usr/bin/python3 (Debian's, with python3-yaml for the
 * desync-guardian cases), else python3 from PATH. ZP_SRC is the tree root
 * (tests/run.sh sets it), else the current directory.
 */
#include "zpt_unit.h"

#include <sys/wait.h>


START_TEST(test_differential)
{
    char        cmd[PATH_MAX * 3], line[1024];
    const char *src, *py;
    FILE       *f;
    int         status;

    src = getenv("ZP_SRC");
    if (src == NULL) {
        src = ".";
    }

    py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";

    snprintf(cmd, sizeof(cmd), "%s/objs/tests/differential/zp_parse_dump", src);
    ck_assert_msg(access(cmd, X_OK) == 0, "%s is not built (make test-build)", cmd);

    /* the script's own run is bounded by its subprocess timeout; the
     * Check timeout below bounds the whole */
    snprintf(cmd, sizeof(cmd), "%s %s/tests/differential/http1_diff.py "
             "%s/objs/tests/differential/zp_parse_dump 2>&1",
             py, src, src);

    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);

    while (fgets(line, sizeof(line), f)) {
        fputs(line, stdout);
    }
    fflush(stdout);

    status = pclose(f);
    ck_assert_msg(status != -1 && WIFEXITED(status), "%s did not exit normally", cmd);
    ck_assert_msg(WEXITSTATUS(status) == 0,
                  "the parsers disagree outside docs/http1.md (exit status %d), see above",
                  WEXITSTATUS(status));
}
END_TEST


static Suite *
zpt_http1_differential_suite(void)
{
    Suite *s;
    TCase *tc;

    s  = suite_create("http1_differential");
    tc = tcase_create("reference");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_differential);
    suite_add_tcase(s, tc);

    return s;
}


ZPT_MAIN(zpt_http1_differential_suite)
