/*
 * zp_http.h: the protocol-independent HTTP core: configuration contexts
 * (http / server / route), phases, the request object and its helpers.
 *
 * A wire protocol (http1 now, h2 later) turns bytes into a request, runs
 * the phases and turns the response back into bytes; nothing below the
 * protocol layer knows how the request arrived.
 */
#ifndef ZP_HTTP_H
#define ZP_HTTP_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct zp_http_request_s zp_http_request_t;

#define ZP_HTTP_MODULE    0x50545448 /* "HTTP" */
#define ZP_HTTP_MAIN_CONF 0x02000000
#define ZP_HTTP_SRV_CONF  0x04000000
#define ZP_HTTP_RTE_CONF  0x08000000

#define ZP_HTTP_MAIN_CONF_OFFSET offsetof(zp_http_conf_ctx_t, main_conf)
#define ZP_HTTP_SRV_CONF_OFFSET  offsetof(zp_http_conf_ctx_t, srv_conf)
#define ZP_HTTP_RTE_CONF_OFFSET  offsetof(zp_http_conf_ctx_t, rte_conf)

typedef struct {
    void **main_conf;
    void **srv_conf;
    void **rte_conf;
} zp_http_conf_ctx_t;

typedef struct {
    zp_int_t (*preconfiguration)(zp_conf_t *cf);
    zp_int_t (*postconfiguration)(zp_conf_t *cf);
    void    *(*create_main_conf)(zp_conf_t *cf);
    char    *(*init_main_conf)(zp_conf_t *cf, void *conf);
    void    *(*create_srv_conf)(zp_conf_t *cf);
    char    *(*merge_srv_conf)(zp_conf_t *cf, void *prev, void *conf);
    void    *(*create_rte_conf)(zp_conf_t *cf);
    char    *(*merge_rte_conf)(zp_conf_t *cf, void *prev, void *conf);
} zp_http_module_t;

#define zp_http_get_module_main_conf(r, module) (r)->main_conf[module.ctx_index]
#define zp_http_get_module_srv_conf(r, module)  (r)->srv_conf[module.ctx_index]
#define zp_http_get_module_rte_conf(r, module)  (r)->rte_conf[module.ctx_index]

#define zp_http_conf_get_module_main_conf(cf, module)                                             \
    ((zp_http_conf_ctx_t *) cf->ctx)->main_conf[module.ctx_index]
#define zp_http_conf_get_module_srv_conf(cf, module)                                              \
    ((zp_http_conf_ctx_t *) cf->ctx)->srv_conf[module.ctx_index]
#define zp_http_conf_get_module_rte_conf(cf, module)                                              \
    ((zp_http_conf_ctx_t *) cf->ctx)->rte_conf[module.ctx_index]

/* Phases, in the order a request goes through them. */
typedef enum {
    ZP_HTTP_POST_READ_PHASE = 0,
    ZP_HTTP_ROUTE_PHASE,
    ZP_HTTP_REWRITE_PHASE,
    ZP_HTTP_ACCESS_PHASE,
    ZP_HTTP_LIMIT_PHASE,
    ZP_HTTP_CONTENT_PHASE,
    ZP_HTTP_LOG_PHASE
} zp_http_phases_e;

#define ZP_HTTP_PHASES (ZP_HTTP_LOG_PHASE + 1)

/* A phase handler returns ZP_DECLINED to let the next one run, ZP_OK to
 * end the phase, ZP_DONE when it has answered the request, or an HTTP
 * status (>= 100) for the core to answer with. */
typedef zp_int_t (*zp_http_handler_pt)(zp_http_request_t *r);

typedef struct {
    zp_array_t handlers; /* zp_http_handler_pt */
} zp_http_phase_t;

#define ZP_HTTP_OK                 200
#define ZP_HTTP_NO_CONTENT         204
#define ZP_HTTP_MOVED_PERMANENTLY  301
#define ZP_HTTP_NOT_MODIFIED       304
#define ZP_HTTP_BAD_REQUEST        400
#define ZP_HTTP_NOT_FOUND          404
#define ZP_HTTP_NOT_ALLOWED        405
#define ZP_HTTP_REQUEST_TIME_OUT   408
#define ZP_HTTP_LENGTH_REQUIRED    411
#define ZP_HTTP_REQUEST_ENTITY_TOO_LARGE 413
#define ZP_HTTP_REQUEST_URI_TOO_LARGE    414
#define ZP_HTTP_HEADER_TOO_LARGE   431
#define ZP_HTTP_INTERNAL_SERVER_ERROR 500
#define ZP_HTTP_NOT_IMPLEMENTED    501
#define ZP_HTTP_SERVICE_UNAVAILABLE 503
#define ZP_HTTP_VERSION_NOT_SUPPORTED 505

/* an address the http servers listen on, and the servers there */
typedef struct {
    zp_sockaddr_t  sockaddr;
    socklen_t      socklen;
    zp_array_t     servers;        /* zp_http_core_srv_conf_t * */
    void          *default_server; /* zp_http_core_srv_conf_t * */
    zp_listening_t *listening;
} zp_http_addr_t;

typedef struct {
    zp_sockaddr_t sockaddr;
    socklen_t     socklen;
    zp_str_t      addr_text;
    int           backlog;
    int           rcvbuf;
    int           sndbuf;
    int           fastopen;
    zp_str_t      file_name;      /* where the listen directive is, for errors */
    zp_uint_t     line;
    unsigned      default_server:1;
    unsigned      reuseport:1;
    unsigned      deferred_accept:1;
    unsigned      ipv6only:1;
} zp_http_listen_opt_t;

typedef struct {
    zp_array_t       servers; /* zp_http_core_srv_conf_t * */
    zp_array_t       addrs;   /* zp_http_addr_t */
    zp_http_phase_t  phases[ZP_HTTP_PHASES];
} zp_http_core_main_conf_t;

typedef struct {
    zp_array_t           listen;       /* zp_http_listen_opt_t */
    zp_array_t           server_names; /* zp_str_t, lower-case */
    zp_array_t           routes;       /* zp_http_core_rte_conf_t * */
    zp_http_conf_ctx_t  *ctx;

    size_t               client_header_buffer_size;
    zp_msec_t            client_header_timeout;

    zp_str_t             file_name;
    zp_uint_t            line;
} zp_http_core_srv_conf_t;

typedef struct {
    zp_str_t            name;           /* the route's path */
    unsigned            exact:1;
    void              **rte_conf;       /* this route's confs, for the request */

    zp_http_handler_pt  handler;        /* the content handler */

    zp_msec_t           keepalive_timeout;
    zp_uint_t           keepalive_requests;
    zp_msec_t           send_timeout;
} zp_http_core_rte_conf_t;

struct zp_http_request_s {
    zp_connection_t   *connection;
    zp_pool_t         *pool;
    zp_buf_t          *header_in;

    void             **main_conf;
    void             **srv_conf;
    void             **rte_conf;

    zp_str_t           request_line;
    zp_str_t           method_name;
    zp_str_t           uri;
    zp_str_t           args;
    zp_str_t           http_protocol;
    zp_str_t           host;
    zp_str_t           user_agent;
    zp_str_t           referer;
    zp_uint_t          http_version;   /* 1000 or 1001 */

    off_t              content_length_n;

    zp_uint_t          status;
    off_t              body_bytes_sent;
    zp_msec_t          start_msec;
    time_t             start_sec;

    zp_chain_t        *out;            /* what is left to send */

    unsigned           keepalive:1;
    unsigned           lingering_close:1;
    unsigned           header_only:1;
    unsigned           logged:1;
};

#define ZP_HTTP_VERSION_10 1000
#define ZP_HTTP_VERSION_11 1001

/* Answers r with status and a small body (may be NULL) and finishes it. */
void zp_http_send_response(zp_http_request_t *r, zp_uint_t status, zp_str_t *content_type,
                           zp_str_t *body);
void zp_http_init_connection(zp_connection_t *c);
zp_int_t zp_http_add_handler(zp_conf_t *cf, zp_http_phases_e phase, zp_http_handler_pt h);
const char *zp_http_status_line(zp_uint_t status, size_t *len);
u_char *zp_http_log_error(zp_log_t *log, u_char *buf, size_t len);

extern zp_module_t zp_http_module;
extern zp_module_t zp_http_core_module;
extern zp_uint_t   zp_http_max_module;

#endif /* ZP_HTTP_H */
