/*
 * zp_inet.h: socket addresses: parsing "host:port" as the listen
 * directive writes it, and printing them back.
 */
#ifndef ZP_INET_H
#define ZP_INET_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_SOCKADDR_STRLEN (sizeof("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") - 1)

typedef union {
    struct sockaddr         sa;
    struct sockaddr_in      sin;
    struct sockaddr_in6     sin6;
    struct sockaddr_storage ss;
} zp_sockaddr_t;

/* Parses "127.0.0.1:80", "[::1]:80", "*:80", "80" or "localhost:80"
 * (numeric forms only: names are not resolved at config time).
 * default_port is used when none is given; returns ZP_OK or ZP_ERROR with
 * *err set to a static message. */
zp_int_t zp_parse_addr_port(zp_str_t *text, zp_int_t default_port, zp_sockaddr_t *sa,
                            socklen_t *socklen, const char **err);

/* Writes "addr:port" (IPv6 in brackets); returns the length written. */
size_t zp_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text, size_t len,
                    zp_uint_t port);

zp_int_t zp_cmp_sockaddr(struct sockaddr *sa1, socklen_t slen1, struct sockaddr *sa2,
                         socklen_t slen2);

#endif /* ZP_INET_H */
