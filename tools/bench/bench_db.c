/*
 * bench_db.c - durable append throughput with indexing on (index/db.h:
 * idempotency check, index, views, rules) against the log alone, side by
 * side in one run.
 *
 * Input: annal_gen_write (seed 42, BENCH_EVENTS events, default 1000000,
 * 20 tenants), parsed once before anything is timed. Each run appends them
 * to a fresh data directory under $TMPDIR in batches of BENCH_BATCH
 * (default 1000) from BENCH_THREADS threads (default 1; batches dealt out
 * round-robin), each batch durable before the next one of its thread:
 *  - log only: annal_log_append;
 *  - indexed:  annal_db_append (the indexer thread indexes and runs the
 *    rules behind the appends), then annal_db_settle, so that the clock
 *    stops once every event is durable, indexed and its derived events are
 *    appended and indexed too. Also printed: the rate at which the appends
 *    were acknowledged, and the events the rules derived.
 * Figures: events/s of each, and indexed / log-only.
 * Usage: bench_db (environment variables only)
 */
#include "index/db.h"
#include "index/index.h"
#include "store/error.h"
#include "store/event.h"
#include "store/log.h"
#include "tools/gen.h"

#include <ftw.h>
#include <pthread.h>
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

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_db: %s: %s\n", what, annal_index_strerror(rc));
    exit(2);
}

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

typedef struct job {
    annal_log *log;     /* log only, or */
    annal_db *db;       /* indexed */
    const annal_event *evs;
    size_t n, batch;
    int t, nthreads;
} job;

static void *run(void *arg)
{
    job *j = arg;
    annal_db_result *res = malloc(j->batch * sizeof(*res));
    for (size_t b = (size_t)j->t; b * j->batch < j->n; b += (size_t)j->nthreads) {
        size_t off = b * j->batch, k = j->n - off < j->batch ? j->n - off : j->batch;
        annal_append_result ar;
        int rc = j->db ? annal_db_append(j->db, j->evs + off, k, res) : annal_log_append(j->log, j->evs + off, k, &ar);
        if (rc)
            die("append", rc);
    }
    free(res);
    return NULL;
}

static void run_threads(job *proto, int nthreads)
{
    pthread_t th[64];
    job j[64];
    for (int t = 0; t < nthreads; t++) {
        j[t] = *proto;
        j[t].t = t;
        j[t].nthreads = nthreads;
        if (pthread_create(&th[t], NULL, run, &j[t]))
            die("pthread_create", ANNAL_ENOMEM);
    }
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
}

static char *fresh_dir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *d = NULL;
    if (asprintf(&d, "%s/annal-bench-db-%s-XXXXXX", tmp ? tmp : "/tmp", tag) < 0 || !mkdtemp(d))
        die("mkdtemp", ANNAL_EIO);
    return d;
}

int main(void)
{
    uint64_t n = getenv("BENCH_EVENTS") ? strtoull(getenv("BENCH_EVENTS"), NULL, 10) : 1000000;
    size_t batch = getenv("BENCH_BATCH") ? strtoull(getenv("BENCH_BATCH"), NULL, 10) : 1000;
    int nthreads = getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 1;
    if (!n || !batch || nthreads < 1 || nthreads > 64) {
        fprintf(stderr, "bench_db: BENCH_EVENTS, BENCH_BATCH >= 1, BENCH_THREADS 1..64\n");
        return 2;
    }

    /* The input, parsed (not timed). */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || annal_gen_write(f, 42, n, 20) != ANNAL_OK || fclose(f) != 0)
        die("annal_gen_write", ANNAL_EIO);
    annal_event *evs = calloc(n, sizeof(*evs));
    char *out = malloc(len + 1);
    if (!evs || !out)
        die("input", ANNAL_ENOMEM);
    size_t k = 0, o = 0;
    for (size_t off = 0; off < len && k < n;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - buf) : len;
        int rc = annal_event_parse(buf + off, end - off, 0, out + o, len + 1 - o, &evs[k], NULL);
        if (rc)
            die("annal_event_parse", rc);
        o += evs[k].body_len + 2;
        off = end + 1;
        k++;
    }
    free(buf); /* the events point into out */
    n = k;
    printf("input: %llu events from annal_gen_write (seed 42, 20 tenants), batches of %zu, %d thread%s\n",
           (unsigned long long)n, batch, nthreads, nthreads > 1 ? "s" : "");

    /* Log only. */
    char *d1 = fresh_dir("log");
    annal_log_options lo = {.log_fn = quiet};
    annal_log *log;
    char err[512];
    int rc = annal_log_open(d1, &lo, &log, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench_db: %s\n", err);
        return 2;
    }
    job j = {.log = log, .evs = evs, .n = n, .batch = batch};
    double t0 = now();
    run_threads(&j, nthreads);
    double t_log = now() - t0;
    annal_log_stats ls;
    annal_log_stats_get(log, &ls);
    if ((rc = annal_log_close(log)))
        die("annal_log_close", rc);
    printf("log only  (annal_log_append):              %6.2f s  %9.0f events/s  (%llu fdatasyncs)\n", t_log,
           n / t_log, (unsigned long long)ls.commits);

    /* Indexed. */
    char *d2 = fresh_dir("db");
    annal_db_options dbo = {.log = {.log_fn = quiet}};
    annal_db *db;
    if ((rc = annal_db_open(d2, &dbo, &db, err, sizeof(err)))) {
        fprintf(stderr, "bench_db: %s\n", err);
        return 2;
    }
    j = (job){.db = db, .evs = evs, .n = n, .batch = batch};
    t0 = now();
    run_threads(&j, nthreads);
    double t_ack = now() - t0;
    if ((rc = annal_db_settle(db)))
        die("annal_db_settle", rc);
    double t_db = now() - t0;
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    annal_index_stats is;
    if ((rc = annal_index_stats_get(annal_db_index(db), &is)))
        die("annal_index_stats_get", rc);
    t0 = now();
    if ((rc = annal_db_close(db)))
        die("annal_db_close", rc);
    double t_close = now() - t0;
    printf("indexed   (annal_db_append, then settle):  %6.2f s  %9.0f events/s  (acknowledged at %.0f events/s; "
           "%llu derived events; %llu settles; map %llu MiB used)\n",
           t_db, n / t_db, n / t_ack, (unsigned long long)st.derived, (unsigned long long)st.settles,
           (unsigned long long)(is.map_used >> 20));
    printf("indexed / log only: %.2f   (close, with the index's fsync: %.2f s, not counted)\n", t_log / t_db, t_close);

    nftw(d1, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    nftw(d2, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(d1);
    free(d2);
    free(out);
    free(evs);
    return 0;
}
