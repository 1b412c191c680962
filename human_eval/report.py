"""Write the aggregation outputs: report.md, ranking.csv, pairwise.csv, agreement.csv, annotators.csv, PNG plots."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import aggregate  # noqa: E402


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub markdown table (pandas' to_markdown needs tabulate, which is not a dependency)."""
    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "n/a" if np.isnan(v) else f"{v:.{digits}g}" if abs(v) < 0.01 and v else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot_ranking(ranking: pd.DataFrame, path: Path) -> None:
    """Bradley–Terry scores with intervals, one panel per question."""
    questions = list(ranking["question"].unique())
    fig, axes = plt.subplots(1, len(questions), figsize=(4.2 * len(questions), 0.5 * ranking["system"].nunique() + 1.6),
                             squeeze=False, sharex=True)
    for ax, question in zip(axes[0], questions):
        r = ranking[ranking["question"] == question].iloc[::-1]
        y = np.arange(len(r))
        ax.errorbar(r["bt_score"], y, xerr=[r["bt_score"] - r["ci_low"], r["ci_high"] - r["bt_score"]],
                    fmt="o", capsize=3)
        ax.set_yticks(y, r["system"])
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(question)
        ax.set_xlabel("Bradley–Terry score (log strength)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_win_rates(pairwise: pd.DataFrame, path: Path) -> None:
    """Win-rate matrices (row system beats column system; ties as half), one panel per question."""
    questions = list(pairwise["question"].unique())
    systems = sorted(set(pairwise["system_a"]) | set(pairwise["system_b"]))
    index = {s: i for i, s in enumerate(systems)}
    fig, axes = plt.subplots(1, len(questions), figsize=(4.2 * len(questions), 0.45 * len(systems) + 2.4), squeeze=False)
    for ax, question in zip(axes[0], questions):
        m = np.full((len(systems), len(systems)), np.nan)
        for _, r in pairwise[pairwise["question"] == question].iterrows():
            score = (r["wins_a"] + 0.5 * r["ties"]) / r["n"]
            m[index[r["system_a"]], index[r["system_b"]]], m[index[r["system_b"]], index[r["system_a"]]] = score, 1 - score
        ax.imshow(m, vmin=0, vmax=1, cmap="RdBu")
        for (i, j), v in np.ndenumerate(m):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(systems)), systems, rotation=45, ha="right")
        ax.set_yticks(range(len(systems)), systems)
        ax.set_title(f"{question}: row beats column")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(table: pd.DataFrame, out: str | Path, *, rounds: int = 1000, seed: int = 0,
                 min_gold_accuracy: float | None = None, min_consistency: float | None = None,
                 min_median_seconds: float | None = None) -> dict[str, pd.DataFrame]:
    """Compute every table from the export table and write all outputs to ``out``; return the tables."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quality = aggregate.annotator_quality(table)
    failed = aggregate.failing_annotators(quality, min_gold_accuracy, min_consistency, min_median_seconds)
    quality["excluded"] = quality["annotator"].map(failed).fillna("")
    comp = aggregate.comparisons(table, set(failed))
    if comp.empty:
        raise aggregate.VotesError("no counted votes on system pairs to aggregate (after exclusions)")
    tables = {"ranking": aggregate.ranking_table(comp, rounds, seed=seed), "pairwise": aggregate.pairwise_table(comp),
              "agreement": aggregate.agreement_table(comp), "annotators": quality}
    for name, t in tables.items():
        t.to_csv(out / f"{name}.csv", index=False)
    plot_ranking(tables["ranking"], out / "ranking.png")
    plot_win_rates(tables["pairwise"], out / "win_rates.png")
    sections = [
        "# Human evaluation report", "",
        f"{len(comp)} counted answers on system pairs from {comp['annotator'].nunique()} annotators "
        f"({len(failed)} excluded), {comp['item_id'].nunique()} pairs, questions: {', '.join(sorted(comp['question'].unique()))}.",
        "",
        "Method: latest answer per annotator, pair and question; gold items only score annotators. "
        "Bradley–Terry scores (natural-log strengths, mean 0, ties as half wins, maximum likelihood) with "
        f"95% bootstrap percentile intervals ({rounds} resamples of the votes). Win/tie/loss rates of "
        "system_a with 95% Wilson intervals; p of a two-sided sign test of wins against losses (ties left "
        "out). Agreement: nominal Krippendorff's alpha over pairs rated by several annotators.", "",
        "## Ranking", "", markdown_table(tables["ranking"]), "", "![ranking](ranking.png)", "",
        "## Pairwise", "", markdown_table(tables["pairwise"][["question", "system_a", "system_b", "n", "win_rate",
                                                               "win_ci_low", "win_ci_high", "tie_rate", "loss_rate",
                                                               "sign_test_p"]]),
        "", "![win rates](win_rates.png)", "",
        "## Agreement", "", markdown_table(tables["agreement"]), "",
        "## Annotators", "", markdown_table(quality), "",
    ]
    (out / "report.md").write_text("\n".join(sections), encoding="utf-8")
    return tables
