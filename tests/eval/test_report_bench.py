import numpy as np
import pandas as pd
import pytest

from eval.bench import run_bench
from eval.cli import main
from eval.results import read_table, summary_row, write_table
from eval.stats import Estimate, bootstrap_mean


def test_bootstrap_mean():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 1.0, size=200)
    est = bootstrap_mean(values)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert est.value == pytest.approx(values.mean()) and est.n == 200
    assert est.ci_high - est.ci_low == pytest.approx(2 * half_width, rel=0.2)
    assert bootstrap_mean([4.0]) == Estimate(4.0, 4.0, 4.0, 1)
    assert bootstrap_mean(values, seed=1).ci_low != est.ci_low


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_tables_roundtrip(tmp_path, suffix):
    table = pd.DataFrame([summary_row("a", "clip_score", Estimate(30.0, 29.0, 31.5, 10)),
                          summary_row("a", "fvd", 123.4, 10)])
    write_table(table, tmp_path / f"r{suffix}")
    back = read_table(tmp_path / f"r{suffix}")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    with pytest.raises(ValueError, match=".csv or .json"):
        write_table(table, tmp_path / "r.txt")


def test_report_side_by_side(tmp_path, capsys):
    for system, clip, fvd in (("teacher", 31.0, 80.0), ("student", 30.2, 95.5)):
        write_table(pd.DataFrame([summary_row(system, "clip_score", Estimate(clip, clip - 0.5, clip + 0.7, 50)),
                                  summary_row(system, "fvd", fvd, 50)]), tmp_path / f"{system}.json")
    assert main(["report", str(tmp_path / "teacher.json"), str(tmp_path / "student.json"), "--out", str(tmp_path / "rep")]) == 0
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert "| system | clip_score | fvd |" in markdown
    assert "| teacher | 31 [30.5, 31.7] | 80 |" in markdown
    assert "| student | 30.2 [29.7, 30.9] | 95.5 |" in markdown
    png = (tmp_path / "rep" / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert len(pd.read_csv(tmp_path / "rep" / "summary.csv")) == 4
    assert "teacher" in capsys.readouterr().out


def test_bench_runs_small(capsys):
    table = run_bench(num_videos=1, frames=9, size=32)  # runs end to end; figures come from `python -m eval bench`
    assert list(table["model"]) == ["I3D (FVD)", "CLIP (clip-score)"]
    assert (table[["batched_videos_per_s", "naive_videos_per_s", "ratio"]] > 0).all().all()
