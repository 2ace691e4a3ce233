/*
 * zp_shmem.h: shared memory segments and named zones.
 *
 * Zones are mapped by the master before it forks, so every worker sees a
 * zone at the same address. That is what lets data inside a zone hold
 * pointers into the same zone (rbtree links, slab lists); pointers to
 * anything outside the zone (pools, the heap, the cycle) must never be
 * stored there.
 */
#ifndef ZP_SHMEM_H
#define ZP_SHMEM_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct {
    u_char    *addr;
    size_t     size;
    zp_str_t   name;
    zp_log_t  *log;
    zp_uint_t  exists; /* set when the zone was inherited from the last cycle */
} zp_shm_t;

typedef zp_int_t (*zp_shm_zone_init_pt)(zp_shm_zone_t *zone, void *data);

struct zp_shm_zone_s {
    void                *data; /* module's zone context */
    zp_shm_t             shm;
    zp_shm_zone_init_pt  init; /* data is the old cycle's zone->data on reload */
    void                *tag;  /* owning module: two modules may not share a name */
    void                *sync;
    zp_uint_t            noreuse; /* map a fresh zone on reload */
};

/* Maps shm->size zeroed bytes MAP_SHARED|MAP_ANONYMOUS into shm->addr.
 * The mapping is inherited by children forked afterwards. Returns ZP_OK,
 * or ZP_ERROR after logging to shm->log. */
zp_int_t zp_shm_alloc(zp_shm_t *shm);

/* Unmaps shm->addr (if any) and clears it. */
void zp_shm_free(zp_shm_t *shm);

#endif /* ZP_SHMEM_H */
