"""Prompt adherence through the synthetic domain's analytic detector (skipped if streamdit.data is absent)."""

import numpy as np
import pandas as pd
import pytest

data = pytest.importorskip("streamdit.data")

from eval import VideoLoadError, prompt_adherence  # noqa: E402
from eval.cli import main  # noqa: E402
from eval_helpers import write_frame_folder  # noqa: E402


@pytest.fixture(scope="module")
def samples() -> tuple[list[np.ndarray], list[str]]:
    rng = np.random.default_rng(0)
    specs = [data.sample_spec(rng, num_objects=1, resolution=64) for _ in range(4)]
    return [data.render(s, 12) for s in specs], [data.caption(s, rng) for s in specs]


def wrong_prompt(prompt: str) -> str:
    """The same caption with every colour replaced by one it does not name."""
    (color, *_), = data.parse_caption(prompt)
    other = next(c for c in data.COLORS if c != color and c not in prompt)
    return prompt.replace(color, other) if color in prompt else f"a {other} object"


def test_adherence_aggregates_the_detector(samples):
    videos, prompts = samples
    prompts = prompts[:2] + [wrong_prompt(p) for p in prompts[2:]]
    expected = pd.DataFrame([data.detect_adherence(v, p) for v, p in zip(videos, prompts)])
    result = prompt_adherence(videos, prompts)
    for key in ("match", "color", "shape", "direction"):
        assert result[key].value == pytest.approx(expected[key].mean())
        assert result[key].ci_low <= result[key].value <= result[key].ci_high and result[key].n == 4
    assert expected["color"].tolist()[2:] == [False, False]  # the wrong colours are seen as wrong
    with pytest.raises(VideoLoadError, match="3 prompts for 4 videos"):
        prompt_adherence(videos, prompts[:3])


def test_cli_adherence(samples, tmp_path, capsys):
    videos, prompts = samples
    for i, video in enumerate(videos):
        write_frame_folder(tmp_path / "videos" / f"s{i}", video)
    (tmp_path / "prompts.txt").write_text("\n".join(prompts))
    assert main(["adherence", str(tmp_path / "videos"), "--prompts", str(tmp_path / "prompts.txt"),
                 "--out", str(tmp_path / "adh.csv"), "--per-video", str(tmp_path / "adh_videos.csv")]) == 0
    table = pd.read_csv(tmp_path / "adh.csv").set_index("metric")
    per_video = pd.read_csv(tmp_path / "adh_videos.csv")
    assert table.loc["adherence_match", "value"] == pytest.approx(per_video["match"].mean())
    assert list(per_video["prompt"]) == prompts
    assert "adherence_color" in capsys.readouterr().out


@pytest.fixture(scope="module")
def v2_samples() -> tuple[list[np.ndarray], list[str]]:
    from dataclasses import replace

    rng = np.random.default_rng(1)
    scenes = [replace(data.v2.sample_scene(rng, num_objects=1, resolution=96, background=bg), camera="static")
              for bg in ("gray", "dots", "sand")]
    prompts = [data.v2.caption(s) for s in scenes]
    prompts[2] = prompts[2].replace(scenes[2].objects[0].shape, "cross" if scenes[2].objects[0].shape != "cross"
                                    else "star")  # one wrong shape
    return [data.v2.render(s, 24) for s in scenes], prompts


def test_v2_adherence_scores_each_attribute_over_the_videos_that_prompt_it(v2_samples):
    videos, prompts = v2_samples
    verdicts = pd.DataFrame([data.v2.detect_adherence(v, p) for v, p in zip(videos, prompts)])
    result = prompt_adherence(videos, prompts, world="v2")
    assert result["shape"].value == pytest.approx(2 / 3) and result["match"].value == pytest.approx(2 / 3)
    assert result["color"].value == 1.0 and result["motion"].value == 1.0
    assert result["camera"].n == verdicts["camera"].notna().sum() == 2  # the plain background states no camera
    assert set(result) == {"match", "color", "shape", "motion", "size", "speed", "background", "camera", "count"} - (
        set() if verdicts["speed"].notna().any() else {"speed"})


def test_cli_adherence_takes_the_world_from_the_sample_sidecars(v2_samples, tmp_path):
    import json

    videos, prompts = v2_samples
    for i, video in enumerate(videos):
        write_frame_folder(tmp_path / "videos" / f"s{i}", video)
        (tmp_path / "videos" / f"s{i}.json").write_text(json.dumps({"prompt": prompts[i], "world": "v2"}))
    (tmp_path / "prompts.txt").write_text("\n".join(prompts))
    args = ["adherence", str(tmp_path / "videos"), "--prompts", str(tmp_path / "prompts.txt")]
    assert main([*args, "--out", str(tmp_path / "adh.csv")]) == 0
    table = pd.read_csv(tmp_path / "adh.csv").set_index("metric")
    assert table.loc["adherence_motion", "value"] == 1.0 and "adherence_direction" not in table.index
    (tmp_path / "videos" / "s0.json").write_text(json.dumps({"world": "v1"}))
    with pytest.raises(VideoLoadError, match="different worlds"):
        from eval.adherence import world_of

        world_of(sorted((tmp_path / "videos").glob("s?")))
