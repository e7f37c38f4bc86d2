"""Quality metrics shared by the applications and benchmarks (numpy only).

Each function is pure and documented with the convention it follows; optional packages
are imported inside the function that needs them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

# --------------------------------------------------------------------------- NAB

#: NAB's three scoring profiles (config/profiles.json of numenta/NAB).
NAB_PROFILES = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}


def nab_sigmoid(y: float) -> float:
    """NAB's scaled sigmoid ``2 / (1 + exp(5y)) - 1``, exactly -1 for y > 3."""
    if y > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_probation(n_rows: int) -> int:
    """Rows NAB leaves unscored at the start of a file: min(floor(0.15 n), 750)."""
    return min(int(math.floor(0.15 * n_rows)), 750)


def nab_score(
    scores: ArrayLike,
    windows: Iterable[tuple[int, int]],
    threshold: float,
    profile: str | dict[str, float] = "standard",
) -> float:
    """Raw NAB score of one file (Lavin & Ahmad 2015; NAB's scorer at ea702d7).

    A row is a detection when ``score >= threshold`` and it lies after the probationary
    period. Each window scores its earliest detection, ``sigma(-(R-i+1)/w) / sigma(-1)``
    times tpWeight; an undetected window costs fnWeight; each detection outside every
    window costs fpWeight before the first window and ``-sigma((i-R')/(w'-1))`` times
    fpWeight after the last window that ended before it (cheap just after a window,
    full price far from it).

    Args:
        scores: ``(n,)`` anomaly scores, one per row of the file.
        windows: ``[(L, R), ...]`` inclusive row indices of the anomaly windows.
        threshold: detection threshold (NAB uses one per detector and profile).
        profile: a name from ``NAB_PROFILES`` or a dict with tp/fn/fpWeight.

    Returns:
        The file's raw score (sum it over files, then ``nab_normalise``).

    Example:
        >>> s = np.zeros(1000); s[400] = 1.0
        >>> round(nab_score(s, [(400, 450)], 0.5), 6)
        1.0
    """
    cost = NAB_PROFILES[profile] if isinstance(profile, str) else profile
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    probation = nab_probation(n)
    wins = sorted((int(a), int(b)) for a, b in windows if int(b) >= probation)
    lefts = np.array([a for a, _ in wins], dtype=np.int64)
    detections = np.flatnonzero(scores >= threshold)
    detections = detections[detections >= probation]
    best: dict[int, float] = {}  # window number -> score of its earliest detection
    fp_total = 0.0
    for i in detections:
        k = int(np.searchsorted(lefts, i, side="right")) - 1  # last window starting at or before i
        if k >= 0 and i <= wins[k][1]:
            if k not in best:  # detections come in time order
                left, right = wins[k]
                width = right - left + 1
                best[k] = nab_sigmoid(-(right - i + 1) / width) / nab_sigmoid(-1.0) * cost["tpWeight"]
        elif k < 0:
            fp_total -= cost["fpWeight"]
        else:
            left, right = wins[k]
            width = right - left + 1
            y = (i - right) / (width - 1) if width > 1 else math.inf
            fp_total += nab_sigmoid(y) * cost["fpWeight"]
    missed = len(wins) - len(best)
    return float(sum(best.values()) - cost["fnWeight"] * missed + fp_total)


def nab_normalise(raw_total: float, n_windows: int, profile: str | dict[str, float] = "standard") -> float:
    """Map a corpus raw score to NAB's 0 (no detections) .. 100 (perfect) scale."""
    cost = NAB_PROFILES[profile] if isinstance(profile, str) else profile
    null = -cost["fnWeight"] * n_windows
    perfect = cost["tpWeight"] * n_windows
    return 100.0 * (raw_total - null) / (perfect - null)


# --------------------------------------------------------------------------- images


def psnr(x_hat: ArrayLike, x: ArrayLike, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(range² / MSE)`` over all values.

    Args:
        x_hat: the estimate; x: the reference (same shape; any numeric dtype).
        data_range: the white level (255 for 8-bit, 1.0 for floats on [0, 1]).

    Returns:
        PSNR in dB (``inf`` when the two are equal).

    Example:
        >>> round(psnr(np.full((4, 4), 10.0), np.zeros((4, 4))), 2)
        28.13
    """
    a, b = np.asarray(x_hat, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"psnr needs equal shapes, got {a.shape} and {b.shape}.")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _box_mean_valid(x: np.ndarray, k: int) -> np.ndarray:
    # Mean over every k×k window that lies fully inside (integral image): exact and fast.
    c = np.pad(x, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(x_hat: ArrayLike, x: ArrayLike, data_range: float = 255.0, win_size: int = 7) -> float:
    """Structural similarity (Wang et al. 2004) with scikit-image's defaults.

    Same numbers as ``skimage.metrics.structural_similarity(x_hat, x, data_range=...)``
    (7×7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, mean over windows that
    lie inside the image); colour ``(H, W, C)`` is the mean over channels
    (``channel_axis=-1`` there).

    Shape:
        x_hat, x: ``(H, W)`` or ``(H, W, C)``, at least ``win_size`` on each side.

    Example:
        >>> img = np.random.default_rng(0).uniform(0, 255, (32, 32))
        >>> ssim(img, img)
        1.0
    """
    a, b = np.asarray(x_hat, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise ValueError(f"ssim needs two (H, W) or (H, W, C) arrays of equal shape, got {a.shape} and {b.shape}.")
    if min(a.shape[:2]) < win_size:
        raise ValueError(f"ssim needs images at least {win_size}×{win_size}, got {a.shape[:2]}.")
    if a.ndim == 3:
        return float(np.mean([ssim(a[..., i], b[..., i], data_range, win_size) for i in range(a.shape[2])]))
    n = win_size * win_size
    cov_norm = n / (n - 1)
    ux, uy = _box_mean_valid(a, win_size), _box_mean_valid(b, win_size)
    vx = cov_norm * (_box_mean_valid(a * a, win_size) - ux * ux)
    vy = cov_norm * (_box_mean_valid(b * b, win_size) - uy * uy)
    vxy = cov_norm * (_box_mean_valid(a * b, win_size) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.mean())


# --------------------------------------------------------------------------- speech


def si_sdr(x_hat: ArrayLike, x: ArrayLike, eps: float = 1e-12) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    Both signals are made zero-mean; the reference is scaled by the optimal gain
    ``<x_hat, x> / <x, x>`` before the ratio of its energy to the residual's.

    Args:
        x_hat: the estimate, ``(samples,)``. x: the clean reference, same length.

    Example:
        >>> import numpy as np
        >>> x = np.sin(np.arange(800) / 5.0)
        >>> round(si_sdr(0.5 * x, x), 1) > 100
        True
    """
    est, ref = np.asarray(x_hat, np.float64).ravel(), np.asarray(x, np.float64).ravel()
    if est.shape != ref.shape:
        raise ValueError(f"si_sdr needs equal lengths, got {est.size} and {ref.size}.")
    est, ref = est - est.mean(), ref - ref.mean()
    target = (est @ ref) / (ref @ ref + eps) * ref
    residual = est - target
    return float(10 * np.log10((target @ target + eps) / (residual @ residual + eps)))


def pesq_nb(x_hat: ArrayLike, x: ArrayLike, sample_rate: int = 8000) -> float:
    """Narrow-band PESQ (ITU-T P.862, MOS-LQO) through the ``pesq`` package (8 or 16 kHz)."""
    try:
        from pesq import pesq
    except ImportError:
        raise ImportError("PESQ needs the pesq package: pip install pesq.") from None
    return float(pesq(sample_rate, np.asarray(x, np.float64), np.asarray(x_hat, np.float64), "nb"))


def stoi(x_hat: ArrayLike, x: ArrayLike, sample_rate: int = 8000, extended: bool = False) -> float:
    """Short-time objective intelligibility (Taal et al. 2011) through ``pystoi``."""
    try:
        from pystoi import stoi as _stoi
    except ImportError:
        raise ImportError("STOI needs the pystoi package: pip install pystoi.") from None
    return float(_stoi(np.asarray(x, np.float64), np.asarray(x_hat, np.float64), sample_rate, extended=extended))


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """ROC-AUC from ranks (Mann–Whitney U), ties counted half; 0.5 when one class is missing."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
