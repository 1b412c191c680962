"""StreamDiTPipeline: text (and optionally video) in, a live stream of uint8 video chunks out.

A pipeline directory (docs/architecture.md §3.1) holds ``model_index.json``, ``pipeline.json`` (scheme, time
shift, guidance, fps, text encoder), ``transformer/`` (:class:`~streamdit.models.dit.StreamDiT`) and
``autoencoder/``. ``from_pretrained(None)`` loads the bundled student shipped in the repository.

Serving (docs/architecture.md §2.6): prompts are encoded once, off the hot path (cached); a producer thread runs the
denoising loop, a decode worker turns emitted latents into frames while the next chunk is denoised,
and a bounded queue hands chunks to the consumer, so a slow consumer throttles generation.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from streamdit.autoencoders.base import Autoencoder, PatchAutoencoder, tensor_to_video, video_to_tensor
from streamdit.data.worlds import WORLDS
from streamdit.inference.sampler import SAMPLERS, EnteringChunk, Refresh, guided_velocity
from streamdit.inference.schedule import BufferSchedule, Scheme
from streamdit.inference.stream_batch import StreamBatcher
from streamdit.loading import load_pipeline_components, read_pipeline_config, read_transformer_config, save_pipeline
from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.text import CachedTextEncoder, TextEmbedding, TextEncoder, TransformerTextEncoder, validate_prompt

BUNDLED_DIR = Path(__file__).parents[1] / "bundled"
BUNDLED_MODEL_DIR = BUNDLED_DIR / "student"


@dataclass
class PipelineConfig:
    """A pipeline's ``pipeline.json``: the sampling scheme ``(K, c, s)``, time shift, default guidance,
    frame rate and text encoder.

    ``mode`` is ``"buffer"`` (StreamDiT's moving buffer) or ``"chunk-autoregressive"`` (the baseline of
    :func:`~streamdit.inference.sampler.denoise_autoregressive`: chunks of ``c`` frames, each denoised over all
    ``K * s`` steps behind clean frames).

    ``steer_strength``: what a prompt change does to the buffer (docs/architecture.md §2.6). 0 (the paper's
    interactive mode): nothing; the new prompt steers the remaining steps of the frames in flight, and
    what they already show carries over, for seconds. ``t`` in (0, 1]: the buffer's frames cleaner than
    noise level ``t`` are noised back to it and denoised again under the new prompt (a
    :class:`~streamdit.inference.sampler.Refresh`), so the next chunks out show the change; the lower ``t``,
    the more of the old layout stays (levels at or below the front chunk's change nothing).

    ``guidance_min_t``: the guidance applies to the frames at noise level ``t >= guidance_min_t`` only; the
    cleaner ones take the conditional velocity alone (0: everywhere; see
    :func:`~streamdit.inference.sampler.apply_guidance`).

    ``text_max_tokens``: prompts are cut to this many tokens (the encoder warns when it cuts one); world v2's
    captions of three objects run to ~50.

    ``world``: the synthetic world the model was trained on (``"v1"`` or ``"v2"``, docs/architecture.md §7):
    whose prompts, vocabulary and detector go with it.
    """

    chunk_size: int = 2
    micro_steps: int = 1
    shift: float = 1.0
    guidance: float | None = None
    fps: int = 16
    text_encoder: str | None = None  # a local Hugging Face encoder directory; None: bundled MiniLM
    mode: str = "buffer"
    text_layers: tuple[int, ...] = (-1,)  # its hidden states fed to the model (see TransformerTextEncoder)
    text_max_tokens: int = 32
    steer_strength: float = 0.0
    guidance_min_t: float = 0.0
    world: str = "v1"

    def __post_init__(self) -> None:
        self.text_layers = tuple(self.text_layers)  # a list when read from pipeline.json
        if self.mode not in SAMPLERS:
            raise ValueError(f"sampler mode must be one of {sorted(SAMPLERS)}, got {self.mode!r}")
        if self.world not in WORLDS:
            raise ValueError(f"world must be one of {WORLDS}, got {self.world!r}")
        if self.text_max_tokens < 1:
            raise ValueError(f"text_max_tokens must be >= 1, got {self.text_max_tokens}")
        for name in ("steer_strength", "guidance_min_t"):
            check_noise_level(name, getattr(self, name))

    def scheme(self, buffer_frames: int) -> Scheme:
        return Scheme.for_buffer(buffer_frames, self.chunk_size, self.micro_steps)


def check_noise_level(name: str, value: float) -> None:
    """Raise unless ``value`` is a noise level ``t`` in [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass
class StreamStats:
    """Live figures of a stream: chunks and frames delivered, time to the first chunk, throughput."""

    chunks: int = 0
    frames: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_chunk_s: float | None = None
    evaluations: int = 0

    @property
    def fps(self) -> float:
        if not self.frames:
            return 0.0
        return self.frames / (time.perf_counter() - self.started)


class StreamStopped(Exception):
    """Raised inside the producer thread to end generation when the stream is stopped."""


class VideoStream(Iterator[np.ndarray]):
    """Iterator of uint8 chunks ``(frames, H, W, 3)``; ``set_prompt`` switches prompt live, ``stop`` ends it.

    ``prompt_version`` counts the prompt changes; ``chunk_version`` is the version that was current when the
    chunk last returned entered the buffer (every evaluation of it used that prompt or a later one).
    A ``batcher`` runs this stream's model evaluations batched with other streams' (:mod:`streamdit.inference.stream_batch`).
    ``on_demand``: a chunk is denoised only once the consumer asks for it (none made ahead), so a prompt change
    reaches the very next chunk it takes; the consumer then waits one chunk's evaluation and decoding per chunk.
    ``steer_strength``: see :class:`PipelineConfig`; after a refresh every chunk in the buffer carries the new version.
    """

    def __init__(self, pipe: "StreamDiTPipeline", prompt: str, seed: int, guidance: float | None,
                 video: Iterable[np.ndarray] | np.ndarray | None, strength: float, max_chunks: int | None,
                 queue_size: int = 2, batcher: StreamBatcher | None = None, on_demand: bool = False,
                 steer_strength: float = 0.0) -> None:
        self.pipe = pipe
        self.prompt_version = self.chunk_version = self._entered_version = 0
        self.steer_strength = steer_strength
        self._evaluate = batcher.velocity if batcher is not None else pipe.velocity
        self._asked = threading.Semaphore(0) if on_demand else None  # one release per chunk the consumer asks for
        self._entered = 0  # chunks that entered the buffer
        self.guidance = pipe.config.guidance if guidance is None else guidance
        self.stats = StreamStats()
        self.max_chunks = max_chunks
        self._text = pipe.encode_prompt(prompt)
        self._null = pipe.encode_prompt("") if self.guidance else None
        self.prompt = prompt
        self._generator = torch.Generator(device="cpu").manual_seed(int(seed))
        self._frames_in = iter(video) if video is not None else None
        self._strength = strength
        self._stop = threading.Event()
        # a chunk's decoding and the prompt version it entered under; an error; None at the end
        self._queue: queue.Queue[tuple[Future, int] | BaseException | None] = queue.Queue(maxsize=queue_size)
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamdit-decode")
        self._decode_chunk = pipe.chunk_decoder()  # one worker: chunks are decoded in order
        self._thread = threading.Thread(target=self._produce, name="streamdit-denoise", daemon=True)
        self._thread.start()

    # -- control -------------------------------------------------------------------------------

    def set_prompt(self, prompt: str) -> None:
        """Switch the prompt from the next model evaluation on. With a ``steer_strength``, the next chunk to
        enter also refreshes the buffer (see :class:`PipelineConfig`); without, frames in flight keep what the
        old prompt made of them."""
        self._text = self.pipe.encode_prompt(prompt)
        self.prompt = prompt
        self.prompt_version += 1

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream: the producer exits at its next model evaluation and iteration stops."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._decoder.shutdown(wait=False, cancel_futures=True)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- iteration -------------------------------------------------------------------------------

    def __iter__(self) -> "VideoStream":
        return self

    def __next__(self) -> np.ndarray:
        if self._asked is not None:
            self._asked.release()
        while True:
            if self._stop.is_set() and self._queue.empty():
                raise StopIteration
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise StopIteration
                continue
            if item is None:
                self._stop.set()
                raise StopIteration
            if isinstance(item, BaseException):
                self._stop.set()
                raise item
            decoding, version = item
            try:
                frames = decoding.result()
            except CancelledError:
                raise StopIteration from None
            self.chunk_version = version
            self.stats.chunks += 1
            self.stats.frames += len(frames)
            if self.stats.first_chunk_s is None:
                self.stats.first_chunk_s = time.perf_counter() - self.stats.started
            return frames

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "VideoStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- producer ----------------------------------------------------------------------------------

    def _put(self, item: tuple[Future, int] | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise StreamStopped

    def _velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self._stop.is_set():
            raise StreamStopped
        self.stats.evaluations += 1
        return self._evaluate(x, t, self._text, self._null, self.guidance, self.pipe.config.guidance_min_t)

    def _next_chunk(self) -> EnteringChunk | None:
        # on demand: the first chunk entering, and each one after the buffer is full, makes one chunk emitted
        if self._asked is not None and (self._entered == 0 or self._entered >= self.pipe.schedule.scheme.num_chunks):
            while not self._asked.acquire(timeout=0.1):
                if self._stop.is_set():
                    raise StreamStopped
        self._entered += 1
        pipe = self.pipe
        shape = pipe.chunk_latent_shape
        noise = torch.randn(shape, generator=self._generator).to(pipe.device, pipe.dtype)
        refresh = None
        if self.steer_strength and self._entered_version != self.prompt_version:
            buffer_shape = (*shape[:2], pipe.schedule.scheme.buffer_frames, *shape[3:])
            refresh = Refresh(pipe.schedule.index_for_time(self.steer_strength),
                              torch.randn(buffer_shape, generator=self._generator).to(pipe.device, pipe.dtype))
        self._entered_version = self.prompt_version
        if self._frames_in is None:
            return EnteringChunk(noise, tag=self.prompt_version, refresh=refresh)
        frames = []
        for frame in self._frames_in:
            frames.append(np.asarray(frame))
            if len(frames) == pipe.frames_per_chunk:
                break
        if len(frames) < pipe.frames_per_chunk:
            return None
        latents = pipe.encode_frames(np.stack(frames))
        floor = pipe.schedule.index_for_time(self._strength)
        t = float(pipe.schedule.grid[floor])
        return EnteringChunk((1 - t) * latents + t * noise, floor=floor, tag=self.prompt_version, refresh=refresh)

    def _produce(self) -> None:
        try:
            with torch.inference_mode():
                denoise = SAMPLERS[self.pipe.config.mode]
                for i, chunk in enumerate(denoise(self._velocity, self.pipe.schedule, self._next_chunk)):
                    self._put((self._decoder.submit(self._decode_chunk, chunk.latents), chunk.tag))
                    if self.max_chunks is not None and i + 1 >= self.max_chunks:
                        break
            self._put(None)
        except StreamStopped:
            pass
        except BaseException as exc:  # hand the error to the consumer instead of dying silently
            try:
                self._put(exc)
            except StreamStopped:
                pass


def check_compatible(config: StreamDiTConfig, autoencoder: Autoencoder, text_encoder: TextEncoder) -> None:
    """Raise if the autoencoder's latents or the text encoder's width do not fit the model."""
    if autoencoder.latent_channels != config.in_channels:
        raise ValueError(f"autoencoder gives {autoencoder.latent_channels} latent channels, "
                         f"the model expects {config.in_channels}")
    if text_encoder.dim != config.text_dim:
        raise ValueError(f"text encoder width {text_encoder.dim} != model text_dim {config.text_dim}")


class StreamDiTPipeline:
    """Model + text encoder + autoencoder + :class:`PipelineConfig`; ``stream()`` is the entry point."""

    def __init__(self, model: StreamDiT, text_encoder: TextEncoder, autoencoder: Autoencoder,
                 config: PipelineConfig, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        check_compatible(model.config, autoencoder, text_encoder)
        self.device, self.dtype = torch.device(device), dtype
        self.model = model.to(self.device, dtype).eval()
        self.text_encoder = text_encoder if isinstance(text_encoder, CachedTextEncoder) else CachedTextEncoder(text_encoder)
        self.autoencoder = autoencoder
        self.config = config
        self.schedule = BufferSchedule(config.scheme(model.config.buffer_frames), config.shift)

    # -- geometry --------------------------------------------------------------------------------

    @property
    def chunk_latent_shape(self) -> tuple[int, ...]:
        cfg = self.model.config
        return (1, cfg.in_channels, self.schedule.scheme.chunk_size, cfg.latent_height, cfg.latent_width)

    @property
    def frames_per_chunk(self) -> int:
        return self.schedule.scheme.chunk_size * self.autoencoder.temporal_compression

    @property
    def resolution(self) -> tuple[int, int]:
        cfg, s = self.model.config, self.autoencoder.spatial_compression
        return cfg.latent_height * s, cfg.latent_width * s

    # -- building blocks -------------------------------------------------------------------------

    def encode_prompt(self, prompt: str) -> TextEmbedding:
        return self.text_encoder.encode([validate_prompt(prompt)]).to(self.device, self.dtype)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding, null: TextEmbedding | None,
                 guidance: float | None, min_t: float | None = None) -> torch.Tensor:
        """Model velocity, with classifier-free guidance when ``guidance`` is set (:func:`guided_velocity`), for
        frames at ``t >= min_t`` (default: the pipeline's ``guidance_min_t``)."""
        min_t = self.config.guidance_min_t if min_t is None else min_t
        return guided_velocity(self.model, x, t, text, null, guidance, min_t)

    def decode_chunk(self, latents: torch.Tensor,
                     decode: Callable[[torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
        """Latent chunk ``(1, C, c, h, w)`` -> uint8 frames ``(c * tc, H, W, 3)``, by ``decode`` (default: the
        autoencoder's, which decodes each chunk on its own)."""
        with torch.inference_mode():
            video = (decode or self.autoencoder.decode)(latents.float())
        return tensor_to_video(video)[0].cpu().numpy()

    def chunk_decoder(self) -> Callable[[torch.Tensor], np.ndarray]:
        """:meth:`decode_chunk` for the chunks of one stream, in order; an autoencoder that is causal across
        chunks (Wan's VAE) keeps its state between them through its ``stream_decoder()``."""
        start = getattr(self.autoencoder, "stream_decoder", None)
        return self.decode_chunk if start is None else partial(self.decode_chunk, decode=start().decode)

    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames ``(T, H, W, 3)`` of any size -> latents ``(1, C, T / tc, h, w)`` at the model's size."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
        video = video_to_tensor(torch.from_numpy(frames)[None])
        height, width = self.resolution
        if video.shape[-2:] != (height, width):
            n, c, t = video.shape[:3]
            flat = video.transpose(1, 2).reshape(n * t, c, *video.shape[-2:])
            flat = F.interpolate(flat, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
            video = flat.view(n, t, c, height, width).transpose(1, 2)
        with torch.inference_mode():
            return self.autoencoder.encode(video).to(self.device, self.dtype)

    # -- public API --------------------------------------------------------------------------------

    def stream(self, prompt: str, seed: int = 0, guidance: float | None = None,
               video: Iterable[np.ndarray] | np.ndarray | None = None, strength: float = 0.7,
               max_chunks: int | None = None, batcher: StreamBatcher | None = None,
               queue_size: int = 2, on_demand: bool = False, steer_strength: float | None = None) -> VideoStream:
        """Start a stream. ``video`` (frames ``(H, W, 3)`` uint8, any size) turns it into video-to-video
        with noise ``strength`` in (0, 1]; the stream then ends with the input. ``max_chunks`` bounds it.
        ``batcher`` shares model evaluations with other streams; ``queue_size``: decoded chunks made ahead;
        ``on_demand``: none made ahead, each chunk denoised when asked for (see :class:`VideoStream`);
        ``steer_strength``: what ``set_prompt`` does to the buffer (default: the pipeline's, see :class:`PipelineConfig`)."""
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if video is not None and self.config.mode != "buffer":
            raise ValueError(f"video-to-video needs the buffer sampler, not {self.config.mode!r}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        steer_strength = self.config.steer_strength if steer_strength is None else steer_strength
        check_noise_level("steer_strength", steer_strength)
        return VideoStream(self, prompt, seed, guidance, video, strength, max_chunks, queue_size, batcher, on_demand,
                           steer_strength)

    def generate(self, prompt: str, num_frames: int, seed: int = 0, guidance: float | None = None) -> np.ndarray:
        """Collect ``num_frames`` frames of a stream into one uint8 array ``(T, H, W, 3)``."""
        chunks_needed = -(-num_frames // self.frames_per_chunk)
        with self.stream(prompt, seed=seed, guidance=guidance, max_chunks=chunks_needed) as stream:
            frames = np.concatenate(list(stream))
        return frames[:num_frames]

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32, text_encoder: TextEncoder | None = None) -> "StreamDiTPipeline":
        """Load a pipeline directory (``None``: the bundled student)."""
        settings, model, autoencoder = load_pipeline_components(path if path is not None else BUNDLED_MODEL_DIR,
                                                                device=device)
        config = PipelineConfig(**settings)
        if text_encoder is None:
            text_encoder = TransformerTextEncoder(config.text_encoder, device=device, layers=config.text_layers,
                                                  max_tokens=config.text_max_tokens)
        return cls(model, text_encoder, autoencoder, config, device=device, dtype=dtype)

    @classmethod
    def from_config(cls, preset: str = "tiny", autoencoder: Autoencoder | None = None,
                    config: PipelineConfig | None = None, device: str | torch.device = "cpu",
                    text_encoder: TextEncoder | None = None, seed: int = 0, dtype: torch.dtype = torch.float32,
                    **overrides: object) -> "StreamDiTPipeline":
        """A pipeline with a *randomly initialised* model of a preset (for plumbing and training starts).

        The model's input channels follow the autoencoder (default: 8x8 pixel patches).
        """
        autoencoder = autoencoder or PatchAutoencoder(8)
        text_encoder = text_encoder or TransformerTextEncoder(device=device)
        model_config = StreamDiTConfig(**{**StreamDiTConfig.preset(preset).to_dict(), **overrides,
                                          "in_channels": autoencoder.latent_channels, "text_dim": text_encoder.dim})
        torch.manual_seed(seed)
        return cls(StreamDiT(model_config), text_encoder, autoencoder, config or PipelineConfig(), device=device,
                   dtype=dtype)

    def compile(self, **options: object) -> "StreamDiTPipeline":
        """Compile the model's forward with ``torch.compile(**options)`` (e.g. ``mode="max-autotune"`` on a GPU).
        The first evaluations pay for compilation; results equal the plain model's within float tolerance."""
        self.model.forward = torch.compile(self.model.forward, **options)
        return self

    def save_pretrained(self, directory: str | Path) -> None:
        """Write a pipeline directory (``model_index.json``, ``pipeline.json``, ``transformer/``, ``autoencoder/``)."""
        save_pipeline(directory, asdict(self.config), self.model, self.autoencoder)

    @staticmethod
    def config_of(directory: str | Path) -> PipelineConfig:
        """The sampling settings of a saved pipeline (its ``pipeline.json``), read without loading weights."""
        return PipelineConfig(**read_pipeline_config(directory))

    @staticmethod
    def scheme_of(directory: str | Path) -> Scheme:
        """The streaming scheme ``(K, c, s)`` a saved pipeline samples with, read without loading weights."""
        return StreamDiTPipeline.config_of(directory).scheme(read_transformer_config(directory).buffer_frames)
