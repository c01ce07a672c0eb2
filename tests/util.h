/*
 * util.h - helpers shared by the tests: temporary directories, events,
 * running the annal binary, files.
 */
#ifndef ANNAL_TEST_UTIL_H
#define ANNAL_TEST_UTIL_H


#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/error.h"
#include "store/event.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove a directory tree (like rm -rf). */
static inline void tu_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh empty directory under $TMPDIR (or /tmp); returns a static-ish
 * malloc'd path the caller frees after tu_rmtree. */
static inline char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = NULL;
    if (asprintf(&p, "%s/annal-%s-XXXXXX", base ? base : "/tmp", tag) < 0 || !mkdtemp(p)) {
        perror("mkdtemp");
        exit(2);
    }
    return p;
}

/* A parsed event whose compact bytes live in buf (caller's, >= strlen+1). */
static inline int tu_event(const char *json, char *buf, size_t cap, annal_event *ev)
{
    annal_event_error err;
    int rc = annal_event_parse(json, strlen(json), 0, buf, cap, ev, &err);
    if (rc)
        fprintf(stderr, "tu_event: %s: %s: %s\n", json, err.field, err.reason);
    return rc;
}

/* A realistic event for tenant t and number i, printed into out. */
static inline void tu_event_json(char *out, size_t cap, const char *tenant, unsigned long long i)
{
    snprintf(out, cap,
             "{\"tenant_id\":\"%s\",\"event_type\":\"CostRecorded\",\"event_id\":\"e-%llu\","
             "\"occurred_at\":\"2026-10-01T00:00:%02llu.%03lluZ\",\"run_id\":\"run-%llu\",\"api_key_id\":\"key-%llu\","
             "\"data\":{\"model\":\"gpt-4o\",\"feature_tag\":\"search\",\"user_id\":\"u-%llu\","
             "\"input_tokens\":%llu,\"output_tokens\":%llu,\"cost_cents\":%llu}}",
             tenant, i, i % 60, i % 1000, i / 3, i % 7, i % 11, 100 + i % 900, 20 + i % 300, 1 + i % 97);
}

/* Run a shell command line; returns its exit status (or -1), with stdout
 * captured into *out (malloc'd, NUL-terminated) when out is non-NULL. */
static inline int tu_run(char **out, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        exit(2);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = 0;
    int st = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The annal binary under test. */
static inline const char *tu_annal(void)
{
    const char *b = getenv("ANNAL_BIN");
    return b ? b : "build/annal";
}

static inline long tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

#endif
