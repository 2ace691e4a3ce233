/*
 * zp_proctitle.c: process titles in ps(1).
 */
#include <zp_config.h>
#include <zp_core.h>

#include <sys/prctl.h>

extern char **environ;

/* one past the last byte of the contiguous argv (+ moved environ) area */
/* defined here rather than next to main() so that tests linking the
 * library need not provide them */
int    zp_argc;
char **zp_argv;
char **zp_os_argv;

static char *zp_os_argv_last;


zp_int_t
zp_init_setproctitle(zp_log_t *log)
{
    char     *p;
    size_t    size;
    zp_uint_t i;

    size = 0;

    for (i = 0; environ[i]; i++) {
        size += strlen(environ[i]) + 1;
    }

    p = malloc(size ? size : 1);
    if (p == NULL) {
        zp_log_error(ZP_LOG_EMERG, log, zp_errno, "malloc(%uz) failed", size);
        return ZP_ERROR;
    }

    /* only strings packed right after each other can be reused; a
     * launcher may have put them elsewhere */
    zp_os_argv_last = zp_os_argv[0];

    for (i = 0; zp_os_argv[i]; i++) {
        if (zp_os_argv_last == zp_os_argv[i]) {
            zp_os_argv_last = zp_os_argv[i] + strlen(zp_os_argv[i]) + 1;
        }
    }

    for (i = 0; environ[i]; i++) {
        if (zp_os_argv_last == environ[i]) {
            size            = strlen(environ[i]) + 1;
            zp_os_argv_last = environ[i] + size;

            memcpy(p, environ[i], size);
            environ[i] = p;
            p += size;
        }
    }

    return ZP_OK;
}


void
zp_setproctitle(const char *title)
{
    char   comm[16];
    char  *p;
    size_t n, len;

    if (zp_os_argv_last != NULL) {
        /* ps stops at the first argv entry that is NULL */
        zp_os_argv[1] = NULL;

        p   = zp_os_argv[0];
        len = (size_t) (zp_os_argv_last - p);

        /* keep the final byte for the NUL */
        n = zp_min(sizeof("zproxy: ") - 1, len - 1);
        memcpy(p, "zproxy: ", n);
        p += n;

        n = zp_min(strlen(title), (size_t) (zp_os_argv_last - p) - 1);
        memcpy(p, title, n);
        p += n;

        /* NUL padding, so that ps does not show leftovers of the old
         * arguments and environment */
        memset(p, '\0', (size_t) (zp_os_argv_last - p));
    }

    /* "zproxy-master", "zproxy-worker": still found by pgrep zproxy */
    n = strcspn(title, " ");
    (void) snprintf(comm, sizeof(comm), "zproxy-%.*s", (int) n, title);
    (void) prctl(PR_SET_NAME, (unsigned long) comm, 0, 0, 0);
}
