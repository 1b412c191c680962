"""Video generation metrics: FVD/KVD, CLIP score, temporal consistency, seam score, prompt adherence.

Python API: a video is a uint8 array or tensor (T, H, W, 3), or a path to a video file or a frame
folder. `python -m eval --help` lists the command-line tools. Names are imported on first use, so
`import eval` (and the CLI's help) stays fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "prompt_adherence": "adherence",
    "CLIP": "clip", "VideoCLIPScore": "clip", "clip_score": "clip", "clip_scores": "clip",
    "background_consistency": "consistency", "feature_consistency": "consistency", "seam_score": "consistency",
    "subject_consistency": "consistency", "temporal_flicker": "consistency", "SEAM_SCORE_CAP": "consistency",
    "DINO": "dino",
    "DynamicDegree": "dynamic_degree", "RAFTFlow": "dynamic_degree", "dynamic_degree": "dynamic_degree",
    "MotionSmoothness": "motion_smoothness", "motion_smoothness": "motion_smoothness",
    "download_weights": "download",
    "FeatureCache": "features", "video_features": "features",
    "frechet_distance": "frechet",
    "FrechetVideoDistance": "fvd", "fvd": "fvd", "fvd_features": "fvd",
    "I3D": "i3d", "InceptionI3d": "i3d",
    "kernel_distance": "kvd", "KernelVideoDistance": "kvd",
    "frozen_share": "motion", "inside_chunk_share": "motion", "window_scores": "motion",
    "frozen_share": "motion", "inside_chunk_share": "motion", "window_scores": "motion",
    "RealStats": "real_stats",
    "Estimate": "stats", "bootstrap_mean": "stats",
    "VideoLoadError": "video_io", "list_videos": "video_io", "load_video": "video_io",
    "VideoMAE": "videomae",
    "MissingWeightsError": "weights", "WeightsLoadError": "weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """`eval.fvd` is the function, as it was when everything was imported eagerly, even after the
    submodule `eval/fvd.py` (same name) is imported and the import system sets it on the package."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
