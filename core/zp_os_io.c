/*
 * zp_os_io.c: plain-socket I/O for connections. A TLS layer replaces
 * c->recv / c->send / c->writev with its own, and the protocol code above
 * does not change.
 */
#include <zp_config.h>
#include <zp_core.h>


ssize_t
zp_unix_recv(zp_connection_t *c, u_char *buf, size_t size)
{
    ssize_t n;

    for (;;) {
        n = recv(c->fd, buf, size, 0);

        if (n > 0) {
            /* a short read drained the socket: edge-triggered epoll says
             * when more comes, so nobody needs to probe for EAGAIN */
            if ((size_t) n < size) {
                c->read->ready = 0;
            }
            return n;
        }

        if (n == 0) {
            c->read->ready = 0;
            c->read->eof   = 1;
            return 0;
        }

        if (errno == EINTR) {
            continue;
        }

        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->read->ready = 0;
            return ZP_AGAIN;
        }

        c->read->error = 1;
        if (errno != ECONNRESET) {
            zp_log_error(ZP_LOG_INFO, c->log, errno, "recv() failed");
        }
        return ZP_ERROR;
    }
}


ssize_t
zp_unix_send(zp_connection_t *c, u_char *buf, size_t size)
{
    struct iovec iov;

    iov.iov_base = buf;
    iov.iov_len  = size;
    return zp_unix_writev(c, &iov, 1);
}


ssize_t
zp_unix_writev(zp_connection_t *c, struct iovec *iov, int n)
{
    ssize_t       sent;
    struct msghdr msg;

    for (;;) {
        if (c->fin_follows) {
            /*
             * MSG_MORE keeps a short tail queued until the close() or
             * shutdown() that follows: tcp_send_fin() then sets FIN on
             * that queued segment, and the peer gets the response and the
             * end of the connection in one segment instead of two.
             */
            zp_memzero(&msg, sizeof(msg));
            msg.msg_iov    = iov;
            msg.msg_iovlen = n;
            sent           = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_MORE);

        } else {
            sent = (n == 1) ? send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                            : writev(c->fd, iov, n);
        }

        if (sent >= 0) {
            return sent;
        }

        if (errno == EINTR) {
            continue;
        }

        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->write->ready = 0;
            return ZP_AGAIN;
        }

        c->write->error = 1;
        if (errno != EPIPE && errno != ECONNRESET) {
            zp_log_error(ZP_LOG_INFO, c->log, errno, "writev() failed");
        }
        return ZP_ERROR;
    }
}
