/*
 * zp_slab.c: a slab allocator inside a shared memory zone.
 *
 * Zone layout:
 *
 *   zp_slab_pool_t | list head per size class | stats per size class |
 *   page descriptors | (padding to a page) | pages ...
 *
 * Page descriptor fields by kind (kind is in the low 2 bits of prev):
 *
 *   PAGE, run head, busy   slab = npages | START, next = NULL
 *   PAGE, run tail, busy   slab = BUSY, next = NULL
 *   PAGE, run head, free   slab = npages, linked in pool->free
 *   PAGE, last of a free run (npages > 1)
 *                          slab = 0, prev = run head (for merging backwards)
 *   SMALL  (chunk < exact) slab = shift; the bitmap sits in the first
 *                          chunks of the page itself, marked busy
 *   EXACT  (chunk = exact) slab = the bitmap: one bit per chunk, one word
 *   BIG    (chunk > exact) slab = bitmap << MAP_SHIFT | shift
 *
 * "exact" is the chunk size whose page has as many chunks as a word has
 * bits (64 bytes with 4K pages). Chunk pages with a free chunk are linked
 * in their size class list; full pages are unlinked (next = NULL) and put
 * back when a chunk is freed. An empty chunk page returns to the free
 * page runs, merged with the runs on either side.
 *
 * All pointers stored here point into the zone, which is mapped before
 * fork() at the same address in every process; see zp_shmem.h.
 */
#include <zp_config.h>
#include <zp_core.h>

#define ZP_SLAB_PAGE_MASK 3
#define ZP_SLAB_PAGE      0
#define ZP_SLAB_BIG       1
#define ZP_SLAB_EXACT     2
#define ZP_SLAB_SMALL     3

#define ZP_SLAB_BITS       (8 * sizeof(uintptr_t))
#define ZP_SLAB_PAGE_FREE  0
#define ZP_SLAB_PAGE_BUSY  (~(uintptr_t) 0)
#define ZP_SLAB_PAGE_START ((uintptr_t) 1 << (ZP_SLAB_BITS - 1))
#define ZP_SLAB_SHIFT_MASK 0x1f
#define ZP_SLAB_MAP_SHIFT  (ZP_SLAB_BITS / 2)
#define ZP_SLAB_MAP_MASK   (~(uintptr_t) 0 << ZP_SLAB_MAP_SHIFT)
#define ZP_SLAB_BUSY       (~(uintptr_t) 0)

#define zp_slab_slots(pool) ((zp_slab_page_t *) ((u_char *) (pool) + sizeof(zp_slab_pool_t)))

#define zp_slab_page_type(page) ((page)->prev & ZP_SLAB_PAGE_MASK)

#define zp_slab_page_prev(page) ((zp_slab_page_t *) ((page)->prev & ~(uintptr_t) ZP_SLAB_PAGE_MASK))

#define zp_slab_page_addr(pool, page)                                                              \
    ((((uintptr_t) ((page) - (pool)->pages)) << zp_pagesize_shift) + (uintptr_t) (pool)->start)

#if (ZP_DEBUG)
#define zp_slab_junk(p, size) zp_memset(p, 0xA5, size)
#else
#define zp_slab_junk(p, size)
#endif

zp_log_t *zp_slab_log;

static zp_uint_t zp_slab_max_size;
static zp_uint_t zp_slab_exact_size;
static zp_uint_t zp_slab_exact_shift;

static zp_slab_page_t *zp_slab_alloc_pages(zp_slab_pool_t *pool, zp_uint_t pages);
static void zp_slab_free_pages(zp_slab_pool_t *pool, zp_slab_page_t *page, zp_uint_t pages);
static void zp_slab_error(zp_slab_pool_t *pool, zp_uint_t level, const char *text);


void
zp_slab_sizes_init(void)
{
    zp_uint_t n;

    if (zp_pagesize == 0) {
        (void) zp_os_init_sizes();
    }

    zp_slab_max_size   = zp_pagesize / 2;
    zp_slab_exact_size = zp_pagesize / ZP_SLAB_BITS;

    for (n = zp_slab_exact_size, zp_slab_exact_shift = 0; n >>= 1; zp_slab_exact_shift++) {
        /* void */
    }
}


/* Chunks at the start of a SMALL page that hold its bitmap. */
static zp_uint_t
zp_slab_small_reserved(zp_uint_t shift)
{
    zp_uint_t bytes, n;

    bytes = (zp_pagesize >> shift) / 8;
    n     = (bytes + ((zp_uint_t) 1 << shift) - 1) >> shift;

    return n;
}


zp_int_t
zp_slab_init(zp_slab_pool_t *pool)
{
    u_char         *p;
    size_t          size;
    zp_int_t        m;
    zp_uint_t       i, n, pages;
    zp_slab_page_t *slots, *page;

    if (zp_slab_max_size == 0) {
        zp_slab_sizes_init();
    }

    if (pool->min_shift == 0) {
        pool->min_shift = 3;
    }

    pool->min_size = (size_t) 1 << pool->min_shift;

    slots = zp_slab_slots(pool);
    p     = (u_char *) slots;

    n = zp_pagesize_shift - pool->min_shift;

    if (p + n * (sizeof(zp_slab_page_t) + sizeof(zp_slab_stat_t)) >= pool->end) {
        return ZP_ERROR;
    }

    size = pool->end - p;
    zp_slab_junk(p, size);

    for (i = 0; i < n; i++) {
        /* an empty size class list points to itself */
        slots[i].slab = 0;
        slots[i].next = &slots[i];
        slots[i].prev = 0;
    }

    p += n * sizeof(zp_slab_page_t);

    pool->stats = (zp_slab_stat_t *) p;
    zp_memzero(pool->stats, n * sizeof(zp_slab_stat_t));

    p += n * sizeof(zp_slab_stat_t);

    size -= n * (sizeof(zp_slab_page_t) + sizeof(zp_slab_stat_t));

    pages       = (zp_uint_t) (size / (zp_pagesize + sizeof(zp_slab_page_t)));
    pool->pages = (zp_slab_page_t *) p;

    pool->start = zp_align_ptr(p + pages * sizeof(zp_slab_page_t), zp_pagesize);

    /* aligning the first page may have cost the last one */
    m = (zp_int_t) pages - (pool->end - pool->start) / (zp_int_t) zp_pagesize;
    if (m > 0) {
        pages -= (zp_uint_t) m;
    }

    if (pages == 0 || pool->start >= pool->end) {
        return ZP_ERROR;
    }

    zp_memzero(pool->pages, pages * sizeof(zp_slab_page_t));

    page = pool->pages;

    pool->free.slab = 0;
    pool->free.next = page;
    pool->free.prev = 0;

    page->slab = pages;
    page->next = &pool->free;
    page->prev = (uintptr_t) &pool->free;

    if (pages > 1) {
        page[pages - 1].prev = (uintptr_t) page;
    }

    pool->last  = pool->pages + pages;
    pool->pfree = pages;

    pool->log_nomem = 1;
    pool->zero      = '\0';
    pool->log_ctx   = &pool->zero;

    return ZP_OK;
}


zp_int_t
zp_slab_init_zone(zp_shm_zone_t *zone, zp_log_t *log)
{
    zp_slab_pool_t *sp;

    sp          = (zp_slab_pool_t *) zone->shm.addr;
    zp_slab_log = log;

    if (zone->shm.exists) {
        /* the pointers inside are only valid at the old address */
        if (sp == sp->addr) {
            return ZP_OK;
        }

        zp_log_error(ZP_LOG_EMERG, log, 0, "shared zone \"%V\" moved from %p to %p",
                     &zone->shm.name, sp->addr, (void *) sp);
        return ZP_ERROR;
    }

    if (zone->shm.size < sizeof(zp_slab_pool_t)) {
        goto small;
    }

    sp->end       = zone->shm.addr + zone->shm.size;
    sp->min_shift = 3;
    sp->addr      = zone->shm.addr;

    (void) zp_shmtx_create(&sp->mutex, &sp->lock);

    if (zp_slab_init(sp) != ZP_OK) {
        goto small;
    }

    return ZP_OK;

small:

    zp_log_error(ZP_LOG_EMERG, log, 0, "shared zone \"%V\" is too small: %uz bytes",
                 &zone->shm.name, zone->shm.size);
    return ZP_ERROR;
}


void *
zp_slab_alloc(zp_slab_pool_t *pool, size_t size)
{
    void *p;

    zp_shmtx_lock(&pool->mutex);
    p = zp_slab_alloc_locked(pool, size);
    zp_shmtx_unlock(&pool->mutex);

    return p;
}


void *
zp_slab_calloc(zp_slab_pool_t *pool, size_t size)
{
    void *p;

    zp_shmtx_lock(&pool->mutex);
    p = zp_slab_calloc_locked(pool, size);
    zp_shmtx_unlock(&pool->mutex);

    return p;
}


void *
zp_slab_calloc_locked(zp_slab_pool_t *pool, size_t size)
{
    void *p;

    p = zp_slab_alloc_locked(pool, size);
    if (p) {
        zp_memzero(p, size);
    }

    return p;
}


/* Unlinks a chunk page that has just become full from its size list. */
static void
zp_slab_unlink_full(zp_slab_page_t *page, uintptr_t type)
{
    zp_slab_page_t *prev;

    prev             = zp_slab_page_prev(page);
    prev->next       = page->next;
    page->next->prev = page->prev;

    page->next = NULL;
    page->prev = type;
}


/* Links a chunk page at the head of its size list. */
static void
zp_slab_link(zp_slab_page_t *slot, zp_slab_page_t *page, uintptr_t type)
{
    page->next       = slot->next;
    slot->next       = page;
    page->prev       = (uintptr_t) slot | type;
    page->next->prev = (uintptr_t) page | type;
}


/* Takes a free chunk from a page of the list, or 0 if the page has none
 * (which would mean the list is corrupt). */
static uintptr_t
zp_slab_alloc_chunk(zp_slab_pool_t *pool, zp_slab_page_t *page, zp_uint_t shift)
{
    uintptr_t  m, mask, *bitmap;
    zp_uint_t  i, n, map;

    if (shift < zp_slab_exact_shift) {
        bitmap = (uintptr_t *) zp_slab_page_addr(pool, page);
        map    = (zp_pagesize >> shift) / ZP_SLAB_BITS;

        for (n = 0; n < map; n++) {
            if (bitmap[n] == ZP_SLAB_BUSY) {
                continue;
            }

            for (m = 1, i = 0; bitmap[n] & m; m <<= 1, i++) {
                /* void */
            }

            bitmap[n] |= m;

            if (bitmap[n] == ZP_SLAB_BUSY) {
                /* words before n were full already */
                for (map--; map > n && bitmap[map] == ZP_SLAB_BUSY; map--) {
                    /* void */
                }

                if (map == n) {
                    zp_slab_unlink_full(page, ZP_SLAB_SMALL);
                }
            }

            return (uintptr_t) bitmap + ((n * ZP_SLAB_BITS + i) << shift);
        }

        return 0;
    }

    if (shift == zp_slab_exact_shift) {
        if (page->slab == ZP_SLAB_BUSY) {
            return 0;
        }

        for (m = 1, i = 0; page->slab & m; m <<= 1, i++) {
            /* void */
        }

        page->slab |= m;

        if (page->slab == ZP_SLAB_BUSY) {
            zp_slab_unlink_full(page, ZP_SLAB_EXACT);
        }

        return zp_slab_page_addr(pool, page) + (i << shift);
    }

    mask = (((uintptr_t) 1 << (zp_pagesize >> shift)) - 1) << ZP_SLAB_MAP_SHIFT;

    for (m = (uintptr_t) 1 << ZP_SLAB_MAP_SHIFT, i = 0; m & mask; m <<= 1, i++) {
        if (page->slab & m) {
            continue;
        }

        page->slab |= m;

        if ((page->slab & ZP_SLAB_MAP_MASK) == mask) {
            zp_slab_unlink_full(page, ZP_SLAB_BIG);
        }

        return zp_slab_page_addr(pool, page) + (i << shift);
    }

    return 0;
}


/* Turns a fresh page into a chunk page of the given shift, links it and
 * returns its first free chunk. */
static uintptr_t
zp_slab_new_chunk_page(zp_slab_pool_t *pool, zp_slab_page_t *page, zp_uint_t shift,
                       zp_slab_page_t *slot, zp_slab_stat_t *stat)
{
    uintptr_t *bitmap;
    zp_uint_t  i, n, map;

    if (shift < zp_slab_exact_shift) {
        bitmap = (uintptr_t *) zp_slab_page_addr(pool, page);
        map    = (zp_pagesize >> shift) / ZP_SLAB_BITS;
        n      = zp_slab_small_reserved(shift);

        for (i = 0; i < map; i++) {
            bitmap[i] = 0;
        }

        /* the bitmap's own chunks, and the one being handed out */
        for (i = 0; i <= n; i++) {
            bitmap[i / ZP_SLAB_BITS] |= (uintptr_t) 1 << (i % ZP_SLAB_BITS);
        }

        page->slab = shift;
        zp_slab_link(slot, page, ZP_SLAB_SMALL);

        stat->total += (zp_pagesize >> shift) - n;

        return (uintptr_t) bitmap + (n << shift);
    }

    if (shift == zp_slab_exact_shift) {
        page->slab = 1;
        zp_slab_link(slot, page, ZP_SLAB_EXACT);

        stat->total += ZP_SLAB_BITS;

        return zp_slab_page_addr(pool, page);
    }

    page->slab = ((uintptr_t) 1 << ZP_SLAB_MAP_SHIFT) | shift;
    zp_slab_link(slot, page, ZP_SLAB_BIG);

    stat->total += zp_pagesize >> shift;

    return zp_slab_page_addr(pool, page);
}


void *
zp_slab_alloc_locked(zp_slab_pool_t *pool, size_t size)
{
    size_t          s;
    uintptr_t       p;
    zp_uint_t       shift, slot;
    zp_slab_page_t *page, *slots;

    if (size > zp_slab_max_size) {
        page = zp_slab_alloc_pages(pool, (zp_uint_t) ((size >> zp_pagesize_shift)
                                                      + ((size % zp_pagesize) ? 1 : 0)));
        p = page ? zp_slab_page_addr(pool, page) : 0;
        goto done;
    }

    if (size > pool->min_size) {
        shift = 1;
        for (s = size - 1; s >>= 1; shift++) {
            /* void */
        }
        slot = shift - pool->min_shift;

    } else {
        shift = pool->min_shift;
        slot  = 0;
    }

    pool->stats[slot].reqs++;

    slots = zp_slab_slots(pool);
    page  = slots[slot].next;

    if (page != &slots[slot]) {
        p = zp_slab_alloc_chunk(pool, page, shift);
        if (p) {
            pool->stats[slot].used++;
            goto done;
        }

        zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_alloc(): page is busy");
    }

    page = zp_slab_alloc_pages(pool, 1);

    if (page) {
        p = zp_slab_new_chunk_page(pool, page, shift, &slots[slot], &pool->stats[slot]);
        pool->stats[slot].used++;
        goto done;
    }

    p = 0;
    pool->stats[slot].fails++;

done:

    return (void *) p;
}


void
zp_slab_free(zp_slab_pool_t *pool, void *p)
{
    zp_shmtx_lock(&pool->mutex);
    zp_slab_free_locked(pool, p);
    zp_shmtx_unlock(&pool->mutex);
}


/* Whether a SMALL page has no chunk in use besides its bitmap. */
static zp_uint_t
zp_slab_small_empty(uintptr_t *bitmap, zp_uint_t shift)
{
    uintptr_t reserved;
    zp_uint_t i, n, map;

    n   = zp_slab_small_reserved(shift);
    map = (zp_pagesize >> shift) / ZP_SLAB_BITS;

    for (i = 0; i < map; i++) {
        if (n >= (i + 1) * ZP_SLAB_BITS) {
            reserved = ZP_SLAB_BUSY;
        } else if (n <= i * ZP_SLAB_BITS) {
            reserved = 0;
        } else {
            reserved = ((uintptr_t) 1 << (n - i * ZP_SLAB_BITS)) - 1;
        }

        if (bitmap[i] & ~reserved) {
            return 0;
        }
    }

    return 1;
}


void
zp_slab_free_locked(zp_slab_pool_t *pool, void *p)
{
    size_t          size;
    uintptr_t       slab, m, *bitmap;
    zp_uint_t       i, n, type, slot, shift;
    zp_slab_page_t *slots, *page;

    if ((u_char *) p < pool->start) {
        goto outside;
    }

    n = (zp_uint_t) (((u_char *) p - pool->start) >> zp_pagesize_shift);
    if (n >= (zp_uint_t) (pool->last - pool->pages)) {
        goto outside;
    }

    page  = &pool->pages[n];
    slab  = page->slab;
    type  = zp_slab_page_type(page);
    slots = zp_slab_slots(pool);

    switch (type) {

    case ZP_SLAB_SMALL:

        shift = slab & ZP_SLAB_SHIFT_MASK;
        size  = (size_t) 1 << shift;

        if ((uintptr_t) p & (size - 1)) {
            goto wrong_chunk;
        }

        i = ((uintptr_t) p & (zp_pagesize - 1)) >> shift;
        if (i < zp_slab_small_reserved(shift)) {
            goto wrong_chunk;
        }

        m      = (uintptr_t) 1 << (i % ZP_SLAB_BITS);
        i     /= ZP_SLAB_BITS;
        bitmap = (uintptr_t *) ((uintptr_t) p & ~((uintptr_t) zp_pagesize - 1));

        if (!(bitmap[i] & m)) {
            goto chunk_already_free;
        }

        slot = shift - pool->min_shift;

        if (page->next == NULL) {
            zp_slab_link(&slots[slot], page, ZP_SLAB_SMALL);
        }

        bitmap[i] &= ~m;

        if (zp_slab_small_empty(bitmap, shift)) {
            pool->stats[slot].total -= (zp_pagesize >> shift) - zp_slab_small_reserved(shift);
            zp_slab_free_pages(pool, page, 1);
        }

        goto chunk_free;

    case ZP_SLAB_EXACT:

        shift = zp_slab_exact_shift;
        size  = zp_slab_exact_size;

        if ((uintptr_t) p & (size - 1)) {
            goto wrong_chunk;
        }

        m = (uintptr_t) 1 << (((uintptr_t) p & (zp_pagesize - 1)) >> shift);

        if (!(slab & m)) {
            goto chunk_already_free;
        }

        slot = shift - pool->min_shift;

        if (page->next == NULL) {
            zp_slab_link(&slots[slot], page, ZP_SLAB_EXACT);
        }

        page->slab &= ~m;

        if (page->slab == 0) {
            pool->stats[slot].total -= ZP_SLAB_BITS;
            zp_slab_free_pages(pool, page, 1);
        }

        goto chunk_free;

    case ZP_SLAB_BIG:

        shift = slab & ZP_SLAB_SHIFT_MASK;
        size  = (size_t) 1 << shift;

        if ((uintptr_t) p & (size - 1)) {
            goto wrong_chunk;
        }

        m = (uintptr_t) 1 << ((((uintptr_t) p & (zp_pagesize - 1)) >> shift) + ZP_SLAB_MAP_SHIFT);

        if (!(slab & m)) {
            goto chunk_already_free;
        }

        slot = shift - pool->min_shift;

        if (page->next == NULL) {
            zp_slab_link(&slots[slot], page, ZP_SLAB_BIG);
        }

        page->slab &= ~m;

        if ((page->slab & ZP_SLAB_MAP_MASK) == 0) {
            pool->stats[slot].total -= zp_pagesize >> shift;
            zp_slab_free_pages(pool, page, 1);
        }

        goto chunk_free;

    default: /* ZP_SLAB_PAGE */

        if ((uintptr_t) p & (zp_pagesize - 1)) {
            goto wrong_chunk;
        }

        /* BUSY has the START bit too: test it first */
        if (slab == ZP_SLAB_PAGE_BUSY) {
            zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_free(): pointer to wrong page");
            return;
        }

        if (!(slab & ZP_SLAB_PAGE_START)) {
            zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_free(): page is already free");
            return;
        }

        n = slab & ~ZP_SLAB_PAGE_START;

        zp_slab_free_pages(pool, page, n);
        zp_slab_junk(p, n << zp_pagesize_shift);

        return;
    }

chunk_free:

    pool->stats[slot].used--;
    zp_slab_junk(p, size);

    return;

wrong_chunk:

    zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_free(): pointer to wrong chunk");
    return;

chunk_already_free:

    zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_free(): chunk is already free");
    return;

outside:

    zp_slab_error(pool, ZP_LOG_ALERT, "zp_slab_free(): outside of pool");
}


/* First fit over the free runs; the remainder of a longer run stays in
 * the list in the same place. */
static zp_slab_page_t *
zp_slab_alloc_pages(zp_slab_pool_t *pool, zp_uint_t pages)
{
    zp_slab_page_t *page, *p, *rest;

    for (page = pool->free.next; page != &pool->free; page = page->next) {

        if (page->slab < pages) {
            continue;
        }

        if (page->slab > pages) {
            rest = &page[pages];

            page[page->slab - 1].prev = (uintptr_t) rest;

            rest->slab = page->slab - pages;
            rest->next = page->next;
            rest->prev = page->prev;

            p                = zp_slab_page_prev(page);
            p->next          = rest;
            page->next->prev = (uintptr_t) rest;

        } else {
            p                = zp_slab_page_prev(page);
            p->next          = page->next;
            page->next->prev = page->prev;
        }

        page->slab = pages | ZP_SLAB_PAGE_START;
        page->next = NULL;
        page->prev = ZP_SLAB_PAGE;

        pool->pfree -= pages;

        for (p = page + 1; --pages; p++) {
            p->slab = ZP_SLAB_PAGE_BUSY;
            p->next = NULL;
            p->prev = ZP_SLAB_PAGE;
        }

        return page;
    }

    if (pool->log_nomem) {
        /* once per zone: a full zone would otherwise log on every request */
        pool->log_nomem = 0;
        zp_slab_error(pool, ZP_LOG_CRIT, "zp_slab_alloc() failed: no memory");
    }

    return NULL;
}


static void
zp_slab_free_pages(zp_slab_pool_t *pool, zp_slab_page_t *page, zp_uint_t pages)
{
    zp_slab_page_t *prev, *join;

    pool->pfree += pages;

    page->slab = pages--;

    if (pages) {
        zp_memzero(&page[1], pages * sizeof(zp_slab_page_t));
    }

    /* a chunk page that was still in its size list */
    if (page->next) {
        prev             = zp_slab_page_prev(page);
        prev->next       = page->next;
        page->next->prev = page->prev;
    }

    join = page + page->slab;

    if (join < pool->last && zp_slab_page_type(join) == ZP_SLAB_PAGE && join->next != NULL) {
        /* the following run is free: absorb it */
        pages      += join->slab;
        page->slab += join->slab;

        prev             = zp_slab_page_prev(join);
        prev->next       = join->next;
        join->next->prev = join->prev;

        join->slab = ZP_SLAB_PAGE_FREE;
        join->next = NULL;
        join->prev = ZP_SLAB_PAGE;
    }

    if (page > pool->pages) {
        join = page - 1;

        if (zp_slab_page_type(join) == ZP_SLAB_PAGE) {

            if (join->slab == ZP_SLAB_PAGE_FREE) {
                /* the last page of a longer free run knows its head */
                join = zp_slab_page_prev(join);
            }

            if (join->next != NULL) {
                /* the preceding run is free: join it */
                pages      += join->slab;
                join->slab += page->slab;

                prev             = zp_slab_page_prev(join);
                prev->next       = join->next;
                join->next->prev = join->prev;

                page->slab = ZP_SLAB_PAGE_FREE;
                page->next = NULL;
                page->prev = ZP_SLAB_PAGE;

                page = join;
            }
        }
    }

    if (pages) {
        page[pages].prev = (uintptr_t) page;
    }

    page->prev           = (uintptr_t) &pool->free;
    page->next           = pool->free.next;
    page->next->prev     = (uintptr_t) page;
    pool->free.next      = page;
}


static void
zp_slab_error(zp_slab_pool_t *pool, zp_uint_t level, const char *text)
{
    zp_log_t *log;

    log = zp_slab_log ? zp_slab_log : &zp_log_stderr_log;

    zp_log_error(level, log, 0, "%s%s", text, pool->log_ctx);
}
