"""Speed and values against the reference implementations, on the same weights and videos in one run:
our I3D features against cd-fvd's own I3D code (its `InceptionI3d`, `preprocess_i3d` and
`get_i3d_logits`), and our CLIP score against torchmetrics' `CLIPScore` (its update/compute, with the
same open_clip network behind its (model, processor) interface and Hugging Face's `CLIPImageProcessor`
preparing the frames, as a torchmetrics user's pipeline does). Random weights of the real architectures:
the speed is that of the real networks, the values are meaningless but must agree. Videos are random
uint8 arrays in memory (decoding is not timed); each side is warmed up, then the two are timed in turns `repeats` times (best of each)."""

from __future__ import annotations

import os
import tempfile
import time
from types import SimpleNamespace
from typing import Callable

import numpy as np
import open_clip
import pandas as pd
import torch

from .clip import CLIP, DEFAULT_CLIP_ARCH
from .i3d import I3D


def _race(ours: Callable[[], object], reference: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best seconds of each, the two timed in turns so that a busy machine slows both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((ours, reference)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


class OpenClipForTorchmetrics(torch.nn.Module):
    """An open_clip model behind the Hugging Face CLIPModel methods torchmetrics' CLIPScore calls."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.config = SimpleNamespace()

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids)


class HFImageProcessorWithOpenClipTokens:
    """torchmetrics' processor interface: frames through Hugging Face's CLIPImageProcessor (CLIP's resize,
    crop and normalisation), text through open_clip's tokenizer (no Hugging Face vocabulary offline)."""

    def __init__(self, tokenizer: Callable):
        from transformers import CLIPImageProcessor

        self.images, self.tokenizer = CLIPImageProcessor(), tokenizer

    def __call__(self, text=None, images=None, return_tensors: str = "pt", padding: bool = True) -> dict:
        if images is not None:
            return self.images(images=[i.permute(1, 2, 0).numpy() for i in images], return_tensors=return_tensors)
        tokens = self.tokenizer(text)
        return {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)}


def _bench_i3d(videos: np.ndarray, device: str, repeats: int) -> tuple:
    from cdfvd.fvd import cdfvd
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d as CdfvdInceptionI3d

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "random_i3d_pretrained_400.pt")
        torch.save(CdfvdInceptionI3d(400, in_channels=3).state_dict(), path)
        ours = I3D.load(path, device=device, batch_size=16)  # cd-fvd's get_i3d_logits batch size
        reference = cdfvd(model="i3d", ckpt_path=path, device=device, n_real="full", n_fake="full", compute_feats=True)
    ours.encode_videos(list(videos[:1]))
    reference.add_real_stats(videos[:1])
    t_ours, t_ref = _race(lambda: ours.encode_videos(list(videos)), lambda: reference.add_fake_stats(videos), repeats)
    a = ours.encode_videos(list(videos))
    b = reference.fake_stats.get_all()[-len(videos):]
    diff = float(np.abs(a - b).max() / np.abs(b).max())
    return "I3D features (FVD)", t_ours, t_ref, "cd-fvd get_i3d_logits (batch 16)", diff


def _bench_clip(videos: np.ndarray, device: str, repeats: int, arch: str) -> tuple:
    from torchmetrics.multimodal import CLIPScore

    torch.manual_seed(0)
    network = open_clip.create_model(arch)
    ours = CLIP(network, arch, device=device, batch_size=64)
    prompts = [f"a video number {i}" for i in range(len(videos))]
    adapter = OpenClipForTorchmetrics(ours.model)
    processor = HFImageProcessorWithOpenClipTokens(ours.tokenizer)

    def run_ours() -> np.ndarray:  # per frame 100 * cos, as our CLIP score computes it before the clamp
        frames = ours.encode_videos(list(videos))
        text = ours.text_features(prompts).numpy()
        return np.concatenate([100 * f @ t for f, t in zip(frames, text)])

    def run_reference() -> np.ndarray:
        scores = []
        for video, prompt in zip(videos, prompts):
            metric = CLIPScore(model_name_or_path=lambda: (adapter, processor)).to(device)
            frames = [torch.from_numpy(f).permute(2, 0, 1) for f in video]
            metric.update(frames, [prompt] * len(frames))
            scores.append(float(metric.score) / int(metric.n_samples))  # its mean before compute()'s clamp
        return np.array(scores)

    run_ours(), run_reference()
    t_ours, t_ref = _race(run_ours, run_reference, repeats)
    ours_per_video = run_ours().reshape(len(videos), -1).mean(axis=1)
    reference = run_reference()
    diff = float(np.abs(ours_per_video - reference).max() / max(np.abs(reference).max(), 1e-12))
    return "CLIP score", t_ours, t_ref, "torchmetrics CLIPScore (HF CLIPImageProcessor)", diff


def run_bench(num_videos: int = 4, frames: int = 16, size: int = 128, device: str = "cpu",
              clip_arch: str = DEFAULT_CLIP_ARCH, seed: int = 0, repeats: int = 3) -> pd.DataFrame:
    """Table: model, our and the reference's videos/s, ratio (ours / reference: > 1 means we are faster),
    the reference, and the largest difference of values relative to the reference's largest value."""
    videos = np.random.default_rng(seed).integers(0, 256, (num_videos, frames, size, size, 3), dtype=np.uint8)
    rows = [_bench_i3d(videos, device, repeats), _bench_clip(videos, device, repeats, clip_arch)]
    table = pd.DataFrame([(name, num_videos / t_ours, num_videos / t_ref, ref, diff)
                          for name, t_ours, t_ref, ref, diff in rows],
                         columns=["model", "ours_videos_per_s", "reference_videos_per_s", "reference", "max_rel_diff"])
    table.insert(3, "ratio", table["ours_videos_per_s"] / table["reference_videos_per_s"])
    return table
