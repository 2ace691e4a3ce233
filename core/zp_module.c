/*
 * zp_module.c: numbering the compile-time module list.
 */
#include <zp_config.h>
#include <zp_core.h>

zp_uint_t zp_max_module;


zp_int_t
zp_preinit_modules(void)
{
    zp_uint_t i;

    for (i = 0; zp_modules[i]; i++) {
        zp_modules[i]->index = i;
        if (zp_modules[i]->name == NULL) {
            zp_modules[i]->name = zp_module_names[i];
        }
    }

    zp_max_module = i;
    return ZP_OK;
}


zp_int_t
zp_init_modules(zp_cycle_t *cycle)
{
    zp_uint_t i;

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->init_module
            && cycle->modules[i]->init_module(cycle) != ZP_OK) {
            return ZP_ERROR;
        }
    }

    return ZP_OK;
}


zp_int_t
zp_count_modules(zp_cycle_t *cycle, zp_uint_t type)
{
    zp_uint_t i, max = 0;

    for (i = 0; cycle->modules[i]; i++) {
        if (cycle->modules[i]->type != type) {
            continue;
        }
        cycle->modules[i]->ctx_index = max++;
    }

    return max;
}
