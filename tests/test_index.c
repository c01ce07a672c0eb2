/* The index (index/index.h): tenant isolation, timeline order, filters and
 * paging against a scan of the log, link reads, catch-up, event_id lookup,
 * map growth, reindex equality, refusal of a foreign or newer index,
 * queries while another process appends, a catch-up killed midway, and the
 * query / reindex / stats commands. */
#include "t.h"
#include "util.h"

#include "index/index.h"
#include "store/hash.h"
#include "store/log.h"
#include "store/reader.h"
#include "tools/gen.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>

static char *base; /* the test's temporary directory */

static char *path(const char *name)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", base, name);
    return buf[k];
}

/* ---------------------------------------------------------------- stores */

/* Append NDJSON client events (one per line) to the log in dir; *last gets
 * the last seq. Returns 0 or -1. */
static int append_ndjson(const char *dir, const char *in, size_t len, uint64_t *last)
{
    annal_log *log;
    char err[512];
    if (annal_log_open(dir, NULL, &log, err, sizeof(err))) {
        fprintf(stderr, "append_ndjson: %s\n", err);
        return -1;
    }
    enum { BATCH = 2048 };
    annal_event *evs = calloc(BATCH, sizeof(*evs));
    char *out = malloc(len + 1);
    size_t k = 0, o = 0;
    int rc = 0;
    annal_append_result res = {0};
    for (size_t off = 0; off < len && !rc;) {
        const char *nl = memchr(in + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - in) : len;
        if (end > off) {
            annal_event_error e;
            if ((rc = annal_event_parse(in + off, end - off, 0, out + o, len + 1 - o, &evs[k], &e))) {
                fprintf(stderr, "append_ndjson: %.*s: %s: %s\n", (int)(end - off), in + off, e.field, e.reason);
                break;
            }
            o += evs[k].body_len + 2;
            k++;
        }
        off = end + 1;
        if (k && (k == BATCH || off >= len)) {
            rc = annal_log_append(log, evs, k, &res);
            k = 0;
        }
    }
    if (annal_log_close(log))
        rc = -1;
    free(out);
    free(evs);
    if (last)
        *last = res.last_seq;
    return rc ? -1 : 0;
}

static int append_text(const char *dir, const char *text)
{
    return append_ndjson(dir, text, strlen(text), NULL);
}

/* n events of annal gen (seed, tenants) appended to dir, from event `from`
 * of that workload on (so that a workload can be appended in parts). */
static int gen_store_part(const char *dir, uint64_t seed, uint64_t n, unsigned tenants, uint64_t from, uint64_t to)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || annal_gen_write(f, seed, n, tenants) || fclose(f))
        return -1;
    size_t a = 0, b = len;
    uint64_t line = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            line++;
            if (line == from)
                a = i + 1;
            if (line == to) {
                b = i + 1;
                break;
            }
        }
    int rc = append_ndjson(dir, buf + a, b - a, NULL);
    free(buf);
    return rc;
}

static int gen_store(const char *dir, uint64_t seed, uint64_t n, unsigned tenants)
{
    return gen_store_part(dir, seed, n, tenants, 0, n);
}

/* ---------------------------------------------------------------- the oracle: a scan of the log */

typedef struct orec {
    uint64_t seq;
    int64_t t;
    annal_event ev; /* slices into rec */
    char *rec;
} orec;

typedef struct oracle {
    orec *r;
    size_t n;
} oracle;

static int oracle_load(const char *dir, oracle *o)
{
    memset(o, 0, sizeof(*o));
    annal_reader *rd;
    if (annal_reader_open(dir, &rd))
        return -1;
    uint64_t s;
    const char *rec;
    size_t len, cap = 0;
    while (annal_reader_next(rd, &s, &rec, &len) == ANNAL_OK) {
        if (o->n == cap) {
            cap = cap ? cap * 2 : 1024;
            o->r = realloc(o->r, cap * sizeof(*o->r));
        }
        orec *x = &o->r[o->n++];
        x->rec = malloc(len + 1);
        memcpy(x->rec, rec, len);
        x->rec[len] = 0;
        if (annal_record_parse(x->rec, len, &x->ev, NULL))
            return -1;
        x->seq = s;
        x->t = x->ev.has_occurred_at ? x->ev.occurred_at_ns : x->ev.recorded_at_ns;
    }
    annal_reader_close(rd);
    return 0;
}

static void oracle_free(oracle *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->r[i].rec);
    free(o->r);
}

static int slice_is(annal_slice s, const char *v)
{
    return v && s.n == strlen(v) && memcmp(s.p, v, s.n) == 0;
}

static int by_time_seq(const void *a, const void *b)
{
    const annal_index_entry *x = a, *y = b;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* What a timeline query must return, in order. */
static size_t oracle_timeline(const oracle *o, const annal_timeline_query *q, annal_index_entry *out)
{
    size_t n = 0;
    int64_t to = q->to_ns ? q->to_ns : INT64_MAX;
    for (size_t i = 0; i < o->n; i++) {
        const orec *x = &o->r[i];
        if (!slice_is(x->ev.tenant_id, q->tenant) || x->t < q->from_ns || x->t >= to ||
            (q->event_type && !slice_is(x->ev.event_type, q->event_type)) || (q->domain && x->ev.domain != q->domain))
            continue;
        out[n++] = (annal_index_entry){x->seq, x->t};
    }
    qsort(out, n, sizeof(*out), by_time_seq);
    return n;
}

/* Page through a timeline query with limit; the concatenation goes to out
 * (cap entries). Returns the count, or -1 on an error or a page too long. */
static long page_through(annal_index *ix, annal_timeline_query q, annal_index_entry *out, size_t cap, int *pages)
{
    char cur[ANNAL_INDEX_CURSOR_LEN + 1] = "";
    size_t n = 0;
    *pages = 0;
    for (;;) {
        annal_index_page p;
        q.cursor = cur;
        if (annal_index_timeline(ix, &q, &p) || p.n > (q.limit ? q.limit : 100) || n + p.n > cap)
            return -1;
        if (p.n)
            memcpy(out + n, p.items, p.n * sizeof(*out));
        n += p.n;
        (*pages)++;
        strcpy(cur, p.next_cursor);
        int last = !p.next_cursor[0];
        annal_index_page_free(&p);
        if (last)
            return (long)n;
    }
}

static annal_index *open_caught_up(const char *dir, const annal_index_options *opt)
{
    annal_index *ix;
    char err[512];
    int rc = annal_index_open(dir, opt, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "open_caught_up: %s\n", err);
        return NULL;
    }
    if ((rc = annal_index_catch_up(ix, NULL, NULL, NULL))) {
        fprintf(stderr, "open_caught_up: %s\n", annal_index_strerror(rc));
        annal_index_close(ix);
        return NULL;
    }
    return ix;
}

static int digest_hex(annal_index *ix, char hex[65])
{
    unsigned char d[32];
    if (annal_index_digest(ix, d))
        return -1;
    annal_hex32(d, hex);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void the_same_ids_in_two_tenants_never_mix(void)
{
    const char *dir = path("two");
    const char *ev = "{\"tenant_id\":\"%s\",\"event_type\":\"CostRecorded\",\"event_id\":\"e1\","
                     "\"occurred_at\":\"2026-10-01T00:00:0%dZ\",\"run_id\":\"run-1\",\"incident_id\":\"inc-1\","
                     "\"api_key_id\":\"key-1\",\"correlation_id\":\"req-1\",\"data\":{\"cost_cents\":%d}}\n";
    char text[4096];
    int n = 0;
    for (int i = 0; i < 6; i++) /* a, b, a, b, ... */
        n += snprintf(text + n, sizeof(text) - (size_t)n, ev, i % 2 ? "globex" : "acme", i, i);
    n += snprintf(text + n, sizeof(text) - (size_t)n,
                  "{\"tenant_id\":\"acme\",\"event_type\":\"a.b.c\",\"correlation_id\":\"req-1\"}\n");
    CHECK(append_text(dir, text) == 0);
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    int (*fn[])(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *) = {
        annal_index_run, annal_index_incident, annal_index_api_key, annal_index_correlation};
    const char *ids[] = {"run-1", "inc-1", "key-1", "req-1"};
    for (int f = 0; f < 4; f++) {
        annal_index_page a, b;
        CHECK(fn[f](ix, "acme", ids[f], 0, NULL, &a) == ANNAL_OK);
        CHECK(fn[f](ix, "globex", ids[f], 0, NULL, &b) == ANNAL_OK);
        CHECKF(a.n == (f == 3 ? 4u : 3u) && b.n == 3, "%s: %zu %zu", ids[f], a.n, b.n);
        for (size_t i = 0; i < a.n; i++)
            CHECK(a.items[i].seq % 2 == 1); /* acme's seqs are 1, 3, 5 (and 7) */
        for (size_t i = 0; i < b.n; i++)
            CHECK(b.items[i].seq % 2 == 0);
        annal_index_page_free(&a);
        annal_index_page_free(&b);
    }
    uint64_t s1, s2;
    CHECK(annal_index_lookup_event_id(ix, "acme", "e1", &s1) == ANNAL_OK && s1 == 1);
    CHECK(annal_index_lookup_event_id(ix, "globex", "e1", &s2) == ANNAL_OK && s2 == 2);
    CHECK(annal_index_lookup_event_id(ix, "initech", "e1", &s2) == ANNAL_ENOTFOUND);
    /* A tenant whose name is a prefix of another's sees only its own. */
    annal_index_page p;
    CHECK(annal_index_run(ix, "acm", "run-1", 0, NULL, &p) == ANNAL_OK && p.n == 0);
    annal_index_page_free(&p);
    annal_timeline_query q = {.tenant = "globex"};
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 3);
    annal_index_page_free(&p);
    annal_index_close(ix);
}

static void the_timeline_is_ordered_by_occurred_at_then_seq(void)
{
    const char *dir = path("order");
    /* seqs 1..5 with occurred_at out of order and ties; seq 6 has none
     * (its recorded_at, in 2026-11 or later, orders it last). */
    CHECK(append_text(dir,
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\",\"occurred_at\":\"2026-10-01T00:00:05Z\"}\n"
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\",\"occurred_at\":\"2026-10-01T00:00:01Z\"}\n"
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\",\"occurred_at\":\"2026-10-01T00:00:05Z\"}\n"
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\",\"occurred_at\":\"2026-10-01T00:00:03Z\"}\n"
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\",\"occurred_at\":\"2026-10-01T00:00:01Z\"}\n"
                      "{\"tenant_id\":\"t\",\"event_type\":\"RunStarted\",\"run_id\":\"r\"}\n") == 0);
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    const uint64_t want[] = {2, 5, 4, 1, 3, 6};
    annal_timeline_query q = {.tenant = "t", .limit = 2};
    annal_index_page p;
    /* the cursor after seq 5 (2026-10-01T00:00:01Z): base64url of 01 ||
     * be64(1790812801000000000) || be64(5), as index/INDEX.md says */
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 2);
    CHECKF(!strcmp(p.next_cursor, "ARjaPsEe08oAAAAAAAAAAAU"), "%s", p.next_cursor);
    annal_index_page_free(&p);
    annal_index_entry got[8];
    int pages;
    long n = page_through(ix, q, got, 8, &pages);
    CHECKF(n == 6 && pages == 3, "%ld %d", n, pages);
    for (int i = 0; i < 6; i++)
        CHECKF(got[i].seq == want[i], "position %d: seq %llu", i, (unsigned long long)got[i].seq);
    CHECK(annal_index_run(ix, "t", "r", 0, NULL, &p) == ANNAL_OK && p.n == 6);
    for (int i = 0; i < 6; i++)
        CHECK(p.items[i].seq == want[i]);
    annal_index_page_free(&p);
    /* from is inclusive, to exclusive. */
    annal_time_parse("2026-10-01T00:00:01Z", 20, &q.from_ns);
    annal_time_parse("2026-10-01T00:00:05Z", 20, &q.to_ns);
    q.limit = 0;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 3 && p.items[2].seq == 4 && !p.next_cursor[0]);
    annal_index_page_free(&p);
    annal_index_close(ix);

    /* Batches of one key written onto existing entries: after them
     * (appended), among them, and before them. */
    const int starts[] = {10, 100, 0, 50, 5};
    size_t total = 0;
    for (int b = 0; b < 5; b++) {
        char text[8192];
        int len = 0;
        for (int i = 0; i < 20; i++)
            len += snprintf(text + len, sizeof(text) - (size_t)len,
                            "{\"tenant_id\":\"t2\",\"event_type\":\"RunStarted\",\"run_id\":\"r\","
                            "\"occurred_at\":\"2026-10-01T00:%02d:%02dZ\"}\n",
                            (starts[b] + i * 3) / 60, (starts[b] + i * 3) % 60);
        CHECK(append_text(dir, text) == 0);
        total += 20;
        CHECK((ix = open_caught_up(dir, NULL)) != NULL);
        oracle o;
        CHECK(oracle_load(dir, &o) == 0);
        annal_timeline_query q2 = {.tenant = "t2", .limit = 9};
        annal_index_entry want2[128], got2[128];
        size_t nw = oracle_timeline(&o, &q2, want2);
        oracle_free(&o);
        long ng = page_through(ix, q2, got2, 128, &pages);
        CHECKF(ng == (long)nw && nw == total, "batch %d: %ld of %zu", b, ng, nw);
        for (size_t i = 0; i < nw; i++)
            CHECKF(got2[i].seq == want2[i].seq, "batch %d: entry %zu is seq %llu, expected %llu", b, i,
                   (unsigned long long)got2[i].seq, (unsigned long long)want2[i].seq);
        annal_index_close(ix);
    }
}

static void timeline_filters_and_cursor_pages_match_a_scan_of_the_log(void)
{
    const char *dir = path("gen");
    CHECK(gen_store(dir, 7, 20000, 4) == 0);
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    oracle o;
    CHECK(oracle_load(dir, &o) == 0 && o.n == 20000);
    annal_index_entry *want = malloc(o.n * sizeof(*want)), *got = malloc(o.n * sizeof(*got));
    /* The tenants, some types and times from the log itself. */
    char tenants[4][ANNAL_ID_MAX + 1] = {{0}};
    int nt = 0;
    for (size_t i = 0; i < o.n && nt < 4; i++) {
        int seen = 0;
        for (int k = 0; k < nt; k++)
            seen |= slice_is(o.r[i].ev.tenant_id, tenants[k]);
        if (!seen)
            memcpy(tenants[nt++], o.r[i].ev.tenant_id.p, o.r[i].ev.tenant_id.n);
    }
    CHECK(nt == 4);
    const char *types[] = {NULL, "CostRecorded", "RunFailed", "IncidentCreated", "holmesgpt.response.complete",
                           "NoSuchType"};
    const int domains[] = {0, ANNAL_DOMAIN_ANALYTICS, ANNAL_DOMAIN_SERVICE, ANNAL_DOMAIN_POLICIES};
    const size_t limits[] = {1, 7, 100, 10000};
    int64_t mid = o.r[o.n / 2].t, q3 = o.r[o.n * 3 / 4].t;
    int checked = 0;
    for (int t = 0; t < nt; t++)
        for (size_t ty = 0; ty < sizeof(types) / sizeof(types[0]); ty++)
            for (size_t d = 0; d < sizeof(domains) / sizeof(domains[0]); d++)
                for (int range = 0; range < 3; range++) {
                    if (ty && d && range) /* enough combinations */
                        continue;
                    annal_timeline_query q = {.tenant = tenants[t], .event_type = types[ty], .domain = domains[d],
                                              .limit = limits[(t + ty + d + (size_t)range) % 4]};
                    if (range == 1)
                        q.from_ns = mid;
                    if (range == 2) {
                        q.from_ns = o.r[o.n / 4].t;
                        q.to_ns = q3;
                    }
                    if (q.limit == 1 && !ty && !d && !range)
                        q.limit = 3; /* a whole tenant one by one is slow under ASan */
                    size_t nw = oracle_timeline(&o, &q, want);
                    int pages;
                    long ng = page_through(ix, q, got, o.n, &pages);
                    CHECKF(ng == (long)nw, "tenant %s type %s domain %d range %d: %ld entries, expected %zu",
                           q.tenant, q.event_type ? q.event_type : "-", q.domain, range, ng, nw);
                    for (size_t i = 0; i < nw; i++)
                        CHECKF(got[i].seq == want[i].seq && got[i].time_ns == want[i].time_ns,
                               "tenant %s type %s domain %d range %d: entry %zu is seq %llu, expected %llu", q.tenant,
                               q.event_type ? q.event_type : "-", q.domain, range, i,
                               (unsigned long long)got[i].seq, (unsigned long long)want[i].seq);
                    size_t lim = q.limit ? q.limit : 100;
                    CHECKF(pages == (int)(nw ? (nw + lim - 1) / lim : 1), "%d pages for %zu entries of %zu",
                           pages, nw, lim);
                    checked += nw > 0;
                }
    CHECK(checked > 50);
    free(want);
    free(got);
    oracle_free(&o);
    annal_index_close(ix);
}

static void link_reads_match_a_scan_of_the_log(void)
{
    const char *dir = path("gen");
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    oracle o;
    CHECK(oracle_load(dir, &o) == 0);
    uint64_t rs = 0x11;
    int (*fn[])(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *) = {
        annal_index_run, annal_index_incident, annal_index_api_key, annal_index_correlation};
    for (int round = 0; round < 200; round++) {
        const orec *x = &o.r[t_rand(&rs) % o.n];
        const annal_slice ids[] = {x->ev.run_id, x->ev.incident_id, x->ev.api_key_id, x->ev.correlation_id};
        for (int f = 0; f < 4; f++) {
            if (!ids[f].n)
                continue;
            char tenant[ANNAL_ID_MAX + 1] = {0}, id[ANNAL_ID_MAX + 1] = {0};
            memcpy(tenant, x->ev.tenant_id.p, x->ev.tenant_id.n);
            memcpy(id, ids[f].p, ids[f].n);
            /* expected: every record of tenant with that id in that field */
            annal_index_entry want[4096];
            size_t nw = 0;
            for (size_t i = 0; i < o.n && nw < 4096; i++) {
                const annal_event *e = &o.r[i].ev;
                const annal_slice fs[] = {e->run_id, e->incident_id, e->api_key_id, e->correlation_id};
                if (slice_is(e->tenant_id, tenant) && slice_is(fs[f], id))
                    want[nw++] = (annal_index_entry){o.r[i].seq, o.r[i].t};
            }
            if (f == 2 && nw > 300)
                continue; /* API keys have thousands of events: paging them by 3 is slow */
            qsort(want, nw, sizeof(*want), by_time_seq);
            char cur[ANNAL_INDEX_CURSOR_LEN + 1] = "";
            size_t ng = 0;
            for (;;) {
                annal_index_page p;
                CHECK(fn[f](ix, tenant, id, 3, cur, &p) == ANNAL_OK && p.n <= 3);
                for (size_t i = 0; i < p.n; i++, ng++)
                    CHECKF(ng < nw && p.items[i].seq == want[ng].seq, "field %d id %s: entry %zu", f, id, ng);
                strcpy(cur, p.next_cursor);
                annal_index_page_free(&p);
                if (!cur[0])
                    break;
            }
            CHECKF(ng == nw, "field %d id %s: %zu of %zu entries", f, id, ng, nw);
        }
    }
    oracle_free(&o);
    annal_index_close(ix);
}

static void a_malformed_cursor_or_argument_is_rejected(void)
{
    annal_index *ix = open_caught_up(path("gen"), NULL);
    CHECK(ix);
    annal_index_page p;
    annal_timeline_query q = {.tenant = "acme", .limit = 1};
    /* a good cursor first: from a real page */
    oracle o;
    CHECK(oracle_load(path("gen"), &o) == 0);
    char tenant[ANNAL_ID_MAX + 1] = {0};
    memcpy(tenant, o.r[0].ev.tenant_id.p, o.r[0].ev.tenant_id.n);
    oracle_free(&o);
    q.tenant = tenant;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 1 && strlen(p.next_cursor) == ANNAL_INDEX_CURSOR_LEN);
    char good[ANNAL_INDEX_CURSOR_LEN + 1];
    strcpy(good, p.next_cursor);
    annal_index_page_free(&p);
    q.cursor = good;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 1);
    annal_index_page_free(&p);

    char bad[8][40];
    strcpy(bad[0], "x");                          /* too short */
    snprintf(bad[1], 40, "%sA", good);            /* too long */
    strcpy(bad[2], good), bad[2][5] = '+';        /* not base64url */
    strcpy(bad[3], good), bad[3][0] = 'B';        /* version 5 instead of 1 */
    strcpy(bad[4], good), bad[4][22] = 'B';       /* non-zero unused bits */
    strcpy(bad[5], good), bad[5][3] = '=';
    strcpy(bad[6], "AAAAAAAAAAAAAAAAAAAAAAA");    /* version 0 */
    strcpy(bad[7], "Af__________AAAAAAAAAAA");    /* time beyond int64 */
    for (int i = 0; i < 8; i++) {
        q.cursor = bad[i];
        CHECKF(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL && p.n == 0 && !p.items, "cursor %s", bad[i]);
        CHECKF(annal_index_run(ix, tenant, "r", 0, bad[i], &p) == ANNAL_EINVAL, "cursor %s", bad[i]);
    }
    q.cursor = NULL;
    q.limit = ANNAL_INDEX_LIMIT_MAX + 1;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL);
    q.limit = 0;
    q.from_ns = 10, q.to_ns = 5;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL);
    q.from_ns = q.to_ns = 0;
    q.domain = 99;
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL);
    q.domain = 0;
    q.tenant = "a b";
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL);
    q.tenant = tenant;
    q.event_type = "Bad Type";
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_EINVAL);
    q.event_type = "RunStarted", q.domain = ANNAL_DOMAIN_POLICIES; /* a type of another domain: nothing */
    CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK && p.n == 0 && !p.next_cursor[0]);
    char longid[200];
    memset(longid, 'a', 129);
    longid[129] = 0;
    CHECK(annal_index_run(ix, tenant, longid, 0, NULL, &p) == ANNAL_EINVAL);
    CHECK(annal_index_run(ix, tenant, "", 0, NULL, &p) == ANNAL_EINVAL);
    uint64_t s;
    CHECK(annal_index_lookup_event_id(ix, tenant, "a\"b", &s) == ANNAL_EINVAL);
    annal_index_close(ix);
}

static void catch_up_applies_what_was_appended_since(void)
{
    const char *dir = path("grow");
    CHECK(gen_store_part(dir, 9, 6000, 3, 0, 2000) == 0);
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    uint64_t applied;
    CHECK(annal_index_applied(ix, &applied) == ANNAL_OK && applied == 2000);
    annal_index_close(ix);
    /* more events, and an index opened again catches up */
    CHECK(gen_store_part(dir, 9, 6000, 3, 2000, 4000) == 0);
    char err[256];
    CHECK(annal_index_open(dir, NULL, &ix, err, sizeof(err)) == ANNAL_OK);
    annal_index_stats st;
    CHECK(annal_index_stats_get(ix, &st) == ANNAL_OK && st.applied_seq == 2000 && st.log_last_seq == 4000);
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 4000);
    /* and an open handle catches up what is appended while it is open */
    CHECK(gen_store_part(dir, 9, 6000, 3, 4000, 6000) == 0);
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 6000);
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 6000);
    CHECK(annal_index_stats_get(ix, &st) == ANNAL_OK && st.db[2].entries == 6000 && !strcmp(st.db[2].name, "timeline"));
    /* what a fresh build gives */
    char live[65], fresh[65];
    CHECK(digest_hex(ix, live) == 0);
    annal_index_close(ix);
    uint64_t events;
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, &events) == ANNAL_OK && events == 6000);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    CHECK(digest_hex(ix, fresh) == 0);
    annal_index_close(ix);
    CHECKF(!strcmp(live, fresh), "%s != %s", live, fresh);
}

static void event_id_lookup_finds_the_first_seq_and_event_reads_respect_the_tenant(void)
{
    const char *dir = path("eid");
    /* The log may hold an event_id twice (annal append does not dedupe):
     * the index keeps the first. */
    CHECK(append_text(dir, "{\"tenant_id\":\"acme\",\"event_type\":\"a.b.c\",\"correlation_id\":\"c\",\"event_id\":\"x-1\"}\n"
                           "{\"tenant_id\":\"acme\",\"event_type\":\"a.b.c\",\"correlation_id\":\"c\",\"event_id\":\"x-2\"}\n") == 0);
    annal_index *ix = open_caught_up(dir, NULL);
    CHECK(ix);
    annal_index_close(ix);
    CHECK(append_text(dir, "{\"tenant_id\":\"acme\",\"event_type\":\"a.b.c\",\"correlation_id\":\"c\",\"event_id\":\"x-1\"}\n"
                           "{\"tenant_id\":\"globex\",\"event_type\":\"a.b.c\",\"correlation_id\":\"c\",\"event_id\":\"x-1\"}\n"
                           "{\"tenant_id\":\"acme\",\"event_type\":\"a.b.c\",\"correlation_id\":\"c\",\"event_id\":\"x-2\"}\n") == 0);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    uint64_t s;
    CHECK(annal_index_lookup_event_id(ix, "acme", "x-1", &s) == ANNAL_OK && s == 1);
    CHECK(annal_index_lookup_event_id(ix, "acme", "x-2", &s) == ANNAL_OK && s == 2);
    CHECK(annal_index_lookup_event_id(ix, "globex", "x-1", &s) == ANNAL_OK && s == 4);
    CHECK(annal_index_lookup_event_id(ix, "acme", "x-3", &s) == ANNAL_ENOTFOUND);
    char *rec;
    size_t len;
    CHECK(annal_index_event(ix, "globex", 4, &rec, &len) == ANNAL_OK);
    CHECK(len > 20 && !memcmp(rec, "{\"seq\":4,", 9) && memmem(rec, len, "\"tenant_id\":\"globex\"", 20));
    free(rec);
    CHECK(annal_index_event(ix, NULL, 1, &rec, &len) == ANNAL_OK && !memcmp(rec, "{\"seq\":1,", 9));
    free(rec);
    CHECK(annal_index_event(ix, "globex", 1, &rec, &len) == ANNAL_ENOTFOUND && !rec); /* acme's */
    CHECK(annal_index_event(ix, NULL, 6, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_index_event(ix, NULL, 0, &rec, &len) == ANNAL_ENOTFOUND);
    /* a rebuild agrees */
    char live[65], fresh[65];
    CHECK(digest_hex(ix, live) == 0);
    annal_index_close(ix);
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    CHECK(digest_hex(ix, fresh) == 0 && !strcmp(live, fresh));
    annal_index_close(ix);
}

static int progress_calls;
static void count_progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    (void)applied;
    (void)target;
    progress_calls++;
}

static void a_tiny_initial_map_grows_and_goes_on(void)
{
    const char *dir = path("gen");
    tu_rmtree(path("gen/index"));
    annal_index_options opt = {.map_size = 32 << 10, .txn_records = 3000};
    annal_index *ix;
    char err[256];
    CHECK(annal_index_open(dir, &opt, &ix, err, sizeof(err)) == ANNAL_OK);
    annal_index_stats st;
    CHECK(annal_index_stats_get(ix, &st) == ANNAL_OK && st.map_size == 32 << 10);
    progress_calls = 0;
    uint64_t applied;
    CHECK(annal_index_catch_up(ix, count_progress, NULL, &applied) == ANNAL_OK && applied == 20000);
    CHECKF(progress_calls >= 7, "%d", progress_calls); /* one per committed transaction */
    CHECK(annal_index_stats_get(ix, &st) == ANNAL_OK);
    CHECKF(st.map_size >= st.map_used && st.map_size >= (1u << 20), "map %llu used %llu",
           (unsigned long long)st.map_size, (unsigned long long)st.map_used);
    char tiny[65], fresh[65];
    CHECK(digest_hex(ix, tiny) == 0);
    annal_index_close(ix);
    /* reopened with the tiny size again: it keeps the size it grew to */
    CHECK(annal_index_open(dir, &opt, &ix, err, sizeof(err)) == ANNAL_OK);
    annal_index_stats st2;
    CHECK(annal_index_stats_get(ix, &st2) == ANNAL_OK && st2.map_size == st.map_size);
    annal_index_close(ix);
    /* the same as an index built with a roomy map in one go */
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    CHECK(digest_hex(ix, fresh) == 0);
    annal_index_close(ix);
    CHECKF(!strcmp(tiny, fresh), "%s != %s", tiny, fresh);
}

static void a_map_grown_by_another_process_is_adopted(void)
{
    const char *dir = path("resized");
    CHECK(gen_store_part(dir, 51, 12000, 3, 0, 10000) == 0);
    annal_index_options opt = {.map_size = 32 << 10};
    annal_index *ix;
    char err[256];
    CHECK(annal_index_open(dir, &opt, &ix, err, sizeof(err)) == ANNAL_OK);
    /* another process indexes everything: the map grows far past 32 KiB */
    CHECK(tu_run(NULL, "%s query --data %s timeline --tenant x >/dev/null", tu_annal(), dir) == 0);
    CHECK(gen_store_part(dir, 51, 12000, 3, 10000, 12000) == 0);
    uint64_t applied;
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 12000);
    annal_index_stats st;
    CHECK(annal_index_stats_get(ix, &st) == ANNAL_OK && st.map_size > (1u << 20));
    CHECK(st.db[2].entries == 12000);
    annal_index_close(ix);
}

static char *stats_line(const char *out, const char *name)
{
    static char v[128];
    const char *p = strstr(out, name);
    v[0] = 0;
    if (p)
        sscanf(p + strlen(name), " %127s", v);
    return v;
}

static void the_digest_after_live_catch_up_in_steps_equals_the_digest_after_reindex(void)
{
    const char *dir = path("steps");
    char *out;
    uint64_t bounds[] = {0, 1, 700, 701, 5000, 12000, 15000};
    for (size_t i = 0; i + 1 < sizeof(bounds) / sizeof(bounds[0]); i++) {
        CHECK(gen_store_part(dir, 11, 15000, 5, bounds[i], bounds[i + 1]) == 0);
        /* each step through another path: the library with odd transaction
         * sizes, or `annal query` in another process */
        if (i % 2 == 0) {
            annal_index_options opt = {.txn_records = 1 + i * 997, .threads = i % 4 ? 0 : 1};
            annal_index *ix = open_caught_up(dir, &opt);
            CHECK(ix);
            annal_index_close(ix);
        } else {
            CHECK(tu_run(NULL, "%s query --data %s timeline --tenant nobody >/dev/null", tu_annal(), dir) == 0);
        }
    }
    CHECK(tu_run(&out, "%s stats --data %s --digest", tu_annal(), dir) == 0);
    CHECKF(!strcmp(stats_line(out, "applied_seq"), "15000") && !strcmp(stats_line(out, "lag"), "0"), "%s", out);
    char live[128];
    strcpy(live, stats_line(out, "digest"));
    free(out);
    CHECK(strlen(live) == 64);
    CHECK(tu_run(&out, "%s reindex --data %s", tu_annal(), dir) == 0);
    CHECKF(strstr(out, "indexed 15000 events in") && strstr(out, "events/s"), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s stats --data %s --digest", tu_annal(), dir) == 0);
    CHECKF(!strcmp(stats_line(out, "digest"), live), "live %s, after reindex %s", live, stats_line(out, "digest"));
    free(out);
    /* nothing is left over by the swap */
    CHECK(tu_file_size(path("steps/index.tmp")) < 0 && tu_file_size(path("steps/index.old")) < 0);
}

static void an_index_that_does_not_match_the_log_is_refused_until_reindex(void)
{
    /* A's index beside B's log: same length, other records. */
    const char *a = path("mis-a"), *b = path("mis-b"), *c = path("mis-c");
    CHECK(gen_store(a, 21, 3000, 2) == 0 && gen_store(b, 22, 3000, 2) == 0 && gen_store(c, 21, 1000, 2) == 0);
    annal_index *ix = open_caught_up(a, NULL);
    CHECK(ix);
    annal_index_close(ix);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "cp -r %s/index %s/index && cp -r %s/index %s/index", a, b, a, c);
    CHECK(system(cmd) == 0);
    char err[512];
    CHECK(annal_index_open(b, NULL, &ix, err, sizeof(err)) == ANNAL_EINDEX && !ix);
    CHECKF(strstr(err, "does not match the log") && strstr(err, "seq 3000") && strstr(err, "run annal reindex"), "%s", err);
    /* a log shorter than what the index applied */
    CHECK(annal_index_open(c, NULL, &ix, err, sizeof(err)) == ANNAL_EINDEX);
    CHECKF(strstr(err, "ends at seq 1000") && strstr(err, "run annal reindex"), "%s", err);
    char *out;
    CHECK(tu_run(&out, "%s query --data %s timeline --tenant x 2>&1", tu_annal(), b) == 2);
    CHECKF(strstr(out, "does not match the log") && strstr(out, "annal reindex"), "%s", out);
    free(out);
    CHECK(tu_run(NULL, "%s stats --data %s >/dev/null 2>&1", tu_annal(), b) == 2);
    /* reindex repairs it */
    CHECK(tu_run(NULL, "%s reindex --data %s >/dev/null", tu_annal(), b) == 0);
    CHECK((ix = open_caught_up(b, NULL)) != NULL);
    uint64_t applied;
    CHECK(annal_index_applied(ix, &applied) == ANNAL_OK && applied == 3000);
    annal_index_close(ix);
    /* after a reindex, a log that grows on is still the same log */
    CHECK(tu_run(NULL, "%s reindex --data %s >/dev/null", tu_annal(), c) == 0);
    CHECK(gen_store_part(c, 23, 2000, 2, 0, 2000) == 0);
    CHECK((ix = open_caught_up(c, NULL)) != NULL);
    CHECK(annal_index_applied(ix, &applied) == ANNAL_OK && applied == 3000);
    annal_index_close(ix);
}

static void an_index_of_another_format_version_is_refused(void)
{
    const char *dir = path("mis-a");
    /* rewrite the format record as a future build would */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 32) == 0);
    CHECK(mdb_env_open(env, path("mis-a/index"), MDB_WRITEMAP, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "meta", 0, &dbi) == 0);
    unsigned char v[4] = {0, 0, 0, 99};
    MDB_val k = {6, "format"}, d = {4, v};
    CHECK(mdb_put(txn, dbi, &k, &d, 0) == 0 && mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    annal_index *ix;
    char err[512];
    CHECK(annal_index_open(dir, NULL, &ix, err, sizeof(err)) == ANNAL_EVERSION && !ix);
    CHECKF(strstr(err, "another format") && strstr(err, "run annal reindex"), "%s", err);
    CHECK(tu_run(NULL, "%s reindex --data %s >/dev/null", tu_annal(), dir) == 0);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    annal_index_close(ix);
}

static void reindex_refuses_a_log_that_does_not_verify_and_keeps_the_index(void)
{
    const char *dir = path("mis-a");
    char *before, *after, *out;
    CHECK(tu_run(&before, "%s stats --data %s --digest", tu_annal(), dir) == 0);
    /* flip a byte inside the first block's zstd frame */
    char seg[4096];
    snprintf(seg, sizeof(seg), "%s/00000000000000000001.seg", dir);
    FILE *f = fopen(seg, "r+b");
    CHECK(f);
    fseek(f, 72 + 80 + 200, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 72 + 80 + 200, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    CHECK(tu_run(&out, "%s reindex --data %s 2>&1", tu_annal(), dir) == 1);
    CHECKF(strstr(out, "does not verify") && strstr(out, "not rebuilt"), "%s", out);
    free(out);
    CHECK(tu_run(&after, "%s stats --data %s --digest", tu_annal(), dir) == 0);
    CHECK(!strcmp(before, after));
    free(before);
    free(after);
    CHECK(tu_file_size(path("mis-a/index.tmp")) < 0);
}

/* A child process appends in batches and reports each acknowledged seq
 * on a pipe; the parent catches up and must find every acknowledged event
 * (read-your-writes), while `annal query` processes catch up the same
 * index at the same time. */
static void queries_while_another_process_appends_see_every_acknowledged_event(void)
{
    const char *dir = path("live");
    CHECK(gen_store_part(dir, 31, 40000, 3, 0, 1000) == 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char *buf = NULL;
        size_t len = 0;
        FILE *g = open_memstream(&buf, &len);
        annal_gen_write(g, 31, 40000, 3);
        fclose(g);
        size_t off = 0;
        for (uint64_t line = 0; line < 1000; line++)
            off = (size_t)((char *)memchr(buf + off, '\n', len - off) - buf) + 1;
        /* 39000 events in batches of ~500, each acknowledged (durable) */
        while (off < len) {
            size_t end = off;
            for (int k = 0; k < 500 && end < len; k++)
                end = (size_t)((char *)memchr(buf + end, '\n', len - end) - buf) + 1;
            uint64_t last;
            if (append_ndjson(dir, buf + off, end - off, &last))
                _exit(3);
            if (write(fds[1], &last, sizeof(last)) != sizeof(last))
                _exit(4);
            off = end;
        }
        _exit(0);
    }
    close(fds[1]);
    annal_index *ix;
    char err[256];
    CHECK(annal_index_open(dir, NULL, &ix, err, sizeof(err)) == ANNAL_OK);
    uint64_t acked, checks = 0, applied = 0;
    annal_reader *rd;
    CHECK(annal_reader_open(dir, &rd) == ANNAL_OK);
    while (read(fds[0], &acked, sizeof(acked)) == sizeof(acked)) {
        if (checks % 8 == 3) /* another process catching up the same index meanwhile */
            CHECK(tu_run(NULL, "%s query --data %s timeline --tenant x >/dev/null", tu_annal(), dir) == 0);
        uint64_t now;
        CHECK(annal_index_catch_up(ix, NULL, NULL, &now) == ANNAL_OK);
        CHECKF(now >= acked && now >= applied, "applied %llu after the ack of %llu", (unsigned long long)now,
               (unsigned long long)acked);
        applied = now;
        /* the acknowledged event is in its tenant's timeline */
        const char *rec;
        size_t len;
        annal_event ev;
        CHECK(annal_reader_get(rd, acked, &rec, &len) == ANNAL_OK && annal_record_parse(rec, len, &ev, NULL) == 0);
        char tenant[ANNAL_ID_MAX + 1] = {0};
        memcpy(tenant, ev.tenant_id.p, ev.tenant_id.n);
        annal_timeline_query q = {.tenant = tenant, .from_ns = ev.has_occurred_at ? ev.occurred_at_ns : ev.recorded_at_ns,
                                  .limit = 1000};
        annal_index_page p;
        CHECK(annal_index_timeline(ix, &q, &p) == ANNAL_OK);
        int found = 0;
        for (size_t i = 0; i < p.n; i++)
            found |= p.items[i].seq == acked;
        annal_index_page_free(&p);
        CHECKF(found, "acknowledged seq %llu is not in its tenant's timeline", (unsigned long long)acked);
        checks++;
    }
    annal_reader_close(rd);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(checks == 78);
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 40000);
    char live[65], fresh[65];
    CHECK(digest_hex(ix, live) == 0);
    annal_index_close(ix);
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    CHECK(digest_hex(ix, fresh) == 0);
    annal_index_close(ix);
    CHECKF(!strcmp(live, fresh), "%s != %s", live, fresh);
}

static void a_catch_up_killed_midway_resumes_to_the_same_index(void)
{
    const char *dir = path("live");
    tu_rmtree(path("live/index"));
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        annal_index_options opt = {.txn_records = 500, .threads = 1};
        annal_index *ix;
        if (annal_index_open(dir, &opt, &ix, NULL, 0))
            _exit(3);
        char c = 'x';
        if (write(fds[1], &c, 1) != 1)
            _exit(4);
        for (;;) /* keep catching up (it finishes; then from scratch again) */
            if (annal_index_catch_up(ix, NULL, NULL, NULL))
                _exit(5);
    }
    close(fds[1]);
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    close(fds[0]);
    usleep(150 * 1000);
    kill(pid, SIGKILL);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
    annal_index *ix;
    char err[256];
    CHECK(annal_index_open(dir, NULL, &ix, err, sizeof(err)) == ANNAL_OK);
    uint64_t applied;
    CHECK(annal_index_applied(ix, &applied) == ANNAL_OK && applied <= 40000);
    CHECK(annal_index_catch_up(ix, NULL, NULL, &applied) == ANNAL_OK && applied == 40000);
    char resumed[65], fresh[65];
    CHECK(digest_hex(ix, resumed) == 0);
    annal_index_close(ix);
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK((ix = open_caught_up(dir, NULL)) != NULL);
    CHECK(digest_hex(ix, fresh) == 0);
    annal_index_close(ix);
    CHECKF(!strcmp(resumed, fresh), "%s != %s", resumed, fresh);
}

static void query_prints_json_pages_that_concatenate_to_the_whole_list(void)
{
    const char *dir = path("gen");
    oracle o;
    CHECK(oracle_load(dir, &o) == 0);
    char tenant[ANNAL_ID_MAX + 1] = {0}, run[ANNAL_ID_MAX + 1] = {0}, eid[ANNAL_ID_MAX + 1] = {0};
    memcpy(tenant, o.r[0].ev.tenant_id.p, o.r[0].ev.tenant_id.n);
    size_t ri = 0;
    while (ri < o.n && (!o.r[ri].ev.run_id.n || !slice_is(o.r[ri].ev.tenant_id, tenant)))
        ri++;
    CHECK(ri < o.n);
    memcpy(run, o.r[ri].ev.run_id.p, o.r[ri].ev.run_id.n);
    memcpy(eid, o.r[ri].ev.event_id.p, o.r[ri].ev.event_id.n);
    annal_timeline_query q = {.tenant = tenant, .event_type = "RunStarted"};
    annal_index_entry *want = malloc(o.n * sizeof(*want));
    size_t nw = oracle_timeline(&o, &q, want);
    CHECK(nw > 10);
    /* pages of 37 through the command line */
    char cursor[64] = "";
    size_t ng = 0;
    for (int pages = 0; pages < 1000; pages++) {
        char *out;
        int st = tu_run(&out, "%s query --data %s timeline --tenant %s --type RunStarted --limit 37%s%s", tu_annal(),
                        dir, tenant, cursor[0] ? " --cursor " : "", cursor);
        CHECKF(st == 0, "%d", st);
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        CHECKF(j && json_is_array(json_object_get(j, "events")), "%s", out);
        json_t *evs = json_object_get(j, "events"), *nc = json_object_get(j, "next_cursor");
        for (size_t i = 0; i < json_array_size(evs); i++, ng++) {
            json_t *e = json_array_get(evs, i);
            CHECK(ng < nw && (uint64_t)json_integer_value(json_object_get(e, "seq")) == want[ng].seq);
            CHECK(!strcmp(json_string_value(json_object_get(e, "event_type")), "RunStarted"));
        }
        /* the records are printed exactly as stored */
        if (json_array_size(evs)) {
            uint64_t s0 = (uint64_t)json_integer_value(json_object_get(json_array_get(evs, 0), "seq"));
            const orec *x = &o.r[s0 - 1];
            CHECK(memmem(out, strlen(out), x->rec, strlen(x->rec) < 200 ? strlen(x->rec) : 200));
        }
        int last = json_is_null(nc);
        if (!last) {
            CHECK(json_is_string(nc) && json_array_size(evs) == 37);
            snprintf(cursor, sizeof(cursor), "%s", json_string_value(nc));
        }
        json_decref(j);
        free(out);
        if (last)
            break;
    }
    CHECKF(ng == nw, "%zu of %zu", ng, nw);
    free(want);

    char *out;
    CHECK(tu_run(&out, "%s query --data %s run --tenant %s --id %s", tu_annal(), dir, tenant, run) == 0);
    CHECKF(strstr(out, "{\"events\":[{\"seq\":") && strstr(out, "\"next_cursor\":null}"), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s query --data %s event --tenant %s --event-id %s", tu_annal(), dir, tenant, eid) == 0);
    char head[64];
    snprintf(head, sizeof(head), "{\"events\":[{\"seq\":%llu,", (unsigned long long)o.r[ri].seq);
    CHECKF(!strncmp(out, head, strlen(head)), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s query --data %s event --seq 5", tu_annal(), dir) == 0 &&
          !strncmp(out, "{\"events\":[{\"seq\":5,", 20));
    free(out);
    CHECK(tu_run(NULL, "%s query --data %s event --seq 99999 2>/dev/null", tu_annal(), dir) == 1);
    CHECK(tu_run(NULL, "%s query --data %s event --tenant %s --event-id nope 2>/dev/null", tu_annal(), dir, tenant) == 1);
    CHECK(tu_run(NULL, "%s query --data %s timeline --tenant %s --cursor bogus 2>/dev/null", tu_annal(), dir, tenant) == 2);
    CHECK(tu_run(NULL, "%s query --data %s timeline 2>/dev/null", tu_annal(), dir) == 2);             /* no tenant */
    CHECK(tu_run(NULL, "%s query --data %s run --tenant %s 2>/dev/null", tu_annal(), dir, tenant) == 2); /* no id */
    CHECK(tu_run(NULL, "%s query --data %s timeline --tenant t --from yesterday 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s query --data %s timeline --tenant t --domain NOPE 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s query --data %s frobnicate 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s query --data %s/nonexistent timeline --tenant t 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(&out, "%s query --data %s correlation --tenant %s --id none-such", tu_annal(), dir, tenant) == 0);
    CHECKF(!strcmp(out, "{\"events\":[],\"next_cursor\":null}\n"), "%s", out);
    free(out);
    oracle_free(&o);
}

static void stats_prints_the_lag_and_the_entries(void)
{
    const char *dir = path("stats");
    CHECK(gen_store(dir, 41, 1500, 2) == 0);
    char *out;
    CHECK(tu_run(&out, "%s stats --data %s", tu_annal(), dir) == 0);
    CHECKF(!strcmp(stats_line(out, "log_last_seq"), "1500") && !strcmp(stats_line(out, "applied_seq"), "0") &&
               !strcmp(stats_line(out, "lag"), "1500") && strstr(out, "map_size ") && strstr(out, "map_used ") &&
               !strstr(out, "digest"), "%s", out);
    free(out);
    CHECK(tu_run(NULL, "%s query --data %s timeline --tenant x >/dev/null", tu_annal(), dir) == 0);
    CHECK(tu_run(&out, "%s stats --data %s --digest", tu_annal(), dir) == 0);
    CHECKF(!strcmp(stats_line(out, "applied_seq"), "1500") && !strcmp(stats_line(out, "lag"), "0") &&
               !strcmp(stats_line(out, "entries.timeline"), "1500") && !strcmp(stats_line(out, "entries.event_id"), "1500") &&
               strlen(stats_line(out, "digest")) == 64, "%s", out);
    free(out);
}

static void every_index_command_has_help(void)
{
    const char *cmds[] = {"query", "reindex", "stats"};
    for (int i = 0; i < 3; i++) {
        char *out;
        CHECKF(tu_run(&out, "%s %s --help", tu_annal(), cmds[i]) == 0 && strstr(out, "usage: annal"), "%s", cmds[i]);
        free(out);
        CHECK(tu_run(NULL, "%s %s 2>/dev/null", tu_annal(), cmds[i]) == 2); /* no --data */
    }
    CHECK(tu_run(NULL, "%s reindex --data %s/nonexistent 2>/dev/null", tu_annal(), base) == 2);
}

int main(void)
{
    base = tu_tmpdir("index");
    T_RUN(the_same_ids_in_two_tenants_never_mix);
    T_RUN(the_timeline_is_ordered_by_occurred_at_then_seq);
    T_RUN(timeline_filters_and_cursor_pages_match_a_scan_of_the_log);
    T_RUN(link_reads_match_a_scan_of_the_log);
    T_RUN(a_malformed_cursor_or_argument_is_rejected);
    T_RUN(catch_up_applies_what_was_appended_since);
    T_RUN(event_id_lookup_finds_the_first_seq_and_event_reads_respect_the_tenant);
    T_RUN(a_tiny_initial_map_grows_and_goes_on);
    T_RUN(a_map_grown_by_another_process_is_adopted);
    T_RUN(the_digest_after_live_catch_up_in_steps_equals_the_digest_after_reindex);
    T_RUN(an_index_that_does_not_match_the_log_is_refused_until_reindex);
    T_RUN(an_index_of_another_format_version_is_refused);
    T_RUN(reindex_refuses_a_log_that_does_not_verify_and_keeps_the_index);
    T_RUN(queries_while_another_process_appends_see_every_acknowledged_event);
    T_RUN(a_catch_up_killed_midway_resumes_to_the_same_index);
    T_RUN(query_prints_json_pages_that_concatenate_to_the_whole_list);
    T_RUN(stats_prints_the_lag_and_the_entries);
    T_RUN(every_index_command_has_help);
    if (!t_failed)
        tu_rmtree(base);
    free(base);
    return t_done();
}
