/*
 * merkle.c - RFC 9162 §2.1 Merkle tree hashes, proofs and their
 * verification (merkle.h).
 *
 * Proof generation follows the recursive definitions of RFC 9162 §2.1.3.1
 * (PATH) and §2.1.4.1 (SUBPROOF), unrolled into loops that walk from the
 * root down. Every subtree the recursion visits is a range [start, start +
 * n) with start a multiple of the smallest power of two >= n, so its hash is
 * the right fold of the complete subtrees of n's binary decomposition
 * (range_hash): a complete node is one call of the node function. Only the
 * first left turn of a walk can meet an incomplete right sibling (after it
 * the range is a power of two), so a proof costs at most about 2 log2(size)
 * node reads.
 */
#include "store/merkle.h"

#include "store/error.h"
#include "store/hash.h"

#include <string.h>

void annal_merkle_node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32])
{
    unsigned char buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    annal_sha256_2(buf, sizeof(buf), NULL, 0, out);
}

void annal_merkle_empty(unsigned char out[32])
{
    annal_sha256_2("", 0, NULL, 0, out);
}

/* floor(log2(v)), v > 0. */
static unsigned ilog2(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

/* The largest power of two smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    return (uint64_t)1 << ilog2(n - 1);
}

/* MTH(D[start : start + n]), n >= 1, start a multiple of the smallest power
 * of two >= n: the complete subtrees of n's bits, highest first, folded from
 * the right. */
static int range_hash(uint64_t start, uint64_t n, annal_merkle_node_fn fn, void *ctx, unsigned char out[32])
{
    unsigned char sub[64][32];
    unsigned k = 0;
    uint64_t off = start;
    for (int b = 63; b >= 0; b--) {
        if (!(n >> b & 1))
            continue;
        int rc = fn(ctx, (unsigned)b, off >> b, sub[k]);
        if (rc)
            return rc;
        off += (uint64_t)1 << b;
        k++;
    }
    memcpy(out, sub[k - 1], 32);
    for (unsigned i = k - 1; i-- > 0;)
        annal_merkle_node(sub[i], out, out);
    return ANNAL_OK;
}

int annal_merkle_root(uint64_t size, annal_merkle_node_fn fn, void *ctx, unsigned char out[32])
{
    if (size == 0) {
        annal_merkle_empty(out);
        return ANNAL_OK;
    }
    return range_hash(0, size, fn, ctx, out);
}

static void reverse(unsigned char proof[][32], size_t n)
{
    unsigned char t[32];
    for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
        memcpy(t, proof[i], 32);
        memcpy(proof[i], proof[j], 32);
        memcpy(proof[j], t, 32);
    }
}

int annal_merkle_inclusion(uint64_t index, uint64_t size, annal_merkle_node_fn fn, void *ctx,
                           unsigned char proof[][32], size_t *n)
{
    *n = 0;
    if (index >= size)
        return ANNAL_EINVAL;
    /* PATH(m, D[start : start + len]), root first: each step appends the
     * sibling of the half holding m; the proof lists them leaf first. */
    uint64_t start = 0, len = size;
    size_t k = 0;
    while (len > 1) {
        uint64_t half = split_point(len);
        int rc;
        if (index - start < half) {
            rc = range_hash(start + half, len - half, fn, ctx, proof[k]);
            len = half;
        } else {
            rc = fn(ctx, ilog2(half), start / half, proof[k]);
            start += half;
            len -= half;
        }
        if (rc)
            return rc;
        k++;
    }
    reverse(proof, k);
    *n = k;
    return ANNAL_OK;
}

int annal_merkle_consistency(uint64_t size1, uint64_t size2, annal_merkle_node_fn fn, void *ctx,
                             unsigned char proof[][32], size_t *n)
{
    *n = 0;
    if (size1 == 0 || size1 > size2)
        return ANNAL_EINVAL;
    /* SUBPROOF(m, D[start : start + len], whole): the hashes each step
     * appends are collected root first and reversed at the end; the base
     * case (m == len, not the whole tree) puts MTH(D[start : start + m]),
     * always a complete subtree, first. */
    uint64_t m = size1, start = 0, len = size2;
    int whole = 1;
    size_t k = 0;
    while (m != len) {
        uint64_t half = split_point(len);
        int rc;
        if (m <= half) {
            rc = range_hash(start + half, len - half, fn, ctx, proof[k]);
            len = half;
        } else {
            rc = fn(ctx, ilog2(half), start / half, proof[k]);
            start += half;
            len -= half;
            m -= half;
            whole = 0;
        }
        if (rc)
            return rc;
        k++;
    }
    if (!whole) {
        /* len (== m) is a power of two here: a right turn keeps m < len
         * until a left turn with m == half ends the walk. */
        int rc = fn(ctx, ilog2(len), start / len, proof[k]);
        if (rc)
            return rc;
        k++;
    }
    reverse(proof, k);
    *n = k;
    return ANNAL_OK;
}

int annal_merkle_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf_hash[32],
                                  const unsigned char proof[][32], size_t n, const unsigned char root[32])
{
    if (index >= size || n > ANNAL_MERKLE_MAX_PROOF)
        return ANNAL_EINVAL;
    /* RFC 9162 §2.1.3.2 */
    uint64_t fn = index, sn = size - 1;
    unsigned char r[32];
    memcpy(r, leaf_hash, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return ANNAL_ECORRUPT;
        if ((fn & 1) || fn == sn) {
            annal_merkle_node(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            annal_merkle_node(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, 32) == 0 ? ANNAL_OK : ANNAL_ECORRUPT;
}

int annal_merkle_verify_consistency(uint64_t size1, uint64_t size2, const unsigned char root1[32],
                                    const unsigned char root2[32], const unsigned char proof[][32], size_t n)
{
    if (size1 == 0 || size1 > size2 || n > ANNAL_MERKLE_MAX_PROOF)
        return ANNAL_EINVAL;
    if (size1 == size2)
        return n == 0 && memcmp(root1, root2, 32) == 0 ? ANNAL_OK : ANNAL_ECORRUPT;
    /* RFC 9162 §2.1.4.2 */
    if (n == 0)
        return ANNAL_ECORRUPT;
    size_t i = 0;
    unsigned char fr[32], sr[32];
    if ((size1 & (size1 - 1)) == 0) {
        memcpy(fr, root1, 32); /* first is a power of two: first_hash is prepended */
    } else {
        memcpy(fr, proof[0], 32);
        i = 1;
    }
    memcpy(sr, fr, 32);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < n; i++) {
        if (sn == 0)
            return ANNAL_ECORRUPT;
        if ((fn & 1) || fn == sn) {
            annal_merkle_node(proof[i], fr, fr);
            annal_merkle_node(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            annal_merkle_node(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, root1, 32) == 0 && memcmp(sr, root2, 32) == 0 ? ANNAL_OK : ANNAL_ECORRUPT;
}

void annal_merkle_stream_init(annal_merkle_stream *s)
{
    memset(s, 0, sizeof(*s));
}

void annal_merkle_stream_push(annal_merkle_stream *s, const unsigned char leaf_hash[32])
{
    unsigned char h[32];
    memcpy(h, leaf_hash, 32);
    unsigned i = 0;
    for (; i < 63 && (s->size >> i & 1); i++)
        annal_merkle_node(s->stack[i], h, h);
    memcpy(s->stack[i], h, 32);
    s->size++;
}

void annal_merkle_stream_root(const annal_merkle_stream *s, unsigned char out[32])
{
    if (s->size == 0) {
        annal_merkle_empty(out);
        return;
    }
    unsigned i = (unsigned)__builtin_ctzll(s->size);
    memcpy(out, s->stack[i], 32);
    for (i++; i < 64; i++)
        if (s->size >> i & 1)
            annal_merkle_node(s->stack[i], out, out);
}
