"""A steer's refresh of the buffer (`Refresh`): the re-noising, its evaluations, and the stream around it."""

from __future__ import annotations

import itertools

import pytest
import torch

from streamdit.inference.sampler import EnteringChunk, Refresh, denoise_stream, refresh_buffer, renoise
from streamdit.inference.schedule import BufferSchedule, Scheme

CLEAN = 5.0  # the data every frame of these buffers denoises to


def test_renoise_follows_the_forward_process_and_leaves_noisier_frames_alone() -> None:
    g = torch.Generator().manual_seed(0)
    n = 200_000
    t = torch.tensor([0.2, 0.5, 0.9, 0.7])
    t_new = torch.tensor([0.6, 0.5, 0.95, 0.3])  # up, equal, up, down
    eps, fresh = torch.randn(n, 1, 4, 1, 1, generator=g), torch.randn(n, 1, 4, 1, 1, generator=g)
    x = (1 - t.view(1, 1, -1, 1, 1)) * CLEAN + t.view(1, 1, -1, 1, 1) * eps
    out = renoise(x, t, t_new, fresh)
    # x_{t'} = (1 - t') x0 + t' eps': mean (1 - t') * CLEAN, std t' (frames 0 and 2)
    torch.testing.assert_close(out[:, 0, [0, 2]].mean(0).flatten(), (1 - t_new[[0, 2]]) * CLEAN, rtol=0, atol=0.01)
    torch.testing.assert_close(out[:, 0, [0, 2]].std(0).flatten(), t_new[[0, 2]], rtol=0, atol=0.01)
    assert torch.equal(out[:, :, [1, 3]], x[:, :, [1, 3]])  # not noisier: unchanged


class Recorder:
    """The exact velocity toward ``CLEAN`` (``v = (x - CLEAN) / t``), recording the times it is told."""

    def __init__(self) -> None:
        self.told: list[list[float]] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.told.append(t[0].tolist())
        tt = t[:, None, :, None, None].to(x)
        return torch.where(tt > 0, (x - CLEAN) / tt.clamp_min(1e-12), torch.zeros_like(x))


@pytest.mark.parametrize(("scheme", "index"), [(Scheme(4, 1, 1), 2), (Scheme(4, 1, 4), 8), (Scheme(2, 2, 3), 0)], ids=str)
def test_refresh_noises_the_cleaner_frames_back_and_denoises_them_to_their_levels(scheme: Scheme, index: int) -> None:
    schedule = BufferSchedule(scheme, shift=6.0)
    grid, levels = schedule.grid, schedule.frame_indices(0)
    g = torch.Generator().manual_seed(1)
    x = CLEAN + grid[levels].view(1, 1, -1, 1, 1) * torch.randn(1, 1, scheme.buffer_frames, 1, 1, generator=g, dtype=torch.float64)
    noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
    velocity = Recorder()
    out = refresh_buffer(velocity, schedule, x, levels, Refresh(index, noise))

    moved = levels > index
    top = int(levels.max())
    assert len(velocity.told) == top - index  # one evaluation per grid step back up to the front's level
    for m, told in enumerate(velocity.told, start=index):  # the frames still moving share grid[m], the rest hold their own
        expected = grid[torch.clamp(levels, max=m)]
        torch.testing.assert_close(torch.tensor(told, dtype=torch.float64), expected, rtol=0, atol=1e-12)
    # the exact flow keeps a frame on its straight line to CLEAN: from the re-noised state at grid[index] back to its level
    renoised = renoise(x, grid[levels], torch.where(moved, grid[index], grid[levels]), noise)
    expected = torch.where(moved.view(1, 1, -1, 1, 1), CLEAN + (grid[levels] / grid[index]).view(1, 1, -1, 1, 1) * (renoised - CLEAN), x)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-9)
    assert not torch.allclose(out[:, :, moved], x[:, :, moved])  # the refreshed frames are new


def test_a_steer_in_the_stream_costs_its_refresh_and_gives_the_buffer_the_new_tag() -> None:
    scheme = Scheme(4, 1, 2)
    schedule = BufferSchedule(scheme, shift=3.0)
    g = torch.Generator().manual_seed(2)
    entered = itertools.count()

    def next_chunk() -> EnteringChunk:
        i = next(entered)
        noise = torch.randn(1, 1, 1, 1, 1, generator=g, dtype=torch.float64) + CLEAN
        steer = Refresh(2, torch.randn(1, 1, 4, 1, 1, generator=g, dtype=torch.float64)) if i == 6 else None
        return EnteringChunk(noise, tag="new" if i >= 6 else "old", refresh=steer)

    velocity = Recorder()
    stream = denoise_stream(velocity, schedule, next_chunk)
    before = [next(stream) for _ in range(3)]  # chunks 0-2 out; chunk 6 (the steer) enters after the third
    calls = len(velocity.told)
    after = [next(stream) for _ in range(3)]
    front = int(schedule.frame_indices(0).max())
    assert len(velocity.told) - calls == 3 * scheme.micro_steps + (front - 2)  # the refresh: front level - 2 evaluations
    assert [c.tag for c in before] == ["old"] * 3 and [c.tag for c in after] == ["new"] * 3  # the whole buffer remade
    for chunk in before + after:  # every chunk still leaves clean
        torch.testing.assert_close(chunk.latents, torch.full_like(chunk.latents, CLEAN), rtol=0, atol=1e-9)
