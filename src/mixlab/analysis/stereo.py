"""Stereo image: correlation, side/mid balance and loudness lost in a mono fold-down.

Definitions (``L``, ``R`` the two channels; ``M = (L + R) / 2``, ``S = (L - R) / 2``):

* ``correlation = sum(L R) / sqrt(sum(L^2) sum(R^2))``, over the whole programme, without
  removing the mean: the quantity a phase-correlation meter shows. +1 for identical
  channels, -1 for one channel the negative of the other, about 0 for unrelated ones.
  NaN when either channel is silent (undefined) and for mono audio.
* ``side_to_mid_db = 10 log10(sum(S^2) / sum(M^2))``: ``-inf`` for identical channels,
  ``+inf`` for opposite ones, 0 dB for unrelated channels of equal level; NaN for silence
  and for mono audio.
* ``mono_loss_lu``: integrated loudness (BS.1770-4) of the stereo programme minus that of
  its mono fold-down ``M`` played on both channels (what a mono playback device with two
  speakers, or a mono downmix in a stereo stream, gives). Each is gated on its own. 0 LU
  for identical channels, about 3 LU for unrelated channels of equal level, ``+inf`` when
  the fold-down cancels entirely (``L = -R``), NaN for stereo silence, 0 LU for mono audio.
  Because K-weighting is linear, the fold-down is taken from the K-weighted channels:
  ``K(M) = (K(L) + K(R)) / 2``.
* Per band (low < 200 Hz <= mid < 2 kHz <= high, :data:`STEREO_BAND_EDGES_HZ`): the same
  correlation and side/mid ratio from the cross spectrum of the Welch PSD
  (:class:`mixlab.analysis.spectrum.SpectrumMeter`).

References
----------
ITU-R BS.1770-4, Annex 1 (loudness of the stereo programme and of the fold-down).
ITU-R BS.775-3, Table 2 (the mono downmix ``(L + R)`` with equal weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mixlab.analysis.loudness import (
    BlockMeter,
    HopEnergyAccumulator,
    KWeightingFilter,
    array_blocks,
    as_samples_2d,
    check_block,
    gated_integrated_lufs,
    run_blocks,
    window_energies,
)
from mixlab.analysis.spectrum import SpectrumMeter, SpectrumResult, band_power

__all__ = [
    "STEREO_BAND_EDGES_HZ",
    "BandStereo",
    "StereoMeter",
    "StereoResult",
    "band_stereo_from_spectrum",
    "measure_stereo",
]

#: Crossover frequencies of the low / mid / high bands, Hz.
STEREO_BAND_EDGES_HZ: tuple[float, float] = (200.0, 2000.0)
_BAND_NAMES = ("low", "mid", "high")


@dataclass(frozen=True)
class BandStereo:
    """Stereo measures in one frequency band.

    Attributes
    ----------
    name : str
        ``"low"``, ``"mid"`` or ``"high"``.
    low_hz, high_hz : float
        Band edges (``high_hz`` of the top band is the Nyquist frequency).
    correlation : float
        -1 .. +1; NaN if a channel has no power in the band or the audio is mono.
    side_to_mid_db : float
        ``10 log10(S power / M power)`` in the band; NaN if there is no power.
    """

    name: str
    low_hz: float
    high_hz: float
    correlation: float
    side_to_mid_db: float


@dataclass(frozen=True)
class StereoResult:
    """Stereo image of a programme (see the module docstring for the definitions).

    Attributes
    ----------
    correlation : float
    side_to_mid_db : float
    mono_loss_lu : float
    stereo_integrated_lufs : float
        Integrated loudness of the programme as it is.
    mono_integrated_lufs : float
        Integrated loudness of ``M = (L + R) / 2`` played on both channels.
    bands : tuple of BandStereo
        Low, mid and high bands (empty if not measured).
    """

    correlation: float
    side_to_mid_db: float
    mono_loss_lu: float
    stereo_integrated_lufs: float
    mono_integrated_lufs: float
    bands: tuple[BandStereo, ...]


def _correlation(ll: float, rr: float, lr: float) -> float:
    if ll <= 0.0 or rr <= 0.0:
        return math.nan
    return float(np.clip(lr / math.sqrt(ll * rr), -1.0, 1.0))


def _side_to_mid_db(ll: float, rr: float, lr: float) -> float:
    mid = max((ll + rr + 2.0 * lr) / 4.0, 0.0)
    side = max((ll + rr - 2.0 * lr) / 4.0, 0.0)
    # round-off: treat a side (or mid) far below the total as exactly zero
    total = (ll + rr) / 2.0
    if total <= 0.0:
        return math.nan
    if side <= 1e-12 * total:
        side = 0.0
    if mid <= 1e-12 * total:
        mid = 0.0
    if mid == 0.0:
        return math.inf
    if side == 0.0:
        return -math.inf
    return 10.0 * math.log10(side / mid)


def band_stereo_from_spectrum(
    spectrum: SpectrumResult, *, edges_hz: tuple[float, ...] = STEREO_BAND_EDGES_HZ
) -> tuple[BandStereo, ...]:
    """Per-band correlation and side/mid ratio from a stereo :class:`SpectrumResult`.

    Parameters
    ----------
    spectrum : SpectrumResult
        Of stereo audio (``cross_psd_per_hz`` present).
    edges_hz : tuple of float
        Ascending crossover frequencies; ``len(edges_hz) + 1`` bands from 0 Hz to Nyquist.

    Returns
    -------
    tuple of BandStereo
        Empty for mono audio.
    """
    if spectrum.cross_psd_per_hz is None or spectrum.channel_psd_per_hz.shape[0] != 2:
        return ()
    nyquist = spectrum.sample_rate / 2.0
    bounds = (0.0, *edges_hz, nyquist)
    names = _BAND_NAMES if len(bounds) == 4 else tuple(f"band{i}" for i in range(len(bounds) - 1))
    lows, highs = np.array(bounds[:-1]), np.minimum(np.array(bounds[1:]), nyquist)
    f = spectrum.freqs_hz
    ll = band_power(f, spectrum.channel_psd_per_hz[0], lows, highs)
    rr = band_power(f, spectrum.channel_psd_per_hz[1], lows, highs)
    # the cross density can be negative: integrate its two signed parts separately
    cross = spectrum.cross_psd_per_hz
    lr = band_power(f, np.maximum(cross, 0.0), lows, highs) - band_power(f, np.maximum(-cross, 0.0), lows, highs)
    return tuple(
        BandStereo(
            name=names[i],
            low_hz=float(lows[i]),
            high_hz=float(highs[i]),
            correlation=_correlation(ll[i], rr[i], lr[i]),
            side_to_mid_db=_side_to_mid_db(ll[i], rr[i], lr[i]),
        )
        for i in range(lows.size)
    )


class StereoMeter(BlockMeter):
    """Streaming stereo meter: correlation, side/mid ratio, mono fold-down loss, bands.

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000.
    num_channels : int
        1 or 2 (mono audio gives NaN correlation and 0 LU mono loss).
    measure_bands : bool
        Keep a cross spectrum for the per-band measures. A caller that already runs a
        :class:`SpectrumMeter` on the same audio can pass False and hand its result to
        :meth:`result` instead.

    References
    ----------
    ITU-R BS.1770-4, Annex 1.
    """

    def __init__(self, sample_rate: int, num_channels: int, *, measure_bands: bool = True) -> None:
        super().__init__(sample_rate, num_channels)
        self._filter = KWeightingFilter(self.sample_rate, self.num_channels)
        self._stereo = HopEnergyAccumulator(self.sample_rate)
        self._mono = HopEnergyAccumulator(self.sample_rate)
        self._sums = np.zeros(3)  # LL, RR, LR
        self._spectrum = SpectrumMeter(self.sample_rate, 2) if measure_bands and self.num_channels == 2 else None

    def _push_checked(self, x: np.ndarray) -> None:
        self.push_weighted(x, self._filter.process(x), is_checked=True)

    def push_weighted(self, block: np.ndarray, weighted: np.ndarray, *, is_checked: bool = False) -> None:
        """Meter the next block, given it and its K-weighted version (``float64``).

        For callers that K-weight once and feed several meters; do not mix with
        :meth:`push` on the same meter.
        """
        x = block if is_checked else check_block(block, self.num_channels)
        if x.shape[1] == 0 or self.num_channels == 1:
            return
        w = np.asarray(weighted, dtype=np.float64)
        self._stereo.push_power(np.einsum("ij,ij->j", w, w))
        folded = w[0] + w[1]
        # M = (L + R) / 2 on both channels: 2 * M^2 = (L + R)^2 / 2
        self._mono.push_power(0.5 * folded * folded)
        x64 = x.astype(np.float64, copy=False)
        # einsum, not np.dot: BLAS dot goes multi-threaded on long vectors, which costs far
        # more than it saves on a busy machine
        ll, rr = np.einsum("ij,ij->i", x64, x64)
        self._sums += (ll, rr, np.einsum("i,i->", x64[0], x64[1]))
        if self._spectrum is not None:
            self._spectrum.push(x)

    def result(self, *, spectrum: SpectrumResult | None = None) -> StereoResult:
        """Stereo measures of everything pushed so far.

        Parameters
        ----------
        spectrum : SpectrumResult, optional
            Spectrum of the same audio, for the per-band measures when the meter was made
            with ``measure_bands=False``.
        """
        if self.num_channels == 1:
            return StereoResult(
                correlation=math.nan,
                side_to_mid_db=math.nan,
                mono_loss_lu=0.0,
                stereo_integrated_lufs=math.nan,
                mono_integrated_lufs=math.nan,
                bands=(),
            )
        stereo = gated_integrated_lufs(window_energies(*self._stereo.hop_sums(), 4))[0]
        mono = gated_integrated_lufs(window_energies(*self._mono.hop_sums(), 4))[0]
        if stereo == -math.inf:
            loss = math.nan
        elif mono == -math.inf:
            loss = math.inf
        else:
            loss = stereo - mono
        ll, rr, lr = (float(v) for v in self._sums)
        if spectrum is None and self._spectrum is not None:
            spectrum = self._spectrum.result()
        bands = band_stereo_from_spectrum(spectrum) if spectrum is not None else ()
        return StereoResult(
            correlation=_correlation(ll, rr, lr),
            side_to_mid_db=_side_to_mid_db(ll, rr, lr),
            mono_loss_lu=loss,
            stereo_integrated_lufs=stereo,
            mono_integrated_lufs=mono,
            bands=bands,
        )


def measure_stereo(samples: np.ndarray, sample_rate: int, *, block_size: int = 65536) -> StereoResult:
    """Stereo measures of a whole array (streams it through :class:`StereoMeter`).

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
    StereoResult

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((1, 48000)).astype(np.float32) * 0.1
    >>> r = measure_stereo(np.vstack([x, -x]), 48000)
    >>> round(r.correlation, 6), r.mono_loss_lu
    (-1.0, inf)
    """
    x = as_samples_2d(samples)
    return run_blocks(StereoMeter(sample_rate, x.shape[0]), array_blocks(x, block_size))
