#include "segdir.h"

#include "error.h"
#include "fileio.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int annal_segdir_list(const char *dir, uint64_t **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ANNAL_EIO;
    size_t cap = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        uint64_t s;
        if (!annal_seg_name_parse(e->d_name, &s))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ns = realloc(*seqs, cap * sizeof(*ns));
            if (!ns) {
                closedir(d);
                free(*seqs);
                *seqs = NULL;
                *n = 0;
                return ANNAL_ENOMEM;
            }
            *seqs = ns;
        }
        (*seqs)[(*n)++] = s;
    }
    int err = errno;
    closedir(d);
    if (err) {
        free(*seqs);
        *seqs = NULL;
        *n = 0;
        errno = err;
        return ANNAL_EIO;
    }
    if (*n)
        qsort(*seqs, *n, sizeof(**seqs), cmp_u64);
    return ANNAL_OK;
}

int annal_segdir_path(const char *dir, uint64_t first_seq, char *out, size_t cap)
{
    char name[ANNAL_SEG_NAME_LEN + 1];
    annal_seg_name(first_seq, name);
    int w = snprintf(out, cap, "%s/%s", dir, name);
    return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

int annal_segdir_read(const char *dir, uint64_t first_seq, unsigned char **buf, size_t *len)
{
    char path[4096];
    *buf = NULL;
    *len = 0;
    if (annal_segdir_path(dir, first_seq, path, sizeof(path))) {
        errno = ENAMETOOLONG;
        return ANNAL_EIO;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ANNAL_EIO;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return ANNAL_EIO;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *b = malloc(size ? size : 1);
    if (!b) {
        close(fd);
        return ANNAL_ENOMEM;
    }
    ssize_t got = annal_read_all(fd, b, size, 0);
    int e = errno;
    close(fd);
    if (got < 0) {
        free(b);
        errno = e;
        return ANNAL_EIO;
    }
    *buf = b;
    *len = (size_t)got; /* a file that shrank meanwhile reads shorter */
    return ANNAL_OK;
}
