import numpy as np
import pandas as pd
import pytest

from eval.bench import run_bench
from eval.cli import main
from eval.consistency import seam_score, temporal_flicker
from eval.report import make_report
from eval.results import read_table, summary_row, write_table
from eval.stats import Estimate, bootstrap_mean
from eval_helpers import moving_square_video, write_frame_folder


def test_bootstrap_mean():
    rng = np.random.default_rng(0)
    values = rng.normal(3.0, 1.0, size=200)
    est = bootstrap_mean(values)
    standard_error = values.std(ddof=1) / np.sqrt(len(values))
    assert est.value == pytest.approx(values.mean()) and est.n == 200
    # the normal interval's width, within the bootstrap's noise (measured 0.99 and 0.98 of it); a 90% interval
    # is 0.84 of a 95% one, so the level asked for is the level given
    assert est.ci_high - est.ci_low == pytest.approx(2 * 1.96 * standard_error, rel=0.05)
    narrow = bootstrap_mean(values, confidence=0.9)
    assert narrow.ci_high - narrow.ci_low == pytest.approx(2 * 1.645 * standard_error, rel=0.05)
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


@pytest.mark.filterwarnings("ignore")  # cd-fvd and transformers warn on import
def test_bench_against_cdfvd_and_torchmetrics_values_agree(capsys):
    """Speeds are printed by `python -m eval bench`, never asserted; the values must agree."""
    table = run_bench(num_videos=2, frames=9, size=32, repeats=1)
    assert list(table["model"]) == ["I3D features (FVD)", "CLIP score"]
    assert "cd-fvd" in table.loc[0, "reference"] and "torchmetrics CLIPScore" in table.loc[1, "reference"]
    speeds = table[["ours_videos_per_s", "reference_videos_per_s"]].to_numpy(float)
    assert np.isfinite(speeds).all()  # both sides were timed (a zero time gives inf)
    np.testing.assert_allclose(table["ratio"], speeds[:, 0] / speeds[:, 1], rtol=1e-12)  # ours over the reference
    assert (table["max_rel_diff"] < 1e-4).all()


def test_json_keeps_full_precision(tmp_path):
    table = pd.DataFrame([summary_row("a", "fvd", 3e-12, 2), summary_row("a", "kvd", 0.1 + 0.2, 2),
                          summary_row("a", "x", Estimate(1 / 3, 2 / 7, 1e-300, 5))])
    for suffix in (".json", ".csv"):
        write_table(table, tmp_path / f"r{suffix}")
        back = read_table(tmp_path / f"r{suffix}")
        assert back["value"].tolist() == [3e-12, 0.1 + 0.2, 1 / 3]
        assert back.loc[2, "ci_low"] == 2 / 7 and back.loc[2, "ci_high"] == 1e-300
    assert '"ci_low": null' in (tmp_path / "r.json").read_text()  # NaN (FVD has no interval) is null


def test_report_on_a_per_video_file_is_a_one_line_error(tmp_path, capsys):
    per_video = tmp_path / "per_video.csv"
    pd.DataFrame({"video": ["a.mp4"], "clip_score": [30.0]}).to_csv(per_video, index=False)
    assert main(["report", str(per_video), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "per_video.csv: not a results table" in err and "--per-video" in err
    (tmp_path / "junk.json").write_text("{not json")
    assert main(["report", str(tmp_path / "junk.json"), "--out", str(tmp_path / "rep")]) == 2
    assert "junk.json: not a results table" in capsys.readouterr().err


def test_report_grid_fixed_colours_legend_directions(tmp_path):
    from matplotlib.colors import to_rgba

    from eval.report import report_figure

    rows = []
    for system, base in (("teacher", 1.0), ("student", 2.0), ("fifo", 3.0)):
        for metric in ("fvd", "clip_score", "temporal_flicker", "seam_score", "subject_consistency"):
            if system == "fifo" and metric == "clip_score":
                continue  # a system missing from one panel keeps its colour and place in the others
            rows.append(summary_row(system, metric, Estimate(base, base - 0.1, base + 0.1, 8)))
    fig = report_figure(pd.DataFrame(rows))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 5 and len({round(ax.get_position().y0, 3) for ax in panels}) == 2  # a 3 + 2 grid
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["teacher", "student", "fifo"]
    legend_colours = [to_rgba(h.get_facecolor()) for h in legend.legend_handles]
    for ax in panels:
        bars = ax.patches
        by_x = {round(b.get_x() + b.get_width() / 2): to_rgba(b.get_facecolor()) for b in bars}
        for x, colour in by_x.items():
            assert colour == legend_colours[x]
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in panels}
    assert "lower is better" in titles["fvd \u2193"] and "higher is better" in titles["clip_score \u2191"]
    assert "1 is best" in titles["seam_score"]
    width, height = fig.get_size_inches()
    assert height > width / 3  # not one long row


def _folder(path, videos):
    """A folder of lossless frame-folder videos (so the expected values come from the arrays themselves)."""
    path.mkdir(parents=True)
    for i, video in enumerate(videos):
        write_frame_folder(path / f"v{i}", video)
    return path


def test_report_keeps_apart_systems_whose_folders_share_a_name(tmp_path, capsys):
    """runs/a/normal and runs/b/normal are two systems: two rows, each with its own file's values."""
    slow = [moving_square_video(16, 16, speed=1, seed=i) for i in range(4)]
    fast = [moving_square_video(16, 16, speed=5, seed=9)]
    for run, videos in (("a", slow), ("b", fast)):
        folder = _folder(tmp_path / "runs" / run / "normal", videos)
        assert main(["consistency", str(folder), "--metrics", "flicker", "--no-progress",
                     "--out", str(tmp_path / f"{run}.json")]) == 0
    assert main(["report", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "rep")]) == 0
    summary = pd.read_csv(tmp_path / "rep" / "summary.csv").set_index("system")
    assert list(summary.index) == ["a/normal", "b/normal"]
    assert summary.loc["a/normal", "value"] == pytest.approx(np.mean([temporal_flicker(v) for v in slow]))
    assert summary.loc["a/normal", "n"] == 4
    assert summary.loc["b/normal", "value"] == pytest.approx(temporal_flicker(fast[0]))
    assert summary.loc["b/normal", "n"] == 1
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert "| a/normal |" in markdown and "| b/normal |" in markdown


def test_report_refuses_two_files_that_give_one_name_two_values(tmp_path, capsys):
    for run, speed in (("a", 1), ("b", 5)):
        folder = _folder(tmp_path / run / "normal", [moving_square_video(16, 16, speed=speed)])
        assert main(["consistency", str(folder), "--metrics", "flicker", "--no-progress", "--name", "normal",
                     "--out", str(tmp_path / f"{run}.json")]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "a.json") in err and str(tmp_path / "b.json") in err
    assert "'normal'" in err and "--name" in err


def test_report_keeps_one_system_at_two_chunk_sizes_apart(tmp_path):
    videos = [moving_square_video(16, 16, speed=s, seed=s) for s in (1, 2, 3)]
    folder = _folder(tmp_path / "runs" / "normal", videos)
    for chunk, metrics in (("4", "flicker,seam,inside"), ("8", "flicker,seam")):
        assert main(["consistency", str(folder), "--metrics", metrics, "--chunk-size", chunk, "--no-progress",
                     "--out", str(tmp_path / f"c{chunk}.json")]) == 0
    table = make_report([tmp_path / "c4.json", tmp_path / "c8.json"], tmp_path / "rep")
    values = table.set_index("metric")["value"]
    assert set(table["system"]) == {"normal"}
    assert sorted(values.index) == ["inside_share_c4", "seam_score_c4", "seam_score_c8", "temporal_flicker"]
    assert values["seam_score_c4"] == pytest.approx(np.mean([seam_score(v, 4) for v in videos]))
    assert values["seam_score_c8"] == pytest.approx(np.mean([seam_score(v, 8) for v in videos]))
    assert values["seam_score_c4"] != pytest.approx(values["seam_score_c8"])  # two results, not one merged
    assert "| system | temporal_flicker | seam_score_c4 | inside_share_c4 | seam_score_c8 |" in (
        tmp_path / "rep" / "report.md").read_text()
