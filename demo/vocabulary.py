"""What the bundled models know: their domain in words, and the words of a prompt they have never seen.

Every shipped model was trained on the synthetic captions of ``streamdit.data.captions`` (see
docs/architecture.md), so a word outside ``caption_vocabulary()`` has no meaning for it.
"""

from __future__ import annotations

import re

from streamdit.data import BACKGROUND_WORDS, COLOR_WORDS, DIRECTION_PHRASES, SHAPE_WORDS, VERBS, caption_vocabulary

# Words that carry no attribute: harmless in a prompt though the captions never use them.
FILLER = frozenset("the with is are of in its it one".split())
KNOWN = frozenset(caption_vocabulary()) | FILLER
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def unknown_words(prompt: str) -> list[str]:
    """Words of ``prompt`` the model never saw in training, lower case, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for word in WORD.findall(prompt.lower()):
        if word not in KNOWN:
            seen.setdefault(word, None)
    return list(seen)


def quote_list(words: list[str]) -> str:
    """'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def unknown_words_note(words: list[str], limit: int = 6) -> str:
    """Plain text naming unknown words: "'cat' is not something this model has seen ..."; "" for none."""
    if not words:
        return ""
    shown = words[:limit] + ([f"{len(words) - limit} more"] if len(words) > limit else [])
    verb = "is" if len(words) == 1 else "are"
    return (f"{quote_list(shown)} {verb} not something this model has seen: it only knows coloured shapes "
            "moving in four directions on plain backgrounds (see “What this model knows”).")


def _synonyms(table: dict[str, tuple[str, ...]]) -> str:
    return "; ".join(f"**{key}** ({', '.join(p for p in phrases if p != key)})" for key, phrases in table.items())


def domain_markdown() -> str:
    """The paragraph and word list of the page's “What this model knows” section (Markdown)."""
    verbs = ", ".join(sorted({v for pair in VERBS for v in pair}))
    return (
        "The bundled models were trained only on synthetic clips: one or two **coloured shapes** gliding in a "
        "straight line **left, right, up or down** over a **plain background**, 16 frames a second at 128×128 "
        "pixels. They understand prompts made of the words below (synonyms in brackets), such as “a crimson disc "
        "drifting leftward and a cobalt box moving up on a grey backdrop”. Anything else — animals, places, "
        "people, lighting — was never in their training data: they cannot draw it, and such a prompt gives a "
        "plain field or a stray shape (the page names such words as you type). Details, training and scores: "
        "[model card](#model-card).\n\n"
        f"- Colours: {_synonyms(COLOR_WORDS)}\n"
        f"- Shapes: {_synonyms(SHAPE_WORDS)}\n"
        f"- Directions: {_synonyms(DIRECTION_PHRASES)}\n"
        f"- Backgrounds: {_synonyms(BACKGROUND_WORDS)}\n"
        f"- Motion words (all mean the same): {verbs}\n"
        "- Two objects: join them with “and”, e.g. “a red circle moving left and a blue square moving up”."
    )
