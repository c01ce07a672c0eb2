/*
 * annal - the command line: one binary, one subcommand per job.
 * Exit status: 0 success, 1 the check failed (verify) or the input was
 * rejected (append), 2 usage or I/O error.
 */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

#define ANNAL_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"append", cmd_append, "append NDJSON events to the log"},
    {"verify", cmd_verify, "check the whole log: frames, records, chain, footers"},
    {"dump", cmd_dump, "print records of the log as NDJSON"},
    {"gen", cmd_gen, "print a deterministic, realistic workload as NDJSON"},
    {"query", cmd_query, "read timelines and linked events through the index, as JSON"},
    {"reindex", cmd_reindex, "verify the log and rebuild the index from it"},
    {"stats", cmd_stats, "index state: applied seq, lag, entries, map use, digest"},
    {"serve", cmd_serve, "serve the HTTP API (ingest, timelines, views) on a store"},
    {"token", cmd_token, "add, list and revoke the bearer tokens of the HTTP API"},
    {"keygen", cmd_keygen, "make the Ed25519 key that signs checkpoints; print its verifier key"},
    {"checkpoint", cmd_checkpoint, "print the latest (or a given) signed checkpoint of the log"},
    {"prove", cmd_prove, "print an inclusion or consistency proof of the Merkle tree, as JSON"},
    {"export", cmd_export, "write a tenant's evidence bundle: events, inclusion proofs, checkpoint"},
    {"verify-bundle", cmd_verify_bundle, "check an evidence bundle offline with the verifier key"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: annal COMMAND [OPTIONS]   (annal COMMAND --help for each)\n\n"
               "annal is an audit and timeline store: a hash-chained, zstd-compressed log.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\nexit status: 0 success, 1 check failed or input rejected, 2 usage or I/O error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("annal %s\n", ANNAL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "annal: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
