#include "segment.h"

#include "bytes.h"
#include "error.h"
#include "event.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tags at the start of each metadata payload, and the footer's end marker. */
static const unsigned char TAG_HEADER[4] = {'A', 'N', 'S', 'H'};
static const unsigned char TAG_BLOCK[4] = {'A', 'N', 'B', 'H'};
static const unsigned char TAG_FOOTER[4] = {'A', 'N', 'S', 'F'};
static const unsigned char TAG_END[4] = {'A', 'N', 'S', 'E'};

void annal_seg_name(uint64_t first_seq, char out[ANNAL_SEG_NAME_LEN + 1])
{
    snprintf(out, ANNAL_SEG_NAME_LEN + 1, "%020llu.seg", (unsigned long long)first_seq);
}

int annal_seg_name_parse(const char *name, uint64_t *first_seq)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".seg") != 0 || v == 0)
        return 0;
    *first_seq = v;
    return 1;
}

/* check = SHA-256(p[0..n))[0..8) */
static void check8(const unsigned char *p, size_t n, unsigned char out[8])
{
    unsigned char h[32];
    annal_sha256_2(p, n, NULL, 0, h);
    memcpy(out, h, 8);
}

static int check8_ok(const unsigned char *p, size_t n, const unsigned char *want)
{
    unsigned char c[8];
    check8(p, n, c);
    return memcmp(c, want, 8) == 0;
}

static void frame_start(unsigned char *out, uint32_t payload_len, const unsigned char tag[4])
{
    annal_put_u32(out, ANNAL_SEG_MAGIC);
    annal_put_u32(out + 4, payload_len);
    memcpy(out + 8, tag, 4);
}

/* 0 if p[0..n) starts with an annal metadata frame of exactly `size` bytes
 * carrying tag; -1 with *why otherwise. */
static int frame_expect(const unsigned char *p, size_t n, size_t size, const unsigned char tag[4],
                        const char **why, const char *what)
{
    if (n < size) {
        *why = what;
        return -1;
    }
    if (annal_get_u32(p) != ANNAL_SEG_MAGIC || annal_get_u32(p + 4) != size - 8 ||
        memcmp(p + 8, tag, 4) != 0) {
        *why = what;
        return -1;
    }
    return 0;
}

/* Segment header: frame(8) | "ANSH" | u16 version | u16 flags | u64 first_seq
 * | prev_chain[32] | i64 created_ns | check[8] */
void annal_seg_header_encode(const annal_seg_header *h, unsigned char out[ANNAL_SEG_HEADER_SIZE])
{
    memset(out, 0, ANNAL_SEG_HEADER_SIZE);
    frame_start(out, ANNAL_SEG_HEADER_SIZE - 8, TAG_HEADER);
    annal_put_u16(out + 12, ANNAL_SEG_VERSION);
    annal_put_u16(out + 14, 0);
    annal_put_u64(out + 16, h->first_seq);
    memcpy(out + 24, h->prev_chain, 32);
    annal_put_u64(out + 56, (uint64_t)h->created_ns);
    check8(out + 8, 56, out + 64);
}

int annal_seg_header_decode(const unsigned char *p, size_t n, annal_seg_header *h, const char **why)
{
    if (frame_expect(p, n, ANNAL_SEG_HEADER_SIZE, TAG_HEADER, why,
                     "the file does not start with an annal segment header frame"))
        return -1;
    if (!check8_ok(p + 8, 56, p + 64)) {
        *why = "segment header check bytes do not match its contents";
        return -1;
    }
    if (annal_get_u16(p + 12) != ANNAL_SEG_VERSION) {
        *why = "segment header has an unknown format version";
        return -1;
    }
    if (annal_get_u16(p + 14) != 0) {
        *why = "segment header has reserved flag bits set";
        return -1;
    }
    h->first_seq = annal_get_u64(p + 16);
    memcpy(h->prev_chain, p + 24, 32);
    h->created_ns = (int64_t)annal_get_u64(p + 56);
    if (h->first_seq == 0) {
        *why = "segment header first_seq is 0";
        return -1;
    }
    return 0;
}

/* Block header: frame(8) | "ANBH" | u32 count | u64 first_seq | u32 raw_len
 * | u32 frame_len | chain_end[32] | frame_check[8] | check[8] */
void annal_block_header_encode(const annal_block_header *h, unsigned char out[ANNAL_BLOCK_HEADER_SIZE])
{
    frame_start(out, ANNAL_BLOCK_HEADER_SIZE - 8, TAG_BLOCK);
    annal_put_u32(out + 12, h->count);
    annal_put_u64(out + 16, h->first_seq);
    annal_put_u32(out + 24, h->raw_len);
    annal_put_u32(out + 28, h->frame_len);
    memcpy(out + 32, h->chain_end, 32);
    memcpy(out + 64, h->frame_check, 8);
    check8(out + 8, 64, out + 72);
}

int annal_block_header_decode(const unsigned char *p, size_t n, annal_block_header *h, const char **why)
{
    if (frame_expect(p, n, ANNAL_BLOCK_HEADER_SIZE, TAG_BLOCK, why,
                     "expected a block header frame here"))
        return -1;
    if (!check8_ok(p + 8, 64, p + 72)) {
        *why = "block header check bytes do not match its contents";
        return -1;
    }
    h->count = annal_get_u32(p + 12);
    h->first_seq = annal_get_u64(p + 16);
    h->raw_len = annal_get_u32(p + 24);
    h->frame_len = annal_get_u32(p + 28);
    memcpy(h->chain_end, p + 32, 32);
    memcpy(h->frame_check, p + 64, 8);
    if (h->count == 0 || h->first_seq == 0 || h->raw_len == 0 || h->frame_len == 0) {
        *why = "block header has a zero count, seq or length";
        return -1;
    }
    if (h->raw_len > ANNAL_BLOCK_RAW_MAX) {
        *why = "block header declares more than 16 MiB of records";
        return -1;
    }
    return 0;
}

/* Footer: frame(8) | "ANSF" | u32 block_count | u64 first_seq
 * | u64 record_count | u64 raw_bytes | chain_end[32]
 * | block_count x (u64 offset, u64 first_seq) | check[8]
 * | u32 footer_size | "ANSE" */
size_t annal_seg_footer_size(uint32_t block_count)
{
    return ANNAL_FOOTER_FIXED + (size_t)ANNAL_FOOTER_ENTRY * block_count;
}

void annal_seg_footer_encode(const annal_seg_footer *f, const annal_block_ref *blocks, unsigned char *out)
{
    size_t size = annal_seg_footer_size(f->block_count);
    frame_start(out, (uint32_t)(size - 8), TAG_FOOTER);
    annal_put_u32(out + 12, f->block_count);
    annal_put_u64(out + 16, f->first_seq);
    annal_put_u64(out + 24, f->record_count);
    annal_put_u64(out + 32, f->raw_bytes);
    memcpy(out + 40, f->chain_end, 32);
    unsigned char *e = out + 72;
    for (uint32_t i = 0; i < f->block_count; i++, e += 16) {
        annal_put_u64(e, blocks[i].offset);
        annal_put_u64(e + 8, blocks[i].first_seq);
    }
    check8(out + 8, (size_t)(e - out) - 8, e);
    annal_put_u32(e + 8, (uint32_t)size);
    memcpy(e + 12, TAG_END, 4);
}

int annal_seg_footer_decode(const unsigned char *p, size_t n, annal_seg_footer *f,
                            annal_block_ref **blocks, const char **why)
{
    if (n < ANNAL_FOOTER_FIXED || (n - ANNAL_FOOTER_FIXED) % ANNAL_FOOTER_ENTRY != 0) {
        *why = "footer frame has an impossible size";
        return -1;
    }
    uint32_t count = (uint32_t)((n - ANNAL_FOOTER_FIXED) / ANNAL_FOOTER_ENTRY);
    if (frame_expect(p, n, n, TAG_FOOTER, why, "expected a footer frame here"))
        return -1;
    const unsigned char *e = p + 72 + (size_t)count * 16;
    if (!check8_ok(p + 8, (size_t)(e - p) - 8, e)) {
        *why = "footer check bytes do not match its contents";
        return -1;
    }
    if (annal_get_u32(e + 8) != n || memcmp(e + 12, TAG_END, 4) != 0) {
        *why = "footer end marker is damaged";
        return -1;
    }
    f->block_count = annal_get_u32(p + 12);
    f->first_seq = annal_get_u64(p + 16);
    f->record_count = annal_get_u64(p + 24);
    f->raw_bytes = annal_get_u64(p + 32);
    memcpy(f->chain_end, p + 40, 32);
    if (f->block_count != count) {
        *why = "footer block count does not match its size";
        return -1;
    }
    if (blocks) {
        *blocks = NULL;
        if (count) {
            annal_block_ref *b = malloc(sizeof(*b) * count);
            if (!b) {
                *why = "out of memory";
                return -1;
            }
            for (uint32_t i = 0; i < count; i++) {
                b[i].offset = annal_get_u64(p + 72 + 16 * (size_t)i);
                b[i].first_seq = annal_get_u64(p + 80 + 16 * (size_t)i);
            }
            *blocks = b;
        }
    }
    return 0;
}

int annal_seg_footer_locate(const unsigned char tail[8], uint64_t file_size, uint64_t *footer_off)
{
    if (memcmp(tail + 4, TAG_END, 4) != 0)
        return 0;
    uint32_t size = annal_get_u32(tail);
    if (size < ANNAL_FOOTER_FIXED || size > file_size ||
        file_size - size < ANNAL_SEG_HEADER_SIZE)
        return 0;
    *footer_off = file_size - size;
    return 1;
}

void annal_scratch_free(annal_scratch *s)
{
    if (!s)
        return;
    ZSTD_freeDCtx(s->dctx);
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

/* The header part of annal_block_decode: a valid header whose frame is
 * wholly inside p[0..n). */
static int block_header_complete(const unsigned char *p, size_t n, annal_block_header *bh, const char **why,
                                 int *incomplete)
{
    *incomplete = 0;
    if (n < ANNAL_BLOCK_HEADER_SIZE) {
        *incomplete = 1;
        *why = "the block header is cut short";
        return -1;
    }
    if (annal_block_header_decode(p, n, bh, why))
        return -1;
    if (n - ANNAL_BLOCK_HEADER_SIZE < bh->frame_len) {
        *incomplete = 1;
        *why = "the block's zstd frame is cut short";
        return -1;
    }
    return 0;
}

/* The rest of annal_block_decode: the frame check, the zstd frame and its
 * decompression, for a header that block_header_complete accepted. */
static int block_frame_decode(const unsigned char *frame, const annal_block_header *bh, const char **raw,
                              annal_scratch *s, const char **why)
{
    if (!check8_ok(frame, bh->frame_len, bh->frame_check)) {
        *why = "the compressed bytes of the block do not match its frame check";
        return -1;
    }
    if (ZSTD_findFrameCompressedSize(frame, bh->frame_len) != bh->frame_len) {
        *why = "the block's zstd frame is malformed or its length is wrong";
        return -1;
    }
    unsigned long long csize = ZSTD_getFrameContentSize(frame, bh->frame_len);
    if (csize != bh->raw_len) {
        *why = "the zstd frame's content size differs from the block header";
        return -1;
    }
    if (!s->dctx && !(s->dctx = ZSTD_createDCtx())) {
        *why = "out of memory";
        return -1;
    }
    if (s->cap < bh->raw_len) {
        char *nb = realloc(s->buf, bh->raw_len);
        if (!nb) {
            *why = "out of memory";
            return -1;
        }
        s->buf = nb;
        s->cap = bh->raw_len;
    }
    size_t got = ZSTD_decompressDCtx(s->dctx, s->buf, bh->raw_len, frame, bh->frame_len);
    if (ZSTD_isError(got) || got != bh->raw_len) {
        *why = "the block's zstd frame does not decompress";
        return -1;
    }
    *raw = s->buf;
    return 0;
}

int annal_block_decode(const unsigned char *p, size_t n, annal_block_header *bh,
                       const char **raw, annal_scratch *s, const char **why, int *incomplete)
{
    if (block_header_complete(p, n, bh, why, incomplete))
        return -1;
    return block_frame_decode(p + ANNAL_BLOCK_HEADER_SIZE, bh, raw, s, why);
}

static int fail(annal_seg_check *c, uint64_t off, uint64_t seq, const char *fmt, const char *a)
{
    c->err_offset = off;
    c->err_seq = seq;
    snprintf(c->err, sizeof(c->err), fmt, a);
    return ANNAL_ECORRUPT;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int index_push(annal_seg_check *c, size_t *cap, uint64_t off, uint64_t seq)
{
    if (c->index_n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        annal_block_ref *ni = realloc(c->index, ncap * sizeof(*ni));
        if (!ni)
            return ANNAL_ENOMEM;
        c->index = ni;
        *cap = ncap;
    }
    c->index[c->index_n].offset = off;
    c->index[c->index_n].first_seq = seq;
    c->index_n++;
    return 0;
}

/* Check the records of one decoded block; advances c->next_seq and c->chain. */
static int check_records(annal_seg_check *c, uint64_t off, const annal_block_header *bh, const char *raw)
{
    const char *p = raw, *end = raw + bh->raw_len;
    if (end[-1] != '\n')
        return fail(c, off, bh->first_seq, "%s", "the block's records do not end with a newline");
    for (uint32_t i = 0; i < bh->count; i++) {
        if (p >= end)
            return fail(c, off, c->next_seq, "%s", "the block holds fewer records than its header says");
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p);
        annal_event ev;
        annal_event_error ee;
        if (annal_record_parse(p, len, &ev, &ee) != ANNAL_OK) {
            fail(c, off, c->next_seq, "%s", "invalid record: ");
            size_t l = strlen(c->err);
            snprintf(c->err + l, sizeof(c->err) - l, "%.96s%s%.190s", ee.field, ee.field[0] ? ": " : "",
                     ee.reason);
            return ANNAL_ECORRUPT;
        }
        if (ev.seq != c->next_seq) {
            char msg[120];
            snprintf(msg, sizeof(msg), "record carries seq %llu where seq %llu was expected",
                     (unsigned long long)ev.seq, (unsigned long long)c->next_seq);
            return fail(c, off, c->next_seq, "%s", msg);
        }
        unsigned char leaf[32];
        annal_leaf_hash(p, len, leaf);
        annal_chain_next(c->chain, leaf, c->chain);
        if (c->on_record) {
            int rc = c->on_record(c->ctx, c->next_seq, p, len, leaf);
            if (rc)
                return rc;
        }
        c->next_seq++;
        p = nl + 1;
    }
    if (p != end)
        return fail(c, off, c->next_seq, "%s", "the block holds more records than its header says");
    if (memcmp(c->chain, bh->chain_end, 32) != 0)
        return fail(c, off, bh->first_seq + bh->count - 1, "%s",
                    "chain mismatch: the chain head recomputed over the block's records differs from its header");
    return 0;
}

static int check_footer(annal_seg_check *c, uint64_t off, size_t size)
{
    annal_seg_footer f;
    annal_block_ref *refs = NULL;
    const char *why = NULL;
    if (off + size != c->len)
        return fail(c, off, c->next_seq ? c->next_seq - 1 : 0, "%s",
                    size > c->len - off ? "the footer is cut short (truncated segment?)" : "bytes follow the footer");
    if (annal_seg_footer_decode(c->buf + off, size, &f, &refs, &why))
        return fail(c, off, c->next_seq ? c->next_seq - 1 : 0, "%s", why);
    const char *bad = NULL;
    if (f.first_seq != c->hdr.first_seq)
        bad = "footer first_seq differs from the segment header";
    else if (f.record_count != c->next_seq - c->hdr.first_seq)
        bad = "footer record count differs from the records in the segment";
    else if (f.record_count == 0)
        bad = "a sealed segment must hold at least one record";
    else if (f.block_count != c->blocks)
        bad = "footer block count differs from the blocks in the segment";
    else if (f.raw_bytes != c->raw_bytes)
        bad = "footer raw byte count differs from the records in the segment";
    else if (memcmp(f.chain_end, c->chain, 32) != 0)
        bad = "footer chain head differs from the chain recomputed over the segment";
    else if (c->keep_index)
        for (size_t i = 0; i < c->index_n && !bad; i++)
            if (refs[i].offset != c->index[i].offset || refs[i].first_seq != c->index[i].first_seq)
                bad = "footer block index differs from the blocks in the segment";
    free(refs);
    if (bad)
        return fail(c, off, c->next_seq ? c->next_seq - 1 : 0, "%s", bad);
    c->sealed = 1;
    c->valid_end = c->len;
    return 0;
}

static int check_block(const annal_seg_check *c, const annal_seg_walk *w, size_t i, annal_scratch *s,
                       annal_record_fn on_record, void *ctx, annal_seg_check *err);

int annal_seg_check_run(annal_seg_check *c)
{
    /* The walk checks everything but the blocks' contents; then the blocks
     * are checked in order, and the first failing one decides. */
    annal_seg_walk w = {0};
    int rc = annal_seg_walk_run(c, &w);
    for (size_t i = 0; rc != ANNAL_ENOMEM && i < w.n; i++) {
        int brc = check_block(c, &w, i, c->scratch, c->on_record, c->ctx, c);
        if (brc) {
            rc = brc;
            free(c->index);
            c->index = NULL;
            c->index_n = 0;
            break;
        }
    }
    annal_seg_walk_free(&w);
    return rc;
}

/* ---- the same check, block by block (annal_seg_walk_run and friends) ---- */

static int walk_push(annal_seg_walk *w, uint64_t off, const annal_seg_check *c, const annal_block_header *bh)
{
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 256;
        annal_seg_walk_block *nb = realloc(w->blocks, ncap * sizeof(*nb));
        if (!nb)
            return ANNAL_ENOMEM;
        w->blocks = nb;
        w->cap = ncap;
    }
    annal_seg_walk_block *b = &w->blocks[w->n++];
    b->offset = off;
    b->seq_in = c->next_seq;
    memcpy(b->chain_in, c->chain, 32);
    b->bh = *bh;
    return 0;
}

/* The loop of annal_seg_check_run with each block's check beyond its header
 * left to annal_seg_walk_check_block: after a block, the state is what it
 * leaves when valid (its header's chain head, the seq after its records). */
int annal_seg_walk_run(annal_seg_check *c, annal_seg_walk *w)
{
    const char *why = NULL;
    size_t cap = 0;
    int keep = c->keep_index;
    c->keep_index = 1; /* the footer check needs the index */
    c->index = NULL;
    c->index_n = 0;
    c->sealed = 0;
    c->blocks = 0;
    c->raw_bytes = 0;
    c->tail_bytes = 0;
    c->err[0] = 0;
    w->n = 0;
    int rc = 0;
    if (annal_seg_header_decode(c->buf, c->len, &c->hdr, &why)) {
        rc = fail(c, 0, 0, "%s", why);
        goto out;
    }
    c->next_seq = c->hdr.first_seq;
    memcpy(c->chain, c->hdr.prev_chain, 32);
    uint64_t off = ANNAL_SEG_HEADER_SIZE;
    c->valid_end = off;
    while (off < c->len) {
        const unsigned char *p = c->buf + off;
        size_t left = c->len - off;
        if (c->is_last && all_zero(p, left))
            break; /* zero-filled tail: never-completed writes */
        if (left >= 12 && annal_get_u32(p) == ANNAL_SEG_MAGIC && memcmp(p + 8, TAG_FOOTER, 4) == 0) {
            size_t size = (size_t)annal_get_u32(p + 4) + 8;
            if (size > left && c->is_last)
                break; /* torn footer */
            rc = check_footer(c, off, size);
            goto out;
        }
        annal_block_header bh;
        int incomplete = 0;
        if (left < 8 && c->is_last)
            break;
        if (block_header_complete(p, left, &bh, &why, &incomplete)) {
            if (incomplete && c->is_last)
                break;
            rc = fail(c, off, c->next_seq, "%s", why);
            goto out;
        }
        if ((rc = walk_push(w, off, c, &bh)))
            goto out;
        if ((rc = index_push(c, &cap, off, bh.first_seq)))
            goto out;
        /* As check_records leaves it when the block is valid. */
        c->next_seq = bh.first_seq + bh.count;
        memcpy(c->chain, bh.chain_end, 32);
        c->blocks++;
        c->raw_bytes += bh.raw_len;
        off += ANNAL_BLOCK_HEADER_SIZE + (uint64_t)bh.frame_len;
        c->valid_end = off;
    }
    c->tail_bytes = c->len - c->valid_end;
out:
    c->keep_index = keep;
    if (!keep || rc) {
        free(c->index);
        c->index = NULL;
        c->index_n = 0;
    }
    return rc;
}

/* Block i's contents, from the state the blocks before it leave; records go
 * to on_record. On failure err gets the error fields. */
static int check_block(const annal_seg_check *c, const annal_seg_walk *w, size_t i, annal_scratch *s,
                       annal_record_fn on_record, void *ctx, annal_seg_check *err)
{
    const annal_seg_walk_block *b = &w->blocks[i];
    annal_seg_check t;
    t.on_record = on_record;
    t.ctx = ctx;
    t.next_seq = b->seq_in;
    memcpy(t.chain, b->chain_in, 32);
    const char *why = NULL, *raw = NULL;
    int rc;
    if (block_frame_decode(c->buf + b->offset + ANNAL_BLOCK_HEADER_SIZE, &b->bh, &raw, s, &why)) {
        rc = fail(&t, b->offset, t.next_seq, "%s", why);
    } else if (b->bh.first_seq != t.next_seq) {
        char msg[120];
        snprintf(msg, sizeof(msg), "block starts at seq %llu where seq %llu was expected",
                 (unsigned long long)b->bh.first_seq, (unsigned long long)t.next_seq);
        rc = fail(&t, b->offset, t.next_seq, "%s", msg);
    } else {
        rc = check_records(&t, b->offset, &b->bh, raw);
    }
    if (rc) {
        err->err_offset = t.err_offset;
        err->err_seq = t.err_seq;
        memcpy(err->err, t.err, sizeof(err->err));
    }
    return rc;
}

int annal_seg_walk_check_block(const annal_seg_check *c, const annal_seg_walk *w, size_t i, annal_scratch *s,
                               annal_seg_check *err)
{
    return check_block(c, w, i, s, NULL, NULL, err);
}

void annal_seg_walk_free(annal_seg_walk *w)
{
    if (!w)
        return;
    free(w->blocks);
    memset(w, 0, sizeof(*w));
}
