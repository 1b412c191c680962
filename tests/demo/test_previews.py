"""Preview clips of the examples: made once per model and prompt, then read from the cache folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from demo.previews import preview_clips
from streamdit import StreamDiTPipeline


def test_previews_are_made_once_per_model_and_prompt(text_encoder, tmp_path: Path) -> None:
    pipe = StreamDiTPipeline.from_config("tiny", text_encoder=text_encoder)
    prompts = ["a red circle moving left", "a blue square moving up"]
    clips = preview_clips(pipe, "model-a", prompts, tmp_path)
    assert len(set(clips)) == 2 and all(clip.parent == tmp_path and clip.suffix == ".gif" for clip in clips)
    with Image.open(clips[0]) as gif:  # (the GIF writer merges repeated frames: count the time they show)
        shown_ms = 0
        for i in range(gif.n_frames):
            gif.seek(i)
            shown_ms += gif.info["duration"]
        assert gif.size == (pipe.resolution[1], pipe.resolution[0]) and abs(shown_ms - 1500) <= 24  # 1.5 s of video
    made = [clip.stat().st_mtime_ns for clip in clips]
    assert preview_clips(pipe, "model-a", prompts, tmp_path) == clips
    assert [clip.stat().st_mtime_ns for clip in clips] == made  # read from the cache, not made again
    assert preview_clips(pipe, "model-b", prompts[:1], tmp_path)[0] not in clips  # another model: its own clip
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".gif"] * 3  # no partial files left
