/*
 * zp_core_module.c: the main-context directives (core) and error_log.
 */
#include <zp_config.h>
#include <zp_core.h>

static void *zp_core_module_create_conf(zp_cycle_t *cycle);
static char *zp_core_module_init_conf(zp_cycle_t *cycle, void *conf);
static char *zp_set_worker_processes(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_set_cpu_affinity(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_set_user(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_error_log(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char *zp_errlog_init_conf(zp_cycle_t *cycle, void *conf);

static zp_command_t zp_core_commands[] = {
    {zp_string("daemon"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_FLAG, zp_conf_set_flag_slot, 0,
     offsetof(zp_core_conf_t, daemon), NULL},
    {zp_string("worker_processes"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE1,
     zp_set_worker_processes, 0, 0, NULL},
    {zp_string("worker_cpu_affinity"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_1MORE,
     zp_set_cpu_affinity, 0, 0, NULL},
    {zp_string("worker_numa"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_FLAG,
     zp_conf_set_flag_slot, 0, offsetof(zp_core_conf_t, numa), NULL},
    {zp_string("worker_rlimit_nofile"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE1,
     zp_conf_set_num_slot, 0, offsetof(zp_core_conf_t, rlimit_nofile), NULL},
    {zp_string("worker_shutdown_timeout"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, 0, offsetof(zp_core_conf_t, shutdown_timeout), NULL},
    {zp_string("worker_drain_idle"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE1,
     zp_conf_set_msec_slot, 0, offsetof(zp_core_conf_t, drain_idle), NULL},
    {zp_string("pid"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE1, zp_conf_set_str_slot, 0,
     offsetof(zp_core_conf_t, pid), NULL},
    {zp_string("user"), ZP_MAIN_CONF | ZP_DIRECT_CONF | ZP_CONF_TAKE12, zp_set_user, 0, 0, NULL},
    ZP_COMMAND_END};

static zp_core_module_t zp_core_module_ctx = {
    zp_string("core"),
    zp_core_module_create_conf,
    zp_core_module_init_conf,
};

zp_module_t zp_core_module = {
    .name     = "core",
    .ctx      = &zp_core_module_ctx,
    .commands = zp_core_commands,
    .type     = ZP_CORE_MODULE,
};

static zp_command_t zp_errlog_commands[] = {
    {zp_string("error_log"), ZP_MAIN_CONF | ZP_CONF_1MORE, zp_error_log, 0, 0, NULL},
    ZP_COMMAND_END};

static zp_core_module_t zp_errlog_module_ctx = {
    zp_string("errlog"),
    NULL,
    zp_errlog_init_conf,
};

zp_module_t zp_errlog_module = {
    .name     = "errlog",
    .ctx      = &zp_errlog_module_ctx,
    .commands = zp_errlog_commands,
    .type     = ZP_CORE_MODULE,
};


static void *
zp_core_module_create_conf(zp_cycle_t *cycle)
{
    zp_core_conf_t *ccf = zp_pcalloc(cycle->pool, sizeof(zp_core_conf_t));

    if (ccf == NULL) {
        return NULL;
    }

    ccf->daemon           = ZP_CONF_UNSET;
    ccf->worker_processes = ZP_CONF_UNSET;
    ccf->shutdown_timeout = ZP_CONF_UNSET_MSEC;
    ccf->drain_idle       = ZP_CONF_UNSET_MSEC;
    ccf->rlimit_nofile    = ZP_CONF_UNSET;
    ccf->numa             = ZP_CONF_UNSET;
    ccf->user             = (uid_t) ZP_CONF_UNSET_UINT;
    ccf->group            = (gid_t) ZP_CONF_UNSET_UINT;

    return ccf;
}


static char *
zp_core_module_init_conf(zp_cycle_t *cycle, void *conf)
{
    zp_core_conf_t *ccf = conf;
    zp_str_t        def = zp_string(ZP_PID_PATH);

    zp_conf_init_value(ccf->daemon, 1);
    zp_conf_init_value(ccf->worker_processes, 1);
    zp_conf_init_msec_value(ccf->shutdown_timeout, 0);
    zp_conf_init_msec_value(ccf->drain_idle, 1000);
    zp_conf_init_value(ccf->numa, 1);

    if (ccf->pid.len == 0) {
        ccf->pid = def;
    }

    if (zp_conf_full_name(cycle, &ccf->pid, 0) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    ccf->oldpid.len  = ccf->pid.len + sizeof(".oldbin") - 1;
    ccf->oldpid.data = zp_pnalloc(cycle->pool, ccf->oldpid.len + 1);
    if (ccf->oldpid.data == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_sprintf(ccf->oldpid.data, "%V.oldbin%Z", &ccf->pid);

    return ZP_CONF_OK;
}


static char *
zp_set_worker_processes(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_core_conf_t *ccf   = conf;
    zp_str_t       *value = cf->args->elts;
    long            ncpu;

    (void) cmd;

    if (ccf->worker_processes != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    if (zp_strcmp(value[1].data, "auto") == 0) {
        ncpu                  = sysconf(_SC_NPROCESSORS_ONLN);
        ccf->worker_processes = ncpu > 0 ? ncpu : 1;
        return ZP_CONF_OK;
    }

    ccf->worker_processes = zp_atoi(value[1].data, value[1].len);
    if (ccf->worker_processes == ZP_ERROR || ccf->worker_processes < 1
        || ccf->worker_processes > ZP_MAX_PROCESSES / 2) {
        return zp_conf_invalid_value(cf, 1);
    }

    return ZP_CONF_OK;
}


/* A mask is written as in nginx: binary digits, the rightmost is CPU 0. */
static zp_int_t
zp_parse_cpu_mask(zp_str_t *s, cpu_set_t *mask)
{
    zp_uint_t i, cpu;

    CPU_ZERO(mask);

    if (s->len == 0 || s->len > CPU_SETSIZE) {
        return ZP_ERROR;
    }

    for (i = 0, cpu = s->len - 1; i < s->len; i++, cpu--) {
        if (s->data[i] == '1') {
            CPU_SET(cpu, mask);
        } else if (s->data[i] != '0') {
            return ZP_ERROR;
        }
    }

    return CPU_COUNT(mask) ? ZP_OK : ZP_ERROR;
}


static char *
zp_set_cpu_affinity(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_core_conf_t *ccf   = conf;
    zp_str_t       *value = cf->args->elts;
    zp_uint_t       i, first = 1;

    (void) cmd;

    if (ccf->cpu_affinity || ccf->cpu_affinity_auto) {
        return "is duplicate";
    }

    if (zp_strcmp(value[1].data, "auto") == 0) {
        if (cf->args->nelts > 3) {
            return "has too many parameters";
        }
        ccf->cpu_affinity_auto = 1;
        first                  = 2;
    }

    if (cf->args->nelts == first) {
        return ZP_CONF_OK;
    }

    ccf->cpu_affinity_n = cf->args->nelts - first;
    ccf->cpu_affinity   = zp_palloc(cf->pool, ccf->cpu_affinity_n * sizeof(cpu_set_t));
    if (ccf->cpu_affinity == NULL) {
        return ZP_CONF_ERROR;
    }

    for (i = first; i < cf->args->nelts; i++) {
        if (zp_parse_cpu_mask(&value[i], &ccf->cpu_affinity[i - first]) != ZP_OK) {
            return zp_conf_invalid_value(cf, i);
        }
    }

    return ZP_CONF_OK;
}


static char *
zp_set_user(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_core_conf_t *ccf   = conf;
    zp_str_t       *value = cf->args->elts;
    struct passwd  *pwd;
    struct group   *grp;
    const char     *group;

    (void) cmd;

    if (ccf->user != (uid_t) ZP_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (geteuid() != 0) {
        zp_conf_log_error(ZP_LOG_WARN, cf, 0,
                          "the \"user\" directive makes sense only if the master process runs "
                          "with super-user privileges, ignored");
        return ZP_CONF_OK;
    }

    ccf->username = (char *) value[1].data;

    errno = 0;
    pwd   = getpwnam((const char *) value[1].data);
    if (pwd == NULL) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, errno, "getpwnam(\"%s\") failed", value[1].data);
        return ZP_CONF_ERROR;
    }
    ccf->user = pwd->pw_uid;

    group = cf->args->nelts == 2 ? NULL : (const char *) value[2].data;
    if (group == NULL) {
        ccf->group = pwd->pw_gid;
        return ZP_CONF_OK;
    }

    errno = 0;
    grp   = getgrnam(group);
    if (grp == NULL) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, errno, "getgrnam(\"%s\") failed", group);
        return ZP_CONF_ERROR;
    }
    ccf->group = grp->gr_gid;

    return ZP_CONF_OK;
}


static char *
zp_error_log(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_log_t  *log, *last;
    zp_str_t  *value = cf->args->elts;
    zp_uint_t  i, level;

    (void) cmd;
    (void) conf;

    if (cf->cycle->new_log.file == NULL) {
        log = &cf->cycle->new_log;
    } else {
        log = zp_pcalloc(cf->pool, sizeof(zp_log_t));
        if (log == NULL) {
            return ZP_CONF_ERROR;
        }
        for (last = &cf->cycle->new_log; last->next; last = last->next) { /* void */ }
        last->next = log;
    }

    log->file = zp_conf_open_file(cf->cycle, &value[1]);
    if (log->file == NULL) {
        return ZP_CONF_ERROR;
    }

    log->log_level = ZP_LOG_ERR;

    for (i = 2; i < cf->args->nelts; i++) {
        if (zp_log_parse_level(&value[i], &level) != ZP_OK) {
            return zp_conf_invalid_value(cf, i);
        }
        if (i > 2 && (level & 0xf) != ZP_LOG_DEBUG) {
            return zp_conf_invalid_value(cf, i);
        }
        log->log_level = (i == 2) ? level : (log->log_level | level);
    }

    return ZP_CONF_OK;
}


static char *
zp_errlog_init_conf(zp_cycle_t *cycle, void *conf)
{
    zp_str_t def = zp_string(ZP_ERROR_LOG_PATH);

    (void) conf;

    if (cycle->new_log.file == NULL) {
        cycle->new_log.file = zp_conf_open_file(cycle, &def);
        if (cycle->new_log.file == NULL) {
            return ZP_CONF_ERROR;
        }
        cycle->new_log.log_level = ZP_LOG_ERR;
    }

    return ZP_CONF_OK;
}
