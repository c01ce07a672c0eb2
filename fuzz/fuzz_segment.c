/*
 * Fuzz target: the segment checks that `annal verify`, recovery and the
 * readers share. Arbitrary bytes are checked as a segment, both as a sealed
 * one and as the last one of a log; it must never crash, hang or leak, its
 * verdict must be consistent (when it accepts, the index lies inside the
 * input and the valid part ends within it), and the block-parallel path of
 * verify (walk + per-block checks, here in reverse order) must reach exactly
 * the same verdict and message as the one-pass check.
 */
#include "store/error.h"
#include "store/segment.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int count_record(void *ctx, uint64_t seq, const char *rec, size_t len, const unsigned char leaf[32])
{
    (void)seq;
    (void)rec;
    (void)len;
    (void)leaf;
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The block-parallel verdict, computed as verify.c does. */
static int walk_verdict(const uint8_t *data, size_t size, int last, annal_scratch *s, annal_seg_check *out)
{
    memset(out, 0, sizeof(*out));
    out->buf = data;
    out->len = size;
    out->is_last = last;
    out->scratch = s;
    annal_seg_walk w = {0};
    int rc = annal_seg_walk_run(out, &w);
    if (rc == ANNAL_ENOMEM) {
        annal_seg_walk_free(&w);
        return rc;
    }
    /* Reverse order: the lowest failing block must win whatever the order. */
    int found = 0;
    annal_seg_check lowest = {0};
    for (size_t i = w.n; i-- > 0;) {
        annal_seg_check e;
        if (annal_seg_walk_check_block(out, &w, i, s, &e) == ANNAL_ECORRUPT) {
            lowest = e;
            found = 1;
        }
    }
    if (found) {
        out->err_offset = lowest.err_offset;
        out->err_seq = lowest.err_seq;
        memcpy(out->err, lowest.err, sizeof(out->err));
        rc = ANNAL_ECORRUPT;
    }
    annal_seg_walk_free(&w);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    annal_scratch scratch = {0};
    for (int last = 0; last < 2; last++) {
        uint64_t records = 0;
        annal_seg_check c = {.buf = data, .len = size, .is_last = last, .scratch = &scratch,
                             .keep_index = 1, .on_record = count_record, .ctx = &records};
        int rc = annal_seg_check_run(&c);
        if (rc == ANNAL_OK) {
            if (c.valid_end > size || c.valid_end + c.tail_bytes != size)
                abort();
            if (!last && c.tail_bytes)
                abort();
            if (records != c.next_seq - c.hdr.first_seq)
                abort();
            for (size_t i = 0; i < c.index_n; i++)
                if (c.index[i].offset >= size)
                    abort();
        } else if (rc != ANNAL_ECORRUPT && rc != ANNAL_ENOMEM) {
            abort();
        }
        annal_seg_check p;
        int prc = walk_verdict(data, size, last, &scratch, &p);
        if (rc != ANNAL_ENOMEM && prc != ANNAL_ENOMEM) {
            if (prc != rc)
                abort();
            if (rc == ANNAL_ECORRUPT &&
                (p.err_offset != c.err_offset || p.err_seq != c.err_seq || strcmp(p.err, c.err) != 0))
                abort();
            if (rc == ANNAL_OK && (p.next_seq != c.next_seq || p.valid_end != c.valid_end ||
                                   p.sealed != c.sealed || memcmp(p.chain, c.chain, 32) != 0))
                abort();
        }
        free(c.index);
        free(p.index);
    }
    annal_scratch_free(&scratch);
    return 0;
}
