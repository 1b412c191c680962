"""The streaming denoising loop over the moving buffer (docs/architecture.md §2.2, §2.6).

:func:`denoise_stream` is model-agnostic: it takes a velocity function ``v(x, t)`` with per-frame
times and a source of new chunks, and yields clean latent chunks forever. The same loop runs the
teacher (``s`` micro-steps per chunk) and the distilled student (``s = 1``); only the scheme differs.
:func:`denoise_autoregressive` is the chunk-autoregressive baseline the evaluation compares against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from streamdit.inference.schedule import BufferSchedule
from streamdit.models.text import TextEmbedding

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(x (N, C, B, h, w), t (N, B)) -> v`` with ``v`` shaped like ``x``."""


@dataclass
class EnteringChunk:
    """A chunk about to enter the back of the buffer.

    ``latents`` are already noised to ``t = grid[floor]``: pure noise with ``floor = 0`` for text-to-video,
    an encoded input chunk noised to the strength level for video-to-video (SDEdit in the buffer).
    ``tag`` travels with the chunk and comes back when it is emitted; a ``refresh`` (a steer) is applied to the
    buffer as the chunk enters, and every chunk in the buffer takes this chunk's tag.
    """

    latents: torch.Tensor
    floor: int = 0
    tag: object = None
    refresh: "Refresh | None" = None


@dataclass
class Refresh:
    """A steer's re-noising, done as its chunk enters: every buffer frame cleaner than grid index ``index``
    is noised back to it with ``noise`` (shaped like the buffer) and denoised again, under the prompt then
    current, to the level it had. What the frames hold already (where the objects are, how they move) survives
    as far as ``grid[index]`` lets it; what the old prompt decided is denoised anew (docs/architecture.md §2.6).
    """

    index: int
    noise: torch.Tensor


@dataclass
class EmittedChunk:
    latents: torch.Tensor
    tag: object


def per_sample(text: TextEmbedding, n: int) -> TextEmbedding:
    """``text`` with one row per sample: as given when it has ``n`` rows, else its single row repeated."""
    return text if text.tokens.shape[0] == n else text.repeat(n)


def apply_guidance(cond: torch.Tensor, uncond: torch.Tensor, guidance: float, t: torch.Tensor | None = None,
                   min_t: float = 0.0) -> torch.Tensor:
    """Classifier-free guidance ``u + g (c - u)``. With ``min_t > 0`` and the per-frame times ``t`` ``(n, B)``,
    frames at ``t < min_t`` get ``g = 1``, the conditional velocity alone: guidance only in a limited interval
    of noise levels (Kynkäänniemi et al., 2024), here ``[min_t, 1]``."""
    if min_t > 0 and t is not None:
        scale = torch.where(t >= min_t, guidance, 1.0).to(cond.dtype)[:, None, :, None, None]
        return uncond + scale * (cond - uncond)
    return uncond + guidance * (cond - uncond)


def guided_velocity(model: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor, text: TextEmbedding,
                    null: TextEmbedding | None, guidance: float | None, min_t: float = 0.0) -> torch.Tensor:
    """``model``'s velocity with classifier-free guidance (:func:`apply_guidance`, ``min_t`` included) in one
    batched pass.

    ``text`` and ``null`` hold one row per sample of ``x`` or a single row shared by all; without
    ``guidance`` (``None`` or 0) or ``null`` the conditional velocity alone is returned.
    """
    n = x.shape[0]
    text = per_sample(text, n)
    if not guidance or null is None:
        return model(x, t, text.tokens, text.mask)
    both = TextEmbedding.cat([text, per_sample(null, n)])
    cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)
    return apply_guidance(cond, uncond, guidance, t, min_t)


def euler_step(velocity: VelocityFn, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
    """One Euler step ``x + (t_next - t) * v(x, t)`` with per-frame times ``(B,)``."""
    n = x.shape[0]
    v = velocity(x, t.to(x.dtype).expand(n, -1))
    dt = (t_next - t).to(x.dtype).view(1, 1, -1, 1, 1)
    return x + dt * v


def renoise(x: torch.Tensor, t: torch.Tensor, t_new: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Move ``x`` at per-frame times ``t`` to the noisier ``t_new`` along the forward process of
    ``x_t = (1 - t) x_0 + t eps``: scale the data part by ``(1 - t_new) / (1 - t)`` and add the noise the
    scaling leaves missing, ``sqrt(t_new^2 - (scale t)^2)``; frames with ``t_new <= t`` come back unchanged."""
    moves = t_new > t
    t, t_new = t.to(x.dtype), torch.where(moves, t_new, t).to(x.dtype)
    scale = torch.where(moves, (1 - t_new) / (1 - t).clamp_min(1e-6), torch.ones_like(t))
    sigma = (t_new.square() - (scale * t).square()).clamp_min(0).sqrt()
    view = (1, 1, -1, 1, 1)
    return scale.view(view) * x + sigma.view(view) * noise


def refresh_buffer(velocity: VelocityFn, schedule: BufferSchedule, x: torch.Tensor, levels: torch.Tensor,
                   refresh: Refresh) -> torch.Tensor:
    """Apply a :class:`Refresh` to a buffer whose frames sit at grid indices ``levels``: the frames cleaner
    than ``refresh.index`` are noised back to it, then denoised together, one grid step per evaluation, each
    held once it is back at its own level (the others held throughout), like the start-up's uniform run.
    Costs ``max(levels) - refresh.index`` evaluations; the buffer leaves at the levels it came with."""
    grid, current = schedule.grid, torch.clamp(levels, max=refresh.index)
    x = renoise(x, grid[levels], grid[current], refresh.noise.to(x))
    while bool((current < levels).any()):
        nxt = torch.where(current < levels, current + 1, current)
        x = euler_step(velocity, x, grid[current], grid[nxt])
        current = nxt
    return x


def denoise_stream(velocity: VelocityFn, schedule: BufferSchedule,
                   next_chunk: Callable[[], EnteringChunk | None]) -> Iterator[EmittedChunk]:
    """Yield clean chunks from the front of the buffer, one per ``s`` evaluations, until the source ends.

    Start-up: see :mod:`streamdit.inference.schedule` (a uniform run, each chunk captured when the run reaches
    its steady-state grid index). When ``next_chunk`` returns ``None`` (a finite input video ran out),
    the chunks still in the buffer are flushed by feeding pure noise behind them; those noise chunks
    are never emitted.
    """
    sched = schedule.scheme
    K, c = sched.num_chunks, sched.chunk_size
    entering = [next_chunk() for _ in range(K)]
    if any(e is None for e in entering):
        raise ValueError(f"the input must provide at least {K} chunks to fill the buffer")
    x = torch.cat([e.latents for e in entering], dim=2)
    floor = torch.tensor([e.floor for e in entering]).repeat_interleave(c)
    tags = [e.tag for e in entering]
    live = [True] * K  # False for flush padding

    start, c_slices = x.clone(), [slice(k * c, (k + 1) * c) for k in range(K)]
    for m in range(schedule.warmup_steps):
        uniform = torch.full_like(floor, m)
        x = euler_step(velocity, x, *schedule.step_times(uniform, uniform + 1, floor))
        for k in schedule.warmup_captures(m + 1):
            start[:, :, c_slices[k]] = x[:, :, c_slices[k]]
    x = start

    while True:
        for j in range(sched.micro_steps):
            x = euler_step(velocity, x, *schedule.step_times(*schedule.steady_indices(j), floor))
        if live[0]:
            yield EmittedChunk(x[:, :, :c], tags[0])
        new = next_chunk() if all(live) else None
        if new is None and not any(live[1:]):
            return
        if new is None:  # input ran out: pad with noise that is never emitted
            new = EnteringChunk(torch.randn_like(x[:, :, :c]))
            live = live[1:] + [False]
        else:
            live = live[1:] + [True]
        x = torch.cat([x[:, :, c:], new.latents.to(x)], dim=2)
        floor = torch.cat([floor[c:], torch.full((c,), new.floor)])
        tags = tags[1:] + [new.tag]
        if new.refresh is not None:  # a steer: the whole buffer is made anew under the prompt it brings
            x = refresh_buffer(velocity, schedule, x, torch.maximum(schedule.frame_indices(0), floor), new.refresh)
            tags = [new.tag] * K


def denoise_autoregressive(velocity: VelocityFn, schedule: BufferSchedule,
                           next_chunk: Callable[[], EnteringChunk | None]) -> Iterator[EmittedChunk]:
    """Chunk-autoregressive baseline (no moving buffer): each new chunk of ``c`` frames is denoised from
    pure noise over the whole grid (``T = K * s`` steps) while the previous ``B - c`` generated frames sit
    clean (``t = 0``, never changed) in front of it, then emitted. ``T`` evaluations per chunk: ``K`` times
    the streaming sampler's cost, the same number of steps per frame.

    Start-up: the first buffer is denoised uniformly (the ``K = 1`` scheme) and all its ``K`` chunks are
    emitted. Text-to-video only (every entering chunk must be pure noise, ``floor = 0``); the loop ends
    when ``next_chunk`` returns ``None``. A chunk's ``refresh`` is ignored: nothing is in flight to remake, the
    frames before it are final.
    """
    sched, grid = schedule.scheme, schedule.grid
    B, c, T = sched.buffer_frames, sched.chunk_size, sched.total_steps
    entering = [next_chunk() for _ in range(sched.num_chunks)]
    if any(e is None for e in entering):
        raise ValueError(f"the input must provide at least {sched.num_chunks} chunks to fill the buffer")
    if any(e.floor for e in entering):
        raise ValueError("the chunk-autoregressive sampler generates from text only (no video-to-video)")
    x = torch.cat([e.latents for e in entering], dim=2)
    for i in range(T):
        x = euler_step(velocity, x, grid[i].repeat(B), grid[i + 1].repeat(B))
    for k, e in enumerate(entering):
        yield EmittedChunk(x[:, :, k * c:(k + 1) * c], e.tag)

    clean = torch.zeros(B - c, dtype=grid.dtype)
    while True:
        new = next_chunk()
        if new is None:
            return
        if new.floor:
            raise ValueError("the chunk-autoregressive sampler generates from text only (no video-to-video)")
        x = torch.cat([x[:, :, c:], new.latents.to(x)], dim=2)
        for i in range(T):
            x = euler_step(velocity, x, torch.cat([clean, grid[i].repeat(c)]), torch.cat([clean, grid[i + 1].repeat(c)]))
        yield EmittedChunk(x[:, :, B - c:], new.tag)


SAMPLERS: dict[str, Callable[[VelocityFn, BufferSchedule, Callable[[], EnteringChunk | None]], Iterator[EmittedChunk]]] = {
    "buffer": denoise_stream,
    "chunk-autoregressive": denoise_autoregressive,
}
"""The denoising loops a pipeline can run, by ``pipeline.json``'s ``mode``; add a new loop here."""
