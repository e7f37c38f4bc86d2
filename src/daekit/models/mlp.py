"""Dense (fully connected) autoencoder: the classic DAE of Vincent et al. (2008, 2010)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import OUTPUT_ACTIVATIONS, Autoencoder, check_choice, make_activation


class DenseAutoencoder(Autoencoder):
    """A multilayer perceptron encoder and a decoder that mirrors it.

    ``hidden_sizes=(256, 64)`` on 784 inputs gives 784→256→64→256→784. With
    ``tied=True`` each decoder layer reuses the transpose of its encoder twin's weight
    (only biases are its own), halving the parameters, as in the original DAE papers.

    Args:
        in_features: number of input features F.
        hidden_sizes: encoder layer widths; the last one is the code size.
        activation: hidden activation (``relu``, ``sigmoid``, ``tanh``, ``gelu``...).
        latent_activation: activation on the code itself (``identity`` keeps it linear).
        output_activation: ``identity`` for real-valued data, ``sigmoid`` for data on [0, 1].
        tied: share weights between encoder and decoder (transposed).
        dropout: dropout between hidden layers (not on the input: that is the noise's job).

    Shape:
        x: ``(N, F)`` → z: ``(N, hidden_sizes[-1])`` → x_hat: ``(N, F)``.

    Example:
        >>> model = DenseAutoencoder(784, hidden_sizes=(256, 64), tied=True)
        >>> model(torch.rand(8, 784)).shape
        torch.Size([8, 784])
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (256, 64),
        activation: str = "relu",
        latent_activation: str = "identity",
        output_activation: str = "identity",
        tied: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        if in_features <= 0 or not hidden_sizes or any(int(h) <= 0 for h in hidden_sizes):
            raise ValueError(f"in_features={in_features!r} and hidden_sizes={hidden_sizes!r} must be positive.")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} must lie in [0, 1).")
        self.in_features, self.hidden_sizes = int(in_features), tuple(int(h) for h in hidden_sizes)
        self.activation, self.latent_activation = activation, latent_activation
        self.output_activation, self.tied, self.dropout = output_activation, tied, dropout

        sizes = (self.in_features,) + self.hidden_sizes
        self.encoder_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        if tied:
            # Decoder layer i is the transpose of encoder layer (n-1-i); only biases are new.
            self.decoder_biases = nn.ParameterList(nn.Parameter(torch.zeros(a)) for a in reversed(sizes[:-1]))
        else:
            self.decoder_layers = nn.ModuleList(
                nn.Linear(b, a) for a, b in zip(reversed(sizes[:-1]), reversed(sizes[1:]))
            )
        self.act = make_activation(activation)
        self.latent_act = make_activation(latent_activation)
        self.drop = nn.Dropout(dropout)

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        """A small instance and input shape for the model contract test."""
        return {"in_features": 12, "hidden_sizes": [8, 3], "tied": True}, (5, 12)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"DenseAutoencoder expects input of shape (N, {self.in_features}), got {tuple(x.shape)}.")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        h = x
        last = len(self.encoder_layers) - 1
        for i, layer in enumerate(self.encoder_layers):
            h = layer(h)
            h = self.latent_act(h) if i == last else self.drop(self.act(h))
        return h

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        n = len(self.encoder_layers)
        for i in range(n):
            if self.tied:
                twin = self.encoder_layers[n - 1 - i]
                assert isinstance(twin, nn.Linear)
                h = F.linear(h, twin.weight.t(), self.decoder_biases[i])
            else:
                h = self.decoder_layers[i](h)
            if i < n - 1:
                h = self.drop(self.act(h))
        return h
