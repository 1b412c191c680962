"""An exact-velocity oracle for driving the samplers' loops in tests (schedule and chunk-autoregressive)."""

from __future__ import annotations

from collections import defaultdict

import torch

from streamdit.inference.sampler import EnteringChunk
from streamdit.inference.schedule import BufferSchedule

CLEAN = 5.0  # the data value the oracle velocity points to


class Tracker:
    """Latents (1, 2, B, 1, 1): channel 0 carries a frame id (velocity 0 keeps it), channel 1 a value.

    The velocity is the exact flow for data ``CLEAN``: ``v = (x_t - x_0) / t`` (0 where ``t = 0``).
    A frame's value is ``CLEAN + tau * (eps - CLEAN)`` with its own noise ``eps``, so ``tau``, the time
    its state is really at, can be read back from the value. At every evaluation the oracle records the
    time the frame is *told* (``seen``) and the time its state *is at* (``state``); a sampler is right only
    if the two agree at every step. (The end state alone proves little: an exact Euler step to ``t = 0``
    lands on ``CLEAN`` from wherever the frame was.) ``calls`` counts evaluations. Entering chunks are
    noised to ``grid[floor]`` and tagged with their index; ``floor`` may be a list, taken in turn chunk by chunk
    (``floors[frame]`` records each frame's).
    """

    def __init__(self, schedule: BufferSchedule, floor: int | list[int] = 0) -> None:
        self.schedule = schedule
        self.floor_cycle = floor if isinstance(floor, list) else [floor]
        self.floors: dict[int, int] = {}
        self.seen: dict[int, list[float]] = defaultdict(list)
        self.state: dict[int, list[float]] = defaultdict(list)
        self.noise: dict[int, float] = {}
        self.calls = 0
        self.next_id = 0
        self.generator = torch.Generator().manual_seed(0)

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        for f in range(x.shape[2]):
            frame = int(x[0, 0, f, 0, 0])
            self.seen[frame].append(float(t[0, f]))
            self.state[frame].append((float(x[0, 1, f, 0, 0]) - CLEAN) / (self.noise[frame] - CLEAN))
        v = torch.zeros_like(x)
        tt = t[:, None, :, None, None]
        v[:, 1:] = torch.where(tt > 0, (x[:, 1:] - CLEAN) / tt.clamp_min(1e-12), torch.zeros_like(x[:, 1:]))
        return v

    def next_chunk(self) -> EnteringChunk:
        c = self.schedule.scheme.chunk_size
        x = torch.empty(1, 2, c, 1, 1, dtype=torch.float64)
        ids = range(self.next_id, self.next_id + c)
        x[0, 0, :, 0, 0] = torch.tensor(ids, dtype=torch.float64)
        self.next_id += c
        index = self.next_id // c - 1
        floor = self.floor_cycle[index % len(self.floor_cycle)]
        t = float(self.schedule.grid[floor])
        eps = torch.randn(c, generator=self.generator, dtype=torch.float64) - 3.0  # eps - CLEAN never near 0
        self.noise.update(zip(ids, eps.tolist()))
        self.floors.update(dict.fromkeys(ids, floor))
        x[0, 1, :, 0, 0] = (1 - t) * CLEAN + t * eps
        return EnteringChunk(x, floor=floor, tag=index)

    def assert_states_at_their_times(self) -> None:
        """Every frame's state was at the time it was told, at every evaluation."""
        for frame, told in self.seen.items():
            for step, (t, tau) in enumerate(zip(told, self.state[frame], strict=True)):
                assert abs(t - tau) < 1e-9, f"frame {frame}, evaluation {step}: told t={t}, its state is at t={tau}"
