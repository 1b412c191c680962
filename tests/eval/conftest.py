"""Fixtures for the eval tests."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the test modules import eval_helpers

from eval_helpers import moving_square_video, write_frame_folder, write_video


@pytest.fixture
def video_dir(tmp_path: Path) -> Path:
    """Three small videos: an mp4, a gif and a frame folder (names a, b, c)."""
    d = tmp_path / "videos"
    d.mkdir()
    write_video(d / "a.mp4", moving_square_video(color=(255, 0, 0), seed=1))
    write_video(d / "b.gif", moving_square_video(color=(0, 255, 0), seed=2))
    write_frame_folder(d / "c", moving_square_video(color=(0, 0, 255), seed=3))
    return d
