"""Automatic multitrack mixing: from analysed stems to a MixPlan of named, editable decisions.

Every move is a :class:`~mixlab.engine.plan.Param` in a section per track (``track:<name>``)
or per bus (``bus:drums``, ``bus:mix``, ``bus:reverb``, ``bus:delay``). Values the user set or
locked are kept; everything else is solved around them.

How the decisions are made (sources in ``data/roles.json``):

1. **Role** from the file name when it says, otherwise from the audio (``analysis.roles``).
2. **High-pass** per role, lowered to stay below the track's own lowest content.
3. **Balance, cross-adaptive**: each track's K-weighted loudness, measured over the frames
   where it plays, is compared with the loudness of the whole mix over those frames; all gains
   are solved together toward the role (and genre) targets. Locked gains stay put and the
   rest are solved around them.
4. **Masking**: per 1/3-octave band and 100 ms frame, how often a less important track covers a
   more important one in the bands that matter to it; reduced by cuts on the masker and
   small boosts on the masked track, then the balance is solved again with the EQ in place.
5. **Compression** from the level distribution (threshold for the aimed-at average gain
   reduction), crest factor (ratio), transients (release) and genre (amount); make-up gain
   keeps the loudness where the balance put it. De-essing on vocals.
6. **Panning**: kick, snare, bass, lead vocal and low-frequency tracks centred; L/R-named pairs
   spread symmetrically; the others placed so left and right balance per band.
7. **Space**: tempo from the tracks' onsets; reverb decay and pre-delay from the tempo, sends
   per role; a tempo-synced delay for leads. Drum bus and mix-bus glue compression; a gentle
   mix-bus tonal EQ toward the reference or the genre corridor.
8. **Headroom**: the output gain is set after rendering so the mix peaks at -6 dBTP
   (``finalise_output_gain``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal

from mixlab.analysis.loudness import k_weighting_sos
from mixlab.analysis.roles import ROLES, RoleGuess, classify_role
from mixlab.analysis.track import TrackFeatures, estimate_tempo
from mixlab.dsp.dynamics import static_gain_reduction_db
from mixlab.dsp.eq import EQBand, eq_sos, high_shelf_sos, low_shelf_sos, peaking_sos, sos_response_db
from mixlab.engine.params import decide
from mixlab.engine.plan import Plan
from mixlab.engine.profiles import genre_band_target_db, genre_tolerance_db, get_genre
from mixlab.engine.roles_data import (
    genre_mixing,
    group_exponent,
    guessed_role_spread_factor,
    role_convention,
    stems_balance_spread_lu,
)
from mixlab.errors import InvalidParameterError

MIX_SCHEMA = "mixlab.mixplan/1"
MIX_PEAK_DBTP = -6.0
PRE_TRIM_LUFS = -20.0
#: A stem quieter than this where it plays holds no music (a 16-bit file's dither reads about -99).
SILENT_LUFS = -90.0
MAX_EQ_BANDS = 5
#: A voice whose loudest tenth of frames above 5 kHz stays this far (dB) under its median level
#: has no sibilance worth a de-esser: an S sits within about 10-20 dB of the vowels, a voice
#: whose harmonics end at 3 kHz only leaks into that band, 60 dB or more down.
DEESS_MIN_SIBILANCE_DB = -40.0
DRUM_ROLES = frozenset(r for r in ROLES if role_convention(r).drum_bus)

# Mix-bus tonal EQ: (kind, frequency, q); gains are fitted.
BUS_EQ_SHAPES = (("low_shelf", 100.0, 0.7), ("peak", 350.0, 0.8), ("peak", 3000.0, 0.8), ("high_shelf", 8000.0, 0.7))


def track_section(name: str) -> str:
    return f"track:{name}"


@dataclass(frozen=True)
class TrackInput:
    """What the decisions know about one stem."""

    name: str
    file_name: str
    source: str
    features: TrackFeatures
    guess: RoleGuess

    @property
    def section(self) -> str:
        return track_section(self.name)

    @property
    def silent(self) -> bool:
        return bool(self.features.silent) or not self.features.active_lufs > SILENT_LUFS


@dataclass(frozen=True)
class ReferenceTone:
    """A reference track's 1/3-octave levels (dB, any offset), for mix-bus tonal matching."""

    name: str
    centres_hz: np.ndarray
    levels_db: np.ndarray


def _db(power: np.ndarray | float) -> np.ndarray | float:
    return 10.0 * np.log10(np.maximum(power, 1e-30))


def _r(value: float, digits: int = 1) -> float:
    return float(round(float(value), digits))


# ---------------------------------------------------------------------------------------------
# arrays the decisions work on


class TrackArrays:
    """Per-track band energies (T, F, B), activity, K-weighting, all on one frame grid."""

    def __init__(self, tracks: list[TrackInput], sample_rate: int) -> None:
        self.tracks = tracks
        first = tracks[0].features
        self.centres = np.asarray(first.band_centres_hz, dtype=np.float64)
        num_frames = min(t.features.band_energy.shape[0] for t in tracks)
        self.energy = np.stack([t.features.band_energy[:num_frames] for t in tracks]).astype(np.float64)
        self.active = np.stack([np.asarray(t.features.active[:num_frames], dtype=bool) for t in tracks])
        _, h = scipy.signal.sosfreqz(k_weighting_sos(sample_rate), worN=self.centres, fs=sample_rate)
        self.k_gain = np.abs(h) ** 2
        self.sample_rate = sample_rate

    def k_power(self, eq_power: np.ndarray) -> np.ndarray:
        """K-weighted power per track and frame, (T, F), with per-track band gains (T, B)."""
        return np.einsum("tfb,tb->tf", self.energy, eq_power * self.k_gain[np.newaxis, :], optimize=False)


def eq_power(plan: Plan, arrays: TrackArrays) -> np.ndarray:
    """Linear power gain per track and band of each track's high-pass + EQ in the plan."""
    out = np.ones((len(arrays.tracks), len(arrays.centres)))
    for i, t in enumerate(arrays.tracks):
        sos = track_eq_sos(plan, t.section, arrays.sample_rate)
        if len(sos):
            out[i] = 10.0 ** (sos_response_db(sos, arrays.centres, arrays.sample_rate) / 10.0)
    return out


def track_eq_sos(plan: Plan, section: str, sample_rate: int) -> np.ndarray:
    """The high-pass and parametric EQ of a track as second-order sections."""
    return strip_eq_sos(plan.get(section, "eq"), plan.get(section, "highpass_hz"), sample_rate)


def strip_eq_sos(bands: list[dict[str, Any]], highpass_hz: float | None, sample_rate: int) -> np.ndarray:
    """A channel strip's EQ (plan band dicts) after its high-pass, as second-order sections."""
    return eq_sos([EQBand(**b) for b in bands], sample_rate, highpass_hz=highpass_hz, highpass_slope=24)


# ---------------------------------------------------------------------------------------------
# the decisions


def decide_mix(
    tracks: list[TrackInput],
    *,
    sample_rate: int,
    genre: str | None = None,
    reference: ReferenceTone | None = None,
    plan: Plan | None = None,
    context: dict[str, Any] | None = None,
) -> Plan:
    """Decide every mix parameter not kept in ``plan`` (a new plan when ``plan`` is None)."""
    if not tracks:
        raise InvalidParameterError("there are no stems to mix", code="mix.no_tracks")
    plan = plan.copy() if plan is not None else Plan(schema=MIX_SCHEMA)
    genre_name = plan.get("session", "genre") if plan.param("session", "genre") and plan.param("session", "genre").is_kept else genre
    style = genre_mixing(genre_name)
    decide(plan, "session", "genre", style.name, "the genre chosen for the mix" if genre else "no genre given: balanced")
    plan.context.update(context or {})

    audible = [t for t in tracks if not t.silent]
    for t in tracks:
        _decide_static(plan, t)
    if not audible:
        raise InvalidParameterError(
            "every stem is silent: there is nothing to mix. Check that the stems were exported with audio in them.",
            code="mix.all_silent",
        )
    roles = {t.name: plan.get(t.section, "role") for t in audible}
    arrays = TrackArrays(audible, sample_rate)

    for t in audible:
        _decide_highpass(plan, t, arrays, roles[t.name])
        decide(plan, t.section, "eq", [], "no masking conflict found yet")
    targets = role_targets(audible, roles, style, arrays.active)
    _solve_balance(plan, arrays, targets, roles)
    _decide_masking_eq(plan, arrays, roles)
    _solve_balance(plan, arrays, targets, roles)
    for t in audible:
        _decide_compressor(plan, t, roles[t.name], style, arrays)
        _decide_deesser(plan, t, roles[t.name], arrays)
    _decide_panning(plan, arrays, roles)
    tempo = _decide_space(plan, audible, roles, style)
    _decide_buses(plan, arrays, roles, style, tempo)
    _decide_bus_eq(plan, arrays, genre_name=style.name, reference=reference)
    decide(plan, "bus:mix", "output_gain_db", 0.0, "set after rendering for a -6 dBTP peak")
    plan.context["tracks"] = [_track_context(t, plan) for t in tracks]
    return plan


def _decide_static(plan: Plan, t: TrackInput) -> None:
    s = t.section
    role_param = plan.param(s, "role")
    if role_param is not None and role_param.is_kept and role_param.value not in ROLES:
        raise InvalidParameterError(
            f"track '{t.name}': unknown role '{role_param.value}'. Choose one of: {', '.join(ROLES)}.",
            code="mix.unknown_role", track=t.name,
        )
    decide(plan, s, "role", t.guess.role, t.guess.reason)
    if t.silent:
        decide(plan, s, "gain_db", 0.0, "silent stem: left out of the decisions")
    decide(plan, s, "polarity_inverted", False, "kept as recorded")
    decide(plan, s, "offset_ms", 0.0, "kept as played: timing is the performance")
    decide(plan, s, "mute", bool(t.silent), "silent stem" if t.silent else "plays in the mix")
    if t.silent:
        decide(plan, s, "highpass_hz", None, "silent stem")
        decide(plan, s, "eq", [], "silent stem")
        decide(plan, s, "pan", 0.0, "silent stem")
        _no_compression(plan, s, "silent stem")
        decide(plan, s, "deess_threshold_db", None, "silent stem")
        decide(plan, s, "deess_freq_hz", 6000.0, "silent stem")
        decide(plan, s, "reverb_send_db", None, "silent stem")
        decide(plan, s, "delay_send_db", None, "silent stem")
        decide(plan, s, "bus", "mix", "silent stem")


def _no_compression(plan: Plan, s: str, why: str) -> None:
    decide(plan, s, "comp_threshold_db", 0.0, why)
    decide(plan, s, "comp_ratio", 1.0, why)
    decide(plan, s, "comp_attack_ms", 10.0, why)
    decide(plan, s, "comp_release_ms", 150.0, why)
    decide(plan, s, "comp_knee_db", 6.0, why)
    decide(plan, s, "comp_makeup_db", 0.0, why)


def _decide_highpass(plan: Plan, t: TrackInput, arrays: TrackArrays, role: str) -> None:
    conv = role_convention(role)
    i = arrays.tracks.index(t)
    spectrum = arrays.energy[i][arrays.active[i]].mean(axis=0) if arrays.active[i].any() else arrays.energy[i].mean(axis=0)
    cumulative = np.cumsum(spectrum) / max(float(spectrum.sum()), 1e-30)
    # The band below which 0.3 % of the track's energy lies; keep the filter an octave under it.
    lowest = float(arrays.centres[min(int(np.searchsorted(cumulative, 0.003)), len(cumulative) - 1)])
    cutoff = min(conv.highpass_hz, max(20.0, lowest / 2.0))
    cutoff = float(round(cutoff))
    if cutoff <= 20.0:
        decide(plan, t.section, "highpass_hz", 20.0, "subsonic clean-up only: the track has content down low")
    else:
        decide(plan, t.section, "highpass_hz", cutoff,
                    f"clears rumble below the {conv.label.lower()}'s range (its content starts near {lowest:.0f} Hz)")


def role_targets(tracks: list[TrackInput], roles: dict[str, str], style, active: np.ndarray) -> np.ndarray:
    """Each track's loudness target relative to the mix (LU): its role's, plus the genre's, less
    its share of the role when other tracks of that role play at the same time.

    Tracks sharing a role split its loudness while they overlap: with k of them always playing
    together each is lowered by ``group_exponent * 10 log10 k``; k counts each other track by the
    fraction of this one's playing frames it also plays in, so toms taking turns are not lowered
    and a double-tracked guitar is.
    """
    names = [roles[t.name] for t in tracks]
    playing = np.maximum(active.sum(axis=1), 1)
    overlap = (active[:, np.newaxis, :] & active[np.newaxis, :, :]).sum(axis=2) / playing[:, np.newaxis]
    out = []
    for i, t in enumerate(tracks):
        role = names[i]
        together = 1.0 + sum(overlap[i, j] for j in range(len(tracks)) if j != i and names[j] == role)
        share = group_exponent() * 10.0 * math.log10(together)
        out.append(role_convention(role).loudness_lu + style.loudness_lu.get(role, 0.0) - share)
    return np.asarray(out)


def relative_loudness(gains_db: np.ndarray, kp: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Each track's loudness relative to the mix's over the frames where the track plays (LU)."""
    scaled = kp * (10.0 ** (gains_db / 10.0))[:, np.newaxis]
    mix = scaled.sum(axis=0)
    own = np.where(active, scaled, 0.0).sum(axis=1)
    under = np.where(active, mix[np.newaxis, :], 0.0).sum(axis=1)
    return _db(own) - _db(under)


class LoudnessModel:
    """:func:`relative_loudness` for fixed ``kp`` and ``active``, for any gains, in n x n sums.

    A track's power where it plays is its gain times a fixed sum, and the mix's power over those
    frames is a fixed n x n matrix (``active @ kp.T``) times the gains: so a balance solve's
    hundreds of evaluations cost O(n^2) each instead of O(n x frames).
    """

    def __init__(self, kp: np.ndarray, active: np.ndarray) -> None:
        on = active.astype(np.float64)
        self.own = (on * kp).sum(axis=1)
        self.cross = on @ kp.T

    def __call__(self, gains_db: np.ndarray) -> np.ndarray:
        lin = 10.0 ** (np.asarray(gains_db, dtype=np.float64) / 10.0)
        return _db(lin * self.own) - _db(self.cross @ lin)


def _balance_weights(plan: Plan, tracks: list[TrackInput], roles: dict[str, str]) -> np.ndarray:
    """Per track, how much the role target counts against the delivered balance (0..1).

    The solve weighs two estimates of where a track belongs, each by its inverse variance: the
    role convention (``spread_lu``; looser when the role was guessed from the audio) and the
    level the stem was delivered at (``stems_balance_spread_lu``).
    """
    stems_var = stems_balance_spread_lu() ** 2
    out = []
    for t in tracks:
        spread = role_convention(roles[t.name]).spread_lu
        role_param = plan.param(t.section, "role")
        named = t.guess.source == "name" or (role_param is not None and role_param.is_kept)
        if not named:
            spread *= guessed_role_spread_factor()
        out.append(stems_var / (stems_var + spread**2))
    return np.asarray(out)


def _fit_gains(kp: np.ndarray, active: np.ndarray, targets: np.ndarray, weight: np.ndarray, gains: np.ndarray,
               free: np.ndarray, anchor: float | None) -> np.ndarray:
    """Fixed point of ``weight * (target error) = (1 - weight) * (gain - anchor)`` for the free tracks.

    The target error is taken up to a common offset (targets are relative to a mix they make
    up, so only their differences can all be met). ``anchor`` is the common level of the
    delivered balance; None lets it float (no locks: the whole balance may move).
    """
    g = gains.copy()
    if not free.any():
        return g
    loudness = LoudnessModel(kp, active)
    for _ in range(300):
        error = targets - loudness(g)
        error = error - np.average(error[free], weights=weight[free])
        centre = float(np.mean(g[free])) if anchor is None else anchor
        step = weight * error + (1.0 - weight) * (centre - g)
        g = np.where(free, g + 0.8 * step, g)
        if np.max(np.abs(step[free])) < 0.005:
            break
    return g


def balance_frames(kp: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The frames each track's balance is judged over: where it plays and has K-weighted power;
    a track active nowhere (by the gate) is judged over all its frames with power."""
    out = active & (kp > 0)
    none = ~out.any(axis=1)
    out[none] = kp[none] > 0
    return out


def solved_balance(plan: Plan, tracks: list[TrackInput], roles: dict[str, str], kp: np.ndarray,
                   active: np.ndarray, targets: np.ndarray, *,
                   start_db: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the balance solve puts each track against the mix where it plays (LU), every gain
    free, the weight of its role target (0..1), and the gains (dB) that do it: the role targets
    weighed against the delivered balance, as :func:`decide_mix` solves them. ``kp`` is each
    track's K-weighted power per frame at unity gain, with its EQ. ``start_db``: gains to start
    the solve from (a solve of the same tracks with a slightly different EQ converges in a few
    steps); the balance it reaches does not depend on it, only the common level of the gains."""
    n = len(tracks)
    weight = _balance_weights(plan, tracks, roles)
    active = balance_frames(kp, active)
    start = np.zeros(n) if start_db is None else np.asarray(start_db, dtype=np.float64)
    gains = _fit_gains(kp, active, targets, weight, start, np.ones(n, dtype=bool), None)
    return relative_loudness(gains, kp, active), weight, gains


def _solve_balance(plan: Plan, arrays: TrackArrays, targets: np.ndarray, roles: dict[str, str]) -> None:
    kp = arrays.k_power(eq_power(plan, arrays))
    active = balance_frames(kp, arrays.active)
    n = len(arrays.tracks)
    kept = np.array([bool(plan.param(t.section, "gain_db") and plan.param(t.section, "gain_db").is_kept)
                     for t in arrays.tracks])
    weight = _balance_weights(plan, arrays.tracks, roles)
    # The balance with every gain free, placed so the mix sits at PRE_TRIM_LUFS: with locks,
    # the free tracks keep this common level and the locked values are fixed around them.
    unlocked = _fit_gains(kp, active, targets, weight, np.zeros(n), np.ones(n, dtype=bool), None)
    mix_power = (kp * (10.0 ** (unlocked / 10.0))[:, np.newaxis]).sum(axis=0)
    if (mix_power > 0).any():
        unlocked = unlocked + (PRE_TRIM_LUFS - (_db(np.mean(mix_power[mix_power > 0])) - 0.691))
    gains = unlocked
    if kept.any():
        locked = np.array([plan.get(t.section, "gain_db") if k else 0.0 for t, k in zip(arrays.tracks, kept)])
        gains = _fit_gains(kp, active, targets, weight, np.where(kept, locked, unlocked), ~kept,
                           float(np.mean(unlocked[~kept])) if (~kept).any() else None)
    delivered = relative_loudness(np.zeros(n), kp, active)
    achieved = relative_loudness(gains, kp, active)
    for i, t in enumerate(arrays.tracks):
        role = role_convention(roles[t.name])
        decide(plan, 
            t.section, "gain_db", _r(gains[i], 2),
            f"{role.label.lower()} sits {achieved[i]:+.1f} LU against the mix where it plays: role target "
            f"{targets[i]:+.1f}, delivered at {delivered[i]:+.1f}, weighed {weight[i]:.0%} to the role; "
            "solved with all tracks together",
        )


def _decide_masking_eq(plan: Plan, arrays: TrackArrays, roles: dict[str, str]) -> None:
    """Cuts on maskers and small boosts on the masked, by priority (lead vocal first)."""
    tracks = arrays.tracks
    n = len(tracks)
    gains = np.array([plan.get(t.section, "gain_db") for t in tracks])
    eqp = eq_power(plan, arrays)
    level = arrays.energy * (eqp * (10.0 ** (gains / 10.0))[:, np.newaxis])[:, np.newaxis, :]  # (T, F, B)
    prio = np.array([role_convention(roles[t.name]).priority for t in tracks])
    usable = (arrays.centres >= 40.0) & (arrays.centres <= 12500.0)
    moves: dict[int, list[dict[str, Any]]] = {i: [] for i in range(n)}
    order = np.argsort(prio, kind="stable")
    boosted: set[int] = set()
    for i in order:
        if prio[i] >= 9 or not arrays.active[i].any():
            continue
        mean_spec = level[i][arrays.active[i]].mean(axis=0)
        essential = usable & (_db(mean_spec) > _db(mean_spec[usable].max()) - 12.0)
        if not essential.any():
            continue
        # The masker covers the masked band when it is no more than 3 dB below it, on the
        # frames where both play; weighted by how much of the masked track's time that is.
        candidates = np.flatnonzero(prio > prio[i])
        both = arrays.active[candidates] & arrays.active[i][np.newaxis, :]
        counts = both.sum(axis=1)
        covered = (level[candidates] > level[i][np.newaxis] * 10 ** (-3.0 / 10.0)) & both[:, :, np.newaxis]
        fraction = covered.sum(axis=1) / np.maximum(counts, 1)[:, np.newaxis]
        weight = np.where(counts >= 5, counts / arrays.active[i].sum(), 0.0)
        scores = np.zeros((n, len(arrays.centres)))
        scores[candidates] = np.where(essential[np.newaxis, :], fraction, 0.0) * weight[:, np.newaxis]
        total = scores.sum(axis=0)
        for b in np.argsort(total)[::-1][:2]:
            if total[b] < 0.35:
                break
            freq = float(arrays.centres[b])
            maskers = [j for j in np.argsort(scores[:, b])[::-1][:3] if scores[j, b] >= 0.25]
            for j in maskers:
                depth = -min(1.5 + 3.0 * float(scores[j, b]), 4.5)
                _add_move(moves[j], "peak", freq, depth, 1.4,
                          f"cut {-depth:.1f} dB at {_hz(freq)}: it covers the {role_convention(roles[tracks[i].name]).label.lower()} "
                          f"'{tracks[i].name}' there {100 * scores[j, b]:.0f} % of the time")
            if maskers and prio[i] <= 3 and i not in boosted:
                boost = min(1.5, 0.5 + float(total[b]))
                _add_move(moves[i], "peak", freq, boost, 1.4,
                          f"lift {boost:.1f} dB at {_hz(freq)} to stand out of {len(maskers)} masking track(s)")
                boosted.add(i)
    for i, t in enumerate(tracks):
        bands = moves[i][:MAX_EQ_BANDS]
        if bands:
            reason = "; ".join(b.pop("why") for b in bands)
        else:
            reason = "no masking conflict with a more important track"
        decide(plan, t.section, "eq", [{k: v for k, v in b.items() if k != "why"} for b in bands], reason)


def _add_move(moves: list[dict[str, Any]], kind: str, freq: float, gain: float, q: float, why: str) -> None:
    for m in moves:
        if abs(math.log2(m["freq_hz"] / freq)) < 0.5 and (m["gain_db"] < 0) == (gain < 0):
            if abs(gain) > abs(m["gain_db"]):  # the deeper of two moves in one place wins, with its reason
                m.update(gain_db=_r(gain, 1), why=why)
            return
    moves.append({"kind": kind, "freq_hz": _r(freq, 0), "gain_db": _r(gain, 1), "q": q, "why": why})


def _hz(freq: float) -> str:
    return f"{freq / 1000:.1f} kHz" if freq >= 1000 else f"{freq:.0f} Hz"


def _frame_levels_db(arrays: TrackArrays, i: int, gain_db: float = 0.0) -> np.ndarray:
    """Detector-like level (dBFS, mean square per channel) of each active frame of track i."""
    t = arrays.tracks[i]
    power = arrays.energy[i].sum(axis=1) / max(t.features.num_channels, 1)
    frames = power[arrays.active[i]] if arrays.active[i].any() else power
    return _db(frames) + gain_db


def _threshold_for(levels_db: np.ndarray, *, ratio: float, knee_db: float, target_gr_db: float) -> tuple[float, float]:
    """Threshold giving ``target_gr_db`` of average static gain reduction over the frames."""
    if ratio <= 1.0 or target_gr_db <= 0 or len(levels_db) == 0:
        return 0.0, 0.0
    top = float(np.percentile(levels_db, 99.5))
    candidates = np.arange(top - 40.0, top + 0.01, 0.25)
    gr = np.array([static_gain_reduction_db(levels_db, threshold_db=c, ratio=ratio, knee_db=knee_db).mean() for c in candidates])
    k = int(np.argmin(np.abs(gr - target_gr_db)))
    return float(candidates[k]), float(gr[k])


def _decide_compressor(plan: Plan, t: TrackInput, role: str, style, arrays: TrackArrays) -> None:
    conv = role_convention(role)
    s = t.section
    f = t.features
    amount = style.compression
    crest = float(f.crest_db)
    crest_factor = 1.2 if crest > 18.0 else 0.75 if crest < 10.0 else 1.0
    ratio = _r(1.0 + (conv.ratio - 1.0) * min(amount, 1.5) * crest_factor, 1)
    density = float(f.transient_density_per_s)
    release = conv.release_ms if density < 1.0 else float(np.clip(min(conv.release_ms, 500.0 / density), 50.0, 300.0))
    knee = 6.0
    target_gr = conv.target_gr_db * amount
    i = arrays.tracks.index(t)
    levels = _frame_levels_db(arrays, i)  # the compressor sits before the fader
    threshold, gr = _threshold_for(levels, ratio=ratio, knee_db=knee, target_gr_db=target_gr)
    decide(plan, s, "comp_ratio", ratio, f"{conv.label.lower()} at crest factor {crest:.1f} dB, {style.name} compression x{amount:g}")
    decide(plan, s, "comp_threshold_db", _r(threshold), f"about {gr:.1f} dB of average gain reduction where it plays")
    decide(plan, s, "comp_attack_ms", conv.attack_ms,
                "slow enough to let the hit through" if conv.drum_bus else f"role default for {conv.label.lower()}")
    decide(plan, s, "comp_release_ms", _r(release, 0), f"recovers between hits ({density:.1f} onsets/s)")
    decide(plan, s, "comp_knee_db", knee, "soft knee")
    decide(plan, s, "comp_makeup_db", _r(gr), "gives back the average reduction so the balance holds")


def _decide_deesser(plan: Plan, t: TrackInput, role: str, arrays: TrackArrays) -> None:
    s = t.section
    decide(plan, s, "deess_freq_hz", 6000.0, "sibilance band of the voice")
    if not role_convention(role).deess:
        decide(plan, s, "deess_threshold_db", None, "not a vocal: no de-essing")
        return
    i = arrays.tracks.index(t)
    high = arrays.centres >= 5000.0
    energy = arrays.energy[i][arrays.active[i]] if arrays.active[i].any() else arrays.energy[i]
    channels = max(t.features.num_channels, 1)
    frames = energy[:, high].sum(axis=1) / channels
    if len(frames) == 0 or not (frames > 0).any():
        decide(plan, s, "deess_threshold_db", None, "no energy in the sibilance band")
        return
    level = float(_db(np.percentile(frames[frames > 0], 90)))
    body = float(_db(np.median(energy.sum(axis=1) / channels)))
    if level - body < DEESS_MIN_SIBILANCE_DB:
        decide(plan, s, "deess_threshold_db", None,
               f"no sibilance to tame: above 5 kHz it stays {body - level:.0f} dB under the voice (a dark voice)")
        return
    decide(plan, s, "deess_threshold_db", _r(level - 3.0), "catches the loudest tenth of the sibilance")


_SIDE = re.compile(r"(?:^|[\s_\-.(])(l|r|left|right|links|rechts)(?:$|[\s_\-.)0-9])", re.IGNORECASE)


def _side_from_name(name: str) -> int:
    m = _SIDE.search(name)
    if not m:
        return 0
    return -1 if m.group(1).lower() in ("l", "left", "links") else 1


def _decide_panning(plan: Plan, arrays: TrackArrays, roles: dict[str, str]) -> None:
    tracks = arrays.tracks
    gains = np.array([plan.get(t.section, "gain_db") for t in tracks])
    spec = np.array([
        (arrays.energy[i][arrays.active[i]].mean(axis=0) if arrays.active[i].any() else arrays.energy[i].mean(axis=0))
        for i in range(len(tracks))
    ]) * (eq_power(plan, arrays) * (10.0 ** (gains / 10.0))[:, np.newaxis])
    left = np.zeros(len(arrays.centres))
    right = np.zeros(len(arrays.centres))

    def place(i: int, pan: float) -> None:
        theta = (pan + 1.0) * math.pi / 4.0
        left[:] += spec[i] * math.cos(theta) ** 2
        right[:] += spec[i] * math.sin(theta) ** 2

    pending = []
    for i, t in enumerate(tracks):
        s = t.section
        conv = role_convention(roles[t.name])
        kept = plan.param(s, "pan")
        if kept is not None and kept.is_kept:
            place(i, float(kept.value))
            continue
        centroid = float(t.features.centroid_hz)
        side = _side_from_name(t.name)
        if side:
            spread = conv.pan if isinstance(conv.pan, float) else 0.7
            pan = side * max(spread, 0.7)
            decide(plan, s, "pan", _r(pan, 2), "the file name marks it as one side of a pair")
            place(i, pan)
        elif conv.pan == "centre":
            decide(plan, s, "pan", 0.0, f"{conv.label.lower()} anchors the centre")
            place(i, 0.0)
        elif centroid < 200.0:
            decide(plan, s, "pan", 0.0, f"low end stays centred (centroid {centroid:.0f} Hz)")
            place(i, 0.0)
        elif t.features.num_channels == 2 and t.features.stereo_width > 0.25:
            decide(plan, s, "pan", 0.0, f"already wide stereo (width {t.features.stereo_width:.2f}): kept centred")
            place(i, 0.0)
        else:
            pending.append(i)
    # Loudest first; each goes to the side (and the role's spread) that best balances L/R per band.
    pending.sort(key=lambda i: -float(spec[i].sum()))
    for i in pending:
        t = tracks[i]
        spread = float(role_convention(roles[t.name]).pan)
        best = None
        for pan in (-spread, spread):
            theta = (pan + 1.0) * math.pi / 4.0
            l2 = left + spec[i] * math.cos(theta) ** 2
            r2 = right + spec[i] * math.sin(theta) ** 2
            imbalance = float(np.sum(np.abs(_db(l2 + 1e-20) - _db(r2 + 1e-20)) * np.sqrt(l2 + r2)) / np.sum(np.sqrt(l2 + r2)))
            if best is None or imbalance < best[0] - 1e-9:
                best = (imbalance, pan)
        pan = best[1]
        place(i, pan)
        decide(plan, t.section, "pan", _r(pan, 2),
                    f"{'left' if pan < 0 else 'right'} {abs(pan):.2f}: balances left and right across the bands")


def _decide_space(plan: Plan, tracks: list[TrackInput], roles: dict[str, str], style) -> float:
    hop = tracks[0].features.onset_hop_s
    length = min(len(t.features.onset_envelope) for t in tracks)
    weights = np.array([2.0 if roles[t.name] in DRUM_ROLES or roles[t.name] == "bass" else 1.0 for t in tracks])
    env = sum(w * np.asarray(t.features.onset_envelope[:length], dtype=np.float64) / (np.max(t.features.onset_envelope) + 1e-12)
              for w, t in zip(weights, tracks))
    bpm, confidence = estimate_tempo(np.asarray(env), hop)
    if not np.isfinite(bpm) or confidence < 0.05:
        bpm, why = 120.0, "no clear pulse found: 120 BPM assumed"
    else:
        why = f"estimated from the tracks' onsets (confidence {confidence:.2f})"
    tempo = decide(plan, "session", "tempo_bpm", _r(bpm, 1), why)
    beat = 60.0 / float(tempo)
    rt60 = float(np.clip(3.0 * beat * style.space, 0.8, 2.8))
    decide(plan, "bus:reverb", "rt60_s", _r(rt60, 2), f"about three beats at {float(tempo):.0f} BPM ({style.name} space x{style.space:g})")
    decide(plan, "bus:reverb", "predelay_ms", _r(float(np.clip(beat * 1000.0 / 32.0, 8.0, 40.0)), 0), "a 1/128 note: keeps the source ahead of its reverb")
    decide(plan, "bus:reverb", "damping_hz", 6000.0, "darker tail, like a real room")
    decide(plan, "bus:reverb", "highpass_hz", 200.0, "no low-end build-up from the reverb")
    decide(plan, "bus:delay", "delay_ms", _r(beat * 750.0, 1), "a dotted eighth at the song's tempo")
    decide(plan, "bus:delay", "feedback", 0.3, "two or three audible repeats")
    decide(plan, "bus:delay", "lowpass_hz", 5000.0, "repeats darker than the source")
    space_db = 10.0 * math.log10(style.space)
    for t in tracks:
        conv = role_convention(roles[t.name])
        s = t.section
        rv = None if conv.reverb_send_db is None else _r(conv.reverb_send_db + space_db, 1)
        decide(plan, s, "reverb_send_db", rv, f"{conv.label.lower()}: " + ("no reverb (keeps it tight)" if rv is None else "role send"))
        dl = None if conv.delay_send_db is None else _r(conv.delay_send_db + space_db, 1)
        decide(plan, s, "delay_send_db", dl, f"{conv.label.lower()}: " + ("no delay" if dl is None else "tempo echo on leads"))
        decide(plan, s, "bus", "drums" if conv.drum_bus else "mix", "drum bus" if conv.drum_bus else "straight to the mix bus")
    return float(tempo)


def _bus_compressor(plan: Plan, section: str, frames_db: np.ndarray, *, ratio: float, attack_ms: float, release_ms: float,
                    target_gr_db: float, what: str) -> None:
    threshold, gr = _threshold_for(frames_db, ratio=ratio, knee_db=6.0, target_gr_db=target_gr_db)
    decide(plan, section, "comp_ratio", _r(ratio, 1), f"gentle {what}")
    decide(plan, section, "comp_threshold_db", _r(threshold), f"about {gr:.1f} dB of average gain reduction")
    decide(plan, section, "comp_attack_ms", attack_ms, "lets transients through")
    decide(plan, section, "comp_release_ms", _r(release_ms, 0), "breathes with the tempo")
    decide(plan, section, "comp_knee_db", 6.0, "soft knee")
    decide(plan, section, "comp_makeup_db", _r(gr), "gives back the average reduction")


def _decide_buses(plan: Plan, arrays: TrackArrays, roles: dict[str, str], style, tempo: float) -> None:
    tracks = arrays.tracks
    gains = np.array([plan.get(t.section, "gain_db") for t in tracks])
    eqp = eq_power(plan, arrays)
    power = np.einsum("tfb,tb->tf", arrays.energy, eqp, optimize=False) * (10.0 ** (gains / 10.0))[:, np.newaxis] / 2.0
    beat_ms = 60000.0 / tempo
    drums = np.array([roles[t.name] in DRUM_ROLES for t in tracks])
    amount = style.compression
    if drums.any():
        bus = power[drums].sum(axis=0)
        frames = _db(bus[bus > 0]) if (bus > 0).any() else np.zeros(0)
        _bus_compressor(plan, "bus:drums", frames, ratio=1.0 + 1.0 * amount, attack_ms=20.0,
                        release_ms=float(np.clip(beat_ms / 4.0, 60.0, 200.0)), target_gr_db=2.0 * amount, what="drum-bus glue")
    else:
        _bus_compressor(plan, "bus:drums", np.zeros(0), ratio=1.0, attack_ms=20.0, release_ms=100.0, target_gr_db=0.0,
                        what="(no drum tracks)")
    mix = power.sum(axis=0)
    frames = _db(mix[mix > 0]) if (mix > 0).any() else np.zeros(0)
    _bus_compressor(plan, "bus:mix", frames, ratio=1.0 + 0.5 * amount, attack_ms=30.0,
                    release_ms=float(np.clip(beat_ms / 2.0, 100.0, 400.0)), target_gr_db=1.5 * amount, what="mix-bus glue")


def bus_eq_bands(gains_db: list[float]) -> list[dict[str, Any]]:
    return [{"kind": k, "freq_hz": f, "gain_db": _r(g, 1), "q": q} for (k, f, q), g in zip(BUS_EQ_SHAPES, gains_db)]


def _decide_bus_eq(plan: Plan, arrays: TrackArrays, *, genre_name: str, reference: ReferenceTone | None) -> None:
    tracks = arrays.tracks
    gains = np.array([plan.get(t.section, "gain_db") for t in tracks])
    eqp = eq_power(plan, arrays)
    mean_spec = (arrays.energy.mean(axis=1) * eqp * (10.0 ** (gains / 10.0))[:, np.newaxis]).sum(axis=0)
    centres = arrays.centres
    fit = (centres >= 40.0) & (centres <= 16000.0) & (mean_spec > 0)
    current = _db(mean_spec)
    if reference is not None:
        target = np.interp(np.log2(centres), np.log2(reference.centres_hz), reference.levels_db)
        diff = target - current
        diff = diff - np.average(diff[fit], weights=None)
        limit, why = 4.0, f"toward the tonal balance of the reference '{reference.name}'"
    else:
        genre = get_genre(genre_name)
        target = genre_band_target_db(genre, centres)
        diff = target - current
        diff = diff - np.median(diff[fit])
        tol = genre_tolerance_db(genre, centres)
        diff = np.sign(diff) * np.maximum(np.abs(diff) - tol, 0.0)
        limit, why = 2.5, f"toward the {genre.label} tonal corridor"
    basis = np.stack([
        sos_response_db(_shape_sos(kind, freq, q, 1.0, arrays.sample_rate), centres[fit], arrays.sample_rate)
        for kind, freq, q in BUS_EQ_SHAPES
    ], axis=1)
    solution, *_ = np.linalg.lstsq(basis, diff[fit], rcond=None)
    gains_db = np.clip(solution, -limit, limit).tolist()
    decide(plan, "bus:mix", "eq", bus_eq_bands(gains_db), why)


def _shape_sos(kind: str, freq: float, q: float, gain_db: float, sample_rate: int) -> np.ndarray:
    if kind == "low_shelf":
        return low_shelf_sos(freq, gain_db, sample_rate)
    if kind == "high_shelf":
        return high_shelf_sos(freq, gain_db, sample_rate)
    return peaking_sos(freq, gain_db, q, sample_rate)


def finalise_output_gain(plan: Plan, measured_peak_dbtp: float) -> float:
    """Set ``bus:mix.output_gain_db`` so the rendered mix peaks at -6 dBTP (unless the user keeps it)."""
    current = float(plan.get("bus:mix", "output_gain_db"))
    if not np.isfinite(measured_peak_dbtp):
        return current
    wanted = _r(current + MIX_PEAK_DBTP - measured_peak_dbtp, 2)
    return decide(plan, "bus:mix", "output_gain_db", wanted,
                       f"leaves headroom for mastering: the mix peaks at {MIX_PEAK_DBTP:g} dBTP")


def _track_context(t: TrackInput, plan: Plan) -> dict[str, Any]:
    f = t.features
    return {
        "name": t.name, "file": t.file_name, "source": t.source, "section": t.section,
        "silent": t.silent,
        "role_guess": {"role": t.guess.role, "confidence": _r(t.guess.confidence, 2), "source": t.guess.source,
                       "reason": t.guess.reason},
        "analysis": {
            "integrated_lufs": _r(f.integrated_lufs) if np.isfinite(f.integrated_lufs) else None,
            "active_lufs": _r(f.active_lufs) if np.isfinite(f.active_lufs) else None,
            "active_fraction": _r(f.active_fraction, 3),
            "peak_dbfs": _r(f.sample_peak_dbfs) if np.isfinite(f.sample_peak_dbfs) else None,
            "crest_db": _r(f.crest_db) if np.isfinite(f.crest_db) else None,
            "transient_density_per_s": _r(f.transient_density_per_s, 2),
            "stereo_width": _r(f.stereo_width, 3), "centroid_hz": _r(f.centroid_hz, 0),
            "channels": f.num_channels,
        },
    }


__all__ = [
    "MIX_PEAK_DBTP", "MIX_SCHEMA", "ReferenceTone", "TrackInput", "balance_frames", "bus_eq_bands", "decide_mix",
    "finalise_output_gain", "solved_balance", "track_eq_sos", "track_section",
]
