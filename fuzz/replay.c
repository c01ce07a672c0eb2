/*
 * replay.c - runs a libFuzzer target over saved inputs without libFuzzer, so
 * that an ordinary gcc build (`make test`) replays every corpus.
 *
 *   replay_<target> [FILE | DIR]...
 *
 * Each FILE is one input; each DIR contributes its regular files, in sorted
 * order (for determinism). With no arguments the corpus is
 * $FUZZ_DIR/corpus/<target> (FUZZ_DIR defaults to "fuzz"), where <target> is
 * the part of argv[0]'s basename after "replay_". Each input is passed to
 * LLVMFuzzerTestOneInput; a target reports a bug by crashing or aborting,
 * which ends the run (and is its failure). Inputs that cannot be read count
 * as failed. The last line is `replay_<target>: N passed, N failed`, the
 * summary format of tests/run.sh; the exit status is 0 only if none failed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int passed, failed;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        failed++;
        return;
    }
    size_t cap = 4096, len = 0, n;
    uint8_t *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        failed++;
        return;
    }
    /* an exact-size copy, so that ASan catches reads past the input */
    uint8_t *exact = malloc(len ? len : 1);
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    passed++;
}

static int regular_file(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, regular_file, alphasort);
    if (n < 0) {
        perror(path);
        failed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
        char *full = malloc(len);
        snprintf(full, len, "%s/%s", path, names[i]->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            run_file(full);
        free(full);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    const char *target = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_path(argv[i]);
    } else {
        const char *dir = getenv("FUZZ_DIR");
        size_t len = strlen(dir ? dir : "fuzz") + strlen(target) + 16;
        char *corpus = malloc(len);
        snprintf(corpus, len, "%s/corpus/%s", dir ? dir : "fuzz", target);
        run_path(corpus);
        free(corpus);
    }
    printf("replay_%s: %d passed, %d failed\n", target, passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
