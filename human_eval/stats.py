"""Small pure statistics for pairwise preferences: intervals, sign test, Bradley–Terry, agreement.

Bradley–Terry follows FastChat's ``elo_analysis.py`` (maximum likelihood of a logistic model, bootstrap
over votes for intervals), fitted here with ``scipy.optimize.minimize`` (L-BFGS-B, analytic gradient)
on a matrix of win counts instead of scikit-learn on one row per vote. A tie counts as half a win for
each side. Scores are natural-log strengths ``theta`` with mean 0: ``P(i beats j) = sigmoid(theta_i -
theta_j)``. A tiny ridge (``RIDGE``) keeps scores finite when a system never wins or loses.
"""
from __future__ import annotations

import krippendorff
import numpy as np
from scipy import optimize, stats
from scipy.special import expit, log_expit

RIDGE = 1e-3


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (nan, nan when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign (binomial) test of wins vs losses at p = 1/2, ties left out; 1.0 with no decisive votes."""
    n = int(wins) + int(losses)
    return float(stats.binomtest(int(wins), n, 0.5, alternative="two-sided").pvalue) if n else 1.0


def bradley_terry(wins: np.ndarray) -> np.ndarray:
    """Bradley–Terry log-strengths (mean 0) from ``wins[i, j]`` = times i beat j (ties as 0.5 each way)."""
    wins = np.asarray(wins, dtype=float)
    k = wins.shape[0]
    i, j = np.nonzero(wins)
    w = wins[i, j]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[i] - theta[j]
        nll = -(w * log_expit(d)).sum() + 0.5 * RIDGE * theta @ theta
        g = -w * expit(-d)
        grad = np.bincount(i, g, minlength=k) - np.bincount(j, g, minlength=k) + RIDGE * theta
        return nll, grad

    theta = optimize.minimize(loss, np.zeros(k), jac=True, method="L-BFGS-B",
                              options={"gtol": 1e-9, "maxiter": 1000}).x
    return theta - theta.mean()


def outcome_counts(first: np.ndarray, second: np.ndarray, outcome: np.ndarray, k: int) -> np.ndarray:
    """Counts ``c[i, j, o]`` of votes between systems i and j with outcome o (0: i wins, 1: tie, 2: j wins)."""
    counts = np.zeros((k, k, 3))
    np.add.at(counts, (first, second, outcome), 1)
    return counts


def wins_matrix(counts: np.ndarray) -> np.ndarray:
    """Win matrix for ``bradley_terry`` from outcome counts, ties split half and half."""
    wins = counts[:, :, 0] + 0.5 * counts[:, :, 1]
    return wins + (counts[:, :, 2] + 0.5 * counts[:, :, 1]).T


def bootstrap_bradley_terry(counts: np.ndarray, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """BT scores of ``rounds`` bootstrap resamples of the votes, shape (rounds, k).

    Resampling votes with replacement is the same as drawing the outcome counts from a multinomial
    with the observed frequencies, which is what this does (fast for any number of votes).
    """
    rng = np.random.default_rng(seed)
    flat = counts.ravel()
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=rounds)
    return np.stack([bradley_terry(wins_matrix(d.reshape(counts.shape))) for d in draws])


def krippendorff_alpha(ratings: np.ndarray) -> float:
    """Nominal Krippendorff's alpha of a (raters, units) array of category codes (nan = not rated).

    nan when no unit has two ratings, or when every rating is the same category.
    """
    ratings = np.asarray(ratings, dtype=float)
    pairable = (np.sum(~np.isnan(ratings), axis=0) >= 2).sum()
    values = np.unique(ratings[~np.isnan(ratings)])
    if pairable < 1 or len(values) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=ratings, level_of_measurement="nominal"))
