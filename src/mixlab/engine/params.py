"""The MixPlan's parameter schema: one spec per parameter, the only place its range lives.

Every value a MixPlan may hold is described once here: its type, unit, range, step, scale and
label. The renderer checks values with it, the service validates edited plans with it (type
first, then range: a gain of ``"loud"``, ``true`` or ``NaN`` is refused, naming the
parameter), the AI clamps its own decisions to it (saying so in the reason), the Mix Notes clamp
their fixes to it, and the browser draws its controls from it (``GET /api/options``). So a value
the AI or a fix sets is always one the controls can hold.

Sections are ``session``, ``track:<name>`` and the buses ``bus:drums``, ``bus:reverb``,
``bus:delay`` and ``bus:mix``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mixlab.analysis.roles import ROLES
from mixlab.dsp.eq import BAND_KINDS, MAX_GAIN_DB, MAX_Q, MIN_FREQ_HZ, MIN_Q
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError

FLOAT, BOOL, CHOICE, EQ = "float", "bool", "choice", "eq"

#: Most bands one EQ may hold (the AI uses up to five per track and four on the mix bus).
MAX_EQ_BANDS = 16
#: Highest EQ frequency a plan may name; the renderer also keeps it under 95 % of Nyquist.
MAX_EQ_FREQ_HZ = 20000.0


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: how it is typed, its unit and range, and how a control shows it.

    kind : ``"float"``, ``"bool"``, ``"choice"`` (one of ``choices``) or ``"eq"`` (a list of
        bands, each ``{kind, freq_hz, gain_db, q}``).
    min_value, max_value : the range the engine renders (floats only), inclusive.
    nullable : ``None`` is a valid value (the processor is off).
    log : a control should move on a logarithmic scale.
    """

    name: str
    label: str
    kind: str = FLOAT
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    step: float = 0.1
    log: bool = False
    nullable: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind, "unit": self.unit,
                               "nullable": self.nullable, "help": self.help}
        if self.kind == FLOAT:
            out.update(min=self.min_value, max=self.max_value, step=self.step, log=self.log)
        if self.kind == CHOICE:
            out["choices"] = list(self.choices)
        return out

    def check(self, value: Any, where: str) -> Any:
        """``value`` if it has this parameter's type and range; else :class:`InvalidParameterError`
        (code ``plan.bad_parameter``) naming ``where``."""
        if value is None:
            if self.nullable:
                return None
            raise _bad(where, f"{where} must have a value (it cannot be empty)")
        if self.kind == BOOL:
            if not isinstance(value, bool):
                raise _bad(where, f"{where} must be true or false, got {show_value(value)}")
            return value
        if self.kind == CHOICE:
            if not isinstance(value, str) or value not in self.choices:
                raise _bad(where, f"{where} must be one of {', '.join(self.choices)}, got {show_value(value)}")
            return value
        if self.kind == EQ:
            return check_eq_bands(value, where)
        v = _number(value, where)
        lo, hi = self.min_value, self.max_value
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _bad(where, f"{where} must be between {lo:g} and {hi:g} {self.unit}".rstrip() + f", got {v:g}",
                       min=lo, max=hi, value=v)
        return value

    def clamp(self, value: Any) -> tuple[Any, bool]:
        """``value`` brought into range (a float, or each band of an EQ), and whether it had to move."""
        if self.kind == EQ and isinstance(value, list):
            bands = [clamp_eq_band(b) for b in value]
            return bands, bands != value
        if self.kind != FLOAT or value is None:
            return value, False
        v = float(value)
        lo = -math.inf if self.min_value is None else self.min_value
        hi = math.inf if self.max_value is None else self.max_value
        inside = min(max(v, lo), hi)
        return (value, False) if inside == v else (inside, True)


def show_value(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bad(where: str, message: str, **details: Any) -> InvalidParameterError:
    return InvalidParameterError(message, code="plan.bad_parameter", parameter=where, **details)


def _number(value: Any, where: str) -> float:
    # bool is an int in Python: `true` is not a gain of 1 dB.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(where, f"{where} must be a number, got {show_value(value)}")
    v = float(value)
    if not math.isfinite(v):
        raise _bad(where, f"{where} must be a finite number, got {show_value(value)}")
    return v


_BAND_KEYS = frozenset(("kind", "freq_hz", "gain_db", "q"))


def check_eq_bands(value: Any, where: str) -> list[dict[str, Any]]:
    """A plan's EQ band list, checked by type and range (at most :data:`MAX_EQ_BANDS` bands)."""
    if not isinstance(value, list):
        raise _bad(where, f"{where} must be a list of EQ bands, got {show_value(value)}")
    if len(value) > MAX_EQ_BANDS:
        raise _bad(where, f"{where} has {len(value)} bands: an EQ holds at most {MAX_EQ_BANDS}",
                   max_bands=MAX_EQ_BANDS)
    for k, band in enumerate(value):
        at = f"{where}[{k}]"
        if not isinstance(band, dict):
            raise _bad(at, f"{at} must be a band {{kind, freq_hz, gain_db, q}}, got {show_value(band)}")
        if set(band) - _BAND_KEYS or not {"kind", "freq_hz", "gain_db"} <= set(band):
            raise _bad(at, f"{at} must have kind, freq_hz, gain_db and q (optional), got {', '.join(map(str, band))}")
        if band["kind"] not in BAND_KINDS:
            raise _bad(f"{at}.kind", f"{at}.kind must be one of {', '.join(BAND_KINDS)}, got {show_value(band['kind'])}")
        for key, lo, hi in (("freq_hz", MIN_FREQ_HZ, MAX_EQ_FREQ_HZ), ("gain_db", -MAX_GAIN_DB, MAX_GAIN_DB),
                            ("q", MIN_Q, MAX_Q)):
            if key not in band:
                continue
            v = _number(band[key], f"{at}.{key}")
            if not lo <= v <= hi or (key == "freq_hz" and v == lo):
                raise _bad(f"{at}.{key}", f"{at}.{key} must be between {lo:g} and {hi:g}, got {v:g}", min=lo, max=hi)
    return value


def clamp_eq_band(band: dict[str, Any]) -> dict[str, Any]:
    """An EQ band with its frequency, gain and Q held in the ranges :func:`check_eq_bands` accepts."""
    out = dict(band)
    out["gain_db"] = min(max(float(band["gain_db"]), -MAX_GAIN_DB), MAX_GAIN_DB)
    out["freq_hz"] = min(max(float(band["freq_hz"]), MIN_FREQ_HZ + 1.0), MAX_EQ_FREQ_HZ)
    if "q" in band:
        out["q"] = min(max(float(band["q"]), MIN_Q), MAX_Q)
    return out


def _f(name: str, label: str, unit: str, lo: float, hi: float, step: float, *, log: bool = False,
       nullable: bool = False, help: str = "") -> ParamSpec:
    return ParamSpec(name, label, FLOAT, unit, lo, hi, step, log, nullable, help=help)


def _compressor_specs() -> list[ParamSpec]:
    return [
        _f("comp_threshold_db", "Threshold", "dB", -80.0, 0.0, 0.1, help="level above which it compresses"),
        _f("comp_ratio", "Ratio", ":1", 1.0, 20.0, 0.1, log=True, help="1 is off"),
        _f("comp_attack_ms", "Attack", "ms", 0.1, 500.0, 0.1, log=True),
        _f("comp_release_ms", "Release", "ms", 5.0, 5000.0, 1.0, log=True),
        _f("comp_knee_db", "Knee", "dB", 0.0, 24.0, 0.5),
        _f("comp_makeup_db", "Make-up", "dB", -24.0, 24.0, 0.1),
    ]


def _eq_spec() -> ParamSpec:
    return ParamSpec("eq", "EQ", EQ, help=f"up to {MAX_EQ_BANDS} bands: peak, low_shelf or high_shelf")


def _by_name(specs: list[ParamSpec]) -> dict[str, ParamSpec]:
    return {s.name: s for s in specs}


def _genres() -> tuple[str, ...]:
    from mixlab.engine.profiles import genre_names

    return ("balanced", *(g for g in genre_names() if g != "balanced"))


#: Parameter specs per section kind (``track`` stands for every ``track:<name>``).
SECTIONS: dict[str, dict[str, ParamSpec]] = {
    "session": _by_name([
        ParamSpec("genre", "Genre", CHOICE, choices=_genres()),
        _f("tempo_bpm", "Tempo", "BPM", 20.0, 400.0, 0.1, help="sets the reverb decay and the delay time"),
    ]),
    "track": _by_name([
        ParamSpec("role", "Role", CHOICE, choices=tuple(ROLES)),
        _f("gain_db", "Fader", "dB", -80.0, 24.0, 0.1),
        _f("pan", "Pan", "", -1.0, 1.0, 0.01, help="-1 left, 0 centre, 1 right"),
        ParamSpec("mute", "Mute", BOOL),
        ParamSpec("polarity_inverted", "Polarity Ø", BOOL),
        _f("offset_ms", "Nudge", "ms", -1000.0, 1000.0, 0.1, help="later when positive"),
        _f("highpass_hz", "High-pass", "Hz", 10.0, 2000.0, 1.0, log=True, nullable=True),
        _eq_spec(),
        *_compressor_specs(),
        _f("deess_threshold_db", "De-ess thr.", "dB", -80.0, 0.0, 0.1, nullable=True),
        _f("deess_freq_hz", "De-ess freq", "Hz", 2000.0, 16000.0, 10.0, log=True),
        _f("reverb_send_db", "Reverb send", "dB", -60.0, 12.0, 0.5, nullable=True),
        _f("delay_send_db", "Delay send", "dB", -60.0, 12.0, 0.5, nullable=True),
        ParamSpec("bus", "Bus", CHOICE, choices=("drums", "mix")),
    ]),
    "bus:drums": _by_name(_compressor_specs()),
    "bus:reverb": _by_name([
        _f("rt60_s", "Decay RT60", "s", 0.1, 10.0, 0.05, log=True),
        _f("predelay_ms", "Pre-delay", "ms", 0.0, 200.0, 1.0),
        _f("damping_hz", "Damping", "Hz", 500.0, 20000.0, 10.0, log=True),
        _f("highpass_hz", "High-pass", "Hz", 10.0, 2000.0, 1.0, log=True),
    ]),
    "bus:delay": _by_name([
        _f("delay_ms", "Time", "ms", 10.0, 4000.0, 0.5, log=True),
        _f("feedback", "Feedback", "", 0.0, 0.9, 0.01),
        _f("lowpass_hz", "Low-pass", "Hz", 500.0, 20000.0, 10.0, log=True),
    ]),
    "bus:mix": _by_name([
        *_compressor_specs(),
        _eq_spec(),
        _f("output_gain_db", "Output", "dB", -60.0, 24.0, 0.1),
    ]),
}


def section_kind(section: str) -> str:
    """``track`` for ``track:<name>``, else the section's own name."""
    return "track" if section.startswith("track:") else section


def spec_for(section: str, name: str) -> ParamSpec:
    """The spec of one parameter; :class:`InvalidParameterError` for an unknown one."""
    specs = SECTIONS.get(section_kind(section))
    if specs is None:
        raise _bad(section, f"{section} is not a MixPlan section: use session, track:<name> or "
                            f"{', '.join(s for s in SECTIONS if s.startswith('bus:'))}")
    spec = specs.get(name)
    if spec is None:
        raise _bad(f"{section}.{name}", f"{section}.{name} is not a parameter of {section}")
    return spec


def check_value(section: str, name: str, value: Any) -> Any:
    """``value`` if it is valid for ``section.name``; else a ``plan.bad_parameter`` error."""
    return spec_for(section, name).check(value, f"{section}.{name}")


def check_plan(plan: Plan) -> None:
    """Check every parameter of a MixPlan by type and range (the first bad one is the error)."""
    for section, params in plan.sections.items():
        for name, param in params.items():
            check_value(section, name, param.value)


def clamp_value(section: str, name: str, value: Any) -> tuple[Any, bool]:
    """``value`` brought into ``section.name``'s range, and whether it had to move."""
    return spec_for(section, name).clamp(value)


def decide(plan: Plan, section: str, name: str, value: Any, reason: str) -> Any:
    """:meth:`Plan.decide`, with the value first brought into the parameter's range; when it
    had to move, the reason says what was wanted and where the range ends."""
    inside, moved = clamp_value(section, name, value)
    if moved:
        unit = spec_for(section, name).unit
        reason = f"{reason}; wanted {float(value):g} {unit}, held at {inside:g} {unit}, the end of its range".replace(" ,", ",")
    return plan.decide(section, name, inside, reason)


def schema() -> dict[str, Any]:
    """The schema as the API serves it: ``{section kind: {name: spec}}``."""
    return {kind: {n: s.to_dict() for n, s in specs.items()} for kind, specs in SECTIONS.items()}


__all__ = ["MAX_EQ_BANDS", "ParamSpec", "SECTIONS", "check_eq_bands", "clamp_eq_band", "check_plan", "check_value", "clamp_value",
           "decide", "schema", "section_kind", "show_value", "spec_for"]
