/*
 * t.h - the test harness: each tests/test_*.c is one program whose main()
 * runs its tests with T_RUN and ends with `return t_done();`. A test is a
 * function; CHECK stops the current test on the first failed condition and
 * prints where. t_done() prints `<program>: N passed, N failed` and returns
 * the exit status; tests/run.sh adds the counts of all programs.
 * Tests use fixed seeds (t_rand with a seed of the test's own).
 */
#ifndef ANNAL_T_H
#define ANNAL_T_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur_name;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAIL %s (%s:%d): %s\n", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                         \
            t_cur_failed = 1;                                                       \
            return;                                                                 \
        }                                                                           \
    } while (0)

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAIL %s (%s:%d): %s: ", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            t_cur_failed = 1;                                                       \
            return;                                                                 \
        }                                                                           \
    } while (0)

#define T_RUN(fn)                                       \
    do {                                                \
        t_cur_name = #fn;                               \
        t_cur_failed = 0;                               \
        fn();                                           \
        if (t_cur_failed)                               \
            t_failed++;                                 \
        else                                            \
            t_passed++;                                 \
    } while (0)

static inline int t_done_named(const char *prog)
{
    const char *base = strrchr(prog, '/');
    printf("%s: %d passed, %d failed\n", base ? base + 1 : prog, t_passed, t_failed);
    fflush(stdout);
    return t_failed ? 1 : 0;
}
#define t_done() t_done_named(__FILE__)

/* Deterministic PRNG (splitmix64) for tests: never seeded from the clock. */
static inline uint64_t t_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
