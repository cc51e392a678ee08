"""A split-band de-esser: sibilance above ``freq_hz`` is turned down, the rest is left alone.

Signal flow, per sample and without latency:

1. Split at ``freq_hz`` with the 4th-order Linkwitz-Riley crossover (:mod:`mixlab.dsp.crossover`):
   ``high = HP4(x)``; ``low = AP(x) - high``, where ``AP = LP4 + HP4`` is the crossover's
   2nd-order all-pass (one biquad instead of the two of ``LP4``).
2. Side chain: the high band's mean square over ``detector_ms`` (one-pole, linked across
   channels) in dB, through the compressor's static curve
   (:func:`mixlab.dsp.dynamics.static_gain_reduction_db`: threshold, ratio, soft knee), capped at
   ``max_reduction_db``.
3. The wanted reduction is smoothed by a decoupled peak detector in the log domain: an instant
   rise with an exponential ``release_ms`` fall (:func:`mixlab.dsp.limiter.release_envelope`),
   then a one-pole ``attack_ms`` smoother.
4. ``out = low + g * high = AP(x) - (1 - g) * high`` with ``g = 10 ** (-reduction_db / 20)``.

With no reduction the output is the input through the all-pass: the same magnitude at every
frequency (a phase shift around ``freq_hz`` only), as the bands of any Linkwitz-Riley split.

Why not :class:`mixlab.dsp.dynamics.Compressor` itself: its detector works on frames of 32
samples and needs blocks of whole frames to stream exactly. Here every stage is a per-sample
recursion computed with vectorised SciPy/NumPy calls, so any block size streams exactly and a
1 ms attack is not quantised to a frame.

References
----------
D. Giannoulis, M. Massberg, J. D. Reiss, "Digital dynamic range compressor design — a tutorial
and analysis", JAES 60(6), 2012: eq. 4 (static curve) and the decoupled peak detector placed
after the gain computer (the log-domain, smooth design the paper recommends).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

from mixlab.dsp.crossover import StreamingSOS, butterworth_allpass_sos, linkwitz_riley_sos
from mixlab.dsp.dynamics import static_gain_reduction_db
from mixlab.dsp.limiter import release_envelope
from mixlab.errors import InvalidAudioError, InvalidParameterError

MIN_FREQ_HZ = 1000.0
MAX_REDUCTION_DB = 40.0


@dataclass(frozen=True)
class DeEsserSettings:
    """Parameters of a de-esser.

    freq_hz : crossover frequency in Hz (1 kHz .. 95 % of half the sample rate; sibilance sits
        around 5-8 kHz). Only content above it is reduced, and only content above it is detected.
    threshold_db : mean-square level (dBFS, a full-scale sine reads -3 dB) of the band above
        ``freq_hz`` at which reduction starts.
    ratio : >= 1; each dB the band rises over the threshold comes out as ``1 / ratio`` dB.
    max_reduction_db : > 0, at most 40; the most the band is turned down.
    attack_ms, release_ms : > 0; time constants of the reduction's rise and fall.
    knee_db : >= 0; width of the soft knee centred on the threshold.
    detector_ms : > 0; integration time of the mean-square detector.
    """

    freq_hz: float = 6000.0
    threshold_db: float = -30.0
    ratio: float = 4.0
    max_reduction_db: float = 10.0
    attack_ms: float = 1.0
    release_ms: float = 60.0
    knee_db: float = 2.0
    detector_ms: float = 2.0

    def __post_init__(self) -> None:
        if not self.freq_hz >= MIN_FREQ_HZ:
            raise InvalidParameterError(
                f"de-esser frequency {self.freq_hz:g} Hz is too low: use {MIN_FREQ_HZ:g} Hz or more (sibilance is "
                "around 5-8 kHz).",
                code="deesser.bad_parameter", freq_hz=self.freq_hz,
            )
        if not self.ratio >= 1.0:
            raise InvalidParameterError(f"de-esser ratio must be 1 or more, got {self.ratio:g}",
                                        code="deesser.bad_parameter", ratio=self.ratio)
        if not 0.0 < self.max_reduction_db <= MAX_REDUCTION_DB:
            raise InvalidParameterError(
                f"de-esser maximum reduction {self.max_reduction_db:g} dB is out of range: use more than 0 and at "
                f"most {MAX_REDUCTION_DB:g} dB.",
                code="deesser.bad_parameter", max_reduction_db=self.max_reduction_db,
            )
        for name in ("attack_ms", "release_ms", "detector_ms"):
            if not getattr(self, name) > 0:
                raise InvalidParameterError(f"de-esser {name} must be more than 0",
                                            code="deesser.bad_parameter", **{name: getattr(self, name)})
        if not self.knee_db >= 0:
            raise InvalidParameterError("de-esser knee_db must be 0 or more",
                                        code="deesser.bad_parameter", knee_db=self.knee_db)

    def static_reduction_db(self, level_db: np.ndarray | float) -> np.ndarray:
        """Steady-state reduction (dB, >= 0) for a high-band mean-square level ``level_db``."""
        gr = static_gain_reduction_db(np.asarray(level_db, dtype=np.float64), threshold_db=self.threshold_db,
                                      ratio=self.ratio, knee_db=self.knee_db)
        return np.minimum(gr, self.max_reduction_db)


def _one_pole_coeff(time_ms: float, sample_rate: int) -> float:
    """``1 - exp(-1 / (tau fs))``: the per-sample step of a one-pole smoother with time constant tau."""
    return 1.0 - math.exp(-1.0 / (time_ms * 1e-3 * sample_rate))


class DeEsser:
    """Split-band de-esser for ``(channels, n)`` blocks; see the module docstring for the flow.

    Linked across channels, no latency (:attr:`latency_samples` is 0), and the same output
    however a stream is cut into blocks. Output has the input's shape and float dtype
    (``float32`` in, ``float32`` out); the filtering and detection run in float64.

    Parameters
    ----------
    settings : DeEsserSettings
    sample_rate : int
        In Hz.
    num_channels : int
        Channels per block.

    Raises
    ------
    InvalidParameterError
        ``deesser.bad_parameter`` if ``freq_hz`` is above 95 % of half the sample rate.
    """

    latency_samples = 0

    def __init__(self, settings: DeEsserSettings, sample_rate: int, num_channels: int) -> None:
        top_hz = 0.95 * sample_rate / 2.0
        if settings.freq_hz > top_hz:
            raise InvalidParameterError(
                f"de-esser frequency {settings.freq_hz:g} Hz is too high for {sample_rate} Hz audio: use at most "
                f"{top_hz:.0f} Hz.",
                code="deesser.bad_parameter", freq_hz=settings.freq_hz, max_freq_hz=top_hz,
            )
        self.settings = settings
        self.sample_rate = int(sample_rate)
        self.num_channels = int(num_channels)
        self._high = StreamingSOS(linkwitz_riley_sos(settings.freq_hz, sample_rate, kind="highpass"), num_channels)
        self._allpass = StreamingSOS(butterworth_allpass_sos(settings.freq_hz, sample_rate), num_channels)
        c = _one_pole_coeff(settings.detector_ms, sample_rate)
        self._det_ba = (np.array([c]), np.array([1.0, c - 1.0]))
        self._det_zi = np.zeros(1)
        a = _one_pole_coeff(settings.attack_ms, sample_rate)
        self._att_ba = (np.array([a]), np.array([1.0, a - 1.0]))
        self._att_zi = np.zeros(1)
        self._release_coeff = math.exp(-1.0 / (settings.release_ms * 1e-3 * sample_rate))
        self._held_db = 0.0
        # The static curve is exactly 0 at and below this mean square: skip the dB maths there.
        self._quiet_power = 10.0 ** ((settings.threshold_db - settings.knee_db / 2.0) / 10.0)

    def reduction_db(self, high: np.ndarray) -> np.ndarray:
        """Per-sample reduction in dB (>= 0) for high-band samples ``high``; advances the state."""
        n = high.shape[1]
        power = np.square(high[0])
        for row in high[1:]:
            power += np.square(row)
        if high.shape[0] > 1:
            power *= 1.0 / high.shape[0]
        env, self._det_zi = scipy.signal.lfilter(*self._det_ba, power, zi=self._det_zi)
        if env.max(initial=0.0) <= self._quiet_power and self._held_db < 1e-9:
            # What release_envelope gives for no wanted reduction after (next to) none.
            held = np.zeros(n)
            self._held_db = 0.0
        else:
            if env.max(initial=0.0) <= self._quiet_power:
                wanted = np.zeros(n)
            else:
                wanted = self.settings.static_reduction_db(10.0 * np.log10(np.maximum(env, 1e-30)))
            held = release_envelope(wanted, coeff=self._release_coeff, previous_db=self._held_db)
            if n:
                self._held_db = float(held[-1])
        if not held.any():
            # A reduction that has died away to nothing audible ends exactly, so that quiet
            # passages take the fast path (the difference is below 1e-9 dB).
            if abs(self._att_zi[0]) < 1e-9:
                self._att_zi[0] = 0.0
                return np.zeros(n)
        reduction, self._att_zi = scipy.signal.lfilter(*self._att_ba, held, zi=self._att_zi)
        return reduction

    def process(self, block: np.ndarray) -> np.ndarray:
        """De-ess ``block`` (``(num_channels, n)``); returns a new array of the same shape and dtype."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.num_channels:
            raise InvalidAudioError(
                f"the de-esser was set up for {self.num_channels} channel(s); got a block of shape {block.shape}",
                code="audio.bad_channels", shape=list(block.shape),
            )
        dtype = block.dtype if block.dtype in (np.float32, np.float64) else np.dtype(np.float32)
        if block.shape[-1] == 0:
            return block.astype(dtype, copy=True)
        # sosfilt computes in float64 (the sections' dtype) and returns new arrays.
        high = self._high.process(block)
        out = self._allpass.process(block)
        reduction = self.reduction_db(high)
        if reduction.any():
            # out = AP(x) - (1 - g) * high
            loss = 1.0 - np.power(10.0, reduction / -20.0)
            high *= loss
            out -= high
        return out.astype(dtype, copy=False)
