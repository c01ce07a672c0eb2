/*
 * env.c - the LMDB environment: open, the named databases and the format
 * check, transactions with map growth, the meta records, close.
 */
#include "index/internal.h"
#include "index/vcache.h"

#include "store/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DUPS (MDB_DUPSORT | MDB_DUPFIXED)
const ix_db_desc ix_dbs[IX_NDB] = {
    [IX_META] = {"meta", 0},
    [IX_EVENT_ID] = {"event_id", 0},
    [IX_TIMELINE] = {"timeline", DUPS},
    [IX_TYPE] = {"type", DUPS},
    [IX_RUN] = {"run", DUPS},
    [IX_INCIDENT] = {"incident", DUPS},
    [IX_API_KEY] = {"api_key", DUPS},
    [IX_CORRELATION] = {"correlation", DUPS},
    [IX_V_RUN] = {"v_run", 0},
    [IX_V_INCIDENT] = {"v_incident", 0},
    [IX_V_INC_RUN] = {"v_incident_run", 0},
    [IX_V_LIMIT] = {"v_limit", 0},
    [IX_V_SPEND] = {"v_spend", 0},
    [IX_V_TENANT] = {"v_tenant", 0},
    [IX_V_TLIMITS] = {"v_tenant_limits", 0},
    [IX_V_PROPOSAL] = {"v_proposal", 0},
    [IX_V_COST] = {"v_cost", 0},
    [IX_V_USAGE] = {"v_usage", 0},
    [IX_V_LEDGER] = {"v_ledger", 0},
    [IX_V_QUEUE] = {"v_queue", 0},
    [IX_PENDING] = {"pending", 0},
    [IX_MERKLE] = {"merkle", 0},
};

static const char META_FORMAT[] = "format", META_APPLIED[] = "applied";

int ix_err(int rc)
{
    if (rc == 0)
        return ANNAL_OK;
    if (rc > 0) {
        if (rc == ENOMEM)
            return ANNAL_ENOMEM;
        errno = rc;
        return ANNAL_EIO;
    }
    if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE) {
        switch (rc) {
        case MDB_NOTFOUND: return ANNAL_ENOTFOUND;
        case MDB_MAP_FULL:
        case MDB_TXN_FULL: return ANNAL_ENOMEM;
        case MDB_READERS_FULL: errno = EAGAIN; return ANNAL_EIO;
        default: return ANNAL_EINDEX; /* corrupted, incompatible, panic, ... */
        }
    }
    return rc; /* already an annal code */
}

size_t ix_key(unsigned char *key, const char *tenant, size_t tn, const char *id, size_t idn)
{
    memcpy(key, tenant, tn);
    key[tn] = 0;
    if (idn)
        memcpy(key + tn + 1, id, idn);
    return tn + 1 + idn;
}

int ix_valid_id(const char *s, size_t n)
{
    if (!s || n < 1 || n > ANNAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- transactions */

/* Double the map, unless another thread did since `seen`; seen 0: adopt
 * the size another process grew the map to. */
int ix_grow(annal_index *ix, size_t seen)
{
    pthread_rwlock_wrlock(&ix->map_lock);
    MDB_envinfo info;
    int rc = mdb_env_info(ix->env, &info);
    if (rc == 0 && seen == 0)
        rc = mdb_env_set_mapsize(ix->env, 0);
    else if (rc == 0 && info.me_mapsize == seen) {
        if (seen >= IX_MAP_MAX)
            rc = ANNAL_ENOMEM;
        else
            rc = mdb_env_set_mapsize(ix->env, seen * 2 > IX_MAP_MAX ? IX_MAP_MAX : seen * 2);
    }
    pthread_rwlock_unlock(&ix->map_lock);
    return rc;
}

int ix_grow_to(annal_index *ix, size_t size)
{
    size = size > IX_MAP_MAX ? IX_MAP_MAX : (size + 4095) & ~(size_t)4095;
    pthread_rwlock_wrlock(&ix->map_lock);
    MDB_envinfo info;
    int rc = mdb_env_info(ix->env, &info);
    if (rc == 0 && info.me_mapsize < size)
        rc = mdb_env_set_mapsize(ix->env, size);
    pthread_rwlock_unlock(&ix->map_lock);
    return rc;
}

int ix_read_begin(annal_index *ix, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&ix->map_lock);
        int rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&ix->map_lock);
        if (rc != MDB_MAP_RESIZED || tries == 3)
            return rc;
        if ((rc = ix_grow(ix, 0)))
            return rc;
    }
}

void ix_read_end(annal_index *ix, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&ix->map_lock);
}

int ix_write(annal_index *ix, ix_write_fn fn, void *ctx)
{
    for (int resized = 0;;) {
        pthread_rwlock_rdlock(&ix->map_lock);
        MDB_envinfo info;
        MDB_txn *txn;
        int rc = mdb_env_info(ix->env, &info);
        if (rc == 0 && (rc = mdb_txn_begin(ix->env, NULL, 0, &txn)) == 0) {
            if ((rc = fn(ix, txn, ctx)) == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&ix->map_lock);
        if (rc == MDB_MAP_FULL)
            rc = ix_grow(ix, info.me_mapsize);
        else if (rc == MDB_MAP_RESIZED && resized++ < 3)
            rc = ix_grow(ix, 0);
        else
            return rc;
        if (rc)
            return rc;
    }
}

/* ---------------------------------------------------------------- meta */

int ix_get_applied(annal_index *ix, MDB_txn *txn, ix_applied *a)
{
    MDB_val k = {sizeof(META_APPLIED) - 1, (void *)META_APPLIED}, v;
    int rc = mdb_get(txn, ix->dbi[IX_META], &k, &v);
    memset(a, 0, sizeof(*a));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size != 40)
        return ANNAL_EINDEX;
    a->seq = ix_get_be64(v.mv_data);
    memcpy(a->leaf, (const unsigned char *)v.mv_data + 8, 32);
    return 0;
}

int ix_put_applied(annal_index *ix, MDB_txn *txn, const ix_applied *a)
{
    unsigned char buf[40];
    ix_be64(buf, a->seq);
    memcpy(buf + 8, a->leaf, 32);
    MDB_val k = {sizeof(META_APPLIED) - 1, (void *)META_APPLIED}, v = {sizeof(buf), buf};
    return mdb_put(txn, ix->dbi[IX_META], &k, &v, 0);
}

int ix_check_log(annal_reader *r, const ix_applied *a, char *err, size_t errlen)
{
    if (a->seq == 0)
        return ANNAL_OK;
    const char *rec;
    size_t len;
    int rc = annal_reader_get(r, a->seq, &rec, &len);
    if (rc == ANNAL_ENOTFOUND) {
        uint64_t last = 0;
        annal_reader_last(r, &last);
        if (err)
            snprintf(err, errlen,
                     "the index does not match the log: it has applied seq %llu but the log ends at seq "
                     "%llu: run annal reindex", (unsigned long long)a->seq, (unsigned long long)last);
        return ANNAL_EINDEX;
    }
    if (rc)
        return rc;
    unsigned char leaf[32];
    annal_leaf_hash(rec, len, leaf);
    if (memcmp(leaf, a->leaf, 32) != 0) {
        if (err)
            snprintf(err, errlen,
                     "the index does not match the log: the log's record at seq %llu is not the one the "
                     "index was built from: run annal reindex", (unsigned long long)a->seq);
        return ANNAL_EINDEX;
    }
    return ANNAL_OK;
}

/* ---------------------------------------------------------------- open */

static int get_format(annal_index *ix, MDB_txn *txn, uint32_t *fmt)
{
    MDB_val k = {sizeof(META_FORMAT) - 1, (void *)META_FORMAT}, v;
    int rc = mdb_get(txn, ix->dbi[IX_META], &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != 4)
        return ANNAL_EINDEX;
    const unsigned char *p = v.mv_data;
    *fmt = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return 0;
}

/* The common case: every database exists and the format matches; done in
 * a read txn (whose commit keeps the handles), so that opening never waits
 * for another process's catch-up. Returns MDB_NOTFOUND when the index must
 * be created. */
static int open_existing(annal_index *ix)
{
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return rc;
    uint32_t fmt;
    for (int i = 0; i < IX_NDB && !rc; i++)
        rc = mdb_dbi_open(txn, ix_dbs[i].name, ix_dbs[i].flags, &ix->dbi[i]);
    if (rc == 0 && (rc = get_format(ix, txn, &fmt)) == 0 && fmt != ANNAL_INDEX_FORMAT)
        rc = ANNAL_EVERSION;
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        pthread_rwlock_unlock(&ix->map_lock);
        return rc;
    }
    ix_read_end(ix, txn);
    return rc;
}

static int create_fn(annal_index *ix, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    MDB_dbi main;
    MDB_stat st;
    int rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc || (rc = mdb_stat(txn, main, &st)))
        return rc;
    size_t before = st.ms_entries;
    if ((rc = mdb_dbi_open(txn, ix_dbs[IX_META].name, MDB_CREATE, &ix->dbi[IX_META])))
        return rc;
    uint32_t fmt;
    unsigned create = MDB_CREATE;
    rc = get_format(ix, txn, &fmt);
    if (rc == 0 && fmt != ANNAL_INDEX_FORMAT)
        return ANNAL_EVERSION;
    if (rc == 0) {
        create = 0; /* an index of ours that lacks a database: damaged, not new */
    } else if (rc == MDB_NOTFOUND) {
        if (before) /* databases but no format: not an index of ours */
            return ANNAL_EVERSION;
        unsigned char f[4] = {0, 0, 0, ANNAL_INDEX_FORMAT};
        MDB_val k = {sizeof(META_FORMAT) - 1, (void *)META_FORMAT}, v = {4, f};
        ix_applied a = {0};
        if ((rc = mdb_put(txn, ix->dbi[IX_META], &k, &v, 0)) || (rc = ix_put_applied(ix, txn, &a)))
            return rc;
    } else if (rc) {
        return rc;
    }
    for (int i = 1; i < IX_NDB && !rc; i++)
        rc = mdb_dbi_open(txn, ix_dbs[i].name, ix_dbs[i].flags | create, &ix->dbi[i]);
    return rc == MDB_NOTFOUND ? ANNAL_EINDEX : rc;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, int rc)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, a, annal_index_strerror(rc));
}

int ix_open_env(const char *dir, const char *env_dir, const annal_index_options *opt, annal_index **out,
                char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    annal_index *ix = calloc(1, sizeof(*ix));
    if (!ix || !(ix->dir = strdup(dir)) || !(ix->env_dir = strdup(env_dir))) {
        if (ix)
            free(ix->dir);
        free(ix);
        return ANNAL_ENOMEM;
    }
    ix->env_fd = -1;
    if (opt)
        ix->opt = *opt;
    if (!ix->opt.map_size)
        ix->opt.map_size = IX_MAP_DEFAULT;
    ix->opt.map_size = (ix->opt.map_size + 4095) & ~(size_t)4095;
    if (!ix->opt.txn_records)
        ix->opt.txn_records = IX_TXN_RECORDS_DEFAULT;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->map_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&ix->write_lock, NULL);
    pthread_mutex_init(&ix->pool_lock, NULL);

    int rc = annal_reader_open(dir, &ix->reader);
    if (rc) {
        set_err(err, errlen,
                rc == ANNAL_ENOTFOUND ? "%s holds no log (no segment files): %s" : "cannot read the log in %s: %s",
                dir, rc);
        goto fail;
    }
    if ((rc = annal_bcache_create(0, &ix->bcache))) {
        set_err(err, errlen, "cannot create the block cache for %s: %s", dir, rc);
        goto fail;
    }
    if (mkdir(env_dir, 0755) < 0 && errno != EEXIST) {
        rc = ANNAL_EIO;
        set_err(err, errlen, "cannot create %s: %s", env_dir, rc);
        goto fail;
    }
    /* Open through /proc/self/fd/N of the directory, so that LMDB's two
     * files (data.mdb, lock.mdb) come from the same directory even if
     * `annal reindex` swaps it at this very moment. */
    ix->env_fd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ix->env_fd < 0) {
        rc = ANNAL_EIO;
        set_err(err, errlen, "cannot open %s: %s", env_dir, rc);
        goto fail;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", ix->env_fd);
    const char *open_path = access(path, X_OK) == 0 ? path : env_dir;
    if ((rc = mdb_env_create(&ix->env)) || (rc = mdb_env_set_maxdbs(ix->env, IX_NDB + 16)) ||
        (rc = mdb_env_set_maxreaders(ix->env, 1022)) || (rc = mdb_env_set_mapsize(ix->env, ix->opt.map_size)) ||
        (rc = mdb_env_open(ix->env, open_path, MDB_NOSYNC | MDB_NOTLS | MDB_WRITEMAP, 0644))) {
        rc = ix_err(rc);
        set_err(err, errlen, "cannot open the index in %s: %s", env_dir, rc);
        goto fail;
    }
    /* An existing environment keeps the size it grew to: adopt the size
     * stored in it (LMDB otherwise uses the one set before the open). */
    MDB_envinfo info;
    if ((rc = mdb_env_set_mapsize(ix->env, 0)) == 0 && (rc = mdb_env_info(ix->env, &info)) == 0 &&
        info.me_mapsize < ix->opt.map_size)
        rc = mdb_env_set_mapsize(ix->env, ix->opt.map_size);
    if (rc) {
        rc = ix_err(rc);
        set_err(err, errlen, "cannot open the index in %s: %s", env_dir, rc);
        goto fail;
    }
    int dead;
    mdb_reader_check(ix->env, &dead); /* slots of readers that died */
    rc = open_existing(ix);
    if (rc == MDB_NOTFOUND)
        rc = ix_write(ix, create_fn, NULL);
    if (rc) {
        rc = ix_err(rc);
        if (rc == ANNAL_EVERSION && err)
            snprintf(err, errlen, "the index in %s has another format than this build's (version %d): "
                     "run annal reindex", env_dir, ANNAL_INDEX_FORMAT);
        else
            set_err(err, errlen, "cannot open the index in %s: %s", env_dir, rc);
        goto fail;
    }
    *out = ix;
    return ANNAL_OK;
fail:
    annal_index_close(ix);
    return rc;
}

int annal_index_open(const char *dir, const annal_index_options *opt, annal_index **out, char *err,
                     size_t errlen)
{
    if (!out)
        return ANNAL_EINVAL;
    *out = NULL;
    if (!dir)
        return ANNAL_EINVAL;
    char *env_dir = NULL;
    if (asprintf(&env_dir, "%s/index", dir) < 0)
        return ANNAL_ENOMEM;
    annal_index *ix;
    int rc = ix_open_env(dir, env_dir, opt, &ix, err, errlen);
    free(env_dir);
    if (rc)
        return rc;
    MDB_txn *txn;
    ix_applied a = {0};
    if ((rc = ix_read_begin(ix, &txn)) == 0) {
        rc = ix_get_applied(ix, txn, &a);
        ix_read_end(ix, txn);
    }
    if (rc == 0)
        rc = ix_check_log(ix->reader, &a, err, errlen);
    else if (err && errlen)
        snprintf(err, errlen, "cannot read the index in %s/index: %s", dir, annal_index_strerror(ix_err(rc)));
    rc = ix_err(rc);
    if (rc) {
        if (rc != ANNAL_EINDEX && err && !err[0])
            snprintf(err, errlen, "cannot read the log's record at the index's applied seq %llu: %s",
                     (unsigned long long)a.seq, annal_index_strerror(rc));
        annal_index_close(ix);
        return rc;
    }
    *out = ix;
    return ANNAL_OK;
}

int annal_index_applied(annal_index *ix, uint64_t *applied)
{
    if (!ix || !applied)
        return ANNAL_EINVAL;
    MDB_txn *txn;
    ix_applied a;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    rc = ix_get_applied(ix, txn, &a);
    ix_read_end(ix, txn);
    *applied = a.seq;
    return ix_err(rc);
}

void annal_index_close(annal_index *ix)
{
    if (!ix)
        return;
    if (ix->env && ix->wrote)
        mdb_env_sync(ix->env, 1); /* what this handle wrote survives a later power loss */
    if (ix->env)
        mdb_env_close(ix->env);
    if (ix->env_fd >= 0)
        close(ix->env_fd);
    annal_reader_close(ix->reader);
    for (size_t i = 0; i < ix->npool; i++)
        annal_reader_close(ix->pool[i]);
    annal_bcache_free(ix->bcache); /* after the readers that use it */
    ix_vc_free(ix);
    ix_tree_cache_free(ix->tree_cache);
    pthread_rwlock_destroy(&ix->map_lock);
    pthread_mutex_destroy(&ix->write_lock);
    pthread_mutex_destroy(&ix->pool_lock);
    free(ix->dir);
    free(ix->env_dir);
    free(ix);
}
