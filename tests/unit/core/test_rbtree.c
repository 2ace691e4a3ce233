/*
 * test_rbtree.c: zp_rbtree.c.
 */
#include "zpt_unit.h"

#define ZPT_NODES 2000
#define ZPT_OPS   10000

typedef struct {
    zp_rbtree_node_t node;
    zp_uint_t        in_tree;
    zp_uint_t        id;
} zpt_rb_item_t;

static uint64_t zpt_rand_state = 0x9e3779b97f4a7c15ULL;


/* xorshift64: fixed seed, so a failure reproduces */
static uint64_t
zpt_rand(void)
{
    zpt_rand_state ^= zpt_rand_state << 13;
    zpt_rand_state ^= zpt_rand_state >> 7;
    zpt_rand_state ^= zpt_rand_state << 17;
    return zpt_rand_state;
}


/*
 * Checks the red-black rules under n and returns the black height, or 0
 * with *err set. Plain ifs, not ck_assert: Check records every assertion
 * it passes, which would make this walk a million syscalls.
 */
static zp_uint_t
zpt_rb_check(zp_rbtree_node_t *n, zp_rbtree_node_t *sentinel, zp_rbtree_node_t *parent,
             zp_uint_t *count, const char **err)
{
    zp_uint_t lh, rh;

    if (n == sentinel) {
        return 1;
    }

    if (n->parent != parent) {
        *err = "wrong parent pointer";
        return 0;
    }

    if (zp_rbt_is_red(n) && (zp_rbt_is_red(n->left) || zp_rbt_is_red(n->right))) {
        *err = "red node with a red child";
        return 0;
    }

    if ((n->left != sentinel && n->left->key > n->key) ||
        (n->right != sentinel && n->right->key < n->key)) {
        *err = "child key on the wrong side";
        return 0;
    }

    lh = zpt_rb_check(n->left, sentinel, n, count, err);
    rh = zpt_rb_check(n->right, sentinel, n, count, err);

    if (lh == 0 || rh == 0) {
        return 0;
    }

    if (lh != rh) {
        *err = "unequal black heights";
        return 0;
    }

    (*count)++;

    return lh + zp_rbt_is_black(n);
}


static void
zpt_rb_verify(zp_rbtree_t *tree, zp_uint_t expect)
{
    zp_rbtree_node_t *n;
    zp_uint_t         count, walked;
    zp_rbtree_key_t   prev;
    const char       *err;

    ck_assert(zp_rbt_is_black(tree->sentinel));

    count = 0;
    err   = NULL;

    if (!zp_rbtree_empty(tree)) {
        ck_assert(zp_rbt_is_black(tree->root));
        ck_assert_ptr_null(tree->root->parent);

        if (zpt_rb_check(tree->root, tree->sentinel, NULL, &count, &err) == 0) {
            ck_abort_msg("rbtree invariant broken: %s", err);
        }
    }

    ck_assert_uint_eq(count, expect);

    /* in-order walk: every node once, keys never decreasing */
    walked = 0;

    if (!zp_rbtree_empty(tree)) {
        n    = zp_rbtree_min(tree->root, tree->sentinel);
        prev = 0;

        for (; n; n = zp_rbtree_next(tree, n)) {
            if (n->key < prev || !zp_rbtree_data(n, zpt_rb_item_t, node)->in_tree) {
                ck_abort_msg("in-order walk out of order or hit a deleted node");
            }
            prev = n->key;
            walked++;
        }
    }

    ck_assert_uint_eq(walked, expect);
}


START_TEST(test_rbtree_random)
{
    zp_rbtree_t      tree;
    zp_rbtree_node_t sentinel;
    zpt_rb_item_t   *items, *it;
    zp_uint_t        i, n, in_tree;

    items = calloc(ZPT_NODES, sizeof(zpt_rb_item_t));
    ck_assert_ptr_nonnull(items);

    zp_rbtree_init(&tree, &sentinel, zp_rbtree_insert_value);
    zpt_rb_verify(&tree, 0);

    in_tree = 0;

    for (i = 0; i < ZPT_OPS; i++) {
        n  = zpt_rand() % ZPT_NODES;
        it = &items[n];

        if (it->in_tree) {
            zp_rbtree_delete(&tree, &it->node);
            it->in_tree = 0;
            in_tree--;

        } else {
            /* a small key range, so equal keys are common */
            it->node.key = (zp_rbtree_key_t)(zpt_rand() % 500);
            it->in_tree  = 1;
            zp_rbtree_insert(&tree, &it->node);
            in_tree++;
        }

        zpt_rb_verify(&tree, in_tree);
    }

    ck_assert_uint_gt(in_tree, 0);

    /* drain it, smallest first, as the timer code does */
    while (!zp_rbtree_empty(&tree)) {
        it = zp_rbtree_data(zp_rbtree_min(tree.root, tree.sentinel), zpt_rb_item_t, node);
        zp_rbtree_delete(&tree, &it->node);
        it->in_tree = 0;
        in_tree--;

        if (in_tree % 64 == 0) {
            zpt_rb_verify(&tree, in_tree);
        }
    }

    ck_assert_uint_eq(in_tree, 0);
    zpt_rb_verify(&tree, 0);

    free(items);
}
END_TEST


START_TEST(test_rbtree_sequential)
{
    zp_rbtree_t      tree;
    zp_rbtree_node_t sentinel;
    zpt_rb_item_t   *items;
    zp_uint_t        i;

    /* ascending inserts are the classic worst case for a plain BST */
    items = calloc(ZPT_NODES, sizeof(zpt_rb_item_t));
    ck_assert_ptr_nonnull(items);

    zp_rbtree_init(&tree, &sentinel, zp_rbtree_insert_value);

    for (i = 0; i < ZPT_NODES; i++) {
        items[i].node.key = i;
        items[i].in_tree  = 1;
        zp_rbtree_insert(&tree, &items[i].node);
    }

    zpt_rb_verify(&tree, ZPT_NODES);

    /* delete every other one, then the root repeatedly */
    for (i = 0; i < ZPT_NODES; i += 2) {
        zp_rbtree_delete(&tree, &items[i].node);
        items[i].in_tree = 0;
    }

    zpt_rb_verify(&tree, ZPT_NODES / 2);

    for (i = ZPT_NODES / 2; i > 0; i--) {
        zpt_rb_item_t *it = zp_rbtree_data(tree.root, zpt_rb_item_t, node);

        zp_rbtree_delete(&tree, tree.root);
        it->in_tree = 0;
        zpt_rb_verify(&tree, i - 1);
    }

    ck_assert(zp_rbtree_empty(&tree));

    free(items);
}
END_TEST


START_TEST(test_rbtree_timer_wrap)
{
    zp_rbtree_t      tree;
    zp_rbtree_node_t sentinel, *n;
    zpt_rb_item_t    items[64];
    zp_uint_t        i, j, order[64], t;
    zp_rbtree_key_t  base;

    /* keys straddle the wrap of the unsigned key range */
    base = (zp_rbtree_key_t)-100;

    for (i = 0; i < 64; i++) {
        order[i] = i;
    }

    for (i = 63; i > 0; i--) {
        j        = zpt_rand() % (i + 1);
        t        = order[i];
        order[i] = order[j];
        order[j] = t;
    }

    zp_rbtree_init(&tree, &sentinel, zp_rbtree_insert_timer_value);

    for (i = 0; i < 64; i++) {
        items[order[i]].id       = order[i];
        items[order[i]].node.key = base + order[i] * 7;
        zp_rbtree_insert(&tree, &items[order[i]].node);
    }

    /* the timer order is by time, not by unsigned value */
    i = 0;
    for (n = zp_rbtree_min(tree.root, tree.sentinel); n; n = zp_rbtree_next(&tree, n)) {
        ck_assert_uint_eq(zp_rbtree_data(n, zpt_rb_item_t, node)->id, i);
        i++;
    }

    ck_assert_uint_eq(i, 64);
}
END_TEST


static Suite *
zpt_rbtree_suite(void)
{
    Suite *s;
    TCase *tc;

    s  = suite_create("zp_rbtree");
    tc = tcase_create("rbtree");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rbtree_random);
    tcase_add_test(tc, test_rbtree_sequential);
    tcase_add_test(tc, test_rbtree_timer_wrap);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_rbtree_suite)
