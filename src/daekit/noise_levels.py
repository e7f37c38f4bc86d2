"""Noise levels and random draws: the small pieces every process in ``daekit.noise`` shares.

A level is a number or a ``(lo, hi)`` range; a range draws one level per sample. Random
numbers are drawn in float32 on the generator's device (or the input's, without one), so a
seeded ``torch.Generator`` corrupts alike on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch

Level = float | tuple[float, float]


def check_level(name: str, level: Any, lo: float = 0.0, hi: float = math.inf, allow_inf: bool = False) -> Level:
    """Validate a level (a number, or a ``(lo, hi)`` range) and return it normalised.

    Raises:
        ValueError: with one sentence naming the level and the accepted values.
    """
    accepted = f"a number in [{lo}, {hi}] or a (low, high) pair of such numbers"
    if isinstance(level, (list, tuple)):
        if len(level) != 2 or not all(_is_number(v, allow_inf) for v in level):
            raise ValueError(f"{name}={level!r} is not valid: expected {accepted}.")
        a, b = float(level[0]), float(level[1])
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise ValueError(f"{name}={level!r} is not valid: expected {accepted} with low <= high.")
        return (a, b)
    if not _is_number(level, allow_inf) or not lo <= float(level) <= hi:
        raise ValueError(f"{name}={level!r} is not valid: expected {accepted}.")
    return float(level)


def _is_number(v: Any, allow_inf: bool = False) -> bool:
    if not isinstance(v, Real) or isinstance(v, bool) or math.isnan(float(v)):
        return False
    return allow_inf or math.isfinite(float(v))


def _draw_device(x: torch.Tensor, generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else x.device


def _rand(shape: Sequence[int], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=_draw_device(x, generator))
    return u.to(x.device)


def _randn(shape: Sequence[int], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    n = torch.randn(shape, generator=generator, device=_draw_device(x, generator))
    return n.to(x.device)


def per_sample(level: Level, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The level as a float32 tensor broadcastable against ``x``: shape ``(N, 1, 1, ...)``.

    A fixed level gives a scalar tensor; a ``(lo, hi)`` range gives one uniform draw per
    sample.
    """
    if not isinstance(level, tuple):
        return torch.tensor(float(level), device=x.device)
    lo, hi = level
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return lo + (hi - lo) * _rand(shape, x, generator)


def _float(x: torch.Tensor) -> torch.Tensor:
    # Arithmetic in float32 at least, so that fp16/bf16 inputs get the same statistics.
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) or not x.is_floating_point() else x


def _mixture_weights(
    p: Sequence[float] | None, n: int, owner: str, item: str
) -> tuple[list[float] | None, torch.Tensor]:
    """Check one non-negative weight per choice (None: equal) and return them as given
    (for the config) and normalised (for drawing)."""
    weights = [1.0] * n if p is None else [float(w) for w in p]
    if len(weights) != n or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"{owner} weights p={p!r} are not valid: give one non-negative weight per {item}.")
    return (None if p is None else weights), torch.tensor(weights) / sum(weights)


def _draw_choice(weights: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per sample of ``x``, drawn with ``weights``, on ``x``'s device."""
    device = _draw_device(x, generator)
    return torch.multinomial(weights.to(device), x.shape[0], replacement=True, generator=generator).to(x.device)
