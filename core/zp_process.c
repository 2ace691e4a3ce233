/*
 * zp_process.c: the master process, its workers and signals.
 *
 * The master blocks every signal it handles and sleeps in sigsuspend(), so
 * a signal can only arrive there; the handlers just set flags and the loop
 * acts on them. Workers keep the same signals blocked and let them in only
 * inside epoll_pwait(), for the same reason.
 */
#include <zp_config.h>
#include <zp_core.h>

#if (ZP_HAVE_LIBNUMA)
#include <numa.h>
#endif

#include <sys/prctl.h>

zp_pid_t     zp_pid;
zp_pid_t     zp_parent;
zp_pid_t     zp_new_binary;
zp_uint_t    zp_process;
zp_uint_t    zp_worker;
zp_uint_t    zp_inherited;
zp_uint_t    zp_daemonized;
zp_uint_t    zp_exiting;
u_char      *zp_binary_path;

sig_atomic_t zp_reap;
sig_atomic_t zp_sigio;
sig_atomic_t zp_sigalrm;
sig_atomic_t zp_quit;
sig_atomic_t zp_terminate;
sig_atomic_t zp_noaccept;
sig_atomic_t zp_reconfigure;
sig_atomic_t zp_reopen;
sig_atomic_t zp_change_binary;

static zp_uint_t    zp_noaccepting;
static zp_uint_t    zp_restart;
static zp_process_t zp_processes[ZP_MAX_PROCESSES];
static zp_int_t     zp_last_process;
static zp_event_t   zp_drain_ev;

static void zp_signal_handler(int signo, siginfo_t *siginfo, void *ucontext);
static void zp_start_worker_processes(zp_cycle_t *cycle, zp_int_t n, zp_int_t type);
static void zp_signal_worker_processes(zp_cycle_t *cycle, int signo);
static zp_uint_t zp_reap_children(zp_cycle_t *cycle);
static void zp_master_process_exit(zp_cycle_t *cycle) __attribute__((noreturn));
static void zp_worker_process_cycle(zp_cycle_t *cycle, void *data) __attribute__((noreturn));
static void zp_worker_process_exit(zp_cycle_t *cycle) __attribute__((noreturn));
static zp_pid_t zp_spawn_process(zp_cycle_t *cycle, zp_spawn_proc_pt proc, void *data,
                                 const char *name, zp_int_t respawn);

static zp_signal_t zp_signals[] = {
    {SIGHUP, "SIGHUP", "reload", zp_signal_handler},
    {SIGUSR1, "SIGUSR1", "reopen", zp_signal_handler},
    {SIGWINCH, "SIGWINCH", "", zp_signal_handler},
    {SIGTERM, "SIGTERM", "stop", zp_signal_handler},
    {SIGQUIT, "SIGQUIT", "quit", zp_signal_handler},
    {SIGUSR2, "SIGUSR2", "", zp_signal_handler},
    {SIGALRM, "SIGALRM", "", zp_signal_handler},
    {SIGINT, "SIGINT", "", zp_signal_handler},
    {SIGIO, "SIGIO", "", zp_signal_handler},
    {SIGCHLD, "SIGCHLD", "", zp_signal_handler},
    {SIGSYS, "SIGSYS, SIG_IGN", "", NULL},
    {SIGPIPE, "SIGPIPE, SIG_IGN", "", NULL},
    {0, NULL, "", NULL}};


zp_int_t
zp_init_signals(zp_log_t *log)
{
    zp_signal_t     *sig;
    struct sigaction sa;

    for (sig = zp_signals; sig->signo != 0; sig++) {
        zp_memzero(&sa, sizeof(struct sigaction));

        if (sig->handler) {
            sa.sa_sigaction = sig->handler;
            sa.sa_flags     = SA_SIGINFO;
        } else {
            sa.sa_handler = SIG_IGN;
        }

        sigemptyset(&sa.sa_mask);
        if (sigaction(sig->signo, &sa, NULL) == -1) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "sigaction(%s) failed", sig->signame);
            return ZP_ERROR;
        }
    }

    return ZP_OK;
}


static void
zp_signal_handler(int signo, siginfo_t *siginfo, void *ucontext)
{
    int err = errno;

    (void) siginfo;
    (void) ucontext;

    switch (zp_process) {
    case ZP_PROCESS_MASTER:
        switch (signo) {
        case SIGQUIT: zp_quit = 1; break;
        case SIGTERM:
        case SIGINT: zp_terminate = 1; break;
        case SIGWINCH: zp_noaccept = 1; break;
        case SIGHUP: zp_reconfigure = 1; break;
        case SIGUSR1: zp_reopen = 1; break;
        case SIGUSR2: zp_change_binary = 1; break;
        case SIGALRM: zp_sigalrm = 1; break;
        case SIGIO: zp_sigio = 1; break;
        case SIGCHLD: zp_reap = 1; break;
        }
        break;

    case ZP_PROCESS_WORKER:
        switch (signo) {
        case SIGQUIT: zp_quit = 1; break;
        case SIGTERM:
        case SIGINT: zp_terminate = 1; break;
        case SIGUSR1: zp_reopen = 1; break;
        }
        break;
    }

    errno = err;
}


static void
zp_block_signals(zp_log_t *log)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGALRM);
    sigaddset(&set, SIGIO);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGWINCH);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGQUIT);

    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        zp_log_error(ZP_LOG_ALERT, log, errno, "sigprocmask() failed");
    }
}


static void
zp_master_set_title(zp_cycle_t *cycle)
{
    u_char  title[1024], *p, *last;
    int     i;

    (void) cycle;
    last = title + sizeof(title) - 1;
    p    = zp_cpymem(title, "master process", sizeof("master process") - 1);

    for (i = 0; i < zp_argc && p < last; i++) {
        p = zp_slprintf(p, last, " %s", zp_argv[i]);
    }
    *p = '\0';

    zp_setproctitle((char *) title);
}


void
zp_master_process_cycle(zp_cycle_t *cycle)
{
    zp_uint_t       live, sigio;
    zp_msec_t       delay;
    zp_cycle_t     *new_cycle;
    zp_core_conf_t *ccf;
    struct itimerval itv;
    sigset_t        empty;

    zp_process = ZP_PROCESS_MASTER;
    zp_block_signals(cycle->log);
    zp_master_set_title(cycle);

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    zp_start_worker_processes(cycle, ccf->worker_processes, ZP_PROCESS_RESPAWN);

    zp_new_binary = 0;
    delay         = 0;
    sigio         = 0;
    live          = 1;
    sigemptyset(&empty);

    for (;;) {
        if (delay) {
            if (zp_sigalrm) {
                sigio = 0;
                delay *= 2;
                zp_sigalrm = 0;
            }

            itv.it_interval.tv_sec  = 0;
            itv.it_interval.tv_usec = 0;
            itv.it_value.tv_sec     = delay / 1000;
            itv.it_value.tv_usec    = (delay % 1000) * 1000;

            if (setitimer(ITIMER_REAL, &itv, NULL) == -1) {
                zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "setitimer() failed");
            }
        }

        sigsuspend(&empty);

        zp_time_update();

        if (zp_reap) {
            zp_reap = 0;
            live    = zp_reap_children(cycle);
        }

        if (!live && (zp_terminate || zp_quit)) {
            zp_master_process_exit(cycle);
        }

        if (zp_terminate) {
            if (delay == 0) {
                delay = 50;
            }

            if (sigio) {
                sigio--;
                continue;
            }

            sigio = ccf->worker_processes + 2;

            if (delay > 1000) {
                zp_signal_worker_processes(cycle, SIGKILL);
            } else {
                zp_signal_worker_processes(cycle, ZP_TERMINATE_SIGNAL);
            }
            continue;
        }

        if (zp_quit) {
            zp_signal_worker_processes(cycle, ZP_SHUTDOWN_SIGNAL);
            continue;
        }

        if (zp_reconfigure) {
            zp_reconfigure = 0;

            if (zp_new_binary) {
                zp_start_worker_processes(cycle, ccf->worker_processes, ZP_PROCESS_RESPAWN);
                zp_noaccepting = 0;
                continue;
            }

            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "reconfiguring");

            new_cycle = zp_init_cycle(cycle);
            if (new_cycle == NULL) {
                zp_log_error(ZP_LOG_ALERT, cycle->log, 0,
                             "reload failed, keeping the current configuration");
                continue;
            }

            if (new_cycle->new_log.file) {
                new_cycle->log = &new_cycle->new_log;
            }

            zp_release_old_cycle(cycle, new_cycle);
            cycle    = new_cycle;
            zp_cycle = cycle;

            ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

            if (zp_create_pidfile(&ccf->pid, cycle->log) != ZP_OK) {
                zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "could not write the pid file");
            }

            zp_start_worker_processes(cycle, ccf->worker_processes, ZP_PROCESS_JUST_RESPAWN);

            live = 1;
            zp_signal_worker_processes(cycle, ZP_SHUTDOWN_SIGNAL);
        }

        if (zp_restart) {
            zp_restart = 0;
            zp_start_worker_processes(cycle, ccf->worker_processes, ZP_PROCESS_RESPAWN);
            live = 1;
        }

        if (zp_reopen) {
            zp_reopen = 0;
            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "reopening logs");
            zp_reopen_files(cycle, ccf->user);
            zp_signal_worker_processes(cycle, ZP_REOPEN_SIGNAL);
        }

        if (zp_change_binary) {
            zp_change_binary = 0;
            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "changing binary");
            zp_new_binary = zp_exec_new_binary(cycle, zp_argv);
        }

        if (zp_noaccept) {
            zp_noaccept    = 0;
            zp_noaccepting = 1;
            zp_signal_worker_processes(cycle, ZP_SHUTDOWN_SIGNAL);
        }
    }
}


static void
zp_start_worker_processes(zp_cycle_t *cycle, zp_int_t n, zp_int_t type)
{
    zp_int_t i;

    for (i = 0; i < n; i++) {
        zp_spawn_process(cycle, zp_worker_process_cycle, (void *) (intptr_t) i, "worker process",
                         type);
    }
}


static zp_pid_t
zp_spawn_process(zp_cycle_t *cycle, zp_spawn_proc_pt proc, void *data, const char *name,
                 zp_int_t respawn)
{
    zp_pid_t pid;
    zp_int_t s;

    if (respawn >= 0) {
        s = respawn;
    } else {
        for (s = 0; s < zp_last_process; s++) {
            if (zp_processes[s].pid == -1) {
                break;
            }
        }
        if (s == ZP_MAX_PROCESSES) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "no more than %d processes can be spawned",
                         ZP_MAX_PROCESSES);
            return ZP_INVALID_PID;
        }
    }

    pid = fork();

    switch (pid) {
    case -1:
        zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "fork() failed while spawning \"%s\"",
                     name);
        return ZP_INVALID_PID;

    case 0:
        zp_parent = zp_pid;
        zp_pid    = getpid();
        proc(cycle, data);
        /* unreachable: proc exits */
        exit(2);
    }

    zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "start %s %P", name, pid);

    zp_processes[s].pid    = pid;
    zp_processes[s].exited = 0;

    if (respawn >= 0) {
        return pid;
    }

    zp_processes[s].proc       = proc;
    zp_processes[s].data       = data;
    zp_processes[s].name       = name;
    zp_processes[s].slot_data  = (zp_uint_t) (intptr_t) data;
    zp_processes[s].exiting    = 0;
    zp_processes[s].respawn    = (respawn == ZP_PROCESS_RESPAWN
                                  || respawn == ZP_PROCESS_JUST_RESPAWN);
    zp_processes[s].just_spawn = (respawn == ZP_PROCESS_JUST_SPAWN
                                  || respawn == ZP_PROCESS_JUST_RESPAWN);
    zp_processes[s].detached   = (respawn == ZP_PROCESS_DETACHED);

    if (s == zp_last_process) {
        zp_last_process++;
    }

    return pid;
}


/* A signal to the workers of the current generation; on reload, QUIT goes
 * only to the previous generation, the new one was just spawned. */
static void
zp_signal_worker_processes(zp_cycle_t *cycle, int signo)
{
    zp_int_t i;

    for (i = 0; i < zp_last_process; i++) {
        if (zp_processes[i].detached || zp_processes[i].pid == -1) {
            continue;
        }

        if (zp_processes[i].just_spawn) {
            zp_processes[i].just_spawn = 0;
            continue;
        }

        if (zp_processes[i].exiting && signo == ZP_SHUTDOWN_SIGNAL) {
            continue;
        }

        if (kill(zp_processes[i].pid, signo) == -1) {
            if (errno == ESRCH) {
                zp_processes[i].exited  = 1;
                zp_processes[i].exiting = 0;
                zp_reap                 = 1;
            } else {
                zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "kill(%P, %d) failed",
                             zp_processes[i].pid, signo);
            }
            continue;
        }

        if (signo != ZP_REOPEN_SIGNAL) {
            zp_processes[i].exiting = 1;
        }
    }
}


/* A process that died holding the lock of a shared zone (its slab mutex)
 * would block every other one for good: the lock word holds its pid, so
 * the master frees it. */
static void
zp_unlock_zones(zp_cycle_t *cycle, zp_pid_t pid)
{
    zp_list_iter_t  it = {NULL, 0};
    zp_shm_zone_t  *zone;
    zp_slab_pool_t *sp;

    while ((zone = zp_list_next(&cycle->shared_memory, &it))) {
        sp = (zp_slab_pool_t *) zone->shm.addr;
        if (sp && sp->mutex.sh && zp_shmtx_force_unlock(&sp->mutex, pid)) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, 0,
                         "shared memory zone \"%V\" was locked by %P", &zone->shm.name, pid);
        }
    }
}


static zp_uint_t
zp_reap_children(zp_cycle_t *cycle)
{
    int            status;
    zp_pid_t       pid;
    zp_int_t       i;
    zp_uint_t      live;
    zp_core_conf_t *ccf;

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    for (;;) {
        pid = waitpid(-1, &status, WNOHANG);

        if (pid == 0) {
            break;
        }

        if (pid == -1) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }

        for (i = 0; i < zp_last_process; i++) {
            if (zp_processes[i].pid == pid) {
                zp_processes[i].status = status;
                zp_processes[i].exited = 1;
                break;
            }
        }

        zp_unlock_zones(cycle, pid);

        /* exit code 2 means the worker could not even start (bad user,
         * failed init): respawning would only loop */
        if (i < zp_last_process && WIFEXITED(status) && WEXITSTATUS(status) == 2
            && zp_processes[i].respawn) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "%s %P exited with fatal code 2 "
                         "and cannot be respawned", zp_processes[i].name, pid);
            zp_processes[i].respawn = 0;
        }

        if (WIFSIGNALED(status)) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "%s %P exited on signal %d%s",
                         i < zp_last_process ? zp_processes[i].name : "process", pid,
                         WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
        } else if (WEXITSTATUS(status) != 0) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "%s %P exited with code %d",
                         i < zp_last_process ? zp_processes[i].name : "process", pid,
                         WEXITSTATUS(status));
        } else {
            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "%s %P exited with code 0",
                         i < zp_last_process ? zp_processes[i].name : "process", pid);
        }
    }

    live = 0;

    for (i = 0; i < zp_last_process; i++) {
        if (zp_processes[i].pid == -1) {
            continue;
        }

        if (!zp_processes[i].exited) {
            if (!zp_processes[i].detached) {
                live = 1;
            }
            continue;
        }

        if (zp_processes[i].pid == zp_new_binary) {
            /* the new binary failed: take our pid file back */
            if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
                zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "rename() %s back to %s failed",
                             ccf->oldpid.data, ccf->pid.data);
            }
            zp_new_binary = 0;
            if (zp_noaccepting) {
                zp_restart     = 1;
                zp_noaccepting = 0;
            }
        }

        if (zp_processes[i].respawn && !zp_processes[i].exiting && !zp_terminate && !zp_quit) {
            if (zp_spawn_process(cycle, zp_processes[i].proc, zp_processes[i].data,
                                 zp_processes[i].name, i)
                == ZP_INVALID_PID) {
                zp_log_error(ZP_LOG_ALERT, cycle->log, 0, "could not respawn %s",
                             zp_processes[i].name);
                continue;
            }
            live = 1;
            continue;
        }

        if (i == zp_last_process - 1) {
            zp_last_process--;
        }
        zp_processes[i].pid = -1;
    }

    return live;
}


static void
zp_master_process_exit(zp_cycle_t *cycle)
{
    zp_uint_t i;

    zp_delete_pidfile(cycle);
    zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "exit");

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->exit_master) {
            cycle->modules[i]->exit_master(cycle);
        }
    }

    zp_close_listening_sockets(cycle);
    exit(0);
}


/*
 * USR2: the pid file becomes <pid>.oldbin and the binary at the path we
 * were started from is exec'd, with the listening sockets passed in
 * ZPROXY=fd;fd;... It works in the foreground too: the new master is our
 * child until we exit, then it is re-parented.
 */
zp_pid_t
zp_exec_new_binary(zp_cycle_t *cycle, char *const *argv)
{
    char          **env, *var, *p;
    size_t          len;
    zp_uint_t       i, n;
    zp_pid_t        pid;
    zp_listening_t *ls;
    zp_core_conf_t *ccf;
    sigset_t        set;
    extern char   **environ;

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);
    ls  = cycle->listening.elts;

    len = sizeof(ZP_INHERIT_ENV "=") + cycle->listening.nelts * (ZP_INT_T_LEN + 1) + 2;
    var = zp_alloc(len, cycle->log);
    if (var == NULL) {
        return ZP_INVALID_PID;
    }

    p = (char *) zp_cpymem(var, ZP_INHERIT_ENV "=", sizeof(ZP_INHERIT_ENV));
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1) {
            p = (char *) zp_sprintf((u_char *) p, "%d;", ls[i].fd);
        }
    }
    *p = '\0';

    for (n = 0; environ[n]; n++) { /* void */ }

    env = zp_alloc((n + 2) * sizeof(char *), cycle->log);
    if (env == NULL) {
        free(var);
        return ZP_INVALID_PID;
    }

    for (i = 0, n = 0; environ[i]; i++) {
        if (zp_strncmp(environ[i], ZP_INHERIT_ENV "=", sizeof(ZP_INHERIT_ENV)) == 0) {
            continue;
        }
        env[n++] = environ[i];
    }
    env[n++] = var;
    env[n]   = NULL;

    if (rename((char *) ccf->pid.data, (char *) ccf->oldpid.data) == -1) {
        zp_log_error(ZP_LOG_ALERT, cycle->log, errno,
                     "rename() %s to %s failed before executing new binary process \"%s\"",
                     ccf->pid.data, ccf->oldpid.data, zp_binary_path);
        free(env);
        free(var);
        return ZP_INVALID_PID;
    }

    pid = fork();

    if (pid == 0) {
        /* the listening sockets must survive exec: clear FD_CLOEXEC */
        for (i = 0; i < cycle->listening.nelts; i++) {
            if (ls[i].fd != -1) {
                (void) fcntl(ls[i].fd, F_SETFD, 0);
            }
        }
        sigemptyset(&set);
        sigprocmask(SIG_SETMASK, &set, NULL);

        execve((char *) zp_binary_path, argv, env);

        zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "execve() failed while executing \"%s\"",
                     zp_binary_path);
        _exit(1);
    }

    if (pid == -1) {
        zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "fork() failed while executing \"%s\"",
                     zp_binary_path);
        if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "rename() %s back to %s failed",
                         ccf->oldpid.data, ccf->pid.data);
        }
        free(env);
        free(var);
        return ZP_INVALID_PID;
    }

    zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "start new binary process %P", pid);

    for (i = 0; i < (zp_uint_t) zp_last_process; i++) {
        if (zp_processes[i].pid == -1) {
            break;
        }
    }
    if (i < ZP_MAX_PROCESSES) {
        zp_processes[i].pid        = pid;
        zp_processes[i].exited     = 0;
        zp_processes[i].exiting    = 0;
        zp_processes[i].respawn    = 0;
        zp_processes[i].just_spawn = 0;
        zp_processes[i].detached   = 1;
        zp_processes[i].name       = "new binary process";
        if (i == (zp_uint_t) zp_last_process) {
            zp_last_process++;
        }
    }

    free(env);
    free(var);
    return pid;
}


static void
zp_worker_process_init(zp_cycle_t *cycle, zp_uint_t worker)
{
    zp_uint_t       i;
    zp_core_conf_t *ccf;
    cpu_set_t      *cpu;
    struct rlimit   rlmt;
    zp_listening_t *ls;

    zp_process = ZP_PROCESS_WORKER;
    zp_worker  = worker;

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    if (ccf->rlimit_nofile != ZP_CONF_UNSET) {
        rlmt.rlim_cur = (rlim_t) ccf->rlimit_nofile;
        rlmt.rlim_max = (rlim_t) ccf->rlimit_nofile;
        if (setrlimit(RLIMIT_NOFILE, &rlmt) == -1) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno,
                         "setrlimit(RLIMIT_NOFILE, %i) failed", ccf->rlimit_nofile);
        }
    }

    if (geteuid() == 0 && ccf->user != (uid_t) ZP_CONF_UNSET_UINT) {
        if (setgid(ccf->group) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "setgid(%d) failed", (int) ccf->group);
            exit(2);
        }
        if (initgroups(ccf->username, ccf->group) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "initgroups(%s, %d) failed",
                         ccf->username, (int) ccf->group);
        }
        if (setuid(ccf->user) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "setuid(%d) failed", (int) ccf->user);
            exit(2);
        }
        /* stay dumpable for core files after dropping privileges */
        (void) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    }

    cpu = zp_get_cpu_affinity(worker);
    if (cpu) {
        if (sched_setaffinity(0, sizeof(cpu_set_t), cpu) == -1) {
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "sched_setaffinity() failed");
        } else {
#if (ZP_HAVE_LIBNUMA)
            int c, node = -1;
            for (c = 0; c < CPU_SETSIZE; c++) {
                if (CPU_ISSET(c, cpu)) {
                    break;
                }
            }
            if (ccf->numa && numa_available() != -1 && CPU_COUNT(cpu) == 1) {
                /* memory from the node this worker runs on */
                node = numa_node_of_cpu(c);
                numa_set_localalloc();
            }
            zp_log_error(ZP_LOG_INFO, cycle->log, 0, "worker %ui pinned to CPU %d, NUMA node %d",
                         worker, c, node);
#endif
        }
    }

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->init_process
            && cycle->modules[i]->init_process(cycle) == ZP_ERROR) {
            exit(2);
        }
    }

    /* with reuseport, the other workers' sockets are not ours to hold */
    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].reuseport && ls[i].worker != worker && ls[i].fd != -1) {
            close(ls[i].fd);
            ls[i].fd = -1;
        }
    }
}


static void
zp_drain_handler(zp_event_t *ev)
{
    zp_core_conf_t *ccf;
    zp_cycle_t     *cycle = (zp_cycle_t *) zp_cycle;

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);
    (void) zp_close_idle_connections(cycle, ccf->drain_idle);
    zp_event_add_timer(ev, zp_max(ccf->drain_idle / 4, 50));
}


static void
zp_shutdown_timer_handler(zp_event_t *ev)
{
    zp_uint_t        i;
    zp_connection_t *c;
    zp_cycle_t      *cycle = (zp_cycle_t *) zp_cycle;

    zp_log_error(ZP_LOG_NOTICE, ev->log, 0, "worker_shutdown_timeout expired, closing connections");

    c = cycle->connections;
    for (i = 0; i < cycle->connection_n; i++) {
        if (c[i].fd == -1 || c[i].read->accept) {
            continue;
        }
        c[i].close = 1;
        c[i].error = 1;
        c[i].read->handler(c[i].read);
    }
}


static void
zp_worker_process_cycle(zp_cycle_t *cycle, void *data)
{
    zp_uint_t        worker = (zp_uint_t) (intptr_t) data;
    zp_core_conf_t  *ccf;
    static zp_event_t shutdown_ev;

    zp_worker_process_init(cycle, worker);
    zp_setproctitle("worker process");

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    for (;;) {
        if (zp_exiting) {
            if (zp_event_no_timers_left() == ZP_OK
                && zp_close_idle_connections(cycle, ccf->drain_idle) == 0) {
                zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "exiting");
                zp_worker_process_exit(cycle);
            }
        }

        zp_process_events_and_timers(cycle);

        if (zp_terminate) {
            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "exiting");
            zp_worker_process_exit(cycle);
        }

        if (zp_quit) {
            zp_quit = 0;

            if (!zp_exiting) {
                zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "gracefully shutting down");
                zp_setproctitle("worker process is shutting down");
                zp_exiting = 1;

                zp_event_close_listening(cycle);

                zp_drain_ev.handler    = zp_drain_handler;
                zp_drain_ev.log        = cycle->log;
                zp_drain_ev.cancelable = 1;
                zp_event_add_timer(&zp_drain_ev, zp_max(ccf->drain_idle / 4, 50));

                if (ccf->shutdown_timeout) {
                    shutdown_ev.handler    = zp_shutdown_timer_handler;
                    shutdown_ev.log        = cycle->log;
                    shutdown_ev.cancelable = 1;
                    zp_event_add_timer(&shutdown_ev, ccf->shutdown_timeout);
                }
            }
        }

        if (zp_reopen) {
            zp_reopen = 0;
            zp_log_error(ZP_LOG_NOTICE, cycle->log, 0, "reopening logs");
            zp_reopen_files(cycle, (uid_t) ZP_CONF_UNSET_UINT);
        }
    }
}


static void
zp_worker_process_exit(zp_cycle_t *cycle)
{
    zp_uint_t i;

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->exit_process) {
            cycle->modules[i]->exit_process(cycle);
        }
    }

    exit(0);
}


zp_int_t
zp_os_signal_process(zp_cycle_t *cycle, char *name, zp_pid_t pid)
{
    zp_signal_t *sig;

    for (sig = zp_signals; sig->signo != 0; sig++) {
        if (zp_strcmp(name, sig->name) == 0) {
            if (kill(pid, sig->signo) != -1) {
                return 0;
            }
            zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "kill(%P, %d) failed", pid,
                         sig->signo);
        }
    }

    return 1;
}


zp_int_t
zp_daemon(zp_log_t *log)
{
    int fd;

    switch (fork()) {
    case -1:
        zp_log_error(ZP_LOG_EMERG, log, errno, "fork() failed");
        return ZP_ERROR;
    case 0:
        break;
    default:
        exit(0);
    }

    zp_parent = zp_pid;
    zp_pid    = getpid();

    if (setsid() == -1) {
        zp_log_error(ZP_LOG_EMERG, log, errno, "setsid() failed");
        return ZP_ERROR;
    }

    umask(0);

    fd = open("/dev/null", O_RDWR);
    if (fd == -1) {
        zp_log_error(ZP_LOG_EMERG, log, errno, "open(\"/dev/null\") failed");
        return ZP_ERROR;
    }

    (void) dup2(fd, STDIN_FILENO);
    (void) dup2(fd, STDOUT_FILENO);

    if (fd > STDERR_FILENO) {
        close(fd);
    }

    return ZP_OK;
}
