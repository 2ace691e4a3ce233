/*
 * zproxy.c: main(): the command line, then the master process.
 */
#include <zp_config.h>
#include <zp_core.h>

static zp_uint_t zp_show_help;
static zp_uint_t zp_show_version;
static zp_uint_t zp_show_configure;
static u_char   *zp_prefix;
static u_char   *zp_conf_file;
static u_char   *zp_conf_params;
static char     *zp_signal;

static zp_int_t zp_get_options(int argc, char *const *argv);
static zp_int_t zp_process_options(zp_cycle_t *cycle);
static zp_int_t zp_add_inherited_sockets(zp_cycle_t *cycle);
static zp_int_t zp_save_argv(int argc, char *const *argv);
static u_char  *zp_find_binary(const char *argv0);
static void     zp_show_version_info(void);


int
main(int argc, char *const *argv)
{
    zp_log_t       *log;
    zp_cycle_t     *cycle, init_cycle;
    zp_core_conf_t *ccf;

    zp_pid = getpid();

    if (zp_get_options(argc, argv) != ZP_OK) {
        return 1;
    }

    if (zp_show_version) {
        zp_show_version_info();
        if (!zp_test_config) {
            return 0;
        }
    }

    zp_time_init();
    zp_os_init_sizes();
    zp_slab_sizes_init();

    log = zp_log_init(NULL, NULL);
    if (zp_test_config && zp_quiet_mode) {
        log->log_level = ZP_LOG_ERR;
    }

    zp_memzero(&init_cycle, sizeof(zp_cycle_t));
    init_cycle.log = log;
    zp_cycle       = &init_cycle;

    init_cycle.pool = zp_create_pool(1024, log);
    if (init_cycle.pool == NULL) {
        return 1;
    }

    if (zp_save_argv(argc, argv) != ZP_OK) {
        return 1;
    }

    if (zp_process_options(&init_cycle) != ZP_OK) {
        return 1;
    }

    zp_binary_path = zp_find_binary(argv[0]);

    if (zp_add_inherited_sockets(&init_cycle) != ZP_OK) {
        return 1;
    }

    if (zp_preinit_modules() != ZP_OK) {
        return 1;
    }

    if (zp_signal) {
        zp_process = ZP_PROCESS_SIGNALLER;
    }

    cycle = zp_init_cycle(&init_cycle);

    if (cycle == NULL) {
        if (zp_test_config) {
            zp_log_stderr(0, "configuration file %s test failed", init_cycle.conf_file.data);
        }
        zp_destroy_pool(init_cycle.pool);
        return 1;
    }

    if (zp_test_config || zp_signal) {
        int rc = 0;

        if (zp_signal) {
            rc = (int) zp_signal_process(cycle, zp_signal);
        } else if (!zp_quiet_mode) {
            zp_log_stderr(0, "configuration file %s test is successful", cycle->conf_file.data);
        }

        zp_destroy_pool(cycle->pool);
        zp_destroy_pool(init_cycle.pool);
        return rc;
    }

    zp_cycle = cycle;
    ccf      = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    if (zp_init_setproctitle(cycle->log) != ZP_OK) {
        return 1;
    }

    if (zp_init_signals(cycle->log) != ZP_OK) {
        return 1;
    }

    if (!zp_inherited && ccf->daemon) {
        if (zp_daemon(cycle->log) != ZP_OK) {
            return 1;
        }
        zp_daemonized = 1;
    }

    if (zp_inherited) {
        zp_daemonized = 1;
    }

    if (zp_create_pidfile(&ccf->pid, cycle->log) != ZP_OK) {
        return 1;
    }

    cycle->log = &cycle->new_log;

    /* once detached, stray writes to stderr belong in the error log */
    if (zp_daemonized && cycle->log->file && cycle->log->file->fd != STDERR_FILENO) {
        (void) dup2(cycle->log->file->fd, STDERR_FILENO);
    }

    zp_release_old_cycle(&init_cycle, cycle);
    init_cycle.pool = NULL;

    zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "zproxy/" ZP_VERSION " started");

    zp_master_process_cycle(cycle);

    return 0;
}


static zp_int_t
zp_add_inherited_sockets(zp_cycle_t *cycle)
{
    u_char         *p, *v, *inherited;
    zp_int_t        s;
    zp_listening_t *ls;

    if (zp_array_init(&cycle->listening, cycle->pool, 10, sizeof(zp_listening_t)) != ZP_OK) {
        return ZP_ERROR;
    }

    inherited = (u_char *) getenv(ZP_INHERIT_ENV);
    if (inherited == NULL) {
        return ZP_OK;
    }

    for (p = inherited, v = p; *p; p++) {
        if (*p == ':' || *p == ';') {
            s = zp_atoi(v, p - v);
            if (s == ZP_ERROR) {
                zp_log_error(ZP_LOG_EMERG, cycle->log, 0,
                             "invalid socket number \"%s\" in " ZP_INHERIT_ENV
                             " environment variable, ignoring the rest of the variable",
                             v);
                break;
            }

            v  = p + 1;
            ls = zp_array_push(&cycle->listening);
            if (ls == NULL) {
                return ZP_ERROR;
            }
            zp_memzero(ls, sizeof(zp_listening_t));
            ls->fd = (zp_socket_t) s;
            /* the new master must not leak these into its own children's execs */
            (void) fcntl(ls->fd, F_SETFD, FD_CLOEXEC);
        }
    }

    unsetenv(ZP_INHERIT_ENV);
    zp_inherited = 1;

    return zp_set_inherited_sockets(cycle);
}


static zp_int_t
zp_get_options(int argc, char *const *argv)
{
    u_char   *p;
    zp_int_t  i;

    for (i = 1; i < argc; i++) {
        p = (u_char *) argv[i];

        if (*p++ != '-') {
            zp_log_stderr(0, "invalid option: \"%s\"", argv[i]);
            return ZP_ERROR;
        }

        while (*p) {
            switch (*p++) {
            case '?':
            case 'h':
                zp_show_version = 1;
                zp_show_help    = 1;
                break;

            case 'v':
                zp_show_version = 1;
                break;

            case 'V':
                zp_show_version   = 1;
                zp_show_configure = 1;
                break;

            case 't':
                zp_test_config = 1;
                break;

            case 'q':
                zp_quiet_mode = 1;
                break;

            case 'p':
            case 'c':
            case 'g':
            case 's': {
                u_char   opt = p[-1];
                u_char  *arg;

                if (*p) {
                    arg = p;
                } else if (argv[++i]) {
                    arg = (u_char *) argv[i];
                } else {
                    zp_log_stderr(0, "option \"-%c\" requires %s", opt,
                                  opt == 'p'   ? "directory name"
                                  : opt == 'c' ? "file name"
                                  : opt == 'g' ? "parameter"
                                               : "parameter");
                    return ZP_ERROR;
                }

                if (opt == 'p') {
                    zp_prefix = arg;
                } else if (opt == 'c') {
                    zp_conf_file = arg;
                } else if (opt == 'g') {
                    zp_conf_params = arg;
                } else {
                    zp_signal = (char *) arg;
                    if (zp_strcmp(zp_signal, "stop") != 0 && zp_strcmp(zp_signal, "quit") != 0
                        && zp_strcmp(zp_signal, "reopen") != 0
                        && zp_strcmp(zp_signal, "reload") != 0) {
                        zp_log_stderr(0, "invalid option: \"-s %s\"", zp_signal);
                        return ZP_ERROR;
                    }
                }
                goto next;
            }

            default:
                zp_log_stderr(0, "invalid option: \"%c\"", p[-1]);
                return ZP_ERROR;
            }
        }

    next:
        continue;
    }

    return ZP_OK;
}


static void
zp_show_version_info(void)
{
    u_char buf[4096], *p;

    p = zp_slprintf(buf, buf + sizeof(buf), "zproxy version: zproxy/" ZP_VERSION "%N");

    if (zp_show_help) {
        p = zp_slprintf(
            p, buf + sizeof(buf),
            "Usage: zproxy [-?hvVtq] [-s signal] [-p prefix] [-c filename] [-g directives]%N%N"
            "Options:%N"
            "  -?,-h         : this help%N"
            "  -v            : show version and exit%N"
            "  -V            : show version and configure options then exit%N"
            "  -t            : test configuration and exit%N"
            "  -q            : suppress non-error messages during configuration testing%N"
            "  -s signal     : send signal to a master process: stop, quit, reopen, reload%N"
            "  -p prefix     : set prefix path (default: " ZP_PREFIX ")%N"
            "  -c filename   : set configuration file (default: " ZP_CONF_PATH ")%N"
            "  -g directives : set global directives out of configuration file%N");
    }

    if (zp_show_configure) {
        p = zp_slprintf(p, buf + sizeof(buf), "configure arguments:" ZP_CONFIGURE "%N");
    }

    (void) zp_write_fd(STDERR_FILENO, buf, p - buf);
}


static zp_int_t
zp_save_argv(int argc, char *const *argv)
{
    int i;

    zp_os_argv = (char **) argv;
    zp_argc    = argc;
    zp_argv    = malloc((argc + 1) * sizeof(char *));
    if (zp_argv == NULL) {
        return ZP_ERROR;
    }

    /* copies: the argv area is overwritten by the process title */
    for (i = 0; i < argc; i++) {
        zp_argv[i] = strdup(argv[i]);
        if (zp_argv[i] == NULL) {
            return ZP_ERROR;
        }
    }
    zp_argv[i] = NULL;

    return ZP_OK;
}


static zp_int_t
zp_process_options(zp_cycle_t *cycle)
{
    u_char *p;
    size_t  len;
    char    cwd[PATH_MAX];

    if (zp_prefix) {
        len = zp_strlen(zp_prefix);
        p   = zp_pnalloc(cycle->pool, len + 2);
        if (p == NULL) {
            return ZP_ERROR;
        }
        zp_memcpy(p, zp_prefix, len);
        if (len == 0 || p[len - 1] != '/') {
            p[len++] = '/';
        }
        p[len] = '\0';

        /* a relative prefix is taken from the current directory, once */
        if (p[0] != '/') {
            if (getcwd(cwd, sizeof(cwd)) == NULL) {
                zp_log_stderr(errno, "getcwd() failed");
                return ZP_ERROR;
            }
            size_t clen = strlen(cwd);
            u_char *full = zp_pnalloc(cycle->pool, clen + len + 2);
            if (full == NULL) {
                return ZP_ERROR;
            }
            zp_sprintf(full, "%s/%s%Z", cwd, p);
            p   = full;
            len = strlen((char *) p);
        }

        cycle->prefix.len  = len;
        cycle->prefix.data = p;

    } else {
        cycle->prefix.len  = sizeof(ZP_PREFIX) - 1;
        cycle->prefix.data = (u_char *) ZP_PREFIX;
    }

    if (zp_conf_file) {
        cycle->conf_file.len  = zp_strlen(zp_conf_file);
        cycle->conf_file.data = zp_conf_file;
    } else {
        cycle->conf_file.len  = sizeof(ZP_CONF_PATH) - 1;
        cycle->conf_file.data = (u_char *) ZP_CONF_PATH;
    }

    if (zp_conf_full_name(cycle, &cycle->conf_file, 0) != ZP_OK) {
        return ZP_ERROR;
    }

    /* includes are relative to the main file's directory */
    for (p = cycle->conf_file.data + cycle->conf_file.len - 1; p > cycle->conf_file.data;
         p--) {
        if (*p == '/') {
            break;
        }
    }
    cycle->conf_prefix.len  = p - cycle->conf_file.data + 1;
    cycle->conf_prefix.data = cycle->conf_file.data;

    if (zp_conf_params) {
        cycle->conf_param.len  = zp_strlen(zp_conf_params);
        cycle->conf_param.data = zp_conf_params;
    }

    if (zp_test_config) {
        cycle->log->log_level = zp_quiet_mode ? ZP_LOG_ERR : ZP_LOG_INFO;
    }

    return ZP_OK;
}


/* The path to exec on USR2: absolute, so that a relative start directory
 * or a changed PATH does not matter later. */
static u_char *
zp_find_binary(const char *argv0)
{
    char  buf[PATH_MAX], *path, *dir, *save, *copy;

    if (strchr(argv0, '/')) {
        if (realpath(argv0, buf)) {
            return (u_char *) strdup(buf);
        }
        return (u_char *) strdup(argv0);
    }

    path = getenv("PATH");
    if (path && (copy = strdup(path))) {
        for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            snprintf(buf, sizeof(buf), "%s/%s", dir, argv0);
            if (access(buf, X_OK) == 0) {
                free(copy);
                return (u_char *) strdup(buf);
            }
        }
        free(copy);
    }

    return (u_char *) strdup(argv0);
}
