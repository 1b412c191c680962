"""StreamDiT: an adaLN-Zero DiT over a moving buffer of latent frames (docs/architecture.md §2.4).

Reads like DiT's ``models.py``: a config dataclass, ``modulate``, embedders, ``DiTBlock``, ``FinalLayer``.
What is specific to StreamDiT:

- **per-frame time**: ``t`` has shape ``(batch, frames)``; each frame's embedding (plus pooled text)
  modulates shift, scale and gate of every token of that frame only;
- **window attention**: self-attention inside non-overlapping 3D token windows, cyclically shifted by
  half a window in every other block (Swin-style, as in the paper) so information crosses borders;
  a window that covers the whole buffer is full attention;
- 3D rotary position embedding (time, height, width split of each head, as in Wan) applied before
  windowing, so attention inside a shifted window still sees true relative positions;
- text conditioning by cross-attention to the text encoder's tokens.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.checkpoint import checkpoint

from streamdit.loading import read_json, write_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass
class StreamDiTConfig:
    """Architecture of a StreamDiT model. Sizes of the latent buffer are in latent frames/pixels."""

    in_channels: int = 8
    buffer_frames: int = 8
    latent_height: int = 16
    latent_width: int = 16
    patch_size: tuple[int, int, int] = (1, 2, 2)
    hidden_size: int = 192
    depth: int = 6
    num_heads: int = 6
    mlp_ratio: float = 4.0
    window_size: tuple[int, int, int] = (4, 8, 8)
    text_dim: int = 384
    qk_norm: bool = True
    rope_theta: float = 10000.0
    prediction: str = "velocity"  # what the network outputs: "velocity" (eps - x0) or "sample" (x0)

    def __post_init__(self) -> None:
        self.patch_size = tuple(self.patch_size)
        self.window_size = tuple(self.window_size)
        dims = (self.buffer_frames, self.latent_height, self.latent_width)
        for size, p, name in zip(dims, self.patch_size, ("buffer_frames", "latent_height", "latent_width")):
            if size % p:
                raise ValueError(f"{name}={size} is not divisible by patch size {p}")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}")
        if self.head_dim % 2 or self.head_dim < 6:
            raise ValueError(f"head_dim={self.head_dim} must be even and >= 6 for 3D RoPE")
        for g, w in zip(self.token_grid, self.window_size):
            if w < 1 or (w < g and g % w):
                raise ValueError(f"window {self.window_size} does not tile the token grid {self.token_grid}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """Tokens along (frames, height, width)."""
        dims = (self.buffer_frames, self.latent_height, self.latent_width)
        return tuple(d // p for d, p in zip(dims, self.patch_size))

    @property
    def effective_window(self) -> tuple[int, int, int]:
        """Window clipped to the token grid (a window larger than the grid covers it whole)."""
        return tuple(min(w, g) for w, g in zip(self.window_size, self.token_grid))

    @classmethod
    def preset(cls, name: str) -> "StreamDiTConfig":
        """A named architecture: ``tiny`` (the bundled CPU model) or ``paper-4b`` (see ``PRESETS``)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**PRESETS[name])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "StreamDiTConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown StreamDiTConfig fields: {sorted(unknown)}")
        return cls(**data)


PREDICTIONS = ("velocity", "sample")
SAMPLE_PREDICTION_MIN_TIME = 0.05  # JiT's clamp of t when turning a predicted x0 into a velocity

PRESETS: dict[str, dict] = {
    # 4 frames of 16x16 latents, 2x2 patches: 4 x 8 x 8 = 256 tokens, attention over the whole buffer; ~5M
    # parameters. It predicts x0 ("sample"): with pixel-space patches (8x8x3 per latent pixel) a token holds
    # 768 values, more than the width, and a velocity (noise) prediction cannot pass that through, while
    # clean frames of the domain are low-dimensional (JiT, Li & He 2025).
    "tiny": dict(in_channels=8, buffer_frames=4, latent_height=16, latent_width=16, patch_size=(1, 2, 2),
                 hidden_size=192, depth=6, num_heads=6, window_size=(4, 8, 8), text_dim=384, prediction="sample"),
    # The same network over the small video autoencoder's latents (8 channels, 4x time, 8x space: 16 video
    # frames of 128x128 per buffer). A token holds 2x2x8 = 32 values, well under the width, so it predicts
    # the velocity like the paper's model.
    "tiny-latent": dict(in_channels=8, buffer_frames=4, latent_height=16, latent_width=16, patch_size=(1, 2, 2),
                        hidden_size=192, depth=6, num_heads=6, window_size=(4, 8, 8), text_dim=384,
                        prediction="velocity"),
    # World v2's model (256x256 video through the 16x, 32-channel autoencoder: 16x16 latents): 8 latent frames
    # (32 video frames, 2 s) of 2x2 patches, 8 x 8 x 8 = 512 tokens, attention over the whole buffer; width
    # 256, 7 blocks, ~10.9M parameters. Chosen by measurement on the 2-core CPU (AMD EPYC, AVX512-BF16; bf16,
    # batch 1): widths 192-384, depths 6-8 and 256-2048 tokens all ran at 22-32% of the bf16 matmul peak
    # measured beside them; this is the largest that keeps three fp16 copies (teacher, ablation, student)
    # within the 80 MB of shipped weights, and one evaluation (38-53 ms, 8.6 GFLOP) leaves the student,
    # which emits 4 frames per evaluation, far above 24 FPS. 1024 tokens (1x1 patches) would cost 4x the
    # training time, the limit on this machine.
    "world2": dict(in_channels=32, buffer_frames=8, latent_height=16, latent_width=16, patch_size=(1, 2, 2),
                   hidden_size=256, depth=7, num_heads=4, window_size=(8, 8, 8), text_dim=384, prediction="velocity"),
    # The paper's buffer (16 latent frames = 64 video frames at 512p, 8 latent channels, 8x spatial AE),
    # 2x2 patches: 16 x 32 x 32 = 16384 tokens; windows of 8 x 16 x 16 tokens. Width 3072 with 24 heads of
    # 128 and 19 blocks give ~4.0B parameters (the paper's "4B"); text width 4096 (a T5-XXL-sized encoder).
    "paper-4b": dict(in_channels=8, buffer_frames=16, latent_height=64, latent_width=64, patch_size=(1, 2, 2),
                     hidden_size=3072, depth=19, num_heads=24, window_size=(8, 16, 16), text_dim=4096),
}


def check_buffer_inputs(config: StreamDiTConfig, x: torch.Tensor, t: torch.Tensor) -> None:
    """Latents ``(N, C, frames, H, W)`` and per-frame times ``(N, frames)`` of the configured buffer, or a clear error."""
    expected = (config.in_channels, config.buffer_frames, config.latent_height, config.latent_width)
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"expected latents of shape (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
    if t.shape != (x.shape[0], config.buffer_frames):
        raise ValueError(f"expected per-frame times of shape {(x.shape[0], config.buffer_frames)}, got {tuple(t.shape)}")


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """Sinusoidal embedding of ``t in [0, 1]`` (scaled by 1000, as DiT's integer steps) and an MLP."""

    def __init__(self, hidden_size: int, frequency_size: int = 256) -> None:
        super().__init__()
        self.frequency_size = frequency_size
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    @staticmethod
    def sinusoidal(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        args = (t.float() * 1000.0)[..., None] * freqs
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        emb = self.sinusoidal(t, self.frequency_size).to(self.mlp[0].weight.dtype)
        return self.mlp(emb)


class TextProjection(nn.Module):
    """Projects text-encoder tokens to the model width; a masked mean gives the pooled embedding."""

    def __init__(self, text_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.tokens = nn.Sequential(nn.Linear(text_dim, hidden_size), nn.GELU(approximate="tanh"),
                                    nn.Linear(hidden_size, hidden_size))
        self.pooled = nn.Sequential(nn.Linear(text_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, text: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = mask.to(text.dtype)[..., None]
        pooled = (text * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.tokens(text), self.pooled(pooled)


class RotaryEmbedding3D(nn.Module):
    """3D RoPE: each head's channels are split among time, height and width (Wan's split)."""

    def __init__(self, head_dim: int, grid: tuple[int, int, int], theta: float = 10000.0) -> None:
        super().__init__()
        dim_h = dim_w = 2 * (head_dim // 6)
        dim_t = head_dim - dim_h - dim_w
        angles = []
        for axis, (dim, size) in enumerate(zip((dim_t, dim_h, dim_w), grid)):
            freqs = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
            pos = torch.arange(size, dtype=torch.float64)
            ang = torch.outer(pos, freqs)  # (size, dim/2)
            shape = [1, 1, 1, dim // 2]
            shape[axis] = size
            angles.append(ang.view(shape).expand(*grid, dim // 2))
        ang = torch.cat(angles, dim=-1).reshape(-1, head_dim // 2)  # (tokens, head_dim/2)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate ``x`` of shape ``(N, heads, tokens, head_dim)`` (pairs of adjacent channels)."""
        x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
        cos, sin = self.cos.to(x.device), self.sin.to(x.device)
        out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
        return out.to(x.dtype)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention of ``(N, heads, L, d)`` queries over keys and values; ``mask`` (boolean,
    broadcast to ``(N, heads, L, S)``) keeps the keys where it is True.

    On a CPU in bf16 or fp16 (weights or autocast) it is written out as two matrix products around a softmax:
    for these short sequences (512 tokens, heads of 64) PyTorch's CPU flash kernel ran 3x slower than oneDNN's
    bf16 matrix products (2.0 vs 0.7 ms a call on AVX512-BF16; a world2 training step 0.83 -> 0.59 s, a batch-1
    evaluation 39 -> 29 ms). Elsewhere it is ``F.scaled_dot_product_attention``."""
    low_precision = q.dtype in (torch.bfloat16, torch.float16) or torch.is_autocast_enabled("cpu")
    if q.device.type != "cpu" or not low_precision:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return scores.softmax(-1) @ v


def window_partition(x: torch.Tensor, grid: tuple[int, int, int], window: tuple[int, int, int],
                     shift: tuple[int, int, int]) -> torch.Tensor:
    """``(N, heads, F*H*W, d)`` -> ``(N * windows, heads, wt*wh*ww, d)`` after a cyclic shift by ``-shift``."""
    n, h, _, d = x.shape
    (gf, gh, gw), (wf, wh, ww) = grid, window
    x = x.view(n, h, gf, gh, gw, d)
    if any(shift):
        x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(2, 3, 4))
    x = x.view(n, h, gf // wf, wf, gh // wh, wh, gw // ww, ww, d)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7, 8)
    return x.reshape(-1, h, wf * wh * ww, d)


def window_reverse(x: torch.Tensor, batch: int, grid: tuple[int, int, int], window: tuple[int, int, int],
                   shift: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: back to ``(N, heads, F*H*W, d)`` with every token in place."""
    _, h, _, d = x.shape
    (gf, gh, gw), (wf, wh, ww) = grid, window
    x = x.view(batch, gf // wf, gh // wh, gw // ww, h, wf, wh, ww, d)
    x = x.permute(0, 4, 1, 5, 2, 6, 3, 7, 8).reshape(batch, h, gf, gh, gw, d)
    if any(shift):
        x = torch.roll(x, shifts=shift, dims=(2, 3, 4))
    return x.reshape(batch, h, gf * gh * gw, d)


class WindowSelfAttention(nn.Module):
    """Multi-head self-attention inside 3D windows (optionally shifted), with QK-norm and 3D RoPE."""

    def __init__(self, cfg: StreamDiTConfig, shifted: bool) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.grid, self.window = cfg.token_grid, cfg.effective_window
        self.shift = tuple(w // 2 if shifted and w < g else 0 for w, g in zip(self.window, self.grid))
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.q_norm = nn.RMSNorm(cfg.head_dim, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(cfg.head_dim, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding3D) -> torch.Tensor:
        n, length, dim = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = rope(self.q_norm(q)), rope(self.k_norm(k))
        q, k, v = (window_partition(z, self.grid, self.window, self.shift) for z in (q, k, v))
        out = attention(q, k, v)
        out = window_reverse(out, n, self.grid, self.window, self.shift)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class CrossAttention(nn.Module):
    """Attention from video tokens to text tokens; padded text tokens are masked out."""

    def __init__(self, cfg: StreamDiTConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        self.q = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.kv = nn.Linear(cfg.hidden_size, 2 * cfg.hidden_size)
        self.q_norm = nn.RMSNorm(cfg.head_dim, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(cfg.head_dim, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        q = self.q_norm(self.q(x).view(n, length, self.num_heads, -1).transpose(1, 2))
        k, v = self.kv(text).view(n, text.shape[1], 2, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = attention(q, self.k_norm(k), v, mask[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class DiTBlock(nn.Module):
    """adaLN-Zero block: window self-attention, text cross-attention, MLP; per-frame modulation."""

    def __init__(self, cfg: StreamDiTConfig, shifted: bool) -> None:
        super().__init__()
        dim = cfg.hidden_size
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = WindowSelfAttention(cfg, shifted)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=True, eps=1e-6)
        self.cross_attn = CrossAttention(cfg)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                rope: RotaryEmbedding3D) -> torch.Tensor:
        n, length, dim = x.shape
        frames = c.shape[1]
        # per-frame modulation broadcast over that frame's tokens: (N, frames, 1, dim) each
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c)[:, :, None].chunk(6, -1)

        def per_frame(z: torch.Tensor) -> torch.Tensor:
            return z.view(n, frames, length // frames, dim)

        h = modulate(per_frame(self.norm1(x)), shift_msa, scale_msa).view(n, length, dim)
        x = x + (gate_msa * per_frame(self.attn(h, rope))).view(n, length, dim)
        x = x + self.cross_attn(self.norm2(x), text, mask)
        h = modulate(per_frame(self.norm3(x)), shift_mlp, scale_mlp).view(n, length, dim)
        return x + (gate_mlp * per_frame(self.mlp(h))).view(n, length, dim)


class FinalLayer(nn.Module):
    def __init__(self, cfg: StreamDiTConfig) -> None:
        super().__init__()
        dim = cfg.hidden_size
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, math.prod(cfg.patch_size) * cfg.in_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        shift, scale = self.adaLN_modulation(c)[:, :, None].chunk(2, -1)
        x = modulate(self.norm(x).view(n, c.shape[1], -1, dim), shift, scale)
        return self.linear(x.view(n, length, dim))


class StreamDiT(nn.Module):
    """Predicts the flow velocity ``eps - x_0`` of a buffer of latent frames at per-frame noise levels.

    With ``prediction="sample"`` the network outputs ``x_0`` and the forward pass returns the velocity
    ``(x_t - x_0) / max(t, 0.05)`` (x-prediction with a velocity loss, as in JiT), so samplers, losses
    and distillation see one interface."""

    _no_split_modules = ["DiTBlock"]  # FSDP wraps each block as one unit

    def __init__(self, config: StreamDiTConfig) -> None:
        super().__init__()
        self.config = cfg = config
        self.x_embedder = nn.Conv3d(cfg.in_channels, cfg.hidden_size, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.t_embedder = TimestepEmbedder(cfg.hidden_size)
        self.text_embedder = TextProjection(cfg.text_dim, cfg.hidden_size)
        self.rope = RotaryEmbedding3D(cfg.head_dim, cfg.token_grid, cfg.rope_theta)
        self.blocks = nn.ModuleList([DiTBlock(cfg, shifted=i % 2 == 1) for i in range(cfg.depth)])
        self.final_layer = FinalLayer(cfg)
        self.gradient_checkpointing = False  # recompute each block's activations in the backward pass
        self.initialize_weights()

    def enable_gradient_checkpointing(self) -> None:
        """Activation checkpointing per block (diffusers' name): less memory, one more forward per step."""
        self.gradient_checkpointing = True

    def initialize_weights(self) -> None:
        """DiT's initialisation: Xavier linears, zero adaLN gates and output layer (each block starts as identity)."""
        def _basic_init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

        self.apply(_basic_init)
        w = self.x_embedder.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.x_embedder.bias)
        for mlp in (self.t_embedder.mlp, self.text_embedder.pooled):
            nn.init.normal_(mlp[0].weight, std=0.02)
            nn.init.normal_(mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
            nn.init.zeros_(block.cross_attn.proj.weight)
            nn.init.zeros_(block.cross_attn.proj.bias)
        for layer in (self.final_layer.adaLN_modulation[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def frame_conditioning(self, t: torch.Tensor, pooled_text: torch.Tensor) -> torch.Tensor:
        """Per token-frame conditioning ``(N, token_frames, dim)`` from per-frame times ``(N, frames)``."""
        pt = self.config.patch_size[0]
        t_tokens = t.view(t.shape[0], -1, pt).mean(-1)
        return self.t_embedder(t_tokens) + pooled_text[:, None]

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        (gf, gh, gw), (pf, ph, pw) = cfg.token_grid, cfg.patch_size
        x = x.view(x.shape[0], gf, gh, gw, pf, ph, pw, cfg.in_channels)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(x.shape[0], cfg.in_channels, gf * pf, gh * ph, gw * pw)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(N, C, frames, H, W)`` latents; ``t``: ``(N, frames)`` times in [0, 1];
        ``text``: ``(N, L, text_dim)`` encoder tokens with boolean ``text_mask`` ``(N, L)``."""
        cfg = self.config
        check_buffer_inputs(cfg, x, t)
        if text_mask is None:
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
        tokens = self.x_embedder(x).flatten(2).transpose(1, 2)
        text_tokens, pooled = self.text_embedder(text, text_mask)
        c = self.frame_conditioning(t, pooled)
        for block in self.blocks:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                tokens = checkpoint(block, tokens, c, text_tokens, text_mask, self.rope, use_reentrant=False)
            else:
                tokens = block(tokens, c, text_tokens, text_mask, self.rope)
        out = self.unpatchify(self.final_layer(tokens, c))
        if cfg.prediction == "sample":  # the network gives x0; return the velocity (x_t - x0) / t
            return (x - out) / t.clamp_min(SAMPLE_PREDICTION_MIN_TIME).to(x.dtype)[:, None, :, None, None]
        return out

    # -- save / load -------------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        write_json(directory / CONFIG_NAME, self.config.to_dict())
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})

    @classmethod
    def config_from_pretrained(cls, directory: str | Path) -> StreamDiTConfig:
        """The configuration saved in ``directory`` (no weights are read)."""
        return StreamDiTConfig.from_dict(read_json(Path(directory) / CONFIG_NAME, "a StreamDiT model's config.json"))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None) -> "StreamDiT":
        """Load a model written by :meth:`save_pretrained`; missing or unexpected weights are an error."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: a StreamDiT model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
        config = cls.config_from_pretrained(directory)
        with torch.device("meta"):
            model = cls(config)
        state = load_file(str(weights_path), device=str(device))
        # safetensors puts CPU tensors at 8-byte offsets of one buffer; CPU matmul kernels take another path
        # on such unaligned weights (last-bit differences), so copy them to aligned memory of their own
        state = {name: value.clone() if value.device.type == "cpu" else value for name, value in state.items()}
        model.load_state_dict(state, strict=True, assign=True)
        model.rope = RotaryEmbedding3D(config.head_dim, config.token_grid, config.rope_theta).to(device)
        if dtype is not None:
            model = model.to(dtype)
        return model.eval()

    def widen_text_input(self, text_dim: int) -> "StreamDiT":
        """A copy taking ``text_dim`` text features: the first ``config.text_dim`` as before, the added ones
        with zero weights, so it computes the same function until fine-tuning learns to use them."""
        old = self.config.text_dim
        if text_dim < old:
            raise ValueError(f"text_dim can only grow: {old} -> {text_dim}")
        wider = StreamDiT(StreamDiTConfig.from_dict({**self.config.to_dict(), "text_dim": text_dim}))
        state = self.state_dict()
        for name in ("text_embedder.tokens.0.weight", "text_embedder.pooled.0.weight"):
            state[name] = torch.cat([state[name], state[name].new_zeros(state[name].shape[0], text_dim - old)], dim=1)
        wider.load_state_dict(state)
        return wider.to(next(self.parameters()).dtype).train(self.training)

    def deepen(self, depth: int) -> "StreamDiT":
        """A copy with ``depth`` blocks: these blocks as the first ones, the added ones appended before the
        final layer with adaLN-Zero's initialisation (zero gates), so it computes the same function until
        fine-tuning uses them: a trained model grows without losing what it learnt."""
        old = self.config.depth
        if depth < old:
            raise ValueError(f"depth can only grow: {old} -> {depth}")
        deeper = StreamDiT(StreamDiTConfig.from_dict({**self.config.to_dict(), "depth": depth}))
        missing, unexpected = deeper.load_state_dict(self.state_dict(), strict=False)
        assert not unexpected and all(int(name.split(".")[1]) >= old for name in missing), (missing, unexpected)
        return deeper.to(next(self.parameters()).dtype).train(self.training)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
