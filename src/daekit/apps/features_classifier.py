"""``DAEClassifier``: a stacked denoising autoencoder fine-tuned with labels under a softmax.

Pretraining (greedy, layer by layer, as ``DAEFeatureExtractor`` does) then supervised
fine-tuning of the whole stack; ``pretrain=False`` trains the same network from random
initialisation, the baseline of the pretraining effect.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .. import checks
from ..models import create_model
from ..models.mlp import DenseAutoencoder
from ..train import Trainer
from .features import DAEFeatureExtractor
from .features_contract import _batched, _Estimator, _output_dtype, _private_rng, _sklearn
from .features_stacked import FineTuneNet, NoiseSpec, pretrain_stack

__all__ = ["DAEClassifier"]

# --------------------------------------------------------------------------- classifier


class DAEClassifier(_Estimator):
    """A stacked denoising autoencoder fine-tuned as a classifier (Vincent et al. 2010).

    ``fit(X, y)`` pretrains the encoder greedily without labels (each layer a DAE on the
    clean codes of the layer below), puts a softmax layer on the top code and fine-tunes
    the whole network with cross-entropy. ``pretrain=False`` skips the pretraining: the
    same network and fine-tuning from random initialisation.

    Args:
        hidden_sizes: layer widths, bottom to top.
        activation, tied, noise, scaling, loss: as in ``DAEFeatureExtractor``.
        pretrain: greedy layer-wise pretraining before fine-tuning.
        pretrain_epochs: pretraining passes per layer.
        epochs: fine-tuning passes.
        finetune_lr: learning rate of fine-tuning (None: ``lr``).
        dropout: dropout on the top code during fine-tuning.
        batch_size, lr, weight_decay, max_steps, random_state, device, num_threads,
        verbose: as in ``DAEFeatureExtractor`` (``max_steps`` caps each phase).

    Attributes:
        classes_: the class labels. net_: the ``FineTuneNet``. n_features_in_.

    Shape:
        X: ``(N, F)``, y: ``(N,)`` → ``predict``: ``(N,)``; ``predict_proba``: ``(N, n_classes)``.

    Example:
        >>> clf = DAEClassifier(hidden_sizes=(500, 500)).fit(X_train, y_train)   # doctest: +SKIP
        >>> clf.score(X_test, y_test)                                             # doctest: +SKIP
    """

    _estimator_type = "classifier"

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (1000, 1000),
        activation: str = "sigmoid",
        tied: bool = True,
        noise: NoiseSpec = "masking:0.25",
        pretrain: bool = True,
        loss: str = "auto",
        scaling: str = "minmax",
        pretrain_epochs: int = 30,
        epochs: int = 30,
        max_steps: int | None = None,
        batch_size: int = 64,
        lr: float = 1e-3,
        finetune_lr: float | None = None,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        random_state: int | None = None,
        device: str = "cpu",
        num_threads: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.tied = tied
        self.noise = noise
        self.pretrain = pretrain
        self.loss = loss
        self.scaling = scaling
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.finetune_lr = finetune_lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = self._base_tags()
        from sklearn.utils import ClassifierTags

        tags.target_tags.required = True
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=False)
        return tags

    def fit(self, X: ArrayLike, y: ArrayLike, pretrained: DAEFeatureExtractor | None = None) -> DAEClassifier:
        """Pretrain (unless ``pretrain=False``), then fine-tune on the labels.

        Args:
            X: array-like ``(N, F)``.
            y: class labels ``(N,)`` (any hashable labels).
            pretrained: a fitted dense ``DAEFeatureExtractor`` (e.g. pretrained on more,
                unlabelled data) whose network starts the fine-tuning instead of
                pretraining here; its scaling is used too. A copy is fine-tuned.

        Returns:
            self.
        """
        _sklearn()
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import validate_data

        self._check_params()
        checks.POSITIVE_INT.check("pretrain_epochs", self.pretrain_epochs)
        checks.FRACTION.check("dropout", self.dropout)
        try:
            data, labels = validate_data(self, X, y, reset=True, dtype=(np.float64, np.float32), ensure_all_finite=True)
        except ValueError as e:
            if "NaN" in str(e) or "infinity" in str(e):
                raise ValueError(
                    f"X contains NaN or infinity; {type(self).__name__} needs finite numbers "
                    f"(impute or drop those values first). ({e})"
                ) from None
            raise
        check_classification_targets(labels)
        self.classes_, y_index = np.unique(labels, return_inverse=True)
        loss = self._loss_name()
        if pretrained is not None:
            self._check_pretrained(pretrained, data.shape[1])
            self.scale_offset_, self.scale_ = pretrained.scale_offset_, pretrained.scale_
        else:
            self._fit_scaling(data)
        x = self._to_tensor(data)
        targets = torch.as_tensor(y_index.reshape(-1), dtype=torch.long)
        seed = self._seed()
        out_act = "sigmoid" if loss == "bce" else "identity"
        self.history_: list[list[dict[str, float]]] = []
        with _private_rng(self.num_threads):
            base = self._train_config(seed)
            if pretrained is not None:
                net = copy.deepcopy(pretrained.dae_.model)
            elif self.pretrain:
                net = pretrain_stack(
                    x,
                    self._hidden(),
                    activation=self.activation,
                    tied=bool(self.tied),
                    noise=self.noise,
                    input_loss=loss,
                    config=base.replace(epochs=int(self.pretrain_epochs)),
                    histories=self.history_,
                )
            else:
                torch.manual_seed(seed)
                net = create_model(
                    "mlp",
                    in_features=data.shape[1],
                    hidden_sizes=self._hidden(),
                    activation=self.activation,
                    latent_activation=self.activation,
                    output_activation=out_act,
                    tied=bool(self.tied),
                )
            # The softmax layer's initial weights come from their own seed, so pretrained
            # and random-init runs start their heads identically.
            torch.manual_seed(seed + 10_000)
            assert isinstance(net, DenseAutoencoder)  # _check_pretrained allows only 'mlp' extractors
            model = FineTuneNet(net, n_classes=len(self.classes_), dropout=float(self.dropout))
            finetune = base.replace(lr=float(self.finetune_lr or self.lr), seed=seed + 10_000)
            self.history_.append(Trainer(model, finetune).fit(torch.utils.data.TensorDataset(x, targets)).history)
        self.net_ = model.cpu().eval()
        return self

    def _check_pretrained(self, pretrained: object, n_features: int) -> None:
        if not isinstance(pretrained, DAEFeatureExtractor) or not hasattr(pretrained, "dae_"):
            raise ValueError("pretrained must be a fitted DAEFeatureExtractor.")
        if pretrained.model != "mlp" or pretrained.n_features_in_ != n_features:
            raise ValueError(
                f"pretrained must be a dense ('mlp') extractor fitted on {n_features} features, "
                f"not a {pretrained.model!r} one on {pretrained.n_features_in_}."
            )

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        X = self._validate(X, reset=False)
        with _private_rng(self.num_threads):
            logits = _batched(self.net_.logits, self._to_tensor(X))
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted model
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Mean accuracy on ``(X, y)``."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))

    def encode(self, X: ArrayLike) -> np.ndarray:
        """The fine-tuned top code of X (features for another model). Not called
        ``transform`` so that scikit-learn does not take the classifier for a transformer."""
        X = self._validate(X, reset=False)
        with _private_rng(self.num_threads):
            z = _batched(self.net_.autoencoder.encode, self._to_tensor(X))
        return z.numpy().astype(_output_dtype(X))
