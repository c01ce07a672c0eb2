/*
 * auth.c - the token file and token lookup (auth.h).
 */
#include "api/auth.h"

#include "store/error.h"
#include "store/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
    int role;
    const char *name;
} roles[] = {
    {ANNAL_ROLE_INGEST, "ingest"},
    {ANNAL_ROLE_READ, "read"},
    {ANNAL_ROLE_AUDIT, "audit"},
    {ANNAL_ROLE_ADMIN, "admin"},
};

int annal_role_parse(const char *s)
{
    for (size_t i = 0; s && i < sizeof(roles) / sizeof(roles[0]); i++)
        if (!strcmp(s, roles[i].name))
            return roles[i].role;
    return 0;
}

const char *annal_role_name(int role)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (roles[i].role == role)
            return roles[i].name;
    return "?";
}

static void token_hash(const char *tok, size_t n, unsigned char out[32])
{
    annal_sha256_2(tok, n, NULL, 0, out);
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ANNAL_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

/* Parse one line into e: 0, or -1 (malformed). */
static int parse_line(char *line, annal_token_entry *e)
{
    char *f[5], *save = NULL;
    int nf = 0;
    for (char *tok = strtok_r(line, " \t", &save); tok && nf < 5; tok = strtok_r(NULL, " \t", &save))
        f[nf++] = tok;
    if (nf != 5 || strlen(f[0]) != 12 || strlen(f[1]) != 64 || unhex(f[1], e->hash, 32) ||
        strncmp(f[0], f[1], 12) || !valid_id(f[2]) || !(e->role = annal_role_parse(f[3])) ||
        strlen(f[4]) > 30)
        return -1;
    memcpy(e->id, f[0], 13);
    snprintf(e->tenant, sizeof(e->tenant), "%s", f[2]);
    snprintf(e->created, sizeof(e->created), "%s", f[4]);
    return 0;
}

int annal_tokens_load(const char *path, annal_tokens *out, char *err, size_t errlen)
{
    out->v = NULL;
    out->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return ANNAL_OK;
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
        return ANNAL_EIO;
    }
    char line[1024];
    size_t cap = 0, lineno = 0;
    int rc = ANNAL_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            annal_token_entry *nv = realloc(out->v, nc * sizeof(*nv));
            if (!nv) {
                rc = ANNAL_ENOMEM;
                break;
            }
            out->v = nv;
            cap = nc;
        }
        if (parse_line(line, &out->v[out->n])) {
            snprintf(err, errlen,
                     "%s line %zu is not '<id> <sha256 hex> <tenant> <role> <created>': "
                     "fix or remove it (annal token revoke)", path, lineno);
            rc = ANNAL_EINVAL;
            break;
        }
        out->n++;
    }
    if (rc == ANNAL_OK && ferror(f)) {
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
        rc = ANNAL_EIO;
    }
    fclose(f);
    if (rc)
        annal_tokens_free(out);
    return rc;
}

void annal_tokens_free(annal_tokens *t)
{
    if (!t)
        return;
    if (t->v)
        OPENSSL_cleanse(t->v, t->n * sizeof(*t->v));
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

const annal_token_entry *annal_tokens_find(const annal_tokens *t, const char *tok, size_t n)
{
    unsigned char h[32];
    token_hash(tok, n, h);
    const annal_token_entry *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        /* every entry is compared, whatever matched before */
        int eq = CRYPTO_memcmp(h, t->v[i].hash, 32) == 0;
        if (eq && !found)
            found = &t->v[i];
    }
    return found;
}

int annal_tokens_add(const char *path, const char *tenant, int role, char token[ANNAL_TOKEN_LEN + 1],
                     char id[13], char *err, size_t errlen)
{
    if (!tenant || !valid_id(tenant)) {
        snprintf(err, errlen, "the tenant must be 1..%d bytes of [A-Za-z0-9._:@/-]", ANNAL_ID_MAX);
        return ANNAL_EINVAL;
    }
    if (!annal_role_name(role) || !strcmp(annal_role_name(role), "?")) {
        snprintf(err, errlen, "the role must be one of ingest, read, audit, admin");
        return ANNAL_EINVAL;
    }
    unsigned char rnd[32];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t k = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            snprintf(err, errlen, "getrandom failed: %s", strerror(errno));
            return ANNAL_EIO;
        }
        got += (size_t)k;
    }
    static const char hexd[] = "0123456789abcdef";
    memcpy(token, "annal_", 6);
    for (size_t i = 0; i < 32; i++) {
        token[6 + 2 * i] = hexd[rnd[i] >> 4];
        token[7 + 2 * i] = hexd[rnd[i] & 15];
    }
    token[ANNAL_TOKEN_LEN] = 0;
    OPENSSL_cleanse(rnd, sizeof(rnd));
    unsigned char h[32];
    token_hash(token, ANNAL_TOKEN_LEN, h);
    char hex[65];
    annal_hex32(h, hex);
    memcpy(id, hex, 12);
    id[12] = 0;
    char when[31];
    annal_time_format((int64_t)time(NULL) * 1000000000LL, when);
    char line[512];
    int n = snprintf(line, sizeof(line), "%s %s %s %s %.19sZ\n", id, hex, tenant, annal_role_name(role), when);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the token file %s: %s", path, strerror(errno));
        return ANNAL_EIO;
    }
    int rc = ANNAL_OK;
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write the token file %s: %s", path, strerror(errno));
        rc = ANNAL_EIO;
    }
    close(fd);
    return rc;
}

int annal_tokens_revoke(const char *path, const char *id, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the token file %s: %s", path, strerror(errno));
        return errno == ENOENT ? ANNAL_ENOTFOUND : ANNAL_EIO;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *o = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!o) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        fclose(f);
        return ANNAL_EIO;
    }
    char line[1024];
    int found = 0;
    size_t idn = strlen(id);
    while (fgets(line, sizeof(line), f)) {
        if (idn == 12 && !strncmp(line, id, 12) && line[12] == ' ') {
            found = 1;
            continue;
        }
        fputs(line, o);
    }
    int bad = ferror(f) || fflush(o) != 0 || fsync(fileno(o)) != 0;
    fclose(f);
    if (fclose(o) != 0)
        bad = 1;
    if (bad) {
        snprintf(err, errlen, "cannot rewrite the token file %s: %s", path, strerror(errno));
        unlink(tmp);
        return ANNAL_EIO;
    }
    if (!found) {
        unlink(tmp);
        snprintf(err, errlen, "no token with id %s in %s (annal token list shows the ids)", id, path);
        return ANNAL_ENOTFOUND;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace the token file %s: %s", path, strerror(errno));
        unlink(tmp);
        return ANNAL_EIO;
    }
    return ANNAL_OK;
}
