/*
 * zp_http_log_module.c: the access log.
 *
 *   log_format name [escape=default|json|none] string ...;
 *   access_log path [format [buffer=size [flush=time]]] | off;
 *
 * A format is a string with variables, compiled once; values are escaped
 * as the format says, literals are written as they are.
 *
 * Without buffer=, each line goes out in one write(2) on an O_APPEND
 * descriptor, so lines of several workers never interleave. With it,
 * lines collect in a per-worker buffer written when full, after flush=
 * time, before a USR1 reopen and when the worker exits: logrotate still
 * loses nothing, since every line is written to the file it was meant for
 * before the reopen.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#define ZP_HTTP_LOG_LINE_MAX 8192

enum { zp_log_escape_default = 0, zp_log_escape_json, zp_log_escape_none };

typedef struct {
    zp_str_t                name;
    zp_http_complex_value_t value;
    zp_uint_t               escape;
} zp_http_log_fmt_t;

typedef struct {
    zp_array_t formats; /* zp_http_log_fmt_t */
} zp_http_log_main_conf_t;

/* a buffered log file, per worker: lives in the open file's data */
typedef struct {
    u_char     *start;
    u_char     *pos;
    u_char     *end;
    zp_msec_t   flush;
    zp_event_t *event;
} zp_http_log_buf_t;

typedef struct {
    zp_open_file_t    *file; /* NULL: off */
    zp_http_log_fmt_t *format;
    zp_flag_t          set;
} zp_http_log_conf_t;

static zp_str_t zp_http_combined_fmt =
    zp_string("$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "
              "\"$http_referer\" \"$http_user_agent\"");

static void     *zp_http_log_create_main_conf(zp_conf_t *cf);
static void     *zp_http_log_create_conf(zp_conf_t *cf);
static char     *zp_http_log_merge_conf(zp_conf_t *cf, void *parent, void *child);
static char     *zp_http_log_set_format(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static char     *zp_http_log_set_log(zp_conf_t *cf, zp_command_t *cmd, void *conf);
static zp_int_t  zp_http_log_init(zp_conf_t *cf);
static void      zp_http_log_flush(zp_open_file_t *file, zp_log_t *log);
static void      zp_http_log_exit_process(zp_cycle_t *cycle);

static zp_command_t zp_http_log_commands[] = {
    {zp_string("log_format"), ZP_HTTP_MAIN_CONF | ZP_CONF_2MORE, zp_http_log_set_format,
     ZP_HTTP_MAIN_CONF_OFFSET, 0, NULL},
    {zp_string("access_log"), ZP_HTTP_MAIN_CONF | ZP_HTTP_SRV_CONF | ZP_HTTP_RTE_CONF
                                  | ZP_CONF_TAKE1234,
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
    .name         = "http_log",
    .ctx          = &zp_http_log_module_ctx,
    .commands     = zp_http_log_commands,
    .type         = ZP_HTTP_MODULE,
    .exit_process = zp_http_log_exit_process,
};


static u_char *
zp_http_log_escape(u_char *p, u_char *last, u_char *s, size_t len, zp_uint_t escape)
{
    size_t  i;
    u_char  ch;
    static const char hex[] = "0123456789ABCDEF";

    if (escape == zp_log_escape_none) {
        len = zp_min(len, (size_t) (last - p));
        return zp_cpymem(p, s, len);
    }

    for (i = 0; i < len && p < last; i++) {
        ch = s[i];

        if (escape == zp_log_escape_json) {
            if (ch == '"' || ch == '\\') {
                if (last - p < 2) break;
                *p++ = '\\';
                *p++ = ch;
            } else if (ch < 0x20) {
                if (last - p < 6) break;
                p    = zp_cpymem(p, "\\u00", 4);
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


static void
zp_http_log_write(zp_http_request_t *r, zp_open_file_t *file, u_char *line, size_t len)
{
    zp_http_log_buf_t *buf = file->data;

    if (buf) {
        if ((size_t) (buf->end - buf->pos) < len) {
            zp_http_log_flush(file, r->connection->log);
        }

        if ((size_t) (buf->end - buf->pos) >= len) {
            if (buf->pos == buf->start && buf->event && !buf->event->timer_set) {
                zp_event_add_timer(buf->event, buf->flush);
            }
            buf->pos = zp_cpymem(buf->pos, line, len);
            return;
        }
    }

    if (zp_write_fd(file->fd, line, len) != (ssize_t) len) {
        zp_log_error(ZP_LOG_ALERT, r->connection->log, errno, "write() to \"%V\" failed",
                     &file->name);
    }
}


static zp_int_t
zp_http_log_handler(zp_http_request_t *r)
{
    u_char                    line[ZP_HTTP_LOG_LINE_MAX], *p, *last;
    zp_uint_t                 i;
    zp_http_log_conf_t       *lcf;
    zp_http_log_fmt_t        *fmt;
    zp_http_cv_part_t        *part;
    zp_http_variable_value_t *v;

    lcf = zp_http_get_module_rte_conf(r, zp_http_log_module);

    if (lcf->file == NULL || lcf->file->fd == ZP_INVALID_FILE) {
        return ZP_OK;
    }

    fmt  = lcf->format;
    p    = line;
    last = line + sizeof(line) - 1;

    if (fmt->value.simple) {
        p = zp_cpymem(p, fmt->value.raw.data, zp_min(fmt->value.raw.len, sizeof(line) - 1));
    }

    for (i = 0; i < fmt->value.nparts; i++) {
        part = &fmt->value.parts[i];

        if (part->index < 0) {
            p = zp_http_log_escape(p, last, part->lit.data, part->lit.len, zp_log_escape_none);
            continue;
        }

        v = zp_http_get_indexed_variable(r, (zp_uint_t) part->index);

        if (v == NULL || v->not_found || v->len == 0) {
            /* an empty value is "-" in the default escaping, as nginx */
            if (fmt->escape == zp_log_escape_default && p < last) {
                *p++ = '-';
            }
            continue;
        }

        p = zp_http_log_escape(p, last, v->data, v->len, fmt->escape);
    }

    *p++ = LF;

    zp_http_log_write(r, lcf->file, line, p - line);
    return ZP_OK;
}


static void
zp_http_log_flush(zp_open_file_t *file, zp_log_t *log)
{
    size_t             len;
    zp_http_log_buf_t *buf = file->data;

    if (buf == NULL || buf->pos == buf->start || file->fd == ZP_INVALID_FILE) {
        return;
    }

    len = buf->pos - buf->start;
    if (zp_write_fd(file->fd, buf->start, len) != (ssize_t) len) {
        zp_log_error(ZP_LOG_ALERT, log, errno, "write() to \"%V\" failed", &file->name);
    }

    buf->pos = buf->start;

    if (buf->event && buf->event->timer_set) {
        zp_event_del_timer(buf->event);
    }
}


static void
zp_http_log_flush_handler(zp_event_t *ev)
{
    zp_http_log_flush(ev->data, ev->log);
}


static void
zp_http_log_exit_process(zp_cycle_t *cycle)
{
    zp_list_iter_t  it = {NULL, 0};
    zp_open_file_t *file;

    while ((file = zp_list_next(&cycle->open_files, &it))) {
        if (file->flush) {
            file->flush(file, cycle->log);
        }
    }
}


static void *
zp_http_log_create_main_conf(zp_conf_t *cf)
{
    zp_http_log_main_conf_t *lmcf = zp_pcalloc(cf->pool, sizeof(zp_http_log_main_conf_t));

    if (lmcf == NULL
        || zp_array_init(&lmcf->formats, cf->pool, 4, sizeof(zp_http_log_fmt_t)) != ZP_OK) {
        return NULL;
    }

    return lmcf;
}


static zp_int_t
zp_http_log_init(zp_conf_t *cf)
{
    return zp_http_add_handler(cf, ZP_HTTP_LOG_PHASE, zp_http_log_handler);
}


static zp_http_log_fmt_t *
zp_http_log_find_format(zp_conf_t *cf, zp_str_t *name)
{
    zp_uint_t                i;
    zp_http_log_fmt_t       *fmt;
    zp_http_log_main_conf_t *lmcf;

    lmcf = zp_http_conf_get_module_main_conf(cf, zp_http_log_module);
    fmt  = lmcf->formats.elts;

    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (fmt[i].name.len == name->len && zp_strncmp(fmt[i].name.data, name->data, name->len) == 0) {
            return &fmt[i];
        }
    }

    /* "combined" is compiled when first used: the variables it names are
     * only defined once the http block has started */
    if (name->len == 8 && zp_strncmp(name->data, "combined", 8) == 0) {
        fmt = zp_array_push(&lmcf->formats);
        if (fmt == NULL) {
            return NULL;
        }
        zp_memzero(fmt, sizeof(zp_http_log_fmt_t));
        fmt->name = *name;
        if (zp_http_compile_complex_value(cf, &zp_http_combined_fmt, &fmt->value) != ZP_OK) {
            return NULL;
        }
        return fmt;
    }

    return NULL;
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
    zp_http_log_conf_t *prev = parent, *conf = child;
    zp_str_t            def  = zp_string(ZP_HTTP_LOG_PATH);
    zp_str_t            name = zp_string("combined");

    if (conf->set != ZP_CONF_UNSET) {
        return ZP_CONF_OK;
    }

    if (prev->set != ZP_CONF_UNSET) {
        *conf = *prev;
        return ZP_CONF_OK;
    }

    /* nothing said anywhere: logs/access.log in combined, as nginx does */
    conf->format = zp_http_log_find_format(cf, &name);
    conf->file   = zp_conf_open_file(cf->cycle, &def);
    conf->set    = 1;
    *prev        = *conf;

    return (conf->file && conf->format) ? ZP_CONF_OK : ZP_CONF_ERROR;
}


static char *
zp_http_log_set_format(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    u_char                  *p;
    size_t                   len;
    zp_str_t                *value = cf->args->elts, text;
    zp_uint_t                i, first;
    zp_http_log_fmt_t       *fmt;
    zp_http_log_main_conf_t *lmcf = conf;

    (void) cmd;

    if (zp_http_log_find_format(cf, &value[1])) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "duplicate \"log_format\" name \"%V\"", &value[1]);
        return ZP_CONF_ERROR;
    }

    fmt = zp_array_push(&lmcf->formats);
    if (fmt == NULL) {
        return ZP_CONF_ERROR;
    }
    zp_memzero(fmt, sizeof(zp_http_log_fmt_t));
    fmt->name = value[1];

    first = 2;
    if (zp_strncmp(value[2].data, "escape=", 7) == 0) {
        if (zp_strcmp(value[2].data + 7, "json") == 0) {
            fmt->escape = zp_log_escape_json;
        } else if (zp_strcmp(value[2].data + 7, "none") == 0) {
            fmt->escape = zp_log_escape_none;
        } else if (zp_strcmp(value[2].data + 7, "default") != 0) {
            return zp_conf_invalid_value(cf, 2);
        }
        first = 3;
    }

    if (first >= cf->args->nelts) {
        return "needs a format string";
    }

    /* several strings are one format, as nginx writes long formats */
    for (len = 0, i = first; i < cf->args->nelts; i++) {
        len += value[i].len;
    }

    text.data = zp_pnalloc(cf->pool, len);
    if (text.data == NULL) {
        return ZP_CONF_ERROR;
    }
    for (p = text.data, i = first; i < cf->args->nelts; i++) {
        p = zp_cpymem(p, value[i].data, value[i].len);
    }
    text.len = len;

    return zp_http_compile_complex_value(cf, &text, &fmt->value) == ZP_OK ? ZP_CONF_OK
                                                                         : ZP_CONF_ERROR;
}


static char *
zp_http_log_set_log(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_http_log_conf_t *lcf   = conf;
    zp_str_t           *value = cf->args->elts, name, s;
    zp_uint_t           i;
    ssize_t             size = 0;
    zp_int_t            flush = 0;
    zp_http_log_buf_t  *buf;

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

    zp_str_set(&name, "combined");
    i = 2;

    if (cf->args->nelts > 2 && zp_strchr(value[2].data, '=') == NULL) {
        name = value[2];
        i    = 3;
    }

    lcf->format = zp_http_log_find_format(cf, &name);
    if (lcf->format == NULL) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown log format \"%V\"", &name);
        return ZP_CONF_ERROR;
    }

    for (; i < cf->args->nelts; i++) {
        if (zp_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len  = value[i].len - 7;
            size   = zp_parse_size(&s);
            if (size == ZP_ERROR || size < ZP_HTTP_LOG_LINE_MAX) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                  "invalid buffer size \"%V\": at least 8k is needed", &s);
                return ZP_CONF_ERROR;
            }
        } else if (zp_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len  = value[i].len - 6;
            flush  = zp_parse_time(&s, 0);
            if (flush == ZP_ERROR || flush == 0) {
                return zp_conf_invalid_value(cf, i);
            }
        } else {
            return zp_conf_invalid_value(cf, i);
        }
    }

    if (flush && !size) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "flush= needs buffer=");
        return ZP_CONF_ERROR;
    }

    if (!size) {
        return ZP_CONF_OK;
    }

    if (lcf->file->data) {
        /* one buffer per file, whatever number of access_log lines */
        return ZP_CONF_OK;
    }

    buf = zp_pcalloc(cf->pool, sizeof(zp_http_log_buf_t));
    if (buf == NULL) {
        return ZP_CONF_ERROR;
    }

    buf->start = zp_pnalloc(cf->pool, size);
    if (buf->start == NULL) {
        return ZP_CONF_ERROR;
    }
    buf->pos   = buf->start;
    buf->end   = buf->start + size;
    buf->flush = flush ? (zp_msec_t) flush : 1000;

    buf->event = zp_pcalloc(cf->pool, sizeof(zp_event_t));
    if (buf->event == NULL) {
        return ZP_CONF_ERROR;
    }
    buf->event->data       = lcf->file;
    buf->event->handler    = zp_http_log_flush_handler;
    buf->event->log        = &cf->cycle->new_log;
    buf->event->cancelable = 1;

    lcf->file->data  = buf;
    lcf->file->flush = zp_http_log_flush;

    return ZP_CONF_OK;
}
