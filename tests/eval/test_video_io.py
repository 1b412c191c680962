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


LONG = (120, 360, 640)  # frames, height, width: 83 MB decoded, 0.7 MB a frame
FRAME_BYTES = LONG[1] * LONG[2] * 3


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """A 640x360 video of 120 frames, alone in its folder, and its frames as PyAV decodes them."""
    import av

    path = tmp_path_factory.mktemp("long") / "long.mp4"
    t, h, w = LONG
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], -1).astype(np.uint8)
    frames = np.repeat(base[None], t, axis=0)
    for i in range(t):
        frames[i, 100:160, 5 * i:5 * i + 60] = (250, 30, 30)
    write_video(path, frames, fps=16)
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return path, decoded


def _peak_bytes(run) -> int:
    """The most memory Python and numpy held at once while `run()` ran (tracemalloc: numpy reports its arrays)."""
    import tracemalloc

    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_frame_metrics_stream_a_video_a_few_frames_at_a_time(long_video, tmp_path):
    from eval.cli import main

    path, decoded = long_video
    args = ["consistency", str(path.parent), "--metrics", "flicker,seam,inside,frozen", "--chunk-size", "8",
            "--no-progress", "--per-video", str(tmp_path / "pv.json")]
    assert main(args) == 0  # imports and caches warm
    assert _peak_bytes(lambda: main(args)) < 8 * FRAME_BYTES  # a window of frames, not the 120 of the video
    expected = np.abs(np.diff(decoded.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    from eval.consistency import FrameDifferences
    assert _peak_bytes(lambda: FrameDifferences.of(path)) < 6 * FRAME_BYTES
    np.testing.assert_allclose(FrameDifferences.of(path).values, expected, rtol=1e-12)
    per_video = json.loads((tmp_path / "pv.json").read_text())[0]
    assert per_video["temporal_flicker"] == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize("sampling, picks", [
    (dict(num_frames=4, sampling="uniform"), [0, 40, 79, 119]),  # CLIP/DINO frame sampling
    (dict(num_frames=4, stride=10), [0, 10, 20, 30]),  # an FVD clip at a stride
    (dict(stride=30), [0, 30, 60, 90]),  # dynamic degree's frame interval
])
def test_a_sampled_video_holds_only_the_frames_it_takes(long_video, sampling, picks):
    path, decoded = long_video
    assert _peak_bytes(lambda: load_video(path, **sampling)) < (len(picks) + 4) * FRAME_BYTES
    np.testing.assert_array_equal(load_video(path, **sampling), decoded[picks])


def test_a_video_that_cannot_fit_is_one_line_naming_it_and_the_memory_it_needs(long_video, tmp_path):
    """Under a per-process memory limit (RLIMIT_AS) smaller than the video: the command that holds whole videos
    (adherence's detector) says which video and how much, with no MemoryError traceback."""
    import subprocess
    import sys

    path, _ = long_video
    (tmp_path / "prompts.csv").write_text("video,prompt\nlong.mp4,a red square moving right\n")
    script = f"""
import resource, sys
import eval.adherence, streamdit.data  # the imports first: the limit leaves the process 40 MB more than it has
from eval.cli import main
vm = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmSize:"))) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 40 * 2**20, resource.RLIM_INFINITY))
sys.exit(main(["adherence", {str(path.parent)!r}, "--prompts", {str(tmp_path / "prompts.csv")!r}, "--no-progress"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert f"{path}: 120 frames of 640x360 need 0.08 GiB of memory at once" in done.stderr
    assert "--skip-bad" not in done.stderr  # skipping cannot help: the error says what does
