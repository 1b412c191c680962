"""Side-by-side report of several systems: a markdown table and a PNG grid of bar charts (one panel per
metric, one fixed colour per system across panels, a legend, the better direction on each axis, CI
error bars)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .metric import BETTER_TEXT  # noqa: E402
from .registry import METRICS  # noqa: E402
from .results import PROVENANCE_COLUMNS, read_table  # noqa: E402

COLUMNS_PER_ROW = 3


def better(metric: str, extra: Mapping[str, str] | None = None) -> str | None:
    """Which way a metric is better ("higher", "lower" or "one"): the registry's (by name or prefix,
    `eval.metric.MetricRegistry.lookup`), else `extra`'s (figures that are no metric, such as a run's speed)."""
    spec = METRICS.lookup(metric)
    return spec.better if spec is not None else (extra or {}).get(metric)


def direction(metric: str, extra: Mapping[str, str] | None = None) -> str | None:
    """`better` in words ("lower is better", ...), or None when unknown."""
    way = better(metric, extra)
    return BETTER_TEXT[way] if way else None


def system_colours(systems: Sequence[str]) -> dict[str, tuple]:
    """One colour per system, by order of first appearance (tab10, then tab20)."""
    cmap = plt.cm.tab10 if len(systems) <= 10 else plt.cm.tab20
    return {s: cmap(i % cmap.N) for i, s in enumerate(systems)}


def _cell(row: pd.Series) -> str:
    if np.isnan(row["value"]):
        return "n/a"
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


def report_figure(table: pd.DataFrame, extra: Mapping[str, str] | None = None) -> Figure:
    """The grid: a panel per metric (at most 3 per row), bars at fixed positions and colours per system,
    a shared legend, each panel titled with its metric and better direction (`better(metric, extra)`)."""
    metrics = list(dict.fromkeys(table["metric"]))
    systems = list(dict.fromkeys(table["system"]))
    colours = system_colours(systems)
    ncols = min(COLUMNS_PER_ROW, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    width = max(1.0, 0.45 * len(systems) + 0.8)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * max(3.4, width * 1.2), nrows * 3.0 + 0.6),
                             squeeze=False)
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics):
        rows = table[table["metric"] == metric].set_index("system").reindex(systems)
        present = rows["value"].notna().to_numpy()
        x = np.arange(len(systems))[present]
        values = rows["value"].to_numpy(float)[present]
        low, high = rows["ci_low"].to_numpy(float)[present], rows["ci_high"].to_numpy(float)[present]
        ax.bar(x, values, color=[colours[s] for s in np.array(systems)[present]], width=0.7)
        has_ci = ~np.isnan(low) & ~np.isnan(high)  # FVD/KVD have none: no error bar rather than a flat one
        if has_ci.any():
            ax.errorbar(x[has_ci], values[has_ci], yerr=np.stack([values - low, high - values])[:, has_ci],
                        fmt="none", ecolor="black", capsize=4, linewidth=1.2)
        ax.set_xticks(np.arange(len(systems)), [])
        ax.set_xlim(-0.6, len(systems) - 0.4)
        way = better(metric, extra)
        arrow = {"lower": " \u2193", "higher": " \u2191"}.get(way, "")
        ax.set_title(f"{metric}{arrow}" + (f"\n({BETTER_TEXT[way]})" if way else ""), fontsize=10)
        if way == "one":
            ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
        ax.grid(axis="y", alpha=0.3)
    handles = [Patch(color=colours[s], label=s) for s in systems]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(systems), 6), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    legend_rows = math.ceil(len(systems) / 6)
    fig.tight_layout(rect=(0, 0.05 * legend_rows + 0.02, 1, 1))
    return fig


def bar_chart(table: pd.DataFrame, path: Path, extra: Mapping[str, str] | None = None) -> None:
    """Write `report_figure(table, extra)` to a PNG."""
    fig = report_figure(table, extra)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _provenance(table: pd.DataFrame) -> str:
    columns = [c for c in PROVENANCE_COLUMNS if c in table.columns]
    if not columns:
        return ""
    lines = ["## How each result was made", ""]
    for _, row in table.iterrows():
        parts = [f"{c}: {row[c]}" for c in columns if isinstance(row[c], str) and row[c]]
        if parts:
            lines.append(f"- **{row['system']} / {row['metric']}**: " + "; ".join(parts))
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def _chunk_label(value: object) -> str:
    """A result's chunk size as a metric-name suffix ("_c8", "_c4/8"); "" where it has none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() in ("", "nan"):
        return ""
    return "_c" + (str(int(value)) if isinstance(value, (int, float, np.integer, np.floating)) else str(value).strip())


def system_identities(table: pd.DataFrame) -> pd.Series:
    """Each row's system identity: its `--name` (`named`), else the scored folder (`source`) as a path relative
    to the common folder of all unnamed inputs' parents, so two folders called `normal` stay apart
    (`a/normal`, `b/normal`) and folders side by side keep their own names. Rows of files written before
    results recorded their folder keep their `system`."""
    named = table["named"].map(lambda v: v is True or str(v).lower() == "true") if "named" in table else False
    source = table["source"] if "source" in table else pd.Series("", index=table.index)
    unnamed = source.notna() & (source.astype(str) != "") & ~named
    folders = sorted(set(source[unnamed]))
    if not folders:
        return table["system"].astype(str)
    root = Path(os.path.commonpath([str(Path(f).parent) for f in folders]))
    relative = {f: Path(f).relative_to(root).as_posix() for f in folders}
    return table["system"].astype(str).where(~unnamed, source.map(relative))


def combine_results(results: Sequence[str | Path]) -> pd.DataFrame:
    """The rows of several results files, one per (system, metric): systems by `system_identities`, a chunk
    metric's name suffixed with its chunk size (`seam_score_c8`), so one system at two chunk sizes keeps both.
    The same (system, metric) in two files with equal values is one result (e.g. flicker from two
    `consistency` runs of one folder); with different values it is a clash: a ValueError naming both files."""
    tables = []
    for path in results:
        part = read_table(path)
        part["file"] = str(path)
        tables.append(part)
    table = pd.concat(tables, ignore_index=True)
    table["system"] = system_identities(table)
    if "chunk_size" in table:
        table["metric"] = table["metric"].astype(str) + table["chunk_size"].map(_chunk_label)
    figures = ["value", "ci_low", "ci_high", "n"]
    for (system, metric), rows in table.groupby(["system", "metric"], sort=False):
        distinct = rows.drop_duplicates(figures)
        if len(distinct) > 1:
            files = list(dict.fromkeys(distinct["file"]))
            where = f"{files[0]} and {files[1]} both give" if len(files) > 1 else f"{files[0]} gives twice"
            raise ValueError(f"{where} {metric} of system {system!r} with different values: give each run its own "
                             "--name (or leave one file out)")
    table = table.drop_duplicates(["system", "metric"]).drop(columns="file").reset_index(drop=True)
    return table


def make_report(results: Sequence[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Combine result files (from `python -m eval fvd/clip-score/consistency/adherence --out`, by
    `combine_results`) into `out_dir/report.md`, `out_dir/report.png` and `out_dir/summary.csv`; returns the
    combined table."""
    table = combine_results(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "summary.csv", index=False, float_format="%.17g")
    bar_chart(table, out_dir / "report.png")
    directions = "; ".join(f"{m}: {direction(m)}" for m in dict.fromkeys(table["metric"]) if direction(m))
    (out_dir / "report.md").write_text(
        "# Evaluation report\n\n" + markdown_table(table)
        + "\n\nCells: mean [95% bootstrap CI over videos]; FVD/KVD have no interval (they are not means over "
        + f"videos). Better: {directions}.\n\n![metrics](report.png)\n\n" + _provenance(table)
    )
    return table
