/*
 * zp_parse_dump.c: the differential driver. Reads requests from stdin and
 * prints, per request, one JSON line with what zproxy makes of it, for
 * tests/differential/http1_diff.py to compare with an independent parser.
 *
 * Input: records of a 4-byte little-endian length and that many bytes.
 * Output, one line per record:
 *
 *   {"r":"ok","method":H,"target":H,"major":N,"minor":N,
 *    "headers":[[H,H],...],"body":H,"end":N}
 *   {"r":"reject","at":"line|header|framing|path|chunked","pos":N}
 *   {"r":"incomplete"}
 *
 * H is the bytes in hex; end is the offset just after the message. Each
 * record is parsed from an exact-size heap copy (so ASan sees an
 * over-read) by the code http_v1 runs, with its default settings
 * (ignore_invalid_headers on, http09 on): zp_http_parse_request_line() (an
 * HTTP/0.9 line is taken for GET, refused for any other method, and ends
 * the message: no header lines are read), zp_http_parse_header_line() up
 * to the empty line (a line with a bad name byte is dropped, one with a
 * CTL in the value kept, either refused when zp_http_field_acted_on()
 * says the core could act on the field), the path through
 * zp_http_normalize_uri() with merge_slashes on (a 400 there), then the
 * body by Content-Length or zp_http_parse_chunked(). The target is printed
 * as received (http_v1 passes a SP in it on as %20, an empty one as "/").
 *
 * The framing step ("framing") restates the header rules of
 * zp_http_request.c (zp_http_add_header_in() and
 * zp_http_process_request_headers()) that decide where a message ends:
 * Host at most once and required in HTTP/1.1, Content-Length a valid
 * number and repeated only with the same value, Transfer-Encoding lines
 * one list of codings (zp_http_parse_te()) ending in chunked, not with
 * Content-Length, not in HTTP/1.0. tests/integration/test_desync.c checks
 * the real engine end to end.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http_parse.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZPD_MAX_HEADERS 256
#define ZPD_MAX_INPUT   (1024 * 1024)

typedef struct {
    u_char *name, *value;
    size_t  name_len, value_len;
} zpd_header_t;


static void
zpd_hex(const u_char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    size_t            i;

    putchar('"');
    for (i = 0; i < n; i++) {
        putchar(digits[p[i] >> 4]);
        putchar(digits[p[i] & 0xf]);
    }
    putchar('"');
}


static void
zpd_reject(const char *at, u_char *pos, u_char *start)
{
    printf("{\"r\":\"reject\",\"at\":\"%s\",\"pos\":%ld}\n", at, (long) (pos - start));
}


static int
zpd_name_is(zpd_header_t *h, const char *name)
{
    return h->name_len == strlen(name)
           && zp_strncasecmp(h->name, (u_char *) name, h->name_len) == 0;
}


static void
zpd_one(u_char *in, size_t len)
{
    zp_http_parse_t   rp;
    zp_http_chunked_t cc;
    zp_buf_t          b;
    zp_int_t          rc;
    zpd_header_t      hs[ZPD_MAX_HEADERS];
    zp_uint_t         nh, i, hosts, cls, tes;
    off_t             cl, n, k;
    u_char           *path, *path_end, *norm, *body, *room;
    size_t            body_len, norm_len, room_len;
    zp_http_te_t      te;

    memset(&rp, 0, sizeof(rp));
    memset(&b, 0, sizeof(b));
    tes = 0;
    cl  = -1;
    b.start = b.pos = in;
    b.last = b.end = in + len;

    rc = zp_http_parse_request_line(&rp, &b);

    if (rc == ZP_AGAIN) {
        printf("{\"r\":\"incomplete\"}\n");
        return;
    }

    if (rc == ZP_HTTP_PARSE_HTTP09 && rp.method == ZP_HTTP_GET) {
        /* the request is its line: no header lines, no body */
        nh = 0;
        goto path;
    }

    if (rc != ZP_OK) {
        zpd_reject("line", b.pos, in);
        return;
    }

    nh = 0;

    for (;;) {
        rc = zp_http_parse_header_line(&rp, &b);

        if (rc == ZP_HTTP_PARSE_INVALID_NAME || rc == ZP_HTTP_PARSE_CTL_VALUE) {
            if (zp_http_field_acted_on(rp.header_name_start,
                                       rp.header_name_end - rp.header_name_start)) {
                zpd_reject("header", b.pos, in);
                return;
            }

            if (rc == ZP_HTTP_PARSE_INVALID_NAME) {
                continue; /* dropped */
            }

            rc = ZP_OK; /* kept */
        }

        if (rc == ZP_OK) {
            if (nh == ZPD_MAX_HEADERS) {
                zpd_reject("header", b.pos, in); /* the head would not fit */
                return;
            }
            hs[nh].name      = rp.header_name_start;
            hs[nh].name_len  = rp.header_name_end - rp.header_name_start;
            hs[nh].value     = rp.header_start;
            hs[nh].value_len = rp.header_end - rp.header_start;
            nh++;
            continue;
        }

        if (rc == ZP_HTTP_PARSE_HEADER_DONE) {
            break;
        }

        if (rc == ZP_AGAIN) {
            printf("{\"r\":\"incomplete\"}\n");
            return;
        }

        zpd_reject("header", b.pos, in);
        return;
    }

    /* the framing rules of zp_http_request.c */

    hosts    = 0;
    cls      = 0;
    tes      = 0;
    cl       = -1;
    room_len = 0;

    for (i = 0; i < nh; i++) {
        room_len += 2 * hs[i].value_len + 2;
    }

    room = malloc(room_len + 1);
    if (room == NULL) {
        abort();
    }
    memset(&te, 0, sizeof(te));
    te.out = room;

    for (i = 0; i < nh; i++) {
        if (zpd_name_is(&hs[i], "host")) {
            hosts++;

        } else if (zpd_name_is(&hs[i], "content-length")) {
            n = zp_atoof(hs[i].value, hs[i].value_len);
            if (n == ZP_ERROR || (cls && n != cl)) {
                zpd_reject("framing", b.pos, in);
                free(room);
                return;
            }
            cl = n;
            cls++;

        } else if (zpd_name_is(&hs[i], "transfer-encoding")) {
            if (zp_http_parse_te(&te, hs[i].value, hs[i].value_len) != ZP_OK) {
                zpd_reject("framing", b.pos, in);
                free(room);
                return;
            }
            tes++;
        }
    }

    free(room);

    if (hosts > 1 || (hosts == 0 && rp.http_minor >= 1)) {
        zpd_reject("framing", b.pos, in);
        return;
    }

    if (tes && (rp.http_minor == 0 || cls || !te.chunked)) {
        zpd_reject("framing", b.pos, in);
        return;
    }

    /* the routing path, as zp_http_v1_process_request_line() takes it */

path:

    if (rp.path_start) {
        path     = rp.path_start;
        path_end = rp.args_start ? rp.args_start - 1 : rp.uri_end;

        if (path_end > path) {
            norm = malloc(path_end - path);
            if (norm == NULL) {
                abort();
            }
            rc = zp_http_normalize_uri(path, path_end - path, norm, &norm_len, 1);
            free(norm);

            if (rc != ZP_OK) {
                zpd_reject("path", rp.uri_start, in);
                return;
            }
        }
    }

    /* the body */

    body     = malloc(len + 1);
    body_len = 0;
    if (body == NULL) {
        abort();
    }

    if (tes) {
        memset(&cc, 0, sizeof(cc));

        for (;;) {
            rc = zp_http_parse_chunked(&cc, &b);

            if (rc == ZP_OK) {
                k = zp_min(cc.size, b.last - b.pos);
                memcpy(body + body_len, b.pos, (size_t) k);
                body_len += k;
                b.pos += k;
                cc.size -= k;
                continue;
            }

            break;
        }

        if (rc == ZP_AGAIN) {
            printf("{\"r\":\"incomplete\"}\n");
            free(body);
            return;
        }

        if (rc != ZP_DONE) {
            zpd_reject("chunked", b.pos, in);
            free(body);
            return;
        }

    } else if (cl > 0) {
        if (b.last - b.pos < cl) {
            printf("{\"r\":\"incomplete\"}\n");
            free(body);
            return;
        }
        memcpy(body, b.pos, (size_t) cl);
        body_len = cl;
        b.pos += cl;
    }

    printf("{\"r\":\"ok\",\"method\":");
    zpd_hex(rp.request_start, rp.method_end - rp.request_start);
    printf(",\"target\":");
    zpd_hex(rp.uri_start, rp.uri_end - rp.uri_start);
    printf(",\"major\":%lu,\"minor\":%lu,\"headers\":[", (u_long) rp.http_major,
           (u_long) rp.http_minor);

    for (i = 0; i < nh; i++) {
        printf(i ? ",[" : "[");
        zpd_hex(hs[i].name, hs[i].name_len);
        putchar(',');
        zpd_hex(hs[i].value, hs[i].value_len);
        putchar(']');
    }

    printf("],\"body\":");
    zpd_hex(body, body_len);
    printf(",\"end\":%ld}\n", (long) (b.pos - in));

    free(body);
}


int
main(int argc, char **argv)
{
    u_char   hdr[4], *in;
    uint32_t len;

    for (;;) {
        if (fread(hdr, 1, 4, stdin) != 4) {
            break;
        }

        len = (uint32_t) hdr[0] | (uint32_t) hdr[1] << 8 | (uint32_t) hdr[2] << 16
              | (uint32_t) hdr[3] << 24;

        if (len > ZPD_MAX_INPUT) {
            fprintf(stderr, "zp_parse_dump: a record of %lu bytes\n", (u_long) len);
            return 2;
        }

        in = malloc(len ? len : 1);
        if (in == NULL || fread(in, 1, len, stdin) != len) {
            fprintf(stderr, "zp_parse_dump: short record\n");
            return 2;
        }

        zpd_one(in, len);
        free(in);
    }

    return fflush(stdout) == 0 ? 0 : 1;
}
