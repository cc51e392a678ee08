"""Feed-forward compression with a control-rate gain computer.

The level is detected per control frame of :data:`FRAME_SAMPLES` samples (linked across
channels), run through a soft-knee static curve and smoothed with separate attack and release
times; the gain is ramped linearly across each frame, so it never steps. Only the smoothing
runs as a loop, once per frame, which keeps it fast without compiled code.

Blocks given to :meth:`Compressor.process` must hold a multiple of :data:`FRAME_SAMPLES`
samples, except the last block of a stream; then chunked output equals one-shot output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

from mixlab.errors import InvalidParameterError

FRAME_SAMPLES = 32


@dataclass(frozen=True)
class CompressorSettings:
    """Parameters of a compressor.

    threshold_db : level (dBFS, RMS-like detector) above which gain is reduced.
    ratio : >= 1; 1 means no compression.
    attack_ms, release_ms : > 0, time constants of the gain smoothing.
    knee_db : >= 0, width of the soft knee centred on the threshold.
    makeup_db : gain added after compression.
    detector_ms : > 0, integration time of the level detector.
    """

    threshold_db: float
    ratio: float
    attack_ms: float = 10.0
    release_ms: float = 150.0
    knee_db: float = 6.0
    makeup_db: float = 0.0
    detector_ms: float = 5.0

    def __post_init__(self) -> None:
        if not self.ratio >= 1.0:
            raise InvalidParameterError(f"compressor ratio must be >= 1, got {self.ratio}", code="compressor.bad_ratio")
        for name in ("attack_ms", "release_ms", "detector_ms"):
            if not getattr(self, name) > 0:
                raise InvalidParameterError(f"compressor {name} must be > 0", code="compressor.bad_time")
        if not self.knee_db >= 0:
            raise InvalidParameterError("compressor knee_db must be >= 0", code="compressor.bad_knee")


def static_gain_reduction_db(level_db: np.ndarray, *, threshold_db: float, ratio: float, knee_db: float) -> np.ndarray:
    """Gain reduction (>= 0 dB) of the soft-knee static curve.

    References
    ----------
    D. Giannoulis, M. Massberg, J. D. Reiss, "Digital dynamic range compressor design — a
    tutorial and analysis", JAES 60(6), 2012, eq. 4.
    """
    over = np.asarray(level_db, dtype=np.float64) - threshold_db
    slope = 1.0 - 1.0 / ratio
    if knee_db <= 0:
        return np.maximum(over, 0.0) * slope
    half = knee_db / 2.0
    in_knee = np.clip(over + half, 0.0, knee_db)
    return np.where(over > half, over * slope, slope * in_knee**2 / (2.0 * knee_db))


class Compressor:
    """A linked, feed-forward compressor for ``(channels, n)`` float blocks."""

    def __init__(self, settings: CompressorSettings, sample_rate: int) -> None:
        self.settings = settings
        frame_rate = sample_rate / FRAME_SAMPLES
        self._det_coeff = 1.0 - math.exp(-1.0 / (settings.detector_ms * 1e-3 * frame_rate))
        self._attack = 1.0 - math.exp(-1.0 / (settings.attack_ms * 1e-3 * frame_rate))
        self._release = 1.0 - math.exp(-1.0 / (settings.release_ms * 1e-3 * frame_rate))
        self._det_state = np.zeros(1)
        self._gr_db = 0.0
        self._last_gain = 10.0 ** (settings.makeup_db / 20.0)
        self.latency_samples = 0

    def gain_curve(self, block: np.ndarray) -> np.ndarray:
        """Per-sample linear gain for ``block`` (advances the compressor's state)."""
        n = block.shape[1]
        num_frames = -(-n // FRAME_SAMPLES)
        padded = np.zeros((block.shape[0], num_frames * FRAME_SAMPLES), dtype=np.float64)
        padded[:, :n] = block
        energy = np.mean(np.square(padded.reshape(block.shape[0], num_frames, FRAME_SAMPLES)), axis=(0, 2))
        c = self._det_coeff
        env, self._det_state = scipy.signal.lfilter([c], [1.0, c - 1.0], energy, zi=self._det_state)
        level_db = 10.0 * np.log10(np.maximum(env, 1e-20))
        s = self.settings
        wanted = static_gain_reduction_db(level_db, threshold_db=s.threshold_db, ratio=s.ratio, knee_db=s.knee_db)
        smoothed = np.empty(num_frames)
        gr, att, rel = self._gr_db, self._attack, self._release
        for i, w in enumerate(wanted.tolist()):
            gr += (att if w > gr else rel) * (w - gr)
            smoothed[i] = gr
        self._gr_db = gr
        frame_gain = np.power(10.0, (s.makeup_db - smoothed) / 20.0)
        starts = np.concatenate([[self._last_gain], frame_gain[:-1]])
        ramp = (np.arange(1, FRAME_SAMPLES + 1) / FRAME_SAMPLES)[np.newaxis, :]
        per_sample = (starts[:, np.newaxis] + (frame_gain - starts)[:, np.newaxis] * ramp).reshape(-1)
        if num_frames:
            self._last_gain = float(frame_gain[-1])
        return per_sample[:n]

    def process(self, block: np.ndarray) -> np.ndarray:
        return block * self.gain_curve(block)[np.newaxis, :]
