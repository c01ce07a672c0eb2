/*
 * event.c - the event envelope and the strict registry of PRODUCT.md §1, on
 * top of the JSON scanner (json.h).
 *
 * One pass: the scanner validates and compacts the JSON and reports every
 * top-level member and every member of `data` to on_member() below, which
 * checks each envelope field as it arrives and remembers where it is. The
 * rules that need more than one field (what event_type requires, the data
 * enumerations, which depend on the type) run in finish() once the object
 * is complete, since members may come in any order.
 *
 * The data rules are a table: each registry type has a bit set of rules,
 * each rule names one `data` member and either its allowed strings or its
 * integer range. The money rule (every `*_cents` member at any depth below
 * the top level is an integer) is the scanner's (ANNAL_JSON_MONEY).
 */
#include "event.h"
#include "error.h"
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------ */
/* Top-level fields                                                     */

enum field {
    F_TENANT_ID, F_EVENT_TYPE, F_EVENT_ID, F_OCCURRED_AT, F_ACTOR_TYPE, F_ACTOR_ID,
    F_ENTITY_TYPE, F_ENTITY_ID, F_RUN_ID, F_INCIDENT_ID, F_API_KEY_ID, F_CORRELATION_ID,
    F_SUMMARY, F_ACTION_REASON, F_BEFORE_STATE, F_AFTER_STATE, F_DATA, NFIELDS,
    F_NONE = -1
};

static const char *const field_name[NFIELDS] = {
    "tenant_id", "event_type", "event_id", "occurred_at", "actor_type", "actor_id",
    "entity_type", "entity_id", "run_id", "incident_id", "api_key_id", "correlation_id",
    "summary", "action_reason", "before_state", "after_state", "data",
};

#define BIT(f) (1u << (f))
#define ID_FIELDS                                                                        \
    (BIT(F_TENANT_ID) | BIT(F_EVENT_ID) | BIT(F_ACTOR_ID) | BIT(F_ENTITY_ID) |           \
     BIT(F_RUN_ID) | BIT(F_INCIDENT_ID) | BIT(F_API_KEY_ID) | BIT(F_CORRELATION_ID))

/* The field named k[0..n) (decoded), or F_NONE. (A switch on the length,
 * then constant-length compares the compiler inlines.) */
static int field_lookup(const char *k, size_t n)
{
#define TRY(id, len)                                                                     \
    if (memcmp(k, field_name[id], len) == 0)                                             \
        return id;
    switch (n) {
    case 4: TRY(F_DATA, 4) break;
    case 6: TRY(F_RUN_ID, 6) break;
    case 7: TRY(F_SUMMARY, 7) break;
    case 8: TRY(F_EVENT_ID, 8) TRY(F_ACTOR_ID, 8) break;
    case 9: TRY(F_TENANT_ID, 9) TRY(F_ENTITY_ID, 9) break;
    case 10: TRY(F_EVENT_TYPE, 10) TRY(F_ACTOR_TYPE, 10) TRY(F_API_KEY_ID, 10) break;
    case 11: TRY(F_OCCURRED_AT, 11) TRY(F_ENTITY_TYPE, 11) TRY(F_INCIDENT_ID, 11)
             TRY(F_AFTER_STATE, 11) break;
    case 12: TRY(F_BEFORE_STATE, 12) break;
    case 13: TRY(F_ACTION_REASON, 13) break;
    case 14: TRY(F_CORRELATION_ID, 14) break;
    }
    return F_NONE;
#undef TRY
}

/* ------------------------------------------------------------------ */
/* `data` members the views use, and the rules on them                  */

enum dfield {
    D_ANOMALY_TYPE, D_SEVERITY, D_SCOPE, D_SOURCE, D_PERIOD, D_CATEGORY, D_COST_CENTS,
    D_INPUT_TOKENS, D_OUTPUT_TOKENS, D_DURATION_MS, D_MAX_CENTS, D_WARN_PCT, D_USED_CENTS,
    D_VALUE_CENTS, D_THRESHOLD_CENTS, NDATA
};

static const char *const data_name[NDATA] = {
    "anomaly_type", "severity", "scope", "source", "period", "category", "cost_cents",
    "input_tokens", "output_tokens", "duration_ms", "max_cents", "warn_pct", "used_cents",
    "value_cents", "threshold_cents",
};

static int data_lookup(const char *k, size_t n)
{
#define TRY(id, len)                                                                     \
    if (memcmp(k, data_name[id], len) == 0)                                              \
        return id;
    switch (n) {
    case 5: TRY(D_SCOPE, 5) break;
    case 6: TRY(D_SOURCE, 6) TRY(D_PERIOD, 6) break;
    case 8: TRY(D_SEVERITY, 8) TRY(D_CATEGORY, 8) TRY(D_WARN_PCT, 8) break;
    case 9: TRY(D_MAX_CENTS, 9) break;
    case 10: TRY(D_COST_CENTS, 10) TRY(D_USED_CENTS, 10) break;
    case 11: TRY(D_DURATION_MS, 11) TRY(D_VALUE_CENTS, 11) break;
    case 12: TRY(D_ANOMALY_TYPE, 12) TRY(D_INPUT_TOKENS, 12) break;
    case 13: TRY(D_OUTPUT_TOKENS, 13) break;
    case 15: TRY(D_THRESHOLD_CENTS, 15) break;
    }
    return -1;
#undef TRY
}

enum rule {
    R_ANOMALY_TYPE, R_SEVERITY3, R_SEVERITY4, R_SCOPE, R_SOURCE, R_PERIOD, R_LIMIT_CATEGORY,
    R_COST_CENTS, R_INPUT_TOKENS, R_OUTPUT_TOKENS, R_DURATION_MS, R_MAX_CENTS, R_WARN_PCT,
    R_USED_CENTS, R_VALUE_CENTS, R_THRESHOLD_CENTS, NRULES
};

static const char *const v_anomaly[] = {"ABSOLUTE_SPIKE", "SUSTAINED_DRIFT", "BUDGET_WARNING",
                                        "BUDGET_EXCEEDED", NULL};
static const char *const v_sev3[] = {"LOW", "MEDIUM", "HIGH", NULL};
static const char *const v_sev4[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL", NULL};
static const char *const v_scope[] = {"tenant", "feature", "user", "api_key", NULL};
static const char *const v_source[] = {"RUN_FAILURE", "COST_ANOMALY", "POLICY_VIOLATION",
                                       "MANUAL", NULL};
static const char *const v_period[] = {"MONTHLY", "DAILY", NULL};
/* PRODUCT.md lists "BUDGET, ..."; RATE and THRESHOLD are the other limit
 * categories of the platform's policy_limits. Extend here. */
static const char *const v_limit_cat[] = {"BUDGET", "RATE", "THRESHOLD", NULL};

static const struct rule_def {
    unsigned char field;      /* enum dfield */
    const char *const *vals;  /* allowed strings, or NULL for an integer rule */
    const char *allowed;      /* vals, for messages */
    int64_t min, max;         /* integer rule: inclusive range */
} rules[NRULES] = {
    [R_ANOMALY_TYPE] = {D_ANOMALY_TYPE, v_anomaly,
                        "ABSOLUTE_SPIKE, SUSTAINED_DRIFT, BUDGET_WARNING or BUDGET_EXCEEDED", 0, 0},
    [R_SEVERITY3] = {D_SEVERITY, v_sev3, "LOW, MEDIUM or HIGH", 0, 0},
    [R_SEVERITY4] = {D_SEVERITY, v_sev4, "LOW, MEDIUM, HIGH or CRITICAL", 0, 0},
    [R_SCOPE] = {D_SCOPE, v_scope, "tenant, feature, user or api_key", 0, 0},
    [R_SOURCE] = {D_SOURCE, v_source, "RUN_FAILURE, COST_ANOMALY, POLICY_VIOLATION or MANUAL", 0, 0},
    [R_PERIOD] = {D_PERIOD, v_period, "MONTHLY or DAILY", 0, 0},
    [R_LIMIT_CATEGORY] = {D_CATEGORY, v_limit_cat, "BUDGET, RATE or THRESHOLD", 0, 0},
    [R_COST_CENTS] = {D_COST_CENTS, NULL, NULL, 0, INT64_MAX},
    [R_INPUT_TOKENS] = {D_INPUT_TOKENS, NULL, NULL, 0, INT64_MAX},
    [R_OUTPUT_TOKENS] = {D_OUTPUT_TOKENS, NULL, NULL, 0, INT64_MAX},
    [R_DURATION_MS] = {D_DURATION_MS, NULL, NULL, 0, INT64_MAX},
    [R_MAX_CENTS] = {D_MAX_CENTS, NULL, NULL, 0, INT64_MAX},
    [R_WARN_PCT] = {D_WARN_PCT, NULL, NULL, 1, 100},
    [R_USED_CENTS] = {D_USED_CENTS, NULL, NULL, 0, INT64_MAX},
    [R_VALUE_CENTS] = {D_VALUE_CENTS, NULL, NULL, 0, INT64_MAX},
    [R_THRESHOLD_CENTS] = {D_THRESHOLD_CENTS, NULL, NULL, 0, INT64_MAX},
};

/* ------------------------------------------------------------------ */
/* The registry                                                         */

#define RB(r) (1u << (r))
#define RUN_RULES RB(R_DURATION_MS)
#define LIMIT_DEF_RULES                                                                  \
    (RB(R_LIMIT_CATEGORY) | RB(R_SCOPE) | RB(R_PERIOD) | RB(R_MAX_CENTS) | RB(R_WARN_PCT))
#define LIMIT_USE_RULES (RB(R_USED_CENTS) | RB(R_MAX_CENTS))

static const struct etype {
    const char *name;
    unsigned char len;
    unsigned char domain;  /* enum annal_domain */
    signed char req;       /* required field, or F_NONE */
    unsigned char ledger;  /* one of the 15 audit-ledger types */
    uint32_t rules;        /* RB(R_*) */
} registry[ANNAL_EV_TYPE_COUNT] = {
#define T(n, d, r, l, ru) {n, sizeof n - 1, ANNAL_DOMAIN_##d, r, l, ru}
    T("RunStarted", ACTIVITY, F_RUN_ID, 0, RUN_RULES),
    T("RunCompleted", ACTIVITY, F_RUN_ID, 0, RUN_RULES),
    T("RunFailed", ACTIVITY, F_RUN_ID, 0, RUN_RULES),
    T("CostRecorded", ANALYTICS, F_NONE, 0,
      RB(R_COST_CENTS) | RB(R_INPUT_TOKENS) | RB(R_OUTPUT_TOKENS)),
    T("CostAnomalyDetected", ANALYTICS, F_NONE, 0,
      RB(R_ANOMALY_TYPE) | RB(R_SEVERITY3) | RB(R_SCOPE) | RB(R_VALUE_CENTS) |
          RB(R_THRESHOLD_CENTS)),
    T("IncidentCreated", INCIDENTS, F_INCIDENT_ID, 0, RB(R_SEVERITY4) | RB(R_SOURCE)),
    T("IncidentAcknowledged", INCIDENTS, F_INCIDENT_ID, 1, 0),
    T("IncidentResolved", INCIDENTS, F_INCIDENT_ID, 1, 0),
    T("IncidentManuallyClosed", INCIDENTS, F_INCIDENT_ID, 1, 0),
    T("PolicyRuleCreated", POLICIES, F_ENTITY_ID, 1, 0),
    T("PolicyRuleModified", POLICIES, F_ENTITY_ID, 1, 0),
    T("PolicyRuleRetired", POLICIES, F_ENTITY_ID, 1, 0),
    T("PolicyProposalCreated", POLICIES, F_ENTITY_ID, 0, 0),
    T("PolicyProposalApproved", POLICIES, F_ENTITY_ID, 1, 0),
    T("PolicyProposalRejected", POLICIES, F_ENTITY_ID, 1, 0),
    T("LimitCreated", POLICIES, F_ENTITY_ID, 1, LIMIT_DEF_RULES),
    T("LimitUpdated", POLICIES, F_ENTITY_ID, 1, LIMIT_DEF_RULES),
    T("LimitBreached", POLICIES, F_ENTITY_ID, 1, LIMIT_USE_RULES),
    T("LimitOverrideGranted", POLICIES, F_ENTITY_ID, 1, LIMIT_USE_RULES),
    T("LimitOverrideRevoked", POLICIES, F_ENTITY_ID, 1, LIMIT_USE_RULES),
    T("PolicyViolationPrevented", POLICIES, F_ENTITY_ID, 0, 0),
    T("ApiKeyCreated", CONNECTIVITY, F_API_KEY_ID, 0, 0),
    T("ApiKeyRotated", CONNECTIVITY, F_API_KEY_ID, 0, 0),
    T("ApiKeyRevoked", CONNECTIVITY, F_API_KEY_ID, 0, 0),
    T("TenantCreated", ACCOUNTS, F_NONE, 0, 0),
    T("UserInvited", ACCOUNTS, F_NONE, 0, 0),
    T("UserRoleChanged", ACCOUNTS, F_NONE, 0, 0),
    T("UserRemoved", ACCOUNTS, F_NONE, 0, 0),
    T("EmergencyOverrideActivated", SYSTEM, F_NONE, 1, 0),
    T("EmergencyOverrideDeactivated", SYSTEM, F_NONE, 1, 0),
#undef T
};

static const char *const domain_names[] = {
    NULL, "ACTIVITY", "ANALYTICS", "INCIDENTS", "POLICIES",
    "CONNECTIVITY", "ACCOUNTS", "SYSTEM", "SERVICE",
};

const char *annal_event_type_name(int i)
{
    return i >= 0 && i < ANNAL_EV_TYPE_COUNT ? registry[i].name : NULL;
}

const char *annal_domain_name(int domain)
{
    return domain >= ANNAL_DOMAIN_ACTIVITY && domain <= ANNAL_DOMAIN_SERVICE
               ? domain_names[domain]
               : NULL;
}

static int registry_lookup(const char *s, size_t n)
{
    for (int i = 0; i < ANNAL_EV_TYPE_COUNT; i++)
        if (registry[i].len == n && registry[i].name[0] == s[0] &&
            memcmp(registry[i].name, s, n) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Byte classes                                                         */

static const unsigned char id_ok[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['.'] = 1, ['_'] = 1,
    [':'] = 1, ['@'] = 1, ['/'] = 1, ['-'] = 1,
};
static const unsigned char svc_ok[256] = {['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['_'] = 1};
static const unsigned char ent_ok[256] = {['A' ... 'Z'] = 1, ['_'] = 1};

/* 1 if s is `<service>.<object>.<action>`: >= 3 non-empty dot-separated
 * segments of [a-z0-9_], at most 128 bytes. */
static int is_service_type(const char *s, size_t n)
{
    size_t seg = 0;
    int dots = 0;
    if (n > ANNAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!seg)
                return 0;
            dots++;
            seg = 0;
        } else if (svc_ok[c]) {
            seg++;
        } else {
            return 0;
        }
    }
    return seg > 0 && dots >= 2;
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */

/* Copy a name into a path buffer, cutting at a UTF-8 boundary. */
static void set_path(char *dst, size_t cap, const char *a, const char *b, size_t bn)
{
    size_t len = 0;
    if (a) {
        len = strlen(a);
        memcpy(dst, a, len);
    }
    if (bn > cap - 1 - len) {
        bn = cap - 1 - len;
        while (bn > 0 && ((unsigned char)b[bn] & 0xC0) == 0x80)
            bn--;
        if (bn > 0 && (unsigned char)b[bn - 1] >= 0xC0)
            bn--;
    }
    if (bn)
        memcpy(dst + len, b, bn);
    dst[len + bn] = 0;
}

/* Fill *e (path = prefix + name[0..n)) and return 1. */
__attribute__((cold, noinline, format(printf, 6, 7))) static int
reject(annal_json_error *e, const char *prefix, const char *name, size_t n, size_t offset,
       const char *fmt, ...)
{
    set_path(e->path, sizeof e->path, prefix, name, n);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    e->offset = offset;
    return 1;
}

#define REJECT_F(e, f, off, ...) reject(e, NULL, field_name[f], strlen(field_name[f]), off, __VA_ARGS__)

/* A short quotable excerpt of a string value: at most 40 bytes. */
static int excerpt_len(const char *s, size_t n)
{
    if (n <= 40)
        return (int)n;
    n = 40;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

static void byte_desc(unsigned c, char buf[16])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 16, "'%c'", (int)c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
}

/* ------------------------------------------------------------------ */
/* Per-event state and field checks                                     */

struct data_val {
    const char *p; /* in the input; strings: between the quotes */
    size_t n;
    size_t voff;
    int64_t ival;
    int kind, esc;
};

struct ectx {
    uint32_t seen;                  /* BIT(field) */
    uint32_t dseen;                 /* 1 << dfield */
    int type;                       /* registry index, ANNAL_EV_SERVICE */
    int64_t occurred_ns;
    size_t off[NFIELDS], len[NFIELDS]; /* output (or record) offsets of string contents */
    size_t voff[NFIELDS];           /* input offsets, for errors */
    struct data_val d[NDATA];
};

#define IDSET "[A-Za-z0-9._:@/-]"

/* Index of the first byte of s[0..n) outside [A-Za-z0-9._:@/-], or n. */
static size_t id_scan(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; n - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
#define IN_RANGE(lo, hi)                                                                 \
    _mm_cmpeq_epi8(_mm_min_epu8(_mm_sub_epi8(v, _mm_set1_epi8(lo)), _mm_set1_epi8((hi) - (lo))), \
                   _mm_sub_epi8(v, _mm_set1_epi8(lo)))
        __m128i ok = _mm_or_si128(_mm_or_si128(IN_RANGE(0x2D, 0x3A), IN_RANGE(0x40, 0x5A)),
                                  _mm_or_si128(IN_RANGE(0x5F, 0x5F), IN_RANGE(0x61, 0x7A)));
#undef IN_RANGE
        unsigned bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xFFFF;
        if (bad)
            return i + (size_t)__builtin_ctz(bad);
    }
#endif
    while (i < n && id_ok[(unsigned char)s[i]])
        i++;
    return i;
}

static int check_id(const annal_json_member *m, int f, annal_json_error *e)
{
    if (m->kind != ANNAL_JSON_STRING)
        return REJECT_F(e, f, m->val_offset, "must be a string of 1-128 bytes of " IDSET "; got %s",
                        annal_json_kind_name(m->kind));
    if (m->val_len < 1 || m->val_len > ANNAL_ID_MAX)
        return REJECT_F(e, f, m->val_offset, "must be 1-128 bytes of " IDSET "; got %zu bytes",
                        m->val_len);
    size_t i = id_scan(m->val, m->val_len);
    if (i < m->val_len) {
        char b[16];
        byte_desc((unsigned char)m->val[i], b);
        return REJECT_F(e, f, m->val_offset + 1 + i,
                        "must be 1-128 bytes of " IDSET " (no escapes); byte %zu is %s", i, b);
    }
    return 0;
}

static int check_event_type(struct ectx *c, const annal_json_member *m, annal_json_error *e)
{
    if (m->kind != ANNAL_JSON_STRING)
        return REJECT_F(e, F_EVENT_TYPE, m->val_offset,
                        "must be a string: a registry type (e.g. RunStarted) or "
                        "<service>.<object>.<action>; got %s", annal_json_kind_name(m->kind));
    int t = m->val_len ? registry_lookup(m->val, m->val_len) : -1;
    if (t >= 0) {
        c->type = t;
        return 0;
    }
    if (is_service_type(m->val, m->val_len)) {
        c->type = ANNAL_EV_SERVICE;
        return 0;
    }
    int ex = excerpt_len(m->val, m->val_len);
    if (memchr(m->val, '.', m->val_len))
        return REJECT_F(e, F_EVENT_TYPE, m->val_offset,
                        "\"%.*s\" is not a valid service event type: it must be "
                        "<service>.<object>.<action>, 3+ non-empty segments of [a-z0-9_], "
                        "at most 128 bytes", ex, m->val);
    return REJECT_F(e, F_EVENT_TYPE, m->val_offset,
                    "\"%.*s\" is not in the registry (PRODUCT.md §1: RunStarted, CostRecorded, "
                    "IncidentCreated, ...) nor a service type <service>.<object>.<action>",
                    ex, m->val);
}

__attribute__((noinline)) static int check_top(struct ectx *c, const annal_json_member *m,
                                               annal_json_error *e)
{
    int f;
    if (!m->key_escaped) {
        f = field_lookup(m->key, m->key_len);
    } else {
        char buf[16];
        size_t n = annal_json_unescape(m->key, m->key_len, buf, sizeof buf);
        f = n <= sizeof buf ? field_lookup(buf, n) : F_NONE;
    }
    if (f == F_NONE)
        return reject(e, NULL, m->key, m->key_len, m->val_offset,
                      "is not an event field; allowed at top level: the ids, event_type, "
                      "occurred_at, actor_type, entity_type, summary, action_reason, "
                      "before_state, after_state, data (put payload in data)");
    if (BIT(f) & ID_FIELDS) {
        if (check_id(m, f, e))
            return 1;
    } else {
        switch (f) {
        case F_EVENT_TYPE:
            if (check_event_type(c, m, e))
                return 1;
            break;
        case F_OCCURRED_AT:
            if (m->kind != ANNAL_JSON_STRING ||
                annal_time_parse(m->val, m->val_len, &c->occurred_ns) != 0) {
                int str = m->kind == ANNAL_JSON_STRING;
                return REJECT_F(e, f, m->val_offset,
                                "must be an RFC 3339 UTC time like 2025-01-05T12:00:00.123Z "
                                "(years 1970-2262, Z or +00:00); got %s%.*s%s",
                                str ? "\"" : annal_json_kind_name(m->kind),
                                str ? excerpt_len(m->val, m->val_len) : 0, m->val,
                                str ? "\"" : "");
            }
            break;
        case F_ACTOR_TYPE:
            if (m->kind != ANNAL_JSON_STRING ||
                !((m->val_len == 5 && memcmp(m->val, "HUMAN", 5) == 0) ||
                  (m->val_len == 6 && memcmp(m->val, "SYSTEM", 6) == 0) ||
                  (m->val_len == 5 && memcmp(m->val, "AGENT", 5) == 0))) {
                int str = m->kind == ANNAL_JSON_STRING;
                return REJECT_F(e, f, m->val_offset, "must be HUMAN, SYSTEM or AGENT; got %s%.*s%s",
                                str ? "\"" : annal_json_kind_name(m->kind),
                                str ? excerpt_len(m->val, m->val_len) : 0, m->val,
                                str ? "\"" : "");
            }
            break;
        case F_ENTITY_TYPE:
            if (m->kind != ANNAL_JSON_STRING)
                return REJECT_F(e, f, m->val_offset,
                                "must be a string of 1-64 bytes of [A-Z_] (e.g. POLICY_RULE); got %s",
                                annal_json_kind_name(m->kind));
            if (m->val_len < 1 || m->val_len > ANNAL_ENTITY_TYPE_MAX)
                return REJECT_F(e, f, m->val_offset,
                                "must be 1-64 bytes of [A-Z_] (e.g. POLICY_RULE); got %zu bytes",
                                m->val_len);
            for (size_t i = 0; i < m->val_len; i++)
                if (!ent_ok[(unsigned char)m->val[i]]) {
                    char b[16];
                    byte_desc((unsigned char)m->val[i], b);
                    return REJECT_F(e, f, m->val_offset + 1 + i,
                                    "must be 1-64 bytes of [A-Z_] (e.g. POLICY_RULE, LIMIT); "
                                    "byte %zu is %s", i, b);
                }
            break;
        case F_SUMMARY:
        case F_ACTION_REASON:
            if (m->kind != ANNAL_JSON_STRING)
                return REJECT_F(e, f, m->val_offset, "must be a string of at most 1024 bytes; got %s",
                                annal_json_kind_name(m->kind));
            if (m->val_len > ANNAL_TEXT_MAX)
                return REJECT_F(e, f, m->val_offset,
                                "must be a string of at most 1024 bytes (as sent); got %zu bytes",
                                m->val_len);
            break;
        default: /* before_state, after_state, data */
            if (m->kind != ANNAL_JSON_OBJECT)
                return REJECT_F(e, f, m->val_offset, "must be a JSON object {...}; got %s",
                                annal_json_kind_name(m->kind));
            break;
        }
    }
    c->seen |= BIT(f);
    c->off[f] = m->out_offset;
    c->len[f] = m->out_len;
    c->voff[f] = m->val_offset;
    return 0;
}

/* A member of an object held by a top-level member: keep it if it is one
 * of the `data` members the rules look at. */
static void keep_data(struct ectx *c, const annal_json_member *m)
{
    if (m->parent_escaped
            ? !annal_json_str_eq(m->parent_key, m->parent_key_len, 1, "data", 4)
            : m->parent_key_len != 4 || memcmp(m->parent_key, "data", 4) != 0)
        return;
    int k;
    if (!m->key_escaped) {
        if (m->key_len < 5 || m->key_len > 15)
            return;
        k = data_lookup(m->key, m->key_len);
    } else {
        char buf[16];
        size_t n = annal_json_unescape(m->key, m->key_len, buf, sizeof buf);
        k = n && n <= sizeof buf ? data_lookup(buf, n) : -1;
    }
    if (k < 0)
        return;
    struct data_val *d = &c->d[k];
    d->p = m->val;
    d->n = m->val_len;
    d->voff = m->val_offset;
    d->ival = m->ival;
    d->kind = m->kind;
    d->esc = m->val_escaped;
    c->dseen |= 1u << k;
}

static int on_member(void *arg, const annal_json_member *m, annal_json_error *e)
{
    struct ectx *c = arg;
    if (m->depth == 1)
        return check_top(c, m, e);
    keep_data(c, m);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Rules across fields                                                  */

static int check_rule(const struct ectx *c, const struct rule_def *r, annal_json_error *e)
{
    const struct data_val *d = &c->d[r->field];
    const char *name = data_name[r->field];
    if (r->vals) {
        if (d->kind == ANNAL_JSON_STRING && !d->esc)
            for (const char *const *v = r->vals; *v; v++)
                if (strlen(*v) == d->n && memcmp(*v, d->p, d->n) == 0)
                    return 0;
        if (d->kind != ANNAL_JSON_STRING)
            return reject(e, "data.", name, strlen(name), d->voff, "must be one of %s; got %s",
                          r->allowed, annal_json_kind_name(d->kind));
        return reject(e, "data.", name, strlen(name), d->voff, "must be one of %s; got \"%.*s\"",
                      r->allowed, excerpt_len(d->p, d->n), d->p);
    }
    if (d->kind == ANNAL_JSON_INT && d->ival >= r->min && d->ival <= r->max)
        return 0;
    char range[48];
    if (r->max == INT64_MAX)
        snprintf(range, sizeof range, "an integer >= %lld", (long long)r->min);
    else
        snprintf(range, sizeof range, "an integer from %lld to %lld", (long long)r->min,
                 (long long)r->max);
    if (d->kind == ANNAL_JSON_INT)
        return reject(e, "data.", name, strlen(name), d->voff, "must be %s; got %lld", range,
                      (long long)d->ival);
    return reject(e, "data.", name, strlen(name), d->voff, "must be %s; got %s", range,
                  annal_json_kind_name(d->kind));
}

#define IDRULE "1-128 bytes of " IDSET

static int finish(const struct ectx *c, annal_json_error *e)
{
    if (!(c->seen & BIT(F_TENANT_ID)))
        return REJECT_F(e, F_TENANT_ID, 0, "is required: the owning tenant, " IDRULE);
    if (!(c->seen & BIT(F_EVENT_TYPE)))
        return REJECT_F(e, F_EVENT_TYPE, 0, "is required: a registry type (e.g. RunStarted) or "
                                            "a service type <service>.<object>.<action>");
    if (c->type == ANNAL_EV_SERVICE) {
        if (!(c->seen & BIT(F_CORRELATION_ID)))
            return REJECT_F(e, F_CORRELATION_ID, 0,
                            "is required for service events (<service>.<object>.<action>): "
                            IDRULE);
        return 0;
    }
    const struct etype *t = &registry[c->type];
    if (t->req != F_NONE && !(c->seen & BIT(t->req)))
        return REJECT_F(e, t->req, 0, "is required for %s events (%s): " IDRULE, t->name,
                        annal_domain_name(t->domain));
    if (t->ledger) {
        if (!(c->seen & BIT(F_ACTOR_TYPE)))
            return REJECT_F(e, F_ACTOR_TYPE, 0,
                            "is required for %s, an audit-ledger event: HUMAN, SYSTEM or AGENT",
                            t->name);
        if (!(c->seen & BIT(F_ACTOR_ID)))
            return REJECT_F(e, F_ACTOR_ID, 0,
                            "is required for %s, an audit-ledger event: who acted, " IDRULE,
                            t->name);
    }
    for (uint32_t rs = t->rules; rs; rs &= rs - 1) {
        const struct rule_def *r = &rules[__builtin_ctz(rs)];
        if ((c->dseen & (1u << r->field)) && check_rule(c, r, e))
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The public functions                                                 */

static void ectx_init(struct ectx *c)
{
    c->seen = 0;
    c->dseen = 0;
    c->type = ANNAL_EV_SERVICE;
    c->occurred_ns = 0;
}

static void fill_event(annal_event *ev, const struct ectx *c, const char *base)
{
    static const struct {
        size_t at;
        int f;
    } slices[] = {
        {offsetof(annal_event, tenant_id), F_TENANT_ID},
        {offsetof(annal_event, event_type), F_EVENT_TYPE},
        {offsetof(annal_event, event_id), F_EVENT_ID},
        {offsetof(annal_event, actor_type), F_ACTOR_TYPE},
        {offsetof(annal_event, actor_id), F_ACTOR_ID},
        {offsetof(annal_event, entity_type), F_ENTITY_TYPE},
        {offsetof(annal_event, entity_id), F_ENTITY_ID},
        {offsetof(annal_event, run_id), F_RUN_ID},
        {offsetof(annal_event, incident_id), F_INCIDENT_ID},
        {offsetof(annal_event, api_key_id), F_API_KEY_ID},
        {offsetof(annal_event, correlation_id), F_CORRELATION_ID},
    };
    memset(ev, 0, sizeof *ev);
    for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++) {
        int f = slices[i].f;
        if (c->seen & BIT(f)) {
            annal_slice *s = (annal_slice *)(void *)((char *)ev + slices[i].at);
            s->p = base + c->off[f];
            s->n = c->len[f];
        }
    }
    ev->has_occurred_at = (c->seen & BIT(F_OCCURRED_AT)) != 0;
    ev->occurred_at_ns = ev->has_occurred_at ? c->occurred_ns : 0;
    ev->type = c->type;
    ev->domain = c->type == ANNAL_EV_SERVICE ? ANNAL_DOMAIN_SERVICE : registry[c->type].domain;
    ev->is_ledger = c->type != ANNAL_EV_SERVICE && registry[c->type].ledger;
}

static void export_error(annal_event_error *err, const annal_json_error *je)
{
    if (!err)
        return;
    memcpy(err->field, je->path, sizeof err->field);
    memcpy(err->reason, je->reason, sizeof err->reason);
    err->field[sizeof err->field - 1] = 0;
    err->reason[sizeof err->reason - 1] = 0;
    err->offset = je->offset;
}

static int fail_plain(annal_event_error *err, const char *field, size_t offset, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static int fail_plain(annal_event_error *err, const char *field, size_t offset, const char *fmt,
                      ...)
{
    if (err) {
        snprintf(err->field, sizeof err->field, "%s", field);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
        err->offset = offset;
    }
    return ANNAL_EEVENT;
}

int annal_event_parse(const char *in, size_t in_len, size_t max_len, char *out, size_t out_cap,
                      annal_event *ev, annal_event_error *err)
{
    if (!in || !out || !ev)
        return ANNAL_EINVAL;
    if (!max_len)
        max_len = ANNAL_EVENT_MAX_DEFAULT;
    size_t len = in_len;
    if (len && in[len - 1] == '\n' && --len && in[len - 1] == '\r')
        len--;
    if (len > max_len)
        return fail_plain(err, "", max_len, "the event is %zu bytes; the size limit is %zu bytes",
                          len, max_len);
    struct ectx c;
    ectx_init(&c);
    annal_json_error je;
    annal_json_scan_args a = {in, in_len, out, out_cap, ANNAL_JSON_OBJECT_ONLY | ANNAL_JSON_MONEY,
                              0, on_member, &c, 2, 0};
    int rc = annal_json_scan(&a, &je);
    if (rc == ANNAL_OK && finish(&c, &je))
        rc = ANNAL_EEVENT;
    if (rc != ANNAL_OK) {
        export_error(err, &je);
        return rc;
    }
    fill_event(ev, &c, out);
    ev->body = out + 1;
    ev->body_len = a.out_len - 2;
    return ANNAL_OK;
}

static const char rec_seq[] = "{\"seq\":";
static const char rec_at[] = ",\"recorded_at\":\"";
#define REC_SEQ_LEN (sizeof rec_seq - 1)
#define REC_AT_LEN (sizeof rec_at - 1)
#define TIME_LEN 30

size_t annal_record_build(const annal_event *ev, uint64_t seq, int64_t recorded_at_ns, char *out,
                          size_t out_cap)
{
    if (!ev || !out || !ev->body || !ev->body_len || seq == 0 || recorded_at_ns < 0)
        return 0;
    char digits[20];
    int nd = 0;
    for (uint64_t v = seq; v; v /= 10)
        digits[19 - nd++] = (char)('0' + v % 10);
    size_t need = REC_SEQ_LEN + (size_t)nd + REC_AT_LEN + TIME_LEN + 2 + ev->body_len + 1;
    if (need > out_cap)
        return 0;
    char *p = out;
    memcpy(p, rec_seq, REC_SEQ_LEN);
    p += REC_SEQ_LEN;
    memcpy(p, digits + 20 - nd, (size_t)nd);
    p += nd;
    memcpy(p, rec_at, REC_AT_LEN);
    p += REC_AT_LEN;
    char t[31];
    annal_time_format(recorded_at_ns, t);
    memcpy(p, t, TIME_LEN);
    p += TIME_LEN;
    *p++ = '"';
    *p++ = ',';
    memcpy(p, ev->body, ev->body_len);
    p += ev->body_len;
    *p++ = '}';
    return (size_t)(p - out);
}

/* Is t[0..30) exactly YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ, a valid time? (With
 * 30 bytes, '.' at 19 and 'Z' at 29, annal_time_parse checks the rest.) */
static int time_canonical(const char *t, int64_t *ns)
{
    return t[10] == 'T' && t[19] == '.' && t[29] == 'Z' && annal_time_parse(t, TIME_LEN, ns) == 0;
}

int annal_record_parse(const char *rec, size_t len, annal_event *ev, annal_event_error *err)
{
    if (!rec || !ev)
        return ANNAL_EINVAL;
    if (len < REC_SEQ_LEN || memcmp(rec, rec_seq, REC_SEQ_LEN) != 0)
        return fail_plain(err, "seq", 0, "a record must start with {\"seq\":N, (compact, seq first)");
    size_t i = REC_SEQ_LEN;
    uint64_t seq = 0;
    if (i >= len || rec[i] < '1' || rec[i] > '9')
        return fail_plain(err, "seq", i, "must be an integer >= 1 without leading zeros or sign");
    for (; i < len && (unsigned)((unsigned char)rec[i] - '0') <= 9u; i++) {
        unsigned d = (unsigned)(rec[i] - '0');
        if (seq > (UINT64_MAX - d) / 10)
            return fail_plain(err, "seq", REC_SEQ_LEN, "must fit in 64 bits (at most %llu)",
                              (unsigned long long)UINT64_MAX);
        seq = seq * 10 + d;
    }
    if (len - i < REC_AT_LEN + TIME_LEN + 2 || memcmp(rec + i, rec_at, REC_AT_LEN) != 0)
        return fail_plain(err, "recorded_at", i,
                          "must follow seq exactly: ,\"recorded_at\":\"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ\",");
    i += REC_AT_LEN;
    int64_t at;
    if (!time_canonical(rec + i, &at) || rec[i + TIME_LEN] != '"' || rec[i + TIME_LEN + 1] != ',')
        return fail_plain(err, "recorded_at", i,
                          "must be exactly YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ (30 bytes, a valid UTC "
                          "time, 9 fraction digits) followed by \",");
    i += TIME_LEN + 2;
    struct ectx c;
    ectx_init(&c);
    annal_json_error je;
    annal_json_scan_args a = {rec, len, NULL, 0,
                              ANNAL_JSON_OBJECT_ONLY | ANNAL_JSON_MONEY | ANNAL_JSON_IN_OBJECT, i,
                              on_member, &c, 2, 0};
    int rc = annal_json_scan(&a, &je);
    if (rc == ANNAL_OK && finish(&c, &je))
        rc = ANNAL_EEVENT;
    if (rc != ANNAL_OK) {
        export_error(err, &je);
        return rc == ANNAL_EINVAL ? ANNAL_EEVENT : rc;
    }
    fill_event(ev, &c, rec);
    ev->seq = seq;
    ev->recorded_at_ns = at;
    ev->body = rec + i;
    ev->body_len = len - 1 - i;
    return ANNAL_OK;
}
