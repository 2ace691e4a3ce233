/*
 * zp_types.h: forward typedefs, so that headers need not include each other.
 */
#ifndef ZP_TYPES_H
#define ZP_TYPES_H

typedef struct zp_module_s        zp_module_t;
typedef struct zp_conf_s          zp_conf_t;
typedef struct zp_cycle_s         zp_cycle_t;
typedef struct zp_pool_s          zp_pool_t;
typedef struct zp_chain_s         zp_chain_t;
typedef struct zp_log_s           zp_log_t;
typedef struct zp_open_file_s     zp_open_file_t;
typedef struct zp_command_s       zp_command_t;
typedef struct zp_file_s          zp_file_t;
typedef struct zp_event_s         zp_event_t;
typedef struct zp_event_actions_s zp_event_actions_t;
typedef struct zp_connection_s    zp_connection_t;
typedef struct zp_listening_s     zp_listening_t;
typedef struct zp_shm_zone_s      zp_shm_zone_t;

typedef void (*zp_event_handler_pt)(zp_event_t *ev);
typedef void (*zp_connection_handler_pt)(zp_connection_t *c);

#endif /* ZP_TYPES_H */
