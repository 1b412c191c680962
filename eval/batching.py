"""The batched feature loops. Clips (`encode_clips`: I3D, VideoMAE, autoencoder features) go through the
network `batch_size` at a time; frames of videos that may differ in size (`embed_frames`: CLIP, DINO) are
preprocessed per video (the metric's reference resize), then frames of all videos whose preprocessed frames
have one shape share forward passes."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch


def group_by_shape(tensors: Sequence[torch.Tensor]) -> dict[tuple, list[int]]:
    """Indices of the tensors of each shape, in order."""
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault(tuple(t.shape), []).append(i)
    return groups


def encode_clips(videos: Sequence[np.ndarray | torch.Tensor], batch_size: int,
                 encode: Callable[[list[torch.Tensor]], torch.Tensor]) -> np.ndarray:
    """Features (N, D) of uint8 clips (T, H, W, 3): `encode` maps at most `batch_size` clips (tensors) to (n, D)."""
    out = []
    for i in range(0, len(videos), batch_size):
        clips = [torch.as_tensor(np.asarray(v)) for v in videos[i:i + batch_size]]
        out.append(encode(clips).float().cpu().numpy())
    return np.concatenate(out)


def embed_frames(videos: Sequence[np.ndarray | torch.Tensor], preprocess: Callable[[torch.Tensor], torch.Tensor],
                 forward: Callable[[torch.Tensor], torch.Tensor], batch_size: int) -> list[np.ndarray]:
    """Per-frame outputs (T_i, D) of each uint8 video (T_i, H_i, W_i, 3): `preprocess` maps uint8 frames
    (N, H, W, 3) to network input (N, ...), `forward` maps at most `batch_size` inputs to (N, D)."""
    tensors = [torch.as_tensor(np.asarray(v)) for v in videos]
    groups = group_by_shape([preprocess(v[:1])[0] for v in tensors])
    results: list[np.ndarray | None] = [None] * len(tensors)
    for members in groups.values():
        outputs, pending, pending_n = [], [], 0
        for i in members:
            for j in range(0, len(tensors[i]), batch_size):
                x = preprocess(tensors[i][j:j + batch_size])
                pending.append(x)
                pending_n += len(x)
                while pending_n >= batch_size:
                    x = torch.cat(pending)
                    outputs.append(forward(x[:batch_size]).float().cpu())
                    pending, pending_n = [x[batch_size:]], len(x) - batch_size
        if pending_n:
            outputs.append(forward(torch.cat(pending)).float().cpu())
        feats = torch.cat(outputs).numpy()
        splits = np.split(feats, np.cumsum([len(tensors[i]) for i in members])[:-1])
        for i, f in zip(members, splits):
            results[i] = f
    return results  # type: ignore[return-value]
