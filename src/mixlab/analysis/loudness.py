"""Loudness: K-weighting, momentary and short-term loudness, integrated loudness, loudness range.

Everything is computed from the K-weighted mean square of 100 ms hops, accumulated in
``float64`` while the audio streams through, so a file of any length is metered in bounded
memory and the result does not depend on how the audio was cut into blocks. Per hop only one
number is kept (36 000 per hour).

* Momentary loudness: 400 ms window, one value per 100 ms hop (EBU Tech 3341, "M").
* Short-term loudness: 3 s window, one value per 100 ms hop (EBU Tech 3341, "S").
* Integrated loudness: BS.1770-4 gating of the 400 ms blocks with 75 % overlap, i.e. the
  momentary blocks: absolute gate -70 LUFS, relative gate -10 LU.
* Loudness range: EBU Tech 3342 on the short-term values: absolute gate -70 LUFS, relative
  gate -20 LU, spread between the 10th and 95th percentiles.

Channels are weighted with ``G = 1.0`` (left, right or a single channel; BS.1770-4 Table 3).
A mono file is measured as one channel, like libebur128 and ffmpeg do: it reads about 3 LU
lower than the same signal played on two channels.

Hop boundaries are at samples ``floor(k * sample_rate / 10)``, so rates that are not a
multiple of 10 Hz (e.g. 11 025 Hz) are handled; windows are averaged over the samples they
hold. Silence, and signals shorter than one window, give ``-inf`` LUFS without warnings.

References
----------
ITU-R BS.1770-4 (10/2015), "Algorithms to measure audio programme loudness and true-peak
audio level", Annex 1 (K-weighting eq. 1-2, Tables 1-3, gating eq. 3-7).
EBU Tech 3341 v3.0 (2016), "Loudness Metering: 'EBU Mode' metering to supplement EBU R 128".
EBU Tech 3342 v3.0 (2016), "Loudness Range: A measure to supplement EBU R 128 loudness
normalization", section 3 (algorithm).
libebur128 (J. Holzer), ``ebur128_init_filter``: K-weighting derived for any rate from the
analog prototype with the bilinear transform.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.signal

from mixlab.dsp.stream import sosfilt_block
from mixlab.errors import InvalidAudioError, InvalidParameterError

__all__ = [
    "ABSOLUTE_GATE_LUFS",
    "HOP_S",
    "KWeightingFilter",
    "LRA_RELATIVE_GATE_LU",
    "LoudnessMeter",
    "LoudnessResult",
    "MOMENTARY_WINDOW_S",
    "RELATIVE_GATE_LU",
    "SHORT_TERM_WINDOW_S",
    "energy_to_lufs",
    "integrated_loudness",
    "k_weighting_sos",
    "measure_loudness",
]

#: BS.1770-4 eq. 2: loudness of a block is -0.691 + 10 log10(sum of weighted mean squares).
LOUDNESS_OFFSET_DB = -0.691
#: BS.1770-4 Annex 1, section 2: blocks at or below this are dropped.
ABSOLUTE_GATE_LUFS = -70.0
#: BS.1770-4 Annex 1, section 2: relative gate for integrated loudness, below the ungated mean.
RELATIVE_GATE_LU = -10.0
#: EBU Tech 3342 section 3: relative gate for the loudness range.
LRA_RELATIVE_GATE_LU = -20.0
#: EBU Tech 3342 section 3: percentiles bounding the loudness range.
LRA_LOW_PERCENTILE = 0.10
LRA_HIGH_PERCENTILE = 0.95
#: Step between momentary / short-term values and between gating blocks (75 % overlap).
HOP_S = 0.1
#: EBU Tech 3341: momentary window (also the BS.1770-4 gating block).
MOMENTARY_WINDOW_S = 0.4
#: EBU Tech 3341: short-term window.
SHORT_TERM_WINDOW_S = 3.0

_HOPS_PER_SECOND = 10
_MOMENTARY_HOPS = 4
_SHORT_TERM_HOPS = 30

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 2

# Analog prototypes of the BS.1770-4 K-weighting stages, as fitted by libebur128.
_SHELF_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773


def check_stream_parameters(sample_rate: int, num_channels: int) -> tuple[int, int]:
    """Validate a meter's rate and channel count; return them as ints.

    Raises
    ------
    InvalidParameterError
        If ``sample_rate`` is outside 8 kHz .. 384 kHz or ``num_channels`` is not 1 or 2.
    """
    if int(sample_rate) != sample_rate or not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise InvalidParameterError(
            f"sample rate {sample_rate} Hz is not supported; use {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz",
            code="parameter.sample_rate",
            sample_rate=sample_rate,
        )
    if int(num_channels) != num_channels or not 1 <= int(num_channels) <= MAX_CHANNELS:
        raise InvalidParameterError(
            f"{num_channels} channels are not supported; mixlab meters mono and stereo audio",
            code="parameter.num_channels",
            num_channels=num_channels,
        )
    return int(sample_rate), int(num_channels)


def check_block(block: np.ndarray, num_channels: int) -> np.ndarray:
    """Return ``block`` as a ``(num_channels, n)`` float array, rejecting NaN and infinity.

    Raises
    ------
    InvalidParameterError
        If the shape is wrong.
    InvalidAudioError
        If the block holds NaN or infinity.
    """
    x = np.asarray(block)
    if x.ndim != 2 or x.shape[0] != num_channels:
        raise InvalidParameterError(
            f"expected a block of shape ({num_channels}, n), got {x.shape}", code="audio.bad_shape"
        )
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    # A sum in the block's own precision is finite when every sample is (fast); only if it is
    # not (NaN, infinity, or a float32 overflow of absurd values) are the samples looked at.
    if x.size and not math.isfinite(float(x.sum())) and not np.isfinite(x).all():
        raise InvalidAudioError(
            "the audio contains invalid samples (NaN or infinity). The file is damaged or was "
            "written by a faulty plug-in; re-export it from your DAW.",
            code="audio.non_finite",
        )
    return x


class BlockMeter:
    """Base of the streaming meters: checks the rate and channel count once, then every block.

    The constructor takes and checks ``sample_rate`` and ``num_channels`` as
    :func:`check_stream_parameters` does; :meth:`push` checks each block with
    :func:`check_block`. Subclasses meter the checked blocks in :meth:`_push_checked` and
    return what they measured from ``result()``.
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        self.sample_rate, self.num_channels = check_stream_parameters(sample_rate, num_channels)

    def push(self, block: np.ndarray) -> None:
        """Meter the next ``(num_channels, n)`` ``float32`` block.

        Raises
        ------
        InvalidParameterError
            If the shape is wrong.
        InvalidAudioError
            If the block holds NaN or infinity.
        """
        self._push_checked(check_block(block, self.num_channels))

    def _push_checked(self, x: np.ndarray) -> None:
        """Meter a block that :func:`check_block` has accepted."""
        raise NotImplementedError

    def result(self) -> Any:
        """What was measured of everything pushed so far (the meter can keep going)."""
        raise NotImplementedError


def array_blocks(samples: np.ndarray, block_size: int) -> Iterable[np.ndarray]:
    """Consecutive views of ``block_size`` samples of ``samples`` ``(channels, n)``; the last
    may be shorter."""
    return (samples[:, start : start + block_size] for start in range(0, samples.shape[1], block_size))


def run_blocks(meter: BlockMeter, blocks: Iterable[np.ndarray]) -> Any:
    """Push every block of ``blocks`` into ``meter`` and return ``meter.result()``."""
    for block in blocks:
        meter.push(block)
    return meter.result()


def energy_to_lufs(energy: np.ndarray | float) -> np.ndarray | float:
    """Loudness of weighted mean squares: ``-0.691 + 10 log10(energy)`` (BS.1770-4 eq. 2).

    Zero energy gives ``-inf`` without a warning.
    """
    z = np.asarray(energy, dtype=np.float64)
    out = np.full(z.shape, -np.inf)
    positive = z > 0.0
    out[positive] = LOUDNESS_OFFSET_DB + 10.0 * np.log10(z[positive])
    if out.ndim == 0:
        return float(out)
    return out


def _lufs_to_energy(loudness_lufs: float) -> float:
    return 10.0 ** ((loudness_lufs - LOUDNESS_OFFSET_DB) / 10.0)


@lru_cache(maxsize=32)
def _k_weighting_sos_cached(sample_rate: float) -> np.ndarray:
    # Stage 1, high shelf (head effects), bilinear transform of the analog prototype.
    k = math.tan(math.pi * _SHELF_HZ / sample_rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]
    # Stage 2, RLB high-pass. BS.1770-4 Table 2 gives the numerator as (1, -2, 1), not
    # normalised by a0; we keep that so 48 kHz reproduces the table exactly.
    k = math.tan(math.pi * _HIGHPASS_HZ / sample_rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0]
    sos = np.array([shelf, highpass], dtype=np.float64)
    sos.setflags(write=False)
    return sos


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """K-weighting filter for ``sample_rate`` as second-order sections.

    Derived from the analog prototypes of the two BS.1770-4 stages with the bilinear
    transform, as libebur128 does; at 48 kHz this reproduces BS.1770-4 Tables 1 and 2.

    Parameters
    ----------
    sample_rate : int
        In Hz, > 0.

    Returns
    -------
    np.ndarray
        ``float64``, shape ``(2, 6)``, read-only; rows ``[b0, b1, b2, 1, a1, a2]`` for the
        high shelf and the high-pass (``scipy.signal.sosfilt`` layout).

    References
    ----------
    ITU-R BS.1770-4, Annex 1, Tables 1 and 2.

    Examples
    --------
    >>> [round(float(v), 8) for v in k_weighting_sos(48000)[0]]
    [1.53512486, -2.69169619, 1.19839281, 1.0, -1.69065929, 0.73248077]
    """
    if not sample_rate > 0:
        raise InvalidParameterError(
            f"sample rate must be positive, got {sample_rate}", code="parameter.sample_rate"
        )
    return _k_weighting_sos_cached(float(sample_rate))


class KWeightingFilter:
    """Streaming K-weighting filter; chunk-invariant, no latency.

    Parameters
    ----------
    sample_rate : int
        In Hz.
    num_channels : int
        Rows of every block.

    References
    ----------
    ITU-R BS.1770-4, Annex 1, Figure 1 and Tables 1-2.
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        self.sample_rate = int(sample_rate)
        self.num_channels = int(num_channels)
        self._sos = np.array(k_weighting_sos(sample_rate))  # sosfilt needs a writable copy
        self._zi = np.zeros((self._sos.shape[0], self.num_channels, 2))

    def reset(self) -> None:
        """Forget the filter state."""
        self._zi[...] = 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        """K-weight one block.

        Parameters
        ----------
        block : np.ndarray
            ``(num_channels, n)`` float.

        Returns
        -------
        np.ndarray
            ``float64``, same shape (filtered in ``float64``: the 38 Hz high-pass has its
            poles close to ``z = 1`` and is noisy in single precision).
        """
        x = np.asarray(block, dtype=np.float64)
        if x.shape[1] == 0:
            return x.copy()
        y, self._zi = sosfilt_block(self._sos, x, self._zi)
        return y


class HopEnergyAccumulator:
    """Sums a per-sample power over 100 ms hops, streaming (building block of the meters).

    ``push_power(p)`` takes the channel-weighted power of each sample (for BS.1770,
    ``sum_i G_i * y_i[n]**2`` of the K-weighted channels ``y_i``). Hop ``k`` covers samples
    ``floor(k * sample_rate / 10)`` up to ``floor((k + 1) * sample_rate / 10)``.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self._pos = 0
        self._partial = 0.0
        self._done: list[np.ndarray] = []
        self._num_done = 0

    def _boundary(self, k: np.ndarray | int) -> np.ndarray | int:
        return (k * self.sample_rate) // _HOPS_PER_SECOND

    @property
    def num_samples(self) -> int:
        """Samples pushed so far."""
        return self._pos

    def push_power(self, power: np.ndarray) -> None:
        """Add the per-sample power of the next ``len(power)`` samples (``float64``, >= 0)."""
        n = int(power.shape[0])
        if n == 0:
            return
        start, end = self._pos, self._pos + n
        # hops k+1 .. k_last close inside (start, end]: boundary(k) <= end
        k_first = self._num_done + 1
        k_last = (_HOPS_PER_SECOND * (end + 1) - 1) // self.sample_rate
        if k_last < k_first:
            self._partial += float(np.sum(power))
        else:
            cuts = self._boundary(np.arange(k_first, k_last + 1, dtype=np.int64)) - start
            ends_block = cuts[-1] == n
            seg = np.add.reduceat(power, np.concatenate(([0], cuts[:-1] if ends_block else cuts)))
            if ends_block:
                sums, partial = seg, 0.0
            else:
                sums, partial = seg[:-1], float(seg[-1])
            sums[0] += self._partial
            self._done.append(sums)
            self._num_done += sums.size
            self._partial = partial
        self._pos = end

    def hop_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Energy sums and sample counts of the completed hops, ``float64`` arrays."""
        sums = np.concatenate(self._done) if self._done else np.zeros(0)
        if len(self._done) > 1:
            self._done = [sums]
        k = np.arange(self._num_done + 1, dtype=np.int64)
        counts = np.diff(self._boundary(k)).astype(np.float64)
        return sums, counts


def window_energies(sums: np.ndarray, counts: np.ndarray, num_hops: int) -> np.ndarray:
    """Mean power over every run of ``num_hops`` consecutive hops (sliding by one hop)."""
    if sums.size < num_hops:
        return np.zeros(0)
    # Direct sliding sums (not cumsum differences, which would leave round-off from loud
    # passages in the silence after them).
    ones = np.ones(num_hops)
    return np.convolve(sums, ones, mode="valid") / np.convolve(counts, ones, mode="valid")


def gated_integrated_lufs(block_energies: np.ndarray) -> tuple[float, float]:
    """Integrated loudness and relative gate from 400 ms block energies (BS.1770-4 eq. 3-7).

    Returns
    -------
    (integrated_lufs, relative_gate_lufs)
        ``-inf`` for both if no block is above the absolute gate.
    """
    z = np.asarray(block_energies, dtype=np.float64)
    above_abs = z[z > _lufs_to_energy(ABSOLUTE_GATE_LUFS)]
    if above_abs.size == 0:
        return -np.inf, -np.inf
    # BS.1770-4 eq. 6: relative threshold from the mean of the absolute-gated blocks
    relative_gate_lufs = float(energy_to_lufs(np.mean(above_abs))) + RELATIVE_GATE_LU
    gated = above_abs[above_abs > _lufs_to_energy(relative_gate_lufs)]
    if gated.size == 0:  # cannot happen in exact arithmetic; guards round-off
        return -np.inf, relative_gate_lufs
    # BS.1770-4 eq. 7
    return float(energy_to_lufs(np.mean(gated))), relative_gate_lufs


def loudness_range(short_term_energies: np.ndarray) -> tuple[float, float, float]:
    """Loudness range from short-term energies (EBU Tech 3342, section 3).

    Returns
    -------
    (lra_lu, low_lufs, high_lufs)
        The 10th and 95th percentiles of the gated short-term loudness and their difference.
        ``(0.0, -inf, -inf)`` if no short-term value passes the gates (silence, or shorter
        than 3 s), as libebur128 does.
    """
    s = np.asarray(short_term_energies, dtype=np.float64)
    above_abs = s[s > _lufs_to_energy(ABSOLUTE_GATE_LUFS)]
    if above_abs.size == 0:
        return 0.0, -np.inf, -np.inf
    # Tech 3342: relative gate -20 LU below the power mean of the absolute-gated values
    gate = float(energy_to_lufs(np.mean(above_abs))) + LRA_RELATIVE_GATE_LU
    gated = np.sort(energy_to_lufs(above_abs[above_abs > _lufs_to_energy(gate)]))
    if gated.size == 0:
        return 0.0, -np.inf, -np.inf
    n = gated.size
    # Tech 3342 percentile: nearest rank, index round((n - 1) * p)
    low = float(gated[int((n - 1) * LRA_LOW_PERCENTILE + 0.5)])
    high = float(gated[int((n - 1) * LRA_HIGH_PERCENTILE + 0.5)])
    return high - low, low, high


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class LoudnessResult:
    """Loudness of a programme (BS.1770-4 / EBU R 128).

    Attributes
    ----------
    integrated_lufs : float
        Gated integrated loudness, LUFS; ``-inf`` for silence or audio shorter than 400 ms.
    lra_lu : float
        Loudness range, LU (>= 0); 0.0 when there are no gated short-term values.
    lra_low_lufs, lra_high_lufs : float
        10th and 95th percentiles of the gated short-term loudness (``-inf`` if none).
    relative_gate_lufs : float
        The relative gate of the integrated loudness (``-inf`` if no block passed the
        absolute gate).
    max_momentary_lufs, max_short_term_lufs : float
        Highest momentary / short-term loudness, LUFS (``-inf`` if none).
    momentary_lufs : np.ndarray
        Momentary loudness every ``hop_s``; value ``j`` is the 400 ms window ending at
        ``(j + 4) * hop_s`` s. Read-only ``float64``; ``-inf`` for digital silence.
    short_term_lufs : np.ndarray
        Short-term loudness every ``hop_s``; value ``j`` is the 3 s window ending at
        ``(j + 30) * hop_s`` s. Read-only ``float64``.
    hop_s : float
        0.1 s.
    duration_s : float
        Length of the audio measured.
    block_energies : np.ndarray
        Weighted mean square (``sum_i G_i z_i``, BS.1770-4 eq. 3) of every 400 ms gating
        block, read-only ``float64``: enough to re-gate after a gain change
        (:meth:`integrated_lufs_after_gain`).
    """

    integrated_lufs: float
    lra_lu: float
    lra_low_lufs: float
    lra_high_lufs: float
    relative_gate_lufs: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    hop_s: float
    duration_s: float
    momentary_lufs: np.ndarray = field(repr=False, compare=False)
    short_term_lufs: np.ndarray = field(repr=False, compare=False)
    block_energies: np.ndarray = field(repr=False, compare=False)

    def integrated_lufs_after_gain(self, gain_db: float) -> float:
        """Integrated loudness the audio would have after a gain of ``gain_db``.

        Exact for a linear gain (K-weighting is linear): the blocks are re-gated, so blocks
        that cross the -70 LUFS absolute gate are handled. Costs microseconds.

        Parameters
        ----------
        gain_db : float
            Gain in dB.

        Returns
        -------
        float
            LUFS, ``-inf`` if nothing passes the gates.
        """
        scale = 10.0 ** (float(gain_db) / 10.0)
        return gated_integrated_lufs(self.block_energies * scale)[0]


class LoudnessMeter(BlockMeter):
    """Streaming loudness meter: :meth:`push` blocks, then :meth:`result`.

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000.
    num_channels : int
        1 or 2; every channel has weight ``G = 1.0`` (BS.1770-4 Table 3).

    Raises
    ------
    InvalidParameterError
        If the rate or channel count is not supported.

    References
    ----------
    ITU-R BS.1770-4, Annex 1; EBU Tech 3341; EBU Tech 3342.

    Examples
    --------
    EBU Tech 3341 case 1: a stereo 1 kHz sine, peak -23 dBFS, reads -23.0 LUFS.

    >>> t = np.arange(48000 * 20) / 48000
    >>> x = np.tile(10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1)).astype(np.float32)
    >>> meter = LoudnessMeter(48000, 2)
    >>> for start in range(0, x.shape[1], 65536):
    ...     meter.push(x[:, start : start + 65536])
    >>> round(meter.result().integrated_lufs, 1)
    -23.0
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        super().__init__(sample_rate, num_channels)
        self._filter = KWeightingFilter(self.sample_rate, self.num_channels)
        self._hops = HopEnergyAccumulator(self.sample_rate)

    def _push_checked(self, x: np.ndarray) -> None:
        self.push_weighted(self._filter.process(x))

    def push_weighted(self, weighted: np.ndarray) -> None:
        """Meter the next block given already K-weighted (``float64``, channels first).

        For callers that K-weight once and feed several meters; do not mix with
        :meth:`push` on the same meter (the filter state would be skipped).
        """
        w = np.asarray(weighted, dtype=np.float64)
        power = np.einsum("ij,ij->j", w, w)  # sum_i G_i y_i^2 with G_i = 1
        self._hops.push_power(power)

    def result(self) -> LoudnessResult:
        """Loudness of everything pushed so far (the meter can keep going afterwards)."""
        sums, counts = self._hops.hop_sums()
        return loudness_from_hops(sums, counts, duration_s=self._hops.num_samples / self.sample_rate)


def loudness_from_hops(sums: np.ndarray, counts: np.ndarray, *, duration_s: float) -> LoudnessResult:
    """Build a :class:`LoudnessResult` from 100 ms hop energy sums and sample counts."""
    blocks = window_energies(sums, counts, _MOMENTARY_HOPS)
    short = window_energies(sums, counts, _SHORT_TERM_HOPS)
    integrated, rel_gate = gated_integrated_lufs(blocks)
    lra, low, high = loudness_range(short)
    momentary_lufs = energy_to_lufs(blocks)
    short_term_lufs = energy_to_lufs(short)
    return LoudnessResult(
        integrated_lufs=integrated,
        lra_lu=lra,
        lra_low_lufs=low,
        lra_high_lufs=high,
        relative_gate_lufs=rel_gate,
        max_momentary_lufs=float(momentary_lufs.max()) if momentary_lufs.size else -np.inf,
        max_short_term_lufs=float(short_term_lufs.max()) if short_term_lufs.size else -np.inf,
        hop_s=HOP_S,
        duration_s=float(duration_s),
        momentary_lufs=_read_only(momentary_lufs),
        short_term_lufs=_read_only(short_term_lufs),
        block_energies=_read_only(blocks),
    )


def measure_loudness(samples: np.ndarray, sample_rate: int, *, block_size: int = 65536) -> LoudnessResult:
    """Loudness of a whole array (streams it through :class:`LoudnessMeter`).

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, ``(num_channels, num_samples)``, 1 or 2 channels.
    sample_rate : int
        In Hz.
    block_size : int
        Samples per internal block.

    Returns
    -------
    LoudnessResult

    Raises
    ------
    InvalidParameterError
        If the shape, rate or channel count is not supported.
    InvalidAudioError
        If the audio holds NaN or infinity.

    References
    ----------
    ITU-R BS.1770-4, Annex 1; EBU Tech 3341; EBU Tech 3342.
    """
    x = as_samples_2d(samples)
    return run_blocks(LoudnessMeter(sample_rate, x.shape[0]), array_blocks(x, block_size))


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness of a whole array, in LUFS (BS.1770-4).

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, ``(num_channels, num_samples)``.
    sample_rate : int
        In Hz.

    Returns
    -------
    float
        LUFS; ``-inf`` for silence or audio shorter than 400 ms.

    References
    ----------
    ITU-R BS.1770-4, Annex 1, eq. 3-7.
    """
    return measure_loudness(samples, sample_rate).integrated_lufs


def as_samples_2d(samples: np.ndarray) -> np.ndarray:
    """``samples`` as an array, which must be ``(channels, samples)``; 1-D input is refused
    (the core never guesses the layout).

    Raises
    ------
    InvalidParameterError
        If ``samples`` is not 2-D.
    """
    x = np.asarray(samples)
    if x.ndim != 2:
        raise InvalidParameterError(
            f"audio must have shape (channels, samples), got {x.shape}", code="audio.bad_shape"
        )
    return x
