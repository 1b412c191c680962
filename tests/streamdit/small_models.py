"""Small real models for the streamdit tests: one whose output depends on every input, one whose output is known."""

from __future__ import annotations

import torch

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder

CONSTANT_VELOCITY = 0.4


def randomise(model: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> torch.nn.Module:
    """Random weights added to every parameter, DiT's zero-initialised adaLN gates and output layer too, so
    the model's output depends on its inputs, the prompt included (a fresh StreamDiT outputs zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model


def constant_velocity_pipeline(text_encoder, autoencoder: PatchAutoencoder, sampler: PipelineConfig,
                               **overrides: object) -> StreamDiTPipeline:
    """A model whose output is known: a fresh velocity-predicting StreamDiT outputs zero (DiT's zero output
    layer), so with its output bias set to a constant it predicts ``v(x, t) = CONSTANT_VELOCITY`` everywhere."""
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=autoencoder, text_encoder=text_encoder, config=sampler,
                                         prediction="velocity", **overrides)
    with torch.no_grad():
        pipe.model.final_layer.linear.bias.fill_(CONSTANT_VELOCITY)
    return pipe
