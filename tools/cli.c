#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_u64(const char *s, uint64_t *v)
{
    if (!s || !*s)
        return -1;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int cli_read_input(const char *cmd, const char *path, char **buf, size_t *len)
{
    int fd = 0;
    int from_stdin = !path || !strcmp(path, "-");
    if (!from_stdin && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "annal %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fprintf(stderr, "annal %s: out of memory reading the input\n", cmd);
            break;
        }
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                continue;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "annal %s: cannot read %s: %s\n", cmd, from_stdin ? "standard input" : path,
                    strerror(errno));
            free(b);
            b = NULL;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (!from_stdin)
        close(fd);
    if (!b)
        return -1;
    *buf = b;
    *len = n;
    return 0;
}

int cli_map_input(const char *cmd, const char *path, char **buf, size_t *len, int *mapped)
{
    *mapped = 0;
    if (path && strcmp(path, "-") != 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
            void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            close(fd);
            if (p != MAP_FAILED) {
                madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
                *buf = p;
                *len = (size_t)st.st_size;
                *mapped = 1;
                return 0;
            }
        } else if (fd >= 0) {
            close(fd);
        }
    }
    return cli_read_input(cmd, path, buf, len);
}

void cli_unmap_input(char *buf, size_t len, int mapped)
{
    if (mapped)
        munmap(buf, len);
    else
        free(buf);
}

static double last_progress;
static int progress_shown;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cli_progress(const char *fmt, ...)
{
    if (!isatty(2))
        return;
    double t = mono();
    if (t - last_progress < 0.25)
        return;
    last_progress = t;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_end(void)
{
    if (progress_shown)
        fputs("\r\033[K", stderr);
    progress_shown = 0;
}
