/*
 * test_gen.c - `annal gen` (tools/gen.c): determinism, exact line counts,
 * every line a valid client event (annal_event_parse, and an independent
 * check with jansson), size, proportions, budgets that get overspent, unique
 * event ids, monotonic time, the links each type needs, and the CLI.
 * Links build/tools/gen.o and gen_data.o (see the Makefile).
 */
#include "t.h"

#include "store/error.h"
#include "store/event.h"
#include "tools/cmd.h"
#include "tools/gen.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static int gen(uint64_t seed, uint64_t events, unsigned tenants, buf *b)
{
    b->p = NULL;
    b->n = 0;
    FILE *f = open_memstream(&b->p, &b->n);
    if (!f)
        return -1;
    int rc = annal_gen_write(f, seed, events, tenants);
    if (fclose(f) != 0)
        return -1;
    return rc;
}

/* The next line of b from *off (without the newline); NULL at the end. */
static const char *next_line(const buf *b, size_t *off, size_t *len)
{
    if (*off >= b->n)
        return NULL;
    const char *s = b->p + *off;
    const char *nl = memchr(s, '\n', b->n - *off);
    size_t l = nl ? (size_t)(nl - s) : b->n - *off;
    *len = l;
    *off += l + (nl ? 1 : 0);
    return s;
}

static size_t count_lines(const buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->p[i] == '\n';
    return n;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_service(const char *type) { return strchr(type, '.') != NULL; }

static int is_run_or_cost(const char *type)
{
    return !strcmp(type, "RunStarted") || !strcmp(type, "RunCompleted") || !strcmp(type, "RunFailed") ||
           !strcmp(type, "CostRecorded");
}

static int is_ledger(const char *type)
{
    static const char *const l[] = {
        "PolicyRuleCreated", "PolicyRuleModified", "PolicyRuleRetired", "PolicyProposalApproved",
        "PolicyProposalRejected", "LimitCreated", "LimitUpdated", "LimitBreached", "LimitOverrideGranted",
        "LimitOverrideRevoked", "IncidentAcknowledged", "IncidentResolved", "IncidentManuallyClosed",
        "EmergencyOverrideActivated", "EmergencyOverrideDeactivated"};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        if (!strcmp(type, l[i]))
            return 1;
    return 0;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs cmd_gen(argv) in a child with stdout to `out` (may be NULL: /dev/null)
 * and stderr to /dev/null; returns its exit status, or -1. */
static int run_cli(char **argv, const char *out)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_WRONLY);
        if (fd < 0 || nul < 0)
            _exit(99);
        dup2(fd, 1);
        dup2(nul, 2);
        int rc = cmd_gen(argc, argv);
        fflush(stdout);
        _exit(rc);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

/* The 20k-event workload most tests look at, made once. */
static buf w20k;
static int w20k_rc = -1;

static const buf *workload(void)
{
    if (w20k_rc < 0)
        w20k_rc = gen(20260101, 20000, 20, &w20k);
    return w20k_rc == ANNAL_OK ? &w20k : NULL;
}

/* --------------------------------------------------------------- tests */

static void test_deterministic(void)
{
    buf a, b, c;
    CHECK(gen(42, 5000, 20, &a) == ANNAL_OK);
    CHECK(gen(42, 5000, 20, &b) == ANNAL_OK);
    CHECK(gen(43, 5000, 20, &c) == ANNAL_OK);
    CHECK(a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
    CHECK(a.n != c.n || memcmp(a.p, c.p, a.n) != 0);
    /* another tenant count is another workload */
    buf d;
    CHECK(gen(42, 5000, 7, &d) == ANNAL_OK);
    CHECK(a.n != d.n || memcmp(a.p, d.p, a.n) != 0);
    free(a.p);
    free(b.p);
    free(c.p);
    free(d.p);
}

static void test_exact_line_count(void)
{
    static const uint64_t ns[] = {0, 1, 2, 7, 100, 1000, 12345};
    static const unsigned ks[] = {1, 3, 20, 200};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            buf b;
            CHECK(gen(7 + i, ns[i], ks[j], &b) == ANNAL_OK);
            CHECKF(count_lines(&b) == ns[i], "events %llu tenants %u: %zu lines",
                   (unsigned long long)ns[i], ks[j], count_lines(&b));
            CHECK(ns[i] == 0 || b.p[b.n - 1] == '\n');
            free(b.p);
        }
    }
}

static void test_bad_arguments(void)
{
    buf b;
    CHECK(gen(1, 10, 0, &b) == ANNAL_EINVAL);
    free(b.p);
    CHECK(gen(1, 10, ANNAL_GEN_MAX_TENANTS + 1, &b) == ANNAL_EINVAL);
    free(b.p);
    CHECK(annal_gen_write(NULL, 1, 10, 1) == ANNAL_EINVAL);
}

/* Every line passes the real validator. */
static void test_every_line_parses(void)
{
    const buf *b = workload();
    CHECK(b);
    char out[16384];
    size_t off = 0, len, n = 0;
    const char *line;
    while ((line = next_line(b, &off, &len))) {
        annal_event ev;
        annal_event_error err;
        memset(&err, 0, sizeof err);
        int rc = annal_event_parse(line, len, 0, out, sizeof out, &ev, &err);
        CHECKF(rc == ANNAL_OK, "line %zu: %s: %s: %.*s", n + 1, err.field, err.reason, (int)len, line);
        /* compact already: the compact form is the line itself */
        CHECKF(ev.body_len + 2 == len, "line %zu is not compact", n + 1);
        n++;
    }
    CHECK(n == 20000);
}

/* An independent check of the envelope with jansson. */
static void test_envelope(void)
{
    static const char *const allowed[] = {
        "tenant_id", "event_type", "event_id", "occurred_at", "actor_type", "actor_id",
        "entity_type", "entity_id", "run_id", "incident_id", "api_key_id", "correlation_id",
        "summary", "action_reason", "before_state", "after_state", "data"};
    static const char *const idf[] = {"tenant_id", "event_id", "actor_id", "entity_id", "run_id",
                                      "incident_id", "api_key_id", "correlation_id"};
    const buf *b = workload();
    CHECK(b);
    size_t off = 0, len, n = 0;
    const char *line;
    while ((line = next_line(b, &off, &len))) {
        n++;
        json_error_t je;
        json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
        CHECKF(o && json_is_object(o), "line %zu: %s", n, je.text);
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            size_t i = 0;
            while (i < sizeof allowed / sizeof allowed[0] && strcmp(k, allowed[i]))
                i++;
            CHECKF(i < sizeof allowed / sizeof allowed[0], "line %zu: field %s", n, k);
        }
        for (size_t i = 0; i < sizeof idf / sizeof idf[0]; i++) {
            const char *s = jstr(o, idf[i]);
            CHECKF(!json_object_get(o, idf[i]) || (s && valid_id(s)), "line %zu: bad %s", n, idf[i]);
        }
        const char *type = jstr(o, "event_type"), *at = jstr(o, "occurred_at");
        CHECK(type && at && jstr(o, "tenant_id") && jstr(o, "event_id"));
        CHECKF(strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z', "line %zu: occurred_at %s", n, at);
        CHECK(json_is_object(json_object_get(o, "data")));
        CHECK(!json_object_get(o, "before_state") || json_is_object(json_object_get(o, "before_state")));
        CHECK(!json_object_get(o, "after_state") || json_is_object(json_object_get(o, "after_state")));
        /* required links of the registry */
        if (!strncmp(type, "Run", 3))
            CHECKF(jstr(o, "run_id"), "line %zu: %s without run_id", n, type);
        if (!strncmp(type, "Incident", 8))
            CHECKF(jstr(o, "incident_id"), "line %zu: %s without incident_id", n, type);
        if (!strncmp(type, "ApiKey", 6))
            CHECKF(jstr(o, "api_key_id"), "line %zu: %s without api_key_id", n, type);
        if (!strncmp(type, "Policy", 6) || !strncmp(type, "Limit", 5))
            CHECKF(jstr(o, "entity_id"), "line %zu: %s without entity_id", n, type);
        if (is_service(type))
            CHECKF(jstr(o, "correlation_id"), "line %zu: %s without correlation_id", n, type);
        if (is_ledger(type)) {
            const char *a = jstr(o, "actor_type");
            CHECKF(a && (!strcmp(a, "HUMAN") || !strcmp(a, "SYSTEM") || !strcmp(a, "AGENT")) &&
                       jstr(o, "actor_id"),
                   "line %zu: ledger %s without actor", n, type);
        }
        /* derived events belong to the rule engine, not to the generator */
        CHECKF(strcmp(type, "LimitBreached") && strcmp(type, "CostAnomalyDetected"), "line %zu: %s", n, type);
        if (!strcmp(type, "IncidentCreated")) {
            const char *src = jstr(json_object_get(o, "data"), "source");
            CHECKF(src && (!strcmp(src, "MANUAL") || !strcmp(src, "POLICY_VIOLATION")), "line %zu: source %s",
                   n, src ? src : "(none)");
        }
        if (!strcmp(type, "CostRecorded")) {
            json_t *d = json_object_get(o, "data");
            CHECK(json_is_integer(json_object_get(d, "cost_cents")));
            CHECK(json_is_integer(json_object_get(d, "input_tokens")));
            CHECK(json_is_integer(json_object_get(d, "output_tokens")));
            CHECK(jstr(d, "model") && jstr(d, "feature_tag") && jstr(d, "user_id"));
            CHECK(jstr(o, "run_id") && jstr(o, "api_key_id"));
        }
        json_decref(o);
    }
    CHECK(n == 20000);
}

static void test_size(void)
{
    const buf *b = workload();
    CHECK(b);
    size_t off = 0, len, n = 0, max = 0;
    while (next_line(b, &off, &len)) {
        n++;
        if (len + 1 > max)
            max = len + 1;
    }
    double avg = (double)b->n / (double)n;
    CHECKF(avg >= 550 && avg <= 750, "average line %.1f bytes", avg);
    CHECKF(max <= 8192, "longest line %zu bytes", max);
}

static void test_proportions(void)
{
    const buf *b = workload();
    CHECK(b);
    size_t off = 0, len, n = 0, runs = 0, svc = 0, types = 0;
    const char *line;
    char seen[64][40];
    while ((line = next_line(b, &off, &len))) {
        json_t *o = json_loadb(line, len, 0, NULL);
        CHECK(o);
        const char *type = jstr(o, "event_type");
        n++;
        runs += is_run_or_cost(type);
        svc += is_service(type);
        if (!is_service(type)) {
            int found = 0;
            for (size_t i = 0; i < types; i++)
                found |= !strcmp(seen[i], type);
            if (!found && types < 64)
                snprintf(seen[types++], sizeof seen[0], "%s", type);
        }
        json_decref(o);
    }
    double pr = (double)runs / (double)n, ps = (double)svc / (double)n;
    CHECKF(pr >= 0.50 && pr <= 0.70, "runs and costs %.3f", pr);
    CHECKF(ps >= 0.15 && ps <= 0.25, "service events %.3f", ps);
    CHECKF(1 - pr - ps >= 0.10, "governance %.3f", 1 - pr - ps);
    /* the governance mix covers the registry */
    static const char *const want[] = {
        "TenantCreated", "UserInvited", "ApiKeyCreated", "ApiKeyRotated", "LimitCreated", "LimitUpdated",
        "RunStarted", "CostRecorded", "RunCompleted", "RunFailed", "IncidentCreated", "IncidentAcknowledged",
        "IncidentResolved", "PolicyRuleCreated", "PolicyRuleModified", "PolicyProposalCreated",
        "PolicyProposalApproved", "PolicyViolationPrevented"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (size_t j = 0; j < types; j++)
            found |= !strcmp(seen[j], want[i]);
        CHECKF(found, "no %s in 20000 events", want[i]);
    }
}

/* Replays limits and costs: some budget is overspent in some period. */
struct lim {
    char tenant[64], id[64], scope[16], scope_id[140];
    int daily;
    long long max;
    char period[16];
    long long spend;
    int exceeded;
};

static void test_budget_overspent(void)
{
    const buf *b = workload();
    CHECK(b);
    static struct lim lims[512];
    size_t nl = 0, off = 0, len, exceeded = 0;
    const char *line;
    while ((line = next_line(b, &off, &len))) {
        json_t *o = json_loadb(line, len, 0, NULL);
        CHECK(o);
        const char *type = jstr(o, "event_type"), *tenant = jstr(o, "tenant_id");
        json_t *d = json_object_get(o, "data");
        if (!strcmp(type, "LimitCreated") || !strcmp(type, "LimitUpdated")) {
            const char *id = jstr(o, "entity_id");
            size_t i = 0;
            while (i < nl && (strcmp(lims[i].tenant, tenant) || strcmp(lims[i].id, id)))
                i++;
            CHECKF(i < nl || !strcmp(type, "LimitCreated"), "%s of unknown limit %s", type, id);
            if (i == nl) {
                CHECK(nl < sizeof lims / sizeof lims[0]);
                nl++;
                memset(&lims[i], 0, sizeof lims[i]);
                snprintf(lims[i].tenant, sizeof lims[i].tenant, "%s", tenant);
                snprintf(lims[i].id, sizeof lims[i].id, "%s", id);
            }
            CHECK(!strcmp(jstr(d, "category"), "BUDGET"));
            CHECK(json_is_integer(json_object_get(d, "max_cents")));
            CHECK(json_integer_value(json_object_get(d, "warn_pct")) == 80);
            snprintf(lims[i].scope, sizeof lims[i].scope, "%s", jstr(d, "scope"));
            snprintf(lims[i].scope_id, sizeof lims[i].scope_id, "%s", jstr(d, "scope_id"));
            lims[i].daily = !strcmp(jstr(d, "period"), "DAILY");
            lims[i].max = json_integer_value(json_object_get(d, "max_cents"));
        } else if (!strcmp(type, "CostRecorded")) {
            const char *at = jstr(o, "occurred_at"), *feat = jstr(d, "feature_tag"), *key = jstr(o, "api_key_id");
            long long cost = json_integer_value(json_object_get(d, "cost_cents"));
            CHECK(cost >= 0);
            for (size_t i = 0; i < nl; i++) {
                struct lim *l = &lims[i];
                if (strcmp(l->tenant, tenant) || (!strcmp(l->scope, "feature") && strcmp(l->scope_id, feat)) ||
                    (!strcmp(l->scope, "api_key") && strcmp(l->scope_id, key)))
                    continue;
                size_t pl = l->daily ? 10 : 7; /* UTC day or month of occurred_at */
                if (strncmp(l->period, at, pl) || strlen(l->period) != pl) {
                    memcpy(l->period, at, pl);
                    l->period[pl] = 0;
                    l->spend = 0;
                }
                l->spend += cost;
                if (l->spend > l->max && !l->exceeded) {
                    l->exceeded = 1;
                    exceeded++;
                }
            }
        }
        json_decref(o);
    }
    CHECKF(nl >= 20, "only %zu budget limits", nl);
    CHECKF(exceeded >= 1, "no budget of %zu was overspent", nl);
    CHECKF(exceeded < nl, "every budget was overspent");
}

static void test_event_ids_unique(void)
{
    const buf *b = workload();
    CHECK(b);
    char **keys = calloc(20000, sizeof *keys);
    CHECK(keys);
    size_t off = 0, len, n = 0;
    const char *line;
    while ((line = next_line(b, &off, &len)) && n < 20000) {
        json_t *o = json_loadb(line, len, 0, NULL);
        CHECK(o);
        char k[300];
        snprintf(k, sizeof k, "%s|%s", jstr(o, "tenant_id"), jstr(o, "event_id"));
        keys[n++] = strdup(k);
        json_decref(o);
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    size_t dups = 0;
    for (size_t i = 1; i < n; i++)
        dups += strcmp(keys[i - 1], keys[i]) == 0;
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    CHECKF(dups == 0, "%zu duplicate event ids", dups);
}

static void test_time(void)
{
    const buf *b = workload();
    CHECK(b);
    size_t off = 0, len, n = 0;
    const char *line;
    char prev[32] = "2026-10-01T00:00:00.000Z", first[32] = "";
    while ((line = next_line(b, &off, &len))) {
        const char *p = strstr(line, "\"occurred_at\":\"");
        CHECK(p && (size_t)(p - line) < len);
        char at[32];
        memcpy(at, p + 15, 24);
        at[24] = 0;
        int64_t ns;
        CHECKF(annal_time_parse(at, 24, &ns) == 0, "line %zu: %s", n + 1, at);
        CHECKF(strcmp(at, prev) >= 0, "line %zu: %s after %s", n + 1, at, prev);
        if (!first[0])
            memcpy(first, at, 25);
        memcpy(prev, at, 25);
        n++;
    }
    /* 20k events span a few days of October 2026 (30 days x sqrt(0.02) ~ 4.2) */
    CHECKF(strcmp(prev, "2026-10-04T00:00:00.000Z") > 0 && strcmp(prev, "2026-10-06T00:00:00.000Z") < 0,
           "last event at %s", prev);
    CHECK(strcmp(first, "2026-10-01T00:00:00.000Z") >= 0);
}

/* Provider and consumer events share correlation ids. */
static void test_correlations(void)
{
    const buf *b = workload();
    CHECK(b);
    size_t off = 0, len, providers = 0, matched = 0;
    const char *line;
    char **prov = calloc(20000, sizeof *prov);
    char **cons = calloc(20000, sizeof *cons);
    size_t np = 0, nc = 0;
    CHECK(prov && cons);
    while ((line = next_line(b, &off, &len))) {
        json_t *o = json_loadb(line, len, 0, NULL);
        CHECK(o);
        const char *type = jstr(o, "event_type");
        if (!strcmp(type, "holmesgpt.response.complete"))
            prov[np++] = strdup(jstr(o, "correlation_id"));
        else if (!strcmp(type, "aianalysis.analysis.completed"))
            cons[nc++] = strdup(jstr(o, "correlation_id"));
        json_decref(o);
    }
    providers = np;
    qsort(cons, nc, sizeof *cons, cmp_str);
    for (size_t i = 0; i < np; i++)
        matched += bsearch(&prov[i], cons, nc, sizeof *cons, cmp_str) != NULL;
    for (size_t i = 0; i < np; i++)
        free(prov[i]);
    for (size_t i = 0; i < nc; i++)
        free(cons[i]);
    free(prov);
    free(cons);
    CHECKF(providers >= 50, "%zu holmesgpt events", providers);
    /* all but the few flows still open at the end have their consumer */
    CHECKF(matched + 16 >= providers, "%zu of %zu provider events have a consumer", matched, providers);
}

static void test_cli(void)
{
    char tmpl[] = "/tmp/annal-test-gen-XXXXXX";
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    close(fd);
    char *ok[] = {"gen", "--seed", "99", "--events", "3000", "--tenants", "5", NULL};
    CHECK(run_cli(ok, tmpl) == 0);
    FILE *f = fopen(tmpl, "rb");
    CHECK(f);
    buf got = {NULL, 0};
    char chunk[65536];
    size_t r;
    FILE *m = open_memstream(&got.p, &got.n);
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(m);
    fclose(f);
    buf want;
    CHECK(gen(99, 3000, 5, &want) == ANNAL_OK);
    CHECK(got.n == want.n && memcmp(got.p, want.p, got.n) == 0);
    free(got.p);
    free(want.p);
    char *hex[] = {"gen", "-s", "0x63", "-n", "3000", "-t", "5", NULL};
    CHECK(run_cli(hex, tmpl) == 0);
    f = fopen(tmpl, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    CHECK(sz > 0 && (size_t)sz == got.n);
    unlink(tmpl);

    char *help[] = {"gen", "--help", NULL};
    CHECK(run_cli(help, NULL) == 0);
    char *noevents[] = {"gen", "--seed", "1", NULL};
    CHECK(run_cli(noevents, NULL) == 2);
    char *noseed[] = {"gen", "--events", "10", NULL};
    CHECK(run_cli(noseed, NULL) == 2);
    char *badnum[] = {"gen", "--seed", "1", "--events", "12x", NULL};
    CHECK(run_cli(badnum, NULL) == 2);
    char *neg[] = {"gen", "--seed", "1", "--events", "-5", NULL};
    CHECK(run_cli(neg, NULL) == 2);
    char *zero_t[] = {"gen", "--seed", "1", "--events", "10", "--tenants", "0", NULL};
    CHECK(run_cli(zero_t, NULL) == 2);
    char *many_t[] = {"gen", "--seed", "1", "--events", "10", "--tenants", "10001", NULL};
    CHECK(run_cli(many_t, NULL) == 2);
    char *unknown[] = {"gen", "--seed", "1", "--events", "10", "--bogus", NULL};
    CHECK(run_cli(unknown, NULL) == 2);
    char *missing[] = {"gen", "--seed", "1", "--events", NULL};
    CHECK(run_cli(missing, NULL) == 2);
    char *extra[] = {"gen", "--seed", "1", "--events", "10", "stray", NULL};
    CHECK(run_cli(extra, NULL) == 2);
}

int main(void)
{
    T_RUN(test_deterministic);
    T_RUN(test_exact_line_count);
    T_RUN(test_bad_arguments);
    T_RUN(test_every_line_parses);
    T_RUN(test_envelope);
    T_RUN(test_size);
    T_RUN(test_proportions);
    T_RUN(test_budget_overspent);
    T_RUN(test_event_ids_unique);
    T_RUN(test_time);
    T_RUN(test_correlations);
    T_RUN(test_cli);
    free(w20k.p);
    return t_done();
}
