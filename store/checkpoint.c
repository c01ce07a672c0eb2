/*
 * C2SP tlog-checkpoint bodies and the store of issued checkpoints
 * (checkpoint.h).
 */
#include "checkpoint.h"

#include "error.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ANNAL_EIO with errno kept as the failed call set it. */
static int fail_io(char *err, size_t errlen, const char *what, const char *path)
{
    int e = errno;
    fail(ANNAL_EIO, err, errlen, "cannot %s %s: %s", what, path, strerror(e));
    errno = e;
    return ANNAL_EIO;
}

/* ---- bodies ---- */

/* ext[0..n) is empty or non-empty lines, each ending in "\n". */
static int ext_ok(const char *ext, size_t n)
{
    if (n == 0)
        return 1;
    if (!ext || ext[n - 1] != '\n' || ext[0] == '\n' || !annal_note_text_valid(ext, n))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (ext[i] == '\n' && ext[i - 1] == '\n')
            return 0;
    return 1;
}

int annal_checkpoint_format(const annal_checkpoint *c, char *out, size_t cap, size_t *len)
{
    if (!c || !out || !len)
        return ANNAL_EINVAL;
    size_t on = strnlen(c->origin, sizeof(c->origin));
    if (!annal_note_name_valid(c->origin, on) || !ext_ok(c->ext, c->ext_len))
        return ANNAL_EINVAL;
    char root[45];
    root[annal_base64_encode(c->root, 32, root)] = 0;
    int w = snprintf(out, cap, "%s\n%llu\n%s\n", c->origin, (unsigned long long)c->size, root);
    if (w < 0 || (size_t)w >= cap || cap - (size_t)w <= c->ext_len)
        return ANNAL_EFULL;
    if (c->ext_len)
        memcpy(out + w, c->ext, c->ext_len);
    *len = (size_t)w + c->ext_len;
    out[*len] = 0;
    return ANNAL_OK;
}

int annal_checkpoint_parse(const char *text, size_t len, annal_checkpoint *out, char *err, size_t errlen)
{
    if (!text || !out)
        return fail(ANNAL_ECORRUPT, err, errlen, "no checkpoint");
    if (len == 0 || text[len - 1] != '\n')
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: the text does not end in a newline");
    if (!annal_note_text_valid(text, len))
        return fail(ANNAL_ECORRUPT, err, errlen,
                    "malformed checkpoint: invalid UTF-8 or a control character other than newline");
    annal_checkpoint c;
    memset(&c, 0, sizeof(c));
    const char *end = text + len;
    /* origin */
    const char *l1 = text, *e1 = memchr(l1, '\n', len);
    size_t n1 = (size_t)(e1 - l1);
    if (n1 == 0)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: the origin line is empty");
    if (n1 > ANNAL_CHECKPOINT_ORIGIN_MAX)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: the origin is longer than %d bytes",
                    ANNAL_CHECKPOINT_ORIGIN_MAX);
    memcpy(c.origin, l1, n1);
    /* size */
    const char *l2 = e1 + 1;
    const char *e2 = l2 < end ? memchr(l2, '\n', (size_t)(end - l2)) : NULL;
    if (!e2)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: no tree size line");
    size_t n2 = (size_t)(e2 - l2);
    if (n2 == 0 || n2 > 20 || (n2 > 1 && l2[0] == '0'))
        return fail(ANNAL_ECORRUPT, err, errlen,
                    "malformed checkpoint: the tree size must be decimal without leading zeros");
    uint64_t v = 0;
    for (size_t i = 0; i < n2; i++) {
        unsigned d = (unsigned char)l2[i] - '0';
        if (d > 9)
            return fail(ANNAL_ECORRUPT, err, errlen,
                        "malformed checkpoint: the tree size must be decimal without leading zeros");
        if (v > (UINT64_MAX - d) / 10)
            return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: the tree size exceeds 2^64 - 1");
        v = v * 10 + d;
    }
    c.size = v;
    /* root */
    const char *l3 = e2 + 1;
    const char *e3 = l3 < end ? memchr(l3, '\n', (size_t)(end - l3)) : NULL;
    if (!e3)
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: no root hash line");
    if (e3 - l3 != 44 || annal_base64_decode(l3, 44, c.root, 32) != 32)
        return fail(ANNAL_ECORRUPT, err, errlen,
                    "malformed checkpoint: the root hash must be the base64 of 32 bytes (44 characters)");
    /* extension lines */
    const char *ext = e3 + 1;
    size_t ext_len = (size_t)(end - ext);
    if (!ext_ok(ext, ext_len))
        return fail(ANNAL_ECORRUPT, err, errlen, "malformed checkpoint: an empty extension line");
    c.ext = ext_len ? ext : NULL;
    c.ext_len = ext_len;
    *out = c;
    return ANNAL_OK;
}

int annal_checkpoint_sign(const annal_checkpoint *c, const annal_note_signer *key, char **note, size_t *len)
{
    if (!c || !key || !note || !len)
        return ANNAL_EINVAL;
    size_t cap = ANNAL_CHECKPOINT_BODY_MAX + c->ext_len + 1, n;
    char *body = malloc(cap);
    if (!body)
        return ANNAL_ENOMEM;
    int rc = annal_checkpoint_format(c, body, cap, &n);
    if (!rc)
        rc = annal_note_sign(body, n, key, 1, note, len);
    free(body);
    return rc == ANNAL_EFULL ? ANNAL_EINVAL : rc;
}

int annal_checkpoint_open(const char *note, size_t len, const annal_note_verifier *keys, size_t nkeys,
                          annal_checkpoint *out, char *err, size_t errlen)
{
    size_t tlen;
    int rc = annal_note_verify(note, len, keys, nkeys, &tlen, NULL, err, errlen);
    if (rc)
        return rc;
    return annal_checkpoint_parse(note, tlen, out, err, errlen);
}

/* ---- the store ---- */

void annal_checkpoint_name(uint64_t size, char name[ANNAL_CHECKPOINT_NAME_LEN + 1])
{
    snprintf(name, ANNAL_CHECKPOINT_NAME_LEN + 1, "%020llu.note", (unsigned long long)size);
}

/* The size named by a file name, or -1 when it is not a checkpoint's. */
static int name_parse(const char *name, uint64_t *size)
{
    if (strlen(name) != ANNAL_CHECKPOINT_NAME_LEN || strcmp(name + 20, ".note"))
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        unsigned d = (unsigned char)name[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *size = v;
    return 0;
}

static int store_path(const char *dir, char *out, size_t cap, char *err, size_t errlen)
{
    if (!dir)
        return fail(ANNAL_EINVAL, err, errlen, "no data directory");
    int w = snprintf(out, cap, "%s/%s", dir, ANNAL_CHECKPOINT_DIR);
    if (w < 0 || (size_t)w + ANNAL_CHECKPOINT_NAME_LEN + 6 >= cap) {
        errno = ENAMETOOLONG;
        return fail_io(err, errlen, "use", dir);
    }
    return ANNAL_OK;
}

static int fsync_dir(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_io(err, errlen, "open directory", path);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return fail_io(err, errlen, "fsync directory", path);
    }
    close(fd);
    return ANNAL_OK;
}

/* Create DIR/checkpoints if needed (fsync'ing DIR when it was created) and
 * lock it: *lockfd holds flock(LOCK_EX) on its LOCK file. */
static int store_open_locked(const char *dir, const char *cdir, int *lockfd, char *err, size_t errlen)
{
    if (mkdir(cdir, 0755) == 0) {
        int rc = fsync_dir(dir, err, errlen);
        if (rc)
            return rc;
    } else if (errno != EEXIST)
        return fail_io(err, errlen, "create", cdir);
    char lp[4200];
    snprintf(lp, sizeof(lp), "%s/LOCK", cdir);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail_io(err, errlen, "open", lp);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        errno = e;
        return fail_io(err, errlen, "lock", lp);
    }
    *lockfd = fd;
    return ANNAL_OK;
}

static void store_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* Read a whole file of at most ANNAL_NOTE_MAX_BYTES: ANNAL_ENOTFOUND when it
 * does not exist, ANNAL_ECORRUPT when it is larger. */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return fail(ANNAL_ENOTFOUND, err, errlen, "no checkpoint %s", path);
        return fail_io(err, errlen, "open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return fail_io(err, errlen, "stat", path);
    }
    if (st.st_size > (off_t)ANNAL_NOTE_MAX_BYTES) {
        close(fd);
        return fail(ANNAL_ECORRUPT, err, errlen, "checkpoint %s is larger than %u bytes", path,
                    ANNAL_NOTE_MAX_BYTES);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap);
    if (!b) {
        close(fd);
        return fail(ANNAL_ENOMEM, err, errlen, "out of memory");
    }
    for (;;) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(b);
            errno = e;
            return fail_io(err, errlen, "read", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) { /* it grew since fstat: the limit still holds */
            if (cap > ANNAL_NOTE_MAX_BYTES) {
                close(fd);
                free(b);
                return fail(ANNAL_ECORRUPT, err, errlen, "checkpoint %s is larger than %u bytes", path,
                            ANNAL_NOTE_MAX_BYTES);
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                close(fd);
                free(b);
                return fail(ANNAL_ENOMEM, err, errlen, "out of memory");
            }
            b = nb;
            cap *= 2;
        }
    }
    close(fd);
    b[n] = 0;
    *buf = b;
    *len = n;
    return ANNAL_OK;
}

/* Check that note[0..len) is a well-formed signed checkpoint; its body into
 * *c (c->ext points into note). */
static int note_body(const char *note, size_t len, annal_checkpoint *c, const char *what, char *err,
                     size_t errlen)
{
    size_t tlen;
    char why[256];
    int rc = annal_note_split(note, len, &tlen, why, sizeof(why));
    if (!rc)
        rc = annal_checkpoint_parse(note, tlen, c, why, sizeof(why));
    if (rc)
        return fail(rc, err, errlen, "%s: %s", what, why);
    return ANNAL_OK;
}

static int load_in(const char *cdir, uint64_t size, char **note, size_t *len, annal_checkpoint *c, char *err,
                   size_t errlen)
{
    char name[ANNAL_CHECKPOINT_NAME_LEN + 1], path[4200];
    annal_checkpoint_name(size, name);
    snprintf(path, sizeof(path), "%s/%s", cdir, name);
    char *b;
    size_t n;
    int rc = read_file(path, &b, &n, err, errlen);
    if (rc)
        return rc;
    annal_checkpoint tmp;
    if (!c)
        c = &tmp;
    rc = note_body(b, n, c, path, err, errlen);
    if (!rc && c->size != size)
        rc = fail(ANNAL_ECORRUPT, err, errlen, "%s: the checkpoint states tree size %llu", path,
                  (unsigned long long)c->size);
    if (rc) {
        free(b);
        return rc;
    }
    *note = b;
    *len = n;
    return ANNAL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_in(const char *cdir, uint64_t **sizes, size_t *n)
{
    *sizes = NULL;
    *n = 0;
    DIR *d = opendir(cdir);
    if (!d)
        return errno == ENOENT ? ANNAL_OK : ANNAL_EIO;
    size_t cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        uint64_t s;
        if (name_parse(e->d_name, &s))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ns = realloc(*sizes, cap * sizeof(*ns));
            if (!ns) {
                closedir(d);
                free(*sizes);
                *sizes = NULL;
                *n = 0;
                return ANNAL_ENOMEM;
            }
            *sizes = ns;
        }
        (*sizes)[(*n)++] = s;
        errno = 0;
    }
    int er = errno;
    closedir(d);
    if (er) {
        free(*sizes);
        *sizes = NULL;
        *n = 0;
        errno = er;
        return ANNAL_EIO;
    }
    if (*n > 1)
        qsort(*sizes, *n, sizeof(**sizes), cmp_u64);
    if (*n == 0) {
        free(*sizes);
        *sizes = NULL;
    }
    return ANNAL_OK;
}

/* The latest checkpoint in cdir: ANNAL_ENOTFOUND when there is none. */
static int latest_in(const char *cdir, char **note, size_t *len, annal_checkpoint *c, char *err, size_t errlen)
{
    uint64_t *sizes;
    size_t n;
    int rc = list_in(cdir, &sizes, &n);
    if (rc == ANNAL_EIO)
        return fail_io(err, errlen, "list", cdir);
    if (rc)
        return fail(rc, err, errlen, "out of memory");
    if (n == 0)
        return fail(ANNAL_ENOTFOUND, err, errlen, "no checkpoint in %s", cdir);
    uint64_t last = sizes[n - 1];
    free(sizes);
    return load_in(cdir, last, note, len, c, err, errlen);
}

/* Write note as cdir/NAME via NAME.tmp, fsync, rename, directory fsync;
 * the caller holds the lock. Same bytes already there: ANNAL_OK. */
static int save_locked(const char *cdir, const char *note, size_t len, uint64_t size, char *err, size_t errlen)
{
    char name[ANNAL_CHECKPOINT_NAME_LEN + 1], path[4200], tmp[4210];
    annal_checkpoint_name(size, name);
    snprintf(path, sizeof(path), "%s/%s", cdir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    char *old;
    size_t on;
    int rc = read_file(path, &old, &on, err, errlen);
    if (rc == ANNAL_OK) {
        int same = on == len && !memcmp(old, note, len);
        free(old);
        if (same)
            return ANNAL_OK;
        return fail(ANNAL_ECORRUPT, err, errlen,
                    "refusing to replace %s: a different checkpoint of tree size %llu is already saved", path,
                    (unsigned long long)size);
    }
    if (rc != ANNAL_ENOTFOUND)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail_io(err, errlen, "create", tmp);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, note + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto io_fail;
        off += (size_t)w;
    }
    if (fsync(fd) != 0)
        goto io_fail;
    if (close(fd) != 0) {
        fd = -1;
        goto io_fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = fail_io(err, errlen, "rename into place", tmp);
        int e = errno;
        unlink(tmp);
        errno = e;
        return rc;
    }
    return fsync_dir(cdir, err, errlen);
io_fail:
    rc = fail_io(err, errlen, "write", tmp);
    {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = e;
    }
    return rc;
}

int annal_checkpoint_save(const char *dir, const char *note, size_t len, uint64_t *size, char *err,
                          size_t errlen)
{
    char cdir[4096];
    int rc = store_path(dir, cdir, sizeof(cdir), err, errlen);
    if (rc)
        return rc;
    annal_checkpoint c;
    rc = note_body(note, len, &c, "cannot save the checkpoint", err, errlen);
    if (rc)
        return rc;
    int lockfd = -1;
    rc = store_open_locked(dir, cdir, &lockfd, err, errlen);
    if (rc)
        return rc;
    rc = save_locked(cdir, note, len, c.size, err, errlen);
    store_unlock(lockfd);
    if (!rc && size)
        *size = c.size;
    return rc;
}

int annal_checkpoint_load(const char *dir, uint64_t size, char **note, size_t *len, char *err, size_t errlen)
{
    char cdir[4096];
    if (!note || !len)
        return fail(ANNAL_EINVAL, err, errlen, "no output");
    int rc = store_path(dir, cdir, sizeof(cdir), err, errlen);
    if (rc)
        return rc;
    return load_in(cdir, size, note, len, NULL, err, errlen);
}

int annal_checkpoint_latest(const char *dir, char **note, size_t *len, uint64_t *size, char *err, size_t errlen)
{
    char cdir[4096];
    if (!note || !len)
        return fail(ANNAL_EINVAL, err, errlen, "no output");
    int rc = store_path(dir, cdir, sizeof(cdir), err, errlen);
    if (rc)
        return rc;
    annal_checkpoint c;
    rc = latest_in(cdir, note, len, &c, err, errlen);
    if (!rc && size)
        *size = c.size;
    return rc;
}

int annal_checkpoint_list(const char *dir, uint64_t **sizes, size_t *n)
{
    char cdir[4096];
    if (!sizes || !n)
        return ANNAL_EINVAL;
    *sizes = NULL;
    *n = 0;
    int rc = store_path(dir, cdir, sizeof(cdir), NULL, 0);
    if (rc)
        return rc;
    return list_in(cdir, sizes, n);
}

int annal_checkpoint_issue(const char *dir, const annal_note_signer *key, const char *origin, uint64_t size,
                           const unsigned char root[32], annal_checkpoint_consistent_fn consistent, void *ctx,
                           char **note, size_t *len, char *err, size_t errlen)
{
    if (note)
        *note = NULL;
    if (len)
        *len = 0;
    if (!key || !origin || !root)
        return fail(ANNAL_EINVAL, err, errlen, "no key, origin or root");
    if (!annal_note_name_valid(origin, strlen(origin)))
        return fail(ANNAL_EINVAL, err, errlen,
                    "invalid origin '%s': 1 to %d bytes without spaces, '+' or control characters", origin,
                    ANNAL_CHECKPOINT_ORIGIN_MAX);
    unsigned char empty[32];
    annal_sha256_2("", 0, NULL, 0, empty);
    if (size == 0 && memcmp(root, empty, 32))
        return fail(ANNAL_EINVAL, err, errlen, "the root of the empty tree must be SHA-256(\"\")");
    char cdir[4096];
    int rc = store_path(dir, cdir, sizeof(cdir), err, errlen);
    if (rc)
        return rc;
    int lockfd = -1;
    rc = store_open_locked(dir, cdir, &lockfd, err, errlen);
    if (rc)
        return rc;

    char *prev = NULL, *out = NULL;
    size_t prev_len = 0, out_len = 0;
    annal_checkpoint last;
    char lname[ANNAL_CHECKPOINT_NAME_LEN + 1] = "";
    rc = latest_in(cdir, &prev, &prev_len, &last, err, errlen);
    if (rc == ANNAL_ENOTFOUND)
        rc = ANNAL_OK;
    else if (rc)
        goto done;
    else {
        annal_checkpoint_name(last.size, lname);
        if (strcmp(last.origin, origin)) {
            rc = fail(ANNAL_EINVAL, err, errlen,
                      "refusing to sign for origin '%s': the checkpoints in %s are for origin '%s' (one origin "
                      "per data directory)",
                      origin, cdir, last.origin);
            goto done;
        }
        if (size < last.size) {
            rc = fail(ANNAL_ECORRUPT, err, errlen,
                      "refusing to sign tree size %llu: checkpoint %s/%s was already issued for size %llu; the "
                      "log is shorter than a signed checkpoint (rolled back or regenerated?)",
                      (unsigned long long)size, cdir, lname, (unsigned long long)last.size);
            goto done;
        }
        if (size == last.size) {
            if (memcmp(root, last.root, 32)) {
                rc = fail(ANNAL_ECORRUPT, err, errlen,
                          "refusing to sign tree size %llu: checkpoint %s/%s for the same size has a different "
                          "root; the log was rewritten",
                          (unsigned long long)size, cdir, lname);
                goto done;
            }
            out = prev; /* already issued: return it as saved */
            out_len = prev_len;
            prev = NULL;
            goto done;
        }
        if (last.size == 0) {
            if (memcmp(last.root, empty, 32)) {
                rc = fail(ANNAL_ECORRUPT, err, errlen,
                          "checkpoint %s/%s is of the empty tree but its root is not SHA-256(\"\")", cdir, lname);
                goto done;
            }
        } else {
            if (!consistent) {
                rc = fail(ANNAL_EINVAL, err, errlen,
                          "no consistency check given to prove that size %llu extends checkpoint %s/%s",
                          (unsigned long long)size, cdir, lname);
                goto done;
            }
            rc = consistent(ctx, last.size, last.root, size, root);
            if (rc == ANNAL_ECORRUPT) {
                fail(rc, err, errlen,
                     "refusing to sign tree size %llu: it does not extend checkpoint %s/%s (size %llu); the log "
                     "was rewritten",
                     (unsigned long long)size, cdir, lname, (unsigned long long)last.size);
                goto done;
            }
            if (rc) {
                fail(rc, err, errlen, "cannot prove that tree size %llu extends checkpoint %s/%s: %s",
                     (unsigned long long)size, cdir, lname, annal_strerror(rc));
                goto done;
            }
        }
    }

    annal_checkpoint c;
    memset(&c, 0, sizeof(c));
    memcpy(c.origin, origin, strlen(origin) + 1);
    c.size = size;
    memcpy(c.root, root, 32);
    rc = annal_checkpoint_sign(&c, key, &out, &out_len);
    if (rc) {
        fail(rc, err, errlen, "cannot sign the checkpoint: %s", annal_strerror(rc));
        goto done;
    }
    rc = save_locked(cdir, out, out_len, size, err, errlen);
    if (rc) {
        free(out);
        out = NULL;
    }
done:
    store_unlock(lockfd);
    free(prev);
    if (rc) {
        free(out);
        return rc;
    }
    if (note) {
        *note = out;
        if (len)
            *len = out_len;
    } else
        free(out);
    return ANNAL_OK;
}
