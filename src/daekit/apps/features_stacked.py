"""Stacked denoising autoencoders (Vincent et al. 2010), at the PyTorch level.

Greedy layer-wise pretraining: the first layer is a one-hidden-layer DAE trained on the
data; each next layer is a DAE trained on the *clean* codes of the layer below, with its
own corruption. The trained layers are then stacked into one deep ``DenseAutoencoder``
(encoder layers in order, decoders mirrored), which is a registered ``"mlp"`` model and
so saves and loads like any other. ``FineTuneNet`` puts a softmax layer on top of the
stacked encoder for supervised fine-tuning.

Everything trains through ``daekit.Trainer``. The scikit-learn front ends
(``DAEFeatureExtractor``, ``DAEClassifier``) live in ``apps/features.py``.

Example:
    >>> import torch
    >>> from daekit.train import TrainConfig
    >>> x = torch.rand(256, 64)
    >>> model = pretrain_stack(x, (32, 16), noise="masking:0.25",
    ...                        config=TrainConfig(max_steps=20, batch_size=32, quiet=True))
    >>> model.encode(x).shape
    torch.Size([256, 16])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import noise as noise_lib
from ..dae import DenoisingAutoencoder
from ..models.mlp import DenseAutoencoder
from ..train import TrainConfig, Trainer

__all__ = ["pretrain_stack", "stack_layers", "layer_noises", "FineTuneNet"]

# One noise for every layer, or one per layer: a process or a CLI spec such as "masking:0.25".
NoiseSpec = str | noise_lib.Noise | Sequence[str | noise_lib.Noise]


def layer_noises(noise: NoiseSpec, n_layers: int) -> list[noise_lib.Noise]:
    """One noise per layer: a single noise (or spec) is used for every layer; a list or
    tuple must have one entry per layer."""
    if isinstance(noise, (list, tuple)):
        if len(noise) != n_layers:
            raise ValueError(
                f"noise has {len(noise)} entries but there are {n_layers} layers: "
                "give one noise for all layers or one per layer."
            )
        items = list(noise)
    else:
        items = [noise] * n_layers
    return [noise_lib.from_spec(n) if isinstance(n, str) else n for n in items]


def _layer_loss(activation: str) -> str:
    # Sigmoid codes lie on [0, 1]: cross-entropy, as in the paper; others: squared error.
    return "bce" if activation == "sigmoid" else "mse"


def pretrain_stack(
    x: torch.Tensor,
    hidden_sizes: Sequence[int],
    *,
    activation: str = "sigmoid",
    tied: bool = True,
    noise: NoiseSpec = "masking:0.25",
    input_loss: str = "bce",
    config: TrainConfig | None = None,
    histories: list[Any] | None = None,
) -> DenseAutoencoder:
    """Greedy layer-wise pretraining of a stack of denoising autoencoders.

    Args:
        x: the (scaled) training data.
        hidden_sizes: width of each layer, bottom to top.
        activation: hidden activation of every layer (``sigmoid``, ``relu``...).
        tied: each layer's decoder is the transpose of its encoder.
        noise: one noise (``Noise`` or spec) for all layers, or one per layer.
        input_loss: loss of the first layer (``"bce"`` for data on [0, 1], else ``"mse"``);
            upper layers use BCE for sigmoid codes and MSE otherwise.
        config: training settings of each layer; layer ``i`` uses ``seed + i``.
        histories: if a list is given, each layer's ``Trainer.history`` is appended to it.

    Returns:
        The stacked ``DenseAutoencoder`` (``in_features -> hidden_sizes``), in eval mode.

    Shape:
        x: ``(N, F)`` → the model encodes ``(N, F)`` to ``(N, hidden_sizes[-1])``.
    """
    config = config or TrainConfig()
    noises = layer_noises(noise, len(hidden_sizes))
    layers: list[DenseAutoencoder] = []
    codes = x
    for i, (width, layer_noise) in enumerate(zip(hidden_sizes, noises)):
        loss = input_loss if i == 0 else _layer_loss(activation)
        torch.manual_seed(config.seed + i)  # reproducible initial weights, layer by layer
        layer = DenseAutoencoder(
            codes.shape[1],
            hidden_sizes=(int(width),),
            activation=activation,
            latent_activation=activation,
            tied=tied,
            output_activation="sigmoid" if loss == "bce" else "identity",
        )
        dae = DenoisingAutoencoder(layer, noise=layer_noise, loss=loss)
        trainer = Trainer(dae, config.replace(seed=config.seed + i)).fit(codes)
        if histories is not None:
            histories.append(trainer.history)
        layer = layer.cpu().eval()
        layers.append(layer)
        with torch.no_grad():  # the next layer learns from the clean codes of this one
            codes = torch.cat([layer.encode(chunk) for chunk in codes.split(4096)])
    return stack_layers(layers, output_activation="sigmoid" if input_loss == "bce" else "identity")


def stack_layers(layers: Sequence[DenseAutoencoder], output_activation: str = "sigmoid") -> DenseAutoencoder:
    """Stack one-hidden-layer autoencoders into one deep ``DenseAutoencoder``.

    Encoder layer ``i`` is layer ``i``'s encoder; the decoder runs the layers' decoders
    in reverse order. All layers must share activation and tying.
    """
    if not layers:
        raise ValueError("stack_layers needs at least one layer.")
    first = layers[0]
    for layer in layers:
        if len(layer.hidden_sizes) != 1 or layer.tied != first.tied or layer.activation != first.activation:
            raise ValueError("stack_layers takes one-hidden-layer autoencoders sharing activation and tying.")
    for below, above in zip(layers[:-1], layers[1:]):
        if above.in_features != below.hidden_sizes[0]:
            raise ValueError(
                f"a layer of width {below.hidden_sizes[0]} cannot feed one expecting {above.in_features} inputs."
            )
    deep = DenseAutoencoder(
        first.in_features,
        hidden_sizes=tuple(layer.hidden_sizes[0] for layer in layers),
        activation=first.activation,
        latent_activation=first.activation,
        output_activation=output_activation,
        tied=first.tied,
    )
    with torch.no_grad():
        for i, layer in enumerate(layers):
            deep.encoder_layers[i].load_state_dict(layer.encoder_layers[0].state_dict())
            j = len(layers) - 1 - i  # decoder step j reconstructs the input of layer i
            if first.tied:
                deep.decoder_biases[j].copy_(layer.decoder_biases[0])
            else:
                deep.decoder_layers[j].load_state_dict(layer.decoder_layers[0].state_dict())
    return deep.eval()


class FineTuneNet(nn.Module):
    """A softmax classifier on top of an autoencoder's encoder, for supervised fine-tuning.

    ``forward(x, y)`` is the cross-entropy loss (what ``Trainer`` wants);
    ``logits(x)`` gives the class scores. The decoder is kept (so the tied weights and
    the whole autoencoder can still be saved) but is not used.

    Args:
        autoencoder: a ``DenseAutoencoder`` (pretrained or freshly initialised).
        n_classes: number of classes.
        dropout: dropout on the code before the softmax layer.

    Shape:
        x: ``(N, F)``, y: ``(N,)`` class indices → scalar loss; ``logits``: ``(N, n_classes)``.
    """

    def __init__(self, autoencoder: DenseAutoencoder, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.autoencoder = autoencoder
        self.head = nn.Linear(autoencoder.hidden_sizes[-1], n_classes)
        self.drop = nn.Dropout(dropout)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.autoencoder.encode(x)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.logits(x), y)
