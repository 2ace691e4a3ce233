/*
 * zp_http_ssl_module.h: what the files of the http_ssl module share (the
 * module itself in zp_http_ssl_module.c; the per-request client
 * certificate check and the $ssl_* variables in zp_http_ssl_variables.c).
 */
#ifndef ZP_HTTP_SSL_MODULE_H
#define ZP_HTTP_SSL_MODULE_H

#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_event_openssl.h>

typedef struct {
    zp_str_t   name;            /* as written */
    zp_str_t   file_name;       /* where the directive is, for errors */
    zp_uint_t  line;
} zp_http_ssl_file_t;

#define ZP_HTTP_SSL_VERIFY_OFF      0
#define ZP_HTTP_SSL_VERIFY_ON       1
#define ZP_HTTP_SSL_VERIFY_OPTIONAL 2

/* the default "ssl_session_cache shared:SSL:1m": about 4000 sessions */
#define ZP_HTTP_SSL_CACHE_NAME "SSL"
#define ZP_HTTP_SSL_CACHE_SIZE (1024 * 1024)
/* a zone smaller than this holds too few pages to be of use */
#define ZP_HTTP_SSL_CACHE_MIN  (32 * 1024)

typedef struct {
    SSL_CTX       *ctx;

    zp_array_t    *certificates;      /* zp_http_ssl_file_t */
    zp_array_t    *certificate_keys;  /* zp_http_ssl_file_t */

    zp_uint_t      protocols;
    zp_str_t       ciphers;
    zp_str_t       ecdh_curve;
    zp_flag_t      prefer_server_ciphers;
    zp_msec_t      handshake_timeout;

    zp_flag_t      session_cache;      /* unset, 0 (off) or 1 (shm_zone) */
    zp_shm_zone_t *shm_zone;
    time_t         session_timeout;
    zp_flag_t      session_tickets;
    zp_array_t    *ticket_key_files;   /* zp_http_ssl_file_t */
    zp_array_t    *ticket_keys;        /* zp_ssl_ticket_key_t, as given to OpenSSL */

    zp_uint_t      verify;             /* ZP_HTTP_SSL_VERIFY_* */
    zp_http_ssl_file_t verify_where;   /* the ssl_verify_client line */
    zp_http_ssl_file_t client_certificate;
    zp_int_t       verify_depth;

    zp_http_ssl_file_t stapling_file;
    u_char        *ocsp;               /* the DER response, in the cycle pool */
    size_t         ocsp_len;
} zp_http_ssl_srv_conf_t;

typedef struct {
    /* the random ticket keys of this configuration: a new one encrypts,
     * the one of the configuration before still decrypts */
    zp_array_t    *auto_keys;          /* zp_ssl_ticket_key_t */
    zp_shm_zone_t *default_zone;       /* the implicit shared:SSL zone, if used */
} zp_http_ssl_main_conf_t;

extern zp_module_t zp_http_ssl_module;

/* Puts an ALPN protocol ("h2") in front of the offered list; for a
 * module's preconfiguration. ZP_OK, or ZP_ERROR when it does not fit. */
zp_int_t zp_http_ssl_alpn_add(const char *proto);

/* The module's preconfiguration: the OpenSSL ex_data indexes and the
 * $ssl_* variables. ZP_OK or ZP_ERROR. */
zp_int_t zp_http_ssl_preconfiguration(zp_conf_t *cf);

/* The POST_READ handler for ssl_verify_client: ZP_DECLINED when the
 * request may go on, 421, or ZP_DONE after answering 400. */
zp_int_t zp_http_ssl_check_client(zp_http_request_t *r);

#endif /* ZP_HTTP_SSL_MODULE_H */
