/*
 * vcache.c - the views' write cache of one write transaction (vcache.h).
 */
#include "index/vcache.h"

#include <stdlib.h>
#include <string.h>

struct ix_vcache {
    ix_ventry **slots;   /* open addressing, power of two */
    size_t cap, n;
};

static uint64_t hash(unsigned db, const unsigned char *k, size_t n)
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

static int grow(struct ix_vcache *c)
{
    size_t nc = c->cap ? c->cap * 2 : 4096;
    ix_ventry **ns = calloc(nc, sizeof(*ns));
    if (!ns)
        return ANNAL_ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        ix_ventry *e = c->slots[i];
        if (!e)
            continue;
        size_t h = hash(e->db, e->key, e->klen) & (nc - 1);
        while (ns[h])
            h = (h + 1) & (nc - 1);
        ns[h] = e;
    }
    free(c->slots);
    c->slots = ns;
    c->cap = nc;
    return 0;
}

static int lookup(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
                  int read, ix_ventry **out);

int ix_vc_get(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
              ix_ventry **out)
{
    return lookup(ix, txn, db, key, klen, 1, out);
}

int ix_vc_put_new(annal_index *ix, enum ix_db db, const unsigned char *key, size_t klen, const void *val,
                  size_t len)
{
    ix_ventry *e;
    int rc = lookup(ix, NULL, db, key, klen, 0, &e);
    return rc ? rc : ix_vc_set(e, val, len);
}

static int lookup(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
                  int read, ix_ventry **out)
{
    struct ix_vcache *c = ix->vc;
    if (!c) {
        if (!(c = calloc(1, sizeof(*c))))
            return ANNAL_ENOMEM;
        ix->vc = c;
    }
    if (2 * (c->n + 1) > c->cap && grow(c))
        return ANNAL_ENOMEM;
    size_t h = hash(db, key, klen) & (c->cap - 1);
    for (ix_ventry *e; (e = c->slots[h]); h = (h + 1) & (c->cap - 1))
        if (e->db == db && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *out = e;
            return 0;
        }
    ix_ventry *e = malloc(sizeof(*e) + klen);
    if (!e)
        return ANNAL_ENOMEM;
    memset(e, 0, sizeof(*e));
    e->db = (uint8_t)db;
    e->klen = (uint16_t)klen;
    memcpy(e->key, key, klen);
    MDB_val k = {klen, (void *)key}, v;
    int rc = read ? mdb_get(txn, ix->dbi[db], &k, &v) : MDB_NOTFOUND;
    if (rc == 0) {
        if (ix_vc_set(e, v.mv_data, v.mv_size)) {
            free(e);
            return ANNAL_ENOMEM;
        }
        e->dirty = 0;
    } else if (rc != MDB_NOTFOUND) {
        free(e);
        return rc;
    }
    c->slots[h] = e;
    c->n++;
    *out = e;
    return 0;
}

/* The struct codecs by database (NULL: a database of raw values). */
typedef struct codec {
    size_t size;
    size_t (*pack)(const void *v, unsigned char *buf);
    int (*unpack)(const unsigned char *p, size_t n, void *v);
} codec;

#define C(T, name) {sizeof(T), (size_t(*)(const void *, unsigned char *))ix_pack_##name, \
                    (int (*)(const unsigned char *, size_t, void *))ix_unpack_##name}
static const codec codecs[IX_NDB] = {
    [IX_V_RUN] = C(annal_run_view, run),
    [IX_V_INCIDENT] = C(annal_incident_view, incident),
    [IX_V_LIMIT] = C(annal_limit_view, limit),
    [IX_V_SPEND] = C(annal_limit_spend, spend),
    [IX_V_TENANT] = C(annal_tenant_view, tenant),
    [IX_V_PROPOSAL] = C(annal_proposal_view, proposal),
    [IX_V_USAGE] = C(annal_usage_hour, usage),
};

int ix_vc_obj(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
              ix_ventry **out)
{
    int rc = ix_vc_get(ix, txn, db, key, klen, out);
    ix_ventry *e = *out;
    if (rc || e->obj)
        return rc;
    const codec *c = &codecs[db];
    if (!c->size)
        return ANNAL_EINVAL;
    if (!(e->obj = malloc(c->size)))
        return ANNAL_ENOMEM;
    return c->unpack(e->val, e->present ? e->vlen : 0, e->obj);
}

int ix_vc_set(ix_ventry *e, const void *val, size_t len)
{
    if (len > e->vcap) {
        size_t nc = len < 64 ? 64 : len;
        unsigned char *nv = realloc(e->val, nc);
        if (!nv)
            return ANNAL_ENOMEM;
        e->val = nv;
        e->vcap = nc;
    }
    if (len)
        memcpy(e->val, val, len);
    e->vlen = len;
    e->present = 1;
    e->dirty = 1;
    return 0;
}

void ix_vc_del(ix_ventry *e)
{
    e->vlen = 0;
    e->present = 0;
    e->dirty = 1;
}

static int entry_cmp(const void *a, const void *b)
{
    const ix_ventry *x = *(ix_ventry *const *)a, *y = *(ix_ventry *const *)b;
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

int ix_vc_flush(annal_index *ix, MDB_txn *txn)
{
    struct ix_vcache *c = ix->vc;
    if (!c || !c->n)
        return 0;
    ix_ventry **list = malloc(c->n * sizeof(*list));
    if (!list)
        return ANNAL_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i] && c->slots[i]->dirty)
            list[m++] = c->slots[i];
    qsort(list, m, sizeof(*list), entry_cmp);
    int rc = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        ix_ventry *e = list[i];
        MDB_val k = {e->klen, e->key};
        if (e->present && e->obj) {
            unsigned char buf[IX_VAL_MAX];
            MDB_val v = {codecs[e->db].pack(e->obj, buf), buf};
            rc = mdb_put(txn, ix->dbi[e->db], &k, &v, 0);
        } else if (e->present) {
            MDB_val v = {e->vlen, e->val};
            rc = mdb_put(txn, ix->dbi[e->db], &k, &v, 0);
        } else {
            rc = mdb_del(txn, ix->dbi[e->db], &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    free(list);
    ix_vc_reset(ix);
    return rc;
}

void ix_vc_reset(annal_index *ix)
{
    struct ix_vcache *c = ix->vc;
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i]) {
            free(c->slots[i]->val);
            free(c->slots[i]->obj);
            free(c->slots[i]);
            c->slots[i] = NULL;
        }
    c->n = 0;
}

void ix_vc_free(annal_index *ix)
{
    if (!ix->vc)
        return;
    ix_vc_reset(ix);
    free(ix->vc->slots);
    free(ix->vc);
    ix->vc = NULL;
}
