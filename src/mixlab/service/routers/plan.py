"""The session's MixPlan: read it, or replace it with the page's edited plan (checked first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from mixlab.engine import mix_render
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError
from mixlab.service.deps import Services, ServicesDep, UserDep, WorkingSessionDep
from mixlab.service.errors import ApiError
from mixlab.service.jobs.tasks import conformed_stems
from mixlab.service.jsonbody import StrictJSONRoute
from mixlab.service.plan_io import plan_in, plan_out

router = APIRouter(prefix="/api/sessions/{sid}/plan", tags=["plan"], route_class=StrictJSONRoute)


@router.get("")
def get_plan(session: WorkingSessionDep, user: UserDep, services: ServicesDep) -> dict[str, Any]:
    plan = services.plan(user, session["id"]) if session["has_plan"] else None
    if plan is None:
        raise ApiError(404, "plan.not_found", "There is no plan yet: run the AI mix first.")
    return plan_out(plan)


@router.put("")
def put_plan(session: WorkingSessionDep, user: UserDep, services: ServicesDep,
             body: Any = Body(..., description="a MixPlan (mixlab.mixplan/1)")) -> dict[str, Any]:
    plan = checked_plan(services, user, session["id"], body)
    services.storage.write_json(services.storage.session_dir(user, session["id"]) / "plan.json", plan_out(plan))
    services.store.update("sessions", session["id"], {"has_plan": True}, owner=user)
    return plan_out(plan)


def checked_plan(services: Services, user: str, sid: str, raw: Any) -> Plan:
    """A plan to render as it stands (PUT plan, POST render): typed and in range
    (:func:`~mixlab.service.plan_io.plan_in`), then checked against the session."""
    plan = plan_in(raw, max_tracks=services.settings.max_stems, need_tracks=True)
    validate_plan(services, user, sid, plan)
    return plan


def validate_plan(services: Services, user: str, sid: str, plan: Plan) -> None:
    """Check every value the renderer will use, with the renderer's own checks (its channel
    strips and buses are built, nothing is rendered): a value out of range is a 400 that
    names the parameter, here rather than in a failed render later. The plan has passed
    :func:`~mixlab.service.plan_io.plan_in`."""
    rate = plan.context.get("session", {}).get("sample_rate")
    stems, _rows = conformed_stems(services.storage, services.store, user, sid, sample_rate=rate)
    with stems:
        index = {s.name: i for i, s in enumerate(stems.stems)}
        tracks = plan.context.get("tracks", [])
        missing = [t["name"] for t in tracks if t["name"] not in index]
        if missing:
            raise InvalidParameterError(
                f"the plan names tracks that are not in this session: {', '.join(map(str, missing))}. Run the AI mix "
                "again to get a plan for these tracks.", code="mix.missing_stems", stems=missing, parameter="tracks")
        for t in tracks:
            strip = mix_render.TrackStrip(plan, t["name"], stems, index[t["name"]], block_size=4096)
            if strip.blocks is not None:
                strip.blocks.close()
        mix_render.Buses(plan, stems.sample_rate)
