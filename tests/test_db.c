/* The ingest layer (index/db.h): idempotent appends by event_id (in one
 * batch, across batches, across a reopen, between racing threads, with
 * back-pressure), read-your-writes between threads, the rules settled to
 * quiescence with each derived event in the log exactly once, a tiny LMDB
 * map that grows, `annal append` through it, and crash safety by SIGKILL:
 * a child appends a scripted budget workload through annal_db while its
 * indexer (and a query thread) index and run the rules, and is killed at
 * random moments; after each kill the store is reopened, settled and
 * checked: every acknowledged event is in the log at the seq it was
 * acknowledged with, the log verifies, the live view digest equals a fresh
 * rebuild's, and every derived event is there exactly once. Fixed seeds;
 * nothing asserts on timing. */
#include "t.h"
#include "util.h"

#include "index/db.h"
#include "index/index.h"
#include "index/views.h"
#include "store/hash.h"
#include "store/log.h"
#include "store/reader.h"
#include "store/verify.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <time.h>

#define SEED_RACE 0xD0B1ull
#define SEED_CRASH 0xD0C4A5ull
#define EVCAP 1024

static char *root;

static const char *path(const char *name)
{
    static char p[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", root, name);
    return p[k];
}

static void quiet_log(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static annal_db *open_db(const char *dir, int manual, size_t max_unindexed)
{
    annal_db_options o = {.log = {.log_fn = quiet_log}, .manual_settle = manual, .max_unindexed = max_unindexed};
    annal_db *db;
    char err[512];
    int rc = annal_db_open(dir, &o, &db, err, sizeof(err));
    if (rc)
        fprintf(stderr, "annal_db_open %s: %s (%s)\n", dir, err, annal_index_strerror(rc));
    return rc ? NULL : db;
}

/* A batch of parsed events (at most EVS_MAX), each with its own buffer. */
#define EVS_MAX 128
typedef struct evs {
    annal_event *ev;
    char *buf;
    size_t n;
} evs;

static int evs_add(evs *b, const char *json)
{
    if (!b->ev) {
        b->ev = calloc(EVS_MAX, sizeof(*b->ev));
        b->buf = malloc((size_t)EVS_MAX * EVCAP);
    }
    if (b->n == EVS_MAX || !b->ev || !b->buf)
        return -1;
    if (tu_event(json, b->buf + b->n * EVCAP, EVCAP, &b->ev[b->n]))
        return -1;
    b->n++;
    return 0;
}

static void evs_free(evs *b)
{
    free(b->ev);
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

static int count_pending(void *ctx, const char *json, size_t len)
{
    (void)json;
    (void)len;
    (*(size_t *)ctx)++;
    return 0;
}

/* ---------------------------------------------------------------- the log, scanned */

typedef struct lrec {
    uint64_t seq;
    int type;                  /* enum annal_event_type, -1 service */
    int derived;               /* actor_id annal-rules */
    int bt;                    /* of tenant bt (the budget workload) */
    int64_t time_ns;
    int64_t cost;              /* data.cost_cents of a CostRecorded */
    char eid[ANNAL_ID_MAX + 1], run[ANNAL_ID_MAX + 1], incident[ANNAL_ID_MAX + 1];
    char extra[ANNAL_ID_MAX + 1]; /* anomaly_type / source / triggering_incident_id, by type */
} lrec;

static void cstr(char *out, annal_slice s)
{
    memcpy(out, s.p ? s.p : "", s.n);
    out[s.n] = 0;
}

/* The string value of the first member `name` in rec (no escapes in what
 * we look for), or "". */
static void member(const char *rec, size_t len, const char *name, char *out, size_t cap)
{
    char pat[96];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    out[0] = 0;
    const char *p = memmem(rec, len, pat, strlen(pat));
    if (!p)
        return;
    p += strlen(pat);
    size_t i = 0;
    while (p + i < rec + len && p[i] != '"' && i + 1 < cap) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
}

static int scan_log(const char *dir, lrec **out, size_t *n)
{
    annal_reader *r;
    *out = NULL;
    *n = 0;
    if (annal_reader_open(dir, &r))
        return -1;
    size_t cap = 0;
    uint64_t seq;
    const char *rec;
    size_t len;
    int rc;
    while ((rc = annal_reader_next(r, &seq, &rec, &len)) == ANNAL_OK) {
        annal_event ev;
        if (annal_record_parse(rec, len, &ev, NULL))
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            *out = realloc(*out, cap * sizeof(**out));
        }
        lrec *l = &(*out)[(*n)++];
        memset(l, 0, sizeof(*l));
        l->seq = seq;
        l->type = ev.type;
        l->derived = ev.actor_id.n == 11 && !memcmp(ev.actor_id.p, "annal-rules", 11);
        l->bt = ev.tenant_id.n == 2 && !memcmp(ev.tenant_id.p, "bt", 2);
        l->time_ns = ev.has_occurred_at ? ev.occurred_at_ns : ev.recorded_at_ns;
        cstr(l->eid, ev.event_id);
        cstr(l->run, ev.run_id);
        cstr(l->incident, ev.incident_id);
        if (ev.type == ANNAL_EV_COST_RECORDED) {
            const char *p = memmem(rec, len, "\"cost_cents\":", 13);
            l->cost = p ? strtoll(p + 13, NULL, 10) : 0;
        } else if (ev.type == ANNAL_EV_COST_ANOMALY_DETECTED) {
            member(rec, len, "anomaly_type", l->extra, sizeof(l->extra));
        } else if (ev.type == ANNAL_EV_INCIDENT_CREATED) {
            member(rec, len, "source", l->extra, sizeof(l->extra));
        } else if (ev.type == ANNAL_EV_POLICY_PROPOSAL_CREATED) {
            member(rec, len, "triggering_incident_id", l->extra, sizeof(l->extra));
        }
    }
    annal_reader_close(r);
    return rc == ANNAL_ENOTFOUND ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every event_id in the log (client's and derived) appears once. */
static int ids_unique(const lrec *l, size_t n, char *why, size_t wl)
{
    char **ids = malloc((n ? n : 1) * sizeof(*ids));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].eid[0])
            ids[k++] = (char *)l[i].eid;
    qsort(ids, k, sizeof(*ids), cmp_str);
    int bad = 0;
    for (size_t i = 1; i < k && !bad; i++)
        if (!strcmp(ids[i - 1], ids[i])) {
            snprintf(why, wl, "event_id %s is in the log twice", ids[i]);
            bad = 1;
        }
    free(ids);
    return bad ? -1 : 0;
}

/* Live digest vs. a fresh rebuild of a copy of the log's segments. */
static int copy_segments(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d || mkdir(to, 0755))
        return -1;
    struct dirent *e;
    int rc = 0;
    char buf[65536];
    while (!rc && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 4, ".seg"))
            continue;
        char a[4096], b[4096];
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        int fi = open(a, O_RDONLY), fo = open(b, O_WRONLY | O_CREAT | O_EXCL, 0644);
        ssize_t r;
        while (fi >= 0 && fo >= 0 && (r = read(fi, buf, sizeof(buf))) > 0)
            if (write(fo, buf, (size_t)r) != r)
                rc = -1;
        if (fi < 0 || fo < 0)
            rc = -1;
        if (fi >= 0)
            close(fi);
        if (fo >= 0)
            close(fo);
    }
    closedir(d);
    return rc;
}

static int rebuilt_digest(const char *dir, unsigned char out[32])
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s.rebuild", dir);
    tu_rmtree(copy);
    int rc = copy_segments(dir, copy) ? ANNAL_EIO : annal_index_rebuild(copy, NULL, NULL, NULL, NULL);
    annal_index *ix = NULL;
    if (!rc)
        rc = annal_index_open(copy, NULL, &ix, NULL, 0);
    if (!rc)
        rc = annal_index_digest(ix, out);
    annal_index_close(ix);
    tu_rmtree(copy);
    return rc;
}

/* ---------------------------------------------------------------- the budget workload
 *
 * Event n of tenant "bt" (a pure function of n, so that a retry sends the
 * same bytes): n = 0 creates limit lim-1 (DAILY, 1000 cents, warn 80%);
 * then PER_DAY events a day from 2026-03-01: a RunFailed every 23rd (run
 * f-n), else a CostRecorded of 30 cents. A day's spend reaches the warning
 * at its 27th cost and breaches at its 34th: each full day gives one
 * BUDGET_WARNING, one LimitBreached, one BUDGET_EXCEEDED anomaly, one HIGH
 * incident and its proposal; each RunFailed one RUN_FAILURE incident. */
#define PER_DAY 40
#define DAY_NS 86400000000000ll
#define T0_NS 1772323200000000000ll /* 2026-03-01T00:00:00Z */

static void budget_event(char *out, size_t cap, uint64_t n)
{
    if (n == 0) {
        snprintf(out, cap,
                 "{\"tenant_id\":\"bt\",\"event_type\":\"LimitCreated\",\"event_id\":\"c-0\","
                 "\"occurred_at\":\"2026-03-01T00:00:00Z\",\"actor_type\":\"HUMAN\",\"actor_id\":\"ops\","
                 "\"entity_type\":\"LIMIT\",\"entity_id\":\"lim-1\",\"data\":{\"category\":\"BUDGET\","
                 "\"scope\":\"tenant\",\"period\":\"DAILY\",\"max_cents\":1000,\"warn_pct\":80}}");
        return;
    }
    uint64_t i = n - 1;
    char at[31];
    annal_time_format(T0_NS + (int64_t)(i / PER_DAY) * DAY_NS + (int64_t)(i % PER_DAY + 1) * 60000000000ll, at);
    if (n % 23 == 0)
        snprintf(out, cap,
                 "{\"tenant_id\":\"bt\",\"event_type\":\"RunFailed\",\"event_id\":\"c-%llu\",\"occurred_at\":\"%s\","
                 "\"run_id\":\"f-%llu\",\"data\":{\"error_code\":\"E42\",\"model\":\"m1\"}}",
                 (unsigned long long)n, at, (unsigned long long)n);
    else
        snprintf(out, cap,
                 "{\"tenant_id\":\"bt\",\"event_type\":\"CostRecorded\",\"event_id\":\"c-%llu\",\"occurred_at\":\"%s\","
                 "\"run_id\":\"r-%llu\",\"api_key_id\":\"k-%llu\",\"data\":{\"model\":\"m1\",\"feature_tag\":\"f\","
                 "\"input_tokens\":10,\"output_tokens\":5,\"cost_cents\":30}}",
                 (unsigned long long)n, at, (unsigned long long)(n / 4), (unsigned long long)(n % 3));
}

/* Check a settled store of the budget workload (tenant bt; other tenants
 * are left out, but for the uniqueness of event_ids):
 * client events c-0..c-(M-1) once each in order; acked[n] (0: not acked)
 * is the seq of c-n; every event_id once; the derived events exactly those
 * the log's client events call for. *clients gets M. */
static int check_budget_store(const char *dir, const uint64_t *acked, uint64_t nacked, uint64_t *clients,
                              char *why, size_t wl)
{
    lrec *l;
    size_t n;
    if (scan_log(dir, &l, &n)) {
        snprintf(why, wl, "cannot scan the log");
        return -1;
    }
    int rc = -1;
    int64_t *spend = NULL;
    int64_t *breach = NULL, *warn = NULL, *exceeded = NULL, *inc_budget = NULL;
    uint64_t *cseq = NULL;
    uint64_t m = 0, days = 0;
    if (ids_unique(l, n, why, wl))
        goto out;
    /* the budget workload's tenant only */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i].bt)
            l[kept++] = l[i];
    n = kept;
    for (size_t i = 0; i < n; i++) {
        if (l[i].derived)
            continue;
        char want[32];
        snprintf(want, sizeof(want), "c-%llu", (unsigned long long)m);
        if (strcmp(l[i].eid, want)) {
            snprintf(why, wl, "seq %llu holds client event %s, expected %s", (unsigned long long)l[i].seq, l[i].eid,
                     want);
            goto out;
        }
        if (m < nacked && acked[m] && acked[m] != l[i].seq) {
            snprintf(why, wl, "%s was acknowledged with seq %llu but is at seq %llu", want,
                     (unsigned long long)acked[m], (unsigned long long)l[i].seq);
            goto out;
        }
        m++;
    }
    for (uint64_t k = m; k < nacked; k++)
        if (acked[k]) {
            snprintf(why, wl, "c-%llu was acknowledged (seq %llu) but is not in the log", (unsigned long long)k,
                     (unsigned long long)acked[k]);
            goto out;
        }
    *clients = m;
    days = m / PER_DAY + 2;
    spend = calloc(days, sizeof(*spend));
    breach = calloc(days, sizeof(*breach));
    warn = calloc(days, sizeof(*warn));
    exceeded = calloc(days, sizeof(*exceeded));
    inc_budget = calloc(days, sizeof(*inc_budget));
    cseq = calloc(m + 1, sizeof(*cseq));
    size_t failed = 0, inc_run = 0, proposals = 0, high = 0;
    for (size_t i = 0, c = 0; i < n; i++)
        if (!l[i].derived)
            cseq[c++] = l[i].seq;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)((l[i].time_ns - T0_NS) / DAY_NS);
        if (d >= days) {
            snprintf(why, wl, "seq %llu has a time beyond the workload", (unsigned long long)l[i].seq);
            goto out;
        }
        if (!l[i].derived) {
            if (l[i].type == ANNAL_EV_COST_RECORDED)
                spend[d] += l[i].cost;
            failed += l[i].type == ANNAL_EV_RUN_FAILED;
            continue;
        }
        switch (l[i].type) {
        case ANNAL_EV_LIMIT_BREACHED: breach[d]++; break;
        case ANNAL_EV_COST_ANOMALY_DETECTED:
            if (!strcmp(l[i].extra, "BUDGET_WARNING"))
                warn[d]++;
            else if (!strcmp(l[i].extra, "BUDGET_EXCEEDED"))
                exceeded[d]++;
            break;
        case ANNAL_EV_INCIDENT_CREATED:
            if (!strcmp(l[i].extra, "RUN_FAILURE")) {
                /* of run f-k: client event k is a RunFailed before it
                 * (and once: event_ids are unique, the rule's id is a
                 * function of the run) */
                char *end = NULL;
                uint64_t k = strncmp(l[i].run, "f-", 2) ? 0 : strtoull(l[i].run + 2, &end, 10);
                if (!k || *end || k >= m || k % 23 || cseq[k] > l[i].seq) {
                    snprintf(why, wl, "RUN_FAILURE incident at seq %llu for run %s, not a failed run before it",
                             (unsigned long long)l[i].seq, l[i].run);
                    goto out;
                }
                inc_run++;
            } else {
                inc_budget[d]++;
                high++;
            }
            break;
        case ANNAL_EV_POLICY_PROPOSAL_CREATED: {
            int found = 0;
            for (size_t j = 0; j < n && !found; j++)
                found = l[j].derived && l[j].type == ANNAL_EV_INCIDENT_CREATED && l[j].seq < l[i].seq &&
                        !strcmp(l[j].incident, l[i].extra) && strcmp(l[j].extra, "RUN_FAILURE");
            if (!found) {
                snprintf(why, wl, "proposal at seq %llu triggered by %s, not a HIGH derived incident before it",
                         (unsigned long long)l[i].seq, l[i].extra);
                goto out;
            }
            proposals++;
            break;
        }
        default: break;
        }
    }
    if (inc_run != failed) {
        snprintf(why, wl, "%zu RunFailed but %zu RUN_FAILURE incidents", failed, inc_run);
        goto out;
    }
    if (proposals != high) {
        snprintf(why, wl, "%zu HIGH budget incidents but %zu proposals", high, proposals);
        goto out;
    }
    for (uint64_t d = 0; d < days; d++) {
        int64_t w = spend[d] * 100 >= 80 * 1000, b = spend[d] > 1000;
        if (warn[d] != w || breach[d] != b || exceeded[d] != b || inc_budget[d] != b) {
            snprintf(why, wl, "day %llu: spend %lld: %lld warnings, %lld LimitBreached, %lld BUDGET_EXCEEDED, "
                              "%lld budget incidents (want %lld, %lld, %lld, %lld)",
                     (unsigned long long)d, (long long)spend[d], (long long)warn[d], (long long)breach[d],
                     (long long)exceeded[d], (long long)inc_budget[d], (long long)w, (long long)b, (long long)b,
                     (long long)b);
            goto out;
        }
    }
    rc = 0;
out:
    free(spend);
    free(breach);
    free(warn);
    free(exceeded);
    free(inc_budget);
    free(cseq);
    free(l);
    return rc;
}

/* Settle, then: nothing pending, the live digest equals a rebuild's, the
 * log verifies. */
static int check_settled(annal_db *db, const char *dir, char *why, size_t wl)
{
    int rc = annal_db_settle(db);
    if (rc) {
        snprintf(why, wl, "settle: %s", annal_index_strerror(rc));
        return -1;
    }
    size_t pending = 0, count = 0;
    rc = annal_index_pending(annal_db_index(db), count_pending, &pending, &count);
    if (rc || pending || count) {
        snprintf(why, wl, "after settling, %zu derived events are pending (%s)", pending, annal_index_strerror(rc));
        return -1;
    }
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    uint64_t applied = 0;
    if (annal_index_applied(annal_db_index(db), &applied) || applied != st.durable_seq) {
        snprintf(why, wl, "applied %llu, log %llu", (unsigned long long)applied, (unsigned long long)st.durable_seq);
        return -1;
    }
    unsigned char live[32], fresh[32];
    if ((rc = annal_index_digest(annal_db_index(db), live)) || (rc = rebuilt_digest(dir, fresh))) {
        snprintf(why, wl, "digest: %s", annal_index_strerror(rc));
        return -1;
    }
    if (memcmp(live, fresh, 32)) {
        char a[65], b[65];
        annal_hex32(live, a);
        annal_hex32(fresh, b);
        snprintf(why, wl, "live digest %s != rebuilt %s at seq %llu", a, b, (unsigned long long)applied);
        return -1;
    }
    annal_verify_report rep;
    rc = annal_verify_dir(dir, 2, NULL, NULL, &rep);
    if (rc || !rep.ok || rep.events != st.durable_seq) {
        snprintf(why, wl, "verify: rc %d ok %d, %llu events of %llu: %s", rc, rep.ok, (unsigned long long)rep.events,
                 (unsigned long long)st.durable_seq, rep.what);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- idempotency */

static void a_repeated_event_id_in_one_batch_is_stored_once_and_answered_with_the_first_seq(void)
{
    const char *dir = path("batch");
    annal_db *db = open_db(dir, 1, 0);
    CHECK(db);
    evs b = {0};
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r1\",\"event_id\":\"x\"}") == 0);
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r2\",\"event_id\":\"y\"}") == 0);
    /* same key, other bytes: still the same event by its key */
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r9\",\"event_id\":\"x\"}") == 0);
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r3\"}") == 0);
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r3\"}") == 0);
    /* the same event_id in another tenant is another key */
    CHECK(evs_add(&b, "{\"tenant_id\":\"globex\",\"event_type\":\"RunStarted\",\"run_id\":\"r1\",\"event_id\":\"x\"}") == 0);
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r2\",\"event_id\":\"y\"}") == 0);
    annal_db_result res[7];
    CHECK(annal_db_append(db, b.ev, b.n, res) == ANNAL_OK);
    static const uint64_t seq[7] = {1, 2, 1, 3, 4, 5, 2};
    static const int dup[7] = {0, 0, 1, 0, 0, 0, 1};
    for (int i = 0; i < 7; i++)
        CHECKF(res[i].seq == seq[i] && res[i].duplicate == dup[i], "event %d: seq %llu dup %d", i,
               (unsigned long long)res[i].seq, res[i].duplicate);
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    CHECK(st.durable_seq == 5 && st.appended == 5 && st.duplicates == 2);
    /* a batch of duplicates only appends nothing */
    annal_db_result r2[2];
    CHECK(annal_db_append(db, b.ev, 2, r2) == ANNAL_OK);
    CHECK(r2[0].seq == 1 && r2[0].duplicate && r2[1].seq == 2 && r2[1].duplicate);
    annal_db_stats_get(db, &st);
    CHECK(st.durable_seq == 5);
    CHECK(annal_db_settle(db) == ANNAL_OK);
    uint64_t s;
    CHECK(annal_index_lookup_event_id(annal_db_index(db), "globex", "x", &s) == ANNAL_OK && s == 5);
    /* annal_db_append_log: the log's answer for the new events */
    annal_append_result ar;
    memset(&ar, 0xff, sizeof(ar));
    CHECK(annal_db_append_log(db, b.ev, 2, r2, &ar) == ANNAL_OK && r2[0].duplicate && r2[1].duplicate);
    CHECK(ar.first_seq == 0 && ar.last_seq == 0 && ar.recorded_at_ns == 0);
    CHECK(evs_add(&b, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r4\",\"event_id\":\"z\"}") == 0);
    annal_db_result r3[3];
    CHECK(annal_db_append_log(db, b.ev + 5, 3, r3, &ar) == ANNAL_OK); /* globex x, acme y: duplicates */
    CHECK(r3[0].duplicate && r3[1].duplicate && !r3[2].duplicate && r3[2].seq == 6);
    CHECK(ar.first_seq == 6 && ar.last_seq == 6 && ar.recorded_at_ns > 0);
    char *rec;
    size_t len;
    unsigned char leaf[32];
    CHECK(annal_index_event(annal_db_index(db), "acme", 6, &rec, &len) == ANNAL_OK);
    annal_leaf_hash(rec, len, leaf);
    free(rec);
    annal_log_stats ls;
    annal_log_stats_get(annal_db_log(db), &ls);
    CHECK(!memcmp(leaf, ar.leaf, 32) && ls.durable_seq == 6 && !memcmp(ls.chain, ar.chain, 32));
    CHECK(annal_db_close(db) == ANNAL_OK);
    evs_free(&b);
    /* arguments */
    CHECK(annal_db_append(NULL, NULL, 0, NULL) == ANNAL_EINVAL);
    CHECK(annal_db_open(NULL, NULL, &db, NULL, 0) == ANNAL_EINVAL && !db);
    CHECK(annal_db_close(NULL) == ANNAL_OK);
}

static void a_retry_in_a_later_batch_and_after_a_reopen_gets_the_first_answer(void)
{
    for (int manual = 0; manual < 2; manual++) {
        const char *dir = path(manual ? "retry-m" : "retry-t");
        annal_db *db = open_db(dir, manual, 0);
        CHECK(db);
        evs b = {0};
        char json[EVCAP];
        for (int i = 0; i < 10; i++) {
            tu_event_json(json, sizeof(json), "acme", (unsigned long long)i);
            CHECK(evs_add(&b, json) == 0);
        }
        annal_db_result res[10];
        CHECK(annal_db_append(db, b.ev, 10, res) == ANNAL_OK);
        for (int i = 0; i < 10; i++)
            CHECK(res[i].seq == (uint64_t)i + 1 && !res[i].duplicate);
        /* at once (the key may not be indexed yet), after a settle (it is) */
        for (int round = 0; round < 2; round++) {
            CHECK(annal_db_append(db, b.ev + 3, 4, res) == ANNAL_OK);
            for (int i = 0; i < 4; i++)
                CHECKF(res[i].seq == (uint64_t)i + 4 && res[i].duplicate, "round %d event %d", round, i);
            CHECK(annal_db_settle(db) == ANNAL_OK);
        }
        CHECK(annal_db_close(db) == ANNAL_OK);
        /* A log appended to without the check (annal append --no-index) holds
         * e-10 twice; an annal_db opened on it answers with the first. */
        annal_log *log;
        annal_log_options lo = {.log_fn = quiet_log};
        CHECK(annal_log_open(dir, &lo, &log, NULL, 0) == ANNAL_OK);
        evs c = {0};
        tu_event_json(json, sizeof(json), "acme", 10);
        CHECK(evs_add(&c, json) == 0 && evs_add(&c, json) == 0);
        annal_append_result ar;
        CHECK(annal_log_append(log, c.ev, 2, &ar) == ANNAL_OK && ar.first_seq == 11);
        CHECK(annal_log_close(log) == ANNAL_OK);
        CHECK((db = open_db(dir, manual, 0)) != NULL);
        CHECK(annal_db_append(db, b.ev, 10, res) == ANNAL_OK);
        for (int i = 0; i < 10; i++)
            CHECK(res[i].seq == (uint64_t)i + 1 && res[i].duplicate);
        CHECK(annal_db_append(db, c.ev, 1, res) == ANNAL_OK && res[0].seq == 11 && res[0].duplicate);
        annal_db_stats st;
        annal_db_stats_get(db, &st);
        CHECK(st.durable_seq == 12 && st.appended == 0 && st.duplicates == 11);
        CHECK(annal_db_close(db) == ANNAL_OK);
        evs_free(&b);
        evs_free(&c);
    }
}

/* Several threads append the same events (in other orders and batch cuts)
 * at once: each key is stored once, every answer is the seq it is stored
 * at, and exactly one answer per key says "appended". */
#define RACE_THREADS 4
#define RACE_EVENTS 5000

typedef struct racer {
    annal_db *db;
    uint64_t rng;
    int t;
    uint64_t seq[RACE_EVENTS];
    int dup[RACE_EVENTS];
    int rc;
} racer;

static void *race_main(void *p)
{
    racer *r = p;
    char json[EVCAP];
    evs b = {0};
    for (size_t done = 0; done < RACE_EVENTS && !r->rc;) {
        size_t k = 1 + t_rand(&r->rng) % 40;
        if (k > RACE_EVENTS - done)
            k = RACE_EVENTS - done;
        b.n = 0;
        size_t idx[40];
        for (size_t i = 0; i < k; i++) {
            idx[i] = (done + i + (size_t)r->t * 377) % RACE_EVENTS; /* each thread starts elsewhere */
            tu_event_json(json, sizeof(json), "race", (unsigned long long)idx[i]);
            if (evs_add(&b, json)) {
                r->rc = -1;
                break;
            }
        }
        annal_db_result res[40];
        if (!r->rc && (r->rc = annal_db_append(r->db, b.ev, k, res)) == 0)
            for (size_t i = 0; i < k; i++) {
                r->seq[idx[i]] = res[i].seq;
                r->dup[idx[i]] = res[i].duplicate;
            }
        done += k;
    }
    evs_free(&b);
    return NULL;
}

static void racing_retries_of_the_same_events_are_stored_once(void)
{
    static const struct { int manual; size_t max_unindexed; } cfg[3] = {{0, 0}, {0, 64}, {1, 64}};
    static racer r[RACE_THREADS];
    uint64_t rng = SEED_RACE;
    for (int c = 0; c < 3; c++) {
        char name[32];
        snprintf(name, sizeof(name), "race-%d", c);
        const char *dir = path(name);
        annal_db *db = open_db(dir, cfg[c].manual, cfg[c].max_unindexed);
        CHECK(db);
        pthread_t th[RACE_THREADS];
        for (int t = 0; t < RACE_THREADS; t++) {
            memset(&r[t], 0, sizeof(r[t]));
            r[t].db = db;
            r[t].t = t;
            r[t].rng = t_rand(&rng);
            CHECK(pthread_create(&th[t], NULL, race_main, &r[t]) == 0);
        }
        for (int t = 0; t < RACE_THREADS; t++)
            pthread_join(th[t], NULL);
        for (int t = 0; t < RACE_THREADS; t++)
            CHECKF(r[t].rc == 0, "config %d thread %d: %s", c, t, annal_index_strerror(r[t].rc));
        CHECK(annal_db_settle(db) == ANNAL_OK);
        annal_db_stats st;
        annal_db_stats_get(db, &st);
        CHECKF(st.durable_seq == RACE_EVENTS && st.appended == RACE_EVENTS &&
                   st.duplicates == (RACE_THREADS - 1) * RACE_EVENTS && st.unindexed == 0,
               "config %d: log %llu appended %llu duplicates %llu unindexed %llu", c,
               (unsigned long long)st.durable_seq, (unsigned long long)st.appended,
               (unsigned long long)st.duplicates, (unsigned long long)st.unindexed);
        for (int i = 0; i < RACE_EVENTS; i++) {
            char id[32];
            uint64_t s;
            snprintf(id, sizeof(id), "e-%d", i);
            CHECK(annal_index_lookup_event_id(annal_db_index(db), "race", id, &s) == ANNAL_OK);
            int appended = 0;
            for (int t = 0; t < RACE_THREADS; t++) {
                CHECKF(r[t].seq[i] == s, "config %d: %s: thread %d got seq %llu, stored at %llu", c, id, t,
                       (unsigned long long)r[t].seq[i], (unsigned long long)s);
                appended += !r[t].dup[i];
            }
            CHECKF(appended == 1, "config %d: %s appended by %d threads", c, id, appended);
        }
        CHECK(annal_db_close(db) == ANNAL_OK);
        lrec *l;
        size_t n;
        char why[256];
        CHECK(scan_log(dir, &l, &n) == 0 && n == RACE_EVENTS);
        int ok = ids_unique(l, n, why, sizeof(why)) == 0;
        free(l);
        CHECKF(ok, "%s", why);
    }
}

/* ---------------------------------------------------------------- read-your-writes */

#define RYW_EVENTS 600

typedef struct ryw {
    annal_db *db;
    _Atomic uint64_t published; /* events acknowledged so far */
    _Atomic uint64_t consumed;  /* events the reader has queried so far */
    uint64_t seq[RYW_EVENTS];
    int rc;
} ryw;

static void *ryw_writer(void *p)
{
    ryw *w = p;
    char json[EVCAP], buf[EVCAP];
    for (int i = 0; i < RYW_EVENTS && !w->rc; i++) {
        snprintf(json, sizeof(json),
                 "{\"tenant_id\":\"ryw\",\"event_type\":\"RunStarted\",\"event_id\":\"w-%d\",\"run_id\":\"run-%d\","
                 "\"occurred_at\":\"2026-04-01T00:00:00Z\"}", i, i);
        annal_event ev;
        annal_db_result res;
        if ((w->rc = tu_event(json, buf, sizeof(buf), &ev)) || (w->rc = annal_db_append(w->db, &ev, 1, &res)))
            break;
        w->seq[i] = res.seq;
        atomic_store(&w->published, (uint64_t)i + 1); /* the acknowledgement */
        /* in lockstep, so that every acknowledgement is queried right
         * after it (the indexer and a stream of other appends run on) */
        while (atomic_load(&w->consumed) < (uint64_t)i + 1)
            usleep(20);
    }
    atomic_store(&w->published, UINT64_MAX);
    return NULL;
}

/* Meanwhile, a stream of budget events whose rules keep firing: each
 * settle must end all the same (it settles what was durable when it
 * began). */
typedef struct streamer {
    annal_db *db;
    ryw *w;
    uint64_t n;
    int rc;
} streamer;

static void *budget_stream(void *p)
{
    streamer *st = p;
    char json[EVCAP];
    evs b = {0};
    annal_db_result res[20];
    while (atomic_load(&st->w->published) != UINT64_MAX && !st->rc && st->n < 4000) {
        b.n = 0;
        for (int i = 0; i < 20; i++) {
            budget_event(json, sizeof(json), st->n + (uint64_t)i);
            if (evs_add(&b, json))
                st->rc = -1;
        }
        if (!st->rc && !(st->rc = annal_db_append(st->db, b.ev, 20, res)))
            st->n += 20;
        usleep(1000); /* a steady stream (4000 events at most), not a flood */
    }
    evs_free(&b);
    return NULL;
}

static void an_acknowledged_append_is_seen_by_a_query_in_another_thread_right_after(void)
{
    const char *dir = path("ryw");
    static ryw w;
    memset(&w, 0, sizeof(w));
    CHECK((w.db = open_db(dir, 0, 0)) != NULL);
    pthread_t th, th2;
    streamer bs = {.db = w.db, .w = &w};
    CHECK(pthread_create(&th, NULL, ryw_writer, &w) == 0);
    CHECK(pthread_create(&th2, NULL, budget_stream, &bs) == 0);
    uint64_t seen = 0, checked = 0, missed = 0;
    int rc = 0;
    char first_miss[128] = "";
    for (;;) {
        uint64_t p = atomic_load(&w.published);
        if (p == UINT64_MAX)
            break;
        if (p == seen) {
            sched_yield();
            continue;
        }
        seen = p;
        /* a query that starts after the acknowledgement of event p-1 */
        if ((rc = annal_db_settle(w.db))) {
            atomic_store(&w.consumed, UINT64_MAX - 1); /* let the writer finish */
            break;
        }
        char id[32], run[32];
        snprintf(id, sizeof(id), "w-%llu", (unsigned long long)(p - 1));
        snprintf(run, sizeof(run), "run-%llu", (unsigned long long)(p - 1));
        uint64_t s = 0;
        int lrc = annal_index_lookup_event_id(annal_db_index(w.db), "ryw", id, &s);
        annal_index_page page;
        int prc = annal_index_run(annal_db_index(w.db), "ryw", run, 0, NULL, &page);
        int ok = lrc == ANNAL_OK && s == w.seq[p - 1] && prc == ANNAL_OK && page.n == 1 && page.items[0].seq == s;
        if (prc == ANNAL_OK)
            annal_index_page_free(&page);
        if (!ok && !missed++)
            snprintf(first_miss, sizeof(first_miss), "%s: lookup %d seq %llu (acked %llu), run page %d", id, lrc,
                     (unsigned long long)s, (unsigned long long)w.seq[p - 1], prc);
        checked++;
        atomic_store(&w.consumed, p);
    }
    pthread_join(th, NULL);
    pthread_join(th2, NULL);
    CHECKF(w.rc == 0, "writer: %s", annal_index_strerror(w.rc));
    CHECKF(bs.rc == 0, "budget stream: %s", annal_index_strerror(bs.rc));
    CHECKF(rc == 0, "settle: %s", annal_index_strerror(rc));
    CHECKF(missed == 0, "%llu of %llu queries missed an acknowledged event; first: %s", (unsigned long long)missed,
           (unsigned long long)checked, first_miss);
    CHECK(checked == RYW_EVENTS);
    /* and the last one, after the writer is done */
    CHECK(annal_db_settle(w.db) == ANNAL_OK);
    uint64_t s;
    CHECK(annal_index_lookup_event_id(annal_db_index(w.db), "ryw", "w-599", &s) == ANNAL_OK && s == w.seq[599]);
    char why[512];
    int ok = check_settled(w.db, dir, why, sizeof(why)) == 0;
    annal_db_stats st;
    annal_db_stats_get(w.db, &st);
    CHECK(annal_db_close(w.db) == ANNAL_OK);
    CHECKF(ok, "%s", why);
    uint64_t clients;
    CHECKF(check_budget_store(dir, NULL, 0, &clients, why, sizeof(why)) == 0, "%s", why);
    CHECK(clients == bs.n);
    printf("test_db: read-your-writes: %llu queries right after an acknowledgement, none missed it (meanwhile "
           "%llu budget events, %llu derived, %llu settles)\n",
           (unsigned long long)checked, (unsigned long long)bs.n, (unsigned long long)st.derived,
           (unsigned long long)st.settles);
}

/* ---------------------------------------------------------------- rules */

static void the_rules_settle_and_each_derived_event_lands_once(void)
{
    const char *dir = path("rules");
    annal_db *db = open_db(dir, 1, 0);
    CHECK(db);
    /* two full days and a bit of the budget workload, in batches of 37 */
    enum { N = 2 * PER_DAY + 12 };
    char json[EVCAP];
    evs b = {0};
    annal_db_result res[37];
    uint64_t acked[N] = {0};
    for (uint64_t n = 0; n < N;) {
        b.n = 0;
        uint64_t k = N - n < 37 ? N - n : 37;
        for (uint64_t i = 0; i < k; i++) {
            budget_event(json, sizeof(json), n + i);
            CHECK(evs_add(&b, json) == 0);
        }
        CHECK(annal_db_append(db, b.ev, k, res) == ANNAL_OK);
        for (uint64_t i = 0; i < k; i++)
            acked[n + i] = res[i].seq;
        n += k;
    }
    /* nothing derived yet: manual settle, and nothing indexed */
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    CHECK(st.durable_seq == N && st.derived == 0);
    char why[512];
    CHECKF(check_settled(db, dir, why, sizeof(why)) == 0, "%s", why);
    annal_db_stats_get(db, &st);
    /* day 1 and 2: warning, breach, anomaly, incident, proposal = 5 each;
     * RunFailed at n = 23, 46, 69 and 92 -> 4 incidents (92 is beyond N) */
    CHECKF(st.derived == 2 * 5 + 3, "derived %llu", (unsigned long long)st.derived);
    CHECK(st.durable_seq == N + st.derived);
    uint64_t clients;
    CHECKF(check_budget_store(dir, acked, N, &clients, why, sizeof(why)) == 0, "%s", why);
    CHECK(clients == N);
    /* the views agree */
    annal_limit_spend sp;
    CHECK(annal_view_limit_spend(annal_db_index(db), "bt", "lim-1", T0_NS + DAY_NS / 2, &sp) == ANNAL_OK);
    CHECKF((sp.flags & (ANNAL_SPEND_WARNED | ANNAL_SPEND_ESCALATED)) == (ANNAL_SPEND_WARNED | ANNAL_SPEND_ESCALATED),
           "flags %u cents %lld", sp.flags, (long long)sp.cents);
    annal_run_view rv;
    CHECK(annal_view_run(annal_db_index(db), "bt", "f-23", &rv) == ANNAL_OK && rv.status == ANNAL_RUN_FAILED &&
          rv.incident_derived && rv.incidents == 1);
    /* a retried batch changes nothing, reopening changes nothing */
    b.n = 0;
    for (uint64_t i = 0; i < 30; i++) {
        budget_event(json, sizeof(json), 40 + i);
        CHECK(evs_add(&b, json) == 0);
    }
    CHECK(annal_db_append(db, b.ev, 30, res) == ANNAL_OK);
    for (int i = 0; i < 30; i++)
        CHECK(res[i].duplicate && res[i].seq == acked[40 + i]);
    CHECK(annal_db_settle(db) == ANNAL_OK);
    uint64_t before = st.durable_seq;
    CHECK(annal_db_close(db) == ANNAL_OK);
    CHECK((db = open_db(dir, 0, 0)) != NULL);
    annal_db_stats_get(db, &st);
    CHECK(st.durable_seq == before && st.derived == 0);
    CHECKF(check_settled(db, dir, why, sizeof(why)) == 0, "%s", why);
    CHECK(annal_db_close(db) == ANNAL_OK);
    evs_free(&b);
}

/* Derived events left pending by a writer that stopped before appending
 * them (annal append --no-index: indexed elsewhere, rules never run) are
 * appended by the next annal_db_open. */
static void derived_events_left_pending_are_appended_by_the_next_open(void)
{
    const char *dir = path("left");
    annal_log *log;
    annal_log_options lo = {.log_fn = quiet_log};
    CHECK(annal_log_open(dir, &lo, &log, NULL, 0) == ANNAL_OK);
    evs b = {0};
    char json[EVCAP];
    for (uint64_t n = 0; n < PER_DAY + 1; n++) {
        budget_event(json, sizeof(json), n);
        CHECK(evs_add(&b, json) == 0);
    }
    annal_append_result ar;
    CHECK(annal_log_append(log, b.ev, b.n, &ar) == ANNAL_OK);
    CHECK(annal_log_close(log) == ANNAL_OK);
    /* a reader indexes it: the rules decide, nobody appends */
    annal_index *ix;
    CHECK(annal_index_open(dir, NULL, &ix, NULL, 0) == ANNAL_OK);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_OK);
    size_t pending = 0;
    CHECK(annal_index_pending(ix, count_pending, &pending, NULL) == ANNAL_OK);
    annal_index_close(ix);
    CHECKF(pending >= 4, "%zu pending", pending);
    annal_db *db = open_db(dir, 1, 0);
    CHECK(db);
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    CHECKF(st.derived >= pending, "derived %llu, pending were %zu", (unsigned long long)st.derived, pending);
    char why[512];
    CHECKF(check_settled(db, dir, why, sizeof(why)) == 0, "%s", why);
    CHECK(annal_db_close(db) == ANNAL_OK);
    uint64_t clients;
    CHECKF(check_budget_store(dir, NULL, 0, &clients, why, sizeof(why)) == 0, "%s", why);
    CHECK(clients == PER_DAY + 1);
    evs_free(&b);
}

static void a_tiny_map_grows_and_ingest_goes_on(void)
{
    const char *dir = path("tiny");
    annal_db_options o = {.log = {.log_fn = quiet_log}, .index = {.map_size = 32 << 10}};
    annal_db *db;
    char err[512];
    CHECK(annal_db_open(dir, &o, &db, err, sizeof(err)) == ANNAL_OK);
    annal_index_stats is;
    CHECK(annal_index_stats_get(annal_db_index(db), &is) == ANNAL_OK && is.map_size == 32 << 10);
    enum { N = 4000 };
    char json[EVCAP];
    evs b = {0};
    annal_db_result res[100];
    for (uint64_t n = 0; n < N; n += 100) {
        b.n = 0;
        for (uint64_t i = 0; i < 100; i++) {
            budget_event(json, sizeof(json), n + i);
            CHECK(evs_add(&b, json) == 0);
        }
        CHECK(annal_db_append(db, b.ev, 100, res) == ANNAL_OK);
    }
    char why[512];
    CHECKF(check_settled(db, dir, why, sizeof(why)) == 0, "%s", why);
    CHECK(annal_index_stats_get(annal_db_index(db), &is) == ANNAL_OK);
    CHECKF(is.map_size > (32u << 10) && is.map_used <= is.map_size, "map %llu used %llu",
           (unsigned long long)is.map_size, (unsigned long long)is.map_used);
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    CHECK(annal_db_close(db) == ANNAL_OK);
    uint64_t clients;
    CHECKF(check_budget_store(dir, NULL, 0, &clients, why, sizeof(why)) == 0, "%s", why);
    CHECK(clients == N);
    printf("test_db: tiny map: 32 KiB grew to %llu KiB over %llu events (%llu derived)\n",
           (unsigned long long)is.map_size >> 10, (unsigned long long)st.durable_seq, (unsigned long long)st.derived);
    evs_free(&b);
}

/* ---------------------------------------------------------------- annal append */

static void annal_append_indexes_runs_the_rules_and_skips_duplicates(void)
{
    char file[4096];
    snprintf(file, sizeof(file), "%s/cli.ndjson", root);
    FILE *f = fopen(file, "w");
    CHECK(f);
    char json[EVCAP];
    for (uint64_t n = 0; n < PER_DAY; n++) {
        budget_event(json, sizeof(json), n);
        fprintf(f, "%s\n", json);
    }
    fclose(f);
    const char *d1 = path("cli1"), *d2 = path("cli2");
    char *out;
    CHECK(tu_run(&out, "%s append --data %s %s 2>&1", tu_annal(), d1, file) == 0);
    CHECKF(strstr(out, "appended 40 events\nfirst_seq 1\nlast_seq 40\n") && strstr(out, "derived ") &&
               !strstr(out, "duplicates"), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s append --data %s %s 2>&1", tu_annal(), d1, file) == 0);
    CHECKF(strstr(out, "appended 0 events\n") && strstr(out, "duplicates 40 ") && !strstr(out, "first_seq") &&
               !strstr(out, "derived"), "%s", out);
    free(out);
    char why[512];
    uint64_t clients;
    CHECKF(check_budget_store(d1, NULL, 0, &clients, why, sizeof(why)) == 0 && clients == 40, "%s", why);
    /* the chain head it prints is the log's, derived events included */
    char *a, *v;
    CHECK(tu_run(&a, "%s append --data %s %s", tu_annal(), d1, file) == 0);
    CHECK(tu_run(&v, "%s verify --data %s", tu_annal(), d1) == 0);
    const char *ha = strstr(a, "chain_head "), *hv = strstr(v, "chain_head ");
    CHECKF(ha && hv && !strncmp(ha, hv, 11 + 64), "%s / %s", a, v);
    free(a);
    free(v);

    /* --no-index: the log alone, as before */
    CHECK(tu_run(&out, "%s append --data %s --no-index %s 2>&1", tu_annal(), d2, file) == 0);
    CHECKF(strstr(out, "appended 40 events\nfirst_seq 1\nlast_seq 40\n"), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s append --data %s --no-index --quiet %s 2>&1", tu_annal(), d2, file) == 0);
    free(out);
    CHECK(tu_run(NULL, "test -e %s/index", d2) != 0);
    CHECK(tu_run(&out, "%s verify --data %s", tu_annal(), d2) == 0 && strstr(out, "ok: 80 events"));
    free(out);
    /* then an indexed append catches the index up, runs the rules, and
     * knows every event_id */
    CHECK(tu_run(&out, "%s append --data %s %s 2>&1", tu_annal(), d2, file) == 0);
    CHECKF(strstr(out, "appended 0 events\n") && strstr(out, "duplicates 40 ") && strstr(out, "derived "), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s append --help", tu_annal()) == 0 && strstr(out, "--no-index"));
    free(out);
    unlink(file);
}

/* ---------------------------------------------------------------- crash */

#define ROUNDS 20

/* One report from the child: one write of < PIPE_BUF bytes (atomic). */
typedef struct report {
    uint32_t kind;   /* REP_* */
    uint32_t dup;
    uint64_t n;      /* event number */
    uint64_t seq;    /* its seq (first seq for a duplicate), or an error code */
} report;
enum { REP_READY = 1, REP_ACK, REP_ERROR };

static void send_report(int fd, uint32_t kind, uint64_t n, uint64_t seq, uint32_t dup)
{
    report r = {.kind = kind, .dup = dup, .n = n, .seq = seq};
    ssize_t w;
    do
        w = write(fd, &r, sizeof(r));
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof(r))
        _exit(5);
}

static _Atomic int child_stop;

static void *child_query(void *p)
{
    annal_db *db = p;
    while (!atomic_load(&child_stop)) {
        annal_db_settle(db); /* errors show in the appender's results */
        annal_tenant_view tv;
        annal_view_tenant(annal_db_index(db), "bt", &tv);
        usleep(300);
    }
    return NULL;
}

/* The child: opens the store (catching up and settling what the last kill
 * left), then appends the workload from event start_n on (the first events
 * may have been acknowledged before: they must come back as duplicates),
 * until killed. mode 0: indexer + a query thread; 1: indexer only; 2: no
 * indexing while it runs (the next open has it all to do). */
static void crash_child(const char *dir, int wfd, uint64_t start_n, uint64_t rng, int mode)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static const size_t txn[] = {0, 16, 200};
    static const size_t maps[] = {0, 0, 256 << 10};
    annal_db_options o = {
        .log = {.log_fn = quiet_log, .segment_bytes = 65536, .block_bytes = (t_rand(&rng) & 1) ? 4096 : 0},
        .index = {.txn_records = txn[t_rand(&rng) % 3], .map_size = maps[t_rand(&rng) % 3],
                  .threads = (int)(t_rand(&rng) % 2)},
        .manual_settle = mode == 2,
        .max_unindexed = mode == 2 ? 1u << 30 : 0,
    };
    annal_db *db;
    char err[512];
    int rc = annal_db_open(dir, &o, &db, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "crash child: annal_db_open: %s\n", err);
        send_report(wfd, REP_ERROR, 0, (uint64_t)(int64_t)rc, 0);
        _exit(3);
    }
    send_report(wfd, REP_READY, 0, 0, 0);
    pthread_t th;
    if (mode == 0 && pthread_create(&th, NULL, child_query, db))
        _exit(6);
    evs b = {0};
    char json[EVCAP];
    annal_db_result res[64];
    for (uint64_t n = start_n;;) {
        size_t k = 1 + t_rand(&rng) % 64;
        b.n = 0;
        for (size_t i = 0; i < k; i++) {
            budget_event(json, sizeof(json), n + i);
            if (evs_add(&b, json))
                _exit(4);
        }
        if ((rc = annal_db_append(db, b.ev, k, res))) {
            fprintf(stderr, "crash child: annal_db_append: %s\n", annal_index_strerror(rc));
            send_report(wfd, REP_ERROR, n, (uint64_t)(int64_t)rc, 0);
            _exit(4);
        }
        for (size_t i = 0; i < k; i++)
            send_report(wfd, REP_ACK, n + i, res[i].seq, (uint32_t)res[i].duplicate);
        n += k;
    }
}

typedef struct rbuf {
    unsigned char *p;
    size_t n, cap;
} rbuf;

/* Read what is available on fd (non-blocking); 1 at EOF. */
static int read_some(int fd, rbuf *b)
{
    for (;;) {
        if (b->cap - b->n < 65536) {
            b->cap = b->cap ? b->cap * 2 : 1 << 20;
            b->p = realloc(b->p, b->cap);
        }
        ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
        if (r > 0) {
            b->n += (size_t)r;
            continue;
        }
        if (r == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return 0;
    }
}

/* Pump fd until the deadline, or until a report of kind `until` came. */
static int pump(int fd, rbuf *b, double deadline, uint32_t until)
{
    for (;;) {
        if (read_some(fd, b))
            return 1;
        if (until)
            for (size_t i = 0; i + sizeof(report) <= b->n; i += sizeof(report)) {
                report r;
                memcpy(&r, b->p + i, sizeof(r));
                if (r.kind == until || r.kind == REP_ERROR)
                    return 0;
            }
        double left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, left < 1 ? 1 : (int)left);
    }
}

static void kill_9_during_indexing_and_rules_loses_nothing_and_duplicates_nothing(void)
{
    const char *dir = path("crash");
    uint64_t rng = SEED_CRASH;
    uint64_t cap = 1 << 16, acked_end = 0, resent = 0, dups_after_kill = 0;
    uint64_t *acked = calloc(cap, sizeof(*acked)); /* acked[n]: seq of c-n, 0: not acknowledged */
    int killed_in_open = 0, killed = 0, left_lag = 0, left_pending = 0;
    uint64_t derived_total = 0;
    rbuf b = {0};
    double t0 = mono_ms();
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
        uint64_t child_rng = t_rand(&rng);
        int mode = (int)(t_rand(&rng) % 3);
        /* resend some acknowledged events: the retries of a client that
         * did not see the answers */
        uint64_t back = t_rand(&rng) % 40;
        uint64_t start = acked_end > back ? acked_end - back : 0;
        resent += acked_end - start;
        /* one round in four kills while the child opens (catch-up and
         * settle of what the last round left); the others 5..80 ms into
         * appending, while the indexer and the rules run */
        int early = t_rand(&rng) % 4 == 0;
        double delay = early ? (double)(t_rand(&rng) % 40) : 5.0 + (double)(t_rand(&rng) % 75);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, fds[1], start, child_rng, mode);
        }
        close(fds[1]);
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        b.n = 0;
        int eof = 0;
        if (!early)
            eof = pump(fds[0], &b, mono_ms() + 60000, REP_READY);
        if (!eof)
            eof = pump(fds[0], &b, mono_ms() + delay, 0);
        kill(pid, SIGKILL);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        fcntl(fds[0], F_SETFL, 0);
        while (!read_some(fds[0], &b))
            ;
        close(fds[0]);
        CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "round %d: the child ended with status 0x%x",
               round, status);
        killed++;
        int ready = 0;
        for (size_t i = 0; i + sizeof(report) <= b.n; i += sizeof(report)) {
            report r;
            memcpy(&r, b.p + i, sizeof(r));
            CHECKF(r.kind != REP_ERROR, "round %d: the child failed: %s", round,
                   annal_index_strerror((int)(int64_t)r.seq));
            if (r.kind == REP_READY) {
                ready = 1;
                continue;
            }
            CHECK(r.kind == REP_ACK && r.seq);
            while (r.n >= cap) {
                acked = realloc(acked, 2 * cap * sizeof(*acked));
                memset(acked + cap, 0, cap * sizeof(*acked));
                cap *= 2;
            }
            if (acked[r.n]) { /* a retry of an acknowledged event: the first answer */
                CHECKF(r.dup && r.seq == acked[r.n], "round %d: c-%llu acknowledged at %llu, its retry got %llu (dup %u)",
                       round, (unsigned long long)r.n, (unsigned long long)acked[r.n], (unsigned long long)r.seq,
                       r.dup);
            } else {
                acked[r.n] = r.seq;
                dups_after_kill += r.dup; /* in the log before the kill, never acknowledged */
            }
        }
        killed_in_open += !ready;
        while (acked_end < cap && acked[acked_end])
            acked_end++;

        /* Reopen (catch-up and settle of what the kill left) and check,
         * on a copy of the directory as the kill left it: the store itself
         * keeps the unfinished work for the next child's open. */
        char check[4096];
        snprintf(check, sizeof(check), "%s.check", dir);
        tu_rmtree(check);
        CHECK(tu_run(NULL, "cp -a --sparse=always %s %s", dir, check) == 0);
        /* What the kill interrupted: the index behind the log (a catch-up
         * to do), derived events decided but not in the log (rules). */
        annal_index *ix;
        if (annal_index_open(check, NULL, &ix, NULL, 0) == ANNAL_OK) {
            annal_index_stats is;
            size_t pending = 0;
            if (annal_index_stats_get(ix, &is) == ANNAL_OK && is.applied_seq < is.log_last_seq)
                left_lag++;
            if (annal_index_pending(ix, count_pending, &pending, NULL) == ANNAL_OK && pending)
                left_pending++;
            annal_index_close(ix);
        }
        annal_db *db = open_db(check, 1, 0);
        CHECKF(db, "round %d: reopening failed", round);
        char why[512];
        int ok = check_settled(db, check, why, sizeof(why)) == 0;
        annal_db_stats st;
        annal_db_stats_get(db, &st);
        CHECK(annal_db_close(db) == ANNAL_OK);
        CHECKF(ok, "round %d: %s", round, why);
        uint64_t clients = 0;
        CHECKF(check_budget_store(check, acked, cap, &clients, why, sizeof(why)) == 0, "round %d: %s", round, why);
        CHECKF(clients >= acked_end, "round %d", round);
        tu_rmtree(check);
        derived_total = st.durable_seq - clients;
    }
    /* and the store itself, reopened after the last kill */
    annal_db *db = open_db(dir, 0, 0);
    CHECK(db);
    char why[512];
    int ok = check_settled(db, dir, why, sizeof(why)) == 0;
    CHECK(annal_db_close(db) == ANNAL_OK);
    CHECKF(ok, "%s", why);
    uint64_t clients = 0;
    CHECKF(check_budget_store(dir, acked, cap, &clients, why, sizeof(why)) == 0, "%s", why);
    printf("test_db: %d kills (%d while opening; %d left the index behind the log, %d left derived events "
           "pending), %llu events acknowledged, %llu acknowledged events resent (all answered as duplicates), "
           "%llu unacknowledged events found in the log on retry, %llu derived events, each once, %.1f s\n",
           killed, killed_in_open, left_lag, left_pending, (unsigned long long)acked_end, (unsigned long long)resent,
           (unsigned long long)dups_after_kill, (unsigned long long)derived_total, (mono_ms() - t0) / 1e3);
    CHECKF(acked_end > 10 * PER_DAY, "only %llu events acknowledged in %d rounds", (unsigned long long)acked_end,
           ROUNDS);
    free(acked);
    free(b.p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    root = tu_tmpdir("db");
    T_RUN(a_repeated_event_id_in_one_batch_is_stored_once_and_answered_with_the_first_seq);
    T_RUN(a_retry_in_a_later_batch_and_after_a_reopen_gets_the_first_answer);
    T_RUN(racing_retries_of_the_same_events_are_stored_once);
    T_RUN(an_acknowledged_append_is_seen_by_a_query_in_another_thread_right_after);
    T_RUN(the_rules_settle_and_each_derived_event_lands_once);
    T_RUN(derived_events_left_pending_are_appended_by_the_next_open);
    T_RUN(a_tiny_map_grows_and_ingest_goes_on);
    T_RUN(annal_append_indexes_runs_the_rules_and_skips_duplicates);
    T_RUN(kill_9_during_indexing_and_rules_loses_nothing_and_duplicates_nothing);
    int rc = t_done();
    if (rc == 0)
        tu_rmtree(root);
    free(root);
    return rc;
}
