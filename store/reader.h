/*
 * reader.h - reading records of the log by seq, from the segment files
 * alone. Any number of readers may work while a writer appends; a reader
 * sees the records of complete blocks (it never returns a record of a torn
 * or half-written block). It checks each block it reads (frame check, zstd
 * frame, size) but does not re-verify the chain: that is `annal verify`.
 *
 * One annal_reader is used by one thread at a time.
 *
 * Caching: a reader keeps the last block it decompressed. Readers of one
 * log may also share a block cache (store/bcache.h) through
 * annal_reader_set_cache: then annal_reader_get takes blocks from the
 * cache, and a block it has to read from the file is checked exactly as
 * without a cache (a damaged block is reported, never cached) and then
 * put into the cache for every reader sharing it.
 */
#ifndef ANNAL_READER_H
#define ANNAL_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct annal_reader annal_reader;
struct annal_bcache;

/* Open a reader on the log in dir. Between calls a reader keeps one file
 * descriptor open: the segment it last read a block from. Returns
 * ANNAL_OK, ANNAL_ENOTFOUND (no segment in dir), ANNAL_EIO (errno set) or
 * ANNAL_ENOMEM. */
int annal_reader_open(const char *dir, annal_reader **out);

/*
 * Find record seq. On ANNAL_OK, *rec points to its bytes (no newline) and
 * *len to their count; they stay valid until the next call on r or its
 * close. Reading seqs in increasing order is fast (the block is kept).
 * Returns ANNAL_OK, ANNAL_ENOTFOUND (seq is 0 or beyond the log's end),
 * ANNAL_ECORRUPT (the block holding it is damaged: run `annal verify`),
 * ANNAL_EIO (errno set) or ANNAL_ENOMEM.
 */
int annal_reader_get(annal_reader *r, uint64_t seq, const char **rec, size_t *len);

/*
 * Iteration: annal_reader_seek(r, seq) positions r before record seq;
 * each annal_reader_next then returns the next record (its seq in *seq, its
 * bytes as annal_reader_get), or ANNAL_ENOTFOUND past the last record
 * written so far (call again later to see records appended since). A new
 * reader starts at seq 1. Errors as annal_reader_get.
 */
void annal_reader_seek(annal_reader *r, uint64_t seq);
int annal_reader_next(annal_reader *r, uint64_t *seq, const char **rec, size_t *len);

/* The last seq readable now (0 for an empty log); refreshes the view of
 * the directory. Returns ANNAL_OK or an error as annal_reader_get. */
int annal_reader_last(annal_reader *r, uint64_t *last_seq);

/*
 * Make r read blocks through cache (NULL: no cache again, the default). The
 * cache must serve r's log directory only (annal_bcache_claim: the first
 * reader ties it to its directory) and outlive r, or the next
 * annal_reader_set_cache on r. With a cache, r holds (pins) the cached
 * block of the last record it returned, which keeps *rec valid as above;
 * that block is released on the next get from another block, on
 * annal_reader_set_cache and on close. annal_reader_get then also reports
 * ANNAL_ECORRUPT for a block whose records do not match its header's count
 * (without a cache, only a seq past the records found is). Returns
 * ANNAL_OK, ANNAL_EINVAL (r NULL, or cache already serves another
 * directory) or ANNAL_EIO (stat of the directory failed; errno set).
 */
int annal_reader_set_cache(annal_reader *r, struct annal_bcache *cache);

/* Close r (releasing its cached block, if any); NULL is a no-op. */
void annal_reader_close(annal_reader *r);

#endif
