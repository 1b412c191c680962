"""Model FLOPs, for model FLOP utilisation (MFU) in the benchmark and for planning training runs.

:func:`forward_flops` is the analytic count of one StreamDiT forward pass (matrix products only, 2 FLOPs
per multiply-add, as in the PaLM/Chinchilla MFU convention); :func:`measured_flops` counts any model's
forward with ``torch.utils.flop_counter`` on a weightless (meta) copy, so it costs no memory and works for
the Wan-based model too (whose time embedding runs per token). Tests check the two agree.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.wan import WanStreamDiT

TIME_FREQUENCIES = 256  # TimestepEmbedder's sinusoidal width

# Dense bf16/fp16 tensor-core peaks in FLOP/s (vendor data sheets, SXM parts, without sparsity).
PEAK_FLOPS = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L40S": 362.05e12, "RTX 4090": 165.2e12}


def forward_flops(config: StreamDiTConfig, text_tokens: int, batch: int = 1) -> int:
    """FLOPs of one forward pass of a :class:`~streamdit.models.dit.StreamDiT` over ``batch`` buffers."""
    d, depth, frames = config.hidden_size, config.depth, config.token_grid[0]
    tokens = math.prod(config.token_grid)
    window = math.prod(config.effective_window)
    patch = math.prod(config.patch_size) * config.in_channels
    mlp = int(d * config.mlp_ratio)
    two_layer = lambda rows, d_in: 2 * rows * (d_in * d + d * d)  # noqa: E731  Linear(d_in, d) -> Linear(d, d)
    embed = (2 * tokens * patch * d + two_layer(frames, TIME_FREQUENCIES)
             + two_layer(text_tokens, config.text_dim) + two_layer(1, config.text_dim))
    block = (2 * frames * d * 6 * d  # adaLN modulation per frame
             + 2 * tokens * d * 3 * d + 4 * tokens * window * d + 2 * tokens * d * d  # window self-attention
             + 2 * tokens * d * d + 2 * text_tokens * d * 2 * d + 4 * tokens * text_tokens * d + 2 * tokens * d * d  # cross
             + 4 * tokens * d * mlp)  # MLP
    final = 2 * frames * d * 2 * d + 2 * tokens * d * patch
    return batch * (embed + depth * block + final)


def measured_flops(model: nn.Module, batch: int, text_tokens: int) -> int:
    """FLOPs of ``model(x, t, text)`` for ``batch`` buffers, counted on a meta-device copy (no weights)."""
    cfg = model.config
    meta = meta_copy(model)
    x = torch.zeros(batch, cfg.in_channels, cfg.buffer_frames, cfg.latent_height, cfg.latent_width, device="meta")
    t = torch.zeros(batch, cfg.buffer_frames, device="meta")
    text = torch.zeros(batch, text_tokens, cfg.text_dim, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(x, t, text)
    return int(counter.get_total_flops())


def meta_copy(model: nn.Module) -> nn.Module:
    """The same architecture with weights on the meta device (a real copy of a 4B model would double its memory)."""
    with torch.device("meta"):
        if isinstance(model, StreamDiT):
            return StreamDiT(model.config)
        if isinstance(model, WanStreamDiT):
            return WanStreamDiT(type(model.wan).from_config(model.wan.config), **model.buffer_config())
    raise TypeError(f"cannot count the FLOPs of {type(model).__name__}")


def peak_flops(device: torch.device | str) -> float | None:
    """The dense bf16 peak of a known CUDA GPU, or None (CPU, or a GPU not in :data:`PEAK_FLOPS`)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_FLOPS.items() if key in name), None)


def matmul_throughput(dtype: torch.dtype, device: torch.device | str = "cpu", size: int = 1024,
                      seconds: float = 0.5) -> float:
    """FLOP/s of square ``size`` x ``size`` matrix products in ``dtype`` on ``device``, measured now (after a
    warm-up, the best of three rounds of about ``seconds / 3``, so that a moment's interruption does not
    count): the practical peak a model running in that dtype can reach on this machine with its current
    threads (on a CPU with AMX, bf16 runs several times fp32)."""
    device = torch.device(device)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        a @ b
    sync()
    rates = []
    for _ in range(3):
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            runs += 1
        sync()
        rates.append(2 * size**3 * runs / (time.perf_counter() - start))
    return max(rates)
