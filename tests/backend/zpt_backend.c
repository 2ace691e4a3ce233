/*
 * zpt_backend.c: a small HTTP/1.1 origin server for zproxy's integration
 * tests. C11 + POSIX only, one process, non-blocking sockets and poll().
 *
 *     zpt_backend --port N [--addr 127.0.0.1|::1] [--id NAME]
 *
 * prints "ready <port>" on stdout once listening (--port 0 picks a free
 * port) and exits 0 on SIGTERM or SIGINT.
 *
 * Requests: Content-Length and chunked bodies, keep-alive, pipelining,
 * HTTP/1.0, Expect: 100-continue. Parsing is strict, because this server
 * is what the proxy's output is checked against: bare CR or LF, obs-fold,
 * whitespace before the colon, bad token bytes, a missing or doubled Host
 * (HTTP/1.1), differing Content-Lengths, Content-Length with
 * Transfer-Encoding, and chunked that is not the final coding are all 400
 * (other codings: 501). Every body is read (hashed, never stored) before
 * the response, so a pipelined next request is never mistaken for body.
 *
 * Endpoints (any method; the path is matched without the query):
 *   /echo...        200, a JSON line (backend, method, target, version,
 *                   body_length, body_fnv1a64) then every request header as
 *                   received, one "name: value" per line
 *   /size/<n>       n bytes of the pattern (below), Content-Length, streamed
 *   /chunked/<n>    the same bytes, Transfer-Encoding: chunked, chunk sizes
 *                   cycling through zpt_chunk_sizes (HTTP/1.0: raw + close)
 *   /status/<code>  that status (200..599), body "status <code>\n"
 *   /slow/<ms>      200 "slow <ms>\n" after ms milliseconds
 *   /close          200 with Connection: close, then closes
 *   /reset          closes at once with SO_LINGER 0 (RST), no answer
 *   /truncate       Content-Length: 100, 10 bytes, then closes
 *   /hang           headers with Content-Length: 100, then nothing
 *   /upload         200 "length=<n> fnv1a64=<16 hex>\n" of the request body
 *   /stats          "connections=<accepted> requests=<parsed> active=<open>\n"
 *                   (requests counts the /stats request itself)
 *   anything else   200 "backend <id>\n"
 * Every response has X-Backend: <id>. HEAD gets the headers only.
 *
 * The pattern: byte i of a generated body is ZPT_PATTERN[i % 63].
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define ZPT_PATTERN      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
#define ZPT_PATTERN_LEN  63
#define ZPT_FILL         (256 * 1024) /* generated body bytes per refill */
#define ZPT_IN_SIZE      (16 * 1024)  /* initial input buffer */
#define ZPT_HEAD_MAX     (64 * 1024)  /* request line + headers */
#define ZPT_HEADERS_MAX  256
#define ZPT_LINE_MAX     4096 /* chunk-size line */
#define ZPT_TRAILERS_MAX (16 * 1024)
#define ZPT_LINGER_MS    2000

enum zpt_state { ST_HEAD, ST_BODY, ST_WAIT, ST_WRITE, ST_HANG, ST_LINGER };

enum zpt_route {
    RT_DEFAULT,
    RT_ECHO,
    RT_SIZE,
    RT_CHUNKED,
    RT_STATUS,
    RT_SLOW,
    RT_CLOSE,
    RT_RESET,
    RT_TRUNCATE,
    RT_HANG,
    RT_UPLOAD,
    RT_STATS
};

enum zpt_after { AF_NEXT, AF_CLOSE, AF_HANG };

enum zpt_chunk { CK_SIZE, CK_DATA, CK_DATA_END, CK_TRAILER };

typedef struct {
    char  *p;
    size_t len, cap;
} zpt_buf_t;

typedef struct {
    int            fd;
    int            dead;
    enum zpt_state state;
    uint64_t       deadline; /* ST_WAIT, ST_LINGER */

    char  *in;
    size_t in_off, in_len, in_cap;

    zpt_buf_t out;
    size_t    out_pos;

    /* the request */
    enum zpt_route route;
    uint64_t       arg;
    int            bad_arg;
    int            minor; /* HTTP/1.<minor> */
    int            head;  /* HEAD: no response body */
    int            keepalive;
    int            chunked;
    enum zpt_chunk ck;
    uint64_t       remaining; /* of Content-Length, or of the current chunk */
    size_t         trailers;
    uint64_t       body_len, body_hash;
    zpt_buf_t      method, target, echo;

    /* the response body generator */
    uint64_t       gen_left, gen_off;
    int            gen_chunked, gen_last;
    unsigned       gen_idx;
    enum zpt_after after;
} zpt_conn_t;

static const size_t zpt_chunk_sizes[] = {1, 13, 256, 1000, 4096, 5, 16384, 777, 65536, 3, 100000};

static const char *zpt_id = "backend";
static char       *zpt_pattern; /* the pattern repeated over ZPT_FILL + 63 bytes */
static int         zpt_sigpipe[2];
static uint64_t    zpt_accepted, zpt_requests, zpt_active;

static zpt_conn_t **zpt_conns;
static size_t       zpt_nconns, zpt_conns_cap;


static void
zpt_die(const char *what)
{
    fprintf(stderr, "zpt_backend: %s: %s\n", what, strerror(errno));
    exit(1);
}


static uint64_t
zpt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static void
zpt_reserve(zpt_buf_t *b, size_t n)
{
    size_t cap;
    char  *p;

    if (b->cap - b->len >= n) {
        return;
    }

    cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        cap *= 2;
    }

    p = realloc(b->p, cap);
    if (p == NULL) {
        zpt_die("realloc");
    }

    b->p   = p;
    b->cap = cap;
}


static void
zpt_append(zpt_buf_t *b, const void *data, size_t n)
{
    zpt_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}


static void
zpt_appendf(zpt_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int     n;
    char    tmp[256];

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        zpt_append(b, tmp, (size_t)n);
        return;
    }

    zpt_reserve(b, (size_t)n + 1);

    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);

    b->len += (size_t)n;
}


/* JSON string contents: the bytes we get here are VCHAR only. */
static void
zpt_append_json(zpt_buf_t *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            zpt_append(b, "\\", 1);
        }
        zpt_append(b, &s[i], 1);
    }
}


static uint64_t
zpt_fnv1a(uint64_t h, const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


/* RFC 9110 tchar */
static int
zpt_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}


static int
zpt_caseeq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}


/* Decimal digits only, at most 19 of them: the value, or -1. */
static int64_t
zpt_parse_dec(const char *p, size_t n)
{
    size_t  i;
    int64_t v;

    if (n == 0 || n > 18) {
        return -1;
    }

    v = 0;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }

    return v;
}


static const char *
zpt_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Status";
    }
}


/* ------------------------------------------------------------------ */
/* responses */


/*
 * Queues a status line and headers. clen < 0: no Content-Length. The
 * connection closes afterwards unless the request allows keep-alive.
 */
static void
zpt_response_head(zpt_conn_t *c, int status, int64_t clen, int chunked, const char *extra)
{
    zpt_appendf(&c->out, "HTTP/1.1 %d %s\r\nServer: zpt_backend\r\nX-Backend: %s\r\n", status,
                zpt_reason(status), zpt_id);

    if (status >= 200 && status != 204 && status != 304) {
        zpt_appendf(&c->out, "Content-Type: text/plain\r\n");
    }

    if (clen >= 0) {
        zpt_appendf(&c->out, "Content-Length: %" PRId64 "\r\n", clen);
    }

    if (chunked) {
        zpt_appendf(&c->out, "Transfer-Encoding: chunked\r\n");
    }

    if (!c->keepalive) {
        zpt_appendf(&c->out, "Connection: close\r\n");
        c->after = AF_CLOSE;
    } else if (c->minor == 0) {
        zpt_appendf(&c->out, "Connection: keep-alive\r\n");
    }

    if (extra) {
        zpt_appendf(&c->out, "%s", extra);
    }

    zpt_append(&c->out, "\r\n", 2);
    c->state = ST_WRITE;
}


static void
zpt_respond(zpt_conn_t *c, int status, const char *body, size_t n)
{
    int nobody;

    nobody = status < 200 || status == 204 || status == 304;

    zpt_response_head(c, status, nobody ? -1 : (int64_t)n, 0, NULL);

    if (!nobody && !c->head) {
        zpt_append(&c->out, body, n);
    }
}


/* An error found while reading the request: answer and close. */
static void
zpt_respond_error(zpt_conn_t *c, int status)
{
    char body[64];
    int  n;

    c->keepalive = 0;
    n            = snprintf(body, sizeof(body), "error %d\n", status);
    zpt_respond(c, status, body, (size_t)n);
}


static void
zpt_append_pattern(zpt_buf_t *b, uint64_t off, size_t n)
{
    zpt_append(b, zpt_pattern + off % ZPT_PATTERN_LEN, n);
}


/* Refills c->out from the generator: 1 when something was added. */
static int
zpt_generate(zpt_conn_t *c)
{
    size_t n;

    if (!c->gen_chunked) {
        if (c->gen_left == 0) {
            return 0;
        }

        n = c->gen_left < ZPT_FILL ? (size_t)c->gen_left : ZPT_FILL;
        zpt_append_pattern(&c->out, c->gen_off, n);
        c->gen_off += n;
        c->gen_left -= n;
        return 1;
    }

    if (c->gen_last) {
        return 0;
    }

    while (c->gen_left && c->out.len < ZPT_FILL) {
        n = zpt_chunk_sizes[c->gen_idx++ % (sizeof(zpt_chunk_sizes) / sizeof(zpt_chunk_sizes[0]))];
        if (n > c->gen_left) {
            n = (size_t)c->gen_left;
        }

        zpt_appendf(&c->out, "%zx\r\n", n);
        zpt_append_pattern(&c->out, c->gen_off, n);
        zpt_append(&c->out, "\r\n", 2);
        c->gen_off += n;
        c->gen_left -= n;
    }

    if (c->gen_left == 0) {
        zpt_append(&c->out, "0\r\n\r\n", 5);
        c->gen_last = 1;
    }

    return 1;
}


static void
zpt_respond_route(zpt_conn_t *c)
{
    char      body[160];
    int       n;
    zpt_buf_t b;

    if (c->bad_arg) {
        zpt_respond(c, 400, "bad argument\n", 13);
        return;
    }

    switch (c->route) {

    case RT_ECHO:
        memset(&b, 0, sizeof(b));
        zpt_appendf(&b, "{\"backend\":\"");
        zpt_append_json(&b, zpt_id, strlen(zpt_id));
        zpt_appendf(&b, "\",\"method\":\"");
        zpt_append_json(&b, c->method.p, c->method.len);
        zpt_appendf(&b, "\",\"target\":\"");
        zpt_append_json(&b, c->target.p, c->target.len);
        zpt_appendf(&b,
                    "\",\"version\":\"HTTP/1.%d\",\"body_length\":%" PRIu64
                    ",\"body_fnv1a64\":\"%016" PRIx64 "\"}\n",
                    c->minor, c->body_len, c->body_hash);
        if (c->echo.len) {
            zpt_append(&b, c->echo.p, c->echo.len);
        }
        zpt_respond(c, 200, b.p, b.len);
        free(b.p);
        return;

    case RT_SIZE:
        zpt_response_head(c, 200, (int64_t)c->arg, 0, NULL);
        c->gen_left = c->head ? 0 : c->arg;
        return;

    case RT_CHUNKED:
        if (c->minor == 0) {
            /* no chunked for HTTP/1.0: the end of the body is the close */
            c->keepalive = 0;
            zpt_response_head(c, 200, -1, 0, NULL);
        } else {
            zpt_response_head(c, 200, -1, 1, NULL);
            c->gen_chunked = !c->head;
        }
        c->gen_left = c->head ? 0 : c->arg;
        return;

    case RT_STATUS:
        n = snprintf(body, sizeof(body), "status %d\n", (int)c->arg);
        zpt_respond(c, (int)c->arg, body, (size_t)n);
        return;

    case RT_SLOW:
        c->state    = ST_WAIT;
        c->deadline = zpt_now() + c->arg;
        return;

    case RT_CLOSE:
        c->keepalive = 0;
        zpt_respond(c, 200, "closing\n", 8);
        return;

    case RT_TRUNCATE:
        c->keepalive = 0;
        zpt_response_head(c, 200, 100, 0, NULL);
        zpt_append_pattern(&c->out, 0, 10);
        return;

    case RT_HANG:
        zpt_response_head(c, 200, 100, 0, NULL);
        c->after = AF_HANG;
        return;

    case RT_UPLOAD:
        n = snprintf(body, sizeof(body), "length=%" PRIu64 " fnv1a64=%016" PRIx64 "\n", c->body_len,
                     c->body_hash);
        zpt_respond(c, 200, body, (size_t)n);
        return;

    case RT_STATS:
        n = snprintf(body, sizeof(body),
                     "connections=%" PRIu64 " requests=%" PRIu64 " active=%" PRIu64 "\n",
                     zpt_accepted, zpt_requests, zpt_active);
        zpt_respond(c, 200, body, (size_t)n);
        return;

    case RT_RESET: /* handled when the head is parsed */
    case RT_DEFAULT:
        break;
    }

    n = snprintf(body, sizeof(body), "backend %s\n", zpt_id);
    zpt_respond(c, 200, body, (size_t)n);
}


/* ------------------------------------------------------------------ */
/* request parsing */


/* "/prefix<decimal>" (query excluded): the number, or bad_arg. */
static uint64_t
zpt_route_arg(zpt_conn_t *c, const char *p, size_t n)
{
    int64_t v;

    v = zpt_parse_dec(p, n);
    if (v < 0) {
        c->bad_arg = 1;
        return 0;
    }

    return (uint64_t)v;
}


static void
zpt_route(zpt_conn_t *c, const char *t, size_t n)
{
    size_t      i, plen;
    const char *q;

    /* absolute-form: route on its path */
    if (n > 7 && strncasecmp(t, "http://", 7) == 0) {
        for (i = 7; i < n && t[i] != '/'; i++) { /* void */
        }
        t += i;
        n -= i;
    }

    q    = memchr(t, '?', n);
    plen = q ? (size_t)(q - t) : n;

#define ZPT_PREFIX(s) (plen >= sizeof(s) - 1 && memcmp(t, s, sizeof(s) - 1) == 0)
#define ZPT_EXACT(s)  (plen == sizeof(s) - 1 && memcmp(t, s, sizeof(s) - 1) == 0)
#define ZPT_ARG(s)    zpt_route_arg(c, t + sizeof(s) - 1, plen - (sizeof(s) - 1))

    if (ZPT_PREFIX("/echo")) {
        c->route = RT_ECHO;
    } else if (ZPT_PREFIX("/size/")) {
        c->route = RT_SIZE;
        c->arg   = ZPT_ARG("/size/");
    } else if (ZPT_PREFIX("/chunked/")) {
        c->route = RT_CHUNKED;
        c->arg   = ZPT_ARG("/chunked/");
    } else if (ZPT_PREFIX("/status/")) {
        c->route = RT_STATUS;
        c->arg   = ZPT_ARG("/status/");
        if (c->arg < 200 || c->arg > 599) {
            c->bad_arg = 1;
        }
    } else if (ZPT_PREFIX("/slow/")) {
        c->route = RT_SLOW;
        c->arg   = ZPT_ARG("/slow/");
    } else if (ZPT_EXACT("/close")) {
        c->route = RT_CLOSE;
    } else if (ZPT_EXACT("/reset")) {
        c->route = RT_RESET;
    } else if (ZPT_EXACT("/truncate")) {
        c->route = RT_TRUNCATE;
    } else if (ZPT_EXACT("/hang")) {
        c->route = RT_HANG;
    } else if (ZPT_EXACT("/upload")) {
        c->route = RT_UPLOAD;
    } else if (ZPT_EXACT("/stats")) {
        c->route = RT_STATS;
    } else {
        c->route = RT_DEFAULT;
    }

#undef ZPT_PREFIX
#undef ZPT_EXACT
#undef ZPT_ARG
}


/* "GET /x HTTP/1.1": 0, or an error status. */
static int
zpt_parse_request_line(zpt_conn_t *c, const char *p, size_t n)
{
    size_t      i, m, t;
    const char *v;

    for (m = 0; m < n && zpt_tchar((unsigned char)p[m]); m++) { /* void */
    }
    if (m == 0 || m >= n || p[m] != ' ') {
        return 400;
    }

    for (t = m + 1; t < n && (unsigned char)p[t] > 0x20 && (unsigned char)p[t] < 0x7f; t++) {
        /* void */
    }
    if (t == m + 1 || t >= n || p[t] != ' ') {
        return 400;
    }

    v = p + t + 1;
    i = n - t - 1;

    if (i != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9') {
        return 400;
    }
    if (v[5] != '1') {
        return 505;
    }

    c->minor = v[7] == '0' ? 0 : 1;
    c->head  = m == 4 && memcmp(p, "HEAD", 4) == 0; /* methods are case-sensitive */

    zpt_append(&c->method, p, m);
    zpt_append(&c->target, p + m + 1, t - m - 1);
    zpt_route(c, p + m + 1, t - m - 1);

    return 0;
}


/*
 * Parses the head in [in_off, in_len) once it is complete: 1 with a
 * request set up, 0 when more bytes are needed, or an error status.
 */
static int
zpt_parse_head(zpt_conn_t *c)
{
    char       *p, *e, *ls, *le, *nl, *colon, *vs, *ve;
    int         rc, nhdr, hosts, te, te_other, expect, conn_close, conn_keep;
    int64_t     cl, v;
    size_t      i, tl;
    const char *tok;

    p = c->in + c->in_off;
    e = c->in + c->in_len;

    /* empty lines before a request are ignored (RFC 9112, 2.2) */
    while (e - p >= 2 && p[0] == '\r' && p[1] == '\n') {
        p += 2;
    }
    c->in_off = (size_t)(p - c->in);

    /*
     * Find the empty line that ends the head. Lines end in CRLF: a bare LF
     * (which RFC 9112 lets a server accept) is refused, since what we
     * check is a proxy's output and it must send CRLF.
     */
    ls = p;
    for (;;) {
        nl = memchr(ls, '\n', (size_t)(e - ls));
        if (nl == NULL) {
            return (size_t)(e - p) >= ZPT_HEAD_MAX ? 431 : 0;
        }
        if (nl == ls || nl[-1] != '\r') {
            return 400;
        }
        if (nl == ls + 1) {
            break;
        }
        ls = nl + 1;
    }

    if ((size_t)(nl + 1 - p) > ZPT_HEAD_MAX) {
        return 431;
    }

    cl         = -1;
    nhdr       = 0;
    hosts      = 0;
    te         = 0;
    te_other   = 0;
    expect     = 0;
    conn_close = 0;
    conn_keep  = 0;
    c->minor   = 1;

    for (ls = p; ls < nl; ls = le + 1) {
        le = memchr(ls, '\n', (size_t)(nl + 1 - ls));

        /* CR only right before LF (checked above) */
        ve = le - 1;
        if (memchr(ls, '\r', (size_t)(ve - ls)) != NULL) {
            return 400;
        }

        if (ls == p) {
            rc = zpt_parse_request_line(c, ls, (size_t)(ve - ls));
            if (rc) {
                return rc;
            }
            zpt_requests++;
            continue;
        }

        if (ve == ls) {
            break; /* the final empty line */
        }

        if (++nhdr > ZPT_HEADERS_MAX) {
            return 431;
        }

        /* no obs-fold, no whitespace before the colon, a token name */
        colon = memchr(ls, ':', (size_t)(ve - ls));
        if (colon == NULL || colon == ls) {
            return 400;
        }
        for (i = 0; ls + i < colon; i++) {
            if (!zpt_tchar((unsigned char)ls[i])) {
                return 400;
            }
        }

        vs = colon + 1;
        while (vs < ve && (*vs == ' ' || *vs == '\t')) {
            vs++;
        }
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        for (i = 0; vs + i < ve; i++) {
            unsigned char ch = (unsigned char)vs[i];

            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return 400;
            }
        }

        tl  = (size_t)(colon - ls);
        tok = ls;

        if (c->route == RT_ECHO) {
            zpt_append(&c->echo, ls, tl);
            zpt_append(&c->echo, ": ", 2);
            zpt_append(&c->echo, vs, (size_t)(ve - vs));
            zpt_append(&c->echo, "\n", 1);
        }

        if (zpt_caseeq(tok, tl, "host")) {
            hosts++;

        } else if (zpt_caseeq(tok, tl, "content-length")) {
            v = zpt_parse_dec(vs, (size_t)(ve - vs));
            if (v < 0 || (cl >= 0 && v != cl)) {
                return 400;
            }
            cl = v;

        } else if (zpt_caseeq(tok, tl, "expect")) {
            if (!zpt_caseeq(vs, (size_t)(ve - vs), "100-continue")) {
                return 417;
            }
            expect = 1;

        } else if (zpt_caseeq(tok, tl, "transfer-encoding") || zpt_caseeq(tok, tl, "connection")) {
            int   is_te = (tl == 17);
            char *s, *x;

            /* a comma-separated list of tokens, empty elements allowed */
            for (s = vs; s < ve; s = x + 1) {
                x = memchr(s, ',', (size_t)(ve - s));
                if (x == NULL) {
                    x = ve;
                }

                char *a = s, *b = x;

                while (a < b && (*a == ' ' || *a == '\t')) {
                    a++;
                }
                while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
                    b--;
                }
                if (a == b) {
                    continue;
                }

                if (!is_te) {
                    conn_close |= zpt_caseeq(a, (size_t)(b - a), "close");
                    conn_keep |= zpt_caseeq(a, (size_t)(b - a), "keep-alive");
                } else if (zpt_caseeq(a, (size_t)(b - a), "chunked")) {
                    if (te) {
                        return 400; /* chunked twice */
                    }
                    te = 1;
                } else if (te) {
                    return 400; /* chunked must be the final coding */
                } else {
                    te_other = 1;
                }
            }
            if (is_te && !te && !te_other) {
                return 400; /* an empty Transfer-Encoding */
            }
        }
    }

    c->in_off = (size_t)(nl + 1 - c->in);

    if (hosts > 1 || (c->minor == 1 && hosts == 0)) {
        return 400;
    }
    if ((te || te_other) && (cl >= 0 || c->minor == 0)) {
        return 400;
    }
    if (te_other) {
        return te ? 501 : 400; /* no chunked: the body has no length */
    }

    c->keepalive = c->minor == 1 ? !conn_close : (conn_keep && !conn_close);
    c->chunked   = te;
    c->ck        = CK_SIZE;
    c->remaining = cl > 0 ? (uint64_t)cl : 0;

    if (expect && c->minor == 1 && (te || cl > 0) && c->route != RT_RESET) {
        zpt_appendf(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    }

    return 1;
}


/* Reads the body, hashing it: 1 when done, 0 for more bytes, or 400. */
static int
zpt_consume_body(zpt_conn_t *c)
{
    char    *p, *nl, *q, *end;
    size_t   avail, n;
    uint64_t size;

    for (;;) {
        p     = c->in + c->in_off;
        avail = c->in_len - c->in_off;

        if (!c->chunked || c->ck == CK_DATA) {
            n = avail < c->remaining ? avail : (size_t)c->remaining;

            c->body_hash = zpt_fnv1a(c->body_hash, p, n);
            c->body_len += n;
            c->in_off += n;
            c->remaining -= n;

            if (c->remaining) {
                return 0;
            }
            if (!c->chunked) {
                return 1;
            }
            c->ck = CK_DATA_END;
            continue;
        }

        switch (c->ck) {

        case CK_SIZE:
            nl = memchr(p, '\n', avail);
            if (nl == NULL) {
                return avail > ZPT_LINE_MAX ? 400 : 0;
            }
            end = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
            if (end == nl || memchr(p, '\r', (size_t)(end - p))) {
                return 400; /* LF alone, or a bare CR */
            }

            size = 0;
            for (q = p; q < end; q++) {
                int d;

                if (*q >= '0' && *q <= '9') {
                    d = *q - '0';
                } else if ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f') {
                    d = (*q | 0x20) - 'a' + 10;
                } else {
                    break;
                }
                if (q - p >= 15) {
                    return 400; /* 2^60 is plenty */
                }
                size = size * 16 + (uint64_t)d;
            }
            if (q == p) {
                return 400;
            }
            while (q < end && (*q == ' ' || *q == '\t')) {
                q++;
            }
            if (q < end && *q != ';') {
                return 400; /* only chunk extensions may follow */
            }

            c->in_off    = (size_t)(nl + 1 - c->in);
            c->remaining = size;
            c->ck        = size ? CK_DATA : CK_TRAILER;
            break;

        case CK_DATA_END:
            if (avail < 2) {
                return (avail == 1 && *p != '\r') ? 400 : 0;
            }
            if (p[0] != '\r' || p[1] != '\n') {
                return 400;
            }
            c->in_off += 2;
            c->ck = CK_SIZE;
            break;

        case CK_TRAILER:
        default:
            nl = memchr(p, '\n', avail);
            if (nl == NULL) {
                return c->trailers + avail > ZPT_TRAILERS_MAX ? 400 : 0;
            }
            end = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
            if (end == nl || memchr(p, '\r', (size_t)(end - p))) {
                return 400;
            }

            c->in_off = (size_t)(nl + 1 - c->in);
            c->trailers += (size_t)(nl + 1 - p);

            if (end == p) {
                return 1; /* the empty line after the trailers */
            }
            if (memchr(p, ':', (size_t)(end - p)) == NULL || c->trailers > ZPT_TRAILERS_MAX) {
                return 400;
            }
            break;
        }
    }
}


/* ------------------------------------------------------------------ */
/* connections */


static void
zpt_close(zpt_conn_t *c)
{
    if (!c->dead) {
        close(c->fd);
        c->dead = 1;
        zpt_active--;
    }
}


static void
zpt_reset_request(zpt_conn_t *c)
{
    c->route     = RT_DEFAULT;
    c->arg       = 0;
    c->bad_arg   = 0;
    c->head      = 0;
    c->chunked   = 0;
    c->remaining = 0;
    c->trailers  = 0;
    c->body_len  = 0;
    c->body_hash = 0xcbf29ce484222325ULL;

    c->method.len = 0;
    c->target.len = 0;
    c->echo.len   = 0;

    c->gen_left    = 0;
    c->gen_off     = 0;
    c->gen_chunked = 0;
    c->gen_last    = 0;
    c->gen_idx     = 0;
    c->after       = AF_NEXT;
    c->state       = ST_HEAD;
}


/* 1: bytes added to c->in; 0: none for now; -1: closed (c->dead). */
static int
zpt_read(zpt_conn_t *c)
{
    ssize_t n;
    char   *p;

    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;

    } else if (c->in_off && c->in_cap - c->in_len < ZPT_IN_SIZE / 4) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }

    if (c->in_len == c->in_cap) {
        /* only a head (or a chunk line) that does not fit yet gets here */
        p = realloc(c->in, c->in_cap * 2);
        if (p == NULL) {
            zpt_die("realloc");
        }
        c->in = p;
        c->in_cap *= 2;
    }

    for (;;) {
        n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);

        if (n > 0) {
            c->in_len += (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }

        zpt_close(c); /* EOF (idle or mid-request) or an error */
        return -1;
    }
}


/* Writes c->out and generated body: 1 all sent, 0 blocked, -1 error. */
static int
zpt_flush(zpt_conn_t *c)
{
    ssize_t n;

    for (;;) {
        if (c->out_pos == c->out.len) {
            c->out_pos = c->out.len = 0;
            if (!zpt_generate(c)) {
                return 1;
            }
        }

        n = send(c->fd, c->out.p + c->out_pos, c->out.len - c->out_pos, MSG_NOSIGNAL);

        if (n >= 0) {
            c->out_pos += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }

        return -1;
    }
}


/* Runs c as far as it goes without blocking. */
static void
zpt_conn_run(zpt_conn_t *c)
{
    int           rc;
    char          drain[4096];
    ssize_t       n;
    struct linger lg;

    while (!c->dead) {
        switch (c->state) {

        case ST_HEAD:
            rc = zpt_parse_head(c);

            if (rc == 0) {
                if (zpt_read(c) <= 0) {
                    return;
                }
                continue;
            }

            if (rc > 1) {
                zpt_respond_error(c, rc);
                continue;
            }

            if (c->route == RT_RESET) {
                lg.l_onoff  = 1;
                lg.l_linger = 0;
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                zpt_close(c);
                return;
            }

            c->state = ST_BODY;

            /* an interim 100 Continue goes out now, if the socket takes it */
            if (c->out.len && zpt_flush(c) < 0) {
                zpt_close(c);
                return;
            }
            continue;

        case ST_BODY:
            rc = zpt_consume_body(c);

            if (rc == 0) {
                if (zpt_read(c) <= 0) {
                    return;
                }
                continue;
            }

            if (rc > 1) {
                zpt_respond_error(c, rc);
            } else {
                zpt_respond_route(c);
            }
            continue;

        case ST_WAIT:
            if (zpt_now() < c->deadline) {
                return;
            }
            {
                char body[64];
                int  len = snprintf(body, sizeof(body), "slow %" PRIu64 "\n", c->arg);

                zpt_respond(c, 200, body, (size_t)len);
            }
            continue;

        case ST_WRITE:
            rc = zpt_flush(c);

            if (rc == 0) {
                return;
            }
            if (rc < 0) {
                zpt_close(c);
                return;
            }

            if (c->after == AF_NEXT) {
                zpt_reset_request(c); /* and on to a pipelined request */
                continue;
            }

            if (c->after == AF_HANG) {
                c->state = ST_HANG;
                continue;
            }

            /* a lingering close: FIN first, then drain until the peer's EOF */
            shutdown(c->fd, SHUT_WR);
            c->state    = ST_LINGER;
            c->deadline = zpt_now() + ZPT_LINGER_MS;
            continue;

        case ST_HANG:
        case ST_LINGER:
            if (c->state == ST_LINGER && zpt_now() >= c->deadline) {
                zpt_close(c);
                return;
            }

            n = read(c->fd, drain, sizeof(drain));
            if (n > 0 || (n < 0 && errno == EINTR)) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return;
            }
            zpt_close(c);
            return;
        }
    }
}


static void
zpt_accept(int ls)
{
    int         fd, one;
    zpt_conn_t *c, **conns;

    for (;;) {
        fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return; /* EAGAIN, or EMFILE: try again on the next event */
        }

        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            close(fd);
            continue;
        }

        one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

        c = calloc(1, sizeof(zpt_conn_t));
        if (c == NULL) {
            zpt_die("calloc");
        }

        c->fd     = fd;
        c->in_cap = ZPT_IN_SIZE;
        c->in     = malloc(c->in_cap);
        if (c->in == NULL) {
            zpt_die("malloc");
        }

        zpt_reset_request(c);

        if (zpt_nconns == zpt_conns_cap) {
            zpt_conns_cap = zpt_conns_cap ? zpt_conns_cap * 2 : 64;
            conns         = realloc(zpt_conns, zpt_conns_cap * sizeof(zpt_conn_t *));
            if (conns == NULL) {
                zpt_die("realloc");
            }
            zpt_conns = conns;
        }

        zpt_conns[zpt_nconns++] = c;
        zpt_accepted++;
        zpt_active++;
    }
}


static void
zpt_free(zpt_conn_t *c)
{
    free(c->in);
    free(c->out.p);
    free(c->method.p);
    free(c->target.p);
    free(c->echo.p);
    free(c);
}


static void
zpt_on_signal(int signo)
{
    int     saved = errno;
    char    b     = (char)signo;
    ssize_t n;

    n = write(zpt_sigpipe[1], &b, 1);
    (void)n;
    errno = saved;
}


static int
zpt_listen(const char *addr, const char *port, unsigned *bound)
{
    int                     fd, one, rc;
    struct addrinfo         hints, *res;
    struct sockaddr_storage ss;
    socklen_t               len;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family   = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags    = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;

    rc = getaddrinfo(addr, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "zpt_backend: %s port %s: %s\n", addr, port, gai_strerror(rc));
        exit(2);
    }

    fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        zpt_die("socket");
    }

    one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        zpt_die("bind");
    }
    freeaddrinfo(res);

    if (listen(fd, 1024) < 0) {
        zpt_die("listen");
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        zpt_die("fcntl");
    }

    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        zpt_die("getsockname");
    }

    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}


static void
zpt_usage(void)
{
    fprintf(stderr, "usage: zpt_backend --port N [--addr 127.0.0.1|::1] [--id NAME]\n");
    exit(2);
}


int
main(int argc, char **argv)
{
    int              i, ls, timeout, stop;
    unsigned         port;
    size_t           np, k, live;
    uint64_t         now, next;
    const char      *addr, *portarg;
    struct pollfd   *pfd;
    zpt_conn_t     **polled, *c;
    struct sigaction sa;
    struct rlimit    rl;

    addr    = "127.0.0.1";
    portarg = NULL;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            portarg = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--addr") == 0) {
            addr = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--id") == 0) {
            zpt_id = argv[++i];
        } else {
            zpt_usage();
        }
    }

    if (portarg == NULL || zpt_parse_dec(portarg, strlen(portarg)) < 0 ||
        zpt_parse_dec(portarg, strlen(portarg)) > 65535) {
        zpt_usage();
    }

    /* many connections: as many fds as the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    zpt_pattern = malloc(ZPT_FILL + ZPT_PATTERN_LEN);
    if (zpt_pattern == NULL) {
        zpt_die("malloc");
    }
    for (k = 0; k < ZPT_FILL + ZPT_PATTERN_LEN; k++) {
        zpt_pattern[k] = ZPT_PATTERN[k % ZPT_PATTERN_LEN];
    }

    if (pipe(zpt_sigpipe) < 0) {
        zpt_die("pipe");
    }
    fcntl(zpt_sigpipe[1], F_SETFL, fcntl(zpt_sigpipe[1], F_GETFL) | O_NONBLOCK);

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = zpt_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    ls = zpt_listen(addr, portarg, &port);

    printf("ready %u\n", port);
    fflush(stdout);

    pfd    = NULL;
    polled = NULL;
    stop   = 0;

    while (!stop) {
        pfd    = realloc(pfd, (zpt_nconns + 2) * sizeof(struct pollfd));
        polled = realloc(polled, (zpt_nconns + 2) * sizeof(zpt_conn_t *));
        if (pfd == NULL || polled == NULL) {
            zpt_die("realloc");
        }

        pfd[0].fd     = zpt_sigpipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd     = ls;
        pfd[1].events = POLLIN;
        np            = 2;

        now     = zpt_now();
        next    = UINT64_MAX;
        timeout = -1;

        for (k = 0; k < zpt_nconns; k++) {
            c = zpt_conns[k];

            if (c->state == ST_WAIT || c->state == ST_LINGER) {
                next = c->deadline < next ? c->deadline : next;
            }
            if (c->state == ST_WAIT) {
                continue; /* no fd interest: a hangup would only spin poll() */
            }

            pfd[np].fd      = c->fd;
            pfd[np].events  = c->state == ST_WRITE ? POLLOUT : POLLIN;
            pfd[np].revents = 0;
            polled[np++]    = c;
        }

        if (next != UINT64_MAX) {
            timeout = next <= now ? 0 : (int)(next - now < 60000 ? next - now : 60000);
        }

        if (poll(pfd, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR) {
                continue;
            }
            zpt_die("poll");
        }

        if (pfd[0].revents) {
            stop = 1;
            break;
        }

        for (k = 2; k < np; k++) {
            if (pfd[k].revents) {
                zpt_conn_run(polled[k]);
            }
        }

        /* timers */
        now = zpt_now();
        for (k = 0; k < zpt_nconns; k++) {
            c = zpt_conns[k];
            if (!c->dead && (c->state == ST_WAIT || c->state == ST_LINGER) && c->deadline <= now) {
                zpt_conn_run(c);
            }
        }

        /* new connections get a first run at once: a request may be there */
        if (pfd[1].revents) {
            k = zpt_nconns;
            zpt_accept(ls);
            for (; k < zpt_nconns; k++) {
                zpt_conn_run(zpt_conns[k]);
            }
        }

        for (k = 0, live = 0; k < zpt_nconns; k++) {
            if (zpt_conns[k]->dead) {
                zpt_free(zpt_conns[k]);
            } else {
                zpt_conns[live++] = zpt_conns[k];
            }
        }
        zpt_nconns = live;
    }

    for (k = 0; k < zpt_nconns; k++) {
        zpt_close(zpt_conns[k]);
        zpt_free(zpt_conns[k]);
    }
    free(zpt_conns);
    free(pfd);
    free(polled);
    free(zpt_pattern);
    close(ls);

    return 0;
}
