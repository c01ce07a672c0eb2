/* Tampering with a log on disk and `annal verify`: a store with several
 * sealed segments is built with the CLI; for each case a copy is damaged
 * (flipped bytes in every region of a segment, records deleted or swapped by
 * a careful forger who fixes every length, check and the footer, truncated
 * and removed segments) and `annal verify` must exit 1 naming the segment
 * file and the seq (or the block's seq range) of the damage. The untouched
 * log verifies, and its count and chain head equal what `zstd -dc` and the
 * Python snippet of store/FORMAT.md §5 compute. */
#include "t.h"
#include "util.h"

#include "store/hash.h"
#include "store/segdir.h"
#include "store/segment.h"

#include <errno.h>
#include <zstd.h>

#define SEED_TAMPER 0x7A3FE12ull
#define SAMPLES 40

/* ---- the layout of the store, parsed from the files ---- */

typedef struct blk {
    uint64_t off;        /* of the block header */
    uint64_t first, count;
    uint32_t raw_len, frame_len;
    size_t fhs;          /* bytes of the zstd frame header */
    unsigned char chain_end[32];
} blk;

typedef struct seg {
    uint64_t first, last;
    char name[ANNAL_SEG_NAME_LEN + 1];
    unsigned char *buf;
    size_t len;
    blk *b;
    size_t nb;
    int sealed;
    uint64_t foot_off;
    unsigned char prev_chain[32];
} seg;

typedef struct store {
    char *dir;
    seg *s;
    size_t n;
} store;

/* Size of the zstd frame header at p (RFC 8878 §3.1.1.1). */
static size_t zstd_header_size(const unsigned char *p)
{
    unsigned fhd = p[4];
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, did = fhd & 3;
    static const size_t did_size[] = {0, 1, 2, 4};
    size_t fcs = fcs_flag == 0 ? (single ? 1 : 0) : (size_t)1 << fcs_flag;
    return 4 + 1 + (single ? 0 : 1) + did_size[did] + fcs;
}

static int load_store(const char *dir, store *st, char *why, size_t whylen)
{
    uint64_t *seqs;
    size_t n;
    memset(st, 0, sizeof(*st));
    st->dir = strdup(dir);
    if (annal_segdir_list(dir, &seqs, &n) || !n) {
        snprintf(why, whylen, "no segments in %s", dir);
        return -1;
    }
    st->s = calloc(n, sizeof(*st->s));
    st->n = n;
    for (size_t i = 0; i < n; i++) {
        seg *g = &st->s[i];
        g->first = seqs[i];
        annal_seg_name(seqs[i], g->name);
        if (annal_segdir_read(dir, seqs[i], &g->buf, &g->len)) {
            snprintf(why, whylen, "cannot read %s", g->name);
            return -1;
        }
        annal_seg_header h;
        const char *w;
        if (annal_seg_header_decode(g->buf, g->len, &h, &w)) {
            snprintf(why, whylen, "%s: %s", g->name, w);
            return -1;
        }
        memcpy(g->prev_chain, h.prev_chain, 32);
        uint64_t off = ANNAL_SEG_HEADER_SIZE;
        size_t cap = 0;
        g->last = g->first - 1;
        while (off < g->len) {
            if (g->len - off >= 12 && !memcmp(g->buf + off + 8, "ANSF", 4)) {
                g->sealed = 1;
                g->foot_off = off;
                break;
            }
            annal_block_header bh;
            if (annal_block_header_decode(g->buf + off, g->len - off, &bh, &w)) {
                snprintf(why, whylen, "%s offset %llu: %s", g->name, (unsigned long long)off, w);
                return -1;
            }
            if (g->nb == cap) {
                cap = cap ? cap * 2 : 16;
                g->b = realloc(g->b, cap * sizeof(*g->b));
            }
            blk *b = &g->b[g->nb++];
            *b = (blk){.off = off, .first = bh.first_seq, .count = bh.count, .raw_len = bh.raw_len,
                       .frame_len = bh.frame_len};
            memcpy(b->chain_end, bh.chain_end, 32);
            b->fhs = zstd_header_size(g->buf + off + ANNAL_BLOCK_HEADER_SIZE);
            g->last = bh.first_seq + bh.count - 1;
            off += ANNAL_BLOCK_HEADER_SIZE + bh.frame_len;
        }
    }
    free(seqs);
    return 0;
}

static void free_store(store *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->s[i].buf);
        free(st->s[i].b);
    }
    free(st->s);
    free(st->dir);
}

/* ---- copies, tampering and verify ---- */

static char *copy_dir;

static int fresh_copy(const store *st)
{
    return tu_run(NULL, "rm -rf '%s' && cp -r '%s' '%s'", copy_dir, st->dir, copy_dir);
}

static void copy_path(const seg *g, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", copy_dir, g->name);
}

static int flip_byte(const seg *g, uint64_t off, unsigned char mask)
{
    char path[4096];
    copy_path(g, path, sizeof(path));
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    unsigned char c;
    int rc = -1;
    if (pread(fd, &c, 1, (off_t)off) == 1) {
        c ^= mask;
        rc = pwrite(fd, &c, 1, (off_t)off) == 1 ? 0 : -1;
    }
    close(fd);
    return rc;
}

static int write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

typedef struct vresult {
    int status;
    char segment[64];
    unsigned long long offset, seq;
    char what[400];
    char *out;
} vresult;

static void run_verify(const char *dir, vresult *v)
{
    memset(v, 0, sizeof(*v));
    v->status = tu_run(&v->out, "%s verify --data '%s' 2>&1", tu_annal(), dir);
    const char *p = strstr(v->out, "FAILED: segment ");
    int n = 0;
    if (p && sscanf(p, "FAILED: segment %63[^,], offset %llu, seq %llu: %n", v->segment, &v->offset, &v->seq, &n) == 3 &&
        n > 0) {
        const char *e = strchr(p + n, '\n');
        snprintf(v->what, sizeof(v->what), "%.*s", (int)(e ? e - (p + n) : (long)strlen(p + n)), p + n);
    } else {
        v->segment[0] = 0;
    }
}

/* 0 if verify of the copy failed with exit 1 naming segment `name`, a seq in
 * [seq_lo, seq_hi], an offset in [off_lo, off_hi] and (unless NULL) saying
 * what_sub; else -1 and *why. */
static int expect_failed_what(const char *name, uint64_t seq_lo, uint64_t seq_hi, uint64_t off_lo, uint64_t off_hi,
                              const char *what_sub, char *why, size_t whylen)
{
    vresult v;
    run_verify(copy_dir, &v);
    int ok = v.status == 1 && !strcmp(v.segment, name) && v.seq >= seq_lo && v.seq <= seq_hi &&
             v.offset >= off_lo && v.offset <= off_hi && (!what_sub || strstr(v.what, what_sub));
    if (!ok)
        snprintf(why, whylen, "wanted exit 1 naming %s, seq %llu..%llu, offset %llu..%llu%s%s; got exit %d: %.300s",
                 name, (unsigned long long)seq_lo, (unsigned long long)seq_hi, (unsigned long long)off_lo,
                 (unsigned long long)off_hi, what_sub ? ", saying " : "", what_sub ? what_sub : "", v.status, v.out);
    free(v.out);
    return ok ? 0 : -1;
}

static int expect_failed(const char *name, uint64_t seq_lo, uint64_t seq_hi, uint64_t off_lo, uint64_t off_hi,
                         char *why, size_t whylen)
{
    return expect_failed_what(name, seq_lo, seq_hi, off_lo, off_hi, NULL, why, whylen);
}

static store S;       /* the original */
static size_t nsealed;

/* ---- building the store ---- */

static int build_store(void)
{
    char *dir = tu_tmpdir("tamper");
    char *file = NULL;
    if (asprintf(&file, "%s.ndjson", dir) < 0)
        return -1;
    char *out = NULL;
    int st = tu_run(&out, "%s gen --seed 7 --events 3000 > '%s'", tu_annal(), file);
    free(out);
    if (st != 0) {
        fprintf(stderr, "annal gen exited %d\n", st);
        return -1;
    }
    /* Six appends, piped: each of the first five writes more than a
     * segment's worth and so seals its segment (a segment is sealed once a
     * write makes it reach --segment-bytes); the last leaves an unsealed
     * segment of several small blocks. */
    static const int parts[][2] = {{1, 560}, {561, 1120}, {1121, 1680}, {1681, 2240}, {2241, 2800}, {2801, 3000}};
    for (int p = 0; p < 6; p++) {
        st = tu_run(&out, "sed -n '%d,%dp' '%s' | %s append --data '%s' --segment-bytes 65536 --block-bytes 16384 - 2>&1",
                    parts[p][0], parts[p][1], file, tu_annal(), dir);
        if (st != 0) {
            fprintf(stderr, "annal append exited %d: %s\n", st, out);
            free(out);
            return -1;
        }
        free(out);
    }
    unlink(file);
    free(file);
    char why[256];
    if (load_store(dir, &S, why, sizeof(why))) {
        fprintf(stderr, "load_store: %s\n", why);
        return -1;
    }
    free(dir);
    if (asprintf(&copy_dir, "%s.copy", S.dir) < 0)
        return -1;
    for (size_t i = 0; i < S.n; i++)
        nsealed += (size_t)S.s[i].sealed;
    return 0;
}

/* ---- the tests ---- */

static void the_untouched_store_verifies_and_matches_zstd_and_the_format_md_script(void)
{
    CHECKF(nsealed >= 4 && S.n == nsealed + 1, "%zu segments, %zu sealed", S.n, nsealed);
    CHECKF(S.s[S.n - 1].nb >= 3, "the last segment holds %zu blocks", S.s[S.n - 1].nb);
    for (size_t i = 0; i < S.n; i++)
        CHECK(S.s[i].sealed == (i + 1 < S.n) && (i == 0 || S.s[i].first == S.s[i - 1].last + 1));
    CHECK(fresh_copy(&S) == 0);
    vresult v;
    run_verify(copy_dir, &v);
    CHECKF(v.status == 0, "exit %d: %s", v.status, v.out);
    unsigned long long events = 0;
    const char *ok = strstr(v.out, "ok: ");
    const char *ch = strstr(v.out, "chain_head ");
    CHECKF(ok && sscanf(ok, "ok: %llu events", &events) == 1 && ch, "%s", v.out);
    char head[65] = {0};
    CHECK(sscanf(ch, "chain_head %64[0-9a-f]", head) == 1 && strlen(head) == 64);
    CHECK(ch[11 + 64] == '\n');
    CHECKF(events == S.s[S.n - 1].last, "verify counted %llu, the files hold %llu", events,
           (unsigned long long)S.s[S.n - 1].last);
    free(v.out);

    /* store/FORMAT.md §5, exactly. */
    static const char script[] =
        "import hashlib, sys\n"
        "c = bytes(32); n = 0\n"
        "for line in sys.stdin.buffer:\n"
        "    r = line.rstrip(b\"\\n\"); n += 1\n"
        "    c = hashlib.sha256(c + hashlib.sha256(b\"\\x00\" + r).digest()).digest()\n"
        "print(n, c.hex())";
    char *out = NULL;
    int st = tu_run(&out, "for f in '%s'/*.seg; do zstd -dc \"$f\"; done | python3 -c '%s'", S.dir, script);
    CHECKF(st == 0, "exit %d: %s", st, out);
    char want[128];
    snprintf(want, sizeof(want), "%llu %s\n", events, head);
    CHECKF(!strcmp(out, want), "zstd + python printed '%s', verify '%s'", out, want);
    free(out);

    /* The chain head is also the last block's, and the footers and the
     * segment headers carry the chain from segment to segment. */
    const seg *last = &S.s[S.n - 1];
    char hex[65];
    annal_hex32(last->b[last->nb - 1].chain_end, hex);
    CHECK(!strcmp(hex, head));
    for (size_t i = 0; i + 1 < S.n; i++) {
        const seg *g = &S.s[i];
        annal_seg_footer f;
        annal_block_ref *refs = NULL;
        const char *w;
        CHECK(annal_seg_footer_decode(g->buf + g->foot_off, g->len - g->foot_off, &f, &refs, &w) == 0);
        int same = f.first_seq == g->first && f.record_count == g->last - g->first + 1 && f.block_count == g->nb &&
                   !memcmp(f.chain_end, g->b[g->nb - 1].chain_end, 32) && !memcmp(f.chain_end, S.s[i + 1].prev_chain, 32);
        for (size_t k = 0; same && k < g->nb; k++)
            same = refs[k].offset == g->b[k].off && refs[k].first_seq == g->b[k].first;
        free(refs);
        CHECKF(same, "the footer of %s does not match its blocks or the next segment", g->name);
    }

    st = tu_run(&out, "%s verify --data '%s/does-not-exist' 2>&1", tu_annal(), S.dir);
    CHECKF(st == 2, "exit %d: %s", st, out);
    free(out);
    /* An empty directory is no log either. */
    st = tu_run(&out, "mkdir -p '%s.empty' && %s verify --data '%s.empty' 2>&1; r=$?; rmdir '%s.empty'; exit $r",
                S.dir, tu_annal(), S.dir, S.dir);
    CHECKF(st == 2, "exit %d: %s", st, out);
    free(out);
}

enum region {
    R_SEG_HEADER,
    R_BLOCK_HEADER,
    R_ZSTD_HEADER,
    R_PAYLOAD,
    R_FOOTER_FIXED,
    R_FOOTER_ENTRIES,
    R_FOOTER_END,
    R_COUNT
};
static const char *region_name[] = {"segment header", "block header", "zstd frame header", "compressed payload",
                                    "footer fields", "footer block entries", "footer check/size/end marker"};

/* A byte of region r of segment g (a block chosen with rng); sets the
 * expected seq range and error offset. */
static uint64_t pick(const seg *g, enum region r, uint64_t *rng, uint64_t *seq_lo, uint64_t *seq_hi,
                     uint64_t *err_off)
{
    const blk *b = &g->b[t_rand(rng) % g->nb];
    uint64_t fe = g->foot_off + 72 + 16 * (uint64_t)g->nb; /* footer check field */
    *seq_lo = b->first;
    *seq_hi = b->first + b->count - 1;
    *err_off = b->off;
    switch (r) {
    case R_SEG_HEADER:
        *seq_lo = *seq_hi = g->first;
        *err_off = 0;
        return t_rand(rng) % ANNAL_SEG_HEADER_SIZE;
    case R_BLOCK_HEADER:
        return b->off + t_rand(rng) % ANNAL_BLOCK_HEADER_SIZE;
    case R_ZSTD_HEADER:
        return b->off + ANNAL_BLOCK_HEADER_SIZE + t_rand(rng) % b->fhs;
    case R_PAYLOAD:
        return b->off + ANNAL_BLOCK_HEADER_SIZE + b->fhs + t_rand(rng) % (b->frame_len - b->fhs);
    default: {
        uint64_t off;
        if (r == R_FOOTER_FIXED)
            off = g->foot_off + t_rand(rng) % 72;
        else if (r == R_FOOTER_ENTRIES)
            off = g->foot_off + 72 + t_rand(rng) % (16 * (uint64_t)g->nb);
        else
            off = fe + t_rand(rng) % 16;
        /* A footer concerns the segment as a whole: its last seq. With its
         * magic or tag damaged it is no longer recognisable as a footer:
         * then the seq expected after the last block is fine too. */
        uint64_t k = off - g->foot_off;
        *seq_lo = g->last;
        *seq_hi = (k < 4 || (k >= 8 && k < 12)) ? g->last + 1 : g->last;
        *err_off = g->foot_off;
        return off;
    }
    }
}

static void a_flipped_byte_anywhere_in_a_sealed_segment_is_found_with_its_segment_and_seq(void)
{
    uint64_t rng = SEED_TAMPER;
    for (int r = 0; r < R_COUNT; r++) {
        for (int i = 0; i < SAMPLES; i++) {
            const seg *g = &S.s[t_rand(&rng) % nsealed];
            uint64_t lo, hi, eoff;
            uint64_t off = pick(g, (enum region)r, &rng, &lo, &hi, &eoff);
            unsigned char mask = (unsigned char)(1 + t_rand(&rng) % 255);
            CHECK(fresh_copy(&S) == 0);
            CHECK(flip_byte(g, off, mask) == 0);
            char why[600];
            CHECKF(expect_failed(g->name, lo, hi, eoff, eoff, why, sizeof(why)) == 0,
                   "%s: byte %llu of %s ^= 0x%02x: %s", region_name[r], (unsigned long long)off, g->name, mask, why);
        }
    }
}

static void a_flipped_byte_in_the_last_segment_header_or_a_complete_block_of_it_is_found(void)
{
    uint64_t rng = SEED_TAMPER + 1;
    const seg *g = &S.s[S.n - 1];
    char why[600];
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t off = t_rand(&rng) % ANNAL_SEG_HEADER_SIZE;
        unsigned char mask = (unsigned char)(1 + t_rand(&rng) % 255);
        CHECK(fresh_copy(&S) == 0);
        CHECK(flip_byte(g, off, mask) == 0);
        CHECKF(expect_failed(g->name, g->first, g->first, 0, 0, why, sizeof(why)) == 0,
               "last segment header: byte %llu ^= 0x%02x: %s", (unsigned long long)off, mask, why);
    }
    /* A complete block in the middle, and the last block: damage, never a
     * torn tail. */
    const blk *blocks[] = {&g->b[g->nb / 2], &g->b[g->nb - 1]};
    for (int k = 0; k < 2; k++) {
        const blk *b = blocks[k];
        for (int i = 0; i < SAMPLES; i++) {
            uint64_t off = b->off + t_rand(&rng) % (ANNAL_BLOCK_HEADER_SIZE + b->frame_len);
            unsigned char mask = (unsigned char)(1 + t_rand(&rng) % 255);
            CHECK(fresh_copy(&S) == 0);
            CHECK(flip_byte(g, off, mask) == 0);
            CHECKF(expect_failed(g->name, b->first, b->first + b->count - 1, b->off, b->off, why, sizeof(why)) == 0,
                   "%s block of the last segment: byte %llu ^= 0x%02x: %s", k ? "last" : "middle",
                   (unsigned long long)off, mask, why);
        }
    }
}

/* ---- the careful forger ---- */

enum forge { F_DELETE, F_SWAP, F_SWAP_WHOLE_LINES };

typedef struct line {
    const char *p;
    size_t n;
} line;

/* Length of `{"seq":N,` at the start of a record. */
static size_t seq_prefix(const char *p, size_t n)
{
    const char *c = memchr(p, ',', n);
    return c ? (size_t)(c - p) + 1 : 0;
}

/*
 * Rewrite block bi of segment g: decompress it, change its records, compress
 * again (with content size and checksum, as annal does), and fix the block
 * header (count, raw length, frame length, frame check, check), the offsets
 * of the blocks after it and the footer (record count, raw bytes, entries,
 * check), so that only the chain shows the change. With fix_chain, the
 * block's chain head is also recomputed over the forged records. Writes the
 * new file in the copy. Changes record j of the block (0-based).
 */
static int forge_block(const seg *g, size_t bi, size_t j, enum forge how, int fix_chain, char *why, size_t whylen)
{
    const blk *b = &g->b[bi];
    const unsigned char *frame = g->buf + b->off + ANNAL_BLOCK_HEADER_SIZE;
    char *raw = malloc(b->raw_len);
    size_t got = ZSTD_decompress(raw, b->raw_len, frame, b->frame_len);
    if (ZSTD_isError(got) || got != b->raw_len) {
        snprintf(why, whylen, "cannot decompress the block");
        return -1;
    }
    line *ls = calloc(b->count, sizeof(*ls));
    const char *p = raw;
    for (uint64_t i = 0; i < b->count; i++) {
        const char *nl = memchr(p, '\n', (size_t)(raw + b->raw_len - p));
        ls[i] = (line){p, (size_t)(nl - p)};
        p = nl + 1;
    }
    char *nraw = malloc(b->raw_len + 64 * b->count), *w = nraw;
    uint64_t ncount = b->count;
    for (uint64_t i = 0; i < b->count; i++) {
        uint64_t seq = b->first + i;
        if (how == F_DELETE) {
            if (i == j)
                continue;
            if (i > j) { /* renumber, so that the seqs stay contiguous */
                size_t pre = seq_prefix(ls[i].p, ls[i].n);
                w += sprintf(w, "{\"seq\":%llu,", (unsigned long long)(seq - 1));
                memcpy(w, ls[i].p + pre, ls[i].n - pre);
                w += ls[i].n - pre;
                *w++ = '\n';
                continue;
            }
        } else if (i == j || i == j + 1) {
            const line *other = &ls[i == j ? j + 1 : j];
            if (how == F_SWAP_WHOLE_LINES) {
                memcpy(w, other->p, other->n);
                w += other->n;
            } else { /* keep the seq, swap what follows it */
                size_t pre = seq_prefix(ls[i].p, ls[i].n), opre = seq_prefix(other->p, other->n);
                memcpy(w, ls[i].p, pre);
                w += pre;
                memcpy(w, other->p + opre, other->n - opre);
                w += other->n - opre;
            }
            *w++ = '\n';
            continue;
        }
        memcpy(w, ls[i].p, ls[i].n);
        w += ls[i].n;
        *w++ = '\n';
    }
    if (how == F_DELETE)
        ncount--;
    size_t nraw_len = (size_t)(w - nraw);

    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    size_t bound = ZSTD_compressBound(nraw_len);
    unsigned char *nframe = malloc(bound);
    size_t fl = ZSTD_compress2(cc, nframe, bound, nraw, nraw_len);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(fl)) {
        snprintf(why, whylen, "cannot compress");
        return -1;
    }

    annal_block_header bh = {.count = (uint32_t)ncount, .first_seq = b->first, .raw_len = (uint32_t)nraw_len,
                             .frame_len = (uint32_t)fl};
    memcpy(bh.chain_end, b->chain_end, 32);
    if (fix_chain) {
        unsigned char chain[32], leaf[32];
        memcpy(chain, bi ? g->b[bi - 1].chain_end : g->prev_chain, 32);
        for (const char *q = nraw; q < w;) {
            const char *nl = memchr(q, '\n', (size_t)(w - q));
            annal_leaf_hash(q, (size_t)(nl - q), leaf);
            annal_chain_next(chain, leaf, chain);
            q = nl + 1;
        }
        memcpy(bh.chain_end, chain, 32);
    }
    unsigned char h[32];
    annal_sha256_2(nframe, fl, NULL, 0, h);
    memcpy(bh.frame_check, h, 8);

    /* The new file: everything before the block, the forged block, the
     * blocks after it, and a footer fixed to match. */
    size_t old_end = b->off + ANNAL_BLOCK_HEADER_SIZE + b->frame_len;
    size_t body_end = g->sealed ? g->foot_off : g->len;
    int64_t delta = (int64_t)fl - (int64_t)b->frame_len;
    size_t cap = g->len + fl + ANNAL_BLOCK_HEADER_SIZE;
    unsigned char *nf = malloc(cap), *o = nf;
    memcpy(o, g->buf, b->off);
    o += b->off;
    annal_block_header_encode(&bh, o);
    o += ANNAL_BLOCK_HEADER_SIZE;
    memcpy(o, nframe, fl);
    o += fl;
    memcpy(o, g->buf + old_end, body_end - old_end);
    o += body_end - old_end;
    if (g->sealed) {
        annal_seg_footer f;
        annal_block_ref *refs = NULL;
        const char *fw;
        if (annal_seg_footer_decode(g->buf + g->foot_off, g->len - g->foot_off, &f, &refs, &fw)) {
            snprintf(why, whylen, "footer: %s", fw);
            return -1;
        }
        if (how == F_DELETE)
            f.record_count--;
        f.raw_bytes = f.raw_bytes - b->raw_len + nraw_len;
        for (size_t i = bi + 1; i < f.block_count; i++)
            refs[i].offset = (uint64_t)((int64_t)refs[i].offset + delta);
        annal_seg_footer_encode(&f, refs, o);
        o += annal_seg_footer_size(f.block_count);
        free(refs);
    }
    char path[4096];
    copy_path(g, path, sizeof(path));
    int rc = write_file(path, nf, (size_t)(o - nf));
    if (rc)
        snprintf(why, whylen, "cannot write %.400s", path);
    free(nf);
    free(nframe);
    free(nraw);
    free(ls);
    free(raw);
    return rc;
}

static void a_forged_delete_or_swap_of_records_is_exposed_by_the_chain(void)
{
    static const struct {
        enum forge how;
        int fix_chain;
        const char *what;
        const char *found; /* what verify must say */
    } cases[] = {
        {F_DELETE, 0, "delete (records renumbered)", "chain mismatch"},
        {F_DELETE, 1, "delete (records renumbered, block chain head recomputed)", "block starts at seq"},
        {F_SWAP, 0, "swap of two records' contents under their seqs", "chain mismatch"},
        {F_SWAP, 1, "swap (block chain head recomputed)", "chain mismatch"},
        {F_SWAP_WHOLE_LINES, 0, "swap of two whole lines", "record carries seq"},
    };
    /* In a middle sealed segment and in the last (unsealed) one. */
    const seg *targets[] = {&S.s[nsealed / 2], &S.s[S.n - 1]};
    for (int t = 0; t < 2; t++) {
        const seg *g = targets[t];
        CHECK(g->nb >= 3);
        size_t bi = g->nb / 2; /* a block with blocks after it */
        const blk *b = &g->b[bi];
        CHECK(b->count >= 4);
        size_t j = (size_t)(b->count / 2);
        uint64_t changed = b->first + j;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            char why[600];
            CHECK(fresh_copy(&S) == 0);
            CHECKF(forge_block(g, bi, j, cases[c].how, cases[c].fix_chain, why, sizeof(why)) == 0, "%s", why);
            /* The forged block itself is well formed: */
            if (cases[c].how == F_SWAP_WHOLE_LINES) {
                CHECKF(expect_failed_what(g->name, changed, changed, b->off, b->off, cases[c].found, why,
                                          sizeof(why)) == 0,
                       "%s in %s: %s", cases[c].what, g->name, why);
            } else if (!cases[c].fix_chain) { /* found at the forged block itself */
                CHECKF(expect_failed_what(g->name, changed, b->first + b->count - 1, b->off, b->off, cases[c].found,
                                          why, sizeof(why)) == 0,
                       "%s in %s: %s", cases[c].what, g->name, why);
            } else { /* found at the next block, which the forger did not touch */
                const blk *nb = &g->b[bi + 1];
                CHECKF(expect_failed_what(g->name, changed, nb->first + nb->count - 1, b->off + 1, g->len,
                                          cases[c].found, why, sizeof(why)) == 0,
                       "%s in %s: %s", cases[c].what, g->name, why);
            }
        }
    }
}

static void a_truncated_sealed_segment_is_found(void)
{
    const seg *g = &S.s[nsealed / 2];
    uint64_t footer = g->len - g->foot_off;
    const blk *lb = &g->b[g->nb - 1];
    uint64_t cuts[] = {1, 4, 8, 12, footer - 1, footer, footer + 1, footer + 100,
                       g->len - lb->off - 10 /* into the last block's header */, g->len / 2,
                       g->len - ANNAL_SEG_HEADER_SIZE /* the header alone */};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        CHECK(fresh_copy(&S) == 0);
        char path[4096];
        copy_path(g, path, sizeof(path));
        uint64_t keep = g->len - cuts[i];
        CHECK(truncate(path, (off_t)keep) == 0);
        /* The seq where the log breaks: the first one no longer complete in
         * this segment (or, with only the footer gone, the one after it). */
        uint64_t lo = g->last + 1;
        for (size_t k = 0; k < g->nb; k++)
            if (g->b[k].off + ANNAL_BLOCK_HEADER_SIZE + g->b[k].frame_len > keep) {
                lo = g->b[k].first;
                break;
            }
        uint64_t hi = lo;
        const char *what = "cut short";
        if (keep == ANNAL_SEG_HEADER_SIZE)
            what = "no footer"; /* nothing cut short: the blocks are gone */
        if (keep >= g->foot_off + 12) {
            lo = hi = g->last; /* a footer cut short: the segment's last seq */
        } else if (keep > g->foot_off) {
            lo = g->last; /* too little left to tell a footer from a block header */
            hi = g->last + 1;
        } else if (keep == g->foot_off) {
            lo = g->last; /* no footer at all: the seq after the segment is fine too */
            what = "no footer";
        }
        char why[600];
        CHECKF(expect_failed_what(g->name, lo, hi, 0, g->len, what, why, sizeof(why)) == 0, "cut %llu bytes of %s: %s",
               (unsigned long long)cuts[i], g->name, why);
    }
}

static void a_missing_segment_is_found(void)
{
    char why[600];
    /* A middle segment: the one after it reports the gap. */
    size_t m = nsealed / 2;
    char path[4096];
    CHECK(fresh_copy(&S) == 0);
    copy_path(&S.s[m], path, sizeof(path));
    CHECK(unlink(path) == 0);
    CHECKF(expect_failed_what(S.s[m + 1].name, S.s[m].first, S.s[m].first, 0, 0, "missing", why, sizeof(why)) == 0,
           "%s", why);
    /* The first segment. */
    CHECK(fresh_copy(&S) == 0);
    copy_path(&S.s[0], path, sizeof(path));
    CHECK(unlink(path) == 0);
    CHECKF(expect_failed_what(S.s[1].name, 1, 1, 0, 0, "missing", why, sizeof(why)) == 0, "%s", why);
    /* A sealed segment replaced by another's bytes (renamed into its place). */
    CHECK(fresh_copy(&S) == 0);
    char src[4096];
    copy_path(&S.s[m + 1], src, sizeof(src));
    copy_path(&S.s[m], path, sizeof(path));
    CHECK(rename(src, path) == 0);
    CHECKF(expect_failed(S.s[m].name, S.s[m].first, S.s[m].first, 0, 0, why, sizeof(why)) == 0, "%s", why);
}

int main(void)
{
    if (build_store()) {
        fprintf(stderr, "FAIL: cannot build the store (is ANNAL_BIN set?)\n");
        t_failed++;
        return t_done();
    }
    T_RUN(the_untouched_store_verifies_and_matches_zstd_and_the_format_md_script);
    if (!t_failed) {
        T_RUN(a_flipped_byte_anywhere_in_a_sealed_segment_is_found_with_its_segment_and_seq);
        T_RUN(a_flipped_byte_in_the_last_segment_header_or_a_complete_block_of_it_is_found);
        T_RUN(a_forged_delete_or_swap_of_records_is_exposed_by_the_chain);
        T_RUN(a_truncated_sealed_segment_is_found);
        T_RUN(a_missing_segment_is_found);
    }
    tu_run(NULL, "rm -rf '%s'", copy_dir);
    tu_rmtree(S.dir);
    free(copy_dir);
    free_store(&S);
    return t_done();
}
