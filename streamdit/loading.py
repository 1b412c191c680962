"""The on-disk format of StreamDiT pipelines and their components, and the one loader (docs/architecture.md §3.1).

A pipeline directory::

    model_index.json   {"_class_name": "StreamDiTPipeline", "transformer": ["StreamDiT", "transformer"],
                        "autoencoder": ["VideoAutoencoder", "autoencoder"]}: each component's class and folder
    pipeline.json      the sampling settings (:class:`~streamdit.inference.pipeline.PipelineConfig`)
    transformer/       the denoiser's own files (config.json + weights)
    autoencoder/       the autoencoder's own files

A component's folder may instead sit beside the pipeline, ``../autoencoder``, shared by the pipelines in the same
parent folder (one copy of their common autoencoder; :func:`share_component` writes that layout).

Every component class is named in :data:`COMPONENTS` (add a new autoencoder or model there) and has
``from_pretrained(directory, device=...)`` and ``save_pretrained(directory)``. Component folders keep the
layout of the library they come from (diffusers folders stay loadable by diffusers), so a folder alone
(``--autoencoder DIR``, ``--init-from DIR``) is recognised by :func:`class_name_of`. Directories written
before ``model_index.json`` existed load through the same recognition; ``python -m streamdit convert DIR``
writes their index. All JSON of model directories is read and written here.
"""

from __future__ import annotations

import filecmp
import importlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

MODEL_INDEX = "model_index.json"
PIPELINE_CONFIG = "pipeline.json"
COMPONENT_CONFIG = "config.json"
PIPELINE_CLASS = "StreamDiTPipeline"

COMPONENTS: dict[str, tuple[str, str]] = {
    "StreamDiT": ("transformer", "streamdit.models.dit:StreamDiT"),
    "WanStreamDiT": ("transformer", "streamdit.models.wan:WanStreamDiT"),
    "PatchAutoencoder": ("autoencoder", "streamdit.autoencoders.base:PatchAutoencoder"),
    "DiffusersAutoencoder": ("autoencoder", "streamdit.autoencoders.base:DiffusersAutoencoder"),
    "VideoAutoencoder": ("autoencoder", "streamdit.autoencoders.video_autoencoder:VideoAutoencoder"),
    "TinyVideoAutoencoder": ("autoencoder", "streamdit.autoencoders.tiny_vae:TinyVideoAutoencoder"),
    "WanVideoAutoencoder": ("autoencoder", "streamdit.autoencoders.wan_vae:WanVideoAutoencoder"),
}
"""Component class name -> (the pipeline folder it fills, ``module:attribute``), imported on first use (so no
module imports another's). A new class writes ``"_class_name": "<its name>"`` into its folder's config.json."""

ROLES = ("transformer", "autoencoder")
"""A pipeline's components, each in the folder of the same name."""

# Classes named by the library their folders come from (diffusers' "_class_name"), or by the project's older
# "type" key; a StreamDiT folder holds the model config itself.
FOREIGN_CLASS_NAMES = {"WanTransformer3DModel": "WanStreamDiT", "AutoencoderKLWan": "WanVideoAutoencoder",
                       "AutoencoderKL": "DiffusersAutoencoder", "AutoencoderTiny": "DiffusersAutoencoder"}
TYPE_KEYS = {"patch": "PatchAutoencoder", "streamdit-video-ae": "VideoAutoencoder", "taehv": "TinyVideoAutoencoder"}


def read_json(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a missing or unreadable file is an error that says what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: expected {what}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}): expected {what}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, expected an object: {what}")
    return data


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (the folder is created); a reader sees the old file or the new, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(partial, path)


def component_class(name: str) -> type:
    """The class registered under ``name`` in :data:`COMPONENTS`."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown component class {name!r}; known: {', '.join(sorted(COMPONENTS))}")
    module, attribute = COMPONENTS[name][1].split(":")
    return getattr(importlib.import_module(module), attribute)


def class_name_of(directory: str | Path) -> str:
    """The registered class of a component folder, recognised from its ``config.json``."""
    config_path = Path(directory) / COMPONENT_CONFIG
    config = read_json(config_path, "a model or autoencoder folder's config.json")
    if "_class_name" in config:
        name = FOREIGN_CLASS_NAMES.get(config["_class_name"], config["_class_name"])
        if name not in COMPONENTS:
            raise ValueError(f"{config_path} describes {config['_class_name']!r}; supported: "
                             f"{', '.join(sorted({*COMPONENTS, *FOREIGN_CLASS_NAMES}))}")
        return name
    if "type" in config:
        if config["type"] not in TYPE_KEYS:
            raise ValueError(f"{config_path}: unknown autoencoder type {config['type']!r}")
        return TYPE_KEYS[config["type"]]
    if "buffer_frames" in config:
        return "StreamDiT"
    raise ValueError(f"{config_path}: unknown component (no diffusers '_class_name', 'type' or StreamDiT config)")


def load_component(directory: str | Path, role: str, device: Any = "cpu", class_name: str | None = None,
                   **options: Any) -> Any:
    """Load the ``role`` component (``transformer`` or ``autoencoder``) stored in ``directory``."""
    name = class_name or class_name_of(directory)
    cls = component_class(name)
    if COMPONENTS[name][0] != role:
        known = ", ".join(n for n, (r, _) in COMPONENTS.items() if r == role)
        raise ValueError(f"{directory} holds a {name}, which is not a {role} ({known})")
    return cls.from_pretrained(directory, device=device, **options)


def model_directory(directory: str | Path) -> Path:
    """The denoiser folder of a pipeline directory (the folder its index names), or ``directory`` itself."""
    directory = Path(directory)
    if (directory / MODEL_INDEX).is_file():
        return directory / read_model_index(directory)["transformer"][1]
    return directory / "transformer" if (directory / "transformer").is_dir() else directory


def load_transformer(directory: str | Path, device: Any = "cpu", dtype: Any = None) -> Any:
    """The denoiser of a pipeline directory or of a model folder (native StreamDiT or Wan-based)."""
    return load_component(model_directory(directory), "transformer", device=device, dtype=dtype)


def load_autoencoder(directory: str | Path, device: Any = "cpu") -> Any:
    """Any registered autoencoder from its folder."""
    return load_component(directory, "autoencoder", device=device)


def is_pipeline_directory(directory: str | Path) -> bool:
    """Whether ``directory`` holds a saved pipeline (its ``pipeline.json``)."""
    return (Path(directory) / PIPELINE_CONFIG).is_file()


def read_pipeline_config(directory: str | Path) -> dict[str, Any]:
    """The contents of a pipeline directory's ``pipeline.json``."""
    return read_json(Path(directory) / PIPELINE_CONFIG, "a StreamDiT pipeline directory's pipeline.json")


def read_model_index(directory: str | Path) -> dict[str, tuple[str, str]]:
    """Component name -> (class name, folder) of a pipeline directory; inferred from the component folders
    for directories written before ``model_index.json`` (see :func:`convert`)."""
    directory = Path(directory)
    if not (directory / MODEL_INDEX).is_file():
        read_pipeline_config(directory)  # a clear error when this is no pipeline directory at all
        return {role: (class_name_of(directory / role), role) for role in ROLES}
    index = read_json(directory / MODEL_INDEX, "a StreamDiT pipeline's model_index.json")
    if index.get("_class_name") != PIPELINE_CLASS:
        raise ValueError(f"{directory / MODEL_INDEX} describes {index.get('_class_name')!r}, not a {PIPELINE_CLASS}")
    components = {}
    for role in ROLES:
        entry = index.get(role)
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)):
            raise ValueError(f"{directory / MODEL_INDEX}: {role!r} must be [class name, folder], got {entry!r}")
        if not (is_inside(entry[1]) or is_shared(entry[1])):
            raise ValueError(f"{directory / MODEL_INDEX}: {role!r} is in {entry[1]!r}; a component's folder is inside "
                             "the pipeline directory or a folder beside it, '../NAME'")
        components[role] = (entry[0], entry[1])
    return components


def is_inside(folder: str) -> bool:
    """Whether an index's ``folder`` names a folder inside the pipeline directory."""
    path = PurePosixPath(folder)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts and "\\" not in folder


def is_shared(folder: str) -> bool:
    """Whether an index's ``folder`` is ``../NAME``: beside the pipeline, shared with the pipelines there."""
    parts = PurePosixPath(folder).parts
    return len(parts) == 2 and parts[0] == ".." and is_inside(parts[1])


def load_pipeline_components(directory: str | Path, device: Any = "cpu") -> tuple[dict[str, Any], Any, Any]:
    """``(pipeline.json contents, transformer, autoencoder)`` of a pipeline directory."""
    directory = Path(directory)
    config = read_pipeline_config(directory)
    loaded = {}
    for role, (name, folder) in read_model_index(directory).items():
        if not (directory / folder).is_dir():
            raise FileNotFoundError(
                f"{directory / folder} not found: {directory / MODEL_INDEX} puts the {role} there"
                + (" (a folder shared by the pipelines beside this one: copy it with the pipeline)"
                   if is_shared(folder) else ""))
        loaded[role] = load_component(directory / folder, role, device=device, class_name=name)
    return config, loaded["transformer"], loaded["autoencoder"]


def read_transformer_config(directory: str | Path) -> Any:
    """The :class:`~streamdit.models.dit.StreamDiTConfig` of a pipeline's denoiser, without its weights."""
    directory = Path(directory)
    if (directory / MODEL_INDEX).is_file():
        name, folder = read_model_index(directory)["transformer"]
    else:  # saved before the index: only the denoiser's folder is read
        name, folder = class_name_of(directory / "transformer"), "transformer"
    return component_class(name).config_from_pretrained(directory / folder)


def save_pipeline(directory: str | Path, config: dict[str, Any], transformer: Any, autoencoder: Any) -> None:
    """Write a pipeline directory: ``model_index.json``, ``pipeline.json`` and each component's folder."""
    directory = Path(directory)
    write_json(directory / PIPELINE_CONFIG, config)
    transformer.save_pretrained(directory / "transformer")
    autoencoder.save_pretrained(directory / "autoencoder")
    write_index(directory, {"transformer": (registered_name(transformer), "transformer"),
                            "autoencoder": (registered_name(autoencoder), "autoencoder")})


def registered_name(component: Any) -> str:
    """The :data:`COMPONENTS` name of a component object's class."""
    cls = type(component)
    name = cls.__name__
    if name not in COMPONENTS or COMPONENTS[name][1] != f"{cls.__module__}:{cls.__qualname__}":
        raise ValueError(f"{cls.__module__}.{cls.__qualname__} is not a registered component class "
                         f"(add it to streamdit.loading.COMPONENTS)")
    return name


def write_index(directory: Path, components: dict[str, tuple[str, str]]) -> None:
    """Write ``model_index.json``: each component's class and folder."""
    write_json(directory / MODEL_INDEX, {"_class_name": PIPELINE_CLASS,
                                         **{role: [name, folder] for role, (name, folder) in components.items()}})


def convert(directory: str | Path) -> bool:
    """Write ``model_index.json`` for a pipeline directory saved without one; False when it has one."""
    directory = Path(directory)
    if (directory / MODEL_INDEX).is_file():
        read_model_index(directory)  # still check it
        return False
    write_index(directory, read_model_index(directory))
    return True


def share_component(pipelines: Sequence[str | Path], role: str = "autoencoder", name: str | None = None) -> Path:
    """Keep one copy of the ``role`` component of pipelines that sit in one parent folder: ``PARENT/NAME`` (``NAME``
    defaults to the role), which each index then names as ``../NAME``; the pipelines' own copies are deleted.

    Every copy, and a ``PARENT/NAME`` that already exists (which may hold more files, such as a model card), must
    hold the same files byte for byte; otherwise nothing changes. Pipelines already sharing it are left as they are.
    Returns the shared folder.
    """
    if role not in ROLES:
        raise ValueError(f"unknown component {role!r}; a pipeline has {', '.join(ROLES)}")
    name = name or role
    if not is_inside(name) or len(PurePosixPath(name).parts) != 1:
        raise ValueError(f"the shared folder's name must be a plain folder name, got {name!r}")
    pipelines = [Path(p) for p in pipelines]
    parents = {p.resolve().parent for p in pipelines}
    if len(parents) != 1:
        raise ValueError(f"pipelines share a folder beside them, so they must sit in one parent folder: "
                         f"{', '.join(str(p) for p in pipelines)}")
    target = pipelines[0].parent / name
    if any(p.resolve() == target.resolve() for p in pipelines):
        raise ValueError(f"{target} is one of the pipelines; choose another name for the shared folder")
    copies = {}  # pipeline -> (class name, index folder), for those not yet sharing ``target``
    for pipeline in pipelines:
        class_name, folder = read_model_index(pipeline)[role]
        if not (pipeline / folder).is_dir():
            raise FileNotFoundError(f"{pipeline / folder} not found: {pipeline / MODEL_INDEX} puts the {role} there")
        if (pipeline / folder).resolve() != target.resolve():
            copies[pipeline] = (class_name, folder)
    if len({class_name for class_name, _ in copies.values()}) > 1:
        raise ValueError(f"the pipelines' {role}s are of different classes: "
                         f"{', '.join(f'{p}: {c}' for p, (c, _) in copies.items())}")
    own = [pipeline / folder for pipeline, (_, folder) in copies.items()]
    reference = target if target.exists() else (own[0] if own else target)
    for folder in own:
        differing = files_differing(folder, reference)
        if differing:
            raise ValueError(f"{folder} differs from {reference} in {', '.join(differing)}: only identical "
                             f"{role}s can be shared")
    if own and not target.exists():
        partial = target.with_name(f".{name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(reference, partial)
        os.replace(partial, target)
    for pipeline, (class_name, folder) in copies.items():
        write_index(pipeline, {**read_model_index(pipeline), role: (class_name, f"../{name}")})
        if is_inside(folder):  # its own copy; a folder beside it, shared under another name, stays
            shutil.rmtree(pipeline / folder)
    return target


def files_differing(folder: Path, reference: Path) -> list[str]:
    """The files of ``folder`` (relative paths) that ``reference`` lacks or holds with other bytes."""
    files = sorted(f.relative_to(folder) for f in folder.rglob("*") if f.is_file())
    if not files:
        return [f"{folder} (no files)"]
    return [str(f) for f in files
            if not (reference / f).is_file() or not filecmp.cmp(folder / f, reference / f, shallow=False)]
