#!/usr/bin/env bash
# `make bench`: the log benchmarks. Prints figures; asserts nothing.
#   BENCH_EVENTS (default 1000000) events from `annal gen --seed 42`
#   BENCH_DIR    (default a fresh directory under /tmp) where the store goes
# Figures: durable append events/s and MB/s of raw NDJSON (the log alone:
# annal append --no-index), bytes on disk as a ratio to the raw NDJSON,
# durable append with indexing on (annal append's default: idempotency
# check, index, views, rules) events/s and its ratio to the log alone,
# verify --jobs 2 MB/s of raw records. Then the
# in-process microbenchmarks (tools/bench/*.c) built by make, among them
# bench_db: durable append with indexing on (annal_db: idempotency, index,
# views, rules) against the log alone, events/s of each and the ratio
# (BENCH_EVENTS, BENCH_BATCH, BENCH_THREADS; see tools/bench/bench_db.c).
set -eu
B=${1:-build}
annal=$B/annal
N=${BENCH_EVENTS:-1000000}
work=${BENCH_DIR:-$(mktemp -d /tmp/annal-bench-XXXXXX)}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

echo "== annal gen --seed 42 --events $N (input, not timed)"
"$annal" gen --seed 42 --events "$N" > "$work/in.ndjson"
raw=$(stat -c %s "$work/in.ndjson")
echo "input: $N events, $raw bytes ($(( raw / N )) bytes/event)"

echo "== annal append --no-index (the log alone; durable: every block fdatasync'ed before it is acknowledged)"
t0=$(now)
"$annal" append --data "$work/data" --no-index --quiet "$work/in.ndjson"
t1=$(now)
disk=$(du -cb "$work"/data/*.seg | tail -1 | cut -f1)
awk -v n="$N" -v raw="$raw" -v disk="$disk" -v t0="$t0" -v t1="$t1" 'BEGIN { t = t1 - t0;
  printf "append: %.2f s, %.0f events/s, %.1f MB/s of raw NDJSON\n", t, n / t, raw / t / 1e6;
  printf "disk: %d bytes, %.1f bytes/event, %.3f x raw NDJSON\n", disk, disk / n, disk / raw }'

echo "== annal append (indexing on: event_id check, index, views, rules; returns once all is settled)"
t2=$(now)
"$annal" append --data "$work/data-ix" --quiet "$work/in.ndjson"
t3=$(now)
rm -rf "$work/data-ix"
awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN { t = t3 - t2;
  printf "append (indexed): %.2f s, %.0f events/s, %.2f x the log alone\n", t, n / t, (t1 - t0) / t }'

for jobs in 1 2; do
  t0=$(now)
  out=$("$annal" verify --data "$work/data" --jobs $jobs)
  t1=$(now)
  rawrec=$(printf '%s\n' "$out" | sed -n 's/.* \([0-9]*\) bytes of records.*/\1/p')
  awk -v n="$N" -v raw="$rawrec" -v j=$jobs -v t0="$t0" -v t1="$t1" 'BEGIN { t = t1 - t0;
    printf "verify --jobs %d: %.2f s, %.0f events/s, %.1f MB/s of raw records\n", j, t, n / t, raw / t / 1e6 }'
done

for b in "$B"/bench/*; do
  [ -x "$b" ] || continue
  case "$b" in */bench_http) continue ;; esac # its own step, below
  echo "== $b"
  "$b"
done

# The HTTP API (tools/bench/bench_http.c): a real `annal serve` on loopback;
# (a) single-event POSTs at 64 connections, events/s and p50/p99; (b) NDJSON
# batches of 1000 events, events/s (BENCH_EVENTS of them: the store that (c)
# reads); (c) GET /api/v1/runs/{id}/timeline at 32 connections, req/s and
# p50/p99. BENCH_HTTP=0 skips it; BENCH_HTTP_SINGLE, BENCH_HTTP_SECONDS,
# BENCH_HTTP_BATCH_CONNS, BENCH_HTTP_THREADS and ANNAL_BENCH_URL (an existing
# server) are described in the source.
if [ "${BENCH_HTTP:-1}" != 0 ] && [ -x "$B/bench/bench_http" ]; then
  echo "== $B/bench/bench_http"
  ANNAL_BIN="$annal" "$B/bench/bench_http"
fi
