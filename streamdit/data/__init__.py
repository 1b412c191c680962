"""Synthetic captioned video worlds and their analytic detectors: world v1 here (coloured shapes moving over
grey backgrounds), world v2 in ``streamdit.data.v2`` (scenes at 256x256), both by name in ``worlds``.

``render(sample_spec(rng), 16)`` draws a clip, ``caption(spec, rng)`` describes it, ``SyntheticVideoDataset``
streams training pairs, ``detect_adherence(video, prompt)`` scores a generated video against its prompt.
"""

from .captions import (BACKGROUND_WORDS, COLOR_WORDS, DIRECTION_PHRASES, SHAPE_WORDS, VERBS, caption, caption_vocabulary,
                       parse_background, parse_caption)
from .dataset import (SyntheticVideoDataset, eval_prompts, evaluation_set, long_video, render_segments,
                      sample_long, stream)
from .detector import Detection, detect, detect_adherence, detect_background, object_pixels
from .domain import (BACKGROUNDS, COLORS, DIRECTIONS, HELDOUT_TRIPLES, SHAPES, TRAIN_TRIPLES, Attributes,
                     ObjectSpec, VideoSpec, sample_spec, triple_split)
from .export import write_sample
from .render import render
from . import v2, worlds

__all__ = [
    "BACKGROUND_WORDS", "COLOR_WORDS", "DIRECTION_PHRASES", "SHAPE_WORDS", "VERBS",
    "Attributes", "BACKGROUNDS", "COLORS", "DIRECTIONS", "Detection", "HELDOUT_TRIPLES", "ObjectSpec",
    "SHAPES", "SyntheticVideoDataset", "TRAIN_TRIPLES", "VideoSpec", "caption", "caption_vocabulary", "detect", "detect_adherence", "detect_background",
    "eval_prompts", "object_pixels", "evaluation_set", "long_video", "parse_background", "parse_caption",
    "render", "render_segments", "sample_long", "sample_spec", "stream", "triple_split", "v2", "worlds", "write_sample",
]
