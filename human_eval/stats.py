"""Small pure statistics for pairwise preferences: intervals, sign tests with Holm's correction,
Bradley–Terry with cluster-bootstrap intervals, the Elo scale, agreement.

Bradley–Terry follows FastChat's ``elo_analysis.py`` (maximum likelihood of a logistic model, Elo
scale 400 / ln 10 per unit of log strength, anchored to a chosen system). The point estimate is
``choix``'s fit; the bootstrap refits thousands of resampled win matrices, which choix does one at a
time (~1.2 ms each here: ~5 s for 1000 resamples of 4 questions), so those are fitted here by
Newton's method on all resamples at once as batched k x k solves (~7 ms for 1000); the tests check
that both fits agree. A tie counts as half a win for each side. Scores are natural-log strengths
``theta`` with mean 0: ``P(i beats j) = sigmoid(theta_i - theta_j)``. A tiny ridge (``RIDGE``) keeps
scores finite when a system never wins or never loses.

Votes of one annotator (or on one prompt) are not independent, so intervals resample whole clusters
(``bootstrap_bradley_terry_clusters``); resampling single votes treats them as independent and gives
intervals that are too narrow when a few annotators cast most of the votes.
"""
from __future__ import annotations

import choix
import krippendorff
import numpy as np
from scipy import stats
from scipy.special import expit
from statsmodels.stats.multitest import multipletests

RIDGE = 1e-3
ELO_SCALE = 400 / np.log(10)  # Elo points per unit of natural-log strength (FastChat: SCALE=400, BASE=10)


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


def holm(pvalues: list[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (family-wise error control across the tests given); empty in, empty out."""
    p = np.asarray(pvalues, dtype=float)
    return multipletests(p, method="holm")[1] if len(p) else p


def fit_bradley_terry(wins: np.ndarray) -> np.ndarray:
    """Bradley–Terry log-strengths (mean 0) of one (k, k) win matrix, fitted by ``choix``."""
    theta = choix.ilsr_pairwise_dense(np.asarray(wins, dtype=float), alpha=RIDGE)
    return theta - theta.mean()


def elo(theta: np.ndarray, anchor: int | None = None, rating: float = 1000.0) -> np.ndarray:
    """Elo ratings of log-strengths ``theta[..., k]``: system ``anchor`` at ``rating`` (None: the mean at ``rating``)."""
    theta = np.asarray(theta, dtype=float)
    zero = theta[..., anchor:anchor + 1] if anchor is not None else theta.mean(axis=-1, keepdims=True)
    return rating + ELO_SCALE * (theta - zero)


def predicted_win_rates(theta: np.ndarray) -> np.ndarray:
    """``P[i, j]``: the probability that system i beats system j under the fitted model (ties as half)."""
    theta = np.asarray(theta, dtype=float)
    return expit(theta[:, None] - theta[None, :])


def bradley_terry(wins: np.ndarray, max_steps: int = 200, tol: float = 1e-9) -> np.ndarray:
    """Bradley–Terry log-strengths (mean 0) from ``wins[..., i, j]`` = times i beat j (ties as 0.5 each way).

    ``wins`` is (k, k), or (rounds, k, k) to fit many resamples at once (result (rounds, k)).
    """
    w = np.asarray(wins, dtype=float)
    single = w.ndim == 2
    w = w[None] if single else w
    n = w + np.swapaxes(w, 1, 2)
    k = w.shape[-1]
    theta = np.zeros(w.shape[:2])
    for _ in range(max_steps):
        p = expit(theta[:, :, None] - theta[:, None, :])  # P(i beats j)
        grad = (w - n * p).sum(axis=2) - RIDGE * theta  # gradient of the penalised log-likelihood
        c = n * p * (1 - p)
        hessian = c - (c.sum(axis=2) + RIDGE)[:, :, None] * np.eye(k)
        step = np.clip(np.linalg.solve(hessian, -grad[..., None])[..., 0], -5, 5)
        theta += step
        if np.abs(step).max() < tol:
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return theta[0] if single else theta


def outcome_counts(first: np.ndarray, second: np.ndarray, outcome: np.ndarray, k: int) -> np.ndarray:
    """Counts ``c[i, j, o]`` of votes between systems i and j with outcome o (0: i wins, 1: tie, 2: j wins)."""
    counts = np.zeros((k, k, 3))
    np.add.at(counts, (first, second, outcome), 1)
    return counts


def wins_matrix(counts: np.ndarray) -> np.ndarray:
    """Win matrix for ``bradley_terry`` from outcome counts ``[..., i, j, o]``, ties split half and half."""
    wins = counts[..., 0] + 0.5 * counts[..., 1]
    return wins + np.swapaxes(counts[..., 2] + 0.5 * counts[..., 1], -1, -2)


def bootstrap_bradley_terry(counts: np.ndarray, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """BT scores of ``rounds`` bootstrap resamples of the votes, shape (rounds, k).

    Resampling votes with replacement is the same as drawing the outcome counts from a multinomial
    with the observed frequencies, which is what this does (fast for any number of votes).
    """
    rng = np.random.default_rng(seed)
    flat = counts.ravel()
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=rounds).reshape(rounds, *counts.shape)
    return bradley_terry(wins_matrix(draws))


def bootstrap_bradley_terry_clusters(counts: np.ndarray, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """BT scores of ``rounds`` cluster-bootstrap resamples, shape (rounds, k).

    ``counts[c, i, j, o]`` holds cluster c's votes (an annotator's, or a prompt's); a resample draws
    as many clusters as there are, with replacement, and pools their votes.
    """
    rng = np.random.default_rng(seed)
    clusters = counts.shape[0]
    weights = rng.multinomial(clusters, np.full(clusters, 1 / clusters), size=rounds).astype(float)
    draws = np.tensordot(weights, counts, axes=(1, 0))
    return bradley_terry(wins_matrix(draws))


def few_clusters_factor(sizes: np.ndarray, level: float) -> float:
    """sqrt(G*/(G*-1)) t_{G*-1} / z at ``level``: how much to widen a cluster-bootstrap interval about its estimate.

    The cluster bootstrap's spread is that of the plain cluster-robust ("sandwich") variance, too
    small when the clusters are few or one of them holds much of the data (its own deviation is seen
    once, and pulls the estimate towards itself). The usual small-sample corrections of
    cluster-robust inference (as in Stata's ``vce(cluster)``: variance times G/(G-1), t quantiles with
    G-1 degrees of freedom) are applied with ``G* = (sum n_g)^2 / sum n_g^2``, the effective number of
    clusters of sizes ``n_g`` (Kish), in place of the count G. Many equal clusters: factor ~1.
    """
    n = np.asarray(sizes, dtype=float)
    effective = max(n.sum() ** 2 / (n ** 2).sum(), 2.0)
    q = (1 + level) / 2
    return float(np.sqrt(effective / (effective - 1)) * stats.t.ppf(q, effective - 1) / stats.norm.ppf(q))


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
