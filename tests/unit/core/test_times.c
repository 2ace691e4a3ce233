/*
 * test_times.c: the cached clock.
 */
#include "zpt_unit.h"
#include <locale.h>

/* normally defined by zp_process.c */


static void
zpt_tz(const char *tz)
{
    ck_assert_int_eq(setenv("TZ", tz, 1), 0);
    zp_time_init();
}


static void
zpt_assert_cached(volatile zp_str_t *s, const char *expect)
{
    ck_assert_uint_eq(s->len, strlen(expect));
    ck_assert_msg(memcmp(s->data, expect, s->len) == 0, "got \"%.*s\", expected \"%s\"",
                  (int) s->len, s->data, expect);
}


/* Every cached string against strftime() of the cached second. */
static void
zpt_check_strings(void)
{
    time_t    sec;
    struct tm lt, gt;
    char      buf[64], z[8];

    sec = zp_time();
    localtime_r(&sec, &lt);
    gmtime_r(&sec, &gt);

    strftime(buf, sizeof(buf), "%Y/%m/%d %H:%M:%S", &lt);
    zpt_assert_cached(&zp_cached_err_log_time, buf);

    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &gt);
    zpt_assert_cached(&zp_cached_http_time, buf);

    strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z", &lt);
    zpt_assert_cached(&zp_cached_http_log_time, buf);

    /* %z is "+0530"; ISO 8601 wants "+05:30" */
    strftime(z, sizeof(z), "%z", &lt);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &lt);
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%.3s:%.2s", z, z + 3);
    zpt_assert_cached(&zp_cached_http_log_iso8601, buf);

    ck_assert_int_eq(zp_cached_time->gmtoff, lt.tm_gmtoff / 60);
    ck_assert_uint_lt(zp_cached_time->msec, 1000);
}


START_TEST(test_time_strings_utc)
{
    zpt_tz("UTC0");
    zpt_check_strings();
    ck_assert_int_eq(zp_cached_time->gmtoff, 0);
    ck_assert(zp_cached_http_log_time.data[21] == '+');
}
END_TEST


START_TEST(test_time_strings_zones)
{
    /* POSIX TZ strings need no tzdata: east, west and half-hour offsets */
    static const char *zones[] = {"IST-5:30", "NST3:30", "EST5", "XYZ-14", "ABC11"};
    size_t              i;

    for (i = 0; i < zp_nelems(zones); i++) {
        zpt_tz(zones[i]);
        zpt_check_strings();
    }

    zpt_tz("IST-5:30");
    ck_assert_int_eq(zp_cached_time->gmtoff, 330);
    ck_assert(memcmp(zp_cached_http_log_time.data + 21, "+0530", 5) == 0);
    ck_assert(memcmp(zp_cached_http_log_iso8601.data + 19, "+05:30", 6) == 0);

    zpt_tz("NST3:30");
    ck_assert_int_eq(zp_cached_time->gmtoff, -210);
    ck_assert(memcmp(zp_cached_http_log_iso8601.data + 19, "-03:30", 6) == 0);
}
END_TEST


START_TEST(test_time_update_across_seconds)
{
    time_t start;

    zpt_tz("IST-5:30");
    start = zp_time();

    /* strings stay right through several second changes */
    while (zp_time() < start + 2) {
        zp_time_update();
        zpt_check_strings();
        usleep(997);
    }

    ck_assert_int_le(llabs((long long) (zp_time() - time(NULL))), 1);
}
END_TEST


START_TEST(test_time_gmtime)
{
    static const time_t fixed[] = {0, -1, 59, 86399, 86400, -86400, 951782400 /* 2000-02-29 */,
                                   951868800, 4107542400 /* 2100-03-01 */, 4107456000,
                                   1795621991, 253402300799 /* 9999-12-31 */, -2208988800,
                                   68169600, 1709164800 /* 2024-02-29 */};
    struct tm           a, b;
    time_t              t;
    size_t              i;
    unsigned            seed = 42;

    for (i = 0; i < 200000 + zp_nelems(fixed); i++) {
        if (i < zp_nelems(fixed)) {
            t = fixed[i];
        } else {
            t = (time_t) (((int64_t) rand_r(&seed) << 31 | rand_r(&seed)) % 20000000000LL)
                - 2500000000LL;
        }

        zp_gmtime(t, &a);
        ck_assert_ptr_nonnull(gmtime_r(&t, &b));

        ck_assert_msg(a.tm_sec == b.tm_sec && a.tm_min == b.tm_min && a.tm_hour == b.tm_hour
                          && a.tm_mday == b.tm_mday && a.tm_mon == b.tm_mon
                          && a.tm_year == b.tm_year && a.tm_wday == b.tm_wday
                          && a.tm_yday == b.tm_yday,
                      "zp_gmtime(%lld): %d-%d-%d %d:%d:%d wday %d yday %d", (long long) t,
                      a.tm_year, a.tm_mon, a.tm_mday, a.tm_hour, a.tm_min, a.tm_sec, a.tm_wday,
                      a.tm_yday);
    }
}
END_TEST


START_TEST(test_time_http_time)
{
    u_char    buf[64], *p;
    char      expect[64];
    struct tm tm;
    time_t    t;
    int       i;
    unsigned  seed = 7;

    setlocale(LC_TIME, "C");

    for (i = 0; i < 20000; i++) {
        t = i == 0 ? 0 : (time_t) ((unsigned) rand_r(&seed) * 2ULL);

        p  = zp_http_time(buf, t);
        *p = '\0';
        ck_assert_uint_eq((size_t) (p - buf), ZP_HTTP_TIME_LEN);

        gmtime_r(&t, &tm);
        strftime(expect, sizeof(expect), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        ck_assert_str_eq((char *) buf, expect);
    }
}
END_TEST


START_TEST(test_time_localtime)
{
    struct tm tm;
    time_t    t = 1795621991;

    zpt_tz("IST-5:30");
    zp_localtime(t, &tm);
    ck_assert_int_eq(tm.tm_gmtoff, 19800);
    ck_assert_int_eq(tm.tm_hour, (int) ((t % 86400 + 19800) % 86400 / 3600));
}
END_TEST


START_TEST(test_time_monotonic)
{
    struct timespec ts;
    zp_msec_t       prev, now, mono;
    int             i;

    zp_time_init();
    prev = zp_current_msec;

    for (i = 0; i < 300000; i++) {
        zp_time_update();
        ck_assert_uint_ge(zp_current_msec, prev);
        prev = zp_current_msec;
    }

    /* it is CLOCK_MONOTONIC, not wall time */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    mono = (zp_msec_t) ts.tv_sec * 1000 + (zp_msec_t) ts.tv_nsec / 1000000;
    ck_assert_uint_le(prev, mono);
    ck_assert_uint_le(mono - prev, 20);

    usleep(60000);
    zp_time_update();
    now = zp_current_msec;
    ck_assert_uint_ge(now - prev, 60);
    ck_assert_uint_lt(now - prev, 2000);

    ck_assert_ptr_eq(zp_timeofday(), (zp_time_t *) zp_cached_time);
    ck_assert_int_le(llabs((long long) (zp_time() - time(NULL))), 1);
}
END_TEST


/* Only the error log string moves, and the next full update refills
 * everything for the new second. */
START_TEST(test_time_sigsafe_update)
{
    time_t     before;
    u_char    *http;
    struct tm  lt;
    char       buf[32];
    time_t     now;

    zpt_tz("IST-5:30");
    before = zp_time();
    http   = zp_cached_http_time.data;

    /* let the wall clock reach the next second */
    while (time(NULL) == before) {
        usleep(1000);
    }

    zp_time_sigsafe_update();

    now = time(NULL);
    localtime_r(&now, &lt);
    strftime(buf, sizeof(buf), "%Y/%m/%d %H:%M:%S", &lt);
    zpt_assert_cached(&zp_cached_err_log_time, buf);

    ck_assert_int_eq(zp_time(), before);
    ck_assert_ptr_eq(zp_cached_http_time.data, http);

    zp_time_update();
    ck_assert_int_gt(zp_time(), before);
    zpt_check_strings();
}
END_TEST


static volatile sig_atomic_t zpt_signals;


static void
zpt_sigalrm(int signo)
{
    ZP_UNUSED(signo);
    zp_time_sigsafe_update();
    zpt_signals++;
}


/* A string read while signals update the cache is always a whole time
 * stamp of a recent second, never a mix of two. */
START_TEST(test_time_sigsafe_under_signals)
{
    struct sigaction  sa;
    struct itimerval  itv;
    struct tm         lt;
    u_char            copy[32], *p;
    char              expect[3][32];
    time_t            now, t;
    int               i, ok, reads;

    zpt_tz("IST-5:30");

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = zpt_sigalrm;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);

    memset(&itv, 0, sizeof(itv));
    itv.it_interval.tv_usec = 200;
    itv.it_value.tv_usec    = 200;
    ck_assert_int_eq(setitimer(ITIMER_REAL, &itv, NULL), 0);

    reads = 0;
    t     = time(NULL);

    while (time(NULL) < t + 2 || reads < 1000) {
        zp_time_update();

        p = zp_cached_err_log_time.data;
        memcpy(copy, p, zp_cached_err_log_time.len);
        copy[zp_cached_err_log_time.len] = '\0';

        now = time(NULL);
        for (i = 0; i < 3; i++) {
            time_t s = now - 1 + i;
            localtime_r(&s, &lt);
            strftime(expect[i], sizeof(expect[i]), "%Y/%m/%d %H:%M:%S", &lt);
        }

        ok = !strcmp((char *) copy, expect[0]) || !strcmp((char *) copy, expect[1])
             || !strcmp((char *) copy, expect[2]);
        ck_assert_msg(ok, "torn or stale err log time \"%s\" (now %s)", copy, expect[1]);
        reads++;
    }

    memset(&itv, 0, sizeof(itv));
    setitimer(ITIMER_REAL, &itv, NULL);

    ck_assert_int_gt(zpt_signals, 100);
}
END_TEST


static Suite *
zpt_times_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_times");

    tc = tcase_create("strings");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_time_strings_utc);
    tcase_add_test(tc, test_time_strings_zones);
    tcase_add_test(tc, test_time_update_across_seconds);
    suite_add_tcase(s, tc);

    tc = tcase_create("convert");
    tcase_add_test(tc, test_time_gmtime);
    tcase_add_test(tc, test_time_http_time);
    tcase_add_test(tc, test_time_localtime);
    suite_add_tcase(s, tc);

    tc = tcase_create("update");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_time_monotonic);
    tcase_add_test(tc, test_time_sigsafe_update);
    tcase_add_test(tc, test_time_sigsafe_under_signals);
    suite_add_tcase(s, tc);

    return s;
}


ZPT_MAIN(zpt_times_suite)
