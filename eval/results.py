"""Result tables (pandas): one row per (system, metric), written to and read from CSV or JSON."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .stats import Estimate

COLUMNS = ["system", "metric", "value", "ci_low", "ci_high", "n"]


def summary_row(system: str, metric: str, estimate: Estimate | float, n: int | None = None) -> dict:
    """A table row; a plain float (FVD) has no confidence interval."""
    if isinstance(estimate, Estimate):
        return {"system": system, "metric": metric, "value": estimate.value, "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high, "n": estimate.n}
    return {"system": system, "metric": metric, "value": float(estimate), "ci_low": float("nan"),
            "ci_high": float("nan"), "n": n}


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write to .csv or .json (a list of records)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".json":
        table.to_json(path, orient="records", indent=2)
    else:
        raise ValueError(f"{path}: --out must end in .csv or .json")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by `write_table`."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".json":
        return pd.read_json(path, orient="records")
    raise ValueError(f"{path}: results files end in .csv or .json")


def format_table(table: pd.DataFrame) -> str:
    """Plain-text table for the terminal."""
    return table.to_string(index=False, float_format=lambda x: f"{x:.4g}")
