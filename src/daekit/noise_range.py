"""The data's range, where salt-and-pepper noise puts its salt and its pepper.

Salt and pepper are the data's white and black. Taking them from each sample's own
minimum and maximum, as daekit once did, does nothing on a constant sample and little on
a narrow-range one, so the defaults are the scale's ends instead: 0 and 1 for data on
[0, 1] (as scikit-image's ``random_noise`` does), and otherwise the per-feature range of
the data a model is fitted on (``feature_range``), or, for a batch no one fitted, each
sample's own range. A leaf beside ``daekit.noise``: torch only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch

# A salt or pepper value: one number for every entry, or one number per feature.
Extreme = float | tuple[float, ...] | None


def check_extreme(name: str, value: Any) -> Extreme:
    """Validate ``low``/``high`` (None, a finite number, or one finite number per feature).

    Raises:
        ValueError: one sentence naming the argument and what is accepted.
    """
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.flatten().tolist() if value.dim() else value.item()
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) and all(_is_finite(v) for v in value):
            return tuple(float(v) for v in value)
    elif _is_finite(value):
        return float(value)
    raise ValueError(
        f"{name}={value!r} is not valid: expected None (the data's range), a finite number, "
        "or a non-empty list of finite numbers, one per feature."
    )


def _is_finite(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def extremes(x: torch.Tensor, low: Extreme, high: Extreme) -> tuple[torch.Tensor, torch.Tensor]:
    """Pepper and salt values broadcastable against ``x``, defaults filled in.

    A default (None) is 0 (pepper) or 1 (salt) when the whole batch lies on [0, 1], and
    otherwise the sample's own minimum or maximum; the choice is made on the device,
    without reading the batch back to the host.
    """
    lo = _given(x, low, "low") if low is not None else None
    hi = _given(x, high, "high") if high is not None else None
    if lo is None or hi is None:
        dims = tuple(range(1, x.dim()))
        on_unit = (x.amin() >= 0) & (x.amax() <= 1)
        if lo is None:
            lo = torch.where(on_unit, torch.zeros((), dtype=x.dtype, device=x.device), x.amin(dim=dims, keepdim=True))
        if hi is None:
            hi = torch.where(on_unit, torch.ones((), dtype=x.dtype, device=x.device), x.amax(dim=dims, keepdim=True))
    return lo, hi


def _given(x: torch.Tensor, value: float | tuple[float, ...], name: str) -> torch.Tensor:
    if not isinstance(value, tuple):
        return torch.as_tensor(value, dtype=x.dtype, device=x.device)
    per_sample = math.prod(x.shape[1:])
    if len(value) != per_sample:
        raise ValueError(
            f"SaltPepper {name} holds {len(value)} values, one per feature, but each sample of this batch "
            f"of shape {tuple(x.shape)} has {per_sample}."
        )
    return torch.tensor(value, dtype=x.dtype, device=x.device).reshape(x.shape[1:])


def feature_range(x: torch.Tensor) -> tuple[Extreme, Extreme]:
    """The salt-and-pepper values that fit clean training data ``x`` of shape ``(N, ...)``:
    0 and 1 when it lies on [0, 1], else each feature's minimum and maximum over the rows
    (one value per entry of a sample, as JSON-ready tuples)."""
    if x.numel() == 0:
        raise ValueError("the data to fit the noise's range on is empty.")
    xf = x.detach().float()
    if bool(xf.min() >= 0) and bool(xf.max() <= 1):
        return 0.0, 1.0
    flat = xf.reshape(x.shape[0], -1)
    return tuple(flat.amin(0).tolist()), tuple(flat.amax(0).tolist())
