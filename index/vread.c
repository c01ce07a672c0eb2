/*
 * vread.c - the reads of the views (views.h).
 */
#include "index/vcache.h"

#include "store/bytes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t annal_period_start(int period, int64_t t_ns)
{
    int64_t day = t_ns / IX_DAY_NS - (t_ns % IX_DAY_NS < 0);
    if (period == ANNAL_PERIOD_DAILY)
        return day * IX_DAY_NS;
    /* civil date of `day` (days since 1970-01-01), then back to the 1st */
    time_t secs = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&secs, &tm);
    return (day - (tm.tm_mday - 1)) * IX_DAY_NS;
}

int annal_limit_status_of(const annal_limit_view *l, const annal_limit_spend *s)
{
    if (l->max_cents <= 0)
        return ANNAL_LIMIT_OK;
    if (s->cents > l->max_cents)
        return ANNAL_LIMIT_BREACHED;
    if ((__int128)s->cents * 100 >= (__int128)l->warn_pct * l->max_cents)
        return ANNAL_LIMIT_NEAR;
    return ANNAL_LIMIT_OK;
}

/* Read the value of (db, tenant\0id) and decode it with unpack. */
typedef int (*unpack_fn)(const unsigned char *p, size_t n, void *v);

static int get_one(annal_index *ix, enum ix_db db, const char *tenant, const char *id, unpack_fn unpack,
                   void *out)
{
    size_t tn = tenant ? strlen(tenant) : 0, idn = id ? strlen(id) : 0;
    if (!ix || !out || !ix_valid_id(tenant, tn) || (id && !ix_valid_id(id, idn)))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX];
    MDB_val k = {ix_key(key, tenant, tn, id, idn), key}, v;
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    rc = mdb_get(txn, ix->dbi[db], &k, &v);
    if (rc == 0)
        rc = unpack(v.mv_data, v.mv_size, out);
    else if (rc == MDB_NOTFOUND)
        rc = ANNAL_ENOTFOUND;
    ix_read_end(ix, txn);
    return ix_err(rc);
}

int annal_view_run(annal_index *ix, const char *tenant, const char *run_id, annal_run_view *out)
{
    return get_one(ix, IX_V_RUN, tenant, run_id, (unpack_fn)ix_unpack_run, out);
}

int annal_view_incident(annal_index *ix, const char *tenant, const char *incident_id,
                        annal_incident_view *out)
{
    return get_one(ix, IX_V_INCIDENT, tenant, incident_id, (unpack_fn)ix_unpack_incident, out);
}

int annal_view_limit(annal_index *ix, const char *tenant, const char *limit_id, annal_limit_view *out)
{
    return get_one(ix, IX_V_LIMIT, tenant, limit_id, (unpack_fn)ix_unpack_limit, out);
}

int annal_view_proposal(annal_index *ix, const char *tenant, const char *proposal_id,
                        annal_proposal_view *out)
{
    return get_one(ix, IX_V_PROPOSAL, tenant, proposal_id, (unpack_fn)ix_unpack_proposal, out);
}

int annal_view_tenant(annal_index *ix, const char *tenant, annal_tenant_view *out)
{
    return get_one(ix, IX_V_TENANT, tenant, NULL, (unpack_fn)ix_unpack_tenant, out);
}

/* Walk the keys of db that start with prefix[0..pn) from start[0..sn):
 * fn(ctx, key, value) until it returns non-zero or the prefix ends. */
typedef int (*walk_fn)(void *ctx, const MDB_val *k, const MDB_val *v);

static int walk(annal_index *ix, enum ix_db db, const unsigned char *prefix, size_t pn,
                const unsigned char *start, size_t sn, walk_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, ix->dbi[db], &c)) == 0) {
        MDB_val k = {sn, (void *)start}, v;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (k.mv_size < pn || memcmp(k.mv_data, prefix, pn) != 0)
                break;
            if ((rc = fn(ctx, &k, &v)))
                break;
        }
        if (rc == MDB_NOTFOUND || rc == 1)
            rc = 0;
        mdb_cursor_close(c);
    }
    ix_read_end(ix, txn);
    return ix_err(rc);
}

/* ---- incident cost */

typedef struct inc_ctx {
    size_t pn;
    const annal_incident_view *iv;
    annal_view_run_cents_fn fn;
    void *ctx;
    int64_t cents;
    uint64_t runs;
    int err;
} inc_ctx;

static int inc_run(void *arg, const MDB_val *k, const MDB_val *v)
{
    inc_ctx *c = arg;
    if (v->mv_size != 8) {
        c->err = ANNAL_EINDEX;
        return 1;
    }
    const char *run = (const char *)k->mv_data + c->pn;
    size_t rn = k->mv_size - c->pn;
    if (c->iv && ix_vstr_eq(&c->iv->source_run, run, rn))
        return 0; /* counted through the source run */
    int64_t cents = (int64_t)annal_get_u64(v->mv_data);
    c->cents = ix_add(c->cents, cents);
    c->runs++;
    return c->fn && c->fn(c->ctx, run, rn, cents) ? 1 : 0;
}

static int incident_runs(annal_index *ix, const char *tenant, const char *incident_id,
                         const annal_incident_view *iv, inc_ctx *c)
{
    unsigned char key[IX_KEY_MAX + 1];
    size_t kl = ix_key(key, tenant, strlen(tenant), incident_id, strlen(incident_id));
    key[kl++] = 0;
    c->pn = kl;
    c->iv = iv;
    int rc = walk(ix, IX_V_INC_RUN, key, kl, key, kl, inc_run, c);
    return rc ? rc : c->err;
}

int annal_view_incident_cost(annal_index *ix, const char *tenant, const char *incident_id,
                             int64_t *cents, uint64_t *runs)
{
    annal_incident_view iv;
    int rc = annal_view_incident(ix, tenant, incident_id, &iv);
    if (rc)
        return rc;
    inc_ctx c = {0};
    if ((rc = incident_runs(ix, tenant, incident_id, &iv, &c)))
        return rc;
    int64_t total = ix_add(c.cents, iv.direct_cents);
    uint64_t nruns = c.runs;
    if (iv.source_run.n) {
        annal_run_view rv;
        rc = annal_view_run(ix, tenant, iv.source_run.s, &rv);
        if (rc == ANNAL_OK)
            total = ix_add(total, rv.cost_cents);
        else if (rc != ANNAL_ENOTFOUND)
            return rc;
        nruns++;
    }
    if (cents)
        *cents = total;
    if (runs)
        *runs = nruns;
    return ANNAL_OK;
}

int annal_view_incident_runs(annal_index *ix, const char *tenant, const char *incident_id,
                             annal_view_run_cents_fn fn, void *ctx)
{
    annal_incident_view iv;
    int rc = annal_view_incident(ix, tenant, incident_id, &iv);
    if (rc)
        return rc;
    inc_ctx c = {.fn = fn, .ctx = ctx};
    return incident_runs(ix, tenant, incident_id, &iv, &c);
}

/* ---- limits */

int annal_view_limit_spend(annal_index *ix, const char *tenant, const char *limit_id, int64_t at_ns,
                           annal_limit_spend *out)
{
    annal_limit_view l;
    int rc = annal_view_limit(ix, tenant, limit_id, &l);
    if (rc)
        return rc;
    int64_t ps = annal_period_start(l.period, at_ns);
    unsigned char key[IX_KEY_MAX + 9];
    size_t kl = ix_key(key, tenant, strlen(tenant), limit_id, strlen(limit_id));
    key[kl++] = 0;
    ix_be64(key + kl, (uint64_t)ps);
    kl += 8;
    MDB_txn *txn;
    if ((rc = ix_read_begin(ix, &txn)))
        return ix_err(rc);
    MDB_val k = {kl, key}, v;
    rc = mdb_get(txn, ix->dbi[IX_V_SPEND], &k, &v);
    if (rc == 0)
        rc = ix_unpack_spend(v.mv_data, v.mv_size, out);
    else if (rc == MDB_NOTFOUND) {
        memset(out, 0, sizeof(*out));
        out->period_start_ns = ps;
        rc = 0;
    }
    ix_read_end(ix, txn);
    return ix_err(rc);
}

typedef struct lim_ctx {
    size_t pn;
    annal_view_limit_fn fn;
    void *ctx;
    int err;
} lim_ctx;

static int lim_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    lim_ctx *c = arg;
    annal_limit_view l;
    if ((c->err = ix_unpack_limit(v->mv_data, v->mv_size, &l)))
        return 1;
    return c->fn(c->ctx, (const char *)k->mv_data + c->pn, k->mv_size - c->pn, &l) ? 1 : 0;
}

int annal_view_limits(annal_index *ix, const char *tenant, annal_view_limit_fn fn, void *ctx)
{
    size_t tn = tenant ? strlen(tenant) : 0;
    if (!ix || !fn || !ix_valid_id(tenant, tn))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX];
    size_t kl = ix_key(key, tenant, tn, NULL, 0);
    lim_ctx c = {kl, fn, ctx, 0};
    int rc = walk(ix, IX_V_LIMIT, key, kl, key, kl, lim_one, &c);
    return rc ? rc : c.err;
}

/* ---- time-ordered lists: costs, usage, ledger */

typedef struct time_ctx {
    size_t pn;
    int64_t to;
    int kind; /* 0 cost, 1 usage, 2 ledger */
    void *fn;
    void *ctx;
    int err;
} time_ctx;

static int time_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    time_ctx *c = arg;
    const unsigned char *kp = (const unsigned char *)k->mv_data + c->pn;
    size_t rest = k->mv_size - c->pn;
    if (rest < 8) {
        c->err = ANNAL_EINDEX;
        return 1;
    }
    int64_t t = (int64_t)ix_get_be64(kp);
    if (c->to && t >= c->to)
        return 1;
    if (c->kind == 1) {
        annal_usage_hour h;
        if ((c->err = ix_unpack_usage(v->mv_data, v->mv_size, &h)))
            return 1;
        h.hour_ns = t;
        return ((annal_view_usage_fn)c->fn)(c->ctx, &h) ? 1 : 0;
    }
    if (rest != IX_TPOS_LEN) {
        c->err = ANNAL_EINDEX;
        return 1;
    }
    uint64_t seq = ix_get_be64(kp + 8);
    if (c->kind == 0) {
        annal_cost_fact f;
        if ((c->err = ix_unpack_cost(v->mv_data, v->mv_size, &f)))
            return 1;
        f.time_ns = t;
        f.seq = seq;
        return ((annal_view_cost_fn)c->fn)(c->ctx, &f) ? 1 : 0;
    }
    annal_ledger_entry e;
    if ((c->err = ix_unpack_ledger(v->mv_data, v->mv_size, &e)))
        return 1;
    e.time_ns = t;
    e.seq = seq;
    return ((annal_view_ledger_fn)c->fn)(c->ctx, &e) ? 1 : 0;
}

static int time_walk(annal_index *ix, enum ix_db db, int kind, const char *tenant, int64_t from,
                     int64_t to, void *fn, void *ctx)
{
    size_t tn = tenant ? strlen(tenant) : 0;
    if (!ix || !fn || !ix_valid_id(tenant, tn) || from < 0 || to < 0 || (to && from > to))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX + 8];
    size_t kl = ix_key(key, tenant, tn, NULL, 0);
    ix_be64(key + kl, (uint64_t)from);
    time_ctx c = {kl, to, kind, fn, ctx, 0};
    int rc = walk(ix, db, key, kl, key, kl + 8, time_one, &c);
    return rc ? rc : c.err;
}

int annal_view_costs(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                     annal_view_cost_fn fn, void *ctx)
{
    return time_walk(ix, IX_V_COST, 0, tenant, from_ns, to_ns, (void *)fn, ctx);
}

int annal_view_usage(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                     annal_view_usage_fn fn, void *ctx)
{
    /* the hour that contains from_ns is included */
    int64_t from = from_ns - from_ns % 3600000000000LL;
    return time_walk(ix, IX_V_USAGE, 1, tenant, from, to_ns, (void *)fn, ctx);
}

int annal_view_ledger(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                      annal_view_ledger_fn fn, void *ctx)
{
    return time_walk(ix, IX_V_LEDGER, 2, tenant, from_ns, to_ns, (void *)fn, ctx);
}

/* ---- decision queue */

typedef struct q_ctx {
    size_t pn;
    annal_view_queue_fn fn;
    void *ctx;
    int err;
} q_ctx;

static int q_one(void *arg, const MDB_val *k, const MDB_val *v)
{
    q_ctx *c = arg;
    if (k->mv_size != c->pn + 9) {
        c->err = ANNAL_EINDEX;
        return 1;
    }
    const unsigned char *p = (const unsigned char *)k->mv_data + c->pn;
    return c->fn(c->ctx, p[0], v->mv_data, v->mv_size, ix_get_be64(p + 1)) ? 1 : 0;
}

int annal_view_queue(annal_index *ix, const char *tenant, annal_view_queue_fn fn, void *ctx)
{
    size_t tn = tenant ? strlen(tenant) : 0;
    if (!ix || !fn || !ix_valid_id(tenant, tn))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX];
    size_t kl = ix_key(key, tenant, tn, NULL, 0);
    q_ctx c = {kl, fn, ctx, 0};
    int rc = walk(ix, IX_V_QUEUE, key, kl, key, kl, q_one, &c);
    return rc ? rc : c.err;
}
