"""Meters and helpers shared by the benchmark scripts (not part of the mixlab package).

Everything here is written independently of ``mixlab`` so the benchmark can judge it:

* ``bs1770_loudness``: integrated loudness per ITU-R BS.1770-4 (K-weighting, 400 ms blocks with
  75 % overlap, absolute gate -70 LUFS, relative gate -10 LU), with the K-weighting biquads
  derived for any sample rate from the analogue prototypes (as libebur128 does).
* ``true_peak_dbtp``: 4x oversampled peak (BS.1770-4 Annex 2) with a Kaiser-windowed sinc
  interpolator (+-128 input samples, cut at the input's Nyquist), then refined at 1/64-sample
  steps around every 4x peak that could hide a higher inter-sample peak (a 4x grid reads up
  to 0.69 dB low near Nyquist).
* ``ffmpeg_ebur128``: the cross-check, ffmpeg's own ``ebur128=peak=true`` filter (libavfilter's
  meter, true peak by resampling to 192 kHz).
* ``third_octave_levels_db``: Welch power spectrum (Hann, 32768-point segments, 50 % overlap,
  averaged over channels) summed into ISO 266 base-10 third-octave bands.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SONGS_DIR = BENCH_DIR / "songs"
OUT_DIR = BENCH_DIR / "out"
MANIFEST = SONGS_DIR / "manifest.json"
VENV_BIN = REPO_DIR / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable

# ISO 266 third-octave centre frequencies 1000 * 10^(k/10), k = -14 .. 12: 39.8 Hz .. 15.85 kHz
# (nominally 40 Hz .. 16 kHz). Band edges are centre * 10^(-+1/20).
THIRD_OCTAVE_CENTRES_HZ = 1000.0 * 10.0 ** (np.arange(-14, 13) / 10.0)
THIRD_OCTAVE_EDGES_HZ = np.stack(
    [THIRD_OCTAVE_CENTRES_HZ * 10.0 ** (-1 / 20), THIRD_OCTAVE_CENTRES_HZ * 10.0 ** (1 / 20)], axis=1
)
WELCH_NPERSEG = 32768

LOG_FLOOR = 1e-20


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any file soundfile can (WAV, FLAC, MP3 with encoder delay trimmed).

    Returns ``(audio, sample_rate)`` with audio shaped ``(channels, samples)``, float64.
    """
    data, sample_rate = sf.read(str(path), dtype="float64", always_2d=True)
    return np.ascontiguousarray(data.T), int(sample_rate)


# --------------------------------------------------------------------------- BS.1770 loudness
def _k_weighting_sos(sample_rate: int) -> np.ndarray:
    # Stage 1, high shelf (head effects); stage 2, RLB high-pass. Analogue parameters fitted to the
    # 48 kHz coefficients of BS.1770-4 Table 1/2, re-derived per rate (libebur128, ebur128.c).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    shelf_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    hp_b = [1.0, -2.0, 1.0]
    hp_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf_b + shelf_a, hp_b + hp_a])


def bs1770_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of ``(channels, samples)`` audio (channel weights 1.0: mono/stereo)."""
    return loudness_from_block_powers(bs1770_block_powers(audio, sample_rate))


def bs1770_block_powers(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Channel-summed K-weighted mean square of every 400 ms block (75 % overlap), BS.1770-4 eq. 1-2.

    The filters are linear, so the audio scaled by ``g`` has block powers scaled by ``g**2``:
    ``loudness_from_block_powers(p, gain_db=...)`` gives its loudness, gates included, without
    filtering again.
    """
    y = ss.sosfilt(_k_weighting_sos(sample_rate), audio, axis=1)
    block = int(round(0.4 * sample_rate))
    hop = int(round(0.1 * sample_rate))
    n = y.shape[1]
    if n < block:
        return np.zeros(0)
    # Mean square per 400 ms block (75 % overlap) via a cumulative sum (BS.1770-4 eq. 1).
    csum = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y * y, axis=1)], axis=1)
    starts = np.arange(0, n - block + 1, hop)
    z = (csum[:, starts + block] - csum[:, starts]) / block  # (channels, blocks)
    return z.sum(axis=0)


def loudness_from_block_powers(zsum: np.ndarray, *, gain_db: float = 0.0) -> float:
    """Gated integrated loudness (LUFS) from ``bs1770_block_powers``, optionally after a gain."""
    if zsum.size == 0:
        return float("-inf")
    zsum = zsum * 10.0 ** (gain_db / 10.0)
    lk = -0.691 + 10.0 * np.log10(np.maximum(zsum, LOG_FLOOR))  # eq. 4
    gated = lk > -70.0  # absolute gate
    if not gated.any():
        return float("-inf")
    rel = -0.691 + 10.0 * math.log10(max(zsum[gated].mean(), LOG_FLOOR)) - 10.0  # eq. 6
    gated &= lk > rel
    return float(-0.691 + 10.0 * math.log10(max(zsum[gated].mean(), LOG_FLOOR)))  # eq. 7


# --------------------------------------------------------------------------- true peak
# Interpolator: a Kaiser-windowed sinc (beta 10) cut exactly at the input's Nyquist frequency and
# spanning +-128 input samples, i.e. close to ideal band-limited reconstruction (flat to ~21.5 kHz
# at 44.1 kHz).
_TP_HALF_SPAN = 128
_TP_BETA = 10.0
_TP_UP = 4
_TP_FIR = ss.firwin(2 * _TP_HALF_SPAN * _TP_UP + 1, 1.0 / _TP_UP, window=("kaiser", _TP_BETA)) * _TP_UP
# Worst-case under-read of a 4x grid for a sinusoid at the input's Nyquist: 20 log10(cos(pi/8)).
_TP_GRID_LOSS_DB = -20.0 * math.log10(math.cos(math.pi / 8))  # 0.688 dB
_TP_FINE_STEPS = 16  # refine between 4x grid points in steps of 1/64 input sample


def _windowed_sinc_matrix(frac_positions: np.ndarray) -> np.ndarray:
    """Interpolation taps, shape (2 * span + 2, len(frac)), for positions b + frac from x[b - span .. b + span + 1]."""
    i = np.arange(-_TP_HALF_SPAN, _TP_HALF_SPAN + 2)[:, None]
    t = frac_positions[None, :] - i
    half = _TP_HALF_SPAN + 1.0
    w = np.i0(_TP_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None))) / np.i0(_TP_BETA)
    return np.sinc(t) * w


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP over all channels, without the 4x grid's under-read.

    Stage 1 oversamples 4x (BS.1770-4 Annex 2). A 4x grid can read up to 0.69 dB low for content
    near Nyquist, so stage 2 re-evaluates the band-limited signal at 1/64-sample steps around every
    4x-grid local maximum within that margin of the stage-1 maximum. The result is the stage-2
    maximum (never below the sample peak).
    """
    num_channels, n = audio.shape
    if n == 0:
        return 20.0 * math.log10(LOG_FLOOR)
    grids = []
    stage1 = 0.0
    fir32 = _TP_FIR.astype(np.float32)
    for ch in audio:
        # float32 is plenty for finding candidates; stage 2 evaluates the peaks in float64.
        ch32 = ch.astype(np.float32)
        y = np.empty(n * _TP_UP, dtype=np.float32)
        delay = _TP_HALF_SPAN  # each phase filter is centred: output index n + delay aligns with input n
        for phase in range(_TP_UP):
            full = ss.oaconvolve(ch32, fir32[phase::_TP_UP])
            y[phase::_TP_UP] = full[delay:delay + n]
        np.abs(y, out=y)
        grids.append(y)
        stage1 = max(stage1, float(y.max()))
    if stage1 <= 0.0:
        return 20.0 * math.log10(LOG_FLOOR)
    threshold = stage1 * 10.0 ** (-(_TP_GRID_LOSS_DB + 0.05) / 20.0)  # 0.05 dB: float32 stage 1
    best = float(np.abs(audio).max())
    offsets = np.arange(-_TP_FINE_STEPS, _TP_FINE_STEPS + 1) / (_TP_FINE_STEPS * _TP_UP)
    for ch, y in zip(audio, grids):
        padded = np.concatenate([np.zeros(_TP_HALF_SPAN), ch, np.zeros(_TP_HALF_SPAN + 2)])
        idx = np.flatnonzero(y >= threshold)
        if idx.size == 0:
            continue
        left = y[np.maximum(idx - 1, 0)]
        right = y[np.minimum(idx + 1, y.size - 1)]
        idx = idx[(y[idx] >= left) & (y[idx] >= right)]  # local maxima of the 4x grid
        for phase in range(_TP_UP):
            sel = idx[idx % _TP_UP == phase] // _TP_UP  # input sample b; grid point at b + phase/4
            if sel.size == 0:
                continue
            taps = _windowed_sinc_matrix(phase / _TP_UP + offsets)
            gather = np.arange(2 * _TP_HALF_SPAN + 2)
            for start in range(0, sel.size, 8192):
                b = sel[start:start + 8192]
                windows = padded[b[:, None] + gather[None, :]]  # x[b - span .. b + span + 1]
                best = max(best, float(np.abs(windows @ taps).max()))
    return 20.0 * math.log10(max(best, LOG_FLOOR))


def sample_peak_dbfs(audio: np.ndarray) -> float:
    return 20.0 * math.log10(max(float(np.abs(audio).max(initial=0.0)), LOG_FLOOR))


def clipped_samples(audio: np.ndarray) -> int:
    """Samples at or beyond one 16-bit LSB below full scale (|x| >= 1 - 2^-15), all channels."""
    return int(np.count_nonzero(np.abs(audio) >= 1.0 - 2.0 ** -15))


# --------------------------------------------------------------------------- spectrum
def third_octave_levels_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power per third-octave band (dB, arbitrary reference) over 40 Hz - 16 kHz; shape (27,)."""
    nperseg = min(WELCH_NPERSEG, audio.shape[1])
    freqs, psd = ss.welch(audio, fs=sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg // 2,
                          axis=1, scaling="density")
    psd = psd.mean(axis=0)
    df = freqs[1] - freqs[0]
    levels = []
    for lo, hi in THIRD_OCTAVE_EDGES_HZ:
        sel = (freqs >= lo) & (freqs < hi)
        levels.append(10.0 * math.log10(max(float(psd[sel].sum() * df), LOG_FLOOR)))
    return np.array(levels)


def tonal_match_error_db(levels_a_db: np.ndarray, loudness_a_lufs: float,
                         levels_b_db: np.ndarray, loudness_b_lufs: float) -> float:
    """RMS over bands of the difference of two loudness-normalised third-octave spectra (dB)."""
    diff = (levels_a_db - loudness_a_lufs) - (levels_b_db - loudness_b_lufs)
    return float(np.sqrt(np.mean(diff ** 2)))


# --------------------------------------------------------------------------- ffmpeg meter
@dataclass(frozen=True)
class FfmpegMeter:
    integrated_lufs: float
    true_peak_dbtp: float
    lra_lu: float


def ffmpeg_bin() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        raise SystemExit("ffmpeg not found: apt-get install ffmpeg")
    return path


def ffmpeg_ebur128(path: str | Path) -> FfmpegMeter:
    """Loudness, true peak and LRA from ffmpeg's ``ebur128=peak=true`` filter.

    Read from the per-frame metadata (3 decimals) rather than the 1-decimal summary; in
    ffmpeg 5.1 the ``true_peak`` metadata is linear, so it is converted to dB here.
    """
    cmd = [ffmpeg_bin(), "-hide_banner", "-nostats", "-nostdin", "-i", str(path), "-map", "0:a:0",
           "-af", "ebur128=peak=true:metadata=1,ametadata=mode=print:file=-", "-f", "null", "-"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    last_i = last_lra = None
    tp_lin = 0.0
    for line in res.stdout.splitlines():
        if line.startswith("lavfi.r128.I="):
            last_i = float(line.split("=", 1)[1])
        elif line.startswith("lavfi.r128.LRA="):
            last_lra = float(line.split("=", 1)[1])
        elif line.startswith("lavfi.r128.true_peak="):
            tp_lin = max(tp_lin, float(line.split("=", 1)[1]))
    if last_i is None:  # fall back on the summary
        m = re.search(r"I:\s+(-?[\d.]+) LUFS", res.stderr)
        last_i = float(m.group(1)) if m else float("nan")
    return FfmpegMeter(integrated_lufs=last_i,
                       true_peak_dbtp=20.0 * math.log10(max(tp_lin, LOG_FLOOR)),
                       lra_lu=last_lra if last_lra is not None else float("nan"))


# --------------------------------------------------------------------------- the mixlab under test
def snapshot_src(rev: str) -> Path:
    """Extract ``src/`` at git revision ``rev`` and put it first on PYTHONPATH.

    Others may be editing ``src/`` while the benchmark runs; a snapshot pins what is measured.
    """
    full = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", rev], capture_output=True,
                          text=True, check=True).stdout.strip()
    dest = OUT_DIR / f"mixlab-src-{full}"
    if not (dest / "src" / "mixlab").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO_DIR), "archive", full, "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    os.environ["PYTHONPATH"] = str(dest / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    return dest / "src"


def find_mixlab(subcommand: str) -> tuple[list[str] | None, str]:
    """The mixlab command whose ``<subcommand> --help`` works, or None with the reason.

    The second value is a label; it ends in ``; --json`` when the help lists ``--json``.
    """
    exe = VENV_BIN / "mixlab"
    candidates = []
    if exe.exists():
        candidates.append(([str(exe)], {}, ".venv/bin/mixlab"))
    env_src = {"PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO_DIR / "src")}
    candidates.append(([PYTHON, "-m", "mixlab.cli.main"], env_src, "python -m mixlab.cli.main from src/ (not installed)"))
    reasons = []
    for cmd, extra_env, label in candidates:
        try:
            res = subprocess.run(cmd + [subcommand, "--help"], capture_output=True, text=True, timeout=120,
                                 env={**os.environ, **extra_env})
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"{label}: {exc}")
            continue
        if res.returncode == 0:
            if extra_env:
                os.environ.update(extra_env)
            return cmd, label + ("; --json" if "--json" in res.stdout else "")
        reasons.append(f"{label}: exit {res.returncode}: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    return None, "; ".join(reasons)


# --------------------------------------------------------------------------- misc
def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default))
    tmp.replace(path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)
    raise TypeError(type(o))
