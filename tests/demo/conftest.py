"""A demo server launched as a subprocess (``python app.py``) on a free loopback port, shared by the tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from demo.bench import serve

sys.path.insert(0, str(Path(__file__).parent))  # the test modules import browser_helpers (--import-mode=importlib)
from browser_helpers import ARGS, CHROMIUM  # noqa: E402
MAX_SECONDS = 30
# Serve this pipeline directory instead of the random one, e.g. to measure the bundled student in the
# browser: STREAMDIT_DEMO_TEST_MODEL=streamdit/bundled/student pytest -s tests/demo/test_browser.py
MODEL_ENV = "STREAMDIT_DEMO_TEST_MODEL"
STUDENT_ENV = "STREAMDIT_DEMO_STUDENT"  # a pipeline to serve in place of the bundled student (e.g. an older one)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny pipeline with random weights everywhere (served with ``--model``).

    A freshly initialised model has zero-initialised adaLN-Zero gates and output layer, so its video
    does not depend on the prompt at all; filling the zero tensors with small random values keeps it
    untrained but makes the prompt matter, which the live prompt-change test needs. It predicts velocity:
    such a near-zero velocity keeps a video-to-video input visible (the webcam test looks for it), while
    an untrained x0-predicting model would output grey.
    """
    from streamdit import StreamDiTPipeline

    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).resolve()
    pipe = StreamDiTPipeline.from_config("tiny", device="cpu", prediction="velocity")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in pipe.model.parameters():
            if not param.any():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    directory = tmp_path_factory.mktemp("pipeline")
    pipe.save_pretrained(directory)
    return directory


def serve_app(options: list[str], log: Path) -> Iterator[str]:
    """Run ``python app.py --host 127.0.0.1 --port <free> --device cpu <options>``; yield its URL, then stop it."""
    try:
        with serve(["--device", "cpu", *options], log, limit_s=180) as url:
            yield url
    finally:
        print(f"\n--- app.py log (tail) ---\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``app.py --model <model_dir> --device cpu --max-streams 1`` running on 127.0.0.1."""
    log = tmp_path_factory.mktemp("server") / "app.log"
    yield from serve_app(["--model", str(model_dir), "--max-streams", "1", "--max-seconds", str(MAX_SECONDS)], log)


@pytest.fixture(scope="session")
def limited_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``app.py --model <model_dir> --device cpu --max-streams 1 --max-waiting 1``: one visitor plays, one
    waits, the next is turned away (a server of its own: the other tests' visitors never fill its line)."""
    log = tmp_path_factory.mktemp("limited-server") / "app.log"
    yield from serve_app(["--model", str(model_dir), "--max-streams", "1", "--max-waiting", "1",
                          "--max-seconds", str(MAX_SECONDS)], log)


@pytest.fixture(scope="session")
def student_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``app.py`` serving its default model, the bundled student (``STREAMDIT_DEMO_STUDENT`` overrides), with
    the default number of stream slots (3)."""
    log = tmp_path_factory.mktemp("student-server") / "app.log"
    model = ["--model", os.environ[STUDENT_ENV]] if os.environ.get(STUDENT_ENV) else []
    yield from serve_app([*model, "--max-seconds", str(MAX_SECONDS)], log)


@pytest.fixture()
def browser():
    """A headless Chromium (Debian's package), closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
