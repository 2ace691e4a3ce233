/*
 * zp_shmem.c: shared memory segments.
 *
 * Anonymous shared mappings need no file or name in the file system and
 * vanish with the last process that maps them; they are shared only with
 * children forked after the mmap(), which is exactly master + workers.
 */
#include <zp_config.h>
#include <zp_core.h>


zp_int_t
zp_shm_alloc(zp_shm_t *shm)
{
    void *p;

    p = mmap(NULL, shm->size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0);

    if (p == MAP_FAILED) {
        if (shm->log) {
            zp_log_error(ZP_LOG_ALERT, shm->log, zp_errno,
                         "mmap(MAP_ANONYMOUS|MAP_SHARED, %uz) failed for zone \"%V\"",
                         shm->size, &shm->name);
        }
        return ZP_ERROR;
    }

    shm->addr = p;

    return ZP_OK;
}


void
zp_shm_free(zp_shm_t *shm)
{
    if (shm->addr == NULL) {
        return;
    }

    if (munmap(shm->addr, shm->size) == -1 && shm->log) {
        zp_log_error(ZP_LOG_ALERT, shm->log, zp_errno, "munmap(%p, %uz) failed for zone \"%V\"",
                     shm->addr, shm->size, &shm->name);
    }

    shm->addr = NULL;
}
