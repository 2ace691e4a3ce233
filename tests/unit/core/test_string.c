/*
 * test_string.c: zp_string.c: byte helpers, parsers, base64, printf.
 */
#include "zpt_unit.h"

/*
 * Formats with zp_slprintf() into buffers of every size from 0 to past
 * the full length, checking that each result is the prefix of the full
 * output, that the returned end is right, and that the guard bytes after
 * the limit were not touched. Then compares the full output to expect.
 */
#define ZPT_FMT(expect, ...)                                                                       \
    do {                                                                                           \
        u_char full_[512], buf_[512], *end_;                                                       \
        size_t flen_, lim_, want_, i_;                                                             \
                                                                                                   \
        end_  = zp_slprintf(full_, full_ + sizeof(full_), __VA_ARGS__);                            \
        flen_ = (size_t)(end_ - full_);                                                            \
        ck_assert_uint_eq(flen_, sizeof(expect) - 1);                                              \
        ck_assert_int_eq(memcmp(full_, expect, flen_), 0);                                         \
                                                                                                   \
        for (lim_ = 0; lim_ <= flen_ + 2; lim_++) {                                                \
            memset(buf_, 0xA5, sizeof(buf_));                                                      \
            end_  = zp_slprintf(buf_, buf_ + lim_, __VA_ARGS__);                                   \
            want_ = zp_min(lim_, flen_);                                                           \
            ck_assert_ptr_eq(end_, buf_ + want_);                                                  \
            ck_assert_int_eq(memcmp(buf_, full_, want_), 0);                                       \
            for (i_ = want_; i_ < sizeof(buf_); i_++) {                                            \
                ck_assert_msg(buf_[i_] == 0xA5, "byte %zu written with limit %zu", i_, lim_);      \
            }                                                                                      \
        }                                                                                          \
    } while (0)


START_TEST(test_str_macros)
{
    zp_str_t s = zp_string("Hello");
    zp_str_t n = zp_null_string;
    zp_str_t t;
    u_char   buf[8], *p;

    ck_assert_uint_eq(s.len, 5);
    ck_assert_int_eq(memcmp(s.data, "Hello", 5), 0);
    ck_assert_uint_eq(n.len, 0);
    ck_assert_ptr_null(n.data);

    zp_str_set(&t, "abc");
    ck_assert_uint_eq(t.len, 3);
    zp_str_null(&t);
    ck_assert_ptr_null(t.data);

    ck_assert_uint_eq(zp_tolower('A'), 'a');
    ck_assert_uint_eq(zp_tolower('['), '[');
    ck_assert_uint_eq(zp_tolower(0xC0), 0xC0);
    ck_assert_uint_eq(zp_toupper('z'), 'Z');
    ck_assert_uint_eq(zp_toupper('{'), '{');

    p = zp_cpymem(buf, "abc", 3);
    ck_assert_ptr_eq(p, buf + 3);
    p = zp_movemem(p, "de", 2);
    ck_assert_ptr_eq(p, buf + 5);
    ck_assert_int_eq(zp_memcmp(buf, "abcde", 5), 0);

    ck_assert_ptr_eq(zp_strlchr(buf, buf + 5, 'd'), buf + 3);
    ck_assert_ptr_null(zp_strlchr(buf, buf + 3, 'd'));
    ck_assert_ptr_null(zp_strlchr(buf, buf, 'a'));

    zp_str_set(&t, "HELLO");
    ck_assert(!zp_str_eq(&s, &t));
    ck_assert(zp_str_caseeq(&s, &t));
}
END_TEST


START_TEST(test_strlow_cpystrn)
{
    u_char buf[16], *p;

    zp_strlow(buf, (u_char *)"MiXeD-09", 8);
    ck_assert_int_eq(memcmp(buf, "mixed-09", 8), 0);

    memset(buf, 'x', sizeof(buf));
    p = zp_cpystrn(buf, (u_char *)"abcdef", 4);
    ck_assert_ptr_eq(p, buf + 3);
    ck_assert_str_eq((char *)buf, "abc");

    p = zp_cpystrn(buf, (u_char *)"ab", 10);
    ck_assert_ptr_eq(p, buf + 2);
    ck_assert_str_eq((char *)buf, "ab");

    buf[0] = 'x';
    p      = zp_cpystrn(buf, (u_char *)"ab", 0);
    ck_assert_ptr_eq(p, buf);
    ck_assert_uint_eq(buf[0], 'x');

    p = zp_cpystrn(buf, (u_char *)"ab", 1);
    ck_assert_ptr_eq(p, buf);
    ck_assert_uint_eq(buf[0], '\0');
}
END_TEST


START_TEST(test_casecmp)
{
    u_char hay[] = "xx\0Content-TYPE: text";

    ck_assert_int_eq(zp_strcasecmp((u_char *)"Host", (u_char *)"hOST"), 0);
    ck_assert_int_lt(zp_strcasecmp((u_char *)"a", (u_char *)"B"), 0);
    ck_assert_int_gt(zp_strcasecmp((u_char *)"ab", (u_char *)"A"), 0);
    ck_assert_int_eq(zp_strncasecmp((u_char *)"HostX", (u_char *)"hostY", 4), 0);
    ck_assert_int_ne(zp_strncasecmp((u_char *)"HostX", (u_char *)"hostY", 5), 0);
    ck_assert_int_eq(zp_strncasecmp((u_char *)"ab", (u_char *)"AB", 10), 0);

    /* the haystack holds a NUL, which must not stop the search */
    ck_assert_ptr_eq(zp_strlcasestrn(hay, hay + sizeof(hay) - 1, (u_char *)"type", 4), hay + 11);
    ck_assert_ptr_eq(zp_strlcasestrn(hay, hay + sizeof(hay) - 1, (u_char *)"text", 4), hay + 17);
    /* a match that would end past last is not a match */
    ck_assert_ptr_null(zp_strlcasestrn(hay, hay + 20, (u_char *)"text", 4));
    ck_assert_ptr_null(zp_strlcasestrn(hay, hay + 2, (u_char *)"xxx", 3));
    ck_assert_ptr_eq(zp_strlcasestrn(hay, hay + 2, (u_char *)"xx", 2), hay);
    ck_assert_ptr_eq(zp_strlcasestrn(hay, hay + 2, (u_char *)"", 0), hay);
}
END_TEST


#define ZPT_S(s) (u_char *)(s), sizeof(s) - 1

START_TEST(test_atoi)
{
    ck_assert_int_eq(zp_atoi(ZPT_S("0")), 0);
    ck_assert_int_eq(zp_atoi(ZPT_S("00123")), 123);
    ck_assert_int_eq(zp_atoi(ZPT_S("9223372036854775807")), INT64_MAX);
    ck_assert_int_eq(zp_atoi(ZPT_S("9223372036854775808")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S("99999999999999999999")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S("")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S("-1")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S("+1")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S("12a")), ZP_ERROR);
    ck_assert_int_eq(zp_atoi(ZPT_S(" 1")), ZP_ERROR);
    /* only n bytes are looked at */
    ck_assert_int_eq(zp_atoi((u_char *)"12x", 2), 12);

    ck_assert_int_eq(zp_atosz(ZPT_S("4096")), 4096);
    ck_assert_int_eq(zp_atosz(ZPT_S("9223372036854775808")), -1);
    ck_assert_int_eq(zp_atoof(ZPT_S("9223372036854775807")), INT64_MAX);
    ck_assert_int_eq(zp_atoof(ZPT_S("9223372036854775810")), -1);
    ck_assert_int_eq(zp_atoof(ZPT_S("1x")), -1);
    ck_assert_int_eq(zp_atotm(ZPT_S("1700000000")), 1700000000);
    ck_assert_int_eq(zp_atotm(ZPT_S("")), -1);

    ck_assert_int_eq(zp_hextoi(ZPT_S("ff")), 255);
    ck_assert_int_eq(zp_hextoi(ZPT_S("FF")), 255);
    ck_assert_int_eq(zp_hextoi(ZPT_S("0")), 0);
    ck_assert_int_eq(zp_hextoi(ZPT_S("7fffffffffffffff")), INT64_MAX);
    ck_assert_int_eq(zp_hextoi(ZPT_S("8000000000000000")), ZP_ERROR);
    ck_assert_int_eq(zp_hextoi(ZPT_S("1g")), ZP_ERROR);
    ck_assert_int_eq(zp_hextoi(ZPT_S("")), ZP_ERROR);
}
END_TEST


START_TEST(test_escape_text)
{
    u_char  in[] = "A b\x01\"\\\x7f\x80:";
    u_char  out[64], *p;

    p = zp_escape_text(out, out + sizeof(out), in, sizeof(in) - 1);
    ck_assert_int_eq(p - out, 24);
    ck_assert_int_eq(memcmp(out, "A b\\x01\\x22\\x5C\\x7F\\x80:", 24), 0);

    /* a whole escape or nothing at the end */
    p = zp_escape_text(out, out + 5, in, sizeof(in) - 1);
    ck_assert_int_eq(p - out, 3);
    p = zp_escape_text(out, out + 7, in, sizeof(in) - 1);
    ck_assert_int_eq(p - out, 7);
    ck_assert_int_eq(memcmp(out, "A b\\x01", 7), 0);
}
END_TEST


START_TEST(test_hex_dump)
{
    u_char out[16], *p;
    u_char in[] = {0x00, 0x7f, 0xab, 0xff};

    p = zp_hex_dump(out, in, sizeof(in));
    ck_assert_ptr_eq(p, out + 8);
    ck_assert_int_eq(memcmp(out, "007fabff", 8), 0);
}
END_TEST


START_TEST(test_printf_integers)
{
    ZPT_FMT("-5|42|   42|-0005|  -5|0", "%d|%d|%5d|%05d|%4d|%d", -5, 42, 42, -5, -5, 0);
    ZPT_FMT("4294967295|ff|FF|0000BEEF", "%ud|%xd|%Xd|%08Xd", UINT_MAX, 255, 255, 0xbeef);
    ZPT_FMT("-2147483648|2147483647", "%d|%d", INT_MIN, INT_MAX);
    ZPT_FMT("-9223372036854775808|9223372036854775807", "%i|%i", (zp_int_t)INT64_MIN,
            (zp_int_t)INT64_MAX);
    ZPT_FMT("18446744073709551615|-1", "%ui|%i", (zp_uint_t)-1, (zp_int_t)-1);
    ZPT_FMT("-1|18446744073709551615", "%z|%uz", (ssize_t)-1, (size_t)-1);
    ZPT_FMT("-7|7", "%l|%ul", -7L, 7UL);
    ZPT_FMT("-2147483648|4294967295", "%D|%uD", INT32_MIN, UINT32_MAX);
    ZPT_FMT("-9223372036854775808|18446744073709551615|ffffffffffffffff", "%L|%uL|%xL", INT64_MIN,
            UINT64_MAX, UINT64_MAX);
    ZPT_FMT("-7|0000000000001024|400", "%O|%016O|%xO", (off_t)-7, (off_t)1024, (off_t)1024);
    ZPT_FMT("1700000000", "%T", (time_t)1700000000);
    ZPT_FMT("1500|-1|0", "%M|%M|%M", (zp_msec_t)1500, (zp_msec_t)-1, (zp_msec_t)0);
    ZPT_FMT("pid 1234", "pid %P", (zp_pid_t)1234);
    ZPT_FMT("-3|3", "%A|%uA", (zp_int_t)-3, (zp_uint_t)3);
}
END_TEST


START_TEST(test_printf_float)
{
    ZPT_FMT("3.142", "%.3f", 3.14159);
    ZPT_FMT("1.00", "%.2f", 0.999);
    ZPT_FMT("-1.50", "%.2f", -1.5);
    ZPT_FMT("2", "%f", 2.7);
    ZPT_FMT("0.05", "%.2f", 0.05);
    ZPT_FMT("  12.5", "%4.1f", 12.5);
    ZPT_FMT("0012.5", "%04.1f", 12.5);
    ZPT_FMT("100.000", "%.3f", 99.9999);
    ZPT_FMT("nan|inf|-inf", "%.2f|%.2f|%.2f", __builtin_nan(""), __builtin_inf(), -__builtin_inf());
    ZPT_FMT("18446744073709551615.0", "%.1f", 1e30);
}
END_TEST


START_TEST(test_printf_strings)
{
    zp_str_t v = zp_string("value");
    zp_str_t e = zp_null_string;
    char     expect[64];
    u_char   buf[64], *p;
    int      n;

    ZPT_FMT("[value][][str][abc]", "[%V][%V][%s][%*s]", &v, &e, "str", (size_t)3, "abcdef");
    ZPT_FMT("[(null)][]", "[%s][%*s]", (char *)NULL, (size_t)0, (char *)NULL);
    ZPT_FMT("a%b\nc", "%c%%b%Nc", 'a');
    ZPT_FMT("x\0y", "x%Zy");
    /* an unknown conversion is copied, a lone trailing % is dropped */
    ZPT_FMT("q|", "%q|%");

    n = snprintf(expect, sizeof(expect), "%016lx", (unsigned long)(uintptr_t)&v);
    p = zp_sprintf(buf, "%p", &v);
    ck_assert_int_eq(p - buf, n);
    ck_assert_int_eq(memcmp(buf, expect, (size_t)n), 0);

    p = zp_snprintf(buf, 4, "%s", "overflow");
    ck_assert_ptr_eq(p, buf + 4);
}
END_TEST


START_TEST(test_printf_truncation)
{
    /* a long mixed line, cut at every length */
    zp_str_t v = zp_string("upstream");

    ZPT_FMT("upstream \"upstream\" timed out after 1500ms (-0000042, 3.25, ffff)",
            "upstream \"%V\" timed out after %Mms (%08i, %.2f, %xd)", &v, (zp_msec_t)1500,
            (zp_int_t)-42, 3.25, 0xffff);
}
END_TEST


static void
zpt_b64(const char *plain, const char *coded)
{
    zp_str_t src, dst;
    u_char   buf[64];

    src.data = (u_char *)plain;
    src.len  = strlen(plain);
    dst.data = buf;
    zp_encode_base64(&dst, &src);
    ck_assert_uint_eq(dst.len, strlen(coded));
    ck_assert_uint_eq(dst.len, zp_base64_encoded_length(src.len));
    ck_assert_int_eq(memcmp(buf, coded, dst.len), 0);

    src.data = (u_char *)coded;
    src.len  = strlen(coded);
    dst.data = buf;
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_OK);
    ck_assert_uint_eq(dst.len, strlen(plain));
    ck_assert_uint_le(dst.len, zp_base64_decoded_length(src.len));
    ck_assert_int_eq(memcmp(buf, plain, dst.len), 0);
}


START_TEST(test_base64)
{
    zp_str_t src, dst;
    u_char   buf[64];
    u_char   bin[] = {0xfb, 0xff};

    /* RFC 4648 section 10 */
    zpt_b64("", "");
    zpt_b64("f", "Zg==");
    zpt_b64("fo", "Zm8=");
    zpt_b64("foo", "Zm9v");
    zpt_b64("foob", "Zm9vYg==");
    zpt_b64("fooba", "Zm9vYmE=");
    zpt_b64("foobar", "Zm9vYmFy");

    dst.data = buf;

    /* padding is optional, but must be right when present */
    zp_str_set(&src, "Zm9vYg");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_OK);
    ck_assert_uint_eq(dst.len, 4);
    zp_str_set(&src, "Zm9vY");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);
    zp_str_set(&src, "Zg=a");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);
    zp_str_set(&src, "Zg=");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);
    zp_str_set(&src, "Zg===");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);
    zp_str_set(&src, "Zm9v!");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);

    /* the url alphabet, unpadded */
    src.data = bin;
    src.len  = sizeof(bin);
    zp_encode_base64(&dst, &src);
    ck_assert_int_eq(memcmp(dst.data, "+/8=", 4), 0);
    zp_encode_base64url(&dst, &src);
    ck_assert_uint_eq(dst.len, 3);
    ck_assert_int_eq(memcmp(dst.data, "-_8", 3), 0);

    zp_str_set(&src, "-_8");
    ck_assert_int_eq(zp_decode_base64url(&dst, &src), ZP_OK);
    ck_assert_uint_eq(dst.len, 2);
    ck_assert_int_eq(memcmp(dst.data, bin, 2), 0);
    zp_str_set(&src, "+/8");
    ck_assert_int_eq(zp_decode_base64url(&dst, &src), ZP_ERROR);
    zp_str_set(&src, "-_8");
    ck_assert_int_eq(zp_decode_base64(&dst, &src), ZP_ERROR);
}
END_TEST


START_TEST(test_pstrdup)
{
    zp_pool_t *pool = zpt_create_pool(ZP_DEFAULT_POOL_SIZE);
    zp_str_t   s    = zp_string("copy me");
    u_char    *p;

    p = zp_pstrdup(pool, &s);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_ne(p, s.data);
    ck_assert_int_eq(memcmp(p, "copy me", 7), 0);

    zp_destroy_pool(pool);
}
END_TEST


static Suite *
zpt_string_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("zp_string");

    tc = tcase_create("bytes");
    tcase_add_test(tc, test_str_macros);
    tcase_add_test(tc, test_strlow_cpystrn);
    tcase_add_test(tc, test_casecmp);
    tcase_add_test(tc, test_hex_dump);
    tcase_add_test(tc, test_escape_text);
    tcase_add_test(tc, test_pstrdup);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_atoi);
    suite_add_tcase(s, tc);

    tc = tcase_create("printf");
    tcase_add_test(tc, test_printf_integers);
    tcase_add_test(tc, test_printf_float);
    tcase_add_test(tc, test_printf_strings);
    tcase_add_test(tc, test_printf_truncation);
    suite_add_tcase(s, tc);

    tc = tcase_create("base64");
    tcase_add_test(tc, test_base64);
    suite_add_tcase(s, tc);

    return s;
}

ZPT_MAIN(zpt_string_suite)
