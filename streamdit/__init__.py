"""StreamDiT: real-time streaming text-to-video generation with a moving-buffer flow-matching DiT."""

from streamdit.model import StreamDiT, StreamDiTConfig
from streamdit.pipeline import SamplerConfig, StreamDiTPipeline, VideoStream
from streamdit.schedule import BufferSchedule, MixedSchemeSampler, Scheme, shift_time, time_grid

__all__ = ["StreamDiT", "StreamDiTConfig", "StreamDiTPipeline", "SamplerConfig", "VideoStream", "BufferSchedule", "MixedSchemeSampler", "Scheme", "shift_time", "time_grid"]
