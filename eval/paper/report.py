"""The written side of `python -m eval paper`: `paper_table.md` (the table, what each column is, the paper's
claims checked against the intervals), the CSVs and the PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..report import bar_chart, better, markdown_table  # noqa: E402

RUN_FIGURES = {"switch_before": "higher", "switch_after": "higher", "gen_fps": "higher"}  # no metric: the run's own
CLAIM_METRICS = ("adherence", "switch_after", "seam_score", "inside_share", "dynamic_degree", "motion_smoothness_linear",
                 "fd_ae", "fvd")  # the figures the paper's claims are about
CLAIMS = (  # (what the paper claims, system, compared with)
    ("mixed training beats a single scheme", "teacher", "single-scheme"),
    ("mixed training beats a single scheme at the same budget", "teacher-same-budget", "single-scheme"),
    ("the distilled student keeps the teacher's quality", "student", "teacher"),
    ("StreamDiT beats FIFO-style frame-wise denoising", "teacher", "fifo"),
    ("StreamDiT beats chunk-autoregressive generation", "teacher", "chunk-ar"),
)


def compare(table: pd.DataFrame, a: str, b: str, metric: str) -> str | None:
    """One line comparing systems `a` and `b` on `metric` ("better"/"worse" only when the bootstrap
    intervals are disjoint), or None if either value is missing."""
    rows = table.set_index(["system", "metric"])
    if (a, metric) not in rows.index or (b, metric) not in rows.index:
        return None
    ra, rb = rows.loc[(a, metric)], rows.loc[(b, metric)]
    if np.isnan(ra["value"]) or np.isnan(rb["value"]):
        return None
    higher = better(metric, RUN_FIGURES) == "higher"  # "one" (the seam score) compares as lower: streams score above 1
    if np.isnan(ra["ci_low"]) or np.isnan(rb["ci_low"]):
        above, below, how = ra["value"] > rb["value"], ra["value"] < rb["value"], "no interval"
    else:
        above, below, how = ra["ci_low"] > rb["ci_high"], ra["ci_high"] < rb["ci_low"], "intervals disjoint"
    wins, loses = (above, below) if higher else (below, above)
    verdict = (f"{a} better ({how})" if wins else f"{a} worse ({how})" if loses
               else "equal" if ra["value"] == rb["value"] else "no clear difference (intervals overlap)")
    return f"{metric}: {a} {ra['value']:.4g} vs {b} {rb['value']:.4g}: {verdict}"


def claims_section(table: pd.DataFrame) -> str:
    """The paper's comparative claims, each checked on every metric with a known direction."""
    lines = []
    for claim, a, b in CLAIMS:
        found = [line for m in CLAIM_METRICS if (line := compare(table, a, b, m))]
        if found:
            lines.append(f"- **{claim}** ({a} vs {b}):\n" + "\n".join(f"  - {line}" for line in found))
    return "\n".join(lines)


def switch_chart(table: pd.DataFrame, path: Path) -> None:
    """Detector adherence before and after the prompt change, per system, with bootstrap intervals."""
    systems = list(dict.fromkeys(table.loc[table["metric"] == "switch_before", "system"]))
    fig, ax = plt.subplots(figsize=(1.2 * len(systems) + 2, 3.4))
    width = 0.38
    for offset, metric in ((-width / 2, "switch_before"), (width / 2, "switch_after")):
        rows = table[table["metric"] == metric].set_index("system").reindex(systems)
        values = rows["value"].to_numpy(float)
        err = np.nan_to_num(np.stack([values - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - values]))
        ax.bar(np.arange(len(systems)) + offset, values, width, yerr=err, capsize=3, label=metric.replace("_", " "))
    ax.set_xticks(range(len(systems)), systems, rotation=30, ha="right")
    ax.set_ylabel("detector match (old prompt before, new after)")
    ax.set_ylim(0, 1.05)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DRIFT_PANELS = (("adherence", "detector match (window's prompt)"), ("seam_score", "seam score (1 = invisible)"),
                ("inside_share", "share of change inside chunks"), ("frozen_share", "share of frozen frame pairs"))


def drift_chart(drift: pd.DataFrame, path: Path) -> None:
    """The drift measure over the stream: one panel per figure, a line per system and prompt setting."""
    fig, axes = plt.subplots(1, len(DRIFT_PANELS), figsize=(4 * len(DRIFT_PANELS), 3.4))
    for ax, (column, label) in zip(axes, DRIFT_PANELS):
        for (system, changes), rows in drift.groupby(["system", "prompt_changes"], sort=False):
            ax.plot((rows["start_s"] + rows["end_s"]) / 2, rows[column], marker="o", linestyle="--" if changes else "-",
                    label=f"{system}{', prompt changes' if changes else ''}")
        ax.set_xlabel("stream time (s), window centre")
        ax.set_title(label, fontsize=10)
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def drift_section(drift: pd.DataFrame) -> str:
    """A markdown table of the drift windows: per system and setting, each window's figures."""
    columns = ["system", "prompt_changes", "start_s", "end_s", "adherence", "seam_score", "inside_share",
               "frozen_share", "temporal_flicker"]
    rows = drift[columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |"
              for row in rows.itertuples(index=False)]
    return "\n".join(lines)


def write_outputs(out: Path, summary: pd.DataFrame, per_video: pd.DataFrame, switches: pd.DataFrame,
                  missing: Mapping[str, str], header: str, notes: Sequence[str],
                  drift: pd.DataFrame | None = None) -> Path:
    """Write `out/paper_table.md`, `paper_summary.csv`, `paper_per_video.csv`, `paper_switch.csv`,
    `paper_metrics.png` and `paper_switch.png` (and with `drift`, `paper_drift.csv` and `paper_drift.png`);
    returns the table's path."""
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "paper_summary.csv", index=False)
    per_video.to_csv(out / "paper_per_video.csv", index=False)
    switches.to_csv(out / "paper_switch.csv", index=False)
    bar_chart(summary.dropna(subset=["value"]), out / "paper_metrics.png", RUN_FIGURES)
    switch_chart(summary, out / "paper_switch.png")
    text = (f"# Paper-style evaluation\n\n{header}\n\n" + markdown_table(summary, missing)
            + "\n\nCells: mean [95% bootstrap CI over videos or streams]; FD has no interval (a distance between sets).\n\n"
            + "\n".join(f"- {note}" for note in notes)
            + "\n\n## The paper's claims at this scale\n\n" + (claims_section(summary) or "(nothing to compare)")
            + "\n\n![metrics](paper_metrics.png)\n\n![prompt change](paper_switch.png)\n")
    if drift is not None:
        drift.to_csv(out / "paper_drift.csv", index=False)
        drift_chart(drift, out / "paper_drift.png")
        text += ("\n## Long-stream drift\n\nOne stream per system, windows of 15 s; with prompt changes the prompt moves "
                 "on every 30 s and adherence skips the frames a change needs to reach the screen.\n\n"
                 + drift_section(drift) + "\n\n![drift](paper_drift.png)\n")
    (out / "paper_table.md").write_text(text)
    return out / "paper_table.md"
