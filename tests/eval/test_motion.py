"""Motion figures on videos whose answer is known: a render of the domain's generator, the same video
held still for each chunk (a slideshow), and a stream that freezes after 30 seconds."""

import numpy as np
import pytest

from eval import frozen_share, inside_chunk_share, seam_score, window_scores
from streamdit import data
from streamdit.data.domain import ObjectSpec, VideoSpec

FPS = 16


def generator_video(frames: int, speed: float = 0.01) -> np.ndarray:
    spec = VideoSpec((ObjectSpec("red", "square", "right", 0.3, 0.5, 0.12, speed),), "gray", 0.5, 64)
    return data.render(spec, frames)


def slideshow(video: np.ndarray, chunk: int) -> np.ndarray:
    """Each chunk shows its first frame `chunk` times: the picture changes only at chunk borders."""
    return np.repeat(video[::chunk], chunk, axis=0)[:len(video)]


def test_generator_video_changes_evenly_inside_and_across_chunks():
    video = generator_video(64)
    assert seam_score(video, 4) == pytest.approx(1.0, abs=0.15)
    assert inside_chunk_share(video, 4) == pytest.approx(0.75, abs=0.04)


def test_a_slideshow_has_no_change_inside_chunks():
    video = slideshow(generator_video(64), 4)
    assert inside_chunk_share(video, 4) == 0.0
    assert frozen_share(video) == pytest.approx(0.75, abs=0.02)  # 3 of every 4 pairs repeat a frame
    smooth = generator_video(64)
    assert seam_score(video, 4) > 5 * seam_score(smooth, 4)


def test_inside_share_counts_the_change_of_each_pair():
    video = np.zeros((9, 2, 2, 3), np.uint8)
    for i in range(1, 9):
        video[i:] += 10  # every pair changes by 10
    video[4:] += 30  # the pair (3, 4) crosses the first chunk border and changes by 40
    # pairs inside chunks of 4: (0,1) (1,2) (2,3) (4,5) (5,6) (6,7) = 60; borders: (3,4) = 40, (7,8) = 10
    assert inside_chunk_share(video, 4) == pytest.approx(60 / 110)


def test_a_still_video_scores_as_smooth():
    still = np.full((17, 8, 8, 3), 100, np.uint8)  # 16 pairs, 4 of them across chunk borders
    assert inside_chunk_share(still, 4) == pytest.approx(0.75)
    assert frozen_share(still) == 1.0


def test_inside_share_rejects_a_video_without_a_chunk_border():
    with pytest.raises(ValueError, match="no chunk boundary"):
        inside_chunk_share(generator_video(4), 4)
    with pytest.raises(ValueError, match="chunk_size must be >= 2"):
        inside_chunk_share(generator_video(8), 1)


def test_drift_windows_show_a_stream_that_freezes_after_30_seconds():
    seconds, window = 60, 15 * FPS
    video = generator_video(seconds * FPS, speed=0.004)
    video[30 * FPS:] = video[30 * FPS - 1]  # frozen from 30 s on
    prompt = "a red square moving right on a gray background"
    table = window_scores(video, [prompt] * 4, chunk_size=4, window=window, fps=FPS)
    assert list(table["start_s"]) == [0, 15, 30, 45]
    assert list(table["adherence"]) == [1.0, 1.0, 0.0, 0.0]  # a still square moves in no direction
    assert list(table["frozen_share"]) == [0.0, 0.0, 1.0, 1.0]
    assert table["seam_score"].iloc[:2].tolist() == pytest.approx([1.0, 1.0], abs=0.15)


def test_drift_windows_score_each_window_against_its_own_prompt():
    window = 8 * FPS
    video = generator_video(2 * window, speed=0.004)
    right = "a red square moving right on a gray background"
    left = "a red square moving left on a gray background"
    table = window_scores(video, [right, left], chunk_size=4, window=window, skip=[0, 16], fps=FPS)
    assert list(table["adherence"]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="one prompt per window"):
        window_scores(video, [right], chunk_size=4, window=window)


def test_consistency_command_reports_inside_and_frozen_share(tmp_path, capsys):
    import pandas as pd

    from eval.cli import main
    from streamdit.video_io import write_video

    folder = tmp_path / "videos"
    smooth = generator_video(48)
    write_video(folder / "smooth.mp4", smooth, FPS, crf=0)  # lossless: the codec keeps every small change
    write_video(folder / "slideshow.mp4", slideshow(smooth, 4), FPS, crf=0)
    out = tmp_path / "scores.json"
    per_video = tmp_path / "per_video.csv"
    assert main(["consistency", str(folder), "--metrics", "seam,inside,frozen", "--chunk-size", "4",
                 "--out", str(out), "--per-video", str(per_video), "--no-progress"]) == 0
    rows = pd.read_csv(per_video).set_index("video")
    assert rows.loc["smooth.mp4", "inside_share"] == pytest.approx(0.75, abs=0.04)
    assert rows.loc["slideshow.mp4", "inside_share"] < 0.05
    assert rows.loc["smooth.mp4", "frozen_share"] == 0 and rows.loc["slideshow.mp4", "frozen_share"] > 0.7
    summary = out.read_text()
    assert '"inside_share"' in summary and '"frozen_share"' in summary
