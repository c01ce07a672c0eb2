/*
 * rules.c - the rules of PRODUCT.md §4 (views.h "rules"): deciding the
 * derived events inside the fold, keeping them pending until they are in
 * the log, and handing the pending ones to whoever appends them.
 *
 * A pending entry: key tenant\0event_id, value be64(caused_by_seq) ||
 * u8(order) || the client event JSON.
 */
#include "index/fold.h"
#include "index/vcache.h"

#include "store/hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULES_ACTOR "annal-rules"

/* "<prefix>" + hex digits of SHA-256(tenant \0 parts...) into out. */
static void derive_id(char *out, size_t hexdigits, const char *prefix, const annal_slice *t,
                      const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%.*s", (int)t->n, t->p);
    buf[n++] = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    if ((size_t)m >= sizeof(buf) - (size_t)n)
        m = (int)(sizeof(buf) - (size_t)n - 1);
    unsigned char h[32];
    annal_sha256_2(buf, (size_t)n + (size_t)m, NULL, 0, h);
    char hex[65];
    annal_hex32(h, hex);
    sprintf(out, "%s%.*s", prefix, (int)hexdigits, hex);
}

/* A derived event under construction. */
typedef struct dev {
    char json[2048];
    size_t n;
    int overflow;
} dev;

static void add(dev *d, const char *fmt, ...)
{
    if (d->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(d->json + d->n, sizeof(d->json) - d->n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= sizeof(d->json) - d->n)
        d->overflow = 1;
    else
        d->n += (size_t)m;
}

/* Start the event: envelope members common to every derived event. */
static void begin(dev *d, const annal_fold_rec *r, const char *type, const char *event_id)
{
    char when[31];
    annal_time_format(r->time_ns, when);
    d->n = 0;
    d->overflow = 0;
    const annal_slice *t = &r->ev.tenant_id;
    add(d, "{\"tenant_id\":\"%.*s\",\"event_type\":\"%s\",\"event_id\":\"%s\",\"occurred_at\":\"%s\","
           "\"actor_type\":\"SYSTEM\",\"actor_id\":\"" RULES_ACTOR "\"",
        (int)t->n, t->p, type, event_id, when);
}

/* Record the finished event d (its data object already closed by the
 * caller with caused_by_seq) as pending, unless it is already. */
static int pending(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const char *event_id,
                   int order, dev *d)
{
    if (d->overflow)
        return ANNAL_EINVAL; /* cannot happen: every part is bounded */
    const annal_slice *t = &r->ev.tenant_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    int rc = ix_vc_get(ix, txn, IX_PENDING, key, ix_key(key, t->p, t->n, event_id, strlen(event_id)), &e);
    if (rc || e->present)
        return rc;
    unsigned char val[9 + sizeof(d->json)];
    ix_be64(val, r->seq);
    val[8] = (unsigned char)order;
    memcpy(val + 9, d->json, d->n);
    return ix_vc_set(e, val, 9 + d->n);
}

static const char *sev_name(int s)
{
    static const char *names[] = {"LOW", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    return names[s < 0 || s > 4 ? 0 : s];
}

static void day_str(int64_t day, char out[11])
{
    char t[31];
    annal_time_format(day * IX_DAY_NS, t);
    memcpy(out, t, 10);
    out[10] = 0;
}

/* ---------------------------------------------------------------- day close */

static int64_t spend(const annal_tenant_view *tv, int64_t day)
{
    int slot = (int)(((day % ANNAL_VIEW_DAYS) + ANNAL_VIEW_DAYS) % ANNAL_VIEW_DAYS);
    return tv->day_num[slot] == day ? tv->day_cents[slot] : 0;
}

static int64_t sum(const annal_tenant_view *tv, int64_t from, int64_t to) /* days from..to */
{
    int64_t s = 0;
    for (int64_t d = from; d <= to; d++)
        s = ix_add(s, spend(tv, d));
    return s;
}

static int band(int64_t value7, int64_t base7) /* severity from value7 / base7 (both x7 scaled) */
{
    __int128 pct = ((__int128)value7 - base7) * 100 / base7;
    return pct > 40 ? ANNAL_SEV_HIGH : pct > 25 ? ANNAL_SEV_MEDIUM : ANNAL_SEV_LOW;
}

static int anomaly(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const char *kind,
                   int64_t day, int sev, int64_t value, int64_t threshold)
{
    const annal_slice *t = &r->ev.tenant_id;
    char id[64], ds[11];
    day_str(day, ds);
    derive_id(id, 32, "annal-", t, "%s\n%s", kind, ds);
    dev d;
    begin(&d, r, "CostAnomalyDetected", id);
    add(&d, ",\"summary\":\"%s of the tenant's daily spend on %s\",\"data\":{\"anomaly_type\":\"%s\","
            "\"severity\":\"%s\",\"scope\":\"tenant\",\"scope_id\":\"%.*s\",\"value_cents\":%lld,"
            "\"threshold_cents\":%lld,\"day\":\"%s\",\"caused_by_seq\":%llu}}",
        kind, ds, kind, sev_name(sev), (int)t->n, t->p, (long long)value, (long long)threshold, ds,
        (unsigned long long)r->seq);
    return pending(ix, txn, r, id, 0, &d);
}

int ix_rule_day_close(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, annal_tenant_view *tv,
                      int64_t day)
{
    /* Days more than 16 after the last day with events cannot meet either
     * condition (their windows hold no spend): stop there. */
    int64_t to = day;
    if (to - tv->cur_day > ANNAL_VIEW_DAYS)
        to = tv->cur_day + ANNAL_VIEW_DAYS;
    for (int64_t D = tv->cur_day; D < to; D++) {
        int rc;
        /* ABSOLUTE_SPIKE: D and D-1 above 1.4 x the mean of D-8..D-2 */
        if (tv->first_day <= D - 8) {
            int64_t base = sum(tv, D - 8, D - 2); /* 7 days */
            int64_t s0 = spend(tv, D), s1 = spend(tv, D - 1);
            if (base > 0 && (__int128)s0 * 5 > base && (__int128)s1 * 5 > base) { /* s > 1.4 * base / 7 */
                if (tv->last_spike_day != D - 1 &&
                    (rc = anomaly(ix, txn, r, "ABSOLUTE_SPIKE", D, band((int64_t)((__int128)s0 * 7 > INT64_MAX ? INT64_MAX : s0 * 7), base), s0, base / 5)))
                    return rc;
                tv->last_spike_day = D;
            }
        }
        /* SUSTAINED_DRIFT: the 7-day mean ending on D, D-1, D-2 above 1.25 x the 7 days before */
        if (tv->first_day <= D - 15) {
            int met = 1;
            for (int64_t X = D - 2; X <= D && met; X++) {
                int64_t a = sum(tv, X - 6, X), b = sum(tv, X - 13, X - 7);
                met = b > 0 && (__int128)a * 100 > (__int128)b * 125;
            }
            if (met) {
                int64_t a = sum(tv, D - 6, D), b = sum(tv, D - 13, D - 7);
                if (tv->last_drift_day != D - 1 &&
                    (rc = anomaly(ix, txn, r, "SUSTAINED_DRIFT", D, band(a, b), a / 7, (int64_t)((__int128)b * 125 / 700))))
                    return rc;
                tv->last_drift_day = D;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- budgets */

int ix_rule_budget(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const annal_tenant_view *tv,
                   const char *lid, size_t ln, const annal_limit_view *l, annal_limit_spend *s)
{
    if (l->max_cents <= 0)
        return 0;
    const annal_slice *t = &r->ev.tenant_id;
    char ps[31];
    annal_time_format(s->period_start_ns, ps);
    const char *scope = l->scope.n ? l->scope.s : "tenant";
    char scope_id[ANNAL_VIEW_STR_MAX + 1];
    snprintf(scope_id, sizeof(scope_id), "%.*s", (int)(l->scope_id.n ? l->scope_id.n : t->n),
             l->scope_id.n ? l->scope_id.s : t->p);
    int rc;
    dev d;
    char id[64];
    if (!(s->flags & ANNAL_SPEND_WARNED) && (__int128)s->cents * 100 >= (__int128)l->warn_pct * l->max_cents) {
        s->flags |= ANNAL_SPEND_WARNED;
        s->warn_seq = r->seq;
        derive_id(id, 32, "annal-", t, "budget-warning\n%.*s\n%s", (int)ln, lid, ps);
        begin(&d, r, "CostAnomalyDetected", id);
        add(&d, ",\"summary\":\"Spend reached %u%% of limit %.*s\",\"data\":{\"anomaly_type\":"
                "\"BUDGET_WARNING\",\"severity\":\"MEDIUM\",\"scope\":\"%s\",\"scope_id\":\"%s\","
                "\"value_cents\":%lld,\"threshold_cents\":%lld,\"limit_id\":\"%.*s\",\"period_start\":\"%s\","
                "\"caused_by_seq\":%llu}}",
            l->warn_pct, (int)ln, lid, scope, scope_id, (long long)s->cents,
            (long long)((__int128)l->max_cents * l->warn_pct / 100), (int)ln, lid, ps, (unsigned long long)r->seq);
        if ((rc = pending(ix, txn, r, id, 0, &d)))
            return rc;
    }
    if (!(s->flags & ANNAL_SPEND_ESCALATED) && s->cents > l->max_cents) {
        if (l->override_active || tv->emergency_override) {
            s->flags |= ANNAL_SPEND_SUPPRESSED;
            return 0;
        }
        s->flags |= ANNAL_SPEND_ESCALATED;
        s->breach_seq = r->seq;
        char inc[64];
        derive_id(inc, 24, "inc-annal-", t, "budget\n%.*s\n%s", (int)ln, lid, ps);
        derive_id(id, 32, "annal-", t, "limit-breached\n%.*s\n%s", (int)ln, lid, ps);
        begin(&d, r, "LimitBreached", id);
        add(&d, ",\"entity_type\":\"LIMIT\",\"entity_id\":\"%.*s\",\"summary\":\"Limit %.*s exceeded: "
                "%lld of %lld cents\",\"data\":{\"period_start\":\"%s\",\"used_cents\":%lld,\"max_cents\":%lld,"
                "\"caused_by_seq\":%llu}}",
            (int)ln, lid, (int)ln, lid, (long long)s->cents, (long long)l->max_cents, ps,
            (long long)s->cents, (long long)l->max_cents, (unsigned long long)r->seq);
        if ((rc = pending(ix, txn, r, id, 1, &d)))
            return rc;
        derive_id(id, 32, "annal-", t, "budget-exceeded\n%.*s\n%s", (int)ln, lid, ps);
        begin(&d, r, "CostAnomalyDetected", id);
        add(&d, ",\"incident_id\":\"%s\",\"summary\":\"Spend exceeded limit %.*s\",\"data\":{\"anomaly_type\":"
                "\"BUDGET_EXCEEDED\",\"severity\":\"HIGH\",\"scope\":\"%s\",\"scope_id\":\"%s\","
                "\"value_cents\":%lld,\"threshold_cents\":%lld,\"limit_id\":\"%.*s\",\"period_start\":\"%s\","
                "\"caused_by_seq\":%llu}}",
            inc, (int)ln, lid, scope, scope_id, (long long)s->cents, (long long)l->max_cents, (int)ln, lid,
            ps, (unsigned long long)r->seq);
        if ((rc = pending(ix, txn, r, id, 2, &d)))
            return rc;
        derive_id(id, 32, "annal-", t, "budget-incident\n%.*s\n%s", (int)ln, lid, ps);
        begin(&d, r, "IncidentCreated", id);
        add(&d, ",\"incident_id\":\"%s\",\"entity_type\":\"INCIDENT\",\"entity_id\":\"%s\",\"summary\":"
                "\"Budget limit %.*s exceeded\",\"data\":{\"category\":\"BUDGET_EXCEEDED\",\"severity\":\"HIGH\","
                "\"source\":\"COST_ANOMALY\",\"title\":\"Budget limit %.*s exceeded for the period from %.10s\","
                "\"limit_id\":\"%.*s\",\"used_cents\":%lld,\"max_cents\":%lld,\"caused_by_seq\":%llu}}",
            inc, inc, (int)ln, lid, (int)ln, lid, ps, (int)ln, lid, (long long)s->cents,
            (long long)l->max_cents, (unsigned long long)r->seq);
        if ((rc = pending(ix, txn, r, id, 3, &d)))
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- runs, incidents */

int ix_rule_run_failed(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, annal_run_view *rv)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    rv->incident_derived = 1;
    char inc[64], id[64];
    derive_id(inc, 24, "inc-annal-", t, "run-failed\n%.*s", (int)ev->run_id.n, ev->run_id.p);
    derive_id(id, 32, "annal-", t, "run-failed\n%.*s", (int)ev->run_id.n, ev->run_id.p);
    dev d;
    begin(&d, r, "IncidentCreated", id);
    add(&d, ",\"incident_id\":\"%s\",\"run_id\":\"%.*s\",\"entity_type\":\"INCIDENT\",\"entity_id\":\"%s\"",
        inc, (int)ev->run_id.n, ev->run_id.p, inc);
    if (ev->api_key_id.n)
        add(&d, ",\"api_key_id\":\"%.*s\"", (int)ev->api_key_id.n, ev->api_key_id.p);
    if (ev->correlation_id.n)
        add(&d, ",\"correlation_id\":\"%.*s\"", (int)ev->correlation_id.n, ev->correlation_id.p);
    add(&d, ",\"summary\":\"Run %.*s failed\",\"data\":{\"category\":\"RUN_FAILURE\",\"severity\":\"MEDIUM\","
            "\"source\":\"RUN_FAILURE\",\"title\":\"Run %.*s failed%s%s\"",
        (int)ev->run_id.n, ev->run_id.p, (int)ev->run_id.n, ev->run_id.p, rv->error_code.n ? ": " : "",
        rv->error_code.s);
    if (rv->error_code.n)
        add(&d, ",\"error_code\":\"%s\"", rv->error_code.s);
    add(&d, ",\"caused_by_seq\":%llu}}", (unsigned long long)r->seq);
    return pending(ix, txn, r, id, 0, &d);
}

int ix_rule_proposal(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, annal_incident_view *iv)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    iv->proposal_derived = 1;
    char prop[64], id[64];
    derive_id(prop, 24, "prop-annal-", t, "proposal\n%.*s", (int)ev->incident_id.n, ev->incident_id.p);
    derive_id(id, 32, "annal-", t, "proposal\n%.*s", (int)ev->incident_id.n, ev->incident_id.p);
    dev d;
    begin(&d, r, "PolicyProposalCreated", id);
    add(&d, ",\"entity_type\":\"POLICY_PROPOSAL\",\"entity_id\":\"%s\",\"incident_id\":\"%.*s\","
            "\"summary\":\"Draft policy proposed after %s incident %.*s\",\"data\":{\"status\":\"DRAFT\","
            "\"triggering_incident_id\":\"%.*s\",\"category\":\"%s\",\"caused_by_seq\":%llu}}",
        prop, (int)ev->incident_id.n, ev->incident_id.p, sev_name(iv->severity), (int)ev->incident_id.n,
        ev->incident_id.p, (int)ev->incident_id.n, ev->incident_id.p, iv->category.s,
        (unsigned long long)r->seq);
    return pending(ix, txn, r, id, 0, &d);
}

int ix_rule_landed(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r)
{
    const annal_event *ev = &r->ev;
    /* Only the rules' own events (actor SYSTEM annal-rules) discharge a
     * pending entry; the HTTP ingest refuses client event_ids starting
     * with "annal-". */
    if (ev->event_id.n < 6 || memcmp(ev->event_id.p, "annal-", 6) != 0 ||
        ev->actor_id.n != sizeof(RULES_ACTOR) - 1 || memcmp(ev->actor_id.p, RULES_ACTOR, ev->actor_id.n) != 0 ||
        ev->actor_type.n != 6 || memcmp(ev->actor_type.p, "SYSTEM", 6) != 0)
        return 0;
    const annal_slice *t = &ev->tenant_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    int rc = ix_vc_get(ix, txn, IX_PENDING, key, ix_key(key, t->p, t->n, ev->event_id.p, ev->event_id.n), &e);
    if (rc == 0 && e->present)
        ix_vc_del(e);
    return rc;
}

/* ---------------------------------------------------------------- handing out */

typedef struct pend {
    uint64_t seq;
    int order;
    char *json;
    size_t n;
} pend;

static int pend_cmp(const void *a, const void *b)
{
    const pend *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

int annal_index_pending(annal_index *ix, annal_view_pending_fn fn, void *ctx, size_t *count)
{
    if (count)
        *count = 0;
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    MDB_cursor *c;
    pend *list = NULL;
    size_t n = 0, cap = 0;
    if ((rc = mdb_cursor_open(txn, ix->dbi[IX_PENDING], &c)) == 0) {
        MDB_val k, v;
        for (int op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0; op = MDB_NEXT) {
            if (v.mv_size < 10) {
                rc = ANNAL_EINDEX;
                break;
            }
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                pend *nl = realloc(list, nc * sizeof(*nl));
                if (!nl) {
                    rc = ANNAL_ENOMEM;
                    break;
                }
                list = nl;
                cap = nc;
            }
            const unsigned char *p = v.mv_data;
            pend *e = &list[n];
            e->seq = ix_get_be64(p);
            e->order = p[8];
            e->n = v.mv_size - 9;
            if (!(e->json = malloc(e->n))) {
                rc = ANNAL_ENOMEM;
                break;
            }
            memcpy(e->json, p + 9, e->n);
            n++;
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
        mdb_cursor_close(c);
    }
    ix_read_end(ix, txn);
    if (rc == 0) {
        if (n)
            qsort(list, n, sizeof(*list), pend_cmp);
        size_t i = 0;
        for (; i < n && fn(ctx, list[i].json, list[i].n) == 0; i++)
            ;
        if (count)
            *count = i < n ? i + 1 : n;
    }
    for (size_t i = 0; i < n; i++)
        free(list[i].json);
    free(list);
    return ix_err(rc);
}
