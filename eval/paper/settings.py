"""How much `python -m eval paper` generates (kept apart so the CLI's help does not import streamdit)."""

from __future__ import annotations

from dataclasses import dataclass


DRIFT_WINDOW_S = 15  # seconds per window of the drift measure
DRIFT_CHANGE_S = 30  # seconds between prompt changes in the drift stream with changes


@dataclass(frozen=True)
class Settings:
    """`prompts` held-out prompts per system, videos of `frames` frames, `streams` long streams per
    system (`frames` frames scored before the prompt change and `frames` after it settles), and a drift
    stream of `drift_seconds` (0: none) per streaming system, with and without prompt changes."""

    prompts: int
    frames: int
    streams: int
    drift_seconds: int = 120

    def describe(self) -> str:
        return (f"{self.prompts} prompts x {self.frames} frames, {self.streams} prompt-change streams per system, "
                f"{self.drift_seconds} s drift streams")


QUICK = Settings(prompts=12, frames=32, streams=4, drift_seconds=120)  # 12 prompts: each held-out triple once; minutes on 2 CPU cores
FULL = Settings(prompts=48, frames=48, streams=12, drift_seconds=300)  # 48 prompts: each held-out triple on each background
