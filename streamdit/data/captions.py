"""Captions of synthetic videos (templates with synonyms) and their parser.

Every synonym maps to exactly one attribute value and the word sets of colours, shapes, directions
and backgrounds are disjoint, so ``parse_caption`` reads any caption made here back without error.
Objects are listed in drawing order, each as "<colour> <shape> <verb> <direction>".
"""

from __future__ import annotations

import re

import numpy as np

from .domain import Attributes, VideoSpec

COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red", "crimson", "scarlet"),
    "yellow": ("yellow", "golden", "lemon"),
    "green": ("green", "emerald", "lime"),
    "cyan": ("cyan", "turquoise", "aqua"),
    "blue": ("blue", "cobalt", "sapphire"),
    "magenta": ("magenta", "pink", "fuchsia"),
}
SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc", "ball", "dot"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle", "pyramid"),
    "diamond": ("diamond", "rhombus", "lozenge"),
}
# The key word of each phrase (its last word) is what the parser reads.
DIRECTION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("left", "to the left", "leftward", "leftwards"),
    "right": ("right", "to the right", "rightward", "rightwards"),
    "up": ("up", "upward", "upwards", "toward the top"),
    "down": ("down", "downward", "downwards", "toward the bottom"),
}
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black", "dark"),
    "gray": ("gray", "grey"),
    "white": ("white", "light", "bright"),
    "gradient": ("gradient", "shaded"),
}
# (present participle, third person) pairs.
VERBS: tuple[tuple[str, str], ...] = (
    ("moving", "moves"), ("drifting", "drifts"), ("sliding", "slides"), ("gliding", "glides"),
    ("travelling", "travels"), ("heading", "heads"), ("floating", "floats"),
)


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {phrase.split()[-1]: key for key, phrases in table.items() for phrase in phrases}


_COLOR_OF, _SHAPE_OF = _lookup(COLOR_WORDS), _lookup(SHAPE_WORDS)
_DIRECTION_OF, _BACKGROUND_OF = _lookup(DIRECTION_PHRASES), _lookup(BACKGROUND_WORDS)


def _pick(rng: np.random.Generator | None, options: tuple) -> object:
    return options[0] if rng is None else options[rng.integers(len(options))]


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def caption(spec: VideoSpec, rng: np.random.Generator | None = None) -> str:
    """A caption of ``spec``; random template and synonyms from ``rng``, the canonical one if ``None``.

    Canonical: "a red circle moving left and a blue square moving up on a black background".
    """
    template = 0 if rng is None else int(rng.choice(4, p=[0.4, 0.25, 0.25, 0.1]))
    verb = _pick(rng, VERBS)[1 if template in (1, 3) else 0]
    parts = []
    for o in spec.objects:
        noun = f"{_pick(rng, COLOR_WORDS[o.color])} {_pick(rng, SHAPE_WORDS[o.shape])}"
        parts.append(f"{_article(noun)} {verb} {_pick(rng, DIRECTION_PHRASES[o.direction])}")
    objects = " and ".join(parts)
    bg = f"{_pick(rng, BACKGROUND_WORDS[spec.background])} {_pick(rng, ('background', 'backdrop'))}"
    if template == 0:
        return f"{objects} on {_article(bg)}"
    if template == 1:
        return f"{objects[0].upper()}{objects[1:]} against {_article(bg)}."
    if template == 2:
        return f"On {_article(bg)}, {objects}."
    return f"{objects[0].upper()}{objects[1:]}."  # the background left unsaid


def caption_vocabulary() -> list[str]:
    """Every word a caption made by ``caption`` can contain (lower case, sorted)."""
    tables = (COLOR_WORDS, SHAPE_WORDS, DIRECTION_PHRASES, BACKGROUND_WORDS)
    phrases = [p for table in tables for ps in table.values() for p in ps] + [v for pair in VERBS for v in pair]
    glue = "a an and on against background backdrop"
    return sorted({w for p in phrases + [glue] for w in p.split()})


def parse_caption(text: str) -> list[Attributes]:
    """The objects a caption describes, in order; the i-th colour, shape and direction word go together."""
    words = re.findall(r"[a-z]+", text.lower())
    colors = [_COLOR_OF[w] for w in words if w in _COLOR_OF]
    shapes = [_SHAPE_OF[w] for w in words if w in _SHAPE_OF]
    directions = [_DIRECTION_OF[w] for w in words if w in _DIRECTION_OF]
    n = max(len(colors), len(shapes), len(directions))
    columns = [xs + [None] * (n - len(xs)) for xs in (colors, shapes, directions)]
    return [Attributes(*a) for a in zip(*columns)]


def parse_background(text: str) -> str | None:
    """The background a caption names, or ``None``."""
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _BACKGROUND_OF:
            return _BACKGROUND_OF[w]
    return None
