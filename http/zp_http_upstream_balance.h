/*
 * zp_http_upstream_balance.h: choosing an upstream server for one attempt.
 *
 * Pure selection logic with no request, connection or socket: the proxy
 * module asks zp_http_upstream_get_peer() for a server, connects, and
 * reports the outcome with zp_http_upstream_free_peer(). The state kept
 * per peer (weights, failures, active connections) is per worker, like
 * nginx's without a shared zone.
 *
 * Methods:
 *   RR               smooth weighted round robin (nginx's): weights 5,1,1
 *                    give a a b a c a a, exactly proportional per cycle;
 *   LEAST_CONN       fewest active connections relative to weight
 *                    (conns / weight), ties broken by round robin;
 *   HASH             H(key) mod total weight picks a peer; an unusable pick
 *                    is rehashed up to 20 times, then round robin takes over;
 *   HASH_CONSISTENT  a ring of 160 points per weight unit; the key goes to
 *                    the first usable peer clockwise from H(key), so removing
 *                    one of N servers moves only that server's keys (~1/N).
 *
 * Backup peers are used only when no primary peer is usable (by round
 * robin, or least_conn for LEAST_CONN groups).
 */
#ifndef ZP_HTTP_UPSTREAM_BALANCE_H
#define ZP_HTTP_UPSTREAM_BALANCE_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_HTTP_UPSTREAM_RR              0
#define ZP_HTTP_UPSTREAM_LEAST_CONN      1
#define ZP_HTTP_UPSTREAM_HASH            2
#define ZP_HTTP_UPSTREAM_HASH_CONSISTENT 3

#define ZP_HTTP_UPSTREAM_DEFAULT_MAX_FAILS    1
#define ZP_HTTP_UPSTREAM_DEFAULT_FAIL_TIMEOUT 10000 /* ms */

/* Ring points per unit of weight (ketama's 160). */
#define ZP_HTTP_UPSTREAM_CHASH_POINTS 160

/* HASH: rehashes of an unusable pick before falling back to round robin. */
#define ZP_HTTP_UPSTREAM_HASH_TRIES 20

typedef struct {
    zp_str_t      name; /* "127.0.0.1:3001" as written */
    zp_sockaddr_t sockaddr;
    socklen_t     socklen;
    zp_int_t      weight;       /* configured, >= 1 */
    zp_uint_t     max_fails;    /* 0: never marked down; default 1 */
    zp_msec_t     fail_timeout; /* default 10 s */
    unsigned      backup : 1;
    unsigned      down : 1; /* configured down */

    /* per-worker state, reset by zp_http_upstream_init() */
    zp_int_t  current_weight;   /* smooth round robin accumulator */
    zp_int_t  effective_weight; /* lowered by failures, regrows by 1 per pick */
    zp_uint_t fails;            /* consecutive failures, each within fail_timeout
                                   of the previous one; a success resets it */
    zp_msec_t checked;          /* zp_current_msec of the last counted failure,
                                   or of the start of a trial request */
    zp_msec_t accessed;         /* zp_current_msec when last chosen */
    zp_uint_t conns;            /* active connections (least_conn) */
} zp_http_upstream_peer_t;

/* One point of the consistent hash ring. */
typedef struct {
    uint32_t                 hash;
    zp_http_upstream_peer_t *peer;
} zp_http_upstream_chash_point_t;

typedef struct {
    zp_uint_t                       number;
    zp_http_upstream_chash_point_t *point; /* sorted by hash, then peer order */
} zp_http_upstream_ring_t;

typedef struct {
    zp_str_t   name;
    zp_array_t peers;   /* of zp_http_upstream_peer_t: primary */
    zp_array_t backups; /* of zp_http_upstream_peer_t */
    zp_uint_t  method;  /* ZP_HTTP_UPSTREAM_RR, _LEAST_CONN, _HASH, _HASH_CONSISTENT */
    /* zp_http_upstream_ring_t, built by zp_http_upstream_init() for
     * HASH_CONSISTENT groups; NULL otherwise */
    void     *ring;
    zp_log_t *log; /* set by zp_http_upstream_init(), for "temporarily disabled" */
} zp_http_upstream_group_t;

/*
 * The servers tried for one request: one bit per peer, primaries first
 * (index i), then backups (index peers.nelts + i). Owned by the caller,
 * set up once per request with zp_http_upstream_tried_init(); get_peer()
 * sets the bit of every peer it returns, so retries go elsewhere. Groups of
 * up to ZP_HTTP_UPSTREAM_TRIED_INLINE * 64 peers need no allocation, and
 * the struct may be copied (data is NULL then).
 */
#define ZP_HTTP_UPSTREAM_TRIED_INLINE 2

typedef struct {
    uintptr_t *data; /* NULL: inline_data holds the bits */
    zp_uint_t  npeers;
    uintptr_t  inline_data[ZP_HTTP_UPSTREAM_TRIED_INLINE];
} zp_http_upstream_tried_t;

/*
 * Appends a peer parsed from name ("127.0.0.1:3001", "[::1]:80"; port 80
 * when none is given) to g->peers, or g->backups when backup is set, with
 * the defaults: weight 1, max_fails 1, fail_timeout 10 s. g must have been
 * zeroed before its first peer; name->data must outlive g (it is not
 * copied). Returns the peer for the caller to adjust, or NULL on a bad
 * address (logged at "emerg" on log) or allocation failure.
 */
zp_http_upstream_peer_t *zp_http_upstream_add_peer(zp_pool_t *pool, zp_http_upstream_group_t *g,
                                                   zp_str_t *name, zp_uint_t backup, zp_log_t *log);

/*
 * Validates g after its peers are configured (at least one primary peer,
 * weights >= 1, a known method), resets every peer's state and, for
 * HASH_CONSISTENT, builds the ring in pool. The peer arrays must not change
 * afterwards: the ring and the tried bits point into them. Returns ZP_OK,
 * or ZP_ERROR with the reason logged at "emerg" on log.
 *
 * Ring points: peer p with weight w gets 160 * w points; point j sits at
 * H(j, p->name), a key at H(0, key), where H(seed, s) is the top 32 bits
 * of the murmur3 fmix64 finalizer applied to the 64-bit FNV-1a hash of the
 * 8 little-endian bytes of seed followed by s. FNV-1a alone mixes short,
 * similar strings ("key1", "key2") poorly; the finalizer fixes that.
 */
zp_int_t zp_http_upstream_init(zp_pool_t *pool, zp_http_upstream_group_t *g, zp_log_t *log);

/* Sizes and clears tried for g (allocating from pool only for groups of
 * more than 128 peers). Returns ZP_OK or ZP_ERROR. */
zp_int_t zp_http_upstream_tried_init(zp_pool_t *pool, zp_http_upstream_group_t *g,
                                     zp_http_upstream_tried_t *tried);

/*
 * Picks a peer for one attempt and counts it as chosen: its tried bit is
 * set, conns is incremented and accessed stamped. tried may be NULL (no
 * memory of earlier attempts); key is the hash key for the HASH methods
 * (NULL means the empty key) and is ignored otherwise.
 *
 * A peer is usable when it is not configured down, not tried, and not
 * failed: with max_fails > 0, fails >= max_fails and less than fail_timeout
 * since the last failure. Once fail_timeout has passed the failed peer is
 * offered again; picking it starts a trial that keeps it from other
 * requests for another fail_timeout, until free_peer() reports the outcome.
 *
 * Returns NULL when every primary and backup peer is down, failed or tried.
 */
zp_http_upstream_peer_t *zp_http_upstream_get_peer(zp_http_upstream_group_t *g,
                                                   zp_http_upstream_tried_t *tried, zp_str_t *key);

/*
 * Reports the end of an attempt on p (returned by get_peer() for g) and
 * decrements its conns. failed: the attempt failed (connect error, timeout,
 * a 502/503 the caller treats as a failure). A failure more than
 * fail_timeout after the previous one starts the count again at 1; on
 * reaching max_fails the peer is out for fail_timeout, and a failed trial
 * puts it out again. Failures also lower effective_weight by
 * weight / max_fails (it regrows by one per round robin pass). A success
 * resets fails to 0.
 */
void zp_http_upstream_free_peer(zp_http_upstream_group_t *g, zp_http_upstream_peer_t *p,
                                zp_uint_t failed);

#endif /* ZP_HTTP_UPSTREAM_BALANCE_H */
