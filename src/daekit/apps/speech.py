"""Speech enhancement: ``SpeechEnhancer`` over a spectral-mask denoising autoencoder.

The enhancer takes a noisy recording of any length, sample rate and channel count and
returns the cleaned one: it resamples to the model's rate and back, processes each channel
on its own, in chunks with overlap (bounded memory for long files), and blends the result
with the input through an attenuation limit and a dry/wet knob. Above the model's rate the
band the model cannot see is kept, turned down per band where it holds noise
(``keep_band``, :mod:`daekit.apps.speech_bands`): a 48 kHz recording comes back 48 kHz,
not as telephone audio. ``stream()`` gives the same causal model hop by hop for live
audio, with the same output as offline processing.

Example:
    >>> import numpy as np, daekit as dk
    >>> enh = dk.SpeechEnhancer.pretrained("speech8k")
    >>> clean = enh(np.random.randn(16000).astype("float32") * 0.1, sample_rate=16000)
    >>> s = enh.stream(sample_rate=16000)
    >>> out = s.process(np.zeros(320, "float32"))   # any chunk size; s.flush() at the end
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from .. import checks
from .. import noise as noise_lib
from ..dae import DenoisingAutoencoder
from ..io import PRETRAINED_DIR, ModelFileError, bundled_models, read_config, read_model_folder
from ..io_checks import config_section, expect_class
from ..models import create_model
from ..models.speech import MaskBlockState, MaskStreamState, SpectralMaskNet
from .speech_bands import BandKeeper
from .speech_resample import StreamResampler

if TYPE_CHECKING:
    from ..noise_estimate import AudioNoise
    from ..train_config import TrainConfig

__all__ = ["SpeechEnhancer", "SpeechStream", "SpeechObjective", "spectral_loss", "train_speech_dae"]


# ------------------------------------------------------------------------------- training


def _mask_net(dae: DenoisingAutoencoder) -> SpectralMaskNet:
    # A speech DAE holds a SpectralMaskNet; the DAE itself only types its model as an Autoencoder.
    return cast(SpectralMaskNet, dae.model)


def spectral_loss(
    y: torch.Tensor, x: torch.Tensor, model: SpectralMaskNet, power: float = 0.3, complex_weight: float = 0.3
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


def negative_si_sdr(y: torch.Tensor, x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Minus the mean scale-invariant SDR in dB (the same quantity as
    :func:`daekit.metrics.si_sdr`), a differentiable training term for waveform fidelity.

    Shape: ``y``, ``x``: ``(N, 1, T)``; returns a scalar.
    """
    y = y.flatten(1) - y.flatten(1).mean(dim=1, keepdim=True)
    x = x.flatten(1) - x.flatten(1).mean(dim=1, keepdim=True)
    target = (y * x).sum(dim=1, keepdim=True) / (x.square().sum(dim=1, keepdim=True) + eps) * x
    ratio = (target.square().sum(dim=1) + eps) / ((y - target).square().sum(dim=1) + eps)
    return -10.0 * torch.log10(ratio).mean()


class SpeechObjective(nn.Module):
    """The training loss of a speech DAE: random gain, corrupt with the DAE's noise
    (``MixAtSNR``), enhance, and compare spectra (:func:`spectral_loss`).

    The DAE's own losses (mse/l1/bce) compare waveforms sample by sample, which rewards
    muffled speech; a compressed spectral loss is what speech enhancers are trained with.

    Args:
        dae: a ``DenoisingAutoencoder`` whose model is a ``SpectralMaskNet``.
        gain_db: range of a random gain applied to the clean batch (level robustness).
        sisdr_weight: weight of :func:`negative_si_sdr` added to the spectral loss (per dB;
            the spectral loss of a trained model is about 0.02, so 0.002 makes one dB of
            SI-SDR worth a tenth of it). 0 leaves the spectral loss alone.

    Shape: ``x``: ``(N, 1, T)`` clean; returns a scalar. ``x_noisy`` (recorded pairs) skips the noise.
    """

    def __init__(
        self, dae: DenoisingAutoencoder, gain_db: tuple[float, float] = (-25.0, 5.0), sisdr_weight: float = 0.0
    ):
        super().__init__()
        self.dae, self.gain_db, self.sisdr_weight = dae, gain_db, sisdr_weight

    def forward(self, x: torch.Tensor, x_noisy: torch.Tensor | None = None) -> torch.Tensor:
        g = 10.0 ** (noise_lib.per_sample(self.gain_db, x) / 20.0)
        x = x * g
        x_noisy = self.dae.corrupt(x) if x_noisy is None else x_noisy * g
        y = self.dae.model(x_noisy)
        loss = spectral_loss(y, x, _mask_net(self.dae))
        if self.sisdr_weight:
            loss = loss + self.sisdr_weight * negative_si_sdr(y, x)
        return loss


def train_speech_dae(
    clean: torch.Tensor,
    noise_bank: Sequence[str | torch.Tensor],
    sample_rate: int,
    config: TrainConfig,
    *,
    snr_db: noise_lib.Level = (-5.0, 15.0),
    p: Sequence[float] | None = None,
    model_kwargs: dict[str, Any] | None = None,
    val: torch.Tensor | None = None,
    dae: DenoisingAutoencoder | None = None,
    sisdr_weight: float = 0.0,
) -> DenoisingAutoencoder:
    """Train (or continue training) a spectral-mask speech DAE with the daekit Trainer.

    Args:
        clean: ``(N, 1, T)`` clean speech items at ``sample_rate``.
        noise_bank: ``MixAtSNR`` entries: synthetic names and 1-D noise tensors.
        config: a ``daekit.TrainConfig``.
        snr_db, p: the ``MixAtSNR`` SNR range and entry weights.
        model_kwargs: ``SpectralMaskNet`` arguments.
        val: optional validation items.
        dae: continue training this DAE (its noise is replaced by the new mix).
        sisdr_weight: see :class:`SpeechObjective`.

    Returns:
        The trained ``DenoisingAutoencoder`` (eval mode), ready for ``SpeechEnhancer``.
    """
    from ..train import Trainer

    mix = noise_lib.MixAtSNR(noise_bank, snr_db=snr_db, p=p, sample_rate=sample_rate)
    if dae is None:
        dae = DenoisingAutoencoder(
            create_model("speech_mask", **(model_kwargs or {})),
            noise=mix,
            preprocessing={"sample_rate": int(sample_rate)},
        )
    else:
        dae.noise = mix
    Trainer(SpeechObjective(dae, sisdr_weight=sisdr_weight), config).fit(clean, val)
    return dae.eval()


# ------------------------------------------------------------------------------- the app


def _check_wave(wave: ArrayLike | torch.Tensor, name: str = "the audio") -> np.ndarray:
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu().numpy()
    wave = np.asarray(wave)
    if wave.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold numbers, got dtype {wave.dtype}.")
    if wave.dtype.kind in "iu":  # integer PCM: scale to [-1, 1]
        wave = wave / float(np.iinfo(wave.dtype).max + 1)
    wave = wave.astype(np.float32, copy=False)
    if wave.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {wave.shape}: expected (samples,) or (channels, samples).")
    if not np.isfinite(wave).all():
        raise ValueError(f"{name} holds NaN or infinite samples.")
    return wave


class SpeechEnhancer:
    """Remove noise from speech: a trained spectral-mask DAE with the plumbing around it.

    Args:
        dae: a ``DenoisingAutoencoder`` holding a ``SpectralMaskNet`` (its
            ``preprocessing["sample_rate"]`` is the model's rate).
        attenuation_limit_db: the most any time-frequency bin is turned down (e.g. 20
            keeps at least 10 % of every bin: less suppression, fewer artefacts);
            None: no limit.
        wet: dry/wet mix, 1.0 = fully enhanced, 0.0 = the input unchanged.
        block_seconds: audio processed per step offline; memory is bounded by it. A causal
            model carries its state over, so the result does not depend on it; an offline
            (bidirectional) model enhances blocks of this length with ``context_seconds``
            of audio on either side.
        context_seconds: the look-around of an offline model's blocks (ignored for causal ones).
        clean_snr_db: offline, the input's noise is first estimated from its quietest
            frames (``daekit.noise.estimate``); a recording with no noise detected, or an
            estimated SNR at or above this, is returned unchanged rather than risk
            dulling clean speech. None: always enhance. Streams always enhance.
        keep_band: for input at a rate above the model's, keep the band above the model's
            Nyquist (split off before the model, turned down per band by the model's
            verdict and the band's own noise estimate, added back: see
            :class:`~daekit.apps.speech_bands.BandKeeper`). False: the output holds only
            the model's band (telephone audio from an 8 kHz model).
        band_limit_db: the most the kept band is turned down, dB (``attenuation_limit_db``
            bounds it too when lower).

    Shape:
        ``enhancer(wave, sample_rate)``: ``(samples,)`` or ``(channels, samples)`` in,
        the same shape out; channels are enhanced independently.

    Example:
        >>> enh = SpeechEnhancer.pretrained("speech8k", attenuation_limit_db=30)
        >>> clean = enh(noisy, sample_rate=44100)           # doctest: +SKIP
        >>> enh.enhance_file("in.flac", "out.flac")         # any length, bounded memory  # doctest: +SKIP
    """

    def __init__(
        self,
        dae: DenoisingAutoencoder,
        attenuation_limit_db: float | None = None,
        wet: float = 1.0,
        block_seconds: float = 30.0,
        clean_snr_db: float | None = 40.0,
        context_seconds: float = 1.0,
        keep_band: bool = True,
        band_limit_db: float = 20.0,
    ):
        if not hasattr(dae, "model") or not hasattr(dae.model, "stream_state"):
            raise ValueError("SpeechEnhancer needs a DenoisingAutoencoder holding a 'speech_mask' model.")
        checks.POSITIVE.check("attenuation_limit_db", attenuation_limit_db, optional=True)
        checks.PROBABILITY.check("wet", wet)
        checks.POSITIVE.check("block_seconds", block_seconds)
        checks.NON_NEGATIVE.check("context_seconds", context_seconds)
        checks.FINITE.check("clean_snr_db", clean_snr_db, optional=True)
        checks.NON_NEGATIVE.check("band_limit_db", band_limit_db)
        if not isinstance(keep_band, bool):
            raise ValueError(f"keep_band must be True or False, got {keep_band!r}.")
        self.dae = dae.eval()
        self.attenuation_limit_db, self.wet, self.block_seconds = attenuation_limit_db, wet, block_seconds
        self.clean_snr_db, self.context_seconds = clean_snr_db, context_seconds
        self.keep_band, self.band_limit_db = keep_band, band_limit_db
        self.last_estimate_: AudioNoise | None = None

    # -- loading and saving ---------------------------------------------------------------

    @staticmethod
    def bundled() -> list[str]:
        """Names of the speech models shipped with daekit (``"speech8k"``, ``"speech16k"``...);
        :meth:`bundled_rates` gives their sample rates."""
        return list(bundled_models(("SpeechEnhancer",)))

    @staticmethod
    def bundled_rates() -> dict[str, int]:
        """Each shipped speech model's sample rate in Hz, read from its config (no weights loaded)."""
        found = bundled_models(("SpeechEnhancer",))
        return {
            name: int(read_config(folder).get("preprocessing", {}).get("sample_rate", 8000))
            for name, folder in found.items()
        }

    @classmethod
    def pretrained(cls, name: str = "speech16k", **kwargs: Any) -> SpeechEnhancer:
        """A model shipped with daekit (one of :meth:`bundled`)."""
        folder = PRETRAINED_DIR / name
        if not (folder / "config.json").is_file():
            raise ModelFileError(f"no shipped speech model '{name}' (available: {', '.join(cls.bundled()) or 'none'}).")
        return cls.from_pretrained(folder, **kwargs)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> SpeechEnhancer:
        """Load a model folder written by :meth:`save_pretrained` (or by ``daekit audio train``),
        or a bundled name. Keyword arguments override the saved settings."""
        if not Path(path).exists() and str(path) in cls.bundled():
            return cls.pretrained(str(path), **kwargs)
        config, tensors = read_model_folder(path)
        # Folders from before the SpeechEnhancer class say DenoisingAutoencoder: a speech_mask one is speech.
        older = isinstance(config.get("model"), dict) and config["model"].get("name") == "speech_mask"
        expect_class(path, config, ("SpeechEnhancer", "DenoisingAutoencoder") if older else ("SpeechEnhancer",))
        dae = DenoisingAutoencoder.from_weights(config, tensors, source=str(path))
        if getattr(dae.model, "model_name", "") != "speech_mask" or "sample_rate" not in dae.preprocessing:
            raise ModelFileError(f"{path} does not hold a speech model (a 'speech_mask' model with a sample rate).")
        settings = config_section(path, config_section(path, config, "speech"), "settings")
        try:
            cls(dae, **settings)  # the saved settings, by the constructor's own rules (kwargs may override them)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{path}/config.json holds settings SpeechEnhancer refuses: {e}") from None
        return cls(dae, **(settings | kwargs))

    def save_pretrained(self, path: str | os.PathLike, **extra: Any) -> Path:
        """Write the model folder; ``extra`` entries (e.g. the training recipe) go into the
        config's ``"speech"`` section."""
        speech = {
            "settings": {
                "attenuation_limit_db": self.attenuation_limit_db,
                "wet": self.wet,
                "block_seconds": self.block_seconds,
                "clean_snr_db": self.clean_snr_db,
                "context_seconds": self.context_seconds,
                "keep_band": self.keep_band,
                "band_limit_db": self.band_limit_db,
            },
            "latency_ms": self.latency_ms,
        } | extra
        return self.dae.save_pretrained(path, extra={"class": "SpeechEnhancer", "speech": speech})

    # -- facts ---------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        """The model's sample rate (other rates are resampled to it and back)."""
        return int(self.dae.preprocessing["sample_rate"])

    @property
    def causal(self) -> bool:
        """True when the model only looks back (it can stream); False for an offline model
        that also looks ahead (files and arrays only)."""
        return bool(_mask_net(self.dae).causal)

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency at the model's rate: one STFT window for a causal model; for
        an offline one, a block and its look-ahead (how long a sample can wait)."""
        if self.causal:
            return 1000.0 * _mask_net(self.dae).n_fft / self.sample_rate
        return 1000.0 * (self.block_seconds + self.context_seconds)

    def _model_state(self, batch: int) -> MaskStreamState | MaskBlockState:
        """Processing state for audio at the model's rate fed in pieces (see ``offline_state``)."""
        sr = self.sample_rate
        return _mask_net(self.dae).offline_state(
            batch, self._min_gain(), block=max(1, int(self.block_seconds * sr)), context=int(self.context_seconds * sr)
        )

    def estimate_noise(self, wave: ArrayLike, sample_rate: int | None = None) -> AudioNoise | None:
        """The input's noise floor and SNR (``daekit.noise_estimate.AudioNoise``), or None
        when the recording is too short to tell (under two 20 ms frames)."""
        from ..noise_estimate import estimate_audio

        try:
            return estimate_audio(wave, sample_rate=self.sample_rate if sample_rate is None else int(sample_rate))
        except ValueError:
            return None

    def _is_clean(self, estimate: AudioNoise | None) -> bool:
        if self.clean_snr_db is None or estimate is None:
            return False
        return estimate.noise_rms == 0.0 or (estimate.snr_db is not None and estimate.snr_db >= self.clean_snr_db)

    def _min_gain(self) -> float:
        return 0.0 if self.attenuation_limit_db is None else 10.0 ** (-self.attenuation_limit_db / 20.0)

    def _band_limit_db(self) -> float:
        limit = self.band_limit_db
        return limit if self.attenuation_limit_db is None else min(limit, self.attenuation_limit_db)

    # -- offline ---------------------------------------------------------------------------

    def __call__(self, wave: ArrayLike | torch.Tensor, sample_rate: int | None = None) -> np.ndarray:
        """Enhance a whole recording held in memory.

        Args:
            wave: ``(samples,)`` or ``(channels, samples)``, float in [-1, 1] (int PCM is scaled).
            sample_rate: the recording's rate (None: the model's).

        Returns:
            float32 array of the same shape.
        """
        wave = _check_wave(wave)
        sr = self.sample_rate if sample_rate is None else int(sample_rate)
        if wave.shape[-1] == 0:
            return wave.copy()
        x = wave[None] if wave.ndim == 1 else wave
        self.last_estimate_ = self.estimate_noise(x, sr)
        if self._is_clean(self.last_estimate_):
            return wave.astype(np.float32)
        if self.keep_band and sr > self.sample_rate:
            # The band split is the stream's (causal filters, frame by frame), fed in blocks:
            # a causal model's stream then gives exactly this output.
            stream = SpeechStream(self, sample_rate=sr, channels=x.shape[0], offline=True)
            step = max(1, int(self.block_seconds * sr))
            parts = [stream._process(x[:, i : i + step]) for i in range(0, x.shape[1], step)]
            y = np.concatenate(parts + [stream._flush()], axis=1)
            return y[0] if wave.ndim == 1 else y
        if sr != self.sample_rate:
            from ..data.audio import resample

            x_model = resample(x, sr, self.sample_rate)
        else:
            x_model = x
        state = self._model_state(x.shape[0])
        block = max(1, int(self.block_seconds * self.sample_rate))
        outs = [
            state.push(torch.from_numpy(np.ascontiguousarray(x_model[:, i : i + block])))
            for i in range(0, x_model.shape[1], block)
        ]
        outs.append(state.flush())
        y = torch.cat(outs, dim=-1)[:, state.delay :].numpy()
        if sr != self.sample_rate:
            from ..data.audio import resample

            y = resample(y, self.sample_rate, sr)
            y = y[:, : x.shape[1]] if y.shape[1] >= x.shape[1] else np.pad(y, ((0, 0), (0, x.shape[1] - y.shape[1])))
        if self.wet < 1.0:
            y = self.wet * y + (1.0 - self.wet) * x
        y = y.astype(np.float32)
        return y[0] if wave.ndim == 1 else y

    def enhance_file(
        self,
        in_path: str | os.PathLike,
        out_path: str | os.PathLike,
        block_seconds: float = 10.0,
        progress: Callable[[int], object] | None = None,
    ) -> dict[str, Any]:
        """Enhance an audio file of any length, streaming from and to disk (bounded memory).

        The output has the input's rate, channels and length; it is written to a temp
        file and renamed into place only when complete.

        The noise is estimated on the first block; when it says the recording is clean
        (see ``clean_snr_db``) the audio is copied through unchanged.

        Returns:
            ``{"seconds": audio seconds, "compute_s": processing time, "rtf": ratio,
            "noise": the estimate (AudioNoise), "enhanced": False when copied through}``.
        """
        import time

        from ..data.audio import AudioWriter, audio_info, iter_audio_blocks

        sr, channels, frames = audio_info(in_path)  # the rules every reader applies, before out_path is opened
        stream = SpeechStream(self, sample_rate=sr, channels=channels, offline=True)
        compute, estimate, enhance, first = 0.0, None, True, True
        with AudioWriter(out_path, sr, channels) as writer:
            for block in iter_audio_blocks(in_path, max(1, int(block_seconds * sr))):
                t0 = time.perf_counter()
                if first:
                    estimate, first = self.estimate_noise(block, sr), False
                    enhance = not self._is_clean(estimate)
                y = stream.process(block) if enhance else block
                compute += time.perf_counter() - t0
                writer.write(y)
                if progress is not None:
                    progress(block.shape[1])
            if enhance:
                t0 = time.perf_counter()
                y = stream.flush()
                compute += time.perf_counter() - t0
                writer.write(y)
        self.last_estimate_ = estimate
        seconds = frames / sr
        return {
            "seconds": seconds,
            "compute_s": compute,
            "rtf": compute / max(seconds, 1e-9),
            "noise": estimate,
            "enhanced": enhance,
        }

    # -- streaming ---------------------------------------------------------------------------

    def stream(self, sample_rate: int | None = None, channels: int = 1) -> SpeechStream:
        """A live stream: ``s.process(chunk)`` for chunks of any size, ``s.flush()`` at the end.
        Needs a causal model (an offline one would wait seconds for its look-ahead). Its
        output equals offline processing (``enhancer(wave, sample_rate)``, when that does not
        return a clean recording unchanged), the kept band included."""
        if not self.causal:
            raise ValueError(
                "this speech model looks ahead (an offline model for files): it cannot stream "
                "live audio; use a causal model such as the bundled 'speech8k'."
            )
        return SpeechStream(self, sample_rate, channels)


class SpeechStream:
    """Chunk-by-chunk enhancement with a causal speech model (from ``SpeechEnhancer.stream``).

    ``process(chunk)`` returns the enhanced samples that are ready, so the output lags the
    input; the sum of all outputs plus ``flush()`` has exactly the input's length. At the
    model's sample rate it equals offline processing of the whole signal. At other rates a
    causal resampler is used each way, adding ``resampler_delay_ms`` to the latency; above
    the model's rate, with the enhancer's ``keep_band``, the band above the model's Nyquist
    is kept (:class:`~daekit.apps.speech_bands.BandKeeper`), and offline processing runs
    this same causal path, so the two are equal at every rate above the model's.

    Attributes:
        latency_ms: the longest time a sample waits before it can come out (algorithmic:
            one STFT window plus the resamplers' delays, plus ``band_latency_ms``), not
            counting compute time.
        band_latency_ms: what keeping the band adds: 0 while the model's window is at least
            the band's (5-10 ms; so for the shipped models), and 0 when no band is kept.
        band: the ``BandKeeper``, or None (no band above the model's, or ``keep_band=False``).

    ``offline=True`` (used by ``enhance_file`` and offline calls) also accepts an offline
    model, whose output then comes in blocks of ``block_seconds`` once their look-ahead has
    arrived.

    Shape: chunks ``(samples,)`` or ``(channels, samples)`` as set by ``channels``.
    """

    def __init__(
        self, enhancer: SpeechEnhancer, sample_rate: int | None = None, channels: int = 1, offline: bool = False
    ):
        self.enhancer = enhancer
        self.sample_rate = enhancer.sample_rate if sample_rate is None else int(sample_rate)
        if self.sample_rate <= 0 or channels < 1:
            raise ValueError("a stream needs a positive sample rate and at least one channel.")
        self.channels = int(channels)
        self._state = (
            enhancer._model_state(self.channels)
            if offline
            else _mask_net(enhancer.dae).stream_state(batch=self.channels, min_gain=enhancer._min_gain())
        )
        self._skip = self._state.delay  # model outputs that belong to the causal padding
        model_sr = enhancer.sample_rate
        self._resample = self.sample_rate != model_sr
        self._dry = np.zeros((self.channels, 0), np.float32)
        self.resampler_delay_ms = 0.0
        self.band: BandKeeper | None = None
        self.band_latency_ms = 0.0
        self._pending_band: list[np.ndarray] = []  # band output given back while feeding it input or low band
        if self._resample:
            self._down = StreamResampler(self.sample_rate, model_sr, self.channels)
            align = self._down.delay * self.sample_rate / model_sr
            self._up = StreamResampler(model_sr, self.sample_rate, self.channels, align=align)
            # Both filters delay: the output keeps that delay out by skipping its first samples.
            self._skip_out = int(round(align + self._up.delay))
            self.resampler_delay_ms = 1000.0 * self._skip_out / self.sample_rate
            if enhancer.keep_band and self.sample_rate > model_sr:
                # the low band the model sees, back at the input rate: the band kept is the input minus it
                self._up_lo = StreamResampler(model_sr, self.sample_rate, self.channels, align=align)
                self._skip_lo = self._skip_out
                model_wait = int(round(enhancer.latency_ms * self.sample_rate / 1000.0))
                self.band = BandKeeper(
                    self.sample_rate, model_sr, self.channels, enhancer._band_limit_db(), model_latency=model_wait
                )
                self.band_latency_ms = 1000.0 * self.band.extra_latency / self.sample_rate
        else:
            self._skip_out = 0
        self._n_in = 0
        self._n_out = 0
        self.latency_ms = enhancer.latency_ms + self.resampler_delay_ms + self.band_latency_ms

    def _shape_in(self, chunk: ArrayLike | torch.Tensor) -> np.ndarray:
        chunk = _check_wave(chunk, "the chunk")
        x = chunk[None] if chunk.ndim == 1 else chunk
        if x.shape[0] != self.channels:
            raise ValueError(f"the chunk has {x.shape[0]} channel(s) but the stream was opened with {self.channels}.")
        return x

    def _model(self, x_model: np.ndarray) -> np.ndarray:
        y = self._state.push(torch.from_numpy(np.ascontiguousarray(x_model))).numpy()
        if self._skip:
            cut = min(self._skip, y.shape[1])
            y, self._skip = y[:, cut:], self._skip - cut
        return y

    def _low_band(self, x_model: np.ndarray, final: bool = False) -> None:
        """Hand the band keeper the low band of the input (the model's input, back at the input rate)."""
        assert self.band is not None
        lo = self._up_lo.process(x_model)
        if final:
            lo = np.concatenate([lo, self._up_lo.process(np.zeros((self.channels, self._up_lo.drain)))], axis=1)
        if self._skip_lo:
            cut = min(self._skip_lo, lo.shape[1])
            lo, self._skip_lo = lo[:, cut:], self._skip_lo - cut
        self._pending_band.append(self.band.push(lo=lo))

    def _finish(self, y: np.ndarray, final: bool = False) -> np.ndarray:
        if self._resample:
            y = self._up.process(y)
            if final:  # drain the upsampler's delay
                y = np.concatenate([y, self._up.process(np.zeros((self.channels, self._up.drain), np.float32))], 1)
            if self._skip_out:
                cut = min(self._skip_out, y.shape[1])
                y, self._skip_out = y[:, cut:], self._skip_out - cut
        if self.band is not None:  # the model's output plus the kept band, where both are final
            parts = self._pending_band + [self.band.push(y=y)]
            if final:
                parts.append(self.band.flush(self._n_in))
            self._pending_band = []
            y = np.concatenate(parts, axis=1)
        # never more output than input; at the end exactly as much
        room = self._n_in - self._n_out
        y = y[:, :room]
        if final and y.shape[1] < room:
            y = np.pad(y, ((0, 0), (0, room - y.shape[1])))
        wet = self.enhancer.wet
        if wet < 1.0:
            y = wet * y + (1.0 - wet) * self._dry[:, : y.shape[1]]
        self._dry = self._dry[:, y.shape[1] :]
        self._n_out += y.shape[1]
        return y.astype(np.float32)

    def _process(self, x: np.ndarray) -> np.ndarray:
        self._n_in += x.shape[1]
        if self.enhancer.wet < 1.0:
            self._dry = np.concatenate([self._dry, x], axis=1)
        x_model = self._down.process(x) if self._resample else x
        if self.band is not None:
            self._pending_band = [self.band.push(x=x)]
            self._low_band(x_model)
        return self._finish(self._model(x_model))

    def process(self, chunk: ArrayLike | torch.Tensor) -> np.ndarray:
        """Feed a chunk; returns the enhanced samples that are ready (possibly none)."""
        y = self._process(self._shape_in(chunk))
        return y[0] if np.ndim(chunk) == 1 else y

    def _flush(self) -> np.ndarray:
        parts = []
        if self._resample:  # drain the downsampler's delay into the model
            tail = self._down.process(np.zeros((self.channels, self._down.drain), np.float32))
            if self.band is not None:
                self._pending_band = []
                self._low_band(tail, final=True)
            parts.append(self._model(tail))
        y = self._state.flush().numpy()
        if self._skip:
            cut = min(self._skip, y.shape[1])
            y, self._skip = y[:, cut:], self._skip - cut
        return self._finish(np.concatenate(parts + [y], axis=1), final=True)

    def flush(self) -> np.ndarray:
        """End of input: returns the remaining output (the stream cannot be fed again)."""
        out = self._flush()
        return out[0] if self.channels == 1 else out
