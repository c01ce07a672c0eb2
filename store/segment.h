/*
 * segment.h - the segment file format of store/FORMAT.md (version 1):
 * encoding and decoding of its three metadata frames (mirrored functions,
 * little-endian, never a struct written to disk) and the full check of one
 * segment held in memory.
 *
 * A segment is: segment header frame, then blocks (block header frame +
 * one zstd frame of records), then, once sealed, a footer frame. The log is
 * the truth; nothing here keeps state between calls.
 */
#ifndef ANNAL_SEGMENT_H
#define ANNAL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#define ANNAL_SEG_MAGIC 0x184D2A5Au /* zstd skippable frame magic of every annal metadata frame */
#define ANNAL_SEG_VERSION 1
#define ANNAL_SEG_HEADER_SIZE 72    /* bytes of the segment header frame */
#define ANNAL_BLOCK_HEADER_SIZE 80  /* bytes of a block header frame */
#define ANNAL_FOOTER_FIXED 88       /* bytes of a footer frame with no block entries */
#define ANNAL_FOOTER_ENTRY 16       /* bytes per block entry in the footer */
#define ANNAL_BLOCK_RAW_MAX (16u << 20) /* largest raw block a reader accepts from disk */
#define ANNAL_SEG_NAME_LEN 24       /* "<20 digits>.seg" */

typedef struct annal_seg_header {
    uint64_t first_seq;
    unsigned char prev_chain[32]; /* C(first_seq - 1) */
    int64_t created_ns;           /* informational */
} annal_seg_header;

typedef struct annal_block_header {
    uint32_t count;       /* records in the block, >= 1 */
    uint64_t first_seq;
    uint32_t raw_len;     /* bytes of the records (each followed by "\n") */
    uint32_t frame_len;   /* bytes of the zstd frame that follows */
    unsigned char chain_end[32];  /* C(first_seq + count - 1) */
    unsigned char frame_check[8]; /* SHA-256(frame)[0..8) */
} annal_block_header;

typedef struct annal_block_ref {
    uint64_t offset;    /* file offset of the block header frame */
    uint64_t first_seq;
} annal_block_ref;

typedef struct annal_seg_footer {
    uint32_t block_count;
    uint64_t first_seq;
    uint64_t record_count;
    uint64_t raw_bytes;
    unsigned char chain_end[32];
} annal_seg_footer;

/* "%020llu.seg" of first_seq into out[ANNAL_SEG_NAME_LEN + 1]. */
void annal_seg_name(uint64_t first_seq, char out[ANNAL_SEG_NAME_LEN + 1]);
/* 1 and *first_seq if name is exactly 20 digits + ".seg" with value >= 1, else 0. */
int annal_seg_name_parse(const char *name, uint64_t *first_seq);

void annal_seg_header_encode(const annal_seg_header *h, unsigned char out[ANNAL_SEG_HEADER_SIZE]);
/* 0 on success; -1 with *why set to a static explanation. */
int annal_seg_header_decode(const unsigned char *p, size_t n, annal_seg_header *h, const char **why);

void annal_block_header_encode(const annal_block_header *h, unsigned char out[ANNAL_BLOCK_HEADER_SIZE]);
int annal_block_header_decode(const unsigned char *p, size_t n, annal_block_header *h, const char **why);

/* Bytes of a footer frame with block_count entries. */
size_t annal_seg_footer_size(uint32_t block_count);
/* Writes annal_seg_footer_size(f->block_count) bytes to out. */
void annal_seg_footer_encode(const annal_seg_footer *f, const annal_block_ref *blocks, unsigned char *out);
/* Decodes the footer frame p[0..n) (n must be its exact size). When blocks
 * is non-NULL, *blocks gets a malloc'd array of f->block_count entries that
 * the caller frees. Returns 0, or -1 with *why set (ENOMEM also gives -1). */
int annal_seg_footer_decode(const unsigned char *p, size_t n, annal_seg_footer *f,
                            annal_block_ref **blocks, const char **why);
/* Given the last 8 bytes of a file of file_size bytes: if they are a footer
 * end marker, sets *footer_off to where the footer frame starts and returns 1;
 * otherwise 0. */
int annal_seg_footer_locate(const unsigned char tail[8], uint64_t file_size, uint64_t *footer_off);

/* Per-thread decompression state for the readers; zero-initialise, then free
 * with annal_scratch_free. */
typedef struct annal_scratch {
    ZSTD_DCtx *dctx;
    char *buf;
    size_t cap;
} annal_scratch;
void annal_scratch_free(annal_scratch *s);

/*
 * Check a block whose header frame starts at p (n bytes available from p):
 * header, frame check, zstd frame, decompressed size. On success *raw points
 * to the records (in s->buf, valid until the next call with s) and returns 0.
 * On failure returns -1 and sets *why; *incomplete is set to 1 when the
 * bytes available end before the block does (a torn tail if last).
 */
int annal_block_decode(const unsigned char *p, size_t n, annal_block_header *bh,
                       const char **raw, annal_scratch *s, const char **why, int *incomplete);

typedef int (*annal_record_fn)(void *ctx, uint64_t seq, const char *rec, size_t len,
                               const unsigned char leaf[32]);

/*
 * The full check of one segment held in buf[0..len). Set the inputs, call
 * annal_seg_check, read the outputs. It checks the header, every block
 * (header, frame check, zstd frame, record count and seqs, every record with
 * annal_record_parse, the chain from hdr.prev_chain) and the footer.
 * When is_last is set, an incomplete block or footer at the end (or zero
 * bytes there) is a torn tail, not an error: valid_end and tail_bytes say
 * where the valid part ends.
 * Returns 0 (ANNAL_OK) or ANNAL_ECORRUPT with err_offset, err_seq and err set
 * for the first problem, or ANNAL_ENOMEM.
 */
typedef struct annal_seg_check {
    /* inputs */
    const unsigned char *buf;
    size_t len;
    int is_last;
    annal_record_fn on_record; /* optional: called for each valid record, in order */
    void *ctx;
    annal_scratch *scratch;
    int keep_index;            /* collect index/index_n (malloc'd; caller frees) */
    /* outputs */
    annal_seg_header hdr;
    uint64_t next_seq;             /* seq after the last valid record */
    unsigned char chain[32];       /* chain head after the last valid record */
    uint64_t valid_end;            /* offset after the last valid block (or the footer) */
    uint64_t tail_bytes;           /* bytes after valid_end (torn tail; last segment only) */
    uint64_t raw_bytes;
    uint32_t blocks;
    int sealed;
    annal_block_ref *index;
    size_t index_n;
    uint64_t err_offset;
    uint64_t err_seq;
    char err[320];
} annal_seg_check;

int annal_seg_check_run(annal_seg_check *c);

/*
 * The same check as annal_seg_check_run, split so that the blocks of one
 * segment can be checked by several threads (annal verify):
 *
 * 1. annal_seg_walk_run(c, w) checks the header and walks the block headers
 *    (each must be valid and, as annal_seg_check_run decides, complete), up
 *    to the footer (checked), a torn tail or the first damaged header. It
 *    lists the blocks in w and sets every output of c as annal_seg_check_run
 *    would IF every listed block is valid (c->err etc. when the walk itself
 *    fails; the listed blocks before that point still need their check).
 * 2. annal_seg_walk_check_block(c, w, i, ...) checks block i beyond its
 *    header (frame check, zstd frame, first seq, records, chain), starting
 *    from the state the blocks before it leave when they are valid: the
 *    previous header's chain head (or the segment header's previous chain)
 *    and the seq after it. Any thread, any order; one scratch per thread.
 * 3. The verdict: if some listed block fails, the failure of the lowest
 *    failing i is exactly annal_seg_check_run's (ANNAL_ECORRUPT with its
 *    err_offset, err_seq and err); otherwise it is the walk's.
 *
 * on_record is not called. With keep_index set, c->index is collected as
 * by annal_seg_check_run.
 */
typedef struct annal_seg_walk_block {
    uint64_t offset;            /* of the block header frame */
    uint64_t seq_in;            /* the seq the block must start at */
    unsigned char chain_in[32]; /* chain head before the block */
    annal_block_header bh;      /* its decoded header */
} annal_seg_walk_block;

typedef struct annal_seg_walk {
    annal_seg_walk_block *blocks; /* reused from call to call; annal_seg_walk_free */
    size_t n, cap;
} annal_seg_walk;

/* Returns like annal_seg_check_run: 0, ANNAL_ECORRUPT (c->err...) or ANNAL_ENOMEM. */
int annal_seg_walk_run(annal_seg_check *c, annal_seg_walk *w);
/* c as annal_seg_walk_run left it (only its buf and len are read). Returns 0,
 * or ANNAL_ECORRUPT with err->err_offset, err->err_seq and err->err set (no
 * other field of err is touched). */
int annal_seg_walk_check_block(const annal_seg_check *c, const annal_seg_walk *w, size_t i, annal_scratch *s,
                               annal_seg_check *err);
void annal_seg_walk_free(annal_seg_walk *w);

#endif
