/*
 * internal.h - what the files of index/ share: the handle, the table of
 * named databases, transactions with map growth, key encoding.
 *
 * Return codes inside index/: functions return either an annal code
 * (store/error.h, ANNAL_EINDEX) or an LMDB code (MDB_*, or a positive
 * errno). The ranges never meet (annal: -30001..-30099; LMDB:
 * -30799..-30780; errno > 0), so a function may pass on either and the
 * public functions map the result with ix_err() once.
 */
#ifndef ANNAL_INDEX_INTERNAL_H
#define ANNAL_INDEX_INTERNAL_H

#include "index/index.h"
#include "store/event.h"
#include "store/bcache.h"
#include "store/reader.h"

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The named databases, in digest and stats order. Adding one (for a view)
 * means a new entry here, in INDEX.md, and a new ANNAL_INDEX_FORMAT. */
enum ix_db {
    IX_META,        /* "meta": format, applied seq + leaf */
    IX_EVENT_ID,    /* "event_id": tenant\0event_id -> seq */
    IX_TIMELINE,    /* "timeline": tenant\0 -> (time, seq) dups */
    IX_TYPE,        /* "type": tenant\0event_type -> (time, seq) dups */
    IX_RUN,         /* "run": tenant\0run_id -> (time, seq) dups */
    IX_INCIDENT,    /* "incident": tenant\0incident_id -> ... */
    IX_API_KEY,     /* "api_key": tenant\0api_key_id -> ... */
    IX_CORRELATION, /* "correlation": tenant\0correlation_id -> ... */
    /* The views and the rules' state (index/views.h, INDEX.md section 5). */
    IX_V_RUN,       /* "v_run": tenant\0run_id -> run view */
    IX_V_INCIDENT,  /* "v_incident": tenant\0incident_id -> incident view */
    IX_V_INC_RUN,   /* "v_incident_run": tenant\0incident_id\0run_id -> cents */
    IX_V_LIMIT,     /* "v_limit": tenant\0limit_id -> limit view */
    IX_V_SPEND,     /* "v_spend": tenant\0limit_id\0be64(period) -> spend */
    IX_V_TENANT,    /* "v_tenant": tenant\0 -> tenant view */
    IX_V_TLIMITS,   /* "v_tenant_limits": tenant\0 -> the tenant's limit ids */
    IX_V_PROPOSAL,  /* "v_proposal": tenant\0proposal_id -> proposal view */
    IX_V_COST,      /* "v_cost": tenant\0tpos -> cost fact */
    IX_V_USAGE,     /* "v_usage": tenant\0be64(hour) -> usage counters */
    IX_V_LEDGER,    /* "v_ledger": tenant\0tpos -> ledger entry */
    IX_V_QUEUE,     /* "v_queue": tenant\0kind be64(seq) -> id */
    IX_PENDING,     /* "pending": tenant\0event_id -> derived event not yet in the log */
    /* The Merkle tree (index/tree.c, INDEX.md section 6). */
    IX_MERKLE,      /* "merkle": u8(level) be64(index) -> 32-byte node hash */
    IX_NDB
};
_Static_assert(IX_NDB == ANNAL_INDEX_NDBS, "index.h must count the databases");

typedef struct ix_db_desc {
    const char *name;
    unsigned flags; /* for mdb_dbi_open, without MDB_CREATE */
} ix_db_desc;

extern const ix_db_desc ix_dbs[IX_NDB];

#define IX_READER_POOL 8

struct annal_index {
    char *dir;                 /* the data directory: the log */
    char *env_dir;             /* where the environment is: dir/index or dir/index.tmp */
    int env_fd;                /* O_DIRECTORY fd pinning the directory the env was opened in */
    MDB_env *env;
    MDB_dbi dbi[IX_NDB];
    annal_index_options opt;
    pthread_rwlock_t map_lock; /* every txn of this process holds it shared; growing the map, exclusive */
    pthread_mutex_t write_lock;/* one catch-up at a time in this process */
    annal_reader *reader;      /* the catch-up's reader, under write_lock */
    pthread_mutex_t pool_lock; /* readers for annal_index_event */
    annal_reader *pool[IX_READER_POOL];
    size_t npool;
    annal_bcache *bcache;      /* decompressed blocks shared by the pool's readers (store/bcache.h) */
    int wrote;                 /* a catch-up committed: sync on close */
    struct ix_vcache *vc;      /* the views' write cache of the open write txn (vcache.h) */
    struct ix_tree_cache *tree_cache; /* upper Merkle nodes read so far (tree.c); made on first use */
};

/* Largest map: growing past it fails with ANNAL_ENOMEM. */
#define IX_MAP_MAX ((size_t)1 << 40)
#define IX_MAP_DEFAULT ((size_t)64 << 20)
#define IX_TXN_RECORDS_DEFAULT 50000

/* Map an LMDB or annal code to an annal code (errno set for ANNAL_EIO). */
int ix_err(int rc);

/* Open the environment in env_dir for the log in dir (index/env.c); the
 * meta check against the log is done by annal_index_open. */
int ix_open_env(const char *dir, const char *env_dir, const annal_index_options *opt,
                annal_index **out, char *err, size_t errlen);

/* Read transactions: begin takes map_lock shared (MAP_RESIZED by another
 * process is handled); end aborts the txn and releases the lock. */
int ix_read_begin(annal_index *ix, MDB_txn **txn);
void ix_read_end(annal_index *ix, MDB_txn *txn);

/* Double the map (once no txn of this process is open), unless it changed
 * since it was `seen` bytes; seen 0: adopt the size another process grew
 * it to. Returns 0, an LMDB code, or ANNAL_ENOMEM past IX_MAP_MAX. */
int ix_grow(annal_index *ix, size_t seen);
/* Grow the map to at least size bytes (never shrinks it). */
int ix_grow_to(annal_index *ix, size_t size);

/* Run fn in a write transaction and commit it. When the map is full (in fn
 * or at commit) the txn is aborted, the map doubled and fn run again in a
 * new txn, so fn must depend only on its ctx and the txn. fn returns 0 to
 * commit, anything else to abort (that code is returned). */
typedef int (*ix_write_fn)(annal_index *ix, MDB_txn *txn, void *ctx);
int ix_write(annal_index *ix, ix_write_fn fn, void *ctx);

/* The meta record of the applied seq (INDEX.md). */
typedef struct ix_applied {
    uint64_t seq;
    unsigned char leaf[32];
} ix_applied;
int ix_get_applied(annal_index *ix, MDB_txn *txn, ix_applied *a);
int ix_put_applied(annal_index *ix, MDB_txn *txn, const ix_applied *a);

/* Check that the log's record at a->seq has leaf a->leaf, with reader r.
 * ANNAL_OK, ANNAL_EINDEX (err gets why), or the reader's error. */
int ix_check_log(annal_reader *r, const ix_applied *a, char *err, size_t errlen);

/* ---- keys and values (INDEX.md) */

#define IX_KEY_MAX (ANNAL_ID_MAX + 1 + ANNAL_ID_MAX)
#define IX_TPOS_LEN 16

static inline void ix_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint64_t ix_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* tenant || 0x00 || id into key[IX_KEY_MAX]; returns the length. The caller
 * checked the lengths (ids <= ANNAL_ID_MAX). */
size_t ix_key(unsigned char *key, const char *tenant, size_t tn, const char *id, size_t idn);

/* (time, seq) as 16 big-endian bytes: memcmp order is numeric order. */
static inline void ix_tpos(unsigned char v[IX_TPOS_LEN], int64_t time_ns, uint64_t seq)
{
    ix_be64(v, (uint64_t)time_ns);
    ix_be64(v + 8, seq);
}

/* 1..128 bytes of [A-Za-z0-9._:@/-]: the id rule of PRODUCT.md §1. */
int ix_valid_id(const char *s, size_t n);

/* ---- data fields of a record (data.c): the members of `data` the views
 * read, as raw string slices or integers (has_* set when present). */
typedef struct ix_data {
    annal_slice model, feature_tag, user_id, error_code, anomaly_type, severity, scope, scope_id,
        category, source, title, period, triggering_incident_id, limit_id;
    int64_t cost_cents, input_tokens, output_tokens, duration_ms, max_cents, warn_pct;
    uint8_t has_cost_cents, has_input_tokens, has_output_tokens, has_duration_ms, has_max_cents,
        has_warn_pct;
    annal_slice summary;  /* top-level summary */
} ix_data;

/* Fill d from the record's `data` object (and top-level summary). The
 * record was validated (annal_record_parse), so this trusts its syntax. */
void ix_data_get(const annal_event *ev, ix_data *d);

/* The value (as stored: quotes included for a string) of member `name`
 * among the members [p, end) of a validated compact JSON object (its inside,
 * without the braces); 0 when found, -1 otherwise. Names are compared as
 * stored (a name written with escapes is not found). */
int ix_json_member(const char *p, const char *end, const char *name, annal_slice *v);

/* Cursors (index/cursor.c). */
void ix_cursor_encode(int64_t time_ns, uint64_t seq, char out[ANNAL_INDEX_CURSOR_LEN + 1]);
int ix_cursor_decode(const char *s, int64_t *time_ns, uint64_t *seq);

/* ---- the Merkle tree (tree.c, INDEX.md section 6) */

/* The fold's tree step: the nodes record r completes. Returns like
 * annal_fold_apply. */
struct annal_fold_rec;
int ix_tree_apply(annal_index *ix, MDB_txn *txn, const struct annal_fold_rec *r);

/* The merkle database's key of node (level, index): be64 of its post-order
 * position. */
#define IX_TREE_KEY 8
void ix_tree_key(unsigned char k[IX_TREE_KEY], unsigned level, uint64_t index);

/* A cache of the complete nodes at levels >= IX_TREE_CACHE_LEVEL that
 * reads have met: every proof needs the few upper nodes, which post-order
 * keys scatter over the whole database (one cold B-tree search each). A
 * complete node never changes in an environment (the fold only appends and
 * a reindex builds another environment), so the cache is never stale.
 * Direct-mapped, IX_TREE_CACHE_SLOTS slots (48 bytes each), thread-safe. */
#define IX_TREE_CACHE_LEVEL 8
#define IX_TREE_CACHE_SLOTS 65536
struct ix_tree_cache *ix_tree_cache_new(void);
void ix_tree_cache_free(struct ix_tree_cache *c);

/* The node function (store/merkle.h) over a merkle database: ctx is an
 * ix_tree_ctx; cache may be NULL. Returns 0, ANNAL_EINDEX (node missing or
 * not 32 bytes) or an LMDB code. */
typedef struct ix_tree_ctx {
    MDB_txn *txn;
    MDB_dbi dbi;
    struct ix_tree_cache *cache;
} ix_tree_ctx;
int ix_tree_node(void *ctx, unsigned level, uint64_t index, unsigned char out[32]);

/* Remove a directory tree (index/rebuild.c); 0 or -1 with errno. */
int ix_rmtree(const char *path);

#endif
