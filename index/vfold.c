/*
 * vfold.c - the view step of the fold (views.h): each record updates the
 * views it concerns, through the write cache (vcache.h), and calls the
 * rules where they look at the log.
 */
#include "index/fold.h"
#include "index/vcache.h"

#include "store/bytes.h"

#include <stdlib.h>
#include <string.h>

/* One view entry being updated: its cache entry, and a copy of the
 * decoded struct that VIEW_PUT writes back. */
#define VIEW_GET(kind, db, keyp, klen, ep, vp)                                            \
    do {                                                                                  \
        int rc_ = ix_vc_obj(ix, txn, db, keyp, klen, ep);                                 \
        if (rc_)                                                                          \
            return rc_;                                                                   \
        memcpy(vp, (*(ep))->obj, sizeof(*(vp)));                                          \
    } while (0)

#define VIEW_PUT(kind, e, vp)                                                             \
    do {                                                                                  \
        memcpy((e)->obj, vp, sizeof(*(vp)));                                              \
        ix_vc_touch(e);                                                                   \
    } while (0)

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static void fill(annal_vstr *s, const annal_slice *v)
{
    if (s->n == 0 && v->n)
        ix_vstr_set(s, v->p, v->n);
}

static int sev_of(const annal_slice *s)
{
    static const char *names[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    for (int i = 0; i < 4; i++)
        if (s->n == strlen(names[i]) && memcmp(s->p, names[i], s->n) == 0)
            return i + 1;
    return ANNAL_SEV_NONE;
}

/* Queue entries: tenant\0 kind be64(seq) -> id. */
static int queue_set(annal_index *ix, MDB_txn *txn, const annal_slice *t, int kind, uint64_t seq,
                     const annal_slice *id, int add)
{
    unsigned char key[IX_KEY_MAX + 16];
    size_t kl = ix_key(key, t->p, t->n, NULL, 0);
    key[kl++] = (unsigned char)kind;
    ix_be64(key + kl, seq);
    kl += 8;
    ix_ventry *e;
    int rc = ix_vc_get(ix, txn, IX_V_QUEUE, key, kl, &e);
    if (rc)
        return rc;
    if (add)
        return ix_vc_set(e, id->p, id->n);
    if (e->present)
        ix_vc_del(e);
    return 0;
}

static int put_direct(annal_index *ix, MDB_txn *txn, enum ix_db db, const annal_slice *t,
                      const annal_fold_rec *r, const unsigned char *val, size_t n)
{
    unsigned char key[IX_KEY_MAX + IX_TPOS_LEN];
    size_t kl = ix_key(key, t->p, t->n, NULL, 0);
    ix_tpos(key + kl, r->time_ns, r->seq);
    (void)txn;
    return ix_vc_put_new(ix, db, key, kl + IX_TPOS_LEN, val, n);
}

/* Does CostRecorded (ev, d) fall in the scope of limit l? */
static int in_scope(const annal_limit_view *l, const annal_event *ev, const ix_data *d)
{
    const annal_vstr *sc = &l->scope;
    const annal_slice *v;
    if (sc->n == 0 || ix_vstr_eq(sc, "tenant", 6))
        return 1;
    if (ix_vstr_eq(sc, "api_key", 7))
        v = &ev->api_key_id;
    else if (ix_vstr_eq(sc, "feature", 7))
        v = &d->feature_tag;
    else if (ix_vstr_eq(sc, "user", 4))
        v = &d->user_id;
    else
        return 0;
    return v->n && ix_vstr_eq(&l->scope_id, v->p, v->n);
}

static int cost_limits_list(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                            const annal_tenant_view *tv, int64_t cents, const unsigned char *list, size_t ln);

static int cost_limits(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                       const annal_tenant_view *tv, int64_t cents)
{
    const annal_slice *t = &r->ev.tenant_id;
    unsigned char key[IX_KEY_MAX + 16];
    ix_ventry *le;
    int rc = ix_vc_get(ix, txn, IX_V_TLIMITS, key, ix_key(key, t->p, t->n, NULL, 0), &le);
    if (rc || !le->present)
        return rc;
    /* the list: (u8 length, id) per limit, in creation order; copied, since
     * the cache may move entries' values while we work */
    unsigned char stack[4096], *list = stack;
    size_t ln = le->vlen;
    if (ln > sizeof(stack) && !(list = malloc(ln)))
        return ANNAL_ENOMEM;
    memcpy(list, le->val, ln);
    rc = cost_limits_list(ix, txn, r, d, tv, cents, list, ln);
    if (list != stack)
        free(list);
    return rc;
}

static int cost_limits_list(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                            const annal_tenant_view *tv, int64_t cents, const unsigned char *list, size_t ln)
{
    const annal_slice *t = &r->ev.tenant_id;
    unsigned char key[IX_KEY_MAX + 16];
    int rc = 0;
    for (size_t o = 0; o < ln && !rc;) {
        size_t idn = list[o];
        const char *id = (const char *)list + o + 1;
        o += 1 + idn;
        ix_ventry *e;
        annal_limit_view l;
        VIEW_GET(limit, IX_V_LIMIT, key, ix_key(key, t->p, t->n, id, idn), &e, &l);
        if (!in_scope(&l, &r->ev, d))
            continue;
        int64_t ps = annal_period_start(l.period, r->time_ns);
        size_t kl = ix_key(key, t->p, t->n, id, idn);
        key[kl++] = 0;
        ix_be64(key + kl, (uint64_t)ps);
        kl += 8;
        annal_limit_spend s;
        VIEW_GET(spend, IX_V_SPEND, key, kl, &e, &s);
        s.period_start_ns = ps;
        s.cents = ix_add(s.cents, cents);
        s.cost_records++;
        if ((rc = ix_rule_budget(ix, txn, r, tv, id, idn, &l, &s)))
            return rc;
        VIEW_PUT(spend, e, &s);
    }
    return rc;
}

static int on_cost(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                   annal_tenant_view *tv, annal_usage_hour *uh)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    int64_t cents = d->has_cost_cents ? d->cost_cents : 0;
    int64_t in = d->has_input_tokens ? d->input_tokens : 0, out = d->has_output_tokens ? d->output_tokens : 0;
    unsigned char key[IX_KEY_MAX + IX_KEY_MAX + 2];
    ix_ventry *e;
    /* the fact */
    annal_cost_fact f;
    memset(&f, 0, sizeof(f));
    f.cents = cents;
    f.input_tokens = in;
    f.output_tokens = out;
    fill(&f.model, &d->model);
    fill(&f.feature, &d->feature_tag);
    fill(&f.user, &d->user_id);
    fill(&f.api_key, &ev->api_key_id);
    fill(&f.run, &ev->run_id);
    fill(&f.incident, &ev->incident_id);
    unsigned char buf[IX_VAL_MAX];
    int rc = put_direct(ix, txn, IX_V_COST, t, r, buf, ix_pack_cost(&f, buf));
    if (rc)
        return rc;
    uh->cost_records++;
    uh->cost_cents = ix_add(uh->cost_cents, cents);
    uh->input_tokens = ix_add(uh->input_tokens, in);
    uh->output_tokens = ix_add(uh->output_tokens, out);
    tv->cost_cents = ix_add(tv->cost_cents, cents);
    /* the tenant's daily spend, for the day-close rules */
    int64_t day = floor_div(r->time_ns, IX_DAY_NS);
    int slot = (int)(day % ANNAL_VIEW_DAYS);
    if (tv->day_num[slot] != day && tv->day_num[slot] < day) {
        tv->day_num[slot] = day;
        tv->day_cents[slot] = 0;
    }
    if (tv->day_num[slot] == day)
        tv->day_cents[slot] = ix_add(tv->day_cents[slot], cents);
    /* the run */
    if (ev->run_id.n) {
        annal_run_view rv;
        VIEW_GET(run, IX_V_RUN, key, ix_key(key, t->p, t->n, ev->run_id.p, ev->run_id.n), &e, &rv);
        rv.cost_cents = ix_add(rv.cost_cents, cents);
        rv.input_tokens = ix_add(rv.input_tokens, in);
        rv.output_tokens = ix_add(rv.output_tokens, out);
        rv.cost_records++;
        fill(&rv.model, &d->model);
        fill(&rv.feature, &d->feature_tag);
        fill(&rv.user, &d->user_id);
        fill(&rv.api_key, &ev->api_key_id);
        VIEW_PUT(run, e, &rv);
    }
    /* the incident it is charged to */
    if (ev->incident_id.n) {
        annal_incident_view iv;
        VIEW_GET(incident, IX_V_INCIDENT, key,
                 ix_key(key, t->p, t->n, ev->incident_id.p, ev->incident_id.n), &e, &iv);
        iv.cost_records++;
        if (!ev->run_id.n)
            iv.direct_cents = ix_add(iv.direct_cents, cents);
        VIEW_PUT(incident, e, &iv);
        if (ev->run_id.n && !ix_vstr_eq(&iv.source_run, ev->run_id.p, ev->run_id.n)) {
            size_t kl = ix_key(key, t->p, t->n, ev->incident_id.p, ev->incident_id.n);
            key[kl++] = 0;
            memcpy(key + kl, ev->run_id.p, ev->run_id.n);
            kl += ev->run_id.n;
            ix_ventry *ce;
            if ((rc = ix_vc_get(ix, txn, IX_V_INC_RUN, key, kl, &ce)))
                return rc;
            int64_t sum = ce->present && ce->vlen == 8 ? (int64_t)annal_get_u64(ce->val) : 0;
            unsigned char v[8];
            annal_put_u64(v, (uint64_t)ix_add(sum, cents));
            if ((rc = ix_vc_set(ce, v, 8)))
                return rc;
        }
    }
    return cost_limits(ix, txn, r, d, tv, cents);
}

static int on_run(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                  annal_tenant_view *tv, annal_usage_hour *uh)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    annal_run_view rv;
    VIEW_GET(run, IX_V_RUN, key, ix_key(key, t->p, t->n, ev->run_id.p, ev->run_id.n), &e, &rv);
    fill(&rv.model, &d->model);
    fill(&rv.feature, &d->feature_tag);
    fill(&rv.user, &d->user_id);
    fill(&rv.api_key, &ev->api_key_id);
    if (ev->type == ANNAL_EV_RUN_STARTED) {
        if (!rv.started_seq)
            tv->runs_total++;
        rv.status = ANNAL_RUN_RUNNING;
        rv.started_ns = r->time_ns;
        rv.started_seq = r->seq;
        uh->runs_started++;
    } else {
        int failed = ev->type == ANNAL_EV_RUN_FAILED;
        if (failed && rv.status != ANNAL_RUN_FAILED)
            tv->runs_failed++;
        rv.status = failed ? ANNAL_RUN_FAILED : ANNAL_RUN_COMPLETED;
        rv.ended_ns = r->time_ns;
        rv.ended_seq = r->seq;
        if (d->has_duration_ms)
            rv.duration_ms = d->duration_ms;
        fill(&rv.error_code, &d->error_code);
        if (failed)
            uh->runs_failed++;
        else
            uh->runs_completed++;
        if (failed && !rv.incident_derived) {
            int rc = ix_rule_run_failed(ix, txn, r, &rv);
            if (rc)
                return rc;
        }
    }
    VIEW_PUT(run, e, &rv);
    return 0;
}

static int on_incident(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                       annal_tenant_view *tv)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    annal_incident_view iv;
    VIEW_GET(incident, IX_V_INCIDENT, key,
             ix_key(key, t->p, t->n, ev->incident_id.p, ev->incident_id.n), &e, &iv);
    int rc = 0;
    switch (ev->type) {
    case ANNAL_EV_INCIDENT_CREATED:
        if (iv.created_seq)
            break; /* created twice: the first one stands */
        iv.state = ANNAL_INC_ACTIVE;
        iv.severity = (uint8_t)sev_of(&d->severity);
        iv.created_ns = r->time_ns;
        iv.created_seq = r->seq;
        fill(&iv.category, &d->category);
        fill(&iv.source, &d->source);
        fill(&iv.title, d->title.n ? &d->title : &d->summary);
        fill(&iv.source_run, &ev->run_id);
        fill(&iv.correlation, &ev->correlation_id);
        fill(&iv.limit_id, &d->limit_id);
        tv->incidents_total++;
        tv->incidents_active[iv.severity]++;
        if ((rc = queue_set(ix, txn, t, 1, r->seq, &ev->incident_id, 1)))
            return rc;
        if (ev->run_id.n) {
            ix_ventry *re;
            annal_run_view rv;
            VIEW_GET(run, IX_V_RUN, key, ix_key(key, t->p, t->n, ev->run_id.p, ev->run_id.n), &re, &rv);
            rv.incidents++;
            VIEW_PUT(run, re, &rv);
        }
        if ((iv.severity == ANNAL_SEV_HIGH || iv.severity == ANNAL_SEV_CRITICAL) &&
            !iv.proposal_derived && (rc = ix_rule_proposal(ix, txn, r, &iv)))
            return rc;
        break;
    case ANNAL_EV_INCIDENT_ACKNOWLEDGED:
        if (iv.state == ANNAL_INC_ACTIVE) {
            iv.state = ANNAL_INC_ACKED;
            tv->incidents_active[iv.severity]--;
            tv->incidents_acked++;
            if ((rc = queue_set(ix, txn, t, 1, iv.created_seq, &ev->incident_id, 0)))
                return rc;
        }
        if (!iv.acked_seq) {
            iv.acked_ns = r->time_ns;
            iv.acked_seq = r->seq;
        }
        break;
    default: /* resolved, manually closed */
        if (iv.state == ANNAL_INC_ACTIVE) {
            tv->incidents_active[iv.severity]--;
            if ((rc = queue_set(ix, txn, t, 1, iv.created_seq, &ev->incident_id, 0)))
                return rc;
        } else if (iv.state == ANNAL_INC_ACKED) {
            tv->incidents_acked--;
        }
        if (iv.state == ANNAL_INC_ACTIVE || iv.state == ANNAL_INC_ACKED || iv.state == ANNAL_INC_NONE) {
            if (iv.state != ANNAL_INC_NONE)
                iv.state = ev->type == ANNAL_EV_INCIDENT_RESOLVED ? ANNAL_INC_RESOLVED : ANNAL_INC_CLOSED;
            iv.closed_ns = r->time_ns;
            iv.closed_seq = r->seq;
        }
        break;
    }
    VIEW_PUT(incident, e, &iv);
    return 0;
}

static int on_proposal(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d,
                       annal_tenant_view *tv)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    annal_proposal_view pv;
    VIEW_GET(proposal, IX_V_PROPOSAL, key, ix_key(key, t->p, t->n, ev->entity_id.p, ev->entity_id.n), &e, &pv);
    int rc;
    if (ev->type == ANNAL_EV_POLICY_PROPOSAL_CREATED) {
        if (pv.created_seq)
            return 0;
        pv.status = ANNAL_PROP_DRAFT;
        pv.created_ns = r->time_ns;
        pv.created_seq = r->seq;
        fill(&pv.triggering_incident, &d->triggering_incident_id);
        fill(&pv.actor_type, &ev->actor_type);
        fill(&pv.actor_id, &ev->actor_id);
        fill(&pv.summary, &d->summary);
        tv->proposals_total++;
        tv->proposals_draft++;
        if ((rc = queue_set(ix, txn, t, 2, r->seq, &ev->entity_id, 1)))
            return rc;
    } else {
        if (pv.status == ANNAL_PROP_DRAFT) {
            tv->proposals_draft--;
            if ((rc = queue_set(ix, txn, t, 2, pv.created_seq, &ev->entity_id, 0)))
                return rc;
        }
        if (pv.status == ANNAL_PROP_DRAFT || pv.status == ANNAL_PROP_NONE) {
            pv.status = ev->type == ANNAL_EV_POLICY_PROPOSAL_APPROVED ? ANNAL_PROP_APPROVED
                                                                      : ANNAL_PROP_REJECTED;
            pv.decided_ns = r->time_ns;
            pv.decided_seq = r->seq;
        }
    }
    VIEW_PUT(proposal, e, &pv);
    return 0;
}

static int on_limit(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r, const ix_data *d)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id, *id = &ev->entity_id;
    unsigned char key[IX_KEY_MAX];
    ix_ventry *e;
    annal_limit_view l;
    VIEW_GET(limit, IX_V_LIMIT, key, ix_key(key, t->p, t->n, id->p, id->n), &e, &l);
    int rc;
    if (ev->type == ANNAL_EV_LIMIT_CREATED || ev->type == ANNAL_EV_LIMIT_UPDATED) {
        if (!l.created_seq) {
            l.created_seq = r->seq;
            l.period = ANNAL_PERIOD_MONTHLY;
            l.warn_pct = 80;
            ix_vstr_set(&l.scope, "tenant", 6);
            /* add it to the tenant's list */
            ix_ventry *le;
            if ((rc = ix_vc_get(ix, txn, IX_V_TLIMITS, key, ix_key(key, t->p, t->n, NULL, 0), &le)))
                return rc;
            size_t ln = le->present ? le->vlen : 0;
            unsigned char *list = malloc(ln + 1 + id->n);
            if (!list)
                return ANNAL_ENOMEM;
            if (ln)
                memcpy(list, le->val, ln);
            list[ln] = (unsigned char)id->n;
            memcpy(list + ln + 1, id->p, id->n);
            rc = ix_vc_set(le, list, ln + 1 + id->n);
            free(list);
            if (rc)
                return rc;
        }
        l.updated_seq = r->seq;
        if (d->category.n)
            ix_vstr_set(&l.category, d->category.p, d->category.n);
        if (d->scope.n)
            ix_vstr_set(&l.scope, d->scope.p, d->scope.n);
        if (d->scope_id.n)
            ix_vstr_set(&l.scope_id, d->scope_id.p, d->scope_id.n);
        if (d->period.n)
            l.period = d->period.n == 5 && memcmp(d->period.p, "DAILY", 5) == 0 ? ANNAL_PERIOD_DAILY
                                                                                : ANNAL_PERIOD_MONTHLY;
        if (d->has_max_cents)
            l.max_cents = d->max_cents;
        if (d->has_warn_pct)
            l.warn_pct = (uint32_t)d->warn_pct;
    } else if (ev->type == ANNAL_EV_LIMIT_OVERRIDE_GRANTED || ev->type == ANNAL_EV_LIMIT_OVERRIDE_REVOKED) {
        if (!l.created_seq)
            return 0; /* an override of an unknown limit changes nothing */
        l.override_active = ev->type == ANNAL_EV_LIMIT_OVERRIDE_GRANTED;
        l.override_seq = r->seq;
    } else {
        return 0;
    }
    VIEW_PUT(limit, e, &l);
    return 0;
}

int ix_views_apply(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    const ix_data d = r->d;
    unsigned char key[IX_KEY_MAX + 16];
    ix_ventry *te, *ue;
    annal_tenant_view tv;
    annal_usage_hour uh;
    int rc;
    VIEW_GET(tenant, IX_V_TENANT, key, ix_key(key, t->p, t->n, NULL, 0), &te, &tv);
    int64_t day = floor_div(r->time_ns, IX_DAY_NS);
    if (tv.events == 0) {
        tv.first_ns = tv.last_ns = r->time_ns;
        tv.first_day = tv.cur_day = day;
        tv.last_spike_day = tv.last_drift_day = -1;
    } else if (day > tv.cur_day) {
        if ((rc = ix_rule_day_close(ix, txn, r, &tv, day)))
            return rc;
        tv.cur_day = day;
    }
    tv.events++;
    tv.by_domain[ev->domain < 9 && ev->domain > 0 ? ev->domain : 0]++;
    if (r->time_ns < tv.first_ns)
        tv.first_ns = r->time_ns;
    if (r->time_ns > tv.last_ns)
        tv.last_ns = r->time_ns;

    size_t kl = ix_key(key, t->p, t->n, NULL, 0);
    ix_be64(key + kl, (uint64_t)(floor_div(r->time_ns, 3600000000000LL) * 3600000000000LL));
    VIEW_GET(usage, IX_V_USAGE, key, kl + 8, &ue, &uh);
    uh.events++;

    rc = 0;
    switch (ev->type) {
    case ANNAL_EV_RUN_STARTED:
    case ANNAL_EV_RUN_COMPLETED:
    case ANNAL_EV_RUN_FAILED:
        rc = on_run(ix, txn, r, &d, &tv, &uh);
        break;
    case ANNAL_EV_COST_RECORDED:
        rc = on_cost(ix, txn, r, &d, &tv, &uh);
        break;
    case ANNAL_EV_INCIDENT_CREATED:
    case ANNAL_EV_INCIDENT_ACKNOWLEDGED:
    case ANNAL_EV_INCIDENT_RESOLVED:
    case ANNAL_EV_INCIDENT_MANUALLY_CLOSED:
        rc = on_incident(ix, txn, r, &d, &tv);
        break;
    case ANNAL_EV_POLICY_PROPOSAL_CREATED:
    case ANNAL_EV_POLICY_PROPOSAL_APPROVED:
    case ANNAL_EV_POLICY_PROPOSAL_REJECTED:
        rc = on_proposal(ix, txn, r, &d, &tv);
        break;
    case ANNAL_EV_LIMIT_CREATED:
    case ANNAL_EV_LIMIT_UPDATED:
    case ANNAL_EV_LIMIT_OVERRIDE_GRANTED:
    case ANNAL_EV_LIMIT_OVERRIDE_REVOKED:
        rc = on_limit(ix, txn, r, &d);
        break;
    case ANNAL_EV_POLICY_VIOLATION_PREVENTED:
        if (ev->run_id.n) {
            ix_ventry *re;
            annal_run_view rv;
            VIEW_GET(run, IX_V_RUN, key, ix_key(key, t->p, t->n, ev->run_id.p, ev->run_id.n), &re, &rv);
            rv.policy_actions++;
            VIEW_PUT(run, re, &rv);
        }
        break;
    case ANNAL_EV_EMERGENCY_OVERRIDE_ACTIVATED:
        tv.emergency_override = 1;
        break;
    case ANNAL_EV_EMERGENCY_OVERRIDE_DEACTIVATED:
        tv.emergency_override = 0;
        break;
    default:
        break;
    }
    if (rc)
        return rc;
    if (ev->is_ledger) {
        annal_ledger_entry le;
        memset(&le, 0, sizeof(le));
        le.event_type = ev->type;
        fill(&le.actor_type, &ev->actor_type);
        fill(&le.entity_type, &ev->entity_type);
        unsigned char buf[IX_VAL_MAX];
        if ((rc = put_direct(ix, txn, IX_V_LEDGER, t, r, buf, ix_pack_ledger(&le, buf))))
            return rc;
    }
    if (ev->event_id.n && (rc = ix_rule_landed(ix, txn, r)))
        return rc;
    VIEW_PUT(usage, ue, &uh);
    VIEW_PUT(tenant, te, &tv);
    return 0;
}
