"""Generation: the buffer schedule, the denoising loops (samplers), the streaming pipeline, the stream batch
that serves several streams with one model evaluation, and the benchmark."""

from streamdit.inference.pipeline import BUNDLED_DIR, PipelineConfig, StreamDiTPipeline, VideoStream
from streamdit.inference.sampler import SAMPLERS, denoise_autoregressive, denoise_stream, guided_velocity
from streamdit.inference.schedule import BufferSchedule, MixedSchemeSampler, Scheme, shift_time, time_grid
from streamdit.inference.stream_batch import StreamBatcher

__all__ = ["BUNDLED_DIR", "SAMPLERS", "BufferSchedule", "MixedSchemeSampler", "PipelineConfig", "Scheme",
           "StreamBatcher", "StreamDiTPipeline", "VideoStream", "denoise_autoregressive", "denoise_stream", "guided_velocity",
           "shift_time", "time_grid"]
