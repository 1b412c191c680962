"""Video files of a study: probing that each one decodes, stripping their metadata, and re-encoding them
all to one format.

``probe`` decodes every frame with PyAV, so a corrupt or truncated file is found when the study is
prepared or loaded, not by an annotator looking at a black pane; it also reads the file's metadata tags.
``strip_metadata`` copies a video's picture stream into a new file (no re-encoding) without the container
and stream tags (title, comment, handler names, encoder, creation time, ...) and without other streams;
``naming_tags`` lists the tags a file still carries beyond the format's own constants. ``normalize_videos``
re-encodes videos to one codec, frame rate, size and length, with the same encoder settings and none of
the sources' metadata, under opaque file names, so the file itself tells an annotator nothing about
which system made it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


class MediaError(ValueError):
    """A video that cannot be decoded or re-encoded (message names the file and says why)."""


# Tags FFmpeg's muxers write into every file (stripped ones included) whatever it holds: format constants
# (any value), and defaults that are the same in every file (these values only). Any other tag can name something.
FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands", "duration"}
DEFAULT_TAGS = {"language": {"und"}, "handler_name": {"VideoHandler", "SoundHandler"},
                "vendor_id": {"[0][0][0][0]", "FFMP"}, "encoder": {"Lavf"}}  # "Lavf": the bitexact muxers' tag
BITEXACT = {"fflags": "+bitexact"}  # muxers write no version, creation time or encoder name of their own


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    seconds: float
    tags: tuple[tuple[str, str], ...] = ()  # container tags, then "stream N key" tags, as the file has them


def _tags(container: av.container.InputContainer) -> tuple[tuple[str, str], ...]:
    tags = list(container.metadata.items())
    for stream in container.streams:
        tags += [(f"stream {stream.index} {key}", value) for key, value in stream.metadata.items()]
    return tuple(tags)


def read_tags(path: str | Path) -> tuple[tuple[str, str], ...]:
    """The container and stream tags of a video file, as ``VideoInfo.tags`` (no frame is decoded)."""
    try:
        with av.open(str(path)) as container:
            return _tags(container)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise MediaError(f"{path}: cannot be read ({err})") from err


def naming_tags(info: VideoInfo) -> dict[str, str]:
    """The tags of a probed file beyond the format's constants (`FORMAT_TAGS`, `DEFAULT_TAGS`): what could name
    a system, a person, a tool or a date to someone who opens the file."""
    found = {}
    for key, value in info.tags:
        name = key.rsplit(" ", 1)[-1].lower()
        if name in FORMAT_TAGS or value in DEFAULT_TAGS.get(name, ()):
            continue
        found[key] = value
    return found


def probe(path: str | Path) -> VideoInfo:
    """Decode every frame of ``path``; raise MediaError naming the file if it has no video or does not decode."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: no video stream")
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            codec, width, height = stream.codec_context.name, stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate or 0
            tags = _tags(container)
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        raise MediaError(f"{path}: cannot be decoded ({err})") from err
    if frames == 0:
        raise MediaError(f"{path}: no frame decodes")
    fps = float(rate) if rate else 0.0
    return VideoInfo(codec, width, height, fps, frames, frames / fps if fps else 0.0, tags)


def strip_metadata(source: str | Path, target: str | Path) -> None:
    """Copy the first video stream of ``source`` into ``target`` (same container format, packets copied as they
    are: no re-encoding) with no container or stream tags and no other stream (sound, subtitles, data tracks);
    MediaError naming the file if it cannot be read or written."""
    source, target = Path(source), Path(target)
    try:
        with av.open(str(source)) as given, av.open(str(target), mode="w", container_options=BITEXACT) as out:
            if not given.streams.video:
                raise MediaError(f"{source}: no video stream")
            stream = given.streams.video[0]
            copy = out.add_stream_from_template(stream)
            copy.metadata.clear()
            out.metadata.clear()
            for packet in given.demux(stream):
                if packet.dts is None:  # the demuxer's empty packet at the end
                    continue
                packet.stream = copy
                out.mux(packet)
    except MediaError:
        target.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as err:
        target.unlink(missing_ok=True)
        raise MediaError(f"{source}: cannot be copied without its metadata ({err})") from err


def read_frames(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video as uint8 RGB (T, H, W, 3) and its frame rate."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    except (av.FFmpegError, OSError, ValueError, IndexError) as err:
        raise MediaError(f"{path}: cannot be decoded ({err})") from err
    return frames, rate


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a frame to fit inside width x height keeping its aspect ratio; pad the rest with black."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2)
    scaled = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24").reformat(
        width=new_w, height=new_h, format="rgb24").to_ndarray()
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = scaled
    return out


def encode(path: str | Path, frames: np.ndarray, fps: int, crf: int = 20) -> None:
    """H.264 (yuv420p) MP4 of uint8 RGB frames; no source metadata, the same encoder tags in every file."""
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}, container_options=BITEXACT) as container:
        container.metadata.clear()
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        stream.metadata.clear()
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def normalize_videos(sources: list[Path], out_dir: Path, *, fps: int, width: int, height: int,
                     seconds: float | None = None) -> dict[Path, str]:
    """Re-encode every source to ``fps``, ``width`` x ``height`` and one length, named by an opaque id.

    The length is ``seconds``, or the shortest source's; longer videos are cut, frames are picked by
    time (nearest earlier frame) to change the rate. Returns source -> new file name (in ``out_dir``).
    """
    if fps < 1 or width < 2 or height < 2 or width % 2 or height % 2:
        raise MediaError("fps must be >= 1 and width/height even numbers >= 2")
    clips = {src: read_frames(src) for src in sources}
    for src, (frames, rate) in clips.items():
        if rate <= 0:
            raise MediaError(f"{src}: unknown frame rate")
    shortest = min(len(f) / r for f, r in clips.values())
    length = seconds if seconds is not None else shortest
    if length > shortest + 1e-6:
        raise MediaError(f"--seconds {length} is longer than the shortest video ({shortest:.2f} s)")
    count = max(1, int(round(length * fps)))
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {}
    for src, (frames, rate) in clips.items():
        times = np.arange(count) / fps
        picks = np.minimum((times * rate + 1e-6).astype(int), len(frames) - 1)
        name = f"{secrets.token_hex(8)}.mp4"
        encode(out_dir / name, np.stack([_fit(frames[i], width, height) for i in picks]), fps)
        names[src] = name
    return names

