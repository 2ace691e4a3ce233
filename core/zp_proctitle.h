/*
 * zp_proctitle.h: process titles in ps(1).
 *
 * Linux has no setproctitle(): the title ps shows is the argv area, so we
 * overwrite it in place. The environment strings follow argv in memory;
 * zp_init_setproctitle() copies them elsewhere to free that space for
 * longer titles.
 */
#ifndef ZP_PROCTITLE_H
#define ZP_PROCTITLE_H

#include <zp_config.h>
#include <zp_core.h>

/* defined in zproxy.c: zp_os_argv is main()'s argv, zp_argv a copy that
 * stays readable after the title is overwritten */
extern int    zp_argc;
extern char **zp_argv;
extern char **zp_os_argv;

/* Moves the environment strings that follow argv to the heap (never
 * freed: environ points at them) so the whole area can hold a title.
 * Call once, after zp_argv has been copied. ZP_OK or ZP_ERROR (no
 * memory, logged). */
zp_int_t zp_init_setproctitle(zp_log_t *log);

/* Shows "zproxy: <title>" in ps and /proc/<pid>/cmdline, truncated to the
 * argv area, and names the thread "zproxy-<first word>" (at most 15
 * bytes) for ps -o comm and top. */
void zp_setproctitle(const char *title);

#endif /* ZP_PROCTITLE_H */
