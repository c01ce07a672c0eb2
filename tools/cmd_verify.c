/*
 * annal verify: the auditor's check of the whole log (store/verify.h).
 */
#include "cli.h"
#include "cmd.h"

#include "store/error.h"
#include "store/hash.h"
#include "store/verify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal verify --data DIR [--jobs N]\n\n"
            "Check the log in DIR from the segment files alone: every zstd frame and\n"
            "metadata frame, every record (canonical JSON, valid event, seq contiguous\n"
            "from 1), the hash chain inside and across segments, and every footer.\n"
            "Works on a copy of the log and while a writer appends.\n\n"
            "options:\n"
            "  --data DIR   the data directory (required)\n"
            "  --jobs N     check blocks on N threads in parallel (default: the number of CPUs)\n\n"
            "output: on success `ok` with the event count, bytes and the chain head; on\n"
            "failure `FAILED` with the segment file, byte offset, seq and what is wrong.\n"
            "exit status: 0 the log verified, 1 a problem was found, 2 usage or I/O error\n");
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    cli_progress("verified %.1f of %.1f MB", done / 1e6, total / 1e6);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    uint64_t jobs = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j':
            if (cli_u64(optarg, &jobs) || jobs < 1 || jobs > 256) {
                fprintf(stderr, "annal verify: --jobs needs a number from 1 to 256\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal verify: %s (see annal verify --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    annal_verify_report rep;
    int rc = annal_verify_dir(dir, (int)jobs, progress, NULL, &rep);
    cli_progress_end();
    if (rc == ANNAL_ENOTFOUND) {
        fprintf(stderr, "annal verify: %s holds no segment files: is it an annal data directory?\n", dir);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "annal verify: cannot read %s%s%s: %s\n", dir, rep.segment[0] ? "/" : "",
                rep.segment, annal_strerror(rc));
        return 2;
    }
    if (!rep.ok) {
        printf("FAILED: segment %s, offset %llu, seq %llu: %s\n", rep.segment, (unsigned long long)rep.offset,
               (unsigned long long)rep.seq, rep.what);
        return 1;
    }
    char hex[65];
    annal_hex32(rep.chain, hex);
    printf("ok: %llu events in %llu segments, %llu bytes of records, %llu bytes on disk\nchain_head %s\n",
           (unsigned long long)rep.events, (unsigned long long)rep.segments, (unsigned long long)rep.raw_bytes,
           (unsigned long long)rep.disk_bytes, hex);
    if (rep.torn_bytes)
        printf("note: the last segment ends with a torn write of %llu bytes (never acknowledged); "
               "the next writer to open the log cuts it\n", (unsigned long long)rep.torn_bytes);
    return 0;
}
