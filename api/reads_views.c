/*
 * reads_views.c - the read routes of /api/v1 for analytics, policies, API
 * keys, the overview and the audit ledger (api/API.md). The helpers are in
 * reads.c.
 */
#include "api/internal.h"

#include "store/error.h"
#include "store/event.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* reads.c */
annal_index *api_reads_ix(api_req *r, api_resp *o);
int api_arg_limit(api_req *r, api_resp *o, size_t *limit);
int api_arg_cursor(api_req *r, api_resp *o, const char **cursor);
int api_arg_time(api_req *r, api_resp *o, const char *name, int64_t *ns);
int api_arg_range(api_req *r, api_resp *o, const char *from_name, const char *to_name, int64_t *from,
                  int64_t *to);
int api_arg_enum(api_req *r, api_resp *o, const char *name, const char *const *names, int lo, int hi, int *v);
int api_seg_seq(api_req *r, api_resp *o, size_t i, uint64_t *seq);
int api_seg_id(api_req *r, api_resp *o, size_t i, const char *what);
int api_check_event_type(api_resp *o, const char *name, const char *t);
void api_reply(api_req *r, api_resp *o, int rc, const char *what);

/* ---------------------------------------------------------------- analytics */

/* A filter that is compared with ids: at most ANNAL_ID_MAX bytes. */
static int arg_filter(api_req *r, api_resp *o, const char *name, const char **v)
{
    *v = api_arg_get(r, name);
    if (*v && (!**v || strlen(*v) > ANNAL_VIEW_STR_MAX)) {
        api_problem(o, 400, "%s must be 1..%d bytes (leave it out for no filter)", name, ANNAL_VIEW_STR_MAX);
        return -1;
    }
    return 0;
}

static const char *const group_names[] = {NULL, "api_key", "model", "feature", "user", "day", "hour"};

/* GET /api/v1/analytics/costs */
void api_get_costs(api_req *r, api_resp *o)
{
    annal_costs_query q = {.tenant = r->tenant, .group_by = ANNAL_GROUP_NONE};
    if (api_arg_enum(r, o, "group_by", group_names, ANNAL_GROUP_API_KEY, ANNAL_GROUP_HOUR, &q.group_by) ||
        api_arg_range(r, o, "from", "to", &q.from_ns, &q.to_ns) || arg_filter(r, o, "run_id", &q.run) ||
        arg_filter(r, o, "incident_id", &q.incident) || arg_filter(r, o, "api_key_id", &q.api_key) ||
        arg_filter(r, o, "model", &q.model) || arg_filter(r, o, "feature_tag", &q.feature) ||
        arg_filter(r, o, "user_id", &q.user))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_costs(ix, &q, &o->body), "costs");
}

/* GET /api/v1/analytics/statistics/usage */
void api_get_usage(api_req *r, api_resp *o)
{
    static const char *const res_names[] = {[ANNAL_GROUP_DAY] = "day", [ANNAL_GROUP_HOUR] = "hour"};
    int bucket = ANNAL_GROUP_HOUR;
    int64_t from, to;
    if (api_arg_range(r, o, "from", "to", &from, &to) ||
        api_arg_enum(r, o, "resolution", res_names, ANNAL_GROUP_DAY, ANNAL_GROUP_HOUR, &bucket))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_usage(ix, r->tenant, bucket, from, to, &o->body), "usage");
}

/* GET /api/v1/analytics/anomalies */
void api_get_anomalies(api_req *r, api_resp *o)
{
    int64_t from, to;
    size_t limit;
    const char *cursor;
    if (api_arg_range(r, o, "from", "to", &from, &to) || api_arg_limit(r, o, &limit) ||
        api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_anomalies(ix, r->tenant, from, to, limit, cursor, &o->body), "anomalies");
}

/* ---------------------------------------------------------------- policies */

/* GET /api/v1/policies/limits */
void api_get_limits(api_req *r, api_resp *o)
{
    int64_t at;
    if (api_arg_time(r, o, "at", &at))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_limits(ix, r->tenant, at, &o->body), "limits");
}

/* GET /api/v1/policies/limits/{id} */
void api_get_limit(api_req *r, api_resp *o)
{
    int64_t at;
    if (api_seg_id(r, o, 4, "limit") || api_arg_time(r, o, "at", &at))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_limit(ix, r->tenant, r->segs[4], at, &o->body), "limit");
}

/* GET /api/v1/policies/proposals */
void api_get_proposals(api_req *r, api_resp *o)
{
    static const char *const names[] = {NULL, "DRAFT", "APPROVED", "REJECTED"};
    int status = ANNAL_PROP_NONE;
    size_t limit;
    const char *cursor;
    if (api_arg_enum(r, o, "status", names, ANNAL_PROP_DRAFT, ANNAL_PROP_REJECTED, &status) ||
        api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_proposals(ix, r->tenant, status, limit, cursor, &o->body), "proposals");
}

/* GET /api/v1/policies/rules/{id}/incidents */
void api_get_rule_incidents(api_req *r, api_resp *o)
{
    size_t limit;
    const char *cursor;
    if (api_seg_id(r, o, 4, "rule") || api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_rule_incidents(ix, r->tenant, r->segs[4], limit, cursor, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "no event of this tenant references policy rule '%s'", r->segs[4]);
    else
        api_reply(r, o, rc, "policy rule");
}

/* GET /api/v1/policies/rules/{id}/effectiveness */
void api_get_rule_effectiveness(api_req *r, api_resp *o)
{
    if (api_seg_id(r, o, 4, "rule"))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_rule_effectiveness(ix, r->tenant, r->segs[4], &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "no event of this tenant references policy rule '%s'", r->segs[4]);
    else
        api_reply(r, o, rc, "policy rule");
}

/* ---------------------------------------------------------------- connectivity */

/* GET /api/v1/connectivity/api-keys/{id}/usage */
void api_get_api_key_usage(api_req *r, api_resp *o)
{
    size_t limit;
    const char *cursor;
    if (api_seg_id(r, o, 4, "API key") || api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_api_key_usage(ix, r->tenant, r->segs[4], limit, cursor, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "no event of this tenant carries api_key_id '%s'", r->segs[4]);
    else
        api_reply(r, o, rc, "API key");
}

/* ---------------------------------------------------------------- overview */

static void overview_read(api_req *r, api_resp *o, unsigned parts)
{
    size_t limit = 0;
    if (api_arg_limit(r, o, &limit))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_overview_part(ix, r->tenant, parts, limit, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "tenant '%s' has no events yet: the overview starts with its first event", r->tenant);
    else
        api_reply(r, o, rc, "overview");
}

void api_get_overview_highlights(api_req *r, api_resp *o) { overview_read(r, o, ANNAL_OVERVIEW_ALL); }
void api_get_overview_pulse(api_req *r, api_resp *o) { overview_read(r, o, ANNAL_OVERVIEW_PULSE); }
void api_get_overview_decisions(api_req *r, api_resp *o) { overview_read(r, o, ANNAL_OVERVIEW_QUEUE); }
void api_get_overview_costs(api_req *r, api_resp *o) { overview_read(r, o, ANNAL_OVERVIEW_BUDGETS); }

/* ---------------------------------------------------------------- audit ledger */

/* GET /api/v1/logs/audit */
void api_get_audit(api_req *r, api_resp *o)
{
    static const char *const actors[] = {"HUMAN", "SYSTEM", "AGENT"};
    annal_ledger_query q = {.tenant = r->tenant};
    q.event_type = api_arg_get(r, "event_type");
    q.entity_type = api_arg_get(r, "entity_type");
    q.actor_type = api_arg_get(r, "actor_type");
    int actor = -1;
    if (api_arg_range(r, o, "created_after", "created_before", &q.from_ns, &q.to_ns) ||
        api_arg_limit(r, o, &q.limit) || api_arg_cursor(r, o, &q.cursor) ||
        api_arg_enum(r, o, "actor_type", actors, 0, 2, &actor))
        return;
    if (actor >= 0)
        q.actor_type = actors[actor];
    if (q.event_type) {
        int t = 0;
        while (annal_event_type_name(t) && strcmp(annal_event_type_name(t), q.event_type))
            t++;
        if (!annal_event_type_name(t)) {
            api_problem(o, 400, "event_type '%.64s' is not an event type of the registry; the ledger holds "
                                "the 15 governance types (Incident{Acknowledged,Resolved,ManuallyClosed}, "
                                "PolicyRule{Created,Modified,Retired}, PolicyProposal{Approved,Rejected}, "
                                "Limit{Created,Updated,Breached,OverrideGranted,OverrideRevoked}, "
                                "EmergencyOverride{Activated,Deactivated})", q.event_type);
            return;
        }
    }
    if (q.entity_type) {
        size_t n = strlen(q.entity_type);
        int ok = n >= 1 && n <= ANNAL_ENTITY_TYPE_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (q.entity_type[i] >= 'A' && q.entity_type[i] <= 'Z') || q.entity_type[i] == '_';
        if (!ok) {
            api_problem(o, 400, "entity_type must be 1..%d characters of [A-Z_] (INCIDENT, POLICY_RULE, LIMIT, "
                                "API_KEY, ...), not '%.64s'", ANNAL_ENTITY_TYPE_MAX, q.entity_type);
            return;
        }
    }
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_ledger(ix, &q, &o->body), "audit ledger");
}

/* GET /api/v1/logs/audit/{seq} */
void api_get_audit_entry(api_req *r, api_resp *o)
{
    uint64_t seq;
    if (api_seg_seq(r, o, 4, &seq))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_ledger_entry(ix, r->tenant, seq, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "seq %llu is not an audit ledger event of this tenant", (unsigned long long)seq);
    else
        api_reply(r, o, rc, "audit ledger entry");
}
