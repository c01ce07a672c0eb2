/*
 * bcache.h - a shared, thread-safe cache of decompressed blocks of one log,
 * for the readers of store/reader.h (annal_reader_set_cache). A block found
 * in the cache costs a hash lookup under a mutex instead of a pread, a
 * SHA-256 frame check and a zstd decompression of ~64 KiB (~80 us); the
 * record of a seq inside a cached block is found in O(1) (an array of
 * record offsets is built once, when the block enters the cache).
 *
 * WHAT IS CACHED. An entry is one complete block of the log, keyed by
 * (first seq of its segment, file offset of its block header frame); it
 * holds the block's records exactly as annal_block_decode produced them
 * (each followed by "\n") and their offsets. Only blocks that passed every
 * check the reader makes (block header, frame check, zstd frame, content
 * size: store/segment.h annal_block_decode) and that hold exactly `count`
 * records, the last ending the block, are put: annal_bcache_put refuses
 * anything else with ANNAL_ECORRUPT and caches nothing, so a damaged block
 * is reported on every read, never served from here.
 *
 * WHY ENTRIES NEVER GO STALE. The log is append-only (store/FORMAT.md):
 *  - nothing rewrites a complete block: the writer only appends after the
 *    last block it wrote, and sealing appends a footer;
 *  - a reader (store/reader.c) indexes a block only when all its bytes are
 *    in the file, and the cache is only fed blocks a reader indexed and
 *    checked; the writer's recovery (at open) cuts only a torn tail, i.e.
 *    bytes after the last complete block, which no reader ever returned,
 *    and refuses to open (ANNAL_ECORRUPT) on a complete block that fails a
 *    check instead of rewriting it;
 *  - `annal reindex` rebuilds the index (dir/index) and never touches the
 *    segment files; segments are never removed or renamed.
 * So a (segment, offset) key names the same bytes for the life of the log
 * directory, and a cache never needs invalidation. It must serve readers of
 * ONE log directory: annal_bcache_claim ties it to the first directory
 * (by device and inode) and refuses any other. The one thing that would
 * break this is storage losing bytes the kernel already accepted (an I/O
 * error at fdatasync, then the page dropped); `annal verify` and the
 * writer's recovery report that damage, and an index opened afresh starts
 * with an empty cache. A reader also compares a cached block's first seq
 * and record count with the block header it indexed, and reports
 * ANNAL_ECORRUPT on a difference.
 *
 * MEMORY. The cache holds up to `budget` bytes (default
 * ANNAL_BCACHE_DEFAULT_BUDGET): each entry is charged its records, its
 * offsets array and its bookkeeping. Putting a block evicts the least
 * recently used entries (LRU: a get or put makes an entry the most recent)
 * until the total is within budget. A block larger than the whole budget is
 * handed to its caller but not kept. Entries are reference counted: a
 * caller that holds a block (between a get/put and its release) may use
 * its bytes while another thread evicts it; an evicted block is freed at
 * its last release. So the memory in use is the budget plus the blocks
 * evicted while still held (one per reader at most, for store/reader.c).
 *
 * THREADS. Every function may be called from any thread at the same time
 * (one mutex, held only for O(1) work: lookups, list moves, evictions;
 * decompression and the offsets scan happen outside it), except
 * annal_bcache_free, which must be the last call. Two threads that miss
 * the same block at once both load it; the second annal_bcache_put finds
 * the first one's entry, drops its own copy and returns the cached one
 * (counted in stats.duplicates). A held annal_bblock is immutable: read it
 * from any thread without a lock.
 *
 * OWNERSHIP. The cache owns its entries. annal_bcache_put takes ownership
 * of the malloc'd records buffer it is given, on every return. A block
 * returned by get or put must be given back with annal_bcache_release
 * exactly once, before annal_bcache_free. A reader using the cache
 * (annal_reader_set_cache) holds at most one block and releases it on its
 * next get of another block, on annal_reader_set_cache and on close: close
 * every such reader before freeing the cache.
 *
 * ERRORS (store/error.h): ANNAL_OK; ANNAL_EINVAL (a NULL argument where one
 * is required, or annal_bcache_claim of another directory); ANNAL_ENOMEM;
 * ANNAL_ENOTFOUND (annal_bcache_get: not cached; annal_bblock_record: seq
 * not in the block); ANNAL_ECORRUPT (annal_bcache_put: the records do not
 * match the count); ANNAL_EIO (annal_bcache_claim: stat failed, errno set).
 */
#ifndef ANNAL_BCACHE_H
#define ANNAL_BCACHE_H

#include <stddef.h>
#include <stdint.h>

#define ANNAL_BCACHE_DEFAULT_BUDGET ((size_t)32 << 20)

typedef struct annal_bcache annal_bcache;

/* A cached block, as its holder sees it (read-only; valid until released). */
typedef struct annal_bblock {
    uint64_t seg_first;   /* key: first seq of the segment file */
    uint64_t offset;      /* key: file offset of the block header frame */
    uint64_t first_seq;   /* seq of the block's first record */
    uint32_t count;       /* records in the block, >= 1 */
    const char *raw;      /* raw_len bytes: the records, each followed by "\n" */
    size_t raw_len;
    const uint32_t *pos;  /* count + 1 offsets: record first_seq + i is raw[pos[i] .. pos[i + 1] - 1) */
} annal_bblock;

typedef struct annal_bcache_stats {
    uint64_t hits;        /* annal_bcache_get found the block */
    uint64_t misses;      /* annal_bcache_get did not */
    uint64_t inserts;     /* blocks put into the cache */
    uint64_t duplicates;  /* puts that found the block already cached (a concurrent load) */
    uint64_t evictions;   /* blocks evicted to stay within budget */
    uint64_t rejected;    /* puts refused with ANNAL_ECORRUPT */
    uint64_t oversized;   /* blocks larger than the budget: returned, not kept */
    size_t blocks, bytes; /* in the cache now, and their charge */
    size_t held_out, held_out_bytes; /* evicted (or oversized) blocks still held */
    size_t budget;
} annal_bcache_stats;

/* Create a cache of budget bytes (0: ANNAL_BCACHE_DEFAULT_BUDGET). Returns
 * ANNAL_OK, ANNAL_EINVAL (out is NULL) or ANNAL_ENOMEM. */
int annal_bcache_create(size_t budget, annal_bcache **out);

/* Free c and every cached block; NULL is a no-op. No block may be held
 * (release them, close the readers using c) and no other call on c may be
 * running or follow. */
void annal_bcache_free(annal_bcache *c);

/* Tie c to the log directory dir on the first call; later calls check that
 * dir is the same directory (same device and inode, whatever the path).
 * Returns ANNAL_OK, ANNAL_EINVAL (NULL argument, or another directory) or
 * ANNAL_EIO (stat of dir failed; errno set). annal_reader_set_cache calls it. */
int annal_bcache_claim(annal_bcache *c, const char *dir);

/* Look up block (seg_first, offset). ANNAL_OK: *out is the block, held by
 * the caller (and made the most recently used). ANNAL_ENOTFOUND: not
 * cached (*out NULL). ANNAL_EINVAL: c or out NULL. */
int annal_bcache_get(annal_bcache *c, uint64_t seg_first, uint64_t offset, const annal_bblock **out);

/*
 * Put a block that passed annal_block_decode: its header said first_seq and
 * count; raw (malloc'd, raw_len bytes) is its decompressed content. The
 * cache takes raw whatever the result. It builds the record offsets and
 * checks that raw holds exactly count records, each ending in "\n", the
 * last at raw_len. ANNAL_OK: *out is the block held by the caller (the one
 * already cached under this key if another thread put it first; then raw
 * was freed). ANNAL_ECORRUPT: raw does not hold count records (count 0,
 * a record missing, bytes after the last): nothing cached, *out NULL.
 * ANNAL_ENOMEM. ANNAL_EINVAL: c, raw or out NULL, or raw_len > UINT32_MAX.
 */
int annal_bcache_put(annal_bcache *c, uint64_t seg_first, uint64_t offset, uint64_t first_seq, uint32_t count,
                     char *raw, size_t raw_len, const annal_bblock **out);

/* Give back a block from get or put; NULL is a no-op. */
void annal_bcache_release(annal_bcache *c, const annal_bblock *b);

/* Record seq of a held block, in O(1): *rec (no newline) and *len, valid
 * while b is held. ANNAL_OK or ANNAL_ENOTFOUND (seq not in b). */
int annal_bblock_record(const annal_bblock *b, uint64_t seq, const char **rec, size_t *len);

/* A snapshot of c's counters. */
void annal_bcache_stats_get(annal_bcache *c, annal_bcache_stats *st);

#endif
