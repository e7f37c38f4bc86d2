"""The training objective of an image denoiser: :class:`PatchObjective` cuts patches from
a tile bank and corrupts them on the training device, batch by batch, and
:func:`validation_pairs` makes the fixed clean/noisy pairs a run is validated on.

Held apart from ``apps/image.py`` (the denoiser and its tiling), which re-exports both
names; this module needs nothing from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import image as imdata
from ..models.image_unet import estimate_noise_std

__all__ = ["PatchObjective", "validation_pairs"]


class PatchObjective(nn.Module):
    """Training loss for an image denoiser, with patches and noise made on the device.

    ``forward(index_batch)``: the batch only says how many patches to draw; they are cut
    from the ``tiles`` bank (a non-persistent buffer, so it follows ``.to(device)`` but
    is not saved), flipped/rotated 8 ways, corrupted with white Gaussian noise of a σ
    drawn per patch from ``std``, denoised, and compared with the clean patch (MSE).
    Models with a noise-level map get the true σ for a share ``known_sigma`` of the
    patches and the blind estimate for the rest, so they work both with and without a hint.

    ``forward(x, x_noisy, sigma)`` scores recorded pairs instead (validation).

    Args:
        model: an image model (e.g. ``image_unet``) mapping ``(N, C, H, W)`` to the same.
        tiles: ``(N, C, T, T)`` uint8 bank from ``daekit.data.image.load_tiles``.
        patch_size: side of the training patches.
        std: ``(lo, hi)`` noise std range on [0, 1] (σ/255).
        known_sigma: share of patches whose true σ is given to a noise-map model.
    """

    tiles: torch.Tensor  # a registered buffer

    def __init__(
        self,
        model: nn.Module,
        tiles: torch.Tensor,
        patch_size: int = 64,
        std: tuple[float, float] = (0.0, 55 / 255),
        known_sigma: float = 0.5,
    ):
        super().__init__()
        self.model, self.patch_size, self.std, self.known_sigma = model, patch_size, tuple(std), known_sigma
        self.register_buffer("tiles", tiles, persistent=False)

    def _run(self, x_noisy: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
        if getattr(self.model, "noise_map", False):
            return self.model(x_noisy, sigma=sigma)
        return self.model(x_noisy)

    def forward(
        self, x: torch.Tensor, x_noisy: torch.Tensor | None = None, sigma: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.dim() == 1:  # a batch of indices: draw that many fresh patches here
            n = x.shape[0]
            x = imdata.random_patches(self.tiles, n, self.patch_size)
            lo, hi = self.std
            sigma = lo + (hi - lo) * torch.rand(n, device=x.device)
            x_noisy = x + sigma.view(-1, 1, 1, 1) * torch.randn_like(x)
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
    tiles: torch.Tensor, n: int = 64, patch_size: int = 64, sigmas: Sequence[float] = (15, 25, 50), seed: int = 1234
) -> torch.utils.data.TensorDataset:
    """Fixed clean/noisy/σ triples (σ on 0–255) for validation: the same every run."""
    g = torch.Generator().manual_seed(seed)
    x = imdata.random_patches(tiles.cpu(), n, patch_size, g)
    sigma = torch.tensor([sigmas[i % len(sigmas)] / 255 for i in range(n)], dtype=torch.float32)
    x_noisy = x + sigma.view(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
    return torch.utils.data.TensorDataset(x, x_noisy, sigma)
