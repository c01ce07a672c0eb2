/*
 * ckpt.h - issuing a signed checkpoint of the log from its index: the tree
 * size is the index's applied seq, the root comes from the index's Merkle
 * tree (annal_index_tree_root), and the rule "never two inconsistent
 * checkpoints" is kept by annal_checkpoint_issue (store/checkpoint.h) with a
 * consistency proof from the same tree (annal_index_consistency) verified
 * by annal_merkle_verify_consistency.
 *
 * The caller catches the index up first (annal_index_catch_up, or
 * annal_db_settle): the checkpoint covers what the index has applied.
 *
 * Errors: those of annal_checkpoint_issue and of the index reads;
 * ANNAL_ENOTFOUND when the log is empty (nothing to sign).
 */
#ifndef ANNAL_INDEX_CKPT_H
#define ANNAL_INDEX_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "index/index.h"
#include "store/checkpoint.h"

/* Issue (sign and save in dir/checkpoints/) the checkpoint of the index's
 * applied tree, named `origin` and signed by key. *note (may be NULL) gets
 * the malloc'd signed note (the caller frees it), *len its length, *size
 * its tree size. When the latest saved checkpoint already has that size and
 * root, it is returned and nothing is signed. */
int annal_index_checkpoint(annal_index *ix, const char *dir, const char *origin,
                           const annal_note_signer *key, char **note, size_t *len, uint64_t *size,
                           char *err, size_t errlen);

#endif
