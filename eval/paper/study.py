"""The paper run's human-eval study directory for `python -m human_eval serve`: every pair of systems on
every prompt (`pairs.csv`) and the paper's questions (`study.json`), written by `human_eval`'s own
writers, the videos rewritten without metadata tags (`human_eval.strip_metadata`; `serve` refuses tagged
files). The questions are human_eval's Movie Gen protocol set (overall quality, frame consistency,
motion completeness, motion naturalness) plus text alignment, which the synthetic domain makes easy to judge.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Mapping, Sequence

from human_eval import MOVIE_GEN_QUESTIONS, QUESTIONS, Pair, Study, strip_metadata, write_pairs, write_study_file


def write_study(root: str | Path, prompts: Sequence[str], videos: Mapping[str, Sequence[str]],
                title: str = "StreamDiT paper evaluation") -> Path:
    """Write `root/pairs.csv` (every pair of systems on every prompt; `videos[system][i]` is the path of
    prompt i's video relative to `root`, rewritten without metadata tags) and `root/study.json`; returns the
    pairs file."""
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
    for paths in videos.values():
        for path in paths:  # in place: the run's own files, tagged by the writer
            stripped = (root / path).with_name(f".{Path(path).name}")
            strip_metadata(root / path, stripped)
            stripped.replace(root / path)
    pairs = [(prompt, a, videos[a][i], b, videos[b][i])
             for i, prompt in enumerate(prompts) for a, b in itertools.combinations(systems, 2)]
    pairs = [Pair(f"p{n:04d}", *pair) for n, pair in enumerate(pairs, start=1)]
    root.mkdir(parents=True, exist_ok=True)
    write_pairs(pairs, root / "pairs.csv")
    write_study_file(Study(root, pairs, [QUESTIONS[q] for q in MOVIE_GEN_QUESTIONS], title=title, gold_every=0),
                     root / "study.json")
    return root / "pairs.csv"
