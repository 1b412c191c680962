"""A StreamDiT over a public base model: diffusers' ``WanTransformer3DModel`` (Wan2.1 T2V) turned into a
buffer model with per-frame time and window attention (docs/architecture.md §2.4), the starting point for StreamDiT
fine-tuning of real weights.

- **per-frame time**: Wan's time embedding accepts one timestep per token (the Wan2.2 TI2V path), so each
  frame's ``t`` (scaled to Wan's ``[0, 1000]``) is repeated over that frame's tokens;
- **window attention**: every block's self-attention gets :class:`WindowedWanAttnProcessor`, which applies
  Wan's QK-norm and 3D RoPE to the whole buffer and then attends inside 3D token windows, cyclically
  shifted by half a window in every other block (the same partition as :mod:`streamdit.models.dit`);
- Wan's flow convention is the project's (docs/architecture.md §2.1) (``x_t = (1 - s) x_0 + s eps``, velocity ``eps - x_0``), so the
  weights need no change of parametrisation.

A model directory holds Wan's own files (``config.json``, ``diffusion_pytorch_model*.safetensors``, as
diffusers writes them) plus ``streamdit.json`` with the buffer geometry and window size.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from streamdit.loading import read_json, write_json
from streamdit.models.dit import StreamDiTConfig, check_buffer_inputs, window_partition, window_reverse

BUFFER_CONFIG_NAME = "streamdit.json"
WAN_CLASS_NAME = "WanTransformer3DModel"
WAN_TIMESTEP_SCALE = 1000.0  # Wan's timesteps are sigma * 1000


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Wan's RoPE on ``(N, L, heads, d)`` (interleaved channel pairs), computed in float32."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2).type_as(x)


class WindowedWanAttnProcessor:
    """Self-attention of a Wan block inside (shifted) 3D token windows of a fixed token grid."""

    def __init__(self, grid: tuple[int, int, int], window: tuple[int, int, int], shift: tuple[int, int, int]) -> None:
        self.grid, self.window, self.shift = grid, window, shift

    def __call__(self, attn: nn.Module, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None,
                 rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("WindowedWanAttnProcessor is for the unmasked self-attention of a Wan block")
        n, length, _ = hidden_states.shape
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        q, k = attn.norm_q(q), attn.norm_k(k)  # Wan normalises across all heads at once
        q, k, v = (z.unflatten(2, (attn.heads, -1)) for z in (q, k, v))
        if rotary_emb is not None:
            q, k = apply_rotary(q, *rotary_emb), apply_rotary(k, *rotary_emb)
        q, k, v = (window_partition(z.transpose(1, 2), self.grid, self.window, self.shift) for z in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        out = window_reverse(out, n, self.grid, self.window, self.shift).transpose(1, 2).flatten(2, 3)
        return attn.to_out[1](attn.to_out[0](out.type_as(hidden_states)))


def streamdit_config(wan_config: dict, buffer_frames: int, latent_height: int, latent_width: int,
                     window_size: tuple[int, int, int]) -> StreamDiTConfig:
    """The :class:`StreamDiTConfig` describing a Wan network over a buffer (what samplers and trainers read)."""
    heads, head_dim = int(wan_config["num_attention_heads"]), int(wan_config["attention_head_dim"])
    width = heads * head_dim
    return StreamDiTConfig(
        in_channels=int(wan_config["in_channels"]), buffer_frames=buffer_frames, latent_height=latent_height,
        latent_width=latent_width, patch_size=tuple(wan_config["patch_size"]), hidden_size=width,
        depth=int(wan_config["num_layers"]), num_heads=heads, mlp_ratio=int(wan_config["ffn_dim"]) / width,
        window_size=tuple(window_size), text_dim=int(wan_config["text_dim"]), qk_norm=True,
        rope_theta=10000.0, prediction="velocity")


class WanStreamDiT(nn.Module):
    """A ``WanTransformer3DModel`` with StreamDiT's interface: ``model(x, t, text, text_mask)`` -> velocity,
    ``x`` ``(N, C, frames, H, W)``, per-frame times ``t`` ``(N, frames)`` in [0, 1]."""

    _no_split_modules = ["WanTransformerBlock"]  # FSDP wraps each block as one unit

    def __init__(self, wan: nn.Module, buffer_frames: int, latent_height: int, latent_width: int,
                 window_size: tuple[int, int, int]) -> None:
        super().__init__()
        if type(wan).__name__ != WAN_CLASS_NAME:
            raise TypeError(f"expected a diffusers {WAN_CLASS_NAME}, got {type(wan).__name__}")
        if wan.config.image_dim is not None or wan.config.added_kv_proj_dim is not None:
            raise ValueError("image-conditioned Wan models (I2V) are not supported; use a T2V checkpoint")
        if wan.config.out_channels not in (None, wan.config.in_channels):
            raise ValueError("a StreamDiT predicts the velocity of its input: out_channels must equal in_channels")
        self.wan = wan
        self.config = streamdit_config(dict(wan.config), buffer_frames, latent_height, latent_width, window_size)
        grid, window = self.config.token_grid, self.config.effective_window
        for i, block in enumerate(wan.blocks):
            shift = tuple(w // 2 if i % 2 == 1 and w < g else 0 for w, g in zip(window, grid))
            block.attn1.set_processor(WindowedWanAttnProcessor(grid, window, shift))

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                text_mask: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        check_buffer_inputs(cfg, x, t)
        if text_mask is not None:  # Wan attends to zero-padded text (umT5 embeddings beyond the prompt are 0)
            text = text * text_mask[..., None].to(text.dtype)
        gf, gh, gw = cfg.token_grid
        t_frames = t.view(t.shape[0], gf, cfg.patch_size[0]).mean(-1)
        timestep = (t_frames * WAN_TIMESTEP_SCALE).repeat_interleave(gh * gw, dim=1)  # (N, tokens)
        return self.wan(x, timestep, text, return_dict=False)[0]

    def enable_gradient_checkpointing(self) -> None:
        """Activation checkpointing per Wan block."""
        self.wan.enable_gradient_checkpointing()

    # -- save / load -------------------------------------------------------------------------------

    def buffer_config(self) -> dict:
        cfg = self.config
        return dict(buffer_frames=cfg.buffer_frames, latent_height=cfg.latent_height, latent_width=cfg.latent_width,
                    window_size=list(cfg.window_size))

    def save_pretrained(self, directory: str | Path) -> None:
        """Wan's files (diffusers layout) plus ``streamdit.json`` (buffer geometry and window size)."""
        directory = Path(directory)
        self.wan.save_pretrained(directory, safe_serialization=True)
        write_json(directory / BUFFER_CONFIG_NAME, self.buffer_config())

    @classmethod
    def from_wan(cls, directory: str | Path, buffer_frames: int, latent_height: int, latent_width: int,
                 window_size: tuple[int, int, int], device: str | torch.device = "cpu",
                 dtype: torch.dtype | None = None) -> "WanStreamDiT":
        """Wrap the transformer of a local diffusers-format Wan checkpoint (its ``transformer/`` folder, or
        the model root that holds it) for a buffer of the given latent size."""
        from diffusers import WanTransformer3DModel

        directory = Path(directory)
        if (directory / "transformer").is_dir():
            directory = directory / "transformer"
        if read_json(directory / "config.json", f"a diffusers {WAN_CLASS_NAME} folder").get("_class_name") != WAN_CLASS_NAME:
            raise FileNotFoundError(f"{directory / 'config.json'} does not describe a {WAN_CLASS_NAME}: expected the "
                                    "transformer/ folder of a diffusers-format Wan2.1 T2V checkpoint")
        wan = WanTransformer3DModel.from_pretrained(directory, local_files_only=True,
                                                    torch_dtype=dtype or torch.float32)
        return cls(wan.to(device), buffer_frames, latent_height, latent_width, window_size).eval()

    @staticmethod
    def buffer_config_from_pretrained(directory: str | Path) -> dict:
        return read_json(Path(directory) / BUFFER_CONFIG_NAME, "the buffer geometry of a Wan-based StreamDiT "
                         "(use WanStreamDiT.from_wan for a plain Wan checkpoint)")

    @classmethod
    def config_from_pretrained(cls, directory: str | Path) -> StreamDiTConfig:
        """The :class:`StreamDiTConfig` of a saved Wan-based StreamDiT (no weights are read)."""
        buffer = cls.buffer_config_from_pretrained(directory)
        wan_config = read_json(Path(directory) / "config.json", f"a diffusers {WAN_CLASS_NAME} config.json")
        return streamdit_config(wan_config, buffer["buffer_frames"], buffer["latent_height"], buffer["latent_width"],
                                tuple(buffer["window_size"]))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None) -> "WanStreamDiT":
        """Load a directory written by :meth:`save_pretrained`."""
        directory = Path(directory)
        buffer = cls.buffer_config_from_pretrained(directory)
        return cls.from_wan(directory, buffer["buffer_frames"], buffer["latent_height"], buffer["latent_width"],
                            tuple(buffer["window_size"]), device=device, dtype=dtype)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
