/*
 * zpt_client: see zpt_client.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem() */
#endif
#include "zpt_client.h"
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a buffered connection ------------------------------------------------- */

zpt_conn_t *
zpt_conn_open(int port)
{
    zpt_conn_t *c = calloc(1, sizeof(zpt_conn_t));

    ck_assert(c != NULL);
    c->fd = zpt_connect(port);
    ck_assert_msg(c->fd >= 0, "connect to %d: %s", port, strerror(errno));
    return c;
}


void
zpt_conn_close(zpt_conn_t *c)
{
    close(c->fd);
    free(c);
}


void
zpt_conn_send_n(zpt_conn_t *c, const char *data, size_t len)
{
    size_t  off = 0;
    ssize_t n;

    while (off < len) {
        n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        ck_assert_msg(n > 0, "send: %s", strerror(errno));
        off += (size_t) n;
    }
}


void
zpt_conn_send(zpt_conn_t *c, const char *data)
{
    zpt_conn_send_n(c, data, strlen(data));
}


/* Reads more into c->buf (bounded by the socket's receive timeout). 1 if data came. */
static int
conn_fill(zpt_conn_t *c)
{
    ssize_t n;

    if (c->eof || c->len == sizeof(c->buf)) {
        return 0;
    }
    do {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    } while (n == -1 && errno == EINTR);

    if (n > 0) {
        c->len += (size_t) n;
        return 1;
    }
    c->eof = (n == 0) ? 1 : -1;
    return 0;
}


static void
conn_consume(zpt_conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}


int
zpt_hdr_value(const char *headers, const char *name, char *out, size_t size)
{
    size_t      nl = strlen(name);
    const char *p  = strstr(headers, "\r\n");
    const char *e;

    while (p != NULL && p[2] != '\r' && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ') {
                p++;
            }
            e = strstr(p, "\r\n");
            snprintf(out, size, "%.*s", (int) (e ? e - p : (long) strlen(p)), p);
            return 1;
        }
        p = strstr(p, "\r\n");
    }
    return 0;
}


int
zpt_conn_read(zpt_conn_t *c, zpt_resp_t *r, int head_only)
{
    char  *eoh;
    size_t hlen, need;
    char   v[64];

    memset(r, 0, sizeof(*r));
    r->content_length = -1;

    for (;;) {
        eoh = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (eoh != NULL) {
            break;
        }
        if (!conn_fill(c)) {
            snprintf(r->error, sizeof(r->error), "%s after %zu bytes of a response head",
                     c->eof == 1 ? "EOF" : (c->eof == -1 ? strerror(errno) : "buffer full"),
                     c->len);
            return -1;
        }
    }

    hlen = (size_t) (eoh - c->buf) + 4;
    snprintf(r->headers, sizeof(r->headers), "%.*s", (int) hlen, c->buf);
    if (sscanf(r->headers, "HTTP/1.%*d %d", &r->status) != 1) {
        snprintf(r->error, sizeof(r->error), "bad status line: %.60s", r->headers);
        return -1;
    }
    if (zpt_hdr_value(r->headers, "Connection", v, sizeof(v))) {
        r->conn_close = strcasecmp(v, "close") == 0;
    }
    if (zpt_hdr_value(r->headers, "Content-Length", v, sizeof(v))) {
        r->content_length = strtol(v, NULL, 10);
    }
    conn_consume(c, hlen);
    r->received = hlen;

    if (head_only || (r->status >= 100 && r->status < 200)) {
        return 0;
    }
    if (r->content_length < 0) {
        snprintf(r->error, sizeof(r->error), "no Content-Length in the response head");
        return -1;
    }

    need = (size_t) r->content_length;
    while (c->len < need) {
        if (!conn_fill(c)) {
            snprintf(r->error, sizeof(r->error), "body: %zu of %zu bytes, then %s", c->len, need,
                     c->eof == 1 ? "EOF" : strerror(errno));
            return -1;
        }
    }
    r->body_len = need;
    snprintf(r->body, sizeof(r->body), "%.*s", (int) need, c->buf);
    conn_consume(c, need);
    r->received += need;
    return 0;
}


void
zpt_must_read(zpt_conn_t *c, zpt_resp_t *r, int head_only, const char *what)
{
    ck_assert_msg(zpt_conn_read(c, r, head_only) == 0, "%s: %s%s%s", what, r->error,
                  r->headers[0] ? ":\n" : "", r->headers);
}


int
zpt_conn_wait_close(zpt_conn_t *c, int ms)
{
    long long     end = zpt_now_ms() + ms;
    struct pollfd pfd;
    char          ch;
    ssize_t       n;
    int           left;

    if (c->len) {
        return 2;
    }
    if (c->eof) {
        return c->eof;
    }
    for (;;) {
        left = (int) (end - zpt_now_ms());
        if (left <= 0) {
            return 0;
        }
        pfd.fd      = c->fd;
        pfd.events  = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }
        n = recv(c->fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK);
        if (n == 0) {
            return 1;
        }
        if (n > 0) {
            return 2;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
}


ssize_t
zpt_conn_read_all(zpt_conn_t *c, char *out, size_t size)
{
    size_t n;

    while (conn_fill(c)) {
        /* until EOF, a reset, the timeout or a full buffer */
    }

    if (c->eof == 0) {
        return -1;
    }

    n = c->len < size - 1 ? c->len : size - 1;
    memcpy(out, c->buf, n);
    out[n] = '\0';
    n      = c->len;
    conn_consume(c, c->len);

    return (ssize_t) n;
}


const char *
zpt_close_text(int rc)
{
    switch (rc) {
    case 1: return "EOF";
    case -1: return "a reset";
    case 2: return "more data";
    default: return "a timeout (still open)";
    }
}

/* ---- one request, one check --------------------------------------------------- */

void
zpt_one(int port, const char *request, zpt_resp_t *r, int head_only, const char *what)
{
    zpt_conn_t *c = zpt_conn_open(port);

    zpt_conn_send(c, request);
    zpt_must_read(c, r, head_only, what);
    zpt_conn_close(c);
}


void
zpt_req(int port, const char *method, const char *host, const char *path, const char *extra,
        zpt_resp_t *r)
{
    char buf[8192];

    snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n",
             method, path, host, extra ? extra : "");
    zpt_one(port, buf, r, strcmp(method, "HEAD") == 0, buf);
}


void
zpt_refused(int port, const char *request, int status, const char *what)
{
    zpt_conn_t *c = zpt_conn_open(port);
    zpt_resp_t  r;
    int         rc;

    zpt_conn_send(c, request);
    zpt_must_read(c, &r, 0, what);
    ck_assert_msg(r.status == status, "%s: status %d, expected %d", what, r.status, status);
    ck_assert_msg(r.conn_close, "%s: %d without Connection: close:\n%s", what, status,
                  r.headers);
    rc = zpt_conn_wait_close(c, zpt_wait_ms());
    ck_assert_msg(rc == 1 || rc == -1, "%s: after the %d: %s", what, status, zpt_close_text(rc));
    zpt_conn_close(c);
}

/* ---- the server ------------------------------------------------------------------ */

pid_t
zpt_start_conf(zpt_srv_t *s, const char *conf, pid_t *w)
{
    pid_t master;

    ck_assert_int_eq(zpt_srv_conf(s, "%s", conf), 0);
    master = zpt_srv_start(s);
    ck_assert_msg(master > 0, "zproxy did not start (see the logs above)");
    ck_assert_msg(zpt_wait_workers(master, 2, NULL, 0, w, zpt_wait_ms()),
                  "master %d does not have 2 workers", master);
    return master;
}


void
zpt_assert_same_workers(zpt_srv_t *s, pid_t master, const pid_t *w0)
{
    pid_t w[4];
    int   n;

    n = zpt_workers(master, w, 4);
    ck_assert_msg(n == 2 && zpt_pid_in(w[0], w0, 2) && zpt_pid_in(w[1], w0, 2),
                  "workers changed: %d %d -> %d of them (%d %d)", w0[0], w0[1], n, w[0], w[1]);
    ck_assert_msg(!zpt_file_has_line(s->error_log, "exited on signal", NULL),
                  "a worker crashed (see error.log)");
}


int
zpt_conftest(zpt_srv_t *s, char *err, size_t size)
{
    const char *args[] = {"-p", s->prefix, "-t", "-c", s->conf, NULL};

    return zpt_run(args, NULL, 0, err, size);
}


void
zpt_conftest_error(zpt_srv_t *s, int line, const char *a, const char *b)
{
    char        err[16384], prefix[1024], l[2048];
    const char *p, *nl;
    int         rc, found = 0;

    rc = zpt_conftest(s, err, sizeof(err));
    ck_assert_msg(rc == 1, "zproxy -t exited %d (expected 1) for \"%s\", stderr:\n%s", rc, a, err);

    snprintf(prefix, sizeof(prefix), "zproxy: %s:%d: ", s->conf, line);
    for (p = err; *p && !found; p = nl + 1) {
        nl = strchr(p, '\n');
        snprintf(l, sizeof(l), "%.*s", (int) (nl ? nl - p : (long) strlen(p)), p);
        found = strncmp(l, prefix, strlen(prefix)) == 0 && strstr(l, a) != NULL
                && (b == NULL || strstr(l, b) != NULL);
        if (nl == NULL) {
            break;
        }
    }
    ck_assert_msg(found, "expected a line \"%s...%s...%s\", stderr:\n%s", prefix, a, b ? b : "",
                  err);
}


/* ---- the test backend ----------------------------------------------------------- */

static char zpt_backend_bin[ZPT_PATH_MAX];


void
zpt_backend_build(void)
{
    char dir[] = "/tmp/zpt-backend.XXXXXX", cmd[2048];

    if (zpt_backend_bin[0]) {
        return;
    }

    /* "make integration-build" builds it; else build it here */
    snprintf(zpt_backend_bin, sizeof(zpt_backend_bin), "%s/objs/tests/backend/zpt_backend",
             zpt_src());
    if (access(zpt_backend_bin, X_OK) == 0) {
        return;
    }
    if (mkdtemp(dir) == NULL) {
        zpt_backend_bin[0] = '\0';
        return;
    }
    snprintf(zpt_backend_bin, sizeof(zpt_backend_bin), "%s/zpt_backend", dir);
    snprintf(cmd, sizeof(cmd), "cc -O2 -o %s %s/tests/backend/zpt_backend.c", zpt_backend_bin,
             zpt_src());
    if (system(cmd) != 0) {
        zpt_backend_bin[0] = '\0';
    }
}


int
zpt_backend_start(zpt_backend_t *b, const char *id, int port)
{
    int   fds[2];
    char  buf[64], portstr[16];
    FILE *f;

    ck_assert_msg(zpt_backend_bin[0], "the test backend could not be built");
    ck_assert(pipe(fds) == 0);
    snprintf(portstr, sizeof(portstr), "%d", port);
    snprintf(b->id, sizeof(b->id), "%s", id);

    b->pid = fork();
    ck_assert(b->pid >= 0);
    if (b->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(zpt_backend_bin, zpt_backend_bin, "--port", portstr, "--id", id, (char *) NULL);
        _exit(127);
    }
    close(fds[1]);

    f = fdopen(fds[0], "r");
    ck_assert(f != NULL);
    ck_assert_msg(fgets(buf, sizeof(buf), f) != NULL, "backend %s did not start", id);
    fclose(f);
    ck_assert_msg(sscanf(buf, "ready %d", &b->port) == 1, "backend said \"%s\"", buf);
    return b->port;
}


void
zpt_backend_stop(zpt_backend_t *b)
{
    int status;

    zpt_kill(b->pid, SIGKILL);
    waitpid(b->pid, &status, 0);
}
