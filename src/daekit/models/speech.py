"""A spectral-mask denoising autoencoder for speech: waveform in, waveform out.

``SpectralMaskNet`` is the NSNet / RNNoise family of speech enhancers: a short-time
Fourier transform, a log-power spectrum per frame, a small recurrent encoder (GRU) and a
decoder that predicts a gain in [0, 1] for every time-frequency bin, applied to the
noisy spectrum and turned back into a waveform by overlap-add. With ``causal=True`` each
output frame depends only on the frames before it, so the same weights run offline (all
frames at once) and streaming (one hop at a time, :class:`MaskStreamState`) with the
same output; the algorithmic latency is one window (``n_fft`` samples).

Why this family (measured, see recipes/speech8k.md): a mask cannot invent signal, so it
degrades gracefully and never hallucinates speech in silence, it trains in minutes of
CPU time per thousand steps, and the per-frame recurrent step costs well under a
millisecond, which keeps the streaming real-time factor tiny on one core.

The STFT framing is causal and exact: the signal is padded on the left by
``n_fft - hop_length`` zeros, frames are taken every ``hop_length`` samples with a
periodic Hann window, and the inverse overlap-adds Hann-windowed frames divided by the
constant window-square sum (1.5 for a hop of a quarter window), so an all-ones mask
gives the input back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Autoencoder

__all__ = ["SpectralMaskNet", "MaskStreamState", "MaskBlockState", "to_bidirectional"]

_LOG_EPS = 1e-10


class SpectralMaskNet(Autoencoder):
    """Predict a time-frequency gain mask from the log-power spectrum with a GRU.

    Args:
        n_fft: window and FFT size in samples (256 = 32 ms at 8 kHz); must be a multiple
            of 4 times ``hop_length``... exactly ``4 * hop_length`` is the tested setting.
        hop_length: frame step in samples.
        hidden_size: width of the encoder's recurrent layers.
        num_layers: recurrent layers in the encoder.
        causal: one-directional GRU (streaming-capable) when True; bidirectional otherwise.
        min_gain: floor of the mask applied inside ``forward`` (0 = no floor); the
            application can raise it at inference as an attenuation limit.
        output_activation: kept for the ``Autoencoder`` contract; always ``"identity"``
            (the output is a waveform).

    Shape:
        x: ``(N, 1, T)`` waveform (any T >= 1); returns ``(N, 1, T)``.
        encode(x): ``(N, frames, hidden_size)`` (``2 * hidden_size`` when not causal).

    Example:
        >>> import torch
        >>> net = SpectralMaskNet(hidden_size=32)
        >>> net(torch.randn(2, 1, 4000)).shape
        torch.Size([2, 1, 4000])
    """

    window: torch.Tensor  # a non-persistent buffer, registered in __init__

    def __init__(
        self,
        n_fft: int = 256,
        hop_length: int = 64,
        hidden_size: int = 192,
        num_layers: int = 2,
        causal: bool = True,
        min_gain: float = 0.0,
        output_activation: str = "identity",
    ):
        super().__init__()
        if n_fft < 8 or n_fft % hop_length or n_fft // hop_length != 4:
            raise ValueError(f"n_fft={n_fft}, hop_length={hop_length} are not valid: use hop_length = n_fft / 4.")
        if not 0.0 <= min_gain <= 1.0:
            raise ValueError(f"min_gain={min_gain!r} is not valid: expected a number in [0, 1].")
        if output_activation != "identity":
            raise ValueError("SpectralMaskNet outputs a waveform: output_activation must be 'identity'.")
        self.n_fft, self.hop_length = n_fft, hop_length
        self.hidden_size, self.num_layers, self.causal = hidden_size, num_layers, causal
        self.min_gain, self.output_activation = min_gain, output_activation
        bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)
        # sum_k w^2(t - kH) for a periodic Hann window at H = N/4 is exactly 1.5
        self.ola_norm = 1.5
        self.inp = nn.Sequential(nn.Linear(bins, hidden_size), nn.PReLU())
        self.gru = nn.GRU(hidden_size, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=not causal)
        width = hidden_size * (1 if causal else 2)
        self.out = nn.Sequential(nn.Linear(width, hidden_size), nn.PReLU(), nn.Linear(hidden_size, bins))

    @classmethod
    def contract_example(cls) -> tuple[dict, tuple]:
        return {"n_fft": 64, "hop_length": 16, "hidden_size": 16, "num_layers": 1}, (2, 1, 300)

    # -- STFT -----------------------------------------------------------------------------

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """Causal frames of ``(N, 1, T)`` -> complex spectrum ``(N, frames, bins)``.

        Frame k covers original samples ``[kH - (n_fft - H), kH + H)``; frames run until
        every input sample is covered by ``n_fft / H`` frames.
        """
        n, c, t = x.shape
        pad_left = self.n_fft - self.hop_length
        # Enough frames that the last sample is covered by all four of its frames.
        pad_right = math.ceil(t / self.hop_length) * self.hop_length - t + pad_left
        padded = F.pad(x.reshape(n, t), (pad_left, pad_right))
        segs = padded.unfold(-1, self.n_fft, self.hop_length)  # (N, frames, n_fft)
        return torch.fft.rfft(segs * self.window, dim=-1)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Inverse of :meth:`stft`: ``(N, frames, bins)`` -> ``(N, 1, length)``."""
        n, frames, _ = spec.shape
        segs = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window  # (N, frames, n_fft)
        total = (frames - 1) * self.hop_length + self.n_fft
        out = F.fold(
            segs.transpose(1, 2), output_size=(1, total), kernel_size=(1, self.n_fft), stride=(1, self.hop_length)
        ).reshape(n, total)
        pad_left = self.n_fft - self.hop_length
        return (out[:, pad_left : pad_left + length] / self.ola_norm).unsqueeze(1)

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        # Log power, roughly centred and scaled to unit range for speech at typical levels.
        power = spec.real.square() + spec.imag.square()
        return (torch.log10(power + _LOG_EPS) + 4.0) / 3.0

    # -- the autoencoder ------------------------------------------------------------------

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.gru(self.inp(self.features(self.stft(x))))
        return z

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "SpectralMaskNet decodes a code together with the noisy spectrum: call forward(x) or mask(x)."
        )

    def mask_from_code(self, z: torch.Tensor, min_gain: float | None = None) -> torch.Tensor:
        gain = torch.sigmoid(self.out(z))
        floor = self.min_gain if min_gain is None else min_gain
        return gain.clamp_min(floor) if floor > 0 else gain

    def mask(self, x: torch.Tensor, min_gain: float | None = None) -> torch.Tensor:
        """The gain per frame and bin, ``(N, frames, bins)`` in [min_gain, 1]."""
        return self.mask_from_code(self.encode(x), min_gain)

    def enhance(self, x: torch.Tensor, min_gain: float | None = None) -> torch.Tensor:
        """Masked waveform ``(N, 1, T)``; ``min_gain`` overrides the stored floor."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"SpectralMaskNet expects a (N, 1, T) waveform, got shape {tuple(x.shape)}.")
        spec = self.stft(x)
        z, _ = self.gru(self.inp(self.features(spec)))
        return self.istft(spec * self.mask_from_code(z, min_gain), x.shape[-1])

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.enhance(x)

    # -- streaming ------------------------------------------------------------------------

    def stream_state(self, batch: int = 1, min_gain: float | None = None) -> MaskStreamState:
        """A fresh streaming state (causal models only); see :class:`MaskStreamState`."""
        if not self.causal:
            raise ValueError("only a causal SpectralMaskNet can stream: this one is bidirectional.")
        return MaskStreamState(self, batch, min_gain)

    def offline_state(
        self, batch: int = 1, min_gain: float | None = None, block: int = 80_000, context: int = 8_000
    ) -> MaskStreamState | MaskBlockState:
        """The state for offline processing of audio fed in pieces: the streaming state of a
        causal model, or a :class:`MaskBlockState` (``block`` samples at a time with
        ``context`` samples either side) of a bidirectional one."""
        if self.causal:
            return self.stream_state(batch, min_gain)
        return MaskBlockState(self, batch, min_gain, block=block, context=context)


def to_bidirectional(model: SpectralMaskNet) -> SpectralMaskNet:
    """A bidirectional copy of a causal ``SpectralMaskNet`` whose output starts out equal.

    The forward direction keeps the causal weights; the backward direction starts as a
    time-reversed copy of them, and the weights that read it (the second GRU layer's and
    the output layer's new input columns) start at zero. Fine-tuning then learns how much
    of the future to use, from a model that is already good instead of from scratch.
    """
    if not model.causal:
        raise ValueError("the model is already bidirectional.")
    h = model.hidden_size
    wide = SpectralMaskNet(
        model.n_fft, model.hop_length, h, model.num_layers, causal=False, min_gain=model.min_gain
    ).to(model.window.device)
    wide.inp.load_state_dict(model.inp.state_dict())
    old = dict(model.gru.named_parameters())
    wide_proj, proj = wide.out[0], model.out[0]  # the Linear layers that read the GRU
    assert isinstance(wide_proj, nn.Linear) and isinstance(proj, nn.Linear)
    with torch.no_grad():
        for name, param in wide.gru.named_parameters():
            reverse = name.endswith("_reverse")
            source = old[name.removesuffix("_reverse")]
            if param.shape == source.shape:
                param.copy_(source)
            else:  # a layer above the first reads [forward | backward]: each direction its own half
                param.zero_()
                param[:, h:] = source if reverse else 0.0
                if not reverse:
                    param[:, :h] = source
        wide_proj.weight.zero_()
        wide_proj.weight[:, :h] = proj.weight
        wide_proj.bias.copy_(proj.bias)
    wide.out[1].load_state_dict(model.out[1].state_dict())
    wide.out[2].load_state_dict(model.out[2].state_dict())
    return wide


class MaskStreamState:
    """Hop-by-hop processing with a :class:`SpectralMaskNet`, equal to the offline output.

    ``push(x)`` takes any number of new samples ``(N, S)`` and returns every output sample
    that became final, ``(N, S')``. The output is the offline output delayed by
    ``delay = n_fft - hop_length`` samples (its first ``delay`` samples belong to the
    left padding of the causal framing; drop them); ``flush()`` returns the rest. A sample waits at most
    ``n_fft - 1`` samples before it can be output: that is the algorithmic latency.
    """

    def __init__(self, model: SpectralMaskNet, batch: int = 1, min_gain: float | None = None):
        self.model, self.min_gain = model, min_gain
        n_fft, hop = model.n_fft, model.hop_length
        self.delay = n_fft - hop
        ref = model.window
        self._inbuf = torch.zeros(batch, n_fft - hop, dtype=ref.dtype, device=ref.device)  # past samples
        self._pending = torch.zeros(batch, 0, dtype=ref.dtype, device=ref.device)  # not yet a full hop
        self._ola = torch.zeros(batch, n_fft - hop, dtype=ref.dtype, device=ref.device)
        self._hidden: torch.Tensor | None = None
        self.samples_in = 0

    @torch.no_grad()
    def push(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        hop = m.hop_length
        self.samples_in += x.shape[-1]
        buf = torch.cat([self._pending, x.to(self._pending.dtype)], dim=-1)
        hops = buf.shape[-1] // hop
        self._pending = buf[:, hops * hop :]
        if hops == 0:
            return buf.new_zeros(buf.shape[0], 0)
        # All complete hops at once: frames over [past | new], one GRU call for all of them.
        stream = torch.cat([self._inbuf, buf[:, : hops * hop]], dim=-1)
        segs = stream.unfold(-1, m.n_fft, hop)  # (N, hops, n_fft)
        spec = torch.fft.rfft(segs * m.window, dim=-1)
        z, self._hidden = m.gru(m.inp(m.features(spec)), self._hidden)
        frames = torch.fft.irfft(spec * m.mask_from_code(z, self.min_gain), n=m.n_fft, dim=-1) * m.window
        self._inbuf = stream[:, -(m.n_fft - hop) :]
        # Overlap-add the new frames onto the unfinished tail; the first hops * hop samples are final.
        n = frames.shape[0]
        total = (hops - 1) * hop + m.n_fft
        acc = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, m.n_fft), stride=(1, hop)).reshape(
            n, total
        )
        acc[:, : m.n_fft - hop] += self._ola
        self._ola = acc[:, hops * hop :]
        return acc[:, : hops * hop] / m.ola_norm

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """Feed zeros until every input sample has come out; returns the remaining output."""
        # The delayed output has delay + samples_in samples; push() has given back all
        # but delay + pending of them. Zeros complete the last hop and the delay.
        hop = self.model.hop_length
        pending = self._pending.shape[-1]
        zeros = (-pending) % hop + self.delay
        tail = self.push(self._pending.new_zeros(self._pending.shape[0], zeros))
        self.samples_in -= zeros
        return tail[:, : self.delay + pending]


class MaskBlockState:
    """Offline processing of a bidirectional :class:`SpectralMaskNet` in bounded memory.

    The signal is cut into blocks of ``block`` samples; each is enhanced together with
    ``context`` samples on either side (the model looks both ways) and only its own part
    is kept. The blocks sit at fixed positions, so the output does not depend on how the
    input is fed; a signal of at most ``block + context`` samples is enhanced in one piece,
    exactly as ``model.enhance`` would. Same interface as :class:`MaskStreamState`
    (``push``/``flush``, ``delay`` = 0: output samples are already aligned), but a sample
    can wait up to ``block + context`` samples: this is for files, not live audio.
    """

    def __init__(
        self,
        model: SpectralMaskNet,
        batch: int = 1,
        min_gain: float | None = None,
        block: int = 80_000,
        context: int = 8_000,
    ):
        hop = model.hop_length
        if block < 1 or context < 0:
            raise ValueError(f"block={block}, context={context} are not valid: block >= 1 and context >= 0 samples.")
        # Hop multiples keep every block's frames on the whole signal's frame grid.
        self.block, self.context = -(-block // hop) * hop, -(-context // hop) * hop
        self.model, self.min_gain, self.delay = model, min_gain, 0
        ref = model.window
        self._buf = torch.zeros(batch, 0, dtype=ref.dtype, device=ref.device)  # from _start - context on
        self._start = 0  # first sample not yet output
        self._buf_from = 0  # signal position of _buf[:, 0]
        self.samples_in = 0

    def _enhance(self, lo: int, hi: int, keep_from: int, keep_to: int) -> torch.Tensor:
        seg = self._buf[:, lo - self._buf_from : hi - self._buf_from]
        y = self.model.enhance(seg.unsqueeze(1), self.min_gain)[:, 0]
        return y[:, keep_from - lo : keep_to - lo]

    @torch.no_grad()
    def push(self, x: torch.Tensor) -> torch.Tensor:
        self._buf = torch.cat([self._buf, x.to(self._buf.dtype)], dim=-1)
        self.samples_in += x.shape[-1]
        outs = []
        # A block is done once its right context has arrived; the last one waits for flush().
        while self.samples_in >= self._start + self.block + self.context + 1:
            lo, end = max(0, self._start - self.context), self._start + self.block
            outs.append(self._enhance(lo, end + self.context, self._start, end))
            self._start = end
            drop = max(0, self._start - self.context) - self._buf_from
            self._buf, self._buf_from = self._buf[:, drop:], self._buf_from + drop
        return torch.cat(outs, dim=-1) if outs else self._buf.new_zeros(self._buf.shape[0], 0)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """Enhance what is left (at most ``block + context`` samples) and return it."""
        if self.samples_in <= self._start:
            return self._buf.new_zeros(self._buf.shape[0], 0)
        lo = max(0, self._start - self.context)
        y = self._enhance(lo, self.samples_in, self._start, self.samples_in)
        self._start = self.samples_in
        return y
