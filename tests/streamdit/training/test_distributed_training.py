"""Training across processes through torchrun (gloo on CPU): DDP keeps the ranks identical, FSDP2 gives
the same weights as DDP with sharded checkpoints, and resumes from them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from streamdit.models.dit import StreamDiT
from streamdit.video_io import write_video

REPO = Path(__file__).resolve().parents[3]
TORCHRUN_LIMIT_S = 1200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    """A four-video folder dataset and a tiny model config."""
    root = tmp_path_factory.mktemp("distributed")
    rng = np.random.default_rng(0)
    rows = ["file_name,text"]
    for i, color in enumerate(["red", "green", "blue", "yellow"]):
        write_video(root / "data" / f"{i}.mp4", rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8), fps=8)
        rows.append(f"{i}.mp4,{color} noise")
    (root / "data" / "metadata.csv").write_text("\n".join(rows) + "\n")
    (root / "model.json").write_text(json.dumps(dict(
        buffer_frames=4, latent_height=4, latent_width=4, hidden_size=32, depth=2, num_heads=2, window_size=[4, 8, 8])))
    return root


def torchrun_train(root: Path, out: Path, steps: int, *extra: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "streamdit.training", "--cpu", "--out", str(out),
           "--config", str(root / "model.json"), "--data", str(root / "data"), "--autoencoder", "patch:2",
           "--steps", str(steps), "--batch-size", "2", "--lr", "1e-3", "--warmup-steps", "0",
           "--checkpoint-every", "2", "--log-every", "1", "--num-workers", "0", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    # a limit against a hung rendezvous, not a speed: two ranks share a loaded 2-core CI machine
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TORCHRUN_LIMIT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def ddp_run(setup) -> Path:
    """A 4-step DDP run on two ranks, shared by the tests that read it (each torchrun costs ~11 s)."""
    out = setup / "ddp"
    torchrun_train(setup, out, 4)
    return out


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return StreamDiT.from_pretrained(out / "final").state_dict()


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-6, rtol=1e-5, msg=name)


def back_to_step_2(out: Path) -> None:
    """Forget everything after the step-2 checkpoint, so that ``--resume`` starts there."""
    shutil.rmtree(out / "checkpoints" / "step-000004")
    shutil.rmtree(out / "final")


@pytest.mark.slow
@pytest.mark.timeout(2 * TORCHRUN_LIMIT_S)
def test_torchrun_two_processes_train_in_sync(ddp_run) -> None:
    out = ddp_run

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


@pytest.mark.slow
@pytest.mark.timeout(4 * TORCHRUN_LIMIT_S)  # four torchrun runs, with the shared DDP run
def test_fsdp_trains_like_ddp_with_sharded_checkpoints_and_resumes(setup, ddp_run) -> None:
    ddp, fsdp = setup / "ddp-ref", setup / "fsdp"
    shutil.copytree(ddp_run, ddp)  # a copy: resuming below rewrites it
    torchrun_train(setup, fsdp, 4, "--fsdp", "--gradient-checkpointing")

    ckpt = fsdp / "checkpoints" / "step-000004"
    assert sorted(p.name for p in (ckpt / "sharded").glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]
    assert not (ckpt / "model.safetensors").exists()  # no rank holds or writes the whole model
    assert json.loads((fsdp / "summary.json").read_text())["ranks_in_sync"]
    assert_same_weights(final_weights(fsdp), final_weights(ddp))  # same data, noise and update rule

    # Resuming restores the sharded model, optimizer moments and EMA: steps 3-4 again, as DDP does.
    for out in (ddp, fsdp):
        back_to_step_2(out)
    torchrun_train(setup, ddp, 4, "--resume")
    torchrun_train(setup, fsdp, 4, "--resume", "--fsdp")
    assert_same_weights(final_weights(fsdp), final_weights(ddp))
