/*
 * C2SP signed notes with Ed25519 through OpenSSL 3 libcrypto (note.h).
 */
#include "note.h"

#include "error.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const char em_dash_sp[] = "\xe2\x80\x94 "; /* U+2014, space */
#define EM_DASH_SP_LEN 4
static const char skey_prefix[] = "PRIVATE+KEY+";
#define SKEY_PREFIX_LEN 12

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- base64 (RFC 4648 §4, padded, canonical only) ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t annal_base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = b64chars[(v >> 6) & 63];
        out[o++] = b64chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64chars[v >> 18];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = b64chars[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long annal_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        const unsigned char *q = (const unsigned char *)s + i;
        int last = i + 4 == n;
        int a = b64_val(q[0]), b = b64_val(q[1]), c, d;
        if (a < 0 || b < 0)
            return -1;
        int pad = 0;
        if (last && q[3] == '=') {
            pad = q[2] == '=' ? 2 : 1;
        }
        c = pad == 2 ? 0 : b64_val(q[2]);
        d = pad ? 0 : b64_val(q[3]);
        if (c < 0 || d < 0)
            return -1;
        if (pad == 2 && (b & 15))
            return -1; /* non-canonical: unused bits set */
        if (pad == 1 && (c & 3))
            return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        unsigned char bytes[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
        for (int k = 0; k < 3 - pad; k++, o++)
            if (out && o < cap)
                out[o] = bytes[k];
    }
    return (long)o;
}

/* ---- UTF-8 and names ---- */

/* Decode one UTF-8 sequence at s[0..n) (n >= 1): its length, with *cp the
 * code point, or 0 when it is not well formed (Go's utf8.DecodeRune rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    uint32_t v = c & (0xff >> (len + 1));
    for (size_t i = 1; i < len; i++)
        v = v << 6 | (s[i] & 0x3f);
    *cp = v;
    return len;
}

/* Go's unicode.IsSpace: the White_Space property. */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

/* A key name: non-empty valid UTF-8 without '+', spaces or control
 * characters; at most ANNAL_NOTE_NAME_MAX bytes when limit is set. */
static int name_ok(const char *name, size_t len, int limit)
{
    if (len == 0 || (limit && len > ANNAL_NOTE_NAME_MAX))
        return 0;
    const unsigned char *p = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, len - i, &cp);
        if (!k || cp == '+' || cp < 0x20 || cp == 0x7f || is_space(cp))
            return 0;
        i += k;
    }
    return 1;
}

int annal_note_name_valid(const char *name, size_t len)
{
    return name != NULL && name_ok(name, len, 1);
}

/* The text rule of a note: valid UTF-8, no control character but "\n".
 * Returns the offset of the first bad byte, or n. */
static size_t text_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] >= 0x20 && p[i] < 0x80) { /* fast path: printable ASCII */
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_next(p + i, n - i, &cp);
        if (!k || (cp < 0x20 && cp != '\n'))
            return i;
        i += k;
    }
    return n;
}

int annal_note_text_valid(const char *s, size_t n)
{
    return s != NULL && text_check(s, n) == n;
}

/* ---- keys ---- */

uint32_t annal_note_key_id(const char *name, const unsigned char pub[32])
{
    unsigned char tail[34], h[32];
    tail[0] = '\n';
    tail[1] = ANNAL_NOTE_ALG_ED25519;
    memcpy(tail + 2, pub, 32);
    annal_sha256_2(name, strlen(name), tail, sizeof(tail), h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static int pub_from_seed(const unsigned char seed[32], unsigned char pub[32])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!pk)
        return ANNAL_ENOMEM;
    size_t n = 32;
    int ok = EVP_PKEY_get_raw_public_key(pk, pub, &n) == 1 && n == 32;
    EVP_PKEY_free(pk);
    return ok ? ANNAL_OK : ANNAL_ENOMEM;
}

int annal_note_signer_from_seed(const char *name, const unsigned char seed[32], annal_note_signer *out)
{
    if (!name || !seed || !out || !name_ok(name, strlen(name), 1))
        return ANNAL_EINVAL;
    annal_note_signer k;
    memset(&k, 0, sizeof(k));
    memcpy(k.vk.name, name, strlen(name) + 1);
    memcpy(k.seed, seed, 32);
    int rc = pub_from_seed(seed, k.vk.pub);
    if (rc) {
        OPENSSL_cleanse(&k, sizeof(k));
        return rc;
    }
    k.vk.id = annal_note_key_id(name, k.vk.pub);
    *out = k;
    OPENSSL_cleanse(&k, sizeof(k));
    return ANNAL_OK;
}

int annal_note_generate(const char *name, annal_note_signer *out)
{
    if (!name || !out || !name_ok(name, strlen(name), 1))
        return ANNAL_EINVAL;
    unsigned char seed[32];
    size_t got = 0;
    while (got < sizeof(seed)) {
        ssize_t r = getrandom(seed + got, sizeof(seed) - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            OPENSSL_cleanse(seed, sizeof(seed));
            return ANNAL_EIO;
        }
        got += (size_t)r;
    }
    int rc = annal_note_signer_from_seed(name, seed, out);
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
}

void annal_note_signer_clear(annal_note_signer *k)
{
    if (k)
        OPENSSL_cleanse(k, sizeof(*k));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parse name "+" hex8 "+" base64(0x01 || key[32]) from s[0..len): the name
 * into name[], the id and the 32 key bytes. what: "verifier" or "signer". */
static int parse_key_body(const char *s, size_t len, const char *what, char name[ANNAL_NOTE_NAME_MAX + 1],
                          uint32_t *id, unsigned char key[32], char *err, size_t errlen)
{
    const char *p1 = memchr(s, '+', len);
    if (!p1)
        return fail(ANNAL_EINVAL, err, errlen, "malformed %s key: expected NAME+KEYID+KEY", what);
    size_t nlen = (size_t)(p1 - s);
    if (!name_ok(s, nlen, 1))
        return fail(ANNAL_EINVAL, err, errlen,
                    "malformed %s key: the key name must be 1 to %d bytes of UTF-8 without '+', spaces "
                    "or control characters",
                    what, ANNAL_NOTE_NAME_MAX);
    const char *h = p1 + 1, *end = s + len;
    const char *p2 = memchr(h, '+', (size_t)(end - h));
    if (!p2 || p2 - h != 8)
        return fail(ANNAL_EINVAL, err, errlen, "malformed %s key: the key id must be 8 hex digits", what);
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        int d = hexval(h[i]);
        if (d < 0)
            return fail(ANNAL_EINVAL, err, errlen, "malformed %s key: the key id must be 8 hex digits", what);
        v = v << 4 | (uint32_t)d;
    }
    const char *b = p2 + 1;
    unsigned char raw[33];
    long n = annal_base64_decode(b, (size_t)(end - b), raw, sizeof(raw));
    if (n < 0)
        return fail(ANNAL_EINVAL, err, errlen, "malformed %s key: the key is not canonical base64", what);
    if (n < 1 || raw[0] != ANNAL_NOTE_ALG_ED25519)
        return fail(ANNAL_EINVAL, err, errlen, "%s key: unknown algorithm (only Ed25519, 0x01, is supported)",
                    what);
    if (n != 33)
        return fail(ANNAL_EINVAL, err, errlen, "malformed %s key: an Ed25519 key is 32 bytes, not %ld", what,
                    n - 1);
    memcpy(name, s, nlen);
    name[nlen] = 0;
    *id = v;
    memcpy(key, raw + 1, 32);
    OPENSSL_cleanse(raw, sizeof(raw));
    return ANNAL_OK;
}

int annal_note_verifier_parse(const char *s, size_t len, annal_note_verifier *out, char *err, size_t errlen)
{
    if (!s || !out)
        return fail(ANNAL_EINVAL, err, errlen, "no verifier key");
    annal_note_verifier k;
    memset(&k, 0, sizeof(k));
    int rc = parse_key_body(s, len, "verifier", k.name, &k.id, k.pub, err, errlen);
    if (rc)
        return rc;
    if (annal_note_key_id(k.name, k.pub) != k.id)
        return fail(ANNAL_EINVAL, err, errlen, "verifier key: the key id %08x does not match the name and key",
                    k.id);
    *out = k;
    return ANNAL_OK;
}

int annal_note_signer_parse(const char *s, size_t len, annal_note_signer *out, char *err, size_t errlen)
{
    if (!s || !out)
        return fail(ANNAL_EINVAL, err, errlen, "no signer key");
    if (len < SKEY_PREFIX_LEN || memcmp(s, skey_prefix, SKEY_PREFIX_LEN))
        return fail(ANNAL_EINVAL, err, errlen, "malformed signer key: it must start with PRIVATE+KEY+");
    annal_note_signer k;
    memset(&k, 0, sizeof(k));
    int rc = parse_key_body(s + SKEY_PREFIX_LEN, len - SKEY_PREFIX_LEN, "signer", k.vk.name, &k.vk.id, k.seed,
                            err, errlen);
    if (!rc)
        rc = pub_from_seed(k.seed, k.vk.pub);
    if (!rc && annal_note_key_id(k.vk.name, k.vk.pub) != k.vk.id)
        rc = fail(ANNAL_EINVAL, err, errlen, "signer key: the key id %08x does not match the name and key",
                  k.vk.id);
    if (!rc)
        *out = k;
    else if (rc == ANNAL_ENOMEM)
        fail(rc, err, errlen, "out of memory");
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

int annal_note_signer_load(const char *path, annal_note_signer *out, char *err, size_t errlen)
{
    char buf[ANNAL_NOTE_SKEY_MAX + 3];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        fail(ANNAL_EIO, err, errlen, "cannot open key file %s: %s", path, strerror(e));
        errno = e;
        return ANNAL_EIO;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            OPENSSL_cleanse(buf, sizeof(buf));
            fail(ANNAL_EIO, err, errlen, "cannot read key file %s: %s", path, strerror(e));
            errno = e;
            return ANNAL_EIO;
        }
        if (r == 0 || (n += (size_t)r) == sizeof(buf))
            break;
    }
    close(fd);
    int rc;
    if (n == sizeof(buf))
        rc = fail(ANNAL_EINVAL, err, errlen, "key file %s is too long to hold a signer key", path);
    else {
        if (n && buf[n - 1] == '\n')
            n--;
        rc = annal_note_signer_parse(buf, n, out, err, errlen);
        if (rc == ANNAL_EINVAL && err && errlen) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "%s", err);
            snprintf(err, errlen, "key file %s: %s", path, tmp);
        }
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

static int key_string(const annal_note_verifier *k, const unsigned char *key, int secret, char *out, size_t cap)
{
    unsigned char raw[33];
    char b64[45];
    raw[0] = ANNAL_NOTE_ALG_ED25519;
    memcpy(raw + 1, key, 32);
    b64[annal_base64_encode(raw, 33, b64)] = 0;
    int w = snprintf(out, cap, "%s%s+%08x+%s", secret ? skey_prefix : "", k->name, (unsigned)k->id, b64);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(b64, sizeof(b64));
    if (w < 0 || (size_t)w >= cap) {
        if (cap)
            OPENSSL_cleanse(out, cap);
        return ANNAL_EFULL;
    }
    return ANNAL_OK;
}

int annal_note_signer_string(const annal_note_signer *k, char *out, size_t cap)
{
    return key_string(&k->vk, k->seed, 1, out, cap);
}

int annal_note_verifier_string(const annal_note_verifier *k, char *out, size_t cap)
{
    return key_string(k, k->pub, 0, out, cap);
}

/* ---- signing and verifying ---- */

static int ed25519_sign(const unsigned char seed[32], const char *msg, size_t len, unsigned char sig[64])
{
    int rc = ANNAL_ENOMEM;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = 64;
    if (pk && c && EVP_DigestSignInit(c, NULL, NULL, NULL, pk) == 1 &&
        EVP_DigestSign(c, sig, &n, (const unsigned char *)msg, len) == 1 && n == 64)
        rc = ANNAL_OK;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return rc;
}

/* 1: sig[0..n) is pub's Ed25519 signature of msg; 0: it is not (or
 * libcrypto could not tell, which rejects too). */
static int ed25519_verify(const unsigned char pub[32], const char *msg, size_t len, const unsigned char *sig,
                          size_t n)
{
    if (n != 64)
        return 0;
    int ok = 0;
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (pk && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1)
        ok = EVP_DigestVerify(c, sig, n, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(pk);
    return ok;
}

int annal_note_sign(const char *text, size_t len, const annal_note_signer *keys, size_t nkeys, char **note,
                    size_t *note_len)
{
    if (!note || !note_len || !text || !keys || nkeys == 0)
        return ANNAL_EINVAL;
    *note = NULL;
    *note_len = 0;
    if (len == 0 || text[len - 1] != '\n' || text_check(text, len) != len)
        return ANNAL_EINVAL;
    /* per line: dash+space, name, space, 92 base64 characters, newline */
    size_t cap = len + 1;
    for (size_t i = 0; i < nkeys; i++) {
        size_t nl = strnlen(keys[i].vk.name, sizeof(keys[i].vk.name));
        if (!name_ok(keys[i].vk.name, nl, 1))
            return ANNAL_EINVAL;
        cap += EM_DASH_SP_LEN + nl + 1 + 92 + 1;
    }
    if (cap > ANNAL_NOTE_MAX_BYTES || nkeys > ANNAL_NOTE_MAX_SIGS)
        return ANNAL_EINVAL;
    char *out = malloc(cap + 1);
    if (!out)
        return ANNAL_ENOMEM;
    memcpy(out, text, len);
    size_t o = len;
    out[o++] = '\n';
    for (size_t i = 0; i < nkeys; i++) {
        unsigned char blob[68];
        uint32_t id = keys[i].vk.id;
        blob[0] = (unsigned char)(id >> 24);
        blob[1] = (unsigned char)(id >> 16);
        blob[2] = (unsigned char)(id >> 8);
        blob[3] = (unsigned char)id;
        int rc = ed25519_sign(keys[i].seed, text, len, blob + 4);
        if (rc) {
            free(out);
            return rc;
        }
        size_t nl = strlen(keys[i].vk.name);
        memcpy(out + o, em_dash_sp, EM_DASH_SP_LEN);
        o += EM_DASH_SP_LEN;
        memcpy(out + o, keys[i].vk.name, nl);
        o += nl;
        out[o++] = ' ';
        o += annal_base64_encode(blob, sizeof(blob), out + o);
        out[o++] = '\n';
    }
    out[o] = 0;
    *note = out;
    *note_len = o;
    return ANNAL_OK;
}

int annal_note_split(const char *note, size_t len, size_t *text_len, char *err, size_t errlen)
{
    if (!note)
        return fail(ANNAL_ECORRUPT, err, errlen, "no note");
    if (len > ANNAL_NOTE_MAX_BYTES)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: longer than %u bytes", ANNAL_NOTE_MAX_BYTES);
    size_t bad = text_check(note, len);
    if (bad != len)
        return fail(ANNAL_ECORRUPT, err, errlen,
                    "malformed note: invalid UTF-8 or a control character at byte %zu", bad);
    /* the text ends at the last "\n\n" (its first newline included) */
    size_t split = len;
    for (size_t i = len; i >= 2; i--)
        if (note[i - 1] == '\n' && note[i - 2] == '\n') {
            split = i - 2;
            break;
        }
    if (split == len)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: no blank line before the signatures");
    size_t tlen = split + 1, p = split + 2;
    if (p >= len || note[len - 1] != '\n')
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: no signature line after the blank line");
    unsigned nsig = 0;
    while (p < len) {
        const char *line = note + p;
        const char *nl = memchr(line, '\n', len - p);
        size_t ll = (size_t)(nl - line);
        if (++nsig > ANNAL_NOTE_MAX_SIGS)
            return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: more than %d signatures",
                        ANNAL_NOTE_MAX_SIGS);
        if (ll < EM_DASH_SP_LEN || memcmp(line, em_dash_sp, EM_DASH_SP_LEN))
            return fail(ANNAL_ECORRUPT, err, errlen,
                        "malformed note: signature line %u does not start with an em dash and a space", nsig);
        const char *nm = line + EM_DASH_SP_LEN;
        size_t rest = ll - EM_DASH_SP_LEN;
        const char *sp = memchr(nm, ' ', rest);
        if (!sp)
            return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: signature line %u has no signature", nsig);
        size_t nlen = (size_t)(sp - nm), blen = rest - nlen - 1;
        if (!name_ok(nm, nlen, 0))
            return fail(ANNAL_ECORRUPT, err, errlen, "malformed note: signature line %u has an invalid key name",
                        nsig);
        long sl = annal_base64_decode(sp + 1, blen, NULL, 0);
        if (blen == 0 || sl < 5)
            return fail(ANNAL_ECORRUPT, err, errlen,
                        "malformed note: signature line %u: the signature is not canonical base64 of at least "
                        "5 bytes",
                        nsig);
        p += ll + 1;
    }
    if (text_len)
        *text_len = tlen;
    return ANNAL_OK;
}

int annal_note_verify(const char *note, size_t len, const annal_note_verifier *keys, size_t nkeys,
                      size_t *text_len, unsigned char *verified, char *err, size_t errlen)
{
    if (!keys || nkeys == 0)
        return fail(ANNAL_EINVAL, err, errlen, "no verifier keys given");
    size_t tlen;
    int rc = annal_note_split(note, len, &tlen, err, errlen);
    if (rc)
        return rc;
    unsigned char *seen = calloc(nkeys, 2);
    if (!seen)
        return fail(ANNAL_ENOMEM, err, errlen, "out of memory");
    unsigned char *ok = seen + nkeys;
    size_t nok = 0;
    /* annal_note_split checked every line: walk them again */
    size_t p = tlen + 1;
    while (p < len) {
        const char *line = note + p;
        const char *nl = memchr(line, '\n', len - p);
        size_t ll = (size_t)(nl - line);
        const char *nm = line + EM_DASH_SP_LEN;
        const char *sp = memchr(nm, ' ', ll - EM_DASH_SP_LEN);
        size_t nlen = (size_t)(sp - nm), blen = (size_t)(nl - sp - 1);
        unsigned char blob[68];
        long sl = annal_base64_decode(sp + 1, blen, blob, sizeof(blob));
        uint32_t id = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
        for (size_t i = 0; i < nkeys; i++) {
            if (seen[i] || keys[i].id != id || strlen(keys[i].name) != nlen || memcmp(keys[i].name, nm, nlen))
                continue;
            seen[i] = 1;
            if (sl != 68 || !ed25519_verify(keys[i].pub, note, tlen, blob + 4, 64)) {
                rc = fail(ANNAL_ECORRUPT, err, errlen, "the signature of known key %s+%08x does not verify",
                          keys[i].name, (unsigned)keys[i].id);
                free(seen);
                return rc;
            }
            ok[i] = 1;
            nok++;
        }
        p += ll + 1;
    }
    if (nok == 0) {
        free(seen);
        return fail(ANNAL_ECORRUPT, err, errlen, "the note is not signed by any known key");
    }
    if (verified)
        memcpy(verified, ok, nkeys);
    if (text_len)
        *text_len = tlen;
    free(seen);
    return ANNAL_OK;
}
