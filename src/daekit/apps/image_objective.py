"""The training objective of an image denoiser: :class:`PatchObjective` cuts patches from
a tile bank and corrupts them on the training device, batch by batch, and
:func:`validation_pairs` makes the fixed clean/noisy pairs a run is validated on.

Both corrupt with white Gaussian noise of a σ drawn per patch by default, or with any
daekit noise process (``noise=``, e.g. a camera-noise model): then the σ a noise-map model
is told is the per-patch RMS of what the process added, ``noisy − clean``.

Held apart from ``apps/image.py`` (the denoiser and its tiling), which re-exports both
names; this module needs nothing from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import image as imdata
from ..models.image_unet import estimate_noise_std

__all__ = ["PatchObjective", "validation_pairs", "residual_rms"]

#: A corruption: ``noise(x, generator=None) -> x_noisy``, e.g. any ``daekit.noise.Noise``.
NoiseProcess = Callable[..., torch.Tensor]


def residual_rms(x_noisy: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The RMS of ``x_noisy − x`` per sample: the effective σ of whatever noise was added.

    Shape:
        x_noisy, x: ``(N, C, H, W)`` → ``(N,)``.

    Example:
        >>> x = torch.zeros(2, 1, 8, 8)
        >>> residual_rms(x + 0.1, x)
        tensor([0.1000, 0.1000])
    """
    return (x_noisy.float() - x.float()).pow(2).flatten(1).mean(dim=1).sqrt()


def _check_noise(noise: NoiseProcess | None) -> NoiseProcess | None:
    if noise is not None and not callable(noise):
        raise TypeError(
            f"noise={noise!r} is not a noise process: give a daekit.noise.Noise (e.g. dk.noise.Gaussian(0.1)) or None."
        )
    return noise


class PatchObjective(nn.Module):
    """Training loss for an image denoiser, with patches and noise made on the device.

    ``forward(index_batch)``: the batch only says how many patches to draw; they are cut
    from the ``tiles`` bank (a non-persistent buffer, so it follows ``.to(device)`` but
    is not saved), flipped/rotated 8 ways, corrupted, denoised, and compared with the
    clean patch (MSE). The corruption is white Gaussian noise of a σ drawn per patch from
    ``std`` unless ``noise`` gives another process (``std`` is then unused), which runs on
    the patches' device. Models with a noise-level map get the true σ for a share
    ``known_sigma`` of the patches (with ``noise``: the patch's RMS of ``noisy − clean``)
    and the blind estimate for the rest, so they work both with and without a hint.

    ``forward(x, x_noisy, sigma)`` scores recorded pairs instead (validation).

    Args:
        model: an image model (e.g. ``image_unet``) mapping ``(N, C, H, W)`` to the same.
        tiles: ``(N, C, T, T)`` uint8 bank from ``daekit.data.image.load_tiles``.
        patch_size: side of the training patches.
        std: ``(lo, hi)`` noise std range on [0, 1] (σ/255) of the default Gaussian noise.
        known_sigma: share of patches whose true σ is given to a noise-map model.
        noise: a daekit noise process applied to the clean patches on [0, 1] (e.g.
            ``dk.noise.Poisson(peak=(5, 60))``, or a camera-noise model); None: Gaussian
            with ``std``.

    Example:
        >>> import daekit as dk                                                       # doctest: +SKIP
        >>> obj = PatchObjective(net, tiles, noise=dk.noise.Speckle(std=(0, 0.3)))    # doctest: +SKIP
        >>> loss = obj(torch.arange(16))                                              # doctest: +SKIP
    """

    tiles: torch.Tensor  # a registered buffer

    def __init__(
        self,
        model: nn.Module,
        tiles: torch.Tensor,
        patch_size: int = 64,
        std: tuple[float, float] = (0.0, 55 / 255),
        known_sigma: float = 0.5,
        noise: NoiseProcess | None = None,
    ):
        super().__init__()
        self.model, self.patch_size, self.std, self.known_sigma = model, patch_size, tuple(std), known_sigma
        self.noise = _check_noise(noise)
        self.register_buffer("tiles", tiles, persistent=False)

    def _run(self, x_noisy: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
        if getattr(self.model, "noise_map", False):
            return self.model(x_noisy, sigma=sigma)
        return self.model(x_noisy)

    def corrupt(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_noisy, sigma)`` for clean patches ``x``: the training corruption and each
        patch's true σ (on [0, 1]), before any blind estimate replaces it."""
        if self.noise is None:
            lo, hi = self.std
            sigma = lo + (hi - lo) * torch.rand(x.shape[0], device=x.device)
            return x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x), sigma
        x_noisy = self.noise(x).to(x.dtype)
        return x_noisy, residual_rms(x_noisy, x)

    def forward(
        self, x: torch.Tensor, x_noisy: torch.Tensor | None = None, sigma: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.dim() == 1:  # a batch of indices: draw that many fresh patches here
            n = x.shape[0]
            x = imdata.random_patches(self.tiles, n, self.patch_size)
            x_noisy, sigma = self.corrupt(x)
            if getattr(self.model, "noise_map", False) and self.known_sigma < 1:
                blind = torch.rand(n, device=x.device) >= self.known_sigma
                sigma = torch.where(blind, estimate_noise_std(x_noisy), sigma)
        elif x_noisy is None:
            raise ValueError("PatchObjective needs an index batch, or clean and noisy images.")
        weight = next(self.model.parameters())
        if weight.dim() == 4 and weight.is_contiguous(memory_format=torch.channels_last):
            x_noisy = x_noisy.contiguous(memory_format=torch.channels_last)
        return F.mse_loss(self._run(x_noisy, sigma).float(), x.float())


def validation_pairs(
    tiles: torch.Tensor,
    n: int = 64,
    patch_size: int = 64,
    sigmas: Sequence[float] = (15, 25, 50),
    seed: int = 1234,
    noise: NoiseProcess | None = None,
) -> torch.utils.data.TensorDataset:
    """Fixed clean/noisy/σ triples for validation: the same every run.

    Args:
        tiles: the validation tile bank.
        n: pairs to make; ``patch_size``: their side.
        sigmas: Gaussian σ on 0–255, used in turn (ignored with ``noise``).
        seed: seeds the patches and the noise.
        noise: a daekit noise process to corrupt with instead, drawn from the same seeded
            CPU generator; each pair's σ is then its RMS of ``noisy − clean`` (on [0, 1]).

    Returns:
        A ``TensorDataset`` of ``(x, x_noisy, sigma)`` with σ on [0, 1].
    """
    _check_noise(noise)
    g = torch.Generator().manual_seed(seed)
    x = imdata.random_patches(tiles.cpu(), n, patch_size, g)
    if noise is not None:
        x_noisy = noise(x, generator=g).to(x.dtype)
        return torch.utils.data.TensorDataset(x, x_noisy, residual_rms(x_noisy, x))
    sigma = torch.tensor([sigmas[i % len(sigmas)] / 255 for i in range(n)], dtype=torch.float32)
    x_noisy = x + sigma.view(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
    return torch.utils.data.TensorDataset(x, x_noisy, sigma)
