/*
 * json_core.h - the scanner of json.h, private to store/: json.c builds the
 * public entry points on it (json_scan_run with a report function that calls
 * the caller's annal_json_member_fn), and event.c runs it with its own member
 * checks (constant report and name functions that the compiler inlines, so
 * that reporting a member costs no callback and no annal_json_member in
 * memory). Everything here is static; include it only from those two files.
 *
 * One pass, no recursion, no heap. The scanner is a small state machine
 * (value / member / after a value / close) over an explicit stack of levels.
 * It is written for the common case, compact ASCII text: at every point it
 * tests first for the byte that compact JSON has there (':' after a name,
 * ',' or '}' after a member, ...); whitespace, escapes, non-ASCII bytes and
 * errors are handled out of line.
 *
 * Compaction is lazy: bytes are not copied one by one. The scanner remembers
 * the start of the run of input bytes not yet copied (`span`); only when it
 * meets insignificant whitespace does it copy that run to the output and skip
 * the whitespace (counting the bytes skipped, so that the output offset of
 * any input position is its input offset minus `skipped`). A compact input
 * is thus copied with one memcpy at the end; in check-only mode (out == NULL)
 * nothing is copied and whitespace is an error.
 *
 * String bodies are scanned 16 bytes at a time with SSE2 (8 at a time with
 * 64-bit words elsewhere, on little-endian machines) until a quote, a
 * backslash, a control byte or a non-ASCII byte; only those are looked at
 * one by one, out of line. The first block of a name or a string value is
 * tested inline, and the two bytes after a closing quote are tested at once
 * for `":` and `,"` (the usual next steps) when the input goes on that far.
 *
 * Duplicate names: each object level keeps its first 16 names (offset in the
 * input, and a tag: the length and the first 8 bytes) behind a 64-bit Bloom
 * filter of the tags, so a new name is usually found absent without any
 * comparison; a tag match is confirmed by comparing the names. From the 17th
 * name on, the object gets an open-addressing hash set (slots hold the input
 * offset of a name, keyed by a per-call seed) in a stack arena shared by all
 * open objects. Objects nest, so the arena is a stack too: an inner object's
 * set is freed when it closes, and the set of the object receiving a name is
 * always at the top, which lets it grow in place. Names are compared after
 * decoding, but decoding happens only when one of the two names has escapes.
 * A caller that knows the names it accepts at the top level may check those
 * itself (json_name_fn).
 */
#ifndef ANNAL_JSON_CORE_H
#define ANNAL_JSON_CORE_H

#include "json.h"
#include "error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__) && !defined(ANNAL_NO_SIMD)
#include <emmintrin.h>
#define JSON_SSE2 1
#endif
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && !defined(ANNAL_NO_SIMD)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_LE 1 /* 64-bit words may be loaded with memcpy, first byte lowest */
#endif
#endif

#define SMALL_KEYS 16           /* names compared pairwise up to this many */
#define ARENA_SLOTS 32768u      /* hash-set arena, in 4-byte slots (128 KiB) */
#define TINY_ARENA_SLOTS 128u   /* ANNAL_JSON_TINY_ARENA */
#define FIRST_TABLE 64u         /* capacity of an object's first hash set */
#define ESC_BIT 0x80000000u     /* in a stored name offset: the name has escapes */
#define LEN_LIMIT 0x80000000u   /* inputs must be shorter than this */

/* jlevel.mode */
#define M_OBJ 1u    /* an object */
#define M_REPORT 2u /* an object whose members are reported (depth <= member_depth) */
#define M_CENTS 4u  /* an object whose names are checked for "_cents" (ANNAL_JSON_MONEY, depth >= 2) */
#define M_MONEY 8u  /* the current member's name ends in "_cents": its value must be an integer */
#define M_TOP 16u   /* lv[0], below the top-level value */
#define M_NAMES 32u /* the top-level object, when the caller checks its names (json_name_fn) */

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

struct jlevel {
    const unsigned char *key;   /* objects: raw name of the current member, or NULL */
    uint32_t key_len;
    uint8_t key_esc;
    uint8_t is_obj;
    uint8_t mode;               /* M_* */
    uint8_t fallback;           /* the hash set could not grow: walk the object */
    uint64_t bloom;             /* Bloom filter of the first names' tags; all ones
                                   once one of them has escapes */
    uint32_t start;             /* input offset of the '{' or '[' */
    uint32_t n;                 /* objects: names so far; arrays: current index */
    size_t out_start;           /* output offset of the '{' or '[' */
    uint32_t tab, tcap, tcount; /* hash set: arena index, capacity (0: none), names */
    uint32_t koff[SMALL_KEYS];  /* first names: input offset | ESC_BIT */
    uint64_t ktag[SMALL_KEYS];  /* first names: name_tag() */
};

typedef struct scanner {
    const unsigned char *in, *end;
    char *out;
    size_t cap, olen;
    const unsigned char *span;  /* first input byte not yet copied to out */
    size_t skipped;             /* whitespace bytes dropped so far */
    int esc;                    /* str_slow: the string had escapes */
    int rc;                     /* skip_ws: why it failed */
    unsigned flags;
    annal_json_member_fn on_member;
    void *arg;
    int member_depth;
    const char *report_in;      /* members of depth >= 2 are reported only inside the
                                   top-level member of this name (NULL: everywhere) */
    size_t report_in_len;
    int names1;                 /* the caller checks the top-level object's names */
    int depth;
    annal_json_error *err;
    annal_json_error scratch;   /* err when the caller passed NULL */
    uint64_t seed;
    uint32_t arena_top, arena_cap;
    size_t start;               /* ANNAL_JSON_IN_OBJECT: first member */
    struct jlevel lv[ANNAL_JSON_DEPTH_MAX + 1]; /* lv[1..depth]; lv[0]: below the top (M_TOP) */
    uint32_t arena[ARENA_SLOTS];
} scanner;

/* Called for each member of an object whose members are reported (depth <=
 * member_depth, report_in) once its value vstart..vend has been scanned:
 * kind is an enum annal_json_kind, vesc whether a string value has escapes,
 * `extra` an integer's value (ANNAL_JSON_INT) or a container's output offset
 * (ANNAL_JSON_OBJECT, ANNAL_JSON_ARRAY). The member's name and depth are in
 * L (== &s->lv[s->depth]). Returns 0 to go on, or nonzero (the scan's return value)
 * with s->err filled. */
typedef int (*json_report_fn)(scanner *s, const struct jlevel *L, int kind,
                              const unsigned char *vstart, const unsigned char *vend, int vesc,
                              int64_t extra);

/* Optional: called for each name of the top-level object (k[0..n) as sent,
 * esc: it has escapes) instead of the scanner's own duplicate check, for a
 * caller that knows the names it accepts. Returns 1 if the name was already
 * used in the object (the scan then fails with the duplicate error), else 0.
 * (A name the caller rejects may be reported new: its member fails when it
 * is reported, before any later name is read.) */
typedef int (*json_name_fn)(scanner *s, const unsigned char *k, size_t n, int esc);

/* ------------------------------------------------------------------ */
/* Byte classes                                                         */

/* Bytes that end the fast run inside a string: '"', '\\', < 0x20, >= 0x80. */
static const unsigned char str_special[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};
static const unsigned char is_ws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};
/* Hex digit value + 1, 0 for a non-hex byte. */
static const unsigned char hexv[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

static inline int is_digit(unsigned c) { return c - '0' <= 9u; }

/* The 4 hex digits at p as a number, or -1. */
static inline long hex4(const unsigned char *p)
{
    unsigned a = hexv[p[0]], b = hexv[p[1]], c = hexv[p[2]], d = hexv[p[3]];
    if (!a || !b || !c || !d)
        return -1;
    return (long)(((a - 1) << 12) | ((b - 1) << 8) | ((c - 1) << 4) | (d - 1));
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */

/* Append raw[0..n) to buf (cap bytes, NUL-terminated), cutting at a UTF-8
 * character boundary; returns the new length. */
static inline size_t append_cut(char *buf, size_t len, size_t cap, const char *raw, size_t n)
{
    if (len + 1 >= cap)
        return len;
    size_t room = cap - 1 - len;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)raw[n] & 0xC0) == 0x80)
            n--;
        if (n > 0 && (unsigned char)raw[n - 1] >= 0xC0)
            n--;
    }
    memcpy(buf + len, raw, n);
    buf[len + n] = 0;
    return len + n;
}

static inline void build_path(const scanner *s, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int d = 1; d <= s->depth; d++) {
        const struct jlevel *L = &s->lv[d];
        if (L->is_obj) {
            if (!L->key)
                break;
            if (len)
                len = append_cut(buf, len, cap, ".", 1);
            len = append_cut(buf, len, cap, (const char *)L->key, L->key_len);
        } else {
            char idx[16];
            int k = snprintf(idx, sizeof idx, "[%u]", L->n);
            len = append_cut(buf, len, cap, idx, (size_t)k);
        }
    }
}

__attribute__((cold, noinline, unused, format(printf, 3, 4))) static int
fail(scanner *s, const unsigned char *at, const char *fmt, ...)
{
    annal_json_error *e = s->err;
    build_path(s, e->path, sizeof e->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    e->offset = (size_t)(at - s->in);
    return ANNAL_EEVENT;
}

/* "byte 0x.." or "'c'" for messages. */
static inline const char *byte_desc(unsigned c, char buf[16])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 16, "'%c'", (int)c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

__attribute__((cold, noinline, unused)) static int fail_byte(scanner *s, const unsigned char *at,
                                                     const char *what)
{
    char b[16];
    if (at >= s->end)
        return fail(s, at, "invalid JSON: unexpected end of input; %s", what);
    return fail(s, at, "invalid JSON: unexpected %s; %s", byte_desc(*at, b), what);
}

/* ------------------------------------------------------------------ */
/* Strings                                                              */

#if JSON_SSE2
/* The constants of special_mask(), kept in registers by the caller. */
typedef struct vconst {
    __m128i x02, c21, bs;
} vconst;
#define VCONST_INIT {_mm_set1_epi8(0x02), _mm_set1_epi8(0x21), _mm_set1_epi8('\\')}

/* Bit i set: v[i] is '"', '\\', < 0x20 or >= 0x80. (v ^ 0x02 turns '"' into
 * 0x20 and keeps 0x00..0x1f below it; as signed bytes, 0x80..0xff are
 * negative: one signed compare catches all three.) */
static inline unsigned special_mask(__m128i v, const vconst c)
{
    __m128i lt = _mm_cmpgt_epi8(c.c21, _mm_xor_si128(v, c.x02));
    __m128i bs = _mm_cmpeq_epi8(v, c.bs);
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(lt, bs));
}
#else
typedef int vconst;
#define VCONST_INIT 0
#endif

#if JSON_LE
/* The lowest set bit is the high bit of the first byte of x that is '"',
 * '\\', < 0x20 or >= 0x80 (higher bits may be false positives). */
static inline uint64_t special_word(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & high;
}
#endif

/* The first byte at or after p that is special in a string, or end. `lo` is
 * the start of the input: the last 16 bytes before end may be read as one
 * block when the input is that long. */
static inline __attribute__((always_inline)) const unsigned char *
find_special_c(const unsigned char *p, const unsigned char *lo, const unsigned char *end,
               const vconst c)
{
#if JSON_SSE2
    while (end - p >= 16) {
        unsigned bits = special_mask(_mm_loadu_si128((const __m128i *)(const void *)p), c);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
    if (p < end && end - lo >= 16) {
        /* the tail: the last 16 bytes of the input, the bytes before p shifted out */
        unsigned bits = special_mask(_mm_loadu_si128((const __m128i *)(const void *)(end - 16)), c);
        bits >>= 16 - (end - p);
        return bits ? p + __builtin_ctz(bits) : end;
    }
#elif JSON_LE
    (void)c;
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t m = special_word(x);
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#else
    (void)c;
#endif
    (void)lo;
    while (p < end && !str_special[*p])
        p++;
    return p;
}

static inline const unsigned char *find_special(const unsigned char *p, const unsigned char *lo,
                                                const unsigned char *end)
{
    const vconst c = VCONST_INIT;
    return find_special_c(p, lo, end, c);
}

/* Validate one UTF-8 sequence starting with a byte >= 0x80 at p; return the
 * byte after it, or NULL with the error set. */
static inline const unsigned char *utf8_seq(scanner *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    int need;
    if (c < 0xC2)
        goto bad; /* stray continuation byte, or an overlong 2-byte lead */
    if (c < 0xE0)
        need = 1;
    else if (c < 0xF0) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
    } else if (c < 0xF5) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else
        goto bad;
    if (end - p <= need)
        goto bad;
    if (p[1] < lo || p[1] > hi)
        goto bad;
    for (int i = 2; i <= need; i++)
        if ((p[i] & 0xC0) != 0x80)
            goto bad;
    return p + need + 1;
bad:
    fail(s, p,
         "invalid UTF-8 (byte 0x%02x); strings must be valid UTF-8 without overlong forms, "
         "surrogates or code points above U+10FFFF",
         c);
    return NULL;
}

/* Check an escape sequence at p (p[0] == '\\'); return the byte after it. */
static inline const unsigned char *escape_seq(scanner *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    if (end - p < 2)
        goto unterminated;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        break;
    default:
        fail(s, p, "invalid escape '\\%c' in a string; allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
             p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
        return NULL;
    }
    if (end - p < 6)
        goto unterminated;
    long cp = hex4(p + 2);
    if (cp < 0)
        goto badhex;
    if (cp == 0) {
        fail(s, p, "the escape \\u0000 (NUL) is not allowed in strings");
        return NULL;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        fail(s, p, "lone low surrogate \\u%04lX; a surrogate escape must be a \\uD800-\\uDBFF "
                   "\\uDC00-\\uDFFF pair", cp);
        return NULL;
    }
    if (cp < 0xD800 || cp > 0xDBFF)
        return p + 6;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8) < 0xDC00 ||
        hex4(p + 8) > 0xDFFF) {
        fail(s, p, "lone high surrogate \\u%04lX; it must be followed by a low surrogate "
                   "escape \\uDC00-\\uDFFF", cp);
        return NULL;
    }
    return p + 12;
badhex:
    fail(s, p, "invalid \\u escape: \\u must be followed by 4 hex digits");
    return NULL;
unterminated:
    fail(s, p, "unterminated string: the input ends inside an escape");
    return NULL;
}

/* The slow part of a string body: p is at a special byte (or the end).
 * Returns the closing quote, or NULL with the error set; sets s->esc if the
 * string has escapes (clears it if not). */
__attribute__((noinline, unused)) static const unsigned char *str_slow(scanner *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    s->esc = 0;
    for (;;) {
        if (p >= end) {
            fail(s, p, "unterminated string: the input ends before the closing quote");
            return NULL;
        }
        unsigned c = *p;
        if (c == '"')
            return p;
        if (c == '\\') {
            s->esc = 1;
            p = escape_seq(s, p);
        } else if (c < 0x20) {
            fail(s, p, "unescaped control character 0x%02x in a string; write it as an escape "
                       "(\\n, \\t, \\u001f, ...)", c);
            return NULL;
        } else {
            p = utf8_seq(s, p);
        }
        if (!p)
            return NULL;
        p = find_special(p, s->in, end);
    }
}

/* ------------------------------------------------------------------ */
/* Decoding names (only when escapes are involved)                      */

struct udec {
    const unsigned char *p, *end;
    unsigned char b[4];
    int bi, bn;
};

/* Next decoded byte, or -1 at the end. Tolerates invalid input. */
static inline int udec_next(struct udec *d)
{
    if (d->bi < d->bn)
        return d->b[d->bi++];
    if (d->p >= d->end)
        return -1;
    unsigned c = *d->p;
    if (c != '\\' || d->end - d->p < 2) {
        d->p++;
        return (int)c;
    }
    c = d->p[1];
    switch (c) {
    case 'b': d->p += 2; return 8;
    case 'f': d->p += 2; return 12;
    case 'n': d->p += 2; return 10;
    case 'r': d->p += 2; return 13;
    case 't': d->p += 2; return 9;
    case 'u': break;
    default: d->p += 2; return (int)c;
    }
    long cp = d->end - d->p >= 6 ? hex4(d->p + 2) : -1;
    if (cp < 0) {
        d->p++;
        return '\\';
    }
    d->p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && d->end - d->p >= 6 && d->p[0] == '\\' &&
        d->p[1] == 'u') {
        long lo = hex4(d->p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            d->p += 6;
        }
    }
    unsigned u = (unsigned)cp;
    if (u < 0x80) {
        d->b[0] = (unsigned char)u;
        d->bn = 1;
    } else if (u < 0x800) {
        d->b[0] = (unsigned char)(0xC0 | (u >> 6));
        d->b[1] = (unsigned char)(0x80 | (u & 0x3F));
        d->bn = 2;
    } else if (u < 0x10000) {
        d->b[0] = (unsigned char)(0xE0 | (u >> 12));
        d->b[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
        d->b[2] = (unsigned char)(0x80 | (u & 0x3F));
        d->bn = 3;
    } else {
        d->b[0] = (unsigned char)(0xF0 | (u >> 18));
        d->b[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
        d->b[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
        d->b[3] = (unsigned char)(0x80 | (u & 0x3F));
        d->bn = 4;
    }
    d->bi = 1;
    return d->b[0];
}

static inline void udec_init(struct udec *d, const unsigned char *p, size_t n)
{
    d->p = p;
    d->end = p + n;
    d->bi = d->bn = 0;
}

static inline int decoded_eq(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    struct udec x, y;
    udec_init(&x, a, an);
    udec_init(&y, b, bn);
    for (;;) {
        int c = udec_next(&x), d = udec_next(&y);
        if (c != d)
            return 0;
        if (c < 0)
            return 1;
    }
}

/* The closing quote of a string body already validated, starting at k. */
static inline const unsigned char *body_end(const unsigned char *k)
{
    for (;;) {
        if (*k == '"')
            return k;
        k += *k == '\\' ? 2 : 1;
    }
}

/* Does the name end in "_cents" once decoded? */
static inline int name_is_cents(const unsigned char *k, size_t n, int esc)
{
    static const char suf[6] = {'_', 'c', 'e', 'n', 't', 's'};
    if (!esc)
        return n >= 6 && memcmp(k + n - 6, suf, 6) == 0;
    unsigned char ring[6];
    size_t cnt = 0;
    struct udec d;
    int c;
    udec_init(&d, k, n);
    while ((c = udec_next(&d)) >= 0)
        ring[cnt++ % 6] = (unsigned char)c;
    if (cnt < 6)
        return 0;
    for (size_t i = 0; i < 6; i++)
        if (ring[(cnt - 6 + i) % 6] != (unsigned char)suf[i])
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Duplicate names                                                      */

static inline uint32_t name_hash(const scanner *s, const unsigned char *k, size_t n, int esc)
{
    uint64_t h = s->seed;
    if (!esc) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ k[i]) * 0x100000001b3ull;
    } else {
        struct udec d;
        int c;
        udec_init(&d, k, n);
        while ((c = udec_next(&d)) >= 0)
            h = (h ^ (unsigned)c) * 0x100000001b3ull;
    }
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return (uint32_t)(h >> 32);
}

/* Is the name k[0..n) equal to the stored name at `slot` (offset|ESC_BIT)? */
static inline int name_eq_slot(const scanner *s, const unsigned char *k, size_t n, int esc,
                               uint32_t slot)
{
    const unsigned char *o = s->in + (slot & ~ESC_BIT);
    if (!esc && !(slot & ESC_BIT))
        return memcmp(o, k, n) == 0 && o[n] == '"';
    return decoded_eq(k, n, o, (size_t)(body_end(o) - o));
}

static inline void table_put(scanner *s, uint32_t tab, uint32_t cap, uint32_t slot)
{
    const unsigned char *o = s->in + (slot & ~ESC_BIT);
    uint32_t i = name_hash(s, o, (size_t)(body_end(o) - o), (slot & ESC_BIT) != 0) & (cap - 1);
    uint32_t *t = s->arena + tab;
    while (t[i])
        i = (i + 1) & (cap - 1);
    t[i] = slot;
}

/* Give L a hash set of `cap` slots at the top of the arena; 0 if no room. */
static inline int table_make(scanner *s, struct jlevel *L)
{
    if (s->arena_cap - s->arena_top < FIRST_TABLE)
        return 0;
    L->tab = s->arena_top;
    L->tcap = FIRST_TABLE;
    s->arena_top += FIRST_TABLE;
    memset(s->arena + L->tab, 0, FIRST_TABLE * sizeof(uint32_t));
    for (uint32_t i = 0; i < SMALL_KEYS; i++)
        table_put(s, L->tab, L->tcap, L->koff[i]);
    L->tcount = SMALL_KEYS;
    return 1;
}

/* Double L's set in place (it is at the top of the arena); 0 if no room. */
static inline int table_grow(scanner *s, struct jlevel *L)
{
    uint32_t ncap = L->tcap * 2, nt = L->tab + L->tcap;
    if (s->arena_top != nt || s->arena_cap - nt < ncap)
        return 0;
    memset(s->arena + nt, 0, ncap * sizeof(uint32_t));
    for (uint32_t i = 0; i < L->tcap; i++)
        if (s->arena[L->tab + i])
            table_put(s, nt, ncap, s->arena[L->tab + i]);
    memmove(s->arena + L->tab, s->arena + nt, ncap * sizeof(uint32_t));
    L->tcap = ncap;
    s->arena_top = L->tab + ncap;
    return 1;
}

static inline const unsigned char *skip_ws_raw(const unsigned char *p)
{
    while (is_ws[*p])
        p++;
    return p;
}

/* Skip one valid value at p. */
static inline const unsigned char *skip_value(const unsigned char *p)
{
    int depth = 0;
    do {
        unsigned c = *p;
        if (c == '"')
            p = body_end(p + 1) + 1;
        else if (c == '{' || c == '[')
            depth++, p++;
        else if (c == '}' || c == ']')
            depth--, p++;
        else if (depth > 0)
            p++;
        else
            while (!is_ws[*p] && *p != ',' && *p != '}' && *p != ']')
                p++;
    } while (depth > 0);
    return p;
}

/* Fallback for huge objects: compare the name at k against every earlier
 * name of L's object by walking its (already validated) text. */
static inline int walk_has_name(const scanner *s, const struct jlevel *L, const unsigned char *k,
                         size_t n, int esc)
{
    const unsigned char *p = s->in + L->start + 1;
    for (;;) {
        p = skip_ws_raw(p);
        const unsigned char *ks = p + 1, *ke = body_end(ks);
        if (ks == k)
            return 0;
        uint32_t slot = (uint32_t)(ks - s->in);
        if (memchr(ks, '\\', (size_t)(ke - ks)))
            slot |= ESC_BIT;
        if (name_eq_slot(s, k, n, esc, slot))
            return 1;
        p = skip_ws_raw(ke + 1) + 1;       /* ':' */
        p = skip_value(skip_ws_raw(p));
        p = skip_ws_raw(p) + 1;            /* ',' */
    }
}

/* A name's tag: its first bytes (8, or n if n & 15 < 8; zero-padded) plus
 * its length. Equal raw names have equal tags, and most unequal ones
 * differ. */
static inline uint64_t name_tag(const unsigned char *k, size_t n, const unsigned char *end)
{
    uint64_t h = 0;
#if JSON_LE
    static const uint64_t keep[16] = {
        0, 0xff, 0xffff, 0xffffff, 0xffffffffull, 0xffffffffffull, 0xffffffffffffull,
        0xffffffffffffffull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
    };
    if (LIKELY(end - k >= 8)) {
        memcpy(&h, k, 8);
        return (h & keep[n & 15]) + n;
    }
#endif
    (void)end;
    size_t m = (n & 15) < 8 ? (n & 15) : 8;
    for (size_t i = 0; i < m; i++)
        h |= (uint64_t)k[i] << (8 * i);
    return h + n;
}

/* Is the name k[0..n) among the first names of L (cnt < SMALL_KEYS)? */
__attribute__((noinline, unused)) static int small_has_name(const scanner *s, const struct jlevel *L,
                                                    const unsigned char *k, size_t n, int esc,
                                                    uint64_t tag)
{
    for (uint32_t i = 0; i < L->n; i++) {
        uint32_t slot = L->koff[i];
        if (!esc && !(slot & ESC_BIT)) {
            if (L->ktag[i] == tag && name_eq_slot(s, k, n, 0, slot))
                return 1;
        } else if (name_eq_slot(s, k, n, esc, slot)) {
            return 1;
        }
    }
    return 0;
}

/* name_seen() past the first SMALL_KEYS names: the hash set, or the walk. */
__attribute__((noinline, unused)) static int big_seen(scanner *s, struct jlevel *L, const unsigned char *k,
                                              size_t n, int esc)
{
    uint32_t slot = (uint32_t)(k - s->in) | (esc ? ESC_BIT : 0);
    if (!L->fallback && !L->tcap && !table_make(s, L))
        L->fallback = 1;
    if (!L->fallback && (L->tcount + 1) * 2 > L->tcap && !table_grow(s, L) &&
        (uint64_t)(L->tcount + 1) * 20 > (uint64_t)L->tcap * 17)
        L->fallback = 1;
    if (L->fallback)
        return walk_has_name(s, L, k, n, esc);
    uint32_t mask = L->tcap - 1, i = name_hash(s, k, n, esc) & mask;
    uint32_t *t = s->arena + L->tab;
    while (t[i]) {
        if (name_eq_slot(s, k, n, esc, t[i]))
            return 1;
        i = (i + 1) & mask;
    }
    t[i] = slot;
    L->tcount++;
    return 0;
}

/* Record the name k[0..n) in L's set; 1 if it was already there.
 * Small objects: a 64-bit Bloom filter of the tags skips the pairwise
 * comparison for most new names; names with escapes always compare (an
 * escaped name fills the filter). (json_run() has this inline for the
 * common case.) */
__attribute__((noinline, unused)) static int name_seen(scanner *s, struct jlevel *L,
                                               const unsigned char *k, size_t n, int esc)
{
    uint32_t cnt = L->n;
    if (cnt >= SMALL_KEYS)
        return big_seen(s, L, k, n, esc);
    uint64_t tag = name_tag(k, n, s->end);
    uint64_t bit = 1ull << ((tag * 0x9E3779B97F4A7C15ull) >> 58);
    if (((L->bloom & bit) || esc) && small_has_name(s, L, k, n, esc, tag))
        return 1;
    L->bloom |= esc ? ~0ull : bit;
    L->koff[cnt] = (uint32_t)(k - s->in) | (esc ? ESC_BIT : 0);
    L->ktag[cnt] = tag;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                              */

/* The part of a number after its integer digits: a fraction and/or an
 * exponent (p is at '.', 'e' or 'E'). Returns the byte after it, or NULL
 * with the error set. */
__attribute__((noinline, unused)) static const unsigned char *
number_real(scanner *s, const unsigned char *start, const unsigned char *p)
{
    const unsigned char *end = s->end;
    if (*p == '.') {
        p++;
        if (p == end || !is_digit(*p)) {
            fail(s, start, "invalid number: '.' must be followed by a digit");
            return NULL;
        }
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p)) {
            fail(s, start, "invalid number: the exponent must have digits");
            return NULL;
        }
        while (p < end && is_digit(*p))
            p++;
    }
    return p;
}

/* A number at p ('-' or a digit). Returns the byte after it, or NULL with
 * the error set; *kind and (integers) *ival set. */
static inline __attribute__((always_inline)) const unsigned char *
scan_number(scanner *s, const unsigned char *p, const unsigned char *end, int *kind, int64_t *ival)
{
    const unsigned char *start = p;
    int neg = *p == '-';
    p += neg;
    unsigned d;
    if (UNLIKELY(p == end || (d = (unsigned)*p - '0') > 9)) {
        fail(s, start, "invalid number: '-' must be followed by a digit");
        return NULL;
    }
    const unsigned char *digits = p++;
    uint64_t v = d;
    if (d == 0) {
        if (UNLIKELY(p < end && is_digit(*p))) {
            fail(s, start, "invalid number: leading zeros are not allowed");
            return NULL;
        }
    } else {
        while (p < end && (d = (unsigned)*p - '0') <= 9) {
            v = v * 10 + d;
            p++;
        }
    }
    if (UNLIKELY(p < end && (*p == '.' || (*p | 0x20) == 'e'))) {
        *kind = ANNAL_JSON_REAL;
        return number_real(s, start, p);
    }
    /* 19 digits never wrap a uint64 */
    if (UNLIKELY(p - digits > 19 || v > ((uint64_t)1 << 63) - 1 + (uint64_t)neg)) {
        fail(s, start, "integer out of range: integers must be within int64 "
                       "(-9223372036854775808..9223372036854775807)");
        return NULL;
    }
    *ival = neg ? (int64_t)(0 - v) : (int64_t)v;
    *kind = ANNAL_JSON_INT;
    return p;
}

/* ------------------------------------------------------------------ */
/* Output                                                               */

/* Copy the pending run [span, q) to the output. */
static inline int flush(scanner *s, const unsigned char *q)
{
    size_t n = (size_t)(q - s->span);
    if (n > s->cap - s->olen) {
        fail(s, q, "the output buffer is too small for the compact form");
        return ANNAL_EFULL;
    }
    memcpy(s->out + s->olen, s->span, n);
    s->olen += n;
    return 0;
}

/* Output offset of input position q (q >= span); in check-only mode, its
 * input offset. */
static inline size_t out_off(const scanner *s, const unsigned char *q)
{
    return (size_t)(q - s->in) - s->skipped;
}

/* Insignificant whitespace at p: an error in check-only mode; otherwise
 * copy the pending run and skip the whitespace. Returns the byte after the
 * whitespace, or NULL with s->rc and the error set. */
__attribute__((noinline, unused)) static const unsigned char *skip_ws(scanner *s, const unsigned char *p)
{
    const unsigned char *q = p;
    if (!s->out) {
        s->rc = fail(s, p, "not in compact form: whitespace outside strings is not allowed here");
        return NULL;
    }
    if ((s->rc = flush(s, p)) != 0)
        return NULL;
    do
        q++;
    while (q < s->end && is_ws[*q]);
    s->skipped += (size_t)(q - p);
    s->span = q;
    return q;
}

/* If p is at whitespace, skip it and go to `again`. */
#define WS_RETRY(again)                                                                       \
    do {                                                                                      \
        if (p < end && is_ws[*p]) {                                                           \
            if (!(p = skip_ws(s, p)))                                                         \
                return s->rc;                                                                 \
            goto again;                                                                       \
        }                                                                                     \
    } while (0)

/* ------------------------------------------------------------------ */
/* The state machine                                                    */

/* Are the members of an object at `depth` inside the top-level member
 * named s->report_in (or is there no such restriction)? */
static inline int reported_in(const scanner *s, int depth)
{
    if (depth < 2 || !s->report_in)
        return 1;
    const struct jlevel *T = &s->lv[1];
    if (!T->key)
        return 0;
    if (!T->key_esc)
        return T->key_len == s->report_in_len && memcmp(T->key, s->report_in, T->key_len) == 0;
    return annal_json_str_eq((const char *)T->key, T->key_len, 1, s->report_in,
                             s->report_in_len);
}

static inline void level_open(scanner *s, struct jlevel *L, int is_obj, const unsigned char *at,
                              int depth)
{
    L->mode = (uint8_t)(!is_obj ? 0
                                : M_OBJ | (depth <= s->member_depth && reported_in(s, depth) ? M_REPORT : 0) |
                                      (depth >= 2 && (s->flags & ANNAL_JSON_MONEY) ? M_CENTS : 0) |
                                      (depth == 1 && s->names1 ? M_NAMES : 0));
    L->key = NULL;
    L->key_len = 0;
    L->key_esc = 0;
    L->is_obj = (uint8_t)is_obj;
    L->fallback = 0;
    L->bloom = 0;
    L->start = (uint32_t)(at - s->in);
    L->n = 0;
    L->out_start = out_off(s, at);
    L->tcap = 0;
    L->tcount = 0;
}

/* The rare starts of a value: literals, whitespace, errors. Returns the byte
 * after the value (kind set), the byte after whitespace (kind 0), or NULL
 * with the error and s->rc set. */
__attribute__((noinline, unused)) static const unsigned char *value_other(scanner *s,
                                                                  const unsigned char *p,
                                                                  int *kind)
{
    const unsigned char *end = s->end;
    switch (*p) {
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            *kind = ANNAL_JSON_TRUE;
            return p + 4;
        }
        s->rc = fail_byte(s, p, "expected a value (did you mean true?)");
        return NULL;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            *kind = ANNAL_JSON_FALSE;
            return p + 5;
        }
        s->rc = fail_byte(s, p, "expected a value (did you mean false?)");
        return NULL;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            *kind = ANNAL_JSON_NULL;
            return p + 4;
        }
        s->rc = fail_byte(s, p, "expected a value (did you mean null?)");
        return NULL;
    case ' ': case '\t': case '\n': case '\r':
        *kind = 0;
        return skip_ws(s, p);
    default:
        s->rc = fail_byte(s, p, "expected a value (object, array, string, number, true, false "
                                "or null)");
        return NULL;
    }
}

static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Does the raw name ending at its closing quote q (n bytes) end in "_cents"? */
static inline int raw_cents(const unsigned char *q, size_t n)
{
    /* (ld32 of a literal folds to a constant) */
    return n >= 6 && q[-1] == 's' && q[-2] == 't' && ld32(q - 6) == ld32("_cen");
}

/* A member name, the general way: k is its first byte, q the first special
 * byte of its body (or the end). Scans the rest of the body, records the
 * name (the duplicate check) and sets L's M_MONEY. Returns the closing quote,
 * or NULL with the error set. */
__attribute__((noinline, unused)) static const unsigned char *
member_name(scanner *s, struct jlevel *L, const unsigned char *k, const unsigned char *q,
            json_name_fn name_hook)
{
    int esc = 0;
    if (q >= s->end || *q != '"') {
        if (!(q = str_slow(s, q)))
            return NULL;
        esc = s->esc;
    }
    size_t n = (size_t)(q - k);
    L->key = k;
    L->key_len = (uint32_t)n;
    L->key_esc = (uint8_t)esc;
    if ((L->mode & M_NAMES) ? name_hook(s, k, n, esc) : name_seen(s, L, k, n, esc)) {
        fail(s, k - 1, "duplicate member name (names are compared after decoding escapes); a "
                       "name may appear only once per object");
        return NULL;
    }
    L->n++;
    if (L->mode & M_CENTS) {
        int c = esc ? name_is_cents(k, n, esc) : raw_cents(q, n);
        L->mode = (uint8_t)(c ? L->mode | M_MONEY : L->mode & ~M_MONEY);
    }
    return q;
}

/* The tag of a name of n bytes at k with at least 8 bytes readable at k
 * (name_tag() without the bounds check). */
static inline uint64_t name_tag8(const unsigned char *k, size_t n)
{
#if JSON_LE
    static const uint64_t keep[16] = {
        0, 0xff, 0xffff, 0xffffff, 0xffffffffull, 0xffffffffffull, 0xffffffffffffull,
        0xffffffffffffffull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull,
    };
    uint64_t h;
    memcpy(&h, k, 8);
    return (h & keep[n & 15]) + n;
#else
    return name_tag(k, n, k + 8);
#endif
}

/* The two bytes a, b as a native 16-bit word (for comparing two bytes at once). */
static inline uint16_t pair16(unsigned char a, unsigned char b)
{
    const unsigned char t[2] = {a, b};
    uint16_t v;
    memcpy(&v, t, 2);
    return v;
}

static inline uint16_t ld16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline __attribute__((always_inline)) int json_run(scanner *s, json_report_fn report,
                                                         json_name_fn name_hook)
{
    const unsigned char *const in = s->in, *const end = s->end;
    const unsigned char *p, *q, *vstart;
    int kind, vesc, rc;
    int64_t ival = 0;
    struct jlevel *L = &s->lv[0];
    struct jlevel *const Lmax = &s->lv[ANNAL_JSON_DEPTH_MAX];
    const unsigned flags = s->flags;
    /* strings starting at or below lim16 have 16 bytes readable; after a
     * quote at or below lim3, 2 more bytes are */
    const uintptr_t lim16 = (uintptr_t)end - 16, lim3 = (uintptr_t)end - 3;
    vconst vc = VCONST_INIT;
#if JSON_SSE2
    /* keep the constants in registers (GCC would reload them for every string) */
    __asm__("" : "+x"(vc.x02), "+x"(vc.c21), "+x"(vc.bs));
#else
    (void)lim16;
#endif

    L->mode = M_TOP;
    if (flags & ANNAL_JSON_IN_OBJECT) {
        s->depth = 1;
        L = &s->lv[1];
        level_open(s, L, 1, in, 1);
        p = in + s->start;
        if (p == end || *p != '"')
            return fail_byte(s, p, "expected a member name in double quotes");
        goto member;
    }
    p = in;
    if (p < end && is_ws[*p] && !(p = skip_ws(s, p)))
        return s->rc;
    if ((flags & ANNAL_JSON_OBJECT_ONLY) && (p == end || *p != '{')) {
        char b[16];
        return fail(s, p, "the document must be a JSON object {...}; it starts with %s",
                    p == end ? "nothing" : byte_desc(*p, b));
    }

value:
    if (UNLIKELY(p == end))
        return fail(s, p, "invalid JSON: unexpected end of input where a value was expected");
value_here: /* p < end */
    vstart = p;
    {
        unsigned c = *p;
        if (LIKELY(c == '"'))
            goto string_value;
        vesc = 0;
        if (c - '0' <= 9u || c == '-') {
            if (!(p = scan_number(s, p, end, &kind, &ival)))
                return ANNAL_EEVENT;
            goto scalar_done;
        }
        if (c == '{') {
            if (UNLIKELY(L == Lmax))
                goto too_deep;
            L++;
            s->depth = (int)(L - s->lv);
            level_open(s, L, 1, p, s->depth);
            p++;
        first_member:
            if (LIKELY(p < end)) {
                if (LIKELY(*p == '"'))
                    goto key;
                if (*p == '}') {
                    p++;
                    goto close;
                }
                WS_RETRY(first_member);
            }
            goto member;
        }
        if (c == '[') {
            if (UNLIKELY(L == Lmax))
                goto too_deep;
            L++;
            s->depth = (int)(L - s->lv);
            level_open(s, L, 0, p, s->depth);
            p++;
        first_element:
            if (LIKELY(p < end)) {
                if (*p == ']') {
                    p++;
                    goto close;
                }
                WS_RETRY(first_element);
            }
            goto value;
        }
        if (!(p = value_other(s, p, &kind)))
            return s->rc; /* (ANNAL_EFULL too: whitespace copies) */
        if (!kind)
            goto value; /* after whitespace */
        goto scalar_done;
    }

string_value: /* p == vstart, at the opening quote */
    {
        const unsigned char *b = p + 1;
#if JSON_SSE2
        if (LIKELY((uintptr_t)b <= lim16)) {
            unsigned bits = special_mask(_mm_loadu_si128((const __m128i *)(const void *)b), vc);
            if (LIKELY(bits)) {
                q = b + __builtin_ctz(bits);
                vesc = 0;
                if (LIKELY(*q == '"'))
                    goto string_done;
                goto string_slow;
            }
            b += 16;
        }
#endif
        q = find_special_c(b, in, end, vc);
        vesc = 0;
        if (LIKELY(q < end && *q == '"'))
            goto string_done;
        goto string_slow;
    string_slow:
        if (!(q = str_slow(s, q)))
            return ANNAL_EEVENT;
        vesc = s->esc;
    }
string_done: /* q: the closing quote */
    p = q + 1;
    {
        unsigned m = L->mode;
        if (UNLIKELY(m != M_OBJ)) {
            kind = ANNAL_JSON_STRING;
            if (!(m & M_OBJ)) {
                if (UNLIKELY(m & M_TOP))
                    goto done;
                goto next_element;
            }
            if (UNLIKELY(m & M_MONEY))
                goto not_cents;
            if ((m & M_REPORT) && (rc = report(s, L, kind, vstart, p, vesc, 0)) != 0)
                return rc;
        }
    }
    /* `,"` (the next name) right after the quote */
    if (LIKELY((uintptr_t)q <= lim3) && ld16(p) == pair16(',', '"')) {
        p++;
        goto key;
    }
    goto next_member;

member:
    if (UNLIKELY(p == end || *p != '"')) {
        WS_RETRY(member);
        return fail_byte(s, p, "expected a member name in double quotes");
    }
key: /* p < end, at the opening quote of a name */
    {
        const unsigned char *k = p + 1;
#if JSON_SSE2
        if (UNLIKELY((uintptr_t)k > lim16))
            goto name_find;
        unsigned bits = special_mask(_mm_loadu_si128((const __m128i *)(const void *)k), vc);
        if (UNLIKELY(!bits))
            goto name_find;
        q = k + __builtin_ctz(bits);
#else
        q = find_special_c(k, in, end, vc);
        if (UNLIKELY(q >= end || end - k < 8))
            goto name_general;
#endif
        if (UNLIKELY(*q != '"'))
            goto name_general;
        size_t n = (size_t)(q - k);
        if (name_hook && (L->mode & M_NAMES)) {
            L->key = k;
            L->key_len = (uint32_t)n;
            L->key_esc = 0;
            if (UNLIKELY(name_hook(s, k, n, 0)))
                goto name_general; /* (reports the duplicate) */
            L->n++;
            goto name_done;
        }
        uint32_t cnt = L->n;
        if (UNLIKELY(cnt >= SMALL_KEYS))
            goto name_general;
        L->key = k;
        L->key_len = (uint32_t)n;
        L->key_esc = 0;
        uint64_t tag = name_tag8(k, n), bloom = L->bloom;
        unsigned bit = (unsigned)((tag * 0x9E3779B97F4A7C15ull) >> 58);
        if (UNLIKELY((bloom >> bit) & 1)) {
            /* maybe seen: a name with the same tag, or one with escapes (which
             * fill the filter) needs the full comparison */
            if (bloom == ~0ull)
                goto name_general;
            for (uint32_t i = 0; i < cnt; i++)
                if (L->ktag[i] == tag)
                    goto name_general;
        }
        L->bloom = bloom | (1ull << bit);
        L->koff[cnt] = (uint32_t)(k - in);
        L->ktag[cnt] = tag;
        L->n = cnt + 1;
    name_done:
        if (UNLIKELY(L->mode & M_CENTS))
            L->mode = (uint8_t)(raw_cents(q, n) ? L->mode | M_MONEY : L->mode & ~M_MONEY);
        /* ':' right after the quote, and the value's first byte */
        if (LIKELY((uintptr_t)q <= lim3) && q[1] == ':') {
            p = q + 2;
            if (LIKELY(*p == '"')) {
                vstart = p;
                goto string_value;
            }
            goto value_here;
        }
        p = q + 1;
        goto colon;
#if JSON_SSE2
    name_find:
        q = find_special_c(k, in, end, vc);
#endif
    name_general:
        if (!(q = member_name(s, L, k, q, name_hook)))
            return ANNAL_EEVENT;
        p = q + 1;
    }
colon:
    if (LIKELY(p < end && *p == ':')) {
        p++;
        goto value;
    }
    WS_RETRY(colon);
    return fail_byte(s, p, "expected ':' after a member name");

scalar_done:
    {
        unsigned m = L->mode;
        if (LIKELY(m == M_OBJ))
            goto next_member;
        if (!(m & M_OBJ)) {
            if (UNLIKELY(m & M_TOP))
                goto done;
            goto next_element;
        }
        if (UNLIKELY(m & M_MONEY) && kind != ANNAL_JSON_INT)
            goto not_cents;
        if ((m & M_REPORT) && (rc = report(s, L, kind, vstart, p, vesc, ival)) != 0)
            return rc;
        goto next_member;
    }

next_element:
    if (LIKELY(p < end)) {
        if (*p == ',') {
            p++;
            /* whitespace before the next element is still at this index (for
             * the error path) */
            if (UNLIKELY(p < end && is_ws[*p]) && !(p = skip_ws(s, p)))
                return s->rc;
            L->n++;
            goto value;
        }
        if (*p == ']') {
            p++;
            goto close;
        }
        WS_RETRY(next_element);
    }
    return fail_byte(s, p, "expected ',' or ']' after an array element");

next_member:
    if (LIKELY(p < end)) {
        if (LIKELY(*p == ',')) {
            p++;
            goto member;
        }
        if (*p == '}') {
            p++;
            goto close;
        }
        WS_RETRY(next_member);
    }
    return fail_byte(s, p, "expected ',' or '}' after an object member");

close:
    {
        const struct jlevel *C = L;
        if (C->tcap)
            s->arena_top = C->tab;
        L--;
        s->depth--;
        unsigned m = L->mode;
        if (LIKELY(m == M_OBJ))
            goto next_member;
        if (!(m & M_OBJ)) {
            if (UNLIKELY(m & M_TOP))
                goto done;
            goto next_element;
        }
        kind = C->is_obj ? ANNAL_JSON_OBJECT : ANNAL_JSON_ARRAY;
        vstart = in + C->start;
        if (UNLIKELY(m & M_MONEY))
            goto not_cents;
        if ((m & M_REPORT) && (rc = report(s, L, kind, vstart, p, 0, (int64_t)C->out_start)) != 0)
            return rc;
        goto next_member;
    }

done:
    if (p < end && is_ws[*p] && !(p = skip_ws(s, p)))
        return s->rc;
    if (p != end)
        return fail_byte(s, p, "expected the end of the document after the JSON value");
    if (s->out && (rc = flush(s, p)) != 0)
        return rc;
    return ANNAL_OK;

too_deep:
    return fail(s, p, "nesting too deep: at most %d nested objects/arrays are allowed",
                ANNAL_JSON_DEPTH_MAX);
not_cents:
    return fail(s, vstart, "money is integer cents: a *_cents member must be an integer "
                           "(no fraction, exponent or quotes); got %s",
                annal_json_kind_name(kind));
}

/* Describe in *m the member of the object at s->depth whose value
 * vstart..vend was just scanned (arguments as for json_report_fn). */
static inline __attribute__((always_inline)) void
json_member_fill(const scanner *s, annal_json_member *mp, int kind, const unsigned char *vstart,
                 const unsigned char *vend, int vesc, int64_t extra)
{
    const struct jlevel *L = &s->lv[s->depth];
    annal_json_member m;
    m.depth = s->depth;
    m.key = (const char *)L->key;
    m.key_len = L->key_len;
    m.key_escaped = L->key_esc;
    m.parent_key = NULL;
    m.parent_key_len = 0;
    m.parent_escaped = 0;
    if (s->depth >= 2 && L[-1].is_obj) {
        m.parent_key = (const char *)L[-1].key;
        m.parent_key_len = L[-1].key_len;
        m.parent_escaped = L[-1].key_esc;
    }
    m.kind = kind;
    m.val_offset = (size_t)(vstart - s->in);
    m.val_escaped = vesc;
    m.ival = kind == ANNAL_JSON_INT ? extra : 0;
    if (kind == ANNAL_JSON_STRING) {
        m.val = (const char *)vstart + 1;
        m.val_len = (size_t)(vend - vstart) - 2;
        m.out_offset = out_off(s, vstart) + 1;
        m.out_len = m.val_len;
    } else if (kind == ANNAL_JSON_OBJECT || kind == ANNAL_JSON_ARRAY) {
        m.val = (const char *)vstart;
        m.val_len = (size_t)(vend - vstart);
        m.out_offset = (size_t)extra;
        m.out_len = out_off(s, vend) - (size_t)extra;
    } else {
        m.val = (const char *)vstart;
        m.val_len = (size_t)(vend - vstart);
        m.out_offset = out_off(s, vstart);
        m.out_len = m.val_len;
    }
    *mp = m;
}

/* annal_json_scan(), reporting members through `report` and checking the
 * top-level names with `name_hook` if not NULL (constants in each caller, so
 * that they can be inlined there); `report_in`: if not NULL, members of
 * depth >= 2 are reported only inside the top-level member of this name
 * (compared decoded). */
static inline __attribute__((always_inline)) int
json_scan_run(annal_json_scan_args *a, annal_json_error *err, json_report_fn report,
              json_name_fn name_hook, const char *report_in)
{
    if (!a || !a->in)
        return ANNAL_EINVAL;
    scanner s;
    s.err = err ? err : &s.scratch;
    s.err->path[0] = 0;
    s.err->reason[0] = 0;
    s.err->offset = 0;
    if (a->len >= LEN_LIMIT) {
        snprintf(s.err->reason, sizeof s.err->reason,
                 "the document is %zu bytes; at most 2 GiB - 1 is supported", a->len);
        return ANNAL_EINVAL;
    }
    if ((a->flags & ANNAL_JSON_IN_OBJECT) &&
        (a->out || a->start > a->len || a->len == 0 || a->in[0] != '{'))
        return ANNAL_EINVAL;
    s.in = (const unsigned char *)a->in;
    s.end = s.in + a->len;
    s.out = a->out;
    s.cap = a->out ? a->cap : 0;
    s.olen = 0;
    s.span = s.in;
    s.skipped = 0;
    s.flags = a->flags;
    s.on_member = a->on_member;
    s.arg = a->arg;
    s.member_depth = a->member_depth; /* (annal_json_scan: 0 without on_member) */
    s.report_in = report_in;
    s.report_in_len = report_in ? strlen(report_in) : 0;
    s.depth = 0;
    s.seed = ((uint64_t)(uintptr_t)&s * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)a->in ^
             0xcbf29ce484222325ull;
    s.arena_top = 0;
    s.arena_cap = (a->flags & ANNAL_JSON_TINY_ARENA) ? TINY_ARENA_SLOTS : ARENA_SLOTS;
    s.start = a->start;
    s.lv[0].is_obj = 0;
    s.names1 = name_hook != NULL;
    int rc = json_run(&s, report, name_hook);
    a->out_len = rc == ANNAL_OK ? s.olen : 0;
    return rc;
}

#endif
