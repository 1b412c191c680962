"""The stream batch: several streams' evaluations in one forward give what each stream alone computes."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest
import torch
from small_models import randomise  # tests/streamdit/conftest.py

from streamdit import PipelineConfig, StreamBatcher, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.inference.sampler import guided_velocity
from streamdit.inference.stream_batch import VelocityRequest, batched_velocity, pad_tokens

SMALL = dict(buffer_frames=4, latent_height=8, latent_width=8, hidden_size=48, depth=2, num_heads=2,
             window_size=(2, 4, 4))
PROMPTS = ("a red circle moving left", "a blue square moving up on a white background", "a green diamond")
GUIDANCE = (None, 3.0, 6.5)  # one stream unguided, two with different scales
MIN_T = (0.0, 0.0, 0.5)  # the last guided only at noise levels t >= 0.5


@pytest.fixture(scope="module")
def pipe(text_encoder) -> StreamDiTPipeline:
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(4), text_encoder=text_encoder,
                                         config=PipelineConfig(chunk_size=2, micro_steps=1), **SMALL)
    randomise(pipe.model)
    return pipe


def requests(pipe: StreamDiTPipeline) -> list[VelocityRequest]:
    g = torch.Generator().manual_seed(0)
    null = pipe.encode_prompt("")
    shape = (1, pipe.model.config.in_channels, pipe.model.config.buffer_frames, 8, 8)
    return [VelocityRequest(torch.randn(shape, generator=g), torch.rand(1, shape[2], generator=g),
                            pipe.encode_prompt(prompt), null, guidance, min_t)
            for prompt, guidance, min_t in zip(PROMPTS, GUIDANCE, MIN_T)]


def test_one_batched_forward_equals_each_request_alone(pipe) -> None:
    batch = requests(pipe)
    rows = []
    handle = pipe.model.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    try:
        with torch.inference_mode():
            together = batched_velocity(pipe.model, batch)
    finally:
        handle.remove()
    assert rows == [5]  # 1 + 2 + 2 rows (the guided requests bring their unconditional rows) in one forward
    with torch.inference_mode():
        for request, velocity in zip(batch, together):
            alone = guided_velocity(pipe.model, request.x, request.t, request.text, request.null, request.guidance,
                                    request.min_t)
            torch.testing.assert_close(velocity, alone, rtol=1e-3, atol=1e-4)
    assert not torch.allclose(together[0], together[1], atol=1e-3)  # the prompts and scales do matter


def test_shorter_prompts_are_padded_with_masked_tokens(pipe) -> None:
    text = pipe.encode_prompt("a red circle")
    padded = pad_tokens(text, text.tokens.shape[1] + 3)
    assert padded.tokens.shape[1] == text.tokens.shape[1] + 3 and not padded.mask[:, -3:].any()
    x, t = requests(pipe)[0].x, torch.full((1, 4), 0.5)
    with torch.inference_mode():
        torch.testing.assert_close(pipe.model(x, t, padded.tokens, padded.mask), pipe.model(x, t, text.tokens, text.mask),
                                   rtol=1e-3, atol=1e-4)


def test_requests_waiting_during_a_forward_share_the_next_one(pipe) -> None:
    gate, rows = threading.Event(), []

    def held_model(*args: torch.Tensor) -> torch.Tensor:  # the real model, held until the others are waiting
        rows.append(args[0].shape[0])
        gate.wait(30)
        return pipe.model(*args)

    batcher, batch = StreamBatcher(held_model), requests(pipe)
    results: dict[int, torch.Tensor] = {}

    def ask(i: int) -> None:
        r = batch[i]
        with torch.inference_mode():
            results[i] = batcher.velocity(r.x, r.t, r.text, r.null, r.guidance)

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    while not rows:
        time.sleep(0.01)
    others = [threading.Thread(target=ask, args=(i,)) for i in (1, 2)]
    for thread in others:
        thread.start()
    time.sleep(0.5)  # both are queued behind the held forward
    gate.set()
    for thread in [first, *others]:
        thread.join(30)
    assert rows == [1, 4] and (batcher.forwards, batcher.requests) == (2, 3)
    with torch.inference_mode():
        for i, r in enumerate(batch):
            torch.testing.assert_close(results[i], guided_velocity(pipe.model, r.x, r.t, r.text, r.null, r.guidance),
                                       rtol=1e-3, atol=1e-4)


def test_streams_through_one_batcher_make_the_frames_they_make_alone(pipe) -> None:
    def frames(batcher: StreamBatcher | None) -> list[np.ndarray]:
        streams = [pipe.stream(prompt, seed=i, guidance=guidance or 0.0, batcher=batcher)
                   for i, (prompt, guidance) in enumerate(zip(PROMPTS, GUIDANCE))]
        out = [np.concatenate(list(itertools.islice(stream, 3))) for stream in streams]
        for stream in streams:
            stream.stop()
        return out

    batcher = StreamBatcher(pipe.model)
    for alone, batched in zip(frames(None), frames(batcher)):
        assert np.abs(alone.astype(int) - batched.astype(int)).max() <= 1  # uint8 rounding at most
    assert batcher.requests >= 3 * 3 and batcher.forwards <= batcher.requests


def test_a_failing_forward_reaches_every_waiting_stream(pipe) -> None:
    batcher, r = StreamBatcher(pipe.model), requests(pipe)[0]
    with pytest.raises(ValueError, match="expected latents of shape"):  # 3 channels: the model refuses them
        batcher.velocity(r.x[:, :3], r.t, r.text, r.null, r.guidance)
    torch.testing.assert_close(batcher.velocity(r.x, r.t, r.text, r.null, r.guidance),  # and it serves on
                               guided_velocity(pipe.model, r.x, r.t, r.text, r.null, r.guidance), rtol=1e-3, atol=1e-4)


def test_prompt_versions_follow_set_prompt(pipe) -> None:
    stream = pipe.stream(PROMPTS[0], max_chunks=12, queue_size=1)
    with stream:
        next(stream)
        assert stream.chunk_version == 0
        stream.set_prompt(PROMPTS[1])
        assert stream.prompt_version == 1
        versions = [stream.chunk_version for _ in stream]
    assert versions[-1] == 1 and versions == sorted(versions)  # chunks that entered after the change carry it


def test_an_on_demand_stream_denoises_a_chunk_only_when_asked(pipe) -> None:
    stream = pipe.stream(PROMPTS[0], on_demand=True)
    with stream:
        time.sleep(0.3)
        assert stream.stats.evaluations == 0  # nothing made before the first ask
        first = next(stream)
        time.sleep(0.3)
        made = stream.stats.evaluations
        assert made > 0
        second = next(stream)
        time.sleep(0.3)
        assert stream.stats.evaluations == made + pipe.schedule.scheme.micro_steps  # one chunk per ask, none ahead
        stream.set_prompt(PROMPTS[1])
        k = pipe.schedule.scheme.num_chunks
        versions = [next(stream) is not None and stream.chunk_version for _ in range(k)]
        assert versions == [0] * (k - 1) + [1]  # the chunk that entered at the next ask comes out k chunks later
    assert first.shape == second.shape
