"""Where the pretrained networks' weight files live, and the error that says how to get a missing one.

Nothing is downloaded at run time. Files are looked up in `--weights-dir`, else `$STREAMDIT_EVAL_WEIGHTS`,
else `~/.cache/streamdit/eval-weights`, unless a path is given explicitly.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


DEFAULT_CLIP_ARCH = "ViT-B-32-quickgelu"  # OpenAI CLIP ViT-B/32 (QuickGELU): VBench's background-consistency CLIP
DEFAULT_DINO_ARCH = "vit_base_patch16_224"  # DINO ViT-B/16: VBench's subject-consistency network


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file (or transformers directory): where it goes (relative to the weights
    dir) and where to get it."""

    relpath: str
    url: str
    source: str


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
        ),
    ),
    "dino": (
        WeightsFile(
            "dino_vitbase16_pretrain.pth",
            "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
            "DINO ViT-B/16 backbone (facebookresearch/dino), VBench's subject-consistency network",
        ),
    ),
}


class MissingWeightsError(FileNotFoundError):
    """A weights file is not on disk; the message says what to download and where to put it."""


def weights_dir(override: str | Path | None = None) -> Path:
    """The directory searched for weight files."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get("STREAMDIT_EVAL_WEIGHTS", Path.home() / ".cache" / "streamdit" / "eval-weights"))


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
        f"no {kind} weights found; this tool never downloads them. Download one of these and put it "
        f"exactly here (or pass --{kind}-weights PATH, or set STREAMDIT_EVAL_WEIGHTS to another folder):\n"
        + how_to_get(kind, root)
    )


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of a weights file, so cached features are tied to the exact weights that made them."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
