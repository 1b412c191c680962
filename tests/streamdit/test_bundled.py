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
from streamdit.data import eval_prompts, detect_adherence
from streamdit.inference.pipeline import BUNDLED_DIR, BUNDLED_MODEL_DIR
from streamdit.loading import load_autoencoder

SHIPPED = ("teacher", "single-scheme", "student")
MB = 1e6


def test_bundled_pipelines_ship_with_cards_and_weights_under_the_size_limits() -> None:
    files = [f for name in SHIPPED for f in (BUNDLED_DIR / name).rglob("*.safetensors")]
    assert {f.relative_to(BUNDLED_DIR).parts[0] for f in files} == set(SHIPPED)
    assert all(f.stat().st_size < 25 * MB for f in files), {f.name: f.stat().st_size for f in files}
    assert sum(f.stat().st_size for f in files) < 50 * MB
    for name in SHIPPED:
        assert "## Training" in (BUNDLED_DIR / name / "README.md").read_text()


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


def test_shipped_student_streams_without_steps(student) -> None:
    prompt = eval_prompts("heldout", n=1)[0]
    video = student.generate(prompt, num_frames=48, seed=0)[student.frames_per_chunk:]  # after the start-up chunk
    seam, inside = seam_score(video, student.frames_per_chunk), inside_chunk_share(video, student.frames_per_chunk)
    assert seam <= 1.2 and inside >= 0.65, (seam, inside)  # stepping decoder: seam 9-16, inside 0.25
