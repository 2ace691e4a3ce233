/*
 * test_shmem.c: shared memory segments and the shared mutex.
 */
#include "zpt_unit.h"

/* normally defined by zp_process.c */

#define ZPT_ROUNDS 200000

typedef struct {
    zp_shmtx_sh_t lock;
    volatile long counter;
    volatile int  flag;
} zpt_shared_t;


static zp_shm_t
zpt_shm(size_t size)
{
    zp_shm_t shm;

    memset(&shm, 0, sizeof(shm));
    shm.size      = size;
    shm.name.len  = 4;
    shm.name.data = (u_char *) "test";
    shm.log       = zpt_log;

    zp_pid = getpid();
    (void) zp_os_init_sizes();

    ck_assert_int_eq(zp_shm_alloc(&shm), ZP_OK);

    return shm;
}


static void
zpt_wait_ok(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d status %d",
                  (int) pid, status);
}


START_TEST(test_shm_alloc_shared)
{
    zp_shm_t shm;
    size_t   i;
    pid_t    pid;

    shm = zpt_shm(1024 * 1024 + 1);

    /* fresh anonymous memory is zeroed and page aligned */
    ck_assert_uint_eq((uintptr_t) shm.addr % zp_pagesize, 0);
    for (i = 0; i < shm.size && shm.addr[i] == 0; i++) {
        /* void */
    }
    ck_assert_uint_eq(i, shm.size);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        memcpy(shm.addr, "from child", sizeof("from child"));
        shm.addr[shm.size - 1] = 0x5a;
        _exit(0);
    }
    zpt_wait_ok(pid);

    ck_assert_str_eq((char *) shm.addr, "from child");
    ck_assert_uint_eq(shm.addr[shm.size - 1], 0x5a);

    zp_shm_free(&shm);
    ck_assert_ptr_null(shm.addr);
    zp_shm_free(&shm);
}
END_TEST


START_TEST(test_shm_alloc_fails)
{
    zp_shm_t shm;
    char     tmpl[] = "/tmp/zpt_shm_log.XXXXXX";
    char     buf[512];
    ssize_t  n;
    zp_open_file_t file;
    zp_log_t log;

    memset(&shm, 0, sizeof(shm));
    memset(&file, 0, sizeof(file));
    memset(&log, 0, sizeof(log));
    file.fd = mkstemp(tmpl);
    unlink(tmpl);
    log.file      = &file;
    log.log_level = ZP_LOG_NOTICE;

    shm.size      = (size_t) -1 / 2;
    shm.name.len  = 3;
    shm.name.data = (u_char *) "big";
    shm.log       = &log;

    ck_assert_int_eq(zp_shm_alloc(&shm), ZP_ERROR);
    ck_assert_ptr_null(shm.addr);

    n = pread(file.fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "failed for zone \"big\""));
}
END_TEST


START_TEST(test_shmtx_trylock)
{
    zp_shm_t      shm;
    zpt_shared_t *sh;
    zp_shmtx_t    mtx;

    shm = zpt_shm(4096);
    sh  = (zpt_shared_t *) shm.addr;

    sh->lock.lock = 12345;
    ck_assert_int_eq(zp_shmtx_create(&mtx, &sh->lock), ZP_OK);
    ck_assert_uint_eq(sh->lock.lock, 0);

    ck_assert_uint_eq(zp_shmtx_trylock(&mtx), 1);
    ck_assert_uint_eq(sh->lock.lock, (uint32_t) getpid());

    /* not recursive */
    ck_assert_uint_eq(zp_shmtx_trylock(&mtx), 0);

    zp_shmtx_unlock(&mtx);
    ck_assert_uint_eq(sh->lock.lock, 0);

    zp_shmtx_lock(&mtx);
    ck_assert_uint_eq(sh->lock.lock, (uint32_t) getpid());
    zp_shmtx_unlock(&mtx);

    zp_shmtx_destroy(&mtx);
}
END_TEST


START_TEST(test_shmtx_unlock_not_holder)
{
    zp_shm_t      shm;
    zpt_shared_t *sh;
    zp_shmtx_t    mtx;
    pid_t         pid;

    shm = zpt_shm(4096);
    sh  = (zpt_shared_t *) shm.addr;
    zp_shmtx_create(&mtx, &sh->lock);

    zp_shmtx_lock(&mtx);

    /* a process that does not hold the lock cannot release it */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        zp_pid = getpid();
        zp_shmtx_unlock(&mtx);
        _exit(zp_shmtx_trylock(&mtx) ? 1 : 0);
    }
    zpt_wait_ok(pid);

    ck_assert_uint_eq(sh->lock.lock, (uint32_t) getpid());
    zp_shmtx_unlock(&mtx);
}
END_TEST


/* Several processes increment a plain counter under the lock; any lost
 * update means two of them were inside at once. */
static void
zpt_counter_run(int nproc, zp_uint_t spin)
{
    zp_shm_t      shm;
    zpt_shared_t *sh;
    zp_shmtx_t    mtx;
    pid_t         pids[8];
    int           k, i;
    long          c;

    shm = zpt_shm(4096);
    sh  = (zpt_shared_t *) shm.addr;
    zp_shmtx_create(&mtx, &sh->lock);
    mtx.spin = spin;

    for (k = 0; k < nproc; k++) {
        pids[k] = fork();
        ck_assert_int_ge(pids[k], 0);

        if (pids[k] == 0) {
            zp_pid = getpid();

            for (i = 0; i < ZPT_ROUNDS; i++) {
                zp_shmtx_lock(&mtx);
                c = sh->counter;
                /* widen the window a lost update would need */
                if ((i & 0xff) == 0) {
                    sched_yield();
                }
                sh->counter = c + 1;
                zp_shmtx_unlock(&mtx);
            }
            _exit(0);
        }
    }

    for (k = 0; k < nproc; k++) {
        zpt_wait_ok(pids[k]);
    }

    ck_assert_int_eq(sh->counter, (long) nproc * ZPT_ROUNDS);
    ck_assert_uint_eq(sh->lock.lock, 0);
    ck_assert_uint_eq(sh->lock.wait, 0);
}


START_TEST(test_shmtx_counter_2)
{
    zpt_counter_run(2, ZP_SHMTX_SPIN);
}
END_TEST


START_TEST(test_shmtx_counter_4_nospin)
{
    /* spin 1: every contended lock goes to the futex */
    zpt_counter_run(4, 1);
}
END_TEST


START_TEST(test_shmtx_force_unlock)
{
    zp_shm_t      shm;
    zpt_shared_t *sh;
    zp_shmtx_t    mtx;
    pid_t         dead, waiter;
    int           i;

    shm = zpt_shm(4096);
    sh  = (zpt_shared_t *) shm.addr;
    zp_shmtx_create(&mtx, &sh->lock);

    /* a worker takes the lock and dies with it */
    dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0) {
        zp_pid = getpid();
        zp_shmtx_lock(&mtx);
        _exit(0);
    }
    zpt_wait_ok(dead);

    ck_assert_uint_eq(sh->lock.lock, (uint32_t) dead);
    ck_assert_uint_eq(zp_shmtx_trylock(&mtx), 0);

    /* another worker blocks on it */
    waiter = fork();
    ck_assert_int_ge(waiter, 0);
    if (waiter == 0) {
        zp_pid = getpid();
        alarm(10);
        zp_shmtx_lock(&mtx);
        sh->flag = 1;
        zp_shmtx_unlock(&mtx);
        _exit(0);
    }

    for (i = 0; i < 100 && __atomic_load_n(&sh->lock.wait, __ATOMIC_SEQ_CST) == 0; i++) {
        usleep(10000);
    }
    ck_assert_uint_eq(sh->lock.wait, 1);
    ck_assert_int_eq(sh->flag, 0);

    /* the master releases only what the dead pid held */
    ck_assert_uint_eq(zp_shmtx_force_unlock(&mtx, waiter), 0);
    ck_assert_uint_eq(zp_shmtx_force_unlock(&mtx, getpid()), 0);
    ck_assert_uint_eq(sh->lock.lock, (uint32_t) dead);

    ck_assert_uint_eq(zp_shmtx_force_unlock(&mtx, dead), 1);
    zpt_wait_ok(waiter);

    ck_assert_int_eq(sh->flag, 1);
    ck_assert_uint_eq(sh->lock.lock, 0);
    ck_assert_uint_eq(zp_shmtx_trylock(&mtx), 1);
    zp_shmtx_unlock(&mtx);

    ck_assert_uint_eq(zp_shmtx_force_unlock(&mtx, dead), 0);
}
END_TEST


static Suite *
zpt_shmem_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_shmem");

    tc = tcase_create("shm");
    tcase_add_test(tc, test_shm_alloc_shared);
    tcase_add_test(tc, test_shm_alloc_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("shmtx");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_shmtx_trylock);
    tcase_add_test(tc, test_shmtx_unlock_not_holder);
    tcase_add_test(tc, test_shmtx_counter_2);
    tcase_add_test(tc, test_shmtx_counter_4_nospin);
    tcase_add_test(tc, test_shmtx_force_unlock);
    suite_add_tcase(s, tc);

    return s;
}


ZPT_MAIN(zpt_shmem_suite)
