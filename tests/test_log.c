/* The log writer, reader and verifier together: durability, group commit
 * from threads, segment rolls, recovery of torn tails, refusal of damage,
 * the writer lock, and failures injected through the file I/O interface. */
#include "t.h"
#include "util.h"

#include "store/hash.h"
#include "store/log.h"
#include "store/reader.h"
#include "store/segdir.h"
#include "store/segment.h"
#include "store/verify.h"

#include <errno.h>
#include <pthread.h>

/* Append n events (batches of `batch`) for tenant; returns the last result. */
static int append_n(annal_log *log, const char *tenant, unsigned long long start, size_t n, size_t batch,
                    annal_append_result *last)
{
    char json[1024];
    annal_event *evs = calloc(batch, sizeof(*evs));
    char *bufs = malloc(batch * 1024);
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t k = 0;
        for (; k < batch && i < n; k++, i++) {
            tu_event_json(json, sizeof(json), tenant, start + i);
            if ((rc = tu_event(json, bufs + k * 1024, 1024, &evs[k])))
                break;
        }
        if (!rc)
            rc = annal_log_append(log, evs, k, last);
    }
    free(evs);
    free(bufs);
    return rc;
}

static int verify_ok(const char *dir, annal_verify_report *rep)
{
    int rc = annal_verify_dir(dir, 2, NULL, NULL, rep);
    if (rc == 0 && !rep->ok)
        fprintf(stderr, "verify: %s offset %llu seq %llu: %s\n", rep->segment, (unsigned long long)rep->offset,
                (unsigned long long)rep->seq, rep->what);
    return rc == 0 && rep->ok;
}

static char last_log_line[512];
static void capture_log(void *ctx, const char *line)
{
    (void)ctx;
    snprintf(last_log_line, sizeof(last_log_line), "%s", line);
}

static void appended_events_are_readable_in_order_and_the_log_verifies(void)
{
    char *dir = tu_tmpdir("log");
    annal_log *log;
    CHECK(annal_log_open(dir, NULL, &log, NULL, 0) == ANNAL_OK);
    annal_append_result res;
    CHECK(append_n(log, "acme", 0, 500, 1, &res) == 0);
    CHECK(res.first_seq == 500 && res.last_seq == 500);
    CHECK(append_n(log, "acme", 500, 1500, 333, &res) == 0);
    CHECK(res.last_seq == 2000);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECK(st.durable_seq == 2000 && !memcmp(st.chain, res.chain, 32));
    CHECK(annal_log_close(log) == ANNAL_OK);

    annal_reader *r;
    CHECK(annal_reader_open(dir, &r) == ANNAL_OK);
    uint64_t last;
    CHECK(annal_reader_last(r, &last) == ANNAL_OK && last == 2000);
    unsigned char chain[32] = {0}, leaf[32];
    for (uint64_t s = 1; s <= 2000; s++) {
        const char *rec;
        size_t len;
        CHECKF(annal_reader_get(r, s, &rec, &len) == ANNAL_OK, "seq %llu", (unsigned long long)s);
        annal_event ev;
        annal_event_error e;
        CHECK(annal_record_parse(rec, len, &ev, &e) == ANNAL_OK && ev.seq == s);
        annal_leaf_hash(rec, len, leaf);
        annal_chain_next(chain, leaf, chain);
    }
    CHECK(!memcmp(chain, res.chain, 32));
    const char *rec;
    size_t len;
    CHECK(annal_reader_get(r, 2001, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_reader_get(r, 0, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_reader_get(r, 7, &rec, &len) == ANNAL_OK && strstr(rec, "\"seq\":7,"));
    /* Iteration from a seq to the end. */
    annal_reader_seek(r, 1990);
    uint64_t s = 0, n = 0;
    while (annal_reader_next(r, &s, &rec, &len) == ANNAL_OK) {
        CHECK(s == 1990 + n);
        n++;
    }
    CHECK(n == 11);
    annal_reader_close(r);

    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep));
    CHECK(rep.events == 2000 && !memcmp(rep.chain, res.chain, 32) && rep.torn_bytes == 0);
    tu_rmtree(dir);
    free(dir);
}

typedef struct thr_arg {
    annal_log *log;
    int id;
    uint64_t seqs[300];
} thr_arg;

static void *appender(void *p)
{
    thr_arg *a = p;
    char tenant[16];
    snprintf(tenant, sizeof(tenant), "t%d", a->id);
    for (int i = 0; i < 300; i++) {
        annal_append_result res;
        if (append_n(a->log, tenant, (unsigned long long)i, 1, 1, &res))
            return NULL;
        a->seqs[i] = res.last_seq;
    }
    return NULL;
}

static void threads_appending_together_get_distinct_contiguous_seqs_and_share_fsyncs(void)
{
    char *dir = tu_tmpdir("threads");
    annal_log *log;
    CHECK(annal_log_open(dir, NULL, &log, NULL, 0) == ANNAL_OK);
    thr_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){.log = log, .id = i};
        pthread_create(&th[i], NULL, appender, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECK(annal_log_close(log) == ANNAL_OK);
    static unsigned char seen[1201];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 300; j++) {
            uint64_t s = args[i].seqs[j];
            CHECKF(s >= 1 && s <= 1200 && !seen[s], "thread %d append %d got seq %llu", i, j, (unsigned long long)s);
            seen[s] = 1;
            if (j)
                CHECK(s > args[i].seqs[j - 1]);
        }
    CHECK(st.durable_seq == 1200 && st.committed_events == 1200);
    CHECK(st.commits >= 1 && st.commits <= 1200);
    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == 1200);
    tu_rmtree(dir);
    free(dir);
}

static void small_segments_roll_link_and_reopening_continues_the_chain(void)
{
    char *dir = tu_tmpdir("roll");
    annal_log_options o = {.segment_bytes = 8192, .block_bytes = 4096, .log_fn = capture_log};
    annal_log *log;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    annal_append_result res;
    CHECK(append_n(log, "acme", 0, 3000, 50, &res) == 0);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECK(st.segments_sealed >= 5);
    CHECK(annal_log_close(log) == ANNAL_OK);
    uint64_t *segs;
    size_t n;
    CHECK(annal_segdir_list(dir, &segs, &n) == ANNAL_OK);
    CHECK(n == st.segments_sealed + 1 && segs[0] == 1);
    for (size_t i = 0; i + 1 < n; i++) { /* blocks never take a segment past the limit */
        char path[4096];
        annal_segdir_path(dir, segs[i], path, sizeof(path));
        long size = tu_file_size(path);
        CHECKF(size > 4096 && size <= 8192 + 88 + 16 * 8, "segment %zu: %ld bytes", i, size);
    }
    free(segs);

    unsigned char before[32];
    memcpy(before, res.chain, 32);
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    annal_log_stats_get(log, &st);
    CHECK(st.durable_seq == 3000 && !memcmp(st.chain, before, 32));
    CHECK(append_n(log, "acme", 3000, 10, 10, &res) == 0 && res.first_seq == 3001 && res.last_seq == 3010);
    CHECK(annal_log_close(log) == ANNAL_OK);

    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == 3010 && rep.segments == n);
    annal_reader *r;
    CHECK(annal_reader_open(dir, &r) == ANNAL_OK);
    for (uint64_t s = 3010; s >= 1; s -= 37) {
        const char *rec;
        size_t len;
        annal_event ev;
        annal_event_error e;
        CHECK(annal_reader_get(r, s, &rec, &len) == ANNAL_OK);
        CHECK(annal_record_parse(rec, len, &ev, &e) == ANNAL_OK && ev.seq == s);
        if (s < 37)
            break;
    }
    annal_reader_close(r);
    tu_rmtree(dir);
    free(dir);
}

static void one_large_batch_is_spread_over_segments_of_the_configured_size(void)
{
    char *dir = tu_tmpdir("bigbatch");
    annal_log_options o = {.segment_bytes = 16384, .block_bytes = 4096, .log_fn = capture_log};
    annal_log *log;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    annal_append_result res;
    CHECK(append_n(log, "acme", 0, 3000, 3000, &res) == 0 && res.last_seq == 3000);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECKF(st.commits == 1 && st.segments_sealed >= 5, "commits %llu sealed %llu", (unsigned long long)st.commits, (unsigned long long)st.segments_sealed);
    CHECK(annal_log_close(log) == ANNAL_OK);
    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == 3000 && rep.segments == st.segments_sealed + 1);
    tu_rmtree(dir);
    free(dir);
}

static void a_second_writer_is_refused_with_a_clear_error(void)
{
    char *dir = tu_tmpdir("lock");
    annal_log *a, *b = NULL;
    char err[256];
    CHECK(annal_log_open(dir, NULL, &a, NULL, 0) == ANNAL_OK);
    CHECK(annal_log_open(dir, NULL, &b, err, sizeof(err)) == ANNAL_ELOCKED);
    CHECK(b == NULL && strstr(err, "another writer"));
    CHECK(annal_log_close(a) == ANNAL_OK);
    CHECK(annal_log_open(dir, NULL, &b, err, sizeof(err)) == ANNAL_OK);
    annal_log_close(b);
    tu_rmtree(dir);
    free(dir);
}

static char *last_segment_path(const char *dir)
{
    uint64_t *segs;
    size_t n;
    if (annal_segdir_list(dir, &segs, &n) || !n)
        return NULL;
    char *p = malloc(4096);
    annal_segdir_path(dir, segs[n - 1], p, 4096);
    free(segs);
    return p;
}

static void append_bytes(const char *path, const void *b, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd >= 0) {
        if (write(fd, b, n) != (ssize_t)n)
            perror("write");
        close(fd);
    }
}

static void a_torn_tail_is_accepted_by_verify_and_cut_on_open(void)
{
    char *dir = tu_tmpdir("torn");
    annal_log *log;
    annal_append_result res;
    CHECK(annal_log_open(dir, NULL, &log, NULL, 0) == ANNAL_OK);
    CHECK(append_n(log, "acme", 0, 100, 10, &res) == 0);
    CHECK(annal_log_close(log) == ANNAL_OK);
    char *seg = last_segment_path(dir);
    long good = tu_file_size(seg);
    /* A block header for seqs 101-104 whose frame never made it to disk. */
    annal_block_header bh = {.count = 4, .first_seq = 101, .raw_len = 2000, .frame_len = 700};
    unsigned char hb[ANNAL_BLOCK_HEADER_SIZE + 100];
    memset(hb, 0x42, sizeof(hb));
    annal_block_header_encode(&bh, hb);
    append_bytes(seg, hb, sizeof(hb));
    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == 100 && rep.torn_bytes == sizeof(hb));

    annal_log_options o = {.log_fn = capture_log};
    last_log_line[0] = 0;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    CHECKF(strstr(last_log_line, "180 bytes") && strstr(last_log_line, "seqs 101-104"), "%s", last_log_line);
    CHECK(tu_file_size(seg) == good);
    CHECK(append_n(log, "acme", 100, 5, 5, &res) == 0 && res.first_seq == 101);
    CHECK(annal_log_close(log) == ANNAL_OK);
    CHECK(verify_ok(dir, &rep) && rep.events == 105 && rep.torn_bytes == 0);

    /* Zeros past the end (a file extended but never written) are torn too. */
    unsigned char zeros[4096] = {0};
    append_bytes(seg, zeros, sizeof(zeros));
    CHECK(verify_ok(dir, &rep) && rep.events == 105 && rep.torn_bytes == sizeof(zeros));
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    CHECK(strstr(last_log_line, "no complete block header"));
    CHECK(annal_log_close(log) == ANNAL_OK);
    CHECK(verify_ok(dir, &rep) && rep.torn_bytes == 0);
    free(seg);
    tu_rmtree(dir);
    free(dir);
}

static void a_complete_but_damaged_last_block_refuses_to_open(void)
{
    char *dir = tu_tmpdir("damaged");
    annal_log *log;
    annal_append_result res;
    CHECK(annal_log_open(dir, NULL, &log, NULL, 0) == ANNAL_OK);
    CHECK(append_n(log, "acme", 0, 50, 50, &res) == 0);
    CHECK(annal_log_close(log) == ANNAL_OK);
    char *seg = last_segment_path(dir);
    long size = tu_file_size(seg);
    int fd = open(seg, O_RDWR);
    unsigned char b;
    CHECK(pread(fd, &b, 1, size - 20) == 1);
    b ^= 0x10;
    CHECK(pwrite(fd, &b, 1, size - 20) == 1);
    close(fd);
    char err[512];
    CHECK(annal_log_open(dir, NULL, &log, err, sizeof(err)) == ANNAL_ECORRUPT);
    CHECKF(strstr(err, "annal verify") && strstr(err, "00000000000000000001.seg"), "%s", err);
    annal_verify_report rep;
    CHECK(annal_verify_dir(dir, 1, NULL, NULL, &rep) == ANNAL_OK && !rep.ok && rep.seq == 1);
    free(seg);
    tu_rmtree(dir);
    free(dir);
}

static void a_missing_middle_segment_refuses_to_open(void)
{
    char *dir = tu_tmpdir("missing");
    annal_log_options o = {.segment_bytes = 4096, .block_bytes = 2048, .log_fn = capture_log};
    annal_log *log;
    annal_append_result res;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    CHECK(append_n(log, "acme", 0, 400, 20, &res) == 0);
    CHECK(annal_log_close(log) == ANNAL_OK);
    uint64_t *segs;
    size_t n;
    CHECK(annal_segdir_list(dir, &segs, &n) == ANNAL_OK && n >= 3);
    char path[4096];
    annal_segdir_path(dir, segs[1], path, sizeof(path));
    CHECK(unlink(path) == 0);
    char err[512];
    CHECK(annal_log_open(dir, &o, &log, err, sizeof(err)) == ANNAL_ECORRUPT);
    CHECKF(strstr(err, "missing"), "%s", err);
    annal_verify_report rep;
    CHECK(annal_verify_dir(dir, 2, NULL, NULL, &rep) == ANNAL_OK && !rep.ok);
    CHECK(rep.seq == segs[1] && strstr(rep.what, "missing"));
    free(segs);
    tu_rmtree(dir);
    free(dir);
}

/* File I/O that fails once `budget` bytes have been written (a full disk),
 * or fails every fdatasync after `sync_budget` of them. */
typedef struct faulty {
    long budget;
    long sync_budget;
} faulty;

static ssize_t faulty_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off)
{
    faulty *f = ctx;
    if (f->budget <= 0) {
        errno = ENOSPC;
        return -1;
    }
    if ((long)n > f->budget)
        n = (size_t)f->budget; /* a short write, then ENOSPC */
    f->budget -= (long)n;
    return pwrite(fd, b, n, off);
}

static int faulty_fdatasync(void *ctx, int fd)
{
    faulty *f = ctx;
    if (f->sync_budget-- <= 0) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int faulty_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd);
}

static int faulty_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return ftruncate(fd, len);
}

static void failure_loses_no_acknowledged_event(long budget, long sync_budget)
{
    char *dir = tu_tmpdir("fault");
    faulty f = {.budget = budget, .sync_budget = sync_budget};
    annal_io io = {faulty_pwrite, faulty_fdatasync, faulty_fsync, faulty_ftruncate, &f};
    annal_log_options o = {.io = &io, .segment_bytes = 16384, .log_fn = capture_log};
    annal_log *log;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    uint64_t acked = 0;
    int rc = 0;
    annal_append_result res;
    for (int i = 0; i < 400 && rc == 0; i++) {
        rc = append_n(log, "acme", (unsigned long long)i * 5, 5, 5, &res);
        if (rc == 0)
            acked = res.last_seq;
    }
    CHECK(rc == ANNAL_EIO || rc == ANNAL_ECLOSED);
    CHECK(acked > 0);
    CHECK(append_n(log, "acme", 9999, 1, 1, &res) == ANNAL_ECLOSED);
    CHECK(annal_log_close(log) != ANNAL_OK);

    annal_log_options o2 = {.segment_bytes = 16384, .log_fn = capture_log};
    CHECK(annal_log_open(dir, &o2, &log, NULL, 0) == ANNAL_OK);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECKF(st.durable_seq >= acked, "durable %llu acked %llu", (unsigned long long)st.durable_seq,
           (unsigned long long)acked);
    CHECK(append_n(log, "acme", 5000, 3, 3, &res) == 0 && res.first_seq == st.durable_seq + 1);
    CHECK(annal_log_close(log) == ANNAL_OK);
    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == st.durable_seq + 3);
    /* The acknowledged events are there with the right content. */
    annal_reader *r;
    CHECK(annal_reader_open(dir, &r) == ANNAL_OK);
    for (uint64_t s = 1; s <= acked; s++) {
        const char *rec;
        size_t len;
        char want[64];
        CHECK(annal_reader_get(r, s, &rec, &len) == ANNAL_OK);
        snprintf(want, sizeof(want), "\"event_id\":\"e-%llu\"", (unsigned long long)(s - 1));
        CHECKF(memmem(rec, len, want, strlen(want)), "seq %llu", (unsigned long long)s);
    }
    annal_reader_close(r);
    tu_rmtree(dir);
    free(dir);
}

static void a_full_disk_loses_no_acknowledged_event(void)
{
    failure_loses_no_acknowledged_event(20000, 1000000);
    failure_loses_no_acknowledged_event(60000, 1000000); /* after some segment rolls */
}

static void a_failed_fdatasync_loses_no_acknowledged_event(void)
{
    failure_loses_no_acknowledged_event(1L << 40, 30);
}

static int slow_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    usleep(5000); /* a slow disk: appends pile up behind each fdatasync */
    return fdatasync(fd);
}

static void appends_arriving_during_an_fdatasync_share_the_next_one(void)
{
    char *dir = tu_tmpdir("group");
    annal_io io = annal_io_posix;
    io.fdatasync = slow_fdatasync;
    annal_log_options o = {.io = &io};
    annal_log *log;
    CHECK(annal_log_open(dir, &o, &log, NULL, 0) == ANNAL_OK);
    thr_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){.log = log, .id = i};
        pthread_create(&th[i], NULL, appender, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    CHECK(annal_log_close(log) == ANNAL_OK);
    /* Four threads, each waiting for its own event: without group commit
     * there would be 1200 fdatasyncs; with it, while one commit is in flight
     * the threads it does not carry submit the next (about 2 events each). */
    CHECKF(st.committed_events == 1200 && st.commits < 900, "%llu commits",
           (unsigned long long)st.commits);
    annal_verify_report rep;
    CHECK(verify_ok(dir, &rep) && rep.events == 1200);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    T_RUN(appended_events_are_readable_in_order_and_the_log_verifies);
    T_RUN(threads_appending_together_get_distinct_contiguous_seqs_and_share_fsyncs);
    T_RUN(appends_arriving_during_an_fdatasync_share_the_next_one);
    T_RUN(small_segments_roll_link_and_reopening_continues_the_chain);
    T_RUN(one_large_batch_is_spread_over_segments_of_the_configured_size);
    T_RUN(a_second_writer_is_refused_with_a_clear_error);
    T_RUN(a_torn_tail_is_accepted_by_verify_and_cut_on_open);
    T_RUN(a_complete_but_damaged_last_block_refuses_to_open);
    T_RUN(a_missing_middle_segment_refuses_to_open);
    T_RUN(a_full_disk_loses_no_acknowledged_event);
    T_RUN(a_failed_fdatasync_loses_no_acknowledged_event);
    return t_done();
}
