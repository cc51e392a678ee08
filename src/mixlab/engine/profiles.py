"""Genre tonal profiles, read from ``data/genres.json`` (each with its sources)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from mixlab.errors import InvalidParameterError

DEFAULT_GENRE = "balanced"


@dataclass(frozen=True)
class GenreProfile:
    name: str
    label: str
    low_shelf_db: float
    high_shelf_db: float
    tolerance_low_db: float
    tolerance_mid_db: float
    tolerance_high_db: float
    note: str


@cache
def _raw() -> dict:
    return json.loads(resources.files("mixlab.engine").joinpath("data/genres.json").read_text())


def genre_names() -> list[str]:
    return list(_raw()["genres"])


def get_genre(name: str | None) -> GenreProfile:
    raw = _raw()
    key = name or DEFAULT_GENRE
    if key not in raw["genres"]:
        raise InvalidParameterError(
            f"unknown genre '{key}'. Choose one of: {', '.join(raw['genres'])}.",
            code="genre.unknown",
            genre=key,
            choices=list(raw["genres"]),
        )
    entry = raw["genres"][key]
    return GenreProfile(
        name=key,
        label=entry["label"],
        low_shelf_db=float(entry["low_shelf_db"]),
        high_shelf_db=float(entry["high_shelf_db"]),
        tolerance_low_db=float(entry["tolerance_low_db"]),
        tolerance_mid_db=float(entry["tolerance_mid_db"]),
        tolerance_high_db=float(entry["tolerance_high_db"]),
        note=entry["note"],
    )


def genre_band_target_db(genre: GenreProfile, centres_hz: np.ndarray, *, fraction: float = 1 / 3) -> np.ndarray:
    """Target level of each fractional-octave band (dB, arbitrary offset) for ``genre``.

    Integrates the base PSD slope over log2 frequency, adds the genre's shelves, then adds
    ``10 log10(bandwidth)`` (bands of constant relative width gain 3.01 dB per octave over
    a per-Hz density).
    """
    raw = _raw()
    anchors = np.log2(np.asarray(raw["base_slope"]["anchors_hz"], dtype=np.float64))
    slopes = np.asarray(raw["base_slope"]["slope_db_per_octave"], dtype=np.float64)
    octaves = np.log2(np.asarray(centres_hz, dtype=np.float64))
    fine = np.linspace(min(anchors[0], octaves.min()), max(anchors[-1], octaves.max()), 2048)
    slope_fine = np.interp(fine, anchors, slopes)
    psd_db = np.concatenate([[0.0], np.cumsum((slope_fine[1:] + slope_fine[:-1]) / 2 * np.diff(fine))])
    level = np.interp(octaves, fine, psd_db)
    centres = np.asarray(centres_hz, dtype=np.float64)
    level += 10.0 * np.log10(centres * (2 ** (fraction / 2) - 2 ** (-fraction / 2)))
    low = 1.0 / (1.0 + (centres / raw["low_shelf_hz"]) ** 2)
    high = 1.0 / (1.0 + (raw["high_shelf_hz"] / centres) ** 2)
    return level + genre.low_shelf_db * low + genre.high_shelf_db * high


def genre_tolerance_db(genre: GenreProfile, centres_hz: np.ndarray) -> np.ndarray:
    """How far (dB) each band may sit from the target before it is corrected."""
    raw = _raw()
    centres = np.asarray(centres_hz, dtype=np.float64)
    low = 1.0 / (1.0 + (centres / raw["low_shelf_hz"]) ** 2)
    high = 1.0 / (1.0 + (raw["high_shelf_hz"] / centres) ** 2)
    mid = np.clip(1.0 - low - high, 0.0, 1.0)
    return genre.tolerance_low_db * low + genre.tolerance_mid_db * mid + genre.tolerance_high_db * high
