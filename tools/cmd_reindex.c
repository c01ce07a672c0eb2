/*
 * annal reindex: verify the log, rebuild the index from it into a fresh
 * LMDB environment and swap that in atomically (index/index.h).
 */
#include "cli.h"
#include "cmd.h"

#include "index/index.h"
#include "store/verify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal reindex --data DIR [--jobs N]\n\n"
            "Rebuild the index of the log in DIR (DIR/index/) from the log alone. The log is\n"
            "verified first (as annal verify); a log that does not verify is refused and the\n"
            "index is left as it is. The new index is built in DIR/index.tmp/, made durable,\n"
            "and swapped in for DIR/index/ in one atomic step; the old one is removed.\n"
            "Queries running meanwhile keep reading the old index. Progress is shown on a\n"
            "terminal; at the end it prints the events indexed, the time and events/s.\n\n"
            "options:\n"
            "  --data DIR   the data directory (required)\n"
            "  --jobs N     threads verifying the log (default: the number of CPUs)\n\n"
            "exit status: 0 rebuilt, 1 the log does not verify (nothing changed),\n"
            "2 usage or I/O error (or another reindex of DIR is running)\n");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    cli_progress("verifying the log: %.1f of %.1f MB", done / 1e6, total / 1e6);
}

static void index_progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexed %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

int cmd_reindex(int argc, char **argv)
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
                fprintf(stderr, "annal reindex: --jobs needs a number from 1 to 256\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal reindex: %s (see annal reindex --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    double t0 = now();
    annal_verify_report rep;
    int rc = annal_verify_dir(dir, (int)jobs, verify_progress, NULL, &rep);
    cli_progress_end();
    if (rc == ANNAL_ENOTFOUND) {
        fprintf(stderr, "annal reindex: %s holds no segment files: is it an annal data directory?\n", dir);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "annal reindex: cannot read the log in %s: %s\n", dir, annal_strerror(rc));
        return 2;
    }
    if (!rep.ok) {
        fprintf(stderr, "annal reindex: the log does not verify (segment %s, offset %llu, seq %llu: %s); "
                        "the index was not rebuilt: see annal verify\n",
                rep.segment, (unsigned long long)rep.offset, (unsigned long long)rep.seq, rep.what);
        return 1;
    }
    double t1 = now();
    uint64_t events = 0;
    rc = annal_index_rebuild(dir, NULL, index_progress, NULL, &events);
    cli_progress_end();
    if (rc == ANNAL_ELOCKED) {
        fprintf(stderr, "annal reindex: another reindex of %s is running (it holds %s/index.lock)\n", dir, dir);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "annal reindex: the rebuild failed, the old index is untouched: %s\n",
                annal_index_strerror(rc));
        return 2;
    }
    double t2 = now(), dt = t2 - t1 > 1e-9 ? t2 - t1 : 1e-9;
    printf("verified %llu events in %.2f s\nindexed %llu events in %.2f s, %.0f events/s\n",
           (unsigned long long)rep.events, t1 - t0, (unsigned long long)events, t2 - t1, (double)events / dt);
    return 0;
}
