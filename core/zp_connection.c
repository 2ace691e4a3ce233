/*
 * zp_connection.c: listening sockets (master side) and the per-worker
 * connection table.
 */
#include <zp_config.h>
#include <zp_core.h>

zp_uint_t       zp_connection_counter = 1;
zp_pool_cache_t zp_connection_pools;


zp_listening_t *
zp_create_listening(zp_conf_t *cf, struct sockaddr *sa, socklen_t socklen)
{
    zp_listening_t *ls;

    ls = zp_array_push(&cf->cycle->listening);
    if (ls == NULL) {
        return NULL;
    }

    zp_memzero(ls, sizeof(zp_listening_t));
    zp_memcpy(&ls->sockaddr, sa, socklen);
    ls->socklen        = socklen;
    ls->addr_text.len  = zp_sock_ntop(sa, socklen, ls->addr_text_buf, ZP_SOCKADDR_STRLEN, 1);
    ls->addr_text.data = ls->addr_text_buf;
    ls->fd             = -1;
    ls->backlog        = 511;
    ls->rcvbuf         = -1;
    ls->sndbuf         = -1;
    ls->fastopen       = -1;
    ls->pool_size      = 1024;
    ls->log            = *cf->cycle->log;
    ls->log.file       = NULL;

    return ls;
}


/* With reuseport, every worker gets its own socket: n copies, one each. */
zp_int_t
zp_clone_listening(zp_cycle_t *cycle, zp_listening_t *ls)
{
    zp_core_conf_t *ccf;
    zp_listening_t  ols;
    zp_int_t        n;

    if (!ls->reuseport) {
        return ZP_OK;
    }

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);
    ols = *ls;

    for (n = 1; n < ccf->worker_processes; n++) {
        ls = zp_array_push(&cycle->listening);
        if (ls == NULL) {
            return ZP_ERROR;
        }
        *ls               = ols;
        ls->addr_text.data = ls->addr_text_buf;
        ls->worker        = n;
    }

    return ZP_OK;
}


/*
 * A new binary started by USR2 finds the old master's listening sockets
 * in ZPROXY=fd;fd;...; it reads back their addresses and options, and the
 * cycle then reuses them instead of binding again.
 */
zp_int_t
zp_set_inherited_sockets(zp_cycle_t *cycle)
{
    int             type, opt;
    zp_uint_t       worker_seen[64];
    socklen_t       olen;
    zp_listening_t *ls, *prev;
    zp_uint_t       i, j;

    ls = cycle->listening.elts;
    zp_memzero(worker_seen, sizeof(worker_seen));

    for (i = 0; i < cycle->listening.nelts; i++) {
        ls[i].socklen = sizeof(zp_sockaddr_t);
        if (getsockname(ls[i].fd, &ls[i].sockaddr.sa, &ls[i].socklen) == -1) {
            zp_log_error(ZP_LOG_CRIT, cycle->log, errno,
                         "getsockname() of the inherited socket #%d failed", ls[i].fd);
            ls[i].ignore = 1;
            continue;
        }

        olen = sizeof(int);
        if (getsockopt(ls[i].fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 || type != SOCK_STREAM) {
            ls[i].ignore = 1;
            continue;
        }

        ls[i].addr_text.len = zp_sock_ntop(&ls[i].sockaddr.sa, ls[i].socklen, ls[i].addr_text_buf,
                                           ZP_SOCKADDR_STRLEN, 1);
        ls[i].addr_text.data = ls[i].addr_text_buf;
        ls[i].backlog        = 511;
        ls[i].rcvbuf         = -1;
        ls[i].sndbuf         = -1;
        ls[i].fastopen       = -1;
        ls[i].inherited      = 1;

        olen = sizeof(int);
        opt  = 0;
        if (getsockopt(ls[i].fd, SOL_SOCKET, SO_REUSEPORT, &opt, &olen) == 0 && opt) {
            ls[i].reuseport = 1;
            /* copies of one address were passed in worker order */
            for (j = 0, prev = ls; j < i; j++) {
                if (prev[j].reuseport
                    && zp_cmp_sockaddr(&prev[j].sockaddr.sa, prev[j].socklen,
                                       &ls[i].sockaddr.sa, ls[i].socklen) == ZP_OK) {
                    ls[i].worker++;
                }
            }
        }

        zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "using inherited sockets from \"%V\"",
                     &ls[i].addr_text);
    }

    return ZP_OK;
}


zp_int_t
zp_open_listening_sockets(zp_cycle_t *cycle)
{
    int             on;
    zp_uint_t       i;
    zp_socket_t     s;
    zp_listening_t *ls;
    zp_log_t       *log = cycle->log;

    ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].ignore || ls[i].fd != -1) {
            continue;
        }

        s = socket(ls[i].sockaddr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "socket() %V failed", &ls[i].addr_text);
            return ZP_ERROR;
        }

        on = 1;
        if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(int)) == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "setsockopt(SO_REUSEADDR) %V failed",
                         &ls[i].addr_text);
            goto failed;
        }

        if (ls[i].reuseport
            && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(int)) == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "setsockopt(SO_REUSEPORT) %V failed",
                         &ls[i].addr_text);
            goto failed;
        }

        if (ls[i].sockaddr.sa.sa_family == AF_INET6) {
            on = ls[i].ipv6only;
            (void) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(int));
        }

        if (bind(s, &ls[i].sockaddr.sa, ls[i].socklen) == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "bind() to %V failed", &ls[i].addr_text);
            goto failed;
        }

        if (zp_nonblocking(s) != ZP_OK) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "fcntl(O_NONBLOCK) %V failed",
                         &ls[i].addr_text);
            goto failed;
        }

        if (listen(s, ls[i].backlog) == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "listen() to %V, backlog %d failed",
                         &ls[i].addr_text, ls[i].backlog);
            goto failed;
        }

        ls[i].fd     = s;
        ls[i].listen = 1;
        ls[i].open   = 1;
        continue;

    failed:
        close(s);
        return ZP_ERROR;
    }

    return ZP_OK;
}


/* Options that may change on reload are (re)applied to every socket. */
void
zp_configure_listening_sockets(zp_cycle_t *cycle)
{
    int             value;
    zp_uint_t       i;
    zp_listening_t *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1) {
            continue;
        }

        if (ls[i].rcvbuf != -1) {
            (void) setsockopt(ls[i].fd, SOL_SOCKET, SO_RCVBUF, &ls[i].rcvbuf, sizeof(int));
        }
        if (ls[i].sndbuf != -1) {
            (void) setsockopt(ls[i].fd, SOL_SOCKET, SO_SNDBUF, &ls[i].sndbuf, sizeof(int));
        }

#ifdef TCP_FASTOPEN
        if (ls[i].fastopen != -1
            && setsockopt(ls[i].fd, IPPROTO_TCP, TCP_FASTOPEN, &ls[i].fastopen, sizeof(int))
                   == -1) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno,
                         "setsockopt(TCP_FASTOPEN, %d) %V failed, ignored", ls[i].fastopen,
                         &ls[i].addr_text);
        }
#endif

#ifdef TCP_DEFER_ACCEPT
        value = ls[i].deferred_accept ? 1 : 0;
        (void) setsockopt(ls[i].fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, sizeof(int));
#endif

        /* a changed backlog takes effect by calling listen() again */
        if (listen(ls[i].fd, ls[i].backlog) == -1) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "listen() to %V, backlog %d failed",
                         &ls[i].addr_text, ls[i].backlog);
        }

#ifdef TCP_QUICKACK
        /*
         * Accepted sockets inherit delayed ACKs from the listener (after
         * listen(), which resets them). Linux would otherwise ACK a new
         * connection's first request at once, in a segment of its own; now
         * the ACK of a request that came whole rides on the response. A
         * connection left waiting for the rest of a request pushes its ACK
         * (zp_tcp_push_ack()), so that a client's Nagle is not held. Not
         * on TLS listeners: a ClientHello larger than the MSS would wait
         * for the delayed ACK at a client with classic (BSD) Nagle, and
         * the handshake is out of the HTTP layer's sight. Set both ways:
         * a reload may turn an address to TLS or back.
         */
        if (ls[i].sockaddr.sa.sa_family != AF_UNIX) {
            value = ls[i].delay_ack ? 0 : 1;
            (void) setsockopt(ls[i].fd, IPPROTO_TCP, TCP_QUICKACK, &value, sizeof(int));
        }
#endif
        (void) value;
    }
}


void
zp_close_listening_sockets(zp_cycle_t *cycle)
{
    zp_uint_t       i;
    zp_listening_t *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1) {
            close(ls[i].fd);
            ls[i].fd = -1;
        }
    }
}


static void zp_drain_connections(zp_cycle_t *cycle, zp_uint_t n);


zp_connection_t *
zp_get_connection(zp_socket_t s, zp_log_t *log)
{
    zp_uint_t        instance;
    zp_event_t      *rev, *wev;
    zp_connection_t *c;
    zp_cycle_t      *cycle = (zp_cycle_t *) zp_cycle;

    c = cycle->free_connections;

    if (c == NULL) {
        /* the oldest keep-alive connections give way to new clients: a
         * few at a time, not all of them, so one burst of new clients
         * does not cut off every idle client of the worker */
        zp_drain_connections(cycle, 32);
        c = cycle->free_connections;
    }

    if (c == NULL) {
        zp_log_error(ZP_LOG_ALERT, log, 0, "%ui worker_connections are not enough",
                     cycle->connection_n);
        return NULL;
    }

    cycle->free_connections = c->data;
    cycle->free_connection_n--;

    rev = c->read;
    wev = c->write;

    zp_memzero(c, sizeof(zp_connection_t));

    c->read   = rev;
    c->write  = wev;
    c->fd     = s;
    c->log    = log;
    c->recv   = zp_unix_recv;
    c->send   = zp_unix_send;
    c->writev = zp_unix_writev;

    instance = rev->instance;

    zp_memzero(rev, sizeof(zp_event_t));
    zp_memzero(wev, sizeof(zp_event_t));

    rev->instance = !instance;
    wev->instance = !instance;
    rev->data     = c;
    wev->data     = c;
    wev->write    = 1;
    rev->log      = log;
    wev->log      = log;

    return c;
}


void
zp_free_connection(zp_connection_t *c)
{
    zp_cycle_t *cycle = (zp_cycle_t *) zp_cycle;

    c->fd                   = -1;
    c->data                 = cycle->free_connections;
    cycle->free_connections = c;
    cycle->free_connection_n++;
}


void
zp_close_connection(zp_connection_t *c)
{
    zp_socket_t fd;

    if (c->fd == -1) {
        zp_log_error(ZP_LOG_ALERT, c->log, 0, "connection already closed");
        return;
    }

    if (c->read->timer_set) {
        zp_event_del_timer(c->read);
    }
    if (c->write->timer_set) {
        zp_event_del_timer(c->write);
    }

    (void) zp_del_conn(c, ZP_CLOSE_EVENT);

    if (c->read->posted) {
        zp_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        zp_delete_posted_event(c->write);
    }

    c->read->closed  = 1;
    c->write->closed = 1;

    zp_reusable_connection(c, 0);

    fd = c->fd;

    if (c->pool) {
        zp_pool_t *pool = c->pool;
        c->pool         = NULL;
        zp_pool_cache_put(&zp_connection_pools, pool);
    }

    zp_free_connection(c);

    if (close(fd) == -1) {
        zp_log_error(ZP_LOG_ALERT, zp_cycle->log, errno, "close() socket %d failed", fd);
    }
}


void
zp_reusable_connection(zp_connection_t *c, zp_uint_t reusable)
{
    zp_cycle_t *cycle = (zp_cycle_t *) zp_cycle;

    if (c->reusable) {
        zp_queue_remove(&c->queue);
        cycle->reusable_connections_n--;
    }

    c->reusable = reusable;

    if (reusable) {
        c->idle_since = zp_current_msec;
        zp_queue_insert_head(&cycle->reusable_connections_queue, &c->queue);
        cycle->reusable_connections_n++;
    }
}


static void
zp_drain_connections(zp_cycle_t *cycle, zp_uint_t n)
{
    zp_queue_t      *q;
    zp_connection_t *c;

    if (!zp_queue_empty(&cycle->reusable_connections_queue)) {
        zp_log_error(ZP_LOG_WARN, cycle->log, 0, "%ui worker_connections are not enough, "
                     "closing idle connections", cycle->connection_n);
    }

    while (n-- && !zp_queue_empty(&cycle->reusable_connections_queue)) {
        q = zp_queue_last(&cycle->reusable_connections_queue);
        c = zp_queue_data(q, zp_connection_t, queue);

        /* the owner's read handler sees c->close and tears it down, and
         * takes c out of the queue */
        c->close       = 1;
        c->read->ready = 0;
        c->read->handler(c->read);
    }
}


zp_uint_t
zp_close_idle_connections(zp_cycle_t *cycle, zp_msec_t idle_ms)
{
    zp_queue_t      *q, *prev;
    zp_connection_t *c;

    /* the queue is ordered newest first: walk from the oldest */
    for (q = zp_queue_last(&cycle->reusable_connections_queue);
         q != zp_queue_sentinel(&cycle->reusable_connections_queue); q = prev) {
        prev = zp_queue_prev(q);
        c    = zp_queue_data(q, zp_connection_t, queue);

        if (idle_ms && zp_current_msec - c->idle_since < idle_ms) {
            break;
        }

        /* the owner's read handler sees c->close and tears it down */
        c->close       = 1;
        c->read->ready = 0;
        c->read->handler(c->read);
    }

    return cycle->connection_n - cycle->free_connection_n;
}


/*
 * The connection waits for more of a request: ACK what came now. Its
 * socket delays ACKs (see zp_configure_listening_sockets()), and a client
 * with Nagle on holds its next small segment until this one is ACKed:
 * without the push both would wait for the kernel's delayed-ACK timer.
 * Once per request is enough, the caller keeps count.
 */
void
zp_tcp_push_ack(zp_connection_t *c)
{
#ifdef TCP_QUICKACK
    int one = 1;

    if (c->listening == NULL || !c->listening->delay_ack
        || (c->sockaddr.sa.sa_family != AF_INET && c->sockaddr.sa.sa_family != AF_INET6)) {
        return;
    }

    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
    (void) c;
#endif
}


void
zp_tcp_nodelay(zp_connection_t *c)
{
    int one = 1;

    /* once per connection, whatever the outcome: a socket that refuses it
     * (not TCP) is not asked again */
    c->tcp_nodelay = 1;

    if (c->sockaddr.sa.sa_family != AF_INET && c->sockaddr.sa.sa_family != AF_INET6) {
        return;
    }

    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
        zp_log_error(ZP_LOG_INFO, c->log, errno, "setsockopt(TCP_NODELAY) failed");
    }
}
