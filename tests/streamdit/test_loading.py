"""The pipeline format (model_index.json) and the one loader: saving, loading, old directories, the registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import streamdit.loading as loading
from streamdit import BUNDLED_DIR, PipelineConfig, StreamDiT, StreamDiTPipeline, load_autoencoder
from streamdit.autoencoders.base import PatchAutoencoder
from streamdit.cli import main
from streamdit.loading import MODEL_INDEX, convert, load_transformer, read_model_index, share_component

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
    assert read_model_index(BUNDLED_DIR / "world2" / "teacher")["autoencoder"] == ("VideoAutoencoder", "../autoencoder")


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


def first_frame(directory: Path, text_encoder) -> torch.Tensor:
    pipe = StreamDiTPipeline.from_pretrained(directory, text_encoder=text_encoder)
    return torch.from_numpy(pipe.generate("a red square", num_frames=2, seed=0))


@pytest.mark.parametrize("existing", [False, True], ids=["new-shared-folder", "existing-shared-folder-with-a-card"])
def test_pipelines_in_one_folder_share_one_autoencoder_and_load_as_before(saved, text_encoder, capsys,
                                                                           existing) -> None:
    other = saved.parent / "other"
    shutil.copytree(saved, other)
    before, weights = first_frame(saved, text_encoder), load_transformer(saved).state_dict()
    if existing:  # e.g. a shipped latent space with its model card, which the pipelines' copies equal
        shutil.copytree(saved / "autoencoder", saved.parent / "autoencoder")
        (saved.parent / "autoencoder" / "README.md").write_text("# card")
    assert main(["share", str(saved), str(other)]) == 0
    assert "shared by 2 pipelines" in capsys.readouterr().out
    for pipeline in (saved, other):
        assert read_model_index(pipeline) == {"transformer": ("StreamDiT", "transformer"),
                                              "autoencoder": ("PatchAutoencoder", "../autoencoder")}
        assert not (pipeline / "autoencoder").exists()
        assert torch.equal(first_frame(pipeline, text_encoder), before)
    assert (saved.parent / "autoencoder" / "README.md").is_file() == existing
    assert share_component([saved, other]) == saved.parent / "autoencoder"  # again: nothing left to share
    assert (saved.parent / "autoencoder" / "config.json").is_file()
    share_component([saved, other], "transformer", "dit")  # the denoisers, too: one loader reads the index
    assert torch.equal(first_frame(saved, text_encoder), before)
    shared = load_transformer(other).state_dict()  # through the index, not a transformer/ folder
    assert shared.keys() == weights.keys() and all(torch.equal(shared[name], weights[name]) for name in weights)
    assert not (saved / "transformer").exists() and StreamDiTPipeline.scheme_of(other).total_steps == 2 * 3


def test_sharing_refuses_components_that_differ_and_changes_nothing(saved, text_encoder) -> None:
    other = saved.parent / "other"
    shutil.copytree(saved, other)
    PatchAutoencoder(4).save_pretrained(other / "autoencoder")
    index = (saved / MODEL_INDEX).read_text()
    with pytest.raises(ValueError, match="differs from .* in config.json"):
        share_component([saved, other])
    assert not (saved.parent / "autoencoder").exists()
    for pipeline in (saved, other):
        assert (pipeline / MODEL_INDEX).read_text() == index and (pipeline / "autoencoder" / "config.json").is_file()
    with pytest.raises(ValueError, match="one parent folder"):
        share_component([saved, saved.parent / "elsewhere" / "pipe"])


@pytest.mark.parametrize("folder", ["/tmp/autoencoder", "../../autoencoder", "vae/../../../x", "", "..\\vae"])
def test_an_index_names_only_folders_inside_the_pipeline_or_beside_it(saved, text_encoder, folder) -> None:
    (saved / MODEL_INDEX).write_text(json.dumps({"_class_name": "StreamDiTPipeline", "transformer": ["StreamDiT",
                                                 "transformer"], "autoencoder": ["PatchAutoencoder", folder]}))
    with pytest.raises(ValueError, match="inside the pipeline directory or a folder beside it"):
        StreamDiTPipeline.from_pretrained(saved, text_encoder=text_encoder)


def test_a_pipeline_copied_without_its_shared_folder_says_what_is_missing(saved, text_encoder, tmp_path) -> None:
    shutil.copytree(saved, saved.parent / "other")
    share_component([saved, saved.parent / "other"])
    shutil.copytree(saved, tmp_path / "copied" / "pipe")
    with pytest.raises(FileNotFoundError, match="autoencoder not found.*shared by the pipelines beside"):
        StreamDiTPipeline.from_pretrained(tmp_path / "copied" / "pipe", text_encoder=text_encoder)
