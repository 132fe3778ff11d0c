#!/usr/bin/env bash
# Catalog and indexing figures: builds bench/catalog.c against the built
# libraries and runs it. Usage: bench/catalog.sh [BUILD_DIR] (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
# `make bench` passes the kadr binary path; take its build dir.
[[ "$B" == */src/cli/kadr ]] && B=${B%/src/cli/kadr}
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc/util -Isrc/catalog -Isrc/jobs bench/catalog.c \
  "$B/src/jobs/libkadr_jobs.a" "$B/src/catalog/libkadr_catalog.a" "$B/src/util/libkadr_util.a" \
  $(pkg-config --libs sqlite3) -lpthread -lm -o "$B/bench_catalog"
exec "$B/bench_catalog"
