/*
 * zp_http_variables.h: $variables.
 *
 * A name used in the configuration ("$uri", "$http_user_agent", "$1") is
 * resolved when the directive is read, to an index; at run time a request
 * evaluates an index at most once (unless the variable says it changes)
 * and keeps the value in r->variables. Modules add their own variables in
 * preconfiguration with zp_http_add_variable().
 */
#ifndef ZP_HTTP_VARIABLES_H
#define ZP_HTTP_VARIABLES_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct {
    unsigned  len:28;
    unsigned  valid:1;
    unsigned  no_cacheable:1;
    unsigned  not_found:1;
    u_char   *data;
} zp_http_variable_value_t;

typedef zp_int_t (*zp_http_get_variable_pt)(zp_http_request_t *r, zp_http_variable_value_t *v,
                                            uintptr_t data);

#define ZP_HTTP_VAR_NOCACHEABLE 1  /* evaluate on every use ($request_time) */
#define ZP_HTTP_VAR_PREFIX      2  /* "http_": matches http_<anything> */

typedef struct {
    zp_str_t                name;
    zp_http_get_variable_pt get_handler;
    uintptr_t               data;
    zp_uint_t               flags;
} zp_http_variable_t;

/* A string with variables: "$remote_addr - $request_uri", compiled once. */
typedef struct {
    zp_str_t   lit;       /* literal text, or */
    zp_int_t   index;     /* a variable index (-1: this part is literal) */
} zp_http_cv_part_t;

typedef struct {
    zp_str_t           raw;     /* as written */
    zp_http_cv_part_t *parts;
    zp_uint_t          nparts;
    zp_uint_t          simple;  /* no variables: raw is the value */
} zp_http_complex_value_t;

/* Defines a variable (in a module's preconfiguration); the caller sets
 * get_handler and data. NULL after logging when the name is taken. */
zp_http_variable_t *zp_http_add_variable(zp_conf_t *cf, zp_str_t *name, zp_uint_t flags);

/* The index of a variable named in the configuration; ZP_ERROR after
 * logging "unknown variable" at the directive's file:line. */
zp_int_t zp_http_get_variable_index(zp_conf_t *cf, zp_str_t *name);

/* The value for this request; NULL on an allocation failure. A variable
 * with no value has not_found set (and len 0). */
zp_http_variable_value_t *zp_http_get_indexed_variable(zp_http_request_t *r, zp_uint_t index);

zp_int_t zp_http_compile_complex_value(zp_conf_t *cf, zp_str_t *text,
                                       zp_http_complex_value_t *cv);

/* Evaluates cv into out (allocated from r->pool unless cv is simple). */
zp_int_t zp_http_complex_value(zp_http_request_t *r, zp_http_complex_value_t *cv, zp_str_t *out);

/* Called by the http core: defines the built-in variables. */
zp_int_t zp_http_variables_add_core_vars(zp_conf_t *cf);

/* The request id: the client's X-Request-ID when it is a sane token,
 * otherwise 32 random hex digits; computed once per request. */
zp_int_t zp_http_request_id(zp_http_request_t *r, zp_str_t *id);

#endif /* ZP_HTTP_VARIABLES_H */
