/*
 * ckpt.c - a signed checkpoint of the index's tree (ckpt.h).
 */
#include "index/ckpt.h"

#include "store/error.h"
#include "store/merkle.h"

#include <stdio.h>
#include <stdlib.h>

static int consistent(void *ctx, uint64_t old_size, const unsigned char old_root[32], uint64_t new_size,
                      const unsigned char new_root[32])
{
    annal_index *ix = ctx;
    unsigned char proof[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 0;
    int rc = annal_index_consistency(ix, old_size, new_size, proof, &n);
    if (rc)
        return rc;
    return annal_merkle_verify_consistency(old_size, new_size, old_root, new_root, (const unsigned char(*)[32])proof, n);
}

int annal_index_checkpoint(annal_index *ix, const char *dir, const char *origin, const annal_note_signer *key,
                           char **note, size_t *len, uint64_t *size, char *err, size_t errlen)
{
    uint64_t applied;
    int rc = annal_index_applied(ix, &applied);
    if (rc) {
        snprintf(err, errlen, "cannot read the index: %s", annal_index_strerror(rc));
        return rc;
    }
    if (applied == 0) {
        snprintf(err, errlen, "the log is empty: there is nothing to sign");
        return ANNAL_ENOTFOUND;
    }
    unsigned char root[32];
    if ((rc = annal_index_tree_root(ix, applied, root))) {
        snprintf(err, errlen, "cannot compute the tree root: %s", annal_index_strerror(rc));
        return rc;
    }
    char *n = NULL;
    size_t nl = 0;
    rc = annal_checkpoint_issue(dir, key, origin, applied, root, consistent, ix, &n, &nl, err, errlen);
    if (rc)
        return rc;
    if (size)
        *size = applied;
    if (note) {
        *note = n;
        if (len)
            *len = nl;
    } else {
        free(n);
    }
    return ANNAL_OK;
}
