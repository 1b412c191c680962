"""The shipped models in streamdit/bundled/: sizes, defaults, one student clip read back by the detector, and
streams whose every frame moves (no step at the autoencoder's 4-frame group borders)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eval import inside_chunk_share, seam_score
from streamdit import StreamDiTPipeline, data
from streamdit.autoencoders.base import tensor_to_video, video_to_tensor
from streamdit.data import COLORS, eval_prompts, detect_adherence
from streamdit.data.detector import color_labels
from streamdit.inference.pipeline import BUNDLED_DIR, BUNDLED_MODEL_DIR
from streamdit.loading import load_autoencoder

SHIPPED = ("teacher", "single-scheme", "student")
WORLD2_AUTOENCODER = BUNDLED_DIR / "world2" / "autoencoder"  # world v2's latent space
WORLD2_TEACHER = BUNDLED_DIR / "world2" / "teacher"
MB = 1e6
PSNR_MIN_DB = 31.0  # the shipped world-v2 autoencoder gave 33.0 dB on the four scenes of its test


def test_bundled_weights_ship_with_cards_and_under_the_size_limits() -> None:
    files = list(BUNDLED_DIR.rglob("*.safetensors"))
    assert {f.relative_to(BUNDLED_DIR).parts[0] for f in files} == {*SHIPPED, "world2"}
    assert all(f.stat().st_size < 45 * MB for f in files), {f.name: f.stat().st_size for f in files}
    assert sum(f.stat().st_size for f in files) < 80 * MB
    for name in SHIPPED:
        assert "## Training" in (BUNDLED_DIR / name / "README.md").read_text()
    for directory in (WORLD2_AUTOENCODER, WORLD2_TEACHER):
        assert "## Training" in (directory / "README.md").read_text()


def test_default_pipeline_is_the_one_step_student() -> None:
    assert BUNDLED_MODEL_DIR == BUNDLED_DIR / "student"
    sampler = json.loads((BUNDLED_MODEL_DIR / "pipeline.json").read_text())
    assert sampler["micro_steps"] == 1 and sampler["guidance"] is None


@pytest.fixture(scope="module")
def student() -> StreamDiTPipeline:
    return StreamDiTPipeline.from_pretrained()  # its text encoder as pipeline.json sets it (text_layers)


@pytest.mark.parametrize("split", ["heldout", "train"])
def test_shipped_student_draws_the_prompted_colour_and_shape(student, split) -> None:
    # The shipped student gets the colour right in every evaluation video, the direction in 85-96% and the
    # shape in 77-85% (streamdit/bundled/student/README.md): the seeded clip is held to what the model does
    # reliably. Raise this to result["match"] once the model card shows >= 85%.
    prompt = eval_prompts(split, n=1)[0]  # the first prompt of the evaluation set, seed 0 as `sample` uses
    video = student.generate(prompt, num_frames=24, seed=0)
    assert video.shape == (24, 128, 128, 3)
    result = detect_adherence(video, prompt)
    assert result["color"] and result["shape"], (prompt, result)


def test_shipped_autoencoder_reconstructs_generator_clips_without_steps() -> None:
    # The group-wise decoder without a motion head held one picture per 4 frames: seam scores 3.8-9.1
    # (median 6.3) on such clips, 36% of the change inside groups; the domain's own clips score 1.0 and 78%.
    autoencoder = load_autoencoder(BUNDLED_DIR / "student" / "autoencoder")
    clips = np.stack([video for (video, _), _ in zip(data.stream(seed=4242, num_frames=24, split="heldout"), range(4))])
    with torch.no_grad():
        decoded = tensor_to_video(autoencoder.decode(autoencoder.encode(video_to_tensor(torch.from_numpy(clips)))))
    decoded = decoded.numpy()[:, 4:]  # the first group has no group before it to take its motion from
    seams = [seam_score(video, 4) for video in decoded]
    inside = [inside_chunk_share(video, 4) for video in decoded]
    assert max(seams) <= 1.2 and min(inside) >= 0.65, (seams, inside)


def test_shipped_world2_autoencoder_gives_back_scenes_the_detector_reads_and_moves_inside_groups() -> None:
    # Its card: every attribute of 0.917 / 0.875 of 48 + 48 scenes read back from reconstructions; colour,
    # background, camera and the count of objects 1.000. Four seeded training scenes of 24 frames here.
    autoencoder = load_autoencoder(WORLD2_AUTOENCODER)
    items = data.v2.evaluation_set("train", n=4, seed=77)
    clips = np.stack([data.v2.render(spec, 24) for spec, _ in items])
    with torch.no_grad():
        decoded = tensor_to_video(autoencoder.decode(autoencoder.encode(video_to_tensor(torch.from_numpy(clips)))))
    decoded = decoded.numpy()
    mse = np.mean((decoded.astype(np.float64) - clips) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) >= PSNR_MIN_DB
    for video, (_, prompt) in zip(decoded, items):
        result = data.v2.detect_adherence(video, prompt)
        assert all(result[key] is not False for key in ("color", "background", "camera", "count")), (prompt, result)
    for video, clip in zip(decoded[:, 4:], clips[:, 4:]):  # the first group has no group before it
        assert seam_score(video, 4) <= 1.2
        assert abs(inside_chunk_share(video, 4) - inside_chunk_share(clip, 4)) <= 0.05


@pytest.fixture(scope="module")
def world2_teacher() -> StreamDiTPipeline:
    return StreamDiTPipeline.from_pretrained(WORLD2_TEACHER)


@pytest.mark.parametrize("index", [0, 1])
def test_shipped_world2_teacher_draws_the_prompted_colour_on_the_prompted_background(world2_teacher, index) -> None:
    # Its card: on 96 v1-style one-object prompts (test seeds), colour, background and the count of objects
    # (the detector follows each colour) 1.000, shape 0.010 and motion 0.021 (ragged blobs, several per
    # object): the seeded clips of the first two such prompts are held to what it does reliably.
    prompt = eval_prompts("heldout", n=2)[index]  # world v1's words, which keep their meaning in v2
    video = world2_teacher.generate(prompt, num_frames=24, seed=index)
    assert video.shape == (24, 256, 256, 3)
    result = data.v2.detect_adherence(video, prompt)
    assert all(result[key] for key in ("color", "background", "count")), (prompt, result)


def test_shipped_student_streams_without_steps(student) -> None:
    prompt = eval_prompts("heldout", n=1)[0]
    video = student.generate(prompt, num_frames=48, seed=0)[student.frames_per_chunk:]  # after the start-up chunk
    seam, inside = seam_score(video, student.frames_per_chunk), inside_chunk_share(video, student.frames_per_chunk)
    assert seam <= 1.2 and inside >= 0.65, (seam, inside)  # stepping decoder: seam 9-16, inside 0.25


def red_share(chunk: np.ndarray) -> float:
    """Share of the chunk's palette-coloured pixels that are red."""
    labels = color_labels(chunk)[0]
    return float((labels == list(COLORS).index("red")).sum() / max(1, (labels >= 0).sum()))


# (seed, chunks before the steer): at (0, 14) strength 0.86 left a red object beside the blue one for 20 chunks
@pytest.mark.parametrize(("seed", "steer_at"), [(0, 4), (1, 4), (0, 14)])
def test_a_steer_shows_in_the_chunk_after_next_with_the_shipped_strength_and_not_without(student, seed, steer_at) -> None:
    def red_shares(steer_strength: float | None) -> list[float]:
        with student.stream("a red circle moving left on a dark background", seed=seed, on_demand=True,
                            steer_strength=steer_strength) as stream:
            chunks = [next(stream) for _ in range(steer_at)]
            stream.set_prompt("a blue circle moving left on a dark background")
            chunks += [next(stream) for _ in range(6)]
        return [round(red_share(chunk), 2) for chunk in chunks[steer_at - 2:]]

    shipped, paper = red_shares(None), red_shares(0.0)
    print("red share per chunk, from two before the steer: shipped", shipped, "strength 0", paper)
    assert student.config.steer_strength > 0 and min(shipped[:2] + paper[:2]) > 0.9
    # the first chunk out after the steer fades in from the last red keyframe; from the next one on, the new colour
    assert shipped[2] < 0.9 and max(shipped[3:]) < 0.05
    assert min(paper[2:]) > 0.9  # without the refresh the frames in flight keep the old colour (10 chunks seen)
