/*
 * zp_inet.c: socket address parsing and printing.
 */
#include <zp_config.h>
#include <zp_core.h>


zp_int_t
zp_parse_addr_port(zp_str_t *text, zp_int_t default_port, zp_sockaddr_t *sa,
                   socklen_t *socklen, const char **err)
{
    u_char   *p, *last, *colon, *host_end;
    u_char    host[64];
    zp_int_t  port;
    size_t    hlen;

    p    = text->data;
    last = p + text->len;
    zp_memzero(sa, sizeof(zp_sockaddr_t));

    if (text->len == 0) {
        *err = "no address";
        return ZP_ERROR;
    }

    if (*p == '[') {
        host_end = memchr(p, ']', text->len);
        if (host_end == NULL) {
            *err = "invalid IPv6 address";
            return ZP_ERROR;
        }
        hlen = host_end - p - 1;
        if (hlen == 0 || hlen >= sizeof(host)) {
            *err = "invalid IPv6 address";
            return ZP_ERROR;
        }
        zp_memcpy(host, p + 1, hlen);
        host[hlen] = '\0';

        if (host_end + 1 == last) {
            port = default_port;
        } else if (host_end[1] == ':') {
            port = zp_atoi(host_end + 2, last - host_end - 2);
        } else {
            *err = "invalid address";
            return ZP_ERROR;
        }

        if (inet_pton(AF_INET6, (char *) host, &sa->sin6.sin6_addr) != 1) {
            *err = "invalid IPv6 address";
            return ZP_ERROR;
        }
        sa->sin6.sin6_family = AF_INET6;
        *socklen             = sizeof(struct sockaddr_in6);
        goto port;
    }

    colon = memrchr(p, ':', text->len);

    if (colon == NULL) {
        /* a bare number is a port, anything else a host on the default port */
        port = zp_atoi(p, text->len);
        if (port != ZP_ERROR) {
            sa->sin.sin_family      = AF_INET;
            sa->sin.sin_addr.s_addr = INADDR_ANY;
            *socklen                = sizeof(struct sockaddr_in);
            goto port;
        }
        colon = last;
        port  = default_port;
    } else {
        port = zp_atoi(colon + 1, last - colon - 1);
    }

    hlen = colon - p;
    if (hlen >= sizeof(host)) {
        *err = "invalid host";
        return ZP_ERROR;
    }
    zp_memcpy(host, p, hlen);
    host[hlen] = '\0';

    sa->sin.sin_family = AF_INET;
    *socklen           = sizeof(struct sockaddr_in);

    if (hlen == 1 && host[0] == '*') {
        sa->sin.sin_addr.s_addr = INADDR_ANY;

    } else if (hlen == 9 && zp_strncmp(host, "localhost", 9) == 0) {
        sa->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    } else if (inet_pton(AF_INET, (char *) host, &sa->sin.sin_addr) != 1) {
        *err = "invalid host (only numeric addresses are accepted)";
        return ZP_ERROR;
    }

port:

    if (port == ZP_ERROR || port < 1 || port > 65535) {
        *err = "invalid port";
        return ZP_ERROR;
    }

    if (sa->sa.sa_family == AF_INET6) {
        sa->sin6.sin6_port = htons((in_port_t) port);
    } else {
        sa->sin.sin_port = htons((in_port_t) port);
    }

    return ZP_OK;
}


size_t
zp_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text, size_t len, zp_uint_t port)
{
    char  addr[INET6_ADDRSTRLEN];
    u_char *p;

    (void) socklen;

    switch (sa->sa_family) {
    case AF_INET6: {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
        p = port ? zp_slprintf(text, text + len, "[%s]:%d", addr, ntohs(sin6->sin6_port))
                 : zp_slprintf(text, text + len, "%s", addr);
        return p - text;
    }
    case AF_INET: {
        /* by hand: this runs per request ($remote_addr, X-Forwarded-For),
         * and inet_ntop() goes through sprintf() */
        struct sockaddr_in *sin = (struct sockaddr_in *) sa;
        u_char              buf[sizeof("255.255.255.255:65535")];
        u_char             *a   = (u_char *) &sin->sin_addr;
        zp_uint_t           i, n;

        p = buf;
        for (i = 0; i < 4; i++) {
            n = a[i];
            if (n >= 100) {
                *p++ = (u_char) ('0' + n / 100);
            }
            if (n >= 10) {
                *p++ = (u_char) ('0' + n / 10 % 10);
            }
            *p++ = (u_char) ('0' + n % 10);
            *p++ = '.';
        }
        p--;
        if (port) {
            p = zp_sprintf(p, ":%ui", (zp_uint_t) ntohs(sin->sin_port));
        }
        n = zp_min((size_t) (p - buf), len);
        zp_memcpy(text, buf, n);
        return n;
    }
    case AF_UNIX:
        p = zp_slprintf(text, text + len, "unix:");
        return p - text;
    }

    return 0;
}


zp_int_t
zp_cmp_sockaddr(struct sockaddr *sa1, socklen_t slen1, struct sockaddr *sa2, socklen_t slen2)
{
    if (sa1->sa_family != sa2->sa_family) {
        return ZP_DECLINED;
    }

    switch (sa1->sa_family) {
    case AF_INET6: {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) sa1, *b = (struct sockaddr_in6 *) sa2;
        if (a->sin6_port != b->sin6_port
            || zp_memcmp(&a->sin6_addr, &b->sin6_addr, 16) != 0) {
            return ZP_DECLINED;
        }
        return ZP_OK;
    }
    case AF_INET: {
        struct sockaddr_in *a = (struct sockaddr_in *) sa1, *b = (struct sockaddr_in *) sa2;
        if (a->sin_port != b->sin_port || a->sin_addr.s_addr != b->sin_addr.s_addr) {
            return ZP_DECLINED;
        }
        return ZP_OK;
    }
    }

    return (slen1 == slen2 && zp_memcmp(sa1, sa2, slen1) == 0) ? ZP_OK : ZP_DECLINED;
}
