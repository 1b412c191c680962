"""From exported answers to tables: annotator quality, pairwise rates, Bradley–Terry ranking, agreement.

Input is the export table (``export.COLUMNS``; ``kind``, ``expected``, ``seconds`` and the later
extension columns are optional so CSVs from other tools work). System comparisons use counted answers
(latest per annotator, pair and question) of regular and repeated pairs; gold items only measure
annotators; skipped items are counted, never compared.

Ties, one rule everywhere: a tie (and a "both bad" answer, which is a tie) is half a win for each
side in the Bradley–Terry fit, in ``score_a`` and in the win-rate heatmap; the sign test leaves ties
out, as a sign test does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import stats
from .export import VotesError, read_answers
from .study import BOTH_BAD, NO_PREFERENCE

REQUIRED = ["annotator", "item_id", "system_left", "system_right", "question", "answer", "winner", "counted"]
CLUSTERS = ("annotator", "prompt", "vote")


def load_votes(votes_csv: str | Path | None = None, db: str | Path | None = None) -> pd.DataFrame:
    """The export table from a CSV written by ``export`` or straight from a database."""
    if (votes_csv is None) == (db is None):
        raise VotesError("give either a votes CSV or a database")
    if db is not None:
        if not Path(db).is_file():
            raise VotesError(f"database {db} not found")
        table = read_answers(db)
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
    table["skipped"] = table["skipped"].fillna("").astype(str) if "skipped" in table else ""
    if "prompt" not in table:
        table["prompt"] = table["item_id"]
    bad = ~(table["winner"].eq(table["system_left"]) | table["winner"].eq(table["system_right"])
            | table["winner"].eq(NO_PREFERENCE)) & ~_skipped(table)
    if bad.any():
        raise VotesError(f"a winner must be system_left, system_right or {NO_PREFERENCE!r}; row "
                         f"{int(np.argmax(bad)) + 2} has {table['winner'][bad].iloc[0]!r}")
    return table


def _skipped(table: pd.DataFrame) -> pd.Series:
    """True on rows of skipped items (export's ``skipped`` column; absent or empty: not skipped)."""
    if "skipped" not in table:
        return pd.Series(False, index=table.index)
    return table["skipped"].fillna("").astype(str) != ""


def skipped_items(table: pd.DataFrame) -> pd.DataFrame:
    """Skipped items per pair, with the reasons given."""
    rows = table[_skipped(table)]
    return (rows.groupby("item_id").agg(skips=("annotator", "size"), reasons=("skipped", lambda r: ", ".join(sorted(set(r)))))
            .reset_index() if len(rows) else pd.DataFrame(columns=["item_id", "skips", "reasons"]))


def annotator_quality(table: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: items, gold accuracy, repeat consistency, median seconds per item."""
    rows = []
    table = table[~_skipped(table)]
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
            "repeat_total": both["item_id"].nunique(),  # repeated items (consistency is over their answers)
            "repeat_consistency": (both["winner"] == both["winner_repeat"]).mean() if len(both) else np.nan,
            "median_seconds": per_item["seconds"].median() if per_item["seconds"].notna().any() else np.nan,
        })
    return pd.DataFrame(rows, columns=["annotator", "items", "gold_total", "gold_accuracy", "repeat_total",
                                       "repeat_consistency", "median_seconds"])


def failing_annotators(quality: pd.DataFrame, min_gold_accuracy: float | None = None,
                       min_consistency: float | None = None, min_median_seconds: float | None = None) -> dict[str, str]:
    """Annotators below any given threshold, with the reason.

    An annotator without data on a criterion does not fail it, but a threshold that no annotator has
    data for (no gold items, no repeats) is a VotesError rather than a filter that silently does nothing.
    """
    for value, column, what in ((min_gold_accuracy, "gold_accuracy", "gold items (--min-gold-accuracy)"),
                                (min_consistency, "repeat_consistency", "repeated items (--min-consistency)"),
                                (min_median_seconds, "median_seconds", "answer times (--min-median-seconds)")):
        if value is not None and quality[column].isna().all():
            raise VotesError(f"the votes have no {what}: that filter cannot be applied; drop it")
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
    """Counted answers on system pairs (no gold), as (question, first, second, outcome, annotator, item_id,
    prompt, both_bad).

    ``first``/``second`` are the two systems in alphabetical order; outcome 0: first wins, 1: tie
    (both_bad included), 2: second wins.
    """
    rows = table[table["counted"] & (table["kind"] != "gold") & ~table["annotator"].isin(exclude) & ~_skipped(table)]
    left, right = rows["system_left"], rows["system_right"]
    first, second = left.where(left < right, right), right.where(left < right, left)
    outcome = np.where(rows["winner"] == NO_PREFERENCE, 1, np.where(rows["winner"] == first, 0, 2))
    prompt = rows["prompt"] if "prompt" in rows else rows["item_id"]
    return pd.DataFrame({"question": rows["question"].to_numpy(), "first": first.to_numpy(),
                         "second": second.to_numpy(), "outcome": outcome,
                         "annotator": rows["annotator"].to_numpy(), "item_id": rows["item_id"].to_numpy(),
                         "prompt": prompt.to_numpy(), "both_bad": (rows["answer"] == BOTH_BAD.id).to_numpy()})


def pairwise_table(comp: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per question and system pair: counts, win/tie/loss rates of ``system_a`` with Wilson intervals,
    ``score_a`` (ties as half), the sign test and its Holm-adjusted p across the pairs of the question."""
    rows = []
    for (question, a, b), g in comp.groupby(["question", "first", "second"], sort=True):
        n = len(g)
        wins, ties, losses = (int((g["outcome"] == o).sum()) for o in (0, 1, 2))
        both_bad = int(g["both_bad"].sum()) if "both_bad" in g else 0
        row = {"question": question, "system_a": a, "system_b": b, "n": n, "wins_a": wins, "ties": ties,
               "wins_b": losses, "both_bad": both_bad, "score_a": (wins + 0.5 * ties) / n}
        for name, k in (("win", wins), ("tie", ties), ("loss", losses)):
            low, high = stats.wilson_interval(k, n, level)
            row.update({f"{name}_rate": k / n, f"{name}_ci_low": low, f"{name}_ci_high": high})
        row["sign_test_p"] = stats.sign_test(wins, losses)
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table["sign_test_p_holm"] = table.groupby("question")["sign_test_p"].transform(lambda p: stats.holm(p.to_numpy()))
    return table


def _cluster_counts(g: pd.DataFrame, index: dict[str, int], cluster: str) -> np.ndarray:
    """Outcome counts per cluster (annotator or prompt), shape (clusters, k, k, 3)."""
    first, second, outcome = g["first"].map(index).to_numpy(), g["second"].map(index).to_numpy(), g["outcome"].to_numpy()
    labels, codes = np.unique(g[cluster].to_numpy(), return_inverse=True)
    counts = np.zeros((len(labels), len(index), len(index), 3))
    np.add.at(counts, (codes, first, second, outcome), 1)
    return counts


def ranking_table(comp: pd.DataFrame, rounds: int = 1000, level: float = 0.95, seed: int = 0,
                  cluster: str = "annotator", anchor: str | None = None, anchor_rating: float = 1000.0) -> pd.DataFrame:
    """Per question: Bradley–Terry score of each system with a bootstrap percentile interval, best first,
    and the same on the Elo scale (``anchor`` at ``anchor_rating``; no anchor: the mean at it).

    ``cluster``: what a bootstrap resample draws with replacement: "annotator" (default; an
    annotator's votes are not independent), "prompt", or "vote" (treats every vote as independent).
    Cluster intervals are widened for the effective number of clusters (``stats.few_clusters_factor``).
    """
    if cluster not in CLUSTERS:
        raise VotesError(f"cluster must be one of {list(CLUSTERS)}, not {cluster!r}")
    if not isinstance(rounds, int) or rounds < 10:
        raise VotesError(f"bootstrap rounds must be a whole number >= 10, not {rounds!r}")
    if not 0 < level < 1:
        raise VotesError(f"interval level must be between 0 and 1, not {level!r}")
    rows = []
    for question, g in comp.groupby("question", sort=True):
        systems = sorted(set(g["first"]) | set(g["second"]))
        if anchor is not None and anchor not in systems:
            raise VotesError(f"anchor system {anchor!r} has no votes on {question!r}; systems: {', '.join(systems)}")
        index = {s: i for i, s in enumerate(systems)}
        counts = stats.outcome_counts(g["first"].map(index).to_numpy(), g["second"].map(index).to_numpy(),
                                      g["outcome"].to_numpy(), len(systems))
        theta = stats.fit_bradley_terry(stats.wins_matrix(counts))
        quantiles = [(1 - level) / 2, (1 + level) / 2]
        if cluster == "vote":
            boot = stats.bootstrap_bradley_terry(counts, rounds, seed)
        else:
            per_cluster = _cluster_counts(g, index, cluster)
            boot = stats.bootstrap_bradley_terry_clusters(per_cluster, rounds, seed)
            # few (or unequal) clusters: widen the percentile interval about the estimate by t/z
            boot = theta + stats.few_clusters_factor(per_cluster.sum(axis=(1, 2, 3)), level) * (boot - theta)
        low, high = np.quantile(boot, quantiles, axis=0)
        a = index[anchor] if anchor is not None else None
        elo, (elo_low, elo_high) = stats.elo(theta, a, anchor_rating), np.quantile(stats.elo(boot, a, anchor_rating),
                                                                                   quantiles, axis=0)
        for i in np.argsort(-theta):
            rows.append({"question": question, "system": systems[i], "bt_score": theta[i], "ci_low": low[i],
                         "ci_high": high[i], "elo": elo[i], "elo_ci_low": elo_low[i], "elo_ci_high": elo_high[i]})
    table = pd.DataFrame(rows, columns=["question", "system", "bt_score", "ci_low", "ci_high", "elo", "elo_ci_low",
                                        "elo_ci_high"])
    table["rank"] = table.groupby("question").cumcount() + 1
    return table


def predicted_win_table(ranking: pd.DataFrame) -> pd.DataFrame:
    """Per question: the fitted model's probability that ``system`` beats ``opponent`` (ties as half)."""
    rows = []
    for question, r in ranking.groupby("question", sort=False):
        names, theta = r["system"].to_list(), r["bt_score"].to_numpy()
        p = stats.predicted_win_rates(theta)
        rows += [{"question": question, "system": names[i], "opponent": names[j], "predicted_win_rate": p[i, j]}
                 for i in range(len(names)) for j in range(len(names)) if i != j]
    return pd.DataFrame(rows, columns=["question", "system", "opponent", "predicted_win_rate"])


def agreement_table(comp: pd.DataFrame) -> pd.DataFrame:
    """Per question: nominal Krippendorff's alpha over pairs rated by several annotators."""
    rows = []
    for question, g in comp.groupby("question", sort=True):
        grid = g.pivot_table(index="annotator", columns="item_id", values="outcome", aggfunc="last")
        multi = int((grid.notna().sum(axis=0) >= 2).sum())
        rows.append({"question": question, "alpha": stats.krippendorff_alpha(grid.to_numpy(dtype=float)),
                     "items_multiply_rated": multi, "annotators": grid.shape[0]})
    return pd.DataFrame(rows, columns=["question", "alpha", "items_multiply_rated", "annotators"])
