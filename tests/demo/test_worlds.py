"""The page follows the served model's world: world v2's vocabulary check, domain text and examples, and a
page built on a random world-v2 pipeline."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo.app import EXAMPLES, build_demo
from demo.markup import escape_markdown
from demo.models import ModelBank, ModelOption
from demo.vocabulary import KNOWS, domain_markdown, unknown_words, unknown_words_note
from streamdit import PipelineConfig, StreamDiT, StreamDiTConfig, StreamDiTPipeline
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig
from streamdit.data import parse_caption
from streamdit.data.v2 import ObjectAttributes as Object, SceneAttributes as Scene, caption, caption_vocabulary
from streamdit.data.v2 import parse_scene, sample_scene, triple_split
from streamdit.data.v2 import captions as v2_captions
from streamdit.data.v2.domain import cameras_for

GLUE = set(v2_captions._GLUE.split())
# What each v2 example should show: two objects, a bounce, a circling one, a pulse on a texture, a pan, three objects.
V2_EXAMPLES = [
    Scene((Object("red", "star", "spin", "small", "fast"), Object("blue", "square", "left", "large", "slow")),
          "white", None),
    Scene((Object("yellow", "circle", "bounce", "large"),), "grass", "static"),
    Scene((Object("green", "triangle", "circle", "small", "slow"),), "checks", "static"),
    Scene((Object("cyan", "cross", "up-right", "small", "fast"),), "sand", "left"),
    Scene((Object("purple", "diamond", "pulse", "large"),), "stripes", "down"),
    Scene((Object("orange", "star", "spin", "large", "slow"), Object("magenta", "square", "down", "small"),
           Object("blue", "circle", "bounce")), "sky", "right"),
]


def in_training(scene: Scene) -> bool:
    """Whether a scene is one the v2 training stream draws: training triples, colours distinct, at most one
    bouncing object, a camera its background allows."""
    objects = scene.objects
    return (all(triple_split(o.color, o.shape, o.motion) == "train" for o in objects)
            and len({o.color for o in objects}) == len(objects) and sum(o.motion == "bounce" for o in objects) <= 1
            and (scene.camera or "static") in cameras_for(scene.background))


def test_v2_captions_and_the_words_its_parser_reads_are_known() -> None:
    rng = np.random.default_rng(0)
    for i in range(400):
        spec = sample_scene(rng, "train" if i % 2 else "heldout")
        for text in (caption(spec, rng), caption(spec)):
            assert unknown_words(text, "v2") == [], text
    parsed = [v2_captions._COLOR_OF, v2_captions._SHAPE_OF, v2_captions._SIZE_OF, v2_captions._SPEED_OF,
              v2_captions._BACKGROUND_OF, v2_captions._MOTION_OF, v2_captions._COMPONENT_OF, v2_captions._PAN,
              v2_captions._STATIC, v2_captions._FILLER]
    assert not unknown_words(" ".join(w for words in parsed for w in words), "v2")
    assert unknown_words("a tiny orange pentagram twirling against the sky", "v1") == [
        "tiny", "orange", "pentagram", "twirling", "sky"]
    assert unknown_words("A Tiny orange pentagram twirling against the sky, the camera panned left.", "v2") == []
    assert unknown_words("a red circle bouncing on the beach with a cat", "v2") == ["beach", "cat"]
    with pytest.raises(ValueError, match="unknown world 'v3'"):
        unknown_words("a red circle", "v3")


def test_v2_note_and_domain_text_describe_v2_with_a_prompt_it_reads_back() -> None:
    assert unknown_words_note(["cat"], "v2") == (f"'cat' is not something this model has seen: it only knows "
                                                 f"{KNOWS['v2']} (see “What this model knows”).")
    assert "coloured shapes moving left, right, up or down" in unknown_words_note(["cat"])  # v1 by default
    text = domain_markdown("v2")
    words = set(re.sub(r"[*,();“”.:-]", " ", text).split())
    assert set(caption_vocabulary()) - GLUE <= words  # every word and synonym is listed
    assert "256×256" in text and "(#model-card)" in text and "up to three **coloured shapes**" in text
    example = re.search(r"such as “([^”]+)”", text)[1]
    assert parse_scene(example) == Scene((Object("orange", "star", "spin", "small", "fast"),
                                          Object("blue", "square", "up-left", "large", "slow")), "stripes", "right")
    assert in_training(parse_scene(example))
    v1 = domain_markdown("v1")
    assert "128×128" in v1 and parse_caption(re.search(r"such as “([^”]+)”", v1)[1])


def test_v2_examples_show_what_they_mean_all_in_the_training_split() -> None:
    assert len(EXAMPLES["v2"]) == len(V2_EXAMPLES)
    for text, expected in zip(EXAMPLES["v2"], V2_EXAMPLES):
        assert parse_scene(text) == expected, text
        assert in_training(expected), text
        assert unknown_words(text, "v2") == [], text
    assert all(unknown_words(text, "v1") == [] for text in EXAMPLES["v1"])


def world2_pipeline(directory: Path, text_encoder) -> Path:
    """A world-v2 pipeline with random weights (world2 denoiser, 16x autoencoder, MiniLM) saved to ``directory``."""
    autoencoder = VideoAutoencoder(VideoAutoencoderConfig(latent_channels=32, patch_size=4, widths=(64, 128))).eval()
    model = StreamDiT(StreamDiTConfig(**{**StreamDiTConfig.preset("world2").to_dict(), "text_dim": text_encoder.dim}))
    StreamDiTPipeline(model, text_encoder, autoencoder,
                      PipelineConfig(world="v2", text_max_tokens=64)).save_pretrained(directory)
    return directory


def test_a_page_serving_a_world_v2_model_is_v2s_plumbing_random_weights(text_encoder, tmp_path: Path) -> None:
    bank = ModelBank([ModelOption("world2", world2_pipeline(tmp_path / "world2", text_encoder), "world2")], "cpu")
    demo = build_demo(bank, preview_dir=tmp_path / "previews")
    assert bank.world == "v2" and bank.get().resolution == (256, 256)
    props = {c["props"]["elem_id"]: c["props"] for c in demo.config["components"] if c.get("props", {}).get("elem_id")}
    assert KNOWS["v2"] in props["title"]["value"]
    assert domain_markdown("v2") in [c.get("props", {}).get("value") for c in demo.config["components"]]
    assert props["prompt"]["value"] == EXAMPLES["v2"][0]
    assert [item["caption"] for item in props["examples"]["value"]] == EXAMPLES["v2"]
    assert 'width="256" height="256"' in props["live-canvas-block"]["value"]
    for clip in (tmp_path / "previews").iterdir():
        with Image.open(clip) as gif:
            assert gif.size == (256, 256)
    fns = {f.name: f.fn for f in demo.fns.values()}
    assert fns["check_typing"]("a tiny orange pentagram twirling over grass") == ""  # v2 words, unknown to v1
    note = unknown_words_note(["beach"], "v2")
    assert fns["check_typing"]("a red star hopping on a beach") == f"⚠️ {escape_markdown(note)}"
    # 12 x 5 words and 4 more, each one token: of 64 content tokens the model's 64 (with [CLS] and [SEP]) keep 62
    overlong = "a red circle moving left " * 12 + "on a grey background"
    assert fns["check_typing"](overlong) == "⚠️ The model reads only the start of a prompt this long: “grey " \
        "background” is ignored."
    assert fns["check_typing"](overlong.removesuffix(" grey background")) == ""
    assert typing.get_type_hints(fns["choose_example"])["event"] is gr.SelectData  # Gradio passes the click
    assert fns["choose_example"](SimpleNamespace(index=5)) == EXAMPLES["v2"][5]


def test_models_of_different_worlds_are_not_offered_together(text_encoder, tmp_path: Path) -> None:
    options = []
    for world in ("v1", "v2"):
        pipe = StreamDiTPipeline.from_config("tiny", text_encoder=text_encoder, config=PipelineConfig(world=world))
        pipe.save_pretrained(tmp_path / world)
        options.append(ModelOption(f"tiny {world}", tmp_path / world))
    assert ModelBank(options[:1], "cpu").world == "v1"
    with pytest.raises(ValueError, match=r"different worlds \(tiny v1: world v1, tiny v2: world v2\)"):
        ModelBank(options, "cpu").world
