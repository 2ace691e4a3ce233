/*
 * TLS to upstreams (proxy_pass https://, proxy_ssl_*) end to end. The
 * upstream is a real TLS server, Debian's nginx (auto/deps installs it),
 * in front of the plain test backend:
 *
 *     client -> zproxy -> TLS -> nginx -> tests/backend/zpt_backend
 *
 * nginx listens on three ports: A has two names (up.test, the default,
 * and alt.test, each with its own certificate from the test CA), B has a
 * certificate for up.test from another CA, C wants a client certificate
 * from the test CA. Its access log says, per request, which connection it
 * came on, whether the TLS session was resumed, the SNI name and the
 * client certificate, so the tests read what the upstream saw rather than
 * what zproxy says it did. The keys and certificates are made at setup
 * with the openssl command. nginx is in auto/deps: without it the tests
 * that need it fail.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"
#include "zpt_client.h"

#define NGINX "/usr/sbin/nginx"

typedef struct {
    zpt_srv_t     s;
    zpt_backend_t b;
    pid_t         master;
    pid_t         worker;
    pid_t         nginx;
    int           pa, pb, pc;   /* nginx: the two names, the foreign CA, client certs */
    char          dir[300];      /* <prefix>/conf: keys and certificates */
    char          ngx_access[ZPT_PATH_MAX];
    char          ngx_error[ZPT_PATH_MAX];
} up_t;


static int
sh(char *out, size_t size, const char *fmt, ...)
{
    char        cmd[8192], err[8192];
    va_list     ap;
    int         rc;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);

    err[0] = '\0';
    rc     = zpt_run_argv(argv, out, size, err, sizeof(err));
    if (out && strlen(out) + strlen(err) + 1 < size) {
        strcat(out, err);
    }
    return rc;
}


static int
have_nginx(void)
{
    return access(NGINX, X_OK) == 0;
}


/* The test PKI in dir: ca.crt (the test CA), up.crt (up.test), alt.crt
 * (alt.test), client.crt (CN=zproxy-client), all from it; foreign.crt,
 * up.test from another CA, ca2.crt, which trust.crt is a copy of (for the
 * reload test). P-256 keys: quick to make. */
static void
make_pki(const char *dir)
{
    static char out[65536];
    int         rc;

    rc = sh(out, sizeof(out),
            "set -e; cd %s; exec 2>&1 </dev/null\n"
            "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
            "openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj '/CN=zpt CA' >/dev/null\n"
            "openssl req -x509 $ec -keyout ca2.key -out ca2.crt -days 2 -subj '/CN=zpt other CA'"
            "  >/dev/null\n"
            "leaf() { # name cn ca ext\n"
            "  openssl req -new $ec -keyout $1.key -out $1.csr -subj \"/CN=$2\" >/dev/null\n"
            "  printf '%%s\\n' \"$4\" > $1.ext\n"
            "  openssl x509 -req -in $1.csr -CA $3.crt -CAkey $3.key -CAcreateserial -out $1.crt"
            "    -days 2 -extfile $1.ext >/dev/null\n"
            "}\n"
            "leaf up up.test ca subjectAltName=DNS:up.test\n"
            "leaf alt alt.test ca subjectAltName=DNS:alt.test\n"
            "leaf foreign up.test ca2 subjectAltName=DNS:up.test\n"
            "leaf client zproxy-client ca extendedKeyUsage=clientAuth\n"
            "cp ca2.crt trust.crt\n",
            dir);
    ck_assert_msg(rc == 0, "making the test certificates failed: %s", out);
}


static void
nginx_start(up_t *t)
{
    char        conf[ZPT_PATH_MAX], pid[ZPT_PATH_MAX];
    const char *d = t->dir;

    snprintf(conf, sizeof(conf), "%s/nginx.conf", d);
    snprintf(pid, sizeof(pid), "%s/nginx.pid", d);
    snprintf(t->ngx_access, sizeof(t->ngx_access), "%s/logs/nginx-access.log", t->s.prefix);
    snprintf(t->ngx_error, sizeof(t->ngx_error), "%s/logs/nginx-error.log", t->s.prefix);

    if (t->pa == 0) { /* a restart keeps the ports */
        t->pa = zpt_free_port();
        t->pb = zpt_free_port();
        t->pc = zpt_free_port();
    }
    ck_assert(t->pa > 0 && t->pb > 0 && t->pc > 0);

#define NGX_SRV(listen, name, cert, extra)                                                         \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d ssl;\n"                                                           \
    "        server_name " name ";\n"                                                              \
    "        ssl_certificate %s/" cert ".crt;\n"                                                   \
    "        ssl_certificate_key %s/" cert ".key;\n" extra                                         \
    "        location / { proxy_pass http://127.0.0.1:%d; }\n"                                     \
    "    }\n"

    ck_assert_int_eq(
        zpt_write_file(conf,
                       "daemon off;\n"
                       "master_process off;\n"
                       "worker_processes 1;\n"
                       "pid %s;\n"
                       "error_log %s info;\n"
                       "events { worker_connections 256; }\n"
                       "http {\n"
                       "    client_body_temp_path %s/ngx_body;\n"
                       "    proxy_temp_path %s/ngx_proxy;\n"
                       "    fastcgi_temp_path %s/ngx_fcgi;\n"
                       "    uwsgi_temp_path %s/ngx_uwsgi;\n"
                       "    scgi_temp_path %s/ngx_scgi;\n"
                       "    log_format t '$server_port c=$connection n=$connection_requests"
                       " reused=$ssl_session_reused sni=\"$ssl_server_name\""
                       " dn=\"$ssl_client_s_dn\" $request_method $uri $status';\n"
                       "    access_log %s t;\n"
                       "    keepalive_timeout 60s;\n"
                       "    ssl_session_cache shared:zpt:1m;\n"
                       "    proxy_http_version 1.1;\n"
                       "    proxy_set_header Connection \"\";\n"
                       "    proxy_set_header Host $host;\n"
                       NGX_SRV(pa, "up.test", "up", "")
                       NGX_SRV(pa, "alt.test", "alt", "")
                       NGX_SRV(pb, "up.test", "foreign", "")
                       NGX_SRV(pc, "up.test", "up",
                               "        ssl_verify_client on;\n"
                               "        ssl_client_certificate %s/ca.crt;\n")
                       "}\n",
                       pid, t->ngx_error, d, d, d, d, d, t->ngx_access,
                       t->pa, d, d, t->b.port,
                       t->pa, d, d, t->b.port,
                       t->pb, d, d, t->b.port,
                       t->pc, d, d, d, t->b.port),
        0);
#undef NGX_SRV

    t->nginx = fork();
    ck_assert(t->nginx >= 0);
    if (t->nginx == 0) {
        int fd = open(t->ngx_error, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(NGINX, NGINX, "-p", d, "-e", t->ngx_error, "-c", conf, (char *) NULL);
        _exit(127);
    }

    ck_assert_msg(zpt_wait_port(t->pa, zpt_wait_ms()) && zpt_wait_port(t->pb, zpt_wait_ms())
                      && zpt_wait_port(t->pc, zpt_wait_ms()),
                  "nginx did not start: %s", zpt_read_file(t->ngx_error, NULL));
}


/*
 * zproxy (one worker, so that the per-worker session and connection
 * counts are exact) with these upstreams and routes; %A, %B, %C in them
 * are nginx's ports, %P the plain backend's. Returns 1 (nginx missing
 * fails the test).
 */
static int
up_start(up_t *t, const char *http, const char *routes)
{
    static char conf[32768], h[8192], r[8192];

    memset(t, 0, sizeof(*t));

    /* a missing peer is a failure, not a skip: a test that passes without
     * checking anything would hide a broken install */
    ck_assert_msg(have_nginx(), "%s is not installed (sh auto/deps installs it)", NGINX);

    ck_assert_int_eq(zpt_srv_init(&t->s), 0);
    snprintf(t->dir, sizeof(t->dir), "%s/conf", t->s.prefix);
    make_pki(t->dir);
    zpt_backend_start(&t->b, "B", 0);
    nginx_start(t);

    /* the ports into the text: %A %B %C %P */
    for (int k = 0; k < 2; k++) {
        const char *src = k ? routes : http;
        char       *dst = k ? r : h, *p = dst;
        size_t      room = k ? sizeof(r) : sizeof(h);

        for (; *src && (size_t) (p - dst) + 8 < room; src++) {
            if (src[0] == '%' && src[1] && strchr("ABCP", src[1])) {
                p += sprintf(p, "%d",
                             src[1] == 'A'   ? t->pa
                             : src[1] == 'B' ? t->pb
                             : src[1] == 'C' ? t->pc
                                             : t->b.port);
                src++;
            } else {
                *p++ = *src;
            }
        }
        *p = '\0';
    }

    snprintf(conf, sizeof(conf),
             "worker_processes 1;\n"
             "daemon off;\n"
             "pid logs/zproxy.pid;\n"
             "error_log logs/error.log info;\n"
             "events { worker_connections 256; }\n"
             "http {\n"
             "    access_log logs/access.log;\n"
             "%s"
             "    server {\n"
             "        listen 127.0.0.1:%d;\n"
             "%s"
             "    }\n"
             "}\n",
             h, t->s.port, r);
    ck_assert_int_eq(zpt_srv_conf(&t->s, "%s", conf), 0);

    t->master = zpt_srv_start(&t->s);
    ck_assert_msg(t->master > 0, "zproxy did not start");
    ck_assert_msg(zpt_wait_workers(t->master, 1, NULL, 0, &t->worker, zpt_wait_ms()),
                  "no worker");
    return 1;
}


/* The one worker still serves, and nothing crashed. */
static void
assert_alive(up_t *t)
{
    pid_t      w;
    char       first[1024];
    zpt_resp_t r;

    ck_assert_msg(zpt_workers(t->master, &w, 1) == 1 && w == t->worker,
                  "the worker changed: %d -> %d", t->worker, w);
    ck_assert_msg(zpt_log_severe(t->s.error_log, first, sizeof(first)) == 0, "%s", first);
    zpt_req(t->s.port, "GET", "localhost", "/nonexistent-route-check", NULL, &r);
    ck_assert_int_eq(r.status, 404);
}


/* Waits until nginx logged n lines containing what; returns how many. */
static int
ngx_lines(up_t *t, const char *what, int n)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       k;

    while ((k = zpt_count_lines(t->ngx_access, what)) < n && zpt_now_ms() < end) {
        zpt_msleep(20);
    }
    return k;
}


static void
up_stop(up_t *t)
{
    int status;

    if (t->nginx > 0) {
        zpt_kill(t->nginx, SIGKILL);
        waitpid(t->nginx, &status, 0);
    }
    zpt_backend_stop(&t->b);
    zpt_teardown();
}


static uint64_t
fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (n--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }
    return h;
}


/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_proxy_tls_get_post)
{
    up_t        t;
    zpt_resp_t  r;
    char        want[128], head[512], *req;
    size_t      n = 100000, hl, i;
    static char body[100000], out[4096];

    if (!up_start(&t, "",
                  "        route /plain/ { proxy_pass https://127.0.0.1:%A/; }\n"
                  "        route /big/ { proxy_pass https://127.0.0.1:%A/size/; }\n")) {
        return;
    }

    zpt_req(t.s.port, "GET", "localhost", "/plain/echo/x?y=1", NULL, &r);
    ck_assert_msg(r.status == 200, "GET: %d %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "\"target\":\"/echo/x?y=1\"") != NULL, "%s", r.body);
    ck_assert_int_eq(ngx_lines(&t, "GET /echo/x 200", 1), 1);

    /* a body of many TLS records both ways */
    for (i = 0; i < n; i++) {
        body[i] = "0123456789abcdef"[(i * 7) % 16];
    }
    hl = (size_t) snprintf(head, sizeof(head),
                           "POST /plain/upload HTTP/1.1\r\nHost: localhost\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                           n);
    req = malloc(hl + n + 1);
    ck_assert(req != NULL);
    memcpy(req, head, hl);
    memcpy(req + hl, body, n);
    req[hl + n] = '\0';
    zpt_one(t.s.port, req, &r, 0, "POST");
    free(req);
    snprintf(want, sizeof(want), "length=%zu fnv1a64=%016llx\n", n,
             (unsigned long long) fnv1a64((unsigned char *) body, n));
    ck_assert_msg(r.status == 200 && strcmp(r.body, want) == 0, "POST: %d %s (want %s)", r.status,
                  r.body, want);

    /* 1 MB down: curl, the raw client keeps 256 KiB */
    ck_assert_int_eq(sh(out, sizeof(out),
                        "curl -s -o /dev/null -w '%%{http_code} %%{size_download}'"
                        " http://127.0.0.1:%d/big/1048576",
                        t.s.port),
                     0);
    ck_assert_msg(strcmp(out, "200 1048576") == 0, "1 MB: %s", out);

    assert_alive(&t);
    up_stop(&t);
}
END_TEST


START_TEST(test_proxy_tls_verify)
{
    up_t       t;
    zpt_resp_t r;
    char       line[128];

    if (!up_start(&t,
                  "    upstream up.test { server 127.0.0.1:%A; }\n"
                  "    upstream mixed { server 127.0.0.1:%B; server 127.0.0.1:%A; }\n"
                  "    upstream foreign { server 127.0.0.1:%B; }\n"
                  "    proxy_ssl_trusted_certificate ca.crt;\n"
                  "    proxy_ssl_verify on;\n",
                  /* the name: the upstream's ("up.test") */
                  "        route /good/ { proxy_pass https://up.test/; }\n"
                  "        route /wrongname/ { proxy_pass https://up.test/;"
                  " proxy_ssl_name wrong.test; }\n"
                  "        route /foreign/ { proxy_pass https://127.0.0.1:%B/;"
                  " proxy_ssl_name up.test; }\n"
                  "        route /mixed/ { proxy_pass https://mixed/; proxy_ssl_name up.test; }\n"
                  /* the default name of a literal address is that address */
                  "        route /ipname/ { proxy_pass https://127.0.0.1:%A/; }\n"
                  /* its own group: /foreign/ made 127.0.0.1:%B fail in that one */
                  "        route /off/ { proxy_pass https://foreign/;"
                  " proxy_ssl_verify off; }\n")) {
        return;
    }

    zpt_req(t.s.port, "GET", "localhost", "/good/", NULL, &r);
    ck_assert_msg(r.status == 200 && strcmp(r.body, "backend B\n") == 0, "good: %d %s", r.status,
                  r.body);

    /* the name is checked: no request reaches the upstream */
    zpt_req(t.s.port, "GET", "localhost", "/wrongname/", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    snprintf(line, sizeof(line), "upstream: \"https://127.0.0.1:%d/wrongname/\"", t.pa);
    /* OpenSSL 3.0 says "hostname mismatch", 1.1 "Hostname mismatch" */
    ck_assert_msg(zpt_wait_file_line(t.s.error_log, "upstream SSL certificate verify error: (62:",
                                     line, zpt_wait_ms()),
                  "no verify error line for the wrong name");
    ck_assert(zpt_file_has_line(t.s.error_log, "ostname mismatch) while SSL handshaking to upstream",
                                line));

    /* the chain is checked */
    zpt_req(t.s.port, "GET", "localhost", "/foreign/", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    snprintf(line, sizeof(line), "upstream: \"https://127.0.0.1:%d/foreign/\"", t.pb);
    ck_assert_msg(zpt_wait_file_line(t.s.error_log,
                                     "upstream SSL certificate verify error: (20:unable to get "
                                     "local issuer certificate)",
                                     line, zpt_wait_ms()),
                  "no verify error line for the foreign certificate");
    ck_assert_int_eq(ngx_lines(&t, " GET /", 1), 1); /* only /good/ got through */

    /* an address is checked as an address (up.crt has no IP entry) */
    zpt_req(t.s.port, "GET", "localhost", "/ipname/", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    ck_assert_msg(zpt_wait_file_line(t.s.error_log, "verify error: (64:", "/ipname/",
                                     zpt_wait_ms()),
                  "no IP address mismatch line");

    /* a verify failure is a failed peer: the next one answers */
    zpt_req(t.s.port, "GET", "localhost", "/mixed/", NULL, &r);
    ck_assert_msg(r.status == 200, "mixed 1: %d", r.status);
    zpt_req(t.s.port, "GET", "localhost", "/mixed/", NULL, &r);
    ck_assert_msg(r.status == 200, "mixed 2: %d", r.status);
    snprintf(line, sizeof(line), "upstream: \"https://127.0.0.1:%d/mixed/\"", t.pb);
    ck_assert(zpt_file_has_line(t.s.error_log, "certificate verify error", line));

    /* verify off takes any certificate */
    zpt_req(t.s.port, "GET", "localhost", "/off/", NULL, &r);
    ck_assert_msg(r.status == 200, "verify off: %d", r.status);

    assert_alive(&t);
    up_stop(&t);
}
END_TEST


START_TEST(test_proxy_tls_sni_and_client_cert)
{
    up_t       t;
    zpt_resp_t r;

    if (!up_start(&t, "",
                  "        route /sni/ { proxy_pass https://127.0.0.1:%A;"
                  " proxy_ssl_server_name on; proxy_ssl_name alt.test;"
                  " proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.crt; }\n"
                  "        route /nosni/ { proxy_pass https://127.0.0.1:%A;"
                  " proxy_ssl_name alt.test; }\n"
                  "        route /cert/ { proxy_pass https://127.0.0.1:%C;"
                  " proxy_ssl_certificate client.crt; proxy_ssl_certificate_key client.key; }\n"
                  "        route /nocert/ { proxy_pass https://127.0.0.1:%C; }\n")) {
        return;
    }

    /* SNI alt.test: nginx picks the alt.test server and its certificate,
     * which the check of the name alt.test accepts */
    zpt_req(t.s.port, "GET", "localhost", "/sni/a", NULL, &r);
    ck_assert_msg(r.status == 200, "sni: %d", r.status);
    ck_assert_int_eq(ngx_lines(&t, "sni=\"alt.test\" dn=\"-\" GET /sni/a 200", 1), 1);

    /* off (the default): no name is sent */
    zpt_req(t.s.port, "GET", "localhost", "/nosni/a", NULL, &r);
    ck_assert_msg(r.status == 200, "no sni: %d", r.status);
    ck_assert_int_eq(ngx_lines(&t, "sni=\"-\" dn=\"-\" GET /nosni/a 200", 1), 1);

    /* the client certificate is presented */
    zpt_req(t.s.port, "GET", "localhost", "/cert/a", NULL, &r);
    ck_assert_msg(r.status == 200, "client cert: %d %s", r.status, r.body);
    ck_assert_int_eq(ngx_lines(&t, "dn=\"CN=zproxy-client\" GET /cert/a 200", 1), 1);

    /* without one, nginx refuses the request (its 400 comes through) */
    zpt_req(t.s.port, "GET", "localhost", "/nocert/a", NULL, &r);
    ck_assert_msg(r.status == 400 && strstr(r.body, "No required SSL certificate") != NULL,
                  "no client cert: %d %s", r.status, r.body);

    assert_alive(&t);
    up_stop(&t);
}
END_TEST


/* n requests to path, each on a new upstream connection (no keepalive):
 * how many nginx saw with a resumed session and how many without. */
static void
count_resumed(up_t *t, const char *path, int n, int *resumed, int *full)
{
    int        i;
    char       what[256];
    zpt_resp_t r;

    for (i = 0; i < n; i++) {
        zpt_req(t->s.port, "GET", "localhost", path, NULL, &r);
        ck_assert_msg(r.status == 200, "%s %d: %d", path, i, r.status);
    }
    snprintf(what, sizeof(what), "GET %s 200", path);
    ck_assert_int_eq(ngx_lines(t, what, n), n);

    snprintf(what, sizeof(what), "reused=r sni=\"-\" dn=\"-\" GET %s 200", path);
    *resumed = zpt_count_lines(t->ngx_access, what);
    snprintf(what, sizeof(what), "reused=. sni=\"-\" dn=\"-\" GET %s 200", path);
    *full = zpt_count_lines(t->ngx_access, what);
}


START_TEST(test_proxy_tls_session_reuse)
{
    up_t t;
    int  resumed, full;

    if (!up_start(&t, "",
                  "        route /reuse/ { proxy_pass https://127.0.0.1:%A; }\n"
                  "        route /noreuse/ { proxy_pass https://127.0.0.1:%A;"
                  " proxy_ssl_session_reuse off; }\n"
                  "        route /tls12/ { proxy_pass https://127.0.0.1:%A;"
                  " proxy_ssl_protocols TLSv1.2; }\n")) {
        return;
    }

    /* one worker: one full handshake, then the session is offered */
    count_resumed(&t, "/reuse/", 5, &resumed, &full);
    ck_assert_msg(full == 1 && resumed == 4, "reuse on: %d full, %d resumed", full, resumed);

    count_resumed(&t, "/noreuse/", 3, &resumed, &full);
    ck_assert_msg(full == 3 && resumed == 0, "reuse off: %d full, %d resumed", full, resumed);

    /* TLS 1.2 sessions come at the end of the handshake, not as tickets */
    count_resumed(&t, "/tls12/", 3, &resumed, &full);
    ck_assert_msg(full == 1 && resumed == 2, "TLSv1.2: %d full, %d resumed", full, resumed);

    assert_alive(&t);
    up_stop(&t);
}
END_TEST


START_TEST(test_proxy_tls_keepalive_pool)
{
    up_t       t;
    int        i, c0 = -1, c, n, lines = 0;
    char      *log, *p;
    zpt_resp_t r;

    if (!up_start(&t, "    upstream pooled { server 127.0.0.1:%A; keepalive 4; }\n",
                  "        route /ka/ { proxy_pass https://pooled; }\n"
                  "        route /ka2/ { proxy_pass https://pooled;"
                  " proxy_ssl_server_name on; proxy_ssl_name alt.test; }\n")) {
        return;
    }

    for (i = 0; i < 6; i++) {
        zpt_req(t.s.port, "GET", "localhost", "/ka/x", NULL, &r);
        ck_assert_msg(r.status == 200, "request %d: %d", i, r.status);
    }
    ck_assert_int_eq(ngx_lines(&t, "GET /ka/x 200", 6), 6);

    /* six requests, one TLS connection: the pooled one kept its session */
    log = zpt_read_file(t.ngx_access, NULL);
    ck_assert(log != NULL);
    for (p = log; (p = strstr(p, " c=")) != NULL; p++) {
        if (sscanf(p, " c=%d n=%d", &c, &n) != 2 || strstr(p, "GET /ka/x") == NULL) {
            continue;
        }
        c0 = c0 == -1 ? c : c0;
        ck_assert_msg(c == c0 && n == lines + 1, "not one connection:\n%s", log);
        lines++;
    }
    free(log);
    ck_assert_int_eq(lines, 6);

    /* nginx restarts: the idle TLS connection it closed is dropped, the
     * next request makes a new one */
    zpt_kill(t.nginx, SIGKILL);
    waitpid(t.nginx, NULL, 0);
    nginx_start(&t);
    zpt_req(t.s.port, "GET", "localhost", "/ka/y", NULL, &r);
    ck_assert_msg(r.status == 200, "after the restart: %d", r.status);
    ck_assert_int_eq(ngx_lines(&t, "n=1 reused=. sni=\"-\" dn=\"-\" GET /ka/y 200", 1), 1);

    /* other TLS settings do not get that connection (it was made for
     * another name) */
    zpt_req(t.s.port, "GET", "localhost", "/ka2/x", NULL, &r);
    ck_assert_msg(r.status == 200, "ka2: %d", r.status);
    ck_assert_int_eq(ngx_lines(&t, "n=1 reused=. sni=\"alt.test\" dn=\"-\" GET /ka2/x 200", 1), 1);

    assert_alive(&t);
    up_stop(&t);
}
END_TEST


START_TEST(test_proxy_tls_failures)
{
    up_t               t;
    int                ls, hang;
    char               routes[1024];
    socklen_t          len;
    zpt_resp_t         r;
    struct sockaddr_in sin;

    /* a port that accepts TCP and never answers the ClientHello */
    ls = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(ls >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(bind(ls, (struct sockaddr *) &sin, sizeof(sin)) == 0 && listen(ls, 16) == 0);
    len = sizeof(sin);
    ck_assert(getsockname(ls, (struct sockaddr *) &sin, &len) == 0);
    hang = ntohs(sin.sin_port);

    snprintf(routes, sizeof(routes),
             "        route /hang/ { proxy_pass https://127.0.0.1:%d/;"
             " proxy_connect_timeout 1s; }\n"
             "        route /plainhttp/ { proxy_pass https://127.0.0.1:%%P/; }\n"
             "        route /ok/ { proxy_pass https://ok/; }\n",
             hang);
    /* max_fails=0: nginx's restart below is not held against it */
    if (!up_start(&t, "    upstream ok { server 127.0.0.1:%A max_fails=0; }\n", routes)) {
        close(ls);
        return;
    }

    /* the handshake is bounded by proxy_connect_timeout */
    zpt_req(t.s.port, "GET", "localhost", "/hang/", NULL, &r);
    ck_assert_int_eq(r.status, 504);
    ck_assert(zpt_wait_file_line(t.s.error_log, "upstream timed out",
                                 "while SSL handshaking to upstream", zpt_wait_ms()));

    /* TLS to a plain HTTP server: it answers the ClientHello with a 400 */
    zpt_req(t.s.port, "GET", "localhost", "/plainhttp/", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    ck_assert_msg(zpt_wait_file_line(t.s.error_log, "SSL_do_handshake() failed",
                                     "while SSL handshaking to upstream", zpt_wait_ms()),
                  "no handshake error line");
    zpt_req(t.s.port, "GET", "localhost", "/plainhttp/", NULL, &r);
    ck_assert_int_eq(r.status, 502);

    /* nginx goes away: connect errors; it comes back: served again */
    zpt_kill(t.nginx, SIGKILL);
    waitpid(t.nginx, NULL, 0);
    t.nginx = 0;
    zpt_req(t.s.port, "GET", "localhost", "/ok/", NULL, &r);
    ck_assert_int_eq(r.status, 502);
    nginx_start(&t);
    zpt_req(t.s.port, "GET", "localhost", "/ok/", NULL, &r);
    ck_assert_int_eq(r.status, 200);

    close(ls);
    assert_alive(&t);
    up_stop(&t);
}
END_TEST


START_TEST(test_proxy_tls_conftest)
{
    zpt_srv_t s;
    char      dir[ZPT_PATH_MAX];

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    snprintf(dir, sizeof(dir), "%s/conf", s.prefix);
    make_pki(dir);

#define CONF(r1, r2)                                                                               \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "events { worker_connections 64; }\n"                                                          \
    "http {\n"                                                                                     \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                               \
    "        route / {\n"                                                                          \
    "            proxy_pass https://127.0.0.1:1/;\n"                                               \
    "            " r1 "\n"                                                                         \
    "            " r2 "\n"                                                                         \
    "        }\n"                                                                                  \
    "    }\n"                                                                                      \
    "}\n"

    ck_assert_int_eq(zpt_srv_conf(&s, CONF("proxy_ssl_verify on;", ""), s.port), 0);
    zpt_conftest_error(&s, 9, "no \"proxy_ssl_trusted_certificate\"", "proxy_ssl_verify on");

    ck_assert_int_eq(zpt_srv_conf(&s,
                                  CONF("proxy_ssl_verify on;",
                                       "proxy_ssl_trusted_certificate missing.crt;"),
                                  s.port),
                     0);
    zpt_conftest_error(&s, 10, "cannot read trusted certificate", "missing.crt");

    ck_assert_int_eq(zpt_srv_conf(&s,
                                  CONF("proxy_ssl_certificate client.crt;",
                                       "proxy_ssl_certificate_key up.key;"),
                                  s.port),
                     0);
    zpt_conftest_error(&s, 10, "does not match certificate", "client.crt");

    ck_assert_int_eq(zpt_srv_conf(&s, CONF("proxy_ssl_certificate client.crt;", ""), s.port), 0);
    zpt_conftest_error(&s, 9, "no \"proxy_ssl_certificate_key\"", NULL);

    ck_assert_int_eq(zpt_srv_conf(&s, CONF("proxy_ssl_certificate nope.crt;",
                                           "proxy_ssl_certificate_key client.key;"),
                                  s.port),
                     0);
    zpt_conftest_error(&s, 9, "cannot read certificate", "nope.crt");

    ck_assert_int_eq(zpt_srv_conf(&s, CONF("proxy_ssl_protocols TLSv1.2 SSLv3;", ""), s.port), 0);
    zpt_conftest_error(&s, 9, "SSLv3", NULL);

    ck_assert_int_eq(zpt_srv_conf(&s, CONF("proxy_ssl_ciphers NOSUCHCIPHER;", ""), s.port), 0);
    zpt_conftest_error(&s, 8, "proxy_ssl_ciphers \"NOSUCHCIPHER\" is invalid", NULL);

    /* all good */
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  CONF("proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.crt;",
                                       "proxy_ssl_certificate client.crt;"
                                       " proxy_ssl_certificate_key client.key;"),
                                  s.port),
                     0);
    {
        char err[8192];
        ck_assert_msg(zpt_conftest(&s, err, sizeof(err)) == 0, "%s", err);
    }
#undef CONF
    zpt_teardown();
}
END_TEST


/* A reload builds the SSL_CTXs again: a trusted CA that changed is used,
 * a broken one fails the reload and the old configuration serves on. */
static int
wait_status(up_t *t, const char *path, int status)
{
    long long  end = zpt_now_ms() + zpt_wait_ms();
    zpt_resp_t r;

    for (;;) {
        zpt_req(t->s.port, "GET", "localhost", path, NULL, &r);
        if (r.status == status || zpt_now_ms() >= end) {
            return r.status;
        }
        zpt_msleep(100);
    }
}


START_TEST(test_proxy_tls_reload)
{
    up_t        t;
    char        path[ZPT_PATH_MAX], first[1024];
    static char out[4096];

    /* trust.crt starts as the other CA's certificate */
    if (!up_start(&t, "",
                  "        route /v/ { proxy_pass https://127.0.0.1:%A/;"
                  " proxy_ssl_verify on; proxy_ssl_trusted_certificate trust.crt;"
                  " proxy_ssl_name up.test; }\n")) {
        return;
    }

    ck_assert_int_eq(wait_status(&t, "/v/", 502), 502);

    ck_assert_int_eq(sh(out, sizeof(out), "cp %s/ca.crt %s/trust.crt", t.dir, t.dir), 0);
    ck_assert_int_eq(zpt_kill(t.master, SIGHUP), 0);
    ck_assert_int_eq(wait_status(&t, "/v/", 200), 200);

    snprintf(path, sizeof(path), "%s/trust.crt", t.dir);
    ck_assert_int_eq(zpt_write_file(path, "-----BEGIN CERTIFICATE-----\nbroken\n"), 0);
    ck_assert_int_eq(zpt_kill(t.master, SIGHUP), 0);
    ck_assert_msg(zpt_wait_file_line(t.s.error_log, "cannot load trusted certificate",
                                     "trust.crt", zpt_wait_ms()),
                  "no error line for the broken CA file");
    ck_assert(zpt_alive(t.master));
    ck_assert_int_eq(wait_status(&t, "/v/", 200), 200);
    ck_assert_msg(zpt_log_severe(t.s.error_log, first, sizeof(first)) == 0
                      || strstr(first, "trust.crt") != NULL,
                  "%s", first);

    up_stop(&t);
}
END_TEST


static Suite *
proxy_tls_suite(void)
{
    Suite *s  = suite_create("proxy_tls");
    TCase *tc = tcase_create("proxy_tls");

    zpt_backend_build();

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_proxy_tls_get_post);
    tcase_add_test(tc, test_proxy_tls_verify);
    tcase_add_test(tc, test_proxy_tls_sni_and_client_cert);
    tcase_add_test(tc, test_proxy_tls_session_reuse);
    tcase_add_test(tc, test_proxy_tls_keepalive_pool);
    tcase_add_test(tc, test_proxy_tls_failures);
    tcase_add_test(tc, test_proxy_tls_conftest);
    tcase_add_test(tc, test_proxy_tls_reload);
    suite_add_tcase(s, tc);
    return s;
}

ZPT_MAIN(proxy_tls_suite)
