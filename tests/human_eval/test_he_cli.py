"""The command line: each subcommand on real files, and clear errors on bad input."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd

from human_eval.cli import main


def test_module_entry_point_and_help():
    done = subprocess.run([sys.executable, "-m", "human_eval", "--help"], capture_output=True, text=True, timeout=300)
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
                                      "answers": {q["id"]: answer for q in item["questions"]},
                                      "watched": {"left": 1.0, "right": 1.0}})  # the toy videos last 1 s
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
                           str(tmp_path / "v.sqlite")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "study directory" in done.stderr and "Traceback" not in done.stderr


def test_option_and_path_errors_are_messages_not_tracebacks(running, tmp_path, capsys):
    c, token = running.client, running.tokens[0]
    item = c.get("/api/next", params={"token": token}).json()
    c.post("/api/vote", json={"token": token, "item_id": item["item_id"], "client_vote_id": "1",
                              "answers": {q["id"]: "left" for q in item["questions"]},
                              "watched": {"left": 1.0, "right": 1.0}})
    assert main(["export", "--db", str(running.db), "--out", str(tmp_path / "no" / "such" / "votes.csv")]) == 2
    assert "folder" in capsys.readouterr().err and not (tmp_path / "no").exists()
    for bad in ("0", "-5", "many"):
        done = subprocess.run([sys.executable, "-m", "human_eval", "aggregate", "--db", str(running.db), "--out",
                               str(tmp_path / "o"), "--bootstrap", bad], capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "--bootstrap" in done.stderr and "Traceback" not in done.stderr
    # the study has gold items but no annotator met one yet; no repeats either: a filter with no data is an error
    assert main(["aggregate", "--db", str(running.db), "--out", str(tmp_path / "o"), "--min-consistency", "0.8"]) == 2
    assert "no repeated items" in capsys.readouterr().err


def test_repeat_total_counts_items_not_answers(tmp_path):
    from human_eval.aggregate import annotator_quality
    rows = []
    for kind in ("regular", "repeat"):
        for item in ("p1", "p2", "p3"):
            for q in ("overall", "frame_consistency", "motion_naturalness", "text_alignment"):
                rows.append({"annotator": "u", "item_id": item, "question": q, "winner": "A", "kind": kind,
                             "expected": "", "seconds": 5.0, "skipped": ""})
    quality = annotator_quality(pd.DataFrame(rows)).iloc[0]
    assert quality["repeat_total"] == 3 and quality["repeat_consistency"] == 1.0


def test_min_gold_accuracy_without_gold_items_is_an_error(tmp_path, capsys):
    votes = pd.DataFrame([{"annotator": "u", "item_id": f"i{i}", "system_left": "A", "system_right": "B",
                           "question": "overall", "answer": "left", "winner": "A", "counted": True} for i in range(5)])
    votes.to_csv(tmp_path / "v.csv", index=False)
    assert main(["aggregate", "--votes", str(tmp_path / "v.csv"), "--out", str(tmp_path / "o"),
                 "--min-gold-accuracy", "0.8"]) == 2
    assert "no gold items" in capsys.readouterr().err


def test_tokens_revoke_and_list(running, capsys):
    name = running.store.accounts()[0]["name"]
    assert main(["tokens", "--db", str(running.db), "--revoke", name]) == 0
    assert running.store.annotator(running.tokens[0]) is None  # the running store sees it at once
    assert main(["tokens", "--db", str(running.db), "--list"]) == 0
    assert f"{name}\tannotator\trevoked" in capsys.readouterr().out
    assert main(["tokens", "--db", str(running.db), "--revoke", "ghost"]) == 2
    assert "no account named 'ghost'" in capsys.readouterr().err


def test_pairs_refuses_an_undecodable_video_and_normalize_evens_out_the_files(study_dir, capsys):
    import av

    from human_eval.media import probe
    from human_eval.toy import moving_square, write_video
    (study_dir / "pairs.csv").unlink()
    systems = [str(study_dir / "videos" / s) for s in ("system_a", "system_b")]
    write_video(study_dir / "videos" / "system_b" / "000.mp4", moving_square(5, frames=20, size=48), fps=12)
    (study_dir / "videos" / "system_a" / "003.mp4").write_bytes(b"\x00" * 500)
    assert main(["pairs", str(study_dir), "--systems", *systems]) == 2
    assert "videos/system_a/003.mp4' does not decode" in capsys.readouterr().err
    (study_dir / "videos" / "system_a" / "003.mp4").unlink()
    (study_dir / "videos" / "system_b" / "003.mp4").unlink()
    assert main(["pairs", str(study_dir), "--systems", *systems]) == 0
    assert "warning: videos differ between systems in size" in capsys.readouterr().err
    assert main(["pairs", str(study_dir), "--systems", *systems, "--normalize", "--size", "32x32", "--force"]) == 0
    assert "warning" not in capsys.readouterr().err
    pairs = pd.read_csv(study_dir / "pairs.csv", dtype=str)
    videos = sorted(set(pairs["video_a"]) | set(pairs["video_b"]))
    assert len(videos) == 6 and all(v.startswith("media/") and "system" not in v for v in videos)
    infos = {probe(study_dir / v) for v in videos}
    assert len(infos) == 1  # one codec, size, fps and length for every file
    info = next(iter(infos))
    assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", 32, 32, 8.0, 8)
    tags = set()
    for v in videos:
        with av.open(str(study_dir / v)) as container:
            tags.add((tuple(sorted(container.metadata.items())), tuple(sorted(container.streams.video[0].metadata.items()))))
    assert len(tags) == 1  # the same container and stream tags everywhere


TAGS = {"title": "system_A_teacher", "comment": "made by system A", "creation_time": "2026-01-02T03:04:05.000000Z"}


def _tagged_video(path, seed, handler="SystemAHandler"):
    """A toy video whose container and stream carry tags naming its system (as a generator might write them)."""
    import av

    from human_eval.toy import moving_square
    with av.open(str(path), mode="w") as container:
        container.metadata.update(TAGS)
        stream = container.add_stream("libx264", rate=8)
        stream.height = stream.width = 32
        stream.pix_fmt = "yuv420p"
        stream.metadata["handler_name"] = handler
        for frame in moving_square(seed):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _frames(path):
    import av
    import numpy as np
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_pairs_serves_copies_without_container_and_stream_tags(study_dir, capsys):
    import av
    import numpy as np
    (study_dir / "pairs.csv").unlink()
    systems = [study_dir / "videos" / s for s in ("system_a", "system_b")]
    for video in systems[0].glob("*.mp4"):
        _tagged_video(video, seed=int(video.stem))
    sources = {str(v.relative_to(study_dir)): _frames(v) for s in systems for v in s.glob("*.mp4")}
    assert main(["pairs", str(study_dir), "--systems", *map(str, systems)]) == 0  # no --normalize
    pairs = pd.read_csv(study_dir / "pairs.csv", dtype=str)
    served = sorted(set(pairs["video_a"]) | set(pairs["video_b"]))
    assert len(served) == 8 and all(v.startswith("media/") and "system" not in v for v in served)
    for video in served:
        data = (study_dir / video).read_bytes()
        assert not any(value.encode() in data for value in (*TAGS.values(), "SystemAHandler", "Lavf"))
        with av.open(str(study_dir / video)) as container:
            assert not {"title", "comment", "creation_time", "encoder"} & set(container.metadata)
            assert container.streams.video[0].metadata.get("handler_name", "VideoHandler") == "VideoHandler"
    for _, row in pairs.iterrows():  # the picture is the source's, packet for packet
        for side in ("a", "b"):
            source = next(k for k in sources if k.startswith(f"videos/{row[f'system_{side}']}/"))
            same_stem = source.rsplit("/", 1)[0] + "/" + row["prompt"] + ".mp4"
            np.testing.assert_array_equal(_frames(study_dir / row[f"video_{side}"]), sources[same_stem])


def test_serve_refuses_a_study_whose_files_carry_tags(study_dir, tmp_path):
    from human_eval.load import free_port
    _tagged_video(study_dir / "videos" / "system_a" / "000.mp4", seed=0)  # pairs.csv names it directly
    done = subprocess.run([sys.executable, "-m", "human_eval", "serve", "--study", str(study_dir), "--db",
                           str(tmp_path / "v.sqlite"), "--port", str(free_port())],
                          capture_output=True, text=True, timeout=120)  # a server that starts never ends: a failure
    err = done.stderr
    assert done.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "videos/system_a/000.mp4" in err and "title='system_A_teacher'" in err and "python -m human_eval pairs" in err
