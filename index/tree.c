/*
 * tree.c - the Merkle tree in the index (INDEX.md section 6): the fold's
 * tree step, and the reads of index.h ("the Merkle tree").
 *
 * The database "merkle" holds the hash of every complete subtree node
 * (level, index) of the RFC 9162 tree over the log's leaf hashes (level 0:
 * the leaves), keyed by the node's position in post-order (ix_tree_key):
 * the order in which the nodes complete as leaves are appended. Every node
 * a record completes therefore goes after every key already there, so the
 * fold appends (MDB_APPEND: no search, and pages filled to the brim, where
 * inserting in the middle of a level-major key space leaves them half full;
 * INDEX.md section 6 has the figures). The price is on the read side: the
 * upper nodes every proof needs lie scattered over the whole database, so
 * each handle caches those it reads (below).
 */
#include "index/fold.h"
#include "index/vcache.h"

#include "store/hash.h"

#include <stdlib.h>
#include <string.h>

/* be64 of the post-order position of node (level, index): the node
 * completes when leaf L = ((index + 1) << level) - 1 is appended; the
 * leaves before L completed 2L - popcount(L) nodes (leaf j completes 1 +
 * the trailing ones of j; summed over j < L that is 2L - popcount(L)), and
 * leaf L completes its own nodes from level 0 upwards. */
void ix_tree_key(unsigned char k[IX_TREE_KEY], unsigned level, uint64_t index)
{
    uint64_t leaf = ((index + 1) << level) - 1;
    ix_be64(k, 2 * leaf - (uint64_t)__builtin_popcountll(leaf) + level);
}

/* ---------------------------------------------------------------- the node cache */

#define CACHE_SHARDS 64

typedef struct cache_slot {
    uint64_t index;
    uint8_t level;         /* 0: empty (level 0 is never cached) */
    unsigned char h[32];
} cache_slot;

struct ix_tree_cache {
    pthread_mutex_t mu[CACHE_SHARDS]; /* slot i is under mu[i % CACHE_SHARDS] */
    cache_slot slot[IX_TREE_CACHE_SLOTS];
};

struct ix_tree_cache *ix_tree_cache_new(void)
{
    struct ix_tree_cache *c = calloc(1, sizeof(*c));
    if (c)
        for (int i = 0; i < CACHE_SHARDS; i++)
            pthread_mutex_init(&c->mu[i], NULL);
    return c;
}

void ix_tree_cache_free(struct ix_tree_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < CACHE_SHARDS; i++)
        pthread_mutex_destroy(&c->mu[i]);
    free(c);
}

static size_t cache_slot_of(unsigned level, uint64_t index)
{
    uint64_t h = (index ^ (uint64_t)level << 56) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 48) & (IX_TREE_CACHE_SLOTS - 1);
}

/* The handle's cache, made on first use (NULL without memory: no cache). */
static struct ix_tree_cache *handle_cache(annal_index *ix)
{
    struct ix_tree_cache *c = __atomic_load_n(&ix->tree_cache, __ATOMIC_ACQUIRE);
    if (c)
        return c;
    struct ix_tree_cache *nc = ix_tree_cache_new(), *expected = NULL;
    if (nc && !__atomic_compare_exchange_n(&ix->tree_cache, &expected, nc, 0, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
        ix_tree_cache_free(nc); /* another thread installed one */
        return expected;
    }
    return nc;
}

int ix_tree_node(void *ctx, unsigned level, uint64_t index, unsigned char out[32])
{
    const ix_tree_ctx *c = ctx;
    struct ix_tree_cache *tc = level >= IX_TREE_CACHE_LEVEL ? c->cache : NULL;
    size_t i = 0;
    if (tc) {
        i = cache_slot_of(level, index);
        pthread_mutex_t *mu = &tc->mu[i % CACHE_SHARDS];
        pthread_mutex_lock(mu);
        int hit = tc->slot[i].level == level && tc->slot[i].index == index;
        if (hit)
            memcpy(out, tc->slot[i].h, 32);
        pthread_mutex_unlock(mu);
        if (hit)
            return 0;
    }
    unsigned char k[IX_TREE_KEY];
    ix_tree_key(k, level, index);
    MDB_val key = {IX_TREE_KEY, k}, v;
    int rc = mdb_get(c->txn, c->dbi, &key, &v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 32))
        return ANNAL_EINDEX; /* every complete node up to the applied seq is there: a damaged index */
    if (rc)
        return rc;
    memcpy(out, v.mv_data, 32);
    if (tc) {
        pthread_mutex_t *mu = &tc->mu[i % CACHE_SHARDS];
        pthread_mutex_lock(mu);
        if (tc->slot[i].level <= level) { /* a higher node (read by more proofs) stays */
            tc->slot[i].level = (uint8_t)level;
            tc->slot[i].index = index;
            memcpy(tc->slot[i].h, out, 32);
        }
        pthread_mutex_unlock(mu);
    }
    return 0;
}

/* ---------------------------------------------------------------- the fold's step
 *
 * The step keeps, for the open write transaction, the frontier of the tree
 * (the left children still waiting for their right sibling: node (l,
 * (size >> l) - 1) for each bit l set in size, as annal_merkle_stream does)
 * and a cursor on the merkle database. They live in an entry of the views'
 * write cache (vcache.h) that is never written (its obj, under STATE_KEY),
 * so they are made at the first record of each transaction from the nodes
 * that transaction sees and dropped with the cache at its commit or abort:
 * a replayed transaction (full map) or one that follows another process's
 * catch-up starts from what LMDB holds. Each record then costs its leaf
 * hash, one node hash per node it completes above the leaf (one on
 * average) and one append per node (two on average).
 */

static const unsigned char STATE_KEY[1] = {0xff}; /* node keys are IX_TREE_KEY bytes long */

typedef struct tree_state {
    uint64_t size;               /* leaves of the transaction's tree */
    MDB_cursor *cur;             /* on the merkle database; LMDB closes it when the txn ends */
    unsigned char left[64][32];  /* left[l]: node (l, (size >> l) - 1) when bit l of size is set */
} tree_state;

/* The transaction's state, made from the txn's tree of `size` leaves the
 * first time. */
static int get_state(annal_index *ix, MDB_txn *txn, uint64_t size, tree_state **out)
{
    ix_ventry *e;
    int rc = ix_vc_get(ix, txn, IX_MERKLE, STATE_KEY, sizeof(STATE_KEY), &e);
    if (rc)
        return rc;
    if (e->obj) {
        *out = e->obj;
        return 0;
    }
    tree_state *st = malloc(sizeof(*st));
    if (!st)
        return ANNAL_ENOMEM;
    st->size = size;
    ix_tree_ctx c = {txn, ix->dbi[IX_MERKLE], NULL};
    for (unsigned l = 0; l < 64 && !rc; l++)
        if (size >> l & 1)
            rc = ix_tree_node(&c, l, (size >> l) - 1, st->left[l]);
    if (rc || (rc = mdb_cursor_open(txn, ix->dbi[IX_MERKLE], &st->cur))) {
        free(st);
        return rc;
    }
    e->obj = st; /* freed with the cache; the entry is neither present nor dirty: never written */
    e->present = e->dirty = 0;
    *out = st;
    return 0;
}

static int append(tree_state *st, unsigned level, uint64_t index, const unsigned char h[32])
{
    unsigned char k[IX_TREE_KEY];
    ix_tree_key(k, level, index);
    MDB_val key = {IX_TREE_KEY, k}, v = {32, (void *)h};
    int rc = mdb_cursor_put(st->cur, &key, &v, MDB_APPEND);
    return rc == MDB_KEYEXIST ? ANNAL_EINDEX : rc; /* a node past this one exists: not our tree */
}

int ix_tree_apply(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r)
{
    tree_state *st;
    int rc = get_state(ix, txn, r->seq - 1, &st);
    if (rc)
        return rc;
    if (st->size != r->seq - 1)
        return ANNAL_EINDEX; /* records come in seq order within a transaction: cannot happen */
    unsigned char h[32];
    annal_leaf_hash(r->rec, r->len, h);
    if ((rc = append(st, 0, st->size, h)))
        return rc;
    unsigned l = 0;
    for (; st->size >> l & 1; l++) {
        annal_merkle_node(st->left[l], h, h);
        if ((rc = append(st, l + 1, st->size >> (l + 1), h)))
            return rc;
    }
    memcpy(st->left[l], h, 32);
    st->size++;
    return 0;
}

/* ---------------------------------------------------------------- reads */

/* Begin a read txn for a tree of `size` leaves: EINVAL past the applied
 * seq. */
static int tree_begin(annal_index *ix, uint64_t size, ix_tree_ctx *c)
{
    int rc = ix_read_begin(ix, &c->txn);
    if (rc)
        return rc;
    c->dbi = ix->dbi[IX_MERKLE];
    c->cache = handle_cache(ix);
    ix_applied a;
    if ((rc = ix_get_applied(ix, c->txn, &a)) == 0 && size > a.seq)
        rc = ANNAL_EINVAL;
    if (rc)
        ix_read_end(ix, c->txn);
    return rc;
}

int annal_index_tree_root(annal_index *ix, uint64_t size, unsigned char out[32])
{
    if (!ix || !out)
        return ANNAL_EINVAL;
    ix_tree_ctx c;
    int rc = tree_begin(ix, size, &c);
    if (rc)
        return ix_err(rc);
    rc = annal_merkle_root(size, ix_tree_node, &c, out);
    ix_read_end(ix, c.txn);
    return ix_err(rc);
}

int annal_index_leaf(annal_index *ix, uint64_t seq, unsigned char out[32])
{
    if (!ix || !out || seq == 0)
        return ANNAL_EINVAL;
    ix_tree_ctx c;
    int rc = tree_begin(ix, seq, &c);
    if (rc)
        return ix_err(rc);
    rc = ix_tree_node(&c, 0, seq - 1, out);
    ix_read_end(ix, c.txn);
    return ix_err(rc);
}

int annal_index_inclusion(annal_index *ix, uint64_t seq, uint64_t size, unsigned char proof[][32], size_t *n)
{
    if (n)
        *n = 0;
    if (!ix || !proof || !n || seq == 0 || seq > size)
        return ANNAL_EINVAL;
    ix_tree_ctx c;
    int rc = tree_begin(ix, size, &c);
    if (rc)
        return ix_err(rc);
    rc = annal_merkle_inclusion(seq - 1, size, ix_tree_node, &c, proof, n);
    ix_read_end(ix, c.txn);
    if (rc)
        *n = 0;
    return ix_err(rc);
}

int annal_index_consistency(annal_index *ix, uint64_t size1, uint64_t size2, unsigned char proof[][32],
                            size_t *n)
{
    if (n)
        *n = 0;
    if (!ix || !proof || !n || size1 == 0 || size1 > size2)
        return ANNAL_EINVAL;
    ix_tree_ctx c;
    int rc = tree_begin(ix, size2, &c);
    if (rc)
        return ix_err(rc);
    rc = annal_merkle_consistency(size1, size2, ix_tree_node, &c, proof, n);
    ix_read_end(ix, c.txn);
    if (rc)
        *n = 0;
    return ix_err(rc);
}
