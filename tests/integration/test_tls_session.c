/*
 * TLS session resumption across workers and reloads
 * (event/zp_event_openssl_session.c): the shared session cache for TLS 1.2
 * session ids and TLS 1.3 stateful tickets, session tickets with the
 * master's random keys (rotated on reload) and with key files, OCSP
 * stapling from a file, the $ssl_* variables, and "zproxy -t" errors for
 * the new directives. Clients are openssl s_client (-sess_out/-sess_in,
 * -status); the access log's $pid shows which worker resumed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_tls.h"

/* enough tries that reuseport spreads them over both workers: the chance
 * that 60 connections all land on one of two is 2^-59 */
#define TRIES 60

static int
ssl_conf(zpt_srv_t *s, const char *srv_extra, const char *http_extra)
{
    return zpt_srv_conf(s,
                        "worker_processes 2;\n"
                        "daemon off;\n"
                        "pid logs/zproxy.pid;\n"
                        "error_log logs/error.log info;\n"
                        "events { worker_connections 256; }\n"
                        "http {\n"
                        "    log_format s '$request_uri $pid $ssl_session_reused $ssl_protocol"
                        " $ssl_cipher $ssl_server_name';\n"
                        "    access_log logs/access.log s;\n"
                        "%s"
                        "    server {\n"
                        "        listen 127.0.0.1:%d ssl reuseport;\n"
                        "        server_name a.test;\n"
                        "        ssl_certificate a.crt;\n"
                        "        ssl_certificate_key a.key;\n"
                        "%s"
                        "        route / { return 200 \"hello a\\n\"; }\n"
                        "    }\n"
                        "    server {\n"
                        "        listen 127.0.0.1:%d ssl reuseport;\n"
                        "        server_name b.test;\n"
                        "        ssl_certificate b.crt;\n"
                        "        ssl_certificate_key b.key;\n"
                        "        route / { return 200 \"hello b\\n\"; }\n"
                        "    }\n"
                        "}\n",
                        http_extra ? http_extra : "", s->port, srv_extra ? srv_extra : "",
                        s->port);
}


static pid_t
ssl_start(zpt_srv_t *s, const char *srv_extra, const char *http_extra)
{
    pid_t       master;
    static char err[65536];

    ck_assert_int_eq(zpt_srv_init(s), 0);
    ck_assert_msg(zpt_tls_pki(s->prefix, err, sizeof(err)) == 0, "test PKI: %s", err);
    ck_assert_int_eq(ssl_conf(s, srv_extra, http_extra), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start");
    return master;
}


/* The pid and $ssl_session_reused logged for the request of path; waits
 * (bounded) for the line. 0 if there is none. */
static pid_t
logged(zpt_srv_t *s, const char *path, char *reused)
{
    char      want[64], *log, *p;
    pid_t     pid = 0;
    long long end = zpt_now_ms() + zpt_wait_ms();

    snprintf(want, sizeof(want), "%s ", path);
    do {
        log = zpt_read_file(s->access_log, NULL);
        p   = log ? strstr(log, want) : NULL;
        if (p && (p == log || p[-1] == '\n')) {
            pid = (pid_t) atoi(p + strlen(want));
            p   = strchr(p + strlen(want), ' ');
            *reused = p ? p[1] : '?';
            free(log);
            return pid;
        }
        free(log);
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return 0;
}


/* A new session into <prefix>/conf/<sess>: a full handshake. */
static void
new_session(zpt_srv_t *s, const char *proto, const char *sess, const char *tag)
{
    char        opts[256], reused;
    static char out[65536];

    snprintf(opts, sizeof(opts), "%s -sess_out %s", proto, sess);
    zpt_tls_req(s->prefix, s->port, "a.test", tag, opts, out, sizeof(out));
    ck_assert_msg(strstr(out, "\nNew, TLSv1.") != NULL, "%s: %s", tag, out);
    ck_assert_msg(strstr(out, "hello a") != NULL, "%s: %s", tag, out);
    ck_assert_msg(logged(s, tag, &reused) > 0 && reused == '.', "%s: not logged as new", tag);
}


/* One connection resuming sess; 1 if it was resumed (and logged so). */
static int
resume(zpt_srv_t *s, const char *proto, const char *sess, const char *tag, pid_t *pid)
{
    char        opts[256], reused = '?';
    static char out[65536];

    snprintf(opts, sizeof(opts), "%s -sess_in %s", proto, sess);
    zpt_tls_req(s->prefix, s->port, "a.test", tag, opts, out, sizeof(out));
    ck_assert_msg(strstr(out, "hello a") != NULL, "%s: no answer: %s", tag, out);
    *pid = logged(s, tag, &reused);
    ck_assert_msg(*pid > 0, "%s: no access log line", tag);

    if (strstr(out, "\nReused, TLSv1.") != NULL) {
        ck_assert_msg(reused == 'r', "%s: resumed but $ssl_session_reused is %c", tag, reused);
        return 1;
    }
    ck_assert_msg(strstr(out, "\nNew, TLSv1.") != NULL, "%s: %s", tag, out);
    ck_assert_msg(reused == '.', "%s: new but $ssl_session_reused is %c", tag, reused);
    return 0;
}


/* Every connection resumes sess, until both workers have resumed it. */
static void
resume_on_both_workers(zpt_srv_t *s, pid_t master, const char *proto, const char *sess,
                       const char *tag)
{
    int   i, hit[2] = {0, 0};
    char  path[64];
    pid_t w[2], pid;

    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()));

    for (i = 0; i < TRIES && !(hit[0] && hit[1]); i++) {
        snprintf(path, sizeof(path), "/%s-%d", tag, i);
        ck_assert_msg(resume(s, proto, sess, path, &pid), "%s: not resumed", path);
        ck_assert_msg(pid == w[0] || pid == w[1], "%s: pid %d is no worker", path, (int) pid);
        hit[pid == w[1]] = 1;
    }

    ck_assert_msg(hit[0] && hit[1], "%s: %d connections all went to one worker", tag, i);
}


/* Sends HUP and waits for two new workers. */
static void
reload(zpt_srv_t *s, pid_t master, pid_t *workers)
{
    pid_t old[2];

    ck_assert(zpt_wait_workers(master, 2, NULL, 0, old, zpt_wait_ms()));
    ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
    ck_assert_msg(zpt_wait_workers(master, 2, old, 2, workers, zpt_wait_ms()),
                  "no new workers after the reload");
    (void) s;
}


/* ---- the shared cache ------------------------------------------------------------- */

START_TEST(test_tls_cache_tls12_both_workers)
{
    zpt_srv_t s;
    pid_t     master;

    /* no tickets: only the session id, so only the shared cache resumes */
    master = ssl_start(&s, "        ssl_session_tickets off;\n", NULL);

    new_session(&s, "-tls1_2", "s12", "/new12");
    resume_on_both_workers(&s, master, "-tls1_2", "s12", "c12");
}
END_TEST


START_TEST(test_tls_cache_tls13_stateful_tickets)
{
    zpt_srv_t s;
    pid_t     master, pid;

    /* TLS 1.3 without stateless tickets: OpenSSL's tickets are ids into
     * the cache; each one is used once (OpenSSL removes it) and the
     * client gets new ones, so every try makes its own session */
    master = ssl_start(&s, "        ssl_session_tickets off;\n", NULL);

    new_session(&s, "-tls1_3", "s13", "/new13");
    ck_assert(resume(&s, "-tls1_3", "s13", "/again13", &pid));
    (void) master;
}
END_TEST


START_TEST(test_tls_cache_tls13_stateful_both_workers)
{
    int         i, hit[2] = {0, 0};
    char        tag[64], sess[64];
    pid_t       master, w[2], pid;

    zpt_srv_t s;

    master = ssl_start(&s, "        ssl_session_tickets off;\n", NULL);
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()));

    /* a session made on one worker resumes on whichever takes the next
     * connection */
    for (i = 0; i < TRIES && !(hit[0] && hit[1]); i++) {
        snprintf(sess, sizeof(sess), "s13-%d", i);
        snprintf(tag, sizeof(tag), "/n13-%d", i);
        new_session(&s, "-tls1_3", sess, tag);
        snprintf(tag, sizeof(tag), "/r13-%d", i);
        ck_assert_msg(resume(&s, "-tls1_3", sess, tag, &pid), "%s: not resumed", tag);
        hit[pid == w[1]] = 1;
    }
    ck_assert_msg(hit[0] && hit[1], "TLS 1.3 resumptions all on one worker");
}
END_TEST


START_TEST(test_tls_cache_off_no_resumption)
{
    zpt_srv_t s;
    pid_t     master, w[2], pid;

    /* a session from the cache; then neither cache nor tickets: the
     * client offers it and gets a full handshake */
    master = ssl_start(&s, "        ssl_session_tickets off;\n", NULL);
    new_session(&s, "-tls1_2", "s12", "/new");
    ck_assert(resume(&s, "-tls1_2", "s12", "/cached", &pid));

    ck_assert_int_eq(
        ssl_conf(&s, "        ssl_session_cache off;\n        ssl_session_tickets off;\n", NULL),
        0);
    reload(&s, master, w);
    ck_assert(!resume(&s, "-tls1_2", "s12", "/again", &pid));
}
END_TEST


START_TEST(test_tls_cache_not_across_certificates)
{
    char        reused;
    zpt_srv_t   s;
    static char out[65536];

    /* a session of a.test offered with SNI b.test: another certificate,
     * another session id context, so a full handshake */
    ssl_start(&s, "        ssl_session_tickets off;\n", NULL);
    new_session(&s, "-tls1_2", "s12", "/new");

    zpt_tls_req(s.prefix, s.port, "b.test", "/b", "-tls1_2 -sess_in s12", out, sizeof(out));
    ck_assert_msg(strstr(out, "hello b") != NULL && strstr(out, "\nNew, TLSv1.2") != NULL, "%s",
                  out);
    ck_assert(logged(&s, "/b", &reused) > 0 && reused == '.');
}
END_TEST


START_TEST(test_tls_cache_survives_reload)
{
    zpt_srv_t s;
    pid_t     master, w[2], pid;

    /* the zone keeps its name and size: the new workers find the
     * sessions of the old ones */
    master = ssl_start(&s, "        ssl_session_tickets off;\n",
                       "    ssl_session_cache shared:S1:1m;\n");
    new_session(&s, "-tls1_2", "s12", "/new");
    reload(&s, master, w);
    resume_on_both_workers(&s, master, "-tls1_2", "s12", "kept");

    /* another size is another zone, empty */
    ck_assert_int_eq(ssl_conf(&s, "        ssl_session_tickets off;\n",
                              "    ssl_session_cache shared:S1:2m;\n"),
                     0);
    reload(&s, master, w);
    ck_assert_msg(!resume(&s, "-tls1_2", "s12", "/resized", &pid), "resumed from a new zone");
}
END_TEST


START_TEST(test_tls_cache_full_evicts_oldest)
{
    int         i, j;
    char        sess[32], first[256];
    zpt_srv_t   s;
    pid_t       master, w[2], pid;
    static char out[65536];

    /* the smallest cache: a few dozen sessions. A reload first, so the
     * zone in use is one inherited from the cycle before. */
    master = ssl_start(&s, "        ssl_session_tickets off;\n",
                       "    ssl_session_cache shared:SSL:32k;\n");
    reload(&s, master, w);

    for (i = 1; i <= 200; i += 20) {
        ck_assert_msg(zpt_sh(out, sizeof(out),
                             "cd %s/conf && for i in $(seq %d %d); do"
                             " timeout 5 openssl s_client -connect 127.0.0.1:%d -servername a.test"
                             " -tls1_2 -sess_out e$i.sess </dev/null >/dev/null 2>&1 || exit 1;"
                             " done",
                             s.prefix, i, i + 19, s.port)
                          == 0,
                      "sessions %d..%d: %s", i, i + 19, out);
    }

    /* the newest sessions are there, the oldest made room for them */
    for (j = 200; j > 195; j--) {
        snprintf(sess, sizeof(sess), "e%d.sess", j);
        snprintf(first, sizeof(first), "/newest-%d", j);
        ck_assert_msg(resume(&s, "-tls1_2", sess, first, &pid), "session %d is not cached", j);
    }
    ck_assert_msg(!resume(&s, "-tls1_2", "e1.sess", "/oldest", &pid), "session 1 survived");

    first[0] = '\0';
    ck_assert_msg(!zpt_log_severe(s.error_log, first, sizeof(first)), "%s", first);
    ck_assert(zpt_alive(master));
}
END_TEST


/* ---- tickets ------------------------------------------------------------------------ */

START_TEST(test_tls_tickets_rotate_on_reload)
{
    zpt_srv_t s;
    pid_t     master, w[2], pid;

    /* tickets only: the master's random key is in every worker */
    master = ssl_start(&s, "        ssl_session_cache off;\n", NULL);

    new_session(&s, "-tls1_2", "t12", "/new12");
    new_session(&s, "-tls1_3", "t13", "/new13");
    resume_on_both_workers(&s, master, "-tls1_2", "t12", "t12");
    resume_on_both_workers(&s, master, "-tls1_3", "t13", "t13");

    /* one reload: a new key encrypts, the old one still decrypts */
    reload(&s, master, w);
    resume_on_both_workers(&s, master, "-tls1_2", "t12", "t12a");
    resume_on_both_workers(&s, master, "-tls1_3", "t13", "t13a");

    /* a second one: the first key is gone, a full handshake */
    reload(&s, master, w);
    ck_assert_msg(!resume(&s, "-tls1_2", "t12", "/gone12", &pid), "a key survived 2 reloads");
    ck_assert_msg(!resume(&s, "-tls1_3", "t13", "/gone13", &pid), "a key survived 2 reloads");
}
END_TEST


START_TEST(test_tls_ticket_key_files)
{
    zpt_srv_t   s;
    pid_t       master, w[2], pid;
    static char out[65536];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_msg(zpt_tls_pki(s.prefix, out, sizeof(out)) == 0, "%s", out);
    ck_assert_int_eq(zpt_sh(out, sizeof(out),
                            "cd %s/conf && openssl rand 80 > k80.key && openssl rand 48 > k48.key",
                            s.prefix),
                     0);
    ck_assert_int_eq(
        ssl_conf(&s, "        ssl_session_cache off;\n        ssl_session_ticket_key k80.key;\n",
                 NULL),
        0);
    master = zpt_srv_start(&s);
    ck_assert(master > 0);

    new_session(&s, "-tls1_2", "t80", "/new80");
    resume_on_both_workers(&s, master, "-tls1_2", "t80", "k80");

    /* a new key in front: the old file's tickets still resume, and new
     * ones are made with k48 */
    ck_assert_int_eq(ssl_conf(&s,
                              "        ssl_session_cache off;\n"
                              "        ssl_session_ticket_key k48.key;\n"
                              "        ssl_session_ticket_key k80.key;\n",
                              NULL),
                     0);
    reload(&s, master, w);
    resume_on_both_workers(&s, master, "-tls1_2", "t80", "k80a");
    new_session(&s, "-tls1_3", "t48", "/new48");

    /* k80 dropped: its tickets no longer resume, k48's do; and the keys
     * come from the file, not from the reload, so two reloads keep them */
    ck_assert_int_eq(
        ssl_conf(&s, "        ssl_session_cache off;\n        ssl_session_ticket_key k48.key;\n",
                 NULL),
        0);
    reload(&s, master, w);
    reload(&s, master, w);
    ck_assert(!resume(&s, "-tls1_2", "t80", "/gone80", &pid));
    resume_on_both_workers(&s, master, "-tls1_3", "t48", "k48");
}
END_TEST


/* ---- OCSP and variables ---------------------------------------------------------------- */

START_TEST(test_tls_stapling_file)
{
    zpt_srv_t   s;
    pid_t       master, w[2];
    static char out[65536];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_msg(zpt_tls_pki(s.prefix, out, sizeof(out)) == 0, "%s", out);

    /* a response for a.test's certificate, signed by the CA: "good" */
    ck_assert_msg(zpt_sh(out, sizeof(out),
                         "set -e; cd %s/conf\n"
                         "printf 'V\\t300101000000Z\\t\\t0A\\tunknown\\t/CN=a.test\\n' > index.txt\n"
                         "openssl ocsp -index index.txt -rsigner ca.crt -rkey ca.key -CA ca.crt"
                         " -issuer ca.crt -cert a.leaf -respout a.ocsp -ndays 1 2>&1\n"
                         "openssl ocsp -index index.txt -rsigner ca.crt -rkey ca.key -CA ca.crt"
                         " -issuer ca.crt -serial 0x0b -respout b.ocsp -ndays 1 >/dev/null 2>&1\n",
                         s.prefix)
                      == 0,
                  "openssl ocsp: %s", out);

    ck_assert_int_eq(ssl_conf(&s, "        ssl_stapling_file a.ocsp;\n", NULL), 0);
    master = zpt_srv_start(&s);
    ck_assert(master > 0);

    zpt_tls_req(s.prefix, s.port, "a.test", "/", "-status", out, sizeof(out));
    ck_assert_msg(strstr(out, "OCSP Response Status: successful") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "Cert Status: good") != NULL, "%s", out);

    /* b.test has none */
    zpt_tls_req(s.prefix, s.port, "b.test", "/", "-status", out, sizeof(out));
    ck_assert_msg(strstr(out, "OCSP response: no response sent") != NULL, "%s", out);

    /* re-read on reload: b.ocsp (serial 0x0b, not in the index) is
     * "unknown" */
    ck_assert_int_eq(zpt_sh(out, sizeof(out), "cd %s/conf && cp b.ocsp a.ocsp", s.prefix), 0);
    reload(&s, master, w);
    zpt_tls_req(s.prefix, s.port, "a.test", "/", "-status", out, sizeof(out));
    ck_assert_msg(strstr(out, "Cert Status: unknown") != NULL, "%s", out);
}
END_TEST


START_TEST(test_tls_variables)
{
    int         plain;
    zpt_srv_t   s;
    zpt_resp_t  r;
    char        http[256], *log;
    static char out[65536];

    plain = zpt_free_port();
    snprintf(http, sizeof(http),
             "    server { listen 127.0.0.1:%d; route / { return 200 \"plain\\n\"; } }\n", plain);
    ssl_start(&s, NULL, http);

    zpt_tls_req(s.prefix, s.port, "a.test", "/v12", "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256",
                out, sizeof(out));
    ck_assert_msg(strstr(out, "hello a") != NULL, "%s", out);
    zpt_tls_req(s.prefix, s.port, "a.test", "/v13", "-tls1_3", out, sizeof(out));
    ck_assert_msg(strstr(out, "hello a") != NULL, "%s", out);

    ck_assert_int_eq(zpt_http_get_once(plain, "/vplain", &r), 0);
    ck_assert_int_eq(r.status, 200);

    ck_assert(zpt_wait_file_line(s.access_log, "/vplain ", NULL, zpt_wait_ms()));
    log = zpt_read_file(s.access_log, NULL);
    ck_assert(log != NULL);
    ck_assert_msg(strstr(log, " . TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256 a.test\n") != NULL, "%s",
                  log);
    ck_assert_msg(strstr(log, " . TLSv1.3 TLS_") != NULL, "%s", log);
    /* plain: every $ssl_ variable is empty, logged as "-" */
    ck_assert_msg(strstr(log, " - - - -\n") != NULL, "%s", log);
    free(log);
}
END_TEST


/* ---- zproxy -t ---------------------------------------------------------------------- */

/* zproxy -t of a server with line 11 set to directive; err must hold
 * "zproxy.conf:11:" and what. */
static void
conftest_fails(zpt_srv_t *s, const char *directive, const char *what)
{
    static char out[8192], err[8192];
    const char *args[] = {"-t", "-p", s->prefix, "-c", s->conf, NULL};

    ck_assert_int_eq(zpt_srv_conf(s,
                                  "worker_processes 1;\n"
                                  "daemon off;\n"
                                  "pid logs/zproxy.pid;\n"
                                  "error_log logs/error.log info;\n"
                                  "events { worker_connections 64; }\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:%d ssl;\n"
                                  "        ssl_certificate a.crt;\n"
                                  "        ssl_certificate_key a.key;\n"
                                  "        %s\n"
                                  "        route / { return 200 \"a\\n\"; }\n"
                                  "    }\n"
                                  "}\n",
                                  s->port, directive),
                     0);

    if (what == NULL) {
        ck_assert_msg(zpt_run(args, out, sizeof(out), err, sizeof(err)) == 0, "%s: %s", directive,
                      err);
        return;
    }
    ck_assert_int_ne(zpt_run(args, out, sizeof(out), err, sizeof(err)), 0);
    ck_assert_msg(strstr(err, "zproxy.conf:11:") != NULL && strstr(err, what) != NULL,
                  "%s: expected \"zproxy.conf:11:\" ... \"%s\": %s", directive, what, err);
}


START_TEST(test_tls_session_conftest_errors)
{
    zpt_srv_t   s;
    static char out[65536];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_msg(zpt_tls_pki(s.prefix, out, sizeof(out)) == 0, "%s", out);
    ck_assert_int_eq(zpt_sh(out, sizeof(out),
                            "cd %s/conf && openssl rand 64 > k64.key && openssl rand 80 > k80.key"
                            " && printf 'not DER' > bad.ocsp && : > empty.ocsp",
                            s.prefix),
                     0);

    conftest_fails(&s, "ssl_session_cache bogus;", "invalid session cache \"bogus\"");
    conftest_fails(&s, "ssl_session_cache shared:SSL;", "invalid session cache");
    conftest_fails(&s, "ssl_session_cache shared::1m;", "invalid session cache");
    conftest_fails(&s, "ssl_session_cache shared:SSL:1k;", "invalid session cache size");
    conftest_fails(&s, "ssl_session_cache shared:SSL:lots;", "invalid session cache size");
    conftest_fails(&s, "ssl_session_timeout forever;", "invalid");
    conftest_fails(&s, "ssl_session_ticket_key k64.key;", "must be 48 or 80 bytes, not 64");
    conftest_fails(&s, "ssl_session_ticket_key missing.key;", "cannot read session ticket key");
    conftest_fails(&s, "ssl_stapling_file bad.ocsp;", "is not a DER OCSP response");
    conftest_fails(&s, "ssl_stapling_file empty.ocsp;", "is not a DER OCSP response");
    conftest_fails(&s, "ssl_stapling_file missing.ocsp;", "cannot read stapling file");
    conftest_fails(&s, "ssl_verify_client on;", "needs \"ssl_client_certificate\"");
    conftest_fails(&s, "ssl_verify_client optional;", "needs \"ssl_client_certificate\"");
    conftest_fails(&s, "ssl_verify_client maybe;", "invalid value \"maybe\"");
    conftest_fails(&s, "ssl_verify_client on; ssl_client_certificate missing.crt;",
                   "cannot read client certificate CA");
    conftest_fails(&s, "ssl_verify_client on; ssl_client_certificate a.key;",
                   "cannot load client certificate CA");

    /* and the good forms pass */
    conftest_fails(&s, "ssl_session_cache shared:S2:64k; ssl_session_timeout 1h;", NULL);
    conftest_fails(&s, "ssl_session_cache off; ssl_session_tickets off;", NULL);
    conftest_fails(&s, "ssl_session_ticket_key k80.key;", NULL);
    conftest_fails(&s, "ssl_verify_client on; ssl_client_certificate ca.crt; ssl_verify_depth 2;",
                   NULL);
}
END_TEST


static Suite *
tls_session_suite(void)
{
    Suite *s  = suite_create("tls_session");
    TCase *tc = tcase_create("tls_session");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_tls_cache_tls12_both_workers);
    tcase_add_test(tc, test_tls_cache_tls13_stateful_tickets);
    tcase_add_test(tc, test_tls_cache_tls13_stateful_both_workers);
    tcase_add_test(tc, test_tls_cache_off_no_resumption);
    tcase_add_test(tc, test_tls_cache_not_across_certificates);
    tcase_add_test(tc, test_tls_cache_survives_reload);
    tcase_add_test(tc, test_tls_cache_full_evicts_oldest);
    tcase_add_test(tc, test_tls_tickets_rotate_on_reload);
    tcase_add_test(tc, test_tls_ticket_key_files);
    tcase_add_test(tc, test_tls_stapling_file);
    tcase_add_test(tc, test_tls_variables);
    tcase_add_test(tc, test_tls_session_conftest_errors);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(tls_session_suite)
