/*
 * zp_connection.h: listening sockets and connections.
 *
 * The master opens every listening socket; workers inherit them through
 * fork and, across a binary upgrade, through exec (ZPROXY=fd;fd;...).
 * Each worker preallocates worker_connections connections and their
 * read/write events and keeps the unused ones on a free list.
 */
#ifndef ZP_CONNECTION_H
#define ZP_CONNECTION_H

#include <zp_config.h>
#include <zp_core.h>

struct zp_listening_s {
    zp_socket_t               fd;
    zp_sockaddr_t             sockaddr;
    socklen_t                 socklen;
    zp_str_t                  addr_text;
    u_char                    addr_text_buf[ZP_SOCKADDR_STRLEN];

    int                       backlog;
    int                       rcvbuf;
    int                       sndbuf;
    int                       fastopen;

    zp_connection_handler_pt  handler;  /* called for every accepted connection */
    void                     *servers;  /* protocol-specific: e.g. the http servers on it */

    zp_log_t                  log;
    size_t                    pool_size;

    zp_listening_t           *previous;
    zp_connection_t          *connection;

    zp_uint_t                 worker;   /* with reuseport: the worker owning this copy */

    unsigned                  open:1;
    unsigned                  remain:1;
    unsigned                  ignore:1;
    unsigned                  inherited:1;
    unsigned                  listen:1;
    unsigned                  reuseport:1;
    unsigned                  add_reuseport:1;
    unsigned                  deferred_accept:1;
    unsigned                  delay_ack:1;  /* TCP_QUICKACK 0 on the listener */
    unsigned                  ipv6only:1;
};

/* >0 bytes, 0 at EOF (recv), ZP_AGAIN (the event's ready flag drops) or
 * ZP_ERROR (logged); send/writev may write less than asked */
typedef ssize_t (*zp_recv_pt)(zp_connection_t *c, u_char *buf, size_t size);
typedef ssize_t (*zp_send_pt)(zp_connection_t *c, u_char *buf, size_t size);
typedef ssize_t (*zp_writev_pt)(zp_connection_t *c, struct iovec *iov, int n);

struct zp_connection_s {
    void               *data;
    zp_event_t         *read;
    zp_event_t         *write;
    zp_socket_t         fd;

    zp_listening_t     *listening;
    zp_log_t           *log;
    zp_pool_t          *pool;

    zp_recv_pt          recv;
    zp_send_pt          send;
    zp_writev_pt        writev;
    void               *ssl;        /* the TLS layer's state, when there is one */

    zp_sockaddr_t       sockaddr;
    socklen_t           socklen;
    zp_str_t            addr_text;

    zp_buf_t           *buffer;
    /* an accepted connection's log (c->log points here): in the slot, not
     * in c->pool, so that an idle connection can give its pool back */
    zp_log_t            conn_log;
    zp_queue_t          queue;      /* in reusable_connections_queue when idle */
    off_t               sent;
    zp_uint_t           number;
    zp_uint_t           requests;
    zp_msec_t           idle_since;

    unsigned            idle:1;     /* between requests: may be closed when draining */
    unsigned            reusable:1;
    unsigned            close:1;
    unsigned            destroyed:1;
    unsigned            error:1;
    unsigned            timedout:1;
    unsigned            tcp_nodelay:1;
    /* the connection closes (or shuts down) right after this write: the
     * kernel may hold the tail, so that the FIN rides in its segment */
    unsigned            fin_follows:1;
};

zp_listening_t *zp_create_listening(zp_conf_t *cf, struct sockaddr *sa, socklen_t socklen);
zp_int_t zp_clone_listening(zp_cycle_t *cycle, zp_listening_t *ls);
zp_int_t zp_set_inherited_sockets(zp_cycle_t *cycle);
zp_int_t zp_open_listening_sockets(zp_cycle_t *cycle);
void     zp_configure_listening_sockets(zp_cycle_t *cycle);
void     zp_close_listening_sockets(zp_cycle_t *cycle);

zp_connection_t *zp_get_connection(zp_socket_t s, zp_log_t *log);
void             zp_free_connection(zp_connection_t *c);
void             zp_close_connection(zp_connection_t *c);
void             zp_reusable_connection(zp_connection_t *c, zp_uint_t reusable);
/* Sets TCP_NODELAY on c's socket, once (c->tcp_nodelay). */
void             zp_tcp_nodelay(zp_connection_t *c);
/* Sends the ACK its socket delays now (plain listeners delay them, see
 * zp_configure_listening_sockets()): c waits for more of a request. */
void             zp_tcp_push_ack(zp_connection_t *c);
/* A draining worker closes idle connections that have been idle longer
 * than idle_ms; returns how many connections are still open. */
zp_uint_t        zp_close_idle_connections(zp_cycle_t *cycle, zp_msec_t idle_ms);

ssize_t zp_unix_recv(zp_connection_t *c, u_char *buf, size_t size);
ssize_t zp_unix_send(zp_connection_t *c, u_char *buf, size_t size);
ssize_t zp_unix_writev(zp_connection_t *c, struct iovec *iov, int n);

extern zp_uint_t zp_connection_counter;

/* Pools of accepted connections, reused (see zp_pool_cache_t). */
extern zp_pool_cache_t zp_connection_pools;

#endif /* ZP_CONNECTION_H */
