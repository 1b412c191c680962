"""Video generation metrics: FVD/KVD, CLIP score, temporal consistency, seam score, prompt adherence.

Python API: a video is a uint8 array or tensor (T, H, W, 3), or a path to a video file or a frame
folder. Every metric is a `MetricSpec` in `METRICS` (eval/registry.py), and its function is a name of this
package (`eval.temporal_flicker`, `eval.fvd`, ...); `python -m eval --help` lists the command-line tools.
Names are imported on first use, so `import eval` (and the CLI's help) stays fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from .metric import MetricSpec, score_videos
from .registry import METRICS

_EXPORTS = {  # name -> module; the metrics' own functions come from the registry (`_metric_functions`)
    "CLIP": "clip", "VideoCLIPScore": "clip", "clip_scores": "clip",
    "feature_consistency": "consistency", "SEAM_SCORE_CAP": "consistency",
    "DINO": "dino",
    "DynamicDegree": "dynamic_degree", "RAFTFlow": "dynamic_degree",
    "MotionSmoothness": "motion_smoothness",
    "download_weights": "download",
    "FeatureCache": "features", "video_features": "features",
    "FrechetVideoDistance": "fvd", "fvd_features": "fvd",
    "I3D": "i3d", "InceptionI3d": "i3d",
    "KernelVideoDistance": "kvd",
    "window_scores": "motion",
    "RealStats": "real_stats",
    "Estimate": "stats", "bootstrap_mean": "stats",
    "VideoLoadError": "video_io", "list_videos": "video_io", "load_video": "video_io",
    "VideoMAE": "videomae",
    "MissingWeightsError": "weights", "WeightsLoadError": "weights",
}


def _metric_functions() -> dict[str, MetricSpec]:
    """Function name -> spec of every registered metric (read when asked, so a metric registered later is
    part of the API too)."""
    return {spec.function_name: spec for spec in METRICS}


__all__ = sorted([*_EXPORTS, *_metric_functions(), "METRICS", "MetricSpec", "score_videos"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in (specs := _metric_functions()):
        value = specs[name].function
    else:
        raise AttributeError(f"module 'eval' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_metric_functions()))


class _Package(types.ModuleType):
    """`eval.fvd` is the function, as it was when everything was imported eagerly, even after the
    submodule `eval/fvd.py` (same name) is imported and the import system sets it on the package."""

    def __setattr__(self, name: str, value: Any) -> None:
        is_submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}"
        if is_submodule and name in _metric_functions():
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
