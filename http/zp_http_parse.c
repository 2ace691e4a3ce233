/*
 * zp_http_parse.c: the incremental HTTP/1.x parsers (request line, header
 * lines, chunked bodies) and the URI normalizer used for routing.
 *
 * Every parser is a switch on a saved state inside a loop over [b->pos,
 * b->last): a byte is looked at once, so resuming after ZP_AGAIN is the
 * same as never having stopped. Bytes are classified with one 256-entry
 * table; nothing reads past b->last.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http_parse.h>

#define ZP_HTTP_C_TCHAR 0x01 /* token: RFC 9110 §5.6.2 tchar */
#define ZP_HTTP_C_VCHAR 0x02 /* VCHAR or obs-text: 0x21-0x7e, 0x80-0xff */
#define ZP_HTTP_C_HEX   0x04 /* HEXDIG, either case */
#define ZP_HTTP_C_HOST  0x08 /* host bytes accepted: ALPHA DIGIT "-._~" */
#define ZP_HTTP_C_ALPHA 0x10
#define ZP_HTTP_C_DIGIT 0x20

/* generated: a CTL, SP or DEL is in no class */
static const u_char zp_http_parse_class[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 00-07 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 08-0f */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 10-17 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 18-1f */
    0x00, 0x03, 0x02, 0x03, 0x03, 0x03, 0x03, 0x03, /* 20-27 */
    0x02, 0x02, 0x03, 0x03, 0x02, 0x0b, 0x0b, 0x02, /* 28-2f */
    0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, 0x2f, /* 30-37 */
    0x2f, 0x2f, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 38-3f */
    0x02, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1b, /* 40-47 */
    0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, /* 48-4f */
    0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, /* 50-57 */
    0x1b, 0x1b, 0x1b, 0x02, 0x02, 0x02, 0x03, 0x0b, /* 58-5f */
    0x03, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1b, /* 60-67 */
    0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, /* 68-6f */
    0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, /* 70-77 */
    0x1b, 0x1b, 0x1b, 0x02, 0x03, 0x02, 0x0b, 0x00, /* 78-7f */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 80-87 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 88-8f */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 90-97 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 98-9f */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* a0-a7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* a8-af */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* b0-b7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* b8-bf */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* c0-c7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* c8-cf */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* d0-d7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* d8-df */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* e0-e7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* e8-ef */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* f0-f7 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* f8-ff */
};

#define zp_http_is(ch, cls) (zp_http_parse_class[(u_char)(ch)] & ZP_HTTP_C_##cls)
#define zp_http_is_ws(ch)   ((ch) == ' ' || (ch) == '\t')

typedef struct {
    size_t      len;
    const char *name;
    zp_uint_t   method;
} zp_http_method_t;

static const zp_http_method_t zp_http_methods[] = {
    {3, "GET", ZP_HTTP_GET},     {4, "HEAD", ZP_HTTP_HEAD},     {4, "POST", ZP_HTTP_POST},
    {3, "PUT", ZP_HTTP_PUT},     {6, "DELETE", ZP_HTTP_DELETE}, {7, "OPTIONS", ZP_HTTP_OPTIONS},
    {5, "PATCH", ZP_HTTP_PATCH}, {5, "TRACE", ZP_HTTP_TRACE},   {7, "CONNECT", ZP_HTTP_CONNECT},
};


static zp_uint_t
zp_http_parse_method(u_char *m, size_t len)
{
    zp_uint_t i;

    /* methods are case-sensitive (RFC 9110 §9.1): "get" is unknown */
    for (i = 0; i < zp_nelems(zp_http_methods); i++) {
        if (zp_http_methods[i].len == len && zp_memcmp(m, zp_http_methods[i].name, len) == 0) {
            return zp_http_methods[i].method;
        }
    }

    return ZP_HTTP_UNKNOWN;
}


zp_int_t
zp_http_parse_status_line(zp_http_status_t *u, zp_buf_t *b)
{
    u_char ch;
    enum {
        sw_start = 0,
        sw_H,
        sw_HT,
        sw_HTT,
        sw_HTTP,
        sw_major,
        sw_dot,
        sw_minor,
        sw_space,
        sw_status,
        sw_after_status,
        sw_reason,
        sw_almost_done
    };

    while (b->pos < b->last) {
        ch = *b->pos++;

        switch (u->state) {
        case sw_start:
            if (ch != 'H') {
                return ZP_ERROR;
            }
            u->state = sw_H;
            break;
        case sw_H:
        case sw_HT:
            if (ch != 'T') {
                return ZP_ERROR;
            }
            u->state++;
            break;
        case sw_HTT:
            if (ch != 'P') {
                return ZP_ERROR;
            }
            u->state = sw_HTTP;
            break;
        case sw_HTTP:
            if (ch != '/') {
                return ZP_ERROR;
            }
            u->state = sw_major;
            break;
        case sw_major:
            if (ch != '1') {
                return ZP_ERROR;
            }
            u->state = sw_dot;
            break;
        case sw_dot:
            if (ch != '.') {
                return ZP_ERROR;
            }
            u->state = sw_minor;
            break;
        case sw_minor:
            if (ch < '0' || ch > '9') {
                return ZP_ERROR;
            }
            u->http_minor = ch - '0';
            u->state   = sw_space;
            break;
        case sw_space:
            if (ch != ' ') {
                return ZP_ERROR;
            }
            u->status = 0;
            u->state  = sw_status;
            break;
        case sw_status:
            if (ch < '0' || ch > '9') {
                return ZP_ERROR;
            }
            u->status = u->status * 10 + (ch - '0');
            if (u->status >= 100) {
                u->state = sw_after_status;
            } else if (u->status == 0) {
                return ZP_ERROR; /* a leading zero */
            }
            break;
        case sw_after_status:
            if (ch == ' ') {
                u->state = sw_reason;
            } else if (ch == '\r') {
                u->state = sw_almost_done;
            } else if (ch == '\n') {
                return ZP_OK;
            } else {
                return ZP_ERROR;
            }
            break;
        case sw_reason:
            if (ch == '\r') {
                u->state = sw_almost_done;
            } else if (ch == '\n') {
                return ZP_OK;
            } else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return ZP_ERROR;
            }
            break;
        case sw_almost_done:
            if (ch != '\n') {
                return ZP_ERROR;
            }
            return ZP_OK;
        }
    }

    return ZP_AGAIN;
}


const char *
zp_http_method_name(zp_uint_t method)
{
    zp_uint_t i;

    for (i = 0; i < zp_nelems(zp_http_methods); i++) {
        if (zp_http_methods[i].method == method) {
            return zp_http_methods[i].name;
        }
    }

    return "UNKNOWN";
}


static zp_int_t
zp_http_hexval(u_char ch)
{
    u_char c;

    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }

    c = (u_char)(ch | 0x20);

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* "http" or "https", any case */
static zp_int_t
zp_http_parse_schema_ok(u_char *s, size_t len)
{
    if (len != 4 && len != 5) {
        return 0;
    }

    if (zp_tolower(s[0]) != 'h' || zp_tolower(s[1]) != 't' || zp_tolower(s[2]) != 't' ||
        zp_tolower(s[3]) != 'p') {
        return 0;
    }

    return len == 4 || zp_tolower(s[4]) == 's';
}


zp_int_t
zp_http_parse_request_line(zp_http_parse_t *rp, zp_buf_t *b)
{
    u_char   *p, *m, ch;
    zp_uint_t port;
    enum {
        sw_start = 0,
        sw_start_lf, /* CR of an empty line before the request */
        sw_method,
        sw_target, /* the first byte of the request-target */
        sw_schema,
        sw_schema_slash,
        sw_schema_slash_slash,
        sw_host_start,
        sw_host,
        sw_host_ip_literal,
        sw_host_end, /* after "]" */
        sw_port,
        sw_asterisk,
        sw_path_slash,   /* just after a '/' */
        sw_path_dot,     /* "/." */
        sw_path_dot_dot, /* "/.." */
        sw_path,
        sw_args,
        sw_version, /* after the target: SP, then "H" (or CR: HTTP/0.9) */
        sw_http_H,  /* sw_http_H .. sw_http_HTTP: a word starting "HTTP" */
        sw_http_HT,
        sw_http_HTT,
        sw_http_HTTP,
        sw_major,
        sw_dot,
        sw_minor,
        sw_version_end,
        sw_after_version, /* SP after the version */
        sw_almost_done,
        sw_http09_almost_done /* no version: only CRLF ends the line */
    } state;

    state = rp->state;

    for (p = b->pos; p < b->last; p++) {
        ch = *p;

        switch (state) {

        case sw_start:
            if (ch == CR) {
                state = sw_start_lf;
                break;
            }

            if (ch == LF) {
                break;
            }

            /* a leading SP or HT is invalid too */
            if (!zp_http_is(ch, TCHAR)) {
                goto invalid;
            }

            rp->request_start = p;
            rp->request_end   = NULL;
            rp->method_end    = NULL;
            rp->uri_start     = NULL;
            rp->uri_end       = NULL;
            rp->args_start    = NULL;
            rp->schema_start  = NULL;
            rp->schema_end    = NULL;
            rp->host_start    = NULL;
            rp->host_end      = NULL;
            rp->port_start    = NULL;
            rp->port_end      = NULL;
            rp->path_start    = NULL;
            rp->method        = ZP_HTTP_UNKNOWN;
            rp->http_major    = 0;
            rp->http_minor    = 0;
            rp->complex_uri   = 0;
            rp->absolute_uri  = 0;
            rp->asterisk_uri  = 0;
            rp->authority_uri = 0;
            rp->space_in_uri  = 0;
            rp->empty_uri     = 0;
            rp->no_version    = 0;

            state = sw_method;
            break;

        case sw_start_lf:
            if (ch != LF) {
                goto invalid;
            }

            state = sw_start;
            break;

        case sw_method:
            if (zp_http_is(ch, TCHAR)) {
                break;
            }

            if (ch != ' ') {
                goto invalid;
            }

            rp->method_end = p;
            rp->method     = zp_http_parse_method(rp->request_start, p - rp->request_start);
            state          = sw_target;
            break;

        case sw_target:
            if (ch == ' ') {
                break; /* a run of SP after the method */
            }

            rp->uri_start = p;

            if (rp->method == ZP_HTTP_CONNECT) {
                /* authority-form, and only that (RFC 9112 §3.2.3) */
                rp->authority_uri = 1;
                rp->host_start    = p;

                if (ch == '[') {
                    state = sw_host_ip_literal;
                    break;
                }

                if (zp_http_is(ch, HOST)) {
                    state = sw_host;
                    break;
                }

                goto invalid;
            }

            if (ch == '/') {
                rp->path_start = p;
                state          = sw_path_slash;
                break;
            }

            if (ch == '*') {
                if (rp->method != ZP_HTTP_OPTIONS) {
                    goto invalid;
                }

                rp->asterisk_uri = 1;
                state            = sw_asterisk;
                break;
            }

            if (zp_http_is(ch, ALPHA)) {
                rp->schema_start = p;
                state            = sw_schema;
                break;
            }

            goto invalid;

        case sw_schema:
            if (zp_http_is(ch, ALPHA)) {
                if (p - rp->schema_start == 5) { /* longer than "https" */
                    goto invalid;
                }
                break;
            }

            if (ch == '/' && p - rp->schema_start == 4
                && zp_memcmp(rp->schema_start, "HTTP", 4) == 0) {
                /* "GET HTTP/1.1": no target, the version follows the
                 * method; an empty path is "/" (RFC 9112 3.2.1) */
                rp->uri_end      = rp->uri_start;
                rp->schema_start = NULL;
                rp->empty_uri    = 1;
                state            = sw_major;
                break;
            }

            if (ch != ':' || !zp_http_parse_schema_ok(rp->schema_start, p - rp->schema_start)) {
                goto invalid;
            }

            rp->schema_end = p;
            state          = sw_schema_slash;
            break;

        case sw_schema_slash:
            if (ch != '/') {
                goto invalid;
            }

            state = sw_schema_slash_slash;
            break;

        case sw_schema_slash_slash:
            if (ch != '/') {
                goto invalid;
            }

            rp->absolute_uri = 1;
            state            = sw_host_start;
            break;

        case sw_host_start:
            /* an empty host and userinfo ("@") are rejected (RFC 9110 §4.2) */
            rp->host_start = p;

            if (ch == '[') {
                state = sw_host_ip_literal;
                break;
            }

            if (zp_http_is(ch, HOST)) {
                state = sw_host;
                break;
            }

            goto invalid;

        case sw_host:
            if (zp_http_is(ch, HOST)) {
                break;
            }

            rp->host_end = p;
            goto authority_end;

        case sw_host_ip_literal:
            if (zp_http_is(ch, HEX) || ch == ':' || ch == '.') {
                break;
            }

            if (ch != ']' || p - rp->host_start < 2) {
                goto invalid;
            }

            rp->host_end = p + 1;
            state        = sw_host_end;
            break;

        case sw_host_end:
        authority_end:
            if (ch == ':') {
                rp->port_start = p + 1;
                state          = sw_port;
                break;
            }

            if (rp->authority_uri) { /* CONNECT needs a port */
                goto invalid;
            }

            goto absolute_path;

        case sw_port:
            if (zp_http_is(ch, DIGIT)) {
                if (p - rp->port_start == 5) {
                    goto invalid;
                }
                break;
            }

            if (p == rp->port_start) {
                goto invalid;
            }

            port = 0;
            for (m = rp->port_start; m < p; m++) {
                port = port * 10 + (*m - '0');
            }

            if (port > 65535) {
                goto invalid;
            }

            rp->port_end = p;

            if (rp->authority_uri) {
                if (ch != ' ') {
                    goto invalid;
                }

                rp->uri_end = p;
                state       = sw_version;
                break;
            }

        absolute_path:
            /* the path may be empty: "http://h", "http://h?q" */
            rp->path_start = p;

            if (ch == '/') {
                state = sw_path_slash;
                break;
            }

            if (ch == '?') {
                rp->args_start = p + 1;
                state          = sw_args;
                break;
            }

            if (ch == ' ' || ch == CR) {
                goto target_end;
            }

            goto invalid;

        case sw_asterisk:
            if (ch == ' ' || ch == CR) {
                goto target_end;
            }

            goto invalid;

        case sw_path_slash:
            if (ch == '/') {
                rp->complex_uri = 1;
                break;
            }

            if (ch == '.') {
                state = sw_path_dot;
                break;
            }

            goto path;

        case sw_path_dot:
            if (ch == '/') {
                rp->complex_uri = 1;
                state           = sw_path_slash;
                break;
            }

            if (ch == '.') {
                state = sw_path_dot_dot;
                break;
            }

            if (ch == '?' || ch == ' ' || ch == CR) {
                rp->complex_uri = 1;
            }

            goto path;

        case sw_path_dot_dot:
            if (ch == '/' || ch == '?' || ch == ' ' || ch == CR) {
                rp->complex_uri = 1;
            }

            goto path;

        case sw_path:
        path:
            switch (ch) {
            case '/':
                state = sw_path_slash;
                break;
            case '?':
                rp->args_start = p + 1;
                state          = sw_args;
                break;
            case ' ':
            case CR:
                goto target_end;
            case '%':
                rp->complex_uri = 1;
                state           = sw_path;
                break;
            case '#':
                goto invalid;
            default:
                /* CTLs, a bare LF and HT end here */
                if (!zp_http_is(ch, VCHAR)) {
                    goto invalid;
                }
                state = sw_path;
            }
            break;

        case sw_args:
            if (zp_http_is(ch, VCHAR)) {
                break;
            }

            if (ch == ' ' || ch == CR) {
                goto target_end;
            }

            goto invalid;

        target_end:
            /* a SP or the CR of a line without version: the target ends
             * here, unless what follows the SP makes it part of it */
            rp->uri_end = p;

            if (ch == CR) {
                rp->request_end = p;
                state           = sw_http09_almost_done;
                break;
            }

            state = sw_version;
            break;

        case sw_version:
            if (ch == ' ') {
                break;
            }

            if (ch == 'H') {
                state = sw_http_H;
                break;
            }

            if (ch == CR) {
                /* "GET /x" CRLF: HTTP/0.9, for the caller to serve or not */
                rp->request_end = rp->uri_end;
                state           = sw_http09_almost_done;
                break;
            }

            /* a word that is no version: the SP before it is part of an
             * origin-form target (as nginx's space_in_uri); this byte is
             * looked at again in the target's state */
            if (rp->path_start != rp->uri_start || rp->path_start == NULL) {
                goto invalid;
            }

            rp->space_in_uri = 1;
            state            = rp->args_start ? sw_args : sw_path;
            p--;
            break;

        case sw_http_H:
        case sw_http_HT:
        case sw_http_HTT:
            if (ch == "TTP"[state - sw_http_H]) {
                state++;
                break;
            }

            goto not_version;

        case sw_http_HTTP:
            if (ch == '/') {
                /* "HTTP/" after a SP is the version: from here on the line
                 * must end as one, so "/a HTTP/1.1 HTTP/1.1" is refused */
                state = sw_major;
                break;
            }

        not_version:
            /* "/a Hello": the word is part of an origin-form target; back
             * to the SP before its "H" (that many bytes are still in the
             * buffer, the line never moves in pieces), then on in the
             * target's state */
            if (rp->path_start != rp->uri_start || rp->path_start == NULL) {
                goto invalid;
            }

            p -= state - sw_http_H + 2;
            rp->space_in_uri = 1;
            state            = rp->args_start ? sw_args : sw_path;
            break;

        case sw_major:
            if (!zp_http_is(ch, DIGIT)) {
                goto invalid;
            }
            rp->http_major = ch - '0';
            state          = sw_dot;
            break;

        case sw_dot:
            if (ch != '.') {
                goto invalid;
            }
            state = sw_minor;
            break;

        case sw_minor:
            if (!zp_http_is(ch, DIGIT)) {
                goto invalid;
            }
            rp->http_minor = ch - '0';
            state          = sw_version_end;
            break;

        case sw_version_end:
            rp->request_end = p;

            if (ch == ' ') {
                state = sw_after_version;
                break;
            }

            /* fall through */

        case sw_after_version:
            if (ch == ' ') {
                break;
            }

            if (ch == CR) {
                state = sw_almost_done;
                break;
            }

            if (ch == LF) {
                goto done;
            }

            goto invalid;

        case sw_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            goto done;

        case sw_http09_almost_done:
            /* a bare LF after the target is refused: "/a" LF "HTTP/1.1"
             * is a target with a LF in it to other parsers */
            if (ch != LF) {
                goto invalid;
            }

            rp->no_version = 1;
            rp->http_major = 0;
            rp->http_minor = 9;

            goto done;
        }
    }

    b->pos    = p;
    rp->state = state;

    return ZP_AGAIN;

done:

    b->pos    = p + 1;
    rp->state = sw_start;

    if (rp->http_major != 1) {
        return rp->http_major == 0 && rp->http_minor == 9 ? ZP_HTTP_PARSE_HTTP09
                                                           : ZP_HTTP_PARSE_INVALID_VERSION;
    }

    return ZP_OK;

invalid:

    b->pos    = p;
    rp->state = sw_start;

    return ZP_HTTP_PARSE_INVALID_REQUEST;
}


zp_int_t
zp_http_parse_header_line(zp_http_parse_t *rp, zp_buf_t *b)
{
    u_char   *p, c, ch;
    zp_uint_t hash, i;
    enum {
        sw_start = 0,
        sw_name,
        sw_invalid_name, /* a byte outside tchar was seen: up to the colon */
        sw_space_before_value,
        sw_value,
        sw_almost_done,
        sw_header_almost_done
    } state;

    state = rp->state;
    hash  = rp->header_hash;
    i     = rp->lowcase_index;

    for (p = b->pos; p < b->last; p++) {
        ch = *p;

        switch (state) {

        case sw_start:
            rp->header_name_start = p;
            rp->header_name_end   = NULL;
            rp->header_start      = NULL;
            rp->header_end        = NULL;
            rp->invalid_name      = 0;
            rp->ctl_value         = 0;

            if (ch == CR) {
                state = sw_header_almost_done;
                break;
            }

            if (ch == LF) {
                goto header_done;
            }

            if (!zp_http_is(ch, TCHAR)) {
                /* SP or HT first is obs-fold (or whitespace before the
                 * first field, RFC 9112 §2.2); ':' first is an empty name */
                if (ch == ' ' || ch == '\t' || ch == ':' || ch == '\0') {
                    goto invalid;
                }

                rp->invalid_name = 1;
                hash             = 0;
                i                = 0;
                state            = sw_invalid_name;
                break;
            }

            c                     = zp_tolower(ch);
            hash                  = zp_hash(0, c);
            rp->lowcase_header[0] = c;
            i                     = 1;
            state                 = sw_name;
            break;

        case sw_name:
            if (zp_http_is(ch, TCHAR)) {
                c    = zp_tolower(ch);
                hash = zp_hash(hash, c);

                if (i < ZP_HTTP_LC_HEADER_LEN) {
                    rp->lowcase_header[i++] = c;
                }
                break;
            }

            if (ch == ':') {
                rp->header_name_end = p;
                state               = sw_space_before_value;
                break;
            }

            /* "Transfer-Encoding : chunked", "X\x01": for the caller to
             * drop or refuse; a line without a colon ends here */
            if (ch == CR || ch == LF || ch == '\0') {
                goto invalid;
            }

            rp->invalid_name = 1;
            state            = sw_invalid_name;
            break;

        case sw_invalid_name:
            if (ch == ':') {
                rp->header_name_end = p;
                state               = sw_space_before_value;
                break;
            }

            if (ch == CR || ch == LF || ch == '\0') {
                goto invalid;
            }

            break;

        case sw_space_before_value:
            if (zp_http_is_ws(ch)) {
                break;
            }

            rp->header_start = p;
            rp->header_end   = p;
            state            = sw_value;
            goto value;

        case sw_value:
        value:
            if (zp_http_is(ch, VCHAR)) {
                rp->header_end = p + 1;
                break;
            }

            if (zp_http_is_ws(ch)) {
                break;
            }

            if (ch == CR) {
                state = sw_almost_done;
                break;
            }

            if (ch == LF) {
                goto done;
            }

            if (ch == '\0') {
                goto invalid;
            }

            /* another CTL: part of the value, for the caller to judge */
            rp->ctl_value  = 1;
            rp->header_end = p + 1;
            break;

        case sw_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            goto done;

        case sw_header_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            goto header_done;
        }
    }

    b->pos            = p;
    rp->state         = state;
    rp->header_hash   = hash;
    rp->lowcase_index = i;

    return ZP_AGAIN;

done:

    b->pos            = p + 1;
    rp->state         = sw_start;
    rp->header_hash   = hash;
    rp->lowcase_index = i;

    if (rp->invalid_name) {
        return ZP_HTTP_PARSE_INVALID_NAME;
    }

    return rp->ctl_value ? ZP_HTTP_PARSE_CTL_VALUE : ZP_OK;

header_done:

    b->pos    = p + 1;
    rp->state = sw_start;

    return ZP_HTTP_PARSE_HEADER_DONE;

invalid:

    b->pos    = p;
    rp->state = sw_start;

    return ZP_HTTP_PARSE_INVALID_HEADER;
}


void
zp_http_parse_relocate(zp_http_parse_t *rp, u_char *old_start, u_char *old_end, u_char *new_start)
{
    zp_uint_t i;
    u_char  **f[] = {
         &rp->request_start, &rp->request_end,       &rp->method_end,      &rp->uri_start,
         &rp->uri_end,       &rp->args_start,        &rp->schema_start,    &rp->schema_end,
         &rp->host_start,    &rp->host_end,          &rp->port_start,      &rp->port_end,
         &rp->path_start,    &rp->header_name_start, &rp->header_name_end, &rp->header_start,
         &rp->header_end,
    };

    for (i = 0; i < zp_nelems(f); i++) {
        if (*f[i] != NULL && *f[i] >= old_start && *f[i] <= old_end) {
            *f[i] = new_start + (*f[i] - old_start);
        }
    }
}


zp_int_t
zp_http_normalize_uri(u_char *uri, size_t len, u_char *dst, size_t *dst_len,
                      zp_uint_t merge_slashes)
{
    u_char   *p, *last, *u, *seg, ch;
    zp_int_t  hi, lo;
    zp_uint_t slash;
    size_t    n;

    if (len == 0 || uri[0] != '/') {
        return ZP_ERROR;
    }

    p    = uri + 1;
    last = uri + len;
    u    = dst;
    *u++ = '/';
    seg  = u; /* the segment being written is [seg, u), after a '/' */

    for (;;) {

        if (p == last || *p == '?') {
            slash = 0;

        } else {
            ch = *p++;

            if (ch == '%') {
                if (last - p < 2) {
                    return ZP_ERROR;
                }

                hi = zp_http_hexval(p[0]);
                lo = zp_http_hexval(p[1]);

                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                    return ZP_ERROR;
                }

                ch = (u_char)(hi * 16 + lo);
                p += 2;
            }

            if (ch != '/') {
                *u++ = ch;
                continue;
            }

            slash = 1;
        }

        /* a segment ends */

        n = u - seg;

        if (n == 1 && seg[0] == '.') {
            u = seg;

        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (seg - 1 == dst) {
                return ZP_ERROR; /* above the root */
            }

            /* back over the previous segment, keeping the '/' before it;
             * dst[0] is '/', so this stops */
            u = seg - 2;
            while (*u != '/') {
                u--;
            }
            u++;

        } else if (slash && !(n == 0 && merge_slashes)) {
            *u++ = '/';
        }

        if (!slash) {
            break;
        }

        seg = u;
    }

    *dst_len = u - dst;

    return ZP_OK;
}


/* the least number of bytes the body still needs, for read sizing */
static off_t
zp_http_chunked_length(off_t size, off_t extra)
{
    if (size > ZP_MAX_OFF_T_VALUE - extra) {
        return ZP_MAX_OFF_T_VALUE;
    }

    return size + extra;
}


zp_int_t
zp_http_parse_chunked(zp_http_chunked_t *ctx, zp_buf_t *b)
{
    u_char *p, ch;
    off_t   d;
    enum {
        sw_chunk_start = 0,
        sw_chunk_size,
        sw_size_bws, /* SP/HT after the size: only BWS ";" may follow */
        sw_ext_bws,  /* after ";" */
        sw_ext_name,
        sw_ext_name_bws,  /* BWS after a name: "=" or ";" follows */
        sw_ext_value_bws, /* after "=" */
        sw_ext_value,
        sw_ext_quoted,
        sw_ext_quoted_pair,
        sw_ext_quoted_end, /* after the closing '"' */
        sw_ext_value_bws_after,
        sw_chunk_size_almost_done,
        sw_chunk_data,
        sw_after_data,
        sw_after_data_almost_done,
        sw_trailer_start,
        sw_trailer_name,
        sw_trailer_value,
        sw_trailer_almost_done,
        sw_last_almost_done,
        sw_done
    } state;

    state = ctx->state;

    if (state == sw_done) {
        ctx->length = 0;
        return ZP_DONE;
    }

    if (state == sw_chunk_data) {
        if (ctx->size > 0) {
            ctx->length = zp_http_chunked_length(ctx->size, 4 /* LF "0" LF LF */);
            return b->pos < b->last ? ZP_OK : ZP_AGAIN;
        }

        state = sw_after_data;
    }

    for (p = b->pos; p < b->last; p++) {
        ch = *p;

        if (state >= sw_size_bws && state <= sw_ext_value_bws_after && ch != CR && ch != LF) {
            if (++ctx->ext_len > ZP_HTTP_CHUNK_EXT_MAX) {
                goto invalid;
            }
        }

        if (state >= sw_trailer_start && state <= sw_last_almost_done) {
            if (++ctx->trailer_len > ZP_HTTP_CHUNK_TRAILERS_MAX) {
                goto invalid;
            }
        }

        switch (state) {

        case sw_chunk_start:
            if (!zp_http_is(ch, HEX)) {
                goto invalid;
            }

            ctx->size    = zp_http_hexval(ch);
            ctx->digits  = 1;
            ctx->ext_len = 0;
            state        = sw_chunk_size;
            break;

        case sw_chunk_size:
            if (zp_http_is(ch, HEX)) {
                if (ctx->digits == 16) {
                    goto invalid;
                }

                d = zp_http_hexval(ch);

                if (ctx->size > (ZP_MAX_OFF_T_VALUE - d) / 16) {
                    goto invalid;
                }

                ctx->size = ctx->size * 16 + d;
                ctx->digits++;
                break;
            }

            if (ch == ';') {
                ctx->ext_len = 1;
                state        = sw_ext_bws;
                break;
            }

            if (zp_http_is_ws(ch)) {
                ctx->ext_len = 1;
                state        = sw_size_bws;
                break;
            }

            goto line_end;

        case sw_size_bws:
            if (zp_http_is_ws(ch)) {
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            goto invalid;

        case sw_ext_bws:
            if (zp_http_is_ws(ch)) {
                break;
            }

            if (zp_http_is(ch, TCHAR)) {
                state = sw_ext_name;
                break;
            }

            goto invalid;

        case sw_ext_name:
            if (zp_http_is(ch, TCHAR)) {
                break;
            }

            if (zp_http_is_ws(ch)) {
                state = sw_ext_name_bws;
                break;
            }

            if (ch == '=') {
                state = sw_ext_value_bws;
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            goto line_end;

        case sw_ext_name_bws:
            if (zp_http_is_ws(ch)) {
                break;
            }

            if (ch == '=') {
                state = sw_ext_value_bws;
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            /* no whitespace before the line end: the grammar has none */
            goto invalid;

        case sw_ext_value_bws:
            if (zp_http_is_ws(ch)) {
                break;
            }

            if (ch == '"') {
                state = sw_ext_quoted;
                break;
            }

            if (zp_http_is(ch, TCHAR)) {
                state = sw_ext_value;
                break;
            }

            goto invalid;

        case sw_ext_value:
            if (zp_http_is(ch, TCHAR)) {
                break;
            }

            if (zp_http_is_ws(ch)) {
                state = sw_ext_value_bws_after;
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            goto line_end;

        case sw_ext_quoted:
            if (ch == '"') {
                state = sw_ext_quoted_end;
                break;
            }

            if (ch == '\\') {
                state = sw_ext_quoted_pair;
                break;
            }

            if (zp_http_is(ch, VCHAR) || zp_http_is_ws(ch)) {
                break;
            }

            goto invalid;

        case sw_ext_quoted_pair:
            if (zp_http_is(ch, VCHAR) || zp_http_is_ws(ch)) {
                state = sw_ext_quoted;
                break;
            }

            goto invalid;

        case sw_ext_quoted_end:
            if (zp_http_is_ws(ch)) {
                state = sw_ext_value_bws_after;
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            goto line_end;

        case sw_ext_value_bws_after:
            if (zp_http_is_ws(ch)) {
                break;
            }

            if (ch == ';') {
                state = sw_ext_bws;
                break;
            }

            goto invalid;

        line_end:
            if (ch == CR) {
                state = sw_chunk_size_almost_done;
                break;
            }

            if (ch == LF) {
                goto size_done;
            }

            goto invalid;

        case sw_chunk_size_almost_done:
            if (ch != LF) {
                goto invalid;
            }

        size_done:
            if (ctx->size == 0) { /* the last-chunk */
                state = sw_trailer_start;
                break;
            }

            b->pos      = p + 1;
            ctx->state  = sw_chunk_data;
            ctx->length = zp_http_chunked_length(ctx->size, 4 /* LF "0" LF LF */);

            return b->pos < b->last ? ZP_OK : ZP_AGAIN;

        case sw_after_data:
            if (ch == CR) {
                state = sw_after_data_almost_done;
                break;
            }

            if (ch == LF) {
                state = sw_chunk_start;
                break;
            }

            goto invalid;

        case sw_after_data_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            state = sw_chunk_start;
            break;

            /* trailer fields: the same byte rules as zp_http_parse_header_line() */

        case sw_trailer_start:
            if (ch == CR) {
                state = sw_last_almost_done;
                break;
            }

            if (ch == LF) {
                goto done;
            }

            if (!zp_http_is(ch, TCHAR)) {
                goto invalid;
            }

            state = sw_trailer_name;
            break;

        case sw_trailer_name:
            if (zp_http_is(ch, TCHAR)) {
                break;
            }

            if (ch != ':') {
                goto invalid;
            }

            state = sw_trailer_value;
            break;

        case sw_trailer_value:
            if (zp_http_is(ch, VCHAR) || zp_http_is_ws(ch)) {
                break;
            }

            if (ch == CR) {
                state = sw_trailer_almost_done;
                break;
            }

            if (ch == LF) {
                state = sw_trailer_start;
                break;
            }

            goto invalid;

        case sw_trailer_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            state = sw_trailer_start;
            break;

        case sw_last_almost_done:
            if (ch != LF) {
                goto invalid;
            }

            goto done;

        case sw_chunk_data:
        case sw_done:
            /* handled before the loop */
            goto invalid;
        }
    }

    b->pos     = p;
    ctx->state = state;

    switch (state) {
    case sw_chunk_start:
        ctx->length = 3 /* "0" LF LF */;
        break;
    case sw_after_data:
    case sw_after_data_almost_done:
        ctx->length = 4 /* LF "0" LF LF */;
        break;
    case sw_trailer_start:
    case sw_last_almost_done:
        ctx->length = 1 /* LF */;
        break;
    case sw_trailer_name:
    case sw_trailer_value:
    case sw_trailer_almost_done:
        ctx->length = 2 /* LF LF */;
        break;
    default: /* in the size line */
        ctx->length =
            ctx->size ? zp_http_chunked_length(ctx->size, 5 /* LF, LF "0" LF LF */) : 2 /* LF LF */;
    }

    return ZP_AGAIN;

done:

    b->pos      = p + 1;
    ctx->state  = sw_done;
    ctx->length = 0;

    return ZP_DONE;

invalid:

    b->pos     = p;
    ctx->state = state;

    return ZP_ERROR;
}


zp_uint_t
zp_http_field_acted_on(u_char *name, size_t len)
{
    static const zp_str_t names[] = {
        zp_string("contentlength"), zp_string("transferencoding"), zp_string("host"),
        zp_string("connection"),    zp_string("upgrade"),          zp_string("expect"),
        zp_string("te"),            zp_string("trailer"),
    };
    u_char    folded[16];
    size_t    i, n;
    zp_uint_t k;

    for (i = 0, n = 0; i < len; i++) {
        if (!zp_http_is(name[i], ALPHA) && !zp_http_is(name[i], DIGIT)) {
            continue;
        }
        if (n == sizeof(folded)) {
            return 0; /* longer than any of them */
        }
        folded[n++] = zp_tolower(name[i]);
    }

    for (k = 0; k < zp_nelems(names); k++) {
        if (n == names[k].len && zp_memcmp(folded, names[k].data, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static u_char *
zp_http_te_ows(u_char *p, u_char *last)
{
    while (p < last && zp_http_is_ws(*p)) {
        p++;
    }

    return p;
}


/* a token or a quoted-string (RFC 9110 §5.6.4) from p; NULL if neither */
static u_char *
zp_http_te_param_value(u_char *p, u_char *last)
{
    u_char *start = p;

    if (p == last || *p != '"') {
        while (p < last && zp_http_is(*p, TCHAR)) {
            p++;
        }
        return p > start ? p : NULL;
    }

    for (p++; p < last; p++) {
        if (*p == '"') {
            return p + 1;
        }

        if (*p == '\\') {
            if (++p == last) {
                return NULL;
            }
        }

        if (!zp_http_is(*p, VCHAR) && !zp_http_is_ws(*p)) {
            return NULL;
        }
    }

    return NULL; /* no closing quote */
}


zp_int_t
zp_http_parse_te(zp_http_te_t *te, u_char *p, size_t len)
{
    u_char   *last, *name, *pname, *pname_end, *value, *value_end;
    size_t    n;
    zp_uint_t found, keep;

    last  = p + len;
    found = 0;

    for (;;) {
        /* OWS and empty list elements (RFC 9110 §5.6.1) */
        while (p < last && (zp_http_is_ws(*p) || *p == ',')) {
            p++;
        }

        if (p == last) {
            break;
        }

        name = p;
        while (p < last && zp_http_is(*p, TCHAR)) {
            p++;
        }
        n = p - name;

        if (n == 0 || te->chunked) {
            /* not a token, or a coding after chunked */
            return ZP_ERROR;
        }

        found = 1;
        te->codings++;
        te->chunked = n == 7 && zp_strncasecmp(name, (u_char *) "chunked", 7) == 0;
        keep = !te->chunked && !(n == 8 && zp_strncasecmp(name, (u_char *) "identity", 8) == 0);

        if (keep) {
            if (te->out_len) {
                te->out[te->out_len++] = ',';
                te->out[te->out_len++] = ' ';
            }
            zp_memcpy(te->out + te->out_len, name, n);
            te->out_len += n;
        }

        /* parameters: *( OWS ";" OWS [ token [ BWS "=" BWS value ] ] ); an
         * empty one ("gzip ;") is let through, as clients send it */
        for (;;) {
            p = zp_http_te_ows(p, last);
            if (p == last || *p != ';') {
                break;
            }

            pname = zp_http_te_ows(p + 1, last);
            for (p = pname; p < last && zp_http_is(*p, TCHAR); p++) {
                /* void */
            }

            if (p == pname) {
                continue;
            }

            pname_end = p;
            value     = NULL;
            value_end = NULL;
            p         = zp_http_te_ows(p, last);

            if (p < last && *p == '=') {
                value     = zp_http_te_ows(p + 1, last);
                value_end = zp_http_te_param_value(value, last);
                if (value_end == NULL) {
                    return ZP_ERROR;
                }
                p = value_end;
            }

            if (keep) {
                te->out[te->out_len++] = ';';
                zp_memcpy(te->out + te->out_len, pname, pname_end - pname);
                te->out_len += pname_end - pname;

                if (value) {
                    te->out[te->out_len++] = '=';
                    zp_memcpy(te->out + te->out_len, value, value_end - value);
                    te->out_len += value_end - value;
                }
            }
        }

        if (p < last && *p != ',') {
            return ZP_ERROR;
        }
    }

    /* a field line of no coding at all ("Transfer-Encoding: ,") */
    return found ? ZP_OK : ZP_ERROR;
}
