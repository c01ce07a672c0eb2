/*
 * fold.h - the one fold that turns the log into the index. Every record, at
 * catch-up and at reindex alike, goes through the same functions, and the
 * index after records 1..n is a function of those records alone, however
 * they were cut into batches and transactions: that is what makes a reindex
 * equal to a live index (annal_index_digest).
 *
 * A record's way, in batches of consecutive records:
 *
 *   reading thread (pure: no transaction, may run ahead of the writer)
 *     annal_fold_prepare   parse the record
 *     annal_fold_derive    the entries that depend on the record alone
 *                          (step "links": timeline, type, run, incident,
 *                          API key, correlation, event_id), into the batch
 *   writing thread (in the write transaction, records in seq order)
 *     annal_fold_seal      group the batch's entries by key and sort them
 *                          (pure too; done here to balance the threads)
 *     annal_fold_apply     the steps that read what earlier records left in
 *                          the index (views, rules): none yet
 *     annal_fold_write     the batch's entries, one cursor put per key in
 *                          key order (MDB_MULTIPLE for the duplicates),
 *                          which is several times faster than record by
 *                          record: B-tree pages are touched in order
 *
 * Slotting in a view or a rule: a pure part (what the record says: data
 * fields parsed once) goes into derive, as entries of its own databases or
 * as fields of annal_fold_rec; the part that reads and updates state goes
 * into apply, which gets the write txn (it sees its own writes) and the
 * records in seq order, and must be deterministic. A step of apply must not
 * read the link databases for the current batch: their entries are written
 * by annal_fold_write after the batch's apply steps.
 */
#ifndef ANNAL_INDEX_FOLD_H
#define ANNAL_INDEX_FOLD_H

#include "index/internal.h"

typedef struct annal_fold_rec {
    uint64_t seq;
    int64_t time_ns;  /* occurred_at, or recorded_at when absent */
    annal_event ev;   /* parsed record; its slices point into the record bytes */
    ix_data d;        /* the data members the views read (also slices into it) */
    const char *rec;  /* the record bytes (no newline); kept alive by the caller */
    size_t len;
} annal_fold_rec;

/* One derived index entry: key (in the batch's key arena) -> value. */
typedef struct annal_fold_put {
    uint32_t koff;
    uint16_t klen;
    uint8_t db;            /* enum ix_db */
    uint8_t vlen;
    unsigned char val[IX_TPOS_LEN]; /* tpos, or be64(seq) for event_id */
} annal_fold_put;

/* The entries of one batch of records and, once sealed, their groups (one
 * per database and key) in key order. Zero it before first use; reset
 * between batches; free at the end. */
typedef struct annal_fold_batch {
    annal_fold_put *puts;
    size_t nputs, cap;
    unsigned char *keys;
    size_t kused, kcap;
    struct annal_fold_group *groups; /* sealed: groups[order[i]] in key order */
    uint32_t *order, *next, *table;
    size_t ngroups, gcap, tcap;
    unsigned char *vals;   /* scratch for a group's values */
} annal_fold_batch;

/* Parse the record rec[0..len) that the log holds at seq. ANNAL_OK, or
 * ANNAL_ECORRUPT when it is not a valid record or its seq differs. */
int annal_fold_prepare(const char *rec, size_t len, uint64_t seq, annal_fold_rec *out);

void annal_fold_reset(annal_fold_batch *b);
/* Add the record's derived entries. ANNAL_OK or ANNAL_ENOMEM. */
int annal_fold_derive(annal_fold_batch *b, const annal_fold_rec *r);
/* Group and sort the batch's entries. ANNAL_OK or ANNAL_ENOMEM. */
int annal_fold_seal(annal_fold_batch *b);
void annal_fold_batch_free(annal_fold_batch *b);

/* Apply a record's transactional steps. Returns 0, or an LMDB code
 * (MDB_MAP_FULL: the caller aborts, grows the map and replays) or an annal
 * code. */
int annal_fold_apply(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r);

/* Write the sealed batch's entries of the records with seq > after (the
 * others were applied already, by another process). Same returns. */
int annal_fold_write(annal_index *ix, MDB_txn *txn, const annal_fold_batch *b, uint64_t after);

#endif
