"""Jobs: start a mix or a render, read a job, follow jobs as server-sent events.

Events are read from the job rows, polled every 100 ms (the worker writes progress at most
~10 times a second): the same code works when the worker is a thread here or another machine,
and no event is lost if a client connects late, since the row holds the latest state.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mixlab.engine.targets import get_platform
from mixlab.errors import InvalidParameterError
from mixlab.service import views
from mixlab.service.deps import ServicesDep, SessionDep, UserDep, WorkingSessionDep
from mixlab.service.errors import not_found
from mixlab.service.jsonbody import StrictJSONRoute
from mixlab.service.plan_io import plan_in, plan_out
from mixlab.service.routers.plan import checked_plan
from mixlab.service.schemas import MixRequest, RenderRequest

router = APIRouter(prefix="/api", tags=["jobs"], route_class=StrictJSONRoute)

POLL_S = 0.1
KEEPALIVE_S = 15.0
FINAL_STATES = ("done", "failed", "cancelled")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
    targets = [get_platform(t).name for t in dict.fromkeys(body.targets or session["targets"] or ["spotify"])]
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


def _event(job: dict[str, Any]) -> str:
    return f"data: {json.dumps(views.job_json(job), allow_nan=False)}\n\n"


def _event_stream(request: Request, changed: Callable[[], tuple[list[dict[str, Any]], bool]]) -> StreamingResponse:
    """Poll ``changed`` (run in the thread pool) every :data:`POLL_S`: send the jobs it returns,
    a keep-alive comment when quiet, and stop when it says so or the client goes away."""

    async def stream() -> AsyncIterator[str]:
        last_sent = time.monotonic()
        while True:
            jobs, done = await run_in_threadpool(changed)
            for job in jobs:
                last_sent = time.monotonic()
                yield _event(job)
            if done:
                return
            if time.monotonic() - last_sent > KEEPALIVE_S:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_SSE_HEADERS)


@router.get("/jobs/{jid}/events", response_class=StreamingResponse)
def job_events(jid: str, request: Request, user: UserDep, services: ServicesDep) -> StreamingResponse:
    """``text/event-stream``: the Job on every change, the last event when it ends, then closed."""
    if services.store.job(user, jid) is None:
        raise not_found("This job", job_id=jid)
    last_rev = [-1]

    def changed() -> tuple[list[dict[str, Any]], bool]:
        job = services.store.job(user, jid)
        if job is None:
            return [], True
        fresh = job["rev"] != last_rev[0]
        last_rev[0] = job["rev"]
        return ([job] if fresh else []), job["state"] in FINAL_STATES

    return _event_stream(request, changed)


@router.get("/sessions/{sid}/events", response_class=StreamingResponse)
def session_events(request: Request, session: SessionDep, user: UserDep, services: ServicesDep) -> StreamingResponse:
    """Every job of the session as it changes (the latest one first); stays open."""
    sid = session["id"]
    seen: dict[str, int] = {}

    def changed() -> tuple[list[dict[str, Any]], bool]:
        rows = services.store.query("SELECT * FROM jobs WHERE session_id = ? AND owner = ? ORDER BY created_at DESC "
                                    "LIMIT 20", (sid, user))
        if not seen and rows:
            for r in rows[1:]:
                seen[r["id"]] = r["rev"]
        out = [r for r in reversed(rows) if seen.get(r["id"]) != r["rev"]]
        for r in out:
            seen[r["id"]] = r["rev"]
        return out, False

    return _event_stream(request, changed)
