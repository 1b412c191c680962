"""Shared checks of the autoencoders that are causal across chunks (Wan's VAE, TAEHV): chunk-wise stream
decoding, and a small randomly initialised pipeline streaming through one."""

import numpy as np
import torch

from streamdit import SamplerConfig, StreamDiTPipeline


def decode_in_chunks(autoencoder, latents: torch.Tensor, chunks: list[int]) -> list[torch.Tensor]:
    """Decode ``latents`` with one stream decoder, ``chunks`` latent frames per call."""
    decoder = autoencoder.stream_decoder()
    parts, start = [], 0
    for size in chunks:
        parts.append(decoder.decode(latents[:, :, start:start + size]))
        start += size
    return parts


def stream_random_pipeline(autoencoder, text_encoder, max_chunks: int = 3) -> list[np.ndarray]:
    """The frames of each chunk of a stream (chunks of 2 latent frames) from a tiny random model on ``autoencoder``."""
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=autoencoder, text_encoder=text_encoder,
                                         sampler=SamplerConfig(chunk_size=2, micro_steps=1, guidance=0.0),
                                         buffer_frames=4, latent_height=2, latent_width=2, hidden_size=24,
                                         depth=1, num_heads=2, window_size=(4, 1, 1), patch_size=(1, 1, 1))
    with pipe.stream("a red circle", seed=0, max_chunks=max_chunks) as stream:
        return list(stream)
