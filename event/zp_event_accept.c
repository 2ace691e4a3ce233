/*
 * zp_event_accept.c: accepting connections, and giving up the listening
 * sockets when a worker drains.
 */
#include <zp_config.h>
#include <zp_core.h>

#define ZP_ACCEPT_BATCH 64

static void zp_event_accept_retry(zp_event_t *ev);

static zp_event_t zp_accept_retry_ev;


void
zp_event_accept(zp_event_t *ev)
{
    zp_uint_t        n;
    zp_socket_t      s;
    zp_sockaddr_t    sa;
    socklen_t        socklen;
    zp_listening_t  *ls;
    zp_connection_t *lc, *c;
    zp_log_t        *log;
    zp_event_conf_t *ecf;
    zp_err_t         err;

    lc  = ev->data;
    ls  = lc->listening;
    ecf = zp_event_get_conf(zp_cycle->conf_ctx, zp_event_core_module);

    ev->ready = 0;

    for (n = 0; n < ZP_ACCEPT_BATCH; n++) {
        socklen = sizeof(sa);
        s       = accept4(lc->fd, &sa.sa, &socklen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (s == -1) {
            err = errno;

            if (err == EAGAIN || err == EWOULDBLOCK) {
                return;
            }

            if (err == ECONNABORTED || err == EINTR || err == EPROTO) {
                continue;
            }

            zp_log_error(err == EMFILE || err == ENFILE ? ZP_LOG_CRIT : ZP_LOG_ALERT, ev->log,
                         err, "accept4() on %V failed", &ls->addr_text);

            if (err == EMFILE || err == ENFILE) {
                /* out of descriptors: stop accepting for a moment rather
                 * than spin on a level-triggered socket that stays ready */
                zp_event_disable_accept((zp_cycle_t *) zp_cycle);
                zp_accept_retry_ev.handler = zp_event_accept_retry;
                zp_accept_retry_ev.log     = ev->log;
                zp_accept_retry_ev.data    = NULL;
                zp_accept_retry_ev.cancelable = 1;
                zp_event_add_timer(&zp_accept_retry_ev, 500);
            }
            return;
        }

        c = zp_get_connection(s, ev->log);
        if (c == NULL) {
            close(s);
            return;
        }

        c->pool = zp_pool_cache_get(&zp_connection_pools, ls->pool_size, ev->log);
        if (c->pool == NULL) {
            zp_close_connection(c);
            return;
        }

        log         = &c->conn_log;
        *log        = ls->log;
        log->data   = c;
        c->log      = log;
        c->read->log  = log;
        c->write->log = log;

        zp_memcpy(&c->sockaddr, &sa, socklen);
        c->socklen   = socklen;
        c->listening = ls;
        c->number    = zp_connection_counter++;

        /* a new connection is writable at once; the first write need not
         * wait for EPOLLOUT */
        c->write->ready = 1;

        /* TCP_DEFER_ACCEPT: the kernel queues a connection only once its
         * first bytes are in, so the first read need not wait for EPOLLIN */
        if (ls->deferred_accept) {
            c->read->ready = 1;
        }

        if (zp_add_conn(c) != ZP_OK) {
            zp_close_connection(c);
            return;
        }

        ls->handler(c);

        if (!ecf->multi_accept) {
            return;
        }
    }

    /* more may be queued: come back after the others had their turn */
    zp_post_event(ev, &zp_posted_accept_events);
}


void
zp_event_disable_accept(zp_cycle_t *cycle)
{
    zp_uint_t       i;
    zp_listening_t *ls = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].connection && ls[i].connection->read->active) {
            (void) zp_del_event(ls[i].connection->read, EPOLLIN, 0);
        }
    }
}


static void
zp_event_accept_retry(zp_event_t *ev)
{
    zp_uint_t        i;
    zp_listening_t  *ls;
    zp_event_conf_t *ecf;
    zp_cycle_t      *cycle = (zp_cycle_t *) zp_cycle;

    (void) ev;

    if (zp_exiting) {
        return;
    }

    ecf = zp_event_get_conf(cycle->conf_ctx, zp_event_core_module);
    ls  = cycle->listening.elts;

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].connection && !ls[i].connection->read->active) {
            (void) zp_add_event(ls[i].connection->read, EPOLLIN,
                                (ls[i].reuseport || !ecf->exclusive) ? 0 : ZP_EXCLUSIVE_EVENT);
        }
    }
}


/*
 * A draining worker first leaves the epoll set, then accepts whatever is
 * already queued (it may have absorbed the wake-up for it), and only then
 * closes its copy of the socket. The socket itself stays open in the
 * master and the new workers, so nothing in the backlog is lost.
 */
void
zp_event_close_listening(zp_cycle_t *cycle)
{
    zp_uint_t        i, n;
    zp_listening_t  *ls;
    zp_connection_t *c;

    zp_event_disable_accept(cycle);

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        c = ls[i].connection;
        if (c == NULL) {
            continue;
        }

        for (n = 0; n < 1000; n++) {
            c->read->handler(c->read);
            if (!c->read->posted) {
                break;
            }
            zp_delete_posted_event(c->read);
        }

        close(c->fd);
        zp_free_connection(c);
        ls[i].connection = NULL;
        ls[i].fd         = -1;
    }
}
