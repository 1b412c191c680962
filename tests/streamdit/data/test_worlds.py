"""The worlds by name, as training and sampling code pick them."""

import itertools

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
