"""Role and genre mixing conventions, read from ``data/roles.json`` (each with its sources)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from mixlab.engine.profiles import DEFAULT_GENRE, get_genre


@dataclass(frozen=True)
class RoleConvention:
    name: str
    label: str
    priority: int
    loudness_lu: float
    spread_lu: float
    pan: str | float  # "centre" or a spread 0..1
    highpass_hz: float
    drum_bus: bool
    ratio: float
    attack_ms: float
    release_ms: float
    target_gr_db: float
    deess: bool
    reverb_send_db: float | None
    delay_send_db: float | None


@dataclass(frozen=True)
class GenreMixing:
    name: str
    loudness_lu: dict[str, float]
    compression: float
    space: float


@cache
def _raw() -> dict[str, Any]:
    return json.loads(resources.files("mixlab.engine").joinpath("data/roles.json").read_text())


def group_exponent() -> float:
    return float(_raw()["group_exponent"])


def stems_balance_spread_lu() -> float:
    """How far delivered stems sit from the balance their producer intends (1 sd, LU)."""
    return float(_raw()["stems_balance_spread_lu"])


def guessed_role_spread_factor() -> float:
    """How much looser a role convention holds when the role was guessed from the audio."""
    return float(_raw()["guessed_role_spread_factor"])


@cache
def role_convention(role: str) -> RoleConvention:
    entry = _raw()["roles"][role]
    comp = entry["compressor"]
    return RoleConvention(
        name=role, label=entry["label"], priority=int(entry["priority"]), loudness_lu=float(entry["loudness_lu"]),
        spread_lu=float(entry["spread_lu"]),
        pan=entry["pan"], highpass_hz=float(entry["highpass_hz"]), drum_bus=bool(entry["drum_bus"]),
        ratio=float(comp["ratio"]), attack_ms=float(comp["attack_ms"]), release_ms=float(comp["release_ms"]),
        target_gr_db=float(comp["target_gr_db"]), deess=bool(entry["deess"]),
        reverb_send_db=entry["reverb_send_db"], delay_send_db=entry["delay_send_db"],
    )


def genre_mixing(name: str | None) -> GenreMixing:
    genre = get_genre(name or DEFAULT_GENRE)  # validates the name with the same message as mastering
    entry = _raw()["genres"][genre.name]
    return GenreMixing(name=genre.name, loudness_lu={k: float(v) for k, v in entry["loudness_lu"].items()},
                       compression=float(entry["compression"]), space=float(entry["space"]))


__all__ = ["GenreMixing", "RoleConvention", "genre_mixing", "group_exponent", "guessed_role_spread_factor",
           "role_convention", "stems_balance_spread_lu"]
