/*
 * zp_cycle.h: a cycle is one loaded configuration with everything it owns:
 * module configs, listening sockets, open files and shared-memory zones.
 * A reload builds a new cycle from the old one, reusing its sockets,
 * files and zones where the new config still names them.
 */
#ifndef ZP_CYCLE_H
#define ZP_CYCLE_H

#include <zp_config.h>
#include <zp_core.h>

#define ZP_CYCLE_POOL_SIZE 16384

/* the environment variable through which a new binary inherits sockets */
#define ZP_INHERIT_ENV "ZPROXY"

struct zp_cycle_s {
    void          ****conf_ctx;
    zp_pool_t        *pool;

    zp_log_t         *log;
    zp_log_t          new_log;

    zp_connection_t **files;
    zp_uint_t         files_n;
    zp_connection_t  *free_connections;
    zp_uint_t         free_connection_n;

    zp_module_t     **modules;
    zp_uint_t         modules_n;

    zp_queue_t        reusable_connections_queue;
    zp_uint_t         reusable_connections_n;

    zp_array_t        listening;     /* zp_listening_t */
    zp_list_t         open_files;    /* zp_open_file_t */
    zp_list_t         shared_memory; /* zp_shm_zone_t */

    zp_uint_t         connection_n;
    zp_connection_t  *connections;
    zp_event_t       *read_events;
    zp_event_t       *write_events;

    zp_cycle_t       *old_cycle;

    zp_str_t          conf_file;
    zp_str_t          conf_param;
    zp_str_t          conf_prefix;
    zp_str_t          prefix;
    zp_str_t          hostname;
};

typedef struct {
    zp_flag_t   daemon;
    zp_int_t    worker_processes;
    zp_msec_t   shutdown_timeout;
    zp_msec_t   drain_idle;        /* a draining worker closes idle keep-alives after this */
    zp_int_t    rlimit_nofile;
    uid_t       user;
    gid_t       group;
    char       *username;
    zp_uint_t   cpu_affinity_auto;
    zp_uint_t   cpu_affinity_n;
    cpu_set_t  *cpu_affinity;
    zp_flag_t   numa;
    zp_str_t    pid;
    zp_str_t    oldpid;
} zp_core_conf_t;

/* Reads the configuration into a new cycle. old_cycle supplies the prefix,
 * the file names, the log and the sockets, files and zones to reuse.
 * Returns NULL after logging the reason; the old cycle is untouched then. */
zp_cycle_t *zp_init_cycle(zp_cycle_t *old_cycle);

/* Releases what the old cycle holds and the new one does not reuse. */
void zp_release_old_cycle(zp_cycle_t *old_cycle, zp_cycle_t *cycle);

zp_int_t zp_create_pidfile(zp_str_t *name, zp_log_t *log);
void     zp_delete_pidfile(zp_cycle_t *cycle);
zp_pid_t zp_read_pidfile(zp_str_t *name, zp_log_t *log);
zp_int_t zp_signal_process(zp_cycle_t *cycle, char *sig);
void     zp_reopen_files(zp_cycle_t *cycle, uid_t user);
cpu_set_t *zp_get_cpu_affinity(zp_uint_t n);

/* Adds a named zone; size 0 looks up an existing one by name. */
zp_shm_zone_t *zp_shared_memory_add(zp_conf_t *cf, zp_str_t *name, size_t size, void *tag);

extern volatile zp_cycle_t *zp_cycle;
extern zp_module_t           zp_core_module;
extern zp_uint_t             zp_test_config;
extern zp_uint_t             zp_quiet_mode;

#endif /* ZP_CYCLE_H */
