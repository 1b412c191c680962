"""Training latents encoded once: a fixed set of clips run through the frozen autoencoder, stored as
safetensors shards, and read back in a fresh random order every epoch (``streamdit encode-latents``, then
``train``/``distill --data DIR``).

At 256x256 on a CPU, rendering a clip and encoding it cost more than the DiT's training step on it
(docs/training.md): a run of 5000 steps of 8 clips encodes 40,000 clips. A cache of N clips encodes N once,
and the teacher, the single-scheme ablation and the student then see the same data. No library keeps
latents of an arbitrary autoencoder next to their captions with a resumable writer, hence this module.

Layout of DIR: ``shard-00000.safetensors`` ... (tensor ``latents`` ``(n, C, T, h, w)`` in bf16, the
captions as JSON in the file's metadata, and for the synthetic worlds a tensor ``foreground`` ``(n, 1, T, h,
w)`` of uint8 flags: the latent pixels whose pixels hold any part of an object, for an object-weighted loss)
and ``latents.json`` (the index, written last: a directory without it is an unfinished cache, and encoding
resumes at its first missing shard). Each shard is the start of its own seeded stream, so a finished cache
grows (``extend``) into the very cache a longer run would have written: its index stays valid until the
new one replaces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from streamdit.autoencoders.base import Autoencoder, video_to_tensor
from streamdit.loading import read_json
from streamdit.training.trainer import state_digest, weights_digest

INDEX = "latents.json"
Sample = tuple[np.ndarray | torch.Tensor, str]
ForegroundFn = Callable[[np.ndarray], np.ndarray]  # uint8 videos (..., T, H, W, 3) -> bool object pixels (..., T, H, W)


def read_index(directory: str | Path) -> dict:
    """A cache's index (``latents.json``): its shards, clip count, source and encoder digest."""
    return read_json(Path(directory) / INDEX, "a latent cache index, written by `streamdit encode-latents`")


def is_latent_cache(path: str | Path) -> bool:
    """Whether ``path`` is a finished latent cache (it holds ``latents.json``)."""
    return (Path(path) / INDEX).is_file()


def shard_seed(seed: int, shard: int) -> int:
    """The data seed of one shard: shards are independent streams, so a resumed cache equals an unbroken one."""
    return int(np.random.SeedSequence([seed, shard]).generate_state(1)[0])


def latent_blocks(mask: torch.Tensor, temporal: int, spatial: int) -> torch.Tensor:
    """Pixel flags ``(N, T, H, W)`` to latent-pixel flags ``(N, 1, T / temporal, H / spatial, W / spatial)``: a
    latent pixel is set when any pixel of its block (its frame group and its patch) is."""
    n, t, h, w = mask.shape
    blocks = mask.reshape(n, t // temporal, temporal, h // spatial, spatial, w // spatial, spatial)
    return blocks.any(dim=6).any(dim=4).any(dim=2)[:, None]


def encoder_digest(autoencoder: Autoencoder) -> int:
    """A 63-bit hash of what ``autoencoder.encode`` computes with: its ``encoding_state()`` where it has one (the
    project's video autoencoder: its encoder and latent normalisation, so a decoder fine-tune keeps the caches of
    its encoder valid), else all its weights."""
    if hasattr(autoencoder, "encoding_state"):
        return state_digest(autoencoder.encoding_state())
    if isinstance(autoencoder, torch.nn.Module):
        return weights_digest(autoencoder)
    raise TypeError(f"a latent cache checks its autoencoder's weights; a {type(autoencoder).__name__} has none")


def encode_clips(data: Callable[[int], Iterable[Sample]], autoencoder: Autoencoder, out_dir: str | Path, clips: int,
                 source: str, seed: int = 0, batch_size: int = 8, shard_clips: int = 512, bf16: bool = False,
                 foreground: ForegroundFn | None = None, extend: bool = False) -> Path:
    """Encode ``clips`` clips of ``data(seed)`` into ``out_dir`` shard by shard (resuming after the last whole
    shard found there); the encoder's digest and ``source`` are recorded so training can check them.
    ``foreground`` (the object pixels of a video) adds each clip's latent-pixel foreground flags. ``extend``
    grows a finished cache of the same data, seed and encoder to ``clips`` clips (the same number: only its
    index is rewritten, as a cache written before the encoder digest needs)."""
    out = Path(out_dir)
    if clips < 1 or batch_size < 1 or shard_clips < 1:
        raise ValueError(f"clips, batch size and shard size must be >= 1, got {clips}, {batch_size}, {shard_clips}")
    index = {"clips": clips, "shards": [], "latent_shape": None, "dtype": "bfloat16",
             "encoder_digest": encoder_digest(autoencoder), "source": source, "seed": seed,
             "foreground": foreground is not None}
    if is_latent_cache(out):
        _check_extension(out, index, extend, shard_clips, autoencoder)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [min(shard_clips, clips - start) for start in range(0, clips, shard_clips)]
    names = [f"shard-{i:05d}.safetensors" for i in range(len(sizes))]
    done = 0  # leading shards already there whole (a smaller last shard of a cache being extended is redone)
    while done < len(sizes) and (out / names[done]).is_file() and _shard_clips(out / names[done]) == sizes[done]:
        done += 1
    if is_latent_cache(out) and done < len(read_index(out)["shards"]):
        (out / INDEX).unlink()  # its smaller last shard is redone: unfinished until the new index (same command resumes)
    device = next(autoencoder.parameters(), torch.empty(0)).device
    with tqdm(total=clips, initial=sum(sizes[:done]), desc="encoding clips", dynamic_ncols=True) as bar:
        for shard in range(done, len(sizes)):
            samples = iter(data(shard_seed(seed, shard)))
            latents, captions, flags = [], [], []
            while len(captions) < sizes[shard]:
                batch = [next(samples) for _ in range(min(batch_size, sizes[shard] - len(captions)))]
                videos = torch.as_tensor(np.stack([np.asarray(video) for video, _ in batch]))
                with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                    latents.append(autoencoder.encode(video_to_tensor(videos.to(device))).to(torch.bfloat16).cpu())
                captions += [caption for _, caption in batch]
                if foreground is not None:
                    flags.append(latent_blocks(torch.as_tensor(foreground(videos.numpy())),
                                               autoencoder.temporal_compression, autoencoder.spatial_compression))
                bar.update(len(batch))
            tmp = out / (names[shard] + ".tmp")  # a shard appears whole or not at all
            tensors = {"latents": torch.cat(latents).contiguous()}
            if flags:
                tensors["foreground"] = torch.cat(flags).to(torch.uint8).contiguous()
            save_file(tensors, str(tmp), metadata={"captions": json.dumps(captions)})
            tmp.replace(out / names[shard])
    shape = list(latents[0].shape[1:]) if done < len(sizes) else _read_shard(out / names[0])[0].shape[1:]
    index.update(shards=names, latent_shape=list(shape))
    (out / INDEX).write_text(json.dumps(index, indent=1) + "\n")
    return out


def _check_extension(out: Path, index: dict, extend: bool, shard_clips: int, autoencoder: Autoencoder) -> None:
    """``ValueError``/``FileExistsError`` unless the finished cache in ``out`` may grow into ``index``'s."""
    found = read_index(out)
    if not extend:
        raise FileExistsError(f"{out} already holds a finished latent cache ({INDEX}) of {found['clips']} clips; "
                              "choose another directory, or extend it to more clips of the same data")
    if not encoded_by(found, autoencoder):
        raise ValueError(f"cannot extend {out}: its clips were encoded by another encoder than this autoencoder's")
    for key in ("source", "seed", "foreground"):
        if found.get(key) != index[key]:
            raise ValueError(f"cannot extend {out}: its clips have {key} {found.get(key)!r}, these would have "
                             f"{index[key]!r}")
    if index["clips"] < found["clips"]:
        raise ValueError(f"cannot extend {out} to {index['clips']} clips: it already holds {found['clips']}")
    first = _shard_clips(out / found["shards"][0])
    if first != shard_clips and not (len(found["shards"]) == 1 and first < shard_clips):
        raise ValueError(f"cannot extend {out} with shards of {shard_clips} clips: its shards hold {first}")


def encoded_by(index: dict, autoencoder: Autoencoder) -> bool:
    """Whether a cache's ``index`` says its latents are ``autoencoder``'s encodings: the same encoder digest, or for
    caches written before it was recorded, the same whole autoencoder (``autoencoder_digest``)."""
    if "encoder_digest" in index:
        return index["encoder_digest"] == encoder_digest(autoencoder)
    return isinstance(autoencoder, torch.nn.Module) and index.get("autoencoder_digest") == weights_digest(autoencoder)


def _shard_clips(path: Path) -> int:
    with safe_open(str(path), framework="pt") as f:
        return f.get_slice("latents").get_shape()[0]


def _read_shard(path: Path) -> tuple[torch.Tensor, list[str], torch.Tensor | None]:
    with safe_open(str(path), framework="pt") as f:
        flags = f.get_tensor("foreground").bool() if "foreground" in f.keys() else None
        return f.get_tensor("latents"), json.loads(f.metadata()["captions"]), flags


class LatentCache:
    """A finished cache in memory: ``stream(seed)`` yields ``(latents, caption)`` for ever (``(latents,
    caption, foreground)`` when the cache has foreground flags), epoch after epoch, each in its own random
    order (the ``seed -> samples`` form the trainers take)."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        if not is_latent_cache(directory):
            raise FileNotFoundError(f"{directory} is not a finished latent cache (no {INDEX}); "
                                    "run `streamdit encode-latents` to make one, or again to finish it")
        self.index = read_index(directory)
        parts = [_read_shard(directory / name) for name in self.index["shards"]]
        self.latents = torch.cat([latents for latents, _, _ in parts])
        self.captions = [caption for _, captions, _ in parts for caption in captions]
        self.foreground = None
        if self.index.get("foreground"):
            if any(flags is None for _, _, flags in parts):
                raise ValueError(f"{directory}: the index says the clips have foreground flags, but a shard has none")
            self.foreground = torch.cat([flags for _, _, flags in parts])
        if len(self.captions) != self.index["clips"] or len(self.latents) != self.index["clips"]:
            raise ValueError(f"{directory}: the shards hold {len(self.latents)} clips, the index says "
                             f"{self.index['clips']}")

    @staticmethod
    def source(directory: str | Path) -> str:
        """The ``--data`` the cache's clips came from, read from its index alone."""
        return read_index(directory)["source"]

    @staticmethod
    def clip_count(directory: str | Path) -> int:
        """How many clips the cache holds, read from its index alone."""
        return int(read_index(directory)["clips"])

    def encoded_by(self, autoencoder: Autoencoder) -> bool:
        """Whether these latents are ``autoencoder``'s encodings (its encoder's digest, :func:`encoder_digest`)."""
        return encoded_by(self.index, autoencoder)

    def __len__(self) -> int:
        return len(self.captions)

    def stream(self, seed: int) -> Iterator[tuple[torch.Tensor, str] | tuple[torch.Tensor, str, torch.Tensor]]:
        rng = np.random.default_rng(seed)
        while True:
            for i in rng.permutation(len(self)):
                if self.foreground is None:
                    yield self.latents[i], self.captions[i]
                else:
                    yield self.latents[i], self.captions[i], self.foreground[i]
