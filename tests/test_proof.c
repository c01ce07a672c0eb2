/* Proofs, checkpoints and evidence bundles end to end, through the CLI on a
 * real log, index and checkpoint store: `annal prove` output verifies with
 * annal_merkle_verify_*; `annal verify --against` passes on the log a
 * checkpoint was issued for and fails on a log regenerated with one byte
 * altered (also one forged so carefully that plain `annal verify` passes),
 * a truncated log, a wrong key; `annal export` bundles verify with `annal
 * verify-bundle`, hold no byte of another tenant's events, and every
 * tampering (an altered record, a dropped proof hash, a foreign checkpoint,
 * another tenant's event slipped in with a valid proof) is rejected. */
#include "t.h"
#include "util.h"

#include "index/index.h"
#include "store/checkpoint.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"
#include "store/reader.h"
#include "store/segment.h"

#include <jansson.h>
#include <zstd.h>

#define ORIGIN "example.com/annal-proof-test"
#define N1 400 /* events before the first checkpoint */
#define N2 600 /* events before the second */

static const char *tenants[3] = {"acme", "globex", "initech"};

static char *base;
static char s1[512], s2[512], s3[512], s4[512]; /* stores */
static char vkey[ANNAL_NOTE_VKEY_MAX + 1], vkey_other[ANNAL_NOTE_VKEY_MAX + 1];
static char vkey_file[600];
static annal_note_signer key, other_key; /* other_key: the same name, another key */
static char cp1[600], cp2[600];          /* checkpoint files of s1 at N1 and N2 */
static int ready;                        /* setup succeeded */

/* ---------------------------------------------------------------- helpers */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = malloc(cap + 1);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[n] = 0;
    if (len)
        *len = n;
    return b;
}

static int spit(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(s, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static char *path_in(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", base, name);
    return buf[k];
}

/* Event i of the workload: three tenants that share run, correlation and
 * incident ids; each event carries its tenant's distinctive summary. With
 * alter, event `alter - 1` has one byte of its data changed. */
static void event_json(char *out, size_t cap, unsigned i)
{
    const char *t = tenants[i % 3];
    unsigned run = i / 15, corr = i / 30, inc = i / 45, sec = i % 60, min = (i / 60) % 60, hour = i / 3600;
    char head[256];
    snprintf(head, sizeof(head),
             "\"tenant_id\":\"%s\",\"event_id\":\"ev-%u\",\"occurred_at\":\"2026-10-01T%02u:%02u:%02u.000Z\","
             "\"actor_type\":\"SYSTEM\",\"actor_id\":\"sys\",\"summary\":\"zq-%s-secret-%u\"",
             t, i, hour, min, sec, t, i);
    switch (i % 5) {
    case 0: snprintf(out, cap, "{%s,\"event_type\":\"RunStarted\",\"run_id\":\"run-%u\"}", head, run); break;
    case 1:
        snprintf(out, cap,
                 "{%s,\"event_type\":\"CostRecorded\",\"run_id\":\"run-%u\",\"data\":{\"model\":\"m-%s\","
                 "\"input_tokens\":%u,\"output_tokens\":%u,\"cost_cents\":%u}}",
                 head, run, t, 100 + i, 10 + i % 7, 1 + i % 13);
        break;
    case 2: snprintf(out, cap, "{%s,\"event_type\":\"RunCompleted\",\"run_id\":\"run-%u\"}", head, run); break;
    case 3:
        snprintf(out, cap,
                 "{%s,\"event_type\":\"billing.invoice.created\",\"correlation_id\":\"corr-%u\","
                 "\"data\":{\"amount_cents\":%u}}",
                 head, corr, 500 + i);
        break;
    default:
        snprintf(out, cap,
                 "{%s,\"event_type\":\"IncidentCreated\",\"incident_id\":\"inc-%u\",\"correlation_id\":\"corr-%u\","
                 "\"data\":{\"severity\":\"LOW\",\"source\":\"MANUAL\"}}",
                 head, inc, corr);
    }
}

/* Append events [from, to) to the store dir with the CLI; `alter` (0: none)
 * is 1 + the event whose summary gets one byte changed. */
static int append_events(const char *dir, unsigned from, unsigned to, unsigned alter)
{
    char *in = path_in("in.ndjson");
    FILE *f = fopen(in, "w");
    if (!f)
        return -1;
    for (unsigned i = from; i < to; i++) {
        char ev[1024];
        event_json(ev, sizeof(ev), i);
        if (alter && i == alter - 1) {
            char *p = strstr(ev, "-secret-");
            p[1] = 'X'; /* "-secret-" -> "-Xecret-": still a valid event */
        }
        fprintf(f, "%s\n", ev);
    }
    fclose(f);
    char *out = NULL;
    int st = tu_run(&out, "%s append --data %s %s 2>&1", tu_annal(), dir, in);
    char want[64];
    snprintf(want, sizeof(want), "appended %u events", to - from);
    int ok = st == 0 && strstr(out, want) && !strstr(out, "derived");
    if (!ok)
        fprintf(stderr, "append to %s: %d %s\n", dir, st, out);
    free(out);
    return ok ? 0 : -1;
}

static int consistent(void *ctx, uint64_t old_size, const unsigned char old_root[32], uint64_t new_size,
                      const unsigned char new_root[32])
{
    unsigned char proof[ANNAL_MERKLE_MAX_PROOF][32];
    size_t n;
    int rc = annal_index_consistency(ctx, old_size, new_size, proof, &n);
    return rc ? rc : annal_merkle_verify_consistency(old_size, new_size, old_root, new_root,
                                                     (const unsigned char(*)[32])proof, n);
}

/* Issue (and save) the checkpoint of everything in dir, signed by k; its
 * file name into file (may be NULL). 0 or -1. */
static int issue(const char *dir, const annal_note_signer *k, char *file, size_t cap)
{
    char err[512];
    annal_index *ix;
    uint64_t applied;
    unsigned char root[32];
    if (annal_index_open(dir, NULL, &ix, err, sizeof(err))) {
        fprintf(stderr, "issue: %s\n", err);
        return -1;
    }
    int rc = annal_index_catch_up(ix, NULL, NULL, &applied);
    if (!rc)
        rc = annal_index_tree_root(ix, applied, root);
    if (!rc)
        rc = annal_checkpoint_issue(dir, k, ORIGIN, applied, root, consistent, ix, NULL, NULL, err, sizeof(err));
    annal_index_close(ix);
    if (rc) {
        fprintf(stderr, "issue: %s: %s\n", annal_strerror(rc), err);
        return -1;
    }
    if (file) {
        char name[ANNAL_CHECKPOINT_NAME_LEN + 1];
        annal_checkpoint_name(applied, name);
        snprintf(file, cap, "%s/" ANNAL_CHECKPOINT_DIR "/%s", dir, name);
    }
    return 0;
}

/* Parse the (unverified) checkpoint note in path. */
static int read_checkpoint(const char *path, annal_checkpoint *cp)
{
    size_t len, tlen;
    char *note = slurp(path, &len);
    int rc = !note || annal_note_split(note, len, &tlen, NULL, 0) || annal_checkpoint_parse(note, tlen, cp, NULL, 0);
    cp->ext = NULL;
    free(note);
    return rc ? -1 : 0;
}

static int hex_decode(const char *s, unsigned char out[32])
{
    if (!s || strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* Run a CLI command; its stdout parsed as JSON into *j (NULL when it is not). */
static int run_json(json_t **j, const char *fmt, const char *a, const char *b, const char *c)
{
    char *out;
    int st = tu_run(&out, fmt, tu_annal(), a, b, c);
    *j = json_loads(out, JSON_REJECT_DUPLICATES, NULL);
    free(out);
    return st;
}

/* The record with seq `seq` of store dir: malloc'd copy. */
static char *record_of(const char *dir, uint64_t seq, size_t *len)
{
    annal_reader *r;
    const char *rec;
    if (annal_reader_open(dir, &r))
        return NULL;
    char *copy = NULL;
    if (annal_reader_get(r, seq, &rec, len) == 0 && (copy = malloc(*len + 1))) {
        memcpy(copy, rec, *len);
        copy[*len] = 0;
    }
    annal_reader_close(r);
    return copy;
}

/* ---------------------------------------------------------------- setup */

static void setup(void)
{
    unsigned char seed[32], seed2[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (unsigned char)(0x40 + i);
        seed2[i] = (unsigned char)(0x90 + i);
    }
    CHECK(annal_note_signer_from_seed(ORIGIN, seed, &key) == 0);
    CHECK(annal_note_signer_from_seed(ORIGIN, seed2, &other_key) == 0);
    CHECK(annal_note_verifier_string(&key.vk, vkey, sizeof(vkey)) == 0);
    CHECK(annal_note_verifier_string(&other_key.vk, vkey_other, sizeof(vkey_other)) == 0);
    snprintf(vkey_file, sizeof(vkey_file), "%s/annal.vkey", base);
    char line[ANNAL_NOTE_VKEY_MAX + 2];
    snprintf(line, sizeof(line), "%s\n", vkey);
    CHECK(spit(vkey_file, line, strlen(line)) == 0);

    snprintf(s1, sizeof(s1), "%s/s1", base);
    snprintf(s2, sizeof(s2), "%s/s2", base);
    snprintf(s3, sizeof(s3), "%s/s3", base);
    snprintf(s4, sizeof(s4), "%s/s4", base);
    /* s1: the log; checkpoints at N1 and N2. */
    CHECK(append_events(s1, 0, N1, 0) == 0);
    CHECK(issue(s1, &key, cp1, sizeof(cp1)) == 0);
    CHECK(append_events(s1, N1, N2, 0) == 0);
    CHECK(issue(s1, &key, cp2, sizeof(cp2)) == 0);
    annal_checkpoint a, b;
    CHECK(read_checkpoint(cp1, &a) == 0 && a.size == N1);
    CHECK(read_checkpoint(cp2, &b) == 0 && b.size == N2);
    /* s2: the same events regenerated from scratch, event 123's summary
     * altered by one byte; the same count. */
    CHECK(append_events(s2, 0, N2, 124) == 0);
    /* s4: only the first half (a log cut short and regenerated). */
    CHECK(append_events(s4, 0, N1 / 2, 0) == 0);
    ready = 1;
}

/* ---------------------------------------------------------------- prove */

static void prove_inclusion_verifies_against_the_checkpoint_root(void)
{
    CHECK(ready);
    annal_checkpoint c1, c2;
    CHECK(read_checkpoint(cp1, &c1) == 0 && read_checkpoint(cp2, &c2) == 0);
    uint64_t seqs[] = {1, 2, 3, 64, 123, 255, 256, 257, N1 - 1, N1, N1 + 1, N2 - 1, N2};
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        for (int with_size = 0; with_size < 2; with_size++) {
            if (with_size && seqs[i] > N1)
                continue;
            char seq[32];
            snprintf(seq, sizeof(seq), "%llu", (unsigned long long)seqs[i]);
            json_t *j;
            int st = run_json(&j, with_size ? "%s prove inclusion --data %s %s --size %s"
                                            : "%s prove inclusion --data %s %s%s",
                              s1, seq, with_size ? "400" : "");
            CHECKF(st == 0 && j, "seq %s: exit %d", seq, st);
            uint64_t size = with_size ? N1 : N2; /* default: the latest checkpoint, N2 */
            const annal_checkpoint *cp = with_size ? &c1 : &c2;
            unsigned char leaf[32], root[32], proof[ANNAL_MERKLE_MAX_PROOF][32], want_leaf[32];
            json_t *p = json_object_get(j, "proof");
            CHECK(json_integer_value(json_object_get(j, "seq")) == (json_int_t)seqs[i]);
            CHECK(json_integer_value(json_object_get(j, "leaf_index")) == (json_int_t)seqs[i] - 1);
            CHECK(json_integer_value(json_object_get(j, "tree_size")) == (json_int_t)size);
            CHECK(hex_decode(json_string_value(json_object_get(j, "leaf_hash")), leaf) == 0);
            CHECK(hex_decode(json_string_value(json_object_get(j, "root")), root) == 0);
            CHECK(memcmp(root, cp->root, 32) == 0);
            char b64[45];
            b64[annal_base64_encode(root, 32, b64)] = 0;
            CHECK(!strcmp(json_string_value(json_object_get(j, "root_base64")), b64));
            /* The checkpoint of that size is included, exactly as saved. */
            char *saved = slurp(with_size ? cp1 : cp2, NULL);
            CHECK(saved && json_is_string(json_object_get(j, "checkpoint")) &&
                  !strcmp(json_string_value(json_object_get(j, "checkpoint")), saved));
            free(saved);
            size_t len, n = json_array_size(p);
            char *rec = record_of(s1, seqs[i], &len);
            CHECK(rec);
            annal_leaf_hash(rec, len, want_leaf);
            free(rec);
            CHECK(memcmp(leaf, want_leaf, 32) == 0);
            CHECK(n <= ANNAL_MERKLE_MAX_PROOF);
            for (size_t k = 0; k < n; k++)
                CHECK(hex_decode(json_string_value(json_array_get(p, k)), proof[k]) == 0);
            CHECK(annal_merkle_verify_inclusion(seqs[i] - 1, size, leaf, (const unsigned char(*)[32])proof, n,
                                                root) == 0);
            /* One changed proof byte fails. */
            if (n) {
                proof[n / 2][7] ^= 0x10;
                CHECK(annal_merkle_verify_inclusion(seqs[i] - 1, size, leaf, (const unsigned char(*)[32])proof, n,
                                                    root) != 0);
            }
            json_decref(j);
        }
    }
    /* A size with no checkpoint saved gives "checkpoint": null. */
    json_t *j;
    CHECK(run_json(&j, "%s prove inclusion --data %s %s --size %s", s1, "5", "77") == 0 && j);
    CHECK(json_is_null(json_object_get(j, "checkpoint")) && json_integer_value(json_object_get(j, "tree_size")) == 77);
    json_decref(j);
}

static void prove_consistency_verifies_between_checkpoints_and_any_sizes(void)
{
    CHECK(ready);
    annal_checkpoint c1, c2;
    CHECK(read_checkpoint(cp1, &c1) == 0 && read_checkpoint(cp2, &c2) == 0);
    uint64_t pairs[][2] = {{N1, N2}, {1, 1}, {1, 2}, {3, 7}, {7, 8}, {64, 65}, {100, 256}, {255, 512},
                           {N2, N2}, {1, N2}, {333, 599}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "%llu", (unsigned long long)pairs[i][0]);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)pairs[i][1]);
        json_t *j;
        int st = run_json(&j, "%s prove consistency --data %s %s %s", s1, a, b);
        CHECKF(st == 0 && j, "%s %s: exit %d", a, b, st);
        unsigned char r1[32], r2[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
        CHECK(json_integer_value(json_object_get(j, "from_size")) == (json_int_t)pairs[i][0]);
        CHECK(json_integer_value(json_object_get(j, "to_size")) == (json_int_t)pairs[i][1]);
        CHECK(hex_decode(json_string_value(json_object_get(j, "from_root")), r1) == 0);
        CHECK(hex_decode(json_string_value(json_object_get(j, "to_root")), r2) == 0);
        if (pairs[i][0] == N1)
            CHECK(memcmp(r1, c1.root, 32) == 0);
        if (pairs[i][1] == N2)
            CHECK(memcmp(r2, c2.root, 32) == 0 && json_is_string(json_object_get(j, "checkpoint")));
        json_t *p = json_object_get(j, "proof");
        size_t n = json_array_size(p);
        CHECK(n <= ANNAL_MERKLE_MAX_PROOF);
        for (size_t k = 0; k < n; k++)
            CHECK(hex_decode(json_string_value(json_array_get(p, k)), proof[k]) == 0);
        CHECKF(annal_merkle_verify_consistency(pairs[i][0], pairs[i][1], r1, r2, (const unsigned char(*)[32])proof,
                                               n) == 0, "%s %s", a, b);
        if (n) {
            proof[0][0] ^= 1;
            CHECK(annal_merkle_verify_consistency(pairs[i][0], pairs[i][1], r1, r2,
                                                  (const unsigned char(*)[32])proof, n) != 0);
        }
        json_decref(j);
    }
}

static void prove_refuses_sizes_out_of_range(void)
{
    CHECK(ready);
    const char *bad[] = {
        "prove inclusion --data %s 0",          "prove inclusion --data %s 601",
        "prove inclusion --data %s 50 --size 49", "prove inclusion --data %s 5 --size 601",
        "prove inclusion --data %s x",          "prove inclusion --data %s",
        "prove consistency --data %s 0 5",      "prove consistency --data %s 6 5",
        "prove consistency --data %s 5 601",    "prove consistency --data %s 5",
        "prove sideways --data %s 1",           "prove inclusion --data %s/nope 1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char cmd[256], *err;
        snprintf(cmd, sizeof(cmd), bad[i], s1);
        int st = tu_run(&err, "%s %s 2>&1", tu_annal(), cmd);
        CHECKF(st == 2 && strstr(err, "annal prove"), "%s: exit %d: %s", cmd, st, err);
        free(err);
    }
    char *out;
    CHECK(tu_run(&out, "%s prove --help", tu_annal()) == 0 && strstr(out, "usage: annal prove"));
    free(out);
}

/* ---------------------------------------------------------------- verify --against */

static void verify_against_passes_on_the_log_that_was_checkpointed(void)
{
    CHECK(ready);
    char *out;
    int st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s1, cp1, vkey);
    CHECKF(st == 0 && strstr(out, "ok: the log extends the checkpoint") && strstr(out, "log now: size 600"),
           "%d %s", st, out);
    free(out);
    /* The key from a file; the latest checkpoint (size equal to the log). */
    st = tu_run(&out, "%s verify --data %s --against %s --key %s", tu_annal(), s1, cp2, vkey_file);
    CHECKF(st == 0 && strstr(out, "ok: the log extends the checkpoint") && strstr(out, "holds 0 events after"),
           "%d %s", st, out);
    free(out);
    /* The signer key file of annal keygen (its public half is used). */
    char skey[ANNAL_NOTE_SKEY_MAX + 2], *skey_file = path_in("annal.key");
    CHECK(annal_note_signer_string(&key, skey, sizeof(skey) - 1) == 0);
    strcat(skey, "\n");
    CHECK(spit(skey_file, skey, strlen(skey)) == 0);
    st = tu_run(&out, "%s verify --data %s --against %s --key %s", tu_annal(), s1, cp1, skey_file);
    CHECKF(st == 0 && strstr(out, "ok: the log extends the checkpoint"), "%d %s", st, out);
    free(out);
    /* Without --against: unchanged. */
    st = tu_run(&out, "%s verify --data %s", tu_annal(), s1);
    CHECK(st == 0 && strstr(out, "ok: 600 events") && !strstr(out, "checkpoint"));
    free(out);
}

static void a_log_regenerated_with_one_byte_altered_fails_verify_against(void)
{
    CHECK(ready);
    char *out;
    /* On its own, s2 is a perfectly valid log of the same number of events. */
    CHECK(tu_run(&out, "%s verify --data %s", tu_annal(), s2) == 0 && strstr(out, "ok: 600 events"));
    free(out);
    for (int k = 0; k < 2; k++) {
        int st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s2, k ? cp2 : cp1, vkey);
        CHECKF(st == 1 && strstr(out, "FAILED: root mismatch") && strstr(out, "rewritten"), "%d %s", st, out);
        free(out);
    }
}

/* Write the records recs[0..n) as a valid one-segment log in dir: what a
 * careful forger with write access does (every check and chain fixed). */
static int forge_log(const char *dir, char **recs, size_t *lens, size_t n)
{
    if (mkdir(dir, 0755))
        return -1;
    size_t raw_len = 0;
    for (size_t i = 0; i < n; i++)
        raw_len += lens[i] + 1;
    char *raw = malloc(raw_len);
    unsigned char chain[32] = {0}, leaf[32];
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(raw + off, recs[i], lens[i]);
        raw[off + lens[i]] = '\n';
        off += lens[i] + 1;
        annal_leaf_hash(recs[i], lens[i], leaf);
        annal_chain_next(chain, leaf, chain);
    }
    size_t cap = ZSTD_compressBound(raw_len);
    unsigned char *frame = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t flen = ZSTD_compress2(cc, frame, cap, raw, raw_len);
    ZSTD_freeCCtx(cc);
    free(raw);
    if (ZSTD_isError(flen)) {
        free(frame);
        return -1;
    }
    annal_seg_header h = {.first_seq = 1, .created_ns = 1};
    annal_block_header bh = {.count = (uint32_t)n, .first_seq = 1, .raw_len = (uint32_t)raw_len,
                             .frame_len = (uint32_t)flen};
    memcpy(bh.chain_end, chain, 32);
    unsigned char sum[32];
    annal_sha256_2(frame, flen, NULL, 0, sum);
    memcpy(bh.frame_check, sum, 8);
    unsigned char hb[ANNAL_SEG_HEADER_SIZE], bb[ANNAL_BLOCK_HEADER_SIZE];
    annal_seg_header_encode(&h, hb);
    annal_block_header_encode(&bh, bb);
    char name[ANNAL_SEG_NAME_LEN + 1], path[700];
    annal_seg_name(1, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(hb, 1, sizeof(hb), f) == sizeof(hb) && fwrite(bb, 1, sizeof(bb), f) == sizeof(bb) &&
             fwrite(frame, 1, flen, f) == flen;
    if (f && fclose(f))
        ok = 0;
    free(frame);
    return ok ? 0 : -1;
}

static void a_careful_forgery_passes_verify_but_not_verify_against(void)
{
    CHECK(ready);
    /* The records of s1, exactly, with one byte of event 123's data changed. */
    char *recs[N2];
    size_t lens[N2];
    for (size_t i = 0; i < N2; i++) {
        recs[i] = record_of(s1, i + 1, &lens[i]);
        CHECK(recs[i]);
    }
    char *p = strstr(recs[122], "-secret-");
    CHECK(p);
    p[1] = 'S';
    int rc = forge_log(s3, recs, lens, N2);
    for (size_t i = 0; i < N2; i++)
        free(recs[i]);
    CHECK(rc == 0);
    char *out;
    int st = tu_run(&out, "%s verify --data %s", tu_annal(), s3);
    CHECKF(st == 0 && strstr(out, "ok: 600 events"), "the forgery should pass plain verify: %d %s", st, out);
    free(out);
    st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s3, cp2, vkey);
    CHECKF(st == 1 && strstr(out, "FAILED: root mismatch"), "%d %s", st, out);
    free(out);
    /* Only record 123 differs, but the checkpoint of N1 covers it. */
    st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s3, cp1, vkey);
    CHECKF(st == 1 && strstr(out, "FAILED: root mismatch"), "%d %s", st, out);
    free(out);
}

static void a_shorter_log_a_wrong_key_or_a_damaged_checkpoint_fail(void)
{
    CHECK(ready);
    char *out;
    int st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s4, cp1, vkey);
    CHECKF(st == 1 && strstr(out, "FAILED: size") && strstr(out, "holds only 200"), "%d %s", st, out);
    free(out);
    /* Another key of the same name: no signature of a known key. */
    st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s1, cp1, vkey_other);
    CHECKF(st == 1 && strstr(out, "FAILED: checkpoint") && strstr(out, "signature"), "%d %s", st, out);
    free(out);
    /* One changed byte of the body (the size line): the signature fails. */
    size_t len;
    char *note = slurp(cp1, &len), *bad = path_in("bad.note");
    char *nl = strchr(note, '\n');
    CHECK(nl && nl[1] == '4');
    nl[1] = '3'; /* 400 -> 300 */
    CHECK(spit(bad, note, len) == 0);
    free(note);
    st = tu_run(&out, "%s verify --data %s --against %s --key '%s'", tu_annal(), s1, bad, vkey);
    CHECKF(st == 1 && strstr(out, "signature"), "%d %s", st, out);
    free(out);
    /* Usage errors: a malformed key, --against without --key, an unreadable file. */
    CHECK(tu_run(NULL, "%s verify --data %s --against %s --key 'x+y+z' 2>/dev/null", tu_annal(), s1, cp1) == 2);
    CHECK(tu_run(NULL, "%s verify --data %s --against %s 2>/dev/null", tu_annal(), s1, cp1) == 2);
    CHECK(tu_run(NULL, "%s verify --data %s --against %s/nope --key '%s' 2>/dev/null", tu_annal(), s1, base, vkey) ==
          2);
    CHECK(tu_run(NULL, "%s verify --data %s --key '%s' 2>/dev/null", tu_annal(), s1, vkey) == 2);
}

/* ---------------------------------------------------------------- bundles */

static int export(const char *dir, const char *tenant, const char *sel, const char *out, char **msg)
{
    return tu_run(msg, "%s export --data %s --tenant %s %s -o %s 2>&1", tu_annal(), dir, tenant, sel, out);
}

static int verify_bundle(const char *file, const char *k, char **out)
{
    return tu_run(out, "%s verify-bundle %s --key '%s' 2>&1", tu_annal(), file, k);
}

/* The number of events of tenant t that `annal query` lists for sel. */
static size_t query_count(const char *t, const char *what, const char *sel)
{
    char *out;
    if (tu_run(&out, "%s query --data %s %s --tenant %s %s --limit 10000", tu_annal(), s1, what, t, sel) != 0)
        return (size_t)-1;
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    size_t n = json_array_size(json_object_get(j, "events"));
    json_decref(j);
    return n;
}

static void good_bundles_verify_and_hold_only_their_tenants_events(void)
{
    CHECK(ready);
    struct {
        const char *sel, *what, *qsel;
    } sels[] = {
        {"--run run-7", "run", "--id run-7"},
        {"--incident inc-3", "incident", "--id inc-3"},
        {"--correlation corr-11", "correlation", "--id corr-11"},
        {"--from 2026-10-01T00:01:00Z --to 2026-10-01T00:03:30Z", "timeline",
         "--from 2026-10-01T00:01:00Z --to 2026-10-01T00:03:30Z"},
        {"--from 2026-10-01T00:00:00Z", "timeline", "--from 2026-10-01T00:00:00Z"},
    };
    for (size_t t = 0; t < 3; t++) {
        for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
            char *file = path_in("b.json"), *msg;
            int st = export(s1, tenants[t], sels[i].sel, file, &msg);
            CHECKF(st == 0 && strstr(msg, "exported"), "%s %s: %d %s", tenants[t], sels[i].sel, st, msg);
            free(msg);
            st = verify_bundle(file, vkey, &msg);
            char want[128];
            size_t n = query_count(tenants[t], sels[i].what, sels[i].qsel);
            snprintf(want, sizeof(want), "ok: %zu events of tenant %s verified", n, tenants[t]);
            CHECKF(st == 0 && n > 0 && strstr(msg, want) && strstr(msg, "tree size 600"), "%s %s: %d %s (%s)",
                   tenants[t], sels[i].sel, st, msg, want);
            free(msg);
            /* The key from a file works too. */
            CHECK(verify_bundle(file, vkey_file, NULL) == 0);
            /* No byte of another tenant's events: neither their ids nor their
             * distinctive strings appear anywhere in the file. */
            size_t len;
            char *b = slurp(file, &len);
            CHECK(b && strlen(b) == len);
            for (size_t o = 0; o < 3; o++) {
                if (o == t)
                    continue;
                char secret[64];
                snprintf(secret, sizeof(secret), "zq-%s-secret", tenants[o]);
                CHECKF(!strstr(b, tenants[o]) && !strstr(b, secret), "%s's bundle mentions %s", tenants[t],
                       tenants[o]);
            }
            char own[64];
            snprintf(own, sizeof(own), "zq-%s-secret", tenants[t]);
            CHECK(strstr(b, own));
            /* Every record in it is its tenant's. */
            json_t *j = json_loads(b, JSON_REJECT_DUPLICATES, NULL);
            free(b);
            CHECK(j && json_array_size(json_object_get(j, "events")) == n);
            for (size_t e = 0; e < n; e++) {
                const char *rec = json_string_value(json_object_get(json_array_get(json_object_get(j, "events"), e),
                                                                    "record"));
                char tid[64];
                snprintf(tid, sizeof(tid), "\"tenant_id\":\"%s\"", tenants[t]);
                CHECK(rec && strstr(rec, tid));
            }
            json_decref(j);
        }
    }
}

/* Load a bundle, let fn change it, write it to out. */
static int tamper(const char *in, const char *out, void (*fn)(json_t *, void *), void *ctx)
{
    json_t *j = json_load_file(in, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return -1;
    fn(j, ctx);
    int rc = json_dump_file(j, out, JSON_COMPACT);
    json_decref(j);
    return rc;
}

static json_t *event_at(json_t *j, size_t i)
{
    return json_array_get(json_object_get(j, "events"), i);
}

static void alter_record_byte(json_t *j, void *ctx)
{
    (void)ctx;
    json_t *e = event_at(j, 1);
    char *rec = strdup(json_string_value(json_object_get(e, "record")));
    char *p = strstr(rec, "-secret-");
    p[1] = 'S'; /* still a valid record of the tenant, one byte different */
    json_object_set_new(e, "record", json_string(rec));
    free(rec);
}

static void drop_proof_hash(json_t *j, void *ctx)
{
    (void)ctx;
    json_t *p = json_object_get(event_at(j, 0), "proof");
    json_array_remove(p, json_array_size(p) - 1);
}

static void set_checkpoint(json_t *j, void *ctx)
{
    json_object_set_new(j, "checkpoint", json_string(ctx));
}

/* Insert ctx (an event entry of another bundle) in seq order. */
static void slip_in(json_t *j, void *ctx)
{
    json_t *ev = json_object_get(j, "events"), *foreign = ctx;
    json_int_t s = json_integer_value(json_object_get(foreign, "seq"));
    size_t i = 0;
    while (i < json_array_size(ev) && json_integer_value(json_object_get(json_array_get(ev, i), "seq")) < s)
        i++;
    json_array_insert(ev, i, foreign);
}

static void set_tenant(json_t *j, void *ctx)
{
    json_object_set_new(j, "tenant_id", json_string(ctx));
}

static void set_selection_run(json_t *j, void *ctx)
{
    json_object_set_new(j, "selection", json_pack("{s:s}", "run_id", (const char *)ctx));
}

static void swap_events(json_t *j, void *ctx)
{
    (void)ctx;
    json_t *ev = json_object_get(j, "events"), *first = json_incref(json_array_get(ev, 0));
    json_array_remove(ev, 0);
    json_array_append_new(ev, first);
}

static void tampered_bundles_are_rejected(void)
{
    CHECK(ready);
    char *good = path_in("good.json"), *other = path_in("other.json"), *bad = path_in("bad.json"), *msg;
    CHECK(export(s1, "acme", "--run run-7", good, NULL) == 0);
    CHECK(export(s1, "globex", "--run run-7", other, NULL) == 0);
    CHECK(verify_bundle(good, vkey, NULL) == 0 && verify_bundle(other, vkey, NULL) == 0);

    /* An altered event: one byte of one record. */
    CHECK(tamper(good, bad, alter_record_byte, NULL) == 0);
    int st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: event 2 (seq") && strstr(msg, "inclusion proof"), "%d %s", st, msg);
    free(msg);
    /* A dropped proof hash. */
    CHECK(tamper(good, bad, drop_proof_hash, NULL) == 0);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: event 1 (seq") && strstr(msg, "inclusion proof"), "%d %s", st, msg);
    free(msg);
    /* Events out of order (or twice). */
    CHECK(tamper(good, bad, swap_events, NULL) == 0);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "ascending"), "%d %s", st, msg);
    free(msg);

    /* A foreign checkpoint: the same tree signed by another key... */
    annal_checkpoint c2;
    CHECK(read_checkpoint(cp2, &c2) == 0);
    char *fnote;
    size_t flen;
    CHECK(annal_checkpoint_sign(&c2, &other_key, &fnote, &flen) == 0);
    CHECK(tamper(good, bad, set_checkpoint, fnote) == 0);
    free(fnote);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: checkpoint"), "%d %s", st, msg);
    free(msg);
    /* ... and the checkpoint of another store (the regenerated s2), signed by
     * the right key: the signature verifies, the proofs do not. */
    char s2cp[700];
    CHECK(issue(s2, &key, s2cp, sizeof(s2cp)) == 0);
    size_t len;
    char *note2 = slurp(s2cp, &len);
    CHECK(note2);
    CHECK(tamper(good, bad, set_checkpoint, note2) == 0);
    free(note2);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: event 1 (seq") && strstr(msg, "inclusion proof") &&
               !strstr(msg, "FAILED: checkpoint"), "%d %s", st, msg);
    free(msg);
    /* ... and export refuses to prove against it. */
    st = tu_run(&msg, "%s export --data %s --tenant acme --run run-7 --checkpoint %s -o %s 2>&1", tu_annal(), s1,
                s2cp, bad);
    CHECKF(st == 1 && strstr(msg, "not the root of this log"), "%d %s", st, msg);
    free(msg);

    /* Another tenant's event slipped in, with its valid proof. */
    json_t *o = json_load_file(other, 0, NULL);
    CHECK(o);
    json_t *foreign = json_incref(event_at(o, 2));
    json_decref(o);
    CHECK(tamper(good, bad, slip_in, foreign) == 0);
    json_decref(foreign);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "another tenant (globex)") && strstr(msg, "FAILED: 1 of"), "%d %s", st, msg);
    free(msg);
    /* Relabelling the bundle as the other tenant's fails every event. */
    CHECK(tamper(good, bad, set_tenant, "globex") == 0);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "another tenant"), "%d %s", st, msg);
    free(msg);
    /* A selection its events are not in. */
    CHECK(tamper(good, bad, set_selection_run, "run-8") == 0);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "not in the selection"), "%d %s", st, msg);
    free(msg);

    /* A wrong key; a bundle that is not JSON, or has a duplicate member. */
    st = verify_bundle(good, vkey_other, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: checkpoint"), "%d %s", st, msg);
    free(msg);
    char *b = slurp(good, &len);
    CHECK(b);
    CHECK(spit(bad, b, len / 2) == 0);
    CHECK(verify_bundle(bad, vkey, NULL) == 1);
    char *dup = NULL;
    CHECK(asprintf(&dup, "{\"format\":\"x\",%s", b + 1) > 0);
    CHECK(spit(bad, dup, strlen(dup)) == 0);
    free(dup);
    free(b);
    st = verify_bundle(bad, vkey, &msg);
    CHECKF(st == 1 && strstr(msg, "not a JSON document"), "%d %s", st, msg);
    free(msg);
    /* Usage: no key, an unreadable file, a malformed key. */
    CHECK(tu_run(NULL, "%s verify-bundle %s 2>/dev/null", tu_annal(), good) == 2);
    CHECK(tu_run(NULL, "%s verify-bundle %s/nope --key '%s' 2>/dev/null", tu_annal(), base, vkey) == 2);
    CHECK(tu_run(NULL, "%s verify-bundle %s --key nokey 2>/dev/null", tu_annal(), good) == 2);
}

static void export_needs_a_checkpoint_that_covers_the_selection(void)
{
    CHECK(ready);
    char *out = path_in("late.json"), *msg;
    /* Against the older checkpoint (400 events), run-30's events (450..464) are not covered. */
    int st = tu_run(&msg, "%s export --data %s --tenant acme --run run-30 --checkpoint %s -o %s 2>&1", tu_annal(), s1,
                    cp1, out);
    CHECKF(st == 2 && strstr(msg, "issue a newer checkpoint") && tu_file_size(out) < 0, "%d %s", st, msg);
    free(msg);
    /* run-3's are, and that bundle verifies at tree size 400. */
    st = tu_run(&msg, "%s export --data %s --tenant acme --run run-3 --checkpoint %s -o %s 2>&1", tu_annal(), s1, cp1,
                out);
    CHECKF(st == 0, "%d %s", st, msg);
    free(msg);
    st = verify_bundle(out, vkey, &msg);
    CHECKF(st == 0 && strstr(msg, "tree size 400"), "%d %s", st, msg);
    free(msg);
    /* Nothing selected: nothing written. */
    st = export(s1, "acme", "--run no-such-run", path_in("none.json"), &msg);
    CHECKF(st == 1 && strstr(msg, "no events") && tu_file_size(path_in("none.json")) < 0, "%d %s", st, msg);
    free(msg);
    /* Usage errors. */
    CHECK(export(s1, "acme", "", out, NULL) == 2);
    CHECK(export(s1, "acme", "--run a --incident b", out, NULL) == 2);
    CHECK(export(s1, "acme", "--from 2026-10-02T00:00:00Z --to 2026-10-01T00:00:00Z", out, NULL) == 2);
    CHECK(export(s1, "bad,tenant", "--run run-1", out, NULL) == 2);
    /* A store with no checkpoint at all. */
    st = export(s4, "acme", "--run run-1", out, &msg);
    CHECKF(st == 2 && strstr(msg, "no checkpoint"), "%d %s", st, msg);
    free(msg);
    /* Events appended after the latest checkpoint: export asks for a newer one,
     * and once it is issued the bundle covers them. */
    CHECK(append_events(s1, N2, N2 + 30, 0) == 0); /* run-40, run-41: seqs 601..630 */
    st = export(s1, "initech", "--run run-41", out, &msg);
    CHECKF(st == 2 && strstr(msg, "issue a newer checkpoint"), "%d %s", st, msg);
    free(msg);
    CHECK(issue(s1, &key, NULL, 0) == 0);
    CHECK(export(s1, "initech", "--run run-41", out, NULL) == 0);
    st = verify_bundle(out, vkey, &msg);
    CHECKF(st == 0 && strstr(msg, "tree size 630"), "%d %s", st, msg);
    free(msg);
    /* The log still extends both older checkpoints. */
    CHECK(tu_run(NULL, "%s verify --data %s --against %s --key '%s'", tu_annal(), s1, cp1, vkey) == 0);
    CHECK(tu_run(NULL, "%s verify --data %s --against %s --key '%s'", tu_annal(), s1, cp2, vkey) == 0);
}

/* ---------------------------------------------------------------- the FORMAT.md example */

/* store/FORMAT.md §8: the bundle of the §6 records under the §7.5 checkpoint. */
static const char example_bundle[] =
    "{\"format\":\"annal-evidence-bundle/1\",\n"
    "\"tenant_id\":\"acme\",\n"
    "\"selection\":{\"run_id\":\"run-1\"},\n"
    "\"key_name\":\"example.com/annal\",\n"
    "\"checkpoint\":\"example.com/annal\\n3\\nONO3A7TT4wuVZ861qL8NpicQC03SAOqCN4uDGDCN9hk=\\n\\n\xe2\x80\x94 example.com/annal 423WTDw3NMwBHJ5A4en/hBp18cwaF55ltw0PJRrWhF6eJXSGzaCoNZAzEZvKX2IXj5m3QJB/dIEnMDRhkIlsBK9LZQg=\\n\",\n"
    "\"events\":[\n"
    "{\"seq\":1,\"record\":\"{\\\"seq\\\":1,\\\"recorded_at\\\":\\\"2026-10-01T00:00:00.000000001Z\\\",\\\"tenant_id\\\":\\\"acme\\\",\\\"event_type\\\":\\\"RunStarted\\\",\\\"run_id\\\":\\\"run-1\\\",\\\"data\\\":{\\\"model\\\":\\\"gpt-4o\\\",\\\"feature_tag\\\":\\\"chat\\\"}}\",\"proof\":[\"ec1c1fd37743a028ffc1c94e16b8940b4c02da77e4fcac2dda8b373bc4b2eab2\",\"37848d25e48c96dc918cb5d81841bef0a5216558bc1b4562426cf02c4b0149fd\"]},\n"
    "{\"seq\":2,\"record\":\"{\\\"seq\\\":2,\\\"recorded_at\\\":\\\"2026-10-01T00:00:00.000000002Z\\\",\\\"tenant_id\\\":\\\"acme\\\",\\\"event_type\\\":\\\"CostRecorded\\\",\\\"run_id\\\":\\\"run-1\\\",\\\"api_key_id\\\":\\\"key-1\\\",\\\"data\\\":{\\\"model\\\":\\\"gpt-4o\\\",\\\"input_tokens\\\":1200,\\\"output_tokens\\\":300,\\\"cost_cents\\\":42}}\",\"proof\":[\"303c205f71ff2af61aa4b003070794b2e6e2cb4df3abb8af03795158b8d5aee1\",\"37848d25e48c96dc918cb5d81841bef0a5216558bc1b4562426cf02c4b0149fd\"]}\n"
    "]}\n";
#define EXAMPLE_VKEY "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
#define EXAMPLE_REC3                                                                                          \
    "{\"seq\":3,\"recorded_at\":\"2026-10-01T00:00:01.500000000Z\",\"tenant_id\":\"globex\",\"event_type\":" \
    "\"RunCompleted\",\"run_id\":\"run-1\",\"data\":{\"duration_ms\":1500}}"

static void the_format_md_example_bundle_verifies_and_its_tamperings_fail(void)
{
    /* The example in store/FORMAT.md is this one, byte for byte (when the
     * test runs from the repository, as make test does). */
    size_t len;
    char *doc = slurp("store/FORMAT.md", &len);
    if (doc)
        CHECKF(strstr(doc, example_bundle), "store/FORMAT.md section 8 has another example bundle");
    free(doc);
    char *file = path_in("example.json"), *bad = path_in("example-bad.json"), *msg;
    CHECK(spit(file, example_bundle, strlen(example_bundle)) == 0);
    int st = verify_bundle(file, EXAMPLE_VKEY, &msg);
    CHECKF(st == 0 && strstr(msg, "ok: 2 events of tenant acme verified") && strstr(msg, "tree size 3"), "%d %s",
           st, msg);
    free(msg);
    /* One byte of a record: 42 -> 43 cents. */
    char *b = strdup(example_bundle);
    char *p = strstr(b, "cost_cents\\\":42");
    CHECK(p);
    p[strlen("cost_cents\\\":4")] = '3';
    CHECK(spit(bad, b, strlen(b)) == 0);
    free(b);
    st = verify_bundle(bad, EXAMPLE_VKEY, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: event 2 (seq 2)"), "%d %s", st, msg);
    free(msg);
    /* Record 3 (globex's, with run_id run-1) slipped in with its valid proof
     * [MTH(L(1), L(2))]. */
    json_t *j = json_loads(example_bundle, JSON_REJECT_DUPLICATES, NULL);
    CHECK(j);
    unsigned char l1[32], l2[32], node[32];
    char hex[65];
    CHECK(hex_decode("303c205f71ff2af61aa4b003070794b2e6e2cb4df3abb8af03795158b8d5aee1", l1) == 0);
    CHECK(hex_decode("ec1c1fd37743a028ffc1c94e16b8940b4c02da77e4fcac2dda8b373bc4b2eab2", l2) == 0);
    annal_merkle_node(l1, l2, node);
    annal_hex32(node, hex);
    json_array_append_new(json_object_get(j, "events"),
                          json_pack("{s:i,s:s,s:[s]}", "seq", 3, "record", EXAMPLE_REC3, "proof", hex));
    CHECK(json_dump_file(j, bad, JSON_COMPACT) == 0);
    /* The same entry does verify in a bundle of tenant globex. */
    json_object_set_new(j, "tenant_id", json_string("globex"));
    json_array_remove(json_object_get(j, "events"), 0);
    json_array_remove(json_object_get(j, "events"), 0);
    char *gfile = path_in("example-globex.json");
    CHECK(json_dump_file(j, gfile, JSON_COMPACT) == 0);
    json_decref(j);
    st = verify_bundle(bad, EXAMPLE_VKEY, &msg);
    CHECKF(st == 1 && strstr(msg, "FAILED: event 3 (seq 3): the record is of another tenant (globex)"), "%d %s", st,
           msg);
    free(msg);
    st = verify_bundle(gfile, EXAMPLE_VKEY, &msg);
    CHECKF(st == 0 && strstr(msg, "ok: 1 event of tenant globex"), "%d %s", st, msg);
    free(msg);
}

static void every_new_command_has_help(void)
{
    const char *cmds[] = {"prove", "export", "verify-bundle", "verify"};
    for (size_t i = 0; i < 4; i++) {
        char *out;
        int st = tu_run(&out, "%s %s --help", tu_annal(), cmds[i]);
        CHECKF(st == 0 && strstr(out, "usage: annal"), "%s: %d", cmds[i], st);
        free(out);
    }
}

int main(void)
{
    base = tu_tmpdir("proof");
    T_RUN(setup);
    T_RUN(every_new_command_has_help);
    T_RUN(prove_inclusion_verifies_against_the_checkpoint_root);
    T_RUN(prove_consistency_verifies_between_checkpoints_and_any_sizes);
    T_RUN(prove_refuses_sizes_out_of_range);
    T_RUN(verify_against_passes_on_the_log_that_was_checkpointed);
    T_RUN(a_log_regenerated_with_one_byte_altered_fails_verify_against);
    T_RUN(a_careful_forgery_passes_verify_but_not_verify_against);
    T_RUN(a_shorter_log_a_wrong_key_or_a_damaged_checkpoint_fail);
    T_RUN(good_bundles_verify_and_hold_only_their_tenants_events);
    T_RUN(tampered_bundles_are_rejected);
    T_RUN(export_needs_a_checkpoint_that_covers_the_selection);
    T_RUN(the_format_md_example_bundle_verifies_and_its_tamperings_fail);
    annal_note_signer_clear(&key);
    annal_note_signer_clear(&other_key);
    if (!t_failed)
        tu_rmtree(base);
    free(base);
    return t_done();
}
