#!/usr/bin/env bash
# `make run`: creates a demo store from `annal gen` (if absent), a demo token,
# prints a few curl commands, and serves the HTTP API on 127.0.0.1:8080 in the
# foreground (Ctrl-C stops it).
# Usage: tools/run-demo.sh ANNAL_BINARY DEMO_DIR [LISTEN]
set -eu
annal=$1
dir=$2
listen=${3:-127.0.0.1:8080}
if [ ! -d "$dir" ] || ! ls "$dir"/*.seg >/dev/null 2>&1; then
    echo "== creating a demo store in $dir: 200000 events of 20 tenants (annal gen --seed 1),"
    echo "   indexed, with the events the rules derive (budget breaches, incidents, proposals)"
    "$annal" gen --seed 1 --events 200000 --tenants 20 | "$annal" append --data "$dir" -
fi
echo "== annal verify --data $dir"
"$annal" verify --data "$dir"

# The story: the first budget breach the rules found, its incident and proposal.
breach=$("$annal" dump --data "$dir" | grep -m1 '"event_type":"IncidentCreated".*"category":"BUDGET_EXCEEDED"' || true)
tenant=$(printf '%s' "$breach" | python3 -c 'import json,sys; l=sys.stdin.read().strip(); print(json.loads(l)["tenant_id"] if l else "")')
incident=$(printf '%s' "$breach" | python3 -c 'import json,sys; l=sys.stdin.read().strip(); print(json.loads(l)["incident_id"] if l else "")')
if [ -z "$tenant" ]; then
    tenant=$("$annal" dump --data "$dir" --to-seq 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["tenant_id"])')
fi
runrec=$("$annal" dump --data "$dir" --tenant "$tenant" | grep -m1 '"event_type":"RunCompleted"')
run=$(printf '%s' "$runrec" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["run_id"])')
seq=$(printf '%s' "$runrec" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["seq"])')

# The checkpoint signing key (annal keygen): the server signs a checkpoint of
# the log after appends; auditors check them with the verifier key.
if [ ! -s "$dir/signing.key" ]; then
    "$annal" keygen --origin demo.annal.local/log --out "$dir/signing.key" > "$dir/signing.vkey"
fi
vkey=$(cat "$dir/signing.vkey")

tokfile="$dir/demo-token"
if [ ! -s "$tokfile" ] || [ "$(cut -d' ' -f1 "$tokfile")" != "$tenant" ]; then
    tok=$("$annal" token add --data "$dir" --tenant "$tenant" --role admin 2>/dev/null)
    ingest=$("$annal" token add --data "$dir" --tenant "$tenant" --role ingest 2>/dev/null)
    (umask 077; printf '%s %s %s\n' "$tenant" "$tok" "$ingest" > "$tokfile")
fi
tok=$(cut -d' ' -f2 "$tokfile")
ingest=$(cut -d' ' -f3 "$tokfile")
url="http://$listen/api/v1"
cat <<EOT

== demo tenant: $tenant
   admin token:  $tok
   ingest token: $ingest
   (kept in $tokfile; annal token list --data $dir shows every token)

Try, in another terminal:
  curl -s -H 'Authorization: Bearer $tok' $url/overview/highlights | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' $url/incidents/$incident | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' $url/policies/limits | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' $url/policies/proposals | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' $url/runs/$run | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' '$url/analytics/costs?group_by=api_key' | python3 -m json.tool
  curl -s -H 'Authorization: Bearer $tok' '$url/logs/audit?limit=5' | python3 -m json.tool
  curl -s -XPOST -H 'Authorization: Bearer $ingest' -H 'Content-Type: application/json' \\
       $url/events -d '{"tenant_id":"$tenant","event_type":"RunStarted","run_id":"run-demo-1","event_id":"demo-1"}'
  curl -s -H 'Authorization: Bearer $tok' $url/checkpoint
  curl -s -H 'Authorization: Bearer $tok' '$url/events/$seq?proof=1' | python3 -m json.tool
  The API is described in api/API.md; the log's chain can be checked with zstd -dc
  and a short script (store/FORMAT.md section 5). Checkpoints are signed with the
  key in $dir/signing.key; its verifier key is
    $vkey
  and (with the server stopped, or on a copy) an auditor checks the log against a
  saved checkpoint with:
    $annal checkpoint --data $dir > /tmp/cp.note
    $annal verify --data $dir --against /tmp/cp.note --key '$vkey'


== serving on $listen (Ctrl-C stops)
EOT
exec "$annal" serve --data "$dir" --listen "$listen" --key "$dir/signing.key"
