/*
 * log.c - the segment log writer: recovery on open, group commit, rolls.
 * The on-disk bytes are defined in store/FORMAT.md and encoded by segment.c.
 */
#include "log.h"

#include "cpool.h"
#include "error.h"
#include "hash.h"
#include "segdir.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

/* A block awaiting its write: records pend.buf[raw_off .. raw_off+raw_len). */
typedef struct pblock {
    size_t raw_off, raw_len;
    uint64_t first_seq;
    uint32_t count;
    unsigned char chain_end[32];
} pblock;

/* Records awaiting their write, cut into blocks; the last block is open
 * (still growing) until taken by the writer thread. */
typedef struct pending {
    char *buf;
    size_t len, cap;
    pblock *blocks;
    size_t nblocks, bcap;
} pending;

struct annal_log {
    char *dir;
    int dirfd, lockfd;
    annal_log_options opt;
    const annal_io *io;

    pthread_mutex_t mu;
    pthread_cond_t work;  /* the writer thread waits for records or close */
    pthread_cond_t done;  /* syncers and back-pressured submitters wait */
    pthread_t thread;
    int thread_started;

    /* Under mu: */
    pending pend;
    uint64_t next_seq;
    unsigned char chain[32];
    int64_t last_recorded;
    uint64_t durable_seq;
    unsigned char durable_chain[32];
    int failed;        /* sticky error code; 0 while healthy */
    int failed_errno;
    int closing;
    annal_log_stats stats;

    /* Owned by the writer thread (and by open before it starts): */
    pending flushq;
    int fd;                 /* active segment */
    uint64_t seg_first;     /* its first seq */
    uint64_t file_off;      /* where the next block goes */
    uint64_t seg_raw;       /* raw bytes of its records */
    annal_block_ref *index; /* its blocks */
    size_t index_n, index_cap;
    annal_cpool *cpool;     /* compresses blocks in parallel */
    annal_cjob *jobs;
    size_t jobs_cap;
    unsigned char *wbuf;
    size_t wcap;
};

static void logline(annal_log *log, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log->opt.log_fn)
        log->opt.log_fn(log->opt.log_ctx, line);
    else
        fprintf(stderr, "annal: %s\n", line);
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

/* ---- segment files ---- */

static int fsync_dir(annal_log *log)
{
    return log->io->fsync(log->io->ctx, log->dirfd) < 0 ? ANNAL_EIO : ANNAL_OK;
}

/* Create the segment starting at first_seq (temp file, fsync, rename, fsync
 * dir) and make it the active one. */
static int segment_create(annal_log *log, uint64_t first_seq, const unsigned char prev[32])
{
    char name[ANNAL_SEG_NAME_LEN + 1], tmp[ANNAL_SEG_NAME_LEN + 8];
    annal_seg_name(first_seq, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    annal_seg_header h = {.first_seq = first_seq, .created_ns = now_ns()};
    memcpy(h.prev_chain, prev, 32);
    unsigned char hb[ANNAL_SEG_HEADER_SIZE];
    annal_seg_header_encode(&h, hb);
    int fd = openat(log->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ANNAL_EIO;
    if (annal_io_write_all(log->io, fd, hb, sizeof(hb), 0) < 0 ||
        log->io->fdatasync(log->io->ctx, fd) < 0 || renameat(log->dirfd, tmp, log->dirfd, name) < 0) {
        int e = errno;
        close(fd);
        unlinkat(log->dirfd, tmp, 0);
        errno = e;
        return ANNAL_EIO;
    }
    int rc = fsync_dir(log);
    if (rc) {
        close(fd);
        return rc;
    }
    if (log->fd >= 0)
        close(log->fd);
    log->fd = fd;
    log->seg_first = first_seq;
    log->file_off = ANNAL_SEG_HEADER_SIZE;
    log->seg_raw = 0;
    log->index_n = 0;
    return ANNAL_OK;
}

/* Write the footer of the active segment and create the next one. */
static int segment_roll(annal_log *log, uint64_t next_seq, const unsigned char chain[32])
{
    annal_seg_footer f = {
        .block_count = (uint32_t)log->index_n,
        .first_seq = log->seg_first,
        .record_count = next_seq - log->seg_first,
        .raw_bytes = log->seg_raw,
    };
    memcpy(f.chain_end, chain, 32);
    size_t size = annal_seg_footer_size(f.block_count);
    unsigned char *fb = malloc(size);
    if (!fb)
        return ANNAL_ENOMEM;
    annal_seg_footer_encode(&f, log->index, fb);
    int bad = annal_io_write_all(log->io, log->fd, fb, size, (off_t)log->file_off) < 0 ||
              log->io->fdatasync(log->io->ctx, log->fd) < 0;
    free(fb);
    if (bad)
        return ANNAL_EIO;
    int rc = segment_create(log, next_seq, chain);
    if (rc == ANNAL_OK) {
        char name[ANNAL_SEG_NAME_LEN + 1];
        annal_seg_name(next_seq, name);
        logline(log, "sealed segment of seqs %llu-%llu, started %s",
                (unsigned long long)f.first_seq, (unsigned long long)(next_seq - 1), name);
    }
    return rc;
}

/* ---- the writer thread ---- */

/* Write wbuf[0..w) at the end of the active segment and fdatasync it. */
static int write_out(annal_log *log, size_t w)
{
    if (w == 0)
        return ANNAL_OK;
    if (annal_io_write_all(log->io, log->fd, log->wbuf, w, (off_t)log->file_off) < 0 ||
        log->io->fdatasync(log->io->ctx, log->fd) < 0)
        return ANNAL_EIO;
    log->file_off += w;
    return ANNAL_OK;
}

/* Compress, write and fdatasync the blocks of log->flushq. The blocks are
 * compressed in parallel into slots of wbuf, then packed in order; a block
 * that would take the active segment past segment_bytes goes into a new
 * segment: the blocks before it are written, the segment is sealed, the
 * next one is created. *rolled counts the segments sealed. */
static int write_blocks(annal_log *log, int *rolled)
{
    pending *q = &log->flushq;
    size_t need = 0;
    for (size_t i = 0; i < q->nblocks; i++)
        need += ANNAL_BLOCK_HEADER_SIZE + ZSTD_compressBound(q->blocks[i].raw_len);
    if (grow((void **)&log->wbuf, &log->wcap, need, 1) ||
        grow((void **)&log->jobs, &log->jobs_cap, q->nblocks, sizeof(*log->jobs)) ||
        grow((void **)&log->index, &log->index_cap, log->index_n + q->nblocks, sizeof(*log->index)))
        return ANNAL_ENOMEM;
    size_t slot = 0;
    for (size_t i = 0; i < q->nblocks; i++) {
        annal_cjob *j = &log->jobs[i];
        j->src = q->buf + q->blocks[i].raw_off;
        j->src_len = q->blocks[i].raw_len;
        j->dst = log->wbuf + slot + ANNAL_BLOCK_HEADER_SIZE;
        j->dst_cap = ZSTD_compressBound(j->src_len);
        slot += ANNAL_BLOCK_HEADER_SIZE + j->dst_cap;
    }
    int rc = annal_cpool_run(log->cpool, log->jobs, q->nblocks);
    if (rc)
        return rc;
    size_t w = 0; /* bytes packed at the start of wbuf; always <= the next slot */
    for (size_t i = 0; i < q->nblocks; i++) {
        const pblock *b = &q->blocks[i];
        const annal_cjob *j = &log->jobs[i];
        size_t fl = j->out_len, bsize = ANNAL_BLOCK_HEADER_SIZE + fl;
        if (log->index_n > 0 && log->file_off + w + bsize > log->opt.segment_bytes) {
            rc = write_out(log, w);
            if (rc == ANNAL_OK)
                rc = segment_roll(log, b->first_seq, i ? q->blocks[i - 1].chain_end : log->durable_chain);
            if (rc)
                return rc;
            (*rolled)++;
            w = 0;
        }
        unsigned char *frame = log->wbuf + w + ANNAL_BLOCK_HEADER_SIZE;
        memmove(frame, j->dst, fl);
        annal_block_header bh = {.count = b->count, .first_seq = b->first_seq,
                                 .raw_len = (uint32_t)b->raw_len, .frame_len = (uint32_t)fl};
        memcpy(bh.chain_end, b->chain_end, 32);
        unsigned char h[32];
        annal_sha256_2(frame, fl, NULL, 0, h);
        memcpy(bh.frame_check, h, 8);
        annal_block_header_encode(&bh, log->wbuf + w);
        log->index[log->index_n].offset = log->file_off + w;
        log->index[log->index_n].first_seq = b->first_seq;
        log->index_n++;
        log->seg_raw += b->raw_len;
        w += bsize;
    }
    return write_out(log, w);
}

static void *writer_main(void *arg)
{
    annal_log *log = arg;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (!log->pend.nblocks && !log->closing)
            pthread_cond_wait(&log->work, &log->mu);
        if (!log->pend.nblocks)
            break; /* closing, nothing left */
        /* Take every pending record; the open block closes here. */
        pending t = log->flushq;
        log->flushq = log->pend;
        log->pend = t;
        log->pend.len = 0;
        log->pend.nblocks = 0;
        pblock *last = &log->flushq.blocks[log->flushq.nblocks - 1];
        memcpy(last->chain_end, log->chain, 32);
        uint64_t upto = log->next_seq - 1;
        unsigned char chain[32];
        memcpy(chain, log->chain, 32);
        pthread_cond_broadcast(&log->done); /* back-pressured submitters */
        pthread_mutex_unlock(&log->mu);

        int rolled = 0;
        int rc = write_blocks(log, &rolled);
        int e = errno;

        pthread_mutex_lock(&log->mu);
        if (rc != ANNAL_OK) {
            log->failed = rc;
            log->failed_errno = e;
            logline(log, "write failed (%s): events after seq %llu were not acknowledged; "
                    "reopen the log to recover", rc == ANNAL_EIO ? strerror(e) : annal_strerror(rc),
                    (unsigned long long)log->durable_seq);
            pthread_cond_broadcast(&log->done);
            break;
        }
        log->stats.commits++;
        log->stats.committed_events += upto - log->durable_seq;
        log->stats.blocks += log->flushq.nblocks;
        log->stats.segments_sealed += (uint64_t)rolled;
        log->durable_seq = upto;
        memcpy(log->durable_chain, chain, 32);
        pthread_cond_broadcast(&log->done);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* ---- submit / sync ---- */

int annal_log_submit(annal_log *log, const annal_event *evs, size_t n, annal_append_result *res)
{
    if (!log || !evs || !n)
        return ANNAL_EINVAL;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += evs[i].body_len + ANNAL_RECORD_OVERHEAD + 1;
    pthread_mutex_lock(&log->mu);
    while (!log->failed && !log->closing && log->pend.len > 0 && log->pend.len + need > log->opt.max_pending)
        pthread_cond_wait(&log->done, &log->mu);
    if (log->failed || log->closing) {
        pthread_mutex_unlock(&log->mu);
        return ANNAL_ECLOSED;
    }
    pending *p = &log->pend;
    if (grow((void **)&p->buf, &p->cap, p->len + need, 1) ||
        grow((void **)&p->blocks, &p->bcap, p->nblocks + n + 1, sizeof(*p->blocks))) {
        pthread_mutex_unlock(&log->mu);
        return ANNAL_ENOMEM;
    }
    int64_t rec_at = now_ns();
    if (rec_at < log->last_recorded)
        rec_at = log->last_recorded;
    log->last_recorded = rec_at;
    res->first_seq = log->next_seq;
    res->recorded_at_ns = rec_at;
    for (size_t i = 0; i < n; i++) {
        pblock *b = p->nblocks ? &p->blocks[p->nblocks - 1] : NULL;
        size_t est = evs[i].body_len + ANNAL_RECORD_OVERHEAD + 1;
        if (!b || (b->raw_len && b->raw_len + est > log->opt.block_bytes)) {
            if (b)
                memcpy(b->chain_end, log->chain, 32);
            b = &p->blocks[p->nblocks++];
            b->raw_off = p->len;
            b->raw_len = 0;
            b->count = 0;
            b->first_seq = log->next_seq;
        }
        size_t len = annal_record_build(&evs[i], log->next_seq, rec_at, p->buf + p->len, p->cap - p->len);
        p->buf[p->len + len] = '\n';
        annal_leaf_hash(p->buf + p->len, len, res->leaf);
        annal_chain_next(log->chain, res->leaf, log->chain);
        p->len += len + 1;
        b->raw_len += len + 1;
        b->count++;
        log->next_seq++;
    }
    res->last_seq = log->next_seq - 1;
    memcpy(res->chain, log->chain, 32);
    pthread_cond_signal(&log->work);
    pthread_mutex_unlock(&log->mu);
    return ANNAL_OK;
}

int annal_log_sync(annal_log *log, uint64_t seq)
{
    if (!log)
        return ANNAL_EINVAL;
    pthread_mutex_lock(&log->mu);
    while (log->durable_seq < seq && !log->failed)
        pthread_cond_wait(&log->done, &log->mu);
    int rc = ANNAL_OK;
    if (log->durable_seq < seq) {
        rc = log->failed;
        errno = log->failed_errno;
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int annal_log_append(annal_log *log, const annal_event *evs, size_t n, annal_append_result *res)
{
    int rc = annal_log_submit(log, evs, n, res);
    return rc ? rc : annal_log_sync(log, res->last_seq);
}

void annal_log_stats_get(annal_log *log, annal_log_stats *st)
{
    pthread_mutex_lock(&log->mu);
    *st = log->stats;
    st->durable_seq = log->durable_seq;
    memcpy(st->chain, log->durable_chain, 32);
    pthread_mutex_unlock(&log->mu);
}

/* ---- open / recovery ---- */

static void remove_temp_files(annal_log *log)
{
    DIR *d = fdopendir(dup(log->dirfd));
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 8 && strcmp(e->d_name + l - 8, ".seg.tmp") == 0)
            unlinkat(log->dirfd, e->d_name, 0);
    }
    closedir(d);
}

/* The cheap check of a sealed segment that is not the last: its header links
 * to the previous segment and its footer is intact. Advances *next, chain. */
static int check_sealed(annal_log *log, uint64_t first, uint64_t *next, unsigned char chain[32],
                        char *err, size_t errlen)
{
    char name[ANNAL_SEG_NAME_LEN + 1];
    annal_seg_name(first, name);
    int fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "cannot open segment %s: %s", name, strerror(errno));
        return ANNAL_EIO;
    }
    struct stat st;
    unsigned char hb[ANNAL_SEG_HEADER_SIZE], tail[8];
    unsigned char *fb = NULL;
    const char *why = NULL;
    annal_seg_header h;
    annal_seg_footer f;
    uint64_t foff = 0;
    int rc = ANNAL_ECORRUPT;
    if (fstat(fd, &st) < 0) {
        seterr(err, errlen, "cannot stat segment %s: %s", name, strerror(errno));
        rc = ANNAL_EIO;
    } else if (annal_read_all(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) ||
               annal_seg_header_decode(hb, sizeof(hb), &h, &why)) {
        seterr(err, errlen, "segment %s: %s; run `annal verify`", name, why ? why : "header unreadable");
    } else if (h.first_seq != first || first != *next || memcmp(h.prev_chain, chain, 32) != 0) {
        seterr(err, errlen, "segment %s does not link to the segment before it (seq %llu expected); "
               "run `annal verify`", name, (unsigned long long)*next);
    } else if ((uint64_t)st.st_size < ANNAL_SEG_HEADER_SIZE + ANNAL_FOOTER_FIXED ||
               annal_read_all(fd, tail, 8, st.st_size - 8) != 8 ||
               !annal_seg_footer_locate(tail, (uint64_t)st.st_size, &foff)) {
        seterr(err, errlen, "segment %s is not the last one but has no footer; run `annal verify`", name);
    } else if (!(fb = malloc((size_t)st.st_size - foff)) ||
               annal_read_all(fd, fb, (size_t)st.st_size - foff, (off_t)foff) != (ssize_t)(st.st_size - foff) ||
               annal_seg_footer_decode(fb, (size_t)st.st_size - foff, &f, NULL, &why)) {
        seterr(err, errlen, "segment %s: %s; run `annal verify`", name, why ? why : "footer unreadable");
    } else if (f.first_seq != first || f.record_count == 0) {
        seterr(err, errlen, "segment %s: footer does not match its header; run `annal verify`", name);
    } else {
        *next = first + f.record_count;
        memcpy(chain, f.chain_end, 32);
        rc = ANNAL_OK;
    }
    free(fb);
    close(fd);
    return rc;
}

/* Full check of the last segment; cuts a torn tail; makes it active (or,
 * when it is sealed, starts the next one). */
static int recover_last(annal_log *log, uint64_t first, uint64_t *next, unsigned char chain[32],
                        char *err, size_t errlen)
{
    char name[ANNAL_SEG_NAME_LEN + 1];
    annal_seg_name(first, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = annal_segdir_read(log->dir, first, &buf, &len);
    if (rc) {
        seterr(err, errlen, "cannot read segment %s: %s", name, annal_strerror(rc));
        return rc;
    }
    annal_scratch scratch = {0};
    annal_seg_check c = {.buf = buf, .len = len, .is_last = 1, .scratch = &scratch, .keep_index = 1};
    rc = annal_seg_check_run(&c);
    annal_scratch_free(&scratch);
    if (rc == ANNAL_ECORRUPT) {
        seterr(err, errlen, "segment %s, offset %llu, seq %llu: %s; run `annal verify`", name,
               (unsigned long long)c.err_offset, (unsigned long long)c.err_seq, c.err);
        goto out;
    }
    if (rc)
        goto out;
    rc = ANNAL_ECORRUPT;
    if (c.hdr.first_seq != first || first != *next || memcmp(c.hdr.prev_chain, chain, 32) != 0) {
        seterr(err, errlen, "segment %s does not link to the segment before it (seq %llu expected); "
               "run `annal verify`", name, (unsigned long long)*next);
        goto out;
    }
    rc = ANNAL_OK;
    *next = c.next_seq;
    memcpy(chain, c.chain, 32);
    if (c.sealed) {
        rc = segment_create(log, c.next_seq, c.chain);
        if (rc)
            seterr(err, errlen, "cannot create the segment after %s: %s", name, strerror(errno));
        goto out;
    }
    int fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = ANNAL_EIO;
        seterr(err, errlen, "cannot open segment %s for writing: %s", name, strerror(errno));
        goto out;
    }
    if (c.tail_bytes) {
        annal_block_header bh;
        const char *why;
        char seqs[96] = "no complete block header, so no seq";
        if (annal_block_header_decode(buf + c.valid_end, c.tail_bytes, &bh, &why) == 0)
            snprintf(seqs, sizeof(seqs), "seqs %llu-%llu",
                     (unsigned long long)bh.first_seq, (unsigned long long)(bh.first_seq + bh.count - 1));
        if (log->io->ftruncate(log->io->ctx, fd, (off_t)c.valid_end) < 0 ||
            log->io->fdatasync(log->io->ctx, fd) < 0) {
            rc = ANNAL_EIO;
            seterr(err, errlen, "cannot cut the torn tail of %s: %s", name, strerror(errno));
            close(fd);
            goto out;
        }
        logline(log, "recovery: cut a torn tail of %llu bytes from %s at offset %llu (%s; never acknowledged)",
                (unsigned long long)c.tail_bytes, name, (unsigned long long)c.valid_end, seqs);
    }
    log->fd = fd;
    log->seg_first = first;
    log->file_off = c.valid_end;
    log->seg_raw = c.raw_bytes;
    log->index = c.index;
    log->index_n = log->index_cap = c.index_n;
    c.index = NULL;
out:
    free(c.index);
    free(buf);
    return rc;
}

static int recover(annal_log *log, char *err, size_t errlen)
{
    remove_temp_files(log);
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc = annal_segdir_list(log->dir, &segs, &n);
    if (rc) {
        seterr(err, errlen, "cannot list %s: %s", log->dir, strerror(errno));
        return rc;
    }
    uint64_t next = 1;
    unsigned char chain[32] = {0};
    if (n == 0) {
        rc = segment_create(log, 1, chain);
        if (rc)
            seterr(err, errlen, "cannot create the first segment in %s: %s", log->dir, strerror(errno));
    }
    for (size_t i = 0; i < n && rc == ANNAL_OK; i++) {
        if (segs[i] != next) {
            char name[ANNAL_SEG_NAME_LEN + 1];
            annal_seg_name(segs[i], name);
            seterr(err, errlen, "segment %s starts at seq %llu but seq %llu was expected: "
                   "a segment is missing; run `annal verify`", name,
                   (unsigned long long)segs[i], (unsigned long long)next);
            rc = ANNAL_ECORRUPT;
        } else if (i + 1 < n) {
            rc = check_sealed(log, segs[i], &next, chain, err, errlen);
        } else {
            rc = recover_last(log, segs[i], &next, chain, err, errlen);
        }
    }
    free(segs);
    if (rc == ANNAL_OK) {
        log->next_seq = next;
        log->durable_seq = next - 1;
        memcpy(log->chain, chain, 32);
        memcpy(log->durable_chain, chain, 32);
    }
    return rc;
}

static int lock_dir(annal_log *log, char *err, size_t errlen)
{
    log->lockfd = openat(log->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lockfd < 0) {
        seterr(err, errlen, "cannot create %s/LOCK: %s", log->dir, strerror(errno));
        return ANNAL_EIO;
    }
    if (flock(log->lockfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            seterr(err, errlen, "%s is in use by another writer (an `annal serve` or `annal append`); "
                   "stop it or append through it", log->dir);
            return ANNAL_ELOCKED;
        }
        seterr(err, errlen, "cannot lock %s/LOCK: %s", log->dir, strerror(errno));
        return ANNAL_EIO;
    }
    return ANNAL_OK;
}

static void log_free(annal_log *log)
{
    if (log->fd >= 0)
        close(log->fd);
    if (log->lockfd >= 0)
        close(log->lockfd); /* releases the flock */
    if (log->dirfd >= 0)
        close(log->dirfd);
    annal_cpool_free(log->cpool);
    free(log->jobs);
    free(log->pend.buf);
    free(log->pend.blocks);
    free(log->flushq.buf);
    free(log->flushq.blocks);
    free(log->index);
    free(log->wbuf);
    free(log->dir);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->work);
    pthread_cond_destroy(&log->done);
    free(log);
}

int annal_log_open(const char *dir, const annal_log_options *opt, annal_log **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!dir || !out)
        return ANNAL_EINVAL;
    *out = NULL;
    annal_log *log = calloc(1, sizeof(*log));
    if (!log)
        return ANNAL_ENOMEM;
    log->fd = log->lockfd = log->dirfd = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->work, NULL);
    pthread_cond_init(&log->done, NULL);
    if (opt)
        log->opt = *opt;
    if (!log->opt.segment_bytes)
        log->opt.segment_bytes = 64u << 20;
    if (!log->opt.block_bytes)
        log->opt.block_bytes = 64u << 10;
    if (log->opt.block_bytes < 1024)
        log->opt.block_bytes = 1024;
    if (!log->opt.zstd_level)
        log->opt.zstd_level = 1;
    if (!log->opt.max_pending)
        log->opt.max_pending = 64u << 20;
    log->io = log->opt.io ? log->opt.io : &annal_io_posix;
    int rc = ANNAL_ENOMEM;
    int nthreads = log->opt.compress_threads;
    if (nthreads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = cpus > 1 ? (int)(cpus > 4 ? 3 : cpus - 1) : 0;
    }
    if (nthreads < 0)
        nthreads = 0;
    if (!(log->dir = strdup(dir)) || annal_cpool_create(nthreads, log->opt.zstd_level, &log->cpool))
        goto fail;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        rc = ANNAL_EIO;
        seterr(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0) {
        rc = ANNAL_EIO;
        seterr(err, errlen, "cannot open data directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = lock_dir(log, err, errlen)) || (rc = recover(log, err, errlen)))
        goto fail;
    if (pthread_create(&log->thread, NULL, writer_main, log) != 0) {
        rc = ANNAL_ENOMEM;
        seterr(err, errlen, "cannot start the log writer thread");
        goto fail;
    }
    log->thread_started = 1;
    *out = log;
    return ANNAL_OK;
fail:
    if (rc == ANNAL_ENOMEM && err && errlen && !err[0])
        seterr(err, errlen, "out of memory");
    log_free(log);
    return rc;
}

int annal_log_close(annal_log *log)
{
    if (!log)
        return ANNAL_OK;
    pthread_mutex_lock(&log->mu);
    log->closing = 1;
    pthread_cond_broadcast(&log->work);
    pthread_cond_broadcast(&log->done);
    pthread_mutex_unlock(&log->mu);
    if (log->thread_started)
        pthread_join(log->thread, NULL);
    int rc = log->failed;
    log_free(log);
    return rc;
}
