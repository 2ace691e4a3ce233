/*
 * zp_http_request.h: the request object, independent of the wire protocol.
 *
 * A protocol module (http1 now, h2 later) owns the connection: it parses
 * bytes into a zp_http_request_t (method, target, a list of headers),
 * hands it to zp_http_process_request(), and serializes what the core
 * produces (headers_out, then body chains) through its zp_http_proto_t.
 * Everything between, from routing to the log phase, sees only this
 * object, so HTTP/2 streams and WebSocket upgrades reuse it unchanged.
 */
#ifndef ZP_HTTP_REQUEST_H
#define ZP_HTTP_REQUEST_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct zp_http_request_s zp_http_request_t;
typedef struct zp_table_elt_s    zp_table_elt_t;

/* one header line; same-name headers are chained through next */
struct zp_table_elt_s {
    zp_uint_t       hash;      /* 0: deleted */
    zp_str_t        key;
    zp_str_t        value;
    u_char         *lowcase_key;
    zp_table_elt_t *next;
};

typedef struct {
    zp_list_t       headers;   /* zp_table_elt_t, in arrival order */

    zp_table_elt_t *host;
    zp_table_elt_t *connection;
    zp_table_elt_t *content_length;
    zp_table_elt_t *transfer_encoding;
    zp_table_elt_t *te;
    zp_table_elt_t *expect;
    zp_table_elt_t *upgrade;
    zp_table_elt_t *user_agent;
    zp_table_elt_t *referer;
    zp_table_elt_t *authorization;
    zp_table_elt_t *x_forwarded_for;
    zp_table_elt_t *x_request_id;

    zp_str_t        server;            /* host without port, lower-case */
    off_t           content_length_n;  /* -1: none */
    /* chunked: the codings before it, to pass on ("gzip, x;p=v"), or "" */
    zp_str_t        transfer_codings;

    unsigned        chunked:1;
    unsigned        connection_close:1;
    unsigned        connection_keep_alive:1;
    unsigned        expect_continue:1;
    /*
     * Forwarded, but a next hop could frame it differently (docs/http1.md):
     * a field name that is Content-Length or Transfer-Encoding give or take
     * '-' and '_' ("Transfer---Encoding"), or a body on GET or HEAD. A
     * proxy must not reuse its upstream connection after such a request.
     */
    unsigned        ambiguous:1;
} zp_http_headers_in_t;

typedef struct {
    zp_list_t       headers;           /* zp_table_elt_t added by modules */
    zp_uint_t       status;
    zp_str_t        content_type;
    off_t           content_length_n;  /* -1: unknown, the protocol frames it */
} zp_http_headers_out_t;

/* what the protocol module does for the core */
typedef struct {
    /* writes the status line and headers_out; ZP_OK, ZP_AGAIN or ZP_ERROR */
    zp_int_t (*send_header)(zp_http_request_t *r);
    /* writes body bufs (framing them as the protocol does); in may be NULL
     * to flush; a buf with last_buf ends the body */
    zp_int_t (*send_body)(zp_http_request_t *r, zp_chain_t *in);
    /* the request is over (logged): keep-alive, close or next stream */
    void     (*finalize)(zp_http_request_t *r, zp_int_t rc);
    /* drops the request body, if any, before the response */
    zp_int_t (*discard_body)(zp_http_request_t *r);
    /* reads decoded request body bytes: > 0 bytes, 0 at the end of the
     * body, ZP_AGAIN (r->read_event_handler runs when more arrives), or
     * ZP_ERROR (r->status may say why: 413 for a chunked body over
     * client_max_body_size, 400 for a bad chunk) */
    ssize_t  (*read_body)(zp_http_request_t *r, u_char *buf, size_t size);
    /* send_body takes in_pipe bufs (zp_buf.h) on a plain socket */
    unsigned   splice:1;
} zp_http_proto_t;

typedef void (*zp_http_event_handler_pt)(zp_http_request_t *r);

#define ZP_HTTP_MAX_CAPTURES 10

struct zp_http_request_s {
    zp_connection_t       *connection;
    zp_pool_t             *pool;
    zp_http_proto_t       *proto;
    void                  *proto_ctx;

    void                 **main_conf;
    void                 **srv_conf;
    void                 **rte_conf;

    zp_uint_t              method;          /* ZP_HTTP_GET ... */
    zp_uint_t              http_version;    /* 9, 1000, 1001 */
    zp_str_t               method_name;
    zp_str_t               request_line;
    zp_str_t               unparsed_uri;    /* the target as sent, with args */
    zp_str_t               uri;             /* the normalized path, for routing */
    zp_str_t               args;
    zp_str_t               http_protocol;

    zp_http_headers_in_t   headers_in;
    zp_http_headers_out_t  headers_out;

    /* route parameters and regex captures, as slices of r->uri */
    zp_uint_t              nparams;
    zp_str_t              *param_names;
    zp_str_t              *param_values;
    zp_uint_t              ncaptures;
    int                    captures[2 * ZP_HTTP_MAX_CAPTURES];

    void                  *variables;       /* per-request cache of variable values */
    void                  *upstream;        /* the proxy's state, for $upstream_* */

    /* what a content handler that waits (the proxy) wants to hear of:
     * the client sent more, or the response drained to the client */
    zp_http_event_handler_pt read_event_handler;
    zp_http_event_handler_pt write_event_handler;
    zp_str_t               request_id;

    zp_uint_t              status;
    off_t                  body_bytes_sent;
    off_t                  request_length;
    zp_msec_t              start_msec;
    time_t                 start_sec;

    unsigned               keepalive:1;
    unsigned               lingering_close:1;
    unsigned               header_only:1;
    unsigned               header_sent:1;
    unsigned               logged:1;
    unsigned               body_started:1;  /* some request body was read */
};

/* HTTP/0.9: no header lines either way, the answer is the body alone */
#define ZP_HTTP_VERSION_9  9
#define ZP_HTTP_VERSION_10 1000
#define ZP_HTTP_VERSION_11 1001

/* Protocol side: a parsed request head is complete. Selects the server by
 * Host, routes, and runs the phases. */
void zp_http_process_request(zp_http_request_t *r);

/* Checks the request head (Host, Content-Length vs Transfer-Encoding,
 * Connection, Expect) once all headers are in; returns ZP_OK or the status
 * to reject the request with. */
zp_int_t zp_http_process_request_headers(zp_http_request_t *r);

/* Adds a header to headers_in, filling the known-header pointers;
 * returns ZP_OK, or a status (400) when it conflicts with one already seen. */
zp_int_t zp_http_add_header_in(zp_http_request_t *r, zp_str_t *name, u_char *lowcase,
                               zp_uint_t hash, zp_str_t *value);

/* Checks a host (from Host or an absolute-form target) and sets
 * r->headers_in.server: lower-cased, without port and trailing dot. */
zp_int_t zp_http_validate_host(zp_http_request_t *r, zp_str_t *host);

/* Looks up a request header by lower-case name; NULL if absent. */
zp_table_elt_t *zp_http_find_header_in(zp_http_request_t *r, zp_str_t *lowcase_name);

/* Content handlers answer through these. zp_http_output returns ZP_OK
 * when everything went out, ZP_AGAIN when some waits for the client (the
 * protocol keeps it and calls r->write_event_handler once it is out), or
 * ZP_ERROR. */
zp_int_t zp_http_send_header(zp_http_request_t *r);
zp_int_t zp_http_output(zp_http_request_t *r, zp_chain_t *in);

/* Answers r with status and a small body (NULL: the standard error page
 * for >= 400) and finishes it. */
void zp_http_send_response(zp_http_request_t *r, zp_uint_t status, zp_str_t *content_type,
                           zp_str_t *body);

/* Ends the request: rc is ZP_DONE/ZP_OK after a response, ZP_ERROR to drop
 * the connection, or a status to answer with first. */
void zp_http_finalize_request(zp_http_request_t *r, zp_int_t rc);

zp_table_elt_t *zp_http_add_header_out(zp_http_request_t *r, const char *name, zp_str_t *value);

const char *zp_http_status_line(zp_uint_t status, size_t *len);

#endif /* ZP_HTTP_REQUEST_H */
