"""One-pass analysis of a programme: loudness, peaks, spectrum, stereo image, warnings.

:class:`ReportBuilder` K-weights each block once and feeds every meter, so the whole report
costs one streamed pass with bounded memory. :func:`analyze` and :func:`analyze_blocks` are
the convenience front ends. :meth:`AnalysisReport.to_dict` gives plain JSON data (non-finite
numbers become ``None``).

Definitions used by the report (the meters' modules document their own):

* ``plr_db = true_peak_dbtp - integrated_lufs`` (peak-to-loudness ratio, EBU R 128 s1
  / AES TD1004 "PLR").
* ``rms_dbfs = 20 log10(sqrt(mean of x^2 over all samples and channels))`` and
  ``crest_factor_db = sample_peak_dbfs - rms_dbfs`` (no +3 dB sine offset: a sine reads
  -3.01 dBFS RMS and has a crest factor of 3.01 dB).
* ``dc_offset_per_channel``: mean of the samples of each channel (linear, full scale 1.0).
* The loudness series in the report are the 10 Hz momentary / short-term values of
  :class:`~mixlab.analysis.loudness.LoudnessResult` decimated to one per
  ``series_hop_s = 1.0`` s (every tenth value); the full-resolution result is kept in
  :attr:`AnalysisReport.loudness`.

References
----------
ITU-R BS.1770-4; EBU R 128 (2020) and EBU Tech 3341/3342; IEC 61260-1:2014.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from mixlab.analysis.loudness import (
    BlockMeter,
    KWeightingFilter,
    LoudnessMeter,
    LoudnessResult,
    array_blocks,
    run_blocks,
)
from mixlab.analysis.spectrum import SpectrumMeter, SpectrumResult
from mixlab.analysis.stereo import BandStereo, StereoMeter
from mixlab.analysis.truepeak import TruePeakMeter, lin_to_dbfs
from mixlab.audio.buffer import AudioBuffer

__all__ = [
    "AnalysisReport",
    "AnalysisWarning",
    "ReportBuilder",
    "analyze",
    "analyze_blocks",
]

#: Spacing of the loudness series kept in the report.
SERIES_HOP_S = 1.0
_SERIES_DECIMATION = 10  # 100 ms values -> 1 s

# Thresholds of the warnings.
TRUE_PEAK_WARNING_DBTP = 0.0
DC_OFFSET_WARNING_LIN = 10.0 ** (-50.0 / 20.0)  # -50 dBFS
MONO_LOSS_WARNING_LU = 4.0
CORRELATION_WARNING = -0.3
MIN_LRA_DURATION_S = 3.0


@dataclass(frozen=True)
class AnalysisWarning:
    """Something the user can proceed with but should know (STYLE section 6).

    Attributes
    ----------
    code : str
        Stable identifier, e.g. ``"analysis.clipping"``.
    message : str
        For a musician: what was found and what to do.
    details : Mapping
        Structured numbers behind the message.
    """

    code: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class AnalysisReport:
    """Everything mixlab measures about a programme.

    Attributes
    ----------
    sample_rate : int
    num_channels : int
    num_samples : int
        Per channel.
    duration_s : float
    integrated_lufs : float
        BS.1770-4 gated loudness; ``-inf`` for silence.
    lra_lu : float
        EBU Tech 3342 loudness range.
    max_momentary_lufs, max_short_term_lufs : float
    true_peak_dbtp : float
        Highest over channels.
    true_peak_dbtp_per_channel : tuple of float
    sample_peak_dbfs : float
    plr_db : float
        ``true_peak_dbtp - integrated_lufs``; ``nan`` for silence.
    rms_dbfs : float
    crest_factor_db : float
        ``sample_peak_dbfs - rms_dbfs``; ``nan`` for silence.
    correlation : float
        Stereo phase correlation, -1 .. 1 (NaN for mono or a silent channel).
    side_to_mid_db : float
    mono_loss_lu : float
        Loudness lost when folded to mono (see :mod:`mixlab.analysis.stereo`).
    stereo_bands : tuple of BandStereo
        Low / mid / high correlation and side/mid ratio (empty for mono).
    third_octave_hz : tuple of float
        Nominal centres of the 31 bands, 20 Hz .. 20 kHz.
    third_octave_db : tuple of float
        Band levels (dB of mean square, channels averaged); NaN above Nyquist.
    series_hop_s : float
        1.0 s.
    momentary_lufs : tuple of float
        Momentary loudness once per second: value ``k`` is the 400 ms window ending at
        ``0.4 + k`` s.
    short_term_lufs : tuple of float
        Short-term loudness once per second: value ``k`` is the 3 s window ending at
        ``3 + k`` s.
    clipped_samples : int
        Samples at full scale (see :mod:`mixlab.analysis.truepeak`), all channels.
    clip_events : int
        Runs of at least 3 consecutive full-scale samples.
    dc_offset_per_channel : tuple of float
    warnings : tuple of AnalysisWarning
    loudness : LoudnessResult
        Full-resolution loudness (series at 10 Hz, gating blocks for gain prediction). Not
        part of :meth:`to_dict`.
    spectrum : SpectrumResult
        The Welch PSD behind the band levels. Not part of :meth:`to_dict`.
    """

    sample_rate: int
    num_channels: int
    num_samples: int
    duration_s: float
    integrated_lufs: float
    lra_lu: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    true_peak_dbtp: float
    true_peak_dbtp_per_channel: tuple[float, ...]
    sample_peak_dbfs: float
    plr_db: float
    rms_dbfs: float
    crest_factor_db: float
    correlation: float
    side_to_mid_db: float
    mono_loss_lu: float
    stereo_bands: tuple[BandStereo, ...]
    third_octave_hz: tuple[float, ...]
    third_octave_db: tuple[float, ...]
    series_hop_s: float
    momentary_lufs: tuple[float, ...] = field(repr=False)
    short_term_lufs: tuple[float, ...] = field(repr=False)
    clipped_samples: int = 0
    clip_events: int = 0
    dc_offset_per_channel: tuple[float, ...] = ()
    warnings: tuple[AnalysisWarning, ...] = ()
    loudness: LoudnessResult | None = field(default=None, repr=False, compare=False)
    spectrum: SpectrumResult | None = field(default=None, repr=False, compare=False)

    _NOT_SERIALISED = ("loudness", "spectrum")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data: floats, ints, strings, lists, dicts and ``None``.

        Non-finite numbers (``-inf`` loudness of silence, NaN correlation of mono audio,
        infinite mono loss) become ``None``. :attr:`loudness` and :attr:`spectrum` are left
        out.
        """
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in fields(self)
            if f.name not in self._NOT_SERIALISED
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return str(value)


class ReportBuilder(BlockMeter):
    """Streaming analysis: :meth:`push` blocks, then :meth:`result` an :class:`AnalysisReport`.

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000.
    num_channels : int
        1 or 2.

    Raises
    ------
    InvalidParameterError
        If the rate or channel count is not supported.

    Examples
    --------
    >>> t = np.arange(48000 * 5) / 48000
    >>> x = np.tile(10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1)).astype(np.float32)
    >>> builder = ReportBuilder(48000, 2)
    >>> builder.push(x)
    >>> report = builder.result()
    >>> round(report.integrated_lufs, 1), round(report.correlation, 3), round(report.mono_loss_lu, 3)
    (-23.0, 1.0, 0.0)
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        super().__init__(sample_rate, num_channels)
        self._filter = KWeightingFilter(self.sample_rate, self.num_channels)
        self._loudness = LoudnessMeter(self.sample_rate, self.num_channels)
        self._stereo = StereoMeter(self.sample_rate, self.num_channels, measure_bands=False)
        self._peaks = TruePeakMeter(self.sample_rate, self.num_channels)
        self._spectrum = SpectrumMeter(self.sample_rate, self.num_channels)
        self._sum = np.zeros(self.num_channels)
        self._sum_squares = np.zeros(self.num_channels)
        self._num_samples = 0

    def _push_checked(self, x: np.ndarray) -> None:
        if x.shape[1] == 0:
            return
        x64 = x.astype(np.float64)
        weighted = self._filter.process(x64)
        self._loudness.push_weighted(weighted)
        self._stereo.push_weighted(x64, weighted, is_checked=True)
        self._peaks.push(x)
        self._spectrum.push(x)
        self._sum += x64.sum(axis=1)
        self._sum_squares += np.einsum("ij,ij->i", x64, x64)
        self._num_samples += x.shape[1]

    def result(self) -> AnalysisReport:
        """The report on everything pushed so far (the builder can keep going)."""
        loud = self._loudness.result()
        peaks = self._peaks.result()
        spectrum = self._spectrum.result()
        stereo = self._stereo.result(spectrum=spectrum)
        n = self._num_samples
        total = n * self.num_channels
        rms = math.sqrt(float(self._sum_squares.sum()) / total) if total else 0.0
        rms_dbfs = lin_to_dbfs(rms)
        dc = tuple(float(s) / n if n else 0.0 for s in self._sum)
        plr = _finite_difference(peaks.true_peak_dbtp, loud.integrated_lufs)
        crest = _finite_difference(peaks.sample_peak_dbfs, rms_dbfs)
        report = AnalysisReport(
            sample_rate=self.sample_rate,
            num_channels=self.num_channels,
            num_samples=n,
            duration_s=n / self.sample_rate,
            integrated_lufs=loud.integrated_lufs,
            lra_lu=loud.lra_lu,
            max_momentary_lufs=loud.max_momentary_lufs,
            max_short_term_lufs=loud.max_short_term_lufs,
            true_peak_dbtp=peaks.true_peak_dbtp,
            true_peak_dbtp_per_channel=peaks.true_peak_dbtp_per_channel,
            sample_peak_dbfs=peaks.sample_peak_dbfs,
            plr_db=plr,
            rms_dbfs=rms_dbfs,
            crest_factor_db=crest,
            correlation=stereo.correlation,
            side_to_mid_db=stereo.side_to_mid_db,
            mono_loss_lu=stereo.mono_loss_lu,
            stereo_bands=stereo.bands,
            third_octave_hz=spectrum.bands.nominal_hz,
            third_octave_db=spectrum.bands.levels_db,
            series_hop_s=SERIES_HOP_S,
            momentary_lufs=tuple(float(v) for v in loud.momentary_lufs[::_SERIES_DECIMATION]),
            short_term_lufs=tuple(float(v) for v in loud.short_term_lufs[::_SERIES_DECIMATION]),
            clipped_samples=peaks.clipped_samples,
            clip_events=peaks.clip_events,
            dc_offset_per_channel=dc,
            loudness=loud,
            spectrum=spectrum,
        )
        return _with_warnings(report)


def _finite_difference(a: float, b: float) -> float:
    if math.isfinite(a) and math.isfinite(b):
        return a - b
    return math.nan


def _with_warnings(report: AnalysisReport) -> AnalysisReport:
    warnings: list[AnalysisWarning] = []
    if report.num_samples and report.integrated_lufs == -math.inf:
        warnings.append(
            AnalysisWarning(
                "analysis.silent",
                "The audio is silent (or shorter than 0.4 s), so it has no measurable loudness. "
                "Check that you exported the right file and that nothing is muted.",
                {"duration_s": report.duration_s},
            )
        )
    if report.clip_events:
        warnings.append(
            AnalysisWarning(
                "analysis.clipping",
                f"The audio clips: {report.clip_events} place(s) where 3 or more samples in a row sit "
                "at full scale. Lower the level before the master bus or the limiter and export again.",
                {"clip_events": report.clip_events, "clipped_samples": report.clipped_samples},
            )
        )
    if report.true_peak_dbtp > TRUE_PEAK_WARNING_DBTP:
        warnings.append(
            AnalysisWarning(
                "analysis.true_peak_over",
                f"The true peak reaches {report.true_peak_dbtp:+.1f} dBTP: the audio will clip in a D/A "
                "converter or after lossy encoding. Keep true peaks below -1 dBTP.",
                {"true_peak_dbtp": report.true_peak_dbtp},
            )
        )
    worst_dc = max((abs(v) for v in report.dc_offset_per_channel), default=0.0)
    if worst_dc > DC_OFFSET_WARNING_LIN:
        warnings.append(
            AnalysisWarning(
                "analysis.dc_offset",
                f"The audio has a DC offset ({lin_to_dbfs(worst_dc):.0f} dBFS). It wastes headroom; "
                "a high-pass filter at 10-20 Hz removes it.",
                {"dc_offset_per_channel": list(report.dc_offset_per_channel)},
            )
        )
    if report.num_channels == 2 and (
        report.mono_loss_lu > MONO_LOSS_WARNING_LU
        or (math.isfinite(report.correlation) and report.correlation < CORRELATION_WARNING)
    ):
        warnings.append(
            AnalysisWarning(
                "analysis.mono_compatibility",
                "Parts of the mix cancel when played in mono (phone and smart speakers): it loses "
                f"{report.mono_loss_lu:.1f} LU and the channel correlation is {report.correlation:+.2f}. "
                "Check for polarity-inverted or phase-shifted tracks and very wide stereo effects.",
                {"mono_loss_lu": report.mono_loss_lu, "correlation": report.correlation},
            )
        )
    if not warnings:
        return report
    return dataclasses.replace(report, warnings=tuple(warnings))


def analyze_blocks(
    blocks: Iterable[np.ndarray], sample_rate: int, num_channels: int
) -> AnalysisReport:
    """Analyse a stream of ``float32 (num_channels, n)`` blocks in one pass.

    Parameters
    ----------
    blocks : iterable of np.ndarray
        E.g. ``mixlab.audio.io.iter_blocks(path)``; any block sizes.
    sample_rate : int
        In Hz.
    num_channels : int
        1 or 2.

    Returns
    -------
    AnalysisReport

    Raises
    ------
    InvalidParameterError
        If the rate, channel count or a block's shape is not supported.
    InvalidAudioError
        If a block holds NaN or infinity.
    """
    return run_blocks(ReportBuilder(sample_rate, num_channels), blocks)


def analyze(buffer: AudioBuffer, *, block_size: int = 65536) -> AnalysisReport:
    """Analyse a whole :class:`AudioBuffer` (streamed internally in ``block_size`` blocks).

    Parameters
    ----------
    buffer : AudioBuffer
        1 or 2 channels, 8 kHz .. 384 kHz.
    block_size : int
        Samples per internal block.

    Returns
    -------
    AnalysisReport

    Raises
    ------
    InvalidParameterError
        If the rate or channel count is not supported.
    InvalidAudioError
        If the audio holds NaN or infinity.

    References
    ----------
    ITU-R BS.1770-4; EBU Tech 3341 and 3342; IEC 61260-1.
    """
    blocks = array_blocks(buffer.samples, block_size)
    return analyze_blocks(blocks, buffer.sample_rate, buffer.num_channels)
