"""StreamDiTPipeline and VideoStream with a randomly initialised tiny model (plumbing of the sampler)."""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pytest
import torch
from small_models import CONSTANT_VELOCITY, constant_velocity_pipeline, randomise  # tests/streamdit/conftest.py

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder, tensor_to_video, video_to_tensor

SMALL = dict(buffer_frames=4, latent_height=8, latent_width=8, hidden_size=48, depth=2, num_heads=2,
             window_size=(2, 4, 4))


@pytest.fixture(scope="module")
def pipe(text_encoder) -> StreamDiTPipeline:
    """Random weights (plumbing): adaLN gates randomised so the model's output depends on its inputs."""
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(4), text_encoder=text_encoder,
                                         config=PipelineConfig(chunk_size=2, micro_steps=2, guidance=3.0), **SMALL)
    randomise(pipe.model)
    return pipe


@pytest.fixture(scope="module")
def constant_pipe(text_encoder) -> StreamDiTPipeline:
    return constant_velocity_pipeline(text_encoder, PatchAutoencoder(4), PipelineConfig(chunk_size=2, micro_steps=2),
                                      **SMALL)


def take(stream, n: int) -> list[np.ndarray]:
    with stream:
        return list(itertools.islice(stream, n))


@contextmanager
def batch_rows(model: torch.nn.Module) -> Iterator[list[int]]:
    """The batch size of every forward pass of ``model`` while the block runs."""
    rows: list[int] = []
    handle = model.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    try:
        yield rows
    finally:
        handle.remove()


def test_stream_yields_uint8_chunks_forever_until_stopped_plumbing_random_weights(pipe) -> None:
    stream = pipe.stream("a red circle moving left", seed=1)
    first = next(stream)
    to_first = time.perf_counter() - stream.stats.started
    chunks = [first, *itertools.islice(stream, 4)]
    assert all(c.shape == (2, 32, 32, 3) and c.dtype == np.uint8 for c in chunks)
    assert stream.stats.chunks == 5 and stream.stats.frames == 10
    assert 0 < stream.stats.first_chunk_s <= to_first  # measured when the first chunk came, not later
    assert not stream.stopped
    stream.stop()
    assert list(stream) == []
    assert stream.stats.evaluations <= 4 + 5 * 2 + 2 * 2 * 2  # bounded: the producer stops with the stream


def test_same_seed_same_video_and_different_seed_differs_plumbing_random_weights(pipe) -> None:
    a = take(pipe.stream("a blue square", seed=3), 3)
    b = take(pipe.stream("a blue square", seed=3), 3)
    c = take(pipe.stream("a blue square", seed=4), 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))


def test_prompt_switch_changes_the_stream_from_the_next_evaluation_plumbing_random_weights(pipe) -> None:
    plain = take(pipe.stream("a red circle", seed=5), 6)
    stream = pipe.stream("a red circle", seed=5)
    switched = []
    with stream:
        for chunk in stream:
            switched.append(chunk)
            if len(switched) == 2:
                stream.set_prompt("a green triangle moving up")
            if len(switched) == 6:
                break
    assert np.array_equal(switched[0], plain[0])
    assert not np.array_equal(np.concatenate(switched[3:]), np.concatenate(plain[3:]))


def test_a_steer_with_a_strength_remakes_the_buffer_at_once_plumbing_random_weights(pipe) -> None:
    k, s = pipe.schedule.scheme.num_chunks, pipe.schedule.scheme.micro_steps
    front = (k - 1) * s  # the front chunk's grid level; strength 1 noises everything back to level 0

    def steered(steer_strength: float) -> tuple[list[int], int, list[np.ndarray]]:
        with pipe.stream("a red circle", seed=5, on_demand=True, steer_strength=steer_strength) as stream:
            chunks = [next(stream) for _ in range(3)]
            made = stream.stats.evaluations
            stream.set_prompt("a green triangle moving up")
            chunks.append(next(stream))
            return [stream.chunk_version], stream.stats.evaluations - made, chunks

    version, cost, chunks = steered(1.0)
    assert version == [1] and cost == s + front  # the chunk right after the steer was remade under the new prompt
    version, cost, plain = steered(0.0)
    assert version == [0] and cost == s  # without: it entered before the change, and nothing extra ran
    assert all(np.array_equal(a, b) for a, b in zip(chunks[:3], plain[:3]))
    assert not np.array_equal(chunks[3], plain[3])
    with pytest.raises(ValueError, match="steer_strength"):
        pipe.stream("a red circle", steer_strength=-0.1)


def guidance_inputs(pipe, seed: int, times: list[float]) -> tuple:
    """A random buffer at per-frame ``times``, a prompt and the empty prompt."""
    x = torch.randn(1, pipe.model.config.in_channels, 4, 8, 8, generator=torch.Generator().manual_seed(seed))
    return x, torch.tensor([times]), pipe.encode_prompt("a red circle"), pipe.encode_prompt("")


def test_guidance_is_uncond_plus_w_times_cond_minus_uncond_in_one_batched_pass_random_weights(pipe) -> None:
    x, t, text, null = guidance_inputs(pipe, 0, [0.2, 0.2, 0.7, 0.7])
    with torch.inference_mode():
        cond = pipe.model(x, t, text.tokens, text.mask)
        uncond = pipe.model(x, t, null.tokens, null.mask)
        assert (cond - uncond).abs().max() > 1e-2  # the prompt matters to this model
        with batch_rows(pipe.model) as guided_rows:
            guided = pipe.velocity(x, t, text, null, 3.0)
        with batch_rows(pipe.model) as plain_rows:
            plain = pipe.velocity(x, t, text, null, 0.0)
    torch.testing.assert_close(guided, uncond + 3.0 * (cond - uncond), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(plain, cond, rtol=1e-4, atol=1e-5)
    assert guided_rows == [2] and plain_rows == [1]  # conditional and unconditional in one batch of two


def test_guidance_min_t_leaves_the_cleaner_frames_to_the_conditional_velocity_random_weights(pipe) -> None:
    x, t, text, null = guidance_inputs(pipe, 1, [0.2, 0.45, 0.5, 0.9])
    with torch.inference_mode():
        cond = pipe.model(x, t, text.tokens, text.mask)
        full = pipe.velocity(x, t, text, null, 3.0)
        limited = pipe.velocity(x, t, text, null, 3.0, min_t=0.5)
    torch.testing.assert_close(limited[:, :, :2], cond[:, :, :2], rtol=1e-4, atol=1e-5)  # t < 0.5: no guidance
    torch.testing.assert_close(limited[:, :, 2:], full[:, :, 2:], rtol=1e-4, atol=1e-5)  # t >= 0.5: guided
    assert not torch.allclose(full[:, :, :2], cond[:, :, :2], atol=1e-3)
    with pytest.raises(ValueError, match="guidance_min_t"):
        PipelineConfig(guidance_min_t=1.5)


@pytest.mark.parametrize(("guidance", "rows_per_evaluation"), [(3.0, 2), (0, 1)])
def test_guidance_zero_skips_the_unconditional_pass_random_weights(pipe, guidance, rows_per_evaluation) -> None:
    with batch_rows(pipe.model) as rows:
        stream = pipe.stream("a red circle", seed=2, guidance=guidance)
        take(stream, 2)
    assert stream.stats.evaluations >= pipe.schedule.scheme.total_steps
    assert rows == [rows_per_evaluation] * stream.stats.evaluations


@pytest.mark.parametrize(("strength", "t"), [(0.3, 0.25), (0.8, 0.75)])
def test_video_to_video_output_is_the_input_noised_to_the_strength_and_denoised_exactly(constant_pipe, strength,
                                                                                       t) -> None:
    """SDEdit in the buffer: input chunk i enters at the grid time t at or below the strength (the grid is
    1, .75, .5, .25, 0) as ``(1 - t) * z_i + t * noise_i``, and the constant velocity v moves it by ``-t * v``
    over its steps down to 0, so the stream is ``decode((1 - t) z_i + t noise_i - t v)`` with the seed's
    noise drawn chunk by chunk. At strengths other than 0.5 the input's and the noise's weights differ."""
    frames = np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    out = take(constant_pipe.stream("a red circle", seed=7, video=iter(frames), strength=strength), 100)
    autoencoder, g = PatchAutoencoder(4), torch.Generator().manual_seed(7)
    z = autoencoder.encode(video_to_tensor(torch.from_numpy(frames)[None]))
    assert len(out) == 5
    for i, chunk in enumerate(out):
        noise = torch.randn(constant_pipe.chunk_latent_shape, generator=g)
        latents = (1 - t) * z[:, :, 2 * i:2 * i + 2] + t * noise - t * CONSTANT_VELOCITY
        expected = tensor_to_video(autoencoder.decode(latents))[0].numpy()
        assert np.abs(chunk.astype(int) - expected.astype(int)).max() <= 1, f"chunk {i}"


def test_video_to_video_follows_the_input_and_ends_with_it_plumbing_random_weights(pipe) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (11, 48, 40, 3), dtype=np.uint8)  # any size: resized
    out = take(pipe.stream("a red circle", seed=0, video=iter(frames), strength=0.5), 100)
    assert [len(c) for c in out] == [2] * 5  # five chunks of two frames; the 11th frame makes no chunk


def test_bad_inputs_are_clear_errors(pipe) -> None:
    with pytest.raises(ValueError, match="limit"):
        pipe.stream("x" * 10_000)
    with pytest.raises(ValueError, match="strength"):
        pipe.stream("ok", video=[], strength=1.5)
    stream = pipe.stream("ok", video=iter(np.zeros((2, 32, 32, 3), np.uint8)))
    with pytest.raises(ValueError, match="at least 2 chunks"):
        next(stream)
    bad = pipe.stream("ok", video=iter(np.zeros((20, 32, 32), np.uint8)))
    with pytest.raises(ValueError, match=r"uint8 frames \(T, H, W, 3\)"):
        next(bad)


def test_save_and_load_reproduce_the_stream_bit_exactly_plumbing_random_weights(pipe, tmp_path, text_encoder) -> None:
    pipe.save_pretrained(tmp_path)
    loaded = StreamDiTPipeline.from_pretrained(tmp_path, text_encoder=text_encoder)
    assert loaded.config == pipe.config
    a = take(pipe.stream("a yellow star", seed=9), 3)
    b = take(loaded.stream("a yellow star", seed=9), 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_generate_collects_exactly_the_requested_frames_plumbing_random_weights(pipe) -> None:
    video = pipe.generate("a purple circle", num_frames=7, seed=0)
    assert video.shape == (7, 32, 32, 3)
    assert np.array_equal(video, np.concatenate(take(pipe.stream("a purple circle", seed=0), 4))[:7])  # the stream's


def test_missing_pipeline_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="pipeline.json"):
        StreamDiTPipeline.from_pretrained(tmp_path)


def test_a_pipeline_saved_with_text_layers_loads_its_encoder_with_them_plumbing_random_weights(tmp_path) -> None:
    from streamdit.models.text import TransformerTextEncoder

    encoder = TransformerTextEncoder(layers=(-1, 0))
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(4), text_encoder=encoder,
                                         config=PipelineConfig(chunk_size=2, text_layers=(-1, 0)), **SMALL)
    pipe.save_pretrained(tmp_path)
    loaded = StreamDiTPipeline.from_pretrained(tmp_path)  # builds its own encoder from pipeline.json
    assert loaded.config.text_layers == (-1, 0) and loaded.text_encoder.dim == 768
    assert loaded.generate("a red circle moving left", num_frames=4, seed=0).shape == (4, 32, 32, 3)


@pytest.mark.slow
def test_compiled_model_streams_the_same_video_plumbing_random_weights(text_encoder) -> None:
    """torch.compile (inductor on CPU, ~1 min to compile) gives the plain model's frames within one grey level."""
    def build() -> StreamDiTPipeline:
        pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(4), text_encoder=text_encoder,
                                             config=PipelineConfig(chunk_size=2, micro_steps=1, guidance=2.0), **SMALL)
        randomise(pipe.model, seed=3)
        return pipe

    plain, compiled = build(), build().compile()
    a = take(plain.stream("a red circle", seed=1), 2)
    b = take(compiled.stream("a red circle", seed=1), 2)
    assert "forward" in vars(compiled.model) and "forward" not in vars(plain.model)
    assert all(np.abs(x.astype(int) - y.astype(int)).max() <= 1 for x, y in zip(a, b))
    assert not np.array_equal(a[0], take(plain.stream("a blue square", seed=1), 1)[0])  # the frames carry the prompt
