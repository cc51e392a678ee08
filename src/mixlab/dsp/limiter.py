"""A look-ahead true-peak limiter.

How the gain is found, per sample ``s`` (gain reduction ``r`` in dB, >= 0):

1. ``r0[s]``: how far the true-peak envelope (oversampled, BS.1770-4 Annex 2) at ``s`` and the
   interval either side of it rises above the ceiling, linked across channels.
2. ``r1 = max(r0[s], r1[s-1] * a)``: exponential release of the reduction with time constant
   ``release_ms``. Computed without a per-sample loop: ``r1[s] a^-s`` is a running maximum.
3. ``r2[s] = max(r1[s .. s+L-1])``: look-ahead over ``L`` samples.
4. ``r3[s] = sum_k w[k] r2[s-k]``, ``w`` a triangle of ``L`` samples summing to 1 (two
   chained moving averages): a smooth attack. Every ``r2[s-k]`` (0 <= k < L) covers sample
   ``s``, so ``r3[s] >= r1[s] >= r0[s]``: the reduction is always at least what the peak
   needs, and it starts ``L`` samples early.

The audio is delayed by the detector's latency plus ``L - 1`` samples
(:attr:`TruePeakLimiter.latency_samples`). Output for a stream is the same however it is cut
into blocks.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage

from mixlab.dsp.oversample import Upsampler, oversampling_factor
from mixlab.dsp.units import ms_to_samples
from mixlab.errors import InvalidParameterError

#: Release is computed in pieces no longer than this, so ``a^-s`` stays finite in float64.
_RELEASE_PIECE = 8192


def release_envelope(reduction_db: np.ndarray, *, coeff: float, previous_db: float,
                     powers: np.ndarray | None = None) -> np.ndarray:
    """``y[s] = max(x[s], coeff * y[s-1])`` with ``y[-1] = previous_db``, vectorised.

    ``y[s] / coeff^s`` is the running maximum of ``x[s] / coeff^s``. ``powers`` may hold
    ``coeff ** -arange(1, _RELEASE_PIECE + 1)`` precomputed.
    """
    if powers is None:
        powers = coeff ** -np.arange(1, _RELEASE_PIECE + 1, dtype=np.float64)
    out = np.empty(reduction_db.shape, dtype=np.float64)
    prev = float(previous_db)
    for start in range(0, reduction_db.size, _RELEASE_PIECE):
        piece = reduction_db[start : start + _RELEASE_PIECE]
        if prev < 1e-9 and not piece.any():
            out[start : start + piece.size] = 0.0
            prev = 0.0
            continue
        p = powers[: piece.size]
        y = np.maximum.accumulate(np.maximum(piece * p, prev)) / p
        out[start : start + piece.size] = y
        prev = float(y[-1])
    return out


def _box_sum(values: np.ndarray, history: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Moving sum over ``length`` samples (this one and ``length - 1`` before); new history."""
    data = np.concatenate([history, values])
    csum = np.concatenate([[0.0], np.cumsum(data)])
    sums = csum[length:] - csum[:-length]
    return sums, data[data.size - (length - 1) :] if length > 1 else data[:0]


class TruePeakEnvelope:
    """Per-sample true-peak envelope in dBTP, linked across channels, delayed by :attr:`latency_samples`.

    Value ``s`` is the highest ``|x|`` in the intervals either side of sample ``s`` (a peak
    between samples ``s-1`` and ``s`` must be held down by the gain at both), found on the
    BS.1770-4 oversampled grid (4x at 44.1/48 kHz) and refined by fitting a parabola through
    each sample's highest grid point and its neighbours. On the grid alone a meter may read up to 0.5 dB
    under the real peak of high-frequency content (the standard's tolerance); a limiter must
    not rely on that. The parabola brings the error under 0.05 dB up to 0.45 fs.
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        self._upsampler = Upsampler(oversampling_factor(sample_rate), num_channels)
        self._factor = self._upsampler.factor
        # One sample more than the upsampler: a sample's last grid point needs the next point.
        self.latency_samples = self._upsampler.latency_samples + (1 if self._factor > 1 else 0)
        self._tail = np.zeros((num_channels, self._factor + 1), dtype=np.float32)
        self._prev = np.zeros(1)

    def _refined_peaks(self, block: np.ndarray) -> np.ndarray:
        """Per sample (one sample late), the refined peak over its ``factor`` grid points.

        At a grid point whose parabola (through it and its neighbours) peaks within half a
        step of it, the vertex ``mid + (left - right)^2 / (8 curvature)`` replaces it.
        """
        f = self._factor
        mag = np.abs(self._upsampler.process(np.asarray(block, dtype=np.float32)))
        ext = np.concatenate([self._tail, mag], axis=1)
        self._tail = ext[:, ext.shape[1] - (f + 1) :]
        n = block.shape[1]
        left, mid, right = ext[:, : n * f], ext[:, 1 : 1 + n * f], ext[:, 2 : 2 + n * f]
        curvature = 2.0 * mid
        curvature -= left
        curvature -= right
        slope = left - right
        vertex_near = curvature > np.abs(slope)
        np.square(slope, out=slope)
        np.maximum(curvature, 1e-30, out=curvature)
        curvature *= 8.0
        lift = np.divide(slope, curvature, out=slope)
        lift *= vertex_near
        lift += mid
        # Maximum over each sample's f points and the channels (strided slices: numpy reduces
        # a short last axis slowly).
        peak = lift[:, 0::f].max(axis=0)
        for p in range(1, f):
            np.maximum(peak, lift[:, p::f].max(axis=0), out=peak)
        return peak.astype(np.float64)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Envelope of ``block`` in dB, shape ``(1, n)`` float64."""
        n = block.shape[1]
        if n == 0:
            return np.zeros((1, 0))
        if self._factor == 1:
            per_sample = np.abs(block).max(axis=0).astype(np.float64)
        else:
            per_sample = self._refined_peaks(block)
        both_sides = np.maximum(per_sample, np.concatenate([self._prev, per_sample[:-1]]))
        self._prev = per_sample[-1:]
        return (20.0 * np.log10(np.maximum(both_sides, 1e-12)))[np.newaxis, :]


class LimiterGain:
    """The limiter's gain from a true-peak envelope: ``(1, n)`` dB in, ``(1, n)`` linear gain out.

    The gain includes ``drive_db`` and is delayed by :attr:`latency_samples` (``L - 1``, the
    look-ahead), so it lines up with the audio delayed as much.
    """

    def __init__(self, ceiling_dbtp: float, sample_rate: int, *, lookahead_ms: float = 5.0,
                 release_ms: float = 100.0, drive_db: float = 0.0) -> None:
        if not lookahead_ms > 0 or not release_ms > 0:
            raise InvalidParameterError("limiter look-ahead and release must be > 0 ms", code="limiter.bad_time")
        self.ceiling_dbtp = float(ceiling_dbtp)
        self.drive_db = float(drive_db)
        self._lookahead = ms_to_samples(lookahead_ms, sample_rate)
        coeff = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate))
        self._release_coeff = coeff
        self._powers = coeff ** -np.arange(1, _RELEASE_PIECE + 1, dtype=np.float64)
        # Attack smoothing: two moving averages (a triangle) spanning L samples in all.
        L = self._lookahead
        self._box_a = max(1, (L + 1) // 2)
        self._box_b = max(1, L - self._box_a + 1)
        self.latency_samples = L - 1
        self._release_state = 0.0
        self._pending = np.zeros(L - 1)
        self._hist_a = np.zeros(self._box_a - 1)
        self._hist_b = np.zeros(self._box_b - 1)

    def reduction_db(self, envelope_db: np.ndarray) -> np.ndarray:
        """Per-sample reduction (dB, >= 0), delayed by :attr:`latency_samples`."""
        r0 = np.maximum(envelope_db + (self.drive_db - self.ceiling_dbtp), 0.0)
        r1 = release_envelope(r0, coeff=self._release_coeff, previous_db=self._release_state, powers=self._powers)
        self._release_state = float(r1[-1]) if r1.size else self._release_state
        L = self._lookahead
        if L == 1:
            return r1
        buf = np.concatenate([self._pending, r1])
        self._pending = buf[buf.size - (L - 1) :]
        if not buf.any() and not self._hist_a.any() and not self._hist_b.any():
            return np.zeros(r1.size)
        centred = scipy.ndimage.maximum_filter1d(buf, size=L, mode="nearest")
        r2 = centred[L // 2 : L // 2 + r1.size]
        # Weights of two chained boxes (lengths a, b; a + b - 1 = L) sum to 1 over L samples,
        # so r3[s] is an average of r2 over s-L+1..s, each of which covers s: r3 >= r1.
        a_sum, self._hist_a = _box_sum(r2, self._hist_a, self._box_a)
        b_sum, self._hist_b = _box_sum(a_sum / self._box_a, self._hist_b, self._box_b)
        return b_sum / self._box_b

    def process(self, envelope_db: np.ndarray) -> np.ndarray:
        reduction = self.reduction_db(np.asarray(envelope_db, dtype=np.float64)[0])
        return np.power(10.0, (self.drive_db - reduction) / 20.0)[np.newaxis, :]


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
        the :class:`TruePeakEnvelope` (dB) of the audio, already aligned with it (computed
        once and reused when the same audio is limited at several drive levels).
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
        self.ceiling_dbtp = float(ceiling_dbtp)
        self.num_channels = num_channels
        self._gain = LimiterGain(ceiling_dbtp, sample_rate, lookahead_ms=lookahead_ms, release_ms=release_ms,
                                 drive_db=drive_db)
        self._detector = None if external_envelope else TruePeakEnvelope(sample_rate, num_channels)
        detector_latency = 0 if self._detector is None else self._detector.latency_samples
        self.latency_samples = detector_latency + self._gain.latency_samples
        self._audio_fifo = np.zeros((num_channels, self.latency_samples), dtype=np.float64)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit one block; the output is delayed by :attr:`latency_samples`."""
        block = np.asarray(block, dtype=np.float64)
        n = block.shape[1]
        if n == 0:
            return np.zeros((self.num_channels, 0), dtype=np.float32)
        if self._detector is None:
            audio, envelope = block[: self.num_channels], block[self.num_channels :]
        else:
            audio, envelope = block, self._detector.process(block)
        gain = self._gain.process(envelope)
        fifo = np.concatenate([self._audio_fifo, audio], axis=1)
        out = fifo[:, :n]
        self._audio_fifo = fifo[:, n:]
        return (out * gain).astype(np.float32)
