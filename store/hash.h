/*
 * hash.h - the hashes of PRODUCT.md §2 (SHA-256 through OpenSSL libcrypto).
 *
 *   leaf  L(n) = SHA-256(0x00 || record_n)          (RFC 9162 leaf hash)
 *   chain C(n) = SHA-256(C(n-1) || L(n)),  C(0) = 32 zero bytes
 *
 * Every function is thread-safe (the digest state is on the caller's stack)
 * and cannot fail.
 */
#ifndef ANNAL_HASH_H
#define ANNAL_HASH_H

#include <stddef.h>

#define ANNAL_HASH_LEN 32

/* out = SHA-256(a || b); b may be NULL when bn is 0. */
void annal_sha256_2(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32]);

/* out = L = SHA-256(0x00 || rec[0..len)). rec excludes the newline. */
void annal_leaf_hash(const char *rec, size_t len, unsigned char out[32]);

/* out = SHA-256(prev || leaf); out may alias prev. */
void annal_chain_next(const unsigned char prev[32], const unsigned char leaf[32], unsigned char out[32]);

/* Lower-case hex of 32 bytes into out[65] (NUL-terminated). */
void annal_hex32(const unsigned char h[32], char out[65]);

#endif
