/*
 * stats.c - counts, map use, and the digest of the whole index.
 */
#include "index/internal.h"

#include <openssl/evp.h>
#include <string.h>

int annal_index_stats_get(annal_index *ix, annal_index_stats *st)
{
    if (!ix || !st)
        return ANNAL_EINVAL;
    memset(st, 0, sizeof(*st));
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    ix_applied a;
    rc = ix_get_applied(ix, txn, &a);
    st->applied_seq = a.seq;
    for (int i = 0; i < IX_NDB && !rc; i++) {
        MDB_stat ms;
        st->db[i].name = ix_dbs[i].name;
        if ((rc = mdb_stat(txn, ix->dbi[i], &ms)) == 0)
            st->db[i].entries = ms.ms_entries;
    }
    MDB_envinfo info;
    MDB_stat es;
    if (!rc && !(rc = mdb_env_info(ix->env, &info)) && !(rc = mdb_env_stat(ix->env, &es))) {
        st->map_size = info.me_mapsize;
        st->page_size = es.ms_psize;
        st->map_used = ((uint64_t)info.me_last_pgno + 1) * es.ms_psize;
    }
    ix_read_end(ix, txn);
    if (rc)
        return ix_err(rc);
    /* The log's end, through a reader of the pool's kind (not the
     * catch-up's, which a concurrent catch-up may be using). */
    annal_reader *r;
    if ((rc = annal_reader_open(ix->dir, &r)))
        return rc;
    rc = annal_reader_last(r, &st->log_last_seq);
    annal_reader_close(r);
    return rc;
}

static void put_len(EVP_MD_CTX *h, size_t n)
{
    unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                          (unsigned char)n};
    EVP_DigestUpdate(h, b, 4);
}

/* INDEX.md "Digest": "annal-index-digest-v1\n", then for each database in
 * table order its name, then every item in key (and duplicate) order as
 * u32 key length, key, u32 value length, value; u32 lengths big-endian; a
 * database ends with four 0xff bytes. */
int annal_index_digest(annal_index *ix, unsigned char out[32])
{
    if (!ix || !out)
        return ANNAL_EINVAL;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (!h || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(h);
        return ANNAL_ENOMEM;
    }
    static const char magic[] = "annal-index-digest-v1\n";
    EVP_DigestUpdate(h, magic, sizeof(magic) - 1);
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn), began = rc == 0;
    for (int i = 0; i < IX_NDB && !rc; i++) {
        put_len(h, strlen(ix_dbs[i].name));
        EVP_DigestUpdate(h, ix_dbs[i].name, strlen(ix_dbs[i].name));
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, ix->dbi[i], &c)))
            break;
        MDB_val k, v;
        while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
            put_len(h, k.mv_size);
            EVP_DigestUpdate(h, k.mv_data, k.mv_size);
            put_len(h, v.mv_size);
            EVP_DigestUpdate(h, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(c);
        if (rc == MDB_NOTFOUND)
            rc = 0;
        EVP_DigestUpdate(h, "\xff\xff\xff\xff", 4);
    }
    if (began)
        ix_read_end(ix, txn);
    unsigned int n = 0;
    if (!rc && !EVP_DigestFinal_ex(h, out, &n))
        rc = ANNAL_ENOMEM;
    EVP_MD_CTX_free(h);
    return ix_err(rc);
}
