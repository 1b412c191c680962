"""Wan2.1's causal video VAE (diffusers ``AutoencoderKLWan``, 4x time, 8x space, 16 channels) as a StreamDiT
autoencoder, loaded from a local directory, with a streaming decoder for chunk-by-chunk output.

Wan's VAE is causal in time: the first latent frame decodes to one video frame, every later one to four,
and its 3D convolutions read the previous frames through a feature cache. diffusers clears that cache on
every ``decode`` call, so decoding chunk by chunk with ``decode`` would restart the causal context at every
chunk (a visible seam and a lost frame each time). :class:`WanStreamDecoder` keeps the cache for the life
of one stream, so the chunks it returns are exactly the frames of one whole-video decode. It drives the
decoder the way ``AutoencoderKLWan._decode`` does (its ``feat_cache``/``feat_idx``/``first_chunk``
arguments, tested with the diffusers version pinned in requirements.txt).
"""

from __future__ import annotations

from pathlib import Path

import torch

from streamdit.autoencoders.base import check_video, load_diffusers_model

WAN_VAE_CLASS_NAME = "AutoencoderKLWan"


class WanVideoAutoencoder:
    """``AutoencoderKLWan`` with latents normalised by its config's ``latents_mean``/``latents_std`` (as
    diffusers' Wan pipelines do). ``encode`` of ``T`` frames gives ``1 + (T - 1) // 4`` latent frames;
    ``decode`` of ``k`` latent frames gives ``1 + 4 (k - 1)`` frames (the first latent is one frame)."""

    def __init__(self, vae: torch.nn.Module) -> None:
        if type(vae).__name__ != WAN_VAE_CLASS_NAME:
            raise TypeError(f"expected a diffusers {WAN_VAE_CLASS_NAME}, got {type(vae).__name__}")
        self.vae = vae.eval()
        cfg = vae.config
        self.latent_channels = int(cfg.z_dim)
        self.temporal_compression = int(cfg.scale_factor_temporal)
        self.spatial_compression = int(cfg.scale_factor_spatial)
        param = next(vae.parameters())
        self.mean = torch.tensor(cfg.latents_mean, dtype=torch.float32, device=param.device).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std, dtype=torch.float32, device=param.device).view(1, -1, 1, 1, 1)
        if self.mean.numel() != self.latent_channels or self.std.numel() != self.latent_channels:
            raise ValueError(f"latents_mean/latents_std must have z_dim={self.latent_channels} entries")

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> "WanVideoAutoencoder":
        """Load a local diffusers ``AutoencoderKLWan`` directory (a Wan checkpoint's ``vae/`` folder)."""
        vae = load_diffusers_model(directory, (WAN_VAE_CLASS_NAME,),
                                   "the vae/ folder of a diffusers-format Wan checkpoint", dtype)
        return cls(vae.to(device))

    def save_pretrained(self, directory: str | Path) -> None:
        self.vae.save_pretrained(directory, safe_serialization=True)

    def _denormalise(self, latents: torch.Tensor) -> torch.Tensor:
        return (latents.float() * self.std.to(latents.device) + self.mean.to(latents.device)).to(self.vae.dtype)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        check_video(video, self.spatial_compression)
        z = self.vae.encode(video.to(self.vae.dtype)).latent_dist.mode().float()
        return (z - self.mean.to(z.device)) / self.std.to(z.device)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """A whole clip at once (its first latent frame starts the causal context)."""
        return self.vae.decode(self._denormalise(latents)).sample.float()

    def stream_decoder(self) -> "WanStreamDecoder":
        """A decoder for one stream: feed it the stream's latent chunks in order."""
        return WanStreamDecoder(self)


class WanStreamDecoder:
    """Decodes consecutive latent chunks of one video, keeping Wan's causal convolution cache between them."""

    def __init__(self, autoencoder: WanVideoAutoencoder) -> None:
        self.autoencoder = autoencoder
        vae = autoencoder.vae
        self._cache: list = [None] * sum(type(m).__name__ == "WanCausalConv3d" for m in vae.decoder.modules())
        self._first = True

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(N, C, k, h, w)`` -> frames ``(N, 3, 4k, H, W)`` (``4k - 3`` for the stream's first chunk)."""
        vae = self.autoencoder.vae
        x = vae.post_quant_conv(self.autoencoder._denormalise(latents))  # 1x1x1: no temporal context
        frames = []
        for i in range(x.shape[2]):
            frames.append(vae.decoder(x[:, :, i:i + 1], feat_cache=self._cache, feat_idx=[0], first_chunk=self._first))
            self._first = False
        out = torch.cat(frames, dim=2)
        if vae.config.patch_size is not None:
            from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

            out = unpatchify(out, patch_size=vae.config.patch_size)
        return out.clamp(-1.0, 1.0).float()
