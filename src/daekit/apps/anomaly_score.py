"""How a DAEDetector's fitted members turn inputs into the numbers its scores are made of.

``member_errors``: the squared reconstruction error of every input element (of the clean
input, or averaged over fixed noisy draws). ``fit_latent`` / ``latent_terms``: the latent
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

__all__ = [
    "codes",
    "fit_latent",
    "fit_threshold",
    "latent_terms",
    "combine_members",
    "member_errors",
    "one_thread",
    "robust_gaussian",
    "threads",
]


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
    members: Sequence[DenoisingAutoencoder],
    inputs: Sequence[np.ndarray],
    device: torch.device,
    keep: float = 1.0,
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Per member: the mean and (shrunk) precision of its training codes, fitted on the
    ``keep`` share of them nearest the centre (see ``robust_gaussian``), and the median
    squared distance of all its training codes from them, the unit of its latent score."""
    means, precisions, scales = [], [], []
    for dae, x in zip(members, inputs):
        z = codes(dae, x, device)
        mu, prec = robust_gaussian(z, keep)
        means.append(mu)
        precisions.append(prec)
        scales.append(float(np.median(_squared_distance(z, mu, prec))) or 1.0)
    return means, precisions, scales


# The training rows hold the anomalies, and their codes stretch a plain covariance towards
# them, so they come out closer than they are. With keep < 1 the fit is refitted on the
# codes nearest the centre, as in the concentration steps of the Minimum Covariance
# Determinant estimator (DAEDetector's latent_keep; the README gives the measured choice).
ROBUST_ROUNDS = 2


def robust_gaussian(z: np.ndarray, keep: float = 1.0, rounds: int = ROBUST_ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and shrunk precision of codes ``(N, D)``, refitted ``rounds`` times on the
    ``keep`` share of them nearest the previous fit."""
    kept, fits = z, rounds + 1 if keep < 1 else 1
    for step in range(fits):
        mu = kept.mean(axis=0)
        cov = np.atleast_2d(np.cov(kept, rowvar=False)) if len(kept) > 1 else np.zeros((z.shape[1], z.shape[1]))
        cov = cov + (1e-3 * np.trace(cov) / len(cov) + 1e-9) * np.eye(len(cov))  # shrink: codes may be collinear
        prec = np.linalg.inv(cov)
        if step < fits - 1:
            d = _squared_distance(z, mu, prec)
            kept = z[d <= np.quantile(d, keep)]
    return mu, prec


def _squared_distance(z: np.ndarray, mu: np.ndarray, prec: np.ndarray) -> np.ndarray:
    c = z - mu
    return np.einsum("ij,jk,ik->i", c, prec, c)


def latent_terms(
    members: Sequence[DenoisingAutoencoder],
    inputs: Sequence[np.ndarray],
    device: torch.device,
    means: Sequence[np.ndarray],
    precisions: Sequence[np.ndarray],
    scales: Sequence[float],
) -> list[np.ndarray]:
    """Each member's squared Mahalanobis distance of each input's code, in its unit."""
    return [
        _squared_distance(codes(dae, x, device), means[k], precisions[k]) / scales[k]
        for k, (dae, x) in enumerate(zip(members, inputs))
    ]


def combine_members(scores: Sequence[np.ndarray], how: str) -> np.ndarray:
    """One score per row from the members' ``(N,)`` scores (all >= 0): their geometric or
    arithmetic mean (``how``: one of ``anomaly_prep.COMBINE``)."""
    stacked = np.stack(scores)
    if how == "mean":
        return stacked.mean(axis=0)
    # A row every member rebuilds perfectly scores 0; the floor keeps its log finite.
    return np.exp(np.log(np.maximum(stacked, 1e-300)).mean(axis=0))


def fit_threshold(scores: np.ndarray, rule: str | float, contamination: float, k: float) -> float:
    """The threshold of ``rule``: ``"contamination"``, ``"mad"`` or a number (see DAEDetector)."""
    if rule == "contamination":
        return float(np.quantile(scores, 1.0 - contamination))
    if rule == "mad":
        med = np.median(scores)
        return float(med + k * 1.4826 * np.median(np.abs(scores - med)))
    return float(rule)
