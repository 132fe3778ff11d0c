#!/usr/bin/env bash
# File-operation throughput of `organize` (journaled move/copy with fsync and
# SHA-256 verification, and undo) against cp -r + sync + rm -rf of the same
# files, measured in the same run. Usage:
#   bench/organize.sh [KADR_BINARY_IGNORED]      (run by `make bench` / `make bench-organize`)
# Environment: ORG_BENCH_N (1000), ORG_BENCH_MB (3), ORG_BENCH_REPEATS (1),
#   ORG_BENCH_DIR (a fresh folder under /tmp), BUILD (build).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
bin=$build/src/organize/org_bench
[ -x "$bin" ] || cmake --build "$build" --target org_bench >/dev/null
dir=${ORG_BENCH_DIR:-$(mktemp -d /tmp/kadr-bench-organize-XXXXXX)}
trap 'rm -rf "$dir"' EXIT
"$bin" "$dir" "${ORG_BENCH_N:-1000}" "${ORG_BENCH_MB:-3}" "${ORG_BENCH_REPEATS:-1}"
