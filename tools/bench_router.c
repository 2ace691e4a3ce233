/*
 * bench_router.c: lookup cost of zp_http_router against the table size.
 *
 * Builds tables of 10, 100, 1,000 and 10,000 generated API routes, plus
 * the same 4 prefixes and 5 regexes in every table, looks up a fixed mix
 * of paths and prints ns/lookup per size and the 10,000/10 ratio. Not in
 * the Makefile; build it from the tree root after "make":
 *
 *   cc -std=c11 -O2 -Icore -Ievent -Ihttp -Imodules -Iobjs \
 *      tools/bench_router.c objs/libzproxy.a \
 *      -lssl -lcrypto -lz -lpcre2-8 -lnuma -lyaml -o objs/bench_router
 *   objs/bench_router [lookups per run, default 1000000]
 *
 * Each figure is the best of ZPB_RUNS runs: the minimum is the estimate
 * least disturbed by other load on the machine.
 *
 * Generated route i (r = i / 4 names a resource: users, orders, ...,
 * users2, orders2, ... so every route is distinct):
 *
 *   i % 4 == 0   route = /api/v1/<r>
 *   i % 4 == 1   route /api/v1/<r>/:id                 {methods GET PUT DELETE}
 *   i % 4 == 2   route /api/v1/<r>/:id/<r+1>
 *   i % 4 == 3   route /api/v1/<r>/:id/<r+1>/:sid
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>
#include <zp_http_router.h>

#define ZPB_NWORDS 20
#define ZPB_RUNS   15

static const char *zpb_words[ZPB_NWORDS] = {
    "users",    "orders",  "items",   "accounts", "invoices", "products", "carts",
    "payments", "reviews", "tickets", "sessions", "tokens",   "teams",    "projects",
    "builds",   "jobs",    "alerts",  "metrics",  "events",   "webhooks"};

typedef struct {
    const char *path;
    zp_uint_t   method;
} zpb_req_t;

/* Served by exact and pattern routes only: the part that must not grow. */
static zpb_req_t zpb_trie_mix[] = {
    {"/api/v1/users", ZP_HTTP_GET},
    {"/api/v1/users/42", ZP_HTTP_GET},
    {"/api/v1/users/42/orders", ZP_HTTP_GET},
    {"/api/v1/users/42/orders/7", ZP_HTTP_GET},
    {"/api/v1/orders/9f1c2a", ZP_HTTP_DELETE},
    {"/api/v1/orders/9f1c2a/items/3", ZP_HTTP_GET},
};

/* The realistic mix: the above plus regex, prefix and fallback hits. */
static zpb_req_t zpb_full_mix[] = {
    {"/api/v1/users", ZP_HTTP_GET},
    {"/api/v1/users/42", ZP_HTTP_GET},
    {"/api/v1/users/42/orders", ZP_HTTP_GET},
    {"/api/v1/users/42/orders/7", ZP_HTTP_GET},
    {"/api/v1/orders/9f1c2a", ZP_HTTP_DELETE},
    {"/api/v1/orders/9f1c2a/items/3", ZP_HTTP_GET},
    {"/api/v1/users/42", ZP_HTTP_POST},           /* refused by :id, "/api/v1/" */
    {"/v3/reports/daily", ZP_HTTP_GET},           /* regex 1 */
    {"/img/Logo.PNG", ZP_HTTP_GET},               /* regex 3, caseless */
    {"/static/css/site.css", ZP_HTTP_GET},        /* all regexes, then prefix */
    {"/api/v1/nothing/here/at/all", ZP_HTTP_GET}, /* prefix "/api/v1/" */
    {"/favicon.ico", ZP_HTTP_GET},                /* prefix "/" */
};


static double
zpb_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}


static void
zpb_add(zp_http_router_t *rt, zp_uint_t type, const char *pattern, zp_uint_t methods)
{
    char                err[256];
    zp_http_route_def_t def;

    def.pattern.data = (u_char *)pattern;
    def.pattern.len  = strlen(pattern);
    def.type         = type;
    def.methods      = methods;
    def.headers      = NULL;
    def.data         = (void *)pattern;

    if (zp_http_router_add(rt, &def, err, sizeof(err)) != ZP_OK) {
        fprintf(stderr, "bench_router: %s\n", err);
        exit(1);
    }
}


static void
zpb_resource(char *buf, size_t size, zp_uint_t r)
{
    if (r < ZPB_NWORDS) {
        snprintf(buf, size, "%s", zpb_words[r]);
    } else {
        snprintf(buf, size, "%s%u", zpb_words[r % ZPB_NWORDS], (unsigned)(r / ZPB_NWORDS + 1));
    }
}


static zp_http_router_t *
zpb_build(zp_pool_t *pool, zp_log_t *log, zp_uint_t n)
{
    char             *p, res[64], sub[64];
    zp_uint_t         i, r;
    zp_http_router_t *rt;

    rt = zp_http_router_create(pool, log);
    if (rt == NULL) {
        exit(1);
    }

    for (i = 0; i < n; i++) {
        r = i / 4;
        zpb_resource(res, sizeof(res), r);
        zpb_resource(sub, sizeof(sub), r + 1);

        p = zp_pnalloc(pool, 256);
        if (p == NULL) {
            exit(1);
        }

        switch (i % 4) {
        case 0:
            snprintf(p, 256, "/api/v1/%s", res);
            zpb_add(rt, ZP_HTTP_ROUTE_EXACT, p, 0);
            break;
        case 1:
            snprintf(p, 256, "/api/v1/%s/:id", res);
            zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, p, ZP_HTTP_GET | ZP_HTTP_PUT | ZP_HTTP_DELETE);
            break;
        case 2:
            snprintf(p, 256, "/api/v1/%s/:id/%s", res, sub);
            zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, p, 0);
            break;
        default:
            snprintf(p, 256, "/api/v1/%s/:id/%s/:sid", res, sub);
            zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, p, 0);
        }
    }

    zpb_add(rt, ZP_HTTP_ROUTE_REGEX, "^/v(\\d+)/reports/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_REGEX, "\\.php$", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_REGEX_CASELESS, "^/img/.*\\.(png|jpg|gif)$", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_REGEX, "^/download/(\\w+)/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_REGEX, "^/legacy/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, "/static/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, "/api/v1/", 0);
    zpb_add(rt, ZP_HTTP_ROUTE_PREFIX, "/", 0);

    if (zp_http_router_compile(rt) != ZP_OK) {
        exit(1);
    }

    return rt;
}


/*
 * The spread mix: 256 exact and pattern hits over all the table's
 * resources, so a big table also pays cache misses, as a server does.
 */
#define ZPB_NSPREAD 256

static zpb_req_t *
zpb_spread(zp_pool_t *pool, zp_uint_t n)
{
    char      *p, res[64], sub[64];
    zp_uint_t  j, r, nres;
    zpb_req_t *mix;

    mix  = zp_palloc(pool, ZPB_NSPREAD * sizeof(zpb_req_t));
    nres = n / 4; /* resources with all four routes */

    for (j = 0; mix && j < ZPB_NSPREAD; j++) {
        r = (j * 7919) % nres;
        zpb_resource(res, sizeof(res), r);
        zpb_resource(sub, sizeof(sub), r + 1);

        p = zp_pnalloc(pool, 256);
        if (p == NULL) {
            exit(1);
        }

        switch (j % 3) {
        case 0:
            snprintf(p, 256, "/api/v1/%s", res);
            break;
        case 1:
            snprintf(p, 256, "/api/v1/%s/%u", res, (unsigned)(j * 31));
            break;
        default:
            snprintf(p, 256, "/api/v1/%s/%u/%s/%u", res, (unsigned)j, sub, (unsigned)r);
        }

        mix[j].path   = p;
        mix[j].method = ZP_HTTP_GET;
    }

    if (mix == NULL) {
        exit(1);
    }

    return mix;
}


/* Best of ZPB_RUNS runs of count lookups over mix, in ns per lookup. */
static double
zpb_run(zp_http_router_t *rt, zpb_req_t *mix, zp_uint_t nmix, zp_uint_t count, uintptr_t *sum)
{
    double                t0, t, best;
    zp_int_t              rc;
    zp_str_t              paths[ZPB_NSPREAD];
    zp_uint_t             i, run;
    zp_http_route_match_t m;

    for (i = 0; i < nmix; i++) {
        paths[i].data = (u_char *)mix[i].path;
        paths[i].len  = strlen(mix[i].path);

        rc = zp_http_router_find(rt, &paths[i], mix[i].method, NULL, NULL, &m);
        if (rc != ZP_OK) {
            fprintf(stderr, "bench_router: \"%s\" found no route (%d)\n", mix[i].path, (int)rc);
            exit(1);
        }
    }

    best = 0;

    for (run = 0; run < ZPB_RUNS; run++) {
        t0 = zpb_now();

        for (i = 0; i < count; i++) {
            rc = zp_http_router_find(rt, &paths[i % nmix], mix[i % nmix].method, NULL, NULL, &m);
            *sum += (uintptr_t)m.data + m.nparams + (uintptr_t)rc;
        }

        t = (zpb_now() - t0) / (double)count;
        if (run == 0 || t < best) {
            best = t;
        }
    }

    return best;
}


int
main(int argc, char **argv)
{
    double            full[4], trie[4], spread[4];
    zp_uint_t         i, count, sizes[4] = {10, 100, 1000, 10000};
    uintptr_t         sum = 0;
    zp_log_t         *log;
    zp_pool_t        *pool;
    zp_http_router_t *rt;

    count = (argc > 1) ? (zp_uint_t)strtoul(argv[1], NULL, 10) : 1000000;
    if (count == 0) {
        count = 1000000;
    }

    log = zp_log_init(NULL, NULL);

    printf("zp_http_router lookups: %lu per mix and size, best of %d runs\n", (unsigned long)count,
           ZPB_RUNS);
    printf("%8s %8s %14s %14s %14s\n", "routes", "+fixed", "trie mix ns", "full mix ns",
           "spread mix ns");

    for (i = 0; i < 4; i++) {
        pool = zp_create_pool(16384, log);
        if (pool == NULL) {
            return 1;
        }

        rt = zpb_build(pool, log, sizes[i]);

        trie[i]   = zpb_run(rt, zpb_trie_mix, zp_nelems(zpb_trie_mix), count, &sum);
        full[i]   = zpb_run(rt, zpb_full_mix, zp_nelems(zpb_full_mix), count, &sum);
        spread[i] = zpb_run(rt, zpb_spread(pool, sizes[i]), ZPB_NSPREAD, count, &sum);

        printf("%8lu %8s %14.1f %14.1f %14.1f\n", (unsigned long)sizes[i], "+9", trie[i], full[i],
               spread[i]);

        zp_destroy_pool(pool);
    }

    printf("ratio 10000/10: trie mix %.2f, full mix %.2f, spread mix %.2f\n", trie[3] / trie[0],
           full[3] / full[0], spread[3] / spread[0]);
    printf("(checksum %lx)\n", (unsigned long)sum);
    printf("note: wall-clock timings (CLOCK_MONOTONIC), not instruction counts; the\n"
           "      +9 fixed routes are 5 regexes and 4 prefixes in every table. The\n"
           "      full mix pays the 5 regexes (linear, by design) on its regex and\n"
           "      prefix paths; the trie mix is exact and pattern hits only; the\n"
           "      spread mix hits 256 paths over all the table's resources.\n"
           "      For instruction counts: perf stat -e instructions objs/bench_router\n");

    return 0;
}
