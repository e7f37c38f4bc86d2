"""1-D convolutional encoder–decoders for sequences: series, sensor channels, waveforms."""

from __future__ import annotations

from .layers import ConvEncoderDecoder


class ConvAutoencoder1d(ConvEncoderDecoder):
    """Convolutional encoder–decoder over time, the 1-D twin of ``ConvAutoencoder2d``.

    Same options: strided or pooled down-sampling, a mirrored decoder, optional U-Net
    skips, optional residual output ``x_noisy - f(x_noisy)``. Any length works: the input
    is padded to a multiple of ``2 ** (len(channels) - 1)`` and the output cropped back.

    Shape:
        x: ``(N, C, T)`` → x_hat: ``(N, C, T)``; z: ``(N, channels[-1], ceil(T / m))``.

    Example:
        >>> model = ConvAutoencoder1d(in_channels=2, channels=(16, 32, 64), kernel_size=5)
        >>> model(torch.randn(4, 2, 101)).shape
        torch.Size([4, 2, 101])
    """

    dims = 1

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        return {"in_channels": 3, "channels": [4, 8, 8], "blocks_per_level": 1, "downsample": "pool", "skips": True}, (
            2,
            3,
            23,
        )
