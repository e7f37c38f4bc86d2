"""Noise added at a signal-to-noise ratio: synthetic tracks (white, pink, brown, hum),
recorded banks, and ``MixAtSNR``, the speech-enhancement corruption.

A leaf beside ``daekit.noise``, which re-exports these names; torch only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from .noise_base import Noise, register_noise
from .noise_levels import Level, _draw_choice, _float, _mixture_weights, _rand, _randn, check_level, per_sample

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
    _unchanged_hint = "every sample is silent, and noise at an SNR adds nothing to silence"

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
        out = mix_at_snr(x, noise.view(shape).expand_as(x), self.snr_db, generator)
        self._warn_if_unchanged(x, out)
        return out

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
