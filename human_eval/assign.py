"""Which pair an annotator sees next.

Rules (state is rebuilt from the stored assignments on restart):
- an annotator has at most one open (unanswered) assignment and gets it again until it is answered;
- regular items: a pair this annotator has never been given, among those given to the fewest
  annotators so far (ties broken at random), so every pair is rated about equally often;
- after every ``gold_every`` regular items, one gold item this annotator has not seen (while any remain);
- after every ``repeat_every`` regular items, one planted repeat of an earlier regular item (not the
  latest one), to measure the annotator's consistency; a pair is repeated at most once;
- the left/right sides are drawn at random for each assignment.
A pair's count grows when it is handed out, so an abandoned assignment still counts: at most one
such overcount per annotator, since each annotator holds at most one open assignment.
"""
from __future__ import annotations

import random
import secrets
from collections import Counter
from dataclasses import dataclass, field

from .store import Assignment
from .study import Study


@dataclass
class _Annotator:
    regular: list[str] = field(default_factory=list)  # pair ids in the order given
    gold: set[str] = field(default_factory=set)
    repeated: set[str] = field(default_factory=set)
    answered: int = 0
    open: Assignment | None = None


class Assigner:
    """In-memory assignment state for one study; not thread-safe (the server calls it from one thread)."""

    def __init__(self, study: Study, seed: int | None = None):
        self.study = study
        self._rng = random.Random(seed)
        self._regular = [p.pair_id for p in study.pairs if p.gold is None]
        self._gold = [p.pair_id for p in study.pairs if p.gold is not None]
        self._known = {p.pair_id for p in study.pairs}
        self._count: Counter[str] = Counter({pid: 0 for pid in self._regular})
        self._people: dict[int, _Annotator] = {}
        self.by_id: dict[str, Assignment] = {}
        self.quota = min(study.items_per_annotator or len(self._regular), len(self._regular))

    def replay(self, assignments: list[Assignment], answered: set[str]) -> None:
        """Rebuild state from stored assignments (in the order they were made) and answered ids."""
        for a in assignments:
            if a.pair_id in self._known:
                self._record(a)
                if a.id in answered:
                    self.mark_answered(a.id)

    def total(self) -> int:
        """Items each annotator is shown in all: regular quota plus planned gold items and repeats."""
        s = self.study
        gold = min(len(self._gold), self.quota // s.gold_every) if s.gold_every else 0
        repeats = self.quota // s.repeat_every if s.repeat_every else 0
        return self.quota + gold + repeats

    def progress(self, annotator_id: int) -> tuple[int, int]:
        """(items answered, items planned) for one annotator."""
        return self._people.get(annotator_id, _Annotator()).answered, self.total()

    def counts(self) -> dict[str, int]:
        """How many annotators each regular pair has been given to."""
        return dict(self._count)

    def next(self, annotator_id: int, now: float) -> tuple[Assignment | None, bool]:
        """The annotator's open assignment or a new one (None when done); flag True if new (to be stored)."""
        person = self._people.setdefault(annotator_id, _Annotator())
        if person.open is not None:
            return person.open, False
        pair_id, kind = self._choose(person)
        if pair_id is None:
            return None, False
        a = Assignment(secrets.token_urlsafe(12), annotator_id, pair_id, self._rng.random() < 0.5, kind, now)
        self._record(a)
        return a, True

    def forget(self, a: Assignment) -> None:
        """Undo ``next`` for an assignment that could not be stored."""
        person = self._people[a.annotator_id]
        person.open = None
        del self.by_id[a.id]
        if a.kind == "regular":
            person.regular.remove(a.pair_id)
            self._count[a.pair_id] -= 1
        elif a.kind == "gold":
            person.gold.discard(a.pair_id)
        else:
            person.repeated.discard(a.pair_id)

    def mark_answered(self, assignment_id: str) -> None:
        a = self.by_id[assignment_id]
        person = self._people[a.annotator_id]
        if person.open is not None and person.open.id == assignment_id:
            person.open = None
            person.answered += 1

    def _record(self, a: Assignment) -> None:
        person = self._people.setdefault(a.annotator_id, _Annotator())
        self.by_id[a.id] = a
        person.open = a
        if a.kind == "regular":
            person.regular.append(a.pair_id)
            self._count[a.pair_id] += 1
        elif a.kind == "gold":
            person.gold.add(a.pair_id)
        else:
            person.repeated.add(a.pair_id)

    def _choose(self, person: _Annotator) -> tuple[str | None, str]:
        s, done = self.study, len(person.regular)
        if s.gold_every and len(person.gold) < done // s.gold_every:
            unseen = [g for g in self._gold if g not in person.gold]
            if unseen:
                return self._rng.choice(unseen), "gold"
        if s.repeat_every and len(person.repeated) < done // s.repeat_every:
            earlier = [p for p in person.regular[:-1] if p not in person.repeated]
            if earlier:
                return self._rng.choice(earlier), "repeat"
        if done >= self.quota:
            return None, ""
        seen = set(person.regular)
        fresh = [p for p in self._regular if p not in seen]
        least = min(self._count[p] for p in fresh)
        return self._rng.choice([p for p in fresh if self._count[p] == least]), "regular"
