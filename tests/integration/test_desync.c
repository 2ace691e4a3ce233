/*
 * The desync-guardian cases (tests/testdata/http1/desync-guardian, 159
 * requests classified Compliant, Acceptable, Ambiguous or Severe; see its
 * ORIGIN.md) sent through a real zproxy to a recording backend, one case
 * per client connection:
 *
 *   - Severe: 400, the connection closed, nothing reached the backend;
 *   - Compliant and Acceptable: every one forwarded (the backend got exactly
 *     one well-formed request, with nothing after it); the two HTTP/0.9
 *     ones are answered with the backend's body alone, then a close;
 *   - Ambiguous: as the table of docs/http1.md says, mirrored in
 *     zpt_ambiguous_cases[]: refused with a status and a close, or
 *     forwarded as one well-formed request (with the upstream connection
 *     closed after it, or not).
 *
 * A case handled otherwise, or a table entry that matches no case, fails
 * the test. After all cases both workers are the same processes and a
 * normal proxied request is served.
 *
 * Requests are built as tests/unit/http/test_http_parse.c builds them
 * ("name:value" lines) after a "Host: localhost" line (the cases carry no
 * Host, which HTTP/1.1 requires), with a body: the 5-byte chunked body
 * "hello" when the last coding is chunked, else as many bytes as a
 * Content-Length of digits announces.
 *
 * ZPT_DUMP=<file> appends each request and what the backend got to file.
 *
 * The backend is a thread of the test on a loopback port. It reads each
 * upstream connection until a whole request is in (head, then the body by
 * Content-Length or chunked), records the bytes (and any that came after
 * the request), answers 200 with "Connection: close" and closes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml.h>

#include "zpt_harness.h"
#include "zpt_client.h"

#define ZPT_REQ_MAX  (8 * 1024 * 1024)
#define ZPT_MAX_RECS 16
#define ZPT_MAX_CONN 32


/* ---- the recording backend --------------------------------------------------------- */

typedef struct {
    char  *data; /* one request as it came, or what was left at a close */
    size_t len;
    int    complete; /* a whole request */
    int    conn;     /* the upstream connection it came on */
} zpt_rec_t;

#define ZPT_MAX_IDS 4096

static struct {
    pthread_mutex_t lock;
    pthread_t       tid;
    int             lfd, port, stop;
    zpt_rec_t       recs[ZPT_MAX_RECS];
    int             nrecs;
    int             conns;             /* upstream connections accepted */
    char            closed[ZPT_MAX_IDS]; /* by connection: zproxy closed it */
} be = {.lock = PTHREAD_MUTEX_INITIALIZER};


/* The length of the first request in p, or 0 when it is not whole (or
 * -1 when it cannot be framed: the backend then records what it got). */
static long
zpt_request_len(const char *p, size_t len)
{
    const char *head_end, *h, *eol, *q;
    long        cl = -1, size;
    int         chunked = 0;
    size_t      pos;

    head_end = memmem(p, len, "\r\n\r\n", 4);
    if (head_end == NULL) {
        return 0;
    }
    pos = head_end + 4 - p;

    for (h = memchr(p, '\n', len) + 1; h < head_end; h = eol + 1) {
        eol = memchr(h, '\n', head_end + 2 - h);
        if (eol == NULL) {
            return -1;
        }
        if (strncasecmp(h, "Content-Length:", 15) == 0) {
            cl = strtol(h + 15, NULL, 10);
        } else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
            chunked = 1;
        }
    }

    if (!chunked) {
        if (cl < 0) {
            return (long) pos;
        }
        return len - pos >= (size_t) cl ? (long) (pos + cl) : 0;
    }

    for (;;) {
        q = memmem(p + pos, len - pos, "\r\n", 2);
        if (q == NULL) {
            return 0;
        }
        size = strtol(p + pos, NULL, 16);
        pos  = q + 2 - p;
        if (size == 0) {
            /* no trailers are sent by zproxy: the empty line */
            return len - pos >= 2 ? (long) (pos + 2) : 0;
        }
        if (len - pos < (size_t) size + 2) {
            return 0;
        }
        pos += size + 2;
    }
}


static void
zpt_backend_record(const char *p, size_t len, int complete, int conn)
{
    char *copy = malloc(len ? len : 1);

    if (copy == NULL) {
        return;
    }
    memcpy(copy, p, len);

    pthread_mutex_lock(&be.lock);
    if (be.nrecs < ZPT_MAX_RECS) {
        be.recs[be.nrecs].data     = copy;
        be.recs[be.nrecs].len      = len;
        be.recs[be.nrecs].complete = complete;
        be.recs[be.nrecs].conn     = conn;
        be.nrecs++;
        copy = NULL;
    }
    pthread_mutex_unlock(&be.lock);
    free(copy);
}


/*
 * Serves each upstream connection request by request (keep-alive: zproxy
 * may pool it), answering 200 "ok" (no body to HEAD). Each whole request
 * is recorded on its own; bytes left at a close, or that cannot be framed,
 * are recorded as an incomplete request.
 */
static void *
zpt_backend_loop(void *arg)
{
    static const char ok[]   = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    struct pollfd     pfd[ZPT_MAX_CONN + 1];
    char             *buf[ZPT_MAX_CONN + 1];
    size_t            len[ZPT_MAX_CONN + 1];
    int               id[ZPT_MAX_CONN + 1];
    int               n, i, fd, stop, is_head;
    ssize_t           k;
    long              rl = 0;

    (void) arg;
    n             = 1;
    pfd[0].fd     = be.lfd;
    pfd[0].events = POLLIN;

    for (;;) {
        pthread_mutex_lock(&be.lock);
        stop = be.stop;
        pthread_mutex_unlock(&be.lock);
        if (stop) {
            break;
        }

        if (poll(pfd, n, 100) <= 0) {
            continue;
        }

        if ((pfd[0].revents & POLLIN) && n <= ZPT_MAX_CONN) {
            fd = accept(be.lfd, NULL, NULL);
            if (fd >= 0) {
                pfd[n].fd     = fd;
                pfd[n].events = POLLIN;
                buf[n]        = malloc(ZPT_REQ_MAX);
                len[n]        = 0;
                pthread_mutex_lock(&be.lock);
                id[n] = be.conns++ % ZPT_MAX_IDS;
                pthread_mutex_unlock(&be.lock);
                n++;
            }
        }

        for (i = 1; i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }

            k = recv(pfd[i].fd, buf[i] + len[i], ZPT_REQ_MAX - len[i], 0);

            if (k > 0) {
                len[i] += k;
                rl = 0;

                while (len[i] && (rl = zpt_request_len(buf[i], len[i])) > 0) {
                    zpt_backend_record(buf[i], rl, 1, id[i]);
                    is_head = rl > 5 && memcmp(buf[i], "HEAD ", 5) == 0;
                    (void) !send(pfd[i].fd, is_head ? head : ok,
                                 is_head ? sizeof(head) - 1 : sizeof(ok) - 1, MSG_NOSIGNAL);
                    memmove(buf[i], buf[i] + rl, len[i] - rl);
                    len[i] -= rl;
                }

                /* a request still coming in, or none left */
                if (rl >= 0 && len[i] < ZPT_REQ_MAX) {
                    continue;
                }
            }

            /* closed by zproxy (or unframeable): what is left is a
             * request that never completed */
            if (len[i]) {
                zpt_backend_record(buf[i], len[i], 0, id[i]);
            }

            pthread_mutex_lock(&be.lock);
            be.closed[id[i]] = 1;
            pthread_mutex_unlock(&be.lock);

            close(pfd[i].fd);
            free(buf[i]);
            pfd[i] = pfd[n - 1];
            buf[i] = buf[n - 1];
            len[i] = len[n - 1];
            id[i]  = id[n - 1];
            n--;
            i--;
        }
    }

    for (i = 1; i < n; i++) {
        close(pfd[i].fd);
        free(buf[i]);
    }

    return NULL;
}


static void
zpt_backend_run(void)
{
    be.lfd = zpt_listen_any(64, &be.port);
    ck_assert(be.lfd >= 0);
    ck_assert(pthread_create(&be.tid, NULL, zpt_backend_loop, NULL) == 0);
}


static void
zpt_backend_halt(void)
{
    pthread_mutex_lock(&be.lock);
    be.stop = 1;
    pthread_mutex_unlock(&be.lock);
    pthread_join(be.tid, NULL);
    close(be.lfd);
}


static int
zpt_backend_count(void)
{
    int n;

    pthread_mutex_lock(&be.lock);
    n = be.nrecs;
    pthread_mutex_unlock(&be.lock);
    return n;
}


/* Waits (bounded) until zproxy has closed upstream connection conn. */
static int
zpt_backend_wait_closed(int conn)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       closed;

    for (;;) {
        pthread_mutex_lock(&be.lock);
        closed = be.closed[conn];
        pthread_mutex_unlock(&be.lock);
        if (closed || zpt_now_ms() >= end) {
            return closed;
        }
        zpt_msleep(5);
    }
}


static void
zpt_backend_clear(void)
{
    int i;

    pthread_mutex_lock(&be.lock);
    for (i = 0; i < be.nrecs; i++) {
        free(be.recs[i].data);
    }
    be.nrecs = 0;
    pthread_mutex_unlock(&be.lock);
}


/* Is [p, p + len) exactly one well-formed request: a request line, field
 * lines of token ":" value without NUL, CR or LF (another CTL only where
 * the client sent it: RFC 9110 5.5 lets a proxy keep it; never in
 * Content-Length or Transfer-Encoding), framing by at most one
 * Content-Length or by one Transfer-Encoding ending in chunked, the body as
 * framed, nothing after. */
static int
zpt_well_formed(const char *p, size_t len, char *why, size_t wsize)
{
    const char *eol, *line, *head_end, *c;
    int         cls = 0, tes = 0, framing;
    long        rl;

    head_end = memmem(p, len, "\r\n\r\n", 4);
    if (head_end == NULL) {
        snprintf(why, wsize, "no end of head");
        return 0;
    }

    eol = memmem(p, len, "\r\n", 2);
    for (c = p; c < eol; c++) {
        if ((unsigned char) *c < 0x21 && *c != ' ') {
            snprintf(why, wsize, "a control byte in the request line");
            return 0;
        }
    }
    if (eol - p < 14 || memcmp(eol - 9, " HTTP/1.1", 9) != 0) {
        snprintf(why, wsize, "request line \"%.*s\"", (int) (eol - p), p);
        return 0;
    }

    for (line = eol + 2; line < head_end + 2; line = eol + 2) {
        eol = memmem(line, head_end + 2 - line, "\r\n", 2);
        for (c = line; c < eol && *c != ':'; c++) {
            if (!(*c > 0x20 && *c < 0x7f) || strchr("\"(),/;<=>?@[\\]{}", *c)) {
                snprintf(why, wsize, "bad name byte 0x%02x", (unsigned char) *c);
                return 0;
            }
        }
        if (c == eol || c == line) {
            snprintf(why, wsize, "a field line without name or colon");
            return 0;
        }
        framing = strncasecmp(line, "Content-Length:", 15) == 0
                  || strncasecmp(line, "Transfer-Encoding:", 18) == 0;
        for (; c < eol; c++) {
            if (*c == '\0' || *c == '\r' || *c == '\n'
                || (framing && (((unsigned char) *c < 0x20 && *c != '\t') || *c == 0x7f))) {
                snprintf(why, wsize, "a control byte 0x%02x in a value", (unsigned char) *c);
                return 0;
            }
        }
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            cls++;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            /* "chunked" alone, or codings passed on before it */
            tes++;
            if (!(eol - line == 26 && memcmp(line + 18, " chunked", 8) == 0)
                && !(eol - line > 28 && line[18] == ' ' && line[19] != ' '
                     && memcmp(eol - 9, ", chunked", 9) == 0)) {
                snprintf(why, wsize, "Transfer-Encoding \"%.*s\"", (int) (eol - line - 18),
                         line + 18);
                return 0;
            }
        }
    }

    if (cls > 1 || tes > 1 || (cls && tes)) {
        snprintf(why, wsize, "framing: %d Content-Length, %d Transfer-Encoding", cls, tes);
        return 0;
    }

    rl = zpt_request_len(p, len);
    if (rl <= 0 || (size_t) rl != len) {
        snprintf(why, wsize, "%zu bytes for a request of %ld", len, rl);
        return 0;
    }

    return 1;
}


/* ---- the expectations (docs/http1.md) ---------------------------------------------- */

#define ZPT_NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ZPT_FORWARD   0 /* forwarded as one well-formed request */
#define ZPT_CLOSE     1 /* that, and the upstream connection is closed after it */

typedef struct {
    const char *file; /* the yaml file, without ".yaml" */
    const char *name;
    int         status; /* the answer when refused (closed too), or ZPT_FORWARD */
    int         seen;
} zpt_expect_t;

/* every Ambiguous case (docs/http1.md) */
static zpt_expect_t zpt_ambiguous_cases[] = {
    {"ambiguous", "Transfer-Encoding with a trailing space in name", 400, 0},
    {"ambiguous", "Transfer-Encoding with a trailing tab in name", 400, 0},
    {"ambiguous", "\\x01Transfer-Encoding with a non-printable character", 400, 0},
    {"ambiguous", "\\x01\\x01Transfer-Encoding with a non-printable character", 400, 0},
    {"ambiguous", "\\x01\\x01Content-Length with a non-printable character", 400, 0},
    {"ambiguous", "\\x01Content-Length with a non-printable character", 400, 0},
    {"ambiguous", "Transfer-Encoding with a space in the middle", 400, 0},
    {"ambiguous", "Transfer_Encoding with underscore.", ZPT_FORWARD, 0},
    {"ambiguous", "Content_Length with underscore.", ZPT_FORWARD, 0},
    {"ambiguous", "Duplicate Content-Length", ZPT_FORWARD, 0},
    {"ambiguous", "Both Transfer-Encoding:chunked and Content-Length", 400, 0},
    {"ambiguous", "Both Transfer-Encoding and Content-Length", 400, 0},
    {"ambiguous", "Get with a body and Content-Length", ZPT_CLOSE, 0},
    {"ambiguous", "Get with a body and Transfer-Encoding", ZPT_CLOSE, 0},
    {"ambiguous", "Head with a body and Content-Length", ZPT_CLOSE, 0},
    {"ambiguous", "Head with a body and Transfer-Encoding", ZPT_CLOSE, 0},
    {"ambiguous", "Transfer-Encoding[white-space] and Content-Length", 400, 0},
    {"ambiguous", "[white-space]Transfer-Encoding and Content-Length", 400, 0},
    {"ambiguous", "[white-space]Transfer-Encoding and [white-space]Content-Length", 400, 0},
    {"ambiguous", "Transfer-Encoding[white-space] and Content-Length[white-space]", 400, 0},
    {"ambiguous", "Empty header name", 400, 0},
    {"ambiguous", "Header name starts with :", 400, 0},
    {"ambiguous", "Only white-spaces header name", 400, 0},
    {"ambiguous", "Transfer-Encoding for HTTP/1.0", 400, 0},
    {"ambiguous", "Transfer-Encoding for HTTP/0.9", 400, 0},
    {"ambiguous", "Content-Length for HTTP/0.9", 400, 0},
    {"ambiguous", "Transfer-Encoding for empty protocol, which is HTTP/0.9", 400, 0},
    {"ambiguous", "Content-Length for empty protocol, which is HTTP/0.9", 400, 0},
    {"ambiguous", "Transfer-Encoding Latin Small Letter Long S", ZPT_FORWARD, 0},
    {"ambiguous", "Transfer-Encoding Latin Small Letter Dotless I", ZPT_FORWARD, 0},
    {"ambiguous", "Transfer-Encoding with multiple hyphens", ZPT_CLOSE, 0},
    {"ambiguous", "Transfer-Encoding with multiple delimiters", ZPT_FORWARD, 0},
    {"ambiguous", "Transfer-Encoding with UTF8 spaces", 400, 0},
    {"ambiguous", "Content-Length with UTF8 spaces", 400, 0},
    {"ambiguous", "Transfer-Encoding with a UTF8 delimiter", 400, 0},
    {"ambiguous", "Transfer-Encoding with arbitrary non-ASCII chars", 400, 0},
    {"ambiguous", "Content-Length with arbitrary non-ASCII chars", 400, 0},
    {"bad-header-characters", "\\x01Transfer-Encoding", 400, 0},
    {"bad-header-characters", "Transfer-Encoding\\x01", 400, 0},
    {"bad-header-characters", "\\x01Content-Length", 400, 0},
    {"bad-header-characters", "Content-Length\\x01", 400, 0},
    {"edge-cases", "Non-compliant customer header does not shadow ambiguous Transfer-Encoding for GET", ZPT_CLOSE, 0},
    {"edge-cases", "Non-compliant customer header does not shadow ambiguous Content-Length for HEAD", ZPT_CLOSE, 0},
    {"edge-cases", "Bad URI does not shadow essential ambiguous headers", ZPT_CLOSE, 0},
    {"real-life-test-cases", "Has a CL in GET", ZPT_CLOSE, 0},
    {"real-life-test-cases", "Has a TE in GET", ZPT_CLOSE, 0},
    {"real-life-test-cases", "HTTP Version.1.0 and TE", 400, 0},
    {"real-life-test-cases", "Two Identical Fields - CL", ZPT_FORWARD, 0},
    {"real-life-test-cases", "Chunks Priority on Content-Length", 400, 0},
    {"real-life-test-cases", "Transfer-Encoding[tab]: chunked", 400, 0},
    {"real-life-test-cases", "Transfer-Encoding: identity and Content-Length", 400, 0},
    {"real-life-test-cases", "Multiple transfer encoding headers in a single request", 400, 0},
    {"real-life-test-cases", "Mixed case", 400, 0},
    {"real-life-test-cases", "Chunks Priority on Content-Length.1", 400, 0},
    {"real-life-test-cases", "Send small (1614 bytes) request, transfer encoded request", 400, 0},
    {"single-case", "Both Transfer-Encoding:chunked and Content-Length", 400, 0},
    {"uri-specific-test-cases", "\\t in URI", 400, 0},
    {"uri-specific-test-cases", "\\x01 in URI", 400, 0},
};


static zpt_expect_t *
zpt_expect_find(zpt_expect_t *t, size_t n, const char *file, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(t[i].file, file) == 0 && strcmp(t[i].name, name) == 0) {
            return &t[i];
        }
    }
    return NULL;
}


/* ---- the cases ----------------------------------------------------------------- */

static yaml_node_t *
zpt_yaml_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pair;
    yaml_node_t      *k;

    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        k = yaml_document_get_node(doc, pair->key);
        if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length
            && memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0) {
            return yaml_document_get_node(doc, pair->value);
        }
    }
    return NULL;
}


static const char *
zpt_scalar(yaml_node_t *n, size_t *len)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE) {
        *len = 0;
        return "";
    }
    *len = n->data.scalar.length;
    return (const char *) n->data.scalar.value;
}


static size_t
zpt_put(char *buf, size_t pos, const char *s, size_t n)
{
    ck_assert(pos + n < ZPT_REQ_MAX);
    memcpy(buf + pos, s, n);
    return pos + n;
}


/* Builds the request of case c into buf; returns its length. */
static size_t
zpt_build(yaml_document_t *doc, yaml_node_t *c, char *buf)
{
    yaml_node_t      *headers, *h;
    yaml_node_item_t *it;
    const char       *s, *name, *value;
    size_t            n, nl, vl, k, d, pos = 0;
    long              cl = -1;
    int               te_chunked = 0;

    s   = zpt_scalar(zpt_yaml_get(doc, c, "method"), &n);
    pos = zpt_put(buf, pos, s, n);
    pos = zpt_put(buf, pos, " ", 1);
    s   = zpt_scalar(zpt_yaml_get(doc, c, "uri"), &n);
    pos = zpt_put(buf, pos, s, n);
    s   = zpt_scalar(zpt_yaml_get(doc, c, "version"), &n);
    if (n) {
        pos = zpt_put(buf, pos, " ", 1);
        pos = zpt_put(buf, pos, s, n);
    }
    pos = zpt_put(buf, pos, "\r\n", 2);

    /* the cases are about framing and carry no Host, which HTTP/1.1
     * requires (400 otherwise): one comes first */
    pos = zpt_put(buf, pos, "Host: localhost\r\n", 17);

    headers = zpt_yaml_get(doc, c, "headers");
    if (headers && headers->type == YAML_SEQUENCE_NODE) {
        for (it = headers->data.sequence.items.start; it < headers->data.sequence.items.top;
             it++) {
            h     = yaml_document_get_node(doc, *it);
            name  = zpt_scalar(zpt_yaml_get(doc, h, "name"), &nl);
            value = zpt_scalar(zpt_yaml_get(doc, h, "value"), &vl);
            pos   = zpt_put(buf, pos, name, nl);
            pos   = zpt_put(buf, pos, ":", 1);
            pos   = zpt_put(buf, pos, value, vl);
            pos   = zpt_put(buf, pos, "\r\n", 2);

            if (nl == 14 && memcmp(name, "Content-Length", 14) == 0) {
                /* digits between optional blanks, as the value is read */
                k = strspn(value, " \t");
                d = strspn(value + k, "0123456789");
                if (d > 0 && d < 8 && k + d + strspn(value + k + d, " \t") == vl) {
                    cl = strtol(value + k, NULL, 10);
                }
            }
            if (nl == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
                /* the last coding of the last line, without parameters */
                for (k = vl; k > 0 && value[k - 1] != ','; k--) {
                    /* void */
                }
                k += strspn(value + k, " \t");
                d = k + strcspn(value + k, ";");
                d = d < vl ? d : vl;
                while (d > k && (value[d - 1] == ' ' || value[d - 1] == '\t')) {
                    d--;
                }
                te_chunked = d - k == 7 && strncasecmp(value + k, "chunked", 7) == 0;
            }
        }
    }
    pos = zpt_put(buf, pos, "\r\n", 2);

    if (te_chunked) {
        pos = zpt_put(buf, pos, "5\r\nhello\r\n0\r\n\r\n", 15);
    } else if (cl > 0) {
        ck_assert(pos + cl < ZPT_REQ_MAX);
        memset(buf + pos, 'x', cl);
        pos += cl;
    }

    return pos;
}


/* ---- the test ------------------------------------------------------------------- */

#define CONF_FMT                                                                                   \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 256; }\n"                                                         \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    client_header_timeout 5s;\n"                                                              \
    "    client_body_timeout 5s;\n"                                                              \
    "    client_max_body_size 64m;\n"                                                                \
    "    upstream up { server 127.0.0.1:%d max_fails=0; keepalive 4; }\n"                                       \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                               \
    "        route / { proxy_pass http://up; }\n"                                                  \
    "    }\n"                                                                                      \
    "}\n"


START_TEST(test_desync_cases)
{
    static const char *tiers[] = {"Compliant", "Acceptable", "Ambiguous", "Severe"};
    char               conf[2048], pattern[1024], file[128], why[256], *req, *dot;
    const char        *dir, *tier, *name, *slash, *method, *version;
    size_t             len, tl, nl, ml, vl, fi, i;
    ssize_t            n;
    zpt_srv_t          srv;
    pid_t              master, workers[2];
    glob_t             g;
    FILE              *f;
    yaml_parser_t      parser;
    yaml_document_t    doc;
    yaml_node_t       *root, *c;
    yaml_node_item_t  *it;
    zpt_conn_t        *conn;
    zpt_resp_t        *r;
    zpt_expect_t      *e;
    int                ti, status, closed, nrec, forwarded, want, total, bad, counts[4][2];
    int                upconn, nforwarded;

    zpt_backend_run();

    ck_assert(zpt_srv_init(&srv) == 0);
    snprintf(conf, sizeof(conf), CONF_FMT, be.port, srv.port);
    master = zpt_start_conf(&srv, conf, workers);

    req = malloc(ZPT_REQ_MAX);
    r   = malloc(sizeof(*r));
    ck_assert(req && r);

    dir = getenv("ZP_DESYNC_DIR");
    snprintf(pattern, sizeof(pattern), "%s/*.yaml",
             dir ? dir : "tests/testdata/http1/desync-guardian");
    if (dir == NULL) {
        snprintf(pattern, sizeof(pattern), "%s/tests/testdata/http1/desync-guardian/*.yaml",
                 zpt_src());
    }
    ck_assert_msg(glob(pattern, 0, NULL, &g) == 0, "no cases: %s", pattern);

    total      = 0;
    bad        = 0;
    nforwarded = 0;
    memset(counts, 0, sizeof(counts));

    for (fi = 0; fi < g.gl_pathc; fi++) {
        slash = strrchr(g.gl_pathv[fi], '/');
        snprintf(file, sizeof(file), "%s", slash ? slash + 1 : g.gl_pathv[fi]);
        dot = strstr(file, ".yaml");
        if (dot) {
            *dot = '\0';
        }

        f = fopen(g.gl_pathv[fi], "rb");
        ck_assert(f != NULL);
        ck_assert(yaml_parser_initialize(&parser));
        yaml_parser_set_input_file(&parser, f);
        ck_assert_msg(yaml_parser_load(&parser, &doc), "%s: yaml error", g.gl_pathv[fi]);
        root = yaml_document_get_root_node(&doc);
        ck_assert(root && root->type == YAML_SEQUENCE_NODE);

        for (it = root->data.sequence.items.start; it < root->data.sequence.items.top; it++) {
            c    = yaml_document_get_node(&doc, *it);
            tier = zpt_scalar(zpt_yaml_get(&doc, zpt_yaml_get(&doc, c, "expected"), "tier"), &tl);
            name = zpt_scalar(zpt_yaml_get(&doc, c, "name"), &nl);

            for (ti = 0; ti < 4 && strcmp(tier, tiers[ti]) != 0; ti++) {
                /* void */
            }
            ck_assert_msg(ti < 4, "%s: \"%s\": unknown tier \"%s\"", file, name, tier);

            len = zpt_build(&doc, c, req);
            zpt_backend_clear();

            /* send, read one answer, see whether the connection closes */
            conn = zpt_conn_open(srv.port);
            zpt_conn_send_n(conn, req, len);
            method  = zpt_scalar(zpt_yaml_get(&doc, c, "method"), &ml);
            version = zpt_scalar(zpt_yaml_get(&doc, c, "version"), &vl);
            if (ml == 3 && memcmp(method, "GET", 3) == 0
                && (vl == 0 || (vl == 8 && memcmp(version, "HTTP/0.9", 8) == 0))) {
                /* HTTP/0.9: the backend's body alone, then the close */
                n      = zpt_conn_read_all(conn, r->body, sizeof(r->body));
                status = n == 2 && strcmp(r->body, "ok") == 0 ? 200 : -1;
                closed = n >= 0 ? 1 : 0;
            } else {
                status = zpt_conn_read(conn, r, ml == 4 && memcmp(method, "HEAD", 4) == 0) == 0
                             ? r->status
                             : -1;
                closed = status != 200 ? zpt_conn_wait_close(conn, zpt_wait_ms()) : 0;
            }
            zpt_conn_close(conn);

            /* a forwarded request has reached the backend before the
             * answer, a refused one never does */
            nrec = zpt_backend_count();

            if (getenv("ZPT_DUMP")) {
                FILE *df = fopen(getenv("ZPT_DUMP"), "a");
                fprintf(df, "##### %s: %s\n", file, name);
                fwrite(req, 1, len, df);
                pthread_mutex_lock(&be.lock);
                for (i = 0; i < (size_t) be.nrecs; i++) {
                    fprintf(df, "\n----- backend %zu (complete %d)\n", i, be.recs[i].complete);
                    fwrite(be.recs[i].data, 1, be.recs[i].len, df);
                }
                pthread_mutex_unlock(&be.lock);
                fprintf(df, "\n");
                fclose(df);
            }

            forwarded = 0;
            why[0]    = '\0';
            upconn    = -1;
            if (status == 200 && nrec == 1) {
                pthread_mutex_lock(&be.lock);
                forwarded = be.recs[0].complete
                            && zpt_well_formed(be.recs[0].data, be.recs[0].len, why, sizeof(why));
                upconn = be.recs[0].conn;
                pthread_mutex_unlock(&be.lock);
            }

            if (ti == 3) {
                want = 400;
            } else if (ti == 2) {
                e = zpt_expect_find(zpt_ambiguous_cases, ZPT_NELEMS(zpt_ambiguous_cases), file,
                                    name);
                want = e ? e->status : -2;
                if (e) {
                    e->seen++;
                }
            } else {
                /* Compliant and Acceptable: all of them */
                want = ZPT_FORWARD;
            }

            /* the upstream connection of an ambiguous request is closed
             * after it rather than pooled (docs/http1.md) */
            if (want == ZPT_CLOSE && forwarded && !zpt_backend_wait_closed(upconn)) {
                snprintf(why, sizeof(why), "the upstream connection was kept");
                forwarded = 0;
            }

            total++;
            counts[ti][forwarded]++;
            nforwarded += forwarded;

            if (want == ZPT_FORWARD || want == ZPT_CLOSE
                    ? !forwarded
                    : (status != want || (closed != 1 && closed != -1) || nrec != 0)) {
                bad++;
                printf("CASE %s: %s: \"%s\": want %s%.0d, got status %d, %s, %d at the backend%s%s\n",
                       tier, file, name,
                       want == ZPT_FORWARD  ? "forwarded"
                       : want == ZPT_CLOSE ? "forwarded, upstream closed after"
                                           : "refused ",
                       want == ZPT_FORWARD || want == ZPT_CLOSE ? 0 : want, status,
                       closed == 1 || closed == -1 ? "closed" : "kept open", nrec,
                       why[0] ? ": " : "", why);
            } else if (getenv("ZPT_VERBOSE")) {
                printf("ok %s: %s: \"%s\": %s %d\n", tier, file, name,
                       forwarded ? "forwarded" : "refused", status);
            }

        }

        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        fclose(f);
    }

    globfree(&g);

    printf("desync: %d cases\n", total);
    for (ti = 0; ti < 4; ti++) {
        printf("  %-10s %3d forwarded, %3d refused\n", tiers[ti], counts[ti][1], counts[ti][0]);
    }

    for (i = 0; i < ZPT_NELEMS(zpt_ambiguous_cases); i++) {
        if (zpt_ambiguous_cases[i].seen == 0) {
            bad++;
            printf("TABLE: ambiguous case %s: \"%s\" matches no case\n",
                   zpt_ambiguous_cases[i].file, zpt_ambiguous_cases[i].name);
        }
    }
    fflush(stdout);

    /* the pool was used: fewer upstream connections than requests */
    printf("  %d requests forwarded on %d upstream connections\n", nforwarded, be.conns);
    fflush(stdout);
    ck_assert_int_eq(total, 159);
    ck_assert_msg(be.conns < nforwarded, "no upstream connection was reused");
    ck_assert_msg(bad == 0, "%d cases not handled as docs/http1.md says (see above)", bad);

    /* the same workers, and they still serve */
    zpt_assert_same_workers(&srv, master, workers);
    zpt_backend_clear();
    zpt_req(srv.port, "GET", "localhost", "/after", NULL, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(zpt_backend_count(), 1);

    zpt_backend_halt();
    zpt_backend_clear();
    free(req);
    free(r);
    zpt_teardown();
}
END_TEST


static Suite *
desync_suite(void)
{
    Suite *s  = suite_create("desync");
    TCase *tc = tcase_create("desync_guardian");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_desync_cases);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(desync_suite)
