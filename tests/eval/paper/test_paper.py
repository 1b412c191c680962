"""`python -m eval paper` end to end on small random pipelines (plumbing), and its comparison logic."""

from __future__ import annotations

from pathlib import Path

import json
import shutil
from types import SimpleNamespace

import av
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from eval.ae_features import AutoencoderFeatures
from eval.cli import main
from eval.paper.run import drift_scores, paper_systems, switch_scores
from eval.paper.report import claims_section, compare
from eval.results import COLUMNS
from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.data import v2
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig

SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, patch_size=(1, 1, 1), hidden_size=32, depth=1,
             num_heads=2, window_size=(4, 4, 4))
SYSTEMS = ["teacher", "single-scheme", "student", "fifo", "chunk-ar"]


def save_systems(tmp_path_factory, text_encoder, world: str, patch_size: int, **config) -> dict[str, str]:
    """Teacher, ablation and student directories of `world`: tiny random DiTs (4x4 latents) on a random 4x-time
    video autoencoder that folds `patch_size` pixels (frames of 16 * patch_size pixels a side)."""
    dirs = {}
    for i, (name, sampler) in enumerate((("teacher", dict(chunk_size=2, micro_steps=2, guidance=2.0)),
                                         ("single-scheme", dict(chunk_size=2, micro_steps=2, guidance=2.0)),
                                         ("student", dict(chunk_size=2, micro_steps=1)))):
        autoencoder = VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16), patch_size=patch_size)).eval()
        pipe = StreamDiTPipeline.from_config("tiny", autoencoder=autoencoder, text_encoder=text_encoder,
                                             config=PipelineConfig(**sampler, world=world, **config), seed=i, **SMALL)
        g = torch.Generator().manual_seed(i)  # randomise the zero-initialised gates: outputs depend on inputs
        with torch.no_grad():
            for param in pipe.model.parameters():
                param.add_(torch.randn(param.shape, generator=g) * 0.05)
        directory = tmp_path_factory.mktemp(f"{world}-{name}")
        pipe.save_pretrained(directory)
        dirs[name] = str(directory)
    return dirs


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, text_encoder) -> dict[str, str]:
    """World-v1 systems at 32x32."""
    return save_systems(tmp_path_factory, text_encoder, "v1", 2)


@pytest.fixture(scope="module")
def v2_model_dirs(tmp_path_factory, text_encoder) -> dict[str, str]:
    """World-v2 systems at 128x128 (where v2's detector reads its renders), reading 64 tokens like v2's models."""
    return save_systems(tmp_path_factory, text_encoder, "v2", 8, text_max_tokens=64)


def test_paper_quick_path_writes_table_csvs_plots_and_study_plumbing_random_weights(model_dirs, tmp_path) -> None:
    from human_eval.study import load_study

    out = tmp_path / "results"
    argv = ["paper", "--quick", "--prompts", "2", "--frames", "16", "--streams", "2", "--drift-seconds", "60", "--out", str(out),
            "--teacher", model_dirs["teacher"], "--single-scheme", model_dirs["single-scheme"],
            "--student", model_dirs["student"], "--device", "cpu", "--weights-dir", str(tmp_path / "no-weights"),
            "--no-progress"]
    assert main(argv) == 0

    table = (out / "paper_table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("|")]
    header = rows[0]
    summary_rows = rows[:rows.index(next(r for r in rows[1:] if r.startswith("| system | prompt_changes")))]
    assert len(summary_rows) == 2 + 8 and {line.count("|") for line in summary_rows} == {header.count("|")}
    # fifo streams chunks of 4 frames (c = 1 latent frame of 4), the others of 8: a ground-truth row at each length
    assert [r.split("|")[1].strip() for r in summary_rows[2:]] == SYSTEMS + ["ground-truth", "ground-truth-c4",
                                                                             "ground-truth-c8"]
    for column in ("fd_ae", "adherence", "temporal_flicker", "seam_score", "inside_share", "switch_before",
                   "switch_after", "clip_score", "motion_smoothness_linear", "dynamic_degree"):
        assert f" {column} |" in header
    assert table.count("n/a: no CLIP weights") == 8 and table.count("n/a: no RAFT weights") == 8 and "when no I3D weights are found" in table
    assert "mixed training beats a single scheme" in table and "paper_metrics.png" in table
    assert "world v1 (synthetic shapes)" in table and table.count("colour, shape and direction") == 2  # header, note

    summary = pd.read_csv(out / "paper_summary.csv")
    assert list(summary.columns) == COLUMNS
    for system in SYSTEMS:
        metrics = set(summary.loc[summary["system"] == system, "metric"])
        assert {"fd_ae", "adherence", "temporal_flicker", "seam_score", "switch_before", "switch_after", "gen_fps"} <= metrics
    means = summary[summary["metric"].isin(["adherence", "switch_before", "switch_after", "seam_score"])]
    assert (means["ci_low"] <= means["value"] + 1e-9).all() and (means["value"] <= means["ci_high"] + 1e-9).all()
    fd = summary.loc[summary["metric"] == "fd_ae", "value"]
    assert len(fd) == 5 and (fd > 1e-6).all() and fd.nunique() == 5  # random models, far from the truth, each its own
    per_video = pd.read_csv(out / "paper_per_video.csv")
    assert len(per_video) == 2 * 8 and per_video.groupby("system").size().eq(2).all()
    flicker = per_video.groupby("system", sort=False)["temporal_flicker"].apply(tuple)
    assert len(set(flicker.drop(["ground-truth-c4", "ground-truth-c8"]))) == 6  # each system (the baselines: each sampler) made different videos
    smoothness = per_video.set_index("system")["motion_smoothness_linear"]
    assert smoothness["ground-truth"].min() > 0.95  # the domain's objects move linearly: interpolation finds them
    truth = per_video[per_video["system"].str.startswith("ground-truth-c")]
    assert truth["seam_score"].between(0.7, 1.4).all() and truth["inside_share"].between(0.75, 0.95).all()
    assert summary.loc[summary["system"] == "ground-truth-c8", "metric"].tolist() == ["seam_score", "inside_share"]
    drift = pd.read_csv(out / "paper_drift.csv")
    assert drift.groupby(["system", "prompt_changes"]).size().to_dict() == {
        ("student", False): 4, ("student", True): 4, ("teacher", False): 4, ("teacher", True): 4}
    teacher = drift[drift["system"] == "teacher"]
    assert list(teacher["start_s"]) == [0, 15, 30, 45] * 2
    steady, changing = teacher["prompt"].iloc[:4].tolist(), teacher["prompt"].iloc[4:].tolist()
    assert len(set(steady)) == 1 and changing[0] == changing[1] == steady[0] != changing[2] == changing[3]
    assert drift["seam_score"].gt(0).all() and drift["inside_share"].between(0, 1).all()
    switches = pd.read_csv(out / "paper_switch.csv")
    assert len(switches) == 2 * 5 and (switches["prompt_before"] != switches["prompt_after"]).all()
    assert (switches["frames"] == 2 * 16 + switches["settle_frames"]).all()  # 16 frames before, settling, 16 after
    for column in ("switch_before", "switch_after"):  # the table's figures are the per-stream means
        rows = summary[summary["metric"] == column].set_index("system")["value"]
        assert rows.to_dict() == pytest.approx(switches.groupby("system")[column].mean().to_dict(), abs=1e-12)
    for png in ("paper_metrics.png", "paper_switch.png", "paper_drift.png"):
        with Image.open(out / png) as image:
            assert image.format == "PNG" and min(image.size) > 100

    study = load_study(out / "study")  # what `python -m human_eval serve --study` loads
    assert len(study.pairs) == 2 * 10
    assert {p.system_a for p in study.pairs} | {p.system_b for p in study.pairs} == set(SYSTEMS)
    assert "motion_completeness" in study.question_ids
    for pair in study.pairs[:3]:
        with av.open(str(study.video_path(pair.video_a))) as container:
            assert sum(1 for _ in container.decode(video=0)) == 16


def test_missing_model_directory_is_a_clear_error(model_dirs, tmp_path, capsys) -> None:
    argv = ["paper", "--quick", "--out", str(tmp_path), "--teacher", model_dirs["teacher"],
            "--single-scheme", str(tmp_path / "nowhere"), "--student", model_dirs["student"]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "make train-bundled" in err and "--single-scheme" in err


def test_fvd_asked_for_without_i3d_weights_is_a_clear_error(model_dirs, tmp_path, capsys) -> None:
    argv = ["paper", "--quick", "--out", str(tmp_path / "out"), "--teacher", model_dirs["teacher"],
            "--single-scheme", model_dirs["single-scheme"], "--student", model_dirs["student"],
            "--fd-features", "i3d", "--weights-dir", str(tmp_path / "no-weights"), "--device", "cpu"]
    assert main(argv) == 2
    assert "i3d_torchscript.pt" in capsys.readouterr().err


def test_compare_calls_a_difference_only_when_intervals_are_disjoint() -> None:
    table = pd.DataFrame([
        {"system": "a", "metric": "adherence", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9, "n": 10},
        {"system": "b", "metric": "adherence", "value": 0.4, "ci_low": 0.3, "ci_high": 0.5, "n": 10},
        {"system": "c", "metric": "adherence", "value": 0.6, "ci_low": 0.45, "ci_high": 0.75, "n": 10},
        {"system": "a", "metric": "seam_score", "value": 1.1, "ci_low": 1.0, "ci_high": 1.2, "n": 10},
        {"system": "b", "metric": "seam_score", "value": 2.0, "ci_low": 1.8, "ci_high": 2.2, "n": 10},
        {"system": "a", "metric": "fd_ae", "value": 3.0, "ci_low": np.nan, "ci_high": np.nan, "n": 10},
        {"system": "b", "metric": "fd_ae", "value": 5.0, "ci_low": np.nan, "ci_high": np.nan, "n": 10},
    ])
    assert compare(table, "a", "b", "adherence") == "adherence: a 0.8 vs b 0.4: a better (intervals disjoint)"
    assert compare(table, "b", "a", "adherence").endswith("b worse (intervals disjoint)")
    assert compare(table, "a", "c", "adherence").endswith("no clear difference (intervals overlap)")
    assert compare(table, "a", "b", "seam_score").endswith("a better (intervals disjoint)")  # lower is better
    assert compare(table, "b", "a", "fd_ae").endswith("b worse (no interval)")
    assert compare(table, "a", "a", "fd_ae").endswith("equal")
    assert compare(table, "c", "a", "seam_score") is None


def test_a_same_budget_teacher_is_a_sixth_system_and_the_ablation_claim_uses_it() -> None:
    systems = paper_systems(Path("teacher"), Path("single"), Path("student"), same_budget_teacher=Path("teacher-5000"))
    assert [s.name for s in systems] == SYSTEMS + ["teacher-same-budget"]
    assert systems[-1].directory == Path("teacher-5000") and not systems[-1].sampler
    assert [s.name for s in paper_systems(Path("teacher"), Path("single"), Path("student"))] == SYSTEMS
    table = pd.DataFrame([
        {"system": "teacher-same-budget", "metric": "seam_score", "value": 2.0, "ci_low": 1.5, "ci_high": 2.5, "n": 9},
        {"system": "single-scheme", "metric": "seam_score", "value": 9.0, "ci_low": 8.0, "ci_high": 10.0, "n": 9},
    ])
    claims = claims_section(table)
    assert "**mixed training beats a single scheme at the same budget** (teacher-same-budget vs single-scheme)" in claims
    assert "teacher-same-budget better (intervals disjoint)" in claims
    assert "(teacher vs single-scheme)" not in claims  # no row for the shipped teacher: its claim is left out


def test_autoencoder_features_are_the_pooled_latents_and_their_mean_change_random_weights() -> None:
    ae = VideoAutoencoder(VideoAutoencoderConfig(widths=(8, 16))).eval()
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8) for _ in range(3)]
    feats = AutoencoderFeatures(ae, batch_size=2).encode_videos(videos)
    with torch.no_grad():  # the reference: (C, t, h, w) latents averaged over time and 2x2 blocks, then motion
        z = ae.encode(torch.as_tensor(np.stack(videos)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1).numpy()
    n, c, t, h, w = z.shape
    where = z.reshape(n, c, t, 2, h // 2, 2, w // 2).mean(axis=(2, 4, 6)).reshape(n, 4 * c)
    motion = np.abs(np.diff(z, axis=2)).mean(axis=(2, 3, 4))
    assert feats.shape == (3, 5 * 8) and t > 1
    np.testing.assert_allclose(feats, np.concatenate([where, motion], axis=1), rtol=1e-5, atol=1e-6)
    still = AutoencoderFeatures(ae).encode_videos([np.repeat(videos[0][:1], 8, axis=0)])
    assert np.allclose(still[0, 4 * 8:], 0.0)  # a still video has no latent motion


def test_drift_shorter_than_a_window_is_a_clear_error(model_dirs, tmp_path, capsys) -> None:
    argv = ["paper", "--quick", "--drift-seconds", "10", "--out", str(tmp_path / "out"),
            "--teacher", model_dirs["teacher"], "--single-scheme", model_dirs["single-scheme"],
            "--student", model_dirs["student"]]
    assert main(argv) == 2
    assert "--drift-seconds must be 0" in capsys.readouterr().err and not (tmp_path / "out").exists()


def v2_args(dirs: dict[str, str], out: Path, weights: Path) -> list[str]:
    return ["paper", "--quick", "--prompts", "2", "--frames", "24", "--streams", "1", "--drift-seconds", "15",
            "--out", str(out), "--teacher", dirs["teacher"], "--single-scheme", dirs["single-scheme"],
            "--student", dirs["student"], "--device", "cpu", "--weights-dir", str(weights), "--no-progress"]


def test_paper_on_world_v2_systems_uses_v2_prompts_renders_and_detector_plumbing_random_weights(v2_model_dirs,
                                                                                                tmp_path) -> None:
    out = tmp_path / "results"
    assert main(v2_args(v2_model_dirs, out, tmp_path / "no-weights")) == 0  # 24 frames: v2's detector needs 24

    table = (out / "paper_table.md").read_text()
    assert "world v2 (256x256 scenes)" in table and "at 128x128" in table
    assert table.count("colour, shape, motion, size, speed, background and camera") == 2  # the header and the note
    assert "synthetic shapes" not in table and "colour, shape and direction" not in table
    per_video = pd.read_csv(out / "paper_per_video.csv")
    truth = per_video[per_video["system"] == "ground-truth"]
    items = v2.evaluation_set("heldout", 2, seed=0, resolution=128)  # the held-out items of world v2
    assert truth["prompt"].tolist() == [text for _, text in items]
    assert {"motion", "size", "speed", "background", "camera"} <= set(per_video.columns)  # v2's verdicts
    assert truth["match"].tolist() == [1.0, 1.0]  # v2's detector reads v2's renders of v2's prompts
    summary = pd.read_csv(out / "paper_summary.csv").set_index(["system", "metric"])
    assert summary.loc[("ground-truth", "adherence"), "value"] == 1.0
    switches = pd.read_csv(out / "paper_switch.csv")
    assert len(switches) == 5
    for before, after in zip(switches["prompt_before"], switches["prompt_after"]):
        assert v2.parse_scene(before).objects != v2.parse_scene(after).objects  # an object changed
    drift = pd.read_csv(out / "paper_drift.csv")
    assert len(drift) == 2 * 2 and all(v2.parse_scene(prompt).objects for prompt in drift["prompt"])
    assert v2.parse_scene(drift["prompt"].iloc[0]).background is not None  # a v2 caption names its background


class RenderedStream:
    """A stream of world v2's own renders: `videos[prompt]` of its current prompt, `chunk` frames at a time."""

    def __init__(self, videos: dict[str, np.ndarray], prompt: str, chunk: int) -> None:
        self.videos, self.prompt, self.chunk = videos, prompt, chunk

    def __enter__(self) -> "RenderedStream":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self):
        for start in range(0, len(next(iter(self.videos.values()))), self.chunk):
            yield self.videos[self.prompt][start:start + self.chunk]

    def set_prompt(self, prompt: str) -> None:
        self.prompt = prompt


def rendered_pipe(videos: dict[str, np.ndarray], fps: int) -> SimpleNamespace:
    """A stand-in world-v2 pipeline that streams the renders (the detector's ceiling): 8 frames a chunk, 40 to settle."""
    return SimpleNamespace(config=SimpleNamespace(fps=fps, world="v2"), frames_per_chunk=8,
                           model=SimpleNamespace(config=SimpleNamespace(buffer_frames=4)),
                           autoencoder=SimpleNamespace(temporal_compression=4),
                           stream=lambda prompt, seed: RenderedStream(videos, prompt, 8))


def test_switch_and_drift_read_a_stream_of_v2_renders_with_the_v2_detector() -> None:
    fps, seconds = 8, 60  # windows of 15 s = 120 frames, a prompt change every 30 s
    items = v2.evaluation_set("heldout", 3, seed=1, resolution=128)
    videos = {text: v2.render(spec, fps * seconds) for spec, text in items}
    prompts = list(videos)
    pipe = rendered_pipe(videos, fps)

    rows = switch_scores("renders", pipe, [(prompts[0], prompts[1]), (prompts[1], prompts[2])], 24, 0, False)
    assert [(row["switch_before"], row["switch_after"]) for row in rows] == [(True, True)] * 2
    assert [row["settle_frames"] for row in rows] == [4 * 4 + 3 * 8] * 2
    drift = drift_scores("renders", pipe, prompts[:2], seconds, 0, False)
    assert drift["prompt"].tolist() == [prompts[0]] * 4 + [prompts[0]] * 2 + [prompts[1]] * 2
    assert drift["adherence"].tolist() == [1.0] * 8


def test_systems_of_different_worlds_are_a_clear_error(v2_model_dirs, tmp_path, capsys) -> None:
    dirs = dict(v2_model_dirs, student=str(tmp_path / "v1-student"))
    shutil.copytree(v2_model_dirs["student"], dirs["student"])
    config = Path(dirs["student"]) / "pipeline.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "world": "v1"}))
    out = tmp_path / "results"
    assert main(v2_args(dirs, out, tmp_path / "no-weights")) == 2
    err = capsys.readouterr().err
    assert "different synthetic worlds" in err and "teacher: v2" in err and "student: v1" in err
    assert "fifo: v2" in err and not out.exists()  # refused before anything was generated
