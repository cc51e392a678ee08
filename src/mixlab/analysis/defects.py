"""Recording defects for Mix Notes: clipping, DC offset, mains hum, noise, band limit, and the
alignment and polarity of two tracks that pick up the same source.

Everything here says *what* is wrong, *where* (time ranges in seconds) and *how much*, so a
note can tell a producer why. :class:`DefectAnalyzer` streams one stem (``push`` blocks, then
``result``) and keeps per-frame summaries, never the audio; :func:`pair_alignment` compares two
short excerpts that the caller reads where both tracks play (:func:`excerpt_windows`).

How each defect is measured
---------------------------
The stream is cut into *frames* of ``sample_rate // 10`` samples (100 ms; 99.95 ms at
11 025 Hz) and 1 s *segments* of ten frames, counted from the first sample. Internally the
audio is gathered into batches of whole segments at fixed positions, so every number is
computed from the same samples in the same order whatever the block sizes: the result does not
depend on how the stream is cut, to the bit.

* **Digital clipping**: runs of at least :data:`MIN_CLIP_RUN_SAMPLES` consecutive samples of one
  channel with ``|x| >= 0.999`` (:data:`CLIP_LEVEL_LIN`). A 0 dBFS sine below about 200 Hz has
  three samples above 0.999 on each crest and counts too: it is at the ceiling.
* **Flat tops** (audio clipped, then turned down): runs of at least
  :data:`MIN_FLAT_RUN_SAMPLES` identical samples at the track's absolute peak (``|x|`` within
  0.0087 dB, :data:`FLAT_LEVEL_TOLERANCE`, of the sample peak of all channels, either
  polarity), when that peak is above 0.5. A smooth crest stored at 16 bits can also repeat a
  sample (a 10 Hz sine at 0.8 holds one value for four samples), so a flat top must also be
  entered and left steeply: the samples just before and after it lie at least
  :data:`FLAT_EDGE_STEP` (3e-4, relative) below its level; a natural crest moves by about one
  quantisation step there, a clipped waveform by far more. Audio dithered after the gain
  change has no identical samples and is not seen. Flat tops at 0.999 and above are digital
  clips anyway.
* **Plateaus** (a passage clipped, then turned down, under louder audio elsewhere): runs of at
  least :data:`MIN_FLAT_RUN_SAMPLES` identical samples above -50 dBFS at any level, entered and
  left from the same side by a step of at least 1 % of the level and at least four 16-bit
  steps (:data:`PLATEAU_EDGE_STEP`, :data:`PLATEAU_EDGE_MIN`; only the latter for runs of
  :data:`PLATEAU_LONG_RUN_SAMPLES` or more), at the peak of their 100 ms frame, not the edge
  of a square wave (both neighbours on the run's side of zero), counted per exact level; a level
  with at least :data:`PLATEAU_MIN_RUNS` such runs is a clip ceiling. A natural crest at that
  level is rounded, not cut, and is not entered by a jump; a clip at one level repeats on
  every crest that reached it. Runs cut by a batch edge (every ~6 s) are not counted, so a
  ceiling needs a few more crests there.
  ``clipped_samples`` counts the samples of both kinds of run, over all channels (a sample in
  both counts once). ``clip_ranges`` are the runs of all channels, each widened to at least
  0.1 s around its centre and merged when less than 0.5 s apart.
* ``dc_offset_db = 20 log10 |mean|`` of the channel whose mean is furthest from zero.
* **Mains hum.** The channels are decimated by averaging groups of ``D`` samples (to about
  1.5 kHz; ``D`` divides the frame length so segments stay on the frame grid); per 1 s segment
  and channel a Hann-windowed FFT zero-padded to at least twice the segment (bins 0.36 Hz apart
  at 44.1 kHz) gives a power spectrum, summed over the channels. For ``f0`` = 50 and 60 Hz
  and ``k = 1 .. 6``, harmonic ``k`` *stands out* in a segment when the local maximum within
  +-0.6 Hz of ``k f0``

  - lies (parabolic interpolation) within +-0.5 Hz of ``k f0``: the Hann main lobe is +-2 Hz
    wide, so a bass note 1 Hz off (G1 = 49.0 Hz, B1 = 61.7 Hz) peaks outside the window;
  - is the largest value within +-2 Hz: a loud note a few Hz away has side lobes, 1 Hz apart,
    each higher than the next towards the note;
  - is at least 15 dB above the median of the bins 3 to 12 Hz either side;
  - is not one tooth of a comb (local maxima 1.2-3 Hz away on both sides, at the same
    distance, within 10 dB): a sound repeated every beat has spectral lines 1/beat apart;
  - holds in every 0.2 s fifth of the segment at least a quarter (-6 dB) of its power: hum
    never stops, whereas a kick drum repeated every 0.5 s or 0.6 s, whose lines then fall
    exactly on 50 Hz, dies away between hits;
  - (per track) does not follow the hits: a component *follows a hit* in a segment when it is
    4 dB or more over its quietest 0.2 s fifth and either loudest in the fifth where the
    decimated band is loudest, when that fifth is 10 dB over the band's quietest (a drum hit),
    or loudest in the first fifth and quietest in the last (ringing down). When it follows the hits in at
    least two thirds of the seconds it is seen, it is a drum's own partial on a mains frequency (a
    snare sample ringing at 49.97 Hz jumps at every hit and rings down), not hum, which is
    the same before and after a hit.

  A segment has hum when the fundamental or at least two harmonics stand out, or when at
  least four of the six pass every test by a smaller margin (8 dB, :data:`HUM_WEAK_PROMINENCE_DB`):
  in a dense mix the bass fills the bins around each harmonic, but no chord puts lines on four
  multiples of 50 Hz within +-0.5 Hz that hold for a whole second; or when one harmonic
  passes them by 8 dB in seven of eight seconds in a row (:data:`HUM_SUSTAIN_SEGMENTS`): no
  tempered note lies within 0.5 Hz of a multiple of 50 or 60 Hz below 300 Hz, and a
  note held that long at exactly that pitch would be a drone worth a look. Hum is steady,
  so each harmonic's power is the median over the hum segments where it stands out by at
  least 10 dB: the interpolated peak less the neighbours' mean noise, times the window's
  equivalent noise bandwidth, corrected for the decimation's response. ``hum_level_db`` is
  their sum over the mean total power of the segments in ``hum_ranges``.
  Because a held note can sit right on 50 Hz, the track only has hum where it lasts: runs of
  at least 3 s. Gaps between hum segments are bridged when they last at most 2 s, or when in
  three quarters of their seconds hum of the measured strength would not clearly (by 18 dB)
  stand out from the floor there, since loud music around the harmonics hides it. When the
  span from the first to the last run holds quiet segments (at least 20 dB below the 90th
  percentile of the segment levels, not digital silence) where the hum would show, it must
  be found in at least half of them: mains hum does not stop when the music does. Hum whose
  harmonics add up to less than -85 dBFS (:data:`HUM_MIN_DBFS`) lies under a 16-bit file's own
  noise and is not reported. Spectra are
  only taken on whole segments, so hum needs at least 3 s of audio, and a harmonic is only
  seen when it stands 15 dB above the music and noise within 1.5 Hz of it.
* ``noise_floor_dbfs``: the power mean of the quietest 10 % of the complete frames that are not
  digital silence (frames below -120 dBFS are skipped), as an RMS level in dBFS. The level of a
  frame is its mean square averaged over the channels: a full-scale sine reads -3.01 dBFS.
* ``noise_in_gaps``: somewhere the track has a gap (at least 1 s of frames 30 dB or more below
  its loud level, the 95th percentile of the frame levels) that holds at least 1 s of steady
  noise above -70 dBFS: ten consecutive frames whose levels all lie within 6 dB, and whose
  spectra between 1 and 10 kHz are flat (median spectral flatness at least
  :data:`GAP_NOISE_FLATNESS`). A decaying reverb tail is not steady (it falls tens of dB per
  second), a quiet held chord is not flat, hum alone is reported as hum, and digital silence
  is below the threshold.
* **Bandwidth.** Every other frame, the first ~23 ms (a power of two of samples: 1024 at 44.1
  and 48 kHz) are Hann-windowed and transformed; the power spectra, summed over the channels,
  are pooled by the frame's level in 1 dB classes so that, at the end, the long-term spectrum
  averages the *loud* frames (within 20 dB of the 95th percentile of the frame levels) with
  bounded memory. ``bandwidth_hz`` is the highest bin within 60 dB of the spectrum's maximum
  (bins below two bin widths, where DC leaks, are ignored). ``lowpass_hz`` is the frequency of a
  cliff: between 2 kHz and ``0.45 * sample_rate`` the mean level over the 1/6 octave below a
  bin exceeds everything from 1/6 octave above it to Nyquist (after a 5-bin median, which
  ignores isolated tones such as a 19 kHz pilot) by at least 30 dB, and that stop band is seen
  over at least 1/12 octave below Nyquist. The 1/3 octave below must be filled (its 10th
  percentile within 10 dB of its median: broadband, not a few notes), level up to the edge
  (its top 1/24 octave at most 10 dB below its bottom 1/12 octave), and hold power within
  60 dB of the loudest 1/3 octave. The reported frequency is where the spectrum falls 10 dB
  below that 1/3 octave's median. A natural roll-off (even 24 dB/octave) loses far less than
  30 dB in 1/3 octave; a digital low-pass made with the bilinear transform plunges towards its
  zero at Nyquist, which the last two rules keep out for 2nd-order filters (a 3rd- or
  4th-order Butterworth above 16 kHz at 44.1 kHz is steep enough to be reported). An MP3 from
  LAME at 128 kbps reads 16.5 kHz (the lower edge of the first polyphase sub-band it zeroes),
  at 192 kbps 18.6 kHz, at 224-256 kbps 19.4 kHz; at 320 kbps its limit (20 kHz) lies above
  ``0.45 * 44100`` and is not reported. ``lowpass_spread_db`` says whether that band limit is
  steady (a filter) or moves frame by frame (an encoder): per analysed loud frame, the power
  of the 1/12-octave bands (from 5 kHz) within the 1/6 octave under the limit against those
  an octave below it; the spread of that difference from its 10th to its 90th percentile.

References
----------
J. O. Smith, "Spectral Audio Signal Processing", W3K, 2011: "Quadratic Interpolation of
Spectral Peaks" (parabolic interpolation of log magnitude), "The Hann Window" (main lobe of
+-2 bins).
F. J. Harris, "On the use of windows for harmonic analysis with the discrete Fourier
transform", Proc. IEEE 66(1), 1978 (Hann window: equivalent noise bandwidth 1.5 bins).
LAME 3.100, ``libmp3lame/lame.c``: ``optimum_bandwidth`` (low-pass per bit rate) and
``lame_init_params_ppflt`` (the low-pass applied to whole polyphase sub-bands).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import scipy.fft
import scipy.ndimage

from mixlab.analysis.loudness import BlockMeter, check_stream_parameters
from mixlab.errors import InvalidAudioError, InvalidParameterError

__all__ = [
    "CLIP_LEVEL_LIN",
    "DEFECTS_VERSION",
    "LEVEL_FLOOR_DB",
    "DefectAnalyzer",
    "PairAlignment",
    "StemDefects",
    "excerpt_windows",
    "pair_alignment",
]

logger = logging.getLogger(__name__)

#: Version of the defect measures; written by ``to_dict`` and checked by ``from_dict``.
DEFECTS_VERSION = 6
#: Every level in dB is floored here, so results stay finite and JSON-serialisable.
LEVEL_FLOOR_DB = -200.0

#: ``|x|`` at or above this is at digital full scale.
CLIP_LEVEL_LIN = 0.999
#: ``|x|`` above this is a float over, not a clipped sample.
FULL_SCALE_LIN = 1.0 + 1e-6
#: Consecutive full-scale samples that make a digital clip.
MIN_CLIP_RUN_SAMPLES = 3
#: Consecutive identical samples at the track peak that make a flat top.
MIN_FLAT_RUN_SAMPLES = 4
#: Flat tops are only looked for when the track peak is above this.
FLAT_MIN_PEAK_LIN = 0.5
#: A flat top lies within this fraction of the track peak (0.0087 dB).
FLAT_LEVEL_TOLERANCE = 1e-3
#: The samples around a flat top lie at least this fraction of its level below it.
FLAT_EDGE_STEP = 3e-4
#: Plateaus are only looked for above this level (-50 dBFS).
PLATEAU_MIN_LIN = 10.0 ** (-50.0 / 20.0)
#: The samples around a plateau lie at least this fraction of its level below it ...
PLATEAU_EDGE_STEP = 0.01
#: ... and at least this far below it (four 16-bit steps: a quantised crest moves by one).
PLATEAU_EDGE_MIN = 4.0 / 32768.0
#: A run at least this long needs only the absolute step at its edges.
PLATEAU_LONG_RUN_SAMPLES = 8
#: Runs at one exact level that make a clip ceiling.
PLATEAU_MIN_RUNS = 16
#: Clip ranges are widened to at least this length, and merged when closer than the gap.
CLIP_RANGE_MIN_S = 0.1
CLIP_RANGE_GAP_S = 0.5

#: Mains frequencies looked for, Hz.
MAINS_HZ: tuple[float, float] = (50.0, 60.0)
HUM_HARMONICS = 6
HUM_PROMINENCE_DB = 15.0
#: Harmonics this prominent count towards ``hum_level_db``.
HUM_LEVEL_PROMINENCE_DB = 10.0
#: ... or at least this many harmonics stand out by this much.
HUM_WEAK_PROMINENCE_DB = 8.0
HUM_WEAK_MIN_HARMONICS = 4
#: ... or one harmonic stands out by that much in all but one of this many seconds in a row.
HUM_SUSTAIN_SEGMENTS = 8
HUM_TOLERANCE_HZ = 0.5
#: Hum must last this long (in 1 s segments); gaps up to HUM_MAX_GAP_S are always bridged.
HUM_MIN_RUN_S = 3
HUM_MAX_GAP_S = 2
HUM_QUIET_DB = 20.0
#: Hum whose harmonics add up to less than this (mean square per channel) is not reported: it
#: lies under a 16-bit file's dither (about -96 dBFS over the band) and under any listening room.
HUM_MIN_DBFS = -85.0
#: A gap in the hum is bridged when hum would not stand out in this fraction of it.
HUM_HIDDEN_FRACTION = 0.75

#: Frames quieter than this are digital silence.
SILENCE_DBFS = -120.0
NOISE_FLOOR_FRACTION = 0.10
GAP_DEPTH_DB = 30.0
GAP_MIN_S = 0.5
#: Gap noise must lie above this: a 16-bit file's dither floor (about -96 dBFS) is flat noise too.
GAP_NOISE_DBFS = -85.0
GAP_STEADY_DB = 6.0
#: Spectral flatness (1-10 kHz) above which a steady gap counts as noise; white noise reads
#: about 0.56 per frame, pink noise 0.46, a held chord of a few notes below 0.01.
GAP_NOISE_FLATNESS = 0.25
LOUD_PERCENTILE = 95.0
LOUD_RANGE_DB = 20.0

BANDWIDTH_RANGE_DB = 60.0
LOWPASS_DROP_DB = 30.0
LOWPASS_MIN_HZ = 2000.0
LOWPASS_MAX_FRACTION = 0.45

_FRAMES_PER_SECOND = 10
_SEGMENT_FRAMES = 10
_BATCH_TARGET_SAMPLES = 1 << 18
_HUM_RATE_HZ = 1400.0
_HUM_MIN_RATE_HZ = 800.0
_HUM_SEARCH_HZ = 0.6
_HUM_SEGMENTS_PER_CALL = 64
_HUM_SUBFRAMES = 5
_HUM_CONTINUITY = 0.25  # -6 dB: leaves room for beating with a note a few Hz away
_HUM_STEADY = 10.0 ** (4.0 / 10.0)  # a component this much louder where the track is hit rises with it
_HUM_SMOOTHING = 2  # moving averages over D samples before the group means (anti-alias)
_HUM_FOLLOWS_FRACTION = 2.0 / 3.0  # ... in this share of the seconds it is seen: a drum's partial
_HUM_HIT_RATIO = 10.0  # a 0.2 s sub-frame 10 dB over the segment's quietest holds a hit
_HUM_FLOOR_HZ = (3.0, 12.0)
_HUM_LOBE_HZ = 2.0
_COMB_HZ = (1.2, 3.0)
_COMB_MATCH_HZ = 0.5
_SPECTRUM_WINDOW_S = 0.023
_FLATNESS_BAND_HZ = (1000.0, 10000.0)
_LEVEL_CLASS_MIN_DB = -140
_LEVEL_CLASS_COUNT = 160
_TINY = 1e-30
_LOWPASS_FILL_DB = 10.0
_LOWPASS_EDGE_DB = 10.0
_LOWPASS_SHOULDER_DB = 10.0
_LOWPASS_MEDIAN_BINS = 5
_EDGE_LOW_HZ = 5000.0
_CANCELLATION_FLOOR_DB = -60.0
_LOW_BAND_HZ = 250.0


def _power_to_db(power: float) -> float:
    return 10.0 * math.log10(power) if power > 0.0 else LEVEL_FLOOR_DB


def _lin_to_db(value_lin: float) -> float:
    return max(20.0 * math.log10(value_lin), LEVEL_FLOOR_DB) if value_lin > 0.0 else LEVEL_FLOOR_DB


def _db_array(power: np.ndarray) -> np.ndarray:
    """``10 log10`` of a power array, ``LEVEL_FLOOR_DB`` for zero (no warning)."""
    p = np.asarray(power, dtype=np.float64)
    out = np.full(p.shape, LEVEL_FLOOR_DB)
    pos = p > 0.0
    out[pos] = np.maximum(10.0 * np.log10(p[pos]), LEVEL_FLOOR_DB)
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of True in a 1-D boolean array."""
    n = mask.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # positions where the value changes: the array splits into pieces of alternating value
    bounds = np.concatenate(([0], np.flatnonzero(mask[1:] != mask[:-1]) + 1, [n])).astype(np.int64)
    first = 0 if mask[0] else 1
    return bounds[first:-1:2], bounds[first + 1 :: 2]


def _merge_intervals(
    starts: np.ndarray, ends: np.ndarray, *, min_length: int = 0, gap: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Widen intervals ``[start, end)`` (sample indices) to at least ``min_length`` around their
    centres (starts clamped at 0), then merge those less than ``gap`` apart (with ``gap = 1``,
    those that overlap or touch). Returns the sorted merged starts and ends."""
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(ends, dtype=np.int64)
    if s.size == 0:
        return s, e
    short = (e - s) < min_length
    if short.any():
        centre2 = s[short] + e[short]  # twice the centre, to stay in integers
        s = s.copy()
        e = e.copy()
        s[short] = (centre2 - min_length) // 2
        e[short] = s[short] + min_length
    s = np.maximum(s, 0)  # a new array: the caller's stays as it was
    order = np.lexsort((e, s))
    s, e = s[order], e[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(s.size, dtype=bool)
    new[1:] = s[1:] - reach[:-1] >= gap
    first = np.flatnonzero(new)
    last = np.append(first[1:], s.size) - 1
    return s[first], reach[last]


# ---------------------------------------------------------------------------------------------
# results


def _ranges_to_json(ranges: list[tuple[float, float]]) -> list[list[float]]:
    return [[float(a), float(b)] for a, b in ranges]


def _ranges_from_json(value: Any) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in value]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class StemDefects:
    """Recording defects of one stem (see the module docstring for the methods).

    Levels in dB are floored at :data:`LEVEL_FLOOR_DB` (-200) instead of ``-inf``, so every
    field is a plain finite number, list or ``None``, and :meth:`to_dict` is valid JSON.

    Attributes
    ----------
    duration_s : float
    peak_dbfs : float
        Sample peak of all channels, dBFS.
    clipped_samples : int
        Samples (summed over the channels) in digital clips or flat tops.
    clip_ranges : list of (float, float)
        Where the clips are, ``(start_s, end_s)``, each at least 0.1 s long (less at the ends
        of a short track), sorted, at least 0.5 s apart.
    dc_offset_db : float
        ``20 log10 |mean|`` of the channel with the largest ``|mean|``, dBFS.
    hum_hz : float or None
        50.0 or 60.0 when mains hum was found.
    hum_level_db : float
        Power of the hum's harmonics (each the median of its measurements) over the mean
        total power of the segments in ``hum_ranges``, dB (<= 0; the floor when there is no
        hum).
    hum_ranges : list of (float, float)
        Where the hum is, ``(start_s, end_s)`` on the 1 s segment grid.
    noise_floor_dbfs : float
        RMS level of the quietest 10 % of the frames that are not digital silence, dBFS.
    noise_in_gaps : bool
        The track has gaps (>= 0.5 s, >= 30 dB below its loud frames) holding >= 0.5 s of
        steady, spectrally flat noise above -85 dBFS (a kick drum's gaps between hits are
        short; hiss 40 dB under a quiet stem can lie below -70 dBFS and still come up with the
        fader).
    loud_dbfs : float
        Level of the track's loud frames (the 95th percentile of the frames that are not
        digital silence), dBFS: the reference for the noise floor's distance.
    bandwidth_hz : float
        Highest frequency within 60 dB of the maximum of the loud frames' long-term spectrum
        (per bin of about 43 Hz); 0 for silence.
    lowpass_hz : float or None
        Frequency of a brick-wall band limit (MP3-like) below ``0.45 * sample_rate``.
    lowpass_spread_db : float or None
        With a band limit: how much the level of the 1/6 octave under it moves against the
        octave below, frame by frame (10th to 90th percentile over the loud frames, dB). A
        fixed filter (a mastering's ultrasonic cut) passes what the music has there, about
        30 dB of spread on a song; an MP3 encoder drops and keeps its top sub-bands frame by
        frame as the bits allow, 55 dB and more.
    """

    duration_s: float
    peak_dbfs: float
    clipped_samples: int
    clip_ranges: list[tuple[float, float]]
    dc_offset_db: float
    hum_hz: float | None
    hum_level_db: float
    hum_ranges: list[tuple[float, float]]
    noise_floor_dbfs: float
    noise_in_gaps: bool
    loud_dbfs: float
    bandwidth_hz: float
    lowpass_hz: float | None
    lowpass_spread_db: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The defects as plain JSON types (lists for the ranges), with ``"version"``."""
        out: dict[str, Any] = {"version": DEFECTS_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_ranges"):
                out[f.name] = _ranges_to_json(value)
            elif isinstance(value, bool) or value is None:
                out[f.name] = value
            elif isinstance(value, int):
                out[f.name] = int(value)
            else:
                out[f.name] = float(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StemDefects:
        """Rebuild defects written by :meth:`to_dict` (``from_dict(d.to_dict()) == d``).

        Raises
        ------
        InvalidParameterError
            If ``data`` comes from another version or a field is missing or malformed.
        """
        _check_version(data, "stem defects")
        try:
            return cls(
                duration_s=float(data["duration_s"]),
                peak_dbfs=float(data["peak_dbfs"]),
                clipped_samples=int(data["clipped_samples"]),
                clip_ranges=_ranges_from_json(data["clip_ranges"]),
                dc_offset_db=float(data["dc_offset_db"]),
                hum_hz=_optional_float(data["hum_hz"]),
                hum_level_db=float(data["hum_level_db"]),
                hum_ranges=_ranges_from_json(data["hum_ranges"]),
                noise_floor_dbfs=float(data["noise_floor_dbfs"]),
                noise_in_gaps=bool(data["noise_in_gaps"]),
                loud_dbfs=float(data["loud_dbfs"]),
                bandwidth_hz=float(data["bandwidth_hz"]),
                lowpass_hz=_optional_float(data["lowpass_hz"]),
                lowpass_spread_db=_optional_float(data.get("lowpass_spread_db")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"incomplete stem defects: {exc}", code="analysis.bad_defects") from exc


@dataclass(frozen=True)
class PairAlignment:
    """How two tracks of one source line up (:func:`pair_alignment`).

    Attributes
    ----------
    correlation_at_zero : float
        Normalised correlation at lag 0, -1..1 (in the analysis band).
    peak_correlation : float
        Signed normalised correlation at the lag where ``|r|`` is largest, -1..1.
    lag_ms : float
        That lag; positive when ``b`` is late relative to ``a``.
    polarity_inverted : bool
        ``|peak_correlation| >= 0.5`` and ``peak_correlation < 0``.
    cancellation_db : float
        ``10 log10(E(a + b) / (E(a) + E(b)))`` as they are (lag 0), full band, >= -60 dB:
        0 for unrelated tracks, +3.01 for identical ones, -60 for ``b = -a``.
    low_cancellation_db : float
        The same below 250 Hz (DC excluded).
    notch_db : float
        The deepest comb notch of the sum as they are: the least of
        ``10 log10(E(a + b) / (E(a) + E(b)))`` over 1/6-octave bands from 80 Hz to 10 kHz
        that hold energy (within 40 dB of the strongest band), capped at 0 dB above and -60 dB
        below. A copy at gain ``g`` delayed by ``d`` notches at ``1 / (2 d)`` by about
        ``10 log10((1 - g)^2 / (1 + g^2))``; unrelated tracks stay near 0 dB.
    notch_hz : float
        Centre of that band, Hz (0 when no band holds energy).
    """

    correlation_at_zero: float
    peak_correlation: float
    lag_ms: float
    polarity_inverted: bool
    cancellation_db: float
    low_cancellation_db: float
    notch_db: float = 0.0
    notch_hz: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with ``"version"``."""
        out: dict[str, Any] = {"version": DEFECTS_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value if isinstance(value, bool) else float(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairAlignment:
        """Rebuild an alignment written by :meth:`to_dict`.

        Raises
        ------
        InvalidParameterError
            If ``data`` comes from another version or a field is missing or malformed.
        """
        _check_version(data, "pair alignment")
        try:
            return cls(
                correlation_at_zero=float(data["correlation_at_zero"]),
                peak_correlation=float(data["peak_correlation"]),
                lag_ms=float(data["lag_ms"]),
                polarity_inverted=bool(data["polarity_inverted"]),
                cancellation_db=float(data["cancellation_db"]),
                low_cancellation_db=float(data["low_cancellation_db"]),
                notch_db=float(data["notch_db"]),
                notch_hz=float(data["notch_hz"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameterError(f"incomplete pair alignment: {exc}", code="analysis.bad_defects") from exc


def _check_version(data: Any, what: str) -> None:
    version = data.get("version", -1) if isinstance(data, dict) else -1
    if version != DEFECTS_VERSION:
        raise InvalidParameterError(
            f"{what} of version {version}, expected {DEFECTS_VERSION}", code="analysis.version"
        )


# ---------------------------------------------------------------------------------------------
# hum


def _decimation_factor(frame_len: int, sample_rate: int) -> int:
    """The divisor ``D`` of ``frame_len`` whose rate ``sample_rate / D`` is nearest 1.4 kHz
    without going below 800 Hz (the 6th harmonic of 60 Hz and its neighbours need 372 Hz)."""
    best, best_err = 1, math.inf
    for d in range(1, frame_len + 1):
        if frame_len % d:
            continue
        rate = sample_rate / d
        if rate < _HUM_MIN_RATE_HZ:
            break
        err = abs(math.log(rate / _HUM_RATE_HZ))
        if err < best_err:
            best, best_err = d, err
    return best


class _HumPlan:
    """Window, FFT size and bin sets of the hum analysis at one rate.

    The components are the harmonics ``k f0`` (``f0`` in :data:`MAINS_HZ`, ``k = 1 ..
    HUM_HARMONICS``) that fit below the decimated Nyquist frequency; each is looked at through
    the same offsets (in bins) around the bin nearest to it, so all are measured at once.
    """

    def __init__(self, sample_rate: int, decimation: int, segment_len: int) -> None:
        self.decimation = decimation
        rate = sample_rate / decimation
        n = 1 << int(math.ceil(math.log2(2 * segment_len)))
        self.fft_size = n
        df = rate / n
        self.df = df
        t = (np.arange(segment_len) + 0.5) / segment_len
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * t)
        # group means, not sums: the DC gain of the decimation is 1
        self.window = (w / decimation).astype(np.float32)
        # calibrated so the bins of a sinusoid's main lobe add up to its mean square: Parseval
        # puts N sum(w^2 x^2) in all bins, half of it on the positive side
        self.scale = 2.0 / (n * float(np.sum(w * w)))
        # a sinusoid on a bin peaks at (mean square) / ENBW, the equivalent noise bandwidth in
        # bins of the padded transform: n sum(w^2) / sum(w)^2 (Harris 1978; 1.5 bins unpadded)
        self.enbw_bins = n * float(np.sum(w * w)) / float(np.sum(w)) ** 2
        top_hz = max(MAINS_HZ) * HUM_HARMONICS + _HUM_FLOOR_HZ[1] + 2.0 * df
        self.num_bins = min(n // 2 + 1, int(math.ceil(top_hz / df)) + 2)
        offsets = np.arange(-int(_HUM_FLOOR_HZ[1] / df), int(_HUM_FLOOR_HZ[1] / df) + 1)
        dist = np.abs(offsets) * df
        self.search = offsets[dist <= _HUM_SEARCH_HZ]
        self.floor = offsets[(dist >= _HUM_FLOOR_HZ[0]) & (dist <= _HUM_FLOOR_HZ[1])]
        self.lobe = offsets[dist <= _HUM_LOBE_HZ]
        self.comb = offsets[(offsets > 0) & (dist >= _COMB_HZ[0]) & (dist <= _COMB_HZ[1])]
        mains, harmonic, hz, centre, gain2 = [], [], [], [], []
        for i, f0 in enumerate(MAINS_HZ):
            for k in range(1, HUM_HARMONICS + 1):
                fk = k * f0
                c = int(round(fk / df))
                if c + offsets[-1] + 1 >= self.num_bins:
                    continue
                # response of the moving averages and the group mean at fk (Dirichlet kernels)
                x = math.pi * fk / sample_rate
                gain = (math.sin(decimation * x) / (decimation * math.sin(x))) ** (_HUM_SMOOTHING + 1)
                mains.append(i)
                harmonic.append(k)
                hz.append(fk)
                centre.append(c)
                gain2.append(gain * gain)
        self.mains = np.array(mains, dtype=np.int64)
        self.harmonic = np.array(harmonic, dtype=np.int64)
        self.hz = np.array(hz)
        self.centre = np.array(centre, dtype=np.int64)
        self.gain2 = np.array(gain2)
        # single-bin transforms at every component's frequency over 1/5 of a segment (0.2 s),
        # calibrated like the spectra: a steady sinusoid reads its mean square
        sub_len = segment_len // _HUM_SUBFRAMES
        self.sub_len = sub_len
        t_sub = (np.arange(sub_len) + 0.5) / sub_len
        w_sub = 0.5 - 0.5 * np.cos(2.0 * np.pi * t_sub)
        phase = 2.0 * np.pi * np.outer(np.arange(sub_len) / rate, self.hz)
        self.sub_kernel = (w_sub[:, np.newaxis] * np.exp(-1j * phase) / decimation).astype(np.complex64)
        self.sub_scale = 2.0 / float(np.sum(w_sub)) ** 2

    def analyse(self, power: np.ndarray, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per segment and mains frequency: hum present, and the power of each harmonic.

        Parameters
        ----------
        power : np.ndarray
            Calibrated power spectra ``(S, num_bins)`` (mean square per bin, summed over the
            channels).
        sub : np.ndarray
            ``(S, C, 2)``: per component, the least and the greatest mean square found at its
            frequency in the segment's 0.2 s sub-frames (:meth:`sub_frame_range`).

        Returns
        -------
        flags : np.ndarray
            ``bool`` ``(len(MAINS_HZ), S)``.
        measures : np.ndarray
            ``(len(MAINS_HZ), HUM_HARMONICS, 4, S)``: ``[..., 0, :]`` the mean square of
            harmonic ``k`` (summed over the channels) where it stands out by at least 10 dB
            and rules its main lobe, NaN elsewhere; ``[..., 1, :]`` the median of the
            neighbouring bins (the floor it must stand out from), NaN where not measured.
        """
        num = power.shape[0]
        flags = np.zeros((len(MAINS_HZ), num), dtype=bool)
        measures = np.full((len(MAINS_HZ), HUM_HARMONICS, 4, num), np.nan)
        if num == 0 or self.centre.size == 0:
            return flags, measures
        centre = self.centre[:, np.newaxis]
        search = power[:, centre + self.search]  # (S, C, m)
        j = self.centre + self.search[np.argmax(search, axis=2)]  # (S, C) bins
        peak = np.take_along_axis(power, j, axis=1)
        before = np.take_along_axis(power, j - 1, axis=1)
        after = np.take_along_axis(power, j + 1, axis=1)
        is_max = (peak >= before) & (peak >= after) & (peak > _TINY)
        a, b, c = np.log(before + _TINY), np.log(peak + _TINY), np.log(after + _TINY)
        denom = a - 2.0 * b + c
        curved = denom < 0.0
        # parabolic interpolation of the log spectrum (Smith, SASP)
        delta = np.where(curved, np.clip(0.5 * (a - c) / np.where(curved, denom, -1.0), -0.5, 0.5), 0.0)
        near = np.abs((j + delta) * self.df - self.hz) <= HUM_TOLERANCE_HZ
        floor = np.median(power[:, centre + self.floor], axis=2)
        # The peak must also rule its main lobe (+-2 Hz). A loud note a few Hz away makes local
        # maxima of its own there: the Hann window's side lobes, 1 Hz apart and each higher
        # than the next towards the note (an F#1 at 46.6 Hz has one at 50.0 Hz, 41 dB down).
        rules = peak >= power[:, centre + self.lobe].max(axis=2)
        # Height of the interpolated peak, less the mean noise per bin (the median of
        # exponentially distributed bin powers is ln 2 times their mean), times the window's
        # equivalent noise bandwidth: the sinusoid's mean square.
        top = np.exp(b - 0.25 * (a - c) * delta)
        level = np.maximum(top - floor / math.log(2.0), 0.0) * self.enbw_bins / self.gain2
        # Hum is there all the time: no 0.2 s of the segment may hold less than a quarter of it
        # at its frequency. A kick drum repeated every beat also puts a steady line on 50 Hz
        # when the beat divides a second (0.5 s, 0.6 s, ...), but dies away between hits.
        continuous = sub[..., 0] / self.gain2 >= _HUM_CONTINUITY * level
        found = is_max & near & rules & continuous & ~self._comb(power, j, peak)
        # A drum's own partial on a mains frequency (a snare sample ringing at 49.97 Hz) is
        # loudest where the drum is hit and rings down after it (4 dB or more in the segment);
        # hum is the same either side.
        rises = found & (sub[..., 2] > 0.0) & (sub[..., 1] > _HUM_STEADY * sub[..., 0])
        stands_out = found & (peak >= 10.0 ** (HUM_PROMINENCE_DB / 10.0) * floor)
        countable = found & (peak >= 10.0 ** (HUM_LEVEL_PROMINENCE_DB / 10.0) * floor)
        weak = found & (peak >= 10.0 ** (HUM_WEAK_PROMINENCE_DB / 10.0) * floor)
        for i in range(len(MAINS_HZ)):
            mine = self.mains == i
            fundamental = mine & (self.harmonic == 1)
            overtones = mine & (self.harmonic > 1)
            flags[i] = (
                stands_out[:, fundamental].any(axis=1)
                | (stands_out[:, overtones].sum(axis=1) >= 2)
                | (weak[:, mine].sum(axis=1) >= HUM_WEAK_MIN_HARMONICS)
            )
            for col in np.flatnonzero(mine):
                k = int(self.harmonic[col])
                measures[i, k - 1, 0] = np.where(countable[:, col], level[:, col], np.nan)
                measures[i, k - 1, 1] = floor[:, col]
                measures[i, k - 1, 2] = weak[:, col]
                measures[i, k - 1, 3] = rises[:, col] & weak[:, col]
        return flags, measures

    def anti_alias(self, x: np.ndarray, num_groups: int) -> np.ndarray:
        """The first ``num_groups`` group sums of ``x`` (``(channels, n)``) after a moving average
        over ``D`` samples, twice (zero before the batch), ``float32`` ``(channels, num_groups)``.

        A group mean alone is a poor anti-alias filter: its response at ``k fs / D +- f`` is only
        ``f D / (k fs)``, so the 7th and 12th harmonics of a 220 Hz voice folded onto 150 and
        300 Hz at 44.1 kHz (``D = 30``) and read as 50 Hz hum. Two moving averages cube that
        (-60 dB there instead of -20) and still follow a stream cut anywhere, batches being
        fixed: only the first ``2 D`` samples of a batch, under the window's edge, lack their past.
        """
        d = self.decimation
        ch = x.shape[0]
        y = x[:, : num_groups * d].astype(np.float64)
        for _ in range(_HUM_SMOOTHING):
            c = np.cumsum(y, axis=1)
            c[:, d:] -= c[:, :-d].copy()
            y = c / d
        return y.reshape(ch, num_groups, d).sum(axis=2).astype(np.float32)

    def sub_frame_range(self, segments: np.ndarray) -> np.ndarray:
        """Per segment and component, the least and the greatest mean square (summed over the
        channels) at the component's frequency among the segment's 0.2 s sub-frames, and
        whether it follows a hit: its greatest is in the sub-frame where the whole decimated
        band is loudest, when that is a hit (at least 10 dB over the band's quietest sub-frame),
        or it is loudest in the first sub-frame and quietest in the last (it rings down).

        Parameters
        ----------
        segments : np.ndarray
            Decimated group *sums* ``(channels, S, segment_len)``, ``float32``.

        Returns
        -------
        np.ndarray
            ``(S, C, 3)`` ``float64``: ``[..., 0]`` the least, ``[..., 1]`` the greatest,
            ``[..., 2]`` 1.0 where it follows a hit, else 0.0.
        """
        ch, num, _ = segments.shape
        if num == 0 or self.centre.size == 0:
            return np.zeros((num, self.centre.size, 3))
        q = self.sub_len
        subs = segments[:, :, : _HUM_SUBFRAMES * q].reshape(ch, num, _HUM_SUBFRAMES, q)
        values = subs @ self.sub_kernel  # (ch, S, 5, C)
        power = (values.real.astype(np.float64) ** 2 + values.imag.astype(np.float64) ** 2).sum(axis=0)
        band = np.square(subs, dtype=np.float64).sum(axis=(0, 3))  # (S, 5)
        hit = band.max(axis=1) >= _HUM_HIT_RATIO * band.min(axis=1)
        with_hit = (np.argmax(power, axis=1) == np.argmax(band, axis=1)[:, np.newaxis]) & hit[:, np.newaxis]
        # rings down: loudest in the first fifth, quietest in the last
        falling = (np.argmax(power, axis=1) == 0) & (np.argmin(power, axis=1) == _HUM_SUBFRAMES - 1)
        return np.stack([power.min(axis=1) * self.sub_scale, power.max(axis=1) * self.sub_scale,
                         (with_hit | falling).astype(np.float64)], axis=-1)

    def _comb(self, power: np.ndarray, j: np.ndarray, peak: np.ndarray) -> np.ndarray:
        """Whether the peaks at bins ``j`` (``(S, C)``) are teeth of a comb: a sound repeated
        every beat (a kick drum gliding through 50 Hz at 120 BPM) has spectral lines 1/beat
        apart, and at 120 BPM one of them sits exactly on 50 Hz. Mains hum has no neighbours
        like that: here both sides hold a local maximum 1.2 to 3 Hz away, at the same distance
        (+-0.5 Hz), within 10 dB of the peak."""
        rows = np.arange(power.shape[0])[:, np.newaxis, np.newaxis]
        sides = []
        for sign in (-1, 1):
            idx = j[:, :, np.newaxis] + sign * self.comb  # (S, C, m)
            values = power[rows, idx]
            is_peak = (values >= power[rows, idx - 1]) & (values >= power[rows, idx + 1])
            strong = is_peak & (values >= 0.1 * peak[:, :, np.newaxis])
            best = np.argmax(np.where(strong, values, -1.0), axis=2)
            sides.append((strong.any(axis=2), self.comb[best] * self.df))
        (left, d_left), (right, d_right) = sides
        return left & right & (np.abs(d_left - d_right) <= _COMB_MATCH_HZ)

    def visible(self, mains: int, levels: np.ndarray, floors: np.ndarray) -> np.ndarray:
        """Whether hum with these harmonic levels would clearly stand out (3 dB above the
        threshold) in each segment, given the segments' floors.

        Parameters
        ----------
        mains : int
            Index into :data:`MAINS_HZ`.
        levels : np.ndarray
            ``(HUM_HARMONICS,)`` mean squares of its harmonics (NaN or 0 where unknown).
        floors : np.ndarray
            ``(HUM_HARMONICS, S)`` floors from :meth:`analyse`.

        Returns
        -------
        np.ndarray
            ``bool`` ``(S,)``: the fundamental or at least two harmonics would be seen.
        """
        gain2 = np.ones(HUM_HARMONICS)
        comps = self.mains == mains
        gain2[self.harmonic[comps] - 1] = self.gain2[comps]
        levels = np.nan_to_num(levels, nan=0.0)
        # the peak such a harmonic would make: the inverse of the level estimate in analyse
        top = levels[:, np.newaxis] * (gain2[:, np.newaxis] / self.enbw_bins) + floors / math.log(2.0)
        clearly = 10.0 ** ((HUM_PROMINENCE_DB + 3.0) / 10.0)
        seen = (levels[:, np.newaxis] > 0.0) & (top >= clearly * np.nan_to_num(floors, nan=np.inf))
        return seen[0] | (seen[1:].sum(axis=0) >= 2)


# ---------------------------------------------------------------------------------------------
# the analyser


@dataclass
class _Chunk:
    """What one batch contributes (pure function of its samples and the state before it)."""

    peak: float
    dc_sum: np.ndarray
    frame_power: np.ndarray
    hum_spectra: np.ndarray  # (S, num_bins) calibrated power spectra of the whole segments
    hum_sub_min: np.ndarray  # (S, C, 2) from _HumPlan.sub_frame_range
    frame_flatness: np.ndarray  # NaN for the frames without a spectrum
    spectrum_class: np.ndarray
    spectra: np.ndarray
    first: np.ndarray
    tail: np.ndarray
    digital_count: int
    digital_ranges: tuple[np.ndarray, np.ndarray]
    digital_open: np.ndarray  # (k, 3) int64: channel, start, end
    flat_levels: dict[float, tuple[int, np.ndarray, np.ndarray]]
    flat_open: np.ndarray  # (k, 6) float64: channel, start, end, value, left, right
    plateaus: dict[float, tuple[int, int, np.ndarray, np.ndarray]]  # level: runs, samples, ranges


class DefectAnalyzer(BlockMeter):
    """Streaming defect analysis of one stem: :meth:`push` blocks, then :meth:`result`.

    Parameters
    ----------
    sample_rate : int
        In Hz, 8 000 .. 384 000.
    num_channels : int
        1 or 2.

    Raises
    ------
    InvalidParameterError
        If the rate or channel count is not supported (on construction), or a block has the
        wrong shape (on :meth:`push`).
    InvalidAudioError
        If a block holds NaN or infinity.

    Notes
    -----
    Memory grows with the number of 100 ms frames (two floats each) and 1 s segments (13
    numbers each), plus the clip ranges (at most one per 0.6 s); the audio itself is only held
    for one batch of whole segments (about 6 s, 2 MB of stereo). The result does not depend on
    the block sizes, to the bit. A 4-minute stereo track at 44.1 kHz takes about 0.07 s, up to
    0.15 s when a fifth of its samples are clipped.

    Examples
    --------
    A 1 kHz sine driven 6 dB into a hard clipper for one second:

    >>> t = np.arange(5 * 48000) / 48000
    >>> x = np.where((t >= 2) & (t < 3), np.clip(2 * np.sin(2 * np.pi * 1000 * t), -1, 1), 0.0)
    >>> meter = DefectAnalyzer(48000, 1)
    >>> meter.push(x[np.newaxis].astype(np.float32))
    >>> [(round(a, 1), round(b, 1)) for a, b in meter.result().clip_ranges]
    [(2.0, 3.0)]
    """

    def __init__(self, sample_rate: int, num_channels: int) -> None:
        super().__init__(sample_rate, num_channels)
        sr, ch = self.sample_rate, self.num_channels
        self._frame_len = sr // _FRAMES_PER_SECOND
        self._segment_len = _SEGMENT_FRAMES * self._frame_len
        segments = max(1, round(_BATCH_TARGET_SAMPLES / self._segment_len))
        self._batch_len = segments * self._segment_len
        decimation = _decimation_factor(self._frame_len, sr)
        self._hum = _HumPlan(sr, decimation, self._segment_len // decimation)
        self._ones = np.ones(decimation, dtype=np.float32)
        n_fft = 1 << int(round(math.log2(_SPECTRUM_WINDOW_S * sr)))
        while n_fft > self._frame_len:
            n_fft //= 2
        self._spectrum_size = n_fft
        t = (np.arange(n_fft) + 0.5) / n_fft
        self._spectrum_window = (0.5 - 0.5 * np.cos(2.0 * np.pi * t)).astype(np.float32)
        self._spectrum_bins = n_fft // 2 + 1
        df = sr / n_fft
        self._flatness_bins = (
            int(math.ceil(_FLATNESS_BAND_HZ[0] / df)),
            int(min(math.floor(_FLATNESS_BAND_HZ[1] / df), self._spectrum_bins - 2)) + 1,
        )
        # 1/12-octave bands from 5 kHz to Nyquist, each frame's power in them (band limit's steadiness)
        edges = _EDGE_LOW_HZ * 2.0 ** (np.arange(0, 12 * math.log2(sr / 2 / _EDGE_LOW_HZ) + 1) / 12.0)
        which = np.searchsorted(edges, np.arange(self._spectrum_bins) * df, side="right") - 1
        self._hf_centres = np.sqrt(edges[:-1] * edges[1:])
        self._hf_matrix = ((which[:, np.newaxis] == np.arange(len(edges) - 1)[np.newaxis, :])).astype(np.float64)
        self._hf_frames: list[tuple[np.ndarray, np.ndarray]] = []  # (classes, band powers) per batch

        self._buffer = np.empty((ch, self._batch_len), dtype=np.float32)
        self._fill = 0
        self._start = 0  # absolute index of the buffer's first sample
        # what the committed batches left
        self._peak = 0.0
        self._dc_sum = np.zeros(ch)
        self._frame_power: list[np.ndarray] = []
        self._frame_flatness: list[np.ndarray] = []
        self._hum_flags: list[np.ndarray] = []
        self._hum_power: list[np.ndarray] = []
        # segments not analysed yet (done in bulk): spectra and sub-frame minima
        self._hum_pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._spectrum_sum = np.zeros((_LEVEL_CLASS_COUNT, self._spectrum_bins))
        self._firsts: dict[int, np.ndarray] = {}
        self._tail: np.ndarray | None = None
        self._digital_count = 0
        self._digital_ranges: list[tuple[np.ndarray, np.ndarray]] = []
        self._digital_open: list[np.ndarray] = []
        self._flat_levels: dict[float, tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = {}
        self._flat_open: list[np.ndarray] = []
        self._plateaus: dict[float, tuple[int, int, list[tuple[np.ndarray, np.ndarray]]]] = {}

    # -- streaming --------------------------------------------------------------------------

    def _push_checked(self, x: np.ndarray) -> None:
        # Blocks are gathered into batches at fixed positions: every batch is analysed from
        # the same samples in the same memory layout, so the block sizes cannot change a bit
        # of the result.
        n = x.shape[1]
        pos = 0
        while pos < n:
            take = min(self._batch_len - self._fill, n - pos)
            self._buffer[:, self._fill : self._fill + take] = x[:, pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self._batch_len:
                self._commit(self._analyse(self._buffer, self._start))
                self._start += self._batch_len
                self._fill = 0

    def _commit(self, chunk: _Chunk) -> None:
        self._peak = max(self._peak, chunk.peak)
        self._dc_sum += chunk.dc_sum
        self._frame_power.append(chunk.frame_power)
        self._frame_flatness.append(chunk.frame_flatness)
        self._hum_pending.append((chunk.hum_spectra, chunk.hum_sub_min))
        if sum(p[0].shape[0] for p in self._hum_pending) >= _HUM_SEGMENTS_PER_CALL:
            flags, power = self._analyse_hum(self._hum_pending)
            self._hum_flags.append(flags)
            self._hum_power.append(power)
            self._hum_pending = []
        _add_rows(self._spectrum_sum, chunk.spectrum_class, chunk.spectra)
        self._hf_frames.append((chunk.spectrum_class, chunk.spectra @ self._hf_matrix))
        self._firsts[self._start] = chunk.first
        self._tail = chunk.tail
        self._digital_count += chunk.digital_count
        if chunk.digital_ranges[0].size:
            self._digital_ranges.append(chunk.digital_ranges)
            if len(self._digital_ranges) > 64:
                self._digital_ranges = [self._merged_ranges(self._digital_ranges)]
        if chunk.digital_open.size:
            self._digital_open.append(chunk.digital_open)
        for level, (count, starts, ends) in chunk.flat_levels.items():
            old_count, old_ranges = self._flat_levels.get(level, (0, []))
            self._flat_levels[level] = (old_count + count, [*old_ranges, (starts, ends)])
        if chunk.flat_open.size:
            self._flat_open.append(chunk.flat_open)
        _add_plateaus(self._plateaus, chunk.plateaus)
        if len(self._plateaus) > _PLATEAU_MAX_LEVELS:  # keep the levels that repeat
            self._plateaus = {k: v for k, v in self._plateaus.items() if v[0] > 1}
        # flat tops below the (new) running peak can never be at the track peak
        threshold = (1.0 - FLAT_LEVEL_TOLERANCE) * self._peak
        for level in [v for v in self._flat_levels if v < threshold]:
            del self._flat_levels[level]
        for level, (count, ranges) in self._flat_levels.items():
            if len(ranges) > 64:
                self._flat_levels[level] = (count, [self._merged_ranges(ranges)])
        self._flat_open = [o[np.abs(o[:, 3]) >= threshold] for o in self._flat_open]
        self._flat_open = [o for o in self._flat_open if o.size]

    def _analyse_hum(self, pending: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        return self._hum.analyse(np.concatenate([p[0] for p in pending]), np.concatenate([p[1] for p in pending]))

    def _merged_ranges(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        starts = np.concatenate([p[0] for p in parts])
        ends = np.concatenate([p[1] for p in parts])
        return _merge_intervals(starts, ends, gap=self._clip_gap)

    @property
    def _clip_pad(self) -> int:
        return int(round(CLIP_RANGE_MIN_S * self.sample_rate))

    @property
    def _clip_gap(self) -> int:
        return int(round(CLIP_RANGE_GAP_S * self.sample_rate))

    # -- one batch ----------------------------------------------------------------------------

    def _analyse(self, x: np.ndarray, start: int) -> _Chunk:
        """Analyse the batch ``x`` (``float32``, ``(channels, n)``) that starts at sample
        ``start``; reads the committed state, changes nothing."""
        ch, n = x.shape
        L = self._frame_len
        num_frames = n // L
        whole = x[:, : num_frames * L].reshape(ch, num_frames, L)
        fmax = whole.max(axis=2)
        fmin = whole.min(axis=2)
        if n > num_frames * L:  # the last, partial frame of the track
            rest = x[:, num_frames * L :]
            fmax = np.concatenate((fmax, rest.max(axis=1, keepdims=True)), axis=1)
            fmin = np.concatenate((fmin, rest.min(axis=1, keepdims=True)), axis=1)
        peak = max(float(fmax.max()), -float(fmin.min())) if n else 0.0
        frame_power = np.einsum("cfl,cfl->f", whole, whole).astype(np.float64) / (ch * L)

        # decimation by group means; their sum is also the DC sum
        d = self._hum.decimation
        num_groups = n // d
        # einsum, not a BLAS product: OpenBLAS starts its threads on the first call (0.1 s)
        groups = np.einsum("cgd,d->cg", x[:, : num_groups * d].reshape(ch, num_groups, d), self._ones)
        dc_sum = groups.sum(axis=1, dtype=np.float64) + x[:, num_groups * d :].sum(axis=1, dtype=np.float64)

        seg_len = self._segment_len // d
        num_segments = num_groups // seg_len
        if num_segments:
            segs = self._hum.anti_alias(x, num_segments * seg_len).reshape(ch, num_segments, seg_len)
            spec = scipy.fft.rfft(segs * self._hum.window, n=self._hum.fft_size, axis=-1)[..., : self._hum.num_bins]
            hum_spectra = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=0)
            hum_spectra *= self._hum.scale
            hum_sub_min = self._hum.sub_frame_range(segs)
        else:
            hum_spectra = np.zeros((0, self._hum.num_bins))
            hum_sub_min = np.zeros((0, self._hum.centre.size, 3))

        # spectra of every other frame, pooled by level class
        first_frame = start // L
        chosen = np.flatnonzero((first_frame + np.arange(num_frames)) % 2 == 0)
        if chosen.size:
            frames = whole[:, chosen, : self._spectrum_size] * self._spectrum_window
            spec = scipy.fft.rfft(frames, axis=-1)
            spectra = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=0)
            frame_flatness = np.full(num_frames, np.nan)
            frame_flatness[chosen] = _flatness(spectra[:, self._flatness_bins[0] : self._flatness_bins[1]])
            levels = _db_array(frame_power[chosen])
            spectrum_class = np.clip(
                np.floor(levels).astype(np.int64) - _LEVEL_CLASS_MIN_DB, 0, _LEVEL_CLASS_COUNT - 1
            )
        else:
            spectra = np.zeros((0, self._spectrum_bins))
            spectrum_class = np.zeros(0, dtype=np.int64)
            frame_flatness = np.full(num_frames, np.nan)

        clips = self._clips(x, start, fmax, fmin, max(self._peak, peak))
        return _Chunk(
            peak=peak,
            dc_sum=dc_sum,
            frame_power=frame_power,
            frame_flatness=frame_flatness,
            hum_spectra=hum_spectra,
            hum_sub_min=hum_sub_min,
            spectrum_class=spectrum_class,
            spectra=spectra,
            first=x[:, 0].astype(np.float64) if n else np.zeros(ch),
            tail=x[:, max(0, n - 2) :].copy(),
            **clips,
        )

    def _clips(
        self, x: np.ndarray, start: int, fmax: np.ndarray, fmin: np.ndarray, running_peak: float
    ) -> dict[str, Any]:
        """Digital clips and flat-top candidates of one batch.

        Runs that touch the batch's edges may continue in the neighbouring batch: they are
        returned as *open* pieces and joined in :meth:`result`. The others are final and are
        returned as counts and (widened, merged) sample ranges.
        """
        ch, n = x.shape
        L = self._frame_len
        end = start + n
        pad, gap = self._clip_pad, self._clip_gap
        digital_c: list[np.ndarray] = []
        digital_s: list[np.ndarray] = []
        digital_e: list[np.ndarray] = []
        flat: list[np.ndarray] = []  # rows: channel, start, end, value, left, right
        flat_threshold = None
        if FLAT_MIN_PEAK_LIN < running_peak and (1.0 - FLAT_LEVEL_TOLERANCE) * running_peak < CLIP_LEVEL_LIN:
            flat_threshold = (1.0 - FLAT_LEVEL_TOLERANCE) * running_peak
        # (from 0.999 up, flat tops are digital clips anyway: their samples are counted there)
        for c in range(ch):
            # Only frames whose peak reaches the level are looked at sample by sample (a run
            # cannot extend into a frame that does not), and only the samples at the level.
            selected = (fmax[c] >= CLIP_LEVEL_LIN) | (fmin[c] <= -CLIP_LEVEL_LIN)
            for g0, g1 in zip(*_runs(selected), strict=True):
                a, b = int(g0) * L, min(int(g1) * L, n)
                level = np.abs(x[c, a:b])
                # A float file may go over full scale without anything being cut: samples above
                # it are overs, not clips (a clip at full scale leaves them at or under 1.0).
                s, e = _runs((level >= CLIP_LEVEL_LIN) & (level <= FULL_SCALE_LIN))
                # short runs only matter where the batch may cut them
                keep = (e - s >= MIN_CLIP_RUN_SAMPLES) | (s + a == 0) | (e + a == n)
                s, e = s[keep], e[keep]
                digital_c.append(np.full(s.size, c, dtype=np.int64))
                digital_s.append(s + (start + a))
                digital_e.append(e + (start + a))
            if flat_threshold is None:
                continue
            selected = (fmax[c] >= flat_threshold) | (fmin[c] <= -flat_threshold)
            for g0, g1 in zip(*_runs(selected), strict=True):
                a, b = int(g0) * L, min(int(g1) * L, n)
                # the previous batch's last two samples: a run may have begun there, and they
                # give the left neighbour of a run that starts on this batch's first sample
                pre = self._tail[c] if (a == 0 and self._tail is not None) else np.zeros(0, dtype=np.float32)
                ext = np.concatenate((pre, x[c, a:b]))
                off = pre.size
                # pairs of neighbouring samples with the same value at the level
                same = ext[1:] == ext[:-1]
                same &= np.abs(ext[1:]) >= flat_threshold
                q0, q1 = _runs(same)
                if q0.size == 0:
                    continue
                rs, re = q0, q1 + 1  # sample runs, in ext (pair q joins samples q and q + 1)
                # short runs only matter where the batch may cut them
                keep = (re - rs >= MIN_FLAT_RUN_SAMPLES) | (rs < off) | ((re == ext.size) & (b == n))
                rs, re = rs[keep], re[keep]
                if rs.size == 0:
                    continue
                value = ext[rs].astype(np.float64)
                left = np.where(rs >= 1, ext[np.maximum(rs - 1, 0)], np.nan)
                if a > 0:
                    left = np.where(rs == 0, float(x[c, a - 1]), left)
                right = np.where(re < ext.size, ext[np.minimum(re, ext.size - 1)], np.nan)
                if b < n:
                    right = np.where(re == ext.size, float(x[c, b]), right)
                base = start + a - off
                flat.append(
                    np.stack((np.full(rs.size, float(c)), rs + base, re + base, value, left, right), axis=1)
                )

        plateaus = self._plateau_runs(x, start, np.maximum(fmax, -fmin))

        if digital_s:
            dc, ds, de = (np.concatenate(v) for v in (digital_c, digital_s, digital_e))
        else:
            dc = ds = de = np.zeros(0, dtype=np.int64)
        is_open = (ds == start) | (de == end)
        final = ~is_open & (de - ds >= MIN_CLIP_RUN_SAMPLES)
        digital_open = np.stack((dc[is_open], ds[is_open], de[is_open]), axis=1)

        rows = np.concatenate(flat) if flat else np.zeros((0, 6))
        fs, fe = rows[:, 1].astype(np.int64), rows[:, 2].astype(np.int64)
        value, left, right = rows[:, 3], rows[:, 4], rows[:, 5]
        flat_is_open = (fs < start) | (fe == end)
        flat_final = (
            ~flat_is_open & (fe - fs >= MIN_FLAT_RUN_SAMPLES) & _steep(value, left) & _steep(value, right)
        )
        flat_levels: dict[float, tuple[int, np.ndarray, np.ndarray]] = {}
        if flat_final.any():
            levels = np.abs(value[flat_final])
            s_, e_ = fs[flat_final], fe[flat_final]
            uniq, inverse = np.unique(levels, return_inverse=True)
            for u, level in enumerate(uniq):
                mine = inverse == u
                count = int(np.sum(e_[mine] - s_[mine]))
                merged = _merge_intervals(s_[mine], e_[mine], min_length=pad, gap=gap)
                flat_levels[float(level)] = (count, *merged)
        return {
            "digital_count": int(np.sum(de[final] - ds[final])),
            "digital_ranges": _merge_intervals(ds[final], de[final], min_length=pad, gap=gap),
            "digital_open": digital_open,
            "flat_levels": flat_levels,
            "flat_open": rows[flat_is_open],
            "plateaus": plateaus,
        }

    def _plateau_runs(
        self, x: np.ndarray, start: int, frame_peak: np.ndarray
    ) -> dict[float, tuple[int, int, np.ndarray, np.ndarray]]:
        """Plateau runs inside one batch, per exact level: (runs, samples, widened ranges)."""
        found: dict[float, list[np.ndarray]] = {}
        n = x.shape[1]
        L = self._frame_len
        for c in range(x.shape[0]):
            xc = x[c]
            same = xc[1:] == xc[:-1]
            same &= np.abs(xc[1:]) >= PLATEAU_MIN_LIN
            q0, q1 = _runs(same)
            rs, re = q0, q1 + 1
            keep = (re - rs >= MIN_FLAT_RUN_SAMPLES) & (rs > 0) & (re < n)
            rs, re = rs[keep], re[keep]
            if rs.size == 0:
                continue
            value = xc[rs].astype(np.float64)
            # entered and left from the same side, by a jump (or, for a long run, by more than a
            # few 16-bit steps: a low note clipped hard glides into its ceiling)
            step = np.where(re - rs >= PLATEAU_LONG_RUN_SAMPLES, PLATEAU_EDGE_MIN,
                            np.maximum(PLATEAU_EDGE_STEP * np.abs(value), PLATEAU_EDGE_MIN))
            inward = np.sign(value)
            before, after = xc[rs - 1].astype(np.float64), xc[re].astype(np.float64)
            ok = (inward * (value - before) >= step) & (inward * (value - after) >= step)
            ok &= (np.sign(before) == inward) & (np.sign(after) == inward)  # not a square wave's edge
            # the ceiling of its neighbourhood: nothing in its frame goes higher
            ok &= np.abs(value) >= frame_peak[c, np.minimum(rs // L, frame_peak.shape[1] - 1)]
            for v, a, b in zip(np.abs(value[ok]), rs[ok], re[ok], strict=True):
                found.setdefault(float(v), []).append(np.array((a + start, b + start)))
        out: dict[float, tuple[int, int, np.ndarray, np.ndarray]] = {}
        for level, runs in found.items():
            r = np.stack(runs)
            merged = _merge_intervals(r[:, 0], r[:, 1], min_length=self._clip_pad, gap=self._clip_gap)
            out[level] = (len(runs), int(np.sum(r[:, 1] - r[:, 0])), *merged)
        return out

    # -- the result ---------------------------------------------------------------------------

    def result(self) -> StemDefects:
        """Defects of everything pushed so far (the analyser can keep going)."""
        partial = self._analyse(self._buffer[:, : self._fill], self._start) if self._fill else None
        sr, ch = self.sample_rate, self.num_channels
        num_samples = self._start + self._fill
        peak = max(self._peak, partial.peak) if partial else self._peak
        dc_sum = self._dc_sum + (partial.dc_sum if partial else 0.0)
        chunks_power = [*self._frame_power, *([partial.frame_power] if partial else [])]
        frame_power = np.concatenate(chunks_power) if chunks_power else np.zeros(0)
        chunks_flatness = [*self._frame_flatness, *([partial.frame_flatness] if partial else [])]
        frame_flatness = np.concatenate(chunks_flatness) if chunks_flatness else np.zeros(0)
        pending = [*self._hum_pending, *([(partial.hum_spectra, partial.hum_sub_min)] if partial else [])]
        flags, powers = list(self._hum_flags), list(self._hum_power)
        if pending:
            more_flags, more_power = self._analyse_hum(pending)
            flags.append(more_flags)
            powers.append(more_power)
        hum_flags = np.concatenate(flags, axis=1) if flags else np.zeros((len(MAINS_HZ), 0), dtype=bool)
        hum_measures = np.concatenate(powers, axis=3) if powers else np.zeros((len(MAINS_HZ), HUM_HARMONICS, 4, 0))
        spectrum_sum = self._spectrum_sum
        if partial is not None and partial.spectra.shape[0]:
            spectrum_sum = spectrum_sum.copy()
            _add_rows(spectrum_sum, partial.spectrum_class, partial.spectra)

        clipped, clip_ranges = self._clip_result(partial, num_samples, peak)
        frame_db = _db_array(frame_power)
        hum_hz, hum_level_db, hum_ranges = self._hum_result(hum_flags, hum_measures, frame_power)
        bandwidth_hz, lowpass_hz = self._bandwidth_result(spectrum_sum, frame_db)
        hf = [*self._hf_frames, *([(partial.spectrum_class, partial.spectra @ self._hf_matrix)] if partial else [])]
        spread_db = self._edge_spread_db(lowpass_hz, hf, frame_db)
        means = np.abs(dc_sum) / num_samples if num_samples else np.zeros(ch)
        return StemDefects(
            duration_s=num_samples / sr,
            peak_dbfs=_lin_to_db(peak),
            clipped_samples=clipped,
            clip_ranges=clip_ranges,
            dc_offset_db=_lin_to_db(float(means.max())),
            hum_hz=hum_hz,
            hum_level_db=hum_level_db,
            hum_ranges=hum_ranges,
            noise_floor_dbfs=_noise_floor_dbfs(frame_power),
            noise_in_gaps=_noise_in_gaps(frame_db, frame_flatness),
            loud_dbfs=_loud_dbfs(frame_db),
            bandwidth_hz=bandwidth_hz,
            lowpass_hz=lowpass_hz,
            lowpass_spread_db=spread_db,
        )

    def _edge_spread_db(self, lowpass_hz: float | None, hf: list[tuple[np.ndarray, np.ndarray]],
                        frame_db: np.ndarray) -> float | None:
        """How the level just under a band limit moves against the level an octave below it,
        frame by frame (the spread between the 10th and 90th percentiles, dB, over the loud
        frames); None without a band limit or with fewer than 20 loud frames."""
        if lowpass_hz is None or not hf:
            return None
        classes = np.concatenate([c for c, _ in hf])
        bands = np.concatenate([b for _, b in hf])
        audible = frame_db[frame_db > SILENCE_DBFS]
        if audible.size == 0:
            return None
        loud_db = float(np.percentile(audible, LOUD_PERCENTILE)) - LOUD_RANGE_DB
        loud = classes >= max(int(math.floor(loud_db)) - _LEVEL_CLASS_MIN_DB, 0)
        c = self._hf_centres
        top = (c >= lowpass_hz / 2.0 ** (1 / 6)) & (c <= lowpass_hz / 2.0 ** (1 / 24))
        ref = (c >= lowpass_hz / 2.0 ** (7 / 6)) & (c <= lowpass_hz / 2.0 ** (4 / 6))
        if loud.sum() < 20 or not top.any() or not ref.any():
            return None
        diff = _db_array(bands[loud][:, top].sum(axis=1)) - _db_array(bands[loud][:, ref].sum(axis=1))
        return float(np.percentile(diff, 90) - np.percentile(diff, 10))

    def _clip_result(
        self, partial: _Chunk | None, num_samples: int, peak: float
    ) -> tuple[int, list[tuple[float, float]]]:
        pad, gap = self._clip_pad, self._clip_gap
        count = self._digital_count
        ranges = list(self._digital_ranges)
        digital_open = list(self._digital_open)
        flat_levels = {k: (v[0], list(v[1])) for k, v in self._flat_levels.items()}
        flat_open = list(self._flat_open)
        firsts = dict(self._firsts)
        if partial is not None:
            count += partial.digital_count
            if partial.digital_ranges[0].size:
                ranges.append(partial.digital_ranges)
            if partial.digital_open.size:
                digital_open.append(partial.digital_open)
            for level, (n, s, e) in partial.flat_levels.items():
                old = flat_levels.get(level, (0, []))
                flat_levels[level] = (old[0] + n, [*old[1], (s, e)])
            if partial.flat_open.size:
                flat_open.append(partial.flat_open)
            firsts[self._start] = partial.first

        # digital pieces cut by batch edges: join the touching ones, then apply the length rule
        if digital_open:
            o = np.concatenate(digital_open)
            _, s, e, _ = _join_pieces(o[:, 0], o[:, 1], o[:, 2])
            keep = e - s >= MIN_CLIP_RUN_SAMPLES
            count += int(np.sum(e[keep] - s[keep]))
            ranges.append(_merge_intervals(s[keep], e[keep], min_length=pad, gap=gap))

        threshold = (1.0 - FLAT_LEVEL_TOLERANCE) * peak
        if peak > FLAT_MIN_PEAK_LIN:
            if flat_open:
                o = np.concatenate(flat_open)
                o = o[np.abs(o[:, 3]) >= threshold]
                c, s, e, extra = _join_pieces(o[:, 0], o[:, 1], o[:, 2], o[:, 3:6])
                s, e = s.astype(np.int64), e.astype(np.int64)
                value, left, right = extra[:, 0], extra[:, 1], extra[:, 2].copy()
                for i in range(s.size):  # the right neighbour of a run ending on a batch edge
                    if math.isnan(right[i]) and int(e[i]) in firsts:
                        right[i] = firsts[int(e[i])][int(c[i])]
                keep = (e - s >= MIN_FLAT_RUN_SAMPLES) & _steep(value, left) & _steep(value, right)
                for i in np.flatnonzero(keep):
                    level = float(abs(value[i]))
                    old = flat_levels.get(level, (0, []))
                    widened = _merge_intervals(s[i : i + 1], e[i : i + 1], min_length=pad)
                    flat_levels[level] = (old[0] + int(e[i] - s[i]), [*old[1], widened])
            for level, (n, parts) in flat_levels.items():
                if level < threshold:
                    continue
                # flat tops at or above the digital clip level lie inside digital clips
                if level < CLIP_LEVEL_LIN:
                    count += n
                ranges.extend(parts)
        plateaus = dict(self._plateaus)
        if partial is not None:
            plateaus = {k: (v[0], v[1], list(v[2])) for k, v in plateaus.items()}
            _add_plateaus(plateaus, partial.plateaus)
        for level, (runs, n, parts) in plateaus.items():
            # at the track peak they were counted as flat tops, at full scale as digital clips
            at_peak_counted = peak > FLAT_MIN_PEAK_LIN and level >= threshold
            if runs >= PLATEAU_MIN_RUNS and level < CLIP_LEVEL_LIN and not at_peak_counted:
                count += n
                ranges.extend(parts)
        if not ranges:
            return count, []
        s, e = self._merged_ranges(ranges)
        s = np.clip(s, 0, num_samples)
        e = np.clip(e, 0, num_samples)
        sr = self.sample_rate
        return count, [(int(a) / sr, int(b) / sr) for a, b in zip(s, e, strict=True) if b > a]

    def _hum_result(
        self, flags: np.ndarray, measures: np.ndarray, frame_power: np.ndarray
    ) -> tuple[float | None, float, list[tuple[float, float]]]:
        num = flags.shape[1]
        if num == 0:
            return None, LEVEL_FLOOR_DB, []
        seg_power = frame_power[: num * _SEGMENT_FRAMES].reshape(num, _SEGMENT_FRAMES).mean(axis=1)
        seg_db = _db_array(seg_power)
        audible = seg_db > SILENCE_DBFS
        quiet = np.zeros(num, dtype=bool)
        if audible.any():
            reference = float(np.percentile(seg_db[audible], 90.0))
            quiet = audible & (seg_db <= reference - HUM_QUIET_DB)
        best: tuple[int, int, np.ndarray, np.ndarray] | None = None
        for i in range(len(MAINS_HZ)):
            present = flags[i] | _sustained(measures[i, :, 2] > 0.5)
            if not present.any():
                continue
            # Hum is steady: each harmonic's power is the median over the segments where it
            # stands out (music hides some harmonics in some segments).
            levels = np.full(HUM_HARMONICS, np.nan)
            for k in range(HUM_HARMONICS):
                values = measures[i, k, 0][present]
                values = values[~np.isnan(values)]
                if values.size:
                    levels[k] = float(np.median(values))
            # Where hum that loud would not stand out (loud music around its harmonics), its
            # absence says nothing: such gaps are bridged, as are gaps of up to 2 s. Where it
            # would have been seen (quiet passages, digital silence), it really is absent.
            if np.all(np.isnan(levels)):
                continue  # no harmonic ever measured cleanly: nothing steady to speak of
            hidden = ~self._hum.visible(i, levels, measures[i, :, 1])
            filled = _bridge(present, HUM_MAX_GAP_S, hidden)
            s, e = _runs(filled)
            long = e - s >= HUM_MIN_RUN_S
            s, e = s[long], e[long]
            if s.size == 0:
                continue
            span = slice(int(s[0]), int(e[-1]))
            telling = (quiet & ~hidden)[span]
            if telling.sum() >= 2 and present[span][telling].mean() < 0.5:
                continue  # only where the music plays: a note, not the mains
            rising = (measures[i, :, 3] > 0.5).any(axis=0)[span]
            if rising.sum() >= 2 and rising.sum() >= _HUM_FOLLOWS_FRACTION * present[span].sum():
                continue  # it follows the hits in most seconds it is seen: the drum's own partial
            mask = np.zeros(num, dtype=bool)
            for a, b in zip(s, e, strict=True):
                mask[a:b] = True
            total = int(mask.sum())
            if best is None or total > best[1]:
                best = (i, total, mask, levels)
        if best is None:
            return None, LEVEL_FLOOR_DB, []
        i, _, mask, levels = best
        # hum power is summed over the channels, segment power averaged over them
        hum = float(np.nansum(levels))
        if _power_to_db(hum / self.num_channels) < HUM_MIN_DBFS:
            return None, LEVEL_FLOOR_DB, []  # under a 16-bit file's own noise: nobody hears it
        total = self.num_channels * float(np.mean(seg_power[mask]))
        level_db = _power_to_db(hum / max(total, _TINY))
        seg_s = self._segment_len / self.sample_rate
        s, e = _runs(mask)
        ranges = [(float(a) * seg_s, float(b) * seg_s) for a, b in zip(s, e, strict=True)]
        return MAINS_HZ[i], min(level_db, 0.0), ranges

    def _bandwidth_result(self, spectrum_sum: np.ndarray, frame_db: np.ndarray) -> tuple[float, float | None]:
        audible = frame_db[frame_db > SILENCE_DBFS]
        if audible.size == 0:
            return 0.0, None
        loud_db = float(np.percentile(audible, LOUD_PERCENTILE)) - LOUD_RANGE_DB
        first_class = max(int(math.floor(loud_db)) - _LEVEL_CLASS_MIN_DB, int(SILENCE_DBFS) - _LEVEL_CLASS_MIN_DB, 0)
        spectrum = spectrum_sum[first_class:].sum(axis=0)
        if not np.any(spectrum[2:] > 0.0):
            return 0.0, None
        df = self.sample_rate / self._spectrum_size
        level = _db_array(spectrum)
        level[:2] = LEVEL_FLOOR_DB  # DC and its leakage
        top = float(level.max())
        bandwidth_hz = float(np.flatnonzero(level >= top - BANDWIDTH_RANGE_DB)[-1] * df)
        return bandwidth_hz, _find_lowpass(level, df, self.sample_rate)


_PLATEAU_MAX_LEVELS = 4096


def _add_plateaus(
    total: dict[float, tuple[int, int, list[tuple[np.ndarray, np.ndarray]]]],
    new: dict[float, tuple[int, int, np.ndarray, np.ndarray]],
) -> None:
    for level, (runs, n, s, e) in new.items():
        old = total.get(level, (0, 0, []))
        total[level] = (old[0] + runs, old[1] + n, [*old[2], (s, e)])


def _sustained(weak: np.ndarray) -> np.ndarray:
    """Segments in runs of :data:`HUM_SUSTAIN_SEGMENTS` where one harmonic stood out a little
    (``weak``, ``(HUM_HARMONICS, S)``) in all but one of them."""
    w = HUM_SUSTAIN_SEGMENTS
    num = weak.shape[1]
    out = np.zeros(num, dtype=bool)
    if num < w:
        return out
    counts = np.cumsum(np.concatenate((np.zeros((weak.shape[0], 1)), weak), axis=1), axis=1)
    windows = (counts[:, w:] - counts[:, :-w]) >= w - 1  # (H, S - w + 1)
    starts = np.flatnonzero(windows.any(axis=0))
    for a in starts:
        out[a : a + w] = True
    return out


def _add_rows(target: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """``target[index[i]] += rows[i]`` for every ``i`` (repeated indices add up), faster
    than ``np.add.at`` for a few rows of many columns."""
    if index.size == 0:
        return
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_index[1:] != sorted_index[:-1])))
    target[sorted_index[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def _steep(value: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
    """Whether a flat top at ``value`` is entered / left steeply from ``neighbour`` (NaN, the
    edge of the track, counts as steep)."""
    level = np.abs(value)
    drop = level - np.sign(value) * neighbour
    return np.isnan(neighbour) | (drop >= FLAT_EDGE_STEP * level)


def _join_pieces(
    channel: np.ndarray, start: np.ndarray, end: np.ndarray, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Join pieces of runs cut by batch edges: same channel, overlapping or touching (and, for
    flat tops, the same value).

    ``extra`` holds, per piece, the value, the left and the right neighbour. Returns the
    channel, start and end of the joined runs, and with ``extra`` a ``(k, 3)`` array of the
    value, the left neighbour of the first piece and the right neighbour of the last.
    """
    if channel.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty, (np.zeros((0, 3)) if extra is not None else None)
    order = np.lexsort((end, start, channel))
    c, s, e = channel[order], start[order], end[order]
    same = (c[1:] == c[:-1]) & (s[1:] <= e[:-1])
    x = None
    if extra is not None:
        x = extra[order]
        same &= x[1:, 0] == x[:-1, 0]
    first = np.flatnonzero(np.concatenate(([True], ~same)))
    last = np.append(first[1:], c.size) - 1
    joined_extra = None
    if x is not None:
        joined_extra = np.stack((x[first, 0], x[first, 1], x[last, 2]), axis=1)
    return c[first], s[first], np.maximum.reduceat(e, first), joined_extra


def _bridge(mask: np.ndarray, max_gap: int, hidden: np.ndarray) -> np.ndarray:
    """``mask`` with its inner gaps (False between True values) filled where they are at most
    ``max_gap`` long or lie mostly (:data:`HUM_HIDDEN_FRACTION`) where ``hidden``."""
    out = mask.copy()
    s, e = _runs(~mask)
    for a, b in zip(s, e, strict=True):
        if a > 0 and b < mask.size and (b - a <= max_gap or hidden[a:b].mean() >= HUM_HIDDEN_FRACTION):
            out[a:b] = True
    return out


def _noise_floor_dbfs(frame_power: np.ndarray) -> float:
    p = frame_power[_db_array(frame_power) > SILENCE_DBFS]
    if p.size == 0:
        return LEVEL_FLOOR_DB
    k = max(1, int(math.ceil(NOISE_FLOOR_FRACTION * p.size)))
    quietest = np.partition(p, k - 1)[:k]
    return _power_to_db(float(np.mean(quietest)))


def _flatness(power: np.ndarray) -> np.ndarray:
    """Spectral flatness (geometric over arithmetic mean) of each row of ``power``, 0..1; 0 for
    an all-zero row."""
    mean = power.mean(axis=1)
    geo = np.exp(np.log(power + _TINY).mean(axis=1))
    return np.where(mean > 0.0, np.minimum(geo / np.maximum(mean, _TINY), 1.0), 0.0)


def _loud_dbfs(frame_db: np.ndarray) -> float:
    audible = frame_db[frame_db > SILENCE_DBFS]
    return float(np.percentile(audible, LOUD_PERCENTILE)) if audible.size else LEVEL_FLOOR_DB


def _noise_in_gaps(frame_db: np.ndarray, frame_flatness: np.ndarray) -> bool:
    audible = frame_db[frame_db > SILENCE_DBFS]
    if audible.size == 0:
        return False
    loud = float(np.percentile(audible, LOUD_PERCENTILE))
    need = int(round(GAP_MIN_S * _FRAMES_PER_SECOND))
    s, e = _runs(frame_db <= loud - GAP_DEPTH_DB)
    for a, b in zip(s, e, strict=True):
        if b - a < need:
            continue
        levels = np.lib.stride_tricks.sliding_window_view(frame_db[a:b], need)
        lo, hi = levels.min(axis=1), levels.max(axis=1)
        steady = (lo > GAP_NOISE_DBFS) & (hi - lo <= GAP_STEADY_DB)
        if not steady.any():
            continue
        # noise, not a quiet held chord: a flat spectrum between 1 and 10 kHz (every window of
        # ten frames holds five frames with a spectrum)
        flatness = np.lib.stride_tricks.sliding_window_view(frame_flatness[a:b], need)[steady]
        flatness = np.where(np.isnan(flatness), -1.0, flatness)
        measured = np.sort(flatness, axis=1)[:, need // 2 :]  # the analysed frames, sorted
        if np.any(np.median(measured, axis=1) >= GAP_NOISE_FLATNESS):
            return True
    return False


def _find_lowpass(level: np.ndarray, df: float, sample_rate: int) -> float | None:
    """Frequency of a brick-wall cliff in a long-term spectrum ``level`` (dB per bin), or None
    (module docstring)."""
    num = level.size
    freqs = np.arange(num) * df
    nyquist = sample_rate / 2.0
    smooth = scipy.ndimage.median_filter(level, size=_LOWPASS_MEDIAN_BINS, mode="nearest")
    # highest level from each bin up to Nyquist
    above = np.maximum.accumulate(smooth[::-1])[::-1]
    csum = np.concatenate(([0.0], np.cumsum(level)))

    def index(hz: np.ndarray | float) -> np.ndarray:
        return np.clip(np.round(np.asarray(hz) / df).astype(np.int64), 0, num - 1)

    k = np.arange(num)
    third = 2.0 ** (1.0 / 3.0)
    sixth = 2.0 ** (1.0 / 6.0)
    candidate = (freqs >= LOWPASS_MIN_HZ) & (freqs < LOWPASS_MAX_FRACTION * sample_rate)
    # the stop band must be seen over at least 1/12 octave: just below Nyquist, the zero that
    # the bilinear transform puts there makes any digital low-pass plunge
    candidate &= freqs * sixth * 2.0 ** (1.0 / 12.0) <= nyquist
    if not candidate.any():
        return None
    lo = index(freqs / sixth)
    below = (csum[k + 1] - csum[lo]) / (k + 1 - lo)
    drop = np.full(num, -np.inf)
    drop[candidate] = below[candidate] - above[index(freqs[candidate] * sixth)]
    # A cliff in what is already 60 dB down (a steep digital low-pass plunging to its zero at
    # Nyquist far above its corner, say) is no band limit anyone hears. Compared as 1/3-octave
    # band powers, so that tones (all their power in one bin) do not set the reference.
    lin = np.where(level > LEVEL_FLOOR_DB, 10.0 ** (level / 10.0), 0.0)
    band = np.concatenate(([0.0], np.cumsum(lin)))
    band = band[k + 1] - band[index(freqs / third)]
    loudest = float(band[freqs >= 100.0].max()) if np.any(freqs >= 100.0) else float(band.max())
    drop[band < loudest * 10.0 ** (-BANDWIDTH_RANGE_DB / 10.0)] = -np.inf
    best: tuple[float, int] | None = None
    for i in np.flatnonzero(drop >= LOWPASS_DROP_DB):
        under = level[index(freqs[i] / third) : index(freqs[i] / 2.0 ** (1.0 / 24.0)) + 1]
        median = float(np.median(under))
        if float(np.percentile(under, 10.0)) < median - _LOWPASS_FILL_DB:
            continue  # a few notes, not a broadband spectrum
        # A brick wall passes everything up to its edge; a gentle filter (or a digital one
        # warped towards its zero at Nyquist) is already falling before its steepest part.
        f = freqs[i]
        lowest = float(np.mean(level[index(f / third) : index(f / 2.0**0.25) + 1]))
        highest = float(np.mean(level[index(f / 2.0 ** (1 / 12)) : index(f / 2.0 ** (1 / 24)) + 1]))
        if lowest - highest > _LOWPASS_SHOULDER_DB:
            continue
        if best is None or drop[i] > best[0]:
            best = (float(drop[i]), int(i))
    if best is None:
        return None
    i = best[1]
    reference = float(np.median(level[index(freqs[i] / third) : i + 1])) - _LOWPASS_EDGE_DB
    stop = int(index(freqs[i] * sixth))
    above_ref = np.flatnonzero(level[: stop + 1] >= reference)
    j = int(above_ref[-1])
    cutoff = float(freqs[j])
    if j + 1 < num and level[j] > level[j + 1]:
        cutoff += df * (level[j] - reference) / (level[j] - level[j + 1])
    if cutoff >= LOWPASS_MAX_FRACTION * sample_rate:
        return None
    return float(cutoff)


# ---------------------------------------------------------------------------------------------
# pairs of tracks


def _check_excerpt(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise InvalidParameterError(
            f"{name} must be a mono excerpt (1-D), got shape {a.shape}", code="audio.bad_shape"
        )
    a = a.astype(np.float64)
    if a.size and not np.isfinite(a).all():
        raise InvalidAudioError(
            "the audio contains invalid samples (NaN or infinity). The file is damaged or was "
            "written by a faulty plug-in; re-export it from your DAW.",
            code="audio.non_finite",
        )
    return a


def pair_alignment(
    a: np.ndarray,
    b: np.ndarray,
    sample_rate: int,
    *,
    max_lag_ms: float = 20.0,
    band_limit_hz: float | None = 4000.0,
) -> PairAlignment:
    """Time offset, polarity and summing loss of two tracks that pick up one source.

    The normalised cross-correlation ``r(tau) = sum a[n] b[n + tau] / sqrt(E(a) E(b))`` over
    lags ``|tau| <= max_lag_ms`` (FFT-based, zero-padded, so not circular), on ``a`` and ``b``
    band-limited below ``band_limit_hz``: two microphones on one source (kick in/out, snare
    top/bottom, two mics on a cabinet) share their low and mid frequencies but not their
    highs. The lag is refined by parabolic interpolation of ``r`` around its peak.

    Parameters
    ----------
    a, b : np.ndarray
        Mono excerpts (1-D, equal length, any float dtype), e.g. 5-20 s where both tracks play
        (:func:`excerpt_windows`), taken at the same times.
    sample_rate : int
        Hz, 8 000 .. 384 000.
    max_lag_ms : float
        Largest lag looked at, ms, > 0 (20 ms: 6.9 m of path difference).
    band_limit_hz : float or None
        Correlate only below this frequency (a brick wall on the spectra), Hz, > 0; None (or
        at least Nyquist) for the full band. The cancellation figures are always full band
        and below 250 Hz.

    Returns
    -------
    PairAlignment
        Neutral values (0 correlation, 0 lag, 0 dB) when either excerpt is silent or empty.

    Raises
    ------
    InvalidParameterError
        If the excerpts are not 1-D of equal length or a parameter is out of range.
    InvalidAudioError
        If an excerpt holds NaN or infinity.

    Notes
    -----
    ``E(a + b) = E(a) + E(b) + 2 sum(a b)``: for equal energies
    ``cancellation_db = 10 log10(1 + r(0))`` over the full band. Two copies of white noise
    ``d >= 1`` samples apart read 0 dB (``r(d) = 0``); noise below ``f_c`` delayed by ``d``
    seconds gives ``1 + sin(2 pi f_c d) / (2 pi f_c d)`` (comb filter), near +3 dB when
    ``f_c d`` is small.

    Examples
    --------
    >>> x = np.random.default_rng(1).standard_normal(48000)
    >>> r = pair_alignment(x, -x, 48000)
    >>> round(r.peak_correlation, 6), r.polarity_inverted, r.cancellation_db
    (-1.0, True, -60.0)
    """
    sr, _ = check_stream_parameters(sample_rate, 1)
    if not (isinstance(max_lag_ms, int | float) and math.isfinite(max_lag_ms) and max_lag_ms > 0.0):
        raise InvalidParameterError(f"max_lag_ms must be > 0, got {max_lag_ms}", code="parameter.max_lag")
    if band_limit_hz is not None and not (math.isfinite(band_limit_hz) and band_limit_hz > 0.0):
        raise InvalidParameterError(
            f"band_limit_hz must be > 0 or None, got {band_limit_hz}", code="parameter.band_limit"
        )
    x = _check_excerpt(a, "a")
    y = _check_excerpt(b, "b")
    if x.size != y.size:
        raise InvalidParameterError(
            f"the excerpts must have equal length, got {x.size} and {y.size} samples",
            code="audio.length_mismatch",
        )
    n = x.size
    neutral = PairAlignment(0.0, 0.0, 0.0, False, 0.0, 0.0)
    ex, ey = float(np.dot(x, x)), float(np.dot(y, y))
    if n == 0 or ex == 0.0 or ey == 0.0:
        return neutral
    max_lag = min(int(round(max_lag_ms * sr / 1000.0)), n - 1)
    size = scipy.fft.next_fast_len(n + max_lag, real=True)
    fx = scipy.fft.rfft(x, size)
    fy = scipy.fft.rfft(y, size)
    freqs = np.arange(fx.size) * (sr / size)

    # full-band and low-band summing at the current alignment
    cancellation_db = _ratio_db(float(np.dot(x + y, x + y)), ex + ey)
    low = (freqs > 0.0) & (freqs < _LOW_BAND_HZ)
    sum_low = float(np.sum(np.abs(fx[low] + fy[low]) ** 2))
    parts_low = float(np.sum(np.abs(fx[low]) ** 2 + np.abs(fy[low]) ** 2))
    low_cancellation_db = _ratio_db(sum_low, parts_low) if parts_low > 0.0 else 0.0
    notch_db, notch_hz = _deepest_notch(fx, fy, freqs)

    if band_limit_hz is not None and band_limit_hz < sr / 2.0:
        keep = freqs <= band_limit_hz
        fx = np.where(keep, fx, 0.0)
        fy = np.where(keep, fy, 0.0)
    # r(tau) = sum a[n] b[n + tau]: the inverse transform of conj(A) B; negative lags wrap
    cross = scipy.fft.irfft(np.conj(fx) * fy, size)
    norm_x = float(scipy.fft.irfft(np.abs(fx) ** 2, size)[0])
    norm_y = float(scipy.fft.irfft(np.abs(fy) ** 2, size)[0])
    if norm_x <= 0.0 or norm_y <= 0.0:
        return PairAlignment(0.0, 0.0, 0.0, False, cancellation_db, low_cancellation_db, notch_db, notch_hz)
    lags = np.arange(-max_lag, max_lag + 1)
    r = cross[lags % size] / math.sqrt(norm_x * norm_y)
    r = np.clip(r, -1.0, 1.0)
    i = int(np.argmax(np.abs(r)))
    peak = float(r[i])
    lag = float(lags[i])
    if 0 < i < r.size - 1:
        p0, p1, p2 = r[i - 1] * np.sign(peak), abs(peak), r[i + 1] * np.sign(peak)
        denom = p0 - 2.0 * p1 + p2
        if denom < 0.0:
            shift = float(np.clip(0.5 * (p0 - p2) / denom, -0.5, 0.5))
            lag += shift if abs(shift) > 1e-9 else 0.0  # symmetric peaks: round-off only
    return PairAlignment(
        correlation_at_zero=float(r[max_lag]),
        peak_correlation=peak,
        lag_ms=lag * 1000.0 / sr,
        polarity_inverted=bool(abs(peak) >= 0.5 and peak < 0.0),
        cancellation_db=cancellation_db,
        low_cancellation_db=low_cancellation_db,
        notch_db=notch_db,
        notch_hz=notch_hz,
    )


#: Comb notches are looked for in 1/6-octave bands over this range, Hz.
_NOTCH_RANGE_HZ = (80.0, 10000.0)
#: Bands more than this under the strongest band are left out.
_NOTCH_BAND_RANGE_DB = 40.0


def _deepest_notch(fx: np.ndarray, fy: np.ndarray, freqs: np.ndarray) -> tuple[float, float]:
    top = min(_NOTCH_RANGE_HZ[1], 0.45 * 2.0 * float(freqs[-1]))
    edges = _NOTCH_RANGE_HZ[0] * 2.0 ** (np.arange(0, 6.0 * math.log2(top / _NOTCH_RANGE_HZ[0]) + 1) / 6.0)
    if edges.size < 2:
        return 0.0, 0.0
    idx = np.searchsorted(freqs, edges)
    total = np.abs(fx + fy) ** 2
    parts = np.abs(fx) ** 2 + np.abs(fy) ** 2
    csum_t = np.concatenate(([0.0], np.cumsum(total)))
    csum_p = np.concatenate(([0.0], np.cumsum(parts)))
    band_t = csum_t[idx[1:]] - csum_t[idx[:-1]]
    band_p = csum_p[idx[1:]] - csum_p[idx[:-1]]
    if not np.any(band_p > 0.0):
        return 0.0, 0.0
    used = band_p >= band_p.max() * 10.0 ** (-_NOTCH_BAND_RANGE_DB / 10.0)
    ratio = np.where(used, band_t / np.where(band_p > 0.0, band_p, 1.0), np.inf)
    k = int(np.argmin(ratio))
    return min(0.0, _ratio_db(float(band_t[k]), float(band_p[k]))), float(math.sqrt(edges[k] * edges[k + 1]))


def _ratio_db(num: float, den: float) -> float:
    if den <= 0.0:
        return 0.0
    ratio = num / den
    if ratio <= 0.0:
        return _CANCELLATION_FLOOR_DB
    return max(10.0 * math.log10(ratio), _CANCELLATION_FLOOR_DB)


def excerpt_windows(
    active_a: np.ndarray, active_b: np.ndarray, frame_s: float, *, seconds: float = 10.0
) -> list[tuple[float, float]]:
    """Where two tracks both play: windows for :func:`pair_alignment` to read excerpts from.

    Parameters
    ----------
    active_a, active_b : np.ndarray
        Boolean per-frame activity of each track (e.g. ``TrackFeatures.active``); if the
        lengths differ, the frames past the shorter one count as inactive.
    frame_s : float
        Frame step, s, > 0.
    seconds : float
        Total length wanted, s, > 0.

    Returns
    -------
    list of (start_s, end_s)
        Runs of frames where both are active, longest first (earlier first among equals),
        until ``seconds`` are gathered; a run longer than what is still needed contributes
        its middle part. Empty when the tracks never play together.

    Raises
    ------
    InvalidParameterError
        If ``frame_s`` or ``seconds`` is not positive or an array is not 1-D.

    Examples
    --------
    >>> a = np.array([1, 1, 1, 1, 0, 1, 1], dtype=bool)
    >>> excerpt_windows(a, np.ones(7, dtype=bool), 1.0, seconds=5.0)
    [(0.0, 4.0), (5.0, 6.0)]
    """
    if not (math.isfinite(frame_s) and frame_s > 0.0):
        raise InvalidParameterError(f"frame_s must be > 0, got {frame_s}", code="parameter.frame_s")
    if not (math.isfinite(seconds) and seconds > 0.0):
        raise InvalidParameterError(f"seconds must be > 0, got {seconds}", code="parameter.seconds")
    pa, pb = np.asarray(active_a, dtype=bool), np.asarray(active_b, dtype=bool)
    if pa.ndim != 1 or pb.ndim != 1:
        raise InvalidParameterError("activity arrays must be 1-D", code="parameter.activity")
    n = min(pa.size, pb.size)
    s, e = _runs(pa[:n] & pb[:n])
    order = sorted(range(s.size), key=lambda i: (-(e[i] - s[i]), s[i]))
    out: list[tuple[float, float]] = []
    need = int(math.floor(seconds / frame_s + 1e-9))
    for i in order:
        if need <= 0:
            break
        length = int(e[i] - s[i])
        take = min(length, need)
        start = int(s[i]) + (length - take) // 2
        out.append((start * frame_s, (start + take) * frame_s))
        need -= take
    return out
