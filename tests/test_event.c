/*
 * test_event.c - the event validator (store/event.h) and the JSON scanner
 * under it (store/json.h): every registry type, every rule of PRODUCT.md §1,
 * every JSON rule, records, and RFC 3339 times.
 */
#include "store/error.h"
#include "store/event.h"
#include "store/json.h"
#include "tests/t.h"

#include <dirent.h>
#include <inttypes.h>

static char out[1 << 18];
static annal_event ev;
static annal_event_error err;

static int parse_n(const char *s, size_t n)
{
    memset(&err, 0, sizeof err);
    return annal_event_parse(s, n, 0, out, sizeof out, &ev, &err);
}

static int parse(const char *s) { return parse_n(s, strlen(s)); }

/* 1 if `json` is rejected with err.field == field and reason containing part. */
static int rejects(const char *json, const char *field, const char *part)
{
    int rc = parse(json);
    if (rc != ANNAL_EEVENT) {
        fprintf(stderr, "  expected a rejection (rc %d): %.300s\n", rc, json);
        return 0;
    }
    if (strcmp(err.field, field) != 0) {
        fprintf(stderr, "  field \"%s\", wanted \"%s\" (reason: %s): %.300s\n", err.field, field,
                err.reason, json);
        return 0;
    }
    if (part && !strstr(err.reason, part)) {
        fprintf(stderr, "  reason \"%s\" lacks \"%s\": %.300s\n", err.reason, part, json);
        return 0;
    }
    return 1;
}

#define REJECTS(json, field, part) CHECK(rejects(json, field, part))
#define ACCEPTS(json) CHECKF(parse(json) == ANNAL_OK, "%s: %s: %s", json, err.field, err.reason)

static int slice_is(annal_slice s, const char *want)
{
    if (!want)
        return s.p == NULL && s.n == 0;
    return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

#define T1 "\"tenant_id\":\"t1\""
#define COST "{" T1 ",\"event_type\":\"CostRecorded\""

/* ------------------------------------------------------------------ */
/* The registry                                                         */

struct type_case {
    const char *name;
    int domain, ledger;
    const char *req; /* required field, or NULL */
};

static const struct type_case types[] = {
    {"RunStarted", ANNAL_DOMAIN_ACTIVITY, 0, "run_id"},
    {"RunCompleted", ANNAL_DOMAIN_ACTIVITY, 0, "run_id"},
    {"RunFailed", ANNAL_DOMAIN_ACTIVITY, 0, "run_id"},
    {"CostRecorded", ANNAL_DOMAIN_ANALYTICS, 0, NULL},
    {"CostAnomalyDetected", ANNAL_DOMAIN_ANALYTICS, 0, NULL},
    {"IncidentCreated", ANNAL_DOMAIN_INCIDENTS, 0, "incident_id"},
    {"IncidentAcknowledged", ANNAL_DOMAIN_INCIDENTS, 1, "incident_id"},
    {"IncidentResolved", ANNAL_DOMAIN_INCIDENTS, 1, "incident_id"},
    {"IncidentManuallyClosed", ANNAL_DOMAIN_INCIDENTS, 1, "incident_id"},
    {"PolicyRuleCreated", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"PolicyRuleModified", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"PolicyRuleRetired", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"PolicyProposalCreated", ANNAL_DOMAIN_POLICIES, 0, "entity_id"},
    {"PolicyProposalApproved", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"PolicyProposalRejected", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"LimitCreated", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"LimitUpdated", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"LimitBreached", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"LimitOverrideGranted", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"LimitOverrideRevoked", ANNAL_DOMAIN_POLICIES, 1, "entity_id"},
    {"PolicyViolationPrevented", ANNAL_DOMAIN_POLICIES, 0, "entity_id"},
    {"ApiKeyCreated", ANNAL_DOMAIN_CONNECTIVITY, 0, "api_key_id"},
    {"ApiKeyRotated", ANNAL_DOMAIN_CONNECTIVITY, 0, "api_key_id"},
    {"ApiKeyRevoked", ANNAL_DOMAIN_CONNECTIVITY, 0, "api_key_id"},
    {"TenantCreated", ANNAL_DOMAIN_ACCOUNTS, 0, NULL},
    {"UserInvited", ANNAL_DOMAIN_ACCOUNTS, 0, NULL},
    {"UserRoleChanged", ANNAL_DOMAIN_ACCOUNTS, 0, NULL},
    {"UserRemoved", ANNAL_DOMAIN_ACCOUNTS, 0, NULL},
    {"EmergencyOverrideActivated", ANNAL_DOMAIN_SYSTEM, 1, NULL},
    {"EmergencyOverrideDeactivated", ANNAL_DOMAIN_SYSTEM, 1, NULL},
};
#define NTYPES (int)(sizeof types / sizeof types[0])

/* A minimal valid event of types[i]; without the required field or the
 * actor when the flags say so. */
static void make_min(char *b, size_t cap, int i, int with_req, int with_actor)
{
    const struct type_case *t = &types[i];
    int n = snprintf(b, cap, "{" T1 ",\"event_type\":\"%s\"", t->name);
    if (t->req && with_req)
        n += snprintf(b + n, cap - (size_t)n, ",\"%s\":\"x-1\"", t->req);
    if (t->ledger && with_actor)
        n += snprintf(b + n, cap - (size_t)n, ",\"actor_type\":\"HUMAN\",\"actor_id\":\"u@x\"");
    snprintf(b + n, cap - (size_t)n, "}");
}

static void test_registry_names(void)
{
    CHECK(ANNAL_EV_TYPE_COUNT == NTYPES);
    for (int i = 0; i < NTYPES; i++)
        CHECKF(annal_event_type_name(i) && strcmp(annal_event_type_name(i), types[i].name) == 0,
               "type %d", i);
    CHECK(annal_event_type_name(NTYPES) == NULL);
    CHECK(annal_event_type_name(-1) == NULL);
    CHECK(strcmp(annal_domain_name(ANNAL_DOMAIN_ACTIVITY), "ACTIVITY") == 0);
    CHECK(strcmp(annal_domain_name(ANNAL_DOMAIN_CONNECTIVITY), "CONNECTIVITY") == 0);
    CHECK(strcmp(annal_domain_name(ANNAL_DOMAIN_SERVICE), "SERVICE") == 0);
    CHECK(annal_domain_name(0) == NULL);
    CHECK(annal_domain_name(99) == NULL);
    int ledger = 0;
    for (int i = 0; i < NTYPES; i++)
        ledger += types[i].ledger;
    CHECK(ledger == 15);
}

static void test_every_type_minimal_is_valid(void)
{
    char b[512];
    for (int i = 0; i < NTYPES; i++) {
        make_min(b, sizeof b, i, 1, 1);
        CHECKF(parse(b) == ANNAL_OK, "%s: %s: %s", b, err.field, err.reason);
        CHECKF(ev.type == i && ev.domain == types[i].domain && ev.is_ledger == types[i].ledger,
               "%s: type %d domain %d ledger %d", b, ev.type, ev.domain, ev.is_ledger);
        CHECK(slice_is(ev.tenant_id, "t1"));
        CHECK(slice_is(ev.event_type, types[i].name));
        CHECK(ev.body == out + 1 && ev.body_len == strlen(b) - 2);
        CHECK(memcmp(ev.body, b + 1, ev.body_len) == 0);
    }
}

static void test_every_type_requires_its_field(void)
{
    char b[512];
    for (int i = 0; i < NTYPES; i++) {
        if (!types[i].req)
            continue;
        make_min(b, sizeof b, i, 0, 1);
        CHECK(rejects(b, types[i].req, "is required for"));
        CHECK(strstr(err.reason, types[i].name) != NULL);
    }
}

static void test_ledger_types_require_actor(void)
{
    char b[512];
    for (int i = 0; i < NTYPES; i++) {
        if (!types[i].ledger)
            continue;
        make_min(b, sizeof b, i, 1, 0);
        CHECK(rejects(b, "actor_type", "audit-ledger"));
        /* actor_type without actor_id */
        size_t n = strlen(b);
        snprintf(b + n - 1, sizeof b - n + 1, ",\"actor_type\":\"SYSTEM\"}");
        CHECK(rejects(b, "actor_id", "audit-ledger"));
    }
    /* Non-ledger types do not need an actor; PolicyViolationPrevented is not ledger. */
    ACCEPTS("{" T1 ",\"event_type\":\"PolicyViolationPrevented\",\"entity_id\":\"rule-1\"}");
}

static void test_rich_events_of_data_rule_types(void)
{
    ACCEPTS("{" T1 ",\"event_type\":\"RunStarted\",\"run_id\":\"r-1\",\"api_key_id\":\"k1\","
            "\"data\":{\"model\":\"m\",\"feature_tag\":\"f\",\"user_id\":\"u\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"RunFailed\",\"run_id\":\"r-1\",\"data\":{\"duration_ms\":0,"
            "\"error_code\":\"TIMEOUT\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"CostRecorded\",\"run_id\":\"r1\",\"data\":{\"input_tokens\":10,"
            "\"output_tokens\":0,\"cost_cents\":123,\"model\":\"claude-3-opus\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"CostAnomalyDetected\",\"data\":{\"anomaly_type\":"
            "\"BUDGET_EXCEEDED\",\"severity\":\"HIGH\",\"scope\":\"api_key\",\"scope_id\":\"k1\","
            "\"value_cents\":5000,\"threshold_cents\":4000,\"limit_id\":\"LIM-1\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"IncidentCreated\",\"incident_id\":\"i1\",\"run_id\":\"r1\","
            "\"data\":{\"category\":\"BUDGET_EXCEEDED\",\"severity\":\"CRITICAL\",\"title\":\"t\","
            "\"source\":\"COST_ANOMALY\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"LimitCreated\",\"entity_type\":\"LIMIT\",\"entity_id\":\"L1\","
            "\"actor_type\":\"HUMAN\",\"actor_id\":\"alice@example.com\",\"data\":{\"category\":"
            "\"BUDGET\",\"scope\":\"tenant\",\"scope_id\":\"t1\",\"period\":\"MONTHLY\","
            "\"max_cents\":100000,\"warn_pct\":80}}");
    ACCEPTS("{" T1 ",\"event_type\":\"LimitUpdated\",\"entity_id\":\"L1\",\"actor_type\":\"AGENT\","
            "\"actor_id\":\"a\",\"before_state\":{\"max_cents\":1},\"after_state\":{\"max_cents\":2},"
            "\"data\":{\"period\":\"DAILY\",\"warn_pct\":100}}");
    ACCEPTS("{" T1 ",\"event_type\":\"LimitBreached\",\"entity_id\":\"L1\",\"actor_type\":\"SYSTEM\","
            "\"actor_id\":\"rules\",\"data\":{\"period_start\":\"2025-01-01T00:00:00Z\","
            "\"used_cents\":100001,\"max_cents\":100000,\"caused_by_seq\":42}}");
    ACCEPTS("{" T1 ",\"event_type\":\"PolicyViolationPrevented\",\"entity_id\":\"rule-1\","
            "\"run_id\":\"r1\",\"data\":{\"estimated_cost_saved_cents\":-5}}");
    ACCEPTS("{" T1 ",\"event_type\":\"ApiKeyRotated\",\"api_key_id\":\"k1\",\"data\":{"
            "\"key_prefix\":\"sk-ab\",\"name\":\"prod\"}}");
    ACCEPTS("{" T1 ",\"event_type\":\"UserRoleChanged\",\"data\":{\"user_id\":\"u1\",\"role\":\"admin\"}}");
}

static void test_all_fields_are_reported(void)
{
    const char *s =
        "{\"tenant_id\":\"acme:eu/1\",\"event_type\":\"PolicyRuleModified\",\"event_id\":\"e-1\","
        "\"occurred_at\":\"2025-01-05T12:00:00.5Z\",\"actor_type\":\"HUMAN\",\"actor_id\":"
        "\"bob@acme.io\",\"entity_type\":\"POLICY_RULE\",\"entity_id\":\"rule-7\",\"run_id\":\"r.1\","
        "\"incident_id\":\"i_1\",\"api_key_id\":\"k-1\",\"correlation_id\":\"req-2025-01-05-abc\","
        "\"summary\":\"changed\",\"action_reason\":\"why\",\"before_state\":{\"a\":1},"
        "\"after_state\":{\"a\":2},\"data\":{}}";
    ACCEPTS(s);
    CHECK(slice_is(ev.tenant_id, "acme:eu/1"));
    CHECK(slice_is(ev.event_type, "PolicyRuleModified"));
    CHECK(slice_is(ev.event_id, "e-1"));
    CHECK(slice_is(ev.actor_type, "HUMAN"));
    CHECK(slice_is(ev.actor_id, "bob@acme.io"));
    CHECK(slice_is(ev.entity_type, "POLICY_RULE"));
    CHECK(slice_is(ev.entity_id, "rule-7"));
    CHECK(slice_is(ev.run_id, "r.1"));
    CHECK(slice_is(ev.incident_id, "i_1"));
    CHECK(slice_is(ev.api_key_id, "k-1"));
    CHECK(slice_is(ev.correlation_id, "req-2025-01-05-abc"));
    CHECK(ev.has_occurred_at && ev.occurred_at_ns == 1736078400500000000ll);
    CHECK(ev.is_ledger && ev.type == ANNAL_EV_POLICY_RULE_MODIFIED);
    /* slices point into the output */
    CHECK(ev.tenant_id.p > out && ev.tenant_id.p < out + strlen(s));
    ACCEPTS(COST "}");
    CHECK(slice_is(ev.run_id, NULL) && slice_is(ev.event_id, NULL) && !ev.has_occurred_at);
}

/* ------------------------------------------------------------------ */
/* Envelope rules                                                       */

static void test_tenant_id_rules(void)
{
    REJECTS("{\"event_type\":\"CostRecorded\"}", "tenant_id", "is required");
    REJECTS("{\"tenant_id\":\"\",\"event_type\":\"CostRecorded\"}", "tenant_id",
            "must be 1-128 bytes of [A-Za-z0-9._:@/-]; got 0 bytes");
    REJECTS("{\"tenant_id\":7,\"event_type\":\"CostRecorded\"}", "tenant_id", "got an integer");
    REJECTS("{\"tenant_id\":null,\"event_type\":\"CostRecorded\"}", "tenant_id", "got null");
    REJECTS("{\"tenant_id\":\"a b\",\"event_type\":\"CostRecorded\"}", "tenant_id", "byte 1");
    REJECTS("{\"tenant_id\":\"\\u0041\",\"event_type\":\"CostRecorded\"}", "tenant_id", "no escapes");
    REJECTS("{\"tenant_id\":\"t\\u00e9\",\"event_type\":\"CostRecorded\"}", "tenant_id", NULL);
    REJECTS("{\"tenant_id\":\"t\xc3\xa9\",\"event_type\":\"CostRecorded\"}", "tenant_id", "0xc3");
    char b[600];
    char id[200];
    memset(id, 'a', 128);
    id[128] = 0;
    snprintf(b, sizeof b, "{\"tenant_id\":\"%s\",\"event_type\":\"CostRecorded\"}", id);
    ACCEPTS(b);
    CHECK(ev.tenant_id.n == 128);
    id[128] = 'z';
    id[129] = 0;
    snprintf(b, sizeof b, "{\"tenant_id\":\"%s\",\"event_type\":\"CostRecorded\"}", id);
    REJECTS(b, "tenant_id", "got 129 bytes");
    /* the whole allowed alphabet */
    ACCEPTS("{\"tenant_id\":\"AZaz09._:@/-\",\"event_type\":\"CostRecorded\"}");
    /* a 16+-byte id with a bad byte late (the vector path) */
    REJECTS("{\"tenant_id\":\"abcdefghijklmnopqrstuvwxyz0123#\",\"event_type\":\"CostRecorded\"}",
            "tenant_id", "byte 30 is '#'");
}

static void test_every_id_field_is_checked(void)
{
    static const char *const ids[] = {"event_id", "run_id", "incident_id", "api_key_id",
                                      "correlation_id", "entity_id", "actor_id"};
    char b[256];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        snprintf(b, sizeof b, COST ",\"%s\":\"ok-1\"}", ids[i]);
        ACCEPTS(b);
        snprintf(b, sizeof b, COST ",\"%s\":\"not ok\"}", ids[i]);
        CHECK(rejects(b, ids[i], "[A-Za-z0-9._:@/-]"));
        snprintf(b, sizeof b, COST ",\"%s\":\"\"}", ids[i]);
        CHECK(rejects(b, ids[i], "got 0 bytes"));
        snprintf(b, sizeof b, COST ",\"%s\":[]}", ids[i]);
        CHECK(rejects(b, ids[i], "got an array"));
    }
}

static void test_event_type_rules(void)
{
    REJECTS("{" T1 "}", "event_type", "is required");
    REJECTS("{" T1 ",\"event_type\":\"RunExploded\"}", "event_type", "not in the registry");
    REJECTS("{" T1 ",\"event_type\":\"runstarted\"}", "event_type", "not in the registry");
    REJECTS("{" T1 ",\"event_type\":\"\"}", "event_type", NULL);
    REJECTS("{" T1 ",\"event_type\":1}", "event_type", "must be a string");
    REJECTS("{" T1 ",\"event_type\":\"Run\\u0053tarted\",\"run_id\":\"r\"}", "event_type", NULL);
}

static void test_service_events(void)
{
    ACCEPTS("{" T1 ",\"event_type\":\"holmesgpt.response.complete\",\"correlation_id\":"
            "\"req-2025-01-05-abc123\",\"data\":{\"response_data\":{\"x\":1.5}}}");
    CHECK(ev.type == ANNAL_EV_SERVICE && ev.domain == ANNAL_DOMAIN_SERVICE && !ev.is_ledger);
    ACCEPTS("{" T1 ",\"event_type\":\"aianalysis.analysis.completed\",\"correlation_id\":\"c\"}");
    ACCEPTS("{" T1 ",\"event_type\":\"a.b.c.d_e9\",\"correlation_id\":\"c\"}");
    REJECTS("{" T1 ",\"event_type\":\"holmesgpt.response.complete\"}", "correlation_id",
            "service events");
    static const char *const bad[] = {"a.b", "a..b", ".a.b", "a.b.", "A.b.c", "a.b-c.d",
                                      "a.b.c ", "a.\\u0062.c"};
    char b[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(b, sizeof b, "{" T1 ",\"event_type\":\"%s\",\"correlation_id\":\"c\"}", bad[i]);
        CHECK(rejects(b, "event_type", NULL));
    }
    char name[200];
    memset(name, 'a', 128);
    name[1] = '.';
    name[3] = '.';
    name[128] = 0;
    snprintf(b, sizeof b, "{" T1 ",\"event_type\":\"%s\",\"correlation_id\":\"c\"}", name);
    ACCEPTS(b);
    name[128] = 'a';
    name[129] = 0;
    snprintf(b, sizeof b, "{" T1 ",\"event_type\":\"%s\",\"correlation_id\":\"c\"}", name);
    REJECTS(b, "event_type", "at most 128 bytes");
}

static void test_actor_and_entity_type(void)
{
    ACCEPTS(COST ",\"actor_type\":\"AGENT\"}");
    REJECTS(COST ",\"actor_type\":\"ROBOT\"}", "actor_type", "HUMAN, SYSTEM or AGENT");
    REJECTS(COST ",\"actor_type\":\"human\"}", "actor_type", "got \"human\"");
    REJECTS(COST ",\"actor_type\":1}", "actor_type", "got an integer");
    ACCEPTS(COST ",\"entity_type\":\"POLICY_PROPOSAL\"}");
    REJECTS(COST ",\"entity_type\":\"Policy\"}", "entity_type", "[A-Z_]");
    REJECTS(COST ",\"entity_type\":\"\"}", "entity_type", "got 0 bytes");
    REJECTS(COST ",\"entity_type\":\"API-KEY\"}", "entity_type", "byte 3 is '-'");
    char b[256], t[80];
    memset(t, 'A', 64);
    t[64] = 0;
    snprintf(b, sizeof b, COST ",\"entity_type\":\"%s\"}", t);
    ACCEPTS(b);
    t[64] = 'A';
    t[65] = 0;
    snprintf(b, sizeof b, COST ",\"entity_type\":\"%s\"}", t);
    REJECTS(b, "entity_type", "got 65 bytes");
}

static void test_occurred_at(void)
{
    ACCEPTS(COST ",\"occurred_at\":\"2024-02-29T23:59:59.999999999Z\"}");
    CHECK(ev.has_occurred_at);
    ACCEPTS(COST ",\"occurred_at\":\"1970-01-01T00:00:00Z\"}");
    CHECK(ev.has_occurred_at && ev.occurred_at_ns == 0);
    REJECTS(COST ",\"occurred_at\":\"2023-02-29T00:00:00Z\"}", "occurred_at", "RFC 3339");
    REJECTS(COST ",\"occurred_at\":\"2025-01-05 12:00:00Z\"}", "occurred_at", NULL);
    REJECTS(COST ",\"occurred_at\":\"2025-01-05T12:00:00+01:00\"}", "occurred_at", NULL);
    REJECTS(COST ",\"occurred_at\":1736078400}", "occurred_at", "got an integer");
}

static void test_text_fields(void)
{
    char b[3000], txt[1100];
    memset(txt, 'x', 1024);
    txt[1024] = 0;
    snprintf(b, sizeof b, COST ",\"summary\":\"%s\",\"action_reason\":\"%s\"}", txt, txt);
    ACCEPTS(b);
    txt[1024] = 'x';
    txt[1025] = 0;
    snprintf(b, sizeof b, COST ",\"summary\":\"%s\"}", txt);
    REJECTS(b, "summary", "at most 1024 bytes");
    snprintf(b, sizeof b, COST ",\"action_reason\":\"%s\"}", txt);
    REJECTS(b, "action_reason", "got 1025 bytes");
    REJECTS(COST ",\"summary\":{}}", "summary", "got an object");
    ACCEPTS(COST ",\"summary\":\"caf\xc3\xa9 \\\"quoted\\\" \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80\"}");
}

static void test_object_fields(void)
{
    REJECTS(COST ",\"data\":[]}", "data", "must be a JSON object");
    REJECTS(COST ",\"data\":\"{}\"}", "data", "got a string");
    REJECTS(COST ",\"before_state\":1}", "before_state", NULL);
    REJECTS(COST ",\"after_state\":null}", "after_state", "got null");
}

static void test_unknown_top_level_field(void)
{
    REJECTS(COST ",\"colour\":\"red\"}", "colour", "not an event field");
    REJECTS(COST ",\"seq\":1}", "seq", "not an event field");
    REJECTS(COST ",\"recorded_at\":\"2025-01-05T12:00:00Z\"}", "recorded_at", NULL);
    REJECTS(COST ",\"Tenant_id\":\"x\"}", "Tenant_id", NULL);
    /* an escaped spelling of a known field is that field */
    ACCEPTS("{\"tenant\\u005fid\":\"t1\",\"event_type\":\"CostRecorded\"}");
    CHECK(slice_is(ev.tenant_id, "t1"));
    REJECTS("{\"tenant_id\":\"t1\",\"tenant\\u005fid\":\"t2\",\"event_type\":\"CostRecorded\"}",
            "tenant\\u005fid", "duplicate");
}

static void test_data_enumerations(void)
{
#define ANOM "{" T1 ",\"event_type\":\"CostAnomalyDetected\",\"data\":"
    REJECTS(ANOM "{\"anomaly_type\":\"SPIKE\"}}", "data.anomaly_type", "ABSOLUTE_SPIKE");
    REJECTS(ANOM "{\"severity\":\"CRITICAL\"}}", "data.severity", "LOW, MEDIUM or HIGH");
    REJECTS(ANOM "{\"severity\":3}}", "data.severity", "got an integer");
    REJECTS(ANOM "{\"scope\":\"org\"}}", "data.scope", "tenant, feature, user or api_key");
    REJECTS(ANOM "{\"value_cents\":-1}}", "data.value_cents", "an integer >= 0; got -1");
    REJECTS(ANOM "{\"threshold_cents\":-3}}", "data.threshold_cents", NULL);
    /* escaped member names are matched decoded */
    REJECTS(ANOM "{\"sev\\u0065rity\":\"BAD\"}}", "data.severity", NULL);
#define INC "{" T1 ",\"event_type\":\"IncidentCreated\",\"incident_id\":\"i\",\"data\":"
    ACCEPTS(INC "{\"severity\":\"CRITICAL\",\"category\":\"anything goes\"}}");
    REJECTS(INC "{\"severity\":\"URGENT\"}}", "data.severity", "LOW, MEDIUM, HIGH or CRITICAL");
    REJECTS(INC "{\"source\":\"manual\"}}", "data.source", "MANUAL");
#define LIM "{" T1 ",\"event_type\":\"LimitCreated\",\"entity_id\":\"L\",\"actor_type\":\"HUMAN\"," \
            "\"actor_id\":\"a\",\"data\":"
    REJECTS(LIM "{\"category\":\"COOKIES\"}}", "data.category", "BUDGET");
    REJECTS(LIM "{\"period\":\"WEEKLY\"}}", "data.period", "MONTHLY or DAILY");
    REJECTS(LIM "{\"scope\":\"galaxy\"}}", "data.scope", NULL);
    REJECTS(LIM "{\"warn_pct\":0}}", "data.warn_pct", "an integer from 1 to 100; got 0");
    REJECTS(LIM "{\"warn_pct\":101}}", "data.warn_pct", NULL);
    REJECTS(LIM "{\"warn_pct\":80.5}}", "data.warn_pct", "got a number with a fraction");
    ACCEPTS(LIM "{\"warn_pct\":1}}");
    REJECTS(LIM "{\"max_cents\":-100}}", "data.max_cents", NULL);
    REJECTS("{" T1 ",\"event_type\":\"LimitBreached\",\"entity_id\":\"L\",\"actor_type\":\"HUMAN\","
            "\"actor_id\":\"a\",\"data\":{\"used_cents\":-1}}", "data.used_cents", NULL);
    /* the rules look at `data` only, and only for their types */
    ACCEPTS(ANOM "{\"x\":{\"severity\":\"BAD\"}}}");
    ACCEPTS("{" T1 ",\"event_type\":\"CostAnomalyDetected\",\"after_state\":{\"severity\":\"BAD\"}}");
    ACCEPTS(COST ",\"data\":{\"severity\":\"BAD\",\"warn_pct\":1000}}");
}

static void test_data_integers(void)
{
    REJECTS(COST ",\"data\":{\"input_tokens\":-1}}", "data.input_tokens", ">= 0");
    REJECTS(COST ",\"data\":{\"output_tokens\":1.0}}", "data.output_tokens", NULL);
    REJECTS(COST ",\"data\":{\"input_tokens\":\"5\"}}", "data.input_tokens", "got a string");
    REJECTS("{" T1 ",\"event_type\":\"RunCompleted\",\"run_id\":\"r\",\"data\":{\"duration_ms\":-5}}",
            "data.duration_ms", NULL);
    ACCEPTS(COST ",\"data\":{\"input_tokens\":9223372036854775807,\"cost_cents\":0}}");
}

static void test_money_is_integer_cents(void)
{
    REJECTS(COST ",\"data\":{\"cost_cents\":1.5}}", "data.cost_cents", "money is integer cents");
    REJECTS(COST ",\"data\":{\"cost_cents\":1e3}}", "data.cost_cents", "money is integer cents");
    REJECTS(COST ",\"data\":{\"cost_cents\":1E+2}}", "data.cost_cents", NULL);
    REJECTS(COST ",\"data\":{\"cost_cents\":\"12\"}}", "data.cost_cents", "got a string");
    REJECTS(COST ",\"data\":{\"refund_cents\":null}}", "data.refund_cents", "money");
    REJECTS(COST ",\"data\":{\"a\":{\"b\":[{\"c_cents\":0.1}]}}}", "data.a.b[0].c_cents", "money");
    REJECTS(COST ",\"data\":{\"a\":[1,2,{\"x\":1,\"c_cents\":[]}]}}", "data.a[2].c_cents", NULL);
    REJECTS(COST ",\"before_state\":{\"max_cents\":10.0}}", "before_state.max_cents", "money");
    REJECTS(COST ",\"after_state\":{\"x\":{\"max_cents\":-1e2}}}", "after_state.x.max_cents", NULL);
    REJECTS(COST ",\"data\":{\"cost\\u005fcents\":2.5}}", "data.cost\\u005fcents", "money");
    ACCEPTS(COST ",\"data\":{\"refund_cents\":-250,\"x_cents\":0,\"cents\":1.5,\"_cent\":2.5}}");
    ACCEPTS(COST ",\"data\":{\"cost_cents\":-0}}");
    ACCEPTS(COST ",\"data\":{\"price\":19.99,\"ratio\":-1.5e-3}}");
}

/* ------------------------------------------------------------------ */
/* JSON rules                                                           */

static void test_json_syntax(void)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "[]", "\"x\"", "1", "null",
        COST, COST ",}", COST "}}", COST "} x", COST "}{}", COST ";",
        "{" T1 " \"event_type\":\"CostRecorded\"}", "{'tenant_id':'t1'}", "{tenant_id:\"t1\"}",
        COST ",\"data\":{\"a\":1,}}", COST ",\"data\":{\"a\":[1,]}}", COST ",\"data\":{\"a\":[,1]}}",
        COST ",\"data\":{\"a\" 1}}", COST ",\"data\":{\"a\":}}", COST ",\"data\":{\"a\":tru}}",
        COST ",\"data\":{\"a\":True}}", COST ",\"data\":{\"a\":nul}}", COST ",\"data\":{\"a\":falsey}}",
        COST ",\"data\":{\"a\":\"unterminated}}", COST ",\"data\":{\"a\":\"\\x\"}}",
        COST ",\"data\":{\"a\":\"\\u12\"}}", COST ",\"data\":{\"a\":\"\\u12G4\"}}",
        "\xef\xbb\xbf" COST "}", COST "}\x00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]) + (i == sizeof bad / sizeof bad[0] - 1);
        int rc = parse_n(bad[i], n);
        CHECKF(rc == ANNAL_EEVENT, "case %zu accepted: %s", i, bad[i]);
        CHECKF(err.reason[0] != 0, "case %zu: no reason", i);
    }
}

static void test_json_numbers(void)
{
    static const char *const bad[] = {"01", "-01", "+1", ".5", "1.", "1.e5", "-", "--1", "1e", "1e+",
                                      "NaN", "Infinity", "-Infinity", "0x10", "1_000", "1 2"};
    static const char *const good[] = {"0", "-0", "1", "-1", "0.5", "-0.5e-10", "1E5", "1e+5",
                                       "123456789012345678901234567890.0", "1e999", "-0.0"};
    char b[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(b, sizeof b, COST ",\"data\":{\"n\":%s}}", bad[i]);
        CHECKF(parse(b) == ANNAL_EEVENT, "accepted %s", bad[i]);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(b, sizeof b, COST ",\"data\":{\"n\":%s}}", good[i]);
        CHECKF(parse(b) == ANNAL_OK, "rejected %s: %s", good[i], err.reason);
    }
}

static void test_int64_limits(void)
{
    ACCEPTS(COST ",\"data\":{\"n\":9223372036854775807,\"m\":-9223372036854775808}}");
    REJECTS(COST ",\"data\":{\"n\":9223372036854775808}}", "data.n", "int64");
    REJECTS(COST ",\"data\":{\"n\":-9223372036854775809}}", "data.n", "int64");
    REJECTS(COST ",\"data\":{\"n\":18446744073709551616}}", "data.n", "int64");
    REJECTS(COST ",\"data\":{\"n\":[99999999999999999999999]}}", "data.n[0]", "int64");
    /* the scanner reports the values */
    annal_json_error je;
    CHECK(annal_json_compact("-9223372036854775808", 20, out, sizeof out, NULL, 0, &je) == ANNAL_OK);
    CHECK(annal_json_compact("10000000000000000000", 20, out, sizeof out, NULL, 0, &je) == ANNAL_EEVENT);
}

static void test_duplicate_keys(void)
{
    REJECTS("{" T1 ",\"tenant_id\":\"t2\",\"event_type\":\"CostRecorded\"}", "tenant_id", "duplicate");
    REJECTS(COST ",\"data\":{\"a\":1,\"b\":2,\"a\":3}}", "data.a", "duplicate");
    REJECTS(COST ",\"data\":{\"a\":1,\"\\u0061\":2}}", "data.\\u0061", "after decoding");
    REJECTS(COST ",\"data\":{\"\\u00e9\":1,\"\xc3\xa9\":2}}", "data.\xc3\xa9", "duplicate");
    REJECTS(COST ",\"data\":{\"x\":[{\"k\":1,\"k\":2}]}}", "data.x[0].k", "duplicate");
    REJECTS(COST ",\"data\":{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}}", "data.\xf0\x9f\x98\x80", NULL);
    REJECTS(COST ",\"data\":{\"\\/\":1,\"/\":2}}", "data./", NULL);
    REJECTS(COST ",\"data\":{\"\":1,\"\":2}}", "data.", NULL);
    /* same name in different objects is fine; so are near misses */
    ACCEPTS(COST ",\"data\":{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2},\"A\":1,\"a \":2,\"ab\":3,"
                 "\"abcd\":1,\"abcde\":2,\"abcdf\":3,\"\\u0062c\":1}}");
}

static void test_duplicate_keys_in_big_objects(void)
{
    /* 3000 members: the hash set path, growing several times */
    static char b[1 << 17];
    for (int variant = 0; variant < 4; variant++) {
        int n = snprintf(b, sizeof b, COST ",\"data\":{");
        for (int i = 0; i < 3000; i++)
            n += snprintf(b + n, sizeof b - (size_t)n, "%s\"key_%05d\":%d", i ? "," : "", i, i);
        if (variant == 1)
            n += snprintf(b + n, sizeof b - (size_t)n, ",\"key_01234\":0");
        if (variant == 2)
            n += snprintf(b + n, sizeof b - (size_t)n, ",\"key_\\u0030\\u0030007\":0");
        if (variant == 3)
            n += snprintf(b + n, sizeof b - (size_t)n, ",\"key_00003\":0");
        snprintf(b + n, sizeof b - (size_t)n, "}}");
        int rc = annal_event_parse(b, strlen(b), sizeof b, out, sizeof out, &ev, &err);
        if (variant == 0)
            CHECKF(rc == ANNAL_OK, "%s: %s", err.field, err.reason);
        else
            CHECKF(rc == ANNAL_EEVENT && strstr(err.reason, "duplicate"), "variant %d: rc %d %s",
                   variant, rc, err.reason);
    }
    /* an escaped name among the first 16 and a duplicate of it much later */
    int n = snprintf(b, sizeof b, "{\"\\u0041\":0");
    for (int i = 0; i < 100; i++)
        n += snprintf(b + n, sizeof b - (size_t)n, ",\"k%d\":%d", i, i);
    snprintf(b + n, sizeof b - (size_t)n, ",\"A\":1}");
    annal_json_error je;
    CHECK(annal_json_compact(b, strlen(b), out, sizeof out, NULL, 0, &je) == ANNAL_EEVENT);
    CHECK(strcmp(je.path, "A") == 0);
}

static void test_duplicate_keys_fallback_walk(void)
{
    /* A tiny arena forces nested big objects into the walking fallback. */
    static char b[1 << 17];
    annal_json_error je;
    size_t olen;
    for (int variant = 0; variant < 3; variant++) {
        int n = snprintf(b, sizeof b, "{\"outer\":{");
        for (int i = 0; i < 600; i++) {
            n += snprintf(b + n, sizeof b - (size_t)n, "%s\"o%d\" : ", i ? " , " : "", i);
            if (i == 300) {
                n += snprintf(b + n, sizeof b - (size_t)n, "{");
                for (int j = 0; j < 300; j++)
                    n += snprintf(b + n, sizeof b - (size_t)n, "%s\"i%d\":[\"}\\\"\",{\"o1\":1}]",
                                  j ? "," : "", j);
                if (variant == 1)
                    n += snprintf(b + n, sizeof b - (size_t)n, ",\"i\\u0031\":0");
                n += snprintf(b + n, sizeof b - (size_t)n, "}");
            } else {
                n += snprintf(b + n, sizeof b - (size_t)n, "%d", i);
            }
        }
        if (variant == 2)
            n += snprintf(b + n, sizeof b - (size_t)n, ",\"o599\":1");
        snprintf(b + n, sizeof b - (size_t)n, "}}");
        int rc = annal_json_compact(b, strlen(b), out, sizeof out, &olen, ANNAL_JSON_TINY_ARENA, &je);
        int rc2 = annal_json_compact(b, strlen(b), out, sizeof out, &olen, 0, &je);
        CHECKF(rc == rc2, "variant %d: tiny arena %d, full arena %d", variant, rc, rc2);
        CHECKF(rc == (variant == 0 ? ANNAL_OK : ANNAL_EEVENT), "variant %d: rc %d %s", variant, rc,
               je.reason);
        if (variant == 1)
            CHECK(strcmp(je.path, "outer.o300.i\\u0031") == 0);
        if (variant == 2)
            CHECK(strcmp(je.path, "outer.o599") == 0);
    }
}

static void test_nul_and_control_characters(void)
{
    REJECTS(COST ",\"summary\":\"a\\u0000b\"}", "summary", "\\u0000 (NUL)");
    REJECTS(COST ",\"data\":{\"a\\u0000\":1}}", "data", "NUL");
    REJECTS(COST ",\"data\":{\"a\":[\"\\u0000\"]}}", "data.a[0]", "NUL");
    ACCEPTS(COST ",\"summary\":\"a\\u0001b\\u001f\\n\\t\\r\\b\\f\\/\\\\\\\"\"}");
    char b[128];
    for (int c = 1; c < 0x20; c++) {
        snprintf(b, sizeof b, COST ",\"summary\":\"a%cb\"}", c);
        CHECKF(rejects(b, "summary", "control character"), "byte 0x%02x", c);
    }
    /* a raw NUL inside a string (the input is length-delimited) */
    static const char nul[] = COST ",\"summary\":\"a\0b\"}";
    CHECK(parse_n(nul, sizeof nul - 1) == ANNAL_EEVENT);
    ACCEPTS(COST ",\"summary\":\"del \x7f ok\"}");
}

static void test_invalid_utf8(void)
{
    static const char *const bad[] = {
        "\x80",             /* lone continuation */
        "\xbf",             /* lone continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* U+D800 encoded */
        "\xed\xbf\xbf",     /* U+DFFF encoded */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead > F4 */
        "\xff",             /* never valid */
        "\xe2\x82",         /* truncated */
        "\xe2\x28\xa1",     /* bad continuation */
        "\xf0\x9f\x98",     /* truncated 4-byte */
        "\xc3",             /* truncated at the closing quote */
    };
    static const char *const good[] = {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
                                       "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
                                       "\xf4\x8f\xbf\xbf", "\xe6\x9d\xb1\xe4\xba\xac"};
    char b[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(b, sizeof b, COST ",\"summary\":\"ok %s\"}", bad[i]);
        CHECKF(rejects(b, "summary", "UTF-8"), "case %zu", i);
        CHECK(err.offset == strlen(COST ",\"summary\":\"ok "));
        snprintf(b, sizeof b, COST ",\"data\":{\"k%s\":1}}", bad[i]);
        CHECKF(rejects(b, "data", "UTF-8"), "key case %zu", i);
        /* long strings take the vector path before reaching the bad byte */
        snprintf(b, sizeof b, COST ",\"summary\":\"0123456789abcdefghijklmnopqrstu %s tail\"}",
                 bad[i]);
        CHECKF(rejects(b, "summary", "UTF-8"), "long case %zu", i);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(b, sizeof b, COST ",\"summary\":\"%s\",\"data\":{\"%s\":1}}", good[i], good[i]);
        CHECKF(parse(b) == ANNAL_OK, "good case %zu: %s", i, err.reason);
    }
    /* bytes >= 0x80 outside strings */
    REJECTS(COST ",\"data\":{\"a\":\xc3\xa9}}", "data.a", NULL);
}

static void test_surrogate_escapes(void)
{
    ACCEPTS(COST ",\"summary\":\"\\uD83D\\uDE00 \\ud83d\\ude00 \\uDBFF\\uDFFF\"}");
    REJECTS(COST ",\"summary\":\"\\uD800\"}", "summary", "lone high surrogate");
    REJECTS(COST ",\"summary\":\"\\uD800x\"}", "summary", "lone high surrogate");
    REJECTS(COST ",\"summary\":\"\\uDBFF\\u0041\"}", "summary", "high surrogate");
    REJECTS(COST ",\"summary\":\"\\uD800\\uD800\"}", "summary", NULL);
    REJECTS(COST ",\"summary\":\"\\uDC00\"}", "summary", "lone low surrogate");
    REJECTS(COST ",\"summary\":\"\\uDFFF\\uD800\"}", "summary", "low surrogate");
    REJECTS(COST ",\"summary\":\"\\uD800\\n\"}", "summary", NULL);
    REJECTS(COST ",\"summary\":\"\\uD800\\", "summary", NULL);
}

/* A document nested `depth` deep ({"k":[{"k":[...1...]}]}), or an event
 * whose data nests so that the whole event is `depth` deep. */
static void nest(char *b, int depth, int event)
{
    size_t n = 0;
    if (event) {
        n += (size_t)sprintf(b, COST ",\"data\":{\"a\":");
        depth -= 2;
    }
    for (int i = 0; i < depth; i++)
        n += (size_t)sprintf(b + n, i % 2 ? "[" : "{\"k\":");
    b[n++] = '1';
    for (int i = depth - 1; i >= 0; i--)
        b[n++] = i % 2 ? ']' : '}';
    if (event)
        n += (size_t)sprintf(b + n, "}}");
    b[n] = 0;
}

static void test_depth_limit(void)
{
    char b[1024];
    annal_json_error je;
    memset(b, '[', 32);
    memset(b + 32, ']', 32);
    CHECK(annal_json_compact(b, 64, out, sizeof out, NULL, 0, &je) == ANNAL_OK);
    memset(b, '[', 33);
    memset(b + 33, ']', 33);
    CHECK(annal_json_compact(b, 66, out, sizeof out, NULL, 0, &je) == ANNAL_EEVENT);
    CHECK(strstr(je.reason, "at most 32") != NULL);
    CHECK(je.offset == 32);
    nest(b, 32, 1);
    ACCEPTS(b);
    nest(b, 33, 1);
    CHECK(rejects(b, err.field, "nesting too deep"));
    CHECK(strncmp(err.field, "data.a.k[0].k", 13) == 0);
    nest(b, 32, 0);
    CHECK(annal_json_compact(b, strlen(b), out, sizeof out, NULL, 0, &je) == ANNAL_OK);
    nest(b, 33, 0);
    CHECK(annal_json_compact(b, strlen(b), out, sizeof out, NULL, 0, &je) == ANNAL_EEVENT);
}

/* An event of exactly `size` bytes (padding in data.pad). */
static size_t sized_event(char *b, size_t size)
{
    const char *head = COST ",\"data\":{\"pad\":\"";
    const char *tail = "\"}}";
    size_t h = strlen(head), t = strlen(tail);
    memcpy(b, head, h);
    memset(b + h, 'p', size - h - t);
    memcpy(b + size - t, tail, t);
    b[size] = 0;
    return size;
}

static void test_size_limit(void)
{
    static char b[70000];
    size_t n = sized_event(b, 65536);
    CHECKF(parse_n(b, n) == ANNAL_OK, "%s", err.reason);
    n = sized_event(b, 65537);
    CHECK(parse_n(b, n) == ANNAL_EEVENT);
    CHECK(strcmp(err.field, "") == 0 && strstr(err.reason, "65537 bytes") &&
          strstr(err.reason, "limit is 65536"));
    /* a trailing newline (or CRLF) does not count */
    n = sized_event(b, 65536);
    b[n] = '\n';
    CHECK(parse_n(b, n + 1) == ANNAL_OK);
    b[n] = '\r';
    b[n + 1] = '\n';
    CHECK(parse_n(b, n + 2) == ANNAL_OK);
    /* a caller's limit */
    n = sized_event(b, 100);
    CHECK(annal_event_parse(b, n, 100, out, sizeof out, &ev, &err) == ANNAL_OK);
    CHECK(annal_event_parse(b, n, 99, out, sizeof out, &ev, &err) == ANNAL_EEVENT);
    n = sized_event(b, 70000 - 1);
    CHECK(annal_event_parse(b, n, 70000, out, sizeof out, &ev, &err) == ANNAL_OK);
}

static void test_compaction(void)
{
    const char *in = " \r\n\t{ \"tenant_id\" :\t\"t1\" ,\n \"event_type\": \"CostRecorded\",\"summary\":"
                     "\" keep  these \\u0020 spaces \" , \"data\" : { \"a\" : [ 1 , 2.50 , { } , [ ] ,"
                     " \"x\" , true , false , null ] , \"b\":-0E+1 } }\r\n";
    const char *want = "{\"tenant_id\":\"t1\",\"event_type\":\"CostRecorded\",\"summary\":"
                       "\" keep  these \\u0020 spaces \",\"data\":{\"a\":[1,2.50,{},[],\"x\",true,"
                       "false,null],\"b\":-0E+1}}";
    ACCEPTS(in);
    CHECK(ev.body == out + 1 && ev.body_len == strlen(want) - 2);
    CHECK(memcmp(out, want, strlen(want)) == 0);
    CHECK(slice_is(ev.tenant_id, "t1") && slice_is(ev.event_type, "CostRecorded"));
    /* compact input comes out unchanged */
    ACCEPTS(want);
    CHECK(memcmp(out, want, strlen(want)) == 0 && ev.body_len == strlen(want) - 2);
    /* the generic entry point accepts any value */
    size_t olen;
    annal_json_error je;
    CHECK(annal_json_compact(" [ 1 , \"a b\" ] ", 15, out, sizeof out, &olen, 0, &je) == ANNAL_OK);
    CHECK(olen == 9 && memcmp(out, "[1,\"a b\"]", 9) == 0);
    CHECK(annal_json_compact(" true ", 6, out, sizeof out, &olen, 0, &je) == ANNAL_OK && olen == 4);
    CHECK(annal_json_compact("\"\"", 2, out, sizeof out, &olen, 0, &je) == ANNAL_OK && olen == 2);
    /* check-only mode: already compact or not */
    CHECK(annal_json_compact("[1,2]", 5, NULL, 0, &olen, 0, &je) == ANNAL_OK);
    CHECK(annal_json_compact("[1, 2]", 6, NULL, 0, &olen, 0, &je) == ANNAL_EEVENT);
    CHECK(strstr(je.reason, "compact") && je.offset == 3);
    CHECK(annal_json_compact("[1,2]\n", 6, NULL, 0, &olen, 0, &je) == ANNAL_EEVENT);
}

static void test_output_buffer_and_arguments(void)
{
    const char *in = "{ \"tenant_id\":\"t1\", \"event_type\":\"CostRecorded\" }";
    size_t compact = strlen(in) - 3;
    char small[64];
    CHECK(annal_event_parse(in, strlen(in), 0, small, compact, &ev, &err) == ANNAL_OK);
    CHECK(ev.body_len == compact - 2);
    CHECK(annal_event_parse(in, strlen(in), 0, small, compact - 1, &ev, &err) == ANNAL_EFULL);
    CHECK(annal_event_parse(in, strlen(in), 0, small, 0, &ev, &err) == ANNAL_EFULL);
    CHECK(annal_event_parse(NULL, 0, 0, small, sizeof small, &ev, &err) == ANNAL_EINVAL);
    CHECK(annal_event_parse(in, strlen(in), 0, NULL, 0, &ev, &err) == ANNAL_EINVAL);
    CHECK(annal_event_parse(in, strlen(in), 0, small, sizeof small, NULL, &err) == ANNAL_EINVAL);
    /* err may be NULL */
    CHECK(annal_event_parse("{}", 2, 0, small, sizeof small, &ev, NULL) == ANNAL_EEVENT);
    CHECK(annal_record_parse(NULL, 0, &ev, &err) == ANNAL_EINVAL);
    CHECK(annal_record_parse("{", 1, &ev, NULL) == ANNAL_EEVENT);
}

static void test_error_offsets(void)
{
    const char *s = COST ",\"data\":{\"a\":1,\"a\":2}}";
    CHECK(parse(s) == ANNAL_EEVENT);
    CHECK(err.offset == (size_t)(strstr(s, "\"a\":2") - s));
    s = COST ",\"run_id\":\"r#\"}";
    CHECK(parse(s) == ANNAL_EEVENT);
    CHECK(err.offset == (size_t)(strchr(s, '#') - s));
    s = COST ",\"data\":{\"n\":01}}";
    CHECK(parse(s) == ANNAL_EEVENT);
    CHECK(err.offset == (size_t)(strstr(s, "01") - s) && strstr(err.reason, "leading zeros"));
}

static void test_helpers(void)
{
    char b[16];
    const char *esc = "a\\u00e9\\n\\ud83d\\ude00";
    CHECK(annal_json_unescape(esc, strlen(esc), b, sizeof b) == 8);
    CHECK(memcmp(b, "a\xc3\xa9\n\xf0\x9f\x98\x80", 8) == 0);
    CHECK(annal_json_unescape("abc", 3, b, 2) == 3);
    CHECK(annal_json_str_eq("d\\u0061ta", 9, 1, "data", 4));
    CHECK(!annal_json_str_eq("d\\u0061ta", 9, 1, "date", 4));
    CHECK(annal_json_str_eq("data", 4, 0, "data", 4));
    CHECK(strcmp(annal_json_kind_name(ANNAL_JSON_REAL), "a number with a fraction or exponent") == 0);
}

/* ------------------------------------------------------------------ */
/* Records                                                              */

static char rec[1 << 18];

static void test_record_round_trip(void)
{
    const char *s = "{ \"tenant_id\":\"t1\",\"event_type\":\"IncidentResolved\",\"incident_id\":\"i-9\","
                    "\"actor_type\":\"HUMAN\",\"actor_id\":\"ops@x\",\"occurred_at\":"
                    "\"2025-01-05T12:00:00Z\",\"data\":{\"note\":\"done \\u00e9\"} }\n";
    ACCEPTS(s);
    annal_event e1 = ev;
    static const uint64_t seqs[] = {1, 9, 10, 1234567, UINT64_MAX};
    for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
        int64_t at = 1736078400123456789ll + (int64_t)k;
        size_t n = annal_record_build(&e1, seqs[k], at, rec, sizeof rec);
        CHECK(n > 0 && n <= e1.body_len + ANNAL_RECORD_OVERHEAD);
        if (seqs[k] == UINT64_MAX)
            CHECK(n == e1.body_len + ANNAL_RECORD_OVERHEAD);
        char head[128];
        char t[31];
        annal_time_format(at, t);
        int hn = snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"recorded_at\":\"%s\",", seqs[k], t);
        CHECK(memcmp(rec, head, (size_t)hn) == 0);
        CHECK(memcmp(rec + hn, e1.body, e1.body_len) == 0 && rec[n - 1] == '}');
        annal_event e2;
        CHECKF(annal_record_parse(rec, n, &e2, &err) == ANNAL_OK, "%.*s: %s: %s", (int)n, rec,
               err.field, err.reason);
        CHECK(e2.seq == seqs[k] && e2.recorded_at_ns == at);
        CHECK(e2.type == e1.type && e2.domain == e1.domain && e2.is_ledger == e1.is_ledger);
        CHECK(e2.occurred_at_ns == e1.occurred_at_ns && e2.has_occurred_at);
        CHECK(e2.body == rec + hn && e2.body_len == e1.body_len);
        CHECK(e2.incident_id.n == 3 && memcmp(e2.incident_id.p, "i-9", 3) == 0);
        CHECK(e2.incident_id.p > rec && e2.incident_id.p < rec + n);
        CHECK(e2.actor_id.n == 5 && memcmp(e2.actor_id.p, "ops@x", 5) == 0);
        /* rebuilding gives the same bytes */
        static char rec2[1 << 18];
        CHECK(annal_record_build(&e2, e2.seq, e2.recorded_at_ns, rec2, sizeof rec2) == n);
        CHECK(memcmp(rec, rec2, n) == 0);
        /* too small a buffer */
        CHECK(annal_record_build(&e1, seqs[k], at, rec2, n - 1) == 0);
        CHECK(annal_record_build(&e1, seqs[k], at, rec2, n) == n);
    }
    CHECK(annal_record_build(&e1, 0, 0, rec, sizeof rec) == 0);
    CHECK(annal_record_build(&e1, 1, -1, rec, sizeof rec) == 0);
}

static int record_rejected(const char *r, const char *field)
{
    annal_event e;
    memset(&err, 0, sizeof err);
    int rc = annal_record_parse(r, strlen(r), &e, &err);
    if (rc != ANNAL_EEVENT) {
        fprintf(stderr, "  record accepted (rc %d): %s\n", rc, r);
        return 0;
    }
    if (field && strcmp(err.field, field) != 0) {
        fprintf(stderr, "  field \"%s\" (want \"%s\"): %s: %s\n", err.field, field, err.reason, r);
        return 0;
    }
    return 1;
}

#define AT "\"recorded_at\":\"2025-01-05T12:00:00.000000001Z\""
#define BODY "\"tenant_id\":\"t1\",\"event_type\":\"CostRecorded\""

static void test_non_canonical_records(void)
{
    annal_event e;
    CHECK(annal_record_parse("{\"seq\":1," AT "," BODY "}", strlen("{\"seq\":1," AT "," BODY "}"), &e,
                             &err) == ANNAL_OK);
    CHECK(e.seq == 1 && e.recorded_at_ns == 1736078400000000001ll);
    CHECK(record_rejected("{\"seq\":0," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":01," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":-1," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":18446744073709551616," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":1.0," AT "," BODY "}", "recorded_at"));
    CHECK(record_rejected("{ \"seq\":1," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\": 1," AT "," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":1, " AT "," BODY "}", "recorded_at"));
    CHECK(record_rejected("{" AT ",\"seq\":1," BODY "}", "seq"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-01-05T12:00:00.000001Z\"," BODY "}",
                          "recorded_at"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-01-05t12:00:00.000000001Z\"," BODY "}",
                          "recorded_at"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-01-05T12:00:00.000000001z\"," BODY "}",
                          "recorded_at"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-02-30T12:00:00.000000001Z\"," BODY "}",
                          "recorded_at"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-01-05T12:00:00.00000000aZ\"," BODY "}",
                          "recorded_at"));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY " }", NULL));
    CHECK(record_rejected("{\"seq\":1," AT ", " BODY "}", NULL));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY "}\n", NULL));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY ",\"data\":{\"a\": 1}}", NULL));
    CHECK(strstr(err.reason, "compact") != NULL);
    CHECK(record_rejected("{\"seq\":1," AT ",}", NULL));
    CHECK(record_rejected("{\"seq\":1," AT "}", "recorded_at"));
    CHECK(record_rejected("{\"seq\":1," AT ",", NULL));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY, NULL));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY "}}", NULL));
    CHECK(record_rejected("{\"seq\":1," AT ",\"event_type\":\"CostRecorded\"}", "tenant_id"));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY ",\"seq\":2}", "seq"));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY ",\"tenant_id\":\"t2\"}", "tenant_id"));
    CHECK(record_rejected("{\"seq\":1," AT "," BODY ",\"data\":{\"cost_cents\":1.5}}",
                          "data.cost_cents"));
    CHECK(record_rejected("{\"seq\":1,\"recorded_at\":\"2025-01-05T12:00:00.000000001Z\"", NULL));
    CHECK(record_rejected("", "seq"));
    CHECK(record_rejected("{\"seq\":", "seq"));
    /* escapes and non-ASCII are compact */
    const char *ok = "{\"seq\":7," AT ",\"tenant\\u005fid\":\"t1\",\"event_type\":\"CostRecorded\","
                     "\"summary\":\"\xc3\xa9 \\u00e9\"}";
    CHECKF(annal_record_parse(ok, strlen(ok), &e, &err) == ANNAL_OK, "%s", err.reason);
    CHECK(e.tenant_id.n == 2 && memcmp(e.tenant_id.p, "t1", 2) == 0 && e.seq == 7);
}

/* ------------------------------------------------------------------ */
/* Times                                                                */

static int64_t tp(const char *s)
{
    int64_t ns = -12345;
    return annal_time_parse(s, strlen(s), &ns) == 0 ? ns : -1;
}

static void test_time_parse(void)
{
    CHECK(tp("1970-01-01T00:00:00Z") == 0);
    CHECK(tp("1970-01-01T00:00:00.000000001Z") == 1);
    CHECK(tp("1970-01-01T00:00:01.5Z") == 1500000000);
    CHECK(tp("1970-01-01t00:00:01.5z") == 1500000000);
    CHECK(tp("1970-01-01T00:00:01.5+00:00") == 1500000000);
    CHECK(tp("2000-02-29T00:00:00Z") == 951782400000000000ll);
    CHECK(tp("2024-02-29T12:00:00Z") > 0);
    CHECK(tp("2025-01-05T12:00:00Z") == 1736078400000000000ll);
    CHECK(tp("2025-12-31T23:59:59.999999999Z") == 1767225599999999999ll);
    CHECK(tp("2262-04-11T23:47:16.854775807Z") == INT64_MAX);
    CHECK(tp("2262-04-11T23:47:16.854775808Z") == -1);
    CHECK(tp("2262-04-12T00:00:00Z") == -1);
    CHECK(tp("9999-12-31T23:59:59Z") == -1);
    static const char *const bad[] = {
        "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
        "1969-12-31T23:59:59Z", "2025-00-01T00:00:00Z", "2025-13-01T00:00:00Z",
        "2025-04-31T00:00:00Z", "2025-01-00T00:00:00Z", "2025-01-32T00:00:00Z",
        "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z", "2025-01-01T00:00:60Z",
        "2025-01-01T00:00:00", "2025-01-01T00:00:00.Z", "2025-01-01T00:00:00.1234567890Z",
        "2025-01-01T00:00:00-00:00", "2025-01-01T00:00:00+01:00", "2025-01-01 00:00:00Z",
        "2025-1-01T00:00:00Z", "25-01-01T00:00:00Z", "2025-01-01T00:00:00ZZ",
        "2025-01-01T00:00:00+00:00Z", "+2025-01-01T00:00:00Z", "2025-01-01T00:00:0aZ",
        "2025-01-01T00:00:00.12a4Z", "", "2025-01-01", "2025-01-01T0:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(tp(bad[i]) == -1, "accepted %s", bad[i]);
    /* every month's last day, in a leap and a common year */
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char b[40];
    for (int y = 2023; y <= 2024; y++)
        for (int m = 1; m <= 12; m++) {
            int last = days[m - 1] + (m == 2 && y == 2024);
            snprintf(b, sizeof b, "%d-%02d-%02dT00:00:00Z", y, m, last);
            CHECKF(tp(b) >= 0, "%s", b);
            snprintf(b, sizeof b, "%d-%02d-%02dT00:00:00Z", y, m, last + 1);
            CHECKF(tp(b) == -1, "%s", b);
        }
    CHECK(annal_time_parse(NULL, 0, NULL) == -1);
    CHECK(annal_time_parse("1970-01-01T00:00:00Z", 20, NULL) == 0);
}

static void test_time_format(void)
{
    char t[31];
    annal_time_format(0, t);
    CHECK(strcmp(t, "1970-01-01T00:00:00.000000000Z") == 0);
    annal_time_format(951782400000000001ll, t);
    CHECK(strcmp(t, "2000-02-29T00:00:00.000000001Z") == 0);
    annal_time_format(INT64_MAX, t);
    CHECK(strcmp(t, "2262-04-11T23:47:16.854775807Z") == 0);
    annal_time_format(-1, t);
    CHECK(strcmp(t, "1969-12-31T23:59:59.999999999Z") == 0);
    /* format and parse are inverse on random times (fixed seed) */
    uint64_t seed = 20250105;
    for (int i = 0; i < 100000; i++) {
        int64_t ns = (int64_t)(t_rand(&seed) >> 1);
        annal_time_format(ns, t);
        CHECKF(strlen(t) == 30 && tp(t) == ns, "%" PRId64 " -> %s", ns, t);
    }
}

/* ------------------------------------------------------------------ */
/* The seed corpus doubles as golden inputs                             */

/* fuzz/corpus/event/: valid_* must parse as events, invalid_* must be
 * rejected, record_valid_* / record_invalid_* likewise as records (generic_*
 * are for the JSON differential only). $FUZZ_DIR is set by `make test`. */
static void test_golden_corpus(void)
{
    const char *dir = getenv("FUZZ_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/corpus/event", dir ? dir : "fuzz");
    DIR *d = opendir(path);
    if (!d && !dir) {
        fprintf(stderr, "note: %s not found (run from the repository root or set FUZZ_DIR); "
                        "golden corpus skipped\n", path);
        return;
    }
    CHECKF(d != NULL, "no corpus at %s", path);
    static char buf[1 << 18];
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        int want_ok = strncmp(name, "valid_", 6) == 0 || strncmp(name, "record_valid_", 13) == 0;
        int want_bad = strncmp(name, "invalid_", 8) == 0 || strncmp(name, "record_invalid_", 15) == 0;
        if (!want_ok && !want_bad)
            continue;
        char file[8192];
        snprintf(file, sizeof file, "%s/%s", path, name);
        FILE *f = fopen(file, "rb");
        if (!f) {
            closedir(d);
            CHECKF(0, "cannot open %s", file);
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        int rc = strncmp(name, "record_", 7) == 0
                     ? annal_record_parse(buf, n, &ev, &err)
                     : annal_event_parse(buf, n, 0, out, sizeof out, &ev, &err);
        if (want_ok != (rc == ANNAL_OK)) {
            closedir(d);
            CHECKF(0, "%s: rc %d (%s: %s)", name, rc, rc ? err.field : "", rc ? err.reason : "");
        }
        checked++;
    }
    closedir(d);
    CHECK(checked >= 30);
}

int main(void)
{
    T_RUN(test_registry_names);
    T_RUN(test_every_type_minimal_is_valid);
    T_RUN(test_every_type_requires_its_field);
    T_RUN(test_ledger_types_require_actor);
    T_RUN(test_rich_events_of_data_rule_types);
    T_RUN(test_all_fields_are_reported);
    T_RUN(test_tenant_id_rules);
    T_RUN(test_every_id_field_is_checked);
    T_RUN(test_event_type_rules);
    T_RUN(test_service_events);
    T_RUN(test_actor_and_entity_type);
    T_RUN(test_occurred_at);
    T_RUN(test_text_fields);
    T_RUN(test_object_fields);
    T_RUN(test_unknown_top_level_field);
    T_RUN(test_data_enumerations);
    T_RUN(test_data_integers);
    T_RUN(test_money_is_integer_cents);
    T_RUN(test_json_syntax);
    T_RUN(test_json_numbers);
    T_RUN(test_int64_limits);
    T_RUN(test_duplicate_keys);
    T_RUN(test_duplicate_keys_in_big_objects);
    T_RUN(test_duplicate_keys_fallback_walk);
    T_RUN(test_nul_and_control_characters);
    T_RUN(test_invalid_utf8);
    T_RUN(test_surrogate_escapes);
    T_RUN(test_depth_limit);
    T_RUN(test_size_limit);
    T_RUN(test_compaction);
    T_RUN(test_output_buffer_and_arguments);
    T_RUN(test_error_offsets);
    T_RUN(test_helpers);
    T_RUN(test_record_round_trip);
    T_RUN(test_non_canonical_records);
    T_RUN(test_time_parse);
    T_RUN(test_time_format);
    T_RUN(test_golden_corpus);
    return t_done();
}
