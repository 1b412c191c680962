"""Vocabulary, splits, rendering, captions and sampling of the synthetic domain."""

import itertools
import re
from collections import Counter

import numpy as np
import pytest
from torch.utils.data import DataLoader

from streamdit.data import (BACKGROUNDS, COLORS, DIRECTIONS, HELDOUT_TRIPLES, SHAPES, TRAIN_TRIPLES, Attributes,
                            ObjectSpec, SyntheticVideoDataset, VideoSpec, caption, caption_vocabulary, eval_prompts, evaluation_set,
                            long_video, parse_background, parse_caption, render, render_segments, sample_long,
                            sample_spec, stream, triple_split)


def test_heldout_triples_leave_every_attribute_and_pair_in_training():
    assert len(HELDOUT_TRIPLES) == 12 and not set(HELDOUT_TRIPLES) & set(TRAIN_TRIPLES)
    assert set(HELDOUT_TRIPLES) | set(TRAIN_TRIPLES) == set(itertools.product(COLORS, SHAPES, DIRECTIONS))
    for i, j in itertools.combinations(range(3), 2):
        train_pairs = Counter((t[i], t[j]) for t in TRAIN_TRIPLES)
        assert all(train_pairs[(t[i], t[j])] >= 3 for t in itertools.product(COLORS, SHAPES, DIRECTIONS))
    for i, vocab in enumerate((COLORS, SHAPES, DIRECTIONS)):
        assert {t[i] for t in HELDOUT_TRIPLES} == set(vocab)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_sample_spec_respects_split_and_keeps_colours_distinct(split):
    rng = np.random.default_rng(0)
    specs = [sample_spec(rng, split) for _ in range(300)]
    assert {len(s.objects) for s in specs} == {1, 2}
    assert {s.background for s in specs} == set(BACKGROUNDS)
    for s in specs:
        assert all(triple_split(*o.attributes) == split for o in s.objects)
        assert len({o.color for o in s.objects}) == len(s.objects)


def test_sample_spec_rejects_unknown_split():
    with pytest.raises(ValueError):
        sample_spec(np.random.default_rng(0), "test")


def test_render_is_deterministic_by_seed_and_has_the_requested_resolution():
    a = render(sample_spec(np.random.default_rng(7)), 16)
    b = render(sample_spec(np.random.default_rng(7)), 16)
    c = render(sample_spec(np.random.default_rng(8)), 16)
    assert a.shape == (16, 128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert render(sample_spec(np.random.default_rng(7), resolution=96), 4).shape == (4, 96, 96, 3)


def test_render_draws_the_object_in_its_colour_over_the_background():
    obj = ObjectSpec("blue", "square", "right", 0.5, 0.5, 0.1, 1 / 64)
    video = render(VideoSpec((obj,), "white", shade=0.0), 3)
    assert tuple(video[0, 64, 64]) == COLORS["blue"]
    assert tuple(video[0, 5, 5]) == (210, 210, 210)
    assert tuple(video[2, 64, 64 + 15]) == COLORS["blue"] and tuple(video[0, 64, 64 + 15]) == (210, 210, 210)


def test_objects_wrap_around_the_borders():
    obj = ObjectSpec("red", "circle", "left", 0.0, 0.5, 0.1, 1 / 64)
    video = render(VideoSpec((obj,), "black"), 65)
    assert tuple(video[0, 64, 0]) == COLORS["red"] and tuple(video[0, 64, 127]) == COLORS["red"]
    assert np.abs(video[64].astype(int) - video[0]).max() <= 1  # one full lap in 64 frames


def test_advance_continues_the_same_motion():
    spec = sample_spec(np.random.default_rng(3), num_objects=2)
    assert np.abs(render(spec.advance(5), 3).astype(int) - render(spec, 8)[5:]).max() <= 1


def test_canonical_caption():
    spec = VideoSpec((ObjectSpec("red", "circle", "left", 0.2, 0.2, 0.1, 0.01),
                      ObjectSpec("cyan", "diamond", "up", 0.7, 0.7, 0.1, 0.01)), "gradient")
    assert caption(spec) == "a red circle moving left and a cyan diamond moving up on a gradient background"


def test_parse_caption_reads_synonyms():
    assert parse_caption("A crimson disc drifts to the left against a dark backdrop.") == [
        Attributes("red", "circle", "left")]
    assert parse_background("A crimson disc drifts to the left against a dark backdrop.") == "black"
    assert parse_caption("an aqua lozenge heading toward the bottom and a lime box gliding rightwards") == [
        Attributes("cyan", "diamond", "down"), Attributes("green", "square", "right")]
    assert parse_caption("a pink thing") == [Attributes("magenta", None, None)]


def test_random_captions_parse_back_to_their_spec():
    rng = np.random.default_rng(1)
    seen_backgrounds, vocabulary = Counter(), set(caption_vocabulary())
    for _ in range(500):
        spec = sample_spec(rng, "train" if rng.uniform() < 0.5 else "heldout")
        text = caption(spec, rng)
        assert parse_caption(text) == [o.attributes for o in spec.objects], text
        assert set(re.findall(r"[a-z]+", text.lower())) <= vocabulary, text
        background = parse_background(text)
        assert background in (spec.background, None), text
        seen_backgrounds[background is None] += 1
    assert seen_backgrounds[True] > 0 and seen_backgrounds[False] > 0


def test_stream_is_reproducible_and_differs_between_workers():
    first = [c for _, c in itertools.islice(stream(seed=5), 5)]
    again = [c for _, c in itertools.islice(stream(seed=5), 5)]
    other = [c for _, c in itertools.islice(stream(seed=5, worker_id=1), 5)]
    assert first == again and first != other
    canonical = [c for _, c in itertools.islice(stream(seed=5, canonical=True), 20)]
    assert all(c.startswith("a") and c.endswith("background") and " moving " in c for c in canonical)


def test_dataloader_workers_draw_different_samples():
    loader = DataLoader(SyntheticVideoDataset(num_frames=4, resolution=64, seed=0), batch_size=3, num_workers=2)
    batches = list(itertools.islice(iter(loader), 2))  # one batch from each worker
    videos, captions = batches[0]
    assert videos.shape == (3, 4, 64, 64, 3) and str(videos.dtype) == "torch.uint8" and len(captions) == 3
    assert not np.array_equal(batches[0][0].numpy(), batches[1][0].numpy())


def test_long_video_changes_one_thing_per_segment_and_moves_continuously():
    rng = np.random.default_rng(2)
    segments = sample_long(rng, num_frames=96, segment_frames=32, split="train")
    assert [s for s, _ in segments] == [0, 32, 64]
    for (_, prev), (_, spec) in zip(segments, segments[1:]):
        moved = prev.advance(32)
        assert [(o.x, o.y) for o in spec.objects] == [(o.x, o.y) for o in moved.objects]
        changes = (spec.background != prev.background) + sum(
            a != b for o, p in zip(spec.objects, prev.objects) for a, b in zip(o.attributes, p.attributes))
        assert changes == 1
        assert all(triple_split(*o.attributes) == "train" for o in spec.objects)
    assert render_segments(segments, 96).shape == (96, 128, 128, 3)
    video, captions = long_video(np.random.default_rng(2), num_frames=96, segment_frames=32)
    assert video.shape[0] == 96 and [s for s, _ in captions] == [0, 32, 64]
    assert [parse_caption(c) for _, c in captions] == [[o.attributes for o in s.objects] for _, s in segments]


def test_heldout_long_video_stays_heldout():
    segments = sample_long(np.random.default_rng(4), num_frames=320, segment_frames=32, split="heldout")
    assert len(segments) == 10
    for (_, prev), (_, spec) in zip(segments, segments[1:]):
        assert spec != prev
        assert all(triple_split(*o.attributes) == "heldout" for o in spec.objects)
        assert len({o.color for o in spec.objects}) == len(spec.objects)


def test_heldout_evaluation_set_covers_every_triple_on_every_background():
    items = evaluation_set("heldout", n=48, seed=0)
    combos = {(*s.objects[0].attributes, s.background) for s, _ in items}
    assert len(combos) == 48 and {c[:3] for c in combos} == set(HELDOUT_TRIPLES)
    assert eval_prompts("heldout", n=48) == [c for _, c in items]
    assert all(caption(s) == c for s, c in items)
    two = evaluation_set("train", n=10, num_objects=2)
    assert all(len(s.objects) == 2 and len({o.color for o in s.objects}) == 2 for s, _ in two)
    assert all(triple_split(*o.attributes) == "train" for s, _ in two for o in s.objects)
