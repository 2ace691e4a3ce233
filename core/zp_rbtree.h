/*
 * zp_rbtree.h: intrusive red-black tree.
 *
 * Nodes are embedded in the caller's structs and the tree never allocates.
 * Leaves point to a caller-provided sentinel node (black), which saves
 * NULL checks during rebalancing. Each tree has its own insert callback,
 * which places a node by its key (and, for equal keys, by whatever else the
 * caller wants); zp_rbtree_insert() then rebalances.
 */
#ifndef ZP_RBTREE_H
#define ZP_RBTREE_H

#include <zp_config.h>
#include <zp_core.h>

typedef zp_uint_t zp_rbtree_key_t;
typedef zp_int_t  zp_rbtree_key_int_t;

typedef struct zp_rbtree_node_s zp_rbtree_node_t;

struct zp_rbtree_node_s {
    zp_rbtree_key_t   key;
    zp_rbtree_node_t *left;
    zp_rbtree_node_t *right;
    zp_rbtree_node_t *parent;
    u_char            color; /* 1: red, 0: black */
    u_char            data;  /* spare byte for the caller */
};

typedef struct zp_rbtree_s zp_rbtree_t;

/* Links node under root as a plain binary search tree; must set node's
 * parent, left and right (to sentinel) and colour it red. */
typedef void (*zp_rbtree_insert_pt)(zp_rbtree_node_t *root, zp_rbtree_node_t *node,
                                    zp_rbtree_node_t *sentinel);

struct zp_rbtree_s {
    zp_rbtree_node_t   *root;
    zp_rbtree_node_t   *sentinel;
    zp_rbtree_insert_pt insert;
};

#define zp_rbt_red(node)          ((node)->color = 1)
#define zp_rbt_black(node)        ((node)->color = 0)
#define zp_rbt_is_red(node)       ((node)->color)
#define zp_rbt_is_black(node)     (!zp_rbt_is_red(node))
#define zp_rbt_copy_color(n1, n2) ((n1)->color = (n2)->color)

/* The sentinel must be black. */
#define zp_rbtree_sentinel_init(node) zp_rbt_black(node)

#define zp_rbtree_init(tree, s, i)                                                                 \
    do {                                                                                           \
        zp_rbtree_sentinel_init(s);                                                                \
        (tree)->root     = s;                                                                      \
        (tree)->sentinel = s;                                                                      \
        (tree)->insert   = i;                                                                      \
    } while (0)

#define zp_rbtree_empty(tree) ((tree)->root == (tree)->sentinel)

#define zp_rbtree_data(node, type, link) ((type *)((u_char *)(node)-offsetof(type, link)))

void zp_rbtree_insert(zp_rbtree_t *tree, zp_rbtree_node_t *node);
void zp_rbtree_delete(zp_rbtree_t *tree, zp_rbtree_node_t *node);

/* Insert callbacks: by key as unsigned, and by key as a wrapping
 * millisecond time (timers: a key just past the wrap still sorts after
 * one just before it). Equal keys go to the right, so they keep their
 * insertion order. */
void zp_rbtree_insert_value(zp_rbtree_node_t *root, zp_rbtree_node_t *node,
                            zp_rbtree_node_t *sentinel);
void zp_rbtree_insert_timer_value(zp_rbtree_node_t *root, zp_rbtree_node_t *node,
                                  zp_rbtree_node_t *sentinel);

/* The in-order successor of node, or NULL after the last. */
zp_rbtree_node_t *zp_rbtree_next(zp_rbtree_t *tree, zp_rbtree_node_t *node);

/* The leftmost node under node (node must not be the sentinel). */
static inline zp_rbtree_node_t *
zp_rbtree_min(zp_rbtree_node_t *node, zp_rbtree_node_t *sentinel)
{
    while (node->left != sentinel) {
        node = node->left;
    }

    return node;
}

#endif /* ZP_RBTREE_H */
