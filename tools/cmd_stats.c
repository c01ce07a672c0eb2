/*
 * annal stats: the index as it is now (no catch-up): log head, applied seq,
 * lag, entries per database, map use; --digest for comparing two stores.
 */
#include "cli.h"
#include "cmd.h"

#include "index/index.h"
#include "store/hash.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal stats --data DIR [--digest]\n\n"
            "Print, one `name value` per line, the state of the index of the log in DIR as\n"
            "it is now (it does not catch up): the log's last seq, the index's applied seq,\n"
            "the lag between them, the entries of each index database, and the LMDB map\n"
            "size and the bytes in use. --digest adds a SHA-256 over a canonical dump of\n"
            "every index database (index/INDEX.md): two stores whose indexes have the same\n"
            "digest hold the same index (e.g. live catch-up vs annal reindex).\n\n"
            "exit status: 0 success, 2 usage or I/O error (or the index does not match the\n"
            "log: run annal reindex)\n");
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"digest", no_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    int digest = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'D': digest = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal stats: %s (see annal stats --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    char err[512];
    annal_index *ix;
    int rc = annal_index_open(dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal stats: %s\n", err);
        return 2;
    }
    annal_index_stats st;
    unsigned char d[32];
    if ((rc = annal_index_stats_get(ix, &st)) == ANNAL_OK && digest)
        rc = annal_index_digest(ix, d);
    annal_index_close(ix);
    if (rc) {
        fprintf(stderr, "annal stats: %s\n", annal_index_strerror(rc));
        return 2;
    }
    printf("log_last_seq %llu\napplied_seq %llu\nlag %llu\n", (unsigned long long)st.log_last_seq,
           (unsigned long long)st.applied_seq,
           (unsigned long long)(st.log_last_seq > st.applied_seq ? st.log_last_seq - st.applied_seq : 0));
    for (int i = 0; i < ANNAL_INDEX_NDBS; i++)
        printf("entries.%s %llu\n", st.db[i].name, (unsigned long long)st.db[i].entries);
    printf("map_size %llu\nmap_used %llu\npage_size %llu\n", (unsigned long long)st.map_size,
           (unsigned long long)st.map_used, (unsigned long long)st.page_size);
    if (digest) {
        char hex[65];
        annal_hex32(d, hex);
        printf("digest %s\n", hex);
    }
    if (fflush(stdout) != 0) {
        perror("annal stats: standard output");
        return 2;
    }
    return 0;
}
