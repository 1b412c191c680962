"""The on-disk format of StreamDiT pipelines and their components, and the one loader (docs/architecture.md §3.1).

A pipeline directory::

    model_index.json   {"_class_name": "StreamDiTPipeline", "transformer": ["StreamDiT", "transformer"],
                        "autoencoder": ["VideoAutoencoder", "autoencoder"]}: each component's class and folder
    pipeline.json      the sampling settings (:class:`~streamdit.inference.pipeline.PipelineConfig`)
    transformer/       the denoiser's own files (config.json + weights)
    autoencoder/       the autoencoder's own files

Every component class is named in :data:`COMPONENTS` (add a new autoencoder or model there) and has
``from_pretrained(directory, device=...)`` and ``save_pretrained(directory)``. Component folders keep the
layout of the library they come from (diffusers folders stay loadable by diffusers), so a folder alone
(``--autoencoder DIR``, ``--init-from DIR``) is recognised by :func:`class_name_of`. Directories written
before ``model_index.json`` existed load through the same recognition; ``python -m streamdit convert DIR``
writes their index. All JSON of model directories is read and written here.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
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
    """Write ``data`` as indented JSON (the folder is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


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
    """The denoiser folder of a pipeline directory (its ``transformer/``), or ``directory`` itself."""
    directory = Path(directory)
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
        components[role] = (entry[0], entry[1])
    return components


def load_pipeline_components(directory: str | Path, device: Any = "cpu") -> tuple[dict[str, Any], Any, Any]:
    """``(pipeline.json contents, transformer, autoencoder)`` of a pipeline directory."""
    directory = Path(directory)
    config = read_pipeline_config(directory)
    loaded = {role: load_component(directory / folder, role, device=device, class_name=name)
              for role, (name, folder) in read_model_index(directory).items()}
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
    write_index(directory, {"transformer": registered_name(transformer), "autoencoder": registered_name(autoencoder)})


def registered_name(component: Any) -> str:
    """The :data:`COMPONENTS` name of a component object's class."""
    cls = type(component)
    name = cls.__name__
    if name not in COMPONENTS or COMPONENTS[name][1] != f"{cls.__module__}:{cls.__qualname__}":
        raise ValueError(f"{cls.__module__}.{cls.__qualname__} is not a registered component class "
                         f"(add it to streamdit.loading.COMPONENTS)")
    return name


def write_index(directory: Path, classes: dict[str, str]) -> None:
    """Write ``model_index.json``: each component's class, in the folder named after it."""
    write_json(directory / MODEL_INDEX, {"_class_name": PIPELINE_CLASS, **{role: [name, role] for role, name in classes.items()}})


def convert(directory: str | Path) -> bool:
    """Write ``model_index.json`` for a pipeline directory saved without one; False when it has one."""
    directory = Path(directory)
    if (directory / MODEL_INDEX).is_file():
        read_model_index(directory)  # still check it
        return False
    write_index(directory, {role: name for role, (name, _) in read_model_index(directory).items()})
    return True
