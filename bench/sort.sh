#!/usr/bin/env bash
# Sorting by people end to end (decode -> sorted folders) with `kadr sort` on
# 2 threads, with the stage breakdown:
#   (a) a copy of shared/data/faces/lfw-dev (2,866 photos of 250x250)
#   (b) the large camera JPEGs (>= 5 MP) of shared/data/photos/mixed,
#       replicated to 300 files
# Reference in the same run: ONNX Runtime 1.30 (build/ort-ref) timing the same
# detector, landmark and embedding models at 1 thread; "ORT inference bound"
# is the photos/min two such threads reach on inference alone (no decoding,
# no file operations), using the faces per photo kadr found.
# Usage: bench/sort.sh KADR_BINARY   (make bench-sort; KADR_HOME must hold the models)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kadr=${1:-$here/build/src/cli/kadr}
shared=${KADR_SHARED:-$here/../shared}
export KADR_HOME=${KADR_HOME:-$here/build/models-home}
models=$KADR_HOME/models
ortref=$here/build/ort-ref/ort-ref.js
work=$(mktemp -d /tmp/kadr-bench-sort-XXXXXX)
trap 'rm -rf "$work"' EXIT

ort_ms() { # model, shape -> median ms at 1 thread
  node "$ortref" "$1" --threads 1 --iters 30 --shape "$2" 2>/dev/null | sed -n 's/.*median=\([0-9.]*\)ms.*/\1/p'
}

run_sort() { # name, folder
  local name=$1 dir=$2 log=$work/$1.log t0 t1
  t0=$(date +%s.%N)
  "$kadr" sort --threads 2 "$dir" 2> "$log" > /dev/null
  t1=$(date +%s.%N)
  local photos faces
  photos=$(sed -n 's/^\([0-9]*\) photos: .*/\1/p' "$log")
  faces=$(sed -n 's/^[0-9]* photos: \([0-9]*\) faces.*/\1/p' "$log")
  echo "== ($name) $photos photos, $faces faces"
  grep '^time:' "$log" | sed 's/^/   /'
  awk -v p="$photos" -v a="$t0" -v b="$t1" 'BEGIN { printf "   end to end: %.1f s, %.0f photos/min\n", b - a, p / (b - a) * 60 }'
  if [ -f "$ortref" ]; then
    local det lm emb
    det=$(ort_ms "$models/fr_detect.onnx" input=1x3x240x320)
    lm=$(ort_ms "$models/fr_landmark.onnx" input=1x1x64x64)
    emb=$(ort_ms "$models/fr_feature.onnx" input=1x3x112x112)
    awk -v p="$photos" -v f="$faces" -v d="$det" -v l="$lm" -v e="$emb" -v a="$t0" -v b="$t1" 'BEGIN {
      per = d + f / p * (l + e); bound = 2 * 60000 / per; kadr = p / (b - a) * 60;
      printf "   ORT 1.30 same run: detect %.2f ms, landmarks %.2f ms, embed %.2f ms per call\n", d, l, e;
      printf "   ORT inference bound (2 threads, no decode/files): %.0f photos/min; kadr end to end / bound = %.2f\n", bound, kadr / bound }'
  fi
}

echo "kadr sort benchmark, $(nproc) cores, $(date -u +%FT%TZ)"
mkdir -p "$work/lfw"
cp -r "$shared/data/faces/lfw-dev/." "$work/lfw/"
run_sort lfw-dev "$work/lfw"

mkdir -p "$work/camera"
mapfile -t big < <(python3 - "$shared/data/photos/mixed" <<'PY'
import csv, os, sys
root = sys.argv[1]
for r in csv.DictReader(open(os.path.join(root, 'MANIFEST.csv'))):
    if r['filetype_exiftool'] == 'JPEG' and r['width'] and int(r['width']) * int(r['height']) >= 5_000_000 \
       and r['pillow9_decodes'] == 'yes' and 'corrupt' not in r['path']:
        print(os.path.join(root, r['path']))
PY
)
for ((i = 0; i < 300; i++)); do
  src=${big[$((i % ${#big[@]}))]}
  cp "$src" "$work/camera/$(printf '%03d' "$i")-$(basename "$src")"
done
echo "(${#big[@]} distinct camera JPEGs of >= 5 MP replicated to 300)"
run_sort camera "$work/camera"
