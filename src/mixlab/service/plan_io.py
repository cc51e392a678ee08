"""MixPlans crossing the API: checked by type on the way in, without server paths on the way out.

The engine's plan carries context besides its parameters: ``stems_path`` (where the CLI found
the stems: an absolute path of this server), ``session`` (rate, length), ``tracks`` (what the
AI heard in each track) and ``result``. A plan that comes in is checked here, all of it, by
type and range (the parameters with :func:`mixlab.engine.params.check_plan`, the context
below), and a ``stems_path`` it brings is dropped: the service always renders the session's
own stems. A plan that goes out (the API, the plan files of a version) has no server path.
Every refusal is a 400 naming the parameter (``details.parameter``).
"""

from __future__ import annotations

from typing import Any

from mixlab.audio.io import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from mixlab.engine.mix import MIX_SCHEMA
from mixlab.engine.params import check_plan, show_value
from mixlab.engine.plan import Plan
from mixlab.errors import InvalidParameterError

#: Context keys a MixPlan may carry besides ``schema`` and ``sections``.
CONTEXT_KEYS = ("session", "tracks", "result")
#: Context keys that hold server paths: never taken in, never given out.
PATH_KEYS = ("stems_path",)
_MAX_NAME_CHARS = 255


def _bad(where: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(f"{where}: {message}", code="plan.bad_parameter", parameter=where)


def _whole(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(where, f"must be a whole number from {lo} to {hi}, got {show_value(value)}")
    return value


def _check_session(value: Any) -> None:
    if not isinstance(value, dict):
        raise _bad("session", "must be an object (the plan's session: sample_rate, num_frames, ...)")
    if "sample_rate" in value:
        _whole(value["sample_rate"], "session.sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE)
    if "num_frames" in value:
        _whole(value["num_frames"], "session.num_frames", 0, 2**40)


def _plain_name(value: Any, where: str, *, file: bool = False) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME_CHARS or "\x00" in value:
        raise _bad(where, f"must be a name of 1 to {_MAX_NAME_CHARS} characters, got {show_value(value)}")
    if file and ("/" in value or "\\" in value or value in (".", "..")):
        raise _bad(where, f"must be a file name without a folder, got {show_value(value)}")
    return value


def _check_tracks(value: Any, max_tracks: int) -> None:
    if not isinstance(value, list):
        raise _bad("tracks", "must be a list of tracks ({name, file, ...})")
    if len(value) > max_tracks:
        raise _bad("tracks", f"has {len(value)} tracks; a session holds at most {max_tracks}")
    seen: set[str] = set()
    for k, t in enumerate(value):
        at = f"tracks[{k}]"
        if not isinstance(t, dict):
            raise _bad(at, "must be an object with the track's name")
        name = _plain_name(t.get("name"), f"{at}.name")
        if name in seen:
            raise _bad(f"{at}.name", f"names the track {name!r} twice")
        seen.add(name)
        if "file" in t:
            _plain_name(t["file"], f"{at}.file", file=True)
        for key in ("source", "section"):
            if key in t and not isinstance(t[key], str):
                raise _bad(f"{at}.{key}", "must be text")
        if "silent" in t and not isinstance(t["silent"], bool):
            raise _bad(f"{at}.silent", "must be true or false")


def plan_in(raw: Any, *, max_tracks: int, need_tracks: bool = False) -> Plan:
    """A MixPlan from a request, checked by type and range (see the module docstring).

    ``need_tracks``: the plan will be rendered as it stands, so its ``tracks`` must be there.
    """
    if not isinstance(raw, dict):
        raise _bad("plan", "must be a MixPlan object ({schema, sections, ...}) as GET .../plan gives it")
    if raw.get("schema") != MIX_SCHEMA:
        raise InvalidParameterError(f"schema: this plan is {show_value(raw.get('schema'))}, expected {MIX_SCHEMA!r}",
                                    code="plan.bad_schema", parameter="schema")
    unknown = [k for k in raw if k not in ("schema", "sections", *CONTEXT_KEYS, *PATH_KEYS)]
    if unknown:
        raise _bad(str(unknown[0])[:60], f"is not part of a MixPlan (it holds schema, sections, "
                   f"{', '.join(CONTEXT_KEYS)})")
    if "session" in raw:
        _check_session(raw["session"])
    if "tracks" in raw:
        _check_tracks(raw["tracks"], max_tracks)
    elif need_tracks:
        raise _bad("tracks", "is missing: a plan to render names its tracks; send the plan as GET .../plan gives it")
    if isinstance(raw.get("sections"), dict) and "" in raw["sections"]:
        raise _bad("sections", "has a section without a name: use session, track:<name> or a bus:...")
    if "result" in raw and not isinstance(raw["result"], dict):
        raise _bad("result", "must be an object")
    plan = Plan.from_dict({k: v for k, v in raw.items() if k not in PATH_KEYS}, expected_schema=MIX_SCHEMA)
    check_plan(plan)
    return plan


def without_paths(document: Any) -> Any:
    """A JSON document with every :data:`PATH_KEYS` entry removed, at any depth (a plan, or
    the ``{target: plan}`` of ``master-plans.json``)."""
    if isinstance(document, dict):
        return {k: without_paths(v) for k, v in document.items() if k not in PATH_KEYS}
    if isinstance(document, list):
        return [without_paths(v) for v in document]
    return document


def plan_out(plan: Plan) -> dict[str, Any]:
    """A plan as the API gives it and a version stores it: no server paths."""
    return without_paths(plan.to_dict())  # type: ignore[no-any-return]


__all__ = ["CONTEXT_KEYS", "PATH_KEYS", "plan_in", "plan_out", "without_paths"]
