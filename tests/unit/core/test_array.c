/*
 * test_array.c: zp_array.c, and the zp_queue.h macros.
 */
#include "zpt_unit.h"


START_TEST(test_array_push)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_array_t *a;
    zp_uint_t   i, *v;

    a = zp_array_create(pool, 2, sizeof(zp_uint_t));
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->nelts, 0);
    ck_assert_uint_eq(a->nalloc, 2);

    /* far past the initial size, through in-place and copying growth */
    for (i = 0; i < 10000; i++) {
        v = zp_array_push(a);
        ck_assert_ptr_nonnull(v);
        *v = i * 3;
    }

    ck_assert_uint_eq(a->nelts, 10000);
    ck_assert_uint_ge(a->nalloc, 10000);

    v = a->elts;
    for (i = 0; i < 10000; i++) {
        ck_assert_uint_eq(v[i], i * 3);
    }

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_array_push_n)
{
    zp_pool_t *pool = zpt_create_pool(1024);
    zp_array_t arr;
    u_char    *p;
    zp_uint_t  i;

    ck_assert_int_eq(zp_array_init(&arr, pool, 4, 1), ZP_OK);

    p = zp_array_push_n(&arr, 3);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "abc", 3);

    /* takes it past nalloc at once */
    p = zp_array_push_n(&arr, 5000);
    ck_assert_ptr_nonnull(p);
    memset(p, 'z', 5000);

    ck_assert_uint_eq(arr.nelts, 5003);
    ck_assert_uint_ge(arr.nalloc, 5003);
    p = arr.elts;
    ck_assert_int_eq(memcmp(p, "abc", 3), 0);
    for (i = 3; i < 5003; i++) {
        ck_assert_uint_eq(p[i], 'z');
    }

    /* a count that would wrap is refused, not wrapped */
    ck_assert_ptr_null(zp_array_push_n(&arr, (zp_uint_t)-1));
    ck_assert_uint_eq(arr.nelts, 5003);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_array_in_place_and_destroy)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_array_t *a;
    void       *first;
    u_char     *last;

    last = pool->d.last;

    a = zp_array_create(pool, 4, sizeof(int));
    ck_assert_ptr_nonnull(a);
    first = a->elts;

    ck_assert_ptr_nonnull(zp_array_push_n(a, 4));
    /* the array is the pool's last allocation: it grows where it is */
    ck_assert_ptr_nonnull(zp_array_push(a));
    ck_assert_ptr_eq(a->elts, first);
    ck_assert_uint_eq(a->nalloc, 5);

    /* and giving it back rewinds the pool */
    zp_array_destroy(a);
    ck_assert_ptr_eq(pool->d.last, last);

    zp_destroy_pool(pool);
}
END_TEST


typedef struct {
    int        value;
    zp_queue_t link;
} zpt_item_t;


static void
zpt_queue_expect(zp_queue_t *h, const int *want, int n)
{
    zp_queue_t *q;
    int         i;

    i = 0;
    for (q = zp_queue_head(h); q != zp_queue_sentinel(h); q = zp_queue_next(q)) {
        ck_assert_int_lt(i, n);
        ck_assert_int_eq(zp_queue_data(q, zpt_item_t, link)->value, want[i]);
        ck_assert_ptr_eq(zp_queue_prev(zp_queue_next(q)), q);
        i++;
    }

    ck_assert_int_eq(i, n);
}


START_TEST(test_queue)
{
    zp_queue_t h, h2;
    zpt_item_t it[6];
    int        i;

    zp_queue_init(&h);
    zp_queue_init(&h2);
    ck_assert(zp_queue_empty(&h));

    for (i = 0; i < 6; i++) {
        it[i].value = i;
    }

    zp_queue_insert_tail(&h, &it[1].link);
    zp_queue_insert_tail(&h, &it[2].link);
    zp_queue_insert_head(&h, &it[0].link);
    zp_queue_insert_tail(&h, &it[3].link);
    ck_assert(!zp_queue_empty(&h));
    zpt_queue_expect(&h, (int[]){0, 1, 2, 3}, 4);
    ck_assert_ptr_eq(zp_queue_last(&h), &it[3].link);

    zp_queue_remove(&it[1].link);
    zpt_queue_expect(&h, (int[]){0, 2, 3}, 3);
    ck_assert(zp_queue_empty(&it[1].link));

    /* split at 2: h keeps 0, h2 gets 2 3 */
    zp_queue_split(&h, &it[2].link, &h2);
    zpt_queue_expect(&h, (int[]){0}, 1);
    zpt_queue_expect(&h2, (int[]){2, 3}, 2);

    zp_queue_add(&h, &h2);
    zpt_queue_expect(&h, (int[]){0, 2, 3}, 3);

    /* adding an empty queue changes nothing */
    zp_queue_init(&h2);
    zp_queue_add(&h, &h2);
    zpt_queue_expect(&h, (int[]){0, 2, 3}, 3);

    zp_queue_remove(&it[0].link);
    zp_queue_remove(&it[2].link);
    zp_queue_remove(&it[3].link);
    ck_assert(zp_queue_empty(&h));
}
END_TEST


static Suite *
zpt_array_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_array");

    tc = tcase_create("array");
    tcase_add_test(tc, test_array_push);
    tcase_add_test(tc, test_array_push_n);
    tcase_add_test(tc, test_array_in_place_and_destroy);
    suite_add_tcase(s, tc);

    tc = tcase_create("queue");
    tcase_add_test(tc, test_queue);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_array_suite)
