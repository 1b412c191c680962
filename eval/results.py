"""Result tables (pandas): one row per (system, metric), written to and read from CSV or JSON.

JSON is a list of records with every float at full precision (shortest round-trip repr) and NaN as
null. Extra columns (the provenance of each result: weights, code version, preprocessing, videos,
command) travel with the rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .stats import Estimate

COLUMNS = ["system", "metric", "value", "ci_low", "ci_high", "n"]
REQUIRED = ("system", "metric", "value")


def summary_row(system: str, metric: str, estimate: Estimate | float, n: int | None = None) -> dict:
    """A table row; a plain float (FVD) has no confidence interval."""
    if isinstance(estimate, Estimate):
        return {"system": system, "metric": metric, "value": estimate.value, "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high, "n": estimate.n}
    return {"system": system, "metric": metric, "value": float(estimate), "ci_low": float("nan"),
            "ci_high": float("nan"), "n": n}


def _plain(value: object) -> object:
    """A JSON-ready Python scalar: numpy scalars unwrapped, NaN/missing as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write to .csv or .json (a list of records), floats at full precision."""
    path = Path(path)
    if path.suffix not in (".csv", ".json"):
        raise ValueError(f"{path}: --out must end in .csv or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        table.to_csv(path, index=False, float_format="%.17g")
    else:
        records = [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
        path.write_text(json.dumps(records, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a results table written by `write_table`; anything else (a per-video file, another CSV) is an
    error naming the file and the columns it has."""
    path = Path(path)
    if path.suffix not in (".csv", ".json"):
        raise ValueError(f"{path}: results files end in .csv or .json")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    try:
        if path.suffix == ".csv":
            table = pd.read_csv(path, float_precision="round_trip")
        else:
            records = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ValueError("expected a list of records")
            table = pd.DataFrame.from_records(records)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a results table ({str(err).splitlines()[0] if str(err) else err})") from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        hint = " (a --per-video file? give the --out summary instead)" if "video" in table.columns else ""
        raise ValueError(f"{path}: not a results table: no column(s) {', '.join(missing)}; it has "
                         f"{', '.join(map(str, table.columns[:8]))}{hint}")
    for column in ("ci_low", "ci_high", "n"):
        if column not in table.columns:
            table[column] = float("nan")
    for column in ("value", "ci_low", "ci_high"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    return table


def format_table(table: pd.DataFrame) -> str:
    """Plain-text table for the terminal (the result columns; provenance goes to the files)."""
    shown = [c for c in table.columns if c in COLUMNS or c not in PROVENANCE_COLUMNS]
    return table[shown].to_string(index=False, float_format=lambda x: f"{x:.4g}")


PROVENANCE_COLUMNS = ("weights", "weights_sha256", "code_version", "preprocessing", "videos", "skipped", "command",
                      "source", "named")
