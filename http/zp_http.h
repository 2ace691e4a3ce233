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

#include <zp_http_request.h>
#include <zp_http_parse.h>
#include <zp_http_router.h>
#include <zp_http_variables.h>

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
    unsigned       ssl:1;          /* some "listen" of it says "ssl" */
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
    unsigned      ssl:1;          /* "listen ... ssl": TLS on this address */
} zp_http_listen_opt_t;

typedef struct {
    zp_array_t       servers; /* zp_http_core_srv_conf_t * */
    zp_array_t       addrs;   /* zp_http_addr_t */
    zp_http_phase_t  phases[ZP_HTTP_PHASES];
    zp_hash_t        headers_in_hash;   /* known request headers */
    zp_array_t       header_filters;    /* registered, linked at the end */
    zp_array_t       body_filters;
    zp_array_t       variables;         /* zp_http_variable_t, by index */
    zp_array_t       variables_keys;    /* zp_http_variable_t, every defined one */

    /* set by the http_ssl module (postconfiguration): the listening
     * handler of "listen ... ssl" addresses; NULL without the module */
    zp_connection_handler_pt ssl_init_connection;
} zp_http_core_main_conf_t;

typedef struct {
    zp_array_t           listen;       /* zp_http_listen_opt_t */
    zp_array_t           server_names; /* zp_str_t, lower-case */
    zp_array_t          *server_regexes; /* pcre2_code *, for "~re" names */
    zp_array_t           routes;       /* zp_http_core_rte_conf_t * */
    zp_http_conf_ctx_t  *ctx;

    zp_http_router_t    *router;

    size_t               client_header_buffer_size;
    size_t               large_client_header_buffer_size;
    zp_msec_t            client_header_timeout;
    zp_flag_t            merge_slashes;
    zp_flag_t            underscores_in_headers;
    zp_flag_t            ignore_invalid_headers;
    zp_flag_t            http09;

    zp_str_t             file_name;
    zp_uint_t            line;
} zp_http_core_srv_conf_t;

typedef struct {
    zp_http_route_def_t def;            /* pattern, type, methods, header conditions */
    void              **rte_conf;       /* this route's confs, for the request */

    zp_http_handler_pt  handler;        /* the content handler */

    zp_msec_t           keepalive_timeout;
    zp_uint_t           keepalive_requests;
    zp_msec_t           send_timeout;
    zp_msec_t           client_body_timeout;
    off_t               client_max_body_size;

    zp_str_t            file_name;      /* where the route is, for errors */
    zp_uint_t           line;
} zp_http_core_rte_conf_t;

zp_int_t zp_http_headers_in_init(zp_conf_t *cf);

/*
 * Output filters: a header filter sees every response head, a body filter
 * every piece of body, before the protocol writes them. A module
 * registers in postconfiguration with an order (lower runs first) and the
 * address of its own "next" pointer, which it calls to pass the response
 * on; the chain is linked in order when the http block ends, and its last
 * link is the protocol.
 */
typedef zp_int_t (*zp_http_header_filter_pt)(zp_http_request_t *r);
typedef zp_int_t (*zp_http_body_filter_pt)(zp_http_request_t *r, zp_chain_t *in);

#define ZP_FILTER_ORDER_HEADERS 100  /* add_header and the like */
#define ZP_FILTER_ORDER_GZIP    200

zp_int_t zp_http_add_header_filter(zp_conf_t *cf, zp_uint_t order, zp_http_header_filter_pt h,
                                   zp_http_header_filter_pt *next);
zp_int_t zp_http_add_body_filter(zp_conf_t *cf, zp_uint_t order, zp_http_body_filter_pt h,
                                 zp_http_body_filter_pt *next);
zp_int_t zp_http_link_filters(zp_conf_t *cf);
zp_int_t zp_http_write_header_filter(zp_http_request_t *r);
zp_int_t zp_http_write_body_filter(zp_http_request_t *r, zp_chain_t *in);

extern zp_http_header_filter_pt zp_http_top_header_filter;
extern zp_http_body_filter_pt   zp_http_top_body_filter;


void zp_http_init_connection(zp_connection_t *c);

/* The server of addr for a host name (lower-case; empty: the default
 * server): exact, then the longest wildcard, then regex names. Used for
 * Host and for the TLS server name (SNI). Never NULL. */
zp_http_core_srv_conf_t *zp_http_find_server_by_name(zp_http_addr_t *addr, zp_str_t *host);
zp_int_t zp_http_add_handler(zp_conf_t *cf, zp_http_phases_e phase, zp_http_handler_pt h);
u_char *zp_http_log_error(zp_log_t *log, u_char *buf, size_t len);

extern zp_module_t zp_http_module;
extern zp_module_t zp_http_core_module;
extern zp_uint_t   zp_http_max_module;

#endif /* ZP_HTTP_H */
