/*
 * data.c - the members of a record's `data` that the views read
 * (vcache.h ix_data_get). Records were validated by annal_record_parse, so
 * the walk below trusts the compact JSON syntax: it only has to skip values.
 */
#include "index/vcache.h"

#include <stddef.h>
#include <string.h>

/* The closing quote of the string whose opening quote is at p. */
static const char *string_end(const char *p, const char *end)
{
    for (p++; p < end;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t bs = 0;
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q;
        p = q + 1;
    }
    return end;
}

/* The end of the value that starts at p (compact JSON, valid). */
static const char *skip_value(const char *p, const char *end)
{
    if (*p == '"')
        return string_end(p, end) + 1;
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; p < end; p++) {
            char c = *p;
            if (c == '"')
                p = string_end(p, end);
            else if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}

/* Walk the members of an object's inside [p, end): fn(name, nlen, value, vlen). */
typedef void (*member_fn)(void *ctx, const char *name, size_t nn, const char *v, size_t vn);

static void walk(const char *p, const char *end, member_fn fn, void *ctx)
{
    while (p < end && *p == '"') {
        const char *name = p + 1, *q = string_end(p, end);
        size_t nn = (size_t)(q - name);
        p = q + 2; /* past `":` */
        if (p >= end)
            return;
        const char *v = p;
        p = skip_value(p, end);
        fn(ctx, name, nn, v, (size_t)(p - v));
        if (p < end && *p == ',')
            p++;
    }
}

static int is(const char *name, size_t nn, const char *lit)
{
    size_t l = strlen(lit);
    return nn == l && memcmp(name, lit, l) == 0;
}

static void str(annal_slice *s, const char *v, size_t vn)
{
    if (vn >= 2 && v[0] == '"') {
        s->p = v + 1;
        s->n = vn - 2;
    }
}

static void num(int64_t *x, uint8_t *has, const char *v, size_t vn)
{
    if (vn == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
        return;
    int neg = v[0] == '-';
    uint64_t a = 0;
    for (size_t i = neg; i < vn; i++) {
        if (v[i] < '0' || v[i] > '9')
            return; /* a fraction or exponent: not an integer field */
        a = a * 10 + (uint64_t)(v[i] - '0'); /* validated to fit int64 */
    }
    *x = neg ? (int64_t)(0 - a) : (int64_t)a;
    *has = 1;
}

static void data_member(void *ctx, const char *n, size_t nn, const char *v, size_t vn)
{
    ix_data *d = ctx;
    switch (n[0]) {
    case 'a':
        if (is(n, nn, "anomaly_type"))
            str(&d->anomaly_type, v, vn);
        break;
    case 'c':
        if (is(n, nn, "cost_cents"))
            num(&d->cost_cents, &d->has_cost_cents, v, vn);
        else if (is(n, nn, "category"))
            str(&d->category, v, vn);
        break;
    case 'd':
        if (is(n, nn, "duration_ms"))
            num(&d->duration_ms, &d->has_duration_ms, v, vn);
        break;
    case 'e':
        if (is(n, nn, "error_code"))
            str(&d->error_code, v, vn);
        break;
    case 'f':
        if (is(n, nn, "feature_tag"))
            str(&d->feature_tag, v, vn);
        break;
    case 'i':
        if (is(n, nn, "input_tokens"))
            num(&d->input_tokens, &d->has_input_tokens, v, vn);
        break;
    case 'l':
        if (is(n, nn, "limit_id"))
            str(&d->limit_id, v, vn);
        break;
    case 'm':
        if (is(n, nn, "model"))
            str(&d->model, v, vn);
        else if (is(n, nn, "max_cents"))
            num(&d->max_cents, &d->has_max_cents, v, vn);
        break;
    case 'o':
        if (is(n, nn, "output_tokens"))
            num(&d->output_tokens, &d->has_output_tokens, v, vn);
        break;
    case 'p':
        if (is(n, nn, "period"))
            str(&d->period, v, vn);
        break;
    case 's':
        if (is(n, nn, "severity"))
            str(&d->severity, v, vn);
        else if (is(n, nn, "scope"))
            str(&d->scope, v, vn);
        else if (is(n, nn, "scope_id"))
            str(&d->scope_id, v, vn);
        else if (is(n, nn, "source"))
            str(&d->source, v, vn);
        break;
    case 't':
        if (is(n, nn, "title"))
            str(&d->title, v, vn);
        else if (is(n, nn, "triggering_incident_id"))
            str(&d->triggering_incident_id, v, vn);
        break;
    case 'u':
        if (is(n, nn, "user_id"))
            str(&d->user_id, v, vn);
        break;
    case 'w':
        if (is(n, nn, "warn_pct"))
            num(&d->warn_pct, &d->has_warn_pct, v, vn);
        break;
    }
}

static void top_member(void *ctx, const char *n, size_t nn, const char *v, size_t vn)
{
    ix_data *d = ctx;
    if (is(n, nn, "data") && vn >= 2 && v[0] == '{')
        walk(v + 1, v + vn - 1, data_member, d);
    else if (is(n, nn, "summary"))
        str(&d->summary, v, vn);
}

void ix_data_get(const annal_event *ev, ix_data *d)
{
    memset(d, 0, sizeof(*d));
    walk(ev->body, ev->body + ev->body_len, top_member, d);
}

int ix_json_member(const char *p, const char *end, const char *name, annal_slice *v)
{
    size_t nl = strlen(name);
    while (p < end && *p == '"') {
        const char *k = p + 1, *q = string_end(p, end);
        if (q + 2 > end)
            return -1;
        const char *val = q + 2; /* past `":` */
        const char *ve = skip_value(val, end);
        if ((size_t)(q - k) == nl && !memcmp(k, name, nl)) {
            v->p = val;
            v->n = (size_t)(ve - val);
            return 0;
        }
        p = ve;
        if (p < end && *p == ',')
            p++;
    }
    return -1;
}
