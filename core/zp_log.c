/*
 * zp_log.c: the error log.
 *
 * One write(2) per line with O_APPEND, so lines from the master and every
 * worker interleave whole, and a log file renamed by logrotate keeps
 * receiving lines until each process reopens it on USR1.
 */
#include <zp_config.h>
#include <zp_core.h>

static zp_open_file_t zp_log_file_stderr = {STDERR_FILENO, {6, (u_char *) "stderr"}, NULL, NULL};

/* The bootstrap log: lines are "zproxy: message", as a command-line tool
 * prints, until the configured error_log takes over. */
static zp_open_file_t zp_log_file_plain = {STDERR_FILENO, {6, (u_char *) "stderr"}, NULL, NULL};

zp_log_t zp_log_stderr_log = {ZP_LOG_NOTICE, &zp_log_file_plain, NULL, NULL, NULL, NULL};

static const char *zp_log_levels[] = {"", "emerg", "alert", "crit", "error",
                                      "warn", "notice", "info", "debug"};

static const char *zp_log_debug_names[] = {"debug_core", "debug_alloc", "debug_mutex",
                                           "debug_event", "debug_http", NULL};


u_char *
zp_log_errno(u_char *buf, u_char *last, zp_err_t err)
{
    char errstr[128];
    const char *msg;

    msg = strerror_r(err, errstr, sizeof(errstr));
    return zp_slprintf(buf, last, " (%d: %s)", err, msg);
}


static void
zp_log_write_line(zp_log_t *log, zp_uint_t level, u_char *msg, size_t len)
{
    u_char  line[ZP_MAX_ERROR_STR + 128];
    u_char *p, *last;

    last = line + sizeof(line) - 1;

    if (log->file == &zp_log_file_plain) {
        p = zp_slprintf(line, last, "zproxy: %*s", len, msg);
    } else {
        p = zp_slprintf(line, last, "%V [%s] %P: %*s", &zp_cached_err_log_time,
                        zp_log_levels[level & 0xf], zp_pid, len, msg);
    }

    *p++ = LF;
    (void) zp_write_fd(log->file->fd, line, p - line);
}


void
zp_log_error_core(zp_uint_t level, zp_log_t *log, zp_err_t err, const char *fmt, ...)
{
    va_list   args;
    u_char    msg[ZP_MAX_ERROR_STR];
    u_char   *p, *last;
    zp_log_t *l;

    last = msg + sizeof(msg);

    va_start(args, fmt);
    p = zp_vslprintf(msg, last, fmt, args);
    va_end(args);

    if (err) {
        p = zp_log_errno(p, last, err);
    }

    if (level != ZP_LOG_DEBUG && log->handler) {
        p = log->handler(log, p, last - p);
    }

    for (l = log; l; l = l->next) {
        if (l->log_level < level && level != ZP_LOG_DEBUG) {
            continue;
        }
        if (l->file == NULL || l->file->fd == ZP_INVALID_FILE) {
            continue;
        }
        zp_log_write_line(l, level, msg, p - msg);
    }
}


void
zp_log_stderr(zp_err_t err, const char *fmt, ...)
{
    va_list args;
    u_char  msg[ZP_MAX_ERROR_STR];
    u_char *p, *last;

    last = msg + sizeof(msg) - 1;
    p    = zp_cpymem(msg, "zproxy: ", 8);

    va_start(args, fmt);
    p = zp_vslprintf(p, last, fmt, args);
    va_end(args);

    if (err) {
        p = zp_log_errno(p, last, err);
    }

    *p++ = LF;
    (void) zp_write_fd(STDERR_FILENO, msg, p - msg);
}


zp_log_t *
zp_log_init(u_char *prefix, u_char *error_log)
{
    static zp_open_file_t file;
    static zp_log_t       log;
    u_char                path[PATH_MAX];
    zp_fd_t               fd;

    if (error_log == NULL) {
        return &zp_log_stderr_log;
    }

    if (error_log[0] != '/' && prefix) {
        zp_snprintf(path, sizeof(path), "%s%s%Z", prefix, error_log);
    } else {
        zp_snprintf(path, sizeof(path), "%s%Z", error_log);
    }

    fd = zp_open_log_file(path);
    if (fd == ZP_INVALID_FILE) {
        zp_log_stderr(errno, "could not open error log file: open() \"%s\" failed", path);
        return &zp_log_stderr_log;
    }

    file.fd        = fd;
    file.name.data = (u_char *) strdup((char *) path);
    file.name.len  = strlen((char *) path);
    log.file       = &file;
    log.log_level  = ZP_LOG_NOTICE;
    return &log;
}


zp_int_t
zp_log_parse_level(zp_str_t *name, zp_uint_t *level)
{
    zp_uint_t n, d;

    for (n = 1; n < zp_nelems(zp_log_levels); n++) {
        if (name->len == strlen(zp_log_levels[n])
            && zp_strncmp(name->data, zp_log_levels[n], name->len) == 0) {
            *level = (n == ZP_LOG_DEBUG) ? ZP_LOG_DEBUG_ALL : n;
            return ZP_OK;
        }
    }

    for (n = 0, d = ZP_LOG_DEBUG_FIRST; zp_log_debug_names[n]; n++, d <<= 1) {
        if (name->len == strlen(zp_log_debug_names[n])
            && zp_strncmp(name->data, zp_log_debug_names[n], name->len) == 0) {
            *level = ZP_LOG_DEBUG | d;
            return ZP_OK;
        }
    }

    return ZP_ERROR;
}


zp_open_file_t *
zp_log_stderr_file(void)
{
    return &zp_log_file_stderr;
}
