/*
 * zp_http_upstream_balance.c: upstream server selection (round robin,
 * least_conn, hash, consistent hash), failure accounting and backups.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http_upstream_balance.h>

#include <assert.h>

#define ZP_HTTP_UPSTREAM_TRIED_BITS (8 * sizeof(uintptr_t))

typedef zp_http_upstream_peer_t *(*zp_http_upstream_pick_pt)(zp_http_upstream_peer_t *peer,
                                                             zp_uint_t n, zp_uint_t base,
                                                             zp_http_upstream_tried_t *tried,
                                                             zp_msec_t                 now);

static uint32_t zp_http_upstream_hash(uint64_t seed, u_char *data, size_t len);
static int      zp_http_upstream_chash_cmp(const void *one, const void *two);
static zp_int_t zp_http_upstream_init_ring(zp_pool_t *pool, zp_http_upstream_group_t *g);
static zp_http_upstream_peer_t *zp_http_upstream_pick_rr(zp_http_upstream_peer_t *peer, zp_uint_t n,
                                                         zp_uint_t                 base,
                                                         zp_http_upstream_tried_t *tried,
                                                         zp_msec_t                 now);
static zp_http_upstream_peer_t *zp_http_upstream_pick_least_conn(zp_http_upstream_peer_t *peer,
                                                                 zp_uint_t n, zp_uint_t base,
                                                                 zp_http_upstream_tried_t *tried,
                                                                 zp_msec_t                 now);
static zp_http_upstream_peer_t *zp_http_upstream_pick_hash(zp_http_upstream_group_t *g,
                                                           zp_http_upstream_tried_t *tried,
                                                           zp_str_t *key, zp_msec_t now);
static zp_http_upstream_peer_t *zp_http_upstream_pick_chash(zp_http_upstream_group_t *g,
                                                            zp_http_upstream_tried_t *tried,
                                                            zp_str_t *key, zp_msec_t now);


static inline uintptr_t *
zp_http_upstream_tried_bits(zp_http_upstream_tried_t *t)
{
    return t->data ? t->data : t->inline_data;
}


static inline zp_uint_t
zp_http_upstream_is_tried(zp_http_upstream_tried_t *t, zp_uint_t i)
{
    uintptr_t *bits;

    if (t == NULL || i >= t->npeers) {
        return 0;
    }

    bits = zp_http_upstream_tried_bits(t);

    return (bits[i / ZP_HTTP_UPSTREAM_TRIED_BITS] >> (i % ZP_HTTP_UPSTREAM_TRIED_BITS)) & 1;
}


static inline void
zp_http_upstream_set_tried(zp_http_upstream_tried_t *t, zp_uint_t i)
{
    uintptr_t *bits;

    if (t == NULL || i >= t->npeers) {
        return;
    }

    bits = zp_http_upstream_tried_bits(t);
    bits[i / ZP_HTTP_UPSTREAM_TRIED_BITS] |= (uintptr_t)1 << (i % ZP_HTTP_UPSTREAM_TRIED_BITS);
}


/* Not configured down and not failed (see the header for "failed"). */
static inline zp_uint_t
zp_http_upstream_usable(zp_http_upstream_peer_t *p, zp_msec_t now)
{
    if (p->down) {
        return 0;
    }

    /* signed: a clock that never went back still cannot wrap this */
    if (p->max_fails && p->fails >= p->max_fails &&
        (zp_msec_int_t)(now - p->checked) <= (zp_msec_int_t)p->fail_timeout) {
        return 0;
    }

    return 1;
}


/* The tried-bit index of p: primaries first, then backups. */
static zp_uint_t
zp_http_upstream_index(zp_http_upstream_group_t *g, zp_http_upstream_peer_t *p)
{
    zp_http_upstream_peer_t *peers, *backups;

    peers = g->peers.elts;
    if (p >= peers && p < peers + g->peers.nelts) {
        return (zp_uint_t)(p - peers);
    }

    backups = g->backups.elts;
    assert(p >= backups && p < backups + g->backups.nelts);

    return g->peers.nelts + (zp_uint_t)(p - backups);
}


zp_http_upstream_peer_t *
zp_http_upstream_add_peer(zp_pool_t *pool, zp_http_upstream_group_t *g, zp_str_t *name,
                          zp_uint_t backup, zp_log_t *log)
{
    zp_array_t              *a;
    const char              *err;
    zp_http_upstream_peer_t *p;

    a = backup ? &g->backups : &g->peers;

    if (a->nalloc == 0 && zp_array_init(a, pool, 4, sizeof(zp_http_upstream_peer_t)) != ZP_OK) {
        return NULL;
    }

    p = zp_array_push(a);
    if (p == NULL) {
        return NULL;
    }

    zp_memzero(p, sizeof(zp_http_upstream_peer_t));

    if (zp_parse_addr_port(name, 80, &p->sockaddr, &p->socklen, &err) != ZP_OK) {
        zp_log_error(ZP_LOG_EMERG, log, 0, "%s in upstream server \"%V\"", err, name);
        a->nelts--;
        return NULL;
    }

    p->name             = *name;
    p->weight           = 1;
    p->effective_weight = 1;
    p->max_fails        = ZP_HTTP_UPSTREAM_DEFAULT_MAX_FAILS;
    p->fail_timeout     = ZP_HTTP_UPSTREAM_DEFAULT_FAIL_TIMEOUT;
    p->backup           = backup ? 1 : 0;

    return p;
}


zp_int_t
zp_http_upstream_init(zp_pool_t *pool, zp_http_upstream_group_t *g, zp_log_t *log)
{
    zp_uint_t                i, j;
    zp_array_t              *a;
    zp_http_upstream_peer_t *p;

    g->log  = log;
    g->ring = NULL;

    if (g->method > ZP_HTTP_UPSTREAM_HASH_CONSISTENT) {
        zp_log_error(ZP_LOG_EMERG, log, 0, "unknown balancing method %ui in upstream \"%V\"",
                     g->method, &g->name);
        return ZP_ERROR;
    }

    if (g->peers.nelts == 0) {
        zp_log_error(ZP_LOG_EMERG, log, 0, "no servers in upstream \"%V\"", &g->name);
        return ZP_ERROR;
    }

    for (j = 0; j < 2; j++) {
        a = j ? &g->backups : &g->peers;
        p = a->elts;

        for (i = 0; i < a->nelts; i++) {
            /* bounded so that 160 * weight points and conns * weight stay small */
            if (p[i].weight < 1 || p[i].weight > 1000) {
                zp_log_error(ZP_LOG_EMERG, log, 0,
                             "invalid weight %i of server \"%V\" in upstream \"%V\"", p[i].weight,
                             &p[i].name, &g->name);
                return ZP_ERROR;
            }

            p[i].backup           = j;
            p[i].current_weight   = 0;
            p[i].effective_weight = p[i].weight;
            p[i].fails            = 0;
            p[i].checked          = 0;
            p[i].accessed         = 0;
            p[i].conns            = 0;
        }
    }

    if (g->method == ZP_HTTP_UPSTREAM_HASH_CONSISTENT) {
        return zp_http_upstream_init_ring(pool, g);
    }

    return ZP_OK;
}


zp_int_t
zp_http_upstream_tried_init(zp_pool_t *pool, zp_http_upstream_group_t *g,
                            zp_http_upstream_tried_t *tried)
{
    size_t n;

    tried->npeers = g->peers.nelts + g->backups.nelts;
    tried->data   = NULL;
    zp_memzero(tried->inline_data, sizeof(tried->inline_data));

    n = (tried->npeers + ZP_HTTP_UPSTREAM_TRIED_BITS - 1) / ZP_HTTP_UPSTREAM_TRIED_BITS;

    if (n > ZP_HTTP_UPSTREAM_TRIED_INLINE) {
        tried->data = zp_pcalloc(pool, n * sizeof(uintptr_t));
        if (tried->data == NULL) {
            return ZP_ERROR;
        }
    }

    return ZP_OK;
}


zp_http_upstream_peer_t *
zp_http_upstream_get_peer(zp_http_upstream_group_t *g, zp_http_upstream_tried_t *tried,
                          zp_str_t *key)
{
    zp_msec_t                now;
    zp_http_upstream_peer_t *p;
    zp_http_upstream_pick_pt pick;

    now  = zp_current_msec;
    pick = zp_http_upstream_pick_rr;

    switch (g->method) {

    case ZP_HTTP_UPSTREAM_LEAST_CONN:
        pick = zp_http_upstream_pick_least_conn;
        p    = pick(g->peers.elts, g->peers.nelts, 0, tried, now);
        break;

    case ZP_HTTP_UPSTREAM_HASH:
        p = zp_http_upstream_pick_hash(g, tried, key, now);
        break;

    case ZP_HTTP_UPSTREAM_HASH_CONSISTENT:
        p = zp_http_upstream_pick_chash(g, tried, key, now);
        break;

    default: /* ZP_HTTP_UPSTREAM_RR */
        p = pick(g->peers.elts, g->peers.nelts, 0, tried, now);
        break;
    }

    if (p == NULL && g->backups.nelts) {
        p = pick(g->backups.elts, g->backups.nelts, g->peers.nelts, tried, now);
    }

    if (p == NULL) {
        return NULL;
    }

    zp_http_upstream_set_tried(tried, zp_http_upstream_index(g, p));

    /*
     * A failed peer offered again after fail_timeout: this request is its
     * trial, and restarting the window keeps other requests off it until
     * free_peer() tells whether it came back.
     */
    if (p->max_fails && p->fails >= p->max_fails) {
        p->checked = now;
    }

    p->accessed = now;
    p->conns++;

    return p;
}


void
zp_http_upstream_free_peer(zp_http_upstream_group_t *g, zp_http_upstream_peer_t *p,
                           zp_uint_t failed)
{
    zp_msec_t now;

    if (p->conns) {
        p->conns--;
    }

    if (!failed) {
        p->fails = 0;
        return;
    }

    /* as nginx: a lone server (no other, no backup) is never taken out,
     * leaving it out would only turn every request into a 502 for
     * fail_timeout, with nothing else to try */
    if (g->peers.nelts == 1 && g->backups.nelts == 0) {
        return;
    }

    now = zp_current_msec;

    if (p->fails && (p->max_fails == 0 || p->fails < p->max_fails) &&
        (zp_msec_int_t)(now - p->checked) > (zp_msec_int_t)p->fail_timeout) {
        /* the previous failure is too old to count with this one */
        p->fails = 0;
    }

    p->fails++;
    p->checked = now;

    if (p->max_fails == 0) {
        return;
    }

    p->effective_weight -= p->weight / (zp_int_t)p->max_fails;
    if (p->effective_weight < 0) {
        p->effective_weight = 0;
    }

    if (p->fails >= p->max_fails && g->log) {
        zp_log_error(ZP_LOG_WARN, g->log, 0,
                     "upstream server \"%V\" in \"%V\" temporarily disabled for %M ms", &p->name,
                     &g->name, p->fail_timeout);
    }
}


/*
 * Smooth weighted round robin over peer[0 .. n): every usable peer's
 * current_weight grows by its effective_weight, the largest wins (the
 * first on a tie) and pays back the sum. Over a cycle of sum(weight) picks
 * each peer gets exactly its weight, spread out rather than in bursts.
 */
static zp_http_upstream_peer_t *
zp_http_upstream_pick_rr(zp_http_upstream_peer_t *peer, zp_uint_t n, zp_uint_t base,
                         zp_http_upstream_tried_t *tried, zp_msec_t now)
{
    zp_int_t                 total;
    zp_uint_t                i;
    zp_http_upstream_peer_t *p, *best;

    best  = NULL;
    total = 0;

    for (i = 0; i < n; i++) {
        p = &peer[i];

        if (zp_http_upstream_is_tried(tried, base + i) || !zp_http_upstream_usable(p, now)) {
            continue;
        }

        p->current_weight += p->effective_weight;
        total += p->effective_weight;

        if (p->effective_weight < p->weight) {
            p->effective_weight++;
        }

        if (best == NULL || p->current_weight > best->current_weight) {
            best = p;
        }
    }

    if (best) {
        best->current_weight -= total;
    }

    return best;
}


/*
 * The usable peer with the fewest conns per unit of weight; when several
 * tie, smooth round robin among just those, so equal loads still rotate.
 */
static zp_http_upstream_peer_t *
zp_http_upstream_pick_least_conn(zp_http_upstream_peer_t *peer, zp_uint_t n, zp_uint_t base,
                                 zp_http_upstream_tried_t *tried, zp_msec_t now)
{
    zp_int_t                 total;
    zp_uint_t                i, first, many;
    zp_http_upstream_peer_t *p, *best;

    best  = NULL;
    first = 0;
    many  = 0;

    for (i = 0; i < n; i++) {
        p = &peer[i];

        if (zp_http_upstream_is_tried(tried, base + i) || !zp_http_upstream_usable(p, now)) {
            continue;
        }

        /* conns / weight < best->conns / best->weight, without division */
        if (best == NULL ||
            p->conns * (zp_uint_t)best->weight < best->conns * (zp_uint_t)p->weight) {
            best  = p;
            first = i;
            many  = 0;

        } else if (p->conns * (zp_uint_t)best->weight == best->conns * (zp_uint_t)p->weight) {
            many = 1;
        }
    }

    if (best == NULL || !many) {
        return best;
    }

    best  = NULL;
    total = 0;

    for (i = first; i < n; i++) {
        p = &peer[i];

        if (zp_http_upstream_is_tried(tried, base + i) || !zp_http_upstream_usable(p, now)) {
            continue;
        }

        if (p->conns * (zp_uint_t)peer[first].weight != peer[first].conns * (zp_uint_t)p->weight) {
            continue;
        }

        p->current_weight += p->effective_weight;
        total += p->effective_weight;

        if (p->effective_weight < p->weight) {
            p->effective_weight++;
        }

        if (best == NULL || p->current_weight > best->current_weight) {
            best = p;
        }
    }

    best->current_weight -= total;

    return best;
}


/*
 * H(key) mod the total configured weight of the primaries (down ones
 * included, so that marking a server down does not remap the others'
 * keys) walks the weights to a peer. An unusable or tried pick is
 * rehashed, H seeded with the previous hash and the attempt number, up to
 * ZP_HTTP_UPSTREAM_HASH_TRIES times: the same key meets the same sequence
 * of peers every time. After that, round robin over the primaries.
 */
static zp_http_upstream_peer_t *
zp_http_upstream_pick_hash(zp_http_upstream_group_t *g, zp_http_upstream_tried_t *tried,
                           zp_str_t *key, zp_msec_t now)
{
    uint64_t                 h, w, total;
    zp_uint_t                i, n;
    zp_http_upstream_peer_t *peer;

    peer  = g->peers.elts;
    n     = g->peers.nelts;
    total = 0;

    for (i = 0; i < n; i++) {
        total += (uint64_t)peer[i].weight;
    }

    h = key ? zp_http_upstream_hash(0, key->data, key->len) : zp_http_upstream_hash(0, NULL, 0);

    for (n = 0; n < ZP_HTTP_UPSTREAM_HASH_TRIES; n++) {
        w = h % total;

        for (i = 0; w >= (uint64_t)peer[i].weight; i++) {
            w -= (uint64_t)peer[i].weight;
        }

        if (!zp_http_upstream_is_tried(tried, i) && zp_http_upstream_usable(&peer[i], now)) {
            return &peer[i];
        }

        h = key ? zp_http_upstream_hash((h << 8) | (n + 1), key->data, key->len)
                : zp_http_upstream_hash((h << 8) | (n + 1), NULL, 0);
    }

    return zp_http_upstream_pick_rr(peer, g->peers.nelts, 0, tried, now);
}


/*
 * The first usable, untried peer clockwise from H(key) on the ring. A
 * peer that is down hands its arcs to the next peers on the ring and
 * nobody else's keys move; walking the whole ring covers every primary.
 */
static zp_http_upstream_peer_t *
zp_http_upstream_pick_chash(zp_http_upstream_group_t *g, zp_http_upstream_tried_t *tried,
                            zp_str_t *key, zp_msec_t now)
{
    uint32_t                        h;
    zp_uint_t                       lo, hi, mid, i;
    zp_http_upstream_ring_t        *ring;
    zp_http_upstream_peer_t        *p;
    zp_http_upstream_chash_point_t *point;

    ring = g->ring;
    if (ring == NULL || ring->number == 0) {
        return NULL;
    }

    point = ring->point;
    h     = key ? zp_http_upstream_hash(0, key->data, key->len) : zp_http_upstream_hash(0, NULL, 0);

    /* the first point with hash >= h; past the end wraps to point 0 */
    lo = 0;
    hi = ring->number;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (point[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }

    for (i = 0; i < ring->number; i++) {
        p = point[(lo + i) % ring->number].peer;

        if (!zp_http_upstream_is_tried(tried, zp_http_upstream_index(g, p)) &&
            zp_http_upstream_usable(p, now)) {
            return p;
        }
    }

    return NULL;
}


static zp_int_t
zp_http_upstream_init_ring(zp_pool_t *pool, zp_http_upstream_group_t *g)
{
    zp_uint_t                       i, j, n, k;
    zp_http_upstream_ring_t        *ring;
    zp_http_upstream_peer_t        *peer;
    zp_http_upstream_chash_point_t *point;

    peer = g->peers.elts;
    n    = 0;

    for (i = 0; i < g->peers.nelts; i++) {
        n += ZP_HTTP_UPSTREAM_CHASH_POINTS * (zp_uint_t)peer[i].weight;
    }

    ring = zp_palloc(pool, sizeof(zp_http_upstream_ring_t));
    if (ring == NULL) {
        return ZP_ERROR;
    }

    point = zp_palloc(pool, n * sizeof(zp_http_upstream_chash_point_t));
    if (point == NULL) {
        return ZP_ERROR;
    }

    k = 0;

    for (i = 0; i < g->peers.nelts; i++) {
        for (j = 0; j < ZP_HTTP_UPSTREAM_CHASH_POINTS * (zp_uint_t)peer[i].weight; j++) {
            point[k].hash = zp_http_upstream_hash(j, peer[i].name.data, peer[i].name.len);
            point[k].peer = &peer[i];
            k++;
        }
    }

    qsort(point, n, sizeof(zp_http_upstream_chash_point_t), zp_http_upstream_chash_cmp);

    ring->number = n;
    ring->point  = point;
    g->ring      = ring;

    return ZP_OK;
}


/* By hash; equal hashes (rare) by peer order, so the ring is deterministic. */
static int
zp_http_upstream_chash_cmp(const void *one, const void *two)
{
    const zp_http_upstream_chash_point_t *a = one, *b = two;

    if (a->hash != b->hash) {
        return a->hash < b->hash ? -1 : 1;
    }

    if (a->peer != b->peer) {
        return a->peer < b->peer ? -1 : 1;
    }

    return 0;
}


/*
 * H(seed, data): 64-bit FNV-1a over the 8 little-endian bytes of seed and
 * then data, finished with murmur3's fmix64 so that every input bit
 * reaches the top 32 bits we keep.
 */
static uint32_t
zp_http_upstream_hash(uint64_t seed, u_char *data, size_t len)
{
    size_t   i;
    uint64_t h;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
    }

    for (i = 0; i < len; i++) {
        h ^= data[i];
        h *= 0x100000001b3ULL;
    }

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;

    return (uint32_t)(h >> 32);
}
