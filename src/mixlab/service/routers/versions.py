"""Versions (every mix and render kept) and their files."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from mixlab.service import views
from mixlab.service.deps import ServicesDep, UserDep, WorkingSessionDep
from mixlab.service.errors import not_found
from mixlab.service.jsonbody import StrictJSONRoute
from mixlab.service.plan_io import without_paths

router = APIRouter(prefix="/api/sessions/{sid}/versions", tags=["versions"], route_class=StrictJSONRoute)

_MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".json": "application/json",
                ".zip": "application/zip"}


@router.get("")
def list_versions(session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    return {"versions": [views.version_json(v) for v in services.store.versions(user, session["id"])]}


@router.get("/{vid}/files/{name}")
def version_file(vid: str, name: str, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> Response:
    """The file as an attachment (Range requests answered, so masters can be previewed)."""
    version = services.store.version(user, session["id"], vid)
    # Only names the version lists are served: a name is never turned into a path unchecked.
    if version is None or name not in {f["name"] for f in version["files"]}:
        raise not_found("This file", version_id=vid, name=name)
    path = services.storage.folder(user, session["id"], "versions") / vid / name
    if not path.is_file():
        raise not_found("This file", version_id=vid, name=name)
    suffix = path.suffix.lower()
    if suffix == ".json":  # a plan: never with a server path (versions written before kept one)
        document = without_paths(services.storage.read_json(path))
        return Response(json.dumps(document, indent=2, allow_nan=False), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    download = f"{session['name']} - {name}" if suffix != ".json" else name
    return FileResponse(path, media_type=_MEDIA_TYPES.get(suffix, "application/octet-stream"), filename=download)
