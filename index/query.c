/*
 * query.c - the list reads (timeline, link ids) and the event_id lookup:
 * one short read transaction each.
 */
#include "index/internal.h"

#include <stdlib.h>
#include <string.h>

void annal_index_page_free(annal_index_page *page)
{
    if (!page)
        return;
    free(page->items);
    memset(page, 0, sizeof(*page));
}

/* One list being read: the duplicates of one key. */
typedef struct src {
    MDB_cursor *c;
    MDB_val k;
    MDB_val v;   /* its current entry, while live */
    int live;
} src;

/* Advance s to its next entry in range (the first one when first is set:
 * at start or after it). */
static int src_next(src *s, int first, const unsigned char *start, int after, int64_t to)
{
    int rc;
    if (first) {
        s->v.mv_size = IX_TPOS_LEN;
        s->v.mv_data = (void *)start;
        rc = mdb_cursor_get(s->c, &s->k, &s->v, MDB_GET_BOTH_RANGE);
    } else {
        rc = mdb_cursor_get(s->c, &s->k, &s->v, MDB_NEXT_DUP);
    }
    for (;; rc = mdb_cursor_get(s->c, &s->k, &s->v, MDB_NEXT_DUP)) {
        s->live = 0;
        if (rc)
            return rc == MDB_NOTFOUND ? 0 : rc;
        if (s->v.mv_size != IX_TPOS_LEN)
            return ANNAL_EINDEX;
        if (after && memcmp(s->v.mv_data, start, IX_TPOS_LEN) == 0)
            continue; /* the cursor's own entry was on the previous page */
        s->live = (int64_t)ix_get_be64(s->v.mv_data) < to;
        return 0;
    }
}

/* The entries of several keys of db, merged in (time, seq) order, with
 * from <= time < to, after the cursor's position, at most limit of them. */
static int merge(MDB_txn *txn, MDB_dbi dbi, src *srcs, size_t nsrc, int64_t from, int64_t to,
                 const char *cursor, size_t limit, annal_index_page *page)
{
    unsigned char start[IX_TPOS_LEN];
    int64_t ct = 0;
    uint64_t cs = 0;
    int after = cursor && *cursor;
    if (after && ix_cursor_decode(cursor, &ct, &cs))
        return ANNAL_EINVAL;
    if (after && ct < from)
        after = 0; /* the range starts after the cursor */
    if (after)
        ix_tpos(start, ct, cs);
    else
        ix_tpos(start, from, 0);
    int rc = 0;
    for (size_t i = 0; i < nsrc && !rc; i++)
        if ((rc = mdb_cursor_open(txn, dbi, &srcs[i].c)) == 0)
            rc = src_next(&srcs[i], 1, start, after, to);
    if (!rc && !(page->items = malloc(limit * sizeof(*page->items))))
        rc = ANNAL_ENOMEM;
    int more = 0;
    while (!rc) {
        src *m = NULL;
        for (size_t i = 0; i < nsrc; i++)
            if (srcs[i].live && (!m || memcmp(srcs[i].v.mv_data, m->v.mv_data, IX_TPOS_LEN) < 0))
                m = &srcs[i];
        if (!m)
            break;
        if (page->n == limit) {
            more = 1;
            break;
        }
        page->items[page->n].time_ns = (int64_t)ix_get_be64(m->v.mv_data);
        page->items[page->n].seq = ix_get_be64((const unsigned char *)m->v.mv_data + 8);
        page->n++;
        rc = src_next(m, 0, start, after, to);
    }
    for (size_t i = 0; i < nsrc; i++)
        if (srcs[i].c)
            mdb_cursor_close(srcs[i].c);
    if (rc)
        return rc;
    if (more)
        ix_cursor_encode(page->items[page->n - 1].time_ns, page->items[page->n - 1].seq, page->next_cursor);
    return 0;
}

static int domain_of(const char *type, size_t n);

/* The type keys of tenant (tenant\0type) whose type is of domain. */
static int domain_keys(MDB_txn *txn, MDB_dbi dbi, const char *tenant, int domain, src **out, size_t *nout)
{
    unsigned char key[IX_KEY_MAX];
    size_t tn = strlen(tenant), n = 0, cap = 0;
    src *s = NULL;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return rc;
    MDB_val k = {ix_key(key, tenant, tn, NULL, 0), key}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP)) {
        if (k.mv_size <= tn + 1 || memcmp(k.mv_data, key, tn + 1) != 0)
            break; /* past the tenant's keys */
        if (domain_of((const char *)k.mv_data + tn + 1, k.mv_size - tn - 1) != domain)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            src *ns = realloc(s, cap * sizeof(*ns));
            if (!ns) {
                rc = ANNAL_ENOMEM;
                break;
            }
            s = ns;
        }
        s[n++] = (src){.k = k}; /* k points into the map: valid for the txn */
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    *nout = n;
    return 0;
}

/* The entries of key (or, when domain is set, of every tenant\0type key
 * whose type is of that domain) in db: one read transaction. */
static int scan(annal_index *ix, enum ix_db db, const unsigned char *key, size_t klen, const char *tenant,
                int domain, int64_t from, int64_t to, const char *cursor, size_t limit, annal_index_page *page)
{
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    src one = {.k = {klen, (void *)key}}, *srcs = &one;
    size_t nsrc = 1;
    if (domain)
        rc = domain_keys(txn, ix->dbi[db], tenant, domain, &srcs, &nsrc);
    if (!rc)
        rc = merge(txn, ix->dbi[db], srcs, nsrc, from, to, cursor, limit, page);
    if (srcs != &one)
        free(srcs);
    ix_read_end(ix, txn);
    if (rc) {
        annal_index_page_free(page);
        return ix_err(rc);
    }
    if (!page->n) {
        free(page->items);
        page->items = NULL;
    }
    return ANNAL_OK;
}

static int check_page_args(annal_index *ix, size_t *limit, annal_index_page *page)
{
    if (!page)
        return ANNAL_EINVAL;
    memset(page, 0, sizeof(*page));
    if (!ix || *limit > ANNAL_INDEX_LIMIT_MAX)
        return ANNAL_EINVAL;
    if (!*limit)
        *limit = ANNAL_INDEX_LIMIT_DEFAULT;
    return ANNAL_OK;
}

/* A type name: a registry name or a service type, 1..128 bytes of
 * [A-Za-z0-9._]. (An unknown one simply has no entries.) */
static int valid_type(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > ANNAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

/* The domain of a type name: registry types by table, dotted names are
 * service events. 0 when unknown. */
static int domain_of(const char *type, size_t n)
{
    static const unsigned char dom[ANNAL_EV_TYPE_COUNT] = {
        [ANNAL_EV_RUN_STARTED] = ANNAL_DOMAIN_ACTIVITY, [ANNAL_EV_RUN_COMPLETED] = ANNAL_DOMAIN_ACTIVITY,
        [ANNAL_EV_RUN_FAILED] = ANNAL_DOMAIN_ACTIVITY, [ANNAL_EV_COST_RECORDED] = ANNAL_DOMAIN_ANALYTICS,
        [ANNAL_EV_COST_ANOMALY_DETECTED] = ANNAL_DOMAIN_ANALYTICS,
        [ANNAL_EV_INCIDENT_CREATED] = ANNAL_DOMAIN_INCIDENTS,
        [ANNAL_EV_INCIDENT_ACKNOWLEDGED] = ANNAL_DOMAIN_INCIDENTS,
        [ANNAL_EV_INCIDENT_RESOLVED] = ANNAL_DOMAIN_INCIDENTS,
        [ANNAL_EV_INCIDENT_MANUALLY_CLOSED] = ANNAL_DOMAIN_INCIDENTS,
        [ANNAL_EV_POLICY_RULE_CREATED ... ANNAL_EV_POLICY_VIOLATION_PREVENTED] = ANNAL_DOMAIN_POLICIES,
        [ANNAL_EV_API_KEY_CREATED ... ANNAL_EV_API_KEY_REVOKED] = ANNAL_DOMAIN_CONNECTIVITY,
        [ANNAL_EV_TENANT_CREATED ... ANNAL_EV_USER_REMOVED] = ANNAL_DOMAIN_ACCOUNTS,
        [ANNAL_EV_EMERGENCY_OVERRIDE_ACTIVATED] = ANNAL_DOMAIN_SYSTEM,
        [ANNAL_EV_EMERGENCY_OVERRIDE_DEACTIVATED] = ANNAL_DOMAIN_SYSTEM,
    };
    if (memchr(type, '.', n))
        return ANNAL_DOMAIN_SERVICE;
    for (int i = 0; i < ANNAL_EV_TYPE_COUNT; i++) {
        const char *name = annal_event_type_name(i);
        if (strlen(name) == n && !memcmp(type, name, n))
            return dom[i];
    }
    return 0;
}

int annal_index_timeline(annal_index *ix, const annal_timeline_query *q, annal_index_page *page)
{
    size_t limit = q ? q->limit : 0;
    int rc = check_page_args(ix, &limit, page);
    if (rc || !q)
        return rc ? rc : ANNAL_EINVAL;
    int64_t from = q->from_ns, to = q->to_ns ? q->to_ns : INT64_MAX;
    if (!q->tenant || !ix_valid_id(q->tenant, strlen(q->tenant)) || from < 0 || to < from ||
        (q->domain && !annal_domain_name(q->domain)) || (q->event_type && !valid_type(q->event_type)))
        return ANNAL_EINVAL;
    if (q->cursor && *q->cursor) {
        int64_t t;
        uint64_t s;
        if (ix_cursor_decode(q->cursor, &t, &s))
            return ANNAL_EINVAL;
    }
    unsigned char key[IX_KEY_MAX];
    size_t tn = strlen(q->tenant), klen;
    enum ix_db db = IX_TIMELINE;
    int domain = 0;
    if (q->event_type) {
        if (q->domain && domain_of(q->event_type, strlen(q->event_type)) != q->domain)
            return ANNAL_OK; /* a type of another domain: nothing */
        db = IX_TYPE;
        klen = ix_key(key, q->tenant, tn, q->event_type, strlen(q->event_type));
    } else if (q->domain) {
        db = IX_TYPE; /* the merge of the domain's types */
        domain = q->domain;
        klen = 0;
    } else {
        klen = ix_key(key, q->tenant, tn, NULL, 0);
    }
    if (from == to)
        return ANNAL_OK;
    return scan(ix, db, key, klen, q->tenant, domain, from, to, q->cursor, limit, page);
}

static int linked(annal_index *ix, enum ix_db db, const char *tenant, const char *id, size_t limit,
                  const char *cursor, annal_index_page *page)
{
    int rc = check_page_args(ix, &limit, page);
    if (rc)
        return rc;
    if (!tenant || !id || !ix_valid_id(tenant, strlen(tenant)) || !ix_valid_id(id, strlen(id)))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX];
    size_t klen = ix_key(key, tenant, strlen(tenant), id, strlen(id));
    return scan(ix, db, key, klen, tenant, 0, 0, INT64_MAX, cursor, limit, page);
}

int annal_index_correlation(annal_index *ix, const char *tenant, const char *id, size_t limit,
                            const char *cursor, annal_index_page *page)
{
    return linked(ix, IX_CORRELATION, tenant, id, limit, cursor, page);
}

int annal_index_run(annal_index *ix, const char *tenant, const char *id, size_t limit, const char *cursor,
                    annal_index_page *page)
{
    return linked(ix, IX_RUN, tenant, id, limit, cursor, page);
}

int annal_index_incident(annal_index *ix, const char *tenant, const char *id, size_t limit,
                         const char *cursor, annal_index_page *page)
{
    return linked(ix, IX_INCIDENT, tenant, id, limit, cursor, page);
}

int annal_index_api_key(annal_index *ix, const char *tenant, const char *id, size_t limit,
                        const char *cursor, annal_index_page *page)
{
    return linked(ix, IX_API_KEY, tenant, id, limit, cursor, page);
}

int annal_index_lookup_event_id(annal_index *ix, const char *tenant, const char *event_id, uint64_t *seq)
{
    if (!ix || !seq || !tenant || !event_id || !ix_valid_id(tenant, strlen(tenant)) ||
        !ix_valid_id(event_id, strlen(event_id)))
        return ANNAL_EINVAL;
    unsigned char key[IX_KEY_MAX];
    MDB_val k = {ix_key(key, tenant, strlen(tenant), event_id, strlen(event_id)), key}, v;
    MDB_txn *txn;
    int rc = ix_read_begin(ix, &txn);
    if (rc)
        return ix_err(rc);
    rc = mdb_get(txn, ix->dbi[IX_EVENT_ID], &k, &v);
    if (rc == 0 && v.mv_size == 8)
        *seq = ix_get_be64(v.mv_data);
    else if (rc == 0)
        rc = ANNAL_EINDEX;
    ix_read_end(ix, txn);
    return ix_err(rc);
}
