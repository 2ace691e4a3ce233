/*
 * test_slab.c: the shared memory slab allocator.
 */
#include "zpt_unit.h"

/* normally defined by zp_process.c */

#define ZPT_ZONE_SIZE (4 * 1024 * 1024)

static zp_open_file_t zpt_log_file;
static zp_log_t       zpt_log_obj;
static zp_log_t      *zpt_file_log = &zpt_log_obj;

static zp_shm_zone_t  zpt_zone;


/* A log that writes to an unlinked temporary file, so a test can look
 * for the alerts the allocator must write instead of crashing. */
static void
zpt_log_setup(void)
{
    char tmpl[] = "/tmp/zpt_slab_log.XXXXXX";

    zpt_log_file.fd = mkstemp(tmpl);
    ck_assert_int_ge(zpt_log_file.fd, 0);
    unlink(tmpl);

    zpt_log_file.name.len  = strlen(tmpl);
    zpt_log_file.name.data = (u_char *) "zpt_slab_log";

    zpt_log_obj.log_level = ZP_LOG_INFO;
    zpt_log_obj.file      = &zpt_log_file;
}


/* How many times text occurs in the log so far. */
static int
zpt_log_count(const char *text)
{
    static char buf[1 << 20];
    ssize_t     n;
    char       *p;
    int         count;

    n = pread(zpt_log_file.fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';

    count = 0;
    for (p = buf; (p = strstr(p, text)) != NULL; p += strlen(text)) {
        count++;
    }

    return count;
}


static zp_slab_pool_t *
zpt_pool_create(size_t size)
{
    zp_pid = getpid();
    zp_time_init();
    zpt_log_setup();
    zp_slab_sizes_init();

    memset(&zpt_zone, 0, sizeof(zpt_zone));
    zpt_zone.shm.size      = size;
    zpt_zone.shm.name.len  = sizeof("test") - 1;
    zpt_zone.shm.name.data = (u_char *) "test";
    zpt_zone.shm.log       = zpt_file_log;

    ck_assert_int_eq(zp_shm_alloc(&zpt_zone.shm), ZP_OK);
    ck_assert_int_eq(zp_slab_init_zone(&zpt_zone, zpt_file_log), ZP_OK);

    return (zp_slab_pool_t *) zpt_zone.shm.addr;
}


static zp_uint_t
zpt_total_pages(zp_slab_pool_t *pool)
{
    return (zp_uint_t) (pool->last - pool->pages);
}


/* Every page is free and they form one run: nothing leaked and every
 * freed neighbour was merged. */
static void
zpt_assert_all_free(zp_slab_pool_t *pool)
{
    zp_uint_t       total;
    zp_slab_page_t *run;
    void           *p;

    total = zpt_total_pages(pool);

    ck_assert_uint_eq(pool->pfree, total);

    run = pool->free.next;
    ck_assert_ptr_ne(run, &pool->free);
    ck_assert_uint_eq(run->slab, total);
    ck_assert_ptr_eq(run->next, &pool->free);

    /* and the whole zone can be taken in one piece */
    p = zp_slab_alloc(pool, total * zp_pagesize);
    ck_assert_ptr_eq(p, pool->start);
    ck_assert_uint_eq(pool->pfree, 0);
    zp_slab_free(pool, p);
    ck_assert_uint_eq(pool->pfree, total);
}


static size_t
zpt_chunk_size(size_t size)
{
    size_t c;

    if (size > zp_pagesize / 2) {
        return zp_align(size, zp_pagesize);
    }

    for (c = 8; c < size; c <<= 1) {
        /* void */
    }

    return c;
}


START_TEST(test_slab_init_layout)
{
    zp_slab_pool_t *pool;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    ck_assert_ptr_eq(pool->addr, pool);
    ck_assert_ptr_eq(pool->mutex.sh, &pool->lock);
    ck_assert_uint_eq(pool->min_size, 8);
    ck_assert_uint_eq((uintptr_t) pool->start % zp_pagesize, 0);
    ck_assert(pool->start + zpt_total_pages(pool) * zp_pagesize <= pool->end);
    /* only the header and a descriptor per page are overhead */
    ck_assert_uint_ge(zpt_total_pages(pool),
                      ZPT_ZONE_SIZE / (zp_pagesize + sizeof(zp_slab_page_t)) - 2);
    zpt_assert_all_free(pool);
}
END_TEST


START_TEST(test_slab_too_small)
{
    zp_shm_zone_t zone;

    zp_pid = getpid();
    zpt_log_setup();
    zp_slab_sizes_init();

    memset(&zone, 0, sizeof(zone));
    zone.shm.size      = 512;
    zone.shm.name.len  = 4;
    zone.shm.name.data = (u_char *) "tiny";
    ck_assert_int_eq(zp_shm_alloc(&zone.shm), ZP_OK);

    ck_assert_int_eq(zp_slab_init_zone(&zone, zpt_file_log), ZP_ERROR);
    ck_assert_int_eq(zpt_log_count("shared zone \"tiny\" is too small"), 1);
}
END_TEST


START_TEST(test_slab_sizes_alignment)
{
    static const size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128,
                                   129, 255, 256, 257, 511, 513, 1000, 1024, 1025, 2047, 2048,
                                   2049, 4095, 4096, 4097, 8192, 10000, 65536};
    zp_slab_pool_t     *pool;
    u_char             *p[zp_nelems(sizes)];
    size_t              i, chunk;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    for (i = 0; i < zp_nelems(sizes); i++) {
        p[i] = zp_slab_alloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p[i]);

        chunk = zpt_chunk_size(sizes[i] ? sizes[i] : 1);
        ck_assert_msg((uintptr_t) p[i] % zp_min(chunk, zp_pagesize) == 0,
                      "size %zu at %p is not aligned", sizes[i], (void *) p[i]);
        ck_assert(p[i] >= pool->start && p[i] + sizes[i] <= pool->end);

        memset(p[i], (int) i, sizes[i]);
    }

    for (i = 0; i < zp_nelems(sizes); i++) {
        zp_slab_free(pool, p[i]);
    }

    ck_assert_int_eq(zpt_log_count("zp_slab"), 0);
    zpt_assert_all_free(pool);
}
END_TEST


/* Fills the zone with one size until it fails and checks the count
 * against the layout: each page holds pagesize / chunk chunks, minus the
 * in-page bitmap for chunks below 64 bytes. */
static void
zpt_fill_one_size(zp_slab_pool_t *pool, size_t size)
{
    u_char    **ptrs;
    size_t      chunk, per_page, reserved, i, n, max, expect;
    zp_uint_t   pages;

    pages = zpt_total_pages(pool);
    chunk = zpt_chunk_size(size);
    max   = pages * (zp_pagesize / 8) + 1;

    ptrs = malloc(max * sizeof(u_char *));
    ck_assert_ptr_nonnull(ptrs);

    for (n = 0; n < max; n++) {
        ptrs[n] = zp_slab_alloc(pool, size);
        if (ptrs[n] == NULL) {
            break;
        }
        /* a pattern that names the chunk, checked before it is freed */
        memset(ptrs[n], (int) (n & 0xff), size);
    }

    if (chunk >= zp_pagesize) {
        expect = pages / (chunk / zp_pagesize);
    } else {
        per_page = zp_pagesize / chunk;
        reserved = 0;
        if (chunk < zp_pagesize / (8 * sizeof(uintptr_t))) {
            reserved = (per_page / 8 + chunk - 1) / chunk;
        }
        expect = pages * (per_page - reserved);
    }

    ck_assert_msg(n == expect, "size %zu: %zu chunks, expected %zu", size, n, expect);
    ck_assert_uint_eq(pool->pfree, pages % (chunk >= zp_pagesize ? chunk / zp_pagesize : 1));

    /* the one failure is logged once */
    ck_assert_int_eq(zpt_log_count("zp_slab_alloc() failed: no memory"), 1);
    pool->log_nomem = 1;
    ck_assert_ptr_null(zp_slab_alloc(pool, size));
    ck_assert_int_eq(zpt_log_count("zp_slab_alloc() failed: no memory"), 2);
    ck_assert_ptr_null(zp_slab_alloc(pool, size));
    ck_assert_int_eq(zpt_log_count("zp_slab_alloc() failed: no memory"), 2);

    /* free in an order that splits and joins runs in every direction */
    for (i = 0; i < n; i += 2) {
        ck_assert_uint_eq(ptrs[i][size - 1], i & 0xff);
        zp_slab_free(pool, ptrs[i]);
    }
    for (i = 1; i < n; i += 2) {
        ck_assert_uint_eq(ptrs[i][0], i & 0xff);
        zp_slab_free(pool, ptrs[i]);
    }

    free(ptrs);
    pool->log_nomem = 1;
}


START_TEST(test_slab_fill_every_class)
{
    static const size_t sizes[] = {1, 8, 16, 24, 32, 64, 65, 128, 200, 256, 512, 1024, 2048,
                                   2049, 4096, 8192, 12288, 40000};
    zp_slab_pool_t     *pool;
    size_t              i;
    char                msg[] = "zp_slab_alloc() failed: no memory";

    pool = zpt_pool_create(1024 * 1024);

    for (i = 0; i < zp_nelems(sizes); i++) {
        /* each size starts from an empty log count */
        ck_assert_int_eq(ftruncate(zpt_log_file.fd, 0), 0);
        ck_assert_int_eq(lseek(zpt_log_file.fd, 0, SEEK_SET), 0);
        zpt_fill_one_size(pool, sizes[i]);
        ck_assert_int_eq(zpt_log_count("zp_slab_free"), 0);
        zpt_assert_all_free(pool);
        ck_assert_int_eq(zpt_log_count(msg), 2);
    }

    /* the per-class stats balance out */
    for (i = 0; i < zp_pagesize_shift - pool->min_shift; i++) {
        ck_assert_uint_eq(pool->stats[i].used, 0);
        ck_assert_uint_eq(pool->stats[i].total, 0);
    }
}
END_TEST


START_TEST(test_slab_mixed_fill)
{
    zp_slab_pool_t *pool;
    u_char        **ptrs;
    size_t         *sizes;
    size_t          n, i, j, max;
    unsigned        seed = 1;

    pool = zpt_pool_create(1024 * 1024);
    max  = 200000;
    ptrs = malloc(max * sizeof(u_char *));
    sizes = malloc(max * sizeof(size_t));

    for (n = 0; n < max; n++) {
        sizes[n] = 1 + rand_r(&seed) % (n % 7 == 0 ? 9000 : 300);
        ptrs[n]  = zp_slab_alloc(pool, sizes[n]);
        if (ptrs[n] == NULL) {
            break;
        }
    }
    ck_assert_uint_gt(n, 500);
    ck_assert_uint_lt(n, max);

    /* free in a random order (Fisher-Yates over the indexes) */
    for (i = n; i > 1; i--) {
        j = (size_t) rand_r(&seed) % i;
        u_char *tp = ptrs[i - 1];
        ptrs[i - 1] = ptrs[j];
        ptrs[j]     = tp;
    }
    for (i = 0; i < n; i++) {
        zp_slab_free(pool, ptrs[i]);
    }

    ck_assert_int_eq(zpt_log_count("zp_slab_free"), 0);
    zpt_assert_all_free(pool);

    free(ptrs);
    free(sizes);
}
END_TEST


typedef struct {
    u_char *p;
    size_t  size;
    u_char  fill;
} zpt_live_t;


static int
zpt_live_cmp(const void *a, const void *b)
{
    const zpt_live_t *x = a, *y = b;

    return (x->p > y->p) - (x->p < y->p);
}


static void
zpt_check_fill(zpt_live_t *l)
{
    size_t i;

    for (i = 0; i < l->size; i++) {
        if (l->p[i] != l->fill) {
            ck_abort_msg("chunk %p size %zu overwritten at byte %zu", (void *) l->p, l->size, i);
        }
    }
}


/* No two live allocations overlap, and all lie within the pages. */
static void
zpt_check_disjoint(zp_slab_pool_t *pool, zpt_live_t *live, size_t n)
{
    zpt_live_t *s;
    size_t      i;

    s = malloc((n + 1) * sizeof(zpt_live_t));
    memcpy(s, live, n * sizeof(zpt_live_t));
    qsort(s, n, sizeof(zpt_live_t), zpt_live_cmp);

    for (i = 0; i < n; i++) {
        ck_assert(s[i].p >= pool->start);
        ck_assert(s[i].p + s[i].size <= pool->start + zpt_total_pages(pool) * zp_pagesize);
        if (i + 1 < n) {
            ck_assert_msg(s[i].p + s[i].size <= s[i + 1].p, "%p+%zu overlaps %p",
                          (void *) s[i].p, s[i].size, (void *) s[i + 1].p);
        }
    }

    free(s);
}


static size_t
zpt_random_size(unsigned *seed)
{
    unsigned r = (unsigned) rand_r(seed) % 100;

    if (r < 70) {
        return 1 + (size_t) rand_r(seed) % 2048;
    }
    if (r < 95) {
        return 2049 + (size_t) rand_r(seed) % (16384 - 2048);
    }
    return 16385 + (size_t) rand_r(seed) % (65536 - 16384);
}


START_TEST(test_slab_random_stress)
{
    zp_slab_pool_t *pool;
    zpt_live_t     *live;
    size_t          n, cap, i, op, fails;
    unsigned        seed = 12345;
    u_char          fill = 1;

    pool  = zpt_pool_create(ZPT_ZONE_SIZE);
    cap   = 4096;
    live  = calloc(cap, sizeof(zpt_live_t));
    n     = 0;
    fails = 0;

    for (op = 0; op < 100000; op++) {

        /* lean towards allocating until the table is half full */
        if (n < cap && (n == 0 || (unsigned) rand_r(&seed) % 100 < (n < cap / 2 ? 60 : 40))) {
            live[n].size = zpt_random_size(&seed);
            live[n].p    = zp_slab_alloc(pool, live[n].size);

            if (live[n].p == NULL) {
                fails++;
                pool->log_nomem = 1;
                continue;
            }

            live[n].fill = fill++;
            if (fill == 0) {
                fill = 1;
            }
            memset(live[n].p, live[n].fill, live[n].size);
            n++;

        } else {
            i = (size_t) rand_r(&seed) % n;
            zpt_check_fill(&live[i]);
            zp_slab_free(pool, live[i].p);
            live[i] = live[--n];
        }

        if (op % 5000 == 0) {
            zpt_check_disjoint(pool, live, n);
        }
    }

    zpt_check_disjoint(pool, live, n);

    for (i = 0; i < n; i++) {
        zpt_check_fill(&live[i]);
        zp_slab_free(pool, live[i].p);
    }

    ck_assert_int_eq(zpt_log_count("zp_slab_free"), 0);
    zpt_assert_all_free(pool);
    ck_assert_uint_lt(fails, 100000 / 4);

    free(live);
}
END_TEST


START_TEST(test_slab_bad_free)
{
    zp_slab_pool_t *pool;
    u_char         *small, *exact, *big, *pages, *other, *keep, *exact2, *big2, *lone;
    zp_uint_t       total;
    u_char          stack;

    pool  = zpt_pool_create(ZPT_ZONE_SIZE);
    total = zpt_total_pages(pool);

    small = zp_slab_alloc(pool, 8);
    other = zp_slab_alloc(pool, 8);
    exact = zp_slab_alloc(pool, 64);
    big   = zp_slab_alloc(pool, 1000);
    pages = zp_slab_alloc(pool, 3 * zp_pagesize);
    keep  = zp_slab_alloc(pool, 16);
    /* neighbours keep the chunk pages in use after the first free */
    exact2 = zp_slab_alloc(pool, 64);
    big2   = zp_slab_alloc(pool, 1000);
    lone   = zp_slab_alloc(pool, 256);

    ck_assert_ptr_nonnull(small);
    ck_assert_ptr_nonnull(pages);

    /* double frees: logged, nothing else changes */
    zp_slab_free(pool, small);
    zp_slab_free(pool, small);
    zp_slab_free(pool, exact);
    zp_slab_free(pool, exact);
    zp_slab_free(pool, big);
    zp_slab_free(pool, big);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): chunk is already free"), 3);

    zp_slab_free(pool, pages);
    zp_slab_free(pool, pages);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): page is already free"), 1);

    /* the only chunk of its page: the page went back to the free runs */
    zp_slab_free(pool, lone);
    zp_slab_free(pool, lone);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): page is already free"), 2);

    /* pointers that were never returned by zp_slab_alloc() */
    pages = zp_slab_alloc(pool, 3 * zp_pagesize);
    zp_slab_free(pool, other + 1);
    zp_slab_free(pool, keep + 8);
    /* the first chunks of an 8-byte page hold its bitmap */
    zp_slab_free(pool, (u_char *) ((uintptr_t) other & ~((uintptr_t) zp_pagesize - 1)));
    zp_slab_free(pool, pages + 100);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): pointer to wrong chunk"), 4);

    zp_slab_free(pool, pages + zp_pagesize);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): pointer to wrong page"), 1);

    zp_slab_free(pool, &stack);
    zp_slab_free(pool, pool->end + 10);
    zp_slab_free(pool, pool);
    ck_assert_int_eq(zpt_log_count("zp_slab_free(): outside of pool"), 3);

    /* the bookkeeping survived: real frees still work and merge */
    zp_slab_free(pool, other);
    zp_slab_free(pool, keep);
    zp_slab_free(pool, exact2);
    zp_slab_free(pool, big2);
    zp_slab_free(pool, pages);
    ck_assert_uint_eq(pool->pfree, total);
    zpt_assert_all_free(pool);
}
END_TEST


START_TEST(test_slab_calloc)
{
    zp_slab_pool_t *pool;
    u_char         *p;
    size_t          i;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    p = zp_slab_alloc(pool, 5000);
    memset(p, 0xff, 5000);
    zp_slab_free(pool, p);

    p = zp_slab_calloc(pool, 5000);
    ck_assert_ptr_nonnull(p);
    for (i = 0; i < 5000; i++) {
        ck_assert_uint_eq(p[i], 0);
    }

    zp_shmtx_lock(&pool->mutex);
    zp_slab_free_locked(pool, p);
    p = zp_slab_calloc_locked(pool, 100);
    zp_shmtx_unlock(&pool->mutex);

    ck_assert_ptr_nonnull(p);
    zp_slab_free(pool, p);
    zpt_assert_all_free(pool);
}
END_TEST


START_TEST(test_slab_fork_shared)
{
    zp_slab_pool_t *pool;
    pid_t           pid;
    int             status;
    char           *s;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    pid = fork();
    ck_assert_int_ge(pid, 0);

    if (pid == 0) {
        zp_pid = getpid();
        s      = zp_slab_alloc(pool, 100);
        if (s == NULL) {
            _exit(1);
        }
        snprintf(s, 100, "written by %d", (int) zp_pid);
        pool->data = s;
        _exit(0);
    }

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    s = pool->data;
    ck_assert_ptr_nonnull(s);
    ck_assert(s >= (char *) pool->start && s < (char *) pool->end);

    char expect[64];
    snprintf(expect, sizeof(expect), "written by %d", (int) pid);
    ck_assert_str_eq(s, expect);

    /* the parent can free what the child allocated */
    zp_slab_free(pool, s);
    zpt_assert_all_free(pool);
}
END_TEST


/* Workers allocating and freeing at once through the locked API. */
START_TEST(test_slab_fork_concurrent)
{
    zp_slab_pool_t *pool;
    pid_t           pids[3];
    int             status, k;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    for (k = 0; k < 3; k++) {
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);

        if (pids[k] == 0) {
            zpt_live_t live[256];
            size_t     n = 0, i, op, j;
            unsigned   seed = (unsigned) k + 7;

            zp_pid = getpid();

            for (op = 0; op < 30000; op++) {
                if (n < 256 && (n == 0 || rand_r(&seed) % 2)) {
                    live[n].size = 1 + (size_t) rand_r(&seed) % 6000;
                    live[n].p    = zp_slab_alloc(pool, live[n].size);
                    if (live[n].p == NULL) {
                        _exit(2);
                    }
                    live[n].fill = (u_char) (k * 64 + op % 64);
                    memset(live[n].p, live[n].fill, live[n].size);
                    n++;
                } else {
                    i = (size_t) rand_r(&seed) % n;
                    for (j = 0; j < live[i].size; j++) {
                        if (live[i].p[j] != live[i].fill) {
                            _exit(3);
                        }
                    }
                    zp_slab_free(pool, live[i].p);
                    live[i] = live[--n];
                }
            }

            for (i = 0; i < n; i++) {
                zp_slab_free(pool, live[i].p);
            }
            _exit(0);
        }
    }

    for (k = 0; k < 3; k++) {
        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed: %d", k,
                      status);
    }

    ck_assert_int_eq(zpt_log_count("zp_slab"), 0);
    zpt_assert_all_free(pool);
}
END_TEST


START_TEST(test_slab_zone_reuse)
{
    zp_slab_pool_t *pool;
    zp_shm_zone_t   moved;
    u_char         *copy;

    pool = zpt_pool_create(ZPT_ZONE_SIZE);

    /* an inherited zone at the same address is taken as it is */
    pool->data          = pool->start;
    zpt_zone.shm.exists = 1;
    ck_assert_int_eq(zp_slab_init_zone(&zpt_zone, zpt_file_log), ZP_OK);
    ck_assert_ptr_eq(pool->data, pool->start);

    /* at another address its pointers would be wrong: refused */
    moved          = zpt_zone;
    moved.shm.size = 64 * 1024;
    copy           = malloc(moved.shm.size);
    memcpy(copy, pool, sizeof(zp_slab_pool_t));
    moved.shm.addr = copy;
    ck_assert_int_eq(zp_slab_init_zone(&moved, zpt_file_log), ZP_ERROR);
    ck_assert_int_eq(zpt_log_count("shared zone \"test\" moved"), 1);
    free(copy);
}
END_TEST


static Suite *
zpt_slab_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_slab");

    tc = tcase_create("init");
    tcase_add_test(tc, test_slab_init_layout);
    tcase_add_test(tc, test_slab_too_small);
    tcase_add_test(tc, test_slab_zone_reuse);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc_free");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slab_sizes_alignment);
    tcase_add_test(tc, test_slab_fill_every_class);
    tcase_add_test(tc, test_slab_mixed_fill);
    tcase_add_test(tc, test_slab_random_stress);
    tcase_add_test(tc, test_slab_calloc);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_slab_bad_free);
    suite_add_tcase(s, tc);

    tc = tcase_create("shared");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slab_fork_shared);
    tcase_add_test(tc, test_slab_fork_concurrent);
    suite_add_tcase(s, tc);

    return s;
}


ZPT_MAIN(zpt_slab_suite)
