"""Online anomaly scores for a stream: one [0, 1] score per step, comparable across series.

A DAEDetector's reconstruction error has a scale of its own on every series, so one
alarm threshold cannot serve many series. ``StreamDetector`` fits the detector on the
first rows of a series, scores every later step from the window that ends at it, and
turns the errors into a score that means the same thing everywhere:

1. ``anomaly_likelihood``: how unusual the newest log-error is against the log-errors of
   a trailing history (their mean and spread), as a Gaussian tail probability — the idea
   of Numenta's anomaly likelihood (Ahmad et al., 2017), on log errors.
2. ``range_novelty``: 1 when a value lies outside the range seen so far, widened by 5 % of
   that range on each side (the "spatial anomaly" of NAB's HTM detector). A single spike
   is diluted in the mean error of a long window; this catches it at once.
3. ``quiet_alarms``: an alarm, then silence for ``quiet`` steps (one window length by
   default: the windows that still hold the event would only repeat it).

Windows are 128 steps, or a quarter of the training rows when those are fewer than 512.

The score of each step uses only the steps up to it, so running on a whole file gives the
scores a live stream would have received.

Measured on NAB (benchmarks/anomaly_nab.py, 51 files, standard profile): likelihood
alone 56.3; with range novelty and a quiet period of one window 65.6; with the window
sized from short training parts 66.2 (KNN-CAD 59.1, Numenta HTM 68.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import checks
from .anomaly_windows import trailing_mean

__all__ = ["StreamDetector", "anomaly_likelihood", "range_novelty", "quiet_alarms"]


def anomaly_likelihood(errors: Any, start: int = 0, history: int = 3000, min_spread: float = 0.5) -> np.ndarray:
    """Gaussian tail probability of each step's log-error against its trailing history.

    Row t compares ``log(errors[t])`` with the mean and standard deviation of the
    log-errors of rows ``t - history + 1 .. t``; rows before ``start`` get 0.

    Args:
        errors: ``(T,)`` non-negative errors, in time order.
        start: first row to score (the rows before only feed the history).
        history: rows in the trailing history.
        min_spread: floor of the log-errors' standard deviation, so that a series the
            model predicts almost perfectly does not turn tiny changes into alarms
            (0.5: a factor of e^0.5 ≈ 1.65 in error is one standard deviation at least).

    Returns:
        ``(T,)`` values in [0, 1]; near 1 when the error is far above its usual level.

    Example:
        >>> e = np.ones(100); e[90] = 50.0
        >>> bool(anomaly_likelihood(e, start=10)[90] > 0.99)
        True
    """
    from math import erf, sqrt

    log_e = np.log(np.maximum(np.asarray(errors, dtype=np.float64), 1e-12))
    mean = trailing_mean(log_e, history)
    spread = np.maximum(np.sqrt(np.maximum(trailing_mean(log_e**2, history) - mean**2, 1e-12)), min_spread)
    z = (log_e - mean) / spread
    out = np.asarray(0.5 * (1.0 + np.vectorize(erf)(z / sqrt(2.0)))) if len(z) else z
    out[:start] = 0.0
    return out


def range_novelty(series: Any, start: int = 0, tolerance: float = 0.05) -> np.ndarray:
    """1 where a value lies outside the range seen before it, widened by ``tolerance`` ×
    that range on each side; else 0. Rows before ``start`` get 0.

    Args:
        series: ``(T,)`` or ``(T, C)``; a step is novel when any channel is.
        start: first row that may be flagged.
        tolerance: widening of the range seen so far, as a share of its width.

    Returns:
        ``(T,)`` array of 0.0 / 1.0.

    Example:
        >>> range_novelty([0.0, 1.0, 0.5, 1.02, 1.2]).tolist()
        [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    x = np.asarray(series, dtype=np.float64)
    x = x.reshape(len(x), -1)
    lo = np.minimum.accumulate(x, axis=0)
    hi = np.maximum.accumulate(x, axis=0)
    lo = np.concatenate([x[:1], lo[:-1]])  # the range seen BEFORE each step
    hi = np.concatenate([x[:1], hi[:-1]])
    width = hi - lo
    novel = (width > 0) & ((x > hi + tolerance * width) | (x < lo - tolerance * width))
    out = np.asarray(novel.any(axis=1), dtype=np.float64)
    out[:start] = 0.0
    return out


def quiet_alarms(scores: Any, threshold: float, quiet: int) -> np.ndarray:
    """0/1 alarms: ``score >= threshold``, then no alarm for the next ``quiet`` steps.

    Example:
        >>> quiet_alarms([0, 1, 1, 1, 0, 1], 0.5, quiet=2).tolist()
        [0, 1, 0, 0, 0, 1]
    """
    scores = np.asarray(scores)
    out = np.zeros(len(scores), dtype=int)
    last = None
    for i in np.flatnonzero(scores >= threshold):
        if last is None or i - last > quiet:
            out[i] = 1
            last = i
    return out


class StreamDetector:
    """A DAEDetector run as a stream: fit on the first rows, then a [0, 1] score per step.

    Args:
        window: steps per window of the DAEDetector; ``"auto"``: a quarter of the
            training rows, between 8 and 128 steps (the DAE learns from the windows inside
            the training rows, so a short training part needs short windows).
        train_rows: rows the detector is fitted on; ``"auto"``: NAB's probationary rule,
            min(15 % of the series, 750). No alarm is raised in them.
        n_estimators: ensemble members of the DAEDetector.
        noise_level: Gaussian noise std on the standardised series.
        history: rows of error history in ``anomaly_likelihood``.
        min_spread: the likelihood's floor of the log-error spread.
        tolerance: widening of the seen range in ``range_novelty`` (None: no novelty term).
        threshold: alarm level of the score. 0.97 is the level NAB's threshold search
            picked for this detector (standard profile).
        quiet: steps without alarms after an alarm (None: the window length).
        random_state: seed of the DAE fit.

    Attributes (after ``fit_score``):
        detector_: the fitted ``DAEDetector``. errors_: ``(T,)`` online errors.
        likelihood_, novelty_: the two parts; scores_: their maximum. train_rows_: rows
        fitted on; window_: the window length used.

    Example:
        >>> t = np.arange(3000.0)
        >>> x = np.sin(2 * np.pi * t / 50); x[2500] = 4.0
        >>> sd = StreamDetector(window=50, random_state=0)
        >>> scores = sd.fit_score(x)
        >>> int(np.flatnonzero(sd.alarms(scores))[0])
        2500
    """

    def __init__(
        self,
        window: int | str = "auto",
        train_rows: int | str = "auto",
        n_estimators: int = 2,
        noise_level: float = 0.1,
        history: int = 3000,
        min_spread: float = 0.5,
        tolerance: float | None = 0.05,
        threshold: float = 0.97,
        quiet: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.window = window
        self.train_rows = train_rows
        self.n_estimators = n_estimators
        self.noise_level = noise_level
        self.history = history
        self.min_spread = min_spread
        self.tolerance = tolerance
        self.threshold = threshold
        self.quiet = quiet
        self.random_state = random_state

    def _sizes(self, n: int) -> tuple[int, int]:
        """(training rows, window length) for a series of n steps."""
        # Checked here, at fit time, as scikit-learn does: the constructor only stores.
        for name in ("window", "train_rows"):
            checks.WINDOW.check(name, getattr(self, name), words=("auto",))
        checks.POSITIVE_INT.check("n_estimators", self.n_estimators)
        checks.NON_NEGATIVE.check("noise_level", self.noise_level)
        checks.POSITIVE_INT.check("history", self.history)
        checks.NON_NEGATIVE.check("min_spread", self.min_spread)
        checks.NON_NEGATIVE.check("tolerance", self.tolerance, optional=True)
        checks.OPEN_UNIT.check("threshold", self.threshold)
        checks.COUNT.check("quiet", self.quiet, optional=True)
        rows = min(int(np.floor(0.15 * n)), 750) if self.train_rows == "auto" else int(self.train_rows)
        window = int(np.clip(rows // 4, 8, 128)) if self.window == "auto" else int(self.window)
        if rows < window or rows >= n:
            raise ValueError(
                f"the series has {n} steps; fitting on {rows} of them leaves "
                f"{'nothing to score' if rows >= n else 'less than one window'} "
                f"(window {window}): give a longer series or other train_rows."
            )
        return rows, window

    def fit_score(self, series: Any) -> np.ndarray:
        """Fit on the first ``train_rows`` steps and score every step online.

        Args:
            series: ``(T,)`` or ``(T, C)`` values in time order.

        Returns:
            ``(T,)`` scores in [0, 1]: the larger of the error likelihood and the range
            novelty; 0 on the training rows.
        """
        from .anomaly import DAEDetector

        x = np.asarray(series, dtype=np.float64)
        x = x.reshape(len(x), -1) if x.ndim == 1 else x
        n = len(x)
        p, w = self._sizes(n)
        det = DAEDetector(
            window=w,
            stride=1,
            n_estimators=self.n_estimators,
            noise_level=self.noise_level,
            random_state=self.random_state,
        ).fit(x[:p])
        errors = np.zeros(n)
        # The training rows' own (in-sample) errors only start the likelihood's history.
        errors[w - 1 : p] = det.score_new(x[w - 1 : p], x[: w - 1], reduce="window")
        errors[: w - 1] = errors[w - 1]
        errors[p:] = det.score_new(x[p:], x[:p], reduce="window")
        self.detector_, self.train_rows_, self.window_, self.errors_ = det, p, w, errors
        self.likelihood_ = anomaly_likelihood(errors, p, self.history, self.min_spread)
        self.novelty_ = range_novelty(x, p, self.tolerance) if self.tolerance is not None else np.zeros(n)
        self.scores_ = np.maximum(self.likelihood_, self.novelty_)
        return self.scores_

    def alarms(self, scores: Any = None, threshold: float | None = None) -> np.ndarray:
        """0/1 alarms from ``scores`` (default: the last ``fit_score``'s), with the quiet period."""
        scores = self.scores_ if scores is None else scores
        threshold = self.threshold if threshold is None else threshold
        return quiet_alarms(scores, threshold, self.window_ if self.quiet is None else int(self.quiet))
