/*
 * tools/bench/backend.c: a minimal fixed-body HTTP/1.1 origin for the
 * proxy benchmark (tools/bench/run.sh).
 *
 * One thread, one epoll loop, level-triggered, non-blocking sockets,
 * keep-alive. Any request whose target starts with "/big" gets a
 * 100 KiB body, anything else a 13-byte one ("hello, world\n"). Responses
 * are prebuilt at start, so a request costs one read and usually one
 * write: the origin should be cheap next to the proxy it stands behind.
 * Requests must have no body (GET/HEAD); pipelined requests are served in
 * order.
 *
 *   backend --port N [--addr 127.0.0.1]    (--port 0: a free port)
 *
 * prints "ready <port>" on stdout, runs until SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BK_BIG_SIZE (100 * 1024)
#define BK_INBUF    8192

typedef struct {
    int         fd;
    size_t      in_len;
    const char *out;      /* response being written */
    size_t      out_left;
    int         pending;  /* complete requests waiting behind out */
    int         pending_big[64];
    char        in[BK_INBUF];
} bk_conn_t;

static volatile sig_atomic_t bk_stop;
static char  *bk_small, *bk_big;
static size_t bk_small_len, bk_big_len;

static void
bk_on_signal(int sig)
{
    (void) sig;
    bk_stop = 1;
}

static char *
bk_build(size_t body, size_t *len)
{
    char  head[256];
    int   n = snprintf(head, sizeof(head),
                       "HTTP/1.1 200 OK\r\nServer: bk\r\nContent-Type: text/plain\r\n"
                       "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                       body);
    char *p = malloc((size_t) n + body);
    if (p == NULL) {
        perror("malloc");
        exit(2);
    }
    memcpy(p, head, (size_t) n);
    if (body == 13) {
        memcpy(p + n, "hello, world\n", 13);
    } else {
        for (size_t i = 0; i < body; i++) {
            p[n + i] = (char) ('a' + i % 26);
        }
    }
    *len = (size_t) n + body;
    return p;
}

static void
bk_close(int ep, bk_conn_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Parse complete request heads out of c->in; queue one response each. */
static int
bk_parse(bk_conn_t *c)
{
    for (;;) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL) {
            return c->in_len == sizeof(c->in) ? -1 : 0;
        }
        size_t used = (size_t) (end + 4 - c->in);
        char  *sp   = memchr(c->in, ' ', used);
        int    big  = sp != NULL && used - (size_t) (sp - c->in) > 5 && memcmp(sp + 1, "/big", 4) == 0;
        if (c->pending == (int) (sizeof(c->pending_big) / sizeof(c->pending_big[0]))) {
            return -1;
        }
        c->pending_big[c->pending++] = big;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
}

/* Write queued responses until done or EAGAIN. 0: ok, 1: blocked, -1: error. */
static int
bk_flush(bk_conn_t *c)
{
    for (;;) {
        if (c->out_left == 0) {
            if (c->pending == 0) {
                return 0;
            }
            int big = c->pending_big[0];
            memmove(c->pending_big, c->pending_big + 1, (size_t) (c->pending - 1) * sizeof(int));
            c->pending--;
            c->out      = big ? bk_big : bk_small;
            c->out_left = big ? bk_big_len : bk_small_len;
        }
        ssize_t n = send(c->fd, c->out, c->out_left, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 1;
            }
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        c->out += n;
        c->out_left -= (size_t) n;
    }
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int         port = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else {
            fprintf(stderr, "usage: %s --port N [--addr 127.0.0.1]\n", argv[0]);
            return 2;
        }
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bk_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    bk_small = bk_build(13, &bk_small_len);
    bk_big   = bk_build(BK_BIG_SIZE, &bk_big_len);

    int ls  = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port   = htons((unsigned short) port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", addr);
        return 2;
    }
    if (bind(ls, (struct sockaddr *) &sin, sizeof(sin)) < 0 || listen(ls, 4096) < 0) {
        perror("bind/listen");
        return 2;
    }
    socklen_t sl = sizeof(sin);
    getsockname(ls, (struct sockaddr *) &sin, &sl);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);

    printf("ready %d\n", ntohs(sin.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    while (!bk_stop) {
        int n = epoll_wait(ep, evs, 256, 500);
        for (int i = 0; i < n; i++) {
            bk_conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        break;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    if (c == NULL) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int dead = 0;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
                if (r > 0) {
                    c->in_len += (size_t) r;
                    if (bk_parse(c) < 0) {
                        dead = 1;
                    }
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    dead = 1;
                }
            }
            if (!dead) {
                int was_blocked = c->out_left > 0;
                int rc          = bk_flush(c);
                if (rc < 0) {
                    dead = 1;
                } else if ((rc == 1) != was_blocked) {
                    struct epoll_event cev = {
                        .events = (rc == 1 ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
            }
            if (dead) {
                bk_close(ep, c);
            }
        }
    }
    close(ep);
    close(ls);
    return 0;
}
