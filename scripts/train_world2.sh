#!/usr/bin/env bash
# World v2 (256x256 scenes, docs/architecture.md §7): the models' recipe, stage by stage. Every stage is
# resumable: run the script again after an interruption and each stage goes on from its last checkpoint
# (a finished stage is skipped). It holds the latent space, the teacher, the student and the single-scheme
# ablation; once its models meet their targets it replaces scripts/train_bundled.sh (world v1) behind
# `make train-bundled`.
#   1. video autoencoder: 4x time, 16x space (4x4 pixel patches, two stride-2 stages of widths 64 and 128,
#      a residual block in each), 32 channels: a 256x256 latent frame is 16x16x32, as many latent pixels as
#      world v1's 128x128 with 8x. (With 16 channels, after 6000 steps, the shapes of small stars and crosses
#      came back as blobs: the detector read 16 of 24 objects' shapes from reconstructions, every colour and
#      background; with 32 channels and no block in the stages, small crosses still read as squares and
#      small objects as large in 4 of 24 scenes each.)
#      Trained on 128x128 crops around an object of 256x256 renders (convolutions see the textures at their
#      size, a quarter of the pixels per step), bf16 autocast, AE_STEPS steps.
#   2. a motion head (as world v1's: velocity field from each latent and the one before, keyframe warped
#      to each frame, carried keyframe; the first group, with no latent before it, scored too), trained for
#      AE_MOTION_STEPS steps together with the encoder and decoder (--train all): with the head alone the
#      decoder drew each group's blurred mean, so fast small objects came back long and read as large.
#      The result ships as streamdit/bundled/world2/autoencoder (fp16): with it there, later runs start at stage
#      3 on the same latent space (AE=new trains a new one and replaces it).
#   3. a latent cache: CLIPS training clips encoded once (`streamdit encode-latents`; rendering and encoding a
#      clip at 256x256 cost more than the DiT's step on it), which every DiT stage reads epoch after epoch,
#      with each clip's foreground flags (the latent pixels an object touches).
#   4. teacher (chunk sizes 1, 2, 4, 8 mixed), then the single-scheme ablation (c = 2 only), each
#      ABLATION_STEPS steps at the same budget on the same cached clips, encoded by the autoencoder of
#      stage 2 (AE): the `world2` preset (8 latent frames of 16x16, 2x2 patches, width
#      256, 7 blocks), text layers -1 and 0 from the start and the training time shift 4 (world v1 learnt
#      both only in fine-tunes, each of which lifted its adherence), bf16 autocast, compiled (`--compile`: 1.4x
#      faster steps here), and the loss on the latent
#      pixels that hold an object weighted FOREGROUND_WEIGHT times (unweighted, a teacher drew the textured
#      backgrounds and few objects after 10,000 steps: objects cover a few per cent of the latent pixels).
#   5-7. the teacher's longer run, the student distilled from it, the ablation (below).
# Step counts can be overridden from the environment; AE=DIR starts from another trained latent space. Usage:
# bash scripts/train_world2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/world2}
AE_STEPS=${AE_STEPS:-6000}
AE_MOTION_STEPS=${AE_MOTION_STEPS:-3000}
ABLATION_STEPS=${ABLATION_STEPS:-5000}
TEACHER_STEPS=${TEACHER_STEPS:-15000}
COOLDOWN_STEPS=${COOLDOWN_STEPS:-3000}
STUDENT_STEPS=${STUDENT_STEPS:-3000}
STUDENT_COOLDOWN_STEPS=${STUDENT_COOLDOWN_STEPS:-1000}
CLIPS=${CLIPS:-12000}
FOREGROUND_WEIGHT=${FOREGROUND_WEIGHT:-5}
SHIPPED_AE=streamdit/bundled/world2/autoencoder
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"

resume_flag() { [ -f "$1/checkpoint.pt" ] && echo --resume || true; }

if [ -z "${AE:-}" ] && [ -f "$SHIPPED_AE/model.safetensors" ]; then AE=$SHIPPED_AE; fi
if [ -z "${AE:-}" ] || [ "$AE" = new ]; then
  [ -f "$OUT/autoencoder/model.safetensors" ] || $PY -m streamdit train-autoencoder --out "$OUT/autoencoder" --world v2 \
    --latent-channels 32 --patch-size 4 --widths 64 128 --stage-blocks 1 --frames 8 --crop 128 --batch-size 8 --lr 1e-3 \
    --steps "$AE_STEPS" --mixed-precision bf16 --checkpoint-every 250 $(resume_flag "$OUT/autoencoder") \
    >> "$OUT/autoencoder.log" 2>&1
  [ -f "$OUT/autoencoder-motion/model.safetensors" ] || $PY -m streamdit train-autoencoder --out "$OUT/autoencoder-motion" \
    --world v2 --motion-from "$OUT/autoencoder" --train all --context-latents 1 --carry-keyframe --motion-weight 1 \
    --latent-noise 0.05 --frames 12 --crop 128 --steps "$AE_MOTION_STEPS" --batch-size 8 --lr 5e-4 \
    --mixed-precision bf16 --checkpoint-every 250 $(resume_flag "$OUT/autoencoder-motion") \
    >> "$OUT/autoencoder-motion.log" 2>&1
  rm -rf "$SHIPPED_AE" && mkdir -p "$SHIPPED_AE"
  cp "$OUT/autoencoder-motion/config.json" "$OUT/autoencoder-motion/model.safetensors" "$SHIPPED_AE/"
  $PY scripts/store_fp16.py "$SHIPPED_AE/model.safetensors"
  AE=$SHIPPED_AE
fi
[ -f "$OUT/latents/latents.json" ] || $PY -m streamdit encode-latents --out "$OUT/latents" --data synthetic-v2 \
  --autoencoder "$AE" --config world2 --clips "$CLIPS" --mixed-precision bf16 >> "$OUT/latents.log" 2>&1

train() {  # name chunk-sizes steps [more options]; resumes from the run's checkpoints
  $PY -m streamdit train --config world2 --autoencoder "$AE" --data "$OUT/latents" --text-layers=-1,0 \
    --chunk-sizes "$2" --out "$OUT/$1" --steps "$3" --batch-size 8 --lr 5e-4 --warmup-steps 200 --ema-decay 0.999 \
    --shift 4 --mixed-precision bf16 --checkpoint-every 250 --num-workers 0 --sample-guidance 4 --sample-shift 4 \
    --fps 16 --foreground-weight "$FOREGROUND_WEIGHT" --compile --resume "${@:4}"
}
ABLATION_SAMPLER=(--sample-chunk-size 2 --sample-micro-steps 8)  # the single scheme's own
# one after the other, each with every core: the teacher (which the student needs) first; its pipeline at the
# ablation's budget is kept as teacher-ABLATION_STEPS, the ablation's reference
if [ ! -d "$OUT/teacher-$ABLATION_STEPS" ]; then
  train teacher 1,2,4,8 "$ABLATION_STEPS" "${ABLATION_SAMPLER[@]}" >> "$OUT/teacher.log" 2>&1
  cp -r "$OUT/teacher/pipeline" "$OUT/teacher-$ABLATION_STEPS"
fi
# 5. the teacher goes on to TEACHER_STEPS, its learning rate decaying linearly to 0 over the last COOLDOWN_STEPS;
#    it streams with c = 1 (K = 8) and s = 2: 16 steps per frame, as world v1's teacher.
train teacher 1,2,4,8 "$TEACHER_STEPS" --cooldown-steps "$COOLDOWN_STEPS" --sample-chunk-size 1 \
  --sample-micro-steps 2 >> "$OUT/teacher.log" 2>&1
# 6. the student: one evaluation per chunk of 4 frames, no guidance, half its steps on buffers it streamed
#    forward itself (world v1's last recipe), the learning rate decaying to 0 over the last STUDENT_COOLDOWN_STEPS
$PY -m streamdit distill --teacher "$OUT/teacher/pipeline" --out "$OUT/student" --data "$OUT/latents" \
  --steps "$STUDENT_STEPS" --cooldown-steps "$STUDENT_COOLDOWN_STEPS" --batch-size 4 --lr 1e-4 --warmup-steps 20 \
  --ema-decay 0.99 --rollout-fraction 0.5 --mixed-precision bf16 --checkpoint-every 100 --num-workers 0 --resume \
  >> "$OUT/student.log" 2>&1
# 7. the single-scheme ablation, at the teacher-ABLATION_STEPS budget
train single-scheme 2 "$ABLATION_STEPS" "${ABLATION_SAMPLER[@]}" >> "$OUT/single-scheme.log" 2>&1
echo "world v2: latent space $AE, teacher at step $TEACHER_STEPS, student, ablation at step $ABLATION_STEPS in $OUT"
