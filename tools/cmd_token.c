/*
 * annal token: bearer tokens of the HTTP API (api/auth.h).
 */
#include "cmd.h"

#include "api/auth.h"
#include "store/error.h"

#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal token add --data DIR --tenant T --role ROLE [--tokens FILE]\n"
            "       annal token list --data DIR [--tokens FILE]\n"
            "       annal token revoke --data DIR --id ID [--tokens FILE]\n\n"
            "Bearer tokens for annal serve, each scoped to one tenant and one role:\n"
            "  ingest  POST /api/v1/events for its tenant\n"
            "  read    the timelines and views of its tenant\n"
            "  audit   the audit ledger, events and timelines of its tenant\n"
            "  admin   everything of its tenant, and /metrics\n\n"
            "add prints the new token once, on standard output; only its SHA-256 is stored\n"
            "(the token file, default DIR/tokens, mode 0600). list prints id, tenant, role\n"
            "and creation time; revoke removes a token by its id. A running server picks up\n"
            "changes on SIGHUP (kill -HUP <pid>).\n\n"
            "exit status: 0 success, 1 no token with that id (revoke), 2 usage or I/O error\n");
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *what = argv[1];
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"tenant", required_argument, 0, 't'},
                                         {"role", required_argument, 0, 'r'},
                                         {"id", required_argument, 0, 'i'},
                                         {"tokens", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *tenant = NULL, *role = NULL, *id = NULL, *file = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 't': tenant = optarg; break;
        case 'r': role = optarg; break;
        case 'i': id = optarg; break;
        case 'f': file = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((!dir && !file) || optind != argc) {
        fprintf(stderr, "annal token: %s (see annal token --help)\n",
                optind != argc ? "unexpected argument" : "--data DIR (or --tokens FILE) is required");
        return 2;
    }
    char path[4096], err[512];
    if (file)
        snprintf(path, sizeof(path), "%s", file);
    else
        snprintf(path, sizeof(path), "%s/tokens", dir);
    if (!strcmp(what, "add")) {
        int r = annal_role_parse(role);
        if (!tenant || !r) {
            fprintf(stderr, "annal token add: --tenant T and --role ingest|read|audit|admin are required\n");
            return 2;
        }
        char tok[ANNAL_TOKEN_LEN + 1], tid[13];
        if (dir && mkdir(dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "annal token add: cannot create %s: %s\n", dir, strerror(errno));
            return 2;
        }
        if (annal_tokens_add(path, tenant, r, tok, tid, err, sizeof(err))) {
            fprintf(stderr, "annal token add: %s\n", err);
            return 2;
        }
        printf("%s\n", tok);
        fprintf(stderr, "token %s for tenant %s, role %s, stored in %s (shown only now)\n", tid, tenant,
                annal_role_name(r), path);
        return fflush(stdout) == 0 ? 0 : 2;
    }
    if (!strcmp(what, "list")) {
        annal_tokens t;
        if (annal_tokens_load(path, &t, err, sizeof(err))) {
            fprintf(stderr, "annal token list: %s\n", err);
            return 2;
        }
        for (size_t i = 0; i < t.n; i++)
            printf("%s %s %s %s\n", t.v[i].id, t.v[i].tenant, annal_role_name(t.v[i].role), t.v[i].created);
        annal_tokens_free(&t);
        return fflush(stdout) == 0 ? 0 : 2;
    }
    if (!strcmp(what, "revoke")) {
        if (!id) {
            fprintf(stderr, "annal token revoke: --id ID is required (annal token list shows them)\n");
            return 2;
        }
        int rc = annal_tokens_revoke(path, id, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "annal token revoke: %s\n", err);
            return rc == ANNAL_ENOTFOUND ? 1 : 2;
        }
        fprintf(stderr, "token %s revoked; send SIGHUP to a running annal serve\n", id);
        return 0;
    }
    fprintf(stderr, "annal token: unknown action '%s' (add, list or revoke)\n", what);
    return 2;
}
