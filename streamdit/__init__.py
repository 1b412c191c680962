"""StreamDiT: real-time streaming text-to-video generation with a moving-buffer flow-matching DiT.

The names below are the package's public API; the demo, eval and scripts use only these
(docs/architecture.md §1 draws the layers). They load on first use (`from streamdit import X` as before), so
taking the video reader (`iter_video_frames`) does not import torch and the model code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name -> the module that defines it ("data" is the subpackage itself)
    "data": "streamdit.data",
    "tensor_to_video": "streamdit.autoencoders.base", "video_to_tensor": "streamdit.autoencoders.base",
    "BUNDLED_DIR": "streamdit.inference.pipeline", "PipelineConfig": "streamdit.inference.pipeline",
    "StreamDiTPipeline": "streamdit.inference.pipeline", "VideoStream": "streamdit.inference.pipeline",
    "BufferSchedule": "streamdit.inference.schedule", "MixedSchemeSampler": "streamdit.inference.schedule",
    "Scheme": "streamdit.inference.schedule", "shift_time": "streamdit.inference.schedule",
    "time_grid": "streamdit.inference.schedule",
    "StreamBatcher": "streamdit.inference.stream_batch",
    "is_pipeline_directory": "streamdit.loading", "load_autoencoder": "streamdit.loading",
    "StreamDiT": "streamdit.models.dit", "StreamDiTConfig": "streamdit.models.dit",
    "MAX_PROMPT_CHARS": "streamdit.models.text",
    "VideoReadError": "streamdit.video_io", "iter_video_frames": "streamdit.video_io", "read_video": "streamdit.video_io",
    "video_frame_count": "streamdit.video_io", "video_frame_rate": "streamdit.video_io",
    "write_video": "streamdit.video_io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'streamdit' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == "data" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
