#!/usr/bin/env bash
# setup.sh -- install what kadr needs on Debian 12, skipping what is there.
#
#   scripts/setup.sh build   compiler, CMake and the libraries kadr links
#   scripts/setup.sh test    build + what the tests use (ONNX test data, Node,
#                            ONNX Runtime reference runner, clang for fuzzing)
#   scripts/setup.sh bench   test + benchmark tools (wrk, hyperfine, ImageMagick)
#   scripts/setup.sh run     build + Node/npm for installing the models
#
# Idempotent: a second run finds everything present and says so. Uses sudo
# for apt-get when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS=(gcc make cmake pkg-config git ca-certificates
  libjansson-dev libsqlite3-dev libvips-dev libarchive-dev libcurl4-openssl-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libxnnpack-dev libpthreadpool-dev libdnnl-dev libopenblas-dev libcivetweb-dev libssl-dev)
TEST_PKGS=(curl clang libclang-rt-14-dev libonnx-testdata sqlite3 python3)
BENCH_PKGS=(wrk hyperfine imagemagick libvips-tools)

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "apt: all $# packages already installed"
    return
  fi
  say "apt: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Node and npm: any install will do (Debian's, or a vendor's nodejs that
# bundles npm and conflicts with Debian's npm package).
node_npm() {
  if command -v node >/dev/null && command -v npm >/dev/null; then
    say "node $(node --version) and npm $(npm --version) already installed"
  else
    apt_install nodejs npm
  fi
}

# The ONNX Runtime reference runner lives in ../shared, which may be
# read-only: install its node_modules into a copy under build/.
ort_ref() {
  local src=../shared/tools/ort-ref dst=build/ort-ref
  if [ ! -f "$src/package.json" ]; then
    say "ort-ref: $src not found, reference comparisons will be skipped"
    return
  fi
  if [ -d "$dst/node_modules/onnxruntime-node" ] && cmp -s "$src/package-lock.json" "$dst/package-lock.json"; then
    say "ort-ref: already installed in $dst"
    return
  fi
  mkdir -p "$dst"
  cp "$src"/package.json "$src"/package-lock.json "$src"/ort-ref.js "$dst"/
  say "ort-ref: installing ONNX Runtime reference runner into $dst"
  (cd "$dst" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

case "${1:-}" in
  build) apt_install "${BUILD_PKGS[@]}" ;;
  run) apt_install "${BUILD_PKGS[@]}"; node_npm ;;
  test) apt_install "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; node_npm; ort_ref ;;
  bench) apt_install "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"; node_npm; ort_ref ;;
  *) echo "usage: scripts/setup.sh build|test|bench|run" >&2; exit 2 ;;
esac
