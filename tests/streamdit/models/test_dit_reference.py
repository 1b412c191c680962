"""StreamDiT's forward against a reference written here from the equations, not from streamdit.models.dit.

The reference reads the model's weights by name and computes with plain tensor operations, in float64:

- patches: each (1, 2, 2) patch of the latents is one token, ``W · patch + b`` (a strided convolution), tokens in
  (frame, row, column) order;
- per-frame conditioning (DiT's ``TimestepEmbedder``): ``c_f = MLP(sinusoid(1000 t_f)) + MLP(masked mean of the
  prompt's tokens)``, the sinusoid ``[cos(1000 t w_k), sin(1000 t w_k)]`` with ``w_k = 10000^(-k / 128)``;
- each block, adaLN-Zero (DiT, Peebles & Xie 2023, eq. and Fig. 3), with ``shift1, scale1, gate1, shift2, scale2,
  gate2 = W · SiLU(c_f) + b`` for the tokens of frame ``f``:
  ``x += gate1 * SelfAttn(LN(x) * (1 + scale1) + shift1)``, ``x += CrossAttn(LN'(x), text)``,
  ``x += gate2 * MLP(LN(x) * (1 + scale2) + shift2)``;
- self-attention per head with RMS-normalised queries and keys rotated by 3D RoPE (each head's channel pairs split
  among time, height and width as in Wan: ``d - 4 (d // 6)``, ``2 (d // 6)``, ``2 (d // 6)`` channels; a pair is one
  complex number turned by ``position * theta^(-2k / d_axis)``), restricted to tokens of the same 3D window, the
  windows of every other block moved by half a window (cyclically);
- cross-attention from tokens to the prompt's tokens, padded ones masked out;
- final layer ``Linear(LN(x) * (1 + scale) + shift)``, each token's outputs laid back on its patch in DiT's
  (frame, row, column, channel) order; a "sample" model's output ``x0`` is returned as the velocity
  ``(x_t - x0) / max(t, 0.05)``.
"""

from __future__ import annotations

import math

import pytest
import torch

from streamdit import StreamDiT, StreamDiTConfig

SMALL = dict(in_channels=4, buffer_frames=4, latent_height=8, latent_width=8, patch_size=(1, 2, 2),
             hidden_size=48, depth=2, num_heads=2, window_size=(2, 2, 2), text_dim=16)
EPS = 1e-6


def layer_norm(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    out = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + EPS)
    return out if weight is None else out * weight + bias


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt(x.square().mean(-1, keepdim=True) + EPS) * weight


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x: torch.Tensor) -> torch.Tensor:
    return x / (1 + torch.exp(-x))


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v over the allowed keys; q (heads, Lq, d), allowed (Lq, Lk)."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(scores.masked_fill(~allowed, -math.inf), dim=-1) @ v


def rope(x: torch.Tensor, coords: torch.Tensor, theta: float) -> torch.Tensor:
    """x (heads, L, d): channel pairs (2i, 2i + 1) as complex numbers, turned by their axis' angle."""
    d = x.shape[-1]
    sizes = (d - 4 * (d // 6), 2 * (d // 6), 2 * (d // 6))
    angles = [coords[:, axis, None] * theta ** (-torch.arange(0, size, 2, dtype=torch.float64) / size)
              for axis, size in enumerate(sizes)]
    turn = torch.polar(torch.ones(1, dtype=torch.float64), torch.cat(angles, dim=-1))  # (L, d / 2)
    return torch.view_as_real(torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous()) * turn).flatten(-2)


def window_of(coords: torch.Tensor, grid: tuple[int, ...], window: tuple[int, ...], shift: tuple[int, ...]) -> torch.Tensor:
    """Each token's window: its position moved back by ``shift`` (cyclically), divided by the window size."""
    ids = torch.zeros(len(coords), dtype=torch.long)
    for axis in range(3):
        ids = ids * (grid[axis] // window[axis]) + (coords[:, axis] - shift[axis]) % grid[axis] // window[axis]
    return ids


def reference_forward(model: StreamDiT, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
    cfg = model.config
    w = {name: value.double() for name, value in model.state_dict().items()}
    x, t, text = x.double(), t.double(), text.double()
    n, channels, frames, height, width = x.shape
    pf, ph, pw = cfg.patch_size
    grid = (frames // pf, height // ph, width // pw)
    coords = torch.cartesian_prod(*(torch.arange(g) for g in grid))  # (L, 3): frame, row, column of each token
    window = tuple(min(a, g) for a, g in zip(cfg.window_size, grid))
    heads, dim = cfg.num_heads, cfg.hidden_size
    hd = dim // heads

    def linear(z: torch.Tensor, name: str) -> torch.Tensor:
        return z @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    outputs = []
    for i in range(n):
        # patches -> tokens (L, dim)
        patches = torch.stack([x[i, :, f * pf:(f + 1) * pf, r * ph:(r + 1) * ph, c * pw:(c + 1) * pw].flatten()
                               for f, r, c in coords.tolist()])
        tokens = patches @ w["x_embedder.weight"].flatten(1).T + w["x_embedder.bias"]
        # conditioning per frame
        valid = mask[i]
        pooled = text[i][valid].mean(0)
        pooled = linear(silu(linear(pooled, "text_embedder.pooled.0")), "text_embedder.pooled.2")
        prompt = linear(gelu_tanh(linear(text[i], "text_embedder.tokens.0")), "text_embedder.tokens.2")
        half = 128
        freqs = 10000.0 ** (-torch.arange(half, dtype=torch.float64) / half)
        args = 1000 * t[i].view(-1, pf).mean(-1)[:, None] * freqs  # one time per token frame
        sinusoid = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        c = linear(silu(linear(sinusoid, "t_embedder.mlp.0")), "t_embedder.mlp.2") + pooled  # (token frames, dim)
        per_token = c[coords[:, 0]]  # each token takes its frame's conditioning
        for b in range(cfg.depth):
            p = f"blocks.{b}"
            shift1, scale1, gate1, shift2, scale2, gate2 = linear(silu(per_token), f"{p}.adaLN_modulation.1").chunk(6, -1)
            # self-attention inside windows (moved by half a window in odd blocks)
            h = layer_norm(tokens) * (1 + scale1) + shift1
            q, k, v = linear(h, f"{p}.attn.qkv").view(-1, 3, heads, hd).permute(1, 2, 0, 3)
            q = rope(rms_norm(q, w[f"{p}.attn.q_norm.weight"]), coords.double(), cfg.rope_theta)
            k = rope(rms_norm(k, w[f"{p}.attn.k_norm.weight"]), coords.double(), cfg.rope_theta)
            shift = tuple(a // 2 if b % 2 == 1 and a < g else 0 for a, g in zip(window, grid))
            ids = window_of(coords, grid, window, shift)
            out = attend(q, k, v, ids[:, None] == ids[None, :])
            tokens = tokens + gate1 * linear(out.transpose(0, 1).reshape(-1, dim), f"{p}.attn.proj")
            # cross-attention to the prompt (padded tokens masked out)
            h = layer_norm(tokens, w[f"{p}.norm2.weight"], w[f"{p}.norm2.bias"])
            q = rms_norm(linear(h, f"{p}.cross_attn.q").view(-1, heads, hd).transpose(0, 1), w[f"{p}.cross_attn.q_norm.weight"])
            k, v = linear(prompt, f"{p}.cross_attn.kv").view(-1, 2, heads, hd).permute(1, 2, 0, 3)
            k = rms_norm(k, w[f"{p}.cross_attn.k_norm.weight"])
            out = attend(q, k, v, valid[None, :].expand(len(tokens), -1))
            tokens = tokens + linear(out.transpose(0, 1).reshape(-1, dim), f"{p}.cross_attn.proj")
            # MLP
            h = layer_norm(tokens) * (1 + scale2) + shift2
            tokens = tokens + gate2 * linear(gelu_tanh(linear(h, f"{p}.mlp.0")), f"{p}.mlp.2")
        shift, scale = linear(silu(per_token), "final_layer.adaLN_modulation.1").chunk(2, -1)
        out = linear(layer_norm(tokens) * (1 + scale) + shift, "final_layer.linear")  # (L, pf * ph * pw * C)
        video = torch.empty(channels, frames, height, width, dtype=torch.float64)
        for token, (f, r, col) in enumerate(coords.tolist()):
            video[:, f * pf:(f + 1) * pf, r * ph:(r + 1) * ph, col * pw:(col + 1) * pw] = \
                out[token].view(pf, ph, pw, channels).permute(3, 0, 1, 2)
        outputs.append(video)
    out = torch.stack(outputs)
    if cfg.prediction == "sample":
        out = (x - out) / t.clamp_min(0.05)[:, None, :, None, None]
    return out


def inputs(cfg: StreamDiTConfig, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, cfg.in_channels, cfg.buffer_frames, cfg.latent_height, cfg.latent_width, generator=g)
    t = torch.rand(2, cfg.buffer_frames, generator=g)
    text = torch.randn(2, 5, cfg.text_dim, generator=g)
    mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    return x, t, text, mask


@pytest.mark.parametrize("overrides", [
    {},  # windows of 2 x 2 x 2 tokens, the second block's moved by (1, 1, 1)
    {"window_size": (4, 2, 4)},  # windows moved along height only in the second block
    {"window_size": (8, 8, 8), "depth": 3},  # one window over the whole buffer: full attention
    {"prediction": "sample", "patch_size": (2, 2, 2), "window_size": (2, 2, 2)},  # two frames per patch
])
def test_forward_equals_the_reference_written_from_the_equations(random_dit, overrides) -> None:
    cfg = StreamDiTConfig(**{**SMALL, **overrides})
    model = random_dit(cfg)
    x, t, text, mask = inputs(cfg)
    with torch.no_grad():
        out = model(x, t, text, mask)
    expected = reference_forward(model, x, t, text, mask)
    assert expected.abs().mean() > 0.05  # the reference is not trivially small
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-5)


def test_each_modulation_term_changes_the_output(random_dit) -> None:
    """Every one of the six modulation outputs of a block (and the final layer's two) matters: none is dead."""
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg)
    x, t, text, mask = inputs(cfg)
    with torch.no_grad():
        base = model(x, t, text, mask)
        for layer, parts in ((model.blocks[0].adaLN_modulation[1], 6), (model.blocks[1].adaLN_modulation[1], 6),
                             (model.final_layer.adaLN_modulation[1], 2)):
            for part in range(parts):
                rows = slice(part * cfg.hidden_size, (part + 1) * cfg.hidden_size)
                saved = layer.bias[rows].clone()
                layer.bias[rows] += 0.5
                assert (model(x, t, text, mask) - base).abs().max() > 1e-3, (layer, part)
                layer.bias[rows] = saved


def test_every_parameter_of_the_randomised_model_reaches_the_loss(random_dit) -> None:
    """With the zero tensors filled, every parameter gets a gradient: no branch of the network is cut off."""
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg).train()
    x, t, text, mask = inputs(cfg)
    model(x, t, text, mask).square().mean().backward()
    dead = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not dead
