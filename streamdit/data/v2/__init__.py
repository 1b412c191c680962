"""World v2: up to three coloured shapes (8 colours, 6 shapes, small or large) moving in 8 directions,
bouncing, circling, spinning or pulsing, slow or fast, over plain or textured backgrounds that may pan.

``render(sample_scene(rng), 32)`` draws a clip at 256x256 (any resolution from the same spec),
``caption(scene, rng)`` describes it, ``stream`` gives training pairs, ``detect_adherence(video, prompt)``
scores a video against its prompt attribute by attribute. v1's words keep their meaning here.
"""

from .captions import caption, caption_vocabulary, parse_scene
from .dataset import eval_prompts, evaluation_set, long_video, render_segments, sample_long, stream
from .detector import MIN_FRAMES, ObjectDetection, SceneDetection, detect_adherence, detect_scene
from .domain import (BACKGROUNDS, CAMERAS, COLORS, DIRECTIONS, HELDOUT_TRIPLES, MOTIONS, SHAPES, SIZES, SPEEDS,
                     TRAIN_TRIPLES, ObjectAttributes, ObjectSpec, SceneAttributes, SceneSpec, sample_scene,
                     triple_split)
from .render import render

__all__ = [
    "BACKGROUNDS", "CAMERAS", "COLORS", "DIRECTIONS", "HELDOUT_TRIPLES", "MIN_FRAMES", "MOTIONS", "SHAPES", "SIZES",
    "SPEEDS", "TRAIN_TRIPLES", "ObjectAttributes", "ObjectDetection", "ObjectSpec", "SceneAttributes",
    "SceneDetection", "SceneSpec", "caption", "caption_vocabulary", "detect_adherence", "detect_scene",
    "eval_prompts", "evaluation_set", "long_video", "parse_scene", "render", "render_segments", "sample_long",
    "sample_scene", "stream", "triple_split",
]
