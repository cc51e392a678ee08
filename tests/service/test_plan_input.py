"""Request bodies are checked by type and range: a wrong value is a 400 naming it, never a 500;
plans given out carry no server path, and plans taken in cannot bring one."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mixlab.engine.notes import NotesSession
from mixlab.errors import InvalidParameterError
from tests.service.conftest import make_client, mixed_session, new_session, post_json, session_folder, wait_job


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("plan-input") / "data") as c:
        yield c


@pytest.fixture(scope="module")
def mixed(api: TestClient, stems: dict[str, Path]) -> tuple[str, dict[str, Any]]:
    return mixed_session(api, stems)


def _refused(r: Any, parameter: str) -> None:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["details"]["parameter"] == parameter, error
    assert parameter in error["message"] or error["code"] == "request.invalid"


def _with(plan: dict[str, Any], section: str, name: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(plan)
    out["sections"][section][name]["value"] = value
    return out


@pytest.mark.parametrize("value", ["loud", None, [3], {"db": 3}, True, 1e9, -1e9])
def test_a_gain_of_the_wrong_type_or_range_is_400(api: TestClient, mixed: tuple[str, dict[str, Any]],
                                                   value: Any) -> None:
    sid, plan = mixed
    _refused(api.put(f"/api/sessions/{sid}/plan", json=_with(plan, "track:Kick", "gain_db", value)), "track:Kick.gain_db")
    r = api.post(f"/api/sessions/{sid}/mix", json={"plan": _with(plan, "track:Kick", "gain_db", value)})
    _refused(r, "track:Kick.gain_db")


def test_mix_bus_output_and_eq_size_are_limited_on_every_route(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, plan = mixed
    band = {"kind": "peak", "freq_hz": 100.0, "gain_db": 1.0, "q": 1.0}
    for bad, where in ((_with(plan, "bus:mix", "output_gain_db", 300.0), "bus:mix.output_gain_db"),
                       (_with(plan, "bus:mix", "output_gain_db", 1e9), "bus:mix.output_gain_db"),
                       (_with(plan, "bus:mix", "eq", [band] * 2000), "bus:mix.eq")):
        _refused(api.put(f"/api/sessions/{sid}/plan", json=bad), where)
        _refused(api.post(f"/api/sessions/{sid}/mix", json={"plan": bad}), where)
        _refused(api.post(f"/api/sessions/{sid}/render", json={"plan": bad}), where)
    assert api.get(f"/api/sessions/{sid}/plan").json()["sections"]["bus:mix"]["output_gain_db"]["value"] < 24


def test_sections_as_a_list_and_context_garbage_are_400(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, plan = mixed
    cases = [({"sections": []}, "sections"), ({"tracks": "Kick"}, "tracks"), ({"tracks": [{"name": 5}]}, "tracks[0].name"),
             ({"tracks": [{"name": "Kick", "file": "../../etc/passwd"}]}, "tracks[0].file"),
             ({"session": {"sample_rate": "44100"}}, "session.sample_rate"), ({"session": [1]}, "session"),
             ({"notes": {}}, "notes"), ({"schema": "mixlab.mixplan/2"}, "schema")]
    for change, where in cases:
        bad = {**copy.deepcopy(plan), **change}
        _refused(api.put(f"/api/sessions/{sid}/plan", json=bad), where)
        _refused(api.post(f"/api/sessions/{sid}/mix", json={"plan": bad}), where)


def test_nan_and_infinity_anywhere_in_a_body_are_400(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, plan = mixed
    r = post_json(api, "POST", f"/api/sessions/{sid}/mix", {"plan": _with(plan, "track:Kick", "gain_db", float("nan"))})
    _refused(r, "plan.sections.track:Kick.gain_db.value")
    r = post_json(api, "POST", f"/api/sessions/{sid}/mix", {"plan": {**plan, "result": {"x": float("inf")}}})
    _refused(r, "plan.result.x")
    r = post_json(api, "PUT", f"/api/sessions/{sid}/plan", _with(plan, "bus:mix", "output_gain_db", float("-inf")))
    _refused(r, "sections.bus:mix.output_gain_db.value")
    r = api.put(f"/api/sessions/{sid}/plan", content=b"[" * 5000 + b"]" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "request.too_deep"


def test_other_bodies_are_typed_strictly(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, _plan = mixed
    _refused(api.post("/api/sessions", json={"name": 5}), "name")
    _refused(api.post("/api/sessions", json={"name": "x", "kind": "video"}), "kind")
    _refused(api.patch(f"/api/sessions/{sid}", json={"targets": "spotify"}), "targets")
    _refused(api.patch(f"/api/sessions/{sid}", json={"genre": ["rock"]}), "genre")
    _refused(api.post(f"/api/sessions/{sid}/mix", json={"genre": "rock"}), "genre")  # not an option of a mix
    _refused(api.post(f"/api/sessions/{sid}/mix", json={"plan": [1]}), "plan")
    _refused(api.post(f"/api/sessions/{sid}/render", json={"stems": "yes"}), "stems")
    _refused(api.post(f"/api/sessions/{sid}/render", json={"formats": ["wav32"]}), "formats[0]")
    _refused(api.post(f"/api/sessions/{sid}/notes/apply", json={"plan": {}, "index": "0"}), "index")


def test_plans_never_show_server_paths(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, plan = mixed
    root = str(session_folder(api, sid).parents[3])
    assert "stems_path" not in plan and root not in str(plan)
    versions = api.get(f"/api/sessions/{sid}/versions").json()["versions"]
    text = api.get(versions[-1]["plan_url"]).text
    assert "stems_path" not in text and root not in text
    # A plan brought back with a path of its own keeps none of it.
    r = api.put(f"/api/sessions/{sid}/plan", json={**plan, "stems_path": "/etc"})
    assert r.status_code == 200 and "stems_path" not in r.json()
    assert "/etc" not in (session_folder(api, sid) / "plan.json").read_text()


def test_an_empty_session_refuses_a_plan_by_its_parameter(api: TestClient) -> None:
    sid = new_session(api)
    _refused(api.post(f"/api/sessions/{sid}/mix", json={"plan": {"schema": "mixlab.mixplan/1",
                                                                   "sections": {"bus:mix": {"output_gain_db": 300}}}}),
             "bus:mix.output_gain_db")


def test_error_messages_never_show_server_paths(api: TestClient, mixed: tuple[str, dict[str, Any]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sid, _plan = mixed
    folder = session_folder(api, sid)
    runner = api.app.state.services.runner  # type: ignore[attr-defined]

    def failing(job_id: str, store: Any, storage: Any) -> None:
        raise InvalidParameterError(f"{folder / 'originals' / 'Kick.wav'}: cannot be read", code="audio.corrupt")

    monkeypatch.setitem(runner.functions, "render", failing)
    job = api.post(f"/api/sessions/{sid}/render", json={}).json()
    error = wait_job(api, job["id"])["error"]
    assert error["message"] == "originals/Kick.wav: cannot be read"


def test_unknown_targets_and_genres_name_the_field(api: TestClient, mixed: tuple[str, dict[str, Any]]) -> None:
    sid, _plan = mixed
    _refused(api.patch(f"/api/sessions/{sid}", json={"targets": ["spotify", "myspace"]}), "targets[1]")
    _refused(api.patch(f"/api/sessions/{sid}", json={"genre": "polka-core"}), "genre")
    _refused(api.post(f"/api/sessions/{sid}/render", json={"targets": ["myspace"]}), "targets[0]")


def test_notes_from_the_api_are_worded_for_the_browser(api: TestClient, mixed: tuple[str, dict[str, Any]],
                                                       stems: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Advice names the page's controls, not ``mixlab`` commands (the engine words it per surface)."""
    surfaces: list[str] = []
    evaluate = NotesSession.evaluate

    def recorded(self: NotesSession, plan: Any = None, *, surface: str = "cli") -> Any:
        surfaces.append(surface)
        return evaluate(self, plan, surface=surface)

    monkeypatch.setattr(NotesSession, "evaluate", recorded)
    sid, plan = mixed
    assert api.post(f"/api/sessions/{sid}/notes", json={"plan": plan}).status_code == 200
    assert api.post(f"/api/sessions/{sid}/notes/apply", json={"plan": plan, "index": 0}).status_code in (200, 400)
    job = wait_job(api, api.post(f"/api/sessions/{sid}/mix", json={}).json()["id"])
    assert job["state"] == "done"
    version = api.get(f"/api/sessions/{sid}/versions").json()["versions"][0]
    assert api.get(f"/api/sessions/{sid}/notes/audio", params={"version": version["id"], "file": "mix.wav"}).status_code == 200
    assert len(surfaces) >= 4 and set(surfaces) == {"web"}
