"""`python -m streamdit` end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from small_models import constant_velocity_pipeline, randomise  # on the path via tests/streamdit/conftest.py

from streamdit import PipelineConfig, StreamDiTPipeline
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.cli import build_parser, main
from streamdit.video_io import read_video, write_video

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "streamdit", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_generate_writes_a_playable_mp4_with_a_random_tiny_model(tmp_path) -> None:
    out = tmp_path / "x.mp4"
    result = run_cli("generate", "--prompt", "a red circle moving left", "--seconds", "2", "--out", str(out),
                     "--random-init", "tiny", "--device", "cpu", "--switch", "1=a blue square moving up")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 16
    assert len(frames) == 32 and frames[0].shape == (128, 128, 3)
    meta = json.loads(Path(str(out) + ".json").read_text())
    assert meta["chunk_frames"] == 2 and meta["switches"] == [[1.0, "a blue square moving up"]]


SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, patch_size=(1, 1, 1), hidden_size=32, depth=1,
             num_heads=2, window_size=(4, 4, 4))


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, text_encoder) -> dict[str, Path]:
    """Saved 32x32 pipelines: ``random`` (its output depends on the prompt) and ``constant`` (known velocity)."""
    sampler = PipelineConfig(chunk_size=2, micro_steps=2)
    random = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=text_encoder,
                                           config=sampler, **SMALL)
    randomise(random.model)
    pipes = {"random": random,
             "constant": constant_velocity_pipeline(text_encoder, PatchAutoencoder(8), sampler, **SMALL)}
    root = tmp_path_factory.mktemp("models")
    for name, pipe in pipes.items():
        pipe.save_pretrained(root / name)
    return {name: root / name for name in pipes}


def generate(model_dir: Path, out: Path, *args: str) -> np.ndarray:
    """``generate`` in this process; the frames of the video it wrote."""
    assert main(["generate", "--model", str(model_dir), "--device", "cpu", "--out", str(out), *args]) == 0
    return read_video(out)[0]


def test_generate_switch_changes_the_video_after_the_switch_and_not_before_random_weights(model_dirs, tmp_path) -> None:
    # lossless: at crf 20, x264 sometimes coded the same frames differently from run to run in one process
    args = ("--prompt", "a red circle moving left", "--seconds", "3", "--crf", "0")
    plain = generate(model_dirs["random"], tmp_path / "plain.mp4", *args)
    switched = generate(model_dirs["random"], tmp_path / "switched.mp4", *args, "--switch", "1=a blue square moving up")
    difference = np.abs(plain.astype(int) - switched.astype(int)).mean(axis=(1, 2, 3))
    print("mean difference per frame:", np.round(difference, 1))
    assert len(plain) == len(switched) == 48
    # frames written before the switch at 1 s (16 frames) were streamed with the first prompt alone; the
    # producer runs a few chunks ahead, so the switch lands after frame 16 and by the last second for sure
    assert difference[:12].max() == 0  # the same frames, stored losslessly
    assert difference[-16:].min() > 3  # measured ~8: the last second carries the new prompt


def test_generate_input_and_strength_transform_the_input_video_known_model(model_dirs, tmp_path, text_encoder) -> None:
    clip = np.full((12, 32, 32, 3), 230, np.uint8)  # bright, so the input's weight shows in the frame means
    for i, frame in enumerate(clip):
        frame[8:16, 2 * i:2 * i + 8] = 40
    write_video(tmp_path / "in.mp4", clip, 16, crf=0)
    frames = read_video(tmp_path / "in.mp4")[0]
    out = generate(model_dirs["constant"], tmp_path / "out.mp4", "--prompt", "a red circle", "--seconds", "5",
                   "--input", str(tmp_path / "in.mp4"), "--strength", "0.3")
    assert len(out) == 12  # the stream ends with the input, before --seconds
    pipe = StreamDiTPipeline.from_pretrained(model_dirs["constant"], text_encoder=text_encoder)

    def frame_means(strength: float) -> np.ndarray:
        with pipe.stream("a red circle", seed=0, video=iter(frames), strength=strength) as stream:
            return np.concatenate(list(stream)).mean(axis=(1, 2))

    # the output holds noise that H.264 (crf 20) blurs, so frame means (kept within ~2 levels) are compared
    assert np.abs(out.mean(axis=(1, 2)) - frame_means(0.3)).max() < 5
    assert np.abs(out.mean(axis=(1, 2)) - frame_means(0.7)).max() > 20  # the default strength: ~37 away


def test_help_explains_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and "generate" in result.stdout and "bench" in result.stdout
    result = run_cli("generate", "--help")
    assert "--seconds" in result.stdout and "--switch" in result.stdout


def test_errors_are_messages_not_tracebacks(tmp_path) -> None:
    result = run_cli("generate", "--prompt", "x", "--out", str(tmp_path / "y.mp4"), "--model", str(tmp_path))
    assert result.returncode != 0 and "pipeline.json" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("generate", "--prompt", "x", "--out", "y.mp4", "--switch", "soon=blue")
    assert result.returncode == 2 and "SECONDS=PROMPT" in result.stderr
    result = run_cli("generate", "--prompt", "x", "--out", str(tmp_path / "y.mp4"), "--random-init", "tiny",
                     "--steer-strength", "1.5")
    assert result.returncode != 0 and "steer_strength must be in [0, 1]" in result.stderr and "Traceback" not in result.stderr


def test_bench_compile_takes_an_optional_torch_compile_mode() -> None:
    parse = lambda *argv: build_parser().parse_args(["bench", *argv]).compile  # noqa: E731
    assert parse() is None and parse("--compile") == "default"
    assert parse("--compile", "reduce-overhead") == "reduce-overhead"
    with pytest.raises(SystemExit):
        parse("--compile", "fastest")
