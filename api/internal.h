/*
 * internal.h - what the files of api/ share: the request, the response,
 * the route table, the metrics.
 */
#ifndef ANNAL_API_INTERNAL_H
#define ANNAL_API_INTERNAL_H

#include "api/auth.h"
#include "api/server.h"
#include "index/vjson.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define API_MAX_SEGS 12
#define API_MAX_ARGS 24
#define API_PATH_MAX 2048
#define API_ARENA 16384 /* decoded path and query parameters */

enum api_method { API_GET = 1, API_POST = 2, API_OTHER = 4 };

typedef struct api_arg {
    char *k, *v; /* percent-decoded, NUL-terminated (in the request's arena) */
} api_arg;

typedef struct api_resp {
    unsigned status;
    const char *ctype;        /* static */
    annal_jbuf body;
    char location[64];        /* Location header when non-empty */
    const char *allow;        /* Allow header for 405, static */
} api_resp;

typedef struct api_req {
    annal_server *srv;
    struct MHD_Connection *conn;
    int method;               /* enum api_method */
    char method_name[16];
    char *segs[API_MAX_SEGS]; /* the path's segments, decoded */
    size_t nsegs;
    int path_bad;             /* not decodable, too long, too many segments */
    api_arg args[API_MAX_ARGS];
    size_t nargs;
    int args_bad;             /* too many, undecodable or repeated */
    char arena[API_ARENA];
    size_t arena_used;
    /* auth */
    char tenant[ANNAL_ID_MAX + 1];
    int role;                 /* 0: no valid token */
    int auth_state;           /* 0 none, 1 ok, 2 bad token */
    /* body */
    char *body;
    size_t body_len, body_cap;
    int body_too_big;
    int started;              /* the first call has been seen */
    int early_done;           /* a response was queued on the first call */
    /* metrics */
    int route;                /* index into the route table, -1: none */
    int64_t t0_ns;
} api_req;

typedef void (*api_handler)(api_req *r, api_resp *out);

typedef struct api_route {
    int method;
    const char *pattern;      /* "/api/v1/runs/{}/timeline" */
    int roles;                /* enum annal_role mask; 0: no auth */
    const char *args;         /* the query parameters it takes: " a b c " */
    api_handler fn;
} api_route;

extern const api_route api_routes[];
extern const size_t api_nroutes;

/* Metrics (api/metrics.c). Histogram buckets of request latency. */
#define API_LAT_BUCKETS 14
extern const double api_lat_bounds[API_LAT_BUCKETS]; /* seconds, ascending; +Inf implied */

typedef struct api_route_metrics {
    atomic_ullong count[6];   /* by status class: 1xx..5xx (index 1..5) */
    atomic_ullong lat[API_LAT_BUCKETS + 1];
    atomic_ullong lat_sum_us;
} api_route_metrics;

struct annal_server {
    annal_db *db;
    struct MHD_Daemon *mhd;
    annal_server_options opt;
    char *tokens_path;
    pthread_rwlock_t tokens_lock;
    annal_tokens tokens;
    uint16_t port;
    api_route_metrics *rm;    /* api_nroutes + 1 (the last: no route) */
    atomic_ullong open_conns, total_conns;
    atomic_ullong ingest_events, ingest_duplicates, ingest_batches, ingest_rejected;
};

/* The value of query parameter k, or NULL. */
const char *api_arg_get(const api_req *r, const char *k);

/* Responses. */
void api_json(api_resp *o, unsigned status);  /* status + application/json; body filled by caller */
void api_problem(api_resp *o, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The problem for an annal error code from a read (404 for ENOTFOUND, 400
 * for EINVAL, 503 for an index that must be rebuilt, 500 otherwise). */
void api_problem_code(api_resp *o, int code, const char *what);

/* Metrics text (api/metrics.c). */
void api_metrics_observe(annal_server *s, int route, unsigned status, int64_t ns);
void api_metrics_text(annal_server *s, annal_jbuf *out);

int64_t api_now_ns(void);

#endif
