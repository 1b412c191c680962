"""What a served model knows: its world's domain in words, and the words of a prompt it has never seen.

A model is trained on the synthetic captions of one world (``PipelineConfig.world``, docs/architecture.md):
``v1`` (``streamdit.data.captions``) or ``v2`` (``streamdit.data.v2``), so a word outside that world's
``caption_vocabulary()`` has no meaning for it.
"""

from __future__ import annotations

import re

from streamdit.data import BACKGROUND_WORDS, COLOR_WORDS, DIRECTION_PHRASES, SHAPE_WORDS, VERBS, caption_vocabulary, v2

V2 = v2.captions  # world v2's word tables (its package exports only the functions)
# Words that carry no attribute: harmless in a prompt though the captions never use them.
FILLER = frozenset("the with is are of in its it one".split())
# v2's parser also reads these, though its captions never use them ("panned" as a pan, "towards" as glue).
FILLER_V2 = FILLER | {"towards", "panned"}
KNOWN = {"v1": frozenset(caption_vocabulary()) | FILLER, "v2": frozenset(v2.caption_vocabulary()) | FILLER_V2}
# What each world's models know, in a phrase ("it only knows ...").
KNOWS = {"v1": "coloured shapes moving left, right, up or down on plain backgrounds",
         "v2": "up to three coloured shapes moving, bouncing, circling, spinning or pulsing over plain or textured "
               "backgrounds"}
# The prompt each domain text quotes (its world's parser reads it back whole).
EXAMPLE = {"v1": "a crimson disc drifting leftward and a cobalt box moving up on a grey backdrop",
           "v2": "a small orange star spinning quickly and a big cobalt box moving slowly up and to the left on a "
                 "striped background, as the camera pans right"}
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def check_world(world: str) -> str:
    """``world`` if the demo knows it; ``ValueError`` otherwise."""
    if world not in KNOWN:
        raise ValueError(f"unknown world {world!r}: choose one of {tuple(KNOWN)}")
    return world


def unknown_words(prompt: str, world: str = "v1") -> list[str]:
    """Words of ``prompt`` a model of ``world`` never saw in training, lower case, each once, in order of appearance."""
    known = KNOWN[check_world(world)]
    seen: dict[str, None] = {}
    for word in WORD.findall(prompt.lower()):
        if word not in known:
            seen.setdefault(word, None)
    return list(seen)


def quote_list(words: list[str]) -> str:
    """'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def unknown_words_note(words: list[str], world: str = "v1", limit: int = 6) -> str:
    """Plain text naming unknown words: "'cat' is not something this model has seen ..."; "" for none."""
    if not words:
        return ""
    shown = words[:limit] + ([f"{len(words) - limit} more"] if len(words) > limit else [])
    verb = "is" if len(words) == 1 else "are"
    return (f"{quote_list(shown)} {verb} not something this model has seen: it only knows "
            f"{KNOWS[check_world(world)]} (see “What this model knows”).")


def _synonyms(table: dict[str, tuple[str, ...]]) -> str:
    """"**red** (crimson, scarlet); ...": each value's first phrase, then its others."""
    return "; ".join(f"**{first}** ({', '.join(others)})" for first, *others in table.values())


def _prompts_and_limits(world: str) -> str:
    return (f"They understand prompts made of the words below (synonyms in brackets), such as “{EXAMPLE[world]}”. "
            "Anything else — animals, places, people, lighting — was never in their training data: they cannot "
            "draw it, and such a prompt gives a plain field or a stray shape (the page names such words as you "
            "type). Details, training and scores: [model card](#model-card).\n\n")


def _domain_v1() -> str:
    verbs = ", ".join(sorted({v for pair in VERBS for v in pair}))
    return (
        "The bundled models were trained only on synthetic clips: one or two **coloured shapes** gliding in a "
        "straight line **left, right, up or down** over a **plain background**, 16 frames a second at 128×128 "
        "pixels. " + _prompts_and_limits("v1") +
        f"- Colours: {_synonyms(COLOR_WORDS)}\n"
        f"- Shapes: {_synonyms(SHAPE_WORDS)}\n"
        f"- Directions: {_synonyms(DIRECTION_PHRASES)}\n"
        f"- Backgrounds: {_synonyms(BACKGROUND_WORDS)}\n"
        f"- Motion words (all mean the same): {verbs}\n"
        "- Two objects: join them with “and”, e.g. “a red circle moving left and a blue square moving up”."
    )


def _domain_v2() -> str:
    verbs = ", ".join(sorted({v for pair in V2.VERBS for v in pair}))
    motions = {m: tuple(w for pair in phrases for w in pair) for m, phrases in V2.MOTION_PHRASES.items()}
    pans = ", ".join(sorted({phrase.split()[0] for phrase in V2.PAN_WORDS}))
    return (
        "This world's models were trained only on synthetic clips: up to three **coloured shapes**, **small or "
        "large**, gliding in a straight line in **eight directions** (the diagonals too), **bouncing**, "
        "**circling**, **spinning** or **pulsing**, **slowly or quickly**, over a **plain or textured background** "
        "(stripes, checks, dots, grass, sand or sky) that the **camera** may pan across, 16 frames a second at "
        "256×256 pixels. " + _prompts_and_limits("v2") +
        f"- Colours: {_synonyms(V2.COLOR_WORDS)}\n"
        f"- Shapes: {_synonyms(V2.SHAPE_WORDS)}\n"
        f"- Sizes: {_synonyms(V2.SIZE_WORDS)}\n"
        f"- Straight motion: a motion word (all mean the same: {verbs}) and a direction: "
        f"{_synonyms(V2.DIRECTION_PHRASES)}\n"
        f"- Other motions: {_synonyms(motions)}\n"
        f"- Speeds (straight, circling and spinning objects): {_synonyms(V2.SPEED_WORDS)}\n"
        f"- Backgrounds, as in “on a striped background” or “against a dotted backdrop”: "
        f"{_synonyms(V2.BACKGROUND_WORDS)}; or a scene: {_synonyms(V2.SCENE_PHRASES)}\n"
        f"- Camera (textured backgrounds only; the sky only sideways): {pans} and a direction, as in “as the camera "
        f"pans left”, “while the camera pans to the right” or “with the camera panning up”; or still: "
        f"{'; '.join(V2.STATIC_PHRASES)}\n"
        "- Up to three objects: join them with “and”, each in a colour of its own, at most one bouncing."
    )


def domain_markdown(world: str = "v1") -> str:
    """The paragraph and word list of the page's “What this model knows” section for ``world`` (Markdown)."""
    return _domain_v1() if check_world(world) == "v1" else _domain_v2()
