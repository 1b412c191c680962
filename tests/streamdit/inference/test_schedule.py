"""The moving-buffer schedule, exercised through the real streaming loop (`denoise_stream`)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from flow_oracle import CLEAN, Tracker  # on the path via tests/streamdit/conftest.py

from streamdit.inference.sampler import EnteringChunk, denoise_stream
from streamdit.inference.schedule import (
    BufferSchedule,
    MixedSchemeSampler,
    Scheme,
    shift_time,
    time_grid,
)

SCHEMES = [Scheme(4, 2, 1), Scheme(4, 2, 3), Scheme(8, 1, 1), Scheme(1, 8, 4), Scheme(2, 4, 2), Scheme(3, 1, 5)]


def run(schedule: BufferSchedule, chunks: int, floor: int | list[int] = 0) -> tuple[Tracker, list[torch.Tensor]]:
    tracker = Tracker(schedule, floor)
    out = []
    for emitted in denoise_stream(tracker.velocity, schedule, tracker.next_chunk):
        assert emitted.tag == len(out), "a chunk leaves with the tag it entered with"
        out.append(emitted.latents)
        if len(out) == chunks:
            break
    return tracker, out


def check_every_step(schedule: BufferSchedule, tracker: Tracker, out: list[torch.Tensor]) -> None:
    """Frames leave in stream order, clean, after being told grid time ``max(i, floor)`` at the i-th of their
    ``T`` steps (``floor``: their own chunk's), and their state was at the time they were told at every
    evaluation (not only at the end)."""
    scheme = schedule.scheme
    emitted_ids = torch.cat([o[0, 0, :, 0, 0] for o in out]).long().tolist()
    assert emitted_ids == list(range(len(emitted_ids))), "frames must leave in stream order"
    warm = schedule.warmup_steps
    start = schedule.frame_indices(0).tolist()
    for frame_id in emitted_ids:
        floored = [float(schedule.grid[max(i, tracker.floors[frame_id])]) for i in range(scheme.total_steps)]
        seen = tracker.seen[frame_id]
        if frame_id < scheme.buffer_frames:
            # start-up: the uniform run shows every frame the first `warm` grid times; a frame keeps the
            # state it had at its steady-state index and goes on from there
            assert seen[:warm] == floored[:warm], f"frame {frame_id} saw {seen}"
            seen = floored[:start[frame_id]] + seen[warm:]
        assert seen == floored, f"frame {frame_id} saw {tracker.seen[frame_id]}"
    tracker.assert_states_at_their_times()
    values = torch.cat([o[0, 1, :, 0, 0] for o in out])
    torch.testing.assert_close(values, torch.full_like(values, CLEAN), rtol=0, atol=1e-9)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_every_frame_passes_each_grid_index_once_and_leaves_clean(scheme: Scheme) -> None:
    schedule = BufferSchedule(scheme, shift=3.0)
    tracker, out = run(schedule, chunks=3 * scheme.num_chunks)
    check_every_step(schedule, tracker, out)


@pytest.mark.parametrize("scheme", SCHEMES, ids=str)
def test_each_emitted_chunk_costs_s_evaluations_after_start_up(scheme: Scheme) -> None:
    schedule = BufferSchedule(scheme)
    calls = []
    stream = denoise_stream(lambda x, t: calls.append(1) or torch.zeros_like(x), schedule,
                            lambda: EnteringChunk(torch.zeros(1, 1, scheme.chunk_size, 1, 1)))
    next(stream)
    assert len(calls) == scheme.total_steps  # first chunk: T evaluations in all (warm-up + one cycle)
    for i in range(3):
        next(stream)
        assert len(calls) == scheme.total_steps + (i + 1) * scheme.micro_steps


def test_front_chunk_is_emitted_at_t_zero() -> None:
    schedule = BufferSchedule(Scheme(4, 2, 3), shift=2.0)
    last = schedule.frame_indices(schedule.scheme.micro_steps - 1)
    assert schedule.grid[last[:2] + 1].tolist() == [0.0, 0.0]
    assert (schedule.grid[last[2:] + 1] > 0).all()


def test_fifo_diagonal_for_chunk_size_one() -> None:
    """c = 1, s = 1: frame k sits one grid step cleaner than frame k + 1 (FIFO-Diffusion's diagonal)."""
    B = 6
    schedule = BufferSchedule(Scheme.for_buffer(B, 1, 1))
    assert schedule.frame_indices(0).tolist() == [5, 4, 3, 2, 1, 0]
    t = schedule.grid[schedule.frame_indices(0)]
    assert torch.allclose(t, torch.linspace(1 / B, 1, B, dtype=torch.float64))
    tracker, out = run(schedule, chunks=2 * B)
    assert all(o.shape[2] == 1 for o in out)  # one frame leaves per evaluation


def test_uniform_schedule_for_one_chunk() -> None:
    """K = 1: all frames share one noise level and run the whole grid together, no warm-up."""
    schedule = BufferSchedule(Scheme(1, 8, 5))
    assert schedule.warmup_steps == 0
    for j in range(5):
        assert schedule.frame_indices(j).tolist() == [j] * 8
    tracker, out = run(schedule, chunks=2)
    assert tracker.seen[0] == tracker.seen[7] == schedule.grid[:-1].tolist()


def test_warmup_captures_each_chunk_at_its_steady_state_index() -> None:
    schedule = BufferSchedule(Scheme(4, 1, 2))
    assert schedule.warmup_steps == 6
    captured = {k: step for step in range(7) for k in schedule.warmup_captures(step)}
    assert captured == {3: 0, 2: 2, 1: 4, 0: 6}


@pytest.mark.parametrize("scheme", SCHEMES[:2] + SCHEMES[4:], ids=str)
@pytest.mark.parametrize("strength", [0.3, 0.5, 0.8])
def test_video_to_video_frames_wait_at_their_entry_level(scheme: Scheme, strength: float) -> None:
    """Frames entering at grid index `floor` are held there (told that time, their state kept at it) until
    their schedule reaches it, then stepped along the grid, and come out clean."""
    schedule = BufferSchedule(scheme, shift=2.0)
    floor = schedule.index_for_time(strength)
    assert float(schedule.grid[floor]) <= strength < float(schedule.grid[floor - 1])
    tracker, out = run(schedule, chunks=3 * scheme.num_chunks, floor=floor)
    check_every_step(schedule, tracker, out)


@pytest.mark.parametrize("scheme", SCHEMES[:2] + SCHEMES[4:], ids=str)
def test_each_chunk_keeps_its_own_entry_level_through_the_buffer(scheme: Scheme) -> None:
    """Chunks entering at different levels (text-to-video noise, inputs at two strengths) are each held at
    their own level: the floor travels with its chunk."""
    schedule = BufferSchedule(scheme, shift=2.0)
    floors = [0, schedule.index_for_time(0.3), 1, schedule.index_for_time(0.8)]
    tracker, out = run(schedule, chunks=4 * scheme.num_chunks, floor=floors)
    assert len(set(tracker.floors.values())) > 1
    check_every_step(schedule, tracker, out)


def test_finite_input_flushes_the_buffer_and_stops() -> None:
    schedule = BufferSchedule(Scheme(4, 1, 1))
    supply = iter(range(6))

    def next_chunk() -> EnteringChunk | None:
        value = next(supply, None)
        return None if value is None else EnteringChunk(torch.full((1, 1, 1, 1, 1), float(value)), floor=4)

    emitted = [e.latents.item() for e in denoise_stream(lambda x, t: torch.zeros_like(x), schedule, next_chunk)]
    assert emitted == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_time_grid_and_shift() -> None:
    grid = time_grid(8, shift=3.0)
    assert grid[0] == 1.0 and grid[-1] == 0.0 and (grid[1:] < grid[:-1]).all()
    assert float(shift_time(0.5, 3.0)) == pytest.approx(0.75)
    assert torch.equal(time_grid(4), torch.linspace(1, 0, 5, dtype=torch.float64))
    with pytest.raises(ValueError):
        Scheme.for_buffer(8, 3)


def test_mixed_sampler_covers_all_schemes_with_banded_times() -> None:
    sizes = [1, 2, 4, 8]
    sampler = MixedSchemeSampler(8, sizes, weights=[1, 1, 1, 2], shift=2.0)
    chunk, t = sampler.sample(4000, torch.Generator().manual_seed(0))
    counts = Counter(chunk.tolist())
    assert set(counts) == set(sizes)
    assert counts[8] / 4000 == pytest.approx(0.4, abs=0.03)
    for c in sizes:
        rows = t[chunk == c]
        K = 8 // c
        per_chunk = rows.view(-1, K, c)
        assert (per_chunk == per_chunk[..., :1]).all(), "frames of one chunk share a time"
        u = (rows / (2.0 - rows))  # inverse of the shift 2: u = t / (s - (s - 1) t)
        band = torch.arange(K).repeat_interleave(c).float()
        assert ((u * K >= band - 1e-5) & (u * K <= band + 1 + 1e-5)).all(), f"times outside their bands for c={c}"
        assert (rows[:, :-1] <= rows[:, 1:]).all(), "noise must not decrease from front to back"
    with pytest.raises(ValueError):
        MixedSchemeSampler(8, [3])


def test_mixed_sampler_bands_match_the_times_seen_at_sampling() -> None:
    """Training draws every chunk's time from the band that chunk sweeps in the streaming sampler."""
    schedule = BufferSchedule(Scheme(4, 2, 3), shift=2.0)
    sampler = MixedSchemeSampler(8, [2], shift=2.0)
    _, t = sampler.sample(2000, torch.Generator().manual_seed(1))
    for j in range(3):
        seen = schedule.grid[schedule.frame_indices(j)].float()
        low, high = t.min(0).values, t.max(0).values
        assert ((seen >= low - 0.02) & (seen <= high + 0.02)).all(), (j, seen, low, high)
