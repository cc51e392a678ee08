"""True peak (dBTP), sample peak (dBFS) and clipped samples.

The true peak is the largest ``|x|`` of the signal oversampled with
:class:`mixlab.dsp.oversample.Upsampler` (4x below 88.2 kHz, 2x below 176.4 kHz, none above),
as BS.1770-4 Annex 2 describes. The signal is taken to be silent after its last sample, so the
interpolated points between the last sample and that silence count too (they are what a D/A
converter would play). The optional 12.04 dB attenuation of Annex 2 is for fixed-point
implementations and is not needed in floating point.

Clipping is counted against ``clip_threshold_lin``, by default ``32767 / 32768``: the largest
positive value of 16-bit PCM is ``1 - 2**-15`` once read as float, so a threshold of exactly
1.0 would never see clipping in a 16-bit file. Isolated full-scale samples are common in
healthy masters; runs of at least ``min_clip_run_samples`` consecutive samples at full scale
(``clip_events``) are the better sign of clipping.

References
----------
ITU-R BS.1770-4 (10/2015), Annex 2: "Guidelines for accurate measurement of 'true-peak' level".
EBU Tech 3341 v3.0, section 2.9 and Table 1 cases 15-23 (true-peak accuracy +0.2/-0.4 dB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixlab.analysis.loudness import BlockMeter, array_blocks, as_samples_2d, run_blocks
from mixlab.dsp.oversample import Upsampler, check_positive_int, oversampling_factor
from mixlab.errors import InvalidParameterError

__all__ = [
    "DEFAULT_CLIP_THRESHOLD_LIN",
    "DEFAULT_MIN_CLIP_RUN_SAMPLES",
    "TruePeakMeter",
    "TruePeakResult",
    "lin_to_dbfs",
    "measure_true_peak",
]

#: Largest positive 16-bit PCM value as float; anything at or above it is at full scale.
DEFAULT_CLIP_THRESHOLD_LIN = 32767.0 / 32768.0
#: Consecutive full-scale samples that count as one clip event.
DEFAULT_MIN_CLIP_RUN_SAMPLES = 3


def lin_to_dbfs(value_lin: float) -> float:
    """``20 log10(value_lin)``; 0 gives ``-inf`` without a warning."""
    v = float(value_lin)
    return 20.0 * float(np.log10(v)) if v > 0.0 else -np.inf


@dataclass(frozen=True)
class TruePeakResult:
    """Peak levels and clipping of a programme.

    Attributes
    ----------
    true_peak_dbtp : float
        Highest true peak over all channels, dBTP (``-inf`` for silence).
    true_peak_dbtp_per_channel : tuple of float
    sample_peak_dbfs : float
        Highest ``|x|`` of the samples themselves, dBFS.
    sample_peak_dbfs_per_channel : tuple of float
    clipped_samples : int
        Samples (over all channels) with ``|x| >= clip_threshold_lin``.
    clipped_samples_per_channel : tuple of int
    clip_events : int
        Runs (over all channels) of at least ``min_clip_run_samples`` consecutive clipped
        samples.
    clip_threshold_lin : float
    min_clip_run_samples : int
    oversampling_factor : int
        The factor the true peak was measured with.
    """

    true_peak_dbtp: float
    true_peak_dbtp_per_channel: tuple[float, ...]
    sample_peak_dbfs: float
    sample_peak_dbfs_per_channel: tuple[float, ...]
    clipped_samples: int
    clipped_samples_per_channel: tuple[int, ...]
    clip_events: int
    clip_threshold_lin: float
    min_clip_run_samples: int
    oversampling_factor: int


class TruePeakMeter(BlockMeter):
    """Streaming true-peak, sample-peak and clipping meter.

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000; chooses the oversampling factor.
    num_channels : int
        1 or 2.
    clip_threshold_lin : float
        ``|x|`` at or above this counts as clipped, > 0 (see the module docstring).
    min_clip_run_samples : int
        Consecutive clipped samples that make one clip event, >= 1.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range.

    References
    ----------
    ITU-R BS.1770-4, Annex 2.

    Examples
    --------
    EBU Tech 3341 case 16: a sine at ``fs/4``, peak 0.5, 45 degrees off its peaks.

    >>> n = np.arange(48000)
    >>> x = (0.5 * np.sin(np.pi / 2 * n + np.pi / 4) * np.hanning(n.size)).astype(np.float32)
    >>> meter = TruePeakMeter(48000, 1)
    >>> meter.push(x[np.newaxis])
    >>> r = meter.result()
    >>> round(r.true_peak_dbtp, 1), round(r.sample_peak_dbfs, 1)
    (-6.0, -9.0)
    """

    def __init__(
        self,
        sample_rate: int,
        num_channels: int,
        *,
        clip_threshold_lin: float = DEFAULT_CLIP_THRESHOLD_LIN,
        min_clip_run_samples: int = DEFAULT_MIN_CLIP_RUN_SAMPLES,
    ) -> None:
        super().__init__(sample_rate, num_channels)
        if not clip_threshold_lin > 0.0:
            raise InvalidParameterError(
                f"clip threshold must be > 0, got {clip_threshold_lin}", code="parameter.clip_threshold"
            )
        self.min_clip_run_samples = check_positive_int(
            min_clip_run_samples, name="minimum clip run", code="parameter.clip_run"
        )
        self.clip_threshold_lin = float(clip_threshold_lin)
        self._upsampler = Upsampler(oversampling_factor(self.sample_rate), self.num_channels)
        self._true_peak = np.zeros(self.num_channels)
        self._sample_peak = np.zeros(self.num_channels)
        self._clipped = np.zeros(self.num_channels, dtype=np.int64)
        self._open_run = np.zeros(self.num_channels, dtype=np.int64)
        self._clip_events = 0

    def _push_checked(self, x: np.ndarray) -> None:
        if x.shape[1] == 0:
            return
        env = self._upsampler.peak_per_sample(x)
        np.maximum(self._true_peak, env.max(axis=1), out=self._true_peak)
        ax = np.abs(x)
        np.maximum(self._sample_peak, ax.max(axis=1), out=self._sample_peak)
        clipped = ax >= self.clip_threshold_lin
        counts = clipped.sum(axis=1)
        self._clipped += counts
        for c in range(self.num_channels):
            if counts[c]:
                self._count_runs(c, clipped[c])
            else:
                # a run left open by the previous block ended with it
                if self._open_run[c] >= self.min_clip_run_samples:
                    self._clip_events += 1
                self._open_run[c] = 0

    def _count_runs(self, c: int, mask: np.ndarray) -> None:
        padded = np.concatenate(([False], mask, [False])).astype(np.int8)
        edges = np.diff(padded)
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)  # exclusive
        lengths = ends - starts
        if starts[0] == 0:
            lengths[0] += self._open_run[c]
        elif self._open_run[c] >= self.min_clip_run_samples:
            self._clip_events += 1
        # the last run is still open if it reaches the end of the block
        if ends[-1] == mask.size:
            self._open_run[c] = lengths[-1]
            lengths = lengths[:-1]
        else:
            self._open_run[c] = 0
        self._clip_events += int(np.count_nonzero(lengths >= self.min_clip_run_samples))

    def result(self) -> TruePeakResult:
        """Peaks and clipping of everything pushed so far (the meter can keep going)."""
        tail = self._upsampler.peak_per_sample_tail()
        true_peak = self._true_peak.copy()
        if tail.size:
            np.maximum(true_peak, tail.max(axis=1), out=true_peak)
        # the sample itself is always one of the oversampled points
        np.maximum(true_peak, self._sample_peak, out=true_peak)
        events = self._clip_events + int(np.count_nonzero(self._open_run >= self.min_clip_run_samples))
        tp = tuple(lin_to_dbfs(v) for v in true_peak)
        sp = tuple(lin_to_dbfs(v) for v in self._sample_peak)
        return TruePeakResult(
            true_peak_dbtp=max(tp),
            true_peak_dbtp_per_channel=tp,
            sample_peak_dbfs=max(sp),
            sample_peak_dbfs_per_channel=sp,
            clipped_samples=int(self._clipped.sum()),
            clipped_samples_per_channel=tuple(int(v) for v in self._clipped),
            clip_events=events,
            clip_threshold_lin=self.clip_threshold_lin,
            min_clip_run_samples=self.min_clip_run_samples,
            oversampling_factor=self._upsampler.factor,
        )


def measure_true_peak(
    samples: np.ndarray,
    sample_rate: int,
    *,
    clip_threshold_lin: float = DEFAULT_CLIP_THRESHOLD_LIN,
    min_clip_run_samples: int = DEFAULT_MIN_CLIP_RUN_SAMPLES,
    block_size: int = 65536,
) -> TruePeakResult:
    """True peak, sample peak and clipping of a whole array.

    Parameters
    ----------
    samples : np.ndarray
        ``float32``, ``(num_channels, num_samples)``.
    sample_rate : int
        In Hz.
    clip_threshold_lin, min_clip_run_samples
        As for :class:`TruePeakMeter`.
    block_size : int
        Samples per internal block.

    Returns
    -------
    TruePeakResult

    References
    ----------
    ITU-R BS.1770-4, Annex 2.
    """
    x = as_samples_2d(samples)
    meter = TruePeakMeter(
        sample_rate,
        x.shape[0],
        clip_threshold_lin=clip_threshold_lin,
        min_clip_run_samples=min_clip_run_samples,
    )
    return run_blocks(meter, array_blocks(x, block_size))
