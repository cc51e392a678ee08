"""Parametric EQ as biquads: peaks and shelves (RBJ cookbook), Butterworth high- and low-pass.

Every design function returns second-order sections, shape ``(k, 6)`` rows
``[b0, b1, b2, 1, a1, a2]`` (scipy's ``sos`` layout), so a whole channel-strip EQ is one
``(k, 6)`` array: :func:`eq_sos` builds it from :class:`EQBand` values, :func:`sos_response_db`
evaluates its magnitude analytically (for decisions, without rendering audio) and
:class:`ParametricEQ` streams audio through it.

References
----------
R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients" (the Audio EQ
Cookbook), https://www.w3.org/TR/audio-eq-cookbook/ .
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.signal

from mixlab.dsp.crossover import StreamingSOS
from mixlab.errors import InvalidAudioError, InvalidParameterError

#: Band kinds accepted by :class:`EQBand`.
BAND_KINDS = ("peak", "low_shelf", "high_shelf")
#: Slopes of :func:`highpass_sos` / :func:`lowpass_sos` in dB per octave (6 dB per filter order).
FILTER_SLOPES_DB_PER_OCTAVE = (12, 18, 24, 36, 48)

MIN_FREQ_HZ = 10.0
#: Band and filter frequencies may reach this fraction of the Nyquist frequency.
MAX_NYQUIST_FRACTION = 0.95
MIN_Q, MAX_Q = 0.1, 20.0
MAX_GAIN_DB = 24.0


def _bad_band(message: str, **details) -> InvalidParameterError:
    return InvalidParameterError(message, code="eq.bad_band", **details)


def _check_band_freq(freq_hz: float, sample_rate: int) -> None:
    top_hz = MAX_NYQUIST_FRACTION * sample_rate / 2.0
    if not MIN_FREQ_HZ < freq_hz <= top_hz:
        raise _bad_band(
            f"EQ frequency {freq_hz:g} Hz is out of range: use more than {MIN_FREQ_HZ:g} Hz and at most "
            f"{top_hz:.0f} Hz (95 % of half the sample rate, {sample_rate} Hz).",
            freq_hz=freq_hz, min_freq_hz=MIN_FREQ_HZ, max_freq_hz=top_hz,
        )


def _check_gain(gain_db: float) -> None:
    if not abs(gain_db) <= MAX_GAIN_DB:
        raise _bad_band(
            f"EQ gain {gain_db:g} dB is out of range: use between -{MAX_GAIN_DB:g} and +{MAX_GAIN_DB:g} dB.",
            gain_db=gain_db, max_abs_gain_db=MAX_GAIN_DB,
        )


def _check_q(q: float) -> None:
    if not MIN_Q <= q <= MAX_Q:
        raise _bad_band(
            f"EQ Q {q:g} is out of range: use between {MIN_Q:g} (wide) and {MAX_Q:g} (narrow).",
            q=q, min_q=MIN_Q, max_q=MAX_Q,
        )


def _normalise(b: Sequence[float], a: Sequence[float]) -> np.ndarray:
    a0 = a[0]
    return np.array([[b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0]], dtype=np.float64)


def peaking_sos(freq_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """Peaking (bell) biquad: ``gain_db`` exactly at ``freq_hz``, 0 dB far from it.

    Parameters
    ----------
    freq_hz : float
        Centre frequency in Hz, in (10, 0.95 * sample_rate / 2].
    gain_db : float
        Gain at the centre, -24..24 dB.
    q : float
        0.1..20. The cookbook's Q: the bandwidth ``BW`` in octaves between the frequencies where
        the gain is ``gain_db / 2`` satisfies ``1 / q = 2 sinh(ln(2) / 2 * BW * w0 / sin(w0))``
        (``w0 = 2 pi freq_hz / sample_rate``); boosts and cuts of equal size mirror each other.
    sample_rate : int
        In Hz.

    Returns
    -------
    np.ndarray
        float64, shape ``(1, 6)``.

    Raises
    ------
    InvalidParameterError
        ``eq.bad_band`` if a parameter is out of range.

    References
    ----------
    Audio EQ Cookbook, "peakingEQ" and the definitions of ``A``, ``w0``, ``alpha``.
    """
    _check_band_freq(freq_hz, sample_rate)
    _check_gain(gain_db)
    _check_q(q)
    amp = 10.0 ** (gain_db / 40.0)  # cookbook: A = 10^(dBgain/40)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    alpha = math.sin(w0) / (2.0 * q)
    cos_w0 = math.cos(w0)
    b = (1.0 + alpha * amp, -2.0 * cos_w0, 1.0 - alpha * amp)
    a = (1.0 + alpha / amp, -2.0 * cos_w0, 1.0 - alpha / amp)
    return _normalise(b, a)


def _shelf_alpha(w0: float, amp: float, slope: float | None, q: float | None) -> float:
    if q is not None:
        _check_q(q)
        return math.sin(w0) / (2.0 * q)
    if slope is None or not 0 < slope <= 1.0:
        raise _bad_band(f"shelf slope {slope} is out of range: use more than 0 and at most 1.", slope=slope)
    # Cookbook: alpha = sin(w0)/2 * sqrt((A + 1/A) * (1/S - 1) + 2)
    return math.sin(w0) / 2.0 * math.sqrt((amp + 1.0 / amp) * (1.0 / slope - 1.0) + 2.0)


def _shelf_sos(freq_hz: float, gain_db: float, sample_rate: int, slope: float | None, q: float | None,
               *, high: bool) -> np.ndarray:
    _check_band_freq(freq_hz, sample_rate)
    _check_gain(gain_db)
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    alpha = _shelf_alpha(w0, amp, slope, q)
    c = math.cos(w0)
    k = 2.0 * math.sqrt(amp) * alpha
    if high:  # cookbook "highShelf"
        b = (amp * ((amp + 1) + (amp - 1) * c + k), -2 * amp * ((amp - 1) + (amp + 1) * c),
             amp * ((amp + 1) + (amp - 1) * c - k))
        a = ((amp + 1) - (amp - 1) * c + k, 2 * ((amp - 1) - (amp + 1) * c), (amp + 1) - (amp - 1) * c - k)
    else:  # cookbook "lowShelf"
        b = (amp * ((amp + 1) - (amp - 1) * c + k), 2 * amp * ((amp - 1) - (amp + 1) * c),
             amp * ((amp + 1) - (amp - 1) * c - k))
        a = ((amp + 1) + (amp - 1) * c + k, -2 * ((amp - 1) + (amp + 1) * c), (amp + 1) + (amp - 1) * c - k)
    return _normalise(b, a)


def low_shelf_sos(freq_hz: float, gain_db: float, sample_rate: int, *, slope: float = 1.0,
                  q: float | None = None) -> np.ndarray:
    """Low-shelf biquad: ``gain_db`` at 0 Hz, 0 dB at Nyquist, ``gain_db / 2`` exactly at ``freq_hz``.

    Parameters
    ----------
    freq_hz : float
        Corner (mid-gain) frequency in Hz, in (10, 0.95 * sample_rate / 2].
    gain_db : float
        Shelf gain, -24..24 dB.
    sample_rate : int
        In Hz.
    slope : float
        The cookbook's shelf slope ``S``, in (0, 1]: 1 is the steepest slope without overshoot
        (equivalent to ``q = 1 / sqrt(2)``). Ignored when ``q`` is given.
    q : float, optional
        0.1..20, the cookbook's shelf Q instead of ``slope``; above ``1 / sqrt(2)`` the shelf
        overshoots (a bump next to the corner).

    Returns
    -------
    np.ndarray
        float64, shape ``(1, 6)``.

    Raises
    ------
    InvalidParameterError
        ``eq.bad_band`` if a parameter is out of range.

    References
    ----------
    Audio EQ Cookbook, "lowShelf" and the ``alpha`` from shelf slope ``S``.
    """
    return _shelf_sos(freq_hz, gain_db, sample_rate, slope, q, high=False)


def high_shelf_sos(freq_hz: float, gain_db: float, sample_rate: int, *, slope: float = 1.0,
                   q: float | None = None) -> np.ndarray:
    """High-shelf biquad: 0 dB at 0 Hz, ``gain_db`` at Nyquist, ``gain_db / 2`` exactly at ``freq_hz``.

    Parameters as :func:`low_shelf_sos`.

    References
    ----------
    Audio EQ Cookbook, "highShelf".
    """
    return _shelf_sos(freq_hz, gain_db, sample_rate, slope, q, high=True)


def _butterworth_sos(freq_hz: float, sample_rate: int, slope_db_per_octave: int, btype: str) -> np.ndarray:
    if slope_db_per_octave not in FILTER_SLOPES_DB_PER_OCTAVE:
        raise InvalidParameterError(
            f"filter slope {slope_db_per_octave} dB/octave is not available: choose one of "
            f"{', '.join(map(str, FILTER_SLOPES_DB_PER_OCTAVE))}.",
            code="eq.bad_filter", slope_db_per_octave=slope_db_per_octave,
            allowed=list(FILTER_SLOPES_DB_PER_OCTAVE),
        )
    top_hz = MAX_NYQUIST_FRACTION * sample_rate / 2.0
    if not 0 < freq_hz <= top_hz:
        raise InvalidParameterError(
            f"{btype} frequency {freq_hz:g} Hz is out of range: use more than 0 Hz and at most {top_hz:.0f} Hz.",
            code="eq.bad_filter", freq_hz=freq_hz, max_freq_hz=top_hz,
        )
    order = slope_db_per_octave // 6
    return scipy.signal.butter(order, freq_hz, btype=btype, fs=sample_rate, output="sos")


def highpass_sos(freq_hz: float, sample_rate: int, *, slope_db_per_octave: int = 24) -> np.ndarray:
    """Butterworth high-pass (``scipy.signal.butter``): -3.01 dB at ``freq_hz`` (the cutoff), maximally flat above.

    Parameters
    ----------
    freq_hz : float
        In Hz, in (0, 0.95 * sample_rate / 2].
    sample_rate : int
        In Hz.
    slope_db_per_octave : int
        12, 18, 24, 36 or 48: filter order ``slope / 6``, the asymptotic roll-off.

    Returns
    -------
    np.ndarray
        float64, shape ``(ceil(order / 2), 6)``.

    Raises
    ------
    InvalidParameterError
        ``eq.bad_filter`` for an unavailable slope or a cutoff out of range.
    """
    return _butterworth_sos(freq_hz, sample_rate, slope_db_per_octave, "highpass")


def lowpass_sos(freq_hz: float, sample_rate: int, *, slope_db_per_octave: int = 24) -> np.ndarray:
    """Butterworth low-pass; as :func:`highpass_sos`."""
    return _butterworth_sos(freq_hz, sample_rate, slope_db_per_octave, "lowpass")


@dataclass(frozen=True)
class EQBand:
    """One band of a parametric EQ.

    kind : ``"peak"``, ``"low_shelf"`` or ``"high_shelf"``.
    freq_hz : centre (peak) or corner (shelf, where the gain is half) frequency, > 10 Hz and at
        most 95 % of half the sample rate (checked by :func:`eq_sos`, which knows the rate).
    gain_db : -24..24.
    q : 0.1..20. For a peak the cookbook's bandwidth Q (see :func:`peaking_sos`); for a shelf
        the cookbook's shelf Q, where the default ``1 / sqrt(2)`` is slope ``S = 1``.

    Raises :class:`InvalidParameterError` (code ``eq.bad_band``) on construction when a value is
    out of range.
    """

    kind: str
    freq_hz: float
    gain_db: float
    q: float = 1.0 / math.sqrt(2.0)

    def __post_init__(self) -> None:
        if self.kind not in BAND_KINDS:
            raise _bad_band(
                f"EQ band kind {self.kind!r} is unknown: use one of {', '.join(BAND_KINDS)}.",
                kind=self.kind, allowed=list(BAND_KINDS),
            )
        if not self.freq_hz > MIN_FREQ_HZ:
            raise _bad_band(
                f"EQ frequency {self.freq_hz:g} Hz is too low: use more than {MIN_FREQ_HZ:g} Hz.",
                freq_hz=self.freq_hz, min_freq_hz=MIN_FREQ_HZ,
            )
        _check_gain(self.gain_db)
        _check_q(self.q)

    def sos(self, sample_rate: int) -> np.ndarray:
        """This band's biquad at ``sample_rate``, shape ``(1, 6)``."""
        if self.kind == "peak":
            return peaking_sos(self.freq_hz, self.gain_db, self.q, sample_rate)
        shelf = low_shelf_sos if self.kind == "low_shelf" else high_shelf_sos
        return shelf(self.freq_hz, self.gain_db, sample_rate, q=self.q)


def eq_sos(
    bands: Sequence[EQBand],
    sample_rate: int,
    *,
    highpass_hz: float | None = None,
    highpass_slope: int = 24,
    lowpass_hz: float | None = None,
    lowpass_slope: int = 24,
) -> np.ndarray:
    """The sections of a whole EQ: the bands, then the optional high- and low-pass filters.

    Bands with 0 dB gain are dropped (they are identities). With nothing left the result is the
    identity, an empty ``(0, 6)`` array, which :class:`ParametricEQ` passes straight through.

    Parameters
    ----------
    bands : sequence of EQBand
    sample_rate : int
        In Hz.
    highpass_hz, lowpass_hz : float, optional
        Butterworth filter cutoffs in Hz; ``None`` for none.
    highpass_slope, lowpass_slope : int
        dB per octave, see :func:`highpass_sos`.

    Returns
    -------
    np.ndarray
        float64, shape ``(k, 6)``.

    Raises
    ------
    InvalidParameterError
        ``eq.bad_band`` for a band frequency out of range at this rate, ``eq.bad_filter`` for a
        bad filter.
    """
    sections = [band.sos(sample_rate) for band in bands if band.gain_db != 0.0]
    if highpass_hz is not None:
        sections.append(highpass_sos(highpass_hz, sample_rate, slope_db_per_octave=highpass_slope))
    if lowpass_hz is not None:
        sections.append(lowpass_sos(lowpass_hz, sample_rate, slope_db_per_octave=lowpass_slope))
    if not sections:
        return np.zeros((0, 6), dtype=np.float64)
    return np.vstack(sections)


def sos_response_db(sos: np.ndarray, freqs_hz: np.ndarray | Sequence[float], sample_rate: int) -> np.ndarray:
    """Magnitude response in dB of ``sos`` at ``freqs_hz``, evaluated analytically.

    ``H(z) = prod_k (b0 + b1 z^-1 + b2 z^-2) / (a0 + a1 z^-1 + a2 z^-2)`` at ``z = exp(j w)``;
    no audio is rendered, so this costs microseconds per band. An empty ``sos`` is the identity
    (0 dB everywhere). Magnitudes are floored at -240 dB so a zero gives a finite value.

    Parameters
    ----------
    sos : np.ndarray
        Shape ``(k, 6)``.
    freqs_hz : array-like
        Frequencies in Hz, any shape.
    sample_rate : int
        In Hz.

    Returns
    -------
    np.ndarray
        float64 dB, the shape of ``freqs_hz``.
    """
    freqs = np.asarray(freqs_hz, dtype=np.float64)
    sos = np.asarray(sos, dtype=np.float64).reshape(-1, 6)
    if sos.shape[0] == 0:
        return np.zeros(freqs.shape)
    z1 = np.exp(-2j * np.pi * freqs / sample_rate)[..., np.newaxis]  # z^-1, one column per section
    z2 = z1 * z1
    num = sos[:, 0] + sos[:, 1] * z1 + sos[:, 2] * z2
    den = sos[:, 3] + sos[:, 4] * z1 + sos[:, 5] * z2
    ratio = np.abs(num) / np.maximum(np.abs(den), 1e-300)
    return np.sum(20.0 * np.log10(np.maximum(ratio, 1e-12)), axis=-1)


def _checked_block(block: np.ndarray, num_channels: int, what: str) -> np.ndarray:
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[0] != num_channels:
        raise InvalidAudioError(
            f"the {what} was set up for {num_channels} channel(s); got a block of shape {block.shape}",
            code="audio.bad_channels", shape=list(block.shape),
        )
    return block


class ParametricEQ:
    """Streams ``(channels, n)`` blocks through an EQ's second-order sections.

    State is carried from block to block, so a stream gives the same output however it is cut
    into blocks. No latency (:attr:`latency_samples` is 0). The filtering runs in float64; the
    output has the input's dtype (``float32`` in, ``float32`` out) and shape. The input is not
    modified. An empty ``sos`` passes audio through unchanged (a copy).

    Parameters
    ----------
    sos : np.ndarray
        Shape ``(k, 6)``, e.g. from :func:`eq_sos`.
    num_channels : int
        Channels per block.
    """

    latency_samples = 0

    def __init__(self, sos: np.ndarray, num_channels: int) -> None:
        sos = np.asarray(sos, dtype=np.float64).reshape(-1, 6)
        self.sos = sos
        self.num_channels = int(num_channels)
        self._filter = StreamingSOS(sos, self.num_channels) if sos.shape[0] else None

    @classmethod
    def from_bands(cls, bands: Sequence[EQBand], sample_rate: int, num_channels: int, **filters) -> ParametricEQ:
        """Shorthand for ``ParametricEQ(eq_sos(bands, sample_rate, **filters), num_channels)``."""
        return cls(eq_sos(bands, sample_rate, **filters), num_channels)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Filter ``block`` (``(num_channels, n)``); returns a new array of the same shape and dtype."""
        block = _checked_block(block, self.num_channels, "EQ")
        dtype = block.dtype if block.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        if self._filter is None or block.shape[-1] == 0:
            return block.astype(dtype, copy=True)
        return self._filter.process(block).astype(dtype, copy=False)
