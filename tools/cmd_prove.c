/*
 * annal prove: RFC 9162 inclusion and consistency proofs from the Merkle
 * tree the index keeps (index/index.h "the Merkle tree"), as JSON.
 */
#include "cli.h"
#include "cmd.h"

#include "index/index.h"
#include "store/checkpoint.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal prove inclusion --data DIR SEQ [--size N]\n"
            "       annal prove consistency --data DIR OLD NEW\n\n"
            "Print an RFC 9162 proof of the log's Merkle tree (leaf i is the record with\n"
            "seq i + 1; leaf hash SHA-256(0x00 || record); store/FORMAT.md) as one JSON\n"
            "object on one line. The index (DIR/index/) is caught up from the log first.\n\n"
            "  inclusion SEQ     the record with seq SEQ is leaf SEQ - 1 of the tree of size N:\n"
            "                    {\"seq\",\"leaf_index\",\"tree_size\",\"leaf_hash\",\"root\",\n"
            "                     \"root_base64\",\"proof\":[...],\"checkpoint\"}\n"
            "  consistency OLD NEW\n"
            "                    the tree of size NEW extends the tree of size OLD (1 <= OLD <= NEW):\n"
            "                    {\"from_size\",\"to_size\",\"from_root\",\"to_root\",\"from_root_base64\",\n"
            "                     \"to_root_base64\",\"proof\":[...],\"checkpoint\"}\n\n"
            "options:\n"
            "  --data DIR   the data directory (required)\n"
            "  --size N     inclusion: the tree size (default: the size of the latest saved\n"
            "               checkpoint when it covers SEQ, else every event indexed)\n\n"
            "Hashes are 64 lower-case hex digits; roots also in the standard base64 of\n"
            "checkpoints. \"checkpoint\" is the saved signed checkpoint of that tree size\n"
            "(inclusion) or of NEW (consistency), exactly as stored, or null when none was\n"
            "saved for that size. Proofs verify with any RFC 9162 verifier.\n\n"
            "exit status: 0 success, 1 a saved checkpoint of that size disagrees with the\n"
            "log, 2 usage or I/O error (also: a seq or size beyond the log)\n");
}

static void progress(void *ctx, uint64_t applied, uint64_t target)
{
    (void)ctx;
    cli_progress("indexing: %llu of %llu events", (unsigned long long)applied, (unsigned long long)target);
}

static void print_hash(const char *name, const unsigned char h[32])
{
    char hex[65];
    annal_hex32(h, hex);
    printf("\"%s\":\"%s\"", name, hex);
}

static void print_b64(const char *name, const unsigned char h[32])
{
    char b64[45];
    b64[annal_base64_encode(h, 32, b64)] = 0;
    printf("\"%s\":\"%s\"", name, b64);
}

static void print_proof(unsigned char proof[][32], size_t n)
{
    fputs("\"proof\":[", stdout);
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        annal_hex32(proof[i], hex);
        printf("%s\"%s\"", i ? "," : "", hex);
    }
    putchar(']');
}

/*
 * The saved checkpoint of tree size `size`, if any, checked against the
 * root the index gives: 0 with *note (malloc'd, or NULL when none is
 * saved), 1 when it disagrees (message printed), 2 on an error.
 */
static int saved_checkpoint(const char *dir, uint64_t size, const unsigned char root[32], char **note, size_t *len)
{
    char err[512];
    size_t tlen;
    *note = NULL;
    *len = 0;
    int rc = annal_checkpoint_load(dir, size, note, len, err, sizeof(err));
    if (rc == ANNAL_ENOTFOUND)
        return 0;
    if (rc) {
        fprintf(stderr, "annal prove: %s\n", err);
        return 2;
    }
    annal_checkpoint cp;
    if ((rc = annal_note_split(*note, *len, &tlen, err, sizeof(err))) != ANNAL_OK ||
        (rc = annal_checkpoint_parse(*note, tlen, &cp, err, sizeof(err))) != ANNAL_OK) {
        fprintf(stderr, "annal prove: the saved checkpoint of size %llu is damaged: %s\n",
                (unsigned long long)size, err);
        free(*note);
        *note = NULL;
        return 2;
    }
    if (memcmp(cp.root, root, 32) != 0) {
        char a[65], b[65];
        annal_hex32(cp.root, a);
        annal_hex32(root, b);
        fprintf(stderr, "annal prove: the saved checkpoint of size %llu states the root %s but the log gives %s: "
                        "the log was rewritten (check it with annal verify --against)\n",
                (unsigned long long)size, a, b);
        free(*note);
        *note = NULL;
        return 1;
    }
    return 0;
}

static void print_checkpoint(const char *note, size_t len)
{
    fputs(",\"checkpoint\":", stdout);
    if (note)
        cmd_json_string(stdout, note, len);
    else
        fputs("null", stdout);
}

static int parse_pos(const char *what, const char *s, uint64_t *v)
{
    if (cli_u64(s, v) == 0)
        return 0;
    fprintf(stderr, "annal prove: %s must be a decimal number, not '%s'\n", what, s);
    return -1;
}

int cmd_prove(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"size", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *size_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's': size_arg = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const char *what = optind < argc ? argv[optind] : NULL;
    int incl = what && !strcmp(what, "inclusion"), cons = what && !strcmp(what, "consistency");
    int npos = argc - optind - 1;
    if (!dir || !(incl || cons) || (incl && npos != 1) || (cons && npos != 2) || (cons && size_arg)) {
        fprintf(stderr, "annal prove: %s (see annal prove --help)\n",
                !what ? "say which proof: inclusion SEQ or consistency OLD NEW"
                : !(incl || cons) ? "unknown proof: give inclusion or consistency"
                : !dir ? "--data DIR is required"
                : incl ? "inclusion takes one SEQ" : size_arg ? "consistency takes no --size" : "consistency takes OLD NEW");
        return 2;
    }
    uint64_t a = 0, b = 0, size = 0;
    if (incl && (parse_pos("SEQ", argv[optind + 1], &a) || (size_arg && parse_pos("--size", size_arg, &size))))
        return 2;
    if (cons && (parse_pos("OLD", argv[optind + 1], &a) || parse_pos("NEW", argv[optind + 2], &b)))
        return 2;
    if (incl && a == 0) {
        fprintf(stderr, "annal prove: SEQ must be >= 1 (seqs start at 1)\n");
        return 2;
    }
    if (incl && size_arg && size < a) {
        fprintf(stderr, "annal prove: --size %llu does not include seq %llu (the tree of size N holds seqs 1..N)\n",
                (unsigned long long)size, (unsigned long long)a);
        return 2;
    }
    if (cons && (a == 0 || a > b)) {
        fprintf(stderr, "annal prove: consistency needs 1 <= OLD <= NEW (RFC 9162 has no proof from the empty "
                        "tree)\n");
        return 2;
    }

    char err[512];
    annal_index *ix;
    int rc = annal_index_open(dir, NULL, &ix, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal prove: %s\n", err);
        return 2;
    }
    uint64_t applied = 0;
    rc = annal_index_catch_up(ix, progress, NULL, &applied);
    cli_progress_end();
    if (rc) {
        fprintf(stderr, "annal prove: cannot bring the index up to date with the log: %s\n",
                annal_index_strerror(rc));
        annal_index_close(ix);
        return 2;
    }
    int status = 2;
    char *note = NULL;
    size_t note_len = 0;
    unsigned char(*proof)[32] = malloc(ANNAL_MERKLE_MAX_PROOF * sizeof(*proof));
    if (!proof) {
        fprintf(stderr, "annal prove: out of memory\n");
        goto out;
    }
    size_t n = 0;
    if (incl) {
        if (!size_arg) {
            /* The latest saved checkpoint's size when it covers SEQ. */
            char *latest;
            size_t len;
            uint64_t csize;
            size = applied;
            if (annal_checkpoint_latest(dir, &latest, &len, &csize, NULL, 0) == ANNAL_OK) {
                if (csize >= a && csize <= applied)
                    size = csize;
                free(latest);
            }
        }
        if (a > applied || size > applied) {
            fprintf(stderr, "annal prove: %s %llu is beyond the log, which holds %llu events\n",
                    a > applied ? "seq" : "--size", (unsigned long long)(a > applied ? a : size),
                    (unsigned long long)applied);
            goto out;
        }
        unsigned char leaf[32], root[32];
        if ((rc = annal_index_leaf(ix, a, leaf)) || (rc = annal_index_tree_root(ix, size, root)) ||
            (rc = annal_index_inclusion(ix, a, size, proof, &n))) {
            fprintf(stderr, "annal prove: cannot make the proof: %s\n", annal_index_strerror(rc));
            goto out;
        }
        if ((status = saved_checkpoint(dir, size, root, &note, &note_len)) != 0)
            goto out;
        status = 2;
        printf("{\"seq\":%llu,\"leaf_index\":%llu,\"tree_size\":%llu,", (unsigned long long)a,
               (unsigned long long)(a - 1), (unsigned long long)size);
        print_hash("leaf_hash", leaf);
        putchar(',');
        print_hash("root", root);
        putchar(',');
        print_b64("root_base64", root);
        putchar(',');
    } else {
        if (b > applied) {
            fprintf(stderr, "annal prove: NEW %llu is beyond the log, which holds %llu events\n",
                    (unsigned long long)b, (unsigned long long)applied);
            goto out;
        }
        unsigned char r1[32], r2[32];
        if ((rc = annal_index_tree_root(ix, a, r1)) || (rc = annal_index_tree_root(ix, b, r2)) ||
            (rc = annal_index_consistency(ix, a, b, proof, &n))) {
            fprintf(stderr, "annal prove: cannot make the proof: %s\n", annal_index_strerror(rc));
            goto out;
        }
        char *old_note = NULL;
        size_t old_len;
        if ((status = saved_checkpoint(dir, a, r1, &old_note, &old_len)) != 0 ||
            (status = saved_checkpoint(dir, b, r2, &note, &note_len)) != 0) {
            free(old_note);
            goto out;
        }
        free(old_note);
        status = 2;
        printf("{\"from_size\":%llu,\"to_size\":%llu,", (unsigned long long)a, (unsigned long long)b);
        print_hash("from_root", r1);
        putchar(',');
        print_hash("to_root", r2);
        putchar(',');
        print_b64("from_root_base64", r1);
        putchar(',');
        print_b64("to_root_base64", r2);
        putchar(',');
    }
    print_proof(proof, n);
    print_checkpoint(note, note_len);
    fputs("}\n", stdout);
    if (fflush(stdout) != 0) {
        perror("annal prove: standard output");
        goto out;
    }
    status = 0;
out:
    free(note);
    free(proof);
    annal_index_close(ix);
    return status;
}
