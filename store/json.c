/*
 * json.c - the validating, compacting JSON scanner of json.h.
 *
 * One pass, no recursion, no heap. The scanner is a small state machine
 * (value / member / after_value / close) over an explicit stack of levels.
 *
 * Compaction is lazy: bytes are not copied one by one. The scanner remembers
 * the start of the run of input bytes not yet copied (`span`); only when it
 * meets insignificant whitespace does it copy that run to the output and skip
 * the whitespace. A compact input is thus copied with one memcpy at the end.
 *
 * String bodies are scanned 16 bytes at a time with SSE2 (or bytewise via a
 * table elsewhere) until a quote, a backslash, a control byte or a non-ASCII
 * byte; only those are looked at one by one.
 *
 * Duplicate names: each object level keeps its first 16 names (offset and
 * length in the input) and compares a new name against them. From the 17th
 * name on, the object gets an open-addressing hash set (slots hold the input
 * offset of a name, keyed by a per-call seed) in a stack arena shared by all
 * open objects. Objects nest, so the arena is a stack too: an inner object's
 * set is freed when it closes, and the set of the object receiving a name is
 * always at the top, which lets it grow in place. Names are compared after
 * decoding, but decoding happens only when one of the two names has escapes.
 */
#include "json.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SMALL_KEYS 16           /* names compared pairwise up to this many */
#define ARENA_SLOTS 32768u      /* hash-set arena, in 4-byte slots (128 KiB) */
#define TINY_ARENA_SLOTS 128u   /* ANNAL_JSON_TINY_ARENA */
#define FIRST_TABLE 64u         /* capacity of an object's first hash set */
#define ESC_BIT 0x80000000u     /* in a stored name offset: the name has escapes */
#define LEN_LIMIT 0x80000000u   /* inputs must be shorter than this */
#define TAG_ESC (1ull << 63)    /* in a name tag: the name has escapes */

struct jlevel {
    const unsigned char *key;   /* objects: raw name of the current member, or NULL */
    uint32_t key_len;
    uint8_t key_esc;
    uint8_t is_obj;
    uint8_t money;              /* the current member's name ends in "_cents" */
    uint8_t fallback;           /* the hash set could not grow: walk the object */
    uint8_t any_esc;            /* one of the first names has escapes */
    uint64_t bloom;             /* Bloom filter of the first names' tags */
    uint32_t start;             /* input offset of the '{' or '[' */
    uint32_t n;                 /* objects: names so far; arrays: current index */
    size_t out_start;           /* output offset of the '{' or '[' */
    uint32_t tab, tcap, tcount; /* hash set: arena index, capacity (0: none), names */
    uint32_t koff[SMALL_KEYS];  /* first names: input offset | ESC_BIT */
    uint64_t ktag[SMALL_KEYS];  /* first names: TAG_ESC | length << 32 | first 4 bytes */
};

typedef struct scanner {
    const unsigned char *in, *end;
    char *out;
    size_t cap, olen;
    const unsigned char *span;  /* first input byte not yet copied to out */
    unsigned flags;
    annal_json_member_fn on_member;
    void *arg;
    int member_depth;
    int depth;
    annal_json_error *err;
    annal_json_error scratch;   /* err when the caller passed NULL */
    uint64_t seed;
    uint32_t arena_top, arena_cap;
    size_t start;               /* ANNAL_JSON_IN_OBJECT: first member */
    struct jlevel lv[ANNAL_JSON_DEPTH_MAX + 1]; /* lv[1..depth] */
    uint32_t arena[ARENA_SLOTS];
} scanner;

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
static size_t append_cut(char *buf, size_t len, size_t cap, const char *raw, size_t n)
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

static void build_path(const scanner *s, char *buf, size_t cap)
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

__attribute__((cold, noinline, format(printf, 3, 4))) static int
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
static const char *byte_desc(unsigned c, char buf[16])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 16, "'%c'", (int)c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

__attribute__((cold, noinline)) static int fail_byte(scanner *s, const unsigned char *at,
                                                     const char *what)
{
    char b[16];
    if (at >= s->end)
        return fail(s, at, "invalid JSON: unexpected end of input; %s", what);
    return fail(s, at, "invalid JSON: unexpected %s; %s", byte_desc(*at, b), what);
}

/* ------------------------------------------------------------------ */
/* Strings                                                              */

/* The first byte at or after p that is special in a string, or end. */
static inline const unsigned char *find_special(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed v < 0x20 catches 0x00..0x1f and 0x80..0xff at once */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmplt_epi8(v, sp));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#endif
    while (p < end && !str_special[*p])
        p++;
    return p;
}

/* Validate one UTF-8 sequence starting with a byte >= 0x80 at p; return the
 * byte after it, or NULL with the error set. */
__attribute__((noinline)) static const unsigned char *utf8_seq(scanner *s,
                                                               const unsigned char *p)
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
__attribute__((noinline)) static const unsigned char *escape_seq(scanner *s,
                                                                 const unsigned char *p)
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

/* Scan a string body starting at p (after the opening quote). Returns the
 * closing quote, or NULL with the error set. *esc is set if it has escapes. */
__attribute__((always_inline)) static inline const unsigned char *
scan_string(scanner *s, const unsigned char *p, int *esc)
{
    const unsigned char *end = s->end;
    for (;;) {
        p = find_special(p, end);
        if (p >= end) {
            fail(s, p, "unterminated string: the input ends before the closing quote");
            return NULL;
        }
        unsigned c = *p;
        if (c == '"')
            return p;
        if (c == '\\') {
            *esc = 1;
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
static int udec_next(struct udec *d)
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

static void udec_init(struct udec *d, const unsigned char *p, size_t n)
{
    d->p = p;
    d->end = p + n;
    d->bi = d->bn = 0;
}

static int decoded_eq(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
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
static const unsigned char *body_end(const unsigned char *k)
{
    for (;;) {
        if (*k == '"')
            return k;
        k += *k == '\\' ? 2 : 1;
    }
}

size_t annal_json_unescape(const char *raw, size_t n, char *buf, size_t cap)
{
    struct udec d;
    size_t len = 0;
    int c;
    udec_init(&d, (const unsigned char *)raw, n);
    while ((c = udec_next(&d)) >= 0) {
        if (len < cap)
            buf[len] = (char)c;
        len++;
    }
    return len;
}

int annal_json_str_eq(const char *raw, size_t n, int escaped, const char *lit, size_t lit_len)
{
    if (!escaped)
        return n == lit_len && memcmp(raw, lit, n) == 0;
    return decoded_eq((const unsigned char *)raw, n, (const unsigned char *)lit, lit_len);
}

const char *annal_json_kind_name(int kind)
{
    switch (kind) {
    case ANNAL_JSON_STRING: return "a string";
    case ANNAL_JSON_INT: return "an integer";
    case ANNAL_JSON_REAL: return "a number with a fraction or exponent";
    case ANNAL_JSON_OBJECT: return "an object";
    case ANNAL_JSON_ARRAY: return "an array";
    case ANNAL_JSON_TRUE: return "true";
    case ANNAL_JSON_FALSE: return "false";
    case ANNAL_JSON_NULL: return "null";
    }
    return "nothing";
}

/* Does the name end in "_cents" once decoded? */
static int name_is_cents(const unsigned char *k, size_t n, int esc)
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

static uint32_t name_hash(const scanner *s, const unsigned char *k, size_t n, int esc)
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

static void table_put(scanner *s, uint32_t tab, uint32_t cap, uint32_t slot)
{
    const unsigned char *o = s->in + (slot & ~ESC_BIT);
    uint32_t i = name_hash(s, o, (size_t)(body_end(o) - o), (slot & ESC_BIT) != 0) & (cap - 1);
    uint32_t *t = s->arena + tab;
    while (t[i])
        i = (i + 1) & (cap - 1);
    t[i] = slot;
}

/* Give L a hash set of `cap` slots at the top of the arena; 0 if no room. */
static int table_make(scanner *s, struct jlevel *L)
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
static int table_grow(scanner *s, struct jlevel *L)
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

static const unsigned char *skip_ws_raw(const unsigned char *p)
{
    while (is_ws[*p])
        p++;
    return p;
}

/* Skip one valid value at p. */
static const unsigned char *skip_value(const unsigned char *p)
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
static int walk_has_name(const scanner *s, const struct jlevel *L, const unsigned char *k,
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

/* A name's tag: its length, its first 4 bytes and whether it has escapes;
 * equal unescaped names have equal tags, and most unequal ones differ. */
static inline uint64_t name_tag(const unsigned char *k, size_t n, int esc)
{
    uint32_t head = 0;
    if (n >= 4)
        memcpy(&head, k, 4);
    else
        for (size_t i = 0; i < n; i++)
            head |= (uint32_t)k[i] << (8 * i);
    return (esc ? TAG_ESC : 0) | (uint64_t)n << 32 | head;
}

/* Record the name k[0..n) in L's set; 1 if it was already there.
 * Small objects: a 64-bit Bloom filter of the tags skips the pairwise
 * comparison for most new names; names with escapes always compare. */
static int name_seen(scanner *s, struct jlevel *L, const unsigned char *k, size_t n, int esc)
{
    uint32_t slot = (uint32_t)(k - s->in) | (esc ? ESC_BIT : 0);
    uint32_t cnt = L->n;
    if (cnt < SMALL_KEYS) {
        uint64_t tag = name_tag(k, n, esc);
        uint64_t bit = 1ull << ((tag * 0x9E3779B97F4A7C15ull) >> 58);
        if ((L->bloom & bit) || L->any_esc || esc) {
            for (uint32_t i = 0; i < cnt; i++) {
                uint64_t t = L->ktag[i];
                if (t == tag && !esc) {
                    if (n <= 4 || memcmp(s->in + L->koff[i] + 4, k + 4, n - 4) == 0)
                        return 1;
                } else if (((t | tag) & TAG_ESC) &&
                           decoded_eq(k, n, s->in + (L->koff[i] & ~ESC_BIT),
                                      (size_t)((t >> 32) & 0x7FFFFFFF))) {
                    return 1;
                }
            }
        }
        L->bloom |= bit;
        L->any_esc |= (uint8_t)esc;
        L->koff[cnt] = slot;
        L->ktag[cnt] = tag;
        return 0;
    }
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

/* ------------------------------------------------------------------ */
/* Numbers                                                              */

static inline int scan_number(scanner *s, const unsigned char **pp, int *kind, int64_t *ival)
{
    const unsigned char *p = *pp, *end = s->end, *start = p;
    int neg = 0, real = 0;
    uint64_t v = 0;
    size_t nd = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p == end || !is_digit(*p))
        return fail(s, start, "invalid number: '-' must be followed by a digit");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return fail(s, start, "invalid number: leading zeros are not allowed");
    } else {
        const unsigned char *d = p;
        while (p < end && is_digit(*p))
            v = v * 10 + (unsigned)(*p++ - '0');
        nd = (size_t)(p - d);
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return fail(s, start, "invalid number: '.' must be followed by a digit");
        while (p < end && is_digit(*p))
            p++;
        real = 1;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return fail(s, start, "invalid number: the exponent must have digits");
        while (p < end && is_digit(*p))
            p++;
        real = 1;
    }
    if (real) {
        *kind = ANNAL_JSON_REAL;
    } else {
        if (nd > 19 || v > (neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1))
            return fail(s, start, "integer out of range: integers must be within int64 "
                                  "(-9223372036854775808..9223372036854775807)");
        *ival = !neg ? (int64_t)v : v == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)v;
        *kind = ANNAL_JSON_INT;
    }
    *pp = p;
    return 0;
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

/* Output offset of input position q (q >= span). */
static inline size_t out_off(const scanner *s, const unsigned char *q)
{
    return s->out ? s->olen + (size_t)(q - s->span) : (size_t)(q - s->in);
}

__attribute__((noinline)) static int skip_ws_slow(scanner *s, const unsigned char **pp)
{
    const unsigned char *p = *pp;
    if (!s->out)
        return fail(s, p, "not in compact form: whitespace outside strings is not allowed here");
    int rc = flush(s, p);
    if (rc)
        return rc;
    do
        p++;
    while (p < s->end && is_ws[*p]);
    s->span = p;
    *pp = p;
    return 0;
}

#define SKIP_WS()                                                                             \
    do {                                                                                      \
        if (p < end && is_ws[*p] && (rc = skip_ws_slow(s, &p)) != 0)                          \
            return rc;                                                                        \
    } while (0)

/* ------------------------------------------------------------------ */
/* The state machine                                                    */

static inline void level_open(scanner *s, struct jlevel *L, int is_obj, const unsigned char *at)
{
    L->key = NULL;
    L->key_len = 0;
    L->key_esc = 0;
    L->is_obj = (uint8_t)is_obj;
    L->money = 0;
    L->fallback = 0;
    L->any_esc = 0;
    L->bloom = 0;
    L->start = (uint32_t)(at - s->in);
    L->n = 0;
    L->out_start = out_off(s, at);
    L->tcap = 0;
    L->tcount = 0;
}

static int report(scanner *s, const struct jlevel *L, int kind, const unsigned char *vstart,
                  const unsigned char *vend, size_t vout, size_t vout_len, int vesc,
                  int64_t ival)
{
    annal_json_member m;
    m.depth = s->depth;
    m.key = (const char *)L->key;
    m.key_len = L->key_len;
    m.key_escaped = L->key_esc;
    m.parent_key = NULL;
    m.parent_key_len = 0;
    m.parent_escaped = 0;
    if (s->depth >= 2 && s->lv[s->depth - 1].is_obj) {
        const struct jlevel *P = &s->lv[s->depth - 1];
        m.parent_key = (const char *)P->key;
        m.parent_key_len = P->key_len;
        m.parent_escaped = P->key_esc;
    }
    m.kind = kind;
    m.val_offset = (size_t)(vstart - s->in);
    if (kind == ANNAL_JSON_STRING) {
        m.val = (const char *)vstart + 1;
        m.val_len = (size_t)(vend - vstart) - 2;
    } else {
        m.val = (const char *)vstart;
        m.val_len = (size_t)(vend - vstart);
    }
    m.val_escaped = vesc;
    m.ival = ival;
    m.out_offset = vout;
    m.out_len = kind == ANNAL_JSON_STRING ? m.val_len : vout_len;
    return s->on_member(s->arg, &m, s->err) ? ANNAL_EEVENT : 0;
}

static int run(scanner *s)
{
    const unsigned char *in = s->in, *end = s->end, *p, *vstart = NULL;
    int depth = 0, kind = 0, vesc = 0, rc;
    int64_t ival = 0;
    size_t vout = 0, vout_len = 0;
    struct jlevel *L = NULL;
    unsigned flags = s->flags;

    if (flags & ANNAL_JSON_IN_OBJECT) {
        depth = s->depth = 1;
        L = &s->lv[1];
        level_open(s, L, 1, in);
        p = in + s->start;
        goto member;
    }
    p = in;
    SKIP_WS();
    if ((flags & ANNAL_JSON_OBJECT_ONLY) && (p == end || *p != '{')) {
        char b[16];
        return fail(s, p, "the document must be a JSON object {...}; it starts with %s",
                    p == end ? "nothing" : byte_desc(*p, b));
    }

value:
    if (p == end)
        return fail(s, p, "invalid JSON: unexpected end of input where a value was expected");
    vstart = p;
    vesc = 0;
    switch (*p) {
    case '"': {
        const unsigned char *q = scan_string(s, p + 1, &vesc);
        if (!q)
            return ANNAL_EEVENT;
        p = q + 1;
        kind = ANNAL_JSON_STRING;
        goto scalar_done;
    }
    case '{':
    case '[':
        if (depth == ANNAL_JSON_DEPTH_MAX)
            return fail(s, p, "nesting too deep: at most %d nested objects/arrays are allowed",
                        ANNAL_JSON_DEPTH_MAX);
        L = &s->lv[++depth];
        s->depth = depth;
        level_open(s, L, *p == '{', p);
        p++;
        SKIP_WS();
        if (p < end && *p == (L->is_obj ? '}' : ']')) {
            p++;
            goto close;
        }
        if (L->is_obj)
            goto member;
        goto value;
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
            kind = ANNAL_JSON_TRUE;
            goto scalar_done;
        }
        return fail_byte(s, p, "expected a value (did you mean true?)");
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
            kind = ANNAL_JSON_FALSE;
            goto scalar_done;
        }
        return fail_byte(s, p, "expected a value (did you mean false?)");
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
            kind = ANNAL_JSON_NULL;
            goto scalar_done;
        }
        return fail_byte(s, p, "expected a value (did you mean null?)");
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if ((rc = scan_number(s, &p, &kind, &ival)) != 0)
            return rc;
        goto scalar_done;
    default:
        return fail_byte(s, p, "expected a value (object, array, string, number, true, false "
                               "or null)");
    }

member:
    if (p == end || *p != '"')
        return fail_byte(s, p, "expected a member name in double quotes");
    {
        const unsigned char *k = p + 1, *q;
        int kesc = 0;
        if (!(q = scan_string(s, k, &kesc)))
            return ANNAL_EEVENT;
        size_t klen = (size_t)(q - k);
        L->key = k;
        L->key_len = (uint32_t)klen;
        L->key_esc = (uint8_t)kesc;
        if (name_seen(s, L, k, klen, kesc))
            return fail(s, k - 1, "duplicate member name (names are compared after decoding "
                                  "escapes); a name may appear only once per object");
        L->n++;
        if (flags & ANNAL_JSON_MONEY)
            L->money = depth >= 2 && name_is_cents(k, klen, kesc);
        p = q + 1;
    }
    SKIP_WS();
    if (p == end || *p != ':')
        return fail_byte(s, p, "expected ':' after a member name");
    p++;
    SKIP_WS();
    goto value;

close:
    kind = L->is_obj ? ANNAL_JSON_OBJECT : ANNAL_JSON_ARRAY;
    vstart = in + L->start;
    vout = L->out_start;
    vout_len = out_off(s, p) - vout;
    if (L->tcap)
        s->arena_top = L->tab;
    s->depth = --depth;
    L = depth ? &s->lv[depth] : NULL;
    goto after_value;

scalar_done:
    vout = out_off(s, kind == ANNAL_JSON_STRING ? vstart + 1 : vstart);
    vout_len = (size_t)(p - vstart);

after_value:
    if (depth == 0)
        goto done;
    if (L->is_obj) {
        if (L->money && kind != ANNAL_JSON_INT)
            return fail(s, vstart, "money is integer cents: a *_cents member must be an integer "
                                   "(no fraction, exponent or quotes); got %s",
                        annal_json_kind_name(kind));
        if (depth <= s->member_depth &&
            (rc = report(s, L, kind, vstart, p, vout, vout_len, vesc, ival)) != 0)
            return rc;
    }
    SKIP_WS();
    if (p < end && *p == ',') {
        p++;
        SKIP_WS();
        if (L->is_obj)
            goto member;
        L->n++;
        goto value;
    }
    if (p < end && *p == (L->is_obj ? '}' : ']')) {
        p++;
        goto close;
    }
    return fail_byte(s, p, L->is_obj ? "expected ',' or '}' after an object member"
                                     : "expected ',' or ']' after an array element");

done:
    SKIP_WS();
    if (p != end)
        return fail_byte(s, p, "expected the end of the document after the JSON value");
    if (s->out && (rc = flush(s, p)) != 0)
        return rc;
    return ANNAL_OK;
}

int annal_json_scan(annal_json_scan_args *a, annal_json_error *err)
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
    s.flags = a->flags;
    s.on_member = a->on_member;
    s.arg = a->arg;
    s.member_depth = a->on_member ? a->member_depth : 0;
    s.depth = 0;
    s.seed = ((uint64_t)(uintptr_t)&s * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)a->in ^
             0xcbf29ce484222325ull;
    s.arena_top = 0;
    s.arena_cap = (a->flags & ANNAL_JSON_TINY_ARENA) ? TINY_ARENA_SLOTS : ARENA_SLOTS;
    s.start = a->start;
    int rc = run(&s);
    a->out_len = rc == ANNAL_OK ? s.olen : 0;
    return rc;
}

int annal_json_compact(const char *in, size_t len, char *out, size_t cap, size_t *out_len,
                       unsigned flags, annal_json_error *err)
{
    annal_json_scan_args a = {in, len, out, cap, flags, 0, NULL, NULL, 0, 0};
    int rc = annal_json_scan(&a, err);
    if (out_len)
        *out_len = a.out_len;
    return rc;
}
