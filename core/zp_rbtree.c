/*
 * zp_rbtree.c: intrusive red-black tree (CLRS, with a shared sentinel).
 */
#include <zp_config.h>
#include <zp_core.h>

static inline void zp_rbtree_left_rotate(zp_rbtree_node_t **root, zp_rbtree_node_t *sentinel,
                                         zp_rbtree_node_t *node);
static inline void zp_rbtree_right_rotate(zp_rbtree_node_t **root, zp_rbtree_node_t *sentinel,
                                          zp_rbtree_node_t *node);


void
zp_rbtree_insert(zp_rbtree_t *tree, zp_rbtree_node_t *node)
{
    zp_rbtree_node_t **root, *uncle, *sentinel;

    root     = &tree->root;
    sentinel = tree->sentinel;

    if (*root == sentinel) {
        node->parent = NULL;
        node->left   = sentinel;
        node->right  = sentinel;
        zp_rbt_black(node);
        *root = node;

        return;
    }

    tree->insert(*root, node, sentinel);

    /*
     * node is red; while its parent is red too, push the conflict up. A
     * red parent is never the root, so the grandparent exists.
     */
    while (node != *root && zp_rbt_is_red(node->parent)) {

        if (node->parent == node->parent->parent->left) {
            uncle = node->parent->parent->right;

            if (zp_rbt_is_red(uncle)) {
                zp_rbt_black(node->parent);
                zp_rbt_black(uncle);
                zp_rbt_red(node->parent->parent);
                node = node->parent->parent;

            } else {
                if (node == node->parent->right) {
                    node = node->parent;
                    zp_rbtree_left_rotate(root, sentinel, node);
                }

                zp_rbt_black(node->parent);
                zp_rbt_red(node->parent->parent);
                zp_rbtree_right_rotate(root, sentinel, node->parent->parent);
            }

        } else {
            uncle = node->parent->parent->left;

            if (zp_rbt_is_red(uncle)) {
                zp_rbt_black(node->parent);
                zp_rbt_black(uncle);
                zp_rbt_red(node->parent->parent);
                node = node->parent->parent;

            } else {
                if (node == node->parent->left) {
                    node = node->parent;
                    zp_rbtree_right_rotate(root, sentinel, node);
                }

                zp_rbt_black(node->parent);
                zp_rbt_red(node->parent->parent);
                zp_rbtree_left_rotate(root, sentinel, node->parent->parent);
            }
        }
    }

    zp_rbt_black(*root);
}


void
zp_rbtree_insert_value(zp_rbtree_node_t *temp, zp_rbtree_node_t *node, zp_rbtree_node_t *sentinel)
{
    zp_rbtree_node_t **p;

    for (;;) {
        p = (node->key < temp->key) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p           = node;
    node->parent = temp;
    node->left   = sentinel;
    node->right  = sentinel;
    zp_rbt_red(node);
}


void
zp_rbtree_insert_timer_value(zp_rbtree_node_t *temp, zp_rbtree_node_t *node,
                             zp_rbtree_node_t *sentinel)
{
    zp_rbtree_node_t **p;

    for (;;) {
        /*
         * Timer keys are milliseconds that wrap around: compare the
         * difference as signed, which is right while all live timers lie
         * within half the key range of each other.
         */
        p = ((zp_rbtree_key_int_t)(node->key - temp->key) < 0) ? &temp->left : &temp->right;

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p           = node;
    node->parent = temp;
    node->left   = sentinel;
    node->right  = sentinel;
    zp_rbt_red(node);
}


void
zp_rbtree_delete(zp_rbtree_t *tree, zp_rbtree_node_t *node)
{
    zp_uint_t          red;
    zp_rbtree_node_t **root, *sentinel, *subst, *temp, *w;

    root     = &tree->root;
    sentinel = tree->sentinel;

    /* subst is the node actually unlinked; temp takes its place */
    if (node->left == sentinel) {
        temp  = node->right;
        subst = node;

    } else if (node->right == sentinel) {
        temp  = node->left;
        subst = node;

    } else {
        subst = zp_rbtree_min(node->right, sentinel);
        temp  = subst->right;
    }

    if (subst == *root) {
        *root        = temp;
        temp->parent = NULL;
        zp_rbt_black(temp);

        node->left   = NULL;
        node->right  = NULL;
        node->parent = NULL;
        node->key    = 0;

        return;
    }

    red = zp_rbt_is_red(subst);

    if (subst == subst->parent->left) {
        subst->parent->left = temp;
    } else {
        subst->parent->right = temp;
    }

    /* temp may be the sentinel: its parent is set on purpose, the fixup
     * below walks up from it */
    if (subst == node) {
        temp->parent = subst->parent;

    } else {
        if (subst->parent == node) {
            temp->parent = subst;
        } else {
            temp->parent = subst->parent;
        }

        /* subst takes node's place and colour */
        subst->left   = node->left;
        subst->right  = node->right;
        subst->parent = node->parent;
        zp_rbt_copy_color(subst, node);

        if (node == *root) {
            *root = subst;

        } else if (node == node->parent->left) {
            node->parent->left = subst;

        } else {
            node->parent->right = subst;
        }

        if (subst->left != sentinel) {
            subst->left->parent = subst;
        }

        if (subst->right != sentinel) {
            subst->right->parent = subst;
        }
    }

    /* poison the unlinked node, so that a stale use fails fast */
    node->left   = NULL;
    node->right  = NULL;
    node->parent = NULL;
    node->key    = 0;

    if (red) {
        return;
    }

    /* a black node went: temp's path is one black short */
    while (temp != *root && zp_rbt_is_black(temp)) {

        if (temp == temp->parent->left) {
            w = temp->parent->right;

            if (zp_rbt_is_red(w)) {
                zp_rbt_black(w);
                zp_rbt_red(temp->parent);
                zp_rbtree_left_rotate(root, sentinel, temp->parent);
                w = temp->parent->right;
            }

            if (zp_rbt_is_black(w->left) && zp_rbt_is_black(w->right)) {
                zp_rbt_red(w);
                temp = temp->parent;

            } else {
                if (zp_rbt_is_black(w->right)) {
                    zp_rbt_black(w->left);
                    zp_rbt_red(w);
                    zp_rbtree_right_rotate(root, sentinel, w);
                    w = temp->parent->right;
                }

                zp_rbt_copy_color(w, temp->parent);
                zp_rbt_black(temp->parent);
                zp_rbt_black(w->right);
                zp_rbtree_left_rotate(root, sentinel, temp->parent);
                temp = *root;
            }

        } else {
            w = temp->parent->left;

            if (zp_rbt_is_red(w)) {
                zp_rbt_black(w);
                zp_rbt_red(temp->parent);
                zp_rbtree_right_rotate(root, sentinel, temp->parent);
                w = temp->parent->left;
            }

            if (zp_rbt_is_black(w->left) && zp_rbt_is_black(w->right)) {
                zp_rbt_red(w);
                temp = temp->parent;

            } else {
                if (zp_rbt_is_black(w->left)) {
                    zp_rbt_black(w->right);
                    zp_rbt_red(w);
                    zp_rbtree_left_rotate(root, sentinel, w);
                    w = temp->parent->left;
                }

                zp_rbt_copy_color(w, temp->parent);
                zp_rbt_black(temp->parent);
                zp_rbt_black(w->left);
                zp_rbtree_right_rotate(root, sentinel, temp->parent);
                temp = *root;
            }
        }
    }

    zp_rbt_black(temp);
}


static inline void
zp_rbtree_left_rotate(zp_rbtree_node_t **root, zp_rbtree_node_t *sentinel, zp_rbtree_node_t *node)
{
    zp_rbtree_node_t *temp;

    temp        = node->right;
    node->right = temp->left;

    if (temp->left != sentinel) {
        temp->left->parent = node;
    }

    temp->parent = node->parent;

    if (node == *root) {
        *root = temp;

    } else if (node == node->parent->left) {
        node->parent->left = temp;

    } else {
        node->parent->right = temp;
    }

    temp->left   = node;
    node->parent = temp;
}


static inline void
zp_rbtree_right_rotate(zp_rbtree_node_t **root, zp_rbtree_node_t *sentinel, zp_rbtree_node_t *node)
{
    zp_rbtree_node_t *temp;

    temp       = node->left;
    node->left = temp->right;

    if (temp->right != sentinel) {
        temp->right->parent = node;
    }

    temp->parent = node->parent;

    if (node == *root) {
        *root = temp;

    } else if (node == node->parent->right) {
        node->parent->right = temp;

    } else {
        node->parent->left = temp;
    }

    temp->right  = node;
    node->parent = temp;
}


zp_rbtree_node_t *
zp_rbtree_next(zp_rbtree_t *tree, zp_rbtree_node_t *node)
{
    zp_rbtree_node_t *root, *sentinel, *parent;

    sentinel = tree->sentinel;

    if (node->right != sentinel) {
        return zp_rbtree_min(node->right, sentinel);
    }

    root = tree->root;

    /* climb until we come up from a left child */
    for (;;) {
        parent = node->parent;

        if (node == root) {
            return NULL;
        }

        if (node == parent->left) {
            return parent;
        }

        node = parent;
    }
}
