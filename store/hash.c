/*
 * SHA-256 through libcrypto's one-shot SHA256_* functions: they use the same
 * SHA-NI code as EVP but keep their context on the stack, where OpenSSL 3's
 * EVP_DigestInit allocates and frees on every call (15-20% of verify's CPU,
 * measured). They are marked deprecated in OpenSSL 3 but remain supported.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "hash.h"

#include <openssl/sha.h>
#include <string.h>

void annal_sha256_2(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, a, an);
    if (bn)
        SHA256_Update(&c, b, bn);
    SHA256_Final(out, &c);
}

void annal_leaf_hash(const char *rec, size_t len, unsigned char out[32])
{
    static const unsigned char zero = 0;
    annal_sha256_2(&zero, 1, rec, len, out);
}

void annal_chain_next(const unsigned char prev[32], const unsigned char leaf[32], unsigned char out[32])
{
    unsigned char buf[64];
    memcpy(buf, prev, 32);
    memcpy(buf + 32, leaf, 32);
    annal_sha256_2(buf, 64, NULL, 0, out);
}

void annal_hex32(const unsigned char h[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = 0;
}
