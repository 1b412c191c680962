"""World v2 detector: known scenes (rendered at 128x128, where it is quickest) read back attribute by attribute."""

from dataclasses import replace

import numpy as np
import pytest

from streamdit.data.v2.detector import detect_adherence, detect_scene
from streamdit.data.v2.domain import (BACKGROUNDS, DIRECTIONS, SHAPES, SceneSpec, cameras_for, make_object,
                                      sample_scene)
from streamdit.data.v2.render import render

RES, FRAMES = 128, 32


def _scene(*objects, background="gray", camera="static", seed=0) -> SceneSpec:
    base = sample_scene(np.random.default_rng(seed), background=background, camera=camera, resolution=RES)
    return replace(base, objects=tuple(objects))


def _centred(obj, **changes):
    return replace(obj, x=0.5, y=0.5, **changes)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", ["small", "large"])
def test_shape_and_size_of_a_straight_and_a_spinning_object(shape, size):
    rng = np.random.default_rng(1)
    movers = [make_object(rng, "blue", shape, "down-right", size)]
    if shape != "circle":
        movers.append(_centred(make_object(rng, "blue", shape, "spin", size)))
    for obj in movers:
        (found,) = detect_scene(render(_scene(obj), FRAMES)).objects
        assert (found.color, found.shape, found.size) == ("blue", shape, size), (obj, found.features)


@pytest.mark.parametrize("motion", [*DIRECTIONS, "bounce", "circle", "spin", "pulse"])
@pytest.mark.parametrize("speed", ["slow", "fast"])
def test_every_motion_and_its_speed(motion, speed):
    rng = np.random.default_rng(2)
    obj = make_object(rng, "orange", "star", motion, "large", speed)
    if motion in ("spin", "pulse"):
        obj = _centred(obj)
    (found,) = detect_scene(render(_scene(obj), FRAMES)).objects
    assert (found.motion, found.speed) == (motion, obj.speed), found.features


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_every_background_and_camera(background):
    rng = np.random.default_rng(3)
    for camera in cameras_for(background):
        obj = make_object(rng, "red", "square", "left", "small", "slow")
        found = detect_scene(render(_scene(obj, background=background, camera=camera, seed=4), FRAMES))
        assert (found.background, found.camera) == (background, camera)
        assert [o.color for o in found.objects] == ["red"]


def test_three_objects_on_a_tinted_background_are_told_apart():
    rng = np.random.default_rng(5)
    objects = (replace(make_object(rng, "red", "cross", "circle", "large", "fast"), x=0.3, y=0.3),
               replace(make_object(rng, "yellow", "triangle", "bounce", "large"), x=0.75),
               replace(make_object(rng, "purple", "diamond", "up", "small", "fast"), x=0.15, y=0.8))  # apart
    scene = _scene(*objects, background="sand", camera="right")
    found = detect_scene(render(scene, FRAMES))
    assert {o.attributes for o in found.objects} == {o.attributes for o in scene.objects}
    assert (found.background, found.camera) == ("sand", "right")


def test_adherence_scores_each_prompted_attribute():
    rng = np.random.default_rng(6)
    obj = make_object(rng, "green", "star", "right", "large", "fast")
    video = render(_scene(obj, background="dots", camera="up"), FRAMES)
    right = detect_adherence(video, "a large green star moving quickly right on a dotted background, as the camera pans up")
    assert right == {"color": True, "shape": True, "motion": True, "size": True, "speed": True, "background": True,
                     "camera": True, "count": True, "match": True}
    wrong = detect_adherence(video, "a small green cross moving left on a striped background, the camera panning down")
    assert wrong["color"] and not any(wrong[k] for k in ("shape", "motion", "size", "background", "camera", "match"))
    assert wrong["speed"] is None
    partial = detect_adherence(video, "a green star")
    assert partial["match"] and partial["motion"] is None and partial["background"] is None
    two = detect_adherence(video, "a green star and a red circle")
    assert not two["match"] and not two["count"]


def test_bad_input_is_a_clear_error():
    video = render(_scene(make_object(np.random.default_rng(7), "red", "square", "up")), FRAMES)
    with pytest.raises(ValueError, match="at least 24 frames"):
        detect_scene(video[:8])
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        detect_scene(video[..., 0])
    with pytest.raises(ValueError, match="no object"):
        detect_adherence(video, "on a striped background")


def test_validate_scores_what_survives_an_autoencoder(tmp_path, capsys):
    from streamdit.autoencoders.base import PatchAutoencoder
    from streamdit.data.v2.validate import main, validate

    rows, _ = validate(n=3, seed=5, num_frames=24, conditions=("clean", "autoencoder"),
                       reconstruct=lambda video: np.zeros_like(video))
    accuracy = {(r["condition"], r["split"], r["attribute"]): r["accuracy"] for r in rows}
    for split in ("train", "heldout"):  # a blank reconstruction keeps no colour; the renders keep all
        assert accuracy[("clean", split, "color")] == 1.0 and accuracy[("autoencoder", split, "color")] == 0.0
    PatchAutoencoder(4).save_pretrained(tmp_path / "patch")  # lossless: reconstructions score as the renders
    main(["-n", "2", "--seed", "5", "--frames", "24", "--clean-only", "--autoencoder", str(tmp_path / "patch")])
    lines = capsys.readouterr().out.splitlines()
    table = {tuple(line.split()[:3]): line.split()[3] for line in lines if line.startswith(("clean", "autoencoder"))}
    assert table[("autoencoder", "heldout", "match")] == table[("clean", "heldout", "match")] == "1.000"
    assert {key[2] for key in table if key[0] == "autoencoder"} >= {"color", "shape", "background", "camera"}
