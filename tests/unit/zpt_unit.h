/*
 * zpt_unit.h: shared scaffolding for the Check unit tests.
 *
 * Each tests/unit/<dir>/test_<file>.c is one executable with one suite:
 *
 *     static Suite *zpt_string_suite(void) { ... }
 *     ZPT_MAIN(zpt_string_suite)
 *
 * The runner forks per test unless CK_FORK=no, so a crash fails one test,
 * not the file. zpt_log logs to stderr, for code that wants a log.
 */
#ifndef ZPT_UNIT_H
#define ZPT_UNIT_H

#include <zp_config.h>
#include <zp_core.h>

#include <check.h>

/* One translation unit per test executable, so a plain definition is fine. */
zp_log_t *zpt_log;

/* A pool for one test, failing the test (not crashing) if it cannot be made. */
static inline zp_pool_t *
zpt_create_pool(size_t size)
{
    zp_pool_t *pool;

    pool = zp_create_pool(size, zpt_log);
    ck_assert_ptr_nonnull(pool);

    return pool;
}

#define ZPT_MAIN(suite_fn)                                                                         \
    int main(void)                                                                                 \
    {                                                                                              \
        int      failed;                                                                           \
        SRunner *sr;                                                                               \
                                                                                                   \
        zpt_log = zp_log_init(NULL, NULL);                                                         \
                                                                                                   \
        sr = srunner_create(suite_fn());                                                           \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        failed = srunner_ntests_failed(sr);                                                        \
        srunner_free(sr);                                                                          \
                                                                                                   \
        return failed ? 1 : 0;                                                                     \
    }

#endif /* ZPT_UNIT_H */
