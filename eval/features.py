"""Batched, cached feature extraction over videos given as paths or arrays.

A feature model has `fingerprint` (str, or None for an in-memory network: then nothing is cached) and
`encode_videos(list of uint8 (T, H, W, 3) arrays) -> sequence of per-video feature arrays`. Features of a
video file are cached under a key made of the file's content hash, the model fingerprint (which includes
the weights file's hash) and the frame-sampling options, so a renamed file hits and an edited one misses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from tqdm.auto import tqdm

from .video_io import Sampling, VideoLike, content_hash, load_any


class FeatureModel(Protocol):
    fingerprint: str | None

    def encode_videos(self, videos: list[np.ndarray]) -> Sequence[np.ndarray]: ...


class FeatureCache:
    """One .npy file per (video content, model, options) under `root`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    VERSION = 1  # bump when preprocessing changes, so old entries are not reused

    @classmethod
    def key(cls, video_hash: str, fingerprint: str, options: tuple) -> str:
        return hashlib.sha256(f"v{cls.VERSION}|{video_hash}|{fingerprint}|{options!r}".encode()).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        return np.load(path) if path.is_file() else None

    def put(self, key: str, features: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, features)
        tmp.replace(path)


def video_features(
    model: FeatureModel,
    videos: Sequence[VideoLike],
    num_frames: int | None = None,
    sampling: Sampling = "consecutive",
    stride: int = 1,
    cache: FeatureCache | None = None,
    group_size: int = 8,
    progress: bool = False,
    desc: str = "features",
) -> list[np.ndarray]:
    """Features of each video, computed `group_size` videos per model call, cached where possible."""
    results: list[np.ndarray | None] = [None] * len(videos)
    keys: dict[int, str] = {}
    if cache is not None and model.fingerprint is not None:
        for i, v in enumerate(videos):
            if isinstance(v, (str, Path)):
                keys[i] = cache.key(content_hash(v), model.fingerprint, (num_frames, sampling, stride))
                results[i] = cache.get(keys[i])
    todo = [i for i, r in enumerate(results) if r is None]
    with tqdm(total=len(videos), initial=len(videos) - len(todo), desc=desc, disable=not progress, unit="video") as bar:
        for start in range(0, len(todo), group_size):
            group = todo[start:start + group_size]
            feats = model.encode_videos([load_any(videos[i], num_frames, sampling, stride) for i in group])
            for i, f in zip(group, feats):
                results[i] = np.asarray(f)
                if i in keys:
                    cache.put(keys[i], results[i])
            bar.update(len(group))
    return results  # type: ignore[return-value]
