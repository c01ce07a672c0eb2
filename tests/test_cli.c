/* The annal command line, end to end: append (all-or-nothing, --skip-invalid),
 * verify, dump and their exit codes, --help, the writer lock. */
#include "t.h"
#include "util.h"

#include <sys/file.h>

static char *dir;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void every_command_has_help_and_exits_zero(void)
{
    const char *cmds[] = {"append", "verify", "dump", "gen"};
    for (size_t i = 0; i < 4; i++) {
        char *out;
        int st = tu_run(&out, "%s %s --help", tu_annal(), cmds[i]);
        CHECKF(st == 0 && strstr(out, "usage: annal"), "%s: %d", cmds[i], st);
        free(out);
    }
    CHECK(tu_run(NULL, "%s --help", tu_annal()) == 0);
    CHECK(tu_run(NULL, "%s frobnicate 2>/dev/null", tu_annal()) == 2);
    CHECK(tu_run(NULL, "%s append 2>/dev/null </dev/null", tu_annal()) == 2); /* no --data */
    CHECK(tu_run(NULL, "%s verify --data %s/nonexistent 2>/dev/null", tu_annal(), dir) == 2);
    CHECK(tu_run(NULL, "%s verify --data %s --jobs 0 2>/dev/null", tu_annal(), dir) == 2);
}

static void an_input_with_an_invalid_line_appends_nothing_and_lists_every_bad_line(void)
{
    char in[4096], *out;
    snprintf(in, sizeof(in), "%s/in.ndjson", dir);
    write_file(in,
               "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"r1\"}\n"
               "{\"tenant_id\":\"acme\",\"event_type\":\"NoSuchType\"}\n"
               "\n"
               "{\"tenant_id\":\"acme\",\"event_type\":\"RunCompleted\",\"run_id\":\"r1\"}\n"
               "{\"tenant_id\":\"ac me\",\"event_type\":\"RunStarted\",\"run_id\":\"r2\"}\n"
               "not json\n");
    int st = tu_run(&out, "%s append --data %s/s1 %s 2>&1", tu_annal(), dir, in);
    CHECKF(st == 1, "exit %d: %s", st, out);
    CHECKF(strstr(out, "line 2: event_type") && strstr(out, "line 5: tenant_id") && strstr(out, "line 6"),
           "%s", out);
    CHECK(strstr(out, "nothing appended: 3 of 5 lines are invalid"));
    CHECK(!strstr(out, "line 1:") && !strstr(out, "line 4:"));
    free(out);
    /* Nothing was appended: no segment exists. */
    CHECK(tu_run(NULL, "ls %s/s1/*.seg >/dev/null 2>&1", dir) != 0);

    st = tu_run(&out, "%s append --data %s/s1 --skip-invalid %s 2>/dev/null", tu_annal(), dir, in);
    CHECKF(st == 0 && strstr(out, "appended 2 events") && strstr(out, "first_seq 1") &&
               strstr(out, "last_seq 2") && strstr(out, "skipped 3 invalid lines"), "%d %s", st, out);
    free(out);
    st = tu_run(&out, "%s verify --data %s/s1", tu_annal(), dir);
    CHECKF(st == 0 && strstr(out, "ok: 2 events"), "%s", out);
    free(out);
}

static int derived; /* events the rules derived in store s2 */

static void append_prints_the_chain_head_that_verify_prints(void)
{
    char *a, *v;
    CHECK(tu_run(&a, "%s gen --seed 3 --events 3000 --tenants 4 | %s append --data %s/s2 -", tu_annal(),
                 tu_annal(), dir) == 0);
    CHECK(tu_run(&v, "%s verify --data %s/s2 --jobs 2", tu_annal(), dir) == 0);
    const char *ha = strstr(a, "chain_head "), *hv = strstr(v, "chain_head ");
    CHECKF(ha && hv && !strncmp(ha, hv, 11 + 64), "%s / %s", a, v);
    /* The rules derive events from the budgets and failed runs of the
     * workload (index/views.h); append reports them and verify counts them. */
    const char *d = strstr(a, "derived ");
    derived = d ? atoi(d + 8) : -1;
    char want[64];
    snprintf(want, sizeof(want), "ok: %d events", 3000 + derived);
    CHECKF(strstr(a, "appended 3000 events") && derived > 0 && strstr(v, want), "%s / %s", a, v);
    free(a);
    free(v);
}

static void dump_filters_by_tenant_and_seq_range(void)
{
    char *out;
    CHECK(tu_run(&out, "%s dump --data %s/s2 --from-seq 10 --to-seq 19", tu_annal(), dir) == 0);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    CHECK(lines == 10);
    CHECK(!strncmp(out, "{\"seq\":10,", 10));
    free(out);
    /* Every line of a tenant dump is that tenant's, and the tenants' dumps add up. */
    int total = 0;
    CHECK(tu_run(&out, "%s dump --data %s/s2 | sed -n 's/.*\"tenant_id\":\"\\([^\"]*\\)\".*/\\1/p' | sort -u",
                 tu_annal(), dir) == 0);
    char *save = NULL;
    int tenants = 0;
    for (char *t = strtok_r(out, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        char *cnt;
        CHECK(tu_run(&cnt, "%s dump --data %s/s2 --tenant %s | grep -vc '\"tenant_id\":\"%s\"'", tu_annal(), dir,
                     t, t) == 1); /* grep -c prints 0 and exits 1: no foreign line */
        CHECK(atoi(cnt) == 0);
        free(cnt);
        CHECK(tu_run(&cnt, "%s dump --data %s/s2 --tenant %s | wc -l", tu_annal(), dir, t) == 0);
        total += atoi(cnt);
        free(cnt);
        tenants++;
    }
    free(out);
    CHECKF(tenants >= 4 && total == 3000 + derived, "%d tenants, %d events", tenants, total);
    CHECK(tu_run(NULL, "%s dump --data %s/s2 --from-seq 0 2>/dev/null", tu_annal(), dir) == 2);
}

static void zstd_alone_prints_exactly_the_records(void)
{
    char *a, *b;
    CHECK(tu_run(&a, "for f in %s/s2/*.seg; do zstd -dcq \"$f\"; done | sha256sum", dir) == 0);
    CHECK(tu_run(&b, "%s dump --data %s/s2 | sha256sum", tu_annal(), dir) == 0);
    CHECKF(!strcmp(a, b), "%s vs %s", a, b);
    free(a);
    free(b);
}

static void a_second_writer_gets_a_clear_error(void)
{
    char path[4096], *out;
    snprintf(path, sizeof(path), "%s/s2/LOCK", dir);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    int st = tu_run(&out, "%s gen --seed 1 --events 5 | %s append --data %s/s2 - 2>&1", tu_annal(), tu_annal(), dir);
    close(fd);
    CHECKF(st == 2 && strstr(out, "another writer"), "%d %s", st, out);
    free(out);
    /* Readers work while a writer holds the lock. */
    fd = open(path, O_RDWR);
    flock(fd, LOCK_EX | LOCK_NB);
    st = tu_run(NULL, "%s verify --data %s/s2 >/dev/null", tu_annal(), dir);
    close(fd);
    CHECK(st == 0);
}

int main(void)
{
    dir = tu_tmpdir("cli");
    T_RUN(every_command_has_help_and_exits_zero);
    T_RUN(an_input_with_an_invalid_line_appends_nothing_and_lists_every_bad_line);
    T_RUN(append_prints_the_chain_head_that_verify_prints);
    T_RUN(dump_filters_by_tenant_and_seq_range);
    T_RUN(zstd_alone_prints_exactly_the_records);
    T_RUN(a_second_writer_gets_a_clear_error);
    tu_rmtree(dir);
    free(dir);
    return t_done();
}
