"""World v2 captions: every caption reads back to its scene, and v1's captions keep their meaning."""

import re

import numpy as np
import pytest

from streamdit.data.v2.captions import (BACKGROUND_WORDS, COLOR_WORDS, DIRECTION_PHRASES, MOTION_PHRASES, SCENE_PHRASES,
                                        SHAPE_WORDS, SIZE_WORDS, SPEED_WORDS, caption, caption_vocabulary, parse_scene)
from streamdit.data.v2.domain import PLAIN_BACKGROUNDS, ObjectAttributes, sample_scene


def _agrees(parsed: ObjectAttributes, true: ObjectAttributes, exact: bool) -> bool:
    return all((p == t) if exact else (p is None or p == t) for p, t in zip(parsed, true))


@pytest.mark.parametrize("canonical", [True, False])
def test_captions_parse_back_to_their_scene(canonical):
    rng = np.random.default_rng(0)
    for _ in range(400):
        scene = sample_scene(rng)
        text = caption(scene, None if canonical else rng)
        parsed = parse_scene(text)
        assert len(parsed.objects) == len(scene.objects), text
        assert all(_agrees(p, o.attributes, canonical) for p, o in zip(parsed.objects, scene.objects)), (text, parsed)
        assert parsed.background == scene.background, text
        if canonical and scene.background not in PLAIN_BACKGROUNDS:
            assert parsed.camera == scene.camera, text
        else:
            assert parsed.camera in (None, scene.camera), text


def test_canonical_caption_reads_as_documented():
    from dataclasses import replace

    from streamdit.data.v2.domain import make_object

    rng = np.random.default_rng(0)
    objects = (make_object(rng, "red", "circle", "left", "small", "slow"),
               make_object(rng, "blue", "star", "spin", "large", "fast"))
    scene = replace(sample_scene(rng, background="stripes", camera="right"), objects=objects)
    assert caption(scene) == ("a small red circle moving slowly left and a large blue star spinning quickly "
                              "on a striped background, as the camera pans right")


def test_v1_captions_mean_what_they_meant():
    from streamdit.data import caption as v1_caption
    from streamdit.data import sample_spec as v1_sample

    rng = np.random.default_rng(1)
    for _ in range(300):
        spec = v1_sample(rng)
        text = v1_caption(spec, rng)
        parsed = parse_scene(text)
        assert [(o.color, o.shape, o.motion) for o in parsed.objects] == [
            (o.color, o.shape, o.direction) for o in spec.objects], text
        assert parsed.background in (None, spec.background) and parsed.camera is None


def test_every_meaning_word_belongs_to_one_attribute_value():
    glue = {"a", "an", "and", "the", "on", "against", "in", "over", "of", "to", "with", "as", "while", "camera",
            "background", "backdrop", "place", "like", "toward", "diagonally", "going", "round", "above", "under",
            "front"}
    owners: dict[str, set] = {}
    tables = {"color": COLOR_WORDS, "shape": SHAPE_WORDS, "size": SIZE_WORDS, "speed": SPEED_WORDS,
              "background": {**BACKGROUND_WORDS, **SCENE_PHRASES},
              "motion": {m: tuple(w for pair in ps for w in pair) for m, ps in MOTION_PHRASES.items()}}
    for attribute, table in tables.items():
        for value, phrases in table.items():
            for word in {w for p in phrases for w in re.findall(r"[a-z]+", p)} - glue:
                owners.setdefault(word, set()).add(attribute)
    direction_words = {w for ps in DIRECTION_PHRASES.values() for p in ps for w in re.findall(r"[a-z]+", p)} - glue
    shared = {w: o for w, o in owners.items() if len(o) > 1 or w in direction_words}
    assert not shared


def test_vocabulary_covers_every_caption_word():
    rng = np.random.default_rng(2)
    vocabulary = set(caption_vocabulary())
    for _ in range(300):
        words = set(re.findall(r"[a-z]+", caption(sample_scene(rng), rng).lower()))
        assert words <= vocabulary, words - vocabulary


@pytest.mark.parametrize("text, expected", [
    ("a tiny violet plus rotating rapidly", ObjectAttributes("purple", "cross", "spin", "small", "fast")),
    ("A big amber pentagram goes round in circles gently.", ObjectAttributes("orange", "star", "circle", "large", "slow")),
    ("an orange ball hopping quickly", ObjectAttributes("orange", "circle", "bounce", None, None)),
    ("a lime box heading toward the bottom left", ObjectAttributes("green", "square", "down-left", None, None)),
    ("a red disc moving up and to the right", ObjectAttributes("red", "circle", "up-right", None, None)),
])
def test_hand_written_prompts(text, expected):
    assert parse_scene(text).objects == (expected,)


def test_camera_phrase_first_or_last_goes_to_the_camera():
    first = parse_scene("As the camera pans to the left, a red circle moves up over grass.")
    last = parse_scene("a red circle moving up over grass, the camera panning left")
    for parsed in (first, last):
        assert parsed.camera == "left" and parsed.objects[0].motion == "up" and parsed.background == "grass"
    assert parse_scene("a red circle spinning on sand with a static camera").camera == "static"
