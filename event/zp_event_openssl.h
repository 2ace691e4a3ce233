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

/* A session ticket key: 48-byte keys (16 name, 16 HMAC, 16 AES-128) or
 * 80-byte ones (16 name, 32 HMAC, 32 AES-256), the file formats of nginx. */
typedef struct {
    u_char name[16];
    u_char hmac_key[32];
    u_char aes_key[32];
    size_t size;                  /* 48 or 80 */
} zp_ssl_ticket_key_t;

/* What zproxy hangs on an SSL_CTX (ex_data, process memory made before
 * the workers fork, so the same in every worker). */
typedef struct {
    zp_shm_zone_t *cache;         /* the shared session cache, or NULL */
    zp_array_t    *ticket_keys;   /* zp_ssl_ticket_key_t, [0] encrypts; NULL: no tickets */
    void          *data;          /* the module's, e.g. its server conf */
} zp_ssl_ctx_conf_t;

extern int zp_ssl_ctx_conf_index;    /* SSL_CTX ex_data: zp_ssl_ctx_conf_t */
extern int zp_ssl_session_ctx_index; /* SSL ex_data: the SSL_CTX it started with */

/* Sets up the ex_data indexes, once per process and before any SSL_CTX
 * (call it while reading the configuration, in the master); ZP_OK, or
 * ZP_ERROR after logging. */
zp_int_t zp_ssl_init(zp_log_t *log);

/* The zp_ssl_ctx_conf_t of ctx; with a pool, created (from it) when
 * missing. NULL: none, or no memory. */
zp_ssl_ctx_conf_t *zp_ssl_ctx_conf(SSL_CTX *ctx, zp_pool_t *pool);

/* Session cache: zone (a slab zone whose init is
 * zp_ssl_session_cache_init) becomes ctx's external session cache, and
 * sessions live timeout seconds. A NULL zone turns caching off (tickets
 * may still resume). ZP_OK or ZP_ERROR (no memory). */
zp_int_t zp_ssl_session_cache(SSL_CTX *ctx, zp_shm_zone_t *zone, time_t timeout, zp_pool_t *pool);

/* The zone init callback for session cache zones (zp_shm_zone_init_pt). */
zp_int_t zp_ssl_session_cache_init(zp_shm_zone_t *zone, void *data);

/* Session tickets with keys (an array of zp_ssl_ticket_key_t that must
 * live as long as ctx; the first encrypts, every one decrypts); NULL or
 * empty keys turn tickets off. ZP_OK or ZP_ERROR. */
zp_int_t zp_ssl_session_tickets(SSL_CTX *ctx, zp_array_t *keys, zp_pool_t *pool);

/* A key from the bytes of a key file (48 or 80 bytes); ZP_ERROR for any
 * other size. */
zp_int_t zp_ssl_ticket_key_set(zp_ssl_ticket_key_t *key, const u_char *buf, size_t size);

/* A fresh random 80-byte key; ZP_ERROR when the RNG fails. */
zp_int_t zp_ssl_ticket_key_random(zp_ssl_ticket_key_t *key);

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

/* One step of SSL_do_handshake() for either side: ZP_OK (c->recv, send
 * and writev are the TLS ones), ZP_AGAIN (both handlers of c are now
 * again), or ZP_ERROR with SSL_get_error() in *err and errno in *e, not
 * logged. */
zp_int_t zp_ssl_do_handshake(zp_connection_t *c, zp_event_handler_pt again, int *err, zp_err_t *e);

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


/* ---- the client side (event/zp_event_openssl_client.c) --------------------- */

/* Prepares an SSL_CTX made with TLS_client_method() for upstream
 * connections: the modes the I/O functions above need, and, with
 * session_reuse, a client session cache kept by the caller (see the
 * session slot of zp_ssl_client_create_connection). ZP_OK or ZP_ERROR. */
zp_int_t zp_ssl_client_ctx_init(SSL_CTX *ctx, zp_uint_t session_reuse);

/* Creates c->ssl for connecting on c's socket (c->pool must exist; the
 * SSL object is freed with it, after a best-effort close_notify).
 * server_name: sent as SNI (NULL: none). verify_host: the name (or IP
 * address, when host_is_ip) the certificate must be valid for, when the
 * SSL_CTX verifies the peer (NULL: no name check). session: where the
 * session of this peer is kept (NULL: no reuse): it is offered when one
 * is there, and replaced whenever the server hands out a new one. The
 * slot must outlive the connection. ZP_OK or ZP_ERROR (logged). */
zp_int_t zp_ssl_client_create_connection(SSL_CTX *ctx, zp_connection_t *c, const char *server_name,
                                         const char *verify_host, zp_uint_t host_is_ip,
                                         SSL_SESSION **session);

/* Runs (or continues) SSL_connect. ZP_OK: done, c->recv/send/writev are
 * the TLS ones. ZP_AGAIN: the connection's read and write handlers now
 * drive it and sc->handler is called when it ends: sc->handshaked says
 * how, c->timedout is set when the caller's timer fired (the caller logs
 * that). ZP_ERROR: failed, the cause (a certificate verify error, the
 * OpenSSL error, a closed connection) logged at error level on c->log. */
zp_int_t zp_ssl_connect(zp_connection_t *c);

/* 1 when the handshake resumed an earlier session. */
zp_uint_t zp_ssl_session_reused(zp_connection_t *c);

#endif /* ZP_EVENT_OPENSSL_H */
