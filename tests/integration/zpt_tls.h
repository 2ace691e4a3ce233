/*
 * zpt_tls.h: helpers for the TLS integration tests: a shell runner, a
 * test PKI made with the openssl command, and openssl s_client requests.
 */
#ifndef ZPT_TLS_H
#define ZPT_TLS_H

#include <stddef.h>

#include "zpt_harness.h"

/* Runs fmt with /bin/sh, stdout then stderr into out; the exit code. */
int zpt_sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Makes the test PKI in <prefix>/conf: ca.crt/ca.key; server leaves (with
 * the CA in the chain) a.crt/a.key ("CN=a.test") and b.crt/b.key
 * ("CN=b.test"); a client certificate alice.crt/alice.key
 * ("/CN=alice/O=Example", serial 0x1001) signed by ca; and a client
 * certificate mallory.crt/mallory.key signed by another CA (other.crt).
 * 0, or -1 with openssl's output in err.
 */
int zpt_tls_pki(const char *prefix, char *err, size_t size);

/* One "GET path" (Host: host) over openssl s_client to 127.0.0.1:port with
 * -servername host, run in <prefix>/conf, with more s_client options;
 * waits (bounded) for the answer and the connection's end, so TLS 1.3
 * tickets are read. out gets what s_client printed. Returns the exit code. */
int zpt_tls_req(const char *prefix, int port, const char *host, const char *path,
                const char *opts, char *out, size_t size);

#endif /* ZPT_TLS_H */
