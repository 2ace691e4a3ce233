/*
 * zp_hash.h: string hashing and the static exact-match hash.
 *
 * The hash is built once, at configuration time, from an array of keys
 * and is read-only afterwards. zp_hash_init() searches for the smallest
 * bucket count at which no bucket exceeds bucket_size bytes, so a lookup
 * touches one bucket (ideally one cache line) and compares a few names.
 *
 * Names are stored lower-cased, so lookups pass a lower-case name and the
 * hash of it: zp_hash_strlow() makes both in one pass.
 */
#ifndef ZP_HASH_H
#define ZP_HASH_H

#include <zp_config.h>
#include <zp_core.h>

#ifndef ZP_CPU_CACHE_LINE
#define ZP_CPU_CACHE_LINE 64
#endif

/* One stored name; a bucket is a run of these ended by a NULL value. */
typedef struct {
    void   *value;
    u_short len;
    u_char  name[];
} zp_hash_elt_t;

typedef struct {
    zp_hash_elt_t **buckets;
    zp_uint_t       size;
} zp_hash_t;

/* An input key. value must not be NULL (NULL ends a bucket); a key with
 * key.data == NULL is skipped. */
typedef struct {
    zp_str_t  key;
    zp_uint_t key_hash;
    void     *value;
} zp_hash_key_t;

typedef zp_uint_t (*zp_hash_key_pt)(u_char *data, size_t len);

typedef struct {
    zp_hash_t     *hash;        /* filled in by zp_hash_init() */
    zp_hash_key_pt key;         /* if set, recomputes every key_hash */
    zp_uint_t      max_size;    /* most buckets to try */
    zp_uint_t      bucket_size; /* bytes per bucket, at most 65536 - cache line */
    char          *name;        /* for messages: "types_hash" */
    zp_pool_t     *pool;        /* the buckets live here */
    zp_pool_t     *temp_pool;   /* unused for now; kept for key arrays */
} zp_hash_init_t;

#define zp_hash(key, c) ((zp_uint_t)(key)*31 + (c))

zp_uint_t zp_hash_key(u_char *data, size_t len);
zp_uint_t zp_hash_key_lc(u_char *data, size_t len);

/* Lower-cases n bytes of src into dst and returns the hash of the result. */
zp_uint_t zp_hash_strlow(u_char *dst, u_char *src, size_t n);

/*
 * Builds hinit->hash from nelts keys. key_hash must be the hash of the
 * lower-cased key (zp_hash_key_lc()), unless hinit->key is set, in which
 * case it is computed here and written back to names[]. With duplicate
 * keys the first one wins. Returns ZP_OK, or ZP_ERROR after logging which
 * of max_size and bucket_size to raise.
 */
zp_int_t zp_hash_init(zp_hash_init_t *hinit, zp_hash_key_t *names, zp_uint_t nelts);

/* The value stored for name (len bytes, lower-case) whose hash is key,
 * or NULL. */
void *zp_hash_find(zp_hash_t *hash, zp_uint_t key, u_char *name, size_t len);

#endif /* ZP_HASH_H */
