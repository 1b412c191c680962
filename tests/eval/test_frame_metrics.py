"""Exact answers for temporal flicker and the seam score on synthetic videos."""

import numpy as np
import pytest

import warnings

from eval import SEAM_SCORE_CAP, seam_score, temporal_flicker
from eval.consistency import feature_consistency


def constant_frames(values) -> np.ndarray:
    return np.stack([np.full((4, 5, 3), v, dtype=np.uint8) for v in values])


def test_flicker_static_and_alternating():
    assert temporal_flicker(constant_frames([7] * 6)) == 0.0
    assert temporal_flicker(constant_frames([10, 30, 10, 30, 10])) == 20.0


def test_flicker_partial_change():
    video = constant_frames([0, 0, 0])
    video[1, :2] = 255  # 2 of 4 rows change at frame 1 and back at frame 2
    assert temporal_flicker(video) == pytest.approx(255 / 2)


def test_flicker_accepts_tensor():
    import torch

    assert temporal_flicker(torch.from_numpy(constant_frames([0, 3, 9]))) == 4.5


def test_seam_score_known_jump():
    c = 4
    values = [2 * t + 10 * (t // c) for t in range(14)]  # +2 per frame, +12 across each chunk boundary
    assert seam_score(constant_frames(values), c) == pytest.approx(6.0)
    assert seam_score(constant_frames(values), 3) != pytest.approx(6.0)  # boundaries elsewhere


def test_seam_score_invisible_and_static():
    assert seam_score(constant_frames(range(0, 40, 4)), 4) == 1.0  # uniform motion: seams invisible
    assert seam_score(constant_frames([5] * 9), 4) == 1.0


def test_seam_score_change_only_at_boundaries_is_the_finite_cap():
    """A static video with one jump at a chunk boundary (what the seam score exists to catch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning either
        assert seam_score(constant_frames([0, 0, 50, 50]), 2) == SEAM_SCORE_CAP == 1000.0
        assert seam_score(constant_frames([0] * 4 + [80] * 4 + [80] * 4), 4) == SEAM_SCORE_CAP
        # a huge but finite ratio is capped too, so the score is monotone in the seam's size
        values = [0, 0, 0, 0, 255, 255, 255, 255]
        video = constant_frames(values)
        video[1, 0, 0, 0] = 1  # one sub-pixel step inside the first chunk
        assert seam_score(video, 4) == SEAM_SCORE_CAP


def test_seam_score_bad_chunk_sizes():
    with pytest.raises(ValueError, match="no chunk boundary"):
        seam_score(constant_frames(range(4)), 4)
    with pytest.raises(ValueError, match=">= 2"):
        seam_score(constant_frames(range(4)), 1)


def test_feature_consistency_vbench_formula():
    f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # frame 1: (1 + 1)/2 = 1; frame 2: (0 + 0)/2 = 0; frame 3: (max(-1,0) + max(0,0))/2 = 0
    assert feature_consistency(f) == pytest.approx(1 / 3)
    assert feature_consistency(np.ones((5, 3))) == pytest.approx(1.0)
    # cos to the first frame and to the previous one differ here: (0.6 + 0.6) / 2 and (0 + 0.8) / 2
    assert feature_consistency(np.array([[1, 0], [0.6, 0.8], [0, 1]])) == pytest.approx(0.5)
