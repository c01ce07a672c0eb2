/*
 * routes.c - the route table: method, path pattern ({} is one path
 * segment), the roles that may call it, the query parameters it takes, and
 * its handler. api/API.md documents each.
 */
#include "api/internal.h"

#include "store/error.h"

#include <string.h>

void api_ingest(api_req *r, api_resp *o);

static void healthz(api_req *r, api_resp *o)
{
    annal_db_stats st;
    annal_db_stats_get(r->srv->db, &st);
    api_json(o, 200);
    annal_jbuf_puts(&o->body, "{\"status\":\"ok\",\"durable_seq\":");
    annal_jbuf_u64(&o->body, st.durable_seq);
    annal_jbuf_puts(&o->body, ",\"settled_seq\":");
    annal_jbuf_u64(&o->body, st.settled_seq);
    annal_jbuf_puts(&o->body, "}");
}

static void metrics(api_req *r, api_resp *o)
{
    o->status = 200;
    o->ctype = "text/plain; version=0.0.4";
    api_metrics_text(r->srv, &o->body);
}

#define ING ANNAL_ROLE_INGEST
#define RD ANNAL_ROLE_READ
#define AU ANNAL_ROLE_AUDIT
#define AD ANNAL_ROLE_ADMIN

/* The integrity handlers (api/proofs.c). */
void api_get_checkpoint(api_req *r, api_resp *o);
void api_get_proof_inclusion(api_req *r, api_resp *o);
void api_get_proof_consistency(api_req *r, api_resp *o);
/* The evidence bundle (api/export.c). */
void api_get_export(api_req *r, api_resp *o);

/* The read handlers (api/reads.c, api/reads_views.c). */
void api_get_timeline(api_req *r, api_resp *o);
void api_get_event(api_req *r, api_resp *o);
void api_get_correlation_events(api_req *r, api_resp *o);
void api_get_run(api_req *r, api_resp *o);
void api_get_run_timeline(api_req *r, api_resp *o);
void api_get_run_incidents(api_req *r, api_resp *o);
void api_get_run_cost(api_req *r, api_resp *o);
void api_get_run_policies(api_req *r, api_resp *o);
void api_get_incidents(api_req *r, api_resp *o);
void api_get_incident(api_req *r, api_resp *o);
void api_get_incident_timeline(api_req *r, api_resp *o);
void api_get_incident_source_run(api_req *r, api_resp *o);
void api_get_incident_cost_impact(api_req *r, api_resp *o);
void api_get_incident_related(api_req *r, api_resp *o);
void api_get_costs(api_req *r, api_resp *o);
void api_get_usage(api_req *r, api_resp *o);
void api_get_anomalies(api_req *r, api_resp *o);
void api_get_limits(api_req *r, api_resp *o);
void api_get_limit(api_req *r, api_resp *o);
void api_get_proposals(api_req *r, api_resp *o);
void api_get_rule_incidents(api_req *r, api_resp *o);
void api_get_rule_effectiveness(api_req *r, api_resp *o);
void api_get_api_key_usage(api_req *r, api_resp *o);
void api_get_overview_highlights(api_req *r, api_resp *o);
void api_get_overview_pulse(api_req *r, api_resp *o);
void api_get_overview_decisions(api_req *r, api_resp *o);
void api_get_overview_costs(api_req *r, api_resp *o);
void api_get_audit(api_req *r, api_resp *o);
void api_get_audit_entry(api_req *r, api_resp *o);

#define PAGE " limit cursor "

const api_route api_routes[] = {
    {API_GET, "/healthz", 0, " ", healthz},
    {API_GET, "/metrics", AD, " ", metrics},
    {API_POST, "/api/v1/events", ING | AD, " ", api_ingest},
    /* events and timelines: also the audit role */
    {API_GET, "/api/v1/timeline", RD | AU | AD, " from to event_type domain limit cursor ", api_get_timeline},
    {API_GET, "/api/v1/events/{}", RD | AU | AD, " proof ", api_get_event},
    {API_GET, "/api/v1/checkpoint", RD | AU | AD, " ", api_get_checkpoint},
    {API_GET, "/api/v1/proofs/inclusion", RD | AU | AD, " seq tree_size ", api_get_proof_inclusion},
    {API_GET, "/api/v1/proofs/consistency", RD | AU | AD, " from_size to_size ", api_get_proof_consistency},
    {API_GET, "/api/v1/export", AU | AD, " run_id incident_id correlation_id from to ", api_get_export},
    {API_GET, "/api/v1/correlations/{}/events", RD | AU | AD, PAGE, api_get_correlation_events},
    /* runs */
    {API_GET, "/api/v1/runs/{}", RD | AD, PAGE, api_get_run},
    {API_GET, "/api/v1/runs/{}/timeline", RD | AD, PAGE, api_get_run_timeline},
    {API_GET, "/api/v1/runs/{}/incidents", RD | AD, " ", api_get_run_incidents},
    {API_GET, "/api/v1/runs/{}/cost", RD | AD, " ", api_get_run_cost},
    {API_GET, "/api/v1/runs/{}/policies", RD | AD, " ", api_get_run_policies},
    /* incidents */
    {API_GET, "/api/v1/incidents", RD | AD, " state severity limit cursor ", api_get_incidents},
    {API_GET, "/api/v1/incidents/{}", RD | AD, PAGE, api_get_incident},
    {API_GET, "/api/v1/incidents/{}/timeline", RD | AD, PAGE, api_get_incident_timeline},
    {API_GET, "/api/v1/incidents/{}/source-run", RD | AD, " ", api_get_incident_source_run},
    {API_GET, "/api/v1/incidents/{}/cost-impact", RD | AD, " ", api_get_incident_cost_impact},
    {API_GET, "/api/v1/incidents/{}/related", RD | AD, " ", api_get_incident_related},
    /* analytics */
    {API_GET, "/api/v1/analytics/costs", RD | AD,
     " group_by from to run_id incident_id api_key_id model feature_tag user_id ", api_get_costs},
    {API_GET, "/api/v1/analytics/statistics/usage", RD | AD, " from to resolution ", api_get_usage},
    {API_GET, "/api/v1/analytics/anomalies", RD | AD, " from to limit cursor ", api_get_anomalies},
    /* policies */
    {API_GET, "/api/v1/policies/limits", RD | AD, " at ", api_get_limits},
    {API_GET, "/api/v1/policies/limits/{}", RD | AD, " at ", api_get_limit},
    {API_GET, "/api/v1/policies/proposals", RD | AD, " status limit cursor ", api_get_proposals},
    {API_GET, "/api/v1/policies/rules/{}/incidents", RD | AD, PAGE, api_get_rule_incidents},
    {API_GET, "/api/v1/policies/rules/{}/effectiveness", RD | AD, " ", api_get_rule_effectiveness},
    /* connectivity */
    {API_GET, "/api/v1/connectivity/api-keys/{}/usage", RD | AD, PAGE, api_get_api_key_usage},
    /* overview */
    {API_GET, "/api/v1/overview/highlights", RD | AD, " limit ", api_get_overview_highlights},
    {API_GET, "/api/v1/overview/pulse", RD | AD, " ", api_get_overview_pulse},
    {API_GET, "/api/v1/overview/decisions", RD | AD, " limit ", api_get_overview_decisions},
    {API_GET, "/api/v1/overview/costs", RD | AD, " ", api_get_overview_costs},
    /* audit ledger: also the audit role */
    {API_GET, "/api/v1/logs/audit", RD | AU | AD,
     " event_type entity_type actor_type created_after created_before limit cursor ", api_get_audit},
    {API_GET, "/api/v1/logs/audit/{}", RD | AU | AD, " ", api_get_audit_entry},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
