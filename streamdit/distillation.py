"""Multistep distillation per segment (docs/architecture.md §2.5).

The teacher streams with ``(K, c, s)``: every frame crosses ``T = K * s`` grid steps. The grid is split
into ``K`` segments of ``s`` steps, one per chunk position. The student, initialised from the teacher,
learns to cross a whole segment in **one** Euler step, classifier-free guidance included, so it streams
with ``(K, c, 1)`` on the coarse grid ``grid[::s]`` (the same points, because the grid is one shifted
``linspace``): ``K`` evaluations per frame, one per emitted chunk, and no unconditional pass.

How targets are made (our choice): take a training clip's latents ``x_0``, put every frame at the
noise level of a buffer state the student meets while streaming (the steady state at the start of a
cycle, or a start-up state) by forward noising ``(1 - t) x_0 + t eps``, run the teacher's own
sampler over the segment (``s`` guided Euler micro-steps with the exact code of the streaming loop),
and regress the student's one-step velocity onto the velocity that lands on the teacher's result:
``v* = (x_teacher - x) / (t_next - t)`` per frame. Frames that wait during start-up (``t_next = t``)
are left out of the loss.

Exposure: forward-noised clips are the buffers of a *perfect* stream. While streaming, the front chunks of
the buffer hold what the student itself made in its earlier steps, errors included. With
``rollout_fraction > 0`` that share of steady-state targets starts from such a buffer: the noised clip
is first streamed ``1..K`` chunks forward by the student (one step, then the shift that drops the front
chunk and appends a noise chunk; :func:`student_rollout`), and the teacher's segment from there is the
target, so the student learns to correct its own drift (as in DAgger-style on-policy distillation).
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
from accelerate import Accelerator

from streamdit.pipeline import StreamDiTPipeline
from streamdit.sampler import VelocityFn, euler_step, guided_velocity
from streamdit.schedule import BufferSchedule
from streamdit.text import TextEmbedding
from streamdit.training import Sample, TrainConfig, Trainer, make_accelerator, training_data
from streamdit.wan import load_transformer, model_directory


def segment_states(teacher: BufferSchedule) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every (start, end) pair of per-frame teacher grid indices the student crosses in one step.

    Steady state: chunk ``k`` from ``(K-1-k) s`` to ``(K-k) s``. Start-up: the uniform run's segments,
    every frame from ``m`` to ``m + s`` for ``m = 0, s, ..., (K-2) s``.
    """
    s, frames = teacher.scheme.micro_steps, teacher.scheme.buffer_frames
    steady = teacher.steady_indices(0)[0]
    states = [(steady, steady + s)]
    for m in range(0, teacher.warmup_steps, s):
        states.append((torch.full((frames,), m), torch.full((frames,), m + s)))
    return states


def teacher_segment(velocity: VelocityFn, teacher: BufferSchedule, x: torch.Tensor, start: torch.Tensor,
                    end: torch.Tensor) -> torch.Tensor:
    """Run the teacher's micro-steps from per-frame grid indices ``start`` until each frame reaches ``end``."""
    current = start.clone()
    for _ in range(int((end - start).max())):
        nxt = torch.minimum(current + 1, end)
        x = euler_step(velocity, x, *teacher.step_times(current, nxt))
        current = nxt
    return x


def noised_buffer(latents: torch.Tensor, teacher: BufferSchedule, start: torch.Tensor,
                  noise: torch.Tensor | None = None) -> torch.Tensor:
    """Clip latents forward-noised to the per-frame grid indices ``start``: ``(1 - t) x_0 + t eps``."""
    if noise is None:
        noise = torch.randn_like(latents)
    t = teacher.grid.to(latents.device)[start.to(latents.device)].to(latents.dtype).view(1, 1, -1, 1, 1)
    return (1 - t) * latents + t * noise


@torch.no_grad()
def student_rollout(student_velocity: VelocityFn, teacher: BufferSchedule, x: torch.Tensor,
                    chunks: int) -> torch.Tensor:
    """Stream a steady-state buffer ``chunks`` chunks forward with the student, as the distilled sampler does.

    Each chunk is one student step across the segment (``s`` teacher steps) and the shift: the front chunk
    leaves, a noise chunk enters at the back. The result is again a steady-state buffer, whose front
    ``chunks`` chunks the student has (partly) made itself.
    """
    start, end = (idx.to(x.device) for idx in segment_states(teacher)[0])
    c = teacher.scheme.chunk_size
    for _ in range(chunks):
        x = euler_step(student_velocity, x, *teacher.step_times(start, end))
        x = torch.cat([x[:, :, c:], torch.randn_like(x[:, :, :c])], dim=2)
    return x


def distillation_loss(student: torch.nn.Module, teacher_velocity: VelocityFn, teacher: BufferSchedule,
                      x: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                      state: tuple[torch.Tensor, torch.Tensor], dt_power: float = 0.0) -> torch.Tensor:
    """MSE between the student's one-step velocity and the velocity reaching the teacher's segment result.

    ``x`` is the buffer at the per-frame grid indices ``state[0]`` (:func:`noised_buffer`, optionally
    :func:`student_rollout`); ``teacher_velocity(x, t)`` is the guided teacher (conditioned on the same
    text); ``state`` is a (start, end) pair from :func:`segment_states`.

    ``dt_power`` weights each frame's error by ``|dt| ** dt_power`` (weights normalised to sum 1), ``dt``
    being the length of the frame's segment: 0 is the plain velocity MSE (every segment alike), 2 is
    proportional to the MSE of the step's end point ``x + dt v`` (the long last segment, where the clean
    frame takes its final shape, dominates).
    """
    start, end = (idx.to(x.device) for idx in state)
    grid = teacher.grid.to(x.device)
    t, t_next = grid[start], grid[end]
    with torch.no_grad():
        target_x = teacher_segment(teacher_velocity, teacher, x, start, end)
    moving = end > start
    dt = (t_next - t).to(x.dtype)
    target_v = (target_x - x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)
    pred = student(x, t.to(x.dtype).expand(x.shape[0], -1), text_tokens, text_mask)
    error = (pred[:, :, moving].float() - target_v.float()).pow(2).mean(dim=(0, 1, 3, 4))  # per frame
    weight = dt[moving].abs().float() ** dt_power
    return (weight * error).sum() / weight.sum()


class DistillationTrainer(Trainer):
    """Distils a teacher pipeline into a student with the segment loss.

    The student starts as a copy of the teacher, or as ``student`` (e.g. an earlier distilled student,
    to distil on from a fine-tuned teacher). Each step draws the steady-state segment with probability
    ``steady_fraction`` and otherwise one of the start-up segments; a share ``rollout_fraction`` of the
    steady-state steps starts from the student's own roll-out (:func:`student_rollout`, ``1..K`` chunks);
    ``dt_power`` weights the segments in the loss (:func:`distillation_loss`).
    Everything else (AdamW, EMA, checkpoints, resume, DDP) is :class:`Trainer`'s.
    """

    def __init__(self, teacher: StreamDiTPipeline, data: Iterable[Sample] | Callable[[int], Iterable[Sample]],
                 config: TrainConfig, out_dir: str | Path, accelerator: Accelerator | None = None,
                 steady_fraction: float = 0.75, rollout_fraction: float = 0.0,
                 student: torch.nn.Module | None = None, dt_power: float = 0.0) -> None:
        for name, value in (("steady_fraction", steady_fraction), ("rollout_fraction", rollout_fraction)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if student is not None and student.config.to_dict() != teacher.model.config.to_dict():
            raise ValueError("the initial student's architecture differs from the teacher's")
        student = copy.deepcopy(student if student is not None else teacher.model).float().train().requires_grad_(True)
        super().__init__(student, teacher.autoencoder, teacher.text_encoder, data, config, out_dir, accelerator)
        self.teacher = teacher.model.float().to(self.accelerator.device).eval().requires_grad_(False)
        self.teacher_schedule = teacher.schedule
        self.guidance = teacher.config.guidance
        self.states = segment_states(teacher.schedule)
        self.steady_fraction = steady_fraction
        self.rollout_fraction = rollout_fraction
        self.dt_power = dt_power

    def teacher_velocity(self, text: TextEmbedding, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The teacher's velocity with its classifier-free guidance, for a batch of captions."""
        return guided_velocity(self.teacher, x, t, text, self.null_text, self.guidance)

    def student_velocity(self, text: TextEmbedding, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The live student's velocity (no guidance: it has the teacher's built in)."""
        return self.unwrapped(x, t, text.tokens, text.mask)

    def compute_loss(self, latents: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        start_up = len(self.states) > 1 and float(torch.rand(())) >= self.steady_fraction
        state = self.states[1 + int(torch.randint(len(self.states) - 1, ()))] if start_up else self.states[0]
        x = noised_buffer(latents, self.teacher_schedule, state[0])
        if not start_up and float(torch.rand(())) < self.rollout_fraction:
            chunks = 1 + int(torch.randint(self.teacher_schedule.scheme.num_chunks, ()))
            x = student_rollout(partial(self.student_velocity, text), self.teacher_schedule, x, chunks)
        return distillation_loss(self.model, partial(self.teacher_velocity, text), self.teacher_schedule, x,
                                 text.tokens, text.mask, state, self.dt_power)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m streamdit distill",
        description="Distil a StreamDiT teacher pipeline (K chunks, s micro-steps, guidance) into a student that "
                    "streams with one evaluation per chunk and no guidance. Writes OUT/checkpoints (resumable), "
                    "OUT/log.jsonl, OUT/final (EMA student weights) and OUT/pipeline (the student pipeline).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True, help="teacher pipeline directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--data", default="synthetic", help="'synthetic' or a video folder with metadata.csv")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--steady-fraction", type=float, default=0.75,
                        help="share of steps on the steady-state segment (the rest: start-up segments)")
    parser.add_argument("--rollout-fraction", type=float, default=0.0,
                        help="share of steady-state steps whose buffer the student first streams 1..K chunks "
                             "forward itself, so it learns from the states it meets while streaming")
    parser.add_argument("--dt-power", type=float, default=0.0,
                        help="weight each frame's loss by |segment length| ** P: 0 treats every segment alike, "
                             "2 is the end-point error (the long last segment, where frames get their final "
                             "shape, dominates)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from this student pipeline (e.g. one distilled from an earlier teacher) "
                             "instead of a copy of the teacher")
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    parser.add_argument("--log-every", type=int, default=d.log_every)
    parser.add_argument("--num-workers", type=int, default=d.num_workers)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even if a GPU is present")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (("--steady-fraction", args.steady_fraction), ("--rollout-fraction", args.rollout_fraction)):
        if not 0.0 <= value <= 1.0:
            parser.error(f"{flag} must be in [0, 1], got {value}")
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
                         ema_decay=args.ema_decay, cond_dropout=0.0, checkpoint_every=args.checkpoint_every,
                         seed=args.seed, log_every=args.log_every, num_workers=args.num_workers)
    accelerator = make_accelerator(config, cpu=args.cpu)
    teacher = StreamDiTPipeline.from_pretrained(args.teacher, device=accelerator.device)
    if teacher.schedule.scheme.micro_steps == 1 and not teacher.config.guidance:
        raise SystemExit("error: the teacher already streams with s = 1 and no guidance: nothing to distil")
    cfg = teacher.model.config
    frames = cfg.buffer_frames * teacher.autoencoder.temporal_compression
    height, width = teacher.resolution
    data = training_data(args.data, frames, (height, width))
    initial = None
    if args.init_from is not None:
        model_dir = model_directory(args.init_from)
        if not model_dir.is_dir():
            raise SystemExit(f"error: --init-from {args.init_from}: no such student pipeline or model directory")
        initial = load_transformer(model_dir, device=accelerator.device, dtype=torch.float32)
    try:
        trainer = DistillationTrainer(teacher, data, config, args.out, accelerator, args.steady_fraction,
                                      args.rollout_fraction, initial, args.dt_power)
    except ValueError as exc:  # e.g. an --init-from student of another architecture
        raise SystemExit(f"error: {exc}") from exc
    student = trainer.train(resume=args.resume)
    student_config = replace(teacher.config, micro_steps=1, guidance=None)
    if accelerator.is_main_process:
        StreamDiTPipeline(student, teacher.text_encoder, teacher.autoencoder, student_config).save_pretrained(args.out / "pipeline")
    accelerator.print(f"wrote {args.out / 'pipeline'} (student: s = 1, no guidance) after {trainer.step} steps")
    accelerator.end_training()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
