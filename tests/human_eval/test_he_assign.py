"""Assignment: balance across pairs, no pair twice per annotator, planted gold items and repeats."""
from __future__ import annotations

from collections import Counter

from human_eval.assign import Assigner
from human_eval.study import load_study


def _rate_all(assigner, annotator_id, now=0.0):
    """Take and answer items until the annotator is done; return the assignments in order."""
    given = []
    while True:
        a, new = assigner.next(annotator_id, now)
        if a is None:
            return given
        assert new
        again, new_again = assigner.next(annotator_id, now)
        assert again == a and not new_again  # an open item is handed out again, not a new one
        assigner.mark_answered(a.id)
        given.append(a)


def test_each_annotator_gets_every_pair_once_plus_gold_and_repeats(study_dir):
    study = load_study(study_dir)
    study.gold_every, study.repeat_every = 4, 5
    assigner = Assigner(study, seed=1)
    given = _rate_all(assigner, 1)
    kinds = Counter(a.kind for a in given)
    regular = [a.pair_id for a in given if a.kind == "regular"]
    assert len(regular) == len(set(regular)) == 12
    assert kinds == {"regular": 12, "gold": 1, "repeat": 2}
    assert assigner.progress(1) == (15, 15) == (len(given), assigner.total())
    first_gold = next(i for i, a in enumerate(given) if a.kind == "gold")
    assert first_gold == 4  # right after the first 4 regular items
    for i, a in enumerate(given):
        if a.kind == "repeat":
            assert a.pair_id in [g.pair_id for g in given[:i - 1] if g.kind == "regular"]
    assert 0 < sum(a.swapped for a in given) < len(given)  # sides are drawn per assignment


def test_pairs_are_rated_about_equally_often(study_dir):
    study = load_study(study_dir)
    study.items_per_annotator, study.gold_every, study.repeat_every = 5, 0, 0
    assigner = Assigner(study, seed=2)
    for annotator in range(1, 11):
        given = _rate_all(assigner, annotator)
        assert len(given) == 5 and len({a.pair_id for a in given}) == 5
    counts = assigner.counts()
    assert sum(counts.values()) == 50
    assert max(counts.values()) - min(counts.values()) <= 1


def test_replay_restores_the_state(study_dir):
    study = load_study(study_dir)
    first = Assigner(study, seed=3)
    made = []
    for annotator in (1, 2):
        for _ in range(4):
            a, _ = first.next(annotator, 0.0)
            first.mark_answered(a.id)
            made.append(a)
    open_item, _ = first.next(1, 0.0)
    made.append(open_item)
    second = Assigner(study, seed=4)
    second.replay(made, {a.id for a in made[:-1]})
    assert second.counts() == first.counts()
    assert second.progress(1) == first.progress(1) == (4, first.total())
    assert second.next(1, 0.0) == (open_item, False)
    nxt, _ = second.next(2, 0.0)
    assert nxt.pair_id not in {a.pair_id for a in made if a.annotator_id == 2}
