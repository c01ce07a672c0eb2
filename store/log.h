/*
 * log.h - the writer of annal's segment log: the truth from which every index
 * and view is derived. Format: store/FORMAT.md.
 *
 * Model. One annal_log per data directory and process; a lock file (DIR/LOCK,
 * flock) keeps out a second writer, in this or another process. Several
 * threads may call annal_log_submit/annal_log_sync/annal_log_append at once.
 * Events get consecutive seqs in the order their batches are submitted; a
 * batch's events are contiguous. A background thread of the log compresses
 * pending records into blocks, writes them and fdatasyncs the segment: every
 * batch submitted while the previous write was in flight shares the next
 * fdatasync (group commit). An event is durable, and may be acknowledged,
 * once annal_log_sync for its seq has returned ANNAL_OK.
 *
 * Opening recovers: a torn tail of the last segment (an incomplete block or
 * footer left by a crash, never acknowledged) is cut off and one line is
 * logged saying how many bytes and which seqs; any other damage (a sealed
 * segment without a valid footer, a chain that does not link, a missing
 * segment, a complete but invalid block in the last segment) makes open fail
 * with ANNAL_ECORRUPT and a message naming the file: run `annal verify`.
 *
 * Failures. If a write or fdatasync fails (say, a full disk), the events not
 * yet durable are not acknowledged (their annal_log_sync returns ANNAL_EIO
 * with errno of the failed call) and the log refuses further submits with
 * ANNAL_ECLOSED. Close it and open it again: recovery cuts any partial write,
 * and every acknowledged event is still there. An event whose sync failed may
 * or may not be in the log after reopening (its write may have completed);
 * clients retry with the same event_id.
 */
#ifndef ANNAL_LOG_H
#define ANNAL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "fileio.h"

typedef struct annal_log annal_log;

typedef struct annal_log_options {
    uint64_t segment_bytes; /* a segment is sealed once it reaches this size; 0: 64 MiB */
    size_t block_bytes;     /* records per block, in raw bytes; 0: 64 KiB (min 1 KiB) */
    int zstd_level;         /* 0: 1 */
    int compress_threads;   /* extra threads compressing blocks; 0: CPUs - 1 (at most 3); -1: none */
    size_t max_pending;     /* submit waits while this many raw bytes await writing; 0: 64 MiB */
    const annal_io *io;     /* file writes go through this; NULL: annal_io_posix */
    /* Receives the log's one-line messages (recovery, segment rolls);
     * NULL: they go to stderr prefixed with "annal: ". */
    void (*log_fn)(void *ctx, const char *line);
    void *log_ctx;
} annal_log_options;

typedef struct annal_append_result {
    uint64_t first_seq, last_seq;
    int64_t recorded_at_ns;     /* recorded_at of the batch's events (one per batch) */
    unsigned char leaf[32];     /* leaf hash of the batch's last event */
    unsigned char chain[32];    /* chain head after the batch's last event */
} annal_append_result;

typedef struct annal_log_stats {
    uint64_t durable_seq;       /* last durable seq (0: empty log) */
    unsigned char chain[32];    /* chain head at durable_seq */
    uint64_t commits;           /* fdatasyncs of committed blocks since open */
    uint64_t committed_events;  /* events they made durable */
    uint64_t blocks;            /* blocks written since open */
    uint64_t segments_sealed;   /* segments sealed since open */
} annal_log_stats;

/*
 * Open (creating it and its first segment if needed) the log in directory
 * dir, recovering as described above. opt may be NULL for defaults.
 * On failure *out is NULL and, when err is non-NULL, err[0..errlen) gets a
 * sentence for the operator. Returns ANNAL_OK, ANNAL_ELOCKED (another writer),
 * ANNAL_ECORRUPT, ANNAL_EVERSION, ANNAL_EIO (errno set), ANNAL_ENOMEM or
 * ANNAL_EINVAL.
 */
int annal_log_open(const char *dir, const annal_log_options *opt, annal_log **out,
                   char *err, size_t errlen);

/*
 * Assign seqs and recorded_at to evs[0..n) (n >= 1; each parsed by
 * annal_event_parse, and only read during the call) and queue their records
 * for writing. Returns once the records are queued, NOT durable: call
 * annal_log_sync(log, res->last_seq) before acknowledging. res gets the
 * seqs, recorded_at, leaf hash of the last event and the chain head after it.
 * Blocks while more than max_pending bytes await writing.
 * Returns ANNAL_OK, ANNAL_EINVAL, ANNAL_ENOMEM, or ANNAL_ECLOSED (the log
 * failed earlier or is closing).
 */
int annal_log_submit(annal_log *log, const annal_event *evs, size_t n, annal_append_result *res);

/* Wait until every seq <= seq is durable. ANNAL_OK, or ANNAL_EIO (errno of
 * the failed write/fsync) / ANNAL_ECLOSED when it never will be. */
int annal_log_sync(annal_log *log, uint64_t seq);

/* annal_log_submit then annal_log_sync: returns once the batch is durable. */
int annal_log_append(annal_log *log, const annal_event *evs, size_t n, annal_append_result *res);

/* A snapshot of the log's counters. */
void annal_log_stats_get(annal_log *log, annal_log_stats *st);

/* Write everything queued, stop the writer thread, release the lock, free.
 * Returns ANNAL_OK or the error that made the log fail. NULL is a no-op. */
int annal_log_close(annal_log *log);

#endif
