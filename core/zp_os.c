/*
 * zp_os.c: machine sizes read once at startup.
 */
#include <zp_config.h>
#include <zp_core.h>

zp_uint_t zp_pagesize;
zp_uint_t zp_pagesize_shift;
zp_uint_t zp_cacheline_size;
zp_uint_t zp_ncpu;


zp_int_t
zp_os_init_sizes(void)
{
    long      v;
    zp_uint_t n;

    v = sysconf(_SC_PAGESIZE);
    if (v <= 0 || (v & (v - 1)) != 0) {
        return ZP_ERROR;
    }

    zp_pagesize = (zp_uint_t) v;

    for (n = zp_pagesize, zp_pagesize_shift = 0; n >>= 1; zp_pagesize_shift++) {
        /* void */
    }

    /* Some kernels (and containers) report 0 here; 64 is right for every
     * x86-64 and most arm64 parts, and only padding depends on it. */
    v = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
    zp_cacheline_size = (v > 0 && (v & (v - 1)) == 0) ? (zp_uint_t) v : 64;

    v       = sysconf(_SC_NPROCESSORS_ONLN);
    zp_ncpu = (v > 0) ? (zp_uint_t) v : 1;

    return ZP_OK;
}
