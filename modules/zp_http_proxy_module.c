/*
 * zp_http_proxy_module.c: the reverse proxy: "upstream" groups, proxy_pass
 * and the proxy_* directives, per-worker keep-alive pools of upstream
 * connections, streaming of request and response bodies with bounded
 * memory and back-pressure in both directions, retries (proxy_next_upstream)
 * and the $upstream_* variables.
 *
 * One request, one zp_http_proxy_ctx_t (r->upstream). The flow:
 *
 *   handler -> read the first buffer of the request body (if any)
 *           -> connect (a pooled connection to the chosen peer, or a new
 *              one) -> send head + body (zp_http_proxy_send: reads the
 *              client only when the body buffer is drained)
 *           -> read the response head (status line, headers) into a
 *              proxy_buffer_size buffer -> zp_http_send_header
 *           -> stream the body through zp_http_output; while it returns
 *              ZP_AGAIN the upstream is not read, r->write_event_handler
 *              resumes it -> keep the connection for the next request or
 *              close it -> zp_http_finalize_request.
 *
 * Request target: the client's target as sent (r->unparsed_uri), or, when
 * proxy_pass has a URI part ("proxy_pass http://127.0.0.1:5000/v2/;" in
 * "route /v1/"), the route's literal prefix at the start of the target
 * replaced by that URI ("/v1/a?b" -> "/v2/a?b"). A target that does not
 * start with the prefix byte for byte (it was percent-encoded) is rebuilt
 * from the normalized path: URI part + rest of r->uri + "?" + r->args.
 */
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

/* per-worker caches of the buffers above and of the response head's
 * (proxy_buffer_size): no malloc per proxied request */
static zp_mem_cache_t zp_http_proxy_body_bufs;
static zp_mem_cache_t zp_http_proxy_resp_bufs;
static zp_mem_cache_t zp_http_proxy_head_bufs;
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
} zp_http_proxy_ctx_t;

static void zp_http_proxy_body_timer(zp_http_proxy_ctx_t *u);


static zp_int_t zp_http_proxy_preconfiguration(zp_conf_t *cf);
static zp_int_t zp_http_proxy_postconfiguration(zp_conf_t *cf);
static void    *zp_http_proxy_create_main_conf(zp_conf_t *cf);
static void    *zp_http_proxy_create_rte_conf(zp_conf_t *cf);
static char    *zp_http_proxy_merge_rte_conf(zp_conf_t *cf, void *parent, void *child);
static char    *zp_http_proxy_upstream_block(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_pass(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_next_upstream(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_header_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_hide_header(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t zp_http_proxy_handler(zp_http_request_t *r);

static void     zp_http_proxy_connect(zp_http_proxy_ctx_t *u);
static void     zp_http_proxy_send(zp_http_proxy_ctx_t *u);
static void     zp_http_proxy_next(zp_http_proxy_ctx_t *u, zp_uint_t ft, zp_uint_t stale);
static void     zp_http_proxy_process_header(zp_http_proxy_ctx_t *u);
static void     zp_http_proxy_process_body(zp_http_proxy_ctx_t *u);
static void     zp_http_proxy_finalize(zp_http_proxy_ctx_t *u, zp_int_t rc);
static void     zp_http_proxy_client_body_handler(zp_http_request_t *r);
static void     zp_http_proxy_check_client(zp_http_request_t *r);
static void     zp_http_proxy_connected(zp_http_proxy_ctx_t *u);
static void    *zp_http_proxy_ssl_key(zp_http_proxy_ctx_t *u);
static zp_uint_t zp_http_proxy_reusable(zp_connection_t *c);

#if (ZP_HAVE_HTTP_SSL_MODULE)
static char    *zp_http_proxy_ssl_file_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_ssl_verify_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char    *zp_http_proxy_ssl_protocols_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static void     zp_http_proxy_ssl_create_conf(zp_http_proxy_ssl_conf_t *sc);
static char    *zp_http_proxy_ssl_merge(zp_conf_t *cf, zp_http_proxy_rte_conf_t *prev,
                                        zp_http_proxy_rte_conf_t *conf);
static void     zp_http_proxy_ssl_handshake(zp_http_proxy_ctx_t *u);
static ssize_t  zp_http_proxy_ssl_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b);
static zp_int_t zp_http_proxy_ssl_write(zp_http_proxy_ctx_t *u);

static zp_conf_bitmask_t zp_http_proxy_ssl_protocols[] = {
    {zp_string("TLSv1"), ZP_HTTP_PROXY_SSL_TLSv1},
    {zp_string("TLSv1.1"), ZP_HTTP_PROXY_SSL_TLSv1_1},
    {zp_string("TLSv1.2"), ZP_HTTP_PROXY_SSL_TLSv1_2},
    {zp_string("TLSv1.3"), ZP_HTTP_PROXY_SSL_TLSv1_3},
    {zp_null_string, 0},
};
#endif

static zp_conf_enum_t zp_http_proxy_next_upstream_masks[] = {
    {zp_string("error"), ZP_HTTP_PROXY_FT_ERROR},
    {zp_string("timeout"), ZP_HTTP_PROXY_FT_TIMEOUT},
    {zp_string("http_502"), ZP_HTTP_PROXY_FT_HTTP_502},
    {zp_string("http_503"), ZP_HTTP_PROXY_FT_HTTP_503},
    {zp_string("http_504"), ZP_HTTP_PROXY_FT_HTTP_504},
    {zp_string("off"), ZP_HTTP_PROXY_FT_OFF},
    {zp_null_string, 0}};

#define ZP_HTTP_PROXY_ALL_LEVELS (ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF)
#define zp_http_proxy_off(field) offsetof(zp_http_proxy_rte_conf_t, field)

static zp_command_t zp_http_proxy_commands[] = {
    {zp_string("upstream"), ZP_HTTP_MAIN_CONF | ZP_CONF_BLOCK | ZP_CONF_TAKE1,
     zp_http_proxy_upstream_block, ZP_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_pass"), ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF | ZP_CONF_TAKE1,
     zp_http_proxy_pass, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_connect_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(connect_timeout), NULL},
    {zp_string("proxy_send_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(send_timeout), NULL},
    {zp_string("proxy_read_timeout"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(read_timeout), NULL},
    {zp_string("proxy_next_upstream"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_1MORE,
     zp_http_proxy_next_upstream, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("proxy_next_upstream_tries"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(next_upstream_tries), NULL},
    {zp_string("proxy_buffer_size"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_size_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(buffer_size), NULL},
    {zp_string("proxy_set_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE2,
     zp_http_proxy_header_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(set_headers), NULL},
    {zp_string("proxy_hide_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_hide_header, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    {zp_string("add_header"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE2,
     zp_http_proxy_header_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(add_headers), NULL},
#if (ZP_HAVE_HTTP_SSL_MODULE)
    /* upstream TLS (proxy_pass https://): docs/proxy.md */
    {zp_string("proxy_ssl_verify"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_http_proxy_ssl_verify_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.verify),
     NULL},
    {zp_string("proxy_ssl_verify_depth"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.verify_depth),
     NULL},
    {zp_string("proxy_ssl_trusted_certificate"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.trusted_certificate), NULL},
    {zp_string("proxy_ssl_server_name"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.server_name),
     NULL},
    {zp_string("proxy_ssl_name"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.name), NULL},
    {zp_string("proxy_ssl_certificate"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.certificate), NULL},
    {zp_string("proxy_ssl_certificate_key"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_http_proxy_ssl_file_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.certificate_key), NULL},
    {zp_string("proxy_ssl_protocols"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_1MORE,
     zp_http_proxy_ssl_protocols_slot, ZP_HTTP_RTE_CONF_OFFSET,
     zp_http_proxy_off(ssl_conf.protocols), NULL},
    {zp_string("proxy_ssl_ciphers"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_TAKE1,
     zp_conf_set_str_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.ciphers), NULL},
    {zp_string("proxy_ssl_session_reuse"), ZP_HTTP_PROXY_ALL_LEVELS | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, ZP_HTTP_RTE_CONF_OFFSET, zp_http_proxy_off(ssl_conf.session_reuse),
     NULL},
#endif
    ZP_COMMAND_END};

static zp_http_module_t zp_http_proxy_module_ctx = {
    zp_http_proxy_preconfiguration,
    zp_http_proxy_postconfiguration,
    zp_http_proxy_create_main_conf,
    NULL,
    NULL,
    NULL,
    zp_http_proxy_create_rte_conf,
    zp_http_proxy_merge_rte_conf,
};

zp_module_t zp_http_proxy_module = {
    .name     = "http_proxy",
    .ctx      = &zp_http_proxy_module_ctx,
    .commands = zp_http_proxy_commands,
    .type     = ZP_HTTP_MODULE,
};


/* ---- configuration ------------------------------------------------------ */

static void *
zp_http_proxy_create_main_conf(zp_conf_t *cf)
{
    zp_http_proxy_main_conf_t *pmcf;

    pmcf = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_main_conf_t));
    if (pmcf == NULL
        || zp_array_init(&pmcf->upstreams, cf->pool, 4, sizeof(zp_http_proxy_upstream_t *))
               != ZP_OK) {
        return NULL;
    }
    pmcf->scheme_index = ZP_ERROR;
    pmcf->host_index   = ZP_ERROR;
    return pmcf;
}


static void *
zp_http_proxy_create_rte_conf(zp_conf_t *cf)
{
    zp_http_proxy_rte_conf_t *conf;

    conf = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_rte_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->connect_timeout     = ZP_CONF_UNSET_MSEC;
    conf->send_timeout        = ZP_CONF_UNSET_MSEC;
    conf->read_timeout        = ZP_CONF_UNSET_MSEC;
    conf->next_upstream       = 0;
    conf->next_upstream_tries = ZP_CONF_UNSET_UINT;
    conf->buffer_size         = ZP_CONF_UNSET_SIZE;
    conf->set_headers         = ZP_CONF_UNSET_PTR;
    conf->hide_headers        = ZP_CONF_UNSET_PTR;
    conf->add_headers         = ZP_CONF_UNSET_PTR;
#if (ZP_HAVE_HTTP_SSL_MODULE)
    zp_http_proxy_ssl_create_conf(&conf->ssl_conf);
#endif
    return conf;
}


static zp_http_proxy_upstream_t *
zp_http_proxy_find_upstream(zp_http_proxy_main_conf_t *pmcf, zp_str_t *name)
{
    zp_uint_t                  i;
    zp_http_proxy_upstream_t **us = pmcf->upstreams.elts;

    for (i = 0; i < pmcf->upstreams.nelts; i++) {
        if (us[i]->group.name.len == name->len
            && zp_strncasecmp(us[i]->group.name.data, name->data, name->len) == 0) {
            return us[i];
        }
    }
    return NULL;
}


/* The per-worker pool: the idle items, allocated once. */
static zp_int_t
zp_http_proxy_upstream_done(zp_conf_t *cf, zp_http_proxy_upstream_t *us)
{
    zp_uint_t i;

    zp_queue_init(&us->cache);
    zp_queue_init(&us->free);

    if (us->keepalive_timeout == ZP_CONF_UNSET_MSEC) {
        us->keepalive_timeout = 60000;
    }
    if (us->keepalive_requests == ZP_CONF_UNSET_UINT) {
        us->keepalive_requests = 1000;
    }

    if (us->keepalive) {
        us->items = zp_pcalloc(cf->pool, us->keepalive * sizeof(zp_http_proxy_cached_t));
        if (us->items == NULL) {
            return ZP_ERROR;
        }
        for (i = 0; i < us->keepalive; i++) {
            us->items[i].us = us;
            zp_queue_insert_tail(&us->free, &us->items[i].queue);
        }
    }

    /* the cycle's own log: cf->cycle->log is still the previous cycle's */
    return zp_http_upstream_init(cf->pool, &us->group, &cf->cycle->new_log);
}


static char *
zp_http_proxy_upstream_server(zp_conf_t *cf, zp_http_proxy_upstream_t *us)
{
    zp_str_t                *value = cf->args->elts, s;
    zp_uint_t                i, backup = 0, down = 0;
    zp_int_t                 weight = 1, max_fails = -1, n;
    zp_msec_t                fail_timeout = ZP_CONF_UNSET_MSEC;
    zp_sockaddr_t            sa;
    socklen_t                socklen;
    const char              *err;
    zp_http_upstream_peer_t *p;

    if (cf->args->nelts < 2) {
        return "invalid number of arguments in \"server\" directive";
    }

    for (i = 2; i < cf->args->nelts; i++) {
        if (value[i].len > 7 && zp_strncmp(value[i].data, "weight=", 7) == 0) {
            weight = zp_atoi(value[i].data + 7, value[i].len - 7);
            if (weight == ZP_ERROR || weight < 1 || weight > 1000) {
                goto invalid;
            }
        } else if (value[i].len > 10 && zp_strncmp(value[i].data, "max_fails=", 10) == 0) {
            max_fails = zp_atoi(value[i].data + 10, value[i].len - 10);
            if (max_fails == ZP_ERROR) {
                goto invalid;
            }
        } else if (value[i].len > 13 && zp_strncmp(value[i].data, "fail_timeout=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len  = value[i].len - 13;
            n      = zp_parse_time(&s, 0);
            if (n == ZP_ERROR) {
                goto invalid;
            }
            fail_timeout = (zp_msec_t) n;
        } else if (value[i].len == 6 && zp_strncmp(value[i].data, "backup", 6) == 0) {
            backup = 1;
        } else if (value[i].len == 4 && zp_strncmp(value[i].data, "down", 4) == 0) {
            down = 1;
        } else {
            goto invalid;
        }
    }

    /* numeric addresses only: no resolver at configuration time */
    if (zp_parse_addr_port(&value[1], 80, &sa, &socklen, &err) != ZP_OK) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "%s in upstream server \"%V\"", err, &value[1]);
        return ZP_CONF_ERROR;
    }

    p = zp_http_upstream_add_peer(cf->pool, &us->group, &value[1], backup, cf->log);
    if (p == NULL) {
        return ZP_CONF_ERROR;
    }

    p->weight           = weight;
    p->effective_weight = weight;
    p->down             = down;
    if (max_fails >= 0) {
        p->max_fails = (zp_uint_t) max_fails;
    }
    if (fail_timeout != ZP_CONF_UNSET_MSEC) {
        p->fail_timeout = fail_timeout;
    }
    return ZP_CONF_OK;

invalid:
    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid parameter \"%V\" in \"server\" directive",
                      &value[i]);
    return ZP_CONF_ERROR;
}


/* cf->handler inside upstream { }: its own small directive set. */
static char *
zp_http_proxy_upstream_directive(zp_conf_t *cf, zp_command_t *dummy, void *conf)
{
    zp_http_proxy_upstream_t *us    = conf;
    zp_str_t                 *value = cf->args->elts;
    zp_str_t                 *name  = &value[0];
    zp_uint_t                 nargs = cf->args->nelts;
    zp_int_t                  n;

    (void) dummy;

#define zp_http_proxy_is(s) (name->len == sizeof(s) - 1 && zp_strncmp(name->data, s, name->len) == 0)

    if (zp_http_proxy_is("server")) {
        return zp_http_proxy_upstream_server(cf, us);
    }

    if (zp_http_proxy_is("include")) {
        return zp_conf_include(cf, NULL, NULL);
    }

    if (zp_http_proxy_is("least_conn") || zp_http_proxy_is("hash")) {
        if (us->group.method != ZP_HTTP_UPSTREAM_RR) {
            return "load balancing method redefined";
        }
        if (zp_http_proxy_is("least_conn")) {
            if (nargs != 1) {
                return "invalid number of arguments in \"least_conn\" directive";
            }
            us->group.method = ZP_HTTP_UPSTREAM_LEAST_CONN;
            return ZP_CONF_OK;
        }
        if (nargs != 2 && nargs != 3) {
            return "invalid number of arguments in \"hash\" directive";
        }
        if (nargs == 3) {
            if (value[2].len != 10 || zp_strncmp(value[2].data, "consistent", 10) != 0) {
                return zp_conf_invalid_value(cf, 2);
            }
        }
        us->group.method = nargs == 3 ? ZP_HTTP_UPSTREAM_HASH_CONSISTENT : ZP_HTTP_UPSTREAM_HASH;
        if (zp_http_compile_complex_value(cf, &value[1], &us->hash_key) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
        us->has_hash = 1;
        return ZP_CONF_OK;
    }

    if (zp_http_proxy_is("keepalive") || zp_http_proxy_is("keepalive_requests")) {
        if (nargs != 2) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid number of arguments in \"%V\" directive",
                              name);
            return ZP_CONF_ERROR;
        }
        n = zp_atoi(value[1].data, value[1].len);
        if (n == ZP_ERROR || n < (zp_http_proxy_is("keepalive") ? 0 : 1)) {
            return zp_conf_invalid_value(cf, 1);
        }
        if (zp_http_proxy_is("keepalive")) {
            us->keepalive = (zp_uint_t) n;
        } else {
            us->keepalive_requests = (zp_uint_t) n;
        }
        return ZP_CONF_OK;
    }

    if (zp_http_proxy_is("keepalive_timeout")) {
        if (nargs != 2) {
            return "invalid number of arguments in \"keepalive_timeout\" directive";
        }
        n = zp_parse_time(&value[1], 0);
        if (n == ZP_ERROR) {
            return zp_conf_invalid_value(cf, 1);
        }
        us->keepalive_timeout = (zp_msec_t) n;
        return ZP_CONF_OK;
    }

#undef zp_http_proxy_is

    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown directive \"%V\" in upstream", name);
    return ZP_CONF_ERROR;
}


static char *
zp_http_proxy_upstream_block(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char                      *rv;
    zp_str_t                  *value = cf->args->elts;
    zp_conf_t                  save;
    zp_uint_t                  line;
    zp_http_proxy_main_conf_t *pmcf = conf;
    zp_http_proxy_upstream_t  *us, **usp;

    (void) cmd;

    if (zp_http_proxy_find_upstream(pmcf, &value[1])) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate upstream \"%V\"", &value[1]);
        return ZP_CONF_ERROR;
    }

    us = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_upstream_t));
    if (us == NULL) {
        return ZP_CONF_ERROR;
    }
    us->group.name          = value[1];
    us->group.method        = ZP_HTTP_UPSTREAM_RR;
    us->keepalive_timeout   = ZP_CONF_UNSET_MSEC;
    us->keepalive_requests  = ZP_CONF_UNSET_UINT;
    us->file_name           = cf->conf_file->file.name;
    us->line                = cf->conf_file->line;

    usp = zp_array_push(&pmcf->upstreams);
    if (usp == NULL) {
        return ZP_CONF_ERROR;
    }
    *usp = us;

    save             = *cf;
    cf->handler      = zp_http_proxy_upstream_directive;
    cf->handler_conf = us;
    rv               = zp_conf_parse(cf, NULL);
    line             = cf->conf_file->line;
    *cf              = save;

    if (rv != ZP_CONF_OK) {
        return rv;
    }

    if (us->group.peers.nelts == 0) {
        /* reported at the upstream line, as nginx does */
        cf->conf_file->line = us->line;
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "no servers are inside upstream \"%V\"",
                          &us->group.name);
        cf->conf_file->line = line;
        return ZP_CONF_ERROR;
    }

    if (zp_http_proxy_upstream_done(cf, us) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


static char *
zp_http_proxy_pass(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts;

    (void) cmd;

    if (plcf->pass.data) {
        return "is duplicate";
    }

    if (value[1].len > 8 && zp_strncasecmp(value[1].data, (u_char *) "https://", 8) == 0) {
#if (ZP_HAVE_HTTP_SSL_MODULE)
        plcf->https = 1;
#else
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "\"%V\": https:// needs the http_ssl module (zproxy was built with "
                          "--without-http_ssl)",
                          &value[1]);
        return ZP_CONF_ERROR;
#endif

    } else if (value[1].len <= 7
               || zp_strncasecmp(value[1].data, (u_char *) "http://", 7) != 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid URL prefix in \"%V\"", &value[1]);
        return ZP_CONF_ERROR;
    }

    /* resolved when merging: an upstream block may come later */
    plcf->pass      = value[1];
    plcf->pass_file = cf->conf_file->file.name;
    plcf->pass_line = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_pass http://name[/uri]: name is an upstream block, else a literal
 * numeric host:port that gets a one-server group of its own. */
static char *
zp_http_proxy_resolve_pass(zp_conf_t *cf, zp_http_proxy_rte_conf_t *conf)
{
    u_char                    *p, *last, *slash;
    zp_str_t                   name;
    zp_sockaddr_t              sa;
    socklen_t                  socklen;
    const char                *err;
    zp_conf_file_t             where, *saved;
    zp_http_proxy_upstream_t  *us, **usp;
    zp_http_proxy_main_conf_t *pmcf;
    zp_http_core_rte_conf_t   *rcf;
    zp_http_upstream_peer_t   *peer;

    pmcf = zp_http_conf_get_module_main_conf(cf, zp_http_proxy_module);
    rcf  = zp_http_conf_get_module_rte_conf(cf, zp_http_core_module);

    zp_memzero(&where, sizeof(where));
    where.file.name = conf->pass_file;
    where.line      = conf->pass_line;
    saved           = cf->conf_file;
    cf->conf_file   = &where;

    p     = conf->pass.data + (conf->https ? 8 : 7);
    last  = conf->pass.data + conf->pass.len;
    slash = memchr(p, '/', last - p);

    name.data = p;
    name.len  = (slash ? slash : last) - p;

    if (slash) {
        conf->uri.data = slash;
        conf->uri.len  = last - slash;
    }

    if (name.len == 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "no host in \"%V\"", &conf->pass);
        goto failed;
    }

    conf->host = name;
    us         = zp_http_proxy_find_upstream(pmcf, &name);

    if (us && us->implicit) {
        /* "http://host" and "https://host" are different ports */
        peer = us->group.peers.elts;
        zp_memzero(&sa, sizeof(sa));
        if (zp_parse_addr_port(&name, conf->https ? 443 : 80, &sa, &socklen, &err) != ZP_OK
            || socklen != peer->socklen || zp_memcmp(&sa, &peer->sockaddr, socklen) != 0) {
            us = NULL;
        }
    }

    if (us == NULL) {
        if (zp_parse_addr_port(&name, conf->https ? 443 : 80, &sa, &socklen, &err) != ZP_OK) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "host not found in upstream \"%V\": no upstream block of that name "
                              "and not a numeric address (%s)",
                              &name, err);
            goto failed;
        }

        us = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_upstream_t));
        usp = zp_array_push(&pmcf->upstreams);
        if (us == NULL || usp == NULL) {
            goto failed;
        }
        *usp                   = us;
        us->group.name         = name;
        us->group.method       = ZP_HTTP_UPSTREAM_RR;
        us->implicit           = 1;
        us->keepalive_timeout  = ZP_CONF_UNSET_MSEC;
        us->keepalive_requests = ZP_CONF_UNSET_UINT;
        us->file_name          = conf->pass_file;
        us->line               = conf->pass_line;

        peer = zp_http_upstream_add_peer(cf->pool, &us->group, &name, 0, cf->log);
        if (peer == NULL) {
            goto failed;
        }
        /* the scheme's port when none is given */
        peer->sockaddr = sa;
        peer->socklen  = socklen;

        if (zp_http_proxy_upstream_done(cf, us) != ZP_OK) {
            goto failed;
        }
    }

    if (conf->uri.len) {
        if (rcf->def.pattern.len == 0
            || (rcf->def.type != ZP_HTTP_ROUTE_PREFIX && rcf->def.type != ZP_HTTP_ROUTE_EXACT)
            || memchr(rcf->def.pattern.data, ':', rcf->def.pattern.len)
            || memchr(rcf->def.pattern.data, '*', rcf->def.pattern.len)) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "\"proxy_pass\" with a URI part needs a route with a literal prefix");
            goto failed;
        }
        conf->prefix = rcf->def.pattern;
    }

    conf->upstream = us;
    cf->conf_file  = saved;
    return ZP_CONF_OK;

failed:
    cf->conf_file = saved;
    return ZP_CONF_ERROR;
}


static char *
zp_http_proxy_merge_rte_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_proxy_rte_conf_t *prev = parent, *conf = child;
    zp_http_core_rte_conf_t  *rcf;

    zp_conf_merge_msec_value(conf->connect_timeout, prev->connect_timeout, 60000);
    zp_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 60000);
    zp_conf_merge_msec_value(conf->read_timeout, prev->read_timeout, 60000);
    zp_conf_merge_uint_value(conf->next_upstream_tries, prev->next_upstream_tries, 0);
    zp_conf_merge_size_value(conf->buffer_size, prev->buffer_size, 8192);

    if (conf->next_upstream == 0) {
        conf->next_upstream = prev->next_upstream
                                  ? prev->next_upstream
                                  : (ZP_HTTP_PROXY_FT_ERROR | ZP_HTTP_PROXY_FT_TIMEOUT);
    }

    /* arrays: a level that sets any inherits none (as nginx) */
    zp_conf_merge_ptr_value(conf->set_headers, prev->set_headers, NULL);
    zp_conf_merge_ptr_value(conf->hide_headers, prev->hide_headers, NULL);
    zp_conf_merge_ptr_value(conf->add_headers, prev->add_headers, NULL);

    if (conf->buffer_size < 1024) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_buffer_size\" must be at least 1k");
        return ZP_CONF_ERROR;
    }

    rcf = zp_http_conf_get_module_rte_conf(cf, zp_http_core_module);

    if (conf->pass.data) {
        if (conf->upstream == NULL && zp_http_proxy_resolve_pass(cf, conf) != ZP_CONF_OK) {
            return ZP_CONF_ERROR;
        }
        /* proxy_pass at this very level wins over an inherited return */
        rcf->handler = zp_http_proxy_handler;

    } else if (prev->upstream) {
        conf->upstream = prev->upstream;
        conf->host     = prev->host;
        conf->uri      = prev->uri;
        conf->prefix   = prev->prefix;
        conf->https    = prev->https;
        if (rcf->handler == NULL) {
            rcf->handler = zp_http_proxy_handler;
        }
    }

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (zp_http_proxy_ssl_merge(cf, prev, conf) != ZP_CONF_OK) {
        return ZP_CONF_ERROR;
    }
#endif

    return ZP_CONF_OK;
}


static char *
zp_http_proxy_next_upstream(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts;
    zp_uint_t                 i, m, mask = 0;

    (void) cmd;

    if (plcf->next_upstream) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; zp_http_proxy_next_upstream_masks[m].name.len; m++) {
            if (zp_http_proxy_next_upstream_masks[m].name.len == value[i].len
                && zp_strncmp(zp_http_proxy_next_upstream_masks[m].name.data, value[i].data,
                              value[i].len) == 0) {
                mask |= zp_http_proxy_next_upstream_masks[m].value;
                break;
            }
        }
        if (zp_http_proxy_next_upstream_masks[m].name.len == 0) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    if ((mask & ZP_HTTP_PROXY_FT_OFF) && mask != ZP_HTTP_PROXY_FT_OFF) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"off\" goes alone in \"proxy_next_upstream\"");
        return ZP_CONF_ERROR;
    }

    plcf->next_upstream = mask;
    return ZP_CONF_OK;
}


/* proxy_set_header and add_header: name value (value may hold $vars). */
static char *
zp_http_proxy_header_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t               *value = cf->args->elts;
    zp_array_t            **a     = (zp_array_t **) ((char *) conf + cmd->offset);
    zp_uint_t               i;
    zp_http_proxy_header_t *h;

    if (*a == ZP_CONF_UNSET_PTR || *a == NULL) {
        *a = zp_array_create(cf->pool, 4, sizeof(zp_http_proxy_header_t));
        if (*a == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    for (i = 0; i < value[1].len; i++) {
        u_char ch = value[1].data[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == ':') {
            return zp_conf_invalid_value(cf, 1);
        }
    }
    if (value[1].len == 0) {
        return zp_conf_invalid_value(cf, 1);
    }

    h = zp_array_push(*a);
    if (h == NULL) {
        return ZP_CONF_ERROR;
    }
    h->name     = value[1];
    h->key.len  = value[1].len;
    h->key.data = zp_pnalloc(cf->pool, value[1].len);
    if (h->key.data == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_strlow(h->key.data, value[1].data, value[1].len);

    if (zp_http_compile_complex_value(cf, &value[2], &h->value) != ZP_OK) {
        return ZP_CONF_ERROR;
    }
    return ZP_CONF_OK;
}


static char *
zp_http_proxy_hide_header(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_proxy_rte_conf_t *plcf  = conf;
    zp_str_t                 *value = cf->args->elts, *s;

    (void) cmd;

    if (plcf->hide_headers == ZP_CONF_UNSET_PTR || plcf->hide_headers == NULL) {
        plcf->hide_headers = zp_array_create(cf->pool, 4, sizeof(zp_str_t));
        if (plcf->hide_headers == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    s = zp_array_push(plcf->hide_headers);
    if (s == NULL) {
        return ZP_CONF_ERROR;
    }
    s->len  = value[1].len;
    s->data = zp_pnalloc(cf->pool, value[1].len);
    if (s->data == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_strlow(s->data, value[1].data, value[1].len);
    return ZP_CONF_OK;
}


/* ---- variables ------------------------------------------------------------ */

/* $upstream_addr, $upstream_status, $upstream_response_time: one value per
 * attempt, ", "-separated. */
static zp_int_t
zp_http_proxy_var(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    zp_uint_t              i;
    zp_http_proxy_ctx_t   *u = r->upstream;
    zp_http_proxy_state_t *st;

    if (u == NULL || u->states.nelts == 0) {
        v->not_found = 1;
        return ZP_OK;
    }

    st = u->states.elts;
    p  = zp_pnalloc(r->pool, u->states.nelts * (ZP_SOCKADDR_STRLEN + 64));
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->data = p;

    for (i = 0; i < u->states.nelts; i++) {
        if (i) {
            p = zp_cpymem(p, ", ", 2);
        }
        switch (data) {
        case 0:
            p = zp_sprintf(p, "%V", st[i].peer);
            break;
        case 1:
            p = st[i].status ? zp_sprintf(p, "%ui", st[i].status) : zp_cpymem(p, "-", 1);
            break;
        default:
            p = zp_sprintf(p, "%M.%03M", st[i].time / 1000, st[i].time % 1000);
        }
    }

    v->len          = p - v->data;
    v->valid        = 1;
    v->no_cacheable = 1;
    return ZP_OK;
}


static zp_int_t
zp_http_proxy_preconfiguration(zp_conf_t *cf)
{
    zp_uint_t           i;
    zp_http_variable_t *v;
    static zp_str_t     names[] = {zp_string("upstream_addr"), zp_string("upstream_status"),
                                   zp_string("upstream_response_time")};

    for (i = 0; i < zp_nelems(names); i++) {
        v = zp_http_add_variable(cf, &names[i], ZP_HTTP_VAR_NOCACHEABLE);
        if (v == NULL) {
            return ZP_ERROR;
        }
        v->get_handler = zp_http_proxy_var;
        v->data        = i;
    }
    return ZP_OK;
}


static zp_int_t
zp_http_proxy_postconfiguration(zp_conf_t *cf)
{
    zp_str_t                   scheme = zp_string("scheme");
    zp_http_proxy_main_conf_t *pmcf;

    pmcf               = zp_http_conf_get_module_main_conf(cf, zp_http_proxy_module);
    pmcf->scheme_index = zp_http_get_variable_index(cf, &scheme);
    return pmcf->scheme_index == ZP_ERROR ? ZP_ERROR : ZP_OK;
}


/* ---- logging ---------------------------------------------------------------- */

static u_char *
zp_http_proxy_log_handler(zp_log_t *log, u_char *buf, size_t len)
{
    u_char              *p = buf, *last = buf + len;
    zp_log_t             clog;
    zp_http_proxy_ctx_t *u = log->data;
    zp_http_request_t   *r = u->r;

    if (u->action) {
        p = zp_slprintf(p, last, " while %s", u->action);
    }

    clog      = *r->connection->log;
    clog.data = r->connection;
    p         = zp_http_log_error(&clog, p, last - p);

    if (u->peer) {
        p = zp_slprintf(p, last, ", upstream: \"%s://%V%V\"", u->conf->https ? "https" : "http",
                        &u->peer->name, &r->unparsed_uri);
    } else {
        p = zp_slprintf(p, last, ", upstream: \"%V\"", &u->us->group.name);
    }
    return p;
}


/* ---- keep-alive pool ---------------------------------------------------------- */

static void
zp_http_proxy_empty_handler(zp_event_t *ev)
{
    (void) ev;
}


static void
zp_http_proxy_cache_drop(zp_http_proxy_cached_t *item)
{
    zp_queue_remove(&item->queue);
    zp_queue_insert_head(&item->us->free, &item->queue);
    zp_close_connection(item->connection);
    item->connection = NULL;
}


/* An idle pooled connection: anything but "nothing to read" ends it. */
static void
zp_http_proxy_idle_handler(zp_event_t *ev)
{
    char                    ch;
    ssize_t                 n;
    zp_connection_t        *c    = ev->data;
    zp_http_proxy_cached_t *item = c->data;

    if (!ev->timedout && !c->close) {
        n = recv(c->fd, &ch, 1, MSG_PEEK);
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev->ready = 0;
            return;
        }
    }

    zp_http_proxy_cache_drop(item);
}


static zp_connection_t *
zp_http_proxy_cache_get(zp_http_proxy_upstream_t *us, zp_http_upstream_peer_t *peer, void *ssl)
{
    zp_queue_t             *q;
    zp_connection_t        *c;
    zp_http_proxy_cached_t *item;

    for (q = zp_queue_head(&us->cache); q != zp_queue_sentinel(&us->cache); q = zp_queue_next(q)) {
        item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
        /* a TLS connection serves only the settings it was made with */
        if (item->peer != peer || item->ssl != ssl) {
            continue;
        }

        c = item->connection;
        zp_queue_remove(&item->queue);
        zp_queue_insert_head(&us->free, &item->queue);
        item->connection = NULL;

        zp_reusable_connection(c, 0);
        if (c->read->timer_set) {
            zp_event_del_timer(c->read);
        }
        c->read->cancelable = 0;
        return c;
    }

    return NULL;
}


/* Keeps pc for the next request to the same peer; closes the oldest idle
 * one when the pool is full. */
static void
zp_http_proxy_cache_put(zp_http_proxy_ctx_t *u)
{
    zp_queue_t               *q;
    zp_connection_t          *c  = u->pc;
    zp_http_proxy_upstream_t *us = u->us;
    zp_http_proxy_cached_t   *item;

    u->pc = NULL;

    if (zp_queue_empty(&us->free)) {
        q    = zp_queue_last(&us->cache);
        item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
        zp_http_proxy_cache_drop(item);
    }

    q    = zp_queue_head(&us->free);
    item = zp_queue_data(q, zp_http_proxy_cached_t, queue);
    zp_queue_remove(q);
    zp_queue_insert_head(&us->cache, q);

    item->connection = c;
    item->peer       = u->peer;
    item->ssl        = zp_http_proxy_ssl_key(u);

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }
    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }

    c->data           = item;
    c->log            = zp_cycle->log;
    c->read->log      = c->log;
    c->write->log     = c->log;
    c->read->handler  = zp_http_proxy_idle_handler;
    c->write->handler = zp_http_proxy_empty_handler;
    c->read->cancelable = 1;
    zp_event_add_timer(c->read, us->keepalive_timeout);
    /* a draining worker or a worker out of connections closes it */
    zp_reusable_connection(c, 1);

    if (c->read->ready) {
        zp_http_proxy_idle_handler(c->read);
    }
}


/* ---- request ------------------------------------------------------------------ */

static zp_uint_t
zp_http_proxy_list_has(zp_str_t *value, u_char *token, size_t len)
{
    u_char *p = value->data, *last = p + value->len, *start, *end;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        start = p;
        while (p < last && *p != ',') {
            p++;
        }
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t) (end - start) == len && zp_strncasecmp(start, token, len) == 0) {
            return 1;
        }
    }
    return 0;
}


static zp_uint_t
zp_http_proxy_name_is(zp_str_t *lowcase, const char *name)
{
    size_t len = strlen(name);

    return lowcase->len == len && zp_strncmp(lowcase->data, name, len) == 0;
}


/* Hop-by-hop (RFC 9110 7.6.1) and the headers this proxy sets itself. */
static zp_uint_t
zp_http_proxy_skip_in(zp_http_request_t *r, zp_str_t *lc)
{
    static const char *skip[] = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                 "transfer-encoding", "upgrade", "content-length", "expect",
                                 "host", "x-forwarded-for", "x-forwarded-proto",
                                 "x-forwarded-host", "x-request-id"};
    zp_uint_t       i;
    zp_table_elt_t *h;

    for (i = 0; i < zp_nelems(skip); i++) {
        if (zp_http_proxy_name_is(lc, skip[i])) {
            return 1;
        }
    }

    for (h = r->headers_in.connection; h; h = h->next) {
        if (zp_http_proxy_list_has(&h->value, lc->data, lc->len)) {
            return 1;
        }
    }
    return 0;
}


typedef struct {
    zp_str_t name;
    zp_str_t value;
} zp_http_proxy_pair_t;


static zp_int_t
zp_http_proxy_pair(zp_array_t *a, zp_http_proxy_rte_conf_t *conf, const char *lcname,
                   const char *name, zp_str_t *value)
{
    zp_uint_t               i;
    zp_str_t                lc;
    zp_http_proxy_pair_t   *pr;
    zp_http_proxy_header_t *sh;

    /* a proxy_set_header of the same name replaces (or removes) it */
    if (conf->set_headers) {
        lc.data = (u_char *) lcname;
        lc.len  = strlen(lcname);
        sh      = conf->set_headers->elts;
        for (i = 0; i < conf->set_headers->nelts; i++) {
            if (sh[i].key.len == lc.len && zp_strncmp(sh[i].key.data, lc.data, lc.len) == 0) {
                return ZP_OK;
            }
        }
    }

    pr = zp_array_push(a);
    if (pr == NULL) {
        return ZP_ERROR;
    }
    pr->name.data = (u_char *) name;
    pr->name.len  = strlen(name);
    pr->value     = *value;
    return ZP_OK;
}


static zp_int_t
zp_http_proxy_target(zp_http_proxy_ctx_t *u, zp_str_t *target)
{
    u_char                   *p;
    zp_http_request_t        *r    = u->r;
    zp_http_proxy_rte_conf_t *conf = u->conf;
    zp_str_t                 *pre  = &conf->prefix;

    if (conf->uri.len == 0) {
        *target = r->unparsed_uri;
        return ZP_OK;
    }

    if (r->unparsed_uri.len >= pre->len
        && zp_strncmp(r->unparsed_uri.data, pre->data, pre->len) == 0) {
        target->len  = conf->uri.len + r->unparsed_uri.len - pre->len;
        target->data = zp_pnalloc(r->pool, target->len);
        if (target->data == NULL) {
            return ZP_ERROR;
        }
        p = zp_cpymem(target->data, conf->uri.data, conf->uri.len);
        zp_memcpy(p, r->unparsed_uri.data + pre->len, r->unparsed_uri.len - pre->len);
        return ZP_OK;
    }

    /* the target was encoded: rebuild it from the normalized path */
    target->data = zp_pnalloc(r->pool, conf->uri.len + r->uri.len + 1 + r->args.len);
    if (target->data == NULL) {
        return ZP_ERROR;
    }
    p = zp_cpymem(target->data, conf->uri.data, conf->uri.len);
    if (r->uri.len >= pre->len) {
        p = zp_cpymem(p, r->uri.data + pre->len, r->uri.len - pre->len);
    }
    if (r->args.len) {
        *p++ = '?';
        p    = zp_cpymem(p, r->args.data, r->args.len);
    }
    target->len = p - target->data;
    return ZP_OK;
}


/* Serializes the request head into u->head. */
static zp_int_t
zp_http_proxy_create_request(zp_http_proxy_ctx_t *u)
{
    u_char                    *p, addr[ZP_SOCKADDR_STRLEN];
    size_t                     len, alen, i;
    zp_str_t                   target, lc, v, xff, id;
    zp_array_t                 pairs;
    zp_list_iter_t             it = {NULL, 0};
    zp_table_elt_t            *h;
    zp_http_request_t         *r    = u->r;
    zp_http_proxy_rte_conf_t  *conf = u->conf;
    zp_http_proxy_pair_t      *pr;
    zp_http_proxy_header_t    *sh;
    zp_http_variable_value_t  *vv;
    zp_http_proxy_main_conf_t *pmcf;
    zp_connection_t           *c = r->connection;

    pmcf = zp_http_get_module_main_conf(r, zp_http_proxy_module);

    if (zp_http_proxy_target(u, &target) != ZP_OK
        || zp_array_init(&pairs, r->pool, 16, sizeof(zp_http_proxy_pair_t)) != ZP_OK) {
        return ZP_ERROR;
    }

    /* Host: the upstream's name, as nginx's $proxy_host */
    if (zp_http_proxy_pair(&pairs, conf, "host", "Host", &conf->host) != ZP_OK) {
        return ZP_ERROR;
    }

    while ((h = zp_list_next(&r->headers_in.headers, &it))) {
        if (h->hash == 0) {
            continue;
        }
        lc.data = h->lowcase_key;
        lc.len  = h->key.len;
        if (zp_http_proxy_skip_in(r, &lc)) {
            continue;
        }
        if (conf->set_headers) {
            sh = conf->set_headers->elts;
            for (i = 0; i < conf->set_headers->nelts; i++) {
                if (sh[i].key.len == lc.len && zp_strncmp(sh[i].key.data, lc.data, lc.len) == 0) {
                    break;
                }
            }
            if (i < conf->set_headers->nelts) {
                continue;
            }
        }
        pr = zp_array_push(&pairs);
        if (pr == NULL) {
            return ZP_ERROR;
        }
        pr->name  = h->key;
        pr->value = h->value;
    }

    /* X-Forwarded-For: what the client sent, then the client */
    alen = zp_sock_ntop(&c->sockaddr.sa, c->socklen, addr, sizeof(addr), 0);
    len  = alen;
    for (h = r->headers_in.x_forwarded_for; h; h = h->next) {
        len += h->value.len + 2;
    }
    xff.data = zp_pnalloc(r->pool, len);
    if (xff.data == NULL) {
        return ZP_ERROR;
    }
    p = xff.data;
    for (h = r->headers_in.x_forwarded_for; h; h = h->next) {
        p = zp_cpymem(p, h->value.data, h->value.len);
        p = zp_cpymem(p, ", ", 2);
    }
    p        = zp_cpymem(p, addr, alen);
    xff.len  = p - xff.data;

    if (zp_http_proxy_pair(&pairs, conf, "x-forwarded-for", "X-Forwarded-For", &xff) != ZP_OK) {
        return ZP_ERROR;
    }

    vv = zp_http_get_indexed_variable(r, (zp_uint_t) pmcf->scheme_index);
    if (vv == NULL) {
        return ZP_ERROR;
    }
    v.data = vv->data;
    v.len  = vv->len;
    if (zp_http_proxy_pair(&pairs, conf, "x-forwarded-proto", "X-Forwarded-Proto", &v) != ZP_OK) {
        return ZP_ERROR;
    }

    if (r->headers_in.server.len
        && zp_http_proxy_pair(&pairs, conf, "x-forwarded-host", "X-Forwarded-Host",
                              &r->headers_in.server) != ZP_OK) {
        return ZP_ERROR;
    }

    /* the client's id when it is a sane token, else a new one */
    if (zp_http_request_id(r, &id) != ZP_OK
        || zp_http_proxy_pair(&pairs, conf, "x-request-id", "X-Request-ID", &id) != ZP_OK) {
        return ZP_ERROR;
    }

    if (conf->set_headers) {
        sh = conf->set_headers->elts;
        for (i = 0; i < conf->set_headers->nelts; i++) {
            if (zp_http_complex_value(r, &sh[i].value, &v) != ZP_OK) {
                return ZP_ERROR;
            }
            if (v.len == 0) {
                continue; /* an empty value removes the header */
            }
            pr = zp_array_push(&pairs);
            if (pr == NULL) {
                return ZP_ERROR;
            }
            pr->name  = sh[i].name;
            pr->value = v;
        }
    }

    len = r->method_name.len + 1 + target.len + sizeof(" HTTP/1.1\r\n") - 1
          + sizeof("Content-Length: \r\n") - 1 + ZP_OFF_T_LEN
          + sizeof("Transfer-Encoding: chunked\r\n") - 1
          + sizeof("Connection: keep-alive\r\n") - 1 + 2;

    pr = pairs.elts;
    for (i = 0; i < pairs.nelts; i++) {
        len += pr[i].name.len + 2 + pr[i].value.len + 2;
    }

    u->head = zp_create_temp_buf(r->pool, len);
    if (u->head == NULL) {
        return ZP_ERROR;
    }

    p = u->head->last;
    p = zp_sprintf(p, "%V %V HTTP/1.1\r\n", &r->method_name, &target);
    for (i = 0; i < pairs.nelts; i++) {
        p = zp_sprintf(p, "%V: %V\r\n", &pr[i].name, &pr[i].value);
    }

    if (r->headers_in.chunked) {
        p = zp_cpymem(p, "Transfer-Encoding: chunked\r\n", 28);
    } else if (r->headers_in.content_length_n > 0 || r->headers_in.content_length) {
        p = zp_sprintf(p, "Content-Length: %O\r\n", r->headers_in.content_length_n);
    }

    p = u->us->keepalive ? zp_cpymem(p, "Connection: keep-alive\r\n\r\n", 26)
                         : zp_cpymem(p, "Connection: close\r\n\r\n", 21);

    u->head->last = p;
    return ZP_OK;
}


static void
zp_http_proxy_cleanup(void *data)
{
    zp_http_proxy_ctx_t *u = data;

    /* the client went away, or the request ended: not the peer's fault */
    if (u->pc) {
        zp_close_connection(u->pc);
        u->pc = NULL;
    }
    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
        u->peer = NULL;
    }
    u->finished = 1;
}


static zp_int_t
zp_http_proxy_handler(zp_http_request_t *r)
{
    zp_pool_cleanup_t        *cln;
    zp_http_proxy_ctx_t      *u;
    zp_http_proxy_rte_conf_t *conf;

    conf = zp_http_get_module_rte_conf(r, zp_http_proxy_module);
    if (conf->upstream == NULL) {
        return ZP_HTTP_NOT_FOUND;
    }

    u = zp_pcalloc(r->pool, sizeof(zp_http_proxy_ctx_t));
    if (u == NULL
        || zp_array_init(&u->states, r->pool, 2, sizeof(zp_http_proxy_state_t)) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    u->r          = r;
    u->conf       = conf;
    u->us         = conf->upstream;
    u->log        = *r->connection->log;
    u->log.handler = zp_http_proxy_log_handler;
    u->log.data   = u;
    u->length     = -1;
    r->upstream   = u;

    if (zp_http_upstream_tried_init(r->pool, &u->us->group, &u->tried) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (u->us->has_hash && zp_http_complex_value(r, &u->us->hash_key, &u->key) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (zp_http_proxy_create_request(u) != ZP_OK) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = zp_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return ZP_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = zp_http_proxy_cleanup;
    cln->data    = u;

    u->has_body     = r->headers_in.chunked || r->headers_in.content_length_n > 0;
    u->body_chunked = r->headers_in.chunked;
    u->body_done    = !u->has_body;
    u->body_replay  = 1;

    if (u->has_body) {
        u->body = zp_create_cached_buf(r->pool, &zp_http_proxy_body_bufs, ZP_HTTP_PROXY_BODY_BUF);
        if (u->body == NULL) {
            return ZP_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->read_event_handler  = u->has_body ? zp_http_proxy_client_body_handler
                                         : zp_http_proxy_check_client;
    r->write_event_handler = NULL;

    /* the first buffer of the body (all of a small one) is read before
     * connecting, so a failed attempt can be repeated with it */
    zp_http_proxy_send(u);
    return ZP_DONE;
}


/* ---- connecting -------------------------------------------------------------- */

static void zp_http_proxy_read_handler(zp_event_t *rev);
static void zp_http_proxy_write_handler(zp_event_t *wev);


static void
zp_http_proxy_close_peer_connection(zp_http_proxy_ctx_t *u)
{
    if (u->pc) {
        zp_close_connection(u->pc);
        u->pc = NULL;
    }
    u->connected = 0;
}


/* Rewinds the request for another attempt; 0 when it cannot be repeated. */
static zp_uint_t
zp_http_proxy_rewind(zp_http_proxy_ctx_t *u)
{
    if (u->has_body && !u->body_replay) {
        return 0;
    }

    u->head->pos = u->head->start;
    if (u->body) {
        u->body->pos = u->body->start;
    }
    u->sent_any     = 0;
    u->request_sent = 0;
    u->got_any      = 0;
    u->phase        = ZP_HTTP_PROXY_ST_STATUS;
    u->st.state     = 0;
    u->resp_chunked = 0;
    u->resp_eof     = 0;
    u->has_cl       = 0;
    u->length       = -1;
    if (u->buffer) {
        u->buffer->pos = u->buffer->last = u->buffer->start;
    }
    zp_memzero(&u->parse, sizeof(zp_http_parse_t));
    zp_memzero(&u->chunked, sizeof(zp_http_chunked_t));

    /* what the failed attempt's head put there */
    if (zp_list_init(&u->r->headers_out.headers, u->r->pool, 8, sizeof(zp_table_elt_t))
        != ZP_OK) {
        return 0;
    }
    u->r->headers_out.content_type.len  = 0;
    u->r->headers_out.content_type.data = NULL;
    u->r->read_event_handler = u->body_done ? zp_http_proxy_check_client
                                            : zp_http_proxy_client_body_handler;
    return 1;
}


static zp_uint_t
zp_http_proxy_new_state(zp_http_proxy_ctx_t *u)
{
    u->state = zp_array_push(&u->states);
    if (u->state == NULL) {
        return 0;
    }
    u->state->peer   = &u->peer->name;
    u->state->status = 0;
    u->state->start  = zp_current_msec;
    u->state->time   = 0;
    return 1;
}


/* Opens (or takes from the pool) a connection to u->peer. */
static void
zp_http_proxy_connect_peer(zp_http_proxy_ctx_t *u, zp_uint_t fresh)
{
    int                       s, rc, one = 1;
    zp_connection_t          *c;
    zp_http_upstream_peer_t  *peer = u->peer;

    u->action    = "connecting to upstream";
    u->reused    = 0;
    u->connected = 0;

    if (!fresh && u->us->keepalive) {
        c = zp_http_proxy_cache_get(u->us, peer, zp_http_proxy_ssl_key(u));
        if (c) {
            u->pc             = c;
            u->reused         = 1;
            u->connected      = 1;
            c->data           = u;
            c->log            = &u->log;
            c->read->log      = &u->log;
            c->write->log     = &u->log;
            c->read->handler  = zp_http_proxy_read_handler;
            c->write->handler = zp_http_proxy_write_handler;
            c->requests++;

            if (c->read->pending_eof) {
                /* the peer already closed it: a fresh one, silently */
                zp_http_proxy_close_peer_connection(u);
                zp_http_proxy_connect_peer(u, 1);
                return;
            }
            zp_http_proxy_send(u);
            return;
        }
    }

    s = socket(peer->sockaddr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s == -1) {
        zp_log_error(ZP_LOG_ALERT, &u->log, errno, "socket() failed");
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    c = zp_get_connection(s, &u->log);
    if (c == NULL) {
        close(s);
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    c->data           = u;
    c->read->handler  = zp_http_proxy_read_handler;
    c->write->handler = zp_http_proxy_write_handler;
    c->requests       = 1;
    c->number         = zp_connection_counter++;
    u->pc             = c;

    if (zp_add_conn(c) != ZP_OK) {
        zp_http_proxy_close_peer_connection(u);
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    do {
        rc = connect(s, &peer->sockaddr.sa, peer->socklen);
    } while (rc == -1 && errno == EINTR);

    if (rc == -1 && errno != EINPROGRESS) {
        zp_log_error(ZP_LOG_ERR, &u->log, errno, "connect() failed");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
        return;
    }

    if (rc == 0) {
        zp_http_proxy_connected(u);
        return;
    }

    zp_event_add_timer(c->write, u->conf->connect_timeout);
}


/* Picks the next peer and connects; 502 when none is left. */
static void
zp_http_proxy_connect(zp_http_proxy_ctx_t *u)
{
    u->action = "connecting to upstream";
    u->peer = zp_http_upstream_get_peer(&u->us->group, &u->tried, u->us->has_hash ? &u->key : NULL);

    if (u->peer == NULL) {
        zp_log_error(ZP_LOG_ERR, &u->log, 0, "no live upstreams");
        zp_http_proxy_finalize(u, u->last_timeout ? 504 : 502);
        return;
    }

    u->tries++;
    if (!zp_http_proxy_new_state(u)) {
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    zp_http_proxy_connect_peer(u, 0);
}


static zp_uint_t
zp_http_proxy_idempotent(zp_http_request_t *r)
{
    return (r->method
            & (ZP_HTTP_GET | ZP_HTTP_HEAD | ZP_HTTP_PUT | ZP_HTTP_DELETE | ZP_HTTP_OPTIONS
               | ZP_HTTP_TRACE))
           != 0;
}


/*
 * An attempt failed. stale: a pooled connection turned out closed before
 * any of the response: close it and repeat on a fresh connection to the
 * same peer, without counting a failure. Otherwise the peer failed: try
 * the next one when proxy_next_upstream, the tries and the request allow,
 * else answer 502 (504 after a timeout; the upstream's status for http_50x).
 */
static void
zp_http_proxy_next(zp_http_proxy_ctx_t *u, zp_uint_t ft, zp_uint_t stale)
{
    zp_uint_t          status;
    zp_http_request_t *r = u->r;

    if (u->pc) {
        if (u->pc->read->timer_set) {
            zp_event_del_timer(u->pc->read);
        }
        if (u->pc->write->timer_set) {
            zp_event_del_timer(u->pc->write);
        }
    }

    if (stale && u->reused && !r->header_sent && zp_http_proxy_rewind(u)) {
        zp_log_error(ZP_LOG_INFO, &u->log, 0, "a kept-alive upstream connection was closed, "
                     "retrying on a new one");
        zp_http_proxy_close_peer_connection(u);
        zp_http_proxy_connect_peer(u, 1);
        return;
    }

    switch (ft) {
    case ZP_HTTP_PROXY_FT_TIMEOUT:
        status = 504;
        break;
    case ZP_HTTP_PROXY_FT_HTTP_503:
        status = 503;
        break;
    case ZP_HTTP_PROXY_FT_HTTP_504:
        status = 504;
        break;
    default:
        status = 502;
    }

    u->last_timeout = (ft == ZP_HTTP_PROXY_FT_TIMEOUT);

    if (u->state && u->state->status == 0) {
        u->state->status = status;
    }
    if (u->state) {
        u->state->time = zp_current_msec - u->state->start;
    }

    zp_http_proxy_close_peer_connection(u);

    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, ft != ZP_HTTP_PROXY_FT_INVALID);
        u->peer = NULL;
    }

    if (r->header_sent) {
        zp_http_proxy_finalize(u, ZP_ERROR);
        return;
    }

    if ((u->conf->next_upstream & ft) && !(u->conf->next_upstream & ZP_HTTP_PROXY_FT_OFF)
        && (u->conf->next_upstream_tries == 0 || u->tries < u->conf->next_upstream_tries)
        && (zp_http_proxy_idempotent(r) || !u->sent_any) && zp_http_proxy_rewind(u)) {
        zp_http_proxy_connect(u);
        return;
    }

    zp_http_proxy_finalize(u, status);
}


/* ---- sending the request --------------------------------------------------------- */

/* Reads the client's body into the free part of u->body, framing chunks
 * when the body goes out chunked. ZP_OK: read something; ZP_DECLINED: the
 * buffer is full; ZP_AGAIN; ZP_DONE at the end; ZP_ERROR. */
static zp_int_t
zp_http_proxy_read_body(zp_http_proxy_ctx_t *u)
{
    u_char            *data, hdr[ZP_HTTP_PROXY_CHUNK_HDR + 1];
    size_t             size, hlen;
    ssize_t            n;
    zp_buf_t          *b = u->body;
    zp_http_request_t *r = u->r;

    size = b->end - b->last;
    if (u->body_chunked) {
        if (size <= ZP_HTTP_PROXY_CHUNK_RESERVE) {
            return ZP_DECLINED;
        }
        size -= ZP_HTTP_PROXY_CHUNK_RESERVE;
        data = b->last + ZP_HTTP_PROXY_CHUNK_HDR;
    } else {
        if (size == 0) {
            return ZP_DECLINED;
        }
        data = b->last;
    }

    n = r->proto->read_body(r, data, size);

    if (n == ZP_AGAIN) {
        return ZP_AGAIN;
    }
    if (n == ZP_ERROR) {
        return ZP_ERROR;
    }

    if (n == 0) {
        u->body_done = 1;
        if (u->body_chunked) {
            b->last = zp_cpymem(b->last, "0\r\n\r\n", 5);
        }
        return ZP_DONE;
    }

    u->body_read += n;

    if (u->body_chunked) {
        hlen = zp_sprintf(hdr, "%xz\r\n", (size_t) n) - hdr;
        zp_memmove(b->last + hlen, data, (size_t) n);
        zp_memcpy(b->last, hdr, hlen);
        b->last += hlen + n;
        b->last = zp_cpymem(b->last, "\r\n", 2);
    } else {
        b->last += n;
    }
    return ZP_OK;
}


/* Writes what is pending to pc: ZP_OK all out, ZP_AGAIN, ZP_ERROR. */
static zp_int_t
zp_http_proxy_write(zp_http_proxy_ctx_t *u)
{
    int             n;
    ssize_t         sent;
    struct iovec    iov[2];
    zp_buf_t       *h = u->head, *b = u->body;
    zp_connection_t *c = u->pc;

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (c->ssl) {
        return zp_http_proxy_ssl_write(u);
    }
#endif

    for (;;) {
        n = 0;
        if (h->pos < h->last) {
            iov[n].iov_base = h->pos;
            iov[n].iov_len  = h->last - h->pos;
            n++;
        }
        if (b && b->pos < b->last) {
            iov[n].iov_base = b->pos;
            iov[n].iov_len  = b->last - b->pos;
            n++;
        }
        if (n == 0) {
            return ZP_OK;
        }

        sent = writev(c->fd, iov, n);

        if (sent == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->write->ready = 0;
                return ZP_AGAIN;
            }
            return ZP_ERROR;
        }

        u->sent_any = 1;
        c->sent += sent;

        if (h->pos < h->last) {
            size_t k = zp_min((size_t) sent, (size_t) (h->last - h->pos));
            h->pos += k;
            sent -= k;
        }
        if (b) {
            b->pos += sent;
        }
    }
}


/* Room for one more read in the body buffer? */
static zp_uint_t
zp_http_proxy_body_room(zp_http_proxy_ctx_t *u)
{
    size_t room = u->body->end - u->body->last;

    return room > (u->body_chunked ? ZP_HTTP_PROXY_CHUNK_RESERVE : 0);
}


/*
 * The request pump: writes the head and the body buffer to the upstream
 * and reads the client only while the buffer has room: a slow upstream
 * holds the client back. The buffer is appended to until it is full and
 * reset only then, so a body that fits in it can be sent again on a retry.
 */
static void
zp_http_proxy_send(zp_http_proxy_ctx_t *u)
{
    zp_int_t                 rc;
    zp_err_t                 err;
    zp_http_request_t       *r  = u->r;
    zp_connection_t         *cc = r->connection;

    for (;;) {
        if (u->pc && u->connected && !u->request_sent) {
            u->action = "sending request to upstream";
            rc        = zp_http_proxy_write(u);

            if (rc == ZP_ERROR) {
                err = errno;
                zp_log_error(u->reused ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, err,
                             "writev() failed");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR,
                                   u->reused && !u->got_any
                                       && (err == EPIPE || err == ECONNRESET));
                return;
            }

            if (rc == ZP_AGAIN) {
                zp_event_add_timer(u->pc->write, u->conf->send_timeout);
                if (cc->read->timer_set) {
                    zp_event_del_timer(cc->read);
                }
                return;
            }

            if (u->pc->write->timer_set) {
                zp_event_del_timer(u->pc->write);
            }

            if (u->body_done) {
                u->request_sent = 1;
                u->action       = "reading response header from upstream";
                r->read_event_handler = zp_http_proxy_check_client;
                if (cc->read->timer_set) {
                    zp_event_del_timer(cc->read);
                }
                if (u->phase < ZP_HTTP_PROXY_ST_BODY) {
                    zp_event_add_timer(u->pc->read, u->conf->read_timeout);
                    if (u->pc->read->ready) {
                        zp_http_proxy_process_header(u);
                    }
                }
                return;
            }

            if (!zp_http_proxy_body_room(u)) {
                /* all of a full buffer is out: reuse it (from now on a
                 * retry cannot repeat the body) */
                u->body->pos = u->body->last = u->body->start;
                u->body_replay = 0;
            }
        }

        if (u->body_done) {
            if (u->pc == NULL) {
                zp_http_proxy_connect(u);
            }
            return; /* else connecting: the write handler goes on */
        }

        rc = zp_http_proxy_read_body(u);

        if (rc == ZP_ERROR) {
            r->keepalive = 0;
            zp_http_proxy_finalize(u, r->status >= 400 && !r->header_sent ? (zp_int_t) r->status
                                                                         : ZP_ERROR);
            return;
        }

        if (rc == ZP_DECLINED) {
            /* full: the upstream must take some first */
            if (u->pc == NULL) {
                zp_http_proxy_connect(u);
            }
            return;
        }

        if (rc == ZP_AGAIN) {
            if (u->pc == NULL) {
                /* connect meanwhile; what was read stays for a retry */
                zp_http_proxy_body_timer(u);
                zp_http_proxy_connect(u);
                return;
            }
            if (u->connected && u->body->pos < u->body->last) {
                continue; /* send what came */
            }
            zp_http_proxy_body_timer(u);
            return;
        }

        /* ZP_OK or ZP_DONE: go on (write if connected, else read more) */
    }
}


/*
 * client_body_timeout: the longest wait for the next ZP_HTTP_PROXY_BODY_STEP
 * bytes of body, not for the next byte: a body trickled a byte at a time
 * (a slow-body attack) cannot hold the connection, while any upload
 * faster than 8 KiB per timeout goes through, however long it takes.
 */
#define ZP_HTTP_PROXY_BODY_STEP 8192

static void
zp_http_proxy_body_timer(zp_http_proxy_ctx_t *u)
{
    zp_event_t              *rev = u->r->connection->read;
    zp_http_core_rte_conf_t *rcf;

    if (rev->timer_set && u->body_read - u->body_armed < ZP_HTTP_PROXY_BODY_STEP) {
        return;
    }

    rcf            = zp_http_get_module_rte_conf(u->r, zp_http_core_module);
    u->body_armed  = u->body_read;
    if (rev->timer_set) {
        zp_event_del_timer(rev);
    }
    zp_event_add_timer(rev, rcf->client_body_timeout);
}


static void
zp_http_proxy_client_body_handler(zp_http_request_t *r)
{
    zp_http_proxy_ctx_t *u = r->upstream;

    if (r->connection->read->timedout) {
        r->connection->read->timedout = 0;
        zp_log_error(ZP_LOG_INFO, r->connection->log, ETIMEDOUT,
                     "client timed out sending the request body");
        r->keepalive = 0;
        zp_http_proxy_finalize(u, r->header_sent ? ZP_ERROR : ZP_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (u->pc && u->connected && !u->request_sent
        && ((u->head->pos < u->head->last) || (u->body->pos < u->body->last))) {
        /* the upstream is full: the client waits */
        return;
    }

    zp_http_proxy_send(u);
}


/* While the upstream works: notices a client that closed. */
static void
zp_http_proxy_check_client(zp_http_request_t *r)
{
    char                 ch;
    ssize_t              n;
    zp_connection_t     *c = r->connection;
    zp_http_proxy_ctx_t *u = r->upstream;

    if (c->read->timedout) {
        c->read->timedout = 0;
        return;
    }

    n = recv(c->fd, &ch, 1, MSG_PEEK);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->read->ready = 0;
        return;
    }

    if (n > 0) {
        return; /* a pipelined request: later */
    }

    zp_log_error(ZP_LOG_INFO, &u->log, n == 0 ? 0 : errno,
                 "client prematurely closed connection");
    c->error = 1;
    zp_http_proxy_finalize(u, ZP_ERROR);
}


static void
zp_http_proxy_write_handler(zp_event_t *wev)
{
    int                  err = 0;
    socklen_t            len = sizeof(err);
    zp_connection_t     *c   = wev->data;
    zp_http_proxy_ctx_t *u   = c->data;

    if (wev->timedout) {
        wev->timedout = 0;
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!u->connected) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
            err = errno;
        }
        if (err) {
            zp_log_error(ZP_LOG_ERR, &u->log, err, "connect() failed");
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
            return;
        }
        zp_http_proxy_connected(u);
        return;
    }

    if (u->request_sent) {
        return;
    }

    zp_http_proxy_send(u);
}


/* ---- the response head ---------------------------------------------------------- */

/* Reads from pc into b: > 0, 0 at EOF, ZP_AGAIN, ZP_ERROR (errno set). */
static ssize_t
zp_http_proxy_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b)
{
    ssize_t n;

#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->pc->ssl) {
        return zp_http_proxy_ssl_recv(u, b);
    }
#endif

    for (;;) {
        n = recv(u->pc->fd, b->last, b->end - b->last, 0);
        if (n > 0) {
            /* a short read drained the socket: no probing recv() after it
             * (the pool's idle check looks at this flag) */
            if (n < b->end - b->last) {
                u->pc->read->ready = 0;
            }
            b->last += n;
            u->got_any = 1;
            return n;
        }
        if (n == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            u->pc->read->ready = 0;
            return ZP_AGAIN;
        }
        return ZP_ERROR;
    }
}


static zp_uint_t
zp_http_proxy_hidden(zp_http_proxy_ctx_t *u, zp_str_t *lc)
{
    static const char *hop[] = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                "transfer-encoding", "upgrade", "content-length", "content-type",
                                "date", "server"};
    zp_uint_t i;
    zp_str_t *hide;

    for (i = 0; i < zp_nelems(hop); i++) {
        if (zp_http_proxy_name_is(lc, hop[i])) {
            return 1;
        }
    }

    if (u->conf->hide_headers) {
        hide = u->conf->hide_headers->elts;
        for (i = 0; i < u->conf->hide_headers->nelts; i++) {
            if (hide[i].len == lc->len && zp_strncmp(hide[i].data, lc->data, lc->len) == 0) {
                return 1;
            }
        }
    }
    return 0;
}


/* One upstream header line: framing headers are noted, the rest copied. */
static zp_int_t
zp_http_proxy_header(zp_http_proxy_ctx_t *u, zp_str_t *name, zp_str_t *value)
{
    off_t              n;
    zp_str_t           lc;
    zp_table_elt_t    *h;
    zp_http_request_t *r = u->r;

    lc.len  = name->len;
    lc.data = zp_pnalloc(r->pool, name->len);
    if (lc.data == NULL) {
        return ZP_ERROR;
    }
    zp_strlow(lc.data, name->data, name->len);

    if (zp_http_proxy_name_is(&lc, "content-length")) {
        n = zp_atoof(value->data, value->len);
        if (n == ZP_ERROR || (u->has_cl && n != u->length)) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid \"Content-Length\": \"%V\"",
                         value);
            return ZP_DECLINED;
        }
        u->has_cl = 1;
        u->length = n;
        return ZP_OK;
    }

    if (zp_http_proxy_name_is(&lc, "transfer-encoding")) {
        if (u->resp_chunked || value->len != 7
            || zp_strncasecmp(value->data, (u_char *) "chunked", 7) != 0) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0,
                         "upstream sent unknown \"Transfer-Encoding\": \"%V\"", value);
            return ZP_DECLINED;
        }
        u->resp_chunked = 1;
        return ZP_OK;
    }

    if (zp_http_proxy_name_is(&lc, "connection")) {
        if (zp_http_proxy_list_has(value, (u_char *) "close", 5)) {
            u->resp_keepalive = 0;
        }
    }

    if (zp_http_proxy_name_is(&lc, "content-type")) {
        r->headers_out.content_type = *value;
        return ZP_OK;
    }

    h = zp_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return ZP_ERROR;
    }
    h->hash        = zp_http_proxy_hidden(u, &lc) ? 0 : 1;
    h->key         = *name;
    h->value       = *value;
    h->lowcase_key = lc.data;
    h->next        = NULL;
    return ZP_OK;
}


/* The head is in: drop what Connection names, add add_header, send. */
static void
zp_http_proxy_send_header(zp_http_proxy_ctx_t *u)
{
    zp_uint_t               i;
    zp_str_t                v, lc;
    zp_list_iter_t          it = {NULL, 0};
    zp_table_elt_t         *h, *conn;
    zp_http_request_t      *r = u->r;
    zp_http_proxy_header_t *ah;

    while ((conn = zp_list_next(&r->headers_out.headers, &it))) {
        if (conn->lowcase_key == NULL || conn->key.len != 10
            || zp_strncmp(conn->lowcase_key, "connection", 10) != 0) {
            continue;
        }
        zp_list_iter_t it2 = {NULL, 0};
        while ((h = zp_list_next(&r->headers_out.headers, &it2))) {
            if (h->lowcase_key
                && zp_http_proxy_list_has(&conn->value, h->lowcase_key, h->key.len)) {
                h->hash = 0;
            }
        }
    }

    if (u->conf->add_headers) {
        ah = u->conf->add_headers->elts;
        for (i = 0; i < u->conf->add_headers->nelts; i++) {
            if (zp_http_complex_value(r, &ah[i].value, &v) != ZP_OK) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            if (v.len == 0) {
                continue;
            }
            lc = ah[i].key;
            h  = zp_list_push(&r->headers_out.headers);
            if (h == NULL) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            h->hash        = 1;
            h->key         = ah[i].name;
            h->value       = v;
            h->lowcase_key = lc.data;
            h->next        = NULL;
        }
    }

    r->headers_out.status = u->st.status;

    if (zp_http_send_header(r) == ZP_ERROR) {
        zp_http_proxy_finalize(u, ZP_ERROR);
        return;
    }

    u->phase  = ZP_HTTP_PROXY_ST_BODY;
    u->action = "reading upstream";
    zp_http_proxy_process_body(u);
}


/* Status line and headers are parsed: decide on the body framing. */
static void
zp_http_proxy_head_done(zp_http_proxy_ctx_t *u)
{
    zp_uint_t          ft = 0;
    zp_http_request_t *r  = u->r;

    if (u->st.status == 502) {
        ft = ZP_HTTP_PROXY_FT_HTTP_502;
    } else if (u->st.status == 503) {
        ft = ZP_HTTP_PROXY_FT_HTTP_503;
    } else if (u->st.status == 504) {
        ft = ZP_HTTP_PROXY_FT_HTTP_504;
    }

    if (u->state) {
        u->state->status = u->st.status;
    }

    if (ft && (u->conf->next_upstream & ft)) {
        zp_http_proxy_next(u, ft, 0);
        return;
    }

    if (u->resp_chunked && u->has_cl) {
        zp_log_error(ZP_LOG_ERR, &u->log, 0,
                     "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
        return;
    }

    if (r->method == ZP_HTTP_HEAD || u->st.status == 204 || u->st.status == 304) {
        /* no body, whatever the headers say */
        r->headers_out.content_length_n = u->has_cl ? u->length : -1;
        u->rest                         = 0;
        u->resp_chunked                 = 0;
    } else if (u->resp_chunked) {
        r->headers_out.content_length_n = -1;
    } else if (u->has_cl) {
        r->headers_out.content_length_n = u->length;
        u->rest                         = u->length;
    } else {
        r->headers_out.content_length_n = -1;
        u->resp_eof                     = 1;
        u->resp_keepalive               = 0;
    }

    if (u->st.http_minor == 0) {
        u->resp_keepalive = 0;
    }

    zp_http_proxy_send_header(u);
}


static void
zp_http_proxy_process_header(zp_http_proxy_ctx_t *u)
{
    ssize_t            n;
    zp_int_t           rc;
    zp_str_t           name, value;
    zp_buf_t          *b;
    zp_http_request_t *r = u->r;

    if (u->buffer == NULL) {
        u->buffer = zp_create_cached_buf(r->pool, &zp_http_proxy_head_bufs, u->conf->buffer_size);
        if (u->buffer == NULL) {
            zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    b = u->buffer;

    for (;;) {
        if (b->pos == b->last) {
            if (b->last == b->end) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent too big header");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }

            n = zp_http_proxy_recv(u, b);

            if (n == ZP_AGAIN) {
                zp_event_add_timer(u->pc->read, u->conf->read_timeout);
                return;
            }

            if (n == 0 || n == ZP_ERROR) {
                zp_uint_t stale = u->reused && b->last == b->start
                                  && (n == 0 || errno == ECONNRESET);
                if (n == 0) {
                    zp_log_error(stale ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, 0,
                                 "upstream prematurely closed connection");
                } else {
                    zp_log_error(stale ? ZP_LOG_INFO : ZP_LOG_ERR, &u->log, errno,
                                 "recv() failed");
                }
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, stale);
                return;
            }
        }

        if (u->phase == ZP_HTTP_PROXY_ST_STATUS) {
            rc = zp_http_parse_status_line(&u->st, b);
            if (rc == ZP_AGAIN) {
                continue;
            }
            if (rc == ZP_ERROR) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent no valid HTTP/1.x header");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            u->phase          = ZP_HTTP_PROXY_ST_HEADERS;
            u->resp_keepalive = 1;
            u->has_cl         = 0;
            u->resp_chunked   = 0;
            u->length         = -1;
            zp_memzero(&u->parse, sizeof(zp_http_parse_t));
        }

        rc = zp_http_parse_header_line(&u->parse, b);

        if (rc == ZP_AGAIN) {
            continue;
        }

        if (rc == ZP_OK) {
            name.data  = u->parse.header_name_start;
            name.len   = u->parse.header_name_end - u->parse.header_name_start;
            value.data = u->parse.header_start;
            value.len  = u->parse.header_end - u->parse.header_start;

            rc = zp_http_proxy_header(u, &name, &value);
            if (rc == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            if (rc == ZP_DECLINED) {
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            continue;
        }

        if (rc != ZP_HTTP_PARSE_HEADER_DONE) {
            zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid header");
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
            return;
        }

        if (u->st.status >= 100 && u->st.status < 200) {
            if (u->st.status == 101) {
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream switched protocols unasked");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            /* an interim response: wait for the final one */
            if (zp_list_init(&r->headers_out.headers, r->pool, 8, sizeof(zp_table_elt_t))
                != ZP_OK) {
                zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
            r->headers_out.content_type.len = 0;
            u->phase    = ZP_HTTP_PROXY_ST_STATUS;
            u->st.state = 0;
            continue;
        }

        if (u->pc->read->timer_set) {
            zp_event_del_timer(u->pc->read);
        }
        zp_http_proxy_head_done(u);
        return;
    }
}


/* ---- the response body -------------------------------------------------------- */

static void
zp_http_proxy_drained(zp_http_request_t *r)
{
    zp_http_proxy_ctx_t *u = r->upstream;

    if (!u->blocked) {
        return;
    }
    u->blocked             = 0;
    r->write_event_handler = NULL;
    u->rbuf->pos = u->rbuf->last = u->rbuf->start;
    zp_http_proxy_process_body(u);
}


/* The body is over: keep the connection if it can serve another request. */
static void
zp_http_proxy_done(zp_http_proxy_ctx_t *u)
{
    zp_connection_t   *c = u->pc;
    zp_http_request_t *r = u->r;

    u->phase = ZP_HTTP_PROXY_ST_DONE;

    if (u->state) {
        u->state->time = zp_current_msec - u->state->start;
    }

    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
    }

    if (c) {
        if (c->read->timer_set) {
            zp_event_del_timer(c->read);
        }
        /* after an ambiguous request (docs/http1.md) the upstream may
         * have framed it otherwise: its connection is not reused */
        if (u->us->keepalive && u->resp_keepalive && !u->extra && !u->resp_eof
            && u->request_sent && c->requests < u->us->keepalive_requests && !c->read->pending_eof
            && !c->error && !r->headers_in.ambiguous && zp_http_proxy_reusable(c)) {
            zp_http_proxy_cache_put(u);
        } else {
            zp_http_proxy_close_peer_connection(u);
        }
    }

    u->peer = NULL;
    zp_http_proxy_finalize(u, ZP_DONE);
    (void) r;
}


static void
zp_http_proxy_process_body(zp_http_proxy_ctx_t *u)
{
    u_char            *dst;
    off_t              k;
    ssize_t            n;
    zp_int_t           rc, done;
    zp_buf_t          *b;
    zp_http_request_t *r = u->r;

    if (u->rbuf == NULL) {
        u->rbuf = zp_create_cached_buf(r->pool, &zp_http_proxy_resp_bufs,
                                       zp_max(ZP_HTTP_PROXY_RESP_BUF, u->conf->buffer_size));
        if (u->rbuf == NULL) {
            zp_http_proxy_finalize(u, ZP_ERROR);
            return;
        }
        /* body bytes that came with the head */
        n = u->buffer->last - u->buffer->pos;
        u->rbuf->last = zp_cpymem(u->rbuf->last, u->buffer->pos, n);
        u->buffer->pos = u->buffer->last;
    }

    b = u->rbuf;

    for (;;) {
        if (u->blocked) {
            return;
        }

        done = 0;
        dst  = b->pos;

        /* turn what is in the buffer into body bytes at [b->pos, dst) */
        if (u->resp_chunked) {
            u_char *start = b->pos;

            for (;;) {
                rc = zp_http_parse_chunked(&u->chunked, b);
                if (rc == ZP_OK) {
                    k = zp_min(u->chunked.size, b->last - b->pos);
                    zp_memmove(dst, b->pos, (size_t) k);
                    dst += k;
                    b->pos += k;
                    u->chunked.size -= k;
                    continue;
                }
                if (rc == ZP_DONE) {
                    done = 1;
                    if (b->pos < b->last) {
                        u->extra = 1;
                    }
                    break;
                }
                if (rc == ZP_AGAIN) {
                    break;
                }
                zp_log_error(ZP_LOG_ERR, &u->log, 0, "upstream sent invalid chunked response");
                zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_INVALID, 0);
                return;
            }
            u->out_buf.pos = start;
            u->out_buf.last = dst;

        } else if (u->resp_eof) {
            u->out_buf.pos  = b->pos;
            u->out_buf.last = b->last;
            b->pos          = b->last;

        } else {
            k = zp_min(u->rest, b->last - b->pos);
            u->out_buf.pos  = b->pos;
            u->out_buf.last = b->pos + k;
            u->rest -= k;
            if (b->pos + k < b->last) {
                u->extra = 1;
            }
            b->pos = b->last;
            done   = (u->rest == 0);
        }

        if (u->out_buf.pos < u->out_buf.last || done) {
            u->out_buf.start    = u->out_buf.pos;
            u->out_buf.end      = u->out_buf.last;
            u->out_buf.memory   = 1;
            u->out_buf.last_buf = done ? 1 : 0;
            u->out_cl.buf       = &u->out_buf;
            u->out_cl.next      = NULL;

            if (done) {
                /* nothing more to read: release the upstream before the
                 * last bytes go out */
                if (zp_http_output(r, &u->out_cl) == ZP_ERROR) {
                    zp_http_proxy_finalize(u, ZP_ERROR);
                } else {
                    zp_http_proxy_done(u);
                }
                return;
            }

            rc = zp_http_output(r, &u->out_cl);

            if (rc == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }

            if (rc == ZP_AGAIN) {
                /* the client is slow: stop reading the upstream */
                u->blocked             = 1;
                r->write_event_handler = zp_http_proxy_drained;
                if (u->pc->read->timer_set) {
                    zp_event_del_timer(u->pc->read);
                }
                return;
            }
        }

        b->pos = b->last = b->start;

        n = zp_http_proxy_recv(u, b);

        if (n == ZP_AGAIN) {
            /* the upstream pauses: what is ready (the head at least) goes
             * to the client now rather than with the next body bytes */
            if (zp_http_output(r, NULL) == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_ERROR);
                return;
            }
            zp_event_add_timer(u->pc->read, u->conf->read_timeout);
            return;
        }

        if (n == 0 && u->resp_eof) {
            u->out_buf.pos = u->out_buf.last = b->start;
            u->out_buf.start = u->out_buf.end = b->start;
            u->out_buf.last_buf = 1;
            u->out_cl.buf       = &u->out_buf;
            u->out_cl.next      = NULL;
            if (zp_http_output(r, &u->out_cl) == ZP_ERROR) {
                zp_http_proxy_finalize(u, ZP_ERROR);
            } else {
                zp_http_proxy_done(u);
            }
            return;
        }

        if (n == 0 || n == ZP_ERROR) {
            zp_log_error(ZP_LOG_ERR, &u->log, n == 0 ? 0 : errno,
                         n == 0 ? "upstream prematurely closed connection"
                                : "recv() failed");
            /* the head is out: the client must see a broken response */
            zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
            return;
        }
    }
}


static void
zp_http_proxy_read_handler(zp_event_t *rev)
{
    zp_connection_t     *c = rev->data;
    zp_http_proxy_ctx_t *u = c->data;

    if (rev->timedout) {
        rev->timedout = 0;
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!u->connected) {
        /* a failed connect wakes the read side first */
        zp_http_proxy_write_handler(c->write);
        return;
    }

    if (u->phase < ZP_HTTP_PROXY_ST_BODY) {
        zp_http_proxy_process_header(u);
        return;
    }

    if (u->phase == ZP_HTTP_PROXY_ST_BODY && !u->blocked) {
        zp_http_proxy_process_body(u);
    }
}


/* ---- the end -------------------------------------------------------------------- */

/* Ends the request: rc is ZP_DONE, ZP_ERROR or a status to answer with. */
static void
zp_http_proxy_finalize(zp_http_proxy_ctx_t *u, zp_int_t rc)
{
    zp_http_request_t *r  = u->r;
    zp_connection_t   *cc = r->connection;

    if (u->finished) {
        return;
    }
    u->finished = 1;

    if (u->pc) {
        zp_http_proxy_close_peer_connection(u);
    }
    if (u->peer) {
        zp_http_upstream_free_peer(&u->us->group, u->peer, 0);
        u->peer = NULL;
    }

    r->read_event_handler  = NULL;
    r->write_event_handler = NULL;

    if (cc->read->timer_set) {
        zp_event_del_timer(cc->read);
    }

    if (rc >= 400 && !r->header_sent) {
        zp_http_finalize_request(r, rc);
        return;
    }

    zp_http_finalize_request(r, rc == ZP_DONE ? ZP_DONE : ZP_ERROR);
}


/* ---- upstream TLS (proxy_pass https://) ------------------------------------------ */

/*
 * The TCP connection to the peer is up. For https:// the TLS handshake
 * comes first (zp_http_proxy_ssl_handshake(); its end sends the request),
 * still under the connect's timer: proxy_connect_timeout bounds connect
 * and handshake together, as in nginx. A connection from the pool has
 * done both already and never comes here.
 */
static void
zp_http_proxy_connected(zp_http_proxy_ctx_t *u)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->conf->https && u->pc->ssl == NULL) {
        zp_http_proxy_ssl_handshake(u);
        return;
    }
#endif

    if (u->pc->write->timer_set) {
        zp_event_del_timer(u->pc->write);
    }

    u->connected = 1;
    zp_http_proxy_send(u);
}


/* What a pooled connection is kept under besides its peer. */
static void *
zp_http_proxy_ssl_key(zp_http_proxy_ctx_t *u)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    if (u->conf->https) {
        return u->conf->ssl;
    }
#endif
    return NULL;
}


/* May this connection serve another request? A TLS one must not hold
 * bytes that OpenSSL read past the response. */
static zp_uint_t
zp_http_proxy_reusable(zp_connection_t *c)
{
#if (ZP_HAVE_HTTP_SSL_MODULE)
    zp_ssl_connection_t *sc = c->ssl;

    if (sc) {
        return sc->ssl && sc->handshaked && !sc->no_send_shutdown && !c->read->error
               && !c->write->error && !SSL_has_pending(sc->ssl);
    }
#else
    (void) c;
#endif
    return 1;
}


#if (ZP_HAVE_HTTP_SSL_MODULE)

#define ZP_HTTP_PROXY_SSL_POOL 1024 /* the SSL's pool: its state and writev buffer */


static void
zp_http_proxy_ssl_create_conf(zp_http_proxy_ssl_conf_t *sc)
{
    /* zp_pcalloc: files, name, ciphers and protocols unset */
    sc->verify        = ZP_CONF_UNSET;
    sc->verify_depth  = ZP_CONF_UNSET;
    sc->server_name   = ZP_CONF_UNSET;
    sc->session_reuse = ZP_CONF_UNSET;
}


/* proxy_ssl_trusted_certificate, proxy_ssl_certificate(_key) file; */
static char *
zp_http_proxy_ssl_file_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t                 *value = cf->args->elts;
    zp_http_proxy_ssl_file_t *f;

    f = (zp_http_proxy_ssl_file_t *) ((char *) conf + cmd->offset);
    if (f->name.data) {
        return "is duplicate";
    }

    f->name      = value[1];
    f->file_name = cf->conf_file->file.name;
    f->line      = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_ssl_verify on|off; its line is where a missing CA is reported */
static char *
zp_http_proxy_ssl_verify_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char                     *rv;
    zp_http_proxy_rte_conf_t *plcf = conf;

    rv = zp_conf_set_flag_slot(cf, cmd, conf);
    if (rv != ZP_CONF_OK) {
        return rv;
    }

    plcf->ssl_conf.verify_file = cf->conf_file->file.name;
    plcf->ssl_conf.verify_line = cf->conf_file->line;
    return ZP_CONF_OK;
}


/* proxy_ssl_protocols TLSv1.2 TLSv1.3; */
static char *
zp_http_proxy_ssl_protocols_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_uint_t *mask  = (zp_uint_t *) ((char *) conf + cmd->offset);
    zp_str_t  *value = cf->args->elts;
    zp_uint_t  i, m;

    if (*mask) {
        return "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        for (m = 0; zp_http_proxy_ssl_protocols[m].name.len; m++) {
            if (zp_str_eq(&value[i], &zp_http_proxy_ssl_protocols[m].name)) {
                *mask |= zp_http_proxy_ssl_protocols[m].mask;
                break;
            }
        }
        if (zp_http_proxy_ssl_protocols[m].name.len == 0) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    return ZP_CONF_OK;
}


/* Logs a configuration error at file:line (a directive read earlier). */
static void
zp_http_proxy_ssl_conf_error(zp_conf_t *cf, zp_str_t *file, zp_uint_t line, const char *fmt,
                             const char *a, const char *b)
{
    zp_conf_file_t where, *saved = cf->conf_file;

    zp_memzero(&where, sizeof(where));
    where.file.name = *file;
    where.line      = line;
    cf->conf_file   = &where;
    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, fmt, a, b);
    cf->conf_file = saved;
}


static void
zp_http_proxy_ssl_cleanup(void *data)
{
    zp_uint_t                    i;
    zp_http_proxy_ssl_t         *ssl = data;
    zp_http_proxy_ssl_session_t *s   = ssl->sessions.elts;

    for (i = 0; i < ssl->sessions.nelts; i++) {
        if (s[i].session) {
            SSL_SESSION_free(s[i].session);
            s[i].session = NULL;
        }
    }

    SSL_CTX_free(ssl->ctx);
    ssl->ctx = NULL;
}


/* A readable file, resolved against the conf prefix, NUL-terminated. */
static zp_int_t
zp_http_proxy_ssl_path(zp_conf_t *cf, zp_http_proxy_ssl_file_t *f, const char *what,
                       zp_str_t *path)
{
    char msg[256];

    *path = f->name;
    if (zp_conf_full_name(cf->cycle, path, 1) != ZP_OK) {
        return ZP_ERROR;
    }

    if (access((char *) path->data, R_OK) == -1) {
        snprintf(msg, sizeof(msg), "cannot read %s \"%%s\": %%s", what);
        zp_http_proxy_ssl_conf_error(cf, &f->file_name, f->line, msg, (char *) path->data,
                                     strerror(errno));
        return ZP_ERROR;
    }

    return ZP_OK;
}


/* The SSL_CTX of a set of settings, with its files read now. */
static SSL_CTX *
zp_http_proxy_ssl_create_ctx(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *sc, zp_str_t *file,
                             zp_uint_t line)
{
    int       min = 0, max = 0;
    char      err[1024];
    SSL_CTX  *ctx;
    zp_str_t  path, kpath;
    zp_uint_t i;
    static const struct {
        zp_uint_t bit;
        int       version;
        uint64_t  op;
    } vers[] = {
        {ZP_HTTP_PROXY_SSL_TLSv1, TLS1_VERSION, SSL_OP_NO_TLSv1},
        {ZP_HTTP_PROXY_SSL_TLSv1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1},
        {ZP_HTTP_PROXY_SSL_TLSv1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2},
        {ZP_HTTP_PROXY_SSL_TLSv1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3},
    };

    ERR_clear_error();

    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || zp_ssl_client_ctx_init(ctx, sc->session_reuse) != ZP_OK) {
        zp_http_proxy_ssl_conf_error(cf, file, line, "SSL_CTX_new() failed: %s%s",
                                     zp_ssl_error_string(err, sizeof(err)), "");
        SSL_CTX_free(ctx);
        return NULL;
    }

    /* the range from the lowest to the highest one named, the ones
     * between that are not named switched off, as for ssl_protocols */
    for (i = 0; i < zp_nelems(vers); i++) {
        if (sc->protocols & vers[i].bit) {
            min = min ? min : vers[i].version;
            max = vers[i].version;
        }
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    for (i = 0; i < zp_nelems(vers); i++) {
        if (!(sc->protocols & vers[i].bit)) {
            SSL_CTX_set_options(ctx, vers[i].op);
        }
    }

    if (SSL_CTX_set_cipher_list(ctx, (char *) sc->ciphers.data) != 1) {
        zp_http_proxy_ssl_conf_error(cf, file, line, "proxy_ssl_ciphers \"%s\" is invalid: %s",
                                     (char *) sc->ciphers.data,
                                     zp_ssl_error_string(err, sizeof(err)));
        goto failed;
    }

    if (sc->certificate.name.data) {
        if (zp_http_proxy_ssl_path(cf, &sc->certificate, "certificate", &path) != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_use_certificate_chain_file(ctx, (char *) path.data) != 1) {
            zp_http_proxy_ssl_conf_error(cf, &sc->certificate.file_name, sc->certificate.line,
                                         "cannot load certificate \"%s\": %s", (char *) path.data,
                                         zp_ssl_error_string(err, sizeof(err)));
            goto failed;
        }
        if (zp_http_proxy_ssl_path(cf, &sc->certificate_key, "certificate key", &kpath)
            != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, (char *) kpath.data, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1) {
            zp_ssl_error_string(err, sizeof(err));
            if (strstr(err, "key values mismatch") || err[0] == '\0') {
                zp_http_proxy_ssl_conf_error(cf, &sc->certificate_key.file_name,
                                             sc->certificate_key.line,
                                             "certificate key \"%s\" does not match certificate "
                                             "\"%s\"",
                                             (char *) kpath.data, (char *) path.data);
            } else {
                zp_http_proxy_ssl_conf_error(cf, &sc->certificate_key.file_name,
                                             sc->certificate_key.line,
                                             "cannot load certificate key \"%s\": %s",
                                             (char *) kpath.data, err);
            }
            goto failed;
        }
    }

    if (sc->verify) {
        if (zp_http_proxy_ssl_path(cf, &sc->trusted_certificate, "trusted certificate", &path)
            != ZP_OK) {
            goto failed;
        }
        if (SSL_CTX_load_verify_locations(ctx, (char *) path.data, NULL) != 1) {
            zp_http_proxy_ssl_conf_error(cf, &sc->trusted_certificate.file_name,
                                         sc->trusted_certificate.line,
                                         "cannot load trusted certificate \"%s\": %s",
                                         (char *) path.data,
                                         zp_ssl_error_string(err, sizeof(err)));
            goto failed;
        }
        /* a failed check ends the handshake: no request goes to a peer
         * that is not the one named */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, (int) sc->verify_depth);

    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }

    ERR_clear_error();
    return ctx;

failed:
    SSL_CTX_free(ctx);
    return NULL;
}


/* The settings of conf: what it sets, else its parent's, else defaults. */
static char *
zp_http_proxy_ssl_merge_conf(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *prev,
                             zp_http_proxy_ssl_conf_t *conf)
{
    zp_conf_merge_value(conf->verify, prev->verify, 0);
    zp_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    zp_conf_merge_value(conf->server_name, prev->server_name, 0);
    zp_conf_merge_value(conf->session_reuse, prev->session_reuse, 1);

    if (conf->trusted_certificate.name.data == NULL) {
        conf->trusted_certificate = prev->trusted_certificate;
    }
    if (conf->certificate.name.data == NULL && conf->certificate_key.name.data == NULL) {
        conf->certificate     = prev->certificate;
        conf->certificate_key = prev->certificate_key;
    }
    if (conf->name.data == NULL) {
        conf->name = prev->name;
    }
    if (conf->verify_file.data == NULL) {
        conf->verify_file = prev->verify_file;
        conf->verify_line = prev->verify_line;
    }
    if (conf->protocols == 0) {
        conf->protocols = prev->protocols ? prev->protocols
                                          : (ZP_HTTP_PROXY_SSL_TLSv1_2 | ZP_HTTP_PROXY_SSL_TLSv1_3);
    }
    zp_conf_merge_str_value(conf->ciphers, prev->ciphers, "DEFAULT");

    if (conf->verify_depth < 0 || conf->verify_depth > 100) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_ssl_verify_depth\" must be 0..100");
        return ZP_CONF_ERROR;
    }

    if ((conf->certificate.name.data == NULL) != (conf->certificate_key.name.data == NULL)) {
        if (conf->certificate.name.data) {
            zp_http_proxy_ssl_conf_error(cf, &conf->certificate.file_name, conf->certificate.line,
                                         "no \"proxy_ssl_certificate_key\" is defined for "
                                         "certificate \"%s\"%s",
                                         (char *) conf->certificate.name.data, "");
        } else {
            zp_http_proxy_ssl_conf_error(cf, &conf->certificate_key.file_name,
                                         conf->certificate_key.line,
                                         "no \"proxy_ssl_certificate\" is defined for "
                                         "certificate key \"%s\"%s",
                                         (char *) conf->certificate_key.name.data, "");
        }
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


/* Does this level set any proxy_ssl_* directive? */
static zp_uint_t
zp_http_proxy_ssl_sets_any(zp_http_proxy_ssl_conf_t *sc)
{
    return sc->verify != ZP_CONF_UNSET || sc->verify_depth != ZP_CONF_UNSET
           || sc->server_name != ZP_CONF_UNSET || sc->session_reuse != ZP_CONF_UNSET
           || sc->trusted_certificate.name.data || sc->certificate.name.data
           || sc->certificate_key.name.data || sc->name.data || sc->protocols
           || sc->ciphers.data;
}


static zp_http_proxy_ssl_t *
zp_http_proxy_ssl_new(zp_conf_t *cf, zp_http_proxy_ssl_conf_t *merged)
{
    zp_pool_cleanup_t   *cln;
    zp_http_proxy_ssl_t *ssl;

    ssl = zp_pcalloc(cf->pool, sizeof(zp_http_proxy_ssl_t));
    if (ssl == NULL
        || zp_array_init(&ssl->sessions, cf->pool, 4, sizeof(zp_http_proxy_ssl_session_t))
               != ZP_OK) {
        return NULL;
    }

    cln = zp_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }
    cln->handler = zp_http_proxy_ssl_cleanup;
    cln->data    = ssl;

    ssl->conf = *merged;
    return ssl;
}


/* The name for SNI and the certificate check: proxy_ssl_name, else the
 * host of proxy_pass (the upstream's name), without a port either way, as
 * nginx does. */
static zp_int_t
zp_http_proxy_ssl_host(zp_conf_t *cf, zp_http_proxy_rte_conf_t *conf)
{
    u_char          *p, *last;
    zp_str_t         name;
    struct in6_addr  a6;
    struct in_addr   a4;

    name = conf->ssl->conf.name.data ? conf->ssl->conf.name : conf->host;
    last = name.data + name.len;

    if (name.len && name.data[0] == '[') {
        p = memchr(name.data, ']', name.len);
        if (p) {
            name.data++;
            last = p;
        }
    } else {
        p = memchr(name.data, ':', name.len);
        if (p && memchr(p + 1, ':', last - p - 1) == NULL) {
            last = p; /* host:port, not a bare IPv6 address */
        }
    }
    name.len = last - name.data;

    if (name.len == 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"proxy_ssl_name\" is empty for upstream \"%V\"",
                          &conf->host);
        return ZP_ERROR;
    }

    conf->ssl_host = zp_pnalloc(cf->pool, name.len + 1);
    if (conf->ssl_host == NULL) {
        return ZP_ERROR;
    }
    zp_memcpy(conf->ssl_host, name.data, name.len);
    conf->ssl_host[name.len] = '\0';

    /* an address is checked as one, and never goes as SNI (RFC 6066) */
    conf->ssl_host_is_ip = inet_pton(AF_INET, conf->ssl_host, &a4) == 1
                           || inet_pton(AF_INET6, conf->ssl_host, &a6) == 1;
    return ZP_OK;
}


/* Gives an https:// level its SSL_CTX (shared with the parent when it
 * sets nothing of its own) and the session slots of its peers. */
static char *
zp_http_proxy_ssl_merge(zp_conf_t *cf, zp_http_proxy_rte_conf_t *prev,
                        zp_http_proxy_rte_conf_t *conf)
{
    zp_uint_t                    i, j, k, n;
    zp_array_t                  *peers[2];
    zp_str_t                    *file;
    zp_uint_t                    line;
    zp_http_upstream_peer_t     *p;
    zp_http_proxy_ssl_session_t *s;
    zp_http_proxy_ssl_conf_t     merged;
    zp_http_proxy_ssl_t         *ssl;

    merged = conf->ssl_conf;
    if (zp_http_proxy_ssl_merge_conf(cf, &prev->ssl_conf, &merged) != ZP_CONF_OK) {
        return ZP_CONF_ERROR;
    }

    if (!zp_http_proxy_ssl_sets_any(&conf->ssl_conf)) {
        if (prev->ssl == NULL) {
            prev->ssl = zp_http_proxy_ssl_new(cf, &merged);
            if (prev->ssl == NULL) {
                return ZP_CONF_ERROR;
            }
        }
        conf->ssl = prev->ssl;
    } else {
        conf->ssl = zp_http_proxy_ssl_new(cf, &merged);
        if (conf->ssl == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    /* what the children inherit */
    conf->ssl_conf = merged;

    if (!conf->https || conf->upstream == NULL) {
        return ZP_CONF_OK;
    }

    ssl = conf->ssl;

    if (ssl->ctx == NULL) {
        file = &conf->pass_file;
        line = conf->pass_line;

        if (ssl->conf.verify && ssl->conf.trusted_certificate.name.data == NULL) {
            if (ssl->conf.verify_file.data) {
                file = &ssl->conf.verify_file;
                line = ssl->conf.verify_line;
            }
            zp_http_proxy_ssl_conf_error(cf, file, line,
                                         "no \"proxy_ssl_trusted_certificate\" for "
                                         "\"proxy_ssl_verify on\"%s%s",
                                         "", "");
            return ZP_CONF_ERROR;
        }

        ssl->ctx = zp_http_proxy_ssl_create_ctx(cf, &ssl->conf, file, line);
        if (ssl->ctx == NULL) {
            return ZP_CONF_ERROR;
        }
    }

    if (zp_http_proxy_ssl_host(cf, conf) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    /* a slot per peer: filled per worker, looked up by the peer */
    peers[0] = &conf->upstream->group.peers;
    peers[1] = &conf->upstream->group.backups;

    for (k = 0; k < 2; k++) {
        p = peers[k]->elts;
        n = peers[k]->nalloc ? peers[k]->nelts : 0;

        for (i = 0; i < n; i++) {
            s = ssl->sessions.elts;
            for (j = 0; j < ssl->sessions.nelts; j++) {
                if (s[j].peer == &p[i]) {
                    break;
                }
            }
            if (j < ssl->sessions.nelts) {
                continue;
            }
            s = zp_array_push(&ssl->sessions);
            if (s == NULL) {
                return ZP_CONF_ERROR;
            }
            s->peer    = &p[i];
            s->session = NULL;
        }
    }

    return ZP_CONF_OK;
}


static SSL_SESSION **
zp_http_proxy_ssl_slot(zp_http_proxy_ssl_t *ssl, zp_http_upstream_peer_t *peer)
{
    zp_uint_t                    i;
    zp_http_proxy_ssl_session_t *s = ssl->sessions.elts;

    for (i = 0; i < ssl->sessions.nelts; i++) {
        if (s[i].peer == peer) {
            return &s[i].session;
        }
    }
    return NULL;
}


static void zp_http_proxy_ssl_handshake_done(zp_connection_t *c);


/* Starts the TLS handshake on a new connection, under what is left of
 * proxy_connect_timeout (the connect's timer, or a new one when connect()
 * succeeded at once). */
static void
zp_http_proxy_ssl_handshake(zp_http_proxy_ctx_t *u)
{
    zp_int_t                  rc;
    zp_connection_t          *c    = u->pc;
    zp_http_proxy_rte_conf_t *conf = u->conf;
    zp_http_proxy_ssl_t      *ssl  = conf->ssl;
    zp_ssl_connection_t      *sc;

    u->action = "SSL handshaking to upstream";

    c->pool = zp_create_pool(ZP_HTTP_PROXY_SSL_POOL, c->log);
    if (c->pool == NULL
        || zp_ssl_client_create_connection(
               ssl->ctx, c, ssl->conf.server_name && !conf->ssl_host_is_ip ? conf->ssl_host : NULL,
               ssl->conf.verify ? conf->ssl_host : NULL, conf->ssl_host_is_ip,
               ssl->conf.session_reuse ? zp_http_proxy_ssl_slot(ssl, u->peer) : NULL)
               != ZP_OK) {
        zp_http_proxy_finalize(u, ZP_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    sc          = c->ssl;
    sc->handler = zp_http_proxy_ssl_handshake_done;

    rc = zp_ssl_connect(c);

    if (rc == ZP_AGAIN) {
        if (!c->write->timer_set) {
            zp_event_add_timer(c->write, conf->connect_timeout);
        }
        return;
    }

    zp_http_proxy_ssl_handshake_done(c);
}


/* The handshake ended: a failure counts against the peer like a failed
 * connect (next upstream, passive health). */
static void
zp_http_proxy_ssl_handshake_done(zp_connection_t *c)
{
    zp_http_proxy_ctx_t *u  = c->data;
    zp_ssl_connection_t *sc = c->ssl;

    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }
    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }

    if (c->timedout) {
        zp_log_error(ZP_LOG_ERR, &u->log, ETIMEDOUT, "upstream timed out");
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_TIMEOUT, 0);
        return;
    }

    if (!sc->handshaked) {
        zp_http_proxy_next(u, ZP_HTTP_PROXY_FT_ERROR, 0);
        return;
    }

    zp_log_debug(ZP_LOG_DEBUG_HTTP, &u->log, 0, "upstream SSL handshake done, session reused: %ui",
                 zp_ssl_session_reused(c));

    c->read->handler  = zp_http_proxy_read_handler;
    c->write->handler = zp_http_proxy_write_handler;
    u->connected      = 1;

    zp_http_proxy_send(u);
}


/* zp_http_proxy_recv() over TLS: the same results. */
static ssize_t
zp_http_proxy_ssl_recv(zp_http_proxy_ctx_t *u, zp_buf_t *b)
{
    ssize_t          n;
    zp_connection_t *c = u->pc;

    n = c->recv(c, b->last, b->end - b->last);

    if (n > 0) {
        b->last += n;
        u->got_any = 1;
    }

    return n;
}


/* zp_http_proxy_write() over TLS. OpenSSL wants a write that must be
 * retried to be retried with the same leading bytes: so it is, since the
 * head and the body buffer only move forward until all of them is out. */
static zp_int_t
zp_http_proxy_ssl_write(zp_http_proxy_ctx_t *u)
{
    int              n;
    size_t           k;
    ssize_t          sent;
    struct iovec     iov[2];
    zp_buf_t        *h = u->head, *b = u->body;
    zp_connection_t *c = u->pc;

    for (;;) {
        n = 0;
        if (h->pos < h->last) {
            iov[n].iov_base = h->pos;
            iov[n].iov_len  = h->last - h->pos;
            n++;
        }
        if (b && b->pos < b->last) {
            iov[n].iov_base = b->pos;
            iov[n].iov_len  = b->last - b->pos;
            n++;
        }
        if (n == 0) {
            return ZP_OK;
        }

        sent = c->writev(c, iov, n);

        if (sent == ZP_AGAIN) {
            return ZP_AGAIN;
        }
        if (sent <= 0) {
            return ZP_ERROR;
        }

        u->sent_any = 1;
        c->sent += sent;

        k = zp_min((size_t) sent, (size_t) (h->last - h->pos));
        h->pos += k;
        if (b) {
            b->pos += (size_t) sent - k;
        }
    }
}

#endif /* ZP_HAVE_HTTP_SSL_MODULE */
