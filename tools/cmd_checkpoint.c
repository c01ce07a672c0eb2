/*
 * annal checkpoint: print a signed checkpoint the log has issued
 * (store/checkpoint.h).
 */
#include "cmd.h"

#include "cli.h"
#include "index/ckpt.h"
#include "store/checkpoint.h"
#include "store/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal checkpoint --data DIR [--size N]\n"
            "       annal checkpoint --data DIR --issue --key FILE\n\n"
            "Prints the latest signed checkpoint issued for the log in DIR (or the one of tree\n"
            "size N) exactly as stored in DIR/checkpoints/: a C2SP tlog-checkpoint in a C2SP\n"
            "signed note (origin, tree size, base64 Merkle root, a blank line, signatures).\n"
            "Format: store/FORMAT.md, \"Checkpoints and signed notes\".\n\n"
            "--issue signs a checkpoint of the log as it is now with the signer key in FILE\n"
            "(annal keygen; the origin is the key's name), saves it and prints it. The index\n"
            "is caught up first. It refuses a checkpoint inconsistent with one issued\n"
            "before (a log shorter than a saved checkpoint, or one whose tree does not\n"
            "extend it): that log was rolled back or rewritten. (annal serve --key issues\n"
            "them after appends by itself.)\n\n"
            "exit status: 0 printed, 1 no such checkpoint (or --issue refused as inconsistent),\n"
            "2 usage or I/O error or a damaged file\n");
}

static void progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing: %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

static int issue_one(const char *dir, const char *keyfile)
{
    char err[512] = "";
    annal_note_signer key;
    if (annal_note_signer_load(keyfile, &key, err, sizeof(err))) {
        fprintf(stderr, "annal checkpoint: %s\n", err);
        return 2;
    }
    annal_index *ix;
    int rc = annal_index_open(dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        annal_note_signer_clear(&key);
        fprintf(stderr, "annal checkpoint: %s\n", err);
        return 2;
    }
    char *note = NULL;
    size_t len = 0;
    if ((rc = annal_index_catch_up(ix, progress, NULL, NULL)) == ANNAL_OK)
        rc = annal_index_checkpoint(ix, dir, key.vk.name, &key, &note, &len, NULL, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "cannot catch the index up: %s", annal_index_strerror(rc));
    cli_progress_end();
    annal_index_close(ix);
    annal_note_signer_clear(&key);
    if (rc) {
        fprintf(stderr, "annal checkpoint: %s\n", err);
        return rc == ANNAL_ECORRUPT ? 1 : 2;
    }
    size_t w = fwrite(note, 1, len, stdout);
    free(note);
    return w == len && fflush(stdout) == 0 ? 0 : 2;
}

int cmd_checkpoint(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"size", required_argument, 0, 's'},
                                         {"issue", no_argument, 0, 'I'},
                                         {"key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *size_arg = NULL, *keyfile = NULL;
    int c, issue = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': size_arg = optarg; break;
        case 'I': issue = 1; break;
        case 'k': keyfile = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal checkpoint: %s (see annal checkpoint --help)\n",
                optind != argc ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    if (issue)
        return size_arg || !keyfile ? (fprintf(stderr, "annal checkpoint: --issue needs --key FILE and no --size\n"), 2)
                                    : issue_one(dir, keyfile);
    uint64_t size = 0;
    if (size_arg && cli_u64(size_arg, &size)) {
        fprintf(stderr, "annal checkpoint: --size wants a tree size (a decimal number), not '%s'\n", size_arg);
        return 2;
    }
    char *note = NULL, err[512] = "";
    size_t len = 0;
    int rc = size_arg ? annal_checkpoint_load(dir, size, &note, &len, err, sizeof(err))
                      : annal_checkpoint_latest(dir, &note, &len, NULL, err, sizeof(err));
    if (rc == ANNAL_ENOTFOUND) {
        if (size_arg)
            fprintf(stderr, "annal checkpoint: no checkpoint of tree size %s in %s/%s\n", size_arg, dir,
                    ANNAL_CHECKPOINT_DIR);
        else
            fprintf(stderr, "annal checkpoint: no checkpoint has been issued in %s/%s\n", dir,
                    ANNAL_CHECKPOINT_DIR);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "annal checkpoint: %s\n", err[0] ? err : annal_strerror(rc));
        return 2;
    }
    size_t w = fwrite(note, 1, len, stdout);
    free(note);
    if (w != len || fflush(stdout) != 0) {
        fprintf(stderr, "annal checkpoint: cannot write to standard output\n");
        return 2;
    }
    return 0;
}
