/*
 * tools/bench/nullproxy.c: the floor for the "close" scenario of
 * tools/bench/run.sh: a proxy that does nothing but the socket work.
 *
 * One thread, one epoll loop. It accepts a connection, reads until the
 * request head is whole (without looking at it), sends one fixed request
 * on a pooled keep-alive connection to the backend, reads the response
 * (framed by its Content-Length), sends it to the client with
 * "Connection: close" and closes. It takes the same kernel short cuts as
 * zproxy (accept in batches, delayed ACKs inherited from the listener, the
 * FIN held back to ride with the response) and skips everything a real
 * proxy does in user space: no parsing, routing, header rewriting, timers
 * or logs. No real proxy can do the same socket work for less CPU, so
 * its connection rate is the most any proxy could reach on the machine.
 *
 *   nullproxy --port N --backend PORT    (127.0.0.1 both; --port 0: free)
 *
 * prints "ready <port>" on stdout, runs until SIGTERM/SIGINT. Not for
 * anything but the benchmark: a client that sends more than one request,
 * a body or a head over 4 KiB is simply closed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define NP_POOL  256
#define NP_CONNS 20000
#define NP_BUF   4096

typedef struct np_conn_s np_conn_t;

struct np_conn_s {
    int        fd;
    int        upstream;  /* 1: a pooled backend connection */
    np_conn_t *peer;      /* client <-> backend while a request is out */
    np_conn_t *next;      /* free list */
    size_t     len;
    char       buf[NP_BUF];
};

static volatile sig_atomic_t np_stop;
static np_conn_t            *np_free_clients, *np_free_upstreams;
static int                   np_ep;

static const char np_request[] = "GET / HTTP/1.1\r\nHost: backend\r\n\r\n";

static void
np_on_signal(int sig)
{
    (void) sig;
    np_stop = 1;
}

static void
np_close_client(np_conn_t *c)
{
    close(c->fd);
    c->fd   = -1;
    c->next = np_free_clients;
    np_free_clients = c;
}

/* the whole response is in u->buf: pass it on with "Connection: close" */
static void
np_respond(np_conn_t *u)
{
    np_conn_t    *c = u->peer;
    char         *end = memmem(u->buf, u->len, "\r\n\r\n", 4);
    struct iovec  iov[3];
    struct msghdr msg;

    iov[0].iov_base = u->buf;
    iov[0].iov_len  = (size_t) (end - u->buf) + 2;
    iov[1].iov_base = (void *) "Connection: close\r\n";
    iov[1].iov_len  = 19;
    iov[2].iov_base = end + 2;
    iov[2].iov_len  = u->len - iov[0].iov_len;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov    = iov;
    msg.msg_iovlen = 3;

    /* MSG_MORE: the tail waits for the close() below and leaves with the FIN */
    (void) sendmsg(c->fd, &msg, MSG_MORE | MSG_NOSIGNAL);
    np_close_client(c);

    u->peer = NULL;
    u->len  = 0;
    u->next = np_free_upstreams;
    np_free_upstreams = u;
}

/* 1 when u->buf holds a whole response */
static int
np_response_done(np_conn_t *u)
{
    char *end = memmem(u->buf, u->len, "\r\n\r\n", 4);
    char *cl;

    if (end == NULL) {
        return 0;
    }
    cl = memmem(u->buf, (size_t) (end - u->buf), "Content-Length: ", 16);
    if (cl == NULL) {
        return 1;
    }
    return u->len >= (size_t) (end + 4 - u->buf) + strtoul(cl + 16, NULL, 10);
}

static void
np_read_upstream(np_conn_t *u)
{
    ssize_t n;

    while (u->len < NP_BUF) {
        n = recv(u->fd, u->buf + u->len, NP_BUF - u->len, 0);
        if (n > 0) {
            u->len += (size_t) n;
            if (np_response_done(u)) {
                if (u->peer) {
                    np_respond(u);
                }
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        fprintf(stderr, "nullproxy: the backend closed a pooled connection\n");
        exit(1);
    }
    fprintf(stderr, "nullproxy: a response over %d bytes\n", NP_BUF);
    exit(1);
}

static void
np_read_client(np_conn_t *c)
{
    ssize_t    n;
    np_conn_t *u;

    for (;;) {
        n = recv(c->fd, c->buf + c->len, NP_BUF - c->len, 0);
        if (n > 0) {
            c->len += (size_t) n;
            if (memmem(c->buf, c->len, "\r\n\r\n", 4) != NULL) {
                break;
            }
            if (c->len == NP_BUF) {
                np_close_client(c);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        np_close_client(c);
        return;
    }

    if (c->peer != NULL || (u = np_free_upstreams) == NULL) {
        np_close_client(c);
        return;
    }
    np_free_upstreams = u->next;
    u->peer = c;
    c->peer = u;
    if (send(u->fd, np_request, sizeof(np_request) - 1, MSG_NOSIGNAL)
        != (ssize_t) sizeof(np_request) - 1)
    {
        fprintf(stderr, "nullproxy: send to the backend failed\n");
        exit(1);
    }
}

static int
np_listen(int port)
{
    int                one = 1, zero = 0, fd;
    struct sockaddr_in sin;
    socklen_t          sl = sizeof(sin);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_port        = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1 || listen(fd, 4096) == -1
        || getsockname(fd, (struct sockaddr *) &sin, &sl) == -1)
    {
        perror("nullproxy: listen");
        exit(1);
    }
    (void) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
    printf("ready %d\n", ntohs(sin.sin_port));
    fflush(stdout);
    return fd;
}

static void
np_pool(int port)
{
    int                i, one = 1;
    np_conn_t         *u;
    struct sockaddr_in sin;
    struct epoll_event ev;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_port        = htons((uint16_t) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    for (i = 0; i < NP_POOL; i++) {
        u = calloc(1, sizeof(np_conn_t));
        if (u == NULL) {
            exit(1);
        }
        u->upstream = 1;
        u->fd       = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (u->fd == -1 || connect(u->fd, (struct sockaddr *) &sin, sizeof(sin)) == -1) {
            perror("nullproxy: connect to the backend");
            exit(1);
        }
        (void) setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fcntl(u->fd, F_SETFL, O_NONBLOCK) == -1) {
            perror("nullproxy: fcntl");
            exit(1);
        }
        ev.events   = EPOLLIN | EPOLLET;
        ev.data.ptr = u;
        if (epoll_ctl(np_ep, EPOLL_CTL_ADD, u->fd, &ev) == -1) {
            perror("nullproxy: epoll_ctl");
            exit(1);
        }
        u->next = np_free_upstreams;
        np_free_upstreams = u;
    }
}

int
main(int argc, char **argv)
{
    int                i, n, lfd, port = -1, backend = -1;
    np_conn_t         *c, *conns;
    struct epoll_event ev, events[256];
    struct sigaction   sa;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            backend = atoi(argv[++i]);
        } else {
            break;
        }
    }
    if (i < argc || port < 0 || backend <= 0) {
        fprintf(stderr, "usage: %s --port N --backend PORT\n", argv[0]);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = np_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    conns = calloc(NP_CONNS, sizeof(np_conn_t));
    np_ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || np_ep == -1) {
        perror("nullproxy");
        return 1;
    }
    for (i = NP_CONNS - 1; i >= 0; i--) {
        conns[i].fd   = -1;
        conns[i].next = np_free_clients;
        np_free_clients = &conns[i];
    }

    np_pool(backend);
    lfd = np_listen(port);
    ev.events   = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(np_ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
        perror("nullproxy: epoll_ctl");
        return 1;
    }

    while (!np_stop) {
        n = epoll_wait(np_ep, events, 256, -1);
        for (i = 0; i < n; i++) {
            c = events[i].data.ptr;
            if (c == NULL) {
                int k, fd;
                for (k = 0; k < 64 && np_free_clients != NULL; k++) {
                    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd == -1) {
                        break;
                    }
                    c = np_free_clients;
                    np_free_clients = c->next;
                    c->fd   = fd;
                    c->len  = 0;
                    c->peer = NULL;
                    ev.events   = EPOLLIN | EPOLLRDHUP | EPOLLET;
                    ev.data.ptr = c;
                    if (epoll_ctl(np_ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
                        np_close_client(c);
                    }
                }
                continue;
            }
            if (c->upstream) {
                np_read_upstream(c);
            } else if (c->fd != -1 && c->peer == NULL) {
                np_read_client(c);
            }
        }
    }
    return 0;
}
