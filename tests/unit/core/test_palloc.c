/*
 * test_palloc.c: zp_palloc.c.
 */
#include "zpt_unit.h"

static int zpt_calls[8];
static int zpt_order[8];
static int zpt_ncalls;


static void
zpt_reset_calls(void)
{
    memset(zpt_calls, 0, sizeof(zpt_calls));
    zpt_ncalls = 0;
}

static void
zpt_cleanup(void *data)
{
    int id = *(int *)data;

    zpt_calls[id]++;
    zpt_order[zpt_ncalls++] = id;
}


/* Whether p lies inside one of the pool's blocks. */
static int
zpt_in_blocks(zp_pool_t *pool, void *p)
{
    zp_pool_t *b;

    for (b = pool; b; b = b->d.next) {
        if ((u_char *)p >= (u_char *)b && (u_char *)p < b->d.end) {
            return 1;
        }
    }

    return 0;
}


static int
zpt_in_large(zp_pool_t *pool, void *p)
{
    zp_pool_large_t *l;

    for (l = pool->large; l; l = l->next) {
        if (l->alloc == p) {
            return 1;
        }
    }

    return 0;
}


START_TEST(test_pool_small)
{
    zp_pool_t *pool = zpt_create_pool(1024);
    u_char    *a, *b, *c;
    zp_uint_t  i, blocks;
    zp_pool_t *p;

    ck_assert_ptr_eq(pool->log, zpt_log);
    ck_assert_uint_eq(pool->max, 1024 - sizeof(zp_pool_t));

    a = zp_pnalloc(pool, 3);
    b = zp_pnalloc(pool, 5);
    /* unaligned allocations are packed */
    ck_assert_ptr_eq(b, a + 3);

    c = zp_palloc(pool, 8);
    ck_assert_uint_eq((uintptr_t)c % ZP_ALIGNMENT, 0);
    ck_assert(zpt_in_blocks(pool, a) && zpt_in_blocks(pool, c));

    c = zp_pcalloc(pool, 100);
    for (i = 0; i < 100; i++) {
        ck_assert_uint_eq(c[i], 0);
    }

    /* enough to need many blocks; every byte must be usable */
    for (i = 0; i < 1000; i++) {
        c = zp_palloc(pool, 200);
        ck_assert_ptr_nonnull(c);
        ck_assert(zpt_in_blocks(pool, c));
        ck_assert(zpt_in_blocks(pool, c + 199));
        memset(c, (int)i, 200);
    }

    blocks = 0;
    for (p = pool; p; p = p->d.next) {
        blocks++;
        ck_assert(p->d.last <= p->d.end);
    }

    ck_assert_uint_gt(blocks, 100);
    /* full blocks are skipped, not searched on every allocation */
    ck_assert_ptr_ne(pool->current, pool);
    ck_assert_ptr_null(pool->large);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_pool_large)
{
    zp_pool_t *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    u_char    *small, *big, *big2, *al;

    ck_assert_uint_eq(pool->max, ZP_MAX_ALLOC_FROM_POOL);

    small = zp_palloc(pool, ZP_MAX_ALLOC_FROM_POOL);
    ck_assert(zpt_in_blocks(pool, small));
    ck_assert(!zpt_in_large(pool, small));

    big = zp_palloc(pool, ZP_MAX_ALLOC_FROM_POOL + 1);
    ck_assert_ptr_nonnull(big);
    ck_assert(!zpt_in_blocks(pool, big));
    ck_assert(zpt_in_large(pool, big));
    memset(big, 1, ZP_MAX_ALLOC_FROM_POOL + 1);

    /* only large allocations can be freed early, and only once */
    ck_assert_int_eq(zp_pfree(pool, small), ZP_DECLINED);
    ck_assert_int_eq(zp_pfree(pool, big), ZP_OK);
    ck_assert_int_eq(zp_pfree(pool, big), ZP_DECLINED);

    /* the freed slot is reused rather than a new record allocated */
    big2 = zp_pnalloc(pool, 100000);
    ck_assert_ptr_nonnull(big2);
    ck_assert_ptr_eq(pool->large->alloc, big2);
    ck_assert_ptr_null(pool->large->next);

    al = zp_pmemalign(pool, 64, 4096);
    ck_assert_ptr_nonnull(al);
    ck_assert_uint_eq((uintptr_t)al % 4096, 0);
    ck_assert(zpt_in_large(pool, al));

    big = zp_pcalloc(pool, 50000);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(big[0], 0);
    ck_assert_uint_eq(big[49999], 0);

    /* ASan/valgrind catch a leak of any of these */
    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_pool_min_size)
{
    zp_pool_t *pool;
    void      *p;

    pool = zpt_create_pool(1);
    ck_assert_uint_ge((size_t)(pool->d.end - (u_char *)pool), ZP_MIN_POOL_SIZE);

    p = zp_palloc(pool, 16);
    ck_assert_ptr_nonnull(p);
    p = zp_palloc(pool, 1000);
    ck_assert_ptr_nonnull(p);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_pool_cleanup)
{
    zp_pool_t         *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_pool_cleanup_t *c;
    int                i;

    zpt_reset_calls();

    for (i = 0; i < 3; i++) {
        c = zp_pool_cleanup_add(pool, sizeof(int));
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_nonnull(c->data);
        *(int *)c->data = i;
        c->handler      = zpt_cleanup;
    }

    /* a record whose handler was never set is skipped */
    c = zp_pool_cleanup_add(pool, 0);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->data);
    ck_assert_ptr_null(c->handler);

    zp_destroy_pool(pool);

    ck_assert_int_eq(zpt_ncalls, 3);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(zpt_calls[i], 1);
    }

    /* newest first */
    ck_assert_int_eq(zpt_order[0], 2);
    ck_assert_int_eq(zpt_order[1], 1);
    ck_assert_int_eq(zpt_order[2], 0);
}
END_TEST


START_TEST(test_pool_reset)
{
    zp_pool_t         *pool = zpt_create_pool(1024);
    zp_pool_cleanup_t *c;
    u_char            *first, *p;
    zp_uint_t          i;

    zpt_reset_calls();

    c = zp_pool_cleanup_add(pool, sizeof(int));
    ck_assert_ptr_nonnull(c);
    *(int *)c->data = 5;
    c->handler      = zpt_cleanup;

    first = zp_palloc(pool, 10);
    for (i = 0; i < 50; i++) {
        ck_assert_ptr_nonnull(zp_palloc(pool, 100));
    }
    ck_assert_ptr_nonnull(zp_palloc(pool, 10000));
    ck_assert_ptr_nonnull(pool->d.next);

    zp_reset_pool(pool);

    /* the cleanup ran at reset, and is forgotten */
    ck_assert_int_eq(zpt_calls[5], 1);
    ck_assert_ptr_null(pool->cleanup);
    ck_assert_ptr_null(pool->large);
    ck_assert_ptr_eq(pool->current, pool);
    ck_assert_ptr_eq(pool->d.last, (u_char *)pool + sizeof(zp_pool_t));

    /* the rewound blocks are reused */
    p = zp_palloc(pool, 10);
    ck_assert_ptr_eq(p, zp_align_ptr((u_char *)pool + sizeof(zp_pool_t), ZP_ALIGNMENT));
    (void)first;

    for (i = 0; i < 50; i++) {
        ck_assert_ptr_nonnull(zp_palloc(pool, 100));
    }

    zp_destroy_pool(pool);
    ck_assert_int_eq(zpt_calls[5], 1);
}
END_TEST


static zp_fd_t
zpt_temp_file(char *name)
{
    zp_fd_t fd;

    strcpy(name, "/tmp/zpt_palloc_XXXXXX");
    fd = mkstemp(name);
    ck_assert_int_ge(fd, 0);

    return fd;
}


static void
zpt_add_file_cleanup(zp_pool_t *pool, zp_fd_t fd, char *name, zp_pool_cleanup_pt handler)
{
    zp_pool_cleanup_t      *c;
    zp_pool_cleanup_file_t *cf;

    c = zp_pool_cleanup_add(pool, sizeof(zp_pool_cleanup_file_t));
    ck_assert_ptr_nonnull(c);

    cf       = c->data;
    cf->fd   = fd;
    cf->name = (u_char *)name;
    cf->log  = pool->log;

    c->handler = handler;
}


START_TEST(test_pool_cleanup_file)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    char        name1[64], name2[64], name3[64];
    zp_fd_t     fd1, fd2, fd3, fd4;
    struct stat st;

    fd1 = zpt_temp_file(name1);
    fd2 = zpt_temp_file(name2);
    fd3 = zpt_temp_file(name3);

    zpt_add_file_cleanup(pool, fd1, name1, zp_pool_cleanup_file);
    zpt_add_file_cleanup(pool, fd2, name2, zp_pool_delete_file);
    zpt_add_file_cleanup(pool, fd3, name3, zp_pool_cleanup_file);

    /* closing fd3 early disarms its record */
    zp_pool_run_cleanup_file(pool, fd3);
    ck_assert_int_eq(fcntl(fd3, F_GETFD), -1);

    /* the kernel reuses the number: destroy must not close it again */
    fd4 = open("/dev/null", O_RDONLY);
    ck_assert_int_eq(fd4, fd3);

    zp_destroy_pool(pool);

    ck_assert_int_eq(fcntl(fd1, F_GETFD), -1);
    ck_assert_int_eq(fcntl(fd2, F_GETFD), -1);
    ck_assert_int_ne(fcntl(fd4, F_GETFD), -1);

    ck_assert_int_eq(stat(name1, &st), 0);
    ck_assert_int_eq(stat(name2, &st), -1);

    close(fd4);
    unlink(name1);
    unlink(name3);
}
END_TEST


START_TEST(test_alloc_wrappers)
{
    u_char *p;

    p = zp_calloc(64, zpt_log);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p[63], 0);
    zp_free(p);

    p = zp_memalign(256, 512, zpt_log);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 256, 0);
    zp_free(p);
}
END_TEST


/* A pool put into the cache comes back (reset) for the same size, not for
 * another; a pool that grew, or one past ZP_CACHE_MAX, is freed instead. */
START_TEST(test_pool_cache)
{
    int              i, id = 1;
    zp_pool_t       *p, *q, *pools[ZP_CACHE_MAX + 1];
    zp_pool_cache_t  cache;
    zp_pool_cleanup_t *cln;

    memset(&cache, 0, sizeof(cache));
    zpt_reset_calls();

    p = zp_pool_cache_get(&cache, 1024, zpt_log);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(zp_palloc(p, 100));
    cln = zp_pool_cleanup_add(p, 0);
    cln->handler = zpt_cleanup;
    cln->data    = &id;

    zp_pool_cache_put(&cache, p);
    ck_assert_int_eq(zpt_calls[1], 1);          /* reset ran the cleanup */
    ck_assert_uint_eq(cache.n, 1);

    q = zp_pool_cache_get(&cache, 2048, zpt_log); /* another size: a new one */
    ck_assert_ptr_ne(q, p);
    ck_assert_uint_eq(cache.n, 1);
    zp_pool_cache_put(&cache, q);                /* not of the cache's size */
    ck_assert_uint_eq(cache.n, 1);

    q = zp_pool_cache_get(&cache, 1024, zpt_log);
    ck_assert_ptr_eq(q, p);
    ck_assert_ptr_eq(q->d.last, (u_char *) q + sizeof(zp_pool_t));
    ck_assert_ptr_null(q->cleanup);

    for (i = 0; i < 3; i++) {
        ck_assert_ptr_nonnull(zp_palloc(q, 900)); /* grows a second block */
    }
    ck_assert_ptr_nonnull(q->d.next);
    zp_pool_cache_put(&cache, q);
    ck_assert_uint_eq(cache.n, 0);

    for (i = 0; i < ZP_CACHE_MAX + 1; i++) {
        pools[i] = zp_pool_cache_get(&cache, 1024, zpt_log);
        ck_assert_ptr_nonnull(pools[i]);
    }
    for (i = 0; i < ZP_CACHE_MAX + 1; i++) {
        zp_pool_cache_put(&cache, pools[i]);
    }
    ck_assert_uint_eq(cache.n, ZP_CACHE_MAX);

    while (cache.n) {
        zp_destroy_pool(cache.pools[--cache.n]);
    }
}
END_TEST


/* A block from zp_pcache_alloc() returns to its cache with its pool, and
 * the next one of that size is the same memory. */
START_TEST(test_mem_cache)
{
    void           *a, *b;
    zp_pool_t      *pool;
    zp_mem_cache_t  cache;

    memset(&cache, 0, sizeof(cache));

    pool = zp_create_pool(1024, zpt_log);
    a = zp_pcache_alloc(pool, &cache, 8192);
    ck_assert_ptr_nonnull(a);
    memset(a, 'x', 8192);
    ck_assert_uint_eq(cache.n, 0);

    zp_reset_pool(pool);
    ck_assert_uint_eq(cache.n, 1);
    ck_assert_uint_eq(cache.size, 8192);

    b = zp_pcache_alloc(pool, &cache, 8192);
    ck_assert_ptr_eq(b, a);
    ck_assert_uint_eq(cache.n, 0);

    /* another size bypasses the cache both ways */
    b = zp_pcache_alloc(pool, &cache, 100);
    ck_assert_ptr_nonnull(b);
    zp_destroy_pool(pool);
    ck_assert_uint_eq(cache.n, 1);
    ck_assert_ptr_eq(cache.blocks[0], a);

    zp_free(cache.blocks[0]);
}
END_TEST


static Suite *
zpt_palloc_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_palloc");

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_pool_small);
    tcase_add_test(tc, test_pool_large);
    tcase_add_test(tc, test_pool_min_size);
    tcase_add_test(tc, test_alloc_wrappers);
    suite_add_tcase(s, tc);

    tc = tcase_create("cleanup");
    tcase_add_test(tc, test_pool_cleanup);
    tcase_add_test(tc, test_pool_reset);
    tcase_add_test(tc, test_pool_cleanup_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("cache");
    tcase_add_test(tc, test_pool_cache);
    tcase_add_test(tc, test_mem_cache);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_palloc_suite)
