/*
 * zp_log.h: the error log.
 *
 * A zp_log_t names a file and a level; logs chain through ->next so a
 * message can go to several files. ->handler lets a connection or request
 * append its context (client address, request id) to every line.
 */
#ifndef ZP_LOG_H
#define ZP_LOG_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_LOG_STDERR 0
#define ZP_LOG_EMERG  1
#define ZP_LOG_ALERT  2
#define ZP_LOG_CRIT   3
#define ZP_LOG_ERR    4
#define ZP_LOG_WARN   5
#define ZP_LOG_NOTICE 6
#define ZP_LOG_INFO   7
#define ZP_LOG_DEBUG  8

/* debug masks, above the levels: "error_log file debug_http" */
#define ZP_LOG_DEBUG_CORE  0x010
#define ZP_LOG_DEBUG_ALLOC 0x020
#define ZP_LOG_DEBUG_EVENT 0x080
#define ZP_LOG_DEBUG_HTTP  0x100
#define ZP_LOG_DEBUG_FIRST ZP_LOG_DEBUG_CORE
#define ZP_LOG_DEBUG_LAST  ZP_LOG_DEBUG_HTTP
#define ZP_LOG_DEBUG_ALL   0x7ffffff0

#define ZP_MAX_ERROR_STR 2048

typedef u_char *(*zp_log_handler_pt)(zp_log_t *log, u_char *buf, size_t len);

struct zp_log_s {
    zp_uint_t          log_level;
    zp_open_file_t    *file;
    zp_log_handler_pt  handler;
    void              *data;
    const char        *action;
    zp_log_t          *next;
};

void zp_log_error_core(zp_uint_t level, zp_log_t *log, zp_err_t err, const char *fmt, ...);

#define zp_log_error(level, log, ...)                                                              \
    do {                                                                                           \
        if ((log)->log_level >= (level))                                                           \
            zp_log_error_core(level, log, __VA_ARGS__);                                            \
    } while (0)

#if (ZP_DEBUG)
#define zp_log_debug(mask, log, ...)                                                               \
    do {                                                                                           \
        if ((log)->log_level & (mask))                                                             \
            zp_log_error_core(ZP_LOG_DEBUG, log, __VA_ARGS__);                                     \
    } while (0)
#else
#define zp_log_debug(mask, log, ...)
#endif

/* Before any config is read: logs to stderr, or to error_log if given. */
zp_log_t *zp_log_init(u_char *prefix, u_char *error_log);

/* Writes to stderr without a time stamp, for command-line messages:
 * "zproxy: <message>". */
void zp_log_stderr(zp_err_t err, const char *fmt, ...);

/* Appends " (<err>: <strerror>)" to buf. */
u_char *zp_log_errno(u_char *buf, u_char *last, zp_err_t err);

/* Parses a level name ("info", "warn", "debug_http", ...); returns ZP_ERROR
 * when the name is unknown. */
zp_int_t zp_log_parse_level(zp_str_t *name, zp_uint_t *level);

/* The file object for "error_log stderr": time-stamped lines on fd 2. */
zp_open_file_t *zp_log_stderr_file(void);

extern zp_log_t zp_log_stderr_log;

#endif /* ZP_LOG_H */
