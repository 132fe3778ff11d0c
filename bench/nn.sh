#!/usr/bin/env bash
# bench/nn.sh -- kadr's nn engine against ONNX Runtime 1.30 (ort-ref), same
# model, same thread count, same run of this script: median latency of each,
# the ratio kadr/ORT (target <= 1.0, <= 0.8 on face models) and kadr's
# achieved GFLOP/s against the ~116 GFLOP/s/core fp32 peak.
#
#   bench/nn.sh [KADR_BIN]          (default build/src/cli/kadr)
#   env: THREADS="1 2"  ITERS=20  MODELS="path.onnx[:NAME=SHAPE] ..."
#
# Models: ../shared/models/face-detect, face-embed, and the npm models in
# $KADR_HOME/models (default build/models-home, where setup.sh test puts them).
set -euo pipefail
cd "$(dirname "$0")/.."
KADR=${1:-build/src/cli/kadr}
ORT=build/ort-ref/ort-ref.js
THREADS=${THREADS:-"1 2"}
ITERS=${ITERS:-20}
HOME_MODELS=${KADR_HOME:-build/models-home}/models
[ -x "$KADR" ] || { echo "bench/nn.sh: $KADR not built (make build)" >&2; exit 1; }
[ -f "$ORT" ] || { echo "bench/nn.sh: $ORT missing (scripts/setup.sh test)" >&2; exit 1; }

if [ -z "${MODELS:-}" ]; then
  MODELS=""
  for f in ../shared/models/face-detect/*.onnx ../shared/models/face-embed/*.onnx; do
    case "$f" in
      *scrfd*) MODELS+=" $f:input.1=1x3x640x640" ;;
      *yunet_*_dynamic*) MODELS+=" $f:input=1x3x640x640" ;;
      *) MODELS+=" $f" ;;
    esac
  done
  for n in fr_detect fr_landmark fr_feature blazeface_back blazeface_front; do
    [ -f "$HOME_MODELS/$n.onnx" ] && MODELS+=" $HOME_MODELS/$n.onnx"
  done
fi

# Medians are the figure of merit; on a shared, loaded machine the minima
# (least disturbed runs) are printed beside them as a second view.
printf '%-24s %3s %9s %9s %6s %9s %9s %6s %8s %6s\n' model thr kadr_med ort_med ratio kadr_min ort_min ratio GFLOP/s peak%
for spec in $MODELS; do
  model=${spec%%:*}
  shape=(); [ "$spec" != "$model" ] && shape=(--shape "${spec#*:}")
  for t in $THREADS; do
    ortj=$(node "$ORT" "$model" --threads "$t" --iters "$ITERS" "${shape[@]}" --json 2>/dev/null || true)
    ort=$(sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p' <<<"$ortj")
    ortmin=$(sed -n 's/.*"min_ms":\([0-9.]*\).*/\1/p' <<<"$ortj")
    line=$("$KADR" nn bench "$model" --threads "$t" --iters "$ITERS" "${shape[@]}" 2>&1) || { echo "$model: $line"; continue; }
    med=$(sed -n 's/.*median=\([0-9.]*\)ms.*/\1/p' <<<"$line")
    kmin=$(sed -n 's/.* min=\([0-9.]*\)ms.*/\1/p' <<<"$line")
    gfs=$(sed -n 's/.* \([0-9.]*\) GFLOP\/s.*/\1/p' <<<"$line")
    awk -v m="$(basename "$model" .onnx)" -v t="$t" -v k="$med" -v o="${ort:-0}" -v km="$kmin" -v om="${ortmin:-0}" -v g="$gfs" \
      'BEGIN { printf "%-24s %3d %9.3f %9.3f %6.2f %9.3f %9.3f %6.2f %8.1f %5.0f%%\n", m, t, k, o, (o > 0 ? k / o : 0),
               km, om, (om > 0 ? km / om : 0), g, 100 * g / (116 * t) }'
  done
done
