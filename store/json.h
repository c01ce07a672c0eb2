/*
 * json.h - a validating, single-pass JSON scanner that writes the compact form.
 *
 * The scanner reads one JSON text (RFC 8259) and, in the same pass, checks it
 * and writes its compact form: insignificant whitespace removed, every other
 * byte kept exactly as sent (string escapes stay verbatim, numbers keep their
 * spelling). It is strict where RFC 8259 leaves room, so that what annal
 * stores means the same to every reader. It rejects:
 *
 *   - invalid syntax and trailing bytes after the value (whitespace is fine);
 *   - invalid UTF-8 anywhere: overlong forms, surrogates encoded in UTF-8,
 *     code points above U+10FFFF, stray continuation bytes;
 *   - in strings: unescaped control characters (< 0x20), the escape \u0000,
 *     lone or mismatched surrogate escapes (\uD800 alone, \uDC00 first);
 *   - duplicate member names in any object at any depth, compared after
 *     decoding ("a" and "\u0061" are duplicates);
 *   - integers (numbers without fraction or exponent) outside int64;
 *   - nesting deeper than ANNAL_JSON_DEPTH_MAX (32) objects/arrays;
 *   - numbers outside the JSON grammar (leading zeros, '+', '.5', NaN, ...).
 * Numbers with a fraction or an exponent are accepted (their value is not
 * range-checked); callers that want integers ask for them (ANNAL_JSON_MONEY).
 *
 * Cost: O(n) in the input, including duplicate detection (the first 16
 * names of an object are compared pairwise, behind a small Bloom filter;
 * beyond that an object uses a hash set keyed with a per-call seed, in an
 * arena on the stack). No heap allocation, no global state: every function
 * may be called from several threads at once. A scan uses about 140 KiB of
 * stack (the hash set's arena). That arena holds every member of a document of up to 64 KiB;
 * in a larger document an object of more than ~13,000 members falls back to
 * comparing each new name against the object's earlier members (correct, but
 * quadratic for that object).
 *
 * Inputs must be shorter than 2 GiB.
 */
#ifndef ANNAL_JSON_H
#define ANNAL_JSON_H

#include <stddef.h>
#include <stdint.h>

#define ANNAL_JSON_DEPTH_MAX 32 /* deepest allowed nesting (same as ANNAL_DEPTH_MAX) */

/* Kinds of value, as reported to a member callback. */
enum annal_json_kind {
    ANNAL_JSON_STRING = 1,
    ANNAL_JSON_INT,  /* a number without fraction or exponent (fits in int64) */
    ANNAL_JSON_REAL, /* a number with a fraction and/or an exponent */
    ANNAL_JSON_OBJECT,
    ANNAL_JSON_ARRAY,
    ANNAL_JSON_TRUE,
    ANNAL_JSON_FALSE,
    ANNAL_JSON_NULL,
};

/* Flags of annal_json_scan (and annal_json_compact). */
enum {
    /* The top-level value must be an object. */
    ANNAL_JSON_OBJECT_ONLY = 1u << 0,
    /* Money rule: a member at depth >= 2 (i.e. inside a top-level member's
     * object or array) whose decoded name ends in "_cents" must be an
     * integer. Rejections say "money is integer cents". */
    ANNAL_JSON_MONEY = 1u << 1,
    /* Resume inside the top-level object: in[0] is its '{' and the scan
     * starts at in[start] with a member name (used for stored records, whose
     * first members are checked by the caller). Requires out == NULL. */
    ANNAL_JSON_IN_OBJECT = 1u << 2,
    /* For tests: give the duplicate-name hash set a tiny arena so that the
     * fallback for huge objects runs on small inputs. */
    ANNAL_JSON_TINY_ARENA = 1u << 3,
};

/* Why a scan failed. `path` is the JSON path of the offending value
 * ("data.items[2].cost_cents", "" for the document itself; names as sent,
 * cut at 95 bytes), `reason` a sentence that says what is wrong and what is
 * allowed, `offset` the byte offset in the input where it was found. */
typedef struct annal_json_error {
    char path[96];
    char reason[192];
    size_t offset;
} annal_json_error;

/* One object member, as reported to a member callback once its value has
 * been scanned (and found valid). Pointers point into the input and are
 * valid for as long as the input is. */
typedef struct annal_json_member {
    int depth;               /* 1: member of the top-level object; 2: one level below */
    const char *key;         /* the name as sent, between the quotes */
    size_t key_len;
    int key_escaped;         /* the name contains a backslash escape */
    const char *parent_key;  /* depth 2: name of the top-level member holding this object */
    size_t parent_key_len;
    int parent_escaped;
    int kind;                /* enum annal_json_kind */
    const char *val;         /* the value as sent; strings: between the quotes */
    size_t val_len;
    int val_escaped;         /* strings: contains a backslash escape */
    int64_t ival;            /* ANNAL_JSON_INT: the value */
    size_t val_offset;       /* input offset of the value's first byte (a string's quote) */
    size_t out_offset;       /* offset of `val` in the compact output (or in the
                                input when out == NULL); strings: after the quote */
    size_t out_len;          /* length of the value there (strings: without quotes) */
} annal_json_member;

/* A member callback: return 0 to go on, or nonzero to stop the scan with
 * *err filled (the scan then returns ANNAL_EEVENT). */
typedef int (*annal_json_member_fn)(void *arg, const annal_json_member *m, annal_json_error *err);

/* Parameters and result of one scan. Set the inputs, call annal_json_scan. */
typedef struct annal_json_scan_args {
    const char *in;          /* the JSON text (need not be NUL-terminated) */
    size_t len;
    char *out;               /* compact output; NULL: only check that `in` is
                                already compact (any insignificant whitespace is
                                then an error) and write nothing */
    size_t cap;              /* bytes available at out; len always suffices */
    unsigned flags;          /* ANNAL_JSON_* */
    size_t start;            /* ANNAL_JSON_IN_OBJECT: offset of the first member */
    annal_json_member_fn on_member; /* may be NULL */
    void *arg;               /* passed to on_member */
    int member_depth;        /* report members of depth <= this (0: none) */
    size_t out_len;          /* result: length of the compact output */
} annal_json_scan_args;

/*
 * Scan a->in[0..a->len) and write its compact form to a->out.
 * Returns ANNAL_OK (a->out_len set), ANNAL_EEVENT with *err filled when the
 * text is invalid or a callback refused a member, ANNAL_EFULL when a->cap is
 * too small, ANNAL_EINVAL on NULL arguments or an input of 2 GiB or more.
 * err may be NULL. `in` and `out` must not overlap.
 */
int annal_json_scan(annal_json_scan_args *a, annal_json_error *err);

/*
 * The generic entry point: validate any JSON value (top-level scalars are
 * allowed, surrounding whitespace is ignored) and write its compact form to
 * out[0..cap) (cap >= len always suffices), setting *out_len. With out ==
 * NULL, check only that `in` is valid and already compact. flags: 0 or
 * ANNAL_JSON_* as for annal_json_scan. Returns as annal_json_scan.
 */
int annal_json_compact(const char *in, size_t len, char *out, size_t cap, size_t *out_len,
                       unsigned flags, annal_json_error *err);

/*
 * Decode the raw contents of a valid JSON string (the bytes between the
 * quotes, as the scanner accepted them) into buf[0..cap). Returns the decoded
 * length; if that exceeds cap, returns it anyway and writes only cap bytes.
 * The result is never NUL-terminated.
 */
size_t annal_json_unescape(const char *raw, size_t n, char *buf, size_t cap);

/* 1 if the raw string raw[0..n) (escaped or not) decodes to lit[0..lit_len). */
int annal_json_str_eq(const char *raw, size_t n, int escaped, const char *lit, size_t lit_len);

/* A static name of an enum annal_json_kind with its article: "a string",
 * "an integer", "a number with a fraction or exponent", "an object", ... */
const char *annal_json_kind_name(int kind);

#endif
