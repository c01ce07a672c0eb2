/*
 * Fuzz target: the segment checker that `annal verify`, recovery and the
 * readers share. Arbitrary bytes are checked as a segment, both as a sealed
 * one and as the last one of a log; it must never crash, hang or leak, and
 * its verdict must be consistent: when it accepts, every index entry lies
 * inside the input and the valid part ends within it.
 */
#include "store/error.h"
#include "store/segment.h"

#include <stdint.h>
#include <stdlib.h>

static int count_record(void *ctx, uint64_t seq, const char *rec, size_t len, const unsigned char leaf[32])
{
    (void)seq;
    (void)rec;
    (void)len;
    (void)leaf;
    (*(uint64_t *)ctx)++;
    return 0;
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
        free(c.index);
    }
    annal_scratch_free(&scratch);
    return 0;
}
