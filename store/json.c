/*
 * json.c - the public entry points of the JSON scanner of json.h. The scanner
 * itself is in json_core.h (shared with event.c, which runs it with its own
 * member checks).
 */
#include "json_core.h"

/* The report function of annal_json_scan(): the caller's member callback. */
__attribute__((noinline)) static int report_member(scanner *s, const struct jlevel *L, int kind,
                                                   const unsigned char *vstart,
                                                   const unsigned char *vend, int vesc,
                                                   int64_t extra)
{
    (void)L;
    annal_json_member m;
    json_member_fill(s, &m, kind, vstart, vend, vesc, extra);
    return s->on_member(s->arg, &m, s->err) ? ANNAL_EEVENT : 0;
}

int annal_json_scan(annal_json_scan_args *a, annal_json_error *err)
{
    if (a && !a->on_member && a->member_depth) {
        annal_json_scan_args b = *a; /* no callback: report nothing */
        b.member_depth = 0;
        int rc = json_scan_run(&b, err, report_member, NULL, NULL);
        a->out_len = b.out_len;
        return rc;
    }
    return json_scan_run(a, err, report_member, NULL, NULL);
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
