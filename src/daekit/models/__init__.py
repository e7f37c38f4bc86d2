"""Architectures only: every model maps ``x -> x_hat`` and has ``encode`` and ``decode``.

Models are registered by name so that a ``config.json`` can rebuild them:

    >>> import daekit as dk
    >>> dk.list_models()
    ['conv1d', 'conv2d', 'conv2d_unet', 'image_unet', 'mlp', 'speech_mask']
    >>> model = dk.create_model("mlp", in_features=64, hidden_sizes=[32, 8])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast, overload

from .conv1d import ConvAutoencoder1d
from .conv2d import ConvAutoencoder2d
from .image_unet import ImageUNet
from .layers import Autoencoder
from .mlp import DenseAutoencoder
from .speech import SpectralMaskNet

__all__ = [
    "register_model",
    "create_model",
    "list_models",
    "Autoencoder",
    "DenseAutoencoder",
    "ConvAutoencoder2d",
    "ConvAutoencoder1d",
    "ImageUNet",
]

_MODELS: dict[str, Callable[..., Autoencoder]] = {}

_Factory = TypeVar("_Factory", bound=Callable[..., Autoencoder])


@overload
def register_model(name: str, factory: None = None) -> Callable[[_Factory], _Factory]: ...
@overload
def register_model(name: str, factory: _Factory) -> _Factory: ...
def register_model(name: str, factory: Callable[..., Autoencoder] | None = None) -> Any:
    """Register a model class (or factory) under ``name``; usable as a decorator.

    The factory must accept keyword arguments and return an ``Autoencoder`` whose
    ``get_config()`` gives those arguments back.
    """

    def add(f: _Factory) -> _Factory:
        if name in _MODELS and _MODELS[name] is not f:
            raise ValueError(f"a model named '{name}' is already registered.")
        _MODELS[name] = f
        if isinstance(f, type):
            # Lets a directly constructed model be saved under its name. Autoencoder declares
            # the attribute; any other registered class gets it the same way.
            cast("type[Autoencoder]", f).model_name = name
        return f

    return add(factory) if factory is not None else add


def create_model(name: str, **kwargs: Any) -> Autoencoder:
    """Build a registered model by name, e.g. ``create_model("conv2d", in_channels=3)``."""
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}': registered models are {', '.join(list_models())}.")
    model = _MODELS[name](**kwargs)
    model.model_name = name
    return model


def list_models() -> list[str]:
    return sorted(_MODELS)


class UNetAutoencoder2d(ConvAutoencoder2d):
    """``ConvAutoencoder2d`` with U-Net skips and residual output on by default: a good
    first choice for image denoising."""

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 64, 128),
        blocks_per_level: int = 2,
        kernel_size: int = 3,
        downsample: str = "stride",
        upsample: str = "transpose",
        skips: bool = True,
        residual: bool = True,
        norm: str = "none",
        activation: str = "relu",
        output_activation: str = "identity",
    ):
        super().__init__(
            in_channels,
            channels,
            blocks_per_level,
            kernel_size,
            downsample,
            upsample,
            skips,
            residual,
            norm,
            activation,
            output_activation,
        )

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        return {"in_channels": 1, "channels": [4, 8], "blocks_per_level": 1}, (2, 1, 9, 14)


register_model("mlp", DenseAutoencoder)
register_model("conv2d", ConvAutoencoder2d)
register_model("conv2d_unet", UNetAutoencoder2d)
register_model("conv1d", ConvAutoencoder1d)
register_model("speech_mask", SpectralMaskNet)
register_model("image_unet", ImageUNet)
