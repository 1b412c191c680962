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

import copy
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import torch
from accelerate import Accelerator

from streamdit.inference.pipeline import StreamDiTPipeline
from streamdit.inference.sampler import guided_velocity
from streamdit.models.text import TextEmbedding
from streamdit.training.objectives import distillation_loss, noised_buffer, segment_states, student_rollout
from streamdit.training.trainer import Sample, TrainConfig, Trainer


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
        self.guidance, self.guidance_min_t = teacher.config.guidance, teacher.config.guidance_min_t
        self.states = segment_states(teacher.schedule)
        self.steady_fraction = steady_fraction
        self.rollout_fraction = rollout_fraction
        self.dt_power = dt_power

    def teacher_velocity(self, text: TextEmbedding, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The teacher's velocity with its classifier-free guidance, for a batch of captions."""
        return guided_velocity(self.teacher, x, t, text, self.null_text, self.guidance, self.guidance_min_t)

    def student_velocity(self, text: TextEmbedding, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The live student's velocity (no guidance: it has the teacher's built in)."""
        return self.unwrapped(x, t, text.tokens, text.mask)

    def compute_loss(self, latents: torch.Tensor, text: TextEmbedding,
                     foreground: torch.Tensor | None = None) -> torch.Tensor:
        """The segment loss on one batch (``foreground`` flags, which a latent cache may carry, are not used:
        the student matches its teacher everywhere)."""
        start_up = len(self.states) > 1 and float(torch.rand(())) >= self.steady_fraction
        state = self.states[1 + int(torch.randint(len(self.states) - 1, ()))] if start_up else self.states[0]
        x = noised_buffer(latents, self.teacher_schedule, state[0])
        if not start_up and float(torch.rand(())) < self.rollout_fraction:
            chunks = 1 + int(torch.randint(self.teacher_schedule.scheme.num_chunks, ()))
            x = student_rollout(partial(self.student_velocity, text), self.teacher_schedule, x, chunks)
        return distillation_loss(self.model, partial(self.teacher_velocity, text), self.teacher_schedule, x,
                                 text.tokens, text.mask, state, self.dt_power)
