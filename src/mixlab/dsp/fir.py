"""Linear-phase FIR equalisation: design from a smooth curve, streamed FFT convolution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft
import scipy.signal

from mixlab.errors import InvalidParameterError


def eq_num_taps(sample_rate: int) -> int:
    """Odd tap count giving about 5 Hz resolution: enough for 1/3-octave detail down to 30 Hz."""
    taps = int(2 ** np.ceil(np.log2(sample_rate / 5.0)))
    return taps + 1


def design_curve_fir(
    freqs_hz: Sequence[float],
    gains_db: Sequence[float],
    sample_rate: int,
    *,
    num_taps: int | None = None,
) -> np.ndarray:
    """Linear-phase FIR whose magnitude follows a curve given at a few frequencies.

    The curve is interpolated linearly in dB over log frequency; below the first point and
    above the last it is held flat. The filter is a Kaiser-windowed frequency-sampling design
    (``scipy.signal.firwin2``) of ``num_taps`` (odd) taps, so its delay is exactly
    ``(num_taps - 1) / 2`` samples.

    Parameters
    ----------
    freqs_hz, gains_db : sequence of float
        The curve: increasing frequencies in Hz (0 < f < sample_rate / 2) and gains in dB.
    sample_rate : int
        In Hz.
    num_taps : int, optional
        Odd; defaults to :func:`eq_num_taps`.

    Returns
    -------
    np.ndarray
        float64 taps, shape ``(num_taps,)``.
    """
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    gains = np.asarray(gains_db, dtype=np.float64)
    nyquist = sample_rate / 2.0
    if freqs.ndim != 1 or freqs.shape != gains.shape or freqs.size < 1:
        raise InvalidParameterError("EQ curve needs matching 1-D frequency and gain lists", code="eq.bad_curve")
    if np.any(np.diff(freqs) <= 0) or freqs[0] <= 0 or freqs[-1] >= nyquist:
        raise InvalidParameterError(
            "EQ curve frequencies must increase and lie between 0 Hz and half the sample rate",
            code="eq.bad_curve",
        )
    if num_taps is None:
        num_taps = eq_num_taps(sample_rate)
    if num_taps % 2 == 0:
        raise InvalidParameterError("num_taps must be odd for a linear-phase EQ", code="eq.bad_taps")
    grid = np.concatenate([[0.0], np.geomspace(freqs[0] / 2, nyquist, 512), [nyquist]])
    grid = np.unique(grid)
    curve_db = np.interp(np.log(np.maximum(grid, 1e-3)), np.log(freqs), gains)
    return scipy.signal.firwin2(
        num_taps, grid, 10.0 ** (curve_db / 20.0), fs=sample_rate, window=("kaiser", 6.0)
    )


def fir_response_db(taps: np.ndarray, freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Magnitude response in dB of ``taps`` at ``freqs_hz``."""
    _, response = scipy.signal.freqz(taps, worN=np.asarray(freqs_hz, dtype=np.float64), fs=sample_rate)
    return 20.0 * np.log10(np.maximum(np.abs(response), 1e-12))


class StreamingFIR:
    """FIR filter on ``(channels, n)`` blocks by overlap-add FFT convolution.

    The output of a stream is the same however it is cut into blocks (the convolution tail is
    carried over). The filter's own delay is not removed: callers compensate
    :attr:`latency_samples` (for a linear-phase design, ``(len(taps) - 1) // 2``).
    """

    def __init__(self, taps: np.ndarray, num_channels: int) -> None:
        self.taps = np.asarray(taps, dtype=np.float64)
        self.num_channels = num_channels
        self.latency_samples = (self.taps.size - 1) // 2
        self._tail = np.zeros((num_channels, self.taps.size - 1), dtype=np.float64)
        self._spectra: dict[int, np.ndarray] = {}

    def _taps_spectrum(self, fft_size: int) -> np.ndarray:
        spectrum = self._spectra.get(fft_size)
        if spectrum is None:
            spectrum = scipy.fft.rfft(self.taps, fft_size)
            self._spectra[fft_size] = spectrum
        return spectrum

    def process(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        if n == 0:
            return block.astype(np.float32)
        full = n + self.taps.size - 1
        fft_size = scipy.fft.next_fast_len(full, real=True)
        spectrum = scipy.fft.rfft(block.astype(np.float64), fft_size, axis=1)
        out = scipy.fft.irfft(spectrum * self._taps_spectrum(fft_size), fft_size, axis=1)[:, :full]
        tail_len = self._tail.shape[1]
        out[:, :tail_len] += self._tail
        self._tail = out[:, n:full].copy()
        return out[:, :n].astype(np.float32)

    def flush(self) -> np.ndarray:
        """The remaining convolution tail, ``len(taps) - 1`` samples."""
        tail = self._tail.astype(np.float32)
        self._tail = np.zeros_like(self._tail)
        return tail
