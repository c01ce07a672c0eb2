/*
 * server.c - libmicrohttpd glue: a request's life from its first call to
 * its completion, auth, routing, problem responses (server.h).
 */
#include "api/internal.h"

#include "store/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t api_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void logf_(annal_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(annal_server *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (s->opt.log_fn)
        s->opt.log_fn(s->opt.log_ctx, line);
    else
        fprintf(stderr, "annal: %s\n", line);
}

/* ---------------------------------------------------------------- responses */

void api_json(api_resp *o, unsigned status)
{
    o->status = status;
    o->ctype = "application/json";
}

static const char *status_title(unsigned st)
{
    switch (st) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Error";
    }
}

/* Replace every byte of s that does not start or continue a valid UTF-8
 * sequence with '?': details may quote decoded bytes of the request. */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                                                              : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        int ok = len > 0;
        for (size_t i = 1; ok && i < len; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3) {
            unsigned cp = (c & 0x0F) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
            ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
        } else if (ok && len == 4) {
            unsigned cp = (c & 0x07) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        if (!ok) {
            *p++ = '?';
            continue;
        }
        if (len == 1 && c < 0x20)
            *p = ' ';
        p += len;
    }
}

void api_problem(api_resp *o, unsigned status, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    utf8_clean(detail);
    annal_jbuf_reset(&o->body);
    o->status = status;
    o->ctype = "application/problem+json";
    annal_jbuf_puts(&o->body, "{\"type\":\"about:blank\",\"title\":");
    annal_jbuf_str(&o->body, status_title(status), strlen(status_title(status)));
    annal_jbuf_puts(&o->body, ",\"status\":");
    annal_jbuf_u64(&o->body, status);
    annal_jbuf_puts(&o->body, ",\"detail\":");
    annal_jbuf_str(&o->body, detail, strlen(detail));
    annal_jbuf_puts(&o->body, "}");
}

void api_problem_code(api_resp *o, int code, const char *what)
{
    switch (code) {
    case ANNAL_ENOTFOUND:
        api_problem(o, 404, "no %s with that id in this tenant", what);
        break;
    case ANNAL_EINVAL:
        api_problem(o, 400, "invalid %s request: check ids (1..128 bytes of [A-Za-z0-9._:@/-]), "
                            "times (RFC 3339 UTC), limit (1..%d) and cursor", what, ANNAL_INDEX_LIMIT_MAX);
        break;
    case ANNAL_EINDEX:
    case ANNAL_EVERSION:
        api_problem(o, 503, "the index does not match the log; an operator must run annal reindex");
        break;
    case ANNAL_ECORRUPT:
        api_problem(o, 500, "a block of the log is damaged; an operator must run annal verify");
        break;
    default:
        api_problem(o, 500, "reading %s failed: %s", what, annal_strerror(code));
    }
}

/* ---------------------------------------------------------------- request parsing */

static char *arena_put(api_req *r, const char *s, size_t n)
{
    if (sizeof(r->arena) - r->arena_used < n + 1)
        return NULL;
    char *p = r->arena + r->arena_used;
    memcpy(p, s, n);
    p[n] = 0;
    r->arena_used += n + 1;
    return p;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) in place into out (plus_space: '+' is a space, for
 * query strings). Returns the length, or -1 (bad escape, NUL). */
static long pct_decode(const char *s, size_t n, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int a = hexv(s[i + 1]), b = hexv(s[i + 2]);
            if (a < 0 || b < 0)
                return -1;
            c = (char)(a * 16 + b);
            if (c == 0)
                return -1;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = 0;
    return (long)o;
}

static void parse_path(api_req *r, const char *url)
{
    size_t n = strlen(url);
    if (n == 0 || n >= API_PATH_MAX || url[0] != '/') {
        r->path_bad = 1;
        return;
    }
    const char *p = url + 1, *end = url + n;
    while (p <= end) {
        const char *q = memchr(p, '/', (size_t)(end - p));
        if (!q)
            q = end;
        if (r->nsegs == API_MAX_SEGS) {
            r->path_bad = 1;
            return;
        }
        char *seg = arena_put(r, p, (size_t)(q - p));
        long dn = seg ? pct_decode(seg, (size_t)(q - p), seg, 0) : -1;
        if (dn < 0) {
            r->path_bad = 1;
            return;
        }
        r->segs[r->nsegs++] = seg;
        p = q + 1;
    }
    /* a trailing slash leaves an empty last segment: /api/v1/runs/ is not /api/v1/runs */
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    api_req *r = cls;
    (void)kind;
    if (r->nargs == API_MAX_ARGS) {
        r->args_bad = 4;
        return MHD_NO;
    }
    size_t kn = strlen(key), vn = value ? strlen(value) : 0;
    char *k = arena_put(r, key, kn), *v = arena_put(r, value ? value : "", vn);
    if (!k || !v) {
        r->args_bad = 3;
        return MHD_NO;
    }
    if (pct_decode(k, kn, k, 1) < 0 || pct_decode(v, vn, v, 1) < 0) {
        r->args_bad = 1;
        return MHD_NO;
    }
    for (size_t i = 0; i < r->nargs; i++)
        if (!strcmp(r->args[i].k, k)) {
            r->args_bad = 2; /* repeated */
            return MHD_NO;
        }
    r->args[r->nargs++] = (api_arg){k, v};
    return MHD_YES;
}

const char *api_arg_get(const api_req *r, const char *k)
{
    for (size_t i = 0; i < r->nargs; i++)
        if (!strcmp(r->args[i].k, k))
            return r->args[i].v;
    return NULL;
}

/* ---------------------------------------------------------------- routing */

static int match(const char *pattern, const api_req *r)
{
    const char *p = pattern + 1;
    size_t i = 0;
    while (*p || i < r->nsegs) {
        if (i == r->nsegs || !*p)
            return 0;
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        const char *seg = r->segs[i];
        if (len == 2 && p[0] == '{' && p[1] == '}') {
            if (!seg[0])
                return 0;
        } else if (strlen(seg) != len || memcmp(seg, p, len) != 0) {
            return 0;
        }
        i++;
        p += len;
        if (*p == '/')
            p++;
        else if (i < r->nsegs)
            return 0;
    }
    return 1;
}

static int authenticate(api_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        r->auth_state = 2;
        return 0;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    annal_server *s = r->srv;
    pthread_rwlock_rdlock(&s->tokens_lock);
    const annal_token_entry *e = annal_tokens_find(&s->tokens, tok, strlen(tok));
    if (e) {
        snprintf(r->tenant, sizeof(r->tenant), "%s", e->tenant);
        r->role = e->role;
        r->auth_state = 1;
    } else {
        r->auth_state = 2;
    }
    pthread_rwlock_unlock(&s->tokens_lock);
    return r->auth_state == 1;
}

static void dispatch(api_req *r, api_resp *o)
{
    if (r->path_bad) {
        api_problem(o, 404, "no such resource: the path is too long, has too many segments or a bad %%-escape");
        return;
    }
    int any = 0, allow = 0;
    const api_route *rt = NULL;
    for (size_t i = 0; i < api_nroutes; i++)
        if (match(api_routes[i].pattern, r)) {
            any = 1;
            allow |= api_routes[i].method;
            if (api_routes[i].method == r->method && !rt) {
                rt = &api_routes[i];
                r->route = (int)i;
            }
        }
    if (!any) {
        api_problem(o, 404, "no such resource; the routes are listed in api/API.md (all under /api/v1/)");
        return;
    }
    if (!rt) {
        o->allow = allow == (API_GET | API_POST) ? "GET, POST" : allow == API_POST ? "POST" : "GET";
        api_problem(o, 405, "%s is not allowed here; use %s", r->method_name, o->allow);
        return;
    }
    if (rt->roles) {
        if (!authenticate(r)) {
            api_problem(o, 401, r->auth_state == 2
                                    ? "the bearer token is not valid (revoked, mistyped or for another store)"
                                    : "send 'Authorization: Bearer <token>'; annal token add makes one");
            return;
        }
        if (!(rt->roles & r->role)) {
            api_problem(o, 403, "a token of role '%s' cannot use this route", annal_role_name(r->role));
            return;
        }
    }
    if (r->args_bad) {
        api_problem(o, 400, r->args_bad == 2   ? "a query parameter is repeated; give each once"
                            : r->args_bad == 3 ? "the query string is too long (at most %d bytes of names and values)"
                            : r->args_bad == 4 ? "too many query parameters (at most %d)"
                                               : "a query parameter has a bad %%-escape (or an escaped NUL)%.0d",
                    r->args_bad == 4 ? API_MAX_ARGS : API_ARENA / 2);
        return;
    }
    for (size_t i = 0; i < r->nargs; i++) {
        char probe[80];
        snprintf(probe, sizeof(probe), " %.64s ", r->args[i].k);
        if (strlen(r->args[i].k) > 64 || !strstr(rt->args, probe)) {
            api_problem(o, 400, "unknown query parameter '%.64s'; this route takes:%s", r->args[i].k,
                        rt->args[1] ? rt->args : " none");
            return;
        }
    }
    if (r->body_too_big) {
        api_problem(o, 413, "the body is larger than %zu bytes; send smaller batches", r->srv->opt.max_body);
        return;
    }
    if (r->method == API_GET && r->body_len) {
        api_problem(o, 400, "a GET request has no body");
        return;
    }
    rt->fn(r, o);
}

/* ---------------------------------------------------------------- MHD callbacks */

static enum MHD_Result queue(api_req *r, api_resp *o)
{
    if (o->body.oom) {
        annal_jbuf_reset(&o->body);
        o->body.oom = 0;
        api_problem(o, 500, "out of memory");
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(o->body.n, o->body.n ? o->body.p : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, o->ctype ? o->ctype : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (o->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, o->allow);
    if (o->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, o->location);
    if (o->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"annal\"");
    enum MHD_Result ret = MHD_queue_response(r->conn, o->status, resp);
    MHD_destroy_response(resp);
    r->early_done = (int)o->status; /* remembered for the metrics */
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    annal_server *s = cls;
    api_req *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        *con_cls = r;
        r->srv = s;
        r->conn = c;
        r->route = -1;
        r->t0_ns = api_now_ns();
        snprintf(r->method_name, sizeof(r->method_name), "%s", method);
        r->method = !strcmp(method, "GET") || !strcmp(method, "HEAD") ? API_GET
                    : !strcmp(method, "POST")                        ? API_POST
                                                                     : API_OTHER;
        parse_path(r, url);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, r);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *e;
            errno = 0;
            unsigned long long v = strtoull(cl, &e, 10);
            if (errno || *e || v > s->opt.max_body) {
                api_resp o = {0};
                api_problem(&o, 413, "the body is larger than %zu bytes; send smaller batches",
                            s->opt.max_body);
                enum MHD_Result ret = queue(r, &o);
                annal_jbuf_free(&o.body);
                return ret;
            }
            if (v && !(r->body = malloc((size_t)v + 1)))
                return MHD_NO;
            r->body_cap = (size_t)v;
        }
        r->started = 1;
        return MHD_YES;
    }
    if (r->early_done) { /* answered already (413 on the first call): drop the body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->body_too_big)
            return MHD_YES;
        if (r->body_len + n > s->opt.max_body) {
            r->body_too_big = 1;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            return MHD_YES;
        }
        if (r->body_len + n > r->body_cap) {
            size_t nc = r->body_cap ? r->body_cap : 65536;
            while (nc < r->body_len + n)
                nc *= 2;
            if (nc > s->opt.max_body)
                nc = s->opt.max_body;
            char *nb = realloc(r->body, nc + 1);
            if (!nb)
                return MHD_NO;
            r->body = nb;
            r->body_cap = nc;
        }
        memcpy(r->body + r->body_len, upload, n);
        r->body_len += n;
        return MHD_YES;
    }
    api_resp o = {0};
    dispatch(r, &o);
    enum MHD_Result ret = queue(r, &o);
    annal_jbuf_free(&o.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    annal_server *s = cls;
    api_req *r = *con_cls;
    (void)c;
    (void)toe;
    if (!r)
        return;
    if (r->early_done)
        api_metrics_observe(s, r->route, (unsigned)r->early_done, api_now_ns() - r->t0_ns);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
    annal_server *s = cls;
    (void)c;
    (void)socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->open_conns, 1);
        atomic_fetch_add(&s->total_conns, 1);
    } else {
        atomic_fetch_sub(&s->open_conns, 1);
    }
}

/* The path and query arrive undecoded: parse_path and collect_arg decode
 * them, so that an escaped '/' inside an id stays inside its segment. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ---------------------------------------------------------------- lifecycle */

static int parse_listen(const char *l, struct sockaddr_in *sa, char *err, size_t errlen)
{
    const char *colon = strrchr(l, ':');
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    char host[64];
    if (!colon || (size_t)(colon - l) >= sizeof(host)) {
        snprintf(err, errlen, "--listen must be HOST:PORT (e.g. 127.0.0.1:8080), not '%s'", l);
        return ANNAL_EINVAL;
    }
    memcpy(host, l, (size_t)(colon - l));
    host[colon - l] = 0;
    char *e;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &e, 10);
    if (errno || *e || !colon[1] || port > 65535) {
        snprintf(err, errlen, "the port in --listen '%s' must be 0..65535", l);
        return ANNAL_EINVAL;
    }
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "the host in --listen '%s' must be an IPv4 address or localhost", l);
        return ANNAL_EINVAL;
    }
    sa->sin_port = htons((uint16_t)port);
    return ANNAL_OK;
}

int annal_server_start(annal_db *db, const annal_server_options *opt, annal_server **out, char *err,
                       size_t errlen)
{
    *out = NULL;
    if (!db || !opt || !opt->tokens_path) {
        snprintf(err, errlen, "annal_server_start needs a db and a token file");
        return ANNAL_EINVAL;
    }
    annal_server *s = calloc(1, sizeof(*s));
    if (!s || !(s->rm = calloc(api_nroutes + 1, sizeof(*s->rm))) || !(s->tokens_path = strdup(opt->tokens_path))) {
        if (s)
            free(s->rm);
        free(s);
        return ANNAL_ENOMEM;
    }
    s->db = db;
    s->opt = *opt;
    s->opt.tokens_path = s->tokens_path;
    if (!s->opt.listen)
        s->opt.listen = "127.0.0.1:8080";
    if (!s->opt.threads)
        s->opt.threads = 32;
    if (!s->opt.conn_limit)
        s->opt.conn_limit = 1024;
    if (!s->opt.per_ip_limit)
        s->opt.per_ip_limit = 256;
    if (!s->opt.timeout_s)
        s->opt.timeout_s = 30;
    if (!s->opt.max_body)
        s->opt.max_body = 16u << 20;
    if (!s->opt.max_event)
        s->opt.max_event = ANNAL_EVENT_MAX_DEFAULT;
    pthread_rwlock_init(&s->tokens_lock, NULL);
    struct sockaddr_in sa;
    int rc = parse_listen(s->opt.listen, &sa, err, errlen);
    if (rc == ANNAL_OK)
        rc = annal_tokens_load(s->tokens_path, &s->tokens, err, errlen);
    if (rc) {
        pthread_rwlock_destroy(&s->tokens_lock);
        free(s->rm);
        free(s->tokens_path);
        free(s);
        return rc;
    }
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, 0, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->opt.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->opt.conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)s->opt.per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->opt.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on %s: %s (is the port in use?)", s->opt.listen, strerror(errno));
        annal_tokens_free(&s->tokens);
        pthread_rwlock_destroy(&s->tokens_lock);
        free(s->rm);
        free(s->tokens_path);
        free(s);
        return ANNAL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : ntohs(sa.sin_port);
    logf_(s, "serving on %s (port %u), %u threads, %zu tokens", s->opt.listen, s->port, s->opt.threads,
          s->tokens.n);
    *out = s;
    return ANNAL_OK;
}

uint16_t annal_server_port(const annal_server *s)
{
    return s->port;
}

int annal_server_reload_tokens(annal_server *s, char *err, size_t errlen)
{
    annal_tokens t;
    int rc = annal_tokens_load(s->tokens_path, &t, err, errlen);
    if (rc) {
        logf_(s, "token reload failed, keeping the old tokens: %s", err);
        return rc;
    }
    pthread_rwlock_wrlock(&s->tokens_lock);
    annal_tokens old = s->tokens;
    s->tokens = t;
    pthread_rwlock_unlock(&s->tokens_lock);
    annal_tokens_free(&old);
    logf_(s, "tokens reloaded: %zu", t.n);
    return ANNAL_OK;
}

void annal_server_stop(annal_server *s)
{
    if (!s)
        return;
    /* quiesce: no new connections; MHD_stop_daemon then lets the worker
     * threads finish the requests they are running */
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /* let the connections in flight finish (idle keep-alive ones time out), at most 5 s */
    for (int i = 0; i < 500 && atomic_load(&s->open_conns) > 0; i++) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    logf_(s, "stopped: %llu connections served", (unsigned long long)atomic_load(&s->total_conns));
    annal_tokens_free(&s->tokens);
    pthread_rwlock_destroy(&s->tokens_lock);
    free(s->rm);
    free(s->tokens_path);
    free(s);
}
