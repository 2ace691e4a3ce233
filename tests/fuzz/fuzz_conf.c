/*
 * fuzz_conf.c: libFuzzer target for the configuration reader: the input is
 * a zproxy.conf, read by zp_init_cycle() in test mode (zproxy -t) through
 * the real module list, as tests/unit/core/test_conf_file.c does. Nothing
 * is opened, bound or mapped in test mode; the cycle's pool is destroyed
 * after each run, so any allocation that outlives it is a leak that
 * -detect_leaks=1 (the default) reports.
 *
 * The input goes to <dir>/zproxy.conf, one directory per process made once
 * (mkdtemp under /tmp), which is also the prefix and the directory includes
 * are relative to; it holds a few files to include (inc.conf, empty.conf,
 * conf.d/a.conf, conf.d/b.conf), so "include inc.conf;" and
 * "include conf.d/ *.conf;" (without the space) reach the glob and nesting code. The directory is
 * removed at exit.
 *
 * An input starting with "#g:" is split at its first LF: the rest of that
 * first line is the -g parameter, the whole input the file (the line is a
 * comment there).
 *
 * The reader logs its errors: they go to a log on /dev/null, not to fd 2,
 * so that libFuzzer's status lines and the sanitizer reports stay visible.
 */
#include <zp_config.h>
#include <zp_core.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char           fz_dir[64];          /* /tmp/zp-fuzz-conf-XXXXXX */
static char           fz_main[128];        /* fz_dir/zproxy.conf */
static char           fz_prefix[128];      /* fz_dir/, with the "/" */
static zp_open_file_t fz_null_file;
static zp_log_t       fz_log;


static void
fz_write(const char *rel, const void *data, size_t len)
{
    char path[256];
    int  fd;

    snprintf(path, sizeof(path), "%s/%s", fz_dir, rel);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        perror(path);
        abort();
    }

    if (len && write(fd, data, len) != (ssize_t) len) {
        perror(path);
        abort();
    }

    close(fd);
}


static void
fz_cleanup(void)
{
    static const char *files[] = {"zproxy.conf", "inc.conf", "empty.conf", "conf.d/a.conf",
                                  "conf.d/b.conf", "conf.d", NULL};
    char               path[256];
    int                i;

    if (fz_dir[0] == '\0') {
        return;
    }

    for (i = 0; files[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", fz_dir, files[i]);
        (void) remove(path);
    }

    (void) rmdir(fz_dir);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char inc[] = "# included from the fuzzed file\n"
                              "worker_connections 64;\n";
    static const char a[]   = "route /a { return 200 \"a\\n\"; }\n";
    static const char b[]   = "# b.conf\n";

    (void) argc;
    (void) argv;

    snprintf(fz_dir, sizeof(fz_dir), "/tmp/zp-fuzz-conf-XXXXXX");
    if (mkdtemp(fz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fz_cleanup);

    snprintf(fz_main, sizeof(fz_main), "%s/zproxy.conf", fz_dir);
    snprintf(fz_prefix, sizeof(fz_prefix), "%s/", fz_dir);

    {
        char d[256];

        snprintf(d, sizeof(d), "%s/conf.d", fz_dir);
        if (mkdir(d, 0755) == -1) {
            perror(d);
            abort();
        }
    }

    fz_write("inc.conf", inc, sizeof(inc) - 1);
    fz_write("empty.conf", "", 0);
    fz_write("conf.d/a.conf", a, sizeof(a) - 1);
    fz_write("conf.d/b.conf", b, sizeof(b) - 1);

    /* the errors of the reader go nowhere; fd 2 stays libFuzzer's */
    fz_null_file.fd        = open("/dev/null", O_WRONLY | O_CLOEXEC);
    fz_null_file.name.data = (u_char *) "/dev/null";
    fz_null_file.name.len  = sizeof("/dev/null") - 1;
    if (fz_null_file.fd == -1) {
        perror("/dev/null");
        abort();
    }
    fz_log.log_level = ZP_LOG_DEBUG_ALL;
    fz_log.file      = &fz_null_file;

    zp_time_init();
    if (zp_os_init_sizes() != ZP_OK || zp_preinit_modules() != ZP_OK) {
        abort();
    }
    zp_slab_sizes_init();

    zp_test_config = 1;
    zp_quiet_mode  = 1; /* no "syntax is ok" on fd 2 */

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zp_cycle_t    init, *cycle;
    const uint8_t *lf;
    u_char        *param = NULL;
    size_t         param_len = 0;

    /* configs are small; huge inputs only slow the run down */
    if (size > 256 * 1024) {
        return 0;
    }

    if (size >= 3 && memcmp(data, "#g:", 3) == 0) {
        lf        = memchr(data, '\n', size);
        param_len = (lf ? (size_t) (lf - data) : size) - 3;
        if (param_len) {
            /* an exact-size copy, not NUL-terminated, as ASan wants it */
            param = malloc(param_len);
            if (param == NULL) {
                abort();
            }
            memcpy(param, data + 3, param_len);
        }
    }

    fz_write("zproxy.conf", data, size);

    memset(&init, 0, sizeof(init));
    init.log  = &fz_log;
    init.pool = zp_create_pool(1024, &fz_log);
    if (init.pool == NULL) {
        abort();
    }

    init.prefix.len       = strlen(fz_prefix);
    init.prefix.data      = (u_char *) fz_prefix;
    init.conf_prefix      = init.prefix;
    init.conf_file.len    = strlen(fz_main);
    init.conf_file.data   = (u_char *) fz_main;
    init.conf_param.len   = param_len;
    init.conf_param.data  = param;

    if (zp_array_init(&init.listening, init.pool, 10, sizeof(zp_listening_t)) != ZP_OK) {
        abort();
    }

    zp_cycle = &init;

    cycle = zp_init_cycle(&init);

    if (cycle) {
        zp_destroy_pool(cycle->pool);
    }

    zp_cycle = NULL;
    zp_destroy_pool(init.pool);
    free(param);

    return 0;
}
