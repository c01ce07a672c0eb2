/*
 * annal serve: the HTTP API (api/server.h) on one data directory.
 */
#include "cli.h"
#include "cmd.h"

#include "api/server.h"
#include "index/db.h"
#include "store/note.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal serve --data DIR [--listen HOST:PORT] [--tokens FILE] [--threads N]\n"
            "                   [--max-body BYTES] [--timeout SECONDS] [--max-connections N]\n"
            "                   [--max-per-ip N] [--key FILE [--checkpoint-interval MS]]\n\n"
            "Serve the HTTP API (api/API.md) on the store in DIR (created if missing).\n"
            "POST /api/v1/events appends (answered once durable); every read sees what was\n"
            "acknowledged before it. The index is kept up to date and the rules run in the\n"
            "background.\n\n"
            "  --listen HOST:PORT   default 127.0.0.1:8080 (port 0: any free port, printed)\n"
            "  --tokens FILE        bearer tokens (annal token add); default DIR/tokens\n"
            "  --threads N          HTTP worker threads (default 32)\n"
            "  --max-body BYTES     largest request body (default 16777216)\n"
            "  --timeout SECONDS    idle connection timeout (default 30)\n"
            "  --max-connections N  open connections in total (default 1024)\n"
            "  --max-per-ip N       open connections per client address (default 256)\n"
            "  --key FILE           sign checkpoints with this key (annal keygen): one after\n"
            "                       appends, at most every --checkpoint-interval ms (default\n"
            "                       1000), and at start and stop; saved in DIR/checkpoints/\n\n"
            "Signals: SIGHUP reloads the token file; SIGTERM or SIGINT stop accepting,\n"
            "finish the requests in flight, flush and close. One log line per start, stop\n"
            "and reload on stderr.\n\n"
            "exit status: 0 stopped by a signal, 2 usage or I/O error (e.g. the port is in\n"
            "use, the store is locked by another writer, or its index must be rebuilt)\n");
}

static int opt_uint(const char *name, const char *s, uint64_t max, uint64_t *v)
{
    if (cli_u64(s, v) == 0 && *v >= 1 && *v <= max)
        return 0;
    fprintf(stderr, "annal serve: %s must be 1..%llu, not '%s'\n", name, (unsigned long long)max, s);
    return -1;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"tokens", required_argument, 0, 't'},
                                         {"threads", required_argument, 0, 'n'},
                                         {"max-body", required_argument, 0, 'b'},
                                         {"timeout", required_argument, 0, 'T'},
                                         {"max-connections", required_argument, 0, 'c'},
                                         {"max-per-ip", required_argument, 0, 'p'},
                                         {"key", required_argument, 0, 'k'},
                                         {"checkpoint-interval", required_argument, 0, 'i'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *keyfile = NULL;
    unsigned interval = 0;
    annal_server_options so = {0};
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:l:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'l': so.listen = optarg; break;
        case 't': so.tokens_path = optarg; break;
        case 'n': if (opt_uint("--threads", optarg, 1024, &v)) return 2; so.threads = (unsigned)v; break;
        case 'b': if (opt_uint("--max-body", optarg, 1ull << 32, &v)) return 2; so.max_body = (size_t)v; break;
        case 'T': if (opt_uint("--timeout", optarg, 3600, &v)) return 2; so.timeout_s = (unsigned)v; break;
        case 'c': if (opt_uint("--max-connections", optarg, 65536, &v)) return 2; so.conn_limit = (unsigned)v; break;
        case 'p': if (opt_uint("--max-per-ip", optarg, 65536, &v)) return 2; so.per_ip_limit = (unsigned)v; break;
        case 'k': keyfile = optarg; break;
        case 'i': if (opt_uint("--checkpoint-interval", optarg, 86400000, &v)) return 2; interval = (unsigned)v; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal serve: %s (see annal serve --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    char tokens[4096];
    if (!so.tokens_path) {
        snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
        so.tokens_path = tokens;
    }
    /* Every thread started from here on inherits this mask: the signals are
     * taken by sigwait below, in this thread only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    annal_note_signer signer;
    annal_db_options dbo = {0};
    if (keyfile) {
        if (annal_note_signer_load(keyfile, &signer, err, sizeof(err))) {
            fprintf(stderr, "annal serve: %s\n", err);
            return 2;
        }
        dbo.signer = &signer;
        dbo.origin = signer.vk.name;
        dbo.checkpoint_ms = interval;
    }
    annal_db *db;
    int rc = annal_db_open(dir, &dbo, &db, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "annal serve: %s\n", err);
        if (keyfile)
            annal_note_signer_clear(&signer);
        return 2;
    }
    annal_server *srv;
    if ((rc = annal_server_start(db, &so, &srv, err, sizeof(err)))) {
        fprintf(stderr, "annal serve: %s\n", err);
        annal_db_close(db);
        if (keyfile)
            annal_note_signer_clear(&signer);
        return 2;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            annal_server_reload_tokens(srv, err, sizeof(err));
            continue;
        }
        fprintf(stderr, "annal: %s received: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    annal_server_stop(srv);
    rc = annal_db_close(db);
    if (keyfile)
        annal_note_signer_clear(&signer);
    if (rc) {
        fprintf(stderr, "annal serve: closing the store: %s\n", annal_strerror(rc));
        return 2;
    }
    return 0;
}
