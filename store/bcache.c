/*
 * bcache.c - the block cache of bcache.h: a chained hash table of entries
 * keyed by (segment, offset), a doubly linked LRU list through the same
 * entries, one mutex. An entry is one allocation (header + record offsets)
 * plus the records buffer it was given.
 */
#include "bcache.h"

#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct entry {
    annal_bblock b;             /* first member: a held annal_bblock * is the entry */
    struct entry *hnext;        /* hash chain */
    struct entry *prev, *next;  /* LRU list, most recent at head */
    size_t charge;              /* bytes counted against the budget */
    size_t refs;                /* holders */
    int cached;                 /* in the table and the list; else freed at the last release */
    uint32_t pos[];             /* count + 1 record offsets (b.pos points here) */
} entry;

struct annal_bcache {
    pthread_mutex_t mu;
    size_t budget;
    entry **tab;                /* tab_n buckets, a power of two */
    size_t tab_n;
    entry *head, *tail;
    int bound;                  /* claimed by a directory */
    dev_t dev;
    ino_t ino;
    annal_bcache_stats st;      /* counters, blocks, bytes, held_out* */
};

#define TAB_MIN 64

static size_t hash_key(uint64_t seg, uint64_t off)
{
    uint64_t h = seg * 0x9E3779B97F4A7C15ull ^ off;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (size_t)h;
}

static entry **bucket(annal_bcache *c, uint64_t seg, uint64_t off)
{
    return &c->tab[hash_key(seg, off) & (c->tab_n - 1)];
}

static entry *find(annal_bcache *c, uint64_t seg, uint64_t off)
{
    for (entry *e = *bucket(c, seg, off); e; e = e->hnext)
        if (e->b.seg_first == seg && e->b.offset == off)
            return e;
    return NULL;
}

static void lru_unlink(annal_bcache *c, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(annal_bcache *c, entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
}

static void lru_touch(annal_bcache *c, entry *e)
{
    if (c->head != e) {
        lru_unlink(c, e);
        lru_push_head(c, e);
    }
}

static void tab_remove(annal_bcache *c, entry *e)
{
    for (entry **pp = bucket(c, e->b.seg_first, e->b.offset); *pp; pp = &(*pp)->hnext)
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    e->hnext = NULL;
}

/* Double the table once it holds as many entries as buckets; on ENOMEM the
 * chains just get longer. */
static void tab_grow(annal_bcache *c)
{
    if (c->st.blocks < c->tab_n)
        return;
    size_t nn = c->tab_n * 2;
    entry **nt = calloc(nn, sizeof(*nt));
    if (!nt)
        return;
    for (size_t i = 0; i < c->tab_n; i++)
        for (entry *e = c->tab[i], *nx; e; e = nx) {
            nx = e->hnext;
            entry **b = &nt[hash_key(e->b.seg_first, e->b.offset) & (nn - 1)];
            e->hnext = *b;
            *b = e;
        }
    free(c->tab);
    c->tab = nt;
    c->tab_n = nn;
}

static void entry_free(entry *e)
{
    if (e) {
        free((char *)e->b.raw);
        free(e);
    }
}

/* Take e out of the table and the list (mu held). Returns e if it is to be
 * freed now (nobody holds it), else NULL (freed at its last release). */
static entry *evict(annal_bcache *c, entry *e)
{
    tab_remove(c, e);
    lru_unlink(c, e);
    e->cached = 0;
    c->st.blocks--;
    c->st.bytes -= e->charge;
    c->st.evictions++;
    if (e->refs == 0)
        return e;
    c->st.held_out++;
    c->st.held_out_bytes += e->charge;
    return NULL;
}

int annal_bcache_create(size_t budget, annal_bcache **out)
{
    if (!out)
        return ANNAL_EINVAL;
    *out = NULL;
    annal_bcache *c = calloc(1, sizeof(*c));
    if (!c || !(c->tab = calloc(TAB_MIN, sizeof(*c->tab)))) {
        free(c);
        return ANNAL_ENOMEM;
    }
    c->tab_n = TAB_MIN;
    c->budget = budget ? budget : ANNAL_BCACHE_DEFAULT_BUDGET;
    c->st.budget = c->budget;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->tab);
        free(c);
        return ANNAL_ENOMEM;
    }
    *out = c;
    return ANNAL_OK;
}

void annal_bcache_free(annal_bcache *c)
{
    if (!c)
        return;
    for (entry *e = c->head, *nx; e; e = nx) {
        nx = e->next;
        entry_free(e);
    }
    free(c->tab);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int annal_bcache_claim(annal_bcache *c, const char *dir)
{
    if (!c || !dir)
        return ANNAL_EINVAL;
    struct stat st;
    if (stat(dir, &st) < 0)
        return ANNAL_EIO;
    int rc = ANNAL_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->bound) {
        c->bound = 1;
        c->dev = st.st_dev;
        c->ino = st.st_ino;
    } else if (c->dev != st.st_dev || c->ino != st.st_ino) {
        rc = ANNAL_EINVAL;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int annal_bcache_get(annal_bcache *c, uint64_t seg_first, uint64_t offset, const annal_bblock **out)
{
    if (!out)
        return ANNAL_EINVAL;
    *out = NULL;
    if (!c)
        return ANNAL_EINVAL;
    pthread_mutex_lock(&c->mu);
    entry *e = find(c, seg_first, offset);
    if (e) {
        e->refs++;
        lru_touch(c, e);
        c->st.hits++;
        *out = &e->b;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e ? ANNAL_OK : ANNAL_ENOTFOUND;
}

int annal_bcache_put(annal_bcache *c, uint64_t seg_first, uint64_t offset, uint64_t first_seq, uint32_t count,
                     char *raw, size_t raw_len, const annal_bblock **out)
{
    if (out)
        *out = NULL;
    if (!c || !raw || !out || raw_len > UINT32_MAX) {
        free(raw);
        return ANNAL_EINVAL;
    }
    /* Every record holds at least its "\n": count <= raw_len bounds the
     * allocation by the block's size before anything is scanned. */
    int rc = ANNAL_ECORRUPT;
    entry *e = NULL;
    if (count == 0 || count > raw_len)
        goto bad;
    if (!(e = malloc(sizeof(*e) + ((size_t)count + 1) * sizeof(uint32_t)))) {
        rc = ANNAL_ENOMEM;
        goto bad;
    }
    size_t p = 0;
    e->pos[0] = 0;
    for (uint32_t i = 0; i < count; i++) {
        const char *nl = memchr(raw + p, '\n', raw_len - p);
        if (!nl)
            goto bad;
        p = (size_t)(nl - raw) + 1;
        e->pos[i + 1] = (uint32_t)p;
    }
    if (p != raw_len)
        goto bad;
    e->b = (annal_bblock){.seg_first = seg_first, .offset = offset, .first_seq = first_seq, .count = count,
                          .raw = raw, .raw_len = raw_len, .pos = e->pos};
    e->hnext = e->prev = e->next = NULL;
    e->charge = sizeof(*e) + ((size_t)count + 1) * sizeof(uint32_t) + raw_len;
    e->refs = 1;
    e->cached = 0;

    entry *dead = NULL; /* a chain of evicted entries to free after unlocking */
    pthread_mutex_lock(&c->mu);
    entry *x = find(c, seg_first, offset);
    if (x) { /* another thread put it meanwhile: use that one */
        x->refs++;
        lru_touch(c, x);
        c->st.duplicates++;
        pthread_mutex_unlock(&c->mu);
        entry_free(e);
        *out = &x->b;
        return ANNAL_OK;
    }
    if (e->charge > c->budget) {
        c->st.oversized++;
        c->st.held_out++;
        c->st.held_out_bytes += e->charge;
    } else {
        while (c->tail && c->st.bytes + e->charge > c->budget) {
            entry *v = evict(c, c->tail);
            if (v) {
                v->hnext = dead;
                dead = v;
            }
        }
        tab_grow(c);
        entry **b = bucket(c, seg_first, offset);
        e->hnext = *b;
        *b = e;
        lru_push_head(c, e);
        e->cached = 1;
        c->st.blocks++;
        c->st.bytes += e->charge;
        c->st.inserts++;
    }
    pthread_mutex_unlock(&c->mu);
    while (dead) {
        entry *nx = dead->hnext;
        entry_free(dead);
        dead = nx;
    }
    *out = &e->b;
    return ANNAL_OK;
bad:
    free(e);
    free(raw);
    pthread_mutex_lock(&c->mu);
    if (rc == ANNAL_ECORRUPT)
        c->st.rejected++;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void annal_bcache_release(annal_bcache *c, const annal_bblock *b)
{
    if (!c || !b)
        return;
    entry *e = (entry *)(void *)b, *dead = NULL;
    pthread_mutex_lock(&c->mu);
    if (--e->refs == 0 && !e->cached) {
        c->st.held_out--;
        c->st.held_out_bytes -= e->charge;
        dead = e;
    }
    pthread_mutex_unlock(&c->mu);
    entry_free(dead);
}

int annal_bblock_record(const annal_bblock *b, uint64_t seq, const char **rec, size_t *len)
{
    if (!b || !rec || !len)
        return ANNAL_EINVAL;
    if (seq < b->first_seq || seq - b->first_seq >= b->count)
        return ANNAL_ENOTFOUND;
    size_t i = (size_t)(seq - b->first_seq);
    *rec = b->raw + b->pos[i];
    *len = (size_t)(b->pos[i + 1] - b->pos[i] - 1);
    return ANNAL_OK;
}

void annal_bcache_stats_get(annal_bcache *c, annal_bcache_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    pthread_mutex_unlock(&c->mu);
}
