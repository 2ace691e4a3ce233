/*
 * test_http_upstream_balance.c: upstream server selection.
 */
#include "zpt_unit.h"
#include <zp_http_upstream_balance.h>

#define ZPT_KEYS 10000


/*
 * A group of n primaries "10.0.0.<i + 1>:80" with the given weights (NULL:
 * all 1) and nb backups "10.0.1.<i + 1>:80", not yet initialised.
 */
static zp_http_upstream_group_t *
zpt_group(zp_pool_t *pool, zp_uint_t method, zp_uint_t n, const zp_int_t *weights, zp_uint_t nb)
{
    zp_uint_t                 i;
    zp_str_t                  name;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_group_t *g;

    g = zp_pcalloc(pool, sizeof(zp_http_upstream_group_t));
    ck_assert_ptr_nonnull(g);
    zp_str_set(&g->name, "backend");
    g->method = method;

    for (i = 0; i < n + nb; i++) {
        name.data = zp_pnalloc(pool, 32);
        ck_assert_ptr_nonnull(name.data);
        name.len = (size_t)(zp_sprintf(name.data, "10.0.%ui.%ui:80", i < n ? 0 : 1,
                                       (i < n ? i : i - n) + 1) -
                            name.data);

        p = zp_http_upstream_add_peer(pool, g, &name, i >= n, zpt_log);
        ck_assert_ptr_nonnull(p);

        if (i < n && weights) {
            p->weight = weights[i];
        }
    }

    return g;
}


static zp_http_upstream_peer_t *
zpt_peer(zp_http_upstream_group_t *g, zp_uint_t i)
{
    return &((zp_http_upstream_peer_t *)g->peers.elts)[i];
}


static zp_http_upstream_peer_t *
zpt_backup(zp_http_upstream_group_t *g, zp_uint_t i)
{
    return &((zp_http_upstream_peer_t *)g->backups.elts)[i];
}


/* The index of a primary peer, or peers.nelts + i for backup i. */
static zp_uint_t
zpt_index(zp_http_upstream_group_t *g, zp_http_upstream_peer_t *p)
{
    ck_assert_ptr_nonnull(p);

    if (!p->backup) {
        return (zp_uint_t)(p - zpt_peer(g, 0));
    }

    return g->peers.nelts + (zp_uint_t)(p - zpt_backup(g, 0));
}


/* One attempt that succeeds at once: get, then free. */
static zp_http_upstream_peer_t *
zpt_pick(zp_http_upstream_group_t *g, zp_str_t *key)
{
    zp_http_upstream_peer_t *p;

    p = zp_http_upstream_get_peer(g, NULL, key);
    if (p) {
        zp_http_upstream_free_peer(g, p, 0);
    }

    return p;
}


/* The peer index each of ZPT_KEYS keys "key-<n>" maps to, with nothing tried. */
static void
zpt_map_keys(zp_http_upstream_group_t *g, zp_uint_t *map)
{
    u_char                   buf[32];
    zp_uint_t                k;
    zp_str_t                 key;
    zp_http_upstream_peer_t *p;

    key.data = buf;

    for (k = 0; k < ZPT_KEYS; k++) {
        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        p       = zpt_pick(g, &key);
        ck_assert_ptr_nonnull(p);
        map[k] = zpt_index(g, p);
    }
}


static void
zpt_setup(void)
{
    zp_time_init();
    zp_current_msec = 1000000;
}


/* ------------------------------------------------------------------ */


START_TEST(test_init_defaults_and_errors)
{
    zp_pool_t                *pool;
    zp_str_t                  bad;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_group_t *g, empty;

    pool = zpt_create_pool(4096);

    g = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 2, NULL, 1);
    p = zpt_peer(g, 0);
    ck_assert_int_eq(p->weight, 1);
    ck_assert_uint_eq(p->max_fails, 1);
    ck_assert_uint_eq(p->fail_timeout, 10000);
    ck_assert_uint_eq(p->backup, 0);
    ck_assert_uint_eq(zpt_backup(g, 0)->backup, 1);
    ck_assert_int_eq(p->sockaddr.sa.sa_family, AF_INET);
    ck_assert_uint_eq(ntohs(p->sockaddr.sin.sin_port), 80);
    ck_assert(p->name.len == 11 && memcmp(p->name.data, "10.0.0.1:80", 11) == 0);

    /* stale state is reset by init */
    p->weight         = 3;
    p->fails          = 7;
    p->conns          = 2;
    p->current_weight = 9;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    ck_assert_uint_eq(p->fails, 0);
    ck_assert_uint_eq(p->conns, 0);
    ck_assert_int_eq(p->current_weight, 0);
    ck_assert_int_eq(p->effective_weight, 3);
    ck_assert_ptr_null(g->ring);

    p->weight = 0;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_ERROR);
    p->weight = 1;

    g->method = 9;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_ERROR);

    /* backups only: no primary */
    zp_memzero(&empty, sizeof(empty));
    ck_assert_int_eq(zp_http_upstream_init(pool, &empty, zpt_log), ZP_ERROR);

    zp_str_set(&bad, "10.0.0.300:80");
    ck_assert_ptr_null(zp_http_upstream_add_peer(pool, g, &bad, 0, zpt_log));
    ck_assert_uint_eq(g->peers.nelts, 2);

    zp_str_set(&bad, "[::1]:8080");
    p = zp_http_upstream_add_peer(pool, g, &bad, 0, zpt_log);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->sockaddr.sa.sa_family, AF_INET6);
    ck_assert_uint_eq(ntohs(p->sockaddr.sin6.sin6_port), 8080);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_tried_large_group)
{
    zp_uint_t                 i;
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(16384);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 200, NULL, 3);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
    ck_assert_ptr_nonnull(tried.data);
    ck_assert_uint_eq(tried.npeers, 203);

    /* every peer exactly once, backups last, then nothing */
    for (i = 0; i < 203; i++) {
        p = zp_http_upstream_get_peer(g, &tried, NULL);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(zpt_index(g, p), i);
        ck_assert_uint_eq(p->backup, i >= 200);
    }

    ck_assert_ptr_null(zp_http_upstream_get_peer(g, &tried, NULL));

    /* small groups keep the bits inline */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 3, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
    ck_assert_ptr_null(tried.data);

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_rr_smooth_sequence)
{
    char                      seq[22];
    zp_uint_t                 i;
    zp_pool_t                *pool;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 3, (zp_int_t[]){5, 1, 1}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 21; i++) {
        seq[i] = (char)('a' + zpt_index(g, zpt_pick(g, NULL)));
    }
    seq[21] = '\0';

    ck_assert_str_eq(seq, "aabacaaaabacaaaabacaa");

    /* equal weights alternate strictly */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 3, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 9; i++) {
        seq[i] = (char)('a' + zpt_index(g, zpt_pick(g, NULL)));
    }
    seq[9] = '\0';

    ck_assert_str_eq(seq, "abcabcabc");

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_rr_distribution)
{
    static const zp_int_t     w[] = {3, 2, 1, 4, 7};
    zp_uint_t                 i, cycle, count[5], longest, run, last;
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 5, w, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    longest = 0;
    run     = 0;
    last    = 99;

    /* exactly proportional in every cycle of sum(weight) = 17 picks */
    for (cycle = 0; cycle < 50; cycle++) {
        zp_memzero(count, sizeof(count));

        for (i = 0; i < 17; i++) {
            p = zpt_pick(g, NULL);
            count[zpt_index(g, p)]++;

            run     = (zpt_index(g, p) == last) ? run + 1 : 1;
            last    = zpt_index(g, p);
            longest = zp_max(longest, run);
        }

        for (i = 0; i < 5; i++) {
            ck_assert_uint_eq(count[i], (zp_uint_t)w[i]);
        }
    }

    /* smooth: the heaviest (7 of 17) never gets more than 2 in a row */
    ck_assert_uint_le(longest, 2);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_rr_down_and_tried)
{
    zp_uint_t                 i, count[4];
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool                 = zpt_create_pool(4096);
    g                    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 4, (zp_int_t[]){1, 2, 3, 4}, 0);
    zpt_peer(g, 3)->down = 1;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    zp_memzero(count, sizeof(count));
    for (i = 0; i < 600; i++) {
        count[zpt_index(g, zpt_pick(g, NULL))]++;
    }

    ck_assert_uint_eq(count[0], 100);
    ck_assert_uint_eq(count[1], 200);
    ck_assert_uint_eq(count[2], 300);
    ck_assert_uint_eq(count[3], 0);

    /* retries of one request: each usable peer once, never a tried one */
    for (i = 0; i < 20; i++) {
        ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
        zp_memzero(count, sizeof(count));

        while ((p = zp_http_upstream_get_peer(g, &tried, NULL)) != NULL) {
            count[zpt_index(g, p)]++;
            zp_http_upstream_free_peer(g, p, 0);
        }

        ck_assert_uint_eq(count[0], 1);
        ck_assert_uint_eq(count[1], 1);
        ck_assert_uint_eq(count[2], 1);
        ck_assert_uint_eq(count[3], 0);
    }

    /* every peer down */
    for (i = 0; i < 4; i++) {
        zpt_peer(g, i)->down = 1;
    }
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_least_conn)
{
    char                      seq[8];
    zp_uint_t                 i, count[3];
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p, *held[12];
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);

    /* with connections held, new ones go to the least loaded */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_LEAST_CONN, 3, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 6; i++) {
        held[i] = zp_http_upstream_get_peer(g, NULL, NULL);
        ck_assert_ptr_nonnull(held[i]);
    }
    for (i = 0; i < 3; i++) {
        ck_assert_uint_eq(zpt_peer(g, i)->conns, 2);
    }

    /* freeing two of b's connections: b is the least loaded until even */
    zp_http_upstream_free_peer(g, zpt_peer(g, 1), 0);
    zp_http_upstream_free_peer(g, zpt_peer(g, 1), 0);
    ck_assert_uint_eq(zpt_peer(g, 1)->conns, 0);
    ck_assert_uint_eq(zpt_index(g, zp_http_upstream_get_peer(g, NULL, NULL)), 1);
    ck_assert_uint_eq(zpt_index(g, zp_http_upstream_get_peer(g, NULL, NULL)), 1);
    ck_assert_uint_eq(zpt_peer(g, 1)->conns, 2);

    /* conns relative to weight: 3:1 weights hold 9:3 of 12 open connections */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_LEAST_CONN, 2, (zp_int_t[]){3, 1}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 12; i++) {
        held[i] = zp_http_upstream_get_peer(g, NULL, NULL);
        ck_assert_ptr_nonnull(held[i]);
    }
    ck_assert_uint_eq(zpt_peer(g, 0)->conns, 9);
    ck_assert_uint_eq(zpt_peer(g, 1)->conns, 3);

    for (i = 0; i < 12; i++) {
        zp_http_upstream_free_peer(g, held[i], 0);
    }
    ck_assert_uint_eq(zpt_peer(g, 0)->conns, 0);
    ck_assert_uint_eq(zpt_peer(g, 1)->conns, 0);

    /* all idle: every pick ties, so it is smooth weighted round robin */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_LEAST_CONN, 3, (zp_int_t[]){5, 1, 1}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 7; i++) {
        seq[i] = (char)('a' + zpt_index(g, zpt_pick(g, NULL)));
    }
    seq[7] = '\0';
    ck_assert_str_eq(seq, "aabacaa");

    /* a busy peer is skipped while the others tie among themselves */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_LEAST_CONN, 3, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    zpt_peer(g, 0)->conns = 5;

    zp_memzero(count, sizeof(count));
    for (i = 0; i < 100; i++) {
        p = zpt_pick(g, NULL);
        count[zpt_index(g, p)]++;
    }
    ck_assert_uint_eq(count[0], 0);
    ck_assert_uint_eq(count[1], 50);
    ck_assert_uint_eq(count[2], 50);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_least_conn_tried_and_backup)
{
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_LEAST_CONN, 2, NULL, 2);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    /* a is idle and b busy, but a was tried: b, then the idler backup */
    zpt_peer(g, 1)->conns   = 10;
    zpt_backup(g, 0)->conns = 4;
    ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);

    p = zp_http_upstream_get_peer(g, &tried, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 0);
    p = zp_http_upstream_get_peer(g, &tried, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 1);
    p = zp_http_upstream_get_peer(g, &tried, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 3);
    p = zp_http_upstream_get_peer(g, &tried, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 2);
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, &tried, NULL));

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_hash_same_key)
{
    zp_uint_t                 i, k, count[4], *map;
    zp_pool_t                *pool;
    zp_str_t                  key;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    map  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    ck_assert_ptr_nonnull(map);

    g = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH, 4, (zp_int_t[]){1, 1, 2, 4}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    zp_str_set(&key, "/users/42");
    k = zpt_index(g, zpt_pick(g, &key));
    for (i = 0; i < 100; i++) {
        ck_assert_uint_eq(zpt_index(g, zpt_pick(g, &key)), k);
    }

    /* NULL and empty keys are the same key */
    zp_str_set(&key, "");
    ck_assert_ptr_eq(zpt_pick(g, NULL), zpt_pick(g, &key));

    /* shares follow the weights (1:1:2:4 of 8), within 10% */
    zpt_map_keys(g, map);
    zp_memzero(count, sizeof(count));
    for (k = 0; k < ZPT_KEYS; k++) {
        count[map[k]]++;
    }

    ck_assert_uint_ge(count[0], 1250 * 9 / 10);
    ck_assert_uint_le(count[0], 1250 * 11 / 10);
    ck_assert_uint_ge(count[1], 1250 * 9 / 10);
    ck_assert_uint_le(count[1], 1250 * 11 / 10);
    ck_assert_uint_ge(count[2], 2500 * 9 / 10);
    ck_assert_uint_le(count[2], 2500 * 11 / 10);
    ck_assert_uint_ge(count[3], 5000 * 9 / 10);
    ck_assert_uint_le(count[3], 5000 * 11 / 10);

    /* mapping again (with round robin state moved on) changes nothing */
    {
        zp_uint_t *again = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));

        ck_assert_ptr_nonnull(again);
        zpt_map_keys(g, again);
        ck_assert(memcmp(map, again, ZPT_KEYS * sizeof(zp_uint_t)) == 0);
    }

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_hash_down_rehash)
{
    zp_uint_t                 k, moved, *before, *after, *again;
    zp_pool_t                *pool;
    zp_http_upstream_group_t *g;

    pool   = zpt_create_pool(4096);
    before = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    after  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    again  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    ck_assert(before && after && again);

    g = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH, 5, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    zpt_map_keys(g, before);

    /* c down: its keys rehash elsewhere, deterministically; others stay */
    zpt_peer(g, 2)->down = 1;
    zpt_map_keys(g, after);
    zpt_map_keys(g, again);
    ck_assert(memcmp(after, again, ZPT_KEYS * sizeof(zp_uint_t)) == 0);

    moved = 0;
    for (k = 0; k < ZPT_KEYS; k++) {
        ck_assert_uint_ne(after[k], 2);

        if (before[k] == 2) {
            moved++;
        } else {
            ck_assert_uint_eq(after[k], before[k]);
        }
    }

    /* about a fifth of the keys were c's */
    ck_assert_uint_ge(moved, 1600);
    ck_assert_uint_le(moved, 2400);

    /* back up: the old mapping returns */
    zpt_peer(g, 2)->down = 0;
    zpt_map_keys(g, after);
    ck_assert(memcmp(before, after, ZPT_KEYS * sizeof(zp_uint_t)) == 0);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_hash_tried_and_fallback)
{
    u_char                    buf[32];
    zp_uint_t                 i, k, seen;
    zp_pool_t                *pool;
    zp_str_t                  key;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH, 4, NULL, 1);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    /* retries for one key visit every peer once, backup last, then NULL */
    key.data = buf;
    for (k = 0; k < 200; k++) {
        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
        seen = 0;

        for (i = 0; i < 5; i++) {
            p = zp_http_upstream_get_peer(g, &tried, &key);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq(p->backup, i == 4);
            ck_assert_uint_eq(seen & (1u << zpt_index(g, p)), 0);
            seen |= 1u << zpt_index(g, p);
            zp_http_upstream_free_peer(g, p, 1);
        }

        ck_assert_ptr_null(zp_http_upstream_get_peer(g, &tried, &key));

        /* forget the failures for the next key */
        ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    }

    /*
     * 20 rehashes almost never find the one usable peer of weight 1 among
     * 1001: the round robin fallback must.
     */
    g                    = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH, 2, (zp_int_t[]){1000, 1}, 0);
    zpt_peer(g, 0)->down = 1;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (k = 0; k < 1000; k++) {
        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        ck_assert_uint_eq(zpt_index(g, zpt_pick(g, &key)), 1);
    }

    zpt_peer(g, 1)->down = 1;
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, &key));

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_chash_ring)
{
    zp_uint_t                 i, count[3];
    zp_pool_t                *pool;
    zp_http_upstream_ring_t  *ring;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 3, (zp_int_t[]){1, 2, 3}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    ring = g->ring;
    ck_assert_ptr_nonnull(ring);
    ck_assert_uint_eq(ring->number, 160 * 6);

    zp_memzero(count, sizeof(count));
    for (i = 0; i < ring->number; i++) {
        count[zpt_index(g, ring->point[i].peer)]++;
        if (i) {
            ck_assert_uint_le(ring->point[i - 1].hash, ring->point[i].hash);
        }
    }

    ck_assert_uint_eq(count[0], 160);
    ck_assert_uint_eq(count[1], 320);
    ck_assert_uint_eq(count[2], 480);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_chash_distribution_and_removal)
{
    u_char                    buf[32];
    zp_uint_t                 i, k, moved, count[10], *before, *after;
    zp_pool_t                *pool;
    zp_str_t                  key;
    zp_http_upstream_group_t *g, *g9;

    pool   = zpt_create_pool(4096);
    before = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    after  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    ck_assert(before && after);

    g = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 10, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    zpt_map_keys(g, before);

    /* each server within 30% of the mean of 1000 keys */
    zp_memzero(count, sizeof(count));
    for (k = 0; k < ZPT_KEYS; k++) {
        count[before[k]]++;
    }
    for (i = 0; i < 10; i++) {
        ck_assert_msg(count[i] >= 700 && count[i] <= 1300, "server %u has %u keys", (unsigned)i,
                      (unsigned)count[i]);
    }

    /* same key, same server */
    key.data = buf;
    for (k = 0; k < 100; k++) {
        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        ck_assert_uint_eq(zpt_index(g, zpt_pick(g, &key)), before[k]);
    }

    /*
     * Server 4 removed from the configuration: the 9 others are the same
     * servers (same names) at new indexes. Only server 4's keys move, and
     * they spread over the others instead of piling onto one.
     */
    g9 = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 10, NULL, 0);
    for (i = 4; i < 9; i++) {
        zpt_peer(g9, i)->name = zpt_peer(g9, i + 1)->name;
    }
    g9->peers.nelts = 9;
    ck_assert_int_eq(zp_http_upstream_init(pool, g9, zpt_log), ZP_OK);
    zpt_map_keys(g9, after);

    moved = 0;
    zp_memzero(count, sizeof(count));
    for (k = 0; k < ZPT_KEYS; k++) {
        i = after[k] >= 4 ? after[k] + 1 : after[k]; /* back to g's numbering */

        if (before[k] == 4) {
            moved++;
            count[i]++;
        } else {
            ck_assert_uint_eq(i, before[k]);
        }
    }

    ck_assert_uint_gt(moved, 0);
    for (i = 0; i < 10; i++) {
        if (i == 4) {
            continue;
        }
        /* more than one heir, and none takes more than half */
        ck_assert_uint_le(count[i], moved / 2);
    }

    /* server 4 marked down instead: exactly the same result */
    zpt_peer(g, 4)->down = 1;
    for (k = 0; k < ZPT_KEYS; k++) {
        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        i       = zpt_index(g, zpt_pick(g, &key));
        ck_assert_uint_eq(i, after[k] >= 4 ? after[k] + 1 : after[k]);
    }

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_chash_add_server)
{
    zp_uint_t                 k, moved, *before, *after;
    zp_pool_t                *pool;
    zp_http_upstream_group_t *g, *g11;

    pool   = zpt_create_pool(4096);
    before = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    after  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    ck_assert(before && after);

    g = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 10, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    zpt_map_keys(g, before);

    g11 = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 11, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g11, zpt_log), ZP_OK);
    zpt_map_keys(g11, after);

    /* keys move only to the new server, about 1/11 of them */
    moved = 0;
    for (k = 0; k < ZPT_KEYS; k++) {
        if (after[k] != before[k]) {
            ck_assert_uint_eq(after[k], 10);
            moved++;
        }
    }

    ck_assert_uint_ge(moved, ZPT_KEYS / 11 * 7 / 10);
    ck_assert_uint_le(moved, ZPT_KEYS / 11 * 13 / 10);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_chash_weight_tried_backup)
{
    u_char                    buf[32];
    zp_uint_t                 i, k, count[3], *map;
    zp_pool_t                *pool;
    zp_str_t                  key;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    map  = zp_palloc(pool, ZPT_KEYS * sizeof(zp_uint_t));
    ck_assert_ptr_nonnull(map);

    /* weight 2 takes about half of 1+1+2 */
    g = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH_CONSISTENT, 3, (zp_int_t[]){1, 1, 2}, 1);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    zpt_map_keys(g, map);

    zp_memzero(count, sizeof(count));
    for (k = 0; k < ZPT_KEYS; k++) {
        ck_assert_uint_lt(map[k], 3); /* never the backup */
        count[map[k]]++;
    }
    ck_assert_uint_ge(count[2], 5000 * 8 / 10);
    ck_assert_uint_le(count[2], 5000 * 12 / 10);

    /* retries: every primary once, in the same order for the same key, then the backup */
    key.data = buf;
    for (k = 0; k < 100; k++) {
        zp_uint_t order[4], seen = 0;

        key.len = (size_t)(zp_sprintf(buf, "key-%ui", k) - buf);
        ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);

        for (i = 0; i < 4; i++) {
            p = zp_http_upstream_get_peer(g, &tried, &key);
            ck_assert_ptr_nonnull(p);
            order[i] = zpt_index(g, p);
            ck_assert_uint_eq(seen & (1u << order[i]), 0);
            seen |= 1u << order[i];
            zp_http_upstream_free_peer(g, p, 0);
        }

        ck_assert_uint_eq(order[0], map[k]);
        ck_assert_uint_eq(order[3], 3);
        ck_assert_ptr_null(zp_http_upstream_get_peer(g, &tried, &key));

        ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
        for (i = 0; i < 4; i++) {
            p = zp_http_upstream_get_peer(g, &tried, &key);
            ck_assert_uint_eq(zpt_index(g, p), order[i]);
            zp_http_upstream_free_peer(g, p, 0);
        }
    }

    /* all primaries down: the backup */
    for (i = 0; i < 3; i++) {
        zpt_peer(g, i)->down = 1;
    }
    zp_str_set(&key, "anything");
    ck_assert_ptr_eq(zpt_pick(g, &key), zpt_backup(g, 0));

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_fail_timeout_trial)
{
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p, *a;
    zp_http_upstream_group_t *g;

    /* a second server, down: a lone one is never taken out (see below) */
    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 2, NULL, 0);
    zpt_peer(g, 1)->down = 1;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    a = zpt_peer(g, 0);

    /* max_fails 1: one failure takes it out for fail_timeout (10 s) */
    p = zp_http_upstream_get_peer(g, NULL, NULL);
    ck_assert_ptr_eq(p, a);
    ck_assert_uint_eq(a->conns, 1);
    ck_assert_uint_eq(a->accessed, 1000000);
    zp_http_upstream_free_peer(g, p, 1);
    ck_assert_uint_eq(a->conns, 0);
    ck_assert_uint_eq(a->fails, 1);
    ck_assert_uint_eq(a->checked, 1000000);

    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));
    zp_current_msec = 1000000 + 10000;
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));

    /* fail_timeout passed: one trial request, the others still wait */
    zp_current_msec = 1000000 + 10001;
    p               = zp_http_upstream_get_peer(g, NULL, NULL);
    ck_assert_ptr_eq(p, a);
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));

    /* the trial fails: out for another fail_timeout from now */
    zp_current_msec = 1000000 + 10500;
    zp_http_upstream_free_peer(g, p, 1);
    ck_assert_uint_eq(a->fails, 2);
    zp_current_msec = 1000000 + 20500;
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));
    zp_current_msec = 1000000 + 20501;

    /* the next trial succeeds: back for everybody */
    p = zp_http_upstream_get_peer(g, NULL, NULL);
    ck_assert_ptr_eq(p, a);
    zp_http_upstream_free_peer(g, p, 0);
    ck_assert_uint_eq(a->fails, 0);
    ck_assert_ptr_eq(zp_http_upstream_get_peer(g, NULL, NULL), a);
    ck_assert_ptr_eq(zp_http_upstream_get_peer(g, NULL, NULL), a);
    ck_assert_uint_eq(a->conns, 2);

    zp_destroy_pool(pool);
}
END_TEST


/* As nginx: one server and no backup is never taken out, whatever fails. */
START_TEST(test_single_server_kept)
{
    zp_uint_t                 i;
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *a, *p;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 1, NULL, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);
    a = zpt_peer(g, 0);

    for (i = 0; i < 5; i++) {
        p = zp_http_upstream_get_peer(g, NULL, NULL);
        ck_assert_ptr_eq(p, a);
        zp_http_upstream_free_peer(g, p, 1);
        ck_assert_uint_eq(a->conns, 0);
        ck_assert_uint_eq(a->fails, 0);
    }

    /* configured down, it is down all the same */
    a->down = 1;
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_max_fails)
{
    zp_uint_t                 i;
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *a;
    zp_http_upstream_group_t *g;

    pool            = zpt_create_pool(4096);
    g               = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 2, NULL, 0);
    zpt_peer(g, 1)->down = 1;
    a               = zpt_peer(g, 0);
    a->max_fails    = 3;
    a->fail_timeout = 5000;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    /* two failures, then a success: the count starts over */
    zp_http_upstream_free_peer(g, zp_http_upstream_get_peer(g, NULL, NULL), 1);
    zp_http_upstream_free_peer(g, zp_http_upstream_get_peer(g, NULL, NULL), 1);
    ck_assert_uint_eq(a->fails, 2);
    zp_http_upstream_free_peer(g, zp_http_upstream_get_peer(g, NULL, NULL), 0);
    ck_assert_uint_eq(a->fails, 0);

    /* failures more than fail_timeout apart do not add up */
    for (i = 0; i < 10; i++) {
        zp_current_msec += 5001;
        zp_http_upstream_free_peer(g, zp_http_upstream_get_peer(g, NULL, NULL), 1);
        ck_assert_uint_eq(a->fails, 1);
    }

    /* three within fail_timeout of each other: out */
    zp_current_msec += 4000;
    zp_http_upstream_free_peer(g, zp_http_upstream_get_peer(g, NULL, NULL), 1);
    zp_current_msec += 4000;
    ck_assert_ptr_eq(zp_http_upstream_get_peer(g, NULL, NULL), a);
    zp_http_upstream_free_peer(g, a, 1);
    ck_assert_uint_eq(a->fails, 3);
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));
    zp_current_msec += 5001;
    ck_assert_ptr_eq(zp_http_upstream_get_peer(g, NULL, NULL), a);

    /* max_fails 0: never out */
    g            = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 1, NULL, 0);
    a            = zpt_peer(g, 0);
    a->max_fails = 0;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    for (i = 0; i < 50; i++) {
        ck_assert_ptr_eq(zp_http_upstream_get_peer(g, NULL, NULL), a);
        zp_http_upstream_free_peer(g, a, 1);
    }
    ck_assert_int_eq(a->effective_weight, 1);

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_fail_spreads_load)
{
    zp_uint_t                 i, count[3];
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 3, (zp_int_t[]){2, 2, 2}, 0);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    /* b fails: the others share the load while it is out */
    p = zpt_pick(g, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 0);
    p = zp_http_upstream_get_peer(g, NULL, NULL);
    ck_assert_uint_eq(zpt_index(g, p), 1);
    zp_http_upstream_free_peer(g, p, 1);
    ck_assert_int_eq(p->effective_weight, 0);

    zp_memzero(count, sizeof(count));
    for (i = 0; i < 100; i++) {
        count[zpt_index(g, zpt_pick(g, NULL))]++;
    }
    ck_assert_uint_eq(count[1], 0);
    ck_assert_uint_eq(count[0] + count[2], 100);
    ck_assert_uint_ge(count[0], 49);
    ck_assert_uint_ge(count[2], 49);

    /*
     * Back after fail_timeout, b's effective weight regrows from 0 by one
     * per pass, so it is eased in: fewer picks at first, then its share.
     */
    zp_current_msec += 10001;
    zp_memzero(count, sizeof(count));
    for (i = 0; i < 6; i++) {
        count[zpt_index(g, zpt_pick(g, NULL))]++;
    }
    ck_assert_uint_ge(count[1], 1);
    ck_assert_uint_lt(count[1], 2);
    ck_assert_int_eq(zpt_peer(g, 1)->effective_weight, 2);
    ck_assert_uint_eq(zpt_peer(g, 1)->fails, 0);

    for (i = 0; i < 60; i++) {
        (void)zpt_pick(g, NULL);
    }
    zp_memzero(count, sizeof(count));
    for (i = 0; i < 60; i++) {
        count[zpt_index(g, zpt_pick(g, NULL))]++;
    }
    ck_assert_uint_eq(count[0], 20);
    ck_assert_uint_eq(count[1], 20);
    ck_assert_uint_eq(count[2], 20);

    zp_destroy_pool(pool);
}
END_TEST


/* ------------------------------------------------------------------ */


START_TEST(test_backup)
{
    char                      seq[8];
    zp_uint_t                 i;
    zp_pool_t                *pool;
    zp_http_upstream_peer_t  *p;
    zp_http_upstream_tried_t  tried;
    zp_http_upstream_group_t *g;

    pool                     = zpt_create_pool(4096);
    g                        = zpt_group(pool, ZP_HTTP_UPSTREAM_RR, 2, NULL, 2);
    zpt_backup(g, 0)->weight = 2;
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    /* primaries up: backups idle */
    for (i = 0; i < 100; i++) {
        ck_assert_uint_eq(zpt_pick(g, NULL)->backup, 0);
    }

    /* one primary failed, one configured down: backups, weighted 2:1 */
    zpt_peer(g, 0)->down = 1;
    p                    = zp_http_upstream_get_peer(g, NULL, NULL);
    ck_assert_ptr_eq(p, zpt_peer(g, 1));
    zp_http_upstream_free_peer(g, p, 1);

    for (i = 0; i < 6; i++) {
        p      = zpt_pick(g, NULL);
        seq[i] = p->backup ? (char)('x' + p - zpt_backup(g, 0)) : '?';
    }
    seq[6] = '\0';
    ck_assert_str_eq(seq, "xyxxyx");

    /* the failed primary returns after fail_timeout and takes over again */
    zp_current_msec += 10001;
    p = zpt_pick(g, NULL);
    ck_assert_ptr_eq(p, zpt_peer(g, 1));
    for (i = 0; i < 10; i++) {
        ck_assert_ptr_eq(zpt_pick(g, NULL), zpt_peer(g, 1));
    }

    /* a retry after the only live primary was tried goes to a backup */
    ck_assert_int_eq(zp_http_upstream_tried_init(pool, g, &tried), ZP_OK);
    ck_assert_ptr_eq(zp_http_upstream_get_peer(g, &tried, NULL), zpt_peer(g, 1));
    ck_assert_uint_eq(zp_http_upstream_get_peer(g, &tried, NULL)->backup, 1);
    ck_assert_uint_eq(zp_http_upstream_get_peer(g, &tried, NULL)->backup, 1);
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, &tried, NULL));

    /* backups fail too: nothing */
    zpt_backup(g, 0)->down = 1;
    zpt_backup(g, 1)->down = 1;
    zpt_peer(g, 1)->down   = 1;
    ck_assert_ptr_null(zp_http_upstream_get_peer(g, NULL, NULL));

    zp_destroy_pool(pool);
}
END_TEST


START_TEST(test_backup_hash)
{
    zp_pool_t                *pool;
    zp_str_t                  key;
    zp_http_upstream_group_t *g;

    pool = zpt_create_pool(4096);
    g    = zpt_group(pool, ZP_HTTP_UPSTREAM_HASH, 2, NULL, 1);
    ck_assert_int_eq(zp_http_upstream_init(pool, g, zpt_log), ZP_OK);

    zp_str_set(&key, "abc");
    ck_assert_uint_eq(zpt_pick(g, &key)->backup, 0);

    zpt_peer(g, 0)->down = 1;
    zpt_peer(g, 1)->down = 1;
    ck_assert_ptr_eq(zpt_pick(g, &key), zpt_backup(g, 0));

    zp_destroy_pool(pool);
}
END_TEST


static Suite *
zpt_upstream_balance_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_http_upstream_balance");

    tc = tcase_create("init");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_init_defaults_and_errors);
    tcase_add_test(tc, test_tried_large_group);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_robin");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_rr_smooth_sequence);
    tcase_add_test(tc, test_rr_distribution);
    tcase_add_test(tc, test_rr_down_and_tried);
    suite_add_tcase(s, tc);

    tc = tcase_create("least_conn");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_least_conn);
    tcase_add_test(tc, test_least_conn_tried_and_backup);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_hash_same_key);
    tcase_add_test(tc, test_hash_down_rehash);
    tcase_add_test(tc, test_hash_tried_and_fallback);
    suite_add_tcase(s, tc);

    tc = tcase_create("consistent_hash");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_chash_ring);
    tcase_add_test(tc, test_chash_distribution_and_removal);
    tcase_add_test(tc, test_chash_add_server);
    tcase_add_test(tc, test_chash_weight_tried_backup);
    suite_add_tcase(s, tc);

    tc = tcase_create("failures");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_fail_timeout_trial);
    tcase_add_test(tc, test_max_fails);
    tcase_add_test(tc, test_single_server_kept);
    tcase_add_test(tc, test_fail_spreads_load);
    suite_add_tcase(s, tc);

    tc = tcase_create("backup");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_backup);
    tcase_add_test(tc, test_backup_hash);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_upstream_balance_suite)
