/*
 * zp_event_openssl.c: TLS on a connection (OpenSSL 3).
 *
 * The handshake and all I/O are non-blocking. With edge-triggered epoll a
 * handler must read or write until EAGAIN, so zp_ssl_recv() reads records
 * until the buffer is full or OpenSSL wants more from the socket, and
 * zp_ssl_writev() writes until everything is out or the socket is full:
 * the ready flags then mean what they mean for plain sockets.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_event_openssl.h>

static void zp_ssl_handshake_handler(zp_event_t *ev);
static void zp_ssl_cleanup(void *data);

typedef struct {
    zp_connection_t     *c;
    zp_ssl_connection_t *sc;
} zp_ssl_cleanup_t;


zp_connection_t *
zp_ssl_get_connection(const SSL *ssl)
{
    return SSL_get_app_data(ssl);
}


char *
zp_ssl_error_string(char *buf, size_t size)
{
    unsigned long e;
    size_t        len = 0;
    char          one[256];

    buf[0] = '\0';

    while ((e = ERR_get_error()) != 0 && len + 3 < size) {
        ERR_error_string_n(e, one, sizeof(one));
        len += (size_t) snprintf(buf + len, size - len, "%s%s", len ? " " : "", one);
        if (len >= size) {
            len = size - 1;
        }
    }

    ERR_clear_error();
    return buf;
}


void
zp_ssl_error(zp_uint_t level, zp_log_t *log, int err, const char *fmt, ...)
{
    va_list  args;
    u_char   msg[512], *p;
    char     ssl[1024];
    zp_str_t m;

    va_start(args, fmt);
    p = zp_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    zp_ssl_error_string(ssl, sizeof(ssl));

    m.len  = (size_t) (p - msg);
    m.data = msg;

    zp_log_error(level, log, err, "%V%s%s%s", &m, ssl[0] ? " (SSL: " : "", ssl,
                 ssl[0] ? ")" : "");
}


zp_int_t
zp_ssl_create_connection(SSL_CTX *ctx, zp_connection_t *c)
{
    zp_ssl_connection_t *sc;
    zp_ssl_cleanup_t    *cd;
    zp_pool_cleanup_t   *cln;

    sc = zp_pcalloc(c->pool, sizeof(zp_ssl_connection_t));
    if (sc == NULL) {
        return ZP_ERROR;
    }

    cln = zp_pool_cleanup_add(c->pool, sizeof(zp_ssl_cleanup_t));
    if (cln == NULL) {
        return ZP_ERROR;
    }

    ERR_clear_error();

    sc->ssl = SSL_new(ctx);
    if (sc->ssl == NULL) {
        zp_ssl_error(ZP_LOG_ALERT, c->log, 0, "SSL_new() failed");
        return ZP_ERROR;
    }

    cd           = cln->data;
    cd->c        = c;
    cd->sc       = sc;
    cln->handler = zp_ssl_cleanup;

    if (SSL_set_fd(sc->ssl, c->fd) == 0) {
        zp_ssl_error(ZP_LOG_ALERT, c->log, 0, "SSL_set_fd() failed");
        return ZP_ERROR;
    }

    SSL_set_accept_state(sc->ssl);
    SSL_set_app_data(sc->ssl, c);

    /* OpenSSL keeps running this SSL_CTX's session and ticket callbacks
     * after SNI switches to another one: they look it up here */
    if (zp_ssl_session_ctx_index != -1) {
        (void) SSL_set_ex_data(sc->ssl, zp_ssl_session_ctx_index, ctx);
    }

    c->ssl = sc;
    return ZP_OK;
}


/* The pool goes before the socket is closed: close_notify can still go. */
static void
zp_ssl_cleanup(void *data)
{
    zp_ssl_cleanup_t *cd = data;

    zp_ssl_shutdown(cd->c);
    SSL_free(cd->sc->ssl);
    cd->sc->ssl = NULL;
    cd->c->ssl  = NULL;
}


zp_int_t
zp_ssl_do_handshake(zp_connection_t *c, zp_event_handler_pt again, int *err, zp_err_t *e)
{
    int                  n;
    zp_ssl_connection_t *sc = c->ssl;

    ERR_clear_error();
    n = SSL_do_handshake(sc->ssl);

    if (n == 1) {
        sc->handshaked = 1;
        c->recv        = zp_ssl_recv;
        c->send        = zp_ssl_send;
        c->writev      = zp_ssl_writev;
        return ZP_OK;
    }

    *e   = errno;
    *err = SSL_get_error(sc->ssl, n);

    if (*err == SSL_ERROR_WANT_READ || *err == SSL_ERROR_WANT_WRITE) {
        if (*err == SSL_ERROR_WANT_READ) {
            c->read->ready = 0;
        } else {
            c->write->ready = 0;
        }
        c->read->handler  = again;
        c->write->handler = again;
        return ZP_AGAIN;
    }

    sc->no_send_shutdown = 1;
    return ZP_ERROR;
}


zp_int_t
zp_ssl_handshake(zp_connection_t *c)
{
    int      err = 0;
    zp_err_t e   = 0;
    zp_int_t rc;

    rc = zp_ssl_do_handshake(c, zp_ssl_handshake_handler, &err, &e);
    if (rc != ZP_ERROR) {
        return rc;
    }

    c->read->error = 1;

    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        if (err == SSL_ERROR_SYSCALL && e != 0 && e != ECONNRESET) {
            zp_log_error(ZP_LOG_INFO, c->log, e, "SSL_do_handshake() failed");
        } else {
            zp_log_error(ZP_LOG_INFO, c->log, 0, "client closed the connection in SSL handshake");
        }
        ERR_clear_error();
        return ZP_ERROR;
    }

    zp_ssl_error(ZP_LOG_INFO, c->log, 0, "SSL_do_handshake() failed");
    return ZP_ERROR;
}


static void
zp_ssl_handshake_handler(zp_event_t *ev)
{
    zp_connection_t     *c  = ev->data;
    zp_ssl_connection_t *sc = c->ssl;

    if (ev->timedout) {
        zp_log_error(ZP_LOG_INFO, c->log, ETIMEDOUT, "client timed out in SSL handshake");
        c->timedout          = 1;
        sc->no_send_shutdown = 1;
        sc->handler(c);
        return;
    }

    if (c->close) {
        sc->no_send_shutdown = 1;
        sc->handler(c);
        return;
    }

    if (zp_ssl_handshake(c) == ZP_AGAIN) {
        return;
    }

    sc->handler(c);
}


ssize_t
zp_ssl_recv(zp_connection_t *c, u_char *buf, size_t size)
{
    int                  n, err;
    size_t               total = 0;
    zp_ssl_connection_t *sc    = c->ssl;

    while (total < size) {
        ERR_clear_error();
        n = SSL_read(sc->ssl, buf + total, (int) zp_min(size - total, (size_t) INT_MAX));

        if (n > 0) {
            total += (size_t) n;
            continue;
        }

        err = SSL_get_error(sc->ssl, n);

        if (err == SSL_ERROR_WANT_READ) {
            c->read->ready = 0;
            return total ? (ssize_t) total : ZP_AGAIN;
        }

        if (err == SSL_ERROR_WANT_WRITE) {
            /* a renegotiation-like write inside a read (TLS 1.3 KeyUpdate
             * with a full socket): rare, retried on the next read event */
            c->write->ready = 0;
            c->read->ready  = 0;
            return total ? (ssize_t) total : ZP_AGAIN;
        }

        /* close_notify, or an EOF without it (SSL_OP_IGNORE_UNEXPECTED_EOF) */
        if (err == SSL_ERROR_ZERO_RETURN) {
            c->read->ready = 0;
            c->read->eof   = 1;
            return (ssize_t) total;
        }

        c->read->ready       = 0;
        c->read->error       = 1;
        sc->no_send_shutdown = 1;

        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            if (errno != ECONNRESET && errno != 0) {
                zp_log_error(ZP_LOG_INFO, c->log, errno, "SSL_read() failed");
            }
        } else {
            zp_ssl_error(ZP_LOG_INFO, c->log, 0, "SSL_read() failed");
        }
        ERR_clear_error();

        return total ? (ssize_t) total : ZP_ERROR;
    }

    return (ssize_t) total;
}


ssize_t
zp_ssl_send(zp_connection_t *c, u_char *buf, size_t size)
{
    int                  n, err;
    zp_err_t             e;
    zp_ssl_connection_t *sc = c->ssl;

    if (size == 0) {
        return 0;
    }

    ERR_clear_error();
    n = SSL_write(sc->ssl, buf, (int) zp_min(size, (size_t) INT_MAX));

    if (n > 0) {
        return n;
    }

    e   = errno;
    err = SSL_get_error(sc->ssl, n);

    if (err == SSL_ERROR_WANT_WRITE) {
        c->write->ready = 0;
        return ZP_AGAIN;
    }

    if (err == SSL_ERROR_WANT_READ) {
        c->read->ready = 0;
        return ZP_AGAIN;
    }

    c->write->error      = 1;
    sc->no_send_shutdown = 1;

    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (e != EPIPE && e != ECONNRESET) {
            zp_log_error(ZP_LOG_INFO, c->log, e, "SSL_write() failed");
        }
    } else {
        zp_ssl_error(ZP_LOG_INFO, c->log, 0, "SSL_write() failed");
    }
    ERR_clear_error();

    return ZP_ERROR;
}


/*
 * Small pieces (a response head, a chunk header) are copied together so
 * that they go out in one record; a piece of a record's size or more is
 * written from where it is. A write that must be retried is retried with
 * the same leading bytes and at least as many of them, as OpenSSL wants
 * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows another address).
 */
ssize_t
zp_ssl_writev(zp_connection_t *c, struct iovec *iov, int n)
{
    int                  i, j;
    size_t               off, len, left, k, o;
    u_char              *p;
    ssize_t              rc, total = 0;
    zp_ssl_connection_t *sc = c->ssl;

    i   = 0;
    off = 0;

    for (;;) {
        while (i < n && off == iov[i].iov_len) {
            i++;
            off = 0;
        }

        if (i == n) {
            return total;
        }

        left = iov[i].iov_len - off;

        for (j = i + 1; j < n && iov[j].iov_len == 0; j++) {
            /* skip empty pieces when deciding whether this is the last */
        }

        if (left >= ZP_SSL_BUFSIZE || j == n) {
            p   = (u_char *) iov[i].iov_base + off;
            len = zp_min(left, (size_t) ZP_SSL_BUFSIZE);

        } else {
            if (sc->buf == NULL) {
                sc->buf = zp_pnalloc(c->pool, ZP_SSL_BUFSIZE);
                if (sc->buf == NULL) {
                    return total ? total : ZP_ERROR;
                }
            }

            p   = sc->buf;
            len = 0;
            o   = off;

            for (j = i; j < n && len < ZP_SSL_BUFSIZE; j++, o = 0) {
                k = zp_min(iov[j].iov_len - o, (size_t) ZP_SSL_BUFSIZE - len);
                zp_memcpy(p + len, (u_char *) iov[j].iov_base + o, k);
                len += k;
            }
        }

        rc = zp_ssl_send(c, p, len);

        if (rc < 0) {
            return total ? total : rc;
        }

        total += rc;

        /* move the cursor over what went out */
        for (k = (size_t) rc; k;) {
            o = zp_min(k, iov[i].iov_len - off);
            off += o;
            k -= o;
            if (off == iov[i].iov_len && k) {
                i++;
                off = 0;
            }
        }
    }
}


void
zp_ssl_shutdown(zp_connection_t *c)
{
    zp_ssl_connection_t *sc = c->ssl;

    if (sc == NULL || sc->ssl == NULL || sc->shutdown_sent) {
        return;
    }

    sc->shutdown_sent = 1;

    if (!sc->handshaked || sc->no_send_shutdown || c->read->error || c->write->error) {
        SSL_set_quiet_shutdown(sc->ssl, 1);
        return;
    }

    /* one non-blocking attempt: close_notify goes if the socket takes it;
     * we do not wait for the client's */
    ERR_clear_error();
    (void) SSL_shutdown(sc->ssl);
    ERR_clear_error();
}
