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
[ -x /usr/bin/time ] || { echo "bench/img.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
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

# run_timed NAME CMD...: one run; appends "wall cpu" seconds to $TMP/t.NAME.
# CPU time (user + sys) is the steadier figure on a shared machine.
run_timed() {
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" ||
    { echo "failed: $*" >&2; cat "$TMP/err" >&2; return 1; }
  awk '{ print $1, $2 + $3 }' "$TMP/time" >>"$TMP/t.$name"
}
# median COLUMN NAME: median of column 1 (wall) or 2 (cpu) of NAME's runs
median() {
  awk -v c="$1" '{ print $c }' "$TMP/t.$2" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
# convert has no batch mode: one process per file, as users run it.
CONVERT_EACH='c=$1 s=$2 out=$3; shift 3; for f; do "$c" "$f" -auto-orient -thumbnail "${s}x$s" "$out" || exit 1; done'
mkdir -p "$TMP/vt" "$TMP/kt"

report() { # report LABEL NAME
  local w c
  w=$(median 1 "$2")
  c=$(median 2 "$2")
  awk -v l="$1" -v w="$w" -v c="$c" -v n="$N" \
    'BEGIN { printf "  %-34s wall %6.3f s %7.2f img/s   cpu %6.3f s %7.2f img/s\n", l, w, n / w, c, n / c }'
}
# ratio LABEL KADR REF: how many times faster kadr is, by CPU and by wall time
ratio() {
  awk -v l="$1" -v a="$(median 2 "$2")" -v b="$(median 2 "$3")" -v aw="$(median 1 "$2")" -v bw="$(median 1 "$3")" \
    'BEGIN { printf "  speed-up %-25s %5.2fx cpu, %5.2fx wall\n", l, b / a, bw / aw }'
}

# Each repeat runs the three tools back to back, so load from other
# processes falls on all of them alike.
echo
echo "== decode to 640 (detector input)"
for ((r = 0; r < REPEAT; r++)); do
  run_timed kd "$KADR" photo decode "${FILES[@]}" --size 640 --threads 1
  run_timed vd vipsthumbnail "${FILES[@]}" -s 640 -o "$TMP/vt/%s.v"
  [ -n "$CONVERT" ] && run_timed cd bash -c "$CONVERT_EACH" _ "$CONVERT" 640 "$TMP/im.ppm" "${FILES[@]}"
done
report "kadr photo decode --size 640" kd
report "vipsthumbnail -s 640 (.v out)" vd
[ -n "$CONVERT" ] && report "convert -thumbnail 640x640 (PPM)" cd
ratio "kadr vs vipsthumbnail" kd vd
[ -n "$CONVERT" ] && ratio "kadr vs convert" kd cd

echo
echo "== 256-px JPEG thumbnails"
for ((r = 0; r < REPEAT; r++)); do
  run_timed kt "$KADR" photo thumb "${FILES[@]}" --size 256 -o "$TMP/kt"
  run_timed vt vipsthumbnail "${FILES[@]}" -s 256 -o "$TMP/vt/%s.jpg"
  [ -n "$CONVERT" ] && run_timed ct bash -c "$CONVERT_EACH" _ "$CONVERT" 256 "$TMP/im.jpg" "${FILES[@]}"
done
report "kadr photo thumb --size 256" kt
report "vipsthumbnail -s 256" vt
[ -n "$CONVERT" ] && report "convert -thumbnail 256x256" ct
ratio "kadr vs vipsthumbnail" kt vt
[ -n "$CONVERT" ] && ratio "kadr vs convert" kt ct

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
