"""Noise in audio, tables and series, for ``daekit.noise_estimate`` (which re-exports all of it).

* :func:`estimate_audio` → :class:`AudioNoise`: the noise floor from the quietest frames
  (minimum statistics) and the SNR of the whole recording against it.
* :func:`estimate_table` / :func:`estimate_series` → :class:`TableNoise`: a robust scale
  per column (of the values, or of the first differences for a series) and the missing share.

Also here: the array check every estimator starts with (images included) and the
``NO_NOISE`` phrase the messages share.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["estimate_audio", "estimate_table", "estimate_series", "AudioNoise", "TableNoise", "NO_NOISE"]

NO_NOISE = "no noise detected"


def _as_numpy(x: Any, what: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"the {what} could not be read as an array ({exc}).") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"the {what} must be numeric, got dtype {arr.dtype}.")
    if arr.size == 0:
        raise ValueError(f"the {what} is empty.")
    return arr


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class AudioNoise:
    """The noise floor of a recording.

    Attributes:
        noise_rms: RMS of the noise on the signal's own scale (1.0 = full scale for
            float audio); 0.0 when nothing was heard.
        noise_db: the same in dB relative to full scale (dBFS); ``None`` for silence.
        signal_rms: RMS of the whole recording.
        snr_db: ``10·log10((P_total − P_noise) / P_noise)``; ``None`` when undefined
            (silence, or no quiet frames to learn the floor from).
        frames: how many frames the floor was measured on.
        message: one sentence for people.
    """

    noise_rms: float
    noise_db: float | None
    signal_rms: float
    snr_db: float | None
    frames: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TableNoise:
    """Per-feature robust scale and missing share of a table or series.

    Attributes:
        scale: robust standard deviation per feature (``(F,)``), 0.0 for a constant one.
            For ``kind="series"`` it is the noise's scale, from first differences.
        missing: share of missing (NaN) values per feature, in [0, 1].
        constant: indices of features that never change (or are entirely missing).
        message: one sentence for people.
    """

    scale: np.ndarray
    missing: np.ndarray
    constant: list[int] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": [float(v) for v in self.scale],
            "missing": [float(v) for v in self.missing],
            "constant": [int(i) for i in self.constant],
            "message": self.message,
        }


# ---------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------


def estimate_audio(wave: Any, sample_rate: int = 16000, frame_ms: float = 20.0, quiet_share: float = 0.1) -> AudioNoise:
    """The noise floor and SNR of a recording, from its quietest frames.

    Speech and most sounds pause; in the pauses only the noise is left. The floor is the
    mean power of the quietest ``quiet_share`` of the frames (minimum statistics, in the
    spirit of Martin 2001), and the SNR compares the rest of the power with it.

    Args:
        wave: ``(T,)`` mono, or ``(C, T)`` / ``(T, C)`` (channels are averaged).
        sample_rate: samples per second (sets the frame length).
        frame_ms: frame length in milliseconds.
        quiet_share: share of frames, the quietest, that measure the floor.

    Returns:
        :class:`AudioNoise`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = np.arange(16000) / 16000
        >>> tone = np.sin(2 * np.pi * 440 * t) * (t > 0.5)
        >>> est = estimate_audio(tone + 0.01 * rng.standard_normal(t.size))
        >>> round(est.noise_rms, 3)
        0.01
    """
    arr = _as_numpy(wave, "audio").astype(np.float64)
    if arr.ndim == 2:
        arr = arr.mean(axis=0 if arr.shape[0] < arr.shape[1] else 1)
    if arr.ndim != 1:
        raise ValueError(f"audio must have shape (T,), (C, T) or (T, C); got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("the audio holds NaN or infinite samples; noise cannot be estimated.")
    if not 0 < quiet_share < 1:
        raise ValueError(f"quiet_share={quiet_share!r} must lie in (0, 1).")
    frame = max(1, int(round(sample_rate * frame_ms / 1000)))
    n = len(arr) // frame
    if n < 2:
        raise ValueError(
            f"the audio is {len(arr)} samples long; the noise floor needs at least two "
            f"{frame_ms:g} ms frames ({2 * frame} samples at {sample_rate} Hz)."
        )
    arr = arr - arr.mean()  # a DC offset is not noise
    power = (arr[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    total = float(power.mean())
    signal_rms = math.sqrt(total)
    if total == 0:
        return AudioNoise(0.0, None, 0.0, None, n, f"silence: {NO_NOISE} (and no signal).")
    k = max(1, int(round(quiet_share * n)))
    floor = float(np.sort(power)[:k].mean()) * _min_statistics_bias(k / n, frame)
    noise_rms = math.sqrt(floor)
    noise_db = 10 * math.log10(floor) if floor > 0 else None
    if floor == 0:
        return AudioNoise(0.0, None, signal_rms, None, k, f"{NO_NOISE}: the quietest frames are digital silence.")
    excess = max(total - floor, 0.0)
    if excess <= 0.05 * floor:
        # Power barely changes from frame to frame: stationary noise, or a signal with
        # no pauses; either way the pauses the method needs are not there.
        return AudioNoise(
            noise_rms,
            noise_db,
            signal_rms,
            None,
            k,
            "no quiet frames: the level is steady, so the floor is an upper bound and the SNR is unknown.",
        )
    snr = 10 * math.log10(excess / floor)
    return AudioNoise(noise_rms, noise_db, signal_rms, snr, k, f"noise floor {noise_db:.1f} dBFS, SNR {snr:.1f} dB.")


def _min_statistics_bias(share: float, frame: int) -> float:
    """Undo the low bias of averaging only the quietest frames of pure noise.

    A frame's mean power over ``frame`` white-noise samples has a relative spread of
    about √(2/frame); the quietest ``share`` of frames sit on average ``z`` spreads below
    the mean, with ``z = φ(Φ⁻¹(share)) / share`` (the mean of a normal's lower tail).
    """
    from statistics import NormalDist

    unit = NormalDist()
    z = unit.pdf(unit.inv_cdf(min(max(share, 1e-6), 0.5))) / share
    return 1.0 / max(1.0 - z * math.sqrt(2.0 / frame), 0.5)


# ---------------------------------------------------------------------------------------
# Tables and series
# ---------------------------------------------------------------------------------------


def _table(x: Any) -> np.ndarray:
    arr = _as_numpy(x, "table").astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"a table must have shape (N, F) (or (T,) for one series); got {arr.shape}.")
    if np.isinf(arr).any():
        raise ValueError("the table holds infinite values; replace them (NaN counts as missing).")
    return arr


def _robust_scale(cols: np.ndarray) -> np.ndarray:
    out = np.zeros(cols.shape[1])
    for j in range(cols.shape[1]):
        v = cols[:, j][~np.isnan(cols[:, j])]
        if len(v) < 2:
            continue
        med = np.median(v)
        s = 1.4826 * np.median(np.abs(v - med))
        if s == 0:  # more than half the rows share one value: fall back on the IQR, then std
            q1, q3 = np.percentile(v, [25, 75])
            s = (q3 - q1) / 1.349 if q3 > q1 else float(np.std(v))
        out[j] = s
    return out


def _summary(scale: np.ndarray, missing: np.ndarray, what: str) -> TableNoise:
    constant = [int(j) for j in np.flatnonzero(scale == 0)]
    parts = [f"{len(scale)} {what}"]
    if constant:
        shown = ", ".join(map(str, constant[:10])) + ("..." if len(constant) > 10 else "")
        parts.append(f"{len(constant)} constant ({NO_NOISE} in column{'s' if len(constant) > 1 else ''} {shown})")
    if missing.any():
        parts.append(f"{missing.mean():.1%} missing overall")
    return TableNoise(scale=scale, missing=missing, constant=constant, message="; ".join(parts) + ".")


def estimate_table(table: Any) -> TableNoise:
    """Robust per-feature scale (1.4826 × MAD, the σ of a Gaussian) and missing share.

    In a table of independent rows, noise and signal cannot be told apart column by
    column; the robust scale says how large a Gaussian corruption must be to matter for
    each feature, and is what ``noise.select`` uses to put levels on the data's scale.

    Args:
        table: ``(N, F)`` numbers; NaN marks a missing value.

    Returns:
        :class:`TableNoise`.

    Example:
        >>> est = estimate_table(np.c_[np.random.default_rng(0).normal(0, 2, 1000), np.ones(1000)])
        >>> est.constant, round(float(est.scale[0]))
        ([1], 2)
    """
    arr = _table(table)
    missing = np.isnan(arr).mean(axis=0)
    return _summary(_robust_scale(arr), missing, "features")


def estimate_series(series: Any) -> TableNoise:
    """Noise scale per channel of a time series, from robust first differences.

    For a smooth signal plus white noise of σ, ``x[t+1] − x[t]`` is σ·√2 times a unit
    Gaussian plus a small trend term, so ``1.4826·MAD(diff)/√2`` estimates σ.

    Args:
        series: ``(T,)`` or ``(T, C)``, time along the first axis; NaN = missing.

    Returns:
        :class:`TableNoise` whose ``scale`` is the noise σ per channel.

    Example:
        >>> t = np.linspace(0, 10, 5000)
        >>> est = estimate_series(np.sin(t) + 0.1 * np.random.default_rng(0).standard_normal(t.size))
        >>> round(float(est.scale[0]), 2)
        0.1
    """
    arr = _table(series)
    missing = np.isnan(arr).mean(axis=0)
    if arr.shape[0] < 3:
        raise ValueError(f"a series needs at least 3 time steps, got {arr.shape[0]}.")
    diffs = np.diff(arr, axis=0)
    scale = np.zeros(arr.shape[1])
    for j in range(arr.shape[1]):
        d = diffs[:, j][~np.isnan(diffs[:, j])]
        if len(d) >= 2 and np.any(d != 0):
            mad = np.median(np.abs(d - np.median(d)))
            # Sticky sensors repeat values: if most steps are zero, the MAD is 0; the
            # mean absolute step (×√(π/2) for a Gaussian) still measures the jitter.
            scale[j] = (1.4826 * mad if mad > 0 else np.mean(np.abs(d)) * math.sqrt(math.pi / 2)) / math.sqrt(2)
    return _summary(scale, missing, "channels")
