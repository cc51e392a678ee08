"""Mix Notes: what is wrong with a mix, where, on which tracks, why, and a fix.

A :class:`NotesSession` holds what the notes need and never changes: per track the band
energies per 100 ms frame and activity (:mod:`mixlab.analysis.track`), the recording defects
(:mod:`mixlab.analysis.defects`), the alignment of track pairs that carry the same source, and
for a mix file its loudness, true peak and stereo measurements. :meth:`NotesSession.evaluate`
combines those with a plan (gains, mutes, EQ, pans, polarity, offsets, de-essers) into notes,
without rendering audio, so the notes follow a moved control in milliseconds.

Each :class:`Note` carries a stable ``code``, a severity (``info``, ``warn``, ``problem``), a
title and message in a producer's words, time ranges (an empty list means the whole input), the
tracks involved, a frequency range, the measured value and its target with units, and a fix: a
plan patch (:func:`apply_fix` applies it as one step) or advice where no automatic fix is right.
Thresholds live in ``data/notes.json``, per code, with genre overrides.

The model behind the plan-dependent notes: the mix's band energy per frame is the sum of the
tracks' band energies times their gain and EQ power (tracks add in power; correlated twins are
judged from their measured alignment instead). Compressors are not modelled.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mixlab.analysis.defects import DefectAnalyzer, PairAlignment, StemDefects, excerpt_windows, pair_alignment
from mixlab.analysis.report import ReportBuilder
from mixlab.analysis.roles import classify_role
from mixlab.analysis.track import FRAME_S, AnalysisCache, TrackAnalyzer
from mixlab.audio import io as audio_io
from mixlab.audio.stems import StemSession, open_stems
from mixlab.dsp.deesser import DeEsserSettings
from mixlab.dsp.eq import EQBand, eq_sos, sos_response_db
from mixlab.dsp.pan import pan_gains
from mixlab.engine.mix import (
    DEESS_MIN_SIBILANCE_DB,
    MIX_PEAK_DBTP,
    MIX_SCHEMA,
    SILENT_LUFS,
    TrackArrays,
    TrackInput,
    relative_loudness,
    role_targets,
    solved_balance,
    strip_eq_sos,
    track_section,
)
from mixlab.engine.params import MAX_EQ_BANDS, check_value, clamp_value, spec_for
from mixlab.engine.plan import Plan
from mixlab.engine.profiles import genre_band_target_db, genre_tolerance_db, get_genre
from mixlab.engine.roles_data import genre_mixing, role_convention
from mixlab.engine.targets import get_platform, platform_names
from mixlab.errors import InvalidParameterError

logger = logging.getLogger(__name__)

NOTES_SCHEMA = "mixlab.notes/1"
#: Where notes are read: their advice names ``mixlab`` commands on the command line and the
#: page's controls in the browser.
SURFACES = ("cli", "web")
SEVERITIES = ("info", "warn", "problem")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
LEAD_ROLES = ("lead_vocal", "synth_lead")
#: A masker counts when it plays during at least this fraction of the masked track's time.
MASKING_MIN_OVERLAP = 0.2
MASKING_FRAMES = 5  # feature frames per masking frame
#: Frames (0.1 s) two tracks must play together to be compared as a pair: a tom fill of a few hits.
PAIR_MIN_FRAMES = 10
PRIORITY_ROLES = ("lead_vocal", "kick", "drums", "snare", "bass")

Progress = Callable[[str, float], None]


def _no_progress(stage: str, fraction: float) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# notes


@dataclass(frozen=True)
class Note:
    """One piece of feedback (see the module docstring)."""

    code: str
    severity: str
    title: str
    message: str
    ranges: tuple[tuple[float, float], ...] = ()
    tracks: tuple[str, ...] = ()
    freq_hz: tuple[float, float] | None = None
    measured: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    fix: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "ranges": [{"start_s": round(a, 2), "end_s": round(b, 2)} for a, b in self.ranges],
            "tracks": list(self.tracks),
            "freq_hz": list(self.freq_hz) if self.freq_hz else None,
            "measured": self.measured,
            "target": self.target,
            "fix": self.fix,
        }


def _value(value: float, unit: str, digits: int = 1) -> dict[str, Any]:
    v = float(value)
    return {"value": round(v, digits) if math.isfinite(v) else None, "unit": unit}


def _patch(*changes: tuple[str, str, Any, str]) -> dict[str, Any]:
    """A plan patch whose every value the schema accepts (:func:`mixlab.engine.params.check_value`):
    numbers are held in their range, EQ bands in theirs; an EQ with more bands than a plan may
    hold cannot be a fix, so that patch becomes advice."""
    out = []
    for section, name, value, reason in changes:
        if name == "eq" and len(value) > MAX_EQ_BANDS:
            return _advice(f"The EQ of {section.removeprefix('track:')} would need {len(value)} bands, more than the "
                           f"{MAX_EQ_BANDS} an EQ holds: {reason}, after removing bands it no longer needs.")
        value, _ = clamp_value(section, name, value)
        if name == "eq":
            value = [{**b, "gain_db": round(b["gain_db"], 1)} for b in value]
        try:
            check_value(section, name, value)
        except InvalidParameterError as exc:  # a fix the plan cannot hold is no fix: say what it wanted
            logger.warning("notes: a fix outside the schema became advice: %s", exc)
            return _advice(f"{reason[:1].upper()}{reason[1:]} ({section.removeprefix('track:')} {name}); "
                           "set it by hand: the automatic fix would leave the parameter's range.")
        out.append({"section": section, "param": name, "value": value, "reason": reason})
    return {"kind": "patch", "changes": out}


def _advice(text: str, *, web: str | None = None, action: str | None = None) -> dict[str, Any]:
    """Advice in words: ``text`` where it is read next to the command line (it may name a
    ``mixlab`` command), ``web`` in the browser (it names the page's controls; default
    ``text``); ``action`` names what the advice asks for (``"master"``), so a page can offer it."""
    out: dict[str, Any] = {"kind": "advice", "text": text}
    if web is not None:
        out["web"] = web
    if action is not None:
        out["action"] = action
    return out


def _on_surface(note: Note, surface: str) -> Note:
    """``note`` with its advice worded for ``surface`` (``cli`` or ``web``)."""
    fix = note.fix
    if fix.get("kind") != "advice" or "web" not in fix:
        return note
    text = fix["web"] if surface == "web" else fix["text"]
    return dataclasses.replace(note, fix={**{k: v for k, v in fix.items() if k != "web"}, "text": text})


def apply_fix(plan: Plan, note: Note) -> Plan:
    """A copy of ``plan`` with the note's patch applied (user values, not locked)."""
    if note.fix.get("kind") != "patch":
        raise InvalidParameterError(f"note '{note.code}' has advice, not an automatic fix", code="notes.no_fix")
    out = plan.copy()
    for change in note.fix["changes"]:
        out.set_user(change["section"], change["param"], change["value"], change["reason"], locked=False)
    return out


def _mmss(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def _where(ranges: Iterable[tuple[float, float]]) -> str:
    ranges = list(ranges)
    if not ranges:
        return "throughout"
    shown = ", ".join(f"{_mmss(a)}-{_mmss(b)}" for a, b in ranges[:3])
    return f"at {shown}" + (f" and {len(ranges) - 3} more place(s)" if len(ranges) > 3 else "")


def _hz(freq: float) -> str:
    return f"{freq / 1000:.1f} kHz" if freq >= 1000 else f"{freq:.0f} Hz"


# ---------------------------------------------------------------------------------------------
# rules


@cache
def _rules_raw() -> dict[str, Any]:
    return json.loads(resources.files("mixlab.engine").joinpath("data/notes.json").read_text())


def rules_for(genre: str) -> dict[str, dict[str, Any]]:
    """Every code's thresholds with the genre's overrides applied."""
    raw = _rules_raw()
    out = {code: dict(rule) for code, rule in raw["rules"].items()}
    for code, override in raw.get("genres", {}).get(genre, {}).items():
        out[code].update(override)
    return out


def _grade(value: float, rule: dict[str, Any], key: str, *, under: bool = False) -> str | None:
    """The highest severity whose threshold ``<severity>_<key>`` ``value`` passes."""
    if not math.isfinite(value):
        return None
    for severity in ("problem", "warn", "info"):
        threshold = rule.get(f"{severity}_{key}")
        if threshold is None:
            continue
        if (value <= threshold) if under else (value >= threshold):
            return severity
    return None


def _ranges(mask: np.ndarray, frame_s: float, *, gap_s: float = 1.0, min_s: float = 0.2,
            whole: float = 0.9) -> tuple[tuple[float, float], ...]:
    """Time ranges where ``mask`` holds (gaps under ``gap_s`` bridged); () when it holds for
    at least ``whole`` of the frames (the whole input)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return ()
    if mask.mean() >= whole:
        return ()
    idx = np.flatnonzero(mask)
    breaks = np.flatnonzero(np.diff(idx) * frame_s > gap_s)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    out = [(float(a * frame_s), float((b + 1) * frame_s)) for a, b in zip(starts, ends)]
    return tuple((a, max(b, a + min_s)) for a, b in out)


def _merge(ranges: Iterable[tuple[float, float]], gap_s: float = 1.0) -> tuple[tuple[float, float], ...]:
    out: list[list[float]] = []
    for a, b in sorted(ranges):
        if out and a - out[-1][1] <= gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Moving average over ``frames`` (centred, edges shortened)."""
    frames = min(frames, len(x))  # "same" gives max(len(x), frames) samples: a kernel never outgrows x
    if frames <= 1:
        return x
    kernel = np.ones(frames)
    num = np.convolve(x, kernel, mode="same")
    den = np.convolve(np.ones(len(x)), kernel, mode="same")
    return num / den


# ---------------------------------------------------------------------------------------------
# what a session holds


@dataclass(frozen=True)
class PairInfo:
    """Two tracks that carry the same source, and how they line up as delivered."""

    a: str
    b: str
    alignment: PairAlignment
    ranges: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class MixMeasures:
    """What a mix file's own analysis adds (not plan-dependent)."""

    integrated_lufs: float
    true_peak_dbtp: float
    plr_db: float
    mono_loss_lu: float
    low_correlation: float
    short_term_lufs: tuple[float, ...]
    channel_db: np.ndarray  # (2, frames): each channel's level per 100 ms frame, dBFS


def _db(power: np.ndarray | float) -> np.ndarray | float:
    return 10.0 * np.log10(np.maximum(power, 1e-30))


class NotesSession:
    """The fixed measurements of a stems session or a mix file; :meth:`evaluate` a plan."""

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        sample_rate: int,
        tracks: list[TrackInput],
        defects: dict[str, StemDefects],
        pairs: list[PairInfo] | None = None,
        conversions: list[tuple[str, int, int]] | None = None,
        genre: str | None = None,
        target: str = "spotify",
        mix: MixMeasures | None = None,
    ) -> None:
        if kind not in ("stems", "mix"):
            raise ValueError(kind)
        self.kind = kind
        self.name = name
        self.sample_rate = sample_rate
        self.tracks = tracks
        self.defects = defects
        self.pairs = pairs or []
        self.conversions = conversions or []
        self.genre = get_genre(genre).name
        self.target = get_platform(target)
        self.mix = mix
        self.rules = rules_for(self.genre)
        self.audible = [t for t in tracks if not t.silent]
        self._eq_cache: dict[str, np.ndarray] = {}
        self.arrays = TrackArrays(self.audible, sample_rate) if self.audible else None
        if self.arrays is not None:
            centres = self.arrays.centres
            profile = get_genre(self.genre)
            self.tone_target = genre_band_target_db(profile, centres)
            self.tone_tolerance = genre_tolerance_db(profile, centres)
            self.num_frames = self.arrays.energy.shape[1]
            self.band_totals = self.arrays.energy.sum(axis=1)  # (T, B)
            # Masking is judged on 0.5 s frames: fine enough to say where, five times less work.
            k, n = MASKING_FRAMES, self.num_frames // MASKING_FRAMES
            e = self.arrays.energy[:, :n * k]
            self.coarse_energy = e.reshape(e.shape[0], n, k, e.shape[2]).mean(axis=2).astype(np.float32)
            self.coarse_active = self.arrays.active[:, :n * k].reshape(e.shape[0], n, k).mean(axis=2) >= 0.6

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_stems(cls, path: str | os.PathLike[str], *, genre: str | None = None, target: str = "spotify",
                   cache_dir: str | os.PathLike[str] | None = None, use_cache: bool = True,
                   progress: Progress = _no_progress) -> NotesSession:
        """Analyse a stems folder or ZIP (features cached by content) and pair the twins."""
        with open_stems(Path(path)) as session:
            cache = AnalysisCache(Path(cache_dir) if cache_dir else None) if use_cache else None
            tracks, defects = analyze_for_notes(session, cache=cache, progress=progress)
            return cls.from_session(session, tracks, defects, genre=genre, target=target)

    @classmethod
    def from_session(cls, session: StemSession, tracks: list[TrackInput], defects: dict[str, StemDefects], *,
                     genre: str | None = None, target: str = "spotify") -> NotesSession:
        """From an open session already analysed (``mixlab mix`` reuses its analysis)."""
        pairs = find_pairs(session, tracks)
        conversions = [(c.stem, int(c.from_rate), int(c.to_rate)) for c in session.conversions]
        return cls(kind="stems", name=str(session.stems[0].source) if session.stems else "", sample_rate=session.sample_rate,
                   tracks=tracks, defects=defects, pairs=pairs, conversions=conversions, genre=genre, target=target)

    @classmethod
    def from_mix(cls, path: str | os.PathLike[str], *, genre: str | None = None, target: str = "spotify") -> NotesSession:
        """Analyse a stereo (or mono) mix file in one pass."""
        path = Path(path)
        info, blocks = audio_io.open_blocks(path)
        sr, ch = info.sample_rate, info.num_channels
        track = TrackAnalyzer(sr, ch)
        defect = DefectAnalyzer(sr, ch)
        report = ReportBuilder(sr, ch)
        hop = int(round(FRAME_S * sr))
        pending = np.zeros((ch, 0), dtype=np.float64)
        channel_power: list[np.ndarray] = []
        for block in blocks:
            track.push(block)
            defect.push(block)
            report.push(block)
            pending = np.concatenate([pending, np.square(block, dtype=np.float64)], axis=1)
            whole = pending.shape[1] // hop
            if whole:
                channel_power.append(pending[:, :whole * hop].reshape(ch, whole, hop).mean(axis=2))
                pending = pending[:, whole * hop:]
        features = track.result()
        rep = report.result()
        name = path.stem
        guess = classify_role(features, name)
        t = TrackInput(name=name, file_name=path.name, source=str(path), features=features, guess=guess)
        power = np.concatenate(channel_power, axis=1) if channel_power else np.zeros((ch, 0))
        if ch == 1:
            power = np.vstack([power, power])
        low = [b for b in rep.stereo_bands if getattr(b, "name", "") == "low"]
        low_corr = float(low[0].correlation) if low else float("nan")
        mix = MixMeasures(
            integrated_lufs=float(rep.integrated_lufs), true_peak_dbtp=float(rep.true_peak_dbtp), plr_db=float(rep.plr_db),
            mono_loss_lu=float(rep.mono_loss_lu) if ch == 2 else 0.0, low_correlation=low_corr,
            short_term_lufs=tuple(rep.short_term_lufs), channel_db=_db(power),
        )
        return cls(kind="mix", name=path.name, sample_rate=sr, tracks=[t], defects={name: defect.result()},
                   genre=genre, target=target, mix=mix)

    def eq_power(self, plan: Plan) -> np.ndarray:
        """Per track and band, the linear power gain of its high-pass and EQ in ``plan``
        (remembered per setting: a moved fader does not recompute any filter)."""
        out = np.ones((len(self.audible), len(self.arrays.centres)))
        for i, t in enumerate(self.audible):
            eq = _get(plan, t.section, "eq", [])
            hp = _get(plan, t.section, "highpass_hz", None)
            if eq or hp:
                out[i] = self.strip_power(eq, hp)
        return out

    def strip_power(self, eq: list[dict[str, Any]], highpass_hz: float | None) -> np.ndarray:
        """The linear power gain per band of one channel strip's high-pass and EQ (remembered)."""
        key = json.dumps([eq, highpass_hz], sort_keys=True)
        row = self._eq_cache.get(key)
        if row is None:
            sos = strip_eq_sos(eq, highpass_hz, self.sample_rate)
            row = 10.0 ** (sos_response_db(sos, self.arrays.centres, self.sample_rate) / 10.0) if len(sos) \
                else np.ones(len(self.arrays.centres))
            self._eq_cache[key] = row
        return row

    def delivered_plan(self) -> Plan:
        """The stems as delivered: unity gain, centred, no processing (the raw sum)."""
        plan = Plan(schema=MIX_SCHEMA)
        for t in self.tracks:
            s = t.section
            why = "as delivered"
            plan.decide(s, "role", t.guess.role, t.guess.reason)
            for name, value in (("gain_db", 0.0), ("pan", 0.0), ("mute", False), ("polarity_inverted", False),
                                ("offset_ms", 0.0), ("highpass_hz", None), ("eq", []), ("deess_threshold_db", None),
                                ("deess_freq_hz", 6000.0)):
                plan.decide(s, name, value, why)
        plan.decide("bus:mix", "eq", [], "as delivered")
        return plan

    @functools.cached_property
    def peak_crest(self) -> np.ndarray:
        """Per audible track, its sample peak's power over its loudest frame's power (linear):
        what turns a frame's level into its peak."""
        out = []
        for i, t in enumerate(self.audible):
            loudest = float(self.arrays.energy[i].sum(axis=1).max())
            peak = 10.0 ** (float(t.features.sample_peak_dbfs) / 10.0) if math.isfinite(t.features.sample_peak_dbfs) else 0.0
            out.append(peak / loudest if loudest > 0 else 0.0)
        return np.asarray(out)

    def peak_model_db(self, plan: Plan) -> float:
        """The plan's loudest-frame level of the mix as the notes model it (dB, any offset): kept
        with a rendered mix's measured peaks (``plan.context["result"]["peak_model_db"]``), it
        lets the notes predict the peaks of an edited plan."""
        return _PlanState(self, plan).peak_model_db if self.arrays is not None else float("nan")

    def solved_balance(self, st: _PlanState) -> tuple[np.ndarray, np.ndarray]:
        """:func:`mixlab.engine.mix.solved_balance` for the unmuted tracks of ``st`` (remembered
        per EQ, mutes and roles: a moved fader does not solve again)."""
        plan = st.plan
        named = tuple(bool(plan.param(t.section, "role") is not None and plan.param(t.section, "role").is_kept)
                      for t in self.audible)
        key = (st.eq.tobytes(), st.muted.tobytes(), tuple(st.roles[t.name] for t in self.audible), named)
        cache = self.__dict__.setdefault("_balance_cache", {})
        hit = cache.get(key)
        if hit is not None:
            return hit
        n = len(self.audible)
        solved, weight = np.full(n, np.nan), np.zeros(n)
        idx = np.flatnonzero(~st.muted)
        if len(idx):
            arrays = self.arrays
            tracks = [self.audible[i] for i in idx]
            kp = np.einsum("tfb,tb->tf", arrays.energy[idx], st.eq[idx] * arrays.k_gain[np.newaxis, :], optimize=False)
            targets = role_targets(tracks, st.roles, genre_mixing(self.genre), arrays.active[idx])
            # After an EQ move, start from the last solve of the same tracks: a few steps, not ~100.
            starts = self.__dict__.setdefault("_balance_starts", {})
            if len(starts) >= 32:
                starts.clear()
            solved[idx], weight[idx], starts[key[1:]] = solved_balance(
                plan, tracks, st.roles, kp, arrays.active[idx], targets, start_db=starts.get(key[1:]))
        if len(cache) >= 32:
            cache.clear()
        cache[key] = (solved, weight)
        return solved, weight

    # -- evaluation -----------------------------------------------------------------------------

    def evaluate(self, plan: Plan | None = None, *, surface: str = "cli") -> list[Note]:
        """Every note for ``plan`` (default: the stems as delivered, or the mix file as it is),
        its advice worded for ``surface``: ``"cli"`` names ``mixlab`` commands, ``"web"`` the
        browser's controls."""
        if surface not in SURFACES:
            raise InvalidParameterError(f"notes are shown on {' or '.join(SURFACES)}, not '{surface}'",
                                        code="notes.bad_surface")
        if plan is None:
            plan = self.delivered_plan()
        notes: list[Note] = []
        notes += self._stem_notes(plan)
        if self.arrays is not None:
            state = _PlanState(self, plan)
            notes += self._spectral_notes(state)
            if self.kind == "stems":
                notes += self._output_notes(state)
                notes += self._balance_notes(state)
                notes += self._masking_notes(state)
                notes += self._sibilance_notes(state)
                notes += self._stereo_notes(state)
                notes += self._pair_notes(plan)
        if self.mix is not None:
            notes += self._mix_notes()
        notes = [_on_surface(n, surface) for n in notes]
        notes.sort(key=lambda n: (-_RANK[n.severity], n.ranges[0][0] if n.ranges else 0.0, n.code))
        return notes

    # -- per-stem defects (plan only decides whether a fix is in place) ------------------------

    def _stem_notes(self, plan: Plan) -> list[Note]:
        out: list[Note] = []
        r = self.rules
        is_mix = self.kind == "mix"
        for t in self.tracks:
            s = t.section
            label = "The mix" if is_mix else f"'{t.name}'"
            tracks = () if is_mix else (t.name,)
            d = self.defects.get(t.name)
            if t.silent and not is_mix:
                muted = bool(_get(plan, s, "mute", False))
                out.append(Note(
                    "silent_track", "info" if muted else "warn", f"{t.name} is silent",
                    f"{label} has no audio in it (peak {t.features.sample_peak_dbfs:.0f} dBFS); it is left out of the mix. "
                    "If it should play, export it again and check the track was not muted or empty.",
                    tracks=tracks, measured=_value(t.features.sample_peak_dbfs, "dBFS"), target=_value(SILENT_LUFS, "LUFS"),
                    fix=_advice("Re-export the stem with its audio.") if muted else
                    _patch((s, "mute", True, "silent stem: nothing to mix"))))
                continue
            if d is None:
                continue
            if d.clipped_samples >= r["clipping"]["problem_samples"]:
                out.append(Note(
                    "clipping", "problem", f"{'Mix' if is_mix else t.name} is clipped",
                    f"{label} has {d.clipped_samples} clipped samples {_where(d.clip_ranges)}: the waveform was cut "
                    "flat at full scale, which adds distortion no EQ or gain can take out.",
                    ranges=tuple(d.clip_ranges), tracks=tracks, measured=_value(d.clipped_samples, "samples", 0),
                    target=_value(0, "samples", 0),
                    fix=_advice("Clipping cannot be undone. Export it again with more headroom (peaks under -1 dBFS, "
                                "no limiter on the stem), or re-record the part at a lower input gain.")))
            sev = _grade(d.dc_offset_db, r["dc_offset"], "db")
            if sev:
                hp = _get(plan, s, "highpass_hz", None) if not is_mix else None
                if hp:
                    sev = "info"
                out.append(Note(
                    "dc_offset", sev, f"DC offset on {'the mix' if is_mix else t.name}",
                    f"{label} sits off centre by {d.dc_offset_db:.0f} dBFS of DC: it wastes headroom and clicks at "
                    "edits." + (" The plan's high-pass removes it." if hp else ""),
                    tracks=tracks, freq_hz=(0.0, 10.0), measured=_value(d.dc_offset_db, "dBFS"),
                    target=_value(r["dc_offset"]["warn_db"], "dBFS"),
                    fix=_advice("Remove it with a DC filter or a 20 Hz high-pass in the master.") if is_mix else (
                        _advice("Removed by the plan's high-pass.") if hp else
                        _patch((s, "highpass_hz", 20.0, "removes the DC offset")))))
            if d.hum_hz and sum(b - a for a, b in d.hum_ranges) >= r["hum"]["min_seconds"]:
                notch = 0.0 if is_mix else _notch_depth(plan, s, d.hum_hz, self.sample_rate)
                level = d.hum_level_db - notch
                sev = _grade(level, r["hum"], "db")
                if sev:
                    harmonics = [d.hum_hz * k for k in (1, 2, 3)]
                    depth = float(np.clip(level - r["hum"]["info_db"] + 6.0, 12.0, 24.0))
                    bands = [{"kind": "peak", "freq_hz": f, "gain_db": round(-depth, 1), "q": 8.0} for f in harmonics]
                    out.append(Note(
                        "hum", sev, f"{d.hum_hz:.0f} Hz hum on {'the mix' if is_mix else t.name}",
                        f"{label} carries mains hum at {d.hum_hz:.0f} Hz and its harmonics, {level:.0f} dB under the "
                        f"music, {_where(d.hum_ranges)}: it muddies the low end and shows in quiet passages.",
                        ranges=tuple(d.hum_ranges), tracks=tracks, freq_hz=(d.hum_hz, d.hum_hz * 8),
                        measured=_value(level, "dB"), target=_value(r["hum"]["info_db"], "dB"),
                        fix=_advice("Notch it out (narrow cuts at the hum and its harmonics) or fix the grounding "
                                    "and re-record.") if is_mix else
                        _patch((s, "eq", _with_bands(_get(plan, s, "eq", []), bands),
                                f"narrow notches at {', '.join(_hz(f) for f in harmonics)} take out the hum"))))
            # how far the hiss lies under the track's own loud parts: the fader moves both
            # (a mix's quiet passages are often noise on purpose, risers and textures: there only
            # a floor loud on its own counts)
            snr = d.loud_dbfs - d.noise_floor_dbfs
            if not d.noise_in_gaps:
                sev = None
            elif is_mix:
                sev = _grade(d.noise_floor_dbfs, r["noise_floor"], "mix_dbfs")
            else:
                sev = _grade(snr, r["noise_floor"], "snr_db", under=True)
            if sev:
                out.append(Note(
                    "noise_floor", sev, f"Noise in the gaps of {'the mix' if is_mix else t.name}",
                    f"{label} hisses at {d.noise_floor_dbfs:.0f} dBFS where it should be silent, only {snr:.0f} dB "
                    "under its loud parts; compression and mastering will bring that noise up.",
                    tracks=tracks, measured=_value(snr, "dB under the loud parts"),
                    target=_value(r["noise_floor"]["info_snr_db"], "dB under the loud parts"),
                    fix=_advice("Cut or fade the silent parts, or use a gate or a noise reducer on this track.")))
            if _lossy(d, r["lossy_source"]):
                sev = "problem" if d.lowpass_hz < r["lossy_source"]["problem_below_hz"] else "warn"
                out.append(Note(
                    "lossy_source", sev, f"{'The mix' if is_mix else t.name} looks like a lossy file",
                    f"{label} stops dead at {_hz(d.lowpass_hz)}, as an MP3 or AAC does: the top end is gone and "
                    "cannot be brought back by EQ.",
                    tracks=tracks, freq_hz=(d.lowpass_hz, self.sample_rate / 2), measured=_value(d.lowpass_hz, "Hz", 0),
                    target=_value(r["lossy_source"]["warn_below_hz"], "Hz", 0),
                    fix=_advice("Use the lossless original (WAV, AIFF or FLAC export from the session).")))
            if not is_mix and t.features.num_channels == 2 and t.features.correlation < -0.2 and t.features.stereo_width > 0.6:
                out.append(Note(
                    "mono_compatibility", "warn", f"{t.name} cancels in mono",
                    f"{label}'s left and right are mostly out of phase (correlation {t.features.correlation:+.2f}): "
                    "on a mono speaker or club system it largely disappears.",
                    tracks=tracks, measured=_value(t.features.correlation, "correlation", 2),
                    target=_value(0.0, "correlation", 2),
                    fix=_advice("Flip the polarity of one side of this stem, or narrow it, before mixing.")))
        for stem, from_rate, to_rate in self.conversions:
            out.append(Note(
                "sample_rate_mismatch", "warn", f"{stem} is at {from_rate} Hz",
                f"'{stem}' was delivered at {from_rate} Hz while the session runs at {to_rate} Hz; mixlab resampled "
                "it. Stems exported at different rates often come from different versions of a session.",
                tracks=(stem,), measured=_value(from_rate, "Hz", 0), target=_value(to_rate, "Hz", 0),
                fix=_advice(f"Export every stem at {to_rate} Hz from the same session.")))
        return out

    # -- plan-dependent ------------------------------------------------------------------------

    def _spectral_notes(self, st: _PlanState) -> list[Note]:
        out: list[Note] = []
        centres = self.arrays.centres
        mix_frames = st.mix_bands  # (F, B)
        active = mix_frames.sum(axis=1) > 0
        if not active.any():
            return out
        loud = active & (_db(mix_frames.sum(axis=1)) > _db(np.percentile(mix_frames.sum(axis=1)[active], 95)) - 20.0)
        spectrum = _db(mix_frames[loud].mean(axis=0))
        ref = (centres >= 100.0) & (centres <= 5000.0)
        offset = float(np.mean(spectrum[ref] - self.tone_target[ref]))
        frame_dev = _db(mix_frames) - self.tone_target[np.newaxis, :] - offset  # (F, B)
        smooth = int(round(3.0 / FRAME_S))
        for code in ("boomy", "low_end_buildup", "harsh", "dull"):
            rule = self.rules[code]
            band = (centres >= rule["low_hz"]) & (centres <= rule["high_hz"]) & (centres < 0.45 * self.sample_rate)
            if not band.any():
                continue
            under = rule["direction"] == "under"
            tol = float(np.mean(self.tone_tolerance[band]))
            sev, excess, beyond, bump, sev_bump = self._tone_grade(spectrum, code)
            if not sev:
                continue
            if under:
                frames = _smooth(np.mean(frame_dev[:, band], axis=1), smooth)
                mask = loud & (-frames - tol >= rule["info_db"])
            else:
                frames = _smooth(_db(np.mean(10 ** (frame_dev[:, band] / 10.0), axis=1)), smooth)
                mask = loud & (frames - tol >= rule["info_db"])
            ranges = _ranges(mask, FRAME_S, gap_s=2.0, min_s=1.0, whole=0.8)
            lo, hi = rule["low_hz"], min(rule["high_hz"], 0.45 * self.sample_rate)
            centre = float(math.sqrt(lo * hi))
            contrib = st.contributions(band)
            names = tuple(self.audible[i].name for i in contrib[:2]) if self.kind == "stems" else ()
            words = {"boomy": ("Boomy low end", "too much sub and bass", "the low end booms and masks the kick"),
                     "low_end_buildup": ("Muddy low mids", "a build-up in the low mids", "the mix sounds muddy and small"),
                     "harsh": ("Harsh upper mids", "too much upper-mid energy", "it tires the ear at volume"),
                     "dull": ("Dull top end", "little air on top", "it sounds dull next to other records")}[code]
            msg = (f"{words[1].capitalize()} between {_hz(lo)} and {_hz(hi)}: {abs(excess):.1f} dB "
                   f"{'under' if under else 'over'} the {self.genre} tonal target (tolerance {tol:.1f} dB)"
                   + (f", and {bump:.1f} dB over the regions either side of it" if sev_bump else "")
                   + f", {_where(ranges)}; {words[2]}.")
            if names:
                msg += f" Most of it comes from {', '.join(repr(n) for n in names)}."
            fix = self._tone_fix(st, code, centre, beyond, sev, spectrum)
            out.append(Note(code, sev, words[0], msg, ranges=ranges, tracks=names, freq_hz=(lo, hi),
                            measured=_value(excess, "dB"), target=_value(0.0, "dB"), fix=fix))
        return out

    def _tone_grade(self, spectrum: np.ndarray, code: str) -> tuple[str | None, float, float, float | None, str | None]:
        """A tone code on the mix's long-term spectrum (dB per band): severity, the region's
        excess over the genre's target (level-normalised over 100 Hz-5 kHz), how far beyond the
        tolerance that is, the bump against the neighbouring regions and the bump's severity."""
        c = self.arrays.centres
        rule = self.rules[code]
        band = (c >= rule["low_hz"]) & (c <= rule["high_hz"]) & (c < 0.45 * self.sample_rate)
        ref = (c >= 100.0) & (c <= 5000.0)
        deviation = spectrum - self.tone_target - float(np.mean(spectrum[ref] - self.tone_target[ref]))
        under = rule["direction"] == "under"
        tol = float(np.mean(self.tone_tolerance[band]))
        excess = float(_db(np.mean(10 ** (deviation[band] / 10.0))) if not under else np.mean(deviation[band]))
        beyond = (-excess - tol) if under else (excess - tol)
        sev = _grade(beyond, rule, "db")
        bump = self._bump(deviation, rule)
        sev_bump = _grade(bump, rule, "bump_db") if bump is not None else None
        if _RANK.get(sev_bump or "", -1) > _RANK.get(sev or "", -1):
            sev = sev_bump
        return sev, excess, beyond, bump, sev_bump

    def _bump(self, deviation: np.ndarray, rule: dict[str, Any]) -> float | None:
        """How far a region stands out from the regions either side of it (``neighbours_hz``),
        all against the genre's target: a bump in the curve, whatever the overall tilt."""
        if "neighbours_hz" not in rule:
            return None
        c = self.arrays.centres
        region = (c >= rule["low_hz"]) & (c <= rule["high_hz"])
        near = np.zeros_like(region)
        for lo, hi in rule["neighbours_hz"]:
            near |= (c >= lo) & (c <= hi) & (c < 0.45 * self.sample_rate)
        if not region.any() or not near.any():
            return None
        return float(np.mean(deviation[region]) - np.mean(deviation[near]))

    def _tone_fix(self, st: _PlanState, code: str, centre: float, beyond: float, sev: str,
                  spectrum: np.ndarray) -> dict[str, Any]:
        """A mix-bus shelf or bell toward the genre's curve: ``beyond`` + 1 dB (1.5..8), more (x1.5,
        x2, to 12 dB) while the note would keep its severity; on a mix file, that as advice."""
        under = self.rules[code]["direction"] == "under"
        amount = float(np.clip(beyond + 1.0, 1.5, 8.0))
        if self.kind == "mix":
            move = "boost" if under else "cut"
            shape = f"{move.capitalize()} about {amount:.1f} dB around {_hz(centre)} on the mix bus (a broad " \
                f"{'shelf' if code in ('dull', 'boomy') else 'bell'})"
            return _advice(f"{shape}, or let `mixlab master --genre {self.genre}` match the tonal target.",
                           web=f"{shape}, or render a master (Render…) with the genre {self.genre}: it matches the "
                               "tonal target.", action="master")
        current = _get(st.plan, "bus:mix", "eq", [])
        now = self._bus_response_db(current)
        for step in (amount, 1.5 * amount, 2.0 * amount, 12.0):
            gain = round(min(step, 12.0) if under else -min(step, 12.0), 1)
            if under or code == "boomy":
                band = {"kind": "high_shelf" if under else "low_shelf", "freq_hz": 10000.0 if under else 120.0,
                        "gain_db": gain, "q": 0.7}
            else:
                band = {"kind": "peak", "freq_hz": round(centre), "gain_db": gain, "q": 1.0}
            new = _with_bands(current, [band])
            after = self._tone_grade(spectrum + self._bus_response_db(new) - now, code)[0]
            if _RANK.get(after or "", -1) < _RANK[sev]:
                break
        return _patch(("bus:mix", "eq", new,
                       f"{'lift' if band['gain_db'] > 0 else 'cut'} {abs(band['gain_db']):.1f} dB at {_hz(band['freq_hz'])} "
                       f"on the mix bus toward the {self.genre} tonal target"))

    def _bus_response_db(self, bands: list[dict[str, Any]]) -> np.ndarray:
        """The mix bus EQ's response per band (dB)."""
        if not bands:
            return np.zeros(len(self.arrays.centres))
        sos = eq_sos([EQBand(**b) for b in bands], self.sample_rate)
        return sos_response_db(sos, self.arrays.centres, self.sample_rate)

    def _output_notes(self, st: _PlanState) -> list[Note]:
        """The rendered mix's level for this plan, clipping included: the AI render's measured
        peaks (the plan's context ``result``) moved by the change this plan makes to the level of
        the mix's loudest frame (:attr:`_PlanState.peak_model_db`: gains, mutes, EQ, the mix-bus
        EQ and the output gain). A plan never rendered has nothing to calibrate on: no note."""
        result = st.plan.context.get("result") or {}
        try:
            rendered = float(result["peak_model_db"])
            true_peak = float(result["true_peak_dbtp"]) + st.peak_model_db - rendered
            sample_peak = float(result["sample_peak_dbfs"]) + st.peak_model_db - rendered
        except (KeyError, TypeError, ValueError):
            return []
        if not (math.isfinite(true_peak) and math.isfinite(sample_peak)):
            return []
        clipped = sample_peak >= _FULL_SCALE_DBFS
        rule = self.rules["true_peak_over"]
        sev = "problem" if clipped else _grade(true_peak, rule, "dbtp")
        if not sev:
            return []
        gain = float(_get(st.plan, "bus:mix", "output_gain_db", 0.0))
        down = true_peak - MIX_PEAK_DBTP
        fix = _patch(("bus:mix", "output_gain_db", round(gain - down, 1),
                      f"down {down:.1f} dB: the mix peaks at {MIX_PEAK_DBTP:g} dBTP again, the headroom mastering needs"))
        if clipped:
            return [Note(
                "clipping", "problem", "The mix will clip",
                f"With this plan the mix peaks at {sample_peak:+.1f} dBFS ({true_peak:+.1f} dBTP): the rendered file "
                "is cut flat at full scale wherever it peaks, distortion no master can take out.",
                measured=_value(sample_peak, "dBFS"), target=_value(MIX_PEAK_DBTP, "dBTP"), fix=fix)]
        return [Note(
            "true_peak_over", sev, "The mix peaks too high",
            f"With this plan the mix's true peak is {true_peak:+.1f} dBTP: converters and lossy encoders clip near "
            f"0 dBTP, and mastering needs headroom (the mixer leaves the mix at {MIX_PEAK_DBTP:g} dBTP).",
            measured=_value(true_peak, "dBTP"), target=_value(MIX_PEAK_DBTP, "dBTP"), fix=fix)]

    def _balance_notes(self, st: _PlanState) -> list[Note]:
        """Levels judged with the model that set them. In a plan whose balance the AI solved, each
        track against where the balance solve puts it (its role target weighed against the level
        it was delivered at, with this plan's EQ): a fresh AI mix has no level note beyond what
        the solve itself could not reach, and an edited one is judged by the same model. Stems
        as delivered (no gain set by the AI) against the role conventions alone."""
        out: list[Note] = []
        roles = st.roles
        rel = st.relative
        leads = st.leads
        # the AI mixed this plan (decide_mix leaves its tracks in the context) and set some fader
        ai_balance = bool(st.plan.context.get("tracks")) and any(
            _source(st.plan, t.section, "gain_db") == "ai" for t in self.audible)
        if ai_balance:
            solved, weight = st.solved
        else:  # stems as delivered (or set by hand): the role conventions alone
            solved, weight = np.where(st.muted, np.nan, st.targets), np.ones(len(self.audible))

        def why(i: int) -> str:
            label = role_convention(roles[self.audible[i].name]).label.lower()
            if not ai_balance:
                return f"where a {label} usually sits in {self.genre} ({solved[i]:+.1f})"
            return (f"where the mixer puts it ({solved[i]:+.1f} LU: a {label} in {self.genre} sits near "
                    f"{st.targets[i]:+.1f}, weighed {weight[i]:.0%} against the level it was delivered at)")

        rule = self.rules["buried_lead"]
        for i in leads:
            t = self.audible[i]
            deficit = float(solved[i] - rel[i])
            sev = _grade(deficit, rule, "lu")
            if not sev:
                continue
            out.append(Note(
                "buried_lead", sev, f"{t.name} is buried",
                f"The lead '{t.name}' sits {rel[i]:+.1f} LU against the mix where it plays, {deficit:.1f} LU under "
                f"{why(i)}. Listeners follow the lead: if it is under the accompaniment the song is lost."
                + ("" if roles[t.name] in LEAD_ROLES else
                   " (No track is a lead vocal or synth lead, so the most prominent melodic part is taken as the "
                   "lead; set another track's role to lead if it carries the tune.)"),
                ranges=_ranges(st.active[i], FRAME_S, gap_s=3.0, whole=0.6), tracks=(t.name,),
                measured=_value(rel[i], "LU"), target=_value(solved[i], "LU"),
                fix=self._gain_fix(st, i, float(solved[i]), lambda r, i=i: _grade(float(solved[i] - r), rule, "lu"),
                                   "lead")))
        rule = self.rules["level_balance"]
        for i, t in enumerate(self.audible):
            diff = float(rel[i] - solved[i])
            if st.muted[i] or not math.isfinite(diff) or (i in leads and diff < 0):  # a quiet lead is buried_lead's
                continue
            sev = _grade(abs(diff), rule, "lu")
            if not sev:
                continue
            if diff < 0 and sev == "problem":
                sev = "warn"  # too quiet is a taste call; too loud by that much swamps the mix
            label = role_convention(roles[t.name]).label.lower()
            out.append(Note(
                "level_balance", sev, f"{t.name} is too {'loud' if diff > 0 else 'quiet'}",
                f"'{t.name}' ({label}) sits {rel[i]:+.1f} LU against the mix where it plays, {abs(diff):.1f} LU "
                f"{'over' if diff > 0 else 'under'} {why(i)}.",
                ranges=_ranges(st.active[i], FRAME_S, gap_s=3.0, whole=0.6), tracks=(t.name,),
                measured=_value(rel[i], "LU"), target=_value(solved[i], "LU"),
                fix=self._gain_fix(st, i, float(solved[i]),
                                   lambda r, i=i: _grade(abs(float(r - solved[i])), rule, "lu"), label)))
        return out

    def _gain_fix(self, st: _PlanState, i: int, target_lu: float, grade: Callable[[float], str | None],
                  what: str) -> dict[str, Any]:
        """The fader move that puts track ``i`` at ``target_lu`` against the mix where it plays
        (the others held), held in the fader's range. When the end of the range leaves the note
        standing (``grade`` of the loudness there is still a severity), advice instead: the stem
        itself is too quiet or too loud for any fader setting."""
        t = self.audible[i]
        gain = float(_get(st.plan, t.section, "gain_db", 0.0))
        change = st.gain_change_for(i, target_lu)
        value, moved = clamp_value(t.section, "gain_db", round(gain + change, 1))
        up = change > 0
        if moved and grade(st.relative_after(i, value - gain)):
            spec = spec_for(t.section, "gain_db")
            return _advice(
                f"'{t.name}' would need its fader at {gain + change:+.1f} dB, past the end of its range "
                f"({spec.min_value:g} to {spec.max_value:+g} dB). Export the stem "
                f"{'louder' if up else 'quieter'}, or bring the other tracks {'down' if up else 'up'}.")
        return _patch((t.section, "gain_db", value,
                       f"brings the {what} {abs(value - gain):.1f} dB {'up' if up else 'down'} to its place"
                       + (" (as far as the fader goes)" if moved else "")))

    def _masking_notes(self, st: _PlanState) -> list[Note]:
        rule = self.rules["masking"]
        centres = self.arrays.centres
        found: list[Note] = []
        candidates: list[tuple[float, int, int, int, np.ndarray]] = []
        roles = st.roles
        prio = np.array([role_convention(roles[t.name]).priority for t in self.audible])
        level = st.coarse_bands  # (T, coarse frames, B)
        active = st.coarse_active
        frame_s = FRAME_S * MASKING_FRAMES
        for i, t in enumerate(self.audible):
            if roles[t.name] not in PRIORITY_ROLES or st.muted[i] or not active[i].any():
                continue
            act_idx = np.flatnonzero(active[i])
            ess_idx = self._essential_bands(level[i][act_idx])
            if not len(ess_idx):
                continue
            others = np.flatnonzero((prio > prio[i]) & ~st.muted)
            if not len(others):
                continue
            sub = level[:, act_idx][:, :, ess_idx]  # (T, active frames, essential bands)
            both = active[others][:, act_idx]
            covered = (sub[others] >= sub[i][np.newaxis]) & both[:, :, np.newaxis]
            # of the time the two play together (a part that comes and goes masks whenever it
            # plays), when that is at least a fifth of the time the masked track plays
            together = both.sum(axis=1)
            enough = together >= MASKING_MIN_OVERLAP * len(act_idx)
            fraction = covered.sum(axis=1) / np.maximum(together, 1)[:, np.newaxis]  # (others, essential bands)
            fraction[~enough] = 0.0
            best = np.argmax(fraction, axis=1)
            for k, j in enumerate(others):
                f = float(fraction[k, best[k]])
                if _grade(f, rule, "fraction"):
                    candidates.append((f, i, int(j), int(ess_idx[best[k]]), act_idx[covered[k, :, best[k]]]))
        # notes (ranges, median cut, messages) only for the pairs that make the cut: a dense
        # session has hundreds of candidates and the notes follow every move of a control
        candidates.sort(key=lambda c: -c[0])
        for f, i, j, b, covered_frames in candidates[: int(rule["max_notes"])]:
            t = self.audible[i]
            sev = _grade(f, rule, "fraction")
            frames = np.zeros(active.shape[1], dtype=bool)
            frames[covered_frames] = True
            freq = float(centres[b])
            m = self.audible[j]
            label = role_convention(roles[t.name]).label.lower()
            note = Note(
                "masking", sev, f"{m.name} masks the {label} at {_hz(freq)}",
                f"'{m.name}' is as loud as or louder than the {label} '{t.name}' around {_hz(freq)} for "
                f"{100 * f:.0f} % of the time they play together, {_where(_ranges(frames, frame_s, gap_s=2.0))}: "
                f"the {label} loses definition there.",
                ranges=_ranges(frames, frame_s, gap_s=2.0), tracks=(m.name, t.name),
                freq_hz=(round(freq / 2 ** (1 / 6)), round(freq * 2 ** (1 / 6))),
                measured=_value(100 * f, "% of the time", 0), target=_value(100 * rule["info_fraction"], "% of the time", 0),
                fix=self._masking_fix(st, i, j, sev))
            found.append(note)
        return found

    def _essential_bands(self, levels: np.ndarray) -> np.ndarray:
        """Indices of a track's essential bands from its (frames, bands) power where it plays:
        40 Hz-12.5 kHz, within 10 dB of its strongest there (none when it is silent there)."""
        c = self.arrays.centres
        usable = (c >= 40.0) & (c <= 12500.0)
        spec = levels.mean(axis=0)
        if not (spec[usable] > 0).any():
            return np.zeros(0, dtype=int)
        return np.flatnonzero(usable & (_db(spec) > _db(spec[usable].max()) - 10.0))

    def _masking_fix(self, st: _PlanState, i: int, j: int, sev: str) -> dict[str, Any]:
        """What uncovers track ``i`` from the masker ``j`` (the note drops under ``sev``): bell
        cuts on ``j`` at the essential band of ``i`` it covers most, the median excess + 3 dB
        (2..6), again at the band that then covers it most (a masker often covers several), at
        most three cuts and 6 dB in one band (``_MASKING_MAX_CUT_DB``: a deeper cut guts the
        masker). A masker that covers ``i`` whatever the cuts is too loud for it across the range:
        its fader comes down instead, by the least that does it (+0.5 dB), up to 6 dB. Past that,
        or when the masker is a lead (down, it would be buried), no fader move is right: advice.
        (The mixer's own masking cuts go to 4.5 dB: on a fresh AI mix a masking note asks for
        at most a few dB more, or says why EQ and faders cannot clear it.)"""
        rule = self.rules["masking"]
        level, active = st.coarse_bands, st.coarse_active
        centres = self.arrays.centres
        act_idx = np.flatnonzero(active[i])
        ess_idx = self._essential_bands(level[i][act_idx])
        mine = level[i][act_idx][:, ess_idx]
        theirs = level[j][act_idx][:, ess_idx]
        both = active[j][act_idx]
        together = max(int(both.sum()), 1)
        t, m = self.audible[i], self.audible[j]
        label = role_convention(st.roles[t.name]).label.lower()
        eq, hp = _get(st.plan, m.section, "eq", []), _get(st.plan, m.section, "highpass_hz", None)
        base = np.maximum(st.eq[j][ess_idx], 1e-30)

        def bells(cuts: dict[int, float]) -> list[dict[str, Any]]:
            return [{"kind": "peak", "freq_hz": round(float(centres[ess_idx[k]])), "gain_db": round(-c, 1), "q": 1.4}
                    for k, c in sorted(cuts.items())]

        cuts: dict[int, float] = {}  # essential band -> dB cut
        cleared = False
        for _ in range(6):
            gain = (self.strip_power(_with_bands(eq, bells(cuts)), hp)[ess_idx] / base) if cuts else np.ones(len(ess_idx))
            covered = (theirs * gain[np.newaxis, :] >= mine) & both[:, np.newaxis]
            fraction = covered.sum(axis=0) / together
            k = int(np.argmax(fraction))
            if _RANK.get(_grade(float(fraction[k]), rule, "fraction") or "", -1) < _RANK[sev]:
                cleared = True
                break
            if cuts.get(k, 0.0) >= _MASKING_MAX_CUT_DB or (k not in cuts and len(cuts) >= 3):
                break
            excess = _db(theirs[covered[:, k], k] * gain[k]) - _db(mine[covered[:, k], k])
            cuts[k] = min(cuts.get(k, 0.0) + float(np.clip(np.median(excess) + 3.0, 2.0, _MASKING_MAX_CUT_DB)),
                          _MASKING_MAX_CUT_DB)
        is_lead = j in st.leads
        if cleared and is_lead:
            # a lead's cuts must not bury it: its loudness change, K-weighted over its bands
            w = self.band_totals[j] * self.arrays.k_gain * st.weights[j]
            change = 10.0 * math.log10(max(float((w * self.strip_power(_with_bands(eq, bells(cuts)), hp)
                                                  / np.maximum(st.eq[j], 1e-30)).sum()), 1e-30) / max(float(w.sum()), 1e-30))
            cleared = st.targets[j] - (st.relative[j] + change) < self.rules["buried_lead"]["problem_lu"]
        if not cleared:
            # the least drop that uncovers all but the allowed share of the frames in every band
            allowed = int(math.ceil(rule[f"{sev}_fraction"] * together)) - 1
            ratio = np.sort(np.where(both[:, np.newaxis], theirs / np.maximum(mine, 1e-30), 0.0), axis=0)[::-1]
            drop = max(float(np.ceil(2.0 * (10.0 * np.log10(max(float(ratio[max(allowed, 0)].max()), 1e-30)) + 0.5)) / 2.0),
                       0.5)
            if is_lead or drop > _MASKING_MAX_FADER_DB:
                why = ("it is a lead: enough less of it, or cuts deep enough, would bury it" if is_lead else
                       f"it would take {drop:.1f} dB less '{m.name}', more than EQ cuts on it can clear")
                return _advice(f"'{m.name}' covers the {label} '{t.name}' across its range; {why}. Give the two their "
                               "own room in the arrangement (register, octave, rhythm) or decide which one leads and "
                               "set the faders by ear.")
            gain_db = float(_get(st.plan, m.section, "gain_db", 0.0))
            return _patch((m.section, "gain_db", round(gain_db - drop, 1),
                           f"down {drop:.1f} dB: '{m.name}' covers the {label} '{t.name}' across its range, "
                           "more than EQ cuts can clear"))
        parts = [f"{c:.1f} dB at {_hz(float(centres[ess_idx[k]]))}" for k, c in sorted(cuts.items())]
        where = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return _patch((m.section, "eq", _with_bands(eq, bells(cuts)), f"cut {where} to clear the {label} '{t.name}'"))

    def _sibilance_notes(self, st: _PlanState) -> list[Note]:
        rule = self.rules["sibilance"]
        centres = self.arrays.centres
        sib = (centres >= rule["low_hz"]) & (centres <= rule["high_hz"]) & (centres < 0.45 * self.sample_rate)
        out: list[Note] = []
        if not sib.any():
            return out
        for i, t in enumerate(self.audible):
            if not role_convention(st.roles[t.name]).deess or st.muted[i] or not st.active[i].any():
                continue
            bands = st.track_bands(i)  # after gain and EQ
            act = st.active[i]
            over = self._sibilant(bands, act, _get(st.plan, t.section, "deess_threshold_db", None), t)
            fraction = float(over.sum() / act.sum())
            sev = _grade(fraction, rule, "fraction")
            if not sev:
                continue
            ranges = _ranges(over, FRAME_S, gap_s=2.0)
            out.append(Note(
                "sibilance", sev, f"Sibilance on {t.name}",
                f"'{t.name}' has sharp S and T sounds: its {_hz(rule['low_hz'])}-{_hz(rule['high_hz'])} band rises over "
                f"the presence of its vowels in {100 * fraction:.0f} % of the frames where it sings, {_where(ranges)}; "
                "they will spit on bright speakers and get worse when mastered.",
                ranges=ranges, tracks=(t.name,), freq_hz=(rule["low_hz"], rule["high_hz"]),
                measured=_value(100 * fraction, "% of frames", 0), target=_value(100 * rule["info_fraction"], "% of frames", 0),
                fix=self._deess_fix(st, i, bands, over)))
        return out

    def _sibilant(self, bands: np.ndarray, act: np.ndarray, threshold: float | None, t: TrackInput) -> np.ndarray:
        """Frames where the sibilance band, after the de-esser at ``threshold`` (the mix's: ratio
        4, at most 10 dB), rises over the voice's typical presence: the median level of its
        presence band over the frames where it sings. An S louder than the vowels' presence
        spits; one under it is just an S. A band that stays ``DEESS_MIN_SIBILANCE_DB`` under the
        voice's median level holds no S at all, only leakage of a dark voice (the mixer's rule)."""
        rule = self.rules["sibilance"]
        s_level, presence, detector = self._sibilance_levels(bands, act, t)
        body = float(np.median(_db(bands[act].sum(axis=1)))) if act.any() else 0.0
        real = s_level - body > DEESS_MIN_SIBILANCE_DB
        if threshold is not None:
            s_level = s_level - np.clip((detector - threshold) * (1.0 - 1.0 / _DEESS_RATIO), 0.0, _DEESS_MAX_DB)
        return act & real & (s_level - presence > rule["frame_over_db"])

    def _sibilance_levels(self, bands: np.ndarray, act: np.ndarray, t: TrackInput) -> tuple[np.ndarray, float, np.ndarray]:
        """Per frame the sibilance band's level and the de-esser's detector level (above 5 kHz,
        per channel), and the voice's typical presence level (dB)."""
        rule = self.rules["sibilance"]
        c = self.arrays.centres
        sib = (c >= rule["low_hz"]) & (c <= rule["high_hz"]) & (c < 0.45 * self.sample_rate)
        pres = (c >= rule["presence_low_hz"]) & (c <= rule["presence_high_hz"])
        presence = float(np.median(_db(bands[act][:, pres].sum(axis=1)))) if act.any() else 0.0
        detector = _db(bands[:, c >= 5000.0].sum(axis=1) / max(t.features.num_channels, 1))
        return _db(bands[:, sib].sum(axis=1)), presence, detector

    def _deess_fix(self, st: _PlanState, i: int, bands: np.ndarray, over: np.ndarray) -> dict[str, Any]:
        """The de-esser's threshold that lands the sibilant frames 2 dB under the voice's typical
        presence; where 10 dB of de-essing is not enough, also a cut at the band's centre, the
        smallest of 3, 6, 9, 12 dB that brings the sibilant frames under the note's threshold."""
        rule = self.rules["sibilance"]
        t = self.audible[i]
        act = st.active[i]
        s_level, presence, detector = self._sibilance_levels(bands, act, t)
        wanted_s = presence + rule["frame_over_db"] - 2.0
        # threshold T such that the reduction (L - T)(1 - 1/ratio) takes s_level down to wanted_s
        need = detector - (s_level - wanted_s) / (1.0 - 1.0 / _DEESS_RATIO)
        new_t = round(float(np.clip(np.percentile(need[over], 10), -80.0, 0.0)), 1)
        changes = [(t.section, "deess_threshold_db", new_t, "de-esses the sibilant frames"),
                   (t.section, "deess_freq_hz", 5000.0, "the sibilance band")]
        eq = _get(st.plan, t.section, "eq", [])
        hp = _get(st.plan, t.section, "highpass_hz", None)
        centre = round(math.sqrt(rule["low_hz"] * rule["high_hz"]))
        for cut in (0.0, 3.0, 6.0, 9.0, 12.0):
            new_eq = _with_bands(eq, [{"kind": "peak", "freq_hz": centre, "gain_db": -cut, "q": 1.0}]) if cut else eq
            trial = bands * (self.strip_power(new_eq, hp) / np.maximum(st.eq[i], 1e-30))[np.newaxis, :]
            if self._sibilant(trial, act, new_t, t).sum() / act.sum() < rule["info_fraction"]:
                break
        if cut:
            changes.append((t.section, "eq", new_eq, f"cuts {cut:.0f} dB at {_hz(centre)}: more sibilance than the "
                            "de-esser's 10 dB can take"))
        return _patch(*changes)

    def _stereo_notes(self, st: _PlanState) -> list[Note]:
        left, right = st.left_right()  # (F,) powers
        act = (left + right) > 0
        if not act.any():
            return []
        imbalance = float(_db(left[act].sum()) - _db(right[act].sum()))
        sev = _grade(abs(imbalance), self.rules["stereo_imbalance"], "db")
        if not sev:
            return []
        side = "left" if imbalance > 0 else "right"
        # the track pulling hardest to that side
        pulls = st.pan_pull()
        j = int(np.argmax(pulls if imbalance > 0 else -pulls))
        t = self.audible[j]
        pan = float(_get(st.plan, t.section, "pan", 0.0))
        new_pan = round(pan * 0.5, 2)
        return [Note(
            "stereo_imbalance", sev, f"The mix leans {side}",
            f"The {side} channel is {abs(imbalance):.1f} dB louder than the other; on headphones the mix feels lopsided. "
            f"'{t.name}' (pan {pan:+.2f}) pulls it most.",
            tracks=(t.name,), measured=_value(imbalance, "dB (L - R)"), target=_value(0.0, "dB (L - R)"),
            fix=_patch((t.section, "pan", new_pan, f"halves the pan of '{t.name}' to re-centre the mix")))]

    def _pair_notes(self, plan: Plan) -> list[Note]:
        out: list[Note] = []
        pol_rule, phase_rule, time_rule = self.rules["polarity"], self.rules["phase_cancellation"], self.rules["timing_offset"]
        for p in self.pairs:
            a, b = track_section(p.a), track_section(p.b)
            al = p.alignment
            flipped = bool(_get(plan, a, "polarity_inverted", False)) != bool(_get(plan, b, "polarity_inverted", False))
            lag = al.lag_ms + float(_get(plan, b, "offset_ms", 0.0)) - float(_get(plan, a, "offset_ms", 0.0))
            inverted = al.polarity_inverted != flipped
            strength = abs(al.peak_correlation)
            if inverted and strength >= pol_rule["min_correlation"] and abs(lag) <= time_rule["max_ms"]:
                out.append(Note(
                    "polarity", "problem", f"{p.b} is inverted against {p.a}",
                    f"'{p.a}' and '{p.b}' carry the same source with opposite polarity (correlation "
                    f"{al.peak_correlation:+.2f}): together they cancel, thinning the low end {_where(p.ranges)}.",
                    ranges=p.ranges, tracks=(p.a, p.b), measured=_value(al.peak_correlation, "correlation", 2),
                    target=_value(pol_rule["min_correlation"], "correlation", 2),
                    fix=_patch((b, "polarity_inverted", not bool(_get(plan, b, "polarity_inverted", False)),
                                f"flips '{p.b}' to match '{p.a}'"))))
                continue
            if strength < min(phase_rule["min_correlation"], time_rule["min_correlation"]):
                continue
            if time_rule["min_ms"] <= abs(lag) <= time_rule["max_ms"] and strength >= time_rule["min_correlation"]:
                late, early = (p.b, p.a) if lag > 0 else (p.a, p.b)
                sec = track_section(late)
                new_offset = float(_get(plan, sec, "offset_ms", 0.0)) - abs(lag)
                out.append(Note(
                    "timing_offset", "warn", f"{late} is {abs(lag):.1f} ms late",
                    f"The same hits on '{early}' and '{late}' are {abs(lag):.1f} ms apart {_where(p.ranges)}: "
                    "they flam and smear the attack.",
                    ranges=p.ranges, tracks=(p.a, p.b), measured=_value(abs(lag), "ms"), target=_value(0.0, "ms"),
                    fix=_patch((sec, "offset_ms", round(new_offset, 2), f"moves '{late}' {abs(lag):.1f} ms earlier"))))
            elif abs(lag) < time_rule["min_ms"] and not inverted:
                # Summed at a small misalignment the pair combs; the measured cancellation holds while
                # the plan leaves the pair as delivered (same offsets, same polarities).
                if flipped or abs(lag - al.lag_ms) > 0.05 or abs(al.lag_ms) < 1000.0 / self.sample_rate:
                    continue
                sev_low = _grade(al.low_cancellation_db, phase_rule, "db", under=True)
                sev_notch = _grade(al.notch_db, phase_rule, "notch_db", under=True)
                if not (sev_low or sev_notch):
                    continue
                late = p.b if al.lag_ms > 0 else p.a
                sec = track_section(late)
                if _RANK.get(sev_low or "", -1) >= _RANK.get(sev_notch or "", -1):
                    sev, loss, band = sev_low, al.low_cancellation_db, (20.0, 250.0)
                    where = "below 250 Hz"
                else:
                    sev, loss = sev_notch, al.notch_db
                    band = (al.notch_hz / 2 ** (1 / 12), al.notch_hz * 2 ** (1 / 12))
                    where = f"around {_hz(al.notch_hz)} (and at odd multiples of it)"
                out.append(Note(
                    "phase_cancellation", sev, f"{p.a} and {p.b} cancel each other",
                    f"'{p.a}' and '{p.b}' pick up one source {abs(al.lag_ms):.2f} ms apart; summed, they lose "
                    f"{-loss:.1f} dB {where}: comb filtering, a hollow, phasey sound {_where(p.ranges)}.",
                    ranges=p.ranges, tracks=(p.a, p.b), freq_hz=band,
                    measured=_value(loss, "dB"), target=_value(0.0, "dB"),
                    fix=_patch((sec, "offset_ms", round(float(_get(plan, sec, "offset_ms", 0.0)) - abs(al.lag_ms), 3),
                                f"aligns '{late}' with its twin"))))
        return out

    # -- mix file ------------------------------------------------------------------------------

    def _mix_notes(self) -> list[Note]:
        m = self.mix
        r = self.rules
        out: list[Note] = []
        tgt = self.target
        sev = _grade(m.true_peak_dbtp, {"warn_dbtp": max(tgt.ceiling_dbtp, r["true_peak_over"]["warn_dbtp"]),
                                         "problem_dbtp": r["true_peak_over"]["problem_dbtp"]}, "dbtp")
        if sev:
            out.append(Note(
                "true_peak_over", sev, "True peak over the ceiling",
                f"The mix's true peak is {m.true_peak_dbtp:+.1f} dBTP; {tgt.label} asks for at most {tgt.ceiling_dbtp:+.1f}. "
                "Over 0 dBTP the decoders and converters of listeners' devices clip, and lossy encoding adds more.",
                measured=_value(m.true_peak_dbtp, "dBTP"), target=_value(tgt.ceiling_dbtp, "dBTP"),
                fix=_advice(f"Master it with a true-peak limiter: `mixlab master {self.name} --target {tgt.name}`.",
                            web=f"Master it with a true-peak limiter: render a {tgt.label} master (Render…).",
                            action="master")))
        rule = r["over_compressed"]
        sev = _grade(m.plr_db, rule, "plr_db", under=True)
        if sev:
            out.append(Note(
                "over_compressed", sev, "Over-compressed",
                f"The peak-to-loudness ratio is {m.plr_db:.1f} dB; {self.genre} usually keeps more than "
                f"{rule['warn_plr_db']:.0f} dB. The transients are flattened, and platforms will turn it down anyway.",
                measured=_value(m.plr_db, "dB PLR"), target=_value(rule["warn_plr_db"], "dB PLR"),
                fix=_advice("Back off the limiter and bus compression; master to the platform target instead of as loud as possible.")))
        rule = r["too_loud_for_platform"]
        over = m.integrated_lufs - tgt.target_lufs
        sev = _grade(over, rule, "lu")
        if sev:
            downs = []
            for name in platform_names():
                p = get_platform(name)
                if m.integrated_lufs > p.target_lufs:
                    downs.append(f"{p.label} -{m.integrated_lufs - p.target_lufs:.1f} dB")
            out.append(Note(
                "too_loud_for_platform", sev, f"Louder than {tgt.label} plays",
                f"At {m.integrated_lufs:.1f} LUFS the track will be turned down: {', '.join(downs)}. The loudness "
                f"bought with limiting is thrown away, and what it cost in punch (PLR {m.plr_db:.1f} dB) stays.",
                measured=_value(m.integrated_lufs, "LUFS"), target=_value(tgt.target_lufs, "LUFS"),
                fix=_advice(f"Master to the target: `mixlab master {self.name} --target {tgt.name}`.",
                            web=f"Master to the target: render a {tgt.label} master (Render…), which sets "
                                f"{tgt.target_lufs:.0f} LUFS.", action="master")))
        rule = r["too_quiet"]
        sev = _grade(m.integrated_lufs, rule, "lufs", under=True)
        if sev:
            out.append(Note(
                "too_quiet", sev, "Very quiet",
                f"At {m.integrated_lufs:.1f} LUFS the mix is {tgt.target_lufs - m.integrated_lufs:.1f} dB under "
                f"{tgt.label}'s {tgt.target_lufs:.0f} LUFS; some platforms never turn quiet tracks up"
                " and the noise floor comes up with any gain.",
                measured=_value(m.integrated_lufs, "LUFS"), target=_value(tgt.target_lufs, "LUFS"),
                fix=_advice(f"Master it: `mixlab master {self.name} --target {tgt.name}`.",
                            web=f"Master it: render a {tgt.label} master (Render…), which brings it to "
                                f"{tgt.target_lufs:.0f} LUFS.", action="master")))
        rule = r["mono_compatibility"]
        sev_loss = _grade(m.mono_loss_lu, rule, "loss_lu")
        sev_low = _grade(m.low_correlation, rule, "low_correlation", under=True)
        sev = max((s for s in (sev_loss, sev_low) if s), key=lambda s: _RANK[s], default=None)
        if sev:
            out.append(Note(
                "mono_compatibility", sev, "Falls apart in mono",
                f"Folded to mono the mix loses {m.mono_loss_lu:.1f} LU, and its low end correlates at "
                f"{m.low_correlation:+.2f} (out of phase under 0): on phones, club systems and mono speakers "
                "the bass and anything wide thin out.",
                freq_hz=(20.0, 250.0), measured=_value(m.mono_loss_lu, "LU"), target=_value(rule["warn_loss_lu"], "LU"),
                fix=_advice("Check polarity of stereo sources and keep the low end mono (mixlab master narrows "
                            "the lows when they are wide).",
                            web="Check polarity of stereo sources and keep the low end mono (a master rendered "
                                "here narrows the lows when they are wide).")))
        act = np.isfinite(m.channel_db).all(axis=0) & (m.channel_db.max(axis=0) > -70.0)
        if act.any():
            lr = float(_db(np.mean(10 ** (m.channel_db[0][act] / 10))) - _db(np.mean(10 ** (m.channel_db[1][act] / 10))))
            sev = _grade(abs(lr), r["stereo_imbalance"], "db")
            if sev:
                side = "left" if lr > 0 else "right"
                per_frame = _smooth(m.channel_db[0] - m.channel_db[1], 30)
                mask = act & (np.abs(per_frame) >= r["stereo_imbalance"]["info_db"]) & (np.sign(per_frame) == np.sign(lr))
                out.append(Note(
                    "stereo_imbalance", sev, f"The mix leans {side}",
                    f"The {side} channel is {abs(lr):.1f} dB louder than the other {_where(_ranges(mask, FRAME_S, gap_s=3.0))}.",
                    ranges=_ranges(mask, FRAME_S, gap_s=3.0), measured=_value(lr, "dB (L - R)"), target=_value(0.0, "dB (L - R)"),
                    fix=_advice("Re-balance the pans in the mix, or correct the balance of the stereo bus.")))
        return out


# ---------------------------------------------------------------------------------------------
# a plan applied to the cached energies


class _PlanState:
    """Per-track band energy per frame after the plan's gain, mute and EQ; the mix's."""

    def __init__(self, session: NotesSession, plan: Plan) -> None:
        self.session = session
        self.plan = plan
        arrays = session.arrays
        tracks = session.audible
        self.roles = {t.name: _get(plan, t.section, "role", t.guess.role) for t in tracks}
        for t in tracks:
            if self.roles[t.name] not in _known_roles():
                self.roles[t.name] = t.guess.role
        gains = np.array([float(_get(plan, t.section, "gain_db", 0.0)) for t in tracks])
        self.muted = np.array([bool(_get(plan, t.section, "mute", False)) for t in tracks])
        self.eq = session.eq_power(plan) if session.kind == "stems" else np.ones((len(tracks), len(arrays.centres)))
        lin = 10.0 ** (gains / 10.0) * (~self.muted)
        self.weights = self.eq * lin[:, np.newaxis]  # (T, B): each track's band power gain
        energy = arrays.energy
        mix = np.einsum("tfb,tb->fb", energy, self.weights, optimize=False)
        bus = _get(plan, "bus:mix", "eq", []) if session.kind == "stems" else []
        if bus:
            mix = mix * (10.0 ** (session._bus_response_db(bus) / 10.0))[np.newaxis, :]
        self.mix_bands = mix
        self.coarse_bands = session.coarse_energy * (self.eq * lin[:, np.newaxis]).astype(np.float32)[:, np.newaxis, :]
        self.coarse_active = session.coarse_active & ~self.muted[:, np.newaxis]
        self.active = arrays.active & ~self.muted[:, np.newaxis]
        kp = np.einsum("tfb,tb->tf", energy, self.weights * arrays.k_gain[np.newaxis, :], optimize=False)
        self.kp = kp
        act = self.active & (kp > 0)
        self.relative = relative_loudness(np.zeros(len(tracks)), kp, act)
        self.gains = gains

    @functools.cached_property
    def targets(self) -> np.ndarray:
        """Each track's loudness target against the mix where it plays (LU), by role and genre."""
        s = self.session
        return role_targets(s.audible, self.roles, genre_mixing(s.genre), self.active)

    @functools.cached_property
    def leads(self) -> list[int]:
        return _leads(self.session.audible, self.roles, self.relative, self.muted)

    @functools.cached_property
    def solved(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the mixer's balance solve puts each track (LU against the mix where it plays;
        NaN when muted) with this plan's roles and EQ, and the weight of its role target."""
        return self.session.solved_balance(self)

    @functools.cached_property
    def peak_model_db(self) -> float:
        """The mix's peak level in its loudest frame (dB, any offset) with this plan's output gain:
        how the rendered mix's peak moves from one plan to another. Each track's peak in a frame
        is its own sample peak scaled by the frame's level against its loudest frame (after gain,
        mute and EQ), and the tracks' peaks add in power (they seldom coincide; on real stems
        that follows rendered peaks within about 2 dB where a power or an amplitude sum of the
        levels is 5 dB off); the mix-bus EQ applies to the sum. Compressors are not modelled."""
        session, plan = self.session, self.plan
        crest = session.peak_crest  # (T,) peak power over the loudest frame's power
        mix = np.einsum("tfb,tb->fb", session.arrays.energy, self.weights * crest[:, np.newaxis], optimize=False)
        eq = _get(plan, "bus:mix", "eq", []) if session.kind == "stems" else []
        if eq:
            mix = mix * (10.0 ** (session._bus_response_db(eq) / 10.0))[np.newaxis, :]
        power = mix.sum(axis=1)
        loudest = float(_db(power.max())) if len(power) else -300.0
        return loudest + float(_get(plan, "bus:mix", "output_gain_db", 0.0))

    def relative_after(self, i: int, change_db: float) -> float:
        """Track ``i``'s loudness against the mix where it plays (LU) after its gain moves by
        ``change_db``, the others held."""
        act = self.active[i] & (self.kp[i] > 0)
        own = float(self.kp[i][act].sum()) * 10.0 ** (change_db / 10.0)
        others = float(self.kp[:, act].sum()) - float(self.kp[i][act].sum())
        return float(_db(own) - _db(own + max(others, 0.0)))

    def gain_change_for(self, i: int, target_lu: float) -> float:
        """The gain change (dB) that puts track ``i`` at ``target_lu`` against the mix where it
        plays, the other tracks held: own power P, others O, target ratio r: g P / (g P + O) = r."""
        act = self.active[i] & (self.kp[i] > 0)
        own = float(self.kp[i][act].sum())
        others = float(self.kp[:, act].sum()) - own
        if own <= 0:
            return 0.0
        r = 10.0 ** (min(target_lu, -0.1) / 10.0)
        if others <= 0:
            return 0.0
        return float(10.0 * math.log10(r * others / ((1.0 - r) * own)))

    def track_bands(self, i: int) -> np.ndarray:
        """Track ``i``'s band energy per frame after the plan, (F, B)."""
        return self.session.arrays.energy[i] * self.weights[i][np.newaxis, :]

    def contributions(self, band: np.ndarray) -> list[int]:
        share = (self.session.band_totals * self.weights)[:, band].sum(axis=1)
        order = np.argsort(share)[::-1]
        total = float(share.sum()) or 1.0
        return [int(i) for i in order if share[i] / total > 0.15]

    def _pan_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """Power gains to left and right per track, as :func:`mixlab.dsp.pan.apply_pan` pans."""
        lefts, rights = [], []
        centre, _ = pan_gains(0.0)
        for t in self.session.audible:
            pan = min(1.0, max(-1.0, float(_get(self.plan, t.section, "pan", 0.0))))
            left, right = pan_gains(pan)
            if t.features.num_channels == 1:
                lefts.append(left**2)
                rights.append(right**2)
            else:  # a stereo stem's balance: each side carries half its energy
                lefts.append(0.5 * ((left / centre) ** 2 if pan > 0 else 1.0))
                rights.append(0.5 * ((right / centre) ** 2 if pan < 0 else 1.0))
        return np.array(lefts), np.array(rights)

    def left_right(self) -> tuple[np.ndarray, np.ndarray]:
        power = np.einsum("tfb,tb->tf", self.session.arrays.energy, self.weights, optimize=False)  # (T, F)
        gl, gr = self._pan_gains()
        return (power * gl[:, np.newaxis]).sum(axis=0), (power * gr[:, np.newaxis]).sum(axis=0)

    def pan_pull(self) -> np.ndarray:
        power = (self.session.band_totals * self.weights).sum(axis=1)
        gl, gr = self._pan_gains()
        return power * (gl - gr)


@cache
def _known_roles() -> frozenset[str]:
    from mixlab.analysis.roles import ROLES

    return frozenset(ROLES)


#: A rendered sample at or over this (dBFS) is cut flat at full scale in a fixed-point file.
_FULL_SCALE_DBFS = -0.01
_MASKING_MAX_FADER_DB = 6.0  # a masking fix moves a fader at most this far; past it, advice
_MASKING_MAX_CUT_DB = 6.0  # ... and cuts at most this deep in one band
_DEESS_RATIO = DeEsserSettings.ratio  # the mix's de-esser (engine.mix_render) at its defaults
_DEESS_MAX_DB = DeEsserSettings.max_reduction_db
_MELODIC_ROLES = ("guitar", "keys", "brass", "pads", "backing_vocals")


def _leads(tracks: list[TrackInput], roles: dict[str, str], relative: np.ndarray, muted: np.ndarray) -> list[int]:
    """The parts a listener follows, which must not sit under the accompaniment: every lead vocal
    and synth lead (a second vocalist, a lead synth answering the vocal); in a song with neither,
    an instrumental of guitars, keys, horns or pads, its most prominent melodic part in this plan
    (whose level the producer chose: it carries the tune)."""
    leads = [i for i, t in enumerate(tracks) if roles[t.name] in LEAD_ROLES and not muted[i]]
    if leads:
        return leads
    melodic = [i for i, t in enumerate(tracks) if roles[t.name] in _MELODIC_ROLES and not muted[i]]
    return [max(melodic, key=lambda i: relative[i])] if melodic else []


def _lossy(d: StemDefects, rule: dict[str, Any]) -> bool:
    """Whether a band limit looks like a lossy encoder's: under ``warn_below_hz``, unless it is a
    steady cut at ``steady_cut_hz`` or above (its level under the limit moving with the music by
    at most ``steady_spread_db``): a mastering's ultrasonic filter, not an encoder dropping its
    top sub-bands frame by frame."""
    if not d.lowpass_hz or d.lowpass_hz >= rule["warn_below_hz"]:
        return False
    spread = getattr(d, "lowpass_spread_db", None)
    steady = spread is not None and spread <= rule["steady_spread_db"]
    return not (d.lowpass_hz >= rule["steady_cut_hz"] and steady)


def _source(plan: Plan, section: str, name: str) -> str | None:
    p = plan.param(section, name)
    return None if p is None else p.source


def _get(plan: Plan, section: str, name: str, default: Any) -> Any:
    p = plan.param(section, name)
    return default if p is None else p.value


def _with_bands(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``current`` EQ bands with ``new`` ones added; a new band replaces one of the same kind
    within a third of an octave."""
    out = [dict(b) for b in current]
    for band in new:
        out = [b for b in out if not (b.get("kind") == band["kind"]
                                      and abs(math.log2(float(b["freq_hz"]) / float(band["freq_hz"]))) < 1 / 3)]
        out.append(dict(band))
    return out


def _notch_depth(plan: Plan, section: str, freq: float, sample_rate: int) -> float:
    """How deep (dB, >= 0) the track's EQ cuts at ``freq``."""
    bands = _get(plan, section, "eq", [])
    if not bands:
        return 0.0
    sos = eq_sos([EQBand(**b) for b in bands], sample_rate)
    return float(max(0.0, -sos_response_db(sos, [freq], sample_rate)[0]))


# ---------------------------------------------------------------------------------------------
# analysis for the notes


def analyze_for_notes(session: StemSession, *, cache: AnalysisCache | None = None,
                      progress: Progress = _no_progress) -> tuple[list[TrackInput], dict[str, StemDefects]]:
    """Track features and defects of every stem in one pass each (both cached by content)."""
    from mixlab.engine.mixing import analyze_stems

    return analyze_stems(session, cache=cache, progress=progress, with_defects=True)


#: Envelopes and spectra (dB) that move less than this are flat: float32 round-off of a constant
#: level leaves a standard deviation of ~2e-6 dB, which is not a shape to correlate.
FLAT_DB = 0.01


def find_pairs(session: StemSession, tracks: list[TrackInput], *, max_pairs: int = 24,
               excerpt_s: float = 8.0) -> list[PairInfo]:
    """Tracks that carry the same source (two mics on a snare, a doubled DI and amp), aligned.

    Candidates are pairs whose level envelopes move together while both play and whose spectra
    match; each candidate's audio is read where both play and cross-correlated.
    """
    audible = [(i, t) for i, t in enumerate(tracks) if not t.silent]
    if len(audible) < 2:
        return []
    n_frames = min(t.features.band_energy.shape[0] for _, t in audible)
    env = np.stack([_db(t.features.band_energy[:n_frames].sum(axis=1)) for _, t in audible])
    act = np.stack([np.asarray(t.features.active[:n_frames], dtype=bool) for _, t in audible])
    spec = np.stack([t.features.band_energy[:n_frames].mean(axis=0) for _, t in audible])
    spec = _db(spec)
    candidates: list[tuple[float, int, int]] = []
    for x in range(len(audible)):
        for y in range(x + 1, len(audible)):
            both = act[x] & act[y]
            if both.sum() < PAIR_MIN_FRAMES:
                continue
            a, b = env[x][both], env[y][both]
            if min(np.ptp(a), np.ptp(b), np.ptp(spec[x]), np.ptp(spec[y])) < FLAT_DB:
                continue  # a flat envelope or spectrum (DC, a held tone) correlates with nothing
            r = float(np.corrcoef(a, b)[0, 1])
            shape = float(np.corrcoef(spec[x], spec[y])[0, 1])
            if r >= 0.8 and shape >= 0.8:
                candidates.append((r + shape, x, y))
    candidates.sort(reverse=True)
    out: list[PairInfo] = []
    for _, x, y in candidates[:max_pairs]:
        (i, ta), (j, tb) = audible[x], audible[y]
        windows = excerpt_windows(act[x], act[y], FRAME_S, seconds=excerpt_s)
        if not windows:
            continue
        a = _read_windows(session, i, windows)
        b = _read_windows(session, j, windows)
        alignment = pair_alignment(a, b, session.sample_rate)
        ranges = _ranges(act[x] & act[y], FRAME_S, gap_s=2.0, whole=0.6)
        out.append(PairInfo(a=ta.name, b=tb.name, alignment=alignment, ranges=ranges))
    return out


def _read_windows(session: StemSession, index: int, windows: list[tuple[float, float]]) -> np.ndarray:
    """The mono sum of stem ``index`` over ``windows`` (seconds), concatenated in time order."""
    sr = session.sample_rate
    spans = sorted((int(a * sr), int(b * sr)) for a, b in windows)
    last = spans[-1][1]
    pieces: list[tuple[int, np.ndarray]] = []
    pos = 0
    for block in session.blocks(index):
        n = block.shape[1]
        mono = block.mean(axis=0)
        for a, b in spans:
            lo, hi = max(a, pos), min(b, pos + n)
            if hi > lo:
                pieces.append((lo, mono[lo - pos:hi - pos].astype(np.float64)))
        pos += n
        if pos >= last:
            break
    pieces.sort(key=lambda p: p[0])
    return np.concatenate([p for _, p in pieces]) if pieces else np.zeros(0)


def notes_document(session: NotesSession, notes: list[Note], *, input_name: str,
                   timings_s: dict[str, float] | None = None) -> dict[str, Any]:
    """The JSON document ``mixlab notes --json`` prints and ``mixlab mix`` writes."""
    return {
        "schema": NOTES_SCHEMA,
        "input": input_name,
        "kind": session.kind,
        "genre": session.genre,
        "target": session.target.name,
        "counts": {s: sum(1 for n in notes if n.severity == s) for s in SEVERITIES},
        "notes": [n.to_dict() for n in notes],
        "timings_s": timings_s or {},
    }


__all__ = ["NOTES_SCHEMA", "Note", "NotesSession", "PairInfo", "analyze_for_notes", "apply_fix", "find_pairs",
           "notes_document", "rules_for"]
