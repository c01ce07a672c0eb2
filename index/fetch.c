/*
 * fetch.c - a record by seq, from the log (store/reader.h), through a small
 * pool of readers so that several threads can fetch at once. The pool's
 * readers share the index's block cache (ix->bcache, store/bcache.h), so a
 * block decompressed for one fetch serves every later fetch of a record in
 * it, from any thread, until it is evicted. (The catch-up's reader,
 * ix->reader, reads the log sequentially once and stays uncached.)
 */
#include "index/internal.h"

#include <stdlib.h>
#include <string.h>

static int take(annal_index *ix, annal_reader **r)
{
    pthread_mutex_lock(&ix->pool_lock);
    *r = ix->npool ? ix->pool[--ix->npool] : NULL;
    pthread_mutex_unlock(&ix->pool_lock);
    if (*r)
        return ANNAL_OK;
    int rc = annal_reader_open(ix->dir, r);
    if (rc == ANNAL_OK && (rc = annal_reader_set_cache(*r, ix->bcache))) {
        annal_reader_close(*r);
        *r = NULL;
    }
    return rc;
}

static void give_back(annal_index *ix, annal_reader *r)
{
    pthread_mutex_lock(&ix->pool_lock);
    if (ix->npool < IX_READER_POOL) {
        ix->pool[ix->npool++] = r;
        r = NULL;
    }
    pthread_mutex_unlock(&ix->pool_lock);
    annal_reader_close(r);
}

int annal_index_event(annal_index *ix, const char *tenant, uint64_t seq, char **rec, size_t *len)
{
    if (!ix || !rec || !len)
        return ANNAL_EINVAL;
    *rec = NULL;
    *len = 0;
    annal_reader *r;
    int rc = take(ix, &r);
    if (rc)
        return rc;
    const char *p;
    size_t n;
    if ((rc = annal_reader_get(r, seq, &p, &n)) == ANNAL_OK && tenant) {
        annal_event ev;
        if (annal_record_parse(p, n, &ev, NULL) != ANNAL_OK)
            rc = ANNAL_ECORRUPT;
        else if (ev.tenant_id.n != strlen(tenant) || memcmp(ev.tenant_id.p, tenant, ev.tenant_id.n) != 0)
            rc = ANNAL_ENOTFOUND; /* another tenant's: as if it did not exist */
    }
    if (rc == ANNAL_OK) {
        if ((*rec = malloc(n ? n : 1)))
            memcpy(*rec, p, *len = n);
        else
            rc = ANNAL_ENOMEM;
    }
    give_back(ix, r);
    return rc;
}
