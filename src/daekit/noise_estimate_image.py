"""What an image's noise estimate returns, and the polyphase sub-images that tell white
noise from spatially correlated (real camera) noise.

A leaf beside ``daekit.noise_estimate``, which does the estimating; numpy only.

Real photos' noise has passed demosaicking, in-camera noise reduction and JPEG: it is
spatially correlated (neighbouring pixels' noise correlates by about 0.5–0.7) and so it
hides from the finest scales that white-noise estimators read. Taking every ``s``-th pixel
in both directions (the ``s × s`` polyphase sub-images, a pixel shuffle) keeps each
pixel's noise but moves neighbours ``s`` pixels apart, where that correlation has died
away: white noise reads the same on the sub-images as on the image, correlated noise
reads higher.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ImageNoiseLevel", "ImageNoiseLevels", "polyphase"]


def polyphase(img: np.ndarray, s: int) -> list[np.ndarray]:
    """The ``s × s`` polyphase sub-images of a 2-D array, each cut to the same shape.

    Example:
        >>> [a.tolist() for a in polyphase(np.arange(16).reshape(4, 4), 2)][0]
        [[0, 2], [8, 10]]
    """
    h, w = (img.shape[0] // s) * s, (img.shape[1] // s) * s
    return [img[i:h:s, j:w:s] for i in range(s) for j in range(s)]


def _sentence(sigma: float, correlated: bool) -> str:
    if sigma <= 0:
        from .noise_estimate_signals import NO_NOISE

        return NO_NOISE
    kind = "spatially correlated (camera-like)" if correlated else "white"
    return f"{kind} noise, RMS σ = {sigma:.2f} on 0-255"


class ImageNoiseLevel(float):
    """A gray image's noise estimate: the float σ (0–255 scale) it always was, with facts added.

    The value is the **effective σ**: the RMS of the noise on the 0–255 scale. For white
    noise that is the white-noise estimate; for spatially correlated noise it is read on
    polyphase sub-images, where the white-noise estimate would read several times too low.

    Attributes:
        sigma_white: the white-noise estimate at full resolution (what the value was
            before correlated noise was looked for).
        correlated: whether the noise is spatially correlated.
        scale_ratio: σ on the 2 × 2 sub-images over ``sigma_white`` (about 1 for white
            noise; NaN where it was not measured).
        message: one sentence ("white noise, RMS σ = 4.10 on 0-255", or "no noise detected").
    """

    sigma_white: float
    correlated: bool
    scale_ratio: float
    message: str

    def __new__(cls, sigma: float, sigma_white: float, correlated: bool, scale_ratio: float) -> ImageNoiseLevel:
        self = super().__new__(cls, float(sigma))
        self.sigma_white, self.correlated, self.scale_ratio = float(sigma_white), bool(correlated), float(scale_ratio)
        self.message = _sentence(float(sigma), self.correlated)
        return self

    @property
    def sigma(self) -> float:
        """The effective σ as a plain float."""
        return float(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "sigma": float(self),
            "sigma_white": self.sigma_white,
            "correlated": self.correlated,
            "scale_ratio": None if np.isnan(self.scale_ratio) else self.scale_ratio,
            "message": self.message,
        }

    def __reduce__(self) -> tuple:
        return (ImageNoiseLevel, (float(self), self.sigma_white, self.correlated, self.scale_ratio))


class ImageNoiseLevels(np.ndarray):
    """A colour image's estimate: the ``(C,)`` float array of σ per channel it always was,
    with the same facts as :class:`ImageNoiseLevel` (``sigma_white`` per channel,
    ``correlated`` true when any channel's noise is correlated, ``scale_ratio`` per channel,
    ``message``). Arithmetic on it gives plain arrays."""

    sigma_white: np.ndarray
    correlated: bool
    scale_ratio: np.ndarray
    message: str

    def __new__(cls, levels: list[ImageNoiseLevel]) -> ImageNoiseLevels:
        self = np.asarray([float(v) for v in levels], dtype=np.float64).view(cls)
        self.sigma_white = np.array([v.sigma_white for v in levels])
        self.scale_ratio = np.array([v.scale_ratio for v in levels])
        self.correlated = any(v.correlated for v in levels)
        rms = float(np.sqrt(np.mean(np.square([float(v) for v in levels])))) if levels else 0.0
        self.message = _sentence(rms, self.correlated) + (" (RMS over channels)" if rms > 0 else "")
        return self

    def __array_finalize__(self, obj: Any) -> None:
        # Views and slices keep the facts; nothing else should be built from a bare ndarray.
        for name, default in (("sigma_white", None), ("correlated", False), ("scale_ratio", None), ("message", "")):
            setattr(self, name, getattr(obj, name, default))

    def __array_wrap__(self, out: np.ndarray, context: Any = None, return_scalar: bool = False) -> Any:
        # Results of arithmetic (ufuncs, reductions) are plain numbers: 2·σ is no estimate.
        plain = np.asarray(out).view(np.ndarray)
        return plain[()] if return_scalar else plain

    @property
    def sigma(self) -> np.ndarray:
        """The effective σ per channel as a plain array."""
        return np.asarray(self).view(np.ndarray).copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "sigma": [float(v) for v in self.sigma],
            "sigma_white": [float(v) for v in self.sigma_white],
            "correlated": self.correlated,
            "scale_ratio": [None if np.isnan(v) else float(v) for v in self.scale_ratio],
            "message": self.message,
        }

    def __reduce__(self) -> tuple:
        levels = [
            ImageNoiseLevel(s, w, self.correlated, r) for s, w, r in zip(self.sigma, self.sigma_white, self.scale_ratio)
        ]
        return (_rebuild_levels, (levels, self.correlated, self.message))


def _rebuild_levels(levels: list[ImageNoiseLevel], correlated: bool, message: str) -> ImageNoiseLevels:
    out = ImageNoiseLevels(levels)
    out.correlated, out.message = correlated, message
    return out
