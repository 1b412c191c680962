"""Aggregation against hand computations and simulated Bradley–Terry votes."""
from __future__ import annotations

import math

import choix
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from human_eval import aggregate, stats
from human_eval.export import COLUMNS, VotesError
from human_eval.report import write_report
from human_eval.simulate import Scenario, coverage


def _table(records) -> pd.DataFrame:
    """Export-format rows from (annotator, item, left, right, question, answer[, kind, expected, seconds])."""
    rows = []
    for i, r in enumerate(records):
        annotator, item, left, right, question, answer, *rest = r
        kind, expected, seconds = (rest + ["regular", "", 10.0][len(rest):])[:3]
        rows.append({"annotator": annotator, "item_id": item, "prompt": "p", "system_left": left, "system_right": right,
                     "question": question, "answer": answer,
                     "winner": {"left": left, "right": right, "tie": "tie"}[answer], "created_at": "",
                     "client_vote_id": f"c{i}", "counted": True, "kind": kind, "assignment_id": f"a{i}",
                     "seconds": seconds, "expected": expected})
    return pd.DataFrame(rows, columns=COLUMNS)


def test_win_rates_and_sign_test_match_hand_computation():
    # A beats B 7 times (4 shown left, 3 shown right), 2 ties, B beats A 3 times.
    votes = ([("u", f"i{i}", "A", "B", "overall", "left") for i in range(4)]
             + [("u", f"j{i}", "B", "A", "overall", "right") for i in range(3)]
             + [("u", f"k{i}", "A", "B", "overall", "tie") for i in range(2)]
             + [("u", f"m{i}", "B", "A", "overall", "left") for i in range(3)])
    row = aggregate.pairwise_table(aggregate.comparisons(_table(votes))).iloc[0]
    assert (row["system_a"], row["system_b"], row["n"], row["wins_a"], row["ties"], row["wins_b"]) == ("A", "B", 12, 7, 2, 3)
    assert row["win_rate"] == pytest.approx(7 / 12) and row["tie_rate"] == pytest.approx(2 / 12)
    # Wilson score interval written out: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    z, n, p = 1.959963984540054, 12, 7 / 12
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert row["win_ci_low"] == pytest.approx((centre - half) / (1 + z * z / n), abs=1e-9)
    assert row["win_ci_high"] == pytest.approx((centre + half) / (1 + z * z / n), abs=1e-9)
    # sign test, ties dropped: 7 wins of 10, two-sided = 2 * P(X >= 7) = 2 * (120 + 45 + 10 + 1) / 1024
    assert row["sign_test_p"] == pytest.approx(352 / 1024)


def test_ties_count_as_half_wins():
    # A: 3 wins + 2 ties, B: 1 win + 2 ties -> A has 4 of 6 "wins" -> theta_A - theta_B = log(4 / 2)
    counts = stats.outcome_counts(np.array([0] * 6), np.array([1] * 6), np.array([0, 0, 0, 1, 1, 2]), 2)
    theta = stats.bradley_terry(stats.wins_matrix(counts))
    assert theta[0] - theta[1] == pytest.approx(math.log(2), abs=1e-2)
    even = stats.outcome_counts(np.array([0] * 4), np.array([1] * 4), np.array([0, 1, 1, 2]), 2)
    assert stats.bradley_terry(stats.wins_matrix(even)) == pytest.approx([0, 0], abs=1e-6)


def _simulate(theta, votes_per_pair, rng):
    names = [f"S{i}" for i in range(len(theta))]
    records = []
    for i in range(len(theta)):
        for j in range(i + 1, len(theta)):
            p_i = 1 / (1 + math.exp(theta[j] - theta[i]))
            for v in range(votes_per_pair):
                i_wins = rng.random() < p_i
                left, right = (names[i], names[j]) if rng.random() < 0.5 else (names[j], names[i])
                answer = "left" if (left == names[i]) == i_wins else "right"
                records.append((f"u{v % 7}", f"{i}-{j}-{v}", left, right, "overall", answer))
    return _table(records)


def test_bradley_terry_recovers_order():
    truth = np.array([1.2, 0.4, -0.3, -1.3])  # mean 0, like the fitted scores
    rng = np.random.default_rng(7)
    for rep in range(5):
        ranking = aggregate.ranking_table(aggregate.comparisons(_simulate(truth, 100, rng)), rounds=100, seed=rep)
        assert list(ranking["system"]) == ["S0", "S1", "S2", "S3"]
        estimate = ranking.set_index("system").loc[["S0", "S1", "S2", "S3"], "bt_score"].to_numpy()
        assert np.abs(estimate - truth).max() < 0.5


def test_batched_newton_fit_agrees_with_choix():
    rng = np.random.default_rng(1)
    wins = rng.integers(0, 30, (5, 5)).astype(float) + 0.5
    np.fill_diagonal(wins, 0)
    reference = choix.ilsr_pairwise_dense(wins, alpha=stats.RIDGE)
    assert stats.bradley_terry(wins) == pytest.approx(reference - reference.mean(), abs=1e-3)
    assert stats.fit_bradley_terry(wins) == pytest.approx(reference - reference.mean(), abs=1e-9)


# Coverage at a bound the nominal level must meet: the 0.1% quantile of Binomial(n, level) / n, with n
# the intervals checked (200 studies x 4 systems). An interval of the wrong level misses it by far:
# a 90% interval labelled 95% covers ~0.90 < 0.926, a 95% one labelled 90% covers ~0.95 > 0.925.
COVERAGE_REPS = 200


@pytest.fixture(scope="module")
def coverage_independent():
    """Many equal annotators with independent votes: every interval should be at its nominal level."""
    return coverage(Scenario(annotators=60, heavy_share=1 / 60, taste=0.0), COVERAGE_REPS, clusters=("annotator",),
                    rounds=200, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_intervals_cover_truth_at_their_nominal_level(coverage_independent, level):
    hits, n = coverage_independent["annotator", level]
    low, high = binom.ppf(0.001, n, level) / n, binom.ppf(0.999, n, level) / n
    assert low <= hits / n <= high, f"{level:.0%} intervals covered the truth {hits / n:.3f} of the time"


@pytest.mark.slow
def test_cluster_bootstrap_covers_where_one_annotator_casts_40_percent():
    """Votes of one annotator share that annotator's taste: resampling votes gives intervals far too narrow."""
    scenario = Scenario(heavy_share=0.4, taste=0.5)
    result = coverage(scenario, 60, levels=(0.95,), rounds=200, seed=5)
    cluster, vote = (hits / n for hits, n in (result["annotator", 0.95], result["vote", 0.95]))
    n = result["annotator", 0.95][1]
    assert cluster >= binom.ppf(0.001, n, 0.95) / n, cluster
    assert vote < 0.8 < cluster  # the vote bootstrap misses (measured ~0.67)


def test_few_clusters_factor():
    assert stats.few_clusters_factor(np.full(10_000, 5), 0.95) == pytest.approx(1, abs=1e-3)
    equal, heavy = stats.few_clusters_factor(np.full(12, 50), 0.95), stats.few_clusters_factor(np.r_[240, [33] * 11], 0.95)
    assert equal == pytest.approx(math.sqrt(12 / 11) * 2.2010 / 1.95996, abs=1e-3)  # sqrt(G/(G-1)) t_11 / z
    assert heavy > equal


def test_elo_scale_anchor_and_predicted_win_rates():
    # A beats B 3 of 4 times: theta_A - theta_B = log 3 -> 400 log10(3) = 190.8 Elo points
    votes = [("u", f"i{i}", "A", "B", "overall", "left" if i < 30 else "right") for i in range(40)]
    comp = aggregate.comparisons(_table(votes))
    ranking = aggregate.ranking_table(comp, rounds=50, anchor="B", anchor_rating=1100).set_index("system")
    assert ranking.loc["B", "elo"] == pytest.approx(1100) and ranking.loc["B", "elo_ci_low"] == pytest.approx(1100)
    assert ranking.loc["A", "elo"] == pytest.approx(1100 + 400 * math.log10(3), abs=0.5)
    predicted = aggregate.predicted_win_table(ranking.reset_index()).set_index(["system", "opponent"])
    assert predicted.loc[("A", "B"), "predicted_win_rate"] == pytest.approx(0.75, abs=1e-3)
    assert predicted.loc[("B", "A"), "predicted_win_rate"] == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(VotesError, match="anchor system 'C'"):
        aggregate.ranking_table(comp, rounds=50, anchor="C")
    with pytest.raises(VotesError, match="rounds must be"):
        aggregate.ranking_table(comp, rounds=0)


def test_holm_adjusts_sign_tests_across_pairs():
    votes = ([("u", f"a{i}", "A", "B", "overall", "left" if i < 14 else "right") for i in range(20)]
             + [("u", f"b{i}", "A", "C", "overall", "left" if i < 10 else "right") for i in range(20)]
             + [("u", f"c{i}", "B", "C", "overall", "left" if i < 17 else "right") for i in range(20)])
    pairwise = aggregate.pairwise_table(aggregate.comparisons(_table(votes)))
    raw = pairwise["sign_test_p"].to_numpy()
    # Holm by hand: sorted p times (3, 2, 1), running maximum, capped at 1
    order = np.argsort(raw)
    expected = np.empty(3)
    expected[order] = np.minimum(np.maximum.accumulate(raw[order] * [3, 2, 1]), 1)
    assert pairwise["sign_test_p_holm"].to_numpy() == pytest.approx(expected)
    assert (pairwise["sign_test_p_holm"] > pairwise["sign_test_p"]).any()


def test_heatmap_and_table_count_ties_the_same_way(tmp_path):
    # A: 4 wins, 2 ties, 1 loss: score (4 + 1) / 7 = 0.714 in the table and in the heatmap
    votes = ([("u", f"w{i}", "A", "B", "overall", "left") for i in range(4)]
             + [("u", f"t{i}", "A", "B", "overall", "tie") for i in range(2)] + [("u", "l", "A", "B", "overall", "right")])
    tables = write_report(_table(votes), tmp_path / "out", rounds=20)
    row = tables["pairwise"].iloc[0]
    assert row["score_a"] == pytest.approx(5 / 7) and row["win_rate"] == pytest.approx(4 / 7)
    from human_eval.report import _matrices
    m = _matrices(tables["pairwise"], ["A", "B"], "system_a", "system_b", "score_a", True)["overall"]
    assert m[0, 1] == pytest.approx(5 / 7) and m[1, 0] == pytest.approx(2 / 7)
    assert "| 0.714 |" in (tmp_path / "out" / "report.md").read_text()


def test_krippendorff_alpha_matches_hand_example():
    # Two annotators, four pairs of A vs B; u1: A, A, B, B wins; u2: A, B, B, B.
    # Coincidences o_AA = 2, o_AB = o_BA = 1, o_BB = 4; n_A = 3, n_B = 5, n = 8.
    # alpha = 1 - (n - 1) * (o_AB + o_BA) / (2 n_A n_B) = 1 - 7 * 2 / 30 = 8 / 15
    votes = []
    for annotator, winners in (("u1", "AABB"), ("u2", "ABBB")):
        for item, w in enumerate(winners):
            left, right = ("A", "B") if item % 2 else ("B", "A")  # sides vary: agreement is on systems
            votes.append((annotator, f"i{item}", left, right, "overall", "left" if w == left else "right"))
    alpha = aggregate.agreement_table(aggregate.comparisons(_table(votes)))
    assert alpha.loc[0, "alpha"] == pytest.approx(8 / 15)
    assert alpha.loc[0, "items_multiply_rated"] == 4


def _with_careless_annotator():
    rng = np.random.default_rng(3)
    table = _simulate(np.array([1.0, 0.0, -1.0]), 60, rng)
    good = [(a, "g1", "S0", "broken", "overall", "left", "gold", "S0", 12.0) for a in table["annotator"].unique()]
    # "careless" always answers right: fails gold, contradicts itself on a repeat, and is fast
    careless = [("careless", f"c{i}", "S0", "S2", "overall", "right", "regular", "", 1.0) for i in range(40)]
    careless += [("careless", "c0", "S2", "S0", "overall", "right", "repeat", "", 1.0),
                 ("careless", "g1", "S0", "broken", "overall", "right", "gold", "S0", 1.0)]
    table = pd.concat([table, _table(good + careless)], ignore_index=True)
    table["counted"] = ~table.duplicated(["annotator", "item_id", "question"], keep="last")
    return table


def test_annotator_quality_and_exclusion():
    table = _with_careless_annotator()
    quality = aggregate.annotator_quality(table).set_index("annotator")
    assert quality.loc["careless", "gold_accuracy"] == 0 and quality.loc["u0", "gold_accuracy"] == 1
    assert quality.loc["careless", "repeat_consistency"] == 0 and quality.loc["careless", "repeat_total"] == 1
    assert quality.loc["careless", "median_seconds"] == 1.0 and quality.loc["u0", "median_seconds"] == 10.0
    failed = aggregate.failing_annotators(quality.reset_index(), min_gold_accuracy=0.8)
    assert list(failed) == ["careless"] and "gold accuracy 0.00" in failed["careless"]
    assert aggregate.failing_annotators(quality.reset_index(), min_median_seconds=5) == {"careless": failed["careless"].replace(
        "gold accuracy 0.00 < 0.8", "median 1.0 s per item < 5")}
    kept = aggregate.comparisons(table, set(failed))
    assert "careless" not in set(kept["annotator"]) and "broken" not in set(kept["first"]) | set(kept["second"])


def test_write_report_outputs(tmp_path):
    tables = write_report(_with_careless_annotator(), tmp_path / "out", rounds=100, min_gold_accuracy=0.8)
    out = tmp_path / "out"
    for name in ("report.md", "ranking.csv", "pairwise.csv", "agreement.csv", "annotators.csv", "ranking.png",
                 "win_rates.png"):
        assert (out / name).stat().st_size > 0, name
    ranking = pd.read_csv(out / "ranking.csv")
    assert list(ranking.columns[:5]) == ["question", "system", "bt_score", "ci_low", "ci_high"]
    assert list(ranking["system"]) == ["S0", "S1", "S2"]  # careless votes (S2 over S0) were excluded
    assert (out / "ranking.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "| overall | S0 |" in report and "1 excluded" in report
    assert tables["annotators"].set_index("annotator").loc["careless", "excluded"].startswith("gold accuracy")


def test_bad_votes_input_is_a_clear_error(tmp_path):
    with pytest.raises(VotesError, match="cannot read"):
        aggregate.load_votes(tmp_path / "missing.csv")
    (tmp_path / "few.csv").write_text("annotator,item_id\nu,i\n")
    with pytest.raises(VotesError, match="lack columns"):
        aggregate.load_votes(tmp_path / "few.csv")
    bad = _table([("u", "i", "A", "B", "overall", "left")])
    bad.loc[0, "winner"] = "sideways"  # answers are the study's own; the winner must be a side's system or tie
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(VotesError, match="row 2 has 'sideways'"):
        aggregate.load_votes(tmp_path / "bad.csv")
    with pytest.raises(VotesError, match="database"):
        aggregate.load_votes(db=tmp_path / "missing.sqlite")
    only_gold = _table([("u", "g", "A", "B", "overall", "left", "gold", "A")])
    with pytest.raises(VotesError, match="no counted votes"):
        write_report(only_gold, tmp_path / "out")


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_wilson_interval_matches_statsmodels_at_its_level(level) -> None:
    from statsmodels.stats.proportion import proportion_confint

    expected = proportion_confint(7, 20, alpha=1 - level, method="wilson")
    assert stats.wilson_interval(7, 20, level) == pytest.approx(expected, abs=1e-9)
