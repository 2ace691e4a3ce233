/*
 * zpt_harness: helpers for the zproxy integration tests (see zpt_harness.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "zpt_harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ZPT_MAX_PREFIXES 16
#define ZPT_MAX_PIDS     4096

static int   zpt_inited;
static pid_t zpt_owner;    /* the process that last ran zpt_init() */
static char  zpt_base[64]; /* /tmp/zpt.XXXXXX holding every prefix */
static pid_t zpt_base_owner;
static char  zpt_prefixes[ZPT_MAX_PREFIXES][ZPT_PATH_MAX];
static int   zpt_nprefixes;
static char  zpt_bin_buf[ZPT_PATH_MAX];
static char  zpt_src_buf[ZPT_PATH_MAX];

static void zpt_atexit(void);


/* ---- setup, environment ----------------------------------------------------- */

void
zpt_init(void)
{
    char tmpl[] = "/tmp/zpt.XXXXXX";

    if (zpt_inited && zpt_owner == getpid()) {
        return;
    }

    if (!zpt_inited) {
        /* forks inherit the handler; it only acts for the process it belongs to */
        atexit(zpt_atexit);

        signal(SIGPIPE, SIG_IGN);

        /* the first process to get here owns the base dir of all prefixes */
        if (mkdtemp(tmpl) != NULL) {
            (void)chmod(tmpl, 0755);
            snprintf(zpt_base, sizeof(zpt_base), "%s", tmpl);
            zpt_base_owner = getpid();
        }
    }

    zpt_inited    = 1;
    zpt_owner     = getpid();
    zpt_nprefixes = 0;

    /*
     * Orphaned masters/workers get re-parented to us, so teardown finds
     * them; in the Check runner parent this also catches what a failed
     * test (which exits without running any teardown) left behind.
     */
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}


static const char *
zpt_abs(const char *env, const char *dflt, char *buf, size_t size)
{
    const char *v = getenv(env);
    char        cwd[ZPT_PATH_MAX / 2];

    if (v == NULL || *v == '\0') {
        v = dflt;
    }

    if (v[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
        snprintf(buf, size, "%s", v);
    } else {
        snprintf(buf, size, "%s/%s", cwd, v);
    }

    return buf;
}


const char *
zpt_bin(void)
{
    if (zpt_bin_buf[0] == '\0') {
        zpt_abs("ZP_BIN", "objs/zproxy", zpt_bin_buf, sizeof(zpt_bin_buf));
    }
    return zpt_bin_buf;
}


const char *
zpt_src(void)
{
    if (zpt_src_buf[0] == '\0') {
        zpt_abs("ZP_SRC", ".", zpt_src_buf, sizeof(zpt_src_buf));
    }
    return zpt_src_buf;
}


const char *
zpt_name(void)
{
    const char *n = getenv("ZPT_NAME");

    return (n && *n) ? n : "zproxy";
}


int
zpt_title_is(pid_t pid, const char *what)
{
    char   cmd[512];
    size_t nl = strlen(zpt_name());

    if (zpt_cmdline(pid, cmd, sizeof(cmd)) != 0) {
        return 0;
    }
    return strncmp(cmd, zpt_name(), nl) == 0 && cmd[nl] == ':' && cmd[nl + 1] == ' ' &&
           strncmp(cmd + nl + 2, what, strlen(what)) == 0;
}


int
zpt_wait_title(pid_t pid, const char *what, int ms)
{
    long long end = zpt_now_ms() + ms;

    do {
        if (zpt_title_is(pid, what)) {
            return 1;
        }
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return zpt_title_is(pid, what);
}


int
zpt_wait_ms(void)
{
    const char *m    = getenv("ZPT_TIMEOUT_MULT");
    int         mult = m ? atoi(m) : 1;

    return ZPT_WAIT_MS * (mult > 0 ? mult : 1);
}


void
zpt_msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}


long long
zpt_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int
zpt_ncpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) == -1) {
        return 1;
    }
    return CPU_COUNT(&set);
}


/* ---- files ------------------------------------------------------------------ */

int
zpt_prefix_make(char *buf, size_t size)
{
    char tmpl[ZPT_PATH_MAX];
    char path[ZPT_PATH_MAX + 8];

    zpt_init();

    if (zpt_base[0] == '\0') {
        return -1;
    }
    if (mkdir(zpt_base, 0755) == -1 && errno != EEXIST) {
        return -1;
    }

    snprintf(tmpl, sizeof(tmpl), "%s/p.XXXXXX", zpt_base);
    if (mkdtemp(tmpl) == NULL) {
        return -1;
    }

    /* workers may run as another user: let them traverse the prefix */
    (void)chmod(tmpl, 0755);

    snprintf(path, sizeof(path), "%s/conf", tmpl);
    if (mkdir(path, 0755) == -1) {
        return -1;
    }

    snprintf(path, sizeof(path), "%s/logs", tmpl);
    if (mkdir(path, 0755) == -1) {
        return -1;
    }

    if (zpt_nprefixes < ZPT_MAX_PREFIXES) {
        snprintf(zpt_prefixes[zpt_nprefixes++], ZPT_PATH_MAX, "%s", tmpl);
    }

    snprintf(buf, size, "%s", tmpl);
    return 0;
}


int
zpt_write_file(const char *path, const char *fmt, ...)
{
    va_list ap;
    FILE   *f = fopen(path, "w");
    int     rc;

    if (f == NULL) {
        return -1;
    }

    va_start(ap, fmt);
    rc = vfprintf(f, fmt, ap);
    va_end(ap);

    if (fclose(f) != 0 || rc < 0) {
        return -1;
    }
    return 0;
}


char *
zpt_read_file(const char *path, size_t *len)
{
    int     fd  = open(path, O_RDONLY | O_CLOEXEC);
    size_t  cap = 4096, n = 0;
    char   *buf, *nb;
    ssize_t r;

    if (fd == -1) {
        return NULL;
    }

    buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return NULL;
    }

    for (;;) {
        if (n == cap) {
            cap *= 2;
            nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                close(fd);
                return NULL;
            }
            buf = nb;
        }

        r = read(fd, buf + n, cap - n);
        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }

    close(fd);
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}


int
zpt_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}


static int
zpt_line_has(const char *line, size_t len, const char *s)
{
    size_t sl;

    if (s == NULL || *s == '\0') {
        return 1;
    }

    sl = strlen(s);
    if (sl > len) {
        return 0;
    }
    return memmem(line, len, s, sl) != NULL;
}


int
zpt_count_lines(const char *path, const char *substr)
{
    size_t len;
    char  *buf = zpt_read_file(path, &len);
    char  *p, *nl;
    int    n = 0;

    if (buf == NULL) {
        return 0;
    }

    for (p = buf; (nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p = nl + 1) {
        if (zpt_line_has(p, (size_t)(nl - p), substr)) {
            n++;
        }
    }

    free(buf);
    return n;
}


int
zpt_file_has_line(const char *path, const char *a, const char *b)
{
    size_t len;
    char  *buf = zpt_read_file(path, &len);
    char  *p, *nl, *end;
    int    found = 0;

    if (buf == NULL) {
        return 0;
    }

    end = buf + len;
    for (p = buf; p < end && !found; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            nl = end;
        }
        found = zpt_line_has(p, (size_t)(nl - p), a) && zpt_line_has(p, (size_t)(nl - p), b);
    }

    free(buf);
    return found;
}


int
zpt_log_severe(const char *path, char *first, size_t size)
{
    static const char *levels[] = {"[crit]", "[alert]", "[emerg]"};
    size_t             len;
    char              *buf = zpt_read_file(path, &len);
    char              *p, *nl, *end;
    int                n = 0;
    size_t             i;

    if (first && size) {
        first[0] = '\0';
    }
    if (buf == NULL) {
        return 0;
    }

    end = buf + len;
    for (p = buf; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            nl = end;
        }
        for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
            if (zpt_line_has(p, (size_t)(nl - p), levels[i])) {
                if (n++ == 0 && first && size) {
                    snprintf(first, size, "%.*s", (int)(nl - p), p);
                }
                break;
            }
        }
    }

    free(buf);
    return n;
}


int
zpt_wait_file_line(const char *path, const char *a, const char *b, int ms)
{
    long long end = zpt_now_ms() + ms;

    do {
        if (zpt_file_has_line(path, a, b)) {
            return 1;
        }
        zpt_msleep(50);
    } while (zpt_now_ms() < end);

    return zpt_file_has_line(path, a, b);
}


int
zpt_wait_exists(const char *path, int want, int ms)
{
    long long end = zpt_now_ms() + ms;

    do {
        if (zpt_exists(path) == want) {
            return 1;
        }
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return zpt_exists(path) == want;
}


void
zpt_dump_tail(const char *path, int lines)
{
    size_t len;
    char  *buf = zpt_read_file(path, &len);
    char  *p;
    int    n = 0;

    if (buf == NULL) {
        fprintf(stderr, "---- %s: (missing)\n", path);
        return;
    }

    p = buf + len;
    if (p > buf && p[-1] == '\n') {
        p--;
    }
    while (p > buf) {
        if (p[-1] == '\n' && ++n == lines) {
            break;
        }
        p--;
    }

    fprintf(stderr, "---- %s (last %d lines):\n%s%s---- end\n", path, lines, p,
            (len && buf[len - 1] != '\n') ? "\n" : "");
    free(buf);
}


/* ---- ports ------------------------------------------------------------------ */

/*
 * 1 when 127.0.0.1:port can be bound now without SO_REUSEADDR: no socket
 * uses it, not even in TIME_WAIT, so that a test may bind it either way
 * (zproxy sets SO_REUSEADDR, test_listen_port_in_use does not).
 */
static int
zpt_port_bindable(int port)
{
    struct sockaddr_in sin;
    int                ok;
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return 0;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port        = htons((uint16_t) port);
    ok = bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0;
    close(fd);
    return ok;
}


/*
 * A port for a server that a test starts later. bind() to port 0 would
 * hand out one of the kernel's ephemeral ports, the range that outgoing
 * connections take their source ports from: any connect() on the machine
 * could take it before the server binds it ("zproxy did not start" once
 * in a loaded run). So the port is drawn below that range
 * (ip_local_port_range), where only an explicit bind() can take it, and
 * checked to be free now.
 */
int
zpt_free_port(void)
{
    static unsigned    seed;
    static pid_t       seeded_by;
    struct sockaddr_in sin;
    socklen_t          slen = sizeof(sin);
    int                lo = 32768, hi, i, port = -1, fd;
    FILE              *f;

    f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) {
            lo = 32768;
        }
        fclose(f);
    }

    /* each test runs in its own forked process: seed once per process */
    if (seeded_by != getpid()) {
        seeded_by = getpid();
        seed      = (unsigned) getpid() ^ (unsigned) zpt_now_ms();
    }

    for (i = 0; lo > 11024 && i < 200; i++) {
        port = 10000 + (int) ((unsigned) rand_r(&seed) % (unsigned) (lo - 10000));
        if (zpt_port_bindable(port)) {
            return port;
        }
    }

    /* no room below the ephemeral range: let the kernel choose */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port                = -1;
    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
        && getsockname(fd, (struct sockaddr *) &sin, &slen) == 0) {
        port = ntohs(sin.sin_port);
    }
    close(fd);
    return port;
}


int
zpt_listen_any(int backlog, int *port)
{
    struct sockaddr_in sin;
    socklen_t          slen = sizeof(sin);
    int                one  = 1;
    int                fd   = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return -1;
    }

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1 || listen(fd, backlog) == -1
        || getsockname(fd, (struct sockaddr *) &sin, &slen) == -1)
    {
        close(fd);
        return -1;
    }

    *port = ntohs(sin.sin_port);
    return fd;
}


int
zpt_wait_port(int port, int ms)
{
    long long end = zpt_now_ms() + ms;
    int       fd;

    do {
        fd = zpt_connect(port);
        if (fd >= 0) {
            close(fd);
            return 1;
        }
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return 0;
}


/* ---- processes ---------------------------------------------------------------- */

/* In a fresh fork: wires fds 0-2 and execs argv (argv[0] the program path). */
static void
zpt_exec_child(const char *const *argv, int in, int out, int err)
{
    int i;

    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (i = 3; i < 1024; i++) {
        close(i);
    }

    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], (char *const *)argv);
    dprintf(2, "zpt: execv %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}


/* argv for ZP_BIN: argv[0] is the absolute path (a USR2 upgrade re-execs it). */
static void
zpt_bin_argv(const char *const *args, const char **argv, int max)
{
    int i, n = 0;

    argv[n++] = zpt_bin();
    for (i = 0; args[i] != NULL && n < max - 1; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
}


pid_t
zpt_spawn(const char *const *args, const char *log_path)
{
    const char *argv[64];
    int         in, out;
    pid_t       pid;

    zpt_init();
    zpt_bin_argv(args, argv, 64);

    in  = open("/dev/null", O_RDONLY | O_CLOEXEC);
    out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in == -1 || out == -1) {
        if (in != -1) {
            close(in);
        }
        return -1;
    }

    pid = fork();
    if (pid == 0) {
        zpt_exec_child(argv, in, out, out);
    }

    close(in);
    close(out);
    return pid;
}


static void
zpt_drain(int fd, char *buf, size_t size, size_t *n, int *open)
{
    char    tmp[4096];
    ssize_t r = read(fd, tmp, sizeof(tmp));
    size_t  take;

    if (r == -1 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (r <= 0) {
        *open = 0;
        return;
    }

    if (buf != NULL && size > 0 && *n < size - 1) {
        take = (size_t)r;
        if (take > size - 1 - *n) {
            take = size - 1 - *n;
        }
        memcpy(buf + *n, tmp, take);
        *n += take;
        buf[*n] = '\0';
    }
}


int
zpt_run(const char *const *args, char *out, size_t out_size, char *err, size_t err_size)
{
    const char *argv[64];

    zpt_init();
    zpt_bin_argv(args, argv, 64);
    return zpt_run_argv(argv, out, out_size, err, err_size);
}


int
zpt_run_argv(const char *const *argv, char *out, size_t out_size, char *err, size_t err_size)
{
    int           po[2], pe[2], in, status = 0, oopen = 1, eopen = 1;
    size_t        on = 0, en = 0;
    pid_t         pid;
    long long     end;
    struct pollfd pfd[2];

    zpt_init();

    if (out && out_size) {
        out[0] = '\0';
    }
    if (err && err_size) {
        err[0] = '\0';
    }

    if (pipe2(po, O_CLOEXEC) == -1) {
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC) == -1) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    in = open("/dev/null", O_RDONLY | O_CLOEXEC);

    pid = fork();
    if (pid == 0) {
        zpt_exec_child(argv, in, po[1], pe[1]);
    }

    close(in);
    close(po[1]);
    close(pe[1]);

    if (pid == -1) {
        close(po[0]);
        close(pe[0]);
        return -1;
    }

    /* external tools (openssl making RSA keys, curl over TLS) are slower
     * than zproxy's own answers on a loaded machine: a longer bound */
    end = zpt_now_ms() + 4 * zpt_wait_ms();

    while ((oopen || eopen) && zpt_now_ms() < end) {
        pfd[0].fd     = oopen ? po[0] : -1;
        pfd[0].events = POLLIN;
        pfd[1].fd     = eopen ? pe[0] : -1;
        pfd[1].events = POLLIN;

        if (poll(pfd, 2, 100) <= 0) {
            continue;
        }
        if (oopen && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            zpt_drain(po[0], out, out_size, &on, &oopen);
        }
        if (eopen && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            zpt_drain(pe[0], err, err_size, &en, &eopen);
        }
    }

    close(po[0]);
    close(pe[0]);

    if (!zpt_wait_exit(pid, (int)(end > zpt_now_ms() ? end - zpt_now_ms() : 100), &status)) {
        kill(pid, SIGKILL);
        zpt_wait_exit(pid, 1000, NULL);
        return -1;
    }

    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}


pid_t
zpt_read_pid(const char *path)
{
    char *buf = zpt_read_file(path, NULL);
    char *end;
    long  v;

    if (buf == NULL) {
        return -1;
    }

    errno = 0;
    v     = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || v <= 1 || (*end != '\0' && !isspace((unsigned char)*end))) {
        v = -1;
    }

    free(buf);
    return (pid_t)v;
}


pid_t
zpt_wait_pidfile(const char *path, pid_t not, int ms)
{
    long long end = zpt_now_ms() + ms;
    pid_t     pid;

    do {
        pid = zpt_read_pid(path);
        if (pid > 1 && pid != not ) {
            return pid;
        }
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return -1;
}


int
zpt_kill(pid_t pid, int sig)
{
    if (pid <= 1) {
        errno = EINVAL;
        return -1;
    }
    return kill(pid, sig);
}


/* State letter and ppid from /proc/<pid>/stat; 0 if it cannot be read. */
static char
zpt_proc_state(pid_t pid, pid_t *ppid)
{
    char    path[64], buf[1024], *p;
    int     fd;
    ssize_t n;
    char    state;
    int     pp;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';

    /* the comm field may hold spaces and parentheses: parse after the last ')' */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 1, " %c %d", &state, &pp) != 2) {
        return 0;
    }
    if (ppid) {
        *ppid = pp;
    }
    return state;
}


int
zpt_alive(pid_t pid)
{
    char st = zpt_proc_state(pid, NULL);

    return st != 0 && st != 'Z' && st != 'X';
}


int
zpt_wait_exit(pid_t pid, int ms, int *status)
{
    long long end = zpt_now_ms() + ms;
    int       st  = -1;
    pid_t     r;

    if (status) {
        *status = -1;
    }
    if (pid <= 1) {
        return 1;
    }

    for (;;) {
        /* a child (or an orphan re-parented to us, the subreaper): reap it */
        r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status) {
                *status = st;
            }
            return 1;
        }
        if (r == -1 && errno == ECHILD && !zpt_alive(pid)) {
            return 1;
        }
        if (zpt_now_ms() >= end) {
            return 0;
        }
        zpt_msleep(20);
    }
}


static int
zpt_children_scan(pid_t pid, pid_t *out, int max)
{
    DIR           *d = opendir("/proc");
    struct dirent *e;
    pid_t          ppid;
    char           st;
    int            n = 0;

    if (d == NULL) {
        return 0;
    }

    while ((e = readdir(d)) != NULL && n < max) {
        pid_t p;

        if (!isdigit((unsigned char)e->d_name[0])) {
            continue;
        }
        p  = (pid_t)atoi(e->d_name);
        st = zpt_proc_state(p, &ppid);
        if (st != 0 && st != 'Z' && st != 'X' && ppid == pid) {
            out[n++] = p;
        }
    }

    closedir(d);
    return n;
}


int
zpt_children(pid_t pid, pid_t *out, int max)
{
    char  path[96];
    char *buf, *p, *end;
    int   n = 0;
    long  v;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    buf = zpt_read_file(path, NULL);
    if (buf == NULL) {
        return zpt_children_scan(pid, out, max);
    }

    for (p = buf; n < max; p = end) {
        v = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (zpt_alive((pid_t)v)) {
            out[n++] = (pid_t)v;
        }
    }

    free(buf);
    return n;
}


int
zpt_cmdline(pid_t pid, char *buf, size_t size)
{
    char    path[64];
    int     fd;
    ssize_t n, i;

    if (size == 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        buf[0] = '\0';
        return -1;
    }
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        buf[0] = '\0';
        return -1;
    }

    /* trailing NULs (padding of an overwritten argv area) are dropped */
    while (n > 0 && buf[n - 1] == '\0') {
        n--;
    }
    for (i = 0; i < n; i++) {
        if (buf[i] == '\0') {
            buf[i] = ' ';
        }
    }
    buf[n] = '\0';
    return 0;
}


int
zpt_workers(pid_t master, pid_t *out, int max)
{
    pid_t kids[256];
    int   i, n, w = 0;

    n = zpt_children(master, kids, 256);
    for (i = 0; i < n && w < max; i++) {
        if (zpt_title_is(kids[i], "worker process")) {
            out[w++] = kids[i];
        }
    }
    return w;
}


int
zpt_pid_in(pid_t pid, const pid_t *set, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (set[i] == pid) {
            return 1;
        }
    }
    return 0;
}


int
zpt_wait_workers(pid_t master, int n, const pid_t *exclude, int nexclude, pid_t *out, int ms)
{
    long long end = zpt_now_ms() + ms;
    pid_t     w[256];
    int       i, k, ok;

    for (;;) {
        k  = zpt_workers(master, w, 256);
        ok = (k == n);
        for (i = 0; ok && i < k; i++) {
            if (zpt_pid_in(w[i], exclude, nexclude)) {
                ok = 0;
            }
        }
        if (ok) {
            if (out) {
                memcpy(out, w, sizeof(pid_t) * (size_t)k);
            }
            return 1;
        }
        if (zpt_now_ms() >= end) {
            return 0;
        }
        zpt_msleep(50);
    }
}


int
zpt_proc_status(pid_t pid, const char *key, char *buf, size_t size)
{
    char   path[64];
    char  *all, *p, *nl;
    size_t kl = strlen(key);
    int    rc = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    all = zpt_read_file(path, NULL);
    if (all == NULL) {
        return -1;
    }

    for (p = all; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            nl = p + strlen(p);
        }
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            p += kl + 1;
            while (p < nl && (*p == ' ' || *p == '\t')) {
                p++;
            }
            snprintf(buf, size, "%.*s", (int)(nl - p), p);
            rc = 0;
            break;
        }
        if (*nl == '\0') {
            break;
        }
    }

    free(all);
    return rc;
}


int
zpt_fd_count(pid_t pid)
{
    char           path[64];
    DIR           *d;
    struct dirent *e;
    int            n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}


/* ---- packets on lo ------------------------------------------------------------ */

int
zpt_lo_packets_open(void)
{
    int                fd;
    struct sockaddr_ll sll;

    fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_IP));
    if (fd == -1) {
        return -1;
    }
    memset(&sll, 0, sizeof(sll));
    sll.sll_family   = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_IP);
    sll.sll_ifindex  = (int) if_nametoindex("lo");
    if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *) &sll, sizeof(sll)) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

void
zpt_lo_packets_count(int fd, int sport, int dport, zpt_segs_t *n)
{
    unsigned char  pkt[65536];
    struct iphdr  *ip;
    struct tcphdr *th;
    ssize_t        len;
    size_t         ihl, payload;

    while ((len = recv(fd, pkt, sizeof(pkt), 0)) > 0) {
        ip = (struct iphdr *) pkt;
        if ((size_t) len < sizeof(*ip) || ip->version != 4 || ip->protocol != IPPROTO_TCP) {
            continue;
        }
        ihl = (size_t) ip->ihl * 4;
        th  = (struct tcphdr *) (pkt + ihl);
        if ((size_t) len < ihl + sizeof(*th) || ntohs(th->source) != sport
            || ntohs(th->dest) != dport)
        {
            continue;
        }
        payload = ntohs(ip->tot_len) - ihl - (size_t) th->doff * 4;
        n->ack_before_data += payload == 0 && !th->syn && !th->fin && n->data == 0;
        n->data += payload > 0;
        n->fin += th->fin;
        n->data_fin += payload > 0 && th->fin;
    }
}


/* ---- zproxy server --------------------------------------------------------------- */

int
zpt_srv_init(zpt_srv_t *s)
{
    memset(s, 0, sizeof(*s));

    if (zpt_prefix_make(s->prefix, sizeof(s->prefix)) == -1) {
        return -1;
    }

    snprintf(s->conf, sizeof(s->conf), "%s/conf/zproxy.conf", s->prefix);
    snprintf(s->pidfile, sizeof(s->pidfile), "%s/logs/zproxy.pid", s->prefix);
    snprintf(s->oldbin, sizeof(s->oldbin), "%s/logs/zproxy.pid.oldbin", s->prefix);
    snprintf(s->error_log, sizeof(s->error_log), "%s/logs/error.log", s->prefix);
    snprintf(s->access_log, sizeof(s->access_log), "%s/logs/access.log", s->prefix);
    snprintf(s->stderr_log, sizeof(s->stderr_log), "%s/logs/stderr.log", s->prefix);

    s->port = zpt_free_port();
    s->pid  = -1;
    return s->port > 0 ? 0 : -1;
}


int
zpt_srv_conf(zpt_srv_t *s, const char *fmt, ...)
{
    va_list ap;
    FILE   *f = fopen(s->conf, "w");
    int     rc;

    if (f == NULL) {
        return -1;
    }

    va_start(ap, fmt);
    rc = vfprintf(f, fmt, ap);
    va_end(ap);

    if (fclose(f) != 0 || rc < 0) {
        return -1;
    }
    return 0;
}


int
zpt_srv_default_conf(zpt_srv_t *s)
{
    return zpt_srv_conf(s, ZPT_DEFAULT_CONF, s->port);
}


void
zpt_srv_dump(const zpt_srv_t *s)
{
    zpt_dump_tail(s->stderr_log, 30);
    zpt_dump_tail(s->error_log, 40);
}


/* Waits (bounded) until the server answers on its port and wrote its pid. */
static pid_t
zpt_srv_wait_up(zpt_srv_t *s, pid_t child)
{
    long long end = zpt_now_ms() + zpt_wait_ms();
    int       fd, st;

    for (;;) {
        if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
            fprintf(stderr, "zpt: %s exited early (status 0x%x)\n", zpt_bin(), st);
            zpt_srv_dump(s);
            return -1;
        }

        fd = zpt_connect(s->port);
        if (fd >= 0) {
            close(fd);
            break;
        }

        if (zpt_now_ms() >= end) {
            fprintf(stderr, "zpt: port %d never accepted\n", s->port);
            zpt_srv_dump(s);
            return -1;
        }
        zpt_msleep(20);
    }

    if (zpt_wait_pidfile(s->pidfile, 0, zpt_wait_ms()) == -1) {
        fprintf(stderr, "zpt: no pid in %s\n", s->pidfile);
        zpt_srv_dump(s);
        return -1;
    }
    return zpt_read_pid(s->pidfile);
}


pid_t
zpt_srv_start(zpt_srv_t *s)
{
    const char *args[] = {"-p", s->prefix, "-c", "conf/zproxy.conf", NULL};

    s->pid = zpt_spawn(args, s->stderr_log);
    if (s->pid == -1) {
        fprintf(stderr, "zpt: cannot start %s: %s\n", zpt_bin(), strerror(errno));
        return -1;
    }

    if (zpt_srv_wait_up(s, s->pid) == -1) {
        return -1;
    }
    return s->pid;
}


pid_t
zpt_srv_start_detached(zpt_srv_t *s)
{
    const char *args[] = {"-p", s->prefix, "-c", "conf/zproxy.conf", NULL};
    pid_t       mid, master, pid;
    int         st;

    zpt_init();
    s->pid = -1;

    mid = fork();
    if (mid == -1) {
        return -1;
    }

    if (mid == 0) {
        /* the launcher: start zproxy, stay until it wrote its pid, leave */
        pid = zpt_spawn(args, s->stderr_log);
        if (pid == -1) {
            _exit(1);
        }
        _exit(zpt_wait_pidfile(s->pidfile, 0, zpt_wait_ms()) > 0 ? 0 : 1);
    }

    if (!zpt_wait_exit(mid, zpt_wait_ms() + 1000, &st) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "zpt: detached start of %s failed\n", zpt_bin());
        zpt_srv_dump(s);
        return -1;
    }

    master = zpt_srv_wait_up(s, -1);
    if (master == -1) {
        return -1;
    }

    /* re-parented to us, the subreaper: zpt_wait_exit() can reap it */
    s->pid = master;
    return master;
}


/* ---- HTTP/1.1 client ------------------------------------------------------------- */

int
zpt_connect(int port)
{
    struct sockaddr_in sin;
    struct timeval     tv;
    int                fd, one = 1, e;

    zpt_init();

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }

    tv.tv_sec  = zpt_wait_ms() / 1000;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    memset(&sin, 0, sizeof(sin));
    sin.sin_family      = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port        = htons((unsigned short)port);

    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}


/* Value of header name in the header block hdr (NUL-terminated), or NULL. */
static const char *
zpt_header(const char *hdr, const char *name, size_t *vlen)
{
    size_t      nl = strlen(name);
    const char *p  = strstr(hdr, "\r\n");
    const char *e;

    while (p != NULL) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            e = strstr(p, "\r\n");
            if (e == NULL) {
                e = p + strlen(p);
            }
            while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
                e--;
            }
            *vlen = (size_t)(e - p);
            return p;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}


static ssize_t
zpt_recv(int fd, char *buf, size_t size)
{
    ssize_t n;

    do {
        n = recv(fd, buf, size, 0);
    } while (n == -1 && errno == EINTR);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        errno = ETIMEDOUT; /* SO_RCVTIMEO expired: say so in the messages */
    }
    return n;
}


int
zpt_http_read(int fd, zpt_resp_t *r)
{
    char        buf[8192];
    size_t      have = 0, hlen, vlen, take;
    char       *eoh  = NULL;
    const char *v;
    ssize_t     n;
    long        cl;
    int         chunked;

    r->status         = 0;
    r->conn_close     = 0;
    r->content_length = -1;
    r->headers[0]     = '\0';
    r->body[0]        = '\0';
    r->body_len       = 0;
    r->error[0]       = '\0';
    r->received       = 0;

    /* status line and headers */
    while (eoh == NULL) {
        if (have == sizeof(buf) - 1) {
            snprintf(r->error, sizeof(r->error), "header block over %zu bytes", have);
            return -1;
        }
        n = zpt_recv(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0) {
            snprintf(r->error, sizeof(r->error), "%s after %zu bytes of the response",
                     n == 0 ? "EOF" : strerror(errno), have);
            return -1;
        }
        have += (size_t)n;
        r->received += (size_t)n;
        buf[have] = '\0';
        eoh       = strstr(buf, "\r\n\r\n");
    }

    hlen = (size_t)(eoh - buf) + 4;
    snprintf(r->headers, sizeof(r->headers), "%.*s", (int)hlen, buf);

    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        snprintf(r->error, sizeof(r->error), "bad status line: %.60s", buf);
        return -1;
    }

    v = zpt_header(r->headers, "Connection", &vlen);
    if (v && vlen == 5 && strncasecmp(v, "close", 5) == 0) {
        r->conn_close = 1;
    }

    v       = zpt_header(r->headers, "Transfer-Encoding", &vlen);
    chunked = (v != NULL && vlen >= 7 && strncasecmp(v, "chunked", 7) == 0);

    v = zpt_header(r->headers, "Content-Length", &vlen);
    if (v) {
        r->content_length = strtol(v, NULL, 10);
    }

    if (chunked) {
        snprintf(r->error, sizeof(r->error), "chunked response (not expected)");
        return -1;
    }

    /* body */
    if (r->content_length < 0) {
        if (r->status == 204 || r->status == 304 || r->status / 100 == 1) {
            cl = 0;
        } else if (r->conn_close) {
            cl = -1; /* read to EOF */
        } else {
            snprintf(r->error, sizeof(r->error), "keep-alive response without Content-Length");
            return -1;
        }
    } else {
        cl = r->content_length;
    }

    r->body_len = have - hlen;
    if (cl >= 0 && r->body_len > (size_t)cl) {
        r->body_len = (size_t)cl; /* bytes past the response: not expected, dropped */
    }
    take = r->body_len < sizeof(r->body) - 1 ? r->body_len : sizeof(r->body) - 1;
    memcpy(r->body, buf + hlen, take);

    while (cl < 0 || r->body_len < (size_t)cl) {
        n = zpt_recv(fd, buf, sizeof(buf));
        if (n == 0 && cl < 0) {
            break;
        }
        if (n <= 0) {
            snprintf(r->error, sizeof(r->error), "%s after %zu of %ld body bytes",
                     n == 0 ? "EOF" : strerror(errno), r->body_len, cl);
            return -1;
        }
        r->received += (size_t)n;
        if (r->body_len < sizeof(r->body) - 1) {
            take = (size_t)n;
            if (take > sizeof(r->body) - 1 - r->body_len) {
                take = sizeof(r->body) - 1 - r->body_len;
            }
            memcpy(r->body + r->body_len, buf, take);
        }
        r->body_len += (size_t)n;
        if (cl >= 0 && r->body_len > (size_t)cl) {
            r->body_len = (size_t)cl;
        }
    }

    r->body[r->body_len < sizeof(r->body) ? r->body_len : sizeof(r->body) - 1] = '\0';
    return 0;
}


int
zpt_http_get(int fd, const char *path, int close, zpt_resp_t *r)
{
    char    req[1024];
    int     len;
    ssize_t n;
    size_t  off = 0;

    len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", path,
                   close ? "Connection: close\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof(req)) {
        snprintf(r->error, sizeof(r->error), "request too long");
        return -1;
    }

    while (off < (size_t)len) {
        n = send(fd, req + off, (size_t)len - off, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            r->status   = 0;
            r->received = 0;
            snprintf(r->error, sizeof(r->error), "send: %s", strerror(errno));
            return -1;
        }
        off += (size_t)n;
    }

    return zpt_http_read(fd, r);
}


int
zpt_http_get_once(int port, const char *path, zpt_resp_t *r)
{
    int fd = zpt_connect(port);
    int rc;

    if (fd == -1) {
        r->status = 0;
        snprintf(r->error, sizeof(r->error), "connect: %s", strerror(errno));
        return -1;
    }
    rc = zpt_http_get(fd, path, 1, r);
    close(fd);
    return rc;
}


int
zpt_wait_closed(int fd, int ms)
{
    long long     end = zpt_now_ms() + ms;
    struct pollfd pfd;
    char          c;
    ssize_t       n;
    int           left;

    for (;;) {
        left = (int)(end - zpt_now_ms());
        if (left <= 0) {
            return 0;
        }
        pfd.fd      = fd;
        pfd.events  = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, left) <= 0) {
            continue;
        }
        n = recv(fd, &c, 1, MSG_DONTWAIT);
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
            return 1;
        }
        if (n > 0) {
            return 0;
        }
    }
}


/* ---- load generator ------------------------------------------------------------ */

struct zpt_load_s {
    zpt_load_t     *next; /* in zpt_loads: teardown stops what a failed test left */
    int             port;
    int             expect;
    int             nthreads;
    pthread_t      *threads;
    atomic_int      stop;
    atomic_long     ok;
    atomic_long     fail;
    atomic_long     fail_reused;
    atomic_long     reconnects;
    pthread_mutex_t mu;
    char            errors[1024];
    int             nerrors;
};


static zpt_load_t *zpt_loads;


static void
zpt_load_error(zpt_load_t *l, const char *fmt, ...)
{
    char    msg[256];
    va_list ap;
    size_t  used;

    atomic_fetch_add(&l->fail, 1);

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&l->mu);
    if (l->nerrors++ < 6) {
        used = strlen(l->errors);
        snprintf(l->errors + used, sizeof(l->errors) - used, "[%s] ", msg);
    }
    pthread_mutex_unlock(&l->mu);
}


static void *
zpt_load_thread(void *arg)
{
    zpt_load_t *l      = arg;
    zpt_resp_t *r      = malloc(sizeof(*r));
    int         fd     = -1;
    long        served = 0; /* responses on the current connection */

    if (r == NULL) {
        zpt_load_error(l, "out of memory");
        return NULL;
    }

    while (!atomic_load(&l->stop)) {
        if (fd == -1) {
            fd = zpt_connect(l->port);
            if (fd == -1) {
                zpt_load_error(l, "connect: %s", strerror(errno));
                zpt_msleep(10);
                continue;
            }
            served = 0;
        }

        if (zpt_http_get(fd, "/", 0, r) != 0) {
            if (served > 0) {
                atomic_fetch_add(&l->fail_reused, 1);
            }
            zpt_load_error(l, "%s (connection had served %ld responses)", r->error, served);
            close(fd);
            fd = -1;
            continue;
        }
        served++;

        if (r->status != l->expect) {
            zpt_load_error(l, "status %d, expected %d", r->status, l->expect);
        } else {
            atomic_fetch_add(&l->ok, 1);
        }

        if (r->conn_close) {
            close(fd);
            fd = -1;
            atomic_fetch_add(&l->reconnects, 1);
        }
    }

    if (fd != -1) {
        close(fd);
    }
    free(r);
    return NULL;
}


zpt_load_t *
zpt_load_start(int port, int nconns, int expect_status)
{
    zpt_load_t *l;
    int         i;

    zpt_init();

    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->threads = calloc((size_t)nconns, sizeof(pthread_t));
    if (l->threads == NULL) {
        free(l);
        return NULL;
    }

    l->port   = port;
    l->expect = expect_status;
    atomic_init(&l->stop, 0);
    atomic_init(&l->ok, 0);
    atomic_init(&l->fail, 0);
    atomic_init(&l->fail_reused, 0);
    atomic_init(&l->reconnects, 0);
    pthread_mutex_init(&l->mu, NULL);

    for (i = 0; i < nconns; i++) {
        if (pthread_create(&l->threads[i], NULL, zpt_load_thread, l) != 0) {
            break;
        }
        l->nthreads++;
    }

    l->next   = zpt_loads;
    zpt_loads = l;

    if (l->nthreads != nconns) {
        zpt_load_stop(l, NULL);
        return NULL;
    }
    return l;
}


void
zpt_load_get(zpt_load_t *l, zpt_load_stats_t *st)
{
    st->ok          = atomic_load(&l->ok);
    st->fail        = atomic_load(&l->fail);
    st->fail_reused = atomic_load(&l->fail_reused);
    st->reconnects  = atomic_load(&l->reconnects);
    pthread_mutex_lock(&l->mu);
    snprintf(st->first_errors, sizeof(st->first_errors), "%s", l->errors);
    pthread_mutex_unlock(&l->mu);
}


int
zpt_load_wait_ok(zpt_load_t *l, long n, int ms)
{
    long      start = atomic_load(&l->ok);
    long long end   = zpt_now_ms() + ms;

    do {
        if (atomic_load(&l->ok) - start >= n) {
            return 1;
        }
        zpt_msleep(20);
    } while (zpt_now_ms() < end);

    return atomic_load(&l->ok) - start >= n;
}


void
zpt_load_stop(zpt_load_t *l, zpt_load_stats_t *st)
{
    zpt_load_t **pp;
    int          i;

    if (l == NULL) {
        return;
    }

    for (pp = &zpt_loads; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }

    atomic_store(&l->stop, 1);
    for (i = 0; i < l->nthreads; i++) {
        pthread_join(l->threads[i], NULL);
    }

    if (st) {
        zpt_load_get(l, st);
    }

    pthread_mutex_destroy(&l->mu);
    free(l->threads);
    free(l);
}


/* ---- teardown -------------------------------------------------------------------- */

/* All live descendants of pid (breadth first over a /proc scan). */
static int
zpt_descendants(pid_t root, pid_t *out, int max)
{
    static pid_t   pids[ZPT_MAX_PIDS], ppids[ZPT_MAX_PIDS];
    DIR           *d = opendir("/proc");
    struct dirent *e;
    int            n = 0, k = 0, i, j;
    char           st;

    if (d == NULL) {
        return 0;
    }
    while ((e = readdir(d)) != NULL && n < ZPT_MAX_PIDS) {
        if (!isdigit((unsigned char)e->d_name[0])) {
            continue;
        }
        pids[n] = (pid_t)atoi(e->d_name);
        st      = zpt_proc_state(pids[n], &ppids[n]);
        if (st != 0) {
            n++;
        }
    }
    closedir(d);

    /* out[] doubles as the BFS queue */
    for (i = -1; i < k; i++) {
        pid_t parent = i < 0 ? root : out[i];

        for (j = 0; j < n && k < max; j++) {
            if (ppids[j] == parent && pids[j] != root) {
                out[k++] = pids[j];
            }
        }
    }
    return k;
}


static int
zpt_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}


static void
zpt_kill_all(void)
{
    static pid_t pids[ZPT_MAX_PIDS];
    int          round, i, n;

    for (round = 0; round < 50; round++) {
        n = zpt_descendants(getpid(), pids, ZPT_MAX_PIDS);
        if (n == 0) {
            break;
        }
        for (i = 0; i < n; i++) {
            kill(pids[i], SIGKILL);
        }
        zpt_msleep(20);
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}


static void
zpt_rm_tree(const char *path)
{
    if (getenv("ZPT_KEEP") == NULL) {
        nftw(path, zpt_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        fprintf(stderr, "zpt: kept %s\n", path);
    }
}


void
zpt_teardown(void)
{
    int i;

    if (!zpt_inited || zpt_owner != getpid()) {
        return;
    }

    while (zpt_loads != NULL) {
        zpt_load_stop(zpt_loads, NULL);
    }

    zpt_kill_all();

    for (i = 0; i < zpt_nprefixes; i++) {
        zpt_rm_tree(zpt_prefixes[i]);
    }
    zpt_nprefixes = 0;
}


static void
zpt_dump_prefix(const char *prefix)
{
    char path[ZPT_PATH_MAX + 32];

    fprintf(stderr, "zpt: logs left in %s (a test failed or did not finish):\n", prefix);
    snprintf(path, sizeof(path), "%s/logs/stderr.log", prefix);
    if (zpt_exists(path)) {
        zpt_dump_tail(path, 30);
    }
    snprintf(path, sizeof(path), "%s/logs/error.log", prefix);
    if (zpt_exists(path)) {
        zpt_dump_tail(path, 40);
    }
}


static void
zpt_atexit(void)
{
    char           path[ZPT_PATH_MAX];
    DIR           *d;
    struct dirent *e;
    int            i;

    if (!zpt_inited || zpt_owner != getpid()) {
        return; /* a fork that never ran zpt_init() */
    }

    zpt_kill_all();

    /* prefixes still registered: the test did not reach its end */
    for (i = 0; i < zpt_nprefixes; i++) {
        zpt_dump_prefix(zpt_prefixes[i]);
    }
    zpt_teardown();

    if (zpt_base_owner != getpid() || zpt_base[0] == '\0') {
        return;
    }

    /* the runner: prefixes left by tests that failed in a forked child */
    d = opendir(zpt_base);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", zpt_base, e->d_name);
            zpt_dump_prefix(path);
        }
        closedir(d);
    }
    zpt_rm_tree(zpt_base);
}
