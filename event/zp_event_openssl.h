/*
 * zp_event_openssl.h: TLS on a connection (OpenSSL 3).
 *
 * zp_ssl_create_connection() gives an accepted connection an SSL object
 * from an SSL_CTX; zp_ssl_handshake() drives the non-blocking handshake
 * from the connection's read and write events. Once it is done, c->recv,
 * c->send and c->writev are the TLS versions and the protocol above (HTTP/1
 * today) works unchanged. The SSL object is freed with the connection's
 * pool, after a best-effort close_notify.
 */
#ifndef ZP_EVENT_OPENSSL_H
#define ZP_EVENT_OPENSSL_H

#include <zp_config.h>
#include <zp_core.h>

#include <openssl/ssl.h>
#include <openssl/err.h>

/* the largest plaintext of one TLS record: writev coalesces up to this */
#define ZP_SSL_BUFSIZE 16384

typedef void (*zp_ssl_handshake_done_pt)(zp_connection_t *c);

typedef struct {
    SSL                      *ssl;
    zp_ssl_handshake_done_pt  handler;     /* called once the handshake ends (ok or not) */
    u_char                   *buf;         /* writev's coalescing buffer, ZP_SSL_BUFSIZE */

    unsigned                  handshaked:1;
    unsigned                  no_send_shutdown:1; /* an error or EOF: skip close_notify */
    unsigned                  shutdown_sent:1;
} zp_ssl_connection_t;

/* Sets up the OpenSSL connection index once per process; ZP_OK/ZP_ERROR. */
zp_int_t zp_ssl_init(zp_log_t *log);

/* The connection an SSL object belongs to (from the servername callback). */
zp_connection_t *zp_ssl_get_connection(const SSL *ssl);

/* Creates c->ssl (a zp_ssl_connection_t in c->pool) for accepting on an
 * already accepted socket; the SSL object is freed by a pool cleanup.
 * ZP_OK or ZP_ERROR (logged). */
zp_int_t zp_ssl_create_connection(SSL_CTX *ctx, zp_connection_t *c);

/* Runs (or continues) SSL_accept. ZP_OK: done, c->recv/send/writev are
 * the TLS ones. ZP_AGAIN: the connection's read and write handlers now
 * drive it, and sc->handler is called when it ends (check
 * sc->handshaked). ZP_ERROR: failed and logged at info; the caller
 * closes the connection. */
zp_int_t zp_ssl_handshake(zp_connection_t *c);

ssize_t zp_ssl_recv(zp_connection_t *c, u_char *buf, size_t size);
ssize_t zp_ssl_send(zp_connection_t *c, u_char *buf, size_t size);
ssize_t zp_ssl_writev(zp_connection_t *c, struct iovec *iov, int n);

/* Sends close_notify (once, non-blocking, best effort); a later close
 * or shutdown(SHUT_WR) then ends the TCP side. */
void zp_ssl_shutdown(zp_connection_t *c);

/* Logs the OpenSSL error queue after fmt at level, and clears it. */
void zp_ssl_error(zp_uint_t level, zp_log_t *log, int err, const char *fmt, ...);

/* The OpenSSL error queue as one line into buf (for config errors);
 * clears the queue. Returns buf. */
char *zp_ssl_error_string(char *buf, size_t size);

#endif /* ZP_EVENT_OPENSSL_H */
