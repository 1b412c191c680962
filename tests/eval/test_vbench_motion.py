"""VBench dynamic degree and motion smoothness: exact answers on videos whose flow / interpolation is
known, and the RAFT path end to end with random weights of torchvision's RAFT-large (plumbing only)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.models.optical_flow import raft_large

from eval import DynamicDegree, MotionSmoothness, RAFTFlow, dynamic_degree, motion_smoothness
from eval.cli import main
from eval.dynamic_degree import (flows_move, moves, top_flow_magnitude, vbench_frame_interval, vbench_thresholds,
                                 _sampled)
from eval_helpers import write_frame_folder, write_video


def translating_square(frames: int, step: int, size: int = 256, side: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
    """A textured square moving right `step` px per frame over a black background, and its true flow:
    (step, 0) on the square's pixels of the first frame of each pair, 0 elsewhere."""
    rng = np.random.default_rng(0)
    texture = rng.integers(50, 255, (side, side, 3), dtype=np.uint8)
    video = np.zeros((frames, size, size, 3), dtype=np.uint8)
    flows = []
    for t in range(frames):
        video[t, 40:40 + side, 10 + t * step:10 + t * step + side] = texture
        if t < frames - 1:
            flow = np.zeros((2, size, size))
            flow[0, 40:40 + side, 10 + t * step:10 + t * step + side] = step
            flows.append(flow)
    return video, flows


def test_vbench_thresholds_and_frame_interval():
    assert vbench_thresholds(256, 256, 16) == (6.0, 4)
    assert vbench_thresholds(320, 512, 8) == (7.5, 2)
    assert [vbench_frame_interval(f) for f in (24, 30, 8, 4, None)] == [3, 4, 1, 1, 1]  # VBench: fps 4 -> 0, a crash


def test_top_five_percent_flow_magnitude():
    flow = np.zeros((2, 100, 100))
    flow[:, :10] = np.array([3.0, 4.0])[:, None, None]  # 10% of pixels move by 5
    assert top_flow_magnitude(flow) == pytest.approx(5.0)
    flow[:, 2:10] = 0  # 2% move by 5: the top 5% mean is 5 * 2 / 5
    assert top_flow_magnitude(flow) == pytest.approx(2.0)


def test_check_move_counts_as_vbench():
    assert moves([7, 7, 1, 1], 6.0, 2) and not moves([7, 1, 1, 1], 6.0, 2)
    assert moves([1.0], 6.0, 0) and not moves([], 6.0, 0)  # VBench checks the count after each pair


@pytest.mark.parametrize("step, expected", [(0, False), (4, False), (8, True)])
def test_dynamic_degree_verdict_on_true_flow(step, expected):
    """256x256, 16 frames: threshold 6 px, 4 pairs needed; the square covers 6.25% of the frame, so the
    top-5% mean is exactly its speed."""
    video, flows = translating_square(16, step)
    assert flows_move(flows, 256, 256) is expected
    assert [top_flow_magnitude(f) for f in flows] == pytest.approx([float(step)] * 15)


def test_frames_taken_at_about_8_fps(tmp_path):
    video, _ = translating_square(24, 1, size=64, side=16)
    path = write_video(tmp_path / "v.mp4", video, fps=24)
    assert len(_sampled(path)) == 8  # every 3rd frame
    write_frame_folder(tmp_path / "frames", video)
    assert len(_sampled(tmp_path / "frames")) == 24  # frame folders: every frame, as VBench


@pytest.fixture(scope="module")
def raft_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("raft") / "random_raft_large.pth"
    torch.save(raft_large(weights=None).state_dict(), path)
    return path


def test_dynamic_degree_cli_and_metric_plumbing_random_weights(raft_file, tmp_path, capsys):
    folder = tmp_path / "videos"
    for i, step in enumerate((0, 3)):
        video, _ = translating_square(4, step, size=64, side=16)
        write_frame_folder(folder / f"v{i}", video)
    assert main(["dynamic-degree", str(folder), "--raft-weights", str(raft_file), "--iters", "2", "--no-progress",
                 "--out", str(tmp_path / "dd.json"), "--per-video", str(tmp_path / "pv.csv")]) == 0
    row = json.loads((tmp_path / "dd.json").read_text())[0]
    assert row["metric"] == "dynamic_degree" and row["weights"] == "random_raft_large.pth" and row["n"] == 2
    assert "upsampled to 128" in row["preprocessing"]
    per_video = pd.read_csv(tmp_path / "pv.csv")
    assert row["value"] == pytest.approx(per_video["moves"].mean())
    model = RAFTFlow.load(raft_file, iters=2)
    flows = model.flows(translating_square(4, 3, size=64, side=16)[0])
    assert len(flows) == 3 and flows[0].shape == (2, 128, 128) and all(torch.isfinite(f).all() for f in flows)
    videos = [folder / "v0", folder / "v1"]
    metric = DynamicDegree(model)
    metric.update(videos[:1])
    metric.update(videos[1:])
    assert float(metric.compute()) == pytest.approx(dynamic_degree(videos, model).value) == pytest.approx(row["value"])


def test_corrupt_raft_weights_is_a_one_line_error(tmp_path, capsys):
    write_frame_folder(tmp_path / "v" / "a", np.zeros((3, 8, 8, 3), dtype=np.uint8))
    (tmp_path / "raft.pth").write_text("<html>404</html>")
    assert main(["dynamic-degree", str(tmp_path / "v"), "--raft-weights", str(tmp_path / "raft.pth")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a usable raft weights file" in err


def gray(values, size=32) -> np.ndarray:
    return np.stack([np.full((size, size, 3), v, dtype=np.uint8) for v in values])


def test_motion_smoothness_known_answers():
    assert motion_smoothness(gray([9] * 7)) == 1.0  # static
    assert motion_smoothness(gray([0, 10, 20, 30, 40])) == 1.0  # a linear fade is predicted exactly
    assert motion_smoothness(gray([0, 7, 15])) == 1.0  # the middle rounds down, as VBench's uint8 cast
    assert motion_smoothness(gray([0, 100, 0, 100, 0])) == pytest.approx(155 / 255)  # flicker: odd frames missed
    assert motion_smoothness(gray([0, 10, 20, 30, 40, 99])) == 1.0  # a trailing odd frame is not scored
    # an 8x8 square (200 on 100) moving 1 px per frame: the mean of its positions 2 px apart misses it
    # by 50 in 4 columns of 8 rows
    video = gray([100] * 5)
    for t in range(5):
        video[t, 4:12, 4 + t:12 + t] = 200
    assert motion_smoothness(video) == pytest.approx((255 - 4 * 8 * 50 / 1024) / 255)
    with pytest.raises(ValueError, match="at least 3 frames"):
        motion_smoothness(gray([0, 1]))


def test_motion_smoothness_cli_says_which_interpolation(tmp_path, capsys):
    write_frame_folder(tmp_path / "v" / "fade", gray([0, 10, 20, 30, 40]))
    write_frame_folder(tmp_path / "v" / "flicker", gray([0, 100, 0, 100, 0]))
    assert main(["motion-smoothness", str(tmp_path / "v"), "--out", str(tmp_path / "ms.csv"), "--no-progress"]) == 0
    assert "AMT-S" in capsys.readouterr().err
    row = pd.read_csv(tmp_path / "ms.csv").iloc[0]
    assert row["metric"] == "motion_smoothness_linear" and row["value"] == pytest.approx((1 + 155 / 255) / 2)
    metric = MotionSmoothness()
    metric.update([tmp_path / "v" / "fade", tmp_path / "v" / "flicker"])
    assert float(metric.compute()) == pytest.approx(row["value"])


def test_a_file_under_the_pinned_name_with_other_bytes_is_refused(raft_file, tmp_path):
    """torchvision's file name carries the first 8 hex digits of its SHA-256: random weights saved under
    that name are not the published file."""
    from eval import WeightsLoadError

    impostor = tmp_path / "raft_large_C_T_V1-22a6c225.pth"
    impostor.write_bytes(raft_file.read_bytes())
    with pytest.raises(WeightsLoadError, match="is not the pinned 22a6c225"):
        RAFTFlow.load(impostor)
