/*
 * merkle.h - the RFC 9162 Merkle tree over the log's leaf hashes: hashes,
 * roots, inclusion and consistency proofs, and their verification.
 *
 * Leaves. Leaf i (0-based) of the tree is the leaf hash of the record with
 * seq i + 1: L = SHA-256(0x00 || record) (store/FORMAT.md). A tree of size n
 * holds leaves 0..n-1, i.e. seqs 1..n. Interior nodes are
 * SHA-256(0x01 || left || right), split at the largest power of two smaller
 * than the number of leaves (RFC 9162 §2.1.1); the empty tree's root is
 * SHA-256("").
 *
 * Stored nodes. Proofs are made from the hashes of complete subtrees: the
 * node (level, index) covers leaves [index << level, (index + 1) << level)
 * and exists once all of them are in the tree (level 0: the leaves). Any
 * root, inclusion or consistency proof needs O(log n) of them; whoever
 * stores them (the index, index/INDEX.md) passes a function that returns
 * one. Nodes that are not complete (the right edge of a tree whose size is
 * not a power of two) are computed from complete ones. The functions here
 * ask only for nodes that are complete in the tree they work on (size, or
 * size2), each at most once: a root takes popcount(size) calls, a proof at
 * most about 2 log2(size).
 *
 * Proofs are the hash lists of RFC 9162 §2.1.3 and §2.1.4, in its order
 * (an inclusion proof starts next to the leaf), so any RFC 9162 / RFC 6962
 * verifier (golang.org/x/mod/sumdb/tlog, transparency-dev/merkle) checks
 * them (tests/test_merkle.c checks the published RFC 6962 test vectors). A proof does not authenticate the
 * tree size: like the root, the size must come from a trusted source (a
 * signed checkpoint). For example the inclusion proof of leaf 0 in a tree
 * of size 3 also "proves" leaf 0 in a tree of size 4 whose root is that
 * same hash: a verifier that takes sizes and roots together never meets it.
 *
 * Errors: ANNAL_OK; ANNAL_EINVAL (a leaf index >= size, size1 > size2,
 * size1 == 0 for consistency, a proof longer than ANNAL_MERKLE_MAX_PROOF);
 * whatever the node function returns; ANNAL_ECORRUPT from a verify function
 * when the proof does not prove the claim.
 */
#ifndef ANNAL_MERKLE_H
#define ANNAL_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define ANNAL_MERKLE_MAX_PROOF 128 /* hashes; a tree of 2^64 leaves needs at most 2 * 64 */

/* SHA-256(0x01 || l || r). */
void annal_merkle_node(const unsigned char l[32], const unsigned char r[32], unsigned char out[32]);
/* SHA-256(""): the root of the empty tree. */
void annal_merkle_empty(unsigned char out[32]);

/* The hash of complete subtree node (level, index) into out: 0 or an error. */
typedef int (*annal_merkle_node_fn)(void *ctx, unsigned level, uint64_t index, unsigned char out[32]);

/* The root of the tree of the first `size` leaves. */
int annal_merkle_root(uint64_t size, annal_merkle_node_fn fn, void *ctx, unsigned char out[32]);

/* The inclusion proof of leaf `index` in the tree of size `size` (RFC 9162
 * §2.1.3.1): *n hashes into proof[ANNAL_MERKLE_MAX_PROOF]. */
int annal_merkle_inclusion(uint64_t index, uint64_t size, annal_merkle_node_fn fn, void *ctx,
                           unsigned char proof[][32], size_t *n);

/* The consistency proof between the trees of size1 and size2, 0 < size1 <=
 * size2 (RFC 9162 §2.1.4.1; empty when size1 == size2). */
int annal_merkle_consistency(uint64_t size1, uint64_t size2, annal_merkle_node_fn fn, void *ctx,
                             unsigned char proof[][32], size_t *n);

/* RFC 9162 §2.1.3.2: ANNAL_OK when proof[0..n) proves that leaf_hash is leaf
 * `index` of the tree of size `size` with root `root`, else ANNAL_ECORRUPT
 * (ANNAL_EINVAL for index >= size). */
int annal_merkle_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf_hash[32],
                                  const unsigned char proof[][32], size_t n, const unsigned char root[32]);

/* RFC 9162 §2.1.4.2: ANNAL_OK when proof[0..n) proves that the tree of size2
 * with root2 extends the tree of size1 with root1 (size1 == size2 needs an
 * empty proof and equal roots; size1 == 0 is ANNAL_EINVAL). */
int annal_merkle_verify_consistency(uint64_t size1, uint64_t size2, const unsigned char root1[32],
                                    const unsigned char root2[32], const unsigned char proof[][32], size_t n);

/* A streaming root: push leaves in order, get the root of what was pushed
 * (O(log n) memory: the complete subtrees of the binary decomposition; one
 * node hash per push on average). The stack at bit i of size is node (i,
 * (size >> i) - 1), the frontier a writer of complete nodes keeps too. */
typedef struct annal_merkle_stream {
    uint64_t size;
    unsigned char stack[64][32]; /* stack[i]: the complete subtree at bit i of size, when set */
} annal_merkle_stream;

void annal_merkle_stream_init(annal_merkle_stream *s);
void annal_merkle_stream_push(annal_merkle_stream *s, const unsigned char leaf_hash[32]);
void annal_merkle_stream_root(const annal_merkle_stream *s, unsigned char out[32]);

#endif
