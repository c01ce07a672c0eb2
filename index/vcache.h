/*
 * vcache.h - what the views' fold steps share (internal to index/):
 *
 * The write cache. A view entry is read, changed and written back many
 * times in one catch-up transaction (a tenant's view once per record). The
 * cache keeps each entry touched in the open write transaction in memory,
 * keyed by (database, key): the first ix_vc_get of a key reads it from the
 * transaction, later ones return the same entry, and ix_vc_flush writes the
 * changed ones in (database, key) order just before the commit. It belongs
 * to the transaction: after a commit or an abort (a full map included) it
 * is emptied, so a replayed transaction starts from what LMDB holds.
 *
 * The codecs. A view value is its struct's fields in a fixed order (the
 * field tables of vcodec.c, INDEX.md section 5): integers little-endian in
 * their width, strings as one length byte and the bytes.
 *
 * Returns: 0, an LMDB code or an annal code (internal.h), like the rest of
 * index/.
 */
#ifndef ANNAL_INDEX_VCACHE_H
#define ANNAL_INDEX_VCACHE_H

#include "index/internal.h"
#include "index/views.h"

#include <stdint.h>
#include <string.h>

typedef struct ix_ventry {
    unsigned char *val;   /* the value (malloc'd, vcap bytes), vlen bytes used */
    size_t vlen, vcap;
    uint8_t db;
    uint8_t present;      /* the entry exists (as read, or as changed) */
    uint8_t dirty;        /* changed since read: written by ix_vc_flush */
    void *obj;            /* the decoded view struct (ix_vc_obj), packed at flush */
    uint16_t klen;
    unsigned char key[];  /* klen bytes */
} ix_ventry;

/* The entry (db, key): read from txn on first use. *out stays valid until
 * the next flush or reset. */
int ix_vc_get(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
              ix_ventry **out);
/* The entry (db, key) of a view database with a struct codec (run,
 * incident, limit, spend, tenant, proposal, usage), decoded: e->obj points to
 * the struct (zeroed when the entry does not exist). Change it in place and
 * call ix_vc_touch; the flush packs it. */
int ix_vc_obj(annal_index *ix, MDB_txn *txn, enum ix_db db, const unsigned char *key, size_t klen,
              ix_ventry **out);
static inline void ix_vc_touch(ix_ventry *e)
{
    e->present = 1;
    e->dirty = 1;
}
/* A new entry (db, key) with value val[0..len): for keys that are never
 * written twice (cost facts, ledger entries); no read of the txn. */
int ix_vc_put_new(annal_index *ix, enum ix_db db, const unsigned char *key, size_t klen, const void *val,
                  size_t len);
/* Set the entry's value (copied) / remove it. */
int ix_vc_set(ix_ventry *e, const void *val, size_t len);
void ix_vc_del(ix_ventry *e);
/* Write every changed entry into txn, in (db, key) order, and empty the
 * cache. */
int ix_vc_flush(annal_index *ix, MDB_txn *txn);
/* Empty the cache without writing (abort). */
void ix_vc_reset(annal_index *ix);
void ix_vc_free(annal_index *ix);

/* ---- codecs (vcodec.c). pack returns the length written into
 * buf[IX_VAL_MAX]; unpack returns 0, or ANNAL_EINDEX when the bytes are not
 * a valid value (a damaged index). A zero-length value unpacks as a zeroed
 * struct (an entry that does not exist yet). */
#define IX_VAL_MAX 4096

size_t ix_pack_run(const annal_run_view *v, unsigned char *buf);
int ix_unpack_run(const unsigned char *p, size_t n, annal_run_view *v);
size_t ix_pack_incident(const annal_incident_view *v, unsigned char *buf);
int ix_unpack_incident(const unsigned char *p, size_t n, annal_incident_view *v);
size_t ix_pack_limit(const annal_limit_view *v, unsigned char *buf);
int ix_unpack_limit(const unsigned char *p, size_t n, annal_limit_view *v);
size_t ix_pack_spend(const annal_limit_spend *v, unsigned char *buf);
int ix_unpack_spend(const unsigned char *p, size_t n, annal_limit_spend *v);
size_t ix_pack_tenant(const annal_tenant_view *v, unsigned char *buf);
int ix_unpack_tenant(const unsigned char *p, size_t n, annal_tenant_view *v);
size_t ix_pack_proposal(const annal_proposal_view *v, unsigned char *buf);
int ix_unpack_proposal(const unsigned char *p, size_t n, annal_proposal_view *v);
size_t ix_pack_cost(const annal_cost_fact *v, unsigned char *buf);   /* time and seq are in the key */
int ix_unpack_cost(const unsigned char *p, size_t n, annal_cost_fact *v);
size_t ix_pack_usage(const annal_usage_hour *v, unsigned char *buf); /* hour is in the key */
int ix_unpack_usage(const unsigned char *p, size_t n, annal_usage_hour *v);
size_t ix_pack_ledger(const annal_ledger_entry *v, unsigned char *buf); /* time and seq in the key */
int ix_unpack_ledger(const unsigned char *p, size_t n, annal_ledger_entry *v);

/* a + b, saturating at the int64 bounds: sums of hostile amounts never
 * overflow (money and tokens are validated >= 0, so sums only grow). */
static inline int64_t ix_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Set s to the raw JSON string bytes p[0..n), cut to ANNAL_VIEW_STR_MAX at
 * a character and escape boundary. */
void ix_vstr_set(annal_vstr *s, const char *p, size_t n);
static inline int ix_vstr_eq(const annal_vstr *s, const char *p, size_t n)
{
    return s->n == n && (n == 0 || memcmp(s->s, p, n) == 0);
}

/* ---- the fold's view step (vfold.c): every view of record r. */
struct annal_fold_rec;
int ix_views_apply(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r);

/* ---- the rules (rules.c, views.h "rules"), called by the view step at
 * the moment each rule looks at the log. They add pending derived events
 * (IX_PENDING) through the cache and set the view flags passed to them. */
#define IX_DAY_NS 86400000000000LL

/* The days cur_day..(new day - 1) of tenant tv closed at record r: tv's ring
 * holds their spend. Updates tv->last_spike_day, last_drift_day. */
int ix_rule_day_close(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r,
                      annal_tenant_view *tv, int64_t day);
/* Spend s of limit l (id lid) after CostRecorded r; may set s->flags. */
int ix_rule_budget(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r,
                   const annal_tenant_view *tv, const char *lid, size_t ln, const annal_limit_view *l,
                   annal_limit_spend *s);
/* RunFailed r of run rv (not yet derived): sets rv->incident_derived. */
int ix_rule_run_failed(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r,
                       annal_run_view *rv);
/* IncidentCreated r of severity HIGH or CRITICAL: sets iv->proposal_derived. */
int ix_rule_proposal(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r,
                     annal_incident_view *iv);
/* Record r has an event_id: if it is a pending derived event, it is no
 * longer pending. */
int ix_rule_landed(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r);

#endif
