"""Fetching weight files into the weights cache: resumable, checksum-verified, atomic.

A download goes to `<file>.part` beside its destination, resumes from there with an HTTP Range request
(or restarts when the server ignores ranges), is checked against the pinned SHA-256 where one is known
(a wrong file is deleted), and only then is renamed to its final name, so the cache never holds a
half-written weights file under a name the metrics would load. The digest is recorded beside the file
(`<file>.sha256`) and checked whenever the metrics load it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .weights import WEIGHTS, WeightsFile, weights_dir

CHUNK = 1 << 20


class DownloadError(OSError):
    """A download failed; the message says why and what to do."""


class ChecksumError(DownloadError):
    """The downloaded bytes are not the pinned file (the partial file has been removed)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0, progress: bool = True) -> str:
    """Download `url` to `dest` (resuming `dest.part` if present); returns the file's SHA-256. `sha256` is
    a full hex digest or a prefix of one; a mismatch removes the partial file and raises ChecksumError."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = offset > 0 and response.status == 206
            if not resumed:
                offset = 0  # the server sent the whole file: start again
            length = response.headers.get("Content-Length")
            expected = offset + int(length) if length is not None else None
            received = offset
            with open(part, "ab" if resumed else "wb") as fh:
                while True:
                    try:
                        block = response.read(CHUNK)
                    except http.client.IncompleteRead as err:
                        fh.write(err.partial)
                        received += len(err.partial)
                        break
                    if not block:
                        break
                    fh.write(block)
                    received += len(block)
                    if progress:
                        total = f" of {expected / 1e6:.1f}" if expected else ""
                        print(f"\r{dest.name}: {received / 1e6:.1f}{total} MB", end="", file=sys.stderr, flush=True)
            if progress:
                print(file=sys.stderr)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        kept = f"; {part.stat().st_size} bytes kept in {part}, run again to resume" if part.exists() and part.stat().st_size else ""
        raise DownloadError(f"{url}: cannot download ({reason}){kept}") from None
    if expected is not None and received < expected:
        raise DownloadError(f"{url}: interrupted after {received} of {expected} bytes; the part is kept in {part}: "
                            "run the same command again to resume")
    digest = _sha256(part)
    if sha256 is not None and not digest.startswith(sha256.lower()):
        part.unlink()
        raise ChecksumError(f"{url}: SHA-256 {digest} is not the pinned {sha256}: the file was removed. The "
                            "server sent something else (an error page, another version); nothing was saved")
    os.replace(part, dest)
    dest.with_name(dest.name + ".sha256").write_text(f"{digest}  {dest.name}\n")  # checked at every load
    return digest


def download_weights(kind: str, directory: str | Path | None = None, which: int = 0, progress: bool = True) -> Path:
    """Download the `which`-th published file of `kind` ("i3d", "clip", "dino", "videomae", "raft"), or the
    file named `kind` (e.g. "i3d_pretrained_400.pt", an alternative), into the weights dir (skipping parts
    already there); returns its path."""
    named = [w for files in WEIGHTS.values() for w in files if w.relpath == kind or Path(w.relpath).name == kind]
    if kind not in WEIGHTS and not named:
        files = ", ".join(Path(w.relpath).name for files in WEIGHTS.values() for w in files)
        raise ValueError(f"unknown weights {kind!r}; choose from {', '.join(WEIGHTS)} (or a file name: {files})")
    entry: WeightsFile = WEIGHTS[kind][which] if kind in WEIGHTS else named[0]
    root = weights_dir(directory)
    for part in entry.downloads():
        dest = root / part.relpath
        if dest.exists():
            continue
        digest = fetch(part.url, dest, part.sha256, progress=progress)
        pinned = "matches the pinned checksum" if part.sha256 else "no checksum is pinned for this file: compare it with the publisher's"
        print(f"{dest}: SHA-256 {digest} ({pinned})", file=sys.stderr)
    return root / entry.relpath
