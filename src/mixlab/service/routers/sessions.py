"""Sessions: create, list, read, rename / set genre and targets, delete (with every file)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from mixlab.service import views
from mixlab.service.deps import ServicesDep, SessionDep, UserDep, WorkingSessionDep
from mixlab.service.schemas import SessionCreate, SessionPatch, genre_name, target_names
from mixlab.service.guard import DELETE_WAIT_S
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
def get_session(session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    return services.session_document(user, session["id"])


@router.patch("/{sid}")
def patch_session(body: SessionPatch, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = body.model_fields_set
    if "name" in fields and body.name is not None:
        values["name"] = body.name.strip() or session["name"]
    if "genre" in fields:
        values["genre"] = genre_name(body.genre) if body.genre else None
    if "targets" in fields and body.targets is not None:
        values["targets"] = target_names(body.targets)
    services.store.update("sessions", session["id"], values, owner=user)
    return services.session_document(user, session["id"])


@router.delete("/{sid}", status_code=204)
def delete_session(session: SessionDep, user: UserDep, services: ServicesDep) -> Response:
    """Serialised with the work on the session (guard.py): new work is refused, work in flight
    ends first, a mix or render makes it 409, a preparation is cancelled or waited for."""
    sid = session["id"]
    with services.guard.deleting(user, sid, timeout_s=DELETE_WAIT_S):
        services.runner.clear_for_delete(user, sid, timeout_s=DELETE_WAIT_S)
        services.store.delete_session(user, sid)
        services.storage.remove_session(user, sid)
        services.notes.forget(sid)
    return Response(status_code=204)
