/*
 * zp_times.h: the cached clock.
 *
 * Time is read from the kernel once per event loop iteration (and on
 * SIGALRM with timer_resolution) and everything else reads the cache:
 * access log lines, Date headers and timers all agree on "now" within an
 * iteration, and the hot path makes no syscalls.
 *
 * Two clocks are kept apart on purpose:
 *   - zp_current_msec is CLOCK_MONOTONIC: timers use it, so a wall clock
 *     step (NTP, an admin running date -s) never fires or stalls them;
 *   - zp_cached_time and the strings are wall time (CLOCK_REALTIME).
 */
#ifndef ZP_TIMES_H
#define ZP_TIMES_H

#include <zp_config.h>
#include <zp_core.h>

typedef uint64_t zp_msec_t;
typedef int64_t  zp_msec_int_t;

typedef struct {
    time_t    sec;
    zp_uint_t msec;
    zp_int_t  gmtoff; /* local offset from UTC in minutes, east positive */
} zp_time_t;

/* Milliseconds of CLOCK_MONOTONIC, for timers; never goes backwards. */
extern volatile zp_msec_t zp_current_msec;

/* Wall time; points into a ring of slots, so a pointer read once stays
 * consistent while the next update fills another slot. */
extern volatile zp_time_t *zp_cached_time;

/* Local time strings, NUL-free, refreshed once a second:
 *   err_log_time       "2026/11/25 17:53:21"
 *   http_time          "Wed, 25 Nov 2026 17:53:21 GMT" (RFC 1123, always GMT)
 *   http_log_time      "25/Nov/2026:17:53:21 +0000"
 *   http_log_iso8601   "2026-11-25T17:53:21+00:00" */
extern volatile zp_str_t zp_cached_err_log_time;
extern volatile zp_str_t zp_cached_http_time;
extern volatile zp_str_t zp_cached_http_log_time;
extern volatile zp_str_t zp_cached_http_log_iso8601;

#define zp_time()      zp_cached_time->sec
#define zp_timeofday() ((zp_time_t *) zp_cached_time)

#define ZP_HTTP_TIME_LEN (sizeof("Wed, 25 Nov 2026 17:53:21 GMT") - 1)

/* Reads the time zone and fills the cache. Call once at startup before
 * anything logs. */
void zp_time_init(void);

/* Re-reads both clocks and, when the second changed, rebuilds the strings
 * in the next slot. Not for signal handlers: it calls localtime_r(). */
void zp_time_update(void);

/* Async-signal-safe: refreshes only zp_cached_err_log_time, so a signal
 * handler can log with a current time stamp. It reuses the UTC offset of
 * the last zp_time_update(). */
void zp_time_sigsafe_update(void);

/* Broken-down UTC time, standard struct tm conventions (tm_year - 1900,
 * tm_mon 0..11). Async-signal-safe and locale-free, unlike gmtime_r(). */
void zp_gmtime(time_t t, struct tm *tp);

/* Broken-down local time via localtime_r(); tm_gmtoff holds the offset. */
void zp_localtime(time_t t, struct tm *tp);

/* Writes the RFC 1123 date of t (ZP_HTTP_TIME_LEN bytes, no NUL) to buf;
 * returns the end. */
u_char *zp_http_time(u_char *buf, time_t t);

#endif /* ZP_TIMES_H */
