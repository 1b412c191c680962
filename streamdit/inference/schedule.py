"""The moving-buffer noise schedule of StreamDiT and the mixed-scheme time sampler (docs/architecture.md §2.1-2.3).

Conventions (rectified flow, diffusers/SD3 direction): ``x_t = (1 - t) * x_0 + t * eps``; ``t = 1`` is
pure noise, ``t = 0`` is data. A buffer of ``B = K * c`` latent frames is split into ``K`` chunks of ``c``
frames (chunk 0 is the front: oldest, cleanest). Each chunk is denoised for ``s`` micro-steps before
the buffer moves, so every frame crosses the ``T = K * s`` steps of one global time grid
``t_0 = 1 > t_1 > ... > t_T = 0``. At micro-step ``j`` chunk ``k`` sits at grid index ``(K - 1 - k) * s + j``.

Start-up follows the paper: one *uniform* run over the whole first buffer (every frame at the same
grid index, the ``K = 1`` scheme, which mixed training covers) takes ``(K - 1) * s`` steps from noise,
and chunk ``k`` is captured from it when the run reaches chunk ``k``'s steady-state index
``(K - 1 - k) * s``. The captured chunks form a buffer exactly in its steady state; every frame's own
trajectory passes each grid index once, and the first chunk is emitted after ``T`` evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


def shift_time(u: torch.Tensor | float, shift: float = 1.0) -> torch.Tensor:
    """Map uniform times ``u in [0, 1]`` through the SD3/Wan time shift ``shift*u / (1 + (shift-1)*u)``.

    ``shift > 1`` spends more steps at high noise. This is the one place that owns the mapping.
    """
    u = torch.as_tensor(u, dtype=torch.float64)
    return shift * u / (1.0 + (shift - 1.0) * u)


def time_grid(num_steps: int, shift: float = 1.0) -> torch.Tensor:
    """Global grid ``t_0 = 1 > ... > t_T = 0`` of ``num_steps + 1`` points (float64)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    return shift_time(torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64), shift)


@dataclass(frozen=True)
class Scheme:
    """A partitioning scheme ``(K, c, s)``: ``K`` chunks of ``c`` frames, ``s`` micro-steps per chunk."""

    num_chunks: int
    chunk_size: int
    micro_steps: int = 1

    def __post_init__(self) -> None:
        for name in ("num_chunks", "chunk_size", "micro_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"Scheme.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def buffer_frames(self) -> int:
        return self.num_chunks * self.chunk_size

    @property
    def total_steps(self) -> int:
        """``T = K * s``: grid steps every frame passes through."""
        return self.num_chunks * self.micro_steps

    @classmethod
    def for_buffer(cls, buffer_frames: int, chunk_size: int, micro_steps: int = 1) -> "Scheme":
        if chunk_size < 1 or buffer_frames % chunk_size:
            raise ValueError(f"chunk size {chunk_size} does not divide the buffer of {buffer_frames} frames")
        return cls(buffer_frames // chunk_size, chunk_size, micro_steps)


class BufferSchedule:
    """Grid indices of every buffer frame at each micro-step of a scheme, and the start-up plan."""

    def __init__(self, scheme: Scheme, shift: float = 1.0) -> None:
        self.scheme = scheme
        self.shift = shift
        self.grid = time_grid(scheme.total_steps, shift)

    def chunk_indices(self, micro_step: int) -> torch.Tensor:
        """Grid index of each chunk (front first) at micro-step ``j`` of the steady state."""
        K, s = self.scheme.num_chunks, self.scheme.micro_steps
        if not 0 <= micro_step < s:
            raise ValueError(f"micro_step must be in [0, {s}), got {micro_step}")
        return (K - 1 - torch.arange(K)) * s + micro_step

    def frame_indices(self, micro_step: int) -> torch.Tensor:
        """Grid index of each buffer frame (front first) at micro-step ``j``."""
        return self.chunk_indices(micro_step).repeat_interleave(self.scheme.chunk_size)

    @property
    def warmup_steps(self) -> int:
        """Evaluations of the start-up: ``(K - 1) * s``."""
        return (self.scheme.num_chunks - 1) * self.scheme.micro_steps

    def warmup_captures(self, step: int) -> list[int]:
        """Chunks whose steady-state start is the uniform run's state after ``step`` evaluations."""
        start = self.chunk_indices(0)
        return [k for k in range(self.scheme.num_chunks) if int(start[k]) == step]

    def steady_indices(self, micro_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame grid indices before and after micro-step ``j`` of the steady state."""
        current = self.frame_indices(micro_step)
        return current, current + 1

    def step_times(self, current: torch.Tensor, nxt: torch.Tensor,
                   floor: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(t, t_next)`` per frame for one Euler step between grid indices ``current`` and ``nxt``.

        ``floor`` (per frame) holds a frame at grid index ``floor`` until it gets there: this is how
        video-to-video frames, which enter already noised to ``t = grid[floor]``, wait in the buffer
        without being denoised (``t_next == t``) and the front-to-back order of noise levels is kept.
        """
        if floor is not None:
            current, nxt = torch.maximum(current, floor), torch.maximum(nxt, floor)
        return self.grid[current], self.grid[nxt]

    def index_for_time(self, t: float) -> int:
        """First grid index whose time is at most ``t`` (where a frame noised to ``t`` enters)."""
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t must be in [0, 1], got {t}")
        return int((self.grid <= t + 1e-12).nonzero()[0])


class MixedSchemeSampler:
    """Training-time draw of a scheme and per-frame times for mixed training (docs/architecture.md §2.3).

    Each sample gets a chunk size ``c`` from ``chunk_sizes`` (with ``weights``), so ``K = B / c``; chunk
    ``k`` (front first, the cleanest) gets ``u_k ~ U[k/K, (k+1)/K]`` independently (the paper's continuous
    mixed training), mapped through the same ``shift`` as the sampling grid: exactly the band chunk
    ``k`` sweeps at sampling time, where grid index ``(K-1-k) s + j`` has ``u = (k + 1 - j/s) / K``. ``K = 1`` is ordinary
    uniform-noise training, ``c = 1`` teaches diagonal (FIFO-like) denoising.
    """

    def __init__(self, buffer_frames: int, chunk_sizes: Sequence[int], weights: Sequence[float] | None = None,
                 shift: float = 1.0) -> None:
        if not chunk_sizes:
            raise ValueError("chunk_sizes must not be empty")
        for c in chunk_sizes:
            Scheme.for_buffer(buffer_frames, c)
        weights = [1.0] * len(chunk_sizes) if weights is None else list(weights)
        if len(weights) != len(chunk_sizes) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights {weights} must be non-negative, one per chunk size {list(chunk_sizes)}")
        self.buffer_frames = buffer_frames
        self.chunk_sizes = list(chunk_sizes)
        self.probs = torch.tensor(weights, dtype=torch.float64) / sum(weights)
        self.shift = shift

    def sample(self, batch: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(chunk_size (batch,), t (batch, B))`` with ``t`` in float32."""
        choice = torch.multinomial(self.probs, batch, replacement=True, generator=generator)
        sizes = torch.tensor(self.chunk_sizes)[choice]
        u = torch.rand(batch, self.buffer_frames, dtype=torch.float64, generator=generator)
        times = torch.empty(batch, self.buffer_frames, dtype=torch.float64)
        for i, c in enumerate(sizes.tolist()):
            K = self.buffer_frames // c
            band = torch.arange(K, dtype=torch.float64).repeat_interleave(c)  # per frame, front = cleanest
            per_chunk = u[i, ::c].repeat_interleave(c)  # one draw per chunk
            times[i] = shift_time((band + per_chunk) / K, self.shift)
        return sizes, times.float()
