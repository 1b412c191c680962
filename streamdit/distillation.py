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

import torch
import torch.nn.functional as F

from streamdit.sampler import VelocityFn, euler_step
from streamdit.schedule import BufferSchedule


def segment_states(teacher: BufferSchedule) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every (start, end) pair of per-frame teacher grid indices the student crosses in one step.

    Steady state: chunk ``k`` from ``(K-1-k) s`` to ``(K-k) s``. Start-up: the warm-up states at
    multiples of ``s`` (all chunks advancing together until their steady-state index).
    """
    s = teacher.scheme.micro_steps
    states = [(teacher.steady_indices(0)[0], teacher.steady_indices(0)[0] + s)]
    for m in range(0, teacher.warmup_steps, s):
        start = teacher.warmup_indices(m)[0]
        end = teacher.warmup_indices(m + s - 1)[1]
        states.append((start, end))
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
