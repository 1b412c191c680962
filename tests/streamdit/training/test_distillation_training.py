"""DistillationTrainer and `python -m streamdit distill` on a small random teacher (plumbing + learning)."""

from __future__ import annotations

from dataclasses import replace

import itertools
import json
from functools import partial

import pytest
import torch
from accelerate.state import AcceleratorState
from small_models import randomise  # on the path via tests/streamdit/conftest.py

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder, video_to_tensor
from streamdit.training.cli import distill_main
from streamdit.training.distillation import DistillationTrainer
from streamdit.training.objectives import distillation_loss, noised_buffer, segment_states, student_rollout
from streamdit.training.trainer import TrainConfig

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
                                         config=PipelineConfig(chunk_size=2, micro_steps=2, guidance=2.0, shift=2.0),
                                         **SMALL)
    randomise(pipe.model)
    return pipe


def synthetic_clips(seed: int):
    from streamdit import data

    return data.stream(seed, num_frames=4, resolution=32)


def segment_loss_before_and_after_training(trainer: DistillationTrainer, teacher: StreamDiTPipeline,
                                           buffer) -> tuple[float, float]:
    """The steady-state segment loss on one fixed batch, whose buffer ``buffer(latents, text, state)`` makes,
    before and after ``trainer.train()``."""
    videos, captions, _ = next(trainer._batches())
    latents = teacher.autoencoder.encode(video_to_tensor(videos))
    text = teacher.text_encoder.encode(captions)
    state = segment_states(teacher.schedule)[0]
    x = buffer(latents, text, state)
    velocity = lambda x, t: trainer.teacher_velocity(text, x, t)

    def loss() -> float:
        with torch.no_grad():
            return distillation_loss(trainer.unwrapped, velocity, teacher.schedule, x, text.tokens, text.mask,
                                     state).item()

    before = loss()
    trainer.train()
    return before, loss()


def test_distillation_reduces_the_segment_loss_plumbing_random_teacher(teacher, tmp_path) -> None:
    config = TrainConfig(steps=60, batch_size=4, lr=1e-3, warmup_steps=1, checkpoint_every=1000, num_workers=0,
                         cond_dropout=0.0)
    trainer = DistillationTrainer(teacher, synthetic_clips, config, tmp_path / "run", steady_fraction=1.0)

    def noised(latents, text, state):
        noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1))
        return noised_buffer(latents, teacher.schedule, state[0], noise)

    before, after = segment_loss_before_and_after_training(trainer, teacher, noised)
    assert after < 0.5 * before, f"segment loss {before:.4f} -> {after:.4f}"
    assert not any(p.requires_grad for p in trainer.teacher.parameters())


def test_teacher_velocity_is_uncond_plus_guidance_times_cond_minus_uncond_random_teacher(teacher, tmp_path) -> None:
    config = TrainConfig(steps=1, batch_size=2, num_workers=0, cond_dropout=0.0)
    trainer = DistillationTrainer(teacher, synthetic_clips, config, tmp_path / "run")
    text = teacher.text_encoder.encode(["a red circle moving left", "a blue square moving up"])
    x = torch.randn(2, teacher.model.config.in_channels, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([[0.1, 0.1, 0.6, 0.6], [0.3, 0.3, 0.9, 0.9]])
    null = trainer.null_text.repeat(2)
    with torch.no_grad():
        cond = trainer.teacher(x, t, text.tokens, text.mask)
        uncond = trainer.teacher(x, t, null.tokens, null.mask)
        guided = trainer.teacher_velocity(text, x, t)
    assert (cond - uncond).abs().max() > 1e-2  # the prompt matters to this teacher
    torch.testing.assert_close(guided, uncond + 2.0 * (cond - uncond), rtol=1e-4, atol=1e-5)
    # a teacher that guides only at t >= 0.5 is distilled as it samples: its cleaner frames unguided
    limited = StreamDiTPipeline(teacher.model, teacher.text_encoder, teacher.autoencoder,
                                replace(teacher.config, guidance_min_t=0.5))
    with torch.no_grad():
        interval = DistillationTrainer(limited, synthetic_clips, config, tmp_path / "run2").teacher_velocity(text, x, t)
    expected = torch.where((t >= 0.5)[:, None, :, None, None], uncond + 2.0 * (cond - uncond), cond)
    torch.testing.assert_close(interval, expected, rtol=1e-4, atol=1e-5)


def test_distill_command_writes_a_one_step_student_pipeline(teacher, tmp_path, monkeypatch) -> None:
    import streamdit.training.distillation as distillation

    dt_powers = []
    monkeypatch.setattr(distillation, "distillation_loss",
                        lambda *args: dt_powers.append(args[-1]) or distillation_loss(*args))
    StreamDiTPipeline(teacher.model, teacher.text_encoder, teacher.autoencoder,
                      replace(teacher.config, guidance_min_t=0.5)).save_pretrained(tmp_path / "teacher")
    assert distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "student"), "--steps", "3",
                 "--batch-size", "2", "--num-workers", "0", "--cpu", "--checkpoint-every", "3",
                 "--dt-power", "2"]) == 0
    assert dt_powers == [2.0] * 3
    config = json.loads((tmp_path / "student" / "pipeline" / "pipeline.json").read_text())
    assert config["micro_steps"] == 1 and config["guidance"] is None and config["chunk_size"] == 2
    assert config["guidance_min_t"] == 0.0  # the student has its teacher's guidance built in
    assert config["shift"] == 2.0
    student = StreamDiTPipeline.from_pretrained(tmp_path / "student" / "pipeline", text_encoder=teacher.text_encoder)
    assert student.schedule.scheme.total_steps == 2  # K evaluations per frame
    with student.stream("a red circle moving left", seed=0) as stream:
        chunks = list(itertools.islice(stream, 3))
    assert [c.shape for c in chunks] == [(2, 32, 32, 3)] * 3
    assert stream.stats.evaluations <= 2 + 3 + 2  # one evaluation per chunk after start-up, no CFG pass


def test_rollout_distillation_learns_on_the_students_own_buffers_plumbing_random_teacher(teacher, tmp_path,
                                                                                         monkeypatch) -> None:
    """With every steady-state step on a rolled-out buffer (1..K chunks), the loss on such buffers falls."""
    import streamdit.training.distillation as distillation

    rolled = []
    monkeypatch.setattr(distillation, "student_rollout",
                        lambda *args: rolled.append(args[-1]) or student_rollout(*args))
    config = TrainConfig(steps=60, batch_size=4, lr=1e-3, warmup_steps=1, checkpoint_every=1000, num_workers=0,
                         cond_dropout=0.0)
    trainer = DistillationTrainer(teacher, synthetic_clips, config, tmp_path / "run", steady_fraction=1.0,
                                  rollout_fraction=1.0)

    def rolled_out(latents, text, state):
        torch.manual_seed(1)
        return student_rollout(partial(trainer.student_velocity, text), teacher.schedule,
                               noised_buffer(latents, teacher.schedule, state[0]), 2)

    before, after = segment_loss_before_and_after_training(trainer, teacher, rolled_out)
    assert after < 0.5 * before, f"segment loss on rolled-out buffers {before:.4f} -> {after:.4f}"
    assert len(rolled) == 60 and set(rolled) == {1, 2}  # K = 2 chunks of 2 frames


def test_distill_init_from_starts_at_the_given_student(teacher, tmp_path, capsys) -> None:
    """--init-from: the student starts from those weights, not from a copy of the teacher."""
    teacher.save_pretrained(tmp_path / "teacher")
    assert distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "first"), "--steps", "2",
                 "--batch-size", "2", "--num-workers", "0", "--cpu", "--lr", "1e-2", "--warmup-steps", "1",
                 "--ema-decay", "0", "--checkpoint-every", "2"]) == 0
    first = StreamDiTPipeline.from_pretrained(tmp_path / "first" / "pipeline", text_encoder=teacher.text_encoder)
    AcceleratorState._reset_state(reset_partial_state=True)
    config = TrainConfig(steps=1, batch_size=2, num_workers=0, cond_dropout=0.0)
    trainer = DistillationTrainer(teacher, synthetic_clips, config, tmp_path / "second", student=first.model)
    for ours, theirs in zip(trainer.unwrapped.parameters(), first.model.parameters()):
        torch.testing.assert_close(ours, theirs)
    assert any(not torch.equal(a, b) for a, b in zip(first.model.parameters(), teacher.model.parameters()))
    AcceleratorState._reset_state(reset_partial_state=True)
    assert distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "third"), "--steps", "1",
                 "--batch-size", "2", "--num-workers", "0", "--cpu", "--rollout-fraction", "1",
                 "--init-from", str(tmp_path / "first" / "pipeline")]) == 0
    with pytest.raises(SystemExit):
        distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "fifth"), "--rollout-fraction", "1.5"])
    assert "--rollout-fraction must be in [0, 1]" in capsys.readouterr().err
    wide = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=teacher.text_encoder,
                                         config=teacher.config, **{**SMALL, "hidden_size": 32})
    wide.save_pretrained(tmp_path / "wide")
    AcceleratorState._reset_state(reset_partial_state=True)
    with pytest.raises(SystemExit, match="architecture differs"):
        distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "sixth"), "--steps", "1", "--cpu",
              "--init-from", str(tmp_path / "wide")])
    with pytest.raises(SystemExit, match="no such student"):
        distill_main(["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "fourth"), "--steps", "1", "--cpu",
              "--init-from", str(tmp_path / "missing")])


def test_distill_resume_continues_from_the_latest_checkpoint(teacher, tmp_path, capsys) -> None:
    teacher.save_pretrained(tmp_path / "teacher")
    args = ["--teacher", str(tmp_path / "teacher"), "--out", str(tmp_path / "student"), "--batch-size", "2",
            "--num-workers", "0", "--cpu", "--lr", "1e-2", "--warmup-steps", "1", "--ema-decay", "0",
            "--checkpoint-every", "2", "--log-every", "1"]
    assert distill_main([*args, "--steps", "2"]) == 0
    after_two = StreamDiTPipeline.from_pretrained(tmp_path / "student" / "pipeline", text_encoder=teacher.text_encoder)
    AcceleratorState._reset_state(reset_partial_state=True)
    with pytest.raises(FileExistsError, match="resume"):
        distill_main([*args, "--steps", "3"])
    AcceleratorState._reset_state(reset_partial_state=True)
    assert distill_main([*args, "--steps", "2", "--resume"]) == 0  # nothing left to do: the checkpoint's student again
    again = StreamDiTPipeline.from_pretrained(tmp_path / "student" / "pipeline", text_encoder=teacher.text_encoder)
    for a, b in zip(after_two.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(again.model.parameters(), teacher.model.parameters()))
    AcceleratorState._reset_state(reset_partial_state=True)
    assert distill_main([*args, "--steps", "3", "--resume"]) == 0
    assert "at step 2" in capsys.readouterr().out
    log = [json.loads(line)["step"] for line in (tmp_path / "student" / "log.jsonl").read_text().splitlines()]
    assert log == [1, 2, 3]
    third = StreamDiTPipeline.from_pretrained(tmp_path / "student" / "pipeline", text_encoder=teacher.text_encoder)
    assert any(not torch.equal(a, b) for a, b in zip(third.model.parameters(), again.model.parameters()))
