/*
 * zp_os.h: machine sizes read once at startup.
 */
#ifndef ZP_OS_H
#define ZP_OS_H

#include <zp_config.h>
#include <zp_core.h>

/* Set by zp_os_init_sizes(); read-only afterwards, so forked workers
 * inherit them without locking. */
extern zp_uint_t zp_pagesize;
extern zp_uint_t zp_pagesize_shift;
extern zp_uint_t zp_cacheline_size;
extern zp_uint_t zp_ncpu;

/* Reads the page size, cache line size and online CPU count with
 * sysconf(). Safe to call more than once. Returns ZP_OK, or ZP_ERROR when
 * the page size is unknown or not a power of two. */
zp_int_t zp_os_init_sizes(void);

#endif /* ZP_OS_H */
