/*
 * fuzz_http_response.c: libFuzzer target for the upstream response parser,
 * in the order modules/zp_http_proxy_module.c runs it:
 * zp_http_parse_status_line(), then zp_http_parse_header_line() up to the
 * empty line (with the proxy's framing rules: Content-Length by
 * zp_atoof(), equal repeats only; Transfer-Encoding exactly "chunked",
 * once), 1xx interim heads skipped (101 refused), then the body: none for
 * HEAD, 204 and 304; CL and TE together refused; chunked through
 * zp_http_parse_chunked() decoded in place as zp_http_proxy_process_body()
 * does (memmove of the data down to dst); Content-Length bytes; else up to
 * the end of the input (close-delimited).
 *
 * Input: one mode byte, then what an upstream sends.
 *
 *   mode bit 0     0: the input arrives whole; 1: in pieces (then whole as
 *                  well, and both runs must agree)
 *   mode bit 1     the request was HEAD
 *   mode bits 2-4  the largest piece is 1 << n bytes (1 .. 128)
 *   mode bits 5-7  salt for the piece sizes
 *
 * The head goes into a heap block of exactly the bytes received so far
 * (moved with zp_http_parse_relocate() on every piece, as in
 * fuzz_http_parse.c), bounded by HEAD_MAX like proxy_buffer_size; each body
 * piece is a heap block of its own bytes, decoded in place. ASan catches a
 * read past either.
 *
 * Invariants (abort()): b->pos in [start, last], == last on ZP_AGAIN; a
 * parsed status is 100..999 and never starts with 0; header pointers
 * ordered inside the buffer, the name all tchar and followed by ':', the
 * value free of CTLs other than HT; on ZP_OK from the chunked parser
 * size > 0 with a byte available; ZP_DONE sticks; the decoded body never
 * exceeds the bytes received; a Content-Length body is never longer than
 * the length; the split and whole runs give the same events and the same
 * body bytes.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http_parse.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_common.h"

#define FZ_MAX_INPUT (64 * 1024)
#define FZ_HEAD_MAX  4096 /* proxy_buffer_size's default */
#define FZ_MAX_TRACE 256

enum { FZ_BODY_NONE = 0, FZ_BODY_LENGTH, FZ_BODY_CHUNKED, FZ_BODY_EOF };

typedef struct {
    size_t n;
    long   ev[FZ_MAX_TRACE][5];
    u_char body[FZ_MAX_INPUT];
    size_t body_len;
} fz_trace_t;

typedef struct {
    const u_char *in;
    size_t        in_len;
    size_t        received;
    int           split;
    size_t        max_piece;
    uint64_t      rng;

    u_char         *mem; /* the head block */
    size_t          mem_len;
    zp_buf_t        b;
    zp_http_parse_t rp;
} fz_stream_t;


static void
fz_trace(fz_trace_t *t, long a, long b, long c, long d, long e)
{
    if (t->n < FZ_MAX_TRACE) {
        t->ev[t->n][0] = a;
        t->ev[t->n][1] = b;
        t->ev[t->n][2] = c;
        t->ev[t->n][3] = d;
        t->ev[t->n][4] = e;
    }
    t->n++;
}


/* The size of the next piece: all the rest when whole. */
static size_t
fz_piece(fz_stream_t *s)
{
    return fz_piece_size(s->in_len - s->received, s->split, s->max_piece, &s->rng);
}


/*
 * Head phase: appends the next piece to the head block (a new block of
 * exactly the bytes held), no further than FZ_HEAD_MAX. Returns 0 when
 * nothing more comes or the block is full ("upstream sent too big header").
 */
static int
fz_feed_head(fz_stream_t *s)
{
    size_t  n;
    u_char *mem;

    n = fz_piece(s);
    if (n > FZ_HEAD_MAX - s->mem_len) {
        n = FZ_HEAD_MAX - s->mem_len;
    }

    if (n == 0) {
        return 0;
    }

    mem = malloc(s->mem_len + n);
    if (mem == NULL) {
        abort();
    }

    if (s->mem) {
        memcpy(mem, s->mem, s->mem_len);
        zp_http_parse_relocate(&s->rp, s->mem, s->mem + s->mem_len, mem);
        s->b.pos = mem + (s->b.pos - s->mem);
        free(s->mem);
    } else {
        s->b.pos = mem;
    }

    memcpy(mem + s->mem_len, s->in + s->received, n);

    s->mem = mem;
    s->mem_len += n;
    s->received += n;
    s->b.start = mem;
    s->b.last  = mem + s->mem_len;
    s->b.end   = s->b.last;

    return 1;
}


static int
fz_in_head(fz_stream_t *s, const u_char *p)
{
    return p != NULL && p >= s->mem && p <= s->mem + s->mem_len;
}


static void
fz_check_header(fz_stream_t *s)
{
    zp_http_parse_t *rp = &s->rp;
    u_char          *p;

    FZ_CHECK(fz_in_head(s, rp->header_name_start) && fz_in_head(s, rp->header_name_end));
    FZ_CHECK(fz_in_head(s, rp->header_start) && fz_in_head(s, rp->header_end));
    FZ_CHECK(rp->header_name_start < rp->header_name_end);
    FZ_CHECK(rp->header_name_end <= rp->header_start && rp->header_start <= rp->header_end);
    FZ_CHECK(rp->header_end < s->b.pos);
    FZ_CHECK(*rp->header_name_end == ':');

    for (p = rp->header_name_start; p < rp->header_name_end; p++) {
        FZ_CHECK(*p > 0x20 && *p < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", *p) == NULL);
    }

    for (p = rp->header_start; p < rp->header_end; p++) {
        FZ_CHECK(*p == '\t' || (*p >= 0x20 && *p != 0x7f));
    }
}


/* the proxy's zp_http_proxy_name_is(): a case-insensitive name compare */
static int
fz_name_is(zp_http_parse_t *rp, const char *name)
{
    size_t len = rp->header_name_end - rp->header_name_start;

    return len == strlen(name)
           && zp_strncasecmp(rp->header_name_start, (u_char *) name, len) == 0;
}


/* One run; the trace gets the events and the decoded body. */
static void
fz_run(const u_char *in, size_t in_len, int head, int split, size_t max_piece, uint64_t seed,
       fz_trace_t *t)
{
    fz_stream_t       s;
    zp_http_status_t  st;
    zp_http_chunked_t ctx;
    zp_buf_t          bb;
    zp_int_t          rc;
    off_t             cl, rest, k;
    size_t            n;
    u_char           *piece, *dst, *start;
    int               has_cl, chunked, framing, status_phase, interim;

    memset(&s, 0, sizeof(s));
    memset(&st, 0, sizeof(st));
    t->n        = 0;
    t->body_len = 0;

    s.in        = in;
    s.in_len    = in_len;
    s.split     = split;
    s.max_piece = max_piece;
    s.rng       = seed;

    has_cl       = 0;
    chunked      = 0;
    cl           = -1;
    status_phase = 1;
    interim      = 0;

    if (!fz_feed_head(&s)) {
        goto done;
    }

    /* the head: status line, header lines; again after each 1xx */

    for (;;) {
        if (status_phase) {
            rc = zp_http_parse_status_line(&st, &s.b);
            FZ_CHECK(s.b.pos >= s.mem && s.b.pos <= s.b.last);

            if (rc == ZP_AGAIN) {
                FZ_CHECK(s.b.pos == s.b.last);
                if (fz_feed_head(&s)) {
                    continue;
                }
                fz_trace(t, 'S', ZP_AGAIN, (long) (s.b.pos - s.mem), 0, 0);
                goto done;
            }

            fz_trace(t, 'S', rc, (long) (s.b.pos - s.mem), (long) st.status,
                     (long) st.http_minor);

            if (rc != ZP_OK) {
                FZ_CHECK(rc == ZP_ERROR);
                goto done;
            }

            FZ_CHECK(st.status >= 100 && st.status <= 999 && st.http_minor <= 9);
            FZ_CHECK(s.b.pos[-1] == '\n');

            status_phase = 0;
            has_cl       = 0;
            chunked      = 0;
            cl           = -1;
            memset(&s.rp, 0, sizeof(s.rp));
        }

        rc = zp_http_parse_header_line(&s.rp, &s.b);
        FZ_CHECK(s.b.pos >= s.mem && s.b.pos <= s.b.last);

        if (rc == ZP_AGAIN) {
            FZ_CHECK(s.b.pos == s.b.last);
            if (fz_feed_head(&s)) {
                continue;
            }
            fz_trace(t, 'H', ZP_AGAIN, (long) (s.b.pos - s.mem), 0, 0);
            goto done;
        }

        if (rc == ZP_OK) {
            fz_check_header(&s);
            fz_trace(t, 'H', rc, (long) (s.b.pos - s.mem),
                     (long) (s.rp.header_start - s.mem), (long) (s.rp.header_end - s.mem));

            if (fz_name_is(&s.rp, "content-length")) {
                k = zp_atoof(s.rp.header_start, s.rp.header_end - s.rp.header_start);
                if (k == ZP_ERROR || (has_cl && k != cl)) {
                    fz_trace(t, 'F', 'L', 0, 0, 0); /* "invalid Content-Length" */
                    goto done;
                }
                FZ_CHECK(k >= 0);
                has_cl = 1;
                cl     = k;

            } else if (fz_name_is(&s.rp, "transfer-encoding")) {
                if (chunked || s.rp.header_end - s.rp.header_start != 7
                    || zp_strncasecmp(s.rp.header_start, (u_char *) "chunked", 7) != 0) {
                    fz_trace(t, 'F', 'T', 0, 0, 0); /* "unknown Transfer-Encoding" */
                    goto done;
                }
                chunked = 1;
            }

            continue;
        }

        fz_trace(t, 'H', rc, (long) (s.b.pos - s.mem), 0, 0);

        /* the proxy refuses a flagged line as an invalid one */
        if (rc != ZP_HTTP_PARSE_HEADER_DONE) {
            FZ_CHECK(rc == ZP_HTTP_PARSE_INVALID_HEADER || rc == ZP_HTTP_PARSE_INVALID_NAME
                     || rc == ZP_HTTP_PARSE_CTL_VALUE);
            goto done;
        }

        if (st.status >= 100 && st.status < 200) {
            if (st.status == 101) {
                fz_trace(t, 'F', 'U', 0, 0, 0); /* "switched protocols unasked" */
                goto done;
            }
            interim++;
            status_phase = 1;
            st.state     = 0;
            continue;
        }

        break;
    }

    if (chunked && has_cl) {
        fz_trace(t, 'F', 'B', 0, 0, 0);
        goto done;
    }

    if (head || st.status == 204 || st.status == 304) {
        framing = FZ_BODY_NONE;
    } else if (chunked) {
        framing = FZ_BODY_CHUNKED;
    } else if (has_cl) {
        framing = FZ_BODY_LENGTH;
    } else {
        framing = FZ_BODY_EOF;
    }

    fz_trace(t, 'B', framing, (long) cl, interim, 0);

    if (framing == FZ_BODY_NONE) {
        goto done;
    }

    /* the body: the rest of the head block first, then each piece in a
     * block of its own (the proxy's rbuf), decoded in place */

    memset(&ctx, 0, sizeof(ctx));
    rest = cl;

    n     = s.b.last - s.b.pos;
    piece = malloc(n ? n : 1);
    if (piece == NULL) {
        abort();
    }
    memcpy(piece, s.b.pos, n);

    for (;;) {
        memset(&bb, 0, sizeof(bb));
        bb.start = bb.pos = piece;
        bb.last = bb.end = piece + n;

        if (framing == FZ_BODY_CHUNKED) {
            dst   = bb.pos;
            start = bb.pos;

            for (;;) {
                rc = zp_http_parse_chunked(&ctx, &bb);
                FZ_CHECK(bb.pos >= bb.start && bb.pos <= bb.last);
                FZ_CHECK(ctx.size >= 0 && ctx.length >= 0);

                if (rc == ZP_OK) {
                    FZ_CHECK(ctx.size > 0 && bb.pos < bb.last);
                    k = ctx.size < bb.last - bb.pos ? ctx.size : bb.last - bb.pos;
                    memmove(dst, bb.pos, (size_t) k);
                    dst += k;
                    bb.pos += k;
                    ctx.size -= k;
                    continue;
                }

                break;
            }

            FZ_CHECK(dst <= bb.pos);
            FZ_CHECK(t->body_len + (dst - start) <= in_len);
            memcpy(t->body + t->body_len, start, dst - start);
            t->body_len += dst - start;

            if (rc == ZP_DONE) {
                FZ_CHECK(ctx.length == 0);
                FZ_CHECK(zp_http_parse_chunked(&ctx, &bb) == ZP_DONE);
                /* bytes after the last chunk (the proxy's "extra") depend on
                 * where the pieces end: not traced */
                fz_trace(t, 'C', rc, (long) t->body_len, 0, 0);
                break;
            }

            if (rc == ZP_ERROR) {
                fz_trace(t, 'C', rc, (long) t->body_len, 0, 0);
                break;
            }

            FZ_CHECK(rc == ZP_AGAIN && bb.pos == bb.last);

        } else if (framing == FZ_BODY_LENGTH) {
            k = rest < (off_t) n ? rest : (off_t) n;
            memcpy(t->body + t->body_len, piece, (size_t) k);
            t->body_len += k;
            rest -= k;

            if (rest == 0) {
                fz_trace(t, 'C', ZP_DONE, (long) t->body_len, 0, 0);
                break;
            }

        } else {
            memcpy(t->body + t->body_len, piece, n);
            t->body_len += n;
        }

        free(piece);
        piece = NULL;

        n = fz_piece(&s);
        if (n == 0) {
            /* the upstream closed: complete only when close-delimited */
            fz_trace(t, 'E', framing, (long) t->body_len, 0, 0);
            break;
        }

        piece = malloc(n);
        if (piece == NULL) {
            abort();
        }
        memcpy(piece, s.in + s.received, n);
        s.received += n;
    }

    free(piece);

    if (framing == FZ_BODY_LENGTH) {
        FZ_CHECK(t->body_len <= (size_t) cl);
    }

done:
    free(s.mem);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_trace_t whole, split;
    const u_char     *in;
    size_t            len, i;
    uint64_t          seed;
    unsigned          mode;
    int               head;

    if (size < 2) {
        return 0;
    }

    mode = data[0];
    in   = data + 1;
    len  = size - 1;
    head = (mode >> 1) & 1;

    if (len > FZ_MAX_INPUT) {
        len = FZ_MAX_INPUT;
    }

    if (!(mode & 1)) {
        fz_run(in, len, head, 0, 0, 0, &whole);
        return 0;
    }

    seed = 0xcbf29ce484222325ULL ^ (mode >> 5);
    for (i = 0; i < len; i++) {
        seed = (seed ^ in[i]) * 0x100000001b3ULL;
    }

    fz_run(in, len, head, 1, (size_t) 1 << ((mode >> 2) & 7), seed, &split);
    fz_run(in, len, head, 0, 0, 0, &whole);

    /*
     * The head block is cut at FZ_HEAD_MAX in both runs, so a head that
     * does not fit ends the same way. Resuming must equal never stopping.
     */
    FZ_CHECK(whole.n == split.n);
    for (i = 0; i < whole.n && i < FZ_MAX_TRACE; i++) {
        FZ_CHECK(memcmp(whole.ev[i], split.ev[i], sizeof(whole.ev[i])) == 0);
    }
    FZ_CHECK(whole.body_len == split.body_len);
    FZ_CHECK(memcmp(whole.body, split.body, whole.body_len) == 0);

    return 0;
}
