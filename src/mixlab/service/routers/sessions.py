"""Sessions: create, list, read, rename / set genre and targets, delete (with every file)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from mixlab.engine.profiles import get_genre
from mixlab.engine.targets import get_platform
from mixlab.service import views
from mixlab.service.deps import ServicesDep, SessionDep, UserDep
from mixlab.service.errors import ApiError
from mixlab.service.schemas import SessionCreate, SessionPatch
from mixlab.service.jsonbody import StrictJSONRoute

router = APIRouter(prefix="/api/sessions", tags=["sessions"], route_class=StrictJSONRoute)


@router.post("", status_code=201)
def create_session(body: SessionCreate, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    session = services.store.create_session(user, body.name.strip() or "Untitled session", body.kind)
    return services.session_document(user, session["id"])


@router.get("")
def list_sessions(user: UserDep, services: ServicesDep) -> dict[str, Any]:
    counts = {r["session_id"]: r["n"] for r in services.store.query(
        "SELECT session_id, COUNT(*) AS n FROM tracks WHERE owner = ? GROUP BY session_id", (user,))}
    return {"sessions": [views.session_summary_json(s, counts.get(s["id"], 0)) for s in services.store.sessions(user)]}


@router.get("/{sid}")
def get_session(session: SessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    return services.session_document(user, session["id"])


@router.patch("/{sid}")
def patch_session(body: SessionPatch, session: SessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = body.model_fields_set
    if "name" in fields and body.name is not None:
        values["name"] = body.name.strip() or session["name"]
    if "genre" in fields:
        values["genre"] = get_genre(body.genre).name if body.genre else None
    if "targets" in fields and body.targets is not None:
        values["targets"] = [get_platform(t).name for t in dict.fromkeys(body.targets)]
    services.store.update("sessions", session["id"], values, owner=user)
    return services.session_document(user, session["id"])


@router.delete("/{sid}", status_code=204)
def delete_session(session: SessionDep, user: UserDep, services: ServicesDep) -> Response:
    if services.store.active_jobs(user, session["id"]):
        raise ApiError(409, "session.busy", "A job is running on this session; wait for it to finish, then delete it.")
    services.store.delete_session(user, session["id"])
    services.storage.remove_session(user, session["id"])
    services.notes.forget(session["id"])
    return Response(status_code=204)
