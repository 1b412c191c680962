"""A small video autoencoder for real-time decoding on a CPU (the bundled model's latent space).

Each latent frame encodes a group of ``temporal_compression`` video frames: time is folded into channels
(space-to-depth in time), ``patch_size`` pixels too, and a 2D conv network compresses space further by
``2 ** len(widths)``. Groups are encoded and decoded independently, and what the decoder makes of one
latent is nearly one still picture per group: the objects jump at every group border (a slideshow at
a quarter of the frame rate). Two optional parts make each frame move:

- a **motion head** (``context_latents = k > 0``): a small conv net reads each latent with the ``k``
  before it and predicts a velocity field (pixels per frame); the group's frames are its keyframe (the
  mean of the decoder's frames) warped along that field to each frame's time, so objects move frame by
  frame and reach the next group where it starts. It looks back only: a stream decodes chunk by chunk
  through :meth:`VideoAutoencoder.stream_decoder`, which carries the last ``k`` latents, so chunked
  decode equals whole-clip decode (up to float rounding);
- a **carried keyframe** (``carry_keyframe``): each group's frames fade from the previous group's keyframe,
  moved on along its own velocity, to the group's own (weights ``(g - 1 - j) / g`` for frame ``j``), so
  what changes between two keyframes (the object's shape and shade, a residual offset) changes a little
  at every frame instead of all at once at the border. This is the causal form of decoding chunks with
  overlap; the stream decoder carries the last keyframe and velocity with the latents.

diffusers has no tiny video autoencoder, hence this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from streamdit.loading import read_json, write_json

AE_TYPE = "streamdit-video-ae"


@dataclass
class VideoAutoencoderConfig:
    latent_channels: int = 8
    temporal_compression: int = 4
    patch_size: int = 2  # pixels folded into channels at both ends (cheap full-resolution layers)
    widths: tuple[int, ...] = (32, 96)  # one stride-2 stage per entry, highest resolution first
    stage_blocks: int = 0  # residual blocks in each stage of encoder and decoder (besides the one at the latent)
    latent_scale: float = 1.0  # latents are (z - latent_shift) * latent_scale: unit variance for the DiT
    latent_shift: float = 0.0
    context_latents: int = 0  # earlier latents the motion head reads (0: no motion head)
    motion_width: int = 64
    carry_keyframe: bool = False  # fade each group in from the previous group's keyframe (with a motion head)

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if self.stage_blocks < 0:
            raise ValueError(f"stage_blocks must be >= 0, got {self.stage_blocks}")
        if self.context_latents < 0:
            raise ValueError(f"context_latents must be >= 0, got {self.context_latents}")
        if self.carry_keyframe and not self.context_latents:
            raise ValueError("carry_keyframe needs a motion head (context_latents >= 1)")


class MotionHead(nn.Module):
    """Velocity field (x, y in pixels per frame, at latent resolution) from a latent and the ones before it.
    The last layer starts at zero: a new head leaves the keyframes still."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
                                 nn.Conv2d(width, 2, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class MotionState:
    """What a stream's next chunk needs of the ones before: the last ``context_latents`` latents, and the
    last group's keyframe ``(N, 3, H, W)`` and velocity ``(N, 2, h, w)``."""

    latents: torch.Tensor
    keyframe: torch.Tensor
    velocity: torch.Tensor


def warp_keyframes(keyframes: torch.Tensor, velocity: torch.Tensor, frames: int, start: float = 0.0) -> torch.Tensor:
    """Keyframes ``(B, 3, H, W)`` at the centre of a group of ``frames`` -> ``(B, 3, frames, H, W)``: frame j
    shows the keyframe moved by ``(start + j - (frames - 1) / 2) * velocity`` (velocity ``(B, 2, h, w)``, x then
    y, pixels per frame, upsampled bilinearly; ``start = frames``: the next group's frames). Backward
    warping: each output pixel samples the keyframe where its content was at the centre time."""
    b, _, h, w = keyframes.shape
    velocity = F.interpolate(velocity, size=(h, w), mode="bilinear", align_corners=False)
    offsets = torch.arange(frames, dtype=keyframes.dtype, device=keyframes.device) - (frames - 1) / 2 + start
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, dtype=keyframes.dtype, device=keyframes.device)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, dtype=keyframes.dtype, device=keyframes.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as grid_sample wants: x, y
    per_frame = velocity.permute(0, 2, 3, 1) * torch.tensor([2 / w, 2 / h], dtype=keyframes.dtype,
                                                            device=keyframes.device)
    grid = base - offsets.view(1, frames, 1, 1, 1) * per_frame[:, None]  # (B, frames, H, W, 2)
    moved = F.grid_sample(keyframes.repeat_interleave(frames, dim=0), grid.reshape(b * frames, h, w, 2),
                          mode="bilinear", padding_mode="border", align_corners=False)
    return moved.view(b, frames, 3, h, w).transpose(1, 2)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class VideoAutoencoder(nn.Module):
    """Encoder/decoder over groups of frames; implements the :class:`~streamdit.autoencoders.base.Autoencoder` protocol."""

    def __init__(self, config: VideoAutoencoderConfig) -> None:
        super().__init__()
        self.config = cfg = config
        group_channels = 3 * cfg.temporal_compression * cfg.patch_size ** 2
        w = cfg.widths
        enc: list[nn.Module] = [nn.PixelUnshuffle(cfg.patch_size), nn.Conv2d(group_channels, w[0], 3, padding=1)]
        for i, width in enumerate(w):
            nxt = w[i + 1] if i + 1 < len(w) else w[-1]
            enc += [ResBlock(width) for _ in range(cfg.stage_blocks)]
            enc += [nn.SiLU(), nn.Conv2d(width, nxt, 4, stride=2, padding=1)]
        enc += [ResBlock(w[-1]), nn.SiLU(), nn.Conv2d(w[-1], cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, w[-1], 3, padding=1), ResBlock(w[-1])]
        for i in reversed(range(len(w))):
            prev = w[i + 1] if i + 1 < len(w) else w[-1]
            dec += [nn.SiLU(), nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(prev, w[i], 3, padding=1)]
            dec += [ResBlock(w[i]) for _ in range(cfg.stage_blocks)]
        dec += [nn.SiLU(), nn.Conv2d(w[0], group_channels, 3, padding=1), nn.PixelShuffle(cfg.patch_size)]
        self.decoder = nn.Sequential(*dec)
        self.motion = (MotionHead(cfg.latent_channels * (1 + cfg.context_latents), cfg.motion_width)
                       if cfg.context_latents else None)

    # protocol attributes
    @property
    def latent_channels(self) -> int:
        return self.config.latent_channels

    @property
    def temporal_compression(self) -> int:
        return self.config.temporal_compression

    @property
    def spatial_compression(self) -> int:
        return self.config.patch_size * 2 ** len(self.config.widths)

    def _groups(self, video: torch.Tensor) -> tuple[torch.Tensor, int]:
        n, c, t, h, w = video.shape
        g = self.temporal_compression
        if c != 3 or t % g:
            raise ValueError(f"expected video (N, 3, T, H, W) with T a multiple of {g}, got {tuple(video.shape)}")
        if h % self.spatial_compression or w % self.spatial_compression:
            raise ValueError(f"video height/width {(h, w)} must be multiples of {self.spatial_compression}")
        # (N, 3, T/g, g, H, W) -> (N * T/g, 3 * g, H, W)
        x = video.view(n, 3, t // g, g, h, w).permute(0, 2, 1, 3, 4, 5).reshape(n * t // g, 3 * g, h, w)
        return x, n

    def encode_raw(self, video: torch.Tensor) -> torch.Tensor:
        x, n = self._groups(video)
        z = self.encoder(x)
        return z.view(n, -1, *z.shape[1:]).transpose(1, 2)

    def with_past(self, z: torch.Tensor, past: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``(N, C, t, h, w)`` preceded by the ``k = context_latents`` before them: ``past`` (a stream's
        earlier chunks), or the first latent repeated at the start of a video (no motion)."""
        if past is None:
            past = z[:, :, :1].expand(-1, -1, self.config.context_latents, -1, -1)
        return torch.cat([past, z], dim=2)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised latents ``(N, C, t, h, w)`` of a whole clip -> video ``(N, 3, t * g, H, W)``."""
        return self.decode_chunk(z, None)[0]

    def decode_chunk(self, z: torch.Tensor, state: MotionState | None) -> tuple[torch.Tensor, MotionState | None]:
        """Unnormalised latents ``(N, C, t, h, w)`` following ``state`` (None: the video's first chunk) ->
        video ``(N, 3, t * g, H, W)`` and the state for the next chunk (None without a motion head)."""
        n, c, t, h, w = z.shape
        g = self.temporal_compression
        x = self.decoder(z.transpose(1, 2).reshape(n * t, c, h, w))
        x = x.view(n * t, 3, g, *x.shape[-2:])  # PixelShuffle's channels: (rgb, frame in group)
        size = x.shape[-2:]
        if self.motion is None:
            return x.view(n, t, 3, g, *size).permute(0, 2, 1, 3, 4, 5).reshape(n, 3, t * g, *size), None
        k = self.config.context_latents
        padded = self.with_past(z, None if state is None else state.latents)
        context = torch.cat([padded[:, :, i:i + t] for i in range(k + 1)], dim=1)  # each latent after its k, oldest first
        velocity = self.motion(context.transpose(1, 2).reshape(n * t, -1, h, w))
        keyframes = x.mean(dim=2)
        x = warp_keyframes(keyframes, velocity, g)  # (n * t, 3, g, H, W)
        keyframes, velocity = keyframes.view(n, t, 3, *size), velocity.view(n, t, 2, h, w)
        if self.config.carry_keyframe:
            before = (keyframes[:, :1], velocity[:, :1]) if state is None else \
                (state.keyframe[:, None], state.velocity[:, None])
            carried = warp_keyframes(torch.cat([before[0], keyframes[:, :-1]], dim=1).flatten(0, 1),
                                     torch.cat([before[1], velocity[:, :-1]], dim=1).flatten(0, 1), g, start=g)
            weight = (g - 1 - torch.arange(g, dtype=x.dtype, device=x.device)).view(1, 1, g, 1, 1) / g
            blended = weight * carried + (1 - weight) * x
            if state is None:  # the video's first group has nothing before it
                blended = torch.cat([x.view(n, t, 3, g, *size)[:, :1], blended.view(n, t, 3, g, *size)[:, 1:]], dim=1)
            x = blended
        state = MotionState(padded[:, :, -k:].detach(), keyframes[:, -1].detach(), velocity[:, -1].detach())
        return x.view(n, t, 3, g, *size).permute(0, 2, 1, 3, 4, 5).reshape(n, 3, t * g, *size), state

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return (self.encode_raw(video) - cfg.latent_shift) * cfg.latent_scale

    def encoding_state(self) -> dict[str, torch.Tensor]:
        """What :meth:`encode` computes with: the encoder's weights, the frame grouping and the latent normalisation
        (a latent cache records its digest, so fine-tuning the decoder keeps this encoder's caches valid)."""
        cfg = self.config
        return {**{f"encoder.{name}": p for name, p in self.encoder.state_dict().items()},
                "grouping": torch.tensor([cfg.temporal_compression, cfg.patch_size]),
                "normalisation": torch.tensor([cfg.latent_shift, cfg.latent_scale])}

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """A whole clip (a stream of one chunk)."""
        return self.stream_decoder().decode(latents)

    def stream_decoder(self) -> "VideoStreamDecoder":
        """A decoder for one stream: feed it the stream's latent chunks in order."""
        return VideoStreamDecoder(self)

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        write_json(directory / "config.json", {"type": AE_TYPE, **asdict(self.config)})
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(directory / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "VideoAutoencoder":
        directory = Path(directory)
        config = read_json(directory / "config.json", f"a {AE_TYPE} autoencoder's config.json")
        if config.pop("type", None) != AE_TYPE:
            raise ValueError(f"{directory} is not a {AE_TYPE} directory")
        weights = directory / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} not found")
        unknown = set(config) - {f.name for f in fields(VideoAutoencoderConfig)}
        if unknown:
            raise ValueError(f"{directory / 'config.json'}: unknown settings {sorted(unknown)} (written by a newer version?)")
        model = cls(VideoAutoencoderConfig(**config))
        model.load_state_dict(load_file(str(weights)))
        return model.to(device).eval()


class VideoStreamDecoder:
    """Decodes consecutive latent chunks of one video, carrying the motion head's state between them."""

    def __init__(self, autoencoder: VideoAutoencoder) -> None:
        self.autoencoder = autoencoder
        self._state: MotionState | None = None

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``(N, C, t, h, w)`` -> video ``(N, 3, t * g, H, W)`` in about [-1, 1]."""
        cfg = self.autoencoder.config
        video, self._state = self.autoencoder.decode_chunk(latents / cfg.latent_scale + cfg.latent_shift, self._state)
        return video
