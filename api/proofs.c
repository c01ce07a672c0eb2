/*
 * proofs.c - the integrity routes of /api/v1 (api/API.md "Integrity"): the
 * latest signed checkpoint, inclusion and consistency proofs (RFC 9162)
 * from the index's Merkle tree (index/index.h), and an event with its proof.
 * Proofs carry only hashes; an inclusion proof of another tenant's event
 * answers 404 like a missing one.
 */
#include "api/internal.h"

#include "store/checkpoint.h"
#include "store/error.h"
#include "store/hash.h"
#include "store/merkle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

annal_index *api_reads_ix(api_req *r, api_resp *o);

static void put_hash(annal_jbuf *b, const unsigned char h[32])
{
    char hex[65];
    annal_hex32(h, hex);
    annal_jbuf_putc(b, '"');
    annal_jbuf_put(b, hex, 64);
    annal_jbuf_putc(b, '"');
}

static void put_proof(annal_jbuf *b, unsigned char proof[][32], size_t n)
{
    annal_jbuf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            annal_jbuf_putc(b, ',');
        put_hash(b, proof[i]);
    }
    annal_jbuf_putc(b, ']');
}

/* A decimal u64 query parameter; absent: *v untouched, returns 0. */
static int arg_u64(api_req *r, api_resp *o, const char *name, uint64_t *v, int required)
{
    const char *s = api_arg_get(r, name);
    if (!s) {
        if (required) {
            api_problem(o, 400, "%s is required (a tree size or seq: a positive decimal integer)", name);
            return -1;
        }
        return 0;
    }
    uint64_t x = 0;
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 20;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9' && x <= (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10;
        if (ok)
            x = x * 10 + (uint64_t)(s[i] - '0');
    }
    if (!ok || x == 0) {
        api_problem(o, 400, "%s must be a positive decimal integer, not '%.32s'", name, s);
        return -1;
    }
    *v = x;
    return 0;
}

/* The latest checkpoint (note malloc'd) and its parsed body; 0, or -1 with
 * the problem set (404 when none). */
static int latest(api_req *r, api_resp *o, char **note, size_t *len, annal_checkpoint *c)
{
    char err[512];
    uint64_t size;
    int rc = annal_checkpoint_latest(annal_db_dir(r->srv->db), note, len, &size, err, sizeof(err));
    if (rc == ANNAL_ENOTFOUND) {
        api_problem(o, 404, "no checkpoint has been issued yet: the server signs them when started with "
                            "--key (annal keygen makes one); they follow appends within the checkpoint interval");
        return -1;
    }
    if (rc == ANNAL_OK && c) {
        size_t tl;
        if (annal_note_split(*note, *len, &tl, err, sizeof(err)) != ANNAL_OK ||
            annal_checkpoint_parse(*note, tl, c, err, sizeof(err)) != ANNAL_OK)
            rc = ANNAL_ECORRUPT;
    }
    if (rc) {
        free(*note);
        *note = NULL;
        api_problem(o, 500, "the latest checkpoint cannot be read: %s", err);
        return -1;
    }
    return 0;
}

/* GET /api/v1/checkpoint */
void api_get_checkpoint(api_req *r, api_resp *o)
{
    char *note = NULL;
    size_t len = 0;
    if (latest(r, o, &note, &len, NULL))
        return;
    o->status = 200;
    o->ctype = "text/plain; charset=utf-8";
    annal_jbuf_put(&o->body, note, len);
    free(note);
}

/* The tree size a proof is made at: tree_size when given (<= applied),
 * else the latest checkpoint's size when it covers `need`, else the
 * applied size. 0, or -1 with the problem set. */
static int proof_size(api_req *r, api_resp *o, annal_index *ix, const char *param, uint64_t need, uint64_t *size)
{
    uint64_t applied, want = 0;
    int rc = annal_index_applied(ix, &applied);
    if (rc) {
        api_problem_code(o, rc, "tree");
        return -1;
    }
    if (arg_u64(r, o, param, &want, 0))
        return -1;
    if (want) {
        if (want > applied) {
            api_problem(o, 400, "%s %llu is beyond the log's %llu events", param, (unsigned long long)want,
                        (unsigned long long)applied);
            return -1;
        }
        *size = want;
        return 0;
    }
    char *note = NULL;
    size_t len;
    uint64_t csize = 0;
    char err[256];
    if (annal_checkpoint_latest(annal_db_dir(r->srv->db), &note, &len, &csize, err, sizeof(err)) == ANNAL_OK)
        free(note);
    *size = csize >= need && csize <= applied && csize ? csize : applied;
    return 0;
}

/* GET /api/v1/proofs/inclusion?seq=&tree_size= */
void api_get_proof_inclusion(api_req *r, api_resp *o)
{
    uint64_t seq = 0, size = 0;
    if (arg_u64(r, o, "seq", &seq, 1))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix || proof_size(r, o, ix, "tree_size", seq, &size))
        return;
    /* the event must be the tenant's: another tenant's seq is 404 */
    char *rec;
    size_t len;
    int rc = annal_index_event(ix, r->tenant, seq, &rec, &len);
    if (rc == ANNAL_ENOTFOUND) {
        api_problem(o, 404, "this tenant has no event with seq %llu", (unsigned long long)seq);
        return;
    }
    if (rc) {
        api_problem_code(o, rc, "event");
        return;
    }
    unsigned char leaf[32], root[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
    annal_leaf_hash(rec, len, leaf);
    free(rec);
    if (seq > size) {
        api_problem(o, 400, "seq %llu is not in a tree of size %llu", (unsigned long long)seq,
                    (unsigned long long)size);
        return;
    }
    size_t n = 0;
    if ((rc = annal_index_inclusion(ix, seq, size, proof, &n)) || (rc = annal_index_tree_root(ix, size, root))) {
        api_problem_code(o, rc, "proof");
        return;
    }
    api_json(o, 200);
    annal_jbuf_puts(&o->body, "{\"seq\":");
    annal_jbuf_u64(&o->body, seq);
    annal_jbuf_puts(&o->body, ",\"leaf_index\":");
    annal_jbuf_u64(&o->body, seq - 1);
    annal_jbuf_puts(&o->body, ",\"tree_size\":");
    annal_jbuf_u64(&o->body, size);
    annal_jbuf_puts(&o->body, ",\"leaf_hash\":");
    put_hash(&o->body, leaf);
    annal_jbuf_puts(&o->body, ",\"root\":");
    put_hash(&o->body, root);
    annal_jbuf_puts(&o->body, ",\"proof\":");
    put_proof(&o->body, proof, n);
    annal_jbuf_putc(&o->body, '}');
}

/* GET /api/v1/proofs/consistency?from_size=&to_size= */
void api_get_proof_consistency(api_req *r, api_resp *o)
{
    uint64_t from = 0, to = 0;
    if (arg_u64(r, o, "from_size", &from, 1))
        return;
    annal_index *ix = api_reads_ix(r, o);
    if (!ix || proof_size(r, o, ix, "to_size", from, &to))
        return;
    if (from > to) {
        api_problem(o, 400, "from_size %llu is larger than to_size %llu", (unsigned long long)from,
                    (unsigned long long)to);
        return;
    }
    unsigned char r1[32], r2[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 0;
    int rc;
    if ((rc = annal_index_consistency(ix, from, to, proof, &n)) || (rc = annal_index_tree_root(ix, from, r1)) ||
        (rc = annal_index_tree_root(ix, to, r2))) {
        api_problem_code(o, rc, "proof");
        return;
    }
    api_json(o, 200);
    annal_jbuf_puts(&o->body, "{\"from_size\":");
    annal_jbuf_u64(&o->body, from);
    annal_jbuf_puts(&o->body, ",\"to_size\":");
    annal_jbuf_u64(&o->body, to);
    annal_jbuf_puts(&o->body, ",\"from_root\":");
    put_hash(&o->body, r1);
    annal_jbuf_puts(&o->body, ",\"to_root\":");
    put_hash(&o->body, r2);
    annal_jbuf_puts(&o->body, ",\"proof\":");
    put_proof(&o->body, proof, n);
    annal_jbuf_putc(&o->body, '}');
}

/* GET /api/v1/events/{seq}?proof=1: the record, its leaf hash, its
 * inclusion proof in the latest checkpoint's tree, and that checkpoint. */
void api_get_event_proof(api_req *r, api_resp *o, uint64_t seq)
{
    annal_index *ix = api_reads_ix(r, o);
    if (!ix)
        return;
    char *rec;
    size_t len;
    int rc = annal_index_event(ix, r->tenant, seq, &rec, &len);
    if (rc == ANNAL_ENOTFOUND) {
        api_problem(o, 404, "this tenant has no event with seq %llu", (unsigned long long)seq);
        return;
    }
    if (rc) {
        api_problem_code(o, rc, "event");
        return;
    }
    char *note = NULL;
    size_t nlen = 0;
    annal_checkpoint c;
    if (latest(r, o, &note, &nlen, &c)) {
        free(rec);
        return;
    }
    if (c.size < seq) {
        api_problem(o, 409, "the latest checkpoint (tree size %llu) does not cover seq %llu yet; retry after the "
                            "next checkpoint (the server signs one within its checkpoint interval)",
                    (unsigned long long)c.size, (unsigned long long)seq);
        free(rec);
        free(note);
        return;
    }
    unsigned char leaf[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n = 0;
    annal_leaf_hash(rec, len, leaf);
    if ((rc = annal_index_inclusion(ix, seq, c.size, proof, &n))) {
        api_problem_code(o, rc, "proof");
        free(rec);
        free(note);
        return;
    }
    api_json(o, 200);
    annal_jbuf_puts(&o->body, "{\"event\":");
    annal_jbuf_put(&o->body, rec, len);
    annal_jbuf_puts(&o->body, ",\"leaf_index\":");
    annal_jbuf_u64(&o->body, seq - 1);
    annal_jbuf_puts(&o->body, ",\"leaf_hash\":");
    put_hash(&o->body, leaf);
    annal_jbuf_puts(&o->body, ",\"tree_size\":");
    annal_jbuf_u64(&o->body, c.size);
    annal_jbuf_puts(&o->body, ",\"proof\":");
    put_proof(&o->body, proof, n);
    annal_jbuf_puts(&o->body, ",\"checkpoint\":");
    annal_jbuf_str(&o->body, note, nlen);
    annal_jbuf_putc(&o->body, '}');
    free(rec);
    free(note);
}
