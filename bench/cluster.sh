#!/usr/bin/env bash
# cluster.sh -- the clustering benchmark (bench/cluster.c) as part of `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec make -s bench-cluster
