"""Model tests run on models in which every branch reaches the output.

A fresh StreamDiT is adaLN-Zero: its modulation (shift, scale, gate), its cross-attention output and its final
layer start at zero, and so do all biases. Such a model outputs zero and every block is the identity, so a
mix-up of modulation terms, a dropped branch or a wrong gate cannot change anything a test sees. The
``random_dit`` fixture builds models whose zero-initialised tensors are filled with small random values (the
other weights keep DiT's initialisation); tests of the model's function use it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from streamdit import StreamDiT, StreamDiTConfig

ZERO_FILL_SCALE = 0.1


def fill_zero_tensors(model: torch.nn.Module, seed: int = 0, scale: float = ZERO_FILL_SCALE) -> torch.nn.Module:
    """Give every all-zero parameter of ``model`` random values of standard deviation ``scale``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * scale)
    return model


def build_random_dit(config: StreamDiTConfig, seed: int = 0, scale: float = ZERO_FILL_SCALE) -> StreamDiT:
    """A StreamDiT of ``config`` (DiT's initialisation from ``seed``) with its zero tensors filled, in eval mode."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = StreamDiT(config)
    return fill_zero_tensors(model, seed, scale).eval()


@pytest.fixture
def random_dit() -> Callable[..., StreamDiT]:
    """``random_dit(config, seed=0)``: a StreamDiT in which no parameter is zero (see the module docstring)."""
    return build_random_dit
