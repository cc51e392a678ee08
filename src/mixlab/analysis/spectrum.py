"""Long-term average spectrum: a streamed Welch PSD and 1/3-octave band levels.

The power spectral density is averaged over Hann-windowed frames with 50 % overlap at fixed
positions in the stream (frame ``m`` starts at sample ``m * fft_size / 2``), so it does not
depend on how the audio is cut into blocks. Samples after the last whole frame are left out;
audio shorter than one frame is measured as one zero-padded frame. The FFT size scales with
the rate: 16 384 at 44.1 and 48 kHz (2.7-2.9 Hz bins), 32 768 at 88.2/96 kHz, 4 096 at 8 kHz
(:func:`welch_fft_size`).

Scaling: ``psd_per_hz`` is a one-sided density of mean square per Hz. Bin ``k`` stands for
the interval ``[(k - 1/2) df, (k + 1/2) df]`` clipped to ``[0, sample_rate / 2]``; integrated
over all frequencies (:func:`band_power`) it gives the mean square of the signal (Parseval):
a sine of peak amplitude ``A`` contributes ``A**2 / 2``, white noise of variance ``s**2``
spreads ``s**2`` evenly up to ``sample_rate / 2``.

Band levels are ``10 log10`` of the mean square in the band, channels averaged (power mean),
so a sine of peak ``A`` reads ``20 log10(A) - 3.01`` dB in its band. Bands follow IEC 61260-1
(base-10 system): exact mid-band frequencies ``1000 * 10**(3x/10/3)`` Hz for
``x = -17 .. 13`` (nominal 20 Hz .. 20 kHz), band edges at the mid-band frequency times
``10**(+-0.05)`` (one sixth of a decade-third, IEC 61260-1 eq. 3-5). Band power is integrated
with fractional bins at the edges. A band that starts above ``sample_rate / 2`` has level
NaN; a band cut by ``sample_rate / 2`` holds the power up to it. To compare tonal balance
between songs, subtract the integrated loudness from the levels.

References
----------
IEC 61260-1:2014, "Electroacoustics - Octave-band and fractional-octave-band filters -
Part 1: Specifications", section 5.2-5.4 (base-10 mid-band frequencies and band edges).
P. D. Welch, "The use of fast Fourier transform for the estimation of power spectra",
IEEE Trans. Audio Electroacoust. 15(2), 1967.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.signal

from mixlab.analysis.loudness import BlockMeter, array_blocks, as_samples_2d, run_blocks
from mixlab.errors import InvalidParameterError

__all__ = [
    "THIRD_OCTAVE_NOMINAL_HZ",
    "BandLevels",
    "SpectrumMeter",
    "SpectrumResult",
    "band_power",
    "fractional_octave_smooth",
    "measure_spectrum",
    "third_octave_bands",
    "third_octave_levels",
    "welch_fft_size",
]

#: IEC 61260-1 nominal mid-band frequencies of the 1/3-octave bands from 20 Hz to 20 kHz.
THIRD_OCTAVE_NOMINAL_HZ: tuple[float, ...] = (
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0,
    400.0, 500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0,
    5000.0, 6300.0, 8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
)  # fmt: skip

#: IEC 61260-1 octave frequency ratio, base-10 system.
_G10 = 10.0 ** (3.0 / 10.0)
_BAND_INDEX = np.arange(-17, 14)  # x in f_m = 1000 * G**(x/3)

_REFERENCE_FFT_SIZE = 16384
_REFERENCE_RATE = 44100


def welch_fft_size(sample_rate: int) -> int:
    """FFT size of the PSD at ``sample_rate``: about 0.37 s, a power of two.

    ``2 ** round(log2(16384 * sample_rate / 44100))``: 16 384 at 44.1/48 kHz, 4 096 at 8 kHz,
    131 072 at 384 kHz.
    """
    return int(2 ** round(math.log2(_REFERENCE_FFT_SIZE * sample_rate / _REFERENCE_RATE)))


def third_octave_bands() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 31 bands from 20 Hz to 20 kHz (IEC 61260-1, base 10).

    Returns
    -------
    (nominal_hz, centre_hz, lower_edge_hz, upper_edge_hz)
        ``float64`` arrays of 31 values: nominal and exact mid-band frequencies
        (``1000 * 10**(x/10)``, ``x = -17 .. 13``) and band edges
        (``centre * 10**(-+1/20)``).

    References
    ----------
    IEC 61260-1:2014, eq. 1, 3 and 4 (b = 3, base-10 system).

    Examples
    --------
    >>> nominal, centre, lower, upper = third_octave_bands()
    >>> float(nominal[17]), round(float(lower[17]), 1), round(float(upper[17]), 1)
    (1000.0, 891.3, 1122.0)
    """
    centre = 1000.0 * _G10 ** (_BAND_INDEX / 3.0)
    half_band = _G10 ** (1.0 / 6.0)
    return np.array(THIRD_OCTAVE_NOMINAL_HZ), centre, centre / half_band, centre * half_band


def _bin_edges(freqs_hz: np.ndarray) -> np.ndarray:
    """Edges of the intervals the bins of an ``rfft`` grid stand for (see module docstring)."""
    df = freqs_hz[1] - freqs_hz[0] if freqs_hz.size > 1 else 1.0
    edges = np.concatenate(([0.0], freqs_hz[:-1] + df / 2.0, [freqs_hz[-1]]))
    return edges


def _range_sums(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``values[start[i]:stop[i]].sum()`` for every ``i``, summed directly (no cumsum
    differences, which would bury quiet ranges under the round-off of loud ones)."""
    start = np.asarray(start, dtype=np.intp)
    stop = np.asarray(stop, dtype=np.intp)
    if start.size == 0:
        return np.zeros(0)
    padded = np.concatenate((values, [0.0]))
    pairs = np.empty(2 * start.size, dtype=np.intp)
    pairs[0::2] = start
    pairs[1::2] = stop
    sums = np.add.reduceat(padded, pairs)[0::2]
    return np.where(stop > start, sums, 0.0)


def band_power(freqs_hz: np.ndarray, psd_per_hz: np.ndarray, low_hz, high_hz) -> np.ndarray | float:
    """Mean square in ``[low_hz, high_hz]`` from a one-sided PSD on an ``rfft`` grid.

    Partial bins at the band edges count in proportion to their overlap; edges beyond
    ``freqs_hz[-1]`` (the Nyquist frequency) are clipped to it.

    Parameters
    ----------
    freqs_hz : np.ndarray
        Bin frequencies, ``k * df`` for ``k = 0 .. K-1``.
    psd_per_hz : np.ndarray
        Density, 1-D of length ``K``.
    low_hz, high_hz : float or np.ndarray
        Band edges in Hz (arrays for several bands).

    Returns
    -------
    float or np.ndarray
        Mean square (density times Hz).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = np.asarray(psd_per_hz, dtype=np.float64)
    edges = _bin_edges(f)
    widths = np.diff(edges)
    scalar = np.ndim(low_hz) == 0 and np.ndim(high_hz) == 0
    lo = np.clip(np.atleast_1d(np.asarray(low_hz, dtype=np.float64)), 0.0, edges[-1])
    hi = np.clip(np.atleast_1d(np.asarray(high_hz, dtype=np.float64)), 0.0, edges[-1])
    hi = np.maximum(hi, lo)
    last = p.size - 1
    i = np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, last)  # bin holding lo
    j = np.clip(np.searchsorted(edges, hi, side="right") - 1, 0, last)  # bin holding hi
    same = i == j
    power = np.where(
        same,
        p[i] * (hi - lo),
        p[i] * (edges[i + 1] - lo) + p[j] * (hi - edges[j]),
    )
    power = power + np.where(same, 0.0, _range_sums(p * widths, i + 1, j))
    power = np.maximum(power, 0.0)
    return float(power[0]) if scalar else power


def _power_to_db(power: np.ndarray) -> np.ndarray:
    p = np.asarray(power, dtype=np.float64)
    out = np.full(p.shape, -np.inf)
    pos = p > 0.0
    out[pos] = 10.0 * np.log10(p[pos])
    out[np.isnan(p)] = np.nan
    return out


@dataclass(frozen=True)
class BandLevels:
    """1/3-octave band levels, 20 Hz .. 20 kHz (IEC 61260-1, base 10).

    Attributes
    ----------
    nominal_hz, centre_hz, lower_edge_hz, upper_edge_hz : tuple of float
        Nominal and exact mid-band frequencies and the band edges, 31 values each.
    levels_db : tuple of float
        Mean square in each band, channels averaged, in dB (``10 log10``): a sine of peak
        ``A`` reads ``20 log10(A) - 3.01``. ``-inf`` for no power, NaN for a band that starts
        above the Nyquist frequency.
    """

    nominal_hz: tuple[float, ...]
    centre_hz: tuple[float, ...]
    lower_edge_hz: tuple[float, ...]
    upper_edge_hz: tuple[float, ...]
    levels_db: tuple[float, ...]


def _band_levels_from_psd(freqs_hz: np.ndarray, psd_per_hz: np.ndarray, sample_rate: int) -> BandLevels:
    nominal, centre, lower, upper = third_octave_bands()
    power = band_power(freqs_hz, psd_per_hz, lower, upper)
    power = np.where(lower >= sample_rate / 2.0, np.nan, power)
    levels = _power_to_db(power)
    return BandLevels(
        nominal_hz=tuple(float(v) for v in nominal),
        centre_hz=tuple(float(v) for v in centre),
        lower_edge_hz=tuple(float(v) for v in lower),
        upper_edge_hz=tuple(float(v) for v in upper),
        levels_db=tuple(float(v) for v in levels),
    )


@dataclass(frozen=True)
class SpectrumResult:
    """Long-term average spectrum (Welch PSD) and its 1/3-octave band levels.

    Attributes
    ----------
    sample_rate : int
    fft_size : int
    num_frames : int
        Frames averaged (0 for empty audio; 1 zero-padded frame for audio shorter than
        ``fft_size``).
    freqs_hz : np.ndarray
        Bin frequencies ``0 .. sample_rate/2``, ``fft_size // 2 + 1`` values.
    psd_per_hz : np.ndarray
        One-sided PSD averaged over channels (power mean), mean square per Hz.
    channel_psd_per_hz : np.ndarray
        Per channel, shape ``(num_channels, bins)``.
    cross_psd_per_hz : np.ndarray or None
        Real part of the one-sided cross density of left and right (its integral is the mean
        of ``L * R``); None for mono.
    bands : BandLevels
        1/3-octave band levels from ``psd_per_hz``.
    """

    sample_rate: int
    fft_size: int
    num_frames: int
    freqs_hz: np.ndarray = field(repr=False, compare=False)
    psd_per_hz: np.ndarray = field(repr=False, compare=False)
    channel_psd_per_hz: np.ndarray = field(repr=False, compare=False)
    cross_psd_per_hz: np.ndarray | None = field(repr=False, compare=False)
    bands: BandLevels = field(repr=False)

    def band_power(self, low_hz: float, high_hz: float) -> float:
        """Mean square between ``low_hz`` and ``high_hz``, channels averaged."""
        return band_power(self.freqs_hz, self.psd_per_hz, low_hz, high_hz)

    def psd_db(self) -> np.ndarray:
        """``10 log10(psd_per_hz)``, dB re 1 (full scale squared) per Hz; ``-inf`` for 0."""
        return _power_to_db(self.psd_per_hz)


class SpectrumMeter(BlockMeter):
    """Streaming long-term average spectrum (Welch, Hann, 50 % overlap).

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000.
    num_channels : int
        1 or 2. With 2 channels the cross spectrum of left and right is kept as well (for
        per-band stereo measures, :mod:`mixlab.analysis.stereo`).
    fft_size : int, optional
        Frame length, an even number >= 16; default :func:`welch_fft_size`.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range.

    References
    ----------
    Welch (1967); IEC 61260-1:2014.
    """

    def __init__(self, sample_rate: int, num_channels: int, *, fft_size: int | None = None) -> None:
        super().__init__(sample_rate, num_channels)
        n = welch_fft_size(self.sample_rate) if fft_size is None else fft_size
        if int(n) != n or n < 16 or n % 2:
            raise InvalidParameterError(
                f"FFT size must be an even integer >= 16, got {fft_size}", code="parameter.fft_size"
            )
        self.fft_size = int(n)
        self._hop = self.fft_size // 2
        self._window = scipy.signal.get_window("hann", self.fft_size).astype(np.float32)
        self._window_power = float(np.sum(self._window.astype(np.float64) ** 2))
        bins = self.fft_size // 2 + 1
        self._power = np.zeros((self.num_channels, bins))
        self._cross = np.zeros(bins) if self.num_channels == 2 else None
        self._num_frames = 0
        self._leftover = np.zeros((self.num_channels, 0), dtype=np.float32)
        self._num_samples = 0

    def _push_checked(self, x: np.ndarray) -> None:
        x = x.astype(np.float32, copy=False)
        self._num_samples += x.shape[1]
        buf = np.concatenate([self._leftover, x], axis=1) if self._leftover.shape[1] else x
        n = self.fft_size
        if buf.shape[1] < n:
            self._leftover = buf.copy()
            return
        num = (buf.shape[1] - n) // self._hop + 1
        frames = np.lib.stride_tricks.sliding_window_view(buf, n, axis=-1)[:, :: self._hop][:, :num]
        spec = scipy.fft.rfft(frames * self._window, axis=-1)  # (ch, num, bins), complex64
        self._power += np.sum(spec.real**2 + spec.imag**2, axis=1, dtype=np.float64)
        if self._cross is not None:
            cross = spec[0].real * spec[1].real + spec[0].imag * spec[1].imag
            self._cross += np.sum(cross, axis=0, dtype=np.float64)
        self._num_frames += num
        self._leftover = buf[:, num * self._hop :].copy()

    def result(self) -> SpectrumResult:
        """Spectrum of everything pushed so far (the meter can keep going)."""
        n = self.fft_size
        freqs = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        power, cross, frames, window_power = self._power, self._cross, self._num_frames, self._window_power
        if frames == 0 and self._leftover.shape[1] > 0:
            # shorter than one frame: one zero-padded periodogram of what there is
            seg = self._leftover.astype(np.float64)
            w = scipy.signal.get_window("hann", seg.shape[1]) if seg.shape[1] > 2 else np.ones(seg.shape[1])
            spec = np.fft.rfft(seg * w, n=n, axis=-1)
            power = np.abs(spec) ** 2
            cross = (spec[0] * np.conj(spec[1])).real if self.num_channels == 2 else None
            frames, window_power = 1, float(np.sum(w**2))
        if frames == 0 or window_power == 0.0:
            scale = 0.0
        else:
            # one-sided density (see module docstring): 2 |X|^2 / (fs * sum w^2), averaged
            scale = 2.0 / (self.sample_rate * window_power * frames)
        channel_psd = power * scale
        psd = channel_psd.mean(axis=0)
        cross_psd = None if cross is None else cross * scale
        return SpectrumResult(
            sample_rate=self.sample_rate,
            fft_size=n,
            num_frames=frames,
            freqs_hz=_read_only(freqs),
            psd_per_hz=_read_only(psd),
            channel_psd_per_hz=_read_only(channel_psd),
            cross_psd_per_hz=None if cross_psd is None else _read_only(cross_psd),
            bands=_band_levels_from_psd(freqs, psd, self.sample_rate),
        )


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def measure_spectrum(
    samples: np.ndarray, sample_rate: int, *, fft_size: int | None = None, block_size: int = 65536
) -> SpectrumResult:
    """Long-term average spectrum of a whole array (streams it through :class:`SpectrumMeter`).

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, ``(num_channels, num_samples)``.
    sample_rate : int
        In Hz.
    fft_size : int, optional
        Frame length; default :func:`welch_fft_size`.
    block_size : int
        Samples per internal block.

    Returns
    -------
    SpectrumResult

    References
    ----------
    Welch (1967); IEC 61260-1:2014.
    """
    x = as_samples_2d(samples)
    meter = SpectrumMeter(sample_rate, x.shape[0], fft_size=fft_size)
    return run_blocks(meter, array_blocks(x, block_size))


def third_octave_levels(samples: np.ndarray, sample_rate: int, *, fft_size: int | None = None) -> BandLevels:
    """1/3-octave band levels (20 Hz .. 20 kHz) of a whole array.

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, ``(num_channels, num_samples)``.
    sample_rate : int
        In Hz.
    fft_size : int, optional
        Frame length of the underlying PSD.

    Returns
    -------
    BandLevels
        Levels in dB of mean square, channels averaged (see module docstring).

    References
    ----------
    IEC 61260-1:2014 (band edges, base-10 system).

    Examples
    --------
    A 1 kHz sine, peak 0.5, puts ``20 log10(0.5) - 3.01 = -9.03`` dB in the 1 kHz band.

    >>> t = np.arange(48000) / 48000
    >>> x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[np.newaxis]
    >>> round(third_octave_levels(x, 48000).levels_db[17], 1)
    -9.0
    """
    return measure_spectrum(samples, sample_rate, fft_size=fft_size).bands


def fractional_octave_smooth(freqs_hz: np.ndarray, levels_db: np.ndarray, *, fraction: float) -> np.ndarray:
    """Smooth a level curve over a sliding ``1/fraction``-octave window.

    Each point becomes the power mean (``10 log10`` of the mean of ``10**(L/10)``) of the
    points within ``[f / 2**(1/(2*fraction)), f * 2**(1/(2*fraction))]``. Points at 0 Hz or
    below are returned unchanged; a window holding a NaN gives NaN.

    Parameters
    ----------
    freqs_hz : np.ndarray
        1-D, ascending.
    levels_db : np.ndarray
        Same shape, dB of a power quantity (``-inf`` allowed).
    fraction : float
        > 0; 3 smooths over 1/3 octave, 1 over an octave, 6 over 1/6 octave.

    Returns
    -------
    np.ndarray
        ``float64``, same shape.

    Raises
    ------
    InvalidParameterError
        If ``fraction`` is not positive, the shapes differ or ``freqs_hz`` is not ascending.

    Examples
    --------
    A flat curve stays flat.

    >>> f = np.linspace(0, 24000, 101)
    >>> fractional_octave_smooth(f, np.full(101, -20.0), fraction=3)[50]
    np.float64(-20.0)
    """
    if not fraction > 0:
        raise InvalidParameterError(
            f"octave fraction must be > 0, got {fraction}", code="parameter.octave_fraction"
        )
    f = np.asarray(freqs_hz, dtype=np.float64)
    levels = np.asarray(levels_db, dtype=np.float64)
    if f.ndim != 1 or levels.shape != f.shape:
        raise InvalidParameterError(
            f"frequencies and levels must be 1-D of the same length, got {f.shape} and {levels.shape}",
            code="parameter.shape",
        )
    if f.size and np.any(np.diff(f) < 0):
        raise InvalidParameterError("frequencies must be ascending", code="parameter.not_ascending")
    nan = np.isnan(levels)
    power = np.where(nan, 0.0, np.power(10.0, np.where(nan, 0.0, levels) / 10.0))
    half = 2.0 ** (1.0 / (2.0 * fraction))
    lo = np.searchsorted(f, f / half, side="left")
    hi = np.searchsorted(f, f * half, side="right")
    count = np.maximum(hi - lo, 1)
    mean = _range_sums(power, lo, hi) / count
    out = _power_to_db(mean)
    out[_range_sums(nan.astype(np.float64), lo, hi) > 0] = np.nan
    non_positive = f <= 0
    out[non_positive] = levels[non_positive]
    return out
