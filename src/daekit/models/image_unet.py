"""A residual U-Net image denoiser built for quality per FLOP: ``image_unet``.

Why this shape (DnCNN, FFDNet and DRUNet ideas, scaled down for CPUs):

* **Pixel-unshuffle first** (FFDNet): a 2×2 space-to-depth step means every convolution
  works on a quarter of the pixels, at no loss of information.
* **A small U-Net** (DRUNet): strided 2×2 convolutions down, transposed 2×2 convolutions
  up, skips added (not concatenated, which would double the cost), residual blocks
  without normalisation. Each level halves the size and doubles the width, so every
  level costs about the same per input pixel while the receptive field grows fast.
* **Residual output** (DnCNN): the network predicts the noise; ``x_hat = x - f(x)``.
* **Optional noise-level map** (FFDNet): one extra input channel holding σ. Given when
  the level is known, estimated from the image otherwise (median absolute deviation of
  the finest diagonal Haar coefficients, Donoho's rule), so the model is also blind.
* **Optional opponent colour space** (CBM3D's idea): a colour image is turned into one
  luminance and two chrominance planes by an orthonormal transform, which keeps white
  noise white with the same σ, and one single-channel network denoises all three planes.
  Luminance is the mean of R, G and B, so its noise is σ/√3; chrominance is smooth and
  easy. A gray model's weights fit such a net unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import OUTPUT_ACTIVATIONS, Autoencoder, check_choice, crop_to, make_activation, pad_to_multiple

__all__ = ["ImageUNet", "estimate_noise_std", "OPPONENT"]

#: Orthonormal RGB → (luminance, red–blue, green–magenta) transform; its transpose inverts it.
OPPONENT = torch.tensor([[1 / 3**0.5] * 3, [1 / 2**0.5, 0.0, -1 / 2**0.5], [1 / 6**0.5, -2 / 6**0.5, 1 / 6**0.5]])
#: Each opponent plane is scaled and shifted into the [0, 1]-centred range a gray network
#: knows: luminance becomes the mean of R, G, B (noise σ/√3); chrominance is centred on 0.5.
_PLANE_SCALE = (1 / 3**0.5, 1.0, 1.0)
_PLANE_OFFSET = (0.0, 0.5, 0.5)


def estimate_noise_std(x: torch.Tensor) -> torch.Tensor:
    """Blind estimate of white Gaussian noise std per image, on the data's own scale.

    Donoho's robust rule on the finest diagonal Haar sub-band: ``median(|HH|) / 0.6745``.
    Image content barely reaches that band, so it sees mostly noise; textured images
    are over-estimated a little.

    Shape:
        x: ``(N, C, H, W)`` with ``H, W >= 2`` → ``(N,)``.

    Example:
        >>> x = torch.rand(1, 1, 64, 64) * 0 + 0.5
        >>> round(float(estimate_noise_std(x + 0.1 * torch.randn_like(x))), 1)
        0.1
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    if h == 0 or w == 0:
        return torch.zeros(x.shape[0], device=x.device)
    x = x[..., :h, :w].float()
    hh = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
    return hh.abs().flatten(1).median(dim=1).values / 0.6745


class _ResBlock(nn.Module):
    """conv–act–conv plus identity (no normalisation: DRUNet found it unnecessary)."""

    def __init__(self, channels: int, activation: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            make_activation(activation),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _noise_map(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return sigma.to(like.dtype).reshape(-1, 1, 1, 1).expand(like.shape[0], 1, like.shape[2], like.shape[3])


class ImageUNet(Autoencoder):
    """Residual U-Net denoiser on pixel-unshuffled input, with an optional noise-level map.

    Args:
        in_channels: 1 gray, 3 RGB.
        channels: widths per level, e.g. ``(32, 64, 128)``; ``len(channels) - 1`` halvings
            after the unshuffle.
        blocks: residual blocks per level (one number for all, or one per level; the last
            entry is the bottleneck).
        unshuffle: pixel-unshuffle factor (1 = none, 2 = FFDNet's choice).
        noise_map: feed σ as an extra input channel (``forward(x, sigma=...)``; estimated
            from ``x`` when not given).
        residual: predict the noise and return ``x - f(x)``.
        activation: any name of ``daekit.models.layers.ACTIVATIONS``.
        output_activation: ``"identity"`` (needed with ``residual``) or ``"sigmoid"``.
        colour_space: ``"rgb"`` (channels go into the network together) or ``"opponent"``
            (3 channels only: a single-channel network denoises the luminance and the two
            chrominance planes one by one; its weights are those of a gray model).

    Shape:
        x: ``(N, C, H, W)``, any H and W (padded and cropped back) → ``(N, C, H, W)``;
        sigma: ``(N,)`` or a number, on the data's scale (σ/255 for 8-bit images on [0, 1]);
        z = ``encode(x)``: ``(N, channels[-1], ceil(H / m), ceil(W / m))`` with
        ``m = unshuffle * 2 ** (len(channels) - 1)``.

    Example:
        >>> model = ImageUNet(in_channels=1, channels=(16, 32), blocks=1)
        >>> x = torch.rand(2, 1, 37, 50)
        >>> model(x, sigma=torch.tensor([0.1, 0.2])).shape
        torch.Size([2, 1, 37, 50])
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        blocks: int | Sequence[int] = (1, 1, 2),
        unshuffle: int = 2,
        noise_map: bool = True,
        residual: bool = True,
        activation: str = "relu",
        output_activation: str = "identity",
        colour_space: str = "rgb",
    ):
        super().__init__()
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        check_choice("colour_space", colour_space, ("rgb", "opponent"))
        if colour_space == "opponent" and (in_channels != 3 or output_activation != "identity"):
            raise ValueError("colour_space='opponent' needs in_channels=3 and output_activation='identity'.")
        if residual and output_activation != "identity":
            raise ValueError("residual=True predicts the noise and subtracts it: use output_activation='identity'.")
        if in_channels <= 0 or not channels or any(int(c) <= 0 for c in channels) or unshuffle < 1:
            raise ValueError(
                f"in_channels={in_channels!r}, channels={channels!r} and unshuffle={unshuffle!r} "
                "must be positive integers."
            )
        per_level = [blocks] * len(channels) if isinstance(blocks, int) else list(blocks)
        if len(per_level) != len(channels) or any(b < 0 for b in per_level):
            raise ValueError(f"blocks={blocks!r} must be one number or one per level ({len(channels)}).")
        make_activation(activation)
        self.in_channels, self.channels, self.blocks = in_channels, tuple(int(c) for c in channels), blocks
        self.unshuffle, self.noise_map, self.residual = unshuffle, noise_map, residual
        self.activation, self.output_activation, self.colour_space = activation, output_activation, colour_space

        ch, u2 = self.channels, unshuffle * unshuffle
        planes = 1 if colour_space == "opponent" else in_channels  # channels the network itself sees
        self.head = nn.Conv2d(planes * u2 + int(noise_map), ch[0], 3, padding=1)
        self.enc = nn.ModuleList(
            nn.Sequential(*[_ResBlock(c, activation) for _ in range(b)]) for c, b in zip(ch[:-1], per_level[:-1])
        )
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in zip(ch[:-1], ch[1:]))
        self.body = nn.Sequential(*[_ResBlock(ch[-1], activation) for _ in range(per_level[-1])])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(ch[:-1], ch[1:]))
        self.dec = nn.ModuleList(
            nn.Sequential(*[_ResBlock(c, activation) for _ in range(b)]) for c, b in zip(ch[:-1], per_level[:-1])
        )
        self.tail = nn.Conv2d(ch[0], planes * u2, 3, padding=1)

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        """A small instance and input for the shared model contract test."""
        return {"in_channels": 3, "channels": (8, 16), "blocks": 1}, (2, 3, 19, 22)

    @property
    def size_multiple(self) -> int:
        return self.unshuffle * 2 ** (len(self.channels) - 1)

    def flops_per_pixel(self) -> int:
        """Multiply–adds per input pixel of one forward pass (convolutions only)."""
        counts: list[int] = []

        def hook(mod: nn.Conv2d | nn.ConvTranspose2d, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            k = mod.kernel_size[0] * mod.kernel_size[1]
            c_in = mod.in_channels // mod.groups
            pixels = (
                (inp[0].shape[-2] * inp[0].shape[-1])
                if isinstance(mod, nn.ConvTranspose2d)
                else (out.shape[-2] * out.shape[-1])
            )
            pixels *= inp[0].shape[0]  # the opponent space runs three planes as a batch
            counts.append(k * c_in * mod.out_channels * pixels)

        size = self.size_multiple * 8
        handles = [
            m.register_forward_hook(hook) for m in self.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        ]
        try:
            with torch.no_grad():
                self.forward(torch.zeros(1, self.in_channels, size, size), sigma=0.0)
        finally:
            for h in handles:
                h.remove()
        return int(round(sum(counts) / (size * size)))

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ImageUNet expects input of shape (N, C, H, W) with C={self.in_channels}, got {tuple(x.shape)}."
            )

    def _sigma(self, x: torch.Tensor, sigma: torch.Tensor | float | None) -> torch.Tensor:
        if sigma is None:
            return estimate_noise_std(x)
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1)
        return sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma

    def _features(self, x: torch.Tensor, sigma: torch.Tensor | float | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = F.pixel_unshuffle(x, self.unshuffle) if self.unshuffle > 1 else x
        if self.noise_map:
            h = torch.cat([h, _noise_map(self._sigma(x, sigma), h)], dim=1)
        h = self.head(h)
        skips = []
        for enc, down in zip(self.enc, self.downs):
            h = enc(h)
            skips.append(h)
            h = down(h)
        return self.body(h), skips

    def _to_planes(
        self, x: torch.Tensor, sigma: torch.Tensor | float | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Opponent space: ``(N, 3, H, W)`` → ``(3N, 1, H, W)`` planes and their σ."""
        n, _, h, w = x.shape
        offset, scale = (x.new_tensor(v).view(1, 3, 1, 1) for v in (_PLANE_OFFSET, _PLANE_SCALE))
        planes = torch.einsum("ij,njhw->nihw", OPPONENT.to(x), x) * scale + offset
        s = None
        if self.noise_map:
            s = (self._sigma(x, sigma).to(x).view(n, 1) * scale.view(1, 3)).reshape(-1)
        return planes.reshape(n * 3, 1, h, w), s

    def _from_planes(self, planes: torch.Tensor) -> torch.Tensor:
        n3, _, h, w = planes.shape
        planes = planes.reshape(n3 // 3, 3, h, w)
        offset, scale = (planes.new_tensor(v).view(1, 3, 1, 1) for v in (_PLANE_OFFSET, _PLANE_SCALE))
        return torch.einsum("ji,njhw->nihw", OPPONENT.to(planes), (planes - offset) / scale)

    def encode(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """Bottleneck features (the input is padded to ``size_multiple`` first); in the
        opponent space the three planes' features are stacked along the channels."""
        self._check_input(x)
        n = x.shape[0]
        if self.colour_space == "opponent":
            x, sigma = self._to_planes(x, sigma)
        x, _ = pad_to_multiple(x, self.size_multiple, 2)
        z = self._features(x, sigma)[0]
        return z.reshape(n, -1, *z.shape[-2:])

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        raise ValueError(
            "decode(z) alone is undefined for ImageUNet, whose decoder needs the encoder's skips "
            "and the input itself: call the model on the input instead."
        )

    def forward_logits(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        self._check_input(x)
        if self.noise_map and sigma is None:  # estimate on the real pixels, not the padding
            sigma = estimate_noise_std(x)
        if self.colour_space == "opponent":
            planes, plane_sigma = self._to_planes(x, sigma)
            return self._from_planes(self._denoise(planes, plane_sigma))
        return self._denoise(x, sigma)

    def _denoise(self, x: torch.Tensor, sigma: torch.Tensor | float | None) -> torch.Tensor:
        """The network proper, on the channels it was built for."""
        padded, sizes = pad_to_multiple(x, self.size_multiple, 2)
        h, skips = self._features(padded, sigma)
        for up, dec, skip in zip(reversed(self.ups), reversed(self.dec), reversed(skips)):
            h = dec(up(h) + skip)
        h = self.tail(h)
        out = F.pixel_shuffle(h, self.unshuffle) if self.unshuffle > 1 else h
        out = crop_to(out, sizes)
        return x - out if self.residual else out

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        return self.activate(self.forward_logits(x, sigma))
