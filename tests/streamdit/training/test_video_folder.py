"""The videofolder dataset: metadata.csv + videos decoded with PyAV, clips resized to the model's size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from streamdit.training.video_folder import VideoFolder, resize_video
from streamdit.video_io import write_video


def counter_video(frames: int, height: int = 32, width: int = 48) -> np.ndarray:
    """Frame i is uniformly grey at level 20 * i (readable back through lossy codecs)."""
    return np.stack([np.full((height, width, 3), 20 * i, np.uint8) for i in range(frames)])


def frame_index(clip: torch.Tensor) -> list[int]:
    return [round(float(f.float().mean()) / 20) for f in clip]


@pytest.fixture
def folder(tmp_path):
    write_video(tmp_path / "clips" / "long.mp4", counter_video(12), fps=8)
    frames = [Image.fromarray(f) for f in counter_video(6)]
    frames[0].save(tmp_path / "short.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    (tmp_path / "metadata.csv").write_text('file_name,text\nclips/long.mp4,"grey, getting brighter"\nshort.gif,a gif\n')
    return tmp_path


def test_clips_have_the_requested_length_size_and_caption(folder) -> None:
    data = VideoFolder(folder, num_frames=4, size=(16, 16), random_start=False)
    assert len(data) == 2
    for i, caption in enumerate(["grey, getting brighter", "a gif"]):
        clip, text = data[i]
        assert clip.dtype == torch.uint8 and clip.shape == (4, 16, 16, 3) and text == caption
        assert frame_index(clip) == [0, 1, 2, 3]  # consecutive frames from the first one


def test_random_starts_cover_the_video_and_stay_consecutive(folder) -> None:
    data = VideoFolder(folder, num_frames=4, size=(16, 16))
    torch.manual_seed(0)
    starts = {0: set(), 1: set()}
    for _ in range(60):
        for i in (0, 1):
            idx = frame_index(data[i][0])
            assert idx == list(range(idx[0], idx[0] + 4))
            starts[i].add(idx[0])
    assert starts[0] == set(range(9)) and starts[1] == set(range(3))  # mp4 knows its length, gif does not


def test_stream_shuffles_every_pass_and_is_seeded(folder) -> None:
    data = VideoFolder(folder, num_frames=2, size=(8, 8), random_start=False)
    first = [c for _, c in itertools.islice(data.stream(seed=3), 6)]
    assert sorted(first[:2]) == sorted(first[2:4]) == ["a gif", "grey, getting brighter"]
    assert first == [c for _, c in itertools.islice(data.stream(seed=3), 6)]


def test_resize_crops_the_centre_to_the_target_aspect() -> None:
    frames = np.zeros((1, 20, 40, 3), np.uint8)
    frames[:, :, 10:30] = 255  # a white centre square of 20 x 20 between black side bars
    out = resize_video(frames, (10, 10))
    assert out.shape == (1, 10, 10, 3) and out.dtype == torch.uint8 and bool((out == 255).all())
    assert torch.equal(resize_video(frames, (20, 40)), torch.from_numpy(frames))


def test_clear_errors(tmp_path, folder) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoFolder(tmp_path / "nowhere", 4, (16, 16))
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        VideoFolder(folder / "clips", 4, (16, 16))
    (folder / "metadata.csv").write_text("path,caption\nshort.gif,x\n")
    with pytest.raises(ValueError, match="file_name"):
        VideoFolder(folder, 4, (16, 16))
    (folder / "metadata.csv").write_text("file_name,text\nmissing.mp4,x\n")
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        VideoFolder(folder, 4, (16, 16))
    (folder / "broken.mp4").write_bytes(b"not a video at all" * 10)
    (folder / "metadata.csv").write_text("file_name,text\nbroken.mp4,x\nshort.gif,y\n")
    data = VideoFolder(folder, 4, (16, 16))
    with pytest.raises(ValueError, match="cannot read video .*broken.mp4"):
        data[0]
    with pytest.raises(ValueError, match="short.gif has 6 frames; clips need 8"):
        VideoFolder(folder, 8, (16, 16))[1]
