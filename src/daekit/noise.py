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
from typing import Any, TypeVar

import torch

from .noise_levels import (
    Level,
    _draw_choice,
    _draw_device,
    _float,
    _mixture_weights,
    _rand,
    _randn,
    check_level,
    per_sample,
)

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
    "mix_at_snr",
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
    p = check_level("p", p, 0.0, 1.0)
    prob = per_sample(p, x, generator)
    hit = _rand(x.shape, x, generator) < prob
    return torch.where(hit, torch.as_tensor(value, dtype=x.dtype, device=x.device), x)


def salt_pepper(
    x: torch.Tensor,
    p: Level,
    low: float | None = None,
    high: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Salt-and-pepper noise: a fraction ``p`` of the entries set to ``low`` or ``high``.

    Each hit entry becomes ``low`` or ``high`` with equal chance. By default these are
    each sample's own minimum and maximum, so the noise fits the data's range whether it
    lies on [0, 1], [0, 255] or is standardised.
    """
    p = check_level("p", p, 0.0, 1.0)
    dims = tuple(range(1, x.dim()))
    lo = x.amin(dim=dims, keepdim=True) if low is None else torch.as_tensor(low, dtype=x.dtype, device=x.device)
    hi = x.amax(dim=dims, keepdim=True) if high is None else torch.as_tensor(high, dtype=x.dtype, device=x.device)
    prob = per_sample(p, x, generator)
    u = _rand(x.shape, x, generator)
    hit = u < prob
    # A second, independent coin for the colour: u / prob is uniform on [0, 1) where hit.
    salt = u < prob / 2
    return torch.where(hit, torch.where(salt, hi.expand_as(x), lo.expand_as(x)), x)


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

NoiseT = TypeVar("NoiseT", bound="Noise")
_REGISTRY: dict[str, type[Noise]] = {}


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

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

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


@register_noise
class Identity(Noise):
    """No corruption (a plain autoencoder, or a baseline in noise selection)."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x


@register_noise
class Gaussian(Noise):
    """Additive Gaussian noise; ``std`` a number or a ``(lo, hi)`` range. See ``gaussian``."""

    _params = ("std",)

    def __init__(self, std: Level = 0.1) -> None:
        self.std = check_level("std", std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return gaussian(x, self.std, generator)


@register_noise
class Uniform(Noise):
    """Additive uniform noise of total ``width``. See ``uniform``."""

    _params = ("width",)

    def __init__(self, width: Level = 0.1) -> None:
        self.width = check_level("width", width)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return uniform(x, self.width, generator)


@register_noise
class Speckle(Noise):
    """Multiplicative Gaussian noise. See ``speckle``."""

    _params = ("std",)

    def __init__(self, std: Level = 0.1) -> None:
        self.std = check_level("std", std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return speckle(x, self.std, generator)


@register_noise
class Masking(Noise):
    """Masking (dropout) noise: zero (or ``value``) a fraction ``p``. See ``masking``."""

    _params = ("p", "value")

    def __init__(self, p: Level = 0.25, value: float = 0.0) -> None:
        self.p = check_level("p", p, 0.0, 1.0)
        self.value = float(value)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return masking(x, self.p, self.value, generator)


@register_noise
class SaltPepper(Noise):
    """Salt-and-pepper noise; ``low``/``high`` default to each sample's range. See ``salt_pepper``."""

    _params = ("p", "low", "high")

    def __init__(self, p: Level = 0.05, low: float | None = None, high: float | None = None) -> None:
        self.p = check_level("p", p, 0.0, 1.0)
        self.low = low
        self.high = high

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return salt_pepper(x, self.p, self.low, self.high, generator)


@register_noise
class Poisson(Noise):
    """Poisson shot noise with photon count ``peak`` for a white pixel. See ``poisson``."""

    _params = ("peak",)

    def __init__(self, peak: Level = 30.0) -> None:
        self.peak = check_level("peak", peak, 0.0, math.inf, allow_inf=True)
        if self.peak == 0 or (isinstance(self.peak, tuple) and self.peak[0] == 0):
            raise ValueError("peak=0 is not valid: a Poisson peak must be > 0 (inf means no noise).")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return poisson(x, self.peak, generator)


SYNTHETIC_NOISES = ("white", "pink", "brown", "hum")


def synthetic_noise(
    kind: str, n: int, length: int, x: torch.Tensor, generator: torch.Generator | None = None, sample_rate: int = 8000
) -> torch.Tensor:
    """``n`` unit-power noise tracks of ``length`` samples: white, pink (1/f), brown (1/f²)
    or mains hum (50 or 60 Hz and harmonics with random amplitudes, over faint white noise).

    Shape: returns ``(n, length)`` float32 on ``x``'s device.
    """
    if kind not in SYNTHETIC_NOISES:
        raise ValueError(f"unknown synthetic noise '{kind}': use one of {', '.join(SYNTHETIC_NOISES)}.")
    white = _randn((n, length), x, generator)
    if kind in ("pink", "brown"):
        spec = torch.fft.rfft(white, dim=-1)
        f = torch.arange(spec.shape[-1], device=x.device, dtype=torch.float32).clamp_min(1.0)
        spec = spec / (f.sqrt() if kind == "pink" else f)
        white = torch.fft.irfft(spec, n=length, dim=-1)
    elif kind == "hum":
        t = torch.arange(length, device=x.device, dtype=torch.float32) / sample_rate
        base = torch.where(_rand((n, 1), x, generator) < 0.5, 50.0, 60.0)
        track = 0.05 * white
        for h in range(1, 8):
            if h * 60 >= sample_rate / 2:
                break
            amp = _rand((n, 1), x, generator) / h
            phase = 2 * math.pi * _rand((n, 1), x, generator)
            track = track + amp * torch.sin(2 * math.pi * h * base * t + phase)
        white = track
    return white / white.square().mean(-1, keepdim=True).clamp_min(1e-12).sqrt()


def mix_at_snr(
    x: torch.Tensor, noise: torch.Tensor, snr_db: Level, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``x`` plus ``noise`` scaled so that each sample has the given global SNR (dB).

    The SNR is the ratio of the mean power of the whole clean sample (silences included)
    to the noise's; a silent sample stays silent.

    Shape: ``x`` and ``noise`` alike, ``(N, ...)``.
    """
    xf, nf = _float(x), _float(noise)
    dims = tuple(range(1, x.dim()))
    p_x = xf.square().mean(dims, keepdim=True)
    p_n = nf.square().mean(dims, keepdim=True).clamp_min(1e-20)
    snr = per_sample(snr_db, x, generator)
    scale = torch.sqrt(p_x / (p_n * 10.0 ** (snr / 10.0)))
    return (xf + scale * nf).to(x.dtype)


@register_noise
class MixAtSNR(Noise):
    """Add noise from a bank at a signal-to-noise ratio: the speech-enhancement corruption.

    Each sample draws one bank entry (weights ``p``, default equal) and an SNR from
    ``snr_db``; recorded entries are cropped at a random offset (and looped when short).

    Args:
        noise_bank: a sequence whose entries are names of synthetic noises
            (``"white"``, ``"pink"``, ``"brown"``, ``"hum"``) or 1-D tensors of recorded
            noise at the data's sample rate. Recorded tensors are not written into
            ``config.json`` (they are data, not settings): the config keeps a
            ``"recorded:<samples>"`` placeholder, and a process rebuilt from it only
            documents what the model was trained on.
        snr_db: a number or a ``(lo, hi)`` range in dB.
        p: one non-negative weight per bank entry.
        sample_rate: of the data; sets the hum frequencies.

    Shape:
        x: ``(N, T)`` or ``(N, C, T)``; every channel of a sample gets the same noise.

    Example:
        >>> import torch, daekit as dk
        >>> mix = dk.noise.MixAtSNR(["white", "pink", torch.randn(16000)], snr_db=(-5, 15))
        >>> x_noisy = mix(torch.randn(4, 1, 8000), generator=torch.Generator().manual_seed(0))
    """

    _params = ("noise_bank", "snr_db", "p", "sample_rate")

    def __init__(
        self,
        noise_bank: Sequence[str | torch.Tensor] = ("white",),
        snr_db: Level = (0.0, 20.0),
        p: Sequence[float] | None = None,
        sample_rate: int = 8000,
    ) -> None:
        self.noise_bank = list(noise_bank)
        if not self.noise_bank:
            raise ValueError("MixAtSNR needs at least one noise in noise_bank.")
        for entry in self.noise_bank:
            if isinstance(entry, torch.Tensor):
                if entry.dim() != 1 or entry.numel() == 0 or not torch.isfinite(entry).all():
                    raise ValueError("a recorded noise in noise_bank must be a non-empty, finite 1-D tensor.")
            elif not (entry in SYNTHETIC_NOISES or (isinstance(entry, str) and entry.startswith("recorded:"))):
                raise ValueError(
                    f"noise_bank entry {entry!r} is not valid: use a 1-D tensor or one of "
                    f"{', '.join(SYNTHETIC_NOISES)}."
                )
        self.snr_db = check_level("snr_db", snr_db, -math.inf, math.inf)
        self.p, self._weights = _mixture_weights(p, len(self.noise_bank), "MixAtSNR", "noise")
        self.sample_rate = int(sample_rate)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        length, n = x.shape[-1], x.shape[0]
        choice = _draw_choice(self._weights, x, generator)
        noise = torch.zeros(n, length, device=x.device)
        for i, entry in enumerate(self.noise_bank):
            idx = (choice == i).nonzero().flatten()
            if idx.numel() == 0:
                continue
            if isinstance(entry, str) and entry.startswith("recorded:"):
                raise ValueError(
                    "this MixAtSNR was rebuilt from a config and no longer holds its recorded "
                    "noise: pass the recordings again in noise_bank."
                )
            if isinstance(entry, str):
                noise[idx] = synthetic_noise(entry, idx.numel(), length, x, generator, self.sample_rate)
            else:
                noise[idx] = self._crops(entry.to(x.device, torch.float32), idx.numel(), length, x, generator)
        shape = (n,) + (1,) * (x.dim() - 2) + (length,)
        return mix_at_snr(x, noise.view(shape).expand_as(x), self.snr_db, generator)

    @staticmethod
    def _crops(
        track: torch.Tensor, n: int, length: int, x: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        reps = -(-(length + track.numel()) // track.numel())
        looped = track.repeat(reps) if reps > 1 else track
        starts = (_rand((n,), x, generator) * (looped.numel() - length + 1)).long().clamp_max(looped.numel() - length)
        return looped[starts[:, None] + torch.arange(length, device=x.device)]

    def to_config(self) -> dict[str, Any]:
        cfg = super().to_config()
        cfg["noise_bank"] = [f"recorded:{e.numel()}" if isinstance(e, torch.Tensor) else e for e in self.noise_bank]
        return cfg


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
    "none": ("Identity", None),
}


def from_spec(spec: str) -> Noise:
    """Parse a short command-line spec into a noise process.

    ``"gaussian:0.1"``, ``"gaussian:0-0.2"`` (a range), ``"masking:0.25"``,
    ``"saltpepper:0.05"``, ``"poisson:30"``, ``"none"``; join with ``+`` to compose:
    ``"gaussian:0.1+masking:0.1"``.
    """
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        raise ValueError("an empty noise spec: try 'gaussian:0.1' or 'masking:0.25'.")
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
    try:
        lo, sep, hi = level.partition("-") if not level.startswith("-") else (level, "", "")
        value = (float(lo), float(hi)) if sep else float(level)
    except ValueError:
        raise ValueError(f"noise level '{level}' in '{part}' is not a number or a 'low-high' range.") from None
    return _REGISTRY[cls_name](**{arg: value})


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
