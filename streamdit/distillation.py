"""Multistep distillation per segment (DESIGN 1.5).

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
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from streamdit.pipeline import StreamDiTPipeline
from streamdit.sampler import VelocityFn, euler_step
from streamdit.schedule import BufferSchedule
from streamdit.text import TextEmbedding
from streamdit.training import Sample, TrainConfig, Trainer, make_accelerator, training_data


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


def distillation_loss(student: torch.nn.Module, teacher_velocity: VelocityFn, teacher: BufferSchedule,
                      latents: torch.Tensor, text_tokens: torch.Tensor, text_mask: torch.Tensor,
                      state: tuple[torch.Tensor, torch.Tensor], noise: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between the student's one-step velocity and the velocity reaching the teacher's segment result.

    ``teacher_velocity(x, t)`` is the guided teacher (conditioned on the same text); ``state`` is a
    (start, end) pair from :func:`segment_states`.
    """
    start, end = (idx.to(latents.device) for idx in state)
    if noise is None:
        noise = torch.randn_like(latents)
    grid = teacher.grid.to(latents.device)
    t, t_next = grid[start], grid[end]
    tt = t.to(latents.dtype).view(1, 1, -1, 1, 1)
    x = (1 - tt) * latents + tt * noise
    with torch.no_grad():
        target_x = teacher_segment(teacher_velocity, teacher, x, start, end)
    moving = end > start
    dt = (t_next - t).to(latents.dtype)
    target_v = (target_x - x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)
    n = latents.shape[0]
    pred = student(x, t.to(latents.dtype).expand(n, -1), text_tokens, text_mask)
    return F.mse_loss(pred[:, :, moving].float(), target_v.float())


class DistillationTrainer(Trainer):
    """Distils a teacher pipeline into a student (initialised from the teacher) with the segment loss.

    Each step draws the steady-state segment with probability ``steady_fraction`` and otherwise one of
    the start-up segments; everything else (AdamW, EMA, checkpoints, resume, DDP) is :class:`Trainer`'s.
    """

    def __init__(self, teacher: StreamDiTPipeline, data: Iterable[Sample] | Callable[[int], Iterable[Sample]],
                 config: TrainConfig, out_dir: str | Path, accelerator: Accelerator | None = None,
                 steady_fraction: float = 0.75) -> None:
        student = copy.deepcopy(teacher.model).float().train().requires_grad_(True)
        super().__init__(student, teacher.autoencoder, teacher.text_encoder, data, config, out_dir, accelerator)
        self.teacher = teacher.model.float().to(self.accelerator.device).eval().requires_grad_(False)
        self.teacher_schedule = teacher.schedule
        self.guidance = teacher.sampler.guidance
        self.states = segment_states(teacher.schedule)
        self.steady_fraction = steady_fraction

    def teacher_velocity(self, text: TextEmbedding, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The teacher's velocity with its classifier-free guidance, for a batch of captions."""
        if not self.guidance:
            return self.teacher(x, t, text.tokens, text.mask)
        null = self.null_text.repeat(x.shape[0])
        both = TextEmbedding.cat([text, null])
        cond, uncond = self.teacher(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)
        return uncond + self.guidance * (cond - uncond)

    def compute_loss(self, latents: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        start_up = len(self.states) > 1 and float(torch.rand(())) >= self.steady_fraction
        state = self.states[1 + int(torch.randint(len(self.states) - 1, ()))] if start_up else self.states[0]
        return distillation_loss(self.model, partial(self.teacher_velocity, text), self.teacher_schedule, latents,
                                 text.tokens, text.mask, state)


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
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    parser.add_argument("--log-every", type=int, default=d.log_every)
    parser.add_argument("--num-workers", type=int, default=d.num_workers)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT")
    parser.add_argument("--cpu", action="store_true", help="run on CPU even if a GPU is present")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
                         ema_decay=args.ema_decay, cond_dropout=0.0, checkpoint_every=args.checkpoint_every,
                         seed=args.seed, log_every=args.log_every, num_workers=args.num_workers)
    accelerator = make_accelerator(config, cpu=args.cpu)
    teacher = StreamDiTPipeline.from_pretrained(args.teacher, device=accelerator.device)
    if teacher.schedule.scheme.micro_steps == 1 and not teacher.sampler.guidance:
        raise SystemExit("error: the teacher already streams with s = 1 and no guidance: nothing to distil")
    cfg = teacher.model.config
    frames = cfg.buffer_frames * teacher.autoencoder.temporal_compression
    height, width = teacher.resolution
    data = training_data(args.data, frames, (height, width))
    trainer = DistillationTrainer(teacher, data, config, args.out, accelerator, args.steady_fraction)
    student = trainer.train(resume=args.resume)
    sampler = replace(teacher.sampler, micro_steps=1, guidance=None)
    if accelerator.is_main_process:
        StreamDiTPipeline(student, teacher.text_encoder, teacher.autoencoder, sampler).save_pretrained(args.out / "pipeline")
    accelerator.print(f"wrote {args.out / 'pipeline'} (student: s = 1, no guidance) after {trainer.step} steps")
    accelerator.end_training()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
