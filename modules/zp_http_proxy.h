/*
 * zp_http_proxy.h: what the three files of the proxy module share: its
 * configuration and per-request types, and the functions one file calls
 * in another.
 *
 *   zp_http_proxy_module.c    the module, its directives, configuration,
 *                             $upstream_* variables
 *   zp_http_proxy_upstream.c  one proxied request: keep-alive pool,
 *                             connect, send, response head and body, retries
 *   zp_http_proxy_ssl.c       proxy_pass https:// (proxy_ssl_*)
 */
#ifndef ZP_HTTP_PROXY_H
#define ZP_HTTP_PROXY_H

#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_http_upstream_balance.h>
#if (ZP_HAVE_HTTP_SSL_MODULE)
#include <zp_event_openssl.h>
#endif

#include <netinet/tcp.h>

#define ZP_HTTP_PROXY_BODY_BUF      16384 /* request body buffer */
#define ZP_HTTP_PROXY_RESP_BUF      32768 /* response body buffer */
/* a Content-Length body with more than this still to come goes through a
 * pipe (splice) when both sockets are plain */
#define ZP_HTTP_PROXY_SPLICE_MIN    16384

#define ZP_HTTP_PROXY_CHUNK_HDR     18    /* "%x\r\n" of a size_t */
#define ZP_HTTP_PROXY_CHUNK_RESERVE (ZP_HTTP_PROXY_CHUNK_HDR + 2 + 5)

/* proxy_next_upstream */
#define ZP_HTTP_PROXY_FT_ERROR    0x02
#define ZP_HTTP_PROXY_FT_TIMEOUT  0x04
#define ZP_HTTP_PROXY_FT_HTTP_502 0x08
#define ZP_HTTP_PROXY_FT_HTTP_503 0x10
#define ZP_HTTP_PROXY_FT_HTTP_504 0x20
#define ZP_HTTP_PROXY_FT_OFF      0x01
#define ZP_HTTP_PROXY_FT_INVALID  0x40 /* bad response: never retried */

typedef struct zp_http_proxy_upstream_s zp_http_proxy_upstream_t;

/* an idle upstream connection of a per-worker keep-alive pool */
typedef struct {
    zp_queue_t                queue;
    zp_connection_t          *connection;
    zp_http_upstream_peer_t  *peer;
    zp_http_proxy_upstream_t *us;
    void                     *ssl;  /* the zp_http_proxy_ssl_t it was made with, NULL: plain */
} zp_http_proxy_cached_t;

struct zp_http_proxy_upstream_s {
    zp_http_upstream_group_t group;      /* name, peers, method */
    zp_http_complex_value_t  hash_key;   /* hash <key> */
    zp_uint_t                keepalive;  /* idle connections kept, 0: none */
    zp_msec_t                keepalive_timeout;
    zp_uint_t                keepalive_requests;

    /* per worker (the conf is copied by fork) */
    zp_queue_t               cache;      /* idle, most recent first */
    zp_queue_t               free;
    zp_http_proxy_cached_t  *items;

    zp_str_t                 file_name;
    zp_uint_t                line;
    unsigned                 implicit:1; /* from a literal proxy_pass host:port */
    unsigned                 has_hash:1;
};

typedef struct {
    zp_str_t                key;   /* lower-case */
    zp_str_t                name;  /* as written */
    zp_http_complex_value_t value;
} zp_http_proxy_header_t;

typedef struct {
    zp_array_t upstreams;  /* zp_http_proxy_upstream_t * */
    zp_int_t   scheme_index;
    zp_int_t   host_index;
} zp_http_proxy_main_conf_t;

#if (ZP_HAVE_HTTP_SSL_MODULE)

#define ZP_HTTP_PROXY_SSL_TLSv1   0x0004
#define ZP_HTTP_PROXY_SSL_TLSv1_1 0x0008
#define ZP_HTTP_PROXY_SSL_TLSv1_2 0x0010
#define ZP_HTTP_PROXY_SSL_TLSv1_3 0x0020

/* a file named by a directive, with where, for errors */
typedef struct {
    zp_str_t  name;
    zp_str_t  file_name;
    zp_uint_t line;
} zp_http_proxy_ssl_file_t;

/* the proxy_ssl_* settings of one level, as written (unset: inherited) */
typedef struct {
    zp_flag_t                verify;
    zp_int_t                 verify_depth;
    zp_http_proxy_ssl_file_t trusted_certificate;
    zp_flag_t                server_name;
    zp_str_t                 name;
    zp_http_proxy_ssl_file_t certificate;
    zp_http_proxy_ssl_file_t certificate_key;
    zp_uint_t                protocols;
    zp_str_t                 ciphers;
    zp_flag_t                session_reuse;
    zp_str_t                 verify_file; /* where proxy_ssl_verify is */
    zp_uint_t                verify_line;
} zp_http_proxy_ssl_conf_t;

/* the last session of one peer, per worker */
typedef struct {
    zp_http_upstream_peer_t *peer;
    SSL_SESSION             *session;
} zp_http_proxy_ssl_session_t;

/*
 * One SSL_CTX per distinct set of settings: a level that sets no
 * proxy_ssl_* directive shares its parent's. It is built while the
 * configuration is read, so a reload reads the files again, and the
 * workers get it by fork. The sessions are per worker (the array is
 * copied by fork and filled afterwards).
 */
typedef struct {
    zp_http_proxy_ssl_conf_t conf; /* merged */
    SSL_CTX                 *ctx;  /* NULL until a https:// route uses it */
    zp_array_t               sessions; /* zp_http_proxy_ssl_session_t */
} zp_http_proxy_ssl_t;

#endif

typedef struct {
    zp_http_proxy_upstream_t *upstream;
    zp_str_t                  pass;      /* as written; data NULL: no proxy_pass here */
    zp_str_t                  host;      /* "users", "127.0.0.1:5000": Host and errors */
    zp_str_t                  uri;       /* URI part of proxy_pass, len 0: none */
    zp_str_t                  prefix;    /* the route's literal prefix it replaces */
    zp_str_t                  pass_file;
    zp_uint_t                 pass_line;

    zp_msec_t                 connect_timeout;
    zp_msec_t                 send_timeout;
    zp_msec_t                 read_timeout;
    zp_uint_t                 next_upstream;
    zp_uint_t                 next_upstream_tries;
    size_t                    buffer_size;

    zp_array_t               *set_headers;  /* zp_http_proxy_header_t */
    zp_array_t               *hide_headers; /* zp_str_t, lower-case */
    zp_array_t               *add_headers;  /* zp_http_proxy_header_t */

    zp_uint_t                 https;     /* proxy_pass https:// */
#if (ZP_HAVE_HTTP_SSL_MODULE)
    zp_http_proxy_ssl_conf_t  ssl_conf;  /* as written at this level */
    zp_http_proxy_ssl_t      *ssl;       /* merged, with the SSL_CTX */
    char                     *ssl_host;  /* SNI and certificate name, NUL-terminated */
    zp_uint_t                 ssl_host_is_ip;
#endif
} zp_http_proxy_rte_conf_t;

/* one attempt, for $upstream_* */
typedef struct {
    zp_str_t  *peer;
    zp_uint_t  status;
    zp_msec_t  start;
    zp_msec_t  time;
} zp_http_proxy_state_t;

typedef enum {
    ZP_HTTP_PROXY_ST_STATUS = 0,
    ZP_HTTP_PROXY_ST_HEADERS,
    ZP_HTTP_PROXY_ST_BODY,
    ZP_HTTP_PROXY_ST_DONE
} zp_http_proxy_phase_e;

typedef struct {
    zp_http_request_t        *r;
    zp_http_proxy_rte_conf_t *conf;
    zp_http_proxy_upstream_t *us;
    zp_log_t                  log;       /* adds "while ..., upstream: ..." */
    const char               *action;

    zp_http_upstream_tried_t  tried;
    zp_http_upstream_peer_t  *peer;      /* held: free_peer() still due */
    zp_connection_t          *pc;        /* the upstream connection */
    zp_str_t                  key;       /* hash key */
    zp_uint_t                 tries;
    zp_array_t                states;    /* zp_http_proxy_state_t */
    zp_http_proxy_state_t    *state;

    /* request */
    zp_buf_t                 *head;      /* start..last: the request head */
    zp_buf_t                 *body;      /* the request body buffer */
    zp_chain_t                out_cl;    /* response body to the client */
    zp_buf_t                  out_buf;

    /* response */
    zp_buf_t                 *buffer;    /* the response head */
    zp_buf_t                 *rbuf;      /* the response body */
    zp_http_parse_t           parse;
    zp_http_chunked_t         chunked;
    zp_uint_t                 phase;
    zp_http_status_t          st;        /* status line parser and result */
    off_t                     rest;      /* Content-Length bytes still due */
    off_t                     length;    /* Content-Length, -1: none */

    off_t                     body_read;        /* client body bytes so far */
    off_t                     body_armed;       /* body_read when the timer was set */
    unsigned                  body_done:1;      /* all of the client's body is in */
    unsigned                  body_chunked:1;   /* goes out chunked */
    unsigned                  body_replay:1;    /* body buffer still holds all sent */
    unsigned                  has_body:1;
    unsigned                  connected:1;
    unsigned                  reused:1;         /* pc came from the pool */
    unsigned                  sent_any:1;       /* a request byte reached pc */
    unsigned                  request_sent:1;
    unsigned                  got_any:1;        /* a response byte came */
    unsigned                  resp_chunked:1;
    unsigned                  resp_eof:1;       /* close-delimited */
    unsigned                  resp_keepalive:1; /* upstream allows reuse */
    unsigned                  extra:1;          /* bytes after the body */
    unsigned                  blocked:1;        /* output waits for the client */
    unsigned                  last_timeout:1;
    unsigned                  finished:1;
    unsigned                  has_cl:1;
    unsigned                  splice:1;         /* the body goes by pipe */

    int                       pipe[2];          /* when splice: read, write end */
    size_t                    pipe_size;        /* what it holds */
} zp_http_proxy_ctx_t;

extern zp_module_t zp_http_proxy_module;

void zp_http_proxy_body_timer(zp_http_proxy_ctx_t *u);
zp_int_t zp_http_proxy_handler(zp_http_request_t *r);
void     zp_http_proxy_connect(zp_http_proxy_ctx_t *u);
void     zp_http_proxy_send(zp_http_proxy_ctx_t *u);
void     zp_http_proxy_next(zp_http_proxy_ctx_t *u, zp_uint_t ft, zp_uint_t stale);
void     zp_http_proxy_process_header(zp_http_proxy_ctx_t *u);
void     zp_http_proxy_process_body(zp_http_proxy_ctx_t *u);
void     zp_http_proxy_finalize(zp_http_proxy_ctx_t *u, zp_int_t rc);
void     zp_http_proxy_client_body_handler(zp_http_request_t *r);
void     zp_http_proxy_check_client(zp_http_request_t *r);
void     zp_http_proxy_connected(zp_http_proxy_ctx_t *u);
void    *zp_http_proxy_ssl_key(zp_http_proxy_ctx_t *u);
zp_uint_t zp_http_proxy_reusable(zp_connection_t *c);
void     zp_http_proxy_read_handler(zp_event_t *rev);
void     zp_http_proxy_write_handler(zp_event_t *wev);

#if (ZP_HAVE_HTTP_SSL_MODULE)
char    *zp_http_proxy_ssl_file_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char    *zp_http_proxy_ssl_verify_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char    *zp_http_proxy_ssl_protocols_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
void     zp_http_proxy_ssl_create_conf(zp_http_proxy_ssl_conf_t *sc);
char    *zp_http_proxy_ssl_merge(zp_conf_t *cf, zp_http_proxy_rte_conf_t *prev,
                                        zp_http_proxy_rte_conf_t *conf);
void     zp_http_proxy_ssl_handshake(zp_http_proxy_ctx_t *u);
ssize_t  zp_http_proxy_ssl_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b);
zp_int_t zp_http_proxy_ssl_write(zp_http_proxy_ctx_t *u);
#endif

#endif /* ZP_HTTP_PROXY_H */
