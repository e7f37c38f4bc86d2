"""Sliding windows over a series and the way back: per-window errors to per-step scores.

A series is an array of shape ``(T, C)`` (time first, as in a CSV). A window of length L
starting at step s covers steps s..s+L-1. Windows are taken every ``stride`` steps; the
last window always ends at the last step so that every step is covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["window_starts", "make_windows", "fold_to_steps", "trailing_mean"]


def window_starts(n_steps: int, length: int, stride: int) -> np.ndarray:
    """Start index of each window; the last window ends at step ``n_steps - 1``.

    Raises:
        ValueError: when the series is shorter than one window.
    """
    if n_steps < length:
        raise ValueError(f"the series has {n_steps} time steps, fewer than one window of {length}.")
    starts = np.arange(0, n_steps - length + 1, stride)
    if starts[-1] != n_steps - length:
        starts = np.append(starts, n_steps - length)
    return starts


def make_windows(series: np.ndarray, length: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cut a ``(T, C)`` series into windows.

    Returns:
        ``(windows, starts)``: windows of shape ``(N, C, L)`` (channels first, as conv1d
        models take them) and their start indices ``(N,)``.
    """
    starts = window_starts(len(series), length, stride)
    view = np.lib.stride_tricks.sliding_window_view(series, length, axis=0)  # (T-L+1, C, L)
    return np.ascontiguousarray(view[starts]), starts


def fold_to_steps(errors: np.ndarray, starts: np.ndarray, n_steps: int) -> np.ndarray:
    """Average per-position errors of overlapping windows into one value per time step.

    Args:
        errors: ``(N, C, L)`` or ``(N, L)`` squared errors of each window position.
        starts: the windows' start indices.
        n_steps: length T of the series.

    Returns:
        ``(T, C)`` (or ``(T,)``) mean error of each step over the windows that cover it.
    """
    squeeze = errors.ndim == 2
    if squeeze:
        errors = errors[:, None, :]
    n, c, length = errors.shape
    total = np.zeros((n_steps, c))
    count = np.zeros(n_steps)
    for offset in range(length):  # L vectorised passes instead of N small ones
        np.add.at(total, starts + offset, errors[:, :, offset])
        np.add.at(count, starts + offset, 1.0)
    out = total / np.maximum(count, 1.0)[:, None]
    return out[:, 0] if squeeze else out


def trailing_mean(x: Any, k: int) -> np.ndarray:
    """Mean of the last ``k`` rows at each step (fewer at the start): causal, so a
    stream gets the same values as a whole file.

    Args:
        x: ``(T,)`` or ``(T, C)`` values in time order.
        k: rows averaged (the row itself and the ``k - 1`` before it).

    Returns:
        An array of ``x``'s shape.

    Example:
        >>> trailing_mean([1.0, 3.0, 5.0, 7.0], 2).tolist()
        [1.0, 2.0, 4.0, 6.0]
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - int(k))
    return (c[i] - c[lo]) / (i - lo).reshape((-1,) + (1,) * (x.ndim - 1))
