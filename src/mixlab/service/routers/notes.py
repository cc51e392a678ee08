"""Mix Notes of a plan, from the cached analysis (no rendering), and "apply fix"."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mixlab.engine.mix import MIX_SCHEMA
from mixlab.engine.notes import NotesSession, apply_fix, notes_document
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError
from mixlab.service.deps import Services, ServicesDep, SessionDep, UserDep
from mixlab.service.errors import ApiError
from mixlab.service.jobs.tasks import notes_target
from mixlab.service.schemas import ApplyFixRequest, NotesRequest

router = APIRouter(prefix="/api/sessions/{sid}/notes", tags=["notes"])


def _notes_session(services: Services, user: str, session: dict[str, Any], plan: Plan) -> NotesSession:
    if not session["has_plan"]:
        raise ApiError(409, "notes.not_ready", "The notes come after the first mix: run the AI mix first.")
    genre_param = plan.param("session", "genre")
    genre = genre_param.value if genre_param is not None else session["genre"]
    rate = plan.context.get("session", {}).get("sample_rate") or session["sample_rate"]
    return services.notes.get(user, session, sample_rate=rate, genre=genre, target=notes_target(session))


def _evaluate(services: Services, user: str, session: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    plan = Plan.from_dict(raw, expected_schema=MIX_SCHEMA)
    ns = _notes_session(services, user, session, plan)
    t1 = time.perf_counter()
    notes = ns.evaluate(plan)
    t2 = time.perf_counter()
    return notes_document(ns, notes, input_name=session["name"],
                          timings_s={"prepare": round(t1 - t0, 4), "evaluate": round(t2 - t1, 4)})


@router.post("")
async def plan_notes(body: NotesRequest, session: SessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(_evaluate, services, user, session, body.plan)


def _apply(services: Services, user: str, session: dict[str, Any], raw: dict[str, Any], index: int) -> dict[str, Any]:
    plan = Plan.from_dict(raw, expected_schema=MIX_SCHEMA)
    notes = _notes_session(services, user, session, plan).evaluate(plan)
    if index >= len(notes):
        raise InvalidParameterError(f"there are {len(notes)} notes for this plan; note {index} does not exist. "
                                    "Ask for the notes again.", code="notes.bad_index", index=index)
    return {"plan": apply_fix(plan, notes[index]).to_dict()}


@router.post("/apply")
async def apply_note_fix(body: ApplyFixRequest, session: SessionDep, user: UserDep,
                         services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(_apply, services, user, session, body.plan, body.index)
