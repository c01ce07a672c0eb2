/*
 * index.h - annal's indexes: an LMDB environment derived from the log.
 *
 * The log (store/) is the truth. Everything here is derived from it and can
 * be thrown away and rebuilt at any time (`annal reindex`). The key and value
 * encodings are in index/INDEX.md (format version ANNAL_INDEX_FORMAT).
 *
 * Where. The environment lives in DIR/index/ (DIR: the data directory that
 * holds the segment files). It is opened with MDB_NOSYNC (and MDB_WRITEMAP):
 * a commit is not fsync'ed. That is safe because the index is derived: the
 * seq of the last applied record (the "applied seq") and that record's leaf
 * hash are stored in the same transaction as the index entries it produced,
 * so the index is always the fold of a prefix of the log, and opening it
 * catches it up from the log's tail. A handle that committed fsyncs the
 * environment when it is closed. After a power loss an index written since
 * its last fsync may have lost transactions (it catches up again) or be
 * damaged (refused, see below): run `annal reindex`.
 *
 * What is indexed (one named LMDB database each, all tenant-scoped, every
 * key starting with tenant_id || 0x00 so that the same id in two tenants
 * never mixes): the tenant timeline ordered by (occurred_at, seq), event
 * type, run_id, incident_id, api_key_id, correlation_id, each with
 * (occurred_at, seq) values; and (tenant, event_id) -> seq for idempotent
 * ingest. occurred_at is the event's `occurred_at`, or its `recorded_at`
 * when it has none. There is no seq -> location index: records are read by
 * seq through store/reader.h, which finds a block with a binary search.
 *
 * Matching the log. The index refuses to work on a log it was not built
 * from: on open, and before each catch-up, the log's record at the applied
 * seq must have the leaf hash stored with it. If the log is shorter, or the
 * record differs (the log was replaced), the call fails with ANNAL_EINDEX
 * and the index must be rebuilt with `annal reindex`. A format version
 * other than ANNAL_INDEX_FORMAT fails with ANNAL_EVERSION (same remedy).
 *
 * Catching up. annal_index_catch_up() applies the records after the applied
 * seq. A second thread reads and parses batches of records while the calling
 * thread folds them into the write transaction, which commits every
 * opt.txn_records records (default 50000) and at the end. Each record goes
 * through one fold (index/fold.h); views and rules will be further steps of
 * that fold.
 *
 * Map size. The map starts at opt.map_size (default 64 MiB). A transaction
 * that fills it is aborted, the map is doubled (once no transaction of this
 * process is open) and the catch-up resumes from the last commit; the grown
 * size persists in the environment. Before a long catch-up the map is grown
 * once to what the lag will likely need. A map that would exceed 1 TiB fails
 * with ANNAL_ENOMEM.
 *
 * Processes and threads. Any number of processes may open the same index.
 * Writes (catch-up) are serialised by LMDB's writer lock; each write
 * transaction re-reads the applied seq, so two processes catching up at once
 * never apply a record twice (a catch-up may wait for another process's
 * open write transaction: at most one of opt.txn_records records). A query
 * that runs while `annal append` writes
 * to the log sees what it caught up to when it started (every record whose
 * append was acknowledged before the catch-up began). An annal_index may be
 * used by several threads at once: reads take one short read transaction
 * each (MDB_NOTLS), catch-ups of one handle run one at a time.
 * A process that keeps an index open while `annal reindex` swaps in a new
 * one keeps reading the old one (its files stay valid until it closes them)
 * and its catch-ups go to the old one, which nobody reads afterwards.
 *
 * Errors: every function returns ANNAL_OK or a negative code of
 * store/error.h (ANNAL_EINDEX: the index does not match the log, built from
 * another log or ahead of it, or is damaged: rebuild it with `annal
 * reindex`); annal_index_strerror() names them all with index advice. LMDB errors are mapped: a system error is ANNAL_EIO with errno set;
 * a damaged or incompatible environment is ANNAL_EINDEX.
 */
#ifndef ANNAL_INDEX_H
#define ANNAL_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/merkle.h"

/* Format version of the index (index/INDEX.md); stored in the meta DB. */
#define ANNAL_INDEX_FORMAT 3

/* Page size limits of the list reads. */
#define ANNAL_INDEX_LIMIT_DEFAULT 100
#define ANNAL_INDEX_LIMIT_MAX 10000
/* A cursor is this many characters of base64url (plus a NUL). */
#define ANNAL_INDEX_CURSOR_LEN 23

typedef struct annal_index annal_index;

typedef struct annal_index_options {
    size_t map_size;     /* initial map size in bytes; 0: 64 MiB (rounded up to 4 KiB) */
    size_t txn_records;  /* records per catch-up transaction; 0: 50000 */
    int threads;         /* catch-up: 1 reads, parses and writes in one thread;
                          * 0: a second thread reads and parses when the lag is
                          * 16384 records or more */
} annal_index_options;

/* Called by a catch-up after each committed transaction: applied seq so far,
 * and the seq it catches up to. From the calling thread. */
typedef void (*annal_index_progress_fn)(void *ctx, uint64_t applied, uint64_t target);

/*
 * Open the index of the data directory dir (creating dir/index/ and an
 * empty index when missing) and check that it matches the log. It does not
 * catch up: call annal_index_catch_up() for that. opt may be NULL.
 * On failure *out is NULL and, when err is non-NULL, err[0..errlen) gets a
 * sentence for the operator. Returns ANNAL_OK, ANNAL_ENOTFOUND (dir holds no
 * log), ANNAL_EINDEX (see above), ANNAL_EVERSION (another index format:
 * reindex), ANNAL_ECORRUPT (the log's block holding the applied seq is
 * damaged: run annal verify), ANNAL_EIO (errno set), ANNAL_ENOMEM or
 * ANNAL_EINVAL.
 */
int annal_index_open(const char *dir, const annal_index_options *opt, annal_index **out,
                     char *err, size_t errlen);

/* Close the index; no read or catch-up of it may be running. If this
 * handle committed anything, the environment is fsync'ed first (commits
 * themselves are not: see above). NULL is a no-op. */
void annal_index_close(annal_index *ix);

/*
 * Apply every record of the log after the applied seq, up to the last seq
 * readable when the call starts. *applied (may be NULL) gets the applied seq
 * afterwards. progress may be NULL. Records appended during the call are
 * left for the next one. Returns ANNAL_OK, ANNAL_EINDEX, ANNAL_ECORRUPT (a
 * block or record of the log is damaged: run annal verify), ANNAL_EIO,
 * ANNAL_ENOMEM (also: the map cannot grow further). On an error the
 * transactions committed before it stay (the index is a valid prefix).
 */
int annal_index_catch_up(annal_index *ix, annal_index_progress_fn progress, void *ctx,
                         uint64_t *applied);

/* The applied seq now (0: nothing indexed). ANNAL_OK or an error as reads. */
int annal_index_applied(annal_index *ix, uint64_t *applied);

/* ---------------------------------------------------------------- reads
 *
 * Every read takes one read transaction and sees the index as of its start:
 * call annal_index_catch_up() first to see the log's latest records
 * (read-your-writes: an append acknowledged before that catch-up began is
 * visible). Tenants and ids are 1..128 bytes of [A-Za-z0-9._:@/-]; anything
 * else is ANNAL_EINVAL. Errors of reads: ANNAL_EINVAL, ANNAL_ENOMEM,
 * ANNAL_EIO, ANNAL_EINDEX (a damaged environment).
 */

/* One entry of a list: a record's seq and its occurred_at (ns since the
 * Unix epoch; recorded_at when the event has no occurred_at). */
typedef struct annal_index_entry {
    uint64_t seq;
    int64_t time_ns;
} annal_index_entry;

/* A page of a list, in (time_ns, seq) order. items is malloc'd (n entries,
 * NULL when n is 0) and owned by the page: free it with
 * annal_index_page_free(). next_cursor is "" when the list is complete, else
 * the cursor that continues it (ANNAL_INDEX_CURSOR_LEN characters of
 * base64url: opaque, it encodes the last entry's (time_ns, seq) and a
 * version). Paging with it gives each entry exactly once, even while the
 * index grows (new entries after the cursor's position appear in later
 * pages). */
typedef struct annal_index_page {
    annal_index_entry *items;
    size_t n;
    char next_cursor[ANNAL_INDEX_CURSOR_LEN + 1];
} annal_index_page;

void annal_index_page_free(annal_index_page *page);

typedef struct annal_timeline_query {
    const char *tenant;     /* required */
    int64_t from_ns;        /* occurred_at >= from_ns; 0: from the beginning */
    int64_t to_ns;          /* occurred_at < to_ns; 0: no upper bound */
    const char *event_type; /* NULL: every type; a registry or service type name */
    int domain;             /* enum annal_domain (store/event.h); 0: every domain */
    size_t limit;           /* entries per page, 1..ANNAL_INDEX_LIMIT_MAX; 0: 100 */
    const char *cursor;     /* NULL or "": the first page; else a next_cursor */
} annal_timeline_query;

/*
 * A tenant's events in (occurred_at, seq) order, within [from_ns, to_ns),
 * of one event type and/or one domain when given (a type of another domain
 * than `domain` gives an empty page; a domain alone merges the lists of the
 * tenant's types of that domain), one page at a time. On ANNAL_OK,
 * *page is filled (free it); on an error it is empty. A cursor that is not
 * one this library made (bad length, characters or version) is ANNAL_EINVAL,
 * as are from_ns > to_ns, an unknown domain, a limit above the maximum.
 */
int annal_index_timeline(annal_index *ix, const annal_timeline_query *q, annal_index_page *page);

/*
 * The events of tenant that carry a link id, in (occurred_at, seq) order,
 * one page at a time (limit 0: 100; cursor as in annal_index_timeline):
 * correlation_id, run_id, incident_id, api_key_id respectively. Errors as
 * annal_index_timeline.
 */
int annal_index_correlation(annal_index *ix, const char *tenant, const char *id, size_t limit,
                            const char *cursor, annal_index_page *page);
int annal_index_run(annal_index *ix, const char *tenant, const char *id, size_t limit,
                    const char *cursor, annal_index_page *page);
int annal_index_incident(annal_index *ix, const char *tenant, const char *id, size_t limit,
                         const char *cursor, annal_index_page *page);
int annal_index_api_key(annal_index *ix, const char *tenant, const char *id, size_t limit,
                        const char *cursor, annal_index_page *page);

/*
 * The seq of tenant's event with this event_id (the first one, if the log
 * holds it more than once). ANNAL_OK with *seq set, or ANNAL_ENOTFOUND.
 */
int annal_index_lookup_event_id(annal_index *ix, const char *tenant, const char *event_id,
                                uint64_t *seq);

/*
 * The record with this seq, read from the log (store/reader.h), copied into
 * a malloc'd buffer *rec of *len bytes (no newline, not NUL-terminated; the
 * caller frees it). When tenant is non-NULL, a record of another tenant is
 * ANNAL_ENOTFOUND, exactly like a seq beyond the log. Returns ANNAL_OK,
 * ANNAL_ENOTFOUND, ANNAL_ECORRUPT (damaged block or record: run annal
 * verify), ANNAL_EIO, ANNAL_ENOMEM, ANNAL_EINVAL.
 */
int annal_index_event(annal_index *ix, const char *tenant, uint64_t seq, char **rec, size_t *len);

/* ---------------------------------------------------------------- the Merkle tree
 *
 * The RFC 9162 tree over the log's leaf hashes (store/merkle.h): leaf i is
 * the leaf hash SHA-256(0x00 || record) of the record with seq i + 1, so the
 * tree of size n covers seqs 1..n. The index keeps the hash of every
 * complete subtree (INDEX.md section 6), maintained by the fold for every
 * record like the other databases, so any root or proof for a size up to
 * the applied seq takes O(log n) reads (at most about 2 log2(n) nodes).
 * Each call below takes one read transaction; a size beyond what the index
 * applied is refused, never waited for: call annal_index_catch_up() first.
 * The handle keeps the upper nodes it has read (levels >= 8) in a cache of
 * 3 MiB, made at the first of these calls: complete nodes never change, so
 * it is never stale, and it spares most proofs half their B-tree searches
 * (latency: tools/bench/bench_merkle.c).
 * The proofs verify with annal_merkle_verify_inclusion and
 * annal_merkle_verify_consistency (store/merkle.h), or any RFC 9162
 * verifier. Errors: ANNAL_EINVAL as given, ANNAL_EINDEX (a node is missing
 * or not 32 bytes: the index is damaged, run `annal reindex`), ANNAL_EIO,
 * ANNAL_ENOMEM.
 */

/* The root hash of the tree of the first `size` leaves (seqs 1..size),
 * 32 bytes into out; size 0 gives SHA-256(""), the empty tree's root.
 * ANNAL_EINVAL: size > the applied seq (ix or out NULL, too). */
int annal_index_tree_root(annal_index *ix, uint64_t size, unsigned char out[32]);

/* The leaf hash of the record with seq `seq`, 32 bytes into out, as the
 * index holds it (level 0 of the tree). ANNAL_EINVAL: seq 0, or seq > the
 * applied seq. */
int annal_index_leaf(annal_index *ix, uint64_t seq, unsigned char out[32]);

/* The inclusion proof (RFC 9162 §2.1.3.1) of the record with seq `seq`
 * (leaf index seq - 1) in the tree of size `size`: *n hashes, leaf side
 * first, into proof, which must hold ANNAL_MERKLE_MAX_PROOF (128) hashes
 * (a proof has at most ceil(log2(size)) of them). ANNAL_EINVAL: seq 0,
 * seq > size (the record is not in that tree), or size > the applied seq;
 * *n is 0 then. */
int annal_index_inclusion(annal_index *ix, uint64_t seq, uint64_t size, unsigned char proof[][32], size_t *n);

/* The consistency proof (RFC 9162 §2.1.4.1) between the trees of size1 and
 * size2: *n hashes into proof (room for ANNAL_MERKLE_MAX_PROOF; empty when
 * size1 == size2). ANNAL_EINVAL: size1 == 0 (RFC 9162 has no proof from the
 * empty tree), size1 > size2, or size2 > the applied seq; *n is 0 then. */
int annal_index_consistency(annal_index *ix, uint64_t size1, uint64_t size2, unsigned char proof[][32],
                            size_t *n);

/* ---------------------------------------------------------------- stats */

/* The named databases, in a fixed order (INDEX.md sections 3, 5 and 6):
 * meta, event_id, timeline, type, run, incident, api_key, correlation, then
 * the views' databases (v_run ... v_queue), pending, and merkle. */
#define ANNAL_INDEX_NDBS 22

typedef struct annal_index_stats {
    uint64_t log_last_seq;          /* last seq readable in the log */
    uint64_t applied_seq;           /* last seq applied to the index */
    struct {
        const char *name;           /* static */
        uint64_t entries;           /* key/value pairs (every duplicate counts) */
    } db[ANNAL_INDEX_NDBS];
    uint64_t map_size;              /* bytes of the map */
    uint64_t map_used;              /* bytes of the pages in use (last page + 1) */
    uint64_t page_size;
} annal_index_stats;

/* Counts as of now (no catch-up). ANNAL_OK or errors as reads, and errors
 * of annal_reader_last for log_last_seq. */
int annal_index_stats_get(annal_index *ix, annal_index_stats *st);

/*
 * SHA-256 over a canonical dump of every database of the index (INDEX.md
 * "Digest"), meta included: two indexes of the same log with the same
 * applied seq have the same digest, however they were built (live catch-up
 * in any steps, or reindex). One read transaction; out gets 32 bytes.
 */
int annal_index_digest(annal_index *ix, unsigned char out[32]);

/* ---------------------------------------------------------------- reindex */

/*
 * Build a fresh index of the log in dir into dir/index.tmp/, fsync it, and
 * swap it in atomically for dir/index/ (renameat2 RENAME_EXCHANGE, then the
 * old one is removed; on a file system without RENAME_EXCHANGE, two renames
 * and an fsync of dir). It does not verify the log (the CLI runs
 * annal_verify_dir first). One rebuild at a time per dir: dir/index.lock is
 * held (flock) meanwhile. *events (may be NULL) gets the applied seq of the
 * new index. progress is called as in annal_index_catch_up. Returns ANNAL_OK,
 * ANNAL_ELOCKED (another rebuild runs), ANNAL_ENOTFOUND (no log), and the
 * errors of annal_index_catch_up; on failure dir/index/ is untouched.
 */
int annal_index_rebuild(const char *dir, const annal_index_options *opt,
                        annal_index_progress_fn progress, void *ctx, uint64_t *events);

/* A static, human readable name of any code returned here (ANNAL_EINDEX and
 * every code of store/error.h); never NULL. */
const char *annal_index_strerror(int code);

#endif
