/*
 * vjson.c - the view reads as JSON documents (vjson.h): the growable buffer,
 * then one function per read. Everything here is made of the public reads
 * of index.h and views.h; a secondary read (an incident view for a run's
 * incident, a record for a page entry) is never made from inside a getter's
 * callback, which runs in that getter's read transaction: callbacks only
 * collect, and the reads follow.
 */
#include "index/vjson.h"

#include "index/internal.h"
#include "store/event.h"
#include "store/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUTL(b, lit) annal_jbuf_put((b), (lit), sizeof(lit) - 1)

/* ---------------------------------------------------------------- buffer */

void annal_jbuf_free(annal_jbuf *b)
{
    if (!b)
        return;
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void annal_jbuf_reset(annal_jbuf *b)
{
    b->n = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = 0;
}

int annal_jbuf_reserve(annal_jbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (more >= SIZE_MAX - b->n) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->n + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void annal_jbuf_put(annal_jbuf *b, const void *s, size_t n)
{
    if (annal_jbuf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void annal_jbuf_puts(annal_jbuf *b, const char *s)
{
    annal_jbuf_put(b, s, strlen(s));
}

void annal_jbuf_putc(annal_jbuf *b, char c)
{
    annal_jbuf_put(b, &c, 1);
}

void annal_jbuf_u64(annal_jbuf *b, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    annal_jbuf_put(b, d + i, sizeof(d) - i);
}

void annal_jbuf_i64(annal_jbuf *b, int64_t v)
{
    if (v < 0) {
        annal_jbuf_putc(b, '-');
        annal_jbuf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        annal_jbuf_u64(b, (uint64_t)v);
    }
}

void annal_jbuf_str(annal_jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    annal_jbuf_putc(b, '"');
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        annal_jbuf_put(b, s + i - run, run);
        run = 0;
        char e[6] = {'\\', 0};
        size_t en = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            en = 6;
        }
        annal_jbuf_put(b, e, en);
    }
    annal_jbuf_put(b, s + n - run, run);
    annal_jbuf_putc(b, '"');
}

void annal_jbuf_raw(annal_jbuf *b, const char *raw, size_t n)
{
    if (!n) {
        PUTL(b, "null");
        return;
    }
    annal_jbuf_putc(b, '"');
    annal_jbuf_put(b, raw, n);
    annal_jbuf_putc(b, '"');
}

void annal_jbuf_time(annal_jbuf *b, int64_t ns)
{
    if (ns <= 0) {
        PUTL(b, "null");
        return;
    }
    char t[32];
    t[0] = '"';
    annal_time_format(ns, t + 1);
    t[31] = '"';
    annal_jbuf_put(b, t, 32);
}

/* ---------------------------------------------------------------- names */

static const char *name_of(const char *const *names, size_t count, int v)
{
    return v >= 0 && (size_t)v < count ? names[v] : NULL;
}
#define NAME_OF(arr, v) name_of((arr), sizeof(arr) / sizeof((arr)[0]), (v))

static const char *const run_status_names[] = {"UNKNOWN", "RUNNING", "COMPLETED", "FAILED"};
static const char *const inc_state_names[] = {"NONE", "ACTIVE", "ACKED", "RESOLVED", "CLOSED"};
static const char *const severity_names[] = {NULL, "LOW", "MEDIUM", "HIGH", "CRITICAL"};
static const char *const limit_status_names[] = {"OK", "NEAR_THRESHOLD", "BREACHED"};
static const char *const period_names[] = {NULL, "MONTHLY", "DAILY"};
static const char *const prop_status_names[] = {NULL, "DRAFT", "APPROVED", "REJECTED"};
static const char *const group_names[] = {NULL, "api_key", "model", "feature", "user", "day", "hour"};

const char *annal_vjson_run_status_name(int s) { return NAME_OF(run_status_names, s); }
const char *annal_vjson_incident_state_name(int s) { return NAME_OF(inc_state_names, s); }
const char *annal_vjson_severity_name(int s) { return NAME_OF(severity_names, s); }
const char *annal_vjson_limit_status_name(int s) { return NAME_OF(limit_status_names, s); }
const char *annal_vjson_period_name(int p) { return NAME_OF(period_names, p); }
const char *annal_vjson_proposal_status_name(int s) { return NAME_OF(prop_status_names, s); }
const char *annal_vjson_group_name(int g) { return NAME_OF(group_names, g); }

int annal_vjson_group_parse(const char *name)
{
    for (int g = 1; name && g < (int)(sizeof(group_names) / sizeof(group_names[0])); g++)
        if (!strcmp(name, group_names[g]))
            return g;
    return -1;
}

/* A name, quoted, or null. */
static void put_name(annal_jbuf *b, const char *name)
{
    if (name)
        annal_jbuf_str(b, name, strlen(name));
    else
        PUTL(b, "null");
}

static void put_vstr(annal_jbuf *b, const annal_vstr *s)
{
    annal_jbuf_raw(b, s->s, s->n);
}

static void put_id(annal_jbuf *b, const char *s)
{
    annal_jbuf_str(b, s, strlen(s));
}

static void put_bool(annal_jbuf *b, int v)
{
    if (v)
        PUTL(b, "true");
    else
        PUTL(b, "false");
}

/* ---------------------------------------------------------------- helpers */

/* Room for n + 1 elements of size sz in p (capacity *cap): the possibly
 * moved array, or NULL when out of memory (p is then unchanged). */
static void *vec_room(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc > SIZE_MAX / sz)
        return NULL;
    void *q = realloc(p, nc * sz);
    if (q)
        *cap = nc;
    return q;
}

/* Copy a slice into an id buffer (NUL-terminated); 0, or -1 when it is not
 * 1..ANNAL_ID_MAX bytes. */
static int copy_id(char dst[ANNAL_ID_MAX + 1], const char *p, size_t n)
{
    if (n == 0 || n > ANNAL_ID_MAX)
        return -1;
    memcpy(dst, p, n);
    dst[n] = 0;
    return 0;
}

/* 1 when the raw view string equals the decoded filter text (NULL/"": any). */
static int filter_ok(const char *want, const annal_vstr *have)
{
    if (!want || !*want)
        return 1;
    return annal_json_str_eq(have->s, have->n, memchr(have->s, '\\', have->n) != NULL, want, strlen(want));
}

static int64_t floor_to(int64_t t, int64_t unit)
{
    int64_t r = t % unit;
    return r < 0 ? t - r - unit : t - r;
}

#define NS_HOUR (3600LL * 1000000000LL)
#define NS_DAY (24 * NS_HOUR)

/* The record at seq (of tenant), parsed. *rec is malloc'd (free it); ev
 * points into it. A seq the index lists but the log lacks is ANNAL_EINDEX. */
static int fetch(annal_index *ix, const char *tenant, uint64_t seq, char **rec, size_t *len, annal_event *ev)
{
    int rc = annal_index_event(ix, tenant, seq, rec, len);
    if (rc == ANNAL_ENOTFOUND)
        return ANNAL_EINDEX;
    if (rc)
        return rc;
    if (ev && annal_record_parse(*rec, *len, ev, NULL) != ANNAL_OK) {
        free(*rec);
        *rec = NULL;
        return ANNAL_ECORRUPT;
    }
    return ANNAL_OK;
}

/* Append the record at seq as it is stored. */
static int put_record(annal_index *ix, const char *tenant, uint64_t seq, annal_jbuf *b)
{
    char *rec;
    size_t len;
    int rc = fetch(ix, tenant, seq, &rec, &len, NULL);
    if (rc)
        return rc;
    annal_jbuf_put(b, rec, len);
    free(rec);
    return b->oom ? ANNAL_ENOMEM : ANNAL_OK;
}

/* [records of the page],"next_cursor":... (no braces). */
static int put_page(annal_index *ix, const char *tenant, const annal_index_page *pg, annal_jbuf *b)
{
    annal_jbuf_putc(b, '[');
    for (size_t i = 0; i < pg->n; i++) {
        if (i)
            annal_jbuf_putc(b, ',');
        int rc = put_record(ix, tenant, pg->items[i].seq, b);
        if (rc)
            return rc;
    }
    PUTL(b, "],\"next_cursor\":");
    if (pg->next_cursor[0])
        annal_jbuf_str(b, pg->next_cursor, strlen(pg->next_cursor));
    else
        PUTL(b, "null");
    return b->oom ? ANNAL_ENOMEM : ANNAL_OK;
}

/* Start of a document: ANNAL_OK, or the error for bad args / a dead buffer. */
static int begin(annal_jbuf *out, size_t *start)
{
    if (!out)
        return ANNAL_EINVAL;
    if (out->oom)
        return ANNAL_ENOMEM;
    *start = out->n;
    return ANNAL_OK;
}

/* End of a document: on an error, drop what was appended. */
static int finish(annal_jbuf *out, size_t start, int rc)
{
    if (rc == ANNAL_OK && out->oom)
        rc = ANNAL_ENOMEM;
    if (rc != ANNAL_OK) {
        out->n = start;
        if (out->p)
            out->p[start] = 0;
    }
    return rc;
}

/* Walk a whole link list: visit(ctx, entry, parsed record, rec, len) per
 * entry in order; visit returns 0 to go on, 1 to stop, or an error. */
typedef int (*list_fn)(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *);
typedef int (*visit_fn)(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec,
                        size_t len);

static int walk(annal_index *ix, list_fn lf, const char *tenant, const char *id, visit_fn visit, void *ctx)
{
    char cur[ANNAL_INDEX_CURSOR_LEN + 1] = "";
    for (;;) {
        annal_index_page pg = {0};
        int rc = lf(ix, tenant, id, ANNAL_INDEX_LIMIT_MAX, cur, &pg);
        if (rc)
            return rc;
        for (size_t i = 0; i < pg.n && !rc; i++) {
            char *rec;
            size_t len;
            annal_event ev;
            if ((rc = fetch(ix, tenant, pg.items[i].seq, &rec, &len, &ev)) != ANNAL_OK)
                break;
            rc = visit(ctx, &pg.items[i], &ev, rec, len);
            free(rec);
        }
        memcpy(cur, pg.next_cursor, sizeof(cur));
        annal_index_page_free(&pg);
        if (rc)
            return rc > 0 ? ANNAL_OK : rc;
        if (!cur[0])
            return ANNAL_OK;
    }
}

/* The members of a run view (no braces). */
static void put_run_fields(annal_jbuf *b, const char *run_id, size_t run_n, const annal_run_view *v)
{
    PUTL(b, "\"run_id\":");
    annal_jbuf_str(b, run_id, run_n);
    PUTL(b, ",\"status\":");
    put_name(b, annal_vjson_run_status_name(v->status));
    PUTL(b, ",\"model\":");
    put_vstr(b, &v->model);
    PUTL(b, ",\"feature_tag\":");
    put_vstr(b, &v->feature);
    PUTL(b, ",\"user_id\":");
    put_vstr(b, &v->user);
    PUTL(b, ",\"api_key_id\":");
    put_vstr(b, &v->api_key);
    PUTL(b, ",\"error_code\":");
    put_vstr(b, &v->error_code);
    PUTL(b, ",\"started_at\":");
    annal_jbuf_time(b, v->started_ns);
    PUTL(b, ",\"ended_at\":");
    annal_jbuf_time(b, v->ended_ns);
    PUTL(b, ",\"duration_ms\":");
    annal_jbuf_i64(b, v->duration_ms);
    PUTL(b, ",\"cost_cents\":");
    annal_jbuf_i64(b, v->cost_cents);
    PUTL(b, ",\"input_tokens\":");
    annal_jbuf_i64(b, v->input_tokens);
    PUTL(b, ",\"output_tokens\":");
    annal_jbuf_i64(b, v->output_tokens);
    PUTL(b, ",\"cost_records\":");
    annal_jbuf_u64(b, v->cost_records);
}

/* ---------------------------------------------------------------- run */

/* The parts of a run document (run_doc). */
#define RP_FIELDS 1u      /* the run view's members */
#define RP_INCIDENTS 2u   /* "incidents" */
#define RP_POLICIES 4u    /* "policies" */
#define RP_TIMELINE 8u    /* "timeline":{"events":...,"next_cursor":...} */
#define RP_EVENTS 16u     /* "events":...,"next_cursor":... (flat) */
#define RP_COST 32u       /* the cost members and "records" */

typedef struct run_walk {
    annal_index *ix;
    const char *tenant;
    unsigned parts;
    annal_jbuf inc, pol, cost; /* the incidents, policies and records arrays' contents */
} run_walk;

static int run_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec, size_t len)
{
    (void)e;
    run_walk *w = ctx;
    if (ev->type == ANNAL_EV_COST_RECORDED && (w->parts & RP_COST)) {
        if (w->cost.n)
            annal_jbuf_putc(&w->cost, ',');
        annal_jbuf_put(&w->cost, rec, len);
        return w->cost.oom ? ANNAL_ENOMEM : 0;
    }
    if (ev->type == ANNAL_EV_POLICY_VIOLATION_PREVENTED && (w->parts & RP_POLICIES)) {
        if (w->pol.n)
            annal_jbuf_putc(&w->pol, ',');
        annal_jbuf_put(&w->pol, rec, len);
        return w->pol.oom ? ANNAL_ENOMEM : 0;
    }
    if (ev->type != ANNAL_EV_INCIDENT_CREATED || !(w->parts & RP_INCIDENTS))
        return 0;
    char id[ANNAL_ID_MAX + 1];
    if (copy_id(id, ev->incident_id.p, ev->incident_id.n))
        return ANNAL_ECORRUPT; /* IncidentCreated requires an incident_id */
    annal_incident_view iv;
    int rc = annal_view_incident(w->ix, w->tenant, id, &iv);
    if (rc == ANNAL_ENOTFOUND)
        memset(&iv, 0, sizeof(iv));
    else if (rc)
        return rc;
    annal_jbuf *b = &w->inc;
    if (b->n)
        annal_jbuf_putc(b, ',');
    PUTL(b, "{\"incident_id\":");
    put_id(b, id);
    PUTL(b, ",\"state\":");
    put_name(b, annal_vjson_incident_state_name(iv.state));
    PUTL(b, ",\"severity\":");
    put_name(b, annal_vjson_severity_name(iv.severity));
    PUTL(b, ",\"title\":");
    put_vstr(b, &iv.title);
    PUTL(b, ",\"record\":");
    annal_jbuf_put(b, rec, len);
    annal_jbuf_putc(b, '}');
    return b->oom ? ANNAL_ENOMEM : 0;
}

/* A run document made of `parts` (RP_*), in the member order of the whole
 * document (vjson.h). */
static int run_doc(annal_index *ix, const char *tenant, const char *run_id, unsigned parts, size_t limit,
                   const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !run_id)
        return ANNAL_EINVAL;
    annal_run_view v;
    annal_index_page tl = {0};
    run_walk w = {.ix = ix, .tenant = tenant, .parts = parts};
    if ((rc = annal_view_run(ix, tenant, run_id, &v)) != ANNAL_OK)
        goto done;
    if ((parts & (RP_TIMELINE | RP_EVENTS)) &&
        (rc = annal_index_run(ix, tenant, run_id, limit, cursor, &tl)) != ANNAL_OK)
        goto done;
    if ((parts & (RP_INCIDENTS | RP_POLICIES | RP_COST)) &&
        (rc = walk(ix, annal_index_run, tenant, run_id, run_visit, &w)) != ANNAL_OK)
        goto done;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    annal_jbuf_putc(out, ',');
    if (parts & RP_FIELDS) {
        put_run_fields(out, run_id, strlen(run_id), &v);
    } else {
        PUTL(out, "\"run_id\":");
        put_id(out, run_id);
    }
    if (parts & RP_COST) {
        PUTL(out, ",\"status\":");
        put_name(out, annal_vjson_run_status_name(v.status));
        PUTL(out, ",\"cost_cents\":");
        annal_jbuf_i64(out, v.cost_cents);
        PUTL(out, ",\"input_tokens\":");
        annal_jbuf_i64(out, v.input_tokens);
        PUTL(out, ",\"output_tokens\":");
        annal_jbuf_i64(out, v.output_tokens);
        PUTL(out, ",\"cost_records\":");
        annal_jbuf_u64(out, v.cost_records);
        PUTL(out, ",\"model\":");
        put_vstr(out, &v.model);
        PUTL(out, ",\"feature_tag\":");
        put_vstr(out, &v.feature);
        PUTL(out, ",\"user_id\":");
        put_vstr(out, &v.user);
        PUTL(out, ",\"api_key_id\":");
        put_vstr(out, &v.api_key);
        PUTL(out, ",\"records\":[");
        annal_jbuf_put(out, w.cost.p, w.cost.n);
        annal_jbuf_putc(out, ']');
    }
    if (parts & RP_INCIDENTS) {
        PUTL(out, ",\"incidents\":[");
        annal_jbuf_put(out, w.inc.p, w.inc.n);
        annal_jbuf_putc(out, ']');
    }
    if (parts & RP_POLICIES) {
        PUTL(out, ",\"policies\":[");
        annal_jbuf_put(out, w.pol.p, w.pol.n);
        annal_jbuf_putc(out, ']');
    }
    if (parts & RP_TIMELINE) {
        PUTL(out, ",\"timeline\":{\"events\":");
        if ((rc = put_page(ix, tenant, &tl, out)) != ANNAL_OK)
            goto done;
        annal_jbuf_putc(out, '}');
    }
    if (parts & RP_EVENTS) {
        PUTL(out, ",\"events\":");
        if ((rc = put_page(ix, tenant, &tl, out)) != ANNAL_OK)
            goto done;
    }
    annal_jbuf_putc(out, '}');
done:
    annal_jbuf_free(&w.inc);
    annal_jbuf_free(&w.pol);
    annal_jbuf_free(&w.cost);
    annal_index_page_free(&tl);
    return finish(out, start, rc);
}

int annal_vjson_run(annal_index *ix, const char *tenant, const char *run_id, size_t limit,
                    const char *cursor, annal_jbuf *out)
{
    return run_doc(ix, tenant, run_id, RP_FIELDS | RP_INCIDENTS | RP_POLICIES | RP_TIMELINE, limit, cursor, out);
}

int annal_vjson_run_part(annal_index *ix, const char *tenant, const char *run_id, int part, size_t limit,
                         const char *cursor, annal_jbuf *out)
{
    static const unsigned parts[] = {
        [ANNAL_RUN_PART_TIMELINE] = RP_EVENTS,
        [ANNAL_RUN_PART_INCIDENTS] = RP_INCIDENTS,
        [ANNAL_RUN_PART_POLICIES] = RP_POLICIES,
        [ANNAL_RUN_PART_COST] = RP_COST,
    };
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (part < ANNAL_RUN_PART_TIMELINE || part > ANNAL_RUN_PART_COST)
        return ANNAL_EINVAL;
    return run_doc(ix, tenant, run_id, parts[part], limit, cursor, out);
}

/* ---------------------------------------------------------------- incident */

#define REL_RUN 1u
#define REL_CORR 2u

typedef struct related {
    char id[ANNAL_ID_MAX + 1];
    unsigned rel;
} related;

typedef struct inc_walk {
    const char *self;     /* the incident's id */
    unsigned rel;         /* which relation the current walk finds */
    related *r;
    size_t n, cap;
    annal_jbuf anomaly;   /* the anomaly record, once found */
} inc_walk;

static int related_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec, size_t len)
{
    (void)e, (void)rec, (void)len;
    inc_walk *w = ctx;
    if (ev->type != ANNAL_EV_INCIDENT_CREATED)
        return 0;
    if (ev->incident_id.n == strlen(w->self) && !memcmp(ev->incident_id.p, w->self, ev->incident_id.n))
        return 0;
    void *grown = vec_room(w->r, &w->cap, w->n, sizeof(*w->r));
    if (!grown)
        return ANNAL_ENOMEM;
    w->r = grown;
    if (copy_id(w->r[w->n].id, ev->incident_id.p, ev->incident_id.n))
        return ANNAL_ECORRUPT;
    w->r[w->n++].rel = w->rel;
    return 0;
}

static int anomaly_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec, size_t len)
{
    (void)e;
    inc_walk *w = ctx;
    if (ev->type != ANNAL_EV_COST_ANOMALY_DETECTED)
        return 0;
    annal_jbuf_put(&w->anomaly, rec, len);
    return w->anomaly.oom ? ANNAL_ENOMEM : 1;
}

static int related_cmp(const void *a, const void *b)
{
    return strcmp(((const related *)a)->id, ((const related *)b)->id);
}

static int runs_cb(void *ctx, const char *run_id, size_t n, int64_t cents)
{
    annal_jbuf *b = ctx;
    PUTL(b, ",{\"run_id\":");
    annal_jbuf_str(b, run_id, n);
    PUTL(b, ",\"cost_cents\":");
    annal_jbuf_i64(b, cents);
    PUTL(b, ",\"source\":false}");
    return b->oom ? 1 : 0;
}

/* The parts of an incident document (incident_doc). */
#define IP_FIELDS 1u      /* the incident view's members */
#define IP_COST 2u        /* "cost_impact":{...} */
#define IP_SOURCE_RUN 4u  /* "source_run" */
#define IP_RELATED 8u     /* "related" */
#define IP_ANOMALY 16u    /* "anomaly" */
#define IP_TIMELINE 32u   /* "timeline":{"events":...,"next_cursor":...} */
#define IP_EVENTS 64u     /* "events":...,"next_cursor":... (flat) */
#define IP_COST_FLAT 128u /* the members of cost_impact, flat */
#define IP_REFS 256u      /* "source_run_id" and "correlation_id" (without IP_FIELDS) */

static int incident_doc(annal_index *ix, const char *tenant, const char *incident_id, unsigned parts,
                        size_t limit, const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !incident_id)
        return ANNAL_EINVAL;
    annal_incident_view v;
    annal_run_view rv;
    annal_index_page tl = {0};
    annal_jbuf runs = {0};
    inc_walk w = {.self = incident_id};
    int64_t cents = 0;
    uint64_t nruns = 0;
    int has_src = 0;
    if ((rc = annal_view_incident(ix, tenant, incident_id, &v)) != ANNAL_OK)
        goto done;
    if ((parts & (IP_TIMELINE | IP_EVENTS)) &&
        (rc = annal_index_incident(ix, tenant, incident_id, limit, cursor, &tl)) != ANNAL_OK)
        goto done;
    if ((parts & (IP_COST | IP_COST_FLAT)) &&
        (rc = annal_view_incident_cost(ix, tenant, incident_id, &cents, &nruns)) != ANNAL_OK)
        goto done;
    memset(&rv, 0, sizeof(rv));
    if (v.source_run.n && (parts & (IP_COST | IP_COST_FLAT | IP_SOURCE_RUN))) {
        rc = annal_view_run(ix, tenant, v.source_run.s, &rv);
        if (rc == ANNAL_OK)
            has_src = 1;
        else if (rc != ANNAL_ENOTFOUND && rc != ANNAL_EINVAL)
            goto done;
        else
            memset(&rv, 0, sizeof(rv));
        rc = ANNAL_OK;
    }
    /* affected runs: collected into `runs`, each with a leading comma */
    if (parts & (IP_COST | IP_COST_FLAT)) {
        if ((rc = annal_view_incident_runs(ix, tenant, incident_id, runs_cb, &runs)) > 0)
            rc = ANNAL_OK;
        if (rc == ANNAL_OK && runs.oom)
            rc = ANNAL_ENOMEM;
        if (rc)
            goto done;
    }
    /* related: same source run, same correlation id */
    if (parts & IP_RELATED) {
        if (v.source_run.n) {
            w.rel = REL_RUN;
            rc = walk(ix, annal_index_run, tenant, v.source_run.s, related_visit, &w);
            if (rc != ANNAL_OK && rc != ANNAL_EINVAL)
                goto done;
        }
        if (v.correlation.n) {
            w.rel = REL_CORR;
            rc = walk(ix, annal_index_correlation, tenant, v.correlation.s, related_visit, &w);
            if (rc != ANNAL_OK && rc != ANNAL_EINVAL)
                goto done;
        }
        rc = ANNAL_OK;
        if (w.n)
            qsort(w.r, w.n, sizeof(*w.r), related_cmp);
    }
    /* the anomaly */
    if ((parts & IP_ANOMALY) &&
        (rc = walk(ix, annal_index_incident, tenant, incident_id, anomaly_visit, &w)) != ANNAL_OK)
        goto done;

    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"incident_id\":");
    put_id(out, incident_id);
    if (parts & IP_FIELDS) {
        PUTL(out, ",\"state\":");
        put_name(out, annal_vjson_incident_state_name(v.state));
        PUTL(out, ",\"severity\":");
        put_name(out, annal_vjson_severity_name(v.severity));
        PUTL(out, ",\"category\":");
        put_vstr(out, &v.category);
        PUTL(out, ",\"source\":");
        put_vstr(out, &v.source);
        PUTL(out, ",\"title\":");
        put_vstr(out, &v.title);
    }
    if (parts & (IP_FIELDS | IP_REFS)) {
        PUTL(out, ",\"source_run_id\":");
        put_vstr(out, &v.source_run);
        PUTL(out, ",\"correlation_id\":");
        put_vstr(out, &v.correlation);
    }
    if (parts & IP_FIELDS) {
        PUTL(out, ",\"limit_id\":");
        put_vstr(out, &v.limit_id);
        PUTL(out, ",\"created_at\":");
        annal_jbuf_time(out, v.created_ns);
        PUTL(out, ",\"acknowledged_at\":");
        annal_jbuf_time(out, v.acked_ns);
        PUTL(out, ",\"closed_at\":");
        annal_jbuf_time(out, v.closed_ns);
    }

    if (parts & (IP_COST | IP_COST_FLAT)) {
        if (parts & IP_COST)
            PUTL(out, ",\"cost_impact\":{\"cost_cents\":");
        else
            PUTL(out, ",\"cost_cents\":");
        annal_jbuf_i64(out, cents);
        PUTL(out, ",\"source_run_cents\":");
        annal_jbuf_i64(out, rv.cost_cents);
        PUTL(out, ",\"direct_cents\":");
        annal_jbuf_i64(out, cents - rv.cost_cents);
        PUTL(out, ",\"cost_records\":");
        annal_jbuf_u64(out, v.cost_records);
        PUTL(out, ",\"run_count\":");
        annal_jbuf_u64(out, nruns);
        PUTL(out, ",\"runs\":[");
        if (v.source_run.n) {
            PUTL(out, "{\"run_id\":");
            put_vstr(out, &v.source_run);
            PUTL(out, ",\"cost_cents\":");
            annal_jbuf_i64(out, rv.cost_cents);
            PUTL(out, ",\"source\":true}");
            annal_jbuf_put(out, runs.p, runs.n);
        } else if (runs.n) {
            annal_jbuf_put(out, runs.p + 1, runs.n - 1); /* without the first comma */
        }
        annal_jbuf_putc(out, ']');
        if (parts & IP_COST)
            annal_jbuf_putc(out, '}');
    }
    if (parts & IP_SOURCE_RUN) {
        PUTL(out, ",\"source_run\":");
        if (has_src) {
            annal_jbuf_putc(out, '{');
            put_run_fields(out, v.source_run.s, v.source_run.n, &rv);
            annal_jbuf_putc(out, '}');
        } else {
            PUTL(out, "null");
        }
    }

    if (parts & IP_RELATED) {
        PUTL(out, ",\"related\":[");
        for (size_t i = 0, k = 0; i < w.n; k++) {
            size_t j = i;
            unsigned rel = 0;
            for (; j < w.n && !strcmp(w.r[j].id, w.r[i].id); j++)
                rel |= w.r[j].rel;
            annal_incident_view o;
            rc = annal_view_incident(ix, tenant, w.r[i].id, &o);
            if (rc == ANNAL_ENOTFOUND)
                memset(&o, 0, sizeof(o));
            else if (rc)
                goto done;
            rc = ANNAL_OK;
            if (k)
                annal_jbuf_putc(out, ',');
            PUTL(out, "{\"incident_id\":");
            put_id(out, w.r[i].id);
            PUTL(out, ",\"relation\":[");
            if (rel & REL_RUN)
                PUTL(out, "\"source_run\"");
            if (rel & REL_CORR) {
                if (rel & REL_RUN)
                    annal_jbuf_putc(out, ',');
                PUTL(out, "\"correlation\"");
            }
            PUTL(out, "],\"state\":");
            put_name(out, annal_vjson_incident_state_name(o.state));
            PUTL(out, ",\"severity\":");
            put_name(out, annal_vjson_severity_name(o.severity));
            PUTL(out, ",\"title\":");
            put_vstr(out, &o.title);
            PUTL(out, ",\"created_at\":");
            annal_jbuf_time(out, o.created_ns);
            annal_jbuf_putc(out, '}');
            i = j;
        }
        annal_jbuf_putc(out, ']');
    }
    if (parts & IP_ANOMALY) {
        PUTL(out, ",\"anomaly\":");
        if (w.anomaly.n)
            annal_jbuf_put(out, w.anomaly.p, w.anomaly.n);
        else
            PUTL(out, "null");
    }
    if (parts & IP_TIMELINE) {
        PUTL(out, ",\"timeline\":{\"events\":");
        if ((rc = put_page(ix, tenant, &tl, out)) != ANNAL_OK)
            goto done;
        annal_jbuf_putc(out, '}');
    }
    if (parts & IP_EVENTS) {
        PUTL(out, ",\"events\":");
        if ((rc = put_page(ix, tenant, &tl, out)) != ANNAL_OK)
            goto done;
    }
    annal_jbuf_putc(out, '}');
done:
    free(w.r);
    annal_jbuf_free(&w.anomaly);
    annal_jbuf_free(&runs);
    annal_index_page_free(&tl);
    return finish(out, start, rc);
}

int annal_vjson_incident(annal_index *ix, const char *tenant, const char *incident_id, size_t limit,
                         const char *cursor, annal_jbuf *out)
{
    return incident_doc(ix, tenant, incident_id,
                        IP_FIELDS | IP_COST | IP_SOURCE_RUN | IP_RELATED | IP_ANOMALY | IP_TIMELINE, limit, cursor,
                        out);
}

int annal_vjson_incident_part(annal_index *ix, const char *tenant, const char *incident_id, int part,
                              size_t limit, const char *cursor, annal_jbuf *out)
{
    static const unsigned parts[] = {
        [ANNAL_INCIDENT_PART_TIMELINE] = IP_EVENTS,
        [ANNAL_INCIDENT_PART_SOURCE_RUN] = IP_REFS | IP_SOURCE_RUN,
        [ANNAL_INCIDENT_PART_COST] = IP_COST_FLAT,
        [ANNAL_INCIDENT_PART_RELATED] = IP_REFS | IP_RELATED,
    };
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (part < ANNAL_INCIDENT_PART_TIMELINE || part > ANNAL_INCIDENT_PART_RELATED)
        return ANNAL_EINVAL;
    return incident_doc(ix, tenant, incident_id, parts[part], limit, cursor, out);
}

/* ---------------------------------------------------------------- costs */

typedef struct cgroup {
    size_t koff, klen;   /* key bytes in the arena */
    int64_t cents, in, outt;
    uint64_t count;
} cgroup;

typedef struct ctab {
    const annal_costs_query *q;
    cgroup *g;
    size_t n, cap;
    uint32_t *slot;      /* open addressing: group index + 1, 0 empty */
    size_t scap;         /* power of two */
    char *keys;
    size_t kn, kcap;
    cgroup tot;
    int err;
} ctab;

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static int ctab_rehash(ctab *t, size_t scap)
{
    uint32_t *s = calloc(scap, sizeof(*s));
    if (!s)
        return ANNAL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = (size_t)fnv(t->keys + t->g[i].koff, t->g[i].klen) & (scap - 1);
        while (s[h])
            h = (h + 1) & (scap - 1);
        s[h] = (uint32_t)(i + 1);
    }
    free(t->slot);
    t->slot = s;
    t->scap = scap;
    return ANNAL_OK;
}

static cgroup *ctab_get(ctab *t, const char *k, size_t kn)
{
    if ((t->n + 1) * 2 > t->scap && (t->n >= UINT32_MAX - 1 || ctab_rehash(t, t->scap ? t->scap * 2 : 64)))
        return NULL;
    size_t h = (size_t)fnv(k, kn) & (t->scap - 1);
    for (; t->slot[h]; h = (h + 1) & (t->scap - 1)) {
        cgroup *g = &t->g[t->slot[h] - 1];
        if (g->klen == kn && !memcmp(t->keys + g->koff, k, kn))
            return g;
    }
    void *grown = vec_room(t->g, &t->cap, t->n, sizeof(*t->g));
    if (!grown)
        return NULL;
    t->g = grown;
    if (t->kn + kn > t->kcap || !t->keys) {
        size_t nc = t->kcap ? t->kcap : 4096;
        while (nc < t->kn + kn)
            nc *= 2;
        char *nk = realloc(t->keys, nc);
        if (!nk)
            return NULL;
        t->keys = nk;
        t->kcap = nc;
    }
    if (kn)
        memcpy(t->keys + t->kn, k, kn);
    cgroup *g = &t->g[t->n];
    memset(g, 0, sizeof(*g));
    g->koff = t->kn;
    g->klen = kn;
    t->kn += kn;
    t->slot[h] = (uint32_t)++t->n;
    return g;
}

static int cost_cb(void *ctx, const annal_cost_fact *f)
{
    ctab *t = ctx;
    const annal_costs_query *q = t->q;
    if (!filter_ok(q->run, &f->run) || !filter_ok(q->incident, &f->incident) ||
        !filter_ok(q->api_key, &f->api_key) || !filter_ok(q->model, &f->model) ||
        !filter_ok(q->feature, &f->feature) || !filter_ok(q->user, &f->user))
        return 0;
    t->tot.cents += f->cents;
    t->tot.in += f->input_tokens;
    t->tot.outt += f->output_tokens;
    t->tot.count++;
    if (q->group_by == ANNAL_GROUP_NONE)
        return 0;
    const annal_vstr *s = NULL;
    unsigned char tk[8];
    switch (q->group_by) {
    case ANNAL_GROUP_API_KEY: s = &f->api_key; break;
    case ANNAL_GROUP_MODEL: s = &f->model; break;
    case ANNAL_GROUP_FEATURE: s = &f->feature; break;
    case ANNAL_GROUP_USER: s = &f->user; break;
    default:
        ix_be64(tk, (uint64_t)floor_to(f->time_ns, q->group_by == ANNAL_GROUP_DAY ? NS_DAY : NS_HOUR));
    }
    cgroup *g = s ? ctab_get(t, s->s, s->n) : ctab_get(t, (const char *)tk, sizeof(tk));
    if (!g) {
        t->err = ANNAL_ENOMEM;
        return 1;
    }
    g->cents += f->cents;
    g->in += f->input_tokens;
    g->outt += f->output_tokens;
    g->count++;
    return 0;
}

typedef struct gref {
    const char *k;
    size_t kn;
    const cgroup *g;
} gref;

static int gref_cmp(const void *a, const void *b)
{
    const gref *x = a, *y = b;
    size_t m = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->k, y->k, m);
    return c ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

static void put_sums(annal_jbuf *b, const cgroup *g)
{
    PUTL(b, "\"cost_cents\":");
    annal_jbuf_i64(b, g->cents);
    PUTL(b, ",\"input_tokens\":");
    annal_jbuf_i64(b, g->in);
    PUTL(b, ",\"output_tokens\":");
    annal_jbuf_i64(b, g->outt);
    PUTL(b, ",\"count\":");
    annal_jbuf_u64(b, g->count);
}

static void put_filter(annal_jbuf *b, const char *name, const char *v, int first)
{
    if (!first)
        annal_jbuf_putc(b, ',');
    annal_jbuf_putc(b, '"');
    annal_jbuf_puts(b, name);
    PUTL(b, "\":");
    if (v && *v)
        annal_jbuf_str(b, v, strlen(v));
    else
        PUTL(b, "null");
}

int annal_vjson_costs(annal_index *ix, const annal_costs_query *q, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !q || !q->tenant || q->group_by < ANNAL_GROUP_NONE || q->group_by > ANNAL_GROUP_HOUR)
        return ANNAL_EINVAL;
    if (q->to_ns && q->from_ns > q->to_ns)
        return ANNAL_EINVAL;
    ctab t = {.q = q};
    gref *refs = NULL;
    rc = annal_view_costs(ix, q->tenant, q->from_ns, q->to_ns, cost_cb, &t);
    if (rc > 0)
        rc = ANNAL_OK;
    if (t.err)
        rc = t.err;
    if (rc)
        goto done;
    if (t.n && !(refs = malloc(t.n * sizeof(*refs)))) {
        rc = ANNAL_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < t.n; i++)
        refs[i] = (gref){t.keys + t.g[i].koff, t.g[i].klen, &t.g[i]};
    if (t.n)
        qsort(refs, t.n, sizeof(*refs), gref_cmp);

    PUTL(out, "{\"tenant_id\":");
    put_id(out, q->tenant);
    PUTL(out, ",\"group_by\":");
    put_name(out, annal_vjson_group_name(q->group_by));
    PUTL(out, ",\"from\":");
    annal_jbuf_time(out, q->from_ns);
    PUTL(out, ",\"to\":");
    annal_jbuf_time(out, q->to_ns);
    PUTL(out, ",\"filters\":{");
    put_filter(out, "run_id", q->run, 1);
    put_filter(out, "incident_id", q->incident, 0);
    put_filter(out, "api_key_id", q->api_key, 0);
    put_filter(out, "model", q->model, 0);
    put_filter(out, "feature_tag", q->feature, 0);
    put_filter(out, "user_id", q->user, 0);
    PUTL(out, "},\"groups\":[");
    for (size_t i = 0; i < t.n; i++) {
        if (i)
            annal_jbuf_putc(out, ',');
        PUTL(out, "{\"key\":");
        if (q->group_by == ANNAL_GROUP_DAY || q->group_by == ANNAL_GROUP_HOUR) {
            char ts[31];
            annal_time_format((int64_t)ix_get_be64((const unsigned char *)refs[i].k), ts);
            annal_jbuf_putc(out, '"');
            if (q->group_by == ANNAL_GROUP_DAY) {
                annal_jbuf_put(out, ts, 10);
            } else {
                annal_jbuf_put(out, ts, 13);
                PUTL(out, ":00:00Z");
            }
            annal_jbuf_putc(out, '"');
        } else {
            annal_jbuf_raw(out, refs[i].k, refs[i].kn);
        }
        annal_jbuf_putc(out, ',');
        put_sums(out, refs[i].g);
        annal_jbuf_putc(out, '}');
    }
    PUTL(out, "],\"totals\":{");
    put_sums(out, &t.tot);
    PUTL(out, "}}");
done:
    free(refs);
    free(t.g);
    free(t.slot);
    free(t.keys);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- usage */

typedef struct ubucket {
    int64_t start;
    uint64_t events, started, completed, failed, cost_records;
    int64_t cents, in, outt;
} ubucket;

typedef struct uvec {
    ubucket *b;
    size_t n, cap;
    int64_t unit;
    int err;
} uvec;

static void ub_add(ubucket *d, const ubucket *s)
{
    d->events += s->events;
    d->started += s->started;
    d->completed += s->completed;
    d->failed += s->failed;
    d->cost_records += s->cost_records;
    d->cents += s->cents;
    d->in += s->in;
    d->outt += s->outt;
}

static int usage_cb(void *ctx, const annal_usage_hour *h)
{
    uvec *u = ctx;
    ubucket x = {floor_to(h->hour_ns, u->unit), h->events, h->runs_started, h->runs_completed, h->runs_failed,
                 h->cost_records, h->cost_cents, h->input_tokens, h->output_tokens};
    if (u->n && u->b[u->n - 1].start == x.start) {
        ub_add(&u->b[u->n - 1], &x);
        return 0;
    }
    void *grown = vec_room(u->b, &u->cap, u->n, sizeof(*u->b));
    if (!grown) {
        u->err = ANNAL_ENOMEM;
        return 1;
    }
    u->b = grown;
    u->b[u->n++] = x;
    return 0;
}

static int ub_cmp(const void *a, const void *b)
{
    int64_t x = ((const ubucket *)a)->start, y = ((const ubucket *)b)->start;
    return (x > y) - (x < y);
}

static void put_ub(annal_jbuf *b, const ubucket *u)
{
    PUTL(b, "\"events\":");
    annal_jbuf_u64(b, u->events);
    PUTL(b, ",\"runs_started\":");
    annal_jbuf_u64(b, u->started);
    PUTL(b, ",\"runs_completed\":");
    annal_jbuf_u64(b, u->completed);
    PUTL(b, ",\"runs_failed\":");
    annal_jbuf_u64(b, u->failed);
    PUTL(b, ",\"cost_records\":");
    annal_jbuf_u64(b, u->cost_records);
    PUTL(b, ",\"cost_cents\":");
    annal_jbuf_i64(b, u->cents);
    PUTL(b, ",\"input_tokens\":");
    annal_jbuf_i64(b, u->in);
    PUTL(b, ",\"output_tokens\":");
    annal_jbuf_i64(b, u->outt);
}

int annal_vjson_usage(annal_index *ix, const char *tenant, int bucket, int64_t from_ns, int64_t to_ns,
                      annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (bucket == ANNAL_GROUP_NONE)
        bucket = ANNAL_GROUP_HOUR;
    if (!ix || !tenant || (bucket != ANNAL_GROUP_HOUR && bucket != ANNAL_GROUP_DAY) ||
        (to_ns && from_ns > to_ns))
        return ANNAL_EINVAL;
    uvec u = {.unit = bucket == ANNAL_GROUP_DAY ? NS_DAY : NS_HOUR};
    rc = annal_view_usage(ix, tenant, from_ns, to_ns, usage_cb, &u);
    if (rc > 0)
        rc = ANNAL_OK;
    if (u.err)
        rc = u.err;
    if (rc)
        goto done;
    /* The hours come in time order; should they not, sort and merge. */
    int sorted = 1;
    for (size_t i = 1; i < u.n && sorted; i++)
        sorted = u.b[i - 1].start < u.b[i].start;
    if (!sorted) {
        qsort(u.b, u.n, sizeof(*u.b), ub_cmp);
        size_t m = 0;
        for (size_t i = 0; i < u.n; i++) {
            if (m && u.b[m - 1].start == u.b[i].start)
                ub_add(&u.b[m - 1], &u.b[i]);
            else
                u.b[m++] = u.b[i];
        }
        u.n = m;
    }
    ubucket tot = {0};
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"bucket\":");
    put_name(out, annal_vjson_group_name(bucket));
    PUTL(out, ",\"from\":");
    annal_jbuf_time(out, from_ns);
    PUTL(out, ",\"to\":");
    annal_jbuf_time(out, to_ns);
    PUTL(out, ",\"series\":[");
    for (size_t i = 0; i < u.n; i++) {
        if (i)
            annal_jbuf_putc(out, ',');
        PUTL(out, "{\"start\":");
        if (u.b[i].start > 0) {
            annal_jbuf_time(out, u.b[i].start);
        } else {
            PUTL(out, "\"1970-01-01T00:00:00.000000000Z\""); /* jbuf_time writes null for 0 */
        }
        annal_jbuf_putc(out, ',');
        put_ub(out, &u.b[i]);
        annal_jbuf_putc(out, '}');
        ub_add(&tot, &u.b[i]);
    }
    PUTL(out, "],\"totals\":{");
    put_ub(out, &tot);
    PUTL(out, "}}");
done:
    free(u.b);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- anomalies */

int annal_vjson_anomalies(annal_index *ix, const char *tenant, int64_t from_ns, int64_t to_ns,
                          size_t limit, const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant)
        return ANNAL_EINVAL;
    annal_timeline_query q = {.tenant = tenant, .from_ns = from_ns, .to_ns = to_ns,
                              .event_type = "CostAnomalyDetected", .limit = limit, .cursor = cursor};
    annal_index_page pg = {0};
    if ((rc = annal_index_timeline(ix, &q, &pg)) == ANNAL_OK) {
        PUTL(out, "{\"tenant_id\":");
        put_id(out, tenant);
        PUTL(out, ",\"anomalies\":");
        if ((rc = put_page(ix, tenant, &pg, out)) == ANNAL_OK)
            annal_jbuf_putc(out, '}');
    }
    annal_index_page_free(&pg);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- limits */

typedef struct lim {
    char id[ANNAL_ID_MAX + 1];
    annal_limit_view l;
    annal_limit_spend s;
    int status;
} lim;

typedef struct limvec {
    lim *v;
    size_t n, cap;
    int err;
} limvec;

static int limit_cb(void *ctx, const char *limit_id, size_t n, const annal_limit_view *l)
{
    limvec *lv = ctx;
    void *grown = vec_room(lv->v, &lv->cap, lv->n, sizeof(*lv->v));
    if (!grown) {
        lv->err = ANNAL_ENOMEM;
        return 1;
    }
    lv->v = grown;
    lim *x = &lv->v[lv->n];
    memset(x, 0, sizeof(*x));
    if (copy_id(x->id, limit_id, n)) {
        lv->err = ANNAL_EINDEX;
        return 1;
    }
    x->l = *l;
    lv->n++;
    return 0;
}

/* Every limit of tenant with its spend and status in the period of at_ns. */
static int load_limits(annal_index *ix, const char *tenant, int64_t at_ns, limvec *lv)
{
    int rc = annal_view_limits(ix, tenant, limit_cb, lv);
    if (rc > 0)
        rc = ANNAL_OK;
    if (lv->err)
        rc = lv->err;
    for (size_t i = 0; i < lv->n && rc == ANNAL_OK; i++) {
        lim *x = &lv->v[i];
        rc = annal_view_limit_spend(ix, tenant, x->id, at_ns, &x->s);
        if (rc == ANNAL_ENOTFOUND) {
            memset(&x->s, 0, sizeof(x->s));
            rc = ANNAL_OK;
        }
        if (rc)
            break;
        if (!x->s.period_start_ns)
            x->s.period_start_ns = annal_period_start(x->l.period ? x->l.period : ANNAL_PERIOD_MONTHLY, at_ns);
        x->status = annal_limit_status_of(&x->l, &x->s);
    }
    return rc;
}

static void put_limit_head(annal_jbuf *b, const lim *x)
{
    PUTL(b, "{\"limit_id\":");
    put_id(b, x->id);
    PUTL(b, ",\"category\":");
    put_vstr(b, &x->l.category);
    PUTL(b, ",\"scope\":");
    put_vstr(b, &x->l.scope);
    PUTL(b, ",\"scope_id\":");
    put_vstr(b, &x->l.scope_id);
    PUTL(b, ",\"period\":");
    put_name(b, annal_vjson_period_name(x->l.period));
}

static int64_t used_pct(int64_t spend, int64_t max)
{
    if (spend <= 0)
        return 0;
    if (spend <= INT64_MAX / 100)
        return spend * 100 / max;
    return (int64_t)((double)spend / (double)max * 100.0);
}

/* One limit object of annal_vjson_limits, braces included. */
static void put_limit_obj(annal_jbuf *out, const lim *x)
{
    put_limit_head(out, x);
    PUTL(out, ",\"max_cents\":");
    annal_jbuf_i64(out, x->l.max_cents);
    PUTL(out, ",\"warn_pct\":");
    annal_jbuf_u64(out, x->l.warn_pct);
    PUTL(out, ",\"override\":");
    put_bool(out, x->l.override_active);
    PUTL(out, ",\"period_start\":");
    annal_jbuf_time(out, x->s.period_start_ns);
    PUTL(out, ",\"spend_cents\":");
    annal_jbuf_i64(out, x->s.cents);
    PUTL(out, ",\"cost_records\":");
    annal_jbuf_u64(out, x->s.cost_records);
    PUTL(out, ",\"used_pct\":");
    if (x->l.max_cents > 0)
        annal_jbuf_i64(out, used_pct(x->s.cents, x->l.max_cents));
    else
        PUTL(out, "null");
    PUTL(out, ",\"status\":");
    put_name(out, annal_vjson_limit_status_name(x->status));
    PUTL(out, ",\"warned\":");
    put_bool(out, (x->s.flags & ANNAL_SPEND_WARNED) != 0);
    PUTL(out, ",\"escalated\":");
    put_bool(out, (x->s.flags & ANNAL_SPEND_ESCALATED) != 0);
    PUTL(out, ",\"suppressed\":");
    put_bool(out, (x->s.flags & ANNAL_SPEND_SUPPRESSED) != 0);
    annal_jbuf_putc(out, '}');
}

int annal_vjson_limits(annal_index *ix, const char *tenant, int64_t at_ns, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant)
        return ANNAL_EINVAL;
    limvec lv = {0};
    if (!at_ns) {
        annal_tenant_view tv;
        rc = annal_view_tenant(ix, tenant, &tv);
        if (rc == ANNAL_OK)
            at_ns = tv.last_ns;
        else if (rc != ANNAL_ENOTFOUND)
            goto done;
        rc = ANNAL_OK;
    }
    if ((rc = load_limits(ix, tenant, at_ns, &lv)) != ANNAL_OK)
        goto done;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"at\":");
    annal_jbuf_time(out, at_ns);
    PUTL(out, ",\"limits\":[");
    for (size_t i = 0; i < lv.n; i++) {
        const lim *x = &lv.v[i];
        if (i)
            annal_jbuf_putc(out, ',');
        put_limit_obj(out, x);
    }
    PUTL(out, "]}");
done:
    free(lv.v);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- proposals */

/* One proposal object for the PolicyProposalCreated record rec; *keep says
 * whether it passed the status filter (nothing appended otherwise). */
static int put_proposal(annal_index *ix, const char *tenant, const annal_event *ev, const char *rec,
                        size_t len, int status, int first, annal_jbuf *b, int *keep)
{
    char id[ANNAL_ID_MAX + 1];
    *keep = 0;
    if (copy_id(id, ev->entity_id.p, ev->entity_id.n))
        return ANNAL_ECORRUPT; /* PolicyProposalCreated requires an entity_id */
    annal_proposal_view pv;
    int rc = annal_view_proposal(ix, tenant, id, &pv);
    if (rc == ANNAL_ENOTFOUND)
        memset(&pv, 0, sizeof(pv));
    else if (rc)
        return rc;
    if (status != ANNAL_PROP_NONE && pv.status != status)
        return ANNAL_OK;
    *keep = 1;
    if (!first)
        annal_jbuf_putc(b, ',');
    PUTL(b, "{\"proposal_id\":");
    put_id(b, id);
    PUTL(b, ",\"status\":");
    put_name(b, annal_vjson_proposal_status_name(pv.status));
    PUTL(b, ",\"created_at\":");
    annal_jbuf_time(b, pv.created_ns);
    PUTL(b, ",\"decided_at\":");
    annal_jbuf_time(b, pv.decided_ns);
    PUTL(b, ",\"triggering_incident_id\":");
    put_vstr(b, &pv.triggering_incident);
    PUTL(b, ",\"decided_by\":");
    if (pv.status == ANNAL_PROP_APPROVED || pv.status == ANNAL_PROP_REJECTED) {
        PUTL(b, "{\"actor_type\":");
        put_vstr(b, &pv.actor_type);
        PUTL(b, ",\"actor_id\":");
        put_vstr(b, &pv.actor_id);
        annal_jbuf_putc(b, '}');
    } else {
        PUTL(b, "null");
    }
    PUTL(b, ",\"summary\":");
    put_vstr(b, &pv.summary);
    PUTL(b, ",\"record\":");
    annal_jbuf_put(b, rec, len);
    annal_jbuf_putc(b, '}');
    return b->oom ? ANNAL_ENOMEM : ANNAL_OK;
}

int annal_vjson_proposals(annal_index *ix, const char *tenant, int status, size_t limit,
                          const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || status < ANNAL_PROP_NONE || status > ANNAL_PROP_REJECTED || limit > ANNAL_INDEX_LIMIT_MAX)
        return ANNAL_EINVAL;
    if (!limit)
        limit = ANNAL_INDEX_LIMIT_DEFAULT;
    char cur[ANNAL_INDEX_CURSOR_LEN + 1] = "", next[ANNAL_INDEX_CURSOR_LEN + 1] = "";
    if (cursor && *cursor) {
        if (strlen(cursor) != ANNAL_INDEX_CURSOR_LEN)
            return ANNAL_EINVAL;
        memcpy(cur, cursor, sizeof(cur));
    }
    /* Without a filter, limit + 1 entries tell whether there is more. */
    size_t want = status == ANNAL_PROP_NONE ? (limit < ANNAL_INDEX_LIMIT_MAX ? limit + 1 : limit)
                                            : ANNAL_INDEX_LIMIT_MAX;
    size_t got = 0;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"proposals\":[");
    for (;;) {
        annal_timeline_query q = {.tenant = tenant, .event_type = "PolicyProposalCreated", .limit = want,
                                  .cursor = cur};
        annal_index_page pg = {0};
        if ((rc = annal_index_timeline(ix, &q, &pg)) != ANNAL_OK)
            goto done;
        size_t i = 0;
        for (; i < pg.n && got < limit && rc == ANNAL_OK; i++) {
            char *rec;
            size_t len;
            annal_event ev;
            int keep;
            if ((rc = fetch(ix, tenant, pg.items[i].seq, &rec, &len, &ev)) != ANNAL_OK)
                break;
            rc = put_proposal(ix, tenant, &ev, rec, len, status, got == 0, out, &keep);
            free(rec);
            if (keep && ++got == limit && (i + 1 < pg.n || pg.next_cursor[0]))
                ix_cursor_encode(pg.items[i].time_ns, pg.items[i].seq, next);
        }
        memcpy(cur, pg.next_cursor, sizeof(cur));
        annal_index_page_free(&pg);
        if (rc)
            goto done;
        if (got == limit || !cur[0])
            break;
    }
    PUTL(out, "],\"next_cursor\":");
    if (next[0])
        annal_jbuf_str(out, next, strlen(next));
    else
        PUTL(out, "null");
    annal_jbuf_putc(out, '}');
done:
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- ledger */

typedef struct ledger_walk {
    const annal_ledger_query *q;
    int type;                /* -1: any */
    int has_cur;
    int64_t ct;
    uint64_t cs;
    annal_ledger_entry *e;
    size_t n, cap, want;
    int err;
} ledger_walk;

static int ledger_cb(void *ctx, const annal_ledger_entry *e)
{
    ledger_walk *w = ctx;
    if (w->has_cur && (e->time_ns < w->ct || (e->time_ns == w->ct && e->seq <= w->cs)))
        return 0;
    if ((w->type >= 0 && e->event_type != w->type) || !filter_ok(w->q->entity_type, &e->entity_type) ||
        !filter_ok(w->q->actor_type, &e->actor_type))
        return 0;
    void *grown = vec_room(w->e, &w->cap, w->n, sizeof(*w->e));
    if (!grown) {
        w->err = ANNAL_ENOMEM;
        return 1;
    }
    w->e = grown;
    w->e[w->n++] = *e;
    return w->n >= w->want;
}

int annal_vjson_ledger(annal_index *ix, const annal_ledger_query *q, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !q || !q->tenant || q->limit > ANNAL_INDEX_LIMIT_MAX || (q->to_ns && q->from_ns > q->to_ns))
        return ANNAL_EINVAL;
    ledger_walk w = {.q = q, .type = -1};
    size_t limit = q->limit ? q->limit : ANNAL_INDEX_LIMIT_DEFAULT;
    w.want = limit + 1;
    if (q->event_type && *q->event_type) {
        for (int t = 0; annal_event_type_name(t); t++)
            if (!strcmp(annal_event_type_name(t), q->event_type))
                w.type = t;
        if (w.type < 0)
            return ANNAL_EINVAL;
    }
    if (q->cursor && *q->cursor) {
        if (ix_cursor_decode(q->cursor, &w.ct, &w.cs) != ANNAL_OK)
            return ANNAL_EINVAL;
        w.has_cur = 1;
    }
    int64_t from = q->from_ns;
    if (w.has_cur && w.ct > from)
        from = w.ct;
    if (!q->to_ns || from < q->to_ns) {
        rc = annal_view_ledger(ix, q->tenant, from, q->to_ns, ledger_cb, &w);
        if (rc > 0)
            rc = ANNAL_OK;
        if (w.err)
            rc = w.err;
        if (rc)
            goto done;
    }
    size_t n = w.n > limit ? limit : w.n;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, q->tenant);
    PUTL(out, ",\"entries\":[");
    for (size_t i = 0; i < n; i++) {
        const annal_ledger_entry *e = &w.e[i];
        if (i)
            annal_jbuf_putc(out, ',');
        PUTL(out, "{\"seq\":");
        annal_jbuf_u64(out, e->seq);
        PUTL(out, ",\"time\":");
        annal_jbuf_time(out, e->time_ns);
        PUTL(out, ",\"event_type\":");
        put_name(out, annal_event_type_name(e->event_type));
        PUTL(out, ",\"actor_type\":");
        put_vstr(out, &e->actor_type);
        PUTL(out, ",\"entity_type\":");
        put_vstr(out, &e->entity_type);
        PUTL(out, ",\"record\":");
        if ((rc = put_record(ix, q->tenant, e->seq, out)) != ANNAL_OK)
            goto done;
        annal_jbuf_putc(out, '}');
    }
    PUTL(out, "],\"next_cursor\":");
    if (w.n > limit) {
        char c[ANNAL_INDEX_CURSOR_LEN + 1];
        ix_cursor_encode(w.e[limit - 1].time_ns, w.e[limit - 1].seq, c);
        annal_jbuf_str(out, c, strlen(c));
    } else {
        PUTL(out, "null");
    }
    annal_jbuf_putc(out, '}');
done:
    free(w.e);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- overview */

typedef struct qitem {
    int kind; /* 1 incident, 2 proposal */
    char id[ANNAL_ID_MAX + 1];
    uint64_t seq;
} qitem;

typedef struct qvec {
    qitem *v;
    size_t n, cap, max;
    uint64_t total;
    int err;
} qvec;

static int queue_cb(void *ctx, int kind, const char *id, size_t n, uint64_t seq)
{
    qvec *q = ctx;
    q->total++;
    if (q->n >= q->max)
        return 0;
    void *grown = vec_room(q->v, &q->cap, q->n, sizeof(*q->v));
    if (!grown) {
        q->err = ANNAL_ENOMEM;
        return 1;
    }
    q->v = grown;
    qitem *x = &q->v[q->n];
    x->kind = kind;
    x->seq = seq;
    if (copy_id(x->id, id, n)) {
        q->err = ANNAL_EINDEX;
        return 1;
    }
    q->n++;
    return 0;
}

static int is_budget(const annal_limit_view *l)
{
    return l->category.n == 0 || (l->category.n == 6 && !memcmp(l->category.s, "BUDGET", 6));
}

/* The overview's first_event_at, emergency_override and counts members. */
static void put_ov_counts(annal_jbuf *out, const annal_tenant_view *t)
{
    PUTL(out, ",\"first_event_at\":");
    annal_jbuf_time(out, t->first_ns);
    PUTL(out, ",\"emergency_override\":");
    put_bool(out, t->emergency_override);
    PUTL(out, ",\"counts\":{\"events\":");
    annal_jbuf_u64(out, t->events);
    PUTL(out, ",\"by_domain\":{");
    for (int d = 1; d < 9 && annal_domain_name(d); d++) {
        if (d > 1)
            annal_jbuf_putc(out, ',');
        put_name(out, annal_domain_name(d));
        annal_jbuf_putc(out, ':');
        annal_jbuf_u64(out, t->by_domain[d]);
    }
    uint64_t active = 0;
    for (int s = 0; s < 5; s++)
        active += t->incidents_active[s];
    PUTL(out, "},\"runs\":");
    annal_jbuf_u64(out, t->runs_total);
    PUTL(out, ",\"runs_failed\":");
    annal_jbuf_u64(out, t->runs_failed);
    PUTL(out, ",\"incidents\":");
    annal_jbuf_u64(out, t->incidents_total);
    PUTL(out, ",\"incidents_active\":");
    annal_jbuf_u64(out, active);
    PUTL(out, ",\"incidents_active_by_severity\":{");
    for (int s = ANNAL_SEV_LOW; s <= ANNAL_SEV_CRITICAL; s++) {
        if (s > ANNAL_SEV_LOW)
            annal_jbuf_putc(out, ',');
        put_name(out, annal_vjson_severity_name(s));
        annal_jbuf_putc(out, ':');
        annal_jbuf_u64(out, t->incidents_active[s]);
    }
    PUTL(out, "},\"incidents_acknowledged\":");
    annal_jbuf_u64(out, t->incidents_acked);
    PUTL(out, ",\"proposals\":");
    annal_jbuf_u64(out, t->proposals_total);
    PUTL(out, ",\"proposals_draft\":");
    annal_jbuf_u64(out, t->proposals_draft);
    PUTL(out, ",\"cost_cents\":");
    annal_jbuf_i64(out, t->cost_cents);
    annal_jbuf_putc(out, '}');
}

/* The overview's queue member. */
static int put_ov_queue(annal_index *ix, const char *tenant, const qvec *q, annal_jbuf *out)
{
    int rc = ANNAL_OK;
    PUTL(out, ",\"queue\":{\"total\":");
    annal_jbuf_u64(out, q->total);
    PUTL(out, ",\"items\":[");
    for (size_t i = 0; i < q->n; i++) {
        const qitem *x = &q->v[i];
        if (i)
            annal_jbuf_putc(out, ',');
        if (x->kind == 1) {
            annal_incident_view iv;
            rc = annal_view_incident(ix, tenant, x->id, &iv);
            if (rc == ANNAL_ENOTFOUND)
                memset(&iv, 0, sizeof(iv));
            else if (rc)
                return rc;
            PUTL(out, "{\"kind\":\"incident\",\"id\":");
            put_id(out, x->id);
            PUTL(out, ",\"action\":\"acknowledge\",\"severity\":");
            put_name(out, annal_vjson_severity_name(iv.severity));
            PUTL(out, ",\"title\":");
            put_vstr(out, &iv.title);
            PUTL(out, ",\"category\":");
            put_vstr(out, &iv.category);
            PUTL(out, ",\"created_at\":");
            annal_jbuf_time(out, iv.created_ns);
        } else {
            annal_proposal_view pv;
            rc = annal_view_proposal(ix, tenant, x->id, &pv);
            if (rc == ANNAL_ENOTFOUND)
                memset(&pv, 0, sizeof(pv));
            else if (rc)
                return rc;
            PUTL(out, "{\"kind\":\"proposal\",\"id\":");
            put_id(out, x->id);
            PUTL(out, ",\"action\":\"approve\",\"summary\":");
            put_vstr(out, &pv.summary);
            PUTL(out, ",\"triggering_incident_id\":");
            put_vstr(out, &pv.triggering_incident);
            PUTL(out, ",\"created_at\":");
            annal_jbuf_time(out, pv.created_ns);
        }
        rc = ANNAL_OK;
        annal_jbuf_putc(out, '}');
    }
    PUTL(out, "]}");
    return rc;
}

/* The overview's budgets member. */
static void put_ov_budgets(annal_jbuf *out, const limvec *l)
{
    PUTL(out, ",\"budgets\":[");
    for (size_t i = 0; i < l->n; i++) {
        const lim *x = &l->v[i];
        if (i)
            annal_jbuf_putc(out, ',');
        put_limit_head(out, x);
        PUTL(out, ",\"period_start\":");
        annal_jbuf_time(out, x->s.period_start_ns);
        PUTL(out, ",\"max_cents\":");
        annal_jbuf_i64(out, x->l.max_cents);
        PUTL(out, ",\"spend_cents\":");
        annal_jbuf_i64(out, x->s.cents);
        PUTL(out, ",\"status\":");
        put_name(out, annal_vjson_limit_status_name(x->status));
        PUTL(out, ",\"override\":");
        put_bool(out, x->l.override_active);
        annal_jbuf_putc(out, '}');
    }
    annal_jbuf_putc(out, ']');
}

int annal_vjson_overview(annal_index *ix, const char *tenant, size_t queue_limit, annal_jbuf *out)
{
    return annal_vjson_overview_part(ix, tenant, ANNAL_OVERVIEW_ALL, queue_limit, out);
}

int annal_vjson_overview_part(annal_index *ix, const char *tenant, unsigned parts, size_t queue_limit,
                              annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || queue_limit > ANNAL_INDEX_LIMIT_MAX || !parts || (parts & ~ANNAL_OVERVIEW_ALL))
        return ANNAL_EINVAL;
    annal_tenant_view tv;
    limvec lv = {0};
    qvec qv = {.max = queue_limit ? queue_limit : ANNAL_INDEX_LIMIT_DEFAULT};
    if ((rc = annal_view_tenant(ix, tenant, &tv)) != ANNAL_OK)
        goto done;
    if ((parts & ANNAL_OVERVIEW_QUEUE) && (rc = annal_view_queue(ix, tenant, queue_cb, &qv)) > 0)
        rc = ANNAL_OK;
    if (qv.err)
        rc = qv.err;
    if (rc)
        goto done;
    if ((rc = load_limits(ix, tenant, tv.last_ns, &lv)) != ANNAL_OK)
        goto done;

    /* The pulse (vjson.h). */
    int critical = tv.incidents_active[ANNAL_SEV_CRITICAL] > 0, attention = tv.proposals_draft > 0;
    for (int s = 0; s < 5; s++)
        attention |= tv.incidents_active[s] > 0;
    for (size_t i = 0; i < lv.n; i++) {
        const lim *x = &lv.v[i];
        if (x->status == ANNAL_LIMIT_BREACHED && is_budget(&x->l) && !x->l.override_active &&
            !tv.emergency_override)
            critical = 1;
        if (x->status != ANNAL_LIMIT_OK)
            attention = 1;
    }
    const char *pulse = critical ? "CRITICAL" : attention ? "ATTENTION_NEEDED" : "HEALTHY";

    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"pulse\":");
    put_name(out, pulse);
    PUTL(out, ",\"as_of\":");
    annal_jbuf_time(out, tv.last_ns);
    if (parts & ANNAL_OVERVIEW_PULSE)
        put_ov_counts(out, &tv);
    if ((parts & ANNAL_OVERVIEW_QUEUE) && (rc = put_ov_queue(ix, tenant, &qv, out)) != ANNAL_OK)
        goto done;
    if (parts & ANNAL_OVERVIEW_BUDGETS) {
        if (!(parts & ANNAL_OVERVIEW_PULSE)) {
            PUTL(out, ",\"cost_cents\":");
            annal_jbuf_i64(out, tv.cost_cents);
        }
        put_ov_budgets(out, &lv);
    }
    annal_jbuf_putc(out, '}');
done:
    free(lv.v);
    free(qv.v);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- members of `data`
 *
 * Records are canonical compact JSON (annal_record_parse checked them):
 * ix_json_member (index/data.c) finds a member by skipping values.
 */

/* data.<name> of a parsed record as the raw content of a string (between
 * the quotes); {NULL, 0} when absent or not a string. */
static annal_slice data_str(const annal_event *ev, const char *name)
{
    annal_slice d, v, none = {NULL, 0};
    if (ix_json_member(ev->body, ev->body + ev->body_len, "data", &d) || d.n < 2 || d.p[0] != '{')
        return none;
    if (ix_json_member(d.p + 1, d.p + d.n - 1, name, &v) || v.n < 2 || v.p[0] != '"')
        return none;
    return (annal_slice){v.p + 1, v.n - 2};
}

/* data.<name> of a parsed record as an integer; 0 when absent or not an
 * integer. */
static int64_t data_int(const annal_event *ev, const char *name)
{
    annal_slice d, v;
    if (ix_json_member(ev->body, ev->body + ev->body_len, "data", &d) || d.n < 2 || d.p[0] != '{')
        return 0;
    if (ix_json_member(d.p + 1, d.p + d.n - 1, name, &v) || !v.n)
        return 0;
    int neg = v.p[0] == '-';
    uint64_t a = 0;
    for (size_t i = (size_t)neg; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 0; /* a fraction or exponent */
        a = a * 10 + (uint64_t)(v.p[i] - '0'); /* the record's integers fit int64 */
    }
    return neg ? (int64_t)(0 - a) : (int64_t)a;
}

/* 1 when the raw JSON string content s equals the id (decoded). */
static int raw_eq(annal_slice s, const char *id)
{
    return s.n && annal_json_str_eq(s.p, s.n, memchr(s.p, '\\', s.n) != NULL, id, strlen(id));
}

/* 1 when the id slice of a record equals id. */
static int slice_is(annal_slice s, const char *id)
{
    return s.n == strlen(id) && !memcmp(s.p, id, s.n);
}

/* Walk the tenant's records of one event type after cursor (NULL or "":
 * from the start) in (time, seq) order; visit as in walk(). */
static int walk_type(annal_index *ix, const char *tenant, const char *type, const char *cursor, visit_fn visit,
                     void *ctx)
{
    char cur[ANNAL_INDEX_CURSOR_LEN + 1] = "";
    if (cursor && *cursor) {
        if (strlen(cursor) != ANNAL_INDEX_CURSOR_LEN)
            return ANNAL_EINVAL;
        memcpy(cur, cursor, sizeof(cur));
    }
    for (;;) {
        annal_timeline_query q = {.tenant = tenant, .event_type = type, .limit = ANNAL_INDEX_LIMIT_MAX,
                                  .cursor = cur};
        annal_index_page pg = {0};
        int rc = annal_index_timeline(ix, &q, &pg);
        if (rc)
            return rc;
        for (size_t i = 0; i < pg.n && !rc; i++) {
            char *rec;
            size_t len;
            annal_event ev;
            if ((rc = fetch(ix, tenant, pg.items[i].seq, &rec, &len, &ev)) != ANNAL_OK)
                break;
            rc = visit(ctx, &pg.items[i], &ev, rec, len);
            free(rec);
        }
        memcpy(cur, pg.next_cursor, sizeof(cur));
        annal_index_page_free(&pg);
        if (rc)
            return rc > 0 ? ANNAL_OK : rc;
        if (!cur[0])
            return ANNAL_OK;
    }
}

static void put_cursor(annal_jbuf *b, int more, const annal_index_entry *last)
{
    PUTL(b, "\"next_cursor\":");
    if (more) {
        char c[ANNAL_INDEX_CURSOR_LEN + 1];
        ix_cursor_encode(last->time_ns, last->seq, c);
        annal_jbuf_str(b, c, strlen(c));
    } else {
        PUTL(b, "null");
    }
}

/* ---------------------------------------------------------------- events */

int annal_vjson_event(annal_index *ix, const char *tenant, uint64_t seq, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !seq || !ix_valid_id(tenant, strlen(tenant)))
        return ANNAL_EINVAL;
    char *rec;
    size_t len;
    if ((rc = annal_index_event(ix, tenant, seq, &rec, &len)) != ANNAL_OK)
        return finish(out, start, rc);
    annal_jbuf_put(out, rec, len);
    free(rec);
    return finish(out, start, ANNAL_OK);
}

int annal_vjson_timeline(annal_index *ix, const annal_timeline_query *q, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !q || !q->tenant)
        return ANNAL_EINVAL;
    annal_index_page pg = {0};
    if ((rc = annal_index_timeline(ix, q, &pg)) == ANNAL_OK) {
        PUTL(out, "{\"tenant_id\":");
        put_id(out, q->tenant);
        PUTL(out, ",\"events\":");
        if ((rc = put_page(ix, q->tenant, &pg, out)) == ANNAL_OK)
            annal_jbuf_putc(out, '}');
    }
    annal_index_page_free(&pg);
    return finish(out, start, rc);
}

int annal_vjson_correlation(annal_index *ix, const char *tenant, const char *correlation_id, size_t limit,
                            const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !correlation_id)
        return ANNAL_EINVAL;
    annal_index_page pg = {0};
    if ((rc = annal_index_correlation(ix, tenant, correlation_id, limit, cursor, &pg)) == ANNAL_OK) {
        if (!pg.n && !(cursor && *cursor)) {
            rc = ANNAL_ENOTFOUND;
        } else {
            PUTL(out, "{\"tenant_id\":");
            put_id(out, tenant);
            PUTL(out, ",\"correlation_id\":");
            put_id(out, correlation_id);
            PUTL(out, ",\"events\":");
            if ((rc = put_page(ix, tenant, &pg, out)) == ANNAL_OK)
                annal_jbuf_putc(out, '}');
        }
    }
    annal_index_page_free(&pg);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- incidents list */

typedef struct incs_walk {
    annal_index *ix;
    const char *tenant;
    int state, severity;
    size_t limit, got;
    int more;
    annal_index_entry last;
    annal_jbuf *out;
} incs_walk;

/* The members of an incident list item after incident_id (no braces). */
static void put_incident_item(annal_jbuf *b, const annal_incident_view *v)
{
    PUTL(b, ",\"state\":");
    put_name(b, annal_vjson_incident_state_name(v->state));
    PUTL(b, ",\"severity\":");
    put_name(b, annal_vjson_severity_name(v->severity));
    PUTL(b, ",\"category\":");
    put_vstr(b, &v->category);
    PUTL(b, ",\"source\":");
    put_vstr(b, &v->source);
    PUTL(b, ",\"title\":");
    put_vstr(b, &v->title);
    PUTL(b, ",\"source_run_id\":");
    put_vstr(b, &v->source_run);
    PUTL(b, ",\"correlation_id\":");
    put_vstr(b, &v->correlation);
    PUTL(b, ",\"limit_id\":");
    put_vstr(b, &v->limit_id);
    PUTL(b, ",\"created_at\":");
    annal_jbuf_time(b, v->created_ns);
    PUTL(b, ",\"acknowledged_at\":");
    annal_jbuf_time(b, v->acked_ns);
    PUTL(b, ",\"closed_at\":");
    annal_jbuf_time(b, v->closed_ns);
}

/* The incident view of the IncidentCreated record ev (at entry e) into *v;
 * 0 when this record is the one that created it, 1 when it is a later copy
 * the view ignored (or no view), or an error. */
static int created_incident(annal_index *ix, const char *tenant, const annal_index_entry *e,
                            const annal_event *ev, char id[ANNAL_ID_MAX + 1], annal_incident_view *v)
{
    if (copy_id(id, ev->incident_id.p, ev->incident_id.n))
        return ANNAL_ECORRUPT; /* IncidentCreated requires an incident_id */
    int rc = annal_view_incident(ix, tenant, id, v);
    if (rc == ANNAL_ENOTFOUND)
        return 1;
    if (rc)
        return rc;
    return v->created_seq == e->seq ? 0 : 1;
}

static int incs_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec, size_t len)
{
    (void)rec, (void)len;
    incs_walk *w = ctx;
    char id[ANNAL_ID_MAX + 1];
    annal_incident_view v;
    int rc = created_incident(w->ix, w->tenant, e, ev, id, &v);
    if (rc)
        return rc > 0 ? 0 : rc;
    if ((w->state != ANNAL_INC_NONE && v.state != w->state) ||
        (w->severity != ANNAL_SEV_NONE && v.severity != w->severity))
        return 0;
    if (w->got == w->limit) {
        w->more = 1;
        return 1;
    }
    int64_t cents = 0;
    uint64_t nruns = 0;
    if ((rc = annal_view_incident_cost(w->ix, w->tenant, id, &cents, &nruns)) != ANNAL_OK)
        return rc;
    annal_jbuf *b = w->out;
    if (w->got++)
        annal_jbuf_putc(b, ',');
    PUTL(b, "{\"incident_id\":");
    put_id(b, id);
    put_incident_item(b, &v);
    PUTL(b, ",\"cost_cents\":");
    annal_jbuf_i64(b, cents);
    PUTL(b, ",\"run_count\":");
    annal_jbuf_u64(b, nruns);
    annal_jbuf_putc(b, '}');
    w->last = *e;
    return b->oom ? ANNAL_ENOMEM : 0;
}

int annal_vjson_incidents(annal_index *ix, const char *tenant, int state, int severity, size_t limit,
                          const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !ix_valid_id(tenant, strlen(tenant)) || state < ANNAL_INC_NONE ||
        state > ANNAL_INC_CLOSED || severity < ANNAL_SEV_NONE || severity > ANNAL_SEV_CRITICAL ||
        limit > ANNAL_INDEX_LIMIT_MAX)
        return ANNAL_EINVAL;
    incs_walk w = {.ix = ix, .tenant = tenant, .state = state, .severity = severity,
                   .limit = limit ? limit : ANNAL_INDEX_LIMIT_DEFAULT, .out = out};
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"incidents\":[");
    if ((rc = walk_type(ix, tenant, "IncidentCreated", cursor, incs_visit, &w)) != ANNAL_OK)
        return finish(out, start, rc);
    PUTL(out, "],");
    put_cursor(out, w.more, &w.last);
    annal_jbuf_putc(out, '}');
    return finish(out, start, ANNAL_OK);
}

/* ---------------------------------------------------------------- one limit */

int annal_vjson_limit(annal_index *ix, const char *tenant, const char *limit_id, int64_t at_ns, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !limit_id || at_ns < 0)
        return ANNAL_EINVAL;
    lim x;
    memset(&x, 0, sizeof(x));
    annal_jbuf obj = {0};
    if ((rc = annal_view_limit(ix, tenant, limit_id, &x.l)) != ANNAL_OK)
        goto done;
    if (!at_ns) {
        annal_tenant_view tv;
        rc = annal_view_tenant(ix, tenant, &tv);
        if (rc == ANNAL_OK)
            at_ns = tv.last_ns;
        else if (rc != ANNAL_ENOTFOUND)
            goto done;
    }
    rc = annal_view_limit_spend(ix, tenant, limit_id, at_ns, &x.s);
    if (rc == ANNAL_ENOTFOUND)
        memset(&x.s, 0, sizeof(x.s));
    else if (rc)
        goto done;
    rc = ANNAL_OK;
    if (!x.s.period_start_ns)
        x.s.period_start_ns = annal_period_start(x.l.period ? x.l.period : ANNAL_PERIOD_MONTHLY, at_ns);
    x.status = annal_limit_status_of(&x.l, &x.s);
    snprintf(x.id, sizeof(x.id), "%s", limit_id);
    put_limit_obj(&obj, &x);
    if (obj.oom) {
        rc = ANNAL_ENOMEM;
        goto done;
    }
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"at\":");
    annal_jbuf_time(out, at_ns);
    annal_jbuf_putc(out, ',');
    annal_jbuf_put(out, obj.p + 1, obj.n - 1); /* the limit's members and the closing brace */
done:
    annal_jbuf_free(&obj);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- one ledger entry */

int annal_vjson_ledger_entry(annal_index *ix, const char *tenant, uint64_t seq, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !seq || !ix_valid_id(tenant, strlen(tenant)))
        return ANNAL_EINVAL;
    char *rec;
    size_t len;
    if ((rc = annal_index_event(ix, tenant, seq, &rec, &len)) != ANNAL_OK)
        return finish(out, start, rc);
    annal_event ev;
    if (annal_record_parse(rec, len, &ev, NULL) != ANNAL_OK) {
        rc = ANNAL_ECORRUPT;
    } else if (!ev.is_ledger) {
        rc = ANNAL_ENOTFOUND;
    } else {
        PUTL(out, "{\"tenant_id\":");
        put_id(out, tenant);
        PUTL(out, ",\"seq\":");
        annal_jbuf_u64(out, seq);
        PUTL(out, ",\"time\":");
        annal_jbuf_time(out, ev.has_occurred_at ? ev.occurred_at_ns : ev.recorded_at_ns);
        PUTL(out, ",\"event_type\":");
        put_name(out, annal_event_type_name(ev.type));
        PUTL(out, ",\"actor_type\":");
        annal_jbuf_raw(out, ev.actor_type.p, ev.actor_type.n);
        PUTL(out, ",\"entity_type\":");
        annal_jbuf_raw(out, ev.entity_type.p, ev.entity_type.n);
        PUTL(out, ",\"record\":");
        annal_jbuf_put(out, rec, len);
        annal_jbuf_putc(out, '}');
    }
    free(rec);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- sets of strings
 *
 * A ctab (costs, above) used as a set: the keys are the members, t.n counts
 * them. */

static cgroup *ctab_find(const ctab *t, const char *k, size_t kn)
{
    if (!t->scap)
        return NULL;
    size_t h = (size_t)fnv(k, kn) & (t->scap - 1);
    for (; t->slot[h]; h = (h + 1) & (t->scap - 1)) {
        cgroup *g = &t->g[t->slot[h] - 1];
        if (g->klen == kn && !memcmp(t->keys + g->koff, k, kn))
            return g;
    }
    return NULL;
}

static void ctab_free(ctab *t)
{
    free(t->g);
    free(t->slot);
    free(t->keys);
    memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- API key usage */

typedef struct kday {
    int64_t day;
    int64_t cents, in, outt;
    uint64_t count, runs;
} kday;

typedef struct key_usage {
    const char *key;
    cgroup tot;
    ctab runs, day_runs;   /* distinct run_ids: all, and of the current day */
    kday *d;
    size_t n, cap;
    int64_t first_ns, last_ns;
    int err;
} key_usage;

static int key_cost_cb(void *ctx, const annal_cost_fact *f)
{
    key_usage *u = ctx;
    if (!filter_ok(u->key, &f->api_key))
        return 0;
    int64_t day = floor_to(f->time_ns, NS_DAY);
    if (!u->n || u->d[u->n - 1].day != day) { /* facts come in time order: a new day */
        void *grown = vec_room(u->d, &u->cap, u->n, sizeof(*u->d));
        if (!grown) {
            u->err = ANNAL_ENOMEM;
            return 1;
        }
        u->d = grown;
        memset(&u->d[u->n], 0, sizeof(u->d[0]));
        u->d[u->n++].day = day;
        ctab_free(&u->day_runs);
    }
    kday *k = &u->d[u->n - 1];
    k->cents += f->cents;
    k->in += f->input_tokens;
    k->outt += f->output_tokens;
    k->count++;
    u->tot.cents += f->cents;
    u->tot.in += f->input_tokens;
    u->tot.outt += f->output_tokens;
    u->tot.count++;
    if (!u->first_ns)
        u->first_ns = f->time_ns;
    u->last_ns = f->time_ns;
    if (f->run.n) {
        if (!ctab_get(&u->runs, f->run.s, f->run.n) || !ctab_get(&u->day_runs, f->run.s, f->run.n)) {
            u->err = ANNAL_ENOMEM;
            return 1;
        }
        k->runs = u->day_runs.n;
    }
    return 0;
}

int annal_vjson_api_key_usage(annal_index *ix, const char *tenant, const char *api_key_id, size_t limit,
                              const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if (!ix || !tenant || !api_key_id)
        return ANNAL_EINVAL;
    annal_index_page pg = {0};
    key_usage u = {.key = api_key_id};
    if ((rc = annal_index_api_key(ix, tenant, api_key_id, limit, cursor, &pg)) != ANNAL_OK)
        goto done;
    if (!pg.n && !(cursor && *cursor)) {
        rc = ANNAL_ENOTFOUND; /* no event carries the key */
        goto done;
    }
    rc = annal_view_costs(ix, tenant, 0, 0, key_cost_cb, &u);
    if (rc > 0)
        rc = ANNAL_OK;
    if (u.err)
        rc = u.err;
    if (rc)
        goto done;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"api_key_id\":");
    put_id(out, api_key_id);
    PUTL(out, ",\"cost_cents\":");
    annal_jbuf_i64(out, u.tot.cents);
    PUTL(out, ",\"input_tokens\":");
    annal_jbuf_i64(out, u.tot.in);
    PUTL(out, ",\"output_tokens\":");
    annal_jbuf_i64(out, u.tot.outt);
    PUTL(out, ",\"cost_records\":");
    annal_jbuf_u64(out, u.tot.count);
    PUTL(out, ",\"run_count\":");
    annal_jbuf_u64(out, u.runs.n);
    PUTL(out, ",\"first_cost_at\":");
    annal_jbuf_time(out, u.first_ns);
    PUTL(out, ",\"last_cost_at\":");
    annal_jbuf_time(out, u.last_ns);
    PUTL(out, ",\"by_day\":[");
    for (size_t i = 0; i < u.n; i++) {
        const kday *k = &u.d[i];
        char ts[31];
        annal_time_format(k->day, ts);
        if (i)
            annal_jbuf_putc(out, ',');
        PUTL(out, "{\"day\":\"");
        annal_jbuf_put(out, ts, 10);
        PUTL(out, "\",\"cost_cents\":");
        annal_jbuf_i64(out, k->cents);
        PUTL(out, ",\"input_tokens\":");
        annal_jbuf_i64(out, k->in);
        PUTL(out, ",\"output_tokens\":");
        annal_jbuf_i64(out, k->outt);
        PUTL(out, ",\"cost_records\":");
        annal_jbuf_u64(out, k->count);
        PUTL(out, ",\"runs\":");
        annal_jbuf_u64(out, k->runs);
        annal_jbuf_putc(out, '}');
    }
    PUTL(out, "],\"timeline\":{\"events\":");
    if ((rc = put_page(ix, tenant, &pg, out)) != ANNAL_OK)
        goto done;
    PUTL(out, "}}");
done:
    annal_index_page_free(&pg);
    ctab_free(&u.runs);
    ctab_free(&u.day_runs);
    free(u.d);
    return finish(out, start, rc);
}

/* ---------------------------------------------------------------- policy rules
 *
 * What the log says about one policy rule (vjson.h): its definition events
 * (PolicyRuleCreated / Modified / Retired with entity_id = the rule), the
 * PolicyViolationPrevented events with entity_id = the rule, and the
 * incidents that reference it. Each is a walk of the tenant's list of that
 * event type (there is no entity_id index).
 */

#define RREL_RULE 1u      /* IncidentCreated with data.rule_id = the rule */
#define RREL_VIOLATION 2u /* a violation of the rule carries its incident_id */
#define RREL_RUN 4u       /* its source run has a violation of the rule */

typedef struct rule_scan {
    annal_index *ix;
    const char *tenant, *rule;
    /* definition */
    uint64_t defs;
    int64_t created_ns, changed_ns, retired_ns;
    int retired;
    annal_jbuf name;            /* raw data.rule_name, latest seen */
    int name_from_def;
    int64_t name_ns;
    /* violations */
    uint64_t violations, prevented, flagged;
    int64_t saved_cents, first_ns, last_ns;
    ctab runs, incs, outcomes, actions;
    /* incidents */
    uint64_t inc_total, inc_active, inc_after;
    size_t limit, got;          /* rule_incidents: the page */
    int more;
    annal_index_entry last;
    annal_jbuf *out;            /* NULL: count only */
    int err;
} rule_scan;

/* Keep data.rule_name: that of the latest definition event, else that of
 * the first violation. */
static void rule_name_from(rule_scan *s, const annal_event *ev, const annal_index_entry *e, int from_def)
{
    annal_slice n = data_str(ev, "rule_name");
    if (!n.n || (from_def ? s->name_from_def && e->time_ns < s->name_ns : s->name_from_def || s->name.n))
        return;
    annal_jbuf_reset(&s->name);
    annal_jbuf_put(&s->name, n.p, n.n);
    s->name_from_def |= from_def;
    s->name_ns = e->time_ns;
}

static int rule_def_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec, size_t len)
{
    (void)rec, (void)len;
    rule_scan *s = ctx;
    if (!slice_is(ev->entity_id, s->rule))
        return 0;
    s->defs++;
    if (ev->type == ANNAL_EV_POLICY_RULE_RETIRED) {
        if (!s->retired_ns || e->time_ns > s->retired_ns)
            s->retired_ns = e->time_ns;
    } else {
        if (ev->type == ANNAL_EV_POLICY_RULE_CREATED && (!s->created_ns || e->time_ns < s->created_ns))
            s->created_ns = e->time_ns;
        if (e->time_ns > s->changed_ns)
            s->changed_ns = e->time_ns;
        rule_name_from(s, ev, e, 1);
    }
    return s->name.oom ? ANNAL_ENOMEM : 0;
}

/* Add to a by-key sum (outcome, action); absent keys are "". */
static int rule_sum(ctab *t, annal_slice k, int64_t cents)
{
    cgroup *g = ctab_get(t, k.p ? k.p : "", k.n);
    if (!g)
        return ANNAL_ENOMEM;
    g->cents += cents;
    g->count++;
    return ANNAL_OK;
}

static int rule_violation_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec,
                                size_t len)
{
    (void)rec, (void)len;
    rule_scan *s = ctx;
    if (!slice_is(ev->entity_id, s->rule))
        return 0;
    annal_slice outcome = data_str(ev, "outcome"), action = data_str(ev, "action");
    int64_t saved = data_int(ev, "estimated_cost_saved_cents");
    s->violations++;
    if (raw_eq(outcome, "prevented")) {
        s->prevented++;
        s->saved_cents += saved;
    } else if (raw_eq(outcome, "flagged")) {
        s->flagged++;
    }
    if (!s->first_ns)
        s->first_ns = e->time_ns;
    s->last_ns = e->time_ns;
    if (rule_sum(&s->outcomes, outcome, saved) || rule_sum(&s->actions, action, saved) ||
        (ev->run_id.n && !ctab_get(&s->runs, ev->run_id.p, ev->run_id.n)) ||
        (ev->incident_id.n && !ctab_get(&s->incs, ev->incident_id.p, ev->incident_id.n)))
        return ANNAL_ENOMEM;
    rule_name_from(s, ev, e, 0);
    return s->name.oom ? ANNAL_ENOMEM : 0;
}

static int rule_incident_visit(void *ctx, const annal_index_entry *e, const annal_event *ev, const char *rec,
                               size_t len)
{
    (void)rec, (void)len;
    rule_scan *s = ctx;
    unsigned rel = 0;
    if (raw_eq(data_str(ev, "rule_id"), s->rule))
        rel |= RREL_RULE;
    if (ev->incident_id.n && ctab_find(&s->incs, ev->incident_id.p, ev->incident_id.n))
        rel |= RREL_VIOLATION;
    if (ev->run_id.n && ctab_find(&s->runs, ev->run_id.p, ev->run_id.n))
        rel |= RREL_RUN;
    if (!rel)
        return 0;
    char id[ANNAL_ID_MAX + 1];
    annal_incident_view v;
    int rc = created_incident(s->ix, s->tenant, e, ev, id, &v);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (!s->out) {
        s->inc_total++;
        s->inc_active += v.state == ANNAL_INC_ACTIVE;
        s->inc_after += s->changed_ns && v.created_ns > s->changed_ns;
        return 0;
    }
    if (s->got == s->limit) {
        s->more = 1;
        return 1;
    }
    annal_jbuf *b = s->out;
    if (s->got++)
        annal_jbuf_putc(b, ',');
    PUTL(b, "{\"incident_id\":");
    put_id(b, id);
    PUTL(b, ",\"relation\":[");
    int first = 1;
    static const char *const rel_names[] = {"\"rule_id\"", "\"violation\"", "\"source_run\""};
    for (unsigned i = 0; i < 3; i++)
        if (rel & (1u << i)) {
            if (!first)
                annal_jbuf_putc(b, ',');
            annal_jbuf_puts(b, rel_names[i]);
            first = 0;
        }
    annal_jbuf_putc(b, ']');
    put_incident_item(b, &v);
    annal_jbuf_putc(b, '}');
    s->last = *e;
    return b->oom ? ANNAL_ENOMEM : 0;
}

/* The definition and violation walks (every rule read needs both). */
static int rule_scan_base(rule_scan *s)
{
    static const char *const defs[] = {"PolicyRuleCreated", "PolicyRuleModified", "PolicyRuleRetired"};
    int rc = ANNAL_OK;
    for (size_t i = 0; i < 3 && rc == ANNAL_OK; i++)
        rc = walk_type(s->ix, s->tenant, defs[i], NULL, rule_def_visit, s);
    if (rc == ANNAL_OK)
        rc = walk_type(s->ix, s->tenant, "PolicyViolationPrevented", NULL, rule_violation_visit, s);
    s->retired = s->retired_ns && s->retired_ns >= s->changed_ns;
    return rc;
}

static void rule_scan_free(rule_scan *s)
{
    annal_jbuf_free(&s->name);
    ctab_free(&s->runs);
    ctab_free(&s->incs);
    ctab_free(&s->outcomes);
    ctab_free(&s->actions);
}

static int rule_args(annal_index *ix, const char *tenant, const char *rule_id)
{
    if (!ix || !tenant || !rule_id || !ix_valid_id(tenant, strlen(tenant)) || !ix_valid_id(rule_id, strlen(rule_id)))
        return ANNAL_EINVAL;
    return ANNAL_OK;
}

int annal_vjson_rule_incidents(annal_index *ix, const char *tenant, const char *rule_id, size_t limit,
                               const char *cursor, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if ((rc = rule_args(ix, tenant, rule_id)) != ANNAL_OK || limit > ANNAL_INDEX_LIMIT_MAX)
        return ANNAL_EINVAL;
    rule_scan s = {.ix = ix, .tenant = tenant, .rule = rule_id, .limit = limit ? limit : ANNAL_INDEX_LIMIT_DEFAULT,
                   .out = out};
    if ((rc = rule_scan_base(&s)) != ANNAL_OK)
        goto done;
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"rule_id\":");
    put_id(out, rule_id);
    PUTL(out, ",\"incidents\":[");
    if ((rc = walk_type(ix, tenant, "IncidentCreated", cursor, rule_incident_visit, &s)) != ANNAL_OK)
        goto done;
    if (!s.defs && !s.violations && !s.got && !(cursor && *cursor)) {
        rc = ANNAL_ENOTFOUND;
        goto done;
    }
    PUTL(out, "],");
    put_cursor(out, s.more, &s.last);
    annal_jbuf_putc(out, '}');
done:
    rule_scan_free(&s);
    return finish(out, start, rc);
}

/* [{"<what>":K,"count":N,"estimated_cost_saved_cents":N},...] in key order. */
static int put_rule_sums(annal_jbuf *out, const ctab *t, const char *what)
{
    gref *refs = t->n ? malloc(t->n * sizeof(*refs)) : NULL;
    if (t->n && !refs)
        return ANNAL_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        refs[i] = (gref){t->keys + t->g[i].koff, t->g[i].klen, &t->g[i]};
    if (t->n)
        qsort(refs, t->n, sizeof(*refs), gref_cmp);
    annal_jbuf_putc(out, '[');
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            annal_jbuf_putc(out, ',');
        PUTL(out, "{\"");
        annal_jbuf_puts(out, what);
        PUTL(out, "\":");
        annal_jbuf_raw(out, refs[i].k, refs[i].kn);
        PUTL(out, ",\"count\":");
        annal_jbuf_u64(out, refs[i].g->count);
        PUTL(out, ",\"estimated_cost_saved_cents\":");
        annal_jbuf_i64(out, refs[i].g->cents);
        annal_jbuf_putc(out, '}');
    }
    annal_jbuf_putc(out, ']');
    free(refs);
    return ANNAL_OK;
}

int annal_vjson_rule_effectiveness(annal_index *ix, const char *tenant, const char *rule_id, annal_jbuf *out)
{
    size_t start;
    int rc = begin(out, &start);
    if (rc)
        return rc;
    if ((rc = rule_args(ix, tenant, rule_id)) != ANNAL_OK)
        return rc;
    rule_scan s = {.ix = ix, .tenant = tenant, .rule = rule_id};
    if ((rc = rule_scan_base(&s)) != ANNAL_OK)
        goto done;
    if ((rc = walk_type(ix, tenant, "IncidentCreated", NULL, rule_incident_visit, &s)) != ANNAL_OK)
        goto done;
    if (!s.defs && !s.violations && !s.inc_total) {
        rc = ANNAL_ENOTFOUND;
        goto done;
    }
    PUTL(out, "{\"tenant_id\":");
    put_id(out, tenant);
    PUTL(out, ",\"rule_id\":");
    put_id(out, rule_id);
    PUTL(out, ",\"rule_name\":");
    annal_jbuf_raw(out, s.name.p, s.name.n);
    PUTL(out, ",\"state\":");
    put_name(out, !s.defs ? NULL : s.retired ? "RETIRED" : "ACTIVE");
    PUTL(out, ",\"created_at\":");
    annal_jbuf_time(out, s.created_ns);
    PUTL(out, ",\"last_changed_at\":");
    annal_jbuf_time(out, s.changed_ns);
    PUTL(out, ",\"retired_at\":");
    annal_jbuf_time(out, s.retired ? s.retired_ns : 0);
    PUTL(out, ",\"definition_events\":");
    annal_jbuf_u64(out, s.defs);
    PUTL(out, ",\"violations\":");
    annal_jbuf_u64(out, s.violations);
    PUTL(out, ",\"prevented\":");
    annal_jbuf_u64(out, s.prevented);
    PUTL(out, ",\"flagged\":");
    annal_jbuf_u64(out, s.flagged);
    PUTL(out, ",\"estimated_cost_saved_cents\":");
    annal_jbuf_i64(out, s.saved_cents);
    PUTL(out, ",\"runs_affected\":");
    annal_jbuf_u64(out, s.runs.n);
    PUTL(out, ",\"first_violation_at\":");
    annal_jbuf_time(out, s.first_ns);
    PUTL(out, ",\"last_violation_at\":");
    annal_jbuf_time(out, s.last_ns);
    PUTL(out, ",\"by_outcome\":");
    if ((rc = put_rule_sums(out, &s.outcomes, "outcome")) != ANNAL_OK)
        goto done;
    PUTL(out, ",\"by_action\":");
    if ((rc = put_rule_sums(out, &s.actions, "action")) != ANNAL_OK)
        goto done;
    PUTL(out, ",\"incidents\":{\"total\":");
    annal_jbuf_u64(out, s.inc_total);
    PUTL(out, ",\"active\":");
    annal_jbuf_u64(out, s.inc_active);
    PUTL(out, ",\"since_last_change\":");
    annal_jbuf_u64(out, s.inc_after);
    PUTL(out, "}}");
done:
    rule_scan_free(&s);
    return finish(out, start, rc);
}
