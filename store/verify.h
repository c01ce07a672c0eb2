/*
 * verify.h - the full check of a data directory's log, as an auditor runs it
 * (`annal verify`). It reads only the segment files, so it works on a copy
 * of the log alone and while a writer appends (records written after it
 * listed the segments are not checked).
 *
 * Checked: every frame, every block (header, frame check, zstd frame), every
 * record (canonical JSON, valid envelope, seq contiguous from 1), the chain
 * inside and across segments, and the footers of sealed segments. A torn
 * tail at the end of the last segment (a write a crash cut short, never
 * acknowledged) is reported but is not a failure: opening the log cuts it.
 */
#ifndef ANNAL_VERIFY_H
#define ANNAL_VERIFY_H

#include <stdint.h>

#include "segment.h"

typedef struct annal_verify_report {
    int ok;                   /* 1: the log verified; 0: see the problem fields */
    uint64_t events;          /* records checked */
    uint64_t raw_bytes;       /* bytes of records (NDJSON, newlines included) */
    uint64_t disk_bytes;      /* bytes of the segment files */
    uint64_t segments;
    uint64_t blocks;          /* blocks checked */
    unsigned char chain[32];  /* chain head after the last record */
    uint64_t torn_bytes;      /* torn tail at the end of the last segment */
    /* The first problem, in log order, when ok is 0: */
    char segment[ANNAL_SEG_NAME_LEN + 1];
    uint64_t offset;          /* byte offset in that file */
    uint64_t seq;             /* seq of the record or block concerned (0: none) */
    char what[320];
} annal_verify_report;

/* Called as the check advances (bytes of segment files checked so far, of
 * bytes_total): after each segment and, at most every 50 ms or so, after a
 * chunk of blocks; from the checking threads, one call at a time. */
typedef void (*annal_progress_fn)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);

/*
 * Verify the log in dir with `jobs` threads (0 means 1; at most 256). The
 * segments are checked one after the other, the blocks of each in parallel
 * (a block can be checked alone from the chain head in the header of the one
 * before it); at most two segments are in memory at a time. Returns ANNAL_OK when the check ran to the end (then
 * rep->ok says whether the log verified), ANNAL_ENOTFOUND when dir holds no
 * segment, ANNAL_EIO (errno set) when dir or a segment cannot be read,
 * ANNAL_ENOMEM.
 */
int annal_verify_dir(const char *dir, int jobs, annal_progress_fn progress, void *ctx,
                     annal_verify_report *rep);

#endif
