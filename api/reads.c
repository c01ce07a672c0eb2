/*
 * reads.c - the read routes of /api/v1 (api/API.md): the query parameters
 * and path segments checked here, the documents made by index/vjson.h.
 * This file: the shared helpers, events and timelines, runs, incidents.
 * reads_views.c: analytics, policies, API keys, overview, audit ledger.
 *
 * Every handler settles the index first (annal_db_settle: an event
 * acknowledged before the request is visible, with the derived events it
 * triggered), then reads with the token's tenant. Another tenant's run,
 * incident, event or limit is ANNAL_ENOTFOUND in the read functions, so it
 * answers 404 exactly like a missing one.
 */
#include "api/internal.h"

#include "store/error.h"
#include "store/event.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- helpers (also used by reads_views.c) */

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

/* The index, settled for read-your-writes; NULL with the problem set. */
annal_index *api_reads_ix(api_req *r, api_resp *o)
{
    int rc = annal_db_settle(r->srv->db);
    if (rc == ANNAL_OK)
        return annal_db_index(r->srv->db);
    if (rc == ANNAL_EINDEX || rc == ANNAL_EVERSION)
        api_problem(o, 503, "the index does not match the log; an operator must run annal reindex");
    else
        api_problem(o, 503, "the index cannot catch up with the log (%s); reads resume once an operator "
                            "has fixed the cause and restarted annal", annal_index_strerror(rc));
    return NULL;
}

/* limit: absent (0, the read's default) or 1..ANNAL_INDEX_LIMIT_MAX. */
int api_arg_limit(api_req *r, api_resp *o, size_t *limit)
{
    const char *s = api_arg_get(r, "limit");
    *limit = 0;
    if (!s)
        return 0;
    size_t v = 0, n = strlen(s);
    int ok = n >= 1 && n <= 6;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (size_t)(s[i] - '0');
    }
    if (!ok || v < 1 || v > ANNAL_INDEX_LIMIT_MAX) {
        api_problem(o, 400, "limit must be a whole number from 1 to %d, not '%.32s'", ANNAL_INDEX_LIMIT_MAX, s);
        return -1;
    }
    *limit = v;
    return 0;
}

/* cursor: absent (NULL: the first page) or a next_cursor as annal made it. */
int api_arg_cursor(api_req *r, api_resp *o, const char **cursor)
{
    const char *s = api_arg_get(r, "cursor");
    *cursor = NULL;
    if (!s)
        return 0;
    int ok = strlen(s) == ANNAL_INDEX_CURSOR_LEN;
    for (size_t i = 0; ok && s[i]; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '-' || s[i] == '_';
    if (!ok) {
        api_problem(o, 400, "cursor '%.40s' is not one annal made: pass the next_cursor of the previous page "
                            "unchanged, or leave cursor out for the first page", s);
        return -1;
    }
    *cursor = s;
    return 0;
}

/* A time parameter: absent (0) or RFC 3339 UTC after the epoch. */
int api_arg_time(api_req *r, api_resp *o, const char *name, int64_t *ns)
{
    const char *s = api_arg_get(r, name);
    *ns = 0;
    if (!s)
        return 0;
    if (annal_time_parse(s, strlen(s), ns) != 0 || *ns <= 0) {
        *ns = 0;
        api_problem(o, 400, "%s must be an RFC 3339 UTC time like 2026-10-01T00:00:00Z, not '%.64s'", name, s);
        return -1;
    }
    return 0;
}

/* Two times that bound [from, to): each optional, from <= to. */
int api_arg_range(api_req *r, api_resp *o, const char *from_name, const char *to_name, int64_t *from,
                  int64_t *to)
{
    if (api_arg_time(r, o, from_name, from) || api_arg_time(r, o, to_name, to))
        return -1;
    if (*from && *to && *from > *to) {
        api_problem(o, 400, "%s (%s) is after %s (%s): give %s <= %s", from_name, api_arg_get(r, from_name),
                    to_name, api_arg_get(r, to_name), from_name, to_name);
        return -1;
    }
    return 0;
}

/* An enumeration parameter: absent (*v unchanged) or one of names[lo..hi]
 * (case-insensitive). */
int api_arg_enum(api_req *r, api_resp *o, const char *name, const char *const *names, int lo, int hi, int *v)
{
    const char *s = api_arg_get(r, name);
    if (!s)
        return 0;
    for (int i = lo; i <= hi; i++)
        if (names[i] && !strcasecmp(s, names[i])) {
            *v = i;
            return 0;
        }
    char list[256] = "";
    size_t n = 0;
    for (int i = lo; i <= hi && n < sizeof(list); i++)
        if (names[i])
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", names[i]);
    api_problem(o, 400, "%s must be one of %s; not '%.64s'", name, list, s);
    return -1;
}

/* Path segment i as a seq: 1..UINT64_MAX in decimal. */
int api_seg_seq(api_req *r, api_resp *o, size_t i, uint64_t *seq)
{
    const char *s = r->segs[i];
    uint64_t v = 0;
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 20;
    for (size_t k = 0; ok && k < n; k++) {
        ok = s[k] >= '0' && s[k] <= '9' && v <= (UINT64_MAX - (uint64_t)(s[k] - '0')) / 10;
        v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (!ok || v == 0) {
        api_problem(o, 400, "the seq in the path must be a whole number >= 1, not '%.32s'", s);
        return -1;
    }
    *seq = v;
    return 0;
}

/* Path segment i as an id: 1..128 bytes of [A-Za-z0-9._:@/-]. */
int api_seg_id(api_req *r, api_resp *o, size_t i, const char *what)
{
    const char *s = r->segs[i];
    size_t n = strlen(s);
    int ok = n >= 1 && n <= ANNAL_ID_MAX;
    for (size_t k = 0; ok && k < n; k++)
        ok = (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') ||
             strchr("._:@/-", s[k]) != NULL;
    if (!ok) {
        api_problem(o, 400, "the %s id in the path must be 1..128 bytes of [A-Za-z0-9._:@/-] "
                            "(escape '/' as %%2F), not '%.64s'", what, s);
        return -1;
    }
    return 0;
}

/* An event type filter: a registry name, or a service type
 * <service>.<object>.<action> of [a-z0-9_]. */
int api_check_event_type(api_resp *o, const char *name, const char *t)
{
    for (int i = 0; annal_event_type_name(i); i++)
        if (!strcmp(t, annal_event_type_name(i)))
            return 0;
    size_t n = strlen(t), dots = 0;
    int ok = n >= 5 && n <= ANNAL_ID_MAX && t[0] != '.' && t[n - 1] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        if (t[i] == '.') {
            dots++;
            ok = t[i + 1] != '.';
        } else {
            ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_';
        }
    }
    if (!ok || dots < 2) {
        api_problem(o, 400, "%s '%.64s' is neither an event type of the registry (RunStarted, CostRecorded, "
                            "IncidentCreated, ...) nor a service type <service>.<object>.<action>", name, t);
        return -1;
    }
    return 0;
}

/* 200 with the document the read wrote into o->body, or the problem. The
 * handlers check every parameter before the read, so ANNAL_EINVAL with a
 * cursor means a cursor that is well-formed but not one annal made. */
void api_reply(api_req *r, api_resp *o, int rc, const char *what)
{
    const char *cursor = api_arg_get(r, "cursor");
    if (rc == ANNAL_OK)
        api_json(o, 200);
    else if (rc == ANNAL_EINVAL && cursor)
        api_problem(o, 400, "cursor '%.40s' is not one annal made: pass the next_cursor of the previous page "
                            "unchanged, or leave cursor out for the first page", cursor);
    else
        api_problem_code(o, rc, what);
}

/* ---------------------------------------------------------------- events and timelines */

/* GET /api/v1/timeline */
void api_get_timeline(api_req *r, api_resp *o)
{
    annal_timeline_query q = {.tenant = r->tenant};
    const char *type = api_arg_get(r, "event_type"), *domain = api_arg_get(r, "domain");
    if (api_arg_range(r, o, "from", "to", &q.from_ns, &q.to_ns) || api_arg_limit(r, o, &q.limit) ||
        api_arg_cursor(r, o, &q.cursor) || (type && api_check_event_type(o, "event_type", type)))
        return;
    if (domain) {
        for (int d = 1; annal_domain_name(d); d++)
            if (!strcasecmp(domain, annal_domain_name(d)))
                q.domain = d;
        if (!q.domain) {
            api_problem(o, 400, "domain must be one of ACTIVITY, ANALYTICS, INCIDENTS, POLICIES, CONNECTIVITY, "
                                "ACCOUNTS, SYSTEM, SERVICE; not '%.64s'", domain);
            return;
        }
    }
    q.event_type = type;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_timeline(ix, &q, &o->body), "timeline");
}

/* GET /api/v1/events/{seq} */
void api_get_event_proof(api_req *r, api_resp *o, uint64_t seq);

void api_get_event(api_req *r, api_resp *o)
{
    uint64_t seq;
    if (api_seg_seq(r, o, 3, &seq))
        return;
    const char *proof = api_arg_get(r, "proof");
    if (proof && strcmp(proof, "0") && strcmp(proof, "1")) {
        api_problem(o, 400, "proof must be 1 (with its inclusion proof and checkpoint) or 0, not '%.16s'", proof);
        return;
    }
    if (proof && !strcmp(proof, "1")) {
        api_get_event_proof(r, o, seq);
        return;
    }
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_event(ix, r->tenant, seq, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "this tenant has no event with seq %llu", (unsigned long long)seq);
    else
        api_reply(r, o, rc, "event");
}

/* GET /api/v1/correlations/{id}/events */
void api_get_correlation_events(api_req *r, api_resp *o)
{
    size_t limit;
    const char *cursor;
    if (api_seg_id(r, o, 3, "correlation") || api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = annal_vjson_correlation(ix, r->tenant, r->segs[3], limit, cursor, &o->body);
    if (rc == ANNAL_ENOTFOUND)
        api_problem(o, 404, "no event of this tenant carries correlation_id '%s'", r->segs[3]);
    else
        api_reply(r, o, rc, "correlation");
}

/* ---------------------------------------------------------------- runs */

/* GET /api/v1/runs/{id} and /api/v1/runs/{id}/{part}: part 0 is the whole
 * run document. */
static void run_read(api_req *r, api_resp *o, int part)
{
    size_t limit = 0;
    const char *cursor = NULL;
    if (api_seg_id(r, o, 3, "run") || api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = part ? annal_vjson_run_part(ix, r->tenant, r->segs[3], part, limit, cursor, &o->body)
                  : annal_vjson_run(ix, r->tenant, r->segs[3], limit, cursor, &o->body);
    api_reply(r, o, rc, "run");
}

void api_get_run(api_req *r, api_resp *o) { run_read(r, o, 0); }
void api_get_run_timeline(api_req *r, api_resp *o) { run_read(r, o, ANNAL_RUN_PART_TIMELINE); }
void api_get_run_incidents(api_req *r, api_resp *o) { run_read(r, o, ANNAL_RUN_PART_INCIDENTS); }
void api_get_run_cost(api_req *r, api_resp *o) { run_read(r, o, ANNAL_RUN_PART_COST); }
void api_get_run_policies(api_req *r, api_resp *o) { run_read(r, o, ANNAL_RUN_PART_POLICIES); }

/* ---------------------------------------------------------------- incidents */

static const char *const state_names[] = {NULL, "ACTIVE", "ACKED", "RESOLVED", "CLOSED"};
static const char *const severity_names[] = {NULL, "LOW", "MEDIUM", "HIGH", "CRITICAL"};

/* GET /api/v1/incidents */
void api_get_incidents(api_req *r, api_resp *o)
{
    int state = ANNAL_INC_NONE, severity = ANNAL_SEV_NONE;
    size_t limit;
    const char *cursor;
    if (api_arg_enum(r, o, "state", state_names, ANNAL_INC_ACTIVE, ANNAL_INC_CLOSED, &state) ||
        api_arg_enum(r, o, "severity", severity_names, ANNAL_SEV_LOW, ANNAL_SEV_CRITICAL, &severity) ||
        api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (ix)
        api_reply(r, o, annal_vjson_incidents(ix, r->tenant, state, severity, limit, cursor, &o->body), "incidents");
}

/* GET /api/v1/incidents/{id} and /api/v1/incidents/{id}/{part}. */
static void incident_read(api_req *r, api_resp *o, int part)
{
    size_t limit = 0;
    const char *cursor = NULL;
    if (api_seg_id(r, o, 3, "incident") || api_arg_limit(r, o, &limit) || api_arg_cursor(r, o, &cursor))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    int rc = part ? annal_vjson_incident_part(ix, r->tenant, r->segs[3], part, limit, cursor, &o->body)
                  : annal_vjson_incident(ix, r->tenant, r->segs[3], limit, cursor, &o->body);
    api_reply(r, o, rc, "incident");
}

void api_get_incident(api_req *r, api_resp *o) { incident_read(r, o, 0); }
void api_get_incident_timeline(api_req *r, api_resp *o) { incident_read(r, o, ANNAL_INCIDENT_PART_TIMELINE); }
void api_get_incident_source_run(api_req *r, api_resp *o) { incident_read(r, o, ANNAL_INCIDENT_PART_SOURCE_RUN); }
void api_get_incident_cost_impact(api_req *r, api_resp *o) { incident_read(r, o, ANNAL_INCIDENT_PART_COST); }
void api_get_incident_related(api_req *r, api_resp *o) { incident_read(r, o, ANNAL_INCIDENT_PART_RELATED); }
