"""World-v2 captions (templates with synonyms) and their parser.

An object reads "<article> [size] <colour> <shape> <motion>", e.g. "a small red star spinning quickly" or
"a big cobalt box moving slowly up and to the left"; objects are joined by "and", the background follows
("on a striped background", "over a grassy meadow") and a camera phrase may come first or last ("as the
camera pans left", "with a static camera"). Every word that carries meaning belongs to exactly one
attribute value, so ``parse_scene`` reads any caption made here back. World v1's words keep their
meaning: v1's colour, shape, direction and background synonyms are all here, and a v1 caption parses to
the same objects (the motion being v1's direction).
"""

from __future__ import annotations

import re

import numpy as np

from .. import captions as v1
from .domain import DIRECTIONS, ObjectAttributes, SceneAttributes, SceneSpec, has_speed

# v1's tables, extended: every v1 word keeps its meaning.
COLOR_WORDS: dict[str, tuple[str, ...]] = {
    **v1.COLOR_WORDS, "orange": ("orange", "tangerine", "amber"), "purple": ("purple", "violet", "indigo")}
SHAPE_WORDS: dict[str, tuple[str, ...]] = {**v1.SHAPE_WORDS, "star": ("star", "pentagram"), "cross": ("cross", "plus")}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big", "huge")}
SPEED_WORDS: dict[str, tuple[str, ...]] = {"slow": ("slowly", "gently", "leisurely"),
                                           "fast": ("quickly", "fast", "rapidly", "swiftly")}
DIRECTION_PHRASES: dict[str, tuple[str, ...]] = {
    **v1.DIRECTION_PHRASES,
    **{f"{v}-{h}": (f"{v}-{h}", f"{v} and to the {h}", f"toward the {'top' if v == 'up' else 'bottom'} {h}",
                    f"diagonally {v}-{h}") for v in ("up", "down") for h in ("left", "right")},
}
# (present participle, third person) phrases; straight motion uses VERBS and a direction.
MOTION_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "bounce": (("bouncing", "bounces"), ("hopping", "hops"), ("bouncing in place", "bounces in place")),
    "circle": (("circling", "circles"), ("going round in circles", "goes round in circles"), ("orbiting", "orbits")),
    "spin": (("spinning", "spins"), ("rotating", "rotates"), ("twirling", "twirls"), ("turning in place", "turns in place")),
    "pulse": (("growing and shrinking", "grows and shrinks"), ("pulsing", "pulses"), ("pulsating", "pulsates"),
              ("throbbing", "throbs")),
}
VERBS = v1.VERBS
# Backgrounds: v1's words (an adjective before "background"/"backdrop") and whole phrases for the textures.
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    **v1.BACKGROUND_WORDS, "stripes": ("striped", "stripy"), "checks": ("checkered", "chequered", "checkerboard"),
    "dots": ("dotted", "spotted"),
}
SCENE_PHRASES: dict[str, tuple[str, ...]] = {
    "grass": ("over grass", "on a grassy meadow", "on a lawn"),
    "sand": ("on sand", "in a sandy desert", "over sand dunes"),
    "sky": ("against the sky", "under a cloudy sky above the horizon", "in front of the horizon"),
}
PAN_WORDS = ("pans", "panning", "pan", "pans to the", "panning to the")  # "the camera <pan word> <direction>"
STATIC_PHRASES = ("with a static camera", "the camera still", "with a fixed camera", "the camera steady")

_GLUE = "a an and the on against in over of to with as while camera background backdrop place like"


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """word -> value for every word of each value's phrases that is not glue."""
    glue = set(_GLUE.split())
    return {w: key for key, phrases in table.items() for p in phrases for w in re.findall(r"[a-z]+", p)
            if w not in glue}


_COLOR_OF, _SHAPE_OF, _SIZE_OF, _SPEED_OF = (_lookup(t) for t in (COLOR_WORDS, SHAPE_WORDS, SIZE_WORDS, SPEED_WORDS))
_BACKGROUND_OF = {**_lookup(BACKGROUND_WORDS), **_lookup(SCENE_PHRASES)}
_MOTION_OF = _lookup({m: tuple(w for pair in ps for w in pair) for m, ps in MOTION_PHRASES.items()})
# Direction words: each is a vertical or a horizontal component (a diagonal is one of each).
_COMPONENT_OF = {"left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right",
                 "rightwards": "right", "up": "up", "upward": "up", "upwards": "up", "top": "up",
                 "down": "down", "downward": "down", "downwards": "down", "bottom": "down"}
_PAN = {"pan", "pans", "panning", "panned"}
_STATIC = {"static", "still", "fixed", "steady"}
_FILLER = set(_GLUE.split()) | {"diagonally", "toward", "towards", "is", "it", "round", "circles"} | \
    {w for pair in VERBS for w in pair}


def _pick(rng: np.random.Generator | None, options: tuple) -> object:
    return options[0] if rng is None else options[rng.integers(len(options))]


def _article(words: str) -> str:
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"


def _object_phrase(obj, rng: np.random.Generator | None, third_person: bool) -> str:
    """"a small red star spinning quickly"; with ``rng``, size and speed are each left out 1 time in 4."""
    size = "" if rng is not None and rng.uniform() < 0.25 else _pick(rng, SIZE_WORDS[obj.size]) + " "
    noun = f"{size}{_pick(rng, COLOR_WORDS[obj.color])} {_pick(rng, SHAPE_WORDS[obj.shape])}"
    speed = ""
    if obj.speed is not None and not (rng is not None and rng.uniform() < 0.25):
        speed = " " + _pick(rng, SPEED_WORDS[obj.speed])
    if obj.motion in DIRECTIONS:
        verb = _pick(rng, VERBS)[int(third_person)]
        motion = f"{verb}{speed} {_pick(rng, DIRECTION_PHRASES[obj.motion])}"
    else:
        motion = _pick(rng, MOTION_PHRASES[obj.motion])[int(third_person)] + speed
    return f"{_article(noun)} {motion}"


def _background_phrase(kind: str, rng: np.random.Generator | None) -> str:
    if kind in SCENE_PHRASES:
        return _pick(rng, SCENE_PHRASES[kind])
    noun = _pick(rng, ("background", "backdrop"))
    preposition = "on" if rng is None else _pick(rng, ("on", "against"))
    return f"{preposition} {_article(_pick(rng, BACKGROUND_WORDS[kind]) + ' ' + noun)}"


def _camera_phrase(spec: SceneSpec, rng: np.random.Generator | None) -> str:
    """"" on a plain background (no pan can show there); else a pan or a static camera."""
    if spec.background in ("black", "gray", "white", "gradient"):
        return ""
    if spec.camera == "static":
        return _pick(rng, STATIC_PHRASES)
    lead = _pick(rng, ("as the camera", "while the camera", "the camera", "with the camera"))
    verb = "panning" if lead in ("the camera", "with the camera") else "pans"
    return f"{lead} {verb} {_pick(rng, DIRECTION_PHRASES[spec.camera][:2])}"


def caption(spec: SceneSpec, rng: np.random.Generator | None = None) -> str:
    """A caption of ``spec``: random template and synonyms from ``rng``, the canonical one if ``None``.

    Canonical: "a small red circle moving slowly left and a large blue star spinning quickly on a striped
    background, as the camera pans right". The canonical caption states every attribute.
    """
    template = 0 if rng is None else int(rng.choice(3, p=[0.5, 0.3, 0.2]))
    third = template == 1
    objects = " and ".join(_object_phrase(o, rng, third) for o in spec.objects)
    background, camera = _background_phrase(spec.background, rng), _camera_phrase(spec, rng)
    if template == 2:  # background first, then the camera: "On a dotted backdrop, the camera still, a red ..."
        lead = ", ".join(p for p in (background, camera) if p)
        return f"{lead[0].upper()}{lead[1:]}, {objects}."
    text = f"{objects} {background}" + (f", {camera}" if camera else "")
    return f"{text[0].upper()}{text[1:]}." if third else text


def caption_vocabulary() -> list[str]:
    """Every word a caption made by ``caption`` can contain (lower case, sorted)."""
    tables = (COLOR_WORDS, SHAPE_WORDS, SIZE_WORDS, SPEED_WORDS, DIRECTION_PHRASES, BACKGROUND_WORDS, SCENE_PHRASES)
    phrases = [p for table in tables for ps in table.values() for p in ps]
    phrases += [w for ps in MOTION_PHRASES.values() for pair in ps for w in pair] + [v for pair in VERBS for v in pair]
    phrases += list(PAN_WORDS) + list(STATIC_PHRASES) + ["as while", _GLUE]
    return sorted({w for p in phrases for w in re.findall(r"[a-z]+", p)})


def _direction(components: list[str]) -> str | None:
    """The direction the components of one phrase name: the first, or the diagonal of the first vertical and
    the first horizontal one."""
    vertical = [c for c in components if c in ("up", "down")]
    horizontal = [c for c in components if c in ("left", "right")]
    if vertical and horizontal:
        return f"{vertical[0]}-{horizontal[0]}"
    return components[0] if components else None


def _finish(fields: dict, components: list[str]) -> ObjectAttributes:
    motion = fields.get("motion") or _direction(components)
    speed = fields.get("speed") if motion is None or has_speed(motion) else None
    return ObjectAttributes(fields.get("color"), fields.get("shape"), motion, fields.get("size"), speed)


def parse_scene(text: str) -> SceneAttributes:
    """The objects (in order), background and camera a caption describes.

    A new object starts at a size, colour or shape word that follows the current object's shape; direction
    words right after a pan word belong to the camera.
    """
    objects: list[ObjectAttributes] = []
    fields: dict[str, str] = {}
    components: list[str] = []
    background = camera = None
    camera_words: list[str] | None = None  # collecting the direction after a pan word
    for word in re.findall(r"[a-z]+", text.lower()):
        if camera_words is not None:
            if word in _COMPONENT_OF:
                camera_words.append(_COMPONENT_OF[word])
                continue
            if word in _FILLER and not camera_words:
                continue
            camera, camera_words = _direction(camera_words) or camera, None
        if word in _PAN:
            camera_words = []
        elif word in _STATIC:
            camera = "static"
        elif word in _BACKGROUND_OF:
            background = background or _BACKGROUND_OF[word]
        elif word in _SIZE_OF or word in _COLOR_OF or word in _SHAPE_OF:
            field = "size" if word in _SIZE_OF else "color" if word in _COLOR_OF else "shape"
            if "shape" in fields or field in fields:
                objects.append(_finish(fields, components))
                fields, components = {}, []
            fields[field] = (_SIZE_OF if field == "size" else _COLOR_OF if field == "color" else _SHAPE_OF)[word]
        elif word in _MOTION_OF:
            fields.setdefault("motion", _MOTION_OF[word])
        elif word in _SPEED_OF:
            fields.setdefault("speed", _SPEED_OF[word])
        elif word in _COMPONENT_OF:
            components.append(_COMPONENT_OF[word])
    if camera_words:
        camera = _direction(camera_words)
    if fields or components:
        objects.append(_finish(fields, components))
    return SceneAttributes(tuple(objects), background, camera)
