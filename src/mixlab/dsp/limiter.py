"""A look-ahead true-peak limiter.

How the gain is found, per sample ``s`` (gain reduction ``r`` in dB, >= 0):

1. ``r0[s]``: how far the true-peak envelope (oversampled, BS.1770-4 Annex 2) at ``s`` and the
   interval either side of it rises above the ceiling, linked across channels.
2. ``r1 = max(r0[s], r1[s-1] * a)``: exponential release of the reduction with time constant
   ``release_ms``. Computed without a per-sample loop: ``r1[s] a^-s`` is a running maximum.
3. ``r2[s] = max(r1[s .. s+L-1])``: look-ahead over ``L`` samples.
4. ``r3[s] = sum_k w[k] r2[s-k]``, ``w`` a normalised Hann window of ``L`` samples: a smooth
   attack. Every ``r2[s-k]`` (0 <= k < L) covers sample ``s``, so ``r3[s] >= r1[s] >= r0[s]``:
   the reduction is always at least what the peak needs, and it starts ``L`` samples early.

The audio is delayed by the detector's latency plus ``L - 1`` samples
(:attr:`TruePeakLimiter.latency_samples`). Output for a stream is the same however it is cut
into blocks.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage
import scipy.signal

from mixlab.dsp.oversample import Upsampler, oversampling_factor
from mixlab.dsp.units import ms_to_samples
from mixlab.errors import InvalidParameterError

#: Release is computed in pieces no longer than this, so ``a^-s`` stays finite in float64.
_RELEASE_PIECE = 8192


def release_envelope(reduction_db: np.ndarray, *, coeff: float, previous_db: float) -> np.ndarray:
    """``y[s] = max(x[s], coeff * y[s-1])`` with ``y[-1] = previous_db``, vectorised.

    ``y[s] / coeff^s`` is the running maximum of ``x[s] / coeff^s``.
    """
    out = np.empty_like(reduction_db, dtype=np.float64)
    prev = float(previous_db)
    for start in range(0, reduction_db.size, _RELEASE_PIECE):
        piece = reduction_db[start : start + _RELEASE_PIECE].astype(np.float64)
        powers = coeff ** -np.arange(1, piece.size + 1, dtype=np.float64)
        scaled = np.maximum.accumulate(np.maximum(piece * powers, prev))
        y = scaled / powers
        out[start : start + piece.size] = y
        prev = float(y[-1])
    return out


class TruePeakEnvelope:
    """Per-sample true-peak envelope, linked across channels, delayed by :attr:`latency_samples`.

    Value ``s`` is the highest oversampled ``|x|`` in the intervals either side of sample ``s``
    (a peak between samples ``s-1`` and ``s`` must be held down by the gain at both).

    It oversamples twice as finely as a BS.1770-4 meter (8x at 44.1/48 kHz): at 4x a meter
    may read up to 0.4 dB under the real peak of high-frequency content (the standard's
    tolerance), and a limiter must not rely on that.
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        self._upsampler = Upsampler(2 * oversampling_factor(sample_rate), num_channels)
        self.latency_samples = self._upsampler.latency_samples
        self._prev = np.zeros(1)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Envelope of ``block``, shape ``(1, n)`` float64."""
        n = block.shape[1]
        if n == 0:
            return np.zeros((1, 0))
        per_sample = self._upsampler.peak_per_sample(block).max(axis=0).astype(np.float64)
        both_sides = np.maximum(per_sample, np.concatenate([self._prev, per_sample[:-1]]))
        self._prev = per_sample[-1:]
        return both_sides[np.newaxis, :]


class TruePeakLimiter:
    """Limits ``(channels, n)`` float blocks so the true peak stays under ``ceiling_dbtp``.

    Parameters
    ----------
    ceiling_dbtp : float
        Highest allowed true peak, in dBTP.
    sample_rate : int
        In Hz.
    num_channels : int
        Channels per block; the gain is linked across them.
    lookahead_ms : float
        > 0; the attack ramp starts this long before a peak.
    release_ms : float
        > 0; time constant of the exponential release of the gain reduction (in dB).
    external_envelope : bool
        If true, :meth:`process` takes blocks of ``num_channels + 1`` rows whose last row is
        the :class:`TruePeakEnvelope` of the audio, already aligned with it (computed once
        and reused when the same audio is limited at several drive levels). The envelope
        is scaled by ``drive_db``.
    drive_db : float
        Gain applied to the audio before limiting.
    """

    def __init__(
        self,
        ceiling_dbtp: float,
        sample_rate: int,
        num_channels: int,
        *,
        lookahead_ms: float = 5.0,
        release_ms: float = 100.0,
        external_envelope: bool = False,
        drive_db: float = 0.0,
    ) -> None:
        if not lookahead_ms > 0 or not release_ms > 0:
            raise InvalidParameterError("limiter look-ahead and release must be > 0 ms", code="limiter.bad_time")
        self.ceiling_dbtp = float(ceiling_dbtp)
        self.num_channels = num_channels
        self._drive_lin = 10.0 ** (drive_db / 20.0)
        self._detector = None if external_envelope else TruePeakEnvelope(sample_rate, num_channels)
        detector_latency = 0 if self._detector is None else self._detector.latency_samples
        self._lookahead = ms_to_samples(lookahead_ms, sample_rate)
        self._release_coeff = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate))
        window = np.hanning(self._lookahead + 2)[1:-1]
        self._window = window / window.sum()
        self.latency_samples = detector_latency + self._lookahead - 1
        self._release_state = 0.0
        self._pending = np.zeros(self._lookahead - 1)
        self._smooth_zi = np.zeros(self._lookahead - 1)
        self._audio_fifo = np.zeros((num_channels, self.latency_samples), dtype=np.float64)
        self.max_reduction_db = 0.0

    def gain_reduction_db(self, envelope: np.ndarray) -> np.ndarray:
        """Per-sample reduction (dB, >= 0) for the audio that leaves with this block."""
        over_db = 20.0 * np.log10(np.maximum(envelope * self._drive_lin, 1e-12)) - self.ceiling_dbtp
        r0 = np.maximum(over_db, 0.0)
        r1 = release_envelope(r0, coeff=self._release_coeff, previous_db=self._release_state)
        self._release_state = float(r1[-1])
        L = self._lookahead
        if L == 1:
            return r1
        buf = np.concatenate([self._pending, r1])
        centred = scipy.ndimage.maximum_filter1d(buf, size=L, mode="nearest")
        r2 = centred[L // 2 : L // 2 + r1.size]
        self._pending = buf[-(L - 1) :]
        r3, self._smooth_zi = scipy.signal.lfilter(self._window, [1.0], r2, zi=self._smooth_zi)
        return r3

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit one block; the output is delayed by :attr:`latency_samples`."""
        block = np.asarray(block, dtype=np.float64)
        n = block.shape[1]
        if n == 0:
            return np.zeros((self.num_channels, 0), dtype=np.float32)
        if self._detector is None:
            audio, envelope = block[: self.num_channels], block[self.num_channels]
        else:
            audio, envelope = block, self._detector.process(block)[0]
        reduction_db = self.gain_reduction_db(envelope)
        self.max_reduction_db = max(self.max_reduction_db, float(reduction_db.max()))
        fifo = np.concatenate([self._audio_fifo, audio], axis=1)
        out = fifo[:, :n]
        self._audio_fifo = fifo[:, n:]
        gain = self._drive_lin * np.power(10.0, -reduction_db / 20.0)
        return (out * gain[np.newaxis, :]).astype(np.float32)
