"""Platform loudness targets, read from ``data/platforms.json`` (each with its source)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mixlab.errors import InvalidParameterError


@dataclass(frozen=True)
class PlatformTarget:
    """Where a master must land: integrated loudness and true-peak ceiling."""

    name: str
    label: str
    target_lufs: float
    ceiling_dbtp: float
    normalises_up: bool = True
    source: str = ""


@cache
def _platform_table() -> dict[str, PlatformTarget]:
    raw = json.loads(resources.files("mixlab.engine").joinpath("data/platforms.json").read_text())
    return {
        name: PlatformTarget(
            name=name,
            label=entry["label"],
            target_lufs=float(entry["target_lufs"]),
            ceiling_dbtp=float(entry["ceiling_dbtp"]),
            normalises_up=bool(entry.get("normalises_up", True)),
            source=entry["source"],
        )
        for name, entry in raw["platforms"].items()
    }


def platform_names() -> list[str]:
    """Names accepted by ``--target``, in the data file's order."""
    return list(_platform_table())


def get_platform(name: str) -> PlatformTarget:
    table = _platform_table()
    if name not in table:
        raise InvalidParameterError(
            f"unknown target '{name}'. Choose one of: {', '.join(table)}; or give --lufs and --ceiling-dbtp.",
            code="target.unknown",
            target=name,
            choices=list(table),
        )
    return table[name]


def custom_target(target_lufs: float, ceiling_dbtp: float) -> PlatformTarget:
    """A user-chosen target; checked for sense, not for taste."""
    if not -40.0 <= target_lufs <= -3.0:
        raise InvalidParameterError(
            f"--lufs {target_lufs} is outside -40..-3 LUFS", code="target.bad_lufs", target_lufs=target_lufs
        )
    if not -12.0 <= ceiling_dbtp <= 0.0:
        raise InvalidParameterError(
            f"--ceiling-dbtp {ceiling_dbtp} is outside -12..0 dBTP", code="target.bad_ceiling", ceiling_dbtp=ceiling_dbtp
        )
    return PlatformTarget(
        name="custom",
        label=f"Custom ({target_lufs:g} LUFS, {ceiling_dbtp:g} dBTP)",
        target_lufs=float(target_lufs),
        ceiling_dbtp=float(ceiling_dbtp),
        source="chosen by the user",
    )
