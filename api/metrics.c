/*
 * metrics.c - Prometheus text exposition of the server's counters
 * (GET /metrics).
 */
#include "api/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const double api_lat_bounds[API_LAT_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,    0.1,    0.25,  0.5,    1,    2.5};

void api_metrics_observe(annal_server *s, int route, unsigned status, int64_t ns)
{
    api_route_metrics *m = &s->rm[route >= 0 ? (size_t)route : api_nroutes];
    unsigned cls = status / 100;
    atomic_fetch_add(&m->count[cls >= 1 && cls <= 5 ? cls : 5], 1);
    double secs = (double)ns / 1e9;
    size_t b = 0;
    while (b < API_LAT_BUCKETS && secs > api_lat_bounds[b])
        b++;
    atomic_fetch_add(&m->lat[b], 1);
    atomic_fetch_add(&m->lat_sum_us, (unsigned long long)(ns / 1000));
}

static void line(annal_jbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(annal_jbuf *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        annal_jbuf_put(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void api_metrics_text(annal_server *s, annal_jbuf *o)
{
    annal_db_stats ds;
    annal_db_stats_get(s->db, &ds);
    annal_log_stats ls;
    annal_log_stats_get(annal_db_log(s->db), &ls);
    line(o, "# HELP annal_events_appended_total Events appended to the log by this process.\n"
            "# TYPE annal_events_appended_total counter\nannal_events_appended_total %llu\n",
         (unsigned long long)ds.appended);
    line(o, "# HELP annal_events_duplicate_total Events answered as duplicates of an earlier event_id.\n"
            "# TYPE annal_events_duplicate_total counter\nannal_events_duplicate_total %llu\n",
         (unsigned long long)ds.duplicates);
    line(o, "# HELP annal_events_derived_total Events appended by the rules.\n"
            "# TYPE annal_events_derived_total counter\nannal_events_derived_total %llu\n",
         (unsigned long long)ds.derived);
    line(o, "# HELP annal_ingest_batches_total Ingest requests that appended or answered events.\n"
            "# TYPE annal_ingest_batches_total counter\nannal_ingest_batches_total %llu\n",
         (unsigned long long)atomic_load(&s->ingest_batches));
    line(o, "# HELP annal_ingest_rejected_total Ingest requests rejected for invalid events.\n"
            "# TYPE annal_ingest_rejected_total counter\nannal_ingest_rejected_total %llu\n",
         (unsigned long long)atomic_load(&s->ingest_rejected));
    line(o, "# HELP annal_log_fsyncs_total Group commits of the log since open (each one write + fdatasync).\n"
            "# TYPE annal_log_fsyncs_total counter\nannal_log_fsyncs_total %llu\n",
         (unsigned long long)ls.commits);
    line(o, "# HELP annal_log_blocks_total Blocks written since open.\n"
            "# TYPE annal_log_blocks_total counter\nannal_log_blocks_total %llu\n",
         (unsigned long long)ls.blocks);
    line(o, "# HELP annal_log_events_per_fsync Mean events made durable per fdatasync since open (the batch size).\n"
            "# TYPE annal_log_events_per_fsync gauge\nannal_log_events_per_fsync %.2f\n",
         ls.commits ? (double)ls.committed_events / (double)ls.commits : 0.0);
    line(o, "# HELP annal_log_durable_seq The last durable seq.\n"
            "# TYPE annal_log_durable_seq gauge\nannal_log_durable_seq %llu\n",
         (unsigned long long)ds.durable_seq);
    line(o, "# HELP annal_index_lag Durable events not yet indexed and settled.\n"
            "# TYPE annal_index_lag gauge\nannal_index_lag %llu\n",
         (unsigned long long)(ds.durable_seq > ds.settled_seq ? ds.durable_seq - ds.settled_seq : 0));
    line(o, "# HELP annal_http_open_connections Open HTTP connections.\n"
            "# TYPE annal_http_open_connections gauge\nannal_http_open_connections %llu\n",
         (unsigned long long)atomic_load(&s->open_conns));
    line(o, "# HELP annal_http_requests_total HTTP requests by route and status class.\n"
            "# TYPE annal_http_requests_total counter\n");
    for (size_t i = 0; i <= api_nroutes; i++) {
        const char *name = i < api_nroutes ? api_routes[i].pattern : "none";
        const char *meth = i < api_nroutes ? (api_routes[i].method == API_POST ? "POST" : "GET") : "";
        for (int c = 1; c <= 5; c++) {
            unsigned long long v = atomic_load(&s->rm[i].count[c]);
            if (v)
                line(o, "annal_http_requests_total{method=\"%s\",route=\"%s\",code=\"%dxx\"} %llu\n", meth,
                     name, c, v);
        }
    }
    line(o, "# HELP annal_http_request_seconds HTTP request latency by route.\n"
            "# TYPE annal_http_request_seconds histogram\n");
    for (size_t i = 0; i <= api_nroutes; i++) {
        const char *name = i < api_nroutes ? api_routes[i].pattern : "none";
        const char *meth = i < api_nroutes ? (api_routes[i].method == API_POST ? "POST" : "GET") : "";
        unsigned long long cum = 0, total = 0;
        for (int b = 0; b <= API_LAT_BUCKETS; b++)
            total += atomic_load(&s->rm[i].lat[b]);
        if (!total)
            continue;
        for (int b = 0; b < API_LAT_BUCKETS; b++) {
            cum += atomic_load(&s->rm[i].lat[b]);
            line(o, "annal_http_request_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n", meth, name,
                 api_lat_bounds[b], cum);
        }
        line(o, "annal_http_request_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n", meth, name,
             total);
        line(o, "annal_http_request_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", meth, name,
             (double)atomic_load(&s->rm[i].lat_sum_us) / 1e6);
        line(o, "annal_http_request_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", meth, name, total);
    }
}
