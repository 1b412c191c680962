"""Model discovery (sampler setting), device choice, per-session state and the untrained-model notice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from demo.app import build_demo
from demo.models import UNTRAINED, ModelBank, ModelOption, discover, resolve_device
from demo.session import SessionStore
from streamdit import StreamDiTPipeline


def fake_pipeline_dir(directory: Path, micro_steps: int) -> Path:
    """Just the two config files discovery reads."""
    (directory / "transformer").mkdir(parents=True)
    (directory / "pipeline.json").write_text(json.dumps({"chunk_size": 2, "micro_steps": micro_steps}))
    (directory / "transformer" / "config.json").write_text(json.dumps({"buffer_frames": 8}))
    return directory


def test_discover_lists_what_exists(tmp_path: Path) -> None:
    assert discover(bundled_dir=tmp_path) == [ModelOption(UNTRAINED, None)]
    fake_pipeline_dir(tmp_path / "teacher", micro_steps=8)
    fake_pipeline_dir(tmp_path / "student", micro_steps=1)
    assert [o.label for o in discover(bundled_dir=tmp_path)] == [
        "distilled student (4 steps per chunk)", "teacher (32 steps per chunk)"]
    assert discover(tmp_path / "teacher")[0] == ModelOption("teacher (32 steps per chunk)", tmp_path / "teacher")
    with pytest.raises(FileNotFoundError, match="not a StreamDiT pipeline directory"):
        discover(tmp_path / "nowhere")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


def test_sessions_are_separate_and_clean_up(tmp_path: Path, text_encoder) -> None:
    pipe = StreamDiTPipeline.from_config("tiny", text_encoder=text_encoder)
    store = SessionStore(tmp_path)
    a, b = store.get("tab-a"), store.get("../tab-b")
    assert a is store.get("tab-a") and a is not b and b.directory.parent == tmp_path
    assert not a.set_prompt("a blue square moving up")  # nothing runs yet
    folder, stop = a.begin()
    folder.mkdir(parents=True)
    stream = pipe.stream("a red circle moving left")
    a.attach(stream, writer=None)
    assert a.set_prompt("a blue square moving up") and stream.prompt == "a blue square moving up"
    assert not b.set_prompt("a green diamond")  # the other tab is unaffected
    store.drop("tab-a")  # tab closed while generating: stopped now, files removed when the run ends
    assert stream.stopped and stop.is_set() and folder.exists() and len(store) == 1
    a.finish()
    assert not a.directory.exists()


def test_untrained_fallback_is_announced_in_the_page(text_encoder, tmp_path: Path) -> None:
    demo = build_demo(ModelBank([ModelOption(UNTRAINED, None)], "cpu"), preview_dir=tmp_path)
    texts = [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert any(isinstance(t, str) and "Untrained model: train or bundle one" in t for t in texts)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"generate", "set_prompt", "stop", "download"} <= names


def test_cli_rejects_a_missing_model_dir_and_unavailable_cuda(tmp_path: Path, capsys) -> None:
    from demo.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tmp_path)])
    assert exit_info.value.code == 2 and "not a StreamDiT pipeline directory" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            main(["--device", "cuda"])
        assert "no CUDA device" in capsys.readouterr().err


def test_a_replaced_start_never_begins_whichever_generate_arrives_first(tmp_path: Path) -> None:
    session = SessionStore(tmp_path).get("tab")
    session.claim(1)
    session.claim(2)  # Start pressed twice: ticket 2 replaces ticket 1
    _, second_stop = session.begin(2)  # the second run began first ...
    assert session.begin(1) is None  # ... so the first never does, and leaves the second playing
    assert not second_stop.is_set()
    assert session.begin(None) is not None and second_stop.is_set()  # an API call (no ticket) always begins
    session.claim(3)
    _, third_stop = session.begin(3)
    assert not third_stop.is_set()
