"""Side-by-side report of several systems: a markdown table and a PNG bar chart with CI error bars."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .results import read_table  # noqa: E402


def _cell(row: pd.Series) -> str:
    if np.isnan(row["ci_low"]):
        return f"{row['value']:.4g}"
    return f"{row['value']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"


def markdown_table(table: pd.DataFrame, missing: Mapping[str, str] | None = None) -> str:
    """Systems as rows, metrics as columns, "value [ci_low, ci_high]" cells. Written by hand rather than
    with `DataFrame.to_markdown`, which needs the extra `tabulate` package. `missing` adds a column per
    metric that could not be computed, every cell saying why (e.g. {"clip_score": "n/a: no CLIP weights"})."""
    cells = table.assign(cell=table.apply(_cell, axis=1)).pivot(index="system", columns="metric", values="cell")
    metrics = list(dict.fromkeys(table["metric"]))
    cells = cells.reindex(index=list(dict.fromkeys(table["system"])), columns=metrics).fillna("")
    for metric, reason in (missing or {}).items():
        cells[metric] = reason
        metrics.append(metric)
    lines = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    lines += [f"| {system} | " + " | ".join(row) + " |" for system, row in cells.iterrows()]
    return "\n".join(lines)


def bar_chart(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric, one bar per system, error bars from the bootstrap CI where there is one."""
    metrics = list(dict.fromkeys(table["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = table[table["metric"] == metric]
        values = rows["value"].to_numpy(float)
        err = np.nan_to_num(np.stack([values - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - values]))
        ax.bar(range(len(rows)), values, yerr=err, capsize=4, color=plt.cm.tab10(np.arange(len(rows)) % 10))
        ax.set_xticks(range(len(rows)), rows["system"], rotation=30, ha="right")
        ax.set_title(metric)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def make_report(results: Sequence[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Combine result files (from `python -m eval fvd/clip-score/consistency/adherence --out`) into
    `out_dir/report.md`, `out_dir/report.png` and `out_dir/summary.csv`; returns the combined table."""
    table = pd.concat([read_table(p) for p in results], ignore_index=True)
    duplicated = table.duplicated(["system", "metric"], keep="last")
    table = table[~duplicated].reset_index(drop=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "summary.csv", index=False)
    bar_chart(table, out_dir / "report.png")
    (out_dir / "report.md").write_text(
        "# Evaluation report\n\n" + markdown_table(table)
        + "\n\nCells: mean [95% bootstrap CI over videos]; FVD has no interval (it is not a mean over videos).\n\n"
        + "![metrics](report.png)\n"
    )
    return table
