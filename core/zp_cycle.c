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
    zp_list_part_t  *part;
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

    part = &cycle->open_files.part;
    file = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            file = part->elts;
            i    = 0;
        }

        if (file[i].fd != ZP_INVALID_FILE || file[i].name.len == 0) {
            continue;
        }

        file[i].fd = zp_open_log_file(file[i].name.data);
        if (file[i].fd == ZP_INVALID_FILE) {
            zp_log_error(ZP_LOG_EMERG, log, errno, "open() \"%s\" failed", file[i].name.data);
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
static zp_int_t
zp_init_zones(zp_cycle_t *cycle, zp_cycle_t *old_cycle)
{
    zp_uint_t       i, n;
    zp_list_part_t *part, *opart;
    zp_shm_zone_t  *shm_zone, *oshm_zone;

    part     = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part     = part->next;
            shm_zone = part->elts;
            i        = 0;
        }

        if (shm_zone[i].shm.size == 0) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, 0,
                         "zero size shared memory zone \"%V\"", &shm_zone[i].shm.name);
            return ZP_ERROR;
        }

        shm_zone[i].shm.log = cycle->log;

        if (old_cycle->shared_memory.part.elts && !shm_zone[i].noreuse) {
            opart     = &old_cycle->shared_memory.part;
            oshm_zone = opart->elts;

            for (n = 0; /* void */; n++) {
                if (n >= opart->nelts) {
                    if (opart->next == NULL) {
                        break;
                    }
                    opart     = opart->next;
                    oshm_zone = opart->elts;
                    n         = 0;
                }

                if (shm_zone[i].shm.name.len != oshm_zone[n].shm.name.len
                    || zp_strncmp(shm_zone[i].shm.name.data, oshm_zone[n].shm.name.data,
                                  shm_zone[i].shm.name.len) != 0) {
                    continue;
                }

                if (shm_zone[i].tag == oshm_zone[n].tag
                    && shm_zone[i].shm.size == oshm_zone[n].shm.size && !oshm_zone[n].noreuse) {
                    shm_zone[i].shm.addr   = oshm_zone[n].shm.addr;
                    shm_zone[i].shm.exists = 1;
                    if (shm_zone[i].init
                        && shm_zone[i].init(&shm_zone[i], oshm_zone[n].data) != ZP_OK) {
                        return ZP_ERROR;
                    }
                    goto next;
                }
                break;
            }
        }

        if (zp_shm_alloc(&shm_zone[i].shm) != ZP_OK) {
            return ZP_ERROR;
        }

        if (zp_slab_init_zone(&shm_zone[i], cycle->log) != ZP_OK) {
            return ZP_ERROR;
        }

        if (shm_zone[i].init && shm_zone[i].init(&shm_zone[i], NULL) != ZP_OK) {
            return ZP_ERROR;
        }

    next:
        continue;
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
zp_undo_cycle(zp_cycle_t *cycle, zp_cycle_t *old_cycle)
{
    zp_uint_t       i;
    zp_list_part_t *part;
    zp_open_file_t *file;
    zp_shm_zone_t  *zone;
    zp_listening_t *ls;

    part = &cycle->open_files.part;
    file = part->elts;
    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            file = part->elts;
            i    = 0;
        }
        if (file[i].fd != ZP_INVALID_FILE && file[i].fd != STDERR_FILENO) {
            close(file[i].fd);
        }
    }

    part = &cycle->shared_memory.part;
    zone = part->elts;
    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            zone = part->elts;
            i    = 0;
        }
        if (zone[i].shm.addr && !zone[i].shm.exists) {
            zp_shm_free(&zone[i].shm);
        }
    }

    ls = cycle->listening.elts;
    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd != -1 && ls[i].previous == NULL) {
            close(ls[i].fd);
        }
        if (ls[i].previous) {
            ls[i].previous->remain = 0;
        }
    }

    (void) old_cycle;
    zp_destroy_pool(cycle->pool);
}


void
zp_release_old_cycle(zp_cycle_t *old_cycle, zp_cycle_t *cycle)
{
    zp_uint_t       i, n, found;
    zp_list_part_t *part, *npart;
    zp_open_file_t *file;
    zp_shm_zone_t  *zone, *nzone;
    zp_listening_t *ls;

    ls = old_cycle->listening.elts;
    for (i = 0; i < old_cycle->listening.nelts; i++) {
        if (ls[i].remain || ls[i].fd == -1) {
            continue;
        }
        close(ls[i].fd);
        ls[i].fd = -1;
    }

    if (old_cycle->open_files.part.elts) {
        part = &old_cycle->open_files.part;
        file = part->elts;
        for (i = 0; /* void */; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                file = part->elts;
                i    = 0;
            }
            if (file[i].fd != ZP_INVALID_FILE && file[i].fd != STDERR_FILENO) {
                close(file[i].fd);
            }
        }
    }

    if (old_cycle->shared_memory.part.elts) {
        part = &old_cycle->shared_memory.part;
        zone = part->elts;
        for (i = 0; /* void */; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                zone = part->elts;
                i    = 0;
            }

            found = 0;
            npart = &cycle->shared_memory.part;
            nzone = npart->elts;
            for (n = 0; /* void */; n++) {
                if (n >= npart->nelts) {
                    if (npart->next == NULL) {
                        break;
                    }
                    npart = npart->next;
                    nzone = npart->elts;
                    n     = 0;
                }
                if (nzone[n].shm.addr == zone[i].shm.addr) {
                    found = 1;
                    break;
                }
            }

            if (!found && zone[i].shm.addr) {
                zp_shm_free(&zone[i].shm);
            }
        }
    }

    if (old_cycle->pool) {
        zp_destroy_pool(old_cycle->pool);
    }
}


zp_shm_zone_t *
zp_shared_memory_add(zp_conf_t *cf, zp_str_t *name, size_t size, void *tag)
{
    zp_uint_t       i;
    zp_shm_zone_t  *shm_zone;
    zp_list_part_t *part;

    part     = &cf->cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part     = part->next;
            shm_zone = part->elts;
            i        = 0;
        }

        if (name->len != shm_zone[i].shm.name.len
            || zp_strncmp(name->data, shm_zone[i].shm.name.data, name->len) != 0) {
            continue;
        }

        if (tag != shm_zone[i].tag) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "the shared memory zone \"%V\" is already declared for a "
                              "different use",
                              &shm_zone[i].shm.name);
            return NULL;
        }

        if (shm_zone[i].shm.size == 0) {
            shm_zone[i].shm.size = size;
        }

        if (size && size != shm_zone[i].shm.size) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                              "the size %uz of shared memory zone \"%V\" conflicts with already "
                              "declared size %uz",
                              size, &shm_zone[i].shm.name, shm_zone[i].shm.size);
            return NULL;
        }

        return &shm_zone[i];
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
    zp_uint_t       i;
    zp_list_part_t *part;
    zp_open_file_t *file;

    part = &cycle->open_files.part;
    file = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            file = part->elts;
            i    = 0;
        }

        if (file[i].name.len == 0) {
            continue;
        }

        if (file[i].flush) {
            file[i].flush(&file[i], cycle->log);
        }

        fd = zp_open_log_file(file[i].name.data);
        if (fd == ZP_INVALID_FILE) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "open() \"%s\" failed",
                         file[i].name.data);
            continue;
        }

        if (user != (uid_t) ZP_CONF_UNSET_UINT && fchown(fd, user, -1) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "chown(\"%s\", %d) failed",
                         file[i].name.data, (int) user);
        }

        if (file[i].fd != ZP_INVALID_FILE && close(file[i].fd) == -1) {
            zp_log_error(ZP_LOG_EMERG, cycle->log, errno, "close() \"%s\" failed",
                         file[i].name.data);
        }

        file[i].fd = fd;
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
