/*
 * zp_shmtx.h: a mutex shared by the master and the workers.
 *
 * The lock word lives in shared memory and holds the pid of the holder
 * (0 when free), so the master can release a lock that a crashed worker
 * died holding. Contended lockers spin briefly, then sleep on a futex;
 * no pthread objects are involved, so nothing needs re-initialising
 * after fork().
 */
#ifndef ZP_SHMTX_H
#define ZP_SHMTX_H

#include <zp_config.h>
#include <zp_core.h>

/* The part in shared memory. Both words are 32-bit because futex(2)
 * works on 32-bit integers. */
typedef struct {
    uint32_t lock; /* pid of the holder, 0 when free */
    uint32_t wait; /* processes about to sleep or sleeping on lock */
} zp_shmtx_sh_t;

/* The process-local handle. sh points into the shared zone, which is
 * mapped before fork() at the same address in every process. */
typedef struct {
    zp_shmtx_sh_t *sh;
    zp_uint_t      spin; /* busy-wait rounds before sleeping */
} zp_shmtx_t;

#define ZP_SHMTX_SPIN 2048

/* Binds mtx to the shared words at addr and clears them. Call once, on
 * memory no process is using yet (a fresh zone, before fork()). Always
 * returns ZP_OK. */
zp_int_t zp_shmtx_create(zp_shmtx_t *mtx, zp_shmtx_sh_t *addr);
void     zp_shmtx_destroy(zp_shmtx_t *mtx);

/* The lock word is zp_pid: set zp_pid = getpid() after fork() before a
 * child takes any lock. The mutex is not recursive. */
zp_uint_t zp_shmtx_trylock(zp_shmtx_t *mtx); /* 1 when taken, 0 when busy */
void      zp_shmtx_lock(zp_shmtx_t *mtx);
void      zp_shmtx_unlock(zp_shmtx_t *mtx);

/* For the master after reaping pid: releases the lock if pid held it and
 * wakes every sleeper. Returns 1 when it did, 0 otherwise. */
zp_uint_t zp_shmtx_force_unlock(zp_shmtx_t *mtx, zp_pid_t pid);

#endif /* ZP_SHMTX_H */
