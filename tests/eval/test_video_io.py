import json

import numpy as np
import pytest

from eval import VideoLoadError, list_videos, load_video
from eval.prompts import read_prompts
from eval.video_io import as_video, content_hash, read_chunk_frames, video_fps

from eval_helpers import moving_square_video, write_frame_folder, write_video


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif", ".avi"])
def test_formats_roundtrip(tmp_path, suffix):
    video = moving_square_video(frames=10, size=32)
    path = write_video(tmp_path / f"v{suffix}", video)
    loaded = load_video(path)
    assert loaded.shape == video.shape and loaded.dtype == np.uint8
    tolerance = {".mp4": 8, ".gif": 20}.get(suffix, 25)  # crf 0 x264 loses only to 4:2:0 chroma; others lossy
    assert np.abs(loaded.astype(int) - video).mean() < tolerance


def test_frame_folder_natural_order(tmp_path):
    video = np.stack([np.full((8, 8, 3), 10 * i, dtype=np.uint8) for i in range(12)])
    loaded = load_video(write_frame_folder(tmp_path / "frames", video))
    np.testing.assert_array_equal(loaded, video)  # 10.png after 9.png


def test_sampling_options(tmp_path):
    video = np.stack([np.full((4, 4, 3), i, dtype=np.uint8) for i in range(20)])
    folder = write_frame_folder(tmp_path / "f", video)
    assert load_video(folder, num_frames=4)[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert load_video(folder, num_frames=4, stride=3)[:, 0, 0, 0].tolist() == [0, 3, 6, 9]
    assert load_video(folder, num_frames=5, sampling="uniform")[:, 0, 0, 0].tolist() == [0, 5, 10, 14, 19]
    with pytest.raises(VideoLoadError, match="20 frames, 31 needed"):
        load_video(folder, num_frames=16, stride=2)


def test_list_videos(video_dir):
    (video_dir / "notes.txt").write_text("not a video")
    assert [p.name for p in list_videos(video_dir)] == ["a.mp4", "b.gif", "c"]


def test_corrupt_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a real movie" * 10)
    with pytest.raises(VideoLoadError, match="broken.mp4: cannot decode video"):
        load_video(bad)
    with pytest.raises(VideoLoadError, match="broken.mp4: cannot decode video"):
        video_fps(bad)


def test_files_are_read_by_streamdits_reader_first_frames_only(tmp_path, monkeypatch):
    import streamdit

    path = write_video(tmp_path / "v.mp4", moving_square_video(12), fps=8)
    decoded, read = [], streamdit.iter_video_frames

    def counting(p):
        for frame in read(p):
            decoded.append(frame)
            yield frame

    monkeypatch.setattr(streamdit, "iter_video_frames", counting)
    assert load_video(path, num_frames=4).shape[0] == 4 and len(decoded) == 4
    assert video_fps(path) == 8 and video_fps(tmp_path) is None


def test_one_frame_video(tmp_path):
    path = write_video(tmp_path / "one.mp4", moving_square_video(frames=1))
    with pytest.raises(VideoLoadError, match="1 frame"):
        load_video(path)


def test_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoLoadError, match="no videos found"):
        list_videos(tmp_path / "empty")
    with pytest.raises(VideoLoadError, match="empty frame folder"):
        load_video(tmp_path / "empty")
    with pytest.raises(VideoLoadError, match="no such file"):
        load_video(tmp_path / "missing.mp4")


def test_in_memory_checks():
    with pytest.raises(VideoLoadError, match="uint8"):
        as_video(np.zeros((4, 8, 8, 3), dtype=np.float32))
    with pytest.raises(VideoLoadError, match=r"\(T, H, W, 3\)"):
        as_video(np.zeros((4, 8, 8), dtype=np.uint8))
    with pytest.raises(VideoLoadError, match="1 frame"):
        as_video(np.zeros((1, 8, 8, 3), dtype=np.uint8))


def test_prompts_txt_csv_json_and_mismatch(video_dir, tmp_path):
    videos = list_videos(video_dir)
    txt = tmp_path / "p.txt"
    txt.write_text("red square\ngreen square\nblue square\n")
    assert read_prompts(txt, videos) == ["red square", "green square", "blue square"]
    csv = tmp_path / "p.csv"
    csv.write_text("video,prompt\nc,blue\nb.gif,green\na.mp4,red\n")
    assert read_prompts(csv, videos) == ["red", "green", "blue"]
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"a.mp4": "red", "b.gif": "green"}))
    with pytest.raises(VideoLoadError, match="no prompt for 1 video"):
        read_prompts(js, videos)
    txt.write_text("only one prompt\n")
    with pytest.raises(VideoLoadError, match="1 prompts for 3 videos"):
        read_prompts(txt, videos)


def test_sidecar_chunk_frames(video_dir):
    assert read_chunk_frames(video_dir / "a.mp4") is None
    (video_dir / "a.mp4.json").write_text(json.dumps({"chunk_frames": 8, "prompt": "x"}))
    (video_dir / "c.json").write_text(json.dumps({"chunk_frames": 4}))
    assert read_chunk_frames(video_dir / "a.mp4") == 8
    assert read_chunk_frames(video_dir / "c") == 4


def test_content_hash_follows_content_not_name(video_dir, tmp_path):
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes((video_dir / "a.mp4").read_bytes())
    assert content_hash(copy) == content_hash(video_dir / "a.mp4")
    assert content_hash(video_dir / "b.gif") != content_hash(video_dir / "a.mp4")
    before = content_hash(video_dir / "c")
    (video_dir / "c" / "0.png").write_bytes((video_dir / "c" / "1.png").read_bytes())
    assert content_hash(video_dir / "c") != before
