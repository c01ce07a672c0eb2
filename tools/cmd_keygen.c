/*
 * annal keygen: make the Ed25519 key that signs checkpoints (store/note.h).
 */
#include "cmd.h"

#include "store/error.h"
#include "store/note.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: annal keygen --origin ORIGIN --out FILE [--force]\n\n"
            "Generates an Ed25519 key for signing checkpoints (C2SP signed notes) of the log\n"
            "named ORIGIN, a schema-less URL such as example.com/audit (no spaces, no '+');\n"
            "it is also the key's name. The signer key string\n"
            "  PRIVATE+KEY+ORIGIN+KEYID+KEY\n"
            "is written to FILE (mode 0600, followed by a newline); keep it secret. The\n"
            "verifier key string, ORIGIN+KEYID+KEY, is printed on standard output: give it to\n"
            "auditors (annal verify --key, Go's golang.org/x/mod/sumdb/note).\n\n"
            "  --force   replace FILE if it exists (otherwise an existing FILE is an error)\n\n"
            "exit status: 0 success, 2 usage or I/O error\n");
}

/* Write all of buf to fd: 0 or -1 (errno set). */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Create path (O_EXCL) with mode 0600 and write buf, fsync'ed: 0 or -1. */
static int write_new(const char *path, const char *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0600) != 0 || write_all(fd, buf, n) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(path);
        errno = e;
        return -1;
    }
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"origin", required_argument, 0, 'o'},
                                         {"out", required_argument, 0, 'f'},
                                         {"force", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *origin = NULL, *out = NULL;
    int force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': origin = optarg; break;
        case 'f': out = optarg; break;
        case 'F': force = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!origin || !out || optind != argc) {
        fprintf(stderr, "annal keygen: %s (see annal keygen --help)\n",
                optind != argc ? "unexpected argument" : "--origin ORIGIN and --out FILE are required");
        return 2;
    }
    if (!annal_note_name_valid(origin, strlen(origin))) {
        fprintf(stderr,
                "annal keygen: invalid origin '%s': 1 to %d bytes of UTF-8 without spaces, '+' or control "
                "characters\n",
                origin, ANNAL_NOTE_NAME_MAX);
        return 2;
    }
    struct stat st;
    if (!force && lstat(out, &st) == 0) {
        fprintf(stderr, "annal keygen: %s exists; refusing to overwrite a key (--force replaces it)\n", out);
        return 2;
    }
    annal_note_signer k;
    int rc = annal_note_generate(origin, &k);
    if (rc) {
        fprintf(stderr, "annal keygen: cannot generate a key: %s\n", annal_strerror(rc));
        return 2;
    }
    char skey[ANNAL_NOTE_SKEY_MAX + 2], vkey[ANNAL_NOTE_VKEY_MAX + 1];
    if (annal_note_signer_string(&k, skey, sizeof(skey) - 1) ||
        annal_note_verifier_string(&k.vk, vkey, sizeof(vkey))) {
        annal_note_signer_clear(&k);
        fprintf(stderr, "annal keygen: internal error: key string too long\n");
        return 2;
    }
    annal_note_signer_clear(&k);
    size_t n = strlen(skey);
    skey[n++] = '\n';
    skey[n] = 0;

    int ok;
    if (!force) {
        ok = write_new(out, skey, n) == 0;
    } else {
        /* a new file next to FILE, renamed over it: FILE is never half-written */
        char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%ld", out, (long)getpid()) < 0) {
            fprintf(stderr, "annal keygen: out of memory\n");
            explicit_bzero(skey, sizeof(skey));
            return 2;
        }
        ok = write_new(tmp, skey, n) == 0;
        if (ok && rename(tmp, out) != 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
            ok = 0;
        }
        free(tmp);
    }
    int e = errno;
    explicit_bzero(skey, sizeof(skey));
    if (!ok) {
        fprintf(stderr, "annal keygen: cannot write %s: %s\n", out, strerror(e));
        return 2;
    }
    printf("%s\n", vkey);
    fprintf(stderr, "annal keygen: signer key written to %s (mode 0600); the verifier key is on standard output\n",
            out);
    return fflush(stdout) == 0 ? 0 : 2;
}
