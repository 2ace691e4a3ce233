/*
 * zp_http_log_module.c: the access log.
 *
 *   log_format name [escape=default|json] string ...;
 *   access_log path [format] | off;
 *
 * A format is compiled at config time into literal and variable parts.
 * Each line goes out in one write(2) on an O_APPEND descriptor, so lines
 * of several workers never interleave, and a file renamed by logrotate
 * gets every line up to the moment each worker reopens it on USR1.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#define ZP_HTTP_LOG_LINE_MAX 8192

typedef enum {
    zp_log_lit = 0,
    zp_log_remote_addr,
    zp_log_remote_port,
    zp_log_time_local,
    zp_log_time_iso8601,
    zp_log_request,
    zp_log_status,
    zp_log_body_bytes_sent,
    zp_log_bytes_sent,
    zp_log_http_referer,
    zp_log_http_user_agent,
    zp_log_request_time,
    zp_log_request_method,
    zp_log_request_uri,
    zp_log_uri,
    zp_log_args,
    zp_log_host,
    zp_log_server_protocol,
    zp_log_msec,
    zp_log_pid,
    zp_log_connection,
    zp_log_connection_requests
} zp_http_log_var_e;

typedef struct {
    zp_http_log_var_e var;
    zp_str_t          lit;
} zp_http_log_op_t;

typedef struct {
    zp_str_t   name;
    zp_array_t ops; /* zp_http_log_op_t */
    zp_uint_t  json;
} zp_http_log_fmt_t;

typedef struct {
    zp_array_t formats; /* zp_http_log_fmt_t */
} zp_http_log_main_conf_t;

typedef struct {
    zp_open_file_t    *file; /* NULL: off */
    zp_http_log_fmt_t *format;
    zp_flag_t          set;
} zp_http_log_conf_t;

static const struct {
    zp_str_t          name;
    zp_http_log_var_e var;
} zp_http_log_vars[] = {
    {zp_string("remote_addr"), zp_log_remote_addr},
    {zp_string("remote_port"), zp_log_remote_port},
    {zp_string("time_local"), zp_log_time_local},
    {zp_string("time_iso8601"), zp_log_time_iso8601},
    {zp_string("request"), zp_log_request},
    {zp_string("status"), zp_log_status},
    {zp_string("body_bytes_sent"), zp_log_body_bytes_sent},
    {zp_string("bytes_sent"), zp_log_bytes_sent},
    {zp_string("http_referer"), zp_log_http_referer},
    {zp_string("http_user_agent"), zp_log_http_user_agent},
    {zp_string("request_time"), zp_log_request_time},
    {zp_string("request_method"), zp_log_request_method},
    {zp_string("request_uri"), zp_log_request_uri},
    {zp_string("uri"), zp_log_uri},
    {zp_string("args"), zp_log_args},
    {zp_string("host"), zp_log_host},
    {zp_string("server_protocol"), zp_log_server_protocol},
    {zp_string("msec"), zp_log_msec},
    {zp_string("pid"), zp_log_pid},
    {zp_string("connection_requests"), zp_log_connection_requests},
    {zp_string("connection"), zp_log_connection},
};

static zp_str_t zp_http_combined_fmt =
    zp_string("$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "
              "\"$http_referer\" \"$http_user_agent\"");

static void     *zp_http_log_create_main_conf(zp_conf_t *cf);
static void     *zp_http_log_create_conf(zp_conf_t *cf);
static char     *zp_http_log_merge_conf(zp_conf_t *cf, void *parent, void *child);
static char     *zp_http_log_set_format(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char     *zp_http_log_set_log(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t  zp_http_log_init(zp_conf_t *cf);
static zp_int_t  zp_http_log_compile(zp_conf_t *cf, zp_http_log_fmt_t *fmt, zp_str_t *s);

static zp_command_t zp_http_log_commands[] = {
    {zp_string("log_format"), ZP_HTTP_MAIN_CONF | ZP_CONF_2MORE, zp_http_log_set_format,
     ZP_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {zp_string("access_log"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF
                                  | ZP_CONF_TAKE12,
     zp_http_log_set_log, ZP_HTTP_RTE_CONF_OFFSET, 0, NULL},
    ZP_COMMAND_END};

static zp_http_module_t zp_http_log_module_ctx = {
    NULL,
    zp_http_log_init,
    zp_http_log_create_main_conf,
    NULL,
    NULL,
    NULL,
    zp_http_log_create_conf,
    zp_http_log_merge_conf,
};

zp_module_t zp_http_log_module = {
    .name     = "http_log",
    .ctx      = &zp_http_log_module_ctx,
    .commands = zp_http_log_commands,
    .type     = ZP_HTTP_MODULE,
};


static u_char *
zp_http_log_escape(u_char *p, u_char *last, zp_str_t *s, zp_uint_t json)
{
    size_t  i;
    u_char  ch;
    static const char hex[] = "0123456789ABCDEF";

    for (i = 0; i < s->len && p < last; i++) {
        ch = s->data[i];

        if (json) {
            if (ch == '"' || ch == '\\') {
                if (last - p < 2) break;
                *p++ = '\\';
                *p++ = ch;
            } else if (ch < 0x20) {
                if (last - p < 6) break;
                p = zp_cpymem(p, "\\u00", 4);
                *p++ = hex[ch >> 4];
                *p++ = hex[ch & 0xf];
            } else {
                *p++ = ch;
            }
            continue;
        }

        /* as nginx: '"', '\' and non-printable bytes become \xHH */
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f) {
            if (last - p < 4) break;
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];
        } else {
            *p++ = ch;
        }
    }

    return p;
}


static u_char *
zp_http_log_str(u_char *p, u_char *last, zp_str_t *s, zp_uint_t json)
{
    if (s->len == 0) {
        return json ? p : zp_slprintf(p, last, "-");
    }
    return zp_http_log_escape(p, last, s, json);
}


static zp_int_t
zp_http_log_handler(zp_http_request_t *r)
{
    u_char              line[ZP_HTTP_LOG_LINE_MAX], *p, *last;
    u_char              addr[ZP_SOCKADDR_STRLEN];
    zp_uint_t           i;
    zp_str_t            s;
    zp_msec_t           ms;
    zp_http_log_op_t   *op;
    zp_http_log_conf_t *lcf;
    zp_connection_t    *c = r->connection;

    lcf = zp_http_get_module_rte_conf(r, zp_http_log_module);

    if (lcf->file == NULL || lcf->file->fd == ZP_INVALID_FILE) {
        return ZP_OK;
    }

    p    = line;
    last = line + sizeof(line) - 1;
    op   = lcf->format->ops.elts;

    for (i = 0; i < lcf->format->ops.nelts; i++) {
        switch (op[i].var) {
        case zp_log_lit:
            p = zp_slprintf(p, last, "%V", &op[i].lit);
            break;
        case zp_log_remote_addr:
            s.data = addr;
            s.len  = zp_sock_ntop(&c->sockaddr.sa, c->socklen, addr, sizeof(addr), 0);
            p      = zp_slprintf(p, last, "%V", &s);
            break;
        case zp_log_remote_port:
            p = zp_slprintf(p, last, "%d",
                            ntohs(c->sockaddr.sa.sa_family == AF_INET6 ? c->sockaddr.sin6.sin6_port
                                                                       : c->sockaddr.sin.sin_port));
            break;
        case zp_log_time_local:
            p = zp_slprintf(p, last, "%V", &zp_cached_http_log_time);
            break;
        case zp_log_time_iso8601:
            p = zp_slprintf(p, last, "%V", &zp_cached_http_log_iso8601);
            break;
        case zp_log_request:
            p = zp_http_log_str(p, last, &r->request_line, lcf->format->json);
            break;
        case zp_log_status:
            p = zp_slprintf(p, last, "%03ui", r->status);
            break;
        case zp_log_body_bytes_sent:
            p = zp_slprintf(p, last, "%O", r->body_bytes_sent);
            break;
        case zp_log_bytes_sent:
            p = zp_slprintf(p, last, "%O", c->sent);
            break;
        case zp_log_http_referer:
            p = zp_http_log_str(p, last, &r->referer, lcf->format->json);
            break;
        case zp_log_http_user_agent:
            p = zp_http_log_str(p, last, &r->user_agent, lcf->format->json);
            break;
        case zp_log_request_time:
            ms = zp_current_msec - r->start_msec;
            p  = zp_slprintf(p, last, "%M.%03M", ms / 1000, ms % 1000);
            break;
        case zp_log_request_method:
            p = zp_http_log_str(p, last, &r->method_name, lcf->format->json);
            break;
        case zp_log_request_uri:
            s.data = r->uri.data;
            s.len  = r->args.len ? (size_t) (r->args.data + r->args.len - r->uri.data)
                                 : r->uri.len;
            p = zp_http_log_str(p, last, &s, lcf->format->json);
            break;
        case zp_log_uri:
            p = zp_http_log_str(p, last, &r->uri, lcf->format->json);
            break;
        case zp_log_args:
            p = zp_http_log_str(p, last, &r->args, lcf->format->json);
            break;
        case zp_log_host:
            p = zp_http_log_str(p, last, &r->host, lcf->format->json);
            break;
        case zp_log_server_protocol:
            p = zp_http_log_str(p, last, &r->http_protocol, lcf->format->json);
            break;
        case zp_log_msec:
            p = zp_slprintf(p, last, "%T.%03ui", zp_cached_time->sec, zp_cached_time->msec);
            break;
        case zp_log_pid:
            p = zp_slprintf(p, last, "%P", zp_pid);
            break;
        case zp_log_connection:
            p = zp_slprintf(p, last, "%ui", c->number);
            break;
        case zp_log_connection_requests:
            p = zp_slprintf(p, last, "%ui", c->requests);
            break;
        }
    }

    *p++ = LF;

    if (zp_write_fd(lcf->file->fd, line, p - line) != p - line) {
        zp_log_error(ZP_LOG_ALERT, c->log, errno, "write() to \"%V\" failed", &lcf->file->name);
    }

    return ZP_OK;
}


static zp_int_t
zp_http_log_compile(zp_conf_t *cf, zp_http_log_fmt_t *fmt, zp_str_t *s)
{
    u_char           *p, *last, *start;
    zp_uint_t         i;
    zp_http_log_op_t *op;

    p    = s->data;
    last = s->data + s->len;

    while (p < last) {
        op = zp_array_push(&fmt->ops);
        if (op == NULL) {
            return ZP_ERROR;
        }
        op->var = zp_log_lit;

        if (*p != '$') {
            start = p;
            while (p < last && *p != '$') {
                p++;
            }
            op->lit.data = start;
            op->lit.len  = p - start;
            continue;
        }

        p++;
        start = p;
        if (p < last && *p == '{') {
            start = ++p;
            while (p < last && *p != '}') {
                p++;
            }
            if (p == last) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "the closing bracket in \"%V\" is missing",
                                  s);
                return ZP_ERROR;
            }
        } else {
            while (p < last && (isalnum(*p) || *p == '_')) {
                p++;
            }
        }

        for (i = 0; i < zp_nelems(zp_http_log_vars); i++) {
            if ((size_t) (p - start) == zp_http_log_vars[i].name.len
                && zp_strncmp(start, zp_http_log_vars[i].name.data, p - start) == 0) {
                op->var = zp_http_log_vars[i].var;
                break;
            }
        }

        if (i == zp_nelems(zp_http_log_vars)) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown variable \"%*s\" in log format",
                              p - start, start);
            return ZP_ERROR;
        }

        if (p < last && *p == '}') {
            p++;
        }
    }

    return ZP_OK;
}


static void *
zp_http_log_create_main_conf(zp_conf_t *cf)
{
    zp_http_log_main_conf_t *lmcf = zp_pcalloc(cf->pool, sizeof(zp_http_log_main_conf_t));
    zp_http_log_fmt_t       *fmt;

    if (lmcf == NULL
        || zp_array_init(&lmcf->formats, cf->pool, 4, sizeof(zp_http_log_fmt_t)) != ZP_OK) {
        return NULL;
    }

    fmt = zp_array_push(&lmcf->formats);
    if (fmt == NULL) {
        return NULL;
    }
    zp_memzero(fmt, sizeof(zp_http_log_fmt_t));
    fmt->name.data = (u_char *) "combined";
    fmt->name.len  = sizeof("combined") - 1;

    if (zp_array_init(&fmt->ops, cf->pool, 16, sizeof(zp_http_log_op_t)) != ZP_OK
        || zp_http_log_compile(cf, fmt, &zp_http_combined_fmt) != ZP_OK) {
        return NULL;
    }

    return lmcf;
}


static void *
zp_http_log_create_conf(zp_conf_t *cf)
{
    zp_http_log_conf_t *lcf = zp_pcalloc(cf->pool, sizeof(zp_http_log_conf_t));

    if (lcf == NULL) {
        return NULL;
    }
    lcf->set = ZP_CONF_UNSET;
    return lcf;
}


static char *
zp_http_log_merge_conf(zp_conf_t *cf, void *parent, void *child)
{
    zp_http_log_conf_t      *prev = parent, *conf = child;
    zp_http_log_main_conf_t *lmcf;
    zp_str_t                 def = zp_string(ZP_HTTP_LOG_PATH);

    if (conf->set != ZP_CONF_UNSET) {
        return ZP_CONF_OK;
    }

    if (prev->set != ZP_CONF_UNSET) {
        *conf = *prev;
        return ZP_CONF_OK;
    }

    /* nothing said anywhere: logs/access.log in combined, as nginx does */
    lmcf         = zp_http_conf_get_module_main_conf(cf, zp_http_log_module);
    conf->format = lmcf->formats.elts;
    conf->file   = zp_conf_open_file(cf->cycle, &def);
    conf->set    = 1;
    *prev        = *conf;

    return conf->file ? ZP_CONF_OK : ZP_CONF_ERROR;
}


static char *
zp_http_log_set_format(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_log_main_conf_t *lmcf  = conf;
    zp_str_t                *value = cf->args->elts;
    zp_uint_t                i, first;
    zp_http_log_fmt_t       *fmt;

    (void) cmd;

    fmt = lmcf->formats.elts;
    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (fmt[i].name.len == value[1].len
            && zp_strcmp(fmt[i].name.data, value[1].data) == 0) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate \"log_format\" name \"%V\"",
                              &value[1]);
            return ZP_CONF_ERROR;
        }
    }

    fmt = zp_array_push(&lmcf->formats);
    if (fmt == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_memzero(fmt, sizeof(zp_http_log_fmt_t));
    fmt->name = value[1];

    if (zp_array_init(&fmt->ops, cf->pool, 16, sizeof(zp_http_log_op_t)) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    first = 2;
    if (zp_strncmp(value[2].data, "escape=", 7) == 0) {
        if (zp_strcmp(value[2].data + 7, "json") == 0) {
            fmt->json = 1;
        } else if (zp_strcmp(value[2].data + 7, "default") != 0) {
            return zp_conf_invalid_value(cf, 2);
        }
        first = 3;
    }

    if (first >= cf->args->nelts) {
        return "needs a format string";
    }

    for (i = first; i < cf->args->nelts; i++) {
        if (zp_http_log_compile(cf, fmt, &value[i]) != ZP_OK) {
            return ZP_CONF_ERROR;
        }
    }

    return ZP_CONF_OK;
}


static char *
zp_http_log_set_log(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_log_conf_t      *lcf   = conf;
    zp_str_t                *value = cf->args->elts;
    zp_uint_t                i;
    zp_http_log_fmt_t       *fmt;
    zp_http_log_main_conf_t *lmcf;

    (void) cmd;

    if (lcf->set != ZP_CONF_UNSET) {
        return "is duplicate";
    }
    lcf->set = 1;

    if (zp_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return zp_conf_invalid_value(cf, 2);
        }
        lcf->file = NULL;
        return ZP_CONF_OK;
    }

    lcf->file = zp_conf_open_file(cf->cycle, &value[1]);
    if (lcf->file == NULL) {
        return ZP_CONF_ERROR;
    }

    lmcf = zp_http_conf_get_module_main_conf(cf, zp_http_log_module);
    fmt  = lmcf->formats.elts;

    if (cf->args->nelts == 2) {
        lcf->format = &fmt[0];
        return ZP_CONF_OK;
    }

    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (fmt[i].name.len == value[2].len && zp_strcmp(fmt[i].name.data, value[2].data) == 0) {
            lcf->format = &fmt[i];
            return ZP_CONF_OK;
        }
    }

    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown log format \"%V\"", &value[2]);
    return ZP_CONF_ERROR;
}


static zp_int_t
zp_http_log_init(zp_conf_t *cf)
{
    return zp_http_add_handler(cf, ZP_HTTP_LOG_PHASE, zp_http_log_handler);
}
