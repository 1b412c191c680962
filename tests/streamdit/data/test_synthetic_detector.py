"""The analytic detector and prompt adherence, validated on ground-truth generator output."""

import numpy as np
import pytest

from streamdit.data import (COLORS, DIRECTIONS, SHAPES, ObjectSpec, VideoSpec, caption, detect, detect_background,
                            detect_adherence, render)
from streamdit.data.validate import degrade, main, validate, wilson_interval

# Stated thresholds: per-attribute accuracy on random train and held-out videos (60 each, 16 frames).
CLEAN_MIN, DEGRADED_MIN = 0.98, 0.95


@pytest.fixture(scope="module")
def validation_rows():
    return validate(n=60, seed=11, num_frames=16, noise_std=12.0, blur_sigma=1.5)


@pytest.mark.parametrize("condition,minimum", [("clean", CLEAN_MIN), ("blur+noise", DEGRADED_MIN)])
def test_detector_accuracy_on_generator_output(validation_rows, condition, minimum):
    rows = [r for r in validation_rows if r["condition"] == condition]
    assert {r["split"] for r in rows} == {"train", "heldout"}
    for r in rows:
        assert r["total"] >= 50 and r["accuracy"] >= minimum, r


def _video(*objects, background="gray", frames=16, resolution=128):
    return render(VideoSpec(tuple(objects), background, 0.5, resolution), frames)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_shape_and_direction_is_read_even_across_the_border(shape, direction):
    # Starts on the top-left corner: the object is split over all four borders at first.
    video = _video(ObjectSpec("yellow", shape, direction, 0.01, 0.02, 0.09, 1.5 / 128))
    [d] = detect(degrade(video, np.random.default_rng(0)))
    assert (d.color, d.shape, d.direction) == ("yellow", shape, direction)
    expected = np.array(DIRECTIONS[direction]) * 1.5
    assert np.allclose(d.velocity, expected, atol=0.2)


@pytest.mark.parametrize("color", COLORS)
def test_every_colour_is_read_on_every_background(color):
    for background in ("black", "gray", "white", "gradient"):
        video = _video(ObjectSpec(color, "circle", "down", 0.4, 0.4, 0.1, 0.01), background=background)
        assert [d.color for d in detect(video)] == [color]
        assert detect_background(video) == background


def test_a_faint_object_is_still_read():
    obj = ObjectSpec("green", "diamond", "up", 0.5, 0.5, 0.09, 0.01)
    video = _video(obj, background="white").astype(np.float32)
    plain = _video(background="white").astype(np.float32)
    faint = np.rint(plain + 0.35 * (video - plain)).astype(np.uint8)  # 35% contrast
    assert [d.attributes for d in detect(degrade(faint, np.random.default_rng(1)))] == [obj.attributes]


def test_a_still_object_has_no_direction_and_fails_a_motion_prompt():
    video = _video(ObjectSpec("green", "square", "left", 0.5, 0.5, 0.1, 0.0))
    assert detect(video)[0].direction is None
    result = detect_adherence(video, "a green square moving left")
    assert result["color"] and result["shape"] and not result["direction"] and not result["match"]


def test_prompt_adherence_flags_exactly_the_wrong_attribute():
    spec = VideoSpec((ObjectSpec("red", "triangle", "up", 0.3, 0.6, 0.1, 0.012),
                      ObjectSpec("blue", "diamond", "right", 0.7, 0.2, 0.1, 0.012)), "black")
    video = render(spec, 16)
    good = caption(spec)
    assert detect_adherence(video, good) == {"match": True, "color": True, "shape": True, "direction": True,
                                             "count": True, "background": True}
    for wrong, key in [(good.replace("red", "green"), "color"), (good.replace("diamond", "circle"), "shape"),
                       (good.replace("right", "left"), "direction")]:
        result = detect_adherence(video, wrong)
        assert not result[key] and not result["match"], wrong
        assert all(result[k] for k in ("color", "shape", "direction") if k != key), wrong
    assert detect_adherence(video, good.replace("black", "white"))["background"] is False
    assert detect_adherence(video, "a blue rhombus sliding to the right")["count"] is False


def test_object_order_in_the_prompt_does_not_matter_and_missing_objects_fail():
    video = _video(ObjectSpec("cyan", "square", "down", 0.2, 0.2, 0.1, 0.01),
                   ObjectSpec("magenta", "circle", "left", 0.7, 0.7, 0.1, 0.01))
    assert detect_adherence(video, "a pink ball heading left and a turquoise box moving down")["match"]
    blank = _video()
    assert detect(blank) == []
    assert detect_adherence(blank, "a red circle moving left") == {
        "match": False, "color": False, "shape": False, "direction": False, "count": False, "background": None}
    with pytest.raises(ValueError):
        detect_adherence(blank, "a sunset over the sea")


def test_detector_works_at_another_resolution():
    video = _video(ObjectSpec("blue", "triangle", "left", 0.5, 0.5, 0.1, 0.012), resolution=256)
    assert [d.attributes for d in detect(video)] == [("blue", "triangle", "left")]


def test_wilson_interval():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] < 1.0


def test_validate_cli_prints_a_table(capsys):
    main(["-n", "3", "--frames", "8"])
    out = capsys.readouterr().out
    assert "heldout" in out and "blur+noise" in out and "videos/s" in out
