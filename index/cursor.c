/*
 * cursor.c - the opaque paging cursor: base64url (RFC 4648 §5, no padding)
 * of 17 bytes: version 0x01, then the big-endian (time_ns, seq) of the last
 * entry returned. Decoding is strict: exactly 23 characters of the
 * alphabet, zero unused bits, version 1; anything else is refused.
 */
#include "index/internal.h"

#include <string.h>

#define CURSOR_VERSION 1
#define CURSOR_BYTES 17

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void ix_cursor_encode(int64_t time_ns, uint64_t seq, char out[ANNAL_INDEX_CURSOR_LEN + 1])
{
    unsigned char b[CURSOR_BYTES + 1] = {CURSOR_VERSION};
    ix_tpos(b + 1, time_ns, seq);
    size_t o = 0;
    for (size_t i = 0; i < CURSOR_BYTES; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | (i + 2 < CURSOR_BYTES ? b[i + 2] : 0);
        size_t chars = i + 3 <= CURSOR_BYTES ? 4 : (CURSOR_BYTES - i) + 1;
        for (size_t j = 0; j < chars; j++)
            out[o++] = b64[(v >> (18 - 6 * j)) & 63];
    }
    out[o] = 0;
}

static int val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int ix_cursor_decode(const char *s, int64_t *time_ns, uint64_t *seq)
{
    if (!s || strlen(s) != ANNAL_INDEX_CURSOR_LEN)
        return ANNAL_EINVAL;
    unsigned char b[CURSOR_BYTES + 2];
    size_t o = 0;
    for (size_t i = 0; i < ANNAL_INDEX_CURSOR_LEN; i += 4) {
        size_t chars = i + 4 <= ANNAL_INDEX_CURSOR_LEN ? 4 : ANNAL_INDEX_CURSOR_LEN - i;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = j < chars ? val(s[i + j]) : 0;
            if (d < 0)
                return ANNAL_EINVAL;
            v = v << 6 | (uint32_t)d;
        }
        b[o] = (unsigned char)(v >> 16);
        b[o + 1] = (unsigned char)(v >> 8);
        b[o + 2] = (unsigned char)v;
        o += chars - 1;
        if (chars < 4 && (v & ((1u << (8 * (4 - chars))) - 1)) != 0)
            return ANNAL_EINVAL; /* non-zero bits past the last byte */
    }
    if (o != CURSOR_BYTES || b[0] != CURSOR_VERSION)
        return ANNAL_EINVAL;
    uint64_t t = ix_get_be64(b + 1);
    if (t > (uint64_t)INT64_MAX)
        return ANNAL_EINVAL;
    *time_ns = (int64_t)t;
    *seq = ix_get_be64(b + 9);
    return ANNAL_OK;
}
