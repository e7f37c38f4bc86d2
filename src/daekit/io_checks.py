"""What a model folder must satisfy before its model runs, beyond being readable.

:func:`daekit.io.read_model_folder` proves that the files are whole, that the config names
a daekit class and that every weight is finite. The loaders then use the checks here: the
class is the one they load (else the sentence names the command that loads it), the
weights fit the model the config builds, and the config's numbers are in range. A folder
that fails any of them is refused with one sentence (:class:`~daekit.io.ModelFileError`)
before anything is computed from it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import torch

from .io import CONFIG_NAME, MODEL_CLASSES, WEIGHTS_NAME, ModelFileError
from .models import Autoencoder, create_model, list_models

__all__ = [
    "expect_class",
    "model_from_spec",
    "model_with_weights",
    "check_weights_fit",
    "config_section",
    "config_numbers",
]

#: Every way a tampered argument can fail a model's constructor: a wrong type, a refused
#: value, hop_length=0 (a modulo by zero), a negative size (torch's RuntimeError).
BUILD_ERRORS = (TypeError, ValueError, KeyError, ArithmeticError, RuntimeError)


def expect_class(path: str | os.PathLike, config: dict, accepted: Collection[str]) -> str:
    """The folder's class when it is one of ``accepted`` (the first is the loader's own).

    Raises:
        ModelFileError: which class the folder holds, and the command and call that load it.
    """
    cls = config.get("class")
    if cls in accepted:
        return str(cls)
    wanted = next(iter(accepted))
    command, call = MODEL_CLASSES[str(cls)]  # read_config refused every class not in the table
    raise ModelFileError(
        f"{path} holds {_article(str(cls))} {cls}, not {_article(wanted)} {wanted}: use '{command}' (or {call})."
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def model_from_spec(path: str | os.PathLike, spec: Any) -> Autoencoder:
    """The registered model ``spec`` (the config's ``{"name", "kwargs"}``) describes, untrained.

    Raises:
        ModelFileError: no model name, a name this daekit does not know, or arguments its
            constructor refuses.
    """
    spec = spec if isinstance(spec, dict) else {}
    name, kwargs = spec.get("name"), spec.get("kwargs") or {}
    if not isinstance(name, str) or not isinstance(kwargs, dict):
        raise ModelFileError(f"{path} does not say which model it holds (no 'model.name' with 'model.kwargs').")
    if name not in list_models():
        raise ModelFileError(
            f"{path} holds a model '{name}' that this daekit does not know (known: {', '.join(list_models())})."
        )
    try:
        return create_model(name, **kwargs)
    except BUILD_ERRORS as e:
        raise ModelFileError(f"{path} describes a model daekit cannot build: {e}") from None


def model_with_weights(path: str | os.PathLike, spec: Any, tensors: Mapping[str, torch.Tensor]) -> Autoencoder:
    """:func:`model_from_spec` holding ``tensors``, checked to fit first on the meta device
    (which allocates nothing: a config edited to a huge model is refused for free)."""
    with torch.device("meta"):
        needed = model_from_spec(path, spec).state_dict()
    check_weights_fit(path, tensors, needed)
    model = model_from_spec(path, spec)
    load_checked(path, model, tensors)
    return model


def load_checked(path: str | os.PathLike, model: torch.nn.Module, tensors: Mapping[str, torch.Tensor]) -> None:
    """``model.load_state_dict(tensors)`` after :func:`check_weights_fit`, in one sentence if it fails."""
    try:
        model.load_state_dict(dict(tensors), strict=True)  # copies cast half weights to the model's dtype
    except RuntimeError as e:  # names and shapes were checked: e.g. a dtype that cannot be cast
        first = str(e).strip().splitlines()[0] if str(e).strip() else "load_state_dict failed"
        raise ModelFileError(f"the weights in {path} do not fit its model ({first.rstrip(':')}).") from None


def check_weights_fit(
    path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], needed: Mapping[str, torch.Tensor]
) -> None:
    """Refuse weights whose names or shapes differ from those of the model the config
    builds (``needed``: its ``state_dict()``, typically built on the meta device).

    Checked before loading, so that an edited config (``in_features`` 4 -> 9) or an
    extra, missing or reshaped tensor is named, instead of torch's multi-line error.
    """
    where = f"the weights in {path} do not fit the model its {CONFIG_NAME} describes"
    missing = [name for name in needed if name not in tensors]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ModelFileError(f"{where}: {WEIGHTS_NAME} lacks '{missing[0]}'{more}.")
    extra = [name for name in tensors if name not in needed]
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise ModelFileError(f"{where}: {WEIGHTS_NAME} has '{extra[0]}'{more}, which the model does not.")
    for name, want in needed.items():
        got = tuple(tensors[name].shape)
        if got != tuple(want.shape):
            raise ModelFileError(f"{where}: '{name}' has shape {got} where the model needs {tuple(want.shape)}.")


def config_section(path: str | os.PathLike, config: Mapping[str, Any], key: str) -> dict:
    """``config[key]`` as a dict (``{}`` when absent or null); refused when it is another type."""
    section = config.get(key)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ModelFileError(f"{path}: '{key}' in {CONFIG_NAME} must be an object, not {type(section).__name__}.")
    return section


def config_numbers(
    path: str | os.PathLike, key: str, values: Any, *, positive: bool = False, length: int | None = None
) -> np.ndarray:
    """``values`` (a number or lists of numbers) from the config as float64, refused unless
    every one is finite, above 0 when ``positive`` (a scale the data is divided by), and,
    with ``length``, there are that many along the last axis (one per feature).

    Raises:
        ModelFileError: naming the config key and what it must hold.
    """
    what = "finite numbers above 0" if positive else "finite numbers"
    try:
        raw = np.asarray(values)
    except ValueError:  # ragged lists
        raw = np.asarray([])
    ok = raw.size > 0 and raw.dtype.kind in "iuf"  # bools and strings are not numbers
    arr = raw.astype(np.float64) if ok else raw
    if not ok or not np.isfinite(arr).all() or (positive and not (arr > 0).all()):
        raise ModelFileError(f"{path}: '{key}' in {CONFIG_NAME} must hold {what}, not {_show(values)}.")
    if length is not None and arr.shape[-1:] != (length,):
        count = arr.shape[-1] if arr.ndim else 1
        raise ModelFileError(f"{path}: '{key}' in {CONFIG_NAME} has {count} values where the model takes {length}.")
    return arr


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
