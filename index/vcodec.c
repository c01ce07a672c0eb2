/*
 * vcodec.c - the encodings of the view values (vcache.h, INDEX.md section
 * 5): each struct's fields in the order of its table, integers
 * little-endian in their width, strings as a length byte and the bytes.
 */
#include "index/vcache.h"

#include "store/bytes.h"

#include <stddef.h>
#include <string.h>

enum { F_U8, F_U32, F_U64, F_STR };

typedef struct field {
    uint8_t kind;
    uint16_t off;
    uint16_t count; /* array length (1 for scalars) */
} field;

#define U8(T, m) {F_U8, offsetof(T, m), 1}
#define U32(T, m) {F_U32, offsetof(T, m), 1}
#define U64(T, m) {F_U64, offsetof(T, m), 1}
#define U64N(T, m, k) {F_U64, offsetof(T, m), k}
#define STR(T, m) {F_STR, offsetof(T, m), 1}

static size_t pack(const field *f, size_t nf, const void *v, unsigned char *buf)
{
    const unsigned char *b = v;
    size_t o = 0;
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < f[i].count; j++)
            switch (f[i].kind) {
            case F_U8:
                buf[o++] = b[f[i].off + j];
                break;
            case F_U32: {
                uint32_t x;
                memcpy(&x, b + f[i].off + 4 * j, 4);
                annal_put_u32(buf + o, x);
                o += 4;
                break;
            }
            case F_U64: {
                uint64_t x;
                memcpy(&x, b + f[i].off + 8 * j, 8);
                annal_put_u64(buf + o, x);
                o += 8;
                break;
            }
            default: {
                const annal_vstr *s = (const annal_vstr *)(b + f[i].off);
                buf[o++] = s->n;
                memcpy(buf + o, s->s, s->n);
                o += s->n;
            }
            }
    return o;
}

static int unpack(const field *f, size_t nf, const unsigned char *p, size_t n, void *v, size_t vsize)
{
    unsigned char *b = v;
    memset(v, 0, vsize);
    if (n == 0)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < f[i].count; j++) {
            size_t w = f[i].kind == F_U8 ? 1 : f[i].kind == F_U32 ? 4 : f[i].kind == F_U64 ? 8 : 1;
            if (n - o < w)
                return ANNAL_EINDEX;
            switch (f[i].kind) {
            case F_U8:
                b[f[i].off + j] = p[o];
                break;
            case F_U32: {
                uint32_t x = annal_get_u32(p + o);
                memcpy(b + f[i].off + 4 * j, &x, 4);
                break;
            }
            case F_U64: {
                uint64_t x = annal_get_u64(p + o);
                memcpy(b + f[i].off + 8 * j, &x, 8);
                break;
            }
            default: {
                annal_vstr *s = (annal_vstr *)(b + f[i].off);
                size_t len = p[o];
                if (n - o - 1 < len)
                    return ANNAL_EINDEX;
                s->n = (uint8_t)len;
                memcpy(s->s, p + o + 1, len);
                s->s[len] = 0;
                o += len;
            }
            }
            o += w;
        }
    return o == n ? 0 : ANNAL_EINDEX;
}

#define CODEC(name, T, table)                                                                  \
    size_t ix_pack_##name(const T *v, unsigned char *buf)                                      \
    {                                                                                          \
        return pack(table, sizeof(table) / sizeof(table[0]), v, buf);                          \
    }                                                                                          \
    int ix_unpack_##name(const unsigned char *p, size_t n, T *v)                               \
    {                                                                                          \
        return unpack(table, sizeof(table) / sizeof(table[0]), p, n, v, sizeof(*v));           \
    }

typedef annal_run_view RV;
static const field run_f[] = {
    U8(RV, status), U8(RV, incident_derived), U64(RV, started_ns), U64(RV, ended_ns),
    U64(RV, started_seq), U64(RV, ended_seq), U64(RV, duration_ms), U64(RV, cost_cents),
    U64(RV, input_tokens), U64(RV, output_tokens), U64(RV, cost_records), U32(RV, incidents),
    U32(RV, policy_actions), STR(RV, model), STR(RV, feature), STR(RV, user), STR(RV, api_key),
    STR(RV, error_code),
};
CODEC(run, annal_run_view, run_f)

typedef annal_incident_view IV;
static const field inc_f[] = {
    U8(IV, state), U8(IV, severity), U8(IV, proposal_derived), U64(IV, created_ns),
    U64(IV, acked_ns), U64(IV, closed_ns), U64(IV, created_seq), U64(IV, acked_seq),
    U64(IV, closed_seq), U64(IV, direct_cents), U64(IV, cost_records), STR(IV, category),
    STR(IV, source), STR(IV, title), STR(IV, source_run), STR(IV, correlation), STR(IV, limit_id),
};
CODEC(incident, annal_incident_view, inc_f)

typedef annal_limit_view LV;
static const field lim_f[] = {
    U8(LV, period), U8(LV, override_active), U32(LV, warn_pct), U64(LV, max_cents),
    U64(LV, created_seq), U64(LV, updated_seq), U64(LV, override_seq), STR(LV, category),
    STR(LV, scope), STR(LV, scope_id),
};
CODEC(limit, annal_limit_view, lim_f)

typedef annal_limit_spend SV;
static const field spend_f[] = {
    U64(SV, period_start_ns), U64(SV, cents), U64(SV, cost_records), U32(SV, flags),
    U64(SV, warn_seq), U64(SV, breach_seq),
};
CODEC(spend, annal_limit_spend, spend_f)

typedef annal_tenant_view TV;
static const field ten_f[] = {
    U64(TV, events), U64N(TV, by_domain, 9), U64(TV, first_ns), U64(TV, last_ns),
    U64N(TV, incidents_active, 5), U64(TV, incidents_acked), U64(TV, incidents_total),
    U64(TV, proposals_draft), U64(TV, proposals_total), U64(TV, runs_total), U64(TV, runs_failed),
    U64(TV, cost_cents), U8(TV, emergency_override), U64(TV, first_day), U64(TV, cur_day),
    U64N(TV, day_num, ANNAL_VIEW_DAYS), U64N(TV, day_cents, ANNAL_VIEW_DAYS),
    U64(TV, last_spike_day), U64(TV, last_drift_day),
};
CODEC(tenant, annal_tenant_view, ten_f)

typedef annal_proposal_view PV;
static const field prop_f[] = {
    U8(PV, status), U64(PV, created_ns), U64(PV, decided_ns), U64(PV, created_seq),
    U64(PV, decided_seq), STR(PV, triggering_incident), STR(PV, actor_type), STR(PV, actor_id),
    STR(PV, summary),
};
CODEC(proposal, annal_proposal_view, prop_f)

typedef annal_cost_fact CF;
static const field cost_f[] = {
    U64(CF, cents), U64(CF, input_tokens), U64(CF, output_tokens), STR(CF, model),
    STR(CF, feature), STR(CF, user), STR(CF, api_key), STR(CF, run), STR(CF, incident),
};
CODEC(cost, annal_cost_fact, cost_f)

typedef annal_usage_hour UH;
static const field usage_f[] = {
    U64(UH, events), U64(UH, runs_started), U64(UH, runs_completed), U64(UH, runs_failed),
    U64(UH, cost_records), U64(UH, cost_cents), U64(UH, input_tokens), U64(UH, output_tokens),
};
CODEC(usage, annal_usage_hour, usage_f)

typedef annal_ledger_entry LE;
static const field ledger_f[] = {
    U32(LE, event_type), STR(LE, actor_type), STR(LE, entity_type),
};
CODEC(ledger, annal_ledger_entry, ledger_f)

void ix_vstr_set(annal_vstr *s, const char *p, size_t n)
{
    if (n > ANNAL_VIEW_STR_MAX) {
        n = ANNAL_VIEW_STR_MAX;
        while (n && ((unsigned char)p[n] & 0xC0) == 0x80) /* p[n] continues a character */
            n--;
        /* do not end inside an escape: back up over a trailing run of
         * backslash-escape material (at most \uXXXX, 6 bytes) */
        for (size_t k = n >= 6 ? n - 6 : 0; k < n; k++)
            if (p[k] == '\\') {
                size_t bs = 0;
                for (size_t j = k; j > 0 && p[j - 1] == '\\'; j--)
                    bs++;
                if (bs % 2 == 0) { /* p[k] starts an escape */
                    size_t len = p[k + 1] == 'u' ? 6 : 2;
                    if (k + len > n) {
                        n = k;
                        break;
                    }
                    k += len - 1;
                }
            }
    }
    s->n = (uint8_t)n;
    memcpy(s->s, p, n);
    s->s[n] = 0;
}
