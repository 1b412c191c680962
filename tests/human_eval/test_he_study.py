"""Study loading, validation of hostile or malformed input, and building pairs from folders."""
from __future__ import annotations

import csv
import json
import os
from collections import Counter
from itertools import combinations

import pytest

from human_eval.study import StudyError, build_pairs, load_study, read_pairs


def _rewrite_pairs(study_dir, change):
    path = study_dir / "pairs.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    change(rows)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_toy_study_loads_with_default_questions(study_dir):
    study = load_study(study_dir)
    assert study.question_ids == ["overall", "frame_consistency", "motion_naturalness", "text_alignment"]
    assert len([p for p in study.pairs if p.gold is None]) == 4 * 3  # 4 prompts x 3 system pairs
    gold = [p for p in study.pairs if p.gold]
    assert len(gold) == 1 and gold[0].expected_winner() == "good"
    assert study.video_path(study.pairs[0].video_a).is_file()


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/etc/passwd", "videos/../../outside.mp4",
                                     "videos\\..\\..\\x.mp4"])
def test_video_paths_outside_the_study_are_refused(study_dir, hostile):
    def change(rows):
        rows[0]["video_a"] = hostile
    _rewrite_pairs(study_dir, change)
    with pytest.raises(StudyError, match="outside the study directory|relative path inside"):
        load_study(study_dir)


def test_symlink_escaping_the_study_is_refused(study_dir, tmp_path):
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"not for annotators")
    os.symlink(outside, study_dir / "videos" / "link.mp4")
    _rewrite_pairs(study_dir, lambda rows: rows[0].update(video_a="videos/link.mp4"))
    with pytest.raises(StudyError, match="outside the study directory"):
        load_study(study_dir)


@pytest.mark.parametrize("content, message", [
    ("prompt,system_a,video_a\nx,a,b\n", "missing columns"),
    ("prompt,system_a,video_a,system_b,video_b\nx,a,v.mp4,b\n", "wrong number of fields"),
    ("prompt,system_a,video_a,system_b,video_b\nx,a,v.mp4,a,w.mp4\n", "both 'a'"),
    ("prompt,system_a,video_a,system_b,video_b\n,a,v.mp4,b,w.mp4\n", "empty"),
    ("prompt,system_a,video_a,system_b,video_b\nx,tie,v.mp4,b,w.mp4\n", "cannot be a system name"),
    ("prompt,system_a,video_a,system_b,video_b,gold\nx,a,v.mp4,b,w.mp4,maybe\n", "gold must be"),
    ("pair_id,prompt,system_a,video_a,system_b,video_b\nq,x,a,v.mp4,b,w.mp4\nq,y,a,v.mp4,b,w.mp4\n", "duplicate pair_id"),
    ("prompt,system_a,video_a,system_b,video_b\n", "no pairs"),
    (b"\xff\xfe\x00bad", "cannot read"),
])
def test_malformed_pairs_csv_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "pairs.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(StudyError, match=message):
        read_pairs(path)


def test_missing_files_are_clear_errors(tmp_path, study_dir):
    with pytest.raises(StudyError, match="does not exist"):
        load_study(tmp_path / "nope")
    (study_dir / "pairs.csv").unlink()
    with pytest.raises(StudyError, match="pairs.csv is missing"):
        load_study(study_dir)


def test_missing_video_is_named(study_dir):
    (study_dir / "videos" / "system_a" / "000.mp4").unlink()
    with pytest.raises(StudyError, match="000.mp4' not found"):
        load_study(study_dir)


def test_study_file_settings_and_typos(study_dir):
    (study_dir / "study.json").unlink()
    (study_dir / "study.yaml").write_text("questions:\n  - {id: q1, text: 'Which is sharper?'}\n  - {id: q2, text: 'Which moves better?'}\n"
                                          "gold_every: 3\n")
    study = load_study(study_dir)
    assert study.question_ids == ["q1", "q2"] and study.gold_question == "q1" and study.gold_every == 3
    (study_dir / "study.yaml").write_text("questionz: []\n")
    with pytest.raises(StudyError, match="unknown settings"):
        load_study(study_dir)
    (study_dir / "study.yaml").write_text("questions: [{id: q1, text: a}]\ngold_question: q9\n")
    with pytest.raises(StudyError, match="gold_question 'q9'"):
        load_study(study_dir)
    (study_dir / "study.json").write_text(json.dumps({"title": "x"}))
    with pytest.raises(StudyError, match="several study files"):
        load_study(study_dir)


def test_build_all_pairs_and_balanced_sample(study_dir):
    systems = [study_dir / "videos" / s for s in ("system_a", "system_b", "system_c")]
    everything = build_pairs(study_dir, systems, {"000": "first prompt"})
    assert len(everything) == 4 * 3
    assert {(p.system_a, p.system_b) for p in everything} == set(combinations(["system_a", "system_b", "system_c"], 2))
    assert everything[0].prompt == "first prompt" and everything[-1].prompt == "003"
    assert all(p.video_a.startswith(f"videos/{p.system_a}/") for p in everything)

    sample = build_pairs(study_dir, systems, per_prompt=1, seed=3)
    assert len(sample) == 4 and len({p.prompt for p in sample}) == 4
    per_pair = Counter((p.system_a, p.system_b) for p in sample)
    assert max(per_pair.values()) - min(per_pair.values()) <= 1 and len(per_pair) == 3


def test_build_pairs_refuses_folders_outside_the_study(study_dir, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(StudyError, match="not inside the study directory"):
        build_pairs(study_dir, [study_dir / "videos" / "system_a", tmp_path / "elsewhere"])


@pytest.mark.parametrize("damage", ["junk", "truncated", "empty"])
def test_undecodable_video_is_refused_at_load_and_named(study_dir, damage):
    video = study_dir / "videos" / "system_b" / "002.mp4"
    data = video.read_bytes()
    video.write_bytes({"junk": os.urandom(len(data)), "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with pytest.raises(StudyError, match=r"video 'videos/system_b/002.mp4' does not decode"):
        load_study(study_dir)
    assert load_study(study_dir, probe_videos=False).pairs  # only presence checked when asked


def test_probed_videos_give_lengths(study_dir):
    study = load_study(study_dir)
    info = study.videos[study.pairs[0].video_a]
    assert (info.codec, info.width, info.height, info.frames, info.fps, info.seconds) == ("h264", 32, 32, 8, 8.0, 1.0)


def test_videos_that_differ_between_systems_are_warned_about(study_dir):
    from human_eval.study import blinding_warnings
    from human_eval.toy import moving_square, write_video
    assert blinding_warnings(load_study(study_dir)) == []  # every toy video is alike
    for stem in ("000", "001", "002", "003"):
        write_video(study_dir / "videos" / "system_c" / f"{stem}.mp4", moving_square(7, frames=16, size=48), fps=16)
    warnings = blinding_warnings(load_study(study_dir))
    assert [w.split(" (")[0] for w in warnings] == ["videos differ between systems in size",
                                                   "videos differ between systems in fps"]
    assert "system_c: 48x48" in warnings[0] and "system_a: 32x32" in warnings[0] and "--normalize" in warnings[0]


@pytest.mark.parametrize("answers, message", [
    ([{"id": "only", "label": "Only"}], "at least two"),
    ([{"id": "x", "label": "X", "prefers": "up"}, {"id": "y", "label": "Y"}], "prefers must be"),
    ([{"id": "x", "label": "X"}, {"id": "x", "label": "Y"}], "unique"),
    ([{"id": "x"}, {"id": "y", "label": "Y"}], "needs 'id' and 'label'"),
])
def test_bad_answer_sets_are_refused_by_name(study_dir, answers, message):
    settings = json.loads((study_dir / "study.json").read_text())
    settings["questions"] = [{"id": "overall", "text": "Which?", "answers": answers}]
    (study_dir / "study.json").write_text(json.dumps(settings))
    with pytest.raises(StudyError, match=message):
        load_study(study_dir, probe_videos=False)


def test_questions_and_their_answers_round_trip_through_study_json(study_dir):
    from human_eval import MOVIE_GEN_QUESTIONS, QUESTIONS, Answer, Question, Study, write_study_file

    custom = Question("look", "Which looks better?", (Answer("l", "L", "left"), Answer("r", "R", "right")))
    study = Study(study_dir, [], [QUESTIONS[q] for q in MOVIE_GEN_QUESTIONS] + [custom], gold_every=0)
    write_study_file(study, study_dir / "study.json")
    loaded = load_study(study_dir, probe_videos=False)
    assert loaded.questions == study.questions
