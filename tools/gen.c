/*
 * gen.c - `annal gen --seed S --events N [--tenants K] [--days D]`: a
 * deterministic, realistic workload generator. It prints N client events
 * (PRODUCT.md §1) as NDJSON on stdout, ready for `annal append` or
 * `POST /api/v1/events`.
 *
 * The story. K tenants (default 20) of an AI governance platform sign up one
 * after the other during the first ~5% of the workload: TenantCreated (the
 * owner), UserInvited for a few colleagues, ApiKeyCreated for a production
 * key and usually a batch-pipeline key, LimitCreated for a monthly tenant
 * budget (often also a daily feature budget and a monthly API-key budget),
 * and PolicyRuleCreated for one to three rules. Tenants differ a lot:
 * activity is Zipf-distributed, some tenants use expensive models or long
 * contexts, batch keys use ~2.6x the tokens of production keys.
 *
 * Then work flows, all tenants interleaved, in roughly these shares:
 *  - 60% runs and costs: RunStarted (model, feature_tag, user_id, api_key_id)
 *    -> one to a few CostRecorded (tokens, integer cost_cents from list
 *    prices; run_id, api_key_id and, for incident triage runs, incident_id)
 *    -> RunCompleted (duration_ms = the run's real span) or RunFailed
 *    (error_code). About two dozen runs are in flight at any time.
 *  - 20% correlated service events `<service>.<object>.<action>`: a provider
 *    event and its consumer event(s) share a correlation_id, e.g.
 *    holmesgpt.response.complete -> aianalysis.analysis.completed (seeds/004),
 *    gateway.request.received -> router.model.selected -> gateway.response.sent.
 *  - 20% governance: PolicyViolationPrevented (rule, run link, saved cents);
 *    incidents (IncidentCreated, source MANUAL or POLICY_VIOLATION, then
 *    IncidentAcknowledged and IncidentResolved or IncidentManuallyClosed by
 *    people); the policy ledger (PolicyProposalCreated -> Approved, applied
 *    as PolicyRuleCreated/Modified/Retired with before/after rule bodies, or
 *    Rejected; direct rule edits; rare EmergencyOverrideActivated/
 *    Deactivated); limits (LimitUpdated, LimitOverrideGranted/Revoked, new
 *    limits); API keys (ApiKeyRotated/Revoked/Created); accounts
 *    (UserInvited, UserRoleChanged, UserRemoved).
 *
 * Budgets are set so that about a quarter of the tenants (always including
 * the busiest one) overspend: their limits are 45-90% of the spend the
 * generator expects in the period (a priori at sign-up, from the observed
 * spend rate for later updates); the others get 1.4-4x headroom. The
 * generator never emits LimitBreached, CostAnomalyDetected or budget
 * incidents: annal's rule engine derives those from the log (PRODUCT.md §4),
 * and RUN_FAILURE incidents come from the rule engine too.
 *
 * Time starts at 2026-10-01T00:00:00Z and advances by small pseudo-random
 * steps (busier in the European/US working day) so that N events span
 * 30 days x sqrt(N / 1M), between 1 and 90 days (--days overrides); every
 * occurred_at is inside that span and never goes backwards. Ids: event_id
 * `evt_<16 hex>` (unique: a bijective hash of a counter), run_<hex>,
 * inc_<hex>, key_<hex>, lim_<hex>, rule_<hex>, prop_<hex>, users as e-mail
 * addresses, correlation ids `req-<date>-<hex>`. Money is integer cents.
 * Lines are ~650 bytes on average and far below 8 KiB.
 *
 * Determinism: the output is a pure function of (seed, events, tenants,
 * days): xoshiro256** seeded by splitmix64, integer arithmetic only (no
 * floating point, no clock, no locale), one stream of draws in a fixed order.
 */
#include "tools/gen.h"

#include "store/error.h"
#include "tools/cmd.h"
#include "tools/gen_data.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL

/* Category weights, per mille of the events after sign-up. */
#define W_RUN 600
#define W_SERVICE 200
#define W_VIOLATION 98
#define W_INCIDENT 55
#define W_POLICY 25
#define W_LIMIT 5
#define W_KEY 5
#define W_ACCOUNT 12

#define MAXU 14
#define MAXK 8
#define MAXF 6
#define MAXL 8
#define MAXR 12
#define NSIM 256 /* simulated runs per tenant for the a-priori cost estimate */

#define RUNS 24
#define INCS 48
#define FLOWS 16
#define PROPS 32
#define APPLY 16
#define EMERG 4

#define OUT_CAP (1u << 20)
#define OUT_SLACK (64u << 10)
#define LINE_LIMIT 8192

/* ------------------------------------------------------------------ PRNG */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct xrng {
    uint64_t s[4];
} xrng;

static void xseed(xrng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9E3779B97F4A7C15ull;
        r->s[i] = mix64(seed);
    }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rnd(xrng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n) (n >= 1). */
static inline uint32_t below(xrng *r, uint32_t n) { return (uint32_t)(((rnd(r) >> 32) * n) >> 32); }
static inline uint64_t below64(xrng *r, uint64_t n) { return (uint64_t)(((u128)rnd(r) * n) >> 64); }
static inline uint32_t range(xrng *r, uint32_t lo, uint32_t hi) { return lo + below(r, hi - lo + 1); }
static inline int chance(xrng *r, uint32_t permille) { return below(r, 1000) < permille; }

/* A right-skewed multiplier in percent: 20..416, mean ~118. */
static inline uint64_t skew(xrng *r)
{
    uint64_t a = below(r, 100), b = below(r, 100);
    return 20 + a * b / 25;
}

static inline uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
    return c ? (uint64_t)((u128)a * b / c) : 0;
}

/* ------------------------------------------------------- output buffers */

typedef struct wb {
    char *p;
    size_t len;
    int depth;
    unsigned char first[16];
} wb;

static inline void put(wb *w, const char *s, size_t n)
{
    memcpy(w->p + w->len, s, n);
    w->len += n;
}
#define PUTL(w, lit) put((w), "" lit, sizeof(lit) - 1) /* literals only */
static inline void putch(wb *w, char c) { w->p[w->len++] = c; }
static inline void putstr(wb *w, const char *s) { put(w, s, strlen(s)); }

static void put_u64(wb *w, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        w->p[w->len++] = tmp[--n];
}

static void put_i64(wb *w, int64_t v)
{
    if (v < 0) {
        putch(w, '-');
        put_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(w, (uint64_t)v);
    }
}

static void put_hex(wb *w, uint64_t v, int digits)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        w->p[w->len++] = hx[(v >> (4 * i)) & 15];
}

static void put_2d(wb *w, unsigned v)
{
    putch(w, (char)('0' + v / 10 % 10));
    putch(w, (char)('0' + v % 10));
}

/* v hundredths as a JSON number: 87 -> 0.87, 100 -> 1.00 */
static void put_frac2(wb *w, unsigned v)
{
    put_u64(w, v / 100);
    putch(w, '.');
    put_2d(w, v % 100);
}

/* "$12.34" */
static void put_money(wb *w, int64_t cents)
{
    putch(w, '$');
    put_u64(w, (uint64_t)cents / 100);
    putch(w, '.');
    put_2d(w, (unsigned)((uint64_t)cents % 100));
}

/* "12.3 s" */
static void put_secs(wb *w, int64_t ms)
{
    put_u64(w, (uint64_t)ms / 1000);
    putch(w, '.');
    putch(w, (char)('0' + (ms / 100) % 10));
    PUTL(w, " s");
}

static inline void o_open(wb *w)
{
    putch(w, '{');
    w->first[++w->depth] = 1;
}
static inline void o_close(wb *w)
{
    putch(w, '}');
    w->depth--;
}
static inline void a_open(wb *w)
{
    putch(w, '[');
    w->first[++w->depth] = 1;
}
static inline void a_close(wb *w)
{
    putch(w, ']');
    w->depth--;
}
static inline void sep(wb *w)
{
    if (w->first[w->depth])
        w->first[w->depth] = 0;
    else
        putch(w, ',');
}
static inline void key_(wb *w, const char *k, size_t n)
{
    sep(w);
    putch(w, '"');
    put(w, k, n);
    putch(w, '"');
    putch(w, ':');
}
static inline void qstr(wb *w, const char *s)
{
    putch(w, '"');
    putstr(w, s);
    putch(w, '"');
}

#define KEY(w, k) key_((w), (k), sizeof(k) - 1)
#define FS(w, k, s)      \
    do {                 \
        KEY(w, k);       \
        qstr((w), (s));  \
    } while (0)
#define FU(w, k, v)                   \
    do {                              \
        KEY(w, k);                    \
        put_u64((w), (uint64_t)(v));  \
    } while (0)
#define FI(w, k, v)                  \
    do {                             \
        KEY(w, k);                   \
        put_i64((w), (int64_t)(v));  \
    } while (0)
#define FB(w, k, b)                  \
    do {                             \
        KEY(w, k);                   \
        if (b)                       \
            PUTL((w), "true");       \
        else                         \
            PUTL((w), "false");      \
    } while (0)
#define FF2(w, k, v)                     \
    do {                                 \
        KEY(w, k);                       \
        put_frac2((w), (unsigned)(v));   \
    } while (0)
/* "key":"<prefix><16 hex>" */
#define FH(w, k, prefix, v)          \
    do {                             \
        KEY(w, k);                   \
        putch((w), '"');             \
        PUTL((w), prefix);           \
        put_hex((w), (v), 16);       \
        putch((w), '"');             \
    } while (0)
#define ELEM_S(w, s)     \
    do {                 \
        sep(w);          \
        qstr((w), (s));  \
    } while (0)

/* ----------------------------------------------------------------- time */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Month key y*12 + (m-1) of a time, and the start of a month key. */
static int64_t month_of(int64_t ms)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(ms / DAY_MS, &y, &m, &d);
    return y * 12 + (m - 1);
}

static int64_t month_start(int64_t mkey)
{
    return days_from_civil(mkey / 12, (unsigned)(mkey % 12) + 1, 1) * DAY_MS;
}

/* -------------------------------------------------------------- the model */

enum { SC_TENANT, SC_FEATURE, SC_KEY };
enum { P_MONTHLY, P_DAILY };
enum { ID_EVT, ID_RUN, ID_INC, ID_KEY, ID_LIM, ID_RULE, ID_PROP, ID_CORR, ID_REQ, ID_KINDS };
enum { INC_ACTIVE, INC_ACKED };

struct g_user {
    uint8_t first, last, role, active, serial;
};

struct g_key {
    uint64_t id, prefix;
    uint16_t rotations;
    uint8_t kind, active;
};

struct g_feat {
    uint16_t weight;
    uint8_t f, model;
};

struct g_limit {
    uint64_t id;
    int64_t max, pkey, spend;
    uint16_t version;
    uint8_t scope, idx, period, override;
};

struct g_rule {
    uint64_t id;
    int64_t threshold;
    uint16_t version;
    uint8_t tmpl, active, warn_only;
};

struct g_tenant {
    char id[48];
    char domain[64];
    const char *display;
    uint32_t weight, cost_pct;
    uint8_t overspend, plan, region;
    uint8_t nu, nk, nf, nl, nr;     /* slots in use */
    uint8_t nu0, nk0, nl0, nr0;     /* created during sign-up */
    uint16_t stage;                 /* sign-up step */
    uint8_t emergency;
    struct g_user u[MAXU];
    struct g_key k[MAXK];
    struct g_feat f[MAXF];
    struct g_limit l[MAXL];
    struct g_rule r[MAXR];
    uint64_t recent[4];             /* last finished runs */
    uint8_t nrecent, rpos;
    /* observed spend: all time, and in the current month */
    int64_t first_cost_ms, spend, fspend[MAXF], kspend[MAXK];
    int64_t mkey, mspend, mfspend[MAXF], mkspend[MAXK];
    /* a-priori estimate: expected runs over the span (x1000), and the cost
     * of NSIM simulated runs in total, per feature and per key slot */
    uint64_t est_runs_milli, est_cost, est_steps, est_fcost[MAXF], est_kcost[MAXK];
};

struct g_run {
    uint64_t id, inc, trace, in_tok, out_tok;
    int64_t start;
    uint32_t t;
    uint8_t fi, ki, model, user, left, done, fail, calls;
};

struct g_inc {
    uint64_t id, run;
    int64_t created, acked;
    uint32_t t;
    uint8_t state, sev, tmpl, user;
};

struct g_flow {
    uint64_t corr, run, inc, trace;
    int64_t start;
    uint32_t t, aux;
    uint8_t kind, step, key;
};

struct g_prop {
    uint64_t id, inc;
    int64_t threshold;
    uint32_t t;
    uint8_t kind, tmpl, rule, reason; /* kind 0 new rule, 1 modify, 2 retire */
};

struct gen {
    FILE *out;
    int err;
    wb w, s, bs, as;
    char sbuf[1024], bsbuf[4096], asbuf[4096];
    size_t line_start;
    xrng r;
    uint64_t seed, n, i, salt[ID_KINDS], ctr[ID_KINDS];
    unsigned nt, n_started, n_ready;
    int onb;
    uint64_t gap;
    struct g_tenant *t;
    uint64_t *cum;
    int64_t t0, end, now, span;
    int64_t day_cached, mday_cached, mkey_cached;
    char date[12];
    struct g_run runs[RUNS];
    unsigned nruns;
    struct g_inc incs[INCS];
    unsigned nincs;
    struct g_flow flows[FLOWS];
    unsigned nflows;
    struct g_prop props[PROPS];
    unsigned nprops;
    struct g_prop apply[APPLY];
    unsigned napply;
    uint32_t emerg[EMERG];      /* tenants with an active emergency override */
    int64_t emerg_at[EMERG];    /* since when */
    unsigned nemerg;
};

static inline uint64_t next_id(struct gen *g, int kind) { return mix64(g->salt[kind] + g->ctr[kind]++); }

static void put_time(struct gen *g, wb *w, int64_t ms)
{
    int64_t day = ms / DAY_MS;
    if (day != g->day_cached) {
        int64_t y;
        unsigned m, d;
        civil_from_days(day, &y, &m, &d);
        wb t = {g->date, 0, 0, {0}};
        put_u64(&t, (uint64_t)y);
        putch(&t, '-');
        put_2d(&t, m);
        putch(&t, '-');
        put_2d(&t, d);
        g->day_cached = day;
    }
    put(w, g->date, 10);
    int64_t r = ms % DAY_MS;
    putch(w, 'T');
    put_2d(w, (unsigned)(r / HOUR_MS));
    putch(w, ':');
    put_2d(w, (unsigned)(r / 60000 % 60));
    putch(w, ':');
    put_2d(w, (unsigned)(r / 1000 % 60));
    putch(w, '.');
    putch(w, (char)('0' + r % 1000 / 100));
    put_2d(w, (unsigned)(r % 100));
    putch(w, 'Z');
}

#define FT(g, w, k, ms)             \
    do {                            \
        KEY(w, k);                  \
        putch((w), '"');            \
        put_time((g), (w), (ms));   \
        putch((w), '"');            \
    } while (0)

static int64_t month_now(struct gen *g)
{
    int64_t day = g->now / DAY_MS;
    if (day != g->mday_cached) {
        g->mday_cached = day;
        g->mkey_cached = month_of(g->now);
    }
    return g->mkey_cached;
}

/* ------------------------------------------------------------ ids, names */

typedef struct idbuf {
    char s[48];
} idbuf;

static const char *fmt_id(idbuf *b, const char *prefix, uint64_t v)
{
    wb w = {b->s, 0, 0, {0}};
    putstr(&w, prefix);
    put_hex(&w, v, 16);
    w.p[w.len] = 0;
    return b->s;
}

typedef struct namebuf {
    char s[128];
} namebuf;

static const char *user_id(namebuf *b, const struct g_tenant *t, unsigned ui)
{
    const struct g_user *u = &t->u[ui];
    wb w = {b->s, 0, 0, {0}};
    putstr(&w, gen_first_names[u->first].id);
    putch(&w, '.');
    putstr(&w, gen_last_names[u->last]);
    if (u->serial)
        put_u64(&w, u->serial + 1u);
    putch(&w, '@');
    putstr(&w, t->domain);
    w.p[w.len] = 0;
    return b->s;
}

static const char *corr_id(idbuf *b, struct gen *g, int64_t ms, uint64_t v)
{
    wb w = {b->s, 0, 0, {0}};
    PUTL(&w, "req-");
    put_time(g, &w, ms);
    w.len = 4 + 10; /* keep the date only */
    putch(&w, '-');
    put_hex(&w, v, 16);
    w.p[w.len] = 0;
    return b->s;
}

static void key_prefix(wb *w, const struct g_key *k)
{
    putstr(w, gen_key_kinds[k->kind].live ? "ak_live_" : "ak_test_");
    put_hex(w, k->prefix, 6);
}

/* --------------------------------------------------------------- events */

struct hdr {
    const char *type, *actor_type, *actor_id, *entity_type, *entity_id;
    const char *run_id, *incident_id, *api_key_id, *correlation_id, *reason;
};

#define OPT_STR(w, lit, v)      \
    do {                        \
        if (v) {                \
            PUTL((w), lit);     \
            putstr((w), (v));   \
            putch((w), '"');    \
        }                       \
    } while (0)

/* Writes the envelope up to and including `"data":{`; the caller then writes
 * the data members and calls ev_end. The summary (g->s) and the optional
 * states (g->bs, g->as) are written before. */
static void ev_begin(struct gen *g, const struct g_tenant *t, const struct hdr *h)
{
    wb *w = &g->w;
    g->line_start = w->len;
    w->depth = 0;
    PUTL(w, "{\"tenant_id\":\"");
    putstr(w, t->id);
    PUTL(w, "\",\"event_type\":\"");
    putstr(w, h->type);
    PUTL(w, "\",\"event_id\":\"evt_");
    put_hex(w, next_id(g, ID_EVT), 16);
    PUTL(w, "\",\"occurred_at\":\"");
    put_time(g, w, g->now);
    putch(w, '"');
    OPT_STR(w, ",\"actor_type\":\"", h->actor_type);
    OPT_STR(w, ",\"actor_id\":\"", h->actor_id);
    OPT_STR(w, ",\"entity_type\":\"", h->entity_type);
    OPT_STR(w, ",\"entity_id\":\"", h->entity_id);
    OPT_STR(w, ",\"run_id\":\"", h->run_id);
    OPT_STR(w, ",\"incident_id\":\"", h->incident_id);
    OPT_STR(w, ",\"api_key_id\":\"", h->api_key_id);
    OPT_STR(w, ",\"correlation_id\":\"", h->correlation_id);
    if (g->s.len) {
        PUTL(w, ",\"summary\":\"");
        put(w, g->s.p, g->s.len);
        putch(w, '"');
    }
    OPT_STR(w, ",\"action_reason\":\"", h->reason);
    if (g->bs.len) {
        PUTL(w, ",\"before_state\":");
        put(w, g->bs.p, g->bs.len);
    }
    if (g->as.len) {
        PUTL(w, ",\"after_state\":");
        put(w, g->as.p, g->as.len);
    }
    PUTL(w, ",\"data\":");
    o_open(w);
}

static void flush(struct gen *g)
{
    if (g->w.len && !g->err) {
        if (fwrite(g->w.p, 1, g->w.len, g->out) != g->w.len)
            g->err = ANNAL_EIO;
    }
    g->w.len = 0;
}

static void ev_end(struct gen *g)
{
    wb *w = &g->w;
    o_close(w);
    putch(w, '}');
    putch(w, '\n');
    if (w->len - g->line_start > LINE_LIMIT && !g->err) {
        /* cannot happen with the tables above; a bug if it does */
        errno = EOVERFLOW;
        g->err = ANNAL_EIO;
    }
    g->i++;
    g->s.len = g->bs.len = g->as.len = 0;
    g->s.depth = g->bs.depth = g->as.depth = 0;
    if (w->len >= OUT_CAP)
        flush(g);
}

/* summary helpers */
#define SL(g, lit) PUTL(&(g)->s, lit)
#define SS(g, str) putstr(&(g)->s, (str))
#define SU(g, v) put_u64(&(g)->s, (uint64_t)(v))
#define SM(g, c) put_money(&(g)->s, (c))

/* ------------------------------------------------------ tenant behaviour */

static unsigned pick_feat(xrng *r, const struct g_tenant *t)
{
    uint32_t tot = 0;
    for (unsigned i = 0; i < t->nf; i++)
        tot += t->f[i].weight;
    uint32_t x = below(r, tot);
    for (unsigned i = 0; i < t->nf; i++) {
        if (x < t->f[i].weight)
            return i;
        x -= t->f[i].weight;
    }
    return 0;
}

static unsigned pick_key(xrng *r, const struct g_tenant *t, unsigned nk)
{
    uint32_t tot = 0;
    for (unsigned i = 0; i < nk; i++)
        if (t->k[i].active)
            tot += gen_key_kinds[t->k[i].kind].weight;
    if (!tot)
        return 0;
    uint32_t x = below(r, tot);
    for (unsigned i = 0; i < nk; i++) {
        if (!t->k[i].active)
            continue;
        uint32_t w = gen_key_kinds[t->k[i].kind].weight;
        if (x < w)
            return i;
        x -= w;
    }
    return 0;
}

static unsigned pick_user(xrng *r, const struct g_tenant *t, int non_owner)
{
    unsigned cand[MAXU], n = 0;
    for (unsigned i = non_owner ? 1 : 0; i < t->nu; i++)
        if (t->u[i].active)
            cand[n++] = i;
    return n ? cand[below(r, n)] : 0;
}

/* An admin-ish person: the owner or an ADMIN, else anyone. */
static unsigned pick_admin(xrng *r, const struct g_tenant *t)
{
    unsigned cand[MAXU], n = 0;
    for (unsigned i = 0; i < t->nu; i++)
        if (t->u[i].active && t->u[i].role <= 1)
            cand[n++] = i;
    return n ? cand[below(r, n)] : 0;
}

static void draw_tokens(xrng *r, const struct g_tenant *t, unsigned fi, unsigned ki, unsigned model,
                        uint64_t *in, uint64_t *out, uint64_t *cost)
{
    const struct gen_feature *F = &gen_features[t->f[fi].f];
    const struct gen_model *M = &gen_models[model];
    uint64_t mult = (uint64_t)t->cost_pct * gen_key_kinds[t->k[ki].kind].tok_pct;
    uint64_t i = F->in_base * skew(r) * mult / 1000000 + 1;
    uint64_t o = F->out_base * skew(r) * mult / 1000000 + 1;
    uint64_t cap = (uint64_t)M->ctx_k * 950;
    if (i > cap)
        i = cap;
    if (o > 16000)
        o = 16000;
    *in = i;
    *out = o;
    *cost = (i * M->in_cpm + o * M->out_cpm + 999999) / 1000000;
}

static unsigned run_model(xrng *r, const struct g_tenant *t, unsigned fi)
{
    return chance(r, 120) ? below(r, gen_n_models) : t->f[fi].model;
}

/* Expected spend of a limit scope over window_ms: from the observed rate when
 * the tenant has spent for at least 6 hours, else a priori. */
static int64_t scope_rate_spend(const struct gen *g, const struct g_tenant *t, unsigned scope,
                                unsigned idx, int64_t window_ms, int observed)
{
    int64_t elapsed = t->first_cost_ms ? g->now - t->first_cost_ms : 0;
    if (observed && elapsed >= 6 * HOUR_MS && t->spend >= 500) {
        int64_t s = scope == SC_TENANT ? t->spend : scope == SC_FEATURE ? t->fspend[idx] : t->kspend[idx];
        return (int64_t)muldiv((uint64_t)s, (uint64_t)window_ms, (uint64_t)elapsed);
    }
    uint64_t c = scope == SC_TENANT ? t->est_cost : scope == SC_FEATURE ? t->est_fcost[idx] : t->est_kcost[idx];
    uint64_t runs = muldiv(t->est_runs_milli, (uint64_t)window_ms, (uint64_t)g->span);
    return (int64_t)muldiv(runs, c, (uint64_t)NSIM * 1000);
}

static int64_t round2(int64_t v)
{
    if (v < 100)
        return 100;
    int64_t p = 1;
    while (v / p >= 100)
        p *= 10;
    return (v + p / 2) / p * p;
}

/* The spend a limit is calibrated against: a day's spend (DAILY), or the
 * largest month's spend within the rest of the span (MONTHLY). */
static int64_t limit_basis(const struct gen *g, const struct g_tenant *t, const struct g_limit *l,
                           int observed)
{
    if (l->period == P_DAILY)
        return scope_rate_spend(g, t, l->scope, l->idx, DAY_MS, observed);
    int64_t best = 0;
    int64_t mk = month_of(g->now);
    for (int64_t m = mk;; m++) {
        int64_t a = month_start(m), b = month_start(m + 1);
        if (a >= g->end)
            break;
        int64_t from = a > g->now ? a : g->now, to = b < g->end ? b : g->end;
        int64_t v = scope_rate_spend(g, t, l->scope, l->idx, to - from, observed);
        if (m == mk && t->mkey == mk) /* add what the month has spent so far */
            v += l->scope == SC_TENANT ? t->mspend : l->scope == SC_FEATURE ? t->mfspend[l->idx] : t->mkspend[l->idx];
        if (v > best)
            best = v;
    }
    return best;
}

static int64_t limit_max(struct gen *g, const struct g_tenant *t, const struct g_limit *l, int observed)
{
    int64_t basis = limit_basis(g, t, l, observed);
    uint32_t pct;
    if (t->overspend)
        pct = observed ? range(&g->r, 55, 90) : l->period == P_DAILY ? range(&g->r, 60, 90) : range(&g->r, 45, 75);
    else
        pct = observed ? range(&g->r, 140, 260) : l->period == P_DAILY ? range(&g->r, 200, 400) : range(&g->r, 160, 300);
    return round2(basis * (int64_t)pct / 100);
}

static void account_cost(struct gen *g, struct g_tenant *t, unsigned fi, unsigned ki, uint64_t cost)
{
    int64_t mk = month_now(g), dk = g->now / DAY_MS;
    if (!t->first_cost_ms)
        t->first_cost_ms = g->now;
    t->spend += (int64_t)cost;
    t->fspend[fi] += (int64_t)cost;
    t->kspend[ki] += (int64_t)cost;
    if (t->mkey != mk) {
        t->mkey = mk;
        t->mspend = 0;
        memset(t->mfspend, 0, sizeof t->mfspend);
        memset(t->mkspend, 0, sizeof t->mkspend);
    }
    t->mspend += (int64_t)cost;
    t->mfspend[fi] += (int64_t)cost;
    t->mkspend[ki] += (int64_t)cost;
    for (unsigned i = 0; i < t->nl; i++) {
        struct g_limit *l = &t->l[i];
        if ((l->scope == SC_FEATURE && l->idx != fi) || (l->scope == SC_KEY && l->idx != ki))
            continue;
        int64_t pk = l->period == P_DAILY ? dk : mk;
        if (l->pkey != pk) {
            l->pkey = pk;
            l->spend = 0;
        }
        l->spend += (int64_t)cost;
    }
}

static void remember_run(struct g_tenant *t, uint64_t run)
{
    t->recent[t->rpos] = run;
    t->rpos = (uint8_t)((t->rpos + 1) % 4);
    if (t->nrecent < 4)
        t->nrecent++;
}

/* A run of the tenant to link to: one in flight, else a recent one, else 0. */
static uint64_t link_run(struct gen *g, const struct g_tenant *t, unsigned ti, unsigned *fi_out)
{
    unsigned start = g->nruns ? below(&g->r, g->nruns) : 0;
    for (unsigned j = 0; j < g->nruns; j++) {
        const struct g_run *ru = &g->runs[(start + j) % g->nruns];
        if (ru->t == ti) {
            if (fi_out)
                *fi_out = ru->fi;
            return ru->id;
        }
    }
    if (t->nrecent)
        return t->recent[below(&g->r, t->nrecent)];
    return 0;
}

static const struct g_inc *open_incident_of(struct gen *g, unsigned ti)
{
    for (unsigned j = 0; j < g->nincs; j++)
        if (g->incs[j].t == ti)
            return &g->incs[j];
    return NULL;
}

static const char *const sev_names[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
static const char *const scope_names[] = {"tenant", "feature", "api_key"};
static const char *const period_names[] = {"MONTHLY", "DAILY"};

static unsigned pick_sev(xrng *r)
{
    uint32_t x = below(r, 100);
    return x < 35 ? 0 : x < 75 ? 1 : x < 93 ? 2 : 3;
}

/* common diagnostic members of service/run payloads */
static void put_trace(struct gen *g, wb *w, uint64_t trace)
{
    KEY(w, "trace_id");
    putch(w, '"');
    put_hex(w, trace, 16);
    put_hex(w, mix64(trace), 16);
    putch(w, '"');
    KEY(w, "span_id");
    putch(w, '"');
    put_hex(w, rnd(&g->r), 16);
    putch(w, '"');
}

static void put_sha256(struct gen *g, wb *w)
{
    putch(w, '"');
    for (int i = 0; i < 4; i++)
        put_hex(w, rnd(&g->r), 16);
    putch(w, '"');
}

/* ------------------------------------------------------ rule/limit bodies */

static void rule_body(wb *w, const struct g_tenant *t, const struct g_rule *ru, int enabled)
{
    const struct gen_rule *R = &gen_rules[ru->tmpl];
    o_open(w);
    FS(w, "name", R->name);
    FS(w, "kind", R->kind);
    FS(w, "condition", R->condition);
    FS(w, "action", ru->warn_only ? "WARN" : R->action);
    if (R->threshold_key) {
        KEY(w, "params");
        o_open(w);
        key_(w, R->threshold_key, strlen(R->threshold_key));
        put_i64(w, ru->threshold);
        o_close(w);
    }
    FS(w, "scope", "tenant");
    FS(w, "scope_id", t->id);
    FU(w, "version", ru->version);
    FB(w, "enabled", enabled);
    o_close(w);
}

static void limit_state(wb *w, const struct g_tenant *t, const struct g_limit *l, int64_t max)
{
    o_open(w);
    FS(w, "category", "BUDGET");
    FS(w, "scope", scope_names[l->scope]);
    KEY(w, "scope_id");
    putch(w, '"');
    if (l->scope == SC_TENANT)
        putstr(w, t->id);
    else if (l->scope == SC_FEATURE)
        putstr(w, gen_features[t->f[l->idx].f].tag);
    else {
        PUTL(w, "key_");
        put_hex(w, t->k[l->idx].id, 16);
    }
    putch(w, '"');
    FS(w, "period", period_names[l->period]);
    FI(w, "max_cents", max);
    FU(w, "warn_pct", 80);
    FU(w, "version", l->version);
    o_close(w);
}

static const char *scope_id_str(idbuf *b, const struct g_tenant *t, const struct g_limit *l)
{
    if (l->scope == SC_TENANT)
        return t->id;
    if (l->scope == SC_FEATURE)
        return gen_features[t->f[l->idx].f].tag;
    return fmt_id(b, "key_", t->k[l->idx].id);
}

static void limit_summary(struct gen *g, const struct g_tenant *t, const struct g_limit *l, int64_t max)
{
    idbuf b;
    SS(g, l->period == P_DAILY ? "Daily" : "Monthly");
    SL(g, " budget for ");
    SS(g, scope_names[l->scope]);
    SL(g, " ");
    SS(g, scope_id_str(&b, t, l));
    SL(g, " set to ");
    SM(g, max);
}

/* -------------------------------------------------------- sign-up (onboard) */

static void ev_tenant_created(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    namebuf owner;
    user_id(&owner, t, 0);
    SL(g, "Tenant ");
    SS(g, t->display);
    SL(g, " created on the ");
    SS(g, gen_plans[t->plan]);
    SL(g, " plan");
    struct hdr h = {.type = "TenantCreated", .actor_type = "HUMAN", .actor_id = owner.s,
                    .entity_type = "TENANT", .entity_id = t->id};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "name", t->display);
    FS(w, "plan", gen_plans[t->plan]);
    FS(w, "region", gen_regions[t->region]);
    FS(w, "user_id", owner.s);
    FS(w, "role", "OWNER");
    FS(w, "billing_email", owner.s);
    FS(w, "signup_source", chance(&g->r, 500) ? "self_serve" : "sales_assisted");
    FS(w, "data_residency", t->region >= 2 && t->region <= 3 ? "EU" : "GLOBAL");
    ev_end(g);
}

static void ev_user_invited(struct gen *g, unsigned ti, unsigned ui)
{
    struct g_tenant *t = &g->t[ti];
    namebuf who, by;
    user_id(&who, t, ui);
    user_id(&by, t, g->onb == (int)ti ? 0 : pick_admin(&g->r, t));
    SS(g, who.s);
    SL(g, " invited as ");
    SS(g, gen_roles[t->u[ui].role]);
    struct hdr h = {.type = "UserInvited", .actor_type = "HUMAN", .actor_id = by.s,
                    .entity_type = "USER", .entity_id = who.s};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "user_id", who.s);
    FS(w, "role", gen_roles[t->u[ui].role]);
    KEY(w, "display_name");
    putch(w, '"');
    putstr(w, gen_first_names[t->u[ui].first].display);
    putch(w, ' ');
    /* capitalised last name */
    const char *ln = gen_last_names[t->u[ui].last];
    putch(w, (char)(ln[0] - 'a' + 'A'));
    putstr(w, ln + 1);
    putch(w, '"');
    FS(w, "invited_by", by.s);
    FS(w, "auth_provider", chance(&g->r, 600) ? "saml" : "password");
    FT(g, w, "invite_expires_at", g->now + 7 * DAY_MS);
    ev_end(g);
}

static void ev_key_created(struct gen *g, unsigned ti, unsigned ki)
{
    struct g_tenant *t = &g->t[ti];
    struct g_key *k = &t->k[ki];
    namebuf by;
    idbuf kid;
    user_id(&by, t, pick_admin(&g->r, t));
    fmt_id(&kid, "key_", k->id);
    SL(g, "API key ");
    SS(g, gen_key_kinds[k->kind].name);
    SL(g, " (");
    key_prefix(&g->s, k);
    SL(g, ") created");
    struct hdr h = {.type = "ApiKeyCreated", .actor_type = "HUMAN", .actor_id = by.s,
                    .entity_type = "API_KEY", .entity_id = kid.s, .api_key_id = kid.s};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    KEY(w, "key_prefix");
    putch(w, '"');
    key_prefix(w, k);
    putch(w, '"');
    FS(w, "name", gen_key_kinds[k->kind].name);
    FS(w, "environment", gen_key_kinds[k->kind].live ? "live" : "test");
    KEY(w, "scopes");
    a_open(w);
    ELEM_S(w, "runs:write");
    ELEM_S(w, "costs:write");
    if (k->kind == 1 || k->kind == 4)
        ELEM_S(w, "analytics:read");
    a_close(w);
    FU(w, "rate_limit_rpm", gen_key_kinds[k->kind].live ? 600 : 60);
    FS(w, "created_by", by.s);
    FT(g, w, "expires_at", g->now + 365 * DAY_MS);
    ev_end(g);
}

static void ev_limit_created(struct gen *g, unsigned ti, unsigned li, int observed)
{
    struct g_tenant *t = &g->t[ti];
    struct g_limit *l = &t->l[li];
    l->version = 1;
    l->max = limit_max(g, t, l, observed);
    namebuf by;
    idbuf lid, sid;
    user_id(&by, t, pick_admin(&g->r, t));
    fmt_id(&lid, "lim_", l->id);
    limit_summary(g, t, l, l->max);
    limit_state(&g->as, t, l, l->max);
    struct hdr h = {.type = "LimitCreated", .actor_type = "HUMAN", .actor_id = by.s,
                    .entity_type = "LIMIT", .entity_id = lid.s,
                    .api_key_id = l->scope == SC_KEY ? fmt_id(&sid, "key_", t->k[l->idx].id) : NULL,
                    .reason = observed ? "Budget set from the spend trend of the last days"
                                       : "Initial budget at onboarding"};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "category", "BUDGET");
    KEY(w, "name");
    putch(w, '"');
    putstr(w, l->period == P_DAILY ? "daily-" : "monthly-");
    putstr(w, scope_names[l->scope]);
    PUTL(w, "-budget");
    putch(w, '"');
    FS(w, "scope", scope_names[l->scope]);
    FS(w, "scope_id", scope_id_str(&sid, t, l));
    FS(w, "period", period_names[l->period]);
    FI(w, "max_cents", l->max);
    FU(w, "warn_pct", 80);
    FS(w, "currency", "USD");
    FS(w, "enforcement", "ALERT");
    FS(w, "notify", by.s);
    ev_end(g);
}

static void ev_rule_created(struct gen *g, unsigned ti, unsigned ri, const struct g_prop *from)
{
    struct g_tenant *t = &g->t[ti];
    struct g_rule *ru = &t->r[ri];
    const struct gen_rule *R = &gen_rules[ru->tmpl];
    namebuf by;
    idbuf rid, pid;
    fmt_id(&rid, "rule_", ru->id);
    rule_body(&g->as, t, ru, 1);
    SL(g, "Policy rule ");
    SS(g, R->name);
    SL(g, " created (");
    SS(g, ru->warn_only ? "WARN" : R->action);
    SL(g, ")");
    struct hdr h = {.type = "PolicyRuleCreated", .entity_type = "POLICY_RULE", .entity_id = rid.s};
    if (from) {
        h.actor_type = "SYSTEM";
        h.actor_id = "svc:policy-service";
        h.reason = "Applied an approved proposal";
    } else {
        h.actor_type = "HUMAN";
        h.actor_id = user_id(&by, t, pick_admin(&g->r, t));
        h.reason = gen_proposal_reasons[below(&g->r, gen_n_proposal_reasons)];
    }
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "rule_name", R->name);
    FS(w, "kind", R->kind);
    FU(w, "version", ru->version);
    FS(w, "mode", "ENFORCE");
    if (from)
        FS(w, "proposal_id", fmt_id(&pid, "prop_", from->id));
    ev_end(g);
}

static void onboard_step(struct gen *g)
{
    unsigned ti = (unsigned)g->onb;
    struct g_tenant *t = &g->t[ti];
    unsigned s = t->stage++;
    if (s == 0) {
        ev_tenant_created(g, ti);
    } else if (s < t->nu0) {
        ev_user_invited(g, ti, s);
    } else if ((s -= t->nu0) < t->nk0) {
        ev_key_created(g, ti, s);
    } else if ((s -= t->nk0) < t->nl0) {
        ev_limit_created(g, ti, s, 0);
    } else {
        s -= t->nl0;
        ev_rule_created(g, ti, s, NULL);
    }
    if (t->stage >= t->nu0 + t->nk0 + t->nl0 + t->nr0) {
        g->n_ready++;
        g->onb = -1;
    }
}

/* --------------------------------------------------------------- runs */

static void ev_run_started(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    struct g_run *ru = &g->runs[g->nruns++];
    memset(ru, 0, sizeof *ru);
    ru->t = ti;
    ru->id = next_id(g, ID_RUN);
    ru->fi = (uint8_t)pick_feat(&g->r, t);
    ru->ki = (uint8_t)pick_key(&g->r, t, t->nk);
    ru->model = (uint8_t)run_model(&g->r, t, ru->fi);
    ru->user = (uint8_t)pick_user(&g->r, t, 0);
    ru->start = g->now;
    ru->trace = rnd(&g->r);
    const struct gen_feature *F = &gen_features[t->f[ru->fi].f];
    const struct gen_model *M = &gen_models[ru->model];
    unsigned steps = range(&g->r, F->steps_min, F->steps_max);
    ru->fail = (uint8_t)chance(&g->r, 35 + M->fail_pm + F->fail_pm);
    ru->left = (uint8_t)(ru->fail ? below(&g->r, steps + 1) : steps);
    if (strcmp(F->tag, "incident.triage") == 0) {
        const struct g_inc *in = open_incident_of(g, ti);
        if (in)
            ru->inc = in->id;
    }
    namebuf uid;
    idbuf rid, kid, iid;
    user_id(&uid, t, ru->user);
    fmt_id(&rid, "run_", ru->id);
    fmt_id(&kid, "key_", t->k[ru->ki].id);
    SL(g, "Run started: ");
    SS(g, F->what);
    SL(g, " on ");
    SS(g, M->name);
    struct hdr h = {.type = "RunStarted", .actor_type = F->agent ? "AGENT" : "HUMAN",
                    .actor_id = F->agent ? F->agent : uid.s, .run_id = rid.s, .api_key_id = kid.s,
                    .incident_id = ru->inc ? fmt_id(&iid, "inc_", ru->inc) : NULL};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "model", M->name);
    FS(w, "feature_tag", F->tag);
    FS(w, "user_id", uid.s);
    FS(w, "provider", M->provider);
    FS(w, "region", gen_regions[(t->region + (ru->model % 3 == 0)) % gen_n_regions]);
    FS(w, "prompt_template", F->prompt);
    KEY(w, "prompt_sha256");
    put_sha256(g, w);
    KEY(w, "temperature");
    putstr(w, gen_temperatures[below(&g->r, gen_n_temperatures)]);
    FU(w, "max_output_tokens", F->out_base < 1000 ? 1024 : 4096);
    put_trace(g, w, ru->trace);
    ev_end(g);
}

static void ev_cost(struct gen *g, struct g_run *ru)
{
    struct g_tenant *t = &g->t[ru->t];
    const struct gen_feature *F = &gen_features[t->f[ru->fi].f];
    const struct gen_model *M = &gen_models[ru->model];
    uint64_t in, out, cost;
    draw_tokens(&g->r, t, ru->fi, ru->ki, ru->model, &in, &out, &cost);
    ru->in_tok += in;
    ru->out_tok += out;
    ru->calls++;
    account_cost(g, t, ru->fi, ru->ki, cost);
    namebuf uid;
    idbuf rid, kid, iid;
    user_id(&uid, t, ru->user);
    fmt_id(&rid, "run_", ru->id);
    fmt_id(&kid, "key_", t->k[ru->ki].id);
    SU(g, in);
    SL(g, " input and ");
    SU(g, out);
    SL(g, " output tokens on ");
    SS(g, M->name);
    SL(g, " cost ");
    SM(g, (int64_t)cost);
    struct hdr h = {.type = "CostRecorded", .run_id = rid.s, .api_key_id = kid.s,
                    .incident_id = ru->inc ? fmt_id(&iid, "inc_", ru->inc) : NULL};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "model", M->name);
    FS(w, "feature_tag", F->tag);
    FS(w, "user_id", uid.s);
    FU(w, "input_tokens", in);
    FU(w, "output_tokens", out);
    FU(w, "cost_cents", cost);
    FS(w, "provider", M->provider);
    if (M->provider[0] == 'a') /* anthropic reports prompt-cache reads */
        FU(w, "cache_read_tokens", in * below(&g->r, 60) / 100);
    FU(w, "latency_ms", 120 + out * (8 + below(&g->r, 30)) / 10);
    FU(w, "call_index", ru->calls);
    FH(w, "request_id", "req_", next_id(g, ID_REQ));
    FS(w, "pricing_version", "2026-09");
    put_trace(g, w, ru->trace);
    ev_end(g);
}

static void ev_run_end(struct gen *g, unsigned idx)
{
    struct g_run *ru = &g->runs[idx];
    struct g_tenant *t = &g->t[ru->t];
    const struct gen_feature *F = &gen_features[t->f[ru->fi].f];
    const struct gen_model *M = &gen_models[ru->model];
    int64_t dur = g->now - ru->start + 40 + below(&g->r, 400);
    namebuf uid;
    idbuf rid, kid, iid;
    user_id(&uid, t, ru->user);
    fmt_id(&rid, "run_", ru->id);
    fmt_id(&kid, "key_", t->k[ru->ki].id);
    const struct gen_error *E = NULL;
    if (ru->fail) {
        E = &gen_errors[below(&g->r, gen_n_errors)];
        SL(g, "Run failed after ");
        put_secs(&g->s, dur);
        SL(g, ": ");
        SS(g, E->code);
    } else {
        SL(g, "Run completed in ");
        put_secs(&g->s, dur);
        SL(g, " after ");
        SU(g, ru->calls);
        SS(g, ru->calls == 1 ? " model call" : " model calls");
    }
    struct hdr h = {.type = ru->fail ? "RunFailed" : "RunCompleted", .actor_type = "SYSTEM",
                    .actor_id = "svc:run-worker", .run_id = rid.s, .api_key_id = kid.s,
                    .incident_id = ru->inc ? fmt_id(&iid, "inc_", ru->inc) : NULL};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "model", M->name);
    FS(w, "feature_tag", F->tag);
    FS(w, "user_id", uid.s);
    FI(w, "duration_ms", dur);
    FU(w, "model_calls", ru->calls);
    FU(w, "input_tokens", ru->in_tok);
    FU(w, "output_tokens", ru->out_tok);
    if (E) {
        FS(w, "error_code", E->code);
        FS(w, "error_message", E->message);
        FU(w, "http_status", E->http_status);
        FB(w, "retryable", E->retryable);
        FU(w, "attempt", 1 + below(&g->r, 3));
    } else {
        FS(w, "finish_reason", F->agent ? "tool_use" : gen_finish_reasons[below(&g->r, gen_n_finish_reasons)]);
        FU(w, "tool_calls", F->agent ? below(&g->r, 6) : 0);
    }
    put_trace(g, w, ru->trace);
    ev_end(g);
    remember_run(t, ru->id);
    g->runs[idx] = g->runs[--g->nruns];
}

static void do_run(struct gen *g, unsigned ti)
{
    if (g->nruns == 0 || (g->nruns < RUNS && chance(&g->r, 450))) {
        ev_run_started(g, ti);
        return;
    }
    unsigned idx = below(&g->r, g->nruns);
    struct g_run *ru = &g->runs[idx];
    if (ru->left) {
        ru->left--;
        ev_cost(g, ru);
    } else {
        ev_run_end(g, idx);
    }
}

/* ------------------------------------------------------ service events */

static void service_common(struct gen *g, wb *w, const struct g_flow *fl, const char *svc,
                           const char *op, unsigned latency)
{
    FS(w, "service", svc);
    FS(w, "operation", op);
    FS(w, "outcome", "success");
    FU(w, "latency_ms", latency);
    KEY(w, "pod");
    putch(w, '"');
    putstr(w, svc);
    putch(w, '-');
    put_hex(w, mix64(fl->corr ^ (uint64_t)fl->step) & 0xfffffff, 7);
    putch(w, '"');
    put_trace(g, w, fl->trace);
}

static void ev_service(struct gen *g, struct g_flow *fl)
{
    struct g_tenant *t = &g->t[fl->t];
    const struct gen_flow *F = &gen_flows[fl->kind];
    unsigned st = fl->step;
    const char *type = F->steps[st], *svc = F->services[st];
    idbuf cid, rid, iid, kid;
    char actor[64];
    wb aw = {actor, 0, 0, {0}};
    PUTL(&aw, "svc:");
    putstr(&aw, svc);
    actor[aw.len] = 0;
    corr_id(&cid, g, fl->start, fl->corr);
    unsigned root = fl->aux % gen_n_root_causes, wf = (fl->aux >> 8) % gen_n_workflows;
    unsigned conf = 55 + (fl->aux >> 16) % 44;
    /* summary */
    switch (fl->kind * 4 + st) {
    case 0: SL(g, "HolmesGPT returned a root cause analysis"); break;
    case 1: SL(g, "AI analysis completed with workflow "); SS(g, gen_workflows[wf]); break;
    case 4: SL(g, "Gateway received a chat completion request"); break;
    case 5: SL(g, "Router selected "); SS(g, gen_models[fl->aux % gen_n_models].name); break;
    case 6: SL(g, "Gateway sent the response"); break;
    case 8: SL(g, "Retriever returned candidate passages"); break;
    case 9: SL(g, "Reranker scored the retrieved passages"); break;
    case 12: SL(g, "Guardrail checks passed"); break;
    case 13: SL(g, "Gateway forwarded the request upstream"); break;
    case 16: SL(g, "Webhook delivered to the tenant endpoint"); break;
    case 17: SL(g, "Notification acknowledged by the recipient"); break;
    case 20: SL(g, "Evaluator computed a quality score"); break;
    case 21: SL(g, "Dashboard metric updated"); break;
    default: SL(g, "Service event"); break;
    }
    struct hdr h = {.type = type, .actor_type = "SYSTEM", .actor_id = actor, .correlation_id = cid.s,
                    .run_id = fl->run ? fmt_id(&rid, "run_", fl->run) : NULL,
                    .incident_id = fl->inc ? fmt_id(&iid, "inc_", fl->inc) : NULL,
                    .api_key_id = fl->kind == 1 ? fmt_id(&kid, "key_", t->k[fl->key].id) : NULL};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    const struct gen_model *Mx = &gen_models[fl->aux % gen_n_models];
    switch (fl->kind * 4 + st) {
    case 0: /* holmesgpt.response.complete: the full provider response */
        service_common(g, w, fl, svc, "response_sent", 4000 + below(&g->r, 20000));
        FH(w, "remediation_id", "rr-", fl->corr);
        KEY(w, "response_data");
        o_open(w);
        KEY(w, "root_cause_analysis");
        o_open(w);
        FS(w, "summary", gen_root_causes[root]);
        FS(w, "severity", sev_names[fl->aux % 4]);
        KEY(w, "contributing_factors");
        a_open(w);
        ELEM_S(w, "recent deploy");
        ELEM_S(w, "resource limits");
        a_close(w);
        o_close(w);
        KEY(w, "selected_workflow");
        o_open(w);
        FS(w, "workflow_id", gen_workflows[wf]);
        FU(w, "version", 1 + fl->aux % 5);
        FF2(w, "confidence", conf);
        o_close(w);
        KEY(w, "alternative_workflows");
        a_open(w);
        sep(w);
        o_open(w);
        FS(w, "workflow_id", gen_workflows[(wf + 1) % gen_n_workflows]);
        FF2(w, "confidence", conf / 2);
        o_close(w);
        a_close(w);
        FB(w, "needs_human_review", conf < 70);
        FU(w, "warnings_count", conf < 70);
        o_close(w);
        FS(w, "model", "claude-3-5-sonnet");
        FU(w, "input_tokens", 6000 + below(&g->r, 9000));
        FU(w, "output_tokens", 600 + below(&g->r, 900));
        break;
    case 1: /* aianalysis.analysis.completed: the consumer's view */
        service_common(g, w, fl, svc, "analysis_completed", 30 + below(&g->r, 200));
        FS(w, "phase", "Completed");
        FB(w, "approval_required", conf < 80);
        if (conf < 80)
            FS(w, "approval_reason", "confidence below the auto-approve threshold");
        FB(w, "degraded_mode", 0);
        FU(w, "warnings_count", conf < 70);
        FF2(w, "confidence", conf);
        FS(w, "workflow_id", gen_workflows[wf]);
        KEY(w, "provider_response_summary");
        o_open(w);
        FH(w, "incident_id", "rr-", fl->corr);
        KEY(w, "analysis_preview");
        putch(w, '"');
        put(w, gen_root_causes[root], 32);
        PUTL(w, "...\"");
        FS(w, "selected_workflow_id", gen_workflows[wf]);
        FB(w, "needs_human_review", conf < 70);
        o_close(w);
        break;
    case 4: /* gateway.request.received */
        service_common(g, w, fl, svc, "request_received", 1 + below(&g->r, 5));
        FS(w, "method", "POST");
        FS(w, "path", "/v1/chat/completions");
        KEY(w, "key_prefix");
        putch(w, '"');
        key_prefix(w, &t->k[fl->key]);
        putch(w, '"');
        FU(w, "request_bytes", 800 + below(&g->r, 40000));
        FS(w, "user_agent", gen_sdks[fl->aux % gen_n_sdks]);
        FS(w, "region", gen_regions[t->region]);
        break;
    case 5: /* router.model.selected */
        service_common(g, w, fl, svc, "model_selected", 2 + below(&g->r, 10));
        FS(w, "model", Mx->name);
        FS(w, "provider", Mx->provider);
        KEY(w, "candidates");
        a_open(w);
        ELEM_S(w, Mx->name);
        ELEM_S(w, gen_models[(fl->aux + 1) % gen_n_models].name);
        a_close(w);
        FS(w, "routing_policy", "cost-aware");
        FS(w, "reason", "lowest cost meeting the latency objective");
        break;
    case 6: /* gateway.response.sent */
        service_common(g, w, fl, svc, "response_sent", 300 + below(&g->r, 9000));
        FU(w, "status", 200);
        FU(w, "response_bytes", 400 + below(&g->r, 12000));
        FU(w, "ttfb_ms", 150 + below(&g->r, 900));
        FS(w, "model", Mx->name);
        break;
    case 8: /* retriever.search.completed */
        service_common(g, w, fl, svc, "search", 15 + below(&g->r, 200));
        FS(w, "index", "kb-prod-v7");
        KEY(w, "query_sha256");
        put_sha256(g, w);
        FU(w, "top_k", 50);
        FU(w, "hits", 10 + below(&g->r, 41));
        FS(w, "embedding_model", "text-embedding-3-large");
        break;
    case 9: /* reranker.results.scored */
        service_common(g, w, fl, svc, "rerank", 20 + below(&g->r, 120));
        FS(w, "model", "rerank-english-v3");
        FU(w, "kept", 8);
        FF2(w, "top_score", conf);
        FF2(w, "min_score", conf / 3);
        break;
    case 12: /* guardrail.check.completed */
        service_common(g, w, fl, svc, "check", 5 + below(&g->r, 60));
        KEY(w, "checks");
        a_open(w);
        ELEM_S(w, "pii");
        ELEM_S(w, "prompt_injection");
        ELEM_S(w, "toxicity");
        ELEM_S(w, "secrets");
        a_close(w);
        FU(w, "injection_score", below(&g->r, 40));
        FB(w, "pii_detected", 0);
        FS(w, "verdict", "ALLOW");
        break;
    case 13: /* gateway.request.forwarded */
        service_common(g, w, fl, svc, "forward", 1 + below(&g->r, 4));
        FS(w, "upstream", Mx->provider);
        FS(w, "model", Mx->name);
        FS(w, "region", gen_regions[(t->region + 1) % gen_n_regions]);
        break;
    case 16: /* webhook.delivery.sent */
        service_common(g, w, fl, svc, "deliver", 40 + below(&g->r, 800));
        KEY(w, "endpoint");
        putch(w, '"');
        PUTL(w, "https://hooks.");
        putstr(w, t->domain);
        PUTL(w, "/annal\"");
        FS(w, "event", fl->inc ? "incident.updated" : "run.completed");
        FU(w, "attempt", 1 + (fl->aux % 7 == 0));
        FU(w, "status", 200);
        break;
    case 17: /* notifier.delivery.acknowledged */
        service_common(g, w, fl, svc, "acknowledge", 1000 + below(&g->r, 60000));
        FS(w, "channel", fl->aux % 3 == 0 ? "pagerduty" : fl->aux % 3 == 1 ? "slack" : "email");
        {
            namebuf ack;
            FS(w, "acknowledged_by", user_id(&ack, t, pick_user(&g->r, t, 0)));
        }
        break;
    case 20: /* evaluator.score.computed */
        service_common(g, w, fl, svc, "evaluate", 500 + below(&g->r, 5000));
        FS(w, "suite", "support-quality-v3");
        FS(w, "metric", fl->aux % 2 ? "faithfulness" : "answer_relevance");
        FF2(w, "score", conf);
        FU(w, "samples", 200);
        FS(w, "judge_model", "gpt-4o");
        break;
    case 21: /* dashboard.metric.updated */
        service_common(g, w, fl, svc, "update", 3 + below(&g->r, 30));
        FS(w, "dashboard", "quality-overview");
        FS(w, "panel", fl->aux % 2 ? "faithfulness-7d" : "relevance-7d");
        FF2(w, "value", conf);
        break;
    }
    ev_end(g);
}

static void do_service(struct gen *g, unsigned ti)
{
    if (g->nflows == 0 || (g->nflows < FLOWS && chance(&g->r, 400))) {
        struct g_tenant *t = &g->t[ti];
        struct g_flow *fl = &g->flows[g->nflows++];
        memset(fl, 0, sizeof *fl);
        fl->t = ti;
        fl->kind = (uint8_t)below(&g->r, gen_n_flows);
        if (fl->kind == 1 && chance(&g->r, 300))
            fl->kind = 3; /* gateway traffic is more frequent than the others */
        fl->corr = next_id(g, ID_CORR);
        fl->start = g->now;
        fl->trace = rnd(&g->r);
        fl->aux = (uint32_t)rnd(&g->r);
        fl->key = (uint8_t)pick_key(&g->r, t, t->nk);
        if (fl->kind == 1 || fl->kind == 5)
            fl->run = link_run(g, t, ti, NULL);
        if (fl->kind == 0 || fl->kind == 4) {
            const struct g_inc *in = open_incident_of(g, ti);
            fl->inc = in ? in->id : 0;
        }
        ev_service(g, fl);
        return;
    }
    unsigned idx = below(&g->r, g->nflows);
    struct g_flow *fl = &g->flows[idx];
    fl->step++;
    ev_service(g, fl);
    if (fl->step + 1 >= 3 || gen_flows[fl->kind].steps[fl->step + 1] == NULL)
        g->flows[idx] = g->flows[--g->nflows];
}

/* ---------------------------------------------------------- violations */

static void do_violation(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    unsigned act[MAXR], n = 0;
    for (unsigned i = 0; i < t->nr; i++)
        if (t->r[i].active)
            act[n++] = i;
    const struct g_rule *ru = &t->r[act[below(&g->r, n)]];
    const struct gen_rule *R = &gen_rules[ru->tmpl];
    unsigned fi = pick_feat(&g->r, t);
    uint64_t run = link_run(g, t, ti, &fi);
    unsigned ki = pick_key(&g->r, t, t->nk);
    unsigned model = run_model(&g->r, t, fi);
    uint64_t saved = R->saved_cents * skew(&g->r) * t->cost_pct / 10000;
    idbuf rid, runid, kid;
    namebuf uid;
    fmt_id(&rid, "rule_", ru->id);
    fmt_id(&kid, "key_", t->k[ki].id);
    SL(g, "Rule ");
    SS(g, R->name);
    SS(g, ru->warn_only ? " flagged a request to " : " blocked a request to ");
    SS(g, gen_models[model].name);
    SL(g, ", saving about ");
    SM(g, (int64_t)saved);
    struct hdr h = {.type = "PolicyViolationPrevented", .actor_type = "SYSTEM",
                    .actor_id = "svc:policy-engine", .entity_type = "POLICY_RULE", .entity_id = rid.s,
                    .run_id = run ? fmt_id(&runid, "run_", run) : NULL, .api_key_id = kid.s};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "rule_name", R->name);
    FU(w, "rule_version", ru->version);
    FS(w, "action", ru->warn_only ? "WARN" : R->action);
    FS(w, "outcome", ru->warn_only ? "flagged" : "prevented");
    FU(w, "estimated_cost_saved_cents", saved);
    FS(w, "model", gen_models[model].name);
    FS(w, "feature_tag", gen_features[t->f[fi].f].tag);
    FS(w, "user_id", user_id(&uid, t, pick_user(&g->r, t, 0)));
    FH(w, "request_id", "req_", next_id(g, ID_REQ));
    FU(w, "evaluation_us", 80 + below(&g->r, 2000));
    ev_end(g);
}

/* ----------------------------------------------------------- incidents */

static void ev_incident_created(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    struct g_inc *in = &g->incs[g->nincs++];
    memset(in, 0, sizeof *in);
    in->t = ti;
    in->id = next_id(g, ID_INC);
    in->tmpl = (uint8_t)below(&g->r, gen_n_incidents);
    in->sev = (uint8_t)pick_sev(&g->r);
    in->created = g->now;
    in->state = INC_ACTIVE;
    const struct gen_incident *I = &gen_incidents[in->tmpl];
    unsigned fi = pick_feat(&g->r, t);
    if (chance(&g->r, I->policy ? 700 : 300))
        in->run = link_run(g, t, ti, &fi);
    idbuf iid, rid, ruleid;
    namebuf by;
    fmt_id(&iid, "inc_", in->id);
    SS(g, sev_names[in->sev]);
    SL(g, " incident: ");
    SS(g, I->title);
    struct hdr h = {.type = "IncidentCreated", .entity_type = "INCIDENT", .entity_id = iid.s,
                    .incident_id = iid.s, .run_id = in->run ? fmt_id(&rid, "run_", in->run) : NULL};
    if (I->policy) {
        h.actor_type = "SYSTEM";
        h.actor_id = "svc:policy-engine";
    } else {
        h.actor_type = "HUMAN";
        h.actor_id = user_id(&by, t, pick_user(&g->r, t, 0));
    }
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "category", I->category);
    FS(w, "severity", sev_names[in->sev]);
    FS(w, "title", I->title);
    FS(w, "source", I->policy ? "POLICY_VIOLATION" : "MANUAL");
    FS(w, "status", "ACTIVE");
    FS(w, "feature_tag", gen_features[t->f[fi].f].tag);
    if (I->policy) {
        unsigned ri = below(&g->r, t->nr);
        FS(w, "rule_id", fmt_id(&ruleid, "rule_", t->r[ri].id));
        FS(w, "rule_name", gen_rules[t->r[ri].tmpl].name);
    } else {
        FS(w, "reported_via", chance(&g->r, 500) ? "console" : "slack");
    }
    FU(w, "affected_users", below(&g->r, 40));
    FS(w, "environment", "production");
    ev_end(g);
}

static void ev_incident_advance(struct gen *g, unsigned idx)
{
    struct g_inc *in = &g->incs[idx];
    struct g_tenant *t = &g->t[in->t];
    const struct gen_incident *I = &gen_incidents[in->tmpl];
    idbuf iid, rid;
    namebuf by;
    fmt_id(&iid, "inc_", in->id);
    struct hdr h = {.actor_type = "HUMAN", .entity_type = "INCIDENT", .entity_id = iid.s,
                    .incident_id = iid.s, .run_id = in->run ? fmt_id(&rid, "run_", in->run) : NULL};
    wb *bs = &g->bs, *as = &g->as;
    o_open(bs);
    o_open(as);
    int done = 0, closed = 0;
    if (in->state == INC_ACTIVE) {
        in->user = (uint8_t)pick_user(&g->r, t, 0);
        h.actor_id = user_id(&by, t, in->user);
        h.type = "IncidentAcknowledged";
        h.reason = gen_ack_notes[below(&g->r, gen_n_ack_notes)];
        FS(bs, "status", "ACTIVE");
        FS(as, "status", "ACKED");
        FS(as, "assignee", by.s);
        SL(g, "Incident acknowledged by ");
        SS(g, by.s);
        in->state = INC_ACKED;
        in->acked = g->now;
    } else {
        h.actor_id = user_id(&by, t, t->u[in->user].active ? in->user : pick_admin(&g->r, t));
        closed = chance(&g->r, 200);
        h.type = closed ? "IncidentManuallyClosed" : "IncidentResolved";
        h.reason = closed ? gen_close_notes[below(&g->r, gen_n_close_notes)]
                          : gen_resolve_notes[below(&g->r, gen_n_resolve_notes)];
        FS(bs, "status", "ACKED");
        FS(as, "status", closed ? "CLOSED" : "RESOLVED");
        SS(g, closed ? "Incident closed: " : "Incident resolved: ");
        SS(g, I->title);
        done = 1;
    }
    o_close(bs);
    o_close(as);
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "category", I->category);
    FS(w, "severity", sev_names[in->sev]);
    if (done) {
        FI(w, "time_to_resolve_ms", g->now - in->created);
        FI(w, "time_acked_ms", in->acked - in->created);
        FS(w, "resolution", closed ? "CLOSED" : "RESOLVED");
    } else {
        FI(w, "time_to_ack_ms", g->now - in->created);
        FS(w, "assignee", by.s);
    }
    ev_end(g);
    if (done)
        g->incs[idx] = g->incs[--g->nincs];
}

static void do_incident(struct gen *g, unsigned ti)
{
    if (g->nincs == 0 || (g->nincs < INCS && chance(&g->r, 380)))
        ev_incident_created(g, ti);
    else
        ev_incident_advance(g, below(&g->r, g->nincs));
}

/* ------------------------------------------------------------ policies */

static int rule_tmpl_active(const struct g_tenant *t, unsigned tmpl)
{
    for (unsigned i = 0; i < t->nr; i++)
        if (t->r[i].active && t->r[i].tmpl == tmpl)
            return 1;
    return 0;
}

static unsigned active_rules(const struct g_tenant *t)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->nr; i++)
        n += t->r[i].active;
    return n;
}

static int random_active_rule(xrng *r, const struct g_tenant *t)
{
    unsigned act[MAXR], n = 0;
    for (unsigned i = 0; i < t->nr; i++)
        if (t->r[i].active)
            act[n++] = i;
    return n ? (int)act[below(r, n)] : -1;
}

static int new_rule_slot(struct gen *g, struct g_tenant *t, unsigned tmpl)
{
    if (t->nr >= MAXR)
        return -1;
    struct g_rule *ru = &t->r[t->nr];
    memset(ru, 0, sizeof *ru);
    ru->id = next_id(g, ID_RULE);
    ru->tmpl = (uint8_t)tmpl;
    ru->active = 1;
    ru->version = 1;
    ru->threshold = gen_rules[tmpl].threshold;
    return t->nr++;
}

static void ev_rule_modified(struct gen *g, unsigned ti, unsigned ri, const struct g_prop *from)
{
    struct g_tenant *t = &g->t[ti];
    struct g_rule *ru = &t->r[ri];
    const struct gen_rule *R = &gen_rules[ru->tmpl];
    rule_body(&g->bs, t, ru, 1);
    struct g_rule old = *ru;
    ru->version++;
    if (from && from->threshold)
        ru->threshold = from->threshold;
    else if (R->threshold_key && chance(&g->r, 700))
        ru->threshold = ru->threshold * range(&g->r, 60, 140) / 100 + 1;
    else
        ru->warn_only = !ru->warn_only;
    rule_body(&g->as, t, ru, 1);
    idbuf rid, pid;
    namebuf by;
    fmt_id(&rid, "rule_", ru->id);
    SL(g, "Policy rule ");
    SS(g, R->name);
    if (old.warn_only != ru->warn_only) {
        SL(g, " switched to ");
        SS(g, ru->warn_only ? "WARN" : R->action);
    } else {
        SL(g, " threshold changed from ");
        put_i64(&g->s, old.threshold);
        SL(g, " to ");
        put_i64(&g->s, ru->threshold);
    }
    struct hdr h = {.type = "PolicyRuleModified", .entity_type = "POLICY_RULE", .entity_id = rid.s};
    if (from) {
        h.actor_type = "SYSTEM";
        h.actor_id = "svc:policy-service";
        h.reason = "Applied an approved proposal";
    } else {
        h.actor_type = chance(&g->r, 150) ? "AGENT" : "HUMAN";
        h.actor_id = h.actor_type[0] == 'A' ? "agent:policy-advisor" : user_id(&by, t, pick_admin(&g->r, t));
        h.reason = gen_proposal_reasons[below(&g->r, gen_n_proposal_reasons)];
    }
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "rule_name", R->name);
    FU(w, "version", ru->version);
    FU(w, "previous_version", old.version);
    if (from)
        FS(w, "proposal_id", fmt_id(&pid, "prop_", from->id));
    ev_end(g);
}

static void ev_rule_retired(struct gen *g, unsigned ti, unsigned ri, const struct g_prop *from)
{
    struct g_tenant *t = &g->t[ti];
    struct g_rule *ru = &t->r[ri];
    const struct gen_rule *R = &gen_rules[ru->tmpl];
    rule_body(&g->bs, t, ru, 1);
    ru->version++;
    ru->active = 0;
    rule_body(&g->as, t, ru, 0);
    idbuf rid, pid;
    namebuf by;
    fmt_id(&rid, "rule_", ru->id);
    SL(g, "Policy rule ");
    SS(g, R->name);
    SL(g, " retired");
    struct hdr h = {.type = "PolicyRuleRetired", .entity_type = "POLICY_RULE", .entity_id = rid.s};
    if (from) {
        h.actor_type = "SYSTEM";
        h.actor_id = "svc:policy-service";
        h.reason = "Applied an approved proposal";
    } else {
        h.actor_type = "HUMAN";
        h.actor_id = user_id(&by, t, pick_admin(&g->r, t));
        h.reason = gen_reject_reasons[below(&g->r, gen_n_reject_reasons)];
    }
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "rule_name", R->name);
    FU(w, "version", ru->version);
    FS(w, "status", "RETIRED");
    if (from)
        FS(w, "proposal_id", fmt_id(&pid, "prop_", from->id));
    ev_end(g);
}

static void ev_proposal_created(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    struct g_prop p;
    memset(&p, 0, sizeof p);
    p.t = ti;
    p.id = next_id(g, ID_PROP);
    p.reason = (uint8_t)below(&g->r, gen_n_proposal_reasons);
    int ri = random_active_rule(&g->r, t);
    uint32_t x = below(&g->r, 100);
    if (x < 40 || ri < 0 || (x >= 85 && active_rules(t) < 2)) {
        p.kind = 0;
        p.tmpl = (uint8_t)below(&g->r, gen_n_rules);
    } else if (x < 85) {
        p.kind = 1;
        p.rule = (uint8_t)ri;
        p.tmpl = t->r[ri].tmpl;
        if (gen_rules[p.tmpl].threshold_key)
            p.threshold = t->r[ri].threshold * range(&g->r, 50, 150) / 100 + 1;
    } else {
        p.kind = 2;
        p.rule = (uint8_t)ri;
        p.tmpl = t->r[ri].tmpl;
    }
    const struct g_inc *in = chance(&g->r, 500) ? open_incident_of(g, ti) : NULL;
    p.inc = in ? in->id : 0;
    const struct gen_rule *R = &gen_rules[p.tmpl];
    idbuf pid, iid, rid;
    namebuf by;
    fmt_id(&pid, "prop_", p.id);
    SL(g, "Proposal to ");
    SS(g, p.kind == 0 ? "add rule " : p.kind == 1 ? "change rule " : "retire rule ");
    SS(g, R->name);
    int agent = chance(&g->r, 300);
    struct hdr h = {.type = "PolicyProposalCreated", .actor_type = agent ? "AGENT" : "HUMAN",
                    .actor_id = agent ? "agent:policy-advisor" : user_id(&by, t, pick_user(&g->r, t, 0)),
                    .entity_type = "POLICY_PROPOSAL", .entity_id = pid.s,
                    .incident_id = p.inc ? fmt_id(&iid, "inc_", p.inc) : NULL,
                    .reason = gen_proposal_reasons[p.reason]};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "status", "DRAFT");
    FS(w, "change", p.kind == 0 ? "NEW_RULE" : p.kind == 1 ? "MODIFY_RULE" : "RETIRE_RULE");
    FS(w, "rule_name", R->name);
    if (p.kind)
        FS(w, "rule_id", fmt_id(&rid, "rule_", t->r[p.rule].id));
    if (p.threshold && R->threshold_key) {
        FS(w, "param", R->threshold_key);
        FI(w, "proposed_value", p.threshold);
    }
    if (p.inc)
        FS(w, "triggering_incident_id", iid.s);
    ev_end(g);
    if (g->nprops < PROPS)
        g->props[g->nprops++] = p;
}

static void ev_proposal_decided(struct gen *g, unsigned idx)
{
    struct g_prop p = g->props[idx];
    g->props[idx] = g->props[--g->nprops];
    struct g_tenant *t = &g->t[p.t];
    int ok = chance(&g->r, 700);
    idbuf pid;
    namebuf by;
    fmt_id(&pid, "prop_", p.id);
    o_open(&g->bs);
    FS(&g->bs, "status", "DRAFT");
    o_close(&g->bs);
    o_open(&g->as);
    FS(&g->as, "status", ok ? "APPROVED" : "REJECTED");
    o_close(&g->as);
    SS(g, ok ? "Proposal approved: " : "Proposal rejected: ");
    SS(g, gen_rules[p.tmpl].name);
    struct hdr h = {.type = ok ? "PolicyProposalApproved" : "PolicyProposalRejected",
                    .actor_type = "HUMAN", .actor_id = user_id(&by, t, pick_admin(&g->r, t)),
                    .entity_type = "POLICY_PROPOSAL", .entity_id = pid.s,
                    .reason = ok ? "Approved per review" : gen_reject_reasons[below(&g->r, gen_n_reject_reasons)]};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "rule_name", gen_rules[p.tmpl].name);
    FS(w, "change", p.kind == 0 ? "NEW_RULE" : p.kind == 1 ? "MODIFY_RULE" : "RETIRE_RULE");
    FS(w, "decided_by", by.s);
    ev_end(g);
    if (ok && g->napply < APPLY)
        g->apply[g->napply++] = p;
}

/* Applies an approved proposal; returns 0 if it no longer applies. */
static int apply_proposal(struct gen *g, const struct g_prop *p)
{
    struct g_tenant *t = &g->t[p->t];
    if (p->kind == 0) {
        if (rule_tmpl_active(t, p->tmpl))
            return 0;
        int ri = new_rule_slot(g, t, p->tmpl);
        if (ri < 0)
            return 0;
        ev_rule_created(g, p->t, (unsigned)ri, p);
        return 1;
    }
    if (!t->r[p->rule].active)
        return 0;
    if (p->kind == 1) {
        ev_rule_modified(g, p->t, p->rule, p);
        return 1;
    }
    if (active_rules(t) < 2)
        return 0;
    ev_rule_retired(g, p->t, p->rule, p);
    return 1;
}

static void ev_emergency(struct gen *g, unsigned ti, int on)
{
    struct g_tenant *t = &g->t[ti];
    namebuf by;
    unsigned reason = (ti + (unsigned)g->i) % gen_n_emergency_reasons;
    SS(g, on ? "Emergency override activated: " : "Emergency override deactivated");
    if (on)
        SS(g, gen_emergency_reasons[reason]);
    o_open(&g->bs);
    FS(&g->bs, "emergency_override", on ? "OFF" : "ON");
    o_close(&g->bs);
    o_open(&g->as);
    FS(&g->as, "emergency_override", on ? "ON" : "OFF");
    o_close(&g->as);
    struct hdr h = {.type = on ? "EmergencyOverrideActivated" : "EmergencyOverrideDeactivated",
                    .actor_type = "HUMAN", .actor_id = user_id(&by, t, pick_admin(&g->r, t)),
                    .entity_type = "TENANT", .entity_id = t->id,
                    .reason = on ? gen_emergency_reasons[reason] : "Normal operation restored"};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "scope", "tenant");
    KEY(w, "bypassed");
    a_open(w);
    ELEM_S(w, "policy_rules");
    ELEM_S(w, "limits");
    a_close(w);
    if (on)
        FT(g, w, "expires_at", g->now + 4 * HOUR_MS);
    FS(w, "approved_by", by.s);
    ev_end(g);
    t->emergency = (uint8_t)on;
}

static void do_policy(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    /* apply approved proposals first */
    while (g->napply) {
        struct g_prop p = g->apply[0];
        memmove(g->apply, g->apply + 1, --g->napply * sizeof g->apply[0]);
        if (apply_proposal(g, &p))
            return;
    }
    if (g->nemerg && g->now - g->emerg_at[0] >= HOUR_MS && chance(&g->r, 250)) {
        unsigned e = g->emerg[0];
        --g->nemerg;
        memmove(g->emerg, g->emerg + 1, g->nemerg * sizeof g->emerg[0]);
        memmove(g->emerg_at, g->emerg_at + 1, g->nemerg * sizeof g->emerg_at[0]);
        ev_emergency(g, e, 0);
        return;
    }
    uint32_t x = below(&g->r, 1000);
    if (x < 5 && g->nemerg < EMERG && !t->emergency) {
        g->emerg_at[g->nemerg] = g->now;
        g->emerg[g->nemerg++] = ti;
        ev_emergency(g, ti, 1);
        return;
    }
    if (x < 330 && g->nprops < PROPS) {
        ev_proposal_created(g, ti);
        return;
    }
    if (x < 650 && g->nprops) {
        ev_proposal_decided(g, below(&g->r, g->nprops));
        return;
    }
    if (x < 750) {
        unsigned tmpl = below(&g->r, gen_n_rules);
        if (!rule_tmpl_active(t, tmpl)) {
            int ri = new_rule_slot(g, t, tmpl);
            if (ri >= 0) {
                ev_rule_created(g, ti, (unsigned)ri, NULL);
                return;
            }
        }
    }
    if (x < 800 && active_rules(t) >= 2) {
        ev_rule_retired(g, ti, (unsigned)random_active_rule(&g->r, t), NULL);
        return;
    }
    ev_rule_modified(g, ti, (unsigned)random_active_rule(&g->r, t), NULL);
}

/* -------------------------------------------------------------- limits */

static void ev_limit_updated(struct gen *g, unsigned ti, unsigned li)
{
    struct g_tenant *t = &g->t[ti];
    struct g_limit *l = &t->l[li];
    int64_t old = l->max;
    limit_state(&g->bs, t, l, old);
    l->version++;
    l->max = limit_max(g, t, l, 1);
    limit_state(&g->as, t, l, l->max);
    idbuf lid, sid;
    namebuf by;
    fmt_id(&lid, "lim_", l->id);
    limit_summary(g, t, l, l->max);
    SL(g, " (was ");
    SM(g, old);
    SL(g, ")");
    struct hdr h = {.type = "LimitUpdated", .actor_type = "HUMAN",
                    .actor_id = user_id(&by, t, pick_admin(&g->r, t)), .entity_type = "LIMIT",
                    .entity_id = lid.s,
                    .api_key_id = l->scope == SC_KEY ? fmt_id(&sid, "key_", t->k[l->idx].id) : NULL,
                    .reason = l->max < old   ? "Cost review: budget tightened"
                              : l->max > old ? "Budget raised to match planned usage"
                                             : "Budget reviewed against the spend trend"};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FS(w, "category", "BUDGET");
    FS(w, "scope", scope_names[l->scope]);
    FS(w, "scope_id", scope_id_str(&sid, t, l));
    FS(w, "period", period_names[l->period]);
    FI(w, "max_cents", l->max);
    FI(w, "previous_max_cents", old);
    FU(w, "warn_pct", 80);
    FS(w, "currency", "USD");
    ev_end(g);
}

static void ev_limit_override(struct gen *g, unsigned ti, unsigned li, int grant)
{
    struct g_tenant *t = &g->t[ti];
    struct g_limit *l = &t->l[li];
    int64_t pk = l->period == P_DAILY ? g->now / DAY_MS : month_now(g);
    int64_t used = l->pkey == pk ? l->spend : 0;
    int64_t pstart = l->period == P_DAILY ? pk * DAY_MS : month_start(pk);
    idbuf lid, sid;
    namebuf by;
    fmt_id(&lid, "lim_", l->id);
    SS(g, grant ? "Override granted on " : "Override revoked on ");
    SS(g, l->period == P_DAILY ? "daily" : "monthly");
    SL(g, " budget for ");
    SS(g, scope_id_str(&sid, t, l));
    SL(g, ": ");
    SM(g, used);
    SL(g, " of ");
    SM(g, l->max);
    SL(g, " used");
    o_open(&g->bs);
    FB(&g->bs, "override_active", !grant);
    o_close(&g->bs);
    o_open(&g->as);
    FB(&g->as, "override_active", grant);
    o_close(&g->as);
    unsigned reason = below(&g->r, gen_n_override_reasons);
    struct hdr h = {.type = grant ? "LimitOverrideGranted" : "LimitOverrideRevoked",
                    .actor_type = "HUMAN", .actor_id = user_id(&by, t, pick_admin(&g->r, t)),
                    .entity_type = "LIMIT", .entity_id = lid.s,
                    .api_key_id = l->scope == SC_KEY ? fmt_id(&sid, "key_", t->k[l->idx].id) : NULL,
                    .reason = grant ? gen_override_reasons[reason] : "Override no longer needed"};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    FT(g, w, "period_start", pstart);
    FI(w, "used_cents", used);
    FI(w, "max_cents", l->max);
    FS(w, "scope", scope_names[l->scope]);
    FS(w, "scope_id", scope_id_str(&sid, t, l));
    if (grant) {
        FT(g, w, "expires_at", g->now + (int64_t)range(&g->r, 6, 72) * HOUR_MS);
        FI(w, "extra_cents", round2(l->max / 4));
    }
    ev_end(g);
    l->override = (uint8_t)grant;
}

static void do_limit(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    uint32_t x = below(&g->r, 100);
    if (x < 20) {
        for (unsigned i = 0; i < t->nl; i++)
            if (t->l[i].override) {
                ev_limit_override(g, ti, i, 0);
                return;
            }
    } else if (x < 38) {
        unsigned li = below(&g->r, t->nl);
        if (!t->l[li].override) {
            ev_limit_override(g, ti, li, 1);
            return;
        }
    } else if (x < 55 && t->nl < MAXL) {
        struct g_limit *l = &t->l[t->nl];
        memset(l, 0, sizeof *l);
        l->id = next_id(g, ID_LIM);
        if (chance(&g->r, 500)) {
            l->scope = SC_FEATURE;
            l->idx = (uint8_t)pick_feat(&g->r, t);
            l->period = (uint8_t)below(&g->r, 2);
        } else {
            l->scope = SC_KEY;
            l->idx = (uint8_t)pick_key(&g->r, t, t->nk);
            l->period = P_MONTHLY;
        }
        l->pkey = -1;
        t->nl++;
        ev_limit_created(g, ti, t->nl - 1u, 1);
        return;
    }
    ev_limit_updated(g, ti, below(&g->r, t->nl));
}

/* ---------------------------------------------------------------- keys */

static void ev_key_rotated(struct gen *g, unsigned ti, unsigned ki)
{
    struct g_tenant *t = &g->t[ti];
    struct g_key *k = &t->k[ki];
    char oldp[24];
    wb ow = {oldp, 0, 0, {0}};
    key_prefix(&ow, k);
    oldp[ow.len] = 0;
    k->prefix = rnd(&g->r);
    k->rotations++;
    idbuf kid;
    namebuf by;
    fmt_id(&kid, "key_", k->id);
    SL(g, "API key ");
    SS(g, gen_key_kinds[k->kind].name);
    SL(g, " rotated (");
    SS(g, oldp);
    SL(g, " -> ");
    key_prefix(&g->s, k);
    SL(g, ")");
    struct hdr h = {.type = "ApiKeyRotated", .actor_type = "HUMAN",
                    .actor_id = user_id(&by, t, pick_admin(&g->r, t)), .entity_type = "API_KEY",
                    .entity_id = kid.s, .api_key_id = kid.s, .reason = "Scheduled 30-day rotation"};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    KEY(w, "key_prefix");
    putch(w, '"');
    key_prefix(w, k);
    putch(w, '"');
    FS(w, "previous_key_prefix", oldp);
    FS(w, "name", gen_key_kinds[k->kind].name);
    FU(w, "rotation", k->rotations);
    FU(w, "grace_period_s", 3600);
    ev_end(g);
}

static void ev_key_revoked(struct gen *g, unsigned ti, unsigned ki)
{
    struct g_tenant *t = &g->t[ti];
    struct g_key *k = &t->k[ki];
    k->active = 0;
    idbuf kid;
    namebuf by;
    fmt_id(&kid, "key_", k->id);
    SL(g, "API key ");
    SS(g, gen_key_kinds[k->kind].name);
    SL(g, " (");
    key_prefix(&g->s, k);
    SL(g, ") revoked");
    static const char *const why[] = {"Key exposed in a public repository", "Service decommissioned",
                                      "Owner left the company", "Replaced by a scoped key"};
    struct hdr h = {.type = "ApiKeyRevoked", .actor_type = "HUMAN",
                    .actor_id = user_id(&by, t, pick_admin(&g->r, t)), .entity_type = "API_KEY",
                    .entity_id = kid.s, .api_key_id = kid.s, .reason = why[below(&g->r, 4)]};
    ev_begin(g, t, &h);
    wb *w = &g->w;
    KEY(w, "key_prefix");
    putch(w, '"');
    key_prefix(w, k);
    putch(w, '"');
    FS(w, "name", gen_key_kinds[k->kind].name);
    FI(w, "lifetime_spend_cents", t->kspend[ki]);
    ev_end(g);
}

static void do_key(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    uint32_t x = below(&g->r, 100);
    unsigned act = 0;
    for (unsigned i = 0; i < t->nk; i++)
        act += t->k[i].active;
    if (x < 20 && act >= 2) {
        unsigned ki = 1 + below(&g->r, t->nk - 1u);
        if (t->k[ki].active) {
            ev_key_revoked(g, ti, ki);
            return;
        }
    } else if (x < 45 && t->nk < MAXK) {
        struct g_key *k = &t->k[t->nk];
        memset(k, 0, sizeof *k);
        k->id = next_id(g, ID_KEY);
        k->prefix = rnd(&g->r);
        k->kind = (uint8_t)below(&g->r, gen_n_key_kinds);
        k->active = 1;
        t->nk++;
        ev_key_created(g, ti, t->nk - 1u);
        return;
    }
    unsigned ki = pick_key(&g->r, t, t->nk);
    ev_key_rotated(g, ti, ki);
}

/* ------------------------------------------------------------ accounts */

static int add_user(struct gen *g, struct g_tenant *t, unsigned role)
{
    if (t->nu >= MAXU)
        return -1;
    struct g_user *u = &t->u[t->nu];
    memset(u, 0, sizeof *u);
    u->first = (uint8_t)below(&g->r, gen_n_first_names);
    u->last = (uint8_t)below(&g->r, gen_n_last_names);
    for (unsigned i = 0; i < t->nu; i++)
        if (t->u[i].first == u->first && t->u[i].last == u->last && t->u[i].serial >= u->serial)
            u->serial = (uint8_t)(t->u[i].serial + 1);
    u->role = (uint8_t)role;
    u->active = 1;
    return t->nu++;
}

static void do_account(struct gen *g, unsigned ti)
{
    struct g_tenant *t = &g->t[ti];
    uint32_t x = below(&g->r, 100);
    unsigned act = 0;
    for (unsigned i = 0; i < t->nu; i++)
        act += t->u[i].active;
    if (x < 35) {
        int ui = add_user(g, t, 1 + below(&g->r, gen_n_roles - 1));
        if (ui >= 0) {
            ev_user_invited(g, ti, (unsigned)ui);
            return;
        }
    } else if (x < 50 && act >= 3) {
        unsigned ui = pick_user(&g->r, t, 1);
        t->u[ui].active = 0;
        namebuf who, by;
        user_id(&who, t, ui);
        SS(g, who.s);
        SL(g, " removed from the tenant");
        struct hdr h = {.type = "UserRemoved", .actor_type = "HUMAN",
                        .actor_id = user_id(&by, t, pick_admin(&g->r, t)), .entity_type = "USER",
                        .entity_id = who.s, .reason = "Left the team"};
        ev_begin(g, t, &h);
        FS(&g->w, "user_id", who.s);
        FS(&g->w, "role", gen_roles[t->u[ui].role]);
        FB(&g->w, "sessions_revoked", 1);
        ev_end(g);
        return;
    }
    unsigned ui = pick_user(&g->r, t, 1);
    unsigned old = t->u[ui].role;
    unsigned nr = 1 + below(&g->r, gen_n_roles - 1);
    if (nr == old)
        nr = 1 + nr % (gen_n_roles - 1);
    t->u[ui].role = (uint8_t)nr;
    namebuf who, by;
    user_id(&who, t, ui);
    SS(g, who.s);
    SL(g, " is now ");
    SS(g, gen_roles[nr]);
    o_open(&g->bs);
    FS(&g->bs, "role", gen_roles[old]);
    o_close(&g->bs);
    o_open(&g->as);
    FS(&g->as, "role", gen_roles[nr]);
    o_close(&g->as);
    struct hdr h = {.type = "UserRoleChanged", .actor_type = "HUMAN",
                    .actor_id = user_id(&by, t, pick_admin(&g->r, t)), .entity_type = "USER",
                    .entity_id = who.s};
    ev_begin(g, t, &h);
    FS(&g->w, "user_id", who.s);
    FS(&g->w, "role", gen_roles[nr]);
    FS(&g->w, "previous_role", gen_roles[old]);
    ev_end(g);
}

/* --------------------------------------------------------------- set-up */

static void tenant_init(struct gen *g, unsigned ti, unsigned rank, unsigned name, unsigned round)
{
    struct g_tenant *t = &g->t[ti];
    xrng *r = &g->r;
    const struct gen_name *N = &gen_tenant_names[name];
    wb w = {t->id, 0, 0, {0}};
    putstr(&w, N->id);
    if (round) {
        putch(&w, '-');
        put_u64(&w, round + 1);
    }
    t->id[w.len] = 0;
    wb d = {t->domain, 0, 0, {0}};
    putstr(&d, t->id);
    PUTL(&d, ".example");
    t->domain[d.len] = 0;
    t->display = N->display;
    t->weight = 1000000 / (rank + 1) + 20000;
    t->overspend = rank % 4 == 0;
    uint32_t c = below(r, 100);
    t->cost_pct = c < 65 ? range(r, 60, 140) : c < 90 ? range(r, 150, 300) : range(r, 350, 700);
    t->plan = (uint8_t)below(r, gen_n_plans);
    t->region = (uint8_t)below(r, gen_n_regions);
    /* people */
    t->nu0 = (uint8_t)range(r, 3, 7);
    add_user(g, t, 0);
    while (t->nu < t->nu0)
        add_user(g, t, 1 + below(r, gen_n_roles - 1));
    /* features */
    uint8_t pool[32];
    for (unsigned i = 0; i < gen_n_features; i++)
        pool[i] = (uint8_t)i;
    t->nf = (uint8_t)range(r, 3, MAXF);
    for (unsigned i = 0; i < t->nf; i++) {
        unsigned j = i + below(r, gen_n_features - i);
        uint8_t tmp = pool[i];
        pool[i] = pool[j];
        pool[j] = tmp;
        t->f[i].f = pool[i];
        t->f[i].weight = (uint16_t)(i == 0 ? range(r, 40, 100) : range(r, 5, 60));
        t->f[i].model = (uint8_t)(chance(r, 200) ? below(r, gen_n_models) : gen_features[pool[i]].model);
    }
    /* keys: production, usually a batch pipeline, maybe more */
    t->nk0 = (uint8_t)range(r, 2, 4);
    for (unsigned i = 0; i < t->nk0; i++) {
        struct g_key *k = &t->k[t->nk++];
        k->id = next_id(g, ID_KEY);
        k->prefix = rnd(r);
        k->active = 1;
        k->kind = (uint8_t)(i == 0 ? 0 : i == 1 && chance(r, 750) ? 1 : 2 + below(r, gen_n_key_kinds - 2));
    }
    /* limits: monthly tenant budget, maybe a daily feature and a monthly key budget */
    struct g_limit *l = &t->l[t->nl++];
    l->id = next_id(g, ID_LIM);
    l->scope = SC_TENANT;
    l->period = P_MONTHLY;
    l->pkey = -1;
    if (chance(r, 600)) {
        l = &t->l[t->nl++];
        l->id = next_id(g, ID_LIM);
        l->scope = SC_FEATURE;
        l->idx = 0;
        l->period = P_DAILY;
        l->pkey = -1;
    }
    if (chance(r, 450)) {
        l = &t->l[t->nl++];
        l->id = next_id(g, ID_LIM);
        l->scope = SC_KEY;
        l->idx = t->k[1].kind == 1 ? 1 : 0;
        l->period = P_MONTHLY;
        l->pkey = -1;
    }
    t->nl0 = t->nl;
    /* rules */
    t->nr0 = (uint8_t)range(r, 1, 3);
    while (t->nr < t->nr0) {
        unsigned tmpl = below(r, gen_n_rules);
        if (!rule_tmpl_active(t, tmpl))
            new_rule_slot(g, t, tmpl);
    }
    t->mkey = -1;
    /* a-priori cost estimate, from its own stream so it changes nothing else */
    xrng er;
    xseed(&er, mix64(g->seed ^ 0x5EED0E57u) + ti);
    for (unsigned s = 0; s < NSIM; s++) {
        unsigned fi = pick_feat(&er, t), ki = pick_key(&er, t, t->nk0);
        unsigned model = run_model(&er, t, fi);
        const struct gen_feature *F = &gen_features[t->f[fi].f];
        unsigned steps = range(&er, F->steps_min, F->steps_max);
        t->est_steps += steps;
        for (unsigned k = 0; k < steps; k++) {
            uint64_t in, out, cost;
            draw_tokens(&er, t, fi, ki, model, &in, &out, &cost);
            t->est_cost += cost;
            t->est_fcost[fi] += cost;
            t->est_kcost[ki] += cost;
        }
    }
}

static int gen_init(struct gen *g, FILE *out, uint64_t seed, uint64_t events, unsigned tenants,
                    unsigned days)
{
    memset(g, 0, sizeof *g);
    g->out = out;
    g->seed = seed;
    g->n = events;
    g->nt = tenants;
    g->onb = -1;
    g->day_cached = g->mday_cached = -1;
    g->w.p = malloc(OUT_CAP + OUT_SLACK);
    g->t = calloc(tenants, sizeof *g->t);
    g->cum = calloc(tenants, sizeof *g->cum);
    if (!g->w.p || !g->t || !g->cum)
        return ANNAL_ENOMEM;
    g->s.p = g->sbuf;
    g->bs.p = g->bsbuf;
    g->as.p = g->asbuf;
    xseed(&g->r, seed);
    for (int k = 0; k < ID_KINDS; k++)
        g->salt[k] = mix64(seed * 0x9E3779B97F4A7C15ull + (uint64_t)k * 0xD1B54A32D192ED03ull + 1);
    g->t0 = days_from_civil(2026, 10, 1) * DAY_MS;
    if (days) {
        g->span = (int64_t)days * DAY_MS;
    } else {
        /* 30 days x sqrt(N / 1M) = sqrt(N x 0.5184) hours, 1..90 days */
        uint64_t x = events > 10000000000ull ? 10000000000ull : events;
        x = x * 5184 / 10000;
        uint64_t h = 0;
        while ((h + 1) * (h + 1) <= x)
            h++;
        if (h > 1 && h < 4000) { /* refine to minutes for smooth spans */
            uint64_t mins = h * 60;
            while ((mins + 1) * (mins + 1) <= x * 3600)
                mins++;
            g->span = (int64_t)mins * 60000;
        } else {
            g->span = (int64_t)h * HOUR_MS;
        }
        if (g->span < DAY_MS)
            g->span = DAY_MS;
        if (g->span > 90 * DAY_MS)
            g->span = 90 * DAY_MS;
    }
    g->end = g->t0 + g->span;
    g->now = g->t0;
    /* tenants: activity ranks and names are permutations of the seed */
    unsigned *rank = malloc(tenants * sizeof *rank);
    if (!rank)
        return ANNAL_ENOMEM;
    for (unsigned i = 0; i < tenants; i++)
        rank[i] = i;
    for (unsigned i = tenants; i > 1; i--) {
        unsigned j = below(&g->r, i), tmp = rank[i - 1];
        rank[i - 1] = rank[j];
        rank[j] = tmp;
    }
    unsigned perm[64];
    for (unsigned i = 0; i < gen_n_tenant_names; i++)
        perm[i] = i;
    for (unsigned i = gen_n_tenant_names; i > 1; i--) {
        unsigned j = below(&g->r, i), tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
    /* tenant i is named after vocabulary entry perm[i % n], with a "-<k>"
     * suffix from the second round on */
    for (unsigned i = 0; i < tenants; i++)
        tenant_init(g, i, rank[i], perm[i % gen_n_tenant_names], i / gen_n_tenant_names);
    free(rank);
    /* expected runs per tenant over the span (x1000) */
    u128 wtot = 0, snum = 0;
    for (unsigned i = 0; i < tenants; i++) {
        wtot += g->t[i].weight;
        snum += (u128)g->t[i].weight * g->t[i].est_steps;
        g->cum[i] = (uint64_t)wtot;
    }
    u128 sden = wtot * NSIM;
    u128 runs_milli = (u128)events * W_RUN * sden / (2 * sden + snum);
    for (unsigned i = 0; i < tenants; i++)
        g->t[i].est_runs_milli = (uint64_t)(runs_milli * g->t[i].weight / wtot);
    /* sign-up pace: every tenant has signed up after ~5% of the events */
    uint64_t gap = events / 20 / tenants;
    g->gap = gap > 16 ? gap - 12 : 4;
    return ANNAL_OK;
}

static unsigned pick_tenant(struct gen *g)
{
    uint64_t x = below64(&g->r, g->cum[g->n_ready - 1]);
    unsigned lo = 0, hi = g->n_ready - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (x < g->cum[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Step multiplier by UTC hour, percent: quiet nights, busy EU/US days. */
static const uint16_t diurnal[24] = {170, 185, 190, 190, 180, 160, 130, 100, 80, 70, 65, 62,
                                     60,  58,  58,  60,  65,  72,  85,  100, 115, 130, 145, 160};

static void tick(struct gen *g)
{
    uint64_t left_ms = (uint64_t)(g->end - g->now);
    uint64_t left_ev = g->n - g->i;
    unsigned hour = (unsigned)(g->now % DAY_MS / HOUR_MS);
    uint64_t step = muldiv(left_ms, (uint64_t)below(&g->r, 2000) * diurnal[hour], (left_ev + 1) * 100000);
    if (step >= left_ms)
        step = left_ms / 2;
    g->now += (int64_t)step;
    if (g->now >= g->end)
        g->now = g->end - 1;
}

static void step(struct gen *g)
{
    tick(g);
    if (g->onb >= 0) {
        if (g->n_ready == 0 || below(&g->r, 2)) {
            onboard_step(g);
            return;
        }
    } else if (g->n_started < g->nt && (g->n_ready == 0 || below64(&g->r, g->gap) == 0)) {
        g->onb = (int)g->n_started++;
        onboard_step(g);
        return;
    }
    unsigned ti = pick_tenant(g);
    uint32_t x = below(&g->r, 1000);
    if (x < W_RUN)
        do_run(g, ti);
    else if ((x -= W_RUN) < W_SERVICE)
        do_service(g, ti);
    else if ((x -= W_SERVICE) < W_VIOLATION)
        do_violation(g, ti);
    else if ((x -= W_VIOLATION) < W_INCIDENT)
        do_incident(g, ti);
    else if ((x -= W_INCIDENT) < W_POLICY)
        do_policy(g, ti);
    else if ((x -= W_POLICY) < W_LIMIT)
        do_limit(g, ti);
    else if ((x -= W_LIMIT) < W_KEY)
        do_key(g, ti);
    else
        do_account(g, ti);
}

int annal_gen_write_days(FILE *out, uint64_t seed, uint64_t events, unsigned tenants, unsigned days)
{
    if (!out || tenants == 0 || tenants > ANNAL_GEN_MAX_TENANTS || days > ANNAL_GEN_MAX_DAYS ||
        events > ANNAL_GEN_MAX_EVENTS)
        return ANNAL_EINVAL;
    struct gen *g = malloc(sizeof *g);
    if (!g)
        return ANNAL_ENOMEM;
    int rc = gen_init(g, out, seed, events, tenants, days);
    while (rc == ANNAL_OK && g->i < g->n && !g->err) {
        uint64_t before = g->i;
        step(g);
        if (g->i != before + 1) { /* every step emits exactly one event */
            errno = EINVAL;
            rc = ANNAL_EINVAL;
        }
    }
    if (rc == ANNAL_OK) {
        flush(g);
        if (!g->err && fflush(out) != 0)
            g->err = ANNAL_EIO;
        rc = g->err;
    }
    free(g->w.p);
    free(g->t);
    free(g->cum);
    free(g);
    return rc;
}

int annal_gen_write(FILE *out, uint64_t seed, uint64_t events, unsigned tenants)
{
    return annal_gen_write_days(out, seed, events, tenants, 0);
}

/* ---------------------------------------------------------------- CLI */

static const char gen_usage[] =
    "usage: annal gen --seed S --events N [--tenants K] [--days D]\n"
    "\n"
    "Print N realistic client events as NDJSON on stdout, for `annal append`,\n"
    "POST /api/v1/events, benchmarks and demos. The same arguments always print\n"
    "the same bytes (own PRNG, no clock, no locale).\n"
    "\n"
    "  -s, --seed S      seed of the workload, a decimal or 0x-hex 64-bit number\n"
    "  -n, --events N    number of events (lines) to print, 0..1000000000000\n"
    "  -t, --tenants K   number of tenants, 1..10000 (default 20)\n"
    "  -d, --days D      time span in days, 1..3650 (default: 30 x sqrt(N / 1M),\n"
    "                    between 1 and 90 days)\n"
    "  -h, --help        print this help\n"
    "\n"
    "The story: the tenants sign up during the first ~5% of the events\n"
    "(TenantCreated, UserInvited, ApiKeyCreated, LimitCreated budgets,\n"
    "PolicyRuleCreated); then their work interleaves, from 2026-10-01T00:00:00Z on,\n"
    "busier in working hours. About 60% of the events are runs (RunStarted ->\n"
    "CostRecorded x1..6 with integer cost_cents -> RunCompleted or RunFailed),\n"
    "20% correlated service events (a provider event and its consumer events\n"
    "share a correlation_id, e.g. holmesgpt.response.complete ->\n"
    "aianalysis.analysis.completed), and 20% governance: PolicyViolationPrevented,\n"
    "incidents (MANUAL or POLICY_VIOLATION; acknowledged, then resolved or\n"
    "closed), policy proposals and rule changes, limit updates and overrides,\n"
    "API key rotation, rare emergency overrides, user changes. Activity is\n"
    "skewed: a few tenants, features and batch keys spend most. About a quarter\n"
    "of the tenants (always the busiest) get budgets below their spend, so\n"
    "annal's rule engine has breaches to find; the generator itself never\n"
    "emits LimitBreached, CostAnomalyDetected or budget incidents.\n"
    "\n"
    "Example: annal gen --seed 42 --events 1000000 | annal append --data-dir d\n";

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -1;
    uint64_t x = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return -1;
        if (x > (UINT64_MAX - d) / (unsigned)base)
            return -1;
        x = x * (unsigned)base + d;
    }
    if (x > max)
        return -1;
    *v = x;
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},  {"events", required_argument, NULL, 'n'},
        {"tenants", required_argument, NULL, 't'}, {"days", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    uint64_t seed = 0, events = 0, tenants = ANNAL_GEN_DEFAULT_TENANTS, days = 0;
    int have_seed = 0, have_events = 0, c;
    optind = 0; /* glibc: reinitialise; argv[0] is the subcommand name */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:n:t:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_u64(optarg, UINT64_MAX, &seed)) {
                fprintf(stderr, "annal gen: --seed '%s' is not a number: give a decimal or 0x-hex 64-bit integer\n", optarg);
                return 2;
            }
            have_seed = 1;
            break;
        case 'n':
            if (parse_u64(optarg, ANNAL_GEN_MAX_EVENTS, &events)) {
                fprintf(stderr, "annal gen: --events '%s' is invalid: give a whole number from 0 to %llu\n", optarg,
                        (unsigned long long)ANNAL_GEN_MAX_EVENTS);
                return 2;
            }
            have_events = 1;
            break;
        case 't':
            if (parse_u64(optarg, ANNAL_GEN_MAX_TENANTS, &tenants) || tenants == 0) {
                fprintf(stderr, "annal gen: --tenants '%s' is invalid: give a whole number from 1 to %d\n", optarg,
                        ANNAL_GEN_MAX_TENANTS);
                return 2;
            }
            break;
        case 'd':
            if (parse_u64(optarg, ANNAL_GEN_MAX_DAYS, &days) || days == 0) {
                fprintf(stderr, "annal gen: --days '%s' is invalid: give a whole number from 1 to %d\n", optarg,
                        ANNAL_GEN_MAX_DAYS);
                return 2;
            }
            break;
        case 'h':
            fputs(gen_usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "annal gen: option '%s' needs a value; see annal gen --help\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "annal gen: unknown option '%s'; see annal gen --help\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "annal gen: unexpected argument '%s'; options only, see annal gen --help\n", argv[optind]);
        return 2;
    }
    if (!have_seed || !have_events) {
        fprintf(stderr, "annal gen: %s is required, e.g. annal gen --seed 42 --events 100000\n",
                !have_seed ? "--seed S" : "--events N");
        return 2;
    }
    int rc = annal_gen_write_days(stdout, seed, events, (unsigned)tenants, (unsigned)days);
    if (rc != ANNAL_OK) {
        fprintf(stderr, "annal gen: writing the events failed: %s\n", annal_strerror(rc));
        return 2;
    }
    return 0;
}
