"""Pieces shared by two or more model families: the base class, activations, padding,
and the N-dimensional convolutional encoder–decoder behind ``conv1d`` and ``conv2d``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "identity": nn.Identity,
}
OUTPUT_ACTIVATIONS = ("identity", "sigmoid")


def make_activation(name: str) -> nn.Module:
    """``nn.Module`` for an activation name (``relu``, ``gelu``, ``tanh``, ``sigmoid``...)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}': use one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]()


def check_choice(name: str, value: object, choices: Collection[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid: use one of {', '.join(map(str, choices))}.")


class Autoencoder(nn.Module):
    """Base class of every registered model: ``encode``, ``decode`` and ``forward``.

    Subclasses implement ``encode(x) -> z`` and ``decode_logits(z)`` (the decoder's output
    before the output activation). ``forward_logits`` exists so that the binary
    cross-entropy loss can work from logits, which is numerically stable; ``forward``
    applies the output activation.

    Constructors store their arguments unchanged under the same names, so
    ``get_config()`` can describe any model for ``config.json``.
    """

    model_name: str = ""
    output_activation: str = "identity"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.activate(self.decode_logits(z))

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_logits(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.forward_logits(x))

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.output_activation == "sigmoid" else logits

    def get_config(self) -> dict:
        """Constructor arguments, JSON-ready (tuples become lists)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: list(v) if isinstance(v, tuple) else v for n in names for v in [getattr(self, n)]}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def pad_to_multiple(x: torch.Tensor, multiple: int, dims: int) -> tuple[torch.Tensor, list[int]]:
    """Pad the last ``dims`` axes of ``x`` up to a multiple of ``multiple`` (reflect where
    possible, else replicate), so any input size passes the down-sampling path. Returns the
    padded tensor and the original sizes to crop back to."""
    sizes = list(x.shape[-dims:])
    pads = []
    for size in reversed(sizes):
        pads += [0, (-size) % multiple]
    if torch.jit.is_tracing():
        # An exported graph must pad whatever size it is given later: always pad (maybe by
        # zero), and reflect, which needs each side to be longer than its padding.
        return F.pad(x, pads, mode="reflect"), sizes
    if not any(pads):
        return x, sizes
    mode = "reflect" if all(p < s for p, s in zip(pads[1::2], reversed(sizes))) else "replicate"
    return F.pad(x, pads, mode=mode), sizes


def crop_to(x: torch.Tensor, sizes: Sequence[int]) -> torch.Tensor:
    index = (...,) + tuple(slice(0, s) for s in sizes)
    return x[index]


class ConvEncoderDecoder(Autoencoder):
    """An N-dimensional convolutional encoder–decoder whose decoder mirrors the encoder.

    The encoder is a stem convolution followed, for each entry of ``channels`` after the
    first, by a down-sampling step (strided convolution or max-pooling) and
    ``blocks_per_level`` conv–norm–activation blocks. The decoder walks back up with
    transposed convolutions (or nearest up-sampling plus a convolution), optionally
    concatenating the encoder's features at each level (U-Net skips). With
    ``residual=True`` the network predicts the noise and returns ``x - f(x)``.

    Inputs of any size are padded to a multiple of ``2 ** (len(channels) - 1)`` and the
    output is cropped back, so odd sizes never fail.
    """

    dims: int = 2

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        blocks_per_level: int = 2,
        kernel_size: int = 3,
        downsample: str = "stride",
        upsample: str = "transpose",
        skips: bool = False,
        residual: bool = False,
        norm: str = "none",
        activation: str = "relu",
        output_activation: str = "identity",
    ):
        super().__init__()
        check_choice("downsample", downsample, ("stride", "pool"))
        check_choice("upsample", upsample, ("transpose", "nearest"))
        check_choice("norm", norm, ("none", "batch", "group"))
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        if residual and output_activation != "identity":
            raise ValueError("residual=True predicts the noise and subtracts it: use output_activation='identity'.")
        if not channels or any(int(c) <= 0 for c in channels) or in_channels <= 0:
            raise ValueError(f"channels={channels!r} and in_channels={in_channels!r} must be positive integers.")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd so that sizes are kept.")
        make_activation(activation)
        self.in_channels, self.channels = in_channels, tuple(int(c) for c in channels)
        self.blocks_per_level, self.kernel_size = blocks_per_level, kernel_size
        self.downsample, self.upsample, self.skips, self.residual = downsample, upsample, skips, residual
        self.norm, self.activation, self.output_activation = norm, activation, output_activation

        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[self.dims - 1]
        self._conv = conv
        ch = self.channels
        self.stem = self._block(in_channels, ch[0])
        self.stem_blocks = nn.Sequential(*[self._block(ch[0], ch[0]) for _ in range(blocks_per_level - 1)])
        self.downs = nn.ModuleList()
        for c_in, c_out in zip(ch[:-1], ch[1:]):
            if downsample == "stride":
                first = self._block(c_in, c_out, stride=2)
            else:
                pool = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[self.dims - 1](2)
                first = nn.Sequential(pool, self._block(c_in, c_out))
            rest = [self._block(c_out, c_out) for _ in range(blocks_per_level - 1)]
            self.downs.append(nn.Sequential(first, *rest))
        self.ups = nn.ModuleList()
        self.merges = nn.ModuleList()
        for c_in, c_out in zip(reversed(ch[1:]), reversed(ch[:-1])):
            up: nn.Module
            if upsample == "transpose":
                tconv = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[self.dims - 1]
                up = tconv(c_in, c_out, kernel_size=2, stride=2)
            else:
                up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(c_in, c_out, 1))
            self.ups.append(up)
            merged = 2 * c_out if skips else c_out
            blocks = [self._block(merged, c_out)] + [self._block(c_out, c_out) for _ in range(blocks_per_level - 1)]
            self.merges.append(nn.Sequential(*blocks))
        self.head = conv(ch[0], in_channels, kernel_size, padding=kernel_size // 2)

    def _block(self, c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
        k = self.kernel_size
        layers: list[nn.Module] = [self._conv(c_in, c_out, k, stride=stride, padding=k // 2, bias=self.norm == "none")]
        if self.norm == "batch":
            layers.append((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[self.dims - 1](c_out))
        elif self.norm == "group":
            layers.append(nn.GroupNorm(min(8, c_out), c_out))
        layers.append(make_activation(self.activation))
        return nn.Sequential(*layers)

    @property
    def size_multiple(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != self.dims + 2 or x.shape[1] != self.in_channels:
            shape = "(N, C, T)" if self.dims == 1 else "(N, C, H, W)"
            raise ValueError(
                f"{type(self).__name__} expects input of shape {shape} with C={self.in_channels}, got {tuple(x.shape)}."
            )

    def _encode_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem_blocks(self.stem(x))]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats

    def _decode_from(self, z: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        h = z
        for i, (up, merge) in enumerate(zip(self.ups, self.merges)):
            h = up(h)
            if self.skips:
                h = torch.cat([h, skips[-(i + 2)]], dim=1)
            h = merge(h)
        return self.head(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck features; the input is padded to ``size_multiple`` first."""
        self._check_input(x)
        x, _ = pad_to_multiple(x, self.size_multiple, self.dims)
        return self._encode_all(x)[-1]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.skips:
            raise ValueError(
                "decode(z) alone is undefined for a model with U-Net skips, which need the "
                "encoder's features: call the model on the input instead."
            )
        if self.residual:
            raise ValueError(
                "decode(z) alone is undefined for a residual model, whose output is x - f(x): "
                "call the model on the input instead."
            )
        return self._decode_from(z, ())

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        padded, sizes = pad_to_multiple(x, self.size_multiple, self.dims)
        feats = self._encode_all(padded)
        out = crop_to(self._decode_from(feats[-1], feats), sizes)
        return x - out if self.residual else out
