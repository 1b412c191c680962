"""TAEHV, the tiny video autoencoder of madebyollin/taehv (TAEW2.1: Wan2.1's latent space), as a StreamDiT
autoencoder: a decoder for speed (9.8M parameters against the 73.3M of the Wan VAE decoder), loaded from a
local directory.

Written here, not imported: taehv is neither on PyPI nor in diffusers (0.42). The modules below rebuild its
base architecture (MIT licence, github.com/madebyollin/taehv, ``taehv.py``) with the same module order,
so the published weight files (``taew2_1.safetensors`` / ``taew2_1.pth``, keys ``encoder.N.*`` and
``decoder.N.*``) load unchanged. TAEHV encodes to and decodes from the latents the diffusion model sees
(no ``latents_mean``/``latents_std`` to apply), the same space as :class:`streamdit.autoencoders.wan_vae.WanVideoAutoencoder`,
and is causal in time like Wan's VAE: ``k`` latent frames decode to ``4k - 3`` video frames for a whole clip,
and a stream decoder returns ``4k - 3`` for the first chunk and ``4k`` after, exactly the frames of the whole.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from streamdit.autoencoders.base import check_video
from streamdit.loading import read_json, write_json

TINY_AE_TYPE = "taehv"  # config.json "type"

WEIGHTS_NAME = "model.safetensors"


def conv(n_in: int, n_out: int, **kwargs: object) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class MemBlock(nn.Module):
    """A residual block that also reads the same block's input one frame earlier (its only temporal mixing)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv(n_in * 2, n_out), nn.ReLU(inplace=True), conv(n_out, n_out),
                                  nn.ReLU(inplace=True), conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(torch.cat([x, past], 1)) + self.skip(x))


class TPool(nn.Module):
    """``stride`` consecutive frames -> one (channels stacked, then a 1x1 conv)."""

    def __init__(self, n_f: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n_f * stride, n_f, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, c, h, w = x.shape
        return self.conv(x.reshape(-1, self.stride * c, h, w))


class TGrow(nn.Module):
    """One frame -> ``stride`` consecutive frames (a 1x1 conv, channels unstacked)."""

    def __init__(self, n_f: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n_f, n_f * stride, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, c, h, w = x.shape
        return self.conv(x).reshape(-1, c, h, w)


def build_encoder(latent_channels: int, patch_size: int) -> nn.Sequential:
    """TAEHV's encoder: 8x space, 4x time (pooling in the first two stages)."""
    stages = []
    for time_stride in (2, 2, 1):
        stages += [TPool(64, time_stride), conv(64, 64, stride=2, bias=False), MemBlock(64, 64), MemBlock(64, 64),
                   MemBlock(64, 64)]
    return nn.Sequential(conv(3 * patch_size ** 2, 64), nn.ReLU(inplace=True), *stages, conv(64, latent_channels))


def build_decoder(latent_channels: int, patch_size: int) -> nn.Sequential:
    """TAEHV's decoder: 8x space, 4x time (growing in the last two stages)."""
    widths = [256, 128, 64, 64]
    stages = []
    for i, time_stride in enumerate((1, 2, 2)):
        n_f = widths[i]
        stages += [MemBlock(n_f, n_f), MemBlock(n_f, n_f), MemBlock(n_f, n_f), nn.Upsample(scale_factor=2),
                   TGrow(n_f, time_stride), conv(n_f, widths[i + 1], bias=False)]
    return nn.Sequential(Clamp(), conv(latent_channels, widths[0]), nn.ReLU(inplace=True), *stages,
                         nn.ReLU(inplace=True), conv(widths[-1], 3 * patch_size ** 2))


def run_blocks(blocks: nn.Sequential, x: torch.Tensor, memory: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
    """Apply ``blocks`` to frames ``(N, T, C, H, W)``, all frames at once. Each :class:`MemBlock` reads the
    previous frame's input to it: zeros before the first frame, or ``memory[i]`` (the last frame of the
    previous call, which this call then replaces), so consecutive calls equal one call on the whole clip."""
    n = x.shape[0]
    x = x.flatten(0, 1)
    for i, block in enumerate(blocks):
        if isinstance(block, MemBlock):
            frames = x.view(n, -1, *x.shape[1:])
            previous = memory.get(i) if memory is not None else None
            first = torch.zeros_like(frames[:, :1]) if previous is None else previous[:, None]
            past = torch.cat([first, frames[:, :-1]], 1).flatten(0, 1)
            if memory is not None:
                memory[i] = frames[:, -1].clone()
            x = block(x, past)
        else:
            x = block(x)
    return x.view(n, -1, *x.shape[1:])


class TinyVideoAutoencoder(nn.Module):
    """TAEHV with the :class:`streamdit.autoencoders.base.Autoencoder` protocol (videos ``(N, 3, T, H, W)`` in [-1, 1])."""

    temporal_compression = 4
    spatial_compression = 8
    frames_to_trim = 3  # the decoder's first outputs precede the first frame (causal alignment with Wan's VAE)

    def __init__(self, latent_channels: int = 16, patch_size: int = 1) -> None:
        super().__init__()
        self.latent_channels, self.patch_size = latent_channels, patch_size
        self.encoder = build_encoder(latent_channels, patch_size)
        self.decoder = build_decoder(latent_channels, patch_size)

    @property
    def config(self) -> dict:
        return {"type": TINY_AE_TYPE, "latent_channels": self.latent_channels, "patch_size": self.patch_size}

    @classmethod
    def from_checkpoint(cls, path: str | Path, latent_channels: int = 16, patch_size: int = 1,
                        device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> "TinyVideoAutoencoder":
        """Load a published TAEHV weight file (``taew2_1.safetensors`` or ``.pth``; defaults fit TAEW2.1)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: expected a TAEHV weight file such as taew2_1.safetensors")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(latent_channels, patch_size)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"{path} does not fit TAEHV with {latent_channels} latent channels and patch size "
                             f"{patch_size} (only the base architecture is supported): {exc}") from exc
        return model.to(device, dtype).eval()

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> "TinyVideoAutoencoder":
        """Load a directory written by :meth:`save_pretrained` (``config.json`` + ``model.safetensors``)."""
        directory = Path(directory)
        config = read_json(directory / "config.json", f"a {TINY_AE_TYPE} autoencoder's config.json")
        if config.get("type") != TINY_AE_TYPE:
            raise ValueError(f"{directory / 'config.json'} does not describe a {TINY_AE_TYPE} autoencoder")
        return cls.from_checkpoint(directory / WEIGHTS_NAME, int(config["latent_channels"]),
                                   int(config.get("patch_size", 1)), device=device, dtype=dtype)

    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        write_json(directory / "config.json", self.config)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, directory / WEIGHTS_NAME)

    def _frames_out(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder output ``(N, T, C, H, W)`` in [0, 1] -> video ``(N, 3, T, H, W)`` in [-1, 1]."""
        if self.patch_size > 1:
            x = F.pixel_shuffle(x, self.patch_size)  # leading (N, T) dims are kept
        return x.clamp(0, 1).mul(2).sub(1).transpose(1, 2).float()

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """``T`` frames -> ``ceil(T / 4)`` latent frames (the last group padded with the last frame)."""
        check_video(video, self.spatial_compression * self.patch_size)
        param = next(self.parameters())
        x = video.to(param.device, param.dtype).add(1).div(2).transpose(1, 2)  # NTCHW in [0, 1]
        if self.patch_size > 1:
            x = F.pixel_unshuffle(x, self.patch_size)
        pad = -x.shape[1] % self.temporal_compression
        if pad:
            x = torch.cat([x, x[:, -1:].expand(-1, pad, -1, -1, -1)], 1)
        return run_blocks(self.encoder, x).transpose(1, 2).float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """A whole clip: ``k`` latent frames -> ``4k - 3`` frames (a stream of one chunk)."""
        return self.stream_decoder().decode(latents)

    def stream_decoder(self) -> "TinyStreamDecoder":
        """A decoder for one stream: feed it the stream's latent chunks in order."""
        return TinyStreamDecoder(self)


class TinyStreamDecoder:
    """Decodes consecutive latent chunks of one video, carrying each :class:`MemBlock`'s last frame between them."""

    def __init__(self, autoencoder: TinyVideoAutoencoder) -> None:
        self.autoencoder = autoencoder
        self._memory: dict[int, torch.Tensor] = {}
        self._first = True

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(N, C, k, h, w)`` -> frames ``(N, 3, 4k, H, W)`` (``4k - 3`` for the stream's first chunk)."""
        ae = self.autoencoder
        param = next(ae.parameters())
        x = run_blocks(ae.decoder, latents.to(param.device, param.dtype).transpose(1, 2), self._memory)
        if self._first:
            x, self._first = x[:, ae.frames_to_trim:], False
        return ae._frames_out(x)
