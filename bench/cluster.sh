#!/usr/bin/env bash
# Clustering benchmark: 100,000 synthetic 512-d faces (time, peak RSS,
# BCubed F against the synthetic truth), HDBSCAN at 10k and 100k, and the
# numpy reference (shared/tools/face-reference) at n=5,000 in the same run.
# Usage: bench/cluster.sh [KADR_BINARY] (run by `make bench-cluster`).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc/util -Isrc/cluster -Itests/cluster $(pkg-config --cflags openblas) \
  bench/cluster.c "$B/src/cluster/libkadr_cluster.a" "$B/src/util/libkadr_util.a" \
  $(pkg-config --libs openblas) -lpthread -lm -o "$B/bench-cluster"
KADR_SHARED=${KADR_SHARED:-../shared} exec "$B/bench-cluster"
