/*
 * fuzz_router.c: libFuzzer target for http/zp_http_router.c behind
 * zp_http_normalize_uri(), as a request's path reaches it.
 *
 * Input: text. Up to the first empty line, one route per line (at most
 * FZ_MAX_ROUTES, each at most FZ_MAX_PATTERN bytes):
 *
 *   "= /path"     exact
 *   "~ regex"     regex; "~* regex" caseless (at most FZ_MAX_REGEX of them,
 *                 FZ_MAX_REGEX_LEN bytes, no nested quantifier such as
 *                 ")+" and no backreference: a slow regex is the
 *                 configuration's problem, not the request's)
 *   anything else a prefix, which the router turns into a pattern when it
 *                 has a ":name" or "*" segment
 *
 * A route line ending in " !c" allows only the method chosen by c (a bit
 * of ZP_HTTP_GET .. ZP_HTTP_CONNECT). After the empty line, one request
 * path per line; "!c" before it picks the method (else GET). Each path is
 * looked up raw (when it starts with '/') and normalized, with and without
 * merge_slashes.
 *
 * Invariants (abort()): a lookup returns ZP_OK, 405 or ZP_DECLINED; on
 * ZP_OK the route is one that was added, it matches the path by a
 * reference matcher written here from the rules at the top of
 * zp_http_router.c (exact: equal bytes; prefix: starts with; pattern:
 * segment by segment; regex: pcre2 with the same flags), allows the
 * method, and no route of a higher-precedence kind (exact, then pattern,
 * then regex, then prefix) matches and allows it; an exact result is the
 * first such exact route, a prefix result the longest such prefix (the
 * first written among equals); params and captures are slices of the
 * path. On 405 some route matches, none allows the method, and allowed
 * is the union of the matching routes' methods. On ZP_DECLINED no route
 * matches. A normalized path starts with '/', has no "." or ".."
 * segment, and with merge_slashes no "//".
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_http_parse.h>
#include <zp_http_router.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_common.h"

#define FZ_MAX_INPUT     (16 * 1024)
#define FZ_MAX_ROUTES    32
#define FZ_MAX_PATTERN   128
#define FZ_MAX_REGEX     4
#define FZ_MAX_REGEX_LEN 32
#define FZ_MAX_PATHS     64
#define FZ_MAX_PATH      1024

typedef struct {
    zp_uint_t   type; /* as the router keeps it: EXACT, PREFIX, PATTERN, REGEX* */
    zp_str_t    pattern;
    zp_uint_t   methods;
    pcre2_code *re; /* our own copy, for the reference */
} fz_route_t;

static zp_log_t *fz_log;
static fz_route_t fz_routes[FZ_MAX_ROUTES];
static zp_uint_t  fz_nroutes;

static const zp_uint_t fz_methods[] = {ZP_HTTP_GET,    ZP_HTTP_HEAD,    ZP_HTTP_POST,
                                       ZP_HTTP_PUT,    ZP_HTTP_DELETE,  ZP_HTTP_OPTIONS,
                                       ZP_HTTP_PATCH,  ZP_HTTP_TRACE,   ZP_HTTP_CONNECT};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    zp_time_init();

    if (zp_os_init_sizes() != ZP_OK) {
        abort();
    }

    fz_log = zp_log_init(NULL, NULL);
    if (fz_log == NULL) {
        abort();
    }
    fz_log->log_level = ZP_LOG_EMERG;

    return 0;
}


/* the rank of a route kind in the precedence order */
static int
fz_rank(zp_uint_t type)
{
    switch (type) {
    case ZP_HTTP_ROUTE_EXACT:
        return 1;
    case ZP_HTTP_ROUTE_PATTERN:
        return 2;
    case ZP_HTTP_ROUTE_REGEX:
    case ZP_HTTP_ROUTE_REGEX_CASELESS:
        return 3;
    default:
        return 4;
    }
}


/* the end of the segment starting at pos: the next '/' or len */
static size_t
fz_seg_end(const u_char *p, size_t len, size_t pos)
{
    while (pos < len && p[pos] != '/') {
        pos++;
    }
    return pos;
}


/* a prefix with a segment ":..." or "*" is a pattern (zp_http_router_add) */
static int
fz_dynamic(zp_str_t *pat)
{
    size_t pos, end;

    for (pos = 1; pos <= pat->len; pos = end + 1) {
        end = fz_seg_end(pat->data, pat->len, pos);
        if ((end > pos && pat->data[pos] == ':') || (end == pos + 1 && pat->data[pos] == '*')) {
            return 1;
        }
    }

    return 0;
}


/* the reference pattern matcher; *nparams gets the params it binds */
static int
fz_pattern_match(zp_str_t *pat, zp_str_t *path, zp_uint_t *nparams)
{
    size_t pp, qp, pe, qe;

    *nparams = 0;

    if (path->len == 0 || path->data[0] != '/') {
        return 0;
    }

    /* both start with '/': compare the segments after it */
    for (pp = 1, qp = 1;; pp = pe + 1, qp = qe + 1) {
        pe = fz_seg_end(pat->data, pat->len, pp);

        if (pe == pp + 1 && pat->data[pp] == '*' && pe == pat->len) {
            /* the splat: whatever is left of the path, even nothing, as
             * long as the path reached this segment */
            (*nparams)++;
            return qp <= path->len;
        }

        if (qp > path->len) {
            return 0;
        }

        qe = fz_seg_end(path->data, path->len, qp);

        if (pe > pp && pat->data[pp] == ':') {
            if (qe == qp) {
                return 0;
            }
            (*nparams)++;

        } else if (pe - pp != qe - qp || memcmp(pat->data + pp, path->data + qp, pe - pp) != 0) {
            return 0;
        }

        if (pe == pat->len || qe == path->len) {
            return pe == pat->len && qe == path->len;
        }
    }
}


static int
fz_route_match(fz_route_t *r, zp_str_t *path, zp_uint_t *nparams)
{
    pcre2_match_data *md;
    int               rc;

    *nparams = 0;

    switch (r->type) {

    case ZP_HTTP_ROUTE_EXACT:
        return r->pattern.len == path->len
               && memcmp(r->pattern.data, path->data, path->len) == 0;

    case ZP_HTTP_ROUTE_PREFIX:
        return r->pattern.len <= path->len
               && memcmp(r->pattern.data, path->data, r->pattern.len) == 0;

    case ZP_HTTP_ROUTE_PATTERN:
        return fz_pattern_match(&r->pattern, path, nparams);

    default:
        md = pcre2_match_data_create_from_pattern(r->re, NULL);
        if (md == NULL) {
            abort();
        }
        rc = pcre2_match(r->re, path->len ? path->data : (u_char *) "", path->len, 0, 0, md,
                         NULL);
        pcre2_match_data_free(md);
        return rc >= 0;
    }
}


static int
fz_allows(fz_route_t *r, zp_uint_t method)
{
    return r->methods == 0 || (r->methods & method);
}


static int
fz_in_path(zp_str_t *path, zp_str_t *s)
{
    return s->len == 0 || (s->data >= path->data && s->data + s->len <= path->data + path->len);
}


static void
fz_lookup(zp_http_router_t *rt, zp_str_t *path, zp_uint_t method)
{
    zp_http_route_match_t m;
    zp_int_t              rc;
    zp_uint_t             i, k, np, allowed, matched;
    fz_route_t           *r, *q;
    int                   rank;

    memset(&m, 0xa5, sizeof(m));
    rc = zp_http_router_find(rt, path, method, NULL, NULL, &m);

    FZ_CHECK(rc == ZP_OK || rc == ZP_HTTP_NOT_ALLOWED || rc == ZP_DECLINED);

    if (rc == ZP_OK) {
        r = NULL;
        for (i = 0; i < fz_nroutes; i++) {
            if (m.data == &fz_routes[i]) {
                r = &fz_routes[i];
            }
        }
        FZ_CHECK(r != NULL); /* one of the routes added */

        FZ_CHECK(fz_route_match(r, path, &np));
        FZ_CHECK(fz_allows(r, method));
        rank = fz_rank(r->type);

        for (i = 0; i < fz_nroutes; i++) {
            q = &fz_routes[i];

            if (!fz_route_match(q, path, &k) || !fz_allows(q, method)) {
                continue;
            }

            /* nothing of a higher kind would have taken it */
            FZ_CHECK(fz_rank(q->type) >= rank);

            if (q->type == ZP_HTTP_ROUTE_EXACT && r->type == ZP_HTTP_ROUTE_EXACT) {
                /* the first exact one written */
                FZ_CHECK(r <= q);
            }

            if (q->type == ZP_HTTP_ROUTE_PREFIX && r->type == ZP_HTTP_ROUTE_PREFIX) {
                /* the longest prefix; the first written among equals */
                FZ_CHECK(q->pattern.len <= r->pattern.len);
                FZ_CHECK(q->pattern.len < r->pattern.len || r <= q);
            }
        }

        if (r->type == ZP_HTTP_ROUTE_PATTERN) {
            FZ_CHECK(m.nparams == np);
            for (i = 0; i < m.nparams; i++) {
                FZ_CHECK(fz_in_path(path, &m.param_values[i]));
            }
        } else if (r->type == ZP_HTTP_ROUTE_REGEX || r->type == ZP_HTTP_ROUTE_REGEX_CASELESS) {
            FZ_CHECK(m.ncaptures >= 1 && m.ncaptures <= ZP_HTTP_ROUTE_MAX_CAPTURES);
            for (i = 0; i < 2 * m.ncaptures; i++) {
                FZ_CHECK(m.captures[i] >= -1 && m.captures[i] <= (int) path->len);
            }
            FZ_CHECK(m.captures[0] >= 0 && m.captures[0] <= m.captures[1]);
        }

        return;
    }

    allowed = 0;
    matched = 0;

    for (i = 0; i < fz_nroutes; i++) {
        q = &fz_routes[i];
        if (fz_route_match(q, path, &k)) {
            matched++;
            FZ_CHECK(!fz_allows(q, method)); /* it would have been found */
            allowed |= q->methods;
        }
    }

    if (rc == ZP_HTTP_NOT_ALLOWED) {
        FZ_CHECK(matched > 0);
        FZ_CHECK(m.allowed == allowed);
    } else {
        FZ_CHECK(matched == 0);
    }
}


/* no "." or ".." segment; with merge, no empty segment but a last one */
static void
fz_check_normalized(const u_char *dst, size_t n, size_t len, zp_uint_t merge)
{
    size_t i, end, seg;

    FZ_CHECK(n >= 1 && n <= len && dst[0] == '/');

    for (i = 0; i < n; i = end) {
        for (end = i + 1; end < n && dst[end] != '/'; end++) {
            /* void */
        }
        seg = end - i - 1;
        FZ_CHECK(!(seg == 1 && dst[i + 1] == '.'));
        FZ_CHECK(!(seg == 2 && dst[i + 1] == '.' && dst[i + 2] == '.'));
        FZ_CHECK(!merge || seg > 0 || end == n);
    }

    if (merge) {
        FZ_CHECK(n < 2 || memmem(dst, n, "//", 2) == NULL);
    }
}


/* a regex we accept as configuration: short, no nested quantifier */
static int
fz_regex_ok(const u_char *p, size_t len)
{
    size_t i;

    if (len > FZ_MAX_REGEX_LEN) {
        return 0;
    }

    for (i = 0; i + 1 < len; i++) {
        if (p[i] == ')' && (p[i + 1] == '+' || p[i + 1] == '*' || p[i + 1] == '{')) {
            return 0;
        }
        if (p[i] == '\\' && ((p[i + 1] >= '1' && p[i + 1] <= '9') || p[i + 1] == 'g'
                             || p[i + 1] == 'k')) {
            return 0;
        }
        if (p[i] == '(' && p[i + 1] == '?') {
            return 0; /* no lookarounds, recursion, callouts or options */
        }
    }

    return 1;
}


/* " !c" at the end of a line: one method; returns the line without it */
static size_t
fz_line_methods(const u_char *p, size_t len, zp_uint_t *methods)
{
    *methods = 0;

    if (len >= 3 && p[len - 3] == ' ' && p[len - 2] == '!') {
        *methods = fz_methods[p[len - 1] % zp_nelems(fz_methods)];
        return len - 3;
    }

    return len;
}


static void
fz_add(zp_http_router_t *rt, zp_pool_t *pool, const u_char *p, size_t len, zp_uint_t *nregex)
{
    zp_http_route_def_t def;
    fz_route_t         *r;
    zp_uint_t           type, methods;
    u_char             *copy;
    char                err[256];
    int                 errcode;
    PCRE2_SIZE          erroff;

    len = fz_line_methods(p, len, &methods);

    if (len >= 2 && p[0] == '=' && p[1] == ' ') {
        type = ZP_HTTP_ROUTE_EXACT;
        p += 2;
        len -= 2;
    } else if (len >= 3 && p[0] == '~' && p[1] == '*' && p[2] == ' ') {
        type = ZP_HTTP_ROUTE_REGEX_CASELESS;
        p += 3;
        len -= 3;
    } else if (len >= 2 && p[0] == '~' && p[1] == ' ') {
        type = ZP_HTTP_ROUTE_REGEX;
        p += 2;
        len -= 2;
    } else {
        type = ZP_HTTP_ROUTE_PREFIX;
    }

    if (len > FZ_MAX_PATTERN) {
        return;
    }

    if (type == ZP_HTTP_ROUTE_REGEX || type == ZP_HTTP_ROUTE_REGEX_CASELESS) {
        if (*nregex == FZ_MAX_REGEX || !fz_regex_ok(p, len)) {
            return;
        }
    }

    /* the router may keep pointers into the pattern: a pool copy */
    copy = zp_pnalloc(pool, len ? len : 1);
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, p, len);

    r = &fz_routes[fz_nroutes];
    memset(r, 0, sizeof(*r));
    r->pattern.data = copy;
    r->pattern.len  = len;
    r->methods      = methods;

    memset(&def, 0, sizeof(def));
    def.pattern = r->pattern;
    def.type    = type;
    def.methods = methods;
    def.data    = r;

    if (zp_http_router_add(rt, &def, err, sizeof(err)) != ZP_OK) {
        FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        return;
    }

    if (type == ZP_HTTP_ROUTE_PREFIX && fz_dynamic(&r->pattern)) {
        type = ZP_HTTP_ROUTE_PATTERN;
    }

    r->type = type;

    if (type == ZP_HTTP_ROUTE_REGEX || type == ZP_HTTP_ROUTE_REGEX_CASELESS) {
        /* the router compiled it, so it compiles */
        r->re = pcre2_compile(len ? copy : (u_char *) "", len,
                              type == ZP_HTTP_ROUTE_REGEX_CASELESS ? PCRE2_CASELESS : 0, &errcode,
                              &erroff, NULL);
        FZ_CHECK(r->re != NULL);
        (*nregex)++;
    }

    fz_nroutes++;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zp_pool_t        *pool;
    zp_http_router_t *rt;
    const u_char     *p, *end, *eol;
    u_char           *path, *dst;
    zp_str_t          s;
    zp_uint_t         i, nregex, npaths, method, merge;
    size_t            len, n;

    if (size > FZ_MAX_INPUT) {
        return 0;
    }

    pool = zp_create_pool(4096, fz_log);
    if (pool == NULL) {
        abort();
    }

    rt = zp_http_router_create(pool, fz_log);
    if (rt == NULL) {
        abort();
    }

    fz_nroutes = 0;
    nregex     = 0;

    p   = data;
    end = data + size;

    /* the routes, up to an empty line */
    while (p < end) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }
        len = eol - p;

        if (len == 0) {
            p = eol + 1;
            break;
        }

        if (fz_nroutes < FZ_MAX_ROUTES) {
            fz_add(rt, pool, p, len, &nregex);
        }

        p = eol < end ? eol + 1 : end;
    }

    if (zp_http_router_compile(rt) != ZP_OK) {
        abort();
    }

    /* the paths */
    for (npaths = 0; p < end && npaths < FZ_MAX_PATHS; npaths++) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }
        len    = eol - p;
        method = ZP_HTTP_GET;

        if (len >= 2 && p[0] == '!') {
            method = fz_methods[p[1] % zp_nelems(fz_methods)];
            p += 2;
            len -= 2;
        }

        if (len > 0 && len <= FZ_MAX_PATH) {
            /* exact-size copies: a read past the path is an ASan report */
            path = malloc(len);
            dst  = malloc(len);
            if (path == NULL || dst == NULL) {
                abort();
            }
            memcpy(path, p, len);

            if (path[0] == '/') {
                s.data = path;
                s.len  = len;
                fz_lookup(rt, &s, method);
            }

            for (merge = 0; merge <= 1; merge++) {
                if (zp_http_normalize_uri(path, len, dst, &n, merge) != ZP_OK) {
                    continue;
                }
                FZ_CHECK(path[0] == '/');
                fz_check_normalized(dst, n, len, merge);

                /* the router gets the path without the query */
                s.data = dst;
                s.len  = n;
                fz_lookup(rt, &s, method);
            }

            free(path);
            free(dst);
        }

        p = eol < end ? eol + 1 : end;
    }

    for (i = 0; i < fz_nroutes; i++) {
        if (fz_routes[i].re) {
            pcre2_code_free(fz_routes[i].re);
        }
    }

    zp_destroy_pool(pool);

    return 0;
}
