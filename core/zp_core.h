/*
 * zp_core.h: return codes, forward typedefs and the core headers.
 * Every .c includes <zp_config.h> then <zp_core.h>.
 */
#ifndef ZP_CORE_H
#define ZP_CORE_H

#include <zp_types.h>

#define ZP_OK        0
#define ZP_ERROR    -1
#define ZP_AGAIN    -2
#define ZP_BUSY     -3
#define ZP_DONE     -4
#define ZP_DECLINED -5
#define ZP_ABORT    -6

#include <zp_string.h>
#include <zp_queue.h>
#include <zp_array.h>
#include <zp_list.h>
#include <zp_hash.h>
#include <zp_rbtree.h>
#include <zp_times.h>
#include <zp_log.h>
#include <zp_os.h>
#include <zp_palloc.h>
#include <zp_buf.h>
#include <zp_files.h>
#include <zp_shmtx.h>
#include <zp_shmem.h>
#include <zp_slab.h>
#include <zp_proctitle.h>
#include <zp_inet.h>
#include <zp_conf_file.h>
#include <zp_connection.h>
#include <zp_module.h>
#include <zp_cycle.h>
#include <zp_process.h>
#include <zp_event.h>
#include <zp_event_timer.h>
#include <zp_event_posted.h>

#endif /* ZP_CORE_H */
