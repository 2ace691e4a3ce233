/*
 * fuzz_http_parse.c: libFuzzer target for http/zp_http_parse.c: the request
 * line, header lines, a chunked body after the head, and the URI normalizer.
 *
 * Input: one mode byte, then the bytes a client sends.
 *
 *   mode bit 0     0: the input is parsed whole; 1: it arrives in pieces
 *                  (and is then also parsed whole, and both runs must agree)
 *   mode bits 2-4  the largest piece is 1 << n bytes (1 .. 128)
 *   mode bits 5-7  salt for the piece sizes, which are drawn from a PRNG
 *                  seeded with a hash of the input
 *
 * In pieces, every new piece goes into a fresh heap block holding exactly
 * the bytes received so far: the parser's state is moved there with
 * zp_http_parse_relocate() (as the buffer rule in zp_http_parse.h allows)
 * and the old block is freed, so ASan reports a read past b->last and any
 * pointer the relocation missed. Whole, the block is exactly the input.
 *
 * Invariants (abort() on a violation, so libFuzzer saves the input):
 * b->pos stays in [start, last] and equals last on ZP_AGAIN; after ZP_OK
 * (and ZP_HTTP_PARSE_HTTP09, INVALID_NAME, CTL_VALUE) the request-line and
 * header pointers are inside the buffer and ordered (method_end <=
 * uri_start <= uri_end, header_name_start < header_name_end <=
 * header_start <= header_end); a target holds no CTL, a SP only when
 * space_in_uri, and never " HTTP/"; a valid name holds only tchar, a flagged
 * one no NUL, CR or LF, a value no NUL, CR or LF and a CTL only when
 * flagged; chunk sizes are positive on ZP_OK and never negative;
 * zp_http_normalize_uri() output is no longer than its input, starts with
 * '/', has no dot segments, and no "//" with merge_slashes. After an
 * HTTP/0.9 line the rest is not read (the engine does not either).
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http_parse.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_common.h"

#define FZ_MAX_INPUT  (64 * 1024) /* longer inputs are cut: they add nothing but time */
#define FZ_MAX_TRACE  512

/* what one run saw: the non-AGAIN results with offsets, for the whole/split comparison */
typedef struct {
    size_t n;
    long   ev[FZ_MAX_TRACE][6];
} fz_trace_t;

typedef struct {
    const u_char *in;       /* the whole input (without the mode byte) */
    size_t        in_len;
    size_t        received; /* bytes of in put into the buffer so far */
    int           split;
    size_t        max_piece;
    uint64_t      rng;
    u_char       *mem;      /* the heap block: exactly `received` bytes */
    zp_buf_t      b;
    zp_http_parse_t rp;
} fz_stream_t;


static int
fz_in_buf(fz_stream_t *s, const u_char *p)
{
    return p >= s->mem && p <= s->mem + s->received;
}


static int
fz_in_buf_or_null(fz_stream_t *s, const u_char *p)
{
    return p == NULL || fz_in_buf(s, p);
}


static long
fz_off(fz_stream_t *s, const u_char *p)
{
    return p ? (long) (p - s->mem) : -1;
}


static void
fz_trace(fz_trace_t *t, long a, long b, long c, long d, long e, long f)
{
    if (t->n < FZ_MAX_TRACE) {
        t->ev[t->n][0] = a;
        t->ev[t->n][1] = b;
        t->ev[t->n][2] = c;
        t->ev[t->n][3] = d;
        t->ev[t->n][4] = e;
        t->ev[t->n][5] = f;
    }
    t->n++;
}


/*
 * Appends the next piece (all the rest when whole): a new block of exactly
 * the bytes received so far, the parser's pointers moved along. Returns 0
 * when the input is exhausted.
 */
static int
fz_feed(fz_stream_t *s)
{
    size_t  n, left;
    u_char *mem;

    left = s->in_len - s->received;
    if (left == 0) {
        return 0;
    }

    n = fz_piece_size(left, s->split, s->max_piece, &s->rng);

    mem = malloc(s->received + n);
    if (mem == NULL) {
        abort();
    }

    if (s->mem) {
        memcpy(mem, s->mem, s->received);
        zp_http_parse_relocate(&s->rp, s->mem, s->mem + s->received, mem);
        s->b.pos  = mem + (s->b.pos - s->mem);
        free(s->mem);
    } else {
        s->b.pos = mem;
    }

    memcpy(mem + s->received, s->in + s->received, n);

    s->mem      = mem;
    s->received += n;
    s->b.start  = mem;
    s->b.last   = mem + s->received;
    s->b.end    = s->b.last;

    return 1;
}


static void
fz_check_pos(fz_stream_t *s)
{
    FZ_CHECK(s->b.pos >= s->mem && s->b.pos <= s->b.last);
}


/* dst must hold no dot segment, and no "//" when merged */
static void
fz_check_normalized(const u_char *dst, size_t n, size_t len, zp_uint_t merge)
{
    size_t i, seg, end;

    FZ_CHECK(n >= 1 && n <= len);
    FZ_CHECK(dst[0] == '/');

    for (i = 0; i < n; i = end) {
        /* dst[i] == '/': the segment is (i, end) */
        FZ_CHECK(dst[i] == '/');

        for (end = i + 1; end < n && dst[end] != '/'; end++) {
            /* void */
        }

        seg = end - i - 1;

        FZ_CHECK(!(seg == 1 && dst[i + 1] == '.'));
        FZ_CHECK(!(seg == 2 && dst[i + 1] == '.' && dst[i + 2] == '.'));

        if (merge) {
            /* an empty segment only at the very end ("/a/") */
            FZ_CHECK(seg > 0 || end == n);
        }
    }
}


/* Normalizes [uri, uri + len) both ways into exact-size heap blocks. */
static void
fz_normalize(const u_char *uri, size_t len)
{
    u_char   *src, *dst;
    size_t    n;
    zp_int_t  rc;
    zp_uint_t merge;

    if (len == 0) {
        return;
    }

    /* copies, so that a read past len is caught too */
    src = malloc(len);
    dst = malloc(len);
    if (src == NULL || dst == NULL) {
        abort();
    }
    memcpy(src, uri, len);

    for (merge = 0; merge <= 1; merge++) {
        n  = (size_t) -1;
        rc = zp_http_normalize_uri(src, len, dst, &n, merge);

        FZ_CHECK(rc == ZP_OK || rc == ZP_ERROR);

        if (src[0] != '/') {
            FZ_CHECK(rc == ZP_ERROR);
        }

        if (rc == ZP_OK) {
            fz_check_normalized(dst, n, len, merge);
        }
    }

    FZ_CHECK(memcmp(src, uri, len) == 0);

    free(src);
    free(dst);
}


static void
fz_check_request_line(fz_stream_t *s, zp_int_t rc)
{
    zp_http_parse_t *rp = &s->rp;
    const char      *name;
    u_char          *p;

    FZ_CHECK(rp->request_start && rp->request_end && rp->method_end && rp->uri_start
             && rp->uri_end);

    FZ_CHECK(fz_in_buf(s, rp->request_start) && fz_in_buf(s, rp->request_end));
    FZ_CHECK(fz_in_buf(s, rp->method_end) && fz_in_buf(s, rp->uri_start));
    FZ_CHECK(fz_in_buf(s, rp->uri_end));
    FZ_CHECK(fz_in_buf_or_null(s, rp->args_start) && fz_in_buf_or_null(s, rp->path_start));
    FZ_CHECK(fz_in_buf_or_null(s, rp->schema_start) && fz_in_buf_or_null(s, rp->schema_end));
    FZ_CHECK(fz_in_buf_or_null(s, rp->host_start) && fz_in_buf_or_null(s, rp->host_end));
    FZ_CHECK(fz_in_buf_or_null(s, rp->port_start) && fz_in_buf_or_null(s, rp->port_end));

    FZ_CHECK(rp->request_start < rp->method_end);
    FZ_CHECK(rp->method_end < rp->uri_start);
    FZ_CHECK(rp->uri_start <= rp->uri_end);
    FZ_CHECK(rp->uri_end <= rp->request_end);
    FZ_CHECK(rp->request_end < s->b.pos);
    FZ_CHECK(*rp->method_end == ' ');

    /* an empty target only as "GET HTTP/1.1", read as "/" */
    FZ_CHECK((rp->uri_start == rp->uri_end) == rp->empty_uri);
    if (rp->empty_uri) {
        FZ_CHECK(rp->path_start == NULL && rp->args_start == NULL && !rp->no_version);
        FZ_CHECK(!rp->absolute_uri && !rp->asterisk_uri && !rp->authority_uri);
        FZ_CHECK(memcmp(rp->uri_start, "HTTP/", 5) == 0);
    }

    /* the method, the target and the version are words of the line */
    for (p = rp->method_end; p < rp->uri_start; p++) {
        FZ_CHECK(*p == ' ');
    }
    for (p = rp->uri_start; p < rp->uri_end; p++) {
        FZ_CHECK(*p > 0x20 ? *p != 0x7f : (*p == ' ' && rp->space_in_uri));
        FZ_CHECK(!(*p == ' ' && rp->uri_end - p >= 6 && memcmp(p, " HTTP/", 6) == 0));
    }
    FZ_CHECK(rp->uri_end == rp->uri_start || rp->uri_end[-1] != ' ');
    if (rp->space_in_uri) {
        FZ_CHECK(rp->path_start == rp->uri_start);
    }

    if (rp->no_version) {
        FZ_CHECK(rc == ZP_HTTP_PARSE_HTTP09 && rp->request_end == rp->uri_end);
        FZ_CHECK(rp->request_end[0] == '\r' || rp->request_end[0] == ' ');
    } else if (!rp->empty_uri) {
        FZ_CHECK(rp->request_end - rp->uri_end > 8);
        FZ_CHECK(*rp->uri_end == ' ' && memcmp(rp->request_end - 8, "HTTP/", 5) == 0);
    }

    if (rc == ZP_HTTP_PARSE_HTTP09) {
        FZ_CHECK(rp->http_major == 0 && rp->http_minor == 9);
    } else {
        FZ_CHECK(rp->http_major == 1 && rp->http_minor <= 9);
    }

    /* the method code matches the bytes */
    if (rp->method != ZP_HTTP_UNKNOWN) {
        name = zp_http_method_name(rp->method);
        FZ_CHECK((size_t) (rp->method_end - rp->request_start) == strlen(name));
        FZ_CHECK(memcmp(rp->request_start, name, strlen(name)) == 0);
    }

    /* exactly one target form */
    FZ_CHECK(rp->absolute_uri + rp->asterisk_uri + rp->authority_uri <= 1);

    if (rp->args_start) {
        FZ_CHECK(rp->args_start > rp->uri_start && rp->args_start <= rp->uri_end);
        FZ_CHECK(rp->args_start[-1] == '?');
        FZ_CHECK(!rp->asterisk_uri && !rp->authority_uri);
    }

    if (rp->asterisk_uri) {
        FZ_CHECK(rp->method == ZP_HTTP_OPTIONS && rp->uri_end - rp->uri_start == 1);
        FZ_CHECK(rp->path_start == NULL);

    } else if (rp->authority_uri) {
        FZ_CHECK(rp->method == ZP_HTTP_CONNECT);
        FZ_CHECK(rp->path_start == NULL);
        FZ_CHECK(rp->host_start == rp->uri_start && rp->host_start < rp->host_end);
        FZ_CHECK(rp->port_start && rp->port_end && rp->host_end < rp->port_start);
        FZ_CHECK(rp->port_start < rp->port_end && rp->port_end == rp->uri_end);
        FZ_CHECK(rp->port_end - rp->port_start <= 5);

    } else if (rp->absolute_uri) {
        FZ_CHECK(rp->schema_start == rp->uri_start && rp->schema_start < rp->schema_end);
        FZ_CHECK(rp->host_start && rp->host_end && rp->schema_end < rp->host_start);
        FZ_CHECK(rp->host_start < rp->host_end);
        FZ_CHECK(rp->path_start && rp->host_end <= rp->path_start);
        FZ_CHECK(rp->path_start <= rp->uri_end);
        if (rp->port_start) {
            FZ_CHECK(rp->port_end && rp->port_start < rp->port_end);
            FZ_CHECK(rp->port_end <= rp->path_start);
        }
        FZ_CHECK(rp->method != ZP_HTTP_CONNECT);

    } else if (rp->empty_uri) {
        FZ_CHECK(rp->schema_start == NULL && rp->host_start == NULL);

    } else {
        /* origin-form */
        FZ_CHECK(rp->path_start == rp->uri_start && *rp->path_start == '/');
        FZ_CHECK(rp->method != ZP_HTTP_CONNECT);
        FZ_CHECK(rp->schema_start == NULL && rp->host_start == NULL);
    }
}


static void
fz_check_header(fz_stream_t *s, zp_int_t rc)
{
    zp_http_parse_t *rp = &s->rp;
    size_t           len, i;
    zp_uint_t        hash, ctl;
    u_char          *p;

    FZ_CHECK(rp->header_name_start && rp->header_name_end && rp->header_start
             && rp->header_end);
    FZ_CHECK(fz_in_buf(s, rp->header_name_start) && fz_in_buf(s, rp->header_name_end));
    FZ_CHECK(fz_in_buf(s, rp->header_start) && fz_in_buf(s, rp->header_end));

    FZ_CHECK(rp->header_name_start < rp->header_name_end);
    FZ_CHECK(rp->header_name_end <= rp->header_start);
    FZ_CHECK(rp->header_start <= rp->header_end);
    FZ_CHECK(rp->header_end < s->b.pos);
    FZ_CHECK(*rp->header_name_end == ':');

    /* the value is trimmed: no OWS at either end */
    if (rp->header_end > rp->header_start) {
        FZ_CHECK(rp->header_start[0] != ' ' && rp->header_start[0] != '\t');
        FZ_CHECK(rp->header_end[-1] != ' ' && rp->header_end[-1] != '\t');
    }

    /* no NUL, CR or LF anywhere in the line; the flags say what else */
    for (p = rp->header_name_start; p < rp->header_end; p++) {
        FZ_CHECK(*p != '\0' && *p != '\r' && *p != '\n');
    }

    FZ_CHECK(rp->invalid_name == (rc == ZP_HTTP_PARSE_INVALID_NAME));
    if (rc == ZP_HTTP_PARSE_INVALID_NAME) {
        return; /* no hash, no lower-cased copy */
    }

    ctl = 0;
    for (p = rp->header_start; p < rp->header_end; p++) {
        ctl |= (*p < 0x20 && *p != '\t') || *p == 0x7f;
    }
    FZ_CHECK(ctl == rp->ctl_value && ctl == (rc == ZP_HTTP_PARSE_CTL_VALUE));

    len = rp->header_name_end - rp->header_name_start;
    FZ_CHECK(rp->lowcase_index == (len < ZP_HTTP_LC_HEADER_LEN ? len : ZP_HTTP_LC_HEADER_LEN));

    for (p = rp->header_name_start; p < rp->header_name_end; p++) {
        FZ_CHECK(*p > 0x20 && *p < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", *p) == NULL);
    }

    for (i = 0; i < rp->lowcase_index; i++) {
        FZ_CHECK(rp->lowcase_header[i] == zp_tolower(rp->header_name_start[i]));
    }

    /* the hash is over the whole name, not just the first 32 bytes */
    hash = 0;
    for (i = 0; i < len; i++) {
        hash = zp_hash(hash, zp_tolower(rp->header_name_start[i]));
    }
    FZ_CHECK(rp->header_hash == hash);
}


/* One complete run over the input; the trace gets what it saw. */
static void
fz_run(const u_char *in, size_t in_len, int split, size_t max_piece, uint64_t seed, fz_trace_t *t)
{
    fz_stream_t        s;
    zp_http_chunked_t  ctx;
    zp_int_t           rc;
    size_t             n, data;

    memset(&s, 0, sizeof(s));
    memset(t, 0, sizeof(*t));

    s.in        = in;
    s.in_len    = in_len;
    s.split     = split;
    s.max_piece = max_piece;
    s.rng       = seed;

    fz_feed(&s);

    /* the request line */

    for (;;) {
        rc = zp_http_parse_request_line(&s.rp, &s.b);
        fz_check_pos(&s);

        if (rc == ZP_AGAIN) {
            FZ_CHECK(s.b.pos == s.b.last);
            if (fz_feed(&s)) {
                continue;
            }
            fz_trace(t, 'L', ZP_AGAIN, fz_off(&s, s.b.pos), 0, 0, 0);
            goto done;
        }

        break;
    }

    fz_trace(t, 'L', rc, fz_off(&s, s.b.pos), fz_off(&s, s.rp.uri_start),
             fz_off(&s, s.rp.uri_end), fz_off(&s, s.rp.args_start));

    if (rc != ZP_OK && rc != ZP_HTTP_PARSE_HTTP09) {
        FZ_CHECK(rc == ZP_HTTP_PARSE_INVALID_REQUEST || rc == ZP_HTTP_PARSE_INVALID_VERSION);
        goto done;
    }

    fz_check_request_line(&s, rc);

    /* the path as the router sees it */
    if (s.rp.path_start && *s.rp.path_start == '/') {
        fz_normalize(s.rp.path_start, s.rp.uri_end - s.rp.path_start);
    }

    if (rc == ZP_HTTP_PARSE_HTTP09) {
        goto done;
    }

    /* the header lines, up to the empty one */

    s.rp.state = 0;

    for (;;) {
        rc = zp_http_parse_header_line(&s.rp, &s.b);
        fz_check_pos(&s);

        if (rc == ZP_AGAIN) {
            FZ_CHECK(s.b.pos == s.b.last);
            if (fz_feed(&s)) {
                continue;
            }
            fz_trace(t, 'H', ZP_AGAIN, fz_off(&s, s.b.pos), 0, 0, 0);
            goto done;
        }

        if (rc == ZP_OK || rc == ZP_HTTP_PARSE_INVALID_NAME || rc == ZP_HTTP_PARSE_CTL_VALUE) {
            fz_check_header(&s, rc);
            fz_trace(t, 'H', rc, fz_off(&s, s.b.pos), fz_off(&s, s.rp.header_name_end),
                     fz_off(&s, s.rp.header_start), fz_off(&s, s.rp.header_end));
            continue;
        }

        fz_trace(t, 'H', rc, fz_off(&s, s.b.pos), 0, 0, 0);

        if (rc == ZP_HTTP_PARSE_HEADER_DONE) {
            break;
        }

        FZ_CHECK(rc == ZP_HTTP_PARSE_INVALID_HEADER);
        goto done;
    }

    /* whatever follows the head is read as a chunked body */

    if (s.b.pos == s.b.last && !fz_feed(&s)) {
        goto done;
    }

    memset(&ctx, 0, sizeof(ctx));
    data = 0;

    for (;;) {
        rc = zp_http_parse_chunked(&ctx, &s.b);
        fz_check_pos(&s);

        FZ_CHECK(ctx.size >= 0);
        FZ_CHECK(ctx.length >= 0);

        if (rc == ZP_OK) {
            FZ_CHECK(ctx.size > 0 && s.b.pos < s.b.last);

            n = (size_t) (s.b.last - s.b.pos);
            if ((off_t) n > ctx.size) {
                n = (size_t) ctx.size;
            }

            s.b.pos  += n;
            ctx.size -= n;
            data     += n;
            continue;
        }

        if (rc == ZP_AGAIN) {
            FZ_CHECK(s.b.pos == s.b.last);
            if (fz_feed(&s)) {
                continue;
            }
            fz_trace(t, 'C', ZP_AGAIN, fz_off(&s, s.b.pos), (long) data, 0, 0);
            break;
        }

        FZ_CHECK(rc == ZP_DONE || rc == ZP_ERROR);
        fz_trace(t, 'C', rc, fz_off(&s, s.b.pos), (long) data, 0, 0);

        if (rc == ZP_DONE) {
            FZ_CHECK(ctx.length == 0);
            /* and it stays done */
            FZ_CHECK(zp_http_parse_chunked(&ctx, &s.b) == ZP_DONE);
        }

        break;
    }

done:
    free(s.mem);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_trace_t whole, split;
    const u_char     *in;
    size_t            len;
    uint64_t          seed;
    unsigned          mode;
    size_t            i;

    if (size < 2) {
        return 0;
    }

    mode = data[0];
    in   = data + 1;
    len  = size - 1;

    if (len > FZ_MAX_INPUT) {
        len = FZ_MAX_INPUT;
    }

    /* the normalizer on its own, on the raw bytes */
    fz_normalize(in, len < 4096 ? len : 4096);

    if (!(mode & 1)) {
        fz_run(in, len, 0, 0, 0, &whole);
        return 0;
    }

    /* FNV-1a of the input and the salt: the pieces depend on the input */
    seed = 0xcbf29ce484222325ULL ^ (mode >> 5);
    for (i = 0; i < len; i++) {
        seed = (seed ^ in[i]) * 0x100000001b3ULL;
    }

    fz_run(in, len, 1, (size_t) 1 << ((mode >> 2) & 7), seed, &split);
    fz_run(in, len, 0, 0, 0, &whole);

    /* resuming after ZP_AGAIN must be the same as never having stopped */
    FZ_CHECK(whole.n == split.n);
    for (i = 0; i < whole.n && i < FZ_MAX_TRACE; i++) {
        FZ_CHECK(memcmp(whole.ev[i], split.ev[i], sizeof(whole.ev[i])) == 0);
    }

    return 0;
}
