"""DistillationTrainer and `python -m streamdit distill` on a small random teacher (plumbing + learning)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from accelerate.state import AcceleratorState

from streamdit import SamplerConfig, StreamDiTPipeline
from streamdit.autoencoder import PatchAutoencoder, video_to_tensor
from streamdit.distillation import DistillationTrainer, distillation_loss, main, segment_states
from streamdit.training import TrainConfig

SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, patch_size=(1, 1, 1), hidden_size=64, depth=2,
             num_heads=2, window_size=(4, 4, 4))


@pytest.fixture(autouse=True)
def one_thread_fresh_accelerator():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture
def teacher(text_encoder) -> StreamDiTPipeline:
    """A random teacher (adaLN gates randomised so it is not the zero map), 32x32 video, s = 2, guidance 2."""
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=text_encoder,
                                         sampler=SamplerConfig(chunk_size=2, micro_steps=2, guidance=2.0, shift=2.0),
                                         **SMALL)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in pipe.model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return pipe


def synthetic_clips(seed: int):
    from streamdit import data

    return data.stream(seed, num_frames=4, resolution=32)


def test_distillation_reduces_the_segment_loss_plumbing_random_teacher(teacher, tmp_path) -> None:
    config = TrainConfig(steps=60, batch_size=4, lr=1e-3, warmup_steps=1, checkpoint_every=1000, num_workers=0,
                         cond_dropout=0.0)
    trainer = DistillationTrainer(teacher, synthetic_clips, config, tmp_path / "run", steady_fraction=1.0)
    videos, captions = next(trainer._batches())
    latents = teacher.autoencoder.encode(video_to_tensor(videos))
    text = teacher.text_encoder.encode(captions)
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1))
    velocity = lambda x, t: trainer.teacher_velocity(text, x, t)
    state = segment_states(teacher.schedule)[0]

    def loss() -> float:
        with torch.no_grad():
            return distillation_loss(trainer.unwrapped, velocity, teacher.schedule, latents, text.tokens, text.mask,
                                     state, noise).item()

    before = loss()
    trainer.train()
    after = loss()
    assert after < 0.5 * before, f"segment loss {before:.4f} -> {after:.4f}"
    assert not any(p.requires_grad for p in trainer.teacher.parameters())


def test_distill_command_writes_a_one_step_student_pipeline(teacher, tmp_path) -> None:
    teacher.save_pretrained(tmp_path / "teacher")
    assert main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "student"), "--steps", "3",
                 "--batch-size", "2", "--num-workers", "0", "--cpu", "--checkpoint-every", "3"]) == 0
    config = json.loads((tmp_path / "student" / "pipeline" / "pipeline.json").read_text())
    assert config["micro_steps"] == 1 and config["guidance"] is None and config["chunk_size"] == 2
    assert config["shift"] == 2.0
    student = StreamDiTPipeline.from_pretrained(tmp_path / "student" / "pipeline", text_encoder=teacher.text_encoder)
    assert student.schedule.scheme.total_steps == 2  # K evaluations per frame
    with student.stream("a red circle moving left", seed=0) as stream:
        chunks = list(itertools.islice(stream, 3))
    assert [c.shape for c in chunks] == [(2, 32, 32, 3)] * 3
    assert stream.stats.evaluations <= 2 + 3 + 2  # one evaluation per chunk after start-up, no CFG pass
