/* The shared block cache (store/bcache.h) on its own and behind readers
 * (annal_reader_set_cache): cached reads equal uncached ones over a
 * multi-block, multi-segment log; many threads with a tiny budget (eviction
 * while blocks are held); a damaged block is reported and never cached;
 * appends during reads. */
#include "t.h"
#include "util.h"

#include "store/bcache.h"
#include "store/log.h"
#include "store/reader.h"
#include "store/segdir.h"
#include "store/segment.h"

#include <errno.h>
#include <pthread.h>

/* Append events start..start+n-1 of tenant (tu_event_json) in batches. */
static int append_n(annal_log *log, const char *tenant, unsigned long long start, size_t n, size_t batch)
{
    char json[1024];
    annal_event *evs = calloc(batch, sizeof(*evs));
    char *bufs = malloc(batch * 1024);
    annal_append_result res;
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t k = 0;
        for (; k < batch && i < n; k++, i++) {
            tu_event_json(json, sizeof(json), tenant, start + i);
            if ((rc = tu_event(json, bufs + k * 1024, 1024, &evs[k])))
                break;
        }
        if (!rc)
            rc = annal_log_append(log, evs, k, &res);
    }
    free(evs);
    free(bufs);
    return rc;
}

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

/* Small blocks and segments: many of both. */
static const annal_log_options small = {.segment_bytes = 16384, .block_bytes = 2048, .log_fn = quiet};

/* A log of n events in dir; *blocks gets the number of blocks written. */
static int make_log(const char *dir, size_t n, uint64_t *blocks)
{
    annal_log *log;
    int rc = annal_log_open(dir, &small, &log, NULL, 0);
    if (rc)
        return rc;
    rc = append_n(log, "acme", 0, n, 37);
    annal_log_stats st;
    annal_log_stats_get(log, &st);
    if (blocks)
        *blocks = st.blocks;
    int rc2 = annal_log_close(log);
    return rc ? rc : rc2;
}

/* Copies of records 1..n through an uncached reader: recs[s], lens[s]. */
typedef struct expect {
    size_t n;
    char **recs;
    size_t *lens;
} expect;

static int expect_load(const char *dir, size_t n, expect *x)
{
    x->n = n;
    x->recs = calloc(n + 1, sizeof(*x->recs));
    x->lens = calloc(n + 1, sizeof(*x->lens));
    annal_reader *r;
    int rc = annal_reader_open(dir, &r);
    for (size_t s = 1; s <= n && !rc; s++) {
        const char *rec;
        if ((rc = annal_reader_get(r, s, &rec, &x->lens[s])) == 0) {
            x->recs[s] = malloc(x->lens[s] + 1);
            memcpy(x->recs[s], rec, x->lens[s]);
        }
    }
    annal_reader_close(r);
    return rc;
}

static void expect_free(expect *x)
{
    for (size_t s = 0; s <= x->n; s++)
        free(x->recs[s]);
    free(x->recs);
    free(x->lens);
}

static int same(const expect *x, uint64_t s, const char *rec, size_t len)
{
    return len == x->lens[s] && memcmp(rec, x->recs[s], len) == 0;
}

/* ---------------------------------------------------------------- the cache alone */

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);
    memcpy(p, s, n);
    return p;
}

static void put_get_release_and_records_in_o1(void)
{
    annal_bcache *c;
    CHECK(annal_bcache_create(0, &c) == ANNAL_OK);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.budget == ANNAL_BCACHE_DEFAULT_BUDGET && st.blocks == 0);
    const annal_bblock *b, *b2;
    CHECK(annal_bcache_get(c, 1, 72, &b) == ANNAL_ENOTFOUND && b == NULL);
    CHECK(annal_bcache_put(c, 1, 72, 10, 3, dup_str("a\nbb\n\n"), 6, &b) == ANNAL_OK);
    CHECK(b->seg_first == 1 && b->offset == 72 && b->first_seq == 10 && b->count == 3 && b->raw_len == 6);
    const char *rec;
    size_t len;
    CHECK(annal_bblock_record(b, 10, &rec, &len) == ANNAL_OK && len == 1 && rec[0] == 'a');
    CHECK(annal_bblock_record(b, 11, &rec, &len) == ANNAL_OK && len == 2 && !memcmp(rec, "bb", 2));
    CHECK(annal_bblock_record(b, 12, &rec, &len) == ANNAL_OK && len == 0);
    CHECK(annal_bblock_record(b, 9, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_bblock_record(b, 13, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_bcache_get(c, 1, 72, &b2) == ANNAL_OK && b2 == b);
    /* Same key put again (a concurrent load): the cached one is returned. */
    const annal_bblock *b3;
    CHECK(annal_bcache_put(c, 1, 72, 10, 3, dup_str("a\nbb\n\n"), 6, &b3) == ANNAL_OK && b3 == b);
    /* Another segment, same offset: another block. */
    CHECK(annal_bcache_get(c, 2, 72, &b2) == ANNAL_ENOTFOUND);
    annal_bcache_release(c, b);
    annal_bcache_release(c, b);
    annal_bcache_release(c, b3);
    annal_bcache_release(c, NULL);
    annal_bcache_stats_get(c, &st);
    CHECK(st.hits == 1 && st.misses == 2 && st.inserts == 1 && st.duplicates == 1 && st.blocks == 1);
    CHECK(st.bytes > 6 && st.held_out == 0);
    annal_bcache_free(c);
    annal_bcache_free(NULL);
}

static void records_not_matching_the_count_are_refused_and_not_cached(void)
{
    annal_bcache *c;
    CHECK(annal_bcache_create(0, &c) == ANNAL_OK);
    const annal_bblock *b;
    CHECK(annal_bcache_put(c, 1, 72, 1, 3, dup_str("a\nb\n"), 4, &b) == ANNAL_ECORRUPT && !b); /* one missing */
    CHECK(annal_bcache_put(c, 1, 72, 1, 1, dup_str("a\nb\n"), 4, &b) == ANNAL_ECORRUPT && !b); /* one extra */
    CHECK(annal_bcache_put(c, 1, 72, 1, 2, dup_str("a\nbc"), 4, &b) == ANNAL_ECORRUPT && !b);  /* no last \n */
    CHECK(annal_bcache_put(c, 1, 72, 1, 0, dup_str("a\n"), 2, &b) == ANNAL_ECORRUPT && !b);    /* count 0 */
    CHECK(annal_bcache_put(c, 1, 72, 1, 5, dup_str(""), 0, &b) == ANNAL_ECORRUPT && !b);       /* empty */
    CHECK(annal_bcache_put(c, 1, 72, 1, 1, NULL, 0, &b) == ANNAL_EINVAL);
    CHECK(annal_bcache_get(c, 1, 72, &b) == ANNAL_ENOTFOUND);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.rejected == 5 && st.blocks == 0 && st.bytes == 0 && st.inserts == 0);
    annal_bcache_free(c);
}

/* A block of k records of 100 bytes each at key (1, off). */
static int put_block(annal_bcache *c, uint64_t off, const annal_bblock **b)
{
    enum { K = 10 };
    char *raw = malloc(K * 100);
    memset(raw, 'x', K * 100);
    for (int i = 0; i < K; i++)
        raw[i * 100 + 99] = '\n';
    snprintf(raw, 20, "%llu", (unsigned long long)off);
    return annal_bcache_put(c, 1, off, off * 10, K, raw, K * 100, b);
}

static void lru_eviction_keeps_held_blocks_alive_until_released(void)
{
    annal_bcache *c;
    CHECK(annal_bcache_create(4000, &c) == ANNAL_OK); /* three 1000-byte blocks and their bookkeeping */
    const annal_bblock *b[8];
    for (int i = 0; i < 3; i++) {
        CHECK(put_block(c, (uint64_t)i, &b[i]) == ANNAL_OK);
        if (i) /* keep block 0 held */
            annal_bcache_release(c, b[i]);
    }
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.blocks == 3 && st.bytes <= 4000 && st.evictions == 0);
    /* Touch 1: the least recently used is now 0, then 2. */
    const annal_bblock *t;
    CHECK(annal_bcache_get(c, 1, 1, &t) == ANNAL_OK);
    annal_bcache_release(c, t);
    CHECK(put_block(c, 3, &b[3]) == ANNAL_OK); /* evicts 0 (held) */
    annal_bcache_release(c, b[3]);
    CHECK(annal_bcache_get(c, 1, 0, &t) == ANNAL_ENOTFOUND);
    CHECK(annal_bcache_get(c, 1, 1, &t) == ANNAL_OK);
    annal_bcache_release(c, t);
    annal_bcache_stats_get(c, &st);
    CHECK(st.evictions == 1 && st.held_out == 1 && st.held_out_bytes > 1000 && st.bytes <= 4000);
    /* The evicted block is still readable by its holder. */
    const char *rec;
    size_t len;
    CHECK(annal_bblock_record(b[0], 0, &rec, &len) == ANNAL_OK && len == 99 && rec[0] == '0');
    CHECK(annal_bblock_record(b[0], 9, &rec, &len) == ANNAL_OK && len == 99 && rec[98] == 'x');
    annal_bcache_release(c, b[0]); /* freed now */
    annal_bcache_stats_get(c, &st);
    CHECK(st.held_out == 0 && st.held_out_bytes == 0 && st.blocks == 3);
    /* A block larger than the whole budget is returned but not kept. */
    annal_bcache *tiny;
    CHECK(annal_bcache_create(500, &tiny) == ANNAL_OK);
    CHECK(put_block(tiny, 7, &b[7]) == ANNAL_OK);
    CHECK(annal_bblock_record(b[7], 70, &rec, &len) == ANNAL_OK && rec[0] == '7');
    annal_bcache_stats_get(tiny, &st);
    CHECK(st.oversized == 1 && st.blocks == 0 && st.held_out == 1);
    annal_bcache_release(tiny, b[7]);
    annal_bcache_stats_get(tiny, &st);
    CHECK(st.held_out == 0);
    annal_bcache_free(tiny);
    annal_bcache_free(c);
}

static void a_cache_serves_one_directory(void)
{
    char *d1 = tu_tmpdir("bcache"), *d2 = tu_tmpdir("bcache");
    CHECK(make_log(d1, 10, NULL) == ANNAL_OK);
    CHECK(make_log(d2, 10, NULL) == ANNAL_OK);
    annal_bcache *c;
    CHECK(annal_bcache_create(0, &c) == ANNAL_OK);
    annal_reader *r1, *r2, *r3;
    CHECK(annal_reader_open(d1, &r1) == ANNAL_OK && annal_reader_open(d2, &r2) == ANNAL_OK);
    char *d1b = NULL;
    CHECK(asprintf(&d1b, "%s/.", d1) > 0);
    CHECK(annal_reader_open(d1b, &r3) == ANNAL_OK);
    CHECK(annal_reader_set_cache(r1, c) == ANNAL_OK);
    CHECK(annal_reader_set_cache(r2, c) == ANNAL_EINVAL);
    CHECK(annal_reader_set_cache(r3, c) == ANNAL_OK); /* the same directory by another path */
    CHECK(annal_reader_set_cache(NULL, c) == ANNAL_EINVAL);
    const char *rec;
    size_t len;
    CHECK(annal_reader_get(r2, 3, &rec, &len) == ANNAL_OK); /* still reads, uncached */
    CHECK(annal_reader_get(r1, 3, &rec, &len) == ANNAL_OK && strstr(rec, "\"seq\":3,"));
    CHECK(annal_reader_set_cache(r1, NULL) == ANNAL_OK); /* releases its block; uncached again */
    CHECK(annal_reader_get(r1, 4, &rec, &len) == ANNAL_OK && strstr(rec, "\"seq\":4,"));
    annal_reader_close(r1);
    annal_reader_close(r2);
    annal_reader_close(r3);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.inserts == 1 && st.held_out == 0);
    annal_bcache_free(c);
    free(d1b);
    tu_rmtree(d1);
    tu_rmtree(d2);
    free(d1);
    free(d2);
}

/* ---------------------------------------------------------------- behind readers */

enum { NEV = 3000 };

static void cached_reads_equal_uncached_reads_across_blocks_and_segments(void)
{
    char *dir = tu_tmpdir("bcache");
    uint64_t blocks = 0;
    CHECK(make_log(dir, NEV, &blocks) == ANNAL_OK);
    uint64_t *segs = NULL;
    size_t nsegs = 0;
    CHECK(annal_segdir_list(dir, &segs, &nsegs) == ANNAL_OK);
    free(segs);
    CHECKF(nsegs >= 5 && blocks >= 3 * nsegs, "%zu segments, %llu blocks", nsegs, (unsigned long long)blocks);
    expect x;
    CHECK(expect_load(dir, NEV, &x) == ANNAL_OK);

    annal_bcache *c;
    CHECK(annal_bcache_create(0, &c) == ANNAL_OK);
    annal_reader *r, *r2;
    CHECK(annal_reader_open(dir, &r) == ANNAL_OK && annal_reader_set_cache(r, c) == ANNAL_OK);
    const char *rec;
    size_t len;
    for (uint64_t s = 1; s <= NEV; s++)
        CHECKF(annal_reader_get(r, s, &rec, &len) == ANNAL_OK && same(&x, s, rec, len), "seq %llu",
               (unsigned long long)s);
    CHECK(annal_reader_get(r, 0, &rec, &len) == ANNAL_ENOTFOUND);
    CHECK(annal_reader_get(r, NEV + 1, &rec, &len) == ANNAL_ENOTFOUND);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    /* In order, each block is looked up and loaded once (the reader holds
     * the current one), and everything fits the default budget. */
    CHECKF(st.misses == blocks && st.inserts == blocks && st.hits == 0 && st.blocks == blocks,
           "misses %llu inserts %llu hits %llu, %llu blocks", (unsigned long long)st.misses,
           (unsigned long long)st.inserts, (unsigned long long)st.hits, (unsigned long long)blocks);

    /* A second reader sharing the cache decompresses nothing; random order. */
    CHECK(annal_reader_open(dir, &r2) == ANNAL_OK && annal_reader_set_cache(r2, c) == ANNAL_OK);
    uint64_t rng = 0xbcac4e;
    for (int i = 0; i < 5000; i++) {
        uint64_t s = 1 + t_rand(&rng) % NEV;
        CHECKF(annal_reader_get(r2, s, &rec, &len) == ANNAL_OK && same(&x, s, rec, len), "seq %llu",
               (unsigned long long)s);
    }
    /* Iteration through the cache. */
    annal_reader_seek(r2, NEV - 20);
    uint64_t s, n = 0;
    while (annal_reader_next(r2, &s, &rec, &len) == ANNAL_OK) {
        CHECK(s == NEV - 20 + n && same(&x, s, rec, len));
        n++;
    }
    CHECK(n == 21);
    uint64_t last;
    CHECK(annal_reader_last(r2, &last) == ANNAL_OK && last == NEV);
    annal_bcache_stats_get(c, &st);
    CHECK(st.inserts == blocks && st.hits > 0);
    annal_reader_close(r);
    annal_reader_close(r2);
    annal_bcache_stats_get(c, &st);
    CHECK(st.held_out == 0);
    annal_bcache_free(c);
    expect_free(&x);
    tu_rmtree(dir);
    free(dir);
}

typedef struct thr {
    const char *dir;
    annal_bcache *c;
    const expect *x;
    uint64_t seed;
    int iters;
    int bad;          /* first failure: 1 open, 2 get, 3 bytes */
    uint64_t bad_seq;
} thr;

static void *fetcher(void *p)
{
    thr *t = p;
    annal_reader *r;
    if (annal_reader_open(t->dir, &r) || annal_reader_set_cache(r, t->c)) {
        t->bad = 1;
        return NULL;
    }
    for (int i = 0; i < t->iters && !t->bad; i++) {
        /* half the pages among the first records (a hot set of ~10
         * blocks, more than the budget holds), half anywhere */
        uint64_t s = 1 + t_rand(&t->seed) % ((i & 1) ? t->x->n : 30);
        const char *rec;
        size_t len;
        /* a few records of the neighbourhood, as a page does */
        for (uint64_t k = s; k < s + 3 && k <= t->x->n && !t->bad; k++) {
            int rc = annal_reader_get(r, k, &rec, &len);
            if (rc)
                t->bad = 2;
            else if (!same(t->x, k, rec, len))
                t->bad = 3;
            if (t->bad)
                t->bad_seq = k;
        }
    }
    annal_reader_close(r);
    return NULL;
}

static void threads_fetching_with_a_tiny_budget_evict_and_stay_correct(void)
{
    char *dir = tu_tmpdir("bcache");
    CHECK(make_log(dir, NEV, NULL) == ANNAL_OK);
    expect x;
    CHECK(expect_load(dir, NEV, &x) == ANNAL_OK);
    annal_bcache *c;
    /* room for about four 2 KiB blocks: almost every fetch of another
     * block evicts one, often one another thread holds */
    CHECK(annal_bcache_create(10000, &c) == ANNAL_OK);
    enum { NT = 8 };
    pthread_t th[NT];
    thr a[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (thr){.dir = dir, .c = c, .x = &x, .seed = 0x5eed0000u + (uint64_t)i, .iters = 1500};
        CHECK(pthread_create(&th[i], NULL, fetcher, &a[i]) == 0);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NT; i++)
        CHECKF(a[i].bad == 0, "thread %d: failure %d at seq %llu", i, a[i].bad, (unsigned long long)a[i].bad_seq);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECKF(st.evictions > 1000 && st.hits > 100 && st.bytes <= 10000 && st.held_out == 0 &&
               st.blocks == st.inserts - st.evictions,
           "evictions %llu hits %llu bytes %zu held_out %zu", (unsigned long long)st.evictions,
           (unsigned long long)st.hits, st.bytes, st.held_out);
    annal_bcache_free(c);
    expect_free(&x);
    tu_rmtree(dir);
    free(dir);
}

static void a_record_stays_valid_while_its_block_is_evicted_by_others(void)
{
    char *dir = tu_tmpdir("bcache");
    CHECK(make_log(dir, 600, NULL) == ANNAL_OK);
    expect x;
    CHECK(expect_load(dir, 600, &x) == ANNAL_OK);
    annal_bcache *c;
    CHECK(annal_bcache_create(6000, &c) == ANNAL_OK);
    annal_reader *a, *b;
    CHECK(annal_reader_open(dir, &a) == ANNAL_OK && annal_reader_set_cache(a, c) == ANNAL_OK);
    CHECK(annal_reader_open(dir, &b) == ANNAL_OK && annal_reader_set_cache(b, c) == ANNAL_OK);
    const char *keep, *rec;
    size_t keep_len, len;
    CHECK(annal_reader_get(a, 5, &keep, &keep_len) == ANNAL_OK);
    for (uint64_t s = 100; s <= 600; s++)
        CHECK(annal_reader_get(b, s, &rec, &len) == ANNAL_OK && same(&x, s, rec, len));
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.evictions > 0 && st.held_out == 1); /* a's block, out of the cache */
    CHECK(same(&x, 5, keep, keep_len));
    CHECK(annal_reader_get(a, 6, &rec, &len) == ANNAL_OK && same(&x, 6, rec, len)); /* same block */
    CHECK(annal_reader_get(a, 500, &rec, &len) == ANNAL_OK && same(&x, 500, rec, len));
    annal_bcache_stats_get(c, &st);
    CHECK(st.held_out == 0);
    annal_reader_close(a);
    annal_reader_close(b);
    annal_bcache_free(c);
    expect_free(&x);
    tu_rmtree(dir);
    free(dir);
}

/* The offset, first seq and count of block k of segment seg. */
static int block_at(const char *dir, uint64_t seg, int k, uint64_t *off, annal_block_header *bh)
{
    unsigned char *buf;
    size_t len;
    if (annal_segdir_read(dir, seg, &buf, &len))
        return -1;
    uint64_t o = ANNAL_SEG_HEADER_SIZE;
    const char *why;
    int rc = -1;
    for (int i = 0; i <= k; i++) {
        if (annal_block_header_decode(buf + o, len - o, bh, &why))
            goto out;
        if (i < k)
            o += ANNAL_BLOCK_HEADER_SIZE + bh->frame_len;
    }
    *off = o;
    rc = 0;
out:
    free(buf);
    return rc;
}

static void a_damaged_block_is_reported_corrupt_and_never_cached(void)
{
    char *dir = tu_tmpdir("bcache");
    CHECK(make_log(dir, NEV, NULL) == ANNAL_OK);
    expect x;
    CHECK(expect_load(dir, NEV, &x) == ANNAL_OK);
    /* Flip one byte inside the zstd frame of block 2 of the first segment. */
    uint64_t off;
    annal_block_header bh;
    CHECK(block_at(dir, 1, 2, &off, &bh) == 0);
    char path[4096];
    CHECK(annal_segdir_path(dir, 1, path, sizeof(path)) == 0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    unsigned char byte;
    off_t at = (off_t)(off + ANNAL_BLOCK_HEADER_SIZE + bh.frame_len / 2);
    CHECK(pread(fd, &byte, 1, at) == 1);
    byte ^= 0x40;
    CHECK(pwrite(fd, &byte, 1, at) == 1);
    close(fd);

    annal_bcache *c;
    CHECK(annal_bcache_create(0, &c) == ANNAL_OK);
    annal_reader *r, *plain;
    CHECK(annal_reader_open(dir, &r) == ANNAL_OK && annal_reader_set_cache(r, c) == ANNAL_OK);
    CHECK(annal_reader_open(dir, &plain) == ANNAL_OK);
    const char *rec;
    size_t len;
    uint64_t mid = bh.first_seq + bh.count / 2, end = bh.first_seq + bh.count - 1;
    CHECK(annal_reader_get(plain, mid, &rec, &len) == ANNAL_ECORRUPT);
    for (int again = 0; again < 3; again++) {
        CHECK(annal_reader_get(r, bh.first_seq, &rec, &len) == ANNAL_ECORRUPT);
        CHECK(annal_reader_get(r, mid, &rec, &len) == ANNAL_ECORRUPT);
        CHECK(annal_reader_get(r, end, &rec, &len) == ANNAL_ECORRUPT);
        /* the blocks around it still read */
        CHECK(annal_reader_get(r, bh.first_seq - 1, &rec, &len) == ANNAL_OK &&
              same(&x, bh.first_seq - 1, rec, len));
        CHECK(annal_reader_get(r, end + 1, &rec, &len) == ANNAL_OK && same(&x, end + 1, rec, len));
    }
    const annal_bblock *b;
    CHECK(annal_bcache_get(c, 1, off, &b) == ANNAL_ENOTFOUND);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.inserts == 2 && st.blocks == 2); /* only the two good neighbours */
    annal_reader_close(r);
    annal_reader_close(plain);
    annal_bcache_free(c);
    expect_free(&x);
    tu_rmtree(dir);
    free(dir);
}

/* The record of seq s is event s - 1 of append_n from 0: check its seq and
 * event_id. */
static int record_is(uint64_t s, const char *rec, size_t len)
{
    char want[64], id[64];
    snprintf(want, sizeof(want), "{\"seq\":%llu,", (unsigned long long)s);
    snprintf(id, sizeof(id), "\"event_id\":\"e-%llu\"", (unsigned long long)(s - 1));
    char *copy = malloc(len + 1);
    memcpy(copy, rec, len);
    copy[len] = 0;
    int ok = strncmp(copy, want, strlen(want)) == 0 && strstr(copy, id) != NULL;
    free(copy);
    return ok;
}

typedef struct rthr {
    const char *dir;
    annal_bcache *c;
    volatile int *stop;
    uint64_t seed;
    int bad;
    uint64_t bad_seq, reads, max_last;
} rthr;

static void *tail_reader(void *p)
{
    rthr *t = p;
    annal_reader *r;
    if (annal_reader_open(t->dir, &r) || annal_reader_set_cache(r, t->c)) {
        t->bad = 1;
        return NULL;
    }
    for (int round = 0; !t->bad; round++) {
        int stopping = __atomic_load_n(t->stop, __ATOMIC_ACQUIRE);
        uint64_t last;
        if (annal_reader_last(r, &last)) {
            t->bad = 2;
            break;
        }
        if (last > t->max_last)
            t->max_last = last;
        for (int i = 0; i < 50 && last && !t->bad; i++) {
            /* half near the tail (new blocks), half anywhere (old, cached) */
            uint64_t s = (i & 1) ? 1 + t_rand(&t->seed) % last : last - t_rand(&t->seed) % (last < 40 ? last : 40);
            const char *rec;
            size_t len;
            int rc = annal_reader_get(r, s, &rec, &len);
            if (rc || !record_is(s, rec, len)) {
                t->bad = rc ? 3 : 4;
                t->bad_seq = s;
            }
            t->reads++;
        }
        if (stopping)
            break;
    }
    annal_reader_close(r);
    return NULL;
}

static void appends_during_reads_add_blocks_and_cached_ones_stay_valid(void)
{
    char *dir = tu_tmpdir("bcache");
    annal_log *log;
    CHECK(annal_log_open(dir, &small, &log, NULL, 0) == ANNAL_OK);
    CHECK(append_n(log, "acme", 0, 300, 10) == ANNAL_OK);
    annal_bcache *c;
    CHECK(annal_bcache_create(64 << 10, &c) == ANNAL_OK);
    /* A reader holding a block from before the appends. */
    annal_reader *hold;
    CHECK(annal_reader_open(dir, &hold) == ANNAL_OK && annal_reader_set_cache(hold, c) == ANNAL_OK);
    const char *held;
    size_t held_len;
    CHECK(annal_reader_get(hold, 250, &held, &held_len) == ANNAL_OK && record_is(250, held, held_len));
    char *held_copy = malloc(held_len);
    memcpy(held_copy, held, held_len);

    volatile int stop = 0;
    enum { NR = 4 };
    pthread_t th[NR];
    rthr a[NR];
    for (int i = 0; i < NR; i++) {
        a[i] = (rthr){.dir = dir, .c = c, .stop = &stop, .seed = 0xa99e0d + (uint64_t)i};
        CHECK(pthread_create(&th[i], NULL, tail_reader, &a[i]) == 0);
    }
    /* Appends in small batches: new blocks and segments appear while the
     * readers read. */
    int rc = append_n(log, "acme", 300, 2700, 7);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NR; i++)
        pthread_join(th[i], NULL);
    CHECK(rc == ANNAL_OK);
    CHECK(annal_log_close(log) == ANNAL_OK);
    for (int i = 0; i < NR; i++)
        CHECKF(a[i].bad == 0, "reader %d: failure %d at seq %llu", i, a[i].bad, (unsigned long long)a[i].bad_seq);
    int grew = 0;
    for (int i = 0; i < NR; i++)
        grew |= a[i].max_last > 300;
    CHECK(grew);
    /* The held record was never touched. */
    CHECK(held_len > 0 && memcmp(held, held_copy, held_len) == 0);
    /* Every record, through the cache (old entries and new), equals the
     * uncached reader's. */
    expect x;
    CHECK(expect_load(dir, 3000, &x) == ANNAL_OK);
    const char *rec;
    size_t len;
    for (uint64_t s = 1; s <= 3000; s++)
        CHECKF(annal_reader_get(hold, s, &rec, &len) == ANNAL_OK && same(&x, s, rec, len) && record_is(s, rec, len),
               "seq %llu", (unsigned long long)s);
    CHECK(annal_reader_get(hold, 3001, &rec, &len) == ANNAL_ENOTFOUND);
    annal_reader_close(hold);
    annal_bcache_stats st;
    annal_bcache_stats_get(c, &st);
    CHECK(st.held_out == 0 && st.inserts > 0);
    annal_bcache_free(c);
    expect_free(&x);
    free(held_copy);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    T_RUN(put_get_release_and_records_in_o1);
    T_RUN(records_not_matching_the_count_are_refused_and_not_cached);
    T_RUN(lru_eviction_keeps_held_blocks_alive_until_released);
    T_RUN(a_cache_serves_one_directory);
    T_RUN(cached_reads_equal_uncached_reads_across_blocks_and_segments);
    T_RUN(threads_fetching_with_a_tiny_budget_evict_and_stay_correct);
    T_RUN(a_record_stays_valid_while_its_block_is_evicted_by_others);
    T_RUN(a_damaged_block_is_reported_corrupt_and_never_cached);
    T_RUN(appends_during_reads_add_blocks_and_cached_ones_stay_valid);
    return t_done();
}
