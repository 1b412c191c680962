"""The training objectives (docs/architecture.md §2.3, §2.5): mixed-scheme flow matching over the buffer and
the multistep distillation per segment.

Flow matching: the buffer is noised frame by frame (``x_t = (1 - t) x_0 + t eps``, times from
:class:`~streamdit.inference.schedule.MixedSchemeSampler`) and the model regresses the velocity ``eps - x_0``;
captions are dropped to the empty prompt with some probability so the model also learns the unconditional
velocity for classifier-free guidance. Distillation: the student learns to cross one teacher segment
(``s`` guided micro-steps) in one Euler step; how its targets are made is told in
:mod:`streamdit.training.distillation`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from streamdit.inference.sampler import VelocityFn, euler_step
from streamdit.inference.schedule import BufferSchedule
from streamdit.models.text import TextEmbedding


def flow_matching_loss(model: torch.nn.Module, latents: torch.Tensor, text: TextEmbedding, t: torch.Tensor,
                       noise: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between predicted and true velocity ``eps - x_0`` over all buffer frames.

    ``latents``: clean ``x_0`` ``(N, C, B, h, w)``; ``t``: per-frame times ``(N, B)``; ``noise``: ``eps``
    (drawn from the global RNG when omitted); ``weight``: optional per-latent-pixel weights broadcastable to
    ``latents`` (e.g. ``(N, 1, B, h, w)``), the loss then being the weighted mean of the squared errors.
    """
    if noise is None:
        noise = torch.randn_like(latents)
    tt = t.to(latents.dtype)[:, None, :, None, None]
    x_t = (1 - tt) * latents + tt * noise
    pred = model(x_t, t, text.tokens, text.mask)
    if weight is None:
        return F.mse_loss(pred.float(), (noise - latents).float())
    weight = weight.float().expand_as(latents)
    return (weight * (pred.float() - (noise - latents).float()).pow(2)).sum() / weight.sum()


def foreground_loss_weights(foreground: torch.Tensor, factor: float, t: torch.Tensor | None = None,
                            max_t: float = 1.0) -> torch.Tensor:
    """Loss weights from a foreground mask ``(N, 1, B, h, w)``: ``factor`` on the latent pixels that hold an object,
    1 elsewhere; with per-frame times ``t`` ``(N, B)``, only in the frames whose noise level is at most ``max_t``.

    Objects cover a few per cent of a textured scene's latent pixels, so the plain loss is almost all
    background; this tilts it towards them, as world v1's autoencoder weighted its object pixels. The weight
    depends on the clean target, so the loss's optimum is a mean tilted towards clips with an object at each
    pixel: where the noise leaves an object's place open, that draws objects in several places. At low noise
    the place is settled and the tilt small, hence ``max_t``.
    """
    weighted = foreground.float()
    if t is not None:
        weighted = weighted * (t <= max_t).to(weighted)[:, None, :, None, None]
    return 1.0 + (factor - 1.0) * weighted


def drop_text(text: TextEmbedding, null: TextEmbedding, p: float, generator: torch.Generator | None = None) -> TextEmbedding:
    """Replace each sample's text by the null embedding ``null`` (batch 1) with probability ``p``."""
    drop = torch.rand(text.tokens.shape[0], generator=generator) < p
    drop = drop.to(text.tokens.device)
    tokens = torch.where(drop[:, None, None], null.tokens.to(text.tokens), text.tokens)
    mask = torch.where(drop[:, None], null.mask.to(text.mask.device), text.mask)
    return TextEmbedding(tokens, mask)



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


