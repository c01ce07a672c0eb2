/*
 * rebuild.c - reindex: build a fresh index beside the live one, make it
 * durable, swap it in atomically, remove the old one.
 */
#include "index/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int ix_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/* Put the built index at live: exchange when the file system can, else
 * two renames (live -> old, built -> live) with the directory fsync'ed. */
static int swap_in(const char *dir, const char *built, const char *live, const char *old)
{
    if (renameat2(AT_FDCWD, built, AT_FDCWD, live, RENAME_EXCHANGE) == 0) {
        if (fsync_path(dir) < 0)
            return -1;
        return ix_rmtree(built); /* built now names the old index */
    }
    if (errno == ENOENT) { /* no live index yet */
        if (rename(built, live) < 0)
            return -1;
        return fsync_path(dir);
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -1;
    if (ix_rmtree(old) < 0 || rename(live, old) < 0 || rename(built, live) < 0 || fsync_path(dir) < 0)
        return -1;
    return ix_rmtree(old);
}

int annal_index_rebuild(const char *dir, const annal_index_options *opt, annal_index_progress_fn progress,
                        void *ctx, uint64_t *events)
{
    if (!dir)
        return ANNAL_EINVAL;
    char *live = NULL, *built = NULL, *old = NULL, *lock = NULL;
    int lfd = -1, rc = ANNAL_ENOMEM;
    if (asprintf(&live, "%s/index", dir) < 0 || asprintf(&built, "%s/index.tmp", dir) < 0 ||
        asprintf(&old, "%s/index.old", dir) < 0 || asprintf(&lock, "%s/index.lock", dir) < 0)
        goto out;
    annal_reader *r;
    if ((rc = annal_reader_open(dir, &r)))
        goto out;
    annal_reader_close(r);
    rc = ANNAL_EIO;
    if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        goto out;
    if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? ANNAL_ELOCKED : ANNAL_EIO;
        goto out;
    }
    if (ix_rmtree(built) < 0)
        goto out;
    annal_index *ix;
    if ((rc = ix_open_env(dir, built, opt, &ix, NULL, 0)))
        goto out;
    rc = annal_index_catch_up(ix, progress, ctx, events);
    if (rc == ANNAL_OK)
        rc = ix_err(mdb_env_sync(ix->env, 1));
    annal_index_close(ix);
    if (rc == ANNAL_OK && (fsync_path(built) < 0 || swap_in(dir, built, live, old) < 0))
        rc = ANNAL_EIO;
    if (rc) {
        int e = errno;
        ix_rmtree(built);
        errno = e;
    }
out:
    if (lfd >= 0)
        close(lfd); /* releases the flock */
    free(live);
    free(built);
    free(old);
    free(lock);
    return rc;
}
