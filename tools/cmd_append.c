/*
 * annal append: NDJSON events in, appended durably to the log.
 * All lines are validated first (in parallel); by default one invalid line
 * means nothing is appended. Then the valid events are submitted in order,
 * in batches, and the command returns once all of them are durable.
 * By default through annal_db (index/db.h): events whose (tenant_id,
 * event_id) the log holds already are not appended again, and the index and
 * the rules are brought up to date before the command returns; --no-index
 * appends to the log alone.
 */
#include "cli.h"
#include "cmd.h"

#include "index/db.h"
#include "store/error.h"
#include "store/event.h"
#include "store/hash.h"
#include "store/log.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 4096

typedef struct line {
    size_t off, len;       /* in the input */
    uint64_t lineno;
    const char *body;      /* compact body (valid lines): in the input, or in an arena */
    size_t body_len;
    int bad;               /* index+1 into the errors of its worker, 0 if valid */
    uint32_t tid_off, eid_off; /* tenant_id and event_id (eid_len 0: none), as offsets in body */
    uint8_t tid_len, eid_len;
} line;

/* Compact bodies that differ from their input lines (whitespace removed)
 * are kept in chunks that never move. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct vwork {
    const char *in;
    char *scratch;
    size_t scratch_cap;
    chunk *arena;
    line *lines;
    size_t from, to;
    size_t max_len;
    annal_event_error *errs;
    size_t nerr, cap;
    size_t *progress;
} vwork;

static void oom(void)
{
    fprintf(stderr, "annal append: out of memory (nothing was appended)\n");
    exit(2);
}

static void *validate(void *arg)
{
    vwork *w = arg;
    for (size_t i = w->from; i < w->to; i++) {
        line *l = &w->lines[i];
        if (w->progress && (i & 16383) == 0)
            cli_progress("validated %zu lines", i - w->from);
        annal_event ev;
        annal_event_error err;
        if (l->len > w->scratch_cap) {
            free(w->scratch);
            w->scratch_cap = l->len;
            if (!(w->scratch = malloc(w->scratch_cap)))
                oom();
        }
        int rc = annal_event_parse(w->in + l->off, l->len, w->max_len, w->scratch, w->scratch_cap, &ev, &err);
        if (rc == ANNAL_OK) {
            l->body_len = ev.body_len;
            l->tid_off = (uint32_t)(ev.tenant_id.p - ev.body);
            l->tid_len = (uint8_t)ev.tenant_id.n;
            if (ev.event_id.n) {
                l->eid_off = (uint32_t)(ev.event_id.p - ev.body);
                l->eid_len = (uint8_t)ev.event_id.n;
            }
            if (ev.body_len + 2 == l->len) { /* already compact: the input is the body */
                l->body = w->in + l->off + 1;
                continue;
            }
            if (!w->arena || w->arena->cap - w->arena->used < ev.body_len) {
                size_t cap = ev.body_len > (1u << 20) ? ev.body_len : (1u << 20);
                chunk *c = malloc(sizeof(*c) + cap);
                if (!c)
                    oom();
                c->next = w->arena;
                c->used = 0;
                c->cap = cap;
                w->arena = c;
            }
            l->body = memcpy(w->arena->data + w->arena->used, ev.body, ev.body_len);
            w->arena->used += ev.body_len;
            continue;
        }
        if (rc != ANNAL_EEVENT) {
            memset(&err, 0, sizeof(err));
            snprintf(err.reason, sizeof(err.reason), "%s", annal_strerror(rc));
        }
        if (w->nerr == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 64;
            annal_event_error *ne = realloc(w->errs, w->cap * sizeof(*ne));
            if (!ne)
                oom();
            w->errs = ne;
        }
        w->errs[w->nerr++] = err;
        l->bad = (int)w->nerr;
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal append --data DIR [--skip-invalid] [--no-index] [FILE|-]\n\n"
            "Append NDJSON events (one JSON object per line; PRODUCT.md section 1) from FILE\n"
            "or standard input to the log in DIR (created if missing). Every line is\n"
            "validated first. By default a file with any invalid line appends nothing and\n"
            "every bad line is listed (number and reason); --skip-invalid appends the valid\n"
            "lines and lists the rest.\n\n"
            "An event with an event_id that the tenant already has in the log (or earlier in\n"
            "the input) is not appended again: it is counted as a duplicate. The index in\n"
            "DIR/index is caught up and the rules run (their derived events, such as the\n"
            "incident of a failed run or a budget breach, are appended to the log) before\n"
            "the command returns. Prints the count of appended events, their first and last\n"
            "seq, the log's chain head (after the derived events), and the numbers of\n"
            "duplicates and derived events, once every event is durable (written and\n"
            "fdatasync'ed) and indexed.\n\n"
            "With --no-index the events go to the log alone, as they are: no duplicate check,\n"
            "no index, no rules (the next indexed append, `annal query` or `annal reindex`\n"
            "catches the index up; the rules' events are appended by the next indexed\n"
            "append).\n\n"
            "options:\n"
            "  --data DIR          the data directory (required)\n"
            "  --skip-invalid      append the valid lines, list the invalid ones\n"
            "  --max-event BYTES   size limit of one event (default 65536)\n"
            "  --segment-bytes N   seal segments at N bytes (default 67108864)\n"
            "  --block-bytes N     raw bytes of records per block (default 65536)\n"
            "  --no-index          append to the log only (no duplicate check, index, rules)\n"
            "  --quiet             print nothing on success\n\n"
            "exit status: 0 appended, 1 input rejected (nothing appended), 2 usage or I/O error\n");
}

static void index_progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing the log: %llu of %llu records", (unsigned long long)applied,
                 (unsigned long long)target);
}

/* The default way: through annal_db (idempotent, indexed, rules run).
 * Returns the exit status. */
static int append_indexed(const char *dir, const annal_log_options *lo, const line *lines, size_t nlines,
                          size_t nvalid, size_t nbad, int quiet)
{
    annal_db_options o = {.log = *lo, .progress = index_progress};
    annal_db *db;
    char err[512];
    int rc = annal_db_open(dir, &o, &db, err, sizeof(err));
    cli_progress_end();
    if (rc) {
        fprintf(stderr, "annal append: %s%s\n", err,
                rc == ANNAL_EINDEX || rc == ANNAL_EVERSION
                    ? " (nothing was appended; run `annal reindex`, or append with --no-index)"
                    : "");
        return 2;
    }
    annal_event *batch = calloc(BATCH, sizeof(*batch));
    annal_db_result *res = calloc(BATCH, sizeof(*res));
    if (!batch || !res) {
        free(batch);
        free(res);
        annal_db_close(db);
        fprintf(stderr, "annal append: out of memory (nothing was appended)\n");
        return 2;
    }
    uint64_t first = 0, last = 0, sync_to = 0, done = 0, added = 0, dups = 0;
    size_t k = 0;
    rc = ANNAL_OK;
    for (size_t i = 0; rc == ANNAL_OK && i < nlines; i++) {
        if (!lines[i].bad) {
            /* The submit reads the body, the tenant and the event_id. */
            const line *l = &lines[i];
            batch[k] = (annal_event){.body = l->body, .body_len = l->body_len,
                                     .tenant_id = {l->body + l->tid_off, l->tid_len}};
            if (l->eid_len)
                batch[k].event_id = (annal_slice){l->body + l->eid_off, l->eid_len};
            k++;
        }
        if (k == BATCH || (i + 1 == nlines && k)) {
            uint64_t s = 0;
            rc = annal_db_submit(db, batch, k, res, &s);
            for (size_t j = 0; rc == ANNAL_OK && j < k; j++) {
                if (res[j].duplicate) {
                    dups++;
                    continue;
                }
                if (!first)
                    first = res[j].seq;
                last = res[j].seq;
                added++;
            }
            if (s > sync_to)
                sync_to = s;
            done += k;
            k = 0;
            cli_progress("appended %llu of %zu events", (unsigned long long)done, nvalid);
        }
    }
    if (rc == ANNAL_OK)
        rc = annal_db_sync(db, sync_to);
    cli_progress_end();
    int durable = rc == ANNAL_OK;
    if (durable)
        rc = annal_db_settle(db);
    annal_db_stats st;
    annal_db_stats_get(db, &st);
    annal_log_stats ls;
    annal_log_stats_get(annal_db_log(db), &ls);
    int crc = annal_db_close(db);
    free(batch);
    free(res);
    if (!durable) {
        fprintf(stderr, "annal append: the append failed (%s); events after the last acknowledged one "
                        "were not appended: reopen to recover, then retry (duplicates are not appended twice)\n",
                annal_strerror(rc));
        return 2;
    }
    if (rc) {
        fprintf(stderr, "annal append: %llu events were appended and are durable, but indexing failed (%s): "
                        "run `annal reindex`\n", (unsigned long long)added, annal_index_strerror(rc));
        return 2;
    }
    if (crc) {
        fprintf(stderr, "annal append: %llu events were appended and are durable, but closing %s failed (%s)\n",
                (unsigned long long)added, dir, annal_index_strerror(crc));
        return 2;
    }
    if (!quiet) {
        char hex[65];
        annal_hex32(ls.chain, hex);
        printf("appended %llu events\n", (unsigned long long)added);
        if (added)
            printf("first_seq %llu\nlast_seq %llu\n", (unsigned long long)first, (unsigned long long)last);
        printf("chain_head %s\n", hex);
        if (dups)
            printf("duplicates %llu (their event_id is in the log already: not appended again)\n",
                   (unsigned long long)dups);
        if (st.derived)
            printf("derived %llu events (rules)\n", (unsigned long long)st.derived);
        if (nbad)
            printf("skipped %zu invalid lines\n", nbad);
    }
    return 0;
}

int cmd_append(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},       {"skip-invalid", no_argument, 0, 's'},
        {"max-event", required_argument, 0, 'm'},  {"segment-bytes", required_argument, 0, 'S'},
        {"block-bytes", required_argument, 0, 'B'}, {"quiet", no_argument, 0, 'q'},
        {"no-index", no_argument, 0, 'N'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *dir = NULL;
    int skip = 0, quiet = 0, no_index = 0, c;
    uint64_t max_event = ANNAL_EVENT_MAX_DEFAULT, seg_bytes = 0, block_bytes = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': skip = 1; break;
        case 'q': quiet = 1; break;
        case 'N': no_index = 1; break;
        case 'm':
            if (cli_u64(optarg, &max_event) || !max_event) {
                fprintf(stderr, "annal append: --max-event needs a positive number of bytes\n");
                return 2;
            }
            break;
        case 'S':
            if (cli_u64(optarg, &seg_bytes) || seg_bytes < 4096) {
                fprintf(stderr, "annal append: --segment-bytes needs a number >= 4096\n");
                return 2;
            }
            break;
        case 'B':
            if (cli_u64(optarg, &block_bytes) || block_bytes < 1024 || block_bytes > (8u << 20)) {
                fprintf(stderr, "annal append: --block-bytes needs a number from 1024 to 8388608\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "annal append: --data DIR is required (see annal append --help)\n");
        return 2;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "annal append: one input file at most (or - for standard input)\n");
        return 2;
    }
    char *in = NULL;
    size_t in_len = 0;
    int mapped = 0;
    if (cli_map_input("append", optind < argc ? argv[optind] : "-", &in, &in_len, &mapped))
        return 2;

    /* Split into lines; blank lines are ignored. */
    size_t nlines = 0, cap = 1024;
    line *lines = malloc(cap * sizeof(*lines));
    uint64_t lineno = 0;
    for (size_t off = 0; lines && off < in_len;) {
        const char *nl = memchr(in + off, '\n', in_len - off);
        size_t end = nl ? (size_t)(nl - in) : in_len;
        lineno++;
        size_t len = end - off;
        if (len && in[off + len - 1] == '\r')
            len--;
        if (len) {
            if (nlines == cap) {
                cap *= 2;
                line *nlp = realloc(lines, cap * sizeof(*lines));
                if (!nlp) {
                    free(lines);
                    lines = NULL;
                    break;
                }
                lines = nlp;
            }
            lines[nlines++] = (line){.off = off, .len = len, .lineno = lineno};
        }
        off = end + 1;
    }
    int status = 2;
    vwork w[2];
    memset(w, 0, sizeof(w));
    annal_event *batch = NULL;
    if (!lines) {
        fprintf(stderr, "annal append: out of memory\n");
        goto out;
    }

    /* Validate everything, in two halves when it is worth it. */
    int nw = nlines > 10000 && sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    size_t prog = 1;
    for (int i = 0; i < nw; i++) {
        w[i] = (vwork){.in = in, .lines = lines, .max_len = max_event,
                       .from = nlines * (size_t)i / (size_t)nw, .to = nlines * (size_t)(i + 1) / (size_t)nw};
    }
    w[0].progress = &prog;
    pthread_t th;
    int threaded = nw == 2 && pthread_create(&th, NULL, validate, &w[1]) == 0;
    validate(&w[0]);
    if (nw == 2 && !threaded)
        validate(&w[1]);
    if (threaded)
        pthread_join(th, NULL);
    cli_progress_end();
    size_t nbad = w[0].nerr + (nw == 2 ? w[1].nerr : 0);
    for (size_t i = 0; i < nlines; i++) {
        if (!lines[i].bad)
            continue;
        vwork *ow = (nw == 2 && i >= w[1].from) ? &w[1] : &w[0];
        const annal_event_error *e = &ow->errs[lines[i].bad - 1];
        fprintf(stderr, "annal append: line %llu: %s%s%s\n", (unsigned long long)lines[i].lineno, e->field,
                e->field[0] ? ": " : "", e->reason);
    }
    if (nbad && !skip) {
        fprintf(stderr, "annal append: nothing appended: %zu of %zu lines are invalid; fix them or pass "
                        "--skip-invalid\n", nbad, nlines);
        status = 1;
        goto out;
    }
    size_t nvalid = nlines - nbad;
    if (nvalid == 0) {
        if (!quiet)
            printf("appended 0 events%s\n", nbad ? " (every line was invalid)" : " (empty input)");
        status = nbad ? 1 : 0;
        goto out;
    }

    annal_log_options lo = {.segment_bytes = seg_bytes, .block_bytes = block_bytes};
    if (!no_index) {
        status = append_indexed(dir, &lo, lines, nlines, nvalid, nbad, quiet);
        goto out;
    }
    annal_log *log;
    char err[512];
    int rc = annal_log_open(dir, &lo, &log, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal append: %s\n", err);
        goto out;
    }
    if (!(batch = calloc(BATCH, sizeof(*batch)))) {
        annal_log_close(log);
        fprintf(stderr, "annal append: out of memory (nothing was appended)\n");
        goto out;
    }
    annal_append_result res, first = {0};
    size_t done = 0, k = 0;
    for (size_t i = 0; rc == ANNAL_OK && i < nlines; i++) {
        if (!lines[i].bad) {
            batch[k].body = lines[i].body;
            batch[k].body_len = lines[i].body_len;
            k++;
        }
        if (k == BATCH || (i + 1 == nlines && k)) {
            rc = annal_log_submit(log, batch, k, &res);
            if (done == 0)
                first = res;
            done += k;
            k = 0;
            cli_progress("appended %zu of %zu events", done, nvalid);
        }
    }
    if (rc == ANNAL_OK)
        rc = annal_log_sync(log, res.last_seq);
    cli_progress_end();
    int crc = annal_log_close(log);
    if (rc || crc) {
        fprintf(stderr, "annal append: the append failed (%s); events after the last acknowledged one "
                        "were not appended: reopen to recover, then retry\n",
                annal_strerror(rc ? rc : crc));
        goto out;
    }
    if (!quiet) {
        char hex[65];
        annal_hex32(res.chain, hex);
        printf("appended %zu events\nfirst_seq %llu\nlast_seq %llu\nchain_head %s\n", done,
               (unsigned long long)first.first_seq, (unsigned long long)res.last_seq, hex);
        if (nbad)
            printf("skipped %zu invalid lines\n", nbad);
    }
    status = 0;
out:
    free(batch);
    free(lines);
    cli_unmap_input(in, in_len, mapped);
    for (int i = 0; i < 2; i++) {
        free(w[i].errs);
        free(w[i].scratch);
        while (w[i].arena) {
            chunk *next = w[i].arena->next;
            free(w[i].arena);
            w[i].arena = next;
        }
    }
    return status;
}
