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
    ``tag`` travels with the chunk and comes back when it is emitted.
    """

    latents: torch.Tensor
    floor: int = 0
    tag: object = None


@dataclass
class EmittedChunk:
    latents: torch.Tensor
    tag: object


def per_sample(text: TextEmbedding, n: int) -> TextEmbedding:
    """``text`` with one row per sample: as given when it has ``n`` rows, else its single row repeated."""
    return text if text.tokens.shape[0] == n else text.repeat(n)


def apply_guidance(cond: torch.Tensor, uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance ``u + g (c - u)``."""
    return uncond + guidance * (cond - uncond)


def guided_velocity(model: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor, text: TextEmbedding,
                    null: TextEmbedding | None, guidance: float | None) -> torch.Tensor:
    """``model``'s velocity with classifier-free guidance (:func:`apply_guidance`) in one batched pass.

    ``text`` and ``null`` hold one row per sample of ``x`` or a single row shared by all; without
    ``guidance`` (``None`` or 0) or ``null`` the conditional velocity alone is returned.
    """
    n = x.shape[0]
    text = per_sample(text, n)
    if not guidance or null is None:
        return model(x, t, text.tokens, text.mask)
    both = TextEmbedding.cat([text, per_sample(null, n)])
    cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)
    return apply_guidance(cond, uncond, guidance)


def euler_step(velocity: VelocityFn, x: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
    """One Euler step ``x + (t_next - t) * v(x, t)`` with per-frame times ``(B,)``."""
    n = x.shape[0]
    v = velocity(x, t.to(x.dtype).expand(n, -1))
    dt = (t_next - t).to(x.dtype).view(1, 1, -1, 1, 1)
    return x + dt * v


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


def denoise_autoregressive(velocity: VelocityFn, schedule: BufferSchedule,
                           next_chunk: Callable[[], EnteringChunk | None]) -> Iterator[EmittedChunk]:
    """Chunk-autoregressive baseline (no moving buffer): each new chunk of ``c`` frames is denoised from
    pure noise over the whole grid (``T = K * s`` steps) while the previous ``B - c`` generated frames sit
    clean (``t = 0``, never changed) in front of it, then emitted. ``T`` evaluations per chunk: ``K`` times
    the streaming sampler's cost, the same number of steps per frame.

    Start-up: the first buffer is denoised uniformly (the ``K = 1`` scheme) and all its ``K`` chunks are
    emitted. Text-to-video only (every entering chunk must be pure noise, ``floor = 0``); the loop ends
    when ``next_chunk`` returns ``None``.
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
