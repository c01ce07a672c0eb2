/*
 * db.h - one data directory opened for writing: the ingest layer that ties
 * the log (store/log.h), the index (index/index.h) and the rules
 * (index/views.h, "rules") together. `annal append` and the HTTP ingest use
 * it; a process that only reads opens the index alone.
 *
 * What an annal_db holds. The log's writer (annal_log_open: the data
 * directory's LOCK, so one annal_db per directory across all processes), the
 * index (annal_index_open) and, unless opt.manual_settle, one background
 * thread, the indexer. The log is the truth; the index, its views and the
 * pending derived events are derived from it (index.h).
 *
 * Idempotent ingest (PRODUCT.md §1). An event with an event_id whose
 * (tenant_id, event_id) the log already holds is not appended again: its
 * result is the seq of the first event with that key and duplicate = 1 ("a
 * retried event is stored once and the retry gets the first answer"). The
 * check covers the whole log: the index's event_id database (complete up to
 * the applied seq) plus an in-memory table of the keys submitted through
 * this annal_db and not yet indexed, so it also holds for a retry racing its
 * original in another thread and for a repeat inside one batch (the later
 * copies are duplicates of the first). Events without an event_id are always
 * appended. The check is exact as long as every append to the directory goes
 * through annal_db: annal_db_open catches the index up to the whole log
 * before it accepts an append, and the LOCK keeps other writers out. (A log
 * appended to with `annal append --no-index`, or through annal_db_log(), may
 * hold a key twice; the index then answers with the first.)
 *
 * Durability and acknowledgement. annal_db_append returns once every event
 * of the batch is durable (annal_log_append: written and fdatasync'ed, with
 * group commit across threads); for a duplicate, once its first copy is
 * durable. Indexing is not on that path: each submit and each durable
 * append wakes the indexer thread, which settles (below) in the background
 * while the appends wait for their fdatasync, in as few LMDB transactions
 * as the lag allows (wakes coalesce while it works).
 *
 * Settling. annal_db_settle() catches the index up to the log's head, then
 * runs the rules to quiescence for the records up to the log's durable seq
 * when it was called (its target): while the index lists pending derived
 * events (annal_index_pending: the derived events the rules decided for the
 * applied records that the log still lacks) caused by those records, or by
 * a derived event this settle appended (a derived event may trigger a rule
 * in turn: breach -> HIGH incident -> proposal), it appends them through
 * the same idempotent path, durably, and catches up again. Derived events
 * of records appended meanwhile are left to the next settle, so that under
 * a steady stream of appends every settle ends. Each derived event carries
 * a deterministic event_id and the fold removes it from the pending set
 * when its record is applied, so a crash at any point (during the catch-up,
 * between the decision and the append, mid-append) leaves, after the next
 * open, exactly the derived events still missing: each lands in the log
 * exactly once. One settle runs at a time; the indexer and any caller may
 * call it.
 *
 * Read-your-writes. An event acknowledged by annal_db_append (or
 * annal_db_sync) before annal_db_settle() is called is visible to every read
 * of annal_db_index() that starts after annal_db_settle() returned, with the
 * derived events it triggered. annal_db_settle() is cheap when the index is
 * already settled up to the log's durable seq (a comparison, no LMDB
 * transaction), so a reader calls it before each query.
 *
 * Back-pressure. The in-memory table holds one entry per event_id submitted
 * and not yet indexed. When it holds more than opt.max_unindexed entries, a
 * submit first waits for the indexer (or, with manual_settle, settles
 * itself), so a slow index slows ingest instead of growing memory without
 * bound.
 *
 * Threads. annal_db_submit, annal_db_sync, annal_db_append(_log),
 * annal_db_settle, annal_db_stats_get and the accessors may be called from any number of
 * threads at once. Seqs are given in the order the submits take the ingest
 * lock; a batch's new events get consecutive seqs. annal_db_open and
 * annal_db_close are called once each, with no other call running.
 *
 * Failures. A failed write or fdatasync of the log fails every later append
 * (ANNAL_EIO, then ANNAL_ECLOSED), as in log.h. An error while settling (the
 * indexer's or a caller's) is sticky: every later submit and settle of this
 * annal_db returns it, since idempotency and the rules need the index
 * (annal_db_sync still waits for the log and answers as it does, so that
 * events submitted before are acknowledged or not as the log says).
 * Close the annal_db and open it again: recovery cuts any torn tail, the
 * index catches up, and every acknowledged event is there. ANNAL_EINDEX
 * (the index does not match the log, or is damaged) and ANNAL_EVERSION need
 * `annal reindex` first.
 *
 * Errors: every function returns ANNAL_OK or a negative code of
 * store/error.h (annal_index_strerror() names them all):
 *   ANNAL_EINVAL    a NULL or empty argument;
 *   ANNAL_ENOMEM    an allocation failed;
 *   ANNAL_EIO       a system call failed (errno set), in the log or the index;
 *   ANNAL_ELOCKED   (open) another writer holds the directory;
 *   ANNAL_ECORRUPT  the log is damaged (run `annal verify`);
 *   ANNAL_EINDEX    the index does not match the log or is damaged (run
 *                   `annal reindex`);
 *   ANNAL_EVERSION  a log or index format this build does not know;
 *   ANNAL_ECLOSED   the log failed earlier and refuses writes, or the
 *                   annal_db is closing.
 */
#ifndef ANNAL_INDEX_DB_H
#define ANNAL_INDEX_DB_H

#include <stddef.h>
#include <stdint.h>

#include "index/index.h"
#include "store/event.h"
#include "store/log.h"
#include "store/note.h"

typedef struct annal_db annal_db;

typedef struct annal_db_options {
    annal_log_options log;     /* for annal_log_open; its log_fn also gets annal_db's
                                * messages (NULL: stderr, "annal: " prefix) */
    annal_index_options index; /* for annal_index_open */
    int manual_settle;         /* 0: an indexer thread settles after appends;
                                * 1: no thread: the caller calls annal_db_settle */
    size_t max_unindexed;      /* back-pressure bound (see above); 0: 262144 */
    /* Progress of the catch-up in annal_db_open (a long lag: a log appended
     * with --no-index, a reindex that was thrown away); may be NULL. */
    annal_index_progress_fn progress;
    void *progress_ctx;
    /* Checkpoints (index/ckpt.h). With a signer, the indexer signs and saves
     * a checkpoint of the settled log after appends, at most one per
     * checkpoint_ms (0: 1000) milliseconds, and when the annal_db opens and
     * closes. signer and origin must outlive the annal_db. A checkpoint
     * that cannot be issued (e.g. refused as inconsistent with the ones
     * already issued) is logged and not retried until more events arrive;
     * appends go on. */
    const annal_note_signer *signer;
    const char *origin;
    unsigned checkpoint_ms;
} annal_db_options;

/* What became of one submitted event. */
typedef struct annal_db_result {
    uint64_t seq;   /* its seq; for a duplicate, the seq of the first event with its key */
    int duplicate;  /* 1: its (tenant_id, event_id) was already in the log or earlier in the
                     * batch, and it was not appended again; 0: appended */
} annal_db_result;

typedef struct annal_db_stats {
    uint64_t durable_seq;      /* the log's last durable seq */
    uint64_t settled_seq;      /* the index is caught up and the rules settled up to here */
    uint64_t unindexed;        /* event_ids in the in-memory table (submitted, not yet indexed) */
    uint64_t appended;         /* since open: events submitted and appended (new) */
    uint64_t duplicates;       /* since open: events answered as duplicates */
    uint64_t derived;          /* since open: derived events appended by settling */
    uint64_t settles;          /* since open: settles that had work to do */
    uint64_t checkpoint_size;  /* tree size of the last checkpoint this annal_db issued (0: none) */
    uint64_t checkpoints;      /* since open: checkpoints signed */
} annal_db_stats;

/*
 * Open the data directory dir for writing: open (creating it if needed) and
 * recover the log, open (creating it if needed) the index, catch it up to
 * the log's head and settle the rules (so that a crash's unfinished work is
 * done before anything new comes in), then start the indexer thread unless
 * opt->manual_settle. opt may be NULL for defaults. On failure *out is NULL
 * and, when err is non-NULL, err[0..errlen) gets a sentence for the
 * operator. Returns ANNAL_OK or ANNAL_ELOCKED, ANNAL_ECORRUPT, ANNAL_EINDEX,
 * ANNAL_EVERSION, ANNAL_EIO, ANNAL_ENOMEM, ANNAL_EINVAL.
 */
int annal_db_open(const char *dir, const annal_db_options *opt, annal_db **out, char *err,
                  size_t errlen);

/*
 * Idempotent submit of evs[0..n) (n >= 1; each parsed by annal_event_parse;
 * only read during the call): the duplicates are answered, the other events
 * are queued for the log as one batch (consecutive seqs, in the order of
 * evs). res[0..n) gets each event's result. Returns once the batch is
 * queued, NOT durable: call annal_db_sync(db, *sync_seq) before
 * acknowledging any of them (*sync_seq covers the new events and the first
 * copies of the duplicates; sync_seq may be NULL). May wait (back-pressure,
 * and while the log's queue is full). Returns ANNAL_OK, ANNAL_EINVAL,
 * ANNAL_ENOMEM, ANNAL_ECLOSED, or a sticky error (see Failures), or an error
 * of the index's event_id lookup (ANNAL_EIO, ANNAL_EINDEX); on an error
 * nothing of the batch was queued.
 */
int annal_db_submit(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res,
                    uint64_t *sync_seq);

/* Wait until every seq <= seq is durable (seq 0: nothing to wait for),
 * then wake the indexer. ANNAL_OK, ANNAL_EIO (errno of the failed write or
 * fsync), ANNAL_ECLOSED, ANNAL_EINVAL. */
int annal_db_sync(annal_db *db, uint64_t seq);

/* annal_db_submit, then annal_db_sync: returns once every event of the batch
 * (and each duplicate's first copy) is durable. The errors of both. */
int annal_db_append(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res);

/*
 * annal_db_append, and ar (may be NULL) gets the log's answer for the
 * batch's new events (as annal_log_submit gives it: their first and last
 * seq, their recorded_at, the leaf hash of the last new event and the chain
 * head after it); all zero when every event of the batch was a duplicate
 * (read a duplicate's first copy with annal_index_event: it is durable once
 * this returns). The errors of annal_db_append.
 */
int annal_db_append_log(annal_db *db, const annal_event *evs, size_t n, annal_db_result *res,
                        annal_append_result *ar);

/*
 * Catch the index up to the log's head and run the rules to quiescence
 * (see Settling). Returns at once when the index is already settled up to
 * the log's durable seq. ANNAL_OK, or the errors of annal_index_catch_up,
 * annal_index_pending and annal_db_append; any error is sticky.
 */
int annal_db_settle(annal_db *db);

/* The index, for reads (call annal_db_settle first for read-your-writes).
 * Owned by db, valid until annal_db_close. Do not close it or catch it up
 * concurrently with annal_db_close. */
annal_index *annal_db_index(annal_db *db);

/* The log, for annal_log_stats_get. Owned by db, valid until annal_db_close.
 * Appending through it bypasses the idempotency check. */
annal_log *annal_db_log(annal_db *db);

/* The data directory (as given to annal_db_open). Owned by db. */
const char *annal_db_dir(annal_db *db);

/* A snapshot of the counters. */
void annal_db_stats_get(annal_db *db, annal_db_stats *st);

/* Stop the indexer thread (it finishes the settle it is running; pending
 * derived events left are appended by the next open), close the index (it is
 * fsync'ed if it was written) and the log (everything queued is written).
 * Returns ANNAL_OK, the log's close error, or the sticky error. NULL is a
 * no-op. */
int annal_db_close(annal_db *db);

#endif
