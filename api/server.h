/*
 * server.h - annal's HTTP API (api/API.md) on libmicrohttpd.
 *
 * The server serves one data directory, opened for writing by the caller as
 * an annal_db (index/db.h): POST /api/v1/events appends through it and
 * answers once the events are durable; every read first settles the index
 * (read-your-writes) and then calls the read functions of index/vjson.h.
 *
 * Threads. libmicrohttpd runs an epoll thread pool (opt.threads threads);
 * handlers run on those threads, and an ingest request occupies its thread
 * until the fdatasync of its batch returns (the log's group commit shares
 * one fdatasync among all requests waiting at that moment).
 *
 * Auth. Every route but /healthz needs `Authorization: Bearer <token>`;
 * tokens come from the token file (api/auth.h), each scoped to a tenant and
 * a role. Data of another tenant answers 404, exactly as data that does not
 * exist. annal_server_reload_tokens swaps in the token file's current
 * contents (the CLI calls it on SIGHUP).
 *
 * Limits. Bodies above opt.max_body answer 413 (from Content-Length on the
 * first call, or once a chunked body passes the limit); connections are
 * limited in total and per IP, and idle ones time out. Every error is
 * application/problem+json (RFC 9457).
 *
 * Errors of the functions: ANNAL_OK, ANNAL_EINVAL (bad options: err says
 * which), ANNAL_EIO (cannot listen: err says why), ANNAL_ENOMEM, and the
 * token file's errors (auth.h).
 */
#ifndef ANNAL_API_SERVER_H
#define ANNAL_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "index/db.h"

typedef struct annal_server annal_server;

typedef struct annal_server_options {
    const char *listen;       /* "HOST:PORT", HOST an IPv4 literal or "localhost"; port 0:
                               * any free port (annal_server_port); NULL: 127.0.0.1:8080 */
    const char *tokens_path;  /* the token file (required) */
    unsigned threads;         /* epoll worker threads; 0: 32 */
    unsigned conn_limit;      /* open connections in total; 0: 1024 */
    unsigned per_ip_limit;    /* open connections per client IP; 0: 256 */
    unsigned timeout_s;       /* idle connection timeout; 0: 30 */
    size_t max_body;          /* request body limit in bytes; 0: 16 MiB */
    size_t max_event;         /* one event's size limit; 0: ANNAL_EVENT_MAX_DEFAULT */
    /* One line per start, stop and reload; NULL: stderr with "annal: ". */
    void (*log_fn)(void *ctx, const char *line);
    void *log_ctx;
} annal_server_options;

/* Start serving db (which must outlive the server). */
int annal_server_start(annal_db *db, const annal_server_options *opt, annal_server **out, char *err,
                       size_t errlen);

/* The port it listens on. */
uint16_t annal_server_port(const annal_server *s);

/* Reload the token file; on an error the old tokens stay. */
int annal_server_reload_tokens(annal_server *s, char *err, size_t errlen);

/* Stop accepting connections, let the requests in flight finish, stop the
 * threads and free s. The db is left open. NULL is a no-op. */
void annal_server_stop(annal_server *s);

#endif
