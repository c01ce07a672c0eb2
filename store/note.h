/*
 * note.h - C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, made
 * and checked exactly as golang.org/x/mod/sumdb/note does. Exact bytes and a
 * test vector: store/FORMAT.md, "Checkpoints and signed notes".
 *
 * A signed note is a text, a blank line and one or more signature lines:
 *
 *     text "\n" 1*( "— " name " " base64(key_id[4] || signature) "\n" )
 *
 * The text is non-empty and ends in "\n" (it may contain empty lines: the
 * signatures start after the LAST "\n\n"). The dash is U+2014 (bytes e2 80
 * 94) followed by a space. The whole note is valid UTF-8 with no control
 * character below U+0020 other than "\n". An Ed25519 signature (RFC 8032,
 * 64 bytes) is over the text bytes, final "\n" included. base64 is RFC 4648
 * §4 with padding; this module writes and accepts only its canonical form.
 *
 * Keys. A key name is non-empty, valid UTF-8, at most ANNAL_NOTE_NAME_MAX
 * bytes, with no '+', no Unicode space (Go's unicode.IsSpace) and no control
 * character; it is conventionally the log's origin (a schema-less URL).
 *
 *     key id   = SHA-256(name || 0x0A || 0x01 || public key[32])[0..4),
 *                read as a big-endian uint32, written as 8 lower-case hex
 *     verifier = name "+" hex8(key id) "+" base64(0x01 || public key[32])
 *     signer   = "PRIVATE+KEY+" name "+" hex8(key id) "+" base64(0x01 || seed[32])
 *
 * The seed is the 32-byte Ed25519 private key of RFC 8032 (Go's
 * ed25519.PrivateKey.Seed()). Parsing checks the algorithm byte (0x01), the
 * key length and that the key id matches the name and key; hex is accepted in
 * either case, as Go does.
 *
 * Verification (C2SP rules). A signature line counts for a known key when
 * both its name and key id equal the key's; every other signature line is
 * ignored, even one that shares the name or the id (but not both) with a
 * known key, though it must still be well formed. The first signature line of
 * each known key is checked (later duplicates are skipped, as Go does); if
 * one fails, the whole note is rejected. A note that no known key verifies is
 * rejected. Limits: ANNAL_NOTE_MAX_BYTES per note, ANNAL_NOTE_MAX_SIGS
 * signature lines (Go's limit; C2SP asks for at least 16).
 *
 * Ownership. The key structs are plain values the caller owns; a signer holds
 * its private seed, which annal_note_signer_clear wipes. annal_note_sign
 * returns a malloc'd note the caller frees. Nothing here keeps a pointer to
 * its arguments. Every function is thread-safe (no shared state).
 *
 * Errors (store/error.h). Where a function takes err/errlen, err[0..errlen)
 * gets one sentence saying what is wrong when it fails (err may be NULL).
 *   ANNAL_OK        success
 *   ANNAL_EINVAL    a bad argument: an invalid key name, a malformed key
 *                   string, a text that cannot be signed, no keys given
 *   ANNAL_ECORRUPT  a note that is malformed or does not verify (any reason:
 *                   bad syntax, a failed signature, no known key's signature)
 *   ANNAL_EFULL     the output buffer is too small (the *_string functions)
 *   ANNAL_ENOMEM    allocation failed (in libcrypto too)
 *   ANNAL_EIO       reading a key file or the random source failed (errno set)
 */
#ifndef ANNAL_NOTE_H
#define ANNAL_NOTE_H

#include <stddef.h>
#include <stdint.h>

#define ANNAL_NOTE_NAME_MAX 255           /* bytes of a key name */
#define ANNAL_NOTE_MAX_BYTES (1u << 20)   /* bytes of a whole signed note */
#define ANNAL_NOTE_MAX_SIGS 100           /* signature lines of a note */
#define ANNAL_NOTE_ALG_ED25519 0x01
/* Longest key strings, without the NUL: name + "+" + 8 hex + "+" + 44 base64. */
#define ANNAL_NOTE_VKEY_MAX (ANNAL_NOTE_NAME_MAX + 54)
#define ANNAL_NOTE_SKEY_MAX (ANNAL_NOTE_VKEY_MAX + 12)

typedef struct annal_note_verifier {
    char name[ANNAL_NOTE_NAME_MAX + 1]; /* NUL-terminated */
    uint32_t id;                        /* key id */
    unsigned char pub[32];              /* Ed25519 public key */
} annal_note_verifier;

typedef struct annal_note_signer {
    annal_note_verifier vk;  /* its public half */
    unsigned char seed[32];  /* Ed25519 private key (RFC 8032 seed): secret */
} annal_note_signer;

/* Standard padded base64 (RFC 4648 §4) of in[0..n) into out (4 * ceil(n/3)
 * bytes, no NUL); returns that length. */
size_t annal_base64_encode(const unsigned char *in, size_t n, char *out);

/* Decode s[0..n): the decoded length, or -1 when s is not the canonical
 * padded encoding of some bytes (a length not a multiple of 4, a character
 * outside the alphabet, misplaced padding, unused bits set). out (NULL:
 * validate only) gets the first min(length, cap) bytes. */
long annal_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

/* 1 when s[0..n) may be part of a note: valid UTF-8 without control
 * characters other than "\n"; else 0. */
int annal_note_text_valid(const char *s, size_t n);

/* 1 when name[0..len) is a valid key name (rules above), else 0. */
int annal_note_name_valid(const char *name, size_t len);

/* The key id of (name, Ed25519 public key). */
uint32_t annal_note_key_id(const char *name, const unsigned char pub[32]);

/* The signer of key name `name` with the given seed (its public key and key
 * id derived): ANNAL_OK, ANNAL_EINVAL (name), ANNAL_ENOMEM. */
int annal_note_signer_from_seed(const char *name, const unsigned char seed[32], annal_note_signer *out);

/* A new signer for `name`, its seed from getrandom(2): ANNAL_OK,
 * ANNAL_EINVAL (name), ANNAL_EIO (errno set), ANNAL_ENOMEM. */
int annal_note_generate(const char *name, annal_note_signer *out);

/* Wipe a signer (its seed included). */
void annal_note_signer_clear(annal_note_signer *k);

/* Parse a signer key string s[0..len) (no trailing newline): ANNAL_OK or
 * ANNAL_EINVAL (err says what is wrong), ANNAL_ENOMEM. */
int annal_note_signer_parse(const char *s, size_t len, annal_note_signer *out, char *err, size_t errlen);

/* Parse a verifier key string s[0..len): ANNAL_OK or ANNAL_EINVAL. */
int annal_note_verifier_parse(const char *s, size_t len, annal_note_verifier *out, char *err, size_t errlen);

/* Read a key file (what `annal keygen` writes: the signer key string, then
 * optionally one "\n") and parse it: ANNAL_OK, ANNAL_EIO (errno set; err
 * names the path), ANNAL_EINVAL, ANNAL_ENOMEM. */
int annal_note_signer_load(const char *path, annal_note_signer *out, char *err, size_t errlen);

/* The key strings, NUL-terminated into out[0..cap): ANNAL_OK or ANNAL_EFULL
 * (cap > ANNAL_NOTE_SKEY_MAX / ANNAL_NOTE_VKEY_MAX is always enough). */
int annal_note_signer_string(const annal_note_signer *k, char *out, size_t cap);
int annal_note_verifier_string(const annal_note_verifier *k, char *out, size_t cap);

/* Sign text[0..len) with keys[0..nkeys), one signature line each, in that
 * order: *note (malloc'd, NUL-terminated; *note_len bytes without the NUL)
 * = text "\n" signature lines. The text must be non-empty, end in "\n", be
 * valid UTF-8 without control characters other than "\n", and the note must
 * fit ANNAL_NOTE_MAX_BYTES. ANNAL_OK, ANNAL_EINVAL, ANNAL_ENOMEM. */
int annal_note_sign(const char *text, size_t len, const annal_note_signer *keys, size_t nkeys, char **note,
                    size_t *note_len);

/* Check the syntax of note[0..len) (everything verification checks except
 * the signatures themselves): ANNAL_OK with *text_len = the length of its
 * text (final "\n" included), or ANNAL_ECORRUPT. */
int annal_note_split(const char *note, size_t len, size_t *text_len, char *err, size_t errlen);

/* Verify note[0..len) against the known keys[0..nkeys) (rules above).
 * ANNAL_OK: at least one known key's signature verifies and none fails;
 * *text_len (may be NULL) = the length of the text; verified[i] (verified
 * may be NULL, else nkeys bytes) = 1 when keys[i] signed it, else 0.
 * ANNAL_ECORRUPT: rejected (err says why); ANNAL_EINVAL: nkeys == 0;
 * ANNAL_ENOMEM. */
int annal_note_verify(const char *note, size_t len, const annal_note_verifier *keys, size_t nkeys,
                      size_t *text_len, unsigned char *verified, char *err, size_t errlen);

#endif
