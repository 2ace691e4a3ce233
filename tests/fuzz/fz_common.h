/*
 * fz_common.h: what the fuzz targets share: an invariant check that makes
 * libFuzzer keep the input, and the random split of an input into the
 * pieces a socket would deliver.
 */
#ifndef FZ_COMMON_H
#define FZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)


/* splitmix64: the split depends on the input only, so a crash replays */
static inline uint64_t
fz_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


/* The size of the next piece of the left bytes: all of them when not
 * split, else 1..max_piece. */
static inline size_t
fz_piece_size(size_t left, int split, size_t max_piece, uint64_t *rng)
{
    size_t n;

    if (!split || left == 0) {
        return left;
    }

    n = 1 + (size_t) (fz_next(rng) % max_piece);
    return n > left ? left : n;
}

#endif /* FZ_COMMON_H */
