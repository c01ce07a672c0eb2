/*
 * The integrity routes of the HTTP API end to end (api/API.md "Integrity"):
 * a real `annal serve --key KEY --checkpoint-interval 100` process on
 * loopback (the binary of ANNAL_BIN, port 0) on a fresh store, and a small
 * HTTP/1.1 client (one request per connection, Connection: close; a
 * minimal copy of tests/test_http.c's).
 *
 *  - GET /api/v1/checkpoint: 404 before the first event; then text/plain,
 *    a signed note that verifies with the verifier key of `annal keygen`,
 *    polled until it covers the story of each tenant;
 *  - /proofs/inclusion: the proof of an own event verifies against the
 *    signed root with the record's leaf hash; another tenant's seq and a seq
 *    beyond the log 404; seq beyond tree_size and tree_size beyond the log
 *    400;
 *  - /proofs/consistency: between the two checkpoints signed after each
 *    tenant's story, verified against both signed roots;
 *  - /events/{seq}?proof=1: the record, its leaf hash, its proof and the
 *    checkpoint; everything verifies;
 *  - /export: each selection kind; `annal verify-bundle` accepts the bundle,
 *    which holds nothing of the other tenant and is byte for byte what
 *    `annal export` writes with the same checkpoint; the errors (400, 404,
 *    409 before a checkpoint covers the selection, and without --key);
 *  - roles: no token 401, ingest 403, read allowed but on /export (403),
 *    audit and admin allowed;
 *  - `annal verify --against` every checkpoint fetched, after the stop;
 *  - index/bundle.h in-process: max_events, the error codes.
 */
#include "t.h"
#include "util.h"

#include "index/bundle.h"
#include "store/checkpoint.h"
#include "store/hash.h"
#include "store/merkle.h"
#include "store/note.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define IO_TIMEOUT_S 20 /* safety limit of one socket read or write */
#define TOKEN_LEN 70    /* "annal_" + 64 hex digits */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ================================================================ the client */

typedef struct hres {
    int status;       /* 0: no response */
    char ctype[128];  /* Content-Type */
    char *body;       /* NUL-terminated */
    size_t len;
    json_t *json;     /* the body parsed, or NULL */
} hres;

#define NSLOTS 16
static hres slots[NSLOTS];
static unsigned slot_i;

static hres *slot(void)
{
    hres *r = &slots[slot_i++ % NSLOTS];
    free(r->body);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof(*r));
    return r;
}

static uint16_t port;          /* the server under test */
static int nproblem_bad;       /* error answers that are not problem+json */

/* One request on a fresh connection: method, path (sent as is), token (or
 * NULL), body (or NULL; sent as application/x-ndjson). */
static hres *rq(const char *method, const char *path, const char *token, const char *body)
{
    hres *r = slot();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return r;
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char *req = NULL;
    size_t rlen = 0;
    long n = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        FILE *f = open_memstream(&req, &rlen);
        fprintf(f, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path);
        if (token)
            fprintf(f, "Authorization: Bearer %s\r\n", token);
        if (body)
            fprintf(f, "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n", strlen(body));
        fprintf(f, "\r\n%s", body ? body : "");
        n = fclose(f) == 0 ? (long)rlen : -1;
    }
    for (size_t o = 0; n > 0 && o < (size_t)n;) {
        ssize_t w = send(fd, req + o, (size_t)n - o, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            n = -1;
            break;
        }
        o += (size_t)w;
    }
    free(req);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (n > 0) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 1 << 17;
            buf = realloc(buf, cap + 1);
        }
        ssize_t k = recv(fd, buf + len, cap - len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    char *e = buf ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    int st = 0;
    if (!e || sscanf(buf, "HTTP/1.%*d %d", &st) != 1) {
        free(buf);
        return r;
    }
    *e = 0;
    const char *ct = strcasestr(buf, "\r\nContent-Type:");
    if (ct) {
        ct += 15;
        while (*ct == ' ')
            ct++;
        snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)strcspn(ct, "\r"), ct);
    }
    int chunked = strcasestr(buf, "\r\nTransfer-Encoding: chunked") != NULL;
    const char *b = e + 4;
    size_t blen = len - (size_t)(b - buf);
    r->body = malloc(blen + 1);
    if (chunked) { /* de-chunk */
        size_t o = 0;
        for (const char *p = b; p < b + blen;) {
            size_t sz = strtoul(p, NULL, 16);
            const char *le = strstr(p, "\r\n");
            if (!sz || !le)
                break;
            memcpy(r->body + o, le + 2, sz);
            o += sz;
            p = le + 2 + sz + 2;
        }
        r->len = o;
    } else {
        memcpy(r->body, b, blen);
        r->len = blen;
    }
    r->body[r->len] = 0;
    free(buf);
    r->status = st;
    if (r->len)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (st >= 400) { /* every error answer is a problem document */
        json_t *s = json_object_get(r->json, "status"), *d = json_object_get(r->json, "detail");
        if (strcmp(r->ctype, "application/problem+json") || !json_is_integer(s) || json_integer_value(s) != st ||
            !json_is_string(d)) {
            fprintf(stderr, "not problem+json: %s %s -> %d %s %.200s\n", method, path, st, r->ctype, r->body);
            nproblem_bad++;
        }
    }
    return r;
}

#define GET(path, token) rq("GET", (path), (token), NULL)

static long long jint(const hres *r, const char *k)
{
    json_t *v = r->json ? json_object_get(r->json, k) : NULL;
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *jstr(const hres *r, const char *k)
{
    json_t *v = r->json ? json_object_get(r->json, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *detail(const hres *r)
{
    const char *d = jstr(r, "detail");
    return d ? d : "";
}

/* 32 bytes from 64 lower-case hex digits: 0 or -1. */
static int unhex32(const char *s, unsigned char out[32])
{
    if (!s || strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (!strchr("0123456789abcdef", s[2 * i]) || !strchr("0123456789abcdef", s[2 * i + 1]) ||
            sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* A JSON array of hex hashes into proof: the count, or -1. */
static long unhex_proof(json_t *a, unsigned char proof[][32])
{
    if (!json_is_array(a) || json_array_size(a) > ANNAL_MERKLE_MAX_PROOF)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (unhex32(json_string_value(json_array_get(a, i)), proof[i]))
            return -1;
    return (long)json_array_size(a);
}

/* ================================================================ the server process */

typedef struct server {
    pid_t pid;
    int errfd;
    uint16_t port;
    char *log;
    size_t loglen, logcap;
    int eof;
} server;

static void srv_pump(server *s, int ms)
{
    struct pollfd pfd = {s->errfd, POLLIN, 0};
    if (s->eof || poll(&pfd, 1, ms) <= 0)
        return;
    for (;;) {
        if (s->logcap - s->loglen < 4096) {
            s->logcap = s->logcap ? s->logcap * 2 : 8192;
            s->log = realloc(s->log, s->logcap + 1);
        }
        ssize_t r = read(s->errfd, s->log + s->loglen, s->logcap - s->loglen);
        if (r > 0) {
            s->loglen += (size_t)r;
            s->log[s->loglen] = 0;
            continue;
        }
        if (r == 0)
            s->eof = 1;
        break;
    }
}

/* Start `annal serve --data dir --listen 127.0.0.1:0 <args...>` and wait for
 * its "(port N)" line. */
static int srv_stop(server *s);

static int srv_start(server *s, const char *dir, const char *const *args)
{
    if (s->pid > 0) /* a test that failed left it running */
        srv_stop(s);
    free(s->log);
    memset(s, 0, sizeof(*s));
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return -1;
    const char *argv[32] = {"annal", "serve", "--data", dir, "--listen", "127.0.0.1:0"};
    int argc = 6;
    for (; args && *args && argc < 31; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        dup2(p[1], 2);
        execv(tu_annal(), (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", tu_annal(), strerror(errno));
        _exit(127);
    }
    close(p[1]);
    s->errfd = p[0];
    fcntl(s->errfd, F_SETFL, O_NONBLOCK);
    double end = mono() + 30;
    const char *l = NULL;
    while (!(l = s->log ? strstr(s->log, "(port ") : NULL) && !s->eof && mono() < end)
        srv_pump(s, 100);
    if (!l || !strchr(l, ')')) {
        fprintf(stderr, "annal serve did not start: %s\n", s->log ? s->log : "(no output)");
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        return -1;
    }
    s->port = (uint16_t)atoi(l + 6);
    port = s->port;
    return s->port ? 0 : -1;
}

/* SIGTERM, then wait (at most 30 s) for the exit: the wait status, or -1. */
static int srv_stop(server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int st = -1;
    double end = mono() + 30;
    for (;;) {
        srv_pump(s, 50);
        pid_t w = waitpid(s->pid, &st, WNOHANG);
        if (w == s->pid)
            break;
        if (mono() > end) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            st = -1;
            break;
        }
    }
    while (!s->eof)
        srv_pump(s, 1000);
    close(s->errfd);
    s->pid = 0;
    return st;
}

/* ================================================================ the fixture */

static char *dir;              /* everything of this test */
static char data_dir[4096];    /* the store of the main server */
static char key_file[4096];    /* its signer key */
static char vkey[ANNAL_NOTE_VKEY_MAX + 1];
static annal_note_verifier verifier;
static server S;
static int ready;              /* the story is in and both checkpoints were fetched */

static const char *tenants[2] = {"acme", "globex"};
static const char *role_names[4] = {"ingest", "read", "audit", "admin"};
static char tok[2][4][TOKEN_LEN + 1];

/* The two checkpoints fetched after each tenant's story, as served. */
static char *cp_note[2];
static size_t cp_len[2];
static annal_checkpoint cp[2];
static unsigned long long seq_run[2]; /* each tenant's RunStarted */
static unsigned long long story_last[2]; /* the last seq of each tenant's story */

static char *path_in(const char *name)
{
    static char p[8][4096];
    static unsigned i;
    char *o = p[i++ % 8];
    snprintf(o, sizeof(p[0]), "%s/%s", dir, name);
    return o;
}

static int spit(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t w = fwrite(s, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *b = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (cap - *len < 4096)
            b = realloc(b, (cap = cap ? cap * 2 : 65536) + 1);
        size_t r = fread(b + *len, 1, cap - *len, f);
        if (!r)
            break;
        *len += r;
    }
    fclose(f);
    b[*len] = 0;
    return b;
}

static int token_add(const char *data, const char *tenant, const char *role, char *token)
{
    char *out;
    int st = tu_run(&out, "%s token add --data %s --tenant %s --role %s 2>&1", tu_annal(), data, tenant, role);
    const char *t = strstr(out, "annal_");
    int ok = st == 0 && t && strspn(t + 6, "0123456789abcdef") == 64;
    if (ok) {
        memcpy(token, t, TOKEN_LEN);
        token[TOKEN_LEN] = 0;
    } else {
        fprintf(stderr, "token add failed (%d): %s\n", st, out);
    }
    free(out);
    return ok ? 0 : -1;
}

/* The scripted story of tenant t, as NDJSON: a run with its cost, an
 * incident, a correlated service event, all marked secret-<t>. */
static char *story(const char *t)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"tenant_id\":\"%1$s\",\"event_type\":\"RunStarted\",\"event_id\":\"st-1\",\"occurred_at\":\"2026-10-01T10:01:00Z\","
                 "\"run_id\":\"run-%1$s-1\",\"correlation_id\":\"corr-%1$s-1\",\"data\":{\"model\":\"model-%1$s\",\"user_id\":\"secret-%1$s\"}}\n"
                 "{\"tenant_id\":\"%1$s\",\"event_type\":\"CostRecorded\",\"event_id\":\"st-2\",\"occurred_at\":\"2026-10-01T10:01:30Z\","
                 "\"run_id\":\"run-%1$s-1\",\"data\":{\"model\":\"model-%1$s\",\"input_tokens\":100,\"output_tokens\":20,\"cost_cents\":42}}\n"
                 "{\"tenant_id\":\"%1$s\",\"event_type\":\"RunCompleted\",\"event_id\":\"st-3\",\"occurred_at\":\"2026-10-01T10:02:00Z\","
                 "\"run_id\":\"run-%1$s-1\",\"data\":{\"duration_ms\":60000}}\n"
                 "{\"tenant_id\":\"%1$s\",\"event_type\":\"IncidentCreated\",\"event_id\":\"st-4\",\"occurred_at\":\"2026-10-01T10:03:00Z\","
                 "\"incident_id\":\"inc-%1$s-1\",\"run_id\":\"run-%1$s-1\",\"correlation_id\":\"corr-%1$s-1\",\"data\":{\"category\":\"QUALITY\","
                 "\"severity\":\"LOW\",\"title\":\"secret-%1$s incident\",\"source\":\"MANUAL\"}}\n"
                 "{\"tenant_id\":\"%1$s\",\"event_type\":\"svc.request.completed\",\"event_id\":\"st-5\",\"occurred_at\":\"2026-10-01T10:06:00Z\","
                 "\"correlation_id\":\"corr-%1$s-1\",\"data\":{\"note\":\"secret-%1$s\"}}\n",
                 t) < 0)
        exit(2);
    return s;
}

/* One filler event of tenant t, number i (the logs of the two tenants
 * interleave: proofs then hold the other tenant's leaf hashes). */
static char *filler(const char *t, int i)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"tenant_id\":\"%s\",\"event_type\":\"svc.request.completed\",\"event_id\":\"f-%d\","
                 "\"occurred_at\":\"2026-10-01T11:%02d:00Z\",\"correlation_id\":\"corr-%s-f\",\"data\":{\"note\":\"secret-%s\",\"i\":%d}}\n",
                 t, i, i % 60, t, t, i) < 0)
        exit(2);
    return s;
}

/* The index and rules caught up with the log: durable_seq == settled_seq,
 * twice in a row; returns it, or -1. */
static long long settle(void)
{
    double end = mono() + 30;
    long long last = -2;
    while (mono() < end) {
        hres *r = GET("/healthz", NULL);
        if (!r->status)
            return -1;
        long long d = jint(r, "durable_seq"), s = jint(r, "settled_seq");
        if (r->status == 200 && d == s && d == last)
            return d;
        last = d == s ? d : -2;
        sleep_ms(20);
    }
    return -1;
}

/* Poll GET /api/v1/checkpoint until its tree covers `size` (at most 30 s):
 * the note (malloc'd) and its parsed, verified body; 0 or -1. */
static int fetch_checkpoint(unsigned long long size, char **note, size_t *len, annal_checkpoint *c)
{
    double end = mono() + 30;
    while (mono() < end) {
        hres *r = GET("/api/v1/checkpoint", tok[0][1]);
        if (r->status == 200) {
            char err[256];
            if (annal_checkpoint_open(r->body, r->len, &verifier, 1, c, err, sizeof(err)) != 0) {
                fprintf(stderr, "the served checkpoint does not verify: %s\n%s", err, r->body);
                return -1;
            }
            if (c->size >= size) {
                *note = malloc(r->len + 1);
                memcpy(*note, r->body, r->len + 1);
                *len = r->len;
                return annal_checkpoint_open(*note, *len, &verifier, 1, c, err, sizeof(err)) ? -1 : 0;
            }
        } else if (r->status != 404) {
            fprintf(stderr, "GET /api/v1/checkpoint: %d %s\n", r->status, r->body);
            return -1;
        }
        sleep_ms(20);
    }
    return -1;
}

/* ================================================================ tests */

static void before_the_first_event_there_is_no_checkpoint(void)
{
    hres *r = GET("/api/v1/checkpoint", tok[0][1]);
    CHECKF(r->status == 404 && strstr(detail(r), "--key"), "%d %s", r->status, r->body);
    r = GET("/api/v1/events/1?proof=1", tok[0][1]);
    CHECKF(r->status == 404, "%d %s", r->status, r->body);
    r = GET("/api/v1/export?run_id=run-acme-1", tok[0][2]);
    CHECKF(r->status == 404, "%d %s", r->status, r->body);
}

static void the_story_is_ingested_and_checkpoints_cover_it(void)
{
    for (int ti = 0; ti < 2; ti++) {
        char *body = story(tenants[ti]);
        hres *r = rq("POST", "/api/v1/events", tok[ti][0], body);
        free(body);
        CHECKF(r->status == 201, "%s: %d %s", tenants[ti], r->status, r->body);
        json_t *res = json_object_get(r->json, "results");
        CHECK(json_array_size(res) == 5);
        seq_run[ti] = (unsigned long long)json_integer_value(json_object_get(json_array_get(res, 0), "seq"));
        /* interleaved filler: acme, globex, acme, ... */
        for (int i = 0; i < 24; i++) {
            int t = i % 2;
            char *f = filler(tenants[t], 100 * ti + i);
            r = rq("POST", "/api/v1/events", tok[t][0], f);
            free(f);
            CHECKF(r->status == 201, "%d %s", r->status, r->body);
        }
        long long settled = settle();
        CHECK(settled > 0);
        story_last[ti] = (unsigned long long)settled;
        /* the server signs one within its interval (100 ms) */
        CHECK(fetch_checkpoint(story_last[ti], &cp_note[ti], &cp_len[ti], &cp[ti]) == 0);
    }
    CHECKF(cp[0].size < cp[1].size, "%llu %llu", (unsigned long long)cp[0].size, (unsigned long long)cp[1].size);
    ready = 1;
}

static void the_checkpoint_is_a_signed_note_in_text_plain(void)
{
    CHECK(ready);
    hres *r = GET("/api/v1/checkpoint", tok[1][1]);
    CHECKF(r->status == 200 && !strncmp(r->ctype, "text/plain", 10), "%d %s", r->status, r->ctype);
    annal_checkpoint c;
    char err[256];
    CHECKF(annal_checkpoint_open(r->body, r->len, &verifier, 1, &c, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.size >= cp[1].size && !strcmp(c.origin, "test.example/annal"));
    /* the same note for every tenant and role that may read it */
    hres *a = GET("/api/v1/checkpoint", tok[0][2]);
    CHECK(a->status == 200 && a->len == r->len && !memcmp(a->body, r->body, r->len));
    /* one byte of it changed no longer verifies */
    char *bad = strndup(r->body, r->len);
    bad[r->len / 2] ^= 1;
    CHECK(annal_checkpoint_open(bad, r->len, &verifier, 1, &c, err, sizeof(err)) != 0);
    free(bad);
    /* what the store saved is what was served */
    char name[ANNAL_CHECKPOINT_NAME_LEN + 1], path[8192];
    annal_checkpoint_name(cp[0].size, name);
    snprintf(path, sizeof(path), "%s/" ANNAL_CHECKPOINT_DIR "/%s", data_dir, name);
    size_t n;
    char *saved = slurp(path, &n);
    CHECKF(saved && n == cp_len[0] && !memcmp(saved, cp_note[0], n), "%s", path);
    free(saved);
}

/* The record with this seq, as GET /api/v1/events/{seq} serves it (exactly
 * as stored), and its leaf hash. */
static hres *record(int ti, unsigned long long seq, unsigned char leaf[32])
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/events/%llu", seq);
    hres *r = GET(path, tok[ti][1]);
    if (r->status == 200)
        annal_leaf_hash(r->body, r->len, leaf);
    return r;
}

static void an_inclusion_proof_verifies_against_the_signed_root(void)
{
    CHECK(ready);
    int checked = 0;
    for (int ti = 0; ti < 2; ti++) {
        unsigned long long seqs[] = {seq_run[ti], seq_run[ti] + 2, seq_run[ti] + 4};
        for (size_t k = 0; k < 3; k++) {
            unsigned char leaf[32], got[32], root[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
            hres *rec = record(ti, seqs[k], leaf);
            CHECKF(rec->status == 200, "%d %s", rec->status, rec->body);
            /* without tree_size: the latest checkpoint's tree */
            char path[160];
            snprintf(path, sizeof(path), "/api/v1/proofs/inclusion?seq=%llu", seqs[k]);
            hres *r = GET(path, tok[ti][1]);
            CHECKF(r->status == 200 && !strcmp(r->ctype, "application/json"), "%s: %d %s", path, r->status,
                   r->body);
            CHECK(jint(r, "seq") == (long long)seqs[k] && jint(r, "leaf_index") == (long long)seqs[k] - 1);
            unsigned long long size = (unsigned long long)jint(r, "tree_size");
            CHECKF(size >= cp[1].size, "tree_size %llu", size);
            CHECK(unhex32(jstr(r, "leaf_hash"), got) == 0 && !memcmp(got, leaf, 32));
            CHECK(unhex32(jstr(r, "root"), root) == 0);
            long n = unhex_proof(json_object_get(r->json, "proof"), proof);
            CHECK(n > 0);
            CHECK(annal_merkle_verify_inclusion(seqs[k] - 1, size, leaf, (const unsigned char(*)[32])proof,
                                                (size_t)n, root) == 0);
            /* at the sizes of the signed checkpoints: against their signed roots */
            for (int c = 0; c < 2; c++) {
                if (seqs[k] > cp[c].size)
                    continue;
                snprintf(path, sizeof(path), "/api/v1/proofs/inclusion?seq=%llu&tree_size=%llu", seqs[k],
                         (unsigned long long)cp[c].size);
                r = GET(path, tok[ti][2]);
                CHECKF(r->status == 200, "%s: %d %s", path, r->status, r->body);
                CHECK(unhex32(jstr(r, "root"), root) == 0 && !memcmp(root, cp[c].root, 32));
                n = unhex_proof(json_object_get(r->json, "proof"), proof);
                CHECK(n > 0);
                CHECK(annal_merkle_verify_inclusion(seqs[k] - 1, cp[c].size, leaf, (const unsigned char(*)[32])proof,
                                                    (size_t)n, cp[c].root) == 0);
                /* one proof byte changed: it fails */
                proof[n - 1][7] ^= 0x40;
                CHECK(annal_merkle_verify_inclusion(seqs[k] - 1, cp[c].size, leaf, (const unsigned char(*)[32])proof,
                                                    (size_t)n, cp[c].root) != 0);
                checked++;
            }
        }
    }
    CHECK(checked >= 6);
}

static void inclusion_proof_errors(void)
{
    CHECK(ready);
    char path[160];
    /* another tenant's seq: 404, like a missing one, and nothing of it */
    snprintf(path, sizeof(path), "/api/v1/proofs/inclusion?seq=%llu", seq_run[1]);
    hres *r = GET(path, tok[0][1]);
    CHECKF(r->status == 404 && !strstr(r->body, "globex"), "%d %s", r->status, r->body);
    /* a seq beyond the log: 404 too (the tenant has no such event) */
    r = GET("/api/v1/proofs/inclusion?seq=999999", tok[0][1]);
    CHECKF(r->status == 404, "%d %s", r->status, r->body);
    /* a seq beyond tree_size: 400 */
    snprintf(path, sizeof(path), "/api/v1/proofs/inclusion?seq=%llu&tree_size=%llu", seq_run[0] + 2, seq_run[0] + 1);
    r = GET(path, tok[0][1]);
    CHECKF(r->status == 400 && strstr(detail(r), "not in a tree of size"), "%d %s", r->status, r->body);
    /* tree_size beyond the log: 400 */
    snprintf(path, sizeof(path), "/api/v1/proofs/inclusion?seq=%llu&tree_size=999999", seq_run[0]);
    r = GET(path, tok[0][1]);
    CHECKF(r->status == 400 && strstr(detail(r), "beyond the log"), "%d %s", r->status, r->body);
    /* malformed */
    const char *bad[] = {"/api/v1/proofs/inclusion", "/api/v1/proofs/inclusion?seq=0",
                         "/api/v1/proofs/inclusion?seq=abc", "/api/v1/proofs/inclusion?seq=1&tree_size=-1",
                         "/api/v1/proofs/inclusion?seq=99999999999999999999999", "/api/v1/proofs/inclusion?seq=1&x=1",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        r = GET(bad[i], tok[0][1]);
        CHECKF(r->status == 400, "%s: %d %s", bad[i], r->status, r->body);
    }
}

static void a_consistency_proof_links_the_two_signed_checkpoints(void)
{
    CHECK(ready);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/proofs/consistency?from_size=%llu&to_size=%llu",
             (unsigned long long)cp[0].size, (unsigned long long)cp[1].size);
    hres *r = GET(path, tok[1][1]);
    CHECKF(r->status == 200 && !strcmp(r->ctype, "application/json"), "%d %s", r->status, r->body);
    CHECK(jint(r, "from_size") == (long long)cp[0].size && jint(r, "to_size") == (long long)cp[1].size);
    unsigned char r1[32], r2[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
    CHECK(unhex32(jstr(r, "from_root"), r1) == 0 && !memcmp(r1, cp[0].root, 32));
    CHECK(unhex32(jstr(r, "to_root"), r2) == 0 && !memcmp(r2, cp[1].root, 32));
    long n = unhex_proof(json_object_get(r->json, "proof"), proof);
    CHECK(n > 0);
    CHECK(annal_merkle_verify_consistency(cp[0].size, cp[1].size, cp[0].root, cp[1].root,
                                          (const unsigned char(*)[32])proof, (size_t)n) == 0);
    proof[0][0] ^= 1;
    CHECK(annal_merkle_verify_consistency(cp[0].size, cp[1].size, cp[0].root, cp[1].root,
                                          (const unsigned char(*)[32])proof, (size_t)n) != 0);
    /* every smaller size to the second checkpoint, without to_size (the
     * latest checkpoint's tree) and with it */
    for (unsigned long long a = 1; a <= cp[1].size; a += 3) {
        snprintf(path, sizeof(path), "/api/v1/proofs/consistency?from_size=%llu&to_size=%llu", a,
                 (unsigned long long)cp[1].size);
        r = GET(path, tok[0][2]);
        CHECKF(r->status == 200, "%s: %d %s", path, r->status, r->body);
        CHECK(unhex32(jstr(r, "from_root"), r1) == 0);
        n = unhex_proof(json_object_get(r->json, "proof"), proof);
        CHECK(n >= 0);
        CHECKF(annal_merkle_verify_consistency(a, cp[1].size, r1, cp[1].root, (const unsigned char(*)[32])proof,
                                               (size_t)n) == 0, "from %llu", a);
    }
    snprintf(path, sizeof(path), "/api/v1/proofs/consistency?from_size=%llu", (unsigned long long)cp[0].size);
    r = GET(path, tok[0][1]);
    CHECKF(r->status == 200 && jint(r, "to_size") >= (long long)cp[1].size, "%d %s", r->status, r->body);
    /* errors: from > to, from 0, to beyond the log, none */
    const char *bad[] = {"/api/v1/proofs/consistency?from_size=5&to_size=4", "/api/v1/proofs/consistency?from_size=0",
                         "/api/v1/proofs/consistency?from_size=1&to_size=999999", "/api/v1/proofs/consistency",
                         "/api/v1/proofs/consistency?to_size=3", NULL};
    for (int i = 0; bad[i]; i++) {
        r = GET(bad[i], tok[0][1]);
        CHECKF(r->status == 400, "%s: %d %s", bad[i], r->status, r->body);
    }
}

static void an_event_with_its_proof_verifies(void)
{
    CHECK(ready);
    for (int ti = 0; ti < 2; ti++) {
        unsigned char leaf[32], got[32], proof[ANNAL_MERKLE_MAX_PROOF][32];
        hres *rec = record(ti, seq_run[ti], leaf);
        CHECK(rec->status == 200);
        char *want = strndup(rec->body, rec->len);
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/events/%llu?proof=1", seq_run[ti]);
        hres *r = GET(path, tok[ti][2]);
        CHECKF(r->status == 200 && !strcmp(r->ctype, "application/json"), "%d %s", r->status, r->body);
        /* the record embedded exactly as stored */
        CHECKF(!strncmp(r->body, "{\"event\":", 9) && !strncmp(r->body + 9, want, strlen(want)), "%.300s", r->body);
        free(want);
        CHECK(unhex32(jstr(r, "leaf_hash"), got) == 0 && !memcmp(got, leaf, 32));
        CHECK(jint(r, "leaf_index") == (long long)seq_run[ti] - 1);
        const char *note = jstr(r, "checkpoint");
        annal_checkpoint c;
        char err[256];
        CHECKF(note && annal_checkpoint_open(note, strlen(note), &verifier, 1, &c, err, sizeof(err)) == 0, "%s", err);
        CHECK(jint(r, "tree_size") == (long long)c.size && c.size >= cp[1].size);
        long n = unhex_proof(json_object_get(r->json, "proof"), proof);
        CHECK(n > 0);
        CHECK(annal_merkle_verify_inclusion(seq_run[ti] - 1, c.size, leaf, (const unsigned char(*)[32])proof,
                                            (size_t)n, c.root) == 0);
        CHECK(!strstr(r->body, tenants[1 - ti]));
        /* the other tenant's event: 404 */
        snprintf(path, sizeof(path), "/api/v1/events/%llu?proof=1", seq_run[1 - ti]);
        r = GET(path, tok[ti][2]);
        CHECKF(r->status == 404 && !strstr(r->body, tenants[1 - ti]), "%d %s", r->status, r->body);
    }
    hres *r = GET("/api/v1/events/1?proof=yes", tok[0][1]);
    CHECK(r->status == 400);
}

/* GET /export as tenant ti's audit token, saved to file; returns the response. */
static hres *export_to(int ti, const char *query, const char *file)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/export?%s", query);
    hres *r = GET(path, tok[ti][2]);
    if (r->status == 200 && file && spit(file, r->body, r->len))
        r->status = -1;
    return r;
}

static void an_exported_bundle_verifies_offline_and_holds_one_tenant(void)
{
    CHECK(ready);
    struct {
        const char *q;  /* {T}: the tenant */
        size_t n;       /* events of the tenant in it */
    } sels[] = {
        {"run_id=run-{T}-1", 4},
        {"incident_id=inc-{T}-1", 1},
        {"correlation_id=corr-{T}-1", 3},
        {"from=2026-10-01T10:00:00Z&to=2026-10-01T10:05:00Z", 4},
        {"from=2026-10-01T10:00:00Z", 5 + 24},
        {"to=2026-10-01T11:00:00Z", 5},
        {"correlation_id=corr-{T}-f", 24},
    };
    for (int ti = 0; ti < 2; ti++) {
        for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
            char q[256];
            const char *t = tenants[ti];
            const char *p = strstr(sels[i].q, "{T}");
            if (p)
                snprintf(q, sizeof(q), "%.*s%s%s", (int)(p - sels[i].q), sels[i].q, t, p + 3);
            else
                snprintf(q, sizeof(q), "%s", sels[i].q);
            char *file = path_in("bundle.json");
            hres *r = export_to(ti, q, file);
            CHECKF(r->status == 200 && !strcmp(r->ctype, "application/json"), "%s %s: %d %s", t, q, r->status,
                   r->body);
            json_t *ev = json_object_get(r->json, "events");
            CHECKF(json_array_size(ev) == sels[i].n, "%s %s: %zu events", t, q, json_array_size(ev));
            CHECK(jstr(r, "tenant_id") && !strcmp(jstr(r, "tenant_id"), t));
            CHECK(!strcmp(jstr(r, "format"), ANNAL_BUNDLE_FORMAT) && !strcmp(jstr(r, "key_name"), verifier.name));
            /* nothing of the other tenant: not its id, not its markers */
            char secret[64];
            snprintf(secret, sizeof(secret), "secret-%s", tenants[1 - ti]);
            CHECKF(!strstr(r->body, tenants[1 - ti]) && !strstr(r->body, secret), "%s's bundle mentions %s", t,
                   tenants[1 - ti]);
            snprintf(secret, sizeof(secret), "secret-%s", t);
            CHECK(strstr(r->body, secret));
            /* annal verify-bundle, offline, with the verifier key alone */
            char *out, want[128];
            int st = tu_run(&out, "%s verify-bundle %s --key '%s' 2>&1", tu_annal(), file, vkey);
            snprintf(want, sizeof(want), "ok: %zu event%s of tenant %s verified", sels[i].n, sels[i].n == 1 ? "" : "s",
                     t);
            CHECKF(st == 0 && strstr(out, want), "%s %s: verify-bundle %d: %s", t, q, st, out);
            free(out);
        }
    }
    /* the bundle of run-acme-1 is kept for the comparison with annal export */
    hres *r = export_to(0, "run_id=run-acme-1", path_in("http-bundle.json"));
    CHECK(r->status == 200);
    const char *note = jstr(r, "checkpoint");
    CHECK(note && spit(path_in("http-bundle.note"), note, strlen(note)) == 0);
}

static void export_errors(void)
{
    CHECK(ready);
    struct {
        const char *q;
        int status;
        const char *detail;
    } v[] = {
        {"", 400, "say which events"},
        {"run_id=run-acme-1&incident_id=inc-acme-1", 400, "exactly one selection"},
        {"run_id=run-acme-1&from=2026-10-01T00:00:00Z", 400, "exactly one selection"},
        {"from=yesterday", 400, "RFC 3339"},
        {"to=2026-13-01T00:00:00Z", 400, "RFC 3339"},
        {"from=2026-10-02T00:00:00Z&to=2026-10-01T00:00:00Z", 400, "after to"},
        {"run_id=bad%2Cid", 400, "run_id must be"},
        {"correlation_id=", 400, "correlation_id must be"},
        {"run_id=run-acme-1&tenant_id=globex", 400, "unknown query parameter"},
        {"run_id=no-such-run", 404, "no events"},
        {"run_id=run-globex-1", 404, "no events"}, /* another tenant's run: like a missing one */
        {"from=2027-01-01T00:00:00Z", 404, "no events"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        hres *r = export_to(0, v[i].q, NULL);
        CHECKF(r->status == v[i].status && strstr(detail(r), v[i].detail), "%s: %d %s", v[i].q, r->status, r->body);
        CHECK(!strstr(r->body, "secret-globex"));
    }
}

static void roles_on_the_integrity_routes(void)
{
    CHECK(ready);
    char ev[128], inc[128];
    snprintf(ev, sizeof(ev), "/api/v1/events/%llu?proof=1", seq_run[0]);
    snprintf(inc, sizeof(inc), "/api/v1/proofs/inclusion?seq=%llu", seq_run[0]);
    struct {
        const char *path;
        int audit_only; /* export: audit and admin, not read */
    } routes[] = {
        {"/api/v1/checkpoint", 0}, {inc, 0}, {"/api/v1/proofs/consistency?from_size=3", 0}, {ev, 0},
        {"/api/v1/export?run_id=run-acme-1", 1},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        hres *r = GET(routes[i].path, NULL);
        CHECKF(r->status == 401, "%s without a token: %d", routes[i].path, r->status);
        r = GET(routes[i].path, "annal_0000000000000000000000000000000000000000000000000000000000000000");
        CHECKF(r->status == 401, "%s with a bad token: %d", routes[i].path, r->status);
        for (int ri = 0; ri < 4; ri++) {
            int allowed = ri == 2 || ri == 3 || (ri == 1 && !routes[i].audit_only);
            r = GET(routes[i].path, tok[0][ri]);
            if (allowed)
                CHECKF(r->status == 200, "%s as %s: %d %s", routes[i].path, role_names[ri], r->status, r->body);
            else
                CHECKF(r->status == 403 && strstr(detail(r), role_names[ri]), "%s as %s: %d %s", routes[i].path,
                       role_names[ri], r->status, r->body);
        }
    }
    /* a wrong method */
    hres *r = rq("POST", "/api/v1/export?run_id=run-acme-1", tok[0][3], "{}");
    CHECK(r->status == 405);
}

static void the_server_stops_and_the_log_extends_every_checkpoint(void)
{
    CHECK(ready);
    int st = srv_stop(&S);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d; log: %s", st, S.log);
    for (int c = 0; c < 2; c++) {
        char *f = path_in(c ? "cp2.note" : "cp1.note"), *out;
        CHECK(spit(f, cp_note[c], cp_len[c]) == 0);
        int vs = tu_run(&out, "%s verify --data %s --against %s --key '%s' 2>&1", tu_annal(), data_dir, f, vkey);
        CHECKF(vs == 0, "verify --against %s: %d %s", f, vs, out);
        free(out);
    }
    char *out;
    int vs = tu_run(&out, "%s verify --data %s --against %s --key '%s' 2>&1", tu_annal(), data_dir,
                    path_in("http-bundle.note"), vkey);
    CHECKF(vs == 0, "verify --against the bundle's checkpoint: %d %s", vs, out);
    free(out);
}

static void the_http_bundle_is_what_annal_export_writes(void)
{
    CHECK(ready && S.pid == 0);
    char *out;
    int st = tu_run(&out, "%s export --data %s --tenant acme --run run-acme-1 --checkpoint %s -o %s 2>&1", tu_annal(),
                    data_dir, path_in("http-bundle.note"), path_in("cli-bundle.json"));
    CHECKF(st == 0 && strstr(out, "exported 4 events of tenant acme"), "%d %s", st, out);
    free(out);
    size_t a, b;
    char *h = slurp(path_in("http-bundle.json"), &a), *c = slurp(path_in("cli-bundle.json"), &b);
    CHECK(h && c);
    int same = a == b && !memcmp(h, c, a);
    free(h);
    free(c);
    CHECK(same);
}

static void the_bundle_library_limits_and_codes(void)
{
    CHECK(ready && S.pid == 0);
    annal_index *ix;
    char err[512];
    CHECKF(annal_index_open(data_dir, NULL, &ix, err, sizeof(err)) == 0, "%s", err);
    annal_bundle_selection sel = {.kind = ANNAL_BUNDLE_CORRELATION, .id = "corr-acme-f"};
    annal_bundle_info info;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    /* more than max_events: refused, nothing written */
    int rc = annal_bundle_write(f, ix, data_dir, "acme", &sel, NULL, 0, 23, &info, err, sizeof(err));
    fflush(f);
    int ok = rc == ANNAL_BUNDLE_ETOOMANY && len == 0 && info.events > 23 && strstr(err, "more than 23");
    /* exactly max_events: written */
    if (ok)
        rc = annal_bundle_write(f, ix, data_dir, "acme", &sel, NULL, 0, 24, &info, err, sizeof(err));
    ok = ok && rc == 0 && info.events == 24 && info.latest && info.tree_size >= cp[1].size && len > 0;
    /* nothing selected; another tenant's id; an uncovering checkpoint; a bad one */
    annal_bundle_selection none = {.kind = ANNAL_BUNDLE_RUN, .id = "run-globex-1"};
    int rc_none = annal_bundle_write(f, ix, data_dir, "acme", &none, NULL, 0, 0, &info, err, sizeof(err));
    annal_bundle_selection late = {.kind = ANNAL_BUNDLE_CORRELATION, .id = "corr-globex-f"};
    int rc_unc = annal_bundle_write(f, ix, data_dir, "globex", &late, cp_note[0], cp_len[0], 0, &info, err,
                                    sizeof(err));
    int unc_ok = info.tree_size == cp[0].size && info.last_seq > cp[0].size && !info.latest;
    int rc_bad = annal_bundle_write(f, ix, data_dir, "acme", &sel, "x\n", 2, 0, &info, err, sizeof(err));
    annal_bundle_selection inval = {.kind = ANNAL_BUNDLE_TIME, .has_to = 1, .to_ns = 0};
    int rc_inval = annal_bundle_write(f, ix, data_dir, "acme", &inval, NULL, 0, 0, &info, err, sizeof(err));
    annal_index_close(ix);
    fclose(f);
    free(buf);
    CHECKF(ok, "rc %d events %zu: %s", rc, info.events, err);
    CHECK(rc_none == ANNAL_BUNDLE_ENOEVENTS);
    CHECK(rc_unc == ANNAL_BUNDLE_EUNCOVERED && unc_ok);
    CHECK(rc_bad == ANNAL_BUNDLE_EBADNOTE);
    CHECK(rc_inval == ANNAL_EINVAL);
    CHECK(strcmp(annal_bundle_strerror(ANNAL_BUNDLE_EFOREIGN), annal_bundle_strerror(ANNAL_BUNDLE_EUNCOVERED)));
}

static void export_is_409_until_a_checkpoint_covers_the_selection(void)
{
    CHECK(ready && S.pid == 0);
    /* restarted with a day's interval: it signs at start, then not again
     * for a day, so an event posted now stays uncovered */
    const char *args[] = {"--key", key_file, "--checkpoint-interval", "86400000", "--threads", "2", NULL};
    CHECK(srv_start(&S, data_dir, args) == 0);
    char *ev = NULL;
    CHECK(asprintf(&ev, "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"event_id\":\"late-1\","
                        "\"occurred_at\":\"2026-10-03T00:00:00Z\",\"run_id\":\"run-acme-late\"}\n") > 0);
    hres *r = rq("POST", "/api/v1/events", tok[0][0], ev);
    free(ev);
    CHECKF(r->status == 201, "%d %s", r->status, r->body);
    long long seq = json_integer_value(json_object_get(json_array_get(json_object_get(r->json, "results"), 0), "seq"));
    CHECK(seq > 0);
    r = export_to(0, "run_id=run-acme-late", NULL);
    CHECKF(r->status == 409 && strstr(detail(r), "--key") && strstr(detail(r), "interval"), "%d %s", r->status,
           r->body);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/events/%lld?proof=1", seq);
    r = GET(path, tok[0][2]);
    CHECKF(r->status == 409, "%d %s", r->status, r->body);
    /* what the checkpoint covers still exports */
    r = export_to(0, "run_id=run-acme-1", NULL);
    CHECK(r->status == 200);
    int st = srv_stop(&S);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the checkpoint signed at the stop covers it */
    char *out;
    st = tu_run(&out, "%s export --data %s --tenant acme --run run-acme-late -o %s 2>&1", tu_annal(), data_dir,
                path_in("late.json"));
    CHECKF(st == 0, "%d %s", st, out);
    free(out);
}

static void without_key_there_is_no_checkpoint_and_export_is_409(void)
{
    char d2[4200];
    snprintf(d2, sizeof(d2), "%s/nokey", dir);
    CHECK(mkdir(d2, 0700) == 0);
    char ti[TOKEN_LEN + 1], ta[TOKEN_LEN + 1];
    CHECK(token_add(d2, "acme", "ingest", ti) == 0 && token_add(d2, "acme", "audit", ta) == 0);
    const char *args[] = {"--threads", "2", NULL};
    CHECK(srv_start(&S, d2, args) == 0);
    hres *r = rq("POST", "/api/v1/events", ti,
                 "{\"tenant_id\":\"acme\",\"event_type\":\"RunStarted\",\"run_id\":\"run-1\"}\n");
    CHECKF(r->status == 201, "%d %s", r->status, r->body);
    r = GET("/api/v1/checkpoint", ta);
    CHECKF(r->status == 404 && strstr(detail(r), "--key"), "%d %s", r->status, r->body);
    r = GET("/api/v1/export?run_id=run-1", ta);
    CHECKF(r->status == 409 && strstr(detail(r), "--key") && strstr(detail(r), "no checkpoint"), "%d %s", r->status,
           r->body);
    int st = srv_stop(&S);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void every_error_is_problem_json(void)
{
    CHECK(nproblem_bad == 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    dir = tu_tmpdir("httpproofs");
    snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
    snprintf(key_file, sizeof(key_file), "%s/annal.key", dir);
    mkdir(data_dir, 0700);
    char *out = NULL;
    int st = tu_run(&out, "%s keygen --origin test.example/annal --out %s 2>/dev/null", tu_annal(), key_file);
    size_t vl = out ? strcspn(out, "\n") : 0;
    char err[256];
    if (st != 0 || vl == 0 || vl >= sizeof(vkey) || (memcpy(vkey, out, vl), vkey[vl] = 0,
                                                     annal_note_verifier_parse(vkey, vl, &verifier, err, sizeof(err)))) {
        fprintf(stderr, "annal keygen failed (%d): %s\n", st, out ? out : "");
        free(out);
        tu_rmtree(dir);
        return 2;
    }
    free(out);
    for (int ti = 0; ti < 2; ti++)
        for (int ri = 0; ri < 4; ri++)
            if (token_add(data_dir, tenants[ti], role_names[ri], tok[ti][ri])) {
                tu_rmtree(dir);
                return 2;
            }
    const char *args[] = {"--key", key_file, "--checkpoint-interval", "100", "--threads", "4", NULL};
    if (srv_start(&S, data_dir, args)) {
        tu_rmtree(dir);
        return 2;
    }
    T_RUN(before_the_first_event_there_is_no_checkpoint);
    T_RUN(the_story_is_ingested_and_checkpoints_cover_it);
    T_RUN(the_checkpoint_is_a_signed_note_in_text_plain);
    T_RUN(an_inclusion_proof_verifies_against_the_signed_root);
    T_RUN(inclusion_proof_errors);
    T_RUN(a_consistency_proof_links_the_two_signed_checkpoints);
    T_RUN(an_event_with_its_proof_verifies);
    T_RUN(an_exported_bundle_verifies_offline_and_holds_one_tenant);
    T_RUN(export_errors);
    T_RUN(roles_on_the_integrity_routes);
    T_RUN(the_server_stops_and_the_log_extends_every_checkpoint);
    T_RUN(the_http_bundle_is_what_annal_export_writes);
    T_RUN(the_bundle_library_limits_and_codes);
    T_RUN(export_is_409_until_a_checkpoint_covers_the_selection);
    T_RUN(without_key_there_is_no_checkpoint_and_export_is_409);
    T_RUN(every_error_is_problem_json);
    if (S.pid > 0)
        srv_stop(&S);
    if (t_failed && S.log)
        fprintf(stderr, "server log:\n%s", S.log);
    free(S.log);
    for (int c = 0; c < 2; c++)
        free(cp_note[c]);
    for (int i = 0; i < NSLOTS; i++)
        slot();
    tu_rmtree(dir);
    free(dir);
    return t_done();
}
