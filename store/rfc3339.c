/*
 * rfc3339.c - annal_time_parse / annal_time_format of event.h.
 *
 * Times are int64 nanoseconds since 1970-01-01T00:00:00Z, so the range that
 * parses is 1970-01-01T00:00:00Z .. 2262-04-11T23:47:16.854775807Z (the year
 * check of 1970..9999 comes first, the int64 overflow check second). Leap
 * seconds (second 60) are rejected: annal's clock is UTC without them.
 * Calendar arithmetic: Howard Hinnant's days_from_civil / civil_from_days.
 */
#include "event.h"

#include <string.h>

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(unsigned y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* The 8 bytes at p as a little-endian word (byte 0 lowest). */
static inline uint64_t le64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

#define ONES 0x0101010101010101ull

/* Are all 8 bytes of x ASCII digits? (A carry out of a byte >= 0xfa only
 * makes the test of the next byte stricter.) */
static inline int all_digits(uint64_t x)
{
    return ((x & (ONES * 0xF0)) | (((x + ONES * 0x06) & (ONES * 0xF0)) >> 4)) == ONES * 0x33;
}

/* Digit values d (bytes 0..9) to the 2-digit values of byte pairs: byte i
 * of the result is 10 * d[i] + d[i+1] (for even and odd i alike). */
static inline uint64_t pairs(uint64_t d)
{
    return d * 10 + (d >> 8);
}

/* The value of 8 digit values d (byte 0 the most significant). */
static inline uint64_t value8(uint64_t d)
{
    d = pairs(d) & 0x00FF00FF00FF00FFull;
    d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFFull;
    return (d * 10000 + (d >> 32)) & 0xFFFFFFFFull;
}

/* The fraction and zone after the seconds, from s[19] on, the general way:
 * sets *frac (nanoseconds); returns 0, or -1. */
static int parse_tail(const char *s, size_t n, int64_t *frac_out)
{
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        const unsigned char *f = (const unsigned char *)s + ++i;
        size_t lim = n - i < 10 ? n - i : 10, nf = 0;
        unsigned dg;
        while (nf < lim && (dg = (unsigned)(f[nf] - '0')) <= 9u) {
            frac = frac * 10 + dg;
            nf++;
        }
        if (nf < 1 || nf > 9)
            return -1;
        i += nf;
        for (; nf < 9; nf++)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        i++;
    else if (n - i == 6 && memcmp(s + i, "+00:00", 6) == 0)
        i += 6;
    else
        return -1;
    if (i != n)
        return -1;
    *frac_out = frac;
    return 0;
}

/*
 * The fields are at fixed positions: YYYY-MM-DD is tested as one 64-bit word
 * and THH:MM:SS as two (digits and separators at once, SWAR), and each pair
 * of digits is converted with one multiply. The common fraction of 9 digits
 * followed by Z is converted the same way; other tails take parse_tail().
 */
int annal_time_parse(const char *s, size_t n, int64_t *ns)
{
    if (!s || n < 20)
        return -1;
    /* "YYYY-MM-", "DDTHH:MM", "HH:MM:SS" (bytes 0..7, 8..15, 11..18) */
    uint64_t a = le64(s), b = le64(s + 8), c = le64(s + 11);
    const uint64_t sep_a = 0xFF0000FF00000000ull, sep_b = 0x0000FF0000FF0000ull;
    if ((a & sep_a) != 0x2D00002D00000000ull ||                  /* '-' at 4 and 7 */
        ((b | 0x200000ull) & sep_b) != 0x00003A0000740000ull ||   /* 'T' or 't' at 10, ':' at 13 */
        (c & sep_b) != 0x00003A00003A0000ull)                     /* ':' at 13 and 16 */
        return -1;
    /* the separators as '0', then every byte must be a digit */
    a = (a & ~sep_a) | (sep_a & ONES * '0');
    b = (b & ~sep_b) | (sep_b & ONES * '0');
    c = (c & ~sep_b) | (sep_b & ONES * '0');
    if (!all_digits(a) || !all_digits(b) || !all_digits(c))
        return -1;
    a = pairs(a - ONES * '0');
    b = pairs(b - ONES * '0');
    c = pairs(c - ONES * '0');
    int y = (int)(a & 0xFF) * 100 + (int)((a >> 16) & 0xFF), mo = (int)((a >> 40) & 0xFF);
    int d = (int)(b & 0xFF);
    int h = (int)(c & 0xFF), mi = (int)((c >> 24) & 0xFF), se = (int)((c >> 48) & 0xFF);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > (int)month_days((unsigned)y, (unsigned)mo) ||
        h > 23 || mi > 59 || se > 59)
        return -1;
    int64_t frac;
    uint64_t f;
    if (n == 30 && s[19] == '.' && ((unsigned char)s[29] | 0x20) == 'z' &&
        (unsigned)((unsigned char)s[28] - '0') <= 9u && all_digits(f = le64(s + 20))) {
        frac = (int64_t)(value8(f - ONES * '0') * 10 + (unsigned)((unsigned char)s[28] - '0'));
    } else if (n == 20 && (s[19] | 0x20) == 'z') {
        frac = 0;
    } else if (parse_tail(s, n, &frac) != 0) {
        return -1;
    }
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    const int64_t max_secs = INT64_MAX / 1000000000, max_frac = INT64_MAX % 1000000000;
    if (secs > max_secs || (secs == max_secs && frac > max_frac))
        return -1;
    if (ns)
        *ns = secs * 1000000000 + frac;
    return 0;
}

static void put_digits(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void annal_time_format(int64_t ns, char out[31])
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(out, (uint64_t)(y < 0 ? 0 : y), 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (uint64_t)(sod / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (uint64_t)(sod / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (uint64_t)(sod % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (uint64_t)frac, 9);
    out[29] = 'Z';
    out[30] = 0;
}
