"""Speech enhancement: ``SpeechEnhancer`` over a spectral-mask denoising autoencoder.

The enhancer takes a noisy recording of any length, sample rate and channel count and
returns the cleaned one: it resamples to the model's rate and back, processes each channel
on its own, in chunks with overlap (bounded memory for long files), and blends the result
with the input through an attenuation limit and a dry/wet knob. ``stream()`` gives the
same causal model hop by hop for live audio, with the same output as offline processing.

Example:
    >>> import numpy as np, daekit as dk
    >>> enh = dk.SpeechEnhancer.pretrained("speech8k")
    >>> clean = enh(np.random.randn(16000).astype("float32") * 0.1, sample_rate=16000)
    >>> s = enh.stream(sample_rate=16000)
    >>> out = s.process(np.zeros(320, "float32"))   # any chunk size; s.flush() at the end
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import noise as noise_lib
from ..dae import DenoisingAutoencoder
from ..io import ModelFileError, read_config
from ..models import create_model

__all__ = ["SpeechEnhancer", "SpeechStream", "SpeechObjective", "spectral_loss", "train_speech_dae"]

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


# ------------------------------------------------------------------------------- training

def spectral_loss(y: torch.Tensor, x: torch.Tensor, model, power: float = 0.3, complex_weight: float = 0.3
                  ) -> torch.Tensor:
    """Compressed spectral MSE (Braun & Tashev 2021): magnitudes raised to ``power`` and the
    compressed complex spectrum, mixed with ``complex_weight``; ``model`` provides the STFT.

    Shape: ``y``, ``x``: ``(N, 1, T)``; returns a scalar.
    """
    sy, sx = model.stft(y), model.stft(x)
    my = (sy.real.square() + sy.imag.square() + 1e-12) ** (power / 2)
    mx = (sx.real.square() + sx.imag.square() + 1e-12) ** (power / 2)
    mag = (my - mx).square().mean()
    cy = sy * (my / (sy.abs() + 1e-12))
    cx = sx * (mx / (sx.abs() + 1e-12))
    cplx = (cy - cx).abs().square().mean()
    return (1 - complex_weight) * mag + complex_weight * cplx


class SpeechObjective(nn.Module):
    """The training loss of a speech DAE: random gain, corrupt with the DAE's noise
    (``MixAtSNR``), enhance, and compare spectra (:func:`spectral_loss`).

    The DAE's own losses (mse/l1/bce) compare waveforms sample by sample, which rewards
    muffled speech; a compressed spectral loss is what speech enhancers are trained with.

    Args:
        dae: a ``DenoisingAutoencoder`` whose model is a ``SpectralMaskNet``.
        gain_db: range of a random gain applied to the clean batch (level robustness).

    Shape: ``x``: ``(N, 1, T)`` clean; returns a scalar. ``x_noisy`` (recorded pairs) skips the noise.
    """

    def __init__(self, dae: DenoisingAutoencoder, gain_db: tuple[float, float] = (-25.0, 5.0)):
        super().__init__()
        self.dae, self.gain_db = dae, gain_db

    def forward(self, x: torch.Tensor, x_noisy: torch.Tensor | None = None) -> torch.Tensor:
        g = 10.0 ** (noise_lib.per_sample(self.gain_db, x) / 20.0)
        x = x * g
        x_noisy = self.dae.corrupt(x) if x_noisy is None else x_noisy * g
        return spectral_loss(self.dae.model(x_noisy), x, self.dae.model)


def train_speech_dae(clean: torch.Tensor, noise_bank: list, sample_rate: int, config, *,
                     snr_db=(-5.0, 15.0), p=None, model_kwargs: dict | None = None, val: torch.Tensor | None = None,
                     dae: DenoisingAutoencoder | None = None) -> DenoisingAutoencoder:
    """Train (or continue training) a spectral-mask speech DAE with the daekit Trainer.

    Args:
        clean: ``(N, 1, T)`` clean speech items at ``sample_rate``.
        noise_bank: ``MixAtSNR`` entries: synthetic names and 1-D noise tensors.
        config: a ``daekit.TrainConfig``.
        snr_db, p: the ``MixAtSNR`` SNR range and entry weights.
        model_kwargs: ``SpectralMaskNet`` arguments.
        val: optional validation items.

    Returns:
        The trained ``DenoisingAutoencoder`` (eval mode), ready for ``SpeechEnhancer``.
    """
    from ..train import Trainer
    mix = noise_lib.MixAtSNR(noise_bank, snr_db=snr_db, p=p, sample_rate=sample_rate)
    if dae is None:
        dae = DenoisingAutoencoder(create_model("speech_mask", **(model_kwargs or {})), noise=mix,
                                   preprocessing={"sample_rate": int(sample_rate)})
    else:
        dae.noise = mix
    Trainer(SpeechObjective(dae), config).fit(clean, val)
    return dae.eval()
