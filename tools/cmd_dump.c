/*
 * annal dump: records of the log as NDJSON on standard output.
 */
#include "cli.h"
#include "cmd.h"

#include "store/error.h"
#include "store/event.h"
#include "store/reader.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal dump --data DIR [--tenant T] [--from-seq A] [--to-seq B]\n\n"
            "Print the records of the log in DIR (one canonical JSON record per line,\n"
            "with seq and recorded_at), in seq order, from seq A (default 1) to seq B\n"
            "(default: the last durable record), only tenant T's when given.\n\n"
            "exit status: 0 success, 2 usage or I/O error (or a damaged block: run annal verify)\n");
}

int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"from-seq", required_argument, 0, 'f'},
                                         {"to-seq", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *tenant = NULL;
    uint64_t from = 1, to = UINT64_MAX;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 't': tenant = optarg; break;
        case 'f':
            if (cli_u64(optarg, &from) || !from) {
                fprintf(stderr, "annal dump: --from-seq needs a seq >= 1\n");
                return 2;
            }
            break;
        case 'T':
            if (cli_u64(optarg, &to) || !to) {
                fprintf(stderr, "annal dump: --to-seq needs a seq >= 1\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal dump: %s (see annal dump --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    annal_reader *r;
    int rc = annal_reader_open(dir, &r);
    if (rc) {
        fprintf(stderr, "annal dump: cannot open the log in %s: %s\n", dir,
                rc == ANNAL_ENOTFOUND ? "no segment files there" : annal_strerror(rc));
        return 2;
    }
    size_t tlen = tenant ? strlen(tenant) : 0;
    annal_reader_seek(r, from);
    uint64_t s;
    const char *rec;
    size_t len;
    while ((rc = annal_reader_next(r, &s, &rec, &len)) == ANNAL_OK && s <= to) {
        if (tenant) {
            annal_event ev;
            annal_event_error e;
            if (annal_record_parse(rec, len, &ev, &e) != ANNAL_OK) {
                fprintf(stderr, "annal dump: seq %llu is not a valid record (%s: %s); run annal verify\n",
                        (unsigned long long)s, e.field, e.reason);
                rc = ANNAL_ECORRUPT;
                break;
            }
            if (ev.tenant_id.n != tlen || memcmp(ev.tenant_id.p, tenant, tlen) != 0)
                continue;
        }
        fwrite(rec, 1, len, stdout);
        putchar('\n');
    }
    if (rc == ANNAL_ENOTFOUND || (rc == ANNAL_OK && s > to))
        rc = ANNAL_OK; /* the end of the log, or of the range */
    annal_reader_close(r);
    if (fflush(stdout) != 0) {
        perror("annal dump: standard output");
        return 2;
    }
    if (rc) {
        fprintf(stderr, "annal dump: cannot read the log: %s\n", annal_strerror(rc));
        return 2;
    }
    return 0;
}
