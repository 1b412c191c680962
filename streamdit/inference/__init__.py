"""Generation: the buffer schedule, the denoising loops (samplers), the streaming pipeline and its benchmark."""

from streamdit.inference.pipeline import BUNDLED_DIR, PipelineConfig, StreamDiTPipeline, VideoStream
from streamdit.inference.sampler import SAMPLERS, denoise_autoregressive, denoise_stream, guided_velocity
from streamdit.inference.schedule import BufferSchedule, MixedSchemeSampler, Scheme, shift_time, time_grid

__all__ = ["BUNDLED_DIR", "SAMPLERS", "BufferSchedule", "MixedSchemeSampler", "PipelineConfig", "Scheme",
           "StreamDiTPipeline", "VideoStream", "denoise_autoregressive", "denoise_stream", "guided_velocity",
           "shift_time", "time_grid"]
