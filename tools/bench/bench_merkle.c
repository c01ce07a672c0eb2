/*
 * bench_merkle.c - Merkle proof generation latency on a large tree, in
 * process, and the write cost of the index's tree step.
 *
 * The tree: BENCH_LEAVES (default 10000000) random leaf hashes (splitmix64,
 * seed 42), written into a merkle database of a fresh LMDB environment under
 * $TMPDIR (removed at the end) exactly as the index's fold writes it: the
 * same keys (ix_tree_key: post-order positions, INDEX.md section 6), the
 * nodes each leaf completes computed from the frontier and appended with
 * MDB_APPEND, 50000 leaves per transaction, the environment opened with the
 * index's flags (MDB_NOSYNC | MDB_NOTLS | MDB_WRITEMAP). Building it through
 * the index itself would need a 10M-record log (minutes); this is the same
 * database with other leaf hashes.
 *
 * Figures:
 *  - build: s, µs per leaf (node hashes and appends: the tree step without
 *    the leaf hash), pages and bytes per leaf; and the leaf hash of a
 *    record of 650 bytes (the size of an `annal gen` event), the rest of the
 *    step's cost per record.
 *  - latency, median / p99 / p99.9 / max over BENCH_PROOFS (default 100000)
 *    calls each, after as many untimed calls to warm the page cache: an
 *    inclusion proof of a random leaf in the whole tree, in a tree of random
 *    size; a consistency proof from a random size to the whole tree, between
 *    two random sizes; a root of a random size. Each call is what an
 *    annal_index_* read does (tree.c): take the map lock shared, begin a read
 *    transaction, read the applied seq from meta, run annal_merkle_* with the
 *    index's node function (ix_tree_node) over the database and with a node
 *    cache of its own, as an annal_index handle has (the nodes at levels >=
 *    IX_TREE_CACHE_LEVEL; BENCH_NO_CACHE=1: none), end. The untimed calls
 *    warm it as a running server's calls would. Every 100th proof is
 *    verified (not timed). Goal: p99 <= 50 µs.
 * Usage: bench_merkle (environment variables only)
 */
#include "index/internal.h" /* ix_tree_key, ix_tree_node: the index's own */
#include "store/error.h"
#include "store/hash.h"
#include "store/merkle.h"

#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void leaf_of(uint64_t i, unsigned char out[32])
{
    uint64_t s = 42 ^ (i * 0xD1B54A32D192ED03ull);
    for (int k = 0; k < 4; k++) {
        uint64_t v = splitmix(&s);
        memcpy(out + 8 * k, &v, 8);
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static char *dir; /* the environment's temporary directory: removed at exit, errors included */

static void remove_dir(void)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    dir = NULL;
}

#define CK(x)                                                                                  \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_) {                                                                             \
            fprintf(stderr, "bench_merkle: %s: %s\n", #x,                                      \
                    rc_ > -30800 && rc_ < -30700 ? mdb_strerror(rc_) : annal_strerror(rc_));   \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *us, size_t n)
{
    qsort(us, n, sizeof(*us), cmp_d);
    printf("%-52s median %6.1f us  p99 %6.1f us  p99.9 %6.1f us  max %7.1f us\n", what, us[n / 2],
           us[n * 99 / 100], us[n * 999 / 1000], us[n - 1]);
}

static MDB_env *env;
static MDB_dbi dbi, meta;
static struct ix_tree_cache *cache; /* the handle's node cache, as annal_index has one */
static pthread_rwlock_t map_lock = PTHREAD_RWLOCK_INITIALIZER;

/* What annal_index_inclusion & co. do around annal_merkle_*. */
typedef struct call {
    ix_tree_ctx c;
} call;

static void begin(call *k, uint64_t size)
{
    pthread_rwlock_rdlock(&map_lock);
    CK(mdb_txn_begin(env, NULL, MDB_RDONLY, &k->c.txn));
    k->c.dbi = dbi;
    k->c.cache = cache;
    MDB_val key = {7, "applied"}, v;
    CK(mdb_get(k->c.txn, meta, &key, &v));
    uint64_t applied;
    memcpy(&applied, v.mv_data, 8);
    if (size > applied) {
        fprintf(stderr, "bench_merkle: size beyond the tree\n");
        exit(2);
    }
}

static void end(call *k)
{
    mdb_txn_abort(k->c.txn);
    pthread_rwlock_unlock(&map_lock);
}

int main(void)
{
    uint64_t n = getenv("BENCH_LEAVES") ? strtoull(getenv("BENCH_LEAVES"), NULL, 10) : 10000000;
    size_t np = getenv("BENCH_PROOFS") ? strtoull(getenv("BENCH_PROOFS"), NULL, 10) : 100000;
    if (n < 2 || np < 100) {
        fprintf(stderr, "bench_merkle: BENCH_LEAVES >= 2, BENCH_PROOFS >= 100\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    if (asprintf(&dir, "%s/annal-bench-merkle-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(dir)) {
        perror("bench_merkle: mkdtemp");
        return 2;
    }
    atexit(remove_dir);
    size_t map = (size_t)(n * 110 + (64 << 20));
    CK(mdb_env_create(&env));
    CK(mdb_env_set_maxdbs(env, 4));
    CK(mdb_env_set_mapsize(env, (map + 4095) & ~(size_t)4095));
    CK(mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOTLS | MDB_WRITEMAP, 0644));
    MDB_txn *txn;
    CK(mdb_txn_begin(env, NULL, 0, &txn));
    CK(mdb_dbi_open(txn, "merkle", MDB_CREATE, &dbi));
    CK(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta));
    CK(mdb_txn_commit(txn));

    /* Build, as ix_tree_apply does: leaf, then the nodes it completes. The
     * leaves of each transaction are made beforehand (not timed: they stand
     * for the records' leaf hashes, timed below). */
    enum { TXN = 50000 };
    unsigned char (*left)[32] = calloc(64, 32), (*leaves)[32] = malloc(TXN * 32);
    double build = 0;
    for (uint64_t size = 0; size < n;) {
        uint64_t end_ = size + TXN < n ? size + TXN : n;
        for (uint64_t i = size; i < end_; i++)
            leaf_of(i, leaves[i - size]);
        double t0 = now();
        MDB_cursor *cur;
        CK(mdb_txn_begin(env, NULL, 0, &txn));
        CK(mdb_cursor_open(txn, dbi, &cur));
        for (uint64_t first = size; size < end_; size++) {
            unsigned char h[32], k[IX_TREE_KEY];
            MDB_val key = {IX_TREE_KEY, k}, v = {32, h};
            memcpy(h, leaves[size - first], 32);
            ix_tree_key(k, 0, size);
            CK(mdb_cursor_put(cur, &key, &v, MDB_APPEND));
            unsigned l = 0;
            for (; size >> l & 1; l++) {
                annal_merkle_node(left[l], h, h);
                ix_tree_key(k, l + 1, size >> (l + 1));
                CK(mdb_cursor_put(cur, &key, &v, MDB_APPEND));
            }
            memcpy(left[l], h, 32);
        }
        MDB_val key = {7, "applied"}, v = {8, &size};
        CK(mdb_put(txn, meta, &key, &v, 0));
        CK(mdb_txn_commit(txn));
        build += now() - t0;
    }
    free(leaves);
    free(left);
    MDB_stat st;
    CK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    CK(mdb_stat(txn, dbi, &st));
    mdb_txn_abort(txn);
    size_t pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    printf("tree: %llu random leaves, %llu nodes, built in %.2f s = %.3f us per leaf (node hashes and appends, "
           "as the fold's tree step)\n", (unsigned long long)n, (unsigned long long)st.ms_entries, build,
           build / (double)n * 1e6);
    printf("tree: %zu pages of %u bytes = %.1f bytes per leaf, depth %u\n", pages, st.ms_psize,
           (double)pages * st.ms_psize / (double)n, st.ms_depth);
    {
        enum { R = 200000, LEN = 650 };
        char *rec = malloc(LEN);
        memset(rec, 'x', LEN);
        unsigned char h[32];
        double t0 = now();
        for (int i = 0; i < R; i++) {
            rec[i % LEN] ^= 1;
            annal_leaf_hash(rec, LEN, h);
        }
        double t = now() - t0;
        printf("leaf hash of a %d-byte record: %.3f us (the rest of the tree step per record)\n", LEN,
               t / R * 1e6);
        free(rec);
    }

    /* Latency. */
    if (!getenv("BENCH_NO_CACHE") && !(cache = ix_tree_cache_new()))
        CK(ANNAL_ENOMEM);
    enum { INC_FULL, INC_RAND, CON_FULL, CON_RAND, ROOT, NKIND };
    static const char *const names[NKIND] = {
        "inclusion proof, random leaf, whole tree", "inclusion proof, random leaf and tree size",
        "consistency proof, random size -> whole tree", "consistency proof, two random sizes",
        "root of a random size"};
    double *us = malloc(np * sizeof(double));
    uint64_t seed = 0xbe4c5eedull;
    size_t total_hashes[NKIND] = {0}, max_n[NKIND] = {0};
    for (int kind = 0; kind < NKIND; kind++) {
        for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the page cache */
            for (size_t i = 0; i < np; i++) {
                uint64_t a = 0, b = n;
                if (kind == INC_FULL) {
                    a = splitmix(&seed) % n;
                } else if (kind == INC_RAND) {
                    b = 1 + splitmix(&seed) % n;
                    a = splitmix(&seed) % b;
                } else if (kind == CON_FULL) {
                    a = 1 + splitmix(&seed) % n;
                } else if (kind == CON_RAND) {
                    uint64_t x = 1 + splitmix(&seed) % n, y = 1 + splitmix(&seed) % n;
                    a = x < y ? x : y;
                    b = x < y ? y : x;
                } else {
                    b = splitmix(&seed) % (n + 1);
                }
                unsigned char proof[ANNAL_MERKLE_MAX_PROOF][32], root[32];
                size_t pn = 0;
                call k;
                double s = now();
                begin(&k, b);
                if (kind == INC_FULL || kind == INC_RAND)
                    CK(annal_merkle_inclusion(a, b, ix_tree_node, &k.c, proof, &pn));
                else if (kind == ROOT)
                    CK(annal_merkle_root(b, ix_tree_node, &k.c, root));
                else
                    CK(annal_merkle_consistency(a, b, ix_tree_node, &k.c, proof, &pn));
                end(&k);
                us[i] = (now() - s) * 1e6;
                if (pass) {
                    total_hashes[kind] += pn;
                    max_n[kind] = pn > max_n[kind] ? pn : max_n[kind];
                }
                if (pass && i % 100 == 0 && kind != ROOT) { /* the proof is right (not timed) */
                    unsigned char rb[32], ra[32], leaf[32];
                    begin(&k, b);
                    CK(annal_merkle_root(b, ix_tree_node, &k.c, rb));
                    if (kind == CON_FULL || kind == CON_RAND)
                        CK(annal_merkle_root(a, ix_tree_node, &k.c, ra));
                    end(&k);
                    if (kind == INC_FULL || kind == INC_RAND) {
                        leaf_of(a, leaf);
                        CK(annal_merkle_verify_inclusion(a, b, leaf, (const unsigned char(*)[32])proof, pn, rb));
                    } else {
                        CK(annal_merkle_verify_consistency(a, b, ra, rb, (const unsigned char(*)[32])proof, pn));
                    }
                }
            }
        }
        report(names[kind], us, np);
    }
    printf("(%zu calls each after %zu untimed ones; hashes per proof: inclusion %.1f avg / %zu max, "
           "consistency %.1f avg / %zu max)\n", np, np, (double)total_hashes[INC_RAND] / np, max_n[INC_RAND],
           (double)total_hashes[CON_RAND] / np, max_n[CON_RAND]);
    free(us);
    ix_tree_cache_free(cache);
    mdb_env_close(env);
    return 0; /* remove_dir at exit */
}
