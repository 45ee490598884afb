#!/usr/bin/env bash
# Train the shipped motion models from scratch and copy them into talkinghead/assets.
#   bash scripts/train_models.sh [VIDEOS_DIR] [WORK_DIR]
# VIDEOS_DIR: real talking videos with sound (default ../shared/data), for the blink/brow and head-pose models.
# The lips and the syncer learn first from a synthetic corpus (espeak-ng in 24 languages, and Festival's voices of
# real speakers in English, Italian, Catalan, Czech, Finnish and Russian, installed here from Debian when missing).
# About an hour on a 2-core CPU (its steps, timed one by one).
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEOS=${1:-../shared/data}
WORK=${2:-build/train}
TH=.venv/bin/talkinghead
VOICES="festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-italp16k festvox-itapc16k festvox-ca-ona-hts
        festvox-czech-dita festvox-czech-ph festvox-suopuhe-lj festvox-suopuhe-mv festvox-ru"
# shellcheck disable=SC2086
if ! command -v festival > /dev/null || ! dpkg -s $VOICES > /dev/null 2>&1; then
  apt-get install -y -q festival $VOICES
fi
mkdir -p "$WORK"
# English listed twice: a quarter of the corpus, most of it said by Festival's voices (recorded from real speakers)
LANGUAGES=en,en-us,en-gb,en,en-us,en-gb,de,fr,es,it,pt,nl,sv,pl,cs,tr,fi,id,sw,vi,ru,uk,el,cmn,ja,ko,ca
$TH synth -o "$WORK/synth" --utterances 3000 --languages "$LANGUAGES" --quiet
# a second corpus in the languages that have Festival voices, nearly all of it said by them (women's voices too)
$TH synth -o "$WORK/voices" --utterances 1200 --languages it,ca,cs,fi,ru,en,en-us --festival 0.9 --seed 1 --quiet
$TH train syncer --data "$WORK/synth" -o "$WORK/syncer.pt" --steps 1500 --quiet
$TH train lips --data "$WORK/synth,$WORK/voices" -o "$WORK/lips.pt" --steps 3000 --quiet
# the streaming lips (--lips causal): 90 ms of look-ahead (a frame waits 103 ms past its end), live phone posteriors;
# on an espeak-only corpus' exact labels and, distilled, on what the offline lips make of real speech recordings that
# no benchmarked clip's speaker says (audio-only files: every talking clip and long/ stay held out)
$TH synth -o "$WORK/synth_espeak" --utterances 2000 --languages "$LANGUAGES" --festival 0 --quiet
TEACHER_DATA=$(printf "$VIDEOS/%s*10," sadtalker dreamtalk echomimic musetalk videoretalking)
$TH train lips --data "$WORK/synth_espeak" -o "$WORK/lips_causal.pt" --steps 1500 --lookahead-ms 90 \
  --teacher "$WORK/lips.pt" --teacher-data "${TEACHER_DATA%,}" --quiet
$TH prepare "$VIDEOS" -o "$WORK/real" --quiet
# the syncer again on that real footage (lips in a typical speaker's units) beside 400 of the synthetic utterances,
# so that its scores mean agreement with real lips (held-out speakers: bench/finetune_loso.py --model syncer)
$TH synth -o "$WORK/synth400" --utterances 400 --languages "$LANGUAGES" --quiet
$TH train syncer --data "$WORK/synth400,$WORK/real*2" --init "$WORK/syncer.pt" -o "$WORK/syncer_real.pt" --steps 300 \
  --lr 1e-4 --quiet
$TH train expression --data "$WORK/real" -o "$WORK/expression.pt" --lips-weights "$WORK/lips.pt" --quiet
$TH train pose --data "$WORK/real" -o "$WORK/pose_diffusion.pt" --steps 1500 --quiet
$TH train pose-vae --data "$WORK/real" -o "$WORK/pose_vae.pt" --steps 1500 --quiet
for pair in syncer_real:syncer lips:lips lips_causal:lips_causal expression:expression pose_diffusion:pose_diffusion \
            pose_vae:pose_vae; do
  .venv/bin/python -c "import sys; from talkinghead.models.weights import export_weights as e; e(*sys.argv[1:])" \
    "$WORK/${pair%%:*}.pt" "talkinghead/assets/${pair##*:}.pt"
done
ls -l talkinghead/assets
