"""Prompts of a folder of videos: a `.csv` (video,prompt), a `.json` ({video: prompt} or records) keyed by
file name or stem, or a `.txt` / JSON list matched to the videos in `sorted()` order of their names."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Sequence

from .video_io import VideoLoadError


class PromptsError(VideoLoadError):
    """A prompts file cannot be read or does not match the videos."""

    skip_bad_helps = False


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def read_prompt_file(prompts_file: Path) -> dict[str, str] | list[str]:
    """The raw contents of a prompts file: a {video: prompt} mapping (CSV, JSON object or records) or a
    list (.txt lines, JSON list) to be matched by order."""
    suffix = prompts_file.suffix.lower()
    if suffix == ".csv":
        with open(prompts_file, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"video", "prompt"} <= set(reader.fieldnames):
                raise PromptsError(f"{prompts_file}: a prompts CSV needs a header with the columns video,prompt "
                                     f"(found {reader.fieldnames})")
            rows = list(reader)
        mapping: dict[str, str] = {}
        for row in rows:
            if row["video"] in mapping:
                raise PromptsError(f"{prompts_file}: video {row['video']} is listed twice")
            mapping[row["video"]] = row["prompt"]
        return mapping
    if suffix == ".json":
        try:
            data = json.loads(prompts_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise PromptsError(f"{prompts_file}: not valid JSON ({err})") from None
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
        if isinstance(data, list) and all(isinstance(x, dict) and {"video", "prompt"} <= set(x) for x in data):
            return {str(x["video"]): str(x["prompt"]) for x in data}
        if isinstance(data, list):
            return [str(x) for x in data]
        raise PromptsError(f"{prompts_file}: expected {{video: prompt}} or a list of {{video, prompt}} records")
    return [line.strip() for line in prompts_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_prompts(prompts_file: str | Path, videos: Sequence[Path]) -> list[str]:
    """Prompts for `videos` (as `list_videos` orders them). The explicit way: a .csv with columns
    `video,prompt` or a .json `{video: prompt}` (or a list of `{"video", "prompt"}` records), keyed by
    file name (`clip1.mp4`) or by stem (`clip1`). A .txt (one prompt per line) or a JSON list is matched
    to the videos in `sorted()` order of their names. Any mismatch is an error naming the files."""
    prompts_file = Path(prompts_file)
    if not prompts_file.is_file():
        raise PromptsError(f"{prompts_file}: prompts file not found")
    data = read_prompt_file(prompts_file)
    names = [Path(v).name for v in videos]
    if isinstance(data, list):
        if len(data) != len(videos):
            raise PromptsError(
                f"{prompts_file}: {len(data)} prompts for {len(videos)} videos ({_names(names)}); a line-per-prompt "
                "list is matched to the videos in sorted() order of their names: give exactly one prompt per video, "
                "or map them explicitly with a CSV (video,prompt) or JSON {video: prompt}"
            )
        return list(data)
    stems: dict[str, list[str]] = {}
    for name in names:
        stems.setdefault(Path(name).stem, []).append(name)
    prompts, used, missing = [], set(), []
    for name in names:
        key = name if name in data else Path(name).stem if Path(name).stem in data and len(stems[Path(name).stem]) == 1 else None
        if key is None:
            missing.append(name)
        else:
            used.add(key)
            prompts.append(data[key])
    if missing:
        raise PromptsError(f"{prompts_file}: no prompt for {len(missing)} video(s): {_names(missing)}")
    extra = [k for k in data if k not in used]
    if extra:
        warnings.warn(f"{prompts_file}: {len(extra)} prompt(s) name no video in the folder (ignored): {_names(extra)}",
                      stacklevel=2)
    return prompts
