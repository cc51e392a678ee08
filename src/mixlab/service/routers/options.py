"""``GET /api/options``: what the page offers (genres, targets, roles, formats, limits, corridors).

Served from the engine's data files, so the page never keeps its own copy of a list.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from fastapi import APIRouter

from mixlab.analysis.roles import ROLES
from mixlab.analysis.spectrum import third_octave_bands
from mixlab.engine import params
from mixlab.engine.profiles import genre_band_target_db, genre_names, genre_tolerance_db, get_genre
from mixlab.engine.targets import get_platform, platform_names
from mixlab.service.deps import ServicesDep
from mixlab.service.jobs.tasks import FORMATS
from mixlab.service.jsonbody import StrictJSONRoute

router = APIRouter(prefix="/api", tags=["options"], route_class=StrictJSONRoute)


@cache
def _static_options() -> dict[str, Any]:
    _, centres, _, _ = third_octave_bands()
    corridor: dict[str, Any] = {}
    for name in genre_names():
        profile = get_genre(name)
        target = genre_band_target_db(profile, centres)
        # Relative dB: the meter compares shapes, so the curve is centred on its 1 kHz band.
        target = target - target[int(np.argmin(np.abs(centres - 1000.0)))]
        corridor[name] = {"label": profile.label, "target_db": np.round(target, 2).tolist(),
                          "tolerance_db": np.round(genre_tolerance_db(profile, centres), 2).tolist()}
    targets = []
    for name in platform_names():
        p = get_platform(name)
        targets.append({"name": p.name, "label": p.label, "loudness_lufs": p.target_lufs,
                        "true_peak_dbtp": p.ceiling_dbtp, "normalises_up": p.normalises_up, "source": p.source})
    return {"genres": genre_names(), "targets": targets, "roles": list(ROLES), "formats": list(FORMATS),
            "params": params.schema(), "corridor": {"centres_hz": np.round(centres, 1).tolist(), "genres": corridor}}


@router.get("/options")
def options(services: ServicesDep) -> dict[str, Any]:
    return {**_static_options(), "limits": {"max_upload_bytes": services.settings.max_upload_bytes,
                                            "max_stems": services.settings.max_stems}}
