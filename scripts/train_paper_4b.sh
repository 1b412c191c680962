#!/usr/bin/env bash
# Measures training of the paper-scale model (4B parameters, 16-frame 512p buffer) under FSDP2:
# torchrun over the GPUs of this machine (or of several: pass torchrun's --nnodes/--node-rank/
# --rdzv-endpoint in TORCHRUN_ARGS), bf16 compute, activation checkpointing, sharded checkpoints.
# Data: the synthetic shapes domain rendered at 512x512 with 8x8 pixel patches as the "latents"
# (16 x 64 x 64, the paper's latent grid); the step time and memory are those of a real run, the
# model is not meant to be kept. OUT/log.jsonl has steps_per_s and peak_memory_gib per logged step.
#   GPUS=8 STEPS=30 BATCH=4 bash scripts/train_paper_4b.sh            # one machine, 8 GPUs
# Memory: the sharded training state is ~80 GB / GPUS (fp32 weights, gradients, two AdamW moments, EMA),
# so one 80 GB H100 cannot hold it; one H200 can (docs/scaling.md).
set -euo pipefail
cd "$(dirname "$0")/.."
GPUS=${GPUS:-1}
STEPS=${STEPS:-30}
BATCH=${BATCH:-1}
OUT=${OUT:-runs/paper-4b-fsdp}
PY=${PY:-.venv/bin/python}
rm -rf "$OUT"
PYTHONPATH=. "$PY" -m torch.distributed.run --nproc_per_node "$GPUS" ${TORCHRUN_ARGS:-} -m streamdit.training \
  --config paper-4b --data synthetic --autoencoder patch:8 --out "$OUT" \
  --fsdp --mixed-precision bf16 --gradient-checkpointing \
  --steps "$STEPS" --batch-size "$BATCH" --lr 1e-4 --warmup-steps 10 --log-every 1 \
  --checkpoint-every "$STEPS" --keep-checkpoints 1 --num-workers 4 "$@"
"$PY" - "$OUT" "$GPUS" "$BATCH" <<'PY'
import json, sys
from pathlib import Path
out, gpus, batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(line) for line in (out / "log.jsonl").open()]
m = json.loads((out / "train_config.json").read_text())["model"]
tokens = m["buffer_frames"] // m["patch_size"][0] * (m["latent_height"] // m["patch_size"][1]) * (m["latent_width"] // m["patch_size"][2])
elapsed = {r["step"]: r["step"] / r["steps_per_s"] for r in rows}  # steps_per_s is a running mean
mid, last = rows[len(rows) // 2]["step"], rows[-1]["step"]  # the second half: after warm-up
seconds = (elapsed[last] - elapsed[mid]) / (last - mid)
memory = max((r["peak_memory_gib"] for r in rows if "peak_memory_gib" in r), default=None)
print(f"FSDP training, {gpus} process(es) x batch {batch} of {tokens} tokens: {seconds:.2f} s/step, "
      f"{gpus * batch * tokens / seconds:,.0f} tokens/s, peak CUDA memory "
      + (f"{memory:.1f} GiB per GPU" if memory is not None else "n/a (CPU)"))
PY
