"""World v2: the held-out split, scene sampling and object motion."""

import itertools
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from streamdit.data.v2.domain import (BACKGROUNDS, BOUNCE_PERIOD, CAMERAS, COLORS, DIRECTIONS, HELDOUT_TRIPLES,
                                      MOTIONS, PAN_SPEED, PULSE_AMPLITUDE, SHAPES, TRAIN_TRIPLES, cameras_for,
                                      make_object, sample_scene, triple_split)

V1_HELDOUT = {  # world v1's held-out triples, as v1 defines them
    ("red", "circle", "left"), ("red", "square", "right"), ("yellow", "triangle", "up"), ("yellow", "diamond", "down"),
    ("green", "circle", "right"), ("green", "square", "up"), ("cyan", "triangle", "down"), ("cyan", "diamond", "left"),
    ("blue", "circle", "up"), ("blue", "square", "down"), ("magenta", "triangle", "left"),
    ("magenta", "diamond", "right"),
}
VALID = {t for t in itertools.product(COLORS, SHAPES, MOTIONS) if t[1:] != ("circle", "spin")}


def test_world_is_as_large_as_asked_and_contains_v1():
    from streamdit.data import domain as v1

    assert len(COLORS) >= 8 and len(SHAPES) >= 6 and len(DIRECTIONS) == 8
    assert {"bounce", "circle", "spin", "pulse"} <= set(MOTIONS)
    assert all(COLORS[c] == rgb for c, rgb in v1.COLORS.items())
    assert set(v1.SHAPES) <= set(SHAPES) and set(v1.DIRECTIONS) <= set(DIRECTIONS)
    assert set(v1.BACKGROUNDS) <= set(BACKGROUNDS)
    assert len(BACKGROUNDS) - len(v1.BACKGROUNDS) >= 5


def test_heldout_triples_leave_every_attribute_and_pair_in_training():
    held, train = set(HELDOUT_TRIPLES), set(TRAIN_TRIPLES)
    assert V1_HELDOUT <= held and not held & train and held | train == VALID
    for t, u in itertools.combinations(HELDOUT_TRIPLES, 2):
        assert sum(a == b for a, b in zip(t, u)) <= 1, (t, u)  # no shared pair
    for i, j in itertools.combinations(range(3), 2):
        seen = Counter((t[i], t[j]) for t in TRAIN_TRIPLES)
        assert min(seen[(t[i], t[j])] for t in VALID) >= 3
    for i in range(3):  # every value of every attribute is held out somewhere, and trained on
        assert {t[i] for t in HELDOUT_TRIPLES} == {t[i] for t in VALID} == {t[i] for t in TRAIN_TRIPLES}


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_scenes_respect_split_colours_bounce_and_camera(split):
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, split) for _ in range(300)]
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert {s.camera for s in scenes} == set(CAMERAS)
    for s in scenes:
        assert all(triple_split(*o.triple) == split for o in s.objects)
        assert len({o.color for o in s.objects}) == len(s.objects)
        assert sum(o.motion == "bounce" for o in s.objects) <= 1
        assert s.camera in cameras_for(s.background)
    assert cameras_for("gray") == ("static",) and set(cameras_for("sky")) == {"static", "left", "right"}


def test_bad_requests_are_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="split"):
        sample_scene(rng, "test")
    with pytest.raises(ValueError, match="1 to 3 objects"):
        sample_scene(rng, num_objects=4)
    with pytest.raises(ValueError, match="allows the cameras"):
        sample_scene(rng, background="white", camera="left")


def test_straight_motion_moves_at_its_rate_along_its_direction_and_wraps():
    obj = make_object(np.random.default_rng(1), "red", "square", "up-left", speed="fast")
    x, y = obj.position(np.array([0.0, 10.0]))
    step = obj.rate * 10 / np.sqrt(2)
    assert np.allclose([x[1], y[1]], [(obj.x - step) % 1, (obj.y - step) % 1])
    assert 1.6 / 128 <= obj.rate <= 2.2 / 128


def test_circling_bouncing_and_pulsing_follow_their_paths():
    rng = np.random.default_rng(2)
    t = np.arange(200.0)
    circler = make_object(rng, "red", "star", "circle")
    x, y = circler.position(t)
    assert np.allclose(np.hypot(x - circler.x, y - circler.y), circler.path)
    bouncer = replace(make_object(rng, "blue", "circle", "bounce"), phase=0.0)
    _, y = bouncer.position(t)
    assert np.isclose((y + bouncer.radius).max(), bouncer.y)  # it touches the floor...
    assert np.isclose(y.min(), bouncer.y - bouncer.radius - bouncer.path, atol=1e-3)  # ...and hops to its height
    contacts = np.flatnonzero(np.isclose(y + bouncer.radius, bouncer.y, atol=1e-9))
    assert np.allclose(np.diff(contacts), BOUNCE_PERIOD)
    pulser = make_object(rng, "green", "cross", "pulse")
    assert np.isclose(pulser.scale(t).max(), pulser.radius * (1 + PULSE_AMPLITUDE), rtol=0.01)
    assert np.isclose(pulser.scale(t).min(), pulser.radius * (1 - PULSE_AMPLITUDE), rtol=0.01)


@pytest.mark.parametrize("motion", ["right", "down-left", "circle", "bounce", "spin", "pulse"])
def test_advance_continues_every_motion_and_the_pan(motion):
    rng = np.random.default_rng(3)
    scene = sample_scene(rng, num_objects=1, background="dots", camera="up")
    scene = replace(scene, objects=(make_object(rng, "red", "triangle", motion),))
    later = scene.advance(37)
    a, b = scene.objects[0], later.objects[0]
    t = np.array([0.0, 5.0])
    assert np.allclose(np.array(b.position(t)), np.array(a.position(t + 37)))
    assert np.allclose(b.orientation(t) % 360, a.orientation(t + 37) % 360)
    assert np.allclose(b.scale(t), a.scale(t + 37))
    assert np.allclose(later.camera_offset(t), scene.camera_offset(t + 37))
    assert np.isclose(scene.camera_offset(1.0)[1] - scene.camera_offset(0.0)[1], PAN_SPEED)  # up: scene moves down
