"""Stream batch: the velocity requests of several live streams of one model run as one batched forward.

StreamDiffusion's "stream batch" applied across visitors: each :class:`~streamdit.inference.pipeline.VideoStream` keeps its
own prompt, seed, buffer and guidance, and calls :meth:`StreamBatcher.velocity` once per model evaluation from
its producer thread. One worker thread takes every request pending at that moment, stacks their rows (the
conditional rows, and the unconditional rows of the guided ones) into one forward of the model, and hands each
stream its slice, combined as :func:`~streamdit.inference.sampler.guided_velocity` would. Requests that arrive while a
forward runs wait for the next one, so the batch grows with the number of streams that are generating.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from streamdit.inference.sampler import apply_guidance, per_sample
from streamdit.models.text import TextEmbedding


@dataclass
class VelocityRequest:
    """One stream's model evaluation: buffer ``x`` ``(n, C, B, h, w)``, times ``t`` ``(n, B)``, its prompt,
    the empty prompt and guidance scale (guided only when both are set), and the future of its velocity."""

    x: torch.Tensor
    t: torch.Tensor
    text: TextEmbedding
    null: TextEmbedding | None
    guidance: float | None
    min_t: float = 0.0  # guidance only for frames at t >= min_t (apply_guidance)
    result: Future = field(default_factory=Future)

    @property
    def guided(self) -> bool:
        return bool(self.guidance) and self.null is not None


def pad_tokens(embedding: TextEmbedding, length: int) -> TextEmbedding:
    """Append masked-out tokens up to ``length`` (prompts of different lengths share one batch)."""
    extra = length - embedding.tokens.shape[1]
    if extra <= 0:
        return embedding
    return TextEmbedding(F.pad(embedding.tokens, (0, 0, 0, extra)), F.pad(embedding.mask, (0, extra), value=False))


def batched_velocity(model: Callable[..., torch.Tensor], requests: list[VelocityRequest]) -> list[torch.Tensor]:
    """The velocity of every request from one forward of ``model``; equal to :func:`guided_velocity` per request."""
    xs, ts, texts = [], [], []
    for r in requests:
        n = r.x.shape[0]
        rows = [per_sample(r.text, n)]
        if r.guided:
            rows.append(per_sample(r.null, n))
        for text in rows:
            xs.append(r.x)
            ts.append(r.t)
            texts.append(text)
    length = max(text.tokens.shape[1] for text in texts)
    text = TextEmbedding.cat([pad_tokens(e, length) for e in texts])
    out = model(torch.cat(xs), torch.cat(ts), text.tokens, text.mask)
    velocities, row = [], 0
    for r in requests:
        n = r.x.shape[0]
        cond = out[row:row + n]
        row += n
        if r.guided:
            uncond = out[row:row + n]
            row += n
            cond = apply_guidance(cond, uncond, r.guidance, r.t, r.min_t)
        velocities.append(cond)
    return velocities


class StreamBatcher:
    """Runs the velocity requests of many streams of one model in shared batched forwards (one worker thread).

    ``forwards`` and ``requests`` count the work done (``requests / forwards`` is the mean batch).
    """

    def __init__(self, model: Callable[..., torch.Tensor], max_requests: int = 32) -> None:
        if max_requests < 1:
            raise ValueError(f"max_requests must be >= 1, got {max_requests}")
        self.model, self.max_requests = model, max_requests
        self.forwards = self.requests = 0
        self._pending: list[VelocityRequest] = []
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None

    def velocity(self, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding, null: TextEmbedding | None,
                 guidance: float | None, min_t: float = 0.0) -> torch.Tensor:
        """The velocity of ``x`` at ``t`` (as :func:`~streamdit.inference.sampler.guided_velocity`); blocks until the
        batched forward that includes it has run. Call it from several threads at once."""
        request = VelocityRequest(x, t, text, null, guidance, min_t)
        with self._wake:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="streamdit-stream-batch", daemon=True)
                self._worker.start()
            self._pending.append(request)
            self._wake.notify()
        return request.result.result()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch = self._pending[:self.max_requests]
                del self._pending[:len(batch)]
            by_shape: dict[tuple[int, ...], list[VelocityRequest]] = {}
            for request in batch:
                by_shape.setdefault(tuple(request.x.shape[1:]), []).append(request)
            for group in by_shape.values():
                self._run(group)

    def _run(self, group: list[VelocityRequest]) -> None:
        try:
            with torch.inference_mode():
                velocities = batched_velocity(self.model, group)
        except BaseException as exc:  # every waiting stream gets the error instead of hanging
            for request in group:
                request.result.set_exception(exc)
            return
        self.forwards += 1
        self.requests += len(group)
        for request, velocity in zip(group, velocities):
            request.result.set_result(velocity)
