"""Feature learning with denoising autoencoders, behind scikit-learn's contracts.

* ``DAEFeatureExtractor``: a transformer (``fit``, ``transform``, ``fit_transform``,
  ``inverse_transform``, ``get_feature_names_out``) whose features are the code of a
  dense DAE — one layer, or a stack pretrained greedily layer by layer (Vincent et al.
  2010) — or the flattened bottleneck of a convolutional one.
* ``DAEClassifier``: the stacked DAE fine-tuned with labels under a softmax layer
  (``fit(X, y)``, ``predict``, ``predict_proba``, ``score``); ``pretrain=False`` trains
  the same network from random initialisation, the baseline of the pretraining effect.
* ``plot_filters`` / ``plot_codes`` (from :mod:`.features_plot`): first-layer filters as
  an image grid, and a 2-D map of the codes coloured by label.

scikit-learn is an optional dependency (``pip install 'daekit[sklearn]'``), so these
classes do not inherit from ``sklearn.base.BaseEstimator``: they implement its contract
(``get_params``, ``set_params``, ``__sklearn_tags__``, fitted attributes ending in ``_``)
themselves and import scikit-learn only inside ``fit``/``transform``. ``clone``,
``Pipeline`` and ``GridSearchCV`` work with them, and ``check_estimator`` passes
(tests/test_features.py lists the one warning and why).

Example:
    >>> import numpy as np, daekit as dk
    >>> X = np.random.default_rng(0).random((200, 64))
    >>> fx = dk.DAEFeatureExtractor(hidden_sizes=(32,), epochs=2, random_state=0)
    >>> fx.fit_transform(X).shape
    (200, 32)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..dae import DenoisingAutoencoder
from ..io import ModelFileError, read_model_folder
from ..io_checks import config_numbers, expect_class
from ..models import create_model
from ..train import Trainer
from .features_contract import (  # noqa: F401  (re-exported: they lived here before the split)
    _SKLEARN_HINT,
    SCALINGS,
    _batched,
    _Estimator,
    _output_dtype,
    _private_rng,
    _safe_equal,
    _sklearn,
)
from .features_stacked import NoiseSpec, layer_noises, pretrain_stack

__all__ = ["DAEFeatureExtractor", "DAEClassifier"]  # noqa: F822  (DAEClassifier: lazy, see __getattr__)

# --------------------------------------------------------------------------- transformer


class DAEFeatureExtractor(_Estimator):
    """Unsupervised features: the code of a denoising autoencoder, as a scikit-learn transformer.

    With one entry in ``hidden_sizes`` this is one DAE layer; with more it is a stacked
    DAE pretrained greedily (each layer a DAE on the clean codes of the layer below, with
    its own noise) unless ``layerwise=False``, which trains the deep DAE end to end.
    ``model="conv2d"`` uses a convolutional DAE on images of ``image_shape`` and returns
    its flattened bottleneck.

    Defaults follow Vincent et al. (2010): 25 % masking noise, sigmoid units, tied
    weights, cross-entropy on inputs min-max scaled to [0, 1].

    Args:
        hidden_sizes: layer widths, bottom to top; the last is the number of features
            (dense model). For ``conv2d``: the channels of each level.
        activation: hidden activation (``sigmoid``, ``relu``, ``tanh``...).
        tied: decoder weights are the transposed encoder weights (dense model).
        noise: a ``daekit.noise`` process or spec (``"masking:0.25"``,
            ``"gaussian:0.3"``), or a list with one per layer.
        model: ``"mlp"`` (dense) or ``"conv2d"``.
        image_shape: ``(H, W)`` or ``(C, H, W)`` of the flattened rows: needed by
            ``conv2d``, used by ``plot_filters`` otherwise.
        layerwise: greedy layer-wise pretraining of a multi-layer dense model.
        loss: ``"auto"`` (BCE after min-max scaling, else MSE), ``"bce"``, ``"mse"``, ``"l1"``.
        scaling: ``"minmax"`` (one global min and max), ``"standard"`` (per feature) or ``"none"``.
        epochs: training passes over the data, per layer.
        max_steps: optimiser steps per layer (wins over ``epochs`` when set).
        batch_size, lr, weight_decay: AdamW settings of ``daekit.Trainer``.
        random_state: seed (int), or None for a fresh one each fit.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        num_threads: torch CPU threads while fitting/transforming (None: leave as is).
        verbose: show progress bars.

    Attributes:
        dae_: the trained ``DenoisingAutoencoder``. n_features_in_: input width.
        n_features_out_: number of features. history_: per-layer training metrics.

    Shape:
        X: ``(N, F)`` → ``transform``: ``(N, n_features_out_)``; ``inverse_transform`` back.

    Example:
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.linear_model import LogisticRegression
        >>> clf = make_pipeline(DAEFeatureExtractor(hidden_sizes=(500,)), LogisticRegression())
        >>> clf.fit(X_train, y_train).score(X_test, y_test)   # doctest: +SKIP
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (1000,),
        activation: str = "sigmoid",
        tied: bool = True,
        noise: NoiseSpec = "masking:0.25",
        model: str = "mlp",
        image_shape: Sequence[int] | None = None,
        layerwise: bool = True,
        loss: str = "auto",
        scaling: str = "minmax",
        epochs: int = 30,
        max_steps: int | None = None,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        random_state: int | None = None,
        device: str = "cpu",
        num_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.tied = tied
        self.noise = noise
        self.model = model
        self.image_shape = image_shape
        self.layerwise = layerwise
        self.loss = loss
        self.scaling = scaling
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = self._base_tags()
        from sklearn.utils import TransformerTags

        tags.estimator_type = None
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags

    # -- fit --------------------------------------------------------------------------

    def _image_chw(self, n_features: int) -> tuple[int, int, int]:
        if self.image_shape is None:
            side = int(round(n_features**0.5))
            if side * side != n_features:
                raise ValueError(
                    f"rows of {n_features} features are not square images: set image_shape=(H, W) or (C, H, W)."
                )
            return (1, side, side)
        shape = tuple(int(s) for s in self.image_shape)
        chw = (1,) + shape if len(shape) == 2 else shape
        if len(chw) != 3 or int(np.prod(chw)) != n_features:
            raise ValueError(
                f"image_shape={self.image_shape!r} does not hold {n_features} features per row: "
                "use (H, W) or (C, H, W) with H*W*C equal to the number of features."
            )
        return chw

    def fit(self, X: ArrayLike, y: Any = None) -> DAEFeatureExtractor:
        """Learn the features from X alone (``y`` is ignored: the learning is unsupervised).

        Args:
            X: array-like ``(N, F)`` of finite numbers.
            y: ignored.

        Returns:
            self.
        """
        X = self._validate(X, reset=True)
        self._check_params()
        if self.model not in ("mlp", "conv2d"):
            raise ValueError(f"model={self.model!r} is not valid: use 'mlp' or 'conv2d'.")
        loss = self._loss_name()
        self._fit_scaling(X)
        x = self._to_tensor(X)
        seed = self._seed()
        out_act = "sigmoid" if loss == "bce" else "identity"
        self.history_ = []
        with _private_rng(self.num_threads):
            config = self._train_config(seed)
            if self.model == "conv2d":
                chw = self._image_chw(X.shape[1])
                torch.manual_seed(seed)
                net = create_model(
                    "conv2d",
                    in_channels=chw[0],
                    channels=self._hidden(),
                    blocks_per_level=1,
                    activation=self.activation,
                    output_activation=out_act,
                )
                dae = DenoisingAutoencoder(net, noise=layer_noises(self.noise, 1)[0], loss=loss)
                self.history_.append(Trainer(dae, config).fit(x.reshape(-1, *chw)).history)
            elif self.layerwise or len(self._hidden()) == 1:
                net = pretrain_stack(
                    x,
                    self._hidden(),
                    activation=self.activation,
                    tied=bool(self.tied),
                    noise=self.noise,
                    input_loss=loss,
                    config=config,
                    histories=self.history_,
                )
                # The stacked model is wrapped with the first layer's noise, the one applied
                # to the data itself (every layer's noise is in the saved params).
                dae = DenoisingAutoencoder(net, noise=layer_noises(self.noise, len(self._hidden()))[0], loss=loss)
            else:
                torch.manual_seed(seed)
                net = create_model(
                    "mlp",
                    in_features=X.shape[1],
                    hidden_sizes=self._hidden(),
                    activation=self.activation,
                    latent_activation=self.activation,
                    output_activation=out_act,
                    tied=bool(self.tied),
                )
                dae = DenoisingAutoencoder(net, noise=layer_noises(self.noise, 1)[0], loss=loss)
                self.history_.append(Trainer(dae, config).fit(x).history)
        self.dae_ = dae.cpu().eval()
        with torch.no_grad():
            code = self.dae_.model.encode(self._model_input(x[:1]))
        self.code_shape_ = tuple(code.shape[1:])
        self.n_features_out_ = int(np.prod(self.code_shape_))
        return self

    # -- transform --------------------------------------------------------------------

    def _model_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.model == "conv2d":
            return x.reshape(-1, *self._image_chw(self.n_features_in_))
        return x

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.dae_.model.encode(self._model_input(x)).flatten(1)

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The learned features of X (clean input, no noise).

        Args:
            X: array-like ``(N, n_features_in_)``.

        Returns:
            ``(N, n_features_out_)`` array, float32 for float32 input, else float64.
        """
        X = self._validate(X, reset=False)
        with _private_rng(self.num_threads):
            z = _batched(self._encode, self._to_tensor(X))
        return z.numpy().astype(_output_dtype(X))

    def fit_transform(self, X: ArrayLike, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X, y).transform(X)

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Decode features back to the input space (the autoencoder's reconstruction).

        Args:
            X: features ``(N, n_features_out_)``, as given by ``transform``.

        Returns:
            ``(N, n_features_in_)`` array in the units of the original data.
        """
        _sklearn()
        from sklearn.utils.validation import check_array, check_is_fitted

        check_is_fitted(self)
        Z = check_array(X, dtype=(np.float64, np.float32), ensure_all_finite=True)
        if Z.shape[1] != self.n_features_out_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform is "
                f"expecting {self.n_features_out_} features (the width of its codes)."
            )
        z = torch.tensor(Z, dtype=torch.float32).reshape(-1, *self.code_shape_)
        with _private_rng(self.num_threads):
            x_hat = _batched(self.dae_.model.decode, z)
        if self.model == "conv2d":  # the decoder works at the padded size: crop back
            _, h, w = self._image_chw(self.n_features_in_)
            x_hat = x_hat[..., :h, :w]
        recon = x_hat.reshape(len(Z), -1).double().numpy()
        return (recon * self.scale_ + self.scale_offset_).astype(_output_dtype(Z))

    def get_feature_names_out(self, input_features: Sequence[str] | np.ndarray | None = None) -> np.ndarray:
        """Names of the features: ``daefeatureextractor0``, ``daefeatureextractor1``, ...

        Args:
            input_features: ignored apart from a length check (features are not one-to-one).
        """
        _sklearn()
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if input_features is not None and len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names, but {type(self).__name__} "
                f"was fitted on {self.n_features_in_} features."
            )
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.n_features_out_)], dtype=object)

    # -- saving -----------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write a model folder (``config.json`` + ``model.safetensors``) that ``load`` reads.

        Returns:
            The folder's path.
        """
        _sklearn()
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        params["noise"] = (
            [n.to_config() for n in layer_noises(self.noise, len(self._hidden()))]
            if isinstance(self.noise, (list, tuple))
            else layer_noises(self.noise, 1)[0].to_config()
        )
        extra = {
            "class": type(self).__name__,
            "params": params,
            "fitted": {
                "n_features_in": int(self.n_features_in_),
                "code_shape": list(self.code_shape_),
                "scale_offset": self.scale_offset_.tolist(),
                "scale": self.scale_.tolist(),
            },
        }
        return self.dae_.save_pretrained(path, extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DAEFeatureExtractor:
        """Read a folder written by ``save``; ``ModelFileError`` says what is wrong with it."""
        from .. import noise as noise_lib

        config, tensors = read_model_folder(path)
        expect_class(path, config, (cls.__name__,))
        try:
            params = dict(config["params"])
            noise_cfg = params["noise"]
            params["noise"] = (
                [noise_lib.from_config(c) for c in noise_cfg]
                if isinstance(noise_cfg, list)
                else noise_lib.from_config(noise_cfg)
            )
            for key in ("hidden_sizes", "image_shape"):
                if isinstance(params.get(key), list):
                    params[key] = tuple(params[key])
            est = cls(**params)
            fitted = config["fitted"]
            est.n_features_in_ = int(fitted["n_features_in"])
            est.code_shape_ = tuple(int(s) for s in fitted["code_shape"])
            est.n_features_out_ = int(np.prod(est.code_shape_))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}/config.json does not describe a fitted {cls.__name__} ({e}).") from None
        n = est.n_features_in_
        est.scale_offset_ = config_numbers(path, "fitted.scale_offset", fitted.get("scale_offset"), length=n)
        est.scale_ = config_numbers(path, "fitted.scale", fitted.get("scale"), positive=True, length=n)
        est.dae_ = DenoisingAutoencoder.from_weights(config, tensors, source=str(path)).eval()
        est.history_ = []
        _check_code_shape(path, est)
        return est

    # -- pictures ---------------------------------------------------------------------

    def filters(self) -> np.ndarray:
        """First-layer filters, one per hidden unit, shaped as input images.

        Returns:
            ``(units, H, W)`` for one-channel data, else ``(units, C, H, W)``.
        """
        _sklearn()
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        # A ConvAutoencoder2d or a DenseAutoencoder: their first layers have different names.
        model: Any = self.dae_.model
        if self.model == "conv2d":
            weight = model.stem[0].weight.detach()
            return weight[:, 0].numpy() if weight.shape[1] == 1 else weight.numpy()
        weight = model.encoder_layers[0].weight.detach().numpy()
        c, h, w = self._image_chw(self.n_features_in_)
        return weight.reshape(-1, h, w) if c == 1 else weight.reshape(-1, c, h, w)


def _check_code_shape(path: str | os.PathLike, est: DAEFeatureExtractor) -> None:
    """One zero row through the loaded encoder: its model must take the fitted width and
    give the fitted code shape, or every transform would fail (or give other features)."""
    try:
        with torch.no_grad():
            code = est.dae_.model.encode(est._model_input(torch.zeros(1, est.n_features_in_)))
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        n = est.n_features_in_
        raise ModelFileError(
            f"the model in {path} does not take the {n} features config.json says ({first})."
        ) from None
    said, got = tuple(est.code_shape_), tuple(code.shape[1:])
    if got != said:
        raise ModelFileError(f"{path}/config.json says codes of shape {said}, but its model gives {got}.")


def __getattr__(name: str) -> Any:
    # DAEClassifier lives in features_classifier, which builds on DAEFeatureExtractor;
    # it is re-exported lazily (PEP 562) so the two modules do not import each other.
    if name == "DAEClassifier":
        from .features_classifier import DAEClassifier

        return DAEClassifier
    raise AttributeError(f"module 'daekit.apps.features' has no attribute '{name}'")
