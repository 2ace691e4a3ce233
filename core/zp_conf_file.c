/*
 * zp_conf_file.c: the directive language reader.
 *
 * A file is read whole (configs are small) and tokenized in place; every
 * directive is dispatched to the module that declares it. Errors are
 * logged as "file:line: message" and parsing stops at the first one.
 */
#include <zp_config.h>
#include <zp_core.h>

#define ZP_CONF_MAX_FILE_SIZE (16 * 1024 * 1024)
#define ZP_CONF_MAX_INCLUDE_DEPTH 32
#define ZP_CONF_MAX_WORD 4096

enum { zp_parse_file = 0, zp_parse_block, zp_parse_param };

static zp_int_t zp_conf_read_token(zp_conf_t *cf);
static zp_int_t zp_conf_handler(zp_conf_t *cf, zp_int_t last);

static zp_command_t zp_conf_commands[] = {
    {zp_string("include"), ZP_ANY_CONF | ZP_CONF_TAKE1, zp_conf_include, 0, 0, NULL},
    ZP_COMMAND_END};

/* "include" is valid in every context, so it is a module of its own type
 * that the handler never skips. */
zp_module_t zp_conf_module = {
    .name     = "conf",
    .commands = zp_conf_commands,
    .type     = ZP_CONF_MODULE,
};


static zp_int_t
zp_conf_read_file(zp_conf_t *cf, zp_str_t *filename, zp_buf_t *b)
{
    struct stat st;
    zp_fd_t     fd;
    ssize_t     n;
    size_t      size;

    fd = open((char *) filename->data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, errno, "open() \"%s\" failed", filename->data);
        return ZP_ERROR;
    }

    if (fstat(fd, &st) == -1) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, errno, "fstat() \"%s\" failed", filename->data);
        goto failed;
    }

    if (!S_ISREG(st.st_mode)) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"%s\" is not a regular file", filename->data);
        goto failed;
    }

    if (st.st_size > ZP_CONF_MAX_FILE_SIZE) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"%s\" is too large", filename->data);
        goto failed;
    }

    size     = (size_t) st.st_size;
    b->start = zp_pnalloc(cf->temp_pool, size + 1);
    if (b->start == NULL) {
        goto failed;
    }

    b->pos = b->last = b->start;
    b->end           = b->start + size;

    while (b->last < b->end) {
        n = read(fd, b->last, b->end - b->last);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            zp_conf_log_error(ZP_LOG_EMERG, cf, errno, "read() \"%s\" failed", filename->data);
            goto failed;
        }
        if (n == 0) {
            break;
        }
        b->last += n;
    }

    close(fd);
    return ZP_OK;

failed:
    close(fd);
    return ZP_ERROR;
}


char *
zp_conf_parse(zp_conf_t *cf, zp_str_t *filename)
{
    zp_int_t        rc, type;
    zp_buf_t        buf;
    zp_conf_file_t *prev = NULL, conf_file;

    if (filename) {
        if (cf->include_depth >= ZP_CONF_MAX_INCLUDE_DEPTH) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "includes nested too deeply");
            return ZP_CONF_ERROR;
        }

        zp_memzero(&buf, sizeof(zp_buf_t));
        if (zp_conf_read_file(cf, filename, &buf) != ZP_OK) {
            return ZP_CONF_ERROR;
        }

        prev = cf->conf_file;
        zp_memzero(&conf_file, sizeof(zp_conf_file_t));
        conf_file.file.fd   = ZP_INVALID_FILE;
        conf_file.file.name = *filename;
        conf_file.file.log  = cf->log;
        conf_file.line      = 1;
        conf_file.buffer    = &buf;
        cf->conf_file       = &conf_file;
        cf->include_depth++;
        type = zp_parse_file;

    } else if (cf->conf_file->file.offset == -1) {
        type = zp_parse_param;

    } else {
        type = zp_parse_block;
    }

    for (;;) {
        rc = zp_conf_read_token(cf);

        if (rc == ZP_ERROR) {
            goto failed;
        }

        if (rc == ZP_CONF_BLOCK_DONE) {
            if (type != zp_parse_block) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unexpected \"}\"");
                goto failed;
            }
            goto done;
        }

        if (rc == ZP_CONF_FILE_DONE) {
            if (type == zp_parse_block) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                  "unexpected end of file, expecting \"}\"");
                goto failed;
            }
            goto done;
        }

        if (rc == ZP_CONF_BLOCK_START && type == zp_parse_param) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "block directives are not supported in -g option");
            goto failed;
        }

        /* rc == ZP_OK || rc == ZP_CONF_BLOCK_START */

        if (cf->handler) {
            char *rv = (*cf->handler)(cf, NULL, cf->handler_conf);
            if (rv == ZP_CONF_OK) {
                continue;
            }
            if (rv != ZP_CONF_ERROR) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "%s", rv);
            }
            goto failed;
        }

        if (zp_conf_handler(cf, rc) == ZP_ERROR) {
            goto failed;
        }
    }

failed:
    rc = ZP_ERROR;

done:
    if (filename) {
        cf->conf_file = prev;
        cf->include_depth--;
    }

    return rc == ZP_ERROR ? ZP_CONF_ERROR : ZP_CONF_OK;
}


char *
zp_conf_param(zp_conf_t *cf, zp_str_t *param)
{
    char           *rv;
    zp_buf_t        b;
    zp_conf_file_t  conf_file;

    if (param->len == 0) {
        return ZP_CONF_OK;
    }

    zp_memzero(&conf_file, sizeof(zp_conf_file_t));
    zp_memzero(&b, sizeof(zp_buf_t));

    b.start = b.pos = param->data;
    b.last = b.end = param->data + param->len;

    conf_file.file.fd        = ZP_INVALID_FILE;
    conf_file.file.name.data = (u_char *) "command line";
    conf_file.file.name.len  = sizeof("command line") - 1;
    conf_file.file.log       = cf->log;
    conf_file.file.offset    = -1; /* marks -g: no blocks there */
    conf_file.line           = 1;
    conf_file.buffer         = &b;

    cf->conf_file = &conf_file;
    rv            = zp_conf_parse(cf, NULL);
    cf->conf_file = NULL;

    return rv;
}


static zp_int_t
zp_conf_handler(zp_conf_t *cf, zp_int_t last)
{
    char         *rv;
    void         *conf, **confp;
    zp_uint_t     i, found;
    zp_str_t     *name;
    zp_command_t *cmd;
    zp_module_t  *module;

    name  = cf->args->elts;
    found = 0;

    for (i = 0; cf->cycle->modules[i]; i++) {
        module = cf->cycle->modules[i];
        cmd    = module->commands;
        if (cmd == NULL) {
            continue;
        }

        for (; cmd->name.len; cmd++) {
            if (name->len != cmd->name.len || zp_strcmp(name->data, cmd->name.data) != 0) {
                continue;
            }

            found = 1;

            if (module->type != ZP_CONF_MODULE && module->type != cf->module_type) {
                continue;
            }

            if (!(cmd->type & cf->cmd_type)) {
                continue;
            }

            if (!(cmd->type & ZP_CONF_BLOCK) && last != ZP_OK) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                  "directive \"%s\" is not terminated by \";\"", name->data);
                return ZP_ERROR;
            }

            if ((cmd->type & ZP_CONF_BLOCK) && last != ZP_CONF_BLOCK_START) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "directive \"%s\" has no opening \"{\"",
                                  name->data);
                return ZP_ERROR;
            }

            if (!(cmd->type & ZP_CONF_ANY)) {
                zp_uint_t nargs = cf->args->nelts;
                zp_uint_t ok;

                if (cmd->type & ZP_CONF_FLAG) {
                    ok = (nargs == 2);
                } else if (cmd->type & ZP_CONF_1MORE) {
                    ok = (nargs >= 2);
                } else if (cmd->type & ZP_CONF_2MORE) {
                    ok = (nargs >= 3);
                } else if (nargs > ZP_CONF_MAX_ARGS) {
                    ok = 0;
                } else if (nargs == 1) {
                    ok = (cmd->type & ZP_CONF_NOARGS) != 0;
                } else {
                    ok = (cmd->type & (ZP_CONF_TAKE1 << (nargs - 2))) != 0;
                }

                if (!ok) {
                    zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                      "invalid number of arguments in \"%s\" directive",
                                      name->data);
                    return ZP_ERROR;
                }
            }

            conf = NULL;

            if (cmd->type & ZP_DIRECT_CONF) {
                conf = ((void **) cf->ctx)[module->index];

            } else if (cmd->type & ZP_MAIN_CONF) {
                conf = &(((void **) cf->ctx)[module->index]);

            } else if (cf->ctx) {
                confp = *(void **) ((char *) cf->ctx + cmd->conf);
                if (confp) {
                    conf = confp[module->ctx_index];
                }
            }

            rv = cmd->set(cf, cmd, conf);

            if (rv == ZP_CONF_OK) {
                return ZP_OK;
            }

            if (rv != ZP_CONF_ERROR) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"%s\" directive %s", name->data, rv);
            }

            return ZP_ERROR;
        }
    }

    if (found) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "\"%s\" directive is not allowed here",
                          name->data);
        return ZP_ERROR;
    }

    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown directive \"%s\"", name->data);
    return ZP_ERROR;
}


/*
 * Splits the input into words. A word is a run of non-space bytes or a
 * quoted string; ';', '{' and '}' end a directive. The words of one
 * directive are copied NUL-terminated into cf->args.
 */
static zp_int_t
zp_conf_read_token(zp_conf_t *cf)
{
    u_char    ch, quote, *dst, *start;
    zp_buf_t *b;
    zp_str_t *word;
    zp_uint_t start_line;
    u_char    tmp[ZP_CONF_MAX_WORD];

    cf->args->nelts = 0;
    b               = cf->conf_file->buffer;
    start_line      = cf->conf_file->line;

    for (;;) {
        /* skip spaces and comments */
        while (b->pos < b->last) {
            ch = *b->pos;
            if (ch == '#') {
                while (b->pos < b->last && *b->pos != LF) {
                    b->pos++;
                }
                continue;
            }
            if (ch == LF) {
                cf->conf_file->line++;
            } else if (ch != ' ' && ch != '\t' && ch != CR) {
                break;
            }
            b->pos++;
        }

        if (b->pos >= b->last) {
            if (cf->args->nelts > 0) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                                  "unexpected end of file, expecting \";\" or \"}\"");
                return ZP_ERROR;
            }
            return ZP_CONF_FILE_DONE;
        }

        ch = *b->pos;

        if (ch == ';' || ch == '{' || ch == '}') {
            b->pos++;

            if (cf->args->nelts == 0) {
                if (ch == '}') {
                    return ZP_CONF_BLOCK_DONE;
                }
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unexpected \"%c\"", ch);
                return ZP_ERROR;
            }

            if (ch == '}') {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unexpected \"}\"");
                return ZP_ERROR;
            }

            return ch == ';' ? ZP_OK : ZP_CONF_BLOCK_START;
        }

        /* a word */
        dst        = tmp;
        quote      = 0;
        start_line = cf->conf_file->line;
        start      = b->pos;

        if (ch == '"' || ch == '\'') {
            quote = ch;
            b->pos++;
        }

        while (b->pos < b->last) {
            ch = *b->pos;

            if (quote) {
                if (ch == quote) {
                    b->pos++;
                    quote = 0;
                    break;
                }
                if (ch == '\\' && b->pos + 1 < b->last) {
                    b->pos++;
                    ch = *b->pos;
                    switch (ch) {
                    case 'n': ch = LF; break;
                    case 't': ch = '\t'; break;
                    case 'r': ch = CR; break;
                    case '"': case '\'': case '\\': break;
                    default:
                        if (dst < tmp + sizeof(tmp)) {
                            *dst++ = '\\';
                        }
                    }
                }
                if (ch == LF && *b->pos == LF) {
                    cf->conf_file->line++;
                }

            } else {
                if (ch == ' ' || ch == '\t' || ch == CR || ch == LF || ch == ';' || ch == '{'
                    || ch == '}') {
                    break;
                }
                if (ch == '"' || ch == '\'') {
                    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unexpected quote in \"%*s\"",
                                      b->pos - start + 1, start);
                    return ZP_ERROR;
                }
                if (ch == '\\' && b->pos + 1 < b->last) {
                    /* as nginx: an escape that means nothing here keeps
                     * its backslash, so "~ ^/v(\d+)/" reaches PCRE2 whole;
                     * one that would end the word makes it literal */
                    switch (b->pos[1]) {
                    case 'n': case 't': case 'r': case '"': case '\'': case '\\':
                    case ' ': case ';': case '{': case '}': case LF:
                        b->pos++;
                        ch = *b->pos;
                        ch = ch == 'n' ? LF : ch == 't' ? '\t' : ch == 'r' ? CR : ch;
                        if (*b->pos == LF) {
                            cf->conf_file->line++;
                        }
                        break;
                    }
                }
            }

            if (dst == tmp + sizeof(tmp)) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "too long parameter \"%*s...\"", (size_t) 32,
                                  start);
                return ZP_ERROR;
            }

            *dst++ = ch;
            b->pos++;
        }

        if (quote) {
            cf->conf_file->line = start_line;
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unterminated quoted string");
            return ZP_ERROR;
        }

        if (b->pos < b->last && (*b->pos == '"' || *b->pos == '\'')
            && dst > tmp) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unexpected quote after \"%*s\"",
                              dst - tmp, tmp);
            return ZP_ERROR;
        }

        word = zp_array_push(cf->args);
        if (word == NULL) {
            return ZP_ERROR;
        }

        word->len  = dst - tmp;
        word->data = zp_pnalloc(cf->pool, word->len + 1);
        if (word->data == NULL) {
            return ZP_ERROR;
        }
        zp_memcpy(word->data, tmp, word->len);
        word->data[word->len] = '\0';
    }
}


char *
zp_conf_include(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    char     *rv;
    zp_str_t *value, file;
    glob_t    gl;
    size_t    i;
    int       rc;

    value = cf->args->elts;
    file  = value[1];

    if (zp_conf_full_name(cf->cycle, &file, 1) != ZP_OK) {
        return ZP_CONF_ERROR;
    }

    if (strpbrk((char *) file.data, "*?[") == NULL) {
        return zp_conf_parse(cf, &file);
    }

    /* no GLOB_ERR: a directory that does not exist is no match, as in
     * nginx, so an include of conf.d/ globs works before conf.d is made */
    rc = glob((char *) file.data, 0, NULL, &gl);

    if (rc == GLOB_NOMATCH) {
        return ZP_CONF_OK;
    }

    if (rc != 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "glob() \"%s\" failed", file.data);
        return ZP_CONF_ERROR;
    }

    rv = ZP_CONF_OK;

    /* glob() sorts the names, so includes apply in a stable order */
    for (i = 0; i < gl.gl_pathc; i++) {
        file.len  = strlen(gl.gl_pathv[i]);
        file.data = zp_pnalloc(cf->pool, file.len + 1);
        if (file.data == NULL) {
            rv = ZP_CONF_ERROR;
            break;
        }
        zp_memcpy(file.data, gl.gl_pathv[i], file.len + 1);

        rv = zp_conf_parse(cf, &file);
        if (rv != ZP_CONF_OK) {
            break;
        }
    }

    globfree(&gl);
    return rv;
}


zp_int_t
zp_conf_full_name(zp_cycle_t *cycle, zp_str_t *name, zp_uint_t conf_prefix)
{
    return zp_get_full_name(cycle->pool, conf_prefix ? &cycle->conf_prefix : &cycle->prefix,
                            name);
}


zp_open_file_t *
zp_conf_open_file(zp_cycle_t *cycle, zp_str_t *name)
{
    zp_str_t         full;
    zp_list_iter_t   it = {NULL, 0};
    zp_open_file_t  *file;

    if (name->len == 6 && zp_strncmp(name->data, "stderr", 6) == 0) {
        return zp_log_stderr_file();
    }

    full = *name;
    if (zp_conf_full_name(cycle, &full, 0) != ZP_OK) {
        return NULL;
    }

    while ((file = zp_list_next(&cycle->open_files, &it))) {
        if (full.len == file->name.len && zp_strcmp(full.data, file->name.data) == 0) {
            return file;
        }
    }

    file = zp_list_push(&cycle->open_files);
    if (file == NULL) {
        return NULL;
    }

    file->fd    = ZP_INVALID_FILE;
    file->name  = full;
    file->flush = NULL;
    file->data  = NULL;

    return file;
}


void
zp_conf_log_error(zp_uint_t level, zp_conf_t *cf, zp_err_t err, const char *fmt, ...)
{
    u_char  errstr[ZP_MAX_CONF_ERRSTR], *p, *last;
    va_list args;

    last = errstr + ZP_MAX_CONF_ERRSTR;

    va_start(args, fmt);
    p = zp_vslprintf(errstr, last, fmt, args);
    va_end(args);

    if (err) {
        p = zp_log_errno(p, last, err);
    }

    if (cf->conf_file == NULL) {
        zp_log_error(level, cf->log, 0, "%*s", p - errstr, errstr);
        return;
    }

    zp_log_error(level, cf->log, 0, "%V:%ui: %*s", &cf->conf_file->file.name,
                 cf->conf_file->line, p - errstr, errstr);
}


char *
zp_conf_invalid_value(zp_conf_t *cf, zp_uint_t arg)
{
    zp_str_t *value = cf->args->elts;

    zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid value \"%V\" in \"%V\" directive",
                      &value[arg], &value[0]);
    return ZP_CONF_ERROR;
}


char *
zp_conf_set_flag_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_flag_t *fp    = (zp_flag_t *) ((char *) conf + cmd->offset);
    zp_str_t  *value = cf->args->elts;

    if (*fp != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    if (zp_strcasecmp(value[1].data, (u_char *) "on") == 0) {
        *fp = 1;
    } else if (zp_strcasecmp(value[1].data, (u_char *) "off") == 0) {
        *fp = 0;
    } else {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0,
                          "invalid value \"%s\" in \"%s\" directive, it must be \"on\" or \"off\"",
                          value[1].data, cmd->name.data);
        return ZP_CONF_ERROR;
    }

    return ZP_CONF_OK;
}


char *
zp_conf_set_str_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_str_t *field = (zp_str_t *) ((char *) conf + cmd->offset);
    zp_str_t *value = cf->args->elts;

    if (field->data) {
        return "is duplicate";
    }

    *field = value[1];
    return ZP_CONF_OK;
}


static char *
zp_conf_post(zp_conf_t *cf, zp_command_t *cmd, void *field)
{
    zp_conf_post_t *post = cmd->post;

    return post ? post->post_handler(cf, post, field) : ZP_CONF_OK;
}


char *
zp_conf_set_num_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_int_t *np    = (zp_int_t *) ((char *) conf + cmd->offset);
    zp_str_t *value = cf->args->elts;

    if (*np != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    *np = zp_atoi(value[1].data, value[1].len);
    if (*np == ZP_ERROR) {
        return zp_conf_invalid_value(cf, 1);
    }

    return zp_conf_post(cf, cmd, np);
}


char *
zp_conf_set_size_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    size_t   *sp    = (size_t *) ((char *) conf + cmd->offset);
    zp_str_t *value = cf->args->elts;
    ssize_t   n;

    if (*sp != ZP_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    n = zp_parse_size(&value[1]);
    if (n == ZP_ERROR) {
        return zp_conf_invalid_value(cf, 1);
    }
    *sp = (size_t) n;

    return zp_conf_post(cf, cmd, sp);
}


/* a size held in off_t: bodies may be larger than memory */
char *
zp_conf_set_off_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    off_t    *op    = (off_t *) ((char *) conf + cmd->offset);
    zp_str_t *value = cf->args->elts;
    ssize_t   n;

    if (*op != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    n = zp_parse_size(&value[1]);
    if (n == ZP_ERROR) {
        return zp_conf_invalid_value(cf, 1);
    }
    *op = (off_t) n;

    return zp_conf_post(cf, cmd, op);
}


char *
zp_conf_set_msec_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_msec_t *msp   = (zp_msec_t *) ((char *) conf + cmd->offset);
    zp_str_t  *value = cf->args->elts;
    zp_int_t   n;

    if (*msp != ZP_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    n = zp_parse_time(&value[1], 0);
    if (n == ZP_ERROR) {
        return zp_conf_invalid_value(cf, 1);
    }
    *msp = (zp_msec_t) n;

    return zp_conf_post(cf, cmd, msp);
}


char *
zp_conf_set_sec_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    time_t   *sp    = (time_t *) ((char *) conf + cmd->offset);
    zp_str_t *value = cf->args->elts;
    zp_int_t  n;

    if (*sp != ZP_CONF_UNSET) {
        return "is duplicate";
    }

    n = zp_parse_time(&value[1], 1);
    if (n == ZP_ERROR) {
        return zp_conf_invalid_value(cf, 1);
    }
    *sp = (time_t) n;

    return zp_conf_post(cf, cmd, sp);
}


char *
zp_conf_set_enum_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf)
{
    zp_uint_t      *np    = (zp_uint_t *) ((char *) conf + cmd->offset);
    zp_str_t       *value = cf->args->elts;
    zp_conf_enum_t *e     = cmd->post;

    if (*np != ZP_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    for (; e->name.len; e++) {
        if (e->name.len == value[1].len
            && zp_strcasecmp(e->name.data, value[1].data) == 0) {
            *np = e->value;
            return ZP_CONF_OK;
        }
    }

    return zp_conf_invalid_value(cf, 1);
}


ssize_t
zp_parse_size(zp_str_t *line)
{
    u_char   unit;
    size_t   len;
    ssize_t  size, scale, max;

    len = line->len;
    if (len == 0) {
        return ZP_ERROR;
    }

    unit = line->data[len - 1];

    switch (unit) {
    case 'K': case 'k':
        len--;
        max   = SSIZE_MAX / 1024;
        scale = 1024;
        break;
    case 'M': case 'm':
        len--;
        max   = SSIZE_MAX / (1024 * 1024);
        scale = 1024 * 1024;
        break;
    case 'G': case 'g':
        len--;
        max   = SSIZE_MAX / (1024 * 1024 * 1024);
        scale = 1024 * 1024 * 1024;
        break;
    default:
        max   = SSIZE_MAX;
        scale = 1;
    }

    size = zp_atosz(line->data, len);
    if (size == ZP_ERROR || size > max) {
        return ZP_ERROR;
    }

    return size * scale;
}


zp_int_t
zp_parse_time(zp_str_t *line, zp_uint_t is_sec)
{
    u_char   *p, *last;
    zp_int_t  value, total, scale, max, prev;
    zp_uint_t valid = 0;

    p     = line->data;
    last  = p + line->len;
    total = 0;
    prev  = 0;

    while (p < last) {
        if (*p < '0' || *p > '9') {
            return ZP_ERROR;
        }

        value = 0;
        while (p < last && *p >= '0' && *p <= '9') {
            if (value > ZP_MAX_INT_T_VALUE / 10 - 1) {
                return ZP_ERROR;
            }
            value = value * 10 + (*p++ - '0');
        }

        /* scale in milliseconds */
        if (p == last) {
            scale = 1000;
        } else if (*p == 'm' && p + 1 < last && p[1] == 's') {
            scale = 1;
            p += 2;
        } else {
            switch (*p++) {
            case 's': scale = 1000; break;
            case 'm': scale = 60 * 1000; break;
            case 'h': scale = 3600 * 1000; break;
            case 'd': scale = 86400 * 1000; break;
            case 'w': scale = 7 * 86400 * 1000L; break;
            case 'M': scale = 30 * 86400 * 1000L; break;
            case 'y': scale = 365 * 86400 * 1000L; break;
            default:  return ZP_ERROR;
            }
        }

        /* units from the largest down, each once ("1h30m"), and no
         * milliseconds where the value is in seconds */
        if ((prev && scale >= prev) || (is_sec && scale < 1000)) {
            return ZP_ERROR;
        }
        prev = scale;

        max = ZP_MAX_INT_T_VALUE / scale;
        if (value > max || total > ZP_MAX_INT_T_VALUE - value * scale) {
            return ZP_ERROR;
        }

        total += value * scale;
        valid = 1;
    }

    if (!valid) {
        return ZP_ERROR;
    }

    return is_sec ? total / 1000 : total;
}
