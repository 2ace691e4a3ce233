/*
 * zp_http_parse.h: the incremental HTTP/1.x parsers: request line, header
 * lines, chunked bodies, and the URI normalizer used for routing.
 *
 * The parsers are zero-copy and resumable. Each call scans [b->pos,
 * b->last); when the input runs out it saves its state in the context,
 * leaves b->pos == b->last and returns ZP_AGAIN. The caller appends more
 * bytes after b->last and calls again.
 *
 * The buffer rule. The context keeps pointers into the buffer (the
 * request-line and header fields below), so between calls:
 *
 *   - b->pos must be where the parser left it, and the bytes of the
 *     unfinished line must stay where they are, or
 *   - if the caller moves them (to compact or grow the buffer), it moves
 *     the whole unfinished line, from its start to b->last, in one piece,
 *     shifts b->pos and b->last by the same amount and calls
 *     zp_http_parse_relocate() so that the saved pointers follow.
 *
 * The unfinished line starts at p->request_start (request line, once its
 * method began), at p->header_name_start (header line, once its first byte
 * was seen), or at b->pos (nothing of the line consumed yet: for the
 * request line this also covers skipped empty lines). The chunked parser
 * keeps no pointers and only needs b->pos where it left it.
 *
 * After ZP_OK the fields describe the line just parsed and stay valid as
 * long as the caller keeps those bytes. On an error code, b->pos points at
 * the offending byte (or the end of the line) and the context must not be
 * reused without zeroing it.
 *
 * No line-length limits are applied here: the caller bounds the line by
 * its buffer size (ZP_AGAIN with a full buffer means 414 or 431).
 */
#ifndef ZP_HTTP_PARSE_H
#define ZP_HTTP_PARSE_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_HTTP_LC_HEADER_LEN 32

typedef struct {
    zp_uint_t state; /* zero before the first call of each line */

    /* request line (pointers into the buffer) */
    u_char *request_start, *request_end; /* the line without CRLF */
    u_char *method_end;                  /* method is [request_start, method_end) */
    u_char *uri_start, *uri_end;         /* request-target as sent */
    u_char *args_start;                  /* after '?', or NULL */
    u_char *schema_start, *schema_end;   /* absolute-form "http"/"https" */
    u_char *host_start, *host_end;       /* absolute/authority-form host, "[v6]" kept */
    u_char *port_start, *port_end;       /* digits only, NULL when absent */
    /*
     * Where the path starts: uri_start in origin-form, the byte after the
     * authority in absolute-form (the path is then [path_start, args_start
     * - 1 or uri_end), and may be empty: read it as "/"), NULL in asterisk-
     * and authority-form.
     */
    u_char   *path_start;
    zp_uint_t method; /* ZP_HTTP_GET ... or ZP_HTTP_UNKNOWN */
    zp_uint_t http_major, http_minor;

    unsigned complex_uri : 1;   /* path has %, "//", "/./", "/../", or ends "/." "/.." */
    unsigned absolute_uri : 1;  /* "http://host[:port]/path" */
    unsigned asterisk_uri : 1;  /* "OPTIONS *" */
    unsigned authority_uri : 1; /* "CONNECT host:port" */
    unsigned space_in_uri : 1;  /* a raw SP in an origin-form target */
    unsigned empty_uri : 1;     /* "GET HTTP/1.1": uri_start == uri_end */
    unsigned no_version : 1;    /* "GET /x" CRLF (ZP_HTTP_PARSE_HTTP09) */

    /* the header line just parsed (ZP_HTTP_PARSE_INVALID_NAME, _CTL_VALUE) */
    unsigned invalid_name : 1;
    unsigned ctl_value : 1;

    /* header line */
    u_char   *header_name_start, *header_name_end;
    u_char   *header_start, *header_end;             /* value, OWS trimmed on both sides */
    zp_uint_t header_hash;                           /* zp_hash over the whole lower-cased name */
    u_char    lowcase_header[ZP_HTTP_LC_HEADER_LEN]; /* the name's first 32 bytes, lower-cased */
    zp_uint_t lowcase_index; /* bytes in lowcase_header: min(name length, 32) */
} zp_http_parse_t;

#define ZP_HTTP_UNKNOWN 0x0001
#define ZP_HTTP_GET     0x0002
#define ZP_HTTP_HEAD    0x0004
#define ZP_HTTP_POST    0x0008
#define ZP_HTTP_PUT     0x0010
#define ZP_HTTP_DELETE  0x0020
#define ZP_HTTP_OPTIONS 0x0040
#define ZP_HTTP_PATCH   0x0080
#define ZP_HTTP_TRACE   0x0100
#define ZP_HTTP_CONNECT 0x0200

#define ZP_HTTP_PARSE_HEADER_DONE     1
#define ZP_HTTP_PARSE_INVALID_REQUEST 10 /* -> 400 */
#define ZP_HTTP_PARSE_INVALID_VERSION 11 /* HTTP/2.0, HTTP/3 on a 1.x line -> 505 */
#define ZP_HTTP_PARSE_INVALID_HEADER  12 /* -> 400 */
/* complete lines the caller may take or refuse (the fields are set): */
#define ZP_HTTP_PARSE_HTTP09          13 /* "GET /x" CRLF, "GET /x HTTP/0.9" */
#define ZP_HTTP_PARSE_INVALID_NAME    14 /* a field name byte outside tchar */
#define ZP_HTTP_PARSE_CTL_VALUE       15 /* a CTL other than NUL, CR, LF, HT in the value */

/*
 * Parses the request line (RFC 9112 §3) from b->pos. Empty lines before it
 * (CRLF or LF) are skipped. Returns:
 *
 *   ZP_OK        the line is complete, b->pos is after its LF and the
 *                request-line fields of p are set;
 *   ZP_HTTP_PARSE_HTTP09  the same, for an HTTP/0.9 line: "GET /x" CRLF
 *                (no_version set) or a version of "HTTP/0.9"; http_major
 *                is 0 and http_minor 9. Any method: the caller decides;
 *   ZP_AGAIN     more bytes are needed, b->pos == b->last;
 *   ZP_HTTP_PARSE_INVALID_REQUEST, ZP_HTTP_PARSE_INVALID_VERSION.
 *
 * Rules: the method is a token (case-sensitive, unknown ones are
 * ZP_HTTP_UNKNOWN); runs of SP separate the three parts and may follow the
 * version (RFC 9112 §3 lets a server split on whitespace; HT and other
 * whitespace are invalid). The target is origin-form, absolute-form
 * ("http"/"https", any case, a non-empty host of ALPHA DIGIT "-._~" or an
 * "[...]" literal, an optional 1-5 digit port <= 65535, no userinfo),
 * asterisk-form (OPTIONS only), authority-form (CONNECT only, and CONNECT
 * only takes that, port required), or empty ("GET HTTP/1.1": empty_uri,
 * uri_start == uri_end, no path_start; the caller reads it as "/"). The
 * path and query take 0x21-0x7E and bytes >= 0x80; a '#' in the path is
 * rejected (a fragment never belongs in a request-target and proxies
 * disagree on it), a '#' in the query is passed on. An origin-form target
 * may hold raw SP, as nginx takes them (space_in_uri): a SP followed by a
 * word that does not start "HTTP/" belongs to the target; once a word
 * after a SP starts "HTTP/", it is the version and the line must end after
 * it (and optional SP), so a target never holds " HTTP/". The version is
 * "HTTP/" DIGIT "." DIGIT: major 1 with any minor is accepted (1.2+ is for
 * the caller to treat as 1.1, RFC 9110 §6.2), 0.9 is
 * ZP_HTTP_PARSE_HTTP09, another major is ZP_HTTP_PARSE_INVALID_VERSION
 * once the line is complete, anything else is
 * ZP_HTTP_PARSE_INVALID_REQUEST. The line ends in CRLF or a bare LF, but a
 * line without version only in CRLF ("/a" LF "HTTP/1.1" is what a LF in a
 * target looks like); a CR not followed by LF is invalid.
 */
zp_int_t zp_http_parse_request_line(zp_http_parse_t *p, zp_buf_t *b);

/*
 * Parses one header line from b->pos. Returns ZP_OK (the header fields of
 * p are set, b->pos is after the LF), ZP_HTTP_PARSE_HEADER_DONE (the empty
 * line ending the section, b->pos after it), ZP_AGAIN, or:
 *
 *   ZP_HTTP_PARSE_INVALID_NAME   a complete line whose name holds a byte
 *                                outside tchar (SP or HT before the colon,
 *                                a CTL, DEL, a separator, >= 0x80); the
 *                                fields are set (invalid_name), but not
 *                                header_hash and lowcase_header;
 *   ZP_HTTP_PARSE_CTL_VALUE      a complete line with a valid name and a
 *                                CTL other than NUL, CR, LF, HT (DEL
 *                                included) in the value; the fields are set
 *                                (ctl_value), the CTL is part of the value;
 *   ZP_HTTP_PARSE_INVALID_HEADER an empty name, a line starting with SP or
 *                                HT (obs-fold), NUL anywhere, a CR or LF
 *                                in the name, a bare CR, a line without a
 *                                colon.
 *
 * The caller refuses the first two or takes them (RFC 9110 §5.5 lets
 * a recipient keep a CTL in a value; a field it does not act on may be
 * dropped). The value may hold obs-text (>= 0x80).
 */
zp_int_t zp_http_parse_header_line(zp_http_parse_t *p, zp_buf_t *b);

/*
 * After the caller moved the bytes [old_start, old_end] to new_start (see
 * the buffer rule above), shifts every pointer of p that pointed into that
 * range. Pointers elsewhere (an earlier line left in the old buffer) are
 * kept.
 */
void zp_http_parse_relocate(zp_http_parse_t *p, u_char *old_start, u_char *old_end,
                            u_char *new_start);

/*
 * Normalizes the path of a request-target for routing into dst (room for
 * len bytes) and sets *dst_len. uri must start with '/'; the path stops at
 * the first raw '?'. In one pass:
 *
 *   - %XX is decoded (one level: "%252e" gives "%2e"); a bad escape or
 *     %00 is ZP_ERROR; other decoded bytes (CR, LF, >= 0x80) are kept;
 *   - decoded bytes count exactly like literal ones, as nginx does: a
 *     decoded '/' is a separator and decoded dots form dot segments, so
 *     "/a/%2e%2e/b" is "/b" and "/a%2fb" is "/a/b" (the router then sees
 *     what a decoding backend would resolve to);
 *   - with merge_slashes, runs of '/' become one;
 *   - "." segments are removed and ".." removes the segment before it
 *     (RFC 3986 §5.2.4); ".." above the root is ZP_ERROR. A trailing
 *     "/." or "/.." leaves a trailing '/'.
 *
 * Returns ZP_OK or ZP_ERROR (dst then holds garbage).
 */
zp_int_t zp_http_normalize_uri(u_char *uri, size_t len, u_char *dst, size_t *dst_len,
                               zp_uint_t merge_slashes);

#define ZP_HTTP_CHUNK_EXT_MAX      4096 /* bytes of chunk-ext per chunk */
#define ZP_HTTP_CHUNK_TRAILERS_MAX 8192 /* bytes of the whole trailer section */

typedef struct {
    zp_uint_t state;       /* zero before the first call */
    off_t     size;        /* bytes of chunk data left in the current chunk */
    off_t     length;      /* hint: bytes still expected at least (for read sizing) */
    zp_uint_t digits;      /* hex digits of the chunk-size so far */
    zp_uint_t ext_len;     /* bytes of chunk extensions so far in this chunk */
    zp_uint_t trailer_len; /* bytes of the trailer section so far */
} zp_http_chunked_t;

/*
 * Parses a chunked body (RFC 9112 §7.1) from b->pos. Returns:
 *
 *   ZP_OK     ctx->size > 0 bytes of chunk data start at b->pos, and at
 *             least one of them is in the buffer: the caller takes up to
 *             min(ctx->size, b->last - b->pos), advances b->pos and lowers
 *             ctx->size by as much, then calls again;
 *   ZP_DONE   the last chunk and the trailer section are consumed, b->pos
 *             is after the final line; further calls return ZP_DONE;
 *   ZP_AGAIN  more bytes are needed (b->pos == b->last);
 *   ZP_ERROR  malformed: a chunk-size that is empty, longer than 16 hex
 *             digits, above the off_t range or followed by anything but
 *             BWS ";" ext, CRLF or LF; a malformed or over 4096-byte
 *             chunk-ext; no CRLF/LF right after the data; a trailer line
 *             that zp_http_parse_header_line() would reject; trailers over
 *             8192 bytes.
 *
 * Trailer fields are validated and then dropped. Zero the context before
 * each body.
 */
zp_int_t zp_http_parse_chunked(zp_http_chunked_t *ctx, zp_buf_t *b);

typedef struct {
    zp_uint_t state;      /* zero before the first call */
    zp_uint_t http_minor;
    zp_uint_t status;
} zp_http_status_t;

/*
 * Parses an upstream's status line "HTTP/1.x SP 3DIGIT [SP reason]" ending
 * in CRLF or LF from b->pos. Returns ZP_OK (st->status and st->http_minor
 * set, b->pos after the LF), ZP_AGAIN (all of b consumed) or ZP_ERROR: a
 * major version other than 1, a status not of three digits or starting
 * with 0, no SP after the version, a CTL other than HT in the reason, a
 * bare CR.
 */
zp_int_t zp_http_parse_status_line(zp_http_status_t *st, zp_buf_t *b);

/*
 * Is name, with every byte other than ALPHA and DIGIT left out and case
 * folded, one of the fields the request core acts on for framing or
 * routing (Content-Length, Transfer-Encoding, Host, Connection, Upgrade,
 * Expect, TE, Trailer)? "Transfer-Encoding ", "\x01Content-Length" and
 * "Transfer\xe2\x80\x95Encoding" are; the caller refuses such a field when its
 * name or value is malformed rather than dropping or keeping it.
 */
zp_uint_t zp_http_field_acted_on(u_char *name, size_t len);

/*
 * Transfer-Encoding (RFC 9112 §6.1): the field lines of a message form one
 * list (RFC 9110 §5.3). Zero te, point te->out at room for twice the total
 * length of the values plus two bytes per field line, and call
 * zp_http_parse_te() for each value in order. Each list element is a
 * token with optional parameters (";" name ["=" token / quoted-string]; an
 * empty one is let through); empty elements are skipped. Returns ZP_ERROR
 * for a byte outside that syntax, a field of no coding at all, or a
 * coding after "chunked" (chunked twice, or not last). After the last
 * field, te->chunked says whether the list ends in chunked, and te->out
 * holds the other codings, identity left out, as "gzip, x;p=v" (no
 * whitespace, parameters as sent) to pass on before chunked.
 */
typedef struct {
    u_char   *out;
    size_t    out_len;
    zp_uint_t codings;     /* codings seen, identity and chunked included */
    unsigned  chunked : 1; /* the last coding so far is chunked */
} zp_http_te_t;

zp_int_t zp_http_parse_te(zp_http_te_t *te, u_char *value, size_t len);

/* "GET" ... for one ZP_HTTP_ method bit, "UNKNOWN" otherwise. */
const char *zp_http_method_name(zp_uint_t method);

#endif /* ZP_HTTP_PARSE_H */
