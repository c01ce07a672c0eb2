#include "verify.h"

#include "error.h"
#include "segdir.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct seg_result {
    int rc;           /* ANNAL_OK, ANNAL_ECORRUPT (see c), ANNAL_EIO, ANNAL_ENOMEM */
    int io_errno;
    annal_seg_check c;
    uint64_t size;
} seg_result;

typedef struct verify_job {
    const char *dir;
    uint64_t *segs;
    size_t n;
    seg_result *res;
    size_t next;      /* next segment to take, under mu */
    uint64_t done, total;
    pthread_mutex_t mu;
    annal_progress_fn progress;
    void *ctx;
} verify_job;

static void check_one(verify_job *j, size_t i, annal_scratch *scratch)
{
    seg_result *r = &j->res[i];
    unsigned char *buf = NULL;
    size_t len = 0;
    r->rc = annal_segdir_read(j->dir, j->segs[i], &buf, &len);
    if (r->rc) {
        r->io_errno = errno;
        return;
    }
    r->size = len;
    r->c.buf = buf;
    r->c.len = len;
    r->c.is_last = (i + 1 == j->n);
    r->c.scratch = scratch;
    r->rc = annal_seg_check_run(&r->c);
    r->c.buf = NULL;
    free(buf);
}

static void *worker(void *arg)
{
    verify_job *j = arg;
    annal_scratch scratch = {0};
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n)
            break;
        check_one(j, i, &scratch);
        pthread_mutex_lock(&j->mu);
        j->done += j->res[i].size;
        if (j->progress)
            j->progress(j->ctx, j->done, j->total);
        pthread_mutex_unlock(&j->mu);
    }
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

/* Walk the per-segment results in log order; the first problem wins. */
static int link_results(verify_job *j, annal_verify_report *rep)
{
    uint64_t next = 1;
    unsigned char chain[32] = {0};
    for (size_t i = 0; i < j->n; i++) {
        seg_result *r = &j->res[i];
        annal_seg_check *c = &r->c;
        char msg[200];
        if (r->rc == ANNAL_EIO || r->rc == ANNAL_ENOMEM) {
            annal_seg_name(j->segs[i], rep->segment);
            errno = r->io_errno;
            return r->rc;
        }
        if (j->segs[i] != next) {
            snprintf(msg, sizeof(msg), "segment missing: this file starts at seq %llu but the log "
                     "continues at seq %llu", (unsigned long long)j->segs[i], (unsigned long long)next);
            problem(rep, j->segs[i], 0, next, msg);
            return ANNAL_OK;
        }
        if (r->rc == ANNAL_ECORRUPT && c->err_offset == 0) {
            problem(rep, j->segs[i], 0, next, c->err);
            return ANNAL_OK;
        }
        if (c->hdr.first_seq != j->segs[i]) {
            problem(rep, j->segs[i], 0, next, "the segment header's first seq differs from the file name");
            return ANNAL_OK;
        }
        if (memcmp(c->hdr.prev_chain, chain, 32) != 0) {
            problem(rep, j->segs[i], 0, next,
                    i ? "chain mismatch: the segment header's previous chain head differs from the "
                        "chain at the end of the previous segment"
                      : "the first segment's previous chain head is not 32 zero bytes");
            return ANNAL_OK;
        }
        if (r->rc == ANNAL_ECORRUPT) {
            problem(rep, j->segs[i], c->err_offset, c->err_seq, c->err);
            return ANNAL_OK;
        }
        if (!c->sealed && i + 1 < j->n) {
            problem(rep, j->segs[i], c->valid_end, c->next_seq > c->hdr.first_seq ? c->next_seq - 1 : c->next_seq,
                    c->valid_end < r->size ? "damaged or truncated data where a block or the footer should be"
                                           : "the segment has no footer (truncated?) but more segments follow");
            return ANNAL_OK;
        }
        next = c->next_seq;
        memcpy(chain, c->chain, 32);
        rep->raw_bytes += c->raw_bytes;
        rep->disk_bytes += r->size;
        if (i + 1 == j->n)
            rep->torn_bytes = c->tail_bytes;
    }
    rep->ok = 1;
    rep->events = next - 1;
    memcpy(rep->chain, chain, 32);
    return ANNAL_OK;
}

int annal_verify_dir(const char *dir, int jobs, annal_progress_fn progress, void *ctx,
                     annal_verify_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    verify_job j = {.dir = dir, .progress = progress, .ctx = ctx};
    int rc = annal_segdir_list(dir, &j.segs, &j.n);
    if (rc)
        return rc;
    if (j.n == 0) {
        free(j.segs);
        return ANNAL_ENOTFOUND;
    }
    rep->segments = j.n;
    j.res = calloc(j.n, sizeof(*j.res));
    if (!j.res) {
        free(j.segs);
        return ANNAL_ENOMEM;
    }
    for (size_t i = 0; i < j.n; i++) {
        char path[4096];
        struct stat st;
        if (annal_segdir_path(dir, j.segs[i], path, sizeof(path)) == 0 && stat(path, &st) == 0)
            j.total += (uint64_t)st.st_size;
    }
    pthread_mutex_init(&j.mu, NULL);
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > j.n)
        jobs = (int)j.n;
    pthread_t *th = calloc((size_t)jobs, sizeof(*th));
    int started = 0;
    for (int t = 1; th && t < jobs; t++, started++)
        if (pthread_create(&th[t], NULL, worker, &j) != 0)
            break;
    worker(&j);
    for (int t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    free(th);
    pthread_mutex_destroy(&j.mu);
    rc = link_results(&j, rep);
    for (size_t i = 0; i < j.n; i++)
        free(j.res[i].c.index);
    free(j.res);
    free(j.segs);
    return rc;
}
