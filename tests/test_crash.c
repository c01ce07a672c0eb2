/* Crash safety by SIGKILL: a child process appends from several threads and
 * reports every acknowledged event (seq + leaf hash of its exact record
 * bytes) to the parent over a pipe; the parent kills it at a random moment
 * (mid-block, mid-roll, mid-seal, mid-recovery), then checks that the log
 * reopens, that every acknowledged event is there byte for byte, and that
 * the whole log verifies. The next child continues on the same store, so the
 * chain runs across all the kills. One round in four also simulates a power
 * cut on top of the kill (the unacknowledged tail of the last segment cut at
 * a random byte, or zeros or half a block header after it), so that
 * recovery's cutting of torn tails is exercised too: a SIGKILL alone almost
 * never tears a write. A second test kills `annal append`.
 * The seeds are fixed; the moments the kills land depend on timing. */
#include "t.h"
#include "util.h"

#include "store/hash.h"
#include "store/log.h"
#include "store/reader.h"
#include "store/segdir.h"
#include "store/segment.h"
#include "store/verify.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <time.h>

#define ROUNDS 60
#define SEED_CRASH 0xC0A5C0A5ull
#define SEED_CLI 0x5EEDC11ull

/* One report from the child: one fixed-size write (< PIPE_BUF, so atomic
 * even with several threads writing and a SIGKILL at any moment). */
typedef struct report {
    uint64_t seq;             /* REP_READY, REP_ERROR, or an acknowledged seq */
    unsigned char leaf[32];   /* leaf hash of the record of seq */
} report;
#define REP_READY 0
#define REP_ERROR UINT64_MAX

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void quiet_log(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

/* ---- the child ---- */

typedef struct cthr {
    annal_log *log;
    int wfd;
    uint64_t rng;
    unsigned long long base; /* event numbers base + 0, 1, ...: unique ids */
    double deadline;
} cthr;

static void send_report(int fd, uint64_t seq, const unsigned char *leaf)
{
    report r;
    memset(&r, 0, sizeof(r));
    r.seq = seq;
    if (leaf)
        memcpy(r.leaf, leaf, 32);
    ssize_t w;
    do
        w = write(fd, &r, sizeof(r));
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof(r))
        _exit(5);
}

static void send_error(int fd, int code, const char *what)
{
    unsigned char leaf[32] = {0};
    snprintf((char *)leaf, sizeof(leaf), "%d", code);
    fprintf(stderr, "crash child: %s (%d)\n", what, code);
    send_report(fd, REP_ERROR, leaf);
}

#define MAXB 50
#define EVCAP 1024

static void *child_appender(void *p)
{
    cthr *a = p;
    char json[EVCAP];
    char *bufs = malloc((size_t)MAXB * EVCAP);
    annal_event *evs = calloc(MAXB, sizeof(*evs));
    char rec[EVCAP + ANNAL_RECORD_OVERHEAD];
    unsigned long long n = 0;
    while (mono_ms() < a->deadline) {
        size_t k = (t_rand(&a->rng) & 1) ? 1 : 1 + (size_t)(t_rand(&a->rng) % MAXB);
        for (size_t i = 0; i < k; i++) {
            tu_event_json(json, sizeof(json), "crash", a->base + n++);
            if (tu_event(json, bufs + i * EVCAP, EVCAP, &evs[i])) {
                send_error(a->wfd, -1, "event does not parse");
                _exit(4);
            }
        }
        annal_append_result res;
        int rc = annal_log_append(a->log, evs, k, &res);
        if (rc) {
            send_error(a->wfd, rc, "annal_log_append failed");
            _exit(4);
        }
        if (res.last_seq - res.first_seq + 1 != k) {
            send_error(a->wfd, 0, "batch got the wrong number of seqs");
            _exit(4);
        }
        unsigned char leaf[32];
        for (size_t i = 0; i < k; i++) {
            size_t len = annal_record_build(&evs[i], res.first_seq + i, res.recorded_at_ns, rec, sizeof(rec));
            if (!len) {
                send_error(a->wfd, 0, "annal_record_build failed");
                _exit(4);
            }
            annal_leaf_hash(rec, len, leaf);
            send_report(a->wfd, res.first_seq + i, leaf);
        }
        if (memcmp(leaf, res.leaf, 32) != 0) {
            send_error(a->wfd, 0, "the rebuilt record's leaf differs from the append result's");
            _exit(4);
        }
    }
    free(bufs);
    free(evs);
    return NULL;
}

static void child_main(const char *dir, int wfd, int round, uint64_t rng)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static const uint64_t seg_sizes[] = {65536, 65536, 16384};
    static const size_t block_sizes[] = {0, 0, 1024, 4096};
    annal_log_options o = {
        .segment_bytes = seg_sizes[t_rand(&rng) % 3],
        .block_bytes = block_sizes[t_rand(&rng) % 4],
        .log_fn = quiet_log,
    };
    annal_log *log;
    char err[512];
    int rc = annal_log_open(dir, &o, &log, err, sizeof(err));
    if (rc) {
        send_error(wfd, rc, err);
        _exit(3);
    }
    send_report(wfd, REP_READY, NULL);
    int nth = 3 + (int)(t_rand(&rng) & 1);
    cthr a[4];
    pthread_t th[4];
    double deadline = mono_ms() + 5000; /* the parent kills us long before */
    for (int i = 0; i < nth; i++) {
        a[i] = (cthr){.log = log, .wfd = wfd, .rng = t_rand(&rng), .deadline = deadline,
                      .base = (unsigned long long)round * 100000000ull + (unsigned long long)i * 10000000ull};
        if (pthread_create(&th[i], NULL, child_appender, &a[i]) != 0)
            _exit(6);
    }
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    annal_log_close(log);
    _exit(0);
}

/* ---- the parent ---- */

typedef struct acked_set {
    unsigned char (*leaf)[32];
    unsigned char *set;
    uint64_t cap, max, total;
} acked_set;

/* Record reports buf[0..n); returns 0, or -1 with why set. */
static int take_reports(acked_set *s, const unsigned char *buf, size_t n, int *ready, char *why, size_t whylen)
{
    if (n % sizeof(report)) {
        snprintf(why, whylen, "the pipe held %zu bytes, not whole reports", n);
        return -1;
    }
    for (size_t i = 0; i < n; i += sizeof(report)) {
        report r;
        memcpy(&r, buf + i, sizeof(r));
        if (r.seq == REP_READY) {
            *ready = 1;
            continue;
        }
        if (r.seq == REP_ERROR) {
            snprintf(why, whylen, "the child reported an error (code %.31s)", (const char *)r.leaf);
            return -1;
        }
        if (r.seq >= s->cap) {
            uint64_t nc = s->cap ? s->cap : 4096;
            while (nc <= r.seq)
                nc *= 2;
            s->leaf = realloc(s->leaf, nc * 32);
            s->set = realloc(s->set, nc);
            memset(s->set + s->cap, 0, nc - s->cap);
            s->cap = nc;
        }
        if (s->set[r.seq]) {
            /* Acknowledged twice: a seq was given out again after a crash,
             * which means an acknowledged event was lost. */
            snprintf(why, whylen, "seq %llu was acknowledged twice", (unsigned long long)r.seq);
            return -1;
        }
        s->set[r.seq] = 1;
        memcpy(s->leaf[r.seq], r.leaf, 32);
        s->total++;
        if (r.seq > s->max)
            s->max = r.seq;
    }
    return 0;
}

typedef struct rbuf {
    unsigned char *p;
    size_t n, cap;
} rbuf;

/* Read what is available on fd (non-blocking); 1 at EOF, 0 otherwise. */
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
        return 0; /* EAGAIN */
    }
}

/* Poll-read fd until the deadline (ms, monotonic) or until `until` reports
 * have arrived (0: no such limit; the first report is READY or an error).
 * Returns 1 at EOF. */
static int pump(int fd, rbuf *b, double deadline, size_t until)
{
    for (;;) {
        if (read_some(fd, b))
            return 1;
        if (until && b->n >= until * sizeof(report))
            return 0;
        double left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, left < 1 ? 1 : (int)left);
    }
}

static int recovery_lines;
static void count_recovery(void *ctx, const char *line)
{
    (void)ctx;
    if (strstr(line, "recovery:"))
        recovery_lines++;
}

/*
 * On top of the kill, simulate what a power cut could leave in the last
 * segment beyond the last block anyone may rely on (the one holding
 * keep_seq): its unsynced tail cut at a random byte, or, after the last
 * block, zeros (a file extended but never written) or the start of a block
 * header. Returns 1 if it changed the file (*what says how), 0 if not.
 */
static int power_cut(const char *dir, uint64_t keep_seq, uint64_t *rng, const char **what)
{
    uint64_t *segs;
    size_t n;
    if (annal_segdir_list(dir, &segs, &n) || !n)
        return 0;
    uint64_t first = segs[n - 1];
    free(segs);
    unsigned char *buf;
    size_t len;
    if (annal_segdir_read(dir, first, &buf, &len))
        return 0;
    uint64_t off = ANNAL_SEG_HEADER_SIZE, keep = ANNAL_SEG_HEADER_SIZE;
    int sealed = 0;
    while (off < len) {
        if (len - off >= 12 && !memcmp(buf + off + 8, "ANSF", 4)) {
            sealed = 1;
            break;
        }
        annal_block_header bh;
        const char *why;
        if (annal_block_header_decode(buf + off, len - off, &bh, &why) ||
            off + ANNAL_BLOCK_HEADER_SIZE + bh.frame_len > len)
            break;
        off += ANNAL_BLOCK_HEADER_SIZE + bh.frame_len;
        if (bh.first_seq <= keep_seq)
            keep = off;
    }
    char path[4096];
    annal_segdir_path(dir, first, path, sizeof(path));
    int done = 0;
    if (len > keep && (sealed || (t_rand(rng) & 1))) {
        done = truncate(path, (off_t)(keep + t_rand(rng) % (len - keep))) == 0;
        *what = "cut";
    } else if (!sealed && off == len) {
        unsigned char tail[4096] = {0};
        size_t k;
        if ((t_rand(rng) & 1) || len < ANNAL_SEG_HEADER_SIZE + ANNAL_BLOCK_HEADER_SIZE) {
            k = 1 + t_rand(rng) % sizeof(tail);
            *what = "zeros";
        } else { /* a block header that never got its last bytes */
            k = 1 + t_rand(rng) % (ANNAL_BLOCK_HEADER_SIZE - 1);
            memcpy(tail, buf + ANNAL_SEG_HEADER_SIZE, k);
            *what = "partial header";
        }
        int fd = open(path, O_WRONLY | O_APPEND);
        if (fd >= 0) {
            done = write(fd, tail, k) == (ssize_t)k;
            close(fd);
        }
    }
    free(buf);
    return done;
}

static void verify_cli_ok(const char *dir, char **out)
{
    int st = tu_run(out, "%s verify --data %s 2>&1", tu_annal(), dir);
    if (st != 0 && out)
        fprintf(stderr, "annal verify exited %d:\n%s\n", st, *out);
    if (st != 0)
        (*out)[0] = 0;
}

static void kill_9_while_threads_append_loses_no_acknowledged_event(void)
{
    char *dir = tu_tmpdir("crash");
    uint64_t rng = SEED_CRASH;
    acked_set acked = {0};
    uint64_t prev_durable = 0, prev_total = 0;
    int rounds_with_acks = 0, early_kills = 0, sealed_at_open = 0, power_cuts[3] = {0}, last_ack_round = -1;
    uint64_t half_total = 0;
    rbuf b = {0};
    double t0 = mono_ms();
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
        uint64_t child_rng = t_rand(&rng);
        /* One round in eight kills soon after the fork, while the child may
         * still be opening (recovering) the log; the others kill 1..30 ms
         * after the log is open and the threads are appending. */
        int early = t_rand(&rng) % 8 == 0;
        unsigned delay_us = early ? (unsigned)(t_rand(&rng) % 4000) : 1000 + (unsigned)(t_rand(&rng) % 29000);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, fds[1], round, child_rng);
        }
        close(fds[1]);
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        b.n = 0;
        int eof = 0;
        double start = mono_ms();
        if (early) {
            early_kills++;
        } else {
            /* Wait for READY; and, should three rounds in a row have ended
             * before any acknowledgement (a slow disk), for the first one. */
            eof = pump(fds[0], &b, start + 30000, round - last_ack_round > 3 ? 2 : 1);
            start = mono_ms();
        }
        if (!eof)
            eof = pump(fds[0], &b, start + delay_us / 1000.0, 0);
        kill(pid, SIGKILL);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        fcntl(fds[0], F_SETFL, 0);
        while (!read_some(fds[0], &b))
            ;
        close(fds[0]);
        CHECKF((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
               "round %d: the child ended with status 0x%x", round, status);
        int ready = 0;
        char why[128];
        CHECKF(take_reports(&acked, b.p, b.n, &ready, why, sizeof(why)) == 0, "round %d: %s", round, why);
        CHECKF(early || ready, "round %d: the child never opened the log", round);
        if (acked.total > prev_total) {
            rounds_with_acks++;
            last_ack_round = round;
        }
        if (round == ROUNDS / 2)
            half_total = acked.total;
        prev_total = acked.total;

        /* One round in four adds a power cut to the kill. */
        const char *what = NULL;
        if (t_rand(&rng) % 4 == 0 && power_cut(dir, acked.max > prev_durable ? acked.max : prev_durable, &rng, &what))
            power_cuts[what[0] == 'c' ? 0 : what[0] == 'z' ? 1 : 2]++;

        /* Reopen: recovery must cut whatever the kill left. */
        uint64_t *segs_before;
        size_t nseg_before;
        CHECK(annal_segdir_list(dir, &segs_before, &nseg_before) == ANNAL_OK);
        free(segs_before);
        annal_log_options o = {.segment_bytes = 65536, .log_fn = count_recovery};
        annal_log *log;
        char err[512];
        int rc = annal_log_open(dir, &o, &log, err, sizeof(err));
        CHECKF(rc == ANNAL_OK, "round %d: reopening after the kill failed: %s", round, err);
        annal_log_stats st;
        annal_log_stats_get(log, &st);
        CHECKF(st.durable_seq >= acked.max, "round %d: durable %llu < acknowledged %llu", round,
               (unsigned long long)st.durable_seq, (unsigned long long)acked.max);
        CHECKF(st.durable_seq >= prev_durable, "round %d: the log shrank from %llu to %llu", round,
               (unsigned long long)prev_durable, (unsigned long long)st.durable_seq);
        prev_durable = st.durable_seq;
        uint64_t *segs_after;
        size_t nseg_after;
        CHECK(annal_segdir_list(dir, &segs_after, &nseg_after) == ANNAL_OK);
        free(segs_after);
        if (nseg_before && nseg_after > nseg_before)
            sealed_at_open++; /* the kill fell between sealing and creating the next segment */

        /* Every acknowledged event is there, byte for byte. */
        annal_reader *r;
        CHECK(annal_reader_open(dir, &r) == ANNAL_OK);
        uint64_t last = 0;
        CHECK(annal_reader_last(r, &last) == ANNAL_OK);
        CHECKF(last == st.durable_seq, "round %d: reader sees %llu, log %llu", round, (unsigned long long)last,
               (unsigned long long)st.durable_seq);
        for (uint64_t s = 1; s <= acked.max; s++) {
            if (!acked.set[s])
                continue;
            const char *rec;
            size_t len;
            unsigned char leaf[32];
            rc = annal_reader_get(r, s, &rec, &len);
            CHECKF(rc == ANNAL_OK, "round %d: acknowledged seq %llu unreadable: %s", round, (unsigned long long)s,
                   annal_strerror(rc));
            annal_leaf_hash(rec, len, leaf);
            CHECKF(!memcmp(leaf, acked.leaf[s], 32), "round %d: acknowledged seq %llu differs: %.*s", round,
                   (unsigned long long)s, (int)len, rec);
        }
        annal_reader_close(r);
        CHECK(annal_log_close(log) == ANNAL_OK);

        annal_verify_report rep;
        rc = annal_verify_dir(dir, 2, NULL, NULL, &rep);
        CHECKF(rc == ANNAL_OK && rep.ok, "round %d: verify: rc %d, %s offset %llu seq %llu: %s", round, rc,
               rep.segment, (unsigned long long)rep.offset, (unsigned long long)rep.seq, rep.what);
        CHECK(rep.events == st.durable_seq && !memcmp(rep.chain, st.chain, 32) && rep.torn_bytes == 0);
    }
    uint64_t *segs;
    size_t nseg;
    CHECK(annal_segdir_list(dir, &segs, &nseg) == ANNAL_OK);
    free(segs);
    printf("test_crash: %d kills (%d early), %llu events acknowledged in %d rounds, %llu in the log, "
           "%d recoveries logged, %d segments sealed by a kill-time open, power cuts: %d cut/%d zeros/%d partial "
           "headers, %zu segments, %.1f s\n",
           ROUNDS, early_kills, (unsigned long long)acked.total, rounds_with_acks, (unsigned long long)prev_durable,
           recovery_lines, sealed_at_open, power_cuts[0], power_cuts[1], power_cuts[2], nseg, (mono_ms() - t0) / 1e3);
    CHECK(acked.total > 0);
    CHECKF(acked.total > half_total && half_total > 0, "acknowledged %llu events by round %d, %llu in all",
           (unsigned long long)half_total, ROUNDS / 2, (unsigned long long)acked.total);
    CHECKF(rounds_with_acks >= ROUNDS / 4, "only %d of %d rounds acknowledged events", rounds_with_acks, ROUNDS);
    CHECKF(nseg >= 2, "only %zu segment: no roll happened", nseg);

    char *out = NULL;
    verify_cli_ok(dir, &out);
    char want[64];
    snprintf(want, sizeof(want), "ok: %llu events", (unsigned long long)prev_durable);
    CHECKF(strstr(out, want) && strstr(out, "chain_head "), "%s", out);
    free(out);
    free(acked.leaf);
    free(acked.set);
    free(b.p);
    tu_rmtree(dir);
    free(dir);
}

/* Write n events numbered base.. to path as NDJSON. */
static int write_ndjson(const char *path, unsigned long long base, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char json[EVCAP];
    for (size_t i = 0; i < n; i++) {
        tu_event_json(json, sizeof(json), "cli", base + i);
        fprintf(f, "%s\n", json);
    }
    return fclose(f);
}

static void kill_9_of_annal_append_leaves_a_log_that_verifies_and_reopens(void)
{
    char *dir = tu_tmpdir("crashcli");
    char *file = NULL;
    CHECK(asprintf(&file, "%s.ndjson", dir) > 0);
    uint64_t rng = SEED_CLI;
    uint64_t durable = 0;
    enum { RUNS = 10, EVENTS = 30000 };
    int killed = 0, partial = 0;
    double full_ms = 0;
    recovery_lines = 0;
    for (int run = 0; run < RUNS; run++) {
        unsigned long long base = (unsigned long long)(run + 1) * 1000000000ull;
        CHECK(write_ndjson(file, base, EVENTS) == 0);
        /* The first run is timed to the end; the others but the last are
         * killed at 2..98% of that time: while validating the whole input
         * (done first), while writing (one big write per group commit),
         * or while sealing and rolling segments. */
        int kill_it = run > 0 && run + 1 < RUNS;
        double frac = (run & 1) ? 0.5 + (double)(t_rand(&rng) % 480) / 1000.0
                                : 0.02 + (double)(t_rand(&rng) % 960) / 1000.0;
        const char *block = (t_rand(&rng) & 1) ? "4096" : "65536";
        fflush(NULL);
        double t0 = mono_ms();
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            int nul = open("/dev/null", O_WRONLY);
            dup2(nul, 1);
            dup2(nul, 2);
            execl(tu_annal(), "annal", "append", "--data", dir, "--segment-bytes", "65536", "--block-bytes", block,
                  "--quiet", file, (char *)NULL);
            _exit(127);
        }
        int status;
        if (kill_it) {
            usleep((useconds_t)(frac * full_ms * 1000));
            kill(pid, SIGKILL);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        if (run == 0)
            full_ms = mono_ms() - t0;
        int was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        CHECKF(was_killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0), "run %d: annal append status 0x%x",
               run, status);
        killed += was_killed;

        annal_log *log;
        char err[512];
        annal_log_options o = {.segment_bytes = 65536, .log_fn = count_recovery};
        int rc = annal_log_open(dir, &o, &log, err, sizeof(err));
        CHECKF(rc == ANNAL_OK, "run %d: reopening after the kill failed: %s", run, err);
        annal_log_stats st;
        annal_log_stats_get(log, &st);
        CHECK(annal_log_close(log) == ANNAL_OK);
        CHECK(st.durable_seq >= durable);
        uint64_t got = st.durable_seq - durable;
        if (!was_killed)
            CHECKF(got == EVENTS, "run %d: append completed but %llu events are in the log", run,
                   (unsigned long long)got);
        CHECK(got <= EVENTS);
        if (was_killed && got > 0 && got < EVENTS)
            partial++;
        /* What this run added is a prefix of its file, in order. */
        annal_reader *r;
        CHECK(annal_reader_open(dir, &r) == ANNAL_OK);
        for (uint64_t i = 0; i < got; i++) {
            const char *rec;
            size_t len;
            char want[64];
            CHECK(annal_reader_get(r, durable + 1 + i, &rec, &len) == ANNAL_OK);
            snprintf(want, sizeof(want), "\"event_id\":\"e-%llu\"", base + i);
            CHECKF(memmem(rec, len, want, strlen(want)), "run %d: seq %llu is not event %llu: %.*s", run,
                   (unsigned long long)(durable + 1 + i), base + i, (int)len, rec);
        }
        annal_reader_close(r);
        durable = st.durable_seq;

        annal_verify_report rep;
        rc = annal_verify_dir(dir, 2, NULL, NULL, &rep);
        CHECKF(rc == ANNAL_OK && rep.ok, "run %d: verify: rc %d, %s offset %llu seq %llu: %s", run, rc,
               rep.segment, (unsigned long long)rep.offset, (unsigned long long)rep.seq, rep.what);
        CHECK(rep.events == durable && rep.torn_bytes == 0);
    }
    printf("test_crash: annal append (%.0f ms for %d events) killed %d times (%d mid-write), %d recoveries logged, "
           "%llu events in the log\n", full_ms, (int)EVENTS, killed, partial, recovery_lines, (unsigned long long)durable);
    CHECKF(killed >= 3, "annal append was killed only %d times", killed);
    char *out = NULL;
    verify_cli_ok(dir, &out);
    CHECKF(strstr(out, "chain_head "), "%s", out);
    free(out);
    unlink(file);
    free(file);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    T_RUN(kill_9_while_threads_append_loses_no_acknowledged_event);
    T_RUN(kill_9_of_annal_append_leaves_a_log_that_verifies_and_reopens);
    return t_done();
}
