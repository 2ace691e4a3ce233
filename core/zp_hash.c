/*
 * zp_hash.c: string hashing and the static exact-match hash.
 */
#include <zp_config.h>
#include <zp_core.h>

/* Bytes an element takes in its bucket: header and name, pointer-aligned
 * so that the next element's value pointer is aligned. */
#define ZP_HASH_ELT_SIZE(hk) zp_align(offsetof(zp_hash_elt_t, name) + (hk)->key.len, sizeof(void *))


zp_uint_t
zp_hash_key(u_char *data, size_t len)
{
    zp_uint_t i, key;

    key = 0;

    for (i = 0; i < len; i++) {
        key = zp_hash(key, data[i]);
    }

    return key;
}


zp_uint_t
zp_hash_key_lc(u_char *data, size_t len)
{
    zp_uint_t i, key;

    key = 0;

    for (i = 0; i < len; i++) {
        key = zp_hash(key, zp_tolower(data[i]));
    }

    return key;
}


zp_uint_t
zp_hash_strlow(u_char *dst, u_char *src, size_t n)
{
    zp_uint_t key;

    key = 0;

    while (n--) {
        *dst = zp_tolower(*src);
        key  = zp_hash(key, *dst);
        dst++;
        src++;
    }

    return key;
}


void *
zp_hash_find(zp_hash_t *hash, zp_uint_t key, u_char *name, size_t len)
{
    zp_hash_elt_t *elt;

    if (hash->size == 0) {
        return NULL;
    }

    elt = hash->buckets[key % hash->size];

    if (elt == NULL) {
        return NULL;
    }

    while (elt->value) {
        if (len == (size_t)elt->len && zp_memcmp(name, elt->name, len) == 0) {
            return elt->value;
        }

        elt = (zp_hash_elt_t *)zp_align_ptr(&elt->name[0] + elt->len, sizeof(void *));
    }

    return NULL;
}


zp_int_t
zp_hash_init(zp_hash_init_t *hinit, zp_hash_key_t *names, zp_uint_t nelts)
{
    u_char        *elts;
    size_t         len;
    u_short       *test;
    zp_log_t      *log;
    zp_uint_t      i, n, key, size, start, bucket_size;
    zp_hash_elt_t *elt, **buckets;

    log = hinit->pool->log;

    if (hinit->max_size == 0) {
        zp_log_error(ZP_LOG_EMERG, log, 0,
                     "could not build %s, you should increase %s_max_size: %i", hinit->name,
                     hinit->name, (zp_int_t)hinit->max_size);
        return ZP_ERROR;
    }

    if (hinit->bucket_size < 2 * sizeof(void *)) {
        zp_log_error(ZP_LOG_EMERG, log, 0,
                     "could not build %s, you should increase %s_bucket_size: %i", hinit->name,
                     hinit->name, (zp_int_t)hinit->bucket_size);
        return ZP_ERROR;
    }

    /* bucket offsets are kept in u_short */
    if (hinit->bucket_size > 65536 - ZP_CPU_CACHE_LINE) {
        zp_log_error(ZP_LOG_EMERG, log, 0, "could not build %s, too large %s_bucket_size: %i",
                     hinit->name, hinit->name, (zp_int_t)hinit->bucket_size);
        return ZP_ERROR;
    }

    for (n = 0; n < nelts; n++) {
        if (names[n].key.data == NULL) {
            continue;
        }

        if (names[n].value == NULL) {
            zp_log_error(ZP_LOG_EMERG, log, 0, "could not build %s, \"%V\" has no value",
                         hinit->name, &names[n].key);
            return ZP_ERROR;
        }

        /* every key must fit in a bucket beside the terminating pointer */
        if (hinit->bucket_size < ZP_HASH_ELT_SIZE(&names[n]) + sizeof(void *)) {
            zp_log_error(ZP_LOG_EMERG, log, 0,
                         "could not build %s, you should increase %s_bucket_size: %i", hinit->name,
                         hinit->name, (zp_int_t)hinit->bucket_size);
            return ZP_ERROR;
        }

        if (hinit->key) {
            names[n].key_hash = hinit->key(names[n].key.data, names[n].key.len);
        }
    }

    test = zp_alloc(hinit->max_size * sizeof(u_short), log);
    if (test == NULL) {
        return ZP_ERROR;
    }

    bucket_size = hinit->bucket_size - sizeof(void *);

    /*
     * Start from the bucket count the keys would need if buckets were
     * about half full (an element is at least two pointers): smaller
     * counts cannot succeed, so trying them only costs time.
     */
    start = nelts / (bucket_size / (2 * sizeof(void *)));
    start = start ? start : 1;

    if (hinit->max_size > 10000 && nelts && hinit->max_size / nelts < 100) {
        start = hinit->max_size - 1000;
    }

    for (size = start; size <= hinit->max_size; size++) {

        zp_memzero(test, size * sizeof(u_short));

        for (n = 0; n < nelts; n++) {
            if (names[n].key.data == NULL) {
                continue;
            }

            key = names[n].key_hash % size;
            len = test[key] + ZP_HASH_ELT_SIZE(&names[n]);

            if (len > bucket_size) {
                goto next;
            }

            test[key] = (u_short)len;
        }

        goto found;

    next:

        continue;
    }

    zp_log_error(ZP_LOG_EMERG, log, 0,
                 "could not build %s, you should increase either %s_max_size: %i "
                 "or %s_bucket_size: %i",
                 hinit->name, hinit->name, (zp_int_t)hinit->max_size, hinit->name,
                 (zp_int_t)hinit->bucket_size);

    zp_free(test);

    return ZP_ERROR;

found:

    /* each bucket gets its terminator and starts on a cache line */
    len = 0;

    for (i = 0; i < size; i++) {
        if (test[i] == 0) {
            continue;
        }

        test[i] = (u_short)zp_align(test[i] + sizeof(void *), ZP_CPU_CACHE_LINE);
        len += test[i];
    }

    buckets = zp_pcalloc(hinit->pool, size * sizeof(zp_hash_elt_t *));
    if (buckets == NULL) {
        zp_free(test);
        return ZP_ERROR;
    }

    elts = zp_palloc(hinit->pool, len + ZP_CPU_CACHE_LINE);
    if (elts == NULL) {
        zp_free(test);
        return ZP_ERROR;
    }

    elts = zp_align_ptr(elts, ZP_CPU_CACHE_LINE);

    for (i = 0; i < size; i++) {
        if (test[i] == 0) {
            continue;
        }

        buckets[i] = (zp_hash_elt_t *)elts;
        elts += test[i];
    }

    /* test[] now tracks the fill of each bucket */
    for (i = 0; i < size; i++) {
        test[i] = 0;
    }

    for (n = 0; n < nelts; n++) {
        if (names[n].key.data == NULL) {
            continue;
        }

        key = names[n].key_hash % size;
        elt = (zp_hash_elt_t *)((u_char *)buckets[key] + test[key]);

        elt->value = names[n].value;
        elt->len   = (u_short)names[n].key.len;

        zp_strlow(elt->name, names[n].key.data, names[n].key.len);

        test[key] = (u_short)(test[key] + ZP_HASH_ELT_SIZE(&names[n]));
    }

    for (i = 0; i < size; i++) {
        if (buckets[i] == NULL) {
            continue;
        }

        elt        = (zp_hash_elt_t *)((u_char *)buckets[i] + test[i]);
        elt->value = NULL;
    }

    zp_free(test);

    hinit->hash->buckets = buckets;
    hinit->hash->size    = size;

    return ZP_OK;
}
