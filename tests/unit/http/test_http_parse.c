/*
 * test_http_parse.c: zp_http_parse.c: request line, header lines, chunked
 * bodies, URI normalization, and the desync-guardian smuggling cases.
 *
 * Every input is parsed whole, byte by byte, and (up to 2 KB) split in two
 * at every byte boundary. In each run the bytes received so far always end
 * exactly at a PROT_NONE page, so any read past b->last crashes: for that
 * the buffer is moved down before each new piece, which also exercises
 * zp_http_parse_relocate() on every call. All runs must agree.
 *
 * The desync-guardian cases (159: method, target, version and headers, each
 * classified Compliant/Acceptable/Ambiguous/Severe) are built into raw
 * requests ("name:value" lines; a 5-byte chunked body when the last coding
 * is "chunked") and parsed. A request the parser takes (an HTTP/0.9 line,
 * and header lines it flags, included) then goes through the rules the
 * engine applies with its default settings, modelled by the
 * zp_http_rule_* functions below:
 *
 *   conflicting_content_length             two Content-Length values differ -> 400
 *   invalid_content_length                 a value not 1*DIGIT within off_t -> 400
 *   transfer_encoding_invalid              the Transfer-Encoding list is not codings
 *                                          ending in chunked (zp_http_parse_te) -> 400
 *   transfer_encoding_with_content_length  both headers -> 400
 *   transfer_encoding_http10               Transfer-Encoding in HTTP/1.0 -> 400
 *   malformed_framing_field                a flagged line (a name byte outside tchar,
 *                                          a CTL in the value) of a field the core
 *                                          acts on (zp_http_field_acted_on) -> 400
 *   http09_not_get                         an HTTP/0.9 line other than GET -> 400
 *
 * Other flagged lines are dropped (a bad name) or kept (a CTL in a value).
 * Every Severe case must be refused by one or the other, every Compliant and
 * Acceptable one taken. tests/integration/test_desync.c checks the real
 * engine end to end. Results, per tier and outcome (ZPT_VERBOSE=1 prints
 * them per case; "file: name", all rules that fire are listed):
 *
 * Severe (58):
 *   engine: conflicting_content_length (1):
 *       severe: Multiple Content-Length
 *   engine: invalid_content_length (5):
 *       bad-header: Content-Length: 1000\xa0; severe: Bad Content-Length (64-bits overflow);
 *       severe: Bad Content-Length: 1000 1000; severe: Bad Content-Length: 1000,1000; severe: Bad
 *       Content-Length: 1000.1000
 *   engine: invalid_content_length + malformed_framing_field (4):
 *       bad-header: Content-Length: 1000\x01 ; bad-header: Content-Length: \x01 1000; edge-cases:
 *       Bad non-essential header does not shadow bad Content-Length; severe: Bad character in
 *       Content-Length value: 1000\x11
 *   engine: invalid_content_length + transfer_encoding_invalid +
 *       transfer_encoding_with_content_length (2):
 *       edge-cases: Bad URI does not shadow essential bad headers; edge-cases: Bad header does
 *       not shadow other bad headers
 *   engine: malformed_framing_field (2):
 *       severe: Content-Length[white-space] and Content-Length; severe:
 *       Transfer-Encoding[white-space] and Transfer-Encoding
 *   engine: transfer_encoding_invalid (5):
 *       bad-header: Transfer-Encoding: \xa0chunked; bad-header: Transfer-Encoding: chunked\xa0;
 *       severe: Multiple Transfer-Encoding: chunked; severe: Multiple Transfer-Encoding:
 *       chunked,chunked; severe: Unknown Transfer-Encoding: xchunked
 *   engine: transfer_encoding_invalid + malformed_framing_field (4):
 *       bad-header: Transfer-Encoding: \x01chunked; bad-header: Transfer-Encoding: chunked\x01;
 *       edge-cases: Bad non-essential header does not shadow bad Transfer-Encoding; severe: Bad
 *       character in Transfer-Encoding value: chunked\x11
 *   engine: transfer_encoding_invalid + transfer_encoding_with_content_length (5):
 *       real-life: Chunks Priority on Content-Length.2; real-life: Invalid Transfer-Encoding;
 *       real-life: Transfer-Encoding: chunk; real-life: Transfer-Encoding: xchunked; real-life:
 *       Two Identical Fields - TE
 *   parser, header line: NUL in name (4):
 *       real-life: CRLF; real-life: \x00Transfer-Encoding: chunked; severe: \0 at the start of a
 *       line; severe: \0 in name is bad
 *   parser, header line: NUL in value (6):
 *       edge-cases: Non-compliant character does not shadow bad character; real-life: Null in
 *       Headers; real-life: Transfer-Encoding: \x00chunked; severe: \0 at the end of a value;
 *       severe: \0 at the start of a value; severe: \0 in value is bad
 *   parser, header line: bare CR (7):
 *       real-life: Size Issue; real-life: \rContent-Length without TE; real-life:
 *       \rTransfer-Encoding: chunked; real-life: \rTransfer-Encoding: chunked without CL; severe:
 *       Http Engine missed CR; severe: \r in name is bad; severe: \r in value is bad
 *   parser, header line: no colon (1):
 *       severe: \n in name is bad
 *   parser, header line: obs-fold or leading whitespace (5):
 *       severe: Http Engine missed LF; severe: Multiline headers are deprecated; severe:
 *       Multiline headers are deprecated (with \n only); severe: [white-space]Content-Length and
 *       Content-Length; severe: \n in value is bad
 *   parser, request line (INVALID_REQUEST) (7):
 *       severe: Bad method; uri-specific: Request Smuggling in URI; uri-specific: [space] in URI
 *       resulted in a bad version; uri-specific: \0 at the start of URI; uri-specific: \0 in URI;
 *       uri-specific: \n in URI; uri-specific: \r in URI
 *
 * Ambiguous (58):
 *   accepted (17):
 *       ambiguous: Content_Length with underscore.; ambiguous: Duplicate Content-Length;
 *       ambiguous: Get with a body and Content-Length; ambiguous: Get with a body and
 *       Transfer-Encoding; ambiguous: Head with a body and Content-Length; ambiguous: Head with a
 *       body and Transfer-Encoding; ambiguous: Transfer-Encoding Latin Small Letter Dotless I;
 *       ambiguous: Transfer-Encoding Latin Small Letter Long S; ambiguous: Transfer-Encoding with
 *       multiple delimiters; ambiguous: Transfer-Encoding with multiple hyphens; ambiguous:
 *       Transfer_Encoding with underscore.; edge-cases: Bad URI does not shadow essential
 *       ambiguous headers; edge-cases: Non-compliant customer header does not shadow ambiguous
 *       Content-Length for HEAD; edge-cases: Non-compliant customer header does not shadow
 *       ambiguous Transfer-Encoding for GET; real-life: Has a CL in GET; real-life: Has a TE in
 *       GET; real-life: Two Identical Fields - CL
 *   engine: http09_not_get (4):
 *       ambiguous: Content-Length for HTTP/0.9; ambiguous: Content-Length for empty protocol,
 *       which is HTTP/0.9; ambiguous: Transfer-Encoding for HTTP/0.9; ambiguous:
 *       Transfer-Encoding for empty protocol, which is HTTP/0.9
 *   engine: malformed_framing_field (18):
 *       ambiguous: Content-Length with UTF8 spaces; ambiguous: Content-Length with arbitrary
 *       non-ASCII chars; ambiguous: Transfer-Encoding with a UTF8 delimiter; ambiguous:
 *       Transfer-Encoding with a space in the middle; ambiguous: Transfer-Encoding with a
 *       trailing space in name; ambiguous: Transfer-Encoding with a trailing tab in name;
 *       ambiguous: Transfer-Encoding with arbitrary non-ASCII chars; ambiguous:
 *       Transfer-Encoding[white-space] and Content-Length; ambiguous:
 *       Transfer-Encoding[white-space] and Content-Length[white-space]; ambiguous:
 *       \x01Content-Length with a non-printable character; ambiguous: \x01Transfer-Encoding with
 *       a non-printable character; ambiguous: \x01\x01Content-Length with a non-printable
 *       character; ambiguous: \x01\x01Transfer-Encoding with a non-printable character;
 *       bad-header: Content-Length\x01; bad-header: Transfer-Encoding\x01; bad-header:
 *       \x01Content-Length; bad-header: \x01Transfer-Encoding; real-life: Transfer-Encoding[tab]:
 *       chunked
 *   engine: transfer_encoding_http10 (2):
 *       ambiguous: Transfer-Encoding for HTTP/1.0; real-life: HTTP Version.1.0 and TE
 *   engine: transfer_encoding_invalid + transfer_encoding_with_content_length (2):
 *       ambiguous: Both Transfer-Encoding and Content-Length; real-life: Transfer-Encoding:
 *       identity and Content-Length
 *   engine: transfer_encoding_with_content_length (7):
 *       ambiguous: Both Transfer-Encoding:chunked and Content-Length; real-life: Chunks Priority
 *       on Content-Length; real-life: Chunks Priority on Content-Length.1; real-life: Mixed case;
 *       real-life: Multiple transfer encoding headers in a single request; real-life: Send small
 *       (1614 bytes) request, transfer encoded request; single-case: Both
 *       Transfer-Encoding:chunked and Content-Length
 *   parser, header line: empty name (2):
 *       ambiguous: Empty header name; ambiguous: Header name starts with :
 *   parser, header line: obs-fold or leading whitespace (4):
 *       ambiguous: Only white-spaces header name; ambiguous: Transfer-Encoding with UTF8 spaces;
 *       ambiguous: [white-space]Transfer-Encoding and Content-Length; ambiguous:
 *       [white-space]Transfer-Encoding and [white-space]Content-Length
 *   parser, request line (INVALID_REQUEST) (2):
 *       uri-specific: \t in URI; uri-specific: \x01 in URI
 *
 * Compliant (28):
 *   accepted (28):
 *       more-compliant-tests: Correct CL OK; more-compliant-tests: Correct TE OK;
 *       more-compliant-tests: HTTP Version.1.1 OK; more-compliant-tests: Has a CL in PUT OK;
 *       more-compliant-tests: Has a TE in PUT OK; more-compliant-tests: Large Size OK;
 *       more-compliant-tests: Multiple transfer encoding headers in a single request OK;
 *       more-compliant-tests: TE with custom parameters OK; more-compliant-tests:
 *       Transfer-Encoding: identity and chunked OK; more-compliant-tests: Very many headers;
 *       rfc-compliant: Compliant URL; rfc-compliant: Different Transfer-Encoding headers;
 *       rfc-compliant: Different Transfer-Encoding headers combined; rfc-compliant: Empty URI;
 *       rfc-compliant: International in URI; rfc-compliant: No headers; rfc-compliant:
 *       Transfer-Encoding with a param: chunked;custom_param; rfc-compliant: Valid
 *       Content-Length; rfc-compliant: Valid Transfer-Encoding (chunked); rfc-compliant: Valid
 *       Transfer-Encoding (chunked) + custom header (non-ascii); rfc-compliant: Valid custom
 *       header with digits in name; rfc-compliant: Valid custom header with dot in name;
 *       rfc-compliant: Valid custom header with tchar in name and obs-text; rfc-compliant: Valid
 *       custom header with underscore in name; uri-specific: %09 in URI is OK; uri-specific: %0A
 *       in URI is OK; uri-specific: %0D in URI is OK; uri-specific: %20 in URI is OK
 *
 * Acceptable (15):
 *   accepted (13):
 *       acceptable: A non-essential header with a non-printable character (x01); acceptable: CL
 *       and some others are non-compliant; acceptable: Get with a body and Content-Length:0;
 *       acceptable: Get with a body and Content-Length:0; acceptable: No TE/CL headers, some
 *       others are non-compliant; acceptable: TE and some others are non-compliant; acceptable:
 *       Unknown but OK HTTP/1.2; bad-header: Some-Header: \x01value; bad-header: Some-Header:
 *       value\x01; bad-header: Some-Header\x01; bad-header: \x01Some-Header; uri-specific: Extra
 *       spaces in version; uri-specific: [space] in URI
 *   accepted as HTTP/0.9 (2):
 *       acceptable: Empty version, which means HTTP/0.9; acceptable: Non-RFC, but OK HTTP/0.9

 */
#include "zpt_unit.h"

#include <zp_http_parse.h>

#include <yaml.h>

#define ZPT_MAX_HEADERS 128
#define ZPT_MAX_BODY    65536
#define ZPT_SPLIT_MAX   2048 /* inputs up to this long are also split in two */

enum { ZPT_LINE = 0, ZPT_HEADERS, ZPT_BODY, ZPT_END };

typedef struct {
    ssize_t start, end; /* offsets into the input, -1 for NULL */
} zpt_span_t;

typedef struct {
    zpt_span_t name, value;
    zp_int_t   rc; /* ZP_OK, ZP_HTTP_PARSE_INVALID_NAME or ZP_HTTP_PARSE_CTL_VALUE */
    zp_uint_t  hash;
    u_char     lc[ZP_HTTP_LC_HEADER_LEN];
    zp_uint_t  lc_index;
} zpt_header_t;

typedef struct {
    zp_int_t rc;    /* ZP_OK once every stage finished, ZP_AGAIN, or an error */
    int      stage; /* where rc came from (ZPT_END when all is done) */
    ssize_t  pos;   /* b->pos at the end */

    zpt_span_t request, method, uri, schema, host, port;
    ssize_t    args_start, path_start;
    zp_uint_t  method_id, major, minor;
    unsigned   complex_uri, absolute_uri, asterisk_uri, authority_uri;
    unsigned   space_in_uri, empty_uri, no_version;

    zp_uint_t    nheaders;
    zpt_header_t headers[ZPT_MAX_HEADERS];

    size_t body_len;
    u_char body[ZPT_MAX_BODY];
} zpt_result_t;

static zpt_result_t zpt_res, zpt_res_other;
static int          zpt_splits = 1;


static ssize_t
zpt_off(u_char *p, u_char *base)
{
    return p ? (ssize_t)(p - base) : -1;
}


static zpt_span_t
zpt_span(u_char *s, u_char *e, u_char *base)
{
    zpt_span_t sp = {zpt_off(s, base), zpt_off(e, base)};

    return sp;
}


/* Runs the parsers of stages [stage, last] over what b holds; 1 when done
 * (finished or failed), 0 when they need more. */
static int
zpt_step(zp_http_parse_t *rp, zp_http_chunked_t *cc, zp_buf_t *b, int *stage, int last,
         zpt_result_t *r)
{
    zp_int_t      rc;
    size_t        n;
    zpt_header_t *h;

    for (;;) {
        switch (*stage) {

        case ZPT_LINE:
            rc = zp_http_parse_request_line(rp, b);
            if (rc == ZP_AGAIN) {
                ck_assert_ptr_eq(b->pos, b->last);
                return 0;
            }

            if (rc == ZP_OK || rc == ZP_HTTP_PARSE_INVALID_VERSION || rc == ZP_HTTP_PARSE_HTTP09) {
                r->request       = zpt_span(rp->request_start, rp->request_end, b->start);
                r->method        = zpt_span(rp->request_start, rp->method_end, b->start);
                r->uri           = zpt_span(rp->uri_start, rp->uri_end, b->start);
                r->schema        = zpt_span(rp->schema_start, rp->schema_end, b->start);
                r->host          = zpt_span(rp->host_start, rp->host_end, b->start);
                r->port          = zpt_span(rp->port_start, rp->port_end, b->start);
                r->args_start    = zpt_off(rp->args_start, b->start);
                r->path_start    = zpt_off(rp->path_start, b->start);
                r->method_id     = rp->method;
                r->major         = rp->http_major;
                r->minor         = rp->http_minor;
                r->complex_uri   = rp->complex_uri;
                r->absolute_uri  = rp->absolute_uri;
                r->asterisk_uri  = rp->asterisk_uri;
                r->authority_uri = rp->authority_uri;
                r->space_in_uri  = rp->space_in_uri;
                r->empty_uri     = rp->empty_uri;
                r->no_version    = rp->no_version;
            }

            /* HTTP/0.9 ends here too: the engine reads no header lines */
            if (rc != ZP_OK) {
                r->rc    = rc;
                r->stage = ZPT_LINE;
                return 1;
            }
            break;

        case ZPT_HEADERS:
            rc = zp_http_parse_header_line(rp, b);
            if (rc == ZP_AGAIN) {
                ck_assert_ptr_eq(b->pos, b->last);
                return 0;
            }

            /* a flagged line is complete: the engine drops, keeps or
             * refuses it, and goes on */
            if (rc == ZP_OK || rc == ZP_HTTP_PARSE_INVALID_NAME || rc == ZP_HTTP_PARSE_CTL_VALUE) {
                ck_assert_uint_lt(r->nheaders, ZPT_MAX_HEADERS);
                h           = &r->headers[r->nheaders++];
                h->name     = zpt_span(rp->header_name_start, rp->header_name_end, b->start);
                h->value    = zpt_span(rp->header_start, rp->header_end, b->start);
                h->rc       = rc;
                ck_assert_uint_eq(rp->invalid_name, rc == ZP_HTTP_PARSE_INVALID_NAME);
                if (rc != ZP_HTTP_PARSE_INVALID_NAME) {
                    /* the hash and the lower-cased copy are only for valid names */
                    ck_assert_uint_eq(rp->ctl_value, rc == ZP_HTTP_PARSE_CTL_VALUE);
                    h->hash     = rp->header_hash;
                    h->lc_index = rp->lowcase_index;
                    memcpy(h->lc, rp->lowcase_header, rp->lowcase_index);
                }
                continue;
            }

            if (rc != ZP_HTTP_PARSE_HEADER_DONE) {
                r->rc    = rc;
                r->stage = ZPT_HEADERS;
                return 1;
            }
            break;

        case ZPT_BODY:
            rc = zp_http_parse_chunked(cc, b);
            if (rc == ZP_AGAIN) {
                ck_assert_ptr_eq(b->pos, b->last);
                return 0;
            }

            if (rc == ZP_OK) {
                ck_assert(cc->size > 0);
                ck_assert(b->pos < b->last);
                n = zp_min((size_t)cc->size, (size_t)(b->last - b->pos));
                ck_assert_uint_le(r->body_len + n, ZPT_MAX_BODY);
                memcpy(r->body + r->body_len, b->pos, n);
                r->body_len += n;
                b->pos += n;
                cc->size -= n;
                continue;
            }

            if (rc != ZP_DONE) {
                r->rc    = rc;
                r->stage = ZPT_BODY;
                return 1;
            }

            /* once done, it stays done without consuming */
            ck_assert_int_eq(zp_http_parse_chunked(cc, b), ZP_DONE);
            break;
        }

        if (++*stage > last) {
            r->rc    = ZP_OK;
            r->stage = ZPT_END;
            return 1;
        }
    }
}


/*
 * Feeds in through stages [first, last] in pieces ending at the cumulative
 * lengths steps[] (the last one must be len), every piece ending right at
 * a PROT_NONE page.
 */
static void
zpt_run(const u_char *in, size_t len, const size_t *steps, size_t nsteps, int first, int last,
        zpt_result_t *r)
{
    size_t            page, map_len, have, k, i;
    u_char           *map, *guard, *old, *nb;
    int               stage, done;
    zp_buf_t          b;
    zp_http_parse_t   rp;
    zp_http_chunked_t cc;

    page    = (size_t)sysconf(_SC_PAGESIZE);
    map_len = (len + page - 1) / page * page + page;
    map     = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    guard = map + map_len - page;
    ck_assert_int_eq(mprotect(guard, page, PROT_NONE), 0);

    memset(r, 0, sizeof(*r));
    memset(&rp, 0, sizeof(rp));
    memset(&cc, 0, sizeof(cc));
    memset(&b, 0, sizeof(b));
    b.start = b.pos = b.last = b.end = guard;
    b.temporary                      = 1;

    have  = 0;
    stage = first;
    done  = 0;
    r->rc = ZP_AGAIN;

    for (i = 0; i < nsteps && !done; i++) {
        k = steps[i];
        ck_assert(k > have || (k == 0 && len == 0));
        ck_assert_uint_le(k, len);

        /* move what is there down, append the new piece up to the guard */
        old = guard - have;
        nb  = guard - k;
        memmove(nb, old, have);
        memcpy(nb + have, in + have, k - have);
        zp_http_parse_relocate(&rp, old, guard, nb);
        b.pos   = nb + (b.pos - old);
        b.start = nb;
        b.last  = guard;
        have    = k;

        done = zpt_step(&rp, &cc, &b, &stage, last, r);
    }

    if (!done) {
        r->stage = stage;
    }

    r->pos = b.pos - b.start;

    ck_assert_int_eq(munmap(map, map_len), 0);
}


static const char *
zpt_esc(const u_char *s, size_t len)
{
    static char buf[512];
    size_t      i, n;

    n = 0;
    for (i = 0; i < len && n < sizeof(buf) - 8; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
            buf[n++] = (char)s[i];
        } else {
            n += snprintf(buf + n, sizeof(buf) - n, "\\x%02x", s[i]);
        }
    }
    buf[n] = '\0';

    return buf;
}


/* Parses in whole, byte by byte and split in two everywhere; all must
 * agree. Returns the (static) result of the whole run. */
static zpt_result_t *
zpt_parse(const void *input, size_t len, int first, int last)
{
    const u_char *in = input;
    size_t       *steps, i;

    steps = calloc(len + 2, sizeof(size_t));
    ck_assert_ptr_nonnull(steps);

    for (i = 0; i < len; i++) {
        steps[i] = i + 1;
    }

    zpt_run(in, len, steps, len, first, last, &zpt_res_other);
    zpt_run(in, len, &len, 1, first, last, &zpt_res);

    ck_assert_msg(memcmp(&zpt_res, &zpt_res_other, sizeof(zpt_res)) == 0,
                  "\"%s\": byte by byte differs: rc %d/%d, stage %d/%d, pos %zd/%zd",
                  zpt_esc(in, len), (int)zpt_res.rc, (int)zpt_res_other.rc, zpt_res.stage,
                  zpt_res_other.stage, zpt_res.pos, zpt_res_other.pos);

    for (i = 1; zpt_splits && len <= ZPT_SPLIT_MAX && i < len; i++) {
        steps[0] = i;
        steps[1] = len;
        zpt_run(in, len, steps, 2, first, last, &zpt_res_other);
        ck_assert_msg(memcmp(&zpt_res, &zpt_res_other, sizeof(zpt_res)) == 0,
                      "\"%s\": split at %zu differs: rc %d/%d", zpt_esc(in, len), i,
                      (int)zpt_res.rc, (int)zpt_res_other.rc);
    }

    free(steps);

    return &zpt_res;
}


#define zpt_lit(s) (const u_char *)(s), sizeof(s) - 1

static void
zpt_span_is(const u_char *in, zpt_span_t sp, const char *want, const char *what)
{
    if (want == NULL) {
        ck_assert_msg(sp.start == -1, "%s: want NULL, got offset %zd", what, sp.start);
        return;
    }

    ck_assert_msg(sp.start >= 0 && sp.end >= sp.start, "%s: span %zd-%zd", what, sp.start, sp.end);
    ck_assert_msg((size_t)(sp.end - sp.start) == strlen(want) &&
                      memcmp(in + sp.start, want, strlen(want)) == 0,
                  "%s: \"%s\", want \"%s\"", what, zpt_esc(in + sp.start, sp.end - sp.start), want);
}


/* request line: rc */
#define ZPT_RL_RC(s, want)                                                                         \
    do {                                                                                           \
        zpt_result_t *r_ = zpt_parse(zpt_lit(s), ZPT_LINE, ZPT_LINE);                              \
        ck_assert_msg(r_->rc == (want), "\"%s\": rc %d, want %d", zpt_esc(zpt_lit(s)),             \
                      (int)r_->rc, (int)(want));                                                   \
    } while (0)


/* request line: OK, with method id, target, args (or NULL), minor */
static zpt_result_t *
zpt_rl_ok(const char *s, zp_uint_t method, const char *uri, const char *args, zp_uint_t minor)
{
    const u_char *in = (const u_char *)s;
    zpt_result_t *r;

    r = zpt_parse(in, strlen(s), ZPT_LINE, ZPT_LINE);

    ck_assert_msg(r->rc == ZP_OK, "\"%s\": rc %d", zpt_esc(in, strlen(s)), (int)r->rc);
    ck_assert_uint_eq(r->method_id, method);
    ck_assert_uint_eq(r->major, 1);
    ck_assert_uint_eq(r->minor, minor);
    zpt_span_is(in, r->uri, uri, "uri");

    if (args == NULL) {
        ck_assert_int_eq(r->args_start, -1);
    } else {
        ck_assert_int_ge(r->args_start, 0);
        ck_assert_int_le((ssize_t)strlen(args), r->uri.end - r->args_start);
        ck_assert_msg((size_t)(r->uri.end - r->args_start) == strlen(args) &&
                          memcmp(in + r->args_start, args, strlen(args)) == 0,
                      "args \"%s\"", zpt_esc(in + r->args_start, r->uri.end - r->args_start));
    }

    ck_assert_int_eq(r->pos, (ssize_t)strlen(s));

    return r;
}


/* ---- request line ---------------------------------------------------- */

START_TEST(test_rl_origin_form)
{
    const char   *s = "GET /foo/bar?x=1&y HTTP/1.1\r\n";
    zpt_result_t *r;

    r = zpt_rl_ok(s, ZP_HTTP_GET, "/foo/bar?x=1&y", "x=1&y", 1);
    zpt_span_is((u_char *)s, r->request, "GET /foo/bar?x=1&y HTTP/1.1", "request");
    zpt_span_is((u_char *)s, r->method, "GET", "method");
    ck_assert_int_eq(r->path_start, 4);
    ck_assert_uint_eq(r->complex_uri, 0);
    ck_assert_uint_eq(r->absolute_uri, 0);
    zpt_span_is((u_char *)s, r->schema, NULL, "schema");
    zpt_span_is((u_char *)s, r->host, NULL, "host");

    zpt_rl_ok("GET / HTTP/1.0\r\n", ZP_HTTP_GET, "/", NULL, 0);
    zpt_rl_ok("GET /? HTTP/1.1\r\n", ZP_HTTP_GET, "/?", "", 1);
    zpt_rl_ok("GET /a?b?c/../d HTTP/1.1\r\n", ZP_HTTP_GET, "/a?b?c/../d", "b?c/../d", 1);
    zpt_rl_ok("GET /~user/!$&'()*+,;=:@-._[]{}|\\^`\"<> HTTP/1.1\r\n", ZP_HTTP_GET,
              "/~user/!$&'()*+,;=:@-._[]{}|\\^`\"<>", NULL, 1);

    /* bytes >= 0x80 pass in the path and the query, as nginx lets them */
    zpt_rl_ok("GET /\xd1\x81\xff?\x80 HTTP/1.1\r\n", ZP_HTTP_GET, "/\xd1\x81\xff?\x80", "\x80", 1);

    /* a fragment: not in the path, passed on in the query */
    ZPT_RL_RC("GET /a#b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    zpt_rl_ok("GET /a?b#c HTTP/1.1\r\n", ZP_HTTP_GET, "/a?b#c", "b#c", 1);

    /* b->pos stops after the LF */
    r = zpt_parse(zpt_lit("GET / HTTP/1.1\r\nHost: x\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_int_eq(r->pos, 16);

    /* incomplete */
    ZPT_RL_RC("GET / HTTP/1.1", ZP_AGAIN);
    ZPT_RL_RC("GET / HTTP/1.1\r", ZP_AGAIN);
    ZPT_RL_RC("", ZP_AGAIN);
}
END_TEST


START_TEST(test_rl_methods)
{
    static const struct {
        const char *name;
        zp_uint_t   id;
    } m[] = {
        {"GET", ZP_HTTP_GET},
        {"HEAD", ZP_HTTP_HEAD},
        {"POST", ZP_HTTP_POST},
        {"PUT", ZP_HTTP_PUT},
        {"DELETE", ZP_HTTP_DELETE},
        {"OPTIONS", ZP_HTTP_OPTIONS},
        {"PATCH", ZP_HTTP_PATCH},
        {"TRACE", ZP_HTTP_TRACE},
        {"get", ZP_HTTP_UNKNOWN},
        {"Get", ZP_HTTP_UNKNOWN},
        {"GETS", ZP_HTTP_UNKNOWN},
        {"GE", ZP_HTTP_UNKNOWN},
        {"M-SEARCH", ZP_HTTP_UNKNOWN},
        {"PROPFIND", ZP_HTTP_UNKNOWN},
        {"!#$%&'*+-.^_`|~09azAZ", ZP_HTTP_UNKNOWN},
    };
    char      buf[128];
    zp_uint_t i;

    for (i = 0; i < zp_nelems(m); i++) {
        snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\n", m[i].name);
        zpt_rl_ok(buf, m[i].id, "/x", NULL, 1);
        if (m[i].id != ZP_HTTP_UNKNOWN) {
            ck_assert_str_eq(zp_http_method_name(m[i].id), m[i].name);
        }
    }

    ck_assert_str_eq(zp_http_method_name(ZP_HTTP_CONNECT), "CONNECT");
    ck_assert_str_eq(zp_http_method_name(ZP_HTTP_UNKNOWN), "UNKNOWN");
    ck_assert_str_eq(zp_http_method_name(0x8000), "UNKNOWN");

    /* not a token */
    ZPT_RL_RC("GE(T / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GE\"T / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET\x01 / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("G\x80T / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("bad_method\x01 /foo HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("\x00GET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC(" / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_absolute_form)
{
    const char   *s;
    zpt_result_t *r;

    s = "GET http://Example.com:8080/a/b?q=1 HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "http://Example.com:8080/a/b?q=1", "q=1", 1);
    ck_assert_uint_eq(r->absolute_uri, 1);
    zpt_span_is((u_char *)s, r->schema, "http", "schema");
    zpt_span_is((u_char *)s, r->host, "Example.com", "host");
    zpt_span_is((u_char *)s, r->port, "8080", "port");
    ck_assert_int_eq(r->path_start, (ssize_t)(strstr(s, "/a/b") - s));

    s = "POST HTTPS://h.example/ HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_POST, "HTTPS://h.example/", NULL, 1);
    zpt_span_is((u_char *)s, r->schema, "HTTPS", "schema");
    zpt_span_is((u_char *)s, r->host, "h.example", "host");
    zpt_span_is((u_char *)s, r->port, NULL, "port");

    /* an empty path */
    s = "GET http://h HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "http://h", NULL, 1);
    zpt_span_is((u_char *)s, r->host, "h", "host");
    ck_assert_int_eq(r->path_start, r->uri.end);

    s = "GET http://h:1?x HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "http://h:1?x", "x", 1);
    zpt_span_is((u_char *)s, r->port, "1", "port");
    ck_assert_int_eq(r->path_start, r->args_start - 1);

    s = "GET http://[::1]:65535/x HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "http://[::1]:65535/x", NULL, 1);
    zpt_span_is((u_char *)s, r->host, "[::1]", "host");
    zpt_span_is((u_char *)s, r->port, "65535", "port");

    s = "GET http://[2001:db8::a.b.c.d]/ HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "http://[2001:db8::a.b.c.d]/", NULL, 1);

    r = zpt_rl_ok("GET http://h/a/../b HTTP/1.1\r\n", ZP_HTTP_GET, "http://h/a/../b", NULL, 1);
    ck_assert_uint_eq(r->complex_uri, 1);
    r = zpt_rl_ok("GET http://h//a HTTP/1.1\r\n", ZP_HTTP_GET, "http://h//a", NULL, 1);
    ck_assert_uint_eq(r->complex_uri, 1);
    r = zpt_rl_ok("GET http://h/a HTTP/1.1\r\n", ZP_HTTP_GET, "http://h/a", NULL, 1);
    ck_assert_uint_eq(r->complex_uri, 0);

    ZPT_RL_RC("GET ftp://h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET httpss://h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET htt://h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET h2tp://h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http:/h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http:h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http:// HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http:///x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://user@h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://u:p@h/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h:/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h:65536/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h:123456/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h:8a/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://[]/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://[::1/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://[::1]x/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h%41/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h\\x/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h#x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET example.com:80 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET example.com HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_asterisk_authority)
{
    const char   *s;
    zpt_result_t *r;

    r = zpt_rl_ok("OPTIONS * HTTP/1.1\r\n", ZP_HTTP_OPTIONS, "*", NULL, 1);
    ck_assert_uint_eq(r->asterisk_uri, 1);
    ck_assert_int_eq(r->path_start, -1);

    ZPT_RL_RC("GET * HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("FOO * HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("OPTIONS *x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("OPTIONS */ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    zpt_rl_ok("OPTIONS /x HTTP/1.1\r\n", ZP_HTTP_OPTIONS, "/x", NULL, 1);

    s = "CONNECT example.com:443 HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_CONNECT, "example.com:443", NULL, 1);
    ck_assert_uint_eq(r->authority_uri, 1);
    ck_assert_uint_eq(r->absolute_uri, 0);
    zpt_span_is((u_char *)s, r->host, "example.com", "host");
    zpt_span_is((u_char *)s, r->port, "443", "port");
    ck_assert_int_eq(r->path_start, -1);

    s = "CONNECT [::1]:8443 HTTP/1.1\r\n";
    r = zpt_rl_ok(s, ZP_HTTP_CONNECT, "[::1]:8443", NULL, 1);
    zpt_span_is((u_char *)s, r->host, "[::1]", "host");

    ZPT_RL_RC("CONNECT example.com HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT example.com: HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT example.com:443/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT /x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT http://h:1/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT * HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT u@h:1 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT h:99999 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_versions)
{
    zpt_result_t *r;

    zpt_rl_ok("GET / HTTP/1.0\r\n", ZP_HTTP_GET, "/", NULL, 0);
    zpt_rl_ok("GET / HTTP/1.1\r\n", ZP_HTTP_GET, "/", NULL, 1);
    /* a higher 1.x minor is for the caller to serve as 1.1 */
    zpt_rl_ok("GET / HTTP/1.2\r\n", ZP_HTTP_GET, "/", NULL, 2);
    zpt_rl_ok("GET / HTTP/1.9\r\n", ZP_HTTP_GET, "/", NULL, 9);

    ZPT_RL_RC("GET / HTTP/2.0\r\n", ZP_HTTP_PARSE_INVALID_VERSION);
    ZPT_RL_RC("PRI * HTTP/2.0\r\n", ZP_HTTP_PARSE_INVALID_REQUEST); /* '*' is OPTIONS only */
    ZPT_RL_RC("GET / HTTP/3.0\r\n", ZP_HTTP_PARSE_INVALID_VERSION);
    ZPT_RL_RC("GET / HTTP/0.8\r\n", ZP_HTTP_PARSE_INVALID_VERSION);
    ZPT_RL_RC("GET / HTTP/0.0\r\n", ZP_HTTP_PARSE_INVALID_VERSION);
    ZPT_RL_RC("GET / HTTP/9.9\n", ZP_HTTP_PARSE_INVALID_VERSION);

    r = zpt_parse(zpt_lit("GET / HTTP/2.0\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_uint_eq(r->major, 2);
    ck_assert_uint_eq(r->minor, 0);
    ck_assert_int_eq(r->pos, 16);

    /* the version must be complete and well-formed first */
    ZPT_RL_RC("GET / HTTP/2\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/2.0x\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/3\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.10\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/11.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1x\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/a.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1 x\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/ 1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /\r\nHTTP/1.1\r\n", ZP_HTTP_PARSE_HTTP09); /* the first line */

    /* not a version: words of the target, and no version: HTTP/0.9 */
    ZPT_RL_RC("GET / HTTP 1.1\r\n", ZP_HTTP_PARSE_HTTP09);
    ZPT_RL_RC("GET / HTTPS/1.1\r\n", ZP_HTTP_PARSE_HTTP09);
    ZPT_RL_RC("GET / http/1.1\r\n", ZP_HTTP_PARSE_HTTP09);
    ZPT_RL_RC("GET / Http/1.1\r\n", ZP_HTTP_PARSE_HTTP09);
}
END_TEST


START_TEST(test_rl_http09)
{
    const char   *s;
    zpt_result_t *r;

    /* no version: the line must end in CRLF */
    s = "GET /a?b\r\nHost: x\r\n\r\n";
    r = zpt_parse(zpt_lit("GET /a?b\r\nHost: x\r\n\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_HTTP_PARSE_HTTP09);
    ck_assert_uint_eq(r->no_version, 1);
    ck_assert_uint_eq(r->major, 0);
    ck_assert_uint_eq(r->minor, 9);
    ck_assert_uint_eq(r->method_id, ZP_HTTP_GET);
    zpt_span_is((u_char *)s, r->uri, "/a?b", "uri");
    zpt_span_is((u_char *)s, r->request, "GET /a?b", "request");
    ck_assert_int_eq(r->args_start, 7);
    ck_assert_int_eq(r->pos, 10); /* after the line: the rest is not read */

    s = "GET /a  \r\n";
    r = zpt_parse(zpt_lit("GET /a  \r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_HTTP_PARSE_HTTP09);
    zpt_span_is((u_char *)s, r->uri, "/a", "uri");
    zpt_span_is((u_char *)s, r->request, "GET /a", "request");

    s = "GET /a b\r\n";
    r = zpt_parse(zpt_lit("GET /a b\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_HTTP_PARSE_HTTP09);
    ck_assert_uint_eq(r->space_in_uri, 1);
    zpt_span_is((u_char *)s, r->uri, "/a b", "uri");

    /* any method: the caller refuses all but GET */
    r = zpt_parse(zpt_lit("POST /\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_HTTP_PARSE_HTTP09);
    ck_assert_uint_eq(r->method_id, ZP_HTTP_POST);
    ZPT_RL_RC("GET http://h/a\r\n", ZP_HTTP_PARSE_HTTP09);
    ZPT_RL_RC("OPTIONS *\r\n", ZP_HTTP_PARSE_HTTP09);

    /* "HTTP/0.9": the same, with a version; any line end */
    s = "GET /a HTTP/0.9\n";
    r = zpt_parse(zpt_lit("GET /a HTTP/0.9\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_HTTP_PARSE_HTTP09);
    ck_assert_uint_eq(r->no_version, 0);
    ck_assert_uint_eq(r->major, 0);
    ck_assert_uint_eq(r->minor, 9);
    zpt_span_is((u_char *)s, r->request, "GET /a HTTP/0.9", "request");
    ZPT_RL_RC("GET /a HTTP/0.9 \r\n", ZP_HTTP_PARSE_HTTP09);

    /* a bare LF after the target is what a LF in a target looks like */
    ZPT_RL_RC("GET /\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a \n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /endpoint_a\nHTTP/1.1 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\rHTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\r\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET \r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT h:1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_spaces)
{
    const char   *s;
    zpt_result_t *r;

    /* runs of SP between the parts and after the version (RFC 9112 §3) */
    r = zpt_rl_ok("GET  /  HTTP/1.1\r\n", ZP_HTTP_GET, "/", NULL, 1);
    ck_assert_uint_eq(r->space_in_uri, 0);
    s = "GET   /a?b   HTTP/1.0   \r\n";
    r = zpt_rl_ok(s, ZP_HTTP_GET, "/a?b", "b", 0);
    zpt_span_is((u_char *)s, r->request, "GET   /a?b   HTTP/1.0", "request");
    zpt_span_is((u_char *)s, r->method, "GET", "method");
    zpt_rl_ok("GET / HTTP/1.1 \n", ZP_HTTP_GET, "/", NULL, 1);
    zpt_rl_ok("GET http://h/x  HTTP/1.1\r\n", ZP_HTTP_GET, "http://h/x", NULL, 1);
    zpt_rl_ok("OPTIONS  *  HTTP/1.1\r\n", ZP_HTTP_OPTIONS, "*", NULL, 1);
    zpt_rl_ok("CONNECT  h:1  HTTP/1.1\r\n", ZP_HTTP_CONNECT, "h:1", NULL, 1);

    /* SP inside an origin-form target: the last word is the version */
    r = zpt_rl_ok("GET /endpoint_a?param=not escaped spaces HTTP/1.1\r\n", ZP_HTTP_GET,
                  "/endpoint_a?param=not escaped spaces", "param=not escaped spaces", 1);
    ck_assert_uint_eq(r->space_in_uri, 1);
    r = zpt_rl_ok("GET /a b/c  d HTTP/1.1\r\n", ZP_HTTP_GET, "/a b/c  d", NULL, 1);
    ck_assert_uint_eq(r->space_in_uri, 1);
    ck_assert_uint_eq(r->complex_uri, 0);
    r = zpt_rl_ok("GET /a/. b HTTP/1.1\r\n", ZP_HTTP_GET, "/a/. b", NULL, 1);
    ck_assert_uint_eq(r->complex_uri, 1);

    /* words that start like the version but are none belong to the target */
    zpt_rl_ok("GET /q Hello H HT HTT HTTP HTTPS HTTP/1.1\r\n", ZP_HTTP_GET,
              "/q Hello H HT HTT HTTP HTTPS", NULL, 1);
    zpt_rl_ok("GET /q?a= HT  HTTP/1.1\r\n", ZP_HTTP_GET, "/q?a= HT", "a= HT", 1);

    /* once a word after a SP starts "HTTP/", it is the version */
    ZPT_RL_RC("GET /endpoint_a HTTP/1.1 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a HTTP/1.1x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a HTTP/x HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);

    /* only in origin-form */
    ZPT_RL_RC("GET http://h/a b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http://h b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("OPTIONS * b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT h:1 b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("OPTIONS * Hx HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);

    /* the rest of the target's rules still hold */
    ZPT_RL_RC("GET /a b#c HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a \tHTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a \x01 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);

    /* no target: "/" for the caller */
    s = "GET  HTTP/1.1\r\n";
    r = zpt_parse(zpt_lit("GET  HTTP/1.1\r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->empty_uri, 1);
    ck_assert_int_eq(r->uri.start, r->uri.end);
    ck_assert_int_eq(r->path_start, -1);
    ck_assert_int_eq(r->args_start, -1);
    ck_assert_uint_eq(r->minor, 1);
    zpt_span_is((u_char *)s, r->request, "GET  HTTP/1.1", "request");
    r = zpt_parse(zpt_lit("HEAD HTTP/1.0 \r\n"), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->empty_uri, 1);
    ck_assert_uint_eq(r->minor, 0);
    ZPT_RL_RC("GET HTTP/2.0\r\n", ZP_HTTP_PARSE_INVALID_VERSION);
    ZPT_RL_RC("GET HTTP/1.1 x\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET HTTPS/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET http/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("CONNECT HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    zpt_rl_ok("GET HTTP://h/ HTTP/1.1\r\n", ZP_HTTP_GET, "HTTP://h/", NULL, 1);
}
END_TEST


START_TEST(test_rl_spacing_ctl)
{
    /* SP only (test_rl_spaces): no HT, no leading whitespace */
    ZPT_RL_RC(" GET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("\tGET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET\t/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET \t/ HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /\tHTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / \tHTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1\t\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1 \t\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /\x0b HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1\x0c\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);

    /* control bytes and bare CR anywhere */
    ZPT_RL_RC("GET /a\x01 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\x00 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET \x00/a HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\x7f HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\x1f HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /?a\x00 HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /?a\t HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\rb HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /a\r HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1\r\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET / HTTP/1.1\rX", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("GET /endpoint_a\tHTTP/1.1\r\nHost:localhost\r\n\r\nGET\t/endpoint_b\t HTTP/1.1\r\n",
              ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_line_endings)
{
    zpt_result_t *r;
    const char   *s;

    /* LF alone ends the line (RFC 9112 §2.2) */
    s = "GET /x HTTP/1.1\nHost: a\n";
    r = zpt_parse((const u_char *)s, strlen(s), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    zpt_span_is((u_char *)s, r->request, "GET /x HTTP/1.1", "request");
    ck_assert_int_eq(r->pos, 16);

    /* empty lines before the request line are skipped */
    s = "\r\n\r\n\nGET /x HTTP/1.1\r\n";
    r = zpt_parse((const u_char *)s, strlen(s), ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    zpt_span_is((u_char *)s, r->request, "GET /x HTTP/1.1", "request");
    zpt_span_is((u_char *)s, r->method, "GET", "method");
    ck_assert_int_eq(r->request.start, 5);

    ZPT_RL_RC("\r\n\r\n", ZP_AGAIN);
    ZPT_RL_RC("\r\rGET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("\rGET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC("\r \r\nGET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
    ZPT_RL_RC(" \r\nGET / HTTP/1.1\r\n", ZP_HTTP_PARSE_INVALID_REQUEST);
}
END_TEST


START_TEST(test_rl_long_uri)
{
    size_t        n = 20000, len;
    char         *s;
    zpt_result_t *r;

    s = malloc(n + 64);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n);
    memcpy(s + 5 + n, "?b HTTP/1.1\r\n", 14);
    len = strlen(s);

    r = zpt_parse(s, len, ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_int_eq(r->uri.end - r->uri.start, (ssize_t)n + 3);
    ck_assert_int_eq(r->args_start, (ssize_t)n + 6);

    /* cut short: just more to read */
    r = zpt_parse(s, 5 + n, ZPT_LINE, ZPT_LINE);
    ck_assert_int_eq(r->rc, ZP_AGAIN);
    ck_assert_int_eq(r->pos, (ssize_t)n + 5);

    free(s);
}
END_TEST


START_TEST(test_rl_complex_uri)
{
    static const struct {
        const char *uri;
        unsigned    complex;
    } t[] = {
        {"/", 0},      {"/a/b", 0},  {"/a.b/c.", 0},      {"/a/.b", 0},   {"/a/..b", 0},
        {"/a/...", 0}, {"/a/b.", 0}, {"/a?b//c/../%", 0}, {"/a%20b", 1},  {"/%", 1},
        {"/a//b", 1},  {"//", 1},    {"/a/./b", 1},       {"/a/../b", 1}, {"/a/.", 1},
        {"/a/..", 1},  {"/.", 1},    {"/..", 1},          {"/a/.?x", 1},  {"/a/..?x", 1},
        {"/a/", 0},    {"/./", 1},
    };
    char          buf[256];
    zp_uint_t     i;
    zpt_result_t *r;

    for (i = 0; i < zp_nelems(t); i++) {
        snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\n", t[i].uri);
        r = zpt_parse((const u_char *)buf, strlen(buf), ZPT_LINE, ZPT_LINE);
        ck_assert_int_eq(r->rc, ZP_OK);
        ck_assert_msg(r->complex_uri == t[i].complex, "\"%s\": complex_uri %u", t[i].uri,
                      r->complex_uri);
    }
}
END_TEST


START_TEST(test_rl_relocate)
{
    /* the caller grows its buffer mid-line: move the line, relocate */
    const char     *s = "GET http://h:80/a?b HTTP/1.1\r\n";
    u_char          one[64], two[64];
    zp_buf_t        b;
    zp_http_parse_t rp;
    size_t          len = strlen(s), half = 17;

    memset(&rp, 0, sizeof(rp));
    memset(&b, 0, sizeof(b));
    memcpy(one, s, half);
    b.start = b.pos = one;
    b.last          = one + half;

    ck_assert_int_eq(zp_http_parse_request_line(&rp, &b), ZP_AGAIN);
    ck_assert_ptr_eq(rp.request_start, one);

    memcpy(two + 3, one, half);
    memcpy(two + 3 + half, s + half, len - half);
    zp_http_parse_relocate(&rp, one, one + half, two + 3);
    b.pos  = two + 3 + half;
    b.last = two + 3 + len;

    ck_assert_int_eq(zp_http_parse_request_line(&rp, &b), ZP_OK);
    ck_assert_ptr_eq(rp.request_start, two + 3);
    ck_assert_ptr_eq(rp.schema_start, two + 7);
    ck_assert_ptr_eq(rp.host_start, two + 14);
    ck_assert_ptr_eq(rp.port_end, two + 18);
    ck_assert_ptr_eq(rp.args_start, two + 3 + 18);
    ck_assert_ptr_eq(rp.uri_end, two + 3 + 19);
    ck_assert_int_eq(memcmp(rp.host_start, "h", 1), 0);

    /* pointers outside the moved range stay */
    rp.header_name_start = one + 40;
    zp_http_parse_relocate(&rp, two, two + 10, one);
    ck_assert_ptr_eq(rp.header_name_start, one + 40);
    ck_assert_ptr_eq(rp.request_start, one + 3);
}
END_TEST


/* ---- header lines ------------------------------------------------------ */

/* parses a header block (ending in an empty line) */
static zpt_result_t *
zpt_headers(const char *s, size_t len)
{
    return zpt_parse((const u_char *)s, len, ZPT_HEADERS, ZPT_HEADERS);
}


#define ZPT_HDR_RC(s, want)                                                                        \
    do {                                                                                           \
        zpt_result_t *r_ = zpt_headers(s, sizeof(s) - 1);                                          \
        ck_assert_msg(r_->rc == (want), "\"%s\": rc %d, want %d", zpt_esc(zpt_lit(s)),             \
                      (int)r_->rc, (int)(want));                                                   \
    } while (0)


static void
zpt_header_is(const char *in, zpt_result_t *r, zp_uint_t i, const char *name, const char *value)
{
    u_char lc[256];
    size_t n = strlen(name);

    ck_assert_uint_lt(i, r->nheaders);
    zpt_span_is((u_char *)in, r->headers[i].name, name, "name");
    zpt_span_is((u_char *)in, r->headers[i].value, value, "value");
    ck_assert_uint_eq(r->headers[i].hash, zp_hash_key_lc((u_char *)name, n));
    ck_assert_uint_eq(r->headers[i].lc_index, zp_min(n, (size_t)ZP_HTTP_LC_HEADER_LEN));
    zp_strlow(lc, (u_char *)name, n);
    ck_assert_int_eq(memcmp(r->headers[i].lc, lc, r->headers[i].lc_index), 0);
}


START_TEST(test_hdr_basic)
{
    const char   *s;
    zpt_result_t *r;

    s = "Host: example.com\r\n"
        "X-Empty:\r\n"
        "X-Blank: \t \r\n"
        "X-Ows:  \t value  with  inner \t \r\n"
        "x-nospace:v\r\n"
        "X-Obs: \x80\xff caf\xc3\xa9 \t\r\n"
        "X-Lf: lf only\n"
        "X-Tab:\tsep\tby\ttabs\r\n"
        "X-Colon: a:b: c\r\n"
        "!#$%&'*+-.^_`|~09: tokens\r\n"
        "A-Very-Long-Header-Name-Longer-Than-Thirty-Two-Bytes: x\r\n"
        "\r\n"
        "BODY";
    r = zpt_headers(s, strlen(s));
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->nheaders, 11);
    ck_assert_int_eq(r->pos, (ssize_t)(strlen(s) - 4));

    zpt_header_is(s, r, 0, "Host", "example.com");
    zpt_header_is(s, r, 1, "X-Empty", "");
    zpt_header_is(s, r, 2, "X-Blank", "");
    zpt_header_is(s, r, 3, "X-Ows", "value  with  inner");
    zpt_header_is(s, r, 4, "x-nospace", "v");
    zpt_header_is(s, r, 5, "X-Obs", "\x80\xff caf\xc3\xa9");
    zpt_header_is(s, r, 6, "X-Lf", "lf only");
    zpt_header_is(s, r, 7, "X-Tab", "sep\tby\ttabs");
    zpt_header_is(s, r, 8, "X-Colon", "a:b: c");
    zpt_header_is(s, r, 9, "!#$%&'*+-.^_`|~09", "tokens");
    zpt_header_is(s, r, 10, "A-Very-Long-Header-Name-Longer-Than-Thirty-Two-Bytes", "x");

    ZPT_HDR_RC("\r\n", ZP_OK);
    ZPT_HDR_RC("\n", ZP_OK);
    ZPT_HDR_RC("", ZP_AGAIN);
    ZPT_HDR_RC("Host: x\r\n", ZP_AGAIN);
    ZPT_HDR_RC("Host: x\r\n\r", ZP_AGAIN);
}
END_TEST


START_TEST(test_hdr_single)
{
    /* one line at a time, as the engine calls it */
    const char     *s = "Content-Length:  42 \r\nX: y\r\n\r\n";
    zp_buf_t        b;
    zp_http_parse_t rp;

    memset(&rp, 0, sizeof(rp));
    memset(&b, 0, sizeof(b));
    b.start = b.pos = (u_char *)s;
    b.last          = (u_char *)s + strlen(s);

    ck_assert_int_eq(zp_http_parse_header_line(&rp, &b), ZP_OK);
    ck_assert_ptr_eq(b.pos, (u_char *)s + 22);
    ck_assert_int_eq(rp.header_name_end - rp.header_name_start, 14);
    ck_assert_int_eq(memcmp(rp.header_start, "42", 2), 0);
    ck_assert_ptr_eq(rp.header_end, rp.header_start + 2);
    ck_assert_uint_eq(rp.header_hash, zp_hash_key_lc((u_char *)"content-length", 14));
    ck_assert_int_eq(memcmp(rp.lowcase_header, "content-length", 14), 0);
    ck_assert_uint_eq(rp.lowcase_index, 14);

    ck_assert_int_eq(zp_http_parse_header_line(&rp, &b), ZP_OK);
    ck_assert_uint_eq(rp.lowcase_index, 1);
    ck_assert_int_eq(zp_http_parse_header_line(&rp, &b), ZP_HTTP_PARSE_HEADER_DONE);
    ck_assert_ptr_eq(b.pos, b.last);
}
END_TEST


/* one header line alone, as the engine calls the parser: its rc */
static zp_int_t
zpt_hdr_line_rc(const char *s, size_t len)
{
    zpt_result_t *r = zpt_headers(s, len);

    if (r->rc != ZP_OK) {
        return r->rc;
    }

    ck_assert_uint_eq(r->nheaders, 1);

    return r->headers[0].rc;
}


#define ZPT_LINE_RC(s, want)                                                                       \
    do {                                                                                           \
        zp_int_t rc_ = zpt_hdr_line_rc(s, sizeof(s) - 1);                                          \
        ck_assert_msg(rc_ == (want), "\"%s\": rc %d, want %d", zpt_esc(zpt_lit(s)), (int)rc_,     \
                      (int)(want));                                                                \
    } while (0)


START_TEST(test_hdr_flagged)
{
    const char   *s;
    zpt_result_t *r;

    /* whitespace or other non-tchar in or around the name: a complete
     * line, for the caller to drop or refuse */
    ZPT_LINE_RC("Transfer-Encoding : chunked\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("Transfer-Encoding\t: chunked\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("Transfer- Encoding: chunked\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X y: z\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X@: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X(: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X\x80: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X\x01: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("\x01X: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("\x80: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X\x7f: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);
    ZPT_LINE_RC("X\x01: y\x01\r\n\r\n", ZP_HTTP_PARSE_INVALID_NAME);

    s = "\x01X-A : a \r\nX-B: b\r\n\r\n";
    r = zpt_headers(s, strlen(s));
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->nheaders, 2);
    ck_assert_int_eq(r->headers[0].rc, ZP_HTTP_PARSE_INVALID_NAME);
    zpt_span_is((u_char *)s, r->headers[0].name, "\x01X-A ", "name");
    zpt_span_is((u_char *)s, r->headers[0].value, "a", "value");
    ck_assert_int_eq(r->headers[1].rc, ZP_OK);
    zpt_header_is(s, r, 1, "X-B", "b");

    /* a CTL other than NUL, CR, LF, HT in a value: kept in it */
    ZPT_LINE_RC("X: a\x01\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);
    ZPT_LINE_RC("X: a\x1f\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);
    ZPT_LINE_RC("X: a\x7f\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);
    ZPT_LINE_RC("X: a\x0b\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);
    ZPT_LINE_RC("X: a\x0c\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);
    ZPT_LINE_RC("X: \x01\r\n\r\n", ZP_HTTP_PARSE_CTL_VALUE);

    s = "X-C: \x01" "a \x7f\t \r\nX-D: d\r\n\r\n";
    r = zpt_headers(s, strlen(s));
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_int_eq(r->headers[0].rc, ZP_HTTP_PARSE_CTL_VALUE);
    zpt_header_is(s, r, 0, "X-C", "\x01" "a \x7f");
    ck_assert_int_eq(r->headers[1].rc, ZP_OK);
}
END_TEST


START_TEST(test_hdr_invalid)
{
    /* NUL, CR and LF end a name */
    ZPT_HDR_RC("X\x00: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("\x00X: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X \x00: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X \r: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X\x01\n: y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("Some-Bad-Header\n:Content-Length:1000\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);

    /* an empty name, no colon */
    ZPT_HDR_RC(": y\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC(":\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);

    /* obs-fold and leading whitespace */
    ZPT_HDR_RC("X: a\r\n b\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X: a\r\n\tb\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC(" X: a\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("\tX: a\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC(" \r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);

    /* NUL in the value */
    ZPT_HDR_RC("X: a\x00"
               "b\r\n\r\n",
               ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X: \x00\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X: \x01\x00\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X\x01: \x00\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);

    /* bare CR */
    ZPT_HDR_RC("X: a\rb\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X: a\r\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X\r: a\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("\rX: a\r\n\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("\r\r\n", ZP_HTTP_PARSE_INVALID_HEADER);
    ZPT_HDR_RC("X: a\r\n\rX", ZP_HTTP_PARSE_INVALID_HEADER);
}
END_TEST


/* every byte value in the method, path, query, header name and value */
START_TEST(test_every_byte)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    u_char            buf[64];
    zpt_result_t     *r;
    size_t            n;
    int               c, tok, vchar, ok;

    zpt_splits = 0;

    for (c = 0; c < 256; c++) {
        tok   = isalnum(c) || (c != 0 && strchr(tchar, c) != NULL);
        vchar = (c > 0x20 && c < 0x7f) || c >= 0x80;

        n = (size_t)snprintf((char *)buf, sizeof(buf), "G%cT / HTTP/1.1\r\n", c);
        r = zpt_parse(buf, n, ZPT_LINE, ZPT_LINE);
        ck_assert_msg((r->rc == ZP_OK) == tok, "method byte 0x%02x: rc %d", c, (int)r->rc);

        /* a SP is part of an origin-form target (space_in_uri) */
        n  = (size_t)snprintf((char *)buf, sizeof(buf), "GET /a%cb HTTP/1.1\r\n", c);
        r  = zpt_parse(buf, n, ZPT_LINE, ZPT_LINE);
        ok = (vchar && c != '#') || c == ' ';
        ck_assert_msg((r->rc == ZP_OK) == ok, "path byte 0x%02x: rc %d", c, (int)r->rc);

        n  = (size_t)snprintf((char *)buf, sizeof(buf), "GET /?a%cb HTTP/1.1\r\n", c);
        r  = zpt_parse(buf, n, ZPT_LINE, ZPT_LINE);
        ok = vchar || c == ' ';
        ck_assert_msg((r->rc == ZP_OK) == ok, "query byte 0x%02x: rc %d", c, (int)r->rc);

        /* a name byte outside tchar flags the line (NUL, CR, LF end it) */
        n  = (size_t)snprintf((char *)buf, sizeof(buf), "X%c: y\r\n\r\n", c);
        r  = zpt_parse(buf, n, ZPT_HEADERS, ZPT_HEADERS);
        ok = tok || c == ':';
        ck_assert_msg(r->rc == ZP_OK || (c == 0 || c == '\r' || c == '\n'),
                      "name byte 0x%02x: rc %d", c, (int)r->rc);
        if (r->rc == ZP_OK) {
            ck_assert_uint_eq(r->nheaders, 1);
            ck_assert_msg((r->headers[0].rc == ZP_OK) == ok, "name byte 0x%02x: line rc %d", c,
                          (int)r->headers[0].rc);
            ck_assert(ok || r->headers[0].rc == ZP_HTTP_PARSE_INVALID_NAME);
        }

        /* a CTL in a value flags the line (NUL, a bare CR end it; LF ends
         * the line, "b" is then a line without a colon) */
        n  = (size_t)snprintf((char *)buf, sizeof(buf), "X: a%cb\r\n\r\n", c);
        r  = zpt_parse(buf, n, ZPT_HEADERS, ZPT_HEADERS);
        ok = vchar || c == ' ' || c == '\t';
        ck_assert_msg(r->rc == ZP_OK || (c == 0 || c == '\r' || c == '\n'),
                      "value byte 0x%02x: rc %d", c, (int)r->rc);
        if (r->rc == ZP_OK) {
            ck_assert_msg((r->headers[0].rc == ZP_OK) == ok, "value byte 0x%02x: line rc %d", c,
                          (int)r->headers[0].rc);
            ck_assert(ok || r->headers[0].rc == ZP_HTTP_PARSE_CTL_VALUE);
        }
    }
}
END_TEST


/* ---- fields: zp_http_field_acted_on, zp_http_parse_te -------------------- */

START_TEST(test_field_acted_on)
{
    static const char *yes[] = {
        "Content-Length", "content-length", "Content-Length ", "\001Content-Length",
        "Content_Length", "CONTENT---LENGTH", "Content\xe2\x80\x95Length",
        "Transfer-Encoding", "Transfer-Encoding\t", "\xe2\x80\x83Transfer-Encoding",
        "Transfer-Encoding\x88", "Host", " host", "Ho st", "Connection", "Upgrade ", "Expect",
        "TE", "t\001e", "Trailer", ":host",
    };
    static const char *no[] = {
        "", "X-Content-Length", "Content-Lengths", "Tran\305\277fer-Encoding",
        "Transfer-Encod\xc4\xb1ng", "x-my-custom-header ", "Hosts", "Keep-Alive", "T", "TEE",
        "Authorization", "Content-Type",
        "A-Very-Long-Header-Name-Longer-Than-Any-Of-Them-Content-Length",
    };
    zp_uint_t i;

    for (i = 0; i < zp_nelems(yes); i++) {
        ck_assert_msg(zp_http_field_acted_on((u_char *)yes[i], strlen(yes[i])), "\"%s\"",
                      zpt_esc((u_char *)yes[i], strlen(yes[i])));
    }

    for (i = 0; i < zp_nelems(no); i++) {
        ck_assert_msg(!zp_http_field_acted_on((u_char *)no[i], strlen(no[i])), "\"%s\"",
                      zpt_esc((u_char *)no[i], strlen(no[i])));
    }
}
END_TEST


/* The field values of one message, separated by '|', through
 * zp_http_parse_te(): rc, then the codings to pass on and whether the
 * list ends in chunked. */
static zp_int_t
zpt_te(const char *fields, char *out, size_t size, unsigned *chunked)
{
    u_char       room[512], *v, *bar;
    size_t       len;
    zp_int_t     rc;
    zp_http_te_t te;
    char        *copy, *p;

    copy = strdup(fields);
    ck_assert_ptr_nonnull(copy);
    memset(&te, 0, sizeof(te));
    te.out = room;
    rc     = ZP_OK;

    for (p = copy; rc == ZP_OK; p = (char *)bar + 1) {
        bar = (u_char *)strchr(p, '|');
        len = bar ? (size_t)((char *)bar - p) : strlen(p);
        ck_assert_uint_le(3 * len + 2, sizeof(room) - te.out_len);

        /* an exact-size copy, so ASan sees a read past the value */
        v = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(v);
        memcpy(v, p, len);
        rc = zp_http_parse_te(&te, v, len);
        free(v);

        if (bar == NULL) {
            break;
        }
    }

    free(copy);
    ck_assert_uint_lt(te.out_len, size);
    memcpy(out, te.out, te.out_len);
    out[te.out_len] = '\0';
    *chunked        = te.chunked;

    return rc;
}


#define ZPT_TE_OK(fields, want_out, want_chunked)                                                  \
    do {                                                                                           \
        char     out_[512];                                                                        \
        unsigned ch_;                                                                              \
        zp_int_t rc_ = zpt_te(fields, out_, sizeof(out_), &ch_);                                   \
        ck_assert_msg(rc_ == ZP_OK, "\"%s\": rc %d", fields, (int)rc_);                            \
        ck_assert_msg(strcmp(out_, want_out) == 0, "\"%s\": \"%s\", want \"%s\"", fields, out_,    \
                      want_out);                                                                   \
        ck_assert_msg(ch_ == (want_chunked), "\"%s\": chunked %u", fields, ch_);                   \
    } while (0)

#define ZPT_TE_BAD(fields)                                                                         \
    do {                                                                                           \
        char     out_[512];                                                                        \
        unsigned ch_;                                                                              \
        ck_assert_msg(zpt_te(fields, out_, sizeof(out_), &ch_) == ZP_ERROR, "\"%s\" accepted",     \
                      fields);                                                                     \
    } while (0)


START_TEST(test_te)
{
    ZPT_TE_OK("chunked", "", 1);
    ZPT_TE_OK("Chunked", "", 1);
    ZPT_TE_OK(" \tchunked \t", "", 1);
    ZPT_TE_OK("gzip, chunked", "gzip", 1);
    ZPT_TE_OK("gzip,chunked", "gzip", 1);
    ZPT_TE_OK("gzip , deflate , \tidentity\t, compress\t, chunked", "gzip, deflate, compress", 1);
    ZPT_TE_OK("deflate, identity, chunked", "deflate", 1);
    ZPT_TE_OK("gzip|deflate|identity|compress|chunked", "gzip, deflate, compress", 1);
    ZPT_TE_OK("   gzip   ;   |deflate\t\t;\t\t|\t\t\t\tchunked;custom_param;\t\t\t\t", "gzip, deflate",
              1);
    ZPT_TE_OK("chunked;custom_param", "", 1);
    ZPT_TE_OK("chunked ; a=b ; c = \"d,e\"", "", 1);
    ZPT_TE_OK("x;a=1;b=\"q \\\" ,;\", chunked", "x;a=1;b=\"q \\\" ,;\"", 1);
    ZPT_TE_OK("x ; flag, y;p = v, chunked", "x;flag, y;p=v", 1);
    ZPT_TE_OK(", , gzip, , chunked, ,", "gzip", 1);
    ZPT_TE_OK("identity, chunked", "", 1);

    /* well-formed, but not ending in chunked: for the caller to refuse */
    ZPT_TE_OK("gzip", "gzip", 0);
    ZPT_TE_OK("identity", "", 0);
    ZPT_TE_OK("xchunked", "xchunked", 0);
    ZPT_TE_OK("chunk", "chunk", 0);
    ZPT_TE_OK("gzip; chunked", "gzip;chunked", 0); /* a parameter named chunked */

    /* chunked not last, or twice */
    ZPT_TE_BAD("chunked, gzip");
    ZPT_TE_BAD("chunked, identity");
    ZPT_TE_BAD("chunked,chunked");
    ZPT_TE_BAD("chunked|chunked");
    ZPT_TE_BAD("chunked|cow");
    ZPT_TE_BAD("chunked;a=b, gzip");

    /* a field of no coding */
    ZPT_TE_BAD("");
    ZPT_TE_BAD(" ,\t, ");
    ZPT_TE_BAD("|chunked");
    ZPT_TE_BAD("gzip| |chunked");

    /* outside the syntax */
    ZPT_TE_BAD("chunked\x01");
    ZPT_TE_BAD("\x01" "chunked");
    ZPT_TE_BAD("chunked\x80");
    ZPT_TE_BAD("\xa0" "chunked");
    ZPT_TE_BAD("gzip chunked");
    ZPT_TE_BAD("gzip;a=, chunked");
    ZPT_TE_BAD("gzip;=b, chunked");
    ZPT_TE_BAD("gzip;a=\"b, chunked");
    ZPT_TE_BAD("gzip;a=\"b\\");
    ZPT_TE_BAD("gzip;a=b c, chunked");
    ZPT_TE_BAD("gzip;a=\"\x01\", chunked");
    ZPT_TE_BAD("gzip/1, chunked");
    ZPT_TE_BAD("\"chunked\"");
}
END_TEST


/* ---- normalize_uri ----------------------------------------------------- */

START_TEST(test_normalize)
{
    static const struct {
        const char *in;
        zp_uint_t   merge;
        const char *out; /* NULL: ZP_ERROR */
    } t[] = {
        {"/", 1, "/"},
        {"/a/b", 1, "/a/b"},
        {"/a/./b/../c", 1, "/a/c"},
        {"/a/./b/../c", 0, "/a/c"},
        {"/%41", 1, "/A"},
        {"/%7e%7E", 1, "/~~"},
        {"/a//b", 1, "/a/b"},
        {"/a//b", 0, "/a//b"},
        {"//a///b//", 1, "/a/b/"},
        {"//a///b//", 0, "//a///b//"},
        {"/..", 1, NULL},
        {"/../a", 1, NULL},
        {"/a/../..", 1, NULL},
        {"/a/../../b", 1, NULL},
        {"/a/..", 1, "/"},
        {"/a/../", 1, "/"},
        {"/a/.", 1, "/a/"},
        {"/a/./", 1, "/a/"},
        {"/.", 1, "/"},
        {"/./", 1, "/"},
        {"/a/b/..", 1, "/a/"},
        {"/a/b/../..", 1, "/"},
        {"/a/...", 1, "/a/..."},
        {"/a/..b/.c", 1, "/a/..b/.c"},
        {"/a//..", 0, "/a/"},
        {"/a//../b", 0, "/a/b"},
        {"/a/.//b", 0, "/a//b"},
        {"/a//../b", 1, "/b"},
        /* decoded bytes count as literal ones (nginx does the same) */
        {"/a/%2e%2e/b", 1, "/b"},
        {"/a/%2E/b", 1, "/a/b"},
        {"/a/.%2e/b", 1, "/b"},
        {"/%2e%2e", 1, NULL},
        {"/a%2fb", 1, "/a/b"},
        {"/a%2F%2Fb", 1, "/a/b"},
        {"/a%2F%2Fb", 0, "/a//b"},
        {"/a%2f..%2fb", 1, "/b"},
        {"/%252e%252e/a", 1, "/%2e%2e/a"}, /* one level only */
        {"/a%3Fb?c/../d", 1, "/a?b"},      /* a decoded '?' is data */
        {"/a/b?x/../../..", 1, "/a/b"},    /* args are not part of the path */
        {"/a/..?x", 1, "/"},
        {"/?", 1, "/"},
        {"/%20%0d%0a%09%ff", 1, "/ \r\n\t\xff"},
        {"/%00", 1, NULL},
        {"/a%00b", 1, NULL},
        {"%zz", 1, NULL},
        {"/%zz", 1, NULL},
        {"/%4", 1, NULL},
        {"/%", 1, NULL},
        {"/%g0", 1, NULL},
        {"/a%", 1, NULL},
        {"a/b", 1, NULL},
        {"", 1, NULL},
        {"?a", 1, NULL},
    };
    u_char    dst[256];
    size_t    n, len;
    zp_int_t  rc;
    zp_uint_t i;

    for (i = 0; i < zp_nelems(t); i++) {
        len = strlen(t[i].in);
        memset(dst, 0xA5, sizeof(dst));
        n  = 9999;
        rc = zp_http_normalize_uri((u_char *)t[i].in, len, dst, &n, t[i].merge);

        if (t[i].out == NULL) {
            ck_assert_msg(rc == ZP_ERROR, "\"%s\": want an error", t[i].in);
            continue;
        }

        ck_assert_msg(rc == ZP_OK, "\"%s\": rc %d", t[i].in, (int)rc);
        ck_assert_msg(n == strlen(t[i].out) && memcmp(dst, t[i].out, n) == 0,
                      "\"%s\" (merge %d): \"%s\", want \"%s\"", t[i].in, (int)t[i].merge,
                      zpt_esc(dst, n), t[i].out);
        ck_assert_uint_le(n, len);
        ck_assert_uint_eq(dst[len], 0xA5); /* nothing written past len */
    }
}
END_TEST


START_TEST(test_normalize_guard)
{
    /* the input ends at a PROT_NONE page: a trailing '%' must not read on */
    static const char *in[] = {"/a%", "/a%4", "/a/..", "/a/b", "/%41"};
    size_t             page, i, len, n;
    u_char            *map, *src, dst[16];

    page = (size_t)sysconf(_SC_PAGESIZE);
    map  = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + page, page, PROT_NONE), 0);

    for (i = 0; i < zp_nelems(in); i++) {
        len = strlen(in[i]);
        src = map + page - len;
        memcpy(src, in[i], len);
        (void)zp_http_normalize_uri(src, len, dst, &n, 1);
    }

    munmap(map, 2 * page);
}
END_TEST


/* ---- chunked ----------------------------------------------------------- */

static zpt_result_t *
zpt_chunked(const void *s, size_t len)
{
    return zpt_parse(s, len, ZPT_BODY, ZPT_BODY);
}


#define ZPT_CHUNKED_RC(s, want)                                                                    \
    do {                                                                                           \
        zpt_result_t *r_ = zpt_chunked(s, sizeof(s) - 1);                                          \
        ck_assert_msg(r_->rc == (want), "\"%s\": rc %d, want %d", zpt_esc(zpt_lit(s)),             \
                      (int)r_->rc, (int)(want));                                                   \
    } while (0)

#define ZPT_CHUNKED_BODY(s, want)                                                                  \
    do {                                                                                           \
        zpt_result_t *r_ = zpt_chunked(s, sizeof(s) - 1);                                          \
        ck_assert_msg(r_->rc == ZP_OK, "\"%s\": rc %d", zpt_esc(zpt_lit(s)), (int)r_->rc);         \
        ck_assert_msg(                                                                             \
            r_->body_len == sizeof(want) - 1 && memcmp(r_->body, want, sizeof(want) - 1) == 0,     \
            "\"%s\": body \"%s\"", zpt_esc(zpt_lit(s)), zpt_esc(r_->body, r_->body_len));          \
        ck_assert_int_eq(r_->pos, (ssize_t)sizeof(s) - 1);                                         \
    } while (0)


START_TEST(test_chunked_ok)
{
    zpt_result_t *r;

    ZPT_CHUNKED_BODY("5\r\nhello\r\n0\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("0\r\n\r\n", "");
    ZPT_CHUNKED_BODY("000\r\n\r\n", "");
    ZPT_CHUNKED_BODY("3\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
                     "abc01234567890123456789");
    ZPT_CHUNKED_BODY("0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"); /* 16 digits */
    ZPT_CHUNKED_BODY("5\r\n\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r\n\r");  /* data is data */

    /* LF alone */
    ZPT_CHUNKED_BODY("5\nhello\n0\n\n", "hello");
    ZPT_CHUNKED_BODY("5\r\nhello\n0\n\r\n", "hello");

    /* extensions, with BWS */
    ZPT_CHUNKED_BODY("5;a\r\nhello\r\n0\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("5;name=value;x;y=z\r\nhello\r\n0;last\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("5 ;a\r\nhello\r\n0\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("5\t; a = b ;\tc\t=\t\"q \\\"x\\\\ \x80\" ; d\r\nhello\r\n0\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("5;a=\"\"\r\nhello\r\n0;b=\"x\"\r\n\r\n", "hello");

    /* trailers */
    ZPT_CHUNKED_BODY("5\r\nhello\r\n0\r\nX-Trailer: v\r\nY:\r\nZ: \x80 z \t\r\n\r\n", "hello");
    ZPT_CHUNKED_BODY("0\nX: y\n\n", "");

    /* what follows the body is left alone */
    r = zpt_chunked(zpt_lit("0\r\n\r\nGET / HTTP/1.1\r\n"));
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_int_eq(r->pos, 5);

    /* incomplete */
    ZPT_CHUNKED_RC("5\r\nhel", ZP_AGAIN);
    ZPT_CHUNKED_RC("5\r\nhello", ZP_AGAIN);
    ZPT_CHUNKED_RC("5\r\nhello\r\n0\r\n", ZP_AGAIN);
    ZPT_CHUNKED_RC("5\r\nhello\r\n0\r\nX: y\r\n", ZP_AGAIN);
    ZPT_CHUNKED_RC("", ZP_AGAIN);
}
END_TEST


START_TEST(test_chunked_size)
{
    zp_http_chunked_t ctx;
    zp_buf_t          b;
    const char       *s;

    /* the largest off_t is accepted, one more is not */
    s = "7fffffffffffffff\r\nx";
    memset(&ctx, 0, sizeof(ctx));
    memset(&b, 0, sizeof(b));
    b.pos  = (u_char *)s;
    b.last = (u_char *)s + strlen(s);
    ck_assert_int_eq(zp_http_parse_chunked(&ctx, &b), ZP_OK);
    ck_assert(ctx.size == ZP_MAX_OFF_T_VALUE);
    ck_assert(ctx.length == ZP_MAX_OFF_T_VALUE); /* the hint saturates */
    ck_assert_ptr_eq(b.pos, b.last - 1);

    /* ZP_OK only with data in the buffer */
    s = "10\r\n";
    memset(&ctx, 0, sizeof(ctx));
    b.pos  = (u_char *)s;
    b.last = (u_char *)s + strlen(s);
    ck_assert_int_eq(zp_http_parse_chunked(&ctx, &b), ZP_AGAIN);
    ck_assert(ctx.size == 16);
    ck_assert(ctx.length == 16 + 4);
    ck_assert_int_eq(zp_http_parse_chunked(&ctx, &b), ZP_AGAIN);

    ZPT_CHUNKED_RC("8000000000000000\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("ffffffffffffffff\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("ffffffffffffffff1\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("00000000000000001\r\n", ZP_ERROR); /* 17 digits */
    ZPT_CHUNKED_RC("000000000000000000000\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("-5\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("+5\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0x5\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("g\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5g\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC(";a\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC(" 5\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5 \r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\t\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5 5\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\rX", ZP_ERROR);
    ZPT_CHUNKED_RC("5\r\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\x00\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\r\n", ZP_ERROR);
}
END_TEST


START_TEST(test_chunked_bad)
{
    /* the data must be followed by CRLF or LF, exactly */
    ZPT_CHUNKED_RC("5\r\nhelloX\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\r\nhello0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\r\nhello\rX", ZP_ERROR);
    ZPT_CHUNKED_RC("5\r\nhello\r\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5\r\nhello \r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("3\r\nhello\r\n0\r\n\r\n", ZP_ERROR);

    /* malformed extensions */
    ZPT_CHUNKED_RC("5;\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;=b\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a b\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=b c\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a \r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=b \r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=\"b\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=\"b\\\x00\"\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a\x00\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5;a\rb\r\nhello\r\n0\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("5 x\r\nhello\r\n0\r\n\r\n", ZP_ERROR);

    /* trailers with the header-line rules */
    ZPT_CHUNKED_RC("0\r\n X: y\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX: y\r\n z\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX : y\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\n: y\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX: a\x00\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX: a\rb\r\n\r\n", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\n\rX", ZP_ERROR);
    ZPT_CHUNKED_RC("0\r\nX: y\r\r\n", ZP_ERROR);
}
END_TEST


START_TEST(test_chunked_limits)
{
    char         *s;
    size_t        n;
    zpt_result_t *r;

    s = malloc(16384);
    ck_assert_ptr_nonnull(s);

    /* extensions: 4096 bytes per chunk pass, 4097 do not */
    n = (size_t)sprintf(s, "1;");
    memset(s + n, 'a', 4094);
    n += 4094;
    n += (size_t)sprintf(s + n, "\r\nx\r\n0;");
    memset(s + n, 'b', 4095);
    n += 4095;
    n += (size_t)sprintf(s + n, "\r\n\r\n");
    zpt_splits = 0;
    r          = zpt_chunked(s, n);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->body_len, 1);

    n = (size_t)sprintf(s, "1 ;");
    memset(s + n, 'a', 4095);
    n += 4095;
    n += (size_t)sprintf(s + n, "\r\nx\r\n0\r\n\r\n");
    r = zpt_chunked(s, n);
    ck_assert_int_eq(r->rc, ZP_ERROR);
    ck_assert_int_eq(r->pos, 4097); /* on the byte past the limit */

    /* trailers: 8192 bytes in all (the final CRLF included) pass */
    n = (size_t)sprintf(s, "0\r\n");
    n += (size_t)sprintf(s + n, "X: ");
    memset(s + n, 'v', 8192 - 3 - 4);
    n += 8192 - 3 - 4;
    n += (size_t)sprintf(s + n, "\r\n\r\n");
    r = zpt_chunked(s, n);
    ck_assert_int_eq(r->rc, ZP_OK);

    n = (size_t)sprintf(s, "0\r\nX: ");
    memset(s + n, 'v', 8192 - 3 - 3);
    n += 8192 - 3 - 3;
    n += (size_t)sprintf(s + n, "\r\n\r\n");
    r = zpt_chunked(s, n);
    ck_assert_int_eq(r->rc, ZP_ERROR);

    free(s);
}
END_TEST


START_TEST(test_chunked_length_hint)
{
    zp_http_chunked_t ctx;
    zp_buf_t          b;
    const char       *s = "a;x=y\r\n0123456789\r\n0\r\nT: v\r\n\r\n";
    size_t            i, len = strlen(s);
    zp_int_t          rc = ZP_AGAIN;
    off_t             n;

    /* fed byte by byte, the hint never overstates what is left */
    memset(&ctx, 0, sizeof(ctx));
    memset(&b, 0, sizeof(b));
    b.pos = b.last = (u_char *)s;

    for (i = 0; i < len; i++) {
        b.last++;

        for (;;) {
            rc = zp_http_parse_chunked(&ctx, &b);

            if (rc == ZP_OK) {
                ck_assert(ctx.length <= (off_t)(len - (b.pos - (u_char *)s)));
                n = zp_min(ctx.size, b.last - b.pos);
                b.pos += n;
                ctx.size -= n;
                continue;
            }

            break;
        }

        if (rc == ZP_AGAIN) {
            ck_assert_msg(ctx.length > 0 && ctx.length <= (off_t)(len - i - 1) + 1,
                          "at %zu: hint %lld", i, (long long)ctx.length);
        }
    }

    ck_assert_int_eq(rc, ZP_DONE);
    ck_assert(ctx.length == 0);
}
END_TEST


/* ---- a whole request --------------------------------------------------- */

START_TEST(test_request_whole)
{
    const char   *s;
    zpt_result_t *r;

    s = "\r\nPOST /upload?x HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "Transfer-Encoding: chunked\r\n"
        "\r\n"
        "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";
    r = zpt_parse((const u_char *)s, strlen(s), ZPT_LINE, ZPT_BODY);
    ck_assert_int_eq(r->rc, ZP_OK);
    ck_assert_uint_eq(r->method_id, ZP_HTTP_POST);
    ck_assert_uint_eq(r->nheaders, 2);
    zpt_header_is(s, r, 1, "Transfer-Encoding", "chunked");
    ck_assert_uint_eq(r->body_len, 23);
    ck_assert_int_eq(memcmp(r->body, "Wikipedia in\r\n\r\nchunks.", 23), 0);
    ck_assert_int_eq(r->pos, (ssize_t)strlen(s));
}
END_TEST


/* ---- status line (upstream responses) ------------------------------------ */

typedef struct {
    zp_int_t  rc;
    ssize_t   pos;
    zp_uint_t status, minor;
} zpt_status_t;


/* Feeds the status line in pieces ending at steps[] (each piece ending at
 * a PROT_NONE page), stopping at the first result other than ZP_AGAIN. */
static void
zpt_status_run(const u_char *in, size_t len, const size_t *steps, size_t nsteps, zpt_status_t *r)
{
    size_t           page, map_len, have, k, i;
    u_char          *map, *guard, *old, *nb;
    zp_buf_t         b;
    zp_http_status_t st;

    page    = (size_t)sysconf(_SC_PAGESIZE);
    map_len = (len + page - 1) / page * page + page;
    map     = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(map != MAP_FAILED);
    guard = map + map_len - page;
    ck_assert_int_eq(mprotect(guard, page, PROT_NONE), 0);

    memset(&st, 0, sizeof(st));
    memset(&b, 0, sizeof(b));
    memset(r, 0, sizeof(*r));
    b.start = b.pos = b.last = b.end = guard;
    r->rc                            = ZP_AGAIN;
    have                             = 0;

    for (i = 0; i < nsteps && r->rc == ZP_AGAIN; i++) {
        k   = steps[i];
        old = guard - have;
        nb  = guard - k;
        memmove(nb, old, have);
        memcpy(nb + have, in + have, k - have);
        b.pos   = nb + (b.pos - old);
        b.start = nb;
        b.last  = guard;
        have    = k;

        r->rc = zp_http_parse_status_line(&st, &b);
        ck_assert(b.pos >= b.start && b.pos <= b.last);
        if (r->rc == ZP_AGAIN) {
            ck_assert_ptr_eq(b.pos, b.last);
        }
    }

    r->pos    = b.pos - b.start;
    r->status = st.status;
    r->minor  = st.http_minor;

    ck_assert_int_eq(munmap(map, map_len), 0);
}


/* whole, byte by byte and split in two everywhere: all must agree */
static zpt_status_t
zpt_status(const void *s, size_t len)
{
    const u_char *in = (const u_char *)s;
    size_t        i, steps[2], *bytes;
    zpt_status_t  whole, other;

    bytes = calloc(len + 1, sizeof(size_t));
    ck_assert_ptr_nonnull(bytes);

    for (i = 0; i < len; i++) {
        bytes[i] = i + 1;
    }

    zpt_status_run(in, len, &len, 1, &whole);
    zpt_status_run(in, len, bytes, len, &other);
    ck_assert_msg(memcmp(&whole, &other, sizeof(whole)) == 0, "\"%s\": byte by byte differs",
                  zpt_esc(in, len));

    for (i = 1; i < len; i++) {
        steps[0] = i;
        steps[1] = len;
        zpt_status_run(in, len, steps, 2, &other);
        ck_assert_msg(memcmp(&whole, &other, sizeof(whole)) == 0, "\"%s\": split at %zu differs",
                      zpt_esc(in, len), i);
    }

    free(bytes);

    return whole;
}


#define ZPT_STATUS_OK(s, want_status, want_minor)                                                  \
    do {                                                                                           \
        zpt_status_t r_ = zpt_status(zpt_lit(s));                                                           \
        ck_assert_msg(r_.rc == ZP_OK, "\"%s\": rc %d", zpt_esc(zpt_lit(s)), (int)r_.rc);           \
        ck_assert_uint_eq(r_.status, want_status);                                                 \
        ck_assert_uint_eq(r_.minor, want_minor);                                                   \
        ck_assert_int_eq(r_.pos, (ssize_t)sizeof(s) - 1);                                          \
    } while (0)

#define ZPT_STATUS_RC(s, want)                                                                     \
    do {                                                                                           \
        zpt_status_t r_ = zpt_status(zpt_lit(s));                                                           \
        ck_assert_msg(r_.rc == (want), "\"%s\": rc %d, want %d", zpt_esc(zpt_lit(s)),              \
                      (int)r_.rc, (int)(want));                                                    \
    } while (0)


START_TEST(test_status_ok)
{
    zpt_status_t r;

    ZPT_STATUS_OK("HTTP/1.1 200 OK\r\n", 200, 1);
    ZPT_STATUS_OK("HTTP/1.0 404 Not Found\r\n", 404, 0);
    ZPT_STATUS_OK("HTTP/1.1 200 OK\n", 200, 1);                /* LF alone */
    ZPT_STATUS_OK("HTTP/1.1 204\r\n", 204, 1);                 /* no reason */
    ZPT_STATUS_OK("HTTP/1.1 204\n", 204, 1);
    ZPT_STATUS_OK("HTTP/1.1 200 \r\n", 200, 1);                /* an empty reason */
    ZPT_STATUS_OK("HTTP/1.1 100 Continue\r\n", 100, 1);
    ZPT_STATUS_OK("HTTP/1.1 999 Whatever\r\n", 999, 1);
    ZPT_STATUS_OK("HTTP/1.9 200 OK\r\n", 200, 9);              /* a later 1.x */
    ZPT_STATUS_OK("HTTP/1.1 500 In\tternal  Error \x80\xff\r\n", 500, 1); /* HT, obs-text */
    ZPT_STATUS_OK("HTTP/1.1 200 a:b/c\"d\r\n", 200, 1);

    /* the line ends at its LF; what follows is the caller's */
    r = zpt_status(zpt_lit("HTTP/1.1 200 OK\r\nServer: x\r\n"));
    ck_assert_int_eq(r.rc, ZP_OK);
    ck_assert_int_eq(r.pos, 17);

    /* incomplete */
    ZPT_STATUS_RC("", ZP_AGAIN);
    ZPT_STATUS_RC("HTTP/1.1 20", ZP_AGAIN);
    ZPT_STATUS_RC("HTTP/1.1 200 OK", ZP_AGAIN);
    ZPT_STATUS_RC("HTTP/1.1 200 OK\r", ZP_AGAIN);
}
END_TEST


START_TEST(test_status_bad)
{
    ZPT_STATUS_RC("http/1.1 200 OK\r\n", ZP_ERROR);   /* case-sensitive */
    ZPT_STATUS_RC("HTTP/2.0 200 OK\r\n", ZP_ERROR);   /* major 1 only */
    ZPT_STATUS_RC("HTTP/0.9 200 OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1 200 OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.10 200 OK\r\n", ZP_ERROR);  /* one minor digit */
    ZPT_STATUS_RC("HTTP/1.x 200 OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC(" HTTP/1.1 200 OK\r\n", ZP_ERROR);  /* leading space */
    ZPT_STATUS_RC("\r\nHTTP/1.1 200 OK\r\n", ZP_ERROR); /* leading empty line */
    ZPT_STATUS_RC("HTTP/1.1  200 OK\r\n", ZP_ERROR);  /* two spaces */
    ZPT_STATUS_RC("HTTP/1.1\t200 OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 2x0 OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 20 OK\r\n", ZP_ERROR);    /* two digits */
    ZPT_STATUS_RC("HTTP/1.1 2000 OK\r\n", ZP_ERROR);  /* four digits */
    ZPT_STATUS_RC("HTTP/1.1 099 OK\r\n", ZP_ERROR);   /* a leading zero */
    ZPT_STATUS_RC("HTTP/1.1 000\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 200\tOK\r\n", ZP_ERROR);  /* HT is no separator */
    ZPT_STATUS_RC("HTTP/1.1 200OK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 200 O\x00K\r\n", ZP_ERROR); 
    ZPT_STATUS_RC("HTTP/1.1 200 O\x01K\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 200 O\x7fK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 200 O\rK\r\n", ZP_ERROR);   /* bare CR */
    ZPT_STATUS_RC("HTTP/1.1 200\rK\r\n", ZP_ERROR);
    ZPT_STATUS_RC("HTTP/1.1 200 OK\r\r\n", ZP_ERROR);
    ZPT_STATUS_RC("<html>\r\n", ZP_ERROR);              /* HTTP/0.9 */
    ZPT_STATUS_RC("ICY 200 OK\r\n", ZP_ERROR);
}
END_TEST


/* every byte in the reason, the status and after the version */
START_TEST(test_status_every_byte)
{
    char         line[32];
    zpt_status_t r;
    int          c;

    for (c = 1; c < 256; c++) {
        snprintf(line, sizeof(line), "HTTP/1.1 200 a%cb\r\n", c);
        r = zpt_status(line, strlen(line));
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            ck_assert_msg(r.rc == ZP_OK, "reason byte 0x%02x: rc %d", c, (int)r.rc);
        } else if (c == '\n') {
            ck_assert_msg(r.rc == ZP_OK && r.pos == 15, "reason byte LF: rc %d", (int)r.rc);
        } else {
            ck_assert_msg(r.rc == ZP_ERROR, "reason byte 0x%02x: rc %d", c, (int)r.rc);
        }

        snprintf(line, sizeof(line), "HTTP/1.1 2%c0 X\r\n", c);
        r = zpt_status(line, strlen(line));
        ck_assert_msg((r.rc == ZP_OK) == (c >= '0' && c <= '9'), "status byte 0x%02x: rc %d", c,
                      (int)r.rc);

        snprintf(line, sizeof(line), "HTTP/1.1%c200 X\r\n", c);
        r = zpt_status(line, strlen(line));
        ck_assert_msg((r.rc == ZP_OK) == (c == ' '), "separator byte 0x%02x: rc %d", c,
                      (int)r.rc);
    }
}
END_TEST


/* ---- desync-guardian --------------------------------------------------- */

typedef struct {
    const char *tier;
    zp_uint_t   total, parser, engine, accepted;
} zpt_tier_t;

typedef struct {
    const u_char *in;
    zpt_result_t *r;
} zpt_req_t;


/* is header i named name (compared through the parser's lower-cased copy) */
static int
zpt_hdr_named(zpt_req_t *q, zp_uint_t i, const char *name)
{
    zpt_header_t *h = &q->r->headers[i];
    size_t        n = strlen(name);

    return (size_t)(h->name.end - h->name.start) == n && n <= ZP_HTTP_LC_HEADER_LEN &&
           memcmp(h->lc, name, n) == 0 && h->hash == zp_hash_key((u_char *)name, n);
}


static zp_uint_t
zpt_hdr_count(zpt_req_t *q, const char *name, zpt_header_t **last)
{
    zp_uint_t i, n;

    n = 0;
    for (i = 0; i < q->r->nheaders; i++) {
        if (zpt_hdr_named(q, i, name)) {
            n++;
            *last = &q->r->headers[i];
        }
    }

    return n;
}


/*
 * The rules the engine (zp_http_v1.c, zp_http_request.c) applies after the
 * parser, modelled here with its defaults (ignore_invalid_headers on,
 * http09 on; underscores_in_headers is left out: a name with '_' is no
 * name the rules look at). A line the parser flagged with
 * ZP_HTTP_PARSE_INVALID_NAME is dropped: it has no hash, so the rules do
 * not see it. Each returns 1 when the request is refused.
 */

/* two Content-Length with different values -> 400 (equal ones are one) */
static int
zp_http_rule_conflicting_content_length(zpt_req_t *q)
{
    zp_uint_t     i;
    off_t         n, first;
    zpt_header_t *h;

    first = -1;
    for (i = 0; i < q->r->nheaders; i++) {
        h = &q->r->headers[i];
        if (zpt_hdr_named(q, i, "content-length")) {
            n = zp_atoof((u_char *)q->in + h->value.start, h->value.end - h->value.start);
            if (first != -1 && n != first) {
                return 1;
            }
            first = n;
        }
    }

    return 0;
}


/* a Content-Length value that is not 1*DIGIT within off_t (no sign, list,
 * spaces or junk) -> 400 */
static int
zp_http_rule_invalid_content_length(zpt_req_t *q)
{
    zp_uint_t     i;
    zpt_header_t *h;

    for (i = 0; i < q->r->nheaders; i++) {
        h = &q->r->headers[i];
        if (zpt_hdr_named(q, i, "content-length") &&
            zp_atoof((u_char *)q->in + h->value.start, h->value.end - h->value.start) == ZP_ERROR) {
            return 1;
        }
    }

    return 0;
}


/* the Transfer-Encoding lines, one list, are not valid codings ending in
 * chunked (zp_http_parse_te) -> 400 */
static int
zp_http_rule_transfer_encoding_invalid(zpt_req_t *q)
{
    zp_uint_t     i, n;
    u_char        room[4096];
    zp_http_te_t  te;
    zpt_header_t *h;

    memset(&te, 0, sizeof(te));
    te.out = room;
    n      = 0;

    for (i = 0; i < q->r->nheaders; i++) {
        h = &q->r->headers[i];
        if (!zpt_hdr_named(q, i, "transfer-encoding")) {
            continue;
        }
        n++;
        ck_assert_int_le(2 * (h->value.end - h->value.start) + 2, sizeof(room) - te.out_len);
        if (zp_http_parse_te(&te, (u_char *)q->in + h->value.start, h->value.end - h->value.start)
            != ZP_OK) {
            return 1;
        }
    }

    return n && !te.chunked;
}


/* both Transfer-Encoding and Content-Length (RFC 9112 §6.1 lets a server
 * reject it; a gateway must, or close after) -> 400 */
static int
zp_http_rule_transfer_encoding_with_content_length(zpt_req_t *q)
{
    zpt_header_t *h;

    return zpt_hdr_count(q, "transfer-encoding", &h) && zpt_hdr_count(q, "content-length", &h);
}


/* Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1) -> 400 */
static int
zp_http_rule_transfer_encoding_http10(zpt_req_t *q)
{
    zpt_header_t *h;

    return q->r->major == 1 && q->r->minor == 0 && zpt_hdr_count(q, "transfer-encoding", &h) > 0;
}


/* a name outside tchar or a CTL in the value, on a field that could be one
 * the core acts on ("Transfer-Encoding ", "Content-Length: 1\x01") -> 400 */
static int
zp_http_rule_malformed_framing_field(zpt_req_t *q)
{
    zp_uint_t     i;
    zpt_header_t *h;

    for (i = 0; i < q->r->nheaders; i++) {
        h = &q->r->headers[i];
        if (h->rc != ZP_OK
            && zp_http_field_acted_on((u_char *)q->in + h->name.start,
                                      h->name.end - h->name.start)) {
            return 1;
        }
    }

    return 0;
}


/* an HTTP/0.9 request line other than GET -> 400 */
static int
zp_http_rule_http09_not_get(zpt_req_t *q)
{
    return q->r->rc == ZP_HTTP_PARSE_HTTP09 && q->r->method_id != ZP_HTTP_GET;
}


static const struct {
    const char *name;
    int (*rule)(zpt_req_t *q);
} zpt_rules[] = {
    {"conflicting_content_length", zp_http_rule_conflicting_content_length},
    {"invalid_content_length", zp_http_rule_invalid_content_length},
    {"transfer_encoding_invalid", zp_http_rule_transfer_encoding_invalid},
    {"transfer_encoding_with_content_length", zp_http_rule_transfer_encoding_with_content_length},
    {"transfer_encoding_http10", zp_http_rule_transfer_encoding_http10},
    {"malformed_framing_field", zp_http_rule_malformed_framing_field},
    {"http09_not_get", zp_http_rule_http09_not_get},
};


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
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            memcmp(k->data.scalar.value, key, strlen(key)) == 0) {
            return yaml_document_get_node(doc, pair->value);
        }
    }

    return NULL;
}


static u_char *
zpt_append(u_char *p, u_char *end, const void *s, size_t n)
{
    ck_assert_uint_le(n, (size_t)(end - p));
    memcpy(p, s, n);

    return p + n;
}


static u_char *
zpt_append_scalar(u_char *p, u_char *end, yaml_node_t *n)
{
    if (n == NULL) {
        return p;
    }

    ck_assert_int_eq(n->type, YAML_SCALAR_NODE);

    return zpt_append(p, end, n->data.scalar.value, n->data.scalar.length);
}


static int
zpt_scalar_is(yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, strlen(s)) == 0;
}


/* Does the last "Transfer-Encoding" (any case) end in the coding
 * "chunked" (any case, OWS and parameters around)? The body is then sent
 * chunked. */
static int
zpt_case_te_chunked(yaml_document_t *doc, yaml_node_t *headers)
{
    yaml_node_item_t *it;
    yaml_node_t      *h, *name, *value;
    u_char           *v, *e, *c;
    int               chunked;

    chunked = 0;

    for (it = headers->data.sequence.items.start; it < headers->data.sequence.items.top; it++) {
        h     = yaml_document_get_node(doc, *it);
        name  = zpt_yaml_get(doc, h, "name");
        value = zpt_yaml_get(doc, h, "value");

        if (name == NULL || value == NULL || name->data.scalar.length != 17 ||
            zp_strncasecmp(name->data.scalar.value, (u_char *)"transfer-encoding", 17) != 0) {
            continue;
        }

        v = value->data.scalar.value;
        e = v + value->data.scalar.length;
        for (c = e; c > v && c[-1] != ','; c--) {
            /* the last element */
        }
        v = c;
        for (c = v; c < e && *c != ';'; c++) {
            /* without parameters */
        }
        e = c;
        while (v < e && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        chunked = e - v == 7 && zp_strncasecmp(v, (u_char *)"chunked", 7) == 0;
    }

    return chunked;
}


/* names the parser rule that rejected a header line, from the byte at pos */
static const char *
zpt_header_reject_rule(const u_char *in, ssize_t pos)
{
    ssize_t ls, i;
    u_char  ch = in[pos];
    int     colon;

    for (ls = pos; ls > 0 && in[ls - 1] != '\n'; ls--) {
        /* the line start */
    }

    colon = 0;
    for (i = ls; i < pos; i++) {
        if (in[i] == ':') {
            colon = 1;
            break;
        }
    }

    if (pos == ls && (ch == ' ' || ch == '\t')) {
        return "obs-fold or leading whitespace";
    }

    if (pos == ls && ch == ':') {
        return "empty name";
    }

    if (ch == '\r' || (pos > ls && in[pos - 1] == '\r')) {
        return "bare CR";
    }

    if (!colon) {
        return ch == '\n' ? "no colon" : ch == '\0' ? "NUL in name" : "?";
    }

    return ch == '\0' ? "NUL in value" : "?";
}


static const char *
zpt_desync_dir(void)
{
    static char        dir[PATH_MAX];
    const char        *src, *env;
    struct stat        st;
    zp_uint_t          i;
    static const char *rel[] = {
        "tests/testdata/http1/desync-guardian",
        "../shared/testdata/http1/desync-guardian",
    };

    env = getenv("ZP_DESYNC_DIR");
    if (env) {
        ck_assert_msg(stat(env, &st) == 0 && S_ISDIR(st.st_mode),
                      "ZP_DESYNC_DIR=%s is not a directory", env);
        return env;
    }

    src = getenv("ZP_SRC");
    if (src == NULL) {
        src = ".";
    }

    for (i = 0; i < zp_nelems(rel); i++) {
        snprintf(dir, sizeof(dir), "%s/%s", src, rel[i]);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            return dir;
        }
    }

    ck_abort_msg("the desync-guardian cases are missing: looked for %s/%s and %s/%s; "
                 "set ZP_DESYNC_DIR to the directory holding severe.yaml etc.",
                 src, rel[0], src, rel[1]);

    return NULL;
}


START_TEST(test_desync_guardian)
{
    static zpt_tier_t tiers[] = {
        {"Compliant", 0, 0, 0, 0},
        {"Acceptable", 0, 0, 0, 0},
        {"Ambiguous", 0, 0, 0, 0},
        {"Severe", 0, 0, 0, 0},
    };
    static const char *stages[] = {"request line", "header", "chunked body"};
    char               pattern[PATH_MAX + 16], why[256], *wp;
    const char        *dir, *verbose;
    glob_t             g;
    FILE              *f;
    yaml_parser_t      parser;
    yaml_document_t    doc;
    yaml_node_t       *root, *c, *name, *expected, *tier, *reason, *headers, *h;
    yaml_node_item_t  *it, *hi;
    u_char            *raw, *p, *end;
    size_t             fi, len, total, severe_missed;
    zp_uint_t          ti, ri;
    int                chunked, last;
    zpt_req_t          q;
    zpt_tier_t        *t;
    zpt_result_t      *r;

    dir     = zpt_desync_dir();
    verbose = getenv("ZPT_VERBOSE");

    snprintf(pattern, sizeof(pattern), "%s/*.yaml", dir);
    ck_assert_msg(glob(pattern, 0, NULL, &g) == 0, "no yaml files in %s", dir);

    raw = malloc(65536);
    ck_assert_ptr_nonnull(raw);
    end = raw + 65536;

    total         = 0;
    severe_missed = 0;
    zpt_splits    = 0; /* whole and byte by byte are enough here */

    for (fi = 0; fi < g.gl_pathc; fi++) {
        f = fopen(g.gl_pathv[fi], "rb");
        ck_assert_msg(f != NULL, "%s: %s", g.gl_pathv[fi], strerror(errno));

        ck_assert(yaml_parser_initialize(&parser));
        yaml_parser_set_input_file(&parser, f);
        ck_assert_msg(yaml_parser_load(&parser, &doc), "%s: yaml error: %s at line %zu",
                      g.gl_pathv[fi], parser.problem ? parser.problem : "?",
                      parser.problem_mark.line + 1);

        root = yaml_document_get_root_node(&doc);
        ck_assert_msg(root && root->type == YAML_SEQUENCE_NODE, "%s: not a list", g.gl_pathv[fi]);

        for (it = root->data.sequence.items.start; it < root->data.sequence.items.top; it++) {
            c        = yaml_document_get_node(&doc, *it);
            name     = zpt_yaml_get(&doc, c, "name");
            expected = zpt_yaml_get(&doc, c, "expected");
            tier     = zpt_yaml_get(&doc, expected, "tier");
            reason   = zpt_yaml_get(&doc, expected, "reason");
            headers  = zpt_yaml_get(&doc, c, "headers");
            ck_assert_msg(name && tier && reason, "%s: a case without name/tier/reason",
                          g.gl_pathv[fi]);

            /* METHOD SP uri [SP version] CRLF, "name:value" CRLF ..., CRLF */
            p = raw;
            p = zpt_append_scalar(p, end, zpt_yaml_get(&doc, c, "method"));
            p = zpt_append(p, end, " ", 1);
            p = zpt_append_scalar(p, end, zpt_yaml_get(&doc, c, "uri"));
            if (!zpt_scalar_is(zpt_yaml_get(&doc, c, "version"), "")) {
                p = zpt_append(p, end, " ", 1);
                p = zpt_append_scalar(p, end, zpt_yaml_get(&doc, c, "version"));
            }
            p = zpt_append(p, end, "\r\n", 2);

            chunked = 0;
            if (headers && headers->type == YAML_SEQUENCE_NODE) {
                for (hi = headers->data.sequence.items.start; hi < headers->data.sequence.items.top;
                     hi++) {
                    h = yaml_document_get_node(&doc, *hi);
                    p = zpt_append_scalar(p, end, zpt_yaml_get(&doc, h, "name"));
                    p = zpt_append(p, end, ":", 1);
                    p = zpt_append_scalar(p, end, zpt_yaml_get(&doc, h, "value"));
                    p = zpt_append(p, end, "\r\n", 2);
                }
                chunked = zpt_case_te_chunked(&doc, headers);
            }
            p = zpt_append(p, end, "\r\n", 2);

            last = ZPT_HEADERS;
            if (chunked) {
                p    = zpt_append(p, end, "5\r\nhello\r\n0\r\n\r\n", 15);
                last = ZPT_BODY;
            }
            len = p - raw;

            r = zpt_parse(raw, len, ZPT_LINE, last);

            t = NULL;
            for (ti = 0; ti < zp_nelems(tiers); ti++) {
                if (zpt_scalar_is(tier, tiers[ti].tier)) {
                    t = &tiers[ti];
                }
            }
            ck_assert_msg(t != NULL, "unknown tier \"%s\"", tier->data.scalar.value);
            t->total++;
            total++;

            wp = why;
            if (r->rc != ZP_OK && r->rc != ZP_HTTP_PARSE_HTTP09) {
                ck_assert_msg(r->rc != ZP_AGAIN, "\"%s\": incomplete", name->data.scalar.value);
                snprintf(why, sizeof(why), "parser: %s rc %d%s%s", stages[r->stage], (int)r->rc,
                         r->stage == ZPT_HEADERS ? ", " : "",
                         r->stage == ZPT_HEADERS ? zpt_header_reject_rule(raw, r->pos) : "");
                t->parser++;

            } else {
                q.in = raw;
                q.r  = r;
                *wp  = '\0';

                for (ri = 0; ri < zp_nelems(zpt_rules); ri++) {
                    if (zpt_rules[ri].rule(&q)) {
                        wp += snprintf(wp, why + sizeof(why) - wp, "%s%s",
                                       wp == why ? "engine: " : ", ", zpt_rules[ri].name);
                    }
                }

                if (wp != why) {
                    t->engine++;

                } else {
                    snprintf(why, sizeof(why), "accepted%s",
                             r->rc == ZP_HTTP_PARSE_HTTP09 ? " as HTTP/0.9" : "");
                    t->accepted++;

                    if (chunked && r->rc == ZP_OK) {
                        ck_assert_uint_eq(r->body_len, 5);
                        ck_assert_int_eq(memcmp(r->body, "hello", 5), 0);
                    }
                }
            }

            if (zpt_scalar_is(tier, "Severe") && strncmp(why, "accepted", 8) == 0) {
                severe_missed++;
                printf("SEVERE ACCEPTED: %s: \"%s\"\n", g.gl_pathv[fi] + strlen(dir) + 1,
                       name->data.scalar.value);
            }

            if (verbose) {
                printf("%s|%s|%s|%s|%s\n", tier->data.scalar.value,
                       g.gl_pathv[fi] + strlen(dir) + 1, reason->data.scalar.value,
                       zpt_esc(name->data.scalar.value, name->data.scalar.length), why);
            }
        }

        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        fclose(f);
    }

    globfree(&g);
    free(raw);

    printf("desync-guardian: %zu cases\n", total);
    for (ti = 0; ti < zp_nelems(tiers); ti++) {
        printf(
            "  %-10s %3lu: %3lu rejected by the parser, %3lu by the engine rules, %3lu accepted\n",
            tiers[ti].tier, (u_long)tiers[ti].total, (u_long)tiers[ti].parser,
            (u_long)tiers[ti].engine, (u_long)tiers[ti].accepted);
    }
    fflush(stdout);

    ck_assert_uint_eq(total, 159);
    ck_assert_msg(severe_missed == 0, "%zu Severe cases accepted", severe_missed);

    /* every Compliant and Acceptable case goes through */
    ck_assert_uint_eq(tiers[0].accepted, tiers[0].total);
    ck_assert_uint_eq(tiers[1].accepted, tiers[1].total);
}
END_TEST


static Suite *
zpt_http_parse_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_http_parse");

    tc = tcase_create("request_line");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rl_origin_form);
    tcase_add_test(tc, test_rl_methods);
    tcase_add_test(tc, test_rl_absolute_form);
    tcase_add_test(tc, test_rl_asterisk_authority);
    tcase_add_test(tc, test_rl_versions);
    tcase_add_test(tc, test_rl_http09);
    tcase_add_test(tc, test_rl_spaces);
    tcase_add_test(tc, test_rl_spacing_ctl);
    tcase_add_test(tc, test_rl_line_endings);
    tcase_add_test(tc, test_rl_long_uri);
    tcase_add_test(tc, test_rl_complex_uri);
    tcase_add_test(tc, test_rl_relocate);
    suite_add_tcase(s, tc);

    tc = tcase_create("header_line");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hdr_basic);
    tcase_add_test(tc, test_hdr_single);
    tcase_add_test(tc, test_hdr_flagged);
    tcase_add_test(tc, test_hdr_invalid);
    tcase_add_test(tc, test_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_test(tc, test_field_acted_on);
    tcase_add_test(tc, test_te);
    suite_add_tcase(s, tc);

    tc = tcase_create("normalize_uri");
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_normalize_guard);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_chunked_ok);
    tcase_add_test(tc, test_chunked_size);
    tcase_add_test(tc, test_chunked_bad);
    tcase_add_test(tc, test_chunked_limits);
    tcase_add_test(tc, test_chunked_length_hint);
    suite_add_tcase(s, tc);

    tc = tcase_create("status_line");
    tcase_add_test(tc, test_status_ok);
    tcase_add_test(tc, test_status_bad);
    tcase_add_test(tc, test_status_every_byte);
    suite_add_tcase(s, tc);

    tc = tcase_create("request");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_request_whole);
    tcase_add_test(tc, test_desync_guardian);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_http_parse_suite)
