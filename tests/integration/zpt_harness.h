/*
 * zpt_harness: helpers for the zproxy integration tests.
 *
 * Plain C11 + POSIX (Linux /proc), no zproxy headers: the tests drive the
 * real binary (env ZP_BIN) like an operator would.
 *
 * Every process a test starts is a descendant of the test process (the
 * harness makes it a child subreaper, so even re-parented masters and
 * workers stay below it). zpt_teardown() and an atexit() hook SIGKILL all
 * of them, so a failed ck_assert never leaks a server. Every wait is
 * bounded in time; waits poll a condition instead of measuring time.
 */
#ifndef ZPT_HARNESS_H
#define ZPT_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* Default bound for waits, in ms; scaled by env ZPT_TIMEOUT_MULT (integer). */
#define ZPT_WAIT_MS 10000

#define ZPT_PATH_MAX 512

/* Config used by most tests: one %d, the listen port. */
#define ZPT_DEFAULT_CONF                                                                           \
    "worker_processes 2;\n"                                                                        \
    "worker_cpu_affinity auto;\n"                                                                  \
    "daemon off;\n"                                                                                \
    "pid logs/zproxy.pid;\n"                                                                       \
    "error_log logs/error.log info;\n"                                                             \
    "events { worker_connections 4096; }\n"                                                        \
    "http {\n"                                                                                     \
    "    access_log logs/access.log;\n"                                                            \
    "    server {\n"                                                                               \
    "        listen 127.0.0.1:%d;\n"                                                               \
    "        route / { return 200 \"hello\\n\"; }\n"                                               \
    "    }\n"                                                                                      \
    "}\n"

/* ---- setup, environment --------------------------------------------------- */

/*
 * Sets up the process (idempotent; every other entry point calls it):
 * ignores SIGPIPE, becomes a child subreaper and registers the atexit
 * teardown. The first call also creates the base dir /tmp/zpt.XXXXXX that
 * holds every prefix. Call it in main() before srunner_run_all() (ZPT_MAIN
 * does): Check ends a failed forked test with _exit(), skipping every
 * teardown, so the runner itself must inherit the orphans, print the logs
 * the failed test left and remove the base dir when it exits.
 */
void zpt_init(void);

/*
 * main() of a test file: runs suite_fn() (returning a Suite *) with the
 * harness set up, exit status 0 only if every test passed.
 */
#define ZPT_MAIN(suite_fn)                                                                         \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr;                                                                               \
        int      failed;                                                                           \
        zpt_init();                                                                                \
        sr = srunner_create(suite_fn());                                                           \
        srunner_run_all(sr, CK_NORMAL);                                                            \
        failed = srunner_ntests_failed(sr);                                                        \
        srunner_free(sr);                                                                          \
        return failed == 0 ? 0 : 1;                                                                \
    }

/* Absolute path of the binary under test (env ZP_BIN, else ./objs/zproxy). */
const char *zpt_bin(void);

/* Absolute source tree root (env ZP_SRC, else "."). */
const char *zpt_src(void);

/*
 * Program name in process titles, "zproxy" (env ZPT_NAME overrides it, so
 * the harness itself can be checked against another nginx-like server).
 */
const char *zpt_name(void);

/* 1 if pid's title starts with "<name>: <what>", e.g. what = "worker process". */
int zpt_title_is(pid_t pid, const char *what);

/*
 * Waits (bounded by ms) until zpt_title_is(pid, what): a process sets its
 * title a little after it starts (a new master even after its pid file).
 */
int zpt_wait_title(pid_t pid, const char *what, int ms);

/* ZPT_WAIT_MS * ZPT_TIMEOUT_MULT. */
int zpt_wait_ms(void);

/* Sleeps ms milliseconds (restarts on EINTR). */
void zpt_msleep(int ms);

/* Monotonic clock in ms. */
long long zpt_now_ms(void);

/* Number of CPUs this process may run on (sched_getaffinity). */
int zpt_ncpus(void);

/* ---- files ------------------------------------------------------------------ */

/*
 * Creates a temporary prefix <base>/p.XXXXXX (mode 0755) with conf/ and
 * logs/, writes its path into buf. The directory is removed by
 * zpt_teardown(). Returns 0 or -1.
 */
int zpt_prefix_make(char *buf, size_t size);

/* Writes a printf-formatted file (truncating). Returns 0 or -1. */
int zpt_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Reads a whole file into a malloc()ed NUL-terminated buffer; *len (if not
 * NULL) gets its length. Returns NULL if it cannot be read. Caller frees.
 */
char *zpt_read_file(const char *path, size_t *len);

/* 1 if path exists, else 0. */
int zpt_exists(const char *path);

/*
 * Number of complete ('\n'-terminated) lines of path containing substr
 * (all lines if substr is NULL or ""); 0 if the file is missing.
 */
int zpt_count_lines(const char *path, const char *substr);

/* 1 if some line of path contains both a and b (b may be NULL). */
int zpt_file_has_line(const char *path, const char *a, const char *b);

/*
 * Number of error-log lines at level crit, alert or emerg in path; the
 * first of them is copied to first (if not NULL).
 */
int zpt_log_severe(const char *path, char *first, size_t size);

/* Waits (bounded by ms) until zpt_file_has_line(path, a, b). Returns 1/0. */
int zpt_wait_file_line(const char *path, const char *a, const char *b, int ms);

/* Waits (bounded by ms) until path exists (want=1) or is gone (want=0). */
int zpt_wait_exists(const char *path, int want, int ms);

/* Prints the last `lines` lines of path to stderr, with a title. */
void zpt_dump_tail(const char *path, int lines);

/* ---- ports ------------------------------------------------------------------ */

/* A currently free 127.0.0.1 TCP port (bind :0, getsockname, close), or -1. */
int zpt_free_port(void);

/* A listening socket on 127.0.0.1 at a port of the kernel's choice (in
 * *port), for backends a test runs itself; -1 on failure. */
int zpt_listen_any(int backlog, int *port);

/*
 * The segments one side of a loopback connection sent, as a packet socket
 * on lo saw them (CAP_NET_RAW: CI runs as root; open gives -1 without it).
 * count reads what is queued, from sport to dport.
 */
typedef struct {
    int data, fin, data_fin, ack_before_data;
} zpt_segs_t;

int  zpt_lo_packets_open(void);
void zpt_lo_packets_count(int fd, int sport, int dport, zpt_segs_t *n);

/* Waits (bounded by ms) until 127.0.0.1:port accepts a connection. 1/0. */
int zpt_wait_port(int port, int ms);

/* ---- processes ---------------------------------------------------------------- */

/*
 * Starts ZP_BIN with argv[1..] = args (NULL-terminated), stdin from
 * /dev/null and stdout/stderr appended to log_path (if NULL: /dev/null).
 * The child stays in our process group. Returns its pid or -1.
 */
pid_t zpt_spawn(const char *const *args, const char *log_path);

/*
 * Runs ZP_BIN with args (NULL-terminated) to completion (bounded by
 * 4 x zpt_wait_ms()), capturing stderr into err and stdout into out (either may
 * be NULL; both NUL-terminated, truncated to size). Returns the exit code,
 * 128+signal if it was killed, or -1 on harness error / timeout.
 */
int zpt_run(const char *const *args, char *out, size_t out_size, char *err, size_t err_size);

/* Like zpt_run() for any program: argv[0] is its path. */
int zpt_run_argv(const char *const *argv, char *out, size_t out_size, char *err, size_t err_size);

/* Reads a pid from a pid file: the pid or -1. */
pid_t zpt_read_pid(const char *path);

/* Waits (bounded) until the pid file holds a pid != not (0 = any). */
pid_t zpt_wait_pidfile(const char *path, pid_t not, int ms);

/* kill(pid, sig) with a sanity check on pid (> 1). Returns 0 or -1. */
int zpt_kill(pid_t pid, int sig);

/* 1 if pid exists and is not a zombie. */
int zpt_alive(pid_t pid);

/*
 * Waits (bounded by ms) until pid has exited: reaps it if it is our child
 * (*status gets the waitpid status if not NULL, else -1), otherwise polls
 * /proc (a zombie counts as exited). Returns 1 if it exited, 0 on timeout.
 */
int zpt_wait_exit(pid_t pid, int ms, int *status);

/*
 * Child pids of pid (from /proc/<pid>/task/<pid>/children, falling back to
 * scanning /proc/<n>/stat), zombies excluded. Returns the count (<= max).
 */
int zpt_children(pid_t pid, pid_t *out, int max);

/*
 * Like zpt_children() but only children whose title starts with
 * "zproxy: worker process" (any worker, also "is shutting down").
 */
int zpt_workers(pid_t master, pid_t *out, int max);

/*
 * Waits (bounded) until master has exactly n worker children none of which
 * is in `exclude` (nexclude entries). Copies them to out. Returns 1/0.
 */
int zpt_wait_workers(pid_t master, int n, const pid_t *exclude, int nexclude, pid_t *out, int ms);

/* /proc/<pid>/cmdline with NULs turned into spaces; returns 0 or -1. */
int zpt_cmdline(pid_t pid, char *buf, size_t size);

/*
 * Value of the "Key:" line of /proc/<pid>/status (e.g. "Cpus_allowed_list"),
 * leading whitespace and the newline stripped. Returns 0 or -1.
 */
int zpt_proc_status(pid_t pid, const char *key, char *buf, size_t size);

/* Number of entries of /proc/<pid>/fd, or -1. */
int zpt_fd_count(pid_t pid);

/* 1 if pid is in the set. */
int zpt_pid_in(pid_t pid, const pid_t *set, int n);

/* ---- zproxy server --------------------------------------------------------------- */

typedef struct {
    char  prefix[256];              /* /tmp/zpt.XXXXXX/p.XXXXXX */
    char  conf[ZPT_PATH_MAX];       /* <prefix>/conf/zproxy.conf */
    char  pidfile[ZPT_PATH_MAX];    /* <prefix>/logs/zproxy.pid */
    char  oldbin[ZPT_PATH_MAX];     /* <prefix>/logs/zproxy.pid.oldbin */
    char  error_log[ZPT_PATH_MAX];  /* <prefix>/logs/error.log */
    char  access_log[ZPT_PATH_MAX]; /* <prefix>/logs/access.log */
    char  stderr_log[ZPT_PATH_MAX]; /* <prefix>/logs/stderr.log */
    int   port;                     /* free port picked by zpt_srv_init() */
    pid_t pid;                      /* the process we forked (the master) */
} zpt_srv_t;

/* Makes the prefix, picks a port and fills the paths. Returns 0 or -1. */
int zpt_srv_init(zpt_srv_t *s);

/* Writes <prefix>/conf/zproxy.conf from a printf format. 0 or -1. */
int zpt_srv_conf(zpt_srv_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes ZPT_DEFAULT_CONF with s->port. 0 or -1. */
int zpt_srv_default_conf(zpt_srv_t *s);

/*
 * Starts `ZP_BIN -p <prefix> -c conf/zproxy.conf` and waits (bounded) until
 * the port accepts and the pid file holds a pid. On failure dumps the logs
 * and returns -1. Returns the master pid.
 */
pid_t zpt_srv_start(zpt_srv_t *s);

/*
 * Like zpt_srv_start(), but through a launcher process that exits once the
 * pid file is written, so that the master's parent changes (to us, the
 * subreaper) as it does when a daemon detaches. nginx-style masters ignore
 * USR2 while the process that started them is still their parent (they
 * take themselves for a new binary whose old master still runs): the
 * upgrade tests start this way, like a real daemon or systemd service.
 * Returns the master pid (from the pid file) or -1.
 */
pid_t zpt_srv_start_detached(zpt_srv_t *s);

/* Prints the tails of stderr.log and error.log to stderr. */
void zpt_srv_dump(const zpt_srv_t *s);

/* ---- HTTP/1.1 client ------------------------------------------------------------- */

typedef struct {
    int    status;         /* e.g. 200 */
    int    conn_close;     /* response had "Connection: close" */
    long   content_length; /* -1 if absent */
    char   headers[4096];  /* status line + headers, NUL-terminated */
    char   body[65536];    /* NUL-terminated (truncated if larger) */
    size_t body_len;
    char   error[256]; /* why the call failed */
    size_t received;   /* bytes received for this response */
} zpt_resp_t;

/*
 * Blocking TCP connection to 127.0.0.1:port with 10 s (scaled) send and
 * receive timeouts. Returns the fd or -1 (errno kept).
 */
int zpt_connect(int port);

/*
 * Sends `GET path HTTP/1.1` (Host: localhost, plus "Connection: close" if
 * close is set) on fd and reads one response. Returns 0 if a complete
 * response was read, -1 otherwise (r->error says why).
 */
int zpt_http_get(int fd, const char *path, int close, zpt_resp_t *r);

/* Reads one response from fd (no request sent). 0 or -1 as above. */
int zpt_http_read(int fd, zpt_resp_t *r);

/* Connect, GET with Connection: close, read, close. 0 or -1. */
int zpt_http_get_once(int port, const char *path, zpt_resp_t *r);

/*
 * Waits (bounded by ms) until the peer closes fd (EOF or reset).
 * Returns 1 if closed, 0 on timeout or if data arrived instead.
 */
int zpt_wait_closed(int fd, int ms);

/* ---- load generator ------------------------------------------------------------ */

typedef struct zpt_load_s zpt_load_t;

typedef struct {
    long ok;                 /* responses with the expected status */
    long fail;               /* anything else (see zpt_load_start) */
    long fail_reused;        /* failures of a request sent on a connection that had
                                already served a keep-alive response: a draining
                                worker must answer those (with Connection: close) */
    long reconnects;         /* reconnects after "Connection: close" (not failures) */
    char first_errors[1024]; /* the first few failure descriptions */
} zpt_load_stats_t;

/*
 * Starts nconns threads, each keeping a keep-alive connection to
 * 127.0.0.1:port and sending `GET / HTTP/1.1` in a loop. A response with
 * "Connection: close" makes it reconnect (not a failure). A failure is a
 * refused/reset connect, a read error or EOF before a complete response,
 * or a status != expect_status. Returns NULL on error.
 */
zpt_load_t *zpt_load_start(int port, int nconns, int expect_status);

/* Current counters (the load keeps running). */
void zpt_load_get(zpt_load_t *l, zpt_load_stats_t *st);

/* Waits (bounded by ms) until ok grew by at least n since the call. 1/0. */
int zpt_load_wait_ok(zpt_load_t *l, long n, int ms);

/* Stops the threads, closes their connections, frees l, fills st. */
void zpt_load_stop(zpt_load_t *l, zpt_load_stats_t *st);

/* ---- teardown -------------------------------------------------------------------- */

/*
 * SIGKILLs every descendant process of this process (masters, workers, new
 * binaries), reaps them and removes this process's prefixes (kept if env
 * ZPT_KEEP is set). Idempotent. Every test calls it at its end; what a
 * test leaves behind (it failed) is dumped and removed by the atexit hook,
 * in the Check runner for forked tests.
 */
void zpt_teardown(void);

#endif /* ZPT_HARNESS_H */
