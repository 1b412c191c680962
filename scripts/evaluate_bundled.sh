#!/usr/bin/env bash
# Evaluates the bundled pipelines on the synthetic domain: videos for held-out and training attribute
# combinations (python -m streamdit sample), prompt adherence by the analytic detector, temporal flicker,
# seam score, share of frame change inside chunks and frozen share (python -m eval); longer streams
# (N_STREAMS held-out prompts, STREAM_SECONDS each) for the motion figures; one side-by-side report, and the
# streaming benchmark.
# The mixed-vs-single-scheme ablation compares single-scheme with the teacher at the same step count
# (REFERENCE_TEACHER, written by train_bundled.sh), not with the longer-trained shipped teacher.
# Usage: bash scripts/evaluate_bundled.sh  (N_TEACHER / N_STUDENT prompts per split, SECONDS_PER_VIDEO, MODELS,
#   SEED: the first video's seed; a seed range not used while choosing a model gives an unbiased estimate)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/bundled/eval}
# 96 videos per split (each held-out triple on each background twice): with 48, the teacher matched 45 of
# the default seeds' videos and 38 of another 48 (seeds from 1000), more than the CI of either suggested.
N_TEACHER=${N_TEACHER:-96}
N_STUDENT=${N_STUDENT:-96}
SECONDS_PER_VIDEO=${SECONDS_PER_VIDEO:-1.5}
SEED=${SEED:-0}
N_STREAMS=${N_STREAMS:-48}
STREAM_SECONDS=${STREAM_SECONDS:-6}
REFERENCE_TEACHER=${REFERENCE_TEACHER:-runs/bundled/teacher-5000}
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"
results=()
read -r -a models <<< "${MODELS:-teacher single-scheme student}"  # e.g. MODELS="teacher student" after retraining those
[ -d "$REFERENCE_TEACHER" ] && models+=("$REFERENCE_TEACHER")
for model in "${models[@]}"; do
  name=$(basename "$model"); path=$model; [ -d "$path" ] || path="streamdit/bundled/$model"
  n=$N_TEACHER; [ "$name" = student ] && n=$N_STUDENT
  for split in heldout train; do
    dir="$OUT/videos/$name-$split"
    [ -f "$dir/prompts.txt" ] || $PY -m streamdit sample --model "$path" --out "$dir" \
      --split "$split" -n "$n" --seconds "$SECONDS_PER_VIDEO" --seed "$SEED"
    $PY -m eval adherence "$dir" --prompts "$dir/prompts.txt" --name "$name-$split" --no-progress \
      --out "$OUT/$name-$split-adherence.json"
    $PY -m eval consistency "$dir" --metrics flicker,seam,inside,frozen --name "$name-$split" --no-progress \
      --out "$OUT/$name-$split-consistency.json"
    results+=("$OUT/$name-$split-adherence.json" "$OUT/$name-$split-consistency.json")
  done
  dir="$OUT/videos/$name-streams"  # the motion figures on longer streams (the start-up chunk included)
  [ -f "$dir/prompts.txt" ] || $PY -m streamdit sample --model "$path" --out "$dir" --split heldout \
    -n "$N_STREAMS" --seconds "$STREAM_SECONDS" --seed "$SEED"
  $PY -m eval consistency "$dir" --metrics flicker,seam,inside,frozen --name "$name-streams" --no-progress \
    --out "$OUT/$name-streams-consistency.json"
  results+=("$OUT/$name-streams-consistency.json")
done
$PY -m eval report "${results[@]}" --out "$OUT/report"
$PY -m streamdit bench --model streamdit/bundled/teacher --model streamdit/bundled/student | tee "$OUT/bench.txt"
