/*
 * connection_benchmark.c: zproxy-bench, an HTTP/1.1 load generator.
 *
 * Standalone: C11 + POSIX + Linux epoll, no zproxy headers or libraries.
 *
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o zproxy-bench \
 *      tools/connection_benchmark.c -lpthread
 *
 *   zproxy-bench --host 127.0.0.1 --port 8080 --concurrency 64 --duration 10
 *                [--requests N] [--keepalive | --close] [--path /x]
 *                [--threads T] [--procs P] [--src-range A-B] [--method GET]
 *                [--header "Name: value"]... [--timeout-ms 5000] [--json]
 *                [--idle N --idle-hold SECONDS]
 *
 * Layout: the main process forks --procs workers and only coordinates:
 * it reads each worker's results from a pipe and merges them, so that the
 * connections of one run are spread over several descriptor limits. Each
 * worker runs --threads event loops (epoll, edge-triggered, non-blocking
 * sockets); every connection is a small state machine (connect, write,
 * read, then the next request or a reconnect). The main process tells the
 * workers to stop by closing a control pipe, which every loop watches.
 *
 * Latency is recorded in a log-linear histogram of nanoseconds (128
 * sub-buckets per power of two, under 0.8% bucket width), so recording
 * never allocates. See docs/bench-tool.md for the meaning of each figure.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* histogram */

#define ZB_SUB_BITS   7
#define ZB_SUB        (1u << ZB_SUB_BITS)
#define ZB_MAX_BITS   42 /* values up to 2^42 ns (~73 min), larger clipped */
#define ZB_HIST_SIZE  ((ZB_MAX_BITS - ZB_SUB_BITS + 1) * ZB_SUB)
#define ZB_HIST_BINS  16 /* lines of the text distribution */
#define ZB_BAR_WIDTH  40

typedef struct {
    uint64_t count;
    uint64_t sum; /* ns */
    uint64_t min;
    uint64_t max;
    uint64_t bucket[ZB_HIST_SIZE];
} zb_hist_t;

static unsigned
zb_hist_index(uint64_t v)
{
    if (v < 2 * ZB_SUB) {
        return (unsigned) v;
    }
    if (v >= ((uint64_t) 1 << ZB_MAX_BITS)) {
        v = ((uint64_t) 1 << ZB_MAX_BITS) - 1;
    }
    unsigned msb   = 63u - (unsigned) __builtin_clzll(v);
    unsigned shift = msb - ZB_SUB_BITS;
    return ((shift + 1) << ZB_SUB_BITS) + (unsigned) ((v >> shift) - ZB_SUB);
}

/* the lowest value of bucket i and its width */
static void
zb_hist_range(unsigned i, uint64_t *lo, uint64_t *width)
{
    if (i < 2 * ZB_SUB) {
        *lo    = i;
        *width = 1;
        return;
    }
    unsigned shift = (i >> ZB_SUB_BITS) - 1;
    *lo            = (uint64_t) (ZB_SUB + (i & (ZB_SUB - 1))) << shift;
    *width         = (uint64_t) 1 << shift;
}

static void
zb_hist_add(zb_hist_t *h, uint64_t v)
{
    if (h->count == 0 || v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
    h->count++;
    h->sum += v;
    h->bucket[zb_hist_index(v)]++;
}

static void
zb_hist_merge(zb_hist_t *dst, const zb_hist_t *src)
{
    if (src->count == 0) {
        return;
    }
    if (dst->count == 0 || src->min < dst->min) {
        dst->min = src->min;
    }
    if (src->max > dst->max) {
        dst->max = src->max;
    }
    dst->count += src->count;
    dst->sum += src->sum;
    for (unsigned i = 0; i < ZB_HIST_SIZE; i++) {
        dst->bucket[i] += src->bucket[i];
    }
}

/* the value at quantile q (0..1): the middle of its bucket, in [min, max] */
static double
zb_hist_quantile(const zb_hist_t *h, double q)
{
    if (h->count == 0) {
        return 0;
    }
    double   want = q * (double) h->count;
    uint64_t rank = (uint64_t) want;
    if ((double) rank < want) {
        rank++;
    }
    if (rank < 1) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < ZB_HIST_SIZE; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t lo, w;
            zb_hist_range(i, &lo, &w);
            double v = (double) lo + (double) (w - 1) / 2.0;
            if (v < (double) h->min) {
                v = (double) h->min;
            }
            if (v > (double) h->max) {
                v = (double) h->max;
            }
            return v;
        }
    }
    return (double) h->max;
}

/* ------------------------------------------------------------------ */
/* options, results */

typedef struct {
    const char *host;
    int         port;
    int         concurrency;
    double      duration; /* s; 0 with --requests */
    uint64_t    requests;
    int         keepalive;
    const char *path;
    int         threads;
    int         procs;
    uint32_t    src_lo, src_hi; /* host order; 0 = no bind */
    const char *method;
    int         timeout_ms;
    int         json;
    uint64_t    idle;
    double      idle_hold;

    struct sockaddr_storage addr;
    socklen_t               addrlen;
    char                   *req; /* the request, built once */
    size_t                  reqlen;
    int                     head; /* HEAD: responses have no body */
} zb_opts_t;

typedef struct {
    double   t_start, t_end; /* CLOCK_MONOTONIC seconds, comparable across procs */
    uint64_t conns;          /* connections established */
    uint64_t responses;      /* complete HTTP responses, any status */
    uint64_t ok;             /* 2xx/3xx with a complete body */
    uint64_t err_connect;
    uint64_t err_reset;
    uint64_t err_timeout;
    uint64_t err_bad;
    uint64_t err_status;
    uint64_t server_close; /* responses with Connection: close (not errors) */
    uint64_t bytes;        /* response bytes read */
    uint64_t idle_held;
    uint64_t idle_lost; /* idle connections the server closed during the hold */
    zb_hist_t lat;      /* per request, ns */
    zb_hist_t conn;     /* connect time, ns */
} zb_stats_t;

static zb_opts_t zb_opt;

static double
zb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint64_t
zb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* response parser: byte-wise and resumable, nothing is buffered */

enum {
    ZB_P_STATUS = 0,
    ZB_P_STATUS_LF,
    ZB_P_HLINE,  /* start of a header line */
    ZB_P_HNAME,
    ZB_P_HVALUE,
    ZB_P_HLF,    /* CR seen at the end of a header line */
    ZB_P_END_LF, /* CR seen on the empty line */
    ZB_P_BODY_CL,
    ZB_P_BODY_EOF,
    ZB_P_CHUNK_SIZE,
    ZB_P_CHUNK_EXT,
    ZB_P_CHUNK_SIZE_LF,
    ZB_P_CHUNK_DATA,
    ZB_P_CHUNK_CR,
    ZB_P_CHUNK_LF,
    ZB_P_TRAILER_START,
    ZB_P_TRAILER,
    ZB_P_TRAILER_END_LF
};

enum { ZB_AGAIN = 0, ZB_DONE = 1, ZB_BAD = -1 };

#define ZB_MAX_HEADER_BYTES 65536

typedef struct {
    uint8_t  state;
    uint8_t  nlen, vlen, slen;
    uint8_t  http10, chunked, te_other, conn_close, conn_keep, cl_seen;
    uint16_t status;
    uint32_t hbytes;
    uint64_t remaining; /* Content-Length or chunk bytes left */
    int64_t  cl;
    char     name[20];
    char     value[40];
    char     sline[16]; /* "HTTP/1.1 200" */
} zb_parser_t;

static void
zb_parser_reset(zb_parser_t *p)
{
    memset(p, 0, sizeof(*p));
    p->cl = -1;
}

static int
zb_parse_status(zb_parser_t *p)
{
    const char *s = p->sline;
    if (p->slen < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
        s[8] != ' ' || s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' ||
        s[11] > '9') {
        return ZB_BAD;
    }
    p->http10 = s[7] == '0';
    p->status = (uint16_t) ((s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0'));
    return ZB_AGAIN;
}

static int
zb_parse_header(zb_parser_t *p)
{
    char *v = p->value;
    while (p->vlen > 0 && (v[p->vlen - 1] == ' ' || v[p->vlen - 1] == '\t')) {
        p->vlen--;
    }
    v[p->vlen] = '\0';
    for (char *q = v; *q; q++) {
        if (*q >= 'A' && *q <= 'Z') {
            *q = (char) (*q - 'A' + 'a');
        }
    }
    if (p->nlen == 14 && memcmp(p->name, "content-length", 14) == 0) {
        if (p->vlen == 0 || p->vlen > 18 || strspn(v, "0123456789") != p->vlen) {
            return ZB_BAD;
        }
        int64_t cl = (int64_t) strtoll(v, NULL, 10);
        if (p->cl_seen && cl != p->cl) {
            return ZB_BAD;
        }
        p->cl_seen = 1;
        p->cl      = cl;
    } else if (p->nlen == 17 && memcmp(p->name, "transfer-encoding", 17) == 0) {
        size_t l = p->vlen;
        if (l >= 7 && memcmp(v + l - 7, "chunked", 7) == 0 &&
            (l == 7 || v[l - 8] == ' ' || v[l - 8] == ',')) {
            p->chunked = 1;
        } else {
            p->te_other = 1;
        }
    } else if (p->nlen == 10 && memcmp(p->name, "connection", 10) == 0) {
        if (strstr(v, "close")) {
            p->conn_close = 1;
        }
        if (strstr(v, "keep-alive")) {
            p->conn_keep = 1;
        }
    }
    return ZB_AGAIN;
}

/* headers are complete: choose how the body ends */
static int
zb_parse_body_start(zb_parser_t *p)
{
    if (p->status < 200) {
        /* an interim response (100 Continue): the real one follows */
        zb_parser_reset(p);
        return ZB_AGAIN;
    }
    if (p->chunked && p->cl_seen) {
        return ZB_BAD;
    }
    if (zb_opt.head || p->status == 204 || p->status == 304) {
        return ZB_DONE;
    }
    if (p->chunked) {
        p->state     = ZB_P_CHUNK_SIZE;
        p->remaining = 0;
        p->slen      = 0;
        return ZB_AGAIN;
    }
    if (p->cl_seen && !p->te_other) {
        if (p->cl == 0) {
            return ZB_DONE;
        }
        p->remaining = (uint64_t) p->cl;
        p->state     = ZB_P_BODY_CL;
        return ZB_AGAIN;
    }
    p->state      = ZB_P_BODY_EOF; /* the body ends when the server closes */
    p->conn_close = 1;
    return ZB_AGAIN;
}

static int
zb_hex(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/*
 * Feeds n bytes to the parser. Returns ZB_DONE with *used set when a
 * response ends inside the buffer, ZB_AGAIN when all bytes were consumed
 * and more are needed, ZB_BAD on a malformed response.
 */
static int
zb_parse(zb_parser_t *p, const char *buf, size_t n, size_t *used)
{
    size_t i = 0;
    int    rc;

    while (i < n) {
        unsigned char ch = (unsigned char) buf[i];

        if (p->state < ZB_P_BODY_CL && ++p->hbytes > ZB_MAX_HEADER_BYTES) {
            return ZB_BAD;
        }
        switch (p->state) {
        case ZB_P_STATUS:
            if (ch == '\r' || ch == '\n') {
                if (zb_parse_status(p) != ZB_AGAIN) {
                    return ZB_BAD;
                }
                p->state = ch == '\r' ? ZB_P_STATUS_LF : ZB_P_HLINE;
            } else if (p->slen < sizeof(p->sline)) {
                p->sline[p->slen++] = (char) ch;
            }
            i++;
            break;
        case ZB_P_STATUS_LF:
        case ZB_P_HLF:
            if (ch != '\n') {
                return ZB_BAD;
            }
            p->state = ZB_P_HLINE;
            i++;
            break;
        case ZB_P_HLINE:
            if (ch == '\r') {
                p->state = ZB_P_END_LF;
                i++;
                break;
            }
            if (ch == '\n') {
                i++;
                goto headers_done;
            }
            if (ch == ' ' || ch == '\t' || ch == ':') {
                return ZB_BAD; /* obs-fold or an empty name */
            }
            p->nlen  = 0;
            p->vlen  = 0;
            p->state = ZB_P_HNAME; /* the same byte again, as a name byte */
            break;
        case ZB_P_HNAME:
            if (ch == ':') {
                p->state = ZB_P_HVALUE;
            } else if (ch <= ' ' || ch == 127) {
                return ZB_BAD; /* CR, LF or whitespace in or after a name */
            } else if (p->nlen < sizeof(p->name)) {
                p->name[p->nlen++] = (char) (ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
            } else {
                p->nlen = UINT8_MAX; /* too long to be one we look at */
            }
            i++;
            break;
        case ZB_P_HVALUE:
            if (ch == '\r' || ch == '\n') {
                if (zb_parse_header(p) != ZB_AGAIN) {
                    return ZB_BAD;
                }
                p->state = ch == '\r' ? ZB_P_HLF : ZB_P_HLINE;
            } else if (p->vlen == 0 && (ch == ' ' || ch == '\t')) {
                /* leading whitespace */
            } else if (p->vlen < sizeof(p->value) - 1) {
                p->value[p->vlen++] = (char) ch;
            }
            i++;
            break;
        case ZB_P_END_LF:
            if (ch != '\n') {
                return ZB_BAD;
            }
            i++;
        headers_done:
            rc = zb_parse_body_start(p);
            if (rc != ZB_AGAIN) {
                *used = i;
                return rc;
            }
            break;
        case ZB_P_BODY_CL:
        case ZB_P_CHUNK_DATA: {
            size_t take = n - i;
            if ((uint64_t) take >= p->remaining) {
                take = (size_t) p->remaining;
            }
            i += take;
            p->remaining -= take;
            if (p->remaining == 0) {
                if (p->state == ZB_P_BODY_CL) {
                    *used = i;
                    return ZB_DONE;
                }
                p->state = ZB_P_CHUNK_CR;
            }
            break;
        }
        case ZB_P_BODY_EOF:
            i = n;
            break;
        case ZB_P_CHUNK_SIZE: {
            int d = zb_hex(ch);
            if (d >= 0) {
                if (p->remaining >> 56) {
                    return ZB_BAD;
                }
                p->remaining = (p->remaining << 4) | (uint64_t) d;
                p->slen      = 1;
            } else if (!p->slen) {
                return ZB_BAD;
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                p->state = ZB_P_CHUNK_EXT;
            } else if (ch == '\r') {
                p->state = ZB_P_CHUNK_SIZE_LF;
            } else if (ch == '\n') {
                goto chunk_size_done;
            } else {
                return ZB_BAD;
            }
            i++;
            break;
        }
        case ZB_P_CHUNK_EXT:
            if (ch == '\n') {
                goto chunk_size_done;
            }
            i++;
            break;
        case ZB_P_CHUNK_SIZE_LF:
            if (ch != '\n') {
                return ZB_BAD;
            }
        chunk_size_done:
            i++;
            p->slen  = 0;
            p->state = p->remaining == 0 ? ZB_P_TRAILER_START : ZB_P_CHUNK_DATA;
            break;
        case ZB_P_CHUNK_CR:
            i++;
            if (ch == '\n') {
                p->state = ZB_P_CHUNK_SIZE;
                break;
            }
            if (ch != '\r') {
                return ZB_BAD;
            }
            p->state = ZB_P_CHUNK_LF;
            break;
        case ZB_P_CHUNK_LF:
            if (ch != '\n') {
                return ZB_BAD;
            }
            i++;
            p->state = ZB_P_CHUNK_SIZE;
            break;
        case ZB_P_TRAILER_START:
            i++;
            if (ch == '\n') {
                *used = i;
                return ZB_DONE;
            }
            p->state = ch == '\r' ? ZB_P_TRAILER_END_LF : ZB_P_TRAILER;
            break;
        case ZB_P_TRAILER:
            i++;
            if (ch == '\n') {
                p->state = ZB_P_TRAILER_START;
            }
            break;
        case ZB_P_TRAILER_END_LF:
            if (ch != '\n') {
                return ZB_BAD;
            }
            *used = i + 1;
            return ZB_DONE;
        default:
            return ZB_BAD;
        }
    }
    *used = n;
    return ZB_AGAIN;
}

/* ------------------------------------------------------------------ */
/* connections and the per-thread event loop */

enum {
    ZB_C_FREE = 0,
    ZB_C_WAIT, /* waiting to reconnect after a connect error */
    ZB_C_CONNECTING,
    ZB_C_WRITING,
    ZB_C_READING,
    ZB_C_IDLE /* --idle: response read, held open */
};

enum { ZB_E_CONNECT, ZB_E_RESET, ZB_E_TIMEOUT, ZB_E_BAD };

#define ZB_RBUF_SIZE     65536
#define ZB_SCAN_NS       20000000ull  /* timeout scan every 20 ms */
#define ZB_RETRY_NS      10000000ull  /* pause after a connect error */
#define ZB_IDLE_PENDING  256          /* --idle: handshakes in flight per thread */
#define ZB_CTL_TAG       UINT64_MAX

typedef struct {
    int         fd;
    uint8_t     state;
    uint8_t     rdhup; /* the peer's FIN (or an error) came with this event */
    uint32_t    gen; /* tells a stale epoll event from the current socket's */
    uint32_t    woff;
    uint64_t    t_start; /* request start (its connect start on a new connection) */
    uint64_t    t_conn;
    uint64_t    deadline;
    zb_parser_t p;
} zb_conn_t;

typedef struct zb_proc_s zb_proc_t;

typedef struct {
    pthread_t   tid;
    int         id; /* process index * threads + thread index */
    uint32_t    nconns;
    uint64_t    quota; /* --requests share */
    uint64_t    issued;
    uint32_t    active;
    uint32_t    pending; /* --idle: connections not yet idle or failed */
    uint32_t    opened;  /* --idle: connections started */
    int         stop;
    int         epfd;
    int         ctl_fd;
    uint64_t    end_ns;
    uint64_t    timeout_ns;
    uint32_t    src_next;
    zb_conn_t  *conns;
    char       *rbuf;
    zb_proc_t  *proc;
    zb_stats_t *st;
} zb_thread_t;

struct zb_proc_s {
    pthread_mutex_t lock;
    int             threads_ready;
    int             nthreads;
    uint64_t        held;
    int             res_fd;
};

/* messages from a worker to the main process */
enum { ZB_MSG_READY = 1, ZB_MSG_RESULT = 2 };

typedef struct {
    uint32_t type;
    uint32_t len;
} zb_msg_t;

static void zb_conn_start(zb_thread_t *t, zb_conn_t *c, uint64_t now);

static int
zb_more(zb_thread_t *t, uint64_t now)
{
    if (t->stop || zb_opt.idle) {
        return 0;
    }
    if (zb_opt.requests) {
        return t->issued < t->quota;
    }
    return now < t->end_ns;
}

static void
zb_conn_close(zb_thread_t *t, zb_conn_t *c)
{
    if (c->fd >= 0) {
        /* close() alone drops it from the epoll set: nothing else holds it */
        close(c->fd);
        c->fd = -1;
    }
    (void) t;
}

static void
zb_conn_write(zb_thread_t *t, zb_conn_t *c);

/* the request on c has ended: keep the connection for the next one or not */
static void
zb_conn_next(zb_thread_t *t, zb_conn_t *c, int keep, int connect_failed)
{
    uint64_t now = zb_now_ns();

    if (zb_opt.idle) {
        if (keep && c->fd >= 0) {
            c->state = ZB_C_IDLE;
            t->st->idle_held++;
        } else {
            zb_conn_close(t, c);
            c->state = ZB_C_FREE;
            t->active--;
        }
        t->pending--;
        return;
    }
    if (!zb_more(t, now)) {
        zb_conn_close(t, c);
        c->state = ZB_C_FREE;
        t->active--;
        return;
    }
    if (keep && c->fd >= 0) {
        t->issued++;
        c->t_start  = now;
        c->deadline = now + t->timeout_ns;
        c->woff     = 0;
        c->state    = ZB_C_WRITING;
        zb_conn_write(t, c);
        return;
    }
    zb_conn_close(t, c);
    if (connect_failed) {
        c->state    = ZB_C_WAIT;
        c->deadline = now + ZB_RETRY_NS;
        return;
    }
    zb_conn_start(t, c, now);
}

static void
zb_conn_fail(zb_thread_t *t, zb_conn_t *c, int kind)
{
    zb_stats_t *st = t->st;

    switch (kind) {
    case ZB_E_CONNECT:
        st->err_connect++;
        break;
    case ZB_E_RESET:
        st->err_reset++;
        break;
    case ZB_E_TIMEOUT:
        st->err_timeout++;
        break;
    default:
        st->err_bad++;
        break;
    }
    zb_conn_close(t, c);
    zb_conn_next(t, c, 0, kind == ZB_E_CONNECT);
}

static void
zb_response_done(zb_thread_t *t, zb_conn_t *c)
{
    zb_stats_t  *st  = t->st;
    zb_parser_t *p   = &c->p;
    uint64_t     now = zb_now_ns();

    st->responses++;
    if (p->status >= 200 && p->status < 400) {
        st->ok++;
    } else {
        st->err_status++;
    }
    zb_hist_add(&st->lat, now - c->t_start);

    int keep = !p->conn_close && (!p->http10 || p->conn_keep) && !c->rdhup;
    if (!keep && zb_opt.keepalive) {
        st->server_close++;
    }
    zb_conn_next(t, c, keep && (zb_opt.keepalive || zb_opt.idle), 0);
}

static void
zb_conn_write(zb_thread_t *t, zb_conn_t *c)
{
    while (c->woff < zb_opt.reqlen) {
        ssize_t n = send(c->fd, zb_opt.req + c->woff, zb_opt.reqlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (uint32_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* EPOLLOUT (edge-triggered) resumes it */
        }
        zb_conn_fail(t, c, ZB_E_RESET);
        return;
    }
    zb_parser_reset(&c->p);
    c->state = ZB_C_READING;
}

static void
zb_conn_read(zb_thread_t *t, zb_conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, t->rbuf, ZB_RBUF_SIZE, 0);
        if (n > 0) {
            t->st->bytes += (uint64_t) n;
            if (c->state != ZB_C_READING) {
                /* bytes nobody asked for: on an idle connection too */
                if (c->state == ZB_C_IDLE) {
                    t->st->idle_held--;
                    t->st->idle_lost++;
                    zb_conn_close(t, c);
                    c->state = ZB_C_FREE;
                    t->active--;
                    return;
                }
                zb_conn_fail(t, c, ZB_E_BAD);
                return;
            }
            size_t used = 0;
            int    rc   = zb_parse(&c->p, t->rbuf, (size_t) n, &used);
            if (rc == ZB_BAD || (rc == ZB_DONE && used != (size_t) n)) {
                zb_conn_fail(t, c, ZB_E_BAD);
                return;
            }
            if (rc == ZB_DONE) {
                /*
                 * The socket is drained: this read got less than it asked
                 * for, or the response ended exactly at the buffer's end
                 * (and anything more would be a protocol error, which the
                 * next edge reports). The next request's reply raises a
                 * new edge, so no read is needed to see EAGAIN.
                 */
                zb_response_done(t, c);
                return;
            }
            if ((size_t) n < ZB_RBUF_SIZE && !c->rdhup) {
                /*
                 * Drained, and new data raises a new edge. With a FIN
                 * already queued no edge follows, so then read on to EOF.
                 */
                return;
            }
            continue;
        }
        if (n == 0) {
            if (c->state == ZB_C_READING && c->p.state == ZB_P_BODY_EOF) {
                zb_response_done(t, c); /* a body delimited by the close */
                return;
            }
            if (c->state == ZB_C_IDLE) {
                t->st->idle_held--;
                t->st->idle_lost++;
                zb_conn_close(t, c);
                c->state = ZB_C_FREE;
                t->active--;
                return;
            }
            zb_conn_fail(t, c, ZB_E_RESET); /* closed before a whole response */
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        if (c->state == ZB_C_IDLE) {
            t->st->idle_held--;
            t->st->idle_lost++;
            zb_conn_close(t, c);
            c->state = ZB_C_FREE;
            t->active--;
            return;
        }
        zb_conn_fail(t, c, ZB_E_RESET);
        return;
    }
}

/* starts a request on a new connection */
static void
zb_conn_start(zb_thread_t *t, zb_conn_t *c, uint64_t now)
{
    int one = 1;
    int fd;

    t->issued++;
    c->t_start  = now;
    c->t_conn   = now;
    c->deadline = now + t->timeout_ns;
    c->woff     = 0;
    c->gen++;
    c->state = ZB_C_CONNECTING;

    fd = socket(zb_opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        goto failed;
    }
    c->fd = fd;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (zb_opt.src_lo) {
        /*
         * One source address after the other: each has its own ephemeral
         * port range, so --close runs do not run out of ports (or into
         * TIME_WAIT) on one address. IP_BIND_ADDRESS_NO_PORT delays the
         * port choice to connect(), where the whole 4-tuple is known.
         */
        struct sockaddr_in src;
        uint32_t           n = zb_opt.src_hi - zb_opt.src_lo + 1;

        memset(&src, 0, sizeof(src));
        src.sin_family      = AF_INET;
        src.sin_addr.s_addr = htonl(zb_opt.src_lo + t->src_next % n);
        t->src_next++;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#ifdef IP_BIND_ADDRESS_NO_PORT
        (void) setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
        if (bind(fd, (struct sockaddr *) &src, sizeof(src)) != 0) {
            goto failed;
        }
    }

    struct epoll_event ev;
    ev.events   = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = ((uint64_t) c->gen << 32) | (uint64_t) (c - t->conns);
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        goto failed;
    }
    if (connect(fd, (struct sockaddr *) &zb_opt.addr, zb_opt.addrlen) == 0) {
        /* connected at once: EPOLLOUT is still reported, handle it there */
        return;
    }
    if (errno == EINPROGRESS || errno == EINTR) {
        return;
    }

failed:
    zb_conn_fail(t, c, ZB_E_CONNECT);
}

static void
zb_conn_event(zb_thread_t *t, zb_conn_t *c, uint32_t ev)
{
    if (c->state == ZB_C_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        int       err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
            (ev & EPOLLERR)) {
            zb_conn_fail(t, c, ZB_E_CONNECT);
            return;
        }
        t->st->conns++;
        zb_hist_add(&t->st->conn, zb_now_ns() - c->t_conn);
        c->state = ZB_C_WRITING;
    }
    if (c->state == ZB_C_WRITING) {
        uint32_t gen = c->gen;
        zb_conn_write(t, c);
        if (c->gen != gen || c->state != ZB_C_READING) {
            return;
        }
    }
    if ((c->state == ZB_C_READING || c->state == ZB_C_IDLE) &&
        (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        c->rdhup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
        zb_conn_read(t, c);
    }
}

/* --idle: open connections up to this thread's share, a few at a time */
static void
zb_idle_fill(zb_thread_t *t)
{
    uint64_t now = zb_now_ns();

    while (t->opened < t->nconns && t->pending < ZB_IDLE_PENDING) {
        zb_conn_t *c = &t->conns[t->opened++];
        t->pending++;
        t->active++;
        zb_conn_start(t, c, now);
    }
}

static void
zb_idle_ready(zb_thread_t *t)
{
    zb_proc_t *pr = t->proc;

    t->st->t_end = zb_now();
    pthread_mutex_lock(&pr->lock);
    pr->held += t->st->idle_held;
    if (++pr->threads_ready == pr->nthreads) {
        zb_msg_t m   = {ZB_MSG_READY, sizeof(uint64_t)};
        char     buf[sizeof(m) + sizeof(uint64_t)];
        memcpy(buf, &m, sizeof(m));
        memcpy(buf + sizeof(m), &pr->held, sizeof(uint64_t));
        /* under PIPE_BUF: one atomic write */
        if (write(pr->res_fd, buf, sizeof(buf)) != (ssize_t) sizeof(buf)) {
            perror("zproxy-bench: write");
        }
    }
    pthread_mutex_unlock(&pr->lock);
}

static void
zb_scan(zb_thread_t *t, uint64_t now, int idle_setup_over)
{
    for (uint32_t i = 0; i < t->nconns; i++) {
        zb_conn_t *c = &t->conns[i];
        switch (c->state) {
        case ZB_C_WAIT:
            if (now >= c->deadline) {
                if (zb_more(t, now)) {
                    zb_conn_start(t, c, now);
                } else {
                    c->state = ZB_C_FREE;
                    t->active--;
                }
            }
            break;
        case ZB_C_CONNECTING:
        case ZB_C_WRITING:
        case ZB_C_READING:
            if (now >= c->deadline || idle_setup_over) {
                zb_conn_fail(t, c, ZB_E_TIMEOUT);
            }
            break;
        default:
            break;
        }
    }
}

static void *
zb_thread_main(void *arg)
{
    zb_thread_t       *t = arg;
    struct epoll_event evs[256];
    uint64_t           now, hard_end = UINT64_MAX, setup_end = UINT64_MAX, next_scan;
    int                ready = 0;

    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (t->epfd < 0) {
        perror("zproxy-bench: epoll_create1");
        exit(2);
    }
    struct epoll_event cev;
    cev.events   = EPOLLIN; /* level-triggered: EOF stays visible */
    cev.data.u64 = ZB_CTL_TAG;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->ctl_fd, &cev) != 0) {
        perror("zproxy-bench: epoll_ctl");
        exit(2);
    }
    for (uint32_t i = 0; i < t->nconns; i++) {
        t->conns[i].fd = -1;
    }

    t->st->t_start = zb_now();
    now            = zb_now_ns();
    t->timeout_ns  = (uint64_t) zb_opt.timeout_ms * 1000000u;
    t->end_ns      = UINT64_MAX;
    if (zb_opt.idle) {
        uint64_t cap = 3 * t->timeout_ns;
        setup_end    = now + (cap > 10000000000ull ? cap : 10000000000ull);
        zb_idle_fill(t);
    } else {
        if (!zb_opt.requests) {
            t->end_ns = now + (uint64_t) (zb_opt.duration * 1e9);
            hard_end  = t->end_ns + t->timeout_ns + 500000000u;
        }
        for (uint32_t i = 0; i < t->nconns && zb_more(t, now); i++) {
            t->active++;
            zb_conn_start(t, &t->conns[i], now);
        }
    }
    next_scan = now + ZB_SCAN_NS;

    while (!t->stop) {
        if (!zb_opt.idle && t->active == 0) {
            break;
        }
        if (zb_opt.idle && !ready && t->opened == t->nconns && t->pending == 0) {
            ready = 1;
            zb_idle_ready(t);
        }
        int wait = (int) ((next_scan - now) / 1000000u) + 1;
        int n    = epoll_wait(t->epfd, evs, 256, ready ? 1000 : wait);
        if (n < 0 && errno != EINTR) {
            perror("zproxy-bench: epoll_wait");
            exit(2);
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == ZB_CTL_TAG) {
                t->stop = 1;
                continue;
            }
            zb_conn_t *c = &t->conns[(uint32_t) tag];
            if ((uint32_t) (tag >> 32) != c->gen || c->fd < 0) {
                continue; /* for a socket closed earlier in this batch */
            }
            zb_conn_event(t, c, evs[i].events);
        }
        now = zb_now_ns();
        if (now >= next_scan) {
            zb_scan(t, now, !ready && now >= setup_end);
            next_scan = now + ZB_SCAN_NS;
        }
        if (now >= hard_end) {
            zb_scan(t, UINT64_MAX, 0); /* whatever is left has timed out */
            break;
        }
        if (zb_opt.idle && !ready) {
            if (now >= setup_end) {
                /* out of time: what was never started counts as timed out */
                t->st->err_timeout += t->nconns - t->opened;
                t->opened = t->nconns;
            }
            zb_idle_fill(t);
        }
    }
    if (!zb_opt.idle) {
        t->st->t_end = zb_now();
    } else if (!ready) {
        zb_idle_ready(t); /* stopped early: do not leave the others waiting */
    }
    for (uint32_t i = 0; i < t->nconns; i++) {
        zb_conn_close(t, &t->conns[i]);
    }
    close(t->epfd);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* worker processes */

static void
zb_stats_merge(zb_stats_t *dst, const zb_stats_t *src, int first)
{
    if (first || src->t_start < dst->t_start) {
        dst->t_start = src->t_start;
    }
    if (first || src->t_end > dst->t_end) {
        dst->t_end = src->t_end;
    }
    dst->conns += src->conns;
    dst->responses += src->responses;
    dst->ok += src->ok;
    dst->err_connect += src->err_connect;
    dst->err_reset += src->err_reset;
    dst->err_timeout += src->err_timeout;
    dst->err_bad += src->err_bad;
    dst->err_status += src->err_status;
    dst->server_close += src->server_close;
    dst->bytes += src->bytes;
    dst->idle_held += src->idle_held;
    dst->idle_lost += src->idle_lost;
    zb_hist_merge(&dst->lat, &src->lat);
    zb_hist_merge(&dst->conn, &src->conn);
}

/* share i of n parts of total */
static uint64_t
zb_share(uint64_t total, uint64_t n, uint64_t i)
{
    return total / n + (i < total % n ? 1 : 0);
}

static int
zb_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static void
zb_worker(int proc, int res_fd, int ctl_fd)
{
    int          T      = zb_opt.threads;
    uint64_t     conns  = zb_share(zb_opt.idle ? zb_opt.idle : (uint64_t) zb_opt.concurrency,
                                   (uint64_t) zb_opt.procs, (uint64_t) proc);
    uint64_t     reqs   = zb_share(zb_opt.requests, (uint64_t) zb_opt.procs, (uint64_t) proc);
    zb_thread_t *th     = calloc((size_t) T, sizeof(*th));
    zb_stats_t  *total  = calloc(1, sizeof(*total));
    zb_proc_t    pr;

    if (th == NULL || total == NULL) {
        fprintf(stderr, "zproxy-bench: out of memory\n");
        exit(2);
    }
    pthread_mutex_init(&pr.lock, NULL);
    pr.threads_ready = 0;
    pr.nthreads      = T;
    pr.held          = 0;
    pr.res_fd        = res_fd;

    for (int i = 0; i < T; i++) {
        zb_thread_t *t = &th[i];
        t->id          = proc * T + i;
        t->nconns      = (uint32_t) zb_share(conns, (uint64_t) T, (uint64_t) i);
        t->quota       = zb_share(reqs, (uint64_t) T, (uint64_t) i);
        t->ctl_fd      = ctl_fd;
        t->proc        = &pr;
        /* threads start at different source addresses */
        t->src_next = (uint32_t) t->id * 7919u;
        t->conns    = calloc(t->nconns ? t->nconns : 1, sizeof(zb_conn_t));
        t->rbuf     = malloc(ZB_RBUF_SIZE);
        t->st       = calloc(1, sizeof(zb_stats_t));
        if (t->conns == NULL || t->rbuf == NULL || t->st == NULL) {
            fprintf(stderr, "zproxy-bench: out of memory\n");
            exit(2);
        }
        int rc = pthread_create(&t->tid, NULL, zb_thread_main, t);
        if (rc != 0) {
            fprintf(stderr, "zproxy-bench: pthread_create: %s\n", strerror(rc));
            exit(2);
        }
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i].tid, NULL);
        zb_stats_merge(total, th[i].st, i == 0);
    }

    zb_msg_t m = {ZB_MSG_RESULT, sizeof(*total)};
    if (zb_write_all(res_fd, &m, sizeof(m)) != 0 ||
        zb_write_all(res_fd, total, sizeof(*total)) != 0) {
        perror("zproxy-bench: write");
        _exit(2);
    }
    _exit(0); /* a forked copy: no atexit handlers, nothing of the parent's to flush */
}

/* ------------------------------------------------------------------ */
/* the main process: fork, collect, report */

typedef struct {
    pid_t   pid;
    int     res_fd; /* results, read end */
    int     ctl_fd; /* control, write end: closing it stops the worker */
    int     ready;
    int     done;
    size_t  have; /* bytes of the current message */
    char   *buf;
} zb_child_t;

static volatile sig_atomic_t zb_interrupted;

static void
zb_on_signal(int sig)
{
    (void) sig;
    zb_interrupted = 1;
}

static void
zb_stop_children(zb_child_t *ch, int n)
{
    for (int i = 0; i < n; i++) {
        if (ch[i].ctl_fd >= 0) {
            close(ch[i].ctl_fd);
            ch[i].ctl_fd = -1;
        }
    }
}

/* reads what a worker sent; returns 1 while it may send more */
static int
zb_child_read(zb_child_t *c, zb_stats_t *total, uint64_t *ready_sum, int *first)
{
    size_t cap = sizeof(zb_msg_t) + sizeof(zb_stats_t);

    for (;;) {
        ssize_t n = read(c->res_fd, c->buf + c->have, cap - c->have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return 1;
        }
        if (n <= 0) {
            return 0; /* the worker exited */
        }
        c->have += (size_t) n;
        while (c->have >= sizeof(zb_msg_t)) {
            zb_msg_t m;
            memcpy(&m, c->buf, sizeof(m));
            if (m.len > cap - sizeof(m)) {
                return 0;
            }
            if (c->have < sizeof(m) + m.len) {
                break;
            }
            if (m.type == ZB_MSG_READY && m.len == sizeof(uint64_t)) {
                uint64_t held;
                memcpy(&held, c->buf + sizeof(m), sizeof(held));
                *ready_sum += held;
                c->ready = 1;
            } else if (m.type == ZB_MSG_RESULT && m.len == sizeof(zb_stats_t)) {
                zb_stats_t *st = malloc(sizeof(*st));
                if (st != NULL) {
                    memcpy(st, c->buf + sizeof(m), sizeof(*st));
                    zb_stats_merge(total, st, *first);
                    *first = 0;
                    free(st);
                }
                c->done = 1;
            }
            size_t used = sizeof(m) + m.len;
            memmove(c->buf, c->buf + used, c->have - used);
            c->have -= used;
        }
    }
}

static int
zb_run(zb_stats_t *total)
{
    int         P     = zb_opt.procs;
    zb_child_t *ch    = calloc((size_t) P, sizeof(*ch));
    uint64_t    ready = 0;
    int         first = 1, stopped = 0, announced = 0, ndone = 0, nready = 0;
    double      now, deadline, hold_end = 0;
    size_t      cap = sizeof(zb_msg_t) + sizeof(zb_stats_t);

    if (ch == NULL) {
        fprintf(stderr, "zproxy-bench: out of memory\n");
        return -1;
    }
    now = zb_now();
    if (zb_opt.idle) {
        double setup = 3.0 * zb_opt.timeout_ms / 1000.0;
        deadline     = now + (setup > 10 ? setup : 10) + zb_opt.idle_hold + 10;
    } else if (zb_opt.requests) {
        deadline = 1e300; /* every request ends or times out */
    } else {
        deadline = now + zb_opt.duration + zb_opt.timeout_ms / 1000.0 + 10;
    }

    fflush(stdout);
    for (int p = 0; p < P; p++) {
        int res[2], ctl[2];
        if (pipe(res) != 0 || pipe(ctl) != 0) {
            perror("zproxy-bench: pipe");
            return -1;
        }
        ch[p].buf = malloc(cap);
        if (ch[p].buf == NULL) {
            fprintf(stderr, "zproxy-bench: out of memory\n");
            return -1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("zproxy-bench: fork");
            return -1;
        }
        if (pid == 0) {
            /* the main process decides when to stop, ^C included */
            signal(SIGINT, SIG_IGN);
            signal(SIGTERM, SIG_DFL);
            close(res[0]);
            close(ctl[1]);
            for (int q = 0; q < p; q++) {
                close(ch[q].res_fd);
                close(ch[q].ctl_fd);
            }
            zb_worker(p, res[1], ctl[0]);
        }
        close(res[1]);
        close(ctl[0]);
        fcntl(res[0], F_SETFL, O_NONBLOCK);
        fcntl(res[0], F_SETFD, FD_CLOEXEC);
        fcntl(ctl[1], F_SETFD, FD_CLOEXEC);
        ch[p].pid    = pid;
        ch[p].res_fd = res[0];
        ch[p].ctl_fd = ctl[1];
    }

    struct pollfd *pfd = calloc((size_t) P, sizeof(*pfd));
    if (pfd == NULL) {
        return -1;
    }
    while (ndone < P) {
        int n = 0;
        for (int p = 0; p < P; p++) {
            if (!ch[p].done) {
                pfd[n].fd      = ch[p].res_fd;
                pfd[n].events  = POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        }
        (void) poll(pfd, (nfds_t) n, 100);
        for (int p = 0; p < P; p++) {
            if (ch[p].done) {
                continue;
            }
            int was_ready = ch[p].ready;
            if (!zb_child_read(&ch[p], total, &ready, &first) && !ch[p].done) {
                fprintf(stderr, "zproxy-bench: worker %d exited without results\n", p);
                ch[p].done  = 1;
                ch[p].ready = 1;
            }
            if (ch[p].ready && !was_ready) {
                nready++;
            }
            if (ch[p].done) {
                ndone++;
                close(ch[p].res_fd);
            }
        }
        now = zb_now();
        if (zb_interrupted && !stopped) {
            zb_stop_children(ch, P);
            stopped = 1;
            if (deadline > now + 5) {
                deadline = now + 5;
            }
        }
        if (zb_opt.idle && !announced && nready == P) {
            announced = 1;
            printf("idle ready %" PRIu64 "\n", ready);
            fflush(stdout);
            hold_end = now + zb_opt.idle_hold;
        }
        if (announced && !stopped && now >= hold_end) {
            zb_stop_children(ch, P);
            stopped = 1;
        }
        if (now >= deadline) {
            fprintf(stderr, "zproxy-bench: workers did not finish in time, killing them\n");
            for (int p = 0; p < P; p++) {
                if (!ch[p].done) {
                    kill(ch[p].pid, SIGKILL);
                }
            }
            break;
        }
    }
    zb_stop_children(ch, P);
    for (int p = 0; p < P; p++) {
        waitpid(ch[p].pid, NULL, 0);
        free(ch[p].buf);
    }
    free(pfd);
    free(ch);
    return first ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* report */

static double
zb_us(double ns)
{
    return ns / 1000.0;
}

/*
 * The text histogram: ZB_HIST_BINS lines of equal width in bucket index,
 * which is log-linear, so each line spans about the same ratio of values.
 */
static void
zb_print_distribution(const zb_hist_t *h)
{
    uint64_t bins[ZB_HIST_BINS] = {0};
    unsigned first = zb_hist_index(h->min), last = zb_hist_index(h->max);
    unsigned span  = last - first + 1;
    unsigned nb    = span < ZB_HIST_BINS ? span : ZB_HIST_BINS;
    unsigned edge[ZB_HIST_BINS + 1];
    uint64_t top = 0;

    for (unsigned k = 0; k <= nb; k++) {
        edge[k] = first + (unsigned) ((uint64_t) span * k / nb);
    }
    for (unsigned k = 0; k < nb; k++) {
        for (unsigned i = edge[k]; i < edge[k + 1]; i++) {
            bins[k] += h->bucket[i];
        }
        top = bins[k] > top ? bins[k] : top;
    }
    printf("latency distribution (us, from - to, count, share)\n");
    for (unsigned k = 0; k < nb; k++) {
        uint64_t from, to, w;
        zb_hist_range(edge[k], &from, &w);
        zb_hist_range(edge[k + 1] - 1, &to, &w);
        to += w;
        if (k == 0 && from < h->min) {
            from = h->min;
        }
        if (k == nb - 1 && to > h->max) {
            to = h->max;
        }
        int bar = top ? (int) ((bins[k] * ZB_BAR_WIDTH + top - 1) / top) : 0;
        printf("  %10.1f - %10.1f %10" PRIu64 " %6.2f%% |", zb_us((double) from),
               zb_us((double) to), bins[k], 100.0 * (double) bins[k] / (double) h->count);
        for (int j = 0; j < bar; j++) {
            putchar('#');
        }
        putchar('\n');
    }
}

static void
zb_report(const zb_stats_t *s)
{
    double   dur   = s->t_end - s->t_start;
    uint64_t total = s->ok + s->err_status + s->err_bad + s->err_reset + s->err_timeout +
                     s->err_connect;
    double   rate  = total ? 100.0 * (double) s->ok / (double) total : 0;
    const zb_hist_t *l = &s->lat, *c = &s->conn;
    double   lavg = l->count ? (double) l->sum / (double) l->count : 0;
    double   cavg = c->count ? (double) c->sum / (double) c->count : 0;

    if (dur <= 0) {
        dur = 1e-9;
    }

    /* the load's own cost: on a small machine it shares the CPUs with
     * the server it measures (children are waited for by now) */
    double        cpu_user = 0, cpu_sys = 0;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu_user += (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
        cpu_sys += (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
    }
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        cpu_user += (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6;
        cpu_sys += (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
    }

    if (zb_opt.json) {
        printf("{\"target\":\"%s:%d\",\"method\":\"%s\",\"path\":\"%s\",\"mode\":\"%s\","
               "\"concurrency\":%d,\"procs\":%d,\"threads\":%d,",
               zb_opt.host, zb_opt.port, zb_opt.method, zb_opt.path,
               zb_opt.idle ? "idle" : (zb_opt.keepalive ? "keepalive" : "close"),
               zb_opt.concurrency, zb_opt.procs, zb_opt.threads);
        printf("\"duration_s\":%.6f,\"connections\":%" PRIu64 ",\"connections_per_s\":%.1f,"
               "\"requests\":%" PRIu64 ",\"responses\":%" PRIu64 ",\"requests_per_s\":%.1f,"
               "\"ok\":%" PRIu64 ",\"success_rate\":%.6f,\"server_closes\":%" PRIu64
               ",\"bytes_read\":%" PRIu64 ",",
               dur, s->conns, (double) s->conns / dur, total, s->responses,
               (double) s->responses / dur, s->ok, total ? (double) s->ok / (double) total : 0,
               s->server_close, s->bytes);
        printf("\"errors\":{\"connect\":%" PRIu64 ",\"reset\":%" PRIu64 ",\"timeout\":%" PRIu64
               ",\"bad_response\":%" PRIu64 ",\"http_status\":%" PRIu64 "},",
               s->err_connect, s->err_reset, s->err_timeout, s->err_bad, s->err_status);
        printf("\"latency_us\":{\"min\":%.1f,\"avg\":%.1f,\"p50\":%.1f,\"p90\":%.1f,"
               "\"p99\":%.1f,\"max\":%.1f},",
               zb_us((double) l->min), zb_us(lavg), zb_us(zb_hist_quantile(l, 0.5)),
               zb_us(zb_hist_quantile(l, 0.9)), zb_us(zb_hist_quantile(l, 0.99)),
               zb_us((double) l->max));
        printf("\"connect_us\":{\"avg\":%.1f,\"p99\":%.1f,\"max\":%.1f},", zb_us(cavg),
               zb_us(zb_hist_quantile(c, 0.99)), zb_us((double) c->max));
        printf("\"cpu_s\":{\"user\":%.3f,\"system\":%.3f}", cpu_user, cpu_sys);
        if (zb_opt.idle) {
            printf(",\"idle\":{\"requested\":%" PRIu64 ",\"held\":%" PRIu64
                   ",\"closed_by_server\":%" PRIu64 ",\"hold_s\":%.3f}",
                   zb_opt.idle, s->idle_held + s->idle_lost, s->idle_lost, zb_opt.idle_hold);
        }
        printf("}\n");
        return;
    }

    printf("target       %s:%d %s %s, %s, %" PRIu64 " connections (%d procs x %d threads)\n",
           zb_opt.host, zb_opt.port, zb_opt.method, zb_opt.path,
           zb_opt.idle ? "idle" : (zb_opt.keepalive ? "keep-alive" : "close"),
           zb_opt.idle ? zb_opt.idle : (uint64_t) zb_opt.concurrency, zb_opt.procs,
           zb_opt.threads);
    printf("duration     %.3f s%s\n", dur, zb_opt.idle ? " (until all idle connections were open)" : "");
    printf("connections  %" PRIu64 " opened, %.1f/s (connect avg %.1f us, p99 %.1f us, max %.1f us)\n",
           s->conns, (double) s->conns / dur, zb_us(cavg), zb_us(zb_hist_quantile(c, 0.99)),
           zb_us((double) c->max));
    printf("requests     %" PRIu64 " responses, %.1f/s, %.2f MB/s read, %" PRIu64
           " closed by the server\n",
           s->responses, (double) s->responses / dur, (double) s->bytes / dur / 1e6,
           s->server_close);
    printf("success      %.2f%% (%" PRIu64 " ok of %" PRIu64 ")\n", rate, s->ok, total);
    printf("cpu          %.3f s user, %.3f s system (this tool, all its processes)\n", cpu_user,
           cpu_sys);
    printf("errors       connect %" PRIu64 ", reset %" PRIu64 ", timeout %" PRIu64
           ", bad response %" PRIu64 ", http status %" PRIu64 "\n",
           s->err_connect, s->err_reset, s->err_timeout, s->err_bad, s->err_status);
    if (zb_opt.idle) {
        printf("idle         %" PRIu64 " requested, %" PRIu64 " held, %" PRIu64
               " closed by the server during the %.1f s hold\n",
               zb_opt.idle, s->idle_held + s->idle_lost, s->idle_lost, zb_opt.idle_hold);
    }
    printf("latency (us) min %.1f, avg %.1f, p50 %.1f, p90 %.1f, p99 %.1f, max %.1f\n",
           zb_us((double) l->min), zb_us(lavg), zb_us(zb_hist_quantile(l, 0.5)),
           zb_us(zb_hist_quantile(l, 0.9)), zb_us(zb_hist_quantile(l, 0.99)),
           zb_us((double) l->max));
    if (l->count) {
        zb_print_distribution(l);
    }
}

/* ------------------------------------------------------------------ */
/* options */

static void
zb_usage(void)
{
    fprintf(stderr,
            "usage: zproxy-bench --host ADDR --port N [--concurrency C]\n"
            "                    [--duration SECONDS | --requests N] [--keepalive | --close]\n"
            "                    [--path /x] [--threads T] [--procs P] [--src-range A-B|none]\n"
            "                    [--method GET] [--header \"Name: value\"]... [--timeout-ms MS]\n"
            "                    [--idle N --idle-hold SECONDS] [--json]\n");
    exit(2);
}

static long long
zb_num(const char *opt, const char *s, long long lo, long long hi)
{
    char     *end;
    long long v;

    errno = 0;
    v     = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "zproxy-bench: bad value \"%s\" for %s\n", s, opt);
        exit(2);
    }
    return v;
}

static double
zb_secs(const char *opt, const char *s)
{
    char  *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 1e7) {
        fprintf(stderr, "zproxy-bench: bad value \"%s\" for %s\n", s, opt);
        exit(2);
    }
    return v;
}

static void
zb_src_range(const char *s)
{
    char           a[64];
    const char    *dash = strchr(s, '-');
    struct in_addr lo, hi;

    if (strcmp(s, "none") == 0) {
        zb_opt.src_lo = zb_opt.src_hi = 0;
        return;
    }
    if (dash == NULL || (size_t) (dash - s) >= sizeof(a)) {
        goto bad;
    }
    memcpy(a, s, (size_t) (dash - s));
    a[dash - s] = '\0';
    if (inet_pton(AF_INET, a, &lo) != 1 || inet_pton(AF_INET, dash + 1, &hi) != 1 ||
        ntohl(lo.s_addr) == 0 || ntohl(hi.s_addr) < ntohl(lo.s_addr)) {
        goto bad;
    }
    zb_opt.src_lo = ntohl(lo.s_addr);
    zb_opt.src_hi = ntohl(hi.s_addr);
    return;
bad:
    fprintf(stderr, "zproxy-bench: bad --src-range \"%s\" (want A.B.C.D-A.B.C.E or none)\n", s);
    exit(2);
}

static void
zb_build_request(const char **hdrs, int nhdrs)
{
    size_t len = strlen(zb_opt.method) + strlen(zb_opt.path) + strlen(zb_opt.host) + 128;
    int    have_host = 0;

    for (int i = 0; i < nhdrs; i++) {
        len += strlen(hdrs[i]) + 2;
        if (strncasecmp(hdrs[i], "host:", 5) == 0) {
            have_host = 1;
        }
    }
    zb_opt.req = malloc(len);
    if (zb_opt.req == NULL) {
        exit(2);
    }
    char *p = zb_opt.req;
    p += sprintf(p, "%s %s HTTP/1.1\r\n", zb_opt.method, zb_opt.path);
    if (!have_host) {
        const char *fmt = strchr(zb_opt.host, ':') ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n";
        p += sprintf(p, fmt, zb_opt.host, zb_opt.port);
    }
    for (int i = 0; i < nhdrs; i++) {
        p += sprintf(p, "%s\r\n", hdrs[i]);
    }
    if (!zb_opt.keepalive) {
        p += sprintf(p, "Connection: close\r\n");
    }
    p += sprintf(p, "\r\n");
    zb_opt.reqlen = (size_t) (p - zb_opt.req);
    zb_opt.head   = strcmp(zb_opt.method, "HEAD") == 0;
}

static void
zb_parse_args(int argc, char **argv)
{
    const char **hdrs   = calloc((size_t) argc, sizeof(char *));
    int          nhdrs  = 0;
    int          srcset = 0;

    zb_opt.host        = "127.0.0.1";
    zb_opt.concurrency = 64;
    zb_opt.keepalive   = 1;
    zb_opt.path        = "/";
    zb_opt.threads     = 1;
    zb_opt.procs       = 1;
    zb_opt.method      = "GET";
    zb_opt.timeout_ms  = 5000;

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ZB_ARG()                                                                                   \
    do {                                                                                           \
        if (v == NULL) {                                                                           \
            fprintf(stderr, "zproxy-bench: %s needs a value\n", o);                                \
            exit(2);                                                                               \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (strcmp(o, "--host") == 0) {
            ZB_ARG();
            zb_opt.host = v;
        } else if (strcmp(o, "--port") == 0) {
            ZB_ARG();
            zb_opt.port = (int) zb_num(o, v, 1, 65535);
        } else if (strcmp(o, "--concurrency") == 0 || strcmp(o, "-c") == 0) {
            ZB_ARG();
            zb_opt.concurrency = (int) zb_num(o, v, 1, 10000000);
        } else if (strcmp(o, "--duration") == 0 || strcmp(o, "-d") == 0) {
            ZB_ARG();
            zb_opt.duration = zb_secs(o, v);
        } else if (strcmp(o, "--requests") == 0 || strcmp(o, "-n") == 0) {
            ZB_ARG();
            zb_opt.requests = (uint64_t) zb_num(o, v, 1, INT64_MAX);
        } else if (strcmp(o, "--keepalive") == 0) {
            zb_opt.keepalive = 1;
        } else if (strcmp(o, "--close") == 0) {
            zb_opt.keepalive = 0;
        } else if (strcmp(o, "--path") == 0) {
            ZB_ARG();
            zb_opt.path = v;
        } else if (strcmp(o, "--threads") == 0 || strcmp(o, "-t") == 0) {
            ZB_ARG();
            zb_opt.threads = (int) zb_num(o, v, 1, 1024);
        } else if (strcmp(o, "--procs") == 0) {
            ZB_ARG();
            zb_opt.procs = (int) zb_num(o, v, 1, 1024);
        } else if (strcmp(o, "--src-range") == 0) {
            ZB_ARG();
            zb_src_range(v);
            srcset = 1;
        } else if (strcmp(o, "--method") == 0) {
            ZB_ARG();
            zb_opt.method = v;
        } else if (strcmp(o, "--header") == 0 || strcmp(o, "-H") == 0) {
            ZB_ARG();
            if (strchr(v, ':') == NULL || strpbrk(v, "\r\n")) {
                fprintf(stderr, "zproxy-bench: bad --header \"%s\"\n", v);
                exit(2);
            }
            hdrs[nhdrs++] = v;
        } else if (strcmp(o, "--timeout-ms") == 0) {
            ZB_ARG();
            zb_opt.timeout_ms = (int) zb_num(o, v, 1, 3600000);
        } else if (strcmp(o, "--idle") == 0) {
            ZB_ARG();
            zb_opt.idle = (uint64_t) zb_num(o, v, 1, 100000000);
        } else if (strcmp(o, "--idle-hold") == 0) {
            ZB_ARG();
            zb_opt.idle_hold = zb_secs(o, v);
        } else if (strcmp(o, "--json") == 0) {
            zb_opt.json = 1;
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            zb_usage();
        } else {
            fprintf(stderr, "zproxy-bench: unknown option \"%s\"\n", o);
            zb_usage();
        }
#undef ZB_ARG
    }
    if (zb_opt.port == 0) {
        fprintf(stderr, "zproxy-bench: --port is required\n");
        zb_usage();
    }
    if (zb_opt.duration > 0 && zb_opt.requests) {
        fprintf(stderr, "zproxy-bench: --duration and --requests exclude each other\n");
        exit(2);
    }
    if (zb_opt.duration == 0 && !zb_opt.requests) {
        zb_opt.duration = 10;
    }
    if (strpbrk(zb_opt.path, " \r\n") || zb_opt.path[0] == '\0' ||
        strpbrk(zb_opt.method, " \r\n:") || zb_opt.method[0] == '\0') {
        fprintf(stderr, "zproxy-bench: bad --path or --method\n");
        exit(2);
    }
    if (zb_opt.idle) {
        zb_opt.keepalive = 1; /* idle connections must stay open */
        zb_opt.requests  = 0;
    }

    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags    = AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof(port), "%d", zb_opt.port);
    int rc = getaddrinfo(zb_opt.host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "zproxy-bench: cannot resolve \"%s\": %s\n", zb_opt.host, gai_strerror(rc));
        exit(2);
    }
    memcpy(&zb_opt.addr, res->ai_addr, res->ai_addrlen);
    zb_opt.addrlen = res->ai_addrlen;
    freeaddrinfo(res);

    if (zb_opt.addr.ss_family == AF_INET) {
        uint32_t a = ntohl(((struct sockaddr_in *) &zb_opt.addr)->sin_addr.s_addr);
        if (!srcset && (a >> 24) == 127) {
            zb_src_range("127.0.0.1-127.0.0.254"); /* the default on loopback */
        }
    } else if (zb_opt.src_lo) {
        fprintf(stderr, "zproxy-bench: --src-range needs an IPv4 target\n");
        exit(2);
    }
    zb_build_request(hdrs, nhdrs);
    free(hdrs);
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    zb_stats_t   *total;

    zb_parse_args(argc, argv);

    /* every worker needs a descriptor per connection */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t want  = zb_opt.idle ? zb_opt.idle : (uint64_t) zb_opt.concurrency;
        uint64_t per   = (want + (uint64_t) zb_opt.procs - 1) / (uint64_t) zb_opt.procs;
        uint64_t spare = 32 + 2 * (uint64_t) zb_opt.threads;
        if (per + spare > rl.rlim_cur) {
            uint64_t room = rl.rlim_cur > spare ? rl.rlim_cur - spare : 1;
            fprintf(stderr,
                    "zproxy-bench: %" PRIu64 " connections per process exceed the descriptor "
                    "limit %" PRIu64 "; use --procs %" PRIu64 " or more\n",
                    per, (uint64_t) rl.rlim_cur, (want + room - 1) / room);
            return 2;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = zb_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    total = calloc(1, sizeof(*total));
    if (total == NULL || zb_run(total) != 0) {
        fprintf(stderr, "zproxy-bench: no results\n");
        return 1;
    }
    zb_report(total);
    int rc = total->ok == 0 || (zb_opt.idle && total->idle_held == 0) ? 1 : 0;
    free(total);
    free(zb_opt.req);
    return rc;
}
