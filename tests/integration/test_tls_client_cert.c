/*
 * TLS client certificates (ssl_verify_client, ssl_client_certificate,
 * ssl_verify_depth) end to end: curl and openssl s_client with a
 * certificate from the trusted CA (alice), from another CA (mallory) and
 * none, on a server that requires one and on one where it is optional;
 * $ssl_client_* in the access log and, through proxy_set_header, at the
 * backend; a session that resumes keeps its client; a Host naming a
 * server with other client certificate rules than the SNI name gets 421.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_client.h"
#include "zpt_tls.h"

static zpt_backend_t backend;

static pid_t
cc_start(zpt_srv_t *s)
{
    int         bport;
    pid_t       master;
    static char err[65536];

    bport = zpt_backend_start(&backend, "A", 0);

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_msg(zpt_tls_pki(s->prefix, err, sizeof(err)) == 0, "test PKI: %s", err);
    ck_assert_int_eq(
        zpt_srv_conf(s,
                     "worker_processes 2;\n"
                     "daemon off;\n"
                     "pid logs/zproxy.pid;\n"
                     "error_log logs/error.log info;\n"
                     "events { worker_connections 256; }\n"
                     "http {\n"
                     "    log_format c '$request_uri $status $ssl_client_verify"
                     " \"$ssl_client_s_dn\" \"$ssl_client_i_dn\" $ssl_client_serial"
                     " $ssl_session_reused';\n"
                     "    access_log logs/access.log c;\n"
                     "    upstream be { server 127.0.0.1:%d; }\n"
                     "    ssl_client_certificate ca.crt;\n"
                     "    server {\n"
                     "        listen 127.0.0.1:%d ssl;\n"
                     "        server_name a.test;\n"
                     "        ssl_certificate a.crt;\n"
                     "        ssl_certificate_key a.key;\n"
                     "        ssl_verify_client on;\n"
                     "        route /echo {\n"
                     "            proxy_set_header X-Client-DN $ssl_client_s_dn;\n"
                     "            proxy_set_header X-Client-Verify $ssl_client_verify;\n"
                     "            proxy_pass http://be;\n"
                     "        }\n"
                     "        route / { return 200 \"hello a\\n\"; }\n"
                     "    }\n"
                     "    server {\n"
                     "        listen 127.0.0.1:%d ssl;\n"
                     "        server_name b.test;\n"
                     "        ssl_certificate b.crt;\n"
                     "        ssl_certificate_key b.key;\n"
                     "        ssl_verify_client optional;\n"
                     "        ssl_verify_depth 2;\n"
                     "        route /echo {\n"
                     "            proxy_set_header X-Client-DN $ssl_client_s_dn;\n"
                     "            proxy_pass http://be;\n"
                     "        }\n"
                     "        route /who { match_header $ssl_client_s_dn \"~(^|,)CN=alice$\";\n"
                     "                     return 200 \"alice\\n\"; }\n"
                     "        route /who { match_header $ssl_client_verify SUCCESS;\n"
                     "                     return 200 \"someone verified\\n\"; }\n"
                     "        route /who { return 403 \"nobody\\n\"; }\n"
                     "        route / { return 200 \"hello b\\n\"; }\n"
                     "    }\n"
                     "    server {\n"
                     "        listen 127.0.0.1:%d ssl;\n"
                     "        server_name c.test;\n"
                     "        ssl_certificate b.crt;\n"
                     "        ssl_certificate_key b.key;\n"
                     "        route / { return 200 \"hello c\\n\"; }\n"
                     "    }\n"
                     "}\n",
                     bport, s->port, s->port, s->port),
        0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start");
    return master;
}


/* curl https://host/path with more options; out gets the status code
 * line then the body. */
static int
curl(zpt_srv_t *s, const char *host, const char *path, const char *opts, char *out, size_t size)
{
    return zpt_sh(out, size,
                  "cd %s/conf && curl -s --max-time 10 --cacert ca.crt --resolve %s:%d:127.0.0.1"
                  " -w 'status=%%{http_code}\\n' %s https://%s:%d%s",
                  s->prefix, host, s->port, opts, host, s->port, path);
}


/* The access log line of path (waiting for it, bounded), or "". */
static const char *
log_line(zpt_srv_t *s, const char *path)
{
    char        want[128], *log, *p, *e;
    static char line[1024];

    snprintf(want, sizeof(want), "%s ", path);
    line[0] = '\0';
    if (!zpt_wait_file_line(s->access_log, want, NULL, zpt_wait_ms())) {
        return line;
    }
    log = zpt_read_file(s->access_log, NULL);
    p   = log ? strstr(log, want) : NULL;
    if (p) {
        e = strchr(p, '\n');
        snprintf(line, sizeof(line), "%.*s", e ? (int) (e - p) : (int) strlen(p), p);
    }
    free(log);
    return line;
}

#define ALICE   "--cert alice.crt --key alice.key"
#define MALLORY "--cert mallory.crt --key mallory.key"


START_TEST(test_tls_client_cert_required)
{
    zpt_srv_t   s;
    const char *l;
    static char out[65536];

    cc_start(&s);

    /* none: the handshake completes and the request gets 400 */
    curl(&s, "a.test", "/none", "", out, sizeof(out));
    ck_assert_msg(strstr(out, "No required SSL certificate was sent") && strstr(out, "status=400"),
                  "%s", out);
    l = log_line(&s, "/none");
    ck_assert_msg(strstr(l, "/none 400 NONE \"-\" \"-\" -") != NULL, "%s", l);
    ck_assert(zpt_wait_file_line(s.error_log, "client sent no required SSL certificate", NULL,
                                 zpt_wait_ms()));

    /* alice: passes, and her name is in the log and at the backend */
    curl(&s, "a.test", "/ok", ALICE, out, sizeof(out));
    ck_assert_msg(strstr(out, "hello a\nstatus=200") != NULL, "%s", out);
    l = log_line(&s, "/ok");
    ck_assert_msg(strstr(l, "/ok 200 SUCCESS \"O=Example,CN=alice\" \"CN=zpt test CA\" 1001") != NULL,
                  "%s", l);

    curl(&s, "a.test", "/echo/x", ALICE " -H 'X-Client-DN: CN=spoofed'", out, sizeof(out));
    ck_assert_msg(strstr(out, "X-Client-DN: O=Example,CN=alice\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "X-Client-Verify: SUCCESS\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "spoofed") == NULL, "%s", out);

    /* mallory, from another CA: 400, and the reason in the log */
    curl(&s, "a.test", "/bad", MALLORY, out, sizeof(out));
    ck_assert_msg(strstr(out, "The SSL certificate error") && strstr(out, "status=400"), "%s", out);
    l = log_line(&s, "/bad");
    ck_assert_msg(strstr(l, "/bad 400 FAILED:") != NULL && strstr(l, "CN=mallory") != NULL, "%s",
                  l);
    ck_assert(zpt_wait_file_line(s.error_log, "client SSL certificate verify error", NULL,
                                 zpt_wait_ms()));

    zpt_backend_stop(&backend);
}
END_TEST


START_TEST(test_tls_client_cert_optional)
{
    zpt_srv_t   s;
    const char *l;
    static char out[65536];

    cc_start(&s);

    curl(&s, "b.test", "/none", "", out, sizeof(out));
    ck_assert_msg(strstr(out, "hello b\nstatus=200") != NULL, "%s", out);
    ck_assert_msg(strstr(log_line(&s, "/none"), "/none 200 NONE") != NULL, "no NONE");

    curl(&s, "b.test", "/ok", ALICE, out, sizeof(out));
    ck_assert_msg(strstr(out, "hello b\nstatus=200") != NULL, "%s", out);
    l = log_line(&s, "/ok");
    ck_assert_msg(strstr(l, "/ok 200 SUCCESS \"O=Example,CN=alice\"") != NULL, "%s", l);

    /* a header the client made up does not pass for a verified name */
    curl(&s, "b.test", "/echo/y", "-H 'X-Client-DN: CN=spoofed'", out, sizeof(out));
    ck_assert_msg(strstr(out, "status=200") != NULL && strstr(out, "spoofed") == NULL, "%s", out);

    curl(&s, "b.test", "/bad", MALLORY, out, sizeof(out));
    ck_assert_msg(strstr(out, "The SSL certificate error") && strstr(out, "status=400"), "%s", out);

    /* routing on the verified subject (match_header $variable); a header
     * the client sends under that name plays no part */
    curl(&s, "b.test", "/who", ALICE, out, sizeof(out));
    ck_assert_msg(strstr(out, "alice\nstatus=200") != NULL, "%s", out);
    curl(&s, "b.test", "/who", "-H 'Ssl-Client-S-Dn: O=Example,CN=alice'", out, sizeof(out));
    ck_assert_msg(strstr(out, "nobody\nstatus=403") != NULL, "%s", out);

    zpt_backend_stop(&backend);
}
END_TEST


START_TEST(test_tls_client_cert_resumed_session)
{
    zpt_srv_t   s;
    const char *l;
    static char out[65536];

    cc_start(&s);

    /* a resumed session keeps the client certificate it was made with */
    zpt_tls_req(s.prefix, s.port, "a.test", "/first", "-tls1_2 -cert alice.crt -key alice.key"
                " -sess_out alice.sess", out, sizeof(out));
    ck_assert_msg(strstr(out, "hello a") != NULL, "%s", out);
    zpt_tls_req(s.prefix, s.port, "a.test", "/resumed", "-tls1_2 -sess_in alice.sess", out,
                sizeof(out));
    ck_assert_msg(strstr(out, "\nReused, TLSv1.2") && strstr(out, "hello a"), "%s", out);
    l = log_line(&s, "/resumed");
    ck_assert_msg(strstr(l, "/resumed 200 SUCCESS \"O=Example,CN=alice\"") && strstr(l, " r"),
                  "%s", l);

    /* a session of the optional server without a certificate does not
     * resume on the one that requires it */
    zpt_tls_req(s.prefix, s.port, "b.test", "/b", "-tls1_2 -sess_out anon.sess", out, sizeof(out));
    ck_assert_msg(strstr(out, "hello b") != NULL, "%s", out);
    zpt_tls_req(s.prefix, s.port, "a.test", "/anon", "-tls1_2 -sess_in anon.sess", out,
                sizeof(out));
    ck_assert_msg(strstr(out, "\nNew, TLSv1.2") && strstr(out, "No required SSL certificate"),
                  "%s", out);

    zpt_backend_stop(&backend);
}
END_TEST


START_TEST(test_tls_client_cert_misdirected)
{
    zpt_srv_t   s;
    static char out[65536];

    cc_start(&s);

    /* SNI c.test (no client certificates), Host a.test (required): the
     * handshake did not ask for a certificate, so 421 */
    zpt_sh(out, sizeof(out),
           "cd %s/conf && printf 'GET / HTTP/1.1\\r\\nHost: a.test\\r\\nConnection: close\\r\\n\\r\\n'"
           " | timeout 10 openssl s_client -connect 127.0.0.1:%d -servername c.test -ign_eof",
           s.prefix, s.port);
    ck_assert_msg(strstr(out, "HTTP/1.1 421 Misdirected Request") != NULL, "%s", out);

    /* the other way round is fine: c.test checks nothing */
    zpt_sh(out, sizeof(out),
           "cd %s/conf && printf 'GET / HTTP/1.1\\r\\nHost: c.test\\r\\nConnection: close\\r\\n\\r\\n'"
           " | timeout 10 openssl s_client -connect 127.0.0.1:%d -servername a.test -ign_eof"
           " -cert alice.crt -key alice.key",
           s.prefix, s.port);
    ck_assert_msg(strstr(out, "hello c") != NULL, "%s", out);

    zpt_backend_stop(&backend);
}
END_TEST


static Suite *
tls_client_cert_suite(void)
{
    Suite *s  = suite_create("tls_client_cert");
    TCase *tc = tcase_create("tls_client_cert");

    zpt_backend_build();

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tls_client_cert_required);
    tcase_add_test(tc, test_tls_client_cert_optional);
    tcase_add_test(tc, test_tls_client_cert_resumed_session);
    tcase_add_test(tc, test_tls_client_cert_misdirected);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(tls_client_cert_suite)
