/*
 * test_list.c: zp_list.c.
 */
#include "zpt_unit.h"


START_TEST(test_list_push)
{
    zp_pool_t      *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_list_t      *l;
    zp_list_part_t *part;
    zp_uint_t       i, n, parts, *v, *first;

    l = zp_list_create(pool, 4, sizeof(zp_uint_t));
    ck_assert_ptr_nonnull(l);

    first = NULL;

    for (i = 0; i < 1000; i++) {
        v = zp_list_push(l);
        ck_assert_ptr_nonnull(v);
        *v = i;
        if (i == 0) {
            first = v;
        }
    }

    /* elements never move, unlike an array's */
    ck_assert_ptr_eq(first, l->part.elts);

    /* the documented iteration visits all, in order */
    n     = 0;
    parts = 1;
    part  = &l->part;
    v     = part->elts;

    for (i = 0;; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            v    = part->elts;
            i    = 0;
            parts++;
        }

        ck_assert_uint_le(part->nelts, 4);
        ck_assert_uint_eq(v[i], n);
        n++;
    }

    ck_assert_uint_eq(n, 1000);
    ck_assert_uint_eq(parts, 250);
    ck_assert_ptr_eq(l->last, part);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_list_init)
{
    zp_pool_t *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_list_t  l;
    int       *v;

    /* zero capacity is raised to one, so pushes still work */
    ck_assert_int_eq(zp_list_init(&l, pool, 0, sizeof(int)), ZP_OK);
    v = zp_list_push(&l);
    ck_assert_ptr_nonnull(v);
    *v = 1;
    v  = zp_list_push(&l);
    ck_assert_ptr_nonnull(v);
    *v = 2;
    ck_assert_ptr_nonnull(l.part.next);
    ck_assert_int_eq(*(int *)l.part.elts, 1);
    ck_assert_int_eq(*(int *)l.part.next->elts, 2);

    zp_destroy_pool(pool);
}
END_TEST


static Suite *
zpt_list_suite(void)
{
    Suite *s;
    TCase *tc;

    s  = suite_create("zp_list");
    tc = tcase_create("list");
    tcase_add_test(tc, test_list_push);
    tcase_add_test(tc, test_list_init);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_list_suite)
