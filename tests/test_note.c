/* Signed notes (store/note.h), checkpoint bodies and the checkpoint store
 * (store/checkpoint.h), and the keygen / checkpoint commands: the vectors of
 * store/FORMAT.md "Checkpoints and signed notes", Go's sumdb/note vector,
 * every-byte tampering, C2SP's unknown-key rules, strict parsing, the
 * "never sign two inconsistent checkpoints" rule. */
#include "t.h"
#include "util.h"

#include "store/checkpoint.h"
#include "store/hash.h"
#include "store/note.h"

static char *dir;

#define DASH "\xe2\x80\x94 " /* U+2014 and a space */

/* The vector of store/FORMAT.md: seed 00 01 .. 1f, name example.com/annal,
 * the checkpoint of the 3 records of §6 (root computed independently). */
static const char vec_name[] = "example.com/annal";
static const char vec_vkey[] = "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
static const char vec_skey[] = "PRIVATE+KEY+example.com/annal+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
static const char vec_root_hex[] = "38d3b703b4d3e30b9567ceb5a8bf0da627100b4dd200ea82378b8318308df619";
static const char vec_body[] = "example.com/annal\n"
                               "3\n"
                               "ONO3A7TT4wuVZ861qL8NpicQC03SAOqCN4uDGDCN9hk=\n";
static const char vec_note[] = "example.com/annal\n"
                               "3\n"
                               "ONO3A7TT4wuVZ861qL8NpicQC03SAOqCN4uDGDCN9hk=\n"
                               "\n" DASH "example.com/annal "
                               "423WTDw3NMwBHJ5A4en/hBp18cwaF55ltw0PJRrWhF6eJXSGzaCoNZAzEZvKX2IXj5m3QJB/dIEnMDRhkIlsBK9LZQg=\n";

/* golang.org/x/mod/sumdb/note's documented example (package doc, note_test.go). */
static const char go_skey[] = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char go_vkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char go_text[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n";
static const char go_note[] = "If you think cryptography is the answer to your problem,\n"
                              "then you don't know what your problem is.\n"
                              "\n" DASH "PeterNeumann "
                              "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/* An independent base64 encoder (bit by bit) for the test's own checks. */
static void ref_b64(const unsigned char *in, size_t n, char *out)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t bits = n * 8, o = 0;
    for (size_t b = 0; b < bits; b += 6) {
        unsigned v = 0;
        for (size_t k = 0; k < 6; k++) {
            size_t bit = b + k;
            unsigned x = bit < bits ? (in[bit / 8] >> (7 - bit % 8)) & 1 : 0;
            v = v << 1 | x;
        }
        out[o++] = a[v];
    }
    while (o % 4)
        out[o++] = '=';
    out[o] = 0;
}

static void seed_of(unsigned char seed[32], uint64_t s)
{
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)t_rand(&s);
}

static void signer(annal_note_signer *k, const char *name, uint64_t s)
{
    unsigned char seed[32];
    seed_of(seed, s);
    if (annal_note_signer_from_seed(name, seed, k) != ANNAL_OK)
        abort();
}

static void hex_to(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

/* ---- vectors ---- */

static void the_format_md_vector_is_exact(void)
{
    unsigned char seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)i;
    annal_note_signer k;
    CHECK(annal_note_signer_from_seed(vec_name, seed, &k) == ANNAL_OK);
    char s[ANNAL_NOTE_SKEY_MAX + 1];
    CHECK(annal_note_verifier_string(&k.vk, s, sizeof(s)) == ANNAL_OK);
    CHECKF(!strcmp(s, vec_vkey), "%s", s);
    CHECK(annal_note_signer_string(&k, s, sizeof(s)) == ANNAL_OK);
    CHECKF(!strcmp(s, vec_skey), "%s", s);
    CHECK(k.vk.id == 0xe36dd64cu);

    /* the body is the checkpoint of the FORMAT.md §6 records */
    annal_checkpoint c;
    memset(&c, 0, sizeof(c));
    strcpy(c.origin, vec_name);
    c.size = 3;
    hex_to(vec_root_hex, c.root, 32);
    char body[ANNAL_CHECKPOINT_BODY_MAX + 1];
    size_t bl;
    CHECK(annal_checkpoint_format(&c, body, sizeof(body), &bl) == ANNAL_OK);
    CHECK(bl == strlen(vec_body) && !memcmp(body, vec_body, bl));

    char *note;
    size_t nl;
    CHECK(annal_note_sign(vec_body, strlen(vec_body), &k, 1, &note, &nl) == ANNAL_OK);
    CHECKF(nl == strlen(vec_note) && !strcmp(note, vec_note), "%s", note);
    free(note);
    CHECK(annal_checkpoint_sign(&c, &k, &note, &nl) == ANNAL_OK);
    CHECK(!strcmp(note, vec_note));
    free(note);

    annal_note_verifier v;
    CHECK(annal_note_verifier_parse(vec_vkey, strlen(vec_vkey), &v, NULL, 0) == ANNAL_OK);
    size_t tl;
    CHECK(annal_note_verify(vec_note, strlen(vec_note), &v, 1, &tl, NULL, NULL, 0) == ANNAL_OK);
    CHECK(tl == strlen(vec_body));
    annal_checkpoint o;
    CHECK(annal_checkpoint_open(vec_note, strlen(vec_note), &v, 1, &o, NULL, 0) == ANNAL_OK);
    CHECK(!strcmp(o.origin, vec_name) && o.size == 3 && !memcmp(o.root, c.root, 32) && o.ext_len == 0);

    annal_note_signer p;
    CHECK(annal_note_signer_parse(vec_skey, strlen(vec_skey), &p, NULL, 0) == ANNAL_OK);
    CHECK(!memcmp(p.seed, seed, 32) && !memcmp(&p.vk, &k.vk, sizeof(p.vk)));
    annal_note_signer_clear(&p);
    CHECK(p.seed[0] == 0 && p.seed[31] == 0);
}

/* store/FORMAT.md shows exactly these bytes. */
static void format_md_shows_the_same_vector(void)
{
    char path[4096];
    const char *fz = getenv("FUZZ_DIR"); /* make test sets it to the repository's fuzz/ */
    snprintf(path, sizeof(path), "%s%s", fz ? fz : "", fz ? "/../store/FORMAT.md" : "store/FORMAT.md");
    FILE *f = fopen(path, "rb");
    CHECKF(f, "cannot open %s", path);
    static char doc[1 << 20];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = 0;
    CHECK(strstr(doc, "## 7. Checkpoints and signed notes"));
    CHECK(strstr(doc, vec_vkey) && strstr(doc, vec_skey) && strstr(doc, vec_root_hex));
    CHECK(strstr(doc, "```\n" "example.com/annal\n3\n"));
    CHECK(strstr(doc, vec_note));
}

static void go_sumdb_note_vector_interoperates(void)
{
    annal_note_signer k;
    char e[256];
    CHECKF(annal_note_signer_parse(go_skey, strlen(go_skey), &k, e, sizeof(e)) == ANNAL_OK, "%s", e);
    CHECK(!strcmp(k.vk.name, "PeterNeumann") && k.vk.id == 0xc74f20a3u);
    char s[ANNAL_NOTE_SKEY_MAX + 1];
    CHECK(annal_note_verifier_string(&k.vk, s, sizeof(s)) == ANNAL_OK && !strcmp(s, go_vkey));
    CHECK(annal_note_signer_string(&k, s, sizeof(s)) == ANNAL_OK && !strcmp(s, go_skey));
    char *note;
    size_t nl;
    CHECK(annal_note_sign(go_text, strlen(go_text), &k, 1, &note, &nl) == ANNAL_OK);
    CHECKF(!strcmp(note, go_note), "%s", note);
    free(note);
    annal_note_verifier v;
    CHECK(annal_note_verifier_parse(go_vkey, strlen(go_vkey), &v, NULL, 0) == ANNAL_OK);
    size_t tl;
    CHECK(annal_note_verify(go_note, strlen(go_note), &v, 1, &tl, NULL, NULL, 0) == ANNAL_OK);
    CHECK(tl == strlen(go_text));
}

/* Key ids and key strings recomputed from their definition with the
 * store/hash.h SHA-256 and the test's own base64, for several names and
 * fixed seeds. */
static void key_ids_and_strings_match_their_definition(void)
{
    const char *names[] = {"a", "example.com/log", "log.example/\xc3\xa9t\xc3\xa9", vec_name};
    for (size_t i = 0; i < 4; i++)
        for (uint64_t s = 1; s <= 8; s++) {
            annal_note_signer k;
            unsigned char seed[32];
            seed_of(seed, s * 977 + i);
            CHECK(annal_note_signer_from_seed(names[i], seed, &k) == ANNAL_OK);
            unsigned char buf[34], h[32], raw[33];
            buf[0] = 0x0a;
            buf[1] = 0x01;
            memcpy(buf + 2, k.vk.pub, 32);
            annal_sha256_2(names[i], strlen(names[i]), buf, 34, h);
            uint32_t id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
            CHECK(k.vk.id == id && annal_note_key_id(names[i], k.vk.pub) == id);
            char b64[64], want[600], got[600];
            raw[0] = 0x01;
            memcpy(raw + 1, k.vk.pub, 32);
            ref_b64(raw, 33, b64);
            snprintf(want, sizeof(want), "%s+%02x%02x%02x%02x+%s", names[i], h[0], h[1], h[2], h[3], b64);
            CHECK(annal_note_verifier_string(&k.vk, got, sizeof(got)) == ANNAL_OK);
            CHECKF(!strcmp(got, want), "%s vs %s", got, want);
            memcpy(raw + 1, seed, 32);
            ref_b64(raw, 33, b64);
            snprintf(want, sizeof(want), "PRIVATE+KEY+%s+%02x%02x%02x%02x+%s", names[i], h[0], h[1], h[2], h[3],
                     b64);
            CHECK(annal_note_signer_string(&k, got, sizeof(got)) == ANNAL_OK && !strcmp(got, want));
            /* the strings parse back to the same keys */
            annal_note_verifier v;
            annal_note_signer p;
            CHECK(annal_note_signer_parse(got, strlen(got), &p, NULL, 0) == ANNAL_OK);
            CHECK(!memcmp(&p, &k, sizeof(p)));
            CHECK(annal_note_verifier_string(&k.vk, got, sizeof(got)) == ANNAL_OK);
            CHECK(annal_note_verifier_parse(got, strlen(got), &v, NULL, 0) == ANNAL_OK);
            CHECK(!memcmp(&v, &k.vk, sizeof(v)));
            /* too small a buffer */
            CHECK(annal_note_verifier_string(&k.vk, got, strlen(want) - 12) == ANNAL_EFULL);
        }
    /* the base64 helpers agree with the reference encoder */
    uint64_t st = 5;
    for (size_t n = 0; n < 40; n++) {
        unsigned char in[40], back[40];
        char a[64], b[64];
        for (size_t j = 0; j < n; j++)
            in[j] = (unsigned char)t_rand(&st);
        ref_b64(in, n, a);
        b[annal_base64_encode(in, n, b)] = 0;
        CHECK(!strcmp(a, b));
        CHECK(annal_base64_decode(a, strlen(a), back, sizeof(back)) == (long)n && !memcmp(back, in, n));
    }
    CHECK(annal_base64_decode("QR==", 4, NULL, 0) == -1); /* unused bits set */
    CHECK(annal_base64_decode("QQ==", 4, NULL, 0) == 1);
    CHECK(annal_base64_decode("QUJ=", 4, NULL, 0) == -1);
    CHECK(annal_base64_decode("QUI=", 4, NULL, 0) == 2);
    CHECK(annal_base64_decode("QQ", 2, NULL, 0) == -1);  /* no padding */
    CHECK(annal_base64_decode("Q===", 4, NULL, 0) == -1);
    CHECK(annal_base64_decode("QQ==QQ==", 8, NULL, 0) == -1);
    CHECK(annal_base64_decode("QU I", 4, NULL, 0) == -1);
}

/* ---- signing and verifying ---- */

static void sign_and_verify_round_trip(void)
{
    annal_note_signer k;
    signer(&k, "example.com/rt", 11);
    const char *texts[] = {"a\n", "\n", "two\nlines\n", "with\n\nan empty line\n", "ends in\n\n",
                           "utf-8: \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 and a tab-free line\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
        char *note;
        size_t nl, tl = 0;
        unsigned char ok = 0;
        CHECK(annal_note_sign(texts[i], strlen(texts[i]), &k, 1, &note, &nl) == ANNAL_OK);
        CHECK(nl == strlen(note) && !memcmp(note, texts[i], strlen(texts[i])));
        CHECK(annal_note_verify(note, nl, &k.vk, 1, &tl, &ok, NULL, 0) == ANNAL_OK);
        CHECKF(tl == strlen(texts[i]) && ok == 1, "text %zu: %zu", i, tl);
        CHECK(annal_note_split(note, nl, &tl, NULL, 0) == ANNAL_OK && tl == strlen(texts[i]));
        free(note);
    }
    /* texts that cannot be signed */
    const char *bad[] = {"", "no newline", "ctl \x01\n", "cr\r\n", "tab\t\n", "bad utf-8 \xc3\n",
                         "surrogate \xed\xa0\x80\n", "overlong \xc0\xaf\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char *note = (char *)"unset";
        size_t nl;
        CHECKF(annal_note_sign(bad[i], strlen(bad[i]), &k, 1, &note, &nl) == ANNAL_EINVAL, "bad %zu", i);
        CHECK(note == NULL);
    }
    char *note;
    size_t nl;
    CHECK(annal_note_sign("x\n", 2, &k, 0, &note, &nl) == ANNAL_EINVAL);
    CHECK(annal_note_verify("x\n\n", 3, &k.vk, 0, NULL, NULL, NULL, 0) == ANNAL_EINVAL);
}

/* Every single-byte change, and every truncation, of a signed note is
 * rejected. */
static void any_changed_byte_of_body_or_signature_is_rejected(void)
{
    annal_note_verifier v;
    CHECK(annal_note_verifier_parse(vec_vkey, strlen(vec_vkey), &v, NULL, 0) == ANNAL_OK);
    annal_note_signer k;
    signer(&k, "example.com/multi", 21);
    char *multi;
    size_t ml;
    const char *text = "example.com/multi\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n";
    CHECK(annal_note_sign(text, strlen(text), &k, 1, &multi, &ml) == ANNAL_OK);
    struct {
        const char *note;
        size_t len;
        const annal_note_verifier *key;
    } cases[] = {{vec_note, strlen(vec_note), &v}, {multi, ml, &k.vk}};
    static const unsigned char flips[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (size_t c = 0; c < 2; c++) {
        size_t n = cases[c].len;
        char *m = malloc(n + 1);
        CHECK(annal_note_verify(cases[c].note, n, cases[c].key, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
        for (size_t i = 0; i < n; i++)
            for (size_t f = 0; f < sizeof(flips); f++) {
                memcpy(m, cases[c].note, n);
                m[i] = (char)(m[i] ^ flips[f]);
                char e[256] = "";
                int rc = annal_note_verify(m, n, cases[c].key, 1, NULL, NULL, e, sizeof(e));
                if (rc != ANNAL_ECORRUPT) {
                    free(m);
                    CHECKF(0, "case %zu: byte %zu ^ %02x accepted (%d)", c, i, flips[f], rc);
                }
            }
        for (size_t i = 0; i < n; i++) /* truncations, and one byte removed */
            if (annal_note_verify(cases[c].note, i, cases[c].key, 1, NULL, NULL, NULL, 0) != ANNAL_ECORRUPT) {
                free(m);
                CHECKF(0, "case %zu: prefix of %zu bytes accepted", c, i);
            }
        for (size_t i = 0; i < n; i++) {
            memcpy(m, cases[c].note, i);
            memcpy(m + i, cases[c].note + i + 1, n - i - 1);
            if (annal_note_verify(m, n - 1, cases[c].key, 1, NULL, NULL, NULL, 0) != ANNAL_ECORRUPT) {
                free(m);
                CHECKF(0, "case %zu: byte %zu removed accepted", c, i);
            }
        }
        free(m);
    }
    free(multi);
}

static void unknown_keys_are_ignored_as_c2sp_requires(void)
{
    annal_note_signer a, b, c, a2;
    signer(&a, "example.com/a", 1);
    signer(&b, "example.com/b", 2);
    signer(&c, "example.com/c", 3);
    signer(&a2, "example.com/a", 4); /* same name as a, another key: another key id */
    CHECK(a.vk.id != a2.vk.id);
    annal_note_signer ab[2] = {a, b};
    const char *text = "hello\n";
    char *note;
    size_t nl;
    CHECK(annal_note_sign(text, strlen(text), ab, 2, &note, &nl) == ANNAL_OK);
    unsigned char ok[3];

    CHECK(annal_note_verify(note, nl, &a.vk, 1, NULL, ok, NULL, 0) == ANNAL_OK && ok[0] == 1);
    CHECK(annal_note_verify(note, nl, &b.vk, 1, NULL, ok, NULL, 0) == ANNAL_OK && ok[0] == 1);
    annal_note_verifier vs[3] = {c.vk, b.vk, a.vk};
    CHECK(annal_note_verify(note, nl, vs, 3, NULL, ok, NULL, 0) == ANNAL_OK);
    CHECK(ok[0] == 0 && ok[1] == 1 && ok[2] == 1);
    /* only unknown keys: rejected */
    char e[256];
    CHECK(annal_note_verify(note, nl, &c.vk, 1, NULL, NULL, e, sizeof(e)) == ANNAL_ECORRUPT);
    CHECK(strstr(e, "not signed by any known key"));
    /* the same name with another key id does not count */
    CHECK(annal_note_verify(note, nl, &a2.vk, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    annal_note_verifier vs2[2] = {a2.vk, a.vk};
    CHECK(annal_note_verify(note, nl, vs2, 2, NULL, ok, NULL, 0) == ANNAL_OK && ok[0] == 0 && ok[1] == 1);
    /* the same key id with another name does not count either */
    annal_note_verifier renamed = a.vk;
    strcpy(renamed.name, "example.com/z");
    CHECK(annal_note_verify(note, nl, &renamed, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    /* a known name and id whose public key does not verify: rejected */
    annal_note_verifier forged = a.vk;
    memcpy(forged.pub, c.vk.pub, 32);
    CHECK(annal_note_verify(note, nl, &forged, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);

    /* damage b's signature (still well-formed base64): a alone still
     * verifies (b is unknown to it); with b known the note is rejected */
    char *d = strdup(note);
    char *bl = strstr(d, "example.com/b ");
    CHECK(bl);
    char *sigc = bl + strlen("example.com/b ") + 20;
    *sigc = *sigc == 'A' ? 'B' : 'A';
    CHECK(annal_note_verify(d, nl, &a.vk, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
    annal_note_verifier vab[2] = {a.vk, b.vk};
    CHECK(annal_note_verify(d, nl, vab, 2, NULL, NULL, e, sizeof(e)) == ANNAL_ECORRUPT);
    CHECK(strstr(e, "does not verify"));
    free(d);

    /* a note signed only by an unknown key: rejected, whatever the text */
    char *only_c;
    size_t ol;
    CHECK(annal_note_sign(text, strlen(text), &c, 1, &only_c, &ol) == ANNAL_OK);
    CHECK(annal_note_verify(only_c, ol, vab, 2, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    free(only_c);

    /* unknown signatures of other shapes (another algorithm's length) are
     * ignored; malformed ones are not */
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s" DASH "other.example/x AAAAAAAAAAAAAAAAAAAAAAAA\n", note);
    CHECK(annal_note_verify(buf, strlen(buf), &a.vk, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
    snprintf(buf, sizeof(buf), "%s" DASH "other.example/x AAAA\n", note); /* 3 bytes < 5 */
    CHECK(annal_note_verify(buf, strlen(buf), &a.vk, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    snprintf(buf, sizeof(buf), "%s" DASH "other.example/x not*base64\n", note);
    CHECK(annal_note_verify(buf, strlen(buf), &a.vk, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    /* a duplicate line of a known key after a good one is skipped (as Go) */
    const char *first = strstr(note, DASH "example.com/a ");
    const char *eol = strchr(first, '\n');
    snprintf(buf, sizeof(buf), "%s%.*s\n", note, (int)(eol - first), first);
    CHECK(annal_note_verify(buf, strlen(buf), &a.vk, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
    free(note);
}

static void malformed_notes_are_rejected(void)
{
    annal_note_signer k;
    signer(&k, "example.com/m", 7);
    char *good;
    size_t gl;
    CHECK(annal_note_sign("text\n", 5, &k, 1, &good, &gl) == ANNAL_OK);
    char sig[128];
    snprintf(sig, sizeof(sig), "%s", strstr(good, DASH) + strlen(DASH) + strlen("example.com/m "));
    CHECK(strlen(sig) == 93 && sig[92] == '\n');
    sig[92] = 0; /* the base64 alone */
    char b[4096];
    const char *fmts[] = {
        "text\n%.0s",                                    /* no signature block */
        "text\n\n%.0s",                                  /* no signature line */
        "text\n" DASH "example.com/m %s\n",               /* no blank line */
        "text\n\n-- example.com/m %s\n",                  /* not an em dash */
        "text\n\n\342\200\224example.com/m %s\n",           /* no space after the dash */
        "text\n\n" DASH "example.com/m  %s\n",            /* two spaces */
        "text\n\n" DASH " example.com/m %s\n",            /* empty name */
        "text\n\n" DASH "example.com/m %s",               /* no final newline */
        "text\n\n" DASH "example.com/m %s \n",            /* trailing space */
        "text\n\n" DASH "example.com/m %s\n\n",           /* trailing blank line */
        "text\n\n" DASH "example.com/m %s\nfree text\n",  /* a line that is not a signature */
        "text\n\n" DASH "example.com/m\n%.0s",            /* no signature */
        "text\n\n" DASH "example.com/m \n%.0s",           /* empty signature */
        "te\x01xt\n\n" DASH "example.com/m %s\n",         /* control character */
        "text\r\n\n" DASH "example.com/m %s\n",           /* CR */
        "te\xffxt\n\n" DASH "example.com/m %s\n",         /* invalid UTF-8 */
        "text\n\n" DASH "example.com/m %s\r\n",           /* CR in the signature line */
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(*fmts); i++) {
        snprintf(b, sizeof(b), fmts[i], sig);
        CHECKF(annal_note_verify(b, strlen(b), &k.vk, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT, "fmt %zu", i);
    }
    /* the unmodified reconstruction verifies (so the cases above test what they say) */
    snprintf(b, sizeof(b), "text\n\n" DASH "example.com/m %s\n", sig);
    CHECK(annal_note_verify(b, strlen(b), &k.vk, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
    /* the signature limit: 100 lines are accepted, 101 are not */
    size_t cap = gl + 101 * 120, n = 0;
    char *many = malloc(cap);
    memcpy(many, good, gl);
    n = gl;
    for (int i = 1; i < 100; i++) /* 99 unknown signatures after the known one */
        n += (size_t)snprintf(many + n, cap - n, DASH "w%d.example/x AAAAAAAAAAAAAAAAAAAAAAAA\n", i);
    CHECK(annal_note_verify(many, n, &k.vk, 1, NULL, NULL, NULL, 0) == ANNAL_OK);
    n += (size_t)snprintf(many + n, cap - n, DASH "w101.example/x AAAAAAAAAAAAAAAAAAAAAAAA\n");
    CHECK(annal_note_verify(many, n, &k.vk, 1, NULL, NULL, NULL, 0) == ANNAL_ECORRUPT);
    free(many);
    free(good);
}

static void malformed_key_strings_are_rejected(void)
{
    char e[256];
    annal_note_verifier v;
    annal_note_signer s;
    const char *bad_v[] = {
        "",
        "example.com/annal",
        "example.com/annal+e36dd64c",
        "example.com/annal+e36dd64c+",
        "+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",                  /* empty name */
        "example.com/annal+e36dd64+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",  /* 7 hex digits */
        "example.com/annal+e36dd64c0+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", /* 9 */
        "example.com/annal+e36dd64g+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",  /* not hex */
        "example.com/annal+e36dd64d+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",  /* wrong id */
        "example.com/anna1+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",  /* wrong name */
        "example.com/annal+e36dd64c+AgOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",  /* algorithm 0x02 */
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVQ==",  /* 31-byte key */
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4AA==", /* 33 */
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG5",  /* unused bits */
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG",   /* truncated */
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4\n",
        "example.com/annal+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4 ",
        "example com+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",        /* space in the name */
        "example\302\240com+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", /* NBSP */
        "ex\xffm+e36dd64c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",             /* bad UTF-8 */
        "PRIVATE+KEY+example.com/annal+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
    };
    for (size_t i = 0; i < sizeof(bad_v) / sizeof(*bad_v); i++)
        CHECKF(annal_note_verifier_parse(bad_v[i], strlen(bad_v[i]), &v, e, sizeof(e)) == ANNAL_EINVAL,
               "verifier %zu", i);
    const char *bad_s[] = {
        "",
        vec_vkey,                                   /* a verifier key */
        "PRIVATE+KEY+",
        "PRIVATE+KEY+example.com/annal+e36dd64c",
        "private+key+example.com/annal+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
        "PRIVATE+KEY+example.com/annal+e36dd64d+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f", /* wrong id */
        "PRIVATE+KEY+example.com/annal+e36dd64c+AgABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f", /* alg 2 */
        "PRIVATE+KEY+example.com/annal+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4g", /* another seed */
        "PRIVATE+KEY+example.com/annal+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHQ==", /* 31 bytes */
        "PRIVATE+KEY+ex ample+e36dd64c+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
    };
    for (size_t i = 0; i < sizeof(bad_s) / sizeof(*bad_s); i++)
        CHECKF(annal_note_signer_parse(bad_s[i], strlen(bad_s[i]), &s, e, sizeof(e)) == ANNAL_EINVAL,
               "signer %zu", i);
    /* as Go's TestNewVerifier: every proper substring and every byte + 1 of a
     * valid key string is rejected */
    const char *keys[] = {vec_vkey, go_vkey};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(keys[k]);
        char m[512];
        for (size_t i = 0; i <= n; i++)
            for (size_t j = i + 1; j <= n; j++)
                if (i || j != n)
                    CHECKF(annal_note_verifier_parse(keys[k] + i, j - i, &v, NULL, 0) == ANNAL_EINVAL,
                           "key %zu [%zu, %zu)", k, i, j);
        for (size_t i = 0; i < n; i++) {
            memcpy(m, keys[k], n);
            m[i]++;
            CHECKF(annal_note_verifier_parse(m, n, &v, NULL, 0) == ANNAL_EINVAL, "key %zu byte %zu", k, i);
        }
    }
    size_t n = strlen(vec_skey);
    for (size_t i = 0; i < n; i++) {
        char m[512];
        memcpy(m, vec_skey, n);
        m[i]++;
        CHECKF(annal_note_signer_parse(m, n, &s, NULL, 0) == ANNAL_EINVAL, "skey byte %zu", i);
    }
    /* upper-case hex is accepted, as Go does */
    const char *upper = "example.com/annal+E36DD64C+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    CHECK(annal_note_verifier_parse(upper, strlen(upper), &v, NULL, 0) == ANNAL_OK && v.id == 0xe36dd64cu);
    /* names */
    unsigned char seed[32] = {0};
    CHECK(annal_note_signer_from_seed("", seed, &s) == ANNAL_EINVAL);
    CHECK(annal_note_signer_from_seed("a+b", seed, &s) == ANNAL_EINVAL);
    CHECK(annal_note_signer_from_seed("a b", seed, &s) == ANNAL_EINVAL);
    CHECK(annal_note_signer_from_seed("a\tb", seed, &s) == ANNAL_EINVAL);
    CHECK(annal_note_signer_from_seed("a\xe3\x80\x80" "b", seed, &s) == ANNAL_EINVAL); /* U+3000 */
    CHECK(annal_note_generate("a b", &s) == ANNAL_EINVAL);
    char longname[ANNAL_NOTE_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    CHECK(annal_note_signer_from_seed(longname, seed, &s) == ANNAL_EINVAL);
    longname[ANNAL_NOTE_NAME_MAX] = 0;
    CHECK(annal_note_signer_from_seed(longname, seed, &s) == ANNAL_OK);
    char str[ANNAL_NOTE_SKEY_MAX + 1];
    CHECK(annal_note_signer_string(&s, str, sizeof(str)) == ANNAL_OK && strlen(str) == ANNAL_NOTE_SKEY_MAX);
}

static void generated_keys_differ_and_key_files_load(void)
{
    annal_note_signer a, b, l;
    CHECK(annal_note_generate("example.com/gen", &a) == ANNAL_OK);
    CHECK(annal_note_generate("example.com/gen", &b) == ANNAL_OK);
    CHECK(memcmp(a.seed, b.seed, 32) && a.vk.id != b.vk.id);
    char path[4096], s[ANNAL_NOTE_SKEY_MAX + 1], e[512];
    snprintf(path, sizeof(path), "%s/keyfile", dir);
    CHECK(annal_note_signer_string(&a, s, sizeof(s)) == ANNAL_OK);
    const char *endings[] = {"\n", ""};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(path, "w");
        fprintf(f, "%s%s", s, endings[i]);
        fclose(f);
        CHECKF(annal_note_signer_load(path, &l, e, sizeof(e)) == ANNAL_OK, "%s", e);
        CHECK(!memcmp(&l, &a, sizeof(l)));
    }
    const char *bad[] = {"%s\n\n", " %s\n", "%s\r\n", "garbage\n"};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(path, "w");
        fprintf(f, bad[i], s);
        fclose(f);
        CHECKF(annal_note_signer_load(path, &l, e, sizeof(e)) == ANNAL_EINVAL, "bad %d", i);
        CHECK(strstr(e, path));
    }
    snprintf(path, sizeof(path), "%s/nokey", dir);
    CHECK(annal_note_signer_load(path, &l, e, sizeof(e)) == ANNAL_EIO && strstr(e, path));
}

/* ---- checkpoint bodies ---- */

static void checkpoint_bodies_round_trip(void)
{
    annal_checkpoint c, p;
    memset(&c, 0, sizeof(c));
    strcpy(c.origin, "example.com/log42");
    char buf[1024];
    size_t n;
    uint64_t sizes[] = {0, 1, 9, 10, 1234, UINT64_MAX};
    for (size_t i = 0; i < 6; i++) {
        c.size = sizes[i];
        for (int j = 0; j < 32; j++)
            c.root[j] = (unsigned char)(i * 31 + (size_t)j * 7);
        c.ext = i % 2 ? "ext one\nanother \xc3\xa9xtension\n" : NULL;
        c.ext_len = c.ext ? strlen(c.ext) : 0;
        CHECK(annal_checkpoint_format(&c, buf, sizeof(buf), &n) == ANNAL_OK && n == strlen(buf));
        char want[1024], r64[64];
        ref_b64(c.root, 32, r64);
        snprintf(want, sizeof(want), "example.com/log42\n%llu\n%s\n%s", (unsigned long long)c.size, r64,
                 c.ext ? c.ext : "");
        CHECKF(!strcmp(buf, want), "%s", buf);
        CHECK(annal_checkpoint_parse(buf, n, &p, NULL, 0) == ANNAL_OK);
        CHECK(!strcmp(p.origin, c.origin) && p.size == c.size && !memcmp(p.root, c.root, 32));
        CHECK(p.ext_len == c.ext_len && (!c.ext_len || (p.ext == buf + n - c.ext_len && !memcmp(p.ext, c.ext, c.ext_len))));
        CHECK(annal_checkpoint_format(&c, buf, n, &n) == ANNAL_EFULL);
    }
    /* format refuses what it must not write */
    c.ext = NULL;
    c.ext_len = 0;
    strcpy(c.origin, "has space");
    CHECK(annal_checkpoint_format(&c, buf, sizeof(buf), &n) == ANNAL_EINVAL);
    strcpy(c.origin, "a+b");
    CHECK(annal_checkpoint_format(&c, buf, sizeof(buf), &n) == ANNAL_EINVAL);
    strcpy(c.origin, "");
    CHECK(annal_checkpoint_format(&c, buf, sizeof(buf), &n) == ANNAL_EINVAL);
    strcpy(c.origin, "ok.example");
    const char *bad_ext[] = {"no newline", "\n", "a\n\nb\n", "ctl\x01\n"};
    for (int i = 0; i < 4; i++) {
        c.ext = bad_ext[i];
        c.ext_len = strlen(bad_ext[i]);
        CHECKF(annal_checkpoint_format(&c, buf, sizeof(buf), &n) == ANNAL_EINVAL, "ext %d", i);
    }
    /* parse accepts any origin C2SP allows (spaces included) */
    const char *spaced = "log with spaces\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    CHECK(annal_checkpoint_parse(spaced, strlen(spaced), &p, NULL, 0) == ANNAL_OK && p.size == 1);
}

static void checkpoint_parse_is_strict(void)
{
#define R "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    const char *bad[] = {
        "",
        "o\n",
        "o\n5\n",
        "o\n5\n" R,                 /* no final newline */
        "\n5\n" R "\n",             /* empty origin */
        "o\n\n" R "\n",             /* empty size */
        "o\n05\n" R "\n",           /* leading zero */
        "o\n00\n" R "\n",
        "o\n+5\n" R "\n",
        "o\n-5\n" R "\n",
        "o\n 5\n" R "\n",
        "o\n5 \n" R "\n",
        "o\n0x5\n" R "\n",
        "o\n18446744073709551616\n" R "\n", /* 2^64 */
        "o\n99999999999999999999\n" R "\n",
        "o\n5\n\n",                 /* empty root */
        "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",   /* 31 bytes */
        "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n", /* 33 bytes */
        "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",   /* unused bits */
        "o\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",    /* unpadded */
        "o\n5\n" R " \n",
        "o\n5\n" R "\n\n",          /* empty extension line */
        "o\n5\n" R "\next\n\n",
        "o\n5\n" R "\next",         /* extension without newline */
        "o\r\n5\n" R "\n",          /* CR */
        "o\x01\n5\n" R "\n",
        "\xff\n5\n" R "\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        annal_checkpoint p;
        char e[256] = "";
        CHECKF(annal_checkpoint_parse(bad[i], strlen(bad[i]), &p, e, sizeof(e)) == ANNAL_ECORRUPT, "bad %zu", i);
        CHECK(e[0]);
    }
    annal_checkpoint p;
    const char *max = "o\n18446744073709551615\n" R "\n";
    CHECK(annal_checkpoint_parse(max, strlen(max), &p, NULL, 0) == ANNAL_OK && p.size == UINT64_MAX);
    const char *zero = "o\n0\n" R "\n";
    CHECK(annal_checkpoint_parse(zero, strlen(zero), &p, NULL, 0) == ANNAL_OK && p.size == 0);
    char longo[400];
    memset(longo, 'o', ANNAL_CHECKPOINT_ORIGIN_MAX + 1);
    snprintf(longo + ANNAL_CHECKPOINT_ORIGIN_MAX + 1, sizeof(longo) - ANNAL_CHECKPOINT_ORIGIN_MAX - 1,
             "\n5\n" R "\n");
    CHECK(annal_checkpoint_parse(longo, strlen(longo), &p, NULL, 0) == ANNAL_ECORRUPT);
#undef R
}

/* ---- the checkpoint store ---- */

/* A tiny RFC 9162 tree over the test's leaves, for the consistency function. */
static void mth(const unsigned char (*leaves)[32], uint64_t n, unsigned char out[32])
{
    if (n == 0) {
        annal_sha256_2("", 0, NULL, 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    unsigned char buf[65];
    buf[0] = 1;
    mth(leaves, k, buf + 1);
    mth(leaves + k, n - k, buf + 33);
    annal_sha256_2(buf, 65, NULL, 0, out);
}

typedef struct fake_log {
    unsigned char leaves[64][32];
    int calls;
    uint64_t last_old, last_new;
    int force; /* non-zero: return this instead */
} fake_log;

/* "new extends old": the old root is the root of the first old_size leaves
 * of the log as it is now, and the new root that of new_size leaves. */
static int fake_consistent(void *ctx, uint64_t old_size, const unsigned char old_root[32], uint64_t new_size,
                           const unsigned char new_root[32])
{
    fake_log *f = ctx;
    f->calls++;
    f->last_old = old_size;
    f->last_new = new_size;
    if (f->force)
        return f->force;
    unsigned char r[32];
    mth((const unsigned char (*)[32])f->leaves, old_size, r);
    if (memcmp(r, old_root, 32))
        return ANNAL_ECORRUPT;
    mth((const unsigned char (*)[32])f->leaves, new_size, r);
    return memcmp(r, new_root, 32) ? ANNAL_ECORRUPT : ANNAL_OK;
}

static void fake_init(fake_log *f)
{
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 64; i++) {
        char rec[32];
        snprintf(rec, sizeof(rec), "{\"seq\":%d}", i + 1);
        annal_leaf_hash(rec, strlen(rec), f->leaves[i]);
    }
}

static int file_equals(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    char *b = malloc(len + 2);
    size_t n = fread(b, 1, len + 1, fp);
    fclose(fp);
    int eq = n == len && !memcmp(b, data, len);
    free(b);
    return eq;
}

static void the_store_saves_loads_and_lists(void)
{
    char d[4096], e[512];
    snprintf(d, sizeof(d), "%s/store1", dir);
    CHECK(mkdir(d, 0755) == 0);
    uint64_t *sizes;
    size_t n;
    char *note;
    size_t len;
    CHECK(annal_checkpoint_list(d, &sizes, &n) == ANNAL_OK && n == 0 && sizes == NULL);
    CHECK(annal_checkpoint_latest(d, &note, &len, NULL, e, sizeof(e)) == ANNAL_ENOTFOUND);
    CHECK(annal_checkpoint_load(d, 3, &note, &len, e, sizeof(e)) == ANNAL_ENOTFOUND);

    annal_note_signer k;
    signer(&k, "example.com/store", 31);
    fake_log f;
    fake_init(&f);
    uint64_t order[] = {5, 1, 20, 3};
    char *notes[4];
    size_t lens[4];
    for (int i = 0; i < 4; i++) {
        annal_checkpoint c;
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "example.com/store");
        c.size = order[i];
        mth((const unsigned char (*)[32])f.leaves, c.size, c.root);
        CHECK(annal_checkpoint_sign(&c, &k, &notes[i], &lens[i]) == ANNAL_OK);
        uint64_t got = 0;
        CHECKF(annal_checkpoint_save(d, notes[i], lens[i], &got, e, sizeof(e)) == ANNAL_OK, "%s", e);
        CHECK(got == order[i]);
    }
    CHECK(annal_checkpoint_list(d, &sizes, &n) == ANNAL_OK && n == 4);
    CHECK(sizes[0] == 1 && sizes[1] == 3 && sizes[2] == 5 && sizes[3] == 20);
    free(sizes);
    uint64_t ls = 0;
    CHECK(annal_checkpoint_latest(d, &note, &len, &ls, e, sizeof(e)) == ANNAL_OK && ls == 20);
    CHECK(len == lens[2] && !memcmp(note, notes[2], len) && note[len] == 0);
    free(note);
    CHECK(annal_checkpoint_load(d, 3, &note, &len, e, sizeof(e)) == ANNAL_OK);
    CHECK(len == lens[3] && !memcmp(note, notes[3], len));
    free(note);
    CHECK(annal_checkpoint_load(d, 4, &note, &len, e, sizeof(e)) == ANNAL_ENOTFOUND);
    /* file names: 20 digits + .note, exactly the note; no temporary file left */
    char p[4200];
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000020.note", d);
    CHECK(file_equals(p, notes[2], lens[2]));
    CHECK(tu_run(NULL, "ls %s/checkpoints/*.tmp >/dev/null 2>&1", d) != 0);
    /* saving the same bytes again is fine; another note of a saved size is not */
    CHECK(annal_checkpoint_save(d, notes[0], lens[0], NULL, e, sizeof(e)) == ANNAL_OK);
    annal_note_signer k2;
    signer(&k2, "example.com/store", 32);
    annal_checkpoint c5;
    CHECK(annal_checkpoint_open(notes[0], lens[0], &k.vk, 1, &c5, NULL, 0) == ANNAL_OK && c5.size == 5);
    char *other;
    size_t ol;
    CHECK(annal_checkpoint_sign(&c5, &k2, &other, &ol) == ANNAL_OK);
    CHECK(annal_checkpoint_save(d, other, ol, NULL, e, sizeof(e)) == ANNAL_ECORRUPT);
    CHECK(strstr(e, "00000000000000000005.note"));
    free(other);
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000005.note", d);
    CHECK(file_equals(p, notes[0], lens[0]));
    /* a malformed note is not saved */
    CHECK(annal_checkpoint_save(d, "junk\n", 5, NULL, e, sizeof(e)) == ANNAL_ECORRUPT);
    /* damage: a file whose body states another size, a truncated file */
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000007.note", d);
    FILE *fp = fopen(p, "wb");
    fwrite(notes[0], 1, lens[0], fp); /* the size-5 note under the name of 7 */
    fclose(fp);
    CHECK(annal_checkpoint_load(d, 7, &note, &len, e, sizeof(e)) == ANNAL_ECORRUPT);
    CHECK(strstr(e, "tree size 5"));
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000003.note", d);
    CHECK(truncate(p, (off_t)lens[3] - 10) == 0);
    CHECK(annal_checkpoint_load(d, 3, &note, &len, e, sizeof(e)) == ANNAL_ECORRUPT);
    /* names that are not checkpoints are ignored by list */
    snprintf(p, sizeof(p), "%s/checkpoints/123.note", d);
    fp = fopen(p, "w");
    fclose(fp);
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000099.note.tmp", d);
    fp = fopen(p, "w");
    fclose(fp);
    CHECK(annal_checkpoint_list(d, &sizes, &n) == ANNAL_OK && n == 5 && sizes[4] == 20);
    free(sizes);
    for (int i = 0; i < 4; i++)
        free(notes[i]);
    /* a data directory that does not exist */
    snprintf(p, sizeof(p), "%s/none", dir);
    CHECK(annal_checkpoint_save(p, vec_note, strlen(vec_note), NULL, e, sizeof(e)) == ANNAL_EIO);
}

static int open_at(const char *d, uint64_t size, const annal_note_verifier *v, annal_checkpoint *c)
{
    char *note, e[512];
    size_t len;
    int rc = annal_checkpoint_load(d, size, &note, &len, e, sizeof(e));
    if (rc)
        return rc;
    rc = annal_checkpoint_open(note, len, v, 1, c, e, sizeof(e));
    c->ext = NULL; /* points into note */
    free(note);
    return rc;
}

static void issue_never_signs_inconsistent_checkpoints(void)
{
    char d[4096], e[512];
    snprintf(d, sizeof(d), "%s/store2", dir);
    CHECK(mkdir(d, 0755) == 0);
    annal_note_signer k;
    signer(&k, "example.com/issue", 41);
    const char *origin = "example.com/issue";
    fake_log f;
    fake_init(&f);
    unsigned char r[32];
    char *note;
    size_t len;

    /* the empty tree; the root of size 0 must be SHA-256("") */
    memset(r, 1, 32);
    CHECK(annal_checkpoint_issue(d, &k, origin, 0, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_EINVAL);
    mth((const unsigned char (*)[32])f.leaves, 0, r);
    CHECKF(annal_checkpoint_issue(d, &k, origin, 0, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
               ANNAL_OK, "%s", e);
    free(note);
    /* 0 -> 3: every tree extends the empty one; no proof asked */
    mth((const unsigned char (*)[32])f.leaves, 3, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 3, r, fake_consistent, &f, &note, &len, e, sizeof(e)) == ANNAL_OK);
    CHECK(f.calls == 0);
    annal_checkpoint c;
    CHECK(annal_checkpoint_open(note, len, &k.vk, 1, &c, NULL, 0) == ANNAL_OK);
    CHECK(c.size == 3 && !memcmp(c.root, r, 32) && !strcmp(c.origin, origin));
    char *n3 = note;
    size_t l3 = len;
    /* the same size and root again: the saved note, nothing new signed */
    annal_note_signer k2;
    signer(&k2, "example.com/issue", 42);
    CHECK(annal_checkpoint_issue(d, &k2, origin, 3, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_OK);
    CHECK(len == l3 && !memcmp(note, n3, len));
    free(note);
    free(n3);
    /* 3 -> 5: the consistency function decides */
    mth((const unsigned char (*)[32])f.leaves, 5, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 5, r, fake_consistent, &f, NULL, NULL, e, sizeof(e)) == ANNAL_OK);
    CHECK(f.calls == 1 && f.last_old == 3 && f.last_new == 5);
    CHECK(open_at(d, 5, &k.vk, &c) == ANNAL_OK && !memcmp(c.root, r, 32));

    /* refused: a smaller size */
    mth((const unsigned char (*)[32])f.leaves, 4, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 4, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_ECORRUPT);
    CHECKF(strstr(e, "refusing") && strstr(e, "00000000000000000005.note"), "%s", e);
    /* refused: the same size with another root */
    memset(r, 7, 32);
    CHECK(annal_checkpoint_issue(d, &k, origin, 5, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_ECORRUPT);
    CHECK(strstr(e, "different root"));
    /* refused: the log was rewritten (leaf 2 changed) and the function says so */
    fake_log g = f;
    g.leaves[1][0] ^= 1;
    g.calls = 0;
    mth((const unsigned char (*)[32])g.leaves, 9, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 9, r, fake_consistent, &g, &note, &len, e, sizeof(e)) ==
          ANNAL_ECORRUPT);
    CHECK(g.calls == 1 && strstr(e, "does not extend"));
    /* the function cannot tell: its error, nothing signed */
    g = f;
    g.force = ANNAL_EINDEX;
    mth((const unsigned char (*)[32])f.leaves, 9, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 9, r, fake_consistent, &g, &note, &len, e, sizeof(e)) ==
          ANNAL_EINDEX);
    /* no function when one is needed */
    CHECK(annal_checkpoint_issue(d, &k, origin, 9, r, NULL, NULL, &note, &len, e, sizeof(e)) == ANNAL_EINVAL);
    /* another origin in the same store */
    CHECK(annal_checkpoint_issue(d, &k, "example.com/other", 9, r, fake_consistent, &f, &note, &len, e,
                                 sizeof(e)) == ANNAL_EINVAL);
    CHECK(annal_checkpoint_issue(d, &k, "bad origin", 9, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_EINVAL);
    uint64_t *sizes;
    size_t n;
    CHECK(annal_checkpoint_list(d, &sizes, &n) == ANNAL_OK && n == 3);
    CHECK(sizes[0] == 0 && sizes[1] == 3 && sizes[2] == 5);
    free(sizes);

    /* and onwards with the consistent log: 5 -> 9 -> 64 */
    f.calls = 0;
    CHECK(annal_checkpoint_issue(d, &k, origin, 9, r, fake_consistent, &f, &note, &len, e, sizeof(e)) == ANNAL_OK);
    free(note);
    mth((const unsigned char (*)[32])f.leaves, 64, r);
    CHECK(annal_checkpoint_issue(d, &k, origin, 64, r, fake_consistent, &f, &note, &len, e, sizeof(e)) ==
          ANNAL_OK);
    CHECK(f.calls == 2 && f.last_old == 9 && f.last_new == 64);
    char p[4200];
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000064.note", d);
    CHECK(file_equals(p, note, len));
    free(note);
    uint64_t ls;
    CHECK(annal_checkpoint_latest(d, &note, &len, &ls, e, sizeof(e)) == ANNAL_OK && ls == 64);
    free(note);
    /* every saved checkpoint verifies and states the log's root at its size */
    CHECK(annal_checkpoint_list(d, &sizes, &n) == ANNAL_OK && n == 5);
    for (size_t i = 0; i < n; i++) {
        CHECK(open_at(d, sizes[i], &k.vk, &c) == ANNAL_OK);
        mth((const unsigned char (*)[32])f.leaves, sizes[i], r);
        CHECK(c.size == sizes[i] && !memcmp(c.root, r, 32));
    }
    free(sizes);

    /* a fresh store: the first checkpoint needs no proof */
    snprintf(p, sizeof(p), "%s/store3", dir);
    CHECK(mkdir(p, 0755) == 0);
    f.calls = 0;
    mth((const unsigned char (*)[32])f.leaves, 10, r);
    CHECK(annal_checkpoint_issue(p, &k, origin, 10, r, fake_consistent, &f, &note, &len, e, sizeof(e)) == ANNAL_OK);
    CHECK(f.calls == 0);
    free(note);
}

/* ---- the commands ---- */

static void keygen_writes_a_0600_key_and_refuses_to_overwrite(void)
{
    char key[4096], *out;
    snprintf(key, sizeof(key), "%s/signing.key", dir);
    int st = tu_run(&out, "%s keygen --origin example.com/cli --out %s 2>/dev/null", tu_annal(), key);
    CHECKF(st == 0, "exit %d", st);
    struct stat sb;
    CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    annal_note_signer k;
    char e[512], vs[ANNAL_NOTE_VKEY_MAX + 2];
    CHECKF(annal_note_signer_load(key, &k, e, sizeof(e)) == ANNAL_OK, "%s", e);
    CHECK(!strcmp(k.vk.name, "example.com/cli"));
    CHECK(annal_note_verifier_string(&k.vk, vs, sizeof(vs)) == ANNAL_OK);
    strcat(vs, "\n");
    CHECKF(!strcmp(out, vs), "%s", out);
    free(out);
    /* the file is the signer key string and a newline */
    char ks[ANNAL_NOTE_SKEY_MAX + 2];
    CHECK(annal_note_signer_string(&k, ks, sizeof(ks)) == ANNAL_OK);
    strcat(ks, "\n");
    CHECK(file_equals(key, ks, strlen(ks)));

    /* no overwrite without --force */
    CHECK(tu_run(&out, "%s keygen --origin example.com/cli --out %s 2>/dev/null", tu_annal(), key) == 2);
    CHECK(out[0] == 0);
    free(out);
    CHECK(file_equals(key, ks, strlen(ks)));
    /* --force replaces it with a new key, still 0600 */
    CHECK(tu_run(&out, "%s keygen --origin example.com/cli --out %s --force 2>/dev/null", tu_annal(), key) == 0);
    annal_note_signer k2;
    CHECK(annal_note_signer_load(key, &k2, e, sizeof(e)) == ANNAL_OK && k2.vk.id != k.vk.id);
    CHECK(stat(key, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(annal_note_verifier_string(&k2.vk, vs, sizeof(vs)) == ANNAL_OK && !strncmp(out, vs, strlen(vs)));
    free(out);
    CHECK(tu_run(NULL, "ls %s/signing.key.tmp* >/dev/null 2>&1", dir) != 0);
    /* usage errors */
    CHECK(tu_run(NULL, "%s keygen --origin 'bad origin' --out %s/k2 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s keygen --origin a+b --out %s/k2 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s keygen --out %s/k2 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s keygen --origin example.com/x 2>/dev/null", tu_annal()) == 2);
    CHECK(tu_run(NULL, "%s keygen --origin example.com/x --out %s/nodir/k 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(stat(key, &sb) == 0);
    char k2p[4200];
    snprintf(k2p, sizeof(k2p), "%s/k2", dir);
    CHECK(stat(k2p, &sb) != 0);
    CHECK(tu_run(&out, "%s keygen --help", tu_annal()) == 0 && strstr(out, "usage: annal keygen"));
    free(out);
    annal_note_signer_clear(&k);
    annal_note_signer_clear(&k2);
}

static void checkpoint_command_prints_the_saved_note(void)
{
    char d[4096], e[512], *out;
    snprintf(d, sizeof(d), "%s/store4", dir);
    CHECK(mkdir(d, 0755) == 0);
    CHECK(tu_run(NULL, "%s checkpoint --data %s 2>/dev/null", tu_annal(), d) == 1);
    CHECK(tu_run(NULL, "%s checkpoint --data %s --size 3 2>/dev/null", tu_annal(), d) == 1);
    CHECK(tu_run(NULL, "%s checkpoint 2>/dev/null", tu_annal()) == 2);
    CHECK(tu_run(NULL, "%s checkpoint --data %s --size x 2>/dev/null", tu_annal(), d) == 2);
    CHECK(tu_run(&out, "%s checkpoint --help", tu_annal()) == 0 && strstr(out, "usage: annal checkpoint"));
    free(out);

    CHECK(annal_checkpoint_save(d, vec_note, strlen(vec_note), NULL, e, sizeof(e)) == ANNAL_OK);
    annal_note_signer k;
    signer(&k, vec_name, 51);
    annal_checkpoint c;
    memset(&c, 0, sizeof(c));
    strcpy(c.origin, vec_name);
    c.size = 1;
    char *n1;
    size_t l1;
    CHECK(annal_checkpoint_sign(&c, &k, &n1, &l1) == ANNAL_OK);
    CHECK(annal_checkpoint_save(d, n1, l1, NULL, e, sizeof(e)) == ANNAL_OK);

    CHECK(tu_run(&out, "%s checkpoint --data %s", tu_annal(), d) == 0);
    CHECKF(!strcmp(out, vec_note), "%s", out);
    free(out);
    CHECK(tu_run(&out, "%s checkpoint --data %s --size 1", tu_annal(), d) == 0);
    CHECK(!strcmp(out, n1));
    free(out);
    CHECK(tu_run(NULL, "%s checkpoint --data %s --size 2 2>/dev/null", tu_annal(), d) == 1);
    free(n1);
    /* a damaged file: exit 2 */
    char p[4200];
    snprintf(p, sizeof(p), "%s/checkpoints/00000000000000000003.note", d);
    CHECK(truncate(p, 20) == 0);
    CHECK(tu_run(NULL, "%s checkpoint --data %s 2>/dev/null", tu_annal(), d) == 2);
    /* annal --help lists both commands */
    CHECK(tu_run(&out, "%s --help", tu_annal()) == 0 && strstr(out, "keygen") && strstr(out, "checkpoint"));
    free(out);
}

int main(void)
{
    dir = tu_tmpdir("note");
    T_RUN(the_format_md_vector_is_exact);
    T_RUN(format_md_shows_the_same_vector);
    T_RUN(go_sumdb_note_vector_interoperates);
    T_RUN(key_ids_and_strings_match_their_definition);
    T_RUN(sign_and_verify_round_trip);
    T_RUN(any_changed_byte_of_body_or_signature_is_rejected);
    T_RUN(unknown_keys_are_ignored_as_c2sp_requires);
    T_RUN(malformed_notes_are_rejected);
    T_RUN(malformed_key_strings_are_rejected);
    T_RUN(generated_keys_differ_and_key_files_load);
    T_RUN(checkpoint_bodies_round_trip);
    T_RUN(checkpoint_parse_is_strict);
    T_RUN(the_store_saves_loads_and_lists);
    T_RUN(issue_never_signs_inconsistent_checkpoints);
    T_RUN(keygen_writes_a_0600_key_and_refuses_to_overwrite);
    T_RUN(checkpoint_command_prints_the_saved_note);
    tu_rmtree(dir);
    free(dir);
    return t_done();
}
