// zp_http_router.c: the route table of a server block.
// (Line comments here because the examples contain a slash-star.)
//
// Route forms (as the config parser declares them):
//
//   route = /health                 exact: the whole path, byte for byte
//   route /api/                     prefix: any path starting with it; it
//                                   may end mid-segment: "/api/us" matches
//                                   "/api/users"
//   route /users/:id/orders/:oid    pattern: a PREFIX with a ":name" or "*"
//   route /static/*                 segment; it matches the whole path
//   route ~ ^/v(\d+)/               regex, case-sensitive
//   route ~* ^/img/.*\.png$         regex, caseless
//
// Patterns. The path and the pattern are cut at "/" into segments; a
// literal segment matches the same bytes, ":name" matches exactly one
// non-empty segment, and a final "*" matches the rest of the path after
// the "/" before it: "/static/*" matches "/static/" (splat "") and
// "/static/a/b" (splat "a/b"), but not "/static". The splat is reported as
// a param named "*". Trailing slashes are strict: "/users/:id" matches
// "/users/42" only and "/users/:id/" matches "/users/42/" only. A segment
// that merely contains ":" or "*" ("a:b", "*.png") is literal; an EXACT
// route is always literal. Paths are compared as bytes: decoding %XX,
// merging slashes and resolving dot segments is the caller's job.
//
// Precedence. Candidates are considered in this order:
//
//   1. exact routes (one hash lookup), in the order written;
//   2. pattern routes, most specific first: comparing segment by segment
//      from the left, a literal segment beats a ":param", which beats "*";
//      patterns that differ only in param names, or are written twice,
//      keep the order written;
//   3. regex routes, in the order written;
//   4. prefix routes, longest prefix first; the same prefix written twice
//      keeps the order written.
//
// A candidate is accepted when all its header conditions hold and its
// methods (0 = any) include the request method. A candidate whose header
// conditions fail is skipped silently. A candidate that matched the path
// and headers but not the method is skipped too, but its methods are
// remembered: lower-precedence candidates are still tried, and only when
// no candidate at all accepts does find() return 405 with allowed = the
// union of the remembered methods. So with "route /api/users/:id {methods
// GET}" and "route /" (any method), "DELETE /api/users/7" goes to "/";
// without the catch-all it gets 405, Allow: GET. When no candidate matched
// path and headers, find() returns ZP_DECLINED.
//
// Cost. Exact routes are a hash lookup on the path. Pattern routes live in
// a segment trie: a node has its literal children in one router-wide hash
// keyed by (node, segment), one param child and a list of "*" routes; the
// walk tries literal, then param, then "*" at each depth, going back up
// only when a deeper branch found no accepted route. Every trie node is
// visited at most once per lookup (a node fixes the segment it consumes),
// so the work is bounded by the nodes whose patterns fit the path - in
// practice a handful - and not by the number of routes. Prefix routes live
// in a byte-level radix tree walked once along the path, O(path length).
// Regex routes are tried one by one: linear in their number, so keep them
// few. Nothing is allocated per lookup.

#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_http_router.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

typedef struct zp_http_route_s        zp_http_route_t;
typedef struct zp_http_router_tnode_s zp_http_router_tnode_t;
typedef struct zp_http_router_pnode_s zp_http_router_pnode_t;

/* An added route, in router memory. */
struct zp_http_route_s {
    zp_str_t                pattern;
    zp_uint_t               type;
    zp_uint_t               methods;
    zp_uint_t               order;
    void                   *data;
    zp_http_route_header_t *headers; /* names lower-case, regexes compiled */
    zp_uint_t               nheaders;
    pcre2_code             *re;
    zp_uint_t               nparams; /* the splat included */
    zp_str_t               *param_names;
    zp_http_route_t        *next;     /* same rank: the next one written */
    zp_http_route_t        *dup_next; /* same type and pattern, for add() */
};

/* A pattern trie node; literal children are in rt->edges. */
struct zp_http_router_tnode_s {
    zp_http_router_tnode_t *param;
    zp_http_route_t        *end;  /* patterns ending here */
    zp_http_route_t        *wild; /* patterns with a final "*" segment here */
    zp_uint_t               nlit; /* literal children */
};

/* A prefix radix node: the edge label leading to it, and its children
 * sorted by their first byte (first[] mirrors it for the search). */
struct zp_http_router_pnode_s {
    u_char                  *label;
    size_t                   len;
    zp_http_router_pnode_t **children;
    u_char                  *first;
    zp_uint_t                nchildren;
    zp_uint_t                nalloc;
    zp_http_route_t         *routes;
};

/* An open-addressing hash slot; value NULL marks an empty slot. */
typedef struct {
    zp_uint_t hash;
    void     *owner;
    u_char   *key;
    size_t    len;
    void     *value;
} zp_http_router_slot_t;

typedef struct {
    zp_http_router_slot_t *slots;
    zp_uint_t              mask;
    zp_uint_t              nelts;
} zp_http_router_htab_t;

struct zp_http_router_s {
    zp_pool_t *pool;
    zp_log_t  *log;

    zp_uint_t nroutes;
    zp_uint_t counts[ZP_HTTP_ROUTE_REGEX_CASELESS + 1];

    zp_http_router_htab_t exact; /* path -> zp_http_route_t chain */
    zp_http_router_htab_t edges; /* (tnode, segment) -> tnode */
    zp_http_router_htab_t dedup; /* (type, pattern) -> route, for add() */

    zp_http_router_tnode_t *root;
    zp_uint_t               npatterns;
    zp_http_router_pnode_t *proot;
    zp_uint_t               nprefixes;

    zp_array_t        regex_routes; /* zp_http_route_t * */
    zp_http_route_t **regexes;
    zp_uint_t         nregexes;
    zp_uint_t         max_groups;

    zp_array_t        codes; /* pcre2_code *, freed by the cleanup */
    pcre2_match_data *md;    /* route regexes */
    pcre2_match_data *hmd;   /* header regexes */

    unsigned jit : 1;
    unsigned compiled : 1;
};

/* What one lookup carries down the walks. */
typedef struct {
    zp_http_router_t        *rt;
    zp_str_t                *path;
    zp_uint_t                method;
    zp_http_router_header_pt get_header;
    void                    *ctx;
    zp_uint_t                allowed; /* methods of path matches refused by method */
    zp_uint_t                nvals;
    zp_str_t                 vals[ZP_HTTP_ROUTE_MAX_PARAMS];
} zp_http_router_state_t;


static void zp_http_router_cleanup(void *data);


/* ---------------------------------------------------------------- hash */

static inline zp_uint_t
zp_http_router_hash(u_char *p, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    while (len--) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }

    return (zp_uint_t)h;
}


static inline zp_uint_t
zp_http_router_mix(zp_uint_t h, void *owner)
{
    return h ^ (zp_uint_t)((uint64_t)(uintptr_t)owner * 0x9e3779b97f4a7c15ULL);
}


static inline zp_uint_t
zp_http_router_slot_index(zp_http_router_htab_t *tab, zp_uint_t h)
{
    return (h ^ (h >> 29)) & tab->mask;
}


static zp_http_router_slot_t *
zp_http_router_htab_find(zp_http_router_htab_t *tab, void *owner, zp_uint_t h, u_char *key,
                         size_t len)
{
    zp_uint_t              i;
    zp_http_router_slot_t *s;

    if (tab->nelts == 0) {
        return NULL;
    }

    for (i = zp_http_router_slot_index(tab, h); /* void */; i = (i + 1) & tab->mask) {
        s = &tab->slots[i];

        if (s->value == NULL) {
            return NULL;
        }

        if (s->hash == h && s->owner == owner && s->len == len &&
            (len == 0 || zp_memcmp(s->key, key, len) == 0)) {
            return s;
        }
    }
}


static zp_int_t
zp_http_router_htab_grow(zp_pool_t *pool, zp_http_router_htab_t *tab)
{
    zp_uint_t              i, j, size, mask;
    zp_http_router_slot_t *slots, *s;

    size  = tab->slots ? 2 * (tab->mask + 1) : 16;
    mask  = size - 1;
    slots = zp_pcalloc(pool, size * sizeof(zp_http_router_slot_t));
    if (slots == NULL) {
        return ZP_ERROR;
    }

    for (i = 0; tab->slots && i <= tab->mask; i++) {
        s = &tab->slots[i];
        if (s->value == NULL) {
            continue;
        }

        for (j = (s->hash ^ (s->hash >> 29)) & mask; slots[j].value; j = (j + 1) & mask) {
            /* void */
        }

        slots[j] = *s;
    }

    /* the old table stays in the pool: this is configuration time */
    tab->slots = slots;
    tab->mask  = mask;

    return ZP_OK;
}


/* Finds the slot of key, or adds an empty one (value NULL) that the
 * caller must fill at once. NULL on allocation failure. */
static zp_http_router_slot_t *
zp_http_router_htab_insert(zp_pool_t *pool, zp_http_router_htab_t *tab, void *owner, zp_uint_t h,
                           u_char *key, size_t len)
{
    zp_uint_t              i;
    zp_http_router_slot_t *s;

    s = zp_http_router_htab_find(tab, owner, h, key, len);
    if (s) {
        return s;
    }

    if (tab->slots == NULL || 2 * (tab->nelts + 1) > tab->mask + 1) {
        if (zp_http_router_htab_grow(pool, tab) != ZP_OK) {
            return NULL;
        }
    }

    for (i = zp_http_router_slot_index(tab, h); tab->slots[i].value; i = (i + 1) & tab->mask) {
        /* void */
    }

    s        = &tab->slots[i];
    s->hash  = h;
    s->owner = owner;
    s->key   = key;
    s->len   = len;
    tab->nelts++;

    return s;
}


/* ---------------------------------------------------------- creation */

zp_http_router_t *
zp_http_router_create(zp_pool_t *pool, zp_log_t *log)
{
    uint32_t           jit;
    zp_http_router_t  *rt;
    zp_pool_cleanup_t *cln;

    rt = zp_pcalloc(pool, sizeof(zp_http_router_t));
    if (rt == NULL) {
        return NULL;
    }

    rt->pool = pool;
    rt->log  = log;

    rt->root  = zp_pcalloc(pool, sizeof(zp_http_router_tnode_t));
    rt->proot = zp_pcalloc(pool, sizeof(zp_http_router_pnode_t));
    if (rt->root == NULL || rt->proot == NULL) {
        return NULL;
    }

    if (zp_array_init(&rt->regex_routes, pool, 4, sizeof(zp_http_route_t *)) != ZP_OK ||
        zp_array_init(&rt->codes, pool, 4, sizeof(pcre2_code *)) != ZP_OK) {
        return NULL;
    }

    cln = zp_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = zp_http_router_cleanup;
    cln->data    = rt;

    jit = 0;
    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit) {
        rt->jit = 1;
    }

    return rt;
}


static void
zp_http_router_cleanup(void *data)
{
    zp_http_router_t *rt = data;
    pcre2_code      **code;
    zp_uint_t         i;

    code = rt->codes.elts;
    for (i = 0; i < rt->codes.nelts; i++) {
        pcre2_code_free(code[i]);
    }

    rt->codes.nelts = 0;

    if (rt->md) {
        pcre2_match_data_free(rt->md);
        rt->md = NULL;
    }

    if (rt->hmd) {
        pcre2_match_data_free(rt->hmd);
        rt->hmd = NULL;
    }
}


static zp_int_t
zp_http_router_error(char *err, size_t errlen, const char *fmt, ...)
{
    u_char *p;
    va_list args;

    if (err == NULL || errlen == 0) {
        return ZP_ERROR;
    }

    va_start(args, fmt);
    p = zp_vslprintf((u_char *)err, (u_char *)err + errlen - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return ZP_ERROR;
}


void
zp_http_route_header_init(zp_http_route_header_t *h, zp_str_t *name, zp_str_t *value)
{
    h->name = *name;
    h->re   = NULL;

    if (value == NULL) {
        h->type = ZP_HTTP_ROUTE_HEADER_PRESENT;
        zp_str_null(&h->value);
        return;
    }

    h->value = *value;

    if (value->len >= 2 && value->data[0] == '~' && value->data[1] == '*') {
        h->type = ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS;
        h->value.data += 2;
        h->value.len -= 2;

    } else if (value->len >= 1 && value->data[0] == '~') {
        h->type = ZP_HTTP_ROUTE_HEADER_REGEX;
        h->value.data += 1;
        h->value.len -= 1;

    } else {
        h->type = ZP_HTTP_ROUTE_HEADER_EXACT;
    }
}


zp_uint_t
zp_http_router_count(zp_http_router_t *rt, zp_uint_t type)
{
    if (type == 0) {
        return rt->nroutes;
    }

    return type < zp_nelems(rt->counts) ? rt->counts[type] : 0;
}


/* --------------------------------------------------------------- add */

static pcre2_code *
zp_http_router_regex(zp_http_router_t *rt, zp_str_t *re, zp_uint_t caseless, const char *what,
                     char *err, size_t errlen)
{
    int           errcode;
    PCRE2_SIZE    erroff;
    PCRE2_UCHAR   msg[128];
    pcre2_code   *code, **slot;
    static u_char empty[1];

    code = pcre2_compile(re->len ? re->data : empty, re->len, caseless ? PCRE2_CASELESS : 0,
                         &errcode, &erroff, NULL);
    if (code == NULL) {
        (void)pcre2_get_error_message(errcode, msg, sizeof(msg));
        zp_http_router_error(err, errlen, "%s \"%V\" does not compile: %s at offset %uz", what, re,
                             (char *)msg, (size_t)erroff);
        return NULL;
    }

    slot = zp_array_push(&rt->codes);
    if (slot == NULL) {
        pcre2_code_free(code);
        zp_http_router_error(err, errlen, "out of memory");
        return NULL;
    }

    *slot = code;

    /* without JIT (or if it fails for this pattern) pcre2_match() interprets */
    if (rt->jit) {
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }

    return code;
}


static zp_int_t
zp_http_router_param_name(zp_str_t *name)
{
    size_t i;
    u_char c;

    if (name->len == 0) {
        return ZP_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (i > 0 && c >= '0' && c <= '9')) {
            continue;
        }

        return ZP_ERROR;
    }

    return ZP_OK;
}


/* Ends of the segment starting at pos: the next "/" or the path's end. */
static inline size_t
zp_http_router_segment_end(u_char *p, size_t len, size_t pos)
{
    u_char *e;

    e = (pos < len) ? memchr(p + pos, '/', len - pos) : NULL;

    return e ? (size_t)(e - p) : len;
}


/*
 * Checks a non-regex pattern and, for a PREFIX with ":name" or "*"
 * segments, turns it into a PATTERN with its param names.
 */
static zp_int_t
zp_http_router_parse(zp_http_router_t *rt, zp_http_route_t *r, char *err, size_t errlen)
{
    u_char   *p;
    size_t    len, pos, end;
    zp_str_t  seg, names[ZP_HTTP_ROUTE_MAX_PARAMS];
    zp_uint_t n, i, dynamic;

    p   = r->pattern.data;
    len = r->pattern.len;

    if (len == 0 || p[0] != '/') {
        return zp_http_router_error(err, errlen, "route \"%V\" does not start with \"/\"",
                                    &r->pattern);
    }

    if (r->type == ZP_HTTP_ROUTE_EXACT) {
        return ZP_OK;
    }

    dynamic = 0;

    for (pos = 1; pos <= len; pos = end + 1) {
        end = zp_http_router_segment_end(p, len, pos);

        if ((end > pos && p[pos] == ':') || (end == pos + 1 && p[pos] == '*')) {
            dynamic = 1;
            break;
        }
    }

    if (!dynamic) {
        if (r->type == ZP_HTTP_ROUTE_PATTERN) {
            return zp_http_router_error(
                err, errlen, "route \"%V\" has no \":name\" or \"*\" segment", &r->pattern);
        }

        return ZP_OK;
    }

    r->type = ZP_HTTP_ROUTE_PATTERN;
    n       = 0;

    for (pos = 1; pos <= len; pos = end + 1) {
        end      = zp_http_router_segment_end(p, len, pos);
        seg.data = p + pos;
        seg.len  = end - pos;

        if (seg.len == 0) {
            if (end == len) {
                break; /* a trailing slash */
            }

            return zp_http_router_error(err, errlen, "empty segment in route \"%V\"", &r->pattern);
        }

        if (seg.len == 1 && seg.data[0] == '*') {
            if (end != len) {
                return zp_http_router_error(
                    err, errlen, "\"*\" is not the last segment of route \"%V\"", &r->pattern);
            }

            if (n == ZP_HTTP_ROUTE_MAX_PARAMS) {
                goto too_many;
            }

            zp_str_set(&names[n], ZP_HTTP_ROUTE_SPLAT);
            n++;
            break;
        }

        if (seg.data[0] != ':') {
            continue;
        }

        seg.data++;
        seg.len--;

        if (zp_http_router_param_name(&seg) != ZP_OK) {
            return zp_http_router_error(err, errlen, "invalid param name \":%V\" in route \"%V\"",
                                        &seg, &r->pattern);
        }

        for (i = 0; i < n; i++) {
            if (zp_str_eq(&names[i], &seg)) {
                return zp_http_router_error(err, errlen, "duplicate param \":%V\" in route \"%V\"",
                                            &seg, &r->pattern);
            }
        }

        if (n == ZP_HTTP_ROUTE_MAX_PARAMS) {
            goto too_many;
        }

        names[n++] = seg;
    }

    r->param_names = zp_palloc(rt->pool, n * sizeof(zp_str_t));
    if (r->param_names == NULL) {
        return zp_http_router_error(err, errlen, "out of memory");
    }

    zp_memcpy(r->param_names, names, n * sizeof(zp_str_t));
    r->nparams = n;

    return ZP_OK;

too_many:

    return zp_http_router_error(err, errlen, "more than %d params in route \"%V\"",
                                ZP_HTTP_ROUTE_MAX_PARAMS, &r->pattern);
}


static zp_int_t
zp_http_router_headers(zp_http_router_t *rt, zp_http_route_t *r, zp_array_t *headers, char *err,
                       size_t errlen)
{
    zp_uint_t               i;
    zp_http_route_header_t *src, *dst;

    if (headers == NULL || headers->nelts == 0) {
        return ZP_OK;
    }

    src = headers->elts;
    dst = zp_pcalloc(rt->pool, headers->nelts * sizeof(zp_http_route_header_t));
    if (dst == NULL) {
        return zp_http_router_error(err, errlen, "out of memory");
    }

    for (i = 0; i < headers->nelts; i++) {
        if (src[i].name.len == 0) {
            return zp_http_router_error(err, errlen, "empty header name in route \"%V\"",
                                        &r->pattern);
        }

        if (src[i].type < ZP_HTTP_ROUTE_HEADER_PRESENT ||
            src[i].type > ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS) {
            return zp_http_router_error(err, errlen,
                                        "invalid condition on header \"%V\" in route \"%V\"",
                                        &src[i].name, &r->pattern);
        }

        dst[i].type      = src[i].type;
        dst[i].data      = src[i].data;
        dst[i].name.len  = src[i].name.len;
        dst[i].name.data = zp_pnalloc(rt->pool, src[i].name.len);
        if (dst[i].name.data == NULL) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        zp_strlow(dst[i].name.data, src[i].name.data, src[i].name.len);

        if (src[i].type == ZP_HTTP_ROUTE_HEADER_PRESENT) {
            continue;
        }

        dst[i].value.len  = src[i].value.len;
        dst[i].value.data = src[i].value.len ? zp_pstrdup(rt->pool, &src[i].value) : NULL;
        if (src[i].value.len && dst[i].value.data == NULL) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        if (src[i].type == ZP_HTTP_ROUTE_HEADER_EXACT) {
            continue;
        }

        dst[i].re = zp_http_router_regex(rt, &dst[i].value,
                                         src[i].type == ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS,
                                         "header regex", err, errlen);
        if (dst[i].re == NULL) {
            return ZP_ERROR;
        }
    }

    r->headers  = dst;
    r->nheaders = headers->nelts;

    return ZP_OK;
}


static void
zp_http_router_append(zp_http_route_t **list, zp_http_route_t *r)
{
    while (*list) {
        list = &(*list)->next;
    }

    *list = r;
}


static zp_int_t
zp_http_router_add_pattern(zp_http_router_t *rt, zp_http_route_t *r)
{
    u_char                 *p;
    size_t                  len, pos, end;
    zp_uint_t               h;
    zp_http_router_slot_t  *s;
    zp_http_router_tnode_t *node, *child;

    p    = r->pattern.data;
    len  = r->pattern.len;
    node = rt->root;

    for (pos = 1; /* void */; pos = end + 1) {
        end = zp_http_router_segment_end(p, len, pos);

        if (end == pos + 1 && p[pos] == '*') {
            zp_http_router_append(&node->wild, r);
            return ZP_OK;
        }

        if (end > pos && p[pos] == ':') {
            if (node->param == NULL) {
                node->param = zp_pcalloc(rt->pool, sizeof(zp_http_router_tnode_t));
                if (node->param == NULL) {
                    return ZP_ERROR;
                }
            }

            node = node->param;

        } else {
            h = zp_http_router_mix(zp_http_router_hash(p + pos, end - pos), node);
            s = zp_http_router_htab_insert(rt->pool, &rt->edges, node, h, p + pos, end - pos);
            if (s == NULL) {
                return ZP_ERROR;
            }

            if (s->value == NULL) {
                child = zp_pcalloc(rt->pool, sizeof(zp_http_router_tnode_t));
                if (child == NULL) {
                    rt->edges.nelts--; /* never filled: leave the slot empty */
                    return ZP_ERROR;
                }

                s->value = child;
                node->nlit++;
            }

            node = s->value;
        }

        if (end == len) {
            break;
        }
    }

    zp_http_router_append(&node->end, r);

    return ZP_OK;
}


static zp_http_router_pnode_t *
zp_http_router_pchild(zp_http_router_pnode_t *node, u_char c, zp_uint_t *index)
{
    zp_uint_t lo, hi, mid;

    lo = 0;
    hi = node->nchildren;

    while (lo < hi) {
        mid = (lo + hi) / 2;

        if (node->first[mid] < c) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (index) {
        *index = lo;
    }

    return (lo < node->nchildren && node->first[lo] == c) ? node->children[lo] : NULL;
}


static zp_int_t
zp_http_router_pinsert_child(zp_pool_t *pool, zp_http_router_pnode_t *node, zp_uint_t i,
                             zp_http_router_pnode_t *child)
{
    zp_uint_t                n;
    u_char                  *first;
    zp_http_router_pnode_t **children;

    if (node->nchildren == node->nalloc) {
        n        = node->nalloc ? 2 * node->nalloc : 2;
        children = zp_palloc(pool, n * sizeof(zp_http_router_pnode_t *));
        first    = zp_pnalloc(pool, n);
        if (children == NULL || first == NULL) {
            return ZP_ERROR;
        }

        if (node->nchildren) {
            zp_memcpy(children, node->children, node->nchildren * sizeof(void *));
            zp_memcpy(first, node->first, node->nchildren);
        }

        node->children = children;
        node->first    = first;
        node->nalloc   = n;
    }

    zp_memmove(&node->children[i + 1], &node->children[i], (node->nchildren - i) * sizeof(void *));
    zp_memmove(&node->first[i + 1], &node->first[i], node->nchildren - i);

    node->children[i] = child;
    node->first[i]    = child->label[0];
    node->nchildren++;

    return ZP_OK;
}


static zp_int_t
zp_http_router_add_prefix(zp_http_router_t *rt, zp_http_route_t *r)
{
    u_char                 *s;
    size_t                  len, i, common;
    zp_uint_t               index;
    zp_http_router_pnode_t *node, *child, *mid;

    s    = r->pattern.data;
    len  = r->pattern.len;
    node = rt->proot;
    i    = 0;

    while (i < len) {
        child = zp_http_router_pchild(node, s[i], &index);

        if (child == NULL) {
            child = zp_pcalloc(rt->pool, sizeof(zp_http_router_pnode_t));
            if (child == NULL) {
                return ZP_ERROR;
            }

            child->label = s + i;
            child->len   = len - i;

            if (zp_http_router_pinsert_child(rt->pool, node, index, child) != ZP_OK) {
                return ZP_ERROR;
            }

            node = child;
            break;
        }

        for (common = 0; common < child->len && i + common < len; common++) {
            if (child->label[common] != s[i + common]) {
                break;
            }
        }

        if (common < child->len) {
            /* split the edge: node -> mid (common part) -> child (the rest) */
            mid = zp_pcalloc(rt->pool, sizeof(zp_http_router_pnode_t));
            if (mid == NULL) {
                return ZP_ERROR;
            }

            mid->label = child->label;
            mid->len   = common;

            child->label += common;
            child->len -= common;

            if (zp_http_router_pinsert_child(rt->pool, mid, 0, child) != ZP_OK) {
                return ZP_ERROR;
            }

            node->children[index] = mid;
            child                 = mid;
        }

        node = child;
        i += common;
    }

    zp_http_router_append(&node->routes, r);

    return ZP_OK;
}


zp_int_t
zp_http_router_add(zp_http_router_t *rt, zp_http_route_def_t *def, char *err, size_t errlen)
{
    uint32_t               ngroups;
    zp_uint_t              h, regex, dup;
    zp_http_route_t       *r, *d, **slot;
    zp_http_router_slot_t *s;

    if (rt->compiled) {
        return zp_http_router_error(err, errlen, "router already compiled");
    }

    if (def->type < ZP_HTTP_ROUTE_EXACT || def->type > ZP_HTTP_ROUTE_REGEX_CASELESS) {
        return zp_http_router_error(err, errlen, "invalid route type %ui for \"%V\"", def->type,
                                    &def->pattern);
    }

    r = zp_pcalloc(rt->pool, sizeof(zp_http_route_t));
    if (r == NULL) {
        return zp_http_router_error(err, errlen, "out of memory");
    }

    r->type        = def->type;
    r->methods     = def->methods;
    r->data        = def->data;
    r->order       = rt->nroutes;
    r->pattern.len = def->pattern.len;

    /* +1: never a NULL data pointer, even for an empty pattern */
    r->pattern.data = zp_pnalloc(rt->pool, def->pattern.len + 1);
    if (r->pattern.data == NULL) {
        return zp_http_router_error(err, errlen, "out of memory");
    }

    if (def->pattern.len) {
        zp_memcpy(r->pattern.data, def->pattern.data, def->pattern.len);
    }

    regex = (r->type == ZP_HTTP_ROUTE_REGEX || r->type == ZP_HTTP_ROUTE_REGEX_CASELESS);

    if (!regex && zp_http_router_parse(rt, r, err, errlen) != ZP_OK) {
        return ZP_ERROR;
    }

    /* duplicates: same type, pattern and methods, no header conditions */

    dup = (def->headers == NULL || def->headers->nelts == 0);
    h   = zp_http_router_mix(zp_http_router_hash(r->pattern.data, r->pattern.len),
                             (void *)(uintptr_t)r->type);
    s   = zp_http_router_htab_find(&rt->dedup, (void *)(uintptr_t)r->type, h, r->pattern.data,
                                   r->pattern.len);

    for (d = s ? s->value : NULL; dup && d; d = d->dup_next) {
        if (d->methods == r->methods && d->nheaders == 0) {
            return zp_http_router_error(err, errlen, "duplicate route \"%V\"", &r->pattern);
        }
    }

    if (regex) {
        r->re = zp_http_router_regex(rt, &r->pattern, r->type == ZP_HTTP_ROUTE_REGEX_CASELESS,
                                     "route regex", err, errlen);
        if (r->re == NULL) {
            return ZP_ERROR;
        }
    }

    if (zp_http_router_headers(rt, r, def->headers, err, errlen) != ZP_OK) {
        return ZP_ERROR;
    }

    if (regex) {
        ngroups = 0;
        (void)pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &ngroups);
        rt->max_groups = zp_max(rt->max_groups, (zp_uint_t)ngroups);

        slot = zp_array_push(&rt->regex_routes);
        if (slot == NULL) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        *slot = r;
    }

    /* from here on the route is visible to lookups */

    s = zp_http_router_htab_insert(rt->pool, &rt->dedup, (void *)(uintptr_t)r->type, h,
                                   r->pattern.data, r->pattern.len);
    if (s == NULL) {
        return zp_http_router_error(err, errlen, "out of memory");
    }

    r->dup_next = s->value;
    s->value    = r;

    switch (r->type) {

    case ZP_HTTP_ROUTE_EXACT:
        h = zp_http_router_hash(r->pattern.data, r->pattern.len);
        s = zp_http_router_htab_insert(rt->pool, &rt->exact, NULL, h, r->pattern.data,
                                       r->pattern.len);
        if (s == NULL) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        if (s->value == NULL) {
            s->value = r;

        } else {
            zp_http_router_append((zp_http_route_t **)&s->value, r);
        }

        break;

    case ZP_HTTP_ROUTE_PATTERN:
        if (zp_http_router_add_pattern(rt, r) != ZP_OK) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        rt->npatterns++;
        break;

    case ZP_HTTP_ROUTE_PREFIX:
        if (zp_http_router_add_prefix(rt, r) != ZP_OK) {
            return zp_http_router_error(err, errlen, "out of memory");
        }

        rt->nprefixes++;
        break;

    default: /* regexes: already listed */
        break;
    }

    rt->counts[r->type]++;
    rt->nroutes++;

    return ZP_OK;
}


zp_int_t
zp_http_router_compile(zp_http_router_t *rt)
{
    if (rt->compiled) {
        return ZP_OK;
    }

    rt->regexes  = rt->regex_routes.elts;
    rt->nregexes = rt->regex_routes.nelts;

    /* room for every group of every route regex: pcre2_match() never
     * returns 0 ("ovector too small") and the captures are all there */
    rt->md  = pcre2_match_data_create((uint32_t)rt->max_groups + 1, NULL);
    rt->hmd = pcre2_match_data_create(1, NULL);

    if (rt->md == NULL || rt->hmd == NULL) {
        zp_log_error(ZP_LOG_EMERG, rt->log, 0, "pcre2_match_data_create() failed");
        return ZP_ERROR;
    }

    rt->compiled = 1;

    return ZP_OK;
}


/* ------------------------------------------------------------ lookup */

static zp_uint_t
zp_http_router_headers_ok(zp_http_router_state_t *st, zp_http_route_t *r)
{
    int                     rc;
    zp_str_t               *v;
    zp_uint_t               i;
    zp_http_route_header_t *h;
    static u_char           empty[1];

    for (i = 0; i < r->nheaders; i++) {
        h = &r->headers[i];
        v = st->get_header ? st->get_header(st->ctx, &h->name, h->data) : NULL;

        if (v == NULL) {
            return 0;
        }

        switch (h->type) {

        case ZP_HTTP_ROUTE_HEADER_PRESENT:
            break;

        case ZP_HTTP_ROUTE_HEADER_EXACT:
            if (!zp_str_eq(v, &h->value)) {
                return 0;
            }

            break;

        default:
            rc = pcre2_match(h->re, v->len ? v->data : empty, v->len, 0, 0, st->rt->hmd, NULL);

            if (rc < 0) {
                if (rc != PCRE2_ERROR_NOMATCH) {
                    zp_log_error(ZP_LOG_ERR, st->rt->log, 0,
                                 "pcre2_match() failed: %d on header \"%V\"", rc, &h->name);
                }

                return 0;
            }

            break;
        }
    }

    return 1;
}


/* The first route of list that headers and method accept, or NULL;
 * routes refused only by the method add their methods to st->allowed. */
static zp_http_route_t *
zp_http_router_try(zp_http_router_state_t *st, zp_http_route_t *r)
{
    for (/* void */; r; r = r->next) {
        if (r->nheaders && !zp_http_router_headers_ok(st, r)) {
            continue;
        }

        if (r->methods && (r->methods & st->method) == 0) {
            st->allowed |= r->methods;
            continue;
        }

        return r;
    }

    return NULL;
}


/*
 * The pattern trie walk for the segment starting at pos (just after a
 * "/"): literal child, then param child, then "*" routes. Param values are
 * pushed on st->vals and stay there for the route returned. The depth is
 * that of the trie, and st->vals cannot overflow: a node under k param
 * edges exists only for a pattern with at least k params (<= the max).
 */
static zp_http_route_t *
zp_http_router_walk(zp_http_router_state_t *st, zp_http_router_tnode_t *node, size_t pos)
{
    u_char                 *p;
    size_t                  len, end;
    zp_uint_t               h;
    zp_http_route_t        *r;
    zp_http_router_slot_t  *s;
    zp_http_router_tnode_t *child;

    p   = st->path->data;
    len = st->path->len;
    end = zp_http_router_segment_end(p, len, pos);

    if (node->nlit) {
        h = zp_http_router_mix(zp_http_router_hash(p + pos, end - pos), node);
        s = zp_http_router_htab_find(&st->rt->edges, node, h, p + pos, end - pos);

        if (s) {
            child = s->value;
            r     = (end == len) ? zp_http_router_try(st, child->end)
                                 : zp_http_router_walk(st, child, end + 1);
            if (r) {
                return r;
            }
        }
    }

    if (node->param && end > pos) {
        st->vals[st->nvals].data = p + pos;
        st->vals[st->nvals].len  = end - pos;
        st->nvals++;

        r = (end == len) ? zp_http_router_try(st, node->param->end)
                         : zp_http_router_walk(st, node->param, end + 1);
        if (r) {
            return r;
        }

        st->nvals--;
    }

    if (node->wild) {
        st->vals[st->nvals].data = p + pos;
        st->vals[st->nvals].len  = len - pos;
        st->nvals++;

        r = zp_http_router_try(st, node->wild);
        if (r) {
            return r;
        }

        st->nvals--;
    }

    return NULL;
}


/* Longest prefix first: go down as far as the path allows, then try the
 * routes of each node on the way back up. */
static zp_http_route_t *
zp_http_router_prefix(zp_http_router_state_t *st, zp_http_router_pnode_t *node, size_t pos)
{
    u_char                 *p;
    size_t                  len;
    zp_http_route_t        *r;
    zp_http_router_pnode_t *child;

    p   = st->path->data;
    len = st->path->len;

    if (pos < len && node->nchildren) {
        child = zp_http_router_pchild(node, p[pos], NULL);

        if (child && child->len <= len - pos && zp_memcmp(child->label, p + pos, child->len) == 0) {
            r = zp_http_router_prefix(st, child, pos + child->len);
            if (r) {
                return r;
            }
        }
    }

    return node->routes ? zp_http_router_try(st, node->routes) : NULL;
}


static zp_http_route_t *
zp_http_router_regexes(zp_http_router_state_t *st, zp_http_route_match_t *m)
{
    int               rc;
    u_char           *subject;
    zp_uint_t         i, j, n;
    PCRE2_SIZE       *ov;
    zp_http_route_t  *r;
    zp_http_router_t *rt = st->rt;
    static u_char     empty[1];

    subject = st->path->len ? st->path->data : empty;

    for (i = 0; i < rt->nregexes; i++) {
        r  = rt->regexes[i];
        rc = pcre2_match(r->re, subject, st->path->len, 0, 0, rt->md, NULL);

        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) {
                zp_log_error(ZP_LOG_ERR, rt->log, 0, "pcre2_match() failed: %d on route \"%V\"", rc,
                             &r->pattern);
            }

            continue;
        }

        if (zp_http_router_try(st, r) == NULL) {
            continue;
        }

        /* header regexes use their own match data: rt->md still holds ours */
        n  = zp_min((zp_uint_t)rc, (zp_uint_t)ZP_HTTP_ROUTE_MAX_CAPTURES);
        ov = pcre2_get_ovector_pointer(rt->md);

        for (j = 0; j < 2 * n; j++) {
            m->captures[j] = (ov[j] == PCRE2_UNSET) ? -1 : (int)ov[j];
        }

        m->ncaptures = n;

        return r;
    }

    return NULL;
}


zp_int_t
zp_http_router_find(zp_http_router_t *rt, zp_str_t *path, zp_uint_t method,
                    zp_http_router_header_pt get_header, void *ctx, zp_http_route_match_t *m)
{
    zp_uint_t              i, rooted;
    zp_http_route_t       *r;
    zp_http_router_slot_t *s;
    zp_http_router_state_t st;

    m->data      = NULL;
    m->nparams   = 0;
    m->ncaptures = 0;
    m->allowed   = 0;

    if (!rt->compiled) {
        return ZP_DECLINED;
    }

    st.rt         = rt;
    st.path       = path;
    st.method     = method;
    st.get_header = get_header;
    st.ctx        = ctx;
    st.allowed    = 0;
    st.nvals      = 0;

    /* every non-regex route starts with "/" */
    rooted = (path->len > 0 && path->data[0] == '/');
    r      = NULL;

    if (rooted && rt->exact.nelts) {
        s = zp_http_router_htab_find(&rt->exact, NULL, zp_http_router_hash(path->data, path->len),
                                     path->data, path->len);
        if (s) {
            r = zp_http_router_try(&st, s->value);
        }
    }

    if (r == NULL && rooted && rt->npatterns) {
        r = zp_http_router_walk(&st, rt->root, 1);

        if (r) {
            for (i = 0; i < r->nparams; i++) {
                m->param_names[i]  = r->param_names[i];
                m->param_values[i] = st.vals[i];
            }

            m->nparams = r->nparams;
        }
    }

    if (r == NULL && rt->nregexes) {
        r = zp_http_router_regexes(&st, m);
    }

    if (r == NULL && rooted && rt->nprefixes) {
        r = zp_http_router_prefix(&st, rt->proot, 0);
    }

    if (r) {
        m->data = r->data;
        return ZP_OK;
    }

    if (st.allowed) {
        m->allowed = st.allowed;
        return ZP_HTTP_NOT_ALLOWED;
    }

    return ZP_DECLINED;
}
