/*
 * zp_process.h: the master and its workers.
 */
#ifndef ZP_PROCESS_H
#define ZP_PROCESS_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_MAX_PROCESSES 1024

#define ZP_PROCESS_SINGLE    0
#define ZP_PROCESS_MASTER    1
#define ZP_PROCESS_SIGNALLER 2
#define ZP_PROCESS_WORKER    3

#define ZP_PROCESS_NORESPAWN   -1
#define ZP_PROCESS_JUST_SPAWN  -2
#define ZP_PROCESS_RESPAWN     -3
#define ZP_PROCESS_JUST_RESPAWN -4
#define ZP_PROCESS_DETACHED    -5

#define ZP_SHUTDOWN_SIGNAL  SIGQUIT
#define ZP_TERMINATE_SIGNAL SIGTERM
#define ZP_NOACCEPT_SIGNAL  SIGWINCH
#define ZP_RECONFIGURE_SIGNAL SIGHUP
#define ZP_REOPEN_SIGNAL    SIGUSR1
#define ZP_CHANGEBIN_SIGNAL SIGUSR2

typedef void (*zp_spawn_proc_pt)(zp_cycle_t *cycle, void *data);

typedef struct {
    zp_pid_t          pid;
    int               status;
    zp_spawn_proc_pt  proc;
    void             *data;
    const char       *name;
    zp_uint_t         slot_data;  /* the worker number */

    unsigned          respawn:1;
    unsigned          just_spawn:1;
    unsigned          detached:1;
    unsigned          exiting:1;
    unsigned          exited:1;
} zp_process_t;

typedef struct {
    int         signo;
    const char *signame;
    const char *name;
    void      (*handler)(int signo, siginfo_t *siginfo, void *ucontext);
} zp_signal_t;

zp_int_t zp_init_signals(zp_log_t *log);
void     zp_master_process_cycle(zp_cycle_t *cycle);
zp_pid_t zp_exec_new_binary(zp_cycle_t *cycle, char *const *argv);
zp_int_t zp_os_signal_process(zp_cycle_t *cycle, char *name, zp_pid_t pid);
zp_int_t zp_daemon(zp_log_t *log);

extern zp_pid_t     zp_pid;
extern zp_pid_t     zp_parent;
extern zp_pid_t     zp_new_binary;
extern zp_uint_t    zp_process;
extern zp_uint_t    zp_worker;
extern zp_uint_t    zp_inherited;
extern zp_uint_t    zp_daemonized;
extern zp_uint_t    zp_exiting;
extern char       **zp_os_environ;
extern u_char      *zp_binary_path;

extern sig_atomic_t zp_reap;
extern sig_atomic_t zp_sigio;
extern sig_atomic_t zp_sigalrm;
extern sig_atomic_t zp_quit;
extern sig_atomic_t zp_terminate;
extern sig_atomic_t zp_noaccept;
extern sig_atomic_t zp_reconfigure;
extern sig_atomic_t zp_reopen;
extern sig_atomic_t zp_change_binary;

#endif /* ZP_PROCESS_H */
