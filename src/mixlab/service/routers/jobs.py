"""Jobs: start a mix or a render, read a job, follow jobs as server-sent events.

Events are read from the job rows (:mod:`mixlab.service.events`: one poll every 100 ms for all
streams; the worker writes progress at most ~10 times a second): the same code works when the
worker is a thread here or another machine, and no event is lost if a client connects late,
since the row holds the latest state. A stream holds no thread while it waits.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mixlab.errors import InvalidParameterError
from mixlab.service import views
from mixlab.service.deps import ServicesDep, SessionDep, UserDep, WorkingSessionDep
from mixlab.service.errors import not_found
from mixlab.service.events import EventStream, job_stream
from mixlab.service.jsonbody import StrictJSONRoute
from mixlab.service.plan_io import plan_in, plan_out
from mixlab.service.routers.plan import checked_plan
from mixlab.service.schemas import MixRequest, RenderRequest, target_names

router = APIRouter(prefix="/api", tags=["jobs"], route_class=StrictJSONRoute)

@router.post("/sessions/{sid}/mix", status_code=202)
def start_mix(body: MixRequest, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    if session["kind"] != "stems":
        raise InvalidParameterError("A master session has no stems to mix; render it to get the masters.",
                                    code="session.not_stems")
    raw = plan_out(plan_in(body.plan, max_tracks=services.settings.max_stems)) if body.plan is not None else None
    job = services.runner.submit(user, session["id"], "mix", {"plan": raw})
    return views.job_json(job)  # type: ignore[return-value]


@router.post("/sessions/{sid}/render", status_code=202)
def start_render(body: RenderRequest, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    raw = None
    if body.plan is not None and session["kind"] == "stems":  # a master session has no plan: none is used
        raw = plan_out(checked_plan(services, user, session["id"], body.plan))
    targets = target_names(body.targets or session["targets"] or ["spotify"])
    params = {"plan": raw, "targets": targets, "formats": list(dict.fromkeys(body.formats)),
              "stems": body.stems}
    job = services.runner.submit(user, session["id"], "render", params)
    return views.job_json(job)  # type: ignore[return-value]


@router.get("/jobs/{jid}")
def get_job(jid: str, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    job = services.store.job(user, jid)
    if job is None:
        raise not_found("This job", job_id=jid)
    return views.job_json(job)  # type: ignore[return-value]


@router.get("/jobs/{jid}/events", response_class=StreamingResponse)
async def job_events(jid: str, user: UserDep, services: ServicesDep) -> StreamingResponse:
    """``text/event-stream``: the Job on every change, the last event when it ends, then closed."""
    if await run_in_threadpool(services.store.job, user, jid) is None:
        raise not_found("This job", job_id=jid)
    services.streams.acquire(user)

    def first() -> list[dict[str, Any]]:
        job = services.store.one("SELECT rowid AS _rowid, * FROM jobs WHERE id = ? AND owner = ?", (jid, user))
        return [job] if job else []

    body = job_stream(services.events, first, lambda row: row["id"] == jid and row["owner"] == user, until_final=jid,
                      alive=lambda: services.store.job(user, jid) is not None)
    return EventStream(body, services.streams, user)


@router.get("/sessions/{sid}/events", response_class=StreamingResponse)
async def session_events(session: SessionDep, user: UserDep, services: ServicesDep) -> StreamingResponse:
    """Every job of the session as it changes (the latest one first); stays open."""
    sid = session["id"]
    services.streams.acquire(user)

    def first() -> list[dict[str, Any]]:
        latest = services.store.one("SELECT rowid AS _rowid, * FROM jobs WHERE session_id = ? AND owner = ? "
                                    "ORDER BY created_at DESC, rowid DESC LIMIT 1", (sid, user))
        return [latest] if latest else []

    body = job_stream(services.events, first, lambda row: row["session_id"] == sid and row["owner"] == user,
                      alive=lambda: services.store.session(user, sid) is not None)
    return EventStream(body, services.streams, user)
