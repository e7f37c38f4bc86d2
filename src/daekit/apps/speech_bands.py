"""Keep the band above a speech model's Nyquist: :class:`BandKeeper`.

A model that works at 8 kHz sees only the band below 4 kHz of a 48 kHz recording. Rather
than delete everything above (telephone audio), ``SpeechStream`` (``apps/speech.py``)
splits the input ``x`` at the input rate into the low band ``lo`` (what the model sees,
resampled down and back up) and the residual ``r = x - lo``; the model enhances the low
band, and this module turns the residual down per band and adds it back::

    z = y + istft(gain * stft(r))           y: the model's output at the input rate

The gain of each band (half-octave bands above the model's Nyquist) is a Wiener-like gain
``1 - beta * N / P`` of the band's smoothed power ``P`` (about 10 ms) and noise ``N``, with
a floor (``floor_db``), rising at once and falling over 30 ms. The noise comes from two
sources, weighed by the model's verdict on the frame:

* the band's own estimate: minimum statistics (Martin 2001), the least ``P`` of the last
  1.5 s times a bias factor, which follows stationary noise and lets through whatever
  rises above it (speech, or a chirp the model never sees);
* the model's verdict: the energy its output keeps of its input in its top band (0.7-0.9
  of its Nyquist), measured on the same frames at the input rate. Where the model hears
  noise there (its gain below 0.15; speech above 0.5), the band's power right now counts
  as noise, which also catches noise that is not stationary. The verdict counts only
  where the model's band holds power comparable to the band's (over 1 %): a sound above
  the model's band with nothing in it is left to the band's own estimate.

The gain per bin is interpolated in log frequency from the model's own top-band gain at its
Nyquist to the band gains at the band centres. Both halves of the resamplers' transition
band (``lo`` and ``r`` overlap there, summing to the input) thus get nearly the gain the
model gave, and the level moves smoothly from the model's to the band's over the first
band: no hole and no bump. With every gain 1 the split is exact (``y + r == x`` when the
model changes nothing).

Everything is causal and frame by frame: the output does not depend on how the signal is
cut into chunks, so a stream equals offline processing. The model's verdict is read one
window (``n_fft`` samples, 5-10 ms) late, so this band never makes a sample wait longer
than the model's own output does: no latency is added while the model's window is longer
than this one's (``extra_latency``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BandKeeper", "band_edges"]

_EPS = 1e-20


def band_edges(sample_rate: int, model_rate: int) -> list[float]:
    """Edges in Hz of the kept bands: half-octaves from the model's Nyquist up to the
    input's, the last one widened rather than left narrower than a quarter octave."""
    f0, top = model_rate / 2.0, sample_rate / 2.0
    if top <= f0:
        return []
    edges = [f0]
    while edges[-1] * math.sqrt(2.0) < top:
        edges.append(edges[-1] * math.sqrt(2.0))
    if len(edges) > 1 and top / edges[-1] < 2.0**0.25:
        edges.pop()
    return edges + [top]


class BandKeeper:
    """Frame-by-frame gains for the band of the input above the model's Nyquist.

    Feed the three aligned signals at the input rate as they become available, in any
    chunk sizes: ``push(x=...)`` the input, ``push(lo=...)`` the low band (the input
    resampled to the model's rate and back), ``push(y=...)`` the model's output resampled
    back; each call returns the output samples ``y + kept band`` that became final.
    ``flush(total)`` returns the rest, up to ``total`` samples in all.

    Args:
        sample_rate: the input's rate (above ``model_rate``).
        model_rate: the model's rate.
        channels: independent channels.
        floor_db: the most the band is turned down, in dB.
        model_latency: how many samples the model's output waits (at ``sample_rate``);
            only to report ``extra_latency``.
        beta: over-subtraction of the noise in the Wiener gain.

    Attributes:
        n_fft, hop: the frames (periodic Hann, a quarter-window hop, about 5-10 ms).
        edges: the bands, Hz. extra_latency: samples this adds to the model's wait (0 when
        the model's wait is at least one window).

    Shape: ``push`` takes ``(C, S)`` arrays; returns ``(C, S')``.

    Example:
        >>> import numpy as np
        >>> keeper = BandKeeper(48000, 8000, floor_db=0.0)   # every gain 1: the input back
        >>> x = np.random.default_rng(0).standard_normal((1, 4800))
        >>> lo = np.zeros_like(x)                              # (a model band of silence)
        >>> z = np.concatenate([keeper.push(x=x, lo=lo, y=lo), keeper.flush(4800)], axis=1)
        >>> bool(np.allclose(z, x))
        True
    """

    def __init__(
        self,
        sample_rate: int,
        model_rate: int,
        channels: int = 1,
        floor_db: float = 20.0,
        model_latency: int = 0,
        beta: float = 1.5,
    ):
        if sample_rate <= model_rate:
            raise ValueError(f"no band to keep: the input's rate {sample_rate} is not above the model's {model_rate}.")
        self.sample_rate, self.model_rate, self.channels = int(sample_rate), int(model_rate), int(channels)
        self.floor = 10.0 ** (-float(floor_db) / 20.0)
        self.beta = float(beta)
        n = 2 ** max(4, int(math.floor(math.log2(0.01 * sample_rate))))
        self.n_fft, self.hop = n, n // 4
        self.window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)  # periodic Hann; OLA of w^2 at n/4 is 1.5
        self.edges = band_edges(sample_rate, model_rate)
        self.extra_latency = max(0, n - int(model_latency))
        freqs = np.arange(n // 2 + 1) * sample_rate / n
        f0 = model_rate / 2.0
        # Bins of each kept band (its power density), and of the model's top band (below the
        # resamplers' transition, where the low band is whole).
        nb = len(self.edges) - 1
        self._band_of = np.full(freqs.size, -1)
        for b in range(nb):
            last = b == nb - 1
            sel = (freqs >= self.edges[b]) & ((freqs <= self.edges[b + 1]) if last else (freqs < self.edges[b + 1]))
            self._band_of[sel] = b
        self._band_bins = [np.flatnonzero(self._band_of == b) for b in range(nb)]
        empty = [b for b, idx in enumerate(self._band_bins) if idx.size == 0]
        for b in empty:  # a band narrower than a bin (short frames at a low rate): its nearest bin
            centre = math.sqrt(self.edges[b] * self.edges[b + 1])
            self._band_bins[b] = np.array([int(np.argmin(np.abs(freqs - centre)))])
        top = np.flatnonzero((freqs >= 0.7 * f0) & (freqs <= 0.9 * f0))
        self._top_bins = top if top.size else np.array([int(np.argmin(np.abs(freqs - 0.8 * f0)))])
        # Gain per bin = interp (log f) of anchors [model gain at f0, band gains at band centres].
        anchors = np.log([f0] + [math.sqrt(self.edges[b] * self.edges[b + 1]) for b in range(nb)])
        logf = np.log(np.maximum(freqs, 1.0))
        self._interp = np.stack([np.interp(logf, anchors, np.eye(nb + 1)[i]) for i in range(nb + 1)])  # (nb+1, bins)
        hop_s = self.hop / sample_rate
        self._a_power = math.exp(-hop_s / 0.010)  # the band's power, smoothed over about 10 ms
        self._a_guide = math.exp(-hop_s / 0.010)  # the model's top-band energies, likewise
        self._a_release = math.exp(-hop_s / 0.030)  # gains rise at once and fall over 30 ms
        # Minimum statistics (Martin 2001): the least smoothed power over the last 1.5 s, kept as
        # the minima of 6 sub-windows of 0.25 s, times the ratio of the mean of noise to its minimum.
        self._sub_frames = max(1, int(round(0.25 / hop_s)))
        self._subs = 6
        self._bias = 1.5
        self._presence = (0.15, 0.5)  # the model's top-band gain read as noise .. speech (tuned: benchmarks)
        self._reliance = 0.01  # the model's band must hold more than this fraction of the band's power density
        c, pad = self.channels, n - self.hop
        # Buffers hold samples from an absolute index on; the framing pads 3 hops of zeros on
        # the left, so every buffer starts at -pad.
        self._x = np.zeros((c, 0))  # input not yet matched by a low-band sample
        self._x_from = 0
        self._r = np.zeros((c, pad))  # residual x - lo
        self._r_from = -pad
        self._lo = np.zeros((c, pad))  # low band and model output, for the model's verdict
        self._yg = np.zeros((c, pad))
        self._g_from = -pad
        self._y = np.zeros((c, 0))  # model output not yet given out, from _out_from
        self._out_from = 0
        self._n_lo = self._n_y = 0  # samples of lo / y received
        self._k_r = 0  # next residual frame
        self._k_g = 0  # next verdict frame
        self._guide: list[np.ndarray] = []  # per frame from _k_g_from: (2, C) top-band densities of lo, y
        self._k_g_from = 0
        self._ola = np.zeros((c, 0))  # kept band, overlap-added, from _ola_from
        self._ola_from = -pad
        # recursive state, (C, bands)
        self._p = np.zeros((c, nb))
        self._min_now = np.full((c, nb), np.inf)  # minimum of the sub-window in progress
        self._mins = np.full((self._subs, c, nb), np.inf)  # minima of the last complete sub-windows
        self._gain = np.ones((c, nb))
        self._s = np.zeros((2, c))  # smoothed top-band densities of lo and y

    # -- feeding -------------------------------------------------------------------------------

    def push(
        self, x: np.ndarray | None = None, lo: np.ndarray | None = None, y: np.ndarray | None = None
    ) -> np.ndarray:
        """Append any of the three signals (aligned, at the input rate); returns final output samples."""
        if x is not None:
            self._x = np.concatenate([self._x, np.asarray(x, np.float64)], axis=1)
        if lo is not None:
            lo = np.asarray(lo, np.float64)
            k = lo.shape[1]
            # r = x - lo over the new samples; input not fed (after the end) counts as zero
            start = self._n_lo - self._x_from
            xs = self._x[:, start : start + k]
            xs = np.pad(xs, ((0, 0), (0, k - xs.shape[1]))) if xs.shape[1] < k else xs
            self._r = np.concatenate([self._r, xs - lo], axis=1)
            self._lo = np.concatenate([self._lo, lo], axis=1)
            self._n_lo += k
            drop = min(self._x.shape[1], self._n_lo - self._x_from)
            self._x, self._x_from = self._x[:, drop:], self._x_from + drop
        if y is not None:
            y = np.asarray(y, np.float64)
            self._y = np.concatenate([self._y, y], axis=1)
            self._yg = np.concatenate([self._yg, y], axis=1)
            self._n_y += y.shape[1]
        return self._run()

    def flush(self, total: int) -> np.ndarray:
        """End of input: pad with zeros and return the output up to ``total`` samples in all."""
        n, h = self.n_fft, self.hop
        # Sample total - 1 is final once frame ceil((total + n - h) / h) - 1 is done; that frame
        # ends at frames * h and needs the verdict of the frame 4 before it.
        frames = -(-(total + n - h) // h)
        lo = max(0, frames * h - self._n_lo)
        y = max(0, frames * h - self._n_y, total - self._n_y)
        out = self.push(lo=np.zeros((self.channels, lo)), y=np.zeros((self.channels, y)))
        return out[:, : max(0, total - (self._out_from - out.shape[1]))]

    # -- the frames ----------------------------------------------------------------------------

    def _spectra(self, buf: np.ndarray, buf_from: int, k0: int, k1: int) -> np.ndarray:
        """rfft of frames k0..k1-1 of a buffer held from absolute index buf_from."""
        n, h = self.n_fft, self.hop
        lo = k0 * h - (n - h) - buf_from
        seg = buf[..., lo : lo + (k1 - k0 - 1) * h + n]
        frames = np.lib.stride_tricks.sliding_window_view(seg, n, axis=-1)[..., ::h, :]
        return np.fft.rfft(frames * self.window, axis=-1)

    def _run(self) -> np.ndarray:
        n, h = self.n_fft, self.hop
        q = n // h  # frames per window; the verdict used by frame k is that of frame k - q
        # the model's verdict: top-band densities of lo and y, per complete frame
        g_end = self._g_from + min(self._lo.shape[1], self._yg.shape[1])
        k_g1 = g_end // h  # frame k covers [k h - (n - h), (k + 1) h)
        if k_g1 > self._k_g:
            w = g_end - self._g_from
            both = np.stack([self._lo[:, :w], self._yg[:, :w]])
            top = self._spectra(both, self._g_from, self._k_g, k_g1)[..., self._top_bins]  # (2, C, frames, bins)
            dens = (top.real**2 + top.imag**2).mean(-1)
            self._guide.extend(np.moveaxis(dens, 2, 0))  # (2, C) per frame
            self._k_g = k_g1
            drop = self._k_g * h - (n - h) - self._g_from
            self._lo, self._yg, self._g_from = self._lo[:, drop:], self._yg[:, drop:], self._g_from + drop
        # the kept band: frames whose residual is complete and whose verdict is known
        k_r1 = min((self._r_from + self._r.shape[1]) // h, self._k_g + q)
        if k_r1 > self._k_r:
            self._frames(self._k_r, k_r1)
            self._k_r = k_r1
            drop = self._k_r * h - (n - h) - self._r_from
            self._r, self._r_from = self._r[:, drop:], self._r_from + drop
        # output: the kept band where no later frame adds to it, plus the model's output
        final = self._k_r * h - (n - h)
        m = max(0, min(final, self._out_from + self._y.shape[1]) - self._out_from)
        i = self._out_from - self._ola_from
        out = self._y[:, :m] + self._ola[:, i : i + m]
        self._y, self._out_from = self._y[:, m:], self._out_from + m
        keep = min(self._out_from, final)  # the next frame starts at final (before 0 at first)
        self._ola, self._ola_from = self._ola[:, keep - self._ola_from :], keep
        return out

    def _frames(self, k0: int, k1: int) -> None:
        n, h = self.n_fft, self.hop
        spec = self._spectra(self._r, self._r_from, k0, k1)  # (C, frames, bins)
        power = spec.real**2 + spec.imag**2
        dens = np.stack([power[..., idx].mean(-1) for idx in self._band_bins], axis=-1)  # (C, frames, bands)
        anchors = np.empty((self.channels, k1 - k0, dens.shape[-1] + 1))
        lo_p, hi_p = self._presence
        q = n // h
        for i, k in enumerate(range(k0, k1)):
            j = k - q  # the model's verdict one window back: no wait beyond the model's own
            if j >= 0:
                g = self._guide[j - self._k_g_from]
                self._s = self._a_guide * self._s + (1.0 - self._a_guide) * g
            e = dens[:, i]
            self._p = e.copy() if k == 0 else self._a_power * self._p + (1.0 - self._a_power) * e
            if k >= q - 1:  # frames of signal only (the first ones hold the framing's zeros)
                self._min_now = np.minimum(self._min_now, self._p)
                if (k - q + 2) % self._sub_frames == 0:
                    self._mins = np.concatenate([self._mins[1:], self._min_now[None]])
                    self._min_now = np.full_like(self._p, np.inf)
            floor_noise = self._bias * np.minimum(self._mins.min(0), self._min_now)
            floor_noise = np.where(np.isfinite(floor_noise), floor_noise, self._p)
            s_lo, s_y = self._s[0][:, None], self._s[1][:, None]
            m_top = np.sqrt(np.clip((s_y + _EPS) / (s_lo + _EPS), 0.0, 1.0))  # (C, 1)
            # The model's verdict counts where its band holds energy comparable to this band's.
            lean = self._reliance * self._p
            m_band = np.sqrt(np.clip((s_y + lean + _EPS) / (s_lo + lean + _EPS), 0.0, 1.0))  # (C, bands)
            speech = np.clip((m_band - lo_p) / (hi_p - lo_p), 0.0, 1.0)
            # Where the model hears noise, the band's power now is noise; where speech, the floor.
            noise = speech * floor_noise + (1.0 - speech) * np.maximum(floor_noise, self._p)
            wiener = np.clip(1.0 - self.beta * noise / (self._p + _EPS), 0.0, 1.0)
            raw = np.maximum(wiener, self.floor)
            self._gain = np.maximum(raw, self._a_release * self._gain + (1.0 - self._a_release) * raw)
            anchors[:, i, 0] = m_top[:, 0]
            anchors[:, i, 1:] = self._gain
        # drop verdicts no later frame needs
        need_from = k1 - q
        if need_from > self._k_g_from:
            cut = min(need_from - self._k_g_from, len(self._guide))
            self._guide = self._guide[cut:]
            self._k_g_from += cut
        gains = anchors @ self._interp  # (C, frames, bins)
        frames = np.fft.irfft(spec * gains, n=n, axis=-1) * self.window / 1.5
        # overlap-add: frame k covers [k h - (n - h), k h + h)
        start = k0 * h - (n - h)
        end = (k1 - 1) * h + h
        need = end - self._ola_from
        if need > self._ola.shape[1]:
            self._ola = np.concatenate([self._ola, np.zeros((self.channels, need - self._ola.shape[1]))], axis=1)
        base = start - self._ola_from
        for i in range(k1 - k0):
            self._ola[:, base + i * h : base + i * h + n] += frames[:, i]
