/* The Merkle tree: RFC 9162 hashes, proofs and verification (store/merkle.h)
 * against known answers and a naive implementation of the RFC's recursive
 * definitions written here; every proof up to size 64 and random ones on a
 * 100k-leaf tree, each refused once altered; and the tree the index keeps
 * (index/index.h) against the streaming root over the log's leaves, after
 * live catch-ups in steps (odd transaction sizes, a map that fills, two
 * handles taking turns) and after a rebuild, with proofs from the index. */
#include "t.h"
#include "util.h"

#include "index/index.h"
#include "store/hash.h"
#include "store/log.h"
#include "store/merkle.h"
#include "store/reader.h"

#include <lmdb.h>
#include <pthread.h>

static char *base; /* the test's temporary directory */

static char *path(const char *name)
{
    static char buf[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", base, name);
    return buf[k];
}

static void unhex(const char *s, unsigned char *out)
{
    for (size_t i = 0; s[2 * i]; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

static int eq_hex(const unsigned char h[32], const char *hex)
{
    unsigned char b[32];
    unhex(hex, b);
    return memcmp(h, b, 32) == 0;
}

/* ---------------------------------------------------------------- the definition, naively (RFC 9162 §2.1) */

static uint64_t split_below(uint64_t n) /* largest power of two < n, n >= 2 */
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[0:n]) by the recursive definition, from the leaf hashes. */
static void naive_mth(const unsigned char (*leaf)[32], uint64_t n, unsigned char out[32])
{
    if (n == 0) {
        annal_sha256_2("", 0, NULL, 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaf[0], 32);
        return;
    }
    uint64_t k = split_below(n);
    unsigned char buf[65];
    buf[0] = 1;
    naive_mth(leaf, k, buf + 1);
    naive_mth(leaf + k, n - k, buf + 33);
    annal_sha256_2(buf, 65, NULL, 0, out);
}

/* PATH(m, D[0:n]) (§2.1.3.1), appended to proof[*k]. */
static void naive_path(uint64_t m, const unsigned char (*leaf)[32], uint64_t n, unsigned char proof[][32], size_t *k)
{
    if (n <= 1)
        return;
    uint64_t s = split_below(n);
    if (m < s) {
        naive_path(m, leaf, s, proof, k);
        naive_mth(leaf + s, n - s, proof[(*k)++]);
    } else {
        naive_path(m - s, leaf + s, n - s, proof, k);
        naive_mth(leaf, s, proof[(*k)++]);
    }
}

/* SUBPROOF(m, D[0:n], b) (§2.1.4.1). */
static void naive_subproof(uint64_t m, const unsigned char (*leaf)[32], uint64_t n, int b, unsigned char proof[][32],
                           size_t *k)
{
    if (m == n) {
        if (!b)
            naive_mth(leaf, n, proof[(*k)++]);
        return;
    }
    uint64_t s = split_below(n);
    if (m <= s) {
        naive_subproof(m, leaf, s, b, proof, k);
        naive_mth(leaf + s, n - s, proof[(*k)++]);
    } else {
        naive_subproof(m - s, leaf + s, n - s, 0, proof, k);
        naive_mth(leaf, s, proof[(*k)++]);
    }
}

/* ---------------------------------------------------------------- an in-memory node table */

/* Every complete subtree of `n` leaves: level l has n >> l nodes. The node
 * function refuses a node outside the tree of size `limit` (a proof for a
 * size must not read beyond it). */
typedef struct table {
    uint64_t n, limit;
    unsigned char (*lv[64])[32];
    uint64_t reads;
} table;

static void table_build(table *t, const unsigned char (*leaf)[32], uint64_t n)
{
    memset(t, 0, sizeof(*t));
    t->n = t->limit = n;
    for (unsigned l = 0; (n >> l) > 0; l++) {
        uint64_t c = n >> l;
        t->lv[l] = malloc(c * 32);
        for (uint64_t i = 0; i < c; i++) {
            if (l == 0)
                memcpy(t->lv[0][i], leaf[i], 32);
            else
                annal_merkle_node(t->lv[l - 1][2 * i], t->lv[l - 1][2 * i + 1], t->lv[l][i]);
        }
    }
}

static void table_free(table *t)
{
    for (unsigned l = 0; l < 64; l++)
        free(t->lv[l]);
}

static int table_node(void *ctx, unsigned level, uint64_t index, unsigned char out[32])
{
    table *t = ctx;
    t->reads++;
    if (level >= 64 || ((index + 1) << level) > t->limit || (index + 1) << level >> level != index + 1)
        return ANNAL_EINDEX;
    memcpy(out, t->lv[level][index], 32);
    return 0;
}

/* A failing node function: its error comes back unchanged. */
static int failing_node(void *ctx, unsigned level, uint64_t index, unsigned char out[32])
{
    (void)ctx, (void)level, (void)index, (void)out;
    return ANNAL_EIO;
}

/* Leaf hashes of "leaf <i>". */
static unsigned char (*make_leaves(uint64_t n))[32]
{
    unsigned char (*leaf)[32] = malloc((n ? n : 1) * 32);
    for (uint64_t i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "leaf %llu", (unsigned long long)i);
        annal_leaf_hash(buf, (size_t)len, leaf[i]);
    }
    return leaf;
}

/* ---------------------------------------------------------------- known answers */

/* RFC 6962's reference leaves (the certificate-transparency test data that
 * transparency-dev/merkle and golang.org/x/mod/sumdb/tlog also use) and the
 * roots of the trees of their first 1..8. */
static const char *const ct_leaf_hex[8] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f"};
static const char *const ct_root[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void known_answers_of_rfc_9162_and_rfc_6962(void)
{
    unsigned char h[32], leaf[8][32];
    annal_merkle_empty(h);
    CHECK(eq_hex(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")); /* SHA-256("") */
    for (int i = 0; i < 8; i++) {
        unsigned char d[16];
        size_t n = strlen(ct_leaf_hex[i]) / 2;
        unhex(ct_leaf_hex[i], d);
        annal_leaf_hash((const char *)d, n, leaf[i]);
    }
    CHECK(eq_hex(leaf[0], ct_root[1])); /* the leaf hash of "" is the root of a one-leaf tree */
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, 8);
    annal_merkle_stream s;
    annal_merkle_stream_init(&s);
    for (uint64_t n = 0; n <= 8; n++) {
        t.limit = n;
        CHECK(annal_merkle_root(n, table_node, &t, h) == ANNAL_OK);
        CHECKF(eq_hex(h, ct_root[n]), "size %llu", (unsigned long long)n);
        annal_merkle_stream_root(&s, h);
        CHECKF(eq_hex(h, ct_root[n]), "stream, size %llu", (unsigned long long)n);
        if (n < 8)
            annal_merkle_stream_push(&s, leaf[n]);
    }
    t.limit = 8;
    /* the published proofs */
    unsigned char p[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n;
    static const struct {
        uint64_t a, b;
        int consistency;
        const char *h[3];
    } v[] = {
        {0, 8, 0, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {5, 8, 0, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 8, 1, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4", NULL}},
        {6, 8, 1, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    };
    unsigned char r8[32];
    unhex(ct_root[8], r8);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t want = v[i].h[2] ? 3 : 2;
        if (v[i].consistency) {
            CHECK(annal_merkle_consistency(v[i].a, v[i].b, table_node, &t, p, &n) == ANNAL_OK);
            unsigned char r1[32];
            unhex(ct_root[v[i].a], r1);
            CHECK(annal_merkle_verify_consistency(v[i].a, v[i].b, r1, r8, (const unsigned char(*)[32])p, n) ==
                  ANNAL_OK);
        } else {
            CHECK(annal_merkle_inclusion(v[i].a, v[i].b, table_node, &t, p, &n) == ANNAL_OK);
            CHECK(annal_merkle_verify_inclusion(v[i].a, v[i].b, leaf[v[i].a], (const unsigned char(*)[32])p, n,
                                                r8) == ANNAL_OK);
        }
        CHECKF(n == want, "vector %zu: %zu hashes", i, n);
        for (size_t j = 0; j < want; j++)
            CHECKF(eq_hex(p[j], v[i].h[j]), "vector %zu, hash %zu", i, j);
    }
    /* interior nodes: SHA-256(0x01 || l || r) */
    unsigned char buf[65] = {1};
    memcpy(buf + 1, leaf[0], 32);
    memcpy(buf + 33, leaf[1], 32);
    annal_sha256_2(buf, 65, NULL, 0, h);
    unsigned char h2[32];
    annal_merkle_node(leaf[0], leaf[1], h2);
    CHECK(memcmp(h, h2, 32) == 0 && eq_hex(h, ct_root[2]));
    table_free(&t);
}

static void roots_of_small_trees_match_the_definition(void)
{
    enum { N = 300 };
    unsigned char (*leaf)[32] = make_leaves(N);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, N);
    annal_merkle_stream s;
    annal_merkle_stream_init(&s);
    for (uint64_t n = 0; n <= N; n++) {
        unsigned char want[32], got[32], st[32];
        naive_mth((const unsigned char (*)[32])leaf, n, want);
        t.limit = n;
        t.reads = 0;
        CHECK(annal_merkle_root(n, table_node, &t, got) == ANNAL_OK);
        CHECKF(memcmp(want, got, 32) == 0, "size %llu", (unsigned long long)n);
        CHECK(t.reads == (uint64_t)__builtin_popcountll(n)); /* one read per complete subtree */
        annal_merkle_stream_root(&s, st);
        CHECKF(memcmp(want, st, 32) == 0, "stream, size %llu", (unsigned long long)n);
        CHECK(s.size == n);
        if (n < N)
            annal_merkle_stream_push(&s, leaf[n]);
    }
    /* errors of the node function come back as they are */
    unsigned char h[32], p[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 9;
    CHECK(annal_merkle_root(5, failing_node, NULL, h) == ANNAL_EIO);
    CHECK(annal_merkle_inclusion(1, 5, failing_node, NULL, p, &n) == ANNAL_EIO);
    CHECK(annal_merkle_consistency(3, 5, failing_node, NULL, p, &n) == ANNAL_EIO);
    /* a one-leaf tree: empty inclusion proof; its root is the leaf */
    t.limit = 1;
    CHECK(annal_merkle_inclusion(0, 1, table_node, &t, p, &n) == ANNAL_OK && n == 0);
    CHECK(annal_merkle_verify_inclusion(0, 1, leaf[0], (const unsigned char(*)[32])p, 0, leaf[0]) == ANNAL_OK);
    CHECK(annal_merkle_verify_inclusion(0, 1, leaf[0], (const unsigned char(*)[32])p, 0, leaf[1]) == ANNAL_ECORRUPT);
    table_free(&t);
    free(leaf);
}

/* ---------------------------------------------------------------- every proof up to 64 */

#define SMALL 64

static int proofs_equal(unsigned char a[][32], size_t na, unsigned char b[][32], size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * 32) == 0);
}

typedef const unsigned char (*cproof)[32];

/* Checks of one inclusion proof p[0..n) of leaf i in the tree of size n,
 * with roots[s] the root of every size: it verifies; it fails with any
 * byte of it changed, with another leaf or root, truncated or extended,
 * with another index; and with another size (and that size's root) unless
 * it is that size's proof too. Returns NULL or what went wrong. */
static const char *check_inclusion(uint64_t i, uint64_t size, const unsigned char (*leaf)[32], uint64_t nleaves,
                                   unsigned char (*roots)[32], unsigned char p[][32], size_t n, table *t)
{
    const unsigned char *root = roots[size];
    if (annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, root) != ANNAL_OK)
        return "does not verify";
    for (size_t j = 0; j < n; j++)
        for (size_t b = 0; b < 32; b++) {
            p[j][b] ^= 0x01;
            int rc = annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, root);
            p[j][b] ^= 0x01;
            if (rc != ANNAL_ECORRUPT)
                return "verifies with a byte changed";
        }
    unsigned char x[32];
    memcpy(x, leaf[i], 32);
    x[31] ^= 0x80;
    if (annal_merkle_verify_inclusion(i, size, x, (cproof)p, n, root) != ANNAL_ECORRUPT)
        return "verifies another leaf hash";
    memcpy(x, root, 32);
    x[0] ^= 0x01;
    if (annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, x) != ANNAL_ECORRUPT)
        return "verifies against another root";
    if (n && annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n - 1, root) != ANNAL_ECORRUPT)
        return "verifies truncated";
    memset(p[n], 0xab, 32);
    if (annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n + 1, root) != ANNAL_ECORRUPT)
        return "verifies extended";
    for (uint64_t j = 0; j < size; j++) {
        if (j == i)
            continue;
        if (annal_merkle_verify_inclusion(j, size, leaf[i], (cproof)p, n, root) != ANNAL_ECORRUPT)
            return "verifies at another index";
        if (annal_merkle_verify_inclusion(j, size, leaf[j], (cproof)p, n, root) != ANNAL_ECORRUPT)
            return "verifies another leaf at another index";
    }
    if (annal_merkle_verify_inclusion(size, size, leaf[i], (cproof)p, n, root) != ANNAL_EINVAL)
        return "index == size is not EINVAL";
    for (uint64_t s = i + 1; s <= nleaves; s++) {
        if (s == size)
            continue;
        int rc = annal_merkle_verify_inclusion(i, s, leaf[i], (cproof)p, n, roots[s]);
        unsigned char q[ANNAL_MERKLE_MAX_PROOF + 1][32];
        size_t qn;
        t->limit = s;
        if (annal_merkle_inclusion(i, s, table_node, t, q, &qn) != ANNAL_OK)
            return "no proof for another size";
        if (rc != (proofs_equal(p, n, q, qn) ? ANNAL_OK : ANNAL_ECORRUPT))
            return "verifies for another size";
    }
    return NULL;
}

static void every_inclusion_proof_up_to_size_64(void)
{
    unsigned char (*leaf)[32] = make_leaves(SMALL);
    unsigned char roots[SMALL + 1][32];
    for (uint64_t s = 0; s <= SMALL; s++)
        naive_mth((const unsigned char (*)[32])leaf, s, roots[s]);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, SMALL);
    size_t pairs = 0;
    for (uint64_t size = 1; size <= SMALL; size++)
        for (uint64_t i = 0; i < size; i++) {
            unsigned char p[ANNAL_MERKLE_MAX_PROOF + 1][32], want[ANNAL_MERKLE_MAX_PROOF][32];
            size_t n, wn = 0;
            t.limit = size;
            t.reads = 0;
            CHECK(annal_merkle_inclusion(i, size, table_node, &t, p, &n) == ANNAL_OK);
            CHECK(t.reads <= 2 * 7u);
            naive_path(i, (const unsigned char (*)[32])leaf, size, want, &wn);
            CHECKF(proofs_equal(p, n, want, wn), "leaf %llu of %llu: not RFC 9162's PATH", (unsigned long long)i,
                   (unsigned long long)size);
            const char *why = check_inclusion(i, size, (const unsigned char (*)[32])leaf, SMALL, roots, p, n, &t);
            CHECKF(!why, "leaf %llu of %llu: %s", (unsigned long long)i, (unsigned long long)size, why);
            pairs++;
        }
    CHECK(pairs == SMALL * (SMALL + 1) / 2);
    unsigned char p[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 7;
    CHECK(annal_merkle_inclusion(5, 5, table_node, &t, p, &n) == ANNAL_EINVAL && n == 0);
    CHECK(annal_merkle_inclusion(0, 0, table_node, &t, p, &n) == ANNAL_EINVAL);
    CHECK(annal_merkle_verify_inclusion(0, 0, leaf[0], (cproof)p, 0, roots[0]) == ANNAL_EINVAL);
    CHECK(annal_merkle_verify_inclusion(0, 2, leaf[0], (cproof)p, ANNAL_MERKLE_MAX_PROOF + 1, roots[2]) ==
          ANNAL_EINVAL);
    table_free(&t);
    free(leaf);
}

/* As check_inclusion, for the consistency proof p[0..n) from s1 to s2. */
static const char *check_consistency(uint64_t s1, uint64_t s2, uint64_t nleaves, unsigned char (*roots)[32],
                                     unsigned char p[][32], size_t n, table *t)
{
    if (annal_merkle_verify_consistency(s1, s2, roots[s1], roots[s2], (cproof)p, n) != ANNAL_OK)
        return "does not verify";
    for (size_t j = 0; j < n; j++)
        for (size_t b = 0; b < 32; b++) {
            p[j][b] ^= 0x01;
            int rc = annal_merkle_verify_consistency(s1, s2, roots[s1], roots[s2], (cproof)p, n);
            p[j][b] ^= 0x01;
            if (rc != ANNAL_ECORRUPT)
                return "verifies with a byte changed";
        }
    unsigned char x[32];
    memcpy(x, roots[s1], 32);
    x[7] ^= 0x10;
    if (annal_merkle_verify_consistency(s1, s2, x, roots[s2], (cproof)p, n) != ANNAL_ECORRUPT)
        return "verifies another first root";
    memcpy(x, roots[s2], 32);
    x[31] ^= 0x01;
    if (annal_merkle_verify_consistency(s1, s2, roots[s1], x, (cproof)p, n) != ANNAL_ECORRUPT)
        return "verifies another second root";
    if (n && annal_merkle_verify_consistency(s1, s2, roots[s1], roots[s2], (cproof)p, n - 1) != ANNAL_ECORRUPT)
        return "verifies truncated";
    memset(p[n], 0xcd, 32);
    if (annal_merkle_verify_consistency(s1, s2, roots[s1], roots[s2], (cproof)p, n + 1) != ANNAL_ECORRUPT)
        return "verifies extended";
    unsigned char q[ANNAL_MERKLE_MAX_PROOF + 1][32];
    size_t qn;
    for (uint64_t s = 1; s <= nleaves; s++) {
        /* another first size (with its root), then another second size */
        for (int which = 0; which < 2; which++) {
            uint64_t a = which ? s1 : s, b = which ? s : s2;
            if ((which ? b == s2 : a == s1) || a > b)
                continue;
            int rc = annal_merkle_verify_consistency(a, b, roots[a], roots[b], (cproof)p, n);
            t->limit = b;
            if (annal_merkle_consistency(a, b, table_node, t, q, &qn) != ANNAL_OK)
                return "no proof for other sizes";
            if (rc != (proofs_equal(p, n, q, qn) ? ANNAL_OK : ANNAL_ECORRUPT))
                return which ? "verifies for another second size" : "verifies for another first size";
        }
    }
    return NULL;
}

static void every_consistency_proof_up_to_size_64(void)
{
    unsigned char (*leaf)[32] = make_leaves(SMALL);
    unsigned char roots[SMALL + 1][32];
    for (uint64_t s = 0; s <= SMALL; s++)
        naive_mth((const unsigned char (*)[32])leaf, s, roots[s]);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, SMALL);
    size_t pairs = 0;
    for (uint64_t s2 = 1; s2 <= SMALL; s2++)
        for (uint64_t s1 = 1; s1 <= s2; s1++) {
            unsigned char p[ANNAL_MERKLE_MAX_PROOF + 1][32], want[ANNAL_MERKLE_MAX_PROOF][32];
            size_t n, wn = 0;
            t.limit = s2;
            t.reads = 0;
            CHECK(annal_merkle_consistency(s1, s2, table_node, &t, p, &n) == ANNAL_OK);
            CHECK(t.reads <= 2 * 7u);
            naive_subproof(s1, (const unsigned char (*)[32])leaf, s2, 1, want, &wn);
            CHECKF(proofs_equal(p, n, want, wn), "%llu -> %llu: not RFC 9162's PROOF", (unsigned long long)s1,
                   (unsigned long long)s2);
            CHECK((n == 0) == (s1 == s2));
            const char *why = check_consistency(s1, s2, SMALL, roots, p, n, &t);
            CHECKF(!why, "%llu -> %llu: %s", (unsigned long long)s1, (unsigned long long)s2, why);
            pairs++;
        }
    CHECK(pairs == SMALL * (SMALL + 1) / 2);
    unsigned char p[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 3;
    t.limit = SMALL;
    CHECK(annal_merkle_consistency(0, 5, table_node, &t, p, &n) == ANNAL_EINVAL && n == 0);
    CHECK(annal_merkle_consistency(6, 5, table_node, &t, p, &n) == ANNAL_EINVAL);
    CHECK(annal_merkle_verify_consistency(0, 5, roots[0], roots[5], (cproof)p, 0) == ANNAL_EINVAL);
    CHECK(annal_merkle_verify_consistency(6, 5, roots[6], roots[5], (cproof)p, 0) == ANNAL_EINVAL);
    CHECK(annal_merkle_verify_consistency(3, 5, roots[3], roots[5], (cproof)p, ANNAL_MERKLE_MAX_PROOF + 1) ==
          ANNAL_EINVAL);
    /* equal sizes: an empty proof and equal roots, nothing else */
    CHECK(annal_merkle_verify_consistency(4, 4, roots[4], roots[4], (cproof)p, 0) == ANNAL_OK);
    CHECK(annal_merkle_verify_consistency(4, 4, roots[4], roots[5], (cproof)p, 0) == ANNAL_ECORRUPT);
    memcpy(p[0], roots[4], 32);
    CHECK(annal_merkle_verify_consistency(4, 4, roots[4], roots[4], (cproof)p, 1) == ANNAL_ECORRUPT);
    /* a proof is never empty between different sizes */
    CHECK(annal_merkle_verify_consistency(4, 8, roots[4], roots[8], (cproof)p, 0) == ANNAL_ECORRUPT);
    table_free(&t);
    free(leaf);
}

/* ---------------------------------------------------------------- random proofs on a 100k-leaf tree */

#define BIG 100000

typedef struct pair {
    uint64_t a, b;
} pair;

static int by_b(const void *x, const void *y)
{
    const pair *p = x, *q = y;
    return (p->b > q->b) - (p->b < q->b);
}

/* Roots of the sizes pairs[k].b (sorted by b) from one streaming pass over
 * leaf: independent of the node table and of annal_merkle_root. */
static void stream_roots(const unsigned char (*leaf)[32], pair *pairs, size_t np, unsigned char (*out)[32])
{
    annal_merkle_stream s;
    annal_merkle_stream_init(&s);
    for (size_t k = 0; k < np; k++) {
        while (s.size < pairs[k].b)
            annal_merkle_stream_push(&s, leaf[s.size]);
        annal_merkle_stream_root(&s, out[k]);
    }
}

static void random_proofs_on_a_100k_leaf_tree(void)
{
    unsigned char (*leaf)[32] = make_leaves(BIG);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, BIG);
    enum { NP = 3000 };
    pair *pi = malloc(NP * sizeof(*pi)), *pc = malloc(NP * sizeof(*pc));
    unsigned char (*ri)[32] = malloc(NP * 32), (*rc1)[32] = malloc(NP * 32), (*rc2)[32] = malloc(NP * 32);
    uint64_t seed = 0x6d65726b6c65;
    for (size_t k = 0; k < NP; k++) {
        /* every fourth pair near the edges: the last leaf, sizes at powers of two */
        uint64_t b = 1 + t_rand(&seed) % BIG, a = t_rand(&seed) % b;
        if (k % 4 == 1)
            a = b - 1;
        if (k % 4 == 2)
            b = (uint64_t)1 << (t_rand(&seed) % 17), a = t_rand(&seed) % b;
        pi[k] = (pair){a, b};
        uint64_t s2 = 1 + t_rand(&seed) % BIG, s1 = 1 + t_rand(&seed) % s2;
        if (k % 4 == 3)
            s1 = (uint64_t)1 << (t_rand(&seed) % 17), s2 = s1 + t_rand(&seed) % (BIG - s1 + 1);
        pc[k] = (pair){s1, s2};
    }
    qsort(pi, NP, sizeof(*pi), by_b);
    stream_roots((const unsigned char (*)[32])leaf, pi, NP, ri);
    qsort(pc, NP, sizeof(*pc), by_b);
    stream_roots((const unsigned char (*)[32])leaf, pc, NP, rc2);
    {   /* and the roots of the first sizes */
        pair *f = malloc(NP * sizeof(*f));
        for (size_t k = 0; k < NP; k++)
            f[k] = (pair){k, pc[k].a};
        qsort(f, NP, sizeof(*f), by_b);
        unsigned char (*r)[32] = malloc(NP * 32);
        stream_roots((const unsigned char (*)[32])leaf, f, NP, r);
        for (size_t k = 0; k < NP; k++)
            memcpy(rc1[f[k].a], r[k], 32);
        free(r);
        free(f);
    }
    uint64_t max_reads = 0;
    for (size_t k = 0; k < NP; k++) {
        unsigned char p[ANNAL_MERKLE_MAX_PROOF + 1][32], h[32];
        size_t n;
        uint64_t i = pi[k].a, size = pi[k].b;
        t.limit = size;
        t.reads = 0;
        CHECK(annal_merkle_root(size, table_node, &t, h) == ANNAL_OK && memcmp(h, ri[k], 32) == 0);
        t.reads = 0;
        CHECK(annal_merkle_inclusion(i, size, table_node, &t, p, &n) == ANNAL_OK);
        max_reads = t.reads > max_reads ? t.reads : max_reads;
        CHECKF(annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, ri[k]) == ANNAL_OK, "%llu of %llu",
               (unsigned long long)i, (unsigned long long)size);
        size_t j = t_rand(&seed) % (n ? n : 1);
        unsigned b = (unsigned)(t_rand(&seed) % 32);
        if (n) {
            p[j][b] ^= 0x40;
            CHECK(annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, ri[k]) == ANNAL_ECORRUPT);
            p[j][b] ^= 0x40;
        }
        uint64_t other = (i + 1 + t_rand(&seed) % (size > 1 ? size - 1 : 1)) % size;
        if (other != i)
            CHECK(annal_merkle_verify_inclusion(other, size, leaf[i], (cproof)p, n, ri[k]) == ANNAL_ECORRUPT);
        CHECK(annal_merkle_verify_inclusion(i, size, leaf[(i + 1) % BIG], (cproof)p, n, ri[k]) == ANNAL_ECORRUPT);
        CHECK(annal_merkle_verify_inclusion(i, size, leaf[i], (cproof)p, n, ri[(k + 1) % NP]) == ANNAL_ECORRUPT ||
              pi[(k + 1) % NP].b == size);

        uint64_t s1 = pc[k].a, s2 = pc[k].b;
        t.limit = s2;
        t.reads = 0;
        CHECK(annal_merkle_consistency(s1, s2, table_node, &t, p, &n) == ANNAL_OK);
        max_reads = t.reads > max_reads ? t.reads : max_reads;
        CHECKF(annal_merkle_verify_consistency(s1, s2, rc1[k], rc2[k], (cproof)p, n) == ANNAL_OK, "%llu -> %llu",
               (unsigned long long)s1, (unsigned long long)s2);
        if (n) {
            j = t_rand(&seed) % n;
            p[j][b] ^= 0x02;
            CHECK(annal_merkle_verify_consistency(s1, s2, rc1[k], rc2[k], (cproof)p, n) == ANNAL_ECORRUPT);
            p[j][b] ^= 0x02;
            CHECK(annal_merkle_verify_consistency(s1, s2, rc1[k], rc2[k], (cproof)p, n - 1) == ANNAL_ECORRUPT);
        }
        if (s1 != s2)
            CHECK(annal_merkle_verify_consistency(s1, s2, rc2[k], rc1[k], (cproof)p, n) == ANNAL_ECORRUPT);
        if (s1 > 1 && s1 < s2)
            CHECK(annal_merkle_verify_consistency(s1 - 1, s2, rc1[k], rc2[k], (cproof)p, n) == ANNAL_ECORRUPT);
    }
    CHECKF(max_reads <= 2 * 17, "%llu node reads for one proof", (unsigned long long)max_reads);
    free(pi);
    free(pc);
    free(ri);
    free(rc1);
    free(rc2);
    table_free(&t);
    free(leaf);
}

/* ---------------------------------------------------------------- the index's tree */

/* Append events from..to-1 (small ones, three tenants) to the log in dir. */
static int append_events(const char *dir, uint64_t from, uint64_t to)
{
    annal_log *log;
    char err[512];
    if (annal_log_open(dir, NULL, &log, err, sizeof(err))) {
        fprintf(stderr, "append_events: %s\n", err);
        return -1;
    }
    enum { BATCH = 4096 };
    annal_event *evs = calloc(BATCH, sizeof(*evs));
    char *bufs = malloc(BATCH * 256);
    int rc = 0;
    annal_append_result res;
    for (uint64_t i = from; i < to && !rc;) {
        size_t k = 0;
        for (; k < BATCH && i < to; k++, i++) {
            char json[256];
            snprintf(json, sizeof(json),
                     "{\"tenant_id\":\"t%llu\",\"event_type\":\"svc.item.done\",\"event_id\":\"e-%llu\","
                     "\"correlation_id\":\"c-%llu\",\"occurred_at\":\"2026-10-01T00:%02llu:%02lluZ\"}",
                     (unsigned long long)(i % 3), (unsigned long long)i, (unsigned long long)(i / 5),
                     (unsigned long long)(i / 60 % 60), (unsigned long long)(i % 60));
            if ((rc = tu_event(json, bufs + k * 256, 256, &evs[k])))
                break;
        }
        if (!rc && k)
            rc = annal_log_append(log, evs, k, &res);
    }
    if (annal_log_close(log))
        rc = -1;
    free(bufs);
    free(evs);
    return rc ? -1 : 0;
}

/* The leaf hashes of the log's records 1..n, read from the log. */
static unsigned char (*log_leaves(const char *dir, uint64_t *n))[32]
{
    annal_reader *r;
    if (annal_reader_open(dir, &r) || annal_reader_last(r, n))
        return NULL;
    unsigned char (*leaf)[32] = malloc((*n ? *n : 1) * 32);
    for (uint64_t s = 1; s <= *n; s++) {
        const char *rec;
        size_t len;
        if (annal_reader_get(r, s, &rec, &len)) {
            free(leaf);
            leaf = NULL;
            break;
        }
        annal_leaf_hash(rec, len, leaf[s - 1]);
    }
    annal_reader_close(r);
    return leaf;
}

static annal_index *open_index(const char *dir, const annal_index_options *opt)
{
    annal_index *ix;
    char err[512];
    if (annal_index_open(dir, opt, &ix, err, sizeof(err))) {
        fprintf(stderr, "open_index: %s\n", err);
        return NULL;
    }
    return ix;
}

/* The index's tree of size n equals the streaming root over leaf[0..n),
 * every leaf it holds is the log's, and it holds exactly the complete
 * subtrees (2n - popcount(n) nodes). Checks some smaller sizes too.
 * Returns NULL or what differs. */
static const char *tree_matches(annal_index *ix, const unsigned char (*leaf)[32], uint64_t n)
{
    uint64_t applied;
    if (annal_index_applied(ix, &applied) || applied != n)
        return "applied seq";
    annal_merkle_stream s;
    annal_merkle_stream_init(&s);
    unsigned char want[32], got[32];
    for (uint64_t i = 0; i <= n; i++) {
        if (i == n || i < 70 || i % 997 == 0 || (i & (i - 1)) == 0) {
            annal_merkle_stream_root(&s, want);
            if (annal_index_tree_root(ix, i, got) || memcmp(want, got, 32))
                return "a root differs from the streaming root";
        }
        if (i < n) {
            if (annal_index_leaf(ix, i + 1, got) || memcmp(got, leaf[i], 32))
                return "a leaf differs from the log's";
            annal_merkle_stream_push(&s, leaf[i]);
        }
    }
    annal_index_stats st;
    if (annal_index_stats_get(ix, &st))
        return "stats";
    for (int i = 0; i < ANNAL_INDEX_NDBS; i++)
        if (!strcmp(st.db[i].name, "merkle"))
            return st.db[i].entries == 2 * n - (uint64_t)__builtin_popcountll(n) ? NULL : "node count";
    return "no merkle database";
}

static void the_index_tree_equals_the_streaming_root_after_catch_up_in_steps_and_reindex(void)
{
    const char *dir = path("steps");
    uint64_t bounds[] = {0, 1, 2, 3, 64, 65, 700, 701, 1024, 1025, 4095, 4096, 9000, 20000};
    unsigned char (*leaf)[32] = NULL;
    uint64_t n = 0;
    for (size_t i = 0; i + 1 < sizeof(bounds) / sizeof(bounds[0]); i++) {
        CHECK(append_events(dir, bounds[i], bounds[i + 1]) == 0);
        /* odd transaction sizes, one thread or two */
        annal_index_options opt = {.txn_records = 1 + i * 331, .threads = i % 3 ? 0 : 1};
        annal_index *ix = open_index(dir, &opt);
        CHECK(ix);
        int rc = annal_index_catch_up(ix, NULL, NULL, NULL);
        free(leaf);
        leaf = log_leaves(dir, &n);
        const char *why = rc ? annal_index_strerror(rc) : !leaf ? "reading the log" :
                          tree_matches(ix, (const unsigned char (*)[32])leaf, n);
        annal_index_close(ix);
        CHECKF(!why, "after seq %llu: %s", (unsigned long long)bounds[i + 1], why);
    }
    CHECK(n == 20000);
    annal_index *ix = open_index(dir, NULL);
    CHECK(ix);
    unsigned char live[32], root[32], d[32];
    CHECK(annal_index_digest(ix, live) == ANNAL_OK && annal_index_tree_root(ix, n, root) == ANNAL_OK);
    annal_index_close(ix);
    uint64_t events = 0;
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, &events) == ANNAL_OK && events == n);
    CHECK((ix = open_index(dir, NULL)) != NULL);
    const char *why = tree_matches(ix, (const unsigned char (*)[32])leaf, n);
    CHECK(annal_index_digest(ix, d) == ANNAL_OK);
    unsigned char r2[32];
    CHECK(annal_index_tree_root(ix, n, r2) == ANNAL_OK);
    annal_index_close(ix);
    free(leaf);
    CHECKF(!why, "after reindex: %s", why);
    CHECK(memcmp(live, d, 32) == 0);
    CHECK(memcmp(root, r2, 32) == 0);
}

static void a_map_that_fills_and_two_handles_taking_turns_keep_the_tree_whole(void)
{
    const char *dir = path("turns");
    CHECK(append_events(dir, 0, 3000) == 0);
    /* a map too small for one transaction: aborted, grown and replayed */
    annal_index_options tiny = {.map_size = 128 << 10, .txn_records = 2500};
    annal_index *a = open_index(dir, &tiny);
    CHECK(a);
    CHECK(annal_index_catch_up(a, NULL, NULL, NULL) == ANNAL_OK);
    /* a second handle (another process, as far as the index knows) applies
     * the next records; then the first goes on from there */
    annal_index_options small = {.txn_records = 97};
    annal_index *b = open_index(dir, &small);
    CHECK(b);
    CHECK(append_events(dir, 3000, 4000) == 0);
    CHECK(annal_index_catch_up(b, NULL, NULL, NULL) == ANNAL_OK);
    CHECK(append_events(dir, 4000, 4500) == 0);
    CHECK(annal_index_catch_up(a, NULL, NULL, NULL) == ANNAL_OK);
    CHECK(append_events(dir, 4500, 4501) == 0);
    CHECK(annal_index_catch_up(b, NULL, NULL, NULL) == ANNAL_OK);
    uint64_t n;
    unsigned char (*leaf)[32] = log_leaves(dir, &n);
    CHECK(leaf && n == 4501);
    const char *why = tree_matches(a, (const unsigned char (*)[32])leaf, n);
    const char *why2 = tree_matches(b, (const unsigned char (*)[32])leaf, n);
    free(leaf);
    /* the handles' node caches, filled above, stay right as the tree grows */
    if (!why && !why2) {
        CHECK(append_events(dir, 4501, 9000) == 0);
        CHECK(annal_index_catch_up(b, NULL, NULL, NULL) == ANNAL_OK);
        CHECK((leaf = log_leaves(dir, &n)) != NULL && n == 9000);
        why = tree_matches(a, (const unsigned char (*)[32])leaf, n);
        why2 = tree_matches(b, (const unsigned char (*)[32])leaf, n);
        free(leaf);
    }
    annal_index_close(a);
    annal_index_close(b);
    CHECKF(!why && !why2, "%s / %s", why ? why : "-", why2 ? why2 : "-");
}

/* 100k records through the log and the index: random proofs from the index
 * verify against its roots and the streaming roots, equal the proofs the
 * pure functions make from the log's leaves, and fail once altered. */
static void proofs_from_the_index_verify_on_a_100k_record_log(void)
{
    const char *dir = path("big");
    CHECK(append_events(dir, 0, BIG) == 0);
    annal_index *ix = open_index(dir, NULL);
    CHECK(ix);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_OK);
    uint64_t n;
    unsigned char (*leaf)[32] = log_leaves(dir, &n);
    CHECK(leaf && n == BIG);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, n);
    enum { NP = 1500 };
    pair *pr = malloc(NP * sizeof(*pr));
    uint64_t seed = 0x1d5eed;
    for (size_t k = 0; k < NP; k++) {
        uint64_t b = 1 + t_rand(&seed) % n;
        pr[k] = (pair){1 + t_rand(&seed) % b, b};
    }
    qsort(pr, NP, sizeof(*pr), by_b);
    unsigned char (*roots)[32] = malloc(NP * 32);
    stream_roots((const unsigned char (*)[32])leaf, pr, NP, roots);
    const char *why = NULL;
    for (size_t k = 0; k < NP && !why; k++) {
        uint64_t a = pr[k].a, b = pr[k].b;
        unsigned char p[ANNAL_MERKLE_MAX_PROOF][32], q[ANNAL_MERKLE_MAX_PROOF][32], root[32], ra[32], h[32];
        size_t np, nq;
        t.limit = b;
        if (annal_index_tree_root(ix, b, root) || memcmp(root, roots[k], 32))
            why = "root";
        else if (annal_index_inclusion(ix, a, b, p, &np) ||
                 annal_merkle_verify_inclusion(a - 1, b, leaf[a - 1], (cproof)p, np, root))
            why = "inclusion proof does not verify";
        else if (annal_merkle_inclusion(a - 1, b, table_node, &t, q, &nq) || !proofs_equal(p, np, q, nq))
            why = "inclusion proof differs from the pure function's";
        else if (annal_index_leaf(ix, a, h) || memcmp(h, leaf[a - 1], 32))
            why = "leaf";
        else if (np && (p[np - 1][5] ^= 1, annal_merkle_verify_inclusion(a - 1, b, h, (cproof)p, np, root) !=
                                               ANNAL_ECORRUPT))
            why = "altered inclusion proof verifies";
        else if (annal_index_tree_root(ix, a, ra) || annal_index_consistency(ix, a, b, p, &np) ||
                 annal_merkle_verify_consistency(a, b, ra, root, (cproof)p, np))
            why = "consistency proof does not verify";
        else if (annal_merkle_consistency(a, b, table_node, &t, q, &nq) || !proofs_equal(p, np, q, nq))
            why = "consistency proof differs from the pure function's";
        else if (np && (p[0][0] ^= 0x80, annal_merkle_verify_consistency(a, b, ra, root, (cproof)p, np) !=
                                             ANNAL_ECORRUPT))
            why = "altered consistency proof verifies";
        if (why)
            fprintf(stderr, "pair %llu, %llu\n", (unsigned long long)a, (unsigned long long)b);
    }
    annal_index_close(ix);
    free(roots);
    free(pr);
    table_free(&t);
    free(leaf);
    CHECKF(!why, "%s", why);
}

/* INDEX.md section 6: the key of node (level, index) is be64(p), p its
 * post-order position: with L = ((index + 1) << level) - 1 (the last leaf
 * under it), p = 2L - popcount(L) + level. */
static void node_key(unsigned level, uint64_t index, unsigned char k[8])
{
    uint64_t L = ((index + 1) << level) - 1, p = 2 * L - (uint64_t)__builtin_popcountll(L) + level;
    for (int i = 7; i >= 0; i--, p >>= 8)
        k[i] = (unsigned char)p;
}

/* The database holds exactly the complete nodes, under the keys INDEX.md
 * gives, with their hashes; keys in LMDB order are the nodes in the order
 * they complete. */
static void the_merkle_database_is_as_index_md_says(void)
{
    const char *dir = path("layout");
    enum { N = 1000 };
    CHECK(append_events(dir, 0, N) == 0);
    annal_index *ix = open_index(dir, NULL);
    CHECK(ix);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_OK);
    annal_index_close(ix);
    uint64_t n;
    unsigned char (*leaf)[32] = log_leaves(dir, &n);
    CHECK(leaf && n == N);
    table t;
    table_build(&t, (const unsigned char (*)[32])leaf, N);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 64) == 0);
    CHECK(mdb_env_open(env, path("layout/index"), MDB_RDONLY, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 && mdb_dbi_open(txn, "merkle", 0, &dbi) == 0);
    CHECK(mdb_cursor_open(txn, dbi, &c) == 0);
    /* replay the appends: leaf i, then the nodes it completes, bottom up */
    const char *why = NULL;
    uint64_t count = 0;
    MDB_val k, v;
    for (uint64_t i = 0; i < N && !why; i++)
        for (unsigned l = 0; !why; l++) {
            unsigned char want[8];
            node_key(l, i >> l, want);
            if (mdb_cursor_get(c, &k, &v, MDB_NEXT) != 0)
                why = "fewer entries";
            else if (k.mv_size != 8 || memcmp(k.mv_data, want, 8))
                why = "a key is not the next post-order position";
            else if (v.mv_size != 32 || memcmp(v.mv_data, t.lv[l][i >> l], 32))
                why = "a hash is not the node's";
            count++;
            if (!((i >> l) & 1))
                break;
        }
    if (!why && mdb_cursor_get(c, &k, &v, MDB_NEXT) != MDB_NOTFOUND)
        why = "more entries";
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    table_free(&t);
    free(leaf);
    CHECKF(!why, "%s (entry %llu)", why, (unsigned long long)count);
    CHECK(count == 2 * N - (uint64_t)__builtin_popcount(N));
}

/* Several threads reading proofs from one handle at once (its node cache
 * is shared) get proofs that verify. */
typedef struct reader_arg {
    annal_index *ix;
    const unsigned char (*leaf)[32];
    const unsigned char (*roots)[32]; /* roots[s]: the root of size s, for s in sizes */
    uint64_t n, seed;
    int bad;
} reader_arg;

static void *proof_reader(void *p)
{
    reader_arg *a = p;
    for (int k = 0; k < 1500; k++) {
        uint64_t size = a->n - t_rand(&a->seed) % 8, seq = 1 + t_rand(&a->seed) % size;
        unsigned char proof[ANNAL_MERKLE_MAX_PROOF][32], root[32];
        size_t np;
        if (annal_index_inclusion(a->ix, seq, size, proof, &np) || annal_index_tree_root(a->ix, size, root) ||
            memcmp(root, a->roots[a->n - size], 32) ||
            annal_merkle_verify_inclusion(seq - 1, size, a->leaf[seq - 1], (cproof)proof, np, root))
            a->bad++;
        uint64_t s1 = 1 + t_rand(&a->seed) % size;
        unsigned char r1[32];
        if (annal_index_consistency(a->ix, s1, size, proof, &np) || annal_index_tree_root(a->ix, s1, r1) ||
            annal_merkle_verify_consistency(s1, size, r1, root, (cproof)proof, np))
            a->bad++;
    }
    return NULL;
}

static void threads_reading_proofs_at_once_get_proofs_that_verify(void)
{
    const char *dir = path("big"); /* built by the test before */
    uint64_t n;
    unsigned char (*leaf)[32] = log_leaves(dir, &n);
    CHECK(leaf && n == BIG);
    unsigned char roots[8][32]; /* roots[j]: size n - j */
    pair pr[8];
    for (int j = 0; j < 8; j++)
        pr[j] = (pair){0, n - 7 + (uint64_t)j};
    unsigned char tmp[8][32];
    stream_roots((const unsigned char (*)[32])leaf, pr, 8, tmp);
    for (int j = 0; j < 8; j++)
        memcpy(roots[7 - j], tmp[j], 32);
    annal_index *ix = open_index(dir, NULL);
    CHECK(ix);
    enum { T = 4 };
    pthread_t th[T];
    reader_arg a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (reader_arg){ix, (const unsigned char (*)[32])leaf, (const unsigned char (*)[32])roots, n,
                            0x7000 + (uint64_t)i, 0};
        CHECK(pthread_create(&th[i], NULL, proof_reader, &a[i]) == 0);
    }
    int bad = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        bad += a[i].bad;
    }
    annal_index_close(ix);
    free(leaf);
    CHECKF(bad == 0, "%d proofs did not verify", bad);
}

static void index_reads_refuse_what_the_index_does_not_hold(void)
{
    const char *dir = path("args");
    CHECK(append_events(dir, 0, 10) == 0);
    annal_index *ix = open_index(dir, NULL);
    CHECK(ix);
    unsigned char h[32], p[ANNAL_MERKLE_MAX_PROOF][32], e[32];
    size_t n = 99;
    /* nothing applied yet: only the empty tree */
    CHECK(annal_index_tree_root(ix, 0, h) == ANNAL_OK);
    annal_merkle_empty(e);
    CHECK(memcmp(h, e, 32) == 0);
    CHECK(annal_index_tree_root(ix, 1, h) == ANNAL_EINVAL);
    CHECK(annal_index_leaf(ix, 1, h) == ANNAL_EINVAL);
    CHECK(annal_index_inclusion(ix, 1, 1, p, &n) == ANNAL_EINVAL && n == 0);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_OK);
    CHECK(annal_index_tree_root(ix, 10, h) == ANNAL_OK);
    CHECK(annal_index_tree_root(ix, 11, h) == ANNAL_EINVAL);
    CHECK(annal_index_leaf(ix, 0, h) == ANNAL_EINVAL);
    CHECK(annal_index_leaf(ix, 10, h) == ANNAL_OK);
    CHECK(annal_index_leaf(ix, 11, h) == ANNAL_EINVAL);
    n = 99;
    CHECK(annal_index_inclusion(ix, 0, 5, p, &n) == ANNAL_EINVAL && n == 0);
    CHECK(annal_index_inclusion(ix, 6, 5, p, &n) == ANNAL_EINVAL);
    CHECK(annal_index_inclusion(ix, 5, 11, p, &n) == ANNAL_EINVAL);
    CHECK(annal_index_inclusion(ix, 10, 10, p, &n) == ANNAL_OK && n == 2); /* node (3, 0), leaf 8 */
    CHECK(annal_index_inclusion(ix, 1, 1, p, &n) == ANNAL_OK && n == 0);
    n = 99;
    CHECK(annal_index_consistency(ix, 0, 5, p, &n) == ANNAL_EINVAL && n == 0);
    CHECK(annal_index_consistency(ix, 6, 5, p, &n) == ANNAL_EINVAL);
    CHECK(annal_index_consistency(ix, 5, 11, p, &n) == ANNAL_EINVAL);
    CHECK(annal_index_consistency(ix, 10, 10, p, &n) == ANNAL_OK && n == 0);
    CHECK(annal_index_consistency(ix, 3, 10, p, &n) == ANNAL_OK && n > 0);
    CHECK(annal_index_tree_root(NULL, 0, h) == ANNAL_EINVAL);
    annal_index_close(ix);

    /* a node missing from the database: a damaged index (keys: INDEX.md
     * section 6, be64 of the post-order position) */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 64) == 0);
    CHECK(mdb_env_open(env, path("args/index"), MDB_WRITEMAP, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "merkle", 0, &dbi) == 0);
    unsigned char key[8];
    node_key(3, 0, key); /* node (3, 0): leaves 0..7 */
    MDB_val k = {8, key};
    CHECK(mdb_del(txn, dbi, &k, NULL) == 0 && mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    CHECK((ix = open_index(dir, NULL)) != NULL);
    CHECK(annal_index_tree_root(ix, 10, h) == ANNAL_EINDEX);
    CHECK(annal_index_inclusion(ix, 10, 10, p, &n) == ANNAL_EINDEX && n == 0);
    CHECK(annal_index_tree_root(ix, 7, h) == ANNAL_OK); /* does not need it */
    annal_index_close(ix);
    /* and the fold refuses to go on from a frontier it cannot read */
    CHECK(append_events(dir, 10, 20) == 0);
    node_key(1, 4, key); /* node (1, 4): leaves 8, 9, a left child awaiting its sibling */
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 64) == 0);
    CHECK(mdb_env_open(env, path("args/index"), MDB_WRITEMAP, 0644) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "merkle", 0, &dbi) == 0);
    CHECK(mdb_del(txn, dbi, &k, NULL) == 0 && mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    CHECK((ix = open_index(dir, NULL)) != NULL);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_EINDEX);
    annal_index_close(ix);
    CHECK(annal_index_rebuild(dir, NULL, NULL, NULL, NULL) == ANNAL_OK);
    CHECK((ix = open_index(dir, NULL)) != NULL);
    CHECK(annal_index_catch_up(ix, NULL, NULL, NULL) == ANNAL_OK);
    CHECK(annal_index_tree_root(ix, 20, h) == ANNAL_OK);
    annal_index_close(ix);
}

int main(void)
{
    base = tu_tmpdir("merkle");
    T_RUN(known_answers_of_rfc_9162_and_rfc_6962);
    T_RUN(roots_of_small_trees_match_the_definition);
    T_RUN(every_inclusion_proof_up_to_size_64);
    T_RUN(every_consistency_proof_up_to_size_64);
    T_RUN(random_proofs_on_a_100k_leaf_tree);
    T_RUN(the_index_tree_equals_the_streaming_root_after_catch_up_in_steps_and_reindex);
    T_RUN(a_map_that_fills_and_two_handles_taking_turns_keep_the_tree_whole);
    T_RUN(proofs_from_the_index_verify_on_a_100k_record_log);
    T_RUN(threads_reading_proofs_at_once_get_proofs_that_verify);
    T_RUN(the_merkle_database_is_as_index_md_says);
    T_RUN(index_reads_refuse_what_the_index_does_not_hold);
    if (!t_failed)
        tu_rmtree(base);
    free(base);
    return t_done();
}
