/*
 * zp_string.h: counted strings, byte helpers, number parsing and the
 * zproxy printf family.
 *
 * Strings are zp_str_t: a length and a pointer, with no NUL promised. The
 * printf family knows zproxy's own types (%V for a zp_str_t, %O for off_t,
 * %M for milliseconds ...), always takes the end of the buffer and returns
 * where it stopped, so callers can keep appending without strlen().
 */
#ifndef ZP_STRING_H
#define ZP_STRING_H

#include <zp_config.h>
#include <zp_core.h>

typedef struct {
    size_t  len;
    u_char *data;
} zp_str_t;

typedef struct {
    zp_str_t key;
    zp_str_t value;
} zp_keyval_t;

#define zp_string(str)                                                                             \
    {                                                                                              \
        sizeof(str) - 1, (u_char *)str                                                             \
    }
#define zp_null_string                                                                             \
    {                                                                                              \
        0, NULL                                                                                    \
    }
#define zp_str_set(str, text)                                                                      \
    do {                                                                                           \
        (str)->len  = sizeof(text) - 1;                                                            \
        (str)->data = (u_char *)text;                                                              \
    } while (0)
#define zp_str_null(str)                                                                           \
    do {                                                                                           \
        (str)->len  = 0;                                                                           \
        (str)->data = NULL;                                                                        \
    } while (0)

/* ASCII only on purpose: protocol tokens must not follow the C locale. */
#define zp_tolower(c) ((u_char)(((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c)))
#define zp_toupper(c) ((u_char)(((c) >= 'a' && (c) <= 'z') ? ((c) & ~0x20) : (c)))

#define zp_strncmp(s1, s2, n) strncmp((const char *)(s1), (const char *)(s2), n)
#define zp_strcmp(s1, s2)     strcmp((const char *)(s1), (const char *)(s2))
#define zp_strlen(s)          strlen((const char *)(s))
#define zp_strchr(s, c)       ((u_char *)strchr((const char *)(s), (int)(c)))
#define zp_strstr(s1, s2)     ((u_char *)strstr((const char *)(s1), (const char *)(s2)))

#define zp_memzero(buf, n)      (void)memset(buf, 0, n)
#define zp_memset(buf, c, n)    (void)memset(buf, c, n)
#define zp_memcpy(dst, src, n)  (void)memcpy(dst, src, n)
#define zp_cpymem(dst, src, n)  (((u_char *)memcpy(dst, src, n)) + (n))
#define zp_memmove(dst, src, n) (void)memmove(dst, src, n)
#define zp_movemem(dst, src, n) (((u_char *)memmove(dst, src, n)) + (n))
#define zp_memcmp(s1, s2, n)    memcmp((const char *)(s1), (const char *)(s2), n)

/* zp_str_t equality, case-sensitive and not (the latter, like
 * zp_strncasecmp(), stops at a NUL byte: use it on tokens, not binary). */
#define zp_str_eq(a, b) ((a)->len == (b)->len && zp_memcmp((a)->data, (b)->data, (a)->len) == 0)
#define zp_str_caseeq(a, b)                                                                        \
    ((a)->len == (b)->len && zp_strncasecmp((a)->data, (b)->data, (a)->len) == 0)

/* First c in [p, last), or NULL: memchr over a range, for parsers. */
static inline u_char *
zp_strlchr(u_char *p, u_char *last, u_char c)
{
    if (p >= last) {
        return NULL;
    }
    return memchr(p, c, (size_t)(last - p));
}

/* Lower-cases n bytes of src into dst (which may equal src). */
void zp_strlow(u_char *dst, u_char *src, size_t n);

/* Copies at most n - 1 bytes of the NUL-terminated src and always
 * terminates dst when n > 0. Returns a pointer to the written NUL (or dst
 * itself when n == 0). */
u_char *zp_cpystrn(u_char *dst, u_char *src, size_t n);

/* Copies src->data into pool memory; no NUL is added. NULL on failure. */
u_char *zp_pstrdup(zp_pool_t *pool, zp_str_t *src);

/* ASCII case-insensitive compares, returning <0, 0 or >0. */
zp_int_t zp_strcasecmp(u_char *s1, u_char *s2);
zp_int_t zp_strncasecmp(u_char *s1, u_char *s2, size_t n);

/* Finds s2 (n bytes, already lower-case) case-insensitively in [s1, last).
 * Note: n is the whole length of s2, unlike nginx's "length - 1".
 * Returns the match start or NULL. */
u_char *zp_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n);

/*
 * Decimal and hex parsers: the whole of [line, line + n) must be digits;
 * an empty input, any other byte or an overflow returns ZP_ERROR (-1).
 * No sign is accepted.
 */
zp_int_t zp_atoi(u_char *line, size_t n);
ssize_t  zp_atosz(u_char *line, size_t n);
off_t    zp_atoof(u_char *line, size_t n);
time_t   zp_atotm(u_char *line, size_t n);
zp_int_t zp_hextoi(u_char *line, size_t n);

/* Writes 2 * len lower-case hex digits of src to dst; returns the end. */
u_char *zp_hex_dump(u_char *dst, u_char *src, size_t len);

/*
 * Copies src to [dst, last) for a log line, with '"', '\\' and every byte
 * outside 0x20-0x7e written as \xHH (as the access log's escape=default),
 * so a client's bytes cannot forge or break a line. Stops at the last
 * whole byte that fits; returns the end.
 */
u_char *zp_escape_text(u_char *dst, u_char *last, u_char *src, size_t len);

/*
 * The printf family. Formats (width, '0' padding and x/X hex apply to the
 * integer ones):
 *
 *   %[0][width][x|X]O  off_t             %[0][width]T   time_t
 *   %M   zp_msec_t (uint64_t), (zp_msec_t) -1 prints as -1
 *   %z   ssize_t        %uz  size_t       %i   zp_int_t   %ui  zp_uint_t
 *   %d   int            %ud  u_int        %l   long       %ul  u_long
 *   %D   int32_t        %uD  uint32_t     %L   int64_t    %uL  uint64_t
 *   %A   zp_int_t (atomic counters)       %P   zp_pid_t
 *   %[0][width][.prec]f  double           %p   void *, zero-padded hex
 *   %V   zp_str_t *     %s   NUL-terminated string   %*s  size_t, then data
 *   %c   char (int)     %Z   '\0'         %N   '\n'   %%   '%'
 *
 * Nothing is written at or past last, and no NUL is added: use %Z for
 * that. The return value is the end of what was written.
 */
u_char *zp_sprintf(u_char *buf, const char *fmt, ...);
u_char *zp_snprintf(u_char *buf, size_t max, const char *fmt, ...);
u_char *zp_slprintf(u_char *buf, u_char *last, const char *fmt, ...);
u_char *zp_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args);
#define zp_vsnprintf(buf, max, fmt, args) zp_vslprintf(buf, (buf) + (max), fmt, args)

/*
 * Base64 (RFC 4648). Encoding always succeeds; dst->data must hold
 * zp_base64_encoded_length(src->len) bytes. Decoding rejects bytes outside
 * the alphabet and returns ZP_ERROR; dst->data must hold
 * zp_base64_decoded_length(src->len) bytes. The url variant uses "-_" and
 * takes input without '=' padding (as JWT does).
 */
#define zp_base64_encoded_length(len) (((len) + 2) / 3 * 4)
#define zp_base64_decoded_length(len) (((len) + 3) / 4 * 3)

void     zp_encode_base64(zp_str_t *dst, zp_str_t *src);
void     zp_encode_base64url(zp_str_t *dst, zp_str_t *src);
zp_int_t zp_decode_base64(zp_str_t *dst, zp_str_t *src);
zp_int_t zp_decode_base64url(zp_str_t *dst, zp_str_t *src);

#endif /* ZP_STRING_H */
