/*
 * fileio.h - the one interface through which the log writer changes files,
 * so that tests can inject failures (a full disk, a failed fsync) and see
 * that no acknowledged event is lost. Readers use plain pread.
 *
 * Each function has the contract of the POSIX call it is named after:
 * it returns what that call returns and sets errno the same way.
 */
#ifndef ANNAL_FILEIO_H
#define ANNAL_FILEIO_H

#include <sys/types.h>

typedef struct annal_io {
    ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
    int (*fdatasync)(void *ctx, int fd);
    int (*fsync)(void *ctx, int fd);
    int (*ftruncate)(void *ctx, int fd, off_t len);
    void *ctx;
} annal_io;

/* The real thing: pwrite(2), fdatasync(2), fsync(2), ftruncate(2). */
extern const annal_io annal_io_posix;

/* Write all n bytes at off, retrying short writes and EINTR.
 * 0, or -1 with errno set. */
int annal_io_write_all(const annal_io *io, int fd, const void *buf, size_t n, off_t off);

/* Read up to n bytes at off, retrying short reads and EINTR; returns the
 * bytes read (less than n only at end of file), or -1 with errno set. */
ssize_t annal_read_all(int fd, void *buf, size_t n, off_t off);

#endif
