/*
 * annal verify: the auditor's check of the whole log (store/verify.h), and,
 * with --against, the proof that the log extends a signed checkpoint saved
 * earlier (store/checkpoint.h, store/merkle.h).
 */
#include "cli.h"
#include "cmd.h"

#include "store/checkpoint.h"
#include "store/error.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"
#include "store/reader.h"
#include "store/verify.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal verify --data DIR [--jobs N]\n"
            "       annal verify --data DIR --against CHECKPOINT --key VKEY [--jobs N]\n\n"
            "Check the log in DIR from the segment files alone: every zstd frame and\n"
            "metadata frame, every record (canonical JSON, valid event, seq contiguous\n"
            "from 1), the hash chain inside and across segments, and every footer.\n"
            "Works on a copy of the log and while a writer appends.\n\n"
            "With --against, also prove that the log extends a signed checkpoint saved\n"
            "earlier (a C2SP signed note, e.g. a file of DIR/checkpoints/ or what\n"
            "GET /api/v1/checkpoint returned): its signature must verify with VKEY, the\n"
            "log must hold at least its N events, and the RFC 9162 root of the log's\n"
            "first N leaves, recomputed from the records, must be the checkpoint's root.\n"
            "This catches a log regenerated or rewritten from scratch, which the hash\n"
            "chain alone cannot.\n\n"
            "options:\n"
            "  --data DIR          the data directory (required)\n"
            "  --jobs N            check blocks on N threads in parallel (default: the number of CPUs)\n"
            "  --against FILE      a signed checkpoint to check the log against\n"
            "  --key VKEY          the verifier key string (NAME+KEYID+KEY, as annal keygen\n"
            "                      prints it) or a file holding it; needed with --against\n\n"
            "output: on success `ok` with the event count, bytes and the chain head; with\n"
            "--against, the checkpoint, the log's counts and chain head, its current size\n"
            "and root, then `ok: the log extends the checkpoint`. On failure `FAILED` with\n"
            "what is wrong: the segment file, byte offset and seq; or the checkpoint's\n"
            "signature, its size (beyond the log) or its root (the log was rewritten).\n"
            "exit status: 0 the log verified (and extends the checkpoint), 1 a problem was\n"
            "found, 2 usage or I/O error\n");
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    cli_progress("verified %.1f of %.1f MB", done / 1e6, total / 1e6);
}

/* Trim trailing whitespace (a key file ends in "\n"). */
static size_t trim_len(const char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

int cmd_load_vkey(const char *cmd, const char *arg, annal_note_verifier *out)
{
    char err[256], ferr[256];
    if (annal_note_verifier_parse(arg, strlen(arg), out, err, sizeof(err)) == ANNAL_OK)
        return 0;
    if (!strncmp(arg, "PRIVATE+KEY+", 12)) {
        fprintf(stderr, "annal %s: --key: that is a signer (private) key: give the verifier key string that annal "
                        "keygen printed\n", cmd);
        return -1;
    }
    FILE *f = fopen(arg, "rb");
    if (!f) {
        if (strchr(arg, '+'))
            fprintf(stderr, "annal %s: --key: not a valid verifier key string: %s\n", cmd, err);
        else
            fprintf(stderr, "annal %s: --key: %s is neither a verifier key string (NAME+KEYID+KEY) nor a "
                            "readable file: %s\n", cmd, arg, strerror(errno));
        return -1;
    }
    char buf[ANNAL_NOTE_SKEY_MAX + 64];
    size_t n = fread(buf, 1, sizeof(buf), f);
    int bad = ferror(f) || n == sizeof(buf);
    fclose(f);
    if (bad) {
        fprintf(stderr, "annal %s: --key: %s does not hold a verifier key string (unreadable or too long)\n",
                cmd, arg);
        return -1;
    }
    n = trim_len(buf, n);
    int rc;
    if (n >= 12 && !memcmp(buf, "PRIVATE+KEY+", 12)) {
        /* The signer key file of annal keygen: use its public half. */
        annal_note_signer sk;
        rc = annal_note_signer_parse(buf, n, &sk, ferr, sizeof(ferr));
        if (rc == ANNAL_OK)
            *out = sk.vk;
        annal_note_signer_clear(&sk);
    } else {
        rc = annal_note_verifier_parse(buf, n, out, ferr, sizeof(ferr));
    }
    explicit_bzero(buf, sizeof(buf)); /* it may have held a private key */
    if (rc) {
        fprintf(stderr, "annal %s: --key: %s does not hold a valid key string: %s\n", cmd, arg, ferr);
        return -1;
    }
    return 0;
}

/*
 * Read, check and parse the signed checkpoint in path against key: 0 with
 * *note (malloc'd) and *cp (cp->ext points into *note); 1 when it is not a
 * valid signed checkpoint of key (FAILED printed on stdout); 2 when it
 * cannot be read (message on stderr).
 */
static int load_checkpoint(const char *path, const annal_note_verifier *key, char **note, annal_checkpoint *cp)
{
    char *buf;
    size_t len, tlen;
    char err[512];
    if (cli_read_input("verify", path, &buf, &len))
        return 2;
    int rc = annal_note_split(buf, len, &tlen, err, sizeof(err));
    if (rc == ANNAL_OK && (rc = annal_checkpoint_parse(buf, tlen, cp, err, sizeof(err))) != ANNAL_OK) {
        printf("FAILED: checkpoint %s: not a checkpoint: %s\n", path, err);
        free(buf);
        return 1;
    }
    if (rc) {
        printf("FAILED: checkpoint %s: not a signed note: %s\n", path, err);
        free(buf);
        return 1;
    }
    rc = annal_note_verify(buf, len, key, 1, NULL, NULL, err, sizeof(err));
    if (rc == ANNAL_ENOMEM) {
        fprintf(stderr, "annal verify: out of memory\n");
        free(buf);
        return 2;
    }
    if (rc) {
        printf("FAILED: checkpoint %s: signature: no valid signature by the key %s+%08x: %s\n", path, key->name,
               (unsigned)key->id, err);
        free(buf);
        return 1;
    }
    *note = buf;
    return 0;
}

/* The roots of the first `size` and of all `total` leaves of the log in dir,
 * recomputed from the records: 0, or 2 with a message on stderr. */
static int log_roots(const char *dir, uint64_t size, uint64_t total, unsigned char root_size[32],
                     unsigned char root_total[32])
{
    annal_reader *r;
    int rc = annal_reader_open(dir, &r);
    if (rc) {
        fprintf(stderr, "annal verify: cannot read the log in %s: %s\n", dir, annal_strerror(rc));
        return 2;
    }
    annal_merkle_stream *s = malloc(sizeof(*s));
    if (!s) {
        annal_reader_close(r);
        fprintf(stderr, "annal verify: out of memory\n");
        return 2;
    }
    annal_merkle_stream_init(s);
    if (size == 0)
        annal_merkle_stream_root(s, root_size);
    for (uint64_t want = 1; want <= total; want++) {
        uint64_t seq;
        const char *rec;
        size_t len;
        rc = annal_reader_next(r, &seq, &rec, &len);
        if (rc == ANNAL_OK && seq != want)
            rc = ANNAL_ECORRUPT;
        if (rc) {
            fprintf(stderr, "annal verify: cannot read seq %llu of the log: %s\n", (unsigned long long)want,
                    annal_strerror(rc));
            free(s);
            annal_reader_close(r);
            return 2;
        }
        unsigned char leaf[32];
        annal_leaf_hash(rec, len, leaf);
        annal_merkle_stream_push(s, leaf);
        if (want == size)
            annal_merkle_stream_root(s, root_size);
        if ((want & 0xffff) == 0)
            cli_progress("hashed %llu of %llu events", (unsigned long long)want, (unsigned long long)total);
    }
    annal_merkle_stream_root(s, root_total);
    free(s);
    annal_reader_close(r);
    cli_progress_end();
    return 0;
}

/* "LABEL size N, root HEX (base64 B64)". */
static void print_root(const char *label, uint64_t size, const unsigned char root[32])
{
    char hex[65], b64[45];
    annal_hex32(root, hex);
    b64[annal_base64_encode(root, 32, b64)] = 0;
    printf("%s size %llu, root %s (base64 %s)\n", label, (unsigned long long)size, hex, b64);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"against", required_argument, 0, 'a'},
                                         {"key", required_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *against = NULL, *key = NULL;
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
        case 'a': against = optarg; break;
        case 'k': key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc) {
        fprintf(stderr, "annal verify: %s (see annal verify --help)\n",
                dir ? "unexpected argument" : "--data DIR is required");
        return 2;
    }
    if (!against != !key) {
        fprintf(stderr, "annal verify: %s (see annal verify --help)\n",
                against ? "--against needs --key VKEY, the verifier key of the checkpoint's signer"
                        : "--key is only used with --against CHECKPOINT");
        return 2;
    }

    /* The checkpoint first: a bad key or file is found before the long check. */
    annal_note_verifier vk;
    annal_checkpoint cp;
    char *note = NULL;
    if (against) {
        if (cmd_load_vkey("verify", key, &vk))
            return 2;
        int st = load_checkpoint(against, &vk, &note, &cp);
        if (st)
            return st;
    }

    annal_verify_report rep;
    int rc = annal_verify_dir(dir, (int)jobs, progress, NULL, &rep);
    cli_progress_end();
    int status = 2;
    if (rc == ANNAL_ENOTFOUND) {
        fprintf(stderr, "annal verify: %s holds no segment files: is it an annal data directory?\n", dir);
        goto out;
    }
    if (rc) {
        fprintf(stderr, "annal verify: cannot read %s%s%s: %s\n", dir, rep.segment[0] ? "/" : "",
                rep.segment, annal_strerror(rc));
        goto out;
    }
    if (!rep.ok) {
        printf("FAILED: segment %s, offset %llu, seq %llu: %s\n", rep.segment, (unsigned long long)rep.offset,
               (unsigned long long)rep.seq, rep.what);
        status = 1;
        goto out;
    }
    char hex[65];
    annal_hex32(rep.chain, hex);
    /* With --against, the verdict comes last: this line is not "ok:" yet. */
    printf("%s%llu events in %llu segments, %llu bytes of records, %llu bytes on disk\nchain_head %s\n",
           against ? "log verified: " : "ok: ", (unsigned long long)rep.events, (unsigned long long)rep.segments,
           (unsigned long long)rep.raw_bytes, (unsigned long long)rep.disk_bytes, hex);
    if (rep.torn_bytes)
        printf("note: the last segment ends with a torn write of %llu bytes (never acknowledged); "
               "the next writer to open the log cuts it\n", (unsigned long long)rep.torn_bytes);
    if (!against) {
        status = 0;
        goto out;
    }

    char b64[45];
    annal_hex32(cp.root, hex);
    b64[annal_base64_encode(cp.root, 32, b64)] = 0;
    printf("checkpoint: origin %s, size %llu, root %s (base64 %s), signed by %s+%08x\n", cp.origin,
           (unsigned long long)cp.size, hex, b64, vk.name, (unsigned)vk.id);
    if (cp.size > rep.events) {
        printf("FAILED: size: the checkpoint covers %llu events but the log holds only %llu: the log was "
               "truncated or regenerated since the checkpoint was signed\n", (unsigned long long)cp.size,
               (unsigned long long)rep.events);
        status = 1;
        goto out;
    }
    unsigned char at_size[32], now[32];
    if ((status = log_roots(dir, cp.size, rep.events, at_size, now)) != 0)
        goto out;
    print_root("log now:", rep.events, now);
    if (memcmp(at_size, cp.root, 32) != 0) {
        char want[65];
        annal_hex32(at_size, hex);
        annal_hex32(cp.root, want);
        printf("FAILED: root mismatch: the first %llu events of the log give the root %s, the checkpoint "
               "says %s: the log was rewritten since the checkpoint was signed\n", (unsigned long long)cp.size,
               hex, want);
        status = 1;
        goto out;
    }
    printf("ok: the log extends the checkpoint: its first %llu events give the checkpoint's root, and it "
           "holds %llu events after them\n", (unsigned long long)cp.size,
           (unsigned long long)(rep.events - cp.size));
    status = 0;
out:
    free(note);
    return status;
}
