/*
 * bench_http.c - the HTTP API under load: a real `annal serve` on loopback
 * driven by a C client (one thread and one keep-alive connection per
 * simulated client, blocking sockets, HTTP/1.1 with Content-Length).
 *
 *  (b) NDJSON batches of 1000 events: the events of annal_gen_write (seed 42,
 *      BENCH_EVENTS events, default 1000000, 20 tenants), each batch one
 *      tenant's (with that tenant's token), over BENCH_HTTP_BATCH_CONNS
 *      connections (default 8): events/s, and the batches' p50/p99. This
 *      fills the store that (c) reads.
 *  (a) single-event POSTs (application/json) of annal_gen_write (seed 43,
 *      BENCH_HTTP_SINGLE events, default 100000) at 64 connections:
 *      events/s, p50/p99 latency.
 *  (c) GET /api/v1/runs/{id}/timeline of runs drawn with a fixed seed from
 *      the store (its RunStarted events), at 32 connections for
 *      BENCH_HTTP_SECONDS seconds (default 5), after the index has settled:
 *      req/s, p50/p99. While that route is not there (404 "no such
 *      resource"), GET /api/v1/events/{seq} of seqs drawn from (b)'s answers.
 *
 * The server: by default started here (ANNAL_BIN, default build/annal; a
 * fresh directory under $TMPDIR, removed at the end; one admin token per
 * tenant; --threads BENCH_HTTP_THREADS if set), stopped with SIGTERM. Or an
 * existing one: ANNAL_BENCH_URL=http://HOST:PORT with ANNAL_BENCH_TOKEN, an
 * admin token of tenant ANNAL_BENCH_TENANT: every event's tenant_id is then
 * rewritten to that tenant (the events are appended to that store).
 * Latency: from the first byte sent to the last byte of the answer. The
 * client runs on the same machine as the server and shares its CPUs.
 * Prints figures; asserts nothing (exit 2 only if the server cannot be
 * started or reached, or answers the ingest with errors).
 * Usage: bench_http (environment variables only)
 */
#include "api/auth.h"
#include "store/error.h"
#include "tools/gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
#define SINGLE_CONNS 64
#define READ_CONNS 32
#define MAX_TENANTS 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---------------------------------------------------------------- the server */

static struct sockaddr_in srv_addr;
static pid_t srv_pid;
static int srv_err = -1;
static char *work_dir;
static char srv_log0[4096]; /* what the server wrote until its start line */

static void stop_server(void)
{
    if (srv_pid <= 0)
        return;
    kill(srv_pid, SIGTERM);
    int st;
    waitpid(srv_pid, &st, 0);
    srv_pid = 0;
    /* the server's log lines: start, stop (and anything it complained of) */
    fputs(srv_log0, stdout);
    char b[4096];
    ssize_t n;
    fcntl(srv_err, F_SETFL, 0);
    while ((n = read(srv_err, b, sizeof(b))) > 0)
        fwrite(b, 1, (size_t)n, stdout);
    close(srv_err);
    srv_err = -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    stop_server();
    if (work_dir) {
        nftw(work_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(work_dir);
        work_dir = NULL;
    }
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_http: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();
    exit(2);
}

/* Start `annal serve` on port 0 and read its port from the start line. */
static void start_server(const char *bin, const char *dir, const char *threads)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        die("pipe: %s", strerror(errno));
    const char *argv[] = {"annal", "serve", "--data", dir, "--listen", "127.0.0.1:0",
                          threads ? "--threads" : NULL, threads, NULL};
    srv_pid = fork();
    if (srv_pid < 0)
        die("fork: %s", strerror(errno));
    if (srv_pid == 0) {
        dup2(p[1], 2);
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    srv_err = p[0];
    char log[4096] = "";
    size_t n = 0;
    double end = now() + 60;
    const char *l;
    while (!(l = strstr(log, "(port "))) {
        struct pollfd pfd = {srv_err, POLLIN, 0};
        if (now() > end || poll(&pfd, 1, 1000) < 0)
            die("annal serve did not start");
        if (!(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t r = read(srv_err, log + n, sizeof(log) - 1 - n);
        if (r <= 0)
            die("annal serve exited: %.*s", (int)n, log);
        n += (size_t)r;
        log[n] = 0;
    }
    srv_addr.sin_family = AF_INET;
    srv_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv_addr.sin_port = htons((uint16_t)atoi(l + 6));
    snprintf(srv_log0, sizeof(srv_log0), "%s", log);
}

/* ---------------------------------------------------------------- the client */

typedef struct conn {
    int fd;
    char *buf;
    size_t n, cap, used; /* buf[0..used) is the last answer, dropped at the next request */
    const char *body;
    size_t blen;
} conn;

static int conn_open(conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {60, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (struct sockaddr *)&srv_addr, sizeof(srv_addr))) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->n = c->used = 0;
    return 0;
}

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->n = c->cap = c->used = 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fill(conn *c)
{
    if (c->cap - c->n < 16384) {
        size_t nc = c->cap ? c->cap * 2 : 65536;
        char *nb = realloc(c->buf, nc + 1);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = nc;
    }
    ssize_t r;
    do
        r = recv(c->fd, c->buf + c->n, c->cap - c->n, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    c->n += (size_t)r;
    c->buf[c->n] = 0;
    return 0;
}

/* One request on c: head (request line and headers, ending in the empty
 * line), then body. Returns the status (c->body, c->blen: the answer's
 * body), or -1 when the connection failed (it is then closed). */
static int request_once(conn *c, const char *head, size_t hn, const char *body, size_t bn)
{
    if (c->fd < 0 && conn_open(c))
        return -1;
    if (c->used) { /* drop the previous answer */
        memmove(c->buf, c->buf + c->used, c->n - c->used);
        c->n -= c->used;
        c->used = 0;
    }
    if (send_all(c->fd, head, hn) || (bn && send_all(c->fd, body, bn)))
        goto fail;
    char *e;
    while (!c->buf || !(e = memmem(c->buf, c->n, "\r\n\r\n", 4)))
        if (fill(c))
            goto fail;
    size_t hl = (size_t)(e - c->buf) + 4;
    int st = atoi(c->buf + 9);
    const char *cl = memmem(c->buf, hl, "Content-Length:", 15);
    if (!cl)
        cl = memmem(c->buf, hl, "content-length:", 15);
    if (!cl || st < 100)
        goto fail;
    size_t blen = strtoul(cl + 15, NULL, 10);
    while (c->n < hl + blen)
        if (fill(c))
            goto fail;
    c->body = c->buf + hl;
    c->blen = blen;
    c->used = hl + blen;
    return st;
fail:
    conn_close(c);
    return -1;
}

/* As request_once, with one retry on a fresh connection (an idle
 * connection may have been closed by the server). */
static int request(conn *c, const char *head, size_t hn, const char *body, size_t bn)
{
    int st = request_once(c, head, hn, body, bn);
    return st >= 0 ? st : request_once(c, head, hn, body, bn);
}

static int post_head(char *out, size_t cap, const char *ctype, const char *token, size_t len)
{
    return snprintf(out, cap,
                    "POST /api/v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                    token, ctype, len);
}

static int get_head(char *out, size_t cap, const char *path, const char *token)
{
    return snprintf(out, cap, "GET %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n", path, token);
}

/* ---------------------------------------------------------------- latencies */

typedef struct lat {
    uint32_t *v; /* microseconds */
    size_t n, cap;
} lat;

static void lat_add(lat *l, double seconds)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            die("out of memory");
    }
    double us = seconds * 1e6;
    l->v[l->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Merge the threads' latencies and print p50 and p99 in ms. */
static void lat_print(lat *ls, int n, char *out, size_t cap)
{
    lat all = {0};
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < ls[i].n; k++)
            lat_add(&all, ls[i].v[k] / 1e6);
    if (!all.n) {
        snprintf(out, cap, "no answers");
        return;
    }
    qsort(all.v, all.n, sizeof(*all.v), cmp_u32);
    snprintf(out, cap, "p50 %.2f ms, p99 %.2f ms, max %.2f ms", all.v[all.n / 2] / 1e3,
             all.v[(all.n * 99) / 100] / 1e3, all.v[all.n - 1] / 1e3);
    free(all.v);
}

/* ---------------------------------------------------------------- the events */

typedef struct line {
    size_t off;
    uint32_t len;
    uint16_t tenant;
} line;

typedef struct input {
    char *buf;
    size_t len;
    line *lines;
    size_t n;
} input;

static char tenant_names[MAX_TENANTS][ANNAL_ID_MAX + 1];
static char tokens[MAX_TENANTS][ANNAL_TOKEN_LEN + 1];
static int ntenants;
static const char *fixed_tenant; /* an existing server: every event is this tenant's */

static int tenant_index(const char *p, size_t n)
{
    for (int i = 0; i < ntenants; i++)
        if (strlen(tenant_names[i]) == n && !memcmp(tenant_names[i], p, n))
            return i;
    if (ntenants == MAX_TENANTS || n > ANNAL_ID_MAX)
        die("too many tenants in the generated events");
    memcpy(tenant_names[ntenants], p, n);
    tenant_names[ntenants][n] = 0;
    return ntenants++;
}

#define TENANT_PREFIX "{\"tenant_id\":\""

static void gen_input(input *in, uint64_t seed, uint64_t events)
{
    memset(in, 0, sizeof(*in));
    FILE *f = open_memstream(&in->buf, &in->len);
    if (!f || annal_gen_write(f, seed, events, ANNAL_GEN_DEFAULT_TENANTS) != ANNAL_OK || fclose(f))
        die("annal_gen_write failed");
    in->lines = malloc((events + 1) * sizeof(*in->lines));
    if (!in->lines)
        die("out of memory");
    for (size_t off = 0; off < in->len;) {
        const char *nl = memchr(in->buf + off, '\n', in->len - off);
        size_t end = nl ? (size_t)(nl - in->buf) : in->len;
        const char *t = in->buf + off + strlen(TENANT_PREFIX), *q = memchr(t, '"', end - off);
        if (strncmp(in->buf + off, TENANT_PREFIX, strlen(TENANT_PREFIX)) || !q)
            die("unexpected generated line at byte %zu", off);
        in->lines[in->n++] = (line){off, (uint32_t)(end - off), (uint16_t)(fixed_tenant ? 0 : tenant_index(t, (size_t)(q - t)))};
        off = end + 1;
    }
}

/* Append line l to out (its tenant_id rewritten on an existing server). */
static size_t put_line(char *out, const input *in, const line *l)
{
    const char *p = in->buf + l->off;
    if (!fixed_tenant) {
        memcpy(out, p, l->len);
        return l->len;
    }
    size_t pl = strlen(TENANT_PREFIX), tl = strlen(fixed_tenant);
    const char *q = memchr(p + pl, '"', l->len - pl);
    memcpy(out, TENANT_PREFIX, pl);
    memcpy(out + pl, fixed_tenant, tl);
    size_t rest = l->len - (size_t)(q - p);
    memcpy(out + pl + tl, q, rest);
    return pl + tl + rest;
}

/* ---------------------------------------------------------------- (b) batches */

typedef struct batch {
    size_t *idx; /* lines of one tenant */
    size_t n;
    int tenant;
    uint64_t first_seq; /* from the answer: results[0].seq */
} batch;

static input in_b;
static batch *batches;
static size_t nbatches;
static atomic_size_t next_batch;
static atomic_ullong b_errors, b_appended;
static lat b_lat[64];

static void *batch_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    conn c = {.fd = -1};
    size_t cap = 4u << 20;
    char *body = malloc(cap), head[512];
    for (;;) {
        size_t k = atomic_fetch_add(&next_batch, 1);
        if (k >= nbatches)
            break;
        batch *b = &batches[k];
        size_t o = 0;
        for (size_t i = 0; i < b->n; i++) {
            const line *l = &in_b.lines[b->idx[i]];
            if (o + l->len + 256 > cap && !(body = realloc(body, cap *= 2)))
                die("out of memory");
            o += put_line(body + o, &in_b, l);
            body[o++] = '\n';
        }
        int hn = post_head(head, sizeof(head), "application/x-ndjson", tokens[b->tenant], o);
        double t0 = now();
        int st = request(&c, head, (size_t)hn, body, o);
        lat_add(&b_lat[t], now() - t0);
        if (st != 201 && st != 200) {
            if (atomic_fetch_add(&b_errors, 1) < 3)
                fprintf(stderr, "bench_http: batch answered %d: %.300s\n", st, st > 0 ? c.body : "");
            continue;
        }
        const char *a = memmem(c.body, c.blen, "\"appended\":", 11);
        if (a)
            atomic_fetch_add(&b_appended, strtoull(a + 11, NULL, 10));
        const char *r = memmem(c.body, c.blen, "\"results\":[{\"line\":1,\"seq\":", 27);
        if (r)
            b->first_seq = strtoull(r + 27, NULL, 10);
    }
    free(body);
    conn_close(&c);
    return NULL;
}

/* ---------------------------------------------------------------- (a) single events */

static input in_a;
static atomic_ullong a_errors;
static lat a_lat[SINGLE_CONNS];

static void *single_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    conn c = {.fd = -1};
    char *body = malloc(ANNAL_EVENT_MAX_DEFAULT + 512), head[512];
    for (size_t i = (size_t)t; i < in_a.n; i += SINGLE_CONNS) {
        const line *l = &in_a.lines[i];
        size_t o = put_line(body, &in_a, l);
        int hn = post_head(head, sizeof(head), "application/json", tokens[l->tenant], o);
        double t0 = now();
        int st = request(&c, head, (size_t)hn, body, o);
        lat_add(&a_lat[t], now() - t0);
        if (st != 201 && st != 200 && atomic_fetch_add(&a_errors, 1) < 3)
            fprintf(stderr, "bench_http: single event answered %d: %.300s\n", st, st > 0 ? c.body : "");
    }
    free(body);
    conn_close(&c);
    return NULL;
}

/* ---------------------------------------------------------------- (c) reads */

typedef struct target {
    char path[192];
    int tenant;
} target;

static target *targets;
static size_t ntargets;
static double c_end;
static atomic_ullong c_ok, c_other;
static lat c_lat[READ_CONNS];

static void *read_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    conn c = {.fd = -1};
    uint64_t rng = 0xc0ffee + (uint64_t)t;
    char head[512];
    while (now() < c_end) {
        const target *g = &targets[splitmix(&rng) % ntargets];
        int hn = get_head(head, sizeof(head), g->path, tokens[g->tenant]);
        double t0 = now();
        int st = request(&c, head, (size_t)hn, NULL, 0);
        lat_add(&c_lat[t], now() - t0);
        if (st == 200)
            atomic_fetch_add(&c_ok, 1);
        else if (atomic_fetch_add(&c_other, 1) < 3)
            fprintf(stderr, "bench_http: GET %s answered %d: %.300s\n", g->path, st, st > 0 ? c.body : "");
    }
    conn_close(&c);
    return NULL;
}

static void run_threads(void *(*fn)(void *), int n)
{
    pthread_t th[64];
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i))
            die("pthread_create failed");
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* /healthz: durable_seq and settled_seq. */
static int health(uint64_t *durable, uint64_t *settled)
{
    conn c = {.fd = -1};
    const char *h = "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    int st = request_once(&c, h, strlen(h), NULL, 0);
    const char *d = st == 200 ? memmem(c.body, c.blen, "\"durable_seq\":", 14) : NULL;
    const char *s = st == 200 ? memmem(c.body, c.blen, "\"settled_seq\":", 14) : NULL;
    if (d && s) {
        *durable = strtoull(d + 14, NULL, 10);
        *settled = strtoull(s + 14, NULL, 10);
    }
    conn_close(&c);
    return d && s ? 0 : -1;
}

static double settle(void)
{
    double t0 = now();
    uint64_t d = 0, s = 1, last = 0;
    for (;;) {
        if (health(&d, &s))
            die("/healthz does not answer");
        if (d == s && d == last)
            break;
        last = d == s ? d : 0;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    return now() - t0;
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    uint64_t nb = env_u64("BENCH_EVENTS", 1000000), na = env_u64("BENCH_HTTP_SINGLE", 100000);
    uint64_t secs = env_u64("BENCH_HTTP_SECONDS", 5);
    int bconns = (int)env_u64("BENCH_HTTP_BATCH_CONNS", 8);
    if (!nb || !na || !secs || bconns < 1 || bconns > 64)
        die("BENCH_EVENTS, BENCH_HTTP_SINGLE, BENCH_HTTP_SECONDS >= 1; BENCH_HTTP_BATCH_CONNS 1..64");
    const char *url = getenv("ANNAL_BENCH_URL");

    /* The events (not timed). */
    if (url) {
        fixed_tenant = getenv("ANNAL_BENCH_TENANT");
        const char *tk = getenv("ANNAL_BENCH_TOKEN");
        if (!fixed_tenant || !tk || strlen(tk) > ANNAL_TOKEN_LEN)
            die("ANNAL_BENCH_URL needs ANNAL_BENCH_TOKEN (an admin token) and ANNAL_BENCH_TENANT (its tenant)");
        snprintf(tenant_names[0], sizeof(tenant_names[0]), "%s", fixed_tenant);
        snprintf(tokens[0], sizeof(tokens[0]), "%s", tk);
        ntenants = 1;
    }
    double t0 = now();
    gen_input(&in_b, 42, nb);
    gen_input(&in_a, 43, na);
    printf("input: %zu + %zu events from annal_gen_write (seeds 42 and 43, %d tenants), %.1f s\n", in_b.n, in_a.n,
           ntenants, now() - t0);

    /* The server. */
    if (url) {
        char host[64];
        unsigned p = 0;
        if (sscanf(url, "http://%63[^:]:%u", host, &p) != 2 || inet_pton(AF_INET, host, &srv_addr.sin_addr) != 1 ||
            !p || p > 65535)
            die("ANNAL_BENCH_URL must be http://IPv4:PORT, not '%s'", url);
        srv_addr.sin_family = AF_INET;
        srv_addr.sin_port = htons((uint16_t)p);
        printf("server: %s (tenant %s)\n", url, fixed_tenant);
    } else {
        const char *tmp = getenv("TMPDIR");
        if (asprintf(&work_dir, "%s/annal-bench-http-XXXXXX", tmp ? tmp : "/tmp") < 0 || !mkdtemp(work_dir))
            die("mkdtemp: %s", strerror(errno));
        char path[4200], id[13], err[512];
        snprintf(path, sizeof(path), "%s/tokens", work_dir);
        for (int i = 0; i < ntenants; i++)
            if (annal_tokens_add(path, tenant_names[i], ANNAL_ROLE_ADMIN, tokens[i], id, err, sizeof(err)))
                die("%s", err);
        const char *bin = getenv("ANNAL_BIN") ? getenv("ANNAL_BIN") : "build/annal";
        start_server(bin, work_dir, getenv("BENCH_HTTP_THREADS"));
        printf("server: %s serve --data %s --listen 127.0.0.1:0%s%s\n", bin, work_dir,
               getenv("BENCH_HTTP_THREADS") ? " --threads " : "",
               getenv("BENCH_HTTP_THREADS") ? getenv("BENCH_HTTP_THREADS") : "");
    }
    uint64_t d0, s0;
    if (health(&d0, &s0))
        die("the server does not answer /healthz");

    /* (b) NDJSON batches of 1000, one tenant each, in the order of the input. */
    size_t **per = calloc((size_t)ntenants, sizeof(*per)), *cnt = calloc((size_t)ntenants, sizeof(*cnt));
    for (size_t i = 0; i < in_b.n; i++)
        cnt[in_b.lines[i].tenant]++;
    for (int t = 0; t < ntenants; t++) {
        per[t] = malloc((cnt[t] + 1) * sizeof(size_t));
        cnt[t] = 0;
    }
    for (size_t i = 0; i < in_b.n; i++)
        per[in_b.lines[i].tenant][cnt[in_b.lines[i].tenant]++] = i;
    batches = calloc(in_b.n / BATCH + (size_t)ntenants + 1, sizeof(*batches));
    for (int t = 0; t < ntenants; t++)
        for (size_t o = 0; o < cnt[t]; o += BATCH)
            batches[nbatches++] = (batch){per[t] + o, cnt[t] - o < BATCH ? cnt[t] - o : BATCH, t, 0};
    t0 = now();
    run_threads(batch_thread, bconns);
    double tb = now() - t0;
    char pl[160];
    lat_print(b_lat, bconns, pl, sizeof(pl));
    printf("(b) NDJSON batches of %d: %zu events in %zu batches over %d connections: %.2f s, %.0f events/s "
           "(batch %s; %llu appended, %llu batches failed)\n",
           BATCH, in_b.n, nbatches, bconns, tb, in_b.n / tb, pl, (unsigned long long)b_appended,
           (unsigned long long)b_errors);
    fflush(stdout);
    if (b_errors == nbatches)
        die("every batch failed");

    /* (a) single events at 64 connections. */
    t0 = now();
    run_threads(single_thread, SINGLE_CONNS);
    double ta = now() - t0;
    lat_print(a_lat, SINGLE_CONNS, pl, sizeof(pl));
    printf("(a) single-event POSTs at %d connections: %zu events, %.2f s, %.0f events/s, %s (%llu failed)\n",
           SINGLE_CONNS, in_a.n, ta, in_a.n / ta, pl, (unsigned long long)a_errors);
    fflush(stdout);

    /* (c) reads, once the index has settled. */
    double ts = settle();
    uint64_t dn, sn;
    health(&dn, &sn);
    printf("settled: %llu events in the store (index and rules caught up %.1f s after the last POST)\n",
           (unsigned long long)dn, ts);
    targets = calloc(in_b.n / 4 + 1, sizeof(*targets));
    for (size_t i = 0; i < in_b.n && ntargets < in_b.n / 4; i++) {
        const line *l = &in_b.lines[i];
        const char *p = in_b.buf + l->off;
        if (!memmem(p, l->len, "\"event_type\":\"RunStarted\"", 25))
            continue;
        const char *r = memmem(p, l->len, "\"run_id\":\"", 10);
        const char *q = r ? memchr(r + 10, '"', l->len - (size_t)(r + 10 - p)) : NULL;
        if (!q || q - (r + 10) > 128)
            continue;
        target *g = &targets[ntargets++];
        snprintf(g->path, sizeof(g->path), "/api/v1/runs/%.*s/timeline", (int)(q - (r + 10)), r + 10);
        g->tenant = l->tenant;
    }
    const char *what = "/api/v1/runs/{id}/timeline";
    if (ntargets) {
        conn c = {.fd = -1};
        char head[512];
        int hn = get_head(head, sizeof(head), targets[0].path, tokens[targets[0].tenant]);
        int st = request_once(&c, head, (size_t)hn, NULL, 0);
        if (st == 404 && memmem(c.body, c.blen, "no such resource;", 17))
            ntargets = 0; /* not routed yet */
        conn_close(&c);
    }
    if (!ntargets) {
        what = "/api/v1/events/{seq} (the run timeline route is not there yet)";
        uint64_t rng = 7;
        for (size_t k = 0; k < nbatches && ntargets < in_b.n / 4; k++) {
            if (!batches[k].first_seq)
                continue;
            for (int j = 0; j < 4; j++) {
                target *g = &targets[ntargets++];
                snprintf(g->path, sizeof(g->path), "/api/v1/events/%llu",
                         (unsigned long long)(batches[k].first_seq + splitmix(&rng) % batches[k].n));
                g->tenant = batches[k].tenant;
            }
        }
    }
    if (ntargets) {
        c_end = now() + (double)secs;
        t0 = now();
        run_threads(read_thread, READ_CONNS);
        double tc = now() - t0;
        lat_print(c_lat, READ_CONNS, pl, sizeof(pl));
        unsigned long long nreq = c_ok + c_other;
        printf("(c) GET %s at %d connections, %zu distinct targets: %llu requests in %.2f s, %.0f req/s, %s "
               "(%llu not 200)\n",
               what, READ_CONNS, ntargets, nreq, tc, nreq / tc, pl, (unsigned long long)c_other);
    } else {
        printf("(c) skipped: no run or seq to read\n");
    }
    fflush(stdout);

    for (int t = 0; t < ntenants; t++)
        free(per[t]);
    free(per);
    free(cnt);
    free(batches);
    free(targets);
    free(in_a.buf);
    free(in_a.lines);
    free(in_b.buf);
    free(in_b.lines);
    for (int i = 0; i < 64; i++) {
        free(b_lat[i].v);
        if (i < SINGLE_CONNS)
            free(a_lat[i].v);
        if (i < READ_CONNS)
            free(c_lat[i].v);
    }
    cleanup();
    return 0;
}
