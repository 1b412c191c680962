"""Streaming benchmark: FPS, time to first frame, per-chunk latency and where the time goes.

Runs the real threaded stream (denoise, decode and consumer overlap as when serving) and times every
model evaluation and every chunk decode. Several pipelines are measured in one run and compared
with the first one (the reference), as a ratio. The model's achieved FLOP/s comes from its counted FLOPs
per evaluation (:mod:`streamdit.models.flops`) and is given as a share of the peak of the dtype the model
runs in: on a known GPU its data-sheet bf16 peak, elsewhere the matrix-product throughput of that dtype
measured in the same run (:func:`~streamdit.models.flops.matmul_throughput`), with peak memory on a GPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from streamdit.autoencoders.base import Autoencoder
from streamdit.inference.pipeline import StreamDiTPipeline
from streamdit.loading import load_autoencoder
from streamdit.models.flops import matmul_throughput, measured_flops, peak_flops


def _random_wan_vae(device: str | torch.device, dtype: torch.dtype) -> Autoencoder:
    from diffusers import AutoencoderKLWan

    from streamdit.autoencoders.wan_vae import WanVideoAutoencoder

    return WanVideoAutoencoder(AutoencoderKLWan().to(device, dtype))  # diffusers' defaults are Wan2.1's VAE


def _random_taew(device: str | torch.device, dtype: torch.dtype) -> Autoencoder:
    from streamdit.autoencoders.tiny_vae import TinyVideoAutoencoder

    return TinyVideoAutoencoder().to(device, dtype).eval()


# Real architectures with random weights, for --random-init benchmarks (decode time does not depend on them).
RANDOM_AUTOENCODERS = {"random-wan2.1": _random_wan_vae, "random-taew2.1": _random_taew}


def benchmark_autoencoder(spec: str, device: str | torch.device = "cpu",
                          dtype: torch.dtype = torch.float32) -> Autoencoder:
    """One of :data:`RANDOM_AUTOENCODERS` (Wan2.1's VAE, or TAEW2.1, the tiny decoder into the same latent
    space), or an autoencoder directory (any :func:`load_autoencoder` reads)."""
    if spec in RANDOM_AUTOENCODERS:
        torch.manual_seed(0)
        return RANDOM_AUTOENCODERS[spec](device, dtype)
    if spec.startswith("random-"):
        raise ValueError(f"unknown random autoencoder {spec!r}; choose one of {', '.join(RANDOM_AUTOENCODERS)}")
    return load_autoencoder(spec, device=device)


class _Timed:
    """Wraps a callable and accumulates the wall time spent inside it."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds += time.perf_counter() - start


@dataclass
class BenchResult:
    name: str
    scheme: str
    guidance: float | None
    frames: int
    evaluations: int
    first_frame_s: float
    chunk_latency_s: np.ndarray
    fps: float
    playback_fps: int
    model_share: float
    autoencoder_share: float
    rest_share: float
    model_tflops: float  # achieved by the model evaluations, per second of model time
    mfu: float | None  # model_tflops over the peak of the model's dtype (a known GPU's, or measured)
    peak_memory_gib: float | None  # CUDA only
    dtype: str = "float32"  # the model's weights


def matmul_peaks(device: torch.device | str, dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16)
                 ) -> dict[torch.dtype, float]:
    """The measured matrix-product FLOP/s of each dtype on ``device`` (see ``matmul_throughput``)."""
    return {dtype: matmul_throughput(dtype, device) for dtype in dtypes}


def bench_pipeline(pipe: StreamDiTPipeline, name: str, prompt: str, chunks: int = 12,
                   guidance: float | None = None, peaks: dict[torch.dtype, float] | None = None) -> BenchResult:
    """Stream ``chunks`` chunks and measure; FPS counts the frames after the first chunk. The model's share
    of the peak (``mfu``) is of a known GPU's data-sheet peak, else of ``peaks[the model's dtype]``."""
    cuda = pipe.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(pipe.device)
    compiled_forward = vars(pipe.model).get("forward")  # set by StreamDiTPipeline.compile()
    # decode_chunk, not the autoencoder's decode: it also covers a stream decoder (Wan's VAE)
    model_timer, decode_timer = _Timed(pipe.model.forward), _Timed(pipe.decode_chunk)
    pipe.model.forward, pipe.decode_chunk = model_timer, decode_timer
    try:
        chunks = max(2, chunks)
        arrivals, frames = [], 0
        start = time.perf_counter()
        with pipe.stream(prompt, seed=0, guidance=guidance, max_chunks=chunks) as stream:
            for chunk in stream:
                arrivals.append(time.perf_counter() - start)
                frames += len(chunk)
        wall = time.perf_counter() - start
    finally:
        del pipe.model.forward, pipe.decode_chunk  # back to the class methods
        if compiled_forward is not None:
            pipe.model.forward = compiled_forward
    per_chunk = frames // len(arrivals)
    scheme = pipe.schedule.scheme
    guided = bool(stream.guidance)
    flops = measured_flops(pipe.model, 2 if guided else 1, pipe.encode_prompt(prompt).tokens.shape[1])
    tflops = stream.stats.evaluations * flops / max(model_timer.seconds, 1e-9) / 1e12
    dtype = next(pipe.model.parameters()).dtype
    peak = peak_flops(pipe.device) or (peaks or {}).get(dtype)
    return BenchResult(
        name=name, scheme=f"K={scheme.num_chunks} c={scheme.chunk_size} s={scheme.micro_steps}",
        guidance=stream.guidance or None, frames=frames, evaluations=stream.stats.evaluations,
        first_frame_s=arrivals[0], chunk_latency_s=np.diff(arrivals),
        fps=(frames - per_chunk) / (arrivals[-1] - arrivals[0]), playback_fps=pipe.config.fps,
        model_share=model_timer.seconds / wall, autoencoder_share=decode_timer.seconds / wall,
        rest_share=max(0.0, wall - model_timer.seconds - decode_timer.seconds) / wall,
        model_tflops=tflops, mfu=tflops * 1e12 / peak if peak else None,
        peak_memory_gib=torch.cuda.max_memory_allocated(pipe.device) / 2**30 if cuda else None,
        dtype=str(dtype).removeprefix("torch."))


def format_results(results: list[BenchResult], device: str, resolution: tuple[int, int],
                   peaks: dict[torch.dtype, float] | None = None) -> str:
    """A table of the results, each compared with the first; ``peaks``: the measured matmul FLOP/s per dtype."""
    width = max(14, *(len(r.name) for r in results))
    lines = [f"device: {device}  threads: {torch.get_num_threads()}  resolution: {resolution[1]}x{resolution[0]}"]
    if peaks:
        measured = ", ".join(f"{str(d).removeprefix('torch.')} {p / 1e9:,.0f} GFLOP/s" for d, p in peaks.items())
        lines.append(f"matmul peak (1024x1024, measured now): {measured}")
    lines += [
             f"{'model':<{width}} {'scheme':<14} {'cfg':>4} {'FPS':>7} {'vs ref':>7} {'real-time':>9} {'first frame':>12} "
             f"{'chunk p50':>10} {'chunk max':>10} {'model':>6} {'AE':>5} {'rest':>5} {'TFLOP/s':>8} {'MFU':>5} {'dtype':>8} {'memory':>9}"]
    ref = results[0]
    for r in results:
        lines.append(
            f"{r.name:<{width}} {r.scheme:<14} {r.guidance or 0:>4g} {r.fps:>7.1f} {r.fps / ref.fps:>6.2f}x "
            f"{r.fps / r.playback_fps:>8.2f}x {r.first_frame_s * 1000:>9.0f} ms {np.median(r.chunk_latency_s) * 1000:>7.0f} ms "
            f"{r.chunk_latency_s.max() * 1000:>7.0f} ms {r.model_share:>6.0%} {r.autoencoder_share:>5.0%} {r.rest_share:>5.0%} "
            f"{r.model_tflops:>8.3g} {'-' if r.mfu is None else format(r.mfu, '.0%'):>5} {r.dtype:>8} "
            f"{'-' if r.peak_memory_gib is None else format(r.peak_memory_gib, '.1f') + ' GiB':>9}")
    lines.append("FPS: streamed frames per second after the first chunk; vs ref: ratio to the first row; shares of "
                 "wall time (decoding overlaps denoising, so they may sum past 100%); TFLOP/s: model FLOPs per second of "
                 "model time; MFU: of the peak of the model's dtype (a GPU's data sheet, else the matmul peak measured above); "
                 "memory: peak CUDA allocation")
    return "\n".join(lines)
