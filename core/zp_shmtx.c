/*
 * zp_shmtx.c: a mutex shared by the master and the workers.
 *
 * Sleeping: a locker that gave up spinning increments sh->wait, re-reads
 * the lock word and sleeps with FUTEX_WAIT only while the word still
 * holds the value it read. The unlocker clears the word and then reads
 * sh->wait. Both sides use sequentially consistent atomics, so either
 * the unlocker sees the waiter and wakes it, or the waiter sees the word
 * change and does not sleep: no wake-up is lost.
 *
 * The futex is not FUTEX_PRIVATE: the word is in a MAP_SHARED mapping
 * and waiters are in different processes.
 */
#include <zp_config.h>
#include <zp_core.h>

#include <sys/syscall.h>
#include <linux/futex.h>

/* The lock word is zp_pid (zp_process.h), which each child resets after
 * fork(): a child still carrying the master's pid would lock as the
 * master. */


static inline void
zp_cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}


static void
zp_shmtx_futex_wait(uint32_t *addr, uint32_t val)
{
    /* EAGAIN (the word changed) and EINTR both just mean "look again" */
    (void) syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}


static void
zp_shmtx_futex_wake(uint32_t *addr, int n)
{
    (void) syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
}


zp_int_t
zp_shmtx_create(zp_shmtx_t *mtx, zp_shmtx_sh_t *addr)
{
    mtx->sh   = addr;
    mtx->spin = ZP_SHMTX_SPIN;

    __atomic_store_n(&addr->lock, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&addr->wait, 0, __ATOMIC_SEQ_CST);

    return ZP_OK;
}


void
zp_shmtx_destroy(zp_shmtx_t *mtx)
{
    /* nothing is allocated: the words go away with the zone */
    ZP_UNUSED(mtx);
}


zp_uint_t
zp_shmtx_trylock(zp_shmtx_t *mtx)
{
    uint32_t expected = 0;

    /* a plain load first keeps a contended line shared between CPUs */
    if (__atomic_load_n(&mtx->sh->lock, __ATOMIC_RELAXED) != 0) {
        return 0;
    }

    return __atomic_compare_exchange_n(&mtx->sh->lock, &expected, (uint32_t) zp_pid, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}


void
zp_shmtx_lock(zp_shmtx_t *mtx)
{
    zp_uint_t i, n;
    uint32_t  v;

    for (;;) {
        if (zp_shmtx_trylock(mtx)) {
            return;
        }

        /* spinning only helps when the holder runs on another CPU */
        if (zp_ncpu > 1) {
            for (n = 1; n < mtx->spin; n <<= 1) {
                for (i = 0; i < n; i++) {
                    zp_cpu_pause();
                }

                if (zp_shmtx_trylock(mtx)) {
                    return;
                }
            }
        }

        __atomic_add_fetch(&mtx->sh->wait, 1, __ATOMIC_SEQ_CST);

        v = __atomic_load_n(&mtx->sh->lock, __ATOMIC_SEQ_CST);
        if (v != 0) {
            zp_shmtx_futex_wait(&mtx->sh->lock, v);
        }

        __atomic_sub_fetch(&mtx->sh->wait, 1, __ATOMIC_SEQ_CST);
    }
}


void
zp_shmtx_unlock(zp_shmtx_t *mtx)
{
    uint32_t expected = (uint32_t) zp_pid;

    /* only the holder may unlock; anything else is a bug we must not
     * turn into releasing another process's lock */
    if (!__atomic_compare_exchange_n(&mtx->sh->lock, &expected, 0, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED)) {
        return;
    }

    if (__atomic_load_n(&mtx->sh->wait, __ATOMIC_SEQ_CST) != 0) {
        zp_shmtx_futex_wake(&mtx->sh->lock, 1);
    }
}


zp_uint_t
zp_shmtx_force_unlock(zp_shmtx_t *mtx, zp_pid_t pid)
{
    uint32_t expected = (uint32_t) pid;

    if (!__atomic_compare_exchange_n(&mtx->sh->lock, &expected, 0, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED)) {
        return 0;
    }

    /* A sleeper may have died too and left sh->wait too high; waking
     * everyone is cheap here and cannot strand a live waiter. */
    zp_shmtx_futex_wake(&mtx->sh->lock, INT_MAX);

    return 1;
}
