"""Saved real-set features for FVD/KVD (as cd-fvd's and StyleGAN-V's cached real statistics): an .npz
with the clip features, their mean and covariance, and what made them (feature network fingerprint,
weights, preprocessing, video names), so a later run on the same real set reads them instead of the
videos, and a run with other settings is refused rather than compared against the wrong statistics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass
class RealStats:
    """Real-set features (N, D) and how they were made."""

    features: np.ndarray
    fingerprint: str
    preprocessing: str
    videos: list[str]

    def save(self, path: str | Path) -> None:
        """Write FILE.npz (features, mu, sigma and the provenance strings); atomic."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, features=self.features, mu=self.features.mean(0), sigma=np.cov(self.features, rowvar=False),
                 fingerprint=self.fingerprint, preprocessing=self.preprocessing, videos=np.array(self.videos))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "RealStats":
        path = Path(path)
        try:
            with np.load(path) as data:
                return cls(data["features"], str(data["fingerprint"]), str(data["preprocessing"]),
                           [str(v) for v in data["videos"]])
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path}: not a real-statistics file written by `fvd --real-stats` ({err})") from None

    def check(self, path: str | Path, fingerprint: str | None, preprocessing: str) -> None:
        """Refuse statistics made with another network, weights or preprocessing."""
        if fingerprint is None:
            raise ValueError("--real-stats needs a feature network loaded from a weights file (its checksum is the key)")
        if self.fingerprint != fingerprint or self.preprocessing != preprocessing:
            raise ValueError(
                f"{path}: real statistics made with other settings ({self.fingerprint[:24]}..., "
                f"{self.preprocessing}) than this run ({fingerprint[:24]}..., {preprocessing}); "
                "delete the file or give another --real-stats path"
            )


def real_stats_from(features: np.ndarray, fingerprint: str, preprocessing: str, videos: Sequence[str]) -> RealStats:
    return RealStats(np.asarray(features, dtype=np.float64), fingerprint, preprocessing, list(videos))
