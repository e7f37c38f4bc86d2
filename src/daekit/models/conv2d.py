"""2-D convolutional encoder–decoders for images."""

from __future__ import annotations

from .layers import ConvEncoderDecoder


class ConvAutoencoder2d(ConvEncoderDecoder):
    """Convolutional encoder–decoder for images, with a mirrored up-sampling decoder.

    Down-sampling by strided convolution (``downsample="stride"``) or max-pooling
    (``"pool"``); up-sampling by transposed convolution or nearest neighbour plus a
    convolution. ``skips=True`` adds U-Net skip connections; ``residual=True`` makes the
    network predict the noise and return ``x_noisy - f(x_noisy)`` (DnCNN's residual
    learning), which trains much faster for additive noise.

    Args:
        in_channels: 1 for gray, 3 for RGB.
        channels: feature widths per level; ``len(channels) - 1`` halvings of the size.
        blocks_per_level: conv–norm–activation blocks at each level.
        kernel_size, downsample, upsample, skips, residual, norm, activation,
        output_activation: see above (``norm`` is ``none``, ``batch`` or ``group``).

    Shape:
        x: ``(N, C, H, W)``, any H and W → x_hat: ``(N, C, H, W)``;
        z: ``(N, channels[-1], ceil(H / m), ceil(W / m))`` with ``m = 2 ** (len(channels) - 1)``.

    Example:
        >>> model = ConvAutoencoder2d(in_channels=1, channels=(16, 32), skips=True, residual=True)
        >>> model(torch.rand(2, 1, 37, 50)).shape
        torch.Size([2, 1, 37, 50])
    """

    dims = 2

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        return {"in_channels": 2, "channels": [4, 8], "blocks_per_level": 1, "norm": "batch"}, (2, 2, 13, 10)
