"""What the routes share, as FastAPI dependencies: the services, the current user, and "this
session exists and is yours" (checked once here, not in every handler).

Tests override :func:`current_user` (``app.dependency_overrides``) to act as another user.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from mixlab.engine.plan import Plan
from mixlab.service import views
from mixlab.service.config import LOCAL_USER, Settings
from mixlab.service.db import Store
from mixlab.service.errors import not_found
from mixlab.service.events import JobWatch, StreamCounter
from mixlab.service.guard import SessionGuard
from mixlab.service.jobs.runner import JobRunner
from mixlab.service.jobs.tasks import session_plan
from mixlab.service.notes_cache import NotesCache
from mixlab.service.storage import Storage


@dataclass
class Services:
    """Everything a request may use; one per application."""

    settings: Settings
    store: Store
    storage: Storage
    runner: JobRunner
    notes: NotesCache
    # Choosing a unique track name and storing the file happen together.
    upload_lock: threading.Lock = field(default_factory=threading.Lock)
    # Deleting a session waits for the work on it, and refuses new work (guard.py).
    guard: SessionGuard = field(default_factory=SessionGuard)
    # Server-sent events: one poll for every stream, and the streams open per user (events.py).
    events: JobWatch = field(init=False)
    streams: StreamCounter = field(init=False)

    def __post_init__(self) -> None:
        self.events = JobWatch(self.store)
        self.streams = StreamCounter(self.settings.max_event_streams)

    def plan(self, owner: str, sid: str) -> Plan | None:
        return session_plan(self.storage, owner, sid)

    def session_document(self, owner: str, sid: str) -> dict[str, Any]:
        """The Session object of docs/API.md."""
        session = self.store.session(owner, sid)
        if session is None:
            raise not_found("This session")
        tracks = self.store.tracks(owner, sid)
        job = self.store.job(owner, session["last_job"]) if session["last_job"] else None
        plan = self.plan(owner, sid) if session["has_plan"] else None
        return views.session_json(session, tracks, job, plan)


def get_services(request: Request) -> Services:
    return request.app.state.services


def current_user() -> str:
    """The user every request runs as. Until accounts land (a later issue) it is the single
    local user; every object is owned by a user already, so accounts only change this."""
    return LOCAL_USER


ServicesDep = Annotated[Services, Depends(get_services)]
UserDep = Annotated[str, Depends(current_user)]


def owned_session(sid: str, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    """The session row if it exists and belongs to the user; 404 otherwise (the same answer
    for both, so ids of other users' sessions cannot be probed)."""
    session = services.store.session(user, sid)
    if session is None:
        raise not_found("This session", session_id=sid)
    return session


SessionDep = Annotated[dict[str, Any], Depends(owned_session)]


def working_session(sid: str, user: UserDep, services: ServicesDep) -> Iterator[dict[str, Any]]:
    """:func:`owned_session` for a request that writes into the session (uploads, plans, jobs,
    notes): the session cannot be deleted under it, and a session being deleted is 404."""
    with services.guard.use(user, sid):
        yield owned_session(sid, user, services)


WorkingSessionDep = Annotated[dict[str, Any], Depends(working_session)]

__all__ = ["Services", "ServicesDep", "SessionDep", "UserDep", "WorkingSessionDep", "current_user", "get_services",
           "owned_session", "working_session"]
