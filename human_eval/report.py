"""Write the aggregation outputs: report.md, ranking.csv, pairwise.csv, predicted_win_rates.csv,
agreement.csv, annotators.csv, skipped.csv and PNG plots."""
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
        # clipped at 0: the point fit (choix) and the bootstrap fits (Newton) differ in the ~5th decimal
        ax.errorbar(r["bt_score"], y, xerr=[(r["bt_score"] - r["ci_low"]).clip(lower=0),
                                            (r["ci_high"] - r["bt_score"]).clip(lower=0)],
                    fmt="o", capsize=3)
        ax.set_yticks(y, r["system"])
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(question)
        ax.set_xlabel("Bradley–Terry score (log strength)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _matrices(pairs: pd.DataFrame, systems: list[str], row: str, column: str, value: str,
              symmetric: bool) -> dict[str, np.ndarray]:
    """Per question, a (systems x systems) matrix of ``value`` (nan where no data)."""
    index = {s: i for i, s in enumerate(systems)}
    out = {}
    for question, g in pairs.groupby("question", sort=False):
        m = np.full((len(systems), len(systems)), np.nan)
        for _, r in g.iterrows():
            m[index[r[row]], index[r[column]]] = r[value]
            if symmetric:
                m[index[r[column]], index[r[row]]] = 1 - r[value]
        out[question] = m
    return out


def plot_matrices(matrices: dict[str, np.ndarray], systems: list[str], path: Path, what: str) -> None:
    """Heatmaps (row system against column system), one panel per question."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 0.45 * len(systems) + 2.4), squeeze=False)
    for ax, (question, m) in zip(axes[0], matrices.items()):
        ax.imshow(m, vmin=0, vmax=1, cmap="RdBu")
        for (i, j), v in np.ndenumerate(m):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(systems)), systems, rotation=45, ha="right")
        ax.set_yticks(range(len(systems)), systems)
        ax.set_title(f"{question}: {what}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(table: pd.DataFrame, out: str | Path, *, rounds: int = 1000, seed: int = 0,
                 min_gold_accuracy: float | None = None, min_consistency: float | None = None,
                 min_median_seconds: float | None = None, cluster: str = "annotator", anchor: str | None = None,
                 anchor_rating: float = 1000.0, level: float = 0.95) -> dict[str, pd.DataFrame]:
    """Compute every table from the export table and write all outputs to ``out``; return the tables."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise aggregate.VotesError(f"{out} is a file: --out must be a folder")
    quality = aggregate.annotator_quality(table)
    failed = aggregate.failing_annotators(quality, min_gold_accuracy, min_consistency, min_median_seconds)
    quality["excluded"] = quality["annotator"].map(failed).fillna("")
    comp = aggregate.comparisons(table, set(failed))
    if comp.empty:
        raise aggregate.VotesError("no counted votes on system pairs to aggregate (after exclusions)")
    ranking = aggregate.ranking_table(comp, rounds, level, seed=seed, cluster=cluster, anchor=anchor,
                                      anchor_rating=anchor_rating)
    tables = {"ranking": ranking, "pairwise": aggregate.pairwise_table(comp, level),
              "predicted_win_rates": aggregate.predicted_win_table(ranking),
              "agreement": aggregate.agreement_table(comp), "annotators": quality,
              "skipped": aggregate.skipped_items(table)}
    out.mkdir(parents=True, exist_ok=True)
    for name, t in tables.items():
        t.to_csv(out / f"{name}.csv", index=False)
    systems = sorted(set(ranking["system"]))
    plot_ranking(ranking, out / "ranking.png")
    plot_matrices(_matrices(tables["pairwise"], systems, "system_a", "system_b", "score_a", True), systems,
                  out / "win_rates.png", "observed score of row vs column (ties half)")
    plot_matrices(_matrices(tables["predicted_win_rates"], systems, "system", "opponent", "predicted_win_rate", False),
                  systems, out / "predicted_win_rates.png", "predicted P(row beats column)")
    unit = {"annotator": "annotators", "prompt": "prompts", "vote": "single votes (treated as independent)"}[cluster]
    pct = f"{level:.0%}"
    zero = f"{anchor} fixed at {anchor_rating:g}" if anchor else f"the mean of the systems at {anchor_rating:g}"
    skipped = int(aggregate._skipped(table).sum())
    clusters = comp[cluster].nunique() if cluster != "vote" else len(comp)
    few = (f" **Only {clusters} {unit}**: the intervals cannot show how much {unit} differ; treat them as rough."
           if cluster != "vote" and clusters < 5 else "")
    sections = [
        "# Human evaluation report", "",
        f"{len(comp)} counted answers on system pairs from {comp['annotator'].nunique()} annotators "
        f"({len(failed)} excluded), {comp['item_id'].nunique()} pairs, questions: {', '.join(sorted(comp['question'].unique()))}. "
        f"{skipped} skipped item{'' if skipped == 1 else 's'} (never counted; see skipped.csv).",
        "",
        "Method: latest answer per annotator, pair and question; gold items only score annotators. "
        f"**Ties** (and \"both bad\" answers, which are ties) count as half a win for each side in the "
        "Bradley–Terry fit, in score_a and in the heatmaps; the sign test leaves them out. "
        "Bradley–Terry scores: natural-log strengths, mean 0, maximum likelihood; "
        f"**{pct} intervals: cluster bootstrap over {unit}** ({rounds} resamples, percentile intervals)"
        + (": whole annotators are resampled, because the votes of one annotator are not independent." if cluster == "annotator" else ".")
        + f" Elo scale: 400 / ln 10 points per unit of log strength, {zero}. "
        f"Win/tie/loss rates of system_a with {pct} Wilson intervals (votes as independent); p of a two-sided sign "
        "test of wins against losses, and the same p Holm-adjusted across the system pairs of each question "
        "(sign_test_p_holm: use this one to call a pair different). Agreement: nominal Krippendorff's alpha "
        "over pairs rated by several annotators." + few, "",
        "## Ranking", "", markdown_table(ranking), "", "![ranking](ranking.png)", "",
        "## Pairwise", "", markdown_table(tables["pairwise"][["question", "system_a", "system_b", "n", "win_rate",
                                                               "win_ci_low", "win_ci_high", "tie_rate", "loss_rate",
                                                               "score_a", "sign_test_p", "sign_test_p_holm"]]),
        "", "![observed scores](win_rates.png)", "",
        "## Predicted win rates", "", "P(row beats column) from the Bradley–Terry scores (predicted_win_rates.csv).", "",
        "![predicted win rates](predicted_win_rates.png)", "",
        "## Agreement", "", markdown_table(tables["agreement"]), "",
        "## Annotators", "", markdown_table(quality), "",
    ]
    if skipped:
        sections += ["## Skipped items", "", markdown_table(tables["skipped"]), ""]
    (out / "report.md").write_text("\n".join(sections), encoding="utf-8")
    return tables
