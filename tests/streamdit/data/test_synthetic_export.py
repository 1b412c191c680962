"""mp4 export of domain samples and reading them back."""

import csv

from streamdit.data import parse_caption, detect_adherence, write_sample
from streamdit.video_io import read_video


def test_write_sample_round_trips_through_mp4(tmp_path):
    paths = write_sample(tmp_path, n=4, split="heldout", num_frames=12, seed=3)
    prompts = (tmp_path / "prompts.txt").read_text().splitlines()
    with open(tmp_path / "metadata.csv") as f:
        rows = list(csv.DictReader(f))
    assert [p.name for p in paths] == [r["file"] for r in rows] == [f"sample_{i:03d}.mp4" for i in range(4)]
    assert prompts == [r["prompt"] for r in rows]
    for path, row in zip(paths, rows):
        video, _ = read_video(path)
        assert video.shape == (12, 128, 128, 3)
        [obj] = parse_caption(row["prompt"])
        assert (obj.color, obj.shape, obj.direction) == (row["colors"], row["shapes"], row["directions"])
        assert detect_adherence(video, row["prompt"])["match"]
