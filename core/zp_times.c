/*
 * zp_times.c: the cached clock.
 *
 * Readers never lock. Each update writes a fresh slot of a ring and only
 * then publishes pointers to it, after a release fence; a reader that
 * loaded the old pointers keeps reading a slot that will not be touched
 * again for ZP_TIME_SLOTS updates. A signal handler may run
 * zp_time_sigsafe_update() in the middle of zp_time_update(): the trylock
 * below makes the handler skip its refresh instead of writing the slot
 * the interrupted update is filling.
 */
#include <zp_config.h>
#include <zp_core.h>

/* More slots than updates any reader can sleep through while holding a
 * pointer: the loop updates once per iteration, signals at most a few
 * times in between. */
#define ZP_TIME_SLOTS 64

volatile zp_msec_t  zp_current_msec;
volatile zp_time_t *zp_cached_time;

volatile zp_str_t zp_cached_err_log_time;
volatile zp_str_t zp_cached_http_time;
volatile zp_str_t zp_cached_http_log_time;
volatile zp_str_t zp_cached_http_log_iso8601;

static uint32_t  zp_time_lock;
static zp_uint_t zp_time_slot;
static zp_uint_t zp_time_refresh; /* rebuild even within the same second */

static zp_time_t zp_time_cache[ZP_TIME_SLOTS];
static u_char    zp_time_err_log[ZP_TIME_SLOTS][sizeof("2026/11/25 17:53:21")];
static u_char    zp_time_http[ZP_TIME_SLOTS][sizeof("Wed, 25 Nov 2026 17:53:21 GMT")];
static u_char    zp_time_http_log[ZP_TIME_SLOTS][sizeof("25/Nov/2026:17:53:21 +0000")];
static u_char    zp_time_iso8601[ZP_TIME_SLOTS][sizeof("2026-11-25T17:53:21+00:00")];

static const char *zp_time_wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *zp_time_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};


static zp_uint_t
zp_time_trylock(void)
{
    uint32_t expected = 0;

    return __atomic_compare_exchange_n(&zp_time_lock, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}


static void
zp_time_unlock(void)
{
    __atomic_store_n(&zp_time_lock, 0, __ATOMIC_RELEASE);
}


/* Hand-rolled digit writers: snprintf() is neither async-signal-safe nor
 * locale-proof, and these strings are built from signal handlers too. */
static u_char *
zp_time_put2(u_char *p, int v)
{
    *p++ = (u_char) ('0' + v / 10 % 10);
    *p++ = (u_char) ('0' + v % 10);
    return p;
}


static u_char *
zp_time_put4(u_char *p, int v)
{
    p = zp_time_put2(p, v / 100);
    return zp_time_put2(p, v % 100);
}


static u_char *
zp_time_put3(u_char *p, const char *s)
{
    *p++ = (u_char) s[0];
    *p++ = (u_char) s[1];
    *p++ = (u_char) s[2];
    return p;
}


void
zp_gmtime(time_t t, struct tm *tp)
{
    int64_t days, secs, z, era, doe, yoe, y, doy, mp, d, m;

    days = t / 86400;
    secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }

    tp->tm_sec  = (int) (secs % 60);
    tp->tm_min  = (int) (secs / 60 % 60);
    tp->tm_hour = (int) (secs / 3600);

    /* 1970-01-01 was a Thursday */
    tp->tm_wday = (int) ((days % 7 + 11) % 7);

    /* civil date from a day count, in 400-year eras starting on March 1
     * so that the leap day is the last day of the year (H. Hinnant) */
    z   = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp  = (5 * doy + 2) / 153;
    d   = doy - (153 * mp + 2) / 5 + 1;
    m   = mp < 10 ? mp + 3 : mp - 9;
    y   = yoe + era * 400 + (m <= 2);

    tp->tm_mday = (int) d;
    tp->tm_mon  = (int) (m - 1);
    tp->tm_year = (int) (y - 1900);

    /* doy counts from March 1; Jan and Feb belong to the next year */
    if (m >= 3) {
        tp->tm_yday = (int) (doy + 59 + ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    } else {
        tp->tm_yday = (int) (doy - 306);
    }

    tp->tm_isdst  = 0;
    tp->tm_gmtoff = 0;
    tp->tm_zone   = "GMT";
}


void
zp_localtime(time_t t, struct tm *tp)
{
    (void) localtime_r(&t, tp);
}


u_char *
zp_http_time(u_char *buf, time_t t)
{
    struct tm tm;
    u_char   *p;

    zp_gmtime(t, &tm);

    p    = zp_time_put3(buf, zp_time_wdays[tm.tm_wday]);
    *p++ = ',';
    *p++ = ' ';
    p    = zp_time_put2(p, tm.tm_mday);
    *p++ = ' ';
    p    = zp_time_put3(p, zp_time_months[tm.tm_mon]);
    *p++ = ' ';
    p    = zp_time_put4(p, tm.tm_year + 1900);
    *p++ = ' ';
    p    = zp_time_put2(p, tm.tm_hour);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_min);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_sec);
    return zp_cpymem(p, " GMT", 4);
}


/* "2026/11/25 17:53:21" from a broken-down local time */
static void
zp_time_fmt_err_log(u_char *p, struct tm *tm)
{
    p    = zp_time_put4(p, tm->tm_year + 1900);
    *p++ = '/';
    p    = zp_time_put2(p, tm->tm_mon + 1);
    *p++ = '/';
    p    = zp_time_put2(p, tm->tm_mday);
    *p++ = ' ';
    p    = zp_time_put2(p, tm->tm_hour);
    *p++ = ':';
    p    = zp_time_put2(p, tm->tm_min);
    *p++ = ':';
    p    = zp_time_put2(p, tm->tm_sec);
}


static u_char *
zp_time_put_offset(u_char *p, zp_int_t gmtoff, zp_uint_t colon)
{
    zp_int_t off;

    *p++ = gmtoff < 0 ? '-' : '+';
    off  = zp_abs(gmtoff);
    p    = zp_time_put2(p, (int) (off / 60));
    if (colon) {
        *p++ = ':';
    }
    return zp_time_put2(p, (int) (off % 60));
}


static void
zp_time_read(time_t *sec, zp_uint_t *msec)
{
    struct timespec ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    zp_current_msec = (zp_msec_t) ts.tv_sec * 1000 + (zp_msec_t) ts.tv_nsec / 1000000;

    (void) clock_gettime(CLOCK_REALTIME, &ts);
    *sec  = ts.tv_sec;
    *msec = (zp_uint_t) (ts.tv_nsec / 1000000);
}


void
zp_time_init(void)
{
    zp_cached_err_log_time.len     = sizeof("2026/11/25 17:53:21") - 1;
    zp_cached_http_time.len        = sizeof("Wed, 25 Nov 2026 17:53:21 GMT") - 1;
    zp_cached_http_log_time.len    = sizeof("25/Nov/2026:17:53:21 +0000") - 1;
    zp_cached_http_log_iso8601.len = sizeof("2026-11-25T17:53:21+00:00") - 1;

    /* localtime_r() is not required to re-read TZ; read it once here. */
    tzset();

    if (zp_cached_time == NULL) {
        zp_cached_time = &zp_time_cache[0];
    }

    /* a second init (a new TZ on reload) must not be skipped as "same
     * second" */
    zp_time_refresh = 1;

    zp_time_update();
}


void
zp_time_update(void)
{
    u_char    *p;
    time_t     sec;
    zp_uint_t  msec;
    zp_time_t *tp;
    struct tm  tm;

    if (!zp_time_trylock()) {
        return;
    }

    zp_time_read(&sec, &msec);

    tp = &zp_time_cache[zp_time_slot];

    if (tp->sec == sec && !zp_time_refresh) {
        /* same second: only msec moves, the strings stay valid */
        tp->msec = msec;
        zp_time_unlock();
        return;
    }

    zp_time_refresh = 0;
    zp_time_slot    = (zp_time_slot + 1) % ZP_TIME_SLOTS;

    tp       = &zp_time_cache[zp_time_slot];
    tp->sec  = sec;
    tp->msec = msec;

    zp_localtime(sec, &tm);
    tp->gmtoff = (zp_int_t) (tm.tm_gmtoff / 60);

    (void) zp_http_time(zp_time_http[zp_time_slot], sec);

    zp_time_fmt_err_log(zp_time_err_log[zp_time_slot], &tm);

    p    = zp_time_http_log[zp_time_slot];
    p    = zp_time_put2(p, tm.tm_mday);
    *p++ = '/';
    p    = zp_time_put3(p, zp_time_months[tm.tm_mon]);
    *p++ = '/';
    p    = zp_time_put4(p, tm.tm_year + 1900);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_hour);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_min);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_sec);
    *p++ = ' ';
    (void) zp_time_put_offset(p, tp->gmtoff, 0);

    p    = zp_time_iso8601[zp_time_slot];
    p    = zp_time_put4(p, tm.tm_year + 1900);
    *p++ = '-';
    p    = zp_time_put2(p, tm.tm_mon + 1);
    *p++ = '-';
    p    = zp_time_put2(p, tm.tm_mday);
    *p++ = 'T';
    p    = zp_time_put2(p, tm.tm_hour);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_min);
    *p++ = ':';
    p    = zp_time_put2(p, tm.tm_sec);
    (void) zp_time_put_offset(p, tp->gmtoff, 1);

    /* the slot must be complete before any reader can find it */
    __atomic_thread_fence(__ATOMIC_RELEASE);

    zp_cached_time                  = tp;
    zp_cached_http_time.data        = zp_time_http[zp_time_slot];
    zp_cached_err_log_time.data     = zp_time_err_log[zp_time_slot];
    zp_cached_http_log_time.data    = zp_time_http_log[zp_time_slot];
    zp_cached_http_log_iso8601.data = zp_time_iso8601[zp_time_slot];

    zp_time_unlock();
}


void
zp_time_sigsafe_update(void)
{
    time_t     sec;
    zp_uint_t  msec;
    zp_time_t *tp;
    struct tm  tm;

    /* a signal before zp_time_init() has nothing to refresh */
    if (zp_cached_time == NULL || !zp_time_trylock()) {
        return;
    }

    zp_time_read(&sec, &msec);

    tp = &zp_time_cache[zp_time_slot];

    if (tp->sec == sec) {
        zp_time_unlock();
        return;
    }

    zp_time_slot = (zp_time_slot + 1) % ZP_TIME_SLOTS;

    /* Only the error log string is rebuilt here. Zeroing sec makes the
     * next zp_time_update() see a new second and refill this slot's
     * other strings before publishing them. */
    tp      = &zp_time_cache[zp_time_slot];
    tp->sec = 0;

    zp_gmtime(sec + zp_cached_time->gmtoff * 60, &tm);
    zp_time_fmt_err_log(zp_time_err_log[zp_time_slot], &tm);

    __atomic_thread_fence(__ATOMIC_RELEASE);

    zp_cached_err_log_time.data = zp_time_err_log[zp_time_slot];

    zp_time_unlock();
}
