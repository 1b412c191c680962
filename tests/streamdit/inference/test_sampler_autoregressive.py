"""The chunk-autoregressive baseline sampler (`denoise_autoregressive`) and its pipeline mode."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from flow_oracle import CLEAN, Tracker  # on the path via tests/streamdit/conftest.py

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.inference.sampler import denoise_autoregressive
from streamdit.inference.schedule import BufferSchedule, Scheme


@pytest.mark.parametrize("scheme", [Scheme(2, 2, 8), Scheme(4, 1, 1), Scheme(1, 4, 3)], ids=str)
def test_each_chunk_crosses_the_whole_grid_behind_clean_frames(scheme: Scheme) -> None:
    schedule = BufferSchedule(scheme, shift=3.0)
    oracle = Tracker(schedule)
    K, c, T = scheme.num_chunks, scheme.chunk_size, scheme.total_steps
    stream = denoise_autoregressive(oracle.velocity, schedule, oracle.next_chunk)
    emitted = list(itertools.islice(stream, K + 3))
    assert [e.tag for e in emitted] == list(range(K + 3))
    ids = torch.cat([e.latents[0, 0, :, 0, 0] for e in emitted]).long().tolist()
    assert ids == list(range((K + 3) * c)), "each chunk's own frames leave, in stream order"
    assert oracle.calls == T * 4  # start-up: one uniform run; then T evaluations per chunk
    oracle.assert_states_at_their_times()
    for e in emitted:
        torch.testing.assert_close(e.latents[0, 1], torch.full_like(e.latents[0, 1], CLEAN))
    grid = schedule.grid[:-1].tolist()
    for frame in range(K * c, (K + 3) * c):  # a chunk after start-up: the whole grid, then clean context
        noisy = [t for t in oracle.seen[frame] if t > 0]
        assert noisy == pytest.approx(grid)
    for frame in range(K * c):  # start-up chunks: one uniform run over the grid
        assert [t for t in oracle.seen[frame] if t > 0] == pytest.approx(grid)
    # every evaluation after start-up sees B - c clean frames (t = 0) in front of the new chunk
    assert all(t == 0.0 for frame in range(c, K * c) for t in oracle.seen[frame][T:])


def test_autoregressive_sampler_refuses_video_to_video() -> None:
    schedule = BufferSchedule(Scheme(2, 2, 1))
    oracle = Tracker(schedule, floor=1)
    with pytest.raises(ValueError, match="text only"):
        next(denoise_autoregressive(oracle.velocity, schedule, oracle.next_chunk))


def test_pipeline_chunk_autoregressive_mode_streams_and_round_trips_plumbing_random_weights(text_encoder, tmp_path) -> None:
    sampler = PipelineConfig(chunk_size=2, micro_steps=2, mode="chunk-autoregressive")
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=text_encoder,
                                         config=sampler, buffer_frames=4, latent_height=4, latent_width=4,
                                         patch_size=(1, 1, 1), hidden_size=32, depth=1, num_heads=2,
                                         window_size=(4, 4, 4))
    with pipe.stream("a red circle moving left", seed=0, max_chunks=4) as stream:
        chunks = list(stream)
    assert len(chunks) == 4 and all(c.shape == (2, 32, 32, 3) and c.dtype == np.uint8 for c in chunks)
    assert stream.stats.evaluations == 4 * 3  # T = K * s = 4 evaluations: start-up (2 chunks), then 1 per chunk
    with pytest.raises(ValueError, match="buffer sampler"):
        pipe.stream("a red circle", video=np.zeros((8, 32, 32, 3), np.uint8))
    pipe.save_pretrained(tmp_path)
    assert StreamDiTPipeline.from_pretrained(tmp_path, text_encoder=text_encoder).config.mode == "chunk-autoregressive"
    with pytest.raises(ValueError, match="sampler mode"):
        PipelineConfig(mode="fifo")
