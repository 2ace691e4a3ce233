/*
 * zp_string.c: byte helpers, number parsing, base64 and the printf family.
 */
#include <zp_config.h>
#include <zp_core.h>

#define ZP_INT64_LEN (sizeof("-9223372036854775808") - 1)

/* Largest value of a signed integer type, without a per-type constant. */
#define zp_signed_max(type) ((type)((((uint64_t)1 << (sizeof(type) * 8 - 2)) - 1) * 2 + 1))

static u_char *zp_sprintf_num(u_char *buf, u_char *last, uint64_t ui64, zp_uint_t negative,
                              u_char zero, zp_uint_t hex, zp_uint_t width);
static u_char *zp_sprintf_str(u_char *buf, u_char *last, const u_char *p, size_t len);
static int64_t zp_atonum(u_char *line, size_t n, int64_t max);


void
zp_strlow(u_char *dst, u_char *src, size_t n)
{
    while (n--) {
        *dst++ = zp_tolower(*src);
        src++;
    }
}


u_char *
zp_cpystrn(u_char *dst, u_char *src, size_t n)
{
    if (n == 0) {
        return dst;
    }

    while (--n) {
        *dst = *src;
        if (*dst == '\0') {
            return dst;
        }
        dst++;
        src++;
    }

    *dst = '\0';

    return dst;
}


u_char *
zp_pstrdup(zp_pool_t *pool, zp_str_t *src)
{
    u_char *dst;

    dst = zp_pnalloc(pool, src->len);
    if (dst == NULL) {
        return NULL;
    }

    if (src->len) {
        zp_memcpy(dst, src->data, src->len);
    }

    return dst;
}


zp_int_t
zp_strcasecmp(u_char *s1, u_char *s2)
{
    zp_uint_t c1, c2;

    for (;;) {
        c1 = zp_tolower(*s1);
        c2 = zp_tolower(*s2);
        s1++;
        s2++;

        if (c1 != c2) {
            return (zp_int_t)c1 - (zp_int_t)c2;
        }

        if (c1 == 0) {
            return 0;
        }
    }
}


zp_int_t
zp_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    zp_uint_t c1, c2;

    while (n--) {
        c1 = zp_tolower(*s1);
        c2 = zp_tolower(*s2);
        s1++;
        s2++;

        if (c1 != c2) {
            return (zp_int_t)c1 - (zp_int_t)c2;
        }

        if (c1 == 0) {
            return 0;
        }
    }

    return 0;
}


u_char *
zp_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n)
{
    size_t  i;
    u_char *p;

    if (n == 0) {
        return s1;
    }

    if (s1 >= last || (size_t)(last - s1) < n) {
        return NULL;
    }

    /* the last place a match can start; [s1, last) may hold NULs */
    last -= n - 1;

    for (p = s1; p < last; p++) {
        if (zp_tolower(*p) != s2[0]) {
            continue;
        }

        for (i = 1; i < n; i++) {
            if (zp_tolower(p[i]) != s2[i]) {
                break;
            }
        }

        if (i == n) {
            return p;
        }
    }

    return NULL;
}


/* Parses unsigned decimal up to max; -1 on empty input, junk or overflow. */
static int64_t
zp_atonum(u_char *line, size_t n, int64_t max)
{
    int64_t value, cutoff, cutlim;

    if (n == 0) {
        return -1;
    }

    cutoff = max / 10;
    cutlim = max % 10;

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9') {
            return -1;
        }

        if (value >= cutoff && (value > cutoff || *line - '0' > cutlim)) {
            return -1;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


zp_int_t
zp_atoi(u_char *line, size_t n)
{
    return (zp_int_t)zp_atonum(line, n, ZP_MAX_INT_T_VALUE);
}


ssize_t
zp_atosz(u_char *line, size_t n)
{
    return (ssize_t)zp_atonum(line, n, zp_signed_max(ssize_t));
}


off_t
zp_atoof(u_char *line, size_t n)
{
    return (off_t)zp_atonum(line, n, zp_signed_max(off_t));
}


time_t
zp_atotm(u_char *line, size_t n)
{
    return (time_t)zp_atonum(line, n, zp_signed_max(time_t));
}


zp_int_t
zp_hextoi(u_char *line, size_t n)
{
    u_char   c, ch;
    zp_int_t value, cutoff;

    if (n == 0) {
        return ZP_ERROR;
    }

    cutoff = ZP_MAX_INT_T_VALUE / 16;

    for (value = 0; n--; line++) {
        if (value > cutoff) {
            return ZP_ERROR;
        }

        ch = *line;

        if (ch >= '0' && ch <= '9') {
            value = value * 16 + (ch - '0');
            continue;
        }

        c = (u_char)(ch | 0x20);

        if (c >= 'a' && c <= 'f') {
            value = value * 16 + (c - 'a' + 10);
            continue;
        }

        return ZP_ERROR;
    }

    return value;
}


u_char *
zp_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static const u_char hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


u_char *
zp_escape_text(u_char *dst, u_char *last, u_char *src, size_t len)
{
    static const u_char hex[] = "0123456789ABCDEF";
    u_char              ch;

    while (len--) {
        ch = *src++;

        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            if (dst == last) {
                break;
            }
            *dst++ = ch;
            continue;
        }

        if (last - dst < 4) {
            break;
        }

        *dst++ = '\\';
        *dst++ = 'x';
        *dst++ = hex[ch >> 4];
        *dst++ = hex[ch & 0xf];
    }

    return dst;
}


u_char *
zp_sprintf(u_char *buf, const char *fmt, ...)
{
    u_char *p;
    va_list args;

    /* unbounded, as sprintf(): the caller sized buf for the worst case */
    va_start(args, fmt);
    p = zp_vslprintf(buf, (u_char *)(uintptr_t)-1, fmt, args);
    va_end(args);

    return p;
}


u_char *
zp_snprintf(u_char *buf, size_t max, const char *fmt, ...)
{
    u_char *p;
    va_list args;

    va_start(args, fmt);
    p = zp_vslprintf(buf, buf + max, fmt, args);
    va_end(args);

    return p;
}


u_char *
zp_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    u_char *p;
    va_list args;

    va_start(args, fmt);
    p = zp_vslprintf(buf, last, fmt, args);
    va_end(args);

    return p;
}


u_char *
zp_vslprintf(u_char *buf, u_char *last, const char *fmt, va_list args)
{
    u_char   *p, zero;
    int       d;
    double    f;
    size_t    slen;
    int64_t   i64;
    uint64_t  ui64, frac, scale, ms;
    zp_str_t *v;
    zp_uint_t width, sign, hex, frac_width, n, negative;

    while (*fmt && buf < last) {

        if (*fmt != '%') {
            *buf++ = (u_char)*fmt++;
            continue;
        }

        fmt++;

        i64        = 0;
        ui64       = 0;
        zero       = (u_char)((*fmt == '0') ? '0' : ' ');
        width      = 0;
        sign       = 1;
        hex        = 0;
        frac_width = 0;
        negative   = 0;
        slen       = (size_t)-1;

        /* the cap keeps a silly width from overflowing, not from padding */
        while (*fmt >= '0' && *fmt <= '9') {
            if (width < 100000) {
                width = width * 10 + (zp_uint_t)(*fmt - '0');
            }
            fmt++;
        }

        for (;;) {
            switch (*fmt) {

            case 'u':
                sign = 0;
                fmt++;
                continue;

            case 'X':
                hex  = 2;
                sign = 0;
                fmt++;
                continue;

            case 'x':
                hex  = 1;
                sign = 0;
                fmt++;
                continue;

            case '.':
                fmt++;
                while (*fmt >= '0' && *fmt <= '9') {
                    if (frac_width < 100) {
                        frac_width = frac_width * 10 + (zp_uint_t)(*fmt - '0');
                    }
                    fmt++;
                }
                continue;

            case '*':
                slen = va_arg(args, size_t);
                fmt++;
                continue;

            default:
                break;
            }

            break;
        }

        switch (*fmt) {

        case '\0':
            /* a lone '%' at the end: stop rather than read past the format */
            continue;

        case 'V':
            v   = va_arg(args, zp_str_t *);
            buf = zp_sprintf_str(buf, last, v->data, v->len);
            fmt++;
            continue;

        case 's':
            p = va_arg(args, u_char *);

            if (slen == (size_t)-1) {
                if (p == NULL) {
                    p = (u_char *)"(null)";
                }
                while (*p && buf < last) {
                    *buf++ = *p++;
                }

            } else {
                buf = zp_sprintf_str(buf, last, p, slen);
            }

            fmt++;
            continue;

        case 'O':
            if (sign) {
                i64 = (int64_t)va_arg(args, off_t);
            } else {
                ui64 = (uint64_t)va_arg(args, off_t);
            }
            break;

        case 'P':
            i64  = (int64_t)va_arg(args, zp_pid_t);
            sign = 1;
            break;

        case 'T':
            if (sign) {
                i64 = (int64_t)va_arg(args, time_t);
            } else {
                ui64 = (uint64_t)va_arg(args, time_t);
            }
            break;

        case 'M':
            /* (zp_msec_t) -1 means "infinite" to timers: show it as -1 */
            ms = (uint64_t)va_arg(args, zp_msec_t);
            if ((int64_t)ms == -1 && hex == 0) {
                sign = 1;
                i64  = -1;
            } else {
                sign = 0;
                ui64 = ms;
            }
            break;

        case 'z':
            if (sign) {
                i64 = (int64_t)va_arg(args, ssize_t);
            } else {
                ui64 = (uint64_t)va_arg(args, size_t);
            }
            break;

        case 'i':
        case 'A':
            if (sign) {
                i64 = (int64_t)va_arg(args, zp_int_t);
            } else {
                ui64 = (uint64_t)va_arg(args, zp_uint_t);
            }
            break;

        case 'd':
            if (sign) {
                i64 = (int64_t)va_arg(args, int);
            } else {
                ui64 = (uint64_t)va_arg(args, u_int);
            }
            break;

        case 'l':
            if (sign) {
                i64 = (int64_t)va_arg(args, long);
            } else {
                ui64 = (uint64_t)va_arg(args, u_long);
            }
            break;

        case 'D':
            if (sign) {
                i64 = (int64_t)va_arg(args, int32_t);
            } else {
                ui64 = (uint64_t)va_arg(args, uint32_t);
            }
            break;

        case 'L':
            if (sign) {
                i64 = va_arg(args, int64_t);
            } else {
                ui64 = va_arg(args, uint64_t);
            }
            break;

        case 'f':
            f = va_arg(args, double);

            if (__builtin_isnan(f)) {
                buf = zp_sprintf_str(buf, last, (u_char *)"nan", 3);
                fmt++;
                continue;
            }

            if (f < 0) {
                negative = 1;
                f        = -f;
            }

            if (__builtin_isinf(f)) {
                buf = zp_sprintf_str(buf, last, (u_char *)"-inf" + !negative, 4 - !negative);
                fmt++;
                continue;
            }

            /* converting a double beyond uint64_t is undefined: clamp */
            if (f >= 18446744073709551615.0) {
                ui64 = UINT64_MAX;
                f    = 0;
            } else {
                ui64 = (uint64_t)f;
                f -= (double)ui64;
            }

            if (frac_width > 19) {
                frac_width = 19;
            }

            frac = 0;

            if (frac_width) {
                scale = 1;
                for (n = frac_width; n; n--) {
                    scale *= 10;
                }

                frac = (uint64_t)(f * (double)scale + 0.5);

                /* rounding carried into the integer part: 0.999 -> 1.00 */
                if (frac >= scale) {
                    ui64++;
                    frac = 0;
                }
            }

            buf = zp_sprintf_num(buf, last, ui64, negative, zero, 0, width);

            if (frac_width) {
                if (buf < last) {
                    *buf++ = '.';
                }
                buf = zp_sprintf_num(buf, last, frac, 0, '0', 0, frac_width);
            }

            fmt++;
            continue;

        case 'p':
            ui64  = (uint64_t)(uintptr_t)va_arg(args, void *);
            hex   = 1;
            sign  = 0;
            zero  = '0';
            width = 2 * sizeof(void *);
            break;

        case 'c':
            d      = va_arg(args, int);
            *buf++ = (u_char)(d & 0xff);
            fmt++;
            continue;

        case 'Z':
            *buf++ = '\0';
            fmt++;
            continue;

        case 'N':
            *buf++ = LF;
            fmt++;
            continue;

        case '%':
            *buf++ = '%';
            fmt++;
            continue;

        default:
            /* an unknown conversion is copied, so the mistake shows in the log */
            *buf++ = (u_char)*fmt++;
            continue;
        }

        if (sign) {
            if (i64 < 0) {
                negative = 1;
                /* through uint64_t, so that INT64_MIN does not overflow */
                ui64 = 0 - (uint64_t)i64;
            } else {
                ui64 = (uint64_t)i64;
            }
        }

        buf = zp_sprintf_num(buf, last, ui64, negative, zero, hex, width);

        fmt++;
    }

    return buf;
}


static u_char *
zp_sprintf_str(u_char *buf, u_char *last, const u_char *p, size_t len)
{
    if (len == 0 || buf >= last) {
        return buf;
    }

    len = zp_min(len, (size_t)(last - buf));

    return zp_cpymem(buf, p, len);
}


/*
 * Writes ui64 in decimal or hex (hex 1: lower case, 2: upper case). The
 * sign counts towards width, as in printf: "%05d" of -5 is "-0005".
 */
static u_char *
zp_sprintf_num(u_char *buf, u_char *last, uint64_t ui64, zp_uint_t negative, u_char zero,
               zp_uint_t hex, zp_uint_t width)
{
    static const u_char lower[] = "0123456789abcdef";
    static const u_char upper[] = "0123456789ABCDEF";
    const u_char       *digits;
    u_char              tmp[ZP_INT64_LEN + 1], *p;
    size_t              len, pad;

    p = tmp + sizeof(tmp);

    if (hex == 0) {
        do {
            *--p = (u_char)('0' + ui64 % 10);
            ui64 /= 10;
        } while (ui64);

    } else {
        digits = (hex == 1) ? lower : upper;

        do {
            *--p = digits[ui64 & 0xf];
            ui64 >>= 4;
        } while (ui64);
    }

    len = (size_t)(tmp + sizeof(tmp) - p);
    pad = (width > len + negative) ? width - len - negative : 0;

    if (negative && zero == '0' && buf < last) {
        *buf++ = '-';
    }

    for (; pad && buf < last; pad--) {
        *buf++ = zero;
    }

    if (negative && zero != '0' && buf < last) {
        *buf++ = '-';
    }

    return zp_sprintf_str(buf, last, p, len);
}


static const u_char zp_base64_basis[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const u_char zp_base64url_basis[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 77 marks a byte outside the alphabet */
/* clang-format off */
static const u_char zp_base64_decode_table[256] = {
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 62, 77, 77, 77, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 77, 77, 77, 77, 77, 77,
    77,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 77, 77, 77, 77, 77,
    77, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
};

static const u_char zp_base64url_decode_table[256] = {
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 62, 77, 77,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 77, 77, 77, 77, 77, 77,
    77,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 77, 77, 77, 77, 63,
    77, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
};
/* clang-format on */


static void
zp_encode_base64_internal(zp_str_t *dst, zp_str_t *src, const u_char *basis, zp_uint_t padding)
{
    u_char *d, *s;
    size_t  len;

    len = src->len;
    s   = src->data;
    d   = dst->data;

    while (len > 2) {
        *d++ = basis[(s[0] >> 2) & 0x3f];
        *d++ = basis[((s[0] & 3) << 4) | (s[1] >> 4)];
        *d++ = basis[((s[1] & 0x0f) << 2) | (s[2] >> 6)];
        *d++ = basis[s[2] & 0x3f];

        s += 3;
        len -= 3;
    }

    if (len) {
        *d++ = basis[(s[0] >> 2) & 0x3f];

        if (len == 1) {
            *d++ = basis[(s[0] & 3) << 4];
            if (padding) {
                *d++ = '=';
            }

        } else {
            *d++ = basis[((s[0] & 3) << 4) | (s[1] >> 4)];
            *d++ = basis[(s[1] & 0x0f) << 2];
        }

        if (padding) {
            *d++ = '=';
        }
    }

    dst->len = (size_t)(d - dst->data);
}


void
zp_encode_base64(zp_str_t *dst, zp_str_t *src)
{
    zp_encode_base64_internal(dst, src, zp_base64_basis, 1);
}


void
zp_encode_base64url(zp_str_t *dst, zp_str_t *src)
{
    /* JWT and friends drop the padding */
    zp_encode_base64_internal(dst, src, zp_base64url_basis, 0);
}


static zp_int_t
zp_decode_base64_internal(zp_str_t *dst, zp_str_t *src, const u_char *table)
{
    size_t  len, pad;
    u_char *d, *s;

    for (len = 0; len < src->len; len++) {
        if (src->data[len] == '=') {
            break;
        }

        if (table[src->data[len]] == 77) {
            return ZP_ERROR;
        }
    }

    /* padding is optional, but when present only '=' may follow, to a
     * multiple of 4 */
    pad = src->len - len;

    if (len % 4 == 1 || pad > 2 || (pad && (len + pad) % 4 != 0)) {
        return ZP_ERROR;
    }

    for (s = src->data + len; s < src->data + src->len; s++) {
        if (*s != '=') {
            return ZP_ERROR;
        }
    }

    s = src->data;
    d = dst->data;

    while (len > 3) {
        *d++ = (u_char)(table[s[0]] << 2 | table[s[1]] >> 4);
        *d++ = (u_char)(table[s[1]] << 4 | table[s[2]] >> 2);
        *d++ = (u_char)(table[s[2]] << 6 | table[s[3]]);

        s += 4;
        len -= 4;
    }

    if (len > 1) {
        *d++ = (u_char)(table[s[0]] << 2 | table[s[1]] >> 4);
    }

    if (len > 2) {
        *d++ = (u_char)(table[s[1]] << 4 | table[s[2]] >> 2);
    }

    dst->len = (size_t)(d - dst->data);

    return ZP_OK;
}


zp_int_t
zp_decode_base64(zp_str_t *dst, zp_str_t *src)
{
    return zp_decode_base64_internal(dst, src, zp_base64_decode_table);
}


zp_int_t
zp_decode_base64url(zp_str_t *dst, zp_str_t *src)
{
    return zp_decode_base64_internal(dst, src, zp_base64url_decode_table);
}
