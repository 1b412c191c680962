"""From exported answers to tables: annotator quality, pairwise rates, Bradley–Terry ranking, agreement.

Input is the export table (``export.COLUMNS``; ``kind``, ``expected`` and ``seconds`` are optional so
CSVs from other tools work). System comparisons use counted answers (latest per annotator, pair and
question) of regular and repeated pairs; gold items only measure annotators.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import stats
from .export import VotesError, answer_rows
from .store import Store

REQUIRED = ["annotator", "item_id", "system_left", "system_right", "question", "answer", "winner", "counted"]


def load_votes(votes_csv: str | Path | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """The export table from a CSV written by ``export`` or straight from a database."""
    if (votes_csv is None) == (db is None):
        raise VotesError("give either a votes CSV or a database")
    if db is not None:
        if not Path(db).is_file():
            raise VotesError(f"database {db} not found")
        store = Store(db)
        try:
            table = answer_rows(store.vote_rows())
        finally:
            store.close()
    else:
        try:
            table = pd.read_csv(votes_csv, dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise VotesError(f"cannot read {votes_csv}: {err}") from err
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise VotesError(f"votes lack columns {missing}")
    table = table.copy()
    table["counted"] = table["counted"].astype(str).str.lower().isin(["true", "1"])
    table["kind"] = table["kind"] if "kind" in table else "regular"
    table["expected"] = table["expected"] if "expected" in table else ""
    table["seconds"] = pd.to_numeric(table["seconds"], errors="coerce") if "seconds" in table else np.nan
    bad = ~table["answer"].isin(["left", "right", "tie"])
    if bad.any():
        raise VotesError(f"answers must be left, right or tie; row {int(np.argmax(bad)) + 2} has {table['answer'][bad].iloc[0]!r}")
    return table


def annotator_quality(table: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: items, gold accuracy, repeat consistency, median seconds per item."""
    rows = []
    for name, mine in table.groupby("annotator", sort=True):
        gold = mine[mine["expected"] != ""].drop_duplicates(["item_id", "question"], keep="last")
        first = mine[mine["kind"] == "regular"].drop_duplicates(["item_id", "question"], keep="last")
        again = mine[mine["kind"] == "repeat"].drop_duplicates(["item_id", "question"], keep="last")
        both = first.merge(again, on=["item_id", "question"], suffixes=("", "_repeat"))
        per_item = mine.drop_duplicates("assignment_id") if "assignment_id" in mine else mine
        rows.append({
            "annotator": name,
            "items": mine["item_id"].nunique(),
            "gold_total": len(gold),
            "gold_accuracy": (gold["winner"] == gold["expected"]).mean() if len(gold) else np.nan,
            "repeat_total": len(both),
            "repeat_consistency": (both["winner"] == both["winner_repeat"]).mean() if len(both) else np.nan,
            "median_seconds": per_item["seconds"].median(),
        })
    return pd.DataFrame(rows, columns=["annotator", "items", "gold_total", "gold_accuracy", "repeat_total",
                                       "repeat_consistency", "median_seconds"])


def failing_annotators(quality: pd.DataFrame, min_gold_accuracy: float | None = None,
                       min_consistency: float | None = None, min_median_seconds: float | None = None) -> dict[str, str]:
    """Annotators below any given threshold, with the reason (no data on a criterion is no failure)."""
    failed = {}
    for _, q in quality.iterrows():
        reasons = []
        if min_gold_accuracy is not None and q["gold_accuracy"] < min_gold_accuracy:
            reasons.append(f"gold accuracy {q['gold_accuracy']:.2f} < {min_gold_accuracy}")
        if min_consistency is not None and q["repeat_consistency"] < min_consistency:
            reasons.append(f"repeat consistency {q['repeat_consistency']:.2f} < {min_consistency}")
        if min_median_seconds is not None and q["median_seconds"] < min_median_seconds:
            reasons.append(f"median {q['median_seconds']:.1f} s per item < {min_median_seconds}")
        if reasons:
            failed[q["annotator"]] = "; ".join(reasons)
    return failed


def comparisons(table: pd.DataFrame, exclude: set[str] = frozenset()) -> pd.DataFrame:
    """Counted answers on system pairs (no gold), as (question, first, second, outcome, annotator, item_id).

    ``first``/``second`` are the two systems in alphabetical order; outcome 0: first wins, 1: tie, 2: second wins.
    """
    rows = table[table["counted"] & (table["kind"] != "gold") & ~table["annotator"].isin(exclude)]
    left, right = rows["system_left"], rows["system_right"]
    first, second = left.where(left < right, right), right.where(left < right, left)
    outcome = np.where(rows["winner"] == "tie", 1, np.where(rows["winner"] == first, 0, 2))
    return pd.DataFrame({"question": rows["question"].to_numpy(), "first": first.to_numpy(),
                         "second": second.to_numpy(), "outcome": outcome,
                         "annotator": rows["annotator"].to_numpy(), "item_id": rows["item_id"].to_numpy()})


def pairwise_table(comp: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per question and system pair: counts, win/tie/loss rates of ``system_a`` with Wilson intervals, sign test."""
    rows = []
    for (question, a, b), g in comp.groupby(["question", "first", "second"], sort=True):
        n = len(g)
        wins, ties, losses = (int((g["outcome"] == o).sum()) for o in (0, 1, 2))
        row = {"question": question, "system_a": a, "system_b": b, "n": n, "wins_a": wins, "ties": ties, "wins_b": losses}
        for name, k in (("win", wins), ("tie", ties), ("loss", losses)):
            low, high = stats.wilson_interval(k, n, level)
            row.update({f"{name}_rate": k / n, f"{name}_ci_low": low, f"{name}_ci_high": high})
        row["sign_test_p"] = stats.sign_test(wins, losses)
        rows.append(row)
    return pd.DataFrame(rows)


def ranking_table(comp: pd.DataFrame, rounds: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per question: Bradley–Terry score of each system with a bootstrap percentile interval, best first."""
    rows = []
    for question, g in comp.groupby("question", sort=True):
        systems = sorted(set(g["first"]) | set(g["second"]))
        index = {s: i for i, s in enumerate(systems)}
        counts = stats.outcome_counts(g["first"].map(index).to_numpy(), g["second"].map(index).to_numpy(),
                                      g["outcome"].to_numpy(), len(systems))
        theta = stats.bradley_terry(stats.wins_matrix(counts))
        boot = stats.bootstrap_bradley_terry(counts, rounds, seed)
        low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
        for i in np.argsort(-theta):
            rows.append({"question": question, "system": systems[i], "bt_score": theta[i],
                         "ci_low": low[i], "ci_high": high[i]})
    table = pd.DataFrame(rows, columns=["question", "system", "bt_score", "ci_low", "ci_high"])
    table["rank"] = table.groupby("question").cumcount() + 1
    return table


def agreement_table(comp: pd.DataFrame) -> pd.DataFrame:
    """Per question: nominal Krippendorff's alpha over pairs rated by several annotators."""
    rows = []
    for question, g in comp.groupby("question", sort=True):
        grid = g.pivot_table(index="annotator", columns="item_id", values="outcome", aggfunc="last")
        multi = int((grid.notna().sum(axis=0) >= 2).sum())
        rows.append({"question": question, "alpha": stats.krippendorff_alpha(grid.to_numpy(dtype=float)),
                     "items_multiply_rated": multi, "annotators": grid.shape[0]})
    return pd.DataFrame(rows, columns=["question", "alpha", "items_multiply_rated", "annotators"])
