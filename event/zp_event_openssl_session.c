/*
 * zp_event_openssl_session.c: TLS session resumption that works whatever
 * worker takes the connection.
 *
 * - The session cache lives in a shared memory zone (its own slab and
 *   lock), plugged into OpenSSL as an external cache: sessions are stored
 *   as DER (i2d_SSL_SESSION), in a red-black tree keyed by the session id,
 *   with a queue in expiry order. A full zone evicts the oldest sessions.
 *   OpenSSL's per-process cache is off (SSL_SESS_CACHE_NO_INTERNAL): it
 *   would only help the worker that made the session.
 * - Session ticket keys are process memory made before the workers fork
 *   (read from files, or random in the master), so every worker encrypts
 *   and decrypts with the same keys. The first key encrypts, all decrypt.
 *
 * OpenSSL calls the cache and ticket callbacks of the SSL_CTX the
 * connection started with (the default server's), even after SNI switched
 * to another server's SSL_CTX; zp_ssl_create_connection() records that
 * first SSL_CTX, and the callbacks take their cache and keys from it.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_event_openssl.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* sessions bigger than this (a long client certificate chain) are not
 * cached: they would crowd out many ordinary ones */
#define ZP_SSL_MAX_SESSION_SIZE 4096

typedef struct {
    zp_rbtree_node_t node;     /* key: the first bytes of the id */
    zp_queue_t       queue;    /* in expiry order, oldest first */
    time_t           expire;
    u_char           id_len;
    u_char           id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    size_t           len;
    u_char          *der;      /* slab memory of the same zone */
} zp_ssl_sess_node_t;

typedef struct {
    zp_rbtree_t      rbtree;
    zp_rbtree_node_t sentinel;
    zp_queue_t       expire_queue;
} zp_ssl_sess_cache_t;

int zp_ssl_ctx_conf_index = -1;
int zp_ssl_session_ctx_index = -1;

static int          zp_ssl_new_session(SSL *ssl, SSL_SESSION *sess);
static SSL_SESSION *zp_ssl_get_session(SSL *ssl, const unsigned char *id, int len, int *copy);
static void         zp_ssl_remove_session(SSL_CTX *ctx, SSL_SESSION *sess);
static int          zp_ssl_ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                                         EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc);


zp_int_t
zp_ssl_init(zp_log_t *log)
{
    if (zp_ssl_ctx_conf_index != -1) {
        return ZP_OK;
    }

    zp_ssl_ctx_conf_index    = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    zp_ssl_session_ctx_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);

    if (zp_ssl_ctx_conf_index == -1 || zp_ssl_session_ctx_index == -1) {
        zp_ssl_error(ZP_LOG_EMERG, log, 0, "SSL_get_ex_new_index() failed");
        zp_ssl_ctx_conf_index = -1;
        return ZP_ERROR;
    }

    return ZP_OK;
}


zp_ssl_ctx_conf_t *
zp_ssl_ctx_conf(SSL_CTX *ctx, zp_pool_t *pool)
{
    zp_ssl_ctx_conf_t *cc = SSL_CTX_get_ex_data(ctx, zp_ssl_ctx_conf_index);

    if (cc || pool == NULL) {
        return cc;
    }

    cc = zp_pcalloc(pool, sizeof(zp_ssl_ctx_conf_t));
    if (cc == NULL || SSL_CTX_set_ex_data(ctx, zp_ssl_ctx_conf_index, cc) != 1) {
        return NULL;
    }

    return cc;
}


/* The configuration of the SSL_CTX the connection started with: OpenSSL
 * runs that one's session callbacks. */
static zp_ssl_ctx_conf_t *
zp_ssl_session_conf(SSL *ssl)
{
    SSL_CTX *ctx = SSL_get_ex_data(ssl, zp_ssl_session_ctx_index);

    if (ctx == NULL) {
        ctx = SSL_get_SSL_CTX(ssl);
    }
    return SSL_CTX_get_ex_data(ctx, zp_ssl_ctx_conf_index);
}


/* ---- the shared session cache ----------------------------------------------------- */

static void
zp_ssl_sess_insert(zp_rbtree_node_t *temp, zp_rbtree_node_t *node, zp_rbtree_node_t *sentinel)
{
    int                 rc;
    zp_rbtree_node_t  **p;
    zp_ssl_sess_node_t *n, *t;

    n = (zp_ssl_sess_node_t *) node;

    for (;;) {
        if (node->key < temp->key) {
            p = &temp->left;
        } else if (node->key > temp->key) {
            p = &temp->right;
        } else {
            t  = (zp_ssl_sess_node_t *) temp;
            rc = memcmp(n->id, t->id, zp_min(n->id_len, t->id_len));
            if (rc == 0) {
                rc = (int) n->id_len - (int) t->id_len;
            }
            p = rc < 0 ? &temp->left : &temp->right;
        }

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


static zp_rbtree_key_t
zp_ssl_sess_key(const u_char *id, size_t len)
{
    zp_rbtree_key_t key = 0;

    /* ids are random bytes made by OpenSSL: their head is a fine key */
    zp_memcpy(&key, id, zp_min(len, sizeof(key)));
    return key;
}


zp_int_t
zp_ssl_session_cache_init(zp_shm_zone_t *zone, void *data)
{
    zp_slab_pool_t      *sp;
    zp_ssl_sess_cache_t *cache;

    if (data) {
        /* the zone of the last cycle, same name and size: keep its sessions */
        zone->data = data;
        return ZP_OK;
    }

    sp = (zp_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = sp->data;
        return ZP_OK;
    }

    cache = zp_slab_alloc(sp, sizeof(zp_ssl_sess_cache_t));
    if (cache == NULL) {
        return ZP_ERROR;
    }

    zp_rbtree_init(&cache->rbtree, &cache->sentinel, zp_ssl_sess_insert);
    zp_queue_init(&cache->expire_queue);

    sp->data   = cache;
    zone->data = cache;

    /* a full cache is its normal state: the oldest sessions make room,
     * so the slab's "no memory" would only be noise */
    sp->log_nomem = 0;

    /* "in SSL session cache "name"", for the slab's "no memory" line */
    sp->log_ctx = zp_slab_alloc(sp, zone->shm.name.len + sizeof(" in SSL session cache \"\""));
    if (sp->log_ctx) {
        zp_sprintf(sp->log_ctx, " in SSL session cache \"%V\"%Z", &zone->shm.name);
    }

    return ZP_OK;
}


static void
zp_ssl_sess_delete(zp_slab_pool_t *sp, zp_ssl_sess_cache_t *cache, zp_ssl_sess_node_t *sn)
{
    zp_queue_remove(&sn->queue);
    zp_rbtree_delete(&cache->rbtree, &sn->node);
    zp_slab_free_locked(sp, sn->der);
    zp_slab_free_locked(sp, sn);
}


/* Drops expired sessions, at most n of them, and when force is set the
 * oldest one even if it is still valid (to make room). */
static void
zp_ssl_sess_expire(zp_slab_pool_t *sp, zp_ssl_sess_cache_t *cache, zp_uint_t n, zp_uint_t force)
{
    time_t              now = time(NULL);
    zp_queue_t         *q;
    zp_ssl_sess_node_t *sn;

    while (n-- && !zp_queue_empty(&cache->expire_queue)) {
        q  = zp_queue_head(&cache->expire_queue);
        sn = (zp_ssl_sess_node_t *) ((u_char *) q - offsetof(zp_ssl_sess_node_t, queue));

        if (!force && sn->expire > now) {
            return;
        }
        force = 0;

        zp_ssl_sess_delete(sp, cache, sn);
    }
}


static zp_ssl_sess_node_t *
zp_ssl_sess_lookup(zp_ssl_sess_cache_t *cache, const u_char *id, size_t len)
{
    int                 rc;
    zp_rbtree_key_t     key  = zp_ssl_sess_key(id, len);
    zp_rbtree_node_t   *node = cache->rbtree.root, *sentinel = cache->rbtree.sentinel;
    zp_ssl_sess_node_t *sn;

    while (node != sentinel) {
        if (key != node->key) {
            node = key < node->key ? node->left : node->right;
            continue;
        }

        sn = (zp_ssl_sess_node_t *) node;
        rc = memcmp(id, sn->id, zp_min(len, sn->id_len));
        if (rc == 0) {
            rc = (int) len - (int) sn->id_len;
        }
        if (rc == 0) {
            return sn;
        }
        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


static void *
zp_ssl_sess_alloc(zp_slab_pool_t *sp, zp_ssl_sess_cache_t *cache, size_t size)
{
    void     *p;
    zp_uint_t i;

    /* a full zone: the oldest sessions make room, a few at most, so that
     * one store never walks the whole cache under the lock */
    for (i = 0; i < 4; i++) {
        p = zp_slab_alloc_locked(sp, size);
        if (p) {
            return p;
        }
        if (zp_queue_empty(&cache->expire_queue)) {
            return NULL;
        }
        zp_ssl_sess_expire(sp, cache, 1, 1);
    }

    return zp_slab_alloc_locked(sp, size);
}


/* OpenSSL made a session (a full handshake): store it for any worker. */
static int
zp_ssl_new_session(SSL *ssl, SSL_SESSION *sess)
{
    int                  n;
    u_char               buf[ZP_SSL_MAX_SESSION_SIZE], *p;
    size_t               len;
    unsigned int         id_len;
    const u_char        *id;
    zp_slab_pool_t      *sp;
    zp_connection_t     *c;
    zp_ssl_ctx_conf_t   *cc;
    zp_ssl_sess_cache_t *cache;
    zp_ssl_sess_node_t  *sn;

    cc = zp_ssl_session_conf(ssl);
    if (cc == NULL || cc->cache == NULL) {
        return 0;
    }

    /* TLS 1.3 with stateless tickets: the ticket carries the session, so
     * OpenSSL's call is only a notice; nothing to store */
    if (SSL_version(ssl) == TLS1_3_VERSION && !(SSL_get_options(ssl) & SSL_OP_NO_TICKET)) {
        return 0;
    }

    n = i2d_SSL_SESSION(sess, NULL);
    if (n <= 0 || n > ZP_SSL_MAX_SESSION_SIZE) {
        return 0;
    }
    p = buf;
    (void) i2d_SSL_SESSION(sess, &p);
    len = (size_t) n;

    id = SSL_SESSION_get_id(sess, &id_len);
    if (id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return 0;
    }

    c     = zp_ssl_get_connection(ssl);
    sp    = (zp_slab_pool_t *) cc->cache->shm.addr;
    cache = cc->cache->data;

    zp_shmtx_lock(&sp->mutex);

    /* two expired sessions go for each one stored: the queue stays short */
    zp_ssl_sess_expire(sp, cache, 2, 0);

    sn = zp_ssl_sess_lookup(cache, id, id_len);
    if (sn) {
        zp_ssl_sess_delete(sp, cache, sn);
    }

    sn = zp_ssl_sess_alloc(sp, cache, sizeof(zp_ssl_sess_node_t));
    if (sn == NULL) {
        goto failed;
    }

    sn->der = zp_ssl_sess_alloc(sp, cache, len);
    if (sn->der == NULL) {
        zp_slab_free_locked(sp, sn);
        goto failed;
    }

    zp_memcpy(sn->der, buf, len);
    zp_memcpy(sn->id, id, id_len);
    sn->id_len   = (u_char) id_len;
    sn->len      = len;
    sn->expire   = time(NULL) + (time_t) SSL_SESSION_get_timeout(sess);
    sn->node.key = zp_ssl_sess_key(id, id_len);

    zp_rbtree_insert(&cache->rbtree, &sn->node);
    zp_queue_insert_tail(&cache->expire_queue, &sn->queue);

    zp_shmtx_unlock(&sp->mutex);
    return 0;

failed:
    zp_shmtx_unlock(&sp->mutex);
    if (c) {
        zp_log_error(ZP_LOG_ALERT, c->log, 0, "could not allocate new session in SSL session "
                     "cache \"%V\"", &cc->cache->shm.name);
    }
    return 0;
}


/* A client offers a session id (or a TLS 1.3 stateful ticket, which is
 * an id too): a session of any worker resumes here. */
static SSL_SESSION *
zp_ssl_get_session(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    u_char               buf[ZP_SSL_MAX_SESSION_SIZE];
    size_t               n = 0;
    const u_char        *p;
    SSL_SESSION         *sess;
    zp_slab_pool_t      *sp;
    zp_ssl_ctx_conf_t   *cc;
    zp_ssl_sess_cache_t *cache;
    zp_ssl_sess_node_t  *sn;

    *copy = 0;

    cc = zp_ssl_session_conf(ssl);
    if (cc == NULL || cc->cache == NULL || len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return NULL;
    }

    sp    = (zp_slab_pool_t *) cc->cache->shm.addr;
    cache = cc->cache->data;

    zp_shmtx_lock(&sp->mutex);

    sn = zp_ssl_sess_lookup(cache, id, (size_t) len);
    if (sn) {
        if (sn->expire > time(NULL)) {
            n = sn->len;
            zp_memcpy(buf, sn->der, n);
        } else {
            zp_ssl_sess_delete(sp, cache, sn);
        }
    }

    zp_shmtx_unlock(&sp->mutex);

    if (n == 0) {
        return NULL;
    }

    /* decoded outside the lock; OpenSSL takes the reference */
    p    = buf;
    sess = d2i_SSL_SESSION(NULL, &p, (long) n);
    if (sess == NULL) {
        ERR_clear_error();
    }
    return sess;
}


/* OpenSSL drops a session (expired, or the handshake that used it
 * failed); a TLS 1.3 stateful ticket is also removed once used. */
static void
zp_ssl_remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    unsigned int         id_len;
    const u_char        *id;
    zp_slab_pool_t      *sp;
    zp_ssl_ctx_conf_t   *cc;
    zp_ssl_sess_node_t  *sn;

    cc = SSL_CTX_get_ex_data(ctx, zp_ssl_ctx_conf_index);
    if (cc == NULL || cc->cache == NULL) {
        return;
    }

    id = SSL_SESSION_get_id(sess, &id_len);
    if (id_len == 0 || id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return;
    }

    sp = (zp_slab_pool_t *) cc->cache->shm.addr;

    zp_shmtx_lock(&sp->mutex);

    sn = zp_ssl_sess_lookup(cc->cache->data, id, id_len);
    if (sn) {
        zp_ssl_sess_delete(sp, cc->cache->data, sn);
    }

    zp_shmtx_unlock(&sp->mutex);
}


zp_int_t
zp_ssl_session_cache(SSL_CTX *ctx, zp_shm_zone_t *zone, time_t timeout, zp_pool_t *pool)
{
    zp_ssl_ctx_conf_t *cc = zp_ssl_ctx_conf(ctx, pool);

    if (cc == NULL) {
        return ZP_ERROR;
    }

    SSL_CTX_set_timeout(ctx, (long) timeout);

    if (zone == NULL) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        return ZP_OK;
    }

    cc->cache = zone;

    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, zp_ssl_new_session);
    SSL_CTX_sess_set_get_cb(ctx, zp_ssl_get_session);
    SSL_CTX_sess_set_remove_cb(ctx, zp_ssl_remove_session);

    return ZP_OK;
}


/* ---- session tickets --------------------------------------------------------------- */

zp_int_t
zp_ssl_ticket_key_set(zp_ssl_ticket_key_t *key, const u_char *buf, size_t size)
{
    if (size == 48) {
        /* 16 name, 16 HMAC, 16 AES-128 */
        zp_memcpy(key->name, buf, 16);
        zp_memcpy(key->hmac_key, buf + 16, 16);
        zp_memcpy(key->aes_key, buf + 32, 16);
    } else if (size == 80) {
        /* 16 name, 32 HMAC, 32 AES-256 */
        zp_memcpy(key->name, buf, 16);
        zp_memcpy(key->hmac_key, buf + 16, 32);
        zp_memcpy(key->aes_key, buf + 48, 32);
    } else {
        return ZP_ERROR;
    }

    key->size = size;
    return ZP_OK;
}


zp_int_t
zp_ssl_ticket_key_random(zp_ssl_ticket_key_t *key)
{
    u_char buf[80];

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return ZP_ERROR;
    }
    return zp_ssl_ticket_key_set(key, buf, sizeof(buf));
}


static int
zp_ssl_ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    size_t               ks;
    zp_uint_t            i;
    OSSL_PARAM           params[3];
    const EVP_CIPHER    *cipher;
    zp_ssl_ctx_conf_t   *cc;
    zp_ssl_ticket_key_t *key;

    cc = zp_ssl_session_conf(ssl);
    if (cc == NULL || cc->ticket_keys == NULL || cc->ticket_keys->nelts == 0) {
        return enc ? -1 : 0;
    }

    key = cc->ticket_keys->elts;

    if (enc) {
        i = 0;
        if (RAND_bytes(iv, 16) != 1) {
            return -1;
        }
        zp_memcpy(name, key[0].name, 16);

    } else {
        for (i = 0; i < cc->ticket_keys->nelts; i++) {
            if (zp_memcmp(name, key[i].name, 16) == 0) {
                break;
            }
        }
        if (i == cc->ticket_keys->nelts) {
            /* an unknown (too old, or another server's) key: a full
             * handshake and a new ticket */
            return 0;
        }
    }

    ks     = key[i].size == 48 ? 16 : 32;
    cipher = ks == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key[i].hmac_key, ks);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(hctx, params) != 1) {
        return -1;
    }

    if (enc) {
        if (EVP_EncryptInit_ex(ectx, cipher, NULL, key[i].aes_key, iv) != 1) {
            return -1;
        }
        return 1;
    }

    if (EVP_DecryptInit_ex(ectx, cipher, NULL, key[i].aes_key, iv) != 1) {
        return -1;
    }

    /* an older key still decrypts, and the client gets a fresh ticket */
    return i == 0 ? 1 : 2;
}


zp_int_t
zp_ssl_session_tickets(SSL_CTX *ctx, zp_array_t *keys, zp_pool_t *pool)
{
    zp_ssl_ctx_conf_t *cc = zp_ssl_ctx_conf(ctx, pool);

    if (cc == NULL) {
        return ZP_ERROR;
    }

    if (keys == NULL || keys->nelts == 0) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        return ZP_OK;
    }

    cc->ticket_keys = keys;

    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, zp_ssl_ticket_key_cb) != 1) {
        return ZP_ERROR;
    }

    return ZP_OK;
}
