/*
 * vjson.h - the reads of the domain views (index/views.h, PRODUCT.md §3) as
 * JSON documents: one function per read. The HTTP API and `annal query`
 * both call these, so that the two serve the same bytes.
 *
 * Output. Each annal_vjson_* function appends exactly one JSON object (UTF-8,
 * compact, no trailing newline) to a growable buffer, annal_jbuf. Records of
 * the log are embedded exactly as stored (they are canonical compact JSON
 * already: store/FORMAT.md). Text from views (annal_vstr) is the raw content
 * of a JSON string and is written between quotes as it is; an absent text
 * ("" in the view) is written as null.
 *
 * Conventions of every document:
 *  - times are RFC 3339 UTC strings with 9 fraction digits
 *    ("2026-10-01T13:04:05.000000000Z", annal_time_format), or null when the
 *    view has not seen the moment (a time of 0 in the view);
 *  - money is integer cents in members named *_cents; counts and tokens are
 *    integers;
 *  - enumerations are upper-case names (the annal_vjson_*_name functions);
 *  - a list that pages has a "next_cursor" member: null on the last page,
 *    else the string to pass as `cursor` for the next page
 *    (ANNAL_INDEX_CURSOR_LEN characters, opaque).
 *
 * Consistency. A document is made of several reads (each its own read
 * transaction, index/index.h). While another thread or process catches the
 * index up, two parts of one document may reflect different applied seqs
 * (e.g. a run's cost and its timeline). Call annal_index_catch_up() first
 * for read-your-writes.
 *
 * Errors. Every annal_vjson_* function returns ANNAL_OK or a negative code of
 * store/error.h:
 *   ANNAL_EINVAL    a NULL ix, tenant, id or out; a tenant or id that is not
 *                   1..128 bytes of [A-Za-z0-9._:@/-]; from_ns > to_ns (to_ns
 *                   non-zero); a limit above ANNAL_INDEX_LIMIT_MAX; a cursor
 *                   that this library did not make; an unknown enumeration
 *                   value (each function lists its own);
 *   ANNAL_ENOTFOUND no such entity in that tenant (only where a function
 *                   says so: lists of an unknown tenant are just empty);
 *   ANNAL_ENOMEM    an allocation failed (out->oom is set when it was out's
 *                   own), or out->oom was already set on entry;
 *   ANNAL_EIO       a system call failed (errno set);
 *   ANNAL_EINDEX    the index is damaged or does not match the log (also: it
 *                   lists a seq that the log does not hold for the tenant):
 *                   run `annal reindex`;
 *   ANNAL_ECORRUPT  a block or record of the log is damaged: run annal verify.
 * On any error, the bytes the call appended are dropped: out->n is what it
 * was at the call (out->p stays NUL-terminated).
 *
 * Threads: the functions keep no state; they may run in several threads at
 * once on one annal_index, each with its own annal_jbuf.
 */
#ifndef ANNAL_INDEX_VJSON_H
#define ANNAL_INDEX_VJSON_H

#include <stddef.h>
#include <stdint.h>

#include "index/index.h"
#include "index/views.h"

/* ---------------------------------------------------------------- buffer
 *
 * A growable byte buffer. Zero-initialise it ({0}) before first use; free
 * it with annal_jbuf_free(). p is malloc'd and owned by the buffer; when
 * p is non-NULL, p[n] is a NUL (not counted in n), so p is a C string as
 * long as the content has no NUL (JSON from here never has one). When an
 * allocation fails, oom is set and every later append is ignored until
 * annal_jbuf_reset(); the content is then incomplete and must not be used.
 */
typedef struct annal_jbuf {
    char *p;
    size_t n, cap;
    int oom;
} annal_jbuf;

/* Free p and zero the buffer. NULL is a no-op. */
void annal_jbuf_free(annal_jbuf *b);
/* Empty the buffer (n = 0, oom = 0), keeping its memory. */
void annal_jbuf_reset(annal_jbuf *b);
/* Make room for `more` bytes after n (and the NUL). 0, or -1 with oom set. */
int annal_jbuf_reserve(annal_jbuf *b, size_t more);
/* Append bytes as they are. */
void annal_jbuf_put(annal_jbuf *b, const void *s, size_t n);
void annal_jbuf_puts(annal_jbuf *b, const char *s);
void annal_jbuf_putc(annal_jbuf *b, char c);
/* Append an integer in decimal. */
void annal_jbuf_i64(annal_jbuf *b, int64_t v);
void annal_jbuf_u64(annal_jbuf *b, uint64_t v);
/* Append s[0..n) as a quoted JSON string, escaping '"', '\\' and control
 * characters (bytes >= 0x80 are copied: s should be UTF-8). */
void annal_jbuf_str(annal_jbuf *b, const char *s, size_t n);
/* Append raw[0..n), the raw content of a JSON string (escapes kept), between
 * quotes; n == 0 appends null instead. */
void annal_jbuf_raw(annal_jbuf *b, const char *raw, size_t n);
/* Append "<annal_time_format(ns)>" (quoted); ns <= 0 appends null. */
void annal_jbuf_time(annal_jbuf *b, int64_t ns);

/* ---------------------------------------------------------------- names
 *
 * Static upper-case names of the views' enumerations; NULL for a value out
 * of range (and for the "none" values noted).
 */
const char *annal_vjson_run_status_name(int status);       /* UNKNOWN RUNNING COMPLETED FAILED */
const char *annal_vjson_incident_state_name(int state);    /* NONE ACTIVE ACKED RESOLVED CLOSED */
const char *annal_vjson_severity_name(int severity);       /* LOW MEDIUM HIGH CRITICAL; NONE: NULL */
const char *annal_vjson_limit_status_name(int status);     /* OK NEAR_THRESHOLD BREACHED */
const char *annal_vjson_period_name(int period);           /* MONTHLY DAILY */
const char *annal_vjson_proposal_status_name(int status);  /* DRAFT APPROVED REJECTED; NONE: NULL */

/* Groupings of costs, and buckets of usage series. */
enum annal_vjson_group {
    ANNAL_GROUP_NONE = 0,
    ANNAL_GROUP_API_KEY,
    ANNAL_GROUP_MODEL,
    ANNAL_GROUP_FEATURE,
    ANNAL_GROUP_USER,
    ANNAL_GROUP_DAY,
    ANNAL_GROUP_HOUR,
};
/* "api_key" "model" "feature" "user" "day" "hour"; NULL for NONE / out of
 * range. annal_vjson_group_parse: the enum of such a name (exact, lower
 * case), or -1. */
const char *annal_vjson_group_name(int group);
int annal_vjson_group_parse(const char *name);

/* ---------------------------------------------------------------- events
 *
 * The record at seq of tenant, exactly as stored (one JSON object:
 * {"seq":N,"recorded_at":time,...the event's members...}).
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when the log has no record at seq or
 * it is another tenant's (the two are not told apart); ANNAL_EINVAL also
 * for seq 0; the errors above.
 */
int annal_vjson_event(annal_index *ix, const char *tenant, uint64_t seq, annal_jbuf *out);

/*
 * One page of the tenant's timeline (annal_index_timeline: events in
 * (occurred_at, seq) order within [from_ns, to_ns), of one event type
 * and/or domain, limit and cursor as there):
 *
 *   {"tenant_id":T,"events":[records...],"next_cursor":null|C}
 *
 * Returns ANNAL_OK (an unknown tenant or type gives an empty page); the
 * errors of annal_index_timeline; the errors above.
 */
int annal_vjson_timeline(annal_index *ix, const annal_timeline_query *q, annal_jbuf *out);

/*
 * One page of the events of tenant that carry correlation_id
 * (annal_index_correlation):
 *
 *   {"tenant_id":T,"correlation_id":C,"events":[records...],
 *    "next_cursor":null|C}
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when no event of tenant carries it
 * (checked on the first page only: a later page past the end is an empty
 * page); the errors above.
 */
int annal_vjson_correlation(annal_index *ix, const char *tenant, const char *correlation_id, size_t limit,
                            const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- incidents list
 *
 * The tenant's incidents in the order they were created (the (time, seq)
 * of their IncidentCreated record; a second IncidentCreated of the same
 * incident, which the view ignores, is skipped), each with its incident
 * view now, keeping those in state `state` (enum annal_incident_state;
 * ANNAL_INC_NONE: any) and of severity `severity` (enum annal_severity;
 * ANNAL_SEV_NONE: any), one page of up to limit incidents (0: 100) after
 * cursor:
 *
 *   {"tenant_id":T,
 *    "incidents":[{"incident_id":I,"state":...,"severity":s,"category":s,
 *                  "source":s,"title":s,"source_run_id":s,
 *                  "correlation_id":s,"limit_id":s,"created_at":time,
 *                  "acknowledged_at":time,"closed_at":time,
 *                  "cost_cents":N,"run_count":N},...],
 *    "next_cursor":null|C}
 *
 * cost_cents and run_count: annal_view_incident_cost. An incident that
 * events name but no IncidentCreated created is not listed. The list is
 * read until limit + 1 incidents match (so next_cursor is null exactly on
 * the last page) or it ends: with a rare state or severity, one page may
 * read many records.
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty page); ANNAL_EINVAL
 * also for a state or severity out of range; the errors above.
 */
int annal_vjson_incidents(annal_index *ix, const char *tenant, int state, int severity, size_t limit,
                          const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- run
 *
 * The run view of run_id in tenant, its incidents, the policies that acted
 * on it and the first page of its timeline:
 *
 *   {"tenant_id":T,"run_id":R,"status":"RUNNING|COMPLETED|FAILED|UNKNOWN",
 *    "model":s,"feature_tag":s,"user_id":s,"api_key_id":s,"error_code":s,
 *    "started_at":time,"ended_at":time,"duration_ms":N,
 *    "cost_cents":N,"input_tokens":N,"output_tokens":N,"cost_records":N,
 *    "incidents":[{"incident_id":I,"state":"ACTIVE|...","severity":s,
 *                  "title":s,"record":{...IncidentCreated...}},...],
 *    "policies":[{...PolicyViolationPrevented record...},...],
 *    "timeline":{"events":[records...],"next_cursor":null|C}}
 *
 * (s: a string or null.) incidents and policies are every IncidentCreated
 * and PolicyViolationPrevented record with this run_id (the whole link
 * list, annal_index_run, is read for them), in (time, seq) order; an
 * incident's state, severity and title are its incident view's now (state
 * "NONE" and null when it has none). timeline is one page of the run's link
 * list: limit entries (0: ANNAL_INDEX_LIMIT_DEFAULT) after cursor (NULL or
 * "": the first page).
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when tenant has no run view for run_id
 * (no Run* event and no CostRecorded with it); the errors above.
 */
int annal_vjson_run(annal_index *ix, const char *tenant, const char *run_id, size_t limit,
                    const char *cursor, annal_jbuf *out);

/*
 * One part of the run document, for the reads that want only that part
 * (the HTTP API's /runs/{id}/...). Each is an object that starts with
 * "tenant_id" and "run_id":
 *
 *   ANNAL_RUN_PART_TIMELINE   {"tenant_id":T,"run_id":R,"events":[records...],
 *                              "next_cursor":null|C}
 *                             one page of the run's link list (limit, cursor
 *                             as in annal_vjson_run);
 *   ANNAL_RUN_PART_INCIDENTS  {"tenant_id":T,"run_id":R,"incidents":[...]}
 *                             as in annal_vjson_run;
 *   ANNAL_RUN_PART_POLICIES   {"tenant_id":T,"run_id":R,"policies":[...]}
 *                             as in annal_vjson_run;
 *   ANNAL_RUN_PART_COST       {"tenant_id":T,"run_id":R,"status":...,
 *                              "cost_cents":N,"input_tokens":N,"output_tokens":N,
 *                              "cost_records":N,"model":s,"feature_tag":s,
 *                              "user_id":s,"api_key_id":s,
 *                              "records":[...CostRecorded records...]}
 *                             the sums of the run view and every CostRecorded
 *                             record of the run, in (time, seq) order.
 *
 * limit and cursor are used by ANNAL_RUN_PART_TIMELINE only. Returns as
 * annal_vjson_run (ANNAL_ENOTFOUND when tenant has no run view for run_id);
 * ANNAL_EINVAL also for another part.
 */
enum annal_vjson_run_part {
    ANNAL_RUN_PART_TIMELINE = 1,
    ANNAL_RUN_PART_INCIDENTS,
    ANNAL_RUN_PART_POLICIES,
    ANNAL_RUN_PART_COST,
};
int annal_vjson_run_part(annal_index *ix, const char *tenant, const char *run_id, int part, size_t limit,
                         const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- incident
 *
 * The incident view of incident_id in tenant, with its cost impact, source
 * run, related incidents, anomaly and the first page of its timeline:
 *
 *   {"tenant_id":T,"incident_id":I,"state":"ACTIVE|ACKED|RESOLVED|CLOSED|NONE",
 *    "severity":"LOW|MEDIUM|HIGH|CRITICAL"|null,"category":s,"source":s,
 *    "title":s,"source_run_id":s,"correlation_id":s,"limit_id":s,
 *    "created_at":time,"acknowledged_at":time,"closed_at":time,
 *    "cost_impact":{"cost_cents":N,"source_run_cents":N,"direct_cents":N,
 *                   "cost_records":N,"run_count":N,
 *                   "runs":[{"run_id":R,"cost_cents":N,"source":true|false},...]},
 *    "source_run":{"run_id":R,"status":...,"model":s,"feature_tag":s,
 *                  "user_id":s,"api_key_id":s,"error_code":s,
 *                  "started_at":time,"ended_at":time,"duration_ms":N,
 *                  "cost_cents":N,"input_tokens":N,"output_tokens":N,
 *                  "cost_records":N}|null,
 *    "related":[{"incident_id":J,"relation":["source_run","correlation"],
 *                "state":...,"severity":s,"title":s,"created_at":time},...],
 *    "anomaly":{...CostAnomalyDetected record...}|null,
 *    "timeline":{"events":[records...],"next_cursor":null|C}}
 *
 * state NONE: events name the incident but no IncidentCreated was seen.
 * closed_at: when it was resolved or manually closed.
 * cost_impact: cost_cents is annal_view_incident_cost: source_run_cents
 * (the source run's cost, its run view's; 0 without one) plus direct_cents
 * (the CostRecorded carrying incident_id that are not of the source run,
 * with or without a run_id). runs lists the source run first (source true;
 * absent when the incident has none) then the other runs of those
 * CostRecorded in run_id order (annal_view_incident_runs) with the cents of
 * the incident's CostRecorded of each (CostRecorded with incident_id but no
 * run_id are in direct_cents and in no entry of runs); run_count is
 * annal_view_incident_cost's count (the entries of runs).
 * source_run: the run view of the source run, null when there is none (no
 * run_id, or a run with no Run* event and no CostRecorded).
 * related: the other incidents created with the same source run (from the
 * run's link list) or the same correlation id (from annal_index_correlation),
 * in incident_id order, relation saying which (one or both).
 * anomaly: the first CostAnomalyDetected record (in time order) in the
 * incident's link list, null when there is none.
 * timeline: one page of the incident's link list (limit, cursor as in
 * annal_vjson_run).
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when tenant has no incident view for
 * incident_id; the errors above.
 */
int annal_vjson_incident(annal_index *ix, const char *tenant, const char *incident_id, size_t limit,
                         const char *cursor, annal_jbuf *out);

/*
 * One part of the incident document (the HTTP API's /incidents/{id}/...),
 * each an object that starts with "tenant_id" and "incident_id":
 *
 *   ANNAL_INCIDENT_PART_TIMELINE    {"tenant_id":T,"incident_id":I,
 *                                    "events":[records...],"next_cursor":null|C}
 *                                   one page of the incident's link list;
 *   ANNAL_INCIDENT_PART_SOURCE_RUN  {"tenant_id":T,"incident_id":I,
 *                                    "source_run_id":s,"correlation_id":s,
 *                                    "source_run":{...}|null}
 *                                   source_run as in annal_vjson_incident;
 *   ANNAL_INCIDENT_PART_COST        {"tenant_id":T,"incident_id":I,
 *                                    "cost_cents":N,"source_run_cents":N,
 *                                    "direct_cents":N,"cost_records":N,
 *                                    "run_count":N,"runs":[...]}
 *                                   the members of cost_impact;
 *   ANNAL_INCIDENT_PART_RELATED     {"tenant_id":T,"incident_id":I,
 *                                    "source_run_id":s,"correlation_id":s,
 *                                    "related":[...]}
 *                                   related as in annal_vjson_incident.
 *
 * limit and cursor are used by ANNAL_INCIDENT_PART_TIMELINE only. Returns
 * as annal_vjson_incident (ANNAL_ENOTFOUND when tenant has no incident view
 * for incident_id); ANNAL_EINVAL also for another part.
 */
enum annal_vjson_incident_part {
    ANNAL_INCIDENT_PART_TIMELINE = 1,
    ANNAL_INCIDENT_PART_SOURCE_RUN,
    ANNAL_INCIDENT_PART_COST,
    ANNAL_INCIDENT_PART_RELATED,
};
int annal_vjson_incident_part(annal_index *ix, const char *tenant, const char *incident_id, int part,
                              size_t limit, const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- costs */

typedef struct annal_costs_query {
    const char *tenant;    /* required */
    int group_by;          /* enum annal_vjson_group; NONE: totals only */
    int64_t from_ns;       /* time >= from_ns; 0: from the beginning */
    int64_t to_ns;         /* time < to_ns; 0: no upper bound */
    /* Filters: NULL (or "") for none; a cost fact is kept only when each
     * given filter equals its field (decoded text, compared with the
     * view's raw string as JSON decodes it). */
    const char *run, *incident, *api_key, *model, *feature, *user;
} annal_costs_query;

/*
 * Costs of q->tenant from its cost facts (annal_view_costs: every
 * CostRecorded, by its time), grouped:
 *
 *   {"tenant_id":T,"group_by":"api_key|model|feature|user|day|hour"|null,
 *    "from":time,"to":time,
 *    "filters":{"run_id":s,"incident_id":s,"api_key_id":s,"model":s,
 *               "feature_tag":s,"user_id":s},
 *    "groups":[{"key":K,"cost_cents":N,"input_tokens":N,"output_tokens":N,
 *               "count":N},...],
 *    "totals":{"cost_cents":N,"input_tokens":N,"output_tokens":N,"count":N}}
 *
 * count is the number of CostRecorded. key: the group's value (a string, or
 * null for the facts that have none, e.g. no api_key_id), for day
 * "YYYY-MM-DD" and for hour "YYYY-MM-DDTHH:00:00Z" (UTC). groups are in key
 * order (null first; strings by their raw bytes, which for day and hour is
 * time order); [] when group_by is NONE. from/to echo the range (null: no
 * bound); filters echo the filters (null: not given).
 *
 * Returns ANNAL_OK (an unknown tenant has no costs: empty groups, zero
 * totals); ANNAL_EINVAL also for an unknown group_by; the errors above.
 */
int annal_vjson_costs(annal_index *ix, const annal_costs_query *q, annal_jbuf *out);

/* ---------------------------------------------------------------- usage
 *
 * The usage series of tenant (annal_view_usage: hourly sums) over
 * [from_ns, to_ns) (0: unbounded), in buckets of an hour or a day (bucket
 * ANNAL_GROUP_HOUR or ANNAL_GROUP_DAY; NONE means HOUR):
 *
 *   {"tenant_id":T,"bucket":"hour|day","from":time,"to":time,
 *    "series":[{"start":time,"events":N,"runs_started":N,"runs_completed":N,
 *               "runs_failed":N,"cost_records":N,"cost_cents":N,
 *               "input_tokens":N,"output_tokens":N},...],
 *    "totals":{...the same members but start...}}
 *
 * series is in time order and sparse: a bucket with no event is absent.
 * The hours read are those of annal_view_usage: the hour that contains
 * from_ns, and every later hour that starts before to_ns (whole hours: an
 * event of such an hour outside [from_ns, to_ns) is counted too). A day is
 * the sum of its hours read.
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty series); ANNAL_EINVAL
 * also for another bucket; the errors above.
 */
int annal_vjson_usage(annal_index *ix, const char *tenant, int bucket, int64_t from_ns, int64_t to_ns,
                      annal_jbuf *out);

/* ---------------------------------------------------------------- anomalies
 *
 * The CostAnomalyDetected records of tenant with time in [from_ns, to_ns)
 * (0: unbounded), in (time, seq) order, one page (limit 0: 100; cursor as
 * in annal_index_timeline):
 *
 *   {"tenant_id":T,"anomalies":[records...],"next_cursor":null|C}
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty page); the errors above.
 */
int annal_vjson_anomalies(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                          size_t limit, const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- limits
 *
 * Every limit of tenant (annal_view_limits, in limit_id order) with its
 * spend in the period that contains at_ns (0: the tenant view's last_ns,
 * the latest time the tenant's events reached) and its status there:
 *
 *   {"tenant_id":T,"at":time,
 *    "limits":[{"limit_id":L,"category":s,"scope":s,"scope_id":s,
 *               "period":"MONTHLY|DAILY","max_cents":N,"warn_pct":N,
 *               "override":true|false,"period_start":time,"spend_cents":N,
 *               "cost_records":N,"used_pct":N|null,
 *               "status":"OK|NEAR_THRESHOLD|BREACHED",
 *               "warned":bool,"escalated":bool,"suppressed":bool},...]}
 *
 * used_pct: floor(100 * spend / max), null when max_cents is 0. status:
 * annal_limit_status_of. warned, escalated, suppressed: the period's flags
 * (ANNAL_SPEND_*). override: the limit's own override is active (the
 * tenant's emergency override is in annal_vjson_overview).
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty list, at null when
 * at_ns is 0); the errors above.
 */
int annal_vjson_limits(annal_index *ix, const char *tenant, int64_t at_ns, annal_jbuf *out);

/*
 * One limit of tenant, as an entry of annal_vjson_limits, after the tenant
 * and the moment:
 *
 *   {"tenant_id":T,"at":time,"limit_id":L,...the members of a limit of
 *    annal_vjson_limits...}
 *
 * at_ns as in annal_vjson_limits (0: the tenant's latest time).
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when tenant has no limit limit_id; the
 * errors above.
 */
int annal_vjson_limit(annal_index *ix, const char *tenant, const char *limit_id, int64_t at_ns, annal_jbuf *out);

/* ---------------------------------------------------------------- proposals
 *
 * The PolicyProposalCreated records of tenant in (time, seq) order, each
 * with its proposal view, keeping those whose status is `status` (an enum
 * annal_proposal_status; ANNAL_PROP_NONE: every one), one page of up to
 * limit proposals (0: 100) after cursor:
 *
 *   {"tenant_id":T,
 *    "proposals":[{"proposal_id":P,"status":"DRAFT|APPROVED|REJECTED"|null,
 *                  "created_at":time,"decided_at":time,
 *                  "triggering_incident_id":s,"decided_by":{"actor_type":s,
 *                  "actor_id":s}|null,"summary":s,"record":{...}},...],
 *    "next_cursor":null|C}
 *
 * decided_by: the actor of the approval or rejection (null while DRAFT).
 * With a status filter the index is read page after page until limit
 * proposals match or the list ends; next_cursor then continues after the
 * last proposal returned.
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty page); ANNAL_EINVAL
 * also for a status out of range; the errors above.
 */
int annal_vjson_proposals(annal_index *ix, const char *tenant, int status, size_t limit,
                          const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- ledger */

typedef struct annal_ledger_query {
    const char *tenant;      /* required */
    int64_t from_ns, to_ns;  /* [from, to); 0: unbounded */
    const char *event_type;  /* NULL/"": any; else a registry name (only the
                              * 15 ledger types can match) */
    const char *entity_type; /* NULL/"": any; else equal to entity_type */
    const char *actor_type;  /* NULL/"": any; else equal to actor_type (HUMAN, SYSTEM, AGENT) */
    size_t limit;            /* entries per page, 1..ANNAL_INDEX_LIMIT_MAX; 0: 100 */
    const char *cursor;      /* NULL/"": first page; else a next_cursor of this read */
} annal_ledger_query;

/*
 * The audit ledger of q->tenant (annal_view_ledger: the 15 canonical
 * governance event types) in (time, seq) order, filtered, one page:
 *
 *   {"tenant_id":T,
 *    "entries":[{"seq":N,"time":time,"event_type":E,"actor_type":s,
 *                "entity_type":s,"record":{...}},...],
 *    "next_cursor":null|C}
 *
 * The cursor encodes the (time, seq) of the last entry returned (the format
 * of index/cursor.c); the next page starts after it with the same filters.
 *
 * Returns ANNAL_OK (an unknown tenant gives an empty page); ANNAL_EINVAL
 * also for an event_type that is not a registry name; the errors above.
 */
int annal_vjson_ledger(annal_index *ix, const annal_ledger_query *q, annal_jbuf *out);

/*
 * One entry of the audit ledger: the record at seq of tenant, when it is of
 * one of the 15 ledger types, as an entry of annal_vjson_ledger:
 *
 *   {"tenant_id":T,"seq":N,"time":time,"event_type":E,"actor_type":s,
 *    "entity_type":s,"record":{...}}
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when the log has no record at seq, or
 * it is another tenant's, or not a ledger event; ANNAL_EINVAL also for seq
 * 0; the errors above.
 */
int annal_vjson_ledger_entry(annal_index *ix, const char *tenant, uint64_t seq, annal_jbuf *out);

/* ---------------------------------------------------------------- overview
 *
 * The tenant's overview (seeds/002-003): pulse, counts, the decision queue
 * and spend against budgets:
 *
 *   {"tenant_id":T,"pulse":"HEALTHY|ATTENTION_NEEDED|CRITICAL",
 *    "as_of":time,"first_event_at":time,"emergency_override":bool,
 *    "counts":{"events":N,
 *              "by_domain":{"ACTIVITY":N,"ANALYTICS":N,"INCIDENTS":N,
 *                           "POLICIES":N,"CONNECTIVITY":N,"ACCOUNTS":N,
 *                           "SYSTEM":N,"SERVICE":N},
 *              "runs":N,"runs_failed":N,"incidents":N,"incidents_active":N,
 *              "incidents_active_by_severity":{"LOW":N,"MEDIUM":N,"HIGH":N,
 *                                              "CRITICAL":N},
 *              "incidents_acknowledged":N,"proposals":N,"proposals_draft":N,
 *              "cost_cents":N},
 *    "queue":{"total":N,
 *             "items":[{"kind":"incident","id":I,"action":"acknowledge",
 *                       "severity":s,"title":s,"category":s,"created_at":time}
 *                     |{"kind":"proposal","id":P,"action":"approve",
 *                       "summary":s,"triggering_incident_id":s,
 *                       "created_at":time},...]},
 *    "budgets":[{"limit_id":L,"category":s,"scope":s,"scope_id":s,
 *                "period":...,"period_start":time,"max_cents":N,
 *                "spend_cents":N,"status":...,"override":bool},...]}
 *
 * as_of is the tenant view's last_ns: the current period of a limit is the
 * one that contains it. queue: the ACTIVE incidents to acknowledge, then
 * the DRAFT proposals to approve, each in the order they entered the log
 * (annal_view_queue: by the seq of their IncidentCreated or
 * PolicyProposalCreated, so a derived incident appended late comes late);
 * items holds the first queue_limit of them (0: 100; at most
 * ANNAL_INDEX_LIMIT_MAX), total counts them all. budgets: every limit, as
 * annal_vjson_limits at as_of.
 *
 * The pulse rule:
 *   CRITICAL          an ACTIVE incident of severity CRITICAL, or a budget
 *                     limit (category BUDGET or none) BREACHED in its
 *                     current period while neither its override nor the
 *                     tenant's emergency override is active;
 *   ATTENTION_NEEDED  otherwise, an ACTIVE incident of any severity, a DRAFT
 *                     proposal, or a limit (any category) NEAR_THRESHOLD or
 *                     BREACHED (under an override) in its current period;
 *   HEALTHY           otherwise.
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when tenant has no event; ANNAL_EINVAL
 * also for queue_limit above ANNAL_INDEX_LIMIT_MAX; the errors above.
 */
int annal_vjson_overview(annal_index *ix, const char *tenant, size_t queue_limit, annal_jbuf *out);

/*
 * Parts of the overview, for the reads that want only some of it: parts is
 * an OR of
 *   ANNAL_OVERVIEW_PULSE    "first_event_at", "emergency_override", "counts";
 *   ANNAL_OVERVIEW_QUEUE    "queue";
 *   ANNAL_OVERVIEW_BUDGETS  "budgets" (preceded by "cost_cents", the
 *                           tenant's total, when PULSE is not asked for:
 *                           it is then not in counts);
 * every part comes after "tenant_id", "pulse" and "as_of", in the order of
 * annal_vjson_overview, which is annal_vjson_overview_part with
 * ANNAL_OVERVIEW_ALL. Returns as annal_vjson_overview; ANNAL_EINVAL also for
 * parts 0 or with another bit. The decision queue is read only when asked
 * for; the limits always (the pulse needs them).
 */
#define ANNAL_OVERVIEW_PULSE 1u
#define ANNAL_OVERVIEW_QUEUE 2u
#define ANNAL_OVERVIEW_BUDGETS 4u
#define ANNAL_OVERVIEW_ALL 7u
int annal_vjson_overview_part(annal_index *ix, const char *tenant, unsigned parts, size_t queue_limit,
                              annal_jbuf *out);

/* ---------------------------------------------------------------- API keys
 *
 * The usage of one API key of tenant: the sums of the CostRecorded that
 * carry it (annal_view_costs: the tenant's cost facts are read in full),
 * by UTC day, and one page of the events that carry it (annal_index_api_key,
 * limit and cursor as there):
 *
 *   {"tenant_id":T,"api_key_id":K,"cost_cents":N,"input_tokens":N,
 *    "output_tokens":N,"cost_records":N,"run_count":N,
 *    "first_cost_at":time,"last_cost_at":time,
 *    "by_day":[{"day":"YYYY-MM-DD","cost_cents":N,"input_tokens":N,
 *               "output_tokens":N,"cost_records":N,"runs":N},...],
 *    "timeline":{"events":[records...],"next_cursor":null|C}}
 *
 * run_count: the distinct run_ids of those CostRecorded (runs: the same per
 * day). by_day is in time order, days without a cost absent.
 *
 * Returns ANNAL_OK; ANNAL_ENOTFOUND when no event of tenant carries the key
 * (checked on the first page only); the errors above.
 */
int annal_vjson_api_key_usage(annal_index *ix, const char *tenant, const char *api_key_id, size_t limit,
                              const char *cursor, annal_jbuf *out);

/* ---------------------------------------------------------------- policy rules
 *
 * What the log says about one policy rule of tenant (rule_id is an
 * entity_id of PolicyRule* events). Three lists of the tenant are read in
 * full (there is no entity_id index): the PolicyRuleCreated, Modified and
 * Retired records with entity_id = rule_id (its definition), the
 * PolicyViolationPrevented records with entity_id = rule_id (its
 * violations), and the IncidentCreated records. So the cost grows with the
 * tenant's number of violations and incidents.
 *
 * An incident is the rule's when its IncidentCreated (the one its view
 * counts) has one of these relations to it:
 *   "rule_id"     data.rule_id is rule_id (policy-violation incidents);
 *   "violation"   a violation of the rule carries the incident's incident_id;
 *   "source_run"  the incident's run_id is the run_id of a violation of the
 *                 rule (an incident of a run the rule acted on).
 *
 * annal_vjson_rule_incidents: the rule's incidents in creation order, one
 * page (limit 0: 100; cursor: a next_cursor of this read):
 *
 *   {"tenant_id":T,"rule_id":R,
 *    "incidents":[{"incident_id":I,"relation":["rule_id","violation",
 *                  "source_run"],...the members of an annal_vjson_incidents
 *                  item up to closed_at...},...],
 *    "next_cursor":null|C}
 *
 * annal_vjson_rule_effectiveness: the rule's record of prevention:
 *
 *   {"tenant_id":T,"rule_id":R,"rule_name":s,"state":"ACTIVE|RETIRED"|null,
 *    "created_at":time,"last_changed_at":time,"retired_at":time,
 *    "definition_events":N,"violations":N,"prevented":N,"flagged":N,
 *    "estimated_cost_saved_cents":N,"runs_affected":N,
 *    "first_violation_at":time,"last_violation_at":time,
 *    "by_outcome":[{"outcome":s,"count":N,"estimated_cost_saved_cents":N},...],
 *    "by_action":[{"action":s,"count":N,"estimated_cost_saved_cents":N},...],
 *    "incidents":{"total":N,"active":N,"since_last_change":N}}
 *
 * rule_name: data.rule_name of the latest definition event, else of the
 * first violation. state: null without definition events; RETIRED when a
 * PolicyRuleRetired is the latest of them. last_changed_at: the latest
 * PolicyRuleCreated or Modified. violations counts every
 * PolicyViolationPrevented of the rule, prevented and flagged those with
 * data.outcome "prevented" and "flagged"; estimated_cost_saved_cents sums
 * data.estimated_cost_saved_cents over the prevented ones only (by_outcome
 * and by_action sum it per data.outcome and data.action, in key order, null
 * for those without). runs_affected: distinct run_ids of the violations.
 * incidents: the rule's incidents (as above), those ACTIVE now, and those
 * created after last_changed_at.
 *
 * Both return ANNAL_OK; ANNAL_ENOTFOUND when nothing of tenant references
 * the rule (no definition event, no violation, no incident; for
 * rule_incidents checked on the first page only); the errors above.
 */
int annal_vjson_rule_incidents(annal_index *ix, const char *tenant, const char *rule_id, size_t limit,
                               const char *cursor, annal_jbuf *out);
int annal_vjson_rule_effectiveness(annal_index *ix, const char *tenant, const char *rule_id, annal_jbuf *out);

#endif
