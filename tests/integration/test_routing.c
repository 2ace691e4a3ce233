/*
 * Routing over real sockets: every route form (exact, prefix, :param
 * pattern, "*" splat, regex, caseless regex), the precedence rules of
 * http/zp_http_router.c (exact, then patterns with literal > :param > *,
 * then regexes in the order written, then the longest prefix), methods
 * with the 405/Allow fall-through rule, match_header, routing on the
 * normalized path (%XX, dot segments, merge_slashes), absolute-form
 * targets, server_name selection, and the route errors of `zproxy -t`.
 * The `return` directive with variables is the probe.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zpt_client.h"
#include "zpt_harness.h"

#define CONF_HEAD                                                                                  \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"


/* A request on a fresh connection must get status and body (NULL: any body). */
static void
expect(int port, const char *method, const char *host, const char *path, const char *extra,
       int status, const char *body)
{
    zpt_resp_t r;

    zpt_req(port, method, host, path, extra, &r);
    ck_assert_msg(r.status == status && (body == NULL || strcmp(r.body, body) == 0),
                  "%s %s (Host: %s%s%s): got %d \"%s\", expected %d \"%s\"", method, path, host,
                  extra ? ", " : "", extra ? extra : "", r.status, r.body, status,
                  body ? body : "*");
}


/* The server's own 404 page: no route matched at all. */
static void
expect_404(int port, const char *method, const char *path)
{
    zpt_resp_t r;

    zpt_req(port, method, "localhost", path, NULL, &r);
    ck_assert_msg(r.status == 404 && strstr(r.body, "<html>") != NULL,
                  "%s %s: got %d \"%s\", expected the 404 page", method, path, r.status, r.body);
}


/* A raw request on a fresh connection must get status and body. */
static void
expect_raw(int port, const char *request, int status, const char *body)
{
    zpt_resp_t r;

    zpt_one(port, request, &r, 0, request);
    ck_assert_msg(r.status == status && (body == NULL || strcmp(r.body, body) == 0),
                  "%s: got %d \"%s\", expected %d \"%s\"", request, r.status, r.body, status,
                  body ? body : "*");
}


/* The Allow header of r names exactly the methods of the comma-separated list. */
static void
expect_allow(const zpt_resp_t *r, const char *what, const char *list)
{
    char  allow[256], want[256], *tok, *save;
    int   nallow = 0, nwant = 0;
    char  got[16][16];
    int   i, found;

    ck_assert_msg(zpt_hdr_value(r->headers, "Allow", allow, sizeof(allow)),
                  "%s: 405 without Allow:\n%s", what, r->headers);

    for (tok = strtok_r(allow, ", ", &save); tok && nallow < 16; tok = strtok_r(NULL, ", ", &save)) {
        snprintf(got[nallow++], sizeof(got[0]), "%s", tok);
    }

    snprintf(want, sizeof(want), "%s", list);
    for (tok = strtok_r(want, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        nwant++;
        for (found = 0, i = 0; i < nallow; i++) {
            found |= strcmp(got[i], tok) == 0;
        }
        ck_assert_msg(found, "%s: Allow lacks %s:\n%s", what, tok, r->headers);
    }
    ck_assert_msg(nallow == nwant, "%s: Allow should be exactly {%s}:\n%s", what, list, r->headers);
}


/* ---- the example table of the routing issue, written as in the issue ---- */

#define TABLE_ROUTES                                                                               \
    "        route = /health { return 200 \"ok\\n\"; }\n"                                         \
    "        route /api/users/:id { methods GET PUT DELETE; return 200 \"user $param_id\\n\"; }\n" \
    "        route /api/users/ { methods GET POST; return 200 \"users\\n\"; }\n"                  \
    "        route /api/orders/:oid/items/* { return 200 \"order $param_oid\\n\"; }\n"            \
    "        route ~ ^/v(\\d+)/reports/ { return 200 \"reports v$1\\n\"; }\n"                     \
    "        route /admin/ { match_header Authorization \"~^Bearer \"; return 200 \"admin\\n\"; }\n" \
    "        route /admin/ { return 401 \"authorization required\\n\"; }\n"                      \
    "        route / { return 404 \"no route\\n\"; }\n"

START_TEST(test_example_table)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    zpt_resp_t r;
    char       conf[8192];
    int        p;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    snprintf(conf, sizeof(conf),
             CONF_HEAD "    server {\n        listen 127.0.0.1:%d;\n" TABLE_ROUTES "    }\n}\n",
             s.port);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    /* route = /health */
    expect(p, "GET", "x", "/health", NULL, 200, "ok\n");
    expect(p, "GET", "x", "/health?full=1", NULL, 200, "ok\n");
    expect(p, "GET", "x", "/health/", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/healthz", NULL, 404, "no route\n");
    zpt_req(p, "HEAD", "x", "/health", NULL, &r);
    ck_assert_msg(r.status == 200 && r.content_length == 3, "HEAD /health: %d\n%s", r.status,
                  r.headers);

    /* route /api/users/:id, GET PUT DELETE (and HEAD) */
    expect(p, "GET", "x", "/api/users/7", NULL, 200, "user 7\n");
    expect(p, "PUT", "x", "/api/users/7", "Content-Length: 0\r\n", 200, "user 7\n");
    expect(p, "DELETE", "x", "/api/users/42", NULL, 200, "user 42\n");
    zpt_req(p, "HEAD", "x", "/api/users/7", NULL, &r);
    ck_assert_msg(r.status == 200 && r.content_length == 7, "HEAD /api/users/7: %d\n%s",
                  r.status, r.headers);

    /* a method the pattern refuses falls to the less specific routes:
     * POST to /api/users/, PATCH (refused there too) to the catch-all */
    expect(p, "POST", "x", "/api/users/7", "Content-Length: 0\r\n", 200, "users\n");
    expect(p, "PATCH", "x", "/api/users/7", "Content-Length: 0\r\n", 404, "no route\n");

    /* route /api/users/ (prefix): a pattern is strict, a prefix is not */
    expect(p, "GET", "x", "/api/users/", NULL, 200, "users\n");
    expect(p, "POST", "x", "/api/users/", "Content-Length: 0\r\n", 200, "users\n");
    expect(p, "GET", "x", "/api/users/7/orders", NULL, 200, "users\n");
    expect(p, "DELETE", "x", "/api/users/", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/api/users", NULL, 404, "no route\n");

    /* route /api/orders/:oid/items/<splat> */
    expect(p, "GET", "x", "/api/orders/12/items/", NULL, 200, "order 12\n");
    expect(p, "GET", "x", "/api/orders/12/items/a/b", NULL, 200, "order 12\n");
    expect(p, "POST", "x", "/api/orders/3/items/x", "Content-Length: 0\r\n", 200, "order 3\n");
    expect(p, "GET", "x", "/api/orders/12/items", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/api/orders/12", NULL, 404, "no route\n");

    /* route ~ ^/v(\d+)/reports/ (unquoted, as in the issue) */
    expect(p, "GET", "x", "/v2/reports/", NULL, 200, "reports v2\n");
    expect(p, "GET", "x", "/v10/reports/q1", NULL, 200, "reports v10\n");
    expect(p, "GET", "x", "/v2/Reports/", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/vx/reports/", NULL, 404, "no route\n");

    /* the two /admin/ routes: a failed header condition tries the next */
    expect(p, "GET", "x", "/admin/", "Authorization: Bearer t0k3n\r\n", 200, "admin\n");
    expect(p, "GET", "x", "/admin/panel", "Authorization: Bearer x\r\n", 200, "admin\n");
    expect(p, "GET", "x", "/admin/panel", NULL, 401, "authorization required\n");
    expect(p, "GET", "x", "/admin/panel", "Authorization: Basic Zm9vOmJhcg==\r\n", 401,
           "authorization required\n");
    expect(p, "GET", "x", "/admin/panel", "Authorization: bearer t0k3n\r\n", 401,
           "authorization required\n");

    /* route / */
    expect(p, "GET", "x", "/", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/elsewhere/x", NULL, 404, "no route\n");
    expect(p, "OPTIONS", "x", "/api", NULL, 404, "no route\n");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- methods: 405 only when no route at all accepts --------------------- */

START_TEST(test_methods_405)
{
    zpt_srv_t  s;
    pid_t      master, w0[2];
    zpt_resp_t r;
    char       conf[8192];
    int        p;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    snprintf(conf, sizeof(conf),
             CONF_HEAD
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        route /api/users/:id { methods GET PUT DELETE; return 200 \"user $param_id\\n\"; }\n"
             "        route /api/users/ { methods GET POST; return 200 \"users\\n\"; }\n"
             "        route = /only-post { methods POST; return 200 \"posted\\n\"; }\n"
             "        route /get/ { methods GET; return 200 \"get\\n\"; }\n"
             "        route /any/ { return 200 \"any\\n\"; }\n"
             "    }\n}\n",
             s.port);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    /* refused by both path matches: the union of their methods */
    zpt_req(p, "PATCH", "x", "/api/users/7", "Content-Length: 0\r\n", &r);
    ck_assert_msg(r.status == 405, "PATCH /api/users/7: %d \"%s\"", r.status, r.body);
    expect_allow(&r, "PATCH /api/users/7", "GET,HEAD,POST,PUT,DELETE");

    /* accepted by the less specific one */
    expect(p, "POST", "x", "/api/users/7", "Content-Length: 0\r\n", 200, "users\n");
    expect(p, "PUT", "x", "/api/users/7", "Content-Length: 0\r\n", 200, "user 7\n");

    zpt_req(p, "DELETE", "x", "/api/users/", NULL, &r);
    ck_assert_msg(r.status == 405, "DELETE /api/users/: %d \"%s\"", r.status, r.body);
    expect_allow(&r, "DELETE /api/users/", "GET,HEAD,POST");

    zpt_req(p, "GET", "x", "/only-post", NULL, &r);
    ck_assert_msg(r.status == 405, "GET /only-post: %d \"%s\"", r.status, r.body);
    expect_allow(&r, "GET /only-post", "POST");
    zpt_req(p, "HEAD", "x", "/only-post", NULL, &r);
    ck_assert_msg(r.status == 405, "HEAD /only-post (POST does not imply HEAD): %d", r.status);
    expect(p, "POST", "x", "/only-post", "Content-Length: 0\r\n", 200, "posted\n");

    /* GET implies HEAD */
    zpt_req(p, "HEAD", "x", "/get/x", NULL, &r);
    ck_assert_msg(r.status == 200 && r.content_length == 4, "HEAD /get/x: %d\n%s", r.status,
                  r.headers);
    zpt_req(p, "POST", "x", "/get/x", "Content-Length: 0\r\n", &r);
    ck_assert_msg(r.status == 405, "POST /get/x: %d \"%s\"", r.status, r.body);
    expect_allow(&r, "POST /get/x", "GET,HEAD");

    /* no methods: any */
    expect(p, "OPTIONS", "x", "/any/x", NULL, 200, "any\n");
    expect(p, "DELETE", "x", "/any/", NULL, 200, "any\n");

    /* no path match: 404, not 405 */
    expect_404(p, "PATCH", "/nothing");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- every form and every precedence rule -------------------------------- */

START_TEST(test_forms_and_precedence)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      conf[16384];
    int       p;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    snprintf(conf, sizeof(conf),
             CONF_HEAD
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             /* the four kinds on one path, least specific written first */
             "        route /p/ { return 200 \"prefix\\n\"; }\n"
             "        route ~ \"^/p/r\" { return 200 \"regex\\n\"; }\n"
             "        route /p/:x { return 200 \"pattern $param_x\\n\"; }\n"
             "        route = /p/r { return 200 \"exact\\n\"; }\n"
             /* literal > :param > * */
             "        route /s/* { return 200 \"splat\\n\"; }\n"
             "        route /s/:a/:b { return 200 \"ab $param_a $param_b\\n\"; }\n"
             "        route /s/:a/x { return 200 \"ax $param_a\\n\"; }\n"
             "        route /s/lit/:b { return 200 \"litb $param_b\\n\"; }\n"
             /* the leftmost differing segment decides */
             "        route /t/:a/x { return 200 \"param-literal $param_a\\n\"; }\n"
             "        route /t/lit/:b { return 200 \"literal-param $param_b\\n\"; }\n"
             /* a literal branch that fails deeper gives way to the param */
             "        route /b/lit/:z/end { return 200 \"lit-end $param_z\\n\"; }\n"
             "        route /b/:p/:q/other { return 200 \"p-other $param_p $param_q\\n\"; }\n"
             "        route /b/* { return 200 \"b-splat\\n\"; }\n"
             /* same shape, other param names: the order written */
             "        route /o/:first { methods GET; return 200 \"first $param_first\\n\"; }\n"
             "        route /o/:second { return 200 \"second $param_second [$param_first]\\n\"; }\n"
             /* strict trailing slashes, two params */
             "        route /u/:id { return 200 \"u $param_id\\n\"; }\n"
             "        route /u/:id/ { return 200 \"u-slash $param_id\\n\"; }\n"
             "        route /u/:id/orders/:oid { return 200 \"uo $param_id $param_oid\\n\"; }\n"
             /* regexes in the order written, ~ and ~* */
             "        route ~ \"^/r/a\" { return 200 \"re1\\n\"; }\n"
             "        route ~ \"^/r/\" { return 200 \"re2\\n\"; }\n"
             "        route ~* \"\\.png$\" { return 200 \"png\\n\"; }\n"
             "        route ~ \"^/cs/ABC$\" { return 200 \"cs\\n\"; }\n"
             /* longest prefix, whatever the order; mid-segment prefixes */
             "        route /l/ { return 200 \"l\\n\"; }\n"
             "        route /l/long/ { return 200 \"l-long\\n\"; }\n"
             "        route /l/lo { return 200 \"l-lo\\n\"; }\n"
             /* the same prefix twice, the same exact twice: the order written */
             "        route /m2/ { methods GET; return 200 \"m2-get\\n\"; }\n"
             "        route /m2/ { return 200 \"m2-any\\n\"; }\n"
             "        route = /e { match_header X-E; return 200 \"e1\\n\"; }\n"
             "        route = /e { return 200 \"e2\\n\"; }\n"
             /* literal forms */
             "        route = /x/:id { return 200 \"exact-literal\\n\"; }\n"
             "        route /glob/*.gif { return 200 \"literal-star\\n\"; }\n"
             "        route /c/a:b { return 200 \"literal-colon\\n\"; }\n"
             "    }\n}\n",
             s.port);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    /* exact beats pattern beats regex beats prefix */
    expect(p, "GET", "x", "/p/r", NULL, 200, "exact\n");
    expect(p, "GET", "x", "/p/rr", NULL, 200, "pattern rr\n");
    expect(p, "GET", "x", "/p/rr/x", NULL, 200, "regex\n");
    expect(p, "GET", "x", "/p/q/x", NULL, 200, "prefix\n");
    expect(p, "GET", "x", "/p/", NULL, 200, "prefix\n");

    /* literal beats :param beats *, the leftmost differing segment first
     * (a route without ":" or "*", like "/s/lit/x", would be a prefix) */
    expect(p, "GET", "x", "/s/lit/x", NULL, 200, "litb x\n");
    expect(p, "GET", "x", "/s/lit/y", NULL, 200, "litb y\n");
    expect(p, "GET", "x", "/s/q/x", NULL, 200, "ax q\n");
    expect(p, "GET", "x", "/s/q/y", NULL, 200, "ab q y\n");
    expect(p, "GET", "x", "/s/q/y/z", NULL, 200, "splat\n");
    expect(p, "GET", "x", "/s/lit", NULL, 200, "splat\n");
    expect(p, "GET", "x", "/s/", NULL, 200, "splat\n");
    expect_404(p, "GET", "/s");
    expect(p, "GET", "x", "/t/lit/x", NULL, 200, "literal-param x\n");
    expect(p, "GET", "x", "/t/other/x", NULL, 200, "param-literal other\n");

    /* back up out of a literal branch */
    expect(p, "GET", "x", "/b/lit/1/end", NULL, 200, "lit-end 1\n");
    expect(p, "GET", "x", "/b/lit/1/other", NULL, 200, "p-other lit 1\n");
    expect(p, "GET", "x", "/b/lit/1/zzz", NULL, 200, "b-splat\n");

    /* same shape: order written; each route sees its own param names */
    expect(p, "GET", "x", "/o/1", NULL, 200, "first 1\n");
    expect(p, "POST", "x", "/o/1", "Content-Length: 0\r\n", 200, "second 1 []\n");

    /* strict trailing slash, non-empty params */
    expect(p, "GET", "x", "/u/42", NULL, 200, "u 42\n");
    expect(p, "GET", "x", "/u/42/", NULL, 200, "u-slash 42\n");
    expect(p, "GET", "x", "/u/5/orders/9", NULL, 200, "uo 5 9\n");
    expect_404(p, "GET", "/u/5/orders");
    expect_404(p, "GET", "/u/5/orders/9/");
    expect_404(p, "GET", "/u/");

    /* regexes in order; ~ is case-sensitive, ~* is not */
    expect(p, "GET", "x", "/r/abc", NULL, 200, "re1\n");
    expect(p, "GET", "x", "/r/a.png", NULL, 200, "re1\n");
    expect(p, "GET", "x", "/r/b", NULL, 200, "re2\n");
    expect(p, "GET", "x", "/img/x.png", NULL, 200, "png\n");
    expect(p, "GET", "x", "/img/X.PNG", NULL, 200, "png\n");
    expect(p, "GET", "x", "/cs/ABC", NULL, 200, "cs\n");
    expect_404(p, "GET", "/cs/abc");

    /* longest prefix */
    expect(p, "GET", "x", "/l/long/x", NULL, 200, "l-long\n");
    expect(p, "GET", "x", "/l/long", NULL, 200, "l-lo\n");
    expect(p, "GET", "x", "/l/lox", NULL, 200, "l-lo\n");
    expect(p, "GET", "x", "/l/x", NULL, 200, "l\n");
    expect_404(p, "GET", "/l");

    /* written twice: the first that accepts */
    expect(p, "GET", "x", "/m2/", NULL, 200, "m2-get\n");
    expect(p, "POST", "x", "/m2/x", "Content-Length: 0\r\n", 200, "m2-any\n");
    expect(p, "GET", "x", "/e", "X-E: 1\r\n", 200, "e1\n");
    expect(p, "GET", "x", "/e", NULL, 200, "e2\n");
    expect_404(p, "GET", "/e/");

    /* ":" and "*" are literal in an exact route or inside a segment */
    expect(p, "GET", "x", "/x/:id", NULL, 200, "exact-literal\n");
    expect_404(p, "GET", "/x/5");
    expect(p, "GET", "x", "/glob/*.gif", NULL, 200, "literal-star\n");
    expect_404(p, "GET", "/glob/a.gif");
    expect(p, "GET", "x", "/c/a:b", NULL, 200, "literal-colon\n");
    expect(p, "GET", "x", "/c/a:bc", NULL, 200, "literal-colon\n");
    expect_404(p, "GET", "/c/x");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- match_header: present, equal, regex, caseless regex, several -------- */

START_TEST(test_match_header)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      conf[8192];
    int       p;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    snprintf(conf, sizeof(conf),
             CONF_HEAD
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        route /hp/ { match_header X-Flag; return 200 \"present\\n\"; }\n"
             "        route /hp/ { return 200 \"absent\\n\"; }\n"
             "        route /he/ { match_header X-Env prod; return 200 \"equal\\n\"; }\n"
             "        route /he/ { return 200 \"other\\n\"; }\n"
             "        route /hr/ { match_header X-Ver \"~^v[0-9]+$\"; return 200 \"regex\\n\"; }\n"
             "        route /hr/ { return 200 \"other\\n\"; }\n"
             "        route /hc/ { match_header X-Ver \"~*^v[0-9]+$\"; return 200 \"caseless\\n\"; }\n"
             "        route /hc/ { return 200 \"other\\n\"; }\n"
             "        route /h2/ { match_header X-A 1; match_header X-B; return 200 \"both\\n\"; }\n"
             "        route /h2/ { return 200 \"not-both\\n\"; }\n"
             "        route /hv/ { match_header $remote_addr 10.9.8.7; return 200 \"far\\n\"; }\n"
             "        route /hv/ { match_header $remote_addr \"~^127\\.\"; return 200 \"local\\n\"; }\n"
             "        route /hv/ { return 200 \"unknown\\n\"; }\n"
             "        route /ha/ { match_header $arg_tier gold; return 200 \"gold\\n\"; }\n"
             "        route /ha/ { match_header $arg_tier; return 200 \"some tier\\n\"; }\n"
             "        route /ha/ { return 200 \"no tier\\n\"; }\n"
             "    }\n}\n",
             s.port);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    expect(p, "GET", "x", "/hp/", "X-Flag: 1\r\n", 200, "present\n");
    expect(p, "GET", "x", "/hp/", "x-fLAG: yes\r\n", 200, "present\n");
    expect(p, "GET", "x", "/hp/", NULL, 200, "absent\n");
    expect(p, "GET", "x", "/hp/", "X-Flagged: 1\r\n", 200, "absent\n");

    expect(p, "GET", "x", "/he/", "X-Env: prod\r\n", 200, "equal\n");
    expect(p, "GET", "x", "/he/", "x-env:   prod  \r\n", 200, "equal\n");
    expect(p, "GET", "x", "/he/", "X-Env: Prod\r\n", 200, "other\n");
    expect(p, "GET", "x", "/he/", "X-Env: production\r\n", 200, "other\n");
    expect(p, "GET", "x", "/he/", NULL, 200, "other\n");

    expect(p, "GET", "x", "/hr/", "X-Ver: v12\r\n", 200, "regex\n");
    expect(p, "GET", "x", "/hr/", "X-Ver: V12\r\n", 200, "other\n");
    expect(p, "GET", "x", "/hr/", "X-Ver: v12a\r\n", 200, "other\n");

    expect(p, "GET", "x", "/hc/", "X-Ver: V12\r\n", 200, "caseless\n");
    expect(p, "GET", "x", "/hc/", "X-Ver: v3\r\n", 200, "caseless\n");
    expect(p, "GET", "x", "/hc/", "X-Ver: x\r\n", 200, "other\n");

    expect(p, "GET", "x", "/h2/", "X-A: 1\r\nX-B: z\r\n", 200, "both\n");
    expect(p, "GET", "x", "/h2/", "X-A: 1\r\n", 200, "not-both\n");
    expect(p, "GET", "x", "/h2/", "X-A: 2\r\nX-B: z\r\n", 200, "not-both\n");
    expect(p, "GET", "x", "/h2/", "X-B: z\r\n", 200, "not-both\n");

    /* a $variable instead of a header name; empty or unset is absent */
    expect(p, "GET", "x", "/hv/", NULL, 200, "local\n");
    expect(p, "GET", "x", "/hv/", "Remote-Addr: 10.9.8.7\r\n", 200, "local\n");
    expect(p, "GET", "x", "/ha/?tier=gold", NULL, 200, "gold\n");
    expect(p, "GET", "x", "/ha/?tier=silver", NULL, 200, "some tier\n");
    expect(p, "GET", "x", "/ha/?tier=", NULL, 200, "no tier\n");
    expect(p, "GET", "x", "/ha/", "X-Arg-Tier: gold\r\n", 200, "no tier\n");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- routing on the normalized path -------------------------------------- */

START_TEST(test_normalized_paths)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      conf[8192];
    int       p, p2;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    p2 = zpt_free_port();
    ck_assert(p2 > 0 && p2 != s.port);
    snprintf(conf, sizeof(conf),
             CONF_HEAD
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        route /api/users/:id { return 200 \"user $param_id\\n\"; }\n"
             "        route = /exact/path { return 200 \"exact\\n\"; }\n"
             "        route ~ \"^/re/(\\w+)$\" { return 200 \"re $1\\n\"; }\n"
             "        route / { return 404 \"no route\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        merge_slashes off;\n"
             "        route = /a//b { return 200 \"double\\n\"; }\n"
             "        route = /a/b { return 200 \"single\\n\"; }\n"
             "        route / { return 404 \"no route\\n\"; }\n"
             "    }\n}\n",
             s.port, p2);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    expect(p, "GET", "x", "/api/%75sers/7", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/users/%37", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/x/../users/7", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/./users/./7", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/users/x/../7", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/users/7/x/..", NULL, 404, "no route\n"); /* "/api/users/7/" */
    expect(p, "GET", "x", "//api//users/7", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/api/users/7?next=/../../x", NULL, 200, "user 7\n");
    expect(p, "GET", "x", "/exact/../exact/path", NULL, 200, "exact\n");
    expect(p, "GET", "x", "/exact/%2e%2e/exact/path", NULL, 200, "exact\n");
    expect(p, "GET", "x", "/EXACT/path", NULL, 404, "no route\n");
    expect(p, "GET", "x", "/re/%61bc", NULL, 200, "re abc\n");

    /* absolute-form: the path of the target routes */
    expect_raw(p, "GET http://example.com/api/%75sers/8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               200, "user 8\n");
    expect_raw(p, "GET http://example.com:8080/api/users/9?q=1 HTTP/1.1\r\nHost: x\r\n"
                  "Connection: close\r\n\r\n",
               200, "user 9\n");

    /* ".." above the root: 400, and the connection closes */
    zpt_refused(p, "GET /.. HTTP/1.1\r\nHost: x\r\n\r\n", 400, "GET /..");
    zpt_refused(p, "GET /../api/users/7 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "GET /../api/users/7");
    zpt_refused(p, "GET /api/../../x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "GET /api/../../x");
    zpt_refused(p, "GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "GET /%2e%2e/x");

    /* merge_slashes off: "//" is kept, dot segments still resolve */
    expect(p2, "GET", "x", "/a//b", NULL, 200, "double\n");
    expect(p2, "GET", "x", "/a/b", NULL, 200, "single\n");
    expect(p2, "GET", "x", "/a/./b", NULL, 200, "single\n");
    expect(p2, "GET", "x", "/a/.//b", NULL, 200, "double\n");
    expect(p2, "GET", "x", "/a/%2fb", NULL, 200, "double\n");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- server_name ----------------------------------------------------------- */

START_TEST(test_server_name)
{
    zpt_srv_t s;
    pid_t     master, w0[2];
    char      conf[8192];
    int       p, p2;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    p2 = zpt_free_port();
    ck_assert(p2 > 0 && p2 != s.port);
    snprintf(conf, sizeof(conf),
             CONF_HEAD
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name a.example.com alias.test;\n"
             "        route / { return 200 \"A $host\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d default_server;\n"
             "        server_name b.example.com;\n"
             "        route / { return 200 \"B\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name *.example.com;\n"
             "        route / { return 200 \"C\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name *.deep.example.com;\n"
             "        route / { return 200 \"D\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name ~^api(\\d+)\\.example\\.org$;\n"
             "        route / { return 200 \"R $host\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name e.test;\n"
             "        route / { return 200 \"E\\n\"; }\n"
             "    }\n"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "        server_name f.test;\n"
             "        route / { return 200 \"F\\n\"; }\n"
             "    }\n}\n",
             s.port, s.port, s.port, s.port, s.port, p2, p2);
    master = zpt_start_conf(&s, conf, w0);
    p      = s.port;

    /* exact names: case, port and a trailing dot do not matter */
    expect(p, "GET", "a.example.com", "/", NULL, 200, "A a.example.com\n");
    expect(p, "GET", "A.Example.COM:8080", "/", NULL, 200, "A a.example.com\n");
    expect(p, "GET", "a.example.com.", "/", NULL, 200, "A a.example.com\n");
    expect(p, "GET", "alias.test", "/", NULL, 200, "A alias.test\n");
    expect(p, "GET", "b.example.com", "/", NULL, 200, "B\n");

    /* wildcards: the longest that matches; not the bare domain */
    expect(p, "GET", "x.example.com", "/", NULL, 200, "C\n");
    expect(p, "GET", "x.y.example.com", "/", NULL, 200, "C\n");
    expect(p, "GET", "q.deep.example.com", "/", NULL, 200, "D\n");
    expect(p, "GET", "deep.example.com", "/", NULL, 200, "C\n");
    expect(p, "GET", "example.com", "/", NULL, 200, "B\n");

    /* regex names, after exact and wildcard ones; matched caselessly */
    expect(p, "GET", "api12.example.org", "/", NULL, 200, "R api12.example.org\n");
    expect(p, "GET", "API7.Example.ORG", "/", NULL, 200, "R api7.example.org\n");
    expect(p, "GET", "apix.example.org", "/", NULL, 200, "B\n");

    /* no match, no Host: the default_server */
    expect(p, "GET", "unknown.test", "/", NULL, 200, "B\n");
    expect_raw(p, "GET / HTTP/1.0\r\n\r\n", 200, "B\n");

    /* the absolute-form authority wins over Host */
    expect_raw(p, "GET http://a.example.com/ HTTP/1.1\r\nHost: b.example.com\r\n"
                  "Connection: close\r\n\r\n",
               200, "A a.example.com\n");
    expect_raw(p, "GET http://Z.Example.com:81/x HTTP/1.1\r\nHost: b.example.com\r\n"
                  "Connection: close\r\n\r\n",
               200, "C\n");

    /* the authority is normalized like Host: lower case, no port, no trailing dot */
    expect_raw(p, "GET http://a.example.com./ HTTP/1.1\r\nHost: b.example.com\r\n"
                  "Connection: close\r\n\r\n",
               200, "A a.example.com\n");

    /* without default_server, the first server of the address */
    expect(p2, "GET", "zzz.test", "/", NULL, 200, "E\n");
    expect(p2, "GET", "f.test", "/", NULL, 200, "F\n");
    expect(p2, "GET", "e.test", "/", NULL, 200, "E\n");

    zpt_assert_same_workers(&s, master, w0);
    zpt_teardown();
}
END_TEST


/* ---- route errors at file:line through zproxy -t ------------------------- */

/* Writes a config whose line 8 holds `bad` (after a good route on line 7). */
static void
bad_conf(zpt_srv_t *s, const char *line7, const char *bad)
{
    ck_assert_int_eq(zpt_srv_conf(s,
                                  "worker_processes 1;\n"                           /* 1 */
                                  "daemon off;\n"                                   /* 2 */
                                  "events { worker_connections 64; }\n"             /* 3 */
                                  "http {\n"                                        /* 4 */
                                  "    server {\n"                                  /* 5 */
                                  "        listen 127.0.0.1:%d;\n"                  /* 6 */
                                  "        %s\n"                                    /* 7 */
                                  "        %s\n"                                    /* 8 */
                                  "    }\n"                                         /* 9 */
                                  "}\n",                                            /* 10 */
                                  s->port, line7, bad),
                     0);
}


START_TEST(test_config_errors)
{
    zpt_srv_t s;
    char      err[16384];
    int       rc;
    const char *ok = "route /ok/ { return 200 \"ok\\n\"; }";

    ck_assert_int_eq(zpt_srv_init(&s), 0);

    /* the base passes */
    bad_conf(&s, ok, "route /fine/ { return 200 \"x\"; }");
    rc = zpt_conftest(&s, err, sizeof(err));
    ck_assert_msg(rc == 0, "a good config fails -t (%d):\n%s", rc, err);

    /* the same path twice with other methods or a header condition is no duplicate */
    bad_conf(&s, "route /m/ { methods GET; return 200 \"x\"; }", "route /m/ { return 200 \"y\"; }");
    rc = zpt_conftest(&s, err, sizeof(err));
    ck_assert_msg(rc == 0, "same prefix, other methods: -t fails (%d):\n%s", rc, err);

    bad_conf(&s, ok, "route ~ \"^/(unclosed\" { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "^/(unclosed", "does not compile");

    bad_conf(&s, ok, "route ~* \"[z-a]\" { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "[z-a]", "does not compile");

    bad_conf(&s, ok, "route /a/ { match_header X-A \"~(bad\"; return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "(bad", "does not compile");

    bad_conf(&s, ok, "route /a/ { match_header $no_such_variable x; return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "unknown variable", "no_such_variable");

    bad_conf(&s, ok, "route /static/*/x { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "\"*\" is not the last segment", "/static/*/x");

    bad_conf(&s, ok, "route /a/:id/b/:id { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "duplicate param \":id\"", "/a/:id/b/:id");

    bad_conf(&s, ok, "route /a/: { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "invalid param name", "/a/:");

    bad_conf(&s, ok, "route nope { return 200 \"x\"; }");
    zpt_conftest_error(&s, 8, "does not start with \"/\"", "nope");

    bad_conf(&s, "route /dup/ { return 200 \"x\"; }", "route /dup/ { return 200 \"y\"; }");
    zpt_conftest_error(&s, 8, "duplicate route \"/dup/\"", NULL);

    bad_conf(&s, "route = /d { return 200 \"x\"; }", "route = /d { return 200 \"y\"; }");
    zpt_conftest_error(&s, 8, "duplicate route \"/d\"", NULL);

    bad_conf(&s, "route /p/:id { methods GET; return 200 \"x\"; }",
             "route /p/:id { methods GET; return 200 \"y\"; }");
    zpt_conftest_error(&s, 8, "duplicate route \"/p/:id\"", NULL);

    bad_conf(&s, "route ~ \"^/r\" { return 200 \"x\"; }", "route ~ \"^/r\" { return 200 \"y\"; }");
    zpt_conftest_error(&s, 8, "duplicate route \"^/r\"", NULL);

    zpt_teardown();
}
END_TEST


static Suite *
routing_suite(void)
{
    Suite *s  = suite_create("routing");
    TCase *tc = tcase_create("routing");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_example_table);
    tcase_add_test(tc, test_methods_405);
    tcase_add_test(tc, test_forms_and_precedence);
    tcase_add_test(tc, test_match_header);
    tcase_add_test(tc, test_normalized_paths);
    tcase_add_test(tc, test_server_name);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(routing_suite)
