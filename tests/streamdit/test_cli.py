"""`python -m streamdit` end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from streamdit.cli import build_parser

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


def test_bench_compile_takes_an_optional_torch_compile_mode() -> None:
    parse = lambda *argv: build_parser().parse_args(["bench", *argv]).compile  # noqa: E731
    assert parse() is None and parse("--compile") == "default"
    assert parse("--compile", "reduce-overhead") == "reduce-overhead"
    with pytest.raises(SystemExit):
        parse("--compile", "fastest")
