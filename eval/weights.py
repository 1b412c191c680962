"""Where the pretrained networks' weight files live, the error that says how to get a missing one, and
the error for a file that is not what it claims to be.

Files are looked up in `--weights-dir`, else `$STREAMDIT_EVAL_WEIGHTS`, else
`$XDG_CACHE_HOME/streamdit/eval-weights` (`~/.cache/...` when XDG_CACHE_HOME is unset), unless a path is
given explicitly. Nothing is downloaded unless asked (`python -m eval weights download NAME`, or
`--download` on a metric command; see `eval.download`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path


DEFAULT_CLIP_ARCH = "ViT-B-32-quickgelu"  # OpenAI CLIP ViT-B/32 (QuickGELU): VBench's background-consistency CLIP
DEFAULT_DINO_ARCH = "vit_base_patch16_224"  # DINO ViT-B/16: VBench's subject-consistency network
DEFAULT_ARCHS = {"clip": DEFAULT_CLIP_ARCH, "dino": DEFAULT_DINO_ARCH}  # the architectures of the default files


@dataclass(frozen=True)
class Part:
    """One file to download: its path relative to the weights dir, its URL and, where known, its SHA-256
    (a full hex digest, or a prefix of one, as torchvision's file names carry)."""

    relpath: str
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file (or transformers directory): where it goes (relative to the weights
    dir), where to get it, and the files a download fetches (`parts`; default: `relpath` from `url`)."""

    relpath: str
    url: str
    source: str
    sha256: str | None = None
    parts: tuple[Part, ...] = ()

    def downloads(self) -> tuple[Part, ...]:
        return self.parts or (Part(self.relpath, self.url, self.sha256),)


WEIGHTS = {
    "i3d": (
        WeightsFile(
            "i3d_torchscript.pt",
            "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",
            "StyleGAN-V's TorchScript I3D (Kinetics-400), the FVD detector of StyleGAN-V and DIGAN",
        ),
        WeightsFile(
            "i3d_pretrained_400.pt",
            "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
            "pytorch-i3d Kinetics-400 state dict, as used by TATS and cd-fvd",
        ),
    ),
    "clip": (
        WeightsFile(
            "clip/ViT-B-32-quickgelu/open_clip_model.safetensors",
            "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/open_clip_model.safetensors",
            "OpenAI CLIP ViT-B/32 in open_clip format (architecture ViT-B-32-quickgelu)",
        ),
    ),
    "videomae": (
        WeightsFile(
            "videomae-base-finetuned-kinetics",
            "https://huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics (config.json + model.safetensors)",
            "VideoMAE ViT-B/16 fine-tuned on Kinetics-400, a transformers directory (alternative FVD features)",
            parts=tuple(
                Part(f"videomae-base-finetuned-kinetics/{name}",
                     f"https://huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics/resolve/main/{name}")
                for name in ("config.json", "model.safetensors")
            ),
        ),
    ),
    "dino": (
        WeightsFile(
            "dino_vitbase16_pretrain.pth",
            "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            "DINO ViT-B/16 backbone (facebookresearch/dino), VBench's subject-consistency network",
        ),
    ),
    "raft": (
        WeightsFile(
            "raft_large_C_T_V1-22a6c225.pth",
            "https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
            "torchvision RAFT-large, the original RAFT-things weights (FlyingChairs + FlyingThings3D) ported: "
            "VBench's dynamic-degree flow network",
            sha256="22a6c225",
        ),
    ),
}


class WeightsLoadError(ValueError):
    """A weights file exists but is not a usable network of the expected kind."""


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
WEIGHTS_ONLY_CAUSE = re.compile(r"WeightsUnpickler error:\s*([^\n]+?)(?:\.\s|\n|$)")


def _load_failure(err: BaseException) -> str:
    """What went wrong, in one short line: the first sentence of the error's first line; for torch's
    `weights_only` refusal only its cause (the file holds pickled objects that are not tensors), never its advice
    to load the file again with `weights_only=False` (which would run the pickled code; nothing is retried)."""
    text = ANSI_ESCAPE.sub("", str(err)).strip()
    cause = WEIGHTS_ONLY_CAUSE.search(text)
    if cause:
        return f"it holds pickled objects that are not tensors ({cause.group(1).strip()})"
    first = text.splitlines()[0].split(". ")[0] if text else ""
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__


def load_error(kind: str, path: str | Path, err: BaseException) -> WeightsLoadError:
    """A one-line error for a weights file that would not load, saying what it looks like and what to do."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(512).lstrip().lower()
    except OSError:
        head = b""
    looks = " (it is an HTML/text page, not weights: a failed download?)" if head.startswith((b"<", b"{\"error")) else ""
    return WeightsLoadError(
        f"{path}: not a usable {kind} weights file{looks}: {_load_failure(err)}. Delete it and "
        f"get it again (python -m eval weights download {kind}), or pass the right file"
    )


class MissingWeightsError(FileNotFoundError):
    """A weights file is not on disk; the message says what to download and where to put it."""


def weights_dir(override: str | Path | None = None) -> Path:
    """The directory searched for weight files (and where downloads go)."""
    if override is not None:
        return Path(override)
    if os.environ.get("STREAMDIT_EVAL_WEIGHTS"):
        return Path(os.environ["STREAMDIT_EVAL_WEIGHTS"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamdit" / "eval-weights"


def how_to_get(kind: str, directory: Path) -> str:
    """Instructions naming each accepted file, its URL and its destination."""
    lines = [f"  {directory / w.relpath}\n      <- {w.url}\n      ({w.source})" for w in WEIGHTS[kind]]
    return "\n".join(lines)


def resolve_weights(kind: str, path: str | Path | None = None, directory: str | Path | None = None) -> Path:
    """The weights file (directory for "videomae") for `kind` ("i3d", "clip", "dino", "videomae"): `path`
    if given, else the first known one present in the weights directory. Raises MissingWeightsError with
    download instructions."""
    if path is not None:
        path = Path(path)
        if path.exists():
            return path
        raise MissingWeightsError(
            f"{kind} weights file {path} does not exist. Download one of these files (or pass its path):\n"
            + how_to_get(kind, weights_dir(directory))
        )
    root = weights_dir(directory)
    for w in WEIGHTS[kind]:
        if (root / w.relpath).exists():
            return root / w.relpath
    raise MissingWeightsError(
        f"no {kind} weights found in {root}. Run `python -m eval weights download {kind}` (or add --download to "
        f"this command), or download one of these by hand and put it exactly here (or pass --{kind}-weights PATH, "
        "or set STREAMDIT_EVAL_WEIGHTS to another folder):\n"
        + how_to_get(kind, root)
    )


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of a weights file, so cached features and results are tied to the exact weights that made
    them (computed once per file version in a process)."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def checked_sha256(kind: str, path: str | Path) -> str:
    """The SHA-256 of a weights file, checked against the registry's pinned value for its file name and
    against the `<file>.sha256` recorded when it was downloaded; a mismatch is a `WeightsLoadError`."""
    path = Path(path)
    sha = file_fingerprint(path)
    sidecar = path.with_name(path.name + ".sha256")
    recorded = sidecar.read_text().split()[0] if sidecar.is_file() and sidecar.read_text().strip() else None
    pinned = next((w.sha256 for w in WEIGHTS.get(kind, ()) if w.sha256 and Path(w.relpath).name == path.name), None)
    for expected, what in ((pinned, "pinned"), (recorded, f"recorded in {sidecar.name} at download")):
        if expected and not sha.startswith(expected.lower()):
            raise WeightsLoadError(f"{path}: SHA-256 {sha} is not the {what} {expected}: the file changed or is "
                                   f"another file; delete it and get it again (python -m eval weights download {kind})")
    return sha


def checked_weights(kind: str, path: str | Path | None, weights_dir: str | Path | None,
                    arch: str | None = None) -> tuple[Path, str]:
    """The weights file of `kind` (`resolve_weights`) and its checked SHA-256 (`checked_sha256`). The default
    file is the default architecture's: another `arch` needs an explicit `path`."""
    if path is None and arch is not None and arch != DEFAULT_ARCHS.get(kind):
        raise ValueError(f"{kind.upper()} architecture {arch} needs its checkpoint path (--{kind}-weights PATH)")
    path = resolve_weights(kind, path, weights_dir)
    return path, checked_sha256(kind, path)
