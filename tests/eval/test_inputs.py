"""Inputs a researcher's own folders contain: names that sort differently in natural and ls order,
prompt lists, mixed frame sizes, undecodable files, subsets."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from eval import list_videos
from eval.cli import main
from eval.consistency import seam_score, temporal_flicker
from eval.prompts import read_prompts
from eval_helpers import moving_square_video, write_frame_folder, write_video


@pytest.fixture
def numbered_dir(tmp_path):
    """clip1, clip2, clip10: `ls` and sorted() give clip1, clip10, clip2."""
    d = tmp_path / "numbered"
    d.mkdir()
    for i in (1, 2, 10):
        write_frame_folder(d / f"clip{i}", moving_square_video(6, 16, seed=i))
    return d


def test_videos_listed_in_sorted_and_ls_order(numbered_dir):
    names = [p.name for p in list_videos(numbered_dir)]
    assert names == sorted(p.name for p in numbered_dir.iterdir()) == ["clip1", "clip10", "clip2"]
    ls = subprocess.run(["ls", "-1", str(numbered_dir)], capture_output=True, text=True, env={"LC_ALL": "C"}).stdout.split()
    assert names == ls
    assert [p.name for p in list_videos(numbered_dir, max_videos=2)] == ["clip1", "clip10"]


def test_txt_prompts_follow_sorted_order_and_the_pairing_is_printed(numbered_dir, tmp_path, capsys):
    videos = list_videos(numbered_dir)
    txt = tmp_path / "prompts.txt"
    txt.write_text("a red square moving right\na green circle moving left\na blue square moving up\n")
    assert dict(zip((v.name for v in videos), read_prompts(txt, videos))) == {
        "clip1": "a red square moving right", "clip10": "a green circle moving left",
        "clip2": "a blue square moving up"}
    assert main(["adherence", str(numbered_dir), "--prompts", str(txt), "--per-video", str(tmp_path / "pv.csv"),
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "sorted() name order" in err and "clip10 <- 'a green circle moving left'" in err
    per_video = pd.read_csv(tmp_path / "pv.csv")
    assert per_video[["video", "prompt"]].values.tolist() == [
        ["clip1", "a red square moving right"], ["clip10", "a green circle moving left"], ["clip2", "a blue square moving up"]]


def test_explicit_mapping_by_name_or_stem_and_mismatches_name_the_files(numbered_dir, tmp_path):
    videos = list_videos(numbered_dir)
    csv = tmp_path / "p.csv"
    csv.write_text("video,prompt\nclip2,two\nclip10,ten\nclip1,one\n")
    assert read_prompts(csv, videos) == ["one", "ten", "two"]
    js = tmp_path / "p.json"
    js.write_text(json.dumps([{"video": "clip2", "prompt": "two"}, {"video": "clip1", "prompt": "one"}]))
    with pytest.raises(ValueError, match=r"no prompt for 1 video\(s\): clip10"):
        read_prompts(js, videos)
    js.write_text(json.dumps({"clip1": "one", "clip2": "two", "clip10": "ten", "clip3": "three"}))
    with pytest.warns(UserWarning, match="name no video in the folder.*clip3"):
        assert read_prompts(js, videos) == ["one", "ten", "two"]
    txt = tmp_path / "p.txt"
    txt.write_text("one\ntwo\n")
    with pytest.raises(ValueError, match=r"2 prompts for 3 videos \(clip1, clip10, clip2\)"):
        read_prompts(txt, videos)
    csv.write_text("name,text\nclip1,one\n")
    with pytest.raises(ValueError, match="video,prompt"):
        read_prompts(csv, videos)


def test_mixed_frame_sizes_flicker_and_seam_per_video(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    a, b = moving_square_video(8, 32, seed=1), moving_square_video(8, 48, seed=2)[:, :40]
    write_frame_folder(d / "a", a)
    write_frame_folder(d / "b", b)
    assert main(["consistency", str(d), "--metrics", "flicker,seam", "--chunk-size", "4", "--no-progress",
                 "--per-video", str(tmp_path / "pv.json")]) == 0
    per_video = pd.read_json(tmp_path / "pv.json")
    assert per_video["temporal_flicker"].tolist() == pytest.approx([temporal_flicker(a), temporal_flicker(b)])
    assert per_video["seam_score"].tolist() == pytest.approx([seam_score(a, 4), seam_score(b, 4)])


@pytest.fixture
def dir_with_bad(tmp_path):
    d = tmp_path / "withbad"
    d.mkdir()
    for i in range(3):
        write_video(d / f"v{i}.mp4", moving_square_video(8, 16, seed=i))
    (d / "v1.mp4").write_bytes(b"<html>not a video</html>")
    write_video(d / "v3.mp4", moving_square_video(1, 16))  # one frame: too short
    return d


def test_skip_bad_skips_and_lists_them(dir_with_bad, tmp_path, capsys):
    args = ["consistency", str(dir_with_bad), "--metrics", "flicker", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "v1.mp4" in err and "--skip-bad" in err
    assert main(args + ["--skip-bad", "--out", str(tmp_path / "r.json"), "--per-video", str(tmp_path / "pv.csv")]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "v1.mp4" in err and "v3.mp4" in err
    row = json.loads((tmp_path / "r.json").read_text())[0]
    assert row["n"] == 2 and row["videos"] == "2"
    assert "v1.mp4 (cannot decode" in row["skipped"] and "v3.mp4 (1 frame(s)" in row["skipped"]
    assert pd.read_csv(tmp_path / "pv.csv")["video"].tolist() == ["v0.mp4", "v2.mp4"]


def test_max_videos(numbered_dir, tmp_path):
    assert main(["consistency", str(numbered_dir), "--metrics", "flicker", "--max-videos", "2", "--no-progress",
                 "--per-video", str(tmp_path / "pv.csv")]) == 0
    assert pd.read_csv(tmp_path / "pv.csv")["video"].tolist() == ["clip1", "clip10"]
    assert main(["consistency", str(numbered_dir), "--metrics", "flicker", "--max-videos", "0"]) == 2


def test_help_imports_no_heavy_library():
    """`python -m eval --help` must not import torch/open_clip/pandas (it took ~10 s when it did)."""
    code = ("import sys, runpy\nsys.argv = ['eval', '--help']\ntry:\n    runpy.run_module('eval', run_name='__main__')\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'open_clip', 'pandas', 'av') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("bad", ["0", "-1", "1", "2.5", "eight"])
def test_chunk_size_is_a_whole_number_of_at_least_2(bad, numbered_dir, capsys):
    with pytest.raises(SystemExit) as stop:  # argparse refuses it before any video is read
        main(["consistency", str(numbered_dir), "--metrics", "flicker,seam", "--chunk-size", bad])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--chunk-size" in err and bad in err
    assert "Traceback" not in err


def test_a_video_shorter_than_two_chunks_is_named_in_a_note(tmp_path, capsys):
    d = tmp_path / "lengths"
    d.mkdir()
    long, short, single = moving_square_video(20, 16, seed=1), moving_square_video(12, 16, seed=2), moving_square_video(8, 16, seed=3)
    for name, video in (("long", long), ("short", short), ("single", single)):
        write_frame_folder(d / name, video)
    assert main(["consistency", str(d), "--metrics", "flicker,seam,inside", "--chunk-size", "8", "--no-progress",
                 "--per-video", str(tmp_path / "pv.csv")]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:") and "chunk" in line]
    assert len(notes) == 1 and "give --chunk-size" not in notes[0]  # a chunk size was given
    assert "short (12 frames, chunk size 8)" in notes[0] and "single (8 frames, chunk size 8)" in notes[0]
    assert "long" not in notes[0]
    per_video = pd.read_csv(tmp_path / "pv.csv").set_index("video")
    assert per_video.loc["long", "seam_score"] == pytest.approx(seam_score(long, 8))
    assert per_video[["seam_score", "inside_share"]].loc[["short", "single"]].isna().all().all()
    assert per_video["temporal_flicker"].notna().all()


def test_a_missing_or_empty_folder_is_one_line_without_the_skip_bad_hint(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("not a folder")
    for folder, why in (("missing", "no such folder"), ("empty", "no videos found"), ("file.txt", "not a folder")):
        assert main(["consistency", str(tmp_path / folder), "--metrics", "flicker", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{tmp_path / folder}: {why}" in err
        assert "--skip-bad" not in err  # skipping single videos cannot help a folder


def test_frame_only_consistency_imports_no_deep_learning_library(numbered_dir):
    """Flicker, seam score, inside and frozen share read frame differences only: no torch, whose import alone
    holds ~0.85 GB here (the memory figures of docs/evaluation.md depend on it)."""
    code = ("import sys\nfrom eval.cli import main\n"
            f"status = main(['consistency', {str(numbered_dir)!r}, '--metrics', 'flicker,seam,inside,frozen', "
            "'--chunk-size', '2', '--no-progress'])\n"
            "print(status, sorted(m for m in ('torch', 'open_clip', 'timm', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"
