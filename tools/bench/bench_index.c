/*
 * bench_index.c - the index: reindex throughput and in-process read latency.
 *
 * The store: ANNAL_BENCH_DATA (a data directory with a log), or else one
 * built here in a fresh directory under $TMPDIR from annal_gen_write
 * (seed 42, BENCH_EVENTS events, default 1000000, appended durably as
 * `annal append` does; removed at the end).
 *
 * Figures:
 *  - reindex: annal_index_rebuild (build into index.tmp, fsync, swap), best
 *    and median of BENCH_RUNS (default 3) runs, events/s. (The log is not
 *    verified here; `annal reindex` verifies it first: see `make bench`.)
 *  - latency, median and p99 over 2000 calls each with inputs drawn with a
 *    fixed seed from the log: a run's timeline (annal_index_run, up to 100
 *    entries) and a tenant timeline page of 100 from a random time
 *    (annal_index_timeline); each index-only (seqs) and with the records
 *    read from the log, side by side: uncached (one store/reader.h reader
 *    keeping its last block, which is what annal_index_event did before
 *    the block cache) and cached (annal_index_event: the index's readers
 *    share a block cache, store/bcache.h, of the default budget). Each is
 *    measured twice in a row per call ("same records again": at once, as a
 *    page refreshed), the order of uncached and cached
 *    alternating from call to call. Two sets of inputs: drawn uniformly
 *    from the whole log (a first fetch rarely finds its blocks cached:
 *    the records of 1M events are ~20x the cache), then from its last 2% (recent
 *    runs and pages, a working set the cache holds).
 * BENCH_READS=0 skips the latency part.
 * Usage: bench_index (environment variables only)
 */
#include "index/index.h"
#include "index/views.h"
#include "index/vjson.h"
#include "index/internal.h" /* ix->bcache, for the cache's counters */
#include "store/bcache.h"
#include "store/error.h"
#include "store/event.h"
#include "store/log.h"
#include "store/reader.h"
#include "tools/gen.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x1d35eedull;
static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_index: %s: %s\n", what, annal_index_strerror(rc));
    exit(2);
}

/* Generate n events and append them to a log in dir. */
static void build_store(const char *dir, uint64_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || annal_gen_write(f, 42, n, 20) != ANNAL_OK || fclose(f) != 0)
        die("annal_gen_write", ANNAL_EIO);
    annal_log *log;
    char err[512];
    annal_log_options lo = {0};
    int rc = annal_log_open(dir, &lo, &log, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench_index: %s\n", err);
        exit(2);
    }
    enum { BATCH = 4096 };
    annal_event *evs = calloc(BATCH, sizeof(*evs));
    char *out = malloc(len + 1);
    size_t k = 0, o = 0;
    annal_append_result res;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if ((rc = annal_event_parse(buf + off, end - off, 0, out + o, len + 1 - o, &evs[k], NULL)))
            die("annal_event_parse", rc);
        o += evs[k].body_len + 2;
        off = end + 1;
        if (++k == BATCH || off >= len) {
            if ((rc = annal_log_submit(log, evs, k, &res)))
                die("annal_log_submit", rc);
            k = 0;
        }
    }
    if ((rc = annal_log_sync(log, res.last_seq)) || (rc = annal_log_close(log)))
        die("append", rc);
    free(out);
    free(evs);
    free(buf);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *us, size_t n)
{
    qsort(us, n, sizeof(*us), cmp_d);
    printf("%-46s median %8.1f us   p99 %8.1f us\n", what, us[n / 2], us[n * 99 / 100]);
}

/* Side by side: uncached | cached. */
static void report2(const char *what, double *unc, double *cac, size_t n)
{
    qsort(unc, n, sizeof(*unc), cmp_d);
    qsort(cac, n, sizeof(*cac), cmp_d);
    printf("%-46s uncached median %8.1f p99 %8.1f us | cached median %8.1f p99 %8.1f us\n", what,
           unc[n / 2], unc[n * 99 / 100], cac[n / 2], cac[n * 99 / 100]);
}

typedef struct sample {
    char tenant[ANNAL_ID_MAX + 1], run[ANNAL_ID_MAX + 1];
    int64_t t;
} sample;

int main(void)
{
    const char *data = getenv("ANNAL_BENCH_DATA");
    uint64_t n = getenv("BENCH_EVENTS") ? strtoull(getenv("BENCH_EVENTS"), NULL, 10) : 1000000;
    int runs = getenv("BENCH_RUNS") ? atoi(getenv("BENCH_RUNS")) : 3;
    if (runs < 1)
        runs = 1;
    char *own = NULL;
    if (!data) {
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&own, "%s/annal-bench-index-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(own))
            die("mkdtemp", ANNAL_EIO);
        double t0 = now();
        build_store(own, n);
        printf("store: %llu events from annal_gen_write (seed 42), appended in %.1f s (not timed below)\n",
               (unsigned long long)n, now() - t0);
        data = own;
    }

    /* Reindex. */
    double *secs = calloc((size_t)runs, sizeof(double));
    uint64_t events = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        int rc = annal_index_rebuild(data, NULL, NULL, NULL, &events);
        if (rc)
            die("annal_index_rebuild", rc);
        secs[i] = now() - t0;
    }
    qsort(secs, (size_t)runs, sizeof(double), cmp_d);
    printf("reindex (annal_index_rebuild, %llu events): best %.2f s = %.0f events/s, median %.2f s = %.0f "
           "events/s (%d runs)\n", (unsigned long long)events, secs[0], events / secs[0], secs[runs / 2],
           events / secs[runs / 2], runs);
    free(secs);

    if (getenv("BENCH_READS") && !strcmp(getenv("BENCH_READS"), "0"))
        goto out;
    annal_index *ix;
    char err[512];
    int rc = annal_index_open(data, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench_index: %s\n", err);
        return 2;
    }
    annal_reader *r;
    if ((rc = annal_reader_open(data, &r)))
        die("annal_reader_open", rc);
    /* The uncached fetch: what annal_index_event did before the block
     * cache (one reader keeping its last block; the pool hands a single
     * thread the same reader every time), copying the record likewise. */
    annal_reader *plain;
    if ((rc = annal_reader_open(data, &plain)))
        die("annal_reader_open", rc);
    enum { N = 2000 };
    enum { IDX, UNC, UNC2, CAC, CAC2, NCOL };
    sample *s = calloc(N, sizeof(*s));
    double *us[NCOL];
    for (int k = 0; k < NCOL; k++)
        us[k] = calloc(N, sizeof(double));
    uint64_t recent = events / 50 ? events / 50 : 1;
    for (int scen = 0; scen < 2; scen++) {
        /* Inputs for the reads: runs and times from records of the log,
         * drawn from all of it, then from its last 2% only. */
        uint64_t lo = scen ? events - recent + 1 : 1, span = scen ? recent : events;
        if (scen)
            printf("-- inputs from the last %llu records (2%% of the log)\n", (unsigned long long)recent);
        else
            printf("-- inputs from the whole log\n");
        for (size_t i = 0; i < N;) {
            const char *rec;
            size_t len;
            annal_event ev;
            if ((rc = annal_reader_get(r, lo + next_rand() % span, &rec, &len)) ||
                (rc = annal_record_parse(rec, len, &ev, NULL)))
                die("reading the log", rc);
            if (!ev.run_id.n)
                continue;
            memset(&s[i], 0, sizeof(s[i]));
            memcpy(s[i].tenant, ev.tenant_id.p, ev.tenant_id.n);
            memcpy(s[i].run, ev.run_id.p, ev.run_id.n);
            s[i].t = ev.has_occurred_at ? ev.occurred_at_ns : ev.recorded_at_ns;
            i++;
        }
        annal_bcache_stats st0, st;
        annal_bcache_stats_get(ix->bcache, &st0);
        size_t total = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < N; i++) {
                annal_index_page p;
                annal_timeline_query q = {.tenant = s[i].tenant, .from_ns = s[i].t, .limit = 100};
                double t0 = now();
                rc = pass ? annal_index_timeline(ix, &q, &p)
                          : annal_index_run(ix, s[i].tenant, s[i].run, 100, NULL, &p);
                double ti = now() - t0;
                if (rc)
                    die("read", rc);
                us[IDX][i] = ti * 1e6;
                /* uncached and cached, each twice in a row (the second: the
                 * same records again at once, as a refreshed page); which of
                 * the two goes first alternates from call to call. */
                for (int o = 0; o < 2; o++) {
                    int cached = (int)((i + (size_t)o) & 1);
                    for (int again = 0; again < 2; again++) {
                        double t1 = now();
                        for (size_t j = 0; j < p.n; j++) {
                            char *rec;
                            size_t len;
                            if (cached) {
                                if ((rc = annal_index_event(ix, NULL, p.items[j].seq, &rec, &len)))
                                    die("annal_index_event", rc);
                            } else {
                                const char *rp;
                                if ((rc = annal_reader_get(plain, p.items[j].seq, &rp, &len)))
                                    die("annal_reader_get", rc);
                                if (!(rec = malloc(len ? len : 1)))
                                    die("malloc", ANNAL_ENOMEM);
                                memcpy(rec, rp, len);
                            }
                            free(rec);
                        }
                        us[cached ? (again ? CAC2 : CAC) : (again ? UNC2 : UNC)][i] = (ti + now() - t1) * 1e6;
                    }
                }
                total += p.n;
                annal_index_page_free(&p);
            }
            const char *what = pass ? "tenant timeline page of 100" : "run timeline";
            char line[96];
            snprintf(line, sizeof(line), "%s, index only", what);
            report(line, us[IDX], N);
            snprintf(line, sizeof(line), "%s, with records", what);
            report2(line, us[UNC], us[CAC], N);
            snprintf(line, sizeof(line), "%s, same records again", what);
            report2(line, us[UNC2], us[CAC2], N);
        }
        annal_bcache_stats_get(ix->bcache, &st);
        printf("(%zu entries read, 2000 calls each; cache: %llu hits, %llu misses, %llu evictions; %zu blocks, "
               "%.1f MiB held)\n", total, (unsigned long long)(st.hits - st0.hits),
               (unsigned long long)(st.misses - st0.misses), (unsigned long long)(st.evictions - st0.evictions),
               st.blocks, st.bytes / 1048576.0);
    }
    /* The views: incident cost impact, and costs by API key over a month. */
    {
        enum { M = 2000, C = 200 };
        sample *inc = calloc(M, sizeof(*inc));
        double *t1 = calloc(M, sizeof(double)), *t2 = calloc(C, sizeof(double));
        size_t ni = 0;
        for (size_t tries = 0; ni < M && tries < 50 * (size_t)M; tries++) {
            const char *rec;
            size_t len;
            annal_event ev;
            if ((rc = annal_reader_get(r, 1 + next_rand() % events, &rec, &len)) ||
                (rc = annal_record_parse(rec, len, &ev, NULL)))
                die("reading the log", rc);
            if (!ev.incident_id.n || ev.type != ANNAL_EV_INCIDENT_CREATED)
                continue;
            memset(&inc[ni], 0, sizeof(inc[ni]));
            memcpy(inc[ni].tenant, ev.tenant_id.p, ev.tenant_id.n);
            memcpy(inc[ni].run, ev.incident_id.p, ev.incident_id.n);
            inc[ni].t = ev.has_occurred_at ? ev.occurred_at_ns : ev.recorded_at_ns;
            ni++;
        }
        for (size_t i = 0; i < ni; i++) {
            int64_t cents;
            uint64_t nruns;
            double t0 = now();
            if ((rc = annal_view_incident_cost(ix, inc[i].tenant, inc[i].run, &cents, &nruns)))
                die("annal_view_incident_cost", rc);
            t1[i] = (now() - t0) * 1e6;
        }
        if (ni)
            report("incident cost impact (annal_view_incident_cost)", t1, ni);
        annal_jbuf jb = {0};
        size_t nc = 0;
        for (size_t i = 0; i < C && ni; i++, nc++) {
            const sample *x = &inc[next_rand() % ni];
            annal_costs_query q = {.tenant = x->tenant, .group_by = ANNAL_GROUP_API_KEY,
                                   .from_ns = annal_period_start(ANNAL_PERIOD_MONTHLY, x->t)};
            q.to_ns = q.from_ns + 31 * 86400000000000LL;
            annal_jbuf_reset(&jb);
            double t0 = now();
            if ((rc = annal_vjson_costs(ix, &q, &jb)))
                die("annal_vjson_costs", rc);
            t2[i] = (now() - t0) * 1e6;
        }
        if (nc)
            report("costs by API key over a month (annal_vjson_costs)", t2, nc);
        printf("(%zu incidents and %zu tenant-months drawn with a fixed seed)\n", ni, nc);
        annal_jbuf_free(&jb);
        free(inc);
        free(t1);
        free(t2);
    }
    printf("(records from the log through store/reader.h: uncached = one reader keeping its last block, as\n"
           " annal_index_event was before the block cache; cached = annal_index_event, its readers sharing the\n"
           " index's block cache, store/bcache.h, default budget %zu MiB)\n", ANNAL_BCACHE_DEFAULT_BUDGET >> 20);
    annal_reader_close(r);
    annal_reader_close(plain);
    for (int k = 0; k < NCOL; k++)
        free(us[k]);
    annal_index_close(ix);
    free(s);
out:
    if (own) {
        nftw(own, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(own);
    }
    return 0;
}
