"""Causal polyphase resampling for streams: :class:`StreamResampler`, which
``SpeechStream`` (``apps/speech.py``, which re-exports it) runs each way when the audio's
rate is not the model's. scipy is imported inside, as by the rest of the speech app.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["StreamResampler"]


class StreamResampler:
    """Causal polyphase FIR resampling for a stream, chunk by chunk (any chunk size).

    The filter is scipy's ``resample_poly`` design (Kaiser window, beta 5, half-length at
    least 10 * max(up, down) at the upsampled rate); being causal it delays the signal by
    ``delay`` output samples, which the stream accounts for in its latency.

    Shape: ``process((C, S))`` -> ``(C, S')``.
    """

    def __init__(self, orig_sr: int, target_sr: int, channels: int = 1, align: float = 0.0):
        from scipy.signal import firwin

        g = math.gcd(int(orig_sr), int(target_sr))
        self.up, self.down = int(target_sr) // g, int(orig_sr) // g
        # At least scipy's half-length, lengthened so that delay + align is a whole number of
        # output samples: then the stream can drop exactly its delay (``align`` is a delay the
        # signal already carries, in output samples, e.g. from a resampler before this one).
        half = 10 * max(self.up, self.down)
        half += (-(half + int(round(align * self.down)))) % self.down
        h = firwin(2 * half + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0)) * self.up
        taps = -(-h.size // self.up)  # input samples per output sample
        self.h = np.zeros(taps * self.up, np.float64)
        self.h[: h.size] = h
        self.taps = taps
        self.delay = half / self.down  # in output samples (may be fractional)
        self.drain = taps + 1  # zeros to feed at the end so every output comes out
        self._buf = np.zeros((channels, 0), np.float64)  # inputs from absolute index _buf_start on
        self._buf_start = 0
        self._n_in = 0  # input samples seen
        self._n_out = 0  # output samples produced

    def process(self, x: np.ndarray) -> np.ndarray:
        from scipy.signal import upfirdn

        x = np.asarray(x, np.float64)
        if self.up == self.down:
            return x.astype(np.float32)
        self._buf = np.concatenate([self._buf, x], axis=1)
        self._n_in += x.shape[1]
        # Output m sits at upsampled position m * down and needs inputs up to m * down // up.
        last = (self._n_in - 1) * self.up // self.down
        m0 = self._n_out
        out = np.zeros((x.shape[0], 0), np.float32)
        if last >= m0:
            # Start the filtered span at an input index b0 with b0 * up a multiple of down, so that
            # upfirdn's outputs fall on the grid of absolute output positions.
            need = (m0 * self.down) // self.up - (self.taps - 1)
            b0 = (need // self.down) * self.down
            if b0 < self._buf_start:  # before the stream began: zeros
                pad = self._buf_start - b0
                self._buf = np.concatenate([np.zeros((x.shape[0], pad)), self._buf], axis=1)
                self._buf_start = b0
            span = self._buf[:, b0 - self._buf_start :]
            y = upfirdn(self.h, span, self.up, self.down, axis=1)
            k0 = m0 - b0 * self.up // self.down
            out = y[:, k0 : k0 + last - m0 + 1].astype(np.float32)
            self._n_out = last + 1
        # keep what the next output can still need
        need = (self._n_out * self.down) // self.up - (self.taps - 1)
        keep_from = max(self._buf_start, (need // self.down) * self.down)
        self._buf = self._buf[:, keep_from - self._buf_start :]
        self._buf_start = keep_from
        return out
