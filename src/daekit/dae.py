"""The denoising autoencoder objective: corrupt the clean input, reconstruct, compare."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from . import checks, losses
from . import noise as noise_lib
from .checks import SAMPLE_RATE
from .io import ModelFileError, read_model_folder, write_model_folder
from .io_checks import (
    BUILD_ERRORS,
    check_weights_fit,
    config_numbers,
    config_section,
    expect_class,
    load_checked,
    model_from_spec,
)
from .models import Autoencoder

__all__ = ["DenoisingAutoencoder"]


class DenoisingAutoencoder(nn.Module):
    """A model, a noise process and a loss: ``dae(x)`` is the DAE training loss.

    Each call corrupts the clean batch on its own device (so the data loader only ever
    produces clean data), reconstructs it and compares with the clean input. Recorded
    noisy/clean pairs skip the synthetic noise: ``dae(x, x_noisy=pairs)``.

    Args:
        model: any registered ``Autoencoder`` (see ``daekit.create_model``).
        noise: a ``daekit.noise.Noise``, a spec such as ``"gaussian:0.1"``, or ``None``
            for a plain autoencoder.
        loss: ``"mse"``, ``"l1"`` or ``"bce"`` (from logits; data on [0, 1]).
        sparsity: weight of the sparsity penalty on the code (0 = off).
        sparsity_kind: ``"l1"`` (mean |z|) or ``"kl"`` (KL to ``sparsity_target``).
        sparsity_target: target mean activation for the KL penalty.
        contractive: weight of the contractive penalty ``||dz/dx||_F^2`` (Rifai et al.).
        preprocessing: JSON-ready facts the data needs before the model (scaling, sample
            rate...), saved with the model and given back by ``from_pretrained``.

    Shape:
        x: whatever the model takes, e.g. ``(N, F)`` or ``(N, C, H, W)``; returns a scalar.

    Example:
        >>> import torch, daekit as dk
        >>> dae = dk.DenoisingAutoencoder(dk.create_model("mlp", in_features=64), noise="gaussian:0.2")
        >>> loss = dae(torch.rand(16, 64)); loss.backward()
        >>> x_hat = dae.denoise(torch.rand(4, 64))
    """

    def __init__(
        self,
        model: Autoencoder,
        noise: noise_lib.Noise | str | None = None,
        loss: str = "mse",
        sparsity: float = 0.0,
        sparsity_kind: str = "l1",
        sparsity_target: float = 0.05,
        contractive: float = 0.0,
        preprocessing: dict | None = None,
    ):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
        checks.NON_NEGATIVE.check("sparsity", sparsity)
        checks.NON_NEGATIVE.check("contractive", contractive)
        checks.OPEN_UNIT.check("sparsity_target", sparsity_target)
        if sparsity_kind not in ("l1", "kl"):
            raise ValueError(f"sparsity_kind={sparsity_kind!r} is not valid: use 'l1' or 'kl'.")
        self.model = model
        self.noise = noise_lib.from_spec(noise) if isinstance(noise, str) else (noise or noise_lib.Identity())
        self.loss = loss
        self._loss_fn: Callable = losses.get_loss(loss)
        self.sparsity, self.sparsity_kind, self.sparsity_target = sparsity, sparsity_kind, sparsity_target
        self.contractive = contractive
        self.preprocessing = dict(preprocessing or {})

    # -- the objective -------------------------------------------------------------------

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The noisy copy of a clean batch that training would see."""
        return self.noise(x, generator)

    def forward(self, x: torch.Tensor, x_noisy: torch.Tensor | None = None) -> torch.Tensor:
        """Training loss for a clean batch ``x`` (corrupted here unless ``x_noisy`` is given)."""
        if x_noisy is None:
            x_noisy = self.corrupt(x)
        elif x_noisy.shape != x.shape:
            raise ValueError(f"x_noisy has shape {tuple(x_noisy.shape)} but x has {tuple(x.shape)}.")
        needs_code = self.sparsity > 0
        if needs_code:
            z = self.model.encode(x_noisy)
            logits = self.model.decode_logits(z)
        else:
            logits = self.model.forward_logits(x_noisy)
        out = logits if self.loss == "bce" else self.model.activate(logits)
        total = self._loss_fn(out, x)
        if needs_code:
            total = total + self.sparsity * (
                losses.sparsity_l1(z) if self.sparsity_kind == "l1" else losses.sparsity_kl(z, self.sparsity_target)
            )
        if self.contractive > 0:
            total = total + self.contractive * losses.contractive_penalty(self.model.encode, x_noisy)
        return total

    # -- inference -----------------------------------------------------------------------

    @torch.no_grad()
    def denoise(self, x_noisy: torch.Tensor) -> torch.Tensor:
        """Reconstruct clean data from a noisy batch (eval mode, no gradients)."""
        return self._in_eval(self.model, x_noisy)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``z`` of a (clean or noisy) batch, in eval mode."""
        return self._in_eval(self.model.encode, x)

    def _in_eval(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        was_training = self.training
        self.eval()
        try:
            return fn(x)
        finally:
            self.train(was_training)

    # -- model folders -------------------------------------------------------------------

    def get_config(self) -> dict:
        name = getattr(self.model, "model_name", "")
        if not name or not hasattr(self.model, "get_config"):
            raise ValueError(
                f"{type(self.model).__name__} is not a registered daekit model, so it cannot be "
                "described in config.json: register it with daekit.register_model."
            )
        if not isinstance(self.noise, noise_lib.Noise):
            raise ValueError(f"noise {self.noise!r} is not a daekit.noise.Noise, so it cannot be saved.")
        return {
            "class": type(self).__name__,
            "model": {"name": name, "kwargs": self.model.get_config()},
            "noise": self.noise.to_config(),
            "loss": self.loss,
            "regularisers": {
                "sparsity": self.sparsity,
                "sparsity_kind": self.sparsity_kind,
                "sparsity_target": self.sparsity_target,
                "contractive": self.contractive,
            },
            "preprocessing": self.preprocessing,
        }

    def save_pretrained(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into folder ``path``.

        ``extra`` adds JSON-ready entries to the config (an application's settings).
        """
        config = self.get_config() | (extra or {})
        return write_model_folder(path, config, self.model.state_dict())

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> DenoisingAutoencoder:
        """Load a folder written by ``save_pretrained``; raises ``ModelFileError`` with one
        clear sentence when it is missing, corrupt, holds another class (the sentence says
        which command loads it) or does not fit its config."""
        config, tensors = read_model_folder(path)
        expect_class(path, config, ("DenoisingAutoencoder",))
        return cls.from_weights(config, tensors, source=str(path)).to(map_location).eval()

    @classmethod
    def from_weights(
        cls, config: dict, tensors: Mapping[str, torch.Tensor], source: str = "config"
    ) -> DenoisingAutoencoder:
        """The DAE ``config`` describes, holding ``tensors`` (as ``read_model_folder`` gives them).

        The DAE is first built on the meta device, which allocates nothing, to check that
        the names and shapes of the weights fit its model: a config edited to a huge model
        costs nothing before it is refused.
        """
        with torch.device("meta"):
            needed = cls.from_config(config, source).model.state_dict()
        check_weights_fit(source, tensors, needed)
        dae = cls.from_config(config, source)
        load_checked(source, dae.model, tensors)
        return dae

    @classmethod
    def from_config(cls, config: dict, source: str = "config") -> DenoisingAutoencoder:
        """Build an untrained DAE from a config dict (as written by ``save_pretrained``).

        Raises:
            ModelFileError: the config names no known model, or a value daekit refuses
                (``source`` names where the config came from).
        """
        model = model_from_spec(source, config.get("model"))
        reg = config_section(source, config, "regularisers")
        try:
            dae = cls(
                model,
                noise=noise_lib.from_config(config.get("noise")),
                loss=config.get("loss", "mse"),
                sparsity=reg.get("sparsity", 0.0),
                sparsity_kind=reg.get("sparsity_kind", "l1"),
                sparsity_target=reg.get("sparsity_target", 0.05),
                contractive=reg.get("contractive", 0.0),
                preprocessing=config_section(source, config, "preprocessing"),
            )
        except BUILD_ERRORS as e:
            raise ModelFileError(f"{source} describes a DAE daekit cannot build: {e}") from None
        _check_preprocessing(source, dae.preprocessing, getattr(model, "in_features", None))
        return dae


def _check_preprocessing(source: str, prep: dict, in_features: int | None) -> None:
    """Refuse preprocessing the data could not pass through: a standardising scale of 0
    (it is divided by), statistics for another width, a sample rate that is no rate."""
    stats = prep.get("standardize")
    if stats is not None:
        if not isinstance(stats, dict):
            raise ModelFileError(f"{source}: 'preprocessing.standardize' in config.json must be an object.")
        config_numbers(source, "preprocessing.standardize.mean", stats.get("mean"), length=in_features)
        config_numbers(source, "preprocessing.standardize.std", stats.get("std"), positive=True, length=in_features)
    if "sample_rate" in prep:
        try:
            SAMPLE_RATE.check(f"'preprocessing.sample_rate' in {source}/config.json", prep["sample_rate"])
        except ValueError as e:
            raise ModelFileError(str(e)) from None
