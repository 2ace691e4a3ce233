/*
 * test_buf.c: zp_buf.c.
 */
#include "zpt_unit.h"

static int zpt_tag_a, zpt_tag_b;


START_TEST(test_temp_buf)
{
    zp_pool_t *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_buf_t  *b;

    b = zp_create_temp_buf(pool, 100);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_eq(b->pos, b->start);
    ck_assert_ptr_eq(b->last, b->start);
    ck_assert_ptr_eq(b->end, b->start + 100);
    ck_assert(b->temporary);
    ck_assert(!b->memory && !b->in_file && !b->last_buf && !b->flush);
    ck_assert_ptr_null(b->tag);
    ck_assert(zp_buf_in_memory(b) && zp_buf_in_memory_only(b));
    ck_assert_int_eq(zp_buf_size(b), 0);

    b->last = zp_cpymem(b->last, "hello", 5);
    ck_assert_int_eq(zp_buf_size(b), 5);
    ck_assert(!zp_buf_special(b));

    /* a large one comes from the pool's large list, and works the same */
    b = zp_create_temp_buf(pool, 100000);
    ck_assert_ptr_nonnull(b);
    memset(b->start, 'x', 100000);

    b = zp_calloc_buf(pool);
    ck_assert_ptr_nonnull(b);
    b->flush = 1;
    ck_assert(zp_buf_special(b));
    ck_assert(!zp_buf_sync_only(b));
    b->flush = 0;
    b->sync  = 1;
    ck_assert(zp_buf_sync_only(b));

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_of_bufs)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_bufs_t   bufs = {4, 100};
    zp_chain_t *cl, *chain;
    u_char     *prev_end;
    int         n;

    chain = zp_create_chain_of_bufs(pool, &bufs);
    ck_assert_ptr_nonnull(chain);

    n        = 0;
    prev_end = NULL;

    for (cl = chain; cl; cl = cl->next) {
        ck_assert(cl->buf->temporary);
        ck_assert_int_eq(cl->buf->end - cl->buf->start, 100);
        ck_assert_ptr_eq(cl->buf->pos, cl->buf->start);
        if (prev_end) {
            ck_assert_ptr_eq(cl->buf->start, prev_end);
        }
        prev_end = cl->buf->end;
        n++;
    }

    ck_assert_int_eq(n, 4);

    bufs.num = 0;
    ck_assert_ptr_null(zp_create_chain_of_bufs(pool, &bufs));
    bufs.num  = 2;
    bufs.size = SIZE_MAX;
    ck_assert_ptr_null(zp_create_chain_of_bufs(pool, &bufs));

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_chain_links)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_chain_t *a, *b, *c, *out, *cl;
    int         n;

    a = zp_alloc_chain_link(pool);
    ck_assert_ptr_nonnull(a);
    zp_free_chain(pool, a);
    ck_assert_ptr_eq(pool->chain, a);

    /* a freed link is handed out again before new memory */
    b = zp_alloc_chain_link(pool);
    ck_assert_ptr_eq(b, a);
    ck_assert_ptr_null(pool->chain);

    b->buf  = zp_create_temp_buf(pool, 8);
    b->next = NULL;

    c = zp_alloc_chain_link(pool);
    ck_assert_ptr_nonnull(c);
    c->buf  = zp_create_temp_buf(pool, 8);
    c->next = NULL;
    b->next = c;

    out = NULL;
    ck_assert_int_eq(zp_chain_add_copy(pool, &out, b), ZP_OK);
    ck_assert_int_eq(zp_chain_add_copy(pool, &out, b), ZP_OK);

    n = 0;
    for (cl = out; cl; cl = cl->next) {
        ck_assert_ptr_ne(cl, b);
        ck_assert_ptr_ne(cl, c);
        ck_assert_ptr_eq(cl->buf, (n % 2) ? c->buf : b->buf);
        n++;
    }
    ck_assert_int_eq(n, 4);

    zp_destroy_pool(pool);
}
END_TEST


static zp_chain_t *
zpt_mem_link(zp_pool_t *pool, const char *data, void *tag)
{
    zp_chain_t *cl;
    size_t      len;

    len = strlen(data);

    cl = zp_alloc_chain_link(pool);
    ck_assert_ptr_nonnull(cl);
    cl->buf = zp_create_temp_buf(pool, len);
    ck_assert_ptr_nonnull(cl->buf);
    cl->buf->last = zp_cpymem(cl->buf->pos, data, len);
    cl->buf->tag  = tag;
    cl->next      = NULL;

    return cl;
}


START_TEST(test_update_sent)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_chain_t *c1, *c2, *flush, *c3, *file, *r;

    c1                   = zpt_mem_link(pool, "0123456789", NULL);
    c2                   = zpt_mem_link(pool, "abcdefghij", NULL);
    flush                = zp_alloc_chain_link(pool);
    flush->buf           = zp_calloc_buf(pool);
    flush->buf->flush    = 1;
    c3                   = zpt_mem_link(pool, "ABCDEFGHIJ", NULL);
    file                 = zp_alloc_chain_link(pool);
    file->buf            = zp_calloc_buf(pool);
    file->buf->in_file   = 1;
    file->buf->file_pos  = 0;
    file->buf->file_last = 100;
    file->next           = NULL;

    c1->next    = c2;
    c2->next    = flush;
    flush->next = c3;
    c3->next    = file;

    /* nothing sent: the head is returned untouched */
    r = zp_chain_update_sent(c1, 0);
    ck_assert_ptr_eq(r, c1);
    ck_assert_int_eq(zp_buf_size(c1->buf), 10);

    /* writev() took 15 bytes: all of c1, half of c2 */
    r = zp_chain_update_sent(c1, 15);
    ck_assert_ptr_eq(r, c2);
    ck_assert_int_eq(zp_buf_size(c1->buf), 0);
    ck_assert_int_eq(zp_buf_size(c2->buf), 5);
    ck_assert_uint_eq(*c2->buf->pos, 'f');

    /* exactly the rest of c2: the flush buffer is stepped over */
    r = zp_chain_update_sent(r, 5);
    ck_assert_ptr_eq(r, c3);
    ck_assert_int_eq(zp_buf_size(c2->buf), 0);

    /* into the file part */
    r = zp_chain_update_sent(r, 10 + 40);
    ck_assert_ptr_eq(r, file);
    ck_assert_int_eq(file->buf->file_pos, 40);
    ck_assert_int_eq(zp_buf_size(file->buf), 60);

    r = zp_chain_update_sent(r, 60);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(file->buf->file_pos, 100);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_update_chains)
{
    zp_pool_t  *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_chain_t *free, *busy, *out, *a1, *a2, *b1, *a3;

    free = NULL;
    busy = NULL;

    a1 = zpt_mem_link(pool, "aaaa", &zpt_tag_a);
    b1 = zpt_mem_link(pool, "bbbb", &zpt_tag_b);
    a2 = zpt_mem_link(pool, "cccc", &zpt_tag_a);
    a3 = zpt_mem_link(pool, "dddd", &zpt_tag_a);

    a1->next = b1;
    b1->next = a2;
    out      = a1;

    /* nothing written yet: everything waits in busy */
    zp_chain_update_chains(pool, &free, &busy, &out, &zpt_tag_a);
    ck_assert_ptr_null(out);
    ck_assert_ptr_null(free);
    ck_assert_ptr_eq(busy, a1);

    /* a1 and b1 went out, a2 half */
    a1->buf->pos = a1->buf->last;
    b1->buf->pos = b1->buf->last;
    a2->buf->pos += 2;

    out = a3;
    zp_chain_update_chains(pool, &free, &busy, &out, &zpt_tag_a);
    ck_assert_ptr_null(out);

    /* a1 is ours: recycled and rewound */
    ck_assert_ptr_eq(free, a1);
    ck_assert_ptr_null(a1->next);
    ck_assert_ptr_eq(a1->buf->pos, a1->buf->start);
    ck_assert_ptr_eq(a1->buf->last, a1->buf->start);

    /* b1's link went back to the pool; its buffer is left to its owner */
    ck_assert_ptr_eq(pool->chain, b1);
    ck_assert_ptr_eq(b1->buf->pos, b1->buf->last);

    /* a2 still has data: it and a3 behind it stay busy */
    ck_assert_ptr_eq(busy, a2);
    ck_assert_ptr_eq(a2->next, a3);
    ck_assert_ptr_null(a3->next);

    a2->buf->pos = a2->buf->last;
    a3->buf->pos = a3->buf->last;
    zp_chain_update_chains(pool, &free, &busy, &out, &zpt_tag_a);
    ck_assert_ptr_null(busy);
    ck_assert_ptr_eq(free, a3);
    ck_assert_ptr_eq(a3->next, a2);
    ck_assert_ptr_eq(a2->next, a1);

    zp_destroy_pool(pool);
}
END_TEST


static Suite *
zpt_buf_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_buf");

    tc = tcase_create("bufs");
    tcase_add_test(tc, test_temp_buf);
    tcase_add_test(tc, test_chain_of_bufs);
    tcase_add_test(tc, test_chain_links);
    suite_add_tcase(s, tc);

    tc = tcase_create("chains");
    tcase_add_test(tc, test_update_sent);
    tcase_add_test(tc, test_update_chains);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_buf_suite)
