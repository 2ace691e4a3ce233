/*
 * zp_files.h: open files shared by the cycle (logs), and small file helpers.
 */
#ifndef ZP_FILES_H
#define ZP_FILES_H

#include <zp_config.h>
#include <zp_core.h>

struct zp_open_file_s {
    zp_fd_t   fd;
    zp_str_t  name;     /* NUL-terminated, absolute after resolution */
    void    (*flush)(zp_open_file_t *file, zp_log_t *log);
    void     *data;
};

struct zp_file_s {
    zp_fd_t   fd;
    zp_str_t  name;
    zp_log_t *log;
    off_t     offset;
};

#define zp_open_log_file(name) \
    open((const char *) name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)

ssize_t zp_write_fd(zp_fd_t fd, void *buf, size_t n);
zp_int_t zp_nonblocking(zp_socket_t s);
zp_int_t zp_blocking(zp_socket_t s);

/* Resolves name against prefix unless it is absolute; the result is
 * NUL-terminated and allocated from pool. */
zp_int_t zp_get_full_name(zp_pool_t *pool, zp_str_t *prefix, zp_str_t *name);

#endif /* ZP_FILES_H */
