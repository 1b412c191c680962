"""Generated frames as short H.264 MPEG-TS segments for ``gr.Video(streaming=True)``, joined to mp4 on demand.

Gradio 6 plays a streamed ``gr.Video`` through HLS (hls.js): each yield adds one segment to a live
playlist. Measured on the shared 2-core CPU machine (tiny model, 128x128 at 16 fps, headless Chromium,
other jobs running): a 16-frame segment encodes in ~8.5 ms (libx264 ``ultrafast`` / ``zerolatency``);
with 1 s segments the browser showed the first frame 1.6-3.4 s after Start and then played at 13-16
decoded frames/s; with 0.5 s segments 1.5-2.0 s, but it stalled more often. Per-frame ``gr.Image``
updates (JPEG, 0.12 ms a frame to encode) showed a first frame after 0.9-1.3 s but only 5.5-9.7
frames/s arrived: one server round trip per frame is the bottleneck. Hence segments, 1 s by default
(``--segment-seconds``). Each segment starts with an IDR frame and carries continuous timestamps, so
the segments join into one mp4 by remuxing, without re-encoding.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def encode_segment(frames: np.ndarray, path: str | Path, fps: int, first_frame: int) -> Path:
    """Write uint8 frames ``(T, H, W, 3)`` as one MPEG-TS segment whose timestamps start at ``first_frame / fps``."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"expected uint8 frames (T, H, W, 3) with T > 0, got {frames.dtype} {frames.shape}")
    path = Path(path)
    with av.open(str(path), mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = first_frame + i, Fraction(1, fps)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode())
    return path


def join_segments(segments: list[Path], out: str | Path) -> Path:
    """Remux MPEG-TS segments (in order, continuous timestamps) into one mp4 without re-encoding."""
    if not segments:
        raise ValueError("no segments to join")
    out = Path(out)
    with av.open(str(out), mode="w", format="mp4") as output:
        target = None
        for segment in segments:
            with av.open(str(segment)) as source:
                stream = source.streams.video[0]
                if target is None:
                    target = output.add_stream_from_template(stream)
                for packet in source.demux(stream):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.stream = target
                    output.mux(packet)
    return out


class SegmentWriter:
    """Collects chunks of frames and cuts them into numbered segments of ``segment_frames`` frames."""

    def __init__(self, directory: str | Path, fps: int, segment_frames: int) -> None:
        if segment_frames < 1:
            raise ValueError(f"segment_frames must be >= 1, got {segment_frames}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fps, self.segment_frames = fps, segment_frames
        self.frames = 0  # frames written into segments
        self._pending: list[np.ndarray] = []
        self._segments: list[Path] = []

    @property
    def segments(self) -> list[Path]:
        """Finished segments, oldest first (a copy: safe to read while another thread writes)."""
        return list(self._segments)

    def add(self, frames: np.ndarray) -> Path | None:
        """Buffer a chunk; return the path of a segment once enough frames have arrived."""
        self._pending.append(frames)
        if sum(len(f) for f in self._pending) < self.segment_frames:
            return None
        return self.flush()

    def flush(self) -> Path | None:
        """Encode whatever is buffered as a (possibly short) segment; None when nothing is buffered."""
        if not self._pending:
            return None
        frames = np.concatenate(self._pending)
        self._pending = []
        path = encode_segment(frames, self.directory / f"segment-{len(self._segments):05d}.ts", self.fps, self.frames)
        self.frames += len(frames)
        self._segments.append(path)
        return path

    def export_mp4(self, out: str | Path) -> Path:
        """The whole stream so far as one mp4."""
        return join_segments(self.segments, out)
