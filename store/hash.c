#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static pthread_key_t hash_key;
static EVP_MD *hash_md;

static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void hash_init(void)
{
    hash_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!hash_md || pthread_key_create(&hash_key, ctx_free) != 0) {
        fprintf(stderr, "annal: cannot initialise SHA-256 from libcrypto\n");
        abort();
    }
}

static EVP_MD_CTX *thread_ctx(void)
{
    pthread_once(&hash_once, hash_init);
    EVP_MD_CTX *ctx = pthread_getspecific(hash_key);
    if (!ctx) {
        ctx = EVP_MD_CTX_new();
        if (!ctx || pthread_setspecific(hash_key, ctx) != 0)
            abort();
    }
    return ctx;
}

void annal_sha256_2(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32])
{
    EVP_MD_CTX *ctx = thread_ctx();
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx, hash_md, NULL) != 1 || EVP_DigestUpdate(ctx, a, an) != 1 ||
        (bn && EVP_DigestUpdate(ctx, b, bn) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
        len != 32)
        abort();
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
