/*
 * test_conf_file.c: zp_conf_file.c, the directive reader, through the real
 * module list: each config is written to a temporary directory and read by
 * zp_init_cycle() in test mode (-t), with fd 2 captured, so every check is
 * on the exact "zproxy: <file>:<line>: <message>" line a user would see.
 */
#include "zpt_unit.h"
#include <zp_http.h>
#include <ftw.h>

#define ZPT_OUT_MAX 16384

static char        zpt_base[32];         /* /tmp/zpt-conf-XXXXXX, one per TCase */
static char        zpt_dir[64];          /* one test's directory, no trailing "/" */
static char        zpt_main[PATH_MAX];   /* zpt_dir/zproxy.conf */
static char        zpt_out[ZPT_OUT_MAX]; /* fd 2 during the last zpt_conf_run*() */
static zp_cycle_t *zpt_cycle;            /* the last cycle, NULL when it failed */

static int
zpt_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;

    return remove(path);
}


static void
zpt_teardown(void)
{
    if (zpt_cycle) {
        zp_destroy_pool(zpt_cycle->pool);
        zpt_cycle = NULL;
    }

    if (zpt_dir[0]) {
        (void) nftw(zpt_dir, zpt_rm, 16, FTW_DEPTH | FTW_PHYS);
        zpt_dir[0] = '\0';
    }
}


/*
 * Each test's directory is made in one per-TCase directory, which the
 * parent process removes: a forked test that fails exits without its
 * teardown.
 */
static void
zpt_base_setup(void)
{
    snprintf(zpt_base, sizeof(zpt_base), "/tmp/zpt-conf-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(zpt_base));
}


static void
zpt_base_teardown(void)
{
    (void) nftw(zpt_base, zpt_rm, 16, FTW_DEPTH | FTW_PHYS);
}


static void
zpt_setup(void)
{
    zp_time_init();
    ck_assert_int_eq(zp_os_init_sizes(), ZP_OK);
    zp_slab_sizes_init();
    ck_assert_int_eq(zp_preinit_modules(), ZP_OK);

    zp_test_config = 1;
    zp_quiet_mode  = 0;
    zpt_cycle      = NULL;
    zpt_out[0]     = '\0';

    snprintf(zpt_dir, sizeof(zpt_dir), "%s/t-XXXXXX", zpt_base);
    ck_assert_ptr_nonnull(mkdtemp(zpt_dir));
    snprintf(zpt_main, sizeof(zpt_main), "%s/zproxy.conf", zpt_dir);
}


/* zpt_dir/rel, in buf */
static char *
zpt_path(char *buf, size_t size, const char *rel)
{
    ck_assert_int_lt(snprintf(buf, size, "%s/%s", zpt_dir, rel), (int) size);
    return buf;
}


/* Writes text to zpt_dir/rel, creating the directories on the way. */
static void
zpt_write(const char *rel, const char *text)
{
    char    path[PATH_MAX], *p;
    int     fd;
    size_t  len = strlen(text);

    zpt_path(path, sizeof(path), rel);

    for (p = path + strlen(zpt_dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", path,
                      strerror(errno));
        *p = '/';
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd != -1, "open(%s): %s", path, strerror(errno));
    ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
    close(fd);
}


/*
 * Reads the config file (an absolute path) as "zproxy -t -c file -g param"
 * does, with the prefix zpt_dir/ and includes relative to the file's
 * directory. Returns 1 when the cycle was made; zpt_out gets what went to
 * fd 2 and zpt_cycle the cycle.
 */
static int
zpt_conf_run_file(const char *file, const char *param)
{
    int         fd, saved;
    ssize_t     n;
    zp_cycle_t  init;
    const char *slash;
    char        tmp[] = "/tmp/zpt-stderr-XXXXXX";
    static char prefix[PATH_MAX], conf_file[PATH_MAX], conf_param[4096];

    if (zpt_cycle) {
        zp_destroy_pool(zpt_cycle->pool);
        zpt_cycle = NULL;
    }

    zp_memzero(&init, sizeof(zp_cycle_t));
    init.log  = zpt_log;
    init.pool = zpt_create_pool(1024);

    snprintf(prefix, sizeof(prefix), "%s/", zpt_dir);
    init.prefix.len  = strlen(prefix);
    init.prefix.data = (u_char *) prefix;

    snprintf(conf_file, sizeof(conf_file), "%s", file);
    init.conf_file.len  = strlen(conf_file);
    init.conf_file.data = (u_char *) conf_file;

    /* as zproxy.c: the main file's directory, with its "/" */
    slash = strrchr(conf_file, '/');
    ck_assert_ptr_nonnull(slash);
    init.conf_prefix.len  = slash - conf_file + 1;
    init.conf_prefix.data = (u_char *) conf_file;

    if (param) {
        snprintf(conf_param, sizeof(conf_param), "%s", param);
        init.conf_param.len  = strlen(conf_param);
        init.conf_param.data = (u_char *) conf_param;
    }

    ck_assert_int_eq(zp_array_init(&init.listening, init.pool, 10, sizeof(zp_listening_t)),
                     ZP_OK);

    zp_cycle = &init;

    fd = mkstemp(tmp);
    ck_assert_int_ne(fd, -1);
    unlink(tmp);

    fflush(stderr);
    saved = dup(STDERR_FILENO);
    ck_assert_int_ne(saved, -1);
    ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);

    zpt_cycle = zp_init_cycle(&init);

    fflush(stderr);
    ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
    close(saved);

    n = pread(fd, zpt_out, sizeof(zpt_out) - 1, 0);
    close(fd);
    ck_assert_int_ge(n, 0);
    zpt_out[n] = '\0';

    zp_cycle = zpt_cycle;
    zp_destroy_pool(init.pool);

    return zpt_cycle != NULL;
}


/* Writes text as zpt_dir/zproxy.conf and reads it, with -g param if any. */
static int
zpt_conf_run_g(const char *text, const char *param)
{
    zpt_write("zproxy.conf", text);
    return zpt_conf_run_file(zpt_main, param);
}


static int
zpt_conf_run(const char *text)
{
    return zpt_conf_run_g(text, NULL);
}


/* The one line "zproxy -t" prints for a good config. */
#define zpt_expect_ok() zpt_expect_ok_(__LINE__, zpt_main)

static void
zpt_expect_ok_(int at, const char *file)
{
    char expect[ZPT_OUT_MAX];

    snprintf(expect, sizeof(expect), "zproxy: the configuration file %s syntax is ok\n", file);

    ck_assert_msg(zpt_cycle != NULL, "line %d: config failed: %s", at, zpt_out);
    ck_assert_msg(strcmp(zpt_out, expect) == 0, "line %d: got \"%s\", expected \"%s\"", at,
                  zpt_out, expect);
}


/*
 * The config failed with exactly one line on fd 2: "zproxy: where:line:
 * message". where is an absolute path or "command line".
 */
#define zpt_expect_err(where, line, ...) zpt_expect_err_(__LINE__, where, line, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
zpt_expect_err_(int at, const char *where, unsigned line, const char *fmt, ...)
{
    va_list args;
    char    msg[ZPT_OUT_MAX / 2], expect[ZPT_OUT_MAX];

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    snprintf(expect, sizeof(expect), "zproxy: %s:%u: %s\n", where, line, msg);

    ck_assert_msg(zpt_cycle == NULL, "line %d: config succeeded, expected \"%s\"", at, expect);
    ck_assert_msg(strcmp(zpt_out, expect) == 0, "line %d: got \"%s\", expected \"%s\"", at,
                  zpt_out, expect);
}


static zp_core_conf_t *
zpt_ccf(void)
{
    ck_assert_ptr_nonnull(zpt_cycle);
    return (zp_core_conf_t *) zp_get_conf(zpt_cycle->conf_ctx, zp_core_module);
}


static void
zpt_assert_str(zp_str_t *s, const char *expect)
{
    ck_assert_msg(s->len == strlen(expect) && memcmp(s->data, expect, s->len) == 0,
                  "got \"%.*s\" (%zu bytes), expected \"%s\"", (int) s->len, s->data, s->len,
                  expect);
}


/* The servers of the http{} block of zpt_cycle. */
static zp_http_core_srv_conf_t **
zpt_servers(zp_uint_t *n)
{
    zp_http_conf_ctx_t       *ctx;
    zp_http_core_main_conf_t *cmcf;

    ck_assert_ptr_nonnull(zpt_cycle);
    ctx = (zp_http_conf_ctx_t *) zp_get_conf(zpt_cycle->conf_ctx, zp_http_module);
    ck_assert_ptr_nonnull(ctx);
    cmcf = ctx->main_conf[zp_http_core_module.ctx_index];
    *n   = cmcf->servers.nelts;
    return cmcf->servers.elts;
}


/* "a b c": the server names of server s, space-separated */
static void
zpt_assert_server_names(zp_uint_t s, const char *expect)
{
    char                      buf[1024], *p = buf;
    zp_uint_t                 n, i;
    zp_str_t                 *names;
    zp_http_core_srv_conf_t **srv;

    srv = zpt_servers(&n);
    ck_assert_uint_gt(n, s);
    names = srv[s]->server_names.elts;

    buf[0] = '\0';
    for (i = 0; i < srv[s]->server_names.nelts; i++) {
        p += snprintf(p, buf + sizeof(buf) - p, "%s%.*s", i ? " " : "", (int) names[i].len,
                      names[i].data);
    }

    ck_assert_str_eq(buf, expect);
}


/* ---- zp_parse_size, zp_parse_time ---- */

static ssize_t
zpt_size(const char *s)
{
    zp_str_t str = {strlen(s), (u_char *) s};

    return zp_parse_size(&str);
}


static zp_int_t
zpt_time(const char *s, zp_uint_t is_sec)
{
    zp_str_t str = {strlen(s), (u_char *) s};

    return zp_parse_time(&str, is_sec);
}


START_TEST(test_parse_size)
{
    ck_assert_int_eq(zpt_size("0"), 0);
    ck_assert_int_eq(zpt_size("10"), 10);
    ck_assert_int_eq(zpt_size("10k"), 10 * 1024);
    ck_assert_int_eq(zpt_size("10K"), 10 * 1024);
    ck_assert_int_eq(zpt_size("1m"), 1024 * 1024);
    ck_assert_int_eq(zpt_size("1M"), 1024 * 1024);
    ck_assert_int_eq(zpt_size("2g"), 2LL * 1024 * 1024 * 1024);
    ck_assert_int_eq(zpt_size("2G"), 2LL * 1024 * 1024 * 1024);
    ck_assert_int_eq(zpt_size("0k"), 0);

    ck_assert_int_eq(zpt_size("10q"), ZP_ERROR);
    ck_assert_int_eq(zpt_size(""), ZP_ERROR);
    ck_assert_int_eq(zpt_size("k"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("m"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("-1"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("1.5m"), ZP_ERROR);
    ck_assert_int_eq(zpt_size(" 10"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("10 "), ZP_ERROR);
    ck_assert_int_eq(zpt_size("10kk"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("10kb"), ZP_ERROR);

    /* the largest value of each unit, and one more */
    ck_assert_int_eq(zpt_size("9223372036854775807"), SSIZE_MAX);
    ck_assert_int_eq(zpt_size("9223372036854775808"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("99999999999999999999999"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("9007199254740991k"), 9007199254740991LL * 1024);
    ck_assert_int_eq(zpt_size("9007199254740992k"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("8796093022207m"), 8796093022207LL * 1024 * 1024);
    ck_assert_int_eq(zpt_size("8796093022208m"), ZP_ERROR);
    ck_assert_int_eq(zpt_size("8589934591g"), 8589934591LL * 1024 * 1024 * 1024);
    ck_assert_int_eq(zpt_size("8589934592g"), ZP_ERROR);
}
END_TEST


START_TEST(test_parse_time)
{
    ck_assert_int_eq(zpt_time("500ms", 0), 500);
    ck_assert_int_eq(zpt_time("0ms", 0), 0);
    ck_assert_int_eq(zpt_time("30s", 0), 30000);
    ck_assert_int_eq(zpt_time("5m", 0), 5 * 60000);
    ck_assert_int_eq(zpt_time("1h", 0), 3600000);
    ck_assert_int_eq(zpt_time("1d", 0), 86400000);
    ck_assert_int_eq(zpt_time("1h30m", 0), 5400000);
    ck_assert_int_eq(zpt_time("1m30s", 0), 90000);
    ck_assert_int_eq(zpt_time("1s500ms", 0), 1500);
    ck_assert_int_eq(zpt_time("1d2h3m4s5ms", 0), 86400000 + 2 * 3600000 + 3 * 60000 + 4000 + 5);
    /* a bare number is seconds, also after units */
    ck_assert_int_eq(zpt_time("75", 0), 75000);
    ck_assert_int_eq(zpt_time("0", 0), 0);
    ck_assert_int_eq(zpt_time("1m30", 0), 90000);

    ck_assert_int_eq(zpt_time("5x", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("ms", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("-5s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("5 s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("1.5s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("5mss", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("1h30x", 0), ZP_ERROR);
    /* units go from the largest down, each once */
    ck_assert_int_eq(zpt_time("1s1s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("30m1h", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("500ms1s", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("1s5", 0), ZP_ERROR);

    /* overflow: of the number, of number * unit, and of the sum */
    ck_assert_int_eq(zpt_time("99999999999999999999", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("99999999999999999999ms", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("106751991167d", 0), 106751991167LL * 86400000);
    ck_assert_int_eq(zpt_time("106751991168d", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("106751991167d1d", 0), ZP_ERROR);
    ck_assert_int_eq(zpt_time("9223372036854775s", 0), 9223372036854775000LL);
    ck_assert_int_eq(zpt_time("9223372036854776s", 0), ZP_ERROR);
}
END_TEST


START_TEST(test_parse_time_sec)
{
    ck_assert_int_eq(zpt_time("30s", 1), 30);
    ck_assert_int_eq(zpt_time("5m", 1), 300);
    ck_assert_int_eq(zpt_time("1h", 1), 3600);
    ck_assert_int_eq(zpt_time("1d", 1), 86400);
    ck_assert_int_eq(zpt_time("1h30m", 1), 5400);
    ck_assert_int_eq(zpt_time("75", 1), 75);
    ck_assert_int_eq(zpt_time("0", 1), 0);

    ck_assert_int_eq(zpt_time("5x", 1), ZP_ERROR);
    ck_assert_int_eq(zpt_time("ms", 1), ZP_ERROR);
    /* milliseconds mean nothing where the value is in seconds */
    ck_assert_int_eq(zpt_time("500ms", 1), ZP_ERROR);
    ck_assert_int_eq(zpt_time("1s500ms", 1), ZP_ERROR);
    ck_assert_int_eq(zpt_time("", 1), ZP_ERROR);
    ck_assert_int_eq(zpt_time("106751991168d", 1), ZP_ERROR);
    ck_assert_int_eq(zpt_time("99999999999999999999", 1), ZP_ERROR);
}
END_TEST


/* ---- valid configurations ---- */

START_TEST(test_minimal)
{
    zp_core_conf_t  *ccf;
    zp_event_conf_t *ecf;
    char             path[PATH_MAX];

    ck_assert_int_eq(zpt_conf_run("events {}"), 1);
    zpt_expect_ok();

    /* the defaults */
    ccf = zpt_ccf();
    ck_assert_int_eq(ccf->daemon, 1);
    ck_assert_int_eq(ccf->worker_processes, 1);
    ck_assert_uint_eq(ccf->shutdown_timeout, 0);
    ck_assert_uint_eq(ccf->drain_idle, 1000);
    ck_assert_int_eq(ccf->rlimit_nofile, ZP_CONF_UNSET);
    ck_assert_uint_eq(ccf->cpu_affinity_auto, 0);
    ck_assert_ptr_null(ccf->cpu_affinity);
    zpt_assert_str(&ccf->pid, zpt_path(path, sizeof(path), "logs/zproxy.pid"));
    zpt_assert_str(&ccf->oldpid, zpt_path(path, sizeof(path), "logs/zproxy.pid.oldbin"));

    ecf = zp_event_get_conf(zpt_cycle->conf_ctx, zp_event_core_module);
    ck_assert_uint_eq(ecf->connections, 1024);

    ck_assert_ptr_nonnull(zpt_cycle->new_log.file);
    zpt_assert_str(&zpt_cycle->new_log.file->name, zpt_path(path, sizeof(path), "logs/error.log"));
    ck_assert_uint_eq(zpt_cycle->new_log.log_level, ZP_LOG_ERR);
    ck_assert_uint_eq(zpt_cycle->listening.nelts, 0);

    /* with a trailing newline, blank lines, CRLF and an empty file before */
    ck_assert_int_eq(zpt_conf_run("\n\n  \t\r\nevents {\r\n}\r\n\n"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_conf_run("events{}"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_conf_run("events { worker_connections 64; use epoll; }"), 1);
    zpt_expect_ok();
    ecf = zp_event_get_conf(zpt_cycle->conf_ctx, zp_event_core_module);
    ck_assert_uint_eq(ecf->connections, 64);
}
END_TEST


START_TEST(test_main_directives)
{
    zp_core_conf_t *ccf;
    char            path[PATH_MAX];

    ck_assert_int_eq(zpt_conf_run("worker_processes 4;\n"
                                  "worker_cpu_affinity 0001 0010 0100 1000;\n"
                                  "daemon off;\n"
                                  "pid run/zp.pid;\n"
                                  "error_log logs/e.log info;\n"
                                  "worker_rlimit_nofile 4096;\n"
                                  "worker_shutdown_timeout 10s;\n"
                                  "worker_drain_idle 250ms;\n"
                                  "worker_numa off;\n"
                                  "events {\n"
                                  "    worker_connections 512;\n"
                                  "    multi_accept off;\n"
                                  "    accept_exclusive on;\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();

    ccf = zpt_ccf();
    ck_assert_int_eq(ccf->worker_processes, 4);
    ck_assert_int_eq(ccf->daemon, 0);
    ck_assert_int_eq(ccf->rlimit_nofile, 4096);
    ck_assert_uint_eq(ccf->shutdown_timeout, 10000);
    ck_assert_uint_eq(ccf->drain_idle, 250);
    ck_assert_int_eq(ccf->numa, 0);
    zpt_assert_str(&ccf->pid, zpt_path(path, sizeof(path), "run/zp.pid"));
    zpt_assert_str(&ccf->oldpid, zpt_path(path, sizeof(path), "run/zp.pid.oldbin"));

    ck_assert_uint_eq(ccf->cpu_affinity_auto, 0);
    ck_assert_uint_eq(ccf->cpu_affinity_n, 4);
    ck_assert_int_eq(CPU_COUNT(&ccf->cpu_affinity[0]), 1);
    ck_assert(CPU_ISSET(0, &ccf->cpu_affinity[0]));
    ck_assert(CPU_ISSET(1, &ccf->cpu_affinity[1]));
    ck_assert(CPU_ISSET(2, &ccf->cpu_affinity[2]));
    ck_assert(CPU_ISSET(3, &ccf->cpu_affinity[3]));

    zpt_assert_str(&zpt_cycle->new_log.file->name, zpt_path(path, sizeof(path), "logs/e.log"));
    ck_assert_uint_eq(zpt_cycle->new_log.log_level, ZP_LOG_INFO);
    ck_assert_ptr_null(zpt_cycle->new_log.next);
    /* -t opens nothing */
    ck_assert_int_eq(zpt_cycle->new_log.file->fd, ZP_INVALID_FILE);

    /* an absolute pid path stays as it is */
    ck_assert_int_eq(zpt_conf_run("pid /run/zpt-x.pid; events {}"), 1);
    zpt_expect_ok();
    zpt_assert_str(&zpt_ccf()->pid, "/run/zpt-x.pid");
}
END_TEST


START_TEST(test_worker_processes)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    ck_assert_int_eq(zpt_conf_run("worker_processes auto; events {}"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->worker_processes, ncpu > 0 ? ncpu : 1);

    ck_assert_int_eq(zpt_conf_run("worker_processes 512; events {}"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->worker_processes, ZP_MAX_PROCESSES / 2);

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes 513;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"513\" in \"worker_processes\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes 0;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"0\" in \"worker_processes\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes -1;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"-1\" in \"worker_processes\" directive");
}
END_TEST


START_TEST(test_cpu_affinity)
{
    zp_core_conf_t *ccf;

    ck_assert_int_eq(zpt_conf_run("worker_cpu_affinity auto; events {}"), 1);
    zpt_expect_ok();
    ccf = zpt_ccf();
    ck_assert_uint_eq(ccf->cpu_affinity_auto, 1);
    ck_assert_ptr_null(ccf->cpu_affinity);

    ck_assert_int_eq(zpt_conf_run("worker_cpu_affinity auto 0110; events {}"), 1);
    zpt_expect_ok();
    ccf = zpt_ccf();
    ck_assert_uint_eq(ccf->cpu_affinity_auto, 1);
    ck_assert_uint_eq(ccf->cpu_affinity_n, 1);
    ck_assert_int_eq(CPU_COUNT(&ccf->cpu_affinity[0]), 2);
    ck_assert(CPU_ISSET(1, &ccf->cpu_affinity[0]));
    ck_assert(CPU_ISSET(2, &ccf->cpu_affinity[0]));

    ck_assert_int_eq(zpt_conf_run("worker_cpu_affinity 10 01; events {}"), 1);
    zpt_expect_ok();
    ccf = zpt_ccf();
    ck_assert_uint_eq(ccf->cpu_affinity_n, 2);
    ck_assert(CPU_ISSET(1, &ccf->cpu_affinity[0]));
    ck_assert(CPU_ISSET(0, &ccf->cpu_affinity[1]));

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_cpu_affinity 01 0002;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"0002\" in \"worker_cpu_affinity\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_cpu_affinity 0000;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"0000\" in \"worker_cpu_affinity\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_cpu_affinity auto 01 10;\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"worker_cpu_affinity\" directive has too many parameters");

    ck_assert_int_eq(zpt_conf_run("worker_cpu_affinity auto;\nworker_cpu_affinity 01;\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"worker_cpu_affinity\" directive is duplicate");
}
END_TEST


START_TEST(test_error_log)
{
    zp_log_t *log;
    char      path[PATH_MAX];

    ck_assert_int_eq(zpt_conf_run("error_log stderr warn;\n"
                                  "error_log logs/debug.log debug;\n"
                                  "error_log /dev/null notice debug_http debug_event;\n"
                                  "events {}\n"),
                     1);
    zpt_expect_ok();

    log = &zpt_cycle->new_log;
    ck_assert_ptr_eq(log->file, zp_log_stderr_file());
    ck_assert_uint_eq(log->log_level, ZP_LOG_WARN);

    log = log->next;
    ck_assert_ptr_nonnull(log);
    zpt_assert_str(&log->file->name, zpt_path(path, sizeof(path), "logs/debug.log"));
    ck_assert_uint_eq(log->log_level, ZP_LOG_DEBUG_ALL);

    log = log->next;
    ck_assert_ptr_nonnull(log);
    zpt_assert_str(&log->file->name, "/dev/null");
    ck_assert_uint_eq(log->log_level,
                      ZP_LOG_NOTICE | ZP_LOG_DEBUG | ZP_LOG_DEBUG_HTTP | ZP_LOG_DEBUG_EVENT);
    ck_assert_ptr_null(log->next);

    /* the same file twice is one open file */
    ck_assert_int_eq(zpt_conf_run("error_log logs/a.log;\nerror_log logs/a.log info;\n"
                                  "events {}\n"),
                     1);
    zpt_expect_ok();
    ck_assert_ptr_eq(zpt_cycle->new_log.file, zpt_cycle->new_log.next->file);
    ck_assert_uint_eq(zpt_cycle->new_log.log_level, ZP_LOG_ERR);

    ck_assert_int_eq(zpt_conf_run("events {}\nerror_log stderr loud;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"loud\" in \"error_log\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nerror_log stderr warn info;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"info\" in \"error_log\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nerror_log;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"error_log\" directive");
}
END_TEST


START_TEST(test_user)
{
    struct passwd *pw;
    struct group  *gr;

    if (geteuid() != 0) {
        /* without root the directive is a warning, and the config is good */
        ck_assert_int_eq(zpt_conf_run("events {}\nuser nobody;\n"), 1);
        ck_assert_uint_eq(zpt_ccf()->user, (uid_t) ZP_CONF_UNSET_UINT);
        return;
    }

    pw = getpwnam("nobody");
    gr = getgrnam("nogroup");
    if (pw == NULL || gr == NULL) {
        return; /* no such user here: nothing to compare with */
    }

    ck_assert_int_eq(zpt_conf_run("events {}\nuser nobody;\n"), 1);
    zpt_expect_ok();
    ck_assert_uint_eq(zpt_ccf()->user, pw->pw_uid);
    ck_assert_uint_eq(zpt_ccf()->group, pw->pw_gid);
    ck_assert_str_eq(zpt_ccf()->username, "nobody");

    ck_assert_int_eq(zpt_conf_run("events {}\nuser nobody nogroup;\n"), 1);
    zpt_expect_ok();
    ck_assert_uint_eq(zpt_ccf()->group, gr->gr_gid);

    ck_assert_int_eq(zpt_conf_run("events {}\nuser zpt-no-such-user;\n"), 0);
    zpt_expect_err(zpt_main, 2, "getpwnam(\"zpt-no-such-user\") failed");

    ck_assert_int_eq(zpt_conf_run("events {}\nuser nobody zpt-no-such-group;\n"), 0);
    zpt_expect_err(zpt_main, 2, "getgrnam(\"zpt-no-such-group\") failed");

    ck_assert_int_eq(zpt_conf_run("events {}\nuser nobody;\nuser nobody;\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"user\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\nuser a b c;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"user\" directive");
}
END_TEST


START_TEST(test_comments)
{
    zp_core_conf_t *ccf;

    ck_assert_int_eq(zpt_conf_run("# a comment { ; } \" '\n"
                                  "#\n"
                                  "events { # after a block start\n"
                                  "    # worker_connections 1;\n"
                                  "} # after a block end\n"
                                  "daemon off; # after a directive; daemon on;\n"
                                  "worker_processes\n"
                                  "  2;#no space after\n"
                                  "pid /run/a#b.pid;\n"
                                  "# the last line, without a newline"),
                     1);
    zpt_expect_ok();

    ccf = zpt_ccf();
    ck_assert_int_eq(ccf->daemon, 0);
    ck_assert_int_eq(ccf->worker_processes, 2);
    /* '#' inside a word is part of it */
    zpt_assert_str(&ccf->pid, "/run/a#b.pid");

    /* comments count their lines */
    ck_assert_int_eq(zpt_conf_run("# 1\n# 2 {\nevents {} # 3 }\n# 4 ;\nfoo;\n"), 0);
    zpt_expect_err(zpt_main, 5, "unknown directive \"foo\"");
}
END_TEST


START_TEST(test_comment_hash_in_word)
{
    /* "worker_processes#..." is one word, as in nginx: a comment starts
     * only where a word could */
    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes#x 2;\n"), 0);
    zpt_expect_err(zpt_main, 2, "unknown directive \"worker_processes#x\"");
}
END_TEST


START_TEST(test_quoted_strings)
{
    zp_core_conf_t *ccf;

    ck_assert_int_eq(zpt_conf_run("events {}\npid \"/q\\\"d\\\\b\\nn\\tt\\rr\\'s\\x\";\n"), 1);
    zpt_expect_ok();
    ccf = zpt_ccf();
    /* \" \\ \n \t \r \' are escapes; any other \x is kept as it is */
    zpt_assert_str(&ccf->pid, "/q\"d\\b\nn\tt\rr's\\x");

    ck_assert_int_eq(zpt_conf_run("events {}\npid '/a b;{}#c \"d\" \\'e\\'';\n"), 1);
    zpt_expect_ok();
    zpt_assert_str(&zpt_ccf()->pid, "/a b;{}#c \"d\" 'e'");

    /* an empty string is a word */
    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { server_name \"\" ''; } }\n"), 1);
    zpt_expect_ok();
    {
        zp_uint_t                 n;
        zp_http_core_srv_conf_t **srv = zpt_servers(&n);

        ck_assert_uint_eq(srv[0]->server_names.nelts, 2);
        ck_assert_uint_eq(((zp_str_t *) srv[0]->server_names.elts)[0].len, 0);
        ck_assert_uint_eq(((zp_str_t *) srv[0]->server_names.elts)[1].len, 0);
    }

    /* a quoted directive name and flag */
    ck_assert_int_eq(zpt_conf_run("\"events\" {}\n'daemon' \"off\";\n"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);

    /* outside quotes a backslash takes the next byte as it is */
    ck_assert_int_eq(zpt_conf_run("events {}\npid /a\\;b\\ c\\\"d;\n"), 1);
    zpt_expect_ok();
    zpt_assert_str(&zpt_ccf()->pid, "/a;b c\"d");

    /* a string over several lines keeps its newlines and counts them; the
     * escape \n is not a line */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "pid \"/a\\nb\n"
                                  "c\n"
                                  "d\";\n"
                                  "foo;\n"),
                     0);
    zpt_expect_err(zpt_main, 5, "unknown directive \"foo\"");

    ck_assert_int_eq(zpt_conf_run("events {}\npid \"/a\nb\";\n"), 1);
    zpt_expect_ok();
    zpt_assert_str(&zpt_ccf()->pid, "/a\nb");
}
END_TEST


START_TEST(test_multiline)
{
    zp_core_conf_t *ccf;

    ck_assert_int_eq(zpt_conf_run("events\n"
                                  "{\n"
                                  "}\n"
                                  "worker_cpu_affinity\n"
                                  "    01\n"
                                  "\n"
                                  "    10\n"
                                  ";\n"
                                  "daemon\toff\r\n"
                                  "  ;"),
                     1);
    zpt_expect_ok();

    ccf = zpt_ccf();
    ck_assert_uint_eq(ccf->cpu_affinity_n, 2);
    ck_assert_int_eq(ccf->daemon, 0);

    /* a directive's error is reported at the line of its ";" */
    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes\n\n  abc\n;\n"), 0);
    zpt_expect_err(zpt_main, 5, "invalid value \"abc\" in \"worker_processes\" directive");

    /* several directives on one line */
    ck_assert_int_eq(zpt_conf_run("events {} daemon off; worker_processes 2; pid /x;"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->worker_processes, 2);
}
END_TEST


START_TEST(test_http_valid)
{
    zp_uint_t                 n;
    zp_http_core_srv_conf_t **srv;
    zp_http_core_rte_conf_t **rte;

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    client_header_buffer_size 4k;\n"
                                  "    keepalive_timeout 30s;\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "        server_name A.example b.example;\n"
                                  "        route / { send_timeout 5s; }\n"
                                  "        route = / { }\n"
                                  "        route /api { keepalive_requests 10; }\n"
                                  "    }\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "        listen 127.0.0.1:8081 default_server;\n"
                                  "        server_name c.example;\n"
                                  "    }\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();

    srv = zpt_servers(&n);
    ck_assert_uint_eq(n, 2);
    zpt_assert_server_names(0, "a.example b.example");
    zpt_assert_server_names(1, "c.example");
    ck_assert_uint_eq(srv[0]->client_header_buffer_size, 4096);
    ck_assert_uint_eq(srv[0]->routes.nelts, 3);

    rte = srv[0]->routes.elts;
    zpt_assert_str(&rte[0]->def.pattern, "/");
    ck_assert_uint_eq(rte[0]->def.type, ZP_HTTP_ROUTE_PREFIX);
    ck_assert_uint_eq(rte[0]->send_timeout, 5000);
    ck_assert_uint_eq(rte[0]->keepalive_timeout, 30000);
    zpt_assert_str(&rte[1]->def.pattern, "/");
    ck_assert_uint_eq(rte[1]->def.type, ZP_HTTP_ROUTE_EXACT);
    ck_assert_uint_eq(rte[2]->keepalive_requests, 10);

    /* one listening socket per address */
    ck_assert_uint_eq(zpt_cycle->listening.nelts, 2);
}
END_TEST


START_TEST(test_include_file)
{
    char path[PATH_MAX];

    zpt_write("core.conf", "daemon off;\n\nworker_processes 3;\n");
    zpt_write("events.conf", "worker_connections 100;\n");
    ck_assert_int_eq(zpt_conf_run("include core.conf;\n"
                                  "events {\n"
                                  "    include events.conf;\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);
    ck_assert_int_eq(zpt_ccf()->worker_processes, 3);
    ck_assert_uint_eq(((zp_event_conf_t *) zp_event_get_conf(zpt_cycle->conf_ctx,
                                                             zp_event_core_module))
                          ->connections,
                      100);

    /* an absolute path */
    zpt_path(path, sizeof(path), "core.conf");
    {
        char conf[PATH_MAX + 64];

        snprintf(conf, sizeof(conf), "events {}\ninclude %s;\n", path);
        ck_assert_int_eq(zpt_conf_run(conf), 1);
        zpt_expect_ok();
        ck_assert_int_eq(zpt_ccf()->worker_processes, 3);
    }

    /* after an include, the lines are the including file's again */
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude core.conf;\n\nfoo;\n"), 0);
    zpt_expect_err(zpt_main, 4, "unknown directive \"foo\"");

    /* an empty file */
    zpt_write("empty.conf", "");
    ck_assert_int_eq(zpt_conf_run("include empty.conf; events {}"), 1);
    zpt_expect_ok();
}
END_TEST


START_TEST(test_include_glob)
{
    /* written out of order: glob() sorts */
    zpt_write("names/b.conf", "server_name b;\n");
    zpt_write("names/c.conf", "server_name c;\n");
    zpt_write("names/a.conf", "server_name a;\n");
    zpt_write("names/a.txt", "server_name txt;\n");

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        server_name first;\n"
                                  "        include names/*.conf;\n"
                                  "        server_name last;\n"
                                  "    }\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();
    zpt_assert_server_names(0, "first a b c last");

    /* no match is no error */
    ck_assert_int_eq(zpt_conf_run("include names/*.none;\ninclude *.none;\nevents {}\n"), 1);
    zpt_expect_ok();

    /* [] and ? are globs too */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http { server { include names/[ab].conf; "
                                  "include names/?.conf; } }\n"),
                     1);
    zpt_expect_ok();
    zpt_assert_server_names(0, "a b a b c");
}
END_TEST


/*
 * A glob in a directory that does not exist matches nothing either, as in
 * nginx (an include of conf.d/ files before conf.d is made). glob() with
 * GLOB_ERR reports the failed opendir() as GLOB_ABORTED instead.
 */
START_TEST(test_include_glob_missing_dir)
{
    ck_assert_int_eq(zpt_conf_run("include nothing/*.conf;\nevents {}\n"), 1);
    zpt_expect_ok();
}
END_TEST


START_TEST(test_include_glob_order)
{
    char path[PATH_MAX];

    /* the sorted order decides which of two "daemon" is the duplicate */
    zpt_write("conf.d/20-b.conf", "\n\ndaemon off;\n");
    zpt_write("conf.d/10-a.conf", "daemon on;\n");
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude conf.d/*.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "conf.d/20-b.conf"), 3,
                   "\"daemon\" directive is duplicate");

    /* and an error stops the files after it */
    zpt_write("conf.d/15-bad.conf", "bad;\n");
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude conf.d/*.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "conf.d/15-bad.conf"), 1,
                   "unknown directive \"bad\"");
}
END_TEST


START_TEST(test_include_relative_to_main)
{
    char main_conf[PATH_MAX];

    /* the main file in etc/: includes are relative to etc/, not to the
     * prefix, and nested ones too (not to the including file's dir) */
    zpt_write("etc/zproxy.conf", "include inc/core.conf;\nevents {}\n");
    zpt_write("etc/inc/core.conf", "include inc/more.conf;\nworker_processes 5;\n");
    zpt_write("etc/inc/more.conf", "daemon off;\n");
    zpt_write("inc/core.conf", "worker_processes 6;\n");

    zpt_path(main_conf, sizeof(main_conf), "etc/zproxy.conf");
    ck_assert_int_eq(zpt_conf_run_file(main_conf, NULL), 1);
    zpt_expect_ok_(__LINE__, main_conf);
    ck_assert_int_eq(zpt_ccf()->worker_processes, 5);
    ck_assert_int_eq(zpt_ccf()->daemon, 0);
}
END_TEST


START_TEST(test_include_nested)
{
    char path[PATH_MAX];

    zpt_write("one.conf", "\ninclude two.conf;\nworker_processes 2;\n");
    zpt_write("two.conf", "include three.conf;\n");
    zpt_write("three.conf", "daemon off;\n");

    ck_assert_int_eq(zpt_conf_run("events {}\ninclude one.conf;\n"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);
    ck_assert_int_eq(zpt_ccf()->worker_processes, 2);

    /* an error three files down points there */
    zpt_write("three.conf", "daemon off;\n\n\n  daemon on;\n");
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude one.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "three.conf"), 4,
                   "\"daemon\" directive is duplicate");

    /* and an error after the nested include in the middle file points at
     * the middle file's line */
    zpt_write("three.conf", "daemon off;\n");
    zpt_write("one.conf", "\ninclude two.conf;\nworker_processes x;\n");
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude one.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "one.conf"), 3,
                   "invalid value \"x\" in \"worker_processes\" directive");
}
END_TEST


START_TEST(test_include_recursive)
{
    ck_assert_int_eq(zpt_conf_run("include zproxy.conf;\nevents {}\n"), 0);
    zpt_expect_err(zpt_main, 1, "includes nested too deeply");
}
END_TEST


START_TEST(test_conf_param)
{
    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off;"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off; worker_processes 2;"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);
    ck_assert_int_eq(zpt_ccf()->worker_processes, 2);

    /* an empty -g is nothing */
    ck_assert_int_eq(zpt_conf_run_g("events {}\n", ""), 1);
    zpt_expect_ok();

    /* -g comes first: the file's directive is the duplicate */
    ck_assert_int_eq(zpt_conf_run_g("events {}\n\ndaemon on;\n", "daemon off;"), 0);
    zpt_expect_err(zpt_main, 3, "\"daemon\" directive is duplicate");

    /* errors in -g point at "command line" */
    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon maybe;"), 0);
    zpt_expect_err("command line", 1,
                   "invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or \"off\"");

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off;\nfoo;"), 0);
    zpt_expect_err("command line", 2, "unknown directive \"foo\"");

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off"), 0);
    zpt_expect_err("command line", 1, "unexpected end of file, expecting \";\" or \"}\"");

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off; }"), 0);
    zpt_expect_err("command line", 1, "unexpected \"}\"");

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "listen 80;"), 0);
    zpt_expect_err("command line", 1, "\"listen\" directive is not allowed here");

    /* an include from -g reads a file, which may have blocks */
    zpt_write("ev.conf", "events {}\n");
    ck_assert_int_eq(zpt_conf_run_g("daemon off;\n", "include ev.conf;"), 1);
    zpt_expect_ok();
}
END_TEST


/* ---- errors ---- */

START_TEST(test_err_unknown_directive)
{
    ck_assert_int_eq(zpt_conf_run("events {}\nfoo bar;\n"), 0);
    zpt_expect_err(zpt_main, 2, "unknown directive \"foo\"");

    ck_assert_int_eq(zpt_conf_run("events {\n  foo;\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "unknown directive \"foo\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n server {\n  route / {\n   foo;\n"
                                  "  }\n }\n}\n"),
                     0);
    zpt_expect_err(zpt_main, 5, "unknown directive \"foo\"");

    /* names are case-sensitive */
    ck_assert_int_eq(zpt_conf_run("events {}\nDaemon off;\n"), 0);
    zpt_expect_err(zpt_main, 2, "unknown directive \"Daemon\"");
}
END_TEST


START_TEST(test_err_not_allowed_here)
{
    ck_assert_int_eq(zpt_conf_run("events {}\nlisten 80;\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"listen\" directive is not allowed here");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_connections 10;\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"worker_connections\" directive is not allowed here");

    /* listen belongs to server{}, not http{} */
    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  listen 80;\n}\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"listen\" directive is not allowed here");

    /* main directives are not allowed inside blocks */
    ck_assert_int_eq(zpt_conf_run("events {\n  worker_processes 2;\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"worker_processes\" directive is not allowed here");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  daemon off;\n}\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"daemon\" directive is not allowed here");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  server {\n    server {}\n  }\n}\n"), 0);
    zpt_expect_err(zpt_main, 4, "\"server\" directive is not allowed here");

    ck_assert_int_eq(zpt_conf_run("events {\n  events {}\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"events\" directive is not allowed here");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { route / {\n"
                                  "  client_header_buffer_size 1k;\n} } }\n"),
                     0);
    zpt_expect_err(zpt_main, 3, "\"client_header_buffer_size\" directive is not allowed here");
}
END_TEST


START_TEST(test_err_number_of_arguments)
{
    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"worker_processes\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes 1 2;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"worker_processes\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"daemon\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon on off;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"daemon\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_cpu_affinity;\n"), 0);
    zpt_expect_err(zpt_main, 2,
                   "invalid number of arguments in \"worker_cpu_affinity\" directive");

    ck_assert_int_eq(zpt_conf_run("events foo {}\n"), 0);
    zpt_expect_err(zpt_main, 1, "invalid number of arguments in \"events\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\ninclude;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"include\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\ninclude a b;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"include\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { route = /a /b {} } }\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid number of arguments in \"route\" directive");
}
END_TEST


START_TEST(test_err_invalid_value)
{
    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes abc;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"abc\" in \"worker_processes\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n    client_header_buffer_size 10q;\n}\n"),
                     0);
    zpt_expect_err(zpt_main, 3, "invalid value \"10q\" in \"client_header_buffer_size\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon yes;\n"), 0);
    zpt_expect_err(zpt_main, 2,
                   "invalid value \"yes\" in \"daemon\" directive, it must be \"on\" or \"off\"");

    /* on and off are case-insensitive */
    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon OFF;\n"), 1);
    zpt_expect_ok();
    ck_assert_int_eq(zpt_ccf()->daemon, 0);

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_shutdown_timeout 5x;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"5x\" in \"worker_shutdown_timeout\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_rlimit_nofile many;\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"many\" in \"worker_rlimit_nofile\" directive");

    ck_assert_int_eq(zpt_conf_run("events {\n  worker_connections 1;\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"1\" in \"worker_connections\" directive");

    ck_assert_int_eq(zpt_conf_run("events {\n  use kqueue;\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"kqueue\" in \"use\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  keepalive_requests -1;\n}\n"), 0);
    zpt_expect_err(zpt_main, 3, "invalid value \"-1\" in \"keepalive_requests\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server {\n  listen 127.0.0.1:80 backlog=x;\n"
                                  "} }\n"),
                     0);
    zpt_expect_err(zpt_main, 3, "invalid value \"backlog=x\" in \"listen\" directive");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server {\n  listen 127.0.0.1:80 bogus;\n"
                                  "} }\n"),
                     0);
    zpt_expect_err(zpt_main, 3, "invalid parameter \"bogus\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { route ^~ /x {} } }\n"), 0);
    zpt_expect_err(zpt_main, 2, "invalid value \"^~\" in \"route\" directive");
}
END_TEST


START_TEST(test_err_duplicate)
{
    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon on;\ndaemon off;\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"daemon\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_processes 1;\nworker_processes 1;\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"worker_processes\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\npid /a;\npid /b;\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"pid\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\nworker_drain_idle 1s;\nworker_drain_idle 2s;\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"worker_drain_idle\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\n\nevents {\n}\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"events\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {}\nhttp {}\n"), 0);
    zpt_expect_err(zpt_main, 3, "\"http\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {\n  worker_connections 10;\n  worker_connections 20;\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 3, "\"worker_connections\" directive is duplicate");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  server {\n"
                                  "    client_header_timeout 1s;\n"
                                  "    client_header_timeout 2s;\n  }\n}\n"),
                     0);
    zpt_expect_err(zpt_main, 5, "\"client_header_timeout\" directive is duplicate");
}
END_TEST


START_TEST(test_err_braces)
{
    /* an extra "}" */
    ck_assert_int_eq(zpt_conf_run("events {}\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {\n}\n\n  }\ndaemon off;\n"), 0);
    zpt_expect_err(zpt_main, 4, "unexpected \"}\"");

    /* a "}" ending a directive */
    ck_assert_int_eq(zpt_conf_run("events {\n  worker_connections 10 }\n"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected \"}\"");

    /* a lone ";" or "{" */
    ck_assert_int_eq(zpt_conf_run("events {}\n;\n"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected \";\"");
    ck_assert_int_eq(zpt_conf_run("events {}\n\n{ }\n"), 0);
    zpt_expect_err(zpt_main, 3, "unexpected \"{\"");

    /* a missing "}": the line after the last newline */
    ck_assert_int_eq(zpt_conf_run("events {\n"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected end of file, expecting \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {"), 0);
    zpt_expect_err(zpt_main, 1, "unexpected end of file, expecting \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  server {\n  }\n\n# end\n"), 0);
    zpt_expect_err(zpt_main, 7, "unexpected end of file, expecting \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp {\n  server {\n    route / {\n"), 0);
    zpt_expect_err(zpt_main, 5, "unexpected end of file, expecting \"}\"");
}
END_TEST


START_TEST(test_err_unterminated_directive)
{
    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon off"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected end of file, expecting \";\" or \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon off\n\n"), 0);
    zpt_expect_err(zpt_main, 4, "unexpected end of file, expecting \";\" or \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon off # no end;\n"), 0);
    zpt_expect_err(zpt_main, 3, "unexpected end of file, expecting \";\" or \"}\"");

    ck_assert_int_eq(zpt_conf_run("events {\n  worker_connections 10"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected end of file, expecting \";\" or \"}\"");
}
END_TEST


START_TEST(test_err_block_mismatch)
{
    ck_assert_int_eq(zpt_conf_run("events;\n"), 0);
    zpt_expect_err(zpt_main, 1, "directive \"events\" has no opening \"{\"");

    ck_assert_int_eq(zpt_conf_run("events {}\n\nhttp\n;\n"), 0);
    zpt_expect_err(zpt_main, 4, "directive \"http\" has no opening \"{\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { route /x; } }\n"), 0);
    zpt_expect_err(zpt_main, 2, "directive \"route\" has no opening \"{\"");

    ck_assert_int_eq(zpt_conf_run("events {}\ndaemon off {\n}\n"), 0);
    zpt_expect_err(zpt_main, 2, "directive \"daemon\" is not terminated by \";\"");

    ck_assert_int_eq(zpt_conf_run("events {}\ninclude x.conf {}\n"), 0);
    zpt_expect_err(zpt_main, 2, "directive \"include\" is not terminated by \";\"");
}
END_TEST


START_TEST(test_err_quotes)
{
    /* reported at the line the string starts */
    ck_assert_int_eq(zpt_conf_run("events {}\n\npid \"/a;\n}\nb\n"), 0);
    zpt_expect_err(zpt_main, 3, "unterminated quoted string");

    ck_assert_int_eq(zpt_conf_run("events {}\npid '/a\"\n"), 0);
    zpt_expect_err(zpt_main, 2, "unterminated quoted string");

    /* a backslash before the end does not close it */
    ck_assert_int_eq(zpt_conf_run("events {}\npid \"/a\\\""), 0);
    zpt_expect_err(zpt_main, 2, "unterminated quoted string");

    ck_assert_int_eq(zpt_conf_run("events {}\npid /a\"b\";\n"), 0);
    zpt_expect_err(zpt_main, 2, "unexpected quote in \"/a\"\"");
}
END_TEST


START_TEST(test_err_include)
{
    char path[PATH_MAX], inc[PATH_MAX];

    ck_assert_int_eq(zpt_conf_run("events {}\ninclude missing.conf;\n"), 0);
    zpt_expect_err(zpt_main, 2, "open() \"%s\" failed (2: No such file or directory)",
                   zpt_path(path, sizeof(path), "missing.conf"));

    /* inside a block and an included file */
    zpt_write("a.conf", "\n\ninclude sub/missing.conf;\n");
    ck_assert_int_eq(zpt_conf_run("events {\n  include a.conf;\n}\n"), 0);
    zpt_expect_err(zpt_path(inc, sizeof(inc), "a.conf"), 3,
                   "open() \"%s\" failed (2: No such file or directory)",
                   zpt_path(path, sizeof(path), "sub/missing.conf"));

    /* an error inside an included file points there */
    zpt_write("a.conf", "daemon off;\n\nworker_processes abc;\n");
    ck_assert_int_eq(zpt_conf_run("events {}\n\ninclude a.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "a.conf"), 3,
                   "invalid value \"abc\" in \"worker_processes\" directive");

    /* an included file cannot close the block that includes it */
    zpt_write("a.conf", "worker_connections 10;\n}\n");
    ck_assert_int_eq(zpt_conf_run("events {\n  include a.conf;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "a.conf"), 2, "unexpected \"}\"");

    /* nor leave a block open */
    zpt_write("a.conf", "events {\n\n");
    ck_assert_int_eq(zpt_conf_run("include a.conf;\n}\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "a.conf"), 3,
                   "unexpected end of file, expecting \"}\"");

    /* a directive cut off at the end of an included file */
    zpt_write("a.conf", "daemon off");
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude a.conf;\n;\n"), 0);
    zpt_expect_err(zpt_path(path, sizeof(path), "a.conf"), 1,
                   "unexpected end of file, expecting \";\" or \"}\"");

    /* a directory is not a file */
    ck_assert_int_eq(mkdir(zpt_path(path, sizeof(path), "dir.conf"), 0755), 0);
    ck_assert_int_eq(zpt_conf_run("events {}\ninclude dir.conf;\n"), 0);
    zpt_expect_err(zpt_main, 2, "\"%s\" is not a regular file", path);
}
END_TEST


START_TEST(test_err_main_file_missing)
{
    char path[PATH_MAX], expect[PATH_MAX + 128];

    zpt_path(path, sizeof(path), "none.conf");
    ck_assert_int_eq(zpt_conf_run_file(path, NULL), 0);

    /* before any file is open there is no location */
    snprintf(expect, sizeof(expect),
             "zproxy: open() \"%s\" failed (2: No such file or directory)\n", path);
    ck_assert_str_eq(zpt_out, expect);
}
END_TEST


START_TEST(test_err_listen)
{
    char path[PATH_MAX];

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "        listen 127.0.0.1:8081;\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 6, "duplicate listen 127.0.0.1:8080");

    /* the same address spelled differently */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http { server {\n"
                                  "    listen 8080;\n"
                                  "    listen *:8080;\n"
                                  "} }\n"),
                     0);
    zpt_expect_err(zpt_main, 4, "duplicate listen 0.0.0.0:8080");

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        server_name a;\n"
                                  "        listen 127.0.0.1:8080 default_server;\n"
                                  "    }\n"
                                  "    server {\n"
                                  "        server_name b;\n"
                                  "        listen 127.0.0.1:8080 default;\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 9, "a duplicate default server for 127.0.0.1:8080");

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "    }\n"
                                  "    server {\n"
                                  "\n"
                                  "        listen 127.0.0.1:8080;\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 8, "duplicate listen 127.0.0.1:8080 for server name \"\"");

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server { listen 127.0.0.1:8080; server_name a b; }\n"
                                  "    server { listen 127.0.0.1:8080; server_name c B; }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 4, "duplicate listen 127.0.0.1:8080 for server name \"b\"");

    /* two servers without listen both take *:80, at their "server {" line */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "    }\n"
                                  "    server\n"
                                  "    {\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 6, "duplicate listen *:80 for server name \"\"");

    /* the location of a listen in an included file is that file's */
    zpt_write("srv.conf", "server {\n    listen 127.0.0.1:8080;\n}\n");
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    include srv.conf;\n"
                                  "    include srv.conf;\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_path(path, sizeof(path), "srv.conf"), 2,
                   "duplicate listen 127.0.0.1:8080 for server name \"\"");

    /* different names on one address, or one name on two, are fine */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server { listen 127.0.0.1:8080 default; server_name a; }\n"
                                  "    server { listen 127.0.0.1:8080; server_name b; }\n"
                                  "    server { listen 127.0.0.1:8081; server_name a; }\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();
    ck_assert_uint_eq(zpt_cycle->listening.nelts, 2);
}
END_TEST


START_TEST(test_err_route)
{
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        route x {\n"
                                  "        }\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 4, "route \"x\" does not start with \"/\"");

    ck_assert_int_eq(zpt_conf_run("events {}\nhttp { server { route = \"\" {} } }\n"), 0);
    zpt_expect_err(zpt_main, 2, "route \"\" does not start with \"/\"");

    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server {\n"
                                  "        route /x { }\n"
                                  "        route = /x { }\n"
                                  "        route /y { }\n"
                                  "        route /x {\n"
                                  "        }\n"
                                  "    }\n"
                                  "}\n"),
                     0);
    zpt_expect_err(zpt_main, 7, "duplicate route \"/x\"");

    /* the same route in two servers is fine */
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "http {\n"
                                  "    server { listen 127.0.0.1:1; route /x { } }\n"
                                  "    server { listen 127.0.0.1:2; route /x { } }\n"
                                  "}\n"),
                     1);
    zpt_expect_ok();
}
END_TEST


START_TEST(test_err_no_events)
{
    char expect[PATH_MAX * 2];

    ck_assert_int_eq(zpt_conf_run("daemon off;\n"), 0);

    /* the syntax is fine; the check after it is not, and has no line */
    snprintf(expect, sizeof(expect),
             "zproxy: the configuration file %s syntax is ok\n"
             "zproxy: no \"events\" section in configuration\n",
             zpt_main);
    ck_assert_str_eq(zpt_out, expect);

    ck_assert_int_eq(zpt_conf_run(""), 0);
    ck_assert_str_eq(zpt_out, expect);
}
END_TEST


START_TEST(test_err_param_block)
{
    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "events {}"), 0);
    zpt_expect_err("command line", 1, "block directives are not supported in -g option");

    ck_assert_int_eq(zpt_conf_run_g("events {}\n", "daemon off;\nhttp {"), 0);
    zpt_expect_err("command line", 2, "block directives are not supported in -g option");
}
END_TEST


/*
 * Outside quotes a backslash takes the next byte into the word, a newline
 * too, but that newline is not counted as a line: every later error is
 * reported one line early. Quoted strings count it (test_quoted_strings).
 */
START_TEST(test_err_line_after_escaped_newline)
{
    ck_assert_int_eq(zpt_conf_run("events {}\n"
                                  "pid /a\\\n"
                                  "b;\n"
                                  "foo;\n"),
                     0);
    zpt_expect_err(zpt_main, 4, "unknown directive \"foo\"");
}
END_TEST


static Suite *
zpt_conf_file_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_conf_file");

    tc = tcase_create("parse_size_time");
    tcase_add_test(tc, test_parse_size);
    tcase_add_test(tc, test_parse_time);
    tcase_add_test(tc, test_parse_time_sec);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_unchecked_fixture(tc, zpt_base_setup, zpt_base_teardown);
    tcase_add_checked_fixture(tc, zpt_setup, zpt_teardown);
    tcase_add_test(tc, test_minimal);
    tcase_add_test(tc, test_main_directives);
    tcase_add_test(tc, test_worker_processes);
    tcase_add_test(tc, test_cpu_affinity);
    tcase_add_test(tc, test_error_log);
    tcase_add_test(tc, test_user);
    tcase_add_test(tc, test_comments);
    tcase_add_test(tc, test_comment_hash_in_word);
    tcase_add_test(tc, test_quoted_strings);
    tcase_add_test(tc, test_multiline);
    tcase_add_test(tc, test_http_valid);
    suite_add_tcase(s, tc);

    tc = tcase_create("include_and_param");
    tcase_add_unchecked_fixture(tc, zpt_base_setup, zpt_base_teardown);
    tcase_add_checked_fixture(tc, zpt_setup, zpt_teardown);
    tcase_add_test(tc, test_include_file);
    tcase_add_test(tc, test_include_glob);
    tcase_add_test(tc, test_include_glob_missing_dir);
    tcase_add_test(tc, test_include_glob_order);
    tcase_add_test(tc, test_include_relative_to_main);
    tcase_add_test(tc, test_include_nested);
    tcase_add_test(tc, test_include_recursive);
    tcase_add_test(tc, test_conf_param);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_unchecked_fixture(tc, zpt_base_setup, zpt_base_teardown);
    tcase_add_checked_fixture(tc, zpt_setup, zpt_teardown);
    tcase_add_test(tc, test_err_unknown_directive);
    tcase_add_test(tc, test_err_not_allowed_here);
    tcase_add_test(tc, test_err_number_of_arguments);
    tcase_add_test(tc, test_err_invalid_value);
    tcase_add_test(tc, test_err_duplicate);
    tcase_add_test(tc, test_err_braces);
    tcase_add_test(tc, test_err_unterminated_directive);
    tcase_add_test(tc, test_err_block_mismatch);
    tcase_add_test(tc, test_err_quotes);
    tcase_add_test(tc, test_err_include);
    tcase_add_test(tc, test_err_main_file_missing);
    tcase_add_test(tc, test_err_listen);
    tcase_add_test(tc, test_err_route);
    tcase_add_test(tc, test_err_no_events);
    tcase_add_test(tc, test_err_param_block);
    tcase_add_test(tc, test_err_line_after_escaped_newline);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_conf_file_suite)
