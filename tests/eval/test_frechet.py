import numpy as np
import pytest
import scipy.linalg

from eval import frechet_distance


def scipy_reference(a: np.ndarray, b: np.ndarray) -> float:
    """The straightforward formula with scipy's sqrtm (as StyleGAN-V and cd-fvd compute it)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)  # their FeatureStats: / N
    covmean = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * covmean))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(300, 32))
    b = rng.normal(loc=0.3, scale=1.5, size=(250, 32)) @ rng.normal(size=(32, 32)) * 0.3
    ours, ref = frechet_distance(a, b), scipy_reference(a, b)
    assert ref > 1.0
    assert ours == pytest.approx(ref, rel=1e-6)


def test_symmetric_and_zero_for_identical_sets():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(100, 16)), rng.normal(loc=1.0, size=(80, 16))
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    assert abs(frechet_distance(a, a)) < 1e-8
    assert frechet_distance(a, a + 2.0) == pytest.approx(16 * 4.0, rel=1e-6)  # pure mean shift


def test_finite_for_rank_deficient_covariances():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(10, 400)), rng.normal(loc=0.5, size=(12, 400))
    d = frechet_distance(a, b)
    assert np.isfinite(d) and d > 0
    assert abs(frechet_distance(a, a)) < 1e-6 * np.trace(np.cov(a, rowvar=False))
    assert frechet_distance(a, a) >= 0.0  # rounding makes the unclamped value slightly negative here


def test_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.zeros((3, 4)), np.zeros((3, 5)))
