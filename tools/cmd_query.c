/*
 * annal query: the reads of index/index.h, as JSON on standard output.
 * The index is caught up from the log first, so every event whose append
 * was acknowledged before the query started is seen.
 */
#include "cli.h"
#include "cmd.h"

#include "index/index.h"
#include "store/event.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal query --data DIR WHAT [OPTIONS]\n\n"
            "  timeline    --tenant T [--from TIME] [--to TIME] [--type X] [--domain D]\n"
            "              [--limit N] [--cursor C]\n"
            "              the tenant's events by occurred_at (then seq), from <= t < to\n"
            "  event       --seq N [--tenant T]       one event by seq\n"
            "  event       --tenant T --event-id E    one event by its event_id\n"
            "  correlation --tenant T --id C [--limit N] [--cursor C]   events of a correlation id\n"
            "  run         --tenant T --id R [--limit N] [--cursor C]   events of a run\n"
            "  incident    --tenant T --id I [--limit N] [--cursor C]   events of an incident\n"
            "  api-key     --tenant T --id K [--limit N] [--cursor C]   events of an API key\n\n"
            "Views (PRODUCT.md section 3; index/vjson.h describes each JSON document):\n%s\n"
            "TIME is RFC 3339 UTC (2026-10-01T00:00:00Z); D is a domain (ACTIVITY, ANALYTICS,\n"
            "INCIDENTS, POLICIES, CONNECTIVITY, ACCOUNTS, SYSTEM, SERVICE); N is 1..%d\n"
            "(default %d). Output: one JSON object on one line. The event lists print\n"
            "{\"events\":[...],\"next_cursor\":...} with the records exactly as stored; views\n"
            "embed records the same way. next_cursor is null on the last page, else the\n"
            "--cursor that gives the next page.\n\n"
            "The index (DIR/index/) is caught up from the log before the query. While\n"
            "another process appends, the query sees the events acknowledged before it\n"
            "started.\n\n"
            "exit status: 0 success, 1 not found (event: no such event; run-view,\n"
            "incident-view: no such run or incident; overview: the tenant has no events),\n"
            "2 usage or I/O error (also when the index does not match the log: run annal\n"
            "reindex)\n",
            cmd_query_views_help, ANNAL_INDEX_LIMIT_MAX, ANNAL_INDEX_LIMIT_DEFAULT);
}

static void progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing: %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

static int parse_time(const char *opt, const char *s, int64_t *ns)
{
    if (annal_time_parse(s, strlen(s), ns) == 0)
        return 0;
    fprintf(stderr, "annal query: %s needs an RFC 3339 UTC time like 2026-10-01T00:00:00Z, not '%s'\n", opt, s);
    return -1;
}

static int parse_domain(const char *s, int *domain)
{
    for (int d = 1; annal_domain_name(d); d++)
        if (!strcasecmp(s, annal_domain_name(d))) {
            *domain = d;
            return 0;
        }
    fprintf(stderr, "annal query: unknown domain '%s' (ACTIVITY, ANALYTICS, INCIDENTS, POLICIES, "
                    "CONNECTIVITY, ACCOUNTS, SYSTEM or SERVICE)\n", s);
    return -1;
}

/* Print {"events":[records...],"next_cursor":...}. */
static int print_events(annal_index *ix, const char *tenant, const uint64_t *seqs, size_t n, const char *next)
{
    fputs("{\"events\":[", stdout);
    for (size_t i = 0; i < n; i++) {
        char *rec;
        size_t len;
        int rc = annal_index_event(ix, tenant, seqs[i], &rec, &len);
        if (rc) {
            fprintf(stderr, "\nannal query: cannot read seq %llu from the log: %s\n", (unsigned long long)seqs[i],
                    annal_index_strerror(rc));
            return 2;
        }
        if (i)
            putchar(',');
        fwrite(rec, 1, len, stdout);
        free(rec);
    }
    if (next && *next)
        printf("],\"next_cursor\":\"%s\"}\n", next);
    else
        fputs("],\"next_cursor\":null}\n", stdout);
    if (fflush(stdout) != 0) {
        perror("annal query: standard output");
        return 2;
    }
    return 0;
}

static int print_page(annal_index *ix, const char *tenant, annal_index_page *p)
{
    uint64_t *seqs = malloc((p->n ? p->n : 1) * sizeof(*seqs));
    if (!seqs) {
        fprintf(stderr, "annal query: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < p->n; i++)
        seqs[i] = p->items[i].seq;
    int st = print_events(ix, tenant, seqs, p->n, p->next_cursor);
    free(seqs);
    return st;
}

enum { O_DATA = 1, O_TENANT, O_FROM, O_TO, O_TYPE, O_DOMAIN, O_LIMIT, O_CURSOR, O_SEQ, O_ID, O_EVENT_ID };

int cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},     {"tenant", required_argument, 0, O_TENANT},
        {"from", required_argument, 0, O_FROM},     {"to", required_argument, 0, O_TO},
        {"type", required_argument, 0, O_TYPE},     {"domain", required_argument, 0, O_DOMAIN},
        {"limit", required_argument, 0, O_LIMIT},   {"cursor", required_argument, 0, O_CURSOR},
        {"seq", required_argument, 0, O_SEQ},       {"id", required_argument, 0, O_ID},
        {"event-id", required_argument, 0, O_EVENT_ID}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int views = cmd_query_views(argc, argv);
    if (views >= 0)
        return views;
    const char *dir = NULL, *id = NULL, *event_id = NULL;
    annal_timeline_query q = {0};
    uint64_t limit = 0, seq = 0;
    unsigned seen = 0; /* options given, as bits */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c > 0 && c <= O_EVENT_ID)
            seen |= 1u << c;
        switch (c) {
        case O_DATA: dir = optarg; break;
        case O_TENANT: q.tenant = optarg; break;
        case O_FROM:
            if (parse_time("--from", optarg, &q.from_ns))
                return 2;
            break;
        case O_TO:
            if (parse_time("--to", optarg, &q.to_ns))
                return 2;
            break;
        case O_TYPE: q.event_type = optarg; break;
        case O_DOMAIN:
            if (parse_domain(optarg, &q.domain))
                return 2;
            break;
        case O_LIMIT:
            if (cli_u64(optarg, &limit) || limit < 1 || limit > ANNAL_INDEX_LIMIT_MAX) {
                fprintf(stderr, "annal query: --limit needs a number from 1 to %d\n", ANNAL_INDEX_LIMIT_MAX);
                return 2;
            }
            break;
        case O_CURSOR: q.cursor = optarg; break;
        case O_SEQ:
            if (cli_u64(optarg, &seq) || !seq) {
                fprintf(stderr, "annal query: --seq needs a seq >= 1\n");
                return 2;
            }
            break;
        case O_ID: id = optarg; break;
        case O_EVENT_ID: event_id = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    q.limit = (size_t)limit;
    const char *what = optind < argc ? argv[optind] : NULL;
    if (!dir || !what || optind + 1 != argc) {
        fprintf(stderr, "annal query: %s (see annal query --help)\n",
                !dir ? "--data DIR is required" : !what ? "say what to query: timeline, event, correlation, "
                                                          "run, incident, api-key or a view (see --help)" : "unexpected argument");
        return 2;
    }
    /* Which options each query takes, and which it needs. */
    static const struct {
        const char *name;
        unsigned allowed, needed;
    } kinds[] = {
        {"timeline", 1u << O_TENANT | 1u << O_FROM | 1u << O_TO | 1u << O_TYPE | 1u << O_DOMAIN | 1u << O_LIMIT |
                         1u << O_CURSOR, 1u << O_TENANT},
        {"event", 1u << O_SEQ | 1u << O_TENANT | 1u << O_EVENT_ID, 0},
        {"correlation", 1u << O_TENANT | 1u << O_ID | 1u << O_LIMIT | 1u << O_CURSOR, 1u << O_TENANT | 1u << O_ID},
        {"run", 1u << O_TENANT | 1u << O_ID | 1u << O_LIMIT | 1u << O_CURSOR, 1u << O_TENANT | 1u << O_ID},
        {"incident", 1u << O_TENANT | 1u << O_ID | 1u << O_LIMIT | 1u << O_CURSOR, 1u << O_TENANT | 1u << O_ID},
        {"api-key", 1u << O_TENANT | 1u << O_ID | 1u << O_LIMIT | 1u << O_CURSOR, 1u << O_TENANT | 1u << O_ID},
    };
    size_t k = 0, nk = sizeof(kinds) / sizeof(kinds[0]);
    while (k < nk && strcmp(what, kinds[k].name))
        k++;
    if (k == nk) {
        fprintf(stderr, "annal query: unknown query '%s' (see annal query --help)\n", what);
        return 2;
    }
    unsigned extra = seen & ~(kinds[k].allowed | 1u << O_DATA), missing = kinds[k].needed & ~seen;
    int event_ok = k != 1 || (seen & 1u << O_SEQ ? !(seen & 1u << O_EVENT_ID)
                                                  : (seen & 1u << O_EVENT_ID) && (seen & 1u << O_TENANT));
    if (extra || missing || !event_ok) {
        fprintf(stderr, "annal query %s: %s (see annal query --help)\n", what,
                extra ? "an option that this query does not take"
                      : k == 1 ? "give --seq N, or --tenant T and --event-id E" : "--tenant and --id are required");
        return 2;
    }

    char err[512];
    annal_index *ix;
    int rc = annal_index_open(dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal query: %s\n", err);
        return 2;
    }
    rc = annal_index_catch_up(ix, progress, NULL, NULL);
    cli_progress_end();
    if (rc) {
        fprintf(stderr, "annal query: cannot bring the index up to date with the log: %s\n",
                annal_index_strerror(rc));
        annal_index_close(ix);
        return 2;
    }
    int status = 2;
    annal_index_page page = {0};
    if (k == 1) {
        if (event_id && (rc = annal_index_lookup_event_id(ix, q.tenant, event_id, &seq)) == ANNAL_ENOTFOUND) {
            fprintf(stderr, "annal query: tenant %s has no event with event_id %s\n", q.tenant, event_id);
            status = 1;
            goto out;
        }
        char *rec;
        size_t len;
        if (rc == ANNAL_OK && (rc = annal_index_event(ix, q.tenant, seq, &rec, &len)) == ANNAL_OK) {
            free(rec);
            status = print_events(ix, q.tenant, &seq, 1, NULL);
            goto out;
        }
        if (rc == ANNAL_ENOTFOUND) {
            fprintf(stderr, "annal query: no event with seq %llu%s%s\n", (unsigned long long)seq,
                    q.tenant ? " for tenant " : "", q.tenant ? q.tenant : "");
            status = 1;
            goto out;
        }
    } else if (k == 0) {
        rc = annal_index_timeline(ix, &q, &page);
    } else {
        int (*fn[])(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *) = {
            annal_index_correlation, annal_index_run, annal_index_incident, annal_index_api_key};
        rc = fn[k - 2](ix, q.tenant, id, q.limit, q.cursor, &page);
    }
    if (rc == ANNAL_EINVAL) {
        fprintf(stderr, "annal query %s: invalid arguments: ids are 1..128 bytes of [A-Za-z0-9._:@/-], "
                        "--from must not be after --to, and a cursor must be one that annal printed\n", what);
        goto out;
    }
    if (rc) {
        fprintf(stderr, "annal query %s: %s\n", what, annal_index_strerror(rc));
        goto out;
    }
    status = print_page(ix, q.tenant, &page);
out:
    annal_index_page_free(&page);
    annal_index_close(ix);
    return status;
}
