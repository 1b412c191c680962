"""StreamDiT: real-time streaming text-to-video generation with a moving-buffer flow-matching DiT.

The names below are the package's public API; the demo, eval and scripts use only these
(docs/architecture.md §1 draws the layers).
"""

from streamdit import data
from streamdit.autoencoders.base import tensor_to_video, video_to_tensor
from streamdit.inference.pipeline import BUNDLED_DIR, PipelineConfig, StreamDiTPipeline, VideoStream
from streamdit.inference.schedule import BufferSchedule, MixedSchemeSampler, Scheme, shift_time, time_grid
from streamdit.inference.stream_batch import StreamBatcher
from streamdit.loading import is_pipeline_directory, load_autoencoder
from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.text import MAX_PROMPT_CHARS
from streamdit.video_io import VideoReadError, iter_video_frames, read_video, video_frame_rate, write_video

__all__ = [
    "BUNDLED_DIR", "MAX_PROMPT_CHARS", "BufferSchedule", "MixedSchemeSampler", "PipelineConfig", "Scheme",
    "StreamBatcher", "StreamDiT", "StreamDiTConfig", "StreamDiTPipeline", "VideoReadError", "VideoStream", "data",
    "is_pipeline_directory", "iter_video_frames", "load_autoencoder", "read_video", "shift_time", "tensor_to_video",
    "time_grid", "video_frame_rate", "video_to_tensor", "write_video",
]
