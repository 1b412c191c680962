#!/usr/bin/env bash
# Reproduces the bundled models end to end on the synthetic shapes domain:
#   teacher (chunk sizes 1, 2, 4 mixed) + single-scheme ablation (c = 2 only, the sampling scheme), trained
#   side by side -> distilled student. Sampling: buffer of 4 frames, c = 2 (K = 2), teacher s = 8 with
#   guidance 4 (16 steps per frame), student s = 1 without guidance (2 evaluations per frame),
# then copies the pipelines into streamdit/bundled/. Step counts can be overridden from the environment.
# The autoencoder is pixel space (8x8 patches). The small learned video autoencoder (python -m streamdit
# train-autoencoder) lost the objects' colours when trained with a plain loss (22.2 dB, detector 0/48 on
# its reconstructions); with saturated pixels weighted 10x it reached 26.2 dB and 40/48 in 1500 steps, and
# is the candidate to replace the pixel patches once a DiT trained on its latents is compared.
# Usage: bash scripts/train_bundled.sh  (or: make train-bundled)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/bundled}
TEACHER_STEPS=${TEACHER_STEPS:-3500}
STUDENT_STEPS=${STUDENT_STEPS:-400}
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"

train() {  # name chunk-sizes; one torch thread each: the two runs share the machine's cores
  OMP_NUM_THREADS=1 $PY -m streamdit train --config tiny --autoencoder patch:8 --data synthetic --chunk-sizes "$2" \
    --out "$OUT/$1" --steps "$TEACHER_STEPS" --batch-size 8 --lr 3e-4 --warmup-steps 200 --ema-decay 0.999 \
    --checkpoint-every 250 --num-workers 1 --sample-chunk-size 2 --sample-micro-steps 8 --sample-guidance 4 \
    --resume
}
train teacher 1,2,4 > "$OUT/teacher.log" 2>&1 &
train single-scheme 2 > "$OUT/single-scheme.log" 2>&1 &
wait

$PY -m streamdit distill --teacher "$OUT/teacher/pipeline" --out "$OUT/student" --steps "$STUDENT_STEPS" \
  --batch-size 4 --lr 1e-4 --warmup-steps 20 --ema-decay 0.99 --checkpoint-every 100 --num-workers 1 --resume \
  > "$OUT/student.log" 2>&1

mkdir -p streamdit/bundled
for name in teacher single-scheme student; do
  rm -rf "streamdit/bundled/$name"
  cp -r "$OUT/$name/pipeline" "streamdit/bundled/$name"
done
echo "bundled pipelines written to streamdit/bundled/{teacher,single-scheme,student}"
