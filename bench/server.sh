#!/usr/bin/env bash
# bench/server.sh -- HTTP load on `kadr serve` over loopback with wrk.
#
#   bench/server.sh [path/to/kadr]     (make bench-server)
#
# Starts a server on a temporary library with a generated folder of
# 10,000 photos (small files: this measures the server, not decoding),
# then runs wrk at 64 connections against /health (the reference: the
# cheapest route through the same dispatcher) and /api/folder on that
# folder. Prints requests/s, p50/p99 latency, errors (non-2xx + socket
# errors) and the server's RSS before and after, and the ratio of each
# route's throughput to /health's measured in the same run.
# Env: DURATION (s, default 30), CONNS (64), THREADS (wrk threads, 2), FILES (10000).
set -euo pipefail
KADR=${1:-build/src/cli/kadr}
DURATION=${DURATION:-30}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
FILES=${FILES:-10000}
command -v wrk >/dev/null || { echo "bench/server.sh: wrk not installed (scripts/setup.sh bench)" >&2; exit 1; }
[ -x "$KADR" ] || { echo "bench/server.sh: $KADR not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/lib/photos" "$tmp/home"
( cd "$tmp/lib/photos" && for ((i = 0; i < FILES; i++)); do printf 'jpeg%06d' "$i" > "IMG_$i.jpg"; done )
for d in a b c d e; do mkdir -p "$tmp/lib/photos/sub_$d"; done

KADR_HOME="$tmp/home" KADR_LOG=warn "$KADR" serve --port 0 --root "$tmp/lib" --threads $((CONNS + 16)) \
  --max-per-client 0 > "$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.05; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out" | head -1)
[ -n "$port" ] || { echo "server did not start: $(cat "$tmp/err")" >&2; exit 1; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

# run NAME URL -> prints a result line, sets RPS
run() {
  local name=$1 url=$2 out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency "$url")
  RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local p50 p99 non2xx sockerr
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  sockerr=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out")
  printf '%-28s %10s req/s  p50 %8s  p99 %8s  errors %s\n' "$name" "$RPS" "$p50" "$p99" \
    "$(( ${non2xx:-0} + ${sockerr:-0} ))"
}

base="http://127.0.0.1:$port"
# Warm up both routes at full concurrency so that "before" is the steady
# state (thread stacks touched, malloc arenas grown), then any growth over
# the measured runs is what a leak would look like.
rss_idle=$(rss)
wrk -t"$THREADS" -c"$CONNS" -d2s "$base/health" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s "$base/api/folder?path=photos" >/dev/null
rss0=$(rss)
echo "kadr serve on :$port, $CONNS connections, ${DURATION}s per route, folder of $FILES photos"
run "/health" "$base/health"; ref=$RPS
run "/api/folder (10k photos)" "$base/api/folder?path=photos"; folder=$RPS
rss1=$(rss)
awk -v r="$ref" -v f="$folder" 'BEGIN { printf "ratio /api/folder : /health = %.4f\n", f / r }'
awk -v i="$rss_idle" -v a="$rss0" -v b="$rss1" 'BEGIN { printf "server RSS idle %.1f MiB; after warm-up %.1f MiB, after the runs %.1f MiB (%+.1f%%)\n", i/1024, a/1024, b/1024, (b-a)*100/a }'
