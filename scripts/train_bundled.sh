#!/usr/bin/env bash
# Reproduces the bundled models end to end on the synthetic shapes domain:
#   autoencoder -> teacher (mixed schemes) + single-scheme ablation -> distilled student -> evaluation,
# then copies the pipelines into streamdit/bundled/. Step counts can be overridden from the environment.
# Usage: bash scripts/train_bundled.sh  (or: make train-bundled)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/bundled}
AE_STEPS=${AE_STEPS:-1500}
TEACHER_STEPS=${TEACHER_STEPS:-3000}
STUDENT_STEPS=${STUDENT_STEPS:-600}
THREADS=${THREADS:-1}          # torch threads per run; the teacher and the ablation train side by side
export OMP_NUM_THREADS=$THREADS HF_HUB_OFFLINE=1
mkdir -p "$OUT"

[ -f "$OUT/autoencoder/model.safetensors" ] || \
  $PY -m streamdit train-autoencoder --out "$OUT/autoencoder" --steps "$AE_STEPS" --batch-size 8 --lr 2e-3

train() {  # name chunk-sizes
  $PY -m streamdit train --config tiny --autoencoder "$OUT/autoencoder" --data synthetic --chunk-sizes "$2" \
    --out "$OUT/$1" --steps "$TEACHER_STEPS" --batch-size 8 --lr 5e-4 --warmup-steps 200 --ema-decay 0.999 \
    --checkpoint-every 500 --num-workers 1 --sample-chunk-size 1 --sample-micro-steps 4 --sample-guidance 4 \
    --resume
}
train teacher 1,2,4 > "$OUT/teacher.log" 2>&1 &
train single-scheme 1 > "$OUT/single-scheme.log" 2>&1 &
wait

$PY -m streamdit distill --teacher "$OUT/teacher/pipeline" --out "$OUT/student" --steps "$STUDENT_STEPS" \
  --batch-size 8 --lr 1e-4 --warmup-steps 50 --ema-decay 0.99 --checkpoint-every 200 --num-workers 1 --resume

for name in teacher single-scheme student; do
  rm -rf "streamdit/bundled/$name"
  mkdir -p streamdit/bundled
  cp -r "$OUT/$name/pipeline" "streamdit/bundled/$name"
done
echo "bundled pipelines written to streamdit/bundled/{teacher,single-scheme,student}"
