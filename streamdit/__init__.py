"""StreamDiT: real-time streaming text-to-video generation with a moving-buffer flow-matching DiT.

The names below are the package's public API; the demo, eval and scripts use only these
(docs/architecture.md §1 draws the layers).
"""

from streamdit import data
from streamdit.autoencoder import load_autoencoder, tensor_to_video, video_to_tensor
from streamdit.model import StreamDiT, StreamDiTConfig
from streamdit.pipeline import BUNDLED_DIR, PipelineConfig, StreamDiTPipeline, VideoStream
from streamdit.schedule import BufferSchedule, MixedSchemeSampler, Scheme, shift_time, time_grid
from streamdit.stream_batch import StreamBatcher
from streamdit.text import MAX_PROMPT_CHARS
from streamdit.video_io import iter_video_frames, read_video, write_video

__all__ = [
    "BUNDLED_DIR", "MAX_PROMPT_CHARS", "BufferSchedule", "MixedSchemeSampler", "PipelineConfig", "Scheme",
    "StreamBatcher", "StreamDiT", "StreamDiTConfig", "StreamDiTPipeline", "VideoStream", "data", "iter_video_frames",
    "load_autoencoder", "read_video", "shift_time", "tensor_to_video", "time_grid", "video_to_tensor", "write_video",
]
