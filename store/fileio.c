#include "fileio.h"

#include <errno.h>
#include <unistd.h>

static ssize_t posix_pwrite(void *ctx, int fd, const void *buf, size_t n, off_t off)
{
    (void)ctx;
    return pwrite(fd, buf, n, off);
}

static int posix_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

static int posix_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd);
}

static int posix_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return ftruncate(fd, len);
}

const annal_io annal_io_posix = {posix_pwrite, posix_fdatasync, posix_fsync, posix_ftruncate, NULL};

int annal_io_write_all(const annal_io *io, int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = io->pwrite(io->ctx, fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

ssize_t annal_read_all(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}
