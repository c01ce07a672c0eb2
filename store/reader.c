#include "reader.h"

#include "bcache.h"
#include "error.h"
#include "fileio.h"
#include "segdir.h"
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rseg {
    uint64_t first_seq;
    uint64_t next_seq;      /* seq after the last indexed block */
    int sealed;
    int loaded;
    uint64_t scan_off;      /* unsealed: where the next block header is expected */
    annal_block_ref *index;
    uint32_t *counts;       /* records per block, parallel to index */
    uint32_t *frame_lens;   /* zstd frame bytes per block, parallel to index */
    size_t n, cap;
} rseg;

struct annal_reader {
    char *dir;
    rseg *segs;
    size_t nsegs;
    annal_scratch scratch;
    unsigned char *fbuf;    /* the block read from disk */
    size_t fcap;
    int fd;                 /* the segment file blocks were last read from (-1: none) */
    uint64_t fd_seg;        /* its first seq */
    /* the decoded block in scratch.buf */
    uint64_t blk_seg, blk_off, blk_first;
    uint32_t blk_count;
    size_t blk_raw_len;
    int blk_valid;
    /* the last record returned from it, to continue from */
    uint64_t cur_seq;
    size_t cur_pos;
    uint64_t iter_seq;      /* the next seq annal_reader_next returns */
    /* with a cache (annal_reader_set_cache): blocks come from it, and the
     * block of the last record returned is held in pin */
    annal_bcache *cache;
    const annal_bblock *pin;
};

static int refresh_dir(annal_reader *r)
{
    uint64_t *s = NULL;
    size_t n = 0;
    int rc = annal_segdir_list(r->dir, &s, &n);
    if (rc)
        return rc;
    if (n < r->nsegs) { /* segments never disappear from a healthy log */
        free(s);
        return ANNAL_ECORRUPT;
    }
    rseg *ns = realloc(r->segs, (n ? n : 1) * sizeof(*ns));
    if (!ns) {
        free(s);
        return ANNAL_ENOMEM;
    }
    r->segs = ns;
    for (size_t i = r->nsegs; i < n; i++) {
        memset(&ns[i], 0, sizeof(ns[i]));
        ns[i].first_seq = s[i];
    }
    r->nsegs = n;
    free(s);
    return ANNAL_OK;
}

static int push_block(rseg *g, uint64_t off, uint64_t first, uint32_t count, uint32_t frame_len)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 64;
        annal_block_ref *ni = realloc(g->index, nc * sizeof(*ni));
        if (!ni)
            return ANNAL_ENOMEM;
        g->index = ni;
        uint32_t *ncnt = realloc(g->counts, nc * sizeof(*ncnt));
        if (!ncnt)
            return ANNAL_ENOMEM;
        g->counts = ncnt;
        uint32_t *nfl = realloc(g->frame_lens, nc * sizeof(*nfl));
        if (!nfl)
            return ANNAL_ENOMEM;
        g->frame_lens = nfl;
        g->cap = nc;
    }
    g->index[g->n].offset = off;
    g->index[g->n].first_seq = first;
    g->counts[g->n] = count;
    g->frame_lens[g->n] = frame_len;
    g->n++;
    g->next_seq = first + count;
    return ANNAL_OK;
}

/* Bring the block index of g up to date: from the footer when sealed, else
 * by hopping from block header to block header. */
static int load_index(annal_reader *r, rseg *g)
{
    if (g->sealed)
        return ANNAL_OK;
    char path[4096];
    if (annal_segdir_path(r->dir, g->first_seq, path, sizeof(path)))
        return ANNAL_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ANNAL_EIO;
    struct stat st;
    int rc = ANNAL_OK;
    if (fstat(fd, &st) < 0) {
        rc = ANNAL_EIO;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!g->loaded) {
        g->scan_off = ANNAL_SEG_HEADER_SIZE;
        g->next_seq = g->first_seq;
        g->loaded = 1;
    }
    unsigned char h[ANNAL_BLOCK_HEADER_SIZE];
    while (g->scan_off + ANNAL_BLOCK_HEADER_SIZE <= size) {
        if (annal_read_all(fd, h, sizeof(h), (off_t)g->scan_off) != (ssize_t)sizeof(h)) {
            rc = ANNAL_EIO;
            goto out;
        }
        annal_block_header bh;
        const char *why;
        if (annal_block_header_decode(h, sizeof(h), &bh, &why))
            break; /* a footer, a torn write, or damage: stop here */
        if (bh.first_seq != g->next_seq) {
            rc = ANNAL_ECORRUPT;
            goto out;
        }
        uint64_t end = g->scan_off + ANNAL_BLOCK_HEADER_SIZE + bh.frame_len;
        if (end > size)
            break; /* still being written */
        if ((rc = push_block(g, g->scan_off, bh.first_seq, bh.count, bh.frame_len)))
            goto out;
        g->scan_off = end;
    }
    /* A footer right here means the segment is sealed and complete. */
    unsigned char tail[8];
    uint64_t foff;
    if (size >= 8 && annal_read_all(fd, tail, 8, (off_t)(size - 8)) == 8 &&
        annal_seg_footer_locate(tail, size, &foff) && foff == g->scan_off)
        g->sealed = 1;
out:
    close(fd);
    return rc;
}

/* An fd of g's file: the one kept from the last block read, if of g. The
 * name of a segment always names the same file (segments are created as
 * NAME.seg.tmp and renamed; never replaced or removed), so keeping it open
 * is as good as opening the name again. */
static int seg_fd(annal_reader *r, rseg *g)
{
    if (r->fd >= 0 && r->fd_seg == g->first_seq)
        return r->fd;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    char path[4096];
    if (annal_segdir_path(r->dir, g->first_seq, path, sizeof(path))) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
        r->fd_seg = g->first_seq;
    return r->fd;
}

/* Read block bi of g (its header frame and zstd frame, whose length the
 * block index has from the header: one pread) into r->fbuf: *need bytes,
 * header decoded into *bh. ANNAL_OK, ANNAL_ECORRUPT (short read, a bad
 * header, or one that differs from the header indexed), ANNAL_EIO or
 * ANNAL_ENOMEM. */
static int read_frame(annal_reader *r, rseg *g, size_t bi, annal_block_header *bh, size_t *need)
{
    uint64_t off = g->index[bi].offset;
    int fd = seg_fd(r, g);
    if (fd < 0)
        return ANNAL_EIO;
    *need = ANNAL_BLOCK_HEADER_SIZE + (size_t)g->frame_lens[bi];
    if (*need > r->fcap) {
        unsigned char *nb = realloc(r->fbuf, *need);
        if (!nb)
            return ANNAL_ENOMEM;
        r->fbuf = nb;
        r->fcap = *need;
    }
    ssize_t got = annal_read_all(fd, r->fbuf, *need, (off_t)off);
    if (got < 0) {
        int e = errno;
        close(r->fd); /* reopen next time */
        r->fd = -1;
        errno = e;
        return ANNAL_EIO;
    }
    const char *why;
    if ((size_t)got != *need || annal_block_header_decode(r->fbuf, *need, bh, &why) ||
        bh->frame_len != g->frame_lens[bi] || bh->first_seq != g->index[bi].first_seq ||
        bh->count != g->counts[bi])
        return ANNAL_ECORRUPT;
    return ANNAL_OK;
}

static int read_block(annal_reader *r, rseg *g, size_t bi)
{
    uint64_t off = g->index[bi].offset;
    if (r->blk_valid && r->blk_seg == g->first_seq && r->blk_off == off)
        return ANNAL_OK;
    r->blk_valid = 0;
    annal_block_header bh;
    size_t need;
    int rc = read_frame(r, g, bi, &bh, &need), incomplete;
    if (rc)
        return rc;
    const char *why, *raw;
    if (annal_block_decode(r->fbuf, need, &bh, &raw, &r->scratch, &why, &incomplete))
        return ANNAL_ECORRUPT;
    r->blk_seg = g->first_seq;
    r->blk_off = off;
    r->blk_first = bh.first_seq;
    r->blk_count = bh.count;
    r->blk_raw_len = bh.raw_len;
    r->blk_valid = 1;
    r->cur_seq = bh.first_seq;
    r->cur_pos = 0;
    return ANNAL_OK;
}

/* Load block bi of g from the file, with every check of read_block, and put
 * it into the cache: decompressed straight into a buffer of its own that
 * the cache takes. A block that fails a check is not cached. */
static int load_cached(annal_reader *r, rseg *g, size_t bi, const annal_bblock **out)
{
    annal_block_header bh;
    size_t need;
    int rc = read_frame(r, g, bi, &bh, &need), incomplete;
    if (rc)
        return rc;
    char *buf = malloc(bh.raw_len ? bh.raw_len : 1);
    if (!buf)
        return ANNAL_ENOMEM;
    /* Decompress into buf: lend it to the scratch (whose capacity then
     * suffices, so annal_block_decode does not reallocate it). */
    char *keep = r->scratch.buf;
    size_t keep_cap = r->scratch.cap;
    r->scratch.buf = buf;
    r->scratch.cap = bh.raw_len;
    const char *why, *raw;
    int bad = annal_block_decode(r->fbuf, need, &bh, &raw, &r->scratch, &why, &incomplete);
    r->scratch.buf = keep;
    r->scratch.cap = keep_cap;
    if (bad || raw != buf) {
        free(buf);
        return ANNAL_ECORRUPT;
    }
    return annal_bcache_put(r->cache, g->first_seq, g->index[bi].offset, bh.first_seq, bh.count, buf,
                            bh.raw_len, out);
}

/* annal_reader_get's end with a cache: record seq of block bi of g. */
static int get_cached(annal_reader *r, rseg *g, size_t bi, uint64_t seq, const char **rec, size_t *len)
{
    uint64_t off = g->index[bi].offset;
    const annal_bblock *b = r->pin;
    if (!b || b->seg_first != g->first_seq || b->offset != off) {
        annal_bcache_release(r->cache, b);
        r->pin = NULL;
        int rc = annal_bcache_get(r->cache, g->first_seq, off, &b);
        if (rc == ANNAL_ENOTFOUND)
            rc = load_cached(r, g, bi, &b);
        if (rc)
            return rc;
        r->pin = b;
    }
    if (b->first_seq != g->index[bi].first_seq || b->count != g->counts[bi])
        return ANNAL_ECORRUPT;
    return annal_bblock_record(b, seq, rec, len) == ANNAL_OK ? ANNAL_OK : ANNAL_ECORRUPT;
}

/* The segment that holds seq, if any segment can. */
static rseg *find_seg(annal_reader *r, uint64_t seq)
{
    size_t lo = 0, hi = r->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->segs[mid].first_seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &r->segs[lo - 1] : NULL;
}

int annal_reader_get(annal_reader *r, uint64_t seq, const char **rec, size_t *len)
{
    if (!r || !rec || !len)
        return ANNAL_EINVAL;
    if (seq == 0)
        return ANNAL_ENOTFOUND;
    int rc;
    rseg *g = find_seg(r, seq);
    if (!g || (g == &r->segs[r->nsegs - 1] && !g->sealed && seq >= g->next_seq)) {
        if ((rc = refresh_dir(r)))
            return rc;
        g = find_seg(r, seq);
    }
    if (!g)
        return ANNAL_ENOTFOUND;
    if (!g->loaded || (!g->sealed && seq >= g->next_seq))
        if ((rc = load_index(r, g)))
            return rc;
    if (seq >= g->next_seq)
        return ANNAL_ENOTFOUND;
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->index[mid].first_seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo)
        return ANNAL_ENOTFOUND;
    if (r->cache)
        return get_cached(r, g, lo - 1, seq, rec, len);
    if ((rc = read_block(r, g, lo - 1)))
        return rc;
    if (seq < r->cur_seq) {
        r->cur_seq = r->blk_first;
        r->cur_pos = 0;
    }
    const char *raw = r->scratch.buf;
    while (r->cur_seq < seq) {
        const char *nl = memchr(raw + r->cur_pos, '\n', r->blk_raw_len - r->cur_pos);
        if (!nl)
            return ANNAL_ECORRUPT;
        r->cur_pos = (size_t)(nl - raw) + 1;
        r->cur_seq++;
    }
    const char *nl = memchr(raw + r->cur_pos, '\n', r->blk_raw_len - r->cur_pos);
    if (!nl || seq >= r->blk_first + r->blk_count)
        return ANNAL_ECORRUPT;
    *rec = raw + r->cur_pos;
    *len = (size_t)(nl - *rec);
    return ANNAL_OK;
}

void annal_reader_seek(annal_reader *r, uint64_t seq)
{
    r->iter_seq = seq ? seq : 1;
}

int annal_reader_next(annal_reader *r, uint64_t *seq, const char **rec, size_t *len)
{
    int rc = annal_reader_get(r, r->iter_seq, rec, len);
    if (rc == ANNAL_OK)
        *seq = r->iter_seq++;
    return rc;
}

int annal_reader_last(annal_reader *r, uint64_t *last_seq)
{
    int rc = refresh_dir(r);
    if (rc)
        return rc;
    *last_seq = 0;
    if (!r->nsegs)
        return ANNAL_OK;
    rseg *g = &r->segs[r->nsegs - 1];
    if ((rc = load_index(r, g)))
        return rc;
    *last_seq = g->next_seq ? g->next_seq - 1 : 0;
    return ANNAL_OK;
}

int annal_reader_open(const char *dir, annal_reader **out)
{
    *out = NULL;
    annal_reader *r = calloc(1, sizeof(*r));
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return ANNAL_ENOMEM;
    }
    r->iter_seq = 1;
    r->fd = -1;
    int rc = refresh_dir(r);
    if (rc == ANNAL_OK && r->nsegs == 0)
        rc = ANNAL_ENOTFOUND;
    if (rc) {
        annal_reader_close(r);
        return rc;
    }
    *out = r;
    return ANNAL_OK;
}

int annal_reader_set_cache(annal_reader *r, annal_bcache *cache)
{
    if (!r)
        return ANNAL_EINVAL;
    int rc;
    if (cache && (rc = annal_bcache_claim(cache, r->dir)))
        return rc;
    annal_bcache_release(r->cache, r->pin);
    r->pin = NULL;
    r->cache = cache;
    return ANNAL_OK;
}

void annal_reader_close(annal_reader *r)
{
    if (!r)
        return;
    annal_bcache_release(r->cache, r->pin);
    for (size_t i = 0; i < r->nsegs; i++) {
        free(r->segs[i].index);
        free(r->segs[i].counts);
        free(r->segs[i].frame_lens);
    }
    free(r->segs);
    annal_scratch_free(&r->scratch);
    free(r->fbuf);
    if (r->fd >= 0)
        close(r->fd);
    free(r->dir);
    free(r);
}
