/*
 * ingest.c - POST /api/v1/events: one JSON event, or NDJSON (api/API.md).
 *
 * All or nothing: every line is validated first (annal_event_parse, and its
 * tenant_id against the token's tenant); if any line is bad, nothing is
 * appended and the answer lists every bad line. Otherwise the batch goes to
 * annal_db_append (idempotent by (tenant, event_id)) and the answer is sent
 * once every event of it is durable.
 */
#include "api/internal.h"

#include "store/error.h"
#include "store/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LISTED_ERRORS 100

typedef struct line_err {
    size_t line;
    int tenant_mismatch;
    annal_event_error e;
} line_err;

static int media_type(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (!ct || strncasecmp(ct, want, n) != 0)
        return 0;
    return ct[n] == 0 || ct[n] == ';' || ct[n] == ' ';
}

static void put_hex(annal_jbuf *b, const unsigned char h[32])
{
    char hex[65];
    annal_hex32(h, hex);
    annal_jbuf_putc(b, '"');
    annal_jbuf_put(b, hex, 64);
    annal_jbuf_putc(b, '"');
}

/* The recorded_at and leaf hash of the record at seq (a duplicate's first
 * copy). */
static int original(annal_server *s, const char *tenant, uint64_t seq, int64_t *recorded_at,
                    unsigned char leaf[32])
{
    char *rec;
    size_t len;
    int rc = annal_index_event(annal_db_index(s->db), tenant, seq, &rec, &len);
    if (rc)
        return rc;
    annal_event ev;
    rc = annal_record_parse(rec, len, &ev, NULL) == ANNAL_OK ? ANNAL_OK : ANNAL_ECORRUPT;
    if (rc == ANNAL_OK) {
        *recorded_at = ev.recorded_at_ns;
        annal_leaf_hash(rec, len, leaf);
    }
    free(rec);
    return rc;
}

void api_ingest(api_req *r, api_resp *o)
{
    annal_server *s = r->srv;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int ndjson = media_type(ct, "application/x-ndjson");
    if (!ndjson && !media_type(ct, "application/json")) {
        api_problem(o, 415, "send one event as application/json or a batch as application/x-ndjson "
                            "(Content-Type was '%.64s')", ct ? ct : "");
        return;
    }
    if (r->body_len == 0) {
        api_problem(o, 400, "the body is empty: send one JSON event, or NDJSON lines");
        return;
    }
    /* Split into lines (one for application/json). */
    size_t cap = 0, n = 0;
    const char *p = r->body, *end = r->body + r->body_len;
    size_t *off = NULL, *len = NULL, *lineno = NULL;
    size_t ln = 0;
    while (p < end) {
        const char *q = ndjson ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (!q)
            q = end;
        ln++;
        size_t l = (size_t)(q - p);
        if (l && p[l - 1] == '\r')
            l--;
        int blank = 1;
        for (size_t i = 0; i < l && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t';
        if (!blank || !ndjson) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                size_t *a = realloc(off, cap * sizeof(*a)), *b = a ? realloc(len, cap * sizeof(*b)) : NULL;
                if (a)
                    off = a;
                if (b)
                    len = b;
                size_t *c = b ? realloc(lineno, cap * sizeof(*c)) : NULL;
                if (!c) {
                    free(off);
                    free(len);
                    free(lineno);
                    api_problem(o, 500, "out of memory");
                    return;
                }
                lineno = c;
            }
            off[n] = (size_t)(p - r->body);
            len[n] = l;
            lineno[n] = ln;
            n++;
        }
        p = q + 1;
    }
    if (n == 0) {
        free(off);
        free(len);
        free(lineno);
        api_problem(o, 400, "the body has no event: send one JSON event per line");
        return;
    }
    annal_event *evs = calloc(n, sizeof(*evs));
    char *compact = malloc(r->body_len + n + 1);
    annal_db_result *res = calloc(n, sizeof(*res));
    line_err *errs = calloc(MAX_LISTED_ERRORS, sizeof(*errs));
    size_t nerr = 0, nbad = 0, mism = 0, co = 0;
    if (!evs || !compact || !res || !errs) {
        api_problem(o, 500, "out of memory");
        goto out;
    }
    size_t tn = strlen(r->tenant);
    for (size_t i = 0; i < n; i++) {
        annal_event_error e;
        int rc = annal_event_parse(r->body + off[i], len[i], s->opt.max_event, compact + co, len[i] + 1, &evs[i], &e);
        int mismatch = 0;
        if (rc == ANNAL_OK && (evs[i].tenant_id.n != tn || memcmp(evs[i].tenant_id.p, r->tenant, tn) != 0)) {
            mismatch = 1;
            snprintf(e.field, sizeof(e.field), "tenant_id");
            snprintf(e.reason, sizeof(e.reason),
                     "tenant_id '%.*s' is not the tenant of this token ('%.48s'); tokens ingest for their own tenant",
                     (int)(evs[i].tenant_id.n > 48 ? 48 : evs[i].tenant_id.n), evs[i].tenant_id.p, r->tenant);
            e.offset = 0;
            rc = ANNAL_EEVENT;
        }
        if (rc == ANNAL_OK && evs[i].event_id.n >= 6 && memcmp(evs[i].event_id.p, "annal-", 6) == 0) {
            snprintf(e.field, sizeof(e.field), "event_id");
            snprintf(e.reason, sizeof(e.reason),
                     "event_ids starting with 'annal-' are reserved for the events annal's rules derive; "
                     "choose another event_id");
            e.offset = 0;
            rc = ANNAL_EEVENT;
        }
        if (rc != ANNAL_OK) {
            nbad++;
            mism += (size_t)mismatch;
            if (nerr < MAX_LISTED_ERRORS)
                errs[nerr++] = (line_err){lineno[i], mismatch, e};
            continue;
        }
        co += len[i] + 1;
    }
    if (nbad) {
        atomic_fetch_add(&s->ingest_rejected, 1);
        unsigned st = mism == nbad ? 403 : 400;
        annal_jbuf_reset(&o->body);
        o->status = st;
        o->ctype = "application/problem+json";
        char detail[256];
        snprintf(detail, sizeof(detail), "%zu of %zu event%s rejected; nothing was appended. Fix the lines listed in 'errors'%s",
                 nbad, n, n == 1 ? "" : "s", nbad > nerr ? " (the first 100 are listed)" : "");
        annal_jbuf_puts(&o->body, st == 403 ? "{\"type\":\"about:blank\",\"title\":\"Forbidden\",\"status\":403,\"detail\":"
                                            : "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,\"detail\":");
        annal_jbuf_str(&o->body, detail, strlen(detail));
        annal_jbuf_puts(&o->body, ",\"rejected\":");
        annal_jbuf_u64(&o->body, nbad);
        annal_jbuf_puts(&o->body, ",\"errors\":[");
        for (size_t i = 0; i < nerr; i++) {
            annal_jbuf_puts(&o->body, i ? ",{\"line\":" : "{\"line\":");
            annal_jbuf_u64(&o->body, errs[i].line);
            annal_jbuf_puts(&o->body, ",\"field\":");
            annal_jbuf_str(&o->body, errs[i].e.field, strlen(errs[i].e.field));
            annal_jbuf_puts(&o->body, ",\"reason\":");
            annal_jbuf_str(&o->body, errs[i].e.reason, strlen(errs[i].e.reason));
            annal_jbuf_puts(&o->body, ",\"offset\":");
            annal_jbuf_u64(&o->body, errs[i].e.offset);
            annal_jbuf_putc(&o->body, '}');
        }
        annal_jbuf_puts(&o->body, "]}");
        goto out;
    }
    annal_append_result ar;
    int rc = annal_db_append_log(s->db, evs, n, res, &ar);
    if (rc) {
        if (rc == ANNAL_EIO || rc == ANNAL_ECLOSED)
            api_problem(o, 507, "the log cannot write (%s); nothing of this request is acknowledged: retry "
                                "with the same event_ids once an operator has fixed the disk and restarted annal",
                        annal_strerror(rc));
        else
            api_problem(o, 500, "append failed: %s; retry with the same event_ids", annal_strerror(rc));
        goto out;
    }
    atomic_fetch_add(&s->ingest_batches, 1);
    if (!ndjson) {
        int64_t rec_at = ar.recorded_at_ns;
        unsigned char leaf[32];
        memcpy(leaf, ar.leaf, 32);
        if (res[0].duplicate && (rc = original(s, r->tenant, res[0].seq, &rec_at, leaf))) {
            api_problem_code(o, rc, "original event");
            goto out;
        }
        api_json(o, res[0].duplicate ? 200 : 201);
        annal_jbuf_puts(&o->body, "{\"seq\":");
        annal_jbuf_u64(&o->body, res[0].seq);
        annal_jbuf_puts(&o->body, ",\"recorded_at\":");
        annal_jbuf_time(&o->body, rec_at);
        annal_jbuf_puts(&o->body, ",\"leaf_hash\":");
        put_hex(&o->body, leaf);
        if (!res[0].duplicate) {
            annal_jbuf_puts(&o->body, ",\"chain_head\":");
            put_hex(&o->body, ar.chain);
        }
        annal_jbuf_puts(&o->body, res[0].duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
        if (!res[0].duplicate)
            snprintf(o->location, sizeof(o->location), "/api/v1/events/%llu", (unsigned long long)res[0].seq);
        goto out;
    }
    size_t dups = 0;
    for (size_t i = 0; i < n; i++)
        dups += (size_t)res[i].duplicate;
    api_json(o, dups == n ? 200 : 201);
    annal_jbuf_puts(&o->body, "{\"appended\":");
    annal_jbuf_u64(&o->body, n - dups);
    annal_jbuf_puts(&o->body, ",\"duplicates\":");
    annal_jbuf_u64(&o->body, dups);
    if (dups < n) {
        annal_jbuf_puts(&o->body, ",\"first_seq\":");
        annal_jbuf_u64(&o->body, ar.first_seq);
        annal_jbuf_puts(&o->body, ",\"last_seq\":");
        annal_jbuf_u64(&o->body, ar.last_seq);
        annal_jbuf_puts(&o->body, ",\"recorded_at\":");
        annal_jbuf_time(&o->body, ar.recorded_at_ns);
        annal_jbuf_puts(&o->body, ",\"chain_head\":");
        put_hex(&o->body, ar.chain);
    }
    annal_jbuf_puts(&o->body, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        annal_jbuf_puts(&o->body, i ? ",{\"line\":" : "{\"line\":");
        annal_jbuf_u64(&o->body, lineno[i]);
        annal_jbuf_puts(&o->body, ",\"seq\":");
        annal_jbuf_u64(&o->body, res[i].seq);
        annal_jbuf_puts(&o->body, res[i].duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}");
    }
    annal_jbuf_puts(&o->body, "]}");
out:
    free(off);
    free(len);
    free(lineno);
    free(evs);
    free(compact);
    free(res);
    free(errs);
}
