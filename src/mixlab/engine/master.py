"""Mastering: analyse a stereo mix, decide a MasterPlan, render it to every target exactly.

The flow (every stage streamed in blocks, so a 60-minute mix stays within bounded memory):

1. :func:`analyze_source` meters the mix (and the reference, if any) in one pass.
2. :func:`decide_master` turns the analysis, the tonal target (reference or genre profile) and
   the platform target into a :class:`~mixlab.engine.plan.Plan`; values the user set are kept.
3. :func:`render_stage` applies the shared processing (matching EQ, multiband dynamics, band
   width) once and keeps the result with its true-peak envelope in a :class:`BlockStore`.
4. :func:`finish_target` runs only what differs per target — drive and the true-peak
   limiter — metering the output and correcting until loudness and true peak hold, then
   writes each requested format, decoding lossy files to check their true peak too.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixlab.analysis.loudness import HopEnergyAccumulator, KWeightingFilter, LoudnessMeter, loudness_from_hops
from mixlab.analysis.spectrum import SpectrumMeter
from mixlab.analysis.spectrum import band_power, third_octave_bands
from mixlab.analysis.truepeak import TruePeakMeter
from mixlab.audio import io as audio_io
from mixlab.audio.resample import StreamResampler
from mixlab.dsp.crossover import BandSplitter
from mixlab.dsp.dynamics import FRAME_SAMPLES, Compressor, CompressorSettings
from mixlab.dsp.fir import StreamingFIR, design_curve_fir
from mixlab.dsp.limiter import LimiterGain, TruePeakEnvelope, TruePeakLimiter
from mixlab.dsp.stream import run_ahead, run_compensated
from mixlab.engine.plan import Plan
from mixlab.engine.profiles import get_genre, genre_band_target_db, genre_tolerance_db
from mixlab.engine.targets import PlatformTarget
from mixlab.errors import InvalidAudioError, InvalidParameterError, ProcessingError

log = logging.getLogger(__name__)

MASTER_SCHEMA = "mixlab.masterplan/1"
BLOCK_SIZE = 65536
#: Stage results up to this size stay in memory; larger ones spill to a temporary file.
MEMORY_STORE_BYTES = 400 * 1024 * 1024
#: Below this integrated loudness a file is treated as silent: nothing to master.
SILENCE_LUFS = -70.0
LOUDNESS_TOLERANCE_LU = 0.02
LOSSY_LOUDNESS_TOLERANCE_LU = 0.1
CROSSOVERS_HZ = (120.0, 2500.0)
#: Targets finished at once (threads; NumPy and SciPy release the GIL in the heavy loops).
MAX_WORKERS = int(os.environ.get("MIXLAB_WORKERS", "2"))
BAND_NAMES = ("low", "mid", "high")

Progress = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class Levels:
    """The level figures mastering decides from (a light subset of the analysis report).

    ``peak_dbfs`` is the sample peak: the decisions only need it within a fraction of a dB,
    and the output's true peak is measured exactly anyway.
    """

    sample_rate: int
    num_channels: int
    duration_s: float
    integrated_lufs: float
    lra_lu: float
    peak_dbfs: float

    @property
    def plr_db(self) -> float:
        return self.peak_dbfs - self.integrated_lufs


@dataclass(frozen=True)
class SourceAnalysis:
    """What mastering needs to know about a mix or a reference."""

    path: str
    report: Levels
    freqs_hz: np.ndarray
    power: np.ndarray  # mean power spectral density over channels (linear, per bin)
    mid_power: np.ndarray
    side_power: np.ndarray
    band_loud_db: tuple[float, float, float]  # 90th percentile of 100 ms band energies, dB

    @property
    def sample_rate(self) -> int:
        return self.report.sample_rate

    @property
    def num_channels(self) -> int:
        return self.report.num_channels


class _BandFrames:
    """Energy of the low/mid/high bands in 100 ms frames, for the compressors' thresholds."""

    def __init__(self, sample_rate: int) -> None:
        self.hop = int(sample_rate * 0.1)
        freqs = np.fft.rfftfreq(self.hop, 1.0 / sample_rate)
        edges = (0.0, *CROSSOVERS_HZ, sample_rate)
        self.masks = [(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges, edges[1:])]
        self.carry: np.ndarray | None = None
        self.frames: list[np.ndarray] = []

    def push(self, block: np.ndarray) -> None:
        data = block if self.carry is None else np.concatenate([self.carry, block], axis=1)
        num = data.shape[1] // self.hop
        if num:
            frames = data[:, : num * self.hop].reshape(data.shape[0], num, self.hop)
            spectrum = np.abs(np.fft.rfft(frames, axis=2)) ** 2
            # Parseval: mean square of the band-limited signal, averaged over channels.
            scale = 2.0 / self.hop**2
            energies = np.stack([spectrum[:, :, m].sum(axis=2).mean(axis=0) * scale for m in self.masks], axis=1)
            self.frames.append(energies)
        self.carry = data[:, num * self.hop :]

    def loud_db(self) -> tuple[float, float, float]:
        if not self.frames:
            return (-120.0, -120.0, -120.0)
        energies = np.concatenate(self.frames, axis=0)
        levels = 10.0 * np.log10(np.maximum(energies, 1e-12))
        # Frames of the whole mix that are not silence decide the percentile.
        total = 10.0 * np.log10(np.maximum(energies.sum(axis=1), 1e-12))
        active = levels[total > total.max() - 40.0] if total.size else levels
        return tuple(float(np.percentile(active[:, b], 90)) for b in range(3))  # type: ignore[return-value]


def analyze_source(path: str | Path, *, max_duration_s: float | None = None, progress: Progress = _no_progress) -> SourceAnalysis:
    """Meter a file in one streamed pass: loudness, sample peak, spectrum (with mid/side), band dynamics."""
    info, blocks = audio_io.open_blocks(path, block_size=BLOCK_SIZE, max_duration_s=max_duration_s)
    loudness = LoudnessMeter(info.sample_rate, info.num_channels)
    spectrum = SpectrumMeter(info.sample_rate, info.num_channels)
    bands = _BandFrames(info.sample_rate)
    peak = 0.0
    done = 0
    for block in blocks:
        loudness.push(block)
        spectrum.push(block)
        bands.push(block)
        peak = max(peak, float(np.abs(block).max(initial=0.0)))
        done += block.shape[1]
        progress("analyse", done / max(info.num_frames, 1))
    spec = spectrum.result()
    if spec.cross_psd_per_hz is not None:
        left, right = spec.channel_psd_per_hz
        mid = (left + right + 2.0 * spec.cross_psd_per_hz) / 4.0
        side = np.maximum((left + right - 2.0 * spec.cross_psd_per_hz) / 4.0, 0.0)
    else:
        mid, side = spec.psd_per_hz, np.zeros_like(spec.psd_per_hz)
    loud = loudness.result()
    levels = Levels(
        sample_rate=info.sample_rate,
        num_channels=info.num_channels,
        duration_s=info.duration_s,
        integrated_lufs=float(loud.integrated_lufs),
        lra_lu=float(loud.lra_lu),
        peak_dbfs=20.0 * math.log10(max(peak, 1e-12)),
    )
    return SourceAnalysis(
        path=str(path),
        report=levels,
        freqs_hz=np.asarray(spec.freqs_hz),
        power=np.asarray(spec.psd_per_hz),
        mid_power=mid,
        side_power=side,
        band_loud_db=bands.loud_db(),
    )


def check_masterable(analysis: SourceAnalysis) -> None:
    loudness = analysis.report.integrated_lufs
    if loudness is None or not math.isfinite(loudness) or loudness < SILENCE_LUFS:
        raise InvalidAudioError(
            f"{analysis.path}: is silent (or nearly: below {SILENCE_LUFS:g} LUFS), so there is nothing to master. "
            "Check that you exported the right file and that the mix is not muted.",
            code="audio.silent",
            file=analysis.path,
        )


# ---------------------------------------------------------------------------------------------
# Decisions


def _band_power(freqs_hz: np.ndarray, power: np.ndarray, lo: float, hi: float) -> float:
    return float(band_power(freqs_hz, power, lo, hi)) + 1e-20


def _band_db(freqs_hz: np.ndarray, power: np.ndarray, bands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    _, lower, upper = bands
    return 10.0 * np.log10(np.asarray(band_power(freqs_hz, power, lower, upper)) + 1e-20)


def _normalise(levels_db: np.ndarray, centres_hz: np.ndarray) -> np.ndarray:
    """Shift a band curve so its mean over 100 Hz-5 kHz is 0 dB (shape only)."""
    mid = (centres_hz >= 100.0) & (centres_hz <= 5000.0)
    return levels_db - float(np.mean(levels_db[mid]))


def _smooth_octaves(centres_hz: np.ndarray, values: np.ndarray, fraction: float) -> np.ndarray:
    """Gaussian smoothing over log2 frequency with a full width of ``fraction`` octaves."""
    if fraction <= 0:
        return values.copy()
    octaves = np.log2(centres_hz)
    sigma = fraction / 2.355
    weights = np.exp(-0.5 * ((octaves[:, None] - octaves[None, :]) / sigma) ** 2)
    return (weights @ values) / weights.sum(axis=1)


def _eq_bands(sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1/3-octave bands (centre, lower, upper) the EQ works on: those well under Nyquist."""
    _, centre, lower, upper = third_octave_bands()
    keep = upper < 0.49 * sample_rate
    return centre[keep], lower[keep], upper[keep]


def desired_eq_db(source: SourceAnalysis, *, reference: SourceAnalysis | None, genre_name: str | None,
                  amount: float, max_db: float, smoothing_octaves: float) -> tuple[tuple[np.ndarray, ...], np.ndarray, str]:
    """The correction (dB per 1/3-octave band) that moves the mix toward its tonal target."""
    bands = _eq_bands(source.sample_rate)
    centres = bands[0]
    current = _normalise(_band_db(source.freqs_hz, source.power, bands), centres)
    if reference is not None:
        target = _normalise(_band_db(reference.freqs_hz, reference.power, bands), centres)
        diff = target - current
        why = f"matches the tonal balance of the reference '{Path(reference.path).name}'"
    else:
        genre = get_genre(genre_name)
        target = _normalise(genre_band_target_db(genre, centres), centres)
        diff = target - current
        tolerance = genre_tolerance_db(genre, centres)
        # Inside the genre's corridor nothing is corrected; beyond it, only the excess.
        diff = np.sign(diff) * np.maximum(np.abs(diff) - tolerance, 0.0)
        why = f"brings bands outside the {genre.label} corridor back toward it"
    diff = _smooth_octaves(centres, diff, smoothing_octaves)
    # Never boost rumble below 30 Hz or hiss above 16 kHz.
    edge = (centres < 30.0) | (centres > 16000.0)
    diff = np.where(edge, np.minimum(diff, 0.0), diff)
    diff = np.clip(diff * amount, -max_db, max_db)
    return bands, diff, why


def fit_eq_curve(source: SourceAnalysis, bands: tuple[np.ndarray, ...], desired_db: np.ndarray, *, iterations: int = 3) -> np.ndarray:
    """Anchor gains whose FIR moves each band's energy (on this mix's spectrum) by ``desired_db``.

    A curve's neighbouring bands leak into each other; predicting the band energies from the
    mix's own spectrum through the designed filter and correcting the anchors a few times
    makes the achieved change equal the wanted one.
    """
    sample_rate = source.sample_rate
    centres = bands[0]
    before = _band_db(source.freqs_hz, source.power, bands)
    anchors = desired_db.copy()
    for _ in range(iterations):
        taps = design_curve_fir(centres, anchors, sample_rate)
        # The spectrum's bins are an rfft grid: the filter's response there is an FFT away.
        fft_size = 2 * (source.freqs_hz.size - 1)
        response = np.abs(np.fft.rfft(taps, max(fft_size, taps.size)))
        if response.size != source.freqs_hz.size:
            response = np.interp(source.freqs_hz, np.fft.rfftfreq(max(fft_size, taps.size), 1.0 / sample_rate), response)
        filtered = source.power * response**2
        achieved = _band_db(source.freqs_hz, filtered, bands) - before
        anchors = np.clip(anchors + (desired_db - achieved), desired_db - 6.0, desired_db + 6.0)
    return anchors


def decide_master(
    source: SourceAnalysis,
    target: PlatformTarget,
    *,
    reference: SourceAnalysis | None = None,
    genre: str | None = None,
    plan: Plan | None = None,
) -> Plan:
    """Decide every mastering parameter, keeping those the user set or locked in ``plan``."""
    plan = plan.copy() if plan is not None else Plan(schema=MASTER_SCHEMA)
    rep = source.report
    plan.context["input"] = {
        "file": Path(source.path).name,
        "sample_rate": rep.sample_rate,
        "num_channels": rep.num_channels,
        "duration_s": round(rep.duration_s, 3),
        "integrated_lufs": _round(rep.integrated_lufs),
        "peak_dbfs": _round(rep.peak_dbfs),
        "lra_lu": _round(rep.lra_lu),
        "plr_db": _round(rep.plr_db),
    }
    if reference is not None:
        plan.context["reference"] = {
            "file": Path(reference.path).name,
            "integrated_lufs": _round(reference.report.integrated_lufs),
            "peak_dbfs": _round(reference.report.peak_dbfs),
            "plr_db": _round(reference.report.plr_db),
        }
    plan.context["genre"] = get_genre(genre).name
    _decide_loudness(plan, source, target, reference)
    _decide_eq(plan, source, reference, genre)
    _decide_dynamics(plan, source)
    _decide_width(plan, source, reference)
    _decide_limiter(plan)
    return plan


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _decide_loudness(plan: Plan, source: SourceAnalysis, target: PlatformTarget, reference: SourceAnalysis | None) -> None:
    plan.context["target"] = {"name": target.name, "label": target.label, "source": target.source}
    if reference is not None and target.name == "reference":
        lufs = float(reference.report.integrated_lufs)
        plan.decide("loudness", "target_lufs", round(lufs, 2), "as loud as the reference")
    else:
        plan.decide("loudness", "target_lufs", target.target_lufs, f"{target.label} plays music at {target.target_lufs:g} LUFS")
    plan.decide("loudness", "ceiling_dbtp", target.ceiling_dbtp,
                f"{target.label}: true peak at most {target.ceiling_dbtp:g} dBTP, so lossy encoding does not clip")


def _decide_eq(plan: Plan, source: SourceAnalysis, reference: SourceAnalysis | None, genre: str | None) -> None:
    if reference is not None:
        amount = plan.decide("eq", "amount", 1.0, "full match to the reference; lower it to keep more of your own tone")
        max_db = plan.decide("eq", "max_db", 9.0, "a reference is a deliberate choice: allow corrections up to 9 dB")
        smoothing = plan.decide("eq", "smoothing_octaves", 1 / 3, "1/3-octave detail: the resolution at which tonal balance is heard")
    else:
        amount = plan.decide("eq", "amount", 0.7, "genre targets are averages: correct 70 % of the way")
        max_db = plan.decide("eq", "max_db", 4.0, "a genre target only nudges: at most 4 dB per band")
        smoothing = plan.decide("eq", "smoothing_octaves", 1.0, "broad, one-octave moves: no surgical EQ at the mastering stage")
    _check_range("eq.amount", amount, 0.0, 1.0)
    _check_range("eq.max_db", max_db, 0.0, 18.0)
    bands, desired, why = desired_eq_db(
        source, reference=reference, genre_name=genre, amount=float(amount), max_db=float(max_db), smoothing_octaves=float(smoothing)
    )
    centres = bands[0]
    plan.decide("eq", "subsonic_cut_hz", 20.0, "removes DC offset and sub-20 Hz rumble: inaudible, but they eat headroom "
                "and make the limiter work")
    if source.sample_rate < 88200:
        cut = round(0.45 * source.sample_rate, -1)
        plan.decide("eq", "ultrasonic_cut_hz", cut, f"content above {cut / 1000:.1f} kHz is inaudible but its inter-sample "
                    "peaks slip past true-peak meters and lossy encoders; a steep linear-phase cut removes it")
    else:
        plan.decide("eq", "ultrasonic_cut_hz", None, "at this sample rate the true-peak limiter sees the whole audio band: no cut")
    curve = plan.param("eq", "curve")
    if curve is None or not curve.is_kept:
        biggest = int(np.argmax(np.abs(desired)))
        anchors = fit_eq_curve(source, bands, desired) if np.any(np.abs(desired) > 0.05) else desired
        detail = f"largest move {desired[biggest]:+.1f} dB at {centres[biggest]:.0f} Hz" if np.any(np.abs(desired) > 0.05) else "no band needs a change"
        plan.decide("eq", "curve", {"freqs_hz": [round(float(f), 1) for f in centres],
                                    "gains_db": [round(float(g), 2) for g in anchors]}, f"{why}; {detail}")


def _decide_dynamics(plan: Plan, source: SourceAnalysis) -> None:
    rep = source.report
    target_lufs = float(plan.get("loudness", "target_lufs"))
    ceiling = float(plan.get("loudness", "ceiling_dbtp"))
    # Inter-sample peaks of a mix sit up to about half a dB over its sample peak.
    peak_at_target = float(rep.peak_dbfs) + 0.5 + (target_lufs - float(rep.integrated_lufs))
    excess = peak_at_target - ceiling
    plan.context["limiting_needed_db"] = round(excess, 2)
    needed = excess > 4.0
    enabled = plan.decide(
        "dynamics", "enabled", bool(needed),
        f"peaks would need {excess:.1f} dB of limiting at {target_lufs:g} LUFS: "
        + ("share the work with gentle multiband compression so the limiter need not pump" if needed
           else "the limiter alone handles that cleanly, no compression added"),
    )
    plan.decide("dynamics", "crossovers_hz", list(CROSSOVERS_HZ), "low end, body, top: each compressed on its own so a kick does not duck the cymbals")
    strength = float(np.clip((excess - 4.0) / 8.0, 0.0, 1.0))
    ratio = round(1.5 + strength, 2)
    times = {"low": (20.0, 150.0, 15.0), "mid": (10.0, 100.0, 8.0), "high": (5.0, 60.0, 5.0)}
    for name, loud_db in zip(BAND_NAMES, source.band_loud_db):
        attack, release, detector = times[name]
        # Thresholds sit at the band's loud passages (90th percentile of 100 ms energies): the
        # compressors shave the peaks that would otherwise hit the limiter, and leave the song's
        # sections (its loudness range) alone.
        plan.decide("dynamics", name, {
            "threshold_db": round(loud_db, 1), "ratio": ratio, "attack_ms": attack,
            "release_ms": release, "knee_db": 6.0, "detector_ms": detector,
        }, f"{ratio:g}:1 on peaks above the band's loud passages ({loud_db:.1f} dB, 90th percentile); "
           "the song's quiet and loud sections keep their contrast")
    if enabled:
        _check_range("dynamics.crossovers_hz", min(plan.get("dynamics", "crossovers_hz")), 20.0, 20000.0)


def _decide_width(plan: Plan, source: SourceAnalysis, reference: SourceAnalysis | None) -> None:
    f, mid, side = source.freqs_hz, source.mid_power, source.side_power
    if source.num_channels < 2:
        for name in BAND_NAMES:
            plan.decide("width", name, 1.0, "mono input: no stereo width to change")
        return
    low_ratio_db = 10 * math.log10(_band_power(f, side, 20, CROSSOVERS_HZ[0]) / _band_power(f, mid, 20, CROSSOVERS_HZ[0]))
    if low_ratio_db > -15.0:
        plan.decide("width", "low", 0.0, f"side energy below {CROSSOVERS_HZ[0]:g} Hz is {low_ratio_db:.0f} dB under the mid: "
                    "folded to mono so the low end holds up in mono and on club systems")
    else:
        plan.decide("width", "low", 1.0, f"low end already nearly mono (side {low_ratio_db:.0f} dB under mid)")
    for name, lo, hi in (("mid", CROSSOVERS_HZ[0], CROSSOVERS_HZ[1]), ("high", CROSSOVERS_HZ[1], 20000.0)):
        ratio_in = _band_power(f, side, lo, hi) / _band_power(f, mid, lo, hi)
        if reference is not None and reference.num_channels == 2:
            rf = reference.freqs_hz
            ratio_ref = _band_power(rf, reference.side_power, lo, hi) / _band_power(rf, reference.mid_power, lo, hi)
            width = float(np.clip(math.sqrt(ratio_ref / ratio_in), 0.7, 1.4))
            plan.decide("width", name, round(width, 2), f"side/mid balance of the reference's {name} band "
                        f"({10 * math.log10(ratio_ref):.1f} dB vs {10 * math.log10(ratio_in):.1f} dB here), limited to 0.7-1.4")
        else:
            plan.decide("width", name, 1.0, "stereo image kept as mixed")


def _decide_limiter(plan: Plan) -> None:
    plan.decide("limiter", "lookahead_ms", 5.0, "5 ms look-ahead: the gain eases in before a peak instead of clipping it")
    plan.decide("limiter", "release_ms", 120.0, "120 ms release: slow enough not to distort bass, fast enough not to pump")


def _check_range(name: str, value: Any, lo: float, hi: float) -> None:
    try:
        ok = lo <= float(value) <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidParameterError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}", code="plan.out_of_range", parameter=name)


# ---------------------------------------------------------------------------------------------
# Rendering


class BlockStore:
    """Holds a processed stream: in memory when small, else in a temporary raw float32 file."""

    def __init__(self, num_rows: int, *, expected_samples: int, tmp_dir: str | None = None) -> None:
        self.num_rows = num_rows
        self.num_samples = 0
        self._blocks: list[np.ndarray] = []
        self._file = None
        if expected_samples * num_rows * 4 > MEMORY_STORE_BYTES:
            self._file = tempfile.TemporaryFile(dir=tmp_dir, prefix="mixlab-stage-")
        self._sizes: list[int] = []

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32)
        self.num_samples += block.shape[1]
        if self._file is None:
            self._blocks.append(block)
        else:
            self._file.write(block.tobytes())
            self._sizes.append(block.shape[1])

    def blocks(self) -> Iterator[np.ndarray]:
        """The stored blocks in order; several readers (threads) may iterate at once."""
        if self._file is None:
            yield from self._blocks
            return
        self._file.flush()
        fd = self._file.fileno()
        offset = 0
        for size in self._sizes:
            length = size * self.num_rows * 4
            raw = os.pread(fd, length, offset)
            offset += length
            yield np.frombuffer(raw, dtype=np.float32).reshape(self.num_rows, size)

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        self._blocks = []
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class Stage:
    """The shared processing of one plan: its output audio plus the true-peak envelope row."""

    store: BlockStore
    sample_rate: int
    num_channels: int
    loudness_lufs: float
    _prediction: list[np.ndarray] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def prediction_step(self) -> int:
        return PREDICTION_DECIMATION if self.sample_rate % PREDICTION_DECIMATION == 0 else 1

    def _decimated(self) -> Iterator[np.ndarray]:
        """Envelope maxima and power means over ``prediction_step`` samples, block by block."""
        ch, step = self.num_channels, self.prediction_step
        for block in self.store.blocks():
            rows = block[ch:]
            pad = (-rows.shape[1]) % step
            if pad:
                rows = np.concatenate([rows, np.stack([np.full(pad, -240.0), np.zeros(pad)])], axis=1)
            grouped = rows.reshape(2, -1, step)
            yield np.stack([grouped[0].max(axis=1), grouped[1].astype(np.float64).mean(axis=1)])

    def prediction_rows(self) -> Iterable[np.ndarray]:
        """The decimated rows the loudness prediction runs on; kept in memory when the stage is."""
        if self.store.on_disk:
            return self._decimated()
        with self._lock:
            if self._prediction is None:
                self._prediction = list(self._decimated())
        return self._prediction


def _eq_points(plan: Plan, sample_rate: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The EQ curve's anchors (Hz, dB) with the ultrasonic cut added; and whether it is flat."""
    curve = plan.get("eq", "curve")
    freqs = np.asarray(curve["freqs_hz"], dtype=np.float64)
    gains = np.asarray(curve["gains_db"], dtype=np.float64)
    keep = freqs < 0.45 * sample_rate
    freqs, gains = freqs[keep], gains[keep]
    flat = not np.any(np.abs(gains) > 0.01)
    sub_hz = plan.param("eq", "subsonic_cut_hz")
    if sub_hz is not None and sub_hz.value:
        sub = float(sub_hz.value)
        _check_range("eq.subsonic_cut_hz", sub, 10.0, 40.0)
        above = freqs > sub
        hold = float(gains[above][0]) if above.any() else 0.0
        freqs = np.concatenate([[sub / 4, sub], freqs[above]])
        gains = np.concatenate([[-60.0, hold], gains[above]])
        flat = False
    cut_hz = plan.get("eq", "ultrasonic_cut_hz")
    if cut_hz:
        cut_hz = float(cut_hz)
        _check_range("eq.ultrasonic_cut_hz", cut_hz, 10000.0, 0.49 * sample_rate)
        below = freqs < cut_hz
        hold = float(gains[below][-1]) if below.any() else 0.0
        freqs = np.concatenate([freqs[below], [cut_hz, min(cut_hz * 1.04, 0.495 * sample_rate)]])
        gains = np.concatenate([gains[below], [hold, -60.0]])
        flat = False
    return freqs, gains, flat


def _side_points(freqs: np.ndarray, gains: np.ndarray, widths: list[float], crossovers_hz: list[float],
                 sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The side signal's curve: the EQ plus each band's width (as gain), eased over 2/3 octave."""
    top = float(freqs[-1]) if freqs.size else 0.45 * sample_rate
    grid = np.geomspace(15.0, top, 240)
    eq_db = np.interp(np.log(grid), np.log(freqs), gains) if freqs.size else np.zeros_like(grid)
    width = np.full_like(grid, widths[0])
    for fc, w_below, w_above in zip(crossovers_hz, widths, widths[1:]):
        t = np.clip((np.log2(grid / fc) + 1 / 3) / (2 / 3), 0.0, 1.0)
        width = np.where(grid >= fc / 2 ** (1 / 3), w_below + (w_above - w_below) * t, width)
    return grid, eq_db + 20.0 * np.log10(np.maximum(width, 1e-3))


def _stage_processor(plan: Plan, sample_rate: int, num_channels: int) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """The shared chain as one block function: EQ and band widths (linear-phase FIR, mid/side),
    then, where decided, multiband compression."""
    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    latency = 0
    freqs, gains, flat = _eq_points(plan, sample_rate)
    widths = [float(plan.get("width", name)) for name in BAND_NAMES]
    for w in widths:
        _check_range("width", w, 0.0, 2.0)
    crossovers = [float(f) for f in plan.get("dynamics", "crossovers_hz")]
    if num_channels == 2 and any(w != 1.0 for w in widths):
        # Mid and side through linear-phase filters of one length: they stay aligned, and the
        # width costs no crossover (no phase shift) at all.
        mid_fir = StreamingFIR(design_curve_fir(freqs, gains, sample_rate), 1)
        side_fir = StreamingFIR(design_curve_fir(*_side_points(freqs, gains, widths, crossovers, sample_rate), sample_rate), 1)

        def eq_width_step(block: np.ndarray) -> np.ndarray:
            mid = mid_fir.process(0.5 * (block[:1] + block[1:]))
            side = side_fir.process(0.5 * (block[:1] - block[1:]))
            return np.concatenate([mid + side, mid - side])

        steps.append(eq_width_step)
        latency += mid_fir.latency_samples
    elif not flat:
        fir = StreamingFIR(design_curve_fir(freqs, gains, sample_rate), num_channels)
        steps.append(fir.process)
        latency += fir.latency_samples
    if bool(plan.get("dynamics", "enabled")):
        splitter = BandSplitter(crossovers, sample_rate, num_channels)
        compressors = [Compressor(CompressorSettings(**plan.get("dynamics", name)), sample_rate) for name in BAND_NAMES]

        def bands_step(block: np.ndarray) -> np.ndarray:
            out = np.zeros(block.shape, dtype=np.float64)
            for band, comp in zip(splitter.process(block), compressors):
                out += comp.process(band)
            return out

        steps.append(bands_step)

    def chain(block: np.ndarray) -> np.ndarray:
        out = block
        for step in steps:
            out = step(out)
        return np.asarray(out, dtype=np.float32)

    return chain, latency


def render_stage(path: str | Path, plan: Plan, *, max_duration_s: float | None = None,
                 progress: Progress = _no_progress, tmp_dir: str | None = None) -> Stage:
    """Apply the plan's shared processing to the file; keep what every target's limiter needs.

    The store's rows are the processed audio, its true-peak envelope (dB) and its K-weighted
    power (BS.1770, summed over channels), all aligned sample by sample.
    """
    info, blocks = audio_io.open_blocks(path, block_size=BLOCK_SIZE, max_duration_s=max_duration_s)
    sr, ch = info.sample_rate, info.num_channels
    chain, chain_latency = _stage_processor(plan, sr, ch)
    detector = TruePeakEnvelope(sr, ch)
    k_filter = KWeightingFilter(sr, ch)
    store = BlockStore(ch + 2, expected_samples=info.num_frames, tmp_dir=tmp_dir)
    hops = HopEnergyAccumulator(sr)
    done = 0

    def source() -> Iterator[np.ndarray]:
        nonlocal done
        for block in blocks:
            done += block.shape[1]
            progress("process", done / max(info.num_frames, 1))
            yield block

    def with_power(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            weighted = k_filter.process(block)
            yield np.concatenate([block, np.einsum("ij,ij->j", weighted, weighted)[np.newaxis, :]])

    # The chain (EQ, compressors) and the K-weighting run a block ahead in a second thread
    # while this one detects peaks.
    processed = run_ahead(with_power(
        run_compensated(source(), chain, latency_samples=chain_latency, block_multiple=FRAME_SAMPLES)))
    fifo = np.zeros((ch + 1, detector.latency_samples))

    def with_envelope(block: np.ndarray) -> np.ndarray:
        # The envelope comes out delayed by the detector: delay audio and power as much.
        nonlocal fifo
        data = np.concatenate([fifo, block], axis=1)
        n = block.shape[1]
        fifo = data[:, n:]
        return np.concatenate([data[:ch, :n], detector.process(block[:ch]), data[ch:, :n]])

    for block in run_compensated(processed, with_envelope, latency_samples=detector.latency_samples):
        store.append(block)
        hops.push_power(block[ch + 1].astype(np.float64))
    sums, counts = hops.hop_sums()
    loudness = loudness_from_hops(sums, counts, duration_s=hops.num_samples / sr).integrated_lufs
    return Stage(store=store, sample_rate=sr, num_channels=ch, loudness_lufs=float(loudness))


@dataclass(frozen=True)
class OutputSpec:
    path: Path
    bit_depth: str = "24"


@dataclass
class TargetResult:
    target: PlatformTarget
    plan: Plan
    outputs: list[dict[str, Any]] = field(default_factory=list)
    iterations: int = 0


def _limited_blocks(stage: Stage, *, drive_db: float, ceiling_dbtp: float, lookahead_ms: float,
                    release_ms: float) -> Iterator[np.ndarray]:
    ch = stage.num_channels
    limiter = TruePeakLimiter(ceiling_dbtp, stage.sample_rate, ch, lookahead_ms=lookahead_ms,
                              release_ms=release_ms, external_envelope=True, drive_db=drive_db)
    rows = (block[: ch + 1] for block in stage.store.blocks())
    yield from run_compensated(rows, limiter.process, latency_samples=limiter.latency_samples)


#: The loudness prediction runs the limiter's gain at a quarter of the sample rate, on the
#: envelope's maxima and the power's means over four samples: the gain moves over
#: milliseconds, so this changes the predicted loudness by thousandths of an LU, at a
#: quarter of the cost. (The written master is metered exactly all the same.)
PREDICTION_DECIMATION = 4


def _predict_loudness(stage: Stage, *, drive_db: float, ceiling_dbtp: float, lookahead_ms: float,
                      release_ms: float) -> float:
    """Integrated loudness the limiter would give at ``drive_db``, without touching the audio.

    The output's K-weighted power is the stage's K-weighted power times the squared gain
    (the gain moves slowly next to the K filter's response), summed in BS.1770's 100 ms hops.
    """
    rate = stage.sample_rate // stage.prediction_step
    gain = LimiterGain(ceiling_dbtp, rate, lookahead_ms=lookahead_ms, release_ms=release_ms, drive_db=drive_db)
    delay = np.zeros(gain.latency_samples)

    def weighted_power(block: np.ndarray) -> np.ndarray:
        nonlocal delay
        g = gain.process(block[:1])[0]
        power = np.concatenate([delay, block[1]])
        delay = power[block.shape[1] :]
        return (power[: block.shape[1]] * g * g)[np.newaxis, :]

    hops = HopEnergyAccumulator(rate)
    for block in run_compensated(stage.prediction_rows(), weighted_power, latency_samples=gain.latency_samples):
        hops.push_power(block[0])
    sums, counts = hops.hop_sums()
    return float(loudness_from_hops(sums, counts, duration_s=hops.num_samples / rate).integrated_lufs)


def _measure(blocks: Iterable[np.ndarray], sample_rate: int, num_channels: int) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a stream, BS.1770-4."""
    loud = LoudnessMeter(sample_rate, num_channels)
    tp = TruePeakMeter(sample_rate, num_channels)
    for block in blocks:
        loud.push(block)
        tp.push(block)
    return float(loud.result().integrated_lufs), float(tp.result().true_peak_dbtp)


def _solve_drive(stage: Stage, *, target_lufs: float, drive_db: float, ceiling_dbtp: float, lookahead_ms: float,
                 release_ms: float, tolerance_lu: float = 0.01, max_iterations: int = 10) -> tuple[float, int]:
    """Drive (dB) at which the predicted loudness is within ``tolerance_lu`` of the target (secant steps)."""
    history: list[tuple[float, float]] = []
    for iteration in range(1, max_iterations + 1):
        loudness = _predict_loudness(stage, drive_db=drive_db, ceiling_dbtp=ceiling_dbtp,
                                     lookahead_ms=lookahead_ms, release_ms=release_ms)
        history.append((drive_db, loudness))
        error = target_lufs - loudness
        if abs(error) <= tolerance_lu:
            return drive_db, iteration
        drive_db += error / _slope(history)
    return drive_db, max_iterations


def finish_target(stage: Stage, plan: Plan, target: PlatformTarget, outputs: list[OutputSpec], *,
                  progress: Progress = _no_progress, max_tries: int = 6) -> TargetResult:
    """Solve drive and limiter ceiling so the output hits the target exactly, then write it.

    The drive is solved on the predicted loudness (cheap); the written output is metered
    (loudness and true peak, BS.1770-4) and, if it misses, corrected and written again.
    """
    target_lufs = float(plan.get("loudness", "target_lufs"))
    ceiling = float(plan.get("loudness", "ceiling_dbtp"))
    lookahead = float(plan.get("limiter", "lookahead_ms"))
    release = float(plan.get("limiter", "release_ms"))
    lossy = any(o.path.suffix.lower() == ".mp3" for o in outputs)
    internal_ceiling = ceiling - (0.6 if lossy else 0.1)
    drive = target_lufs - stage.loudness_lufs
    goal_lufs = target_lufs
    settings = dict(lookahead_ms=lookahead, release_ms=release)
    iterations = 0
    written: list[dict[str, Any]] = []
    for attempt in range(max_tries):
        progress(f"{target.name}: loudness", (attempt + 1) / max_tries)
        drive, used = _solve_drive(stage, target_lufs=goal_lufs, drive_db=drive, ceiling_dbtp=internal_ceiling, **settings)
        iterations += used
        written = []
        retry = False
        for spec in outputs:
            record = _write_and_check(stage, target, spec, drive=drive, ceiling=internal_ceiling, progress=progress, **settings)
            written.append(record)
            over = record["true_peak_dbtp"] - (ceiling - 0.01)
            miss = target_lufs - record["integrated_lufs"]
            # A lossy codec moves loudness by a few hundredths of an LU each time it encodes.
            tolerance = LOSSY_LOUDNESS_TOLERANCE_LU if record["format"] == "mp3" else LOUDNESS_TOLERANCE_LU
            if over > 0:
                internal_ceiling -= over + 0.05
                retry = True
            elif abs(miss) > tolerance:
                # The prediction is off by this much here: aim the solver past it.
                goal_lufs += miss
                retry = True
            if retry:
                for done in written:
                    Path(done["file"]).unlink(missing_ok=True)
                break
        if not retry:
            break
    else:
        last = written[-1] if written else {}
        raise ProcessingError(
            f"could not reach {target_lufs:g} LUFS under {ceiling:g} dBTP for {target.label} (last try: "
            f"{last.get('integrated_lufs')} LUFS, {last.get('true_peak_dbtp')} dBTP). Try a lower loudness target.",
            code="master.no_convergence", last=last,
        )
    for record in written:
        record.update(target_lufs=target_lufs, ceiling_dbtp=ceiling,
                      loudness_error_lu=round(record["integrated_lufs"] - target_lufs, 3))
    plan.decide("loudness", "drive_db", round(drive, 3), f"gain into the limiter that lands the master at {target_lufs:g} LUFS")
    plan.decide("limiter", "ceiling_dbtp", round(internal_ceiling, 3),
                f"set below the {ceiling:g} dBTP target so the {'decoded MP3' if lossy else 'output'} stays under it, measured")
    return TargetResult(target=target, plan=plan, outputs=written, iterations=iterations)


def _slope(history: list[tuple[float, float]]) -> float:
    """d(loudness)/d(drive), from the last two tries; limiting makes it less than 1."""
    if len(history) < 2:
        return 1.0
    (d0, l0), (d1, l1) = history[-2], history[-1]
    if abs(d1 - d0) < 1e-6:
        return 1.0
    return float(np.clip((l1 - l0) / (d1 - d0), 0.2, 1.2))


def refine_eq_to_reference(stage: Stage, plan: Plan, reference: SourceAnalysis, *, threshold_db: float = 0.5) -> bool:
    """Correct the EQ once by what the rendered master still misses of the reference's tone.

    Dynamics and limiting change the tonal balance (heavy limiting thins the low end); the
    first render's output, limited at its solved drive, is measured and the remaining
    difference, smoothed like the EQ, is added to the curve. Returns whether it changed.
    """
    curve = plan.param("eq", "curve")
    if curve is None or curve.is_kept:
        return False
    target_lufs = float(plan.get("loudness", "target_lufs"))
    settings = dict(lookahead_ms=float(plan.get("limiter", "lookahead_ms")), release_ms=float(plan.get("limiter", "release_ms")))
    ceiling = float(plan.get("loudness", "ceiling_dbtp")) - 0.1
    # Tone is what is measured here: the drive need only be close (a tenth of an LU).
    drive, _ = _solve_drive(stage, target_lufs=target_lufs, drive_db=target_lufs - stage.loudness_lufs,
                            ceiling_dbtp=ceiling, tolerance_lu=0.1, max_iterations=2, **settings)
    spectrum = SpectrumMeter(stage.sample_rate, stage.num_channels)
    for block in run_ahead(_limited_blocks(stage, drive_db=drive, ceiling_dbtp=ceiling, **settings)):
        spectrum.push(block)
    out = spectrum.result()
    bands = _eq_bands(stage.sample_rate)
    centres = bands[0]
    got = _normalise(_band_db(out.freqs_hz, out.psd_per_hz, bands), centres)
    want = _normalise(_band_db(reference.freqs_hz, reference.power, bands), centres)
    residual = _smooth_octaves(centres, want - got, float(plan.get("eq", "smoothing_octaves")))
    amount = float(plan.get("eq", "amount"))
    error_db = float(np.sqrt(np.mean((want - got)[(centres >= 40) & (centres <= 16000)] ** 2)))
    if error_db < threshold_db or amount <= 0:
        return False
    gains = np.asarray(curve.value["gains_db"], dtype=np.float64)
    limit = float(plan.get("eq", "max_db")) + 3.0
    edge = (centres < 30.0) | (centres > 16000.0)
    residual = np.where(edge, np.minimum(residual, 0.0), residual)
    new = np.clip(gains + amount * residual[: gains.size], -limit, limit)
    plan.decide("eq", "curve", dict(curve.value, gains_db=[round(float(g), 2) for g in new]),
                f"{curve.reason}; refined once on the rendered master, which still missed the reference by "
                f"{error_db:.1f} dB (RMS over 1/3 octaves) after dynamics and limiting")
    return True


def _tapped(blocks: Iterable[np.ndarray], sink: Callable[[np.ndarray], None]) -> Iterator[np.ndarray]:
    """``blocks`` unchanged, each also given to ``sink`` (in whichever thread iterates)."""
    for block in blocks:
        sink(block)
        yield block


def mp3_rate(sample_rate: int) -> int:
    """The MP3 sample rate an output at ``sample_rate`` is resampled to (itself when allowed)."""
    if sample_rate in audio_io.MP3_SAMPLE_RATES:
        return sample_rate
    return 48000 if sample_rate % 48000 == 0 or sample_rate < 44100 else 44100


def _resampled(blocks: Iterable[np.ndarray], in_rate: int, out_rate: int, num_channels: int) -> Iterator[np.ndarray]:
    resampler = StreamResampler(in_rate, out_rate, num_channels)
    for block in blocks:
        out = resampler.process(block)
        if out.shape[1]:
            yield out
    tail = resampler.flush()
    if tail.shape[1]:
        yield tail


def _write_and_check(stage: Stage, target: PlatformTarget, spec: OutputSpec, *, drive: float, ceiling: float,
                     lookahead_ms: float, release_ms: float, progress: Progress) -> dict[str, Any]:
    """Write one output while metering it; a lossy file is decoded and metered again.

    MP3 only exists at 32, 44.1 and 48 kHz: a high-rate master is resampled (said in the
    record), and the decoded MP3 is what gets checked.
    """
    sr, ch = stage.sample_rate, stage.num_channels
    progress(f"{target.name}: write {spec.path.name}", 1.0)
    lossy = spec.path.suffix.lower() == ".mp3"
    out_rate = mp3_rate(sr) if lossy else sr
    blocks: Iterable[np.ndarray] = _limited_blocks(stage, drive_db=drive, ceiling_dbtp=ceiling,
                                                   lookahead_ms=lookahead_ms, release_ms=release_ms)
    if out_rate != sr:
        blocks = _resampled(blocks, sr, out_rate, ch)
    # The limiter and the loudness meter run a block ahead in a second thread while this one
    # measures the true peak and encodes.
    loudness_meter = LoudnessMeter(out_rate, ch)
    true_peak_meter = TruePeakMeter(out_rate, ch)
    with audio_io.AudioWriter(spec.path, sample_rate=out_rate, num_channels=ch, bit_depth=spec.bit_depth) as writer:
        for block in run_ahead(_tapped(blocks, loudness_meter.push)):
            true_peak_meter.push(block)
            writer.write(block)
    loudness = loudness_meter.result().integrated_lufs
    peak = true_peak_meter.result().true_peak_dbtp
    if lossy:
        # Streamed, so a long MP3 is checked in bounded memory.
        loudness, peak = _measure(audio_io.iter_blocks(spec.path, block_size=BLOCK_SIZE), out_rate, ch)
    record = {
        "file": str(spec.path),
        "target": target.name,
        "format": spec.path.suffix.lower().lstrip("."),
        "bit_depth": None if lossy else spec.bit_depth,
        "sample_rate": out_rate,
        "integrated_lufs": round(float(loudness), 3),
        "true_peak_dbtp": round(float(peak), 3),
    }
    if out_rate != sr:
        record["resampled_from"] = sr
        log.info("%s: resampled from %d Hz to %d Hz for MP3", spec.path.name, sr, out_rate)
    return record


__all__ = [
    "MASTER_SCHEMA", "OutputSpec", "SourceAnalysis", "Stage", "TargetResult", "analyze_source", "check_masterable",
    "decide_master", "finish_target", "render_stage",
]


# ---------------------------------------------------------------------------------------------
# The whole job


@dataclass(frozen=True)
class UserSettings:
    """What the user asked for on top of (or instead of) the AI's choices.

    amount : 0..1, scales every change the AI makes (EQ, width, compression) toward none.
    eq_amount : 0..1, how far the EQ goes toward the tonal target.
    width : multiplier of the side signal in the mid and high bands (1 = as mixed).
    """

    amount: float | None = None
    eq_amount: float | None = None
    width: float | None = None


def apply_user_settings(plan: Plan, settings: UserSettings) -> None:
    if settings.eq_amount is not None:
        _check_range("--eq-amount", settings.eq_amount, 0.0, 1.0)
        plan.set_user("eq", "amount", float(settings.eq_amount), "set with --eq-amount")
    if settings.width is not None:
        _check_range("--width", settings.width, 0.0, 2.0)
        for name in ("mid", "high"):
            plan.set_user("width", name, float(settings.width), "set with --width")


def scale_by_amount(plan: Plan, amount: float) -> None:
    """Move every AI change toward 'no change' by ``amount`` (0..1); the user's values stay."""
    _check_range("--amount", amount, 0.0, 1.0)
    if amount == 1.0:
        return
    why = f"scaled to {amount * 100:.0f} % with --amount"
    curve = plan.param("eq", "curve")
    if curve is not None and not curve.is_kept:
        scaled = dict(curve.value, gains_db=[round(g * amount, 2) for g in curve.value["gains_db"]])
        plan.decide("eq", "curve", scaled, f"{curve.reason}; {why}")
    for name in BAND_NAMES:
        p = plan.param("width", name)
        if p is not None and not p.is_kept:
            plan.decide("width", name, round(1.0 + (float(p.value) - 1.0) * amount, 3), f"{p.reason}; {why}")
        d = plan.param("dynamics", name)
        if d is not None and not d.is_kept:
            value = dict(d.value, ratio=round(1.0 + (float(d.value["ratio"]) - 1.0) * amount, 3))
            plan.decide("dynamics", name, value, f"{d.reason}; {why}")


@dataclass(frozen=True)
class TargetJob:
    target: PlatformTarget
    outputs: tuple[OutputSpec, ...]


def master(
    input_path: str | Path,
    jobs: list[TargetJob],
    *,
    reference_path: str | Path | None = None,
    genre: str | None = None,
    plan_in: Plan | None = None,
    user: UserSettings = UserSettings(),
    max_duration_s: float | None = None,
    progress: Progress = _no_progress,
) -> list[TargetResult]:
    """Master one file to every job's target; the shared stage runs once per distinct plan."""
    input_path = Path(input_path)
    for job in jobs:
        for spec in job.outputs:
            if audio_io.same_file(spec.path, input_path) or (reference_path and audio_io.same_file(spec.path, reference_path)):
                raise InvalidParameterError(
                    f"{spec.path}: would overwrite an input file. Originals are never modified; choose another output name.",
                    code="master.overwrite_input", file=str(spec.path),
                )
    with ThreadPoolExecutor(max_workers=2 if reference_path is not None and MAX_WORKERS > 1 else 1) as pool:
        source_job = pool.submit(analyze_source, input_path, max_duration_s=max_duration_s, progress=progress)
        reference_job = (pool.submit(analyze_source, reference_path, max_duration_s=max_duration_s, progress=_no_progress)
                         if reference_path is not None else None)
        source = source_job.result()
        reference = reference_job.result() if reference_job is not None else None
    check_masterable(source)
    if reference is not None:
        check_masterable(reference)
    plans: list[Plan] = []
    for job in jobs:
        base = plan_in.copy() if plan_in is not None else Plan(schema=MASTER_SCHEMA)
        apply_user_settings(base, user)
        plan = decide_master(source, job.target, reference=reference, genre=genre, plan=base)
        if user.amount is not None:
            scale_by_amount(plan, user.amount)
        plans.append(plan)
    # Plans that share their shared processing share one stage; targets that land at the same
    # loudness and ceiling from one stage are the same master (Spotify, YouTube, Tidal and
    # SoundCloud all play at -14 LUFS under -1 dBTP): render one, copy it for the others.
    stage_members: dict[str, list[int]] = {}
    render_members: dict[str, list[int]] = {}
    for i, (job, plan) in enumerate(zip(jobs, plans)):
        stage_key = _stage_key(plan)
        stage_members.setdefault(stage_key, []).append(i)
        render_members.setdefault(_render_key(stage_key, job, plan), []).append(i)
    stage_of = {i: key for key, members in stage_members.items() for i in members}

    def build_stage(members: list[int]) -> Stage:
        first = plans[members[0]]
        tmp_dir = str(jobs[members[0]].outputs[0].path.parent) if jobs[members[0]].outputs else None
        stage = render_stage(input_path, first, max_duration_s=max_duration_s, progress=progress, tmp_dir=tmp_dir)
        if reference is not None and refine_eq_to_reference(stage, first, reference):
            for i in members[1:]:
                plans[i].sections["eq"]["curve"] = first.sections["eq"]["curve"]
            stage.store.close()
            stage = render_stage(input_path, first, max_duration_s=max_duration_s, progress=progress, tmp_dir=tmp_dir)
        return stage

    def finish(i: int) -> TargetResult:
        stage = stage_futures[stage_of[i]].result()
        return finish_target(stage, plans[i], jobs[i].target, list(jobs[i].outputs), progress=progress)

    # Stages render side by side, and a target starts as soon as its stage is ready, so the
    # two cores stay busy (each stage and each target also runs a second thread of its own).
    workers = max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    stage_pool = ThreadPoolExecutor(max_workers=min(workers, len(stage_members)))
    finish_pool = ThreadPoolExecutor(max_workers=min(workers, len(render_members)))
    stage_futures = {key: stage_pool.submit(build_stage, members) for key, members in stage_members.items()}
    finish_futures = {members[0]: finish_pool.submit(finish, members[0]) for members in render_members.values()}
    try:
        done = {i: f.result() for i, f in finish_futures.items()}
    except BaseException:
        for f in [*finish_futures.values(), *stage_futures.values()]:
            f.cancel()
        raise
    finally:
        finish_pool.shutdown(wait=True)
        stage_pool.shutdown(wait=True)
        for f in stage_futures.values():
            if f.done() and not f.cancelled() and f.exception() is None:
                f.result().store.close()
    results_by_index: dict[int, TargetResult] = dict(done)
    for members in render_members.values():
        leader = done[members[0]]
        for i in members[1:]:
            results_by_index[i] = _copy_result(leader, jobs[i], plans[i])
    return [results_by_index[i] for i in range(len(jobs))]


def _render_key(stage_key: str, job: TargetJob, plan: Plan) -> str:
    formats = [(spec.path.suffix.lower(), spec.bit_depth) for spec in job.outputs]
    finish = {s: {n: p.value for n, p in plan.sections.get(s, {}).items()} for s in ("loudness", "limiter")}
    return json.dumps([stage_key, finish, formats], sort_keys=True)


def _copy_result(leader: TargetResult, job: TargetJob, plan: Plan) -> TargetResult:
    """The leader's master, copied (atomically) to this job's files, with this job's plan."""
    for section in ("loudness", "limiter"):
        for name, param in leader.plan.sections.get(section, {}).items():
            plan.sections.setdefault(section, {})[name] = param
    outputs = []
    for record, spec in zip(leader.outputs, job.outputs):
        partial = spec.path.with_name(f".{spec.path.name}.partial-copy")
        try:
            shutil.copyfile(record["file"], partial)
            os.replace(partial, spec.path)
        finally:
            partial.unlink(missing_ok=True)
        outputs.append(dict(record, file=str(spec.path), target=job.target.name, same_as=record["target"]))
    return TargetResult(target=job.target, plan=plan, outputs=outputs, iterations=0)


def _stage_key(plan: Plan) -> str:
    shared = {s: {n: p.value for n, p in plan.sections.get(s, {}).items()} for s in ("eq", "dynamics", "width")}
    if not shared["dynamics"].get("enabled"):
        shared["dynamics"] = {"enabled": False, "crossovers_hz": shared["dynamics"].get("crossovers_hz")}
    return json.dumps(shared, sort_keys=True)
