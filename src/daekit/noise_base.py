"""The base of every corruption process: ``Noise``, its registry, and the warning a
process gives when it changes nothing.

A leaf beside ``daekit.noise``, which re-exports these names; torch only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

from .noise_levels import Level

NoiseT = TypeVar("NoiseT", bound="Noise")
_REGISTRY: dict[str, type[Noise]] = {}


def _active(level: Level) -> bool:
    """Whether a level asks for any corruption at all (0, or a (0, 0) range, asks for none)."""
    return (level[1] if isinstance(level, tuple) else level) > 0


def register_noise(cls: type[NoiseT]) -> type[NoiseT]:
    """Class decorator: make a noise process known to ``from_config`` and ``from_spec``."""
    _REGISTRY[cls.__name__] = cls
    return cls


class Noise:
    """Base class: a callable ``noise(x, generator: torch.Generator | None = None) -> x_noisy`` with a saveable config.

    Subclasses store their constructor arguments unchanged as attributes of the same
    name (the scikit-learn rule), which is all ``to_config`` needs.
    """

    _params: Sequence[str] = ()
    # Why a corruption can leave a batch as it was, for the warning that says so.
    _unchanged_hint = "check the level against the data's scale"
    # Comparing a batch with its corruption reads a flag back from the device, which stalls
    # an accelerator's queue: there only the first batches are checked; on the CPU, all.
    _checked_accelerator_calls = 8
    _calls_checked = 0
    _warned_unchanged = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def _warn_if_unchanged(self, x: torch.Tensor, out: torch.Tensor, hit: torch.Tensor | None = None) -> None:
        """Warn, once per process, when a corruption that should change the batch did not.

        ``hit`` marks the entries the process chose to change: a batch in which none was
        drawn (a small ``p`` on a small batch) is luck, not a useless setting.
        """
        if self._warned_unchanged or x.numel() == 0:
            return
        if x.device.type != "cpu":
            if self._calls_checked >= self._checked_accelerator_calls:
                return
            self._calls_checked += 1
        unchanged = torch.equal(out, x) if hit is None else bool(hit.any() & (out == x).all())
        if unchanged:
            self._warned_unchanged = True
            warnings.warn(
                f"{self!r} changed nothing in a batch of shape {tuple(x.shape)}: {self._unchanged_hint}.",
                UserWarning,
                stacklevel=3,
            )

    def to_config(self) -> dict[str, Any]:
        """A JSON-ready description: ``{"type": "Gaussian", "std": 0.1}``."""
        cfg: dict[str, Any] = {"type": type(self).__name__}
        for name in self._params:
            value = getattr(self, name)
            cfg[name] = list(value) if isinstance(value, tuple) else value
        return cfg

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._params)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Noise) and type(self) is type(other) and self.to_config() == other.to_config()
