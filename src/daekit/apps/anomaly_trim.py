"""A trimmed training loss for detectors whose training rows hold anomalies.

Unsupervised training data contains the anomalies (ADBench's protocol, and every user's
table): an autoencoder that learns to reconstruct them stops seeing them. From half-way
through training, :class:`TrimmedObjective` averages the loss over the rows of each batch
at or below the batch's ``keep`` quantile of per-row error, so the rows the network finds
hardest (the likeliest anomalies) stop pulling it towards them once the normal structure
has been learnt. The trainer sees an ordinary module whose ``forward(batch)`` is a loss.
"""

from __future__ import annotations

import torch
from torch import nn

from ..dae import DenoisingAutoencoder

__all__ = ["TrimmedObjective"]


class TrimmedObjective(nn.Module):
    """The mean squared error of ``dae`` over the best-reconstructed ``keep`` share of rows.

    Args:
        dae: the member being trained (its noise corrupts each batch, as ``dae(x)`` does).
        keep: share of each batch's rows that count, in (0, 1].
        start: training calls that use every row before the trimming begins.

    Shape:
        x: ``(N, ...)`` clean batch; returns a scalar.
    """

    def __init__(self, dae: DenoisingAutoencoder, keep: float, start: int) -> None:
        super().__init__()
        self.dae, self.keep, self.start = dae, float(keep), int(start)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        model = self.dae.model
        x_hat = model.activate(model.forward_logits(self.dae.corrupt(x)))
        per_row = (x_hat - x).pow(2).flatten(1).mean(dim=1)
        if self.training:
            self.calls += 1
            if self.calls > self.start and self.keep < 1 and len(per_row) > 1:
                cut = torch.quantile(per_row.detach(), self.keep)
                per_row = per_row[per_row.detach() <= cut]
        return per_row.mean()
