/*
 * test_event_openssl_session.c: the shared TLS session cache and the
 * ticket keys (event/zp_event_openssl_session.c), driven through the
 * callbacks OpenSSL would call: store, look up, remove, eviction of the
 * oldest sessions when the zone is full, expiry, and key file sizes.
 */
#include "zpt_unit.h"

#include <zp_event_openssl.h>

static zp_shm_zone_t zpt_zone;
static zp_pool_t    *zpt_pool;
static SSL_CTX      *zpt_ctx;
static SSL          *zpt_ssl;


static void
zpt_setup_zone(size_t size, time_t timeout)
{
    zp_pid = getpid();
    zp_time_init();
    zp_slab_sizes_init();

    ck_assert_int_eq(zp_ssl_init(zpt_log), ZP_OK);

    memset(&zpt_zone, 0, sizeof(zpt_zone));
    zpt_zone.shm.size      = size;
    zpt_zone.shm.name.len  = sizeof("SSL") - 1;
    zpt_zone.shm.name.data = (u_char *) "SSL";
    zpt_zone.shm.log       = zpt_log;

    ck_assert_int_eq(zp_shm_alloc(&zpt_zone.shm), ZP_OK);
    ck_assert_int_eq(zp_slab_init_zone(&zpt_zone, zpt_log), ZP_OK);
    ck_assert_int_eq(zp_ssl_session_cache_init(&zpt_zone, NULL), ZP_OK);

    zpt_pool = zpt_create_pool(4096);
    zpt_ctx  = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(zpt_ctx);
    ck_assert_int_eq(zp_ssl_session_cache(zpt_ctx, &zpt_zone, timeout, zpt_pool), ZP_OK);
    /* no tickets: TLS 1.3 sessions are stored too (stateful tickets) */
    ck_assert_int_eq(zp_ssl_session_tickets(zpt_ctx, NULL, zpt_pool), ZP_OK);

    zpt_ssl = SSL_new(zpt_ctx);
    ck_assert_ptr_nonnull(zpt_ssl);
}


static void
zpt_teardown_zone(void)
{
    SSL_free(zpt_ssl);
    SSL_CTX_free(zpt_ctx);
    zp_destroy_pool(zpt_pool);
    zp_shm_free(&zpt_zone.shm);
}


static SSL_SESSION *
zpt_session(unsigned n, long timeout)
{
    u_char       id[32];
    SSL_SESSION *s = SSL_SESSION_new();

    ck_assert_ptr_nonnull(s);
    memset(id, 0xa5, sizeof(id));
    /* the same first 8 bytes for every id: the tree must compare the
     * whole id when the keys are equal */
    memcpy(id + 28, &n, sizeof(n));
    ck_assert_int_eq(SSL_SESSION_set1_id(s, id, sizeof(id)), 1);
    ck_assert_int_eq(SSL_SESSION_set_protocol_version(s, TLS1_2_VERSION), 1);
    /* what i2d_SSL_SESSION() needs of a session */
    ck_assert_int_eq(SSL_SESSION_set_cipher(s, sk_SSL_CIPHER_value(SSL_get_ciphers(zpt_ssl), 0)),
                     1);
    ck_assert_int_eq(SSL_SESSION_set1_master_key(s, id, sizeof(id)), 1);
    SSL_SESSION_set_timeout(s, timeout);
    SSL_SESSION_set_time(s, time(NULL));
    return s;
}


static void
zpt_store(unsigned n, long timeout)
{
    SSL_SESSION *s = zpt_session(n, timeout);

    /* the callback keeps no reference: it returns 0 */
    ck_assert_int_eq(SSL_CTX_sess_get_new_cb(zpt_ctx)(zpt_ssl, s), 0);
    SSL_SESSION_free(s);
}


/* 1 when session n is in the cache (and decodes to the same id). */
static int
zpt_cached(unsigned n)
{
    int           copy = 1, found;
    u_char        id[32];
    unsigned int  len;
    const u_char *got;
    SSL_SESSION  *s;

    memset(id, 0xa5, sizeof(id));
    memcpy(id + 28, &n, sizeof(n));

    s = SSL_CTX_sess_get_get_cb(zpt_ctx)(zpt_ssl, id, sizeof(id), &copy);
    ck_assert_int_eq(copy, 0);
    if (s == NULL) {
        return 0;
    }

    got   = SSL_SESSION_get_id(s, &len);
    found = len == sizeof(id) && memcmp(got, id, len) == 0;
    SSL_SESSION_free(s);
    ck_assert_msg(found, "session %u came back with another id", n);
    return 1;
}


START_TEST(test_store_lookup_remove)
{
    unsigned     i;
    SSL_SESSION *s;

    zpt_setup_zone(1024 * 1024, 300);

    for (i = 0; i < 100; i++) {
        zpt_store(i, 300);
    }
    for (i = 0; i < 100; i++) {
        ck_assert_msg(zpt_cached(i), "session %u", i);
    }
    ck_assert(!zpt_cached(100));

    /* storing the same id again replaces it */
    zpt_store(7, 300);
    ck_assert(zpt_cached(7));

    s = zpt_session(42, 300);
    SSL_CTX_sess_get_remove_cb(zpt_ctx)(zpt_ctx, s);
    SSL_SESSION_free(s);
    ck_assert(!zpt_cached(42));
    ck_assert(zpt_cached(41) && zpt_cached(43));

    /* removing one that is not there is harmless */
    s = zpt_session(4242, 300);
    SSL_CTX_sess_get_remove_cb(zpt_ctx)(zpt_ctx, s);
    SSL_SESSION_free(s);

    zpt_teardown_zone();
}
END_TEST


START_TEST(test_full_zone_evicts_oldest)
{
    unsigned i, kept;

    zpt_setup_zone(64 * 1024, 300);

    for (i = 0; i < 3000; i++) {
        zpt_store(i, 300);
    }

    /* the newest are there, the oldest made room */
    for (i = 2990; i < 3000; i++) {
        ck_assert_msg(zpt_cached(i), "session %u", i);
    }
    ck_assert(!zpt_cached(0));

    kept = 0;
    for (i = 0; i < 3000; i++) {
        kept += zpt_cached(i);
    }
    ck_assert_msg(kept > 50 && kept < 3000, "%u sessions kept", kept);

    zpt_teardown_zone();
}
END_TEST


START_TEST(test_expired_not_returned)
{
    zpt_setup_zone(1024 * 1024, 300);

    /* a timeout of 0 means expired at once */
    zpt_store(1, 0);
    zpt_store(2, 300);
    ck_assert(!zpt_cached(1));
    ck_assert(zpt_cached(2));

    zpt_teardown_zone();
}
END_TEST


START_TEST(test_ticket_key_sizes)
{
    u_char              buf[80];
    zp_ssl_ticket_key_t k, r1, r2;
    size_t              i;

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (u_char) i;
    }

    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 80), ZP_OK);
    ck_assert_uint_eq(k.size, 80);
    ck_assert_int_eq(memcmp(k.name, buf, 16), 0);
    ck_assert_int_eq(memcmp(k.hmac_key, buf + 16, 32), 0);
    ck_assert_int_eq(memcmp(k.aes_key, buf + 48, 32), 0);

    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 48), ZP_OK);
    ck_assert_uint_eq(k.size, 48);
    ck_assert_int_eq(memcmp(k.hmac_key, buf + 16, 16), 0);
    ck_assert_int_eq(memcmp(k.aes_key, buf + 32, 16), 0);

    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 0), ZP_ERROR);
    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 47), ZP_ERROR);
    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 64), ZP_ERROR);
    ck_assert_int_eq(zp_ssl_ticket_key_set(&k, buf, 79), ZP_ERROR);

    ck_assert_int_eq(zp_ssl_ticket_key_random(&r1), ZP_OK);
    ck_assert_int_eq(zp_ssl_ticket_key_random(&r2), ZP_OK);
    ck_assert_uint_eq(r1.size, 80);
    ck_assert_int_ne(memcmp(r1.name, r2.name, 16), 0);
}
END_TEST


static Suite *
zpt_event_openssl_session_suite(void)
{
    Suite *s = suite_create("event_openssl_session");
    TCase *tc;

    tc = tcase_create("cache");
    tcase_add_test(tc, test_store_lookup_remove);
    tcase_add_test(tc, test_full_zone_evicts_oldest);
    tcase_add_test(tc, test_expired_not_returned);
    suite_add_tcase(s, tc);

    tc = tcase_create("tickets");
    tcase_add_test(tc, test_ticket_key_sizes);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_event_openssl_session_suite)
