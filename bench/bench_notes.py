"""Benchmark ``mixlab notes``: plant known defects into real stems and mixes, check they are found.

Usage (from the repository root, after ``bench/render_stems.py``)::

    .venv/bin/python bench/bench_notes.py [--songs ID ...] [--codes hum,clipping] [--strengths clear]
                                          [--skip timing|stems|mix|fixes] [--excerpt-s 60] [--snapshot [REV]]
    .venv/bin/python bench/bench_notes.py --self-test     # planting and scoring code on synthetic audio

Material: an excerpt of each song (``--excerpt-s``, default 60 s, where most stems play) of its
stems ``bench/songs/stems/<id>/NN-name.wav`` and of their sum ``mix.wav`` (the creator's mix).

1. **Stem cases**: the excerpt stems are copied to ``bench/out/notes/<case>/stems/`` (unchanged ones
   as hard links) with ONE stem changed or added (clipping, DC, hum, hiss, a lossy-looking low-pass,
   a silent stem, a 48 kHz stem, an inverted / slightly delayed / late twin of a stem, a stem much
   too loud, the lead buried, a stem masking the bass, sibilance, harshness), and
   ``mixlab notes <stems folder> --json`` runs on the folder.
2. **Mix cases**: the mix excerpt is changed (true-peak overs, clipping, too loud, too quiet, over-
   compressed, left/right imbalance, mono-incompatible low end, boomy, low-mid build-up, harsh, dull,
   hum, DC) and ``mixlab notes <mix.wav> --json`` runs on the file.
3. **Clean controls**: each song's stems and mix excerpt unchanged.

Every defect is planted at three strengths (subtle / clear / strong, seeded: the same stem and
time range for the three) and its achieved level is measured here (``benchlib``'s meters) and
stored. A planted defect is *found* when a note has the planted code, overlaps the planted time
range (or either is the whole input) and, for stem defects, names the planted track (for twins
either of the pair; for masking the masker or the bass). Reported: recall per code and strength
(the issue's bar: >= 90 % at the clear strength), the problem-severity notes per clean input (the
bar: at most one), the other notes raised on planted cases ("side notes"), and the time a
``NotesSession.evaluate(plan)`` takes after one fader, pan or EQ change on a 32-track x 4-minute
session (the bar: <= 50 ms), and what every one-click fix does on the stem inputs at clear and the
clean controls (the bar: the note goes or drops in severity, and no new problem note).

Results: tables on stdout, ``bench/out/notes/results.json`` and a timestamped copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.signal as ss
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402
import bench_mix as bm  # noqa: E402  (GENRE, run_child, available_songs)

STEMS_DIR = bl.SONGS_DIR / "stems"
OUT_DIR = bl.OUT_DIR / "notes"
SCHEMA = "mixlab.bench.notes/1"
NOTES_SCHEMA = "mixlab.notes/1"

STRENGTHS = ("subtle", "clear", "strong")
DEFAULT_EXCERPT_S = 60.0
FADE_S = 0.01                 # fades at the excerpt's edges, so the cut itself is no click
INPUT_TP_DBTP = -2.0          # clean material is turned down (never up) to at most this true peak: 1 dB
                              # under the -1 dBTP ceiling of most platforms, so a clean input is not borderline
BLOCK_S = 0.1                 # activity blocks
ACTIVE_BELOW_MAX_DB = 40.0    # a block plays when within this of the stem's loudest block ...
ACTIVE_FLOOR_DBFS = -90.0     # ... and above this
GAP_BELOW_ACTIVE_DB = 60.0    # a block is a gap when this far under the stem's active RMS
AUDIBLE_LUFS = -70.0          # stems quieter than this in the excerpt are left out (silent there)
RANGE_TOL_S = 0.5             # a note's range may miss the planted one by this much and still overlap
SUBPROCESS_TIMEOUT_S = 900
TIMING_TRACKS = 32
TIMING_DURATION_S = 240.0
TIMING_REPEATS = 50
TIMING_MAX_MS = 50.0
CLEAN_MAX_PROBLEMS = 1
CLEAR_RECALL_BAR = 0.90

# Code -> (value per strength (subtle, clear, strong), what the value is). None: ungraded, planted
# once and counted under "clear". How "clear" was chosen is in bench/README.md ("Mix Notes benchmark").
STEM_DEFECTS: dict[str, tuple[tuple | None, str]] = {
    "clipping": ((3.0, 8.0, 15.0), "dB the stem is driven past full scale at its peak in a range, hard clip at +-1.0"),
    "clipping_lowered": ((3.0, 8.0, 15.0), "dB a range is driven past a hard clip, then lowered back (code clipping)"),
    "dc_offset": ((-40.0, -30.0, -20.0), "dBFS of DC added to the stem"),
    "hum": ((10.0, 50.0, 90.0), "% of the range's 0.2 s frames where a hum harmonic is >= the stem in its ERB"),
    "noise_floor": ((-50.0, -40.0, -30.0), "dB hiss RMS re the stem's active RMS, whole stem"),
    "lossy_source": ((18000.0, 16000.0, 11000.0), "Hz cutoff of a steep low-pass (elliptic, zero phase)"),
    "silent_track": (None, "an all-zero stem added"),
    "sample_rate_mismatch": (None, "one stem resampled to 48 kHz (soxr VHQ)"),
    "polarity": ((-12.0, -6.0, 0.0), "dB level of an added inverted, EQ'd twin ('second mic')"),
    "phase_cancellation": ((-12.0, -6.0, 0.0), "dB level of an added EQ'd twin 0.3-1 ms late"),
    "timing_offset": ((5.0, 10.0, 15.0), "ms delay of an added EQ'd twin at -3 dB"),
    "level_balance": ((6.0, 12.0, 20.0), "dB gain on one mid-level stem"),
    "buried_lead": ((-6.0, -12.0, -20.0), "dB gain on the lead stem"),
    "masking": ((-6.0, 0.0, 6.0), "dB of a stem over the bass in the bass's main octave (bell boost)"),
    "sibilance": ((4.0, 8.0, 12.0), "dB bell at 7 kHz (Q 1) on a voice stem (skipped if none)"),
    "harsh": ((4.0, 8.0, 12.0), "dB bell at 3.2 kHz (Q 0.9) on the lead stem"),
}
MIX_DEFECTS: dict[str, tuple[tuple | None, str]] = {
    "true_peak_over": ((0.5, 1.0, 2.0), "dBTP true peak (whole mix scaled; float WAV)"),
    "clipping": ((2.0, 6.0, 12.0), "dB the mix's peak is driven past full scale, hard clip at +-1.0"),
    "too_loud_for_platform": ((-10.0, -8.0, -6.0), "LUFS via compressor + limiter, -1 dBTP"),
    "too_quiet": ((-25.0, -30.0, -35.0), "LUFS (gain only)"),
    "over_compressed": ((9.0, 7.0, 5.0), "dB PLR via compressor + limiter, then set to -14 LUFS"),
    "stereo_imbalance": ((-1.5, -3.0, -6.0), "dB on one channel"),
    "mono_compatibility": (("rot90<150", "inv<150", "inv-all"),
                           "one channel: <150 Hz rotated 90 deg / <150 Hz inverted / inverted whole"),
    "boomy": ((4.0, 8.0, 12.0), "dB low shelf at 100 Hz"),
    "low_end_buildup": ((4.0, 7.0, 10.0), "dB bell at 250 Hz, Q 1"),
    "harsh": ((4.0, 7.0, 10.0), "dB bell at 3 kHz, Q 1"),
    "dull": ((10000.0, 7000.0, 4500.0), "Hz 2nd-order low-pass"),
    "hum": ((10.0, 50.0, 90.0), "% of the range's 0.2 s frames where a hum harmonic is >= the mix in its ERB"),
    "dc_offset": ((-40.0, -30.0, -20.0), "dBFS of DC added"),
}
ALL_CODES = sorted(set(STEM_DEFECTS) | set(MIX_DEFECTS))
# Variants planted under their own key but expected under another code.
EXPECTED_CODE = {"clipping_lowered": "clipping"}


def expected_code(key: str) -> str:
    return EXPECTED_CODE.get(key, key)
HUM_HARMONICS = (1.0, 0.6, 0.5, 0.3, 0.25, 0.15, 0.1, 0.08)  # amplitude of harmonic k = 1..8 (a buzzy hum)
OVER_COMPRESSED_LUFS = -14.0
TWIN_TIMING_LEVEL_DB = -3.0

# Names: file-name words marking drums, basses and voices (our reading; the lead is chosen by level).
DRUM_WORDS = ("kick", "bassdrum", "snare", "clap", "hihat", "hat", "ride", "crash", "cymbal", "tom", "shaker", "wood",
              "sidestick", "rim", "perc", "cowbell", "tamb", "conga", "bongo", "drum", "bd", "sd", "hh")
BASS_WORDS = ("bass", "sub", "lb", "tb", "bassline")
VOICE_WORDS = ("voice", "vocal", "vox", "choir", "vocoder")
LEAD_WORDS = ("lead", "melody", "solo") + VOICE_WORDS


def log(msg: str = "") -> None:
    print(msg, flush=True)


# =========================================================================== DSP (the bench's own)
def db_to_lin(gain_db: float) -> float:
    return 10.0 ** (gain_db / 20.0)


def power_db(x: np.ndarray) -> float:
    """Mean power over all channels and samples, in dB (full-scale sine: -3.01 dB)."""
    return 10.0 * math.log10(max(float(np.mean(np.square(x))) if x.size else 0.0, bl.LOG_FLOOR))


def as_float32(x: np.ndarray) -> np.ndarray:
    """What a 32-bit float WAV will hold (measure what is written)."""
    return x.astype(np.float32).astype(np.float64)


def rbj_sos(kind: str, freq_hz: float, gain_db: float, q: float, sample_rate: int) -> np.ndarray:
    """One biquad from the Audio EQ Cookbook (R. Bristow-Johnson): 'peak', 'low_shelf', 'high_shelf'."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    alpha = math.sin(w0) / (2.0 * q)
    cw = math.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    elif kind in ("low_shelf", "high_shelf"):
        sa = 2.0 * math.sqrt(a) * alpha
        s = 1.0 if kind == "low_shelf" else -1.0
        b = [a * ((a + 1) - s * (a - 1) * cw + sa), s * 2 * a * ((a - 1) - s * (a + 1) * cw),
             a * ((a + 1) - s * (a - 1) * cw - sa)]
        den = [(a + 1) + s * (a - 1) * cw + sa, -s * 2 * ((a - 1) + s * (a + 1) * cw), (a + 1) + s * (a - 1) * cw - sa]
    else:
        raise ValueError(kind)
    return np.array([[b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]]])


def sos_gain_db(sos: np.ndarray, freq_hz: float, sample_rate: int) -> float:
    _, h = ss.sosfreqz(sos, worN=[freq_hz], fs=sample_rate)
    return 20.0 * math.log10(max(abs(h[0]), bl.LOG_FLOOR))


def delayed(x: np.ndarray, num_samples: int) -> np.ndarray:
    y = np.zeros_like(x)
    y[:, num_samples:] = x[:, :x.shape[1] - num_samples]
    return y


def fade_edges(x: np.ndarray, sample_rate: int, fade_s: float = FADE_S) -> np.ndarray:
    n = min(int(round(fade_s * sample_rate)), x.shape[1] // 2)
    if n == 0:
        return x.copy()
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))
    y = x.copy()
    y[:, :n] *= ramp
    y[:, -n:] *= ramp[::-1]
    return y


def block_power(x: np.ndarray, sample_rate: int, block_s: float = BLOCK_S) -> np.ndarray:
    """Mean power (over channels) per block; the last partial block is dropped."""
    b = int(round(block_s * sample_rate))
    nb = x.shape[1] // b
    return np.mean(np.square(x[:, :nb * b]).reshape(x.shape[0], nb, b), axis=(0, 2))


def activity(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(block power, active mask, active RMS dB) with BLOCK_S blocks."""
    p = block_power(x, sample_rate)
    pdb = 10.0 * np.log10(np.maximum(p, bl.LOG_FLOOR))
    active = (pdb >= pdb.max(initial=-400.0) - ACTIVE_BELOW_MAX_DB) & (pdb > ACTIVE_FLOOR_DBFS)
    act_db = 10.0 * math.log10(max(float(p[active].mean()), bl.LOG_FLOOR)) if active.any() else -400.0
    return p, active, act_db


def welch_psd(x: np.ndarray, sample_rate: int, nperseg: int = 16384) -> tuple[np.ndarray, np.ndarray]:
    nperseg = min(nperseg, x.shape[1])
    f, p = ss.welch(x, fs=sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg // 2, axis=1)
    return f, p.mean(axis=0)


def band_db(freqs: np.ndarray, psd: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    sel = (freqs >= lo_hz) & (freqs < hi_hz)
    return 10.0 * math.log10(max(float(psd[sel].sum() * (freqs[1] - freqs[0])), bl.LOG_FLOOR))


def hum_signal(num_samples: int, sample_rate: int, f0_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A buzzy mains hum: f0 and harmonics 2..8 (HUM_HARMONICS), random phases, RMS 1, mono (1, n)."""
    t = np.arange(num_samples) / sample_rate
    h = np.zeros(num_samples)
    for k, amp in enumerate(HUM_HARMONICS, start=1):
        h += amp * np.sin(2.0 * math.pi * k * f0_hz * t + rng.uniform(0.0, 2.0 * math.pi))
    return (h / math.sqrt(np.mean(h * h)))[None, :]


def zero_phase_split(x: np.ndarray, sample_rate: int, cutoff_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) with low + high == x exactly: a zero-phase 4th-order Butterworth run both ways."""
    sos = ss.butter(4, cutoff_hz, "low", fs=sample_rate, output="sos")
    low = ss.sosfiltfilt(sos, x, axis=-1)
    return low, x - low


def compress(x: np.ndarray, sample_rate: int, *, threshold_db: float, ratio: float, attack_ms: float = 5.0,
             release_ms: float = 80.0, rms_ms: float = 5.0) -> np.ndarray:
    """A plain feed-forward RMS compressor (linked), to make test material, not to sound good."""
    def one_pole(sig: np.ndarray, ms: float) -> np.ndarray:
        a = math.exp(-1.0 / (sample_rate * ms / 1000.0))
        return ss.lfilter([1.0 - a], [1.0, -a], sig, zi=[sig[0] * a])[0]

    env = one_pole(np.mean(np.square(x), axis=0), rms_ms)
    level_db = 10.0 * np.log10(np.maximum(env, bl.LOG_FLOOR))
    gr_db = np.minimum(0.0, (threshold_db - level_db) * (1.0 - 1.0 / ratio))
    # Fast to go down, slow to come back: the lower of a fast and a slow smoothing.
    gr_db = np.minimum(one_pole(gr_db, attack_ms), one_pole(gr_db, release_ms))
    return x * 10.0 ** (gr_db / 20.0)


def oversampled_peak(x: np.ndarray) -> np.ndarray:
    """Per input sample, the largest |value| over channels of the 4x-interpolated signal around it."""
    num_channels, n = x.shape
    fir = bl._TP_FIR
    span = bl._TP_HALF_SPAN
    peak = np.max(np.abs(x), axis=0)
    for ch in x:
        for phase in range(4):
            y = ss.oaconvolve(ch, fir[phase::4])[span:span + n]
            np.maximum(peak, np.abs(y), out=peak)
    return peak


def limit(x: np.ndarray, sample_rate: int, *, ceiling_lin: float, lookahead_ms: float = 2.0, hold_ms: float = 20.0,
          release_ms: float = 60.0) -> np.ndarray:
    """A brick-wall lookahead limiter (linked): the sample peak never exceeds ``ceiling_lin``.

    Gain g1[n] = min of the needed gain over [n - hold, n + lookahead]; g2 = its causal mean over
    [n - lookahead, n] (every term is <= the gain needed at n, so g2 is too); the output gain is
    min(g2, a one-pole release smoothing of g1).
    """
    # Peaks between samples too: each sample's window of a 4x-oversampled copy (benchlib's true-peak
    # interpolator), so the output's true peak lands near the ceiling, not a few dB above it.
    peak = oversampled_peak(x)
    need = np.minimum(1.0, ceiling_lin / np.maximum(peak, bl.LOG_FLOOR))
    la = max(1, int(round(lookahead_ms * sample_rate / 1000.0)))
    hold = max(la + 1, int(round(hold_ms * sample_rate / 1000.0)))
    size = hold + la + 1
    g1 = scipy.ndimage.minimum_filter1d(need, size=size, origin=hold - size // 2, mode="nearest")
    c = np.concatenate([np.zeros(1), np.cumsum(np.concatenate([np.full(la, g1[0]), g1]))])
    g2 = (c[la + 1:] - c[:-(la + 1)]) / (la + 1)
    a = math.exp(-1.0 / (sample_rate * release_ms / 1000.0))
    g3 = ss.lfilter([1.0 - a], [1.0, -a], g1, zi=[g1[0] * a])[0]
    g = np.minimum(g2, g3)
    return np.clip(x * g, -ceiling_lin, ceiling_lin)  # the clip is a no-op up to float round-off


def loud_chain(x: np.ndarray, sample_rate: int, drive_db: float, ceiling_lin: float) -> np.ndarray:
    """Drive into a 3:1 compressor at -18 dBFS, a tanh soft clip at the ceiling (run at 4x, so it does not
    alias), then the limiter: the more drive, the louder and flatter, up to a square wave."""
    y = compress(x * db_to_lin(drive_db), sample_rate, threshold_db=-18.0, ratio=3.0)
    up = ss.resample_poly(y, 4, 1, axis=1)
    y = ss.resample_poly(ceiling_lin * np.tanh(up / ceiling_lin), 1, 4, axis=1)[:, :x.shape[1]]
    return limit(y, sample_rate, ceiling_lin=ceiling_lin)


def solve(fn, target: float, lo: float, hi: float, *, tol: float = 0.05, max_evals: int = 24) -> float:
    """The x in [lo, hi] where monotonic fn(x) meets target to within tol (Illinois false position)."""
    flo, fhi = fn(lo) - target, fn(hi) - target
    if flo * fhi > 0:  # no crossing: the nearer end
        return lo if abs(flo) < abs(fhi) else hi
    side = 0
    for _ in range(max_evals):
        mid = hi - fhi * (hi - lo) / (fhi - flo) if fhi != flo else 0.5 * (lo + hi)
        fm = fn(mid) - target
        if abs(fm) <= tol:
            return mid
        if fm * fhi > 0:
            hi, fhi = mid, fm
            if side == -1:
                flo /= 2.0
            side = -1
        else:
            lo, flo = mid, fm
            if side == 1:
                fhi /= 2.0
            side = 1
    return mid


def time_ranges(mask: np.ndarray, sample_rate: int, *, gap_s: float = 1.0) -> list[list[float]]:
    """Sample mask -> [start_s, end_s] runs, merged across gaps shorter than gap_s."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap_s * sample_rate)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [[round(s / sample_rate, 3), round((e + 1) / sample_rate, 3)] for s, e in zip(starts, ends)]


# =========================================================================== material
WORD_RE = re.compile(r"[a-z]+")


def name_role(name: str) -> str:
    """'drum', 'bass', 'voice' or 'other' from the file name's words (our reading, not mixlab's)."""
    words = WORD_RE.findall(name.lower())
    if any(w in DRUM_WORDS or any(w.startswith(d) for d in DRUM_WORDS if len(d) > 3) for w in words):
        return "drum"
    if any(w in VOICE_WORDS or any(w.startswith(v) for v in VOICE_WORDS) for w in words):
        return "voice"
    if any(w in BASS_WORDS or w.startswith("bass") for w in words) or re.search(r"30[23]", name):
        return "bass"
    return "other"


@dataclass
class Stem:
    file: str
    name: str                # the track name: the file name without its extension
    audio: np.ndarray        # (2, n) float64: the excerpt, faded, common gain applied
    lufs: float
    block_p: np.ndarray      # BLOCK_S block power
    active: np.ndarray       # bool per block
    active_db: float         # mean power over active blocks, dB
    active_frac: float
    gap_frac: float
    bands_db: np.ndarray     # third-octave levels (benchlib), dB
    hf_share_db: float       # power above 12 kHz re total, dB
    role: str                # from the name: drum, bass, voice, other


@dataclass
class Song:
    song: str
    sample_rate: int
    start_s: float
    duration_s: float
    stems: list[Stem]
    left_out: list[str]      # stems silent in the excerpt
    stems_gain_db: float     # common gain on every stem so the stem sum's true peak <= INPUT_TP_DBTP
    mix: np.ndarray          # mix.wav excerpt, faded, turned down to INPUT_TP_DBTP
    mix_gain_db: float
    mix_lufs: float
    mix_tp_dbtp: float
    stems_sum_tp_dbtp: float
    genre: str
    lead: str | None = None
    lead_by: str = ""
    bass: str | None = None
    stem_by_name: dict[str, Stem] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.mix.shape[1]


def describe_stem(file: str, audio: np.ndarray, sample_rate: int) -> Stem:
    p, active, act_db = activity(audio, sample_rate)
    pdb = 10.0 * np.log10(np.maximum(p, bl.LOG_FLOOR))
    f, psd = welch_psd(audio, sample_rate)
    total = band_db(f, psd, 0.0, sample_rate / 2 + 1)
    return Stem(file=file, name=Path(file).stem, audio=audio, lufs=bl.bs1770_loudness(audio, sample_rate), block_p=p,
                active=active, active_db=act_db, active_frac=float(active.mean()) if active.size else 0.0,
                gap_frac=float(np.mean(pdb < act_db - GAP_BELOW_ACTIVE_DB)) if p.size else 1.0,
                bands_db=bl.third_octave_levels_db(audio, sample_rate),
                hf_share_db=band_db(f, psd, 12000.0, sample_rate / 2 + 1) - total, role=name_role(Path(file).stem))


def choose_excerpt(stem_files: list[Path], duration_s: float) -> tuple[float, float]:
    """Start (s) of the window, on a 1 s grid, where the most stems play; and the song's length."""
    per_stem = []
    length_s = None
    for f in stem_files:
        x, sample_rate = sf.read(str(f), dtype="float32", always_2d=True)
        p = block_power(x.T, sample_rate, 1.0)
        length_s = x.shape[0] / sample_rate
        pdb = 10.0 * np.log10(np.maximum(p, 1e-30))
        per_stem.append((pdb >= pdb.max() - ACTIVE_BELOW_MAX_DB) & (pdb > ACTIVE_FLOOR_DBFS))
        del x
    n = min(len(a) for a in per_stem)
    w = int(duration_s)
    if n <= w:
        return 0.0, float(length_s)
    act = np.array([a[:n] for a in per_stem], dtype=float)
    c = np.concatenate([np.zeros((act.shape[0], 1)), np.cumsum(act, axis=1)], axis=1)
    frac = (c[:, w:] - c[:, :-w]) / w                    # (stems, starts)
    score = (frac >= 0.1).sum(axis=0) * 1000.0 + frac.sum(axis=0)  # most stems playing, then most playing time
    return float(int(np.argmax(score))), float(length_s)


def load_song(sid: str, *, excerpt_s: float) -> Song:
    d = STEMS_DIR / sid
    manifest = json.loads((d / "stems_manifest.json").read_text())
    files = [t["file"] for t in manifest["tracks"] if t.get("file")]
    start_s, length_s = choose_excerpt([d / f for f in files], excerpt_s)
    raw = {}
    sample_rate = None
    for f in files:
        info = sf.info(str(d / f))
        sample_rate = info.samplerate
        a0 = int(round(start_s * sample_rate))
        n = min(int(round(excerpt_s * sample_rate)), info.frames - a0)
        x, _ = sf.read(str(d / f), start=a0, frames=n, dtype="float64", always_2d=True)
        x = x.T if x.shape[1] == 2 else np.repeat(x.T[:1], 2, axis=0)
        raw[f] = fade_edges(x, sample_rate)
    n = min(x.shape[1] for x in raw.values())
    total = sum(x[:, :n] for x in raw.values())
    sum_tp = bl.true_peak_dbtp(total, sample_rate)
    g_db = min(0.0, INPUT_TP_DBTP - sum_tp)
    stems, left_out = [], []
    for f, x in raw.items():
        x = x[:, :n] * db_to_lin(g_db)
        if bl.sample_peak_dbfs(x) < ACTIVE_FLOOR_DBFS or not bl.bs1770_loudness(x, sample_rate) >= AUDIBLE_LUFS:
            left_out.append(f)
            continue
        stems.append(describe_stem(f, x, sample_rate))
    mx, _ = sf.read(str(d / "mix.wav"), start=int(round(start_s * sample_rate)), frames=n, dtype="float64",
                    always_2d=True)
    mx = fade_edges(mx.T, sample_rate)
    mix_tp = bl.true_peak_dbtp(mx, sample_rate)
    mix_g = min(0.0, INPUT_TP_DBTP - mix_tp)
    mx = mx * db_to_lin(mix_g)
    s = Song(song=sid, sample_rate=sample_rate, start_s=start_s, duration_s=n / sample_rate, stems=stems,
             left_out=left_out, stems_gain_db=g_db, mix=mx, mix_gain_db=mix_g, mix_lufs=bl.bs1770_loudness(mx, sample_rate),
             mix_tp_dbtp=mix_tp + mix_g, stems_sum_tp_dbtp=sum_tp + g_db, genre=bm.GENRE.get(sid, bm.DEFAULT_GENRE))
    s.stem_by_name = {st.name: st for st in stems}
    s.lead = pick_lead(s)
    s.bass = pick_bass(s)
    return s


def pick_lead(s: Song) -> str | None:
    """The lead: a stem named lead/melody/voice..., else the loudest stem that is neither drum nor bass."""
    named = [st for st in s.stems if any(w in st.name.lower() for w in LEAD_WORDS)]
    pool = named or [st for st in s.stems if st.role in ("other", "voice")]
    s.lead_by = "name" if named else "level (no stem named lead/vocal/voice/melody)"
    return max(pool, key=lambda st: st.lufs).name if pool else None


def pick_bass(s: Song) -> str | None:
    """The bass: the loudest bass-named stem, else the non-drum stem with most power in 40-160 Hz."""
    named = [st for st in s.stems if st.role == "bass"]
    if named:
        return max(named, key=lambda st: st.lufs).name
    low = [st for st in s.stems if st.role != "drum"]
    if not low:
        return None
    lows = (bl.THIRD_OCTAVE_CENTRES_HZ >= 40) & (bl.THIRD_OCTAVE_CENTRES_HZ <= 160)
    return max(low, key=lambda st: 10 * math.log10(np.sum(10 ** (st.bands_db[lows] / 10)))).name


def choose_range(active: np.ndarray, total_s: float, rng: np.random.Generator, *, min_activity: float = 0.5
                 ) -> list[float]:
    """A seeded window of 15-25 s (at most 40 % of the excerpt) where the stem plays >= min_activity."""
    dur = min(float(rng.uniform(15.0, 25.0)), 0.4 * total_s)
    margin = min(5.0, 0.1 * total_s)
    starts = np.arange(margin, total_s - dur - margin + 1e-9, 1.0)
    if starts.size == 0:
        starts = np.array([0.0])
    nb = int(round(dur / BLOCK_S))
    acts = np.array([active[int(round(a / BLOCK_S)):int(round(a / BLOCK_S)) + nb].mean() if active.size else 0.0
                     for a in starts])
    ok = np.flatnonzero(acts >= min_activity)
    a = float(starts[rng.choice(ok)]) if ok.size else float(starts[int(np.argmax(acts))])
    return [round(a, 3), round(a + dur, 3)]


def next_index(s: Song) -> int:
    nums = [int(m.group(1)) for st in s.stems if (m := re.match(r"(\d+)", st.file))]
    return max(nums, default=0) + 1


def base_name(name: str) -> str:
    return re.sub(r"^\d+[-_ ]*", "", name)


# =========================================================================== planting
@dataclass
class Planted:
    """One case's input, what was planted, and the achieved levels."""

    files: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)   # stem files to write (changed or added)
    mix: np.ndarray | None = None
    tracks: list[str] = field(default_factory=list)     # a note must name one of these (stem cases)
    ranges: list[list[float]] = field(default_factory=list)  # [] = whole input
    params: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)     # failed checks: the case is invalid, left out of recall
    skip: str | None = None                             # why the case cannot be planted on this song

    def check(self, what: str, achieved: float, target: float, tol: float) -> None:
        self.measured[what] = round(float(achieved), 3)
        if not (abs(achieved - target) <= tol):
            self.checks.append(f"{what}: {achieved:.3f}, wanted {target:.3f} +- {tol:g}")


def stem_rng(seed: int, song: str, kind: str, code: str) -> np.random.Generator:
    """The same stem, range and noise for every strength of one code on one song."""
    return np.random.default_rng(zlib.crc32(f"{seed}:{song}:{kind}:{code}".encode()))


def audible(s: Song, *, min_lufs: float | None = None) -> list[Stem]:
    floor = s.mix_lufs - 35.0 if min_lufs is None else min_lufs
    return [st for st in s.stems if st.lufs >= floor]


def seeded_pick(pool: list[Stem], rng: np.random.Generator) -> Stem | None:
    return pool[int(rng.integers(len(pool)))] if pool else None


def plant_stem(code: str, s: Song, value, rng: np.random.Generator) -> Planted:
    sr = s.sample_rate
    pl = Planted()
    total_s = s.duration_s
    if code in ("clipping", "clipping_lowered"):
        pool = [st for st in audible(s) if st.role != "drum" and st.active_frac >= 0.4]
        st = max(pool, key=lambda t: t.lufs) if pool else None
        if st is None:
            return Planted(skip="no sustained non-drum stem")
        r = choose_range(st.active, total_s, rng, min_activity=0.7)
        a, b = (int(round(t * sr)) for t in r)
        peak = float(np.abs(st.audio[:, a:b]).max())
        g = db_to_lin(value) / peak                   # the range's peak lands value dB past 1.0
        if code == "clipping":                        # the whole stem too hot, clipped at full scale, left there
            y = as_float32(np.clip(st.audio * g, -1.0, 1.0))
            clipped = np.any(np.abs(st.audio * g) >= 1.0, axis=0)
            pl.ranges = time_ranges(clipped, sr)
            pl.params = dict(track=st.name, over_db=value, stem_gain_db=round(20 * math.log10(g), 2),
                             aimed_at_range=r)
            pl.check("sample_peak_dbfs", bl.sample_peak_dbfs(y), 0.0, 1e-6)
            pl.measured.update(clipped_sample_pct=round(100.0 * float(clipped.mean()), 3),
                               clipped_ranges=len(pl.ranges),
                               distortion_db=round(power_db(y - st.audio * g) - power_db(st.audio * g), 2))
        else:                                         # clipped in a range, then lowered back: flat tops under 0 dBFS
            x = st.audio.copy()
            x[:, a:b] = np.clip(x[:, a:b] * g, -1.0, 1.0) / g
            y = as_float32(x)
            plateau = peak / db_to_lin(value)
            at = np.abs(y[:, a:b]) >= plateau * (1 - 1e-6)
            pl.ranges = [r]
            pl.params = dict(track=st.name, over_db=value, range_peak_dbfs=round(20 * math.log10(peak), 2),
                             plateau_dbfs=round(20 * math.log10(plateau), 2))
            pl.check("clipped_peak_dbfs", bl.sample_peak_dbfs(y[:, a:b]), 20 * math.log10(plateau), 0.01)
            pl.measured["clipped_sample_pct"] = round(100.0 * float(at.mean()), 3)
            pl.measured["distortion_db"] = round(power_db(y[:, a:b] - st.audio[:, a:b]) - power_db(st.audio[:, a:b]), 2)
            pl.check("outside_range_unchanged",
                     float(np.abs(np.delete(y - as_float32(st.audio), np.s_[a:b], axis=1)).max()), 0.0, 1e-9)
        pl.files[st.file] = (y, sr)
        pl.tracks = [st.name]
    elif code == "dc_offset":
        st = seeded_pick(audible(s), rng)
        dc = db_to_lin(value)
        y = as_float32(st.audio + dc)
        pl.files[st.file] = (y, sr)
        pl.tracks = [st.name]
        pl.params = dict(track=st.name, dc_dbfs=value, stem_mean_before=float(st.audio.mean()))
        pl.check("dc_dbfs", 20 * math.log10(abs(float(y.mean()))), value, 0.05)
    elif code == "hum":
        pool = [st for st in audible(s) if st.role != "drum" and st.active_frac >= 0.4] or audible(s)
        st = seeded_pick(pool, rng)
        f0 = float(rng.choice([50.0, 60.0]))
        r = choose_range(st.active, total_s, rng, min_activity=0.3)
        pl.files[st.file], meas = add_hum(st.audio, sr, f0, r, value, st.active, rng, mix=s.mix)
        pl.tracks, pl.ranges = [st.name], [r]
        pl.params = dict(track=st.name, f0_hz=f0, audible_pct=value)
        hum_check(pl, meas.pop("audible_pct"), value)
        pl.measured.update({k: (round(v, 2) if isinstance(v, float) else v) for k, v in meas.items()})
    elif code == "noise_floor":
        # A stem that counts in the mix (within 15 LU of it) and has gaps, where a noise floor shows.
        loud = [st for st in audible(s) if st.lufs >= s.mix_lufs - 15.0] or audible(s)
        pool = [st for st in loud if 0.2 <= st.gap_frac <= 0.85]
        st = seeded_pick(pool, rng) if pool else max(loud, key=lambda t: t.gap_frac)
        noise = rng.standard_normal(st.audio.shape)
        level = st.active_db + value
        noise *= db_to_lin(level) / math.sqrt(np.mean(noise ** 2))
        y = as_float32(st.audio + noise)
        pl.files[st.file] = (y, sr)
        pl.tracks = [st.name]
        p = block_power(st.audio, sr)
        gaps = 10 * np.log10(np.maximum(p, bl.LOG_FLOOR)) < st.active_db - GAP_BELOW_ACTIVE_DB
        py = block_power(y, sr)
        pl.params = dict(track=st.name, hiss_re_active_rms_db=value, hiss_rms_dbfs=round(level, 2),
                         hiss_re_mix_rms_db=round(level - power_db(s.mix), 2), gap_pct=round(100 * float(gaps.mean()), 1))
        if gaps.any():
            pl.check("hiss_in_gaps_dbfs", 10 * math.log10(float(py[gaps].mean())), level, 0.5)
        else:
            pl.checks.append("the stem has no gaps")
        pl.check("hiss_re_active_rms_db", power_db(y - st.audio) - st.active_db, value, 0.1)
    elif code == "lossy_source":
        bright = [st for st in audible(s) if st.hf_share_db > -40.0]
        st = max(bright, key=lambda t: t.hf_share_db) if bright else None
        if st is None:
            return Planted(skip="no stem with power above 12 kHz")
        sos = ss.ellip(10, 0.1, 90.0, value, "low", fs=sr, output="sos")
        y = as_float32(ss.sosfiltfilt(sos, st.audio, axis=1))
        f, p0 = welch_psd(st.audio, sr)
        _, p1 = welch_psd(y, sr)
        lo = value * 1.06
        before = band_db(f, p0, lo, sr / 2) - band_db(f, p0, 0, sr / 2)
        after = band_db(f, p1, lo, sr / 2) - band_db(f, p1, 0, sr / 2)
        pl.files[st.file] = (y, sr)
        pl.tracks = [st.name]
        pl.params = dict(track=st.name, cutoff_hz=value)
        pl.measured.update(above_cutoff_share_before_db=round(before, 1), above_cutoff_share_after_db=round(after, 1),
                           hf_share_12k_db=round(st.hf_share_db, 1))
        if before < -60.0:
            pl.checks.append(f"the stem has almost nothing above {lo:.0f} Hz ({before:.1f} dB): nothing to remove")
        if after > before - 40.0:
            pl.checks.append(f"low-pass removed only {before - after:.1f} dB above {lo:.0f} Hz")
    elif code == "silent_track":
        name = f"{next_index(s):02d}-Audio-Track"
        pl.files[name + ".wav"] = (np.zeros((2, s.num_frames)), sr)
        pl.tracks = [name]
        pl.params = dict(track=name)
    elif code == "sample_rate_mismatch":
        import soxr

        st = seeded_pick(audible(s), rng)
        y = soxr.resample(st.audio.T, sr, 48000, quality="VHQ").T
        pl.files[st.file] = (as_float32(y), 48000)
        pl.tracks = [st.name]
        pl.params = dict(track=st.name, from_hz=sr, to_hz=48000)
        pl.check("length_ratio", y.shape[1] / st.audio.shape[1], 48000 / sr, 1e-3)
    elif code in ("polarity", "phase_cancellation", "timing_offset"):
        if code == "timing_offset":
            drums = [st for st in audible(s) if st.role == "drum" and st.active_frac < 0.9]
            st = max(drums, key=lambda t: t.lufs) if drums else max(audible(s), key=lambda t: t.lufs)
        else:
            pool = sorted([t for t in audible(s) if t.role in ("drum", "bass", "other", "voice")
                           and "hat" not in t.name.lower() and "crash" not in t.name.lower()],
                          key=lambda t: -t.lufs)[:4]
            st = seeded_pick(pool, rng)
        eq = np.concatenate([rbj_sos("low_shelf", 200.0, float(rng.uniform(1.0, 3.0)), 0.7, sr),
                             rbj_sos("high_shelf", 5000.0, float(rng.uniform(-5.0, -2.0)), 0.7, sr)])
        twin = ss.sosfilt(eq, st.audio, axis=1)
        if code == "polarity":
            level_db, delay_ms, sign = value, 0.0, -1.0
        elif code == "phase_cancellation":
            level_db, delay_ms, sign = value, float(rng.uniform(0.3, 1.0)), 1.0
        else:
            level_db, delay_ms, sign = TWIN_TIMING_LEVEL_DB, value, 1.0
        d = int(round(delay_ms * sr / 1000.0))
        twin = as_float32(sign * db_to_lin(level_db) * delayed(twin, d))
        name = f"{next_index(s):02d}-{base_name(st.name)}-mic2"
        pl.files[name + ".wav"] = (twin, sr)
        pl.tracks = [st.name, name]
        pl.params = dict(track=st.name, twin=name, twin_level_db=level_db, delay_ms=round(d * 1000.0 / sr, 4),
                         inverted=sign < 0, twin_eq="low shelf 200 Hz +1..+3 dB, high shelf 5 kHz -2..-5 dB")
        # What the pair does to the stem: level of stem + twin against their power sum (0 dB = no
        # interaction), and the deepest / highest point of the pair's spectrum over the stem's.
        pair = st.audio + twin
        l_pair, l_st, l_tw = (bl.bs1770_loudness(z, sr) for z in (pair, st.audio, twin))
        f, p0 = welch_psd(st.audio, sr, 4096)
        _, p1 = welch_psd(pair, sr, 4096)
        sel = (f >= 100) & (f <= 8000) & (p0 > p0.max() * 1e-6)
        ratio = 10 * np.log10(np.maximum(p1[sel], bl.LOG_FLOOR) / p0[sel])
        pl.measured.update(pair_vs_power_sum_db=round(l_pair - 10 * math.log10(10 ** (l_st / 10) + 10 ** (l_tw / 10)), 2),
                           pair_spectrum_min_db=round(float(ratio.min()), 1),
                           pair_spectrum_max_db=round(float(ratio.max()), 1))
        if code == "polarity":
            corr = float(np.sum(st.audio * twin) / math.sqrt(np.sum(st.audio ** 2) * np.sum(twin ** 2)))
            pl.measured["correlation"] = round(corr, 3)
            if corr > -0.5:
                pl.checks.append(f"twin correlation {corr:.2f}, expected strongly negative")
    elif code == "level_balance":
        ranked = sorted([t for t in audible(s) if t.name not in (s.lead, s.bass)], key=lambda t: t.lufs)
        mid = ranked[len(ranked) // 4: max(len(ranked) // 4 + 1, 3 * len(ranked) // 4)]
        st = seeded_pick(mid, rng)
        if st is None:
            return Planted(skip="no mid-level stem")
        pl = gain_case(st, value, sr)
    elif code == "buried_lead":
        if s.lead is None:
            return Planted(skip="no lead candidate")
        pl = gain_case(s.stem_by_name[s.lead], value, sr)
        pl.params["lead_by"] = s.lead_by
    elif code == "masking":
        if s.bass is None:
            return Planted(skip="no bass")
        bass = s.stem_by_name[s.bass]
        c = bl.THIRD_OCTAVE_CENTRES_HZ
        pool = [t for t in audible(s) if t.role in ("other", "voice") and t.name != bass.name and t.active_frac >= 0.3]
        if not pool:
            return Planted(skip="no pad/keys stem to mask the bass")
        # The bass's own bands (40-250 Hz, within 15 dB of its strongest there); of those, the band and
        # stem where another stem is already closest to the bass: the least boost makes it mask.
        band = (c >= 40) & (c <= 250)
        strong = band & (bass.bands_db >= bass.bands_db[band].max() - 15.0)
        st, k = max(((t, int(k)) for t in pool for k in np.flatnonzero(strong)),
                    key=lambda tk: tk[0].bands_db[tk[1]] - bass.bands_db[tk[1]])
        fb = float(c[k])
        lo, hi = fb / math.sqrt(2), fb * math.sqrt(2)
        f, pb = welch_psd(bass.audio, sr)
        bass_db = band_db(f, pb, lo, hi)
        boost, gain = 0.0, 0.0
        y = st.audio
        for _ in range(6):  # bell boost (at most 18 dB), then level, re-measured: the bell is not flat over the octave
            _, pm = welch_psd(y, sr)
            shortfall = value - (band_db(f, pm, lo, hi) - bass_db)
            if abs(shortfall) < 0.2:
                break
            new_boost = min(boost + shortfall, 18.0)
            gain = min(gain + shortfall - (new_boost - boost), 20.0)
            boost = new_boost
            y = ss.sosfilt(rbj_sos("peak", fb, boost, 1.0, sr), st.audio, axis=1) * db_to_lin(gain)
        y = as_float32(y)
        _, pm = welch_psd(y, sr)
        pl.files[st.file] = (y, sr)
        pl.tracks = [st.name]  # the masker: a note naming only the bass could be about anything (these
        # mixes' basses are flagged on the clean controls too)
        pl.params = dict(track=st.name, masks=bass.name, bell_hz=fb, bell_gain_db=round(boost, 1), bell_q=1.0,
                         stem_gain_db=round(gain, 1), octave_hz=[round(lo), round(hi)])
        pl.check("octave_re_bass_db", band_db(f, pm, lo, hi) - bass_db, value, 0.5)
        pl.measured["stem_lufs_change"] = round(bl.bs1770_loudness(y, sr) - st.lufs, 2)
    elif code in ("sibilance", "harsh"):
        if code == "sibilance":
            voices = [t for t in audible(s) if t.role == "voice"]
            st = max(voices, key=lambda t: t.lufs) if voices else None
            if st is None:
                return Planted(skip="no stem named voice/vocal")
            fc, q, lo, hi = 7000.0, 1.0, 5000.0, 9000.0
        else:
            if s.lead is None:
                return Planted(skip="no lead candidate")
            st = s.stem_by_name[s.lead]
            fc, q, lo, hi = 3200.0, 0.9, 2000.0, 5000.0
        lead_by = s.lead_by if code == "harsh" else None
        pl = eq_stem_case(st, rbj_sos("peak", fc, value, q, sr), sr, lo, hi)
        pl.params.update(bell_hz=fc, bell_q=q, gain_db=value)
        if lead_by:
            pl.params["lead_by"] = lead_by
    else:
        raise ValueError(code)
    return pl


def erb_hz(freq_hz: float) -> float:
    """Equivalent rectangular bandwidth of the auditory filter at freq_hz (Glasberg & Moore 1990, eq. 3)."""
    return 24.7 * (4.37 * freq_hz / 1000.0 + 1.0)


HUM_FRAME_S = 0.2            # frames of the hum's audibility model
HUM_AUDIBLE_MARGIN_DB = 0.0  # audible in a frame: a harmonic at least as loud as the source in its critical band
HUM_FLOOR_DB = -60.0         # band power floor re the mix's power: the listening level, set by the mix, makes a
                             # hum below it inaudible even in silence (about the threshold of hearing at 150 Hz
                             # for a mix played at ~80 dB SPL)


def _stft_power(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    nper = int(round(HUM_FRAME_S * sample_rate))
    f, _, z = ss.stft(x, fs=sample_rate, window="hann", nperseg=nper, noverlap=nper // 2, boundary=None,
                      padded=False, axis=-1)
    return f, np.mean(np.abs(z) ** 2, axis=0)  # (freqs, frames), channels averaged


def hum_band_powers(x: np.ndarray, sample_rate: int, f0_hz: float) -> np.ndarray:
    """Power per HUM_FRAME_S frame (Hann STFT, 50 % overlap) in the critical band (ERB) around each hum
    harmonic k * f0: shape (harmonics, frames)."""
    f, p = _stft_power(x, sample_rate)
    return np.array([p[np.abs(f - k * f0_hz) <= erb_hz(k * f0_hz) / 2.0].sum(axis=0)
                     for k in range(1, len(HUM_HARMONICS) + 1)])


def hum_frame_margins(source: np.ndarray, hum: np.ndarray, mix: np.ndarray, sample_rate: int, f0_hz: float
                      ) -> np.ndarray:
    """Per frame, the best harmonic's hum power over the source's in its critical band (dB); the source's
    band power is floored at HUM_FLOOR_DB under the mix's mean frame power."""
    ps = hum_band_powers(source, sample_rate, f0_hz)
    ph = hum_band_powers(hum, sample_rate, f0_hz)
    floor = float(_stft_power(mix, sample_rate)[1].sum(axis=0).mean()) * 10.0 ** (HUM_FLOOR_DB / 10.0)
    m = 10 * np.log10(np.maximum(ph, bl.LOG_FLOOR) / np.maximum(ps, floor))
    return m.max(axis=0)


def add_hum(x: np.ndarray, sample_rate: int, f0_hz: float, r: list[float], audible_pct: float,
            active: np.ndarray | None, rng: np.random.Generator, *, mix: np.ndarray | None = None
            ) -> tuple[tuple[np.ndarray, int], dict]:
    """Add a hum (``hum_signal``) over range r (50 ms fades), loud enough to be audible in audible_pct % of
    the range's 0.2 s frames: some harmonic at least as loud as the source in its critical band (ERB).

    Calibrated by audibility rather than by RMS: these mixes carry most of their power in the low end,
    right where a hum's first harmonics sit, so a hum at a fixed level under the RMS is masked in one
    song and obvious in another, and a hum shows in the gaps between notes and hits.
    """
    hum = hum_signal(x.shape[1], sample_rate, f0_hz, rng)
    a, b = (int(round(t * sample_rate)) for t in r)
    env = np.zeros(x.shape[1])
    env[a:b] = 1.0
    env[a:b] = fade_edges(env[None, a:b], sample_rate, 0.05)[0]
    unit = hum * env
    # A frame turns audible at gain g_t = margin - (unit hum's margin there); the level that makes
    # audible_pct % of the frames audible is that quantile of g_t.
    ref = (x if mix is None else mix)[:, a:b]
    g_t = HUM_AUDIBLE_MARGIN_DB - hum_frame_margins(x[:, a:b], unit[:, a:b], ref, sample_rate, f0_hz)
    g_db = float(np.percentile(g_t, audible_pct, method="higher")) + 0.01  # + float32 round-off
    y = as_float32(x + unit * db_to_lin(g_db))
    d = (y - x)[:, a:b]
    ba, bb = int(round(r[0] / BLOCK_S)), int(round(r[1] / BLOCK_S))
    p = block_power(x, sample_rate)[ba:bb]
    act = active[ba:bb] if active is not None else np.ones(p.size, bool)
    ref_db = 10 * math.log10(max(float(p[act].mean()) if act.any() else float(p.mean()), bl.LOG_FLOOR))
    # And how far the hum's lines stand above the source's own spectrum in the same narrow bins
    # (Welch, ~0.7 Hz bins, +-1.5 Hz) over the range: what a spectrum analyser shows.
    f, p0 = welch_psd(x[:, a:b], sample_rate, 65536)
    _, p1 = welch_psd(y[:, a:b], sample_rate, 65536)
    lines = []
    for k in range(1, len(HUM_HARMONICS) + 1):
        sel = np.abs(f - k * f0_hz) <= 1.5
        lines.append(10 * math.log10(p1[sel].sum() / max(p0[sel].sum(), bl.LOG_FLOOR)))
    audible = hum_frame_margins(x[:, a:b], d, ref, sample_rate, f0_hz) >= HUM_AUDIBLE_MARGIN_DB
    return (y, sample_rate), dict(audible_pct=100.0 * float(audible.mean()),
                                  hum_re_source_rms_db=power_db(d) - ref_db, hum_rms_dbfs=power_db(d),
                                  max_line_over_source_db=max(lines))


def hum_check(pl: Planted, achieved_pct: float, target_pct: float) -> None:
    """Audible in target_pct % of the frames, or more: frames where the source is silent (floored) all
    turn audible at the same level, so on a stem with gaps the lowest reachable share can be higher."""
    pl.measured["audible_pct"] = round(achieved_pct, 1)
    if achieved_pct < target_pct - 3.0:
        pl.checks.append(f"audible_pct: {achieved_pct:.1f}, wanted >= {target_pct:g}")


def gain_case(st: Stem, gain_db: float, sample_rate: int) -> Planted:
    pl = Planted()
    y = as_float32(st.audio * db_to_lin(gain_db))
    pl.files[st.file] = (y, sample_rate)
    pl.tracks = [st.name]
    pl.params = dict(track=st.name, gain_db=gain_db, stem_lufs_before=round(st.lufs, 2))
    # Exact for a gain, except where BS.1770's -70 LUFS absolute gate lets other blocks in: 0.15 dB.
    pl.check("stem_lufs_change", bl.bs1770_loudness(y, sample_rate) - st.lufs, gain_db, 0.15)
    return pl


def eq_stem_case(st: Stem, sos: np.ndarray, sample_rate: int, lo_hz: float, hi_hz: float) -> Planted:
    pl = Planted()
    y = as_float32(ss.sosfilt(sos, st.audio, axis=1))
    f, p0 = welch_psd(st.audio, sample_rate)
    _, p1 = welch_psd(y, sample_rate)
    tot0, tot1 = band_db(f, p0, 0, sample_rate / 2), band_db(f, p1, 0, sample_rate / 2)
    pl.files[st.file] = (y, sample_rate)
    pl.tracks = [st.name]
    pl.params = dict(track=st.name, band_hz=[lo_hz, hi_hz])
    pl.measured.update(band_change_db=round(band_db(f, p1, lo_hz, hi_hz) - band_db(f, p0, lo_hz, hi_hz), 2),
                       band_share_before_db=round(band_db(f, p0, lo_hz, hi_hz) - tot0, 1),
                       band_share_after_db=round(band_db(f, p1, lo_hz, hi_hz) - tot1, 1))
    return pl


def plant_mix(code: str, s: Song, value, rng: np.random.Generator) -> Planted:
    sr = s.sample_rate
    x = s.mix
    pl = Planted()
    tp0 = s.mix_tp_dbtp

    def turn_down(y: np.ndarray) -> np.ndarray:
        """EQ and DC can raise the peak: turn down (never up) to INPUT_TP_DBTP so no over is planted too."""
        tp = bl.true_peak_dbtp(y, sr)
        g = min(0.0, INPUT_TP_DBTP - tp)
        pl.params["turned_down_db"] = round(g, 2)
        return y * db_to_lin(g)

    if code == "true_peak_over":
        y = as_float32(x * db_to_lin(value - tp0))
        pl.params = dict(target_dbtp=value)
        pl.check("true_peak_dbtp", bl.true_peak_dbtp(y, sr), value, 0.05)
        pl.measured["sample_peak_dbfs"] = round(bl.sample_peak_dbfs(y), 2)
    elif code == "clipping":
        g = db_to_lin(value) / float(np.abs(x).max())
        y = as_float32(np.clip(x * g, -1.0, 1.0))
        clipped = np.any(np.abs(x * g) >= 1.0, axis=0)
        pl.ranges = time_ranges(clipped, sr)
        pl.params = dict(over_db=value, gain_db=round(20 * math.log10(g), 2))
        pl.check("sample_peak_dbfs", bl.sample_peak_dbfs(y), 0.0, 1e-6)
        pl.measured.update(clipped_samples=int(np.count_nonzero(np.abs(y) >= 1.0)),
                           clipped_sample_pct=round(100 * float(clipped.mean()), 3), clipped_ranges=len(pl.ranges),
                           distortion_db=round(power_db(y - x * g) - power_db(x * g), 2),
                           lufs=round(bl.bs1770_loudness(y, sr), 2))
    elif code == "too_loud_for_platform":
        y, info = loud_to(x, sr, value)
        pl.params = dict(target_lufs=value, **info)
        y = as_float32(y)
        pl.check("lufs", bl.bs1770_loudness(y, sr), value, 0.2)
        pl.measured["true_peak_dbtp"] = round(bl.true_peak_dbtp(y, sr), 2)
        if pl.measured["true_peak_dbtp"] > INPUT_TP_DBTP + 0.05:
            pl.checks.append(f"true peak {pl.measured['true_peak_dbtp']} dBTP: an over planted too")
    elif code == "too_quiet":
        y = as_float32(x * db_to_lin(value - s.mix_lufs))
        pl.params = dict(target_lufs=value)
        pl.check("lufs", bl.bs1770_loudness(y, sr), value, 0.05)
    elif code == "over_compressed":
        y, info = squash_to_plr(x, sr, value)
        y = as_float32(y)
        pl.params = dict(target_plr_db=value, then_lufs=OVER_COMPRESSED_LUFS, **info)
        lufs, tp = bl.bs1770_loudness(y, sr), bl.true_peak_dbtp(y, sr)
        pl.check("plr_db", tp - lufs, value, 0.5)
        pl.check("lufs", lufs, OVER_COMPRESSED_LUFS, 0.05)
        pl.measured["plr_before_db"] = round(tp0 - s.mix_lufs, 2)
    elif code == "stereo_imbalance":
        ch = int(rng.integers(2))
        y = x.copy()
        y[ch] *= db_to_lin(value)
        y = as_float32(y)
        pl.params = dict(channel="LR"[ch], gain_db=value)
        d0 = power_db(x[ch:ch + 1]) - power_db(x[1 - ch:2 - ch])
        pl.check("channel_change_db", (power_db(y[ch:ch + 1]) - power_db(y[1 - ch:2 - ch])) - d0, value, 0.02)
        pl.measured["left_minus_right_db"] = round(power_db(y[:1]) - power_db(y[1:]), 2)
    elif code == "mono_compatibility":
        ch = int(rng.integers(2))
        y = x.copy()
        if value == "inv-all":
            y[ch] = -x[ch]
        else:
            low, high = zero_phase_split(x[ch], sr, 150.0)
            if value == "inv<150":
                y[ch] = high - low
            else:  # rot90<150: the low band turned by 90 degrees (Hilbert), so it neither adds nor cancels
                y[ch] = high + np.imag(ss.hilbert(low))
        y = as_float32(y)
        pl.params = dict(channel="LR"[ch], change=value)
        mono0, mono1 = (0.5 * (z[0] + z[1]) for z in (x, y))
        f, p0 = welch_psd(mono0[None], sr)
        _, p1 = welch_psd(mono1[None], sr)
        pl.measured.update(
            mono_low_change_db=round(band_db(f, p1, 30, 150) - band_db(f, p0, 30, 150), 1),
            mono_lufs_change=round(bl.bs1770_loudness(np.stack([mono1, mono1]), sr)
                                   - bl.bs1770_loudness(np.stack([mono0, mono0]), sr), 2),
            correlation_before=round(float(np.corrcoef(x)[0, 1]), 3),
            correlation_after=round(float(np.corrcoef(y)[0, 1]), 3))
        if value == "inv<150" and pl.measured["mono_low_change_db"] > -10.0:
            pl.checks.append("low end did not cancel in mono")
    elif code in ("boomy", "low_end_buildup", "harsh"):
        kind, fc, q, probe, ref = {"boomy": ("low_shelf", 100.0, 0.7, 50.0, 1000.0),
                                   "low_end_buildup": ("peak", 250.0, 1.0, 250.0, 4000.0),
                                   "harsh": ("peak", 3000.0, 1.0, 3150.0, 250.0)}[code]
        sos = rbj_sos(kind, fc, value, q, sr)
        y = as_float32(turn_down(ss.sosfilt(sos, x, axis=1)))
        pl.params.update(kind=kind, freq_hz=fc, q=q, gain_db=value)
        tilt_check(pl, x, y, sr, sos, probe, ref)
    elif code == "dull":
        sos = ss.butter(2, value, "low", fs=sr, output="sos")
        y = as_float32(ss.sosfilt(sos, x, axis=1))
        pl.params = dict(lowpass_hz=value, order=2)
        tilt_check(pl, x, y, sr, sos, 12500.0, 500.0)
    elif code == "hum":
        f0 = float(rng.choice([50.0, 60.0]))
        r = choose_range(np.ones(int(s.duration_s / BLOCK_S), bool), s.duration_s, rng)
        (y, _), meas = add_hum(x, sr, f0, r, value, None, rng)
        y = as_float32(turn_down(y))
        pl.ranges = [r]
        pl.params.update(f0_hz=f0, audible_pct=value)
        hum_check(pl, meas.pop("audible_pct"), value)
        meas["hum_rms_dbfs"] += pl.params["turned_down_db"]
        pl.measured.update({k: (round(v, 2) if isinstance(v, float) else v) for k, v in meas.items()})
    elif code == "dc_offset":
        y = as_float32(turn_down(x + db_to_lin(value)))
        pl.params.update(dc_dbfs=value)
        added = float(y.mean()) - float(x.mean()) * db_to_lin(pl.params["turned_down_db"])
        pl.check("dc_dbfs", 20 * math.log10(abs(added)), value + pl.params["turned_down_db"], 0.05)
        pl.measured["dc_dbfs_written"] = round(20 * math.log10(abs(float(y.mean()))), 2)
    else:
        raise ValueError(code)
    pl.mix = y
    return pl


def tilt_check(pl: Planted, x: np.ndarray, y: np.ndarray, sample_rate: int, sos: np.ndarray, probe_hz: float,
               ref_hz: float) -> None:
    """The third-octave level change at probe_hz minus that at ref_hz must match the filter's response."""
    c = bl.THIRD_OCTAVE_CENTRES_HZ
    kp, kr = int(np.argmin(np.abs(c - probe_hz))), int(np.argmin(np.abs(c - ref_hz)))
    b0, b1 = bl.third_octave_levels_db(x, sample_rate), bl.third_octave_levels_db(y, sample_rate)
    want = sos_gain_db(sos, c[kp], sample_rate) - sos_gain_db(sos, c[kr], sample_rate)
    pl.check(f"band_{c[kp]:.0f}hz_re_{c[kr]:.0f}hz_db", (b1[kp] - b0[kp]) - (b1[kr] - b0[kr]), want, 1.0)
    pl.measured["spectral_change_db"] = round(float(np.sqrt(np.mean(((b1 - b0) - np.mean(b1 - b0)) ** 2))), 2)


def loud_to(x: np.ndarray, sample_rate: int, target_lufs: float) -> tuple[np.ndarray, dict]:
    """Compressor + limiter driven until the loudness is target_lufs with the true peak <= -1 dBTP."""
    ceiling_db = INPUT_TP_DBTP - 0.5
    for _ in range(3):
        ceil_lin = db_to_lin(ceiling_db)
        drive = solve(lambda d: bl.bs1770_loudness(loud_chain(x, sample_rate, d, ceil_lin), sample_rate),
                      target_lufs, -20.0, 60.0, tol=0.05)
        y = loud_chain(x, sample_rate, drive, ceil_lin)
        tp = bl.true_peak_dbtp(y, sample_rate)
        if tp <= INPUT_TP_DBTP + 0.02:
            break
        ceiling_db -= tp - INPUT_TP_DBTP + 0.1
    return y, dict(drive_db=round(drive, 2), limiter_ceiling_dbfs=round(ceiling_db, 2))


def squash_to_plr(x: np.ndarray, sample_rate: int, target_plr_db: float) -> tuple[np.ndarray, dict]:
    """Compressor + limiter driven until the peak-to-loudness ratio is target_plr_db, then set to -14 LUFS."""
    ceil_lin = db_to_lin(INPUT_TP_DBTP)

    def splr(d: float) -> float:
        y = loud_chain(x, sample_rate, d, ceil_lin)
        return bl.sample_peak_dbfs(y) - bl.bs1770_loudness(y, sample_rate)

    want = target_plr_db
    for _ in range(3):  # solve on the sample-peak PLR (fast), then correct for the true peak
        drive = solve(splr, want, -20.0, 60.0, tol=0.1)
        y = loud_chain(x, sample_rate, drive, ceil_lin)
        lufs = bl.bs1770_loudness(y, sample_rate)
        plr = bl.true_peak_dbtp(y, sample_rate) - lufs
        if abs(plr - target_plr_db) <= 0.2:
            break
        want -= plr - target_plr_db
    return y * db_to_lin(OVER_COMPRESSED_LUFS - lufs), dict(drive_db=round(drive, 2))


# =========================================================================== scoring
def ranges_overlap(a: list, b: list, tol_s: float = RANGE_TOL_S) -> bool:
    """True when either list is empty (the whole input) or some pair of ranges overlaps (with tolerance)."""
    if not a or not b:
        return True
    for r in a:
        r0, r1 = (r["start_s"], r["end_s"]) if isinstance(r, dict) else r
        for q in b:
            q0, q1 = (q["start_s"], q["end_s"]) if isinstance(q, dict) else q
            if r0 < q1 + tol_s and q0 < r1 + tol_s:
                return True
    return False


def note_matches(note: dict, code: str, ranges: list, tracks: list[str]) -> bool:
    if note.get("code") != code:
        return False
    if not ranges_overlap(note.get("ranges") or [], ranges):
        return False
    if tracks and not set(note.get("tracks") or []) & set(tracks):
        return False
    return True


def score_case(doc: dict, code: str, ranges: list, tracks: list[str]) -> dict:
    """found, the matching note, same-code notes that missed (and why), and the side notes."""
    notes = doc.get("notes") or []
    hits = [n for n in notes if note_matches(n, code, ranges, tracks)]
    same = [n for n in notes if n.get("code") == code and n not in hits]
    near = []
    for n in same:
        why = []
        if not ranges_overlap(n.get("ranges") or [], ranges):
            why.append("range")
        if tracks and not set(n.get("tracks") or []) & set(tracks):
            why.append(f"tracks {n.get('tracks')}")
        near.append(dict(severity=n.get("severity"), why=", ".join(why)))
    side = [dict(code=n.get("code"), severity=n.get("severity"), tracks=n.get("tracks") or [],
                 on_planted_track=bool(tracks and set(n.get("tracks") or []) & set(tracks)))
            for n in notes if n.get("code") != code]
    best = hits[0] if hits else None
    return dict(found=bool(hits), severity=best.get("severity") if best else None,
                note=dict(title=best.get("title"), ranges=best.get("ranges"), tracks=best.get("tracks"),
                          measured=best.get("measured"), fix_kind=(best.get("fix") or {}).get("kind")) if best else None,
                same_code_misses=near, side_notes=side)


SEVERITY_RANK = {"info": 0, "warn": 1, "problem": 2}


def mark_pre_existing(rows: list[dict]) -> None:
    """Flag found cases whose matching note the song's clean control (same kind) already gets at the same
    or a higher severity: there a 'found' cannot be told from the note the clean input gets anyway. (A
    note that turns more severe with the plant does tell.)"""
    clean = {(r["song"], r["kind"]): r.get("notes") for r in rows if r["code"] is None and "notes" in r}
    for r in rows:
        if r["code"] is None or "found" not in r:
            continue
        notes = clean.get((r["song"], r["kind"]))
        if notes is None:
            continue
        same = [n for n in notes if note_matches(n, expected_code(r["code"]), r.get("ranges") or [], r.get("tracks") or [])]
        rank = SEVERITY_RANK.get(r.get("severity"), -1) if r["found"] else 3  # a miss stays a miss
        r["already_on_clean"] = any(SEVERITY_RANK.get(n.get("severity"), 0) >= rank for n in same)


def count_severities(doc: dict) -> dict:
    out = {"problem": 0, "warn": 0, "info": 0}
    for n in doc.get("notes") or []:
        out[n.get("severity", "info")] = out.get(n.get("severity", "info"), 0) + 1
    return out


def validate_doc(doc) -> str | None:
    """Why the document is not a notes document, or None."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if doc.get("schema") != NOTES_SCHEMA:
        return f"schema {doc.get('schema')!r}, expected {NOTES_SCHEMA!r}"
    if not isinstance(doc.get("notes"), list):
        return "no notes list"
    for n in doc["notes"]:
        if not isinstance(n, dict) or "code" not in n or n.get("severity") not in ("info", "warn", "problem"):
            return f"bad note {str(n)[:120]}"
    return None


# =========================================================================== running cases
@dataclass
class CaseSpec:
    case_id: str
    song: str
    kind: str                # "stem" or "mix"
    code: str | None         # None: the clean control
    strength: str | None
    value: object


def case_specs(s: Song, *, kinds: set[str], codes: set[str], strengths: list[str]) -> list[CaseSpec]:
    specs = []
    for kind, table in (("stem", STEM_DEFECTS), ("mix", MIX_DEFECTS)):
        if kind not in kinds:
            continue
        specs.append(CaseSpec(f"{s.song}-{kind}-clean", s.song, kind, None, None, None))
        for code, (values, _) in table.items():
            if code not in codes:
                continue
            for i, strength in enumerate(STRENGTHS):
                if strength not in strengths:
                    continue
                if values is None:
                    if strength != "clear":
                        continue
                    value = None
                else:
                    value = values[i]
                specs.append(CaseSpec(f"{s.song}-{kind}-{code}-{strength}", s.song, kind, code, strength, value))
    return specs


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T.astype(np.float32), sample_rate, subtype="FLOAT")


def build_case_input(spec: CaseSpec, s: Song, pl: Planted | None) -> Path:
    d = OUT_DIR / spec.case_id
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    if spec.kind == "mix":
        path = d / "mix.wav"
        write_wav(path, pl.mix if pl is not None else s.mix, s.sample_rate)
        return path
    clean = OUT_DIR / f"{s.song}-stem-clean" / "stems"
    stems = d / "stems"
    if spec.code is None:
        for st in s.stems:
            write_wav(stems / st.file, st.audio, s.sample_rate)
        return stems
    stems.mkdir()
    for st in s.stems:
        if st.file not in pl.files:
            try:
                (stems / st.file).hardlink_to(clean / st.file)
            except OSError:
                shutil.copy2(clean / st.file, stems / st.file)
    for f, (audio, rate) in pl.files.items():
        write_wav(stems / f, audio, rate)
    return stems


def run_notes(mixlab_cmd: list[str], inp: Path, *, genre: str, target: str, help_text: str, no_cache: bool) -> dict:
    cmd = mixlab_cmd + ["notes", str(inp), "--json"]
    if "--genre" in help_text:
        cmd += ["--genre", genre]
    if "--target" in help_text:
        cmd += ["--target", target]
    if no_cache and "--no-cache" in help_text:
        cmd.append("--no-cache")
    r = bm.run_child(cmd, timeout_s=SUBPROCESS_TIMEOUT_S)
    r["cmd"] = "mixlab " + " ".join(cmd[len(mixlab_cmd):])
    return r


def run_case(spec: CaseSpec, s: Song, *, seed: int, mixlab_cmd: list[str] | None, help_text: str, target: str,
             no_cache: bool) -> dict:
    row = dict(case=spec.case_id, song=spec.song, kind=spec.kind, code=spec.code, strength=spec.strength,
               value=spec.value)
    pl = None
    if spec.code is not None:
        rng = stem_rng(seed, spec.song, spec.kind, spec.code)
        t0 = time.perf_counter()
        pl = (plant_stem if spec.kind == "stem" else plant_mix)(spec.code, s, spec.value, rng)
        row["plant_s"] = round(time.perf_counter() - t0, 2)
        if pl.skip:
            row["skipped"] = pl.skip
            return row
        row.update(tracks=pl.tracks, ranges=pl.ranges, params=pl.params, measured=pl.measured, failed_checks=pl.checks,
                   valid=not pl.checks)
    inp = build_case_input(spec, s, pl)
    row["input"] = str(inp.relative_to(bl.REPO_DIR))
    if mixlab_cmd is None:
        return row
    r = run_notes(mixlab_cmd, inp, genre=s.genre, target=target, help_text=help_text, no_cache=no_cache)
    (inp.parent / "notes.stdout.json").write_text(r["stdout"])
    (inp.parent / "notes.stderr.txt").write_text(r["stderr"])
    row.update(wall_s=round(r["wall_s"], 2), peak_rss_mb=round(r["peak_rss_mb"], 1), command=r["cmd"])
    if r["returncode"] != 0:
        tail = (r["stderr"] or r["stdout"]).strip().splitlines()[-3:]
        row["error"] = f"exit {r['returncode']}: " + " | ".join(tail)
        return row
    try:
        doc = json.loads(r["stdout"])
    except json.JSONDecodeError as exc:
        row["error"] = f"stdout is not JSON: {exc}"
        return row
    bad = validate_doc(doc)
    if bad:
        row["error"] = f"not a notes document: {bad}"
        return row
    row["counts"] = count_severities(doc)
    row["notes_timings_s"] = doc.get("timings_s")
    if spec.code is None:
        row["notes"] = [dict(code=n.get("code"), severity=n.get("severity"), tracks=n.get("tracks") or [],
                             ranges=n.get("ranges") or [], title=n.get("title")) for n in doc["notes"]]
    else:
        row.update(score_case(doc, expected_code(spec.code), pl.ranges, pl.tracks))
    return row


def describe_row(row: dict) -> str:
    if row.get("skipped"):
        return f"skipped: {row['skipped']}"
    bits = []
    if row.get("tracks"):
        bits.append("/".join(row["tracks"]))
    if row.get("ranges"):
        rr = row["ranges"]
        bits.append(", ".join(f"{a:.1f}-{b:.1f} s" for a, b in rr[:2]) + (f" (+{len(rr) - 2})" if len(rr) > 2 else ""))
    m = row.get("measured") or {}
    bits.append(", ".join(f"{k}={v}" for k, v in list(m.items())[:3]))
    if row.get("failed_checks"):
        bits.append("INVALID: " + "; ".join(row["failed_checks"]))
    if "error" in row:
        bits.append("ERROR " + row["error"])
    elif "found" in row:
        bits.append(f"-> {'FOUND (' + str(row['severity']) + ')' if row['found'] else 'missed'}"
                    + (" (already on the clean control)" if row.get("already_on_clean") else ""))
        if not row["found"]:
            if row.get("same_code_misses"):
                bits.append("same code, no match: " + "; ".join(f"{n['severity']} ({n['why']})" for n in row["same_code_misses"]))
            on = sorted({f"{n['code']}({n['severity']})" for n in row.get("side_notes") or [] if n["on_planted_track"]})
            if on:
                bits.append("on the planted track(s): " + ", ".join(on))
    elif "counts" in row:
        bits.append(f"-> {row['counts']}: " + ", ".join(f"{n['code']}({n['severity']})" for n in row["notes"]))
    if "wall_s" in row:
        bits.append(f"[{row['wall_s']:.1f} s]")
    return "  ".join(b for b in bits if b)


# =========================================================================== summaries
def _ratio(found: int, n: int) -> str:
    return f"{found}/{n}" if n else "-"


def recall_tables(rows: list[dict]) -> dict:
    """Per kind, code and strength: [found, planted, found among decidable, decidable] over valid, scored
    cases; decidable = the matching note was not already raised on the clean control."""
    out: dict = {}
    for kind in ("stem", "mix"):
        table: dict = {}
        for r in rows:
            if r["kind"] != kind or r["code"] is None or "found" not in r or not r.get("valid", True):
                continue
            cell = table.setdefault(r["code"], {}).setdefault(r["strength"], [0, 0, 0, 0])
            cell[0] += int(r["found"])
            cell[1] += 1
            if not r.get("already_on_clean"):
                cell[2] += int(r["found"])
                cell[3] += 1
        if table:
            out[kind] = table
    return out


def recall_summary(tables: dict) -> dict:
    summ = {}
    for strength in STRENGTHS:
        cells = [c[strength] for t in tables.values() for c in t.values() if strength in c]
        f, n, fd, nd = (sum(c[i] for c in cells) for i in range(4))
        summ[strength] = dict(found=f, planted=n, recall=(f / n) if n else None, found_decidable=fd, decidable=nd,
                              recall_decidable=(fd / nd) if nd else None)
    clear = summ["clear"]
    summ["clear_bar"] = CLEAR_RECALL_BAR
    summ["clear_met"] = bool(clear["planted"]) and clear["recall"] >= CLEAR_RECALL_BAR
    summ["clear_met_decidable"] = bool(clear["decidable"]) and clear["recall_decidable"] >= CLEAR_RECALL_BAR
    return summ


def clean_summary(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        if r["code"] is not None or "counts" not in r:
            continue
        probs = [n["code"] for n in r["notes"] if n["severity"] == "problem"]
        out.append(dict(song=r["song"], kind=r["kind"], problems=len(probs), problem_codes=probs,
                        warn_codes=[n["code"] for n in r["notes"] if n["severity"] == "warn"],
                        info_codes=[n["code"] for n in r["notes"] if n["severity"] == "info"],
                        met=len(probs) <= CLEAN_MAX_PROBLEMS))
    return out


def side_summary(rows: list[dict]) -> dict:
    """Per code: side notes by severity; 'new' when the song's clean control of that kind did not raise the code."""
    clean = {(r["song"], r["kind"]): {n["code"] for n in r.get("notes", [])} for r in rows if r["code"] is None}
    out: dict = {}
    for r in rows:
        for n in r.get("side_notes") or []:
            e = out.setdefault(n["code"], dict(problem=0, warn=0, info=0, new_problem=0, new_warn=0, new_info=0,
                                               cases=set()))
            e[n["severity"]] += 1
            if n["code"] not in clean.get((r["song"], r["kind"]), set()):
                e["new_" + n["severity"]] += 1
                e["cases"].add(f"{r['kind']}:{r['code']}")
    for e in out.values():
        e["cases"] = sorted(e["cases"])
    return dict(sorted(out.items()))


def print_report(rows: list[dict], tables: dict, summary: dict, clean: list[dict], side: dict, timing: dict | None,
                 fixes: dict | None = None) -> None:
    def cell(c) -> str:
        if not c:
            return "-"
        return f"{c[0]}/{c[1]}" + (f"({c[1] - c[3]}*)" if c[1] != c[3] else "")

    for kind, table in tables.items():
        log(f"\nrecall, {kind} cases (found / planted, valid cases; (n*): n of them already flagged the same way"
            f" on the clean control)")
        hdr = f"  {'code':22s} {'subtle':>9s} {'clear':>9s} {'strong':>9s}  values (subtle / clear / strong)"
        log(hdr)
        log("  " + "-" * (len(hdr) - 2))
        defs = STEM_DEFECTS if kind == "stem" else MIX_DEFECTS
        for code in sorted(table):
            c = table[code]
            vals, unit = defs[code]
            vtxt = " / ".join(str(v) for v in vals) + f" {unit}" if vals else unit
            log(f"  {code:22s} " + " ".join(f"{cell(c.get(st)):>9s}" for st in STRENGTHS) + f"  {vtxt}")
        tot = {st: [sum(c.get(st, (0, 0, 0, 0))[i] for c in table.values()) for i in range(4)] for st in STRENGTHS}
        log(f"  {'all':22s} " + " ".join(f"{cell(tot[st]) if tot[st][1] else '-':>9s}" for st in STRENGTHS))
    if tables:
        def pct(x):
            return f" ({100 * x:.0f} %)" if x is not None else ""
        log("\nrecall over both kinds: " + ", ".join(
            f"{st} {summary[st]['found']}/{summary[st]['planted']}{pct(summary[st]['recall'])}" for st in STRENGTHS)
            + f"; bar: >= {100 * CLEAR_RECALL_BAR:.0f} % at clear: {'MET' if summary['clear_met'] else 'NOT MET'}")
        log("  leaving out cases already flagged on the clean control: " + ", ".join(
            f"{st} {summary[st]['found_decidable']}/{summary[st]['decidable']}{pct(summary[st]['recall_decidable'])}"
            for st in STRENGTHS) + f"; at clear: {'MET' if summary['clear_met_decidable'] else 'NOT MET'}")
    invalid = [r for r in rows if r.get("valid") is False]
    if invalid:
        log(f"\ninvalid plantings (left out of recall): " + "; ".join(f"{r['case']}: {r['failed_checks']}" for r in invalid))
    skipped = [r for r in rows if r.get("skipped")]
    if skipped:
        log("not planted: " + "; ".join(f"{r['case']} ({r['skipped']})" for r in skipped))
    errors = [r for r in rows if "error" in r]
    if errors:
        log("errors: " + "; ".join(f"{r['case']}: {r['error']}" for r in errors))
    if clean:
        log(f"\nclean controls (problem-severity notes per input; bar: at most {CLEAN_MAX_PROBLEMS})")
        for c in clean:
            log(f"  {c['song']:18s} {c['kind']:5s} problems {c['problems']} {'ok ' if c['met'] else 'OVER'}"
                f"  problem: {', '.join(c['problem_codes']) or '-'}; warn: {', '.join(c['warn_codes']) or '-'};"
                f" info: {', '.join(c['info_codes']) or '-'}")
    if side:
        log("\nside notes on planted cases (other codes; new = the song's clean control of that kind did not raise it)")
        log(f"  {'code':22s} {'problem':>7s} {'warn':>5s} {'info':>5s}   new: {'problem':>7s} {'warn':>5s} {'info':>5s}"
            f"  planted codes with new ones")
        for code, e in side.items():
            log(f"  {code:22s} {e['problem']:7d} {e['warn']:5d} {e['info']:5d}        {e['new_problem']:7d} "
                f"{e['new_warn']:5d} {e['new_info']:5d}  {', '.join(e['cases'][:8])}{' ...' if len(e['cases']) > 8 else ''}")
    missed = [r for r in rows if r.get("found") is False and r.get("valid", True)]
    if missed:
        log("\nmissed:")
        for r in missed:
            log(f"  {r['case']}: {describe_row(r)}")
    if fixes:
        log("\none-click fixes applied (stem inputs, clean and clear; gone / lower severity / stays; new problem notes):")
        if "error" in fixes or "skipped" in fixes:
            log(f"  {'ERROR' if 'error' in fixes else 'SKIPPED'}: {fixes.get('error') or fixes.get('skipped')}")
        else:
            for code, c in sorted(fixes["by_code"].items()):
                log(f"  {code:22s} {c['fixes']:4d} fixes: {c['gone']:4d} gone {c['lower']:4d} lower {c['stays']:4d} stays;"
                    f" {c['new_problem']:3d} with a new problem")
            t = fixes["total"]
            log(f"  {'all':22s} {t['fixes']:4d} fixes: {t['gone']:4d} gone {t['lower']:4d} lower {t['stays']:4d} stays;"
                f" {t['new_problem']:3d} with a new problem  ({fixes['inputs']} inputs, {fixes['wall_s']:.0f} s)")
            for f in fixes["failures"][:12]:
                log(f"    {f['case']}: {f['code']} ({f['severity']}) on {f['tracks']}: {f['outcome']}"
                    f"{', new problems ' + str(f['new_problems']) if f['new_problems'] else ''}")
    if timing:
        log("\nnote update after a plan change (NotesSession.evaluate):")
        if "skipped" in timing:
            log(f"  SKIPPED: {timing['skipped']}")
        elif "error" in timing:
            log(f"  ERROR: {timing['error']}")
        else:
            log(f"  session {timing['tracks']} tracks x {timing['duration_s']:.0f} s: from_stems {timing['from_stems_s']:.1f} s,"
                f" first evaluate {1000 * timing['first_evaluate_s']:.0f} ms, peak RSS {timing.get('peak_rss_mb', float('nan')):.0f} MB")
            for k, v in timing["changes"].items():
                log(f"  {k:6s}: median {v['median_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms, max {v['max_ms']:.1f} ms"
                    f" ({v['n']} changes)")
            a = timing["all"]
            log(f"  all   : median {a['median_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms; bar <= {TIMING_MAX_MS:g} ms (p95):"
                f" {'MET' if a['met'] else 'NOT MET'}")


# =========================================================================== timing of evaluate()
_TIMING_CHILD = r"""
import importlib, json, math, random, statistics, sys, time
spec, stems, plan_path, genre, repeats, seed = sys.argv[1:7]
repeats, seed = int(repeats), int(seed)
mod, _, cls = spec.partition(":")
try:
    NotesSession = getattr(importlib.import_module(mod), cls)
except Exception as exc:
    print(json.dumps({"skipped": f"{spec} is not importable: {type(exc).__name__}: {exc}"}))
    sys.exit(0)
from mixlab.engine.mixing import load_mix_plan
plan = load_mix_plan(plan_path)
t0 = time.perf_counter()
session = NotesSession.from_stems(stems, genre=genre)
t1 = time.perf_counter()
first = session.evaluate(plan)
t2 = time.perf_counter()
sections = [s for s in plan.sections if s.startswith("track:")
            and not (plan.param(s, "mute") is not None and plan.param(s, "mute").value)]
rng = random.Random(seed)
times = {"fader": [], "pan": [], "eq": []}
sizes = []
for i in range(repeats):
    for kind in ("fader", "pan", "eq"):
        s = rng.choice(sections)
        if kind == "fader":
            plan.set_user(s, "gain_db", round(rng.uniform(-12.0, 6.0), 2))
        elif kind == "pan":
            plan.set_user(s, "pan", round(rng.uniform(-1.0, 1.0), 2))
        else:
            bands = [dict(b) for b in plan.get(s, "eq")]
            if bands:
                k = rng.randrange(len(bands))
                bands[k]["gain_db"] = round(rng.uniform(-9.0, 6.0), 1)
            else:
                bands = [{"kind": "peak", "freq_hz": round(rng.choice([120.0, 400.0, 1200.0, 3500.0])),
                          "gain_db": round(rng.uniform(-9.0, 6.0), 1), "q": 1.0}]
            plan.set_user(s, "eq", bands)
        a = time.perf_counter()
        notes = session.evaluate(plan)
        times[kind].append(time.perf_counter() - a)
        sizes.append(len(notes))
print(json.dumps({"from_stems_s": t1 - t0, "first_evaluate_s": t2 - t1, "first_notes": len(first),
                  "times_s": times, "notes_min": min(sizes), "notes_max": max(sizes)}))
"""


# Every note with a plan patch on the stem inputs (the clean controls and the planted cases at
# "clear"), in one process: apply the fix to the plan judged (the stems as delivered), evaluate
# again. A fix works when no note of that code on those tracks is left at the same severity or
# higher, and no problem-severity note appears that was not there before.
_FIXES_CHILD = r"""
import json, sys
from mixlab.engine.notes import NotesSession, apply_fix
RANK = {"info": 0, "warn": 1, "problem": 2}
target = sys.argv[1]
for line in sys.stdin:
    job = json.loads(line)
    session = NotesSession.from_stems(job["input"], genre=job["genre"], target=target)
    plan = session.delivered_plan()
    before = session.evaluate(plan)
    old_problems = {(n.code, n.tracks) for n in before if n.severity == "problem"}
    for k, note in enumerate(before):
        if not note.fix or note.fix.get("kind") != "patch":
            continue
        after = session.evaluate(apply_fix(plan, note))
        same = [n for n in after if n.code == note.code and set(n.tracks) == set(note.tracks)]
        left = max((RANK[n.severity] for n in same), default=-1)
        new = [(n.code, list(n.tracks)) for n in after if n.severity == "problem" and (n.code, n.tracks) not in old_problems]
        print(json.dumps({"case": job["case"], "code": note.code, "severity": note.severity, "tracks": list(note.tracks),
                          "outcome": "gone" if left < 0 else "lower" if left < RANK[note.severity] else "stays",
                          "new_problems": new}), flush=True)
"""


def bench_fixes(rows: list[dict], songs: dict[str, str], *, target: str) -> dict:
    """Apply every patch fix on the clean and "clear" stem inputs (``_FIXES_CHILD``) and count what happens."""
    jobs = [dict(case=r["case"], input=str(bl.REPO_DIR / r["input"]), genre=songs[r["song"]])
            for r in rows if r["kind"] == "stem" and r.get("input") and r.get("strength") in (None, "clear")
            and (bl.REPO_DIR / r["input"]).is_dir()]
    if not jobs:
        return dict(skipped="no stem inputs on disk")
    log(f"== fixes: every patch fix on {len(jobs)} stem inputs (clean and clear), applied and evaluated again")
    t0 = time.perf_counter()
    res = subprocess.run([bl.PYTHON, "-c", _FIXES_CHILD, target], input="".join(json.dumps(j) + "\n" for j in jobs),
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S * 4)
    found = [json.loads(ln) for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0:
        return dict(error=f"fixes child exit {res.returncode}: " + " | ".join(res.stderr.strip().splitlines()[-3:]),
                    partial=found)
    by_code: dict[str, dict] = {}
    for f in found:
        c = by_code.setdefault(f["code"], dict(fixes=0, gone=0, lower=0, stays=0, new_problem=0))
        c["fixes"] += 1
        c[f["outcome"]] += 1
        c["new_problem"] += bool(f["new_problems"])
    total = dict(fixes=len(found), gone=sum(f["outcome"] == "gone" for f in found),
                 lower=sum(f["outcome"] == "lower" for f in found), stays=sum(f["outcome"] == "stays" for f in found),
                 new_problem=sum(bool(f["new_problems"]) for f in found))
    return dict(inputs=len(jobs), wall_s=round(time.perf_counter() - t0, 1), total=total, by_code=by_code,
                failures=[f for f in found if f["outcome"] == "stays" or f["new_problems"]])


def build_timing_set(songs: list[str], *, seed: int) -> Path:
    """TIMING_TRACKS stems of TIMING_DURATION_S from the real ones (cycling songs and tracks, looped), kept."""
    return bm.build_excerpt_set(OUT_DIR / "timing" / f"{TIMING_TRACKS}x{TIMING_DURATION_S:.0f}", songs,
                                num_stems=TIMING_TRACKS, duration_s=TIMING_DURATION_S, seed=seed, perturb=False)


def bench_timing(songs: list[str], *, seed: int, repeats: int, session_spec: str) -> dict:
    probe = subprocess.run([bl.PYTHON, "-c", f"import importlib; m = importlib.import_module({session_spec.split(':')[0]!r});"
                            f" getattr(m, {session_spec.split(':')[1]!r})"], capture_output=True, text=True)
    if probe.returncode != 0:
        return dict(skipped=f"{session_spec} is not importable: " + (probe.stderr.strip().splitlines() or ["?"])[-1])
    mix_cmd, note = bl.find_mixlab("mix")
    if mix_cmd is None:
        return dict(skipped=f"no `mixlab mix` to make the plan: {note}")
    d = build_timing_set(songs, seed=seed)
    work = OUT_DIR / "timing"
    plan = work / "plan.json"
    log(f"== timing: {TIMING_TRACKS} x {TIMING_DURATION_S:.0f} s in {d.relative_to(bl.REPO_DIR)}; plan by mixlab mix --plan-out")
    r = bm.run_child(mix_cmd + ["mix", str(d), "-o", str(work / "mix.wav"), "--plan-out", str(plan),
                                "--genre", bm.DEFAULT_GENRE], timeout_s=SUBPROCESS_TIMEOUT_S)
    if r["returncode"] != 0:
        return dict(error="mixlab mix: " + " | ".join((r["stderr"] or r["stdout"]).strip().splitlines()[-3:]))
    log(f"  plan: {r['wall_s']:.1f} s; timing {repeats} x (fader, pan, EQ) changes ...")
    t = bm.run_child([bl.PYTHON, "-c", _TIMING_CHILD, session_spec, str(d), str(plan), bm.DEFAULT_GENRE, str(repeats),
                      str(seed)], timeout_s=SUBPROCESS_TIMEOUT_S)
    lines = [ln for ln in t["stdout"].strip().splitlines() if ln.startswith("{")]
    if t["returncode"] != 0 or not lines:
        return dict(error=f"timing child exit {t['returncode']}: " + " | ".join(t["stderr"].strip().splitlines()[-3:]))
    res = json.loads(lines[-1])
    if "skipped" in res:
        return res
    out = dict(tracks=TIMING_TRACKS, duration_s=TIMING_DURATION_S, repeats=repeats, plan_wall_s=round(r["wall_s"], 1),
               from_stems_s=res["from_stems_s"], first_evaluate_s=res["first_evaluate_s"],
               first_notes=res["first_notes"], notes_range=[res["notes_min"], res["notes_max"]],
               peak_rss_mb=t["peak_rss_mb"], changes={})
    allt = []
    for k, v in res["times_s"].items():
        ms = sorted(1000.0 * x for x in v)
        allt += ms
        out["changes"][k] = dict(n=len(ms), median_ms=statistics.median(ms), p95_ms=percentile(ms, 95), max_ms=ms[-1])
    allt.sort()
    out["all"] = dict(n=len(allt), median_ms=statistics.median(allt), p95_ms=percentile(allt, 95),
                      bar_ms=TIMING_MAX_MS, met=percentile(allt, 95) <= TIMING_MAX_MS)
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of an already sorted list (numpy's default method)."""
    return float(np.percentile(np.asarray(sorted_values), q))


# =========================================================================== self-test
def _check(ok: bool, detail=None) -> None:
    if not ok:
        raise RuntimeError(f"self-test failed: {detail!r}")


def synthetic_song(sample_rate: int = 44100, duration_s: float = 12.0, seed: int = 3) -> Song:
    """Five made-up stems (kick, bass with gaps, pad, hats, voice) shaped like the real material."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    beat = (t % 0.5)
    kick = np.sin(2 * math.pi * 55 * t) * np.exp(-beat / 0.08) * 0.5
    gate = ((t % 4.0) < 3.0).astype(float)
    bass = sum(np.sin(2 * math.pi * k * 55 * t) / k for k in range(1, 6)) * 0.15 * gate
    pad = sum(np.sin(2 * math.pi * f * t + rng.uniform(0, 6)) for f in (220.0, 277.2, 329.6, 440.0, 554.4)) * 0.03
    hats = ss.sosfilt(ss.butter(4, 7000, "high", fs=sample_rate, output="sos"), rng.standard_normal(n)) \
        * np.exp(-(t % 0.25) / 0.03) * 0.3
    voice_gate = ((t % 6.0) < 4.0).astype(float)
    voice = (sum(np.sin(2 * math.pi * k * 220 * t) / k ** 1.5 for k in range(1, 12)) * 0.08
             + ss.sosfilt(ss.butter(2, [4000, 10000], "band", fs=sample_rate, output="sos"), rng.standard_normal(n))
             * 0.02 * (np.sin(2 * math.pi * 3 * t) > 0.7)) * voice_gate
    mono = {"01-kick.wav": kick, "02-bass.wav": bass, "03-pad.wav": pad, "04-hihat.wav": hats, "05-voice.wav": voice}
    stems = []
    total = np.zeros((2, n))
    for f, m in mono.items():
        x = np.stack([m, m * 0.9]) if f != "03-pad.wav" else np.stack([m, np.roll(m, 300)])
        x = fade_edges(x, sample_rate)
        total += x
        stems.append(describe_stem(f, x, sample_rate))
    tp = bl.true_peak_dbtp(total, sample_rate)
    g = min(0.0, INPUT_TP_DBTP - tp)
    for st in stems:
        st.audio = st.audio * db_to_lin(g)
        st.lufs += g
        st.active_db += g
        st.block_p = st.block_p * db_to_lin(g) ** 2
        st.bands_db = st.bands_db + g
    mix = total * db_to_lin(g)
    s = Song(song="synthetic", sample_rate=sample_rate, start_s=0.0, duration_s=duration_s, stems=stems, left_out=[],
             stems_gain_db=g, mix=mix, mix_gain_db=g, mix_lufs=bl.bs1770_loudness(mix, sample_rate),
             mix_tp_dbtp=bl.true_peak_dbtp(mix, sample_rate), stems_sum_tp_dbtp=tp + g, genre="balanced")
    s.stem_by_name = {st.name: st for st in stems}
    s.lead, s.bass = pick_lead(s), pick_bass(s)
    return s


def self_test() -> int:
    """Planting (every code and strength on a synthetic song) and scoring, without mixlab."""
    t_start = time.perf_counter()
    sr = 44100
    rng = np.random.default_rng(11)
    # The limiter: never over its ceiling; the min filter covers [n - hold, n + lookahead].
    x = rng.standard_normal((2, sr)) * 0.2
    x[:, 20000] = 3.0
    y = limit(x, sr, ceiling_lin=0.5)
    _check(float(np.abs(y).max()) <= 0.5 + 1e-12, float(np.abs(y).max()))
    imp = np.ones(1000)
    imp[500] = 0.0
    g1 = scipy.ndimage.minimum_filter1d(imp, size=20 + 5 + 1, origin=20 - 26 // 2, mode="nearest")
    _check(list(np.flatnonzero(g1 == 0.0)) == list(range(495, 521)), np.flatnonzero(g1 == 0.0))
    # Filters and helpers against theory.
    _check(abs(sos_gain_db(rbj_sos("peak", 1000.0, 6.0, 1.0, sr), 1000.0, sr) - 6.0) < 1e-9)
    _check(abs(sos_gain_db(rbj_sos("low_shelf", 100.0, 8.0, 0.7, sr), 20.0, sr) - 8.0) < 0.2)
    _check(abs(sos_gain_db(rbj_sos("high_shelf", 5000.0, -4.0, 0.7, sr), 18000.0, sr) + 4.0) < 0.2)
    low, high = zero_phase_split(x, sr, 150.0)
    _check(np.allclose(low + high, x, atol=1e-12))
    h = hum_signal(sr, sr, 50.0, rng)
    _check(abs(power_db(h)) < 1e-9)
    _check(time_ranges(np.r_[np.zeros(100), np.ones(10), np.zeros(44100 * 2), np.ones(5)].astype(bool), sr)
           == [[round(100 / sr, 3), round(110 / sr, 3)], [round((110 + 88200) / sr, 3), round((110 + 88205) / sr, 3)]])
    _check(name_role("08-bassdrum_acoustic01") == "drum" and name_role("13-bassslap01") == "bass"
           and name_role("03-LB-302-lb302") == "bass" and name_role("12-Voice-01-Vocal-Morph-4") == "voice"
           and name_role("02-bass-zynaddsubfx") == "bass" and name_role("11-gated-sub") == "bass"
           and name_role("01-pad-Synth-Pad3") == "other" and name_role("02-U-don-t-know---Snare") == "drum")

    # Every planting on the synthetic song: each must pass its own checks.
    s = synthetic_song()
    _check(s.lead == "05-voice" and s.bass == "02-bass", (s.lead, s.bass))
    done = []
    for kind, table in (("stem", STEM_DEFECTS), ("mix", MIX_DEFECTS)):
        for code, (values, _) in table.items():
            for i, strength in enumerate(STRENGTHS):
                if values is None and strength != "clear":
                    continue
                value = None if values is None else values[i]
                pl = (plant_stem if kind == "stem" else plant_mix)(code, s, value, stem_rng(0, s.song, kind, code))
                _check(pl.skip is None, (kind, code, pl.skip))
                _check(not pl.checks, (kind, code, strength, pl.checks, pl.measured))
                if kind == "stem":
                    _check(pl.files and pl.tracks, (code, pl.files.keys(), pl.tracks))
                    for f, (a, rate) in pl.files.items():
                        _check(a.shape[0] == 2 and np.isfinite(a).all(), (code, f))
                else:
                    _check(pl.mix is not None and pl.mix.shape == s.mix.shape and np.isfinite(pl.mix).all(), code)
                done.append((kind, code, strength, pl))
    by = {(k, c, st): pl for k, c, st, pl in done}
    # Known answers, spot checks against the numbers asked for.
    _check(by[("mix", "true_peak_over", "clear")].measured["true_peak_dbtp"] == 1.0)
    _check(abs(by[("mix", "too_quiet", "clear")].measured["lufs"] + 30.0) < 0.05)
    pl = by[("stem", "dc_offset", "clear")]
    (a, _), = pl.files.values()
    _check(abs(float(a.mean()) - (db_to_lin(-30.0) + pl.params["stem_mean_before"])) < 1e-6)
    pl = by[("stem", "polarity", "strong")]
    _check(pl.measured["correlation"] < -0.9 and pl.measured["pair_vs_power_sum_db"] < -6.0, pl.measured)
    pl = by[("stem", "phase_cancellation", "strong")]
    _check(0.3 <= pl.params["delay_ms"] <= 1.0 and abs(pl.measured["pair_vs_power_sum_db"]) > 0.5, pl.measured)
    pl = by[("stem", "clipping_lowered", "clear")]
    _check(pl.measured["clipped_sample_pct"] > 0.5 and pl.measured["distortion_db"] > -40.0, pl.measured)
    _check(by[("stem", "hum", "clear")].measured["audible_pct"] >= 47.0, by[("stem", "hum", "clear")].measured)
    _check(47.0 <= by[("mix", "hum", "clear")].measured["audible_pct"] <= 60.0, by[("mix", "hum", "clear")].measured)
    for kind in ("stem", "mix"):
        lv = [by[(kind, "hum", st)].measured["hum_rms_dbfs"] for st in STRENGTHS]
        _check(lv[0] <= lv[1] <= lv[2], (kind, lv))
    _check(by[("mix", "hum", "subtle")].measured["hum_rms_dbfs"] < by[("mix", "hum", "strong")].measured["hum_rms_dbfs"])
    pl = by[("stem", "clipping", "clear")]
    _check(pl.ranges and pl.measured["clipped_sample_pct"] > 0.1 and pl.params["stem_gain_db"] > 8.0, pl.measured)
    _check(by[("mix", "mono_compatibility", "clear")].measured["mono_low_change_db"] < -20.0)
    _check(by[("mix", "mono_compatibility", "strong")].measured["correlation_after"] < -0.5)
    _check(by[("mix", "clipping", "clear")].ranges, "clipping ranges")
    _check(by[("stem", "silent_track", "clear")].tracks == ["06-Audio-Track"])
    tw = by[("stem", "polarity", "clear")].tracks
    _check(len(tw) == 2 and tw[1] == f"06-{base_name(tw[0])}-mic2", tw)
    # Strengths of one code share stem and range (same seed).
    _check(by[("stem", "hum", "subtle")].ranges == by[("stem", "hum", "strong")].ranges
           and by[("stem", "hum", "subtle")].tracks == by[("stem", "hum", "strong")].tracks)

    # Scoring.
    planted_r = [[10.0, 20.0]]
    def note(code, sev="warn", tracks=(), ranges=()):
        return dict(code=code, severity=sev, tracks=list(tracks), ranges=[dict(start_s=a, end_s=b) for a, b in ranges])
    doc = dict(schema=NOTES_SCHEMA, notes=[note("hum", tracks=["03-pad"], ranges=[(19.8, 30.0)]),
                                           note("clipping", "problem", tracks=["02-bass"])])
    sc = score_case(doc, "hum", planted_r, ["03-pad"])
    _check(sc["found"] and sc["severity"] == "warn" and len(sc["side_notes"]) == 1, sc)
    _check(not score_case(doc, "hum", planted_r, ["02-bass"])["found"])                     # wrong track
    _check(score_case(doc, "hum", planted_r, ["02-bass"])["same_code_misses"][0]["why"].startswith("tracks"))
    _check(not score_case(doc, "hum", [[31.0, 40.0]], ["03-pad"])["found"])                  # no overlap
    _check(score_case(doc, "hum", [[30.3, 40.0]], ["03-pad"])["found"])                      # within the tolerance
    _check(score_case(doc, "hum", [], ["03-pad"])["found"])                                  # planted over the whole input
    _check(score_case(doc, "clipping", planted_r, ["02-bass"])["found"])                     # note over the whole input
    _check(score_case(doc, "clipping", planted_r, [])["found"])                              # mix case: no track needed
    _check(score_case(doc, "clipping", planted_r, ["x", "02-bass"])["found"])                # twin: either of the pair
    _check(not score_case(doc, "dc_offset", [], [])["found"])
    _check(validate_doc(doc) is None and validate_doc(dict(schema="x", notes=[])) is not None)
    _check(count_severities(doc) == {"problem": 1, "warn": 1, "info": 0})
    rows = [dict(case="a", song="x", kind="stem", code="hum", strength="clear", valid=True, found=True,
                 side_notes=[dict(code="clipping", severity="problem", tracks=[], on_planted_track=False)]),
            dict(case="b", song="x", kind="stem", code="hum", strength="clear", valid=True, found=False, side_notes=[]),
            dict(case="c", song="x", kind="stem", code="hum", strength="strong", valid=False, found=False),
            dict(case="d", song="x", kind="stem", code=None, strength=None, counts={"problem": 2},
                 notes=[dict(code="clipping", severity="problem"), dict(code="hum", severity="problem")])]
    rows[0].update(tracks=["03-pad"], ranges=[[10.0, 20.0]], severity="warn")
    rows[1].update(tracks=["02-bass"], ranges=[])
    rows.append(dict(case="e", song="x", kind="stem", code="hum", strength="strong", valid=True, found=True,
                     severity="problem", tracks=["02-bass"], ranges=[], side_notes=[]))
    rows.append(dict(case="f", song="x", kind="stem", code="hum", strength="strong", valid=True, found=True,
                     severity="warn", tracks=["02-bass"], ranges=[], side_notes=[]))
    rows[3]["notes"] = [dict(code="hum", severity="problem", tracks=["03-pad"], ranges=[dict(start_s=0.0, end_s=5.0)]),
                        dict(code="hum", severity="warn", tracks=["02-bass"], ranges=[])]
    mark_pre_existing(rows)
    # a: found, clean's match is elsewhere in time; b: a miss stays a miss; e: found at a higher severity
    # than the clean control's note; f: found at the clean control's severity (undecidable).
    _check([r.get("already_on_clean") for r in rows] == [False, False, False, None, False, True], rows)
    tables = recall_tables(rows)
    _check(tables == {"stem": {"hum": {"clear": [1, 2, 1, 2], "strong": [2, 2, 1, 1]}}}, tables)
    rows = rows[:4]
    summ = recall_summary(tables)
    _check(summ["clear"]["recall"] == 0.5 and not summ["clear_met"] and summ["strong"]["recall_decidable"] == 1.0
           and summ["strong"]["decidable"] == 1)
    cl = clean_summary(rows)
    _check(cl[0]["problems"] == 1 and cl[0]["met"] and cl[0]["warn_codes"] == ["hum"], cl)
    side = side_summary(rows)
    _check(side["clipping"]["problem"] == 1 and side["clipping"]["new_problem"] == 1, side)  # clean: hum only
    log(f"self-test passed in {time.perf_counter() - t_start:.1f} s: {len(done)} plantings verified (stem and mix, every"
        f" code and strength); limiter ceiling and window; filters; scoring (code, range overlap and tolerance, whole"
        f" input, track, twins); summaries")
    for kind, code, strength, pl in done:
        if strength == "clear":
            log(f"  {kind:4s} {code:22s} {', '.join(f'{k}={v}' for k, v in pl.measured.items())}")
    return 0


# =========================================================================== main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--songs", nargs="*", help="song ids (default: every song with stems)")
    ap.add_argument("--codes", help=f"comma-separated codes to plant (default all: {','.join(ALL_CODES)})")
    ap.add_argument("--strengths", default=",".join(STRENGTHS), help="comma-separated, of subtle,clear,strong")
    ap.add_argument("--skip", nargs="*", default=[], choices=["timing", "stems", "mix", "fixes"], help="leave parts out")
    ap.add_argument("--excerpt-s", type=float, default=DEFAULT_EXCERPT_S, help="excerpt length per song (default 60)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the plantings (default 0)")
    ap.add_argument("--target", default="spotify", help="platform passed to mixlab notes --target (default spotify)")
    ap.add_argument("--no-cache", action="store_true", help="pass --no-cache to mixlab notes (slower; the cache is"
                    " keyed by file content, so it is safe to use)")
    ap.add_argument("--repeats", type=int, default=TIMING_REPEATS, help="timed changes per kind (default 50)")
    ap.add_argument("--plant-only", action="store_true", help="plant and verify, write the inputs, run no mixlab")
    ap.add_argument("--snapshot", nargs="?", const="HEAD", metavar="REV",
                    help="benchmark mixlab's src/ as committed at REV (default HEAD), not the working tree")
    ap.add_argument("--mixlab-cmd", help="run this command instead of .venv/bin/mixlab (e.g. a stand-in for testing)")
    ap.add_argument("--notes-session", default="mixlab.engine.notes:NotesSession",
                    help="MODULE:CLASS timed by the timing part (default mixlab.engine.notes:NotesSession)")
    ap.add_argument("--self-test", action="store_true", help="check the planting and scoring code on synthetic audio")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    skip = set(args.skip)
    codes = set(ALL_CODES) if not args.codes else {c.strip() for c in args.codes.split(",") if c.strip()}
    unknown = codes - set(ALL_CODES)
    if unknown:
        raise SystemExit(f"unknown codes {sorted(unknown)}; known: {ALL_CODES}")
    strengths = [x.strip() for x in args.strengths.split(",") if x.strip()]
    if set(strengths) - set(STRENGTHS):
        raise SystemExit(f"strengths are {STRENGTHS}")
    mixlab_src = bl.snapshot_src(args.snapshot) if args.snapshot else bl.REPO_DIR / "src"
    if args.snapshot:
        log(f"mixlab source: snapshot of {args.snapshot} in {mixlab_src}")

    all_songs = bm.available_songs()
    if not all_songs:
        raise SystemExit("no stems in bench/songs/stems/: run bench/render_stems.py first")
    songs = all_songs
    if args.songs:
        missing = set(args.songs) - set(all_songs)
        if missing:
            raise SystemExit(f"no stems for {sorted(missing)}; have {all_songs}")
        songs = [s for s in all_songs if s in args.songs]

    mixlab_cmd, help_text = None, ""
    if args.plant_only:
        mixlab_note = "not run (--plant-only)"
    elif args.mixlab_cmd:
        mixlab_cmd, mixlab_note = shlex.split(args.mixlab_cmd), f"--mixlab-cmd {args.mixlab_cmd}"
    else:
        mixlab_cmd, mixlab_note = bl.find_mixlab("notes")
    if mixlab_cmd is None and not args.plant_only:
        log(f"mixlab notes: NOT AVAILABLE ({mixlab_note}); planting and writing the inputs only")
    elif mixlab_cmd:
        help_text = subprocess.run(mixlab_cmd + ["notes", "--help"], capture_output=True, text=True).stdout
        log(f"mixlab: {' '.join(mixlab_cmd)} ({mixlab_note})")
    versions = dict(repo=subprocess.run(["git", "-C", str(bl.REPO_DIR), "describe", "--always", "--dirty"],
                                        capture_output=True, text=True).stdout.strip(),
                    mixlab_source=(f"git {args.snapshot} snapshot" if args.snapshot else "working tree") + f": {mixlab_src}")
    if mixlab_cmd:
        res = subprocess.run(mixlab_cmd + ["--version"], capture_output=True, text=True)
        versions["mixlab"] = (res.stdout or res.stderr).strip()

    started = dt.datetime.now().astimezone()
    kinds = {"stem", "mix"} - {k.rstrip("s") for k in skip if k in ("stems", "mix")}
    rows: list[dict] = []
    song_info = []
    for sid in songs if kinds else []:
        t0 = time.perf_counter()
        s = load_song(sid, excerpt_s=args.excerpt_s)
        for old in OUT_DIR.glob(f"{sid}-*"):
            shutil.rmtree(old, ignore_errors=True)
        log(f"== {sid}: excerpt {s.start_s:.0f}-{s.start_s + s.duration_s:.0f} s, {len(s.stems)} stems"
            f"{f' ({len(s.left_out)} silent there, left out)' if s.left_out else ''}, genre {s.genre}; stems x"
            f" {s.stems_gain_db:+.1f} dB (sum {s.stems_sum_tp_dbtp:.1f} dBTP), mix x {s.mix_gain_db:+.1f} dB"
            f" ({s.mix_lufs:.1f} LUFS, {s.mix_tp_dbtp:.1f} dBTP); lead {s.lead}, bass {s.bass}"
            f" [{time.perf_counter() - t0:.0f} s]")
        song_info.append(dict(song=sid, genre=s.genre, excerpt_start_s=s.start_s, excerpt_s=s.duration_s,
                              stems=[dict(name=st.name, lufs=round(st.lufs, 2), role_by_name=st.role,
                                          active_pct=round(100 * st.active_frac, 1), gap_pct=round(100 * st.gap_frac, 1),
                                          hf_share_db=round(st.hf_share_db, 1)) for st in s.stems],
                              left_out=s.left_out, stems_gain_db=s.stems_gain_db, stems_sum_tp_dbtp=s.stems_sum_tp_dbtp,
                              mix_gain_db=s.mix_gain_db, mix_lufs=s.mix_lufs, mix_tp_dbtp=s.mix_tp_dbtp, lead=s.lead,
                              lead_by=s.lead_by, bass=s.bass))
        for spec in case_specs(s, kinds=kinds, codes=codes, strengths=strengths):
            row = run_case(spec, s, seed=args.seed, mixlab_cmd=mixlab_cmd, help_text=help_text, target=args.target,
                           no_cache=args.no_cache)
            rows.append(row)
            label = f"{spec.kind} {spec.code or 'CLEAN'} {spec.strength or ''}".strip()
            log(f"  {label:38s} {describe_row(row)}")
        del s

    fixes = None
    if "fixes" not in skip and not args.plant_only and "stem" in kinds:
        try:
            fixes = bench_fixes(rows, {i["song"]: i["genre"] for i in song_info}, target=args.target)
        except Exception as exc:  # the accuracy results still get written
            fixes = dict(error=f"{type(exc).__name__}: {exc}")

    timing = None
    if "timing" not in skip and not args.plant_only:
        try:
            timing = bench_timing(all_songs, seed=args.seed, repeats=args.repeats, session_spec=args.notes_session)
        except Exception as exc:  # the accuracy results still get written
            timing = dict(error=f"{type(exc).__name__}: {exc}")
        if "skipped" in timing:
            log(f"timing: SKIPPED: {timing['skipped']}")

    mark_pre_existing(rows)
    tables = recall_tables(rows)
    summary = recall_summary(tables) if tables else {}
    clean = clean_summary(rows)
    side = side_summary(rows)
    print_report(rows, tables, summary, clean, side, timing, fixes)
    walls = [r["wall_s"] for r in rows if "wall_s" in r]
    out = dict(schema=SCHEMA, started=started.isoformat(timespec="seconds"),
               finished=dt.datetime.now().astimezone().isoformat(timespec="seconds"), versions=versions,
               mixlab=mixlab_note if mixlab_cmd else f"not run: {mixlab_note}",
               settings=dict(base_seed=args.seed, excerpt_s=args.excerpt_s, target=args.target, codes=sorted(codes),
                             strengths=strengths, range_tolerance_s=RANGE_TOL_S, input_true_peak_dbtp=INPUT_TP_DBTP,
                             clear_recall_bar=CLEAR_RECALL_BAR, clean_max_problems=CLEAN_MAX_PROBLEMS,
                             stem_defects={k: dict(values=v, unit=u) for k, (v, u) in STEM_DEFECTS.items()},
                             mix_defects={k: dict(values=v, unit=u) for k, (v, u) in MIX_DEFECTS.items()}),
               songs=song_info, recall=tables, recall_summary=summary, clean=clean, side_notes=side, timing=timing,
               fixes=fixes,
               notes_runs=dict(n=len(walls), wall_s_total=round(sum(walls), 1),
                               wall_s_median=round(statistics.median(walls), 2) if walls else None),
               cases=rows)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    bl.write_json(OUT_DIR / "results.json", out)
    bl.write_json(OUT_DIR / f"results-{stamp}.json", out)
    log(f"\n{len(rows)} cases, {len(walls)} mixlab notes runs ({sum(walls):.0f} s); wrote {OUT_DIR / 'results.json'}"
        f" (and results-{stamp}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
