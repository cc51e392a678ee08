"""Features of one stem for the learned role classifier (issue 12, item 3).

NumPy and SciPy only (plus mixlab's own ``estimate_tempo``), so the module can later move into
``mixlab.analysis`` without a new run-time dependency. Every feature is independent of the
stem's gain (levels are relative to the stem's own loudest frame or total energy) and of its
length.

One pass: a 2048-point STFT (hop 512, 11.6 ms at 44.1 kHz) of the mid and side signals, and a
1024-point frame analysis of the mid signal decimated by 4 (about 11 kHz) for periodicity.

Groups of features (:data:`FEATURE_NAMES` lists them all):

* ``band_*``: the active frames' mean spectrum over 1/3-octave bands 63 Hz .. 16 kHz (plus one
  band 22..56 Hz and one above 17.8 kHz), each as dB relative to the total, floored at -80 dB.
* ``bvar_*``: spread over time, per octave-wide group of bands: standard deviation over the
  active frames of each group's share of the frame (dB), and of its level (dB).
* ``centroid``/``rolloff``/``flatness``/``bandwidth``/``flux``: per-frame statistics (mean, std,
  10th and 90th percentile) over the active frames; frequencies as log2(Hz).
* ``onset_*``: onset rate per active second, inter-onset interval regularity, envelope
  autocorrelation at 1/2, 1, 2 and 4 beats; where the onsets fall against the song's beat grid
  (tempo and beat phase from the mix's onsets: on the beat, on the off-beat eighth, on the
  sixteenths, on the "downbeat" beat against the "backbeat" beat of each two-beat cycle, the
  down beat being the one where the mix's low-band onsets are stronger), and how peaked that
  distribution is (entropy).
* ``pitch_*``/``harm_*``/``peaks_*``: harmonicity (normalised autocorrelation peak at 40 Hz ..
  1 kHz), the pitch of harmonic frames (10/50/90th percentile, range in semitones, frame-to-frame
  movement), spectral peak counts per frame (polyphony proxy).
* ``sustain_*``/``decay_*``/``active_fraction``/``env_*``: held against decaying sound: median
  level against the local maximum (+-300 ms), the level 100 and 300 ms after each onset, the
  fraction of active frames, the envelope's spread.
* ``width_*``/``corr``: stereo width (side over mid plus side energy) overall and below 250 Hz,
  250 Hz .. 4 kHz, above 4 kHz; left/right correlation.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

from mixlab.analysis.track import estimate_tempo

__all__ = ["FEATURE_NAMES", "FEATURE_VERSION", "SongContext", "song_context", "stem_features"]

FEATURE_VERSION = 1

N_FFT = 2048
HOP = 512
_EPS = 1e-12
# 1/3-octave bands 63 Hz .. 16 kHz, one band 22..56 Hz below them (a 2048-point FFT at 44.1 kHz
# has no bin inside the 31.5 and 50 Hz thirds), and one from 17.8 kHz up: 27 bands
_THIRD_OCTAVE_CENTRES = np.r_[35.5, 1000.0 * 2.0 ** (np.arange(-12, 13) / 3.0), 20000.0]
_BAND_EDGES = np.r_[22.4, 1000.0 * 2.0 ** ((np.arange(-12, 14) - 0.5) / 3.0), 24000.0]
_BAND_GROUPS = ((0, 3), (3, 6), (6, 9), (9, 12), (12, 15), (15, 18), (18, 21), (21, 24), (24, 27))
_ONSET_BAND_EDGES = (30.0, 90.0, 180.0, 350.0, 700.0, 1400.0, 2800.0, 5600.0, 11000.0, 20000.0)
_LOW_ONSET_BANDS = 2  # 30..180 Hz: kick/bass onsets in the mix decide the downbeat


def _names() -> list[str]:
    n = [f"band_{c:.0f}" for c in _THIRD_OCTAVE_CENTRES]
    n += [f"bvar_share_{i}" for i in range(len(_BAND_GROUPS))]
    n += [f"bvar_level_{i}" for i in range(len(_BAND_GROUPS))]
    for s in ("centroid", "rolloff", "flatness", "bandwidth", "flux"):
        n += [f"{s}_mean", f"{s}_std", f"{s}_p10", f"{s}_p90"]
    n += [
        "onset_rate", "onset_ioi_cv", "onset_ioi_beats",
        "onset_ac_half", "onset_ac_beat", "onset_ac_2beat", "onset_ac_4beat",
        "onset_on_beat", "onset_on_eighth", "onset_on_16th", "onset_off_grid",
        "onset_downbeat", "onset_backbeat", "onset_down_back_contrast", "onset_beat_entropy",
        "onset_strength_mean", "onset_strength_peakiness",
    ]
    n += [
        "harm_median", "harm_p90", "harm_fraction",
        "pitch_p10", "pitch_p50", "pitch_p90", "pitch_range_st", "pitch_move_st",
        "peaks_mean", "peaks_p90",
    ]
    n += [
        "sustain_db", "decay_100ms_db", "decay_300ms_db", "active_fraction", "env_std_db",
        "env_p10_db", "attack_ms",
    ]
    n += ["width", "width_low", "width_mid", "width_high", "corr"]
    return n


#: Every feature, in the order of :func:`stem_features`' vector.
FEATURE_NAMES: tuple[str, ...] = tuple(_names())


class SongContext:
    """The song's beat grid as heard in its mix: tempo, beat phase and which beat of two is
    the down beat (all in STFT hops)."""

    def __init__(self, bpm: float, confidence: float, period_hops: float, phase_hops: float, downbeat: int) -> None:
        self.bpm = bpm
        self.confidence = confidence
        self.period_hops = period_hops
        self.phase_hops = phase_hops
        self.downbeat = downbeat

    def __repr__(self) -> str:
        return (
            f"SongContext(bpm={self.bpm:.1f}, confidence={self.confidence:.2f}, "
            f"phase={self.phase_hops:.1f} hops, downbeat={self.downbeat})"
        )


# ---------------------------------------------------------------------------------------------
# shared pieces


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    """``(2, n)`` float32 from ``(n,)``, ``(n, ch)`` or ``(ch, n)``."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.shape[0] > a.shape[1]:
        a = a.T
    if a.shape[0] == 1:
        a = np.vstack([a, a])
    return a[:2]


def _stft_power(x: np.ndarray) -> np.ndarray:
    """``(frames, N_FFT // 2 + 1)`` power spectrum, Hann window, hop :data:`HOP`."""
    n = x.size
    if n < N_FFT:
        x = np.pad(x, (0, N_FFT - n))
        n = N_FFT
    frames = 1 + (n - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    w = np.hanning(N_FFT).astype(np.float32)
    spec = np.fft.rfft(x[idx] * w, axis=1)
    return (spec.real**2 + spec.imag**2).astype(np.float32)


def _band_matrix(sample_rate: int, centres: np.ndarray) -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    lo = _BAND_EDGES[:-1]
    hi = _BAND_EDGES[1:]
    m = ((freqs[:, None] >= lo[None, :]) & (freqs[:, None] < hi[None, :])).astype(np.float32)
    return m


def _onset_matrix(sample_rate: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    edges = np.array(_ONSET_BAND_EDGES)
    edges = edges[edges < sample_rate / 2]
    return ((freqs[:, None] >= edges[None, :-1]) & (freqs[:, None] < edges[None, 1:])).astype(np.float32)


def _onset_envelope(power: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Spectral flux: mean over ~octave bands of the positive dB rise; and the same over the two
    lowest bands (30..180 Hz)."""
    bands = power @ _onset_matrix(sample_rate)
    peak = bands.max() if bands.size else 0.0
    level = 10.0 * np.log10(np.maximum(bands, max(peak, _EPS) * 1e-8))
    rise = np.maximum(np.diff(level, axis=0, prepend=level[:1]), 0.0)
    return rise.mean(axis=1), rise[:, :_LOW_ONSET_BANDS].mean(axis=1)


def _pick_onsets(env: np.ndarray) -> np.ndarray:
    """Peaks that are the largest within +-35 ms and 3 dB over the +-0.5 s mean."""
    if env.size < 3:
        return np.zeros(0, dtype=int)
    local_max = scipy.ndimage.maximum_filter1d(env, 7, mode="nearest")
    mean = scipy.ndimage.uniform_filter1d(env, 87, mode="nearest")
    return np.flatnonzero((env == local_max) & (env > mean + 3.0) & (env > 1.0))


def song_context(mix: np.ndarray, sample_rate: int) -> SongContext:
    """Tempo, beat phase and down beat of a song from its mix (or the sum of its stems)."""
    x = _as_stereo(mix).mean(axis=0)
    power = _stft_power(x)
    env, low = _onset_envelope(power, sample_rate)
    hop_s = HOP / sample_rate
    bpm, conf = estimate_tempo(env, hop_s, min_bpm=60.0, max_bpm=200.0)
    if not bpm > 0:
        bpm, conf = 120.0, 0.0
    period = 60.0 / bpm / hop_s
    t = np.arange(env.size)
    # beat phase: the phase (of 32 per beat) where the mix's onset strength gathers
    ph = np.floor((t / period % 1.0) * 32).astype(int) % 32
    hist = np.bincount(ph, weights=env, minlength=32)
    hist = np.convolve(np.r_[hist[-1:], hist, hist[:1]], [0.25, 0.5, 0.25], mode="valid")
    phase = float(np.argmax(hist)) / 32 * period
    # down beat: of each two-beat cycle, the beat with more low-band onset strength
    beat_index = np.floor((t - phase) / period + 1 / 8).astype(int)
    near = np.abs(((t - phase) / period + 0.5) % 1.0 - 0.5) < 1 / 8
    even = float(low[near & (beat_index % 2 == 0)].sum())
    odd = float(low[near & (beat_index % 2 == 1)].sum())
    return SongContext(float(bpm), float(conf), float(period), phase, 0 if even >= odd else 1)


def _stats(v: np.ndarray) -> list[float]:
    if v.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(v.mean()), float(v.std()), float(np.percentile(v, 10)), float(np.percentile(v, 90))]


def _ac_at(env: np.ndarray, lag: float) -> float:
    """Normalised autocorrelation of ``env`` (mean removed) at a fractional lag."""
    x = env - env.mean()
    d = float(np.dot(x, x))
    if d <= 0 or lag >= x.size - 2:
        return 0.0
    k = int(lag)
    f = lag - k
    a = float(np.dot(x[:-k or None], x[k:])) if k > 0 else d
    b = float(np.dot(x[: -(k + 1)], x[k + 1 :]))
    return ((1 - f) * a + f * b) / d


# ---------------------------------------------------------------------------------------------
# the features of a stem


def stem_features(audio: np.ndarray, sample_rate: int, context: SongContext | None = None) -> np.ndarray:
    """The feature vector of one stem (:data:`FEATURE_NAMES`), ``float32``.

    Parameters
    ----------
    audio : np.ndarray
        Mono ``(n,)`` or stereo ``(2, n)`` / ``(n, 2)`` samples.
    sample_rate : int
        Hz (features are defined for 44.1 and 48 kHz; bands above Nyquist read empty).
    context : SongContext, optional
        The song's beat grid (:func:`song_context` of the mix); without it the stem's own
        onsets give the tempo.
    """
    a = _as_stereo(audio)
    mid = 0.5 * (a[0] + a[1])
    side = 0.5 * (a[0] - a[1])
    pm = _stft_power(mid)
    ps = _stft_power(side)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    total_m = pm.sum(axis=1)
    total = total_m + ps.sum(axis=1)
    nfr = total.size
    peak = float(total.max()) if nfr else 0.0
    if not peak > 0:
        return np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    level = 10.0 * np.log10(np.maximum(total, peak * 1e-9) / peak)  # dB re the loudest frame
    active = level > -40.0
    hop_s = HOP / sample_rate
    out: list[float] = []

    # spectral shape
    bands = pm @ _band_matrix(sample_rate, _THIRD_OCTAVE_CENTRES)  # (frames, 30)
    ba = bands[active]
    mean_bands = ba.mean(axis=0).astype(np.float64)
    out += list(np.maximum(10.0 * np.log10(np.maximum(mean_bands, _EPS) / max(mean_bands.sum(), _EPS)), -80.0))
    groups = np.stack([ba[:, i:j].sum(axis=1) for i, j in _BAND_GROUPS], axis=1).astype(np.float64)
    gtot = np.maximum(groups.sum(axis=1, keepdims=True), _EPS)
    floor = max(float(groups.max()), _EPS) * 1e-6
    share_db = 10.0 * np.log10(np.maximum(groups, floor) / gtot)
    level_db = 10.0 * np.log10(np.maximum(groups, floor))
    # a group that never sounds has no spread; weight by how present it is
    present = mean_bands.reshape(-1, 3).sum(axis=1) / max(mean_bands.sum(), _EPS) > 1e-3
    out += list(np.where(present, share_db.std(axis=0), 0.0))
    out += list(np.where(present, level_db.std(axis=0), 0.0))

    pa = pm[active].astype(np.float64)
    psum = np.maximum(pa.sum(axis=1), _EPS)
    centroid = (pa @ freqs) / psum
    cum = np.cumsum(pa, axis=1)
    rolloff = freqs[np.minimum((cum < 0.85 * psum[:, None]).sum(axis=1), freqs.size - 1)]
    fmask = (freqs >= 100.0) & (freqs <= 6000.0)
    pf = np.maximum(pa[:, fmask], _EPS)
    flatness = np.exp(np.log(pf).mean(axis=1)) / pf.mean(axis=1)
    bandwidth = np.sqrt(np.maximum((pa @ freqs**2) / psum - centroid**2, 0.0))
    lp = np.log(np.maximum(pa, psum[:, None] * 1e-9))
    flux = np.sqrt((np.maximum(np.diff(lp, axis=0), 0.0) ** 2).mean(axis=1)) if lp.shape[0] > 1 else np.zeros(1)
    out += _stats(np.log2(np.maximum(centroid, 20.0)))
    out += _stats(np.log2(np.maximum(rolloff, 20.0)))
    out += _stats(flatness)
    out += _stats(np.log2(np.maximum(bandwidth, 20.0)))
    out += _stats(flux)

    # onsets and the beat grid
    env, _low = _onset_envelope(pm, sample_rate)
    env = env * active
    onsets = _pick_onsets(env)
    active_s = max(float(active.sum()) * hop_s, hop_s)
    rate = onsets.size / active_s
    if context is None:
        bpm, _conf = estimate_tempo(env, hop_s)
        bpm = bpm if bpm > 0 else 120.0
        period = 60.0 / bpm / hop_s
        context = SongContext(bpm, 0.0, period, 0.0, 0)
    period = context.period_hops
    if onsets.size >= 3:
        ioi = np.diff(onsets).astype(np.float64)
        ioi_cv = float(ioi.std() / max(ioi.mean(), _EPS))
        ioi_beats = float(np.log2(np.median(ioi) / period))
    else:
        ioi_cv, ioi_beats = 0.0, 3.0
    acs = [_ac_at(env, m * period) for m in (0.5, 1.0, 2.0, 4.0)]
    if onsets.size:
        w = env[onsets]
        pos = (onsets - context.phase_hops) / period  # in beats
        frac = pos % 1.0
        d_beat = np.minimum(frac, 1 - frac)
        on_beat = d_beat < 1 / 12
        on_eighth = np.abs(frac - 0.5) < 1 / 12
        on_16th = (np.abs(frac - 0.25) < 1 / 12) | (np.abs(frac - 0.75) < 1 / 12)
        wsum = float(w.sum())
        f_beat = float(w[on_beat].sum()) / wsum
        f_eighth = float(w[on_eighth].sum()) / wsum
        f_16th = float(w[on_16th].sum()) / wsum
        f_off = 1.0 - f_beat - f_eighth - f_16th
        beat_no = np.floor(pos + 1 / 12).astype(int)
        down = on_beat & ((beat_no - context.downbeat) % 2 == 0)
        back = on_beat & ((beat_no - context.downbeat) % 2 == 1)
        f_down = float(w[down].sum()) / wsum
        f_back = float(w[back].sum()) / wsum
        contrast = abs(f_down - f_back) / max(f_down + f_back, 1e-6)
        hist = np.bincount(np.floor(frac * 16).astype(int) % 16, weights=w, minlength=16) / wsum
        entropy = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum()) / 4.0
        strength = float(np.log1p(w.mean()))
        peakiness = float(np.log1p(w.mean() / max(float(env[active].mean()), 1e-6)))
    else:
        f_beat = f_eighth = f_16th = f_down = f_back = contrast = strength = peakiness = 0.0
        f_off, entropy = 0.0, 1.0
    out += [
        float(np.log1p(rate)), ioi_cv, float(np.clip(ioi_beats, -4, 4)),
        *acs,
        f_beat, f_eighth, f_16th, f_off,
        f_down, f_back, contrast, entropy,
        strength, peakiness,
    ]  # fmt: skip

    # periodicity and pitch on ~11 kHz frames of the mid signal
    dec = 4 if sample_rate >= 32000 else 2
    sr_d = sample_rate / dec
    y = scipy.signal.decimate(mid.astype(np.float64), dec, ftype="fir", zero_phase=False) if mid.size > 64 else mid
    nw = 1024
    hop_d = nw // 2
    nf = max(0, 1 + (y.size - nw) // hop_d)
    harm = np.zeros(0)
    pitch = np.zeros(0)
    peaks = np.zeros(0)
    if nf > 0:
        idx = np.arange(nw)[None, :] + hop_d * np.arange(nf)[:, None]
        fr = y[idx] * np.hanning(nw)
        e = (fr**2).sum(axis=1)
        keep = e > e.max() * 1e-4 if e.max() > 0 else np.zeros(nf, bool)
        fr = fr[keep]
        if fr.shape[0]:
            spec = np.fft.rfft(fr, n=2 * nw, axis=1)
            p = spec.real**2 + spec.imag**2
            ac = np.fft.irfft(p, axis=1)[:, :nw]
            ac = ac / np.maximum(ac[:, :1], _EPS)
            ac = ac / np.maximum(1.0 - np.arange(nw) / nw, 0.5)[None, :]  # window overlap
            lo, hi = int(sr_d / 1000.0), int(sr_d / 40.0)
            seg = ac[:, lo:hi]
            # skip the first lobe: search after the first dip below 0
            below = seg < 0
            first = np.where(below.any(axis=1), below.argmax(axis=1), seg.shape[1])
            mask = np.arange(seg.shape[1])[None, :] >= first[:, None]
            seg_m = np.where(mask, seg, -1.0)
            k = seg_m.argmax(axis=1)
            harm = np.clip(seg_m[np.arange(seg.shape[0]), k], 0.0, 1.0)
            f0 = sr_d / (lo + k)
            voiced = harm > 0.5
            pitch = 12.0 * np.log2(f0[voiced] / 440.0) + 69.0
            # spectral peaks 50 Hz .. 5 kHz within 30 dB of the frame's maximum
            fq = np.fft.rfftfreq(2 * nw, 1.0 / sr_d)
            band = (fq >= 50.0) & (fq <= 5000.0)
            lpw = 10.0 * np.log10(np.maximum(p[:, band], _EPS))
            is_peak = (lpw[:, 1:-1] > lpw[:, :-2]) & (lpw[:, 1:-1] >= lpw[:, 2:])
            is_peak &= lpw[:, 1:-1] > lpw.max(axis=1, keepdims=True) - 30.0
            peaks = is_peak.sum(axis=1).astype(np.float64)
    if pitch.size >= 2:
        p10, p50, p90 = np.percentile(pitch, [10, 50, 90])
        move = float(np.median(np.abs(np.diff(pitch))))
    else:
        p10 = p50 = p90 = 0.0
        move = 0.0
    out += [
        float(np.median(harm)) if harm.size else 0.0,
        float(np.percentile(harm, 90)) if harm.size else 0.0,
        float((harm > 0.5).mean()) if harm.size else 0.0,
        float(p10) / 12.0, float(p50) / 12.0, float(p90) / 12.0, float(p90 - p10) / 12.0, min(move, 24.0) / 12.0,
        float(np.log1p(peaks.mean())) if peaks.size else 0.0,
        float(np.log1p(np.percentile(peaks, 90))) if peaks.size else 0.0,
    ]  # fmt: skip

    # sustain and envelope
    half = int(round(0.3 / hop_s))
    local = scipy.ndimage.maximum_filter1d(level, 2 * half + 1, mode="nearest")
    sustain = float(np.median((level - local)[active]))
    d100, d300, attack = [], [], []
    n100, n300 = int(round(0.1 / hop_s)), int(round(0.3 / hop_s))
    for o in onsets[:400]:
        seg = level[o : o + n300 + 1]
        if seg.size <= n300:
            continue
        pk = int(np.argmax(seg[: n100 + 1]))
        d100.append(seg[min(pk + n100, n300)] - seg[pk])
        d300.append(seg[n300] - seg[pk])
        attack.append(pk * hop_s * 1000.0)
    la = level[active]
    out += [
        sustain,
        float(np.median(d100)) if d100 else 0.0,
        float(np.median(d300)) if d300 else 0.0,
        float(active.mean()),
        float(la.std()),
        float(np.percentile(la, 10)),
        float(np.median(attack)) if attack else 0.0,
    ]

    # stereo
    sm = pm[active].sum(axis=0).astype(np.float64)
    ss = ps[active].sum(axis=0).astype(np.float64)

    def width(mask: np.ndarray) -> float:
        m, s = float(sm[mask].sum()), float(ss[mask].sum())
        return s / (m + s) if m + s > 0 else 0.0

    allf = np.ones(freqs.size, bool)
    ll = float(np.dot(a[0], a[0]))
    rr = float(np.dot(a[1], a[1]))
    corr = float(np.dot(a[0], a[1]) / np.sqrt(ll * rr)) if ll > 0 and rr > 0 else 0.0
    out += [
        width(allf),
        width(freqs < 250.0),
        width((freqs >= 250.0) & (freqs < 4000.0)),
        width(freqs >= 4000.0),
        corr,
    ]
    v = np.asarray(out, dtype=np.float64)
    v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    assert v.size == len(FEATURE_NAMES), (v.size, len(FEATURE_NAMES))
    return v.astype(np.float32)
