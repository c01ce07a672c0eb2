/*
 * db.c - a data directory opened for writing: idempotent ingest into the
 * log, an indexer thread that settles the index and the rules behind it.
 * The contract is in index/db.h; how it is kept:
 *
 * Locks, always taken in this order when nested:
 *   settle_mu  one settle at a time (catch-up, pending, derived appends);
 *   ing        the table of unindexed event_ids and the order of submits
 *              to the log (so seqs are given in table order);
 *   mu         the indexer's flags and the condition variables.
 * A submit never holds ing while it waits for anything but the log's queue.
 *
 * The table. A chained hash table of "tenant 0x00 event_id" keys, each with
 * its seq, also linked in a FIFO in seq order (entries are added under ing,
 * in the order their events reach the log). After each catch-up the entries
 * with seq <= the applied seq are pruned from the front: the index answers
 * for them from then on.
 *
 * Lookups outside the lock. The index lookups of a submit (one LMDB read
 * transaction each) run before it takes ing, so that submitters do them in
 * parallel. That is exact because pruned_gen is bumped by every prune: a
 * key not found in the index and not in the table was either never
 * submitted, or was pruned after the lookup began (its commit came after
 * the lookup's snapshot), which the submit sees as a changed pruned_gen and
 * then looks the missing keys up again under ing.
 */
#include "index/db.h"
#include "index/ckpt.h"

#include "index/views.h"
#include "store/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_MAX_UNINDEXED_DEFAULT 262144
#define DB_SETTLE_ROUNDS 64         /* derived-event rounds per settle; chains are ~3 deep */
#define PLACEHOLDER (1ull << 63)    /* seq field: position in the batch being submitted */
#define KEY_MAX (2 * ANNAL_ID_MAX + 1)

/* ---------------------------------------------------------------- the table */

typedef struct idnode {
    struct idnode *bnext;    /* bucket chain */
    struct idnode *fnext;    /* FIFO, in seq order */
    uint64_t seq;            /* PLACEHOLDER | position while its submit runs */
    uint64_t hash;
    uint16_t klen;
    char key[];
} idnode;

typedef struct idtable {
    idnode **buckets;
    size_t nb;               /* a power of two */
    size_t count;
    idnode *head, *tail;
} idtable;

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static int tab_init(idtable *t)
{
    memset(t, 0, sizeof(*t));
    t->nb = 1024;
    t->buckets = calloc(t->nb, sizeof(*t->buckets));
    return t->buckets ? ANNAL_OK : ANNAL_ENOMEM;
}

static void tab_free(idtable *t)
{
    for (idnode *x = t->head, *nx; x; x = nx) {
        nx = x->fnext;
        free(x);
    }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static idnode *tab_find(const idtable *t, const char *k, size_t n, uint64_t h)
{
    for (idnode *x = t->buckets[h & (t->nb - 1)]; x; x = x->bnext)
        if (x->hash == h && x->klen == n && !memcmp(x->key, k, n))
            return x;
    return NULL;
}

/* Double the buckets; on allocation failure keep the old ones (longer chains). */
static void tab_grow(idtable *t)
{
    size_t nb = t->nb * 2;
    idnode **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (idnode *x = t->head; x; x = x->fnext) {
        idnode **slot = &b[x->hash & (nb - 1)];
        x->bnext = *slot;
        *slot = x;
    }
    free(t->buckets);
    t->buckets = b;
    t->nb = nb;
}

static idnode *tab_insert(idtable *t, const char *k, size_t n, uint64_t h, uint64_t seq)
{
    idnode *x = malloc(sizeof(*x) + n);
    if (!x)
        return NULL;
    memcpy(x->key, k, n);
    x->klen = (uint16_t)n;
    x->hash = h;
    x->seq = seq;
    x->fnext = NULL;
    idnode **slot = &t->buckets[h & (t->nb - 1)];
    x->bnext = *slot;
    *slot = x;
    if (t->tail)
        t->tail->fnext = x;
    else
        t->head = x;
    t->tail = x;
    if (++t->count > t->nb)
        tab_grow(t);
    return x;
}

static void tab_unlink(idtable *t, idnode *x)
{
    idnode **p = &t->buckets[x->hash & (t->nb - 1)];
    while (*p != x)
        p = &(*p)->bnext;
    *p = x->bnext;
    t->count--;
}

/* Remove the entries after prev (prev NULL: all of them); they were added
 * by a submit that failed. */
static void tab_rollback(idtable *t, idnode *prev)
{
    idnode *x = prev ? prev->fnext : t->head;
    while (x) {
        idnode *nx = x->fnext;
        tab_unlink(t, x);
        free(x);
        x = nx;
    }
    if (prev)
        prev->fnext = NULL;
    else
        t->head = NULL;
    t->tail = prev;
}

/* Remove the entries with seq <= applied (the FIFO front); how many. */
static size_t tab_prune(idtable *t, uint64_t applied)
{
    size_t removed = 0;
    while (t->head && !(t->head->seq & PLACEHOLDER) && t->head->seq <= applied) {
        idnode *x = t->head;
        t->head = x->fnext;
        tab_unlink(t, x);
        free(x);
        removed++;
    }
    if (!t->head)
        t->tail = NULL;
    return removed;
}

/* ---------------------------------------------------------------- the handle */

struct annal_db {
    annal_log *log;
    annal_index *ix;
    annal_db_options opt;

    pthread_mutex_t settle_mu;
    _Atomic uint64_t settled_seq;

    pthread_mutex_t ing;
    idtable ids;                  /* under ing */
    uint64_t last_submitted;      /* under ing: last seq queued to the log */
    _Atomic uint64_t pruned_gen;  /* bumped (under ing) by each prune that removed entries */
    _Atomic size_t unindexed;     /* ids.count, readable without ing */

    pthread_mutex_t mu;
    pthread_cond_t wake;          /* the indexer waits for work */
    pthread_cond_t room;          /* back-pressured submits wait for a prune */
    int want, stop;               /* under mu */
    int thread_started;
    pthread_t thread;

    _Atomic int err;              /* sticky error of a settle */
    /* checkpoints: under mu (issued by the indexer, at open and at close) */
    uint64_t ckpt_size, ckpt_failed_at;
    int64_t ckpt_time_ns;
    _Atomic uint64_t n_checkpoints, ckpt_size_pub;
    char *dir;                    /* the data directory (checkpoints/ is in it) */
    _Atomic uint64_t n_appended, n_duplicates, n_derived, n_settles;
};

static void db_say(annal_db *db, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (db->opt.log.log_fn)
        db->opt.log.log_fn(db->opt.log.log_ctx, line);
    else
        fprintf(stderr, "annal: %s\n", line);
}

static void set_err(annal_db *db, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&db->err, &zero, rc);
    pthread_mutex_lock(&db->mu);
    pthread_cond_broadcast(&db->room);
    pthread_mutex_unlock(&db->mu);
}

static void wake_indexer(annal_db *db)
{
    if (!db->thread_started)
        return;
    pthread_mutex_lock(&db->mu);
    if (!db->want) {
        db->want = 1;
        pthread_cond_signal(&db->wake);
    }
    pthread_mutex_unlock(&db->mu);
}

/* After a catch-up to `applied`: the index answers for those keys now. */
static void prune(annal_db *db, uint64_t applied)
{
    pthread_mutex_lock(&db->ing);
    size_t removed = tab_prune(&db->ids, applied);
    if (removed)
        atomic_fetch_add(&db->pruned_gen, 1);
    atomic_store(&db->unindexed, db->ids.count);
    pthread_mutex_unlock(&db->ing);
    if (removed) {
        pthread_mutex_lock(&db->mu);
        pthread_cond_broadcast(&db->room);
        pthread_mutex_unlock(&db->mu);
    }
}

/* ---------------------------------------------------------------- submit */

/* The event's tenant and event_id as C strings, and the table key. */
typedef struct evkey {
    char tenant[ANNAL_ID_MAX + 1], id[ANNAL_ID_MAX + 1];
    char key[KEY_MAX];
    size_t klen;
} evkey;

static int make_key(const annal_event *ev, evkey *k)
{
    size_t tn = ev->tenant_id.n, en = ev->event_id.n;
    if (!tn || tn > ANNAL_ID_MAX || !en || en > ANNAL_ID_MAX)
        return ANNAL_EINVAL;
    memcpy(k->tenant, ev->tenant_id.p, tn);
    k->tenant[tn] = 0;
    memcpy(k->id, ev->event_id.p, en);
    k->id[en] = 0;
    memcpy(k->key, ev->tenant_id.p, tn);
    k->key[tn] = 0;
    memcpy(k->key + tn + 1, ev->event_id.p, en);
    k->klen = tn + 1 + en;
    return ANNAL_OK;
}

/* The index's answer for the event's key: *seq, or 0 when absent. */
static int lookup(annal_db *db, const annal_event *ev, uint64_t *seq)
{
    evkey k;
    int rc = make_key(ev, &k);
    if (rc)
        return rc;
    rc = annal_index_lookup_event_id(db->ix, k.tenant, k.id, seq);
    if (rc == ANNAL_ENOTFOUND) {
        *seq = 0;
        rc = ANNAL_OK;
    }
    return rc;
}

static int settle_run(annal_db *db, annal_index_progress_fn progress, void *ctx);

/* Back-pressure: wait while the table is over its bound. Each turn makes
 * what was queued so far durable (the indexer sees only what reached the
 * file), then has it indexed: by the indexer (waiting for its next prune)
 * or, without one, by settling here. */
static int wait_room(annal_db *db)
{
    while (atomic_load(&db->unindexed) > db->opt.max_unindexed) {
        int rc = atomic_load(&db->err);
        if (rc)
            return rc;
        uint64_t gen = atomic_load(&db->pruned_gen);
        pthread_mutex_lock(&db->ing);
        uint64_t last = db->last_submitted;
        pthread_mutex_unlock(&db->ing);
        if (last && (rc = annal_log_sync(db->log, last)))
            return rc;
        if (!db->thread_started) {
            if ((rc = settle_run(db, NULL, NULL)))
                return rc;
            continue;
        }
        pthread_mutex_lock(&db->mu);
        if (!db->want) {
            db->want = 1;
            pthread_cond_signal(&db->wake);
        }
        /* A prune, an error or close ends the wait; the time limit only
         * guards the loop (it syncs and wakes the indexer again). */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (atomic_load(&db->pruned_gen) == gen && !atomic_load(&db->err) && !db->stop)
            if (pthread_cond_timedwait(&db->room, &db->mu, &until))
                break;
        int stop = db->stop;
        pthread_mutex_unlock(&db->mu);
        if (stop)
            return ANNAL_ECLOSED;
    }
    return ANNAL_OK;
}

/* The idempotent submit; derived: called by a settle (no back-pressure,
 * counted as derived). *added gets how many events were appended. */
static int submit(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res, uint64_t *sync_seq,
                  int derived, size_t *added, annal_append_result *out_ar)
{
    if (out_ar)
        memset(out_ar, 0, sizeof(*out_ar));
    if (sync_seq)
        *sync_seq = 0;
    if (added)
        *added = 0;
    if (!db || !evs || !n || !res)
        return ANNAL_EINVAL;
    int rc = atomic_load(&db->err);
    if (rc)
        return rc;
    if (!derived && (rc = wait_room(db)))
        return rc;

    /* The index's answers, outside the lock (see the top of this file). */
    uint64_t *first = NULL;
    size_t with_id = 0;
    for (size_t i = 0; i < n; i++)
        with_id += evs[i].event_id.n != 0;
    uint64_t gen0 = atomic_load(&db->pruned_gen);
    if (with_id) {
        if (!(first = calloc(n, sizeof(*first))))
            return ANNAL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (evs[i].event_id.n && (rc = lookup(db, &evs[i], &first[i]))) {
                free(first);
                return rc;
            }
    }

    pthread_mutex_lock(&db->ing);
    if (with_id && atomic_load(&db->pruned_gen) != gen0) {
        for (size_t i = 0; i < n; i++)
            if (evs[i].event_id.n && !first[i] && (rc = lookup(db, &evs[i], &first[i]))) {
                pthread_mutex_unlock(&db->ing);
                free(first);
                return rc;
            }
    }
    idnode *prev_tail = db->ids.tail;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        res[i].duplicate = 0;
        if (!evs[i].event_id.n) {
            res[i].seq = PLACEHOLDER | k++;
            continue;
        }
        if (first[i]) {
            res[i].seq = first[i];
            res[i].duplicate = 1;
            continue;
        }
        evkey key;
        if ((rc = make_key(&evs[i], &key)))
            break;
        uint64_t h = hash_key(key.key, key.klen);
        idnode *x = tab_find(&db->ids, key.key, key.klen, h);
        if (x) { /* submitted before and not indexed yet, or earlier in this batch */
            res[i].seq = x->seq;
            res[i].duplicate = 1;
            continue;
        }
        if (!tab_insert(&db->ids, key.key, key.klen, h, PLACEHOLDER | k)) {
            rc = ANNAL_ENOMEM;
            break;
        }
        res[i].seq = PLACEHOLDER | k++;
    }
    annal_append_result ar = {0};
    annal_event *sub = NULL;
    if (!rc && k) {
        const annal_event *batch = evs;
        if (k < n) { /* the new events alone, in order */
            if (!(sub = malloc(k * sizeof(*sub)))) {
                rc = ANNAL_ENOMEM;
            } else {
                size_t j = 0;
                for (size_t i = 0; i < n; i++)
                    if (!res[i].duplicate)
                        sub[j++] = evs[i];
                batch = sub;
            }
        }
        if (!rc)
            rc = annal_log_submit(db->log, batch, k, &ar);
    }
    if (rc) {
        tab_rollback(&db->ids, prev_tail);
        atomic_store(&db->unindexed, db->ids.count);
        pthread_mutex_unlock(&db->ing);
        free(sub);
        free(first);
        return rc;
    }
    if (k) {
        for (idnode *x = prev_tail ? prev_tail->fnext : db->ids.head; x; x = x->fnext)
            x->seq = ar.first_seq + (x->seq & ~PLACEHOLDER);
        db->last_submitted = ar.last_seq;
    }
    atomic_store(&db->unindexed, db->ids.count);
    pthread_mutex_unlock(&db->ing);
    free(sub);
    free(first);

    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].seq & PLACEHOLDER)
            res[i].seq = ar.first_seq + (res[i].seq & ~PLACEHOLDER);
        if (res[i].seq > max)
            max = res[i].seq;
    }
    if (sync_seq)
        *sync_seq = max;
    if (added)
        *added = k;
    if (out_ar && k)
        *out_ar = ar;
    atomic_fetch_add(derived ? &db->n_derived : &db->n_appended, k);
    if (!derived)
        atomic_fetch_add(&db->n_duplicates, n - k);
    if (k && !derived)
        wake_indexer(db); /* it indexes what reaches the file while we wait for the fsync */
    return ANNAL_OK;
}

int annal_db_submit(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res, uint64_t *sync_seq)
{
    return submit(db, evs, n, res, sync_seq, 0, NULL, NULL);
}

int annal_db_sync(annal_db *db, uint64_t seq)
{
    if (!db)
        return ANNAL_EINVAL;
    /* Not the sticky error: what was submitted before it is acknowledged
     * as the log says. */
    int rc = seq ? annal_log_sync(db->log, seq) : ANNAL_OK;
    if (rc)
        return rc;
    wake_indexer(db);
    return ANNAL_OK;
}

int annal_db_append(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res)
{
    return annal_db_append_log(db, evs, n, res, NULL);
}

int annal_db_append_log(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res,
                        annal_append_result *ar)
{
    uint64_t seq;
    int rc = submit(db, evs, n, res, &seq, 0, NULL, ar);
    return rc ? rc : annal_db_sync(db, seq);
}

/* ---------------------------------------------------------------- settle */

/* The ranges of seqs of the derived events one settle appended. */
typedef struct ranges {
    uint64_t (*r)[2];
    size_t n, cap;
} ranges;

/* A settle is bounded: it is done when the records up to its target are
 * applied and no pending derived event is caused by one of them or by a
 * derived event it appended itself (chains: breach -> incident ->
 * proposal). Pending events caused by records that arrived during the
 * settle are left to the next one, so that under a steady stream of
 * appends every settle ends, and settle_mu is released in between. */
static int in_scope(uint64_t caused_by, uint64_t target, const ranges *rg)
{
    if (caused_by <= target)
        return 1;
    for (size_t i = 0; i < rg->n; i++)
        if (caused_by >= rg->r[i][0] && caused_by <= rg->r[i][1])
            return 1;
    return 0;
}

/* The pending derived events of one round that are in scope, copied out
 * of the index; total counts all of them. */
typedef struct pend {
    uint64_t target;
    const ranges *rg;
    char *buf;
    size_t len, cap;
    size_t *off;
    size_t n, ncap, total;
    int rc;
} pend;

static uint64_t caused_by_of(const char *json, size_t len)
{
    static const char key[] = "\"caused_by_seq\":";
    const char *p = memmem(json, len, key, sizeof(key) - 1);
    uint64_t v = 0;
    if (!p)
        return 0; /* unknown: in every scope */
    for (p += sizeof(key) - 1; p < json + len && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static int collect(void *ctx, const char *json, size_t len)
{
    pend *p = ctx;
    p->total++;
    if (!in_scope(caused_by_of(json, len), p->target, p->rg))
        return 0;
    if (p->n == p->ncap) {
        size_t nc = p->ncap ? p->ncap * 2 : 64;
        size_t *no = realloc(p->off, (nc + 1) * sizeof(*no));
        if (!no) {
            p->rc = ANNAL_ENOMEM;
            return 1;
        }
        p->off = no;
        p->ncap = nc;
    }
    if (p->len + len > p->cap) {
        size_t nc = p->cap ? p->cap : 65536;
        while (nc < p->len + len)
            nc *= 2;
        char *nb = realloc(p->buf, nc);
        if (!nb) {
            p->rc = ANNAL_ENOMEM;
            return 1;
        }
        p->buf = nb;
        p->cap = nc;
    }
    memcpy(p->buf + p->len, json, len);
    p->off[p->n++] = p->len;
    p->len += len;
    p->off[p->n] = p->len;
    return 0;
}

/* Append the round's pending events (parsed, validated) through the
 * idempotent path, durably. *added: how many were new; their seqs are
 * added to rg. */
static int append_pending(annal_db *db, pend *p, ranges *rg, size_t *added)
{
    *added = 0;
    char *out = malloc(p->len ? p->len : 1);
    annal_event *evs = calloc(p->n, sizeof(*evs));
    annal_db_result *res = calloc(p->n, sizeof(*res));
    int rc = out && evs && res ? ANNAL_OK : ANNAL_ENOMEM;
    if (!rc && rg->n == rg->cap) {
        size_t nc = rg->cap ? rg->cap * 2 : 8;
        uint64_t(*nr)[2] = realloc(rg->r, nc * sizeof(*nr));
        if (nr) {
            rg->r = nr;
            rg->cap = nc;
        } else {
            rc = ANNAL_ENOMEM;
        }
    }
    size_t k = 0;
    for (size_t i = 0; !rc && i < p->n; i++) {
        const char *json = p->buf + p->off[i];
        size_t len = p->off[i + 1] - p->off[i];
        annal_event_error e;
        memset(&e, 0, sizeof(e));
        /* The compact form is never longer than the input. */
        int prc = annal_event_parse(json, len, 0, out + p->off[i], len, &evs[k], &e);
        if (prc == ANNAL_OK) {
            k++;
            continue;
        }
        /* A rule made an invalid event: a bug of the rules. It stays pending
         * (and is reported by every settle) rather than stopping ingest. */
        db_say(db, "rules: a derived event does not validate (%s%s%s), not appended: %.*s", e.field,
               e.field[0] ? ": " : "", prc == ANNAL_EEVENT ? e.reason : annal_strerror(prc),
               (int)(len > 600 ? 600 : len), json);
    }
    uint64_t sync_seq = 0;
    if (!rc && k && !(rc = submit(db, evs, k, res, &sync_seq, 1, added, NULL)))
        rc = annal_log_sync(db->log, sync_seq);
    if (!rc && *added) {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < k; i++)
            if (!res[i].duplicate) {
                lo = res[i].seq < lo ? res[i].seq : lo;
                hi = res[i].seq > hi ? res[i].seq : hi;
            }
        rg->r[rg->n][0] = lo;
        rg->r[rg->n][1] = hi;
        rg->n++;
    }
    free(out);
    free(evs);
    free(res);
    return rc;
}

static void raise_settled(annal_db *db, uint64_t s)
{
    uint64_t cur = atomic_load(&db->settled_seq);
    while (s > cur && !atomic_compare_exchange_weak(&db->settled_seq, &cur, s))
        ;
}

/* Catch up, then append the pending derived events in scope (see
 * in_scope) until there are none. */
static int settle_locked(annal_db *db, uint64_t target, annal_index_progress_fn progress, void *ctx)
{
    int stalls = 0, rc = ANNAL_OK;
    uint64_t applied = 0;
    ranges rg = {0};
    for (int round = 0;; round++) {
        if ((rc = annal_index_catch_up(db->ix, round ? NULL : progress, ctx, &applied)))
            break;
        prune(db, applied);
        pend p = {.target = target, .rg = &rg};
        rc = annal_index_pending(db->ix, collect, &p, NULL);
        if (!rc)
            rc = p.rc;
        size_t added = 0;
        if (!rc && p.n)
            rc = append_pending(db, &p, &rg, &added);
        size_t n = p.n, total = p.total;
        free(p.buf);
        free(p.off);
        if (rc)
            break;
        if (!n) {
            /* Done. With nothing pending at all, everything applied is settled. */
            raise_settled(db, total ? target : applied);
            break;
        }
        if (added) {
            stalls = 0;
        } else if (++stalls == 2) {
            /* After a catch-up past every copy of their keys they are still
             * pending: the log holds their event_ids already (a client used
             * a derived event's id), or they do not validate. */
            db_say(db, "rules: %zu derived events stay pending: their event_ids are already in the log or "
                       "they do not validate", n);
            raise_settled(db, target);
            break;
        }
        if (round + 1 == DB_SETTLE_ROUNDS) {
            db_say(db, "rules: still %zu derived events pending after %d rounds of derived events; the rest "
                       "waits for the next settle", n, DB_SETTLE_ROUNDS);
            break;
        }
    }
    free(rg.r);
    return rc;
}

static uint64_t durable(annal_db *db)
{
    annal_log_stats st;
    annal_log_stats_get(db->log, &st);
    return st.durable_seq;
}

static int settle_run(annal_db *db, annal_index_progress_fn progress, void *ctx)
{
    pthread_mutex_lock(&db->settle_mu);
    int rc = atomic_load(&db->err);
    uint64_t target = durable(db);
    if (!rc && atomic_load(&db->settled_seq) < target) {
        atomic_fetch_add(&db->n_settles, 1);
        if ((rc = settle_locked(db, target, progress, ctx)))
            set_err(db, rc);
    }
    pthread_mutex_unlock(&db->settle_mu);
    return rc;
}

int annal_db_settle(annal_db *db)
{
    if (!db)
        return ANNAL_EINVAL;
    int rc = atomic_load(&db->err);
    if (rc || atomic_load(&db->settled_seq) >= durable(db))
        return rc;
    return settle_run(db, NULL, NULL);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sign a checkpoint of the settled log if one is due (force: now, whatever
 * the interval). Called with mu held; drops it while signing. Returns the
 * ns until the next one is due, or 0 when none is waiting. */
static int64_t checkpoint_due(annal_db *db, int force)
{
    if (!db->opt.signer)
        return 0;
    uint64_t applied = atomic_load(&db->settled_seq);
    if (applied <= db->ckpt_size || applied == db->ckpt_failed_at)
        return 0;
    int64_t every = (int64_t)(db->opt.checkpoint_ms ? db->opt.checkpoint_ms : 1000) * 1000000LL;
    int64_t now = mono_ns();
    if (!force && db->ckpt_time_ns && now - db->ckpt_time_ns < every)
        return every - (now - db->ckpt_time_ns);
    pthread_mutex_unlock(&db->mu);
    char err[512];
    uint64_t size = 0;
    int rc = annal_index_checkpoint(db->ix, db->dir, db->opt.origin, db->opt.signer, NULL, NULL, &size, err,
                                    sizeof(err));
    pthread_mutex_lock(&db->mu);
    db->ckpt_time_ns = mono_ns();
    if (rc == ANNAL_OK) {
        if (size > db->ckpt_size) {
            db->ckpt_size = size;
            atomic_store(&db->ckpt_size_pub, size);
            atomic_fetch_add(&db->n_checkpoints, 1);
        }
    } else {
        db->ckpt_failed_at = applied;
        db_say(db, "checkpoint of %llu events not issued: %s", (unsigned long long)applied, err);
    }
    return 0;
}

static void *indexer_main(void *arg)
{
    annal_db *db = arg;
    pthread_setname_np(pthread_self(), "annal-indexer");
    pthread_mutex_lock(&db->mu);
    while (!db->stop) {
        if (!db->want) {
            int64_t due = checkpoint_due(db, 0);
            if (db->want || db->stop)
                continue;
            if (due > 0) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t ns = until.tv_nsec + due;
                until.tv_sec += ns / 1000000000LL;
                until.tv_nsec = ns % 1000000000LL;
                pthread_cond_timedwait(&db->wake, &db->mu, &until);
            } else {
                pthread_cond_wait(&db->wake, &db->mu);
            }
            continue;
        }
        db->want = 0;
        pthread_mutex_unlock(&db->mu);
        int rc = settle_run(db, NULL, NULL);
        pthread_mutex_lock(&db->mu);
        pthread_cond_broadcast(&db->room);
        if (rc) /* sticky: the submits report it; nothing left to do */
            while (!db->stop)
                pthread_cond_wait(&db->wake, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* ---------------------------------------------------------------- open, close */

static void db_free(annal_db *db)
{
    pthread_cond_destroy(&db->room);
    pthread_cond_destroy(&db->wake);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->ing);
    pthread_mutex_destroy(&db->settle_mu);
    tab_free(&db->ids);
    free(db->dir);
    free(db);
}

int annal_db_open(const char *dir, const annal_db_options *opt, annal_db **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (!out)
        return ANNAL_EINVAL;
    *out = NULL;
    if (!dir)
        return ANNAL_EINVAL;
    annal_db *db = calloc(1, sizeof(*db));
    if (!db || tab_init(&db->ids)) {
        free(db);
        if (err && errlen)
            snprintf(err, errlen, "cannot open %s: out of memory", dir);
        return ANNAL_ENOMEM;
    }
    if (opt)
        db->opt = *opt;
    if ((db->opt.signer && !db->opt.origin) || !(db->dir = strdup(dir))) {
        int bad = db->opt.signer && !db->opt.origin;
        if (err && errlen)
            snprintf(err, errlen, bad ? "signing checkpoints needs an origin" : "cannot open %s: out of memory", dir);
        tab_free(&db->ids);
        free(db);
        return bad ? ANNAL_EINVAL : ANNAL_ENOMEM;
    }
    if (!db->opt.max_unindexed)
        db->opt.max_unindexed = DB_MAX_UNINDEXED_DEFAULT;
    pthread_mutex_init(&db->settle_mu, NULL);
    pthread_mutex_init(&db->ing, NULL);
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->wake, NULL);
    pthread_cond_init(&db->room, NULL);

    int rc = annal_log_open(dir, &db->opt.log, &db->log, err, errlen);
    if (rc) {
        db_free(db);
        return rc;
    }
    if ((rc = annal_index_open(dir, &db->opt.index, &db->ix, err, errlen))) {
        annal_log_close(db->log);
        db_free(db);
        return rc;
    }
    /* Finish what a crash left: the catch-up, and derived events not appended yet. */
    if ((rc = settle_run(db, db->opt.progress, db->opt.progress_ctx))) {
        if (err && errlen)
            snprintf(err, errlen, "cannot bring the index of %s up to its log: %s", dir, annal_index_strerror(rc));
    } else {
        pthread_mutex_lock(&db->mu);
        checkpoint_due(db, 1); /* the log as found */
        pthread_mutex_unlock(&db->mu);
    }
    if (rc == ANNAL_OK && !db->opt.manual_settle) {
        if (pthread_create(&db->thread, NULL, indexer_main, db) == 0) {
            db->thread_started = 1;
        } else {
            rc = ANNAL_ENOMEM;
            if (err && errlen)
                snprintf(err, errlen, "cannot open %s: cannot start the indexer thread", dir);
        }
    }
    if (rc) {
        annal_index_close(db->ix);
        annal_log_close(db->log);
        db_free(db);
        return rc;
    }
    *out = db;
    return ANNAL_OK;
}

int annal_db_close(annal_db *db)
{
    if (!db)
        return ANNAL_OK;
    if (db->thread_started) {
        pthread_mutex_lock(&db->mu);
        db->stop = 1;
        pthread_cond_broadcast(&db->wake);
        pthread_cond_broadcast(&db->room);
        pthread_mutex_unlock(&db->mu);
        pthread_join(db->thread, NULL);
    }
    if (db->opt.signer && !atomic_load(&db->err) && settle_run(db, NULL, NULL) == ANNAL_OK) {
        pthread_mutex_lock(&db->mu);
        checkpoint_due(db, 1); /* everything appended before the close */
        pthread_mutex_unlock(&db->mu);
    }
    annal_index_close(db->ix);
    int rc = annal_log_close(db->log);
    if (!rc)
        rc = atomic_load(&db->err);
    db_free(db);
    return rc;
}

annal_index *annal_db_index(annal_db *db)
{
    return db ? db->ix : NULL;
}

const char *annal_db_dir(annal_db *db)
{
    return db ? db->dir : NULL;
}

annal_log *annal_db_log(annal_db *db)
{
    return db ? db->log : NULL;
}

void annal_db_stats_get(annal_db *db, annal_db_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!db)
        return;
    annal_log_stats ls;
    annal_log_stats_get(db->log, &ls);
    st->durable_seq = ls.durable_seq;
    st->settled_seq = atomic_load(&db->settled_seq);
    st->unindexed = atomic_load(&db->unindexed);
    st->appended = atomic_load(&db->n_appended);
    st->duplicates = atomic_load(&db->n_duplicates);
    st->derived = atomic_load(&db->n_derived);
    st->settles = atomic_load(&db->n_settles);
    st->checkpoint_size = atomic_load(&db->ckpt_size_pub);
    st->checkpoints = atomic_load(&db->n_checkpoints);
}
