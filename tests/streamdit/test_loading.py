"""The pipeline format (model_index.json) and the one loader: saving, loading, old directories, the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import streamdit.loading as loading
from streamdit import BUNDLED_DIR, PipelineConfig, StreamDiT, StreamDiTPipeline, load_autoencoder
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.cli import main
from streamdit.loading import MODEL_INDEX, convert, read_model_index

SMALL = dict(buffer_frames=4, latent_height=4, latent_width=4, hidden_size=32, depth=1, num_heads=2,
             patch_size=(1, 1, 1), window_size=(4, 4, 4))


@pytest.fixture()
def saved(text_encoder, tmp_path) -> Path:
    pipe = StreamDiTPipeline.from_config("tiny", autoencoder=PatchAutoencoder(8), text_encoder=text_encoder,
                                         config=PipelineConfig(chunk_size=2, micro_steps=3), **SMALL)
    pipe.save_pretrained(tmp_path / "pipe")
    return tmp_path / "pipe"


def test_save_writes_an_index_naming_each_components_class_and_folder(saved) -> None:
    assert json.loads((saved / MODEL_INDEX).read_text()) == {
        "_class_name": "StreamDiTPipeline", "transformer": ["StreamDiT", "transformer"],
        "autoencoder": ["PatchAutoencoder", "autoencoder"]}


def test_the_shipped_pipelines_carry_an_index(text_encoder) -> None:
    for name in ("student", "teacher", "single-scheme"):
        assert read_model_index(BUNDLED_DIR / name) == {"transformer": ("StreamDiT", "transformer"),
                                                        "autoencoder": ("VideoAutoencoder", "autoencoder")}
        assert (BUNDLED_DIR / name / MODEL_INDEX).is_file()


def test_a_directory_saved_before_the_index_loads_the_same_and_converts_with_one_command(saved, text_encoder,
                                                                                          capsys) -> None:
    index = (saved / MODEL_INDEX).read_text()
    (saved / MODEL_INDEX).unlink()
    old = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    assert isinstance(old.autoencoder, PatchAutoencoder) and old.schedule.scheme.micro_steps == 3
    assert main(["convert", str(saved)]) == 0
    assert "wrote model_index.json" in capsys.readouterr().out
    assert (saved / MODEL_INDEX).read_text() == index
    assert convert(saved) is False  # already converted: only checked


def test_scheme_of_reads_the_scheme_without_loading_weights(saved, text_encoder) -> None:
    (saved / "transformer" / "model.safetensors").unlink()
    assert StreamDiTPipeline.scheme_of(saved).total_steps == 2 * 3  # K = 4 / 2 chunks, 3 micro-steps each


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "holds a JSON list"),
    ('{"_class_name": "StreamDiTPipeline", "transformer": ["NoSuchModel", "transformer"], '
     '"autoencoder": ["PatchAutoencoder", "autoencoder"]}', "unknown component class 'NoSuchModel'"),
    ('{"_class_name": "StreamDiTPipeline", "transformer": ["PatchAutoencoder", "autoencoder"], '
     '"autoencoder": ["PatchAutoencoder", "autoencoder"]}', "which is not a transformer"),
    ('{"_class_name": "StreamDiTPipeline", "transformer": "StreamDiT"}', "must be \\[class name, folder\\]"),
    ('{"_class_name": "SomethingElse"}', "not a StreamDiTPipeline"),
])
def test_a_broken_index_is_a_clear_error_naming_the_file(saved, text_encoder, content, message) -> None:
    (saved / MODEL_INDEX).write_text(content)
    with pytest.raises(ValueError, match=message):
        StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)


def test_a_missing_pipeline_json_says_what_was_expected(saved, text_encoder) -> None:
    (saved / "pipeline.json").unlink()
    with pytest.raises(FileNotFoundError, match="pipeline.json not found: expected a StreamDiT pipeline"):
        StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)


class DoublingAutoencoder(PatchAutoencoder):
    """A toy autoencoder added the documented way: one class, one COMPONENTS entry, its name in config.json."""

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        return super().encode(video) * 2

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return super().decode(latents / 2)

    def save_pretrained(self, directory: str | Path) -> None:
        loading.write_json(Path(directory) / "config.json",
                           {"_class_name": "DoublingAutoencoder", "patch_size": self.patch_size})


def test_a_new_autoencoder_is_one_registry_line(saved, text_encoder, monkeypatch) -> None:
    monkeypatch.setitem(loading.COMPONENTS, "DoublingAutoencoder", ("autoencoder", f"{__name__}:DoublingAutoencoder"))
    pipe = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    pipe.autoencoder = DoublingAutoencoder(8)
    pipe.save_pretrained(saved)
    assert read_model_index(saved)["autoencoder"] == ("DoublingAutoencoder", "autoencoder")
    assert type(StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder).autoencoder) is DoublingAutoencoder
    assert type(load_autoencoder(saved / "autoencoder")) is DoublingAutoencoder  # the folder alone, too


def test_saving_an_unregistered_component_says_where_to_register_it(saved, text_encoder) -> None:
    pipe = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    pipe.autoencoder = DoublingAutoencoder(8)
    with pytest.raises(ValueError, match="add it to streamdit.loading.COMPONENTS"):
        pipe.save_pretrained(saved / "copy")


def test_components_load_from_the_folders_the_index_names_not_from_their_role_names(saved, text_encoder) -> None:
    """An index may put a component in a folder of any name (diffusers' layout allows ``vae/`` etc.)."""
    original = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    (saved / "transformer").rename(saved / "dit")
    (saved / "autoencoder").rename(saved / "vae")
    (saved / MODEL_INDEX).write_text(json.dumps({"_class_name": "StreamDiTPipeline", "transformer": ["StreamDiT", "dit"],
                                                 "autoencoder": ["PatchAutoencoder", "vae"]}))
    assert read_model_index(saved) == {"transformer": ("StreamDiT", "dit"), "autoencoder": ("PatchAutoencoder", "vae")}
    moved = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    assert moved.model.config == original.model.config
    for (name, a), b in zip(original.model.state_dict().items(), moved.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert moved.autoencoder.patch_size == original.autoencoder.patch_size
    assert StreamDiTPipeline.scheme_of(saved).total_steps == 2 * 3  # the config is read from dit/ too


def test_the_index_decides_which_folder_is_which_even_against_the_folder_names(saved, text_encoder) -> None:
    """Folders named after the other role: only the index says where each component is."""
    (saved / "transformer").rename(saved / "swap")
    (saved / "autoencoder").rename(saved / "transformer")
    (saved / "swap").rename(saved / "autoencoder")
    (saved / MODEL_INDEX).write_text(json.dumps({"_class_name": "StreamDiTPipeline",
                                                 "transformer": ["StreamDiT", "autoencoder"],
                                                 "autoencoder": ["PatchAutoencoder", "transformer"]}))
    pipe = StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)
    assert isinstance(pipe.model, StreamDiT) and isinstance(pipe.autoencoder, PatchAutoencoder)
