/*
 * event.c - the event envelope and the strict registry of PRODUCT.md §1, on
 * top of the JSON scanner (json_core.h, the scanner of json.h).
 *
 * One pass: the scanner validates and compacts the JSON and reports every
 * top-level member and every member of `data` to event_report() below, which
 * checks each envelope field as it arrives and remembers where it is. The
 * rules that need more than one field (what event_type requires, the data
 * enumerations, which depend on the type) run in finish() once the object
 * is complete, since members may come in any order.
 *
 * The scanner is instantiated here with event_report() and event_name() as
 * constant hooks (json_scan_run), so the checks are inlined into its loop:
 * no annal_json_member is built and no callback is called per member. The
 * top-level names are looked up as they arrive (event_name, a perfect hash),
 * which also makes their duplicate check a bit test.
 *
 * The data rules are a table: each registry type has a bit set of rules,
 * each rule names one `data` member and either its allowed strings or its
 * integer range. The money rule (every `*_cents` member at any depth below
 * the top level is an integer) is the scanner's (ANNAL_JSON_MONEY).
 */
#include "event.h"
#include "error.h"
#include "json_core.h"

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

/* Unaligned loads for comparing short byte strings (native byte order). */
static inline uint64_t ld8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t ld4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* a[0..n) == b[0..n), for 4 <= n <= 16 (two overlapping word loads). */
static inline __attribute__((always_inline)) int eq16(const char *a, const char *b, size_t n)
{
    if (n < 8)
        return ld4(a) == ld4(b) && ld4(a + n - 4) == ld4(b + n - 4);
    return ld8(a) == ld8(b) && ld8(a + n - 8) == ld8(b + n - 8);
}

/* a[0..n) == b[0..n), for 4 <= n <= 32 (with overlapping word loads). */
static inline int eq_short(const char *a, const char *b, size_t n)
{
    if (n < 8)
        return ld4(a) == ld4(b) && ld4(a + n - 4) == ld4(b + n - 4);
    for (size_t i = 8; i < n; i += 8)
        if (ld8(a + i - 8) != ld8(b + i - 8))
            return 0;
    return ld8(a + n - 8) == ld8(b + n - 8);
}

/* The field named k[0..n) (decoded), or F_NONE. A perfect hash of the
 * length, the second and the last byte picks the only candidate.
 * (field_slot[] lists each field at (k[1] ^ k[n-1] << 4 ^ n << 2) & 63; if
 * you change the field names, recompute it: test_event checks every one.) */
static inline __attribute__((always_inline)) int field_lookup(const char *k, size_t n)
{
    static const signed char field_slot[64] = {
        -1, 0, 9, 5, -1, 14, -1, -1, -1, -1, 7, -1, -1, -1, 1, 3, -1, -1, 6, -1, -1, -1,
        2, 11, 10, -1, 15, 4, -1, -1, -1, -1, -1, 16, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, 13, -1, 12, -1, -1, -1, -1, -1, -1,
    };
    static const unsigned char field_len[NFIELDS] = {9, 10, 8, 11, 10, 8, 11, 9, 6, 11, 10, 14,
                                                     7, 13, 12, 11, 4};
    if (n < 4 || n > 14)
        return F_NONE;
    unsigned h = ((unsigned char)k[1] ^ ((unsigned)(unsigned char)k[n - 1] << 4) ^
                  ((unsigned)n << 2)) & 63;
    int f = field_slot[h];
    return f >= 0 && field_len[f] == n && eq16(k, field_name[f], n) ? f : F_NONE;
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

/* The data member named k[0..n), or -1: a perfect hash as field_lookup's
 * ((k[0] << 3 ^ k[n-2] ^ n << 1) & 31). */
static inline __attribute__((always_inline)) int data_lookup(const char *k, size_t n)
{
    static const signed char data_slot[32] = {
        0, -1, 2, 4, -1, -1, -1, -1, 12, -1, 14, 11, 8, -1, 10, -1,
        -1, -1, 13, -1, -1, -1, -1, 3, 6, -1, 5, 9, 1, -1, 7, -1,
    };
    static const unsigned char data_len[NDATA] = {12, 8, 5, 6, 6, 8, 10, 12, 13, 11, 9, 8, 10,
                                                  11, 15};
    if (n < 5 || n > 15)
        return -1;
    unsigned h = (((unsigned)(unsigned char)k[0] << 3) ^ (unsigned char)k[n - 2] ^
                  ((unsigned)n << 1)) & 31;
    int d = data_slot[h];
    return d >= 0 && data_len[d] == n && eq16(k, data_name[d], n) ? d : -1;
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

/* A little-endian 64-bit word at p (one load on little-endian machines). */
static inline uint64_t le64(const char *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
           (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
           (uint64_t)b[7] << 56;
}

/* The registry index of the type named s[0..n), or -1. A perfect hash of
 * the first and last 8 bytes and the length picks the only candidate
 * (registry_slot[] lists type i at ((first8 + last8 + n) * K) >> 58; if you
 * change the registry, recompute it: test_event checks every type). */
static inline int registry_lookup(const char *s, size_t n)
{
    static const signed char registry_slot[64] = {
        -1, 20, 18, -1, -1, 6, -1, -1, 21, -1, -1, -1, 19, 13, 15, -1, -1, -1, -1, 22, 2, 28,
        -1, 23, 17, -1, 16, 14, 8, 1, 7, 5, -1, -1, -1, -1, -1, -1, -1, 27, -1, -1, 29, -1,
        12, 3, 4, -1, -1, 11, -1, 0, -1, 9, -1, 10, 25, -1, -1, -1, 24, -1, 26, -1,
    };
    if (n < 9 || n > 28)
        return -1;
    uint64_t w = le64(s) + le64(s + n - 8) + n;
    int t = registry_slot[(w * 0xaa4d4f95cc5b7c7full) >> 58];
    return t >= 0 && registry[t].len == n && eq_short(s, registry[t].name, n) ? t : -1;
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

/* byte_desc(): json_core.h's. */

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
    int cur;                        /* the field of the top-level member being read, or F_NONE */
    int64_t occurred_ns;
    const char *base;               /* slices: base + out_offset */
    const char *end;                /* end of the input: values may be read in 16-byte blocks before it */
    annal_slice sl[NFIELDS];        /* SLICE_FIELDS that were seen */
    struct data_val d[NDATA];
};

/* Fields that are slices of annal_event. */
#define SLICE_FIELDS (ID_FIELDS | BIT(F_EVENT_TYPE) | BIT(F_ACTOR_TYPE) | BIT(F_ENTITY_TYPE))

#define IDSET "[A-Za-z0-9._:@/-]"

#if defined(__SSE2__) && !defined(ANNAL_NO_SIMD)
/* Bit i set: v[i] is outside [A-Za-z0-9._:@/-] (signed compares: bytes >=
 * 0x80 are negative, outside every range). */
static inline unsigned id_bad_mask(__m128i v)
{
#define IN_RANGE(lo, hi)                                                                     \
    _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((lo) - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8((hi) + 1)))
    __m128i ok = _mm_or_si128(_mm_or_si128(IN_RANGE(0x2D, 0x3A), IN_RANGE(0x40, 0x5A)),
                              _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x5F)),
                                           IN_RANGE(0x61, 0x7A)));
#undef IN_RANGE
    return ~(unsigned)_mm_movemask_epi8(ok) & 0xFFFF;
}
#endif

/* Index of the first byte of s[0..n) outside [A-Za-z0-9._:@/-], or n.
 * Bytes up to `end` may be read. */
static inline __attribute__((always_inline)) size_t id_scan(const char *s, size_t n, const char *end)
{
    size_t i = 0;
#if defined(__SSE2__) && !defined(ANNAL_NO_SIMD)
    if (n > 16) {
        for (; n - i > 16; i += 16) {
            unsigned bad = id_bad_mask(_mm_loadu_si128((const __m128i *)(const void *)(s + i)));
            if (bad)
                return i + (size_t)__builtin_ctz(bad);
        }
        /* the last 16 bytes (overlapping the ones checked) */
        unsigned bad = id_bad_mask(_mm_loadu_si128((const __m128i *)(const void *)(s + n - 16)));
        return bad ? n - 16 + (size_t)__builtin_ctz(bad) : n;
    }
    if (end - s >= 16) {
        unsigned bad = id_bad_mask(_mm_loadu_si128((const __m128i *)(const void *)s)) &
                       ((1u << n) - 1);
        return bad ? (size_t)__builtin_ctz(bad) : n;
    }
#else
    (void)end;
#endif
    while (i < n && id_ok[(unsigned char)s[i]])
        i++;
    return i;
}

/* The value of a reported member, as the checks see it. */
struct mv {
    int kind;            /* enum annal_json_kind */
    const char *val;     /* the value as sent; strings: between the quotes */
    size_t len;          /* its length (strings: without the quotes) */
    size_t off;          /* input offset of its first byte (a string's quote) */
};

static inline __attribute__((always_inline)) int check_id(const struct ectx *c, struct mv v, int f,
                                                        annal_json_error *e)
{
    if (v.kind != ANNAL_JSON_STRING)
        return REJECT_F(e, f, v.off, "must be a string of 1-128 bytes of " IDSET "; got %s",
                        annal_json_kind_name(v.kind));
    if (v.len < 1 || v.len > ANNAL_ID_MAX)
        return REJECT_F(e, f, v.off, "must be 1-128 bytes of " IDSET "; got %zu bytes", v.len);
    size_t i = id_scan(v.val, v.len, c->end);
    if (i < v.len) {
        char b[16];
        byte_desc((unsigned char)v.val[i], b);
        return REJECT_F(e, f, v.off + 1 + i,
                        "must be 1-128 bytes of " IDSET " (no escapes); byte %zu is %s", i, b);
    }
    return 0;
}

static inline __attribute__((always_inline)) int check_event_type(struct ectx *c, struct mv v,
                                                                annal_json_error *e)
{
    if (v.kind != ANNAL_JSON_STRING)
        return REJECT_F(e, F_EVENT_TYPE, v.off,
                        "must be a string: a registry type (e.g. RunStarted) or "
                        "<service>.<object>.<action>; got %s", annal_json_kind_name(v.kind));
    int t = v.len ? registry_lookup(v.val, v.len) : -1;
    if (t >= 0) {
        c->type = t;
        return 0;
    }
    if (is_service_type(v.val, v.len)) {
        c->type = ANNAL_EV_SERVICE;
        return 0;
    }
    int ex = excerpt_len(v.val, v.len);
    if (memchr(v.val, '.', v.len))
        return REJECT_F(e, F_EVENT_TYPE, v.off,
                        "\"%.*s\" is not a valid service event type: it must be "
                        "<service>.<object>.<action>, 3+ non-empty segments of [a-z0-9_], "
                        "at most 128 bytes", ex, v.val);
    return REJECT_F(e, F_EVENT_TYPE, v.off,
                    "\"%.*s\" is not in the registry (PRODUCT.md §1: RunStarted, CostRecorded, "
                    "IncidentCreated, ...) nor a service type <service>.<object>.<action>",
                    ex, v.val);
}

/* The field of an escaped name, or F_NONE. */
__attribute__((noinline)) static int field_lookup_escaped(const char *k, size_t kn)
{
    char buf[16];
    size_t n = annal_json_unescape(k, kn, buf, sizeof buf);
    return n <= sizeof buf ? field_lookup(buf, n) : F_NONE;
}

/* A member of the event object: named L->key, value v; the scanner's state
 * in s (for output offsets). */
static inline __attribute__((always_inline)) int check_top(struct ectx *c, const scanner *s,
                                                          const struct jlevel *L, struct mv v,
                                                          annal_json_error *e)
{
    const char *key = (const char *)L->key;
    int f = c->cur; /* (event_name() looked the name up) */
    if (f == F_NONE)
        return reject(e, NULL, key, L->key_len, v.off,
                      "is not an event field; allowed at top level: the ids, event_type, "
                      "occurred_at, actor_type, entity_type, summary, action_reason, "
                      "before_state, after_state, data (put payload in data)");
    if (BIT(f) & ID_FIELDS) {
        if (check_id(c, v, f, e))
            return 1;
    } else {
        switch (f) {
        case F_EVENT_TYPE:
            if (check_event_type(c, v, e))
                return 1;
            break;
        case F_OCCURRED_AT:
            if (v.kind != ANNAL_JSON_STRING ||
                annal_time_parse(v.val, v.len, &c->occurred_ns) != 0) {
                int str = v.kind == ANNAL_JSON_STRING;
                return REJECT_F(e, f, v.off,
                                "must be an RFC 3339 UTC time like 2025-01-05T12:00:00.123Z "
                                "(years 1970-2262, Z or +00:00); got %s%.*s%s",
                                str ? "\"" : annal_json_kind_name(v.kind),
                                str ? excerpt_len(v.val, v.len) : 0, v.val,
                                str ? "\"" : "");
            }
            break;
        case F_ACTOR_TYPE:
            if (v.kind != ANNAL_JSON_STRING ||
                !((v.len == 5 && eq16(v.val, "HUMAN", 5)) || (v.len == 6 && eq16(v.val, "SYSTEM", 6)) ||
                  (v.len == 5 && eq16(v.val, "AGENT", 5)))) {
                int str = v.kind == ANNAL_JSON_STRING;
                return REJECT_F(e, f, v.off, "must be HUMAN, SYSTEM or AGENT; got %s%.*s%s",
                                str ? "\"" : annal_json_kind_name(v.kind),
                                str ? excerpt_len(v.val, v.len) : 0, v.val,
                                str ? "\"" : "");
            }
            break;
        case F_ENTITY_TYPE:
            if (v.kind != ANNAL_JSON_STRING)
                return REJECT_F(e, f, v.off,
                                "must be a string of 1-64 bytes of [A-Z_] (e.g. POLICY_RULE); got %s",
                                annal_json_kind_name(v.kind));
            if (v.len < 1 || v.len > ANNAL_ENTITY_TYPE_MAX)
                return REJECT_F(e, f, v.off,
                                "must be 1-64 bytes of [A-Z_] (e.g. POLICY_RULE); got %zu bytes",
                                v.len);
            for (size_t i = 0; i < v.len; i++)
                if (!ent_ok[(unsigned char)v.val[i]]) {
                    char b[16];
                    byte_desc((unsigned char)v.val[i], b);
                    return REJECT_F(e, f, v.off + 1 + i,
                                    "must be 1-64 bytes of [A-Z_] (e.g. POLICY_RULE, LIMIT); "
                                    "byte %zu is %s", i, b);
                }
            break;
        case F_SUMMARY:
        case F_ACTION_REASON:
            if (v.kind != ANNAL_JSON_STRING)
                return REJECT_F(e, f, v.off, "must be a string of at most 1024 bytes; got %s",
                                annal_json_kind_name(v.kind));
            if (v.len > ANNAL_TEXT_MAX)
                return REJECT_F(e, f, v.off,
                                "must be a string of at most 1024 bytes (as sent); got %zu bytes",
                                v.len);
            break;
        default: /* before_state, after_state, data */
            if (v.kind != ANNAL_JSON_OBJECT)
                return REJECT_F(e, f, v.off, "must be a JSON object {...}; got %s",
                                annal_json_kind_name(v.kind));
            break;
        }
    }
    c->seen |= BIT(f);
    if (BIT(f) & SLICE_FIELDS) { /* strings: their output offset */
        c->sl[f].p = c->base + (v.off + 1 - s->skipped);
        c->sl[f].n = v.len;
    }
    return 0;
}

/* The data member of an escaped name, or -1. */
__attribute__((noinline)) static int data_lookup_escaped(const char *k, size_t kn)
{
    char buf[16];
    size_t n = annal_json_unescape(k, kn, buf, sizeof buf);
    return n && n <= sizeof buf ? data_lookup(buf, n) : -1;
}

/* A member of `data` (the scanner reports depth-2 members only there:
 * json_scan_run's report_in): keep it if it is one the rules look at. */
static inline __attribute__((always_inline)) void keep_data(struct ectx *c, const struct jlevel *L,
                                                          struct mv v, int vesc, int64_t ival)
{
    const char *key = (const char *)L->key;
    int k = !L->key_esc ? data_lookup(key, L->key_len) : data_lookup_escaped(key, L->key_len);
    if (k < 0)
        return;
    struct data_val *d = &c->d[k];
    d->p = v.val;
    d->n = v.len;
    d->voff = v.off;
    d->ival = v.kind == ANNAL_JSON_INT ? ival : 0;
    d->kind = v.kind;
    d->esc = vesc;
    c->dseen |= 1u << k;
}

/* The scanner's name function (json_name_fn) here: top-level names are
 * looked up as they arrive; a field's second occurrence is a duplicate
 * (its first passed its checks, or the scan would have stopped). */
static inline int event_name(scanner *s, const unsigned char *k, size_t n, int esc)
{
    struct ectx *c = s->arg;
    int f = !esc ? field_lookup((const char *)k, n) : field_lookup_escaped((const char *)k, n);
    c->cur = f;
    return f != F_NONE && ((c->seen >> f) & 1);
}

/* The scanner's report function (json_report_fn) here: the checks run
 * inline in the scanner, on the value as the scanner holds it. */
static inline __attribute__((always_inline)) int event_report(scanner *s, const struct jlevel *L,
                                                            int kind, const unsigned char *vstart,
                                                            const unsigned char *vend, int vesc,
                                                            int64_t extra)
{
    struct ectx *c = s->arg;
    int str = kind == ANNAL_JSON_STRING;
    struct mv v = {kind, (const char *)vstart + str, (size_t)(vend - vstart) - 2 * (size_t)str,
                   (size_t)(vstart - s->in)};
    if (L == &s->lv[1])
        return check_top(c, s, L, v, s->err) ? ANNAL_EEVENT : 0;
    keep_data(c, L, v, vesc, extra);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Rules across fields                                                  */

/* Is p[0..n) (no NUL in it) the NUL-terminated lit? */
static inline int lit_is(const char *lit, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lit[i] != p[i])
            return 0;
    return lit[n] == 0;
}

static int check_rule(const struct ectx *c, const struct rule_def *r, annal_json_error *e)
{
    const struct data_val *d = &c->d[r->field];
    const char *name = data_name[r->field];
    if (r->vals) {
        if (d->kind == ANNAL_JSON_STRING && !d->esc)
            for (const char *const *v = r->vals; *v; v++)
                if (lit_is(*v, d->p, d->n))
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

static void ectx_init(struct ectx *c, const char *base, const char *end)
{
    c->seen = 0;
    c->dseen = 0;
    c->type = ANNAL_EV_SERVICE;
    c->occurred_ns = 0;
    c->base = base;
    c->end = end;
}

static void fill_event(annal_event *ev, const struct ectx *c)
{
#define SLICE(name, f) ev->name = (c->seen & BIT(f)) ? c->sl[f] : (annal_slice){NULL, 0}
    SLICE(tenant_id, F_TENANT_ID);
    SLICE(event_type, F_EVENT_TYPE);
    SLICE(event_id, F_EVENT_ID);
    SLICE(actor_type, F_ACTOR_TYPE);
    SLICE(actor_id, F_ACTOR_ID);
    SLICE(entity_type, F_ENTITY_TYPE);
    SLICE(entity_id, F_ENTITY_ID);
    SLICE(run_id, F_RUN_ID);
    SLICE(incident_id, F_INCIDENT_ID);
    SLICE(api_key_id, F_API_KEY_ID);
    SLICE(correlation_id, F_CORRELATION_ID);
#undef SLICE
    ev->has_occurred_at = (c->seen & BIT(F_OCCURRED_AT)) != 0;
    ev->occurred_at_ns = ev->has_occurred_at ? c->occurred_ns : 0;
    ev->type = c->type;
    ev->domain = c->type == ANNAL_EV_SERVICE ? ANNAL_DOMAIN_SERVICE : registry[c->type].domain;
    ev->is_ledger = c->type != ANNAL_EV_SERVICE && registry[c->type].ledger;
    ev->seq = 0;
    ev->recorded_at_ns = 0;
    ev->body = NULL;
    ev->body_len = 0;
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
    ectx_init(&c, out, in + in_len);
    annal_json_error je;
    annal_json_scan_args a = {in, in_len, out, out_cap, ANNAL_JSON_OBJECT_ONLY | ANNAL_JSON_MONEY,
                              0, NULL, &c, 2, 0};
    int rc = json_scan_run(&a, &je, event_report, event_name, "data");
    if (rc == ANNAL_OK && finish(&c, &je))
        rc = ANNAL_EEVENT;
    if (rc != ANNAL_OK) {
        export_error(err, &je);
        return rc;
    }
    fill_event(ev, &c);
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
    if (len < REC_SEQ_LEN || !eq16(rec, rec_seq, REC_SEQ_LEN))
        return fail_plain(err, "seq", 0, "a record must start with {\"seq\":N, (compact, seq first)");
    size_t i = REC_SEQ_LEN;
    uint64_t seq = 0;
    if (i >= len || rec[i] < '1' || rec[i] > '9')
        return fail_plain(err, "seq", i, "must be an integer >= 1 without leading zeros or sign");
    for (; i < len && (unsigned)((unsigned char)rec[i] - '0') <= 9u; i++) {
        unsigned d = (unsigned)(rec[i] - '0');
        /* 19 digits always fit; past that, check */
        if (i - REC_SEQ_LEN >= 19 && seq > (UINT64_MAX - d) / 10)
            return fail_plain(err, "seq", REC_SEQ_LEN, "must fit in 64 bits (at most %llu)",
                              (unsigned long long)UINT64_MAX);
        seq = seq * 10 + d;
    }
    if (len - i < REC_AT_LEN + TIME_LEN + 2 || !eq16(rec + i, rec_at, REC_AT_LEN))
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
    ectx_init(&c, rec, rec + len);
    annal_json_error je;
    annal_json_scan_args a = {rec, len, NULL, 0,
                              ANNAL_JSON_OBJECT_ONLY | ANNAL_JSON_MONEY | ANNAL_JSON_IN_OBJECT, i,
                              NULL, &c, 2, 0};
    int rc = json_scan_run(&a, &je, event_report, event_name, "data");
    if (rc == ANNAL_OK && finish(&c, &je))
        rc = ANNAL_EEVENT;
    if (rc != ANNAL_OK) {
        export_error(err, &je);
        return rc == ANNAL_EINVAL ? ANNAL_EEVENT : rc;
    }
    fill_event(ev, &c);
    ev->seq = seq;
    ev->recorded_at_ns = at;
    ev->body = rec + i;
    ev->body_len = len - 1 - i;
    return ANNAL_OK;
}
