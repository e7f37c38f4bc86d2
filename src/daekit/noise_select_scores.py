"""How ``daekit.noise_select`` scores a trained DAE on held-out data: one criterion per task.

Higher is better for every criterion: PSNR of the reconstruction of clean data
(``denoise``), the accuracy of a closed-form linear probe on the codes (``features``),
and for ``anomaly`` the tail contrast of the reconstruction errors (no labels) or the
ROC-AUC (labels). The module docstring of :mod:`daekit.noise_select` says why these.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .dae import DenoisingAutoencoder
from .metrics import roc_auc

__all__ = ["tail_contrast"]

_CRITERIA = {
    "denoise": "PSNR of clean held-out data (dB)",
    "features": "linear-probe (ridge) accuracy",
    "anomaly": "tail contrast of held-out errors",
    "anomaly_labels": "ROC-AUC on labelled held-out data",
}


def tail_contrast(errors: np.ndarray, top: float = 0.05) -> float:
    """``(mean of the top ``top`` share − median) / IQR`` of anomaly scores; 0 if all equal.

    Example:
        >>> round(tail_contrast(np.r_[np.linspace(0, 1, 95), np.full(5, 10.0)]), 2)
        17.99
    """
    e = np.sort(np.asarray(errors, np.float64))
    k = max(1, int(round(top * len(e))))
    med = np.median(e)
    q1, q3 = np.percentile(e, [25, 75])
    spread = q3 - q1
    if spread <= 0:  # more than half the errors tie: fall back on the mean deviation
        spread = np.mean(np.abs(e - med))
    return float((e[-k:].mean() - med) / spread) if spread > 0 else 0.0


@torch.no_grad()
def _errors(dae: DenoisingAutoencoder, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i : i + batch])
        err = (dae.denoise(xb) - xb) ** 2
        out.append(err.reshape(len(xb), -1).mean(dim=1).numpy())
    return np.concatenate(out)


@torch.no_grad()
def _codes(dae: DenoisingAutoencoder, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    return np.concatenate(
        [
            dae.encode(torch.from_numpy(x[i : i + batch])).reshape(min(batch, len(x) - i), -1).numpy()
            for i in range(0, len(x), batch)
        ]
    )


def _probe_accuracy(
    z_train: np.ndarray, y_train: np.ndarray, z_val: np.ndarray, y_val: np.ndarray, ridge: float = 1.0
) -> float:
    """Accuracy of a linear probe: ridge regression onto one-hot labels, argmax to predict.

    A closed-form probe (one small solve) instead of logistic regression: selection runs
    one probe per trial, and an iterative solver costs more than the short training
    itself on a small CPU. Features are standardised on the training part first.
    """
    z_train, z_val = np.asarray(z_train, np.float64), np.asarray(z_val, np.float64)
    mu, sd = z_train.mean(0), z_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)  # dead units carry nothing; do not divide by zero
    a = np.c_[(z_train - mu) / sd, np.ones(len(z_train))]
    b = np.c_[(z_val - mu) / sd, np.ones(len(z_val))]
    classes, idx = np.unique(y_train, return_inverse=True)
    onehot = np.eye(len(classes))[idx]
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ onehot)
    return float(np.mean(classes[np.argmax(b @ w, axis=1)] == np.asarray(y_val)))


class _Scorer:
    """Scores a trained DAE on the held-out data for one task (higher is better)."""

    def __init__(
        self,
        task: str,
        train: np.ndarray,
        val: np.ndarray,
        y_train: np.ndarray | None,
        y_val: np.ndarray | None,
        val_noisy: np.ndarray | None,
    ) -> None:
        self.task, self.train, self.val = task, train, val
        self.y_train, self.y_val, self.val_noisy = y_train, y_val, val_noisy

    @property
    def criterion(self) -> str:
        return _CRITERIA["anomaly_labels" if self.task == "anomaly" and self.y_val is not None else self.task]

    def __call__(self, dae: DenoisingAutoencoder) -> float:
        if self.task == "denoise":
            # select() refuses task="denoise" without val_noisy or target, which makes it.
            assert self.val_noisy is not None
            with torch.no_grad():
                x_hat = dae.denoise(torch.from_numpy(self.val_noisy)).clamp(0, 1)
                mse = float(((x_hat - torch.from_numpy(self.val)) ** 2).mean())
            return 10 * math.log10(1.0 / max(mse, 1e-12))
        if self.task == "features":
            # select() refuses task="features" without both label sets, before any training.
            assert self.y_train is not None and self.y_val is not None
            return _probe_accuracy(_codes(dae, self.train), self.y_train, _codes(dae, self.val), self.y_val)
        normal = _errors(dae, self.val)
        if self.y_val is not None:
            return roc_auc(normal, self.y_val)
        return tail_contrast(normal)
