"""Simulated studies with a known truth, to measure how often the ranking's intervals cover it.

Each annotator judges with their own taste: system strengths ``theta + b`` with ``b ~ N(0, taste^2)``
per system, drawn once per annotator, so the votes of one annotator are not independent. The true
Bradley–Terry score is the fit to the population's expected win matrix (every pair compared equally
often), which is what a study with ever more annotators estimates. ``python -m human_eval coverage``
prints the coverage of the cluster and the vote bootstrap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from . import aggregate, stats


@dataclass(frozen=True)
class Scenario:
    """Votes on ``len(theta)`` systems by ``annotators`` annotators; the first casts ``heavy_share`` of them."""

    theta: tuple[float, ...] = (1.0, 0.3, -0.3, -1.0)
    annotators: int = 12
    heavy_share: float = 0.4
    votes: int = 600
    taste: float = 0.5  # sd of an annotator's own offset to each system's strength

    def shares(self) -> np.ndarray:
        rest = (1 - self.heavy_share) / (self.annotators - 1)
        return np.array([self.heavy_share] + [rest] * (self.annotators - 1))


def true_scores(s: Scenario, draws: int = 200_000, seed: int = 12345) -> np.ndarray:
    """BT scores (mean 0) of the population's expected win matrix, by Monte Carlo over annotators."""
    rng = np.random.default_rng(seed)
    theta = np.asarray(s.theta) + rng.normal(0, s.taste, (draws, len(s.theta)))
    wins = expit(theta[:, :, None] - theta[:, None, :]).mean(axis=0)
    np.fill_diagonal(wins, 0)
    return stats.fit_bradley_terry(wins * 1e6)


def simulate_votes(s: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One study's comparisons in ``aggregate.comparisons`` form (question "overall"), no ties."""
    k = len(s.theta)
    taste = np.asarray(s.theta) + rng.normal(0, s.taste, (s.annotators, k))
    who = rng.choice(s.annotators, size=s.votes, p=s.shares())
    pairs = np.array([(i, j) for i in range(k) for j in range(i + 1, k)])
    first, second = pairs[rng.integers(len(pairs), size=s.votes)].T
    first_wins = rng.random(s.votes) < expit(taste[who, first] - taste[who, second])
    names = np.array([f"S{i}" for i in range(k)])
    return pd.DataFrame({"question": "overall", "first": names[first], "second": names[second],
                         "outcome": np.where(first_wins, 0, 2), "annotator": [f"u{a}" for a in who],
                         "item_id": [f"i{v}" for v in range(s.votes)], "prompt": [f"p{v % 20}" for v in range(s.votes)],
                         "both_bad": False})


def coverage(s: Scenario, reps: int, levels: tuple[float, ...] = (0.9, 0.95), clusters: tuple[str, ...] = ("annotator", "vote"),
             rounds: int = 400, seed: int = 0) -> dict[tuple[str, float], tuple[int, int]]:
    """(cluster, level) -> (intervals covering the truth, intervals) over ``reps`` simulated studies."""
    truth = true_scores(s)
    names = [f"S{i}" for i in range(len(s.theta))]
    rng = np.random.default_rng(seed)
    hits = {(c, lv): 0 for c in clusters for lv in levels}
    for rep in range(reps):
        comp = simulate_votes(s, rng)
        for c in clusters:
            for lv in levels:
                r = aggregate.ranking_table(comp, rounds, lv, seed=rep, cluster=c).set_index("system").loc[names]
                hits[c, lv] += int(((r["ci_low"] <= truth) & (truth <= r["ci_high"])).sum())
    return {key: (h, reps * len(names)) for key, h in hits.items()}
