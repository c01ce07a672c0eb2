#!/usr/bin/env bash
# `make bench`: the log benchmarks. Prints figures; asserts nothing.
#   BENCH_EVENTS (default 1000000) events from `annal gen --seed 42`
#   BENCH_DIR    (default a fresh directory under /tmp) where the store goes
# Figures: durable append events/s and MB/s of raw NDJSON, bytes on disk as a
# ratio to the raw NDJSON, verify --jobs 2 MB/s of raw records. Then the
# in-process microbenchmarks (tools/bench/*.c) built by make.
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

echo "== annal append (durable: every block fdatasync'ed before it is acknowledged)"
t0=$(now)
"$annal" append --data "$work/data" --quiet "$work/in.ndjson"
t1=$(now)
disk=$(du -cb "$work"/data/*.seg | tail -1 | cut -f1)
awk -v n="$N" -v raw="$raw" -v disk="$disk" -v t0="$t0" -v t1="$t1" 'BEGIN { t = t1 - t0;
  printf "append: %.2f s, %.0f events/s, %.1f MB/s of raw NDJSON\n", t, n / t, raw / t / 1e6;
  printf "disk: %d bytes, %.1f bytes/event, %.3f x raw NDJSON\n", disk, disk / n, disk / raw }'

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
  echo "== $b"
  "$b"
done
