"""How a DAEDetector's fitted members turn inputs into the numbers its scores are made of.

``member_errors``: the squared reconstruction error of every input element (of the clean
input, or averaged over fixed noisy draws). ``fit_latent`` / ``latent_score``: the latent
term, the Mahalanobis distance of each member's code from its training codes.
``fit_threshold``: the threshold rules. ``threads``: the one-thread scope the small
networks run in on the CPU.

Kept apart from :mod:`daekit.apps.anomaly` (which re-exports ``_one_thread``) so that the
detector's file holds the estimator's contract, fitting and model folders; the functions
here take the fitted pieces as arguments and keep no state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..dae import DenoisingAutoencoder

__all__ = ["codes", "fit_latent", "fit_threshold", "latent_score", "member_errors", "one_thread", "threads"]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def threads(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """One intra-op thread on the CPU for the duration of a call: these networks are
    too small to gain from more, and on a busy 2-core machine two threads made a fit
    six times slower (3.8 s vs 22.8 s, tests/test_anomaly.py's series case)."""
    if device.type != "cpu" or torch.get_num_threads() == 1:
        return contextlib.nullcontext()
    return one_thread()


@torch.no_grad()
def member_errors(dae: DenoisingAutoencoder, samples: np.ndarray, device: torch.device, draws: int) -> np.ndarray:
    """Squared error of each input element, shaped like ``samples`` (float64); with
    ``draws`` > 0 the mean over that many noisy copies."""
    with threads(device):
        x = torch.as_tensor(samples, dtype=torch.float64)
        out = np.empty(samples.shape, dtype=np.float64)
        gen = torch.Generator()
        for i in range(0, len(x), 4096):
            xb = x[i : i + 4096].to(device)
            if draws:
                # Fixed draws: the same input always gets the same score.
                gen.manual_seed(12345)
                total = torch.zeros_like(xb)
                for _ in range(draws):
                    total = total + (dae.denoise(dae.corrupt(xb, gen)) - xb) ** 2
                err = total / draws
            else:
                err = (dae.denoise(xb) - xb) ** 2
            out[i : i + 4096] = err.double().cpu().numpy()
        return out


# Points far out along directions the data does vary in are rebuilt well by an
# autoencoder (it extrapolates), so their reconstruction error is small; their code is
# what is unusual. The latent term is the Mahalanobis distance of each member's code
# from its training codes, in units of its median, as in PCA's split of a Gaussian
# log-likelihood into a residual part and a principal-subspace part.


@torch.no_grad()
def codes(dae: DenoisingAutoencoder, x: np.ndarray, device: torch.device) -> np.ndarray:
    """The member's code of each input, float64 on the CPU."""
    with threads(device):
        return dae.encode(torch.as_tensor(x, dtype=torch.float64).to(device)).cpu().numpy()


def fit_latent(
    members: Sequence[DenoisingAutoencoder], inputs: Sequence[np.ndarray], device: torch.device
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Per member: the mean and (shrunk) precision of its training codes, and the median
    squared distance of those codes, the unit of its latent score."""
    means, precisions, scales = [], [], []
    for dae, x in zip(members, inputs):
        z = codes(dae, x, device)
        mu = z.mean(axis=0)
        cov = np.atleast_2d(np.cov(z, rowvar=False))
        cov = cov + (1e-3 * np.trace(cov) / len(cov) + 1e-9) * np.eye(len(cov))  # shrink: codes may be collinear
        prec = np.linalg.inv(cov)
        d = np.einsum("ij,jk,ik->i", z - mu, prec, z - mu)
        means.append(mu)
        precisions.append(prec)
        scales.append(float(np.median(d)) or 1.0)
    return means, precisions, scales


def latent_score(
    members: Sequence[DenoisingAutoencoder],
    inputs: Sequence[np.ndarray],
    device: torch.device,
    means: Sequence[np.ndarray],
    precisions: Sequence[np.ndarray],
    scales: Sequence[float],
) -> np.ndarray:
    """Members' mean squared Mahalanobis distance of each input's code, in their units."""
    total = np.zeros(len(inputs[0])) if inputs else np.zeros(0)
    for k, (dae, x) in enumerate(zip(members, inputs)):
        c = codes(dae, x, device) - means[k]
        total = total + np.einsum("ij,jk,ik->i", c, precisions[k], c) / scales[k]
    return total / len(members)


def fit_threshold(scores: np.ndarray, rule: str | float, contamination: float, k: float) -> float:
    """The threshold of ``rule``: ``"contamination"``, ``"mad"`` or a number (see DAEDetector)."""
    if rule == "contamination":
        return float(np.quantile(scores, 1.0 - contamination))
    if rule == "mad":
        med = np.median(scores)
        return float(med + k * 1.4826 * np.median(np.abs(scores - med)))
    return float(rule)
