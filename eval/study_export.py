"""A human-eval study directory for `python -m human_eval serve`, written in its documented
format without importing `human_eval`: `pairs.csv` (columns `pair_id, prompt, system_a, video_a,
system_b, video_b`, video paths relative to the directory) and `study.json` (the questions).

The questions follow the paper's human evaluation (Movie Gen protocol): overall quality,
frame consistency, motion completeness, motion naturalness; plus text alignment, which the synthetic
domain makes easy to judge.
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Mapping, Sequence

QUESTIONS = (
    ("overall", "Which video has better overall quality?"),
    ("frame_consistency", "Which video is more consistent from frame to frame (no flicker, no seams, stable objects)?"),
    ("motion_completeness", "Which video shows more complete motion (the object keeps moving as described)?"),
    ("motion_naturalness", "Which video has more natural, smooth motion?"),
    ("text_alignment", "Which video matches the text prompt better?"),
)


def write_study(root: str | Path, prompts: Sequence[str], videos: Mapping[str, Sequence[str]],
                title: str = "StreamDiT paper evaluation") -> Path:
    """Write `root/pairs.csv` (every pair of systems on every prompt; `videos[system][i]` is the path of
    prompt i's video relative to `root`) and `root/study.json`; returns the pairs file."""
    root = Path(root)
    systems = list(videos)
    if len(systems) < 2:
        raise ValueError("a study needs at least two systems")
    for system, paths in videos.items():
        if len(paths) != len(prompts):
            raise ValueError(f"{system}: {len(paths)} videos for {len(prompts)} prompts")
        missing = [p for p in paths if not (root / p).is_file()]
        if missing:
            raise ValueError(f"{system}: videos missing from {root}: {missing[:3]}")
    root.mkdir(parents=True, exist_ok=True)
    pairs_path = root / "pairs.csv"
    with pairs_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("pair_id", "prompt", "system_a", "video_a", "system_b", "video_b"))
        n = 0
        for i, prompt in enumerate(prompts):
            for a, b in itertools.combinations(systems, 2):
                n += 1
                writer.writerow((f"p{n:04d}", prompt, a, videos[a][i], b, videos[b][i]))
    study = {"title": title,
             "instructions": "Watch both videos, then answer each question: left, right, or tie.",
             "questions": [{"id": q, "text": text} for q, text in QUESTIONS],
             "gold_question": "overall", "gold_every": 0, "repeat_every": 15, "items_per_annotator": None}
    (root / "study.json").write_text(json.dumps(study, indent=2) + "\n", encoding="utf-8")
    return pairs_path
