/*
 * zpt_tls.c: see zpt_tls.h.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zpt_tls.h"


int
zpt_sh(char *out, size_t size, const char *fmt, ...)
{
    char        cmd[8192];
    static char err[16384];
    va_list     ap;
    int         rc;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);

    rc = zpt_run_argv(argv, out, size, err, sizeof(err));
    if (out && strlen(out) + strlen(err) + 1 < size) {
        strcat(out, err);
    }
    return rc;
}


int
zpt_tls_pki(const char *prefix, char *err, size_t size)
{
    return zpt_sh(err, size,
                  "set -e; cd %s/conf; exec 2>&1 </dev/null\n"
                  "ca() { # name cn (EC keys: RSA key generation can take seconds)\n"
                  "  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                  "    -keyout $1.key -out $1.crt -days 2 -subj \"/CN=$2\" >/dev/null\n"
                  "}\n"
                  "leaf() { # ca name subj serial [san]\n"
                  "  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                  "    -keyout $2.key -out $2.csr -subj \"$3\" >/dev/null\n"
                  "  : > $2.ext\n"
                  "  [ -z \"$5\" ] || printf 'subjectAltName=DNS:%%s\\n' \"$5\" > $2.ext\n"
                  "  openssl x509 -req -in $2.csr -CA $1.crt -CAkey $1.key -set_serial $4"
                  "    -out $2.leaf -days 2 -extfile $2.ext >/dev/null\n"
                  "  cat $2.leaf $1.crt > $2.crt\n"
                  "}\n"
                  "ca ca 'zpt test CA'\n"
                  "ca other 'zpt other CA'\n"
                  "leaf ca a /CN=a.test 0x0a a.test\n"
                  "leaf ca b /CN=b.test 0x0b b.test\n"
                  "leaf ca alice /CN=alice/O=Example 0x1001\n"
                  "leaf other mallory /CN=mallory 0x666\n",
                  prefix);
}


int
zpt_tls_req(const char *prefix, int port, const char *host, const char *path, const char *opts,
            char *out, size_t size)
{
    /* -ign_eof: s_client reads until the server closes (Connection:
     * close), so it has seen the tickets that TLS 1.3 sends after the
     * handshake before it writes -sess_out */
    return zpt_sh(out, size,
                  "cd %s/conf && printf 'GET %s HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n'"
                  " | timeout 10 openssl s_client -connect 127.0.0.1:%d -servername %s -CAfile ca.crt"
                  " -ign_eof %s",
                  prefix, path, host, port, host, opts);
}
