"""Two-process DDP training through torchrun (gloo on CPU): both ranks end with identical weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamdit.model import StreamDiT
from streamdit.video_io import write_video

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_processes_train_in_sync(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rows = ["file_name,text"]
    for i, color in enumerate(["red", "green", "blue", "yellow"]):
        write_video(tmp_path / "data" / f"{i}.mp4", rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8), fps=8)
        rows.append(f"{i}.mp4,{color} noise")
    (tmp_path / "data" / "metadata.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "model.json").write_text(json.dumps(dict(
        buffer_frames=4, latent_height=4, latent_width=4, hidden_size=32, depth=2, num_heads=2, window_size=[4, 8, 8])))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "streamdit.training", "--cpu", "--out", str(out),
           "--config", str(tmp_path / "model.json"), "--data", str(tmp_path / "data"), "--autoencoder", "patch:2",
           "--steps", "4", "--batch-size", "2", "--lr", "1e-3", "--warmup-steps", "0", "--checkpoint-every", "2",
           "--log-every", "1", "--num-workers", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 4
    digests, losses = summary["rank_weight_digests"], summary["rank_mean_losses"]
    assert len(digests) == 2 and digests[0] == digests[1]  # DDP kept the replicas bit-identical
    assert losses[0] != losses[1]  # ... while each rank trained on its own data and noise
    assert [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    ckpt = out / "checkpoints" / "step-000004"
    assert (ckpt / "random_states_0.pkl").is_file() and (ckpt / "random_states_1.pkl").is_file()
    final = StreamDiT.from_pretrained(out / "final")
    assert final.config.in_channels == 12 and final.config.hidden_size == 32
