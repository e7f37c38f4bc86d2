"""DAEDetector: anomaly scores from a small ensemble of denoising autoencoders.

Fit on mostly-normal data; a row (or a time step) the autoencoders cannot rebuild is
abnormal. The contract is PyOD's and scikit-learn's: ``fit(X)`` returns self,
``decision_function(X)`` is higher for more abnormal rows, ``predict`` gives 0/1 with the
threshold fitted from ``contamination`` (or a value, or median + k·MAD), and the fitted
``decision_scores_``, ``threshold_``, ``labels_`` describe the training data.

The table defaults: four members, half fitted on standardised data and half on
median/IQR-scaled data, Gaussian noise of 0.2 on that scale, a dense encoder–decoder sized
from the number of features, a short training run (20 epochs, 100..400 steps) whose second
half leaves out the worst-rebuilt 10 % of each batch (``trim``). Each member's score is its
reconstruction error of the clean input plus four times the Mahalanobis distance of its
code, each divided by its median on the training data; the code's Gaussian is fitted on
the 60 % of training codes nearest its centre (``latent_keep``), and the members' scores
are combined by their geometric mean (``combine``). Reconstruction error alone misses
points that lie far out along directions the data does vary in (the network extrapolates
and rebuilds them well); the code distance catches those. The training data holds the
anomalies, so every step that learns from it (the loss, the code's Gaussian, the scaling)
is made robust to its worst rows. How these were chosen (leave-datasets-out on 31 ADBench
sets, benchmarks/anomaly_tabular.py) and what they score: the README's "Anomaly detection".

Time series: set ``window`` and pass a ``(T, C)`` (or ``(T,)``) series; the detector
trains on sliding windows and gives one score per time step, the mean error of that
step over all windows that cover it. ``score_new`` scores points as they arrive, each
from the window that ends at it (history + new points, nothing from the future).
``detrend=W`` makes series scores robust to slow drift: channels that wander slowly on the
fitted series are replaced by their deviation from a trailing mean of W steps.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..dae import DenoisingAutoencoder
from ..io import read_model_folder, write_model_folder
from ..io_checks import expect_class
from ..models import create_model
from ..train import TrainConfig, Trainer
from .anomaly_load import restore_fitted, restore_params
from .anomaly_prep import MODELS as _MODELS  # noqa: F401  # re-exported: this module's name before the split
from .anomaly_prep import SCALERS as _SCALERS  # noqa: F401  # re-exported, as above
from .anomaly_prep import SLOW_AUTOCORR as _SLOW_AUTOCORR  # noqa: F401  # re-exported, as above
from .anomaly_prep import as_array, check_params, detrend_channels, fit_scaler, member_inputs, scaler_names
from .anomaly_prep import is_real as _is_real  # noqa: F401  # re-exported, as above
from .anomaly_prep import not_fitted as _not_fitted
from .anomaly_prep import slow_channels as _slow_channels
from .anomaly_score import combine_members, fit_latent, fit_threshold, latent_terms, member_errors, threads
from .anomaly_score import one_thread as _one_thread  # noqa: F401  # re-exported, as above
from .anomaly_trim import TrimmedObjective
from .anomaly_windows import fold_to_steps, window_starts

__all__ = ["DAEDetector"]


class DAEDetector:
    """Unsupervised anomaly detector: an ensemble of denoising autoencoders.

    Args:
        contamination: expected share of anomalies in the training data, in (0, 0.5];
            sets ``threshold_`` when ``threshold`` is ``"contamination"``.
        threshold: ``"contamination"`` (the (1 - contamination) quantile of the training
            scores), ``"mad"`` (median + ``threshold_k`` · 1.4826 · MAD of the training
            scores), or a number on the ``decision_function`` scale.
        threshold_k: the k of the ``"mad"`` rule.
        window: None for tables (rows are samples); an int L for series: sliding windows
            of L time steps, one score per step.
        stride: step between training windows (scoring always uses every window).
        model: ``"mlp"`` (dense; windows are flattened) or ``"conv1d"`` (windows only).
        hidden_sizes: encoder widths of the mlp; None sizes them from the input width
            F: ``(clip(2F, 16, 128), clip(F // 2, 4, 64))`` for tables, the first layer
            up to 256 for series' flattened windows.
        noise: ``"gaussian"``, ``"masking"`` or any ``daekit.noise`` spec
            (``"gaussian:0.1+masking:0.1"``); levels apply to the scaled data.
        noise_level: std (gaussian) or probability (masking) when ``noise`` is a name;
            ``"auto"``: 0.2 for gaussian noise on tables, else 0.1.
        scaler: ``"minmax"`` ([0, 1] on the training rows), ``"robust"`` (median/IQR),
            ``"standard"``, ``"none"``, a tuple of these (members take them in turn), or
            ``"auto"``: ``("standard", "robust")`` for tables, ``"standard"`` for series.
            Fitted inside ``fit``.
        n_estimators: ensemble members (different seeds, and scalers in turn).
        latent_weight: tables only: weight of the latent term, the Mahalanobis distance
            of each member's code from the training codes (in units of its median),
            added to the reconstruction term (0 = reconstruction error only).
        latent_keep: share in (0, 1] of the training codes the latent term's mean and
            covariance are fitted on: the fit is refitted twice on the share nearest the
            previous one, so that anomalies among the training rows do not stretch it
            (1 = a plain fit on every code; see ``apps/anomaly_score.py``).
        combine: tables only: how the members' scores make the detector's, ``"geometric"``
            (their geometric mean: a row scores high only when every member finds it
            unusual, so one member's outlying view of a normal row weighs less) or
            ``"mean"`` (their arithmetic mean). Series always average the members.
        epochs: passes over the training data per member (None: enough steps for the
            data size, see ``_train_steps``).
        batch_size: rows per step.
        lr: AdamW learning rate; ``"auto"``: 1e-2 for tables (with 1e-3 the short runs
            underfit: ADBench seed 1 ROC-AUC 0.851 / 0.859 / 0.866 with 1e-3 / 3e-3 /
            1e-2), 1e-3 for series (1e-2 overfits the small SKAB training parts: F1 0.795
            → 0.71; NAB 56.3 → 55.8).
        score_draws: 0 scores the clean input; k > 0 averages the error over k noisy
            copies (a smoother, slower score).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        random_state: seed of the whole fit (None: 0).
        verbose: show training progress.
        detrend: series only: None, or W >= 2 steps. Channels whose lag-1
            autocorrelation on the fitted series exceeds 0.8 (``slow_channels_``: slowly
            wandering signals such as temperatures, whose level leaves the training range
            later on without anything being wrong) are replaced, before scaling, by their
            deviation from their own trailing mean over W steps (causal: only the past).
            The other channels keep their levels, so sustained changes in them stay
            visible. On SKAB (benchmarks/anomaly_skab.py) W = 200 took F1 from 0.747 to
            0.814 on the files it was chosen on and from 0.741 to 0.756 on the others.
        trim: None (every row counts), or the share in (0, 1] of each batch's rows, the
            best reconstructed, that the loss averages over in the second half of each
            member's training (``apps/anomaly_trim.py``): training rows that are anomalies
            stop being learnt once the normal structure is. ``"auto"``: 0.9 for tables,
            None for series.

    Attributes (after fit):
        decision_scores_: ``(n,)`` scores of the training data (per step for series).
        threshold_: scores above it are flagged. ``labels_``: the training flags.
        n_features_in_: columns seen in ``fit`` (channels for series).
        constant_features_: indices of columns that were constant in ``fit``.
        slow_channels_: indices of the channels ``detrend`` replaces (empty without it).
        members_: the fitted ``DenoisingAutoencoder`` instances.
        feature_names_: the column names the data had (the CLI records its file's
            header; saved with the detector); empty when fitted on an unnamed array.

    Shape:
        tables: X ``(N, F)`` → scores ``(N,)``; series: X ``(T, C)`` or ``(T,)`` →
        scores ``(T,)``; ``explain`` → ``(N, F)`` (or ``(T, C)``) shares summing to 1.

    Example:
        >>> import numpy as np, daekit as dk
        >>> X = np.random.default_rng(0).normal(size=(500, 8))
        >>> det = dk.DAEDetector(contamination=0.05, random_state=0).fit(X)
        >>> float(det.predict(X + 6.0).mean())   # far from the training data: all flagged
        1.0
    """

    # Fitted attributes: set by fit (or load), absent before, as scikit-learn expects.
    n_features_in_: int
    feature_names_: list[str]
    constant_features_: list[int]
    slow_channels_: list[int]
    member_scalers_: list[str]
    scale_min_: np.ndarray
    scale_span_: np.ndarray
    members_: list[DenoisingAutoencoder]
    member_scale_: list[float]
    latent_mean_: list[np.ndarray]
    latent_precision_: list[np.ndarray]
    latent_scale_: list[float]
    decision_scores_: np.ndarray
    threshold_: float
    labels_: np.ndarray
    score_range_: tuple[float, ...]

    def __init__(
        self,
        contamination: float = 0.1,
        threshold: str | float = "contamination",
        threshold_k: float = 3.0,
        window: int | None = None,
        stride: int = 1,
        model: str = "mlp",
        hidden_sizes: Sequence[int] | None = None,
        noise: str = "gaussian",
        noise_level: float | str = "auto",
        scaler: str | Sequence[str] = "auto",
        n_estimators: int = 4,
        latent_weight: float = 4.0,
        latent_keep: float = 0.6,
        combine: str = "geometric",
        epochs: float | None = None,
        batch_size: int = 256,
        lr: float | str = "auto",
        score_draws: int = 0,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
        detrend: int | None = None,
        trim: float | str | None = "auto",
    ) -> None:
        self.contamination = contamination
        self.threshold = threshold
        self.threshold_k = threshold_k
        self.window = window
        self.stride = stride
        self.model = model
        self.hidden_sizes = hidden_sizes
        self.noise = noise
        self.noise_level = noise_level
        self.scaler = scaler
        self.n_estimators = n_estimators
        self.latent_weight = latent_weight
        self.latent_keep = latent_keep
        self.combine = combine
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.score_draws = score_draws
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.detrend = detrend
        self.trim = trim

    # -- scikit-learn plumbing (no sklearn import: daekit must load without it) ----------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as scikit-learn's ``clone`` expects."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def set_params(self, **params: Any) -> DAEDetector:
        """Set constructor arguments; unknown names raise ``ValueError``."""
        for name, value in params.items():
            if name not in _PARAM_NAMES:
                raise ValueError(f"DAEDetector has no parameter {name!r} (known: {', '.join(_PARAM_NAMES)}).")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != _DEFAULTS[k]]
        return f"DAEDetector({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(allow_nan=False),
            requires_fit=True,
        )

    def _more_tags(self) -> dict[str, bool]:  # scikit-learn < 1.6
        return {"allow_nan": False}

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> DAEDetector:
        """Fit the scaler, the ensemble and the threshold on (mostly normal) data.

        Args:
            X: ``(N, F)`` table, or a ``(T, C)`` / ``(T,)`` series when ``window`` is set.
            y: ignored (unsupervised); present for the scikit-learn API.

        Returns:
            self.
        """
        check_params(self.get_params())
        X = self._validate(X, fitting=True)
        # Names belong to the data of this fit: a refit must not keep those of an earlier one.
        self.feature_names_ = []
        # Constant columns carry no information; they stay in (scaled to 0), so any other
        # value in them at scoring time shows up as error. Listed for the caller to report.
        self.constant_features_ = np.flatnonzero(np.ptp(X, axis=0) == 0).tolist()
        self.slow_channels_ = _slow_channels(X) if self.detrend else []
        X = self._detrend(X)
        scalers = self._scaler_names()
        self.member_scalers_ = [scalers[k % len(scalers)] for k in range(self.n_estimators)]
        fitted = [fit_scaler(X, name) for name in self.member_scalers_]
        self.scale_min_ = np.stack([lo for lo, _ in fitted])
        self.scale_span_ = np.stack([span for _, span in fitted])
        seed = self._seed()
        self.members_ = []
        inputs = [self._member_inputs(X, k, self.stride) for k in range(self.n_estimators)]
        for k, train in enumerate(inputs):
            with (
                _own_random_state(seed + 7919 * k),
                self._threads(),
            ):  # same fit every time; the caller's RNGs untouched
                dae = self._build_member(train.shape[1:])
                steps = self._train_steps(len(train))
                cfg = TrainConfig(
                    max_steps=steps,
                    batch_size=min(self.batch_size, len(train)),
                    lr=self._lr(),
                    seed=seed + 7919 * k,
                    device=self.device,
                    quiet=not self.verbose,
                    out_dir=None,
                    log_every=max(steps, 1),
                    tensorboard=False,
                )
                # With trim, the second half of training leaves out each batch's worst rows.
                trim = self._trim()
                objective = dae if trim is None else TrimmedObjective(dae, trim, steps // 2)
                Trainer(objective, cfg).fit(torch.as_tensor(train))
            # Scoring runs in float64: float32 matmuls round differently for different
            # batch sizes, and a row's score must not depend on which rows come with it.
            self.members_.append(dae.double().eval())
        # Each member's errors are divided by its median training error so that no member
        # (and no scaling) dominates the mean; the median is robust to the anomalies that
        # the training data holds.
        raw = [self._member_errors(dae, train) for dae, train in zip(self.members_, inputs)]
        self.member_scale_ = [float(np.median(r.mean(axis=tuple(range(1, r.ndim))))) or 1.0 for r in raw]
        if self.window is None:
            if self.latent_weight:
                self.latent_mean_, self.latent_precision_, self.latent_scale_ = fit_latent(
                    self.members_, inputs, self._device(), self.latent_keep
                )
            scores = self._table_scores(raw, inputs)
        else:
            scores = self._element_errors(raw, len(X), self.stride).mean(axis=1)
        self.decision_scores_ = scores
        self.threshold_ = fit_threshold(self.decision_scores_, self.threshold, self.contamination, self.threshold_k)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        self.score_range_ = (float(np.min(self.decision_scores_)), float(np.max(self.decision_scores_)))
        return self

    def _noise_level(self) -> float:
        if self.noise_level == "auto":
            return 0.2 if self.noise == "gaussian" and self.window is None else 0.1
        return float(self.noise_level)

    def _trim(self) -> float | None:
        if self.trim == "auto":
            return 0.9 if self.window is None else None
        return None if self.trim is None else float(self.trim)

    def _lr(self) -> float:
        if self.lr == "auto":
            return 1e-2 if self.window is None else 1e-3
        return float(self.lr)

    def _scaler_names(self) -> tuple[str, ...]:
        return scaler_names(self.scaler, self.window)

    def _seed(self) -> int:
        if self.random_state is None:
            return 0
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(self.random_state.randint(2**31 - 1))  # a numpy RandomState

    def _validate(self, X: Any, fitting: bool) -> np.ndarray:
        """A float64 array of the right shape, or one clear sentence saying what is wrong."""
        series = self.window is not None
        arr = as_array(X, series)
        if fitting:
            need = self.window if self.window is not None else 2
            if arr.shape[0] < need:
                unit = "time steps" if series else "rows (n_samples = 1)" if arr.shape[0] == 1 else "rows"
                raise ValueError(f"X has {arr.shape[0]} {unit}; at least {need} are needed to fit.")
            self.n_features_in_ = arr.shape[1]
        else:
            if not hasattr(self, "members_"):
                raise _not_fitted()
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {arr.shape[1]} features, but DAEDetector is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if self.window is not None and arr.shape[0] < self.window:
                raise ValueError(f"X has {arr.shape[0]} time steps, fewer than one window of {self.window}.")
            if arr.shape[0] == 0:
                raise ValueError("X has 0 rows; at least one is required.")
        return arr

    def _detrend(self, X: np.ndarray) -> np.ndarray:
        """Slow channels minus their trailing mean over ``detrend`` steps (fewer at the start)."""
        slow = getattr(self, "slow_channels_", [])
        if not self.detrend or not slow:
            return X
        return detrend_channels(X, slow, int(self.detrend))

    def _member_inputs(self, X: np.ndarray, k: int, stride: int) -> np.ndarray:
        """Model inputs of member k: its scaling, then rows for tables, or flattened
        (mlp) / channel-first (conv1d) windows for series."""
        return member_inputs(X, self.scale_min_[k], self.scale_span_[k], self.window, stride, self.model == "conv1d")

    def _default_hidden(self, width: int) -> tuple[int, int]:
        # Tables cap the first layer at 128: 256 on the wide sets (InternetAds, 1,555 columns) cost
        # 14 % of the 31-set fit time for the same mean ROC-AUC. Series keep 256 for their
        # flattened windows: at 128, SKAB's F1 fell from 0.784 to 0.770 (README).
        cap = 128 if self.window is None else 256
        return (int(np.clip(2 * width, 16, cap)), int(np.clip(width // 2, 4, 64)))

    def _build_member(self, sample_shape: tuple[int, ...]) -> DenoisingAutoencoder:
        if self.model == "conv1d":
            c = sample_shape[0]
            net = create_model("conv1d", in_channels=c, channels=(32, 64), blocks_per_level=1, kernel_size=5)
        else:
            width = int(sample_shape[0])
            hidden = tuple(self.hidden_sizes) if self.hidden_sizes is not None else self._default_hidden(width)
            net = create_model("mlp", in_features=width, hidden_sizes=hidden)
        return DenoisingAutoencoder(net, noise=self._noise_spec())

    def _noise_spec(self) -> str:
        if self.noise in ("gaussian", "masking"):
            return f"{self.noise}:{self._noise_level()}"
        return self.noise

    def _train_steps(self, n: int) -> int:
        if self.epochs is not None:
            return max(1, int(math.ceil(self.epochs * n / min(self.batch_size, n))))
        # Enough passes for small sets, a bounded budget for big ones: 20 epochs, 100..400 steps.
        return int(np.clip(math.ceil(20 * n / min(self.batch_size, n)), 100, 400))

    # -- scoring -------------------------------------------------------------------------

    def _member_errors(self, dae: DenoisingAutoencoder, samples: np.ndarray) -> np.ndarray:
        """Squared error of each input element, shaped like ``samples`` (float64)."""
        return member_errors(dae, samples, self._device(), self.score_draws)

    def _threads(self) -> contextlib.AbstractContextManager[None]:
        return threads(self._device())

    def _device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _member_mean(self, raw: list[np.ndarray]) -> np.ndarray:
        """Mean over members of their errors, each in units of its median training error."""
        total = np.zeros_like(raw[0])
        for r, s in zip(raw, self.member_scale_):
            total = total + r / s
        return total / len(raw)

    def _element_errors(self, raw: list[np.ndarray], n_rows: int, stride: int) -> np.ndarray:
        """Ensemble mean of normalised element errors, per row/step and feature/channel."""
        mean = self._member_mean(raw)
        if self.window is None:
            return mean  # (N, F)
        mean = mean.reshape(len(mean), self.n_features_in_, self.window)  # flattened mlp windows are (C, L) too
        return fold_to_steps(mean, window_starts(n_rows, self.window, stride), n_rows)  # (T, C)

    def _raw_errors(self, X: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each member's element errors of X (see ``_member_errors``), and its inputs."""
        inputs = [self._member_inputs(X, k, 1) for k in range(len(self.members_))]
        return [self._member_errors(dae, x) for dae, x in zip(self.members_, inputs)], inputs

    def _errors_for(self, X: Any) -> np.ndarray:
        """Ensemble element errors of X (see ``_element_errors``)."""
        X = self._detrend(self._validate(X, fitting=False))
        raw, _ = self._raw_errors(X)
        return self._element_errors(raw, len(X), 1)

    def _table_scores(self, raw: list[np.ndarray], inputs: list[np.ndarray]) -> np.ndarray:
        """Row scores of a table: per member, its mean reconstruction error in units of its
        median plus ``latent_weight`` × its latent term, combined over members by
        ``combine``."""
        per_member = [r.mean(axis=1) / s for r, s in zip(raw, self.member_scale_)]
        if self.latent_weight:
            latent = latent_terms(
                self.members_, inputs, self._device(), self.latent_mean_, self.latent_precision_, self.latent_scale_
            )
            per_member = [r + self.latent_weight * z for r, z in zip(per_member, latent)]
        return combine_members(per_member, self.combine)

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of each row (or time step): higher is more abnormal.

        Returns:
            ``(N,)`` float array. Series: the members' mean reconstruction error over
            channels, in units of their median training error (about 1 is typical of
            the training data). Tables: per member, that error plus ``latent_weight`` ×
            the code's squared Mahalanobis distance in units of its training median
            (about 1 + ``latent_weight`` is typical), combined over members by ``combine``.
        """
        X = self._detrend(self._validate(X, fitting=False))
        raw, inputs = self._raw_errors(X)
        if self.window is None:
            return self._table_scores(raw, inputs)
        return self._element_errors(raw, len(X), 1).mean(axis=1)

    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn's convention (higher = more normal): ``-decision_function(X)``."""
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows (or steps) whose score exceeds ``threshold_``, else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on X and return its 0/1 flags (``labels_``)."""
        return self.fit(X).labels_

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(N, 2)`` probabilities of [normal, abnormal]: the score scaled linearly to [0, 1]
        between the smallest and largest training score (PyOD's ``linear`` method)."""
        s = self.decision_function(X)
        lo, hi = self.score_range_
        p = np.clip((s - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)

    def explain(self, X: Any) -> np.ndarray:
        """Share of each feature (or channel) in each row's (or step's) score.

        Returns:
            ``(N, F)`` array of non-negative shares summing to 1 per row: the fraction of
            the reconstruction error that comes from each feature. (The latent term of
            table scores has no per-feature split; it is left out of the shares.)
        """
        err = self._errors_for(X)
        total = err.sum(axis=1, keepdims=True)
        return np.divide(err, total, out=np.full_like(err, 1.0 / err.shape[1]), where=total > 0)

    def score_new(self, X_new: Any, history: Any, reduce: str = "last") -> np.ndarray:
        """Score points as they arrive (series only), using only the past.

        Each new step is scored by the window that ends at it, built from the last
        ``window - 1`` steps of ``history`` and the new steps before it, so a live stream
        gets the same score a batch run would give to a step at the end of its data.
        With ``detrend`` the trailing means reach ``detrend - 1`` steps further back:
        pass at least ``window + detrend - 2`` steps of history for the batch scores
        (fewer work, with shorter means at the start).

        Args:
            X_new: ``(K, C)`` or ``(K,)`` new steps.
            history: ``(H, C)`` or ``(H,)`` steps seen before them (H >= window - 1).
            reduce: ``"last"``: the error at the window's last position (the new step
                itself); ``"window"``: the mean error over the whole window that ends at
                the new step, a smoother score that was better on NAB (53.7 vs 48.6 with
                64-step windows).

        Returns:
            ``(K,)`` scores on the ``decision_function`` scale.
        """
        if reduce not in ("last", "window"):
            raise ValueError(f"reduce={reduce!r} must be 'last' or 'window'.")
        if self.window is None:
            return self.decision_function(X_new)
        if not hasattr(self, "members_"):
            raise _not_fitted()
        new = np.asarray(X_new, dtype=np.float64).reshape(len(X_new), -1)
        past = np.asarray(history, dtype=np.float64).reshape(len(history), -1)
        if len(past) < self.window - 1:
            raise ValueError(f"history has {len(past)} steps; score_new needs at least window - 1 = {self.window - 1}.")
        context = self.window - 1 + (int(self.detrend) - 1 if self.detrend else 0)
        past = past[max(0, len(past) - context) :]
        joined = self._detrend(self._validate(np.concatenate([past, new]), fitting=False))
        joined = joined[len(past) - (self.window - 1) :]
        # stride 1 over history + new: exactly one window ends at each new step
        raw = [self._member_errors(dae, self._member_inputs(joined, k, 1)) for k, dae in enumerate(self.members_)]
        mean = self._member_mean(raw).reshape(len(raw[0]), self.n_features_in_, self.window)
        return mean[:, :, -1].mean(axis=1) if reduce == "last" else mean.mean(axis=(1, 2))

    # -- model folders -------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted detector to folder ``path`` (config.json + model.safetensors)."""
        if not hasattr(self, "members_"):
            raise _not_fitted()
        tensors = {}
        for k, dae in enumerate(self.members_):
            for name, t in dae.model.state_dict().items():
                tensors[f"member{k}.{name}"] = t
        for k, (mu, prec) in enumerate(zip(getattr(self, "latent_mean_", []), getattr(self, "latent_precision_", []))):
            tensors[f"latent{k}.mean"] = torch.as_tensor(mu)
            tensors[f"latent{k}.precision"] = torch.as_tensor(prec)
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        config = {
            "class": "DAEDetector",
            "params": params,
            "members": [dae.get_config() for dae in self.members_],
            "fitted": {
                "n_features_in": int(self.n_features_in_),
                "member_scalers": self.member_scalers_,
                "scale_min": self.scale_min_.tolist(),
                "scale_span": self.scale_span_.tolist(),
                "member_scale": self.member_scale_,
                "threshold": self.threshold_,
                "latent_scale": list(getattr(self, "latent_scale_", [])),
                "score_range": list(self.score_range_),
                "feature_names": list(self.feature_names_),
                "slow_channels": [int(c) for c in getattr(self, "slow_channels_", [])],
            },
        }
        return write_model_folder(path, config, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DAEDetector:
        """Load a detector written by ``save``; ``ModelFileError`` says what is wrong with
        any other folder (another class, a tampered config or weights)."""
        config, tensors = read_model_folder(path)
        expect_class(path, config, ("DAEDetector",))
        det = cls()
        restore_params(path, det, config)
        restore_fitted(path, det, config, tensors)
        return det


@contextlib.contextmanager
def _own_random_state(seed: int) -> Iterator[None]:
    """Seed torch for one member and give back the global torch, numpy and random states
    afterwards (the Trainer seeds all three)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


_DEFAULTS = {
    name: p.default
    for name, p in __import__("inspect").signature(DAEDetector.__init__).parameters.items()
    if name != "self"
}
_PARAM_NAMES = tuple(_DEFAULTS)
