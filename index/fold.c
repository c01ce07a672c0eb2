/*
 * fold.c - the fold of records into the index (fold.h).
 */
#include "index/fold.h"
#include "index/vcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct annal_fold_group {
    uint32_t koff;
    uint16_t klen;
    uint8_t db;
    uint32_t first, last, count; /* its puts, linked in arrival order through next[] */
} group;

int annal_fold_prepare(const char *rec, size_t len, uint64_t seq, annal_fold_rec *out)
{
    if (annal_record_parse(rec, len, &out->ev, NULL) != ANNAL_OK || out->ev.seq != seq)
        return ANNAL_ECORRUPT;
    out->seq = seq;
    ix_data_get(&out->ev, &out->d);
    out->time_ns = out->ev.has_occurred_at ? out->ev.occurred_at_ns : out->ev.recorded_at_ns;
    out->rec = rec;
    out->len = len;
    return ANNAL_OK;
}

void annal_fold_reset(annal_fold_batch *b)
{
    b->nputs = b->kused = b->ngroups = 0;
}

void annal_fold_batch_free(annal_fold_batch *b)
{
    free(b->puts);
    free(b->keys);
    free(b->groups);
    free(b->order);
    free(b->next);
    free(b->table);
    free(b->vals);
    memset(b, 0, sizeof(*b));
}

/* Add the entry tenant\0id -> val in db. */
static int add(annal_fold_batch *w, enum ix_db db, const annal_slice *tenant, const char *id, size_t idn,
               const unsigned char *val, size_t vlen)
{
    if (w->nputs == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 65536;
        annal_fold_put *np = realloc(w->puts, nc * sizeof(*np));
        if (!np)
            return ANNAL_ENOMEM;
        w->puts = np;
        w->cap = nc;
    }
    if (w->kcap - w->kused < IX_KEY_MAX) {
        size_t nc = w->kcap ? w->kcap * 2 : (1u << 20);
        unsigned char *nk = realloc(w->keys, nc);
        if (!nk)
            return ANNAL_ENOMEM;
        w->keys = nk;
        w->kcap = nc;
    }
    annal_fold_put *p = &w->puts[w->nputs++];
    size_t klen = ix_key(w->keys + w->kused, tenant->p, tenant->n, id, idn);
    p->koff = (uint32_t)w->kused;
    p->klen = (uint16_t)klen;
    p->db = (uint8_t)db;
    p->vlen = (uint8_t)vlen;
    memcpy(p->val, val, vlen);
    w->kused += klen;
    return 0;
}

/* Step "links": timeline, type, run, incident, API key, correlation,
 * event_id. (A domain is the union of its types: see query.c.) */
static int derive_links(annal_fold_batch *w, const annal_fold_rec *r)
{
    const annal_event *ev = &r->ev;
    const annal_slice *t = &ev->tenant_id;
    unsigned char tpos[IX_TPOS_LEN];
    ix_tpos(tpos, r->time_ns, r->seq);
    int rc;
    if ((rc = add(w, IX_TIMELINE, t, NULL, 0, tpos, IX_TPOS_LEN)) ||
        (rc = add(w, IX_TYPE, t, ev->event_type.p, ev->event_type.n, tpos, IX_TPOS_LEN)))
        return rc;
    static const struct {
        size_t off;
        enum ix_db db;
    } links[] = {
        {offsetof(annal_event, run_id), IX_RUN},
        {offsetof(annal_event, incident_id), IX_INCIDENT},
        {offsetof(annal_event, api_key_id), IX_API_KEY},
        {offsetof(annal_event, correlation_id), IX_CORRELATION},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        const annal_slice *id = (const annal_slice *)((const char *)ev + links[i].off);
        if (id->n && (rc = add(w, links[i].db, t, id->p, id->n, tpos, IX_TPOS_LEN)))
            return rc;
    }
    if (ev->event_id.n) {
        unsigned char sv[8];
        ix_be64(sv, r->seq);
        if ((rc = add(w, IX_EVENT_ID, t, ev->event_id.p, ev->event_id.n, sv, 8)))
            return rc;
    }
    return 0;
}

/* The pure steps, in order. */
static const struct {
    const char *name;
    int (*derive)(annal_fold_batch *b, const annal_fold_rec *r);
} derive_steps[] = {
    {"links", derive_links},
};

int annal_fold_derive(annal_fold_batch *b, const annal_fold_rec *r)
{
    for (size_t i = 0; i < sizeof(derive_steps) / sizeof(derive_steps[0]); i++) {
        int rc = derive_steps[i].derive(b, r);
        if (rc)
            return rc;
    }
    return 0;
}

/* The transactional steps, in the order they must see each record: the
 * Merkle tree (index/tree.c), then the views, which call the rules where
 * they look (index/vfold.c, rules.c). */
int annal_fold_apply(annal_index *ix, MDB_txn *txn, const annal_fold_rec *r)
{
    int rc = ix_tree_apply(ix, txn, r);
    return rc ? rc : ix_views_apply(ix, txn, r);
}

/* ---------------------------------------------------------------- seal and write
 *
 * The batch's entries are grouped by (database, key) with a hash table and
 * the groups sorted by database and key; each group is then written with
 * one cursor put: MDB_MULTIPLE for the (time, seq) duplicates (their values
 * sorted; MDB_APPENDDUP when they all come after the key's last one), the
 * first value (lowest seq) for event_id. Writing in key order keeps the
 * cursor on the leaf page it just wrote.
 */

static uint64_t key_hash(unsigned db, const unsigned char *k, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (db * 0xff51afd7ed558ccdull) ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, k + i, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    uint64_t v = 0;
    memcpy(&v, k + i, n - i);
    h = (h ^ v) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

typedef struct sort_ctx {
    const group *groups;
    const unsigned char *keys;
} sort_ctx;

static int group_cmp(const void *a, const void *b, void *arg)
{
    const sort_ctx *s = arg;
    const group *x = &s->groups[*(const uint32_t *)a], *y = &s->groups[*(const uint32_t *)b];
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    int c = memcmp(s->keys + x->koff, s->keys + y->koff, x->klen < y->klen ? x->klen : y->klen);
    if (c || x->klen != y->klen)
        return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
    return (x->first > y->first) - (x->first < y->first); /* event_id duplicates: lowest seq first */
}

int annal_fold_seal(annal_fold_batch *b)
{
    size_t n = b->nputs, tsize = 1;
    while (tsize < 2 * n)
        tsize <<= 1;
    if (b->gcap < n) {
        group *g = realloc(b->groups, n * sizeof(*g));
        if (g)
            b->groups = g;
        uint32_t *o = g ? realloc(b->order, n * sizeof(*o)) : NULL;
        if (o)
            b->order = o;
        uint32_t *nx = o ? realloc(b->next, n * sizeof(*nx)) : NULL;
        if (nx)
            b->next = nx;
        unsigned char *v = nx ? realloc(b->vals, n * IX_TPOS_LEN) : NULL;
        if (!v)
            return ANNAL_ENOMEM;
        b->vals = v;
        b->gcap = n;
    }
    if (b->tcap < tsize) {
        uint32_t *t = realloc(b->table, tsize * sizeof(*t));
        if (!t)
            return ANNAL_ENOMEM;
        b->table = t;
        b->tcap = tsize;
    }
    memset(b->table, 0, tsize * sizeof(uint32_t));
    uint32_t ng = 0;
    for (uint32_t i = 0; i < n; i++) {
        const annal_fold_put *p = &b->puts[i];
        const unsigned char *k = b->keys + p->koff;
        if (p->db == IX_EVENT_ID) { /* unique keys (nearly always): no grouping */
            b->groups[ng++] = (group){p->koff, p->klen, p->db, i, i, 1};
            continue;
        }
        size_t h = (size_t)key_hash(p->db, k, p->klen) & (tsize - 1);
        for (;; h = (h + 1) & (tsize - 1)) {
            uint32_t gi = b->table[h];
            if (!gi) {
                b->groups[ng] = (group){p->koff, p->klen, p->db, i, i, 1};
                b->table[h] = ++ng;
                break;
            }
            group *g = &b->groups[gi - 1];
            if (g->db == p->db && g->klen == p->klen && memcmp(b->keys + g->koff, k, p->klen) == 0) {
                b->next[g->last] = i;
                g->last = i;
                g->count++;
                break;
            }
        }
    }
    for (uint32_t i = 0; i < ng; i++)
        b->order[i] = i;
    sort_ctx sc = {b->groups, b->keys};
    qsort_r(b->order, ng, sizeof(*b->order), group_cmp, &sc);
    b->ngroups = ng;
    return ANNAL_OK;
}

static int tpos_cmp(const void *a, const void *b)
{
    return memcmp(a, b, IX_TPOS_LEN);
}

static uint64_t put_seq(const annal_fold_put *p)
{
    return ix_get_be64(p->val + p->vlen - 8); /* tpos ends with the seq; event_id's value is it */
}

static int write_group(const annal_fold_batch *b, MDB_cursor *c, const group *g, uint64_t after)
{
    MDB_val k = {g->klen, b->keys + g->koff};
    if (g->db == IX_EVENT_ID) {
        /* The first record with an event_id wins: later duplicates (in this
         * batch or later ones) keep its seq. */
        const annal_fold_put *p = &b->puts[g->first];
        if (put_seq(p) <= after)
            return 0;
        MDB_val v = {p->vlen, (void *)p->val};
        int rc = mdb_cursor_put(c, &k, &v, MDB_NOOVERWRITE);
        return rc == MDB_KEYEXIST ? 0 : rc;
    }
    unsigned char *vals = b->vals;
    int sorted = 1;
    size_t n = 0;
    for (uint32_t i = g->first;; i = b->next[i]) {
        if (put_seq(&b->puts[i]) > after) {
            memcpy(vals + n * IX_TPOS_LEN, b->puts[i].val, IX_TPOS_LEN);
            if (n && memcmp(vals + (n - 1) * IX_TPOS_LEN, vals + n * IX_TPOS_LEN, IX_TPOS_LEN) > 0)
                sorted = 0;
            n++;
        }
        if (i == g->last)
            break;
    }
    if (n == 0)
        return 0;
    if (n == 1) {
        MDB_val v = {IX_TPOS_LEN, vals};
        return mdb_cursor_put(c, &k, &v, 0);
    }
    if (!sorted)
        qsort(vals, n, IX_TPOS_LEN, tpos_cmp);
    unsigned flags = MDB_MULTIPLE;
    if (n >= 16) {
        /* Values after every existing one (the common case: time goes
         * forward) are appended without searching the duplicates. */
        MDB_val kk = k, last;
        int rc = mdb_cursor_get(c, &kk, &last, MDB_SET_KEY);
        if (rc == MDB_NOTFOUND ||
            (rc == 0 && (rc = mdb_cursor_get(c, &kk, &last, MDB_LAST_DUP)) == 0 &&
             memcmp(last.mv_data, vals, IX_TPOS_LEN) < 0))
            flags |= MDB_APPENDDUP;
        else if (rc)
            return rc;
    }
    MDB_val v[2] = {{IX_TPOS_LEN, vals}, {n, NULL}};
    return mdb_cursor_put(c, &k, v, flags);
}

int annal_fold_write(annal_index *ix, MDB_txn *txn, const annal_fold_batch *b, uint64_t after)
{
    int rc = 0, cdb = -1;
    MDB_cursor *c = NULL;
    for (size_t i = 0; i < b->ngroups && !rc; i++) {
        const group *g = &b->groups[b->order[i]];
        if (g->db != cdb) {
            if (c)
                mdb_cursor_close(c);
            c = NULL;
            cdb = g->db;
            if ((rc = mdb_cursor_open(txn, ix->dbi[cdb], &c)))
                break;
        }
        rc = write_group(b, c, g, after);
    }
    if (c)
        mdb_cursor_close(c);
    return rc;
}
