"""The command line: each subcommand on real files, and clear errors on bad input."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd

from human_eval.cli import main


def test_module_entry_point_and_help():
    done = subprocess.run([sys.executable, "-m", "human_eval", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("pairs", "serve", "tokens", "export", "aggregate", "bench", "toy-study"):
        assert command in done.stdout


def test_pairs_command(study_dir, capsys):
    (study_dir / "pairs.csv").unlink()
    (study_dir / "study.json").unlink()
    (study_dir / "prompts.csv").write_text("id,prompt\n000,a cat\n001,a dog\n")
    systems = [str(study_dir / "videos" / s) for s in ("system_a", "system_b", "system_c")]
    assert main(["pairs", str(study_dir), "--systems", *systems, "--prompts", str(study_dir / "prompts.csv"),
                 "--per-prompt", "2"]) == 0
    pairs = pd.read_csv(study_dir / "pairs.csv", dtype=str)
    assert len(pairs) == 8 and set(pairs["prompt"]) == {"a cat", "a dog", "002", "003"}  # stems without prompt text
    assert (study_dir / "study.json").exists()
    assert main(["pairs", str(study_dir), "--systems", *systems]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_tokens_export_aggregate_end_to_end(running, tmp_path, capsys):
    c = running.client
    for annotator, token in enumerate(running.tokens):
        for i in range(12):
            item = c.get("/api/next", params={"token": token}).json()
            answer = ("left", "right", "tie")[(annotator + i) % 3]
            c.post("/api/vote", json={"token": token, "item_id": item["item_id"], "client_vote_id": f"{i}",
                                      "answers": {q["id"]: answer for q in item["questions"]}})
    assert main(["tokens", "--db", str(running.db), "-n", "2", "--url", "http://127.0.0.1:8000"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "http://127.0.0.1:8000/?token=" in lines[0]
    assert main(["export", "--db", str(running.db), "--out", str(tmp_path / "votes.csv")]) == 0
    votes = pd.read_csv(tmp_path / "votes.csv")
    assert len(votes) == 36 * 4 and votes["counted"].all()
    for source in (["--votes", str(tmp_path / "votes.csv")], ["--db", str(running.db)]):
        out = tmp_path / source[0].strip("-")
        assert main(["aggregate", *source, "--out", str(out), "--bootstrap", "50"]) == 0
        ranking = pd.read_csv(out / "ranking.csv")
        assert set(ranking["question"]) == {"overall", "frame_consistency", "motion_naturalness", "text_alignment"}
        assert set(ranking["system"]) == {"system_a", "system_b", "system_c"}  # no gold systems
        assert (out / "report.md").exists() and (out / "pairwise.csv").exists()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "votes" / "ranking.csv"), pd.read_csv(tmp_path / "db" / "ranking.csv"))


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    cases = [
        (["export", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x.csv")], "not found"),
        (["aggregate", "--votes", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")], "cannot read"),
        (["tokens", "--db", str(tmp_path / "no" / "dir.sqlite")], "does not exist"),
        (["pairs", str(tmp_path), "--systems", str(tmp_path / "a"), str(tmp_path / "b")], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    done = subprocess.run([sys.executable, "-m", "human_eval", "serve", "--study", str(tmp_path / "nope"), "--db",
                           str(tmp_path / "v.sqlite")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "study directory" in done.stderr and "Traceback" not in done.stderr
