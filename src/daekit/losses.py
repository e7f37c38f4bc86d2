"""Reconstruction losses and regularisers, as pure functions of tensors.

Losses compare the network's output with the *clean* input. The binary cross-entropy
works from logits (``binary_cross_entropy_with_logits``), which stays finite where
``log(sigmoid(.))`` would underflow.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["mse", "l1", "bce_with_logits", "get_loss", "LOSSES", "sparsity_l1", "sparsity_kl", "contractive_penalty"]


def mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all entries."""
    return F.mse_loss(x_hat.float(), x.float())


def l1(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean absolute error: more robust to outliers, favours sharper images."""
    return F.l1_loss(x_hat.float(), x.float())


def bce_with_logits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between ``sigmoid(logits)`` and targets ``x`` on [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits.float(), x.float())


LOSSES: dict[str, Callable] = {"mse": mse, "l1": l1, "bce": bce_with_logits}


def get_loss(name: str) -> Callable:
    if name not in LOSSES:
        raise ValueError(f"unknown loss '{name}': use one of {', '.join(LOSSES)}.")
    return LOSSES[name]


def sparsity_l1(z: torch.Tensor) -> torch.Tensor:
    """Mean absolute activation of the code: pushes most units to zero."""
    return z.float().abs().mean()


def sparsity_kl(z: torch.Tensor, target: float = 0.05) -> torch.Tensor:
    """KL divergence between a target activation rate and each unit's mean activation.

    The code is squashed to (0, 1) with a sigmoid first when it is not already there, so
    the penalty is defined for any latent activation. Summed over units, as in Ng's
    sparse autoencoder notes.
    """
    if not 0 < target < 1:
        raise ValueError(f"sparsity target={target!r} must lie in (0, 1).")
    zf = z.float().flatten(1)
    rho_hat = zf if (zf.min() >= 0 and zf.max() <= 1) else torch.sigmoid(zf)
    rho_hat = rho_hat.mean(0).clamp(1e-6, 1 - 1e-6)
    rho = torch.tensor(target, device=z.device)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def contractive_penalty(
    encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, n_projections: int = 1
) -> torch.Tensor:
    """Squared Frobenius norm of the encoder's Jacobian, ``||dz/dx||_F^2`` (Rifai et al. 2011).

    Computed without forming the Jacobian: for a random Gaussian ``v`` in code space,
    ``E ||J^T v||^2 = ||J||_F^2``, and ``J^T v`` is one backward pass. The estimate is
    unbiased for any encoder depth; ``n_projections`` averages several ``v``. Mean over
    the batch. The graph is kept so the penalty can be minimised.

    Shape:
        x: ``(N, F)`` (or any shape the encoder takes); returns a scalar.
    """
    x = x.detach().requires_grad_(True)
    z = encode(x)
    total = x.new_zeros(())
    for _ in range(n_projections):
        v = torch.randn_like(z)
        (g,) = torch.autograd.grad(z, x, grad_outputs=v, create_graph=True)
        total = total + g.float().pow(2).flatten(1).sum(1).mean()
    return total / n_projections
