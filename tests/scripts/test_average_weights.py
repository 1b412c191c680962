"""scripts/average_weights.py: averaging pipelines' transformer weights (random tiny models: plumbing)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from streamdit import PipelineConfig, StreamDiTPipeline

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "average_weights.py"
spec = importlib.util.spec_from_file_location("average_weights", SCRIPT)
average_weights = importlib.util.module_from_spec(spec)
spec.loader.exec_module(average_weights)

SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, patch_size=(1, 1, 1), hidden_size=32, depth=1,
             num_heads=2, window_size=(4, 4, 4))


def save_random(path: Path, text_encoder, seed: int, **overrides) -> Path:
    pipe = StreamDiTPipeline.from_config("tiny", text_encoder=text_encoder, seed=seed,
                                         config=PipelineConfig(chunk_size=2), **{**SMALL, **overrides})
    pipe.save_pretrained(path)
    return path


def test_average_of_random_pipelines_plumbing(text_encoder, tmp_path) -> None:
    a, b = save_random(tmp_path / "a", text_encoder, 0), save_random(tmp_path / "b", text_encoder, 1)
    assert average_weights.main(["--out", str(tmp_path / "soup"), str(a), str(b)]) == 0
    wa, wb = (load_file(str(p / "transformer" / "model.safetensors")) for p in (a, b))
    soup = load_file(str(tmp_path / "soup" / "transformer" / "model.safetensors"))
    assert soup.keys() == wa.keys()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)
    for key in wa:
        torch.testing.assert_close(soup[key], (wa[key] + wb[key]) / 2)
    sampler = json.loads((a / "pipeline.json").read_text())
    assert json.loads((tmp_path / "soup" / "pipeline.json").read_text()) == sampler
    pipe = StreamDiTPipeline.from_pretrained(tmp_path / "soup", text_encoder=text_encoder)
    torch.testing.assert_close(pipe.model.state_dict()[next(iter(wa))], soup[next(iter(wa))])


def test_refuses_other_architectures_existing_output_and_non_pipelines(text_encoder, tmp_path) -> None:
    a, b = save_random(tmp_path / "a", text_encoder, 0), save_random(tmp_path / "b", text_encoder, 1)
    wide = save_random(tmp_path / "wide", text_encoder, 2, hidden_size=64)
    with pytest.raises(ValueError, match="config.json differs"):
        average_weights.average_pipelines([a, wide], tmp_path / "out")
    with pytest.raises(ValueError, match="not a StreamDiT pipeline"):
        average_weights.average_pipelines([a, tmp_path / "missing"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit):
        average_weights.main(["--out", str(tmp_path / "taken"), str(a), str(b)])
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="at least two"):
        average_weights.average_pipelines([a], tmp_path / "out")
