"""scripts/model_card.py: wall time of a run from its log (running-mean rates, resumed processes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "model_card.py"
spec = importlib.util.spec_from_file_location("model_card", SCRIPT)
model_card = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model_card)


def log_of(start: int, stop: int, seconds_per_step: list[float], every: int = 10) -> list[dict]:
    """Records as the trainer writes them: steps_per_s is the mean rate since the process started."""
    records, elapsed = [], 0.0
    for step in range(start + 1, stop + 1):
        elapsed += seconds_per_step[step - start - 1]
        if step % every == 0:
            records.append({"step": step, "steps_per_s": (step - start) / elapsed})
    return records


def test_wall_time_of_a_run_with_changing_speed() -> None:
    speeds = [1.0] * 50 + [3.0] * 50  # 50 s + 150 s
    assert model_card.training_minutes(log_of(0, 100, speeds), 10) == pytest.approx(200 / 60)


def test_wall_time_counts_each_process_of_a_resumed_run() -> None:
    first = log_of(0, 60, [2.0] * 60)  # stopped at 60 (120 s), resumed from the checkpoint at 50
    second = log_of(50, 100, [1.0] * 50)  # 50 s
    assert model_card.training_minutes(first + second, 10) == pytest.approx(170 / 60)
