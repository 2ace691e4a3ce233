/*
 * zp_conf_file.h: the directive language.
 *
 *   name arg ...;            a simple directive
 *   name arg ... { ... }     a block
 *
 * Each module declares a table of zp_command_t; the reader finds the row
 * for every directive, checks its context and argument count, and calls
 * its setter with the module's configuration structure for that context.
 */
#ifndef ZP_CONF_FILE_H
#define ZP_CONF_FILE_H

#include <zp_config.h>
#include <zp_core.h>

/* argument counts */
#define ZP_CONF_NOARGS 0x00000001
#define ZP_CONF_TAKE1  0x00000002
#define ZP_CONF_TAKE2  0x00000004
#define ZP_CONF_TAKE3  0x00000008
#define ZP_CONF_TAKE4  0x00000010
#define ZP_CONF_TAKE5  0x00000020
#define ZP_CONF_TAKE6  0x00000040
#define ZP_CONF_TAKE7  0x00000080
#define ZP_CONF_MAX_ARGS 8

#define ZP_CONF_TAKE12   (ZP_CONF_TAKE1 | ZP_CONF_TAKE2)
#define ZP_CONF_TAKE13   (ZP_CONF_TAKE1 | ZP_CONF_TAKE3)
#define ZP_CONF_TAKE23   (ZP_CONF_TAKE2 | ZP_CONF_TAKE3)
#define ZP_CONF_TAKE123  (ZP_CONF_TAKE1 | ZP_CONF_TAKE2 | ZP_CONF_TAKE3)
#define ZP_CONF_TAKE1234 (ZP_CONF_TAKE1 | ZP_CONF_TAKE2 | ZP_CONF_TAKE3 | ZP_CONF_TAKE4)

#define ZP_CONF_ARGS_NUMBER 0x000000ff
#define ZP_CONF_BLOCK       0x00000100
#define ZP_CONF_FLAG        0x00000200
#define ZP_CONF_ANY         0x00000400
#define ZP_CONF_1MORE       0x00000800
#define ZP_CONF_2MORE       0x00001000

/* contexts: main is shared by every module type; the others are read
 * relative to cf->module_type, as the same bits mean events for event
 * modules and http main for http modules */
#define ZP_DIRECT_CONF 0x00010000
#define ZP_MAIN_CONF   0x01000000
#define ZP_ANY_CONF    0xFF000000

#define ZP_CONF_UNSET       -1
#define ZP_CONF_UNSET_UINT  (zp_uint_t) -1
#define ZP_CONF_UNSET_PTR   (void *) -1
#define ZP_CONF_UNSET_SIZE  (size_t) -1
#define ZP_CONF_UNSET_MSEC  (zp_msec_t) -1

#define ZP_CONF_OK    NULL
#define ZP_CONF_ERROR (void *) -1

#define ZP_CONF_BLOCK_START 1
#define ZP_CONF_BLOCK_DONE  2
#define ZP_CONF_FILE_DONE   3

#define ZP_CORE_MODULE 0x45524f43 /* "CORE" */
#define ZP_CONF_MODULE 0x464e4f43 /* "CONF" */

#define ZP_MAX_CONF_ERRSTR 1024

struct zp_command_s {
    zp_str_t    name;
    zp_uint_t   type;
    char     *(*set)(zp_conf_t *cf, zp_command_t *cmd, void *conf);
    zp_uint_t   conf;
    zp_uint_t   offset;
    void       *post;
};

#define zp_null_command {zp_null_string, 0, NULL, 0, 0, NULL}
#define ZP_COMMAND_END  zp_null_command

typedef struct {
    zp_file_t  file;
    zp_buf_t  *buffer;
    zp_uint_t  line;
} zp_conf_file_t;

typedef char *(*zp_conf_handler_pt)(zp_conf_t *cf, zp_command_t *dummy, void *conf);

struct zp_conf_s {
    char               *name;
    zp_array_t         *args;

    zp_cycle_t         *cycle;
    zp_pool_t          *pool;
    zp_pool_t          *temp_pool;
    zp_conf_file_t     *conf_file;
    zp_log_t           *log;

    void               *ctx;
    zp_uint_t           module_type;
    zp_uint_t           cmd_type;

    zp_conf_handler_pt  handler;
    void               *handler_conf;

    zp_uint_t           include_depth;
};

typedef char *(*zp_conf_post_handler_pt)(zp_conf_t *cf, void *data, void *conf);

typedef struct {
    zp_conf_post_handler_pt post_handler;
} zp_conf_post_t;

typedef struct {
    zp_str_t  name;
    zp_uint_t value;
} zp_conf_enum_t;

typedef struct {
    zp_str_t  name;
    zp_uint_t mask;
} zp_conf_bitmask_t;

typedef struct {
    zp_conf_post_handler_pt post_handler;
    zp_int_t                low;
    zp_int_t                high;
} zp_conf_num_bounds_t;

#define zp_conf_init_value(conf, default)                                                         \
    if (conf == ZP_CONF_UNSET) {                                                                   \
        conf = default;                                                                            \
    }
#define zp_conf_init_ptr_value(conf, default)                                                     \
    if (conf == ZP_CONF_UNSET_PTR) {                                                               \
        conf = default;                                                                            \
    }
#define zp_conf_init_uint_value(conf, default)                                                    \
    if (conf == ZP_CONF_UNSET_UINT) {                                                              \
        conf = default;                                                                            \
    }
#define zp_conf_init_size_value(conf, default)                                                    \
    if (conf == ZP_CONF_UNSET_SIZE) {                                                              \
        conf = default;                                                                            \
    }
#define zp_conf_init_msec_value(conf, default)                                                    \
    if (conf == ZP_CONF_UNSET_MSEC) {                                                              \
        conf = default;                                                                            \
    }

#define zp_conf_merge_value(conf, prev, default)                                                  \
    if (conf == ZP_CONF_UNSET) {                                                                   \
        conf = (prev == ZP_CONF_UNSET) ? default : prev;                                           \
    }
#define zp_conf_merge_ptr_value(conf, prev, default)                                              \
    if (conf == ZP_CONF_UNSET_PTR) {                                                               \
        conf = (prev == ZP_CONF_UNSET_PTR) ? default : prev;                                       \
    }
#define zp_conf_merge_uint_value(conf, prev, default)                                             \
    if (conf == ZP_CONF_UNSET_UINT) {                                                              \
        conf = (prev == ZP_CONF_UNSET_UINT) ? default : prev;                                      \
    }
#define zp_conf_merge_msec_value(conf, prev, default)                                             \
    if (conf == ZP_CONF_UNSET_MSEC) {                                                              \
        conf = (prev == ZP_CONF_UNSET_MSEC) ? default : prev;                                      \
    }
#define zp_conf_merge_size_value(conf, prev, default)                                             \
    if (conf == ZP_CONF_UNSET_SIZE) {                                                              \
        conf = (prev == ZP_CONF_UNSET_SIZE) ? default : prev;                                      \
    }
#define zp_conf_merge_str_value(conf, prev, default)                                              \
    if (conf.data == NULL) {                                                                       \
        if (prev.data) {                                                                           \
            conf.len  = prev.len;                                                                  \
            conf.data = prev.data;                                                                 \
        } else {                                                                                   \
            conf.len  = sizeof(default) - 1;                                                       \
            conf.data = (u_char *) default;                                                        \
        }                                                                                          \
    }

/* Reads a file (filename != NULL) or, when filename is NULL, the rest of
 * the current block; calls the directive handlers. Returns ZP_CONF_OK or
 * ZP_CONF_ERROR after logging "file:line: message". */
char *zp_conf_parse(zp_conf_t *cf, zp_str_t *filename);

/* Parses the -g string as if it were a file. */
char *zp_conf_param(zp_conf_t *cf, zp_str_t *param);

char *zp_conf_include(zp_conf_t *cf, zp_command_t *cmd, void *conf);

/* Logs "file:line: message" to cf->log. */
void zp_conf_log_error(zp_uint_t level, zp_conf_t *cf, zp_err_t err, const char *fmt, ...);

/* Resolves a path against the prefix (conf_prefix when conf_prefix is set). */
zp_int_t zp_conf_full_name(zp_cycle_t *cycle, zp_str_t *name, zp_uint_t conf_prefix);

/* Returns the cycle-wide open file for name (deduplicated; opened later by
 * the cycle, reopened on USR1). */
zp_open_file_t *zp_conf_open_file(zp_cycle_t *cycle, zp_str_t *name);

/* Generic setters: the field at cmd->offset in conf. */
char *zp_conf_set_flag_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_str_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_num_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_size_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_off_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_msec_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_sec_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);
char *zp_conf_set_enum_slot(zp_conf_t *cf, zp_command_t *cmd, void *conf);

/* "invalid value "x" in "name" directive" */
char *zp_conf_invalid_value(zp_conf_t *cf, zp_uint_t arg);

/* Parses "10", "10k", "10m", "1g" -> bytes; ZP_ERROR when invalid. */
ssize_t zp_parse_size(zp_str_t *line);
/* Parses "500ms", "30s", "5m", "1h", "1d", "1h30m"; a bare number means
 * seconds, as in nginx. Returns seconds when is_sec, else milliseconds;
 * ZP_ERROR when invalid. */
zp_int_t zp_parse_time(zp_str_t *line, zp_uint_t is_sec);

#endif /* ZP_CONF_FILE_H */
