/*
 * TLS end to end ("listen ... ssl", modules/zp_http_ssl_module.c): keys and
 * certificates are made at test time with the openssl command (a CA, RSA
 * and ECDSA leaves with their chain, two server names) into the prefix,
 * and real clients check the result: openssl s_client for SNI, ALPN and
 * protocol versions, curl for HTTPS with keep-alive and through the proxy.
 * Also: the 400 answer to plain HTTP on the TLS port, "zproxy -t" errors
 * at file:line, and reloads with a new and with a broken certificate.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_client.h"



/* Runs cmd with /bin/sh, stdout and stderr into out; returns the exit code. */
static int
sh(char *out, size_t size, const char *fmt, ...)
{
    char        cmd[4096], err[8192];
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


/* The test PKI in <prefix>/conf: ca.crt; a.crt/a.key (RSA, leaf + CA
 * chain), a-ec.crt/a-ec.key (ECDSA, "CN=a.test ecdsa"), b.crt/b.key. */
static void
make_pki(zpt_srv_t *s)
{
    static char out[65536];
    int         rc;

    rc = sh(out, sizeof(out),
            "set -e; cd %s/conf; exec 2>&1 </dev/null\n"
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2"
            " -subj '/CN=zpt test CA' >/dev/null\n"
            "leaf() { # name cn keyopts...\n"
            "  n=$1; cn=$2; shift 2\n"
            "  openssl req -new -newkey \"$@\" -nodes -keyout $n.key -out $n.csr -subj \"/CN=$cn\""
            "    >/dev/null\n"
            "  printf 'subjectAltName=DNS:%%s\\n' \"${cn%% *}\" > $n.ext\n"
            "  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
            "    -out $n.leaf -days 2 -extfile $n.ext >/dev/null\n"
            "  cat $n.leaf ca.crt > $n.crt\n"
            "}\n"
            "leaf a a.test rsa:2048\n"
            "leaf a-ec 'a.test ecdsa' ec -pkeyopt ec_paramgen_curve:P-256\n"
            "leaf b b.test rsa:2048\n"
            "leaf a2 'a.test v2' rsa:2048\n",
            s->prefix);
    ck_assert_msg(rc == 0, "making the test certificates failed: %s", out);
}


static void
tls_conf(zpt_srv_t *s, const char *extra_a, const char *extra_http)
{
    ck_assert_int_eq(zpt_srv_conf(s,
                                  "worker_processes 2;\n"
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 1024; }\n"
                                  "http {\n"
                                  "    access_log logs/access.log;\n"
                                  "%s"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d ssl;\n"
                                  "        server_name a.test;\n"
                                  "        ssl_certificate a.crt;\n"
                                  "        ssl_certificate_key a.key;\n"
                                  "        ssl_certificate a-ec.crt;\n"
                                  "        ssl_certificate_key a-ec.key;\n"
                                  "%s"
                                  "        route / { return 200 \"hello a\\n\"; }\n"
                                  "    }\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d ssl;\n"
                                  "        server_name b.test;\n"
                                  "        ssl_certificate b.crt;\n"
                                  "        ssl_certificate_key b.key;\n"
                                  "        route / { return 200 \"hello b\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  extra_http ? extra_http : "", s->port,
                                  extra_a ? extra_a : "", s->port),
                     0);
}


static pid_t
tls_start(zpt_srv_t *s, const char *extra_a, const char *extra_http)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_init(s), 0);
    make_pki(s);
    tls_conf(s, extra_a, extra_http);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start");
    return master;
}


/* s_client with the given options; out gets everything it printed. */
static void
s_client(zpt_srv_t *s, char *out, size_t size, const char *opts)
{
    (void) sh(out, size,
              "cd %s/conf && timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile ca.crt"
              " %s </dev/null",
              s->prefix, s->port, opts);
}


/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_tls_sni_selects_certificate)
{
    zpt_srv_t   s;
    static char out[65536];

    tls_start(&s, NULL, NULL);

    s_client(&s, out, sizeof(out), "-servername b.test");
    ck_assert_msg(strstr(out, "subject=CN = b.test\n") != NULL, "b.test: %s", out);
    ck_assert_msg(strstr(out, "Verify return code: 0 (ok)") != NULL, "b.test chain: %s", out);

    /* a.test has RSA and ECDSA: the client's signature algorithms pick */
    s_client(&s, out, sizeof(out), "-servername a.test -sigalgs rsa_pss_rsae_sha256");
    ck_assert_msg(strstr(out, "subject=CN = a.test\n") != NULL, "a.test RSA: %s", out);
    s_client(&s, out, sizeof(out), "-servername a.test -sigalgs ecdsa_secp256r1_sha256");
    ck_assert_msg(strstr(out, "subject=CN = a.test ecdsa\n") != NULL, "a.test ECDSA: %s", out);
    ck_assert_msg(strstr(out, "Verify return code: 0 (ok)") != NULL, "a.test chain: %s", out);

    /* unknown or no name: the default (first) server's certificate */
    s_client(&s, out, sizeof(out), "-servername c.test -sigalgs rsa_pss_rsae_sha256");
    ck_assert_msg(strstr(out, "subject=CN = a.test\n") != NULL, "c.test: %s", out);
    s_client(&s, out, sizeof(out), "-noservername -sigalgs rsa_pss_rsae_sha256");
    ck_assert_msg(strstr(out, "subject=CN = a.test\n") != NULL, "no SNI: %s", out);

    /* upper case and a trailing dot name the same server */
    s_client(&s, out, sizeof(out), "-servername B.TEST");
    ck_assert_msg(strstr(out, "subject=CN = b.test\n") != NULL, "B.TEST: %s", out);
}
END_TEST


START_TEST(test_tls_alpn_and_protocols)
{
    zpt_srv_t   s;
    static char out[65536];

    tls_start(&s, NULL, NULL);

    s_client(&s, out, sizeof(out), "-servername a.test -alpn http/1.1");
    ck_assert_msg(strstr(out, "ALPN protocol: http/1.1") != NULL, "%s", out);
    s_client(&s, out, sizeof(out), "-servername a.test -alpn h2,http/1.1");
    ck_assert_msg(strstr(out, "ALPN protocol: http/1.1") != NULL, "%s", out);
    /* only h2 (not spoken yet): no ALPN answer, the client falls back */
    s_client(&s, out, sizeof(out), "-servername a.test -alpn h2");
    ck_assert_msg(strstr(out, "No ALPN negotiated") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "subject=") != NULL, "h2 only: no handshake: %s", out);

    s_client(&s, out, sizeof(out), "-servername a.test -tls1_2");
    ck_assert_msg(strstr(out, "Protocol  : TLSv1.2") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "Cipher is (NONE)") == NULL, "%s", out);
    s_client(&s, out, sizeof(out), "-servername a.test -tls1_3");
    ck_assert_msg(strstr(out, "TLSv1.3, Cipher is TLS_") != NULL, "%s", out);

    /* the default ssl_protocols refuse TLS 1.1 */
    s_client(&s, out, sizeof(out), "-servername a.test -tls1_1 -cipher DEFAULT@SECLEVEL=0");
    ck_assert_msg(strstr(out, "subject=") == NULL, "TLSv1.1 accepted: %s", out);
    ck_assert_msg(zpt_wait_file_line(s.error_log, "SSL_do_handshake() failed", "unsupported protocol",
                                     zpt_wait_ms()),
                  "no log line for the refused TLSv1.1 handshake");
}
END_TEST


START_TEST(test_tls_curl_keepalive)
{
    zpt_srv_t   s;
    int         i, rc, n, connects;
    char        urls[2048], *p;
    static char out[65536];

    tls_start(&s, NULL, NULL);

    urls[0] = '\0';
    for (i = 0; i < 10; i++) {
        n = (int) strlen(urls);
        snprintf(urls + n, sizeof(urls) - n, " https://a.test:%d/r%d", s.port, i);
    }

    rc = sh(out, sizeof(out),
            "cd %s/conf && curl -s --http1.1 --cacert ca.crt --resolve a.test:%d:127.0.0.1"
            " -w ' connects=%%{num_connects}\\n' %s",
            s.prefix, s.port, urls);
    ck_assert_msg(rc == 0, "curl failed: %s", out);

    n        = 0;
    connects = 0;
    for (p = out; (p = strstr(p, "hello a\n connects=")) != NULL; p++) {
        n++;
        connects += atoi(p + strlen("hello a\n connects="));
    }
    ck_assert_msg(n == 10, "%d of 10 answers: %s", n, out);
    ck_assert_msg(connects == 1, "10 requests took %d connections: %s", connects, out);

    /* the other name: its certificate verifies for it, Host picks its server */
    rc = sh(out, sizeof(out),
            "cd %s/conf && curl -s --cacert ca.crt --resolve b.test:%d:127.0.0.1 https://b.test:%d/",
            s.prefix, s.port, s.port);
    ck_assert_msg(rc == 0 && strcmp(out, "hello b\n") == 0, "b.test: %d %s", rc, out);
}
END_TEST


START_TEST(test_tls_plain_http_gets_400)
{
    zpt_srv_t  s;
    zpt_resp_t r;

    tls_start(&s, NULL, NULL);

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "plain request: %s", r.error);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "The plain HTTP request was sent to HTTPS port") != NULL, "%s",
                  r.body);
    ck_assert(zpt_wait_file_line(s.error_log, "plain HTTP request to HTTPS port", NULL,
                                 zpt_wait_ms()));
}
END_TEST


/*
 * A TLS listener keeps Linux's quick ACKs (plain ones delay them, see
 * test_close_fin_with_response): a ClientHello larger than the MSS would
 * otherwise wait for the delayed ACK at a client with classic Nagle. A
 * plain request on the TLS port gets its bare ACK from the kernel at once,
 * before zproxy reads it and answers 400.
 */
START_TEST(test_tls_listener_quick_ack)
{
    int                pfd, fd;
    zpt_srv_t          s;
    zpt_resp_t         r;
    zpt_segs_t         n;
    struct sockaddr_in sin;
    socklen_t          sl = sizeof(sin);
    const char         req[] = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";

    pfd = zpt_lo_packets_open();
    if (pfd == -1) {
        fprintf(stderr, "test_tls_listener_quick_ack: no packet socket (not root?), skipped\n");
        return;
    }

    tls_start(&s, NULL, NULL);

    fd = zpt_connect(s.port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &sl), 0);
    ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0), (ssize_t) sizeof(req) - 1);
    ck_assert_msg(zpt_http_read(fd, &r) == 0, "no answer on the TLS port: %s", r.error);
    ck_assert_int_eq(r.status, 400);
    close(fd);

    memset(&n, 0, sizeof(n));
    zpt_lo_packets_count(pfd, s.port, ntohs(sin.sin_port), &n);
    close(pfd);
    ck_assert_msg(n.ack_before_data == 1 && n.data >= 1,
                  "server segments: %d bare ACKs before %d with data; expected the kernel's "
                  "quick ACK of the request", n.ack_before_data, n.data);
}
END_TEST


/* zproxy -t with conf; err must hold "zproxy.conf:<line>" and what. */
static void
conftest_fails(zpt_srv_t *s, int line, const char *what)
{
    char        where[64];
    static char out[8192], err[8192];
    const char *args[] = {"-t", "-p", s->prefix, "-c", s->conf, NULL};

    ck_assert_int_ne(zpt_run(args, out, sizeof(out), err, sizeof(err)), 0);
    snprintf(where, sizeof(where), "zproxy.conf:%d:", line);
    ck_assert_msg(strstr(err, where) != NULL && strstr(err, what) != NULL,
                  "expected \"%s\" ... \"%s\": %s", where, what, err);
}


START_TEST(test_tls_conftest_errors)
{
    zpt_srv_t s;
    char      path[ZPT_PATH_MAX];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    make_pki(&s);

    /* the servers' lines: ssl_certificate of a at 11, its key at 12, the
     * ECDSA pair at 13/14; the listen of a at 9 */
#define SRV_A(cert, key)                                                                           \
    "worker_processes 1;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 64; }\n"                                                          \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d ssl;\n"                                                           \
    "        server_name a.test;\n"                                                                \
    "        ssl_certificate " cert ";\n"                                                          \
    "        ssl_certificate_key " key ";\n"                                                       \
    "        route / { return 200 \"a\\n\"; }\n"                                                   \
    "    }\n"                                                                                      \
    "}\n"

    ck_assert_int_eq(zpt_srv_conf(&s, SRV_A("a.crt", "b.key"), s.port), 0);
    conftest_fails(&s, 12, "does not match certificate");

    ck_assert_int_eq(zpt_srv_conf(&s, SRV_A("missing.crt", "a.key"), s.port), 0);
    conftest_fails(&s, 11, "cannot read certificate");

    ck_assert_int_eq(zpt_srv_conf(&s, SRV_A("a.crt", "missing.key"), s.port), 0);
    conftest_fails(&s, 12, "cannot read certificate key");

    snprintf(path, sizeof(path), "%s/conf/bad.crt", s.prefix);
    ck_assert_int_eq(zpt_write_file(path, "-----BEGIN CERTIFICATE-----\nnot base64\n"), 0);
    ck_assert_int_eq(zpt_srv_conf(&s, SRV_A("bad.crt", "a.key"), s.port), 0);
    conftest_fails(&s, 11, "cannot load certificate");

    /* listen ... ssl and no certificate */
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 64; }\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d ssl;\n"
                                  "        route / { return 200 \"a\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s.port),
                     0);
    conftest_fails(&s, 7, "no \"ssl_certificate\"");

    /* a good one passes */
    ck_assert_int_eq(zpt_srv_conf(&s, SRV_A("a.crt", "a.key"), s.port), 0);
    {
        static char out[8192], err[8192];
        const char *args[] = {"-t", "-p", s.prefix, "-c", s.conf, NULL};
        ck_assert_msg(zpt_run(args, out, sizeof(out), err, sizeof(err)) == 0, "%s", err);
    }
#undef SRV_A
}
END_TEST


/* Waits until the certificate for a.test has subject cn. */
static int
wait_subject(zpt_srv_t *s, const char *cn)
{
    char        want[128];
    long long   end = zpt_now_ms() + zpt_wait_ms();
    static char out[65536];

    snprintf(want, sizeof(want), "subject=CN = %s\n", cn);
    do {
        s_client(s, out, sizeof(out), "-servername a.test -sigalgs rsa_pss_rsae_sha256");
        if (strstr(out, want)) {
            return 1;
        }
        zpt_msleep(100);
    } while (zpt_now_ms() < end);

    return 0;
}


START_TEST(test_tls_reload_certificates)
{
    zpt_srv_t   s;
    pid_t       master;
    char        path[ZPT_PATH_MAX];
    static char out[65536];

    master = tls_start(&s, NULL, NULL);
    ck_assert(wait_subject(&s, "a.test"));

    /* a new certificate in the same files: HUP serves it */
    ck_assert_int_eq(sh(out, sizeof(out), "cd %s/conf && cp a2.crt a.crt && cp a2.key a.key",
                        s.prefix),
                     0);
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
    ck_assert_msg(wait_subject(&s, "a.test v2"), "the new certificate is not served");

    /* a broken one: the reload fails with a clear line, the old serves on */
    snprintf(path, sizeof(path), "%s/conf/a.crt", s.prefix);
    ck_assert_int_eq(zpt_write_file(path, "-----BEGIN CERTIFICATE-----\nbroken\n"), 0);
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
    ck_assert_msg(zpt_wait_file_line(s.error_log, "cannot load certificate", "a.crt",
                                     zpt_wait_ms()),
                  "no error line for the broken certificate");
    ck_assert(zpt_alive(master));
    ck_assert_msg(wait_subject(&s, "a.test v2"), "the old certificate is gone");

    (void) sh(out, sizeof(out),
              "cd %s/conf && curl -s --cacert ca.crt --resolve a.test:%d:127.0.0.1 https://a.test:%d/",
              s.prefix, s.port, s.port);
    ck_assert_str_eq(out, "hello a\n");
}
END_TEST




START_TEST(test_tls_proxy_pass)
{
    int           bport, rc, i;
    char          up[256], *p;
    zpt_backend_t b;
    zpt_srv_t     s;
    static char   out[65536];

    bport = zpt_backend_start(&b, "A", 0);

    snprintf(up, sizeof(up), "    upstream users { server 127.0.0.1:%d; keepalive 4; }\n", bport);
    tls_start(&s, "        route /echo { proxy_pass http://users; }\n"
                  "        route /size { proxy_pass http://users; }\n",
              up);

    rc = sh(out, sizeof(out),
            "cd %s/conf && curl -s --cacert ca.crt --resolve a.test:%d:127.0.0.1"
            " https://a.test:%d/echo/x https://a.test:%d/echo/y",
            s.prefix, s.port, s.port, s.port);
    ck_assert_msg(rc == 0, "curl: %s", out);
    ck_assert_msg(strstr(out, "\"target\":\"/echo/x\"") && strstr(out, "\"target\":\"/echo/y\""),
                  "%s", out);
    ck_assert_msg(strstr(out, "X-Forwarded-Proto: https") != NULL, "%s", out);

    /* 1 MB through the proxy and TLS: many records, partial writes */
    rc = sh(out, sizeof(out),
            "cd %s/conf && curl -s --cacert ca.crt --resolve a.test:%d:127.0.0.1"
            " https://a.test:%d/size/1048576 | wc -c",
            s.prefix, s.port, s.port);
    for (p = out; *p == ' '; p++) {
    }
    i = atoi(p);
    ck_assert_msg(rc == 0 && i == 1048576, "1 MB over TLS: %d bytes (%s)", i, out);

    zpt_backend_stop(&b);
}
END_TEST


static Suite *
tls_suite(void)
{
    Suite *s  = suite_create("tls");
    TCase *tc = tcase_create("tls");

    zpt_backend_build();

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tls_sni_selects_certificate);
    tcase_add_test(tc, test_tls_alpn_and_protocols);
    tcase_add_test(tc, test_tls_curl_keepalive);
    tcase_add_test(tc, test_tls_plain_http_gets_400);
    tcase_add_test(tc, test_tls_listener_quick_ack);
    tcase_add_test(tc, test_tls_conftest_errors);
    tcase_add_test(tc, test_tls_reload_certificates);
    tcase_add_test(tc, test_tls_proxy_pass);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(tls_suite)
