"""The worlds by name, as training, sampling and evaluation code pick them."""

import itertools

import numpy as np
import pytest

from streamdit.data.v2 import parse_scene
from streamdit.data.worlds import default_resolution, stream
from streamdit.training.cli import training_data


def test_each_world_streams_its_own_scenes_at_its_resolution():
    (v1_video, v1_text), = itertools.islice(stream("v1", seed=0), 1)
    (v2_video, v2_text), = itertools.islice(stream("v2", seed=0, num_frames=8), 1)
    assert v1_video.shape == (16, 128, 128, 3) and v2_video.shape == (8, 256, 256, 3)
    assert (default_resolution("v1"), default_resolution("v2")) == (128, 256)
    assert parse_scene(v2_text).objects and parse_scene(v1_text).objects
    with pytest.raises(ValueError, match="unknown world 'v3'"):
        stream("v3")


def test_training_data_synthetic_v2_renders_world_v2_at_the_model_size():
    make = training_data("synthetic-v2", 4, (64, 64))
    (video, text), = itertools.islice(make(5), 1)
    assert video.shape == (4, 64, 64, 3) and parse_scene(text).background is not None
    (again, _), = itertools.islice(make(5), 1)
    assert (again == video).all()


def test_evaluation_functions_follow_the_world():
    from streamdit import data
    from streamdit.data import v2, worlds

    assert worlds.evaluation_set("v1", "heldout", 3, 0, 64) == data.evaluation_set("heldout", 3, seed=0, resolution=64)
    assert worlds.evaluation_set("v2", "heldout", 3, 0) == v2.evaluation_set("heldout", 3, seed=0)  # 1-3 objects, 256
    (spec, text), = worlds.evaluation_set("v2", "heldout", 1, 0, 128)
    video = worlds.render("v2", spec, 24)
    assert (video == v2.render(spec, 24)).all() and worlds.caption("v2", spec) == text == v2.caption(spec)
    assert worlds.detect_adherence("v2", video, text) == v2.detect_adherence(video, text)
    before, after = worlds.prompt_change("v1", np.random.default_rng(0), resolution=64)
    assert len(before.objects) == len(after.objects) == 1 and before.resolution == 64  # v1's one-object scenes
    assert (worlds.describe("v1"), worlds.describe("v2")) == ("world v1 (synthetic shapes)", "world v2 (256x256 scenes)")
    with pytest.raises(ValueError, match="unknown world 'v3'"):
        worlds.render("v3", spec, 1)
