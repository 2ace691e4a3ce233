/*
 * zp_http_variables.c: the built-in variables and their machinery.
 */
#include <zp_config.h>
#include <zp_core.h>
#include <zp_http.h>

#include <sys/random.h>

static zp_int_t zp_http_var_request_field(zp_http_request_t *r, zp_http_variable_value_t *v,
                                          uintptr_t data);
static zp_int_t zp_http_var_remote_addr(zp_http_request_t *r, zp_http_variable_value_t *v,
                                        uintptr_t data);
static zp_int_t zp_http_var_remote_port(zp_http_request_t *r, zp_http_variable_value_t *v,
                                        uintptr_t data);
static zp_int_t zp_http_var_server_addr(zp_http_request_t *r, zp_http_variable_value_t *v,
                                        uintptr_t data);
static zp_int_t zp_http_var_number(zp_http_request_t *r, zp_http_variable_value_t *v,
                                   uintptr_t data);
static zp_int_t zp_http_var_request_time(zp_http_request_t *r, zp_http_variable_value_t *v,
                                         uintptr_t data);
static zp_int_t zp_http_var_time(zp_http_request_t *r, zp_http_variable_value_t *v,
                                 uintptr_t data);
static zp_int_t zp_http_var_request_id(zp_http_request_t *r, zp_http_variable_value_t *v,
                                       uintptr_t data);
static zp_int_t zp_http_var_scheme(zp_http_request_t *r, zp_http_variable_value_t *v,
                                   uintptr_t data);
static zp_int_t zp_http_var_header(zp_http_request_t *r, zp_http_variable_value_t *v,
                                   uintptr_t data);
static zp_int_t zp_http_var_arg(zp_http_request_t *r, zp_http_variable_value_t *v,
                                uintptr_t data);
static zp_int_t zp_http_var_param(zp_http_request_t *r, zp_http_variable_value_t *v,
                                  uintptr_t data);
static zp_int_t zp_http_var_capture(zp_http_request_t *r, zp_http_variable_value_t *v,
                                    uintptr_t data);

#define zp_http_rf(field) offsetof(zp_http_request_t, field)

enum {
    zp_http_num_status = 0,
    zp_http_num_body_bytes_sent,
    zp_http_num_bytes_sent,
    zp_http_num_request_length,
    zp_http_num_pid,
    zp_http_num_connection,
    zp_http_num_connection_requests,
    zp_http_num_server_port,
};

enum { zp_http_time_local = 0, zp_http_time_iso8601, zp_http_time_msec };

static zp_http_variable_t zp_http_core_variables[] = {
    {zp_string("remote_addr"), zp_http_var_remote_addr, 0, 0},
    {zp_string("remote_port"), zp_http_var_remote_port, 0, 0},
    {zp_string("server_addr"), zp_http_var_server_addr, 0, 0},
    {zp_string("server_port"), zp_http_var_number, zp_http_num_server_port, 0},
    {zp_string("host"), zp_http_var_request_field, zp_http_rf(headers_in.server), 0},
    {zp_string("request_method"), zp_http_var_request_field, zp_http_rf(method_name), 0},
    {zp_string("request_uri"), zp_http_var_request_field, zp_http_rf(unparsed_uri), 0},
    {zp_string("uri"), zp_http_var_request_field, zp_http_rf(uri), 0},
    {zp_string("args"), zp_http_var_request_field, zp_http_rf(args), 0},
    {zp_string("request"), zp_http_var_request_field, zp_http_rf(request_line), 0},
    {zp_string("server_protocol"), zp_http_var_request_field, zp_http_rf(http_protocol), 0},
    {zp_string("scheme"), zp_http_var_scheme, 0, 0},
    {zp_string("status"), zp_http_var_number, zp_http_num_status, ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("body_bytes_sent"), zp_http_var_number, zp_http_num_body_bytes_sent,
     ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("bytes_sent"), zp_http_var_number, zp_http_num_bytes_sent,
     ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("request_length"), zp_http_var_number, zp_http_num_request_length, 0},
    {zp_string("pid"), zp_http_var_number, zp_http_num_pid, 0},
    {zp_string("connection"), zp_http_var_number, zp_http_num_connection, 0},
    {zp_string("connection_requests"), zp_http_var_number, zp_http_num_connection_requests, 0},
    {zp_string("request_time"), zp_http_var_request_time, 0, ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("time_local"), zp_http_var_time, zp_http_time_local, ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("time_iso8601"), zp_http_var_time, zp_http_time_iso8601,
     ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("msec"), zp_http_var_time, zp_http_time_msec, ZP_HTTP_VAR_NOCACHEABLE},
    {zp_string("request_id"), zp_http_var_request_id, 0, 0},
    {zp_string("http_"), zp_http_var_header, 0, ZP_HTTP_VAR_PREFIX},
    {zp_string("arg_"), zp_http_var_arg, 0, ZP_HTTP_VAR_PREFIX},
    {zp_string("param_"), zp_http_var_param, 0, ZP_HTTP_VAR_PREFIX},
};


zp_int_t
zp_http_variables_add_core_vars(zp_conf_t *cf)
{
    zp_uint_t                 i;
    zp_http_variable_t       *v;
    zp_http_core_main_conf_t *cmcf;

    cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    if (zp_array_init(&cmcf->variables, cf->pool, 16, sizeof(zp_http_variable_t)) != ZP_OK
        || zp_array_init(&cmcf->variables_keys, cf->pool, 64, sizeof(zp_http_variable_t))
               != ZP_OK) {
        return ZP_ERROR;
    }

    for (i = 0; i < zp_nelems(zp_http_core_variables); i++) {
        v = zp_http_add_variable(cf, &zp_http_core_variables[i].name,
                                 zp_http_core_variables[i].flags);
        if (v == NULL) {
            return ZP_ERROR;
        }
        v->get_handler = zp_http_core_variables[i].get_handler;
        v->data        = zp_http_core_variables[i].data;
    }

    return ZP_OK;
}


zp_http_variable_t *
zp_http_add_variable(zp_conf_t *cf, zp_str_t *name, zp_uint_t flags)
{
    zp_uint_t                 i;
    zp_http_variable_t       *v;
    zp_http_core_main_conf_t *cmcf;

    cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);
    v    = cmcf->variables_keys.elts;

    for (i = 0; i < cmcf->variables_keys.nelts; i++) {
        if (v[i].name.len == name->len && zp_strncmp(v[i].name.data, name->data, name->len) == 0) {
            zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "the duplicate \"%V\" variable", name);
            return NULL;
        }
    }

    v = zp_array_push(&cmcf->variables_keys);
    if (v == NULL) {
        return NULL;
    }

    v->name        = *name;
    v->get_handler = NULL;
    v->data        = 0;
    v->flags       = flags;
    return v;
}


/* The suffix of a prefix variable, in the form its handler wants:
 * http_x_real_ip -> "x-real-ip" (a header name), arg_id -> "id". */
static zp_str_t *
zp_http_variable_suffix(zp_conf_t *cf, zp_str_t *name, size_t prefix, zp_uint_t header)
{
    size_t    i;
    zp_str_t *s;

    s = zp_palloc(cf->pool, sizeof(zp_str_t));
    if (s == NULL) {
        return NULL;
    }

    s->len  = name->len - prefix;
    s->data = zp_pnalloc(cf->pool, s->len + 1);
    if (s->data == NULL) {
        return NULL;
    }

    for (i = 0; i < s->len; i++) {
        u_char ch = name->data[prefix + i];
        s->data[i] = header ? (ch == '_' ? '-' : zp_tolower(ch)) : ch;
    }
    s->data[s->len] = '\0';
    return s;
}


zp_int_t
zp_http_get_variable_index(zp_conf_t *cf, zp_str_t *name)
{
    zp_uint_t                 i;
    zp_http_variable_t       *v, *key, *found;
    zp_http_core_main_conf_t *cmcf;
    zp_str_t                 *suffix;

    cmcf = zp_http_conf_get_module_main_conf(cf, zp_http_core_module);

    if (name->len == 0) {
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return ZP_ERROR;
    }

    v = cmcf->variables.elts;
    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == name->len && zp_strncmp(v[i].name.data, name->data, name->len) == 0) {
            return (zp_int_t) i;
        }
    }

    v = zp_array_push(&cmcf->variables);
    if (v == NULL) {
        return ZP_ERROR;
    }

    v->name  = *name;
    v->flags = 0;

    /* $1 .. $9: captures of a regex route */
    if (name->len == 1 && name->data[0] >= '1' && name->data[0] <= '9') {
        v->get_handler = zp_http_var_capture;
        v->data        = name->data[0] - '0';
        return (zp_int_t) (cmcf->variables.nelts - 1);
    }

    key   = cmcf->variables_keys.elts;
    found = NULL;

    for (i = 0; i < cmcf->variables_keys.nelts; i++) {
        if (key[i].flags & ZP_HTTP_VAR_PREFIX) {
            if (name->len > key[i].name.len
                && zp_strncmp(name->data, key[i].name.data, key[i].name.len) == 0
                && (found == NULL || key[i].name.len > found->name.len)) {
                found = &key[i];
            }
            continue;
        }

        if (key[i].name.len == name->len
            && zp_strncmp(key[i].name.data, name->data, name->len) == 0) {
            *v = key[i];
            return (zp_int_t) (cmcf->variables.nelts - 1);
        }
    }

    if (found == NULL) {
        cmcf->variables.nelts--;
        zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "unknown variable \"$%V\"", name);
        return ZP_ERROR;
    }

    suffix = zp_http_variable_suffix(cf, name, found->name.len,
                                     found->get_handler == zp_http_var_header);
    if (suffix == NULL) {
        return ZP_ERROR;
    }

    v->get_handler = found->get_handler;
    v->data        = (uintptr_t) suffix;
    v->flags       = found->flags & ~ZP_HTTP_VAR_PREFIX;

    return (zp_int_t) (cmcf->variables.nelts - 1);
}


zp_http_variable_value_t *
zp_http_get_indexed_variable(zp_http_request_t *r, zp_uint_t index)
{
    zp_http_variable_t       *v;
    zp_http_variable_value_t *values, *vv;
    zp_http_core_main_conf_t *cmcf;

    cmcf = zp_http_get_module_main_conf(r, zp_http_core_module);

    if (index >= cmcf->variables.nelts) {
        zp_log_error(ZP_LOG_ALERT, r->connection->log, 0, "unknown variable index: %ui", index);
        return NULL;
    }

    if (r->variables == NULL) {
        r->variables = zp_pcalloc(r->pool,
                                  cmcf->variables.nelts * sizeof(zp_http_variable_value_t));
        if (r->variables == NULL) {
            return NULL;
        }
    }

    values = r->variables;
    vv     = &values[index];

    if (vv->valid && !vv->no_cacheable) {
        return vv;
    }

    v = cmcf->variables.elts;

    vv->valid     = 0;
    vv->not_found = 0;
    vv->len       = 0;
    vv->data      = NULL;

    if (v[index].get_handler(r, vv, v[index].data) != ZP_OK) {
        return NULL;
    }

    vv->valid        = 1;
    vv->no_cacheable = (v[index].flags & ZP_HTTP_VAR_NOCACHEABLE) ? 1 : 0;
    return vv;
}


static void
zp_http_var_set(zp_http_variable_value_t *v, zp_str_t *s)
{
    if (s->data == NULL) {
        v->not_found = 1;
        return;
    }
    v->data = s->data;
    v->len  = s->len;
}


static zp_int_t
zp_http_var_request_field(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    zp_http_var_set(v, (zp_str_t *) ((char *) r + data));
    return ZP_OK;
}


static zp_int_t
zp_http_var_addr(zp_http_request_t *r, zp_http_variable_value_t *v, struct sockaddr *sa,
                 socklen_t len)
{
    u_char *p;

    p = zp_pnalloc(r->pool, ZP_SOCKADDR_STRLEN);
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->len  = zp_sock_ntop(sa, len, p, ZP_SOCKADDR_STRLEN, 0);
    v->data = p;
    return ZP_OK;
}


static zp_int_t
zp_http_var_remote_addr(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    (void) data;
    return zp_http_var_addr(r, v, &r->connection->sockaddr.sa, r->connection->socklen);
}


static zp_int_t
zp_http_var_server_addr(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    zp_sockaddr_t sa;
    socklen_t     len = sizeof(sa);

    (void) data;

    if (getsockname(r->connection->fd, &sa.sa, &len) == -1) {
        v->not_found = 1;
        return ZP_OK;
    }
    return zp_http_var_addr(r, v, &sa.sa, len);
}


static zp_uint_t
zp_http_port_of(struct sockaddr *sa)
{
    return ntohs(sa->sa_family == AF_INET6 ? ((struct sockaddr_in6 *) sa)->sin6_port
                                           : ((struct sockaddr_in *) sa)->sin_port);
}


static zp_int_t
zp_http_var_remote_port(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char *p;

    (void) data;

    p = zp_pnalloc(r->pool, sizeof("65535") - 1);
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->len  = zp_sprintf(p, "%ui", zp_http_port_of(&r->connection->sockaddr.sa)) - p;
    v->data = p;
    return ZP_OK;
}


static zp_int_t
zp_http_var_number(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char          *p;
    off_t            n;
    zp_connection_t *c = r->connection;

    switch (data) {
    case zp_http_num_status:
        n = (off_t) r->status;
        break;
    case zp_http_num_body_bytes_sent:
        n = r->body_bytes_sent;
        break;
    case zp_http_num_bytes_sent:
        n = c->sent;
        break;
    case zp_http_num_request_length:
        n = r->request_length;
        break;
    case zp_http_num_pid:
        n = zp_pid;
        break;
    case zp_http_num_connection:
        n = (off_t) c->number;
        break;
    case zp_http_num_connection_requests:
        n = (off_t) c->requests;
        break;
    default: /* zp_http_num_server_port */
        n = (off_t) zp_http_port_of(&c->listening->sockaddr.sa);
        break;
    }

    p = zp_pnalloc(r->pool, ZP_OFF_T_LEN);
    if (p == NULL) {
        return ZP_ERROR;
    }

    /* a status is always three digits in a log line, as in nginx */
    v->len  = (data == zp_http_num_status ? zp_sprintf(p, "%03O", n) : zp_sprintf(p, "%O", n)) - p;
    v->data = p;
    return ZP_OK;
}


static zp_int_t
zp_http_var_request_time(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char   *p;
    zp_msec_t ms;

    (void) data;

    p = zp_pnalloc(r->pool, ZP_TIME_T_LEN + 4);
    if (p == NULL) {
        return ZP_ERROR;
    }

    ms      = zp_current_msec - r->start_msec;
    v->len  = zp_sprintf(p, "%M.%03M", ms / 1000, ms % 1000) - p;
    v->data = p;
    return ZP_OK;
}


static zp_int_t
zp_http_var_time(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char *p;

    switch (data) {
    case zp_http_time_local:
        v->data = zp_cached_http_log_time.data;
        v->len  = zp_cached_http_log_time.len;
        return ZP_OK;
    case zp_http_time_iso8601:
        v->data = zp_cached_http_log_iso8601.data;
        v->len  = zp_cached_http_log_iso8601.len;
        return ZP_OK;
    }

    p = zp_pnalloc(r->pool, ZP_TIME_T_LEN + 4);
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->len  = zp_sprintf(p, "%T.%03ui", zp_cached_time->sec, zp_cached_time->msec) - p;
    v->data = p;
    return ZP_OK;
}


static zp_int_t
zp_http_var_scheme(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    (void) data;
    /* c->ssl: the connection came in over TLS ("listen ... ssl") */
    v->data = (u_char *) (r->connection->ssl ? "https" : "http");
    v->len  = r->connection->ssl ? 5 : 4;
    return ZP_OK;
}


zp_int_t
zp_http_request_id(zp_http_request_t *r, zp_str_t *id)
{
    size_t          i;
    uint64_t        rnd[2];
    zp_table_elt_t *h;
    static uint64_t state[2];

    if (r->request_id.len) {
        *id = r->request_id;
        return ZP_OK;
    }

    h = r->headers_in.x_request_id;

    if (h && h->value.len > 0 && h->value.len <= 200) {
        for (i = 0; i < h->value.len; i++) {
            u_char ch = h->value.data[i];
            if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':')) {
                break;
            }
        }
        if (i == h->value.len) {
            r->request_id = h->value;
            *id           = r->request_id;
            return ZP_OK;
        }
    }

    /* xorshift128+, seeded once per process from the kernel: ids need to
     * be unique, not secret, and a syscall per request would cost more */
    if (state[0] == 0 && state[1] == 0) {
        if (getrandom(state, sizeof(state), 0) != sizeof(state)) {
            state[0] = (uint64_t) zp_pid << 32 ^ (uint64_t) zp_current_msec;
            state[1] = (uint64_t) time(NULL) ^ 0x9e3779b97f4a7c15ULL;
        }
        state[0] |= 1;
    }

    for (i = 0; i < 2; i++) {
        uint64_t s1 = state[0];
        uint64_t s0 = state[1];
        state[0]    = s0;
        s1 ^= s1 << 23;
        state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
        rnd[i]   = state[1] + s0;
    }

    r->request_id.data = zp_pnalloc(r->pool, 32);
    if (r->request_id.data == NULL) {
        return ZP_ERROR;
    }
    r->request_id.len = zp_hex_dump(r->request_id.data, (u_char *) rnd, 16) - r->request_id.data;

    *id = r->request_id;
    return ZP_OK;
}


static zp_int_t
zp_http_var_request_id(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    zp_str_t id;

    (void) data;

    if (zp_http_request_id(r, &id) != ZP_OK) {
        return ZP_ERROR;
    }
    v->data = id.data;
    v->len  = id.len;
    return ZP_OK;
}


/* $http_name: every header of that name, joined with ", " when repeated */
static zp_int_t
zp_http_var_header(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char         *p;
    size_t          len;
    zp_str_t       *name = (zp_str_t *) data;
    zp_list_iter_t  it   = {NULL, 0};
    zp_table_elt_t *h, *first = NULL;
    zp_uint_t       n = 0;

    len = 0;
    while ((h = zp_list_next(&r->headers_in.headers, &it))) {
        if (h->hash && h->key.len == name->len
            && zp_strncmp(h->lowcase_key, name->data, name->len) == 0) {
            if (first == NULL) {
                first = h;
            }
            len += h->value.len + 2;
            n++;
        }
    }

    if (first == NULL) {
        v->not_found = 1;
        return ZP_OK;
    }

    if (n == 1) {
        v->data = first->value.data;
        v->len  = first->value.len;
        return ZP_OK;
    }

    p = zp_pnalloc(r->pool, len);
    if (p == NULL) {
        return ZP_ERROR;
    }
    v->data = p;

    it.part = NULL;
    while ((h = zp_list_next(&r->headers_in.headers, &it))) {
        if (h->hash && h->key.len == name->len
            && zp_strncmp(h->lowcase_key, name->data, name->len) == 0) {
            if (p != v->data) {
                p = zp_cpymem(p, ", ", 2);
            }
            p = zp_cpymem(p, h->value.data, h->value.len);
        }
    }

    v->len = p - v->data;
    return ZP_OK;
}


/* $arg_name: the first name=value in the query string, as sent */
static zp_int_t
zp_http_var_arg(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    u_char   *p, *last, *end;
    zp_str_t *name = (zp_str_t *) data;

    p    = r->args.data;
    last = p + r->args.len;

    while (p && p < last) {
        end = memchr(p, '&', last - p);
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) >= name->len && zp_strncmp(p, name->data, name->len) == 0
            && (p + name->len == end || p[name->len] == '=')) {
            p += name->len;
            if (p < end) {
                p++;
            }
            v->data = p;
            v->len  = end - p;
            return ZP_OK;
        }

        p = end + 1;
    }

    v->not_found = 1;
    return ZP_OK;
}


static zp_int_t
zp_http_var_param(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    zp_uint_t i;
    zp_str_t *name = (zp_str_t *) data;

    for (i = 0; i < r->nparams; i++) {
        if (r->param_names[i].len == name->len
            && zp_strncmp(r->param_names[i].data, name->data, name->len) == 0) {
            v->data = r->param_values[i].data;
            v->len  = r->param_values[i].len;
            return ZP_OK;
        }
    }

    v->not_found = 1;
    return ZP_OK;
}


static zp_int_t
zp_http_var_capture(zp_http_request_t *r, zp_http_variable_value_t *v, uintptr_t data)
{
    zp_uint_t n = (zp_uint_t) data;

    if (n >= r->ncaptures || r->captures[2 * n] < 0) {
        v->not_found = 1;
        return ZP_OK;
    }

    v->data = r->uri.data + r->captures[2 * n];
    v->len  = r->captures[2 * n + 1] - r->captures[2 * n];
    return ZP_OK;
}


zp_int_t
zp_http_compile_complex_value(zp_conf_t *cf, zp_str_t *text, zp_http_complex_value_t *cv)
{
    u_char            *p, *last, *start;
    zp_int_t           index;
    zp_str_t           name;
    zp_array_t         parts;
    zp_http_cv_part_t *part;

    cv->raw    = *text;
    cv->simple = memchr(text->data, '$', text->len) == NULL;
    cv->parts  = NULL;
    cv->nparts = 0;

    if (cv->simple) {
        return ZP_OK;
    }

    if (zp_array_init(&parts, cf->pool, 4, sizeof(zp_http_cv_part_t)) != ZP_OK) {
        return ZP_ERROR;
    }

    p    = text->data;
    last = p + text->len;

    while (p < last) {
        part = zp_array_push(&parts);
        if (part == NULL) {
            return ZP_ERROR;
        }

        if (*p != '$' || p + 1 == last) {
            start = p++;
            while (p < last && *p != '$') {
                p++;
            }
            part->index    = -1;
            part->lit.data = start;
            part->lit.len  = p - start;
            continue;
        }

        p++;

        if (*p == '{') {
            start = ++p;
            while (p < last && *p != '}') {
                p++;
            }
            if (p == last) {
                zp_conf_log_error(ZP_LOG_EMERG, cf, 0, "the closing bracket in \"%V\" is missing",
                                  text);
                return ZP_ERROR;
            }
            name.data = start;
            name.len  = p - start;
            p++;

        } else if (*p >= '1' && *p <= '9') {
            name.data = p++;
            name.len  = 1;

        } else {
            start = p;
            while (p < last && (isalnum(*p) || *p == '_')) {
                p++;
            }
            name.data = start;
            name.len  = p - start;
        }

        index = zp_http_get_variable_index(cf, &name);
        if (index == ZP_ERROR) {
            return ZP_ERROR;
        }

        part->index    = index;
        part->lit.len  = 0;
        part->lit.data = NULL;
    }

    cv->parts  = parts.elts;
    cv->nparts = parts.nelts;
    return ZP_OK;
}


zp_int_t
zp_http_complex_value(zp_http_request_t *r, zp_http_complex_value_t *cv, zp_str_t *out)
{
    u_char                   *p;
    size_t                    len;
    zp_uint_t                 i;
    zp_http_variable_value_t *v;

    if (cv->simple) {
        *out = cv->raw;
        return ZP_OK;
    }

    len = 0;
    for (i = 0; i < cv->nparts; i++) {
        if (cv->parts[i].index < 0) {
            len += cv->parts[i].lit.len;
            continue;
        }
        v = zp_http_get_indexed_variable(r, (zp_uint_t) cv->parts[i].index);
        if (v == NULL) {
            return ZP_ERROR;
        }
        len += v->len;
    }

    p = zp_pnalloc(r->pool, len);
    if (p == NULL && len) {
        return ZP_ERROR;
    }
    out->data = p;

    for (i = 0; i < cv->nparts; i++) {
        if (cv->parts[i].index < 0) {
            p = zp_cpymem(p, cv->parts[i].lit.data, cv->parts[i].lit.len);
            continue;
        }
        /* cached: no second evaluation (a no-cacheable one is re-read,
         * which is why the length is taken from what is copied) */
        v = zp_http_get_indexed_variable(r, (zp_uint_t) cv->parts[i].index);
        if (v == NULL || (size_t) (p - out->data) + v->len > len) {
            return ZP_ERROR;
        }
        if (v->len) {
            p = zp_cpymem(p, v->data, v->len);
        }
    }

    out->len = p - out->data;
    return ZP_OK;
}
