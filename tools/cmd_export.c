/*
 * annal export: a tenant's evidence bundle (store/FORMAT.md, "Evidence
 * bundles"): the selected events of one tenant, exactly as stored, each with
 * its RFC 9162 inclusion proof in the tree of one signed checkpoint, and
 * that checkpoint. Nothing of another tenant's events is in it but the
 * hashes that proofs are made of.
 */
#include "cli.h"
#include "cmd.h"

#include "index/bundle.h"
#include "index/index.h"
#include "store/error.h"
#include "store/event.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal export --data DIR --tenant T SELECTION [--checkpoint FILE] -o FILE\n\n"
            "Write the evidence bundle of tenant T's selected events: one JSON document\n"
            "holding the events exactly as stored, the RFC 9162 inclusion proof of each in\n"
            "the tree of one signed checkpoint, that checkpoint (a C2SP signed note) and its\n"
            "key's name. An auditor checks it offline with `annal verify-bundle FILE --key\n"
            "VKEY` (or any RFC 9162 / C2SP implementation: store/FORMAT.md, \"Evidence\n"
            "bundles\"). The bundle holds no byte of another tenant's events: proofs carry\n"
            "only hashes.\n\n"
            "SELECTION is one of\n"
            "  --from TIME --to TIME   the tenant's events with from <= occurred_at < to (either\n"
            "                          bound may be left out; recorded_at for events without\n"
            "                          occurred_at); TIME is RFC 3339 UTC\n"
            "  --run R                 the tenant's events with run_id R\n"
            "  --incident I            the tenant's events with incident_id I\n"
            "  --correlation C         the tenant's events with correlation_id C\n\n"
            "options:\n"
            "  --data DIR          the data directory (required)\n"
            "  --tenant T          the tenant (required)\n"
            "  --checkpoint FILE   prove against this signed checkpoint of the log (default:\n"
            "                      the latest one saved in DIR/checkpoints/)\n"
            "  -o, --out FILE      where to write the bundle (required; - for standard output)\n\n"
            "The checkpoint must cover the selected events: when the newest event selected\n"
            "is after it, a newer checkpoint must be issued first (see annal checkpoint\n"
            "--help; the server signs them after commits).\n\n"
            "exit status: 0 written, 1 nothing selected, or the checkpoint is not one of this\n"
            "log (nothing written), 2 usage or I/O error, or no checkpoint covers the\n"
            "selection\n");
}

static void progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing: %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

void cmd_json_string(FILE *f, const char *s, size_t n)
{
    annal_bundle_json_string(f, s, n);
}

static int parse_time(const char *opt, const char *s, int64_t *ns)
{
    if (annal_time_parse(s, strlen(s), ns) == 0)
        return 0;
    fprintf(stderr, "annal export: %s needs an RFC 3339 UTC time like 2026-10-01T00:00:00Z, not '%s'\n", opt, s);
    return -1;
}

enum { O_DATA = 1, O_TENANT, O_FROM, O_TO, O_RUN, O_INCIDENT, O_CORRELATION, O_CHECKPOINT, O_OUT };

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},         {"tenant", required_argument, 0, O_TENANT},
        {"from", required_argument, 0, O_FROM},         {"to", required_argument, 0, O_TO},
        {"run", required_argument, 0, O_RUN},           {"incident", required_argument, 0, O_INCIDENT},
        {"correlation", required_argument, 0, O_CORRELATION},
        {"checkpoint", required_argument, 0, O_CHECKPOINT},
        {"out", required_argument, 0, O_OUT},           {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *dir = NULL, *tenant = NULL, *cp_file = NULL, *out = NULL;
    annal_bundle_selection sel = {0};
    int nkinds = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: dir = optarg; break;
        case O_TENANT: tenant = optarg; break;
        case O_FROM:
            if (parse_time("--from", optarg, &sel.from_ns))
                return 2;
            nkinds += sel.kind != ANNAL_BUNDLE_TIME;
            sel.kind = ANNAL_BUNDLE_TIME;
            sel.has_from = 1;
            break;
        case O_TO:
            if (parse_time("--to", optarg, &sel.to_ns))
                return 2;
            nkinds += sel.kind != ANNAL_BUNDLE_TIME;
            sel.kind = ANNAL_BUNDLE_TIME;
            sel.has_to = 1;
            break;
        case O_RUN:
        case O_INCIDENT:
        case O_CORRELATION:
            nkinds++;
            sel.kind = c == O_RUN ? ANNAL_BUNDLE_RUN : c == O_INCIDENT ? ANNAL_BUNDLE_INCIDENT : ANNAL_BUNDLE_CORRELATION;
            sel.id = optarg;
            break;
        case O_CHECKPOINT: cp_file = optarg; break;
        case 'o':
        case O_OUT: out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || !tenant || !out || nkinds != 1 || optind != argc) {
        fprintf(stderr, "annal export: %s (see annal export --help)\n",
                !dir ? "--data DIR is required" : !tenant ? "--tenant T is required"
                : !out ? "-o FILE is required" : optind != argc ? "unexpected argument"
                : nkinds ? "give one selection: --from/--to, --run, --incident or --correlation"
                         : "say which events: --from/--to, --run, --incident or --correlation");
        return 2;
    }
    if (sel.kind == ANNAL_BUNDLE_TIME && sel.has_to && (sel.to_ns == 0 || (sel.has_from && sel.from_ns > sel.to_ns))) {
        fprintf(stderr, "annal export: --to must be after --from (and after 1970-01-01T00:00:00Z)\n");
        return 2;
    }

    /* The checkpoint given, read before the index: a bad file fails fast. */
    char err[512];
    char *note = NULL;
    size_t note_len = 0;
    if (cp_file && cli_read_input("export", cp_file, &note, &note_len))
        return 2;

    annal_index *ix;
    int rc = annal_index_open(dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal export: %s\n", err);
        free(note);
        return 2;
    }
    rc = annal_index_catch_up(ix, progress, NULL, NULL);
    cli_progress_end();
    int status = 2;
    FILE *f = NULL;
    char *tmp = NULL;
    annal_bundle *b = NULL;
    annal_bundle_info info;
    if (rc) {
        fprintf(stderr, "annal export: cannot bring the index up to date with the log: %s\n",
                annal_index_strerror(rc));
        goto out;
    }

    /* The selection and the checkpoint, checked before anything is written:
     * it must be of this log and cover every event selected. */
    rc = annal_bundle_prepare(ix, dir, tenant, &sel, note, note_len, cp_file, 0, &b, &info, err, sizeof(err));
    switch (rc) {
    case ANNAL_OK:
        break;
    case ANNAL_BUNDLE_ENOEVENTS:
        fprintf(stderr, "annal export: %s; nothing written\n", err);
        status = 1;
        goto out;
    case ANNAL_BUNDLE_ENOCHECKPOINT:
        fprintf(stderr, "annal export: %s: issue one (see annal checkpoint --help; the server signs them after "
                        "commits), then export again\n", err);
        goto out;
    case ANNAL_BUNDLE_EUNCOVERED:
        fprintf(stderr, "annal export: %s: issue a newer checkpoint (see annal checkpoint --help; the server signs "
                        "them after commits) and export again\n", err);
        goto out;
    case ANNAL_BUNDLE_EFOREIGN:
        fprintf(stderr, "annal export: %s\n", err);
        status = 1;
        goto out;
    default:
        fprintf(stderr, "annal export: %s\n", err);
        goto out;
    }

    /* Write FILE.tmp, then rename it into place. */
    int to_stdout = !strcmp(out, "-");
    if (to_stdout) {
        f = stdout;
    } else {
        if (asprintf(&tmp, "%s.tmp", out) < 0) {
            tmp = NULL;
            fprintf(stderr, "annal export: out of memory\n");
            goto out;
        }
        if (!(f = fopen(tmp, "w"))) {
            fprintf(stderr, "annal export: cannot write %s: %s\n", tmp, strerror(errno));
            goto out;
        }
    }
    if ((rc = annal_bundle_emit(b, f, err, sizeof(err))) != 0) {
        if (rc == ANNAL_EIO && ferror(f))
            fprintf(stderr, "annal export: cannot write %s: %s\n", to_stdout ? "standard output" : tmp,
                    strerror(errno));
        else
            fprintf(stderr, "annal export: %s\n", err);
        goto out;
    }
    if (fflush(f) != 0 || ferror(f) || (!to_stdout && fsync(fileno(f)) != 0)) {
        fprintf(stderr, "annal export: cannot write %s: %s\n", to_stdout ? "standard output" : tmp,
                strerror(errno));
        goto out;
    }
    if (!to_stdout) {
        int cerr = fclose(f);
        f = NULL;
        if (cerr != 0 || rename(tmp, out) != 0) {
            fprintf(stderr, "annal export: cannot write %s: %s\n", out, strerror(errno));
            goto out;
        }
        free(tmp);
        tmp = NULL;
        printf("exported %zu event%s of tenant %s to %s, with inclusion proofs in the checkpoint of %s at tree "
               "size %llu\n", info.events, info.events == 1 ? "" : "s", tenant, out, info.origin,
               (unsigned long long)info.tree_size);
    }
    status = 0;
out:
    if (f && f != stdout)
        fclose(f);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    annal_bundle_free(b);
    free(note);
    annal_index_close(ix);
    return status;
}
