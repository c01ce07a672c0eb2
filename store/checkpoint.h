/*
 * checkpoint.h - C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint): the signed
 * statement "the log ORIGIN has SIZE leaves and Merkle root ROOT", and the
 * store of every checkpoint annal has issued. Exact bytes: store/FORMAT.md,
 * "Checkpoints and signed notes"; the tree: store/merkle.h.
 *
 * Body. A checkpoint is a signed note (store/note.h) whose text is
 *
 *     origin "\n" decimal(size) "\n" base64(root[32]) "\n" *( extension "\n" )
 *
 * origin: non-empty, valid UTF-8, no control characters, at most
 * ANNAL_CHECKPOINT_ORIGIN_MAX bytes. annal writes only origins that are
 * valid key names (no spaces, no '+': a schema-less URL such as
 * example.com/log), and its signing key is named after the origin; parsing
 * accepts any origin C2SP allows (clients must not assume its form).
 * size: decimal, no sign, no leading zero (the empty tree is "0"), at most
 * 2^64 - 1. root: the 44-character canonical padded base64 of the 32-byte
 * RFC 9162 root. Extension lines: optional, each non-empty; annal writes
 * none and keeps those it reads as opaque bytes.
 *
 * Store. DIR/checkpoints/ (ANNAL_CHECKPOINT_DIR) holds every checkpoint
 * issued, one signed note per tree size, named by the size as 20 decimal
 * digits plus ".note" (00000000000000001234.note), exactly as issued. A file
 * is written as NAME.tmp, fsync'ed, renamed into place, and the directory is
 * fsync'ed; a saved file is never replaced or removed. Writers of the store
 * hold flock(LOCK_EX) on DIR/checkpoints/LOCK while they check and write;
 * readers need no lock (a file appears whole, by rename). Like the log, the
 * store is part of the truth: what was signed cannot be derived from the
 * log, and `annal reindex` never touches it.
 *
 * The rule. A log must never sign two checkpoints inconsistent with each
 * other. annal_checkpoint_issue signs a new checkpoint only when it extends
 * the latest one saved: a larger size whose tree extends the latest (the
 * caller's consistency function proves it), or the same size and root (then
 * the saved note is returned and nothing new is signed). Since every saved
 * checkpoint was checked against the one before it, the new one is then
 * consistent with all of them.
 *
 * Ownership. Notes returned in *note are malloc'd (NUL-terminated; *len
 * bytes without the NUL): the caller frees them. annal_checkpoint.ext of a
 * parsed checkpoint points into the parsed text (valid as long as it is).
 * Functions are thread-safe; the store functions may run in several
 * processes at once (the lock serializes writers).
 *
 * Errors (store/error.h). Where a function takes err/errlen, err[0..errlen)
 * gets one sentence naming the problem (and the file) when it fails.
 *   ANNAL_OK        success
 *   ANNAL_EINVAL    a bad argument: an origin that is not a valid key name,
 *                   a bad extension block, NULL where a value is needed, an
 *                   origin different from the latest checkpoint's (issue),
 *                   no consistency function when one is needed (issue)
 *   ANNAL_ECORRUPT  a checkpoint text or note that is malformed or does not
 *                   verify; a stored file that is damaged or does not match
 *                   its name; issue refused because the new tree would be
 *                   inconsistent with the latest checkpoint issued; save
 *                   refused because a different note of that size is saved
 *   ANNAL_ENOTFOUND no checkpoint saved (of that size)
 *   ANNAL_EFULL     the output buffer is too small (format)
 *   ANNAL_ENOMEM    allocation failed
 *   ANNAL_EIO       a system call failed (errno set; err names the path)
 *   and whatever the consistency function returns (issue).
 */
#ifndef ANNAL_CHECKPOINT_H
#define ANNAL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "note.h"

#define ANNAL_CHECKPOINT_ORIGIN_MAX ANNAL_NOTE_NAME_MAX
#define ANNAL_CHECKPOINT_DIR "checkpoints"
#define ANNAL_CHECKPOINT_NAME_LEN 25 /* 20 digits + ".note" */
/* The longest body without extension lines: origin, 20 digits, 44 base64, 3 newlines. */
#define ANNAL_CHECKPOINT_BODY_MAX (ANNAL_CHECKPOINT_ORIGIN_MAX + 20 + 44 + 3)

typedef struct annal_checkpoint {
    char origin[ANNAL_CHECKPOINT_ORIGIN_MAX + 1]; /* NUL-terminated */
    uint64_t size;                                /* tree size (leaves) */
    unsigned char root[32];                       /* RFC 9162 root of that tree */
    const char *ext;                              /* extension lines, each ending in "\n"; NULL: none */
    size_t ext_len;                               /* bytes at ext */
} annal_checkpoint;

/* The body of c into out[0..cap), NUL-terminated, *len bytes without the
 * NUL: ANNAL_OK, ANNAL_EINVAL (origin not a valid key name, extension lines
 * that are not non-empty lines each ending in "\n"), ANNAL_EFULL. */
int annal_checkpoint_format(const annal_checkpoint *c, char *out, size_t cap, size_t *len);

/* Parse a checkpoint body text[0..len) strictly (rules above): ANNAL_OK or
 * ANNAL_ECORRUPT. out->ext points into text. */
int annal_checkpoint_parse(const char *text, size_t len, annal_checkpoint *out, char *err, size_t errlen);

/* Format c and sign it with key: a malloc'd signed note. ANNAL_OK,
 * ANNAL_EINVAL, ANNAL_ENOMEM. */
int annal_checkpoint_sign(const annal_checkpoint *c, const annal_note_signer *key, char **note, size_t *len);

/* Verify the signed note note[0..len) against keys[0..nkeys)
 * (annal_note_verify) and parse its body into *out (out->ext points into
 * note). ANNAL_OK, ANNAL_ECORRUPT, ANNAL_EINVAL (no keys), ANNAL_ENOMEM. */
int annal_checkpoint_open(const char *note, size_t len, const annal_note_verifier *keys, size_t nkeys,
                          annal_checkpoint *out, char *err, size_t errlen);

/* The file name of the checkpoint of tree size `size`, into
 * name[ANNAL_CHECKPOINT_NAME_LEN + 1]. */
void annal_checkpoint_name(uint64_t size, char name[ANNAL_CHECKPOINT_NAME_LEN + 1]);

/* Save the signed checkpoint note[0..len) in DIR/checkpoints (created if
 * needed; DIR must exist) under the size its body states. The note is
 * checked for syntax, not signatures, and not for consistency with the
 * others (annal_checkpoint_issue does that). Saving the same bytes again is
 * ANNAL_OK; a different note of a size already saved is ANNAL_ECORRUPT.
 * *size (may be NULL) = the size saved. */
int annal_checkpoint_save(const char *dir, const char *note, size_t len, uint64_t *size, char *err,
                          size_t errlen);

/* The saved checkpoint of tree size `size`, exactly as stored, after
 * checking that it is a well-formed note whose body states that size (its
 * signatures are not checked): ANNAL_OK, ANNAL_ENOTFOUND, ANNAL_ECORRUPT,
 * ANNAL_EIO, ANNAL_ENOMEM. */
int annal_checkpoint_load(const char *dir, uint64_t size, char **note, size_t *len, char *err, size_t errlen);

/* The saved checkpoint of the largest tree size, like annal_checkpoint_load;
 * *size (may be NULL) = that size. ANNAL_ENOTFOUND when none is saved. */
int annal_checkpoint_latest(const char *dir, char **note, size_t *len, uint64_t *size, char *err, size_t errlen);

/* The tree sizes of the saved checkpoints, ascending: *sizes is malloc'd
 * (NULL when *n is 0; the caller frees it). No checkpoints directory is an
 * empty list. ANNAL_OK, ANNAL_EIO, ANNAL_ENOMEM. */
int annal_checkpoint_list(const char *dir, uint64_t **sizes, size_t *n);

/* Does the tree of new_size leaves with root new_root extend the tree of
 * old_size leaves with root old_root (0 < old_size < new_size)? ANNAL_OK:
 * yes, proven; ANNAL_ECORRUPT: no; any other code: could not tell (issue
 * refuses and returns it). An implementation gets a consistency proof for
 * (old_size, new_size) from the tree and checks it with
 * annal_merkle_verify_consistency (store/merkle.h) against both roots. */
typedef int (*annal_checkpoint_consistent_fn)(void *ctx, uint64_t old_size, const unsigned char old_root[32],
                                              uint64_t new_size, const unsigned char new_root[32]);

/*
 * Issue the checkpoint (origin, size, root) of the log in DIR, signed by
 * key, keeping the rule above. Under the store's lock, against the latest
 * saved checkpoint L (if any):
 *   - L's origin differs from origin: ANNAL_EINVAL (one origin per store);
 *   - size < L.size: ANNAL_ECORRUPT (the log is shorter than a checkpoint
 *     already issued: rolled back or regenerated);
 *   - size == L.size, different root: ANNAL_ECORRUPT;
 *   - size == L.size, same root: ANNAL_OK with *note = L as saved;
 *   - size > L.size: L.size == 0 needs L.root = SHA-256(""), else
 *     consistent(ctx, L.size, L.root, size, root) must return ANNAL_OK
 *     (ANNAL_ECORRUPT: refused as inconsistent; ANNAL_EINVAL when
 *     consistent is NULL);
 * then signs the body (no extension lines), saves it and returns it in
 * *note (note may be NULL when the caller does not want it). A signed
 * note leaves this function only after it is saved.
 */
int annal_checkpoint_issue(const char *dir, const annal_note_signer *key, const char *origin, uint64_t size,
                           const unsigned char root[32], annal_checkpoint_consistent_fn consistent, void *ctx,
                           char **note, size_t *len, char *err, size_t errlen);

#endif
