/*
 * test_event_timer.c: zp_event_timer.{h,c}, the timer tree.
 *
 * zp_current_msec is set by hand to simulate time, also around the point
 * where the 64-bit millisecond counter wraps.
 */
#include "zpt_unit.h"

#define ZPT_TIMERS 1000

typedef struct {
    zp_event_t ev;
    zp_uint_t  id;
    zp_uint_t  fired;    /* times its handler ran */
    zp_msec_t  delay;    /* what the re-adding handler adds */
} zpt_timer_t;

static zpt_timer_t  zpt_timers[ZPT_TIMERS];
static zpt_timer_t *zpt_fired[ZPT_TIMERS * 2]; /* in the order the handlers ran */
static zp_uint_t    zpt_nfired;
static const char  *zpt_handler_err;          /* a handler saw a bad event */

static uint64_t zpt_rand_state = 0x2545f4914f6cdd1dULL;


/* xorshift64: fixed seed, so a failure reproduces */
static uint64_t
zpt_rand(void)
{
    zpt_rand_state ^= zpt_rand_state << 13;
    zpt_rand_state ^= zpt_rand_state >> 7;
    zpt_rand_state ^= zpt_rand_state << 17;
    return zpt_rand_state;
}


/* Records the call; no ck_assert here, it would run a thousand times. */
static void
zpt_record(zp_event_t *ev)
{
    zpt_timer_t *t = ev->data;

    if (!ev->timedout) {
        zpt_handler_err = "timedout not set";
    }
    if (ev->timer_set) {
        zpt_handler_err = "timer_set still set";
    }
    if (zpt_nfired == zp_nelems(zpt_fired)) {
        zpt_handler_err = "too many calls";
        return;
    }

    /* not ev->timer.key: the tree clears it on delete */
    t->fired++;
    zpt_fired[zpt_nfired++] = t;
}


/* Re-arms itself t->delay ms from now, as a keepalive or a retry does. */
static void
zpt_readd(zp_event_t *ev)
{
    zpt_timer_t *t = ev->data;

    zpt_record(ev);

    if (t->fired < 100) {
        ev->timedout = 0;
        zp_event_add_timer(ev, t->delay);
    }
}


static void
zpt_setup(void)
{
    zp_uint_t i;

    zp_time_init();
    ck_assert_int_eq(zp_event_timer_init(zpt_log), ZP_OK);

    zp_memzero(zpt_timers, sizeof(zpt_timers));
    for (i = 0; i < ZPT_TIMERS; i++) {
        zpt_timers[i].id         = i;
        zpt_timers[i].ev.data    = &zpt_timers[i];
        zpt_timers[i].ev.handler = zpt_record;
        zpt_timers[i].ev.log     = zpt_log;
    }

    zpt_nfired      = 0;
    zpt_handler_err = NULL;
}


static zp_uint_t
zpt_tree_size(void)
{
    zp_uint_t         n = 0;
    zp_rbtree_node_t *node;

    if (zp_rbtree_empty(&zp_event_timer_rbtree)) {
        return 0;
    }

    for (node = zp_rbtree_min(zp_event_timer_rbtree.root, zp_event_timer_rbtree.sentinel);
         node; node = zp_rbtree_next(&zp_event_timer_rbtree, node)) {
        n++;
    }

    return n;
}


/*
 * 1000 timers with random delays from base (many equal), expired in three
 * steps: each step fires exactly the due timers, in key order, equal keys
 * in the order they were added.
 */
static void
zpt_random_order(zp_msec_t base)
{
    zp_uint_t i, j, due, step;
    zp_msec_t min, now, steps[3] = {20000, 50001, 100000};

    zp_current_msec = base;
    min             = ZP_TIMER_INFINITE;

    for (i = 0; i < ZPT_TIMERS; i++) {
        zpt_timers[i].delay = 1 + zpt_rand() % 100000;
        if (i % 10 == 0) {
            zpt_timers[i].delay = 50000; /* a run of equal keys */
        }
        min = zp_min(min, zpt_timers[i].delay);
        zp_event_add_timer(&zpt_timers[i].ev, zpt_timers[i].delay);
        ck_assert_uint_eq(zpt_timers[i].ev.timer_set, 1);
    }

    ck_assert_uint_eq(zpt_tree_size(), ZPT_TIMERS);
    ck_assert_uint_eq(zp_event_find_timer(), min);

    /* nothing is due yet */
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 0);

    for (step = 0; step < 3; step++) {
        zp_uint_t before = zpt_nfired;

        now             = base + steps[step];
        zp_current_msec = now;
        zp_event_expire_timers();

        ck_assert_msg(zpt_handler_err == NULL, "%s", zpt_handler_err);

        for (i = 0, due = 0; i < ZPT_TIMERS; i++) {
            if (zpt_timers[i].delay <= steps[step]) {
                due++;
                ck_assert_uint_eq(zpt_timers[i].fired, 1);
                ck_assert_uint_eq(zpt_timers[i].ev.timer_set, 0);
            } else {
                ck_assert_uint_eq(zpt_timers[i].fired, 0);
                ck_assert_uint_eq(zpt_timers[i].ev.timer_set, 1);
            }
        }
        ck_assert_uint_eq(zpt_nfired, due);
        ck_assert_uint_eq(zpt_tree_size(), ZPT_TIMERS - due);

        /* in key order; the delay orders keys also across the wrap */
        for (j = before + 1; j < zpt_nfired; j++) {
            ck_assert_msg(zpt_fired[j]->delay >= zpt_fired[j - 1]->delay,
                          "call %lu: delay %lu after %lu", (unsigned long) j,
                          (unsigned long) zpt_fired[j]->delay,
                          (unsigned long) zpt_fired[j - 1]->delay);
            if (zpt_fired[j]->delay == zpt_fired[j - 1]->delay) {
                ck_assert_uint_gt(zpt_fired[j]->id, zpt_fired[j - 1]->id);
            }
        }
        if (before > 0 && zpt_nfired > before) {
            ck_assert_uint_gt(zpt_fired[before]->delay, zpt_fired[before - 1]->delay);
        }

        if (zpt_nfired < ZPT_TIMERS) {
            /* the next timer is the smallest delay left */
            for (i = 0, min = ZP_TIMER_INFINITE; i < ZPT_TIMERS; i++) {
                if (zpt_timers[i].ev.timer_set) {
                    min = zp_min(min, zpt_timers[i].delay);
                }
            }
            ck_assert_uint_eq(zp_event_find_timer(), min - steps[step]);
        }
    }

    ck_assert_uint_eq(zpt_nfired, ZPT_TIMERS);
    ck_assert(zp_rbtree_empty(&zp_event_timer_rbtree));
    ck_assert_uint_eq(zp_event_find_timer(), ZP_TIMER_INFINITE);
}


START_TEST(test_expire_order)
{
    zpt_random_order(1000000);
}
END_TEST


START_TEST(test_expire_order_wrap)
{
    /* the first step is before the wrap, the others after it */
    zpt_random_order(UINT64_MAX - 30000);
}
END_TEST


START_TEST(test_expire_order_at_zero)
{
    zpt_random_order(0);
}
END_TEST


START_TEST(test_find_timer)
{
    zp_event_t *a = &zpt_timers[0].ev, *b = &zpt_timers[1].ev;

    zp_current_msec = 5000;
    ck_assert_uint_eq(zp_event_find_timer(), ZP_TIMER_INFINITE);

    zp_event_add_timer(a, 500);
    ck_assert_uint_eq(a->timer.key, 5500);
    ck_assert_uint_eq(zp_event_find_timer(), 500);

    zp_event_add_timer(b, 200);
    ck_assert_uint_eq(zp_event_find_timer(), 200);

    zp_current_msec = 5150;
    ck_assert_uint_eq(zp_event_find_timer(), 50);

    /* due now, and overdue (by a little, by a lot) */
    zp_current_msec = 5200;
    ck_assert_uint_eq(zp_event_find_timer(), 0);
    zp_current_msec = 5201;
    ck_assert_uint_eq(zp_event_find_timer(), 0);
    zp_current_msec = 5000000;
    ck_assert_uint_eq(zp_event_find_timer(), 0);

    /* find does not expire anything */
    ck_assert_uint_eq(zpt_nfired, 0);
    ck_assert_uint_eq(zpt_tree_size(), 2);

    zp_current_msec = 5000;
    zp_event_del_timer(b);
    ck_assert_uint_eq(zp_event_find_timer(), 500);
    zp_event_del_timer(a);
    ck_assert_uint_eq(zp_event_find_timer(), ZP_TIMER_INFINITE);

    /* a timer of 0 is due at once */
    zp_event_add_timer(a, 0);
    ck_assert_uint_eq(zp_event_find_timer(), 0);
}
END_TEST


START_TEST(test_find_timer_wrap)
{
    zp_event_t *a = &zpt_timers[0].ev, *b = &zpt_timers[1].ev;

    zp_current_msec = UINT64_MAX - 99;
    zp_event_add_timer(a, 300); /* key 200, past the wrap */
    zp_event_add_timer(b, 50);  /* key UINT64_MAX - 49 */
    ck_assert_uint_eq(a->timer.key, 200);
    ck_assert_uint_eq(zp_event_find_timer(), 50);

    zp_event_del_timer(b);
    ck_assert_uint_eq(zp_event_find_timer(), 300);

    zp_current_msec = UINT64_MAX;
    ck_assert_uint_eq(zp_event_find_timer(), 201);
    zp_current_msec = 0;
    ck_assert_uint_eq(zp_event_find_timer(), 200);
    zp_current_msec = 200;
    ck_assert_uint_eq(zp_event_find_timer(), 0);

    /* a timer added just before the wrap sorts after one added after it,
     * whose key is numerically larger */
    zp_current_msec = UINT64_MAX - 10;
    zp_event_del_timer(a);
    zp_event_add_timer(a, 5);   /* UINT64_MAX - 5 */
    zp_event_add_timer(b, 100); /* 89 */
    zp_current_msec = 95;
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 2);
    ck_assert_ptr_eq(zpt_fired[0], &zpt_timers[0]);
    ck_assert_ptr_eq(zpt_fired[1], &zpt_timers[1]);
}
END_TEST


START_TEST(test_del_timer)
{
    zp_uint_t i;

    zp_current_msec = 1000;

    for (i = 0; i < 10; i++) {
        zp_event_add_timer(&zpt_timers[i].ev, 100 * (i + 1));
    }

    /* the first, one in the middle, the last */
    zp_event_del_timer(&zpt_timers[0].ev);
    zp_event_del_timer(&zpt_timers[5].ev);
    zp_event_del_timer(&zpt_timers[9].ev);
    ck_assert_uint_eq(zpt_timers[0].ev.timer_set, 0);
    ck_assert_uint_eq(zpt_timers[5].ev.timer_set, 0);
    ck_assert_uint_eq(zpt_tree_size(), 7);
    ck_assert_uint_eq(zp_event_find_timer(), 200);

    zp_current_msec = 1000000;
    zp_event_expire_timers();
    ck_assert_msg(zpt_handler_err == NULL, "%s", zpt_handler_err);
    ck_assert_uint_eq(zpt_nfired, 7);
    ck_assert_uint_eq(zpt_timers[0].fired, 0);
    ck_assert_uint_eq(zpt_timers[5].fired, 0);
    ck_assert_uint_eq(zpt_timers[9].fired, 0);
    ck_assert_ptr_eq(zpt_fired[0], &zpt_timers[1]);
    ck_assert_ptr_eq(zpt_fired[6], &zpt_timers[8]);

    /* a deleted timer can be added again */
    zp_event_add_timer(&zpt_timers[5].ev, 10);
    ck_assert_uint_eq(zp_event_find_timer(), 10);
    zp_event_del_timer(&zpt_timers[5].ev);
    ck_assert_uint_eq(zp_event_find_timer(), ZP_TIMER_INFINITE);

    /* random deletes among 1000 leave exactly the others */
    zp_current_msec = 0;
    zpt_nfired      = 0;
    for (i = 0; i < ZPT_TIMERS; i++) {
        zpt_timers[i].fired       = 0;
        zpt_timers[i].ev.timedout = 0;
        zpt_timers[i].delay = 1 + zpt_rand() % 5000;
        zp_event_add_timer(&zpt_timers[i].ev, zpt_timers[i].delay);
    }
    for (i = 0; i < ZPT_TIMERS; i++) {
        if (zpt_rand() % 3 == 0) {
            zp_event_del_timer(&zpt_timers[i].ev);
        }
    }
    zp_current_msec = 5000;
    zp_event_expire_timers();
    for (i = 0; i < ZPT_TIMERS; i++) {
        ck_assert_uint_eq(zpt_timers[i].fired, zpt_timers[i].ev.timedout);
    }
    ck_assert(zp_rbtree_empty(&zp_event_timer_rbtree));
}
END_TEST


START_TEST(test_lazy_readd)
{
    zp_event_t *ev = &zpt_timers[0].ev;

    zp_current_msec = 10000;
    zp_event_add_timer(ev, 1000);
    ck_assert_uint_eq(ev->timer.key, 11000);

    /* within ZP_TIMER_LAZY_DELAY of the key, later or earlier: kept */
    zp_current_msec = 10100;
    zp_event_add_timer(ev, 1000);
    ck_assert_uint_eq(ev->timer.key, 11000);
    zp_current_msec = 10000 + ZP_TIMER_LAZY_DELAY - 1;
    zp_event_add_timer(ev, 1000);
    ck_assert_uint_eq(ev->timer.key, 11000);
    zp_current_msec = 10000;
    zp_event_add_timer(ev, 1000 - ZP_TIMER_LAZY_DELAY + 1);
    ck_assert_uint_eq(ev->timer.key, 11000);
    ck_assert_uint_eq(zpt_tree_size(), 1);

    /* ZP_TIMER_LAZY_DELAY or more away: moved */
    zp_current_msec = 10000 + ZP_TIMER_LAZY_DELAY;
    zp_event_add_timer(ev, 1000);
    ck_assert_uint_eq(ev->timer.key, 11000 + ZP_TIMER_LAZY_DELAY);
    zp_current_msec = 10000;
    zp_event_add_timer(ev, 1000);
    ck_assert_uint_eq(ev->timer.key, 11000);
    zp_event_add_timer(ev, 5000);
    ck_assert_uint_eq(ev->timer.key, 15000);
    zp_event_add_timer(ev, 10);
    ck_assert_uint_eq(ev->timer.key, 10010);
    ck_assert_uint_eq(ev->timer_set, 1);

    /* still one node, which fires once */
    ck_assert_uint_eq(zpt_tree_size(), 1);
    ck_assert_uint_eq(zp_event_find_timer(), 10);
    zp_current_msec = 20000;
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 1);
    ck_assert_uint_eq(zpt_timers[0].fired, 1);

    /* after it fired it is not set, so a re-add is never lazy */
    zp_event_add_timer(ev, 1);
    ck_assert_uint_eq(ev->timer.key, 20001);
}
END_TEST


START_TEST(test_lazy_readd_wrap)
{
    zp_event_t *ev = &zpt_timers[0].ev;

    zp_current_msec = UINT64_MAX - 1000;
    zp_event_add_timer(ev, 990); /* key UINT64_MAX - 10 */

    /* the new key 89 is 100 ms after the old one, across the wrap */
    zp_current_msec = UINT64_MAX - 900;
    zp_event_add_timer(ev, 990);
    ck_assert_uint_eq(ev->timer.key, UINT64_MAX - 10);

    /* and 389 is 400 ms after */
    zp_current_msec = UINT64_MAX - 600;
    zp_event_add_timer(ev, 990);
    ck_assert_uint_eq(ev->timer.key, 389);
    ck_assert_uint_eq(zpt_tree_size(), 1);
    ck_assert_uint_eq(zp_event_find_timer(), 990);
}
END_TEST


START_TEST(test_cancelable)
{
    zp_uint_t i;

    ck_assert_int_eq(zp_event_no_timers_left(), ZP_OK);

    zp_current_msec = 100;

    /* only cancelable ones */
    for (i = 0; i < 50; i++) {
        zpt_timers[i].ev.cancelable = 1;
        zp_event_add_timer(&zpt_timers[i].ev, 1000 + i * 10);
    }
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_OK);

    /* one that is not, first, last or in the middle of the order */
    zp_event_add_timer(&zpt_timers[50].ev, 1);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_AGAIN);
    zp_event_del_timer(&zpt_timers[50].ev);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_OK);

    zp_event_add_timer(&zpt_timers[50].ev, 100000);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_AGAIN);
    zp_event_del_timer(&zpt_timers[50].ev);

    zp_event_add_timer(&zpt_timers[50].ev, 1255);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_AGAIN);

    /* it fires, and only cancelable ones are left */
    zp_current_msec = 100 + 1255;
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_timers[50].fired, 1);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_OK);

    /* the rest do not count as left, but still fire */
    zp_current_msec = 100000;
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 51);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_OK);

    /* a single non-cancelable timer */
    zp_event_add_timer(&zpt_timers[60].ev, 5);
    ck_assert_int_eq(zp_event_no_timers_left(), ZP_AGAIN);
}
END_TEST


START_TEST(test_handler_readds_itself)
{
    zpt_timer_t *t = &zpt_timers[0], *u = &zpt_timers[1];

    zp_current_msec = 1000;

    t->ev.handler = zpt_readd;
    t->delay      = 1000;
    zp_event_add_timer(&t->ev, 500);

    /* one call per expire, though the handler puts it back every time */
    zp_current_msec = 1500;
    zp_event_expire_timers();
    ck_assert_msg(zpt_handler_err == NULL, "%s", zpt_handler_err);
    ck_assert_uint_eq(t->fired, 1);
    ck_assert_uint_eq(t->ev.timer_set, 1);
    ck_assert_uint_eq(t->ev.timer.key, 2500);
    ck_assert_uint_eq(zp_event_find_timer(), 1000);

    /* late: the new key is from the late now, still in the future */
    zp_current_msec = 4000;
    zp_event_expire_timers();
    ck_assert_uint_eq(t->fired, 2);
    ck_assert_uint_eq(t->ev.timer.key, 5000);

    /* a short delay, with another timer due in the same call */
    t->delay = 1;
    u->delay = 0;
    zp_event_add_timer(&u->ev, 0);
    zp_current_msec = 5000;
    zp_event_expire_timers();
    ck_assert_uint_eq(t->fired, 3);
    ck_assert_uint_eq(u->fired, 1);
    ck_assert_uint_eq(t->ev.timer.key, 5001);
    ck_assert_uint_eq(zpt_tree_size(), 1);

    /* across the wrap */
    zp_current_msec = UINT64_MAX - 1;
    zp_event_del_timer(&t->ev);
    t->delay = 10;
    zp_event_add_timer(&t->ev, 1);
    zp_current_msec = UINT64_MAX;
    zp_event_expire_timers();
    ck_assert_uint_eq(t->fired, 4);
    ck_assert_uint_eq(t->ev.timer.key, 9);
    ck_assert_uint_eq(zp_event_find_timer(), 10);
}
END_TEST


START_TEST(test_expire_sets_flags)
{
    zp_event_t *ev = &zpt_timers[0].ev;

    zp_current_msec = 0;
    zp_event_add_timer(ev, 10);
    ck_assert_uint_eq(ev->timedout, 0);

    /* one ms early: nothing */
    zp_current_msec = 9;
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 0);
    ck_assert_uint_eq(ev->timer_set, 1);

    zp_current_msec = 10;
    zp_event_expire_timers();
    ck_assert_msg(zpt_handler_err == NULL, "%s", zpt_handler_err);
    ck_assert_uint_eq(zpt_nfired, 1);
    ck_assert_uint_eq(ev->timedout, 1);
    ck_assert_uint_eq(ev->timer_set, 0);

    /* an empty tree */
    zp_event_expire_timers();
    ck_assert_uint_eq(zpt_nfired, 1);
}
END_TEST


static Suite *
zpt_event_timer_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_event_timer");

    tc = tcase_create("expire");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_expire_order);
    tcase_add_test(tc, test_expire_order_wrap);
    tcase_add_test(tc, test_expire_order_at_zero);
    tcase_add_test(tc, test_expire_sets_flags);
    tcase_add_test(tc, test_handler_readds_itself);
    suite_add_tcase(s, tc);

    tc = tcase_create("find");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_find_timer);
    tcase_add_test(tc, test_find_timer_wrap);
    suite_add_tcase(s, tc);

    tc = tcase_create("add_del");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_del_timer);
    tcase_add_test(tc, test_lazy_readd);
    tcase_add_test(tc, test_lazy_readd_wrap);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancelable");
    tcase_add_checked_fixture(tc, zpt_setup, NULL);
    tcase_add_test(tc, test_cancelable);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_event_timer_suite)
