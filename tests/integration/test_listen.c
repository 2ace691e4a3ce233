/*
 * listen: IPv6, IPv4 and IPv6 in one server, reuseport across reloads
 * under load, socket options (backlog, deferred, fastopen), name-based
 * servers sharing one address, and a port already taken by someone else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zpt_harness.h"

#define MAIN_CONF                                                                                  \
    "worker_processes 2;\n"                                                                        \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 1024; }\n"


/* A free TCP port on [::1], or -1 when ::1 cannot be bound here. */
static int
free_port6(void)
{
    struct sockaddr_in6 sin6;
    socklen_t           len = sizeof(sin6);
    int                 fd, port;

    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr   = in6addr_loopback;
    if (bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)) == -1
        || getsockname(fd, (struct sockaddr *) &sin6, &len) == -1) {
        close(fd);
        return -1;
    }
    port = ntohs(sin6.sin6_port);
    close(fd);
    return port;
}


/* Like zpt_connect() for [::1]:port. */
static int
connect6(int port)
{
    struct sockaddr_in6 sin6;
    struct timeval      tv;
    int                 fd, e;

    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    tv.tv_sec  = zpt_wait_ms() / 1000;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr   = in6addr_loopback;
    sin6.sin6_port   = htons((unsigned short) port);
    if (connect(fd, (struct sockaddr *) &sin6, sizeof(sin6)) == -1) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}


/* Sends a whole request (string) on fd and reads one response. 0 or -1. */
static int
request(int fd, const char *req, zpt_resp_t *r)
{
    size_t  len = strlen(req), off = 0;
    ssize_t n;

    while (off < len) {
        n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            snprintf(r->error, sizeof(r->error), "send: %s", strerror(errno));
            return -1;
        }
        off += (size_t) n;
    }
    return zpt_http_read(fd, r);
}


/* GET / with the given Host over a fresh 127.0.0.1 connection. */
static int
get_host(int port, const char *host, zpt_resp_t *r)
{
    char req[512];
    int  fd, rc;

    fd = zpt_connect(port);
    if (fd == -1) {
        snprintf(r->error, sizeof(r->error), "connect: %s", strerror(errno));
        return -1;
    }
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
    rc = request(fd, req, r);
    close(fd);
    return rc;
}


/*
 * Starts zproxy with s's config and waits (bounded) until [::1]:port6
 * accepts and the pid file holds a pid. Returns the master pid.
 */
static pid_t
start_v6(zpt_srv_t *s, int port6)
{
    const char *args[] = {"-p", s->prefix, "-c", "conf/zproxy.conf", NULL};
    long long   end;
    int         st, fd;

    s->pid = zpt_spawn(args, s->stderr_log);
    ck_assert(s->pid > 0);

    end = zpt_now_ms() + zpt_wait_ms();
    for (;;) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            zpt_srv_dump(s);
            ck_abort_msg("zproxy exited early (wait status 0x%x)", st);
        }
        fd = connect6(port6);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (zpt_now_ms() >= end) {
            zpt_srv_dump(s);
            ck_abort_msg("[::1]:%d never accepted", port6);
        }
        zpt_msleep(20);
    }
    ck_assert_msg(zpt_wait_pidfile(s->pidfile, 0, zpt_wait_ms()) > 0, "no pid file");
    return s->pid;
}


START_TEST(test_listen_ipv6)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    int        port6, fd;

    port6 = free_port6();
    if (port6 < 0) {
        fprintf(stderr, "test_listen_ipv6: ::1 unavailable (%s), skipped\n", strerror(errno));
        return;
    }

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  MAIN_CONF "http {\n"
                                            "    server {\n"
                                            "        listen [::1]:%d;\n"
                                            "        route / { return 200 \"six\\n\"; }\n"
                                            "    }\n"
                                            "}\n",
                                  port6),
                     0);
    start_v6(&s, port6);

    fd = connect6(port6);
    ck_assert_msg(fd >= 0, "connect [::1]:%d: %s", port6, strerror(errno));
    ck_assert_msg(request(fd, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "six\n");
    ck_assert(!r.conn_close);
    /* keep-alive over IPv6 too */
    ck_assert_msg(zpt_http_get(fd, "/", 1, &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "six\n");
    close(fd);

    zpt_teardown();
}
END_TEST


START_TEST(test_listen_v4_and_v6)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    int        port6, fd;

    port6 = free_port6();
    if (port6 < 0) {
        fprintf(stderr, "test_listen_v4_and_v6: ::1 unavailable (%s), skipped\n",
                strerror(errno));
        return;
    }

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  MAIN_CONF "http {\n"
                                            "    server {\n"
                                            "        listen 127.0.0.1:%d;\n"
                                            "        listen [::1]:%d;\n"
                                            "        route / { return 200 \"both\\n\"; }\n"
                                            "    }\n"
                                            "}\n",
                                  s.port, port6),
                     0);
    start_v6(&s, port6);
    ck_assert_msg(zpt_wait_port(s.port, zpt_wait_ms()), "127.0.0.1:%d not accepting", s.port);

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "v4: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "both\n");

    fd = connect6(port6);
    ck_assert_msg(fd >= 0, "connect [::1]:%d: %s", port6, strerror(errno));
    ck_assert_msg(zpt_http_get(fd, "/", 1, &r) == 0, "v6: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "both\n");
    close(fd);

    zpt_teardown();
}
END_TEST


#define RELOADS 3
#define CONNS   8

START_TEST(test_listen_reuseport_reloads)
{
    zpt_srv_t        s;
    zpt_resp_t       r;
    zpt_load_t      *l;
    zpt_load_stats_t st;
    pid_t            master, w0[2];
    long long        end;
    int              i, n;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  MAIN_CONF "http {\n"
                                            "    access_log logs/access.log;\n"
                                            "    server {\n"
                                            "        listen 127.0.0.1:%d reuseport;\n"
                                            "        route / { return 200 \"rp\\n\"; }\n"
                                            "    }\n"
                                            "}\n",
                                  s.port),
                     0);
    master = zpt_srv_start(&s);
    ck_assert_msg(master > 0, "zproxy did not start");
    ck_assert(zpt_wait_workers(master, 2, NULL, 0, w0, zpt_wait_ms()));

    ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "%s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "rp\n");

    l = zpt_load_start(s.port, CONNS, 200);
    ck_assert(l != NULL);
    ck_assert_msg(zpt_load_wait_ok(l, 100, zpt_wait_ms()), "no traffic before the reloads");

    for (i = 1; i <= RELOADS; i++) {
        ck_assert_int_eq(zpt_kill(master, SIGHUP), 0);
        end = zpt_now_ms() + zpt_wait_ms();
        while (zpt_count_lines(s.error_log, "reconfiguring") < i && zpt_now_ms() < end) {
            zpt_msleep(20);
        }
        n = zpt_count_lines(s.error_log, "reconfiguring");
        ck_assert_msg(n >= i, "reload %d: %d \"reconfiguring\" lines", i, n);
        ck_assert_msg(zpt_load_wait_ok(l, 100, zpt_wait_ms()), "no traffic after reload %d", i);
    }

    zpt_load_stop(l, &st);
    fprintf(stderr, "test_listen_reuseport_reloads: ok %ld, failed %ld, reconnects %ld\n", st.ok,
            st.fail, st.reconnects);
    ck_assert_msg(st.fail == 0, "%ld failed requests with reuseport during reloads (ok %ld): %s",
                  st.fail, st.ok, st.first_errors);

    ck_assert_msg(zpt_wait_workers(master, 2, w0, 2, NULL, zpt_wait_ms()),
                  "workers not replaced after the reloads");

    /* fresh connections still served, many times (each worker's socket) */
    for (i = 0; i < 20; i++) {
        ck_assert_msg(zpt_http_get_once(s.port, "/", &r) == 0, "after reloads, %d: %s", i,
                      r.error);
        ck_assert_int_eq(r.status, 200);
    }

    zpt_teardown();
}
END_TEST


/* Send-Q of the LISTEN socket on 127.0.0.1:port per `ss` (its backlog), or -1. */
static int
ss_backlog(int port)
{
    char        filter[64], out[4096], err[1024], state[32];
    const char *argv[] = {"/usr/bin/ss", "-Hltn", filter, NULL};
    int         recvq, sendq;

    if (access(argv[0], X_OK) != 0) {
        argv[0] = "/bin/ss";
        if (access(argv[0], X_OK) != 0) {
            return -2;
        }
    }
    snprintf(filter, sizeof(filter), "sport = :%d", port);
    if (zpt_run_argv(argv, out, sizeof(out), err, sizeof(err)) != 0) {
        return -2;
    }
    if (sscanf(out, "%31s %d %d", state, &recvq, &sendq) != 3) {
        return -1;
    }
    return sendq;
}


START_TEST(test_listen_socket_options)
{
    zpt_srv_t  s;
    zpt_resp_t r;
    char      *somax;
    int        fd, i, want, got;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(
        zpt_srv_conf(&s,
                     MAIN_CONF "http {\n"
                               "    server {\n"
                               "        listen 127.0.0.1:%d backlog=1024 deferred fastopen=16;\n"
                               "        route / { return 200 \"opts\\n\"; }\n"
                               "    }\n"
                               "}\n",
                     s.port),
        0);
    ck_assert_msg(zpt_srv_start(&s) > 0, "zproxy did not start with backlog/deferred/fastopen");

    /* with deferred accept the request must be sent for the connection to reach a worker */
    for (i = 0; i < 3; i++) {
        fd = zpt_connect(s.port);
        ck_assert(fd >= 0);
        ck_assert_msg(zpt_http_get(fd, "/", 0, &r) == 0, "%s", r.error);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, "opts\n");
        ck_assert_msg(zpt_http_get(fd, "/", 1, &r) == 0, "second request: %s", r.error);
        ck_assert_int_eq(r.status, 200);
        close(fd);
    }

    /* the listen queue has the configured length (capped by somaxconn) */
    got = ss_backlog(s.port);
    if (got == -2) {
        fprintf(stderr, "test_listen_socket_options: no ss, backlog not checked\n");
    } else {
        somax = zpt_read_file("/proc/sys/net/core/somaxconn", NULL);
        want  = 1024;
        if (somax != NULL && atoi(somax) > 0 && atoi(somax) < want) {
            want = atoi(somax);
        }
        free(somax);
        ck_assert_msg(got == want, "listen backlog %d per ss, expected %d", got, want);
    }

    zpt_teardown();
}
END_TEST


START_TEST(test_listen_server_names)
{
    zpt_srv_t  s;
    zpt_resp_t r;

    ck_assert_int_eq(zpt_srv_init(&s), 0);
    ck_assert_int_eq(zpt_srv_conf(&s,
                                  MAIN_CONF "http {\n"
                                            "    server {\n"
                                            "        listen 127.0.0.1:%d;\n"
                                            "        server_name a.test;\n"
                                            "        route / { return 200 \"A\\n\"; }\n"
                                            "    }\n"
                                            "    server {\n"
                                            "        listen 127.0.0.1:%d default_server;\n"
                                            "        server_name b.test;\n"
                                            "        route / { return 200 \"B\\n\"; }\n"
                                            "    }\n"
                                            "    server {\n"
                                            "        listen 127.0.0.1:%d;\n"
                                            "        server_name c.test;\n"
                                            "        route / { return 200 \"C\\n\"; }\n"
                                            "    }\n"
                                            "}\n",
                                  s.port, s.port, s.port),
                     0);
    ck_assert_msg(zpt_srv_start(&s) > 0, "zproxy did not start");

    ck_assert_msg(get_host(s.port, "a.test", &r) == 0, "a.test: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "A\n");

    ck_assert_msg(get_host(s.port, "b.test", &r) == 0, "b.test: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "B\n");

    ck_assert_msg(get_host(s.port, "c.test", &r) == 0, "c.test: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "C\n");

    /* case-insensitive, port in Host ignored */
    ck_assert_msg(get_host(s.port, "A.Test:8080", &r) == 0, "A.Test:8080: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "A\n");

    /* unknown names go to default_server, not to the first server */
    ck_assert_msg(get_host(s.port, "unknown.test", &r) == 0, "unknown.test: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "B\n");

    ck_assert_msg(get_host(s.port, "a.test.evil", &r) == 0, "a.test.evil: %s", r.error);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "B\n");

    zpt_teardown();
}
END_TEST


START_TEST(test_listen_port_in_use)
{
    zpt_srv_t          s;
    struct sockaddr_in sin;
    const char        *args[] = {"-p", NULL, "-c", "conf/zproxy.conf", NULL};
    char               want[64];
    char              *out;
    pid_t              pid;
    int                fd, st, fd2;

    ck_assert_int_eq(zpt_srv_init(&s), 0);

    /* someone else holds the port */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port        = htons((unsigned short) s.port);
    ck_assert_msg(bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0, "bind %d: %s", s.port,
                  strerror(errno));
    ck_assert(listen(fd, 16) == 0);

    ck_assert_int_eq(zpt_srv_default_conf(&s), 0);
    args[1] = s.prefix;
    pid     = zpt_spawn(args, s.stderr_log);
    ck_assert(pid > 0);

    ck_assert_msg(zpt_wait_exit(pid, zpt_wait_ms(), &st), "zproxy kept running on a taken port");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "zproxy on a taken port: wait status 0x%x",
                  st);

    out = zpt_read_file(s.stderr_log, NULL);
    ck_assert(out != NULL);
    snprintf(want, sizeof(want), "bind() to 127.0.0.1:%d failed", s.port);
    ck_assert_msg(strstr(out, want) != NULL, "stderr lacks \"%s\": %s", want, out);
    ck_assert_msg(strstr(out, "Address already in use") != NULL,
                  "stderr lacks \"Address already in use\": %s", out);
    free(out);

    ck_assert_msg(!zpt_exists(s.pidfile), "a pid file was left by the failed start");

    /* the other owner's socket is untouched: it still accepts */
    fd2 = zpt_connect(s.port);
    ck_assert_msg(fd2 >= 0, "the original listener no longer accepts");
    close(fd2);
    close(fd);

    zpt_teardown();
}
END_TEST


static Suite *
listen_suite(void)
{
    Suite *s  = suite_create("listen");
    TCase *tc = tcase_create("listen");

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_listen_ipv6);
    tcase_add_test(tc, test_listen_v4_and_v6);
    tcase_add_test(tc, test_listen_reuseport_reloads);
    tcase_add_test(tc, test_listen_socket_options);
    tcase_add_test(tc, test_listen_server_names);
    tcase_add_test(tc, test_listen_port_in_use);
    suite_add_tcase(s, tc);
    return s;
}


ZPT_MAIN(listen_suite)
