/*
 * zp_files.c: small file and descriptor helpers.
 */
#include <zp_config.h>
#include <zp_core.h>


ssize_t
zp_write_fd(zp_fd_t fd, void *buf, size_t n)
{
    ssize_t written, w;

    for (written = 0; (size_t) written < n; written += w) {
        w = write(fd, (u_char *) buf + written, n - written);
        if (w == -1) {
            if (errno == EINTR) {
                w = 0;
                continue;
            }
            return written ? written : -1;
        }
    }

    return written;
}


zp_int_t
zp_nonblocking(zp_socket_t s)
{
    int flags = fcntl(s, F_GETFL);

    if (flags == -1) {
        return ZP_ERROR;
    }
    return fcntl(s, F_SETFL, flags | O_NONBLOCK) == -1 ? ZP_ERROR : ZP_OK;
}


zp_int_t
zp_blocking(zp_socket_t s)
{
    int flags = fcntl(s, F_GETFL);

    if (flags == -1) {
        return ZP_ERROR;
    }
    return fcntl(s, F_SETFL, flags & ~O_NONBLOCK) == -1 ? ZP_ERROR : ZP_OK;
}


zp_int_t
zp_get_full_name(zp_pool_t *pool, zp_str_t *prefix, zp_str_t *name)
{
    u_char *p;

    if (name->len && name->data[0] == '/') {
        p = zp_pnalloc(pool, name->len + 1);
        if (p == NULL) {
            return ZP_ERROR;
        }
        zp_memcpy(p, name->data, name->len);
        p[name->len] = '\0';
        name->data   = p;
        return ZP_OK;
    }

    p = zp_pnalloc(pool, prefix->len + name->len + 1);
    if (p == NULL) {
        return ZP_ERROR;
    }

    zp_memcpy(zp_cpymem(p, prefix->data, prefix->len), name->data, name->len);
    name->len += prefix->len;
    name->data      = p;
    name->data[name->len] = '\0';
    return ZP_OK;
}
