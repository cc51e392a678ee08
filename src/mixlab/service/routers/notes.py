"""Mix Notes of a plan, from the cached analysis (no rendering), and "apply fix"; the notes on
one audio file: the mix of a mastering session, a rendered mix or master."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from mixlab.engine.notes import NotesSession, apply_fix, notes_document
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError
from mixlab.service.deps import Services, ServicesDep, UserDep, WorkingSessionDep
from mixlab.service.errors import ApiError, not_found
from mixlab.service.jobs.tasks import notes_target
from mixlab.service.schemas import ApplyFixRequest, NotesRequest
from mixlab.service.jsonbody import StrictJSONRoute
from mixlab.service.plan_io import plan_in, plan_out

router = APIRouter(prefix="/api/sessions/{sid}/notes", tags=["notes"], route_class=StrictJSONRoute)

#: The notes the API gives are read in the browser: advice names its controls, not commands.
SURFACE = "web"


def _notes_session(services: Services, user: str, session: dict[str, Any], plan: Plan) -> NotesSession:
    if not session["has_plan"]:
        raise ApiError(409, "notes.not_ready", "The notes come after the first mix: run the AI mix first.")
    genre_param = plan.param("session", "genre")
    genre = genre_param.value if genre_param is not None else session["genre"]
    rate = plan.context.get("session", {}).get("sample_rate") or session["sample_rate"]
    return services.notes.get(user, session, sample_rate=rate, genre=genre, target=notes_target(session))


def _timed_document(prepare: Callable[[], tuple[NotesSession, Plan | None, str]]) -> dict[str, Any]:
    """The notes document of the session, plan and input name ``prepare`` gives, with the time
    each step took."""
    t0 = time.perf_counter()
    ns, plan, input_name = prepare()
    t1 = time.perf_counter()
    notes = ns.evaluate(plan, surface=SURFACE)
    t2 = time.perf_counter()
    return notes_document(ns, notes, input_name=input_name,
                          timings_s={"prepare": round(t1 - t0, 4), "evaluate": round(t2 - t1, 4)})


def _evaluate(services: Services, user: str, session: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    def prepare() -> tuple[NotesSession, Plan, str]:
        plan = plan_in(raw, max_tracks=services.settings.max_stems)
        return _notes_session(services, user, session, plan), plan, session["name"]

    return _timed_document(prepare)


@router.post("")
async def plan_notes(body: NotesRequest, session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(_evaluate, services, user, session, body.plan)


def _apply(services: Services, user: str, session: dict[str, Any], raw: dict[str, Any], index: int) -> dict[str, Any]:
    plan = plan_in(raw, max_tracks=services.settings.max_stems)
    notes = _notes_session(services, user, session, plan).evaluate(plan, surface=SURFACE)
    if index >= len(notes):
        raise InvalidParameterError(f"there are {len(notes)} notes for this plan; note {index} does not exist. "
                                    "Ask for the notes again.", code="notes.bad_index", index=index)
    return {"plan": plan_out(apply_fix(plan, notes[index]))}


@router.post("/apply")
async def apply_note_fix(body: ApplyFixRequest, session: WorkingSessionDep, user: UserDep,
                         services: ServicesDep) -> dict[str, Any]:
    return await run_in_threadpool(_apply, services, user, session, body.plan, body.index)


def _audio_path(services: Services, user: str, session: dict[str, Any], version: str | None,
                file: str | None) -> tuple[Path, str, str]:
    """The stored file the notes are about, its name and the platform they judge loudness for."""
    sid = session["id"]
    if version is None:
        if session["kind"] != "master":
            raise ApiError(400, "notes.no_file", "Name the rendered file (version and file) to judge; a mixing "
                           "session's live notes judge its plan.")
        mixes = [t for t in services.store.tracks(user, sid) if t["ready"] and not t["problem"]]
        if not mixes:
            raise ApiError(409, "notes.not_ready", "Upload the mix to master first; its notes come once it is prepared.")
        return services.storage.folder(user, sid, "originals") / mixes[-1]["file"], mixes[-1]["file"], notes_target(session)
    row = services.store.version(user, sid, version)
    record = next((f for f in (row or {}).get("files", []) if f["name"] == file), None)
    # Only audio files the version lists: a name is never turned into a path unchecked.
    if record is None or record["kind"] not in ("mix", "master"):
        raise not_found("This mix or master", version_id=version, name=file)
    path = services.storage.folder(user, sid, "versions") / version / record["name"]
    if not path.is_file():
        raise not_found("This mix or master", version_id=version, name=file)
    return path, record["name"], record.get("target") or notes_target(session)


def _audio_notes(services: Services, user: str, session: dict[str, Any], version: str | None,
                 file: str | None) -> dict[str, Any]:
    def prepare() -> tuple[NotesSession, None, str]:
        path, name, target = _audio_path(services, user, session, version, file)
        return services.notes.for_file(path, genre=session["genre"], target=target), None, name

    return _timed_document(prepare)


@router.get("/audio")
async def audio_notes(session: WorkingSessionDep, user: UserDep, services: ServicesDep,
                      version: str | None = Query(None, description="a version id; without it, a mastering "
                                                  "session's uploaded mix"),
                      file: str | None = Query(None, description="a mix or master file of that version")
                      ) -> dict[str, Any]:
    """The Mix Notes on one stereo file: a mastering session's mix, or a rendered mix or master."""
    return await run_in_threadpool(_audio_notes, services, user, session, version, file)
