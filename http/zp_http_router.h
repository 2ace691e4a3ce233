/*
 * zp_http_router.h: a server's route table, independent of the request
 * object.
 *
 * The config parser adds the routes of a server block in the order they
 * are written (zp_http_router_add()), then calls zp_http_router_compile()
 * once; the worker calls zp_http_router_find() per request with the
 * normalized path, the method bit and a header callback. The precedence
 * rules are described at the top of zp_http_router.c.
 */
#ifndef ZP_HTTP_ROUTER_H
#define ZP_HTTP_ROUTER_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct zp_http_router_s zp_http_router_t;

/* route types, as declared */
#define ZP_HTTP_ROUTE_EXACT          1 /* route = /health */
#define ZP_HTTP_ROUTE_PREFIX         2 /* route /api/ */
#define ZP_HTTP_ROUTE_PATTERN        3 /* has :param or * segments */
#define ZP_HTTP_ROUTE_REGEX          4 /* route ~ ^/v(\d+)/ */
#define ZP_HTTP_ROUTE_REGEX_CASELESS 5 /* route ~* \.png$ */

/* params of a pattern, the final "*" included */
#define ZP_HTTP_ROUTE_MAX_PARAMS 16

/* regex captures reported: $0..$9 */
#define ZP_HTTP_ROUTE_MAX_CAPTURES 10

/* header condition types */
#define ZP_HTTP_ROUTE_HEADER_PRESENT        1 /* match_header X-Debug */
#define ZP_HTTP_ROUTE_HEADER_EXACT          2 /* match_header X-Env prod */
#define ZP_HTTP_ROUTE_HEADER_REGEX          3 /* match_header Authorization "~^Bearer " */
#define ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS 4 /* match_header Accept "~*json" */

/* Method bits; the request parser may define the same values first. */
#ifndef ZP_HTTP_GET
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
#endif

/* The name for the rest of the path matched by a final "*" segment. */
#define ZP_HTTP_ROUTE_SPLAT "*"

typedef struct {
    zp_str_t  name;  /* any case; the router keeps a lower-case copy */
    zp_str_t  value; /* EXACT: the value; REGEX*: the regex without "~" / "~*" */
    zp_uint_t type;  /* ZP_HTTP_ROUTE_HEADER_* */
    void     *re;    /* unused by the caller: the router compiles its own copy */
    uintptr_t data;  /* the caller's, handed back to get_header */
} zp_http_route_header_t;

typedef struct {
    zp_str_t  pattern;   /* as written: "/users/:id" or "^/v(\d+)/" (no "~") */
    zp_uint_t type;      /* EXACT, PREFIX or REGEX*; a PREFIX with a ":name" or
                            "*" segment becomes PATTERN in zp_http_router_add();
                            PATTERN may be given, and then requires one */
    zp_uint_t methods;   /* ZP_HTTP_GET | ..., 0 = any; applied as given (no
                            implied HEAD for GET: the config layer adds it) */
    zp_array_t *headers; /* zp_http_route_header_t, or NULL */
    void       *data;    /* the caller's route object, returned by find */
} zp_http_route_def_t;

/* Returns the header's value, or NULL when the request has none.
 * lowcase_name is the lower-cased header name, data the condition's own
 * (zp_http_route_header_t.data). */
typedef zp_str_t *(*zp_http_router_header_pt)(void *ctx, zp_str_t *lowcase_name, uintptr_t data);

typedef struct {
    void     *data; /* the matched route's data */
    zp_uint_t nparams;
    zp_str_t  param_names[ZP_HTTP_ROUTE_MAX_PARAMS];    /* "*" for the splat */
    zp_str_t  param_values[ZP_HTTP_ROUTE_MAX_PARAMS];   /* slices of the path */
    zp_uint_t ncaptures;                                /* regex: pairs, $0 included */
    int       captures[2 * ZP_HTTP_ROUTE_MAX_CAPTURES]; /* path offsets, -1 if unset */
    zp_uint_t allowed;                                  /* on 405: union of methods */
} zp_http_route_match_t;

/*
 * Creates an empty router in pool (usually the cycle's), which also owns
 * everything the router allocates later, the compiled regexes included
 * (freed by a pool cleanup). log receives compile-time and match-time
 * errors. Returns NULL on failure.
 */
zp_http_router_t *zp_http_router_create(zp_pool_t *pool, zp_log_t *log);

/*
 * Adds a route after the ones added before it (order written). def and
 * its strings may be temporary: the router copies what it keeps, except
 * def->data. Checks: non-regex patterns start with "/"; pattern segments
 * are non-empty except a trailing one ("/a/" is fine, "/a//b" is not),
 * ":name" uses [A-Za-z_][A-Za-z0-9_]* and is unique in its pattern, "*" is
 * the last segment, at most ZP_HTTP_ROUTE_MAX_PARAMS params; regexes and
 * header regexes compile; the same type + pattern + methods without header
 * conditions twice is "duplicate route". Returns ZP_OK, or ZP_ERROR with a
 * NUL-terminated message in err (errlen bytes, may be 0) and the router
 * unchanged for lookups.
 */
zp_int_t zp_http_router_add(zp_http_router_t *rt, zp_http_route_def_t *def, char *err,
                            size_t errlen);

/*
 * Finishes the lookup structures after the last add: ZP_OK or ZP_ERROR
 * (allocation). No route can be added afterwards.
 */
zp_int_t zp_http_router_compile(zp_http_router_t *rt);

/*
 * Finds the route for path (normalized, without the query) and method (one
 * ZP_HTTP_* bit). get_header may be NULL (every header is then absent).
 * Returns ZP_OK with m filled, ZP_HTTP_NOT_ALLOWED (405) with m->allowed
 * when routes matched the path and headers but none allowed the method,
 * or ZP_DECLINED. m's slices point into path. Does not allocate; uses
 * per-router pcre2 match data, so one router must not be searched from two
 * threads at once.
 */
zp_int_t zp_http_router_find(zp_http_router_t *rt, zp_str_t *path, zp_uint_t method,
                             zp_http_router_header_pt get_header, void *ctx,
                             zp_http_route_match_t *m);

/*
 * A helper for the config parser: fills h from a match_header directive's
 * arguments. value NULL: presence; "~re": regex; "~*re": caseless regex;
 * anything else: exact value. The strings are referenced, not copied.
 */
void zp_http_route_header_init(zp_http_route_header_t *h, zp_str_t *name, zp_str_t *value);

/* Route counts, for logs and tests. */
zp_uint_t zp_http_router_count(zp_http_router_t *rt, zp_uint_t type);

#endif /* ZP_HTTP_ROUTER_H */
