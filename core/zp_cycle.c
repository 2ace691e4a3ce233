/*
 * zp_cycle.c: loading a configuration into a cycle, and the resources a
 * cycle owns (pid file, open files, shared memory, listening sockets).
 */
#include <zp_config.h>
#include <zp_core.h>

#if (ZP_HAVE_LIBNUMA)
#include <numa.h>
#endif

volatile zp_cycle_t *zp_cycle;
zp_uint_t            zp_test_config;
zp_uint_t            zp_quiet_mode;

static zp_int_t zp_init_zones(zp_cycle_t *cycle, zp_cycle_t *old_cycle);
static zp_int_t zp_reuse_listening(zp_cycle_t *cycle, zp_cycle_t *old_cycle);
static void     zp_undo_cycle(zp_cycle_t *cycle, zp_cycle_t *old_cycle);


zp_cycle_t *
zp_init_cycle(zp_cycle_t *old_cycle)
{
    void            *rv;
    zp_uint_t        i;
    zp_log_t        *log;
    zp_conf_t        conf;
    zp_pool_t       *pool;
    zp_cycle_t      *cycle;
    zp_list_iter_t   it;
    zp_open_file_t  *file;
    zp_core_module_t *module;
    char             hostname[256];

    zp_time_update();

    log  = old_cycle->log;
    pool = zp_create_pool(ZP_CYCLE_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    cycle = zp_pcalloc(pool, sizeof(zp_cycle_t));
    if (cycle == NULL) {
        zp_destroy_pool(pool);
        return NULL;
    }

    cycle->pool      = pool;
    cycle->log       = log;
    cycle->old_cycle = old_cycle;

    cycle->conf_prefix.len  = old_cycle->conf_prefix.len;
    cycle->conf_prefix.data = zp_pstrdup(pool, &old_cycle->conf_prefix);
    cycle->prefix.len       = old_cycle->prefix.len;
    cycle->prefix.data      = zp_pstrdup(pool, &old_cycle->prefix);
    cycle->conf_file.len    = old_cycle->conf_file.len;
    cycle->conf_file.data   = zp_pnalloc(pool, old_cycle->conf_file.len + 1);
    cycle->conf_param.len   = old_cycle->conf_param.len;
    cycle->conf_param.data  = zp_pstrdup(pool, &old_cycle->conf_param);

    if (cycle->conf_prefix.data == NULL || cycle->prefix.data == NULL
        || cycle->conf_file.data == NULL
        || (cycle->conf_param.len && cycle->conf_param.data == NULL)) {
        zp_destroy_pool(pool);
        return NULL;
    }

    zp_cpystrn(cycle->conf_file.data, old_cycle->conf_file.data, old_cycle->conf_file.len + 1);

    if (zp_list_init(&cycle->open_files, pool, 8, sizeof(zp_open_file_t)) != ZP_OK
        || zp_list_init(&cycle->shared_memory, pool, 2, sizeof(zp_shm_zone_t)) != ZP_OK
        || zp_array_init(&cycle->listening, pool, 8, sizeof(zp_listening_t)) != ZP_OK) {
        zp_destroy_pool(pool);
        return NULL;
    }

    zp_queue_init(&cycle->reusable_connections_queue);

    cycle->conf_ctx = zp_pcalloc(pool, zp_max_module * sizeof(void *));
    cycle->modules  = zp_pcalloc(pool, (zp_max_module + 1) * sizeof(zp_module_t *));
    if (cycle->conf_ctx == NULL || cycle->modules == NULL) {
        zp_destroy_pool(pool);
        return NULL;
    }

    zp_memcpy(cycle->modules, zp_modules, zp_max_module * sizeof(zp_module_t *));
    cycle->modules_n = zp_max_module;

    if (gethostname(hostname, sizeof(hostname) - 1) == -1) {
        hostname[0] = '\0';
    }
    hostname[sizeof(hostname) - 1] = '\0';
    cycle->hostname.len            = strlen(hostname);
    cycle->hostname.data           = zp_pnalloc(pool, cycle->hostname.len + 1);
    if (cycle->hostname.data == NULL) {
        zp_destroy_pool(pool);
        return NULL;
    }
    zp_memcpy(cycle->hostname.data, hostname, cycle->hostname.len + 1);

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->type != ZP_CORE_MODULE) {
            continue;
        }
        module = cycle->modules[i]->ctx;
        if (module->create_conf) {
            rv = module->create_conf(cycle);
            if (rv == NULL) {
                zp_destroy_pool(pool);
                return NULL;
            }
            cycle->conf_ctx[cycle->modules[i]->index] = rv;
        }
    }

    zp_memzero(&conf, sizeof(zp_conf_t));

    conf.args = zp_array_create(pool, 10, sizeof(zp_str_t));
    conf.temp_pool = zp_create_pool(ZP_CYCLE_POOL_SIZE, log);
    if (conf.args == NULL || conf.temp_pool == NULL) {
        if (conf.temp_pool) {
            zp_destroy_pool(conf.temp_pool);
        }
        zp_destroy_pool(pool);
        return NULL;
    }

    conf.ctx         = cycle->conf_ctx;
    conf.cycle       = cycle;
    conf.pool        = pool;
    conf.log         = log;
    conf.module_type = ZP_CORE_MODULE;
    conf.cmd_type    = ZP_MAIN_CONF;

    if (zp_conf_param(&conf, &cycle->conf_param) != ZP_CONF_OK) {
        goto conf_failed;
    }

    if (zp_conf_parse(&conf, &cycle->conf_file) != ZP_CONF_OK) {
        goto conf_failed;
    }

    if (zp_test_config && !zp_quiet_mode) {
        zp_log_stderr(0, "the configuration file %s syntax is ok", cycle->conf_file.data);
    }

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->type != ZP_CORE_MODULE) {
            continue;
        }
        module = cycle->modules[i]->ctx;
        if (module->init_conf) {
            rv = module->init_conf(cycle, cycle->conf_ctx[cycle->modules[i]->index]);
            if (rv != ZP_CONF_OK) {
                if (rv != ZP_CONF_ERROR) {
                    zp_log_error(ZP_LOG_EMERG, log, 0, "%s", (char *) rv);
                }
                goto conf_failed;
            }
        }
    }

    zp_destroy_pool(conf.temp_pool);
    conf.temp_pool = NULL;

    /* connections log to the error log of this cycle, whatever order the
     * error_log and listen directives came in; the protocol keeps its
     * handler, which adds the client's address */
    {
        zp_listening_t   *ls = cycle->listening.elts;
        zp_log_handler_pt handler;

        for (i = 0; i < cycle->listening.nelts; i++) {
            handler        = ls[i].log.handler;
            ls[i].log      = cycle->new_log;
            ls[i].log.handler = handler;
        }
    }

    if (zp_process == ZP_PROCESS_SIGNALLER || zp_test_config) {
        return cycle;
    }

    /* from here on the new cycle takes resources: undo them on failure */

    it.part = NULL;
    while ((file = zp_list_next(&cycle->open_files, &it))) {
        if (file->fd != ZP_INVALID_FILE || file->name.len == 0) {
            continue;
        }

        file->fd = zp_open_log_file(file->name.data);
        if (file->fd == ZP_INVALID_FILE) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "open() \"%s\" failed", file->name.data);
            goto failed;
        }
    }

    if (zp_init_zones(cycle, old_cycle) != ZP_OK) {
        goto failed;
    }

    if (zp_reuse_listening(cycle, old_cycle) != ZP_OK) {
        goto failed;
    }

    if (zp_open_listening_sockets(cycle) != ZP_OK) {
        goto failed;
    }

    zp_configure_listening_sockets(cycle);

    cycle->log = &cycle->new_log;

    if (zp_init_modules(cycle) != ZP_OK) {
        cycle->log = log;
        goto failed;
    }

    /* slab messages ("no memory" in a full zone) go to this cycle's log:
     * zp_slab_init_zone() set it only for new zones, and to the log of the
     * cycle this one replaces, which is freed after the reload */
    zp_slab_log = cycle->log;

    return cycle;

conf_failed:
    if (conf.temp_pool) {
        zp_destroy_pool(conf.temp_pool);
    }
    zp_destroy_pool(pool);
    return NULL;

failed:
    zp_undo_cycle(cycle, old_cycle);
    return NULL;
}


/* Shared memory: a zone the old cycle had with the same name, size and
 * owner keeps its memory, so rate-limit counters and cache indexes live
 * across a reload. */
static zp_shm_zone_t *
zp_find_zone(zp_list_t *zones, zp_str_t *name)
{
    zp_list_iter_t it = {NULL, 0};
    zp_shm_zone_t *zone;

    while ((zone = zp_list_next(zones, &it))) {
        if (zone->shm.name.len == name->len
            && zp_strncmp(zone->shm.name.data, name->data, name->len) == 0) {
            return zone;
        }
    }

    return NULL;
}


static zp_int_t
zp_init_zones(zp_cycle_t *cycle, zp_cycle_t *old_cycle)
{
    zp_list_iter_t it = {NULL, 0};
    zp_shm_zone_t *zone, *old;

    while ((zone = zp_list_next(&cycle->shared_memory, &it))) {
        if (zone->shm.size == 0) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, 0, "zero size shared memory zone \"%V\"",
                         &zone->shm.name);
            return ZP_ERROR;
        }

        zone->shm.log = cycle->log;

        old = zone->noreuse ? NULL : zp_find_zone(&old_cycle->shared_memory, &zone->shm.name);

        if (old && old->tag == zone->tag && old->shm.size == zone->shm.size && !old->noreuse) {
            zone->shm.addr   = old->shm.addr;
            zone->shm.exists = 1;
            if (zone->init && zone->init(zone, old->data) != ZP_OK) {
                return ZP_ERROR;
            }
            continue;
        }

        if (zp_shm_alloc(&zone->shm) != ZP_OK) {
            return ZP_ERROR;
        }

        if (zp_slab_init_zone(zone, cycle->log) != ZP_OK) {
            return ZP_ERROR;
        }

        if (zone->init && zone->init(zone, NULL) != ZP_OK) {
            return ZP_ERROR;
        }
    }

    return ZP_OK;
}


/* Listening sockets: an address the old cycle (or the old binary, through
 * ZPROXY=) already listens on keeps its socket, so a reload or an upgrade
 * never closes a socket with connections waiting in its backlog. */
static zp_int_t
zp_reuse_listening(zp_cycle_t *cycle, zp_cycle_t *old_cycle)
{
    zp_uint_t       i, n;
    zp_listening_t *ls, *nls;

    ls  = old_cycle->listening.elts;
    nls = cycle->listening.elts;

    for (n = 0; n < cycle->listening.nelts; n++) {
        for (i = 0; i < old_cycle->listening.nelts; i++) {
            if (ls[i].ignore || ls[i].remain || ls[i].fd == -1) {
                continue;
            }

            if (ls[i].reuseport != nls[n].reuseport || ls[i].worker != nls[n].worker) {
                continue;
            }

            if (zp_cmp_sockaddr(&nls[n].sockaddr.sa, nls[n].socklen, &ls[i].sockaddr.sa,
                                ls[i].socklen) != ZP_OK) {
                continue;
            }

            nls[n].fd       = ls[i].fd;
            nls[n].previous = &ls[i];
            nls[n].inherited = ls[i].inherited;
            ls[i].remain    = 1;
            break;
        }
    }

    return ZP_OK;
}


static void
zp_close_files(zp_list_t *files)
{
    zp_list_iter_t  it = {NULL, 0};
    zp_open_file_t *file;

    while ((file = zp_list_next(files, &it))) {
        if (file->fd != ZP_INVALID_FILE && file->fd != STDERR_FILENO) {
            close(file->fd);
        }
    }
}


/* Unmaps the zones of one cycle that the other cycle does not share. */
static void
zp_free_zones(zp_list_t *zones, zp_list_t *keep)
{
    zp_list_iter_t it = {NULL, 0}, kit;
    zp_shm_zone_t *zone, *k;

    while ((zone = zp_list_next(zones, &it))) {
        if (zone->shm.addr == NULL) {
            continue;
        }

        kit.part = NULL;
        while ((k = zp_list_next(keep, &kit)) && k->shm.addr != zone->shm.addr) {
            /* void */
        }

        if (k == NULL) {
            zp_shm_free(&zone->shm);
        }
    }
}


static void
zp_undo_cycle(zp_cycle_t *cycle, zp_cycle_t *old_cycle)
{
    zp_uint_t       i;
    zp_listening_t *ls;

    zp_close_files(&cycle->open_files);
    zp_free_zones(&cycle->shared_memory, &old_cycle->shared_memory);

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1 && ls[i].previous == NULL) {
            close(ls[i].fd);
        }
        if (ls[i].previous) {
            ls[i].previous->remain = 0;
        }
    }

    zp_destroy_pool(cycle->pool);
}


void
zp_release_old_cycle(zp_cycle_t *old_cycle, zp_cycle_t *cycle)
{
    zp_uint_t       i;
    zp_listening_t *ls;

    ls = old_cycle->listening.elts;
    for (i = 0; i < old_cycle->listening.nelts; i++) {
        if (ls[i].remain || ls[i].fd == -1) {
            continue;
        }
        close(ls[i].fd);
        ls[i].fd = -1;
    }

    zp_close_files(&old_cycle->open_files);
    zp_free_zones(&old_cycle->shared_memory, &cycle->shared_memory);

    if (old_cycle->pool) {
        zp_destroy_pool(old_cycle->pool);
    }
}


zp_shm_zone_t *
zp_shared_memory_add(zp_conf_t *cf, zp_str_t *name, size_t size, void *tag)
{
    zp_shm_zone_t *shm_zone;

    shm_zone = zp_find_zone(&cf->cycle->shared_memory, name);

    if (shm_zone) {
        if (tag != shm_zone->tag) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "the shared memory zone \"%V\" is already declared for a "
                              "different use",
                              &shm_zone->shm.name);
            return NULL;
        }

        if (shm_zone->shm.size == 0) {
            shm_zone->shm.size = size;
        }

        if (size && size != shm_zone->shm.size) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "the size %uz of shared memory zone \"%V\" conflicts with already "
                              "declared size %uz",
                              size, &shm_zone->shm.name, shm_zone->shm.size);
            return NULL;
        }

        return shm_zone;
    }

    shm_zone = zp_list_push(&cf->cycle->shared_memory);
    if (shm_zone == NULL) {
        return NULL;
    }

    zp_memzero(shm_zone, sizeof(zp_shm_zone_t));
    shm_zone->shm.size = size;
    shm_zone->shm.name = *name;
    shm_zone->shm.log  = cf->cycle->log;
    shm_zone->tag      = tag;

    return shm_zone;
}


zp_int_t
zp_create_pidfile(zp_str_t *name, zp_log_t *log)
{
    zp_fd_t fd;
    u_char  pid[ZP_INT_T_LEN + 2], *p;

    fd = open((char *) name->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        zp_log_error(ZP_LOG_EMERG, log, errno, "open() \"%s\" failed", name->data);
        return ZP_ERROR;
    }

    p = zp_snprintf(pid, sizeof(pid), "%P%N", zp_pid);

    if (zp_write_fd(fd, pid, p - pid) != p - pid) {
        zp_log_error(ZP_LOG_EMERG, log, errno, "write() \"%s\" failed", name->data);
        close(fd);
        return ZP_ERROR;
    }

    close(fd);
    return ZP_OK;
}


void
zp_delete_pidfile(zp_cycle_t *cycle)
{
    u_char         *name;
    zp_core_conf_t *ccf;

    ccf  = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);
    name = zp_new_binary ? ccf->oldpid.data : ccf->pid.data;

    if (unlink((char *) name) == -1 && errno != ENOENT) {
        zp_log_error(ZP_LOG_ALERT, cycle->log, errno, "unlink() \"%s\" failed", name);
    }
}


zp_pid_t
zp_read_pidfile(zp_str_t *name, zp_log_t *log)
{
    zp_fd_t  fd;
    ssize_t  n;
    u_char   buf[ZP_INT_T_LEN + 2];
    zp_int_t pid;

    fd = open((char *) name->data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        zp_log_error(ZP_LOG_ERR, log, errno, "open() \"%s\" failed", name->data);
        return ZP_INVALID_PID;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n == -1) {
        zp_log_error(ZP_LOG_ERR, log, errno, "read() \"%s\" failed", name->data);
        return ZP_INVALID_PID;
    }

    while (n > 0 && (buf[n - 1] == CR || buf[n - 1] == LF)) {
        n--;
    }

    pid = zp_atoi(buf, n);
    if (pid == ZP_ERROR || pid == 0) {
        zp_log_error(ZP_LOG_ERR, log, 0, "invalid PID number \"%*s\" in \"%s\"", n, buf,
                     name->data);
        return ZP_INVALID_PID;
    }

    return (zp_pid_t) pid;
}


zp_int_t
zp_signal_process(zp_cycle_t *cycle, char *sig)
{
    zp_pid_t        pid;
    zp_core_conf_t *ccf;

    ccf = (zp_core_conf_t *) zp_get_conf(cycle->conf_ctx, zp_core_module);

    pid = zp_read_pidfile(&ccf->pid, cycle->log);
    if (pid == ZP_INVALID_PID) {
        return 1;
    }

    return zp_os_signal_process(cycle, sig, pid);
}


/*
 * USR1: every process reopens every file by name. The master creates the
 * file (owned by the worker user, so that workers can open it too) before
 * it tells the workers. A line is written with one write(2), so it lands
 * whole in either the old file or the new one.
 */
void
zp_reopen_files(zp_cycle_t *cycle, uid_t user)
{
    zp_fd_t         fd;
    zp_list_iter_t  it = {NULL, 0};
    zp_open_file_t *file;

    while ((file = zp_list_next(&cycle->open_files, &it))) {
        if (file->name.len == 0) {
            continue;
        }

        if (file->flush) {
            file->flush(file, cycle->log);
        }

        fd = zp_open_log_file(file->name.data);
        if (fd == ZP_INVALID_FILE) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed",
                         file->name.data);
            continue;
        }

        if (user != (uid_t) ZP_CONF_UNSET_UINT && fchown(fd, user, -1) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "chown(\"%s\", %d) failed",
                         file->name.data, (int) user);
        }

        if (file->fd != ZP_INVALID_FILE && close(file->fd) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "close() \"%s\" failed",
                         file->name.data);
        }

        file->fd = fd;
    }
}


/*
 * worker_cpu_affinity auto: worker n runs on the n-th allowed CPU, with
 * the CPUs ordered node by node in turn (node 0's first CPU, node 1's
 * first, node 0's second, ...), so consecutive workers land on different
 * NUMA nodes when there are several.
 */
cpu_set_t *
zp_get_cpu_affinity(zp_uint_t n)
{
    static cpu_set_t result;
    int              cpus[CPU_SETSIZE];
    int              ncpu = 0, i, j, node, maxnode, taken[CPU_SETSIZE];
    zp_uint_t        k;
    cpu_set_t       *mask, allowed;
    zp_core_conf_t  *ccf;

    ccf = (zp_core_conf_t *) zp_get_conf(zp_cycle->conf_ctx, zp_core_module);

    if (ccf->cpu_affinity == NULL && !ccf->cpu_affinity_auto) {
        return NULL;
    }

    if (!ccf->cpu_affinity_auto) {
        k = zp_min(n, ccf->cpu_affinity_n - 1);
        return &ccf->cpu_affinity[k];
    }

    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(cpu_set_t), &allowed) == -1) {
        return NULL;
    }

    /* "auto 0011" limits the choice to the CPUs of the mask */
    mask = ccf->cpu_affinity;

    for (i = 0; i < CPU_SETSIZE; i++) {
        if (CPU_ISSET(i, &allowed) && (mask == NULL || CPU_ISSET(i, mask))) {
            cpus[ncpu++] = i;
        }
    }

    if (ncpu == 0) {
        return NULL;
    }

    maxnode = 0;
#if (ZP_HAVE_LIBNUMA)
    if (numa_available() != -1) {
        maxnode = numa_max_node();
    }
#endif

    if (maxnode > 0) {
        int ordered[CPU_SETSIZE], no = 0;

        zp_memzero(taken, sizeof(taken));
        while (no < ncpu) {
            for (node = 0; node <= maxnode; node++) {
                for (j = 0; j < ncpu; j++) {
#if (ZP_HAVE_LIBNUMA)
                    if (!taken[j] && numa_node_of_cpu(cpus[j]) == node) {
                        taken[j]      = 1;
                        ordered[no++] = cpus[j];
                        break;
                    }
#endif
                }
            }
            /* CPUs whose node is unknown go last */
            for (j = 0; j < ncpu && no < ncpu; j++) {
#if (ZP_HAVE_LIBNUMA)
                if (!taken[j] && numa_node_of_cpu(cpus[j]) < 0) {
                    taken[j]      = 1;
                    ordered[no++] = cpus[j];
                }
#endif
            }
        }
        zp_memcpy(cpus, ordered, (size_t) ncpu * sizeof(int));
    }

    CPU_ZERO(&result);
    CPU_SET(cpus[n % ncpu], &result);
    return &result;
}
