"""Study definition: the questions (``study.json``/``study.yaml``) and the pairs (``pairs.csv``).

A study directory holds ``pairs.csv`` with columns ``prompt, system_a, video_a, system_b, video_b``
(video paths relative to the directory) and optionally ``pair_id`` and ``gold``. A row whose ``gold``
is ``a``, ``b`` or ``tie`` is an attention/gold item: the owner knows the right answer to the study's
``gold_question`` (e.g. one of the two videos is deliberately broken). Gold items are shown to
annotators like any other pair but are kept out of the system comparison.

The study file (optional; defaults below) sets::

    {"title": "...", "instructions": "...",
     "questions": [{"id": "overall", "text": "Which video is better overall?"}, ...],
                                   # a question may declare its own answers (default: left, tie, right):
                                   # "answers": [{"id": "left", "label": "Left", "prefers": "left"}, ...]
                                   # ("prefers": the side the answer favours; absent: neither, a tie)
     "gold_question": "overall",   # question that gold rows answer (default: the first)
     "gold_every": 10,             # one gold item after every N regular items (0: none)
     "repeat_every": 15,           # one planted repeat after every N regular items (0: none)
     "items_per_annotator": null,  # regular items per annotator (null: every regular pair)
     "both_bad": false,            # offer "both bad" beside tie (aggregated as a tie)
     "allow_unwatched_votes": false}  # accept votes without the page's watch times (clients other than
                                   # the page); the export marks them (column ``unwatched``)

Every video is decoded once when the study loads (``media.probe``): an undecodable one is refused,
named, before any annotator sees it, and so is one whose file carries metadata tags that can name
something (``media.naming_tags``: a title, comment, handler name, encoder, creation time, ...), which the
annotators' browsers would receive; ``python -m human_eval pairs`` writes copies without them.
"""
from __future__ import annotations

import csv
import itertools
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import yaml

from .media import MediaError, VideoInfo, naming_tags, probe

SIDES = ("left", "right")  # where the two videos of a pair are shown
NO_PREFERENCE = "tie"  # the winner of an answer that favours neither side
VIDEO_SUFFIXES = (".mp4", ".webm", ".ogv", ".ogg", ".mov", ".m4v")
PAIR_COLUMNS = ("prompt", "system_a", "video_a", "system_b", "video_b")
STUDY_FILES = ("study.json", "study.yaml", "study.yml")
MAX_PROMPT_CHARS = 4000
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class StudyError(ValueError):
    """A study directory, pairs file or study file that cannot be used (message says why)."""


@dataclass(frozen=True)
class Answer:
    """One choice of a question: ``id`` is stored with the vote, ``label`` is the button's text, ``prefers``
    the side whose video it favours (None: neither, counted as a tie), ``keys`` its keyboard shortcuts."""

    id: str
    label: str
    prefers: str | None = None
    keys: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "prefers": self.prefers, "keys": list(self.keys)}


PREFERENCE = (Answer("left", "Left", "left", ("a", "arrowleft")), Answer("tie", "Tie", None, ("s", "arrowdown")),
              Answer("right", "Right", "right", ("d", "arrowright")))
BOTH_BAD = Answer("both_bad", "Both bad")  # offered beside the no-preference answer with ``both_bad: true``


def answer_winners(answers: Sequence[Answer]) -> dict[str, str]:
    """Answer id -> the side it favours, or ``NO_PREFERENCE``."""
    return {a.id: a.prefers or NO_PREFERENCE for a in answers}


@dataclass(frozen=True)
class Question:
    """What annotators are asked about each pair, and the answers they may give."""

    id: str
    text: str
    answers: tuple[Answer, ...] = PREFERENCE

    def to_dict(self) -> dict:
        out = {"id": self.id, "text": self.text}
        if self.answers != PREFERENCE:
            out["answers"] = [a.to_dict() for a in self.answers]
        return out


QUESTIONS = {q.id: q for q in (
    Question("overall", "Which video has better overall quality?"),
    Question("frame_consistency", "Which video is more consistent from frame to frame (no flicker, no seams, stable objects)?"),
    Question("motion_completeness", "Which video shows more complete motion (the object keeps moving as described)?"),
    Question("motion_naturalness", "Which video has more natural, smooth motion?"),
    Question("text_alignment", "Which video matches the text prompt better?"),
)}
DEFAULT_QUESTIONS = ("overall", "frame_consistency", "motion_naturalness", "text_alignment")
MOVIE_GEN_QUESTIONS = ("overall", "frame_consistency", "motion_completeness", "motion_naturalness", "text_alignment")
_STUDY_KEYS = {"title", "instructions", "questions", "gold_question", "gold_every", "repeat_every",
               "items_per_annotator", "both_bad", "allow_unwatched_votes"}


@dataclass(frozen=True)
class Pair:
    """One row of ``pairs.csv``: two systems' videos for the same prompt."""

    pair_id: str
    prompt: str
    system_a: str
    video_a: str
    system_b: str
    video_b: str
    gold: str | None = None  # "a", "b" or NO_PREFERENCE for gold items

    def expected_winner(self) -> str | None:
        """System name (or ``"tie"``) a careful annotator picks on the gold question."""
        return {"a": self.system_a, "b": self.system_b, NO_PREFERENCE: NO_PREFERENCE, None: None}[self.gold]


@dataclass
class Study:
    root: Path
    pairs: list[Pair]
    questions: list[Question] = field(default_factory=lambda: [QUESTIONS[q] for q in DEFAULT_QUESTIONS])
    title: str = "Video comparison"
    instructions: str = "Watch both videos, then answer each question."
    gold_question: str = "overall"
    gold_every: int = 10
    repeat_every: int = 15
    items_per_annotator: int | None = None
    both_bad: bool = False
    allow_unwatched_votes: bool = False  # votes without watch times accepted (API-only clients), marked in exports
    videos: dict[str, VideoInfo] = field(default_factory=dict)  # probed at load, by path in pairs.csv

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def answers(self, question: Question) -> tuple[Answer, ...]:
        """The answers ``question`` accepts: its own, and "both bad" after the no-preference one where the
        study offers it."""
        if not self.both_bad:
            return question.answers
        at = max((i + 1 for i, a in enumerate(question.answers) if a.prefers is None), default=len(question.answers))
        return (*question.answers[:at], BOTH_BAD, *question.answers[at:])

    @property
    def answer_sets(self) -> dict[str, tuple[Answer, ...]]:
        """Question id -> the answers it accepts."""
        return {q.id: self.answers(q) for q in self.questions}

    def pair(self, pair_id: str) -> Pair:
        return self._by_id[pair_id]

    def video_path(self, relative: str) -> Path:
        """Absolute path of a video named in pairs.csv; refuses anything outside the study directory."""
        return resolve_inside(self.root, relative)

    def __post_init__(self) -> None:
        self._by_id = {p.pair_id: p for p in self.pairs}


def blinding_warnings(study: Study) -> list[str]:
    """Ways the probed videos differ between systems (codec, size, fps, length) that an annotator could
    learn to tell the systems apart by; empty when they do not (e.g. after ``pairs --normalize``)."""
    by_system: dict[str, set] = {}
    for p in study.pairs:
        if p.gold is not None:
            continue
        for system, video in ((p.system_a, p.video_a), (p.system_b, p.video_b)):
            info = study.videos.get(video)
            if info is not None:
                by_system.setdefault(system, set()).add(
                    (("codec", info.codec), ("size", f"{info.width}x{info.height}"), ("fps", f"{info.fps:g}"),
                     ("length", f"{info.seconds:.2f} s")))
    warnings = []
    for index, what in enumerate(("codec", "size", "fps", "length")):
        values = {system: sorted({f[index][1] for f in formats}) for system, formats in sorted(by_system.items())}
        if len({tuple(v) for v in values.values()}) > 1:
            shown = "; ".join(f"{system}: {', '.join(v)}" for system, v in values.items())
            warnings.append(f"videos differ between systems in {what} ({shown}): an annotator can learn to tell "
                            "them apart; `python -m human_eval pairs --normalize` re-encodes them alike")
    return warnings


def resolve_inside(root: Path, relative: str) -> Path:
    """Resolve ``relative`` against ``root``; raise StudyError if it escapes ``root`` (``..``, absolute, links)."""
    if not relative or Path(relative).is_absolute() or "\\" in relative or "\x00" in relative:
        raise StudyError(f"video path {relative!r} must be a relative path inside the study directory")
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise StudyError(f"video path {relative!r} points outside the study directory {root}")
    return path


def load_study(root: str | Path, probe_videos: bool = True) -> Study:
    """Read and validate a study directory; every problem is a StudyError naming file and row.

    ``probe_videos`` decodes every video (refusing one that does not decode); without it only their
    presence is checked.
    """
    root = Path(root)
    if not root.is_dir():
        raise StudyError(f"study directory {root} does not exist")
    settings = _read_settings(root)
    pairs = read_pairs(root / "pairs.csv")
    study = Study(root=root.resolve(), pairs=pairs, **settings)
    _check(study)
    if probe_videos:
        study.videos.update(probe_pairs(study.root, study.pairs))
        check_untagged(study)
    return study


def check_untagged(study: Study) -> None:
    """StudyError naming the first probed video whose file carries tags that can name something
    (``media.naming_tags``), and how many others do."""
    tagged = {video: tags for video, info in sorted(study.videos.items()) if (tags := naming_tags(info))}
    if not tagged:
        return
    video, tags = next(iter(tagged.items()))
    pair = next(p.pair_id for p in study.pairs if video in (p.video_a, p.video_b))
    shown = ", ".join(f"{key}={value!r}" for key, value in list(tags.items())[:4])
    more = f" (and {len(tagged) - 1} more video(s))" if len(tagged) > 1 else ""
    raise StudyError(f"pair {pair}: video {video!r} carries metadata tags an annotator's browser would receive "
                     f"({shown}){more}: build the study with `python -m human_eval pairs`, which copies the videos "
                     "without them")


def probe_pairs(root: Path, pairs: list[Pair]) -> dict[str, VideoInfo]:
    """Decode every video the pairs name (paths relative to ``root``); StudyError naming the first that fails."""
    infos = {}
    for video in sorted({v for p in pairs for v in (p.video_a, p.video_b)}):
        try:
            infos[video] = probe(resolve_inside(Path(root), video))
        except MediaError as err:
            pair = next(p.pair_id for p in pairs if video in (p.video_a, p.video_b))
            raise StudyError(f"pair {pair}: video {video!r} does not decode: replace or remove it ({err})") from err
    return infos


def _read_settings(root: Path) -> dict:
    found = [root / name for name in STUDY_FILES if (root / name).is_file()]
    if len(found) > 1:
        raise StudyError(f"{root} has several study files ({', '.join(p.name for p in found)}): keep one")
    if not found:
        return {}
    path = found[0]
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise StudyError(f"cannot read {path}: {err}") from err
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise StudyError(f"{path} must hold a mapping of settings")
    unknown = set(raw) - _STUDY_KEYS
    if unknown:
        raise StudyError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(_STUDY_KEYS)}")
    settings = dict(raw)
    if "questions" in raw:
        settings["questions"] = _parse_questions(raw["questions"], path)
        settings.setdefault("gold_question", settings["questions"][0].id)
    return settings


def _parse_questions(raw: object, path: Path) -> list[Question]:
    if not isinstance(raw, list) or not raw:
        raise StudyError(f"{path}: 'questions' must be a non-empty list of {{id, text[, answers]}}")
    questions = []
    for q in raw:
        if not isinstance(q, dict) or not {"id", "text"} <= set(q) <= {"id", "text", "answers"}:
            raise StudyError(f"{path}: each question needs the keys 'id' and 'text' (and may have 'answers'), got {q!r}")
        if not isinstance(q["id"], str) or not _ID_RE.match(q["id"]) or not isinstance(q["text"], str):
            raise StudyError(f"{path}: question id {q['id']!r} must be 1-64 letters, digits, '_', '-', '.'")
        answers = _parse_answers(q["answers"], f"{path}: question {q['id']!r}") if "answers" in q else PREFERENCE
        questions.append(Question(q["id"], q["text"], answers))
    if len({q.id for q in questions}) != len(questions):
        raise StudyError(f"{path}: question ids must be unique")
    return questions


def _parse_answers(raw: object, where: str) -> tuple[Answer, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise StudyError(f"{where}: 'answers' must be a list of at least two {{id, label[, prefers, keys]}}")
    answers = []
    for a in raw:
        if not isinstance(a, dict) or not {"id", "label"} <= set(a) <= {"id", "label", "prefers", "keys"}:
            raise StudyError(f"{where}: each answer needs 'id' and 'label' (and may have 'prefers', 'keys'), got {a!r}")
        if not isinstance(a["id"], str) or not _ID_RE.match(a["id"]) or not isinstance(a["label"], str):
            raise StudyError(f"{where}: answer id {a['id']!r} must be 1-64 letters, digits, '_', '-', '.'")
        if a.get("prefers") not in (None, *SIDES):
            raise StudyError(f"{where}: answer {a['id']!r}: prefers must be one of {list(SIDES)} or absent")
        keys = a.get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise StudyError(f"{where}: answer {a['id']!r}: keys must be a list of key names")
        answers.append(Answer(a["id"], a["label"], a.get("prefers"), tuple(k.lower() for k in keys)))
    if len({a.id for a in answers}) != len(answers) or BOTH_BAD.id in {a.id for a in answers}:
        raise StudyError(f"{where}: answer ids must be unique and not {BOTH_BAD.id!r} (both_bad: true offers it)")
    return tuple(answers)


def read_pairs(path: Path) -> list[Pair]:
    """Parse ``pairs.csv`` (header row required); raise StudyError on malformed rows."""
    if not path.is_file():
        raise StudyError(f"{path} is missing: build it with `python -m human_eval pairs` or write it by hand")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in PAIR_COLUMNS if c not in header]
            if missing:
                raise StudyError(f"{path}: missing columns {missing}; need {list(PAIR_COLUMNS)}")
            reader.fieldnames = header
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise StudyError(f"cannot read {path}: {err}") from err
    pairs = []
    for line, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise StudyError(f"{path} line {line}: wrong number of fields")
        row = {k: v.strip() for k, v in row.items()}
        empty = [c for c in PAIR_COLUMNS if not row[c]]
        if empty:
            raise StudyError(f"{path} line {line}: empty {empty}")
        if NO_PREFERENCE in (row["system_a"], row["system_b"]):
            raise StudyError(f"{path} line {line}: {NO_PREFERENCE!r} cannot be a system name (it is a winner)")
        if row["system_a"] == row["system_b"]:
            raise StudyError(f"{path} line {line}: system_a and system_b are both {row['system_a']!r}")
        if len(row["prompt"]) > MAX_PROMPT_CHARS:
            raise StudyError(f"{path} line {line}: prompt longer than {MAX_PROMPT_CHARS} characters")
        gold = row.get("gold", "").lower() or None
        if gold not in (None, "a", "b", NO_PREFERENCE):
            raise StudyError(f"{path} line {line}: gold must be a, b, {NO_PREFERENCE} or empty, got {row['gold']!r}")
        pair_id = row.get("pair_id") or f"p{line - 1:04d}"
        if not _ID_RE.match(pair_id):
            raise StudyError(f"{path} line {line}: pair_id {pair_id!r} must be 1-64 letters, digits, '_', '-', '.'")
        pairs.append(Pair(pair_id, row["prompt"], row["system_a"], row["video_a"], row["system_b"],
                          row["video_b"], gold))
    if not pairs:
        raise StudyError(f"{path} has no pairs")
    ids = [p.pair_id for p in pairs]
    if len(set(ids)) != len(ids):
        raise StudyError(f"{path}: duplicate pair_id {sorted({i for i in ids if ids.count(i) > 1})}")
    return pairs


def _check(study: Study) -> None:
    if study.gold_question not in study.question_ids:
        raise StudyError(f"gold_question {study.gold_question!r} is not one of {study.question_ids}")
    for name in ("gold_every", "repeat_every"):
        value = getattr(study, name)
        if not isinstance(value, int) or value < 0:
            raise StudyError(f"{name} must be an integer >= 0")
    for name in ("both_bad", "allow_unwatched_votes"):
        if not isinstance(getattr(study, name), bool):
            raise StudyError(f"{name} must be true or false")
    if study.repeat_every == 1:
        raise StudyError("repeat_every must be 0 (no repeats) or at least 2")
    n = study.items_per_annotator
    if n is not None and (not isinstance(n, int) or n < 1):
        raise StudyError("items_per_annotator must be a positive integer or null")
    if not any(p.gold is None for p in study.pairs):
        raise StudyError("pairs.csv has only gold rows: add pairs of the systems to compare")
    for p in study.pairs:
        for video in (p.video_a, p.video_b):
            path = study.video_path(video)
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                raise StudyError(f"pair {p.pair_id}: {video!r} is not a video file ({', '.join(VIDEO_SUFFIXES)})")
            if not path.is_file():
                raise StudyError(f"pair {p.pair_id}: video {video!r} not found in {study.root}")


def build_pairs(root: str | Path, system_dirs: list[str | Path], prompts: dict[str, str] | None = None,
                per_prompt: int | None = None, seed: int = 0) -> list[Pair]:
    """Pairs of systems' videos of the same prompt, from one folder of videos per system.

    Videos match across folders by file stem (``0001.mp4`` in every folder is prompt ``0001``); the
    folder name is the system name; ``prompts`` maps stems to prompt texts (default: the stem). With
    ``per_prompt=None`` every system pair is made for every prompt; with ``per_prompt=k`` each prompt
    gets the k system pairs used least so far (ties at random), so each pair of systems is compared
    about equally often. Folders must lie inside ``root`` so pairs.csv can name them relatively.
    """
    root = Path(root).resolve()
    videos: dict[str, dict[str, str]] = {}
    for folder in map(Path, system_dirs):
        folder = folder.resolve()
        if not folder.is_dir():
            raise StudyError(f"system folder {folder} does not exist")
        if not folder.is_relative_to(root):
            raise StudyError(f"system folder {folder} is not inside the study directory {root}: move or copy it there")
        if folder.name in videos:
            raise StudyError(f"two system folders are named {folder.name!r}")
        videos[folder.name] = {v.stem: v.relative_to(root).as_posix() for v in sorted(folder.iterdir())
                               if v.is_file() and v.suffix.lower() in VIDEO_SUFFIXES}
    if len(videos) < 2:
        raise StudyError("need at least two system folders")
    system_pairs = list(itertools.combinations(sorted(videos), 2))
    stems = sorted(set().union(*(set(v) for v in videos.values())))
    if per_prompt is not None and not 1 <= per_prompt <= len(system_pairs):
        raise StudyError(f"per_prompt must be between 1 and {len(system_pairs)}")
    rng = random.Random(seed)
    used = dict.fromkeys(system_pairs, 0)
    pairs = []
    for stem in stems:
        have = [sp for sp in system_pairs if stem in videos[sp[0]] and stem in videos[sp[1]]]
        if per_prompt is not None:
            rng.shuffle(have)
            have = sorted(have, key=used.get)[:per_prompt]  # least used first; shuffle breaks ties
            for sp in have:
                used[sp] += 1
        for a, b in have:
            pairs.append(Pair(f"p{len(pairs) + 1:04d}", (prompts or {}).get(stem, stem),
                              a, videos[a][stem], b, videos[b][stem]))
    if not pairs:
        raise StudyError("no prompt has videos from two systems (videos match by file name)")
    return pairs


def write_pairs(pairs: list[Pair], path: str | Path) -> None:
    """Write pairs as ``pairs.csv``."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("pair_id", *PAIR_COLUMNS, "gold"))
        for p in pairs:
            writer.writerow((p.pair_id, p.prompt, p.system_a, p.video_a, p.system_b, p.video_b, p.gold or ""))


def write_study_file(study: Study, path: str | Path) -> None:
    """Write the study's settings and questions as ``study.json`` (what ``load_study`` reads back)."""
    settings = {"title": study.title, "instructions": study.instructions,
                "questions": [q.to_dict() for q in study.questions],
                "gold_question": study.gold_question, "gold_every": study.gold_every,
                "repeat_every": study.repeat_every, "items_per_annotator": study.items_per_annotator,
                "both_bad": study.both_bad, "allow_unwatched_votes": study.allow_unwatched_votes}
    Path(path).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def write_default_study(path: str | Path) -> None:
    """Write a study.json with the default questions and settings, for the owner to edit."""
    write_study_file(Study(root=Path("."), pairs=[]), path)
