#!/usr/bin/env bash
# Train the shipped motion models from scratch and copy them into talkinghead/assets.
#   bash scripts/train_models.sh [VIDEOS_DIR] [WORK_DIR]
# VIDEOS_DIR: real talking videos with sound (default ../shared/data), for the blink/brow and head-pose models;
# the lips and the syncer learn from a synthetic espeak-ng corpus only. About 50 minutes on a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEOS=${1:-../shared/data}
WORK=${2:-build/train}
TH=.venv/bin/talkinghead
mkdir -p "$WORK"
$TH synth -o "$WORK/synth" --utterances 3000 --quiet
$TH train syncer --data "$WORK/synth" -o "$WORK/syncer.pt" --steps 500 --quiet
$TH train lips --data "$WORK/synth" -o "$WORK/lips.pt" --steps 3000 --quiet
$TH prepare "$VIDEOS" -o "$WORK/real" --quiet
$TH train expression --data "$WORK/real" -o "$WORK/expression.pt" --lips-weights "$WORK/lips.pt" --quiet
for name in syncer lips expression; do
  .venv/bin/python -c "import sys; from talkinghead.motion.weights import export_weights as e; e(sys.argv[1], sys.argv[2])" \
    "$WORK/$name.pt" "talkinghead/assets/$name.pt"
done
ls -l talkinghead/assets
