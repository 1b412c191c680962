"""MPEG-TS segments for the streaming player and their join into one mp4."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from demo.segments import SegmentWriter, encode_segment, join_segments
from streamdit.video_io import read_video


def moving_ramp(frames: int, height: int = 64, width: int = 96) -> np.ndarray:
    """A smooth horizontal ramp shifting right each frame (compresses well, easy to compare)."""
    x = np.arange(width)
    rows = np.stack([((x + 3 * t) * 255 // (width + 3 * frames)) for t in range(frames)]).astype(np.uint8)
    return np.repeat(rows[:, None, :, None], height, axis=1).repeat(3, axis=3)


def test_segment_timestamps_continue_from_first_frame(tmp_path: Path) -> None:
    path = encode_segment(moving_ramp(16), tmp_path / "s.ts", fps=16, first_frame=32)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert container.format.name == "mpegts" and stream.codec_context.name == "h264"
        times = [float(frame.pts * frame.time_base) for frame in container.decode(stream)]
    assert times[0] == pytest.approx(2.0, abs=1e-3) and len(times) == 16
    assert np.diff(times) == pytest.approx(1 / 16, abs=1e-3)


def test_writer_cuts_segments_and_joins_them_losslessly_in_time(tmp_path: Path) -> None:
    video = moving_ramp(40)
    writer = SegmentWriter(tmp_path, fps=16, segment_frames=16)
    produced = [writer.add(chunk) for chunk in np.split(video, 20)]  # chunks of 2 frames
    assert [p is not None for p in produced].count(True) == 2 and produced[7] is not None
    last = writer.flush()
    assert last is not None and writer.flush() is None and len(writer.segments) == 3 and writer.frames == 40
    frames, fps = read_video(writer.export_mp4(tmp_path / "all.mp4"))
    assert fps == pytest.approx(16) and frames.shape == video.shape
    assert np.abs(frames.astype(float) - video).mean() < 3  # same frames, in order, after lossy coding


def test_bad_frames_and_empty_join_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="uint8 frames"):
        encode_segment(np.zeros((4, 8, 8, 3), np.float32), tmp_path / "a.ts", 16, 0)
    with pytest.raises(ValueError, match="uint8 frames"):
        encode_segment(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "a.ts", 16, 0)
    with pytest.raises(ValueError, match="no segments"):
        join_segments([], tmp_path / "x.mp4")
