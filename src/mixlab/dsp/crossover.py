"""Streaming IIR filters and a Linkwitz-Riley band splitter whose bands sum to an all-pass."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal

from mixlab.dsp.stream import sosfilt_block
from mixlab.errors import InvalidParameterError


class StreamingSOS:
    """A second-order-sections IIR filter applied to ``(channels, n)`` blocks, state carried over.

    Chunked output equals one-shot output; the filter has no latency to compensate.
    """

    def __init__(self, sos: np.ndarray, num_channels: int) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self._zi = np.zeros((self.sos.shape[0], num_channels, 2), dtype=np.float64)

    def process(self, block: np.ndarray) -> np.ndarray:
        out, self._zi = sosfilt_block(self.sos, block, self._zi)
        return out


def linkwitz_riley_sos(cutoff_hz: float, sample_rate: int, *, kind: str) -> np.ndarray:
    """4th-order Linkwitz-Riley low- or high-pass: two cascaded 2nd-order Butterworths.

    Each output is -6.02 dB at ``cutoff_hz``; low + high sum to an all-pass (flat magnitude).

    References
    ----------
    S. Linkwitz, "Active crossover networks for noncoincident drivers", JAES 24(1), 1976.
    """
    if not 0 < cutoff_hz < sample_rate / 2:
        raise InvalidParameterError(
            f"crossover at {cutoff_hz} Hz must lie between 0 Hz and half the sample rate",
            code="crossover.bad_frequency",
        )
    section = scipy.signal.butter(2, cutoff_hz, btype=kind, fs=sample_rate, output="sos")
    return np.vstack([section, section])


def butterworth_allpass_sos(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """2nd-order all-pass sharing the poles of a 2nd-order Butterworth at ``cutoff_hz``.

    Equal to the sum of the Linkwitz-Riley 4th-order low- and high-pass at that frequency.
    """
    section = scipy.signal.butter(2, cutoff_hz, fs=sample_rate, output="sos")[0]
    a0, a1, a2 = section[3:]
    return np.array([[a2, a1, a0, a0, a1, a2]])


class BandSplitter:
    """Splits ``(channels, n)`` blocks into bands at the given crossover frequencies.

    Linkwitz-Riley 4th-order crossovers in a tree, with each lower band passed through the
    all-pass of the crossovers above it, so ``sum(bands)`` equals the input through one
    all-pass: flat magnitude, no comb filtering when the bands are summed back.

    Parameters
    ----------
    crossovers_hz : sequence of float
        Increasing crossover frequencies in Hz; ``len(crossovers_hz) + 1`` bands come out.
    sample_rate : int
        In Hz.
    num_channels : int
        Channels per block.
    """

    def __init__(self, crossovers_hz: Sequence[float], sample_rate: int, num_channels: int) -> None:
        freqs = [float(f) for f in crossovers_hz]
        if not freqs or any(b <= a for a, b in zip(freqs, freqs[1:])):
            raise InvalidParameterError("crossover frequencies must increase", code="crossover.bad_frequency")
        self.crossovers_hz = tuple(freqs)
        self._low = [StreamingSOS(linkwitz_riley_sos(f, sample_rate, kind="lowpass"), num_channels) for f in freqs]
        self._high = [StreamingSOS(linkwitz_riley_sos(f, sample_rate, kind="highpass"), num_channels) for f in freqs]
        # _allpass[i][j]: the all-pass of crossover j (> i) applied to band i. LP4 + HP4 of a
        # Linkwitz-Riley pair is the 2nd-order all-pass (s^2 - sqrt(2) w s + w^2) /
        # (s^2 + sqrt(2) w s + w^2), and the bilinear transform keeps that identity: one
        # biquad instead of four.
        self._allpass = [
            [StreamingSOS(butterworth_allpass_sos(freqs[j], sample_rate), num_channels) for j in range(i + 1, len(freqs))]
            for i in range(len(freqs))
        ]

    @property
    def num_bands(self) -> int:
        return len(self.crossovers_hz) + 1

    def process(self, block: np.ndarray) -> list[np.ndarray]:
        """Return the bands of ``block``, lowest first, each float64 with the block's shape."""
        bands: list[np.ndarray] = []
        rest = np.asarray(block, dtype=np.float64)
        for i in range(len(self.crossovers_hz)):
            low = self._low[i].process(rest)
            for allpass in self._allpass[i]:
                low = allpass.process(low)
            bands.append(low)
            rest = self._high[i].process(rest)
        bands.append(rest)
        return bands
