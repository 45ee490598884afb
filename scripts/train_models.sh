#!/usr/bin/env bash
# Train the shipped motion models from scratch and copy them into talkinghead/assets.
#   bash scripts/train_models.sh [VIDEOS_DIR] [WORK_DIR]
# VIDEOS_DIR: real talking videos with sound (default ../shared/data), for the blink/brow and head-pose models; its
# English speech-only recordings, labelled by the phonetic lips, give the learned lips real voices to fine-tune on.
# The lips and the syncer learn first from a synthetic corpus (espeak-ng in 23 languages, and Festival's English
# voices, installed here from Debian when missing). About 40 minutes on a 2-core CPU (its steps, timed one by one).
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEOS=${1:-../shared/data}
WORK=${2:-build/train}
TH=.venv/bin/talkinghead
if ! command -v festival > /dev/null; then
  apt-get install -y -q festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
fi
mkdir -p "$WORK"
# English listed twice: a quarter of the corpus, most of it said by Festival's voices (recorded from real speakers)
LANGUAGES=en,en-us,en-gb,en,en-us,en-gb,de,fr,es,it,pt,nl,sv,pl,cs,tr,fi,id,sw,vi,ru,uk,el,cmn,ja,ko
$TH synth -o "$WORK/synth" --utterances 3000 --languages "$LANGUAGES" --quiet
$TH train syncer --data "$WORK/synth" -o "$WORK/syncer.pt" --steps 1500 --quiet
$TH train lips --data "$WORK/synth" -o "$WORK/lips_synth.pt" --steps 3000 --quiet
mkdir -p "$WORK/speech_src"
for f in sadtalker/RD_Radio31_000.wav sadtalker/RD_Radio34_002.wav echomimic/jane.wav echomimic/walden.wav \
         dreamtalk/acknowledgement_english.m4a dreamtalk/noisy_audio_cafeter_snr_0.wav musetalk/eng.wav; do
  ln -sf "$(realpath "$VIDEOS/$f")" "$WORK/speech_src/$(basename "$f")"
done
$TH label-speech "$WORK/speech_src" -o "$WORK/speech" --quiet
$TH train lips --data "$WORK/synth,$WORK/speech*20" -o "$WORK/lips.pt" --init "$WORK/lips_synth.pt" --steps 800 \
  --lr 3e-4 --quiet
$TH prepare "$VIDEOS" -o "$WORK/real" --quiet
$TH train expression --data "$WORK/real" -o "$WORK/expression.pt" --lips-weights "$WORK/lips.pt" --quiet
$TH train pose --data "$WORK/real" -o "$WORK/pose_diffusion.pt" --steps 1500 --quiet
$TH train pose-vae --data "$WORK/real" -o "$WORK/pose_vae.pt" --steps 1500 --quiet
for name in syncer lips expression pose_diffusion pose_vae; do
  .venv/bin/python -c "import sys; from talkinghead.motion.weights import export_weights as e; e(*sys.argv[1:])" \
    "$WORK/$name.pt" "talkinghead/assets/$name.pt"
done
ls -l talkinghead/assets
