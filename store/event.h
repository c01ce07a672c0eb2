/*
 * event.h - the event envelope of PRODUCT.md §1: validation of client events
 * (hostile input) and of stored records, and the building of a record.
 *
 * A client event is one JSON object. annal_event_parse() checks it completely
 * (JSON syntax, UTF-8, no NUL, no duplicate keys at any depth, integers within
 * int64, no floats in money fields (`*_cents`), depth <= 32, size limit, the
 * top-level fields and the strict registry) and writes its compact form
 * (insignificant whitespace removed, every other byte kept as sent) into a
 * buffer of the caller's.
 *
 * A stored record is `{"seq":N,"recorded_at":"<RFC 3339, 9 fraction digits>Z",`
 * followed by the compact members of the event and `}`; see store/FORMAT.md.
 * annal_record_build() makes one; annal_record_parse() checks one (it must be
 * exactly in that canonical form).
 *
 * Nothing here allocates on the heap; nothing keeps state between calls; every
 * function is safe to call from several threads at once.
 */
#ifndef ANNAL_EVENT_H
#define ANNAL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define ANNAL_EVENT_MAX_DEFAULT 65536 /* default size limit of one client event, bytes */
#define ANNAL_ID_MAX 128              /* ids: 1..128 bytes of [A-Za-z0-9._:@/-] */
#define ANNAL_DEPTH_MAX 32            /* deepest allowed nesting of objects/arrays */
/* Extra bytes a record takes beyond ev->body_len:
 * {"seq":<up to 20 digits>,"recorded_at":"<30 chars>", (75) and the closing } (1).
 * (Was 72, which missed 4 bytes for seqs of 17..20 digits.) */
#define ANNAL_RECORD_OVERHEAD 76
#define ANNAL_TEXT_MAX 1024           /* summary, action_reason: at most this many bytes as sent */
#define ANNAL_ENTITY_TYPE_MAX 64      /* entity_type: 1..64 bytes of [A-Z_] */

enum annal_domain {
    ANNAL_DOMAIN_ACTIVITY = 1,
    ANNAL_DOMAIN_ANALYTICS,
    ANNAL_DOMAIN_INCIDENTS,
    ANNAL_DOMAIN_POLICIES,
    ANNAL_DOMAIN_CONNECTIVITY,
    ANNAL_DOMAIN_ACCOUNTS,
    ANNAL_DOMAIN_SYSTEM,
    ANNAL_DOMAIN_SERVICE, /* `<service>.<object>.<action>` events */
};

/* The registry of PRODUCT.md §1, in order: annal_event.type is one of these
 * (annal_event_type_name(i) is its name), or -1 for a service event. */
enum annal_event_type {
    ANNAL_EV_RUN_STARTED, ANNAL_EV_RUN_COMPLETED, ANNAL_EV_RUN_FAILED,
    ANNAL_EV_COST_RECORDED, ANNAL_EV_COST_ANOMALY_DETECTED,
    ANNAL_EV_INCIDENT_CREATED, ANNAL_EV_INCIDENT_ACKNOWLEDGED, ANNAL_EV_INCIDENT_RESOLVED,
    ANNAL_EV_INCIDENT_MANUALLY_CLOSED,
    ANNAL_EV_POLICY_RULE_CREATED, ANNAL_EV_POLICY_RULE_MODIFIED, ANNAL_EV_POLICY_RULE_RETIRED,
    ANNAL_EV_POLICY_PROPOSAL_CREATED, ANNAL_EV_POLICY_PROPOSAL_APPROVED,
    ANNAL_EV_POLICY_PROPOSAL_REJECTED,
    ANNAL_EV_LIMIT_CREATED, ANNAL_EV_LIMIT_UPDATED, ANNAL_EV_LIMIT_BREACHED,
    ANNAL_EV_LIMIT_OVERRIDE_GRANTED, ANNAL_EV_LIMIT_OVERRIDE_REVOKED,
    ANNAL_EV_POLICY_VIOLATION_PREVENTED,
    ANNAL_EV_API_KEY_CREATED, ANNAL_EV_API_KEY_ROTATED, ANNAL_EV_API_KEY_REVOKED,
    ANNAL_EV_TENANT_CREATED, ANNAL_EV_USER_INVITED, ANNAL_EV_USER_ROLE_CHANGED,
    ANNAL_EV_USER_REMOVED,
    ANNAL_EV_EMERGENCY_OVERRIDE_ACTIVATED, ANNAL_EV_EMERGENCY_OVERRIDE_DEACTIVATED,
    ANNAL_EV_TYPE_COUNT,
    ANNAL_EV_SERVICE = -1 /* `<service>.<object>.<action>` */
};

/* A slice of bytes. In a parsed event every slice points into the compact
 * output buffer (annal_event_parse) or into the record (annal_record_parse)
 * and stays valid as long as that buffer does. An absent field is {NULL, 0}.
 * String slices hold the raw bytes between the quotes (for id fields these
 * never contain escapes, since ids may not). */
typedef struct annal_slice {
    const char *p;
    size_t n;
} annal_slice;

typedef struct annal_event {
    annal_slice tenant_id, event_type, event_id;
    annal_slice actor_type, actor_id, entity_type, entity_id;
    annal_slice run_id, incident_id, api_key_id, correlation_id;
    int64_t occurred_at_ns; /* ns since the Unix epoch; valid if has_occurred_at */
    int has_occurred_at;
    int domain;             /* enum annal_domain */
    int type;               /* index into the registry (annal_event_type_name), or -1 for a service event */
    int is_ledger;          /* one of the 15 canonical audit ledger types */
    /* Record fields: set by annal_record_parse only. */
    uint64_t seq;
    int64_t recorded_at_ns;
    /* The compact members of the client event without the enclosing braces,
     * e.g. `"tenant_id":"t1","event_type":"RunStarted","run_id":"r1"`. */
    const char *body;
    size_t body_len;
} annal_event;

/* Why a validation failed: `field` is the JSON path of the offending member
 * ("tenant_id", "data.cost_cents", or "" for the document itself), `reason`
 * a sentence that says what is wrong and what is allowed, and `offset` the
 * byte offset in the input where the problem was found. */
typedef struct annal_event_error {
    char field[96];
    char reason[192];
    size_t offset;
} annal_event_error;

/*
 * The rules (PRODUCT.md §1), checked in one pass over the input:
 *  - JSON: as json.h describes (syntax, UTF-8, no NUL, no duplicate names at
 *    any depth, integers within int64, depth <= 32); the top level is an
 *    object; whitespace around it (a trailing "\n" too) is allowed.
 *  - Top-level members: only tenant_id (required), event_type (required),
 *    event_id, occurred_at, actor_type, actor_id, entity_type, entity_id,
 *    run_id, incident_id, api_key_id, correlation_id, summary, action_reason,
 *    before_state, after_state, data. Names are matched decoded.
 *  - ids (tenant_id, event_id, actor_id, entity_id, run_id, incident_id,
 *    api_key_id, correlation_id): strings of 1..128 bytes of
 *    [A-Za-z0-9._:@/-], as raw bytes (so never with escapes).
 *  - event_type: a registry name (enum annal_event_type), or a service type
 *    `<service>.<object>.<action>`: >= 3 non-empty dot-separated segments of
 *    [a-z0-9_], at most 128 bytes, which requires correlation_id.
 *  - required per type: run_id (Run*), incident_id (Incident*), entity_id
 *    (Policy*, Limit*), api_key_id (ApiKey*); the 15 audit-ledger types
 *    (is_ledger) require actor_type and actor_id.
 *  - actor_type: HUMAN, SYSTEM or AGENT. entity_type: 1..64 bytes of [A-Z_].
 *    occurred_at: annal_time_parse. summary, action_reason: strings of at
 *    most ANNAL_TEXT_MAX bytes as sent. before_state, after_state, data:
 *    objects.
 *  - money: every member named `*_cents` anywhere inside data, before_state
 *    or after_state is an integer.
 *  - data members the views read, when present, for their types:
 *    anomaly_type (ABSOLUTE_SPIKE, SUSTAINED_DRIFT, BUDGET_WARNING,
 *    BUDGET_EXCEEDED), severity (LOW, MEDIUM, HIGH; IncidentCreated also
 *    CRITICAL), scope (tenant, feature, user, api_key), source (RUN_FAILURE,
 *    COST_ANOMALY, POLICY_VIOLATION, MANUAL), period (MONTHLY, DAILY), a
 *    limit's category (BUDGET, RATE, THRESHOLD); integers >= 0: cost_cents,
 *    input_tokens, output_tokens, duration_ms, max_cents, used_cents,
 *    value_cents, threshold_cents; warn_pct 1..100. (The table is in event.c.)
 * A rejection names the offending member in err->field and says in
 * err->reason what is wrong and what is allowed.
 */

/*
 * Validate the client event in[0..in_len) and write its compact form to
 * out[0..out_cap). out_cap >= in_len always suffices; in and out must not
 * overlap. max_len is the size limit (0 means ANNAL_EVENT_MAX_DEFAULT); a
 * longer input (not counting a trailing "\n" or "\r\n") is rejected.
 * On success fills *ev (slices point into out) and returns ANNAL_OK.
 * Returns ANNAL_EEVENT with *err filled (err may be NULL) when the event is
 * invalid, ANNAL_EFULL when out_cap is too small, ANNAL_EINVAL on NULL args.
 * `in` need not be NUL-terminated; a trailing "\n" or "\r\n" is allowed.
 */
int annal_event_parse(const char *in, size_t in_len, size_t max_len,
                      char *out, size_t out_cap,
                      annal_event *ev, annal_event_error *err);

/*
 * Write the record of a parsed event: `{"seq":<seq>,"recorded_at":"<time>",`
 * + ev->body + `}` (no newline) into out[0..out_cap). Returns the record's
 * length, or 0 if out_cap is too small (ev->body_len + ANNAL_RECORD_OVERHEAD
 * always suffices), or if seq is 0, recorded_at_ns is negative or the event
 * has no body.
 */
size_t annal_record_build(const annal_event *ev, uint64_t seq, int64_t recorded_at_ns,
                          char *out, size_t out_cap);

/*
 * Check that rec[0..len) (no newline) is a canonical record: it starts with
 * `{"seq":N,"recorded_at":"...",`, the rest is a valid event in compact form
 * (exactly the bytes annal_event_parse would produce), and N >= 1.
 * Fills *ev (slices point into rec, seq and recorded_at_ns set). Returns
 * ANNAL_OK, or ANNAL_EEVENT with *err filled (err may be NULL), or
 * ANNAL_EINVAL if rec or ev is NULL.
 * The size limit is not applied to records (their limit was applied at ingest).
 * recorded_at must be exactly `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (upper-case T
 * and Z). One pass over the record, nothing copied.
 */
int annal_record_parse(const char *rec, size_t len, annal_event *ev, annal_event_error *err);

/* The registry: name of type index i (0-based), or NULL past the end. */
const char *annal_event_type_name(int i);
/* Domain name ("ACTIVITY", ..., "SERVICE") of an enum annal_domain, or NULL. */
const char *annal_domain_name(int domain);

/*
 * RFC 3339 times. annal_time_parse accepts `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`
 * (also lower-case t/z and the offset +00:00) with years 1970..9999 and
 * checks every field (month lengths, leap years; second 60 is rejected).
 * Returns 0 and sets *ns (ns may be NULL), or -1. Since *ns is int64
 * nanoseconds, times after 2262-04-11T23:47:16.854775807Z are rejected too.
 * annal_time_format writes exactly 30 bytes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`
 * plus a NUL into out[31] (for any ns >= 0; negative ns give pre-1970 times,
 * which annal_time_parse rejects). The two are inverse on 0..INT64_MAX.
 */
int annal_time_parse(const char *s, size_t n, int64_t *ns);
void annal_time_format(int64_t ns, char out[31]);

#endif
