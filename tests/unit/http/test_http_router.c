/*
 * test_http_router.c: zp_http_router.c.
 */
#include "zpt_unit.h"

#include <zp_http.h>
#include <zp_http_router.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define ZPT_ANY_METHOD 0

#define ZPT_GPD (ZP_HTTP_GET | ZP_HTTP_PUT | ZP_HTTP_DELETE)


/* ------------------------------------------------------------ helpers */

typedef struct {
    const char *name; /* lower case: the router must ask in lower case */
    const char *value;
} zpt_hdr_t;

typedef struct {
    zpt_hdr_t *h;
    zp_uint_t  n;
    zp_str_t   v;
} zpt_hdrs_t;


static zp_str_t *
zpt_get_header(void *ctx, zp_str_t *name, uintptr_t data)
{
    (void) data;

    zp_uint_t   i;
    zpt_hdrs_t *hs = ctx;

    for (i = 0; hs && i < hs->n; i++) {
        if (strlen(hs->h[i].name) == name->len &&
            memcmp(hs->h[i].name, name->data, name->len) == 0) {
            hs->v.data = (u_char *)hs->h[i].value;
            hs->v.len  = strlen(hs->h[i].value);
            return &hs->v;
        }
    }

    return NULL;
}


static zp_str_t
zpt_str(const char *s)
{
    zp_str_t str;

    str.data = (u_char *)s;
    str.len  = strlen(s);

    return str;
}


/* Adds a condition as match_header would: value NULL, "~re", "~*re" or a value. */
static zp_array_t *
zpt_cond(zp_pool_t *pool, zp_array_t *a, const char *name, const char *value)
{
    zp_str_t                n, v;
    zp_http_route_header_t *h;

    if (a == NULL) {
        a = zp_array_create(pool, 2, sizeof(zp_http_route_header_t));
        ck_assert_ptr_nonnull(a);
    }

    h = zp_array_push(a);
    ck_assert_ptr_nonnull(h);

    n = zpt_str(name);
    v = value ? zpt_str(value) : n;
    zp_http_route_header_init(h, &n, value ? &v : NULL);

    return a;
}


static zp_int_t
zpt_add_rc(zp_http_router_t *rt, zp_uint_t type, const char *pattern, zp_uint_t methods,
           zp_array_t *headers, void *data, char *err, size_t errlen)
{
    zp_http_route_def_t def;

    def.pattern = zpt_str(pattern);
    def.type    = type;
    def.methods = methods;
    def.headers = headers;
    def.data    = data;

    if (errlen) {
        err[0] = '\0';
    }

    return zp_http_router_add(rt, &def, err, errlen);
}


/* Adds a route named by its data string, failing the test on an error. */
static void
zpt_add(zp_http_router_t *rt, zp_uint_t type, const char *pattern, zp_uint_t methods,
        zp_array_t *headers, const char *name)
{
    char     err[256];
    zp_int_t rc;

    rc = zpt_add_rc(rt, type, pattern, methods, headers, (void *)name, err, sizeof(err));
    ck_assert_msg(rc == ZP_OK, "add \"%s\" failed: %s", pattern, err);
}


static void
zpt_add_err(zp_http_router_t *rt, zp_uint_t type, const char *pattern, zp_uint_t methods,
            zp_array_t *headers, const char *expect)
{
    char     err[256];
    zp_int_t rc;

    rc = zpt_add_rc(rt, type, pattern, methods, headers, (void *)"ERR", err, sizeof(err));
    ck_assert_msg(rc == ZP_ERROR, "add \"%s\" did not fail", pattern);
    ck_assert_msg(strstr(err, expect) != NULL, "add \"%s\": \"%s\" lacks \"%s\"", pattern, err,
                  expect);
}


static zp_http_router_t *
zpt_router(zp_pool_t *pool)
{
    zp_http_router_t *rt;

    rt = zp_http_router_create(pool, zpt_log);
    ck_assert_ptr_nonnull(rt);

    return rt;
}


static void
zpt_compile(zp_http_router_t *rt)
{
    ck_assert_int_eq(zp_http_router_compile(rt), ZP_OK);
}


static zp_int_t
zpt_find(zp_http_router_t *rt, const char *path, zp_uint_t method, zpt_hdrs_t *hs,
         zp_http_route_match_t *m)
{
    zp_str_t p = zpt_str(path);

    return zp_http_router_find(rt, &p, method, zpt_get_header, hs, m);
}


/* Expects path to route to the route named expect (NULL: ZP_DECLINED). */
static void
zpt_expect_h(zp_http_router_t *rt, zp_uint_t method, const char *path, zpt_hdrs_t *hs,
             const char *expect, zp_http_route_match_t *m)
{
    zp_int_t rc;

    rc = zpt_find(rt, path, method, hs, m);

    if (expect == NULL) {
        ck_assert_msg(rc == ZP_DECLINED, "\"%s\": expected no route, got rc %d (%s)", path, (int)rc,
                      rc == ZP_OK ? (char *)m->data : "-");
        return;
    }

    ck_assert_msg(rc == ZP_OK, "\"%s\": expected \"%s\", got rc %d", path, expect, (int)rc);
    ck_assert_msg(strcmp(m->data, expect) == 0, "\"%s\": expected \"%s\", got \"%s\"", path, expect,
                  (char *)m->data);
}


static void
zpt_expect(zp_http_router_t *rt, zp_uint_t method, const char *path, const char *expect,
           zp_http_route_match_t *m)
{
    zpt_expect_h(rt, method, path, NULL, expect, m);
}


static void
zpt_expect_405(zp_http_router_t *rt, zp_uint_t method, const char *path, zpt_hdrs_t *hs,
               zp_uint_t allowed)
{
    zp_int_t              rc;
    zp_http_route_match_t m;

    rc = zpt_find(rt, path, method, hs, &m);
    ck_assert_msg(rc == ZP_HTTP_NOT_ALLOWED, "\"%s\": expected 405, got %d", path, (int)rc);
    ck_assert_msg(m.allowed == allowed, "\"%s\": allowed 0x%lx, expected 0x%lx", path,
                  (unsigned long)m.allowed, (unsigned long)allowed);
    ck_assert_ptr_null(m.data);
}


static void
zpt_param(zp_http_route_match_t *m, zp_uint_t i, const char *name, const char *value)
{
    ck_assert_uint_gt(m->nparams, i);
    ck_assert_msg(m->param_names[i].len == strlen(name) &&
                      memcmp(m->param_names[i].data, name, strlen(name)) == 0,
                  "param %d: name \"%.*s\", expected \"%s\"", (int)i, (int)m->param_names[i].len,
                  m->param_names[i].data, name);
    ck_assert_msg(m->param_values[i].len == strlen(value) &&
                      (m->param_values[i].len == 0 ||
                       memcmp(m->param_values[i].data, value, strlen(value)) == 0),
                  "param %s: \"%.*s\", expected \"%s\"", name, (int)m->param_values[i].len,
                  m->param_values[i].data, value);
}


/* --------------------------------------------------------- the forms */

START_TEST(test_router_exact)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/health", 0, NULL, "health");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/Health", 0, NULL, "Health");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/a/:b", 0, NULL, "literal");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/m", ZP_HTTP_GET, NULL, "m-get");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/m", ZP_HTTP_POST, NULL, "m-post");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/", 0, NULL, "root");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/health", "health", &m);
    ck_assert_uint_eq(m.nparams, 0);
    ck_assert_uint_eq(m.ncaptures, 0);
    zpt_expect(rt, ZP_HTTP_GET, "/Health", "Health", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/HEALTH", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/health/", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/healthz", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/", "root", &m);
    zpt_expect(rt, ZP_HTTP_GET, "", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "health", NULL, &m);

    /* "=" routes are literal even with ":" */
    zpt_expect(rt, ZP_HTTP_GET, "/a/:b", "literal", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/a/x", NULL, &m);

    /* the same path twice, told apart by method */
    zpt_expect(rt, ZP_HTTP_GET, "/m", "m-get", &m);
    zpt_expect(rt, ZP_HTTP_POST, "/m", "m-post", &m);
    zpt_expect_405(rt, ZP_HTTP_PUT, "/m", NULL, ZP_HTTP_GET | ZP_HTTP_POST);

    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_EXACT), 6);
    ck_assert_uint_eq(zp_http_router_count(rt, 0), 6);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_prefix)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/", 0, NULL, "api");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/us", 0, NULL, "api-us");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/users/", 0, NULL, "users");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/x:y/", 0, NULL, "colon-literal");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/img/*.png", 0, NULL, "star-literal");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/api/users/1", "users", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/users/", "users", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/users", "api-us", &m); /* mid-segment prefix */
    zpt_expect(rt, ZP_HTTP_GET, "/api/usual", "api-us", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/us", "api-us", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/u", "api", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/", "api", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api", NULL, &m); /* trailing slash is part of the prefix */
    zpt_expect(rt, ZP_HTTP_GET, "/ap", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "api/users/", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/x:y/z", "colon-literal", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/img/*.png/a", "star-literal", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/img/a.png", NULL, &m);
    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_PREFIX), 5);
    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_PATTERN), 0);

    zp_destroy_pool(pool);
}
END_TEST


/* Radix edges split in every order; the same prefix twice keeps order. */
START_TEST(test_router_prefix_radix)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;
    zpt_hdr_t             beta[] = {{"x-beta", "1"}};
    zpt_hdrs_t            hs     = {beta, 1, {0, NULL}};

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/abc/", 0, NULL, "abc/");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/abd/", 0, NULL, "abd/");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/ab", 0, NULL, "ab");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/abcdef", 0, NULL, "abcdef");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/a", 0, NULL, "a");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/s/", 0, zpt_cond(pool, NULL, "X-Beta", NULL), "s-beta");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/s/", 0, NULL, "s");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/m/", ZP_HTTP_GET, NULL, "m-get");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/m/", ZP_HTTP_POST, NULL, "m-post");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/abc/x", "abc/", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/abc", "ab", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/abcdefg", "abcdef", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/abcde", "ab", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/abd/", "abd/", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/abz", "ab", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/ax", "a", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/a", "a", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/b", NULL, &m);
    zpt_expect_h(rt, ZP_HTTP_GET, "/s/1", &hs, "s-beta", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/s/1", "s", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/m/1", "m-get", &m);
    zpt_expect(rt, ZP_HTTP_POST, "/m/1", "m-post", &m);
    zpt_expect_405(rt, ZP_HTTP_DELETE, "/m/1", NULL, ZP_HTTP_GET | ZP_HTTP_POST);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_pattern)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/:id", 0, NULL, "u-id");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/me", 0, NULL, "u-me-prefix");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/:id/orders/:oid", 0, NULL, "u-ord");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/:id/orders/latest", 0, NULL, "u-latest");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/me/orders/:oid", 0, NULL, "u-me-ord");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/:id/", 0, NULL, "u-id-slash");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/files/*", 0, NULL, "files");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/files/:name", 0, NULL, "file-name");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/files/:dir/:name", 0, NULL, "file-dir-name");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/mix/:a/lit/*", 0, NULL, "mix");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/users/", 0, NULL, "users-prefix");
    zpt_compile(rt);

    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_PATTERN), 9);
    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_PREFIX), 2);

    zpt_expect(rt, ZP_HTTP_GET, "/users/42", "u-id", &m);
    ck_assert_uint_eq(m.nparams, 1);
    zpt_param(&m, 0, "id", "42");

    /* "/users/me" has no param: it is a prefix, below the pattern */
    zpt_expect(rt, ZP_HTTP_GET, "/users/me", "u-id", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/users/mex/1/2", "u-me-prefix", &m);

    /* a param is one non-empty segment; trailing slashes are strict */
    zpt_expect(rt, ZP_HTTP_GET, "/users/", "users-prefix", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/users/42/", "u-id-slash", &m);
    zpt_param(&m, 0, "id", "42");
    zpt_expect(rt, ZP_HTTP_GET, "/users", NULL, &m);

    zpt_expect(rt, ZP_HTTP_GET, "/users/42/orders/7", "u-ord", &m);
    ck_assert_uint_eq(m.nparams, 2);
    zpt_param(&m, 0, "id", "42");
    zpt_param(&m, 1, "oid", "7");
    zpt_expect(rt, ZP_HTTP_GET, "/users/42/orders/latest", "u-latest", &m);
    ck_assert_uint_eq(m.nparams, 1);

    /* left to right: the literal "me" at segment 2 beats ":id", even though
     * u-latest has a literal further right */
    zpt_expect(rt, ZP_HTTP_GET, "/users/me/orders/latest", "u-me-ord", &m);
    zpt_param(&m, 0, "oid", "latest");
    zpt_expect(rt, ZP_HTTP_GET, "/users/me/orders/9", "u-me-ord", &m);

    /* ":name" beats "*"; "*" takes the rest, possibly empty */
    zpt_expect(rt, ZP_HTTP_GET, "/files/x", "file-name", &m);
    zpt_param(&m, 0, "name", "x");
    zpt_expect(rt, ZP_HTTP_GET, "/files/x/y", "file-dir-name", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/files/x/y/z", "files", &m);
    ck_assert_uint_eq(m.nparams, 1);
    zpt_param(&m, 0, "*", "x/y/z");
    zpt_expect(rt, ZP_HTTP_GET, "/files/", "files", &m);
    zpt_param(&m, 0, "*", "");
    zpt_expect(rt, ZP_HTTP_GET, "/files/x/", "files", &m);
    zpt_param(&m, 0, "*", "x/");
    zpt_expect(rt, ZP_HTTP_GET, "/files", NULL, &m);

    zpt_expect(rt, ZP_HTTP_GET, "/mix/1/lit/", "mix", &m);
    ck_assert_uint_eq(m.nparams, 2);
    zpt_param(&m, 0, "a", "1");
    zpt_param(&m, 1, "*", "");
    zpt_expect(rt, ZP_HTTP_GET, "/mix/1/lit/a/b", "mix", &m);
    zpt_param(&m, 1, "*", "a/b");
    zpt_expect(rt, ZP_HTTP_GET, "/mix/1/lit", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/mix//lit/", NULL, &m);

    zp_destroy_pool(pool);
}
END_TEST


/* The walk goes back up when a deeper literal branch fails. */
START_TEST(test_router_pattern_backtrack)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/a/b/:x/d", 0, NULL, "abxd");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:y/c/:z", 0, NULL, "aycz");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:y/*", 0, NULL, "ay*");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/*", 0, NULL, "all");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/t/:a", 0, NULL, "t-a");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/t/:b", 0, NULL, "t-b");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/w/:a", ZP_HTTP_POST, NULL, "w-a");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/w/:b", 0, NULL, "w-b");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/a/b/c/d", "abxd", &m);
    zpt_param(&m, 0, "x", "c");
    zpt_expect(rt, ZP_HTTP_GET, "/a/b/c/e", "aycz", &m);
    ck_assert_uint_eq(m.nparams, 2);
    zpt_param(&m, 0, "y", "b");
    zpt_param(&m, 1, "z", "e");
    zpt_expect(rt, ZP_HTTP_GET, "/a/b/q/e", "ay*", &m);
    zpt_param(&m, 0, "y", "b");
    zpt_param(&m, 1, "*", "q/e");
    zpt_expect(rt, ZP_HTTP_GET, "/a/b", "all", &m);
    zpt_param(&m, 0, "*", "a/b");
    zpt_expect(rt, ZP_HTTP_GET, "/", "all", &m);
    zpt_param(&m, 0, "*", "");

    /* same specificity: the order written, with its own param names */
    zpt_expect(rt, ZP_HTTP_GET, "/t/1", "t-a", &m);
    zpt_param(&m, 0, "a", "1");
    zpt_expect(rt, ZP_HTTP_GET, "/w/1", "w-b", &m);
    zpt_param(&m, 0, "b", "1");
    zpt_expect(rt, ZP_HTTP_POST, "/w/1", "w-a", &m);
    zpt_param(&m, 0, "a", "1");

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_regex)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/v(\\d+)/reports/(x)?(\\w*)$", 0, NULL, "reports");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX_CASELESS, "^/img/.*\\.png$", 0, NULL, "png");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/Admin", 0, NULL, "Admin");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/o/", 0, NULL, "o1");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/o/x", 0, NULL, "o2");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)$", 0, NULL, "eleven");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^$", 0, NULL, "empty");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^rel$", 0, NULL, "relative");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/v2/reports/abc", "reports", &m);
    ck_assert_uint_eq(m.ncaptures, 4);
    ck_assert_int_eq(m.captures[0], 0);
    ck_assert_int_eq(m.captures[1], 15);
    ck_assert_int_eq(m.captures[2], 2); /* $1 = "2" */
    ck_assert_int_eq(m.captures[3], 3);
    ck_assert_int_eq(m.captures[4], -1); /* $2 unset */
    ck_assert_int_eq(m.captures[5], -1);
    ck_assert_int_eq(m.captures[6], 12); /* $3 = "abc" */
    ck_assert_int_eq(m.captures[7], 15);
    ck_assert_uint_eq(m.nparams, 0);

    zpt_expect(rt, ZP_HTTP_GET, "/v10/reports/", "reports", &m);
    ck_assert_int_eq(m.captures[3] - m.captures[2], 2);

    zpt_expect(rt, ZP_HTTP_GET, "/img/a/b.png", "png", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/IMG/A.PNG", "png", &m);
    ck_assert_uint_eq(m.ncaptures, 1);
    zpt_expect(rt, ZP_HTTP_GET, "/img/a.gif", NULL, &m);

    zpt_expect(rt, ZP_HTTP_GET, "/Admin/x", "Admin", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/admin/x", NULL, &m);

    /* the order written, first match wins */
    zpt_expect(rt, ZP_HTTP_GET, "/o/x", "o1", &m);

    /* $0..$9 only */
    zpt_expect(rt, ZP_HTTP_GET, "/abcdefghijk", "eleven", &m);
    ck_assert_uint_eq(m.ncaptures, ZP_HTTP_ROUTE_MAX_CAPTURES);
    ck_assert_int_eq(m.captures[18], 9); /* $9 = "i" */
    ck_assert_int_eq(m.captures[19], 10);

    /* regexes see any path, rooted or not */
    zpt_expect(rt, ZP_HTTP_GET, "", "empty", &m);
    zpt_expect(rt, ZP_HTTP_GET, "rel", "relative", &m);

    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_REGEX), 7);
    ck_assert_uint_eq(zp_http_router_count(rt, ZP_HTTP_ROUTE_REGEX_CASELESS), 1);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_headers)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;
    zp_array_t           *both;
    zp_str_t              p;
    zpt_hdr_t             dbg[]    = {{"x-debug", ""}};
    zpt_hdr_t             prod[]   = {{"x-env", "prod"}};
    zpt_hdr_t             PROD[]   = {{"x-env", "PROD"}};
    zpt_hdr_t             bearer[] = {{"authorization", "Bearer abc"}};
    zpt_hdr_t             basic[]  = {{"authorization", "Basic abc"}};
    zpt_hdr_t             json[]   = {{"accept", "application/JSON"}};
    zpt_hdr_t             ab[]     = {{"x-a", "?"}, {"x-b", "1"}};
    zpt_hdr_t             a[]      = {{"x-a", "?"}, {"x-b", "2"}};
    zpt_hdrs_t            hs;

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, zpt_cond(pool, NULL, "X-Debug", NULL), "debug");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, zpt_cond(pool, NULL, "X-Env", "prod"), "prod");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, zpt_cond(pool, NULL, "Authorization", "~^Bearer "),
            "bearer");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, zpt_cond(pool, NULL, "Accept", "~*json"), "json");
    both = zpt_cond(pool, NULL, "x-a", NULL);
    zpt_cond(pool, both, "X-B", "1");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, both, "both");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, NULL, "plain");
    /* conditions work on every route form */
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/h/e", 0, zpt_cond(pool, NULL, "X-Env", "prod"), "e");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/h/:p", 0, zpt_cond(pool, NULL, "X-Env", "prod"), "p");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/h/r", 0, zpt_cond(pool, NULL, "X-Env", "prod"), "r");
    zpt_compile(rt);

    hs.n = 1;
    hs.h = dbg;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "debug", &m); /* empty value: present */
    hs.h = prod;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "prod", &m);
    hs.h = PROD;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "plain", &m); /* exact is case-sensitive */
    hs.h = bearer;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "bearer", &m);
    hs.h = basic;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "plain", &m);
    hs.h = json;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "json", &m);
    hs.n = 2;
    hs.h = ab;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "both", &m);
    hs.h = a;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x/", &hs, "plain", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/h/x/", "plain", &m);

    hs.n = 1;
    hs.h = prod;
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/e", &hs, "e", &m);
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/x", &hs, "p", &m);
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/r", &hs, "p", &m);
    zpt_expect_h(rt, ZP_HTTP_GET, "/h/rr/", &hs, "r", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/h/e", "plain", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/h/x", "plain", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/h/rr/", "plain", &m);

    /* no header callback: every header is absent */
    p = zpt_str("/h/x/");
    ck_assert_int_eq(zp_http_router_find(rt, &p, ZP_HTTP_GET, NULL, NULL, &m), ZP_OK);
    ck_assert_str_eq(m.data, "plain");

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_header_init)
{
    zp_http_route_header_t h;
    zp_str_t               name = zp_string("X-A"), v;

    zp_http_route_header_init(&h, &name, NULL);
    ck_assert_uint_eq(h.type, ZP_HTTP_ROUTE_HEADER_PRESENT);
    ck_assert_uint_eq(h.value.len, 0);

    v = zpt_str("~*json");
    zp_http_route_header_init(&h, &name, &v);
    ck_assert_uint_eq(h.type, ZP_HTTP_ROUTE_HEADER_REGEX_CASELESS);
    ck_assert_uint_eq(h.value.len, 4);

    v = zpt_str("~^Bearer ");
    zp_http_route_header_init(&h, &name, &v);
    ck_assert_uint_eq(h.type, ZP_HTTP_ROUTE_HEADER_REGEX);
    ck_assert_int_eq(memcmp(h.value.data, "^Bearer ", 8), 0);

    v = zpt_str("prod");
    zp_http_route_header_init(&h, &name, &v);
    ck_assert_uint_eq(h.type, ZP_HTTP_ROUTE_HEADER_EXACT);
    ck_assert_uint_eq(h.value.len, 4);
    ck_assert_uint_eq(h.name.len, 3);
}
END_TEST


/* ------------------------------------------------------- precedence */

START_TEST(test_router_precedence)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    /* written lowest precedence first, so the order written does not help */
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/p/", 0, NULL, "prefix");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/p/1/2/3", 0, NULL, "long-prefix");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/p/[a-z]+/", 0, NULL, "regex");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/p/:id", 0, NULL, "pattern");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/p/x", ZP_HTTP_GET, NULL, "exact");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/p/x", "exact", &m);
    zpt_expect(rt, ZP_HTTP_POST, "/p/x", "pattern", &m); /* exact refused by method */
    zpt_param(&m, 0, "id", "x");
    zpt_expect(rt, ZP_HTTP_GET, "/p/y", "pattern", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/p/y/z", "regex", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/p/1/2", "prefix", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/p/1/2/3/4", "long-prefix", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/p/", "prefix", &m);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_methods)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;
    zpt_hdr_t             k[] = {{"x-k", "1"}};
    zpt_hdrs_t            hs  = {k, 1, {0, NULL}};

    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/r/:id", ZP_HTTP_GET | ZP_HTTP_PUT, NULL, "r-id");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/r/", ZP_HTTP_POST, NULL, "r");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/s/", ZP_HTTP_GET, zpt_cond(pool, NULL, "X-K", NULL), "s");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/any/", 0, NULL, "any");
    zpt_compile(rt);

    zpt_expect(rt, ZP_HTTP_GET, "/r/1", "r-id", &m);
    zpt_expect(rt, ZP_HTTP_PUT, "/r/1", "r-id", &m);
    zpt_expect(rt, ZP_HTTP_POST, "/r/1", "r", &m);
    zpt_expect_405(rt, ZP_HTTP_DELETE, "/r/1", NULL, ZP_HTTP_GET | ZP_HTTP_PUT | ZP_HTTP_POST);
    zpt_expect_405(rt, ZP_HTTP_DELETE, "/r/", NULL, ZP_HTTP_POST);
    /* no implied HEAD for GET: the config layer adds it */
    zpt_expect_405(rt, ZP_HTTP_HEAD, "/r/1", NULL, ZP_HTTP_GET | ZP_HTTP_PUT | ZP_HTTP_POST);
    zpt_expect(rt, ZP_HTTP_DELETE, "/x", NULL, &m);

    /* a route whose headers fail does not count for 405 */
    zpt_expect(rt, ZP_HTTP_DELETE, "/s/a", NULL, &m);
    zpt_expect_405(rt, ZP_HTTP_DELETE, "/s/a", &hs, ZP_HTTP_GET);
    zpt_expect_h(rt, ZP_HTTP_GET, "/s/a", &hs, "s", &m);

    /* methods 0 takes any method, even an unknown one (0) */
    zpt_expect(rt, 0, "/any/1", "any", &m);
    zpt_expect(rt, ZP_HTTP_CONNECT, "/any/1", "any", &m);
    zpt_expect_405(rt, 0, "/r/1", NULL, ZP_HTTP_GET | ZP_HTTP_PUT | ZP_HTTP_POST);

    zp_destroy_pool(pool);
}
END_TEST


/* The example table of the issue. */
static zp_http_router_t *
zpt_issue_router(zp_pool_t *pool, zp_uint_t with_root)
{
    zp_http_router_t *rt = zpt_router(pool);

    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/health", 0, NULL, "health");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/users/:id", ZPT_GPD, NULL, "user");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/users/", ZP_HTTP_GET | ZP_HTTP_POST, NULL, "users");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/orders/:oid/items/*", 0, NULL, "items");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/v(\\d+)/reports/", 0, NULL, "reports");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/admin/", 0,
            zpt_cond(pool, NULL, "Authorization", "~^Bearer "), "admin-bearer");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/admin/", 0, NULL, "admin");

    if (with_root) {
        zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/", 0, NULL, "root");
    }

    zpt_compile(rt);

    return rt;
}


START_TEST(test_router_issue_table)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_issue_router(pool, 1);
    zp_http_route_match_t m;
    zpt_hdr_t             bearer[] = {{"authorization", "Bearer t0k3n"}};
    zpt_hdr_t             basic[]  = {{"authorization", "Basic dTpw"}};
    zpt_hdrs_t            hs       = {bearer, 1, {0, NULL}};

    zpt_expect(rt, ZP_HTTP_GET, "/health", "health", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/health/", "root", &m);

    zpt_expect(rt, ZP_HTTP_GET, "/api/users/42", "user", &m);
    ck_assert_uint_eq(m.nparams, 1);
    zpt_param(&m, 0, "id", "42");
    zpt_expect(rt, ZP_HTTP_DELETE, "/api/users/42", "user", &m);
    /* POST is not allowed on :id: the next candidate, the prefix, takes it */
    zpt_expect(rt, ZP_HTTP_POST, "/api/users/42", "users", &m);
    ck_assert_uint_eq(m.nparams, 0);
    /* PATCH: neither :id nor /api/users/ allows it, "/" allows anything */
    zpt_expect(rt, ZP_HTTP_PATCH, "/api/users/42", "root", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/users/", "users", &m);
    zpt_expect(rt, ZP_HTTP_DELETE, "/api/users/", "root", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/users/42/x", "users", &m);

    zpt_expect(rt, ZP_HTTP_GET, "/api/orders/7/items/a/b", "items", &m);
    ck_assert_uint_eq(m.nparams, 2);
    zpt_param(&m, 0, "oid", "7");
    zpt_param(&m, 1, "*", "a/b");
    zpt_expect(rt, ZP_HTTP_GET, "/api/orders/7/items/", "items", &m);
    zpt_param(&m, 1, "*", "");
    zpt_expect(rt, ZP_HTTP_GET, "/api/orders/7/items", "root", &m);

    zpt_expect(rt, ZP_HTTP_GET, "/v2/reports/daily", "reports", &m);
    ck_assert_uint_eq(m.ncaptures, 2);
    ck_assert_int_eq(m.captures[2], 2);
    ck_assert_int_eq(m.captures[3], 3);
    zpt_expect(rt, ZP_HTTP_GET, "/vx/reports/daily", "root", &m);

    zpt_expect_h(rt, ZP_HTTP_GET, "/admin/x", &hs, "admin-bearer", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/admin/x", "admin", &m);
    hs.h = basic;
    zpt_expect_h(rt, ZP_HTTP_GET, "/admin/x", &hs, "admin", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/admin", "root", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/", "root", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/anything/else", "root", &m);

    zp_destroy_pool(pool);

    /* without the catch-all the refusals become a 405 */
    pool = zpt_create_pool(4096);
    rt   = zpt_issue_router(pool, 0);

    zpt_expect(rt, ZP_HTTP_POST, "/api/users/42", "users", &m);
    zpt_expect_405(rt, ZP_HTTP_PATCH, "/api/users/42", NULL, ZPT_GPD | ZP_HTTP_POST);
    zpt_expect_405(rt, ZP_HTTP_DELETE, "/api/users/", NULL, ZP_HTTP_GET | ZP_HTTP_POST);
    zpt_expect(rt, ZP_HTTP_GET, "/anything", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/api/orders/7/items", NULL, &m);

    zp_destroy_pool(pool);
}
END_TEST


/* ----------------------------------------------------------- errors */

START_TEST(test_router_add_errors)
{
    zp_pool_t              *pool = zpt_create_pool(4096);
    zp_http_router_t       *rt   = zpt_router(pool);
    zp_http_route_match_t   m;
    zp_http_route_def_t     def;
    zp_http_route_header_t *h;
    zp_array_t             *bad;
    char                    many[256], *p, err[16];
    zp_uint_t               i;

    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "users", 0, NULL, "does not start with \"/\"");
    zpt_add_err(rt, ZP_HTTP_ROUTE_EXACT, "", 0, NULL, "does not start with");
    zpt_add_err(rt, ZP_HTTP_ROUTE_EXACT, "health", 0, NULL, "does not start with");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a//:b", 0, NULL, "empty segment");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "//:b", 0, NULL, "empty segment");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:1x", 0, NULL, "invalid param name \":1x\"");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:", 0, NULL, "invalid param name");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:b-c", 0, NULL, "invalid param name");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:b:c", 0, NULL, "invalid param name");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/:id/:id", 0, NULL, "duplicate param \":id\"");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/*/b", 0, NULL, "\"*\" is not the last");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/a/*/", 0, NULL, "\"*\" is not the last");
    zpt_add_err(rt, ZP_HTTP_ROUTE_REGEX, "^/(unclosed", 0, NULL, "offset 11");
    zpt_add_err(rt, ZP_HTTP_ROUTE_REGEX_CASELESS, "*", 0, NULL, "does not compile");
    zpt_add_err(rt, 0, "/a", 0, NULL, "invalid route type");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PATTERN, "/a", 0, NULL, "has no \":name\" or \"*\" segment");
    zpt_add_err(rt, 9, "/a", 0, NULL, "invalid route type");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, zpt_cond(pool, NULL, "X-A", "~(x"),
                "header regex \"(x\" does not compile");

    bad     = zpt_cond(pool, NULL, "X-A", NULL);
    h       = bad->elts;
    h->type = 0;
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, bad, "invalid condition on header");
    h->type     = ZP_HTTP_ROUTE_HEADER_PRESENT;
    h->name.len = 0;
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/h/", 0, bad, "empty header name");

    /* ZP_HTTP_ROUTE_MAX_PARAMS params, the splat included, and one more */
    p = many;
    for (i = 0; i < ZP_HTTP_ROUTE_MAX_PARAMS - 1; i++) {
        p += sprintf(p, "/:p%d", (int)i);
    }
    strcpy(p, "/*");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, many, 0, NULL, "many");
    strcpy(p, "/:last/*");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, many, 0, NULL, "more than 16 params");

    /* duplicates: same type, pattern and methods, without headers */
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, NULL, "d");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, NULL, "duplicate route \"/d/\"");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", ZP_HTTP_GET, NULL, "d-get");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", ZP_HTTP_GET, NULL, "duplicate route");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, zpt_cond(pool, NULL, "X-A", NULL), "d-h");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, zpt_cond(pool, NULL, "X-A", NULL), "d-h2");
    zpt_add(rt, ZP_HTTP_ROUTE_EXACT, "/d/", 0, NULL, "d-exact");
    zpt_add_err(rt, ZP_HTTP_ROUTE_EXACT, "/d/", 0, NULL, "duplicate route");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/:x", 0, NULL, "dx");
    zpt_add_err(rt, ZP_HTTP_ROUTE_PREFIX, "/d/:x", 0, NULL, "duplicate route");
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/d/:y", 0, NULL, "dy"); /* spelled differently */
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX, "^/d", 0, NULL, "re");
    zpt_add_err(rt, ZP_HTTP_ROUTE_REGEX, "^/d", 0, NULL, "duplicate route");
    zpt_add(rt, ZP_HTTP_ROUTE_REGEX_CASELESS, "^/d", 0, NULL, "re-i");

    /* a short or missing buffer still gets an error, NUL-terminated */
    ck_assert_int_eq(zpt_add_rc(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, NULL, NULL, err, 8), ZP_ERROR);
    ck_assert_uint_eq(strlen(err), 7);
    ck_assert_int_eq(zpt_add_rc(rt, ZP_HTTP_ROUTE_PREFIX, "/d/", 0, NULL, NULL, NULL, 0), ZP_ERROR);

    zpt_compile(rt);

    /* rejected routes are not there */
    zpt_expect(rt, ZP_HTTP_GET, "/a/1/2", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/a/1/x/y", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/h/", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "/d/", "d-exact", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/d/1", "dx", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/d/1/2", "re", &m);
    zpt_expect(rt, ZP_HTTP_GET, "/D/1/2", "re-i", &m);

    /* the 16-param route */
    zpt_expect(rt, ZP_HTTP_GET, "/0/1/2/3/4/5/6/7/8/9/a/b/c/d/e/f/g", "many", &m);
    ck_assert_uint_eq(m.nparams, ZP_HTTP_ROUTE_MAX_PARAMS);
    zpt_param(&m, 14, "p14", "e");
    zpt_param(&m, 15, "*", "f/g");

    /* compiled: no more routes */
    def.pattern = zpt_str("/late/");
    def.type    = ZP_HTTP_ROUTE_PREFIX;
    def.methods = 0;
    def.headers = NULL;
    def.data    = NULL;
    ck_assert_int_eq(zp_http_router_add(rt, &def, many, sizeof(many)), ZP_ERROR);
    ck_assert_str_eq(many, "router already compiled");
    ck_assert_int_eq(zp_http_router_compile(rt), ZP_OK);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_router_empty)
{
    zp_pool_t            *pool = zpt_create_pool(4096);
    zp_http_router_t     *rt   = zpt_router(pool);
    zp_http_route_match_t m;

    /* not compiled yet: nothing matches */
    zpt_add(rt, ZP_HTTP_ROUTE_PREFIX, "/", 0, NULL, "root");
    zpt_expect(rt, ZP_HTTP_GET, "/", NULL, &m);
    zp_destroy_pool(pool);

    pool = zpt_create_pool(4096);
    rt   = zpt_router(pool);
    zpt_compile(rt);
    zpt_expect(rt, ZP_HTTP_GET, "/", NULL, &m);
    zpt_expect(rt, ZP_HTTP_GET, "", NULL, &m);
    ck_assert_uint_eq(zp_http_router_count(rt, 0), 0);
    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------- randomized check */

#define ZPT_NROUTES 2000
#define ZPT_NPATHS  20000
#define ZPT_MAXSEG  16

#define ZPT_LIT   0
#define ZPT_PARAM 1
#define ZPT_WILD  2

typedef struct {
    char        pattern[128];
    zp_uint_t   type; /* as the router should see it: PREFIX may become PATTERN */
    zp_uint_t   methods;
    int         hdr; /* 0 none, 1 x-t present, 2 x-v exact "1" */
    zp_uint_t   nsegs;
    size_t      seg_off[ZPT_MAXSEG];
    size_t      seg_len[ZPT_MAXSEG];
    int         kind[ZPT_MAXSEG];
    pcre2_code *re;
    int         added;
} zpt_rroute_t;

static uint64_t zpt_rng = 0x2545f4914f6cdd1dULL;


static zp_uint_t
zpt_rand(zp_uint_t n)
{
    zpt_rng ^= zpt_rng << 13;
    zpt_rng ^= zpt_rng >> 7;
    zpt_rng ^= zpt_rng << 17;

    return (zp_uint_t)(zpt_rng % n);
}


static const char     *zpt_lits[]      = {"a", "b", "api", "apx", "v1"};
static const char     *zpt_path_segs[] = {"a", "b", "api", "apx", "v1", "42", "zz", ":p0", ""};
static const zp_uint_t zpt_methods[]   = {ZP_HTTP_GET, ZP_HTTP_POST, ZP_HTTP_PUT, ZP_HTTP_DELETE,
                                          ZP_HTTP_PATCH};
static const char     *zpt_regexes[]   = {"^/a/b", "apx$", "^/v1/([^/]+)/a/?$"};


/* Cuts s (starting with "/") into segments after the first "/". */
static zp_uint_t
zpt_split(const char *s, size_t len, size_t *off, size_t *slen, zp_uint_t max)
{
    size_t    pos, end;
    zp_uint_t n = 0;

    for (pos = 1; pos <= len && n < max; pos = end + 1) {
        for (end = pos; end < len && s[end] != '/'; end++) {
            /* void */
        }

        off[n]    = pos;
        slen[n++] = end - pos;
    }

    return n;
}


static void
zpt_random_route(zpt_rroute_t *r, zp_uint_t i)
{
    char       *p = r->pattern;
    zp_uint_t   n, k, roll, dyn = 0;
    const char *lit;

    memset(r, 0, sizeof(*r));

    roll = zpt_rand(100);
    n    = 1 + zpt_rand(4);

    if (i % 101 == 5) {
        r->type = ZP_HTTP_ROUTE_REGEX;
        strcpy(r->pattern, zpt_regexes[(i / 101) % 3]);

    } else if (roll < 20) {
        r->type = ZP_HTTP_ROUTE_EXACT;
        for (k = 0; k < n; k++) {
            p += sprintf(p, "/%s", zpt_rand(10) ? zpt_lits[zpt_rand(5)] : ":p0");
        }

        if (zpt_rand(5) == 0) {
            strcpy(p, "/");
        }

    } else if (roll < 70) {
        r->type = ZP_HTTP_ROUTE_PREFIX; /* a pattern, mostly */
        for (k = 0; k < n; k++) {
            roll = zpt_rand(100);
            if (roll < 55) {
                p += sprintf(p, "/%s", zpt_lits[zpt_rand(5)]);
            } else {
                p += sprintf(p, "/:p%d", (int)k);
                dyn = 1;
            }
        }

        roll = zpt_rand(100);
        if (roll < 20) {
            strcpy(p, "/*");
            dyn = 1;
        } else if (roll < 30) {
            strcpy(p, "/");
        }

    } else {
        r->type = ZP_HTTP_ROUTE_PREFIX; /* no "/": it would take every path */
        n       = 1 + zpt_rand(3);
        for (k = 0; k < n; k++) {
            p += sprintf(p, "/%s", zpt_lits[zpt_rand(5)]);
        }

        roll = zpt_rand(100);
        if (roll < 40) {
            strcpy(p, "/");
        } else if (roll < 70) {
            lit = zpt_lits[zpt_rand(5)];
            p += sprintf(p, "/%.*s", (int)(1 + zpt_rand(strlen(lit))), lit); /* mid-segment */
        }
    }

    if (r->type == ZP_HTTP_ROUTE_PREFIX && dyn) {
        r->type = ZP_HTTP_ROUTE_PATTERN;
    }

    r->methods = 0;
    if (zpt_rand(10)) { /* mostly restricted, or 405 would never happen */
        for (k = 0; k < 2; k++) {
            r->methods |= zpt_methods[zpt_rand(4)];
        }
    }

    roll   = zpt_rand(100);
    r->hdr = roll < 8 ? 1 : (roll < 14 ? 2 : 0);

    if (r->type == ZP_HTTP_ROUTE_PATTERN) {
        r->nsegs = zpt_split(r->pattern, strlen(r->pattern), r->seg_off, r->seg_len, ZPT_MAXSEG);
        for (k = 0; k < r->nsegs; k++) {
            if (r->seg_len[k] && r->pattern[r->seg_off[k]] == ':') {
                r->kind[k] = ZPT_PARAM;
            } else if (r->seg_len[k] == 1 && r->pattern[r->seg_off[k]] == '*') {
                r->kind[k] = ZPT_WILD;
            } else {
                r->kind[k] = ZPT_LIT;
            }
        }
    }
}


typedef struct {
    zpt_rroute_t *r;
    zp_uint_t     nvals;
    zp_str_t      vals[ZP_HTTP_ROUTE_MAX_PARAMS];
    int           cap[2];
    zp_uint_t     ncap;
} zpt_cand_t;


static int
zpt_ref_pattern(zpt_rroute_t *r, const char *path, size_t len, zpt_cand_t *c)
{
    size_t    off[64], slen[64];
    zp_uint_t n, i;

    n        = zpt_split(path, len, off, slen, 64);
    c->nvals = 0;

    for (i = 0; i < r->nsegs; i++) {
        if (i >= n) {
            return 0;
        }

        switch (r->kind[i]) {
        case ZPT_WILD:
            c->vals[c->nvals].data  = (u_char *)path + off[i];
            c->vals[c->nvals++].len = len - off[i];
            return 1;

        case ZPT_PARAM:
            if (slen[i] == 0) {
                return 0;
            }

            c->vals[c->nvals].data  = (u_char *)path + off[i];
            c->vals[c->nvals++].len = slen[i];
            break;

        default:
            if (slen[i] != r->seg_len[i] ||
                memcmp(path + off[i], r->pattern + r->seg_off[i], slen[i]) != 0) {
                return 0;
            }
        }
    }

    return n == r->nsegs;
}


static int
zpt_class(zp_uint_t type)
{
    switch (type) {
    case ZP_HTTP_ROUTE_EXACT:
        return 0;
    case ZP_HTTP_ROUTE_PATTERN:
        return 1;
    case ZP_HTTP_ROUTE_PREFIX:
        return 3;
    default:
        return 2;
    }
}


/* < 0 when a has precedence over b; a was written after b. */
static int
zpt_cmp(zpt_rroute_t *a, zpt_rroute_t *b)
{
    zp_uint_t i;
    int       ca = zpt_class(a->type), cb = zpt_class(b->type);

    if (ca != cb) {
        return ca - cb;
    }

    if (ca == 1) {
        for (i = 0; i < a->nsegs && i < b->nsegs; i++) {
            if (a->kind[i] != b->kind[i]) {
                return a->kind[i] - b->kind[i];
            }
        }
    }

    if (ca == 3 && strlen(a->pattern) != strlen(b->pattern)) {
        return strlen(a->pattern) > strlen(b->pattern) ? -1 : 1;
    }

    return 1; /* the order written */
}


/* The reference: a linear scan over every route. */
static zp_int_t
zpt_ref_find(zpt_rroute_t *routes, zp_uint_t nroutes, const char *path, zp_uint_t method, int hset,
             pcre2_match_data *md, zpt_cand_t *best, zp_uint_t *allowed)
{
    int           ok, rc;
    size_t        len = strlen(path);
    zp_uint_t     i;
    zpt_rroute_t *r;
    zpt_cand_t    c;
    PCRE2_SIZE   *ov;

    memset(best, 0, sizeof(*best));
    *allowed = 0;

    for (i = 0; i < nroutes; i++) {
        r = &routes[i];
        if (!r->added) {
            continue;
        }

        c.r     = r;
        c.nvals = 0;
        c.ncap  = 0;

        switch (r->type) {
        case ZP_HTTP_ROUTE_EXACT:
            ok = strcmp(path, r->pattern) == 0;
            break;
        case ZP_HTTP_ROUTE_PREFIX:
            ok = strncmp(path, r->pattern, strlen(r->pattern)) == 0;
            break;
        case ZP_HTTP_ROUTE_PATTERN:
            ok = zpt_ref_pattern(r, path, len, &c);
            break;
        default:
            rc = pcre2_match(r->re, (PCRE2_SPTR)path, len, 0, 0, md, NULL);
            ok = rc > 0;
            if (ok) {
                ov       = pcre2_get_ovector_pointer(md);
                c.ncap   = (zp_uint_t)rc;
                c.cap[0] = (int)ov[0];
                c.cap[1] = (int)ov[1];
            }
        }

        if (!ok) {
            continue;
        }

        /* hset bit 0: x-t present; bit 1: x-v is "1" */
        if ((r->hdr == 1 && !(hset & 1)) || (r->hdr == 2 && !(hset & 2))) {
            continue;
        }

        if (r->methods && !(r->methods & method)) {
            *allowed |= r->methods;
            continue;
        }

        if (best->r == NULL || zpt_cmp(r, best->r) < 0) {
            *best = c;
        }
    }

    if (best->r) {
        return ZP_OK;
    }

    return *allowed ? ZP_HTTP_NOT_ALLOWED : ZP_DECLINED;
}


/* One round: nroutes random routes, npaths random paths; adds to counts
 * (exact/regex/prefix, pattern, 405, declined) and dups. */
static void
zpt_random_round(zp_uint_t nroutes, zp_uint_t npaths, zp_uint_t *counts, zp_uint_t *dups)
{
    int                   errcode, hset;
    char                  err[256], path[128], *p;
    size_t                erroff;
    zp_int_t              rc, ref;
    zp_uint_t             i, j, k, n, method, allowed;
    zp_pool_t            *pool = zpt_create_pool(16384);
    zp_http_router_t     *rt   = zpt_router(pool);
    zpt_rroute_t         *routes, *r;
    zpt_cand_t            best;
    zp_array_t           *conds[3];
    zp_http_route_def_t   def;
    zp_http_route_match_t m;
    pcre2_match_data     *md;
    zpt_hdr_t             hv[2];
    zpt_hdrs_t            hs;

    routes = calloc(nroutes, sizeof(zpt_rroute_t));
    ck_assert_ptr_nonnull(routes);
    md = pcre2_match_data_create(8, NULL);
    ck_assert_ptr_nonnull(md);

    conds[0] = NULL;
    conds[1] = zpt_cond(pool, NULL, "X-T", NULL);
    conds[2] = zpt_cond(pool, NULL, "X-V", "1");

    for (i = 0; i < nroutes; i++) {
        r = &routes[i];
        zpt_random_route(r, i);

        if (r->type == ZP_HTTP_ROUTE_REGEX) {
            r->re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, 0, &errcode,
                                  &erroff, NULL);
            ck_assert_ptr_nonnull(r->re);
        }

        /* the reference's own idea of a duplicate */
        r->added = 1;
        for (j = 0; r->hdr == 0 && j < i; j++) {
            if (routes[j].added && routes[j].hdr == 0 && routes[j].type == r->type &&
                routes[j].methods == r->methods && strcmp(routes[j].pattern, r->pattern) == 0) {
                r->added = 0;
                break;
            }
        }

        def.pattern = zpt_str(r->pattern);
        def.type    = r->type == ZP_HTTP_ROUTE_PATTERN ? ZP_HTTP_ROUTE_PREFIX : r->type;
        def.methods = r->methods;
        def.headers = conds[r->hdr];
        def.data    = r;

        rc = zp_http_router_add(rt, &def, err, sizeof(err));

        if (r->added) {
            ck_assert_msg(rc == ZP_OK, "add \"%s\": %s", r->pattern, err);
        } else {
            ck_assert_msg(rc == ZP_ERROR && strstr(err, "duplicate route"), "\"%s\" is a duplicate",
                          r->pattern);
            (*dups)++;
        }
    }

    zpt_compile(rt);

    for (i = 0; i < npaths; i++) {
        p = path;
        n = zpt_rand(6);
        if (n == 0) {
            strcpy(p, "/");
        }
        for (k = 0; k < n; k++) {
            p += sprintf(p, "/%s", zpt_path_segs[zpt_rand(zp_nelems(zpt_path_segs))]);
        }
        if (zpt_rand(4) == 0) {
            /* a partial segment, or a trailing slash */
            p += sprintf(p, zpt_rand(2) ? "/" : "/ap");
        }

        method = zpt_methods[zpt_rand(zp_nelems(zpt_methods))];
        hset   = (int)zpt_rand(4);

        hs.n = 0;
        hs.h = hv;
        if (hset & 1) {
            hv[hs.n].name    = "x-t";
            hv[hs.n++].value = "";
        }
        hv[hs.n].name    = "x-v";
        hv[hs.n++].value = (hset & 2) ? "1" : "2";

        ref = zpt_ref_find(routes, nroutes, path, method, hset, md, &best, &allowed);
        rc  = zpt_find(rt, path, method, &hs, &m);

        ck_assert_msg(rc == ref, "%s \"%s\" h%d: rc %d, reference %d (%s)", "path", path, hset,
                      (int)rc, (int)ref, ref == ZP_OK ? best.r->pattern : "-");

        if (rc == ZP_HTTP_NOT_ALLOWED) {
            ck_assert_uint_eq(m.allowed, allowed);
            counts[2]++;
            continue;
        }

        if (rc == ZP_DECLINED) {
            counts[3]++;
            continue;
        }

        counts[best.r->type == ZP_HTTP_ROUTE_PATTERN ? 1 : 0]++;

        ck_assert_msg(m.data == best.r, "\"%s\" m%d h%d: \"%s\" (#%d), reference \"%s\" (#%d)",
                      path, (int)method, hset, ((zpt_rroute_t *)m.data)->pattern,
                      (int)((zpt_rroute_t *)m.data - routes), best.r->pattern,
                      (int)(best.r - routes));
        ck_assert_uint_eq(m.nparams, best.nvals);

        for (k = 0; k < best.nvals; k++) {
            ck_assert_ptr_eq(m.param_values[k].data, best.vals[k].data);
            ck_assert_uint_eq(m.param_values[k].len, best.vals[k].len);
        }

        ck_assert_uint_eq(m.ncaptures, best.ncap);
        if (best.ncap) {
            ck_assert_int_eq(m.captures[0], best.cap[0]);
            ck_assert_int_eq(m.captures[1], best.cap[1]);
        }
    }

    for (i = 0; i < nroutes; i++) {
        if (routes[i].re) {
            pcre2_code_free(routes[i].re);
        }
    }

    pcre2_match_data_free(md);
    free(routes);
    zp_destroy_pool(pool);
}


START_TEST(test_router_random)
{
    zp_uint_t counts[4], dups;

    memset(counts, 0, sizeof(counts));
    dups = 0;

    /* a dense table (few 405s) and a sparse one (more 405s and misses) */
    zpt_random_round(ZPT_NROUTES, ZPT_NPATHS, counts, &dups);
    zpt_random_round(ZPT_NROUTES / 10, ZPT_NPATHS, counts, &dups);

    fprintf(stderr,
            "random: %d and %d routes (%d duplicates), 2 x %d paths: %d exact/regex/"
            "prefix, %d pattern, %d 405, %d declined\n",
            ZPT_NROUTES, ZPT_NROUTES / 10, (int)dups, ZPT_NPATHS, (int)counts[0], (int)counts[1],
            (int)counts[2], (int)counts[3]);

    /* the mix must exercise every outcome */
    ck_assert_uint_gt(counts[0], 1000);
    ck_assert_uint_gt(counts[1], 1000);
    ck_assert_uint_gt(counts[2], 200);
    ck_assert_uint_gt(counts[3], 1000);
    ck_assert_uint_gt(dups, 10);
}
END_TEST


static Suite *
zpt_http_router_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_http_router");

    tc = tcase_create("forms");
    tcase_add_test(tc, test_router_exact);
    tcase_add_test(tc, test_router_prefix);
    tcase_add_test(tc, test_router_prefix_radix);
    tcase_add_test(tc, test_router_pattern);
    tcase_add_test(tc, test_router_pattern_backtrack);
    tcase_add_test(tc, test_router_regex);
    tcase_add_test(tc, test_router_headers);
    tcase_add_test(tc, test_router_header_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("precedence");
    tcase_add_test(tc, test_router_precedence);
    tcase_add_test(tc, test_router_methods);
    tcase_add_test(tc, test_router_issue_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("add");
    tcase_add_test(tc, test_router_add_errors);
    tcase_add_test(tc, test_router_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("random");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_router_random);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_http_router_suite)
