/*
 * annal query's view subcommands: run-view, incident-view, costs, usage,
 * anomalies, limits, proposals, ledger, overview. Each prints the JSON
 * document of one index/vjson.h read on standard output (one line). The
 * index is caught up from the log first, as for the other queries.
 */
#include "cli.h"
#include "cmd.h"

#include "index/index.h"
#include "index/vjson.h"
#include "store/event.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char cmd_query_views_help[] =
    "  run-view      --tenant T --id R [--limit N] [--cursor C]\n"
    "                a run: status, model, cost, tokens, its incidents and the policies\n"
    "                that acted on it, one page of its timeline\n"
    "  incident-view --tenant T --id I [--limit N] [--cursor C]\n"
    "                an incident: state, severity, cost impact and affected runs, source\n"
    "                run, related incidents, its anomaly, one page of its timeline\n"
    "  costs         --tenant T [--group-by G] [--from TIME] [--to TIME] [--run R]\n"
    "                [--incident I] [--api-key K] [--model M] [--feature F] [--user U]\n"
    "                cost sums (cents, tokens, count) by G: api_key, model, feature,\n"
    "                user, day or hour (no G: totals only), and in all\n"
    "  usage         --tenant T [--bucket hour|day] [--from TIME] [--to TIME]\n"
    "                runs started/completed/failed, events, tokens, cost per hour or day\n"
    "  anomalies     --tenant T [--from TIME] [--to TIME] [--limit N] [--cursor C]\n"
    "                the CostAnomalyDetected events\n"
    "  limits        --tenant T [--at TIME]\n"
    "                every limit with its spend and status (OK, NEAR_THRESHOLD, BREACHED)\n"
    "                in the period containing TIME (default: the tenant's latest event)\n"
    "  proposals     --tenant T [--status DRAFT|APPROVED|REJECTED] [--limit N] [--cursor C]\n"
    "                policy proposals with their status\n"
    "  ledger        --tenant T [--type X] [--entity-type E] [--actor-type A]\n"
    "                [--from TIME] [--to TIME] [--limit N] [--cursor C]\n"
    "                the audit ledger (the 15 governance event types), filtered\n"
    "  overview      --tenant T [--limit N]\n"
    "                pulse (HEALTHY, ATTENTION_NEEDED, CRITICAL), counts per domain, the\n"
    "                decision queue (first N items), spend against budgets\n";

enum {
    V_DATA = 1, V_TENANT, V_ID, V_LIMIT, V_CURSOR, V_FROM, V_TO, V_GROUP_BY, V_RUN, V_INCIDENT,
    V_API_KEY, V_MODEL, V_FEATURE, V_USER, V_BUCKET, V_AT, V_STATUS, V_TYPE, V_ENTITY_TYPE,
    V_ACTOR_TYPE, V_LAST
};
_Static_assert(V_LAST <= 32, "options are bits of an unsigned");

#define B(o) (1u << (o))

static const struct option vopts[] = {
    {"data", required_argument, 0, V_DATA},           {"tenant", required_argument, 0, V_TENANT},
    {"id", required_argument, 0, V_ID},               {"limit", required_argument, 0, V_LIMIT},
    {"cursor", required_argument, 0, V_CURSOR},       {"from", required_argument, 0, V_FROM},
    {"to", required_argument, 0, V_TO},               {"group-by", required_argument, 0, V_GROUP_BY},
    {"run", required_argument, 0, V_RUN},             {"incident", required_argument, 0, V_INCIDENT},
    {"api-key", required_argument, 0, V_API_KEY},     {"model", required_argument, 0, V_MODEL},
    {"feature", required_argument, 0, V_FEATURE},     {"user", required_argument, 0, V_USER},
    {"bucket", required_argument, 0, V_BUCKET},       {"at", required_argument, 0, V_AT},
    {"status", required_argument, 0, V_STATUS},       {"type", required_argument, 0, V_TYPE},
    {"entity-type", required_argument, 0, V_ENTITY_TYPE}, {"actor-type", required_argument, 0, V_ACTOR_TYPE},
    {"help", no_argument, 0, 'h'},                    {0, 0, 0, 0}};

enum { K_RUN, K_INCIDENT, K_COSTS, K_USAGE, K_ANOMALIES, K_LIMITS, K_PROPOSALS, K_LEDGER, K_OVERVIEW };

static const struct {
    const char *name;
    unsigned allowed, needed;
} kinds[] = {
    [K_RUN] = {"run-view", B(V_TENANT) | B(V_ID) | B(V_LIMIT) | B(V_CURSOR), B(V_TENANT) | B(V_ID)},
    [K_INCIDENT] = {"incident-view", B(V_TENANT) | B(V_ID) | B(V_LIMIT) | B(V_CURSOR), B(V_TENANT) | B(V_ID)},
    [K_COSTS] = {"costs", B(V_TENANT) | B(V_GROUP_BY) | B(V_FROM) | B(V_TO) | B(V_RUN) | B(V_INCIDENT) |
                              B(V_API_KEY) | B(V_MODEL) | B(V_FEATURE) | B(V_USER), B(V_TENANT)},
    [K_USAGE] = {"usage", B(V_TENANT) | B(V_BUCKET) | B(V_FROM) | B(V_TO), B(V_TENANT)},
    [K_ANOMALIES] = {"anomalies", B(V_TENANT) | B(V_FROM) | B(V_TO) | B(V_LIMIT) | B(V_CURSOR), B(V_TENANT)},
    [K_LIMITS] = {"limits", B(V_TENANT) | B(V_AT), B(V_TENANT)},
    [K_PROPOSALS] = {"proposals", B(V_TENANT) | B(V_STATUS) | B(V_LIMIT) | B(V_CURSOR), B(V_TENANT)},
    [K_LEDGER] = {"ledger", B(V_TENANT) | B(V_TYPE) | B(V_ENTITY_TYPE) | B(V_ACTOR_TYPE) | B(V_FROM) | B(V_TO) |
                                B(V_LIMIT) | B(V_CURSOR), B(V_TENANT)},
    [K_OVERVIEW] = {"overview", B(V_TENANT) | B(V_LIMIT), B(V_TENANT)},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The first operand of argv (the WHAT), or NULL; "help" is set when -h or
 * --help is among the options. Every option but --help takes a value. */
static const char *find_what(int argc, char **argv, int *help)
{
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || !a[1])
            return a;
        if (!strcmp(a, "-h") || (a[1] == '-' && strlen(a) >= 3 && !strncmp(a + 2, "help", strlen(a + 2)))) {
            *help = 1;
            continue;
        }
        if (a[1] == '-' && !strchr(a, '='))
            i++; /* its value */
    }
    return NULL;
}

static int vparse_time(const char *opt, const char *s, int64_t *ns)
{
    if (annal_time_parse(s, strlen(s), ns) == 0 && *ns > 0)
        return 0;
    fprintf(stderr, "annal query: %s needs an RFC 3339 UTC time like 2026-10-01T00:00:00Z, not '%s'\n", opt, s);
    return -1;
}

static void vprogress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing: %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

typedef struct vargs {
    const char *dir, *tenant, *id, *cursor, *run, *incident, *api_key, *model, *feature, *user;
    const char *type, *entity_type, *actor_type;
    uint64_t limit;
    int64_t from, to, at;
    int group_by, bucket, status;
} vargs;

/* Parse one option into a; 0 ok, 2 usage error (message printed). */
static int take_option(int c, const char *arg, vargs *a)
{
    switch (c) {
    case V_DATA: a->dir = arg; break;
    case V_TENANT: a->tenant = arg; break;
    case V_ID: a->id = arg; break;
    case V_CURSOR: a->cursor = arg; break;
    case V_RUN: a->run = arg; break;
    case V_INCIDENT: a->incident = arg; break;
    case V_API_KEY: a->api_key = arg; break;
    case V_MODEL: a->model = arg; break;
    case V_FEATURE: a->feature = arg; break;
    case V_USER: a->user = arg; break;
    case V_TYPE: a->type = arg; break;
    case V_ENTITY_TYPE: a->entity_type = arg; break;
    case V_ACTOR_TYPE: a->actor_type = arg; break;
    case V_LIMIT:
        if (cli_u64(arg, &a->limit) || a->limit < 1 || a->limit > ANNAL_INDEX_LIMIT_MAX) {
            fprintf(stderr, "annal query: --limit needs a number from 1 to %d\n", ANNAL_INDEX_LIMIT_MAX);
            return 2;
        }
        break;
    case V_FROM: return vparse_time("--from", arg, &a->from) ? 2 : 0;
    case V_TO: return vparse_time("--to", arg, &a->to) ? 2 : 0;
    case V_AT: return vparse_time("--at", arg, &a->at) ? 2 : 0;
    case V_GROUP_BY:
        if ((a->group_by = annal_vjson_group_parse(arg)) < 0) {
            fprintf(stderr, "annal query: --group-by is one of api_key, model, feature, user, day, hour; not '%s'\n",
                    arg);
            return 2;
        }
        break;
    case V_BUCKET:
        a->bucket = annal_vjson_group_parse(arg);
        if (a->bucket != ANNAL_GROUP_HOUR && a->bucket != ANNAL_GROUP_DAY) {
            fprintf(stderr, "annal query: --bucket is hour or day, not '%s'\n", arg);
            return 2;
        }
        break;
    case V_STATUS:
        for (a->status = ANNAL_PROP_DRAFT; a->status <= ANNAL_PROP_REJECTED; a->status++)
            if (!strcasecmp(arg, annal_vjson_proposal_status_name(a->status)))
                return 0;
        fprintf(stderr, "annal query: --status is DRAFT, APPROVED or REJECTED, not '%s'\n", arg);
        return 2;
    default: return 2;
    }
    return 0;
}

/* The sentence for ANNAL_ENOTFOUND of a kind. */
static void not_found(int k, const vargs *a)
{
    if (k == K_RUN)
        fprintf(stderr, "annal query: tenant %s has no run %s\n", a->tenant, a->id);
    else if (k == K_INCIDENT)
        fprintf(stderr, "annal query: tenant %s has no incident %s\n", a->tenant, a->id);
    else
        fprintf(stderr, "annal query: tenant %s has no events\n", a->tenant);
}

int cmd_query_views(int argc, char **argv)
{
    int help;
    const char *what = find_what(argc, argv, &help);
    size_t k = 0;
    while (what && k < NKINDS && strcmp(what, kinds[k].name))
        k++;
    if (!what || k == NKINDS || help)
        return -1; /* cmd_query's */

    vargs a = {0};
    unsigned seen = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", vopts, NULL)) != -1) {
        if (c <= 0 || c >= V_LAST) {
            fprintf(stderr, "annal query: see annal query --help\n");
            return 2;
        }
        seen |= B(c);
        if (take_option(c, optarg, &a))
            return 2;
    }
    if (!a.dir || optind + 1 != argc) {
        fprintf(stderr, "annal query: %s (see annal query --help)\n",
                !a.dir ? "--data DIR is required" : "unexpected argument");
        return 2;
    }
    unsigned extra = seen & ~(kinds[k].allowed | B(V_DATA)), missing = kinds[k].needed & ~seen;
    if (extra || missing) {
        fprintf(stderr, "annal query %s: %s (see annal query --help)\n", what,
                extra ? "an option that this query does not take"
                      : (missing & B(V_ID)) ? "--tenant and --id are required" : "--tenant is required");
        return 2;
    }
    if (a.to && a.from > a.to) {
        fprintf(stderr, "annal query %s: --from must not be after --to\n", what);
        return 2;
    }

    char err[512];
    annal_index *ix;
    int rc = annal_index_open(a.dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal query: %s\n", err);
        return 2;
    }
    rc = annal_index_catch_up(ix, vprogress, NULL, NULL);
    cli_progress_end();
    if (rc) {
        fprintf(stderr, "annal query: cannot bring the index up to date with the log: %s\n",
                annal_index_strerror(rc));
        annal_index_close(ix);
        return 2;
    }

    annal_jbuf out = {0};
    size_t limit = (size_t)a.limit;
    switch (k) {
    case K_RUN: rc = annal_vjson_run(ix, a.tenant, a.id, limit, a.cursor, &out); break;
    case K_INCIDENT: rc = annal_vjson_incident(ix, a.tenant, a.id, limit, a.cursor, &out); break;
    case K_COSTS: {
        annal_costs_query q = {.tenant = a.tenant, .group_by = a.group_by, .from_ns = a.from, .to_ns = a.to,
                               .run = a.run, .incident = a.incident, .api_key = a.api_key, .model = a.model,
                               .feature = a.feature, .user = a.user};
        rc = annal_vjson_costs(ix, &q, &out);
        break;
    }
    case K_USAGE: rc = annal_vjson_usage(ix, a.tenant, a.bucket, a.from, a.to, &out); break;
    case K_ANOMALIES: rc = annal_vjson_anomalies(ix, a.tenant, a.from, a.to, limit, a.cursor, &out); break;
    case K_LIMITS: rc = annal_vjson_limits(ix, a.tenant, a.at, &out); break;
    case K_PROPOSALS: rc = annal_vjson_proposals(ix, a.tenant, a.status, limit, a.cursor, &out); break;
    case K_LEDGER: {
        annal_ledger_query q = {.tenant = a.tenant, .from_ns = a.from, .to_ns = a.to, .event_type = a.type,
                                .entity_type = a.entity_type, .actor_type = a.actor_type, .limit = limit,
                                .cursor = a.cursor};
        rc = annal_vjson_ledger(ix, &q, &out);
        break;
    }
    default: rc = annal_vjson_overview(ix, a.tenant, limit, &out); break;
    }

    int status = 0;
    if (rc == ANNAL_ENOTFOUND) {
        not_found((int)k, &a);
        status = 1;
    } else if (rc == ANNAL_EINVAL) {
        fprintf(stderr, "annal query %s: invalid arguments: ids are 1..128 bytes of [A-Za-z0-9._:@/-], "
                        "a cursor must be one that annal printed for this query%s\n", what,
                k == K_LEDGER ? ", --type must be an event type of the registry" : "");
        status = 2;
    } else if (rc) {
        fprintf(stderr, "annal query %s: %s\n", what, annal_index_strerror(rc));
        status = 2;
    } else {
        annal_jbuf_putc(&out, '\n');
        if (out.oom || fwrite(out.p, 1, out.n, stdout) != out.n || fflush(stdout) != 0) {
            fprintf(stderr, "annal query: %s\n", out.oom ? "out of memory" : "cannot write standard output");
            status = 2;
        }
    }
    annal_jbuf_free(&out);
    annal_index_close(ix);
    return status;
}
