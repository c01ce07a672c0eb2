/*
 * views.h - the domain views of PRODUCT.md §3 and the rules of §4, as the
 * index maintains them, and the functions that read them.
 *
 * Every view is part of the fold (index/fold.h): the same code updates it at
 * catch-up and at reindex, record by record in seq order, so a view is a
 * function of the log prefix the index has applied and `annal reindex`
 * rebuilds it byte for byte (annal_index_digest covers the view databases).
 * The encodings are in index/INDEX.md section 5; the semantics are below.
 *
 * Time. A record's time is its occurred_at, or its recorded_at when it has
 * none ("time" below). Hours, days and months are UTC buckets of it.
 *
 * Strings. Text taken from records (model, feature, user, title, ...) is
 * kept as the raw bytes between the JSON quotes: it is valid inside a JSON
 * string as it is (escapes included), and is what scope matching compares.
 * At most ANNAL_VIEW_STR_MAX bytes are kept (a longer value is cut at a
 * character and escape boundary). Absent is "".
 *
 * Reads. Each annal_view_* getter takes one read transaction and returns
 * what the index has applied (call annal_index_catch_up() first for
 * read-your-writes). Returns ANNAL_OK, ANNAL_ENOTFOUND (no such entity in
 * that tenant), ANNAL_EINVAL (a tenant or id that is not 1..128 bytes of
 * [A-Za-z0-9._:@/-]), ANNAL_EIO, ANNAL_ENOMEM or ANNAL_EINDEX.
 */
#ifndef ANNAL_INDEX_VIEWS_H
#define ANNAL_INDEX_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include "index/index.h"

#define ANNAL_VIEW_STR_MAX 255

typedef struct annal_vstr {
    uint8_t n;
    char s[ANNAL_VIEW_STR_MAX + 1]; /* NUL-terminated */
} annal_vstr;

/* ---------------------------------------------------------------- run
 *
 * One per (tenant, run_id) seen on a Run* event or on a CostRecorded.
 * status: RunStarted -> RUNNING, RunCompleted -> COMPLETED, RunFailed ->
 * FAILED (the last of these events in the log wins; a run known only from
 * its costs is UNKNOWN). model, feature (data.feature_tag), user
 * (data.user_id), api_key (the api_key_id link) and error_code: the first
 * non-empty value any of its Run* or CostRecorded events gives. cost and
 * tokens: sums of its CostRecorded. incidents: IncidentCreated events with
 * this run_id; policy_actions: PolicyViolationPrevented with this run_id
 * (their records are in the run's link list, annal_index_run()).
 */
enum annal_run_status { ANNAL_RUN_UNKNOWN, ANNAL_RUN_RUNNING, ANNAL_RUN_COMPLETED, ANNAL_RUN_FAILED };

typedef struct annal_run_view {
    uint8_t status;              /* enum annal_run_status */
    uint8_t incident_derived;    /* the RUN_FAILURE incident rule has fired for it */
    int64_t started_ns, ended_ns;/* time of RunStarted / RunCompleted|RunFailed; 0: not seen */
    uint64_t started_seq, ended_seq;
    int64_t duration_ms;         /* data.duration_ms of the end event, else 0 */
    int64_t cost_cents, input_tokens, output_tokens;
    uint64_t cost_records;
    uint32_t incidents, policy_actions;
    annal_vstr model, feature, user, api_key, error_code;
} annal_run_view;

int annal_view_run(annal_index *ix, const char *tenant, const char *run_id, annal_run_view *out);

/* ---------------------------------------------------------------- incident
 *
 * One per (tenant, incident_id) seen on an Incident* event or a
 * CostRecorded. IncidentCreated makes it ACTIVE (a second one is ignored),
 * then IncidentAcknowledged -> ACKED, IncidentResolved -> RESOLVED,
 * IncidentManuallyClosed -> CLOSED (from ACTIVE or ACKED; later ones only
 * keep the first times). An incident not created (yet) has state NONE. severity, category, source,
 * title (data.title, else summary), source_run (run_id), correlation id and
 * limit_id (data.limit_id): from IncidentCreated.
 *
 * Cost impact (annal_view_incident_cost): the cost of its source run (the
 * run view) plus every CostRecorded that carries its incident_id and is not
 * of the source run: those without a run_id (direct_cents) and those of
 * other runs (summed per run, v_incident_run). The affected runs are the
 * source run and those other runs (annal_view_incident_runs).
 */
enum annal_incident_state { ANNAL_INC_NONE, ANNAL_INC_ACTIVE, ANNAL_INC_ACKED, ANNAL_INC_RESOLVED,
                            ANNAL_INC_CLOSED };
enum annal_severity { ANNAL_SEV_NONE, ANNAL_SEV_LOW, ANNAL_SEV_MEDIUM, ANNAL_SEV_HIGH,
                      ANNAL_SEV_CRITICAL };

typedef struct annal_incident_view {
    uint8_t state;               /* enum annal_incident_state */
    uint8_t severity;            /* enum annal_severity */
    uint8_t proposal_derived;    /* the HIGH/CRITICAL -> proposal rule has fired for it */
    int64_t created_ns, acked_ns, closed_ns; /* closed: resolved or manually closed; 0: not yet */
    uint64_t created_seq, acked_seq, closed_seq;
    int64_t direct_cents;        /* CostRecorded with its incident_id and no run_id */
    uint64_t cost_records;       /* CostRecorded with its incident_id */
    annal_vstr category, source, title, source_run, correlation, limit_id;
} annal_incident_view;

int annal_view_incident(annal_index *ix, const char *tenant, const char *incident_id,
                        annal_incident_view *out);

/* Cost impact as above, in cents; *runs gets the number of affected runs. */
int annal_view_incident_cost(annal_index *ix, const char *tenant, const char *incident_id,
                             int64_t *cents, uint64_t *runs);

/* The affected runs other than the source run, in run_id order, with the
 * cents of the incident's CostRecorded of each: fn is called once per run
 * (run_id raw, cents); fn returns 0 to go on, non-zero to stop. */
typedef int (*annal_view_run_cents_fn)(void *ctx, const char *run_id, size_t n, int64_t cents);
int annal_view_incident_runs(annal_index *ix, const char *tenant, const char *incident_id,
                             annal_view_run_cents_fn fn, void *ctx);

/* ---------------------------------------------------------------- limits
 *
 * The Limit* events are the only budget truth. LimitCreated / LimitUpdated
 * set the fields they carry (category, scope, scope_id, period, max_cents,
 * warn_pct; warn_pct defaults to 80, period to MONTHLY, scope to tenant).
 * LimitOverrideGranted / Revoked switch the limit's override.
 *
 * A limit with max_cents 0 (or none) has no status and no rules.
 *
 * Spend. Each CostRecorded of the tenant is added to the spend of every
 * limit of the tenant whose scope matches it (tenant: all; api_key: the
 * api_key_id link; feature: data.feature_tag; user: data.user_id), in
 * the period (UTC month or day) of the CostRecorded's time,
 * if the limit was created before it in the log. Status of a period:
 * BREACHED when spend > max_cents, NEAR_THRESHOLD when spend * 100 >=
 * warn_pct * max_cents, else OK.
 */
enum annal_limit_period { ANNAL_PERIOD_MONTHLY = 1, ANNAL_PERIOD_DAILY = 2 };
enum annal_limit_status { ANNAL_LIMIT_OK, ANNAL_LIMIT_NEAR, ANNAL_LIMIT_BREACHED };

typedef struct annal_limit_view {
    uint8_t period;              /* enum annal_limit_period */
    uint8_t override_active;
    uint32_t warn_pct;
    int64_t max_cents;
    uint64_t created_seq, updated_seq, override_seq;
    annal_vstr category, scope, scope_id;
} annal_limit_view;

/* Flags of a period's spend. */
#define ANNAL_SPEND_WARNED 1u      /* the BUDGET_WARNING rule fired */
#define ANNAL_SPEND_ESCALATED 2u   /* the breach escalation fired */
#define ANNAL_SPEND_SUPPRESSED 4u  /* a breach was seen under an active override */

typedef struct annal_limit_spend {
    int64_t period_start_ns;
    int64_t cents;
    uint64_t cost_records;
    uint32_t flags;
    uint64_t warn_seq, breach_seq; /* the CostRecorded that triggered them; 0: none */
} annal_limit_spend;

int annal_view_limit(annal_index *ix, const char *tenant, const char *limit_id, annal_limit_view *out);

/* The spend of the limit in the period that contains at_ns (a period with
 * no spend yet is returned with cents 0). ANNAL_ENOTFOUND: no such limit. */
int annal_view_limit_spend(annal_index *ix, const char *tenant, const char *limit_id, int64_t at_ns,
                           annal_limit_spend *out);

/* Status of a spend against a limit (enum annal_limit_status). */
int annal_limit_status_of(const annal_limit_view *l, const annal_limit_spend *s);

/* The start of the period of type `period` that contains t (UTC). */
int64_t annal_period_start(int period, int64_t t_ns);

/* Each limit of the tenant in limit_id order: fn(ctx, id, n, view). */
typedef int (*annal_view_limit_fn)(void *ctx, const char *limit_id, size_t n,
                                   const annal_limit_view *l);
int annal_view_limits(annal_index *ix, const char *tenant, annal_view_limit_fn fn, void *ctx);

/* ---------------------------------------------------------------- tenant
 *
 * Per tenant: event counts (all, and per domain, index = enum annal_domain),
 * the latest time seen, open work (ACTIVE incidents by severity, draft
 * proposals), the emergency override, and the state of the day-close rules.
 */
#define ANNAL_VIEW_DAYS 16 /* days of daily spend the spike/drift rules keep */

typedef struct annal_tenant_view {
    uint64_t events;
    uint64_t by_domain[9];
    int64_t first_ns, last_ns;   /* earliest and latest time seen */
    uint64_t incidents_active[5];/* ACTIVE incidents by enum annal_severity */
    uint64_t incidents_acked, incidents_total;
    uint64_t proposals_draft, proposals_total;
    uint64_t runs_total, runs_failed;
    int64_t cost_cents;
    uint8_t emergency_override;
    /* day-close rules: day numbers are days since the Unix epoch (UTC) */
    int64_t first_day, cur_day;  /* first and latest day with an event */
    int64_t day_num[ANNAL_VIEW_DAYS];   /* ring: day_num[d % 16] == d when day_cents holds day d */
    int64_t day_cents[ANNAL_VIEW_DAYS];
    int64_t last_spike_day, last_drift_day; /* last closed day that met the condition; -1: none */
} annal_tenant_view;

int annal_view_tenant(annal_index *ix, const char *tenant, annal_tenant_view *out);

/* ---------------------------------------------------------------- proposals
 *
 * One per PolicyProposalCreated (entity_id): DRAFT, then APPROVED or
 * REJECTED by PolicyProposalApproved / PolicyProposalRejected.
 */
enum annal_proposal_status { ANNAL_PROP_NONE, ANNAL_PROP_DRAFT, ANNAL_PROP_APPROVED,
                             ANNAL_PROP_REJECTED };

typedef struct annal_proposal_view {
    uint8_t status;
    int64_t created_ns, decided_ns;
    uint64_t created_seq, decided_seq;
    annal_vstr triggering_incident, actor_type, actor_id, summary;
} annal_proposal_view;

int annal_view_proposal(annal_index *ix, const char *tenant, const char *proposal_id,
                        annal_proposal_view *out);

/* ---------------------------------------------------------------- costs
 *
 * Every CostRecorded is kept as a cost fact (time, seq, cents, tokens,
 * model, feature, user, api_key, run, incident) in time order per tenant;
 * usage is summed per tenant and UTC hour (runs started/failed, CostRecorded
 * count, cents, tokens, events).
 */
typedef struct annal_cost_fact {
    int64_t time_ns;
    uint64_t seq;
    int64_t cents, input_tokens, output_tokens;
    annal_vstr model, feature, user, api_key, run, incident;
} annal_cost_fact;

/* The tenant's cost facts with time in [from_ns, to_ns) (to 0: no bound) in
 * (time, seq) order; fn returns 0 to go on. */
typedef int (*annal_view_cost_fn)(void *ctx, const annal_cost_fact *f);
int annal_view_costs(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                     annal_view_cost_fn fn, void *ctx);

typedef struct annal_usage_hour {
    int64_t hour_ns;
    uint64_t events, runs_started, runs_completed, runs_failed, cost_records;
    int64_t cost_cents, input_tokens, output_tokens;
} annal_usage_hour;

typedef int (*annal_view_usage_fn)(void *ctx, const annal_usage_hour *h);
int annal_view_usage(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                     annal_view_usage_fn fn, void *ctx);

/* ---------------------------------------------------------------- ledger
 *
 * The audit ledger: every record of the 15 canonical types (event.h
 * is_ledger) of the tenant, in (time, seq) order, with what its filters
 * need. fn returns 0 to go on.
 */
typedef struct annal_ledger_entry {
    int64_t time_ns;
    uint64_t seq;
    int event_type;              /* enum annal_event_type */
    annal_vstr actor_type, entity_type;
} annal_ledger_entry;

typedef int (*annal_view_ledger_fn)(void *ctx, const annal_ledger_entry *e);
int annal_view_ledger(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                      annal_view_ledger_fn fn, void *ctx);

/* ---------------------------------------------------------------- decision queue
 *
 * ACTIVE incidents (to acknowledge) and DRAFT proposals (to approve), oldest
 * first: fn(ctx, kind, id, n, created_seq); kind 1: incident, 2: proposal.
 */
typedef int (*annal_view_queue_fn)(void *ctx, int kind, const char *id, size_t n, uint64_t seq);
int annal_view_queue(annal_index *ix, const char *tenant, annal_view_queue_fn fn, void *ctx);

/* ---------------------------------------------------------------- rules
 *
 * The rules (PRODUCT.md §4) run inside the fold: when record n triggers one,
 * the fold decides the derived events (with actor_type SYSTEM, actor_id
 * "annal-rules", data.caused_by_seq = n, occurred_at = n's time, and an
 * event_id "annal-" + 32 hex digits of SHA-256 over the rule and its key)
 * and records them as pending, in the same transaction. When a record with
 * that (tenant, event_id), actor_type SYSTEM and actor_id "annal-rules" is
 * folded, its pending entry is removed (the HTTP ingest refuses client
 * event_ids that start with "annal-", so a client cannot pre-empt a rule). So after
 * a catch-up to the log's head, the pending events are exactly the derived
 * events the log still lacks; whoever holds the log's writer appends them
 * (annal_index_pending) and catches up again. A crash anywhere in that
 * cycle leaves, after the next catch-up, the same pending set: each derived
 * event is appended once.
 *
 * 1. budget warning: a limit's period spend reaches warn_pct the first
 *    time in that period -> CostAnomalyDetected BUDGET_WARNING MEDIUM.
 * 2. budget breach: spend > max_cents the first time in the period, with no
 *    active override (the limit's, or the tenant's emergency override) ->
 *    LimitBreached, CostAnomalyDetected BUDGET_EXCEEDED HIGH (incident_id set)
 *    and IncidentCreated BUDGET_EXCEEDED HIGH source COST_ANOMALY. Under an
 *    override nothing is appended and the period is marked SUPPRESSED; a
 *    later CostRecorded of the same period, once no override is active,
 *    escalates.
 * 3. day close: the first record of a tenant with a time on a later UTC day
 *    than any before closes the days in between; for each closed day D:
 *    ABSOLUTE_SPIKE when spend(D) and spend(D-1) both exceed 1.4 x the
 *    mean daily spend of D-8..D-2; SUSTAINED_DRIFT when the 7-day mean
 *    ending on D, D-1 and D-2 each exceeds 1.25 x the mean of the 7 days
 *    before it. Each needs a non-zero baseline and tenant history covering
 *    it, and fires once per episode (not again while the condition holds
 *    on consecutive days). Severity from the excess over the baseline:
 *    > 40% HIGH, > 25% MEDIUM, else LOW. Scope: tenant.
 * 4. RunFailed -> IncidentCreated RUN_FAILURE MEDIUM (source RUN_FAILURE,
 *    run_id of the run), once per run.
 * 5. IncidentCreated of severity HIGH or CRITICAL -> PolicyProposalCreated
 *    (entity_id "prop-annal-" + 24 hex digits, data.triggering_incident_id), once
 *    per incident.
 */

/* Call fn for each pending derived event, in the order they must be
 * appended (by caused_by_seq, then the order the rule emits them), with
 * the client event JSON (no newline). fn returns 0 to go on. *count (may be
 * NULL) gets how many were passed. */
typedef int (*annal_view_pending_fn)(void *ctx, const char *json, size_t len);
int annal_index_pending(annal_index *ix, annal_view_pending_fn fn, void *ctx, size_t *count);

#endif
