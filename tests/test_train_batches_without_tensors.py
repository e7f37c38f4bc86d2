"""Validation on batches that hold no tensor (the model builds its own from plain lists).

Training already accepted such batches; validation took ``len()`` of the batch's first
tensor and failed with a TypeError on ``None``. A batch with no tensor now weighs as one.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from daekit.train import TrainConfig, Trainer


class ListRecon(nn.Module):
    """Takes rows as a list of lists of floats: no tensor reaches the trainer."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 4)

    def forward(self, rows: list[list[float]]) -> torch.Tensor:
        x = torch.tensor(rows)
        return F.mse_loss(self.net(x), x)


def batches(n: int, seed: int) -> list[tuple[list[list[float]]]]:
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 4, generator=gen).tolist(),) for _ in range(n)]


def test_validation_on_batches_without_tensors_is_the_mean_over_batches():
    model = ListRecon()
    val = batches(3, seed=1)
    cfg = TrainConfig(max_steps=4, batch_size=8, quiet=True, device="cpu", log_every=2, val_every=4)
    trainer = Trainer(model, cfg).fit(batches(4, seed=0), val)
    val_losses = [r["val_loss"] for r in trainer.history if r["val_loss"] is not None]
    assert len(val_losses) == 1 and math.isfinite(val_losses[0])
    with torch.no_grad():
        expected = sum(float(model(*b)) for b in val) / len(val)
    assert abs(val_losses[0] - expected) < 1e-6
