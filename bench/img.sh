#!/usr/bin/env bash
# bench/img.sh -- img/ decode and thumbnail throughput beside libvips' own
# vipsthumbnail and ImageMagick's convert, in the same run, one thread each.
#
#   bench/img.sh [path/to/kadr]        (make bench-img)
#
# 1. decode-to-640: the large camera JPEGs (>= 7.5 MP) of the mixed set,
#    decoded, oriented and letterboxed to 640x640 the way face detection
#    asks (kadr photo decode), beside `vipsthumbnail -s 640` writing the
#    uncompressed .v format and `convert -thumbnail 640x640` writing PPM
#    (neither encodes a compressed file, so all three mostly decode).
# 2. thumbnails: 256-px JPEG previews of the same files from all three.
# 3. peak RSS decoding a generated 50-megapixel JPEG for detection, beside
#    a full-size decode of the same file.
# Timings are medians of REPEAT runs (default 3); the machine is shared,
# so read the ratios, not the absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
KADR=${1:-build/src/cli/kadr}
KADR=$(realpath "$KADR")
SHARED=${KADR_SHARED:-../shared}
MIXED=$SHARED/data/photos/mixed
REPEAT=${REPEAT:-3}
CONVERT=/usr/bin/convert   # the real ImageMagick (a stand-in may shadow it on PATH)
[ -x "$CONVERT" ] || CONVERT=$(command -v convert || true)
export VIPS_CONCURRENCY=1 MAGICK_THREAD_LIMIT=1 OMP_NUM_THREADS=1

[ -x "$KADR" ] || { echo "bench/img.sh: $KADR not built (make build)" >&2; exit 1; }
[ -f "$MIXED/MANIFEST.csv" ] || { echo "bench/img.sh: $MIXED/MANIFEST.csv missing" >&2; exit 1; }
command -v vipsthumbnail >/dev/null || { echo "bench/img.sh: vipsthumbnail missing (apt-get install libvips-tools)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Large camera JPEGs that decode cleanly (pillow_decodes=yes), >= 7.5 MP.
mapfile -t FILES < <(awk -F, 'NR > 1 && $3 == "JPEG" && $4 * $5 >= 7500000 && $0 ~ /,yes,/ { print $1 }' \
  "$MIXED/MANIFEST.csv" | grep -v '^exif_samples/jpg/corrupted.jpg$' | sed "s|^|$MIXED/|")
N=${#FILES[@]}
MP=$(awk -F, 'NR > 1 && $3 == "JPEG" && $4 * $5 >= 7500000 && $0 ~ /,yes,/ && $1 != "exif_samples/jpg/corrupted.jpg" { s += $4 * $5 } END { printf "%.1f", s / 1e6 }' "$MIXED/MANIFEST.csv")
echo "img bench: $N camera JPEGs, $MP megapixels in all; $REPEAT repeats, medians; one thread each"
echo "kadr: $KADR"
echo "vipsthumbnail: $(vips --version)"
echo "convert: $("$CONVERT" -version 2>/dev/null | head -1)"

# median of the wall times (seconds) of REPEAT runs of "$@"
median_time() {
  local ts=()
  for ((r = 0; r < REPEAT; r++)); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$TMP/err" || { echo "failed: $*" >&2; cat "$TMP/err" >&2; return 1; }
    t1=$(date +%s.%N)
    ts+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

convert_each() { # convert_each SIZE EXT
  for f in "${FILES[@]}"; do "$CONVERT" "$f" -auto-orient -thumbnail "$1x$1" "$TMP/im.$2"; done
}
vips_each() { # vips_each SIZE EXT
  vipsthumbnail "${FILES[@]}" -s "$1" -o "$TMP/vt/%s.$2"
}
mkdir -p "$TMP/vt" "$TMP/kt"

report() { # report LABEL SECONDS REF_SECONDS REF_NAME...
  awk -v l="$1" -v t="$2" -v n="$N" 'BEGIN { printf "  %-34s %7.3f s  %7.2f images/s\n", l, t, n / t }'
}
# ratio LABEL KADR_SECONDS REF_SECONDS: how many times faster kadr is
ratio() { awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "  speed-up %-26s %6.2fx\n", l, b / a }'; }

echo
echo "== decode to 640 (detector input)"
tk=$(median_time "$KADR" photo decode "${FILES[@]}" --size 640 --threads 1)
tv=$(median_time vips_each 640 v)
report "kadr photo decode --size 640" "$tk"
report "vipsthumbnail -s 640 (.v out)" "$tv"
if [ -n "$CONVERT" ]; then
  tc=$(median_time convert_each 640 ppm)
  report "convert -thumbnail 640x640 (PPM)" "$tc"
fi
ratio "kadr vs vipsthumbnail" "$tk" "$tv" 
[ -n "$CONVERT" ] && ratio "kadr vs convert" "$tk" "$tc"

echo
echo "== 256-px JPEG thumbnails"
tk=$(median_time "$KADR" photo thumb "${FILES[@]}" --size 256 -o "$TMP/kt")
tv=$(median_time vips_each 256 jpg)
report "kadr photo thumb --size 256" "$tk"
report "vipsthumbnail -s 256" "$tv"
if [ -n "$CONVERT" ]; then
  tc=$(median_time convert_each 256 jpg)
  report "convert -thumbnail 256x256" "$tc"
fi
ratio "kadr vs vipsthumbnail" "$tk" "$tv" 
[ -n "$CONVERT" ] && ratio "kadr vs convert" "$tk" "$tc"

echo
echo "== peak RSS, 50-megapixel JPEG decoded for detection"
BIG=$TMP/big50mp.jpg
BASE=$(printf '%s\n' "${FILES[@]}" | grep craft-beer || echo "${FILES[0]}")
SCALE=$(vipsheader -f width "$BASE" | awk '{ printf "%.4f", 8660 / $1 }')
vips resize "$BASE" "$BIG[Q=90]" "$SCALE"
echo "  test image: $(vipsheader "$BIG" | cut -d: -f2) ($(stat -c %s "$BIG") bytes)"
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
if [ -x /usr/bin/time ]; then
  SMALL=$TMP/small.jpg
  vips black "$SMALL" 64 48 --bands 3
  r_0=$(rss "$KADR" photo decode "$SMALL" --size 640 --tensor)
  r_k=$(rss "$KADR" photo decode "$BIG" --size 640 --tensor)
  r_v=$(rss vipsthumbnail "$BIG" -s 640 -o "$TMP/vt/%s.v")
  [ -n "$CONVERT" ] && r_c=$(rss "$CONVERT" "$BIG" -thumbnail 640x640 "$TMP/im.ppm")
  echo "  kadr photo decode --size 640 --tensor  peak RSS $r_k KiB (same command on a 64x48 JPEG: $r_0 KiB)"
  echo "  vipsthumbnail -s 640                   peak RSS $r_v KiB"
  [ -n "$CONVERT" ] && echo "  convert -thumbnail 640x640             peak RSS $r_c KiB"
  awk -v k="$r_k" -v z="$r_0" 'BEGIN { full = 8660 * 5773 * 3 / 1024;
    printf "  the full-size 8-bit RGB image would be %d KiB; kadr grew by %d KiB over its baseline (%.1f%% of it)\n",
           full, k - z, 100 * (k - z) / full }'
else
  "$KADR" photo decode "$BIG" --size 640 --tensor
fi
