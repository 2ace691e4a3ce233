/*
 * zp_config.h: the first header every zproxy source includes.
 * System headers and the machine-level types live here, so that the rest
 * of the tree can assume them.
 */
#ifndef ZP_CONFIG_H
#define ZP_CONFIG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <zp_auto_config.h>

#include <sys/types.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <glob.h>
#include <pwd.h>
#include <grp.h>
#include <sched.h>

typedef intptr_t  zp_int_t;
typedef uintptr_t zp_uint_t;
typedef intptr_t  zp_flag_t;
typedef unsigned char u_char;
typedef int       zp_fd_t;
typedef int       zp_err_t;
typedef pid_t     zp_pid_t;
typedef int       zp_socket_t;

#define ZP_INT_T_LEN  (sizeof("-9223372036854775808") - 1)
#define ZP_MAX_INT_T_VALUE  INTPTR_MAX
#define ZP_MAX_SIZE_T_VALUE SIZE_MAX
#define ZP_MAX_OFF_T_VALUE  INT64_MAX
#define ZP_OFF_T_LEN  (sizeof("-9223372036854775808") - 1)
#define ZP_TIME_T_LEN (sizeof("-9223372036854775808") - 1)

#define ZP_INVALID_FILE  -1
#define ZP_INVALID_PID   -1
#define ZP_FILE_ERROR    -1

#ifndef ZP_ALIGNMENT
#define ZP_ALIGNMENT sizeof(unsigned long)
#endif
#define zp_align(d, a)     (((d) + (a - 1)) & ~(a - 1))
#define zp_align_ptr(p, a) (u_char *)(((uintptr_t)(p) + ((uintptr_t)a - 1)) & ~((uintptr_t)a - 1))

#define zp_abs(value)      (((value) >= 0) ? (value) : -(value))
#define zp_max(val1, val2) ((val1 < val2) ? (val2) : (val1))
#define zp_min(val1, val2) ((val1 > val2) ? (val2) : (val1))
#define zp_nelems(a)       (sizeof(a) / sizeof((a)[0]))

#define zp_errno        errno
#define zp_socket_errno errno
#define zp_set_errno(e) errno = (e)

#define ZP_LINEFEED "\n"
#define LF    (u_char) '\n'
#define CR    (u_char) '\r'
#define CRLF  "\r\n"

#define zp_likely(x)   __builtin_expect(!!(x), 1)
#define zp_unlikely(x) __builtin_expect(!!(x), 0)

#define ZP_UNUSED(x) (void) (x)

#endif /* ZP_CONFIG_H */
