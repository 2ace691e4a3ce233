/*
 * test_hash.c: zp_hash.c.
 */
#include "zpt_unit.h"

#define ZPT_NKEYS 1000


START_TEST(test_hash_functions)
{
    u_char    buf[16];
    zp_uint_t k;

    ck_assert_uint_eq(zp_hash_key((u_char *)"", 0), 0);
    ck_assert_uint_eq(zp_hash_key((u_char *)"ab", 2), ((zp_uint_t)'a') * 31 + 'b');
    ck_assert_uint_ne(zp_hash_key((u_char *)"Ab", 2), zp_hash_key((u_char *)"ab", 2));
    ck_assert_uint_eq(zp_hash_key_lc((u_char *)"Ab", 2), zp_hash_key((u_char *)"ab", 2));

    k = zp_hash_strlow(buf, (u_char *)"Content-Type", 12);
    ck_assert_int_eq(memcmp(buf, "content-type", 12), 0);
    ck_assert_uint_eq(k, zp_hash_key((u_char *)"content-type", 12));
}
END_TEST


/* Keys "Key-<n>" in mixed case, each valued with its own index + 1. */
static zp_hash_key_t *
zpt_make_keys(zp_pool_t *pool, zp_uint_t n, zp_uint_t with_hash)
{
    zp_hash_key_t *keys;
    zp_uint_t      i;
    u_char        *p;

    keys = zp_pcalloc(pool, n * sizeof(zp_hash_key_t));
    ck_assert_ptr_nonnull(keys);

    for (i = 0; i < n; i++) {
        p = zp_pnalloc(pool, 32);
        ck_assert_ptr_nonnull(p);

        keys[i].key.data = p;
        keys[i].key.len  = (size_t)(zp_sprintf(p, "Key-%ui", i) - p);
        keys[i].value    = (void *)(uintptr_t)(i + 1);

        if (with_hash) {
            keys[i].key_hash = zp_hash_key_lc(keys[i].key.data, keys[i].key.len);
        }
    }

    return keys;
}


static void
zpt_check_all(zp_hash_t *hash, zp_uint_t n)
{
    u_char    name[32], *end;
    zp_uint_t i, key;
    size_t    len;

    for (i = 0; i < n; i++) {
        end = zp_sprintf(name, "key-%ui", i);
        len = (size_t)(end - name);
        key = zp_hash_key(name, len);

        ck_assert_ptr_eq(zp_hash_find(hash, key, name, len), (void *)(uintptr_t)(i + 1));

        /* a longer name that lands in the same bucket still misses */
        name[len] = 'x';
        ck_assert_ptr_null(zp_hash_find(hash, key, name, len + 1));
    }

    /* stored lower-case: a mixed-case lookup does not match */
    end = zp_sprintf(name, "Key-1");
    len = (size_t)(end - name);
    ck_assert_ptr_null(zp_hash_find(hash, zp_hash_key_lc(name, len), name, len));

    end = zp_sprintf(name, "key-%ui", n);
    len = (size_t)(end - name);
    ck_assert_ptr_null(zp_hash_find(hash, zp_hash_key(name, len), name, len));
}


START_TEST(test_hash_find_all)
{
    zp_pool_t     *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_hash_t      hash;
    zp_hash_init_t hinit;
    zp_hash_key_t *keys;

    keys = zpt_make_keys(pool, ZPT_NKEYS, 1);

    zp_memzero(&hinit, sizeof(hinit));
    hinit.hash        = &hash;
    hinit.max_size    = 4096;
    hinit.bucket_size = 128;
    hinit.name        = "test_hash";
    hinit.pool        = pool;

    ck_assert_int_eq(zp_hash_init(&hinit, keys, ZPT_NKEYS), ZP_OK);
    ck_assert_uint_le(hash.size, 4096);

    zpt_check_all(&hash, ZPT_NKEYS);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_hash_key_callback)
{
    zp_pool_t     *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_hash_t      hash;
    zp_hash_init_t hinit;
    zp_hash_key_t *keys;

    /* no key_hash given: hinit.key computes it */
    keys = zpt_make_keys(pool, 100, 0);

    zp_memzero(&hinit, sizeof(hinit));
    hinit.hash        = &hash;
    hinit.key         = zp_hash_key_lc;
    hinit.max_size    = 512;
    hinit.bucket_size = 64;
    hinit.name        = "test_hash";
    hinit.pool        = pool;

    ck_assert_int_eq(zp_hash_init(&hinit, keys, 100), ZP_OK);
    zpt_check_all(&hash, 100);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_hash_duplicates_and_skips)
{
    zp_pool_t     *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_hash_t      hash;
    zp_hash_init_t hinit;
    zp_hash_key_t  keys[3];
    zp_uint_t      k;

    zp_memzero(keys, sizeof(keys));
    zp_str_set(&keys[0].key, "Host");
    keys[0].value = "first";
    zp_str_set(&keys[1].key, "host");
    keys[1].value = "second";
    /* key.data == NULL: skipped */
    keys[2].value = "skipped";

    zp_memzero(&hinit, sizeof(hinit));
    hinit.hash        = &hash;
    hinit.key         = zp_hash_key_lc;
    hinit.max_size    = 16;
    hinit.bucket_size = 64;
    hinit.name        = "test_hash";
    hinit.pool        = pool;

    ck_assert_int_eq(zp_hash_init(&hinit, keys, 3), ZP_OK);

    k = zp_hash_key((u_char *)"host", 4);
    ck_assert_str_eq(zp_hash_find(&hash, k, (u_char *)"host", 4), "first");

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_hash_errors)
{
    zp_pool_t     *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_hash_t      hash;
    zp_hash_init_t hinit;
    zp_hash_key_t *keys, one;

    keys = zpt_make_keys(pool, ZPT_NKEYS, 1);

    zp_memzero(&hash, sizeof(hash));
    zp_memzero(&hinit, sizeof(hinit));
    hinit.hash = &hash;
    hinit.name = "test_hash";
    hinit.pool = pool;

    /* 1000 keys cannot fit in 4 buckets of 64 bytes */
    hinit.max_size    = 4;
    hinit.bucket_size = 64;
    ck_assert_int_eq(zp_hash_init(&hinit, keys, ZPT_NKEYS), ZP_ERROR);
    ck_assert_uint_eq(hash.size, 0);

    hinit.max_size = 0;
    ck_assert_int_eq(zp_hash_init(&hinit, keys, ZPT_NKEYS), ZP_ERROR);

    /* a key longer than a bucket */
    one.key.data = (u_char *)"a-name-much-longer-than-the-bucket-size-allows";
    one.key.len  = zp_strlen(one.key.data);
    one.key_hash = zp_hash_key(one.key.data, one.key.len);
    one.value    = &one;

    hinit.max_size    = 16;
    hinit.bucket_size = 32;
    ck_assert_int_eq(zp_hash_init(&hinit, &one, 1), ZP_ERROR);

    hinit.bucket_size = 65536;
    ck_assert_int_eq(zp_hash_init(&hinit, &one, 1), ZP_ERROR);

    hinit.bucket_size = 8;
    ck_assert_int_eq(zp_hash_init(&hinit, &one, 0), ZP_ERROR);

    /* a NULL value would end its bucket early */
    one.value         = NULL;
    hinit.bucket_size = 128;
    ck_assert_int_eq(zp_hash_init(&hinit, &one, 1), ZP_ERROR);

    /* an empty (or never built) hash finds nothing */
    ck_assert_ptr_null(zp_hash_find(&hash, 0, (u_char *)"x", 1));
    ck_assert_int_eq(zp_hash_init(&hinit, &one, 0), ZP_OK);
    ck_assert_ptr_null(zp_hash_find(&hash, 0, (u_char *)"x", 1));

    zp_destroy_pool(pool);
}
END_TEST


static Suite *
zpt_hash_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_hash");

    tc = tcase_create("functions");
    tcase_add_test(tc, test_hash_functions);
    suite_add_tcase(s, tc);

    tc = tcase_create("static hash");
    tcase_add_test(tc, test_hash_find_all);
    tcase_add_test(tc, test_hash_key_callback);
    tcase_add_test(tc, test_hash_duplicates_and_skips);
    tcase_add_test(tc, test_hash_errors);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_hash_suite)
