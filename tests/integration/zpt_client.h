/*
 * zpt_client: a raw-socket HTTP/1.x client and the request/server checks
 * the HTTP integration tests share.
 *
 * Plain C11 + POSIX on top of zpt_harness. Unlike zpt_http_get(), the
 * caller writes the request bytes itself (malformed requests, pipelining,
 * partial writes), and a zpt_conn_t buffers what it reads, so responses
 * that arrive together are read one by one. The zpt_must_*, zpt_refused,
 * zpt_start_conf, zpt_assert_* and zpt_conftest_error helpers fail the
 * running Check test (ck_assert) instead of returning an error.
 */
#ifndef ZPT_CLIENT_H
#define ZPT_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include "zpt_harness.h"

/* ---- a buffered connection ------------------------------------------------- */

typedef struct {
    int    fd;
    char   buf[262144]; /* received, not yet read as a response */
    size_t len;
    int    eof; /* the peer closed (1) or reset (-1) */
} zpt_conn_t;

/*
 * Responses are read into a zpt_resp_t (zpt_harness.h): its body is
 * truncated to the buffer, body_len is the whole body's length, received
 * counts the bytes of head + body and error says why a read failed.
 */

/* Connects to 127.0.0.1:port (zpt_connect()); fails the test if it cannot. */
zpt_conn_t *zpt_conn_open(int port);

/* Closes the socket and frees c. */
void zpt_conn_close(zpt_conn_t *c);

/* Sends len bytes of data (all of them, or fails the test). */
void zpt_conn_send_n(zpt_conn_t *c, const char *data, size_t len);

/* Sends the string data. */
void zpt_conn_send(zpt_conn_t *c, const char *data);

/*
 * Reads one response from c. head_only: the answer to HEAD (or a 1xx), no
 * body whatever Content-Length says; other responses need Content-Length.
 * Returns 0, or -1 with why in r->error.
 */
int zpt_conn_read(zpt_conn_t *c, zpt_resp_t *r, int head_only);

/* zpt_conn_read() that must succeed (else the test fails, naming what). */
void zpt_must_read(zpt_conn_t *c, zpt_resp_t *r, int head_only, const char *what);

/*
 * Waits (bounded by ms) until the server closes c: 1 on EOF, -1 on a
 * reset, 0 on timeout, 2 if more data came instead (left unread).
 */
int zpt_conn_wait_close(zpt_conn_t *c, int ms);

/*
 * Reads everything until the server closes c (EOF or reset; each read is
 * bounded by the socket's receive timeout) into out, NUL-terminated and
 * cut to size - 1 bytes: an answer without status line or headers, as to
 * an HTTP/0.9 request. Returns the bytes read, or -1 if c did not close.
 */
ssize_t zpt_conn_read_all(zpt_conn_t *c, char *out, size_t size);

/* Text for a zpt_conn_wait_close() result, for messages. */
const char *zpt_close_text(int rc);

/* Value of the first header `name` in a response head into out; 1 if found. */
int zpt_hdr_value(const char *headers, const char *name, char *out, size_t size);

/* ---- one request, one check --------------------------------------------------- */

/* Sends the raw request on a fresh connection and reads the response into r. */
void zpt_one(int port, const char *request, zpt_resp_t *r, int head_only, const char *what);

/*
 * `METHOD path HTTP/1.1` with Host host, the extra header lines (each
 * ending in CRLF; may be NULL) and Connection: close, by zpt_one().
 */
void zpt_req(int port, const char *method, const char *host, const char *path, const char *extra,
             zpt_resp_t *r);

/*
 * A request the server must refuse with status and Connection: close, then
 * close the connection (EOF or reset).
 */
void zpt_refused(int port, const char *request, int status, const char *what);

/* ---- the server ------------------------------------------------------------------ */

/*
 * Writes the config text (already formatted) to s (zpt_srv_init() done),
 * starts it and waits for its 2 workers, copied to w. Returns the master.
 */
pid_t zpt_start_conf(zpt_srv_t *s, const char *conf, pid_t *w);

/* The same two workers w0 still run and none crashed (error.log). */
void zpt_assert_same_workers(zpt_srv_t *s, pid_t master, const pid_t *w0);

/* Runs `zproxy -p <prefix> -t -c <conf>`; returns the exit code, stderr in err. */
int zpt_conftest(zpt_srv_t *s, char *err, size_t size);

/* -t must fail with a line "zproxy: <conf>:<line>: ...a..." (b too if not NULL). */
void zpt_conftest_error(zpt_srv_t *s, int line, const char *a, const char *b);

/* ---- the test backend (tests/backend/zpt_backend) ------------------------------ */

typedef struct {
    pid_t pid;
    int   port;
    char  id[16];
} zpt_backend_t;

/* Finds objs/tests/backend/zpt_backend or builds it; call it in the runner,
 * before the tests fork, so it is done once. */
void zpt_backend_build(void);

/* Starts the backend on port (0: any) with that id and waits for its
 * "ready <port>" line; fills b and returns the port. */
int zpt_backend_start(zpt_backend_t *b, const char *id, int port);

void zpt_backend_stop(zpt_backend_t *b);

#endif /* ZPT_CLIENT_H */
