"""Training options: :class:`TrainConfig` (a dataclass checked on creation), reading it
from TOML, and the argparse helpers every ``daekit ... train`` subcommand shares.

Kept apart from the loop in :mod:`daekit.train` (which re-exports these names) so that
each file reads top to bottom on its own.

Example:
    >>> from daekit.train_config import TrainConfig
    >>> TrainConfig(max_steps=10).replace(lr=1e-3).lr
    0.001
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import Any

from . import checks

__all__ = ["TrainConfig", "add_train_arguments", "config_from_args", "SCHEDULES", "PRECISIONS"]

SCHEDULES = ("constant", "cosine", "onecycle")
PRECISIONS = ("fp32", "bf16", "fp16")


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """Everything the training loop needs to know, as plain values (TOML- and CLI-friendly).

    Args:
        max_steps: optimiser steps to run; when set it wins over ``epochs``.
        epochs: passes over the training data when ``max_steps`` is not set.
        batch_size: the GLOBAL batch size; under DDP each of N processes gets
            ``batch_size / N`` samples, so results match one process.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        schedule: ``"constant"``, ``"cosine"`` (to ``min_lr``) or ``"onecycle"``.
        warmup_steps: linear warm-up steps for ``constant`` and ``cosine``.
        min_lr: final learning rate of the cosine schedule.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        val_every: validate every N steps (None: once per epoch); also at the last step.
        patience: stop after this many validations without improvement (None: never).
        min_delta: an improvement must lower the validation loss by more than this.
        restore_best: load the weights with the best validation loss at the end.
        ckpt_every: checkpoint every N steps (None: at every validation; 0: never).
            Checkpoints go to ``out_dir/checkpoint.pt``; the last step is always saved.
        resume: continue from ``out_dir/checkpoint.pt`` when it exists.
        seed: seeds torch, numpy and random, and fixes the data order of every epoch.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"fp16"`` (autocast + loss scaling).
        channels_last: store 4-D inputs and conv weights channels-last (None: on CUDA).
        compile: wrap the model in ``torch.compile``.
        num_workers: DataLoader worker processes for map-style datasets.
        out_dir: run folder for checkpoints, metrics, plots (None: write nothing).
        log_every: write a metrics row (one host sync) every N steps.
        quiet: no progress bar.
        tensorboard: write TensorBoard events when ``tensorboard`` is installed.

    Example:
        >>> cfg = TrainConfig(max_steps=1000, lr=3e-4, schedule="cosine")
        >>> cfg.replace(batch_size=256).batch_size
        256
    """

    max_steps: int | None = None
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    grad_clip: float | None = None
    val_every: int | None = None
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    ckpt_every: int | None = None
    resume: bool = True
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool | None = None
    compile: bool = False
    num_workers: int = 0
    out_dir: str | None = None
    log_every: int = 50
    quiet: bool = False
    tensorboard: bool = True

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        if self.out_dir is not None and not isinstance(self.out_dir, str):
            object.__setattr__(self, "out_dir", str(self.out_dir))
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}.")
        for name, allowed in _RANGES.items():
            allowed.check(name, getattr(self, name), optional=name in _OPTIONAL)
        checks.check_device("device", self.device)

    def replace(self, **overrides: Any) -> TrainConfig:
        """Return a copy with some fields changed (unknown names raise ``ValueError``)."""
        _check_keys(overrides, "the overrides")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (what checkpoints store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "the config") -> TrainConfig:
        """Build from a dict, naming ``source`` in the error for an unknown key."""
        _check_keys(values, source)
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """Read a TOML file, then apply ``overrides``.

        The keys are read from a ``[train]`` table when the file has one (so a recipe can
        keep model and noise settings in other tables), else from the top level.

        Args:
            path: the ``.toml`` file.
            **overrides: fields that win over the file (e.g. from CLI flags).

        Returns:
            The config.

        Example:
            >>> # run.toml:  [train]\\n max_steps = 5000\\n lr = 3e-4
            >>> cfg = TrainConfig.from_toml("run.toml", batch_size=128)  # doctest: +SKIP
        """
        values = _read_toml(path)
        _check_keys(values, f"{path}")
        _check_keys(overrides, "the overrides")
        return cls(**{**values, **overrides})


def _read_toml(path: str | os.PathLike) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"Training config {path} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"Training config {path} is not valid TOML: {exc}.") from None
    if isinstance(data.get("train"), dict):
        return dict(data["train"])
    return data


def _check_keys(values: dict[str, Any], source: str) -> None:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"Unknown training option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)} in {source}; "
            f"accepted: {', '.join(sorted(known))}."
        )


_TYPES = {"int": (int,), "float": (int, float), "str": (str, os.PathLike), "bool": (bool,), "None": (type(None),)}


def _check_type(name: str, value: Any, annotation: Any) -> None:
    # Annotations are strings here (from __future__ import annotations): "int | None".
    allowed: tuple = ()
    for part in str(annotation).split("|"):
        allowed += _TYPES.get(part.strip(), (object,))
    is_bool = isinstance(value, bool)
    if not isinstance(value, allowed) or (is_bool and bool not in allowed):
        raise ValueError(f"Training option {name!r} must be {annotation}, not {value!r}.")


#: The allowed values of every numeric field (the CLI flags below use the same objects).
_RANGES = {
    "max_steps": checks.POSITIVE_INT,
    "epochs": checks.POSITIVE_INT,
    "batch_size": checks.POSITIVE_INT,
    "lr": checks.POSITIVE,
    "weight_decay": checks.NON_NEGATIVE,
    "warmup_steps": checks.COUNT,
    "min_lr": checks.NON_NEGATIVE,
    "grad_clip": checks.POSITIVE,
    "val_every": checks.POSITIVE_INT,
    "patience": checks.POSITIVE_INT,
    "min_delta": checks.NON_NEGATIVE,
    "ckpt_every": checks.COUNT,
    "seed": checks.SEED,
    "num_workers": checks.COUNT,
    "log_every": checks.POSITIVE_INT,
}
#: Fields where None means "off" or "automatic".
_OPTIONAL = {"max_steps", "grad_clip", "val_every", "patience", "ckpt_every"}


# --------------------------------------------------------------------------- CLI helpers


# (flag, field, argparse keywords); the type comes from _RANGES. Defaults are None so that unset flags never clobber a
# value that came from --config.
_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "--steps",
        "max_steps",
        dict(help="optimiser steps (wins over --epochs)"),
    ),
    ("--epochs", "epochs", dict(help="passes over the training data")),
    ("--batch-size", "batch_size", dict(help="global batch size")),
    ("--lr", "lr", dict(help="peak learning rate (AdamW)")),
    ("--weight-decay", "weight_decay", dict(help="AdamW weight decay")),
    ("--schedule", "schedule", dict(choices=SCHEDULES, help="learning-rate schedule")),
    ("--warmup-steps", "warmup_steps", dict(help="linear warm-up steps")),
    ("--grad-clip", "grad_clip", dict(help="clip the gradient norm")),
    ("--val-every", "val_every", dict(help="validate every N steps")),
    (
        "--patience",
        "patience",
        dict(help="early stopping: validations without gain"),
    ),
    (
        "--ckpt-every",
        "ckpt_every",
        dict(help="checkpoint every N steps (0: never)"),
    ),
    ("--seed", "seed", dict(help="random seed")),
    ("--device", "device", dict(help="auto, cpu, cuda or cuda:N")),
    ("--precision", "precision", dict(choices=PRECISIONS, help="fp32, bf16 or fp16")),
    ("--compile", "compile", dict(action="store_const", const=True, help="use torch.compile")),
    ("--workers", "num_workers", dict(help="data-loader worker processes")),
    (
        "--log-every",
        "log_every",
        dict(help="metrics row every N steps"),
    ),
    ("--no-resume", "resume", dict(action="store_const", const=False, help="start afresh even if a checkpoint exists")),
    ("--quiet", "quiet", dict(action="store_const", const=True, help="no progress bar")),
]


def add_train_arguments(parser: Any, *, skip: tuple[str, ...] = ()) -> Any:
    """Add ``--config FILE.toml`` and the common training flags to an argparse parser.

    Args:
        parser: an ``argparse.ArgumentParser`` (or subparser).
        skip: flags the caller defines itself (e.g. ``("--quiet",)``).

    Returns:
        The argument group, so callers can add more.

    Example:
        >>> import argparse
        >>> p = argparse.ArgumentParser(); _ = add_train_arguments(p)
        >>> config_from_args(p.parse_args(["--steps", "10"])).max_steps
        10
    """
    group = parser.add_argument_group("training")
    if "--config" not in skip:
        group.add_argument(
            "--config",
            dest="train_config",
            metavar="FILE.toml",
            default=None,
            help="training options from a TOML file (flags win over it)",
        )
    for flag, name, kwargs in _FLAGS:
        if flag not in skip:
            typed = _flag_type(name)
            group.add_argument(flag, dest=name, default=None, **({"type": typed} if typed else {}), **kwargs)
    return group


def _flag_type(name: str) -> Any:
    """The argparse type of a field's flag (None for choices and switches): its range from
    ``_RANGES``, so the flag and ``TrainConfig`` refuse the same values in the same words."""
    if name in _RANGES:
        return checks.argparse_type(_RANGES[name])
    return checks.device_argument if name == "device" else None


def config_from_args(args: Any, **defaults: Any) -> TrainConfig:
    """Build a :class:`TrainConfig`: ``defaults`` < ``--config`` file < flags.

    Args:
        args: the namespace from a parser set up with :func:`add_train_arguments`.
        **defaults: the subcommand's own defaults (e.g. ``out_dir="runs/x"``).

    Returns:
        The config.
    """
    values = dict(defaults)
    path = getattr(args, "train_config", None)
    if path:
        file_values = _read_toml(path)
        _check_keys(file_values, str(path))
        values.update(file_values)
    for _, name, _ in _FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return TrainConfig.from_dict(values, "the defaults")
