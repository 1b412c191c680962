"""The metric contract: one `MetricSpec` in `eval.registry.METRICS` puts a metric in the CLI, the API, the
report and the paper run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import eval
from eval import METRICS, MetricSpec, score_videos
from eval.cli import build_parser, main
from eval.paper.run import frame_metrics
from eval.report import direction, make_report
from eval_helpers import moving_square_video, write_video


def mean_brightness(video: np.ndarray) -> float:
    """The toy metric: the mean pixel value (0-255)."""
    return float(np.asarray(video).mean())


@pytest.fixture
def toy_metric():
    spec = METRICS.register(MetricSpec("mean_brightness", "mean pixel value (0-255)",
                                       f"{__name__}:mean_brightness", better="lower"))
    yield spec
    METRICS.unregister(spec.name)
    vars(eval).pop("mean_brightness", None)  # the API caches a name once asked for


def test_a_registered_metric_is_a_command_an_api_name_a_report_direction_and_a_paper_column(toy_metric, tmp_path):
    assert "mean-brightness" in build_parser()._subparsers._group_actions[0].choices
    assert eval.mean_brightness is mean_brightness and "mean_brightness" in dir(eval)
    assert direction("mean_brightness") == "lower is better"
    assert toy_metric in frame_metrics()

    videos = tmp_path / "videos"
    videos.mkdir()
    bright = np.full((4, 16, 16, 3), 200, np.uint8)
    write_video(videos / "a.mp4", moving_square_video(8))
    write_video(videos / "b.mp4", bright)
    out = tmp_path / "toy.json"
    assert main(["mean-brightness", str(videos), "--out", str(out), "--per-video", str(tmp_path / "pv.csv"),
                 "--no-progress", "--name", "toy"]) == 0
    per_video = pd.read_csv(tmp_path / "pv.csv")
    assert list(per_video.columns[:2]) == ["video", "mean_brightness"]
    assert per_video["mean_brightness"].iloc[1] == pytest.approx(200, abs=2)  # lossy encoding

    table = make_report([out], tmp_path / "report")
    assert list(table["metric"]) == ["mean_brightness"]
    assert "mean_brightness: lower is better" in (tmp_path / "report" / "report.md").read_text()


def test_registering_a_taken_name_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        METRICS.register(MetricSpec("seam_score", "again", ".consistency:seam_score"))


def test_the_registry_describes_every_metric_the_commands_report():
    commands = METRICS.commands()
    assert [s.option for s in commands["consistency"]] == ["subject", "background", "flicker", "seam", "inside", "frozen"]
    assert METRICS.lookup("fvd_videomae").name == "fvd" and METRICS.lookup("adherence_color").name == "adherence"
    assert all(callable(spec.function) for spec in METRICS)


def test_frame_only_metrics_score_videos_and_skip_what_they_cannot_score():
    video = moving_square_video(8)
    table = score_videos([METRICS["temporal_flicker"], METRICS["seam_score"]], [video, video], chunk_sizes=[4, None])
    assert table["temporal_flicker"].iloc[0] == pytest.approx(eval.temporal_flicker(video))
    assert table["seam_score"].iloc[0] == pytest.approx(eval.seam_score(video, 4))
    assert np.isnan(table["seam_score"].iloc[1])  # no chunk size known


def test_score_videos_reads_paths_and_names_the_video_it_cannot_score(tmp_path):
    short = write_video(tmp_path / "short.mp4", moving_square_video(2))
    with pytest.raises(ValueError, match="short.mp4: motion smoothness needs at least 3 frames"):
        score_videos([METRICS["motion_smoothness_linear"]], [short])
    assert len(score_videos([], [short, short])) == 2  # no metric: one empty row per video
