/*
 * verify.c - annal verify, parallel over the blocks of one segment at a time.
 *
 * For each segment in log order: read the file into a buffer (pread, no
 * mmap: a writer that cuts a torn tail may shrink the last file), walk its
 * block headers (annal_seg_walk_run: the header, every block header, the
 * footer), then let every thread take chunks of blocks, in order, and check
 * each fully from the chain head in the header before it
 * (annal_seg_walk_check_block). The lowest failing block, else the walk's
 * verdict, is exactly what annal_seg_check_run would say; the segments are
 * then linked in order as before, and the first problem in log order is
 * reported. While the other threads check segment i, the calling thread
 * reads and walks segment i + 1 before joining them, so at most two
 * segments are held in memory.
 */
#include "verify.h"

#include "error.h"
#include "fileio.h"
#include "segdir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOBS_MAX 256
#define CHUNK_MAX 32             /* blocks a thread takes at a time */
#define PROGRESS_EVERY_NS 50000000 /* at most one progress call per 50 ms (and one per segment) */

/* One segment: its bytes, and the walk over them. */
typedef struct seg_state {
    uint64_t first;          /* seq in the file name */
    int rc;                  /* of the read, then of the walk */
    int io_errno;
    unsigned char *buf;      /* reused from segment to segment */
    size_t cap, len;
    annal_seg_check c;       /* the walk's verdict and outputs */
    annal_seg_walk w;
} seg_state;

typedef struct verify_pool {
    pthread_mutex_t mu;
    pthread_cond_t go, idle;
    unsigned gen;            /* bumped for each segment handed to the helpers */
    int quit;
    int busy;                /* helpers not yet done with gen */
    /* The segment being checked. */
    const seg_state *cur;
    size_t chunk;
    atomic_size_t next;      /* next block to take */
    atomic_size_t first_bad; /* lowest failing block (SIZE_MAX: none) */
    annal_seg_check bad;     /* its problem, under mu */
    /* Progress. */
    annal_progress_fn progress;
    void *ctx;
    uint64_t total, done_base; /* done_base: bytes of the segments before cur */
    atomic_uint_fast64_t done_seg;
    int64_t last_report_ns;    /* under mu */
} verify_pool;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads dir/<segment first> into s->buf (kept for the next segment). */
static void read_segment(const char *dir, seg_state *s)
{
    char path[4096];
    s->len = 0;
    s->rc = ANNAL_OK;
    s->io_errno = 0;
    if (annal_segdir_path(dir, s->first, path, sizeof(path))) {
        s->rc = ANNAL_EIO;
        s->io_errno = ENAMETOOLONG;
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        s->rc = ANNAL_EIO;
        s->io_errno = errno;
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    if (size > s->cap || !s->buf) {
        free(s->buf); /* nothing to keep: no realloc copy */
        s->buf = malloc(size ? size : 1);
        s->cap = s->buf ? size : 0;
        if (!s->buf) {
            close(fd);
            s->rc = ANNAL_ENOMEM;
            s->io_errno = ENOMEM;
            return;
        }
    }
    ssize_t got = annal_read_all(fd, s->buf, size, 0);
    int e = errno;
    close(fd);
    if (got < 0) {
        s->rc = ANNAL_EIO;
        s->io_errno = e;
        return;
    }
    s->len = (size_t)got; /* a file that shrank meanwhile reads shorter */
}

/* Read segment `first` and walk its block headers. */
static void load_segment(const char *dir, seg_state *s, uint64_t first, int is_last)
{
    s->first = first;
    read_segment(dir, s);
    if (s->rc)
        return;
    memset(&s->c, 0, sizeof(s->c));
    s->c.buf = s->buf;
    s->c.len = s->len;
    s->c.is_last = is_last;
    s->rc = annal_seg_walk_run(&s->c, &s->w);
    if (s->rc == ANNAL_ENOMEM)
        s->io_errno = ENOMEM;
}

static void report_progress(verify_pool *p, int force)
{
    if (!p->progress)
        return;
    int64_t t = now_ns();
    pthread_mutex_lock(&p->mu);
    if (force || t - p->last_report_ns >= PROGRESS_EVERY_NS) {
        p->last_report_ns = t;
        p->progress(p->ctx, p->done_base + atomic_load(&p->done_seg), p->total);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Take chunks of the current segment's blocks and check them until none is
 * left (or one before them failed). */
static void check_blocks(verify_pool *p, annal_scratch *scratch)
{
    const seg_state *s = p->cur;
    const annal_seg_walk *w = &s->w;
    annal_seg_check err;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, p->chunk);
        if (i >= w->n || i > atomic_load_explicit(&p->first_bad, memory_order_relaxed))
            break;
        size_t end = i + p->chunk < w->n ? i + p->chunk : w->n;
        for (size_t k = i; k < end; k++) {
            if (k > atomic_load_explicit(&p->first_bad, memory_order_relaxed))
                break; /* a problem before it is reported instead */
            if (annal_seg_walk_check_block(&s->c, w, k, scratch, &err)) {
                pthread_mutex_lock(&p->mu);
                if (k < atomic_load(&p->first_bad)) {
                    atomic_store(&p->first_bad, k);
                    p->bad.err_offset = err.err_offset;
                    p->bad.err_seq = err.err_seq;
                    memcpy(p->bad.err, err.err, sizeof(p->bad.err));
                }
                pthread_mutex_unlock(&p->mu);
                break;
            }
        }
        const annal_seg_walk_block *last = &w->blocks[end - 1];
        atomic_fetch_add(&p->done_seg, last->offset + ANNAL_BLOCK_HEADER_SIZE + last->bh.frame_len -
                                           w->blocks[i].offset);
        report_progress(p, 0);
    }
}

static void *helper(void *arg)
{
    verify_pool *p = arg;
    annal_scratch scratch = {0};
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        check_blocks(p, &scratch);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    annal_scratch_free(&scratch);
    return NULL;
}

static void problem(annal_verify_report *rep, uint64_t first, uint64_t off, uint64_t seq, const char *what)
{
    rep->ok = 0;
    annal_seg_name(first, rep->segment);
    rep->offset = off;
    rep->seq = seq;
    snprintf(rep->what, sizeof(rep->what), "%s", what);
}

/* State carried from segment to segment while linking them in log order. */
typedef struct link_state {
    uint64_t next;          /* seq the next segment must start at */
    unsigned char chain[32];
} link_state;

/* The checks of segment i that come before its blocks' (in the order
 * annal_seg_check_run and the linking always made them). 1: a problem (or
 * an error in *rc) ends the verification; 0: go on with the blocks. */
static int link_head(const seg_state *s, size_t i, const link_state *l, annal_verify_report *rep, int *rc)
{
    const annal_seg_check *c = &s->c;
    char msg[200];
    *rc = ANNAL_OK;
    if (s->rc == ANNAL_EIO || s->rc == ANNAL_ENOMEM) {
        annal_seg_name(s->first, rep->segment);
        errno = s->io_errno;
        *rc = s->rc;
        return 1;
    }
    if (s->first != l->next) {
        snprintf(msg, sizeof(msg), "segment missing: this file starts at seq %llu but the log "
                 "continues at seq %llu", (unsigned long long)s->first, (unsigned long long)l->next);
        problem(rep, s->first, 0, l->next, msg);
        return 1;
    }
    if (s->rc == ANNAL_ECORRUPT && c->err_offset == 0) {
        problem(rep, s->first, 0, l->next, c->err);
        return 1;
    }
    if (c->hdr.first_seq != s->first) {
        problem(rep, s->first, 0, l->next, "the segment header's first seq differs from the file name");
        return 1;
    }
    if (memcmp(c->hdr.prev_chain, l->chain, 32) != 0) {
        problem(rep, s->first, 0, l->next,
                i ? "chain mismatch: the segment header's previous chain head differs from the "
                    "chain at the end of the previous segment"
                  : "the first segment's previous chain head is not 32 zero bytes");
        return 1;
    }
    return 0;
}

/* The rest, once the blocks are checked (bad: the lowest failing block's
 * problem, or NULL). */
static int link_tail(const seg_state *s, int is_last, const annal_seg_check *bad, link_state *l,
                     annal_verify_report *rep)
{
    const annal_seg_check *c = &s->c;
    if (bad) {
        problem(rep, s->first, bad->err_offset, bad->err_seq, bad->err);
        return 1;
    }
    if (s->rc == ANNAL_ECORRUPT) {
        problem(rep, s->first, c->err_offset, c->err_seq, c->err);
        return 1;
    }
    if (!c->sealed && !is_last) {
        problem(rep, s->first, c->valid_end, c->next_seq > c->hdr.first_seq ? c->next_seq - 1 : c->next_seq,
                c->valid_end < s->len ? "damaged or truncated data where a block or the footer should be"
                                      : "the segment has no footer (truncated?) but more segments follow");
        return 1;
    }
    l->next = c->next_seq;
    memcpy(l->chain, c->chain, 32);
    rep->raw_bytes += c->raw_bytes;
    rep->disk_bytes += s->len;
    rep->blocks += c->blocks;
    if (is_last)
        rep->torn_bytes = c->tail_bytes;
    return 0;
}

int annal_verify_dir(const char *dir, int jobs, annal_progress_fn progress, void *ctx,
                     annal_verify_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc = annal_segdir_list(dir, &segs, &n);
    if (rc)
        return rc;
    if (n == 0) {
        free(segs);
        return ANNAL_ENOTFOUND;
    }
    rep->segments = n;

    verify_pool p = {.progress = progress, .ctx = ctx};
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (annal_segdir_path(dir, segs[i], path, sizeof(path)) == 0 && stat(path, &st) == 0)
            p.total += (uint64_t)st.st_size;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.go, NULL);
    pthread_cond_init(&p.idle, NULL);
    if (jobs < 1)
        jobs = 1;
    if (jobs > JOBS_MAX)
        jobs = JOBS_MAX;
    pthread_t th[JOBS_MAX];
    int helpers = 0;
    for (int t = 1; t < jobs; t++, helpers++)
        if (pthread_create(&th[helpers], NULL, helper, &p) != 0)
            break;

    seg_state st[2];
    memset(st, 0, sizeof(st));
    annal_scratch scratch = {0};
    link_state l = {.next = 1};
    int done = 0;
    load_segment(dir, &st[0], segs[0], n == 1);
    for (size_t i = 0; i < n; i++) {
        seg_state *s = &st[i & 1], *nx = &st[(i + 1) & 1];
        int is_last = i + 1 == n;
        if (link_head(s, i, &l, rep, &rc)) {
            done = 1;
            break;
        }
        /* Hand the blocks to the helpers; read the next segment meanwhile;
         * then help. */
        p.cur = s;
        p.chunk = s->w.n / ((size_t)jobs * 16);
        p.chunk = p.chunk < 1 ? 1 : p.chunk > CHUNK_MAX ? CHUNK_MAX : p.chunk;
        atomic_store(&p.next, 0);
        atomic_store(&p.first_bad, SIZE_MAX);
        atomic_store(&p.done_seg, 0);
        int handed = helpers > 0 && s->w.n > 0;
        if (handed) {
            pthread_mutex_lock(&p.mu);
            p.gen++;
            p.busy = helpers;
            pthread_cond_broadcast(&p.go);
            pthread_mutex_unlock(&p.mu);
        }
        if (!is_last)
            load_segment(dir, nx, segs[i + 1], i + 2 == n);
        if (s->w.n > 0)
            check_blocks(&p, &scratch);
        if (handed) {
            pthread_mutex_lock(&p.mu);
            while (p.busy > 0)
                pthread_cond_wait(&p.idle, &p.mu);
            pthread_mutex_unlock(&p.mu);
        }
        int failed = atomic_load(&p.first_bad) != SIZE_MAX;
        if (link_tail(s, is_last, failed ? &p.bad : NULL, &l, rep)) {
            done = 1;
            break;
        }
        p.done_base += s->len;
        atomic_store(&p.done_seg, 0);
        report_progress(&p, 1);
    }
    if (!done) {
        rep->ok = 1;
        rep->events = l.next - 1;
        memcpy(rep->chain, l.chain, 32);
    }

    int saved_errno = errno; /* of an I/O error, for the caller */
    pthread_mutex_lock(&p.mu);
    p.quit = 1;
    pthread_cond_broadcast(&p.go);
    pthread_mutex_unlock(&p.mu);
    for (int t = 0; t < helpers; t++)
        pthread_join(th[t], NULL);
    pthread_cond_destroy(&p.idle);
    pthread_cond_destroy(&p.go);
    pthread_mutex_destroy(&p.mu);
    annal_scratch_free(&scratch);
    for (int k = 0; k < 2; k++) {
        free(st[k].buf);
        annal_seg_walk_free(&st[k].w);
    }
    free(segs);
    errno = saved_errno;
    return rc;
}
