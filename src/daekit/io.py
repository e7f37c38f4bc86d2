"""Model folders on disk (``config.json`` + ``model.safetensors``), written atomically.

A model folder is the one artifact format of daekit. Nothing here unpickles anything:
weights are safetensors, the description is JSON, and the weights' SHA-256 sits in the
config so that a tampered or half-written folder is caught with a clear sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Collection
from pathlib import Path

import torch

__all__ = [
    "ModelFileError",
    "write_model_folder",
    "read_model_folder",
    "read_config",
    "bundled_models",
    "atomic_write_bytes",
    "default_file_mode",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "PRETRAINED_DIR",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT = "daekit"
#: Where the model folders shipped inside the package live (``gray``, ``speech8k``...).
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


class ModelFileError(ValueError):
    """A model folder is missing, truncated, tampered with, or does not fit its model."""


def default_file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a reader (or a
    crash) never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, default_file_mode())  # mkstemp makes the file private (0600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_model_folder(path: str | os.PathLike, config: dict, tensors: dict[str, torch.Tensor]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into folder ``path`` (created).

    Each file is written atomically, weights first; the config carries the weights'
    hash, so a crash between the two leaves a folder that ``read_model_folder`` rejects
    rather than one that silently mixes old and new.
    """
    from safetensors.torch import save

    from . import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    blob = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    config = {
        "format": FORMAT,
        "daekit_version": __version__,
        **config,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    atomic_write_bytes(path / WEIGHTS_NAME, blob)
    atomic_write_bytes(path / CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
    return path


def read_config(path: str | os.PathLike) -> dict:
    """The parsed ``config.json`` of a model folder, checked to be a daekit config."""
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(
            f"{path} is not a model folder (expected a folder holding {CONFIG_NAME} and {WEIGHTS_NAME})."
        )
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        raise ModelFileError(f"{path} has no {CONFIG_NAME}: it is not a daekit model folder.")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{cfg_path} is not valid JSON ({e.msg if hasattr(e, 'msg') else e}).") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{cfg_path} is not a daekit model config (its 'format' is not '{FORMAT}').")
    return config


def bundled_models(classes: Collection[str]) -> dict[str, Path]:
    """The shipped model folders whose config names one of ``classes`` (e.g.
    ``("ImageDenoiser",)``): name → folder, sorted by name; unreadable folders are skipped."""
    if not PRETRAINED_DIR.is_dir():
        return {}
    found = {}
    for p in sorted(PRETRAINED_DIR.iterdir()):
        try:
            if read_config(p).get("class") in classes:
                found[p.name] = p
        except ModelFileError:
            continue
    return found


def read_model_folder(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and verify a model folder: returns ``(config, tensors)``.

    Raises:
        ModelFileError: one sentence saying which file is wrong and how.
    """
    from safetensors.torch import load

    path = Path(path)
    config = read_config(path)
    w_path = path / WEIGHTS_NAME
    if not w_path.is_file():
        raise ModelFileError(f"{path} has no {WEIGHTS_NAME}: the weights are missing.")
    blob = w_path.read_bytes()
    expected = config.get("weights_sha256")
    if expected and hashlib.sha256(blob).hexdigest() != expected:
        raise ModelFileError(
            f"{w_path} does not match the hash in {CONFIG_NAME}: the file was changed, "
            "truncated or written by another save."
        )
    try:
        tensors = load(blob)
    except Exception:  # safetensors raises its own error types for every kind of damage
        raise ModelFileError(f"{w_path} is not a readable safetensors file (truncated or corrupt).") from None
    return config, tensors
