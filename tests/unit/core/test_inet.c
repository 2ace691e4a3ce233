/*
 * test_inet.c: zp_inet.c, address printing.
 */
#include "zpt_unit.h"


/* IPv4 is printed by hand: it must match inet_ntop() for every kind of
 * octet, with and without the port, and stay within len. */
START_TEST(test_sock_ntop_ipv4)
{
    size_t             n;
    u_char             text[64];
    char               want[64], addr[INET_ADDRSTRLEN];
    zp_uint_t          i;
    struct sockaddr_in sin;
    static const char *addrs[] = {"0.0.0.0",       "1.2.3.4",     "10.20.30.40",    "127.0.0.1",
                                  "100.0.9.255",   "99.100.101.9", "255.255.255.255", "192.168.0.10"};

    for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port   = htons(i == 0 ? 0 : 65535 - i);
        ck_assert_int_eq(inet_pton(AF_INET, addrs[i], &sin.sin_addr), 1);
        inet_ntop(AF_INET, &sin.sin_addr, addr, sizeof(addr));

        n = zp_sock_ntop((struct sockaddr *) &sin, sizeof(sin), text, sizeof(text), 0);
        ck_assert_int_eq((int) n, (int) strlen(addr));
        ck_assert(memcmp(text, addr, n) == 0);

        snprintf(want, sizeof(want), "%s:%u", addr, (unsigned) ntohs(sin.sin_port));
        n = zp_sock_ntop((struct sockaddr *) &sin, sizeof(sin), text, sizeof(text), 1);
        ck_assert_int_eq((int) n, (int) strlen(want));
        ck_assert(memcmp(text, want, n) == 0);

        /* a short buffer gets a prefix, never more */
        memset(text, 'Z', sizeof(text));
        n = zp_sock_ntop((struct sockaddr *) &sin, sizeof(sin), text, 5, 1);
        ck_assert_uint_eq(n, 5);
        ck_assert(memcmp(text, want, 5) == 0);
        ck_assert_int_eq(text[5], 'Z');
    }
}
END_TEST


START_TEST(test_sock_ntop_ipv6)
{
    size_t              n;
    u_char              text[64];
    struct sockaddr_in6 sin6;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port   = htons(8080);
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr), 1);

    n = zp_sock_ntop((struct sockaddr *) &sin6, sizeof(sin6), text, sizeof(text), 0);
    ck_assert(n == sizeof("2001:db8::1") - 1 && memcmp(text, "2001:db8::1", n) == 0);
    n = zp_sock_ntop((struct sockaddr *) &sin6, sizeof(sin6), text, sizeof(text), 1);
    ck_assert(n == sizeof("[2001:db8::1]:8080") - 1 && memcmp(text, "[2001:db8::1]:8080", n) == 0);
}
END_TEST


static Suite *
zpt_inet_suite(void)
{
    Suite *s;
    TCase *tc;

    s  = suite_create("zp_inet");
    tc = tcase_create("ntop");
    tcase_add_test(tc, test_sock_ntop_ipv4);
    tcase_add_test(tc, test_sock_ntop_ipv6);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_inet_suite)
