/* The views and rules of index/views.h (PRODUCT.md §3, §4) against
 * expectations computed by hand on short scripted event sequences.
 *
 * Each test drives the real parts: client events are parsed and appended to
 * a log (store/log.h) in a temporary directory, the index catches up, and
 * the derived events the rules leave pending (annal_index_pending) are
 * appended by the test, as the log's writer would, until nothing is pending.
 * The views are then read with the annal_view_* getters, the derived events
 * through the link and timeline reads and their records.
 *
 * Every event has a fixed occurred_at, so that periods, days and hours are
 * exact. The arithmetic behind each expectation is written next to it. */
#include "t.h"
#include "util.h"

#include "index/index.h"
#include "index/views.h"
#include "store/log.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>

static char *base; /* the test's temporary directory */

/* A failed expectation that does not stop the test (CHECKF stops it): the
 * test fails, and the next expectations still print what they got. */
#define EXPECT(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAIL %s (%s:%d): %s: ", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            t_cur_failed = 1;                                                       \
        }                                                                           \
    } while (0)

#define U(x) ((unsigned long long)(x))
#define L(x) ((long long)(x))

/* ---------------------------------------------------------------- times */

/* "2026-MM-DDTHH:MM:00Z" (a rotating static buffer). */
static const char *at(int month, int day, int hour, int min)
{
    static char buf[16][32];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof(buf[k]), "2026-%02d-%02dT%02d:%02d:00Z", month, day, hour, min);
    return buf[k];
}

static int64_t T(const char *s)
{
    int64_t ns = -1;
    if (annal_time_parse(s, strlen(s), &ns)) {
        fprintf(stderr, "bad time %s\n", s);
        exit(2);
    }
    return ns;
}

#define DAY_NS (86400LL * 1000000000LL)
static int64_t daynum(const char *s) { return T(s) / DAY_NS; }

/* ---------------------------------------------------------------- string lists */

typedef struct slist {
    char **v;
    size_t n, cap;
} slist;

static void sl_push(slist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n] = malloc(n + 1);
    memcpy(l->v[l->n], s, n);
    l->v[l->n][n] = 0;
    l->n++;
}

static void sl_free(slist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------- the store and its driver */

typedef struct vs {
    char dir[1024];
    annal_log *log;
    annal_index *ix;
    uint64_t last;    /* last seq of the log */
    uint64_t derived; /* derived events appended by vs_settle so far */
} vs;

static int vs_open_index(vs *s)
{
    char err[512];
    int rc = annal_index_open(s->dir, NULL, &s->ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal_index_open %s: %s\n", s->dir, err);
        s->ix = NULL;
        return -1;
    }
    return 0;
}

static int vs_open_log(vs *s)
{
    char err[512];
    if (annal_log_open(s->dir, NULL, &s->log, err, sizeof(err))) {
        fprintf(stderr, "annal_log_open %s: %s\n", s->dir, err);
        s->log = NULL;
        return -1;
    }
    annal_log_stats st;
    annal_log_stats_get(s->log, &st);
    s->last = st.durable_seq;
    return 0;
}

/* A new store (log and index) in base/name. */
static int vs_open(vs *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "%s/%s", base, name);
    if (vs_open_log(s))
        return -1;
    return vs_open_index(s);
}

static void vs_close(vs *s)
{
    annal_index_close(s->ix);
    s->ix = NULL;
    if (s->log && annal_log_close(s->log))
        fprintf(stderr, "annal_log_close failed\n");
    s->log = NULL;
}

/* Parse a client event and append it; returns its seq, 0 on failure. */
static uint64_t vs_append(vs *s, const char *json, size_t len)
{
    char *buf = malloc(len + 1);
    annal_event ev;
    annal_event_error e;
    uint64_t seq = 0;
    int rc = annal_event_parse(json, len, 0, buf, len + 1, &ev, &e);
    if (rc) {
        fprintf(stderr, "vs_append: invalid event %.*s: %s: %s\n", (int)len, json, e.field, e.reason);
    } else {
        annal_append_result res;
        if ((rc = annal_log_append(s->log, &ev, 1, &res)))
            fprintf(stderr, "vs_append: %s\n", annal_strerror(rc));
        else
            seq = s->last = res.last_seq;
    }
    free(buf);
    return seq;
}

static int vs_catch_up(vs *s)
{
    uint64_t applied = 0;
    int rc = annal_index_catch_up(s->ix, NULL, NULL, &applied);
    if (rc) {
        fprintf(stderr, "catch_up: %s\n", annal_index_strerror(rc));
        return -1;
    }
    if (applied != s->last) {
        fprintf(stderr, "catch_up: applied %llu, log at %llu\n", U(applied), U(s->last));
        return -1;
    }
    return 0;
}

static int collect(void *ctx, const char *json, size_t len)
{
    sl_push(ctx, json, len);
    return 0;
}

/* The pending derived events, in order (the index must be caught up). */
static int vs_pending(vs *s, slist *out)
{
    memset(out, 0, sizeof(*out));
    size_t count = (size_t)-1;
    int rc = annal_index_pending(s->ix, collect, out, &count);
    if (rc) {
        fprintf(stderr, "annal_index_pending: %s\n", annal_index_strerror(rc));
        return -1;
    }
    if (count != out->n) {
        fprintf(stderr, "annal_index_pending: count %zu, %zu passed\n", count, out->n);
        return -1;
    }
    return 0;
}

/* Catch up; append what is pending; repeat until nothing is. Returns the
 * number of derived events appended, or -1. */
static long vs_settle(vs *s)
{
    long total = 0;
    for (int round = 0; round < 16; round++) {
        if (vs_catch_up(s))
            return -1;
        slist p;
        if (vs_pending(s, &p))
            return -1;
        if (!p.n)
            return total;
        for (size_t i = 0; i < p.n; i++)
            if (!vs_append(s, p.v[i], strlen(p.v[i]))) {
                sl_free(&p);
                return -1;
            }
        total += (long)p.n;
        s->derived += p.n;
        sl_free(&p);
    }
    fprintf(stderr, "vs_settle: still pending after 16 rounds\n");
    return -1;
}

static const char *const ledger_types[] = {
    "PolicyRuleCreated", "PolicyRuleModified", "PolicyRuleRetired", "PolicyProposalApproved",
    "PolicyProposalRejected", "LimitCreated", "LimitUpdated", "LimitBreached",
    "LimitOverrideGranted", "LimitOverrideRevoked", "IncidentAcknowledged", "IncidentResolved",
    "IncidentManuallyClosed", "EmergencyOverrideActivated", "EmergencyOverrideDeactivated", NULL};

static const char *const top_keys[] = {"event_id", "actor_type", "actor_id", "entity_type", "entity_id",
                                       "run_id", "incident_id", "api_key_id", "correlation_id",
                                       "summary", "action_reason", NULL};

static int in_list(const char *const *l, const char *s, size_t n)
{
    for (; *l; l++)
        if (strlen(*l) == n && !memcmp(*l, s, n))
            return 1;
    return 0;
}

/* The JSON of a client event: tenant, type, occurred_at, and a spec of
 * space-separated k=v pairs. Envelope keys go to the top level, the others
 * into data; a value of digits is a number, true/false a literal, anything
 * else a string. Ledger types get actor HUMAN ops-1 unless the spec has one. */
static void build_json(char *out, size_t cap, const char *tenant, const char *type, const char *time,
                       const char *spec)
{
    char top[4096] = "", data[4096] = "";
    size_t nt = 0, nd = 0;
    int has_actor = 0;
    for (const char *p = spec; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ' ');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end) {
            fprintf(stderr, "bad spec %s\n", spec);
            exit(2);
        }
        size_t kn = (size_t)(eq - p), vn = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        int num = vn > 0;
        for (size_t i = 0; i < vn; i++)
            if (!isdigit((unsigned char)v[i]) && !(i == 0 && v[i] == '-' && vn > 1))
                num = 0;
        int lit = (vn == 4 && !memcmp(v, "true", 4)) || (vn == 5 && !memcmp(v, "false", 5));
        int istop = in_list(top_keys, p, kn);
        if (kn == 10 && !memcmp(p, "actor_type", 10))
            has_actor = 1;
        char *dst = istop ? top : data;
        size_t *n = istop ? &nt : &nd;
        *n += (size_t)snprintf(dst + *n, 4096 - *n, num || lit ? ",\"%.*s\":%.*s" : ",\"%.*s\":\"%.*s\"",
                               (int)kn, p, (int)vn, v);
        p = end;
    }
    if (!has_actor && in_list(ledger_types, type, strlen(type)))
        nt += (size_t)snprintf(top + nt, sizeof(top) - nt, ",\"actor_type\":\"HUMAN\",\"actor_id\":\"ops-1\"");
    snprintf(out, cap, "{\"tenant_id\":\"%s\",\"event_type\":\"%s\",\"occurred_at\":\"%s\"%s%s%s%s}", tenant,
             type, time, top, nd ? ",\"data\":{" : "", nd ? data + 1 : "", nd ? "}" : "");
}

/* Append one client event (and settle when asked); returns its seq, 0 on
 * failure. */
__attribute__((format(printf, 6, 7))) static uint64_t evx(vs *s, int settle, const char *tenant,
                                                          const char *type, const char *time,
                                                          const char *fmt, ...)
{
    char spec[2048], json[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spec, sizeof(spec), fmt, ap);
    va_end(ap);
    build_json(json, sizeof(json), tenant, type, time, spec);
    uint64_t seq = vs_append(s, json, strlen(json));
    if (!seq)
        return 0;
    if (settle ? vs_settle(s) < 0 : vs_catch_up(s) != 0)
        return 0;
    return seq;
}
#define EV(s, tenant, type, time, ...) evx(s, 1, tenant, type, time, __VA_ARGS__)

/* A raw client event, then settle. */
static uint64_t raw(vs *s, const char *json)
{
    uint64_t seq = vs_append(s, json, strlen(json));
    return seq && vs_settle(s) >= 0 ? seq : 0;
}

/* ---------------------------------------------------------------- reading records */

typedef struct hit {
    uint64_t seq;
    int64_t t;
    char *rec; /* NUL-terminated */
} hit;

typedef struct hits {
    hit h[128];
    size_t n;
} hits;

static void hits_free(hits *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->h[i].rec);
    h->n = 0;
}

static char *fetch(vs *s, const char *tenant, uint64_t seq)
{
    char *rec;
    size_t len;
    if (annal_index_event(s->ix, tenant, seq, &rec, &len))
        return NULL;
    char *r = malloc(len + 1);
    memcpy(r, rec, len);
    r[len] = 0;
    free(rec);
    return r;
}

/* The tenant's records of a type (NULL: all) whose bytes contain `must`
 * (NULL: any), in timeline order. Returns 0 or -1. */
static int find(vs *s, const char *tenant, const char *type, const char *must, hits *out)
{
    out->n = 0;
    annal_timeline_query q = {.tenant = tenant, .event_type = type, .limit = 1000};
    annal_index_page p;
    int rc = annal_index_timeline(s->ix, &q, &p);
    if (rc) {
        fprintf(stderr, "find: %s\n", annal_index_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < p.n; i++) {
        char *r = fetch(s, tenant, p.items[i].seq);
        if (!r) {
            annal_index_page_free(&p);
            return -1;
        }
        if ((must && !strstr(r, must)) || out->n == 128) {
            free(r);
            continue;
        }
        out->h[out->n++] = (hit){p.items[i].seq, p.items[i].time_ns, r};
    }
    annal_index_page_free(&p);
    return 0;
}

static long count(vs *s, const char *tenant, const char *type, const char *must)
{
    hits h;
    if (find(s, tenant, type, must, &h))
        return -1;
    long n = (long)h.n;
    hits_free(&h);
    return n;
}

/* The link lists, as arrays of seqs. */
typedef int (*link_fn)(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *);

static long link_seqs(vs *s, link_fn fn, const char *tenant, const char *id, uint64_t *out, size_t cap)
{
    annal_index_page p;
    if (fn(s->ix, tenant, id, 1000, NULL, &p))
        return -1;
    size_t n = p.n < cap ? p.n : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = p.items[i].seq;
    annal_index_page_free(&p);
    return (long)n;
}

/* "key":"val" somewhere in the record. */
static int has_kv(const char *rec, const char *key, const char *val)
{
    char pat[512];
    snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, val);
    return strstr(rec, pat) != NULL;
}

/* "key":n (and not a longer number) somewhere in the record. */
static int has_num(const char *rec, const char *key, long long n)
{
    char pat[256];
    int k = snprintf(pat, sizeof(pat), "\"%s\":%lld", key, n);
    for (const char *p = rec; (p = strstr(p, pat)); p++)
        if (!isdigit((unsigned char)p[k]))
            return 1;
    return 0;
}

/* The string value of the first "key":"..." of the record into out ("" if none). */
static const char *get_str(const char *rec, const char *key, char *out, size_t cap)
{
    char pat[256];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    out[0] = 0;
    const char *p = strstr(rec, pat);
    if (!p)
        return out;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    size_t n = e ? (size_t)(e - p) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

static int hex_run(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)p[i]))
            return 0;
    return 1;
}

/* What is wrong with a derived record (NULL: nothing): actor SYSTEM
 * annal-rules, data.caused_by_seq == cause (when cause != 0), event_id
 * "annal-" + 32 hex digits. */
static const char *derived_bad(const char *rec, uint64_t cause)
{
    char id[256];
    if (!has_kv(rec, "actor_type", "SYSTEM"))
        return "actor_type is not SYSTEM";
    if (!has_kv(rec, "actor_id", "annal-rules"))
        return "actor_id is not annal-rules";
    if (cause && !has_num(rec, "caused_by_seq", (long long)cause))
        return "caused_by_seq is not the triggering record's seq";
    get_str(rec, "event_id", id, sizeof(id));
    if (strlen(id) != 6 + 32 || strncmp(id, "annal-", 6) || !hex_run(id + 6, 32))
        return "event_id is not annal- + 32 hex digits";
    return NULL;
}
#define DERIVED_OK(rec, cause) EXPECT(!derived_bad(rec, cause), "%s: %s", derived_bad(rec, cause), rec)

/* ---------------------------------------------------------------- view callbacks */

typedef struct qitem {
    int kind;
    char id[ANNAL_ID_MAX + 1];
    uint64_t seq;
} qitem;

typedef struct qlist {
    qitem it[32];
    size_t n;
} qlist;

static int queue_cb(void *ctx, int kind, const char *id, size_t n, uint64_t seq)
{
    qlist *q = ctx;
    if (q->n < 32 && n <= ANNAL_ID_MAX) {
        q->it[q->n].kind = kind;
        memcpy(q->it[q->n].id, id, n);
        q->it[q->n].id[n] = 0;
        q->it[q->n].seq = seq;
    }
    q->n++;
    return 0;
}

static int queue_of(vs *s, const char *tenant, qlist *q)
{
    q->n = 0;
    return annal_view_queue(s->ix, tenant, queue_cb, q);
}

typedef struct idcents {
    char id[32][ANNAL_ID_MAX + 1];
    int64_t cents[32];
    size_t n;
} idcents;

static int runs_cb(void *ctx, const char *id, size_t n, int64_t cents)
{
    idcents *r = ctx;
    if (r->n < 32 && n <= ANNAL_ID_MAX) {
        memcpy(r->id[r->n], id, n);
        r->id[r->n][n] = 0;
        r->cents[r->n] = cents;
    }
    r->n++;
    return 0;
}

static int limits_cb(void *ctx, const char *id, size_t n, const annal_limit_view *l)
{
    idcents *r = ctx;
    if (r->n < 32 && n <= ANNAL_ID_MAX) {
        memcpy(r->id[r->n], id, n);
        r->id[r->n][n] = 0;
        r->cents[r->n] = l->max_cents;
    }
    r->n++;
    return 0;
}

/* Sums of cost facts by API key. */
typedef struct costsum {
    size_t facts;
    int64_t cents;
    char key[16][ANNAL_VIEW_STR_MAX + 1];
    int64_t key_cents[16];
    size_t nkeys;
    annal_cost_fact first, at[16];
} costsum;

static int cost_cb(void *ctx, const annal_cost_fact *f)
{
    costsum *c = ctx;
    if (c->facts < 16)
        c->at[c->facts] = *f;
    c->facts++;
    c->cents += f->cents;
    size_t k;
    for (k = 0; k < c->nkeys; k++)
        if (!strcmp(c->key[k], f->api_key.s))
            break;
    if (k == c->nkeys && k < 16) {
        snprintf(c->key[k], sizeof(c->key[k]), "%s", f->api_key.s);
        c->key_cents[k] = 0;
        c->nkeys++;
    }
    if (k < 16)
        c->key_cents[k] += f->cents;
    return 0;
}

static int64_t key_cents(const costsum *c, const char *key)
{
    for (size_t k = 0; k < c->nkeys; k++)
        if (!strcmp(c->key[k], key))
            return c->key_cents[k];
    return -1;
}

typedef struct hours {
    annal_usage_hour h[16];
    size_t n;
} hours;

static int usage_cb(void *ctx, const annal_usage_hour *h)
{
    hours *u = ctx;
    if (u->n < 16)
        u->h[u->n] = *h;
    u->n++;
    return 0;
}

typedef struct ledger {
    annal_ledger_entry e[32];
    size_t n;
} ledger;

static int ledger_cb(void *ctx, const annal_ledger_entry *e)
{
    ledger *l = ctx;
    if (l->n < 32)
        l->e[l->n] = *e;
    l->n++;
    return 0;
}

/* The spend of a limit at a time and its status. */
static int spend_at(vs *s, const char *tenant, const char *limit, const char *time, annal_limit_spend *sp,
                    int *status)
{
    annal_limit_view lv;
    int rc = annal_view_limit(s->ix, tenant, limit, &lv);
    if (rc)
        return rc;
    if ((rc = annal_view_limit_spend(s->ix, tenant, limit, T(time), sp)))
        return rc;
    *status = annal_limit_status_of(&lv, sp);
    return 0;
}

/* ---------------------------------------------------------------- budget rules */

static void budget_warning_then_breach_escalate_to_an_incident_and_a_proposal(void)
{
    vs s;
    CHECK(vs_open(&s, "budget") == 0);
    const char *t = "acme";
    /* seq 1 */
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0),
             "entity_id=lim-1 entity_type=LIMIT category=BUDGET scope=tenant scope_id=acme period=MONTHLY "
             "max_cents=1000 warn_pct=80") == 1);
    annal_limit_view lv;
    CHECK(annal_view_limit(s.ix, t, "lim-1", &lv) == ANNAL_OK);
    EXPECT(lv.period == ANNAL_PERIOD_MONTHLY && lv.warn_pct == 80 && lv.max_cents == 1000 && lv.created_seq == 1 &&
               !lv.override_active,
           "period %d warn %u max %lld created %llu override %d", lv.period, lv.warn_pct, L(lv.max_cents),
           U(lv.created_seq), lv.override_active);
    EXPECT(!strcmp(lv.category.s, "BUDGET") && !strcmp(lv.scope.s, "tenant") && !strcmp(lv.scope_id.s, "acme"),
           "category %s scope %s scope_id %s", lv.category.s, lv.scope.s, lv.scope_id.s);

    /* seq 2: 500 of 1000: 50000 < 80 * 1000 -> OK, nothing derived */
    uint64_t c1 = EV(&s, t, "CostRecorded", at(10, 2, 10, 0),
                     "run_id=r-1 api_key_id=k-1 model=gpt-4o feature_tag=search user_id=u-1 input_tokens=100 "
                     "output_tokens=50 cost_cents=500");
    CHECK(c1 == 2 && s.derived == 0);
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-1", at(10, 15, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 500 && sp.cost_records == 1 && sp.flags == 0 && st == ANNAL_LIMIT_OK &&
               sp.period_start_ns == T("2026-10-01T00:00:00Z"),
           "cents %lld records %llu flags %u status %d start %lld", L(sp.cents), U(sp.cost_records), sp.flags, st,
           L(sp.period_start_ns));

    /* seq 3: 800 = 80% -> NEAR_THRESHOLD, BUDGET_WARNING (seq 4) */
    uint64_t c2 = EV(&s, t, "CostRecorded", at(10, 3, 10, 0), "run_id=r-1 api_key_id=k-1 cost_cents=300");
    CHECKF(c2 == 3 && s.derived == 1 && s.last == 4, "c2 %llu derived %llu last %llu", U(c2), U(s.derived),
           U(s.last));
    CHECK(spend_at(&s, t, "lim-1", at(10, 3, 10, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 800 && sp.cost_records == 2 && sp.flags == ANNAL_SPEND_WARNED && sp.warn_seq == c2 &&
               sp.breach_seq == 0 && st == ANNAL_LIMIT_NEAR,
           "cents %lld flags %u warn_seq %llu status %d", L(sp.cents), sp.flags, U(sp.warn_seq), st);
    hits h;
    CHECK(find(&s, t, "CostAnomalyDetected", NULL, &h) == 0);
    CHECKF(h.n == 1 && h.h[0].seq == 4, "%zu anomalies", h.n);
    DERIVED_OK(h.h[0].rec, c2);
    EXPECT(has_kv(h.h[0].rec, "anomaly_type", "BUDGET_WARNING") && has_kv(h.h[0].rec, "severity", "MEDIUM") &&
               has_kv(h.h[0].rec, "limit_id", "lim-1"),
           "%s", h.h[0].rec);
    EXPECT(h.h[0].t == T(at(10, 3, 10, 0)), "occurred_at %lld", L(h.h[0].t));
    hits_free(&h);

    /* seq 5: 1050 > 1000 -> LimitBreached (6), CostAnomalyDetected
     * BUDGET_EXCEEDED (7), IncidentCreated (8); the HIGH incident ->
     * PolicyProposalCreated (9). */
    uint64_t c3 = EV(&s, t, "CostRecorded", at(10, 4, 10, 0), "run_id=r-2 api_key_id=k-2 cost_cents=250");
    CHECKF(c3 == 5 && s.derived == 5 && s.last == 9, "c3 %llu derived %llu last %llu", U(c3), U(s.derived),
           U(s.last));
    EXPECT(count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING") == 1, "a second warning");
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu LimitBreached", h.n);
    uint64_t breach_seq = h.h[0].seq;
    DERIVED_OK(h.h[0].rec, c3);
    EXPECT(has_kv(h.h[0].rec, "entity_id", "lim-1") && has_num(h.h[0].rec, "used_cents", 1050) &&
               has_num(h.h[0].rec, "max_cents", 1000),
           "%s", h.h[0].rec);
    hits_free(&h);
    CHECK(find(&s, t, "CostAnomalyDetected", "BUDGET_EXCEEDED", &h) == 0);
    CHECKF(h.n == 1, "%zu BUDGET_EXCEEDED", h.n);
    uint64_t anomaly_seq = h.h[0].seq;
    DERIVED_OK(h.h[0].rec, c3);
    char anomaly_inc[256];
    get_str(h.h[0].rec, "incident_id", anomaly_inc, sizeof(anomaly_inc));
    EXPECT(has_kv(h.h[0].rec, "severity", "HIGH") && has_kv(h.h[0].rec, "limit_id", "lim-1") && anomaly_inc[0],
           "%s", h.h[0].rec);
    hits_free(&h);
    CHECK(find(&s, t, "IncidentCreated", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu IncidentCreated", h.n);
    uint64_t inc_seq = h.h[0].seq;
    char inc[256];
    get_str(h.h[0].rec, "incident_id", inc, sizeof(inc));
    CHECK(inc[0]);
    DERIVED_OK(h.h[0].rec, c3);
    EXPECT(has_kv(h.h[0].rec, "category", "BUDGET_EXCEEDED") && has_kv(h.h[0].rec, "severity", "HIGH") &&
               has_kv(h.h[0].rec, "source", "COST_ANOMALY"),
           "%s", h.h[0].rec);
    EXPECT(!strcmp(anomaly_inc, inc), "the anomaly's incident_id %s, the incident %s", anomaly_inc, inc);
    EXPECT(h.h[0].t == T(at(10, 4, 10, 0)), "occurred_at %lld", L(h.h[0].t));
    hits_free(&h);
    /* in the order the rule emits them */
    EXPECT(breach_seq == 6 && anomaly_seq == 7 && inc_seq == 8, "LimitBreached %llu anomaly %llu incident %llu",
           U(breach_seq), U(anomaly_seq), U(inc_seq));
    CHECK(find(&s, t, "PolicyProposalCreated", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu proposals", h.n);
    char prop[256];
    get_str(h.h[0].rec, "entity_id", prop, sizeof(prop));
    DERIVED_OK(h.h[0].rec, inc_seq);
    EXPECT(has_kv(h.h[0].rec, "triggering_incident_id", inc), "%s", h.h[0].rec);
    /* views.h: "prop-" + 24 hex digits; INDEX.md: "prop-annal-" + 24 hex */
    EXPECT(!strncmp(prop, "prop-", 5) && (strlen(prop) == 5 + 24 || (strlen(prop) == 11 + 24 && !strncmp(prop + 5, "annal-", 6))) &&
               hex_run(prop + strlen(prop) - 24, 24),
           "entity_id %s", prop);
    EXPECT(h.h[0].seq == 9, "proposal at seq %llu", U(h.h[0].seq));
    hits_free(&h);

    /* The limit: 1050 of 1000 in October, BREACHED; November untouched. */
    CHECK(spend_at(&s, t, "lim-1", at(10, 31, 23, 59), &sp, &st) == 0);
    EXPECT(sp.cents == 1050 && sp.cost_records == 3 && sp.flags == (ANNAL_SPEND_WARNED | ANNAL_SPEND_ESCALATED) &&
               sp.warn_seq == c2 && sp.breach_seq == c3 && st == ANNAL_LIMIT_BREACHED &&
               sp.period_start_ns == T("2026-10-01T00:00:00Z"),
           "cents %lld records %llu flags %u warn %llu breach %llu status %d", L(sp.cents), U(sp.cost_records),
           sp.flags, U(sp.warn_seq), U(sp.breach_seq), st);
    CHECK(spend_at(&s, t, "lim-1", at(11, 1, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 0 && sp.flags == 0 && st == ANNAL_LIMIT_OK && sp.period_start_ns == T("2026-11-01T00:00:00Z"),
           "November: cents %lld flags %u status %d", L(sp.cents), sp.flags, st);
    EXPECT(annal_period_start(ANNAL_PERIOD_MONTHLY, T("2026-10-04T10:00:00Z")) == T("2026-10-01T00:00:00Z") &&
               annal_period_start(ANNAL_PERIOD_DAILY, T("2026-10-04T10:00:00Z")) == T("2026-10-04T00:00:00Z"),
           "annal_period_start");
    idcents lims = {0};
    CHECK(annal_view_limits(s.ix, t, limits_cb, &lims) == ANNAL_OK);
    EXPECT(lims.n == 1 && !strcmp(lims.id[0], "lim-1") && lims.cents[0] == 1000, "%zu limits", lims.n);

    /* The incident view. */
    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, t, inc, &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_ACTIVE && iv.severity == ANNAL_SEV_HIGH && iv.proposal_derived &&
               iv.created_seq == inc_seq && iv.created_ns == T(at(10, 4, 10, 0)) && iv.acked_seq == 0 &&
               iv.closed_seq == 0,
           "state %d severity %d proposal_derived %d created %llu", iv.state, iv.severity, iv.proposal_derived,
           U(iv.created_seq));
    EXPECT(!strcmp(iv.category.s, "BUDGET_EXCEEDED") && !strcmp(iv.source.s, "COST_ANOMALY"),
           "category %s source %s", iv.category.s, iv.source.s);
    EXPECT(!strcmp(iv.limit_id.s, "lim-1"), "limit_id %s (the incident should name its limit)", iv.limit_id.s);
    /* Its records: the BUDGET_EXCEEDED anomaly and the IncidentCreated (and
     * the proposal, if it carries the incident_id link too). */
    uint64_t seqs[16];
    long n = link_seqs(&s, annal_index_incident, t, inc, seqs, 16);
    EXPECT((n == 2 || (n == 3 && seqs[2] == 9)) && seqs[0] == anomaly_seq && seqs[1] == inc_seq,
           "%ld records of the incident", n);

    /* The proposal view. */
    annal_proposal_view pv;
    CHECK(annal_view_proposal(s.ix, t, prop, &pv) == ANNAL_OK);
    EXPECT(pv.status == ANNAL_PROP_DRAFT && pv.created_seq == 9 && !strcmp(pv.triggering_incident.s, inc) &&
               !strcmp(pv.actor_type.s, "SYSTEM") && pv.decided_seq == 0,
           "status %d created %llu triggering %s actor %s", pv.status, U(pv.created_seq), pv.triggering_incident.s,
           pv.actor_type.s);

    /* The decision queue: the incident, then the proposal. */
    qlist q;
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 2 && q.it[0].kind == 1 && !strcmp(q.it[0].id, inc) && q.it[0].seq == inc_seq &&
               q.it[1].kind == 2 && !strcmp(q.it[1].id, prop) && q.it[1].seq == 9,
           "queue of %zu", q.n);

    /* The tenant: 9 events (POLICIES 3, ANALYTICS 5, INCIDENTS 1). */
    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.events == 9 && tv.by_domain[ANNAL_DOMAIN_POLICIES] == 3 && tv.by_domain[ANNAL_DOMAIN_ANALYTICS] == 5 &&
               tv.by_domain[ANNAL_DOMAIN_INCIDENTS] == 1,
           "events %llu policies %llu analytics %llu incidents %llu", U(tv.events),
           U(tv.by_domain[ANNAL_DOMAIN_POLICIES]), U(tv.by_domain[ANNAL_DOMAIN_ANALYTICS]),
           U(tv.by_domain[ANNAL_DOMAIN_INCIDENTS]));
    EXPECT(tv.incidents_active[ANNAL_SEV_HIGH] == 1 && tv.incidents_total == 1 && tv.proposals_draft == 1 &&
               tv.proposals_total == 1 && tv.cost_cents == 1050 && !tv.emergency_override,
           "active HIGH %llu total %llu drafts %llu proposals %llu cost %lld", U(tv.incidents_active[ANNAL_SEV_HIGH]),
           U(tv.incidents_total), U(tv.proposals_draft), U(tv.proposals_total), L(tv.cost_cents));
    EXPECT(tv.first_ns == T(at(10, 1, 0, 0)) && tv.last_ns == T(at(10, 4, 10, 0)), "first %lld last %lld",
           L(tv.first_ns), L(tv.last_ns));

    /* Approving the proposal takes it off the queue. */
    uint64_t ap = EV(&s, t, "PolicyProposalApproved", at(10, 5, 9, 0), "entity_id=%s entity_type=POLICY_PROPOSAL", prop);
    CHECK(ap == 10 && s.derived == 5);
    CHECK(annal_view_proposal(s.ix, t, prop, &pv) == ANNAL_OK);
    EXPECT(pv.status == ANNAL_PROP_APPROVED && pv.decided_seq == ap && pv.decided_ns == T(at(10, 5, 9, 0)),
           "status %d decided %llu", pv.status, U(pv.decided_seq));
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 1 && q.it[0].kind == 1 && !strcmp(q.it[0].id, inc), "queue of %zu", q.n);
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.proposals_draft == 0 && tv.proposals_total == 1 && tv.events == 10, "drafts %llu events %llu",
           U(tv.proposals_draft), U(tv.events));

    /* The audit ledger: LimitCreated (HUMAN), LimitBreached (SYSTEM),
     * PolicyProposalApproved (HUMAN); not the proposal's creation. */
    ledger lg = {0};
    CHECK(annal_view_ledger(s.ix, t, 0, 0, ledger_cb, &lg) == ANNAL_OK);
    EXPECT(lg.n == 3, "%zu ledger entries", lg.n);
    if (lg.n == 3) {
        EXPECT(lg.e[0].seq == 1 && lg.e[0].event_type == ANNAL_EV_LIMIT_CREATED &&
                   !strcmp(lg.e[0].actor_type.s, "HUMAN") && !strcmp(lg.e[0].entity_type.s, "LIMIT"),
               "entry 0: seq %llu type %d actor %s", U(lg.e[0].seq), lg.e[0].event_type, lg.e[0].actor_type.s);
        EXPECT(lg.e[1].seq == breach_seq && lg.e[1].event_type == ANNAL_EV_LIMIT_BREACHED &&
                   !strcmp(lg.e[1].actor_type.s, "SYSTEM") && lg.e[1].time_ns == T(at(10, 4, 10, 0)),
               "entry 1: seq %llu type %d actor %s", U(lg.e[1].seq), lg.e[1].event_type, lg.e[1].actor_type.s);
        EXPECT(lg.e[2].seq == ap && lg.e[2].event_type == ANNAL_EV_POLICY_PROPOSAL_APPROVED, "entry 2: seq %llu",
               U(lg.e[2].seq));
    }
    lg.n = 0;
    CHECK(annal_view_ledger(s.ix, t, T(at(10, 2, 0, 0)), T(at(10, 5, 0, 0)), ledger_cb, &lg) == ANNAL_OK);
    EXPECT(lg.n == 1 && lg.e[0].seq == breach_seq, "%zu ledger entries in [10-02, 10-05)", lg.n);

    /* More spend in the period: no second breach, warning or incident. */
    CHECK(EV(&s, t, "CostRecorded", at(10, 6, 10, 0), "run_id=r-3 cost_cents=100") == 11);
    EXPECT(s.derived == 5 && s.last == 11, "derived %llu", U(s.derived));
    CHECK(spend_at(&s, t, "lim-1", at(10, 6, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1150 && sp.breach_seq == c3 && st == ANNAL_LIMIT_BREACHED, "cents %lld", L(sp.cents));
    vs_close(&s);
}

static void a_breach_under_a_limit_override_escalates_only_after_the_revocation(void)
{
    vs s;
    CHECK(vs_open(&s, "override") == 0);
    const char *t = "ovr";
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-o category=BUDGET scope=tenant period=MONTHLY max_cents=1000 warn_pct=80") == 1);
    CHECK(EV(&s, t, "LimitOverrideGranted", at(10, 1, 1, 0), "entity_id=lim-o") == 2);
    annal_limit_view lv;
    CHECK(annal_view_limit(s.ix, t, "lim-o", &lv) == ANNAL_OK);
    EXPECT(lv.override_active && lv.override_seq == 2, "override %d seq %llu", lv.override_active, U(lv.override_seq));
    /* 850: the warning still fires under an override (seq 4) */
    uint64_t c1 = EV(&s, t, "CostRecorded", at(10, 2, 10, 0), "run_id=r-1 cost_cents=850");
    CHECK(c1 == 3);
    EXPECT(s.derived == 1 && count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING") == 1, "derived %llu",
           U(s.derived));
    /* 1050 > 1000 under the override: nothing appended, SUPPRESSED */
    uint64_t c2 = EV(&s, t, "CostRecorded", at(10, 3, 10, 0), "run_id=r-1 cost_cents=200");
    CHECK(c2 == 5);
    EXPECT(s.derived == 1, "derived %llu after a breach under an override", U(s.derived));
    EXPECT(count(&s, t, "LimitBreached", NULL) == 0 && count(&s, t, "IncidentCreated", NULL) == 0 &&
               count(&s, t, "CostAnomalyDetected", "BUDGET_EXCEEDED") == 0,
           "escalated under an override");
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-o", at(10, 3, 10, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1050 && (sp.flags & ANNAL_SPEND_SUPPRESSED) && !(sp.flags & ANNAL_SPEND_ESCALATED) &&
               (sp.flags & ANNAL_SPEND_WARNED) && st == ANNAL_LIMIT_BREACHED,
           "cents %lld flags %u status %d", L(sp.cents), sp.flags, st);
    /* still under the override */
    CHECK(EV(&s, t, "CostRecorded", at(10, 3, 12, 0), "run_id=r-1 cost_cents=100") == 6);
    EXPECT(s.derived == 1, "derived %llu", U(s.derived));
    /* the revocation itself appends nothing */
    CHECK(EV(&s, t, "LimitOverrideRevoked", at(10, 4, 0, 0), "entity_id=lim-o") == 7);
    EXPECT(s.derived == 1, "derived %llu after the revocation", U(s.derived));
    CHECK(annal_view_limit(s.ix, t, "lim-o", &lv) == ANNAL_OK);
    EXPECT(!lv.override_active && lv.override_seq == 7, "override %d seq %llu", lv.override_active,
           U(lv.override_seq));
    /* the next CostRecorded of the period escalates: 1160 */
    uint64_t c4 = EV(&s, t, "CostRecorded", at(10, 5, 10, 0), "run_id=r-2 cost_cents=10");
    CHECK(c4 == 8);
    EXPECT(s.derived == 5, "derived %llu (warning + 3 + proposal)", U(s.derived));
    hits h;
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu LimitBreached", h.n);
    DERIVED_OK(h.h[0].rec, c4);
    EXPECT(has_num(h.h[0].rec, "used_cents", 1160) && has_kv(h.h[0].rec, "entity_id", "lim-o"), "%s", h.h[0].rec);
    hits_free(&h);
    CHECK(find(&s, t, "IncidentCreated", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu IncidentCreated", h.n);
    DERIVED_OK(h.h[0].rec, c4);
    EXPECT(has_kv(h.h[0].rec, "source", "COST_ANOMALY") && has_kv(h.h[0].rec, "severity", "HIGH"), "%s",
           h.h[0].rec);
    hits_free(&h);
    EXPECT(count(&s, t, "CostAnomalyDetected", "BUDGET_EXCEEDED") == 1 && count(&s, t, "PolicyProposalCreated", NULL) == 1,
           "anomaly or proposal missing");
    CHECK(spend_at(&s, t, "lim-o", at(10, 5, 10, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1160 && (sp.flags & ANNAL_SPEND_ESCALATED) && sp.breach_seq == c4, "flags %u breach %llu",
           sp.flags, U(sp.breach_seq));
    /* and only once */
    CHECK(EV(&s, t, "CostRecorded", at(10, 6, 10, 0), "run_id=r-2 cost_cents=10"));
    EXPECT(s.derived == 5, "derived %llu", U(s.derived));
    vs_close(&s);
}

static void a_breach_under_the_emergency_override_escalates_after_its_deactivation(void)
{
    vs s;
    CHECK(vs_open(&s, "emergency") == 0);
    const char *t = "emg";
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-e category=BUDGET max_cents=1000 warn_pct=80") == 1);
    CHECK(EV(&s, t, "EmergencyOverrideActivated", at(10, 1, 1, 0), "summary=incident-war-room") == 2);
    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.emergency_override == 1, "emergency_override %d", tv.emergency_override);
    CHECK(EV(&s, t, "CostRecorded", at(10, 2, 10, 0), "cost_cents=900") == 3); /* warning: seq 4 */
    uint64_t c2 = EV(&s, t, "CostRecorded", at(10, 3, 10, 0), "cost_cents=200"); /* 1100: suppressed */
    CHECK(c2 == 5);
    EXPECT(s.derived == 1 && count(&s, t, "LimitBreached", NULL) == 0 && count(&s, t, "IncidentCreated", NULL) == 0,
           "derived %llu under the emergency override", U(s.derived));
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-e", at(10, 3, 10, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1100 && (sp.flags & ANNAL_SPEND_SUPPRESSED) && !(sp.flags & ANNAL_SPEND_ESCALATED) &&
               st == ANNAL_LIMIT_BREACHED,
           "cents %lld flags %u", L(sp.cents), sp.flags);
    annal_limit_view lv;
    CHECK(annal_view_limit(s.ix, t, "lim-e", &lv) == ANNAL_OK);
    EXPECT(!lv.override_active, "the limit's own override is not active");
    CHECK(EV(&s, t, "EmergencyOverrideDeactivated", at(10, 4, 0, 0), "summary=over") == 6);
    EXPECT(s.derived == 1, "derived %llu after the deactivation", U(s.derived));
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.emergency_override == 0, "emergency_override %d", tv.emergency_override);
    uint64_t c3 = EV(&s, t, "CostRecorded", at(10, 5, 10, 0), "cost_cents=1"); /* 1101: escalates */
    CHECK(c3 == 7);
    EXPECT(s.derived == 5, "derived %llu", U(s.derived));
    hits h;
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu LimitBreached", h.n);
    DERIVED_OK(h.h[0].rec, c3);
    EXPECT(has_num(h.h[0].rec, "used_cents", 1101), "%s", h.h[0].rec);
    hits_free(&h);
    EXPECT(count(&s, t, "IncidentCreated", "COST_ANOMALY") == 1 && count(&s, t, "PolicyProposalCreated", NULL) == 1,
           "incident or proposal missing");
    vs_close(&s);
}

static void a_second_breach_in_the_period_adds_nothing_and_the_next_month_escalates_again(void)
{
    vs s;
    CHECK(vs_open(&s, "rebreach") == 0);
    const char *t = "rep";
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-1 category=BUDGET period=MONTHLY max_cents=1000") == 1);
    CHECK(EV(&s, t, "CostRecorded", at(10, 2, 10, 0), "cost_cents=900") == 2);    /* warn: 3 */
    uint64_t b1 = EV(&s, t, "CostRecorded", at(10, 3, 10, 0), "cost_cents=200"); /* 1100: 5..7, proposal 8 */
    CHECK(b1 == 4 && s.derived == 5);
    CHECK(EV(&s, t, "CostRecorded", at(10, 4, 10, 0), "cost_cents=300") == 9); /* 1400: nothing */
    CHECK(EV(&s, t, "CostRecorded", at(10, 30, 10, 0), "cost_cents=1000") == 10); /* 2400: nothing */
    EXPECT(s.derived == 5, "derived %llu after more breaching spend in October", U(s.derived));
    EXPECT(count(&s, t, "LimitBreached", NULL) == 1 && count(&s, t, "IncidentCreated", NULL) == 1, "second breach");
    /* November: 900 warns again, 1100 breaches again: a new incident */
    uint64_t w2 = EV(&s, t, "CostRecorded", at(11, 2, 10, 0), "cost_cents=900");
    CHECK(w2 == 11 && s.derived == 6);
    uint64_t b2 = EV(&s, t, "CostRecorded", at(11, 3, 10, 0), "cost_cents=200");
    CHECK(b2 == 13 && s.derived == 10);
    hits h;
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    CHECKF(h.n == 2, "%zu LimitBreached", h.n);
    DERIVED_OK(h.h[0].rec, b1);
    DERIVED_OK(h.h[1].rec, b2);
    EXPECT(has_num(h.h[0].rec, "used_cents", 1100) && has_num(h.h[1].rec, "used_cents", 1100), "%s / %s",
           h.h[0].rec, h.h[1].rec);
    char e1[256], e2[256];
    get_str(h.h[0].rec, "event_id", e1, sizeof(e1));
    get_str(h.h[1].rec, "event_id", e2, sizeof(e2));
    EXPECT(strcmp(e1, e2) != 0, "the two breaches have the same event_id %s", e1);
    hits_free(&h);
    CHECK(find(&s, t, "IncidentCreated", NULL, &h) == 0);
    CHECKF(h.n == 2, "%zu IncidentCreated", h.n);
    char i1[256], i2[256];
    get_str(h.h[0].rec, "incident_id", i1, sizeof(i1));
    get_str(h.h[1].rec, "incident_id", i2, sizeof(i2));
    EXPECT(i1[0] && i2[0] && strcmp(i1, i2) != 0, "incident ids %s %s", i1, i2);
    DERIVED_OK(h.h[1].rec, b2);
    hits_free(&h);
    EXPECT(count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING") == 2 &&
               count(&s, t, "CostAnomalyDetected", "BUDGET_EXCEEDED") == 2 &&
               count(&s, t, "PolicyProposalCreated", NULL) == 2,
           "warnings, anomalies or proposals");
    /* no spike or drift: see the day rules below (no baseline) */
    EXPECT(count(&s, t, "CostAnomalyDetected", NULL) == 4, "%ld anomalies", count(&s, t, "CostAnomalyDetected", NULL));
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-1", at(10, 15, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 2400 && sp.cost_records == 4 && sp.breach_seq == b1 && st == ANNAL_LIMIT_BREACHED,
           "October: cents %lld breach %llu", L(sp.cents), U(sp.breach_seq));
    CHECK(spend_at(&s, t, "lim-1", at(11, 15, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1100 && sp.cost_records == 2 && sp.warn_seq == w2 && sp.breach_seq == b2 &&
               sp.flags == (ANNAL_SPEND_WARNED | ANNAL_SPEND_ESCALATED) && st == ANNAL_LIMIT_BREACHED &&
               sp.period_start_ns == T("2026-11-01T00:00:00Z"),
           "November: cents %lld flags %u warn %llu breach %llu", L(sp.cents), sp.flags, U(sp.warn_seq),
           U(sp.breach_seq));
    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.incidents_active[ANNAL_SEV_HIGH] == 2 && tv.proposals_draft == 2, "active %llu drafts %llu",
           U(tv.incidents_active[ANNAL_SEV_HIGH]), U(tv.proposals_draft));

    /* Late costs go to the period of their time: a late October cost adds
     * to October (escalated already: nothing); a late September one of 1500
     * warns and escalates September (the limit was created before it in the
     * log). */
    CHECK(EV(&s, t, "CostRecorded", at(10, 20, 10, 0), "cost_cents=10") == 18);
    EXPECT(s.derived == 10, "derived %llu after a late October cost", U(s.derived));
    CHECK(spend_at(&s, t, "lim-1", at(10, 1, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 2410 && sp.breach_seq == b1, "October: cents %lld", L(sp.cents));
    uint64_t b3 = EV(&s, t, "CostRecorded", at(9, 15, 10, 0), "cost_cents=1500");
    CHECK(b3 == 19);
    EXPECT(s.derived == 15, "derived %llu after a late September cost", U(s.derived));
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    /* the warning is seq 20, LimitBreached 21 */
    EXPECT(h.n == 3 && h.h[0].seq == 21 && h.h[0].t == T(at(9, 15, 10, 0)), "%zu LimitBreached, first at %llu", h.n,
           U(h.h[0].seq));
    if (h.n == 3) {
        DERIVED_OK(h.h[0].rec, b3);
        EXPECT(has_num(h.h[0].rec, "used_cents", 1500) && strstr(h.h[0].rec, "\"period_start\":\"2026-09-01T00:00:00"),
               "%s", h.h[0].rec);
    }
    hits_free(&h);
    CHECK(spend_at(&s, t, "lim-1", at(9, 30, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1500 && sp.breach_seq == b3 && sp.warn_seq == b3 && st == ANNAL_LIMIT_BREACHED &&
               sp.period_start_ns == T("2026-09-01T00:00:00Z"),
           "September: cents %lld breach %llu", L(sp.cents), U(sp.breach_seq));
    EXPECT(count(&s, t, "IncidentCreated", NULL) == 3 && count(&s, t, "PolicyProposalCreated", NULL) == 3,
           "September's incident and proposal");
    vs_close(&s);
}

static void a_daily_limit_escalates_once_per_day(void)
{
    vs s;
    CHECK(vs_open(&s, "daily") == 0);
    const char *t = "day";
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-dd period=DAILY max_cents=100 warn_pct=90") == 1);
    /* 10-01: 90 = 90% warns (seq 3), 110 breaches (5..7, proposal 8), 150 nothing */
    uint64_t w1 = EV(&s, t, "CostRecorded", at(10, 1, 8, 0), "cost_cents=90");
    CHECK(w1 == 2 && s.derived == 1);
    uint64_t b1 = EV(&s, t, "CostRecorded", at(10, 1, 9, 0), "cost_cents=20");
    CHECK(b1 == 4 && s.derived == 5);
    CHECK(EV(&s, t, "CostRecorded", at(10, 1, 23, 59), "cost_cents=40") == 9);
    EXPECT(s.derived == 5, "derived %llu", U(s.derived));
    /* 10-02: 89 of 100 is below 90%: nothing; then 101: warns and breaches */
    CHECK(EV(&s, t, "CostRecorded", at(10, 2, 0, 0), "cost_cents=89") == 10);
    EXPECT(s.derived == 5, "derived %llu after 89 of 100", U(s.derived));
    uint64_t b2 = EV(&s, t, "CostRecorded", at(10, 2, 1, 0), "cost_cents=12");
    CHECK(b2 == 11);
    EXPECT(s.derived == 10, "derived %llu", U(s.derived));
    hits h;
    CHECK(find(&s, t, "LimitBreached", NULL, &h) == 0);
    CHECKF(h.n == 2, "%zu LimitBreached", h.n);
    DERIVED_OK(h.h[0].rec, b1);
    DERIVED_OK(h.h[1].rec, b2);
    EXPECT(has_num(h.h[0].rec, "used_cents", 110) && has_num(h.h[1].rec, "used_cents", 101), "%s / %s", h.h[0].rec,
           h.h[1].rec);
    hits_free(&h);
    EXPECT(count(&s, t, "IncidentCreated", NULL) == 2 && count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING") == 2,
           "incidents or warnings");
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-dd", at(10, 1, 12, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 150 && sp.period_start_ns == T(at(10, 1, 0, 0)) && sp.warn_seq == w1 && sp.breach_seq == b1 &&
               st == ANNAL_LIMIT_BREACHED,
           "10-01: cents %lld", L(sp.cents));
    CHECK(spend_at(&s, t, "lim-dd", at(10, 2, 12, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 101 && sp.period_start_ns == T(at(10, 2, 0, 0)) && sp.warn_seq == b2 && sp.breach_seq == b2,
           "10-02: cents %lld warn %llu", L(sp.cents), U(sp.warn_seq));
    CHECK(spend_at(&s, t, "lim-dd", at(10, 3, 12, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 0 && sp.flags == 0 && st == ANNAL_LIMIT_OK, "10-03: cents %lld", L(sp.cents));
    /* 10-03: exactly max_cents is NEAR_THRESHOLD, not a breach; one more cent is */
    uint64_t w3 = EV(&s, t, "CostRecorded", at(10, 3, 1, 0), "cost_cents=100");
    CHECK(w3 == 17);
    EXPECT(s.derived == 11 && count(&s, t, "LimitBreached", NULL) == 2, "derived %llu at exactly the max", U(s.derived));
    CHECK(spend_at(&s, t, "lim-dd", at(10, 3, 12, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 100 && sp.flags == ANNAL_SPEND_WARNED && st == ANNAL_LIMIT_NEAR, "10-03: flags %u status %d",
           sp.flags, st);
    uint64_t b3 = EV(&s, t, "CostRecorded", at(10, 3, 2, 0), "cost_cents=1");
    CHECK(b3 == 19);
    EXPECT(s.derived == 15 && count(&s, t, "LimitBreached", NULL) == 3, "derived %llu after 101", U(s.derived));
    vs_close(&s);
}

static void one_cost_that_crosses_both_thresholds_warns_and_escalates(void)
{
    /* 0 -> 1200 of 1000: it reaches warn_pct for the first time in the
     * period (rule 1) and exceeds max_cents for the first time (rule 2). */
    vs s;
    CHECK(vs_open(&s, "jump") == 0);
    const char *t = "jmp";
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-j max_cents=1000") == 1);
    uint64_t c = EV(&s, t, "CostRecorded", at(10, 2, 0, 0), "cost_cents=1200");
    CHECK(c == 2);
    EXPECT(count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING") == 1, "warnings: %ld",
           count(&s, t, "CostAnomalyDetected", "BUDGET_WARNING"));
    EXPECT(count(&s, t, "LimitBreached", NULL) == 1 && count(&s, t, "IncidentCreated", NULL) == 1 &&
               count(&s, t, "CostAnomalyDetected", "BUDGET_EXCEEDED") == 1 &&
               count(&s, t, "PolicyProposalCreated", NULL) == 1,
           "escalation");
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, "lim-j", at(10, 2, 0, 0), &sp, &st) == 0);
    EXPECT(sp.flags == (ANNAL_SPEND_WARNED | ANNAL_SPEND_ESCALATED) && sp.warn_seq == c && sp.breach_seq == c,
           "flags %u warn %llu breach %llu", sp.flags, U(sp.warn_seq), U(sp.breach_seq));
    vs_close(&s);
}

static void limits_add_only_costs_in_their_scope_and_after_their_creation(void)
{
    vs s;
    CHECK(vs_open(&s, "scope") == 0);
    const char *t = "scp";
    /* before any limit: counted by none */
    CHECK(EV(&s, t, "CostRecorded", at(10, 1, 0, 0), "api_key_id=k-9 feature_tag=search user_id=u-7 cost_cents=100") == 1);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 0), "entity_id=lim-t scope=tenant max_cents=100000") == 2);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 1), "entity_id=lim-k scope=api_key scope_id=k-9 max_cents=100000") == 3);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 2), "entity_id=lim-f scope=feature scope_id=search max_cents=100000") == 4);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 3), "entity_id=lim-u scope=user scope_id=u-7 max_cents=100000") == 5);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 4), "entity_id=lim-d scope=tenant period=DAILY max_cents=100000") == 6);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 5), "entity_id=lim-def max_cents=100000") == 7);
    /* no max_cents, or 0: no status and no rules */
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 6), "entity_id=lim-z0 max_cents=0") == 8);
    CHECK(EV(&s, t, "LimitCreated", at(10, 1, 1, 7), "entity_id=lim-zn category=BUDGET") == 9);
    CHECK(EV(&s, t, "CostRecorded", at(10, 2, 10, 0), "api_key_id=k-9 feature_tag=search user_id=u-7 cost_cents=10") == 10);
    CHECK(EV(&s, t, "CostRecorded", at(10, 2, 11, 0), "api_key_id=k-8 feature_tag=search user_id=u-8 cost_cents=20") == 11);
    CHECK(EV(&s, t, "CostRecorded", at(10, 3, 10, 0), "api_key_id=k-9 feature_tag=chat user_id=u-8 cost_cents=40") == 12);
    CHECK(EV(&s, t, "CostRecorded", at(10, 3, 11, 0), "cost_cents=80") == 13);
    EXPECT(s.derived == 0, "derived %llu", U(s.derived));
    /* October: tenant 10+20+40+80 = 150; k-9 10+40 = 50; search 10+20 = 30;
     * u-7 10; daily: 10-01 0, 10-02 30, 10-03 120. */
    struct {
        const char *id, *time;
        int64_t cents;
        uint64_t records;
    } want[] = {{"lim-t", at(10, 20, 0, 0), 150, 4}, {"lim-k", at(10, 20, 0, 0), 50, 2},
                {"lim-f", at(10, 20, 0, 0), 30, 2},  {"lim-u", at(10, 20, 0, 0), 10, 1},
                {"lim-def", at(10, 20, 0, 0), 150, 4}, {"lim-d", at(10, 1, 12, 0), 0, 0},
                {"lim-d", at(10, 2, 0, 0), 30, 2},   {"lim-d", at(10, 3, 23, 59), 120, 2}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        annal_limit_spend sp;
        int st;
        CHECKF(spend_at(&s, t, want[i].id, want[i].time, &sp, &st) == 0, "%s", want[i].id);
        EXPECT(sp.cents == want[i].cents && sp.cost_records == want[i].records && st == ANNAL_LIMIT_OK,
               "%s at %s: cents %lld records %llu status %d", want[i].id, want[i].time, L(sp.cents),
               U(sp.cost_records), st);
    }
    annal_limit_spend sp;
    CHECK(annal_view_limit_spend(s.ix, t, "lim-d", T(at(10, 3, 5, 0)), &sp) == ANNAL_OK);
    EXPECT(sp.period_start_ns == T("2026-10-03T00:00:00Z"), "daily period start %lld", L(sp.period_start_ns));
    annal_limit_view lv;
    CHECK(annal_view_limit(s.ix, t, "lim-def", &lv) == ANNAL_OK);
    EXPECT(lv.period == ANNAL_PERIOD_MONTHLY && lv.warn_pct == 80 && !strcmp(lv.scope.s, "tenant"),
           "defaults: period %d warn %u scope %s", lv.period, lv.warn_pct, lv.scope.s);
    CHECK(annal_view_limit(s.ix, t, "lim-d", &lv) == ANNAL_OK);
    EXPECT(lv.period == ANNAL_PERIOD_DAILY, "period %d", lv.period);
    idcents lims = {0};
    CHECK(annal_view_limits(s.ix, t, limits_cb, &lims) == ANNAL_OK);
    const char *order[] = {"lim-d", "lim-def", "lim-f", "lim-k", "lim-t", "lim-u", "lim-z0", "lim-zn"};
    CHECKF(lims.n == 8, "%zu limits", lims.n);
    for (int i = 0; i < 8; i++)
        EXPECT(!strcmp(lims.id[i], order[i]), "limit %d is %s", i, lims.id[i]);

    /* LimitUpdated sets what it carries: max 55 keeps scope api_key k-9 and
     * warn 80; 50 * 100 >= 80 * 55 -> NEAR_THRESHOLD. */
    uint64_t up = EV(&s, t, "LimitUpdated", at(10, 4, 0, 0), "entity_id=lim-k max_cents=55");
    CHECK(up == 14);
    CHECK(annal_view_limit(s.ix, t, "lim-k", &lv) == ANNAL_OK);
    EXPECT(lv.max_cents == 55 && lv.warn_pct == 80 && !strcmp(lv.scope.s, "api_key") && !strcmp(lv.scope_id.s, "k-9") &&
               lv.created_seq == 3 && lv.updated_seq == up,
           "max %lld warn %u scope %s/%s updated %llu", L(lv.max_cents), lv.warn_pct, lv.scope.s, lv.scope_id.s,
           U(lv.updated_seq));
    int st;
    CHECK(spend_at(&s, t, "lim-k", at(10, 4, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 50 && st == ANNAL_LIMIT_NEAR, "cents %lld status %d", L(sp.cents), st);
    /* The next cost of the scope: 51 reaches 80% of 55 for the first time
     * with the rule watching -> BUDGET_WARNING for lim-k (and no other). */
    uint64_t c = EV(&s, t, "CostRecorded", at(10, 4, 10, 0), "api_key_id=k-9 feature_tag=chat user_id=u-8 cost_cents=1");
    CHECK(c == 15);
    hits h;
    CHECK(find(&s, t, "CostAnomalyDetected", NULL, &h) == 0);
    EXPECT(h.n == 1, "%zu anomalies after the cost under the lowered limit", h.n);
    if (h.n == 1) {
        DERIVED_OK(h.h[0].rec, c);
        EXPECT(has_kv(h.h[0].rec, "anomaly_type", "BUDGET_WARNING") && has_kv(h.h[0].rec, "limit_id", "lim-k"), "%s",
               h.h[0].rec);
    }
    hits_free(&h);
    /* the limits without a max: spend counted, nothing derived */
    CHECK(annal_view_limit_spend(s.ix, t, "lim-z0", T(at(10, 4, 0, 0)), &sp) == ANNAL_OK);
    EXPECT(sp.cents == 151 && sp.flags == 0, "lim-z0: cents %lld flags %u", L(sp.cents), sp.flags);
    CHECK(annal_view_limit_spend(s.ix, t, "lim-zn", T(at(10, 4, 0, 0)), &sp) == ANNAL_OK);
    EXPECT(sp.cents == 151 && sp.flags == 0, "lim-zn: cents %lld flags %u", L(sp.cents), sp.flags);
    EXPECT(s.derived == 1, "derived %llu", U(s.derived));
    vs_close(&s);
}

/* A limit id of 128 bytes: "lim-NNN-xxx...". */
static void long_limit_id(char out[ANNAL_ID_MAX + 1], int i)
{
    int n = snprintf(out, ANNAL_ID_MAX + 1, "lim-%03d-", i);
    memset(out + n, 'x', (size_t)(ANNAL_ID_MAX - n));
    out[ANNAL_ID_MAX] = 0;
}

static void every_limit_of_a_tenant_with_many_limits_is_charged(void)
{
    /* 70 limits with ids of 128 bytes: 69 of user u-nobody (never charged)
     * and the last of the tenant; 1100 of 1000 breaches the last one. */
    vs s;
    CHECK(vs_open(&s, "many") == 0);
    const char *t = "many";
    char id[ANNAL_ID_MAX + 1];
    for (int i = 0; i < 70; i++) {
        long_limit_id(id, i);
        CHECK(EV(&s, t, "LimitCreated", at(10, 1, 0, 0), "entity_id=%s scope=%s max_cents=1000", id,
                 i < 69 ? "user scope_id=u-nobody" : "tenant"));
    }
    idcents lims = {0};
    CHECK(annal_view_limits(s.ix, t, limits_cb, &lims) == ANNAL_OK);
    EXPECT(lims.n == 70, "%zu limits listed", lims.n);
    uint64_t c = EV(&s, t, "CostRecorded", at(10, 2, 0, 0), "user_id=u-7 cost_cents=1100");
    CHECK(c == 71);
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, t, id, at(10, 2, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1100 && st == ANNAL_LIMIT_BREACHED, "the 70th limit: cents %lld status %d", L(sp.cents), st);
    EXPECT(count(&s, t, "LimitBreached", NULL) == 1 && count(&s, t, "IncidentCreated", NULL) == 1,
           "the 70th limit's breach: %ld LimitBreached", count(&s, t, "LimitBreached", NULL));
    long_limit_id(id, 0);
    CHECK(spend_at(&s, t, id, at(10, 2, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 0, "a limit of another scope: cents %lld", L(sp.cents));
    vs_close(&s);
}

/* ---------------------------------------------------------------- day-close rules */

static void spike_and_drift_fire_once_on_day_close_and_only_with_a_baseline(void)
{
    vs s;
    CHECK(vs_open(&s, "days") == 0);
    /* Daily costs (day d = 2026-10-d, one CostRecorded at 12:00 each):
     *  spk : d1..10 100, d11..13 200, d14 100
     *        closing d11: spend(d10)=100 <= 1.4 x mean(d3..d9)=140: no
     *        closing d12: 200, 200 > 1.4 x mean(d4..d10)=140: ABSOLUTE_SPIKE, HIGH
     *                     (+100% over the baseline), on d13's record
     *        closing d13: 200, 200 > 1.4 x 800/7=160: holds, same episode: no
     *        drift can never be covered (needs d1 <= D-15)
     *  spk1: d1..10 100, d11 300, d12..13 100: one spike day: never
     *  spk2: d5..10 100, d11..12 200, d13 100: the baseline d4..d10 is not
     *        covered by the tenant's history: never
     *  spk3: d1 RunStarted only, d11..12 200, d13 1: zero baseline: never
     *  drf : d1..14 100, d15..24 137 (mean7(X) vs 1.25 x mean7(X-7), sums):
     *        X=18: 848 vs 875 no; X=19: 885 > 875; X=20: 922; X=21: 959 (vs 700);
     *        X=22: 959 > 1.25 x 737 = 921.25; X=23: 959 < 1.25 x 774 = 967.5
     *        closing d20: X=18 fails; closing d21: X=19,20,21 hold:
     *        SUSTAINED_DRIFT, MEDIUM (+37%, +32%, +26%: all 25..40%), on d22's
     *        record; closing d22: holds, same episode; closing d23: fails.
     *        No spike: 137 < 1.4 x 100.
     *  gap : d1..10 100, nothing d11..d26, d27..29 100: the days closed in
     *        the gap have no spend (whatever their ring slots held before),
     *        and after it the baselines are zero: never.
     *  late, late2: d1..10 100, d11..12 200 (as spk), then nothing until a
     *        record of d30 (late) or d28 (late2), which closes d12..d29
     *        (d12..d27): closing d12 is a spike, as for spk. */
    uint64_t spk_d13 = 0, drf_d22 = 0;
    for (int d = 1; d <= 24; d++) {
        const char *noon = at(10, d, 12, 0);
        if (d <= 14) {
            uint64_t q = EV(&s, "spk", "CostRecorded", noon, "cost_cents=%d", d <= 10 ? 100 : d <= 13 ? 200 : 100);
            CHECK(q);
            if (d == 13)
                spk_d13 = q;
            if (d == 12)
                EXPECT(count(&s, "spk", "CostAnomalyDetected", NULL) == 0, "spk: a spike on closing d11");
            if (d == 13)
                EXPECT(count(&s, "spk", "CostAnomalyDetected", "ABSOLUTE_SPIKE") == 1, "spk: no spike on closing d12");
        }
        if (d <= 13)
            CHECK(EV(&s, "spk1", "CostRecorded", at(10, d, 12, 1), "cost_cents=%d", d == 11 ? 300 : 100));
        if (d >= 5 && d <= 13)
            CHECK(EV(&s, "spk2", "CostRecorded", at(10, d, 12, 2), "cost_cents=%d", d <= 10 || d == 13 ? 100 : 200));
        if (d == 1)
            CHECK(EV(&s, "spk3", "RunStarted", at(10, d, 12, 3), "run_id=r-0"));
        if (d >= 11 && d <= 13)
            CHECK(EV(&s, "spk3", "CostRecorded", at(10, d, 12, 3), "cost_cents=%d", d == 13 ? 1 : 200));
        if (d <= 10)
            CHECK(EV(&s, "gap", "CostRecorded", at(10, d, 12, 5), "cost_cents=100"));
        if (d <= 12) {
            CHECK(EV(&s, "late", "CostRecorded", at(10, d, 12, 6), "cost_cents=%d", d <= 10 ? 100 : 200));
            CHECK(EV(&s, "late2", "CostRecorded", at(10, d, 12, 7), "cost_cents=%d", d <= 10 ? 100 : 200));
        }
        uint64_t q = EV(&s, "drf", "CostRecorded", at(10, d, 12, 4), "cost_cents=%d", d <= 14 ? 100 : 137);
        CHECK(q);
        if (d == 22)
            drf_d22 = q;
        if (d == 21)
            EXPECT(count(&s, "drf", "CostAnomalyDetected", NULL) == 0, "drf: an anomaly by closing d20");
        if (d == 22)
            EXPECT(count(&s, "drf", "CostAnomalyDetected", "SUSTAINED_DRIFT") == 1, "drf: no drift on closing d21");
    }
    for (int d = 27; d <= 29; d++)
        CHECK(EV(&s, "gap", "CostRecorded", at(10, d, 12, 5), "cost_cents=100"));
    EXPECT(count(&s, "late", "CostAnomalyDetected", NULL) == 0 && count(&s, "late2", "CostAnomalyDetected", NULL) == 0,
           "late: an anomaly before d12 closed");
    uint64_t l28 = EV(&s, "late2", "CostRecorded", at(10, 28, 12, 7), "cost_cents=1");
    uint64_t l30 = EV(&s, "late", "CostRecorded", at(10, 30, 12, 6), "cost_cents=1");
    CHECK(l28 && l30);
    EXPECT(count(&s, "late2", "CostAnomalyDetected", "ABSOLUTE_SPIKE") == 1, "late2 (16 days later): %ld spikes",
           count(&s, "late2", "CostAnomalyDetected", "ABSOLUTE_SPIKE"));
    EXPECT(count(&s, "late", "CostAnomalyDetected", "ABSOLUTE_SPIKE") == 1,
           "late (18 days later): %ld spikes: the day-close of d12 was skipped",
           count(&s, "late", "CostAnomalyDetected", "ABSOLUTE_SPIKE"));
    annal_tenant_view tl;
    CHECK(annal_view_tenant(s.ix, "late", &tl) == ANNAL_OK);
    EXPECT(tl.last_spike_day == daynum(at(10, 12, 0, 0)), "late: last spike day %lld", L(tl.last_spike_day));
    EXPECT(count(&s, "gap", "CostAnomalyDetected", NULL) == 0, "gap: %ld anomalies",
           count(&s, "gap", "CostAnomalyDetected", NULL));
    hits h;
    CHECK(find(&s, "spk", "CostAnomalyDetected", NULL, &h) == 0);
    EXPECT(h.n == 1, "spk: %zu anomalies", h.n);
    if (h.n >= 1) {
        DERIVED_OK(h.h[0].rec, spk_d13);
        EXPECT(has_kv(h.h[0].rec, "anomaly_type", "ABSOLUTE_SPIKE") && has_kv(h.h[0].rec, "severity", "HIGH") &&
                   has_kv(h.h[0].rec, "scope", "tenant"),
               "%s", h.h[0].rec);
        EXPECT(h.h[0].t == T(at(10, 13, 12, 0)) && h.h[0].seq == spk_d13 + 1, "spike at seq %llu time %lld",
               U(h.h[0].seq), L(h.h[0].t));
    }
    hits_free(&h);
    EXPECT(count(&s, "spk", "IncidentCreated", NULL) == 0, "an anomaly made an incident");
    EXPECT(count(&s, "spk1", "CostAnomalyDetected", NULL) == 0, "spk1: one spike day fired");
    EXPECT(count(&s, "spk2", "CostAnomalyDetected", NULL) == 0, "spk2: a baseline not covered by history fired");
    EXPECT(count(&s, "spk3", "CostAnomalyDetected", NULL) == 0, "spk3: a zero baseline fired");
    CHECK(find(&s, "drf", "CostAnomalyDetected", NULL, &h) == 0);
    EXPECT(h.n == 1, "drf: %zu anomalies", h.n);
    if (h.n >= 1) {
        DERIVED_OK(h.h[0].rec, drf_d22);
        EXPECT(has_kv(h.h[0].rec, "anomaly_type", "SUSTAINED_DRIFT") && has_kv(h.h[0].rec, "severity", "MEDIUM") &&
                   has_kv(h.h[0].rec, "scope", "tenant"),
               "%s", h.h[0].rec);
        EXPECT(h.h[0].t == T(at(10, 22, 12, 4)), "drift at time %lld", L(h.h[0].t));
    }
    hits_free(&h);

    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, "spk", &tv) == ANNAL_OK);
    EXPECT(tv.last_spike_day == daynum(at(10, 13, 0, 0)) && tv.last_drift_day == -1, "spk: last spike %lld drift %lld",
           L(tv.last_spike_day), L(tv.last_drift_day));
    EXPECT(tv.first_day == daynum(at(10, 1, 0, 0)) && tv.cur_day == daynum(at(10, 14, 0, 0)), "spk: days %lld..%lld",
           L(tv.first_day), L(tv.cur_day));
    for (int d = 12; d <= 14; d++) {
        int64_t dn = daynum(at(10, d, 0, 0));
        EXPECT(tv.day_num[dn % ANNAL_VIEW_DAYS] == dn && tv.day_cents[dn % ANNAL_VIEW_DAYS] == (d == 14 ? 100 : 200),
               "spk: day %d: ring holds day %lld with %lld", d, L(tv.day_num[dn % ANNAL_VIEW_DAYS]),
               L(tv.day_cents[dn % ANNAL_VIEW_DAYS]));
    }
    CHECK(annal_view_tenant(s.ix, "spk1", &tv) == ANNAL_OK);
    EXPECT(tv.last_spike_day == -1 && tv.last_drift_day == -1, "spk1: last spike %lld", L(tv.last_spike_day));
    CHECK(annal_view_tenant(s.ix, "drf", &tv) == ANNAL_OK);
    EXPECT(tv.last_drift_day == daynum(at(10, 22, 0, 0)) && tv.last_spike_day == -1, "drf: last drift %lld spike %lld",
           L(tv.last_drift_day), L(tv.last_spike_day));
    EXPECT(tv.cost_cents == 14 * 100 + 10 * 137, "drf: cost %lld", L(tv.cost_cents));
    vs_close(&s);
}

/* ---------------------------------------------------------------- runs and incidents */

static void a_run_failure_creates_one_incident_per_run(void)
{
    vs s;
    CHECK(vs_open(&s, "runfail") == 0);
    const char *t = "runs";
    CHECK(EV(&s, t, "RunStarted", at(10, 5, 10, 0),
             "run_id=r-9 api_key_id=k-1 model=gpt-4o feature_tag=search user_id=u-1") == 1);
    uint64_t f1 = EV(&s, t, "RunFailed", at(10, 5, 10, 5), "run_id=r-9 error_code=TIMEOUT duration_ms=300000");
    CHECK(f1 == 2 && s.derived == 1); /* IncidentCreated: 3 */
    uint64_t f2 = EV(&s, t, "RunFailed", at(10, 5, 10, 6), "run_id=r-9 error_code=OOM duration_ms=300000");
    CHECK(f2 == 4);
    EXPECT(s.derived == 1, "a second RunFailed of the run: derived %llu", U(s.derived));
    CHECK(EV(&s, t, "RunStarted", at(10, 5, 10, 10), "run_id=r-10") == 5);
    uint64_t f3 = EV(&s, t, "RunFailed", at(10, 5, 10, 11), "run_id=r-10");
    CHECK(f3 == 6 && s.derived == 2);
    CHECK(EV(&s, t, "RunStarted", at(10, 5, 10, 12), "run_id=r-11") == 8);
    CHECK(EV(&s, t, "RunCompleted", at(10, 5, 10, 13), "run_id=r-11 duration_ms=60000") == 9);
    EXPECT(s.derived == 2 && s.last == 9, "derived %llu last %llu", U(s.derived), U(s.last));

    hits h;
    CHECK(find(&s, t, "IncidentCreated", NULL, &h) == 0);
    CHECKF(h.n == 2, "%zu incidents", h.n);
    char inc9[256], inc10[256];
    get_str(h.h[0].rec, "incident_id", inc9, sizeof(inc9));
    get_str(h.h[1].rec, "incident_id", inc10, sizeof(inc10));
    DERIVED_OK(h.h[0].rec, f1);
    DERIVED_OK(h.h[1].rec, f3);
    EXPECT(has_kv(h.h[0].rec, "run_id", "r-9") && has_kv(h.h[0].rec, "source", "RUN_FAILURE") &&
               has_kv(h.h[0].rec, "severity", "MEDIUM"),
           "%s", h.h[0].rec);
    EXPECT(has_kv(h.h[1].rec, "run_id", "r-10"), "%s", h.h[1].rec);
    EXPECT(h.h[0].seq == 3 && h.h[1].seq == 7, "incidents at %llu %llu", U(h.h[0].seq), U(h.h[1].seq));
    EXPECT(inc9[0] && inc10[0] && strcmp(inc9, inc10), "incident ids %s %s", inc9, inc10);
    hits_free(&h);
    EXPECT(count(&s, t, "PolicyProposalCreated", NULL) == 0, "a MEDIUM incident made a proposal");

    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, t, inc9, &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_ACTIVE && iv.severity == ANNAL_SEV_MEDIUM && !iv.proposal_derived &&
               iv.created_seq == 3 && !strcmp(iv.source.s, "RUN_FAILURE") && !strcmp(iv.source_run.s, "r-9") &&
               !strcmp(iv.category.s, "RUN_FAILURE"),
           "state %d severity %d created %llu source %s run %s category %s", iv.state, iv.severity,
           U(iv.created_seq), iv.source.s, iv.source_run.s, iv.category.s);

    annal_run_view rv;
    CHECK(annal_view_run(s.ix, t, "r-9", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_FAILED && rv.incident_derived && rv.incidents == 1 && rv.started_seq == 1 &&
               rv.started_ns == T(at(10, 5, 10, 0)) && rv.duration_ms == 300000,
           "status %d derived %d incidents %u started %llu duration %lld", rv.status, rv.incident_derived,
           rv.incidents, U(rv.started_seq), L(rv.duration_ms));
    EXPECT((rv.ended_seq == f1 || rv.ended_seq == f2) && (rv.ended_ns == T(at(10, 5, 10, 5)) || rv.ended_ns == T(at(10, 5, 10, 6))),
           "ended %llu", U(rv.ended_seq));
    EXPECT(!strcmp(rv.error_code.s, "TIMEOUT") && !strcmp(rv.model.s, "gpt-4o") && !strcmp(rv.feature.s, "search") &&
               !strcmp(rv.user.s, "u-1") && !strcmp(rv.api_key.s, "k-1"),
           "error %s model %s feature %s user %s key %s", rv.error_code.s, rv.model.s, rv.feature.s, rv.user.s,
           rv.api_key.s);
    CHECK(annal_view_run(s.ix, t, "r-11", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_COMPLETED && !rv.incident_derived && rv.incidents == 0 && rv.duration_ms == 60000 &&
               rv.ended_seq == 9 && rv.ended_ns == T(at(10, 5, 10, 13)),
           "r-11: status %d incidents %u duration %lld", rv.status, rv.incidents, L(rv.duration_ms));
    CHECK(annal_view_run(s.ix, t, "r-10", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_FAILED && rv.incidents == 1, "r-10: status %d", rv.status);

    /* The run's records: RunStarted, RunFailed, the incident, RunFailed. */
    uint64_t seqs[16];
    long n = link_seqs(&s, annal_index_run, t, "r-9", seqs, 16);
    EXPECT(n == 4 && seqs[0] == 1 && seqs[1] == 2 && seqs[2] == 3 && seqs[3] == 4, "%ld records of r-9", n);

    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.runs_total == 3 && tv.runs_failed == 2, "runs %llu failed %llu", U(tv.runs_total), U(tv.runs_failed));
    EXPECT(tv.incidents_active[ANNAL_SEV_MEDIUM] == 2 && tv.incidents_total == 2, "active MEDIUM %llu",
           U(tv.incidents_active[ANNAL_SEV_MEDIUM]));

    /* A second IncidentCreated of an incident is ignored: no second proposal. */
    uint64_t d1 = EV(&s, "dup", "IncidentCreated", at(10, 5, 11, 0), "incident_id=inc-d severity=HIGH source=MANUAL title=first");
    CHECK(d1);
    CHECK(EV(&s, "dup", "IncidentCreated", at(10, 5, 11, 1), "incident_id=inc-d severity=CRITICAL source=MANUAL title=second"));
    EXPECT(count(&s, "dup", "PolicyProposalCreated", NULL) == 1, "%ld proposals for one incident",
           count(&s, "dup", "PolicyProposalCreated", NULL));
    CHECK(annal_view_incident(s.ix, "dup", "inc-d", &iv) == ANNAL_OK);
    EXPECT(iv.severity == ANNAL_SEV_HIGH && iv.created_seq == d1 && !strcmp(iv.title.s, "first") && iv.proposal_derived,
           "severity %d created %llu title %s", iv.severity, U(iv.created_seq), iv.title.s);
    CHECK(annal_view_tenant(s.ix, "dup", &tv) == ANNAL_OK);
    EXPECT(tv.incidents_total == 1 && tv.incidents_active[ANNAL_SEV_HIGH] == 1 && tv.incidents_active[ANNAL_SEV_CRITICAL] == 0,
           "total %llu", U(tv.incidents_total));

    /* Usage of 10:00..11:00: 3 started, 1 completed, 9 events. */
    hours u = {0};
    CHECK(annal_view_usage(s.ix, t, 0, 0, usage_cb, &u) == ANNAL_OK);
    EXPECT(u.n == 1 && u.h[0].hour_ns == T(at(10, 5, 10, 0)) && u.h[0].runs_started == 3 && u.h[0].runs_completed == 1 &&
               u.h[0].events == 9 && u.h[0].cost_records == 0,
           "%zu hours; started %llu completed %llu events %llu", u.n, U(u.h[0].runs_started),
           U(u.h[0].runs_completed), U(u.h[0].events));
    vs_close(&s);
}

static void incidents_are_acknowledged_resolved_and_closed_and_leave_the_queue(void)
{
    vs s;
    CHECK(vs_open(&s, "ack") == 0);
    const char *t = "ops";
    CHECK(EV(&s, t, "RunFailed", at(10, 5, 10, 0), "run_id=r-1") == 1); /* incident: 2 */
    CHECK(EV(&s, t, "IncidentCreated", at(10, 5, 10, 30),
             "incident_id=inc-c category=SAFETY severity=CRITICAL source=MANUAL title=prompt-leak") == 3);
    EXPECT(s.derived == 2 && s.last == 4, "derived %llu (incident, proposal)", U(s.derived));
    hits h;
    CHECK(find(&s, t, "IncidentCreated", "RUN_FAILURE", &h) == 0);
    CHECKF(h.n == 1, "%zu run incidents", h.n);
    char inc[256];
    get_str(h.h[0].rec, "incident_id", inc, sizeof(inc));
    hits_free(&h);
    CHECK(find(&s, t, "PolicyProposalCreated", NULL, &h) == 0);
    CHECKF(h.n == 1, "%zu proposals", h.n);
    char prop[256];
    get_str(h.h[0].rec, "entity_id", prop, sizeof(prop));
    DERIVED_OK(h.h[0].rec, 3);
    EXPECT(has_kv(h.h[0].rec, "triggering_incident_id", "inc-c"), "%s", h.h[0].rec);
    hits_free(&h);
    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, t, "inc-c", &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_ACTIVE && iv.severity == ANNAL_SEV_CRITICAL && iv.proposal_derived &&
               !strcmp(iv.title.s, "prompt-leak") && !strcmp(iv.category.s, "SAFETY"),
           "state %d severity %d title %s", iv.state, iv.severity, iv.title.s);
    qlist q;
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 3 && q.it[0].kind == 1 && !strcmp(q.it[0].id, inc) && q.it[1].kind == 1 &&
               !strcmp(q.it[1].id, "inc-c") && q.it[2].kind == 2 && !strcmp(q.it[2].id, prop),
           "queue of %zu", q.n);

    /* ACTIVE -> ACKED */
    uint64_t a = EV(&s, t, "IncidentAcknowledged", at(10, 5, 11, 0), "incident_id=%s", inc);
    CHECK(a == 5);
    CHECK(annal_view_incident(s.ix, t, inc, &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_ACKED && iv.acked_seq == a && iv.acked_ns == T(at(10, 5, 11, 0)) && iv.closed_seq == 0,
           "state %d acked %llu", iv.state, U(iv.acked_seq));
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 2 && !strcmp(q.it[0].id, "inc-c") && !strcmp(q.it[1].id, prop), "queue of %zu", q.n);
    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.incidents_active[ANNAL_SEV_MEDIUM] == 0 && tv.incidents_active[ANNAL_SEV_CRITICAL] == 1 &&
               tv.incidents_acked == 1 && tv.incidents_total == 2,
           "active MEDIUM %llu CRITICAL %llu acked %llu", U(tv.incidents_active[ANNAL_SEV_MEDIUM]),
           U(tv.incidents_active[ANNAL_SEV_CRITICAL]), U(tv.incidents_acked));
    /* ACKED -> RESOLVED */
    uint64_t r = EV(&s, t, "IncidentResolved", at(10, 5, 12, 0), "incident_id=%s", inc);
    CHECK(r == 6);
    CHECK(annal_view_incident(s.ix, t, inc, &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_RESOLVED && iv.closed_seq == r && iv.closed_ns == T(at(10, 5, 12, 0)) &&
               iv.acked_seq == a,
           "state %d closed %llu", iv.state, U(iv.closed_seq));
    /* later events keep the state and the first times */
    CHECK(EV(&s, t, "IncidentAcknowledged", at(10, 5, 12, 10), "incident_id=%s", inc) == 7);
    CHECK(EV(&s, t, "IncidentResolved", at(10, 5, 12, 20), "incident_id=%s", inc) == 8);
    CHECK(annal_view_incident(s.ix, t, inc, &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_RESOLVED && iv.acked_seq == a && iv.closed_seq == r &&
               iv.acked_ns == T(at(10, 5, 11, 0)) && iv.closed_ns == T(at(10, 5, 12, 0)),
           "state %d acked %llu closed %llu", iv.state, U(iv.acked_seq), U(iv.closed_seq));
    /* ACTIVE -> CLOSED directly, and the proposal rejected: the queue empties */
    CHECK(EV(&s, t, "IncidentManuallyClosed", at(10, 5, 12, 30), "incident_id=inc-c") == 9);
    CHECK(annal_view_incident(s.ix, t, "inc-c", &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_CLOSED && iv.closed_seq == 9 && iv.acked_seq == 0, "state %d", iv.state);
    CHECK(EV(&s, t, "PolicyProposalRejected", at(10, 5, 13, 0), "entity_id=%s", prop) == 10);
    annal_proposal_view pv;
    CHECK(annal_view_proposal(s.ix, t, prop, &pv) == ANNAL_OK);
    EXPECT(pv.status == ANNAL_PROP_REJECTED && pv.decided_seq == 10 && pv.decided_ns == T(at(10, 5, 13, 0)),
           "status %d decided %llu", pv.status, U(pv.decided_seq));
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 0, "queue of %zu", q.n);
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.incidents_acked == 0 && tv.incidents_active[ANNAL_SEV_CRITICAL] == 0 && tv.proposals_draft == 0 &&
               tv.incidents_total == 2,
           "acked %llu active %llu drafts %llu", U(tv.incidents_acked), U(tv.incidents_active[ANNAL_SEV_CRITICAL]),
           U(tv.proposals_draft));
    EXPECT(s.derived == 2, "derived %llu", U(s.derived));
    /* An event about an incident never created: state NONE, its times kept. */
    CHECK(EV(&s, t, "IncidentAcknowledged", at(10, 6, 0, 0), "incident_id=inc-ghost") == 11);
    CHECK(annal_view_incident(s.ix, t, "inc-ghost", &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_NONE && iv.acked_seq == 11 && iv.created_seq == 0, "state %d acked %llu", iv.state,
           U(iv.acked_seq));
    CHECK(queue_of(&s, t, &q) == ANNAL_OK);
    EXPECT(q.n == 0, "queue of %zu", q.n);
    EXPECT(annal_view_incident(s.ix, t, "inc-none", &iv) == ANNAL_ENOTFOUND, "an unknown incident");
    vs_close(&s);
}

static void run_cost_incident_cost_impact_and_cost_per_api_key(void)
{
    vs s;
    CHECK(vs_open(&s, "cost") == 0);
    const char *t = "cost";
    CHECK(EV(&s, t, "RunStarted", at(10, 5, 9, 0), "run_id=r-a api_key_id=k-1 model=gpt-4o feature_tag=search user_id=u-1") == 1);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 1),
             "run_id=r-a api_key_id=k-1 model=gpt-4o feature_tag=search user_id=u-1 input_tokens=1000 output_tokens=200 cost_cents=120") == 2);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 2),
             "run_id=r-a api_key_id=k-1 model=gpt-4o input_tokens=500 output_tokens=100 cost_cents=80") == 3);
    CHECK(EV(&s, t, "IncidentCreated", at(10, 5, 9, 3),
             "incident_id=inc-1 run_id=r-a category=LATENCY severity=LOW source=MANUAL title=slow-run") == 4);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 10),
             "run_id=r-b incident_id=inc-1 api_key_id=k-2 model=claude feature_tag=chat user_id=u-2 input_tokens=300 output_tokens=30 cost_cents=50") == 5);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 11),
             "run_id=r-c incident_id=inc-1 api_key_id=k-2 input_tokens=200 output_tokens=20 cost_cents=30") == 6);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 12),
             "run_id=r-c incident_id=inc-1 api_key_id=k-3 input_tokens=100 output_tokens=10 cost_cents=20") == 7);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 13),
             "run_id=r-a incident_id=inc-1 api_key_id=k-1 input_tokens=10 output_tokens=5 cost_cents=7") == 8);
    CHECK(EV(&s, t, "RunCompleted", at(10, 5, 9, 20), "run_id=r-a duration_ms=1200000") == 9);
    CHECK(EV(&s, t, "PolicyViolationPrevented", at(10, 5, 9, 21), "entity_id=rule-7 run_id=r-a estimated_cost_saved_cents=500") == 10);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 9, 22), "incident_id=inc-1 api_key_id=k-3 cost_cents=5") == 11);
    CHECK(EV(&s, t, "CostRecorded", at(10, 5, 10, 30), "api_key_id=k-1 cost_cents=3") == 12);
    EXPECT(s.derived == 0, "derived %llu (a LOW incident)", U(s.derived));

    /* r-a: 120 + 80 + 7 = 207 cents; 1000+500+10 in, 200+100+5 out. */
    annal_run_view rv;
    CHECK(annal_view_run(s.ix, t, "r-a", &rv) == ANNAL_OK);
    EXPECT(rv.cost_cents == 207 && rv.input_tokens == 1510 && rv.output_tokens == 305 && rv.cost_records == 3,
           "r-a: cost %lld in %lld out %lld records %llu", L(rv.cost_cents), L(rv.input_tokens), L(rv.output_tokens),
           U(rv.cost_records));
    EXPECT(rv.status == ANNAL_RUN_COMPLETED && rv.duration_ms == 1200000 && rv.incidents == 1 && rv.policy_actions == 1 &&
               !rv.incident_derived && rv.started_seq == 1 && rv.ended_seq == 9,
           "r-a: status %d duration %lld incidents %u policies %u", rv.status, L(rv.duration_ms), rv.incidents,
           rv.policy_actions);
    EXPECT(!strcmp(rv.model.s, "gpt-4o") && !strcmp(rv.feature.s, "search") && !strcmp(rv.user.s, "u-1") &&
               !strcmp(rv.api_key.s, "k-1"),
           "r-a: %s %s %s %s", rv.model.s, rv.feature.s, rv.user.s, rv.api_key.s);
    /* r-b, r-c: known from their costs only */
    CHECK(annal_view_run(s.ix, t, "r-b", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_UNKNOWN && rv.cost_cents == 50 && rv.input_tokens == 300 && !strcmp(rv.model.s, "claude") &&
               !strcmp(rv.api_key.s, "k-2") && rv.incidents == 0,
           "r-b: status %d cost %lld model %s", rv.status, L(rv.cost_cents), rv.model.s);
    CHECK(annal_view_run(s.ix, t, "r-c", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_UNKNOWN && rv.cost_cents == 50 && rv.cost_records == 2 && !strcmp(rv.api_key.s, "k-2"),
           "r-c: cost %lld records %llu key %s", L(rv.cost_cents), U(rv.cost_records), rv.api_key.s);
    EXPECT(annal_view_run(s.ix, t, "r-z", &rv) == ANNAL_ENOTFOUND, "an unknown run");

    /* inc-1: source run r-a 207 + the CostRecorded carrying inc-1 that are
     * not of r-a: 50 (r-b) + 30 + 20 (r-c) + 5 (no run: direct_cents) = 312,
     * over 3 runs (r-a, r-b, r-c); 5 CostRecorded carry it. */
    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, t, "inc-1", &iv) == ANNAL_OK);
    EXPECT(iv.direct_cents == 5 && iv.cost_records == 5 && !strcmp(iv.source_run.s, "r-a") &&
               iv.severity == ANNAL_SEV_LOW && !strcmp(iv.source.s, "MANUAL") && !strcmp(iv.title.s, "slow-run") &&
               !iv.proposal_derived,
           "direct %lld records %llu source run %s", L(iv.direct_cents), U(iv.cost_records), iv.source_run.s);
    int64_t cents = -1;
    uint64_t runs = 0;
    CHECK(annal_view_incident_cost(s.ix, t, "inc-1", &cents, &runs) == ANNAL_OK);
    EXPECT(cents == 312 && runs == 3, "cost impact %lld over %llu runs", L(cents), U(runs));
    idcents ir = {0};
    CHECK(annal_view_incident_runs(s.ix, t, "inc-1", runs_cb, &ir) == ANNAL_OK);
    EXPECT(ir.n == 2 && !strcmp(ir.id[0], "r-b") && ir.cents[0] == 50 && !strcmp(ir.id[1], "r-c") && ir.cents[1] == 50,
           "%zu affected runs: %s %lld, %s %lld", ir.n, ir.id[0], L(ir.cents[0]), ir.id[1], L(ir.cents[1]));

    /* Cost per API key: k-1 120 + 80 + 7 + 3 = 210, k-2 50 + 30 = 80,
     * k-3 20 + 5 = 25; 8 facts, 315 cents. */
    costsum cs = {0};
    CHECK(annal_view_costs(s.ix, t, 0, 0, cost_cb, &cs) == ANNAL_OK);
    EXPECT(cs.facts == 8 && cs.cents == 315 && cs.nkeys == 3, "%zu facts %lld cents %zu keys", cs.facts, L(cs.cents),
           cs.nkeys);
    EXPECT(key_cents(&cs, "k-1") == 210 && key_cents(&cs, "k-2") == 80 && key_cents(&cs, "k-3") == 25,
           "k-1 %lld k-2 %lld k-3 %lld", L(key_cents(&cs, "k-1")), L(key_cents(&cs, "k-2")), L(key_cents(&cs, "k-3")));
    for (size_t i = 1; i < cs.facts && i < 16; i++)
        EXPECT(cs.at[i - 1].time_ns < cs.at[i].time_ns, "facts out of time order at %zu", i);
    if (cs.facts >= 3) {
        const annal_cost_fact *f = &cs.at[2]; /* 09:10, seq 5 */
        EXPECT(f->seq == 5 && f->cents == 50 && f->input_tokens == 300 && f->output_tokens == 30 &&
                   f->time_ns == T(at(10, 5, 9, 10)) && !strcmp(f->model.s, "claude") && !strcmp(f->feature.s, "chat") &&
                   !strcmp(f->user.s, "u-2") && !strcmp(f->api_key.s, "k-2") && !strcmp(f->run.s, "r-b") &&
                   !strcmp(f->incident.s, "inc-1"),
               "fact: seq %llu cents %lld model %s feature %s user %s key %s run %s incident %s", U(f->seq),
               L(f->cents), f->model.s, f->feature.s, f->user.s, f->api_key.s, f->run.s, f->incident.s);
    }
    /* [09:02, 09:12): 80 + 50 + 30 */
    memset(&cs, 0, sizeof(cs));
    CHECK(annal_view_costs(s.ix, t, T(at(10, 5, 9, 2)), T(at(10, 5, 9, 12)), cost_cb, &cs) == ANNAL_OK);
    EXPECT(cs.facts == 3 && cs.cents == 160, "%zu facts %lld cents in [09:02, 09:12)", cs.facts, L(cs.cents));
    uint64_t seqs[16];
    long n = link_seqs(&s, annal_index_api_key, t, "k-2", seqs, 16);
    EXPECT(n == 2 && seqs[0] == 5 && seqs[1] == 6, "%ld records of k-2", n);

    /* Usage by hour: 09:00 has events 1..11, 7 CostRecorded, 312 cents,
     * 2110 in, 365 out; 10:00 has one CostRecorded of 3. */
    hours u = {0};
    CHECK(annal_view_usage(s.ix, t, 0, 0, usage_cb, &u) == ANNAL_OK);
    CHECKF(u.n == 2, "%zu hours", u.n);
    EXPECT(u.h[0].hour_ns == T(at(10, 5, 9, 0)) && u.h[0].events == 11 && u.h[0].cost_records == 7 &&
               u.h[0].cost_cents == 312 && u.h[0].input_tokens == 2110 && u.h[0].output_tokens == 365 &&
               u.h[0].runs_started == 1 && u.h[0].runs_completed == 1 && u.h[0].runs_failed == 0,
           "09:00: events %llu records %llu cents %lld in %lld out %lld started %llu completed %llu", U(u.h[0].events),
           U(u.h[0].cost_records), L(u.h[0].cost_cents), L(u.h[0].input_tokens), L(u.h[0].output_tokens),
           U(u.h[0].runs_started), U(u.h[0].runs_completed));
    EXPECT(u.h[1].hour_ns == T(at(10, 5, 10, 0)) && u.h[1].events == 1 && u.h[1].cost_cents == 3, "10:00: %lld cents",
           L(u.h[1].cost_cents));
    memset(&u, 0, sizeof(u));
    CHECK(annal_view_usage(s.ix, t, T(at(10, 5, 10, 0)), 0, usage_cb, &u) == ANNAL_OK);
    EXPECT(u.n == 1 && u.h[0].cost_cents == 3, "%zu hours from 10:00", u.n);
    /* Costs charged to an incident before it is created: state NONE until
     * then, and they count. r-y (source) 11 + r-x 40 + no run 6 = 57. */
    CHECK(EV(&s, "early", "CostRecorded", at(10, 5, 9, 0), "run_id=r-x incident_id=inc-e cost_cents=40"));
    CHECK(EV(&s, "early", "CostRecorded", at(10, 5, 9, 1), "incident_id=inc-e cost_cents=6"));
    CHECK(annal_view_incident(s.ix, "early", "inc-e", &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_NONE && iv.cost_records == 2 && iv.created_seq == 0, "before: state %d records %llu",
           iv.state, U(iv.cost_records));
    CHECK(EV(&s, "early", "IncidentCreated", at(10, 5, 9, 5), "incident_id=inc-e run_id=r-y severity=LOW source=MANUAL"));
    CHECK(EV(&s, "early", "CostRecorded", at(10, 5, 9, 6), "run_id=r-y cost_cents=11"));
    CHECK(annal_view_incident(s.ix, "early", "inc-e", &iv) == ANNAL_OK);
    EXPECT(iv.state == ANNAL_INC_ACTIVE && iv.cost_records == 2 && iv.direct_cents == 6 && !strcmp(iv.source_run.s, "r-y"),
           "after: state %d records %llu direct %lld", iv.state, U(iv.cost_records), L(iv.direct_cents));
    CHECK(annal_view_incident_cost(s.ix, "early", "inc-e", &cents, &runs) == ANNAL_OK);
    EXPECT(cents == 57 && runs == 2, "early: cost impact %lld over %llu runs", L(cents), U(runs));
    memset(&ir, 0, sizeof(ir));
    CHECK(annal_view_incident_runs(s.ix, "early", "inc-e", runs_cb, &ir) == ANNAL_OK);
    EXPECT(ir.n == 1 && !strcmp(ir.id[0], "r-x") && ir.cents[0] == 40, "early: %zu affected runs", ir.n);

    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, t, &tv) == ANNAL_OK);
    EXPECT(tv.cost_cents == 315 && tv.events == 12 && tv.incidents_active[ANNAL_SEV_LOW] == 1, "cost %lld events %llu",
           L(tv.cost_cents), U(tv.events));
    vs_close(&s);
}

/* ---------------------------------------------------------------- correlation */

static void a_correlation_id_reconstructs_provider_and_consumer_events(void)
{
    vs s;
    CHECK(vs_open(&s, "corr") == 0);
    /* seeds/004: the consumer's event is appended first but happened after
     * the provider's. */
    uint64_t consumer = raw(&s,
        "{\"tenant_id\":\"soc2\",\"event_type\":\"aianalysis.analysis.completed\","
        "\"correlation_id\":\"req-2025-01-05-abc123\",\"occurred_at\":\"2026-01-05T08:00:02.250Z\","
        "\"data\":{\"phase\":\"Completed\",\"approval_required\":false,\"degraded_mode\":false,\"warnings_count\":0,"
        "\"provider_response_summary\":{\"incident_id\":\"inc-77\",\"analysis_preview\":\"OOMKilled pod\","
        "\"selected_workflow_id\":\"wf-restart\",\"needs_human_review\":false,\"warnings_count\":0}}}");
    uint64_t provider = raw(&s,
        "{\"tenant_id\":\"soc2\",\"event_type\":\"holmesgpt.response.complete\","
        "\"correlation_id\":\"req-2025-01-05-abc123\",\"occurred_at\":\"2026-01-05T08:00:01.100Z\","
        "\"data\":{\"incident_id\":\"inc-77\",\"response_data\":{\"root_cause_analysis\":{\"summary\":\"memory limit\"},"
        "\"selected_workflow\":{\"workflow_id\":\"wf-restart\"},\"alternative_workflows\":[]}}}");
    uint64_t other = raw(&s,
        "{\"tenant_id\":\"soc2\",\"event_type\":\"holmesgpt.response.complete\","
        "\"correlation_id\":\"req-2025-01-05-zzz999\",\"occurred_at\":\"2026-01-05T08:00:01.500Z\",\"data\":{}}");
    uint64_t foreign = raw(&s,
        "{\"tenant_id\":\"soc2b\",\"event_type\":\"aianalysis.analysis.completed\","
        "\"correlation_id\":\"req-2025-01-05-abc123\",\"occurred_at\":\"2026-01-05T08:00:01.000Z\",\"data\":{}}");
    CHECK(consumer == 1 && provider == 2 && other == 3 && foreign == 4 && s.derived == 0);
    uint64_t seqs[16];
    long n = link_seqs(&s, annal_index_correlation, "soc2", "req-2025-01-05-abc123", seqs, 16);
    CHECKF(n == 2 && seqs[0] == provider && seqs[1] == consumer, "%ld events, first %llu", n, U(n > 0 ? seqs[0] : 0));
    char *r0 = fetch(&s, "soc2", seqs[0]), *r1 = fetch(&s, "soc2", seqs[1]);
    CHECK(r0 && r1);
    EXPECT(has_kv(r0, "event_type", "holmesgpt.response.complete") && strstr(r0, "\"response_data\":{") &&
               strstr(r0, "\"root_cause_analysis\""),
           "%s", r0);
    EXPECT(has_kv(r1, "event_type", "aianalysis.analysis.completed") && strstr(r1, "\"provider_response_summary\":{") &&
               has_kv(r1, "phase", "Completed") && strstr(r1, "\"approval_required\":false"),
           "%s", r1);
    free(r0);
    free(r1);
    n = link_seqs(&s, annal_index_correlation, "soc2b", "req-2025-01-05-abc123", seqs, 16);
    EXPECT(n == 1 && seqs[0] == foreign, "%ld events of soc2b", n);
    annal_tenant_view tv;
    CHECK(annal_view_tenant(s.ix, "soc2", &tv) == ANNAL_OK);
    EXPECT(tv.events == 3 && tv.by_domain[ANNAL_DOMAIN_SERVICE] == 3, "events %llu service %llu", U(tv.events),
           U(tv.by_domain[ANNAL_DOMAIN_SERVICE]));
    /* the type filter of the timeline finds the provider's two */
    EXPECT(count(&s, "soc2", "holmesgpt.response.complete", NULL) == 2, "provider events");
    /* an incident keeps the correlation id of its IncidentCreated */
    CHECK(EV(&s, "soc2c", "IncidentCreated", "2026-01-05T08:00:03Z",
             "incident_id=inc-77 correlation_id=req-2025-01-05-abc123 severity=LOW source=MANUAL"));
    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, "soc2c", "inc-77", &iv) == ANNAL_OK);
    EXPECT(!strcmp(iv.correlation.s, "req-2025-01-05-abc123"), "correlation %s", iv.correlation.s);
    vs_close(&s);
}

/* ---------------------------------------------------------------- tenants */

static void the_same_ids_in_two_tenants_never_mix_in_views_or_rules(void)
{
    vs s;
    CHECK(vs_open(&s, "tenants") == 0);
    const char *a = "t-a", *b = "t-b";
    CHECK(EV(&s, a, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-1 max_cents=1000"));
    CHECK(EV(&s, b, "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-1 max_cents=1000"));
    CHECK(EV(&s, a, "CostRecorded", at(10, 2, 10, 0), "run_id=r-1 api_key_id=k-1 cost_cents=850"));
    CHECK(EV(&s, b, "CostRecorded", at(10, 2, 10, 0), "run_id=r-1 api_key_id=k-1 cost_cents=850"));
    CHECK(EV(&s, a, "CostRecorded", at(10, 3, 10, 0), "run_id=r-1 api_key_id=k-1 cost_cents=250"));
    CHECK(EV(&s, b, "CostRecorded", at(10, 3, 10, 0), "run_id=r-1 api_key_id=k-1 cost_cents=250"));
    CHECK(EV(&s, b, "CostRecorded", at(10, 3, 12, 0), "run_id=r-1 api_key_id=k-1 cost_cents=100"));
    CHECK(EV(&s, a, "RunFailed", at(10, 3, 13, 0), "run_id=r-1"));
    CHECK(EV(&s, a, "IncidentCreated", at(10, 3, 14, 0), "incident_id=inc-x severity=LOW source=MANUAL title=a"));
    CHECK(EV(&s, b, "IncidentCreated", at(10, 3, 14, 0), "incident_id=inc-x severity=CRITICAL source=MANUAL title=b"));
    /* t-a: warning, breach (3), its proposal, run incident = 6;
     * t-b: warning, breach (3), its proposal, inc-x proposal = 6 */
    EXPECT(s.derived == 12, "derived %llu", U(s.derived));
    const char *types[] = {"LimitBreached", "IncidentCreated", "PolicyProposalCreated", "CostAnomalyDetected"};
    const long wa[] = {1, 3, 1, 2}, wb[] = {1, 2, 2, 2};
    for (int i = 0; i < 4; i++) {
        EXPECT(count(&s, a, types[i], NULL) == wa[i], "t-a %s: %ld", types[i], count(&s, a, types[i], NULL));
        EXPECT(count(&s, b, types[i], NULL) == wb[i], "t-b %s: %ld", types[i], count(&s, b, types[i], NULL));
    }
    annal_limit_spend sp;
    int st;
    CHECK(spend_at(&s, a, "lim-1", at(10, 3, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1100 && sp.cost_records == 2 && st == ANNAL_LIMIT_BREACHED, "t-a: %lld", L(sp.cents));
    CHECK(spend_at(&s, b, "lim-1", at(10, 3, 0, 0), &sp, &st) == 0);
    EXPECT(sp.cents == 1200 && sp.cost_records == 3 && st == ANNAL_LIMIT_BREACHED, "t-b: %lld", L(sp.cents));
    annal_run_view rv;
    CHECK(annal_view_run(s.ix, a, "r-1", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_FAILED && rv.cost_cents == 1100 && rv.incidents == 1 && rv.incident_derived,
           "t-a r-1: status %d cost %lld incidents %u", rv.status, L(rv.cost_cents), rv.incidents);
    CHECK(annal_view_run(s.ix, b, "r-1", &rv) == ANNAL_OK);
    EXPECT(rv.status == ANNAL_RUN_UNKNOWN && rv.cost_cents == 1200 && rv.incidents == 0 && !rv.incident_derived,
           "t-b r-1: status %d cost %lld incidents %u", rv.status, L(rv.cost_cents), rv.incidents);
    annal_incident_view iv;
    CHECK(annal_view_incident(s.ix, a, "inc-x", &iv) == ANNAL_OK);
    EXPECT(iv.severity == ANNAL_SEV_LOW && !iv.proposal_derived && !strcmp(iv.title.s, "a"), "t-a inc-x: %d",
           iv.severity);
    CHECK(annal_view_incident(s.ix, b, "inc-x", &iv) == ANNAL_OK);
    EXPECT(iv.severity == ANNAL_SEV_CRITICAL && iv.proposal_derived && !strcmp(iv.title.s, "b"), "t-b inc-x: %d",
           iv.severity);
    costsum ca = {0}, cb = {0};
    CHECK(annal_view_costs(s.ix, a, 0, 0, cost_cb, &ca) == ANNAL_OK);
    CHECK(annal_view_costs(s.ix, b, 0, 0, cost_cb, &cb) == ANNAL_OK);
    EXPECT(ca.facts == 2 && ca.cents == 1100 && cb.facts == 3 && cb.cents == 1200, "t-a %zu/%lld t-b %zu/%lld",
           ca.facts, L(ca.cents), cb.facts, L(cb.cents));
    annal_tenant_view ta, tb;
    CHECK(annal_view_tenant(s.ix, a, &ta) == ANNAL_OK);
    CHECK(annal_view_tenant(s.ix, b, &tb) == ANNAL_OK);
    EXPECT(ta.cost_cents == 1100 && tb.cost_cents == 1200 && ta.runs_failed == 1 && tb.runs_failed == 0 &&
               ta.incidents_total == 3 && tb.incidents_total == 2,
           "cost %lld/%lld failed %llu/%llu incidents %llu/%llu", L(ta.cost_cents), L(tb.cost_cents),
           U(ta.runs_failed), U(tb.runs_failed), U(ta.incidents_total), U(tb.incidents_total));
    /* A tenant that is a prefix of both has nothing. */
    EXPECT(annal_view_run(s.ix, "t", "r-1", &rv) == ANNAL_ENOTFOUND, "run of tenant t");
    EXPECT(annal_view_limit(s.ix, "t-", "lim-1", &(annal_limit_view){0}) == ANNAL_ENOTFOUND, "limit of tenant t-");
    EXPECT(annal_view_incident(s.ix, "t-c", "inc-x", &iv) == ANNAL_ENOTFOUND, "incident of tenant t-c");
    EXPECT(annal_view_run(s.ix, "t a", "r-1", &rv) == ANNAL_EINVAL, "a tenant with a space");
    EXPECT(annal_view_limit(s.ix, a, "lim 1", &(annal_limit_view){0}) == ANNAL_EINVAL, "an id with a space");
    vs_close(&s);
}

/* ---------------------------------------------------------------- idempotence, crash, determinism */

/* Client events of two tenants that trigger every rule but the day rules.
 * With settle, derived events are appended after each client event; without,
 * the client events are all appended first (and the index caught up). */
static int script_mixed(vs *s, int settle)
{
    int ok = evx(s, settle, "m", "LimitCreated", at(10, 1, 0, 0), "entity_id=lim-1 max_cents=1000") &&
             evx(s, settle, "m", "CostRecorded", at(10, 2, 10, 0), "run_id=r-1 cost_cents=900") &&
             evx(s, settle, "m", "CostRecorded", at(10, 3, 10, 0), "run_id=r-1 cost_cents=200") &&
             evx(s, settle, "m", "RunStarted", at(10, 3, 13, 0), "run_id=r-2") &&
             evx(s, settle, "m", "RunFailed", at(10, 3, 13, 5), "run_id=r-2") &&
             evx(s, settle, "m", "IncidentCreated", at(10, 3, 14, 0), "incident_id=inc-c severity=CRITICAL source=MANUAL") &&
             evx(s, settle, "n", "RunFailed", at(10, 3, 13, 5), "run_id=r-2");
    return ok ? 0 : -1;
}

/* Derived events of the mixed script, settled: warning, breach (3), the
 * breach incident's proposal, m's run incident, inc-c's proposal, n's run
 * incident. */
#define MIXED_DERIVED 8

static void check_mixed_counts(vs *s)
{
    EXPECT(count(s, "m", "CostAnomalyDetected", "BUDGET_WARNING") == 1, "warnings");
    EXPECT(count(s, "m", "CostAnomalyDetected", "BUDGET_EXCEEDED") == 1, "BUDGET_EXCEEDED");
    EXPECT(count(s, "m", "LimitBreached", NULL) == 1, "LimitBreached");
    EXPECT(count(s, "m", "IncidentCreated", NULL) == 3, "m: incidents %ld", count(s, "m", "IncidentCreated", NULL));
    EXPECT(count(s, "m", "PolicyProposalCreated", NULL) == 2, "m: proposals %ld",
           count(s, "m", "PolicyProposalCreated", NULL));
    EXPECT(count(s, "n", "IncidentCreated", NULL) == 1, "n: incidents %ld", count(s, "n", "IncidentCreated", NULL));
}

static int stop_after_one(void *ctx, const char *json, size_t len)
{
    (*(int *)ctx)++;
    return 1;
}

static int same_list(const slist *a, const slist *b, size_t from)
{
    if (a->n != b->n + from)
        return 0;
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(a->v[from + i], b->v[i]))
            return 0;
    return 1;
}

static void catching_up_again_or_reopening_or_reindexing_appends_nothing(void)
{
    vs s;
    CHECK(vs_open(&s, "idem") == 0);
    CHECK(script_mixed(&s, 1) == 0);
    CHECKF(s.derived == MIXED_DERIVED && s.last == 7 + MIXED_DERIVED, "derived %llu last %llu", U(s.derived),
           U(s.last));
    check_mixed_counts(&s);
    uint64_t last = s.last;
    /* again */
    CHECK(vs_settle(&s) == 0 && s.last == last);
    /* reopening the index */
    annal_index_close(s.ix);
    CHECK(vs_open_index(&s) == 0);
    CHECK(vs_settle(&s) == 0 && s.last == last);
    /* reopening both */
    vs_close(&s);
    CHECK(vs_open_log(&s) == 0 && s.last == last);
    CHECK(vs_open_index(&s) == 0);
    slist p;
    CHECK(vs_catch_up(&s) == 0 && vs_pending(&s, &p) == 0);
    EXPECT(p.n == 0, "%zu pending after reopening", p.n);
    sl_free(&p);
    unsigned char live[32], rebuilt[32];
    CHECK(annal_index_digest(s.ix, live) == ANNAL_OK);
    /* a reindex: same views, nothing pending */
    annal_index_close(s.ix);
    s.ix = NULL;
    uint64_t events = 0;
    CHECK(annal_index_rebuild(s.dir, NULL, NULL, NULL, &events) == ANNAL_OK && events == last);
    CHECK(vs_open_index(&s) == 0);
    CHECK(vs_catch_up(&s) == 0 && vs_pending(&s, &p) == 0);
    EXPECT(p.n == 0, "%zu pending after reindex", p.n);
    sl_free(&p);
    CHECK(annal_index_digest(s.ix, rebuilt) == ANNAL_OK);
    EXPECT(!memcmp(live, rebuilt, 32), "the digest of the live index differs from the reindex");
    CHECK(vs_settle(&s) == 0 && s.last == last);
    check_mixed_counts(&s);
    vs_close(&s);
}

static void a_crash_before_or_after_appending_derived_events_appends_each_once(void)
{
    vs s;
    CHECK(vs_open(&s, "crash") == 0);
    CHECK(script_mixed(&s, 0) == 0 && s.last == 7);
    /* Pending after the client events (by caused_by_seq): the warning (2),
     * the breach's three (3), m's run incident (5), inc-c's proposal (6),
     * n's run incident (7). The breach incident's proposal waits for the
     * incident to be in the log. */
    slist p1, p2;
    CHECK(vs_pending(&s, &p1) == 0);
    CHECKF(p1.n == 7, "%zu pending", p1.n);
    EXPECT(strstr(p1.v[0], "BUDGET_WARNING") && strstr(p1.v[1], "\"LimitBreached\"") &&
               strstr(p1.v[2], "BUDGET_EXCEEDED") && strstr(p1.v[3], "\"IncidentCreated\"") &&
               strstr(p1.v[4], "RUN_FAILURE") && strstr(p1.v[5], "\"PolicyProposalCreated\"") &&
               strstr(p1.v[6], "\"tenant_id\":\"n\""),
           "pending order: %s ...", p1.v[0]);
    for (size_t i = 0; i < p1.n; i++)
        EXPECT(!derived_bad(p1.v[i], 0), "pending %zu: %s: %s", i, derived_bad(p1.v[i], 0), p1.v[i]);
    /* fn stops the walk: *count is how many were passed */
    size_t cnt = 0;
    int calls = 0;
    CHECK(annal_index_pending(s.ix, stop_after_one, &calls, &cnt) == ANNAL_OK);
    EXPECT(calls == 1 && cnt == 1, "calls %d count %zu", calls, cnt);
    /* a crash before appending them: the same pending set after reopening */
    annal_index_close(s.ix);
    CHECK(vs_open_index(&s) == 0 && vs_catch_up(&s) == 0 && vs_pending(&s, &p2) == 0);
    EXPECT(same_list(&p1, &p2, 0), "pending differs after reopening (%zu)", p2.n);
    sl_free(&p2);
    /* a crash after appending the first, before the index saw it */
    CHECK(vs_append(&s, p1.v[0], strlen(p1.v[0])) == 8);
    annal_index_close(s.ix);
    CHECK(vs_open_index(&s) == 0 && vs_catch_up(&s) == 0 && vs_pending(&s, &p2) == 0);
    EXPECT(same_list(&p1, &p2, 1), "pending after the first was appended: %zu", p2.n);
    sl_free(&p2);
    /* the same after a reindex */
    annal_index_close(s.ix);
    s.ix = NULL;
    CHECK(annal_index_rebuild(s.dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK(vs_open_index(&s) == 0 && vs_catch_up(&s) == 0 && vs_pending(&s, &p2) == 0);
    EXPECT(same_list(&p1, &p2, 1), "pending after reindex: %zu", p2.n);
    sl_free(&p2);
    /* the rest, then the breach incident's proposal */
    for (size_t i = 1; i < p1.n; i++)
        CHECK(vs_append(&s, p1.v[i], strlen(p1.v[i])));
    CHECK(vs_catch_up(&s) == 0 && vs_pending(&s, &p2) == 0);
    EXPECT(p2.n == 1 && strstr(p2.v[0], "\"PolicyProposalCreated\""), "%zu pending after all", p2.n);
    sl_free(&p2);
    CHECK(vs_settle(&s) == 1 && s.last == 7 + MIXED_DERIVED);
    check_mixed_counts(&s);
    /* each derived event_id once */
    slist ids = {0};
    for (uint64_t q = 8; q <= s.last; q++) {
        char *r = fetch(&s, NULL, q), id[256];
        CHECK(r);
        get_str(r, "event_id", id, sizeof(id));
        free(r);
        for (size_t i = 0; i < ids.n; i++)
            EXPECT(strcmp(ids.v[i], id), "event_id %s twice", id);
        sl_push(&ids, id, strlen(id));
    }
    sl_free(&ids);
    sl_free(&p1);
    vs_close(&s);
}

/* The record without its {"seq":N,"recorded_at":"..." prefix. */
static const char *record_body(const char *rec)
{
    const char *p = strstr(rec, "\"recorded_at\":\"");
    if (!p)
        return rec;
    p = strchr(p + 15, '"');
    return p ? p + 1 : rec;
}

static void derived_event_ids_are_deterministic_across_stores(void)
{
    vs x, y;
    CHECK(vs_open(&x, "det-a") == 0 && vs_open(&y, "det-b") == 0);
    CHECK(script_mixed(&x, 1) == 0 && script_mixed(&y, 1) == 0);
    CHECK(x.last == y.last && x.derived == MIXED_DERIVED);
    /* Same client events in the same order: the logs are equal but for
     * recorded_at, derived events included. */
    size_t nderived = 0;
    for (uint64_t q = 1; q <= x.last; q++) {
        char *a = fetch(&x, NULL, q), *b = fetch(&y, NULL, q);
        CHECK(a && b);
        EXPECT(!strcmp(record_body(a), record_body(b)), "seq %llu differs:\n  %s\n  %s", U(q), a, b);
        if (strstr(a, "\"actor_id\":\"annal-rules\""))
            nderived++;
        free(a);
        free(b);
    }
    EXPECT(nderived == MIXED_DERIVED, "%zu derived", nderived);
    /* Fed in another rhythm (all client events, then the rules' events),
     * the derived events get other seqs and caused_by_seq but the same
     * event_ids (INDEX.md: SHA-256 of the tenant and the rule's key). */
    vs z;
    CHECK(vs_open(&z, "det-c") == 0);
    CHECK(script_mixed(&z, 0) == 0 && vs_settle(&z) == MIXED_DERIVED);
    slist ix_ids = {0}, iz_ids = {0};
    for (uint64_t q = 1; q <= x.last; q++) {
        char *a = fetch(&x, NULL, q), *c = fetch(&z, NULL, q), id[256];
        CHECK(a && c);
        if (strstr(a, "\"actor_id\":\"annal-rules\"")) {
            get_str(a, "event_id", id, sizeof(id));
            sl_push(&ix_ids, id, strlen(id));
        }
        if (strstr(c, "\"actor_id\":\"annal-rules\"")) {
            get_str(c, "event_id", id, sizeof(id));
            sl_push(&iz_ids, id, strlen(id));
        }
        free(a);
        free(c);
    }
    CHECKF(ix_ids.n == MIXED_DERIVED && iz_ids.n == MIXED_DERIVED, "%zu and %zu derived", ix_ids.n, iz_ids.n);
    for (size_t i = 0; i < ix_ids.n; i++) {
        int found = 0;
        for (size_t j = 0; j < iz_ids.n; j++)
            found |= !strcmp(ix_ids.v[i], iz_ids.v[j]);
        EXPECT(found, "event_id %s of det-a is not in det-c", ix_ids.v[i]);
    }
    sl_free(&ix_ids);
    sl_free(&iz_ids);
    vs_close(&x);
    vs_close(&y);
    vs_close(&z);
}

static void the_getters_reject_bad_ids_and_answer_not_found(void)
{
    vs s;
    CHECK(vs_open(&s, "args") == 0);
    CHECK(EV(&s, "g", "RunStarted", at(10, 1, 0, 0), "run_id=r-1"));
    annal_run_view rv;
    annal_incident_view iv;
    annal_limit_view lv;
    annal_limit_spend sp;
    annal_proposal_view pv;
    CHECK(annal_view_run(s.ix, "g", "r-1", &rv) == ANNAL_OK && rv.status == ANNAL_RUN_RUNNING);
    EXPECT(annal_view_run(s.ix, "g", "", &rv) == ANNAL_EINVAL, "empty run id");
    EXPECT(annal_view_run(s.ix, "", "r-1", &rv) == ANNAL_EINVAL, "empty tenant");
    EXPECT(annal_view_incident(s.ix, "g", "inc\"", &iv) == ANNAL_EINVAL, "a quote in an id");
    EXPECT(annal_view_limit(s.ix, "g", "lim-1", &lv) == ANNAL_ENOTFOUND, "an unknown limit");
    EXPECT(annal_view_limit_spend(s.ix, "g", "lim-1", 0, &sp) == ANNAL_ENOTFOUND, "the spend of an unknown limit");
    EXPECT(annal_view_proposal(s.ix, "g", "prop-x", &pv) == ANNAL_ENOTFOUND, "an unknown proposal");
    EXPECT(annal_view_run(s.ix, "h", "r-1", &rv) == ANNAL_ENOTFOUND, "another tenant's run");
    qlist q;
    EXPECT(queue_of(&s, "g", &q) == ANNAL_OK && q.n == 0, "the queue of a quiet tenant");
    vs_close(&s);
}

int main(void)
{
    base = tu_tmpdir("views");
    T_RUN(budget_warning_then_breach_escalate_to_an_incident_and_a_proposal);
    T_RUN(a_breach_under_a_limit_override_escalates_only_after_the_revocation);
    T_RUN(a_breach_under_the_emergency_override_escalates_after_its_deactivation);
    T_RUN(a_second_breach_in_the_period_adds_nothing_and_the_next_month_escalates_again);
    T_RUN(a_daily_limit_escalates_once_per_day);
    T_RUN(one_cost_that_crosses_both_thresholds_warns_and_escalates);
    T_RUN(limits_add_only_costs_in_their_scope_and_after_their_creation);
    T_RUN(every_limit_of_a_tenant_with_many_limits_is_charged);
    T_RUN(spike_and_drift_fire_once_on_day_close_and_only_with_a_baseline);
    T_RUN(a_run_failure_creates_one_incident_per_run);
    T_RUN(incidents_are_acknowledged_resolved_and_closed_and_leave_the_queue);
    T_RUN(run_cost_incident_cost_impact_and_cost_per_api_key);
    T_RUN(a_correlation_id_reconstructs_provider_and_consumer_events);
    T_RUN(the_same_ids_in_two_tenants_never_mix_in_views_or_rules);
    T_RUN(catching_up_again_or_reopening_or_reindexing_appends_nothing);
    T_RUN(a_crash_before_or_after_appending_derived_events_appends_each_once);
    T_RUN(derived_event_ids_are_deterministic_across_stores);
    T_RUN(the_getters_reject_bad_ids_and_answer_not_found);
    if (!t_failed)
        tu_rmtree(base);
    else
        fprintf(stderr, "test_views: stores kept in %s\n", base);
    free(base);
    return t_done_named("test_views");
}
