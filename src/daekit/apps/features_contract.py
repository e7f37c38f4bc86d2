"""scikit-learn's estimator contract, shared by ``DAEFeatureExtractor`` and ``DAEClassifier``.

scikit-learn is optional, so the feature estimators implement its contract themselves
(``get_params``, ``set_params``, tags, input validation) here, together with the pieces of
``fit`` both need: parameter checks, input scaling, the Trainer's config, and a private
random state so that fitting does not disturb the caller's generators.
"""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .. import checks
from ..train import TrainConfig
from .features_stacked import NoiseSpec, layer_noises

SCALINGS = ("minmax", "standard", "none")
_SKLEARN_HINT = "pip install 'daekit[sklearn]'"


def _sklearn(who_needs: str = "DAEFeatureExtractor and DAEClassifier need") -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError(f"{who_needs} scikit-learn: {_SKLEARN_HINT}.") from None


# --------------------------------------------------------------------------- the contract


class _Estimator:
    """scikit-learn's estimator contract without importing scikit-learn.

    Constructor arguments are stored unchanged and read back by ``get_params``;
    ``set_params`` validates names only (values are checked in ``fit``, as scikit-learn
    asks).
    """

    _estimator_type: str | None = None

    # The constructor arguments both estimators share, stored unchanged by their __init__
    # (declared here so the shared steps below are type-checked), and the fitted state.
    hidden_sizes: int | Sequence[int]
    scaling: str
    loss: str
    noise: NoiseSpec
    epochs: int
    max_steps: int | None
    batch_size: int
    lr: float
    weight_decay: float
    device: str
    verbose: bool
    random_state: int | None
    n_features_in_: int
    scale_offset_: np.ndarray
    scale_: np.ndarray

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted(p for p in inspect.signature(cls.__init__).parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (``deep`` is accepted; there are no sub-estimators)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> _Estimator:
        """Set constructor arguments by name; returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name)
            same = value is default or (type(value) is type(default) and _safe_equal(value, default))
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _base_tags(self) -> Any:
        _sklearn()
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=False),
        )

    # -- shared pieces of fit / transform ---------------------------------------------

    def _validate(self, X: ArrayLike, *, reset: bool) -> np.ndarray:
        """Check X the scikit-learn way: 2-D, numeric, finite, non-empty, right width."""
        _sklearn()
        from sklearn.utils.validation import check_is_fitted, validate_data

        if not reset:
            check_is_fitted(self)
        try:
            return validate_data(
                self, X, reset=reset, dtype=(np.float64, np.float32), ensure_all_finite=True, ensure_min_samples=1
            )
        except ValueError as e:
            text = str(e)
            if "NaN" in text or "infinity" in text:
                raise ValueError(
                    f"X contains NaN or infinity; {type(self).__name__} needs finite numbers "
                    f"(impute or drop those values first). ({text})"
                ) from None
            raise

    def _check_params(self) -> None:
        sizes = self.hidden_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = (sizes,)
        if not isinstance(sizes, (list, tuple)) or not sizes:
            raise ValueError(f"hidden_sizes={self.hidden_sizes!r} must be a non-empty sequence of positive integers.")
        for h in sizes:
            checks.POSITIVE_INT.check(f"hidden_sizes={self.hidden_sizes!r}: each width", h)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling={self.scaling!r} is not valid: use one of {', '.join(SCALINGS)}.")
        checks.POSITIVE_INT.check("epochs", self.epochs)
        checks.POSITIVE_INT.check("batch_size", self.batch_size)
        checks.POSITIVE_INT.check("max_steps", self.max_steps, optional=True)
        checks.POSITIVE.check("lr", self.lr)
        checks.NON_NEGATIVE.check("weight_decay", self.weight_decay)
        checks.check_device("device", self.device)
        layer_noises(self.noise, len(sizes))  # raises on a bad spec or count

    def _loss_name(self) -> str:
        if self.loss == "auto":
            return "bce" if self.scaling == "minmax" else "mse"
        if self.loss not in ("bce", "mse", "l1"):
            raise ValueError(f"loss={self.loss!r} is not valid: use 'auto', 'bce', 'mse' or 'l1'.")
        return self.loss

    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_sizes
        return (int(sizes),) if isinstance(sizes, (int, np.integer)) else tuple(int(h) for h in sizes)

    def _fit_scaling(self, X: np.ndarray) -> None:
        # Global min/max (not per feature): a pixel that is always dark in training must not
        # blow up at test time, and [0, 1] data is what BCE and masking noise assume.
        if self.scaling == "minmax":
            lo, hi = float(X.min()), float(X.max())
            self.scale_offset_ = np.full(X.shape[1], lo)
            self.scale_ = np.full(X.shape[1], hi - lo if hi > lo else 1.0)
        elif self.scaling == "standard":
            std = X.std(axis=0)
            self.scale_offset_, self.scale_ = X.mean(axis=0), np.where(std > 0, std, 1.0)
        else:
            self.scale_offset_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        scaled = (np.asarray(X, dtype=np.float64) - self.scale_offset_) / self.scale_
        return torch.tensor(scaled, dtype=torch.float32)

    def _train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            epochs=int(self.epochs),
            max_steps=self.max_steps,
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            seed=seed,
            device=self.device,
            quiet=not self.verbose,
            tensorboard=False,
            out_dir=None,
        )

    def _seed(self) -> int:
        _sklearn()
        from sklearn.utils import check_random_state

        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))


def _safe_equal(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


@contextlib.contextmanager
def _private_rng(num_threads: int | None) -> Iterator[None]:
    """Train without disturbing the caller: the Trainer seeds the global torch, numpy and
    random generators, so their states (and torch's thread count) are put back after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(int(num_threads))
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_num_threads(threads)


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, size: int = 2048) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(chunk) for chunk in x.split(size)]) if len(x) else fn(x)


def _output_dtype(X: np.ndarray) -> np.dtype:
    return X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
