"""Autoencoders between RGB video and the latent frames the model denoises.

Protocol: ``encode(video) -> latents`` and ``decode(latents) -> video`` with videos as float tensors
``(N, 3, T, H, W)`` in ``[-1, 1]`` and latents ``(N, C, T / temporal_compression, H / s, W / s)``.
Implementations: :class:`PatchAutoencoder` (pixel space, lossless space-to-depth patches),
:class:`DiffusersAutoencoder` (diffusers ``AutoencoderKL`` / ``AutoencoderTiny`` image autoencoders
applied frame by frame, loaded from a local directory) and the project's own small video autoencoder
(:mod:`streamdit.autoencoders.video_autoencoder`), Wan2.1's causal video VAE (:mod:`streamdit.autoencoders.wan_vae`) and TAEHV, a tiny
autoencoder into Wan's latent space (:mod:`streamdit.autoencoders.tiny_vae`).
:func:`streamdit.loading.load_autoencoder` reads any of them from its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F

from streamdit.loading import read_json, write_json

SUPPORTED_DIFFUSERS_CLASSES = ("AutoencoderKL", "AutoencoderTiny")


class Autoencoder(Protocol):
    latent_channels: int
    spatial_compression: int
    temporal_compression: int

    def encode(self, video: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...

    def save_pretrained(self, directory: str | Path) -> None: ...


def load_diffusers_model(directory: str | Path, class_names: tuple[str, ...], expected: str,
                         dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """A diffusers model saved in a local ``directory`` whose ``config.json`` names one of ``class_names``."""
    import diffusers

    config_path = Path(directory) / "config.json"
    name = read_json(config_path, expected).get("_class_name")
    if name not in class_names:
        raise ValueError(f"{config_path} describes {name!r}; supported: {', '.join(class_names)}")
    return getattr(diffusers, name).from_pretrained(directory, local_files_only=True, torch_dtype=dtype)


def check_video(video: torch.Tensor, multiple: int) -> None:
    if video.ndim != 5 or video.shape[1] != 3:
        raise ValueError(f"expected a video tensor (N, 3, T, H, W), got shape {tuple(video.shape)}")
    if video.shape[-1] % multiple or video.shape[-2] % multiple:
        raise ValueError(f"video height/width {tuple(video.shape[-2:])} must be multiples of {multiple}")


class PatchAutoencoder:
    """Pixel-space 'autoencoder': ``p x p`` patches folded into channels (exactly invertible)."""

    temporal_compression = 1

    def __init__(self, patch_size: int = 8) -> None:
        self.patch_size = patch_size
        self.spatial_compression = patch_size
        self.latent_channels = 3 * patch_size * patch_size

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        check_video(video, self.patch_size)
        n, _, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(n * t, 3, h, w)
        z = F.pixel_unshuffle(frames, self.patch_size)
        return z.view(n, t, *z.shape[1:]).transpose(1, 2)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = latents.shape
        frames = F.pixel_shuffle(latents.transpose(1, 2).reshape(n * t, c, h, w), self.patch_size)
        return frames.view(n, t, 3, *frames.shape[-2:]).transpose(1, 2)

    def save_pretrained(self, directory: str | Path) -> None:
        write_json(Path(directory) / "config.json", {"type": "patch", "patch_size": self.patch_size})

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "PatchAutoencoder":
        return cls(int(read_json(Path(directory) / "config.json", "a patch autoencoder's config.json")["patch_size"]))


class DiffusersAutoencoder:
    """A diffusers image autoencoder applied frame by frame, latents normalised by its config."""

    temporal_compression = 1

    def __init__(self, vae: torch.nn.Module) -> None:
        name = type(vae).__name__
        if name not in SUPPORTED_DIFFUSERS_CLASSES:
            raise TypeError(f"unsupported autoencoder {name}; supported: {SUPPORTED_DIFFUSERS_CLASSES}")
        self.vae = vae.eval()
        cfg = vae.config
        self.latent_channels = int(cfg.latent_channels)
        self.is_tiny = name == "AutoencoderTiny"
        if self.is_tiny:
            self.spatial_compression = int(cfg.upsampling_scaling_factor) ** (len(cfg.decoder_block_out_channels) - 1)
        else:
            self.spatial_compression = 2 ** (len(cfg.block_out_channels) - 1)
        self.scaling_factor = float(getattr(cfg, "scaling_factor", 1.0) or 1.0)
        self.shift_factor = float(getattr(cfg, "shift_factor", None) or 0.0)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> "DiffusersAutoencoder":
        vae = load_diffusers_model(directory, SUPPORTED_DIFFUSERS_CLASSES, "a diffusers autoencoder directory", dtype)
        return cls(vae.to(device))

    def _frames(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        n, c, t, h, w = x.shape
        return x.transpose(1, 2).reshape(n * t, c, h, w), n, t

    @staticmethod
    def _video(frames: torch.Tensor, n: int, t: int) -> torch.Tensor:
        return frames.view(n, t, *frames.shape[1:]).transpose(1, 2)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        check_video(video, self.spatial_compression)
        frames, n, t = self._frames(video.to(self.vae.dtype))
        out = self.vae.encode(frames)
        z = out.latents if self.is_tiny else out.latent_dist.mode()
        return self._video((z - self.shift_factor) * self.scaling_factor, n, t).float()

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        frames, n, t = self._frames(latents.to(self.vae.dtype))
        frames = self.vae.decode(frames / self.scaling_factor + self.shift_factor).sample
        return self._video(frames, n, t).float()

    def save_pretrained(self, directory: str | Path) -> None:
        self.vae.save_pretrained(directory)


def video_to_tensor(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, T, H, W, 3)`` -> float ``(N, 3, T, H, W)`` in [-1, 1]."""
    return frames.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def tensor_to_video(video: torch.Tensor) -> torch.Tensor:
    """float ``(N, 3, T, H, W)`` in [-1, 1] -> uint8 ``(N, T, H, W, 3)`` (clamped, rounded)."""
    return video.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1)
