"""What happens to the data before a DAEDetector's networks see it, and the checks on the way.

The constructor's parameters are checked (``check_params``), the input is turned into a
finite float64 array or refused in one sentence (``as_array``), slowly wandering channels
are found and detrended (``slow_channels``, ``detrend_channels``), each member's scaler is
fitted (``fit_scaler``), and the scaled data becomes that member's inputs: rows for
tables, flattened or channel-first windows for series (``member_inputs``).

Kept apart from :mod:`daekit.apps.anomaly` (which re-exports the names it had before)
so that the detector's file holds fitting, scoring and model folders only. Nothing here
keeps state: the detector passes in what it has fitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import checks
from .anomaly_windows import make_windows, trailing_mean

__all__ = [
    "SCALERS",
    "MODELS",
    "SLOW_AUTOCORR",
    "NotFittedError",
    "as_array",
    "check_params",
    "detrend_channels",
    "fit_scaler",
    "is_real",
    "member_inputs",
    "not_fitted",
    "scaler_names",
    "slow_channels",
]

SCALERS = ("minmax", "robust", "standard", "none")
COMBINE = ("geometric", "mean")  # how a table's member scores make one (see DAEDetector)
MODELS = ("mlp", "conv1d")

# SKAB, first 300 rows: above it the thermocouple in 32 of 34 files, the temperature in 19,
# one of the 6 other sensors in 2 (theirs are usually far lower).
SLOW_AUTOCORR = 0.8


def is_real(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))


class NotFittedError(ValueError, AttributeError):
    """Stands in for scikit-learn's ``NotFittedError`` (also a ValueError and an
    AttributeError) when scikit-learn, an optional dependency, is not installed."""


def not_fitted() -> Exception:
    """The error an unfitted detector raises: scikit-learn's ``NotFittedError`` when it is
    installed (so ``check_estimator`` and callers catching it see their own class)."""
    message = "This DAEDetector is not fitted yet; call fit(X) first."
    try:
        from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    except ImportError:
        return NotFittedError(message)
    return SklearnNotFittedError(message)


def scaler_names(scaler: str | Sequence[str], window: int | None) -> tuple[str, ...]:
    """The scalers the members take in turn."""
    if scaler == "auto":
        # Tables: members alternate between standardisation and median/IQR scaling, which
        # the anomalies in the training rows cannot stretch; chosen by leave-datasets-out
        # on ADBench (README, "Anomaly detection").
        return ("standard", "robust") if window is None else ("standard",)
    return (scaler,) if isinstance(scaler, str) else tuple(scaler)


def check_params(params: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first constructor argument (from ``get_params()``)
    that is out of range."""
    contamination, lr, threshold = params["contamination"], params["lr"], params["threshold"]
    window, model, stride = params["window"], params["model"], params["stride"]
    n_estimators, detrend = params["n_estimators"], params["detrend"]
    checks.CONTAMINATION.check("contamination", contamination)
    if lr != "auto":
        checks.POSITIVE.check("lr", lr)
    if threshold not in ("contamination", "mad") and not is_real(threshold):  # is_real: a finite number
        raise ValueError(f"threshold={threshold!r} must be 'contamination', 'mad' or a finite number.")
    checks.POSITIVE.check("threshold_k", params["threshold_k"])
    if params["noise_level"] != "auto":
        checks.NON_NEGATIVE.check("noise_level", params["noise_level"])
    checks.POSITIVE.check("epochs", params["epochs"], optional=True)
    scalers = scaler_names(params["scaler"], window)
    if not scalers or any(name not in SCALERS for name in scalers):
        raise ValueError(f"scaler={params['scaler']!r} must be one of {', '.join(SCALERS)} (or a tuple of them).")
    if model not in MODELS:
        raise ValueError(f"model={model!r} must be one of {', '.join(MODELS)}.")
    if model == "conv1d" and window is None:
        raise ValueError("model='conv1d' needs a window length (it works on series).")
    checks.WINDOW.check("window", window, optional=True)
    checks.POSITIVE_INT.check("stride", stride)
    checks.POSITIVE_INT.check("n_estimators", n_estimators)
    if params.get("trim") != "auto":
        checks.Range(float, 0, 1, low_open=True).check("trim", params.get("trim"), optional=True)
    checks.Range(float, 0, 1, low_open=True).check("latent_keep", params.get("latent_keep", 1.0))
    if params.get("combine", "mean") not in COMBINE:
        raise ValueError(f"combine={params['combine']!r} must be one of {', '.join(COMBINE)}.")
    if detrend is not None:
        checks.WINDOW.check("detrend", detrend)
        if window is None:
            raise ValueError("detrend needs a window length (it works on series).")


def as_array(X: Any, series: bool) -> np.ndarray:
    """X as a finite 2-D float64 array (a ``(T,)`` series becomes ``(T, 1)``), or one clear
    sentence saying what is wrong. The checks against the fitted detector come after."""
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError("X is a sparse matrix; sparse input is not supported, pass a dense array (X.toarray()).")
    try:
        arr = np.asarray(X)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"X could not be read as a numeric array ({e}).") from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        try:
            arr = arr.astype(np.float64)
        except TypeError as e:
            raise TypeError(f"X holds values that are not numbers ({e}).") from None
        except ValueError:
            raise ValueError("X holds non-numeric values (strings); every column must be numeric.") from None
    if arr.dtype.kind == "c":
        raise ValueError("X holds complex numbers: Complex data not supported, only real values are.")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {arr.dtype}; only numeric values are accepted.")
    if series and arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        what = "(T, C) or (T,) series" if series else "2-D (rows, features) table"
        raise ValueError(
            f"X has shape {arr.shape}; a {what} is expected"
            + ("; Reshape your data with X.reshape(1, -1) for a single sample." if arr.ndim == 1 else ".")
        )
    arr = arr.astype(np.float64, copy=False)
    if arr.shape[1] == 0:
        raise ValueError(f"X has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"X contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); fill or drop those values first."
        )
    return arr


def slow_channels(X: np.ndarray) -> list[int]:
    """Channels whose lag-1 autocorrelation exceeds ``SLOW_AUTOCORR`` (constant ones never)."""
    x = X - X.mean(axis=0)
    power = (x * x).sum(axis=0)
    lag1 = (x[1:] * x[:-1]).sum(axis=0)
    return np.flatnonzero((power > 0) & (lag1 > SLOW_AUTOCORR * np.maximum(power, 1e-300))).tolist()


def detrend_channels(X: np.ndarray, slow: Sequence[int], steps: int) -> np.ndarray:
    """A copy of X whose ``slow`` channels are replaced by their deviation from their
    trailing mean over ``steps`` steps (fewer at the start)."""
    out = X.copy()
    out[:, slow] = X[:, slow] - trailing_mean(X[:, slow], steps)
    return out


def fit_scaler(X: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, span)`` per column of scaler ``name``: scaled data is ``(X - lo) / span``."""
    if name == "minmax":
        lo, span = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
    elif name == "robust":
        q1, med, q3 = np.percentile(X, [25, 50, 75], axis=0)
        # A column that is mostly one value (a flag, a sparse count) has no interquartile
        # range; its full range keeps it on the data's own scale instead.
        lo, span = med, np.where(q3 > q1, q3 - q1, X.max(axis=0) - X.min(axis=0))
    elif name == "standard":
        lo, span = X.mean(axis=0), X.std(axis=0)
    else:
        lo, span = np.zeros(X.shape[1]), np.ones(X.shape[1])
    # A constant column carries no information: keep it at 0 instead of dividing by 0.
    # At scoring time a change in it must still show, on the column's own scale: one unit
    # is 5 % of the constant (1 where the constant is 0), so 7 -> 9 reads as 5.7 units.
    constant = np.where(lo != 0, 0.05 * np.abs(lo), 1.0)
    span = np.where(span > 1e-12 * np.maximum(1.0, np.abs(lo)), span, constant)
    return lo, span


def member_inputs(
    X: np.ndarray, lo: np.ndarray, span: np.ndarray, window: int | None, stride: int, channels_first: bool
) -> np.ndarray:
    """Model inputs of one member: X scaled by ``(lo, span)``, then rows for tables, or
    windows for series: channel-first ``(N, C, L)`` (conv1d) or flattened (mlp)."""
    Xs = (X - lo) / span
    if window is None:
        return Xs.astype(np.float32)
    windows, _ = make_windows(Xs, window, stride)
    windows = windows.astype(np.float32)
    return windows if channels_first else windows.reshape(len(windows), -1)
