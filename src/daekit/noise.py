"""Corruption processes: what a denoising autoencoder learns to undo.

Each process comes twice: a pure function (``gaussian(x, std)``) and a small callable
class (``Gaussian(std)``) that remembers its level, can be saved in a model's
``config.json`` and composed with others. Every level accepts either a number or a
``(lo, hi)`` range; a range draws one level per sample, uniformly, which is how a
single "blind" model learns a whole span of noise levels.

All processes work on any device and dtype, on a batch whose first dimension is the
sample. Random numbers are drawn in float32 on the generator's device (or on the
input's device when no generator is given) so that a seeded ``torch.Generator`` gives
the same corruption on every machine.

Example:
    >>> import torch, daekit as dk
    >>> x = torch.rand(8, 1, 32, 32)
    >>> noise = dk.noise.Compose([dk.noise.Gaussian(std=(0, 0.2)), dk.noise.Masking(p=0.1)])
    >>> x_noisy = noise(x, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

# The base class and the SNR mixing live in leaves of their own; their names stay here.
from .noise_base import _REGISTRY, Noise, _active, register_noise
from .noise_camera import CAMERA_PRESETS as CAMERA_PRESETS
from .noise_camera import Camera, CorrelatedGaussian, camera, correlated_gaussian, jpeg
from .noise_levels import (
    Level,
    _draw_device,
    _float,
    _mixture_weights,
    _rand,
    _randn,
    check_level,
    per_sample,
)
from .noise_levels import _draw_choice as _draw_choice
from .noise_mix import SYNTHETIC_NOISES as SYNTHETIC_NOISES
from .noise_mix import MixAtSNR, mix_at_snr, synthetic_noise
from .noise_range import Extreme, check_extreme, extremes, feature_range

__all__ = [
    "Noise",
    "Gaussian",
    "SaltPepper",
    "Masking",
    "Speckle",
    "Poisson",
    "Uniform",
    "Compose",
    "OneOf",
    "Identity",
    "MixAtSNR",
    "Camera",
    "CorrelatedGaussian",
    "mix_at_snr",
    "camera",
    "correlated_gaussian",
    "jpeg",
    "synthetic_noise",
    "gaussian",
    "salt_pepper",
    "masking",
    "speckle",
    "poisson",
    "uniform",
    "from_config",
    "from_spec",
    "register_noise",
    "fit_to_data",
]


# ---------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------


def gaussian(x: torch.Tensor, std: Level, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive white Gaussian noise: ``x + std * N(0, 1)``.

    Args:
        x: clean batch, any shape ``(N, ...)``.
        std: standard deviation on the data's own scale, or a ``(lo, hi)`` range.
        generator: optional ``torch.Generator`` for reproducible draws.
    """
    std = check_level("std", std)
    s = per_sample(std, x, generator)
    xf = _float(x)
    return (xf + s * _randn(x.shape, x, generator)).to(x.dtype)


def uniform(x: torch.Tensor, width: Level, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive uniform noise on ``[-width/2, width/2]`` (e.g. quantisation noise)."""
    width = check_level("width", width)
    w = per_sample(width, x, generator)
    xf = _float(x)
    return (xf + w * (_rand(x.shape, x, generator) - 0.5)).to(x.dtype)


def speckle(x: torch.Tensor, std: Level, generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiplicative noise, as in radar and ultrasound: ``x * (1 + std * N(0, 1))``."""
    std = check_level("std", std)
    s = per_sample(std, x, generator)
    xf = _float(x)
    return (xf * (1 + s * _randn(x.shape, x, generator))).to(x.dtype)


def masking(x: torch.Tensor, p: Level, value: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masking (dropout) noise: set a random fraction ``p`` of the entries to ``value``.

    This is the corruption of Vincent et al. (2010): the network must fill in what is
    missing from what remains. Unlike ``nn.Dropout`` nothing is rescaled.
    """
    return _masking_hits(x, p, value, generator)[0]


def _masking_hits(
    x: torch.Tensor, p: Level, value: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    p = check_level("p", p, 0.0, 1.0)
    prob = per_sample(p, x, generator)
    hit = _rand(x.shape, x, generator) < prob
    return torch.where(hit, torch.as_tensor(value, dtype=x.dtype, device=x.device), x), hit


def salt_pepper(
    x: torch.Tensor,
    p: Level,
    low: float | Sequence[float] | None = None,
    high: float | Sequence[float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Salt-and-pepper noise: a fraction ``p`` of the entries set to ``low`` or ``high``.

    Each hit entry becomes ``low`` (pepper) or ``high`` (salt) with equal chance. Each is
    a number, one number per feature (a sequence as long as a sample), or None: then 0
    and 1 when the batch lies on [0, 1] (as scikit-image's ``random_noise``), otherwise
    each sample's own minimum and maximum (e.g. 0 and 255 for 8-bit images). For
    standardised tables give the training data's per-feature range: ``fit_to_data``
    does, and ``daekit train`` calls it.
    """
    return _salt_pepper_hits(x, p, check_extreme("low", low), check_extreme("high", high), generator)[0]


def _salt_pepper_hits(
    x: torch.Tensor, p: Level, low: Extreme, high: Extreme, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    p = check_level("p", p, 0.0, 1.0)
    lo, hi = extremes(x, low, high)
    prob = per_sample(p, x, generator)
    u = _rand(x.shape, x, generator)
    hit = u < prob
    # A second, independent coin for the colour: u / prob is uniform on [0, 1) where hit.
    salt = u < prob / 2
    return torch.where(hit, torch.where(salt, hi.expand_as(x), lo.expand_as(x)), x), hit


def poisson(x: torch.Tensor, peak: Level, generator: torch.Generator | None = None) -> torch.Tensor:
    """Poisson (shot) noise for photon-limited data on [0, 1]: ``Poisson(x * peak) / peak``.

    ``peak`` is the photon count of a white pixel: a lower peak is noisier, and
    ``peak=inf`` leaves the data unchanged. Negative inputs count as zero photons.
    """
    peak = check_level("peak", peak, 0.0, math.inf, allow_inf=True)
    if peak == 0 or (isinstance(peak, tuple) and peak[0] == 0):
        raise ValueError("peak=0 is not valid: a Poisson peak must be > 0 (inf means no noise).")
    k = per_sample(peak, x, generator)
    xf = _float(x)
    finite = torch.isfinite(k)
    rate = xf.clamp_min(0) * torch.where(finite, k, torch.ones_like(k))
    device = _draw_device(x, generator)
    counts = torch.poisson(rate.to(device), generator=generator).to(x.device)
    out = torch.where(finite, counts / torch.where(finite, k, torch.ones_like(k)), xf)
    return out.to(x.dtype)


# ---------------------------------------------------------------------------------------
# Callable classes
# ---------------------------------------------------------------------------------------


@register_noise
class Identity(Noise):
    """No corruption (a plain autoencoder, or a baseline in noise selection)."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x


@register_noise
class Gaussian(Noise):
    """Additive Gaussian noise; ``std`` a number or a ``(lo, hi)`` range. See ``gaussian``."""

    _params = ("std",)
    _unchanged_hint = "std is below the resolution of the data's type; raise it or use float32 data"

    def __init__(self, std: Level = 0.1) -> None:
        self.std = check_level("std", std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = gaussian(x, self.std, generator)
        if _active(self.std):
            self._warn_if_unchanged(x, out)
        return out


@register_noise
class Uniform(Noise):
    """Additive uniform noise of total ``width``. See ``uniform``."""

    _params = ("width",)
    _unchanged_hint = "width is below the resolution of the data's type; raise it or use float32 data"

    def __init__(self, width: Level = 0.1) -> None:
        self.width = check_level("width", width)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = uniform(x, self.width, generator)
        if _active(self.width):
            self._warn_if_unchanged(x, out)
        return out


@register_noise
class Speckle(Noise):
    """Multiplicative Gaussian noise. See ``speckle``."""

    _params = ("std",)
    _unchanged_hint = "multiplicative noise leaves zeros at zero, and this batch is all zeros"

    def __init__(self, std: Level = 0.1) -> None:
        self.std = check_level("std", std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = speckle(x, self.std, generator)
        if _active(self.std):
            self._warn_if_unchanged(x, out)
        return out


@register_noise
class Masking(Noise):
    """Masking (dropout) noise: zero (or ``value``) a fraction ``p``. See ``masking``."""

    _params = ("p", "value")
    _unchanged_hint = "every entry it masked already held the mask value; choose another value"

    def __init__(self, p: Level = 0.25, value: float = 0.0) -> None:
        self.p = check_level("p", p, 0.0, 1.0)
        self.value = float(value)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out, hit = _masking_hits(x, self.p, self.value, generator)
        self._warn_if_unchanged(x, out, hit)
        return out


@register_noise
class SaltPepper(Noise):
    """Salt-and-pepper noise: a fraction ``p`` of the entries set to ``low`` or ``high``.

    Args:
        p: the fraction hit, a number or a ``(lo, hi)`` range on [0, 1].
        low, high: pepper and salt: a number, one number per feature (a sequence as long
            as a sample), or None for the data's range: 0 and 1 for a batch on [0, 1],
            otherwise each sample's own minimum and maximum. ``fit_to_data(noise, x)``
            sets them to the per-feature range of training data ``x`` that does not lie on
            [0, 1] (standardised tables); ``daekit train`` does that.

    A process that changes nothing in a batch (constant data equal to ``low`` and
    ``high``) warns once. See ``salt_pepper``.

    Example:
        >>> import torch, daekit as dk
        >>> x_noisy = dk.noise.SaltPepper(p=0.2)(torch.full((4, 10), 0.5))  # 0.5, 0 or 1
    """

    _params = ("p", "low", "high")
    _unchanged_hint = "every value it set equals the data's; give low and high, or use fit_to_data"

    def __init__(
        self, p: Level = 0.05, low: float | Sequence[float] | None = None, high: float | Sequence[float] | None = None
    ) -> None:
        self.p = check_level("p", p, 0.0, 1.0)
        self.low = check_extreme("low", low)
        self.high = check_extreme("high", high)
        if isinstance(self.low, tuple) and isinstance(self.high, tuple) and len(self.low) != len(self.high):
            raise ValueError(
                f"SaltPepper low has {len(self.low)} values and high {len(self.high)}: give one of each per feature."
            )

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out, hit = _salt_pepper_hits(x, self.p, self.low, self.high, generator)
        self._warn_if_unchanged(x, out, hit)
        return out


@register_noise
class Poisson(Noise):
    """Poisson shot noise with photon count ``peak`` for a white pixel. See ``poisson``."""

    _params = ("peak",)
    _unchanged_hint = "the batch is all zeros, which holds no photons to count"

    def __init__(self, peak: Level = 30.0) -> None:
        self.peak = check_level("peak", peak, 0.0, math.inf, allow_inf=True)
        if self.peak == 0 or (isinstance(self.peak, tuple) and self.peak[0] == 0):
            raise ValueError("peak=0 is not valid: a Poisson peak must be > 0 (inf means no noise).")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        out = poisson(x, self.peak, generator)
        if not math.isinf(self.peak[0] if isinstance(self.peak, tuple) else self.peak):
            self._warn_if_unchanged(x, out)
        return out


@register_noise
class Compose(Noise):
    """Apply several processes in turn, e.g. Gaussian then masking."""

    def __init__(self, transforms: Sequence[Noise]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for t in self.transforms:
            x = t(x, generator)
        return x

    def to_config(self) -> dict[str, Any]:
        return {"type": "Compose", "transforms": [t.to_config() for t in self.transforms]}

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


@register_noise
class OneOf(Noise):
    """Corrupt each sample with one process drawn at random (weights ``p``, default equal).

    Every process is applied to the whole batch and each sample keeps one result, which
    is simple and exact; the cost is one pass per process.
    """

    def __init__(self, transforms: Sequence[Noise], p: Sequence[float] | None = None) -> None:
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("OneOf needs at least one noise process.")
        self.p, self._weights = _mixture_weights(p, len(self.transforms), "OneOf", "process")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        choice = _draw_choice(self._weights, x, generator)
        out = x
        for i, t in enumerate(self.transforms):
            keep = (choice == i).view(-1, *([1] * (x.dim() - 1)))
            out = torch.where(keep, t(x, generator), out)
        return out

    def to_config(self) -> dict[str, Any]:
        return {"type": "OneOf", "transforms": [t.to_config() for t in self.transforms], "p": self.p}

    def __repr__(self) -> str:
        return f"OneOf({self.transforms!r}, p={self.p!r})"


def fit_to_data(process: Noise, x: torch.Tensor) -> Noise:
    """The process with its data-dependent defaults taken from clean training data ``x``.

    A ``SaltPepper`` whose ``low`` or ``high`` is None gets 0 and 1 when ``x`` lies on
    [0, 1], else each feature's minimum and maximum over the rows of ``x``: on
    standardised data a sample's own range is narrow and a constant one is no range at
    all. Written explicitly, the values travel in ``config.json``. Every other process,
    and a ``SaltPepper`` with both values given, is returned as it is; ``Compose`` and
    ``OneOf`` are fitted part by part.

    Example:
        >>> import torch, daekit as dk
        >>> x = torch.randn(100, 3)
        >>> dk.noise.fit_to_data(dk.noise.from_spec("saltpepper:0.1"), x).low  # doctest: +SKIP
        (-2.1, -2.6, -2.3)
    """
    if isinstance(process, Compose):
        return Compose([fit_to_data(t, x) for t in process.transforms])
    if isinstance(process, OneOf):
        return OneOf([fit_to_data(t, x) for t in process.transforms], p=process.p)
    if isinstance(process, SaltPepper) and (process.low is None or process.high is None):
        low, high = feature_range(x)
        return SaltPepper(
            process.p,
            low=low if process.low is None else process.low,
            high=high if process.high is None else process.high,
        )
    return process


# ---------------------------------------------------------------------------------------
# Building from saved configs and from short CLI specs
# ---------------------------------------------------------------------------------------


def from_config(cfg: dict[str, Any] | None) -> Noise:
    """Rebuild a noise process from ``Noise.to_config()`` output (``None`` gives Identity)."""
    if cfg is None:
        return Identity()
    if not isinstance(cfg, dict) or cfg.get("type") not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown noise config {cfg!r}: expected a dict whose 'type' is one of {known}.")
    args = {k: v for k, v in cfg.items() if k != "type"}
    if cfg["type"] in ("Compose", "OneOf"):
        args["transforms"] = [from_config(c) for c in args["transforms"]]
    else:  # JSON turns (lo, hi) ranges into lists; levels want them back as tuples
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    return _REGISTRY[cfg["type"]](**args)


_SPEC_NAMES = {
    "gaussian": ("Gaussian", "std"),
    "uniform": ("Uniform", "width"),
    "speckle": ("Speckle", "std"),
    "masking": ("Masking", "p"),
    "dropout": ("Masking", "p"),
    "saltpepper": ("SaltPepper", "p"),
    "salt-pepper": ("SaltPepper", "p"),
    "poisson": ("Poisson", "peak"),
    "camera": ("Camera", "shot"),
    "correlated": ("CorrelatedGaussian", "std"),
    "none": ("Identity", None),
}


def from_spec(spec: str) -> Noise:
    """Parse a short command-line spec into a noise process.

    ``"gaussian:0.1"``, ``"gaussian:0-0.2"`` (a range), ``"masking:0.25"``,
    ``"saltpepper:0.05"``, ``"poisson:30"``, ``"none"``; join with ``+`` to compose:
    ``"gaussian:0.1+masking:0.1"``.
    """
    parts = [p.strip() for p in spec.split("+")]
    if not any(parts):
        raise ValueError("an empty noise spec: try 'gaussian:0.1' or 'masking:0.25'.")
    if not all(parts):  # 'gaussian:0.1+' or 'a++b': a noise was left out, not asked for
        raise ValueError(f"noise spec {spec!r} has an empty part: join noises as 'gaussian:0.1+masking:0.1'.")
    procs = [_one_spec(p) for p in parts]
    return procs[0] if len(procs) == 1 else Compose(procs)


def _one_spec(part: str) -> Noise:
    name, _, level = part.partition(":")
    key = name.strip().lower()
    if key not in _SPEC_NAMES:
        raise ValueError(f"unknown noise '{name}': use one of {', '.join(sorted(_SPEC_NAMES))}.")
    cls_name, arg = _SPEC_NAMES[key]
    if arg is None:
        return Identity()
    if not level:
        raise ValueError(f"noise '{part}' needs a level, e.g. '{key}:0.1' or '{key}:0-0.2'.")
    value = _parse_level(level)
    if value is None:
        raise ValueError(f"noise level '{level}' in '{part}' is not a number or a 'low-high' range.")
    return _REGISTRY[cls_name](**{arg: value})


def _parse_level(text: str) -> float | tuple[float, float] | None:
    """``"0.1"`` -> 0.1, ``"0-0.2"`` -> (0, 0.2), ``"1e-4-1e-2"`` -> (1e-4, 1e-2); None if neither.
    A range splits at the first '-' with a number on both sides (an exponent's '-' has not)."""
    try:
        return float(text)
    except ValueError:
        pass
    for i, ch in enumerate(text):
        if ch == "-" and i > 0:
            try:
                return (float(text[:i]), float(text[i + 1 :]))
            except ValueError:
                continue
    return None


# ---------------------------------------------------------------------------------------
# daekit.noise.estimate and daekit.noise.select, re-exported lazily
# ---------------------------------------------------------------------------------------
# They live a floor above this leaf: estimating real noise needs numpy-heavy code
# (daekit.noise_estimate), and selecting a corruption trains DAEs (daekit.noise_select,
# beside the apps). A module __getattr__ (PEP 562) hands out the real functions on first
# use, so `dk.noise.select(...)` keeps working while importing this module pulls in
# nothing above it and no cycle exists at import time.

_LAZY = ("estimate", "select")


def __getattr__(name: str) -> Any:
    if name == "estimate":
        from .noise_estimate import estimate

        return estimate
    if name == "select":
        from .noise_select import select

        return select
    raise AttributeError(f"module 'daekit.noise' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
