"""Shared checks of the autoencoders that are causal across chunks (Wan's VAE, TAEHV): chunk-wise stream
decoding, and a small randomly initialised pipeline streaming through one."""

import numpy as np
import torch
from small_models import randomise

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import tensor_to_video
from streamdit.inference.sampler import EnteringChunk, denoise_stream


def decode_in_chunks(autoencoder, latents: torch.Tensor, chunks: list[int]) -> list[torch.Tensor]:
    """Decode ``latents`` with one stream decoder, ``chunks`` latent frames per call."""
    decoder = autoencoder.stream_decoder()
    parts, start = [], 0
    for size in chunks:
        parts.append(decoder.decode(latents[:, :, start:start + size]))
        start += size
    return parts


def stream_random_pipeline(autoencoder, text_encoder, max_chunks: int = 3) -> list[np.ndarray]:
    """The frames of each chunk of a stream (chunks of 2 latent frames) from a tiny random model on ``autoencoder``,
    checked against a reference: the sampler's latents for the same seed decoded by one stream decoder, chunk
    after chunk (a decoder restarted per chunk, or chunks decoded out of order, give other frames)."""
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=autoencoder, text_encoder=text_encoder,
                                         config=PipelineConfig(chunk_size=2, micro_steps=1, guidance=0.0),
                                         buffer_frames=4, latent_height=2, latent_width=2, hidden_size=24,
                                         depth=1, num_heads=2, window_size=(4, 1, 1), patch_size=(1, 1, 1))
    randomise(pipe.model)
    with pipe.stream("a red circle", seed=0, max_chunks=max_chunks) as stream:
        chunks = list(stream)
    g, text, decoder = torch.Generator().manual_seed(0), pipe.encode_prompt("a red circle"), autoencoder.stream_decoder()
    with torch.inference_mode():
        emitted = denoise_stream(lambda x, t: pipe.velocity(x, t, text, None, None), pipe.schedule,
                                 lambda: EnteringChunk(torch.randn(pipe.chunk_latent_shape, generator=g)))
        for i, (chunk, reference) in enumerate(zip(chunks, emitted)):
            expected = tensor_to_video(decoder.decode(reference.latents))[0].numpy()
            assert np.abs(chunk.astype(int) - expected.astype(int)).max() <= 1, f"chunk {i}"
    return chunks
