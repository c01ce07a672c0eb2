/*
 * bundle.c - evidence bundles (bundle.h; store/FORMAT.md section 8): the
 * selection from the index, the checks of the checkpoint against the
 * index's tree, and the bundle written to a stdio stream.
 */
#include "index/bundle.h"

#include "store/error.h"
#include "store/event.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct annal_bundle {
    annal_index *ix;
    char tenant[ANNAL_ID_MAX + 1];
    annal_bundle_selection sel;
    char *id;                  /* sel.id's copy */
    uint64_t *seqs;            /* ascending, distinct */
    size_t nseqs;
    char *note;                /* the checkpoint, exactly as given or saved */
    size_t note_len;
    annal_checkpoint cp;
    char signer[ANNAL_NOTE_NAME_MAX + 1];
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

void annal_bundle_json_string(FILE *f, const char *s, size_t n)
{
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (ch < 0x20)
                fprintf(f, "\\u%04x", ch);
            else
                putc(ch, f);
        }
    }
    putc('"', f);
}

const char *annal_bundle_strerror(int code)
{
    switch (code) {
    case ANNAL_BUNDLE_ENOEVENTS: return "the tenant has no events in this selection";
    case ANNAL_BUNDLE_ETOOMANY: return "the selection holds too many events";
    case ANNAL_BUNDLE_ENOCHECKPOINT: return "no checkpoint has been issued";
    case ANNAL_BUNDLE_EBADNOTE: return "the checkpoint is not a signed checkpoint";
    case ANNAL_BUNDLE_EUNCOVERED: return "the checkpoint does not cover the selection";
    case ANNAL_BUNDLE_EFOREIGN: return "the checkpoint is not one of this log";
    default: return annal_index_strerror(code);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort seqs[0..*n) and drop repeats. */
static void sort_distinct(uint64_t *seqs, size_t *n)
{
    if (*n < 2)
        return;
    qsort(seqs, *n, sizeof(*seqs), cmp_u64);
    size_t k = 1;
    for (size_t i = 1; i < *n; i++)
        if (seqs[i] != seqs[k - 1])
            seqs[k++] = seqs[i];
    *n = k;
}

/* Every seq of the selection, ascending and distinct: *seqs malloc'd. 0, an
 * index error, or ANNAL_BUNDLE_ETOOMANY (more than max, when max > 0: *n is
 * then the distinct seqs seen so far). */
static int select_seqs(annal_index *ix, const char *tenant, const annal_bundle_selection *sel, size_t max,
                       uint64_t **seqs, size_t *n)
{
    char cursor[ANNAL_INDEX_CURSOR_LEN + 1] = "";
    size_t cap = 0;
    *seqs = NULL;
    *n = 0;
    for (;;) {
        annal_index_page page = {0};
        int rc;
        if (sel->kind == ANNAL_BUNDLE_TIME) {
            annal_timeline_query q = {.tenant = tenant,
                                      .from_ns = sel->has_from ? sel->from_ns : 0,
                                      .to_ns = sel->has_to ? sel->to_ns : 0,
                                      .limit = ANNAL_INDEX_LIMIT_MAX,
                                      .cursor = cursor};
            rc = annal_index_timeline(ix, &q, &page);
        } else {
            int (*fn)(annal_index *, const char *, const char *, size_t, const char *, annal_index_page *) =
                sel->kind == ANNAL_BUNDLE_RUN        ? annal_index_run
                : sel->kind == ANNAL_BUNDLE_INCIDENT ? annal_index_incident
                                                     : annal_index_correlation;
            rc = fn(ix, tenant, sel->id, ANNAL_INDEX_LIMIT_MAX, cursor, &page);
        }
        if (rc)
            return rc;
        if (*n + page.n > cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            while (ncap < *n + page.n)
                ncap *= 2;
            uint64_t *p = realloc(*seqs, ncap * sizeof(*p));
            if (!p) {
                annal_index_page_free(&page);
                return ANNAL_ENOMEM;
            }
            *seqs = p;
            cap = ncap;
        }
        for (size_t i = 0; i < page.n; i++)
            (*seqs)[(*n)++] = page.items[i].seq;
        int more = page.next_cursor[0] != 0;
        if (more)
            memcpy(cursor, page.next_cursor, sizeof(cursor));
        annal_index_page_free(&page);
        if (max && *n > max) {
            sort_distinct(*seqs, n);
            if (*n > max)
                return ANNAL_BUNDLE_ETOOMANY;
        }
        if (!more)
            break;
    }
    sort_distinct(*seqs, n);
    return 0;
}

/* The name of the first signature line of the well-formed note
 * note[0..len) whose text is text_len bytes, into name. */
static void first_signer(const char *note, size_t len, size_t text_len, char name[ANNAL_NOTE_NAME_MAX + 1])
{
    /* text, "\n", then "— " name " " base64 "\n" (store/note.h). */
    const char *p = note + text_len + 1 + 4, *end = note + len;
    size_t k = 0;
    while (p < end && *p != ' ' && k < ANNAL_NOTE_NAME_MAX)
        name[k++] = *p++;
    name[k] = 0;
}

void annal_bundle_free(annal_bundle *b)
{
    if (!b)
        return;
    free(b->seqs);
    free(b->note);
    free(b->id);
    free(b);
}

int annal_bundle_prepare(annal_index *ix, const char *dir, const char *tenant, const annal_bundle_selection *sel,
                         const char *checkpoint_note, size_t note_len, const char *checkpoint_name,
                         size_t max_events, annal_bundle **out, annal_bundle_info *info, char *err,
                         size_t errlen)
{
    annal_bundle_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    if (out)
        *out = NULL;
    if (!ix || !dir || !tenant || !sel || !out)
        return fail(err, errlen, ANNAL_EINVAL, "annal_bundle_prepare: a required argument is NULL");
    if (sel->kind < ANNAL_BUNDLE_TIME || sel->kind > ANNAL_BUNDLE_CORRELATION)
        return fail(err, errlen, ANNAL_EINVAL, "invalid selection: unknown kind %d", sel->kind);
    if (sel->kind != ANNAL_BUNDLE_TIME && !sel->id)
        return fail(err, errlen, ANNAL_EINVAL, "invalid selection: no id");
    if (sel->kind == ANNAL_BUNDLE_TIME && ((sel->has_to && sel->to_ns <= 0) || (sel->has_from && sel->from_ns < 0) ||
                                           (sel->has_from && sel->has_to && sel->from_ns > sel->to_ns)))
        return fail(err, errlen, ANNAL_EINVAL,
                    "invalid selection: to must be after from (and after 1970-01-01T00:00:00Z)");
    size_t tl = strlen(tenant);
    if (tl > ANNAL_ID_MAX)
        return fail(err, errlen, ANNAL_EINVAL,
                    "invalid selection: tenants and ids are 1..128 bytes of [A-Za-z0-9._:@/-]");

    annal_bundle *b = calloc(1, sizeof(*b));
    if (!b)
        return fail(err, errlen, ANNAL_ENOMEM, "out of memory");
    b->ix = ix;
    memcpy(b->tenant, tenant, tl + 1);
    b->sel = *sel;
    b->sel.id = NULL;
    if (sel->kind != ANNAL_BUNDLE_TIME) {
        if (!(b->id = strdup(sel->id))) {
            annal_bundle_free(b);
            return fail(err, errlen, ANNAL_ENOMEM, "out of memory");
        }
        b->sel.id = b->id;
    }

    /* The selection. */
    int rc = select_seqs(ix, tenant, sel, max_events, &b->seqs, &b->nseqs);
    info->events = b->nseqs;
    if (rc == ANNAL_BUNDLE_ETOOMANY) {
        fail(err, errlen, rc, "the selection holds more than %zu events", max_events);
        goto fail;
    }
    if (rc) {
        if (rc == ANNAL_EINVAL)
            fail(err, errlen, rc, "invalid selection: tenants and ids are 1..128 bytes of [A-Za-z0-9._:@/-]");
        else
            fail(err, errlen, rc, "cannot read the index: %s", annal_index_strerror(rc));
        goto fail;
    }
    if (b->nseqs == 0) {
        rc = fail(err, errlen, ANNAL_BUNDLE_ENOEVENTS, "tenant %s has no events in this selection", tenant);
        goto fail;
    }
    uint64_t last = b->seqs[b->nseqs - 1];
    info->last_seq = last;

    /* The checkpoint: it must be of this log and cover every event selected. */
    char cerr[512];
    info->latest = checkpoint_note == NULL;
    if (checkpoint_note) {
        if (!(b->note = malloc(note_len ? note_len : 1))) {
            rc = fail(err, errlen, ANNAL_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(b->note, checkpoint_note, note_len);
        b->note_len = note_len;
    } else {
        rc = annal_checkpoint_latest(dir, &b->note, &b->note_len, NULL, cerr, sizeof(cerr));
        if (rc == ANNAL_ENOTFOUND) {
            rc = fail(err, errlen, ANNAL_BUNDLE_ENOCHECKPOINT, "no checkpoint is saved in %s/" ANNAL_CHECKPOINT_DIR,
                      dir);
            goto fail;
        }
        if (rc) {
            fail(err, errlen, rc, "%s", cerr);
            goto fail;
        }
    }
    size_t text_len;
    if (annal_note_split(b->note, b->note_len, &text_len, cerr, sizeof(cerr)) ||
        annal_checkpoint_parse(b->note, text_len, &b->cp, cerr, sizeof(cerr))) {
        rc = fail(err, errlen, ANNAL_BUNDLE_EBADNOTE, "%s is not a signed checkpoint: %s",
                  !checkpoint_note  ? "the latest saved checkpoint"
                  : checkpoint_name ? checkpoint_name
                                    : "the checkpoint given",
                  cerr);
        goto fail;
    }
    info->tree_size = b->cp.size;
    snprintf(info->origin, sizeof(info->origin), "%s", b->cp.origin);
    if (b->cp.size < last) {
        rc = fail(err, errlen, ANNAL_BUNDLE_EUNCOVERED,
                  "the %scheckpoint covers %llu events but the selection reaches seq %llu",
                  checkpoint_note ? "" : "latest ", (unsigned long long)b->cp.size, (unsigned long long)last);
        goto fail;
    }
    uint64_t applied = 0;
    if ((rc = annal_index_applied(ix, &applied)) != 0) {
        fail(err, errlen, rc, "cannot read the index: %s", annal_index_strerror(rc));
        goto fail;
    }
    info->applied = applied;
    if (b->cp.size > applied) {
        rc = fail(err, errlen, ANNAL_BUNDLE_EFOREIGN,
                  "the checkpoint covers %llu events but the log holds %llu: it is not a checkpoint of this log",
                  (unsigned long long)b->cp.size, (unsigned long long)applied);
        goto fail;
    }
    unsigned char root[32];
    if ((rc = annal_index_tree_root(ix, b->cp.size, root)) != 0) {
        fail(err, errlen, rc, "cannot compute the tree root: %s", annal_index_strerror(rc));
        goto fail;
    }
    if (memcmp(root, b->cp.root, 32) != 0) {
        rc = fail(err, errlen, ANNAL_BUNDLE_EFOREIGN,
                  "the checkpoint's root is not the root of this log's first %llu events: it is a checkpoint of "
                  "another log, or this log was rewritten (annal verify --against)",
                  (unsigned long long)b->cp.size);
        goto fail;
    }
    first_signer(b->note, b->note_len, text_len, b->signer);
    *out = b;
    return ANNAL_OK;
fail:
    annal_bundle_free(b);
    return rc;
}

static void write_selection(FILE *f, const annal_bundle_selection *sel)
{
    fputs("{", f);
    if (sel->kind == ANNAL_BUNDLE_TIME) {
        char t[31];
        if (sel->has_from) {
            annal_time_format(sel->from_ns, t);
            fprintf(f, "\"from\":\"%s\"", t);
        }
        if (sel->has_to) {
            annal_time_format(sel->to_ns, t);
            fprintf(f, "%s\"to\":\"%s\"", sel->has_from ? "," : "", t);
        }
    } else {
        const char *key = sel->kind == ANNAL_BUNDLE_RUN        ? "run_id"
                          : sel->kind == ANNAL_BUNDLE_INCIDENT ? "incident_id"
                                                               : "correlation_id";
        fprintf(f, "\"%s\":", key);
        annal_bundle_json_string(f, sel->id, strlen(sel->id));
    }
    fputs("}", f);
}

int annal_bundle_emit(annal_bundle *b, FILE *f, char *err, size_t errlen)
{
    if (!b || !f)
        return fail(err, errlen, ANNAL_EINVAL, "annal_bundle_emit: a required argument is NULL");
    unsigned char(*proof)[32] = malloc(ANNAL_MERKLE_MAX_PROOF * sizeof(*proof));
    if (!proof)
        return fail(err, errlen, ANNAL_ENOMEM, "out of memory");
    int rc = ANNAL_OK;
    fputs("{\"format\":\"" ANNAL_BUNDLE_FORMAT "\",\n\"tenant_id\":", f);
    annal_bundle_json_string(f, b->tenant, strlen(b->tenant));
    fputs(",\n\"selection\":", f);
    write_selection(f, &b->sel);
    fputs(",\n\"key_name\":", f);
    annal_bundle_json_string(f, b->signer, strlen(b->signer));
    fputs(",\n\"checkpoint\":", f);
    annal_bundle_json_string(f, b->note, b->note_len);
    fputs(",\n\"events\":[", f);
    for (size_t i = 0; i < b->nseqs; i++) {
        uint64_t seq = b->seqs[i];
        char *rec;
        size_t len, n;
        /* Tenant-scoped read: a record of another tenant is never returned. */
        if ((rc = annal_index_event(b->ix, b->tenant, seq, &rec, &len)) != 0) {
            fail(err, errlen, rc, "cannot read seq %llu: %s", (unsigned long long)seq, annal_index_strerror(rc));
            goto out;
        }
        unsigned char leaf[32];
        annal_leaf_hash(rec, len, leaf);
        if ((rc = annal_index_inclusion(b->ix, seq, b->cp.size, proof, &n)) != 0 ||
            (rc = annal_merkle_verify_inclusion(seq - 1, b->cp.size, leaf, (const unsigned char(*)[32])proof, n,
                                                b->cp.root)) != 0) {
            fail(err, errlen, rc, "cannot prove seq %llu: %s", (unsigned long long)seq,
                 rc == ANNAL_ECORRUPT ? "the index's tree does not match the log (run annal reindex)"
                                      : annal_index_strerror(rc));
            free(rec);
            goto out;
        }
        fprintf(f, "%s\n{\"seq\":%llu,\"record\":", i ? "," : "", (unsigned long long)seq);
        annal_bundle_json_string(f, rec, len);
        free(rec);
        fputs(",\"proof\":[", f);
        for (size_t k = 0; k < n; k++) {
            char hex[65];
            annal_hex32(proof[k], hex);
            fprintf(f, "%s\"%s\"", k ? "," : "", hex);
        }
        fputs("]}", f);
    }
    fputs("\n]}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        int e = errno;
        rc = fail(err, errlen, ANNAL_EIO, "cannot write the bundle: %s", strerror(e));
        errno = e;
    }
out:
    free(proof);
    return rc;
}

int annal_bundle_write(FILE *f, annal_index *ix, const char *dir, const char *tenant,
                       const annal_bundle_selection *sel, const char *checkpoint_note, size_t note_len,
                       size_t max_events, annal_bundle_info *info, char *err, size_t errlen)
{
    if (!f)
        return fail(err, errlen, ANNAL_EINVAL, "annal_bundle_write: no stream");
    annal_bundle *b;
    int rc = annal_bundle_prepare(ix, dir, tenant, sel, checkpoint_note, note_len, NULL, max_events, &b, info, err,
                                  errlen);
    if (rc)
        return rc;
    rc = annal_bundle_emit(b, f, err, errlen);
    annal_bundle_free(b);
    return rc;
}
