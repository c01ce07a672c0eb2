/*
 * catchup.c - apply the log's tail to the index, in large transactions.
 *
 * Records are read in batches of BATCH_RECORDS, copied out of the reader,
 * parsed and their entries derived (fold.h: prepare, derive). When the lag
 * is large a second thread does that while the calling thread writes: two
 * batches in flight. The writing thread folds each batch into the open
 * write transaction (annal_fold_seal, annal_fold_apply, annal_fold_write);
 * it commits, with the applied seq and leaf, once the transaction holds
 * opt.txn_records records or the catch-up ends.
 *
 * A full map (MDB_MAP_FULL, anywhere in a transaction) aborts the
 * transaction; the map is doubled and the catch-up resumes from the applied
 * seq committed last, reading those records again.
 */
#include "index/fold.h"
#include "index/vcache.h"

#include "store/hash.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_RECORDS 8192

typedef struct batch {
    annal_fold_rec *recs;
    size_t n, cap;
    char *buf;              /* the records' bytes; recs point into it */
    size_t used, bufcap;
    annal_fold_batch fb;    /* their derived entries, sealed */
    int rc;                 /* error met after recs[0..n) */
    int end;                /* the last batch of this catch-up */
} batch;

typedef struct feed {
    annal_index *ix;
    uint64_t next, target;  /* next seq to read; last seq to apply */
    size_t batch_records;
    /* two batches between the reading thread and the writing one */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch b[2];
    int full[2];
    int stop;
} feed;

static void batch_free(batch *b)
{
    free(b->recs);
    free(b->buf);
    annal_fold_batch_free(&b->fb);
}

/* Read and prepare the next batch from f->next. */
static void fill(feed *f, batch *b)
{
    annal_index *ix = f->ix;
    b->n = b->used = 0;
    b->rc = ANNAL_OK;
    b->end = 0;
    annal_fold_reset(&b->fb);
    if (b->cap < f->batch_records) {
        annal_fold_rec *nr = realloc(b->recs, f->batch_records * sizeof(*nr));
        if (!nr) {
            b->rc = ANNAL_ENOMEM;
            b->end = 1;
            return;
        }
        b->recs = nr;
        b->cap = f->batch_records;
    }
    while (f->next <= f->target && b->n < b->cap) {
        const char *p;
        size_t len;
        int rc = annal_reader_get(ix->reader, f->next, &p, &len);
        if (rc == ANNAL_ENOTFOUND)
            rc = ANNAL_EINDEX; /* the log shrank under us: it is not the one we indexed */
        if (rc) {
            b->rc = rc;
            break;
        }
        if (b->used + len > b->bufcap) {
            if (b->n) /* full: this record starts the next batch */
                break;
            size_t nc = len > (8u << 20) ? len : (8u << 20);
            char *nb = realloc(b->buf, nc); /* nothing points into it yet */
            if (!nb) {
                b->rc = ANNAL_ENOMEM;
                break;
            }
            b->buf = nb;
            b->bufcap = nc;
        }
        char *copy = memcpy(b->buf + b->used, p, len);
        if ((rc = annal_fold_prepare(copy, len, f->next, &b->recs[b->n])) ||
            (rc = annal_fold_derive(&b->fb, &b->recs[b->n]))) {
            b->rc = rc;
            break;
        }
        b->used += len;
        b->n++;
        f->next++;
    }
    if (b->rc || f->next > f->target)
        b->end = 1;
}

static void *reading_thread(void *arg)
{
    feed *f = arg;
    pthread_setname_np(pthread_self(), "annal-ix-read");
    for (int k = 0;; k ^= 1) {
        pthread_mutex_lock(&f->mu);
        while (f->full[k] && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        int stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            return NULL;
        fill(f, &f->b[k]);
        pthread_mutex_lock(&f->mu);
        f->full[k] = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (f->b[k].end)
            return NULL;
    }
}

/* The writing side: one open transaction at a time. */
typedef struct writer {
    annal_index *ix;
    MDB_txn *txn;            /* NULL between transactions */
    size_t seen_map;         /* map size when txn began */
    ix_applied a;            /* applied seq (and leaf) as of txn, with what it applied so far */
    size_t in_txn;           /* records folded into txn */
    annal_index_progress_fn progress;
    void *ctx;
    uint64_t target;
} writer;

static int txn_begin(writer *w)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&w->ix->map_lock);
        MDB_envinfo info;
        int rc = mdb_env_info(w->ix->env, &info);
        w->seen_map = info.me_mapsize;
        if (rc == 0 && (rc = mdb_txn_begin(w->ix->env, NULL, 0, &w->txn)) == 0) {
            if ((rc = ix_get_applied(w->ix, w->txn, &w->a)) == 0) {
                w->in_txn = 0;
                return 0;
            }
            mdb_txn_abort(w->txn);
        }
        w->txn = NULL;
        pthread_rwlock_unlock(&w->ix->map_lock);
        if (rc != MDB_MAP_RESIZED || tries == 3)
            return rc;
        if ((rc = ix_grow(w->ix, 0))) /* another process grew the map: adopt its size */
            return rc;
    }
}

static void txn_abort(writer *w)
{
    if (!w->txn)
        return;
    mdb_txn_abort(w->txn);
    w->txn = NULL;
    ix_vc_reset(w->ix); /* the views' entries of the aborted txn */
    pthread_rwlock_unlock(&w->ix->map_lock);
}

static int txn_commit(writer *w)
{
    int rc = ix_vc_flush(w->ix, w->txn); /* the views' changed entries */
    if (rc == 0)
        rc = ix_put_applied(w->ix, w->txn, &w->a);
    else
        ix_vc_reset(w->ix);
    if (rc == 0)
        rc = mdb_txn_commit(w->txn);
    else
        mdb_txn_abort(w->txn);
    w->txn = NULL;
    pthread_rwlock_unlock(&w->ix->map_lock);
    if (rc == 0)
        w->ix->wrote = 1;
    if (rc == 0 && w->progress)
        w->progress(w->ctx, w->a.seq, w->target);
    return rc;
}

/* Fold batch b into the open transaction (beginning one if needed). */
static int write_batch(writer *w, batch *b, int last)
{
    int rc;
    if (!w->txn && (rc = txn_begin(w)))
        return rc;
    if (b->n) {
        uint64_t first = b->recs[0].seq;
        if (w->a.seq + 1 < first)
            return ANNAL_EINDEX; /* the index went backwards under us */
        if (w->a.seq < b->recs[b->n - 1].seq) { /* else another process applied it meanwhile */
            /* Sealing here rather than on the reading thread balances the
             * two threads' work (the parse is the larger part). */
            if ((rc = annal_fold_seal(&b->fb)))
                return rc;
            for (size_t i = (size_t)(w->a.seq + 1 - first); i < b->n; i++)
                if ((rc = annal_fold_apply(w->ix, w->txn, &b->recs[i])))
                    return rc;
            if ((rc = annal_fold_write(w->ix, w->txn, &b->fb, w->a.seq)))
                return rc;
            const annal_fold_rec *r = &b->recs[b->n - 1];
            w->a.seq = r->seq;
            annal_leaf_hash(r->rec, r->len, w->a.leaf);
            w->in_txn += b->n;
        }
    }
    if (last || w->in_txn >= w->ix->opt.txn_records)
        return txn_commit(w);
    return 0;
}

/* One run of the pipeline from seq `from` to target. Returns ANNAL_OK, an
 * error, or MDB_MAP_FULL (nothing of the open transaction was kept). */
static int pipeline(writer *w, uint64_t from)
{
    annal_index *ix = w->ix;
    feed f = {.ix = ix, .next = from, .target = w->target};
    f.batch_records = ix->opt.txn_records < BATCH_RECORDS ? ix->opt.txn_records : BATCH_RECORDS;
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    pthread_t th;
    int threaded = ix->opt.threads != 1 && w->target - from >= 2 * f.batch_records &&
                   pthread_create(&th, NULL, reading_thread, &f) == 0;
    int rc = ANNAL_OK;
    for (int k = 0;; k ^= 1) {
        batch *b = &f.b[k];
        if (threaded) {
            pthread_mutex_lock(&f.mu);
            while (!f.full[k])
                pthread_cond_wait(&f.cv, &f.mu);
            pthread_mutex_unlock(&f.mu);
        } else {
            fill(&f, b);
        }
        int end = b->end;
        rc = write_batch(w, b, end);
        if (rc)
            txn_abort(w); /* MDB_MAP_FULL included: the caller grows and resumes */
        else
            rc = b->rc;   /* a damaged log: what came before it was committed (end was set) */
        if (threaded) {
            pthread_mutex_lock(&f.mu);
            f.full[k] = 0;
            f.stop |= rc != ANNAL_OK;
            pthread_cond_broadcast(&f.cv);
            pthread_mutex_unlock(&f.mu);
        }
        if (end || rc)
            break;
    }
    if (threaded) {
        pthread_mutex_lock(&f.mu);
        f.stop = 1;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
        pthread_join(th, NULL);
    }
    batch_free(&f.b[0]);
    batch_free(&f.b[1]);
    pthread_cond_destroy(&f.cv);
    pthread_mutex_destroy(&f.mu);
    return rc;
}

static int read_applied(annal_index *ix, ix_applied *a)
{
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc == 0) {
        rc = ix_get_applied(ix, txn, a);
        ix_read_end(ix, txn);
    }
    return rc;
}

/* Before a long catch-up, grow the map once to what it will likely need
 * (the bytes per record so far, or PRESIZE_BYTES for a young index, times
 * the lag, with a quarter to spare) instead of doubling it step by step,
 * each step replaying a transaction. */
#define PRESIZE_BYTES 512
static int presize(annal_index *ix, uint64_t applied, uint64_t target)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(ix->env, &info);
    if (rc || (rc = mdb_env_stat(ix->env, &st)))
        return rc;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    uint64_t per = applied >= 100000 ? used / applied + 1 : PRESIZE_BYTES;
    uint64_t need = used + (target - applied) * per;
    need += need / 4;
    if (need <= info.me_mapsize)
        return 0;
    size_t size = info.me_mapsize;
    while (size < need && size < IX_MAP_MAX)
        size *= 2;
    return ix_grow_to(ix, size);
}

int annal_index_catch_up(annal_index *ix, annal_index_progress_fn progress, void *ctx, uint64_t *applied)
{
    if (!ix)
        return ANNAL_EINVAL;
    pthread_mutex_lock(&ix->write_lock);
    writer w = {.ix = ix, .progress = progress, .ctx = ctx};
    ix_applied a = {0};
    int rc = ix_err(read_applied(ix, &a));
    if (rc == ANNAL_OK && (rc = ix_check_log(ix->reader, &a, NULL, 0)) == ANNAL_OK)
        rc = annal_reader_last(ix->reader, &w.target);
    if (rc == ANNAL_OK && w.target - a.seq > 100000)
        rc = ix_err(presize(ix, a.seq, w.target));
    while (rc == ANNAL_OK && w.target > a.seq) {
        rc = pipeline(&w, a.seq + 1);
        if (rc != MDB_MAP_FULL)
            break;
        if ((rc = ix_grow(ix, w.seen_map)) == 0) /* then resume from what was committed */
            rc = read_applied(ix, &a);
        rc = ix_err(rc);
    }
    rc = ix_err(rc);
    pthread_mutex_unlock(&ix->write_lock);
    if (rc == ANNAL_OK && applied)
        rc = annal_index_applied(ix, applied);
    return rc;
}
