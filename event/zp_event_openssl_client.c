/*
 * zp_event_openssl_client.c: TLS on connections we open (to upstreams).
 *
 * The connection object, its cleanup and the I/O functions are those of
 * the server side (zp_event_openssl.c): an SSL made by
 * zp_ssl_create_connection() is only switched to the connect state. What
 * differs is here: the handshake's errors (they are the upstream's, so
 * they are logged at error level with the certificate's verify result),
 * the peer name to send and to check, and the client session cache.
 *
 * Sessions: OpenSSL hands a client its sessions through the "new session"
 * callback, at the end of a TLS 1.2 handshake or when a TLS 1.3 ticket
 * arrives (after the handshake, while the response is read). The caller
 * gives each connection a slot, kept per peer, through SSL ex_data; the
 * callback keeps the newest session there and the next connection to the
 * same peer offers it.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_event_openssl.h>

#include <openssl/x509v3.h>

static void zp_ssl_connect_handler(zp_event_t *ev);
static int  zp_ssl_client_new_session(SSL *ssl, SSL_SESSION *sess);

/* the SSL ex_data index of a connection's session slot; made before the
 * workers fork, so it is the same in every process */
static int zp_ssl_client_session_index = -1;


zp_int_t
zp_ssl_client_ctx_init(SSL_CTX *ctx, zp_uint_t session_reuse)
{
    if (zp_ssl_client_session_index == -1) {
        zp_ssl_client_session_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (zp_ssl_client_session_index == -1) {
            return ZP_ERROR;
        }
    }

    /* as on the server side: an EOF without close_notify is an EOF (a
     * body's end is known from its framing, not from the close) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                              | SSL_MODE_RELEASE_BUFFERS);

    if (session_reuse) {
        /* OpenSSL's internal store is keyed by session id, which a client
         * cannot look up by peer: the slots do that */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, zp_ssl_client_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }

    return ZP_OK;
}


/* Keeps the newest session of the peer; returning 1 keeps the reference. */
static int
zp_ssl_client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot;

    slot = SSL_get_ex_data(ssl, zp_ssl_client_session_index);
    if (slot == NULL) {
        return 0;
    }

    if (*slot) {
        SSL_SESSION_free(*slot);
    }
    *slot = sess;
    return 1;
}


zp_int_t
zp_ssl_client_create_connection(SSL_CTX *ctx, zp_connection_t *c, const char *server_name,
                                const char *verify_host, zp_uint_t host_is_ip,
                                SSL_SESSION **session)
{
    SSL                 *ssl;
    zp_ssl_connection_t *sc;

    if (zp_ssl_create_connection(ctx, c) != ZP_OK) {
        return ZP_ERROR;
    }

    sc  = c->ssl;
    ssl = sc->ssl;
    SSL_set_connect_state(ssl);

    if (server_name && SSL_set_tlsext_host_name(ssl, server_name) != 1) {
        zp_ssl_error(ZP_LOG_ERR, c->log, 0, "SSL_set_tlsext_host_name(\"%s\") failed",
                     server_name);
        return ZP_ERROR;
    }

    if (verify_host) {
        /* checked with the chain, so a mismatch is a verify error (62)
         * and the handshake fails before a byte of the request goes */
        if (host_is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host) != 1) {
                zp_ssl_error(ZP_LOG_ERR, c->log, 0, "X509_VERIFY_PARAM_set1_ip_asc(\"%s\") failed",
                             verify_host);
                return ZP_ERROR;
            }
        } else {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (SSL_set1_host(ssl, verify_host) != 1) {
                zp_ssl_error(ZP_LOG_ERR, c->log, 0, "SSL_set1_host(\"%s\") failed", verify_host);
                return ZP_ERROR;
            }
        }
    }

    if (session) {
        if (SSL_set_ex_data(ssl, zp_ssl_client_session_index, session) != 1) {
            zp_ssl_error(ZP_LOG_ERR, c->log, 0, "SSL_set_ex_data() failed");
            return ZP_ERROR;
        }
        /* a session that cannot be resumed (expired, another protocol)
         * just gives a full handshake */
        if (*session && SSL_set_session(ssl, *session) != 1) {
            ERR_clear_error();
        }
    }

    return ZP_OK;
}


/* Logs why a handshake failed: the verify result first, it says more
 * than the "certificate verify failed" alert behind it. */
static void
zp_ssl_connect_error(zp_connection_t *c, int err, zp_err_t e)
{
    long                 v;
    zp_ssl_connection_t *sc = c->ssl;

    v = SSL_get_verify_result(sc->ssl);

    if ((SSL_get_verify_mode(sc->ssl) & SSL_VERIFY_PEER) && v != X509_V_OK) {
        zp_log_error(ZP_LOG_ERR, c->log, 0, "upstream SSL certificate verify error: (%l:%s)", v,
                     X509_verify_cert_error_string(v));
        ERR_clear_error();
        return;
    }

    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        if (err == SSL_ERROR_SYSCALL && e != 0) {
            zp_log_error(ZP_LOG_ERR, c->log, e, "SSL_do_handshake() failed");
        } else {
            zp_log_error(ZP_LOG_ERR, c->log, 0, "peer closed connection in SSL handshake");
        }
        ERR_clear_error();
        return;
    }

    zp_ssl_error(ZP_LOG_ERR, c->log, 0, "SSL_do_handshake() failed");
}


zp_int_t
zp_ssl_connect(zp_connection_t *c)
{
    int      err = 0;
    zp_err_t e   = 0;
    zp_int_t rc;

    rc = zp_ssl_do_handshake(c, zp_ssl_connect_handler, &err, &e);
    if (rc == ZP_ERROR) {
        zp_ssl_connect_error(c, err, e);
    }

    return rc;
}


static void
zp_ssl_connect_handler(zp_event_t *ev)
{
    zp_connection_t     *c  = ev->data;
    zp_ssl_connection_t *sc = c->ssl;

    if (ev->timedout) {
        ev->timedout         = 0;
        c->timedout          = 1;
        sc->no_send_shutdown = 1;
        sc->handler(c);
        return;
    }

    if (zp_ssl_connect(c) == ZP_AGAIN) {
        return;
    }

    sc->handler(c);
}


zp_uint_t
zp_ssl_session_reused(zp_connection_t *c)
{
    zp_ssl_connection_t *sc = c->ssl;

    return sc && sc->ssl && SSL_session_reused(sc->ssl) ? 1 : 0;
}
