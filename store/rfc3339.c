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

/* The 2 decimal digits at s, or -1. */
static inline int d2(const char *s)
{
    unsigned a = (unsigned)((unsigned char)s[0] - '0'), b = (unsigned)((unsigned char)s[1] - '0');
    return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

int annal_time_parse(const char *s, size_t n, int64_t *ns)
{
    if (!s || n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    int yh = d2(s), yl = d2(s + 2), mo = d2(s + 5), d = d2(s + 8);
    int h = d2(s + 11), mi = d2(s + 14), se = d2(s + 17);
    if ((yh | yl | mo | d | h | mi | se) < 0)
        return -1;
    int y = yh * 100 + yl;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > (int)month_days((unsigned)y, (unsigned)mo) ||
        h > 23 || mi > 59 || se > 59)
        return -1;
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
